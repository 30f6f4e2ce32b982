"""Run folders: one training run's config, metrics, checkpoints and curves.

A run folder holds

- ``config.toml``: the full resolved :class:`~steepest.train.config.TrainConfig`;
- ``metrics.csv`` and ``metrics.jsonl``: one row per epoch, rewritten whole
  (atomically) after each epoch so they always match the latest checkpoint;
- ``checkpoints/``: see :mod:`steepest.train.checkpoint`;
- ``summary.json``: final dev and test metrics, wall time, versions;
- ``curves.png``: loss and accuracy per epoch, train against dev.

:func:`run_training` is what ``steepest train`` calls.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import platform
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
    "RunResult",
    "RunWriter",
    "default_run_dir",
    "resume_training",
    "run_training",
]

logger = logging.getLogger(__name__)

COLUMNS = ("epoch", "loss", "acc", "dev_loss", "dev_acc", "lr", "seconds")


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
    from steepest import __version__

    return {
        "steepest": __version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
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
    """Evaluate on dev and test, write summary.json."""
    data, final = experiment.data, {}
    for split in ("dev", "test"):
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
        "train_loss": last.get("loss"),
        "train_acc": last.get("acc"),
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
) -> RunResult:
    """Train from ``config`` into a new run folder, then evaluate dev and test.

    Args:
        config: the run's configuration.
        run_dir: the folder to write (default :func:`default_run_dir`).
        callbacks: extra callbacks (a progress bar, say).
        experiment: prebuilt objects (default: built from ``config``).
    """
    run_dir = Path(run_dir) if run_dir is not None else default_run_dir(config)
    experiment = experiment or build(config)
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run_dir / "config.toml", to_toml(config.to_dict()))
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
    if epochs is not None and epochs != config.epochs:
        config.epochs = epochs
        config.validate()
    experiment = build(config)
    trainer = _trainer(experiment, callbacks, run_dir)
    trainer.load_state_dict(load_checkpoint(run_dir))
    atomic_write_text(config_file, to_toml(config.to_dict()))
    started = time.perf_counter()
    trainer.fit(config.epochs)
    summary = _finish(experiment, trainer, run_dir, time.perf_counter() - started)
    return RunResult(run_dir, trainer, summary)
