"""``steepest train``: train a network, watch it learn, keep the run folder.

With no arguments it trains an MLP on the bundled ``digits`` set in a few
seconds and prints the final model's train, dev and test loss and accuracy.
Values come from the defaults, then ``--config FILE.toml``, then the flags,
each overriding the one before. ``--resume RUN_DIR`` continues a run with its
own settings (only ``--epochs`` may grow it).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Any

from steepest.cli import UsageError
from steepest.cli._output import EpochPrinter, ProgressBar, print_table
from steepest.labs.diagnose import Diagnostics
from steepest.train import (
    DEFAULT_LR,
    SCHEDULE_ALIASES,
    ConfigError,
    TrainConfig,
    TrainingDiverged,
    load_config,
    parse_value,
    resume_training,
    run_training,
)
from steepest.train.checkpoint import latest_checkpoint
from steepest.train.run import default_run_dir

# Flags that map one-to-one onto TrainConfig fields.
FIELDS = [f.name for f in dataclasses.fields(TrainConfig)]

# Flags --resume accepts; every other one would change the run's settings.
RESUME_FLAGS = ("resume", "epochs", "no_progress", "diagnostics")
# Flags the top-level parser owns.
COMMON = ("func", "command", "debug", "log_level")


def parse_assignments(items: list[str] | None, option: str) -> dict[str, Any]:
    """``["beta1=0.8", "nesterov=true"]`` -> ``{"beta1": 0.8, "nesterov": True}``."""
    out: dict[str, Any] = {}
    for item in _flatten(items):
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise UsageError(f"{option} {item!r}: expected KEY=VALUE, e.g. beta1=0.8")
        out[key.strip().replace("-", "_")] = parse_value(text.strip())
    return out


def _flatten(items: list[Any] | None) -> list[str]:
    """``--opt a=1 b=2 --opt c=3`` gives ``[["a=1", "b=2"], ["c=3"]]``."""
    flat: list[str] = []
    for item in items or []:
        flat.extend(item if isinstance(item, list) else [item])
    return flat


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
        description=__doc__.replace("``", ""),
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
    defaults = ", ".join(f"{name} {lr:g}" for name, lr in DEFAULT_LR.items())
    opt.add_argument(
        "--optimizer",
        help="sgd, momentum, nesterov, adagrad, rmsprop, adam (default), adamw",
    )
    opt.add_argument(
        "--lr",
        type=float,
        help=f"learning rate (default: the optimizer's own: {defaults})",
    )
    opt.add_argument("--momentum", type=float, help="momentum coefficient")
    opt.add_argument("--weight-decay", type=float, help="weight decay")
    opt.add_argument(
        "--opt",
        action="append",
        nargs="+",
        metavar="KEY=VALUE",
        help="other optimizer options, e.g. --opt beta1=0.8 eps=1e-7 (repeatable)",
    )
    opt.add_argument(
        "--schedule",
        help=f"{', '.join(SCHEDULE_ALIASES)} (or the long names, e.g. "
        "cosine_decay); default constant",
    )
    opt.add_argument(
        "--sched",
        action="append",
        nargs="+",
        metavar="KEY=VALUE",
        help="schedule options, e.g. --sched decay_rate=0.5 staircase=true "
        "(repeatable; not with the constant schedule)",
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
    loop.add_argument(
        "--monitor",
        help="metric for early stopping: dev_loss (default), dev_acc, loss, acc",
    )
    out = p.add_argument_group("output")
    out.add_argument(
        "--out",
        metavar="RUN_DIR",
        help="run folder (runs/NAME-TIME); must be new or empty",
    )
    out.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the run already in --out (only files a run writes)",
    )
    out.add_argument(
        "--resume",
        metavar="RUN_DIR",
        help="continue a run from its checkpoint with its own settings; only "
        "--epochs (more), --no-progress and --diagnostics may be given with it",
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
    path = getattr(args, "config", None)
    if path:
        loaded = load_config(path)
        values = loaded.to_dict()
        values["lr"] = loaded.lr  # None: the default of the chosen optimizer
    given = vars(args)
    for name in FIELDS:
        if name in given:
            values[name] = given[name]
    options = dict(values.get("optimizer_options", {}))
    for flag in ("momentum", "weight_decay"):
        if flag in given:
            options[flag] = given[flag]
    opts = parse_assignments(given.get("opt"), "--opt")
    options.update(opts)
    values["optimizer_options"] = options
    schedule_options = dict(values.get("schedule_options", {}))
    scheds = parse_assignments(given.get("sched"), "--sched")
    schedule_options.update(scheds)
    values["schedule_options"] = schedule_options
    try:
        return TrainConfig.from_dict(values)
    except ConfigError as err:
        # Say where the value came from: a flag, or a line of the file.
        if err.key is None:
            from_flag = err.field in given
        elif err.field == "optimizer_options":
            from_flag = err.key in opts or err.key in given
        else:
            from_flag = err.key in scheds
        shortcut = err.field == "optimizer_options" and err.key in given
        if shortcut and err.key not in opts:
            # --momentum and --weight-decay are options under their own flag.
            flag = "--" + err.key.replace("_", "-")
            raise err.located(flag=flag) from None
        if path and not from_flag:
            raise err.located(source=path) from None
        raise


def _check_resume_flags(args: argparse.Namespace) -> None:
    """--resume takes the run's own settings: refuse any flag that would
    change them."""
    for name in vars(args):
        if name in RESUME_FLAGS or name in COMMON:
            continue
        flag = "--" + name.replace("_", "-")
        if name in ("out", "overwrite"):
            raise UsageError(
                f"--resume continues a run in its own folder; {flag} cannot be "
                "given with it; start a new run with --out instead"
            )
        raise UsageError(
            f"--resume continues a run with its own settings; {flag} cannot be "
            "changed; start a new run with --out instead"
        )


def _interrupted(run_dir: Path) -> str:
    """The one line shown after Ctrl-C, from what is on disk."""
    try:
        saved = latest_checkpoint(run_dir).name.removeprefix("epoch-")
    except (OSError, ValueError):
        saved = None
    if saved is not None:
        return (
            f"steepest train: interrupted; epoch {int(saved)} is saved in "
            f"{run_dir}; continue with: steepest train --resume {run_dir}"
        )
    if (run_dir / "config.toml").is_file():
        return (
            "steepest train: interrupted during the first epoch, before any "
            f"checkpoint; start again with the same flags and --out {run_dir} "
            "--overwrite"
        )
    return "steepest train: interrupted before training began; nothing was saved"


def run(args: argparse.Namespace) -> int:
    """Train, print one line per epoch and a final table."""
    show = not getattr(args, "no_progress", False)
    callbacks = [ProgressBar(enabled=show), EpochPrinter()]
    if getattr(args, "diagnostics", False):
        callbacks.append(Diagnostics())
    resume = getattr(args, "resume", None)
    if resume:
        _check_resume_flags(args)
        run_dir = Path(resume)
    else:
        config = config_from_args(args)
        out = getattr(args, "out", None)
        run_dir = Path(out) if out is not None else default_run_dir(config)
    try:
        if resume:
            result = resume_training(
                run_dir, callbacks, epochs=getattr(args, "epochs", None)
            )
        else:
            result = run_training(
                config,
                run_dir,
                callbacks,
                overwrite=getattr(args, "overwrite", False),
            )
    except TrainingDiverged as err:
        print(f"steepest train: stopped: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        if getattr(args, "debug", False):
            raise
        print(_interrupted(run_dir), file=sys.stderr)
        return 130
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
