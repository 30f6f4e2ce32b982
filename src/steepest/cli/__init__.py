"""The ``steepest`` command line: one sub-command per module in this package.

Each module ``steepest.cli.NAME`` (a name not starting with an underscore)
defines ``register(subparsers)``, which adds its parser and sets
``func=run`` on it. The CLI is the only part of steepest that prints.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys
from pathlib import Path

__all__ = ["main", "build_parser", "run_folder", "UsageError"]

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class UsageError(Exception):
    """A bad flag or config value: shown as one line, without a traceback."""


def run_folder(path: str) -> Path:
    """``path`` as the folder of a training run, or a UsageError saying why not."""
    run_dir = Path(path)
    if not (run_dir / "config.toml").is_file():
        raise UsageError(
            f"{run_dir} is not a run folder: config.toml is missing; pass the "
            "folder that 'steepest train' printed"
        )
    return run_dir


def _log_level(text: str) -> str:
    """``--log-level``: a level name, any case."""
    level = text.strip().upper()
    if level not in LOG_LEVELS:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a logging level; choose from {', '.join(LOG_LEVELS)}"
        )
    return level


def _add_common(parser: argparse.ArgumentParser, top: bool) -> None:
    """``--debug`` and ``--log-level``, accepted before and after the command.

    On a sub-command they default to SUPPRESS, so that a value given before
    the command is not reset by the sub-parser's default.
    """
    parser.add_argument(
        "--debug",
        action="store_true",
        default=False if top else argparse.SUPPRESS,
        help="show full tracebacks on errors",
    )
    parser.add_argument(
        "--log-level",
        type=_log_level,
        default="WARNING" if top else argparse.SUPPRESS,
        metavar="LEVEL",
        help=f"logging level: {', '.join(LOG_LEVELS)} (default: WARNING)",
    )


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser with every sub-command found in this package."""
    parser = argparse.ArgumentParser(
        prog="steepest",
        description="Train neural networks and see why training behaves as it does.",
    )
    _add_common(parser, top=True)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(subparsers)
    for sub in subparsers.choices.values():
        _add_common(sub, top=False)
        # Descriptions taken from docstrings: no reST markup in --help.
        if sub.description:
            sub.description = sub.description.replace("``", "")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the process exit status."""
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, args.log_level),
        format="%(levelname)s %(name)s: %(message)s",
    )
    if getattr(args, "func", None) is None:
        # No command: say what there is to run.
        parser.print_help()
        return 0
    try:
        result = args.func(args)
    except (UsageError, ValueError, TypeError, FileNotFoundError, OSError) as err:
        if args.debug:
            raise
        print(f"steepest {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return int(result or 0)
