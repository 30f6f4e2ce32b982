"""Learning-rate schedules: pure functions of the step count.

A schedule maps the global step ``t`` (an integer >= 0, the number of updates
already made, so the first update uses the value at ``t = 0``, as in Keras and
Optax) to a learning rate. It holds no state, so a resumed run gets the same
rate from the step alone, and an optimizer accepts one anywhere a learning rate
goes (see :func:`as_schedule`).

Each schedule is a frozen dataclass whose fields are its arguments. Calling it
with an ``int`` returns a Python ``float``; calling it with an integer NumPy
array returns a float64 array of the same shape. ``to_config()`` gives a plain
dict (``"name"`` plus every argument, nested schedules as nested dicts) and
:func:`from_config` rebuilds the schedule from it, so configs and checkpoints
can name a schedule.

The formulas follow ``tf.keras.optimizers.schedules`` (argument names
included). Optax's names are kept as thin constructors where the meaning
coincides: :func:`constant_schedule`, :func:`polynomial_schedule`,
:func:`linear_schedule`, :func:`cosine_decay_schedule`,
:func:`piecewise_constant_schedule`, :func:`join_schedules`,
:func:`warmup_cosine_decay_schedule` and :func:`sgdr_schedule` take Optax's
arguments and return the same values. Differences from Optax:

- :func:`piecewise_constant` follows Keras: ``values[i]`` holds while
  ``boundaries[i - 1] < t <= boundaries[i]``, so the value changes one step
  *after* a boundary. Optax's ``piecewise_constant_schedule`` changes *at* the
  boundary (``t >= b``); the constructor of that name here does the same.
- :func:`exponential_decay` has Keras' arguments; Optax's ``transition_begin``
  and ``end_value`` are not supported (build them with :func:`join`).
- Optax returns a constant for ``transition_steps <= 0``; here a step count
  that must be positive raises ``ValueError`` instead.
- Optax's ``exponent`` for cosine schedules is not supported.

Example:
    >>> lr = linear_warmup(cosine_decay(1.0, decay_steps=8), warmup_steps=4)
    >>> [round(lr(t), 6) for t in (0, 2, 4, 8, 12)]
    [0.0, 0.5, 1.0, 0.5, 0.0]
    >>> from_config(lr.to_config()) == lr
    True
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import MISSING, dataclass, fields
from types import MappingProxyType
from typing import Any, ClassVar, overload

from numpy.typing import NDArray

from steepest.backend import xp

__all__ = [
    "Schedule",
    "Constant",
    "ExponentialDecay",
    "PolynomialDecay",
    "InverseTimeDecay",
    "InverseSqrtDecay",
    "CosineDecay",
    "CosineDecayRestarts",
    "PiecewiseConstant",
    "LinearWarmup",
    "Join",
    "constant",
    "exponential_decay",
    "polynomial_decay",
    "inverse_time_decay",
    "inverse_sqrt_decay",
    "cosine_decay",
    "cosine_decay_restarts",
    "piecewise_constant",
    "linear_warmup",
    "join",
    "constant_schedule",
    "polynomial_schedule",
    "linear_schedule",
    "cosine_decay_schedule",
    "piecewise_constant_schedule",
    "join_schedules",
    "warmup_cosine_decay_schedule",
    "sgdr_schedule",
    "SCHEDULES",
    "as_schedule",
    "from_config",
]


# ----------------------------------------------------------------------------
# Argument checks: each names the schedule, the argument and the value received.


def _is_int(value: Any) -> bool:
    return isinstance(value, int | xp.integer) and not isinstance(value, bool)


def _is_real(value: Any) -> bool:
    real = int | float | xp.integer | xp.floating
    return isinstance(value, real) and not isinstance(value, bool)


def _steps(where: str, name: str, value: Any, minimum: int) -> int:
    """An integer step count >= minimum."""
    if not _is_int(value):
        raise TypeError(
            f"{where}: {name} must be an integer number of steps, "
            f"got {name}={value!r} ({type(value).__name__})"
        )
    if value < minimum:
        raise ValueError(
            f"{where}: {name} must be an integer >= {minimum}, got {name}={value!r}"
        )
    return int(value)


def _number(where: str, name: str, value: Any, *, positive: bool = False) -> float:
    """A finite real number >= 0 (or > 0 when positive)."""
    if not _is_real(value):
        raise TypeError(
            f"{where}: {name} must be a number, "
            f"got {name}={value!r} ({type(value).__name__})"
        )
    value = float(value)
    bad = value <= 0 if positive else value < 0
    if bad or not math.isfinite(value):
        bound = "> 0" if positive else ">= 0"
        raise ValueError(
            f"{where}: {name} must be a finite number {bound}, got {name}={value!r}"
        )
    return value


def _flag(where: str, name: str, value: Any) -> bool:
    if not isinstance(value, bool | xp.bool_):
        raise TypeError(f"{where}: {name} must be True or False, got {name}={value!r}")
    return bool(value)


def _increasing(where: str, name: str, values: Sequence[Any]) -> tuple[int, ...]:
    """Strictly increasing step counts >= 0."""
    out = tuple(_steps(where, f"{name}[{i}]", b, 0) for i, b in enumerate(values))
    if any(a >= b for a, b in zip(out, out[1:], strict=False)):
        raise ValueError(
            f"{where}: {name} must be strictly increasing, got {name}={list(out)}; "
            "sort them and drop repeats"
        )
    return out


def _sequence(where: str, name: str, value: Any) -> tuple[Any, ...]:
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise TypeError(f"{where}: {name} must be a list, got {name}={value!r}")
    return tuple(value)


def _set(obj: object, name: str, value: Any) -> None:
    # The dataclasses are frozen; __post_init__ stores the checked values.
    object.__setattr__(obj, name, value)


# ----------------------------------------------------------------------------
# The base class.


class Schedule:
    """A learning rate as a pure function of the step count.

    Subclasses are frozen dataclasses that define ``name`` (the key in configs)
    and ``_value(step) -> float`` for a Python ``int`` step >= 0; calling the
    schedule checks the step and accepts an integer array as well.
    """

    name: ClassVar[str] = "schedule"

    @overload
    def __call__(self, step: int) -> float: ...

    @overload
    def __call__(self, step: NDArray[Any]) -> NDArray[Any]: ...

    def __call__(self, step: int | NDArray[Any]) -> float | NDArray[Any]:
        """The learning rate at ``step`` updates already made.

        Args:
            step: an ``int`` >= 0, or an integer NumPy array of them.

        Returns:
            A Python ``float``, or a float64 array shaped like ``step``.
        """
        if _is_int(step):
            if step < 0:
                raise ValueError(
                    f"{self.name}: step must be >= 0 (updates already made), "
                    f"got step={step!r}"
                )
            return float(self._value(int(step)))
        if isinstance(step, xp.ndarray) and step.dtype.kind in "iu":
            if step.size and step.min() < 0:
                raise ValueError(
                    f"{self.name}: steps must be >= 0, got a step of {step.min()}"
                )
            flat = [self._value(int(t)) for t in step.ravel()]
            return xp.asarray(flat, dtype=xp.float64).reshape(step.shape)
        if isinstance(step, xp.ndarray):
            kind = f"an array of {step.dtype}; cast it with step.astype(int)"
        else:
            kind = f"{step!r} ({type(step).__name__}); round it with int(step)"
        raise TypeError(
            f"{self.name}: step must be an int >= 0 or an integer array, got {kind}"
        )

    def _value(self, step: int) -> float:
        raise NotImplementedError

    def to_config(self) -> dict[str, Any]:
        """A plain dict naming the schedule and every argument.

        Nested schedules become nested configs and tuples become lists, so the
        result can go to JSON as is; :func:`from_config` inverts it.
        """
        config: dict[str, Any] = {"name": self.name}
        for field in fields(self):  # type: ignore[arg-type]
            config[field.name] = _plain(getattr(self, field.name))
        return config


def _plain(value: Any) -> Any:
    if isinstance(value, Schedule):
        return value.to_config()
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def _schedule_arg(where: str, name: str, value: Any) -> Schedule:
    """A nested schedule: a Schedule, or a number taken as a constant."""
    if isinstance(value, Schedule):
        return value
    if _is_real(value):
        return Constant(value)
    raise TypeError(
        f"{where}: {name} must be a Schedule or a number, got {name}={value!r}; "
        "build it from steepest.schedules so that it has a config"
    )


# ----------------------------------------------------------------------------
# The schedules.


@dataclass(frozen=True)
class Constant(Schedule):
    """The same learning rate at every step: ``lr(t) = lr``.

    Args:
        lr: the learning rate, a finite number >= 0.

    Example:
        >>> constant(0.1)(1000)
        0.1

    Reference: ``optax.constant_schedule``.
    """

    lr: float
    name: ClassVar[str] = "constant"

    def __post_init__(self) -> None:
        _set(self, "lr", _number(self.name, "lr", self.lr))

    def _value(self, step: int) -> float:
        return self.lr


@dataclass(frozen=True)
class _PeriodDecay(Schedule):
    """Fields, checks and exponent shared by exponential and inverse-time decay."""

    initial: float
    decay_steps: int
    decay_rate: float
    staircase: bool = False

    def __post_init__(self) -> None:
        _set(self, "initial", _number(self.name, "initial", self.initial))
        _set(self, "decay_steps", _steps(self.name, "decay_steps", self.decay_steps, 1))
        rate = _number(self.name, "decay_rate", self.decay_rate, positive=True)
        _set(self, "decay_rate", rate)
        _set(self, "staircase", _flag(self.name, "staircase", self.staircase))

    def _periods(self, step: int) -> float:
        """``t / decay_steps``, or its floor with ``staircase``."""
        if self.staircase:
            return step // self.decay_steps
        return step / self.decay_steps


@dataclass(frozen=True)
class ExponentialDecay(_PeriodDecay):
    """Exponential decay: ``lr(t) = initial * decay_rate ** (t / decay_steps)``.

    With ``staircase`` the exponent is ``floor(t / decay_steps)`` (integer
    division), so the rate drops by ``decay_rate`` every ``decay_steps`` steps.

    Args:
        initial: the rate at step 0, a finite number >= 0.
        decay_steps: steps per factor of ``decay_rate``, an integer > 0.
        decay_rate: the factor per ``decay_steps`` steps, > 0 (< 1 decays).
        staircase: decay in whole periods; default False.

    Example:
        >>> lr = exponential_decay(1.0, decay_steps=10, decay_rate=0.5, staircase=True)
        >>> [lr(t) for t in (0, 9, 10, 19, 20)]
        [1.0, 1.0, 0.5, 0.5, 0.25]

    Reference: ``tf.keras.optimizers.schedules.ExponentialDecay``.
    """

    name: ClassVar[str] = "exponential_decay"

    def _value(self, step: int) -> float:
        p = self._periods(step)
        return self.initial * self.decay_rate**p


@dataclass(frozen=True)
class PolynomialDecay(Schedule):
    """Polynomial decay from ``initial`` to ``end`` over ``decay_steps`` steps.

    ``lr(t) = (initial - end) * (1 - s / T) ** power + end`` with
    ``s = min(t, T)`` and ``T = decay_steps``: the rate stays at ``end`` after
    ``T`` steps. With ``cycle``, ``s = t`` and ``T = decay_steps *
    max(1, ceil(t / decay_steps))``, so the decay restarts after each multiple
    of ``decay_steps`` (at such a multiple the rate is ``end``).

    Args:
        initial: the rate at step 0, a finite number >= 0.
        decay_steps: length of the decay, an integer > 0.
        end: the final rate; default 0.0001.
        power: the power of the polynomial, > 0; default 1.0 (linear).
        cycle: restart the decay every ``decay_steps``; default False.

    Example:
        >>> lr = polynomial_decay(1.0, decay_steps=4, end=0.0)
        >>> [lr(t) for t in range(6)]
        [1.0, 0.75, 0.5, 0.25, 0.0, 0.0]

    Reference: ``tf.keras.optimizers.schedules.PolynomialDecay``; without
    ``cycle``, ``optax.polynomial_schedule``.
    """

    initial: float
    decay_steps: int
    end: float = 0.0001
    power: float = 1.0
    cycle: bool = False
    name: ClassVar[str] = "polynomial_decay"

    def __post_init__(self) -> None:
        _set(self, "initial", _number(self.name, "initial", self.initial))
        _set(self, "decay_steps", _steps(self.name, "decay_steps", self.decay_steps, 1))
        _set(self, "end", _number(self.name, "end", self.end))
        _set(self, "power", _number(self.name, "power", self.power, positive=True))
        _set(self, "cycle", _flag(self.name, "cycle", self.cycle))

    def _value(self, step: int) -> float:
        T = self.decay_steps
        if self.cycle:
            T *= max(1, -(-step // T))  # ceil(step / T) in integers
        else:
            step = min(step, T)
        return (self.initial - self.end) * (1 - step / T) ** self.power + self.end


@dataclass(frozen=True)
class InverseTimeDecay(_PeriodDecay):
    """Inverse-time decay: ``lr(t) = initial / (1 + decay_rate * t / decay_steps)``.

    With ``staircase``, ``t / decay_steps`` is replaced by its floor.

    Args:
        initial: the rate at step 0, a finite number >= 0.
        decay_steps: steps per unit of ``decay_rate``, an integer > 0.
        decay_rate: how fast the rate falls, > 0.
        staircase: decay in whole periods; default False.

    Example:
        >>> lr = inverse_time_decay(0.1, decay_steps=1, decay_rate=0.5)
        >>> [round(lr(t), 6) for t in range(4)]
        [0.1, 0.066667, 0.05, 0.04]

    Reference: ``tf.keras.optimizers.schedules.InverseTimeDecay``.
    """

    name: ClassVar[str] = "inverse_time_decay"

    def _value(self, step: int) -> float:
        p = self._periods(step)
        return self.initial / (1 + self.decay_rate * p)


@dataclass(frozen=True)
class InverseSqrtDecay(Schedule):
    """Inverse square-root decay, with the Transformer's linear warmup.

    Without warmup (``w = 0``), ``lr(t) = initial / sqrt(max(t, 1))``. With
    ``w = warmup_steps > 0``::

        lr(t) = initial * t / w          if t < w
        lr(t) = initial * sqrt(w / t)    if t >= w

    which is Vaswani et al.'s ``d_model ** -0.5 * min(t ** -0.5, t * w ** -1.5)``
    scaled so that the peak, at ``t = w``, is ``initial``: pass
    ``initial = (d_model * w) ** -0.5`` for the paper's rates. The paper counts
    steps from 1; here the first update is step 0, so the warmup starts at 0 as
    :func:`linear_warmup` does. Unlike ``linear_warmup(inverse_sqrt_decay(...))``
    the decay here continues from step ``w`` rather than restarting at 0.

    Args:
        initial: the rate at step ``max(w, 1)``, a finite number >= 0.
        warmup_steps: length of the linear warmup, an integer >= 0; default 0.

    Example:
        >>> [inverse_sqrt_decay(1.0)(t) for t in (0, 1, 4, 100)]
        [1.0, 1.0, 0.5, 0.1]
        >>> [inverse_sqrt_decay(1.0, warmup_steps=4)(t) for t in (0, 2, 4, 16)]
        [0.0, 0.5, 1.0, 0.5]

    Reference: Vaswani et al., "Attention is all you need", NeurIPS 2017,
    section 5.3.
    """

    initial: float
    warmup_steps: int = 0
    name: ClassVar[str] = "inverse_sqrt_decay"

    def __post_init__(self) -> None:
        _set(self, "initial", _number(self.name, "initial", self.initial))
        w = _steps(self.name, "warmup_steps", self.warmup_steps, 0)
        _set(self, "warmup_steps", w)

    def _value(self, step: int) -> float:
        w = self.warmup_steps
        if step < w:
            return self.initial * step / w
        return self.initial * math.sqrt(max(w, 1) / max(step, 1))


@dataclass(frozen=True)
class CosineDecay(Schedule):
    """Cosine decay from ``initial`` to ``alpha * initial`` over ``decay_steps``.

    ``lr(t) = initial * ((1 - alpha) * (1 + cos(pi * s / T)) / 2 + alpha)`` with
    ``s = min(t, T)`` and ``T = decay_steps``; the rate stays at
    ``alpha * initial`` after ``T`` steps.

    Args:
        initial: the rate at step 0, a finite number >= 0.
        decay_steps: length of the decay, an integer > 0.
        alpha: the final rate as a fraction of ``initial``, >= 0; default 0.0.

    Example:
        >>> lr = cosine_decay(1.0, decay_steps=4)
        >>> [round(lr(t), 6) for t in range(6)]
        [1.0, 0.853553, 0.5, 0.146447, 0.0, 0.0]

    Reference: ``tf.keras.optimizers.schedules.CosineDecay`` (whose built-in
    warmup is :func:`linear_warmup` here); ``optax.cosine_decay_schedule``;
    Loshchilov & Hutter, "SGDR: stochastic gradient descent with warm
    restarts", ICLR 2017.
    """

    initial: float
    decay_steps: int
    alpha: float = 0.0
    name: ClassVar[str] = "cosine_decay"

    def __post_init__(self) -> None:
        _set(self, "initial", _number(self.name, "initial", self.initial))
        _set(self, "decay_steps", _steps(self.name, "decay_steps", self.decay_steps, 1))
        _set(self, "alpha", _number(self.name, "alpha", self.alpha))

    def _value(self, step: int) -> float:
        s = min(step, self.decay_steps)
        c = 0.5 * (1 + math.cos(math.pi * s / self.decay_steps))
        return self.initial * ((1 - self.alpha) * c + self.alpha)


@dataclass(frozen=True)
class CosineDecayRestarts(Schedule):
    """Cosine decay with warm restarts (SGDR).

    Cycle ``i = 0, 1, ...`` lasts ``T_i = first_decay_steps * t_mul ** i`` steps
    and starts at ``S_i = T_0 + ... + T_(i-1)``. Within it, with
    ``x = (t - S_i) / T_i``::

        lr(t) = initial * ((1 - alpha) * m_mul ** i * (1 + cos(pi * x)) / 2 + alpha)

    so each restart jumps back to ``m_mul ** i * initial`` (the floor
    ``alpha * initial`` is not scaled by ``m_mul``, as in Keras). The cycle index
    comes from the closed form ``i = floor(log(1 + t (t_mul - 1) / T_0) /
    log(t_mul))``, checked against the starts ``S_i`` so that it is exact at
    every restart.

    Args:
        initial: the rate at step 0, a finite number >= 0.
        first_decay_steps: length ``T_0`` of the first cycle, an integer > 0.
        t_mul: growth of the cycle length, >= 1 (Keras also allows < 1, which
            ends the schedule after finitely many steps); default 2.0.
        m_mul: factor on the peak at each restart, > 0; default 1.0.
        alpha: the floor as a fraction of ``initial``, >= 0; default 0.0.

    Example:
        >>> lr = cosine_decay_restarts(1.0, first_decay_steps=2, m_mul=0.5)
        >>> [round(lr(t), 6) for t in range(8)]
        [1.0, 0.5, 0.5, 0.426777, 0.25, 0.073223, 0.25, 0.240485]

    Reference: Loshchilov & Hutter, "SGDR: stochastic gradient descent with warm
    restarts", ICLR 2017; ``tf.keras.optimizers.schedules.CosineDecayRestarts``.
    """

    initial: float
    first_decay_steps: int
    t_mul: float = 2.0
    m_mul: float = 1.0
    alpha: float = 0.0
    name: ClassVar[str] = "cosine_decay_restarts"

    def __post_init__(self) -> None:
        _set(self, "initial", _number(self.name, "initial", self.initial))
        first = _steps(self.name, "first_decay_steps", self.first_decay_steps, 1)
        _set(self, "first_decay_steps", first)
        t_mul = _number(self.name, "t_mul", self.t_mul)
        if t_mul < 1:
            raise ValueError(
                f"{self.name}: t_mul must be >= 1 (cycles that shrink run out), "
                f"got t_mul={t_mul!r}"
            )
        _set(self, "t_mul", t_mul)
        _set(self, "m_mul", _number(self.name, "m_mul", self.m_mul, positive=True))
        _set(self, "alpha", _number(self.name, "alpha", self.alpha))

    def _start(self, i: int) -> float:
        """The step S_i at which cycle i begins (a geometric sum)."""
        return self.first_decay_steps * (self.t_mul**i - 1) / (self.t_mul - 1)

    def _value(self, step: int) -> float:
        T0, t_mul = self.first_decay_steps, self.t_mul
        if t_mul == 1:
            i, offset = divmod(step, T0)
            x = offset / T0
        else:
            i = math.floor(math.log1p(step * (t_mul - 1) / T0) / math.log(t_mul))
            # The logarithm can round to the neighbouring cycle right at a
            # restart; the starts decide.
            while i > 0 and step < self._start(i):
                i -= 1
            while step >= self._start(i + 1):
                i += 1
            x = (step - self._start(i)) / (T0 * t_mul**i)
        c = 0.5 * self.m_mul**i * (1 + math.cos(math.pi * x))
        return self.initial * ((1 - self.alpha) * c + self.alpha)


@dataclass(frozen=True)
class PiecewiseConstant(Schedule):
    """Constant pieces: ``lr(t) = values[i]`` for ``b[i-1] < t <= b[i]``.

    Here ``b = boundaries``, with ``b[-1] = -inf`` and ``b[n] = +inf`` at the
    ends: ``values[0]`` holds up to and including step ``boundaries[0]``. This
    is Keras' convention; Optax's ``piecewise_constant_schedule`` switches at
    the boundary itself (see :func:`piecewise_constant_schedule`).

    Args:
        boundaries: strictly increasing integer steps >= 0.
        values: the rates, finite numbers >= 0, one more than ``boundaries``.

    Example:
        >>> lr = piecewise_constant([2, 4], [1.0, 0.5, 0.1])
        >>> [lr(t) for t in range(6)]
        [1.0, 1.0, 1.0, 0.5, 0.5, 0.1]

    Reference: ``tf.keras.optimizers.schedules.PiecewiseConstantDecay``.
    """

    boundaries: tuple[int, ...]
    values: tuple[float, ...]
    name: ClassVar[str] = "piecewise_constant"

    def __post_init__(self) -> None:
        b = _increasing(
            self.name, "boundaries", _sequence(self.name, "boundaries", self.boundaries)
        )
        v = _sequence(self.name, "values", self.values)
        if len(v) != len(b) + 1:
            raise ValueError(
                f"{self.name}: values must have one more entry than boundaries, "
                f"got {len(b)} boundaries {list(b)} and {len(v)} values {list(v)}"
            )
        v = tuple(_number(self.name, f"values[{i}]", x) for i, x in enumerate(v))
        _set(self, "boundaries", b)
        _set(self, "values", v)

    def _value(self, step: int) -> float:
        return self.values[bisect.bisect_left(self.boundaries, step)]


@dataclass(frozen=True)
class LinearWarmup(Schedule):
    """A linear ramp from ``start`` to ``schedule(0)``, then ``schedule``.

    With ``w = warmup_steps``::

        lr(t) = start + (schedule(0) - start) * t / w    if t < w
        lr(t) = schedule(t - w)                          if t >= w

    After the warmup the wrapped schedule counts its own steps from 0, as
    Optax's joined warmups and Keras' ``CosineDecay(warmup_steps=...)`` do, so
    the whole run lasts ``w`` steps longer than the wrapped schedule.

    Args:
        schedule: the schedule after the warmup (a number means a constant).
        warmup_steps: length of the ramp, an integer >= 0 (0: no warmup).
        start: the rate at step 0, a finite number >= 0; default 0.0.

    Example:
        >>> lr = linear_warmup(constant(1.0), warmup_steps=4)
        >>> [lr(t) for t in range(6)]
        [0.0, 0.25, 0.5, 0.75, 1.0, 1.0]

    Reference: Goyal et al., "Accurate, large minibatch SGD", 2017 (gradual
    warmup); ``optax.warmup_cosine_decay_schedule``.
    """

    schedule: Schedule
    warmup_steps: int
    start: float = 0.0
    name: ClassVar[str] = "linear_warmup"

    def __post_init__(self) -> None:
        _set(self, "schedule", _schedule_arg(self.name, "schedule", self.schedule))
        w = _steps(self.name, "warmup_steps", self.warmup_steps, 0)
        _set(self, "warmup_steps", w)
        _set(self, "start", _number(self.name, "start", self.start))

    def _value(self, step: int) -> float:
        w = self.warmup_steps
        if step < w:
            peak = self.schedule._value(0)
            return self.start + (peak - self.start) * step / w
        return self.schedule._value(step - w)


@dataclass(frozen=True)
class Join(Schedule):
    """Schedules one after another, switching at the given steps.

    With ``b = boundaries`` (``b[-1] = 0``), ``lr(t) = schedules[i](t - b[i-1])``
    for ``b[i-1] <= t < b[i]``: each schedule counts its own steps from 0 and
    takes over *at* its boundary.

    Args:
        schedules: the pieces, Schedules (a number means a constant).
        boundaries: strictly increasing integer steps >= 0, one fewer than
            ``schedules``.

    Example:
        >>> lr = join([constant(1.0), exponential_decay(0.5, 1, 0.5)], [3])
        >>> [lr(t) for t in range(6)]
        [1.0, 1.0, 1.0, 0.5, 0.25, 0.125]

    Reference: ``optax.join_schedules``.
    """

    schedules: tuple[Schedule, ...]
    boundaries: tuple[int, ...]
    name: ClassVar[str] = "join"

    def __post_init__(self) -> None:
        s = _sequence(self.name, "schedules", self.schedules)
        s = tuple(
            _schedule_arg(self.name, f"schedules[{i}]", x) for i, x in enumerate(s)
        )
        b = _increasing(
            self.name, "boundaries", _sequence(self.name, "boundaries", self.boundaries)
        )
        if not s or len(b) != len(s) - 1:
            raise ValueError(
                f"{self.name}: boundaries must have one entry fewer than schedules, "
                f"got {len(s)} schedules and {len(b)} boundaries {list(b)}"
            )
        _set(self, "schedules", s)
        _set(self, "boundaries", b)

    def _value(self, step: int) -> float:
        i = bisect.bisect_right(self.boundaries, step)
        begin = self.boundaries[i - 1] if i else 0
        return self.schedules[i]._value(step - begin)


# The names of the issue and of Keras' functional style.
constant = Constant
exponential_decay = ExponentialDecay
polynomial_decay = PolynomialDecay
inverse_time_decay = InverseTimeDecay
inverse_sqrt_decay = InverseSqrtDecay
cosine_decay = CosineDecay
cosine_decay_restarts = CosineDecayRestarts
piecewise_constant = PiecewiseConstant
linear_warmup = LinearWarmup
join = Join


# ----------------------------------------------------------------------------
# Optax's names, with Optax's arguments, built from the schedules above.


def constant_schedule(value: float) -> Schedule:
    """Optax's name for :func:`constant`.

    >>> constant_schedule(0.5)(7)
    0.5
    """
    return Constant(value)


def polynomial_schedule(
    init_value: float,
    end_value: float,
    power: float,
    transition_steps: int,
    transition_begin: int = 0,
) -> Schedule:
    """Optax's polynomial schedule: constant for ``transition_begin`` steps,
    then :func:`polynomial_decay` over ``transition_steps``.

    Unlike Optax, ``transition_steps <= 0`` raises ``ValueError``.

    >>> polynomial_schedule(1.0, 0.0, 1.0, transition_steps=2, transition_begin=1)(2)
    0.5
    """
    decay = PolynomialDecay(init_value, transition_steps, end_value, power)
    begin = _steps("polynomial_schedule", "transition_begin", transition_begin, 0)
    if begin == 0:
        return decay
    return Join([Constant(init_value), decay], [begin])


def linear_schedule(
    init_value: float,
    end_value: float,
    transition_steps: int,
    transition_begin: int = 0,
) -> Schedule:
    """Optax's linear schedule: :func:`polynomial_schedule` with ``power=1``.

    >>> linear_schedule(0.0, 1.0, transition_steps=4)(1)
    0.25
    """
    return polynomial_schedule(
        init_value, end_value, 1.0, transition_steps, transition_begin
    )


def cosine_decay_schedule(
    init_value: float, decay_steps: int, alpha: float = 0.0
) -> Schedule:
    """Optax's name for :func:`cosine_decay` (Optax's ``exponent`` is not
    supported).

    >>> cosine_decay_schedule(1.0, decay_steps=2)(1)
    0.5
    """
    return CosineDecay(init_value, decay_steps, alpha)


def piecewise_constant_schedule(
    init_value: float, boundaries_and_scales: Mapping[int, float] | None = None
) -> Schedule:
    """Optax's piecewise constant schedule: scale the rate *at* each boundary.

    ``lr(t) = init_value * product of scales[b] over boundaries b <= t``. Built
    as a :func:`piecewise_constant` whose boundaries are one less, since the
    Keras convention switches after a boundary rather than at it; the config
    therefore shows ``b - 1``.

    >>> lr = piecewise_constant_schedule(1.0, {2: 0.5, 4: 0.1})
    >>> [lr(t) for t in range(6)]
    [1.0, 1.0, 0.5, 0.5, 0.05, 0.05]
    """
    where = "piecewise_constant_schedule"
    value = _number(where, "init_value", init_value)
    boundaries: list[int] = []
    values = [value]
    for b, scale in sorted((boundaries_and_scales or {}).items()):
        b = _steps(where, "boundary", b, 0)
        value *= _number(where, f"boundaries_and_scales[{b}]", scale)
        if b == 0:
            values[0] = value  # in force from the first step
        else:
            boundaries.append(b - 1)
            values.append(value)
    return PiecewiseConstant(boundaries, values)


join_schedules = Join


def warmup_cosine_decay_schedule(
    init_value: float,
    peak_value: float,
    warmup_steps: int,
    decay_steps: int,
    end_value: float = 0.0,
) -> Schedule:
    """Optax's linear warmup to ``peak_value``, then cosine decay to ``end_value``.

    As in Optax, ``decay_steps`` is the length of the whole schedule, warmup
    included: the cosine lasts ``decay_steps - warmup_steps`` steps. When the
    warmup takes the whole length the ramp is followed by ``end_value`` (Optax
    rejects that case). Optax's ``exponent`` is not supported.

    >>> lr = warmup_cosine_decay_schedule(0.0, 1.0, 4, 12)
    >>> [round(lr(t), 6) for t in (0, 2, 4, 8, 12)]
    [0.0, 0.5, 1.0, 0.5, 0.0]
    """
    where = "warmup_cosine_decay_schedule"
    w = _steps(where, "warmup_steps", warmup_steps, 0)
    total = _steps(where, "decay_steps", decay_steps, max(w, 1))
    peak = _number(where, "peak_value", peak_value)
    end = _number(where, "end_value", end_value)
    if total == w:
        ramp = PolynomialDecay(init_value, w, end=peak, power=1.0)
        return Join([ramp, Constant(end)], [w])
    alpha = 0.0 if peak == 0 else end / peak
    return LinearWarmup(CosineDecay(peak, total - w, alpha), w, start=init_value)


def sgdr_schedule(cosine_kwargs: Sequence[Mapping[str, Any]]) -> Schedule:
    """Optax's SGDR: :func:`warmup_cosine_decay_schedule` cycles, one after another.

    Each dict holds one cycle's arguments; its ``decay_steps`` is the cycle's
    length. For restarts of growing length with one formula, see
    :func:`cosine_decay_restarts`.

    >>> cycle = dict(init_value=1.0, peak_value=1.0, warmup_steps=0, decay_steps=2)
    >>> lr = sgdr_schedule([cycle, cycle])
    >>> [lr(t) for t in range(4)]
    [1.0, 0.5, 1.0, 0.5]
    """
    cosine_kwargs = list(cosine_kwargs)
    cycles = [warmup_cosine_decay_schedule(**kwargs) for kwargs in cosine_kwargs]
    if not cycles:
        raise ValueError("sgdr_schedule: cosine_kwargs must list at least one cycle")
    boundaries = []
    step = 0
    for kwargs in cosine_kwargs[:-1]:
        step += kwargs["decay_steps"]
        boundaries.append(step)
    return Join(cycles, boundaries)


# ----------------------------------------------------------------------------
# Names, configs and plain learning rates.

#: Every schedule by its config name.
SCHEDULES: Mapping[str, type[Schedule]] = MappingProxyType(
    {
        cls.name: cls
        for cls in (
            Constant,
            ExponentialDecay,
            PolynomialDecay,
            InverseTimeDecay,
            InverseSqrtDecay,
            CosineDecay,
            CosineDecayRestarts,
            PiecewiseConstant,
            LinearWarmup,
            Join,
        )
    }
)


def from_config(config: Mapping[str, Any]) -> Schedule:
    """Rebuild a schedule from ``Schedule.to_config()``.

    Args:
        config: a dict with ``"name"`` (a key of :data:`SCHEDULES`) and the
            schedule's arguments; nested schedules as nested configs.

    Returns:
        The schedule.

    Example:
        >>> from_config({"name": "cosine_decay", "initial": 0.1, "decay_steps": 100})
        CosineDecay(initial=0.1, decay_steps=100, alpha=0.0)
    """
    if not isinstance(config, Mapping) or "name" not in config:
        raise TypeError(
            f"from_config: config must be a dict with a 'name' key, got {config!r}"
        )
    name = config["name"]
    if name not in SCHEDULES:
        raise ValueError(
            f"from_config: unknown schedule name={name!r}; "
            f"choose one of {', '.join(SCHEDULES)}"
        )
    cls = SCHEDULES[name]
    params = {f.name: f for f in fields(cls)}  # type: ignore[arg-type]
    kwargs = {k: v for k, v in config.items() if k != "name"}
    unknown = sorted(set(kwargs) - set(params))
    missing = [
        k
        for k, f in params.items()
        if k not in kwargs and f.default is MISSING and f.default_factory is MISSING
    ]
    if unknown or missing:
        raise ValueError(
            f"from_config: {name} takes {', '.join(params)}; "
            f"got unknown {unknown} and missing {missing}"
        )
    for key, value in kwargs.items():
        if isinstance(value, Mapping):
            kwargs[key] = from_config(value)
        elif isinstance(value, list | tuple) and any(
            isinstance(v, Mapping) for v in value
        ):
            kwargs[key] = [
                from_config(v) if isinstance(v, Mapping) else v for v in value
            ]
    return cls(**kwargs)


def as_schedule(lr: float | Callable[[int], float]) -> Callable[[int], float]:
    """A learning rate as a schedule: a number becomes :func:`constant`.

    A Schedule or any other callable of the step is returned unchanged.

    Args:
        lr: a number >= 0 or a callable ``step -> rate``.

    Example:
        >>> as_schedule(0.01)
        Constant(lr=0.01)
    """
    if callable(lr):
        return lr
    if _is_real(lr):
        return Constant(lr)
    raise TypeError(
        f"lr must be a number or a schedule (a callable of the step), "
        f"got lr={lr!r} ({type(lr).__name__})"
    )
