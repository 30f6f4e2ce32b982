"""``steepest train``: train a network, watch it learn, keep the run folder.

With no arguments it trains an MLP on the bundled ``digits`` set in a few
seconds and prints dev and test accuracy. Values come from the defaults, then
``--config FILE.toml``, then the flags, each overriding the one before.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from typing import Any

from steepest.cli import UsageError
from steepest.cli._output import EpochPrinter, ProgressBar, print_table
from steepest.labs.diagnose import Diagnostics
from steepest.train import (
    SCHEDULE_ALIASES,
    TrainConfig,
    TrainingDiverged,
    load_config,
    resume_training,
    run_training,
)

# Flags that map one-to-one onto TrainConfig fields.
FIELDS = [f.name for f in dataclasses.fields(TrainConfig)]


def parse_assignments(items: list[str] | None, option: str) -> dict[str, Any]:
    """``["beta1=0.8", "nesterov=true"]`` -> ``{"beta1": 0.8, "nesterov": True}``."""
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise UsageError(f"{option} {item!r}: expected KEY=VALUE, e.g. beta1=0.8")
        out[key.strip().replace("-", "_")] = parse_value(text.strip())
    return out


def parse_value(text: str) -> Any:
    """A number, a bool, a comma-separated list of those, or the text itself."""
    if "," in text:
        return [parse_value(part) for part in text.split(",") if part]
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def batch_size(text: str) -> int | str:
    """``--batch-size``: a positive integer or ``full``."""
    if text == "full":
        return text
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an integer >= 1 or 'full'"
        ) from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not an integer >= 1 or 'full'")
    return value


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``train`` sub-command."""
    p = subparsers.add_parser(
        "train",
        help="train a network (default: an MLP on the bundled digits)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        argument_default=argparse.SUPPRESS,
    )
    p.add_argument("--config", metavar="FILE.toml", help="read settings from a file")
    data = p.add_argument_group("data")
    data.add_argument(
        "--dataset",
        help="digits (default), mnist, fashion-mnist, diabetes, moons, spirals, "
        "polynomial",
    )
    data.add_argument("--data-dir", help="folder holding the dataset files")
    data.add_argument("--dev-size", type=int, help="examples held out for dev")
    model = p.add_argument_group("model and loss")
    model.add_argument(
        "--hidden", type=int, nargs="+", metavar="N", help="hidden widths (128)"
    )
    model.add_argument("--activation", help="relu (default), tanh or sigmoid")
    model.add_argument("--init", help="glorot_uniform (default), he_normal, ...")
    model.add_argument("--loss", help="auto (default), cross_entropy or mse")
    model.add_argument("--l2", type=float, help="L2 penalty weight (0)")
    opt = p.add_argument_group("optimizer and schedule")
    opt.add_argument(
        "--optimizer",
        help="sgd, momentum, nesterov, adagrad, rmsprop, adam (default), adamw",
    )
    opt.add_argument("--lr", type=float, help="learning rate (optimizer's default)")
    opt.add_argument("--momentum", type=float, help="momentum coefficient")
    opt.add_argument("--weight-decay", type=float, help="weight decay")
    opt.add_argument(
        "--opt",
        action="append",
        metavar="KEY=VALUE",
        help="any other optimizer option, e.g. --opt eps=1e-7 (repeatable)",
    )
    opt.add_argument("--schedule", help=f"one of {', '.join(SCHEDULE_ALIASES)}")
    opt.add_argument(
        "--sched",
        action="append",
        metavar="KEY=VALUE",
        help="schedule option, e.g. --sched decay_rate=0.5 (repeatable)",
    )
    opt.add_argument(
        "--lr-final",
        type=float,
        help="decay so that the last update uses exactly this rate",
    )
    loop = p.add_argument_group("training")
    loop.add_argument("--epochs", type=int, help="epochs (30)")
    loop.add_argument(
        "--batch-size",
        type=batch_size,
        help="examples per step (32); 1 is online SGD, 'full' is full-batch GD",
    )
    loop.add_argument("--seed", type=int, help="seed of weights and shuffling (0)")
    loop.add_argument(
        "--early-stopping",
        type=int,
        metavar="PATIENCE",
        help="stop after this many epochs without dev improvement (0: off)",
    )
    loop.add_argument("--monitor", help="metric for early stopping (dev_loss)")
    out = p.add_argument_group("output")
    out.add_argument("--out", metavar="RUN_DIR", help="run folder (runs/NAME-TIME)")
    out.add_argument(
        "--resume", metavar="RUN_DIR", help="continue a run from its checkpoint"
    )
    out.add_argument("--no-progress", action="store_true", help="no progress bars")
    out.add_argument(
        "--diagnostics",
        action="store_true",
        help="record per-layer gradient norms, update ratios and effective "
        "learning rates into the run folder (see 'steepest diagnose')",
    )
    p.set_defaults(func=run)


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """Defaults, then the config file, then the flags."""
    values: dict[str, Any] = {}
    if getattr(args, "config", None):
        values = load_config(args.config).to_dict()
        values["lr"] = load_config(args.config).lr
    given = vars(args)
    for name in FIELDS:
        if name in given:
            values[name] = given[name]
    options = dict(values.get("optimizer_options", {}))
    for flag in ("momentum", "weight_decay"):
        if flag in given:
            options[flag] = given[flag]
    options.update(parse_assignments(given.get("opt"), "--opt"))
    values["optimizer_options"] = options
    schedule_options = dict(values.get("schedule_options", {}))
    schedule_options.update(parse_assignments(given.get("sched"), "--sched"))
    values["schedule_options"] = schedule_options
    return TrainConfig.from_dict(values)


def run(args: argparse.Namespace) -> int:
    """Train, print one line per epoch and a final table."""
    show = not getattr(args, "no_progress", False)
    callbacks = [ProgressBar(enabled=show), EpochPrinter()]
    if getattr(args, "diagnostics", False):
        callbacks.append(Diagnostics())
    try:
        if getattr(args, "resume", None):
            result = resume_training(
                args.resume, callbacks, epochs=getattr(args, "epochs", None)
            )
        else:
            config = config_from_args(args)
            result = run_training(config, getattr(args, "out", None), callbacks)
    except TrainingDiverged as err:
        print(f"steepest train: stopped: {err}", file=sys.stderr)
        return 1
    summary = result.summary
    rows = []
    for split in ("train", "dev", "test"):
        loss = summary.get(f"{split}_loss")
        if loss is None:
            continue
        rows.append([split, f"{loss:.4f}", _fmt(summary.get(f"{split}_acc"))])
    print()
    print_table(["split", "loss", "accuracy"], rows)
    print(
        f"\n{summary['epochs']} epochs, {summary['steps']} steps, "
        f"{summary['wall_seconds']:.1f} s; run folder: {result.run_dir}"
    )
    return 0


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"
