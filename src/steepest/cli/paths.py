"""``steepest paths``: race optimizers across a two-dimensional function.

Example::

    steepest paths --function rosenbrock --optimizers sgd,momentum,adam \\
        --lr adam=0.02 --steps 3000 --out runs/paths

writes ``paths_rosenbrock.png`` (every path over the contours),
``paths_rosenbrock.gif`` (the optimizers moving together), and the CSVs
behind them, then prints where each optimizer ended.
"""

from __future__ import annotations

import argparse
from typing import Any

from steepest.cli import UsageError
from steepest.cli._output import print_table

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    """Add the ``paths`` sub-command."""
    from steepest.labs.paths import DEFAULT_OPTIMIZERS, SURFACES

    parser = subparsers.add_parser(
        "paths",
        help="optimizer trajectories on 2-D test functions (PNG and GIF)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--function",
        default="quadratic",
        choices=list(SURFACES),
        help="the test function (default: quadratic)",
    )
    parser.add_argument(
        "--optimizers",
        default=",".join(DEFAULT_OPTIMIZERS),
        metavar="A,B,...",
        help=f"optimizers to race (default: {','.join(DEFAULT_OPTIMIZERS)})",
    )
    parser.add_argument(
        "--lr",
        action="append",
        default=[],
        metavar="NAME=RATE",
        help="learning rate of one optimizer, e.g. --lr adam=0.05 (repeatable; "
        "default: a rate chosen per function)",
    )
    parser.add_argument(
        "--start",
        metavar="X,Y",
        help="start point (default: per function); write --start=-1.2,1 when "
        "x is negative",
    )
    parser.add_argument(
        "--steps", type=int, help="updates per optimizer (default: per function)"
    )
    parser.add_argument(
        "--frames", type=int, default=60, help="frames of the GIF (default: 60)"
    )
    parser.add_argument(
        "--out",
        default="runs/paths",
        metavar="DIR",
        help="folder for the images and CSVs (default: runs/paths)",
    )
    parser.set_defaults(func=run)


def parse_lrs(items: list[str]) -> dict[str, float]:
    """``["adam=0.05", "sgd=1e-3"]`` -> ``{"adam": 0.05, "sgd": 0.001}``."""
    rates: dict[str, float] = {}
    for item in items:
        name, sep, text = item.partition("=")
        name = name.strip().lower()
        try:
            rate = float(text)
        except ValueError:
            rate = None
        if not sep or not name or rate is None:
            raise UsageError(f"--lr {item!r}: expected NAME=RATE, e.g. --lr adam=0.05")
        rates[name] = rate
    return rates


def parse_start(text: str | None) -> tuple[float, float] | None:
    """``"-1.2,1"`` -> ``(-1.2, 1.0)``."""
    if text is None:
        return None
    parts = text.split(",")
    try:
        x, y = (float(p) for p in parts)
    except ValueError:
        raise UsageError(
            f"--start {text!r}: expected two numbers X,Y, e.g. --start=-1.2,1"
        ) from None
    return x, y


def run(args: argparse.Namespace) -> int:
    """Run the race, print where each optimizer ended and the files written."""
    from steepest.labs.paths import paths

    names = [n.strip() for n in args.optimizers.split(",") if n.strip()]
    result = paths(
        args.function,
        names,
        lrs=parse_lrs(args.lr),
        start=parse_start(args.start),
        steps=args.steps,
        out_dir=args.out,
        frames=args.frames,
    )
    rows = []
    points, values = result.final_points, result.final_values
    for i, name in enumerate(result.optimizers):
        x, y = points[i]
        rows.append(
            [
                name,
                f"{result.lrs[i]:g}",
                int(result.steps_run[i]),
                f"{x:.4g}",
                f"{y:.4g}",
                f"{values[i]:.4g}",
                _fate(result, i),
            ]
        )
    print(f"{result.function}: {result.formula}")
    print_table(["optimizer", "lr", "steps", "x", "y", "f(x, y)", "note"], rows)
    print("\nwrote:")
    for path in result.files:
        print(f"  {path}")
    return 0


def _fate(result: Any, i: int) -> str:
    if result.stopped[i] == "overflow":
        return f"overflowed at step {result.steps_run[i] + 1}"
    if result.stopped[i] == "ran away":
        return f"ran away, stopped at step {result.steps_run[i]}"
    if result.left_at[i] >= 0:
        return f"left the plot at step {result.left_at[i]}"
    return ""
