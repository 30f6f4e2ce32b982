"""``steepest landscape RUN_DIR``: the loss surface around a trained model.

Draws, for the model of any run folder (after Li et al., 2018): a 1-D slice
and a 2-D contour and surface of the loss along random filter-normalised
directions through the trained weights; the loss on the straight line from
the initial to the trained weights; and the training trajectory (one point
per epoch checkpoint) projected on its first two principal components. Each
figure comes with the CSV behind it, in RUN_DIR/landscape/ by default.

Example::

    steepest train --epochs 20 --out runs/digits
    steepest landscape runs/digits --grid 31 --samples 1000
"""

from __future__ import annotations

import argparse

import numpy as np

from steepest.cli import run_folder
from steepest.cli._output import print_table
from steepest.labs.landscape import landscape

__all__ = ["register", "run"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``landscape`` sub-command."""
    p = subparsers.add_parser(
        "landscape",
        help="plot the loss landscape around a trained run",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("run_dir", metavar="RUN_DIR", help="a folder made by train")
    p.add_argument(
        "--grid", type=int, default=21, help="points per axis of the 2-D grids (21)"
    )
    p.add_argument(
        "--samples",
        type=int,
        default=1000,
        help="training examples the loss is measured on (1000)",
    )
    p.add_argument(
        "--seed", type=int, default=0, help="seed of the directions and subset (0)"
    )
    p.add_argument(
        "--span", type=float, default=1.0, help="the grid covers [-span, span] (1)"
    )
    p.add_argument(
        "--biases",
        choices=("zero", "filter"),
        default="zero",
        help="direction of bias vectors: zero (default) or scaled to their norm",
    )
    p.add_argument("--no-gif", action="store_true", help="skip the trajectory GIF")
    p.add_argument("--data-dir", help="folder holding the dataset files")
    p.add_argument("--out", metavar="DIR", help="output folder (RUN_DIR/landscape)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Compute the landscape, print what it shows and where the files are."""
    run_dir = run_folder(args.run_dir)
    r = landscape(
        run_dir,
        grid=args.grid,
        samples=args.samples,
        seed=args.seed,
        span=args.span,
        biases=args.biases,
        out_dir=args.out,
        data_dir=args.data_dir,
        gif=not args.no_gif,
    )
    between = (r.interp_t >= 0) & (r.interp_t <= 1)
    path = r.interp_loss[between]
    monotone = bool(np.all(np.diff(path) <= 0))
    rows = [
        ["trained weights", f"{r.final['loss']:.4f}", _acc(r.final.get("acc"))],
        ["initial weights", f"{r.initial['loss']:.4f}", _acc(r.initial.get("acc"))],
        [
            f"2-D grid, min / max (span {args.span:g})",
            f"{np.min(r.surface_loss):.4f} / {np.max(r.surface_loss):.4f}",
            "-",
        ],
        [
            "interpolation, highest for t in [0, 1]",
            f"{path.max():.4f}",
            "monotone" if monotone else "not monotone",
        ],
    ]
    print(f"loss on {len(r.sample_indices)} training examples")
    print_table(["where", "loss", "accuracy"], rows)
    print(
        f"\ntrajectory: {len(r.epochs)} points (initial + {len(r.epochs) - 1} "
        f"checkpoints), PC1 {100 * r.explained[0]:.1f}% and PC2 "
        f"{100 * r.explained[1]:.1f}% of the variance"
    )
    print(f"{r.out_dir}/: " + ", ".join(sorted(r.files)))
    return 0


def _acc(value: float | None) -> str:
    return "-" if value is None or np.isnan(value) else f"{value:.4f}"
