"""Tests of the estimators lab against the chi-square moments.

With ``q = sum (x_i - m)^2 / sigma^2 ~ chi2(n - 1)``: ``E[q/n] = 1 - 1/n``,
``E[q/(n-1)] = 1``, ``E[(q/n - 1)^2] = (2n - 1)/n^2`` and
``E[(q/(n-1) - 1)^2] = 2/(n - 1)``. Each simulated mean must be within three
of its standard errors of the analytic value, at every n of 2..30. The seed
is fixed, so the test is deterministic: with some 58 nearly independent
checks, each failing by chance with probability 0.27%, a random seed would
fail one about one time in six (10 of seeds 0..59 did when this was written).
"""

from __future__ import annotations

import csv

import numpy as np
import pytest

from steepest.cli import main
from steepest.labs.estimators import estimators


@pytest.fixture(scope="module")
def result():
    return estimators(2, 30, 20_000, mu=-1.5, sigma=0.7, seed=0)


def test_biased_mean_is_one_minus_one_over_n(result):
    z = (result.biased_mean - (1 - 1 / result.sample_sizes)) / result.biased_se
    assert np.all(np.abs(z) < 3), z


def test_unbiased_mean_is_one(result):
    z = (result.unbiased_mean - 1.0) / result.unbiased_se
    assert np.all(np.abs(z) < 3), z


def test_mean_squared_errors_match_chi_square(result):
    n = result.sample_sizes
    z = (result.biased_mse - (2 * n - 1) / n**2) / result.biased_mse_se
    assert np.all(np.abs(z) < 3), z
    z = (result.unbiased_mse - 2 / (n - 1)) / result.unbiased_mse_se
    assert np.all(np.abs(z) < 3), z
    # The biased estimator has the smaller error at every n.
    assert np.all(result.biased_mse < result.unbiased_mse)


def test_standard_errors_match_chi_square_spread(result):
    # sd(q/n) = sqrt(2 (n - 1)) / n, so se = that / sqrt(repeats).
    n = result.sample_sizes
    expected = np.sqrt(2 * (n - 1)) / n / np.sqrt(result.repeats)
    np.testing.assert_allclose(result.biased_se, expected, rtol=0.05)


def test_reproducible_and_independent_of_range():
    a = estimators(2, 6, 3000, seed=7)
    b = estimators(4, 5, 3000, seed=7)
    np.testing.assert_array_equal(a.biased_mean[2:4], b.biased_mean)
    c = estimators(2, 6, 3000, seed=8)
    assert not np.array_equal(a.biased_mean, c.biased_mean)


def test_writes_png_and_csv(tmp_path):
    out = estimators(2, 5, 1000, out_dir=tmp_path, dpi=50)
    assert [p.name for p in out.files] == ["estimators.png", "estimators.csv"]
    with (tmp_path / "estimators.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [int(r["n"]) for r in rows] == [2, 3, 4, 5]
    assert float(rows[0]["analytic_biased_mean"]) == 0.5
    assert float(rows[0]["biased_mean"]) == out.biased_mean[0]


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"n_min": 1}, ValueError, "n_min must be >= 2"),
        ({"n_min": 5, "n_max": 4}, ValueError, "n_max must be >= 5"),
        ({"repeats": 1}, ValueError, "repeats must be >= 2"),
        ({"repeats": 10.0}, TypeError, "repeats must be an int"),
        ({"sigma": 0.0}, ValueError, "sigma > 0"),
    ],
)
def test_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        estimators(**kwargs)


def test_cli_prints_table(tmp_path, capsys):
    status = main(
        ["estimators", "--n-max", "12", "--repeats", "2000", "--out", str(tmp_path)]
    )
    assert status == 0
    out = capsys.readouterr().out
    assert "1 - 1/n" in out and "Largest |z|" in out
    assert str(tmp_path / "estimators.png") in out


def test_cli_bad_value_is_one_line(tmp_path, capsys):
    status = main(["estimators", "--n-min", "1", "--out", str(tmp_path)])
    assert status == 2
    assert "n_min must be >= 2" in capsys.readouterr().err


def test_docstring_examples_run():
    import doctest
    import importlib

    # By name: a package that re-exports the function estimators() hides the module
    # behind it as an attribute.
    module = importlib.import_module("steepest.labs.estimators")
    assert doctest.testmod(module).failed == 0
