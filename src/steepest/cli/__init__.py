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

__all__ = ["main", "build_parser", "UsageError"]


class UsageError(Exception):
    """A bad flag or config value: shown as one line, without a traceback."""


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser with every sub-command found in this package."""
    parser = argparse.ArgumentParser(
        prog="steepest",
        description="Train neural networks and see why training behaves as it does.",
    )
    parser.add_argument(
        "--debug", action="store_true", help="show full tracebacks on errors"
    )
    parser.add_argument(
        "--log-level", default="WARNING", help="logging level (default: WARNING)"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the process exit status."""
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv:
        argv = ["train"]
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, str(args.log_level).upper(), logging.WARNING),
        format="%(levelname)s %(name)s: %(message)s",
    )
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
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
