"""The training loop, checkpoints, run folders and the train/evaluate CLI."""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest

from steepest.cli import main
from steepest.data import load_dataset
from steepest.train import (
    Callback,
    TrainConfig,
    TrainingDiverged,
    build,
    build_schedule,
    load_checkpoint,
    resume_training,
    run_training,
)
from steepest.train import checkpoint as checkpoint_module

SMALL = dict(dataset="digits", hidden=[16], epochs=4, batch_size=64, seed=3)


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", seed=3)


def params_of(model):
    return {k: v.copy() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("optimizer", ["adam", "nesterov", "rmsprop"])
def test_resume_is_bit_identical(tmp_path, optimizer):
    # 4 epochs straight against 2 epochs, a rebuild from the run folder alone,
    # and 2 more. The decay is given in steps, so both runs share one schedule.
    decay = {"decay_steps": 67, "decay_rate": 0.1}
    config = TrainConfig(**SMALL, optimizer=optimizer, schedule="exponential",
                         schedule_options=decay)  # fmt: skip
    straight = run_training(config, tmp_path / "straight")
    config.epochs = 2
    run_training(config, tmp_path / "resumed")
    resumed = resume_training(tmp_path / "resumed", epochs=4)
    a, b = params_of(straight.trainer.model), params_of(resumed.trainer.model)
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])

    def timeless(rows):
        return [{k: v for k, v in r.items() if k != "seconds"} for r in rows]

    assert timeless(straight.trainer.history.rows) == timeless(
        resumed.trainer.history.rows
    )
    assert resumed.trainer.optimizer.step_count == 4 * 17


def test_divergence_stops_at_first_nonfinite_loss(tmp_path):
    # Squared error on targets of order 100 with lr 1 overflows within steps.
    config = TrainConfig(dataset="diabetes", optimizer="sgd", lr=1.0, epochs=5)
    seen = []

    class Record(Callback):
        def on_batch_end(self, trainer, batch, batches, running_loss):
            seen.append(trainer.optimizer.step_count)

    with pytest.raises(TrainingDiverged) as err:
        run_training(config, tmp_path / "run", [Record()])
    message = str(err.value)
    step = seen[-1] + 1  # the step that was refused
    assert f"at step {step} " in message and "last finite loss was" in message
    assert "learning rate 1" in message and "e.g. 0.1" in message
    assert "became inf" in message or "became nan" in message


def test_epoch_loss_is_weighted_by_batch_size(tmp_path, digits):
    # 1079 training examples in batches of 500: 500, 500, 79.
    seen = []

    class Record(Callback):
        def on_batch_end(self, trainer, batch, batches, running_loss):
            seen.append(running_loss)

    config = TrainConfig(**{**SMALL, "batch_size": 500, "epochs": 1})
    experiment = build(config, digits)
    losses, sizes = [], []
    loss_fn = experiment.loss_fn

    def recording_loss(output, target):
        value = loss_fn(output, target)
        losses.append(value.item())
        sizes.append(len(target))
        return value

    experiment.loss_fn = recording_loss
    result = run_training(config, tmp_path / "run", [Record()], experiment)
    train_losses, train_sizes = losses[:3], sizes[:3]
    assert train_sizes == [500, 500, 79]
    expected = np.dot(train_losses, train_sizes) / 1079
    assert result.trainer.history.rows[0]["loss"] == pytest.approx(expected, 1e-12)
    assert seen[-1] == pytest.approx(expected, 1e-12)


def test_early_stopping_restores_best_weights(tmp_path):
    config = TrainConfig(**{**SMALL, "epochs": 40}, lr=0.05, early_stopping=2,
                         monitor="dev_acc")  # fmt: skip
    result = run_training(config, tmp_path / "run")
    trainer = result.trainer
    dev_acc = trainer.history.column("dev_acc")
    best = int(np.argmax(dev_acc))
    assert trainer.best_epoch == best + 1
    # Stopped either at the end or `patience` epochs after the best one.
    assert trainer.epoch == 40 or trainer.epoch == trainer.best_epoch + 2
    # The model ends on the best epoch's weights: its dev accuracy is the best.
    assert result.summary["dev_acc"] == pytest.approx(max(dev_acc), abs=1e-12)


def test_lr_final_is_reached_exactly_at_the_last_update():
    for name in ("exponential", "polynomial", "inverse_time", "cosine"):
        config = TrainConfig(**SMALL, lr=0.01, schedule=name, lr_final=0.001)
        schedule = build_schedule(config, total_steps=1100)
        assert schedule(0) == pytest.approx(0.01, rel=1e-15)
        assert schedule(1099) == pytest.approx(0.001, rel=1e-15), name


def test_checkpoint_survives_a_crash_mid_write(tmp_path, monkeypatch):
    config = TrainConfig(**{**SMALL, "epochs": 1})
    result = run_training(config, tmp_path / "run")
    before = load_checkpoint(tmp_path / "run")

    def crash(*args, **kwargs):
        raise OSError("disk full")

    state = result.trainer.state_dict()
    state["scalars"]["epoch"] = 2
    monkeypatch.setattr(checkpoint_module.os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        checkpoint_module.save_checkpoint(tmp_path / "run", state)
    monkeypatch.undo()
    after = load_checkpoint(tmp_path / "run")
    assert after["scalars"]["epoch"] == before["scalars"]["epoch"] == 1
    for key, value in before["arrays"].items():
        np.testing.assert_array_equal(after["arrays"][key], value)
    leftovers = [p for p in os.listdir(tmp_path / "run" / "checkpoints")
                 if p.startswith(".")]  # fmt: skip
    assert leftovers == []


def test_run_folder_contents(tmp_path):
    result = run_training(TrainConfig(**{**SMALL, "epochs": 2}), tmp_path / "run")
    run_dir = result.run_dir
    for name in ("config.toml", "metrics.csv", "metrics.jsonl", "summary.json",
                 "curves.png"):  # fmt: skip
        assert (run_dir / name).is_file(), name
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").open()]
    assert [r["epoch"] for r in rows] == [1, 2]
    csv_lines = (run_dir / "metrics.csv").read_text().splitlines()
    assert csv_lines[0].split(",")[:3] == ["epoch", "loss", "acc"]
    assert len(csv_lines) == 3
    summary = json.loads((run_dir / "summary.json").read_text())
    assert 0 <= summary["test_acc"] <= 1 and summary["epochs"] == 2
    state = load_checkpoint(run_dir)["scalars"]
    assert state["config"]["hidden"] == [16] and state["epoch"] == 2
    assert state["data_order"] == {"seed": 3, "next_epoch": 2}
    assert state["optimizer"]["step"] == 2 * 17
    assert "numpy" in summary["versions"]


def test_default_main_job_reaches_95_percent_on_digits(tmp_path, capsys):
    status = main(["train", "--out", str(tmp_path / "run"), "--no-progress"])
    assert status == 0
    out = capsys.readouterr().out
    assert "epoch 30/30 | loss " in out and "| dev_acc " in out
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["test_acc"] >= 0.95


def test_evaluate_command_matches_summary(tmp_path, capsys):
    main(["train", "--epochs", "2", "--hidden", "8", "--out", str(tmp_path / "r"),
          "--no-progress"])  # fmt: skip
    capsys.readouterr()
    assert main(["evaluate", str(tmp_path / "r"), "--split", "test"]) == 0
    out = capsys.readouterr().out
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert f"{summary['test_acc']:.4f}" in out


@pytest.mark.parametrize(
    "flags, fragment",
    [
        (["--optimizer", "adamm"], "--optimizer 'adamm': choose from sgd"),
        (["--epochs", "0"], "--epochs 0: must be an integer >= 1"),
        (["--lr", "-1"], "--lr -1.0: must be a number > 0"),
        (["--activation", "gelu"], "--activation 'gelu'"),
        (["--schedule", "linear"], "--schedule 'linear'"),
        (["--lr-final", "0.1"], "needs a decaying --schedule"),
        (["--opt", "beta1"], "expected KEY=VALUE"),
    ],
)
def test_bad_flags_give_one_line_errors(tmp_path, capsys, flags, fragment):
    status = main(["train", "--out", str(tmp_path / "r"), *flags])
    assert status == 2
    err = capsys.readouterr().err
    assert fragment in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_batch_size_full_is_gradient_descent(tmp_path):
    config = TrainConfig(**{**SMALL, "epochs": 2, "batch_size": "full"})
    result = run_training(config, tmp_path / "run")
    assert result.trainer.optimizer.step_count == 2
    assert math.isfinite(result.summary["test_loss"])


def test_config_file_then_flags_override(tmp_path, capsys):
    config = tmp_path / "run.toml"
    config.write_text(
        'dataset = "digits"\nhidden = [12]\noptimizer = "sgd"\nlr = 0.05\n'
        "epochs = 3\n\n[optimizer_options]\nmomentum = 0.5\n"
    )
    run_dir = tmp_path / "r"
    status = main(["train", "--config", str(config), "--epochs", "1",
                   "--out", str(run_dir), "--no-progress"])  # fmt: skip
    assert status == 0
    written = (run_dir / "config.toml").read_text()
    assert "epochs = 1" in written and "hidden = [12]" in written
    assert "lr = 0.05" in written and "momentum = 0.5" in written
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["epochs"] == 1


def test_resume_flag_continues_to_more_epochs(tmp_path, capsys):
    run_dir = str(tmp_path / "r")
    main(["train", "--epochs", "1", "--hidden", "8", "--out", run_dir,
          "--no-progress"])  # fmt: skip
    capsys.readouterr()
    assert main(["train", "--resume", run_dir, "--epochs", "2", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "epoch 2/2 |" in out and "epoch 1/2 |" not in out
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["epochs"] == 2


def test_unknown_config_key_is_named(tmp_path, capsys):
    config = tmp_path / "bad.toml"
    config.write_text("epoch = 3\n")
    assert main(["train", "--config", str(config)]) == 2
    assert "unknown config key(s) ['epoch']" in capsys.readouterr().err
