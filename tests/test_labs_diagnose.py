"""steepest diagnose: the recorder against independent computations."""

from __future__ import annotations

import csv
from types import SimpleNamespace

import numpy as np
import pytest

import steepest as st
from steepest import losses, nn
from steepest.cli import main
from steepest.data import DataLoader, load_dataset
from steepest.labs.diagnose import (
    QUANTILES,
    Diagnostics,
    DiagnosticsData,
    diagnose,
    effective_learning_rates,
)
from steepest.optim import SGD, Adagrad, Adam, RMSprop
from steepest.train import Callback, TrainConfig, Trainer, run_training

TINY = dict(hidden=[8], epochs=2, batch_size=64, seed=2)


class Single(nn.Module):
    """One float64 parameter tensor, for driving an optimizer by hand."""

    def __init__(self, shape):
        super().__init__()
        self.w = st.tensor(np.ones(shape), requires_grad=True, dtype="float64")


def drive(optimizer, model, gradient, steps, recorder):
    """Apply ``gradient`` ``steps`` times, reporting to ``recorder`` as the
    trainer would."""
    trainer = SimpleNamespace(
        model=model,
        optimizer=optimizer,
        epoch=0,
        target_epochs=1,
        train_loader=range(steps),
        callbacks=[recorder],
    )
    recorder.on_train_begin(trainer)
    for t in range(1, steps + 1):
        optimizer.zero_grad()
        model.w.grad[...] = gradient
        optimizer.step()
        recorder.on_batch_end(trainer, t, steps, 0.0)
    return recorder.data


# -- effective learning rates in closed form ----------------------------------


def test_adagrad_rate_under_a_constant_gradient_is_lr_over_sqrt_t_g2():
    g = np.array([[0.5, -2.0, 1e-3], [3.0, 0.1, -0.7]])
    model = Single(g.shape)
    opt = Adagrad(model.parameters(), lr=0.1)
    data = drive(opt, model, g, 40, Diagnostics(every=1, quantiles=QUANTILES))
    t = data.steps[:, None].astype(float)
    # Per coordinate: r_t = t g^2, so the rate is lr / sqrt(t g^2 + eps_root).
    exact = 0.1 / np.sqrt(t * g.ravel() ** 2 + 1e-8)  # (steps, coordinates)
    expected = np.percentile(exact, QUANTILES, axis=1).T
    np.testing.assert_allclose(data.eff_lr, expected, rtol=1e-12)
    # The 1/sqrt(t) decay: 4 times the steps, half the rate (wherever g^2 is
    # large beside eps_root, as at the median).
    assert data.eff_lr[39, 2] / data.eff_lr[9, 2] == pytest.approx(0.5, rel=1e-6)
    assert data.eff_lr_raw is None


def test_adam_bias_correction_makes_the_rate_constant():
    g = np.array([0.2, -1.0, 4.0])
    model = Single(g.shape)
    opt = Adam(model.parameters(), lr=0.01, beta2=0.99)
    data = drive(opt, model, g, 30, Diagnostics(every=1, quantiles=(0, 50, 100)))
    t = data.steps.astype(float)
    # r_t = (1 - beta2^t) g^2, so r_hat = g^2 exactly: the rate never moves,
    # while the uncorrected one starts 1/sqrt(1 - beta2) = 10 times higher.
    corrected = 0.01 / np.sqrt(g**2 + 1e-8)
    np.testing.assert_allclose(
        data.eff_lr, np.tile(np.sort(corrected), (30, 1)), rtol=1e-9
    )
    raw = 0.01 / np.sqrt((1 - 0.99 ** t[:, None]) * g**2 + 1e-8)
    np.testing.assert_allclose(data.eff_lr_raw, np.sort(raw, axis=1), rtol=1e-9)
    assert data.eff_lr_raw[0, 1] / data.eff_lr[0, 1] == pytest.approx(10, rel=1e-6)


def test_rmsprop_rate_and_sgd_has_none():
    g = np.array([2.0, -0.5])
    model = Single(g.shape)
    data = drive(
        RMSprop(model.parameters(), lr=0.01, beta=0.9),
        model,
        g,
        5,
        Diagnostics(every=1, quantiles=(0, 100)),
    )
    r = (1 - 0.9 ** data.steps[:, None]) * g**2
    np.testing.assert_allclose(
        data.eff_lr, np.sort(0.01 / np.sqrt(r + 1e-8), axis=1), rtol=1e-9
    )
    model = Single(g.shape)
    assert effective_learning_rates(SGD(model.parameters(), lr=0.1), 0.1) == (
        None,
        None,
    )


def test_coordinates_without_a_gradient_are_left_out():
    g = np.array([0.0, 1.0, 0.0])
    model = Single(g.shape)
    opt = Adagrad(model.parameters(), lr=0.1)
    opt.zero_grad()
    model.w.grad[...] = g
    opt.step()
    rate, _ = effective_learning_rates(opt, 0.1)
    assert np.isnan(rate[[0, 2]]).all() and rate[1] == pytest.approx(0.1)


# -- gradient norms and update ratios, recomputed independently ---------------


class Spy(Callback):
    """Keeps the weights after every step (before the next one)."""

    def __init__(self, model):
        self.model = model
        self.weights = []

    def on_train_begin(self, trainer):
        self.weights = [self.model.state_dict()]

    def on_batch_end(self, trainer, batch, batches, running_loss):
        self.weights.append(self.model.state_dict())


def test_gradient_norms_and_update_ratios_match_a_recomputation():
    data = load_dataset("digits", seed=0)
    x, y = data.train.x[:300], data.train.y[:300]
    loader = DataLoader(x, y, 50, shuffle=True, seed=5)
    model = nn.MLP([64, 12, 10], rng=1)
    opt = Adam(model.parameters(), lr=0.01)
    recorder, spy = Diagnostics(every=4, dense=2), Spy(model)
    trainer = Trainer(
        model, losses.cross_entropy, opt, loader, callbacks=[recorder, spy]
    )
    trainer.fit(2)
    rec = recorder.data
    assert rec.steps.tolist() == [1, 2, 5, 9]  # dense 2, then every 4th
    assert rec.epochs.tolist() == [1, 1, 1, 2]
    assert rec.names == ["0.weight", "0.bias", "2.weight", "2.bias"]

    batches = [b for e in range(2) for b in loader.epoch(e)]
    for row, t in enumerate(rec.steps):
        before, after = spy.weights[t - 1], spy.weights[t]
        # The gradient at step t: the weights before it, on its batch, in a
        # model of our own.
        other = nn.MLP([64, 12, 10], rng=0)
        other.load_state_dict(before)
        xb, yb = batches[t - 1]
        losses.cross_entropy(other(st.tensor(xb)), yb).backward()
        for j, (name, p) in enumerate(other.named_parameters()):
            assert rec.grad_norm[row, j] == pytest.approx(
                np.linalg.norm(p.grad), rel=1e-6
            ), (t, name)
            delta = np.linalg.norm(after[name].astype(float) - before[name])
            norm = np.linalg.norm(before[name].astype(float))
            if norm == 0:
                assert np.isnan(rec.update_ratio[row, j])  # a zero bias
            else:
                assert rec.update_ratio[row, j] == pytest.approx(delta / norm)
            assert rec.param_norm[row, j] == pytest.approx(
                np.linalg.norm(after[name].astype(float))
            )


def test_automatic_stride_keeps_about_max_records():
    recorder = Diagnostics(dense=0, max_records=10)
    model = Single((3,))
    opt = SGD(model.parameters(), lr=0.1)
    data = drive(opt, model, np.ones(3), 100, recorder)
    assert data.steps.tolist() == list(range(1, 101, 10))
    assert data.eff_lr is None and np.all(data.lr == 0.1)


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        ({"every": 0}, "every must be"),
        ({"quantiles": (50, 101)}, "quantiles"),
        ({"dense": -1}, "dense"),
    ],
)
def test_bad_arguments(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        Diagnostics(**kwargs)


# -- run folders and the command ----------------------------------------------


def test_diagnose_reruns_a_run_then_reuses_it(tmp_path):
    config = TrainConfig(**TINY, optimizer="adagrad", lr=0.05)
    run_training(config, tmp_path / "run")
    first = diagnose(tmp_path / "run")
    assert first.source == "rerun" and first.reproduced is True
    assert first.out_dir == tmp_path / "run" / "diagnose"
    for name in ("diagnostics.csv", "diagnostics.npz", "diagnostics.png"):
        assert (first.out_dir / name).is_file()
    steps = 2 * 17  # 1079 examples in batches of 64
    assert first.data.steps[-1] == steps and len(first.data.steps) == steps
    second = diagnose(tmp_path / "run")
    assert second.source == "cached"
    np.testing.assert_array_equal(second.data.grad_norm, first.data.grad_norm)
    np.testing.assert_array_equal(second.data.eff_lr, first.data.eff_lr)
    with (first.out_dir / "diagnostics.csv").open() as handle:
        header = next(csv.reader(handle))
    assert header[:3] == ["step", "epoch", "lr"]
    assert "grad_norm.0.weight" in header and "eff_lr.q50" in header


def test_train_diagnostics_flag_records_live(tmp_path, capsys):
    run = tmp_path / "run"
    status = main(
        [
            "train",
            "--hidden",
            "8",
            "--epochs",
            "1",
            "--batch-size",
            "64",
            "--optimizer",
            "adam",
            "--out",
            str(run),
            "--no-progress",
            "--diagnostics",
        ]
    )
    assert status == 0
    data = DiagnosticsData.load(run / "diagnostics.npz")
    assert data.optimizer == "Adam" and data.eff_lr_raw is not None
    assert (run / "diagnostics.png").is_file()
    capsys.readouterr()
    assert main(["diagnose", str(run), "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "recorded while training" in text and "0.weight" in text
    assert not (run / "diagnose").exists()


def test_diagnose_command_on_a_folder_that_is_not_a_run(tmp_path, capsys):
    assert main(["diagnose", str(tmp_path)]) == 2
    assert "config.toml is missing" in capsys.readouterr().err


def test_diagnose_a_diverged_run_reports_the_records_up_to_it(tmp_path, capsys):
    from steepest.train import TrainingDiverged

    config = TrainConfig(dataset="diabetes", optimizer="sgd", lr=1.0, epochs=3)
    with pytest.raises(TrainingDiverged, match="at step 4"):
        run_training(config, tmp_path / "run")
    assert main(["diagnose", str(tmp_path / "run"), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "3 records up to step 3" in out
    assert "the rerun diverged" in out and "at step 4" in out
    data = np.load(tmp_path / "run" / "diagnose" / "diagnostics.npz")
    norms = data["grad_norm"]
    assert norms.shape[0] == 3 and np.all(norms[-1] > 1e6 * norms[0])
