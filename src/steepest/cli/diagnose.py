"""``steepest diagnose RUN_DIR``: per-layer gradients, updates and rates.

Plots, over the steps of a run: the gradient norm of every parameter tensor,
its update-to-parameter ratio, and, for Adagrad, RMSprop and Adam, the
distribution of the effective learning rate lr / (sqrt(r) + eps) over all
coordinates (Adagrad's 1/sqrt(t) decay, Adam's bias correction).

A run trained with ``steepest train --diagnostics`` has them already. For any
other run the checkpoints hold only the weights of each epoch, not the
gradients of each step, so the run is trained again from its config.toml,
with the recorder attached, into RUN_DIR/diagnose/ (training is
deterministic: it is the same run, step for step).

Example::

    steepest train --optimizer adagrad --lr 0.05 --epochs 10 --out runs/ada
    steepest diagnose runs/ada
"""

from __future__ import annotations

import argparse
import math

import numpy as np

from steepest.cli import UsageError, run_folder
from steepest.cli._output import ProgressBar, print_table
from steepest.labs.diagnose import diagnose

__all__ = ["register", "run"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``diagnose`` sub-command."""
    p = subparsers.add_parser(
        "diagnose",
        help="per-layer gradient norms, update ratios and effective learning rates",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("run_dir", metavar="RUN_DIR", help="a folder made by train")
    p.add_argument(
        "--every",
        type=int,
        help="record every K-th step when training again (default: ~500 records)",
    )
    p.add_argument(
        "--rerun",
        action="store_true",
        help="train again even if diagnostics were recorded",
    )
    p.add_argument("--data-dir", help="folder holding the dataset files")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Record or load the diagnostics, print a summary per tensor."""
    run_dir = run_folder(args.run_dir)
    if args.every is not None and args.every < 1:
        raise UsageError(f"--every {args.every}: must be an integer >= 1")
    result = diagnose(
        run_dir,
        every=args.every,
        rerun=args.rerun,
        data_dir=args.data_dir,
        callbacks=[ProgressBar(enabled=not args.no_progress)],
    )
    data = result.data
    source = {
        "recorded": "recorded while training",
        "cached": "from an earlier rerun",
        "rerun": "trained again with the recorder attached",
    }[result.source]
    print(
        f"{data.optimizer}, {len(data.steps)} records up to step "
        f"{int(data.steps[-1]) if len(data.steps) else 0} ({source})"
    )
    if result.diverged is not None:
        print(f"note: the rerun diverged, so the records end there: {result.diverged}")
    if result.reproduced is False:
        print("note: the rerun did not end at the original run's train loss")
    rows = []
    for j, name in enumerate(data.names):
        rows.append(
            [
                name,
                "x".join(str(n) for n in data.shapes[j]),
                _g(data.grad_norm[0, j]) if len(data.steps) else "-",
                _g(data.grad_norm[-1, j]) if len(data.steps) else "-",
                _g(_median(data.update_ratio[:, j])),
            ]
        )
    print()
    print_table(
        ["tensor", "shape", "|g| first", "|g| last", "update/param (median)"], rows
    )
    if data.eff_lr is not None and len(data.steps):
        mid = len(data.quantiles) // 2
        print(
            f"\neffective lr, median over coordinates: {_g(data.eff_lr[0, mid])} at "
            f"step {data.steps[0]}, {_g(data.eff_lr[-1, mid])} at step "
            f"{data.steps[-1]}"
        )
    print(f"\n{result.out_dir}/: " + ", ".join(sorted(result.files)))
    return 0


def _median(values: np.ndarray) -> float:
    finite = values[np.isfinite(values)]
    return float(np.median(finite)) if finite.size else math.nan


def _g(value: float) -> str:
    return "-" if not math.isfinite(value) else f"{value:.3g}"
