"""The configuration of a training run, and building a run from it.

A :class:`TrainConfig` names everything a run depends on: data, model, loss,
optimizer, schedule, batching, seed. It round-trips through TOML
(``config.toml`` in every run folder), so a run can be repeated, resumed or
evaluated from its folder alone. :func:`build` turns it into the objects the
:class:`~steepest.train.loop.Trainer` joins.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from steepest import losses, schedules
from steepest.data import DataLoader, DataSplits, load_dataset
from steepest.nn import MLP, Module
from steepest.optim import OPTIMIZERS, make_optimizer

__all__ = [
    "DEFAULT_LR",
    "SCHEDULE_ALIASES",
    "Experiment",
    "TrainConfig",
    "build",
    "build_model",
    "build_schedule",
    "load_config",
    "to_toml",
]

#: The learning rate each optimizer gets when none is given.
DEFAULT_LR = {
    "sgd": 0.1,
    "momentum": 0.01,
    "nesterov": 0.01,
    "adagrad": 0.01,
    "rmsprop": 0.001,
    "adam": 0.001,
    "adamw": 0.001,
}

#: Short schedule names accepted on the command line.
SCHEDULE_ALIASES = {
    "constant": "constant",
    "exponential": "exponential_decay",
    "polynomial": "polynomial_decay",
    "inverse_time": "inverse_time_decay",
    "inverse_sqrt": "inverse_sqrt_decay",
    "cosine": "cosine_decay",
    "cosine_restarts": "cosine_decay_restarts",
    "piecewise_constant": "piecewise_constant",
}

LOSSES = ("auto", "cross_entropy", "mse")
ACTIVATIONS = ("relu", "tanh", "sigmoid")


@dataclass
class TrainConfig:
    """Everything a training run depends on; see ``steepest train --help``.

    ``batch_size`` is a positive int or ``"full"`` (gradient descent on the
    whole training set); 1 is online SGD. ``lr`` None means the optimizer's
    entry in :data:`DEFAULT_LR`. ``lr_final`` makes a decaying schedule reach
    exactly that rate at the last update. ``early_stopping`` is the patience
    in epochs (0: off).
    """

    dataset: str = "digits"
    data_dir: str | None = None
    dev_size: int | None = None
    hidden: list[int] = field(default_factory=lambda: [128])
    activation: str = "relu"
    init: str = "glorot_uniform"
    loss: str = "auto"
    optimizer: str = "adam"
    lr: float | None = None
    optimizer_options: dict[str, Any] = field(default_factory=dict)
    schedule: str = "constant"
    schedule_options: dict[str, Any] = field(default_factory=dict)
    lr_final: float | None = None
    epochs: int = 30
    batch_size: int | str = 32
    seed: int = 0
    l2: float = 0.0
    early_stopping: int = 0
    monitor: str = "dev_loss"

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Check every value; a ValueError names the option, value and choices."""

        def bad(option: str, value: Any, allowed: str) -> ValueError:
            return ValueError(f"--{option.replace('_', '-')} {value!r}: {allowed}")

        if self.optimizer not in OPTIMIZERS:
            raise bad(
                "optimizer", self.optimizer, f"choose from {', '.join(OPTIMIZERS)}"
            )
        if self.activation not in ACTIVATIONS:
            raise bad(
                "activation", self.activation, f"choose from {', '.join(ACTIVATIONS)}"
            )
        if self.loss not in LOSSES:
            raise bad("loss", self.loss, f"choose from {', '.join(LOSSES)}")
        if (
            self.schedule not in SCHEDULE_ALIASES
            and self.schedule not in schedules.SCHEDULES
        ):
            raise bad(
                "schedule", self.schedule, f"choose from {', '.join(SCHEDULE_ALIASES)}"
            )
        if not all(isinstance(h, int) and h > 0 for h in self.hidden):
            raise bad("hidden", self.hidden, "widths must be positive integers")
        if not isinstance(self.epochs, int) or self.epochs < 1:
            raise bad("epochs", self.epochs, "must be an integer >= 1")
        if self.batch_size != "full" and (
            not isinstance(self.batch_size, int) or self.batch_size < 1
        ):
            raise bad(
                "batch_size", self.batch_size, "must be an integer >= 1 or 'full'"
            )
        for name in ("lr", "lr_final"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value > 0):
                raise bad(name, value, "must be a number > 0")
        if not math.isfinite(self.l2) or self.l2 < 0:
            raise bad("l2", self.l2, "must be a number >= 0")
        if not isinstance(self.early_stopping, int) or self.early_stopping < 0:
            raise bad("early_stopping", self.early_stopping, "must be an integer >= 0")
        if not isinstance(self.seed, int) or self.seed < 0:
            raise bad("seed", self.seed, "must be an integer >= 0")
        if self.lr_final is not None and self.schedule == "constant":
            raise bad(
                "lr_final",
                self.lr_final,
                "needs a decaying --schedule, e.g. exponential",
            )

    @property
    def learning_rate(self) -> float:
        """``lr``, or the optimizer's default."""
        return self.lr if self.lr is not None else DEFAULT_LR[self.optimizer]

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> TrainConfig:
        """Build from a dict (a parsed TOML file); unknown keys are an error."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(
                f"unknown config key(s) {unknown}; valid keys: {sorted(known)}"
            )
        return cls(**dict(values))

    def to_dict(self) -> dict[str, Any]:
        """The resolved configuration as plain values (lr filled in)."""
        values = dataclasses.asdict(self)
        values["lr"] = self.learning_rate
        return values


def load_config(path: str | Path) -> TrainConfig:
    """Read a TOML config file."""
    path = Path(path)
    try:
        values = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as err:
        raise ValueError(f"config file {path} is not valid TOML: {err}") from None
    return TrainConfig.from_dict(values)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{escaped}"'
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {value!r} ({type(value).__name__}) to TOML")


def to_toml(values: Mapping[str, Any]) -> str:
    """Write a flat dict with one level of sub-tables as TOML (None omitted)."""
    lines, tables = [], []
    for key, value in values.items():
        if value is None:
            continue
        if isinstance(value, Mapping):
            tables.append((key, value))
        else:
            lines.append(f"{key} = {_toml_value(value)}")
    for name, table in tables:
        lines.append(f"\n[{name}]")
        lines.extend(
            f"{k} = {_toml_value(v)}" for k, v in table.items() if v is not None
        )
    return "\n".join(lines) + "\n"


def build_model(config: TrainConfig, data: DataSplits) -> Module:
    """The MLP the config describes, sized for the data, seeded by the config."""
    inputs = int(np.prod(data.meta.input_shape))
    outputs = data.meta.num_classes or data.train.y.shape[1]
    return MLP(
        [inputs, *config.hidden, outputs],
        activation=config.activation,
        init=config.init,
        rng=np.random.default_rng(config.seed),
    )


def build_schedule(config: TrainConfig, total_steps: int) -> schedules.Schedule:
    """The learning-rate schedule, with ``lr_final`` turned into its decay.

    ``lr_final`` sets the decay so that the last update (step
    ``total_steps - 1``) uses exactly ``lr_final``; ``decay_steps`` defaults
    to the number of updates in the run.
    """
    name = SCHEDULE_ALIASES.get(config.schedule, config.schedule)
    lr = config.learning_rate
    if name == "constant":
        return schedules.constant(lr)
    options = dict(config.schedule_options)
    last = max(total_steps - 1, 1)
    if config.lr_final is not None:
        ratio = config.lr_final / lr
        if name == "exponential_decay":
            options.setdefault("decay_steps", last)
            options["decay_rate"] = ratio ** (options["decay_steps"] / last)
        elif name == "polynomial_decay":
            options["decay_steps"] = last
            options["end"] = config.lr_final
        elif name == "inverse_time_decay":
            options.setdefault("decay_steps", last)
            options["decay_rate"] = (1 / ratio - 1) * options["decay_steps"] / last
        elif name == "cosine_decay":
            options["decay_steps"] = last
            options["alpha"] = ratio
        else:
            raise ValueError(
                f"--lr-final is not supported with --schedule {config.schedule}; "
                "use exponential, polynomial, inverse_time or cosine"
            )
    if name in (
        "exponential_decay",
        "polynomial_decay",
        "inverse_time_decay",
        "cosine_decay",
    ):
        options.setdefault("decay_steps", last)
    if name == "cosine_decay_restarts":
        options.setdefault("first_decay_steps", max(last // 3, 1))
    if name == "exponential_decay" or name == "inverse_time_decay":
        options.setdefault("decay_rate", 0.1)
    try:
        return schedules.from_config({"name": name, "initial": lr, **options})
    except (TypeError, ValueError) as err:
        raise ValueError(f"--schedule {config.schedule}: {err}") from None


@dataclass
class Experiment:
    """The objects of one run, built from a :class:`TrainConfig`."""

    config: TrainConfig
    data: DataSplits
    model: Module
    loss_fn: Any
    optimizer: Any
    schedule: schedules.Schedule
    loader: DataLoader

    @property
    def classification(self) -> bool:
        """Whether the data has classes (accuracy is reported)."""
        return self.data.meta.task == "classification"


def build(config: TrainConfig, data: DataSplits | None = None) -> Experiment:
    """Load the data (unless given) and build model, loss, optimizer, loader."""
    if data is None:
        data = load_dataset(
            config.dataset,
            data_dir=config.data_dir,
            dev_size=config.dev_size,
            seed=config.seed,
        )
    classification = data.meta.task == "classification"
    loss = config.loss
    if loss == "auto":
        loss = "cross_entropy" if classification else "mse"
    if loss == "cross_entropy" and not classification:
        raise ValueError(
            f"--loss cross_entropy needs a classification dataset; "
            f"{config.dataset} is a regression set: use --loss mse"
        )
    loss_fn = losses.cross_entropy if loss == "cross_entropy" else losses.mse

    batch_size = None if config.batch_size == "full" else config.batch_size
    loader = DataLoader(
        data.train.x, data.train.y, batch_size, shuffle=True, seed=config.seed
    )
    model = build_model(config, data)
    schedule = build_schedule(config, config.epochs * len(loader))
    optimizer = make_optimizer(
        config.optimizer, model.parameters(), lr=schedule, **config.optimizer_options
    )
    return Experiment(config, data, model, loss_fn, optimizer, schedule, loader)
