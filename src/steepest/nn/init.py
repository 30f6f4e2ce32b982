"""Initialisers: the random starting values of a layer's parameters.

Each function returns a new array of the given shape. The random ones take an
explicit :class:`numpy.random.Generator` (there is no module-level RNG), so a
model built twice from the same seed is the same model.

Fans follow the ``(out_features, in_features)`` layout of
:class:`steepest.nn.Linear`: ``fan_in = shape[1]`` and ``fan_out = shape[0]``,
each multiplied by the receptive field ``prod(shape[2:])`` for shapes of more
than two axes (convolution kernels ``(out, in, *kernel)``). A vector has
``fan_in = fan_out = shape[0]``.

Distributions and variances:

- ``glorot_uniform``: ``U(-a, a)``, ``a = sqrt(6 / (fan_in + fan_out))``;
  variance ``2 / (fan_in + fan_out)``.
- ``he_normal``: ``N(0, 2 / fan_in)``; variance ``2 / fan_in``.
- ``he_uniform``: ``U(-a, a)``, ``a = sqrt(6 / fan_in)``; variance ``2 / fan_in``.
- ``normal``: ``N(0, std**2)``; variance ``std**2``.
- ``zeros``: all zeros.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from steepest.backend import DEFAULT_FLOAT, xp
from steepest.tensor import Array

__all__ = [
    "fans",
    "glorot_uniform",
    "he_normal",
    "he_uniform",
    "normal",
    "zeros",
    "INITIALIZERS",
]

Shape = int | Sequence[int]
#: An initialiser: ``(shape, rng, dtype) -> array``.
Initializer = Callable[[Shape, np.random.Generator, DTypeLike], Array]


def _shape(shape: Shape, name: str) -> tuple[int, ...]:
    dims = (shape,) if isinstance(shape, int | np.integer) else tuple(shape)
    for n in dims:
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0:
            raise ValueError(
                f"{name}: shape must be non-negative integers, got {tuple(dims)}"
            )
    return tuple(int(n) for n in dims)


def _check_rng(rng: Any, name: str) -> None:
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"{name}: rng must be a numpy.random.Generator, got "
            f"{type(rng).__name__}; make one with numpy.random.default_rng(seed)"
        )


def _as_generator(rng: np.random.Generator | int | None, name: str) -> Any:
    """The Generator behind a layer's ``rng`` argument.

    None means seed 0 (so an unseeded model is still reproducible), an int is
    a seed, and a Generator is used as it is (and advanced).
    """
    if rng is None:
        return np.random.default_rng(0)
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, int | np.integer) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    raise TypeError(
        f"{name}: rng must be None, an int seed or a numpy.random.Generator, "
        f"got {type(rng).__name__}"
    )


def fans(shape: Shape) -> tuple[int, int]:
    """Return ``(fan_in, fan_out)`` of a parameter of ``shape``.

    For ``(out, in, *kernel)``: ``fan_in = in * prod(kernel)`` and
    ``fan_out = out * prod(kernel)``; a vector ``(n,)`` has both equal to ``n``.

    Args:
        shape: the parameter's shape, at least one axis.

    Example:
        >>> fans((200, 784))
        (784, 200)
        >>> fans((16, 3, 5, 5))
        (75, 400)
    """
    dims = _shape(shape, "fans")
    if not dims:
        raise ValueError("fans: a scalar has no fans; give a shape of 1 or more axes")
    if len(dims) == 1:
        return dims[0], dims[0]
    receptive = math.prod(dims[2:])
    return dims[1] * receptive, dims[0] * receptive


def glorot_uniform(
    shape: Shape, rng: np.random.Generator, dtype: DTypeLike = DEFAULT_FLOAT
) -> Array:
    """Glorot (Xavier) uniform: ``U(-a, a)`` with ``a = sqrt(6 / (fan_in + fan_out))``.

    The variance is ``a**2 / 3 = 2 / (fan_in + fan_out)``, the compromise
    between keeping the forward signal's variance (``1 / fan_in``) and the
    backward gradient's (``1 / fan_out``) for a linear unit. Keras's default
    for dense layers, and the default of :class:`steepest.nn.Linear`.

    Args:
        shape: the shape, ``(out_features, in_features)`` for a weight.
        rng: the random generator (advanced by the call).
        dtype: the dtype of the result (default float32).

    Reference:
        Glorot and Bengio, "Understanding the difficulty of training deep
        feedforward neural networks", AISTATS 2010.

    Example:
        >>> import numpy as np
        >>> w = glorot_uniform((3, 5), np.random.default_rng(0))
        >>> w.shape, w.dtype, bool(np.abs(w).max() <= np.sqrt(6 / 8))
        ((3, 5), dtype('float32'), True)
    """
    _check_rng(rng, "glorot_uniform")
    fan_in, fan_out = fans(shape)
    if fan_in + fan_out == 0:
        return zeros(shape, dtype=dtype)
    a = math.sqrt(6.0 / (fan_in + fan_out))
    return xp.asarray(rng.uniform(-a, a, _shape(shape, "glorot_uniform")), dtype)


def he_normal(
    shape: Shape, rng: np.random.Generator, dtype: DTypeLike = DEFAULT_FLOAT
) -> Array:
    """He (Kaiming) normal: ``N(0, 2 / fan_in)``.

    Keeps the variance of the activations constant through ReLU layers, which
    zero half of their input. As PyTorch's ``kaiming_normal_`` (fan_in mode);
    Keras's ``HeNormal`` truncates the normal at two standard deviations
    instead.

    Args:
        shape: the shape, ``(out_features, in_features)`` for a weight.
        rng: the random generator (advanced by the call).
        dtype: the dtype of the result (default float32).

    Reference:
        He et al., "Delving deep into rectifiers", ICCV 2015.

    Example:
        >>> import numpy as np
        >>> he_normal((2, 3), np.random.default_rng(0)).shape
        (2, 3)
    """
    _check_rng(rng, "he_normal")
    fan_in, _ = fans(shape)
    if fan_in == 0:
        return zeros(shape, dtype=dtype)
    std = math.sqrt(2.0 / fan_in)
    return xp.asarray(rng.normal(0.0, std, _shape(shape, "he_normal")), dtype)


def he_uniform(
    shape: Shape, rng: np.random.Generator, dtype: DTypeLike = DEFAULT_FLOAT
) -> Array:
    """He (Kaiming) uniform: ``U(-a, a)`` with ``a = sqrt(6 / fan_in)``.

    The same variance as :func:`he_normal`, ``a**2 / 3 = 2 / fan_in``.

    Args:
        shape: the shape, ``(out_features, in_features)`` for a weight.
        rng: the random generator (advanced by the call).
        dtype: the dtype of the result (default float32).

    Reference:
        He et al., "Delving deep into rectifiers", ICCV 2015.

    Example:
        >>> import numpy as np
        >>> w = he_uniform((4, 6), np.random.default_rng(0))
        >>> bool(np.abs(w).max() <= 1.0)
        True
    """
    _check_rng(rng, "he_uniform")
    fan_in, _ = fans(shape)
    if fan_in == 0:
        return zeros(shape, dtype=dtype)
    a = math.sqrt(6.0 / fan_in)
    return xp.asarray(rng.uniform(-a, a, _shape(shape, "he_uniform")), dtype)


def normal(
    shape: Shape,
    rng: np.random.Generator,
    std: float,
    dtype: DTypeLike = DEFAULT_FLOAT,
) -> Array:
    """Normal with mean 0 and a given standard deviation: ``N(0, std**2)``.

    Args:
        shape: the shape.
        rng: the random generator (advanced by the call).
        std: the standard deviation, finite and >= 0 (no default: the right
            scale depends on the layer, e.g. 0.02 in GPT-2).
        dtype: the dtype of the result (default float32).

    Example:
        >>> import numpy as np
        >>> w = normal((1000,), np.random.default_rng(0), std=0.02)
        >>> bool(0.015 < w.std() < 0.025)
        True
    """
    _check_rng(rng, "normal")
    if not (math.isfinite(std) and std >= 0):
        raise ValueError(
            f"normal: std must be finite and >= 0, got std={std}; the variance "
            "of the result is std**2"
        )
    return xp.asarray(rng.normal(0.0, std, _shape(shape, "normal")), dtype)


def zeros(
    shape: Shape,
    rng: np.random.Generator | None = None,
    dtype: DTypeLike = DEFAULT_FLOAT,
) -> Array:
    """All zeros: the default for biases (as Keras and as most practice).

    Args:
        shape: the shape.
        rng: ignored (default None); accepted so that ``zeros`` has the same
            signature as the random initialisers.
        dtype: the dtype of the result (default float32).

    Example:
        >>> zeros((2,))
        array([0., 0.], dtype=float32)
    """
    return xp.zeros(_shape(shape, "zeros"), dtype=dtype)


#: The initialisers a layer accepts by name.
INITIALIZERS: dict[str, Initializer] = {
    "glorot_uniform": glorot_uniform,
    "he_normal": he_normal,
    "he_uniform": he_uniform,
    "zeros": zeros,
}


def _resolve(init: str | Initializer, name: str) -> Initializer:
    """An initialiser given by name or as a callable."""
    if callable(init):
        return init
    if init not in INITIALIZERS:
        valid = ", ".join(repr(k) for k in INITIALIZERS)
        raise ValueError(
            f"{name}: unknown initialiser {init!r}; valid names are {valid}, or "
            "pass a function (shape, rng, dtype) -> array"
        )
    return INITIALIZERS[init]
