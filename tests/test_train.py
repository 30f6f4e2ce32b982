"""The training loop, checkpoints, run folders and the train/evaluate CLI."""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest

from steepest import kernels
from steepest.cli import main
from steepest.data import load_dataset
from steepest.train import (
    Callback,
    TrainConfig,
    TrainingDiverged,
    build,
    build_model,
    build_schedule,
    load_checkpoint,
    load_config,
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


def test_regression_output_starts_at_the_mean_target(tmp_path):
    # The output bias starts at the Gaussian maximum-likelihood constant, so
    # the default run on diabetes beats predicting that constant (the closed
    # form below) on the test set, where it used to stay far above it.
    data = load_dataset("diabetes")
    config = TrainConfig(dataset="diabetes")
    model = build_model(config, data)
    np.testing.assert_allclose(
        model[-1].bias.data, [data.train.y.astype(np.float64).mean()], rtol=1e-6
    )
    result = run_training(config, tmp_path / "run")
    constant = float(((data.test.y - data.train.y.mean()) ** 2).mean())
    assert result.summary["test_loss"] < 0.8 * constant


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
    assert summary["versions"]["loops"] == (
        "compiled" if kernels.enabled() else "numpy"
    )


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
        (
            ["--schedule", "cosine", "--lr-final", "1"],
            "is above the learning rate 0.001",
        ),
    ],
)
def test_bad_flags_give_one_line_errors(tmp_path, capsys, flags, fragment):
    status = main(["train", "--out", str(tmp_path / "r"), *flags])
    assert status == 2
    err = capsys.readouterr().err
    assert fragment in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "variable, value",
    [("STEEPEST_KERNELS", "maybe"), ("STEEPEST_NUM_THREADS", "0")],
)
def test_bad_environment_is_reported_before_the_run_folder(
    tmp_path, capsys, monkeypatch, variable, value
):
    monkeypatch.setattr(kernels, "_switch", None)  # read the environment again
    monkeypatch.setenv(variable, value)
    status = main(["train", "--out", str(tmp_path / "r"), "--no-progress"])
    assert status == 2
    err = capsys.readouterr().err
    assert f"{variable} must be" in err and repr(value) in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "r").exists()


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


# ----------------------------------------------------------------------------
# Run folders: --out, --overwrite, --resume.


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    return err


def quick_run(run_dir, *flags):
    argv = ["train", "--epochs", "2", "--hidden", "8", "--out", str(run_dir)]
    return main([*argv, "--no-progress", *flags])


def test_out_refuses_a_folder_that_holds_a_run(tmp_path, capsys):
    run_dir = tmp_path / "r"
    assert quick_run(run_dir) == 0
    before = (run_dir / "summary.json").read_text()
    capsys.readouterr()
    assert quick_run(run_dir) == 2
    err = one_line_error(capsys)
    assert f"--out {run_dir}: the folder is not empty" in err
    assert f"--resume {run_dir}" in err and "another --out" in err
    assert "--overwrite" in err
    assert (run_dir / "summary.json").read_text() == before


def test_overwrite_replaces_the_old_run_without_stale_checkpoints(tmp_path, capsys):
    run_dir = tmp_path / "r"
    assert quick_run(run_dir, "--diagnostics") == 0
    assert (run_dir / "checkpoints" / "epoch-0002").is_dir()
    assert (run_dir / "diagnostics.csv").is_file()
    argv = ["train", "--epochs", "1", "--hidden", "8", "--out", str(run_dir)]
    assert main([*argv, "--no-progress", "--overwrite"]) == 0
    folders = sorted(p.name for p in (run_dir / "checkpoints").iterdir())
    assert folders == ["epoch-0001", "latest.json"]
    assert not (run_dir / "diagnostics.csv").exists()
    rows = (run_dir / "metrics.csv").read_text().splitlines()
    assert len(rows) == 2


def test_overwrite_never_deletes_files_a_run_does_not_write(tmp_path, capsys):
    run_dir = tmp_path / "r"
    assert quick_run(run_dir) == 0
    (run_dir / "notes.txt").write_text("mine")
    (run_dir / "data").mkdir()
    capsys.readouterr()
    assert quick_run(run_dir, "--overwrite") == 2
    err = one_line_error(capsys)
    assert f"--overwrite {run_dir}" in err and "data/, notes.txt" in err
    assert (run_dir / "notes.txt").read_text() == "mine"
    assert (run_dir / "checkpoints" / "epoch-0002").is_dir()


def test_run_into_an_empty_existing_folder(tmp_path, capsys):
    (tmp_path / "r").mkdir()
    assert quick_run(tmp_path / "r") == 0


@pytest.mark.parametrize(
    "flags",
    [
        ["--lr", "0.1"],
        ["--optimizer", "sgd"],
        ["--schedule", "cosine"],
        ["--hidden", "4"],
        ["--batch-size", "8"],
        ["--seed", "1"],
        ["--momentum", "0.5"],
        ["--sched", "alpha=0.1"],
        ["--config", "run.toml"],
        ["--early-stopping", "3"],
    ],
)
def test_resume_refuses_flags_that_change_the_run(tmp_path, capsys, flags):
    run_dir = tmp_path / "r"
    assert quick_run(run_dir) == 0
    before = (run_dir / "config.toml").read_text()
    capsys.readouterr()
    argv = ["train", "--resume", str(run_dir), "--epochs", "3", *flags]
    assert main(argv) == 2
    err = one_line_error(capsys)
    assert (
        f"--resume continues a run with its own settings; {flags[0]} cannot be "
        "changed; start a new run with --out instead"
    ) in err
    assert (run_dir / "config.toml").read_text() == before


def test_resume_refuses_out_and_allows_its_own_flags(tmp_path, capsys):
    run_dir = tmp_path / "r"
    assert quick_run(run_dir) == 0
    capsys.readouterr()
    assert main(["train", "--resume", str(run_dir), "--out", str(tmp_path)]) == 2
    assert "--out cannot be given with it" in one_line_error(capsys)
    argv = ["train", "--resume", str(run_dir), "--epochs", "3", "--no-progress"]
    assert main([*argv, "--diagnostics"]) == 0
    assert (run_dir / "diagnostics.csv").is_file()
    capsys.readouterr()
    assert main(["train", "--resume", str(run_dir), "--epochs", "1"]) == 2
    err = one_line_error(capsys)
    assert f"--epochs 1: {run_dir} has already trained 3 epochs" in err


# ----------------------------------------------------------------------------
# The resolved schedule: a resume for more epochs continues the same formula.


class RecordLr(Callback):
    """The rate of every update: the one before the first, then after each."""

    def __init__(self):
        self.lrs = []

    def on_train_begin(self, trainer):
        self.lrs = [trainer.optimizer.lr]

    def on_batch_end(self, trainer, batch, batches, running_loss):
        self.lrs.append(trainer.optimizer.lr)  # the rate of the next update


def test_config_toml_holds_the_resolved_schedule(tmp_path):
    import tomllib

    config = TrainConfig(**{**SMALL, "epochs": 5}, lr=0.01, schedule="cosine",
                         lr_final=0.001)  # fmt: skip
    run_training(config, tmp_path / "r")
    written = tomllib.loads((tmp_path / "r" / "config.toml").read_text())
    assert "lr_final" not in written and written["lr"] == 0.01
    # 5 epochs of 17 steps: the last update is step 84.
    assert written["schedule_options"] == {"decay_steps": 84, "alpha": 0.1}
    state = load_checkpoint(tmp_path / "r")["scalars"]["config"]
    assert state["schedule_options"] == written["schedule_options"]
    assert state["lr_final"] is None


def test_resume_with_more_epochs_keeps_the_cosine_floor(tmp_path):
    config = TrainConfig(**{**SMALL, "epochs": 5}, lr=0.01, schedule="cosine",
                         lr_final=0.001)  # fmt: skip
    first, second = RecordLr(), RecordLr()
    run_training(config, tmp_path / "r", [first])
    result = resume_training(tmp_path / "r", [second], epochs=10)
    # Rates of updates 0..85 from the first run, 85..170 from the resume.
    assert first.lrs[-1] == second.lrs[0]
    rates = first.lrs[:-1] + second.lrs[:-1]
    assert len(rates) == 170 == result.trainer.optimizer.step_count
    assert all(b <= a for a, b in zip(rates, rates[1:], strict=False))
    assert rates[0] == 0.01
    # The floor from the old last update (step 84) on: epochs 6..10 use it.
    assert rates[84:] == pytest.approx([0.001] * 86, rel=1e-12)
    lrs = [row["lr"] for row in result.trainer.history.rows]
    assert lrs[5:] == pytest.approx([0.001] * 5, rel=1e-12)
    assert "decay_steps = 84" in (tmp_path / "r" / "config.toml").read_text()


def test_resume_with_more_epochs_keeps_decaying_exponentially(tmp_path):
    config = TrainConfig(**{**SMALL, "epochs": 2}, lr=0.01, schedule="exponential",
                         lr_final=0.001)  # fmt: skip
    run_training(config, tmp_path / "r")
    result = resume_training(tmp_path / "r", epochs=4)
    lrs = [row["lr"] for row in result.trainer.history.rows]
    assert all(b < a for a, b in zip(lrs, lrs[1:], strict=False)), lrs
    # The last update of the first 2 epochs (step 33) used lr_final; the
    # factor of 10 per 33 steps goes on, so epoch 4's last (step 67) uses
    # 0.01 * 0.1 ** (67 / 33), not lr_final again.
    assert lrs[1] == pytest.approx(0.001, rel=1e-12)
    assert lrs[3] == pytest.approx(0.01 * 0.1 ** (67 / 33), rel=1e-12)


def test_resume_of_an_early_stopped_run_is_refused(tmp_path, capsys):
    config = TrainConfig(**{**SMALL, "epochs": 40}, early_stopping=1,
                         monitor="dev_acc")  # fmt: skip
    result = run_training(config, tmp_path / "r")
    assert result.summary["stopped_early"]
    stopped = result.trainer.epoch
    with pytest.raises(ValueError, match=f"stopped early at epoch {stopped} "):
        resume_training(tmp_path / "r", epochs=50)
    assert main(["train", "--resume", str(tmp_path / "r"), "--epochs", "50"]) == 2
    err = one_line_error(capsys)
    assert f"stopped early at epoch {stopped} (dev_acc" in err
    assert "1 epochs, the patience" in err and "would change nothing" in err
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["epochs"] == stopped


# ----------------------------------------------------------------------------
# Damaged checkpoints: name the file, fall back to the newest one that loads.


@pytest.fixture
def three_epochs(tmp_path):
    run_training(TrainConfig(**{**SMALL, "epochs": 3}), tmp_path / "r")
    return tmp_path / "r"


def truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def epoch_dir(run_dir, epoch):
    return run_dir / "checkpoints" / f"epoch-{epoch:04d}"


def test_truncated_arrays_fall_back_to_the_previous_checkpoint(three_epochs, caplog):
    bad = epoch_dir(three_epochs, 3) / "arrays.safetensors"
    truncate(bad)
    with pytest.raises(checkpoint_module.CheckpointError) as err:
        load_checkpoint(epoch_dir(three_epochs, 3))
    assert str(bad) in str(err.value) and "damaged" in str(err.value)
    # safetensors' own error is no ValueError; it must not escape.
    assert isinstance(err.value, ValueError)
    with caplog.at_level("WARNING", logger="steepest.train.checkpoint"):
        state = load_checkpoint(three_epochs)
    assert state["scalars"]["epoch"] == 2
    assert str(bad) in caplog.text and "epoch-0002" in caplog.text


def test_truncated_state_json_is_named(three_epochs, caplog):
    bad = epoch_dir(three_epochs, 3) / "state.json"
    truncate(bad)
    with pytest.raises(checkpoint_module.CheckpointError, match="not valid JSON"):
        load_checkpoint(epoch_dir(three_epochs, 3))
    with caplog.at_level("WARNING"):
        assert load_checkpoint(three_epochs)["scalars"]["epoch"] == 2
    assert f"{bad} is not valid JSON" in caplog.text


def test_missing_latest_json_uses_the_newest_folder_that_loads(three_epochs, capsys):
    (three_epochs / "checkpoints" / "latest.json").unlink()
    assert load_checkpoint(three_epochs)["scalars"]["epoch"] == 3
    truncate(epoch_dir(three_epochs, 3) / "arrays.safetensors")
    assert load_checkpoint(three_epochs)["scalars"]["epoch"] == 2
    # A resume goes on from there.
    argv = ["train", "--resume", str(three_epochs), "--epochs", "4"]
    assert main([*argv, "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "epoch 3/4 |" in out and "epoch 4/4 |" in out
    assert load_checkpoint(three_epochs)["scalars"]["epoch"] == 4


def test_no_loadable_checkpoint_lists_what_was_tried(three_epochs, capsys):
    for epoch in (1, 2, 3):
        truncate(epoch_dir(three_epochs, epoch) / "arrays.safetensors")
    with pytest.raises(checkpoint_module.CheckpointError) as err:
        load_checkpoint(three_epochs)
    message = str(err.value)
    assert f"no checkpoint of {three_epochs} loads; tried: " in message
    for epoch in (3, 2, 1):
        assert str(epoch_dir(three_epochs, epoch) / "arrays.safetensors") in message
    assert main(["evaluate", str(three_epochs)]) == 2
    assert "no checkpoint of" in one_line_error(capsys)
    assert main(["train", "--resume", str(three_epochs), "--epochs", "5"]) == 2
    assert "no checkpoint of" in one_line_error(capsys)


def test_a_run_without_checkpoints_says_so(tmp_path, capsys):
    run_dir = tmp_path / "r"
    run_training(TrainConfig(**{**SMALL, "epochs": 1}), run_dir)
    import shutil

    shutil.rmtree(run_dir / "checkpoints")
    with pytest.raises(FileNotFoundError, match="no checkpoint in"):
        load_checkpoint(run_dir)
    with pytest.raises(FileNotFoundError, match="neither a run folder nor"):
        load_checkpoint(tmp_path)


# ----------------------------------------------------------------------------
# Config files: every value's kind, errors naming the file and the key.


@pytest.mark.parametrize(
    "line, fragment",
    [
        ("epochs = true", "epochs = true: must be an integer >= 1"),
        ("epochs = 2.0", "epochs = 2.0: must be an integer >= 1"),
        ('epochs = "two"', 'epochs = "two": must be an integer >= 1'),
        ("hidden = 64", "hidden = 64: must be a list of positive integers"),
        ("hidden = [64, 0]", "hidden = [64, 0]: widths must be positive"),
        ('l2 = "0.1"', 'l2 = "0.1": must be a number >= 0'),
        ("lr = false", "lr = false: must be a number > 0"),
        ("seed = 1.5", "seed = 1.5: must be an integer >= 0"),
        ("batch_size = true", "batch_size = true: must be an integer >= 1 or 'full'"),
        ("early_stopping = true", "early_stopping = true: must be an integer >= 0"),
        ("dev_size = -5", "dev_size = -5: must be an integer >= 0"),
        ("optimizer = 3", "optimizer = 3: must be a name: choose from sgd"),
        ('init = "foo"', 'init = "foo": choose from glorot_uniform'),
        ('monitor = "foo"', 'monitor = "foo": choose from dev_loss'),
        ("optimizer_options = 1", "optimizer_options = 1: must be a table"),
        (
            "[optimizer_options]\nmomentum = 0.9",
            "optimizer_options.momentum = 0.9: adam has no option 'momentum'",
        ),
        (
            "[schedule_options]\ndecay_rate = 0.5",
            "schedule_options.decay_rate = 0.5: --schedule constant takes no options",
        ),
    ],  # fmt: skip
)
def test_config_file_values_are_checked_and_located(tmp_path, capsys, line, fragment):
    path = tmp_path / "run.toml"
    path.write_text(line + "\n")
    assert main(["train", "--config", str(path), "--out", str(tmp_path / "r")]) == 2
    err = one_line_error(capsys)
    assert f"steepest train: error: {path}: {fragment}" in err
    assert not (tmp_path / "r").exists()


def test_config_type_errors_are_type_errors():
    with pytest.raises(TypeError, match="--epochs True: must be an integer"):
        TrainConfig(epochs=True)
    with pytest.raises(TypeError, match=r"--hidden 64: must be a list"):
        TrainConfig(hidden=64)
    with pytest.raises(ValueError, match="--epochs 0: must be"):
        TrainConfig(epochs=0)
    assert TrainConfig(lr=1, l2=0).learning_rate == 1


def test_flag_overrides_keep_the_flag_form(tmp_path, capsys):
    path = tmp_path / "run.toml"
    path.write_text('optimizer = "sgd"\nepochs = 3\n')
    argv = ["train", "--config", str(path), "--out", str(tmp_path / "r")]
    assert main([*argv, "--epochs", "0"]) == 2
    assert "error: --epochs 0: must be an integer >= 1" in one_line_error(capsys)
    # The file's momentum does not fit the flag's optimizer: the file is named.
    path.write_text('optimizer = "sgd"\n[optimizer_options]\nmomentum = 0.5\n')
    assert main([*argv, "--optimizer", "adam"]) == 2
    err = one_line_error(capsys)
    assert f"{path}: optimizer_options.momentum = 0.5: adam has no option" in err


@pytest.mark.parametrize("kind", ["missing", "folder", "latin-1"])
def test_unreadable_config_file_is_named(tmp_path, capsys, kind):
    path = tmp_path / "run.toml"
    if kind == "folder":
        path.mkdir()
    elif kind == "latin-1":
        path.write_bytes('dataset = "d\xefgits"\n'.encode("latin-1"))
    assert main(["train", "--config", str(path)]) == 2
    err = one_line_error(capsys)
    assert f"config file {path} " in err
    expected = {"missing": "does not exist", "folder": "is a folder",
                "latin-1": "is not UTF-8 text"}  # fmt: skip
    assert expected[kind] in err


# ----------------------------------------------------------------------------
# Flags checked before training, errors that name the flag, not internals.


@pytest.mark.parametrize(
    "flags, fragment",
    [
        (
            ["--monitor", "foo", "--early-stopping", "2"],
            "--monitor 'foo': choose from dev_loss, dev_acc, loss, acc",
        ),
        (
            ["--dev-size", "0", "--early-stopping", "2"],
            "--early-stopping 2: monitors dev_loss, but --dev-size 0 leaves no dev",
        ),
        (
            ["--dataset", "diabetes", "--monitor", "dev_acc", "--early-stopping", "2"],
            "--monitor 'dev_acc': diabetes is a regression set",
        ),
        (
            ["--momentum", "0.9"],
            "--momentum 0.9: adam has no option 'momentum'; its options are beta1, "
            "beta2, eps, eps_root, bias_correction, weight_decay",
        ),
        (["--opt", "foo=1"], "--opt foo=1: adam has no option 'foo'; its options"),
        (
            ["--optimizer", "sgd", "--opt", "beta1=0.8"],
            "--opt beta1=0.8: sgd has no option 'beta1'; its options are momentum",
        ),
        (["--opt", "lr=0.1"], "--opt lr=0.1: the learning rate is set with --lr"),
        (["--init", "foo"], "--init 'foo': choose from glorot_uniform, he_normal"),
        (["--dataset", "foo"], "--dataset 'foo': choose from digits, diabetes"),
        (["--dev-size", "-1"], "--dev-size -1: must be an integer >= 0"),
        (["--dev-size", "5000"], "--dev-size 5000: too large for digits"),
        (
            ["--sched", "decay_rate=0.5"],
            "--sched decay_rate=0.5: --schedule constant takes no options",
        ),
        (
            ["--schedule", "cosine", "--sched", "decay_rate=0.5"],
            "--sched decay_rate=0.5: --schedule cosine has no option 'decay_rate'; "
            "its options are decay_steps, alpha",
        ),
        (
            ["--schedule", "exponential", "--lr-final", "0.1", "--sched", "x=1"],
            "--sched x=1",
        ),
        (
            ["--schedule", "inverse_sqrt", "--lr-final", "0.1"],
            "--lr-final 0.1: is not supported with --schedule inverse_sqrt",
        ),
        (["--schedule", "piecewise_constant"], "needs boundaries and values"),
    ],  # fmt: skip
)
def test_bad_settings_fail_before_the_run_folder_exists(
    tmp_path, capsys, flags, fragment
):
    run_dir = tmp_path / "r"
    assert main(["train", "--out", str(run_dir), *flags]) == 2
    err = one_line_error(capsys)
    assert fragment in err
    for internal in ("__init__", "load_dataset", "split_indices", "Linear:"):
        assert internal not in err
    assert not run_dir.exists()


def test_long_and_short_schedule_names_both_train(tmp_path):
    for name in ("cosine", "cosine_decay"):
        config = TrainConfig(**{**SMALL, "epochs": 1}, schedule=name)
        assert build_schedule(config, 100).name == "cosine_decay"
    config = TrainConfig(**{**SMALL, "epochs": 1}, schedule="piecewise_constant",
                         schedule_options={"boundaries": [10],
                                           "values": [0.1, 0.01]})  # fmt: skip
    result = run_training(config, tmp_path / "r")
    assert result.trainer.optimizer.lr == 0.01


# ----------------------------------------------------------------------------
# The final table, help, Ctrl-C, the global flags, the epoch line, file modes.


def test_final_train_metrics_are_those_of_the_final_model(tmp_path, capsys):
    from steepest.train import evaluate

    run_dir = tmp_path / "r"
    argv = ["train", "--epochs", "3", "--hidden", "8", "--lr", "0.05"]
    assert main([*argv, "--out", str(run_dir), "--no-progress"]) == 0
    out = capsys.readouterr().out
    summary = json.loads((run_dir / "summary.json").read_text())
    config = TrainConfig(**{**SMALL, "hidden": [8], "epochs": 3, "seed": 0})
    experiment = build(config)
    state = load_checkpoint(run_dir)["arrays"]
    experiment.model.load_state_dict(
        {k[6:]: v for k, v in state.items() if k.startswith("model.")}
    )
    train = experiment.data.train
    final = evaluate(experiment.model, experiment.loss_fn, train.x, train.y)
    assert summary["train_loss"] == pytest.approx(final["loss"], rel=1e-6)
    assert summary["train_acc"] == pytest.approx(final["acc"], rel=1e-6)
    last = json.loads((run_dir / "metrics.jsonl").read_text().splitlines()[-1])
    assert summary["train_loss"] != last["loss"]  # not the running mean
    assert f"train  {summary['train_loss']:.4f}    {summary['train_acc']:.4f}" in out


def test_train_help_gives_default_rates_and_no_markup(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["train", "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert "``" not in out
    words = " ".join(out.split())
    assert "sgd 0.1, momentum 0.01, nesterov 0.01, adagrad 0.01" in words
    assert "rmsprop 0.001, adam 0.001, adamw 0.001" in words
    for command in ("evaluate", "schedule"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        out = capsys.readouterr().out
        assert "``" not in out and out.endswith("\n")


def test_ctrl_c_names_the_saved_epoch_and_the_resume_command(
    tmp_path, capsys, monkeypatch
):
    from steepest.cli import _output

    printed = _output.EpochPrinter.on_epoch_end

    def interrupt_after_two(self, trainer, row):
        printed(self, trainer, row)
        if row["epoch"] == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(_output.EpochPrinter, "on_epoch_end", interrupt_after_two)
    run_dir = tmp_path / "r"
    argv = ["train", "--epochs", "4", "--hidden", "8", "--no-progress"]
    assert main([*argv, "--out", str(run_dir)]) == 130
    err = one_line_error(capsys)
    assert f"epoch 2 is saved in {run_dir}" in err
    assert f"steepest train --resume {run_dir}" in err
    monkeypatch.undo()
    assert main(["train", "--resume", str(run_dir), "--no-progress"]) == 0
    assert json.loads((run_dir / "summary.json").read_text())["epochs"] == 4


def test_global_flags_work_after_the_command(tmp_path, capsys):
    argv = ["train", "--out", str(tmp_path / "r"), "--epochs", "0"]
    with pytest.raises(ValueError, match="--epochs 0"):
        main([*argv, "--debug"])
    with pytest.raises(ValueError, match="--epochs 0"):
        main(["--debug", *argv])
    assert main([*argv, "--log-level", "info"]) == 2
    with pytest.raises(SystemExit) as exit_:
        main(["train", "--log-level", "FOO"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "'FOO' is not a logging level" in err
    assert "DEBUG, INFO, WARNING, ERROR, CRITICAL" in err


def test_bare_command_prints_help_and_trains_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main([]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: steepest") and "train" in out
    assert list(tmp_path.iterdir()) == []


def test_epoch_seconds_get_two_decimals_below_ten():
    from steepest.cli._output import format_epoch

    row = {"epoch": 1, "loss": 0.5, "lr": 0.01}
    assert format_epoch({**row, "seconds": 0.0412}, 3).endswith("| 0.04 s")
    assert format_epoch({**row, "seconds": 9.994}, 3).endswith("| 9.99 s")
    assert format_epoch({**row, "seconds": 12.34}, 3).endswith("| 12.3 s")


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
def test_run_files_get_the_umask_mode(tmp_path):
    umask = os.umask(0o022)
    try:
        run_training(TrainConfig(**{**SMALL, "epochs": 1}), tmp_path / "r")
    finally:
        os.umask(umask)
    run_dir = tmp_path / "r"
    checkpoint = run_dir / "checkpoints" / "epoch-0001"
    files = ["config.toml", "metrics.csv", "summary.json", "curves.png",
             "checkpoints/latest.json", "checkpoints/epoch-0001/state.json",
             "checkpoints/epoch-0001/arrays.safetensors"]  # fmt: skip
    for path in (run_dir / name for name in files):
        assert path.stat().st_mode & 0o777 == 0o644, path
    assert checkpoint.stat().st_mode & 0o777 == 0o755


def test_float64_data_does_not_upcast_a_float32_model(tmp_path, digits):
    config = TrainConfig(**{**SMALL, "epochs": 1})
    experiment = build(config, digits)
    seen = set()
    loss_fn = experiment.loss_fn

    def recording_loss(output, target):
        seen.add(output.dtype)
        return loss_fn(output, target)

    experiment.loss_fn = recording_loss
    experiment.loader.x = experiment.loader.x.astype(np.float64)
    result = run_training(config, tmp_path / "run", experiment=experiment)
    assert seen == {np.dtype(np.float32)}
    assert math.isfinite(result.summary["test_loss"])


def test_mse_on_a_classification_set_is_refused_before_the_run_folder(tmp_path, capsys):
    status = main(["train", "--loss", "mse", "--out", str(tmp_path / "r")])
    assert status == 2
    err = capsys.readouterr().err
    assert "--loss mse needs a regression dataset" in err
    assert not (tmp_path / "r").exists()


def test_the_run_config_names_the_loss_it_used(tmp_path):
    config = TrainConfig(**{**SMALL, "epochs": 1})
    result = run_training(config, tmp_path / "run")
    assert load_config(tmp_path / "run" / "config.toml").loss == "cross_entropy"
    assert result.summary["test_loss"] > 0


def test_resume_warns_when_the_schedule_has_ended(tmp_path, caplog):
    config = TrainConfig(**{**SMALL, "epochs": 2, "schedule": "cosine"})
    run_training(config, tmp_path / "run")
    with caplog.at_level("WARNING", logger="steepest.train.run"):
        result = resume_training(tmp_path / "run", epochs=3)
    assert "schedule has ended before epoch 3" in caplog.text
    assert "lr 0" in caplog.text
    assert result.trainer.history.rows[-1]["lr"] == 0.0
