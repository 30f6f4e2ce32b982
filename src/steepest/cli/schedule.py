"""``steepest schedule``: plot a learning-rate schedule and write its values.

Example::

    steepest schedule cosine --steps 1000 --param initial=0.1 alpha=0.01 \\
        --warmup 100 --out lr.png

writes ``lr.png`` and ``lr.csv`` (columns ``step,lr``) and prints the first and
last rates. A schedule is named as ``steepest train --schedule`` names it
(``cosine``) or by its full name (``cosine_decay``); ``decay_steps`` and
``first_decay_steps`` default to ``--steps``.
"""

from __future__ import annotations

import argparse
import csv
import inspect
import textwrap
from pathlib import Path
from typing import Any

from steepest.cli import UsageError
from steepest.train import parse_value

__all__ = ["register", "run"]

# Schedules whose arguments are all numbers, flags or lists of numbers;
# linear_warmup is available through --warmup.
_NESTED = ("linear_warmup", "join")
# Step counts that default to the length of the plot.
_LENGTHS = ("decay_steps", "first_decay_steps")


def _names() -> list[str]:
    from steepest.schedules import SCHEDULES

    return [name for name in SCHEDULES if name not in _NESTED]


def _aliases() -> dict[str, str]:
    """The short names of ``steepest train --schedule``, to full names."""
    from steepest.train import SCHEDULE_ALIASES

    return {k: v for k, v in SCHEDULE_ALIASES.items() if k != v}


def register(subparsers: Any) -> None:
    """Add the ``schedule`` sub-command."""
    short = ", ".join(f"{k} ({v})" for k, v in _aliases().items())
    parser = subparsers.add_parser(
        "schedule",
        help="plot a learning-rate schedule",
        description=(
            "Plot a learning-rate schedule over the steps 0..N-1 of an N-step run, "
            "write the values as CSV beside the image, and print the first and "
            "last rates."
        ),
        epilog=(
            "schedules:\n"
            + textwrap.fill(
                ", ".join(_names()), 76, initial_indent="  ", subsequent_indent="  "
            )
            + "\n  or the short names of 'steepest train --schedule':\n"
            + textwrap.fill(short, 76, initial_indent="  ", subsequent_indent="  ")
            + "\n\nParameters are the schedule's arguments as key=value, several "
            "after one --param\nor one per --param: numbers, true/false, or "
            "comma-separated lists\n(boundaries=100,200). decay_steps and "
            "first_decay_steps default to --steps.\n\n"
            "example:\n"
            "  steepest schedule exponential --steps 100 \\\n"
            "      --param initial=0.1 decay_steps=10 decay_rate=0.5\n"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "name", metavar="NAME", help="the schedule, e.g. cosine or cosine_decay"
    )
    parser.add_argument(
        "--steps", type=int, default=1000, help="run length N (default: 1000)"
    )
    parser.add_argument(
        "--param",
        action="append",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="schedule arguments, e.g. --param initial=0.1 alpha=0.01 (repeatable)",
    )
    parser.add_argument(
        "--warmup",
        type=int,
        default=0,
        metavar="W",
        help="prepend a linear warmup from 0 over W steps (default: 0)",
    )
    parser.add_argument(
        "--out",
        default="schedule.png",
        help="image to write; the CSV goes beside it (default: schedule.png)",
    )
    parser.set_defaults(func=run)


def _parse_value(text: str) -> Any:
    """A number, a flag, or a comma-separated list of numbers."""
    value = parse_value(text)
    if isinstance(value, str) or (
        isinstance(value, list) and any(isinstance(v, str) for v in value)
    ):
        raise ValueError(f"not a number, flag or list: {text!r}")
    return value


def _parse_params(name: str, cls: type, pairs: list[str], steps: int) -> dict[str, Any]:
    signature = inspect.signature(cls)
    valid = list(signature.parameters)
    # The syntax the parser accepts: several KEY=VALUE after one --param.
    usage = f"{name} takes --param " + " ".join(f"{p}=..." for p in valid)
    kwargs: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        key = key.strip()
        if not sep or key not in valid:
            raise UsageError(f"bad --param {pair!r}: {usage}")
        try:
            kwargs[key] = _parse_value(text.strip())
        except ValueError as err:
            raise UsageError(f"bad --param {pair!r} ({err}): {usage}") from None
    for length in _LENGTHS:
        if length in valid:
            kwargs.setdefault(length, steps)
    missing = [
        p.name
        for p in signature.parameters.values()
        if p.default is inspect.Parameter.empty and p.name not in kwargs
    ]
    if missing:
        raise UsageError(f"missing {', '.join(missing)}: {usage}")
    return kwargs


def run(args: argparse.Namespace) -> int:
    """Build the schedule, plot it, write the CSV and print the end values."""
    from steepest.plots import plot_schedule
    from steepest.schedules import SCHEDULES, linear_warmup

    names, aliases = _names(), _aliases()
    name = aliases.get(args.name, args.name)
    if name not in names:
        raise UsageError(
            f"unknown schedule {args.name!r}; choose one of {', '.join(names)}, "
            f"or a short name: {', '.join(aliases)}"
        )
    if args.steps < 1:
        raise UsageError(f"--steps must be >= 1, got --steps {args.steps}")
    if args.warmup < 0:
        raise UsageError(f"--warmup must be >= 0, got --warmup {args.warmup}")

    # Build the schedule; its own checks name any bad value.
    cls = SCHEDULES[name]
    pairs = [pair for group in args.param for pair in group]
    kwargs = _parse_params(name, cls, pairs, args.steps)
    schedule = cls(**kwargs)
    if args.warmup:
        schedule = linear_warmup(schedule, args.warmup)

    # Evaluate, write the image and the CSV.
    steps = list(range(args.steps))
    values = [schedule(t) for t in steps]
    out = Path(args.out)
    if out.suffix == "":
        out = out.with_suffix(".png")
    if out.suffix.lower() == ".csv":
        raise UsageError(f"--out names the image (e.g. lr.png), got --out {out}")
    out.parent.mkdir(parents=True, exist_ok=True)
    title = name + "(" + ", ".join(f"{k}={v}" for k, v in kwargs.items()) + ")"
    if args.warmup:
        title += f" after {args.warmup} warmup steps"
    plot_schedule(steps, values, title, out)
    table = out.with_suffix(".csv")
    with table.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["step", "lr"])
        writer.writerows((t, repr(v)) for t, v in zip(steps, values, strict=True))

    last = steps[-1]
    print(f"{name}: lr(0) = {values[0]:.6g}, lr({last}) = {values[-1]:.6g}")
    print(f"wrote {out} and {table}")
    return 0
