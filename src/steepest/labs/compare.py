"""Compare optimizers and schedules: one model, one data set, several runs.

Every run trains the same network on the same split from the same seed; only
the optimizer, its learning rate, its options and the schedule change. Each
(run, seed) pair is an ordinary run folder, ``OUT/runs/LABEL-seedS/``, written
by :func:`steepest.train.run_training`, so any of them can be evaluated,
resumed or fed to ``steepest landscape`` afterwards.

A run is written as a *spec*, ``NAME:KEY=VALUE,KEY=VALUE``::

    adam
    sgd:lr=0.1
    adam:lr=0.01,schedule=exponential,lr_final=0.001
    momentum:lr=0.05,momentum=0.8,hidden=64,64,label=heavy-ball

``NAME`` is an optimizer (``sgd``, ``momentum``, ``nesterov``, ``adagrad``,
``rmsprop``, ``adam``, ``adamw``); a key is a
:class:`~steepest.train.TrainConfig` field (``lr``, ``schedule``,
``lr_final``, ``epochs``, ``batch_size``, ``hidden``, ...), ``schedule.KEY``
for a schedule option, ``label`` for the name shown in tables and legends, or
any argument of that optimizer (``momentum``, ``beta2``, ``eps``, ...). A
comma followed by text without ``=`` continues the previous value as a list
(``hidden=64,64``).

Summaries over seeds are the mean and the population standard deviation
(``ddof=0``), so one seed reports a standard deviation of exactly 0.
"""

from __future__ import annotations

import csv
import dataclasses
import inspect
import json
import logging
import math
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from steepest.data import DataSplits, load_dataset
from steepest.optim import OPTIMIZERS
from steepest.train import (
    Callback,
    TrainConfig,
    TrainingDiverged,
    build,
    parse_value,
    run_training,
)

__all__ = [
    "DEFAULT_RUNS",
    "CompareResult",
    "CompareRun",
    "CompareSummary",
    "RunSpec",
    "compare",
    "parse_run_spec",
    "parse_run_specs",
]

logger = logging.getLogger(__name__)

#: The runs compared by default: each optimizer at a learning rate that trains
#: the default MLP on digits well in a few epochs.
DEFAULT_RUNS: tuple[str, ...] = (
    "sgd:lr=0.1",
    "momentum:lr=0.01",
    "nesterov:lr=0.01",
    "adagrad:lr=0.05",
    "rmsprop:lr=0.001",
    "adam:lr=0.001",
)

#: The number of epochs of each run unless the base config or a spec says.
DEFAULT_EPOCHS = 20

# Fields a spec may not set: the optimizer is the spec's NAME, the seed comes
# from the list of seeds, and the option tables have their own syntax.
_RESERVED = ("optimizer", "seed", "optimizer_options", "schedule_options")
_FIELDS = {f.name: f for f in dataclasses.fields(TrainConfig)}
_FLOAT_FIELDS = ("lr", "lr_final", "l2")


@dataclass(frozen=True)
class RunSpec:
    """One run of a comparison: an optimizer and what differs from the base.

    Args:
        label: the name in tables, legends and run folders.
        optimizer: a key of :data:`steepest.optim.OPTIMIZERS`.
        fields: :class:`~steepest.train.TrainConfig` fields to set (default
            none).
        optimizer_options: keyword arguments of the optimizer (default none).
        schedule_options: options of the schedule (default none).
    """

    label: str
    optimizer: str
    fields: dict[str, Any] = field(default_factory=dict)
    optimizer_options: dict[str, Any] = field(default_factory=dict)
    schedule_options: dict[str, Any] = field(default_factory=dict)

    def config(self, base: TrainConfig, seed: int) -> TrainConfig:
        """The base config with this spec applied, for one seed.

        The base's optimizer, learning rate and optimizer options are
        replaced by the spec's (a rate tuned for one optimizer means little
        to another); a spec that sets ``schedule`` also replaces the base's
        schedule options and final rate.
        """
        values: dict[str, Any] = {
            "optimizer": self.optimizer,
            "lr": None,
            "optimizer_options": dict(self.optimizer_options),
            "seed": seed,
        }
        if "schedule" in self.fields:
            values["schedule_options"] = dict(self.schedule_options)
            values["lr_final"] = None
        else:
            values["schedule_options"] = {
                **base.schedule_options,
                **self.schedule_options,
            }
        values.update(self.fields)
        try:
            return dataclasses.replace(base, **values)
        except ValueError as err:
            raise ValueError(f"run {self.label!r}: {err}") from None


def _optimizer_arguments(name: str) -> list[str]:
    """The keyword arguments the optimizer called ``name`` accepts."""
    signature = inspect.signature(OPTIMIZERS[name])
    return [p for p in signature.parameters if p not in ("params", "lr")]


def parse_run_spec(text: str) -> RunSpec:
    """Parse ``NAME:KEY=VALUE,...`` (see the module docstring) into a spec.

    Args:
        text: the spec, e.g. ``"adam:lr=0.01,schedule=exponential"``.

    Returns:
        The :class:`RunSpec`; its label is ``label=`` if given, else the
        optimizer followed by the settings, e.g. ``"adam lr=0.01"``.

    Raises:
        ValueError: an unknown optimizer or key, a malformed pair, or a key
            that the spec may not set (``seed``: use the list of seeds).

    Example:
        >>> spec = parse_run_spec("adam:lr=0.01,beta2=0.99,hidden=32,32")
        >>> spec.fields, spec.optimizer_options
        ({'lr': 0.01, 'hidden': [32, 32]}, {'beta2': 0.99})
    """
    head, _, rest = text.strip().partition(":")
    name = head.strip().lower()
    if name not in OPTIMIZERS:
        raise ValueError(
            f"run spec {text!r}: unknown optimizer {head.strip()!r}; start the "
            f"spec with one of {', '.join(OPTIMIZERS)}, e.g. 'adam:lr=0.01'"
        )

    # Pairs; a piece without '=' continues the previous value as a list.
    pairs: list[tuple[str, list[Any]]] = []
    for piece in (p.strip() for p in rest.split(",")):
        if not piece:
            continue
        key, sep, value = piece.partition("=")
        if sep:
            if not key.strip():
                raise ValueError(f"run spec {text!r}: {piece!r} has no key")
            pairs.append(
                (key.strip().replace("-", "_"), [parse_value(value, lists=False)])
            )
        elif pairs:
            pairs[-1][1].append(parse_value(piece, lists=False))
        else:
            raise ValueError(
                f"run spec {text!r}: expected KEY=VALUE after ':', got {piece!r}; "
                "e.g. 'adam:lr=0.01,beta2=0.99'"
            )

    allowed = _optimizer_arguments(name)
    label, fields, options, sched = None, {}, {}, {}
    for key, values in pairs:
        value: Any = values if len(values) > 1 else values[0]
        if key == "label":
            label = str(value)
        elif key.startswith("schedule."):
            sched[key.partition(".")[2]] = value
        elif key in _RESERVED:
            hint = "pass seeds to compare()" if key == "seed" else "not in a spec"
            raise ValueError(f"run spec {text!r}: {key!r} cannot be set here; {hint}")
        elif key in _FIELDS:
            fields[key] = _field_value(key, value)
        elif key in allowed:
            options[key] = value
        else:
            raise ValueError(
                f"run spec {text!r}: unknown key {key!r}; use a TrainConfig field "
                f"({', '.join(k for k in _FIELDS if k not in _RESERVED)}), "
                f"schedule.KEY, label, or an argument of {name} "
                f"({', '.join(allowed)})"
            )
    if label is None:
        shown = [f"{k}={','.join(str(v) for v in vs)}" for k, vs in pairs]
        label = " ".join([name, *shown]) if shown else name
    return RunSpec(label, name, fields, options, sched)


def _field_value(key: str, value: Any) -> Any:
    """Coerce a parsed value to the type of a TrainConfig field."""
    if key == "hidden":
        return [value] if isinstance(value, int) else list(value)
    if key in _FLOAT_FIELDS and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def parse_run_specs(texts: Iterable[str | RunSpec]) -> list[RunSpec]:
    """Parse several specs; a string may hold several separated by ``;``.

    Repeated labels get a suffix (``adam``, ``adam #2``) so that every run
    has its own folder and legend entry.
    """
    specs: list[RunSpec] = []
    for item in texts:
        if isinstance(item, RunSpec):
            specs.append(item)
            continue
        specs.extend(parse_run_spec(part) for part in item.split(";") if part.strip())
    if not specs:
        raise ValueError("compare: no runs given; e.g. runs=['sgd:lr=0.1', 'adam']")
    seen: dict[str, int] = {}
    unique = []
    for spec in specs:
        count = seen.get(spec.label, 0) + 1
        seen[spec.label] = count
        if count > 1:
            spec = dataclasses.replace(spec, label=f"{spec.label} #{count}")
        unique.append(spec)
    return unique


def _slug(label: str) -> str:
    """A folder name from a label: ``adam lr=0.01`` -> ``adam-lr=0.01``."""
    return re.sub(r"[^A-Za-z0-9._=+-]+", "-", label).strip("-") or "run"


@dataclass
class CompareRun:
    """One training run of a comparison: a spec at one seed.

    Attributes:
        label: the spec's label.
        seed: the seed of weights, split and shuffling.
        run_dir: its run folder.
        rows: the metrics row of every finished epoch.
        summary: the run's ``summary.json`` (empty if it diverged).
        diverged: the divergence message, or None.
    """

    label: str
    seed: int
    run_dir: Path
    rows: list[dict[str, Any]]
    summary: dict[str, Any]
    diverged: str | None = None

    @property
    def best_epoch(self) -> int | None:
        """The epoch (1-based) of the highest dev accuracy, or of the lowest
        dev loss when there is no accuracy; None without a dev set."""
        for key, sign in (("dev_acc", 1.0), ("dev_loss", -1.0)):
            values = [r.get(key) for r in self.rows]
            if values and all(v is not None and math.isfinite(v) for v in values):
                return int(np.argmax(sign * np.asarray(values))) + 1
        return None


@dataclass
class CompareSummary:
    """One line of the comparison table: a spec over its seeds.

    Every ``*_mean`` / ``*_std`` pair is over the seeds that did not diverge
    (NaN when none did, or when the metric does not exist); the standard
    deviation is the population one (``ddof=0``). ``train_loss`` is the last
    epoch's mean minibatch loss, ``dev_*`` and ``test_*`` the final model's,
    ``best_epoch`` as :attr:`CompareRun.best_epoch`, ``seconds`` the wall
    time of a run.
    """

    label: str
    optimizer: str
    seeds: int
    diverged: int
    train_loss_mean: float
    train_loss_std: float
    dev_loss_mean: float
    dev_loss_std: float
    dev_acc_mean: float
    dev_acc_std: float
    test_loss_mean: float
    test_loss_std: float
    test_acc_mean: float
    test_acc_std: float
    best_epoch_mean: float
    best_epoch_std: float
    seconds_mean: float
    seconds_std: float

    def as_dict(self) -> dict[str, Any]:
        """The fields as a plain dict, in order."""
        return dataclasses.asdict(self)


@dataclass
class CompareResult:
    """What :func:`compare` returns.

    Attributes:
        out_dir: the folder holding everything.
        specs: the runs compared.
        seeds: the seeds each spec ran with.
        runs: every (spec, seed) run, specs in order, seeds within.
        table: one :class:`CompareSummary` per spec.
        files: the CSV and image files written, by name.
    """

    out_dir: Path
    specs: list[RunSpec]
    seeds: list[int]
    runs: list[CompareRun]
    table: list[CompareSummary]
    files: dict[str, Path]


def _mean_std(values: Sequence[float | None]) -> tuple[float, float]:
    finite = [float(v) for v in values if v is not None and math.isfinite(v)]
    if not finite:
        return math.nan, math.nan
    a = np.asarray(finite)
    return float(a.mean()), float(a.std())


def _summarise(spec: RunSpec, runs: Sequence[CompareRun]) -> CompareSummary:
    ok = [r for r in runs if r.diverged is None]
    values: dict[str, float] = {}
    for key in ("train_loss", "dev_loss", "dev_acc", "test_loss", "test_acc"):
        mean, std = _mean_std([r.summary.get(key) for r in ok])
        values[f"{key}_mean"], values[f"{key}_std"] = mean, std
    mean, std = _mean_std([r.best_epoch for r in ok])
    values["best_epoch_mean"], values["best_epoch_std"] = mean, std
    mean, std = _mean_std([r.summary.get("wall_seconds") for r in ok])
    values["seconds_mean"], values["seconds_std"] = mean, std
    return CompareSummary(
        label=spec.label,
        optimizer=spec.optimizer,
        seeds=len(runs),
        diverged=len(runs) - len(ok),
        **values,
    )


def _read_rows(run_dir: Path) -> list[dict[str, Any]]:
    """The metrics rows a (diverged) run wrote before it stopped."""
    path = run_dir / "metrics.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line]


def _write_csv(
    path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]]
) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _default_out_dir(root: str | Path = "runs") -> Path:
    base = Path(root) / f"compare-{time.strftime('%Y%m%d-%H%M%S')}"
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    return path


def compare(
    runs: Sequence[str | RunSpec] | None = None,
    *,
    base: TrainConfig | None = None,
    seeds: Sequence[int] = (0,),
    out_dir: str | Path | None = None,
    callbacks: Callable[[RunSpec, int], Sequence[Callback]] | None = None,
    progress: Callable[[CompareRun, int, int], None] | None = None,
    plot: bool = True,
) -> CompareResult:
    """Train one model with several optimizers and schedules and compare them.

    For every spec and every seed, the base config with the spec applied
    (:meth:`RunSpec.config`) is trained into ``out_dir/runs/LABEL-seedS/``.
    A run whose loss becomes non-finite is kept as diverged and left out of
    the means. Then the table (one :class:`CompareSummary` per spec) is
    written to ``compare.csv``, every run's summary to ``runs.csv``, every
    epoch of every run to ``curves.csv``, and ``curves.png`` overlays the
    learning curves (train loss on a log scale; dev accuracy, or dev loss
    for regression), the mean over seeds with the range of seeds shaded.

    Args:
        runs: specs (strings as in :func:`parse_run_spec`, or
            :class:`RunSpec`); default :data:`DEFAULT_RUNS`.
        base: what every run shares (default ``TrainConfig(epochs=20)``:
            digits, one hidden layer of 128 ReLU, batch 32).
        seeds: the seeds to repeat every spec with (default ``(0,)``).
        out_dir: the output folder (default ``runs/compare-YYYYmmdd-HHMMSS``).
        callbacks: ``callbacks(spec, seed)`` gives extra training callbacks
            for one run, e.g. a progress bar (default none).
        progress: called as ``progress(run, done, total)`` after each run.
        plot: whether to draw ``curves.png`` (default True).

    Returns:
        A :class:`CompareResult`.

    Example:
        >>> result = compare(["sgd:lr=0.1", "adam"], seeds=[0, 1],
        ...                  base=TrainConfig(hidden=[16], epochs=3),
        ...                  out_dir="cmp")  # doctest: +SKIP
        >>> [row.dev_acc_mean for row in result.table]  # doctest: +SKIP
    """
    specs = parse_run_specs(runs if runs is not None else DEFAULT_RUNS)
    base = base if base is not None else TrainConfig(epochs=DEFAULT_EPOCHS)
    seeds = [int(s) for s in seeds]
    if not seeds or any(s < 0 for s in seeds) or len(set(seeds)) != len(seeds):
        raise ValueError(
            f"compare: seeds must be distinct integers >= 0, got {seeds}; "
            "e.g. seeds=[0, 1, 2]"
        )
    out = Path(out_dir) if out_dir is not None else _default_out_dir()
    (out / "runs").mkdir(parents=True, exist_ok=True)
    # Check every spec against the base before training anything.
    configs = {(s.label, seed): s.config(base, seed) for s in specs for seed in seeds}

    datasets: dict[tuple[Any, ...], DataSplits] = {}
    done: list[CompareRun] = []
    total = len(specs) * len(seeds)
    for spec in specs:
        for seed in seeds:
            config = configs[spec.label, seed]
            # The split depends on the seed; load each split once.
            key = (config.dataset, config.data_dir, config.dev_size, seed)
            if key not in datasets:
                datasets[key] = load_dataset(
                    config.dataset,
                    data_dir=config.data_dir,
                    dev_size=config.dev_size,
                    seed=seed,
                )
            run_dir = out / "runs" / f"{_slug(spec.label)}-seed{seed}"
            extra = list(callbacks(spec, seed)) if callbacks else []
            experiment = build(config, datasets[key])
            try:
                result = run_training(config, run_dir, extra, experiment)
            except TrainingDiverged as err:
                logger.warning("run %s seed %d diverged: %s", spec.label, seed, err)
                run = CompareRun(
                    spec.label, seed, run_dir, _read_rows(run_dir), {}, str(err)
                )
            else:
                run = CompareRun(
                    spec.label,
                    seed,
                    run_dir,
                    list(result.trainer.history.rows),
                    result.summary,
                )
            done.append(run)
            if progress is not None:
                progress(run, len(done), total)

    table = [_summarise(s, [r for r in done if r.label == s.label]) for s in specs]
    files = _write_outputs(out, specs, done, table, base, plot)
    return CompareResult(out, specs, seeds, done, table, files)


def _write_outputs(
    out: Path,
    specs: Sequence[RunSpec],
    runs: Sequence[CompareRun],
    table: Sequence[CompareSummary],
    base: TrainConfig,
    plot: bool,
) -> dict[str, Path]:
    files: dict[str, Path] = {}
    names = [f.name for f in dataclasses.fields(CompareSummary)]
    files["compare.csv"] = _write_csv(
        out / "compare.csv", names, ([getattr(r, n) for n in names] for r in table)
    )
    keys = ("train_loss", "dev_loss", "dev_acc", "test_loss", "test_acc")
    files["runs.csv"] = _write_csv(
        out / "runs.csv",
        ["label", "seed", "run_dir", *keys, "best_epoch", "seconds", "diverged"],
        (
            [
                r.label,
                r.seed,
                r.run_dir.relative_to(out).as_posix(),
                *(r.summary.get(k) for k in keys),
                r.best_epoch,
                r.summary.get("wall_seconds"),
                r.diverged or "",
            ]
            for r in runs
        ),
    )
    columns = ("loss", "acc", "dev_loss", "dev_acc", "lr")
    files["curves.csv"] = _write_csv(
        out / "curves.csv",
        ["label", "seed", "epoch", *columns],
        (
            [r.label, r.seed, row["epoch"], *(row.get(c) for c in columns)]
            for r in runs
            for row in r.rows
        ),
    )
    if plot:
        from steepest.plots.compare import plot_compare_curves

        classification = any(
            row.get("dev_acc") is not None for r in runs for row in r.rows
        )
        dev_key = "dev_acc" if classification else "dev_loss"
        labels, train, dev = [], [], []
        for spec in specs:
            mine = [r for r in runs if r.label == spec.label]
            epochs = max((len(r.rows) for r in mine), default=0)
            # (seeds, epochs), NaN after a run stopped (diverged).
            a = np.full((len(mine), epochs), np.nan)
            b = np.full((len(mine), epochs), np.nan)
            for i, r in enumerate(mine):
                for j, row in enumerate(r.rows):
                    a[i, j] = _number(row.get("loss"))
                    b[i, j] = _number(row.get(dev_key))
            labels.append(spec.label)
            train.append(a)
            dev.append(b)
        seeds = sorted({r.seed for r in runs})
        files["curves.png"] = plot_compare_curves(
            labels,
            train,
            dev,
            out / "curves.png",
            dev_metric="accuracy" if classification else "loss",
            loss_name=(
                "cross-entropy, nats"
                if classification and base.loss != "mse"
                else "squared error"
            ),
            title=(
                f"Optimizers on {base.dataset}: MLP, hidden {base.hidden}, batch "
                f"{base.batch_size}, {len(seeds)} seed{'s' if len(seeds) > 1 else ''}"
            ),
        )
    return files


def _number(value: Any) -> float:
    return math.nan if value is None else float(value)
