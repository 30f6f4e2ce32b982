"""Run folders: one training run's config, metrics, checkpoints and curves.

A run folder holds

- ``config.toml``: the full resolved :class:`~steepest.train.config.TrainConfig`;
- ``metrics.csv`` and ``metrics.jsonl``: one row per epoch, rewritten whole
  (atomically) after each epoch so they always match the latest checkpoint;
- ``checkpoints/``: see :mod:`steepest.train.checkpoint`;
- ``summary.json``: the final model's train, dev and test metrics, wall
  time, versions;
- ``curves.png``: loss and accuracy per epoch, train against dev;
- ``diagnostics.*`` when diagnostics are recorded.

:func:`run_training` is what ``steepest train`` calls. It refuses a folder
that already holds files unless asked to overwrite, and even then deletes
only what a run writes (:data:`RUN_FILES`).
"""

from __future__ import annotations

import csv
import io
import json
import logging
import platform
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from steepest.train.checkpoint import (
    atomic_write_text,
    load_checkpoint,
    save_checkpoint,
)
from steepest.train.config import Experiment, TrainConfig, build, load_config, to_toml
from steepest.train.loop import Callback, EarlyStopping, Trainer, evaluate

__all__ = [
    "RUN_FILES",
    "RunResult",
    "RunWriter",
    "default_run_dir",
    "resume_training",
    "run_training",
]

logger = logging.getLogger(__name__)

COLUMNS = ("epoch", "loss", "acc", "dev_loss", "dev_acc", "lr", "seconds")

#: Everything a run (with diagnostics) writes at the top of its folder.
RUN_FILES = (
    "config.toml",
    "metrics.csv",
    "metrics.jsonl",
    "summary.json",
    "curves.png",
    "checkpoints",
    "diagnostics.csv",
    "diagnostics.npz",
    "diagnostics.png",
)


def _run_file(name: str) -> bool:
    """Whether a run writes ``name``: one of :data:`RUN_FILES`, or the
    temporary ``.NAME.xxxx`` an atomic write left behind in a crash."""
    if name in RUN_FILES:
        return True
    return name.startswith(".") and any(
        name.startswith(f".{known}.") for known in RUN_FILES
    )


def _old_run_files(run_dir: Path, overwrite: bool) -> list[Path]:
    """What ``run_dir`` holds that a new run there would replace.

    Raises FileExistsError if it holds anything and ``overwrite`` is false,
    or if it holds anything a run does not write (those are never deleted).
    """
    if not run_dir.exists():
        return []
    if not run_dir.is_dir():
        raise FileExistsError(
            f"--out {run_dir}: it is a file, not a folder; choose another --out"
        )
    entries = sorted(run_dir.iterdir())
    if not entries:
        return []
    if not overwrite:
        raise FileExistsError(
            f"--out {run_dir}: the folder is not empty (it holds "
            f"{_names(entries)}); continue that run with --resume {run_dir}, "
            "choose another --out, or pass --overwrite to replace it"
        )
    foreign = [p for p in entries if not _run_file(p.name)]
    if foreign:
        raise FileExistsError(
            f"--overwrite {run_dir}: the folder holds files a run does not write "
            f"({_names(foreign)}), which --overwrite never deletes; move them "
            "away or choose another --out"
        )
    return entries


def _names(paths: list[Path], most: int = 5) -> str:
    shown = [p.name + ("/" if p.is_dir() else "") for p in paths[:most]]
    if len(paths) > most:
        shown.append(f"and {len(paths) - most} more")
    return ", ".join(shown)


def default_run_dir(config: TrainConfig, root: str | Path = "runs") -> Path:
    """``runs/DATASET-OPTIMIZER-YYYYmmdd-HHMMSS`` (a suffix if it exists)."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = Path(root) / f"{config.dataset}-{config.optimizer}-{stamp}"
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    return path


def _versions() -> dict[str, str]:
    from steepest import __version__, kernels

    return {
        "steepest": __version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        # Which code ran the updates; both give the same results.
        "loops": "compiled" if kernels.enabled() else "numpy",
    }


class RunWriter(Callback):
    """Writes metrics and a checkpoint after every epoch, curves at the end."""

    def __init__(
        self,
        run_dir: str | Path,
        config: dict[str, Any] | None = None,
        checkpoint_every: int = 1,
    ) -> None:
        self.run_dir = Path(run_dir)
        self.config = config
        self.checkpoint_every = checkpoint_every

    def on_epoch_end(self, trainer: Trainer, row: dict[str, Any]) -> None:
        """Rewrite the metrics files and save a checkpoint of this epoch."""
        rows = trainer.history.rows
        columns = [c for c in COLUMNS if any(c in r for r in rows)]
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
        atomic_write_text(self.run_dir / "metrics.csv", text.getvalue())
        atomic_write_text(
            self.run_dir / "metrics.jsonl",
            "".join(json.dumps(r) + "\n" for r in rows),
        )
        if trainer.epoch % self.checkpoint_every == 0 or trainer.stopped_early:
            state = trainer.state_dict()
            if self.config is not None:
                # The checkpoint names its run's settings on its own.
                state["scalars"]["config"] = self.config
            save_checkpoint(self.run_dir, state)

    def on_train_end(self, trainer: Trainer) -> None:
        """Draw the learning curves."""
        if not trainer.history.rows:
            return
        from steepest import plots

        plots.plot_curves(
            trainer.history.rows,
            self.run_dir / "curves.png",
            title=f"Learning curves: {self.run_dir.name}",
            loss_label=(
                "loss (mean NLL per example, nats)"
                if trainer.classification
                else "loss (mean squared error)"
            ),
        )


@dataclass
class RunResult:
    """What a finished run reports: its folder, trainer and final metrics."""

    run_dir: Path
    trainer: Trainer
    summary: dict[str, Any]


def _trainer(
    experiment: Experiment, callbacks: Sequence[Callback], run_dir: Path
) -> Trainer:
    config = experiment.config
    stopper = None
    if config.early_stopping:
        stopper = EarlyStopping(config.early_stopping, monitor=config.monitor)
    dev = experiment.data.dev
    return Trainer(
        experiment.model,
        experiment.loss_fn,
        experiment.optimizer,
        experiment.loader,
        dev=(dev.x, dev.y) if len(dev) else None,
        classification=experiment.classification,
        l2=config.l2,
        early_stopping=stopper,
        callbacks=[RunWriter(run_dir, config.to_dict()), *callbacks],
    )


def _finish(experiment: Experiment, trainer: Trainer, run_dir: Path, wall: float):
    """Evaluate the final model on train, dev and test, write summary.json.

    The train metrics are the final model's, not the running mean over the
    last epoch's batches that the metrics rows hold (the weights move during
    an epoch, and early stopping restores an earlier epoch's weights).
    """
    data, final = experiment.data, {}
    for split in ("train", "dev", "test"):
        part = getattr(data, split)
        if len(part):
            metrics = evaluate(
                experiment.model,
                experiment.loss_fn,
                part.x,
                part.y,
                classification=experiment.classification,
            )
            final.update({f"{split}_{k}": v for k, v in metrics.items()})
    last = trainer.history.rows[-1] if trainer.history.rows else {}
    summary = {
        **final,
        "epochs": trainer.epoch,
        "steps": trainer.optimizer.step_count,
        "best_epoch": trainer.best_epoch,
        "stopped_early": trainer.stopped_early,
        "final_lr": last.get("lr"),
        "wall_seconds": wall,
        "parameters": int(sum(p.data.size for p in experiment.model.parameters())),
        "dataset": {
            "name": data.meta.name,
            "train": len(data.train),
            "dev": len(data.dev),
            "test": len(data.test),
        },
        "versions": _versions(),
    }
    atomic_write_text(run_dir / "summary.json", json.dumps(summary, indent=1) + "\n")
    return summary


def run_training(
    config: TrainConfig,
    run_dir: str | Path | None = None,
    callbacks: Sequence[Callback] = (),
    experiment: Experiment | None = None,
    *,
    overwrite: bool = False,
) -> RunResult:
    """Train from ``config`` into a new run folder, then evaluate the final
    model on train, dev and test.

    Args:
        config: the run's configuration.
        run_dir: the folder to write (default :func:`default_run_dir`); it
            must be missing or empty unless ``overwrite``.
        callbacks: extra callbacks (a progress bar, say).
        experiment: prebuilt objects (default: built from ``config``).
        overwrite: delete the files of an earlier run in ``run_dir`` first
            (default False). A folder holding files a run does not write is
            refused all the same.

    Raises:
        FileExistsError: ``run_dir`` is not empty (see ``overwrite``).
    """
    run_dir = Path(run_dir) if run_dir is not None else default_run_dir(config)
    old = _old_run_files(run_dir, overwrite)
    # Build (and so check) everything before touching the folder.
    experiment = experiment or build(config)
    for path in old:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run_dir / "config.toml", to_toml(experiment.config.to_dict()))
    trainer = _trainer(experiment, callbacks, run_dir)
    started = time.perf_counter()
    trainer.fit(config.epochs)
    summary = _finish(experiment, trainer, run_dir, time.perf_counter() - started)
    logger.info("run %s finished: %s", run_dir, summary)
    return RunResult(run_dir, trainer, summary)


def resume_training(
    run_dir: str | Path,
    callbacks: Sequence[Callback] = (),
    epochs: int | None = None,
) -> RunResult:
    """Continue the run in ``run_dir`` from its latest checkpoint.

    Args:
        run_dir: a folder written by :func:`run_training`.
        callbacks: extra callbacks.
        epochs: the new total number of epochs (default: the config's).
    """
    run_dir = Path(run_dir)
    config_file = run_dir / "config.toml"
    if not config_file.is_file():
        raise FileNotFoundError(
            f"cannot resume {run_dir}: {config_file} is missing; pass the folder "
            "of a run made by 'steepest train'"
        )
    config = load_config(config_file)
    planned = config.epochs
    if epochs is not None and epochs != config.epochs:
        config.epochs = epochs
        config.validate()
    state = load_checkpoint(run_dir)
    _check_resumable(run_dir, config, state["scalars"], epochs)
    experiment = build(config)
    _warn_if_schedule_has_ended(experiment, planned)
    trainer = _trainer(experiment, callbacks, run_dir)
    trainer.load_state_dict(state)
    atomic_write_text(config_file, to_toml(experiment.config.to_dict()))
    started = time.perf_counter()
    trainer.fit(config.epochs)
    summary = _finish(experiment, trainer, run_dir, time.perf_counter() - started)
    return RunResult(run_dir, trainer, summary)


def _warn_if_schedule_has_ended(experiment: Experiment, planned: int) -> None:
    """Warn when epochs added on resume all use the rate the schedule ended at.

    The schedule keeps the arguments the run was started with, so a decay
    sized for the planned epochs stays at its final rate (0 for cosine) for
    the added ones.
    """
    config = experiment.config
    if config.epochs <= planned or config.schedule == "constant":
        return
    steps = len(experiment.loader)
    first, last = planned * steps, config.epochs * steps - 1
    start, end = experiment.schedule(first), experiment.schedule(last)
    if start == end:
        logger.warning(
            "the %s schedule has ended before epoch %d (its arguments are the "
            "run's own): epochs %d-%d will all train at lr %g; start a new run "
            "with --epochs %d to spread the schedule over them",
            config.schedule,
            planned + 1,
            planned + 1,
            config.epochs,
            end,
            config.epochs,
        )


def _check_resumable(
    run_dir: Path, config: TrainConfig, scalars: dict[str, Any], epochs: int | None
) -> None:
    """Refuse a resume that would train nothing: an early-stopped run, or a
    total of epochs the run has already passed."""
    epoch, best = scalars.get("epoch"), scalars.get("best_epoch")
    if epochs is not None and isinstance(epoch, int) and epochs < epoch:
        raise ValueError(
            f"--epochs {epochs}: {run_dir} has already trained {epoch} epochs; "
            f"give a total above {epoch} to train more"
        )
    if not scalars.get("stopped_early"):
        return
    raise ValueError(
        f"cannot resume {run_dir}: it stopped early at epoch {epoch} "
        f"({config.monitor} had not improved on epoch {best} for "
        f"{config.early_stopping} epochs, the patience), so resuming would "
        "change nothing; start a new run with --out (e.g. with a larger "
        "--early-stopping)"
    )
