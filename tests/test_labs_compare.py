"""steepest compare: run specs, the table over seeds, files and the command."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest

from steepest.cli import main
from steepest.labs.compare import CompareRun, compare, parse_run_spec, parse_run_specs
from steepest.train import TrainConfig

TINY = TrainConfig(hidden=[8], epochs=2, batch_size=64)


def summary_of(run_dir: Path) -> dict:
    return json.loads((run_dir / "summary.json").read_text())


# -- specs --------------------------------------------------------------------


def test_spec_sorts_keys_into_fields_options_and_schedule():
    spec = parse_run_spec(
        "adam:lr=0.01,schedule=cosine_restarts,schedule.m_mul=0.5,"
        "beta2=0.99,hidden=16,16,batch_size=full"
    )
    assert spec.optimizer == "adam"
    assert spec.fields == {
        "lr": 0.01,
        "schedule": "cosine_restarts",
        "hidden": [16, 16],
        "batch_size": "full",
    }
    assert spec.optimizer_options == {"beta2": 0.99}
    assert spec.schedule_options == {"m_mul": 0.5}
    config = spec.config(TINY, seed=4)
    assert config.optimizer == "adam" and config.seed == 4
    assert config.optimizer_options == {"beta2": 0.99}
    assert config.hidden == [16, 16] and config.epochs == TINY.epochs


def test_spec_labels_defaults_and_duplicates():
    assert parse_run_spec("sgd").label == "sgd"
    assert parse_run_spec("SGD:lr=1,label=plain").label == "plain"
    assert parse_run_spec("sgd:lr=1").fields == {"lr": 1.0}  # a float field
    specs = parse_run_specs(["adam", "adam; sgd:lr=0.1"])
    assert [s.label for s in specs] == ["adam", "adam #2", "sgd lr=0.1"]


def test_spec_keeps_base_schedule_unless_it_sets_one():
    base = TrainConfig(epochs=2, schedule="exponential", lr_final=0.001)
    assert parse_run_spec("sgd").config(base, 0).schedule == "exponential"
    assert parse_run_spec("sgd").config(base, 0).lr_final == 0.001
    own = parse_run_spec("sgd:schedule=constant").config(base, 0)
    assert own.schedule == "constant" and own.lr_final is None


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("lion:lr=0.1", "unknown optimizer 'lion'"),
        ("adam:lr", "expected KEY=VALUE"),
        ("adam:beta=0.9", "unknown key 'beta'"),
        ("adam:seed=3", "'seed' cannot be set"),
        ("sgd:nesterov=true,lr=-1", "--lr -1.0"),
    ],
)
def test_bad_specs_say_what_and_how(text, fragment):
    with pytest.raises(ValueError, match="run") as info:
        parse_run_spec(text).config(TINY, 0)
    assert fragment in str(info.value)


# -- the comparison -----------------------------------------------------------


def test_one_seed_table_matches_each_run_with_zero_std(tmp_path):
    result = compare(
        ["sgd:lr=0.1", "adam:lr=0.01"], base=TINY, seeds=[0], out_dir=tmp_path
    )
    assert [r.label for r in result.table] == ["sgd lr=0.1", "adam lr=0.01"]
    for row, run in zip(result.table, result.runs, strict=True):
        assert run.run_dir == tmp_path / "runs" / f"{row.label.replace(' ', '-')}-seed0"
        summary = summary_of(run.run_dir)
        assert row.seeds == 1 and row.diverged == 0
        assert row.train_loss_mean == summary["train_loss"]
        assert row.dev_acc_mean == summary["dev_acc"]
        assert row.test_acc_mean == summary["test_acc"]
        assert row.seconds_mean == summary["wall_seconds"]
        for name in ("train_loss", "dev_acc", "test_acc", "best_epoch", "seconds"):
            assert getattr(row, f"{name}_std") == 0.0
        assert 1 <= row.best_epoch_mean <= TINY.epochs
    # The file behind every plot, and the plot.
    for name in ("compare.csv", "runs.csv", "curves.csv", "curves.png"):
        assert (tmp_path / name).is_file(), name
    with (tmp_path / "curves.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 2 * TINY.epochs
    with (tmp_path / "compare.csv").open() as handle:
        table = list(csv.DictReader(handle))
    assert float(table[0]["dev_acc_mean"]) == pytest.approx(
        result.table[0].dev_acc_mean
    )


def test_mean_over_seeds_is_the_mean_of_the_runs(tmp_path):
    result = compare(
        ["momentum:lr=0.05"], base=TINY, seeds=[0, 1, 2], out_dir=tmp_path, plot=False
    )
    (row,) = result.table
    assert row.seeds == 3
    for key in ("train_loss", "dev_acc", "test_acc", "dev_loss"):
        values = [summary_of(r.run_dir)[key] for r in result.runs]
        assert getattr(row, f"{key}_mean") == pytest.approx(np.mean(values), rel=1e-12)
        # Population standard deviation (ddof=0).
        assert getattr(row, f"{key}_std") == pytest.approx(np.std(values), rel=1e-12)
    best = [r.best_epoch for r in result.runs]
    assert row.best_epoch_mean == pytest.approx(np.mean(best))
    # The same seed gives the same split and weights: one seed reruns exactly.
    again = compare(
        ["momentum:lr=0.05"],
        base=TINY,
        seeds=[1],
        out_dir=tmp_path / "again",
        plot=False,
    )
    assert again.runs[0].summary["dev_loss"] == result.runs[1].summary["dev_loss"]


def test_a_diverged_run_is_kept_out_of_the_means(tmp_path):
    result = compare(
        ["sgd:lr=1e6", "sgd:lr=1e-4"],
        base=TrainConfig(hidden=[8], epochs=1, batch_size=64, dataset="diabetes"),
        seeds=[0],
        out_dir=tmp_path,
    )
    bad, good = result.table
    assert bad.diverged == 1 and math.isnan(bad.train_loss_mean)
    assert result.runs[0].diverged and "learning rate" in result.runs[0].diverged
    assert good.diverged == 0 and math.isfinite(good.dev_loss_mean)
    assert math.isnan(good.dev_acc_mean)  # regression: no accuracy
    assert (tmp_path / "curves.png").is_file()


def test_best_epoch_is_the_highest_dev_accuracy():
    rows = [
        {"epoch": e, "dev_acc": a, "dev_loss": 1.0}
        for e, a in ((1, 0.5), (2, 0.9), (3, 0.9), (4, 0.7))
    ]
    assert CompareRun("x", 0, Path("."), rows, {}).best_epoch == 2
    rows = [{"epoch": e, "dev_loss": v} for e, v in ((1, 2.0), (2, 0.5), (3, 1.0))]
    assert CompareRun("x", 0, Path("."), rows, {}).best_epoch == 2
    assert CompareRun("x", 0, Path("."), [{"epoch": 1}], {}).best_epoch is None


def test_bad_seeds_are_refused(tmp_path):
    with pytest.raises(ValueError, match="seeds must be distinct"):
        compare(["sgd"], base=TINY, seeds=[0, 0], out_dir=tmp_path)


# -- the command --------------------------------------------------------------


def test_command_prints_the_table(tmp_path, capsys):
    out = tmp_path / "cmp"
    status = main(
        [
            "compare",
            "--runs",
            "sgd:lr=0.1",
            "adam",
            "--epochs",
            "1",
            "--hidden",
            "8",
            "--batch-size",
            "64",
            "--seeds",
            "0,1",
            "--out",
            str(out),
            "--no-progress",
        ]
    )
    assert status == 0
    text = capsys.readouterr().out
    assert "train loss" in text and "dev acc" in text and "+-" in text
    assert "sgd lr=0.1" in text and "adam" in text
    assert (out / "runs" / "adam-seed1" / "summary.json").is_file()
    assert (out / "curves.png").is_file()


def test_command_reports_a_bad_spec_in_one_line(tmp_path, capsys):
    status = main(["compare", "--runs", "adam:warp=9", "--out", str(tmp_path)])
    assert status == 2
    err = capsys.readouterr().err
    assert "unknown key 'warp'" in err and len(err.strip().splitlines()) == 1
