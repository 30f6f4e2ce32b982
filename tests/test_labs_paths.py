"""Tests of the paths lab: closed forms, analytic gradients, runaways, files.

Plain gradient descent on ``f = (a x^2 + b y^2) / 2`` multiplies each
coordinate by ``1 - lr * curvature`` per step, so its path is known exactly;
heavy-ball momentum is checked against its two-line recurrence written out
here; Rosenbrock's gradient against the textbook formula and Beale's against
central differences.
"""

from __future__ import annotations

import csv
import warnings

import numpy as np
import pytest
from PIL import Image

import steepest as st
from steepest.cli import main
from steepest.labs.paths import SURFACES, make_quadratic, paths


def test_gradient_descent_on_quadratic_matches_closed_form():
    a, b, lr, x0, y0, steps = 1.5, 12.0, 0.05, 3.0, -2.0, 40
    result = paths(
        make_quadratic(a, b), ["sgd"], lrs={"sgd": lr}, start=(x0, y0), steps=steps
    )
    t = np.arange(steps + 1)
    expected_x = (1 - lr * a) ** t * x0
    expected_y = (1 - lr * b) ** t * y0
    np.testing.assert_allclose(result.paths[0, :, 0], expected_x, rtol=0, atol=1e-12)
    np.testing.assert_allclose(result.paths[0, :, 1], expected_y, rtol=0, atol=1e-12)
    expected_f = 0.5 * (a * expected_x**2 + b * expected_y**2)
    np.testing.assert_allclose(result.values[0], expected_f, rtol=1e-12, atol=1e-15)
    assert result.steps_run[0] == steps and result.stopped[0] == ""


def test_momentum_on_quadratic_matches_heavy_ball_recurrence():
    a, b, lr, beta = 1.0, 20.0, 0.02, 0.9
    result = paths(
        make_quadratic(a, b),
        ["momentum"],
        lrs={"momentum": lr},
        start=(-5.0, 2.0),
        steps=60,
    )
    x, v = np.array([-5.0, 2.0]), np.zeros(2)
    expected = [x.copy()]
    for _ in range(60):
        v = beta * v - lr * np.array([a, b]) * x
        x = x + v
        expected.append(x.copy())
    np.testing.assert_allclose(result.paths[0], expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("point", [(-1.2, 1.0), (0.3, -0.7), (2.0, 3.5), (1.0, 1.0)])
def test_rosenbrock_gradient_is_analytic(point):
    x, y = point
    w = st.tensor(point, requires_grad=True, dtype="float64")
    SURFACES["rosenbrock"].function(w).backward()
    dx = -2 * (1 - x) - 400 * x * (y - x**2)
    dy = 200 * (y - x**2)
    np.testing.assert_allclose(w.grad, [dx, dy], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", ["beale", "saddle", "quadratic"])
def test_gradients_match_central_differences(name):
    f = SURFACES[name].function
    point = np.array([0.7, -0.4])
    w = st.tensor(point, requires_grad=True, dtype="float64")
    f(w).backward()
    h = 1e-6
    numeric = []
    for e in np.eye(2):
        up = f(st.tensor(point + h * e, dtype="float64")).item()
        down = f(st.tensor(point - h * e, dtype="float64")).item()
        numeric.append((up - down) / (2 * h))
    np.testing.assert_allclose(w.grad, numeric, rtol=1e-6, atol=1e-8)


def test_minima_are_stationary_points():
    for surface in SURFACES.values():
        for point in surface.minima:
            w = st.tensor(point, requires_grad=True, dtype="float64")
            surface.function(w).backward()
            np.testing.assert_allclose(w.grad, 0.0, atol=1e-12, err_msg=surface.name)


def test_runaway_and_overflow_are_stopped_quietly():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        saddle = paths("saddle", ["momentum", "sgd"], steps=400)
        fast = paths("rosenbrock", ["sgd"], lrs={"sgd": 0.01}, steps=100)
        blowup = paths("rosenbrock", ["sgd"], lrs={"sgd": 1e306}, steps=100)
    # Momentum on the saddle leaves along y and is stopped far out.
    assert saddle.stopped[0] == "ran away"
    assert saddle.steps_run[0] < 400
    assert 0 < saddle.left_at[0] <= saddle.steps_run[0]
    assert saddle.exit_points[0, 1] == pytest.approx(saddle.bounds[3])
    assert np.isnan(saddle.paths[0, saddle.steps_run[0] + 1 :]).all()
    # Too large a rate on Rosenbrock diverges within a few steps.
    assert fast.stopped[0] == "ran away"
    assert fast.steps_run[0] < 10
    # An absurd one overflows on the first update: the start is all there is.
    assert blowup.stopped[0] == "overflow"
    assert blowup.steps_run[0] == 0
    np.testing.assert_array_equal(blowup.final_points[0], blowup.start)
    np.testing.assert_array_equal(blowup.exit_points[0], blowup.start)


def test_writes_png_gif_and_csv(tmp_path):
    result = paths(
        "beale", ["sgd", "adam"], steps=30, frames=8, grid=20, out_dir=tmp_path / "out"
    )
    names = sorted(p.name for p in result.files)
    assert names == [
        "paths_beale.csv",
        "paths_beale.gif",
        "paths_beale.png",
        "paths_beale_grid.csv",
    ]
    assert all(p.exists() for p in result.files)
    with Image.open(tmp_path / "out" / "paths_beale.gif") as gif:
        assert 2 <= gif.n_frames <= 8
    with Image.open(tmp_path / "out" / "paths_beale.png") as png:
        assert png.size[0] > 500
    with (tmp_path / "out" / "paths_beale.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["optimizer", "lr", "step", "x", "y", "f", "in_plot"]
    assert len(rows) == 2 * 31
    adam = [r for r in rows if r["optimizer"] == "adam"]
    np.testing.assert_allclose([float(r["x"]) for r in adam], result.paths[1, :, 0])
    with (tmp_path / "out" / "paths_beale_grid.csv").open() as f:
        assert sum(1 for _ in f) == 1 + 20 * 20


def test_bad_arguments_say_what_to_do():
    with pytest.raises(ValueError, match="unknown function 'himmelblau'"):
        paths("himmelblau")
    with pytest.raises(ValueError, match="unknown optimizer 'lion'"):
        paths("quadratic", ["sgd", "lion"])
    with pytest.raises(ValueError, match="not among the optimizers raced"):
        paths("quadratic", ["sgd"], lrs={"adam": 0.1})
    with pytest.raises(ValueError, match="must be a number > 0"):
        paths("quadratic", ["sgd"], lrs={"sgd": -1.0})
    with pytest.raises(ValueError, match="start must be two finite numbers"):
        paths("quadratic", ["sgd"], start=(1.0, np.nan))
    with pytest.raises(ValueError, match="steps must be >= 1"):
        paths("quadratic", ["sgd"], steps=0)


def test_cli_prints_table_and_files(tmp_path, capsys):
    status = main(
        [
            "paths",
            "--function",
            "rosenbrock",
            "--optimizers",
            "sgd,adam",
            "--lr",
            "adam=0.1",
            "--start=-1.5,2",
            "--steps",
            "25",
            "--frames",
            "5",
            "--out",
            str(tmp_path),
        ]
    )
    assert status == 0
    out = capsys.readouterr().out
    assert "optimizer" in out and "adam" in out and "0.1" in out
    assert str(tmp_path / "paths_rosenbrock.gif") in out
    assert (tmp_path / "paths_rosenbrock.png").exists()


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--lr", "adam"], "expected NAME=RATE"),
        (["--start", "1,2,3"], "expected two numbers"),
        (["--optimizers", "sgd", "--lr", "adam=0.1"], "not among the optimizers"),
    ],
)
def test_cli_bad_flags_are_one_line_errors(tmp_path, capsys, flags, message):
    status = main(["paths", "--steps", "3", "--out", str(tmp_path), *flags])
    assert status == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_docstring_examples_run():
    import doctest
    import importlib

    # By name: a package that re-exports the function paths() hides the module
    # behind it as an attribute.
    module = importlib.import_module("steepest.labs.paths")
    assert doctest.testmod(module).failed == 0
