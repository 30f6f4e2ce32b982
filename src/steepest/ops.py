"""Every differentiable function: a forward and its vector-Jacobian product.

Each op computes its result on arrays and, when an input needs a gradient and
recording is on, returns a graph node with a closure ``vjp(g)`` that maps the
gradient ``g`` of the result to one gradient (or None) per input. A gradient
is never computed for an input that does not need one: ``linear`` skips
``dL/dx`` for the data, for instance.

Conventions:

- Broadcasting: the gradient of a broadcast operand is summed back to its
  shape (leading axes and size-1 axes).
- ``relu'(0) = 0``, ``abs'(0) = 0``; ``clip`` passes the gradient where
  ``low <= x <= high``.
- ``max``/``min`` (reductions) split the gradient evenly between tied
  elements; ``maximum``/``minimum`` (elementwise) give half to each side of a
  tie.
- Comparisons return boolean tensors and carry no gradient.
- A non-Tensor operand (a number, a list, an ndarray) is a constant; it takes
  the floating dtype of the Tensor beside it, so float32 stays float32.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

from steepest import kernels
from steepest.backend import xp
from steepest.kernels import Kernel
from steepest.tensor import Array, Tensor, _claim_zeroed_grad, _GradMode

__all__ = [
    "add",
    "sub",
    "mul",
    "div",
    "pow",
    "neg",
    "matmul",
    "exp",
    "log",
    "sqrt",
    "abs",
    "sum",
    "mean",
    "max",
    "min",
    "reshape",
    "transpose",
    "getitem",
    "concatenate",
    "stack",
    "where",
    "maximum",
    "minimum",
    "clip",
    "relu",
    "sigmoid",
    "tanh",
    "softplus",
    "softmax",
    "log_softmax",
    "logsumexp",
    "linear",
    "softmax_cross_entropy",
    "lt",
    "le",
    "gt",
    "ge",
    "eq",
    "ne",
]

# -- helpers ------------------------------------------------------------------


def _needs(*tensors: Tensor) -> bool:
    """True when recording is on and some input requires a gradient."""
    if not _GradMode.enabled:
        return False
    for t in tensors:
        if t.requires_grad:
            return True
    return False


def _lift(x: Any, like: Tensor | None = None) -> Tensor:
    """Make a constant Tensor of ``x``; floats follow ``like``'s float dtype."""
    if isinstance(x, Tensor):
        return x
    array = xp.asarray(x)
    if like is not None and like.data.dtype.kind == "f":
        if array.dtype.kind in "fiub" and array.dtype != like.data.dtype:
            array = array.astype(like.data.dtype)
    elif array.dtype.kind == "f" and array.dtype != xp.float32 and array.ndim == 0:
        array = array.astype(xp.float32)
    return Tensor._wrap(array)


def _pair(a: Any, b: Any) -> tuple[Tensor, Tensor]:
    if isinstance(a, Tensor):
        return a, _lift(b, a)
    b = _lift(b)
    return _lift(a, b), b


def _unbroadcast(g: Array, shape: tuple[int, ...]) -> Array:
    """Sum ``g`` over the axes along which an operand of ``shape`` was broadcast."""
    if g.shape == shape:
        return g
    extra = g.ndim - len(shape)
    if extra:
        g = g.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return g.reshape(shape)


def _broadcast_error(name: str, a: Tensor, b: Tensor) -> ValueError:
    return ValueError(
        f"{name}: shapes {a.shape} and {b.shape} cannot be broadcast together; "
        "each axis (aligned from the right) must be equal or 1"
    )


# -- arithmetic ---------------------------------------------------------------


def add(a: Any, b: Any) -> Tensor:
    """Elementwise ``a + b`` with broadcasting."""
    a, b = _pair(a, b)
    try:
        out = a.data + b.data
    except ValueError:
        raise _broadcast_error("add", a, b) from None
    if not _needs(a, b):
        return Tensor._wrap(out)

    def vjp(g: Array) -> tuple[Array | None, Array | None]:
        return (
            _unbroadcast(g, a.data.shape) if a.requires_grad else None,
            _unbroadcast(g, b.data.shape) if b.requires_grad else None,
        )

    return Tensor._node(out, (a, b), vjp)


def sub(a: Any, b: Any) -> Tensor:
    """Elementwise ``a - b`` with broadcasting."""
    a, b = _pair(a, b)
    try:
        out = a.data - b.data
    except ValueError:
        raise _broadcast_error("sub", a, b) from None
    if not _needs(a, b):
        return Tensor._wrap(out)

    def vjp(g: Array) -> tuple[Array | None, Array | None]:
        return (
            _unbroadcast(g, a.data.shape) if a.requires_grad else None,
            _unbroadcast(-g, b.data.shape) if b.requires_grad else None,
        )

    return Tensor._node(out, (a, b), vjp)


def mul(a: Any, b: Any) -> Tensor:
    """Elementwise ``a * b`` with broadcasting."""
    a, b = _pair(a, b)
    try:
        out = a.data * b.data
    except ValueError:
        raise _broadcast_error("mul", a, b) from None
    if not _needs(a, b):
        return Tensor._wrap(out)

    def vjp(g: Array) -> tuple[Array | None, Array | None]:
        return (
            _unbroadcast(g * b.data, a.data.shape) if a.requires_grad else None,
            _unbroadcast(g * a.data, b.data.shape) if b.requires_grad else None,
        )

    return Tensor._node(out, (a, b), vjp)


def div(a: Any, b: Any) -> Tensor:
    """Elementwise ``a / b`` with broadcasting."""
    a, b = _pair(a, b)
    try:
        out = a.data / b.data
    except ValueError:
        raise _broadcast_error("div", a, b) from None
    if not _needs(a, b):
        return Tensor._wrap(out)

    def vjp(g: Array) -> tuple[Array | None, Array | None]:
        ga = g / b.data
        # d(a/b)/db = -a/b^2 = -(a/b)/b
        gb = -ga * out if b.requires_grad else None
        return (
            _unbroadcast(ga, a.data.shape) if a.requires_grad else None,
            _unbroadcast(gb, b.data.shape) if gb is not None else None,
        )

    return Tensor._node(out, (a, b), vjp)


def pow(a: Any, b: Any) -> Tensor:
    """Elementwise ``a ** b``; the gradient in ``b`` is ``a**b * log(a)``, taken
    as 0 where ``a <= 0`` (where the logarithm is undefined; JAX gives NaN
    there for ``a < 0``)."""
    a, b = _pair(a, b)
    try:
        out = a.data**b.data
    except ValueError:
        raise _broadcast_error("pow", a, b) from None
    if not _needs(a, b):
        return Tensor._wrap(out)

    def vjp(g: Array) -> tuple[Array | None, Array | None]:
        ga = gb = None
        if a.requires_grad:
            ga = _unbroadcast(g * b.data * a.data ** (b.data - 1), a.data.shape)
        if b.requires_grad:
            safe = xp.where(a.data > 0, a.data, 1)
            gb = _unbroadcast(g * out * xp.log(safe), b.data.shape)
        return ga, gb

    return Tensor._node(out, (a, b), vjp)


def neg(a: Tensor) -> Tensor:
    """Elementwise ``-a``."""
    out = -a.data
    if not _needs(a):
        return Tensor._wrap(out)
    return Tensor._node(out, (a,), lambda g: (-g,))


def matmul(a: Any, b: Any) -> Tensor:
    """Matrix product ``a @ b`` of vectors, matrices or stacks of matrices.

    Follows NumPy's rules: a 1-D operand is a vector (a row on the left, a
    column on the right); leading (batch) axes broadcast.
    """
    a, b = _pair(a, b)
    try:
        out = a.data @ b.data
    except ValueError:
        inner_a = a.shape[-1] if a.ndim else None
        inner_b = (b.shape[-2] if b.ndim > 1 else b.shape[0]) if b.ndim else None
        raise ValueError(
            f"matmul: shapes {a.shape} and {b.shape} do not align: "
            f"{inner_a} != {inner_b}"
        ) from None
    if not _needs(a, b):
        return Tensor._wrap(out)

    def vjp(g: Array) -> tuple[Array | None, Array | None]:
        # Promote vectors to matrices, then undo it on the way out.
        a2 = a.data if a.data.ndim > 1 else a.data[None, :]
        b2 = b.data if b.data.ndim > 1 else b.data[:, None]
        g2 = g
        if b.data.ndim == 1:
            g2 = xp.expand_dims(g2, -1)
        if a.data.ndim == 1:
            g2 = xp.expand_dims(g2, -2)
        ga = gb = None
        if a.requires_grad:
            ga = _unbroadcast(g2 @ xp.swapaxes(b2, -1, -2), a2.shape)
            ga = ga.reshape(a.data.shape)
        if b.requires_grad:
            gb = _unbroadcast(xp.swapaxes(a2, -1, -2) @ g2, b2.shape)
            gb = gb.reshape(b.data.shape)
        return ga, gb

    return Tensor._node(out, (a, b), vjp)


# -- elementwise functions ----------------------------------------------------


def exp(x: Tensor) -> Tensor:
    """Elementwise ``e ** x``."""
    out = xp.exp(x.data)
    if not _needs(x):
        return Tensor._wrap(out)
    return Tensor._node(out, (x,), lambda g: (g * out,))


def log(x: Tensor) -> Tensor:
    """Elementwise natural logarithm."""
    out = xp.log(x.data)
    if not _needs(x):
        return Tensor._wrap(out)
    return Tensor._node(out, (x,), lambda g: (g / x.data,))


def sqrt(x: Tensor) -> Tensor:
    """Elementwise square root."""
    out = xp.sqrt(x.data)
    if not _needs(x):
        return Tensor._wrap(out)
    return Tensor._node(out, (x,), lambda g: (g / (2 * out),))


def abs(x: Tensor) -> Tensor:
    """Elementwise absolute value; the gradient at 0 is 0."""
    out = xp.abs(x.data)
    if not _needs(x):
        return Tensor._wrap(out)
    return Tensor._node(out, (x,), lambda g: (g * xp.sign(x.data),))


def relu(x: Tensor) -> Tensor:
    """Elementwise ``max(x, 0)``; the gradient at 0 is 0."""
    out = xp.maximum(x.data, 0)
    if not _needs(x):
        return Tensor._wrap(out)
    return Tensor._node(out, (x,), lambda g: (g * (out > 0),))


def _sigmoid(z: Array) -> Array:
    # exp(-|z|) never overflows: 1/(1+e) for z >= 0, e/(1+e) for z < 0.
    e = xp.exp(-xp.abs(z))
    return xp.where(z >= 0, 1, e) / (1 + e)


def sigmoid(x: Tensor) -> Tensor:
    """Elementwise logistic function ``1 / (1 + e**-x)``, stable for any x."""
    out = _sigmoid(x.data)
    if not _needs(x):
        return Tensor._wrap(out)
    return Tensor._node(out, (x,), lambda g: (g * out * (1 - out),))


def tanh(x: Tensor) -> Tensor:
    """Elementwise hyperbolic tangent."""
    out = xp.tanh(x.data)
    if not _needs(x):
        return Tensor._wrap(out)
    return Tensor._node(out, (x,), lambda g: (g * (1 - out * out),))


def softplus(x: Tensor) -> Tensor:
    """Elementwise ``log(1 + e**x)``, stable for any x; its derivative is the
    sigmoid."""
    out = xp.maximum(x.data, 0) + xp.log1p(xp.exp(-xp.abs(x.data)))
    if not _needs(x):
        return Tensor._wrap(out)
    return Tensor._node(out, (x,), lambda g: (g * _sigmoid(x.data),))


def clip(x: Tensor, low: float | None = None, high: float | None = None) -> Tensor:
    """Elementwise clamp to ``[low, high]``; the gradient passes where
    ``low <= x <= high`` and is 0 outside."""
    out = xp.clip(x.data, low, high)
    if not _needs(x):
        return Tensor._wrap(out)

    def vjp(g: Array) -> tuple[Array]:
        inside = xp.ones(x.data.shape, dtype=bool)
        if low is not None:
            inside &= x.data >= low
        if high is not None:
            inside &= x.data <= high
        return (g * inside,)

    return Tensor._node(out, (x,), vjp)


def _extremum(name: str, a: Any, b: Any, pick: Any) -> Tensor:
    a, b = _pair(a, b)
    try:
        out = pick(a.data, b.data)
    except ValueError:
        raise _broadcast_error(name, a, b) from None
    if not _needs(a, b):
        return Tensor._wrap(out)

    def vjp(g: Array) -> tuple[Array | None, Array | None]:
        # Share of each side: 1 where it wins, 1/2 on a tie.
        share_a = (a.data == out) * 0.5 + (b.data != out) * 0.5
        share_a = share_a.astype(g.dtype, copy=False)
        return (
            _unbroadcast(g * share_a, a.data.shape) if a.requires_grad else None,
            _unbroadcast(g * (1 - share_a), b.data.shape) if b.requires_grad else None,
        )

    return Tensor._node(out, (a, b), vjp)


def maximum(a: Any, b: Any) -> Tensor:
    """Elementwise maximum; a tie gives half the gradient to each side."""
    return _extremum("maximum", a, b, xp.maximum)


def minimum(a: Any, b: Any) -> Tensor:
    """Elementwise minimum; a tie gives half the gradient to each side."""
    return _extremum("minimum", a, b, xp.minimum)


def where(condition: Any, a: Any, b: Any) -> Tensor:
    """Choose ``a`` where ``condition`` is true, else ``b`` (broadcasting)."""
    cond = condition.data if isinstance(condition, Tensor) else xp.asarray(condition)
    a, b = _pair(a, b)
    try:
        out = xp.where(cond, a.data, b.data)
    except ValueError:
        raise ValueError(
            f"where: shapes {cond.shape}, {a.shape} and {b.shape} cannot be "
            "broadcast together"
        ) from None
    if not _needs(a, b):
        return Tensor._wrap(out)

    def vjp(g: Array) -> tuple[Array | None, Array | None]:
        zero = xp.zeros((), dtype=g.dtype)
        return (
            _unbroadcast(xp.where(cond, g, zero), a.data.shape)
            if a.requires_grad
            else None,
            _unbroadcast(xp.where(cond, zero, g), b.data.shape)
            if b.requires_grad
            else None,
        )

    return Tensor._node(out, (a, b), vjp)


# -- comparisons (no gradient) ------------------------------------------------


def _compare(pick: Any) -> Any:
    def compare(a: Any, b: Any) -> Tensor:
        a, b = _pair(a, b)
        return Tensor._wrap(pick(a.data, b.data))

    compare.__doc__ = f"Elementwise ``{pick.__name__}``: a boolean tensor, no gradient."
    return compare


lt = _compare(xp.less)
le = _compare(xp.less_equal)
gt = _compare(xp.greater)
ge = _compare(xp.greater_equal)
eq = _compare(xp.equal)
ne = _compare(xp.not_equal)


# -- reductions -----------------------------------------------------------------


def _normalize_axis(axis: Any, ndim: int) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, numbers.Integral) else tuple(axis)
    for ax in axes:
        if not isinstance(ax, numbers.Integral) or not -ndim <= ax < ndim:
            raise ValueError(
                f"axis {ax!r} is out of range for a tensor of {ndim} dimensions; "
                f"use an integer in [{-ndim}, {ndim})"
                + (" or axis=None" if ndim == 0 else "")
            )
    return tuple(sorted(int(ax) % ndim for ax in axes))


def _kept_shape(shape: tuple[int, ...], axes: tuple[int, ...]) -> tuple[int, ...]:
    """``shape`` with the reduced axes as size 1 (the keepdims shape)."""
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


#: Gradients of reductions over at most this many elements are materialised
#: (one small fill); larger ones stay broadcast views, which cost no memory.
_MATERIALIZE_LIMIT = 1 << 16


def _spread(g: Array, kept: tuple[int, ...], shape: tuple[int, ...]) -> Array:
    """The gradient of a reduction, ``g`` spread back over the input's shape."""
    g = g.reshape(kept)
    size = 1
    for n in shape:
        size *= n
    if size > _MATERIALIZE_LIMIT:
        return xp.broadcast_to(g, shape)
    out = xp.empty(shape, dtype=g.dtype)
    out[...] = g
    return out


def sum(x: Tensor, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Sum over ``axis`` (an int, a tuple, or None for all)."""
    x = _lift(x)
    axes = _normalize_axis(axis, x.ndim)
    out = xp.sum(x.data, axis=axes, keepdims=keepdims)
    if not _needs(x):
        return Tensor._wrap(out)

    kept = _kept_shape(x.data.shape, axes)

    def vjp(g: Array) -> tuple[Array]:
        return (_spread(g, kept, x.data.shape),)

    return Tensor._node(out, (x,), vjp)


def mean(x: Tensor, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Mean over ``axis`` (an int, a tuple, or None for all)."""
    x = _lift(x)
    axes = _normalize_axis(axis, x.ndim)
    out = xp.mean(x.data, axis=axes, keepdims=keepdims)
    if not _needs(x):
        return Tensor._wrap(out)
    count = 1
    for ax in axes:
        count *= x.data.shape[ax]
    kept = _kept_shape(x.data.shape, axes)

    def vjp(g: Array) -> tuple[Array]:
        return (_spread(g / count, kept, x.data.shape),)

    return Tensor._node(out, (x,), vjp)


def _reduce_extremum(x: Tensor, axis: Any, keepdims: bool, pick: Any) -> Tensor:
    x = _lift(x)
    axes = _normalize_axis(axis, x.ndim)
    kept = pick(x.data, axis=axes, keepdims=True)
    out = (
        kept
        if keepdims
        else kept.reshape([n for i, n in enumerate(x.data.shape) if i not in axes])
    )
    if not _needs(x):
        return Tensor._wrap(out)

    def vjp(g: Array) -> tuple[Array]:
        hit = x.data == kept
        count = hit.sum(axis=axes, keepdims=True).astype(g.dtype)
        return (hit * (g.reshape(kept.shape) / count),)

    return Tensor._node(out, (x,), vjp)


def max(x: Tensor, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Maximum over ``axis``; tied maxima share the gradient evenly."""
    return _reduce_extremum(x, axis, keepdims, xp.max)


def min(x: Tensor, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Minimum over ``axis``; tied minima share the gradient evenly."""
    return _reduce_extremum(x, axis, keepdims, xp.min)


def logsumexp(x: Tensor, axis: Any = -1, keepdims: bool = False) -> Tensor:
    """``log(sum(exp(x)))`` over ``axis``, stable for any magnitude: the
    maximum is subtracted before exponentiating."""
    x = _lift(x)
    axes = _normalize_axis(axis, x.ndim)
    m = xp.max(x.data, axis=axes, keepdims=True)
    m = xp.where(xp.isfinite(m), m, 0)
    e = xp.exp(x.data - m)
    s = xp.sum(e, axis=axes, keepdims=True)
    kept = xp.log(s) + m
    out = (
        kept
        if keepdims
        else kept.reshape([n for i, n in enumerate(x.data.shape) if i not in axes])
    )
    if not _needs(x):
        return Tensor._wrap(out)

    def vjp(g: Array) -> tuple[Array]:
        return (g.reshape(s.shape) * (e / s),)

    return Tensor._node(out, (x,), vjp)


def softmax(x: Tensor, axis: int = -1) -> Tensor:
    """``exp(x) / sum(exp(x))`` along ``axis``, stable for any magnitude.

    The gradient of ``sum(softmax(x))`` is exactly zero.
    """
    x = _lift(x)
    e = xp.exp(x.data - x.data.max(axis=axis, keepdims=True))
    out = e / e.sum(axis=axis, keepdims=True)
    if not _needs(x):
        return Tensor._wrap(out)

    def vjp(g: Array) -> tuple[Array]:
        # J^T g = s * (g - <g, s>)
        return (out * (g - (g * out).sum(axis=axis, keepdims=True)),)

    return Tensor._node(out, (x,), vjp)


def log_softmax(x: Tensor, axis: int = -1) -> Tensor:
    """``x - logsumexp(x)`` along ``axis``, stable for any magnitude."""
    x = _lift(x)
    z = x.data - x.data.max(axis=axis, keepdims=True)
    out = z - xp.log(xp.exp(z).sum(axis=axis, keepdims=True))
    if not _needs(x):
        return Tensor._wrap(out)

    def vjp(g: Array) -> tuple[Array]:
        return (g - xp.exp(out) * g.sum(axis=axis, keepdims=True),)

    return Tensor._node(out, (x,), vjp)


# -- shapes and indexing ------------------------------------------------------


def reshape(x: Tensor, *shape: Any) -> Tensor:
    """The same values in a new shape (one entry may be -1)."""
    if len(shape) == 1 and not isinstance(shape[0], int):
        shape = tuple(shape[0])
    try:
        out = x.data.reshape(shape)
    except ValueError:
        raise ValueError(
            f"reshape: cannot reshape a tensor of shape {x.shape} "
            f"({x.size} elements) into shape {tuple(shape)}"
        ) from None
    if not _needs(x):
        return Tensor._wrap(out)
    return Tensor._node(out, (x,), lambda g: (g.reshape(x.data.shape),))


def transpose(x: Tensor, *axes: Any) -> Tensor:
    """Permute the axes (reverse them when none are given), as NumPy does."""
    if len(axes) == 1 and not isinstance(axes[0], int):
        axes = tuple(axes[0])
    perm = tuple(axes) if axes else tuple(reversed(range(x.ndim)))
    try:
        out = x.data.transpose(perm)
    except ValueError:
        raise ValueError(
            f"transpose: axes {perm} are not a permutation of the {x.ndim} axes "
            f"of a tensor of shape {x.shape}"
        ) from None
    perm = tuple(int(a) % x.ndim for a in perm)  # negative axes, for the inverse
    if not _needs(x):
        return Tensor._wrap(out)
    inverse = tuple(int(i) for i in xp.argsort(perm))
    return Tensor._node(out, (x,), lambda g: (g.transpose(inverse),))


def _plain_index(index: Any) -> Any:
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, tuple):
        return tuple(i.data if isinstance(i, Tensor) else i for i in index)
    return index


def _is_basic(index: Any) -> bool:
    """True for indices made only of ints, slices, None and Ellipsis: then no
    element is picked twice and the gradient can be assigned, not added."""
    parts = index if isinstance(index, tuple) else (index,)
    for part in parts:
        if part is None or part is Ellipsis or isinstance(part, int | slice):
            continue
        return False
    return True


def getitem(x: Tensor, index: Any) -> Tensor:
    """``x[index]`` with NumPy's basic and advanced (integer-array, boolean)
    indexing; an index repeated in an integer array accumulates its gradient."""
    index = _plain_index(index)
    out = x.data[index]
    if not _needs(x):
        return Tensor._wrap(out)
    basic = _is_basic(index)

    def vjp(g: Array) -> tuple[Array]:
        full = xp.zeros(x.data.shape, dtype=g.dtype)
        if basic:
            full[index] = g
        else:
            xp.add.at(full, index, g)
        return (full,)

    return Tensor._node(out, (x,), vjp)


def _check_join(name: str, items: list[Tensor], axis: int, ndim: int) -> None:
    if not items:
        raise ValueError(f"{name}: needs at least one tensor, got none")
    if not -ndim <= axis < ndim:
        raise ValueError(
            f"{name}: axis {axis} is out of range for the result's {ndim} "
            f"dimensions; use an integer in [{-ndim}, {ndim})"
        )


def concatenate(tensors: Sequence[Any], axis: int = 0) -> Tensor:
    """Join tensors along an existing axis."""
    items = [_lift(t) for t in tensors]
    _check_join("concatenate", items, axis, items[0].ndim if items else 0)
    try:
        out = xp.concatenate([t.data for t in items], axis=axis)
    except ValueError:
        shapes = ", ".join(str(t.shape) for t in items)
        raise ValueError(
            f"concatenate: shapes {shapes} must match except along axis {axis}"
        ) from None
    if not _needs(*items):
        return Tensor._wrap(out)
    ax = axis % out.ndim
    ends = xp.cumsum([t.data.shape[ax] for t in items])[:-1]

    def vjp(g: Array) -> list[Array]:
        return xp.split(g, ends, axis=ax)

    return Tensor._node(out, tuple(items), vjp)


def stack(tensors: Sequence[Any], axis: int = 0) -> Tensor:
    """Join tensors of one shape along a new axis."""
    items = [_lift(t) for t in tensors]
    _check_join("stack", items, axis, items[0].ndim + 1 if items else 0)
    try:
        out = xp.stack([t.data for t in items], axis=axis)
    except ValueError:
        shapes = ", ".join(str(t.shape) for t in items)
        raise ValueError(f"stack: shapes {shapes} must all be equal") from None
    if not _needs(*items):
        return Tensor._wrap(out)
    ax = axis % out.ndim

    def vjp(g: Array) -> list[Array]:
        return [xp.take(g, i, axis=ax) for i in range(len(items))]

    return Tensor._node(out, tuple(items), vjp)


# -- fused ops ----------------------------------------------------------------


def linear(
    x: Tensor, weight: Tensor, bias: Tensor | None = None, activation: str | None = None
) -> Tensor:
    """Fused affine map ``x @ weight.T + bias``, optionally followed by ReLU.

    Args:
        x: inputs, shape ``(..., in_features)``.
        weight: shape ``(out_features, in_features)`` (the PyTorch layout:
            one row per output unit), used through BLAS without a copy.
        bias: shape ``(out_features,)`` or None.
        activation: None or ``"relu"`` (applied in place on the result).

    One node replaces three (matmul, add, relu): the forward writes into one
    array, and the backward computes ``dL/dx`` only when ``x`` needs it.
    """
    x = _lift(x, weight)
    if x.shape[-1:] != weight.shape[1:]:
        raise ValueError(
            f"linear: input of shape {x.shape} does not fit weight of shape "
            f"{weight.shape}: {x.shape[-1] if x.ndim else None} != "
            f"{weight.shape[1] if weight.ndim > 1 else None}"
        )
    if activation not in (None, "relu"):
        raise ValueError(
            f"linear: activation must be None or 'relu', got {activation!r}"
        )
    if bias is not None:
        bias = _lift(bias, weight)
        if bias.shape != weight.shape[:1]:
            raise ValueError(
                f"linear: bias of shape {bias.shape} does not fit weight of shape "
                f"{weight.shape}; expected shape {weight.shape[:1]} (one value per "
                "output unit)"
            )
    x2 = x.data.reshape(-1, x.data.shape[-1]) if x.data.ndim != 2 else x.data
    out = x2 @ weight.data.T  # (batch, out)
    relu = activation == "relu"
    if relu and bias is not None and _compiled(out, bias.data):
        # out += bias; maximum(out, 0): one pass instead of two
        _BIAS_RELU(out.dtype, out.shape[0], (out.ctypes.data, bias.data.ctypes.data),
                   (out.shape[1],))  # fmt: skip
    else:
        if bias is not None:
            out += bias.data
        if relu:
            xp.maximum(out, 0, out=out)
    out_shape = x.data.shape[:-1] + (weight.data.shape[0],)
    result = out.reshape(out_shape) if out.shape != out_shape else out
    parents = (x, weight) if bias is None else (x, weight, bias)
    if not _needs(*parents):
        return Tensor._wrap(result)

    def vjp(g: Array) -> tuple[Array | None, ...]:
        g2 = g.reshape(out.shape)
        if relu:
            if _compiled(out, g2):
                masked = xp.empty_like(out)
                _RELU_GRAD(out.dtype, out.size, _addresses(masked, g2, out), ())
                g2 = masked
            else:
                g2 = g2 * (out > 0)
        gx = None
        if x.requires_grad:
            gx = (g2 @ weight.data).reshape(x.data.shape)
        gw = gb = None
        if weight.requires_grad:
            gw = _claim_zeroed_grad(weight, g2.dtype)
            if gw is None:
                gw = g2.T @ x2
            else:  # straight into the gradient: no temporary, no add
                xp.matmul(g2.T, x2, out=gw)
        if bias is None:
            return gx, gw
        if bias.requires_grad:
            gb = _claim_zeroed_grad(bias, g2.dtype)
            if gb is None:
                gb = g2.sum(axis=0)
            else:
                xp.sum(g2, axis=0, out=gb)
        return gx, gw, gb

    return Tensor._node(result, parents, vjp)


_BIAS_RELU = Kernel("bias_relu", "aai")
_RELU_GRAD = Kernel("relu_grad", "aaa")


def _compiled(out: Array, *others: Array) -> bool:
    """Whether a compiled loop (``steepest.kernels``) may run on these arrays:
    loops on, ``out``'s dtype compiled for, every array contiguous and of
    ``out``'s dtype."""
    return (
        out.dtype in kernels.KERNEL_DTYPES
        and all(a.dtype == out.dtype and a.flags.c_contiguous for a in others)
        and out.flags.c_contiguous
        and kernels.enabled()
    )


def _addresses(*arrays: Array) -> tuple[int, ...]:
    return tuple(a.ctypes.data for a in arrays)


def _check_labels(labels: Array, batch: int, classes: int, name: str) -> None:
    if labels.dtype.kind not in "iu":
        raise ValueError(
            f"{name}: class labels must be integers, got dtype {labels.dtype}; "
            "pass integer classes or probability rows of shape (batch, classes)"
        )
    if labels.shape != (batch,):
        raise ValueError(
            f"{name}: labels of shape {labels.shape} do not match logits of "
            f"batch size {batch}; expected shape ({batch},)"
        )
    if batch:
        low, high = labels.min(), labels.max()
        if low < 0 or high >= classes:
            bad = low if low < 0 else high
            raise ValueError(
                f"{name}: label {bad} is outside the valid range [0, {classes})"
            )


def softmax_cross_entropy(
    logits: Tensor, target: Any, reduction: str = "mean", validate: bool = True
) -> Tensor:
    """Fused ``-log softmax(logits)[target]``: the categorical negative
    log-likelihood of logits, with gradient ``softmax(logits) - onehot``.

    Args:
        logits: shape ``(batch, classes)``.
        target: integer classes of shape ``(batch,)``, or probability rows of
            shape ``(batch, classes)`` (soft labels).
        reduction: ``"mean"`` over the batch, ``"sum"``, or ``"none"`` for one
            value per row.
        validate: check the labels' dtype, shape and range (default True);
            :func:`steepest.losses.cross_entropy` checks them itself first.
    """
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(
            f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}"
        )
    logits = _lift(logits)
    if logits.ndim != 2:
        raise ValueError(
            f"softmax_cross_entropy: logits must have shape (batch, classes), "
            f"got {logits.shape}"
        )
    batch, classes = logits.data.shape
    t = target.data if isinstance(target, Tensor) else xp.asarray(target)
    soft = t.ndim == 2
    if soft:
        if t.shape != logits.data.shape:
            raise ValueError(
                f"softmax_cross_entropy: soft targets of shape {t.shape} do not "
                f"match logits of shape {logits.shape}"
            )
        t = t.astype(logits.data.dtype, copy=False)
    elif validate:
        _check_labels(t, batch, classes, "softmax_cross_entropy")

    z = logits.data - logits.data.max(axis=1, keepdims=True)  # (batch, classes)
    e = xp.exp(z)
    s = e.sum(axis=1, keepdims=True)  # (batch, 1)
    log_s = xp.log(s)
    if soft:
        per_row = (t * (log_s - z)).sum(axis=1)
    else:
        rows = xp.arange(batch)
        per_row = log_s[:, 0] - z[rows, t]
    if reduction == "mean":
        out = per_row.sum() / batch if batch else xp.zeros((), logits.data.dtype)
    elif reduction == "sum":
        out = per_row.sum()
    else:
        out = per_row
    out = xp.asarray(out, dtype=logits.data.dtype)
    if not _needs(logits):
        return Tensor._wrap(out)

    def vjp(g: Array) -> tuple[Array]:
        p = e / s  # softmax, (batch, classes)
        if soft:
            p *= t.sum(axis=1, keepdims=True)
            p -= t
        else:
            p[rows, t] -= 1
        if reduction == "none":
            p *= g[:, None]
        else:
            p *= g / (batch or 1) if reduction == "mean" else g
        return (p,)

    return Tensor._node(out, (logits,), vjp)


# -- the operator methods of Tensor ---------------------------------------------


def _reflected(op: Any) -> Any:
    def reflected(self: Tensor, other: Any) -> Tensor:
        return op(other, self)

    return reflected


def _install_methods() -> None:
    methods = {
        "__add__": add,
        "__radd__": _reflected(add),
        "__sub__": sub,
        "__rsub__": _reflected(sub),
        "__mul__": mul,
        "__rmul__": _reflected(mul),
        "__truediv__": div,
        "__rtruediv__": _reflected(div),
        "__pow__": pow,
        "__rpow__": _reflected(pow),
        "__matmul__": matmul,
        "__rmatmul__": _reflected(matmul),
        "__neg__": neg,
        "__lt__": lt,
        "__le__": le,
        "__gt__": gt,
        "__ge__": ge,
        "__eq__": eq,
        "__ne__": ne,
        "__getitem__": getitem,
        "exp": exp,
        "log": log,
        "sqrt": sqrt,
        "abs": abs,
        "__abs__": abs,
        "relu": relu,
        "sigmoid": sigmoid,
        "tanh": tanh,
        "softmax": softmax,
        "log_softmax": log_softmax,
        "logsumexp": logsumexp,
        "sum": sum,
        "mean": mean,
        "max": max,
        "min": min,
        "reshape": reshape,
        "transpose": transpose,
        "clip": clip,
        "maximum": maximum,
        "minimum": minimum,
    }
    for name, function in methods.items():
        setattr(Tensor, name, function)
    Tensor.T = property(lambda self: transpose(self), doc="The axes reversed.")


_install_methods()
