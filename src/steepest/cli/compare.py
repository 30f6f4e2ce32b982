"""``steepest compare``: one model, several optimizers and schedules, overlaid.

With no arguments it trains the default MLP on digits with SGD, momentum,
Nesterov, Adagrad, RMSprop and Adam, each at a sensible learning rate, over
seeds 0, 1 and 2, prints a table (mean +- std over seeds) and writes
``curves.png`` with the learning curves overlaid. Runs are specs
``NAME:KEY=VALUE,...``, for example::

    steepest compare --runs sgd:lr=0.1 adam \\
        "adam:lr=0.01,schedule=exponential,lr_final=0.001" --seeds 0,1

A key is a TrainConfig field (lr, schedule, lr_final, epochs, batch_size,
hidden, ...), schedule.KEY for a schedule option, label=NAME for the name in
the table, or an argument of the optimizer (momentum, beta2, eps, ...).
"""

from __future__ import annotations

import argparse
import math
import sys
from typing import Any

from tqdm import tqdm

from steepest.cli import UsageError
from steepest.cli._output import print_table
from steepest.cli.train import batch_size
from steepest.labs.compare import (
    DEFAULT_EPOCHS,
    DEFAULT_RUNS,
    CompareRun,
    compare,
    parse_run_specs,
)
from steepest.train import TrainConfig, load_config

__all__ = ["register", "run"]

DEFAULT_SEEDS = "0,1,2"


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``compare`` sub-command."""
    p = subparsers.add_parser(
        "compare",
        help="train one model with several optimizers and compare the curves",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--runs",
        nargs="+",
        metavar="SPEC",
        help=f"runs to compare (default: {' '.join(DEFAULT_RUNS)})",
    )
    p.add_argument(
        "--seeds",
        default=DEFAULT_SEEDS,
        help=f"comma-separated seeds of every run (default: {DEFAULT_SEEDS})",
    )
    p.add_argument(
        "--config", metavar="FILE.toml", help="base settings every run shares"
    )
    p.add_argument("--dataset", help="digits (default), mnist, moons, ...")
    p.add_argument("--data-dir", help="folder holding the dataset files")
    p.add_argument("--hidden", type=int, nargs="+", metavar="N", help="widths (128)")
    p.add_argument("--activation", help="relu (default), tanh or sigmoid")
    p.add_argument("--epochs", type=int, help=f"epochs of every run ({DEFAULT_EPOCHS})")
    p.add_argument("--batch-size", type=batch_size, help="examples per step (32)")
    p.add_argument("--out", metavar="DIR", help="output folder (runs/compare-TIME)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def _seeds(text: str) -> list[int]:
    try:
        seeds = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise UsageError(
            f"--seeds {text!r}: expected comma-separated integers, e.g. 0,1,2"
        ) from None
    if not seeds:
        raise UsageError(f"--seeds {text!r}: give at least one seed, e.g. 0")
    return seeds


def _base(args: argparse.Namespace) -> TrainConfig:
    values: dict[str, Any] = {"epochs": DEFAULT_EPOCHS}
    if args.config:
        values = load_config(args.config).to_dict()
    for name in ("dataset", "data_dir", "hidden", "activation", "epochs"):
        if getattr(args, name) is not None:
            values[name] = getattr(args, name)
    if args.batch_size is not None:
        values["batch_size"] = args.batch_size
    return TrainConfig.from_dict(values)


def _pm(mean: float, std: float, digits: int = 4) -> str:
    if math.isnan(mean):
        return "-"
    return f"{mean:.{digits}f} +- {std:.{digits}f}"


def run(args: argparse.Namespace) -> int:
    """Train every run, print the table and where the files are."""
    base = _base(args)
    seeds = _seeds(args.seeds)
    specs = parse_run_specs(args.runs or DEFAULT_RUNS)
    show = not args.no_progress and sys.stderr.isatty()
    bar = tqdm(
        total=len(specs) * len(seeds),
        desc="compare",
        unit="run",
        file=sys.stderr,
        disable=not show,
        leave=False,
    )

    def progress(result: CompareRun, done: int, total: int) -> None:
        if result.diverged:
            line = f"{result.label} (seed {result.seed}): diverged"
        else:
            s = result.summary
            acc = s.get("dev_acc")
            shown = f"dev acc {acc:.4f}" if acc is not None else ""
            if acc is None and s.get("dev_loss") is not None:
                shown = f"dev loss {s['dev_loss']:.4f}"
            line = (
                f"[{done}/{total}] {result.label} (seed {result.seed}): train loss "
                f"{s['train_loss']:.4f} | {shown} | {s['wall_seconds']:.1f} s"
            )
        bar.write(line, file=sys.stdout)
        bar.update(1)

    try:
        result = compare(
            specs, base=base, seeds=seeds, out_dir=args.out, progress=progress
        )
    finally:
        bar.close()

    classification = any(not math.isnan(r.dev_acc_mean) for r in result.table)
    dev = "dev acc" if classification else "dev loss"
    test = "test acc" if classification else "test loss"
    rows = []
    for r in result.table:
        if r.diverged == r.seeds:
            rows.append([r.label, "diverged", "-", "-", "-", "-"])
            continue
        dev_cell = (
            _pm(r.dev_acc_mean, r.dev_acc_std)
            if classification
            else _pm(r.dev_loss_mean, r.dev_loss_std)
        )
        test_cell = (
            _pm(r.test_acc_mean, r.test_acc_std)
            if classification
            else _pm(r.test_loss_mean, r.test_loss_std)
        )
        label = r.label if not r.diverged else f"{r.label} ({r.diverged} diverged)"
        rows.append(
            [
                label,
                _pm(r.train_loss_mean, r.train_loss_std),
                dev_cell,
                test_cell,
                _pm(r.best_epoch_mean, r.best_epoch_std, 1),
                _pm(r.seconds_mean, r.seconds_std, 1),
            ]
        )
    print()
    print_table(["run", "train loss", dev, test, "best epoch", "seconds"], rows)
    print(
        f"\n{len(result.specs)} runs x {len(seeds)} seed(s), mean +- std over seeds "
        f"(population std); {result.out_dir}/: " + ", ".join(sorted(result.files))
    )
    return 0
