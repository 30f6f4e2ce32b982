"""Tests of the capacity lab against independent least-squares formulas.

The training error of nested least-squares fits can only fall; Legendre and
monomial designs give the same polynomial; ridge matches its normal equations
and tends to least squares as lambda -> 0; the minimum-norm solver matches
``numpy.linalg.pinv``; random features interpolate exactly when p >= n, and the
test error peaks at p = n on a tiny seeded setting (checked over ten seeds
when the test was written: the peak was at p = n, or n - 1, every time).
"""

from __future__ import annotations

import csv

import numpy as np
import pytest

from steepest.cli import main
from steepest.labs.capacity import (
    capacity,
    double_descent,
    fit_ridge,
    min_norm_least_squares,
    polynomial_features,
    polynomial_sweep,
    ridge_sweep,
)

TINY_WIDTHS = [5, 10, 20, 25, 29, 30, 31, 35, 45, 60, 90, 150]


def test_train_error_is_non_increasing_in_degree():
    sweep = polynomial_sweep(n_train=12, max_degree=16, noise=0.3, seed=3)
    train = sweep.train_mse
    assert np.all(np.diff(train) <= 1e-12 * train[0])
    # From degree n - 1 on, the polynomial passes through every point.
    assert np.all(train[11:] < 1e-16)
    assert np.all(train[:11] > 1e-6)
    assert sweep.dev_mse[sweep.best_degree] < sweep.dev_mse[0]
    assert sweep.dev_mse[-1] > 10 * sweep.dev_mse[sweep.best_degree]


def test_legendre_fit_is_the_monomial_fit():
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, 30)
    y = np.sin(3 * x) + 0.1 * rng.standard_normal(30)
    grid = np.linspace(-1, 1, 7)
    w = fit_ridge(polynomial_features(x, 5), y)
    ours = polynomial_features(grid, 5) @ w
    theirs = np.polyval(np.polyfit(x, y, 5), grid)
    np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-9)


def test_ridge_matches_normal_equations_and_tends_to_least_squares():
    rng = np.random.default_rng(1)
    f = polynomial_features(rng.uniform(-1, 1, 25), 6)
    y = rng.standard_normal(25)
    n, p = f.shape
    lam = 0.03
    # (F^T F + n lam S^T S) w = F^T y, S dropping the intercept.
    s = np.eye(p)[1:]
    expected = np.linalg.solve(f.T @ f + n * lam * s.T @ s, f.T @ y)
    np.testing.assert_allclose(fit_ridge(f, y, lam), expected, rtol=1e-10)
    least_squares = np.linalg.lstsq(f, y, rcond=None)[0]
    np.testing.assert_array_equal(fit_ridge(f, y, 0.0), least_squares)
    np.testing.assert_allclose(fit_ridge(f, y, 1e-13), least_squares, rtol=1e-7)
    with pytest.raises(ValueError, match="l2 must be a finite number >= 0"):
        fit_ridge(f, y, -1.0)


@pytest.mark.parametrize("shape", [(20, 7), (20, 20), (20, 45)])
def test_min_norm_least_squares_is_pinv(shape):
    rng = np.random.default_rng(2)
    f = np.maximum(rng.standard_normal(shape), 0)
    y = np.eye(4)[rng.integers(0, 4, shape[0])]
    np.testing.assert_allclose(
        min_norm_least_squares(f, y), np.linalg.pinv(f) @ y, rtol=1e-6, atol=1e-8
    )


def test_ridge_sweep_pulls_dev_error_down():
    sweep = ridge_sweep(degree=12, n_train=15, seed=0)
    best = sweep.dev_mse.min()
    assert best < 0.1 * sweep.unregularized_dev_mse
    assert best < sweep.dev_mse[-1]  # too much penalty underfits again
    assert np.all(np.diff(sweep.train_mse) >= -1e-12)  # more penalty, worse fit


def test_double_descent_interpolates_past_threshold_and_peaks_there():
    dd = double_descent(n_train=30, widths=TINY_WIDTHS, seeds=2, seed=0)
    widths = dd.widths
    assert np.all(dd.train_mse[:, widths >= 30] < 1e-10)
    assert np.all(dd.train_mse[:, widths < 30] > 1e-6)
    assert np.all(dd.train_error[:, widths >= 30] == 0)
    mean = dd.test_mse.mean(axis=0)
    assert 15 <= dd.peak_width <= 60
    assert mean.max() > 5 * max(mean[0], mean[-1])


def test_double_descent_is_reproducible_from_its_seed():
    a = double_descent(n_train=20, widths=[5, 20, 40], seeds=1, seed=4)
    b = double_descent(n_train=20, widths=[5, 20, 40], seeds=1, seed=4)
    c = double_descent(n_train=20, widths=[5, 20, 40], seeds=1, seed=5)
    np.testing.assert_array_equal(a.test_mse, b.test_mse)
    assert not np.array_equal(a.test_mse, c.test_mse)


def test_capacity_writes_every_plot_and_csv(tmp_path):
    result = capacity(
        "all",
        out_dir=tmp_path,
        n_train=10,
        max_degree=8,
        lambdas=[1e-6, 1e-3, 1.0],
        dd_train=20,
        widths=[5, 20, 40],
        seeds=1,
        dpi=50,
    )
    names = {p.name for p in result.files}
    for stem in ("capacity_polynomial", "capacity_l2", "capacity_double_descent"):
        assert f"{stem}.png" in names and f"{stem}.csv" in names
    assert all(p.exists() for p in result.files)
    with (tmp_path / "capacity_polynomial.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["degree", "train_mse", "dev_mse"]
    assert len(rows) == 9
    with (tmp_path / "capacity_l2.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [float(r["lambda"]) for r in rows] == [0.0, 1e-6, 1e-3, 1.0]
    with (tmp_path / "capacity_double_descent.csv").open() as f:
        header = next(csv.reader(f))
    assert header[:2] == ["width", "seed"]


def test_bad_arguments_say_what_to_do():
    with pytest.raises(ValueError, match="unknown part 'everything'"):
        capacity("everything")
    with pytest.raises(ValueError, match="lambdas must be finite numbers > 0"):
        ridge_sweep(lambdas=[0.0, 1.0])
    with pytest.raises(ValueError, match="regression dataset"):
        double_descent(dataset="polynomial", n_train=10, widths=[5], seeds=1)
    with pytest.raises(ValueError, match="n_train must be >= 2"):
        polynomial_sweep(n_train=1)


def test_cli_polynomial_table(tmp_path, capsys):
    status = main(
        [
            "capacity",
            "--part",
            "polynomial",
            "--max-degree",
            "6",
            "--out",
            str(tmp_path),
        ]
    )
    assert status == 0
    out = capsys.readouterr().out
    assert "lowest dev" in out and "train MSE" in out
    assert str(tmp_path / "capacity_polynomial.png") in out


def test_cli_double_descent_table(tmp_path, capsys):
    status = main(
        [
            "capacity",
            "--part",
            "double-descent",
            "--dd-train",
            "20",
            "--seeds",
            "1",
            "--out",
            str(tmp_path),
        ]
    )
    assert status == 0
    out = capsys.readouterr().out
    assert "threshold p = n" in out
    assert (tmp_path / "capacity_double_descent.png").exists()


def test_docstring_examples_run():
    import doctest
    import importlib

    # By name: a package that re-exports the function capacity() hides the module
    # behind it as an attribute.
    module = importlib.import_module("steepest.labs.capacity")
    assert doctest.testmod(module).failed == 0
