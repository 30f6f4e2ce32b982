"""``steepest evaluate RUN_DIR``: the loss and accuracy of a trained run."""

from __future__ import annotations

import argparse

from steepest.cli import run_folder
from steepest.cli._output import print_table
from steepest.train import build, evaluate, load_checkpoint, load_config

SPLITS = ("train", "dev", "test")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``evaluate`` sub-command."""
    p = subparsers.add_parser(
        "evaluate",
        help="evaluate a trained run on a split",
        description=__doc__,
    )
    p.add_argument("run_dir", metavar="RUN_DIR", help="a folder made by train")
    p.add_argument(
        "--split",
        action="append",
        choices=SPLITS,
        help="split(s) to evaluate (default: test; repeatable)",
    )
    p.add_argument("--data-dir", help="folder holding the dataset files")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Rebuild the run's model from its folder and print its metrics."""
    run_dir = run_folder(args.run_dir)
    config = load_config(run_dir / "config.toml")
    if args.data_dir:
        config.data_dir = args.data_dir
    experiment = build(config)
    state = load_checkpoint(run_dir)
    arrays = state["arrays"]
    # With early stopping the run ended on its best weights: evaluate those.
    prefix = "best." if any(k.startswith("best.") for k in arrays) else "model."
    weights = {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}
    experiment.model.load_state_dict(weights)
    rows = []
    for split in args.split or ["test"]:
        part = getattr(experiment.data, split)
        metrics = evaluate(
            experiment.model,
            experiment.loss_fn,
            part.x,
            part.y,
            classification=experiment.classification,
        )
        acc = metrics.get("acc")
        rows.append(
            [
                split,
                len(part),
                f"{metrics['loss']:.4f}",
                "-" if acc is None else f"{acc:.4f}",
            ]
        )
    print_table(["split", "examples", "loss", "accuracy"], rows)
    return 0
