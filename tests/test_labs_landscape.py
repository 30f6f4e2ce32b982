"""steepest landscape: directions, slices, interpolation and the trajectory."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from steepest.cli import main
from steepest.labs.landscape import (
    filter_normalized_direction,
    landscape,
    pca_directions,
)
from steepest.train import (
    TrainConfig,
    build,
    evaluate,
    load_checkpoint,
    run_training,
)

EPOCHS = 3


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("landscape") / "run"
    config = TrainConfig(hidden=[8], epochs=EPOCHS, batch_size=64, seed=1)
    run_training(config, folder)
    return folder


@pytest.fixture(scope="module")
def result(run_dir):
    return landscape(
        run_dir, grid=5, samples=200, slice_points=7, interp_points=7, seed=3
    )


def trained_model(run_dir):
    """The run's model with the weights of its last checkpoint, built anew."""
    experiment = build(TrainConfig.from_dict(_config(run_dir)))
    arrays = load_checkpoint(run_dir)["arrays"]
    experiment.model.load_state_dict(
        {k[len("model.") :]: v for k, v in arrays.items() if k.startswith("model.")}
    )
    return experiment


def _config(run_dir):
    from steepest.train import load_config

    return load_config(run_dir / "config.toml").to_dict()


# -- directions ---------------------------------------------------------------


def test_filter_normalisation_gives_each_row_the_norm_of_the_weight_row(run_dir):
    weights = trained_model(run_dir).model.state_dict()
    d = filter_normalized_direction(weights, np.random.default_rng(0))
    for name, w in weights.items():
        assert d[name].shape == w.shape
        if w.ndim == 2:
            np.testing.assert_allclose(
                np.linalg.norm(d[name], axis=1),
                np.linalg.norm(w.astype(np.float64), axis=1),
                rtol=1e-6,
                atol=0,
            )
        else:
            assert not d[name].any(), f"{name}: biases get no direction"
    filtered = filter_normalized_direction(
        weights, np.random.default_rng(0), biases="filter"
    )
    b = weights["0.bias"].astype(np.float64)
    assert np.linalg.norm(filtered["0.bias"]) == pytest.approx(np.linalg.norm(b))


def test_filter_normalisation_of_a_zero_row_and_of_conv_shaped_weights():
    w = {"conv": np.arange(2 * 3 * 2 * 2, dtype=float).reshape(2, 3, 2, 2)}
    w["conv"][1] = 0.0
    d = filter_normalized_direction(w, np.random.default_rng(1))["conv"]
    assert np.linalg.norm(d[0]) == pytest.approx(np.linalg.norm(w["conv"][0]))
    assert not d[1].any()
    with pytest.raises(ValueError, match="biases must be one of"):
        filter_normalized_direction(w, np.random.default_rng(1), biases="keep")


def test_pca_directions_are_orthonormal_and_put_the_origin_at_zero():
    rng = np.random.default_rng(0)
    basis = np.linalg.qr(rng.standard_normal((50, 2)))[0].T  # (2, 50)
    origin = rng.standard_normal(50)
    plane = rng.standard_normal((8, 2)) * [5.0, 1.0]
    points = np.vstack([origin + plane @ basis, origin])
    directions, coords, explained = pca_directions(points, origin)
    np.testing.assert_allclose(directions @ directions.T, np.eye(2), atol=1e-12)
    np.testing.assert_array_equal(coords[-1], [0.0, 0.0])
    # The points lie in a plane: the two components hold all the variance
    # and the coordinates give the points back.
    assert explained.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(origin + coords @ directions, points, atol=1e-10)
    assert coords[0, 0] <= 0 and coords[0, 1] <= 0


# -- the landscape of a run ---------------------------------------------------


def test_slice_at_zero_is_the_trained_models_loss(run_dir, result):
    experiment = trained_model(run_dir)
    train = experiment.data.train
    idx = result.sample_indices
    assert len(idx) == 200 and len(np.unique(idx)) == 200
    expected = evaluate(
        experiment.model, experiment.loss_fn, train.x[idx], train.y[idx]
    )
    (zero,) = np.flatnonzero(result.alphas == 0.0)
    assert result.slice_loss[zero] == pytest.approx(expected["loss"], rel=1e-6)
    assert result.slice_acc[zero] == pytest.approx(expected["acc"])
    assert result.final["loss"] == pytest.approx(expected["loss"], rel=1e-6)
    # The centre of the 2-D grid is the same point.
    assert result.surface_loss[2, 2] == pytest.approx(expected["loss"], rel=1e-6)


def test_interpolation_ends_are_the_initial_and_trained_losses(run_dir, result):
    config = TrainConfig.from_dict(_config(run_dir))
    fresh = build(config)  # the initial weights, from the seed
    trained = trained_model(run_dir)
    idx = result.sample_indices
    x, y = fresh.data.train.x[idx], fresh.data.train.y[idx]
    start = evaluate(fresh.model, fresh.loss_fn, x, y)["loss"]
    end = evaluate(trained.model, trained.loss_fn, x, y)["loss"]
    t = result.interp_t
    assert t[0] == pytest.approx(-0.25) and t[-1] == pytest.approx(1.25)
    assert result.interp_loss[t == 0.0][0] == pytest.approx(start, rel=1e-6)
    assert result.interp_loss[t == 1.0][0] == pytest.approx(end, rel=1e-6)
    assert result.initial["loss"] == pytest.approx(start, rel=1e-6)
    dev = trained.data.dev
    dev_end = evaluate(trained.model, trained.loss_fn, dev.x, dev.y)["loss"]
    assert result.interp_dev_loss[t == 1.0][0] == pytest.approx(dev_end, rel=1e-6)


def test_trajectory_ends_at_the_origin(result):
    assert result.epochs.tolist() == list(range(EPOCHS + 1))
    np.testing.assert_array_equal(result.trajectory[-1], [0.0, 0.0])
    assert np.linalg.norm(result.trajectory[0]) > 0
    assert result.trajectory_loss[-1] == pytest.approx(result.final["loss"])
    assert result.trajectory_loss[0] == pytest.approx(result.initial["loss"])
    assert 0 < result.explained.sum() <= 1 + 1e-12
    # The PCA grid covers the whole path.
    assert result.pca_a.min() < result.trajectory[:, 0].min()
    assert result.pca_a.max() > result.trajectory[:, 0].max()


def test_files_behind_every_figure(result):
    out = result.out_dir
    assert out == result.run_dir / "landscape"
    expected_rows = {
        "slice.csv": 7,
        "surface.csv": 25,
        "interpolation.csv": 7,
        "trajectory.csv": EPOCHS + 1,
        "trajectory_grid.csv": 25,
    }
    for name, count in expected_rows.items():
        with (out / name).open() as handle:
            assert len(list(csv.DictReader(handle))) == count, name
    for name in (
        "slice.png",
        "contour.png",
        "surface.png",
        "interpolation.png",
        "trajectory.png",
        "trajectory.gif",
        "directions.npz",
    ):
        assert (out / name).stat().st_size > 0, name
    summary = json.loads((out / "summary.json").read_text())
    assert summary["final"]["loss"] == pytest.approx(result.final["loss"])


def test_same_seed_same_landscape(run_dir, result, tmp_path):
    again = landscape(
        run_dir,
        grid=5,
        samples=200,
        slice_points=7,
        interp_points=7,
        seed=3,
        out_dir=tmp_path,
        plot=False,
    )
    np.testing.assert_array_equal(again.surface_loss, result.surface_loss)
    np.testing.assert_array_equal(again.pca_loss, result.pca_loss)
    other = landscape(
        run_dir,
        grid=3,
        samples=200,
        slice_points=3,
        interp_points=3,
        seed=4,
        out_dir=tmp_path,
        plot=False,
    )
    assert not np.array_equal(other.slice_loss, result.slice_loss[::3])


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        ({"grid": 1}, "grid must be"),
        ({"span": 0.0}, "span must be"),
        ({"biases": "keep"}, "biases must be"),
    ],
)
def test_bad_arguments(run_dir, kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        landscape(run_dir, **kwargs)


def test_command(run_dir, tmp_path, capsys):
    out = tmp_path / "land"
    status = main(
        [
            "landscape",
            str(run_dir),
            "--grid",
            "3",
            "--samples",
            "100",
            "--out",
            str(out),
            "--no-gif",
        ]
    )
    assert status == 0
    text = capsys.readouterr().out
    assert "trained weights" in text and "PC1" in text
    assert (out / "contour.png").is_file() and not (out / "trajectory.gif").exists()
    assert main(["landscape", str(tmp_path)]) == 2
    assert "config.toml is missing" in capsys.readouterr().err
