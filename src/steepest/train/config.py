"""The configuration of a training run, and building a run from it.

A :class:`TrainConfig` names everything a run depends on: data, model, loss,
optimizer, schedule, batching, seed. It round-trips through TOML
(``config.toml`` in every run folder), so a run can be repeated, resumed or
evaluated from its folder alone. :func:`build` turns it into the objects the
:class:`~steepest.train.loop.Trainer` joins.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from steepest import losses, schedules
from steepest.data import DATASETS, DataLoader, DataSplits, load_dataset
from steepest.nn import MLP, Module
from steepest.nn.init import INITIALIZERS
from steepest.optim import OPTIMIZERS, make_optimizer

__all__ = [
    "DEFAULT_LR",
    "SCHEDULE_ALIASES",
    "ConfigError",
    "ConfigTypeError",
    "Experiment",
    "TrainConfig",
    "build",
    "build_model",
    "build_schedule",
    "load_config",
    "parse_value",
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
#: What early stopping can watch: the epoch's training means, or the dev
#: split's metrics after the epoch; the accuracies only for classification.
MONITORS = ("dev_loss", "dev_acc", "loss", "acc")
#: The decaying schedules ``lr_final`` can be turned into.
LR_FINAL_SCHEDULES = (
    "exponential_decay",
    "polynomial_decay",
    "inverse_time_decay",
    "cosine_decay",
)
#: Schedule arguments :func:`build_schedule` fills in when not given.
_SCHEDULE_DEFAULTS = ("decay_steps", "first_decay_steps", "decay_rate")


class ConfigError(ValueError):
    """A bad :class:`TrainConfig` value, naming the setting, value and fix.

    ``field`` is the config key, ``key`` the entry of ``optimizer_options``
    or ``schedule_options`` (else None), ``allowed`` what the value should
    be. The message has the command line's form (``--epochs 0: must be an
    integer >= 1``; ``--opt beta1=2: ...`` for an option entry), ``flag``
    replacing the option's name if given, or the config file's form
    (``run.toml: epochs = 0: ...``) when ``source`` names the file.
    """

    def __init__(
        self,
        field: str,
        value: Any,
        allowed: str,
        *,
        key: str | None = None,
        flag: str | None = None,
        source: str | os.PathLike[str] | None = None,
    ) -> None:
        self.field, self.value, self.allowed, self.key = field, value, allowed, key
        self.flag, self.source = flag, source
        super().__init__(self._message())

    def _message(self) -> str:
        if self.source is not None:
            name = self.field if self.key is None else f"{self.field}.{self.key}"
            return f"{self.source}: {name} = {_shown(self.value)}: {self.allowed}"
        if self.flag is not None:
            return f"{self.flag} {self.value!r}: {self.allowed}"
        if self.key is None:
            return f"--{self.field.replace('_', '-')} {self.value!r}: {self.allowed}"
        flag = "--opt" if self.field == "optimizer_options" else "--sched"
        return f"{flag} {self.key}={self.value!r}: {self.allowed}"

    def located(
        self,
        *,
        flag: str | None = None,
        source: str | os.PathLike[str] | None = None,
    ) -> ConfigError:
        """The same error, shown as the flag ``flag`` or as a line of the
        config file ``source``."""
        return type(self)(
            self.field,
            self.value,
            self.allowed,
            key=self.key,
            flag=flag,
            source=source,
        )


class ConfigTypeError(ConfigError, TypeError):
    """A :class:`TrainConfig` value of the wrong kind (a string for a number,
    a bool for an integer, ...)."""


def _shown(value: Any) -> str:
    """``value`` as it would be written in TOML (repr if it has no TOML form)."""
    try:
        return _toml_value(value)
    except TypeError:
        return repr(value)


def _is_int(value: Any) -> bool:
    # bool is an int subclass, but `epochs = true` is a mistake, not 1.
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _dataset_key(name: str) -> str:
    """The spelling :func:`~steepest.data.load_dataset` resolves ``name`` to."""
    key = name.strip().lower().replace("_", "-")
    return "fashion-mnist" if key in ("fashion", "fashionmnist") else key


def optimizer_arguments(name: str) -> list[str]:
    """The keyword arguments optimizer ``name`` accepts besides ``lr``."""
    signature = inspect.signature(OPTIMIZERS[name])
    return [p for p in signature.parameters if p not in ("params", "lr")]


def schedule_arguments(name: str) -> list[str]:
    """The arguments schedule ``name`` (short or long) takes besides the
    initial rate, which is ``lr``."""
    cls = schedules.SCHEDULES[SCHEDULE_ALIASES.get(name, name)]
    if cls is schedules.Constant:
        return []
    return [f.name for f in dataclasses.fields(cls) if f.name != "initial"]


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
        """Check the kind and value of every field.

        Raises :class:`ConfigTypeError` (a TypeError) for a value of the wrong
        kind and :class:`ConfigError` (a ValueError) for a bad value; both name
        the option, the value and what is allowed.
        """

        def bad(field: str, value: Any, allowed: str, **kw: Any) -> ConfigError:
            return ConfigError(field, value, allowed, **kw)

        def kind(field: str, value: Any, allowed: str, **kw: Any) -> ConfigError:
            return ConfigTypeError(field, value, allowed, **kw)

        def choice(field: str, choices: Any) -> str:
            value = getattr(self, field)
            allowed = f"choose from {', '.join(choices)}"
            if not isinstance(value, str):
                raise kind(field, value, f"must be a name: {allowed}")
            return allowed

        def integer(field: str, minimum: int, optional: bool = False) -> None:
            value = getattr(self, field)
            if value is None and optional:
                return
            allowed = f"must be an integer >= {minimum}"
            if not _is_int(value):
                raise kind(field, value, allowed)
            if value < minimum:
                raise bad(field, value, allowed)

        def number(field: str, positive: bool, optional: bool = False) -> None:
            value = getattr(self, field)
            if value is None and optional:
                return
            allowed = "must be a number > 0" if positive else "must be a number >= 0"
            if not _is_number(value):
                raise kind(field, value, allowed)
            if not math.isfinite(value) or value < 0 or (positive and value == 0):
                raise bad(field, value, allowed)

        # Names.
        allowed = choice("dataset", DATASETS)
        if _dataset_key(self.dataset) not in DATASETS:
            raise bad("dataset", self.dataset, allowed)
        if self.data_dir is not None and not isinstance(self.data_dir, str):
            raise kind("data_dir", self.data_dir, "must be a folder name")
        allowed = choice("optimizer", OPTIMIZERS)
        if self.optimizer not in OPTIMIZERS:
            raise bad("optimizer", self.optimizer, allowed)
        allowed = choice("activation", ACTIVATIONS)
        if self.activation not in ACTIVATIONS:
            raise bad("activation", self.activation, allowed)
        allowed = choice("init", INITIALIZERS)
        if self.init not in INITIALIZERS:
            raise bad("init", self.init, allowed)
        allowed = choice("loss", LOSSES)
        if self.loss not in LOSSES:
            raise bad("loss", self.loss, allowed)
        allowed = choice("schedule", SCHEDULE_ALIASES)
        if (
            self.schedule not in SCHEDULE_ALIASES
            and self.schedule not in SCHEDULE_ALIASES.values()
        ):
            raise bad("schedule", self.schedule, allowed)
        allowed = choice("monitor", MONITORS)
        if self.monitor not in MONITORS:
            raise bad("monitor", self.monitor, allowed)

        # Sizes and counts.
        integer("dev_size", 0, optional=True)
        widths = "must be a list of positive integers (hidden widths), e.g. [128]"
        if not isinstance(self.hidden, list | tuple):
            raise kind("hidden", self.hidden, widths)
        if not all(_is_int(h) for h in self.hidden):
            raise kind("hidden", self.hidden, "widths must be positive integers")
        if not all(h > 0 for h in self.hidden):
            raise bad("hidden", self.hidden, "widths must be positive integers")
        self.hidden = list(self.hidden)
        integer("epochs", 1)
        if self.batch_size != "full":
            allowed = "must be an integer >= 1 or 'full'"
            if not _is_int(self.batch_size):
                raise kind("batch_size", self.batch_size, allowed)
            if self.batch_size < 1:
                raise bad("batch_size", self.batch_size, allowed)
        integer("seed", 0)
        integer("early_stopping", 0)

        # Rates and penalties.
        number("lr", positive=True, optional=True)
        number("lr_final", positive=True, optional=True)
        number("l2", positive=False)

        # Optimizer options: the arguments the chosen optimizer accepts.
        if not isinstance(self.optimizer_options, Mapping):
            raise kind(
                "optimizer_options",
                self.optimizer_options,
                "must be a table of optimizer arguments, e.g. {beta1 = 0.8}",
            )
        accepted = optimizer_arguments(self.optimizer)
        for key, value in self.optimizer_options.items():
            if key == "lr":
                raise bad(
                    "optimizer_options",
                    value,
                    "the learning rate is set with --lr (key lr), not as an option",
                    key=key,
                )
            if key not in accepted:
                raise bad(
                    "optimizer_options",
                    value,
                    f"{self.optimizer} has no option {key!r}; its options are "
                    f"{', '.join(accepted)}",
                    key=key,
                )

        # Schedule options: the arguments of the chosen schedule.
        if not isinstance(self.schedule_options, Mapping):
            raise kind(
                "schedule_options",
                self.schedule_options,
                "must be a table of schedule arguments, e.g. {decay_rate = 0.5}",
            )
        accepted = schedule_arguments(self.schedule)
        for key, value in self.schedule_options.items():
            if not accepted:
                raise bad(
                    "schedule_options",
                    value,
                    f"--schedule {self.schedule} takes no options; choose a "
                    "decaying --schedule such as exponential or cosine",
                    key=key,
                )
            if key == "initial":
                raise bad(
                    "schedule_options",
                    value,
                    "the initial rate is set with --lr (key lr), not as an option",
                    key=key,
                )
            if key not in accepted:
                raise bad(
                    "schedule_options",
                    value,
                    f"--schedule {self.schedule} has no option {key!r}; its "
                    f"options are {', '.join(accepted)}",
                    key=key,
                )
        name = SCHEDULE_ALIASES.get(self.schedule, self.schedule)
        if name == "piecewise_constant":
            missing = [
                k for k in ("boundaries", "values") if k not in self.schedule_options
            ]
            if missing:
                raise bad(
                    "schedule",
                    self.schedule,
                    f"needs {' and '.join(missing)}, e.g. --sched "
                    "boundaries=1000,2000 --sched values=0.1,0.01,0.001",
                )
        if self.lr_final is not None and name == "constant":
            raise bad(
                "lr_final",
                self.lr_final,
                "needs a decaying --schedule, e.g. exponential",
            )
        if self.lr_final is not None and name not in LR_FINAL_SCHEDULES:
            raise bad(
                "lr_final",
                self.lr_final,
                f"is not supported with --schedule {self.schedule}; use "
                "exponential, polynomial, inverse_time or cosine",
            )
        if self.lr_final is not None and self.lr_final > self.learning_rate:
            raise bad(
                "lr_final",
                self.lr_final,
                f"is above the learning rate {self.learning_rate:g}, so the "
                f"{self.schedule} 'decay' would raise the rate; give an "
                f"--lr-final below --lr (e.g. {self.learning_rate / 10:g})",
            )

        # Early stopping watches a metric the run will report.
        if self.early_stopping and self.monitor.startswith("dev_"):
            if self.dev_size == 0:
                raise bad(
                    "early_stopping",
                    self.early_stopping,
                    f"monitors {self.monitor}, but --dev-size 0 leaves no dev "
                    "split; give --dev-size > 0 or --monitor "
                    f"{self.monitor.removeprefix('dev_')}",
                )

    @property
    def learning_rate(self) -> float:
        """``lr``, or the optimizer's default."""
        return self.lr if self.lr is not None else DEFAULT_LR[self.optimizer]

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> TrainConfig:
        """Build from a dict (a parsed TOML file); unknown keys are an error."""
        if not isinstance(values, Mapping):
            raise TypeError(
                f"a config must be a table of settings, got {type(values).__name__}"
            )
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


def parse_value(text: str, lists: bool = True) -> Any:
    """A value written on a command line or in a run spec, as Python.

    ``"true"``/``"false"`` become bools, then ints and floats are tried;
    with ``lists``, ``"1,2,3"`` becomes a list of such values. Anything else
    stays text (a name, say).
    """
    if lists and "," in text:
        return [parse_value(part.strip()) for part in text.split(",") if part.strip()]
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def load_config(path: str | Path) -> TrainConfig:
    """Read a TOML config file; every error names the file (and the key)."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"config file {path} is a folder; pass a .toml file")
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise FileNotFoundError(f"config file {path} does not exist") from None
    except OSError as err:
        raise OSError(f"config file {path} cannot be read: {err.strerror}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(
            f"config file {path} is not UTF-8 text (byte {err.start}); save it as UTF-8"
        ) from None
    try:
        values = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ValueError(f"config file {path} is not valid TOML: {err}") from None
    try:
        return TrainConfig.from_dict(values)
    except ConfigError as err:
        raise err.located(source=path) from None
    except (TypeError, ValueError) as err:
        raise type(err)(f"{path}: {err}") from None


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
    """The MLP the config describes, sized for the data, seeded by the config.

    For a regression set the output bias starts at the mean training target.
    """
    inputs = int(np.prod(data.meta.input_shape))
    outputs = data.meta.num_classes or data.train.y.shape[1]
    model = MLP(
        [inputs, *config.hidden, outputs],
        activation=config.activation,
        init=config.init,
        rng=np.random.default_rng(config.seed),
    )
    if data.meta.num_classes is None and len(data.train.y):
        # Regression: the output bias starts at the mean training target, the
        # maximum-likelihood constant under a Gaussian, so that training
        # fits the targets' variation instead of first walking the outputs
        # to their scale (diabetes scores are about 150).
        model[-1].bias.data[...] = data.train.y.mean(axis=0)
    return model


def build_schedule(config: TrainConfig, total_steps: int) -> schedules.Schedule:
    """The learning-rate schedule, with ``lr_final`` turned into its decay.

    ``lr_final`` sets the decay so that the last update (step
    ``total_steps - 1``) uses exactly ``lr_final``; ``decay_steps`` defaults
    to the number of updates in the run. Arguments given in
    ``schedule_options`` are kept, so the resolved config of a run folder
    (every argument written out, no ``lr_final``) gives the same schedule
    whatever ``total_steps`` is: a resume for more epochs continues it.
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
    fields = {f.name for f in dataclasses.fields(schedules.SCHEDULES[name])}
    if "initial" in fields:
        options["initial"] = lr
    try:
        return schedules.from_config({"name": name, **options})
    except (TypeError, ValueError) as err:
        raise ValueError(f"--schedule {config.schedule}: {err}") from None


def resolved_schedule_options(schedule: schedules.Schedule) -> dict[str, Any]:
    """Every argument of a built schedule except its initial rate (``lr``):
    what ``schedule_options`` must hold to rebuild it for any run length."""
    if isinstance(schedule, schedules.Constant):
        return {}
    config = schedule.to_config()
    return {k: v for k, v in config.items() if k not in ("name", "initial")}


@dataclass
class Experiment:
    """The objects of one run, built from a :class:`TrainConfig`.

    ``config`` is the resolved configuration: ``lr`` filled in and the
    schedule written out whole in ``schedule_options`` (``lr_final`` turned
    into the schedule's own arguments), so a resume for more epochs continues
    the same formula instead of stretching it.
    """

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
    config.validate()
    if data is None:
        try:
            data = load_dataset(
                config.dataset,
                data_dir=config.data_dir,
                dev_size=config.dev_size,
                seed=config.seed,
            )
        except ValueError as err:
            if config.dev_size is None or "dev_size" not in str(err):
                raise
            # The split's own message names its internals; say it as the flag.
            detail = str(err).split(": ", 1)[-1]
            raise ConfigError(
                "dev_size",
                config.dev_size,
                f"too large for {config.dataset}: {detail}",
            ) from None
    classification = data.meta.task == "classification"
    if config.early_stopping and config.monitor.endswith("acc") and not classification:
        raise ConfigError(
            "monitor",
            config.monitor,
            f"{config.dataset} is a regression set and reports no accuracy; "
            f"use --monitor {config.monitor.replace('acc', 'loss')}",
        )
    if (
        config.early_stopping
        and config.monitor.startswith("dev_")
        and not len(data.dev)
    ):
        raise ConfigError(
            "early_stopping",
            config.early_stopping,
            f"monitors {config.monitor}, but {config.dataset} has no dev split; "
            f"give --dev-size > 0 or --monitor {config.monitor.removeprefix('dev_')}",
        )
    loss = config.loss
    if loss == "auto":
        loss = "cross_entropy" if classification else "mse"
    if loss == "cross_entropy" and not classification:
        raise ValueError(
            f"--loss cross_entropy needs a classification dataset; "
            f"{config.dataset} is a regression set: use --loss mse"
        )
    if loss == "mse" and classification:
        raise ValueError(
            f"--loss mse needs a regression dataset with real-valued targets; "
            f"{config.dataset} is a classification set with class labels: use "
            "--loss cross_entropy (or auto)"
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
    resolved = dataclasses.replace(
        config,
        loss=loss,
        lr=config.learning_rate,
        lr_final=None,
        schedule_options=resolved_schedule_options(schedule),
    )
    return Experiment(resolved, data, model, loss_fn, optimizer, schedule, loader)
