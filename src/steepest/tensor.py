"""The Tensor, the recorded graph, and reverse-mode differentiation.

A :class:`Tensor` wraps an array (``.data``). When an op is applied to tensors
of which at least one requires a gradient (and recording is on), the result
remembers its inputs (``_parents``) and a closure (``_vjp``) that maps the
gradient of the result to the gradients of the inputs: the op's
vector-Jacobian product. :meth:`Tensor.backward` visits the recorded graph
once, in reverse topological order, and leaves ``d(output)/d(leaf)`` in the
``.grad`` of each leaf that requires a gradient.

The operators (``+``, ``@``, ``.sum()``, ...) are installed on the class by
:mod:`steepest.ops`, which holds every differentiable function.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Sequence
from typing import Any

from steepest.backend import DEFAULT_FLOAT, xp

__all__ = ["Tensor", "tensor", "no_grad", "enable_grad", "is_grad_enabled"]

Array = Any  # an ndarray of the backend
VJP = Callable[[Array], Sequence[Array | None]]


class _GradMode:
    """Whether ops record the graph; switched by :class:`no_grad`."""

    enabled = True


def is_grad_enabled() -> bool:
    """Return True when ops record the graph for differentiation."""
    return _GradMode.enabled


class no_grad:
    """Context manager and decorator under which no op records the graph.

    Results computed inside have ``requires_grad=False``; use it for
    evaluation and for optimizer updates.

    Example:
        >>> import steepest as st
        >>> w = st.tensor([1.0, 2.0], requires_grad=True)
        >>> with st.no_grad():
        ...     y = (w * 2).sum()
        >>> y.requires_grad
        False
    """

    _enabled_inside = False

    def __enter__(self) -> None:
        self._previous = _GradMode.enabled
        _GradMode.enabled = self._enabled_inside

    def __exit__(self, *exc_info: object) -> None:
        _GradMode.enabled = self._previous

    def __call__(self, function: Callable) -> Callable:
        """Use as a decorator: run ``function`` with recording switched."""

        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self.__class__():
                return function(*args, **kwargs)

        return wrapper


class enable_grad(no_grad):
    """Context manager and decorator that switches recording back on."""

    _enabled_inside = True


def _freed_vjp(g: Array) -> Sequence[Array | None]:
    raise RuntimeError(
        "backward through this graph a second time: its intermediate results "
        "were freed by the first backward(); call backward(retain_graph=True) "
        "the first time if you need to differentiate twice"
    )


class Tensor:
    """An n-dimensional array that can record the ops applied to it.

    Attributes:
        data: the values, an ndarray.
        grad: after :meth:`backward`, the gradient of the output with respect
            to this tensor (same shape and dtype as ``data``), or None. Only
            leaves (tensors made by the user, not by an op) keep a gradient.
        requires_grad: whether gradients flow to this tensor.

    Conventions of the ops, stated where each op is defined in
    :mod:`steepest.ops`: ReLU'(0) = 0; ``max``/``min`` split the gradient
    evenly between tied elements; ``abs'(0) = 0``. Integer and boolean tensors
    cannot require gradients. A NumPy array on the left of an operator gives a
    Tensor, not an object array.
    """

    __slots__ = (
        "data",
        "_grad",
        "_grad_zeroed",
        "requires_grad",
        "_parents",
        "_vjp",
        "__weakref__",
    )

    # Make NumPy hand binary operators with an ndarray on the left back to us.
    __array_ufunc__ = None

    def __init__(
        self, data: Any, requires_grad: bool = False, dtype: Any = None
    ) -> None:
        array = _as_array(data, dtype)
        if requires_grad and array.dtype.kind not in "fc":
            raise TypeError(
                f"only floating tensors can require gradients, got dtype "
                f"{array.dtype}; pass dtype='float32' or 'float64'"
            )
        self.data = array
        self._grad: Array | None = None
        self._grad_zeroed = False
        self.requires_grad = bool(requires_grad)
        self._parents: tuple[Tensor, ...] = ()
        self._vjp: VJP | None = None

    # -- plain properties -------------------------------------------------------

    @property
    def shape(self) -> tuple[int, ...]:
        """The shape of ``data``."""
        return self.data.shape

    @property
    def dtype(self) -> Any:
        """The dtype of ``data``."""
        return self.data.dtype

    @property
    def ndim(self) -> int:
        """The number of axes."""
        return self.data.ndim

    @property
    def size(self) -> int:
        """The number of elements."""
        return self.data.size

    @property
    def is_leaf(self) -> bool:
        """True for tensors made by the user rather than recorded by an op."""
        return self._vjp is None

    def __len__(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:
        body = repr(self.data)
        if body.startswith("array("):
            body = body[6:-1]
        suffix = ", requires_grad=True" if self.requires_grad else ""
        return f"tensor({body}{suffix})"

    __hash__ = object.__hash__

    def __bool__(self) -> bool:
        return bool(self.data)

    def __float__(self) -> float:
        return float(self.data)

    def __int__(self) -> int:
        return int(self.data)

    def __array__(self, dtype: Any = None, copy: Any = None) -> Array:
        # np.array(t) asks for a copy (copy=True) and trusts that it got one.
        if dtype is not None and xp.dtype(dtype) != self.data.dtype:
            if copy is False:
                raise ValueError(
                    f"cannot view a {self.data.dtype} tensor as {xp.dtype(dtype)} "
                    "without a copy; pass copy=None or True"
                )
            return self.data.astype(dtype)
        return self.data.copy() if copy else self.data

    def numpy(self) -> Array:
        """Return the values as an ndarray (shares memory with the tensor)."""
        return self.data

    def item(self) -> float | int | bool:
        """Return the value of a one-element tensor as a Python number."""
        if self.data.size != 1:
            raise ValueError(
                f"item() needs a tensor with one element, got shape {self.shape}; "
                "index it or reduce it first"
            )
        return self.data.item()

    def detach(self) -> Tensor:
        """Return a tensor sharing ``data`` with this one but outside the graph."""
        return Tensor._wrap(self.data)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set ``requires_grad`` in place on a leaf and return the tensor."""
        if requires_grad and self.data.dtype.kind not in "fc":
            raise TypeError(
                f"only floating tensors can require gradients, got dtype "
                f"{self.data.dtype}"
            )
        if not self.is_leaf:
            raise ValueError(
                "requires_grad_() applies to leaf tensors only; call detach() first"
            )
        self.requires_grad = bool(requires_grad)
        return self

    @property
    def grad(self) -> Array | None:
        """The accumulated gradient (an array of ``data``'s shape), or None."""
        if self._grad_zeroed:
            # Zeroed lazily (see zero_grad): the zeros are written on first use.
            self._grad.fill(0)
            self._grad_zeroed = False
        return self._grad

    @grad.setter
    def grad(self, value: Array | None) -> None:
        self._grad = value
        self._grad_zeroed = False

    def zero_grad(self) -> None:
        """Zero the gradient (keeping its buffer), if there is one.

        The zeros are written when the gradient is next used: read through
        ``.grad``, or overwritten by the next :meth:`backward`, which then
        writes the new gradient in place of adding it to zeros (for a layer's
        weight, straight from the matrix product). Either way ``.grad`` reads
        as zeros until a gradient is added.
        """
        if self._grad is not None:
            self._grad_zeroed = True

    # -- construction used by the ops -----------------------------------------

    @staticmethod
    def _wrap(data: Array) -> Tensor:
        """A leaf around an array already of the right dtype; no checks, no copy."""
        if type(data) is not xp.ndarray:  # NumPy gives scalars for 0-d results
            data = xp.asarray(data)
        out = object.__new__(Tensor)
        out.data = data
        out._grad = None
        out._grad_zeroed = False
        out.requires_grad = False
        out._parents = ()
        out._vjp = None
        return out

    @staticmethod
    def _node(data: Array, parents: tuple[Tensor, ...], vjp: VJP) -> Tensor:
        """The result of an op whose inputs need gradients: records the graph.

        Callers check :func:`needs_grad` first, so no closure is built for
        results that will never be differentiated.
        """
        if type(data) is not xp.ndarray:
            data = xp.asarray(data)
        out = object.__new__(Tensor)
        out.data = data
        out._grad = None
        out._grad_zeroed = False
        out.requires_grad = True
        out._parents = parents
        out._vjp = vjp
        return out

    # -- reverse mode -------------------------------------------------------------

    def backward(self, grad: Any = None, retain_graph: bool = False) -> None:
        """Accumulate ``d(self)/d(leaf)`` into ``leaf.grad`` for every leaf.

        The graph is walked once, iteratively (no recursion limit), in reverse
        topological order. Gradients of a tensor used several times are
        summed. Each leaf's gradient is added to its existing ``.grad`` in
        place, so repeated calls accumulate as in PyTorch, and an optimizer
        that owns the gradient buffers keeps them.

        Args:
            grad: the gradient of some scalar with respect to ``self``, of
                ``self``'s shape; may be omitted only when ``self`` has one
                element (then it is 1).
            retain_graph: keep the recorded graph so that ``backward`` can be
                called again through it (default False: the graph is freed).
        """
        if not self.requires_grad:
            raise RuntimeError(
                "backward() on a tensor that does not require grad: no input of "
                "the computation has requires_grad=True (or it ran under no_grad)"
            )
        if grad is None:
            if self.data.size != 1:
                raise RuntimeError(
                    f"backward() without a gradient needs a scalar output, got "
                    f"shape {self.shape}; reduce it (e.g. .sum()) or pass "
                    "grad= of the same shape"
                )
            seed = xp.ones_like(self.data)
        else:
            seed = xp.array(
                grad.data if isinstance(grad, Tensor) else grad, dtype=self.data.dtype
            )
            if seed.shape != self.shape:
                raise ValueError(
                    f"backward(): grad has shape {seed.shape} but the tensor has "
                    f"shape {self.shape}; they must match"
                )

        order = _reverse_topological_order(self)
        grads: dict[int, Array] = {id(self): seed}
        leaves: list[tuple[Tensor, Array]] = []
        # Leaves whose lazily zeroed buffer a vjp claimed to write their
        # gradient into (see _claim_zeroed_grad); if the walk fails, even in
        # the middle of a vjp, they are marked zeroed again, as if backward
        # had not run.
        claimed: list[Tensor] = []
        outer = getattr(_claims, "leaves", None)
        _claims.leaves = claimed
        try:
            for node in order:
                g = grads.pop(id(node), None)
                if g is None:
                    continue
                vjp = node._vjp
                if vjp is None:
                    leaves.append((node, g))
                    continue
                for parent, pg in zip(node._parents, vjp(g), strict=True):
                    if pg is None or not parent.requires_grad:
                        continue
                    if pg is parent._grad:  # already written in place
                        continue
                    key = id(parent)
                    previous = grads.get(key)
                    # Out of place: pg may be a view of g or shared with a sibling.
                    grads[key] = pg if previous is None else previous + pg
                if not retain_graph:
                    node._vjp = _freed_vjp
                    node._parents = ()
        except BaseException:
            for leaf in claimed:
                leaf._grad_zeroed = True
            raise
        finally:
            _claims.leaves = outer

        _store_leaf_grads(leaves)


#: The leaves claimed by the running backward, per thread.
_claims = threading.local()


def _claim_zeroed_grad(leaf: Tensor, dtype: Any) -> Array | None:
    """Claim ``leaf``'s gradient buffer for a vjp to write its gradient into.

    Possible during ``backward`` when ``leaf`` is a leaf whose ``.grad`` was
    zeroed lazily (by ``zero_grad``) and not used since, so writing its
    gradient equals adding it to zeros; the buffer must be contiguous,
    writeable, of the leaf's shape and of the gradient's dtype. The claim
    clears the lazy mark, so no other vjp writes there, and is recorded, so a
    failed backward marks the buffer zeroed again. The vjp writes the buffer
    and returns it as the leaf's gradient, which tells ``backward`` the
    gradient is already in place.

    Returns:
        The buffer, or None when the vjp must return its gradient as usual.
    """
    buffer = leaf._grad
    claimed = getattr(_claims, "leaves", None)
    if (
        leaf._grad_zeroed
        and claimed is not None
        and leaf._vjp is None
        and buffer.dtype == dtype
        and buffer.shape == leaf.data.shape
        and buffer.flags.c_contiguous
        and buffer.flags.writeable
    ):
        claimed.append(leaf)
        leaf._grad_zeroed = False
        return buffer
    return None


def _store_leaf_grads(leaves: list[tuple[Tensor, Array]]) -> None:
    """Add each leaf's gradient into its ``.grad`` (in place where one exists)."""
    stored: set[int] = set()
    for leaf, g in leaves:
        if type(g) is not xp.ndarray:
            g = xp.array(g, dtype=leaf.data.dtype)
        if g.dtype != leaf.data.dtype:
            g = g.astype(leaf.data.dtype)
        if leaf._grad is not None:
            if leaf._grad_zeroed:  # zeroed lazily: write, do not add to zeros
                xp.copyto(leaf._grad, g)
                leaf._grad_zeroed = False
            else:
                xp.add(leaf._grad, g, out=leaf._grad)
            continue
        # Keep g itself only when nothing else can see or change it.
        if g.base is not None or not g.flags.writeable or id(g) in stored:
            g = g.copy()
        stored.add(id(g))
        leaf.grad = g


def _reverse_topological_order(root: Tensor) -> list[Tensor]:
    """Every tensor ``root`` depends on through gradient-requiring paths, root
    first and each tensor before all of its inputs.

    An iterative depth-first search: a node is appended once all of its
    inputs have been, and it is marked visited when it is expanded, not when
    it is pushed, so a node reached again through a longer path is still
    placed after everything that feeds it.
    """
    order: list[Tensor] = []
    visited: set[int] = set()
    stack: list[tuple[Tensor, bool]] = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        for parent in node._parents:
            if parent.requires_grad and id(parent) not in visited:
                stack.append((parent, False))
    order.reverse()
    return order


def _as_array(data: Any, dtype: Any) -> Array:
    """Copy user data into an array: floating data defaults to float32."""
    if isinstance(data, Tensor):
        data = data.data
    if dtype is not None:
        return xp.array(data, dtype=dtype)
    array = xp.array(data)
    if array.dtype.kind == "f":
        return array.astype(DEFAULT_FLOAT, copy=False)
    if array.dtype.kind not in "iub":
        raise TypeError(
            f"cannot make a tensor from data of dtype {array.dtype}; "
            "pass numbers, nested lists or a numeric array"
        )
    return array


def tensor(data: Any, requires_grad: bool = False, dtype: Any = None) -> Tensor:
    """Make a leaf tensor from numbers, nested lists, an ndarray or a Tensor.

    Args:
        data: the values; always copied.
        requires_grad: whether gradients are accumulated in ``.grad``
            (default False). Only floating tensors can require gradients.
        dtype: the dtype (default: float32 for floating data, whatever the
            input's precision; integers and booleans keep their kind).

    Example:
        >>> import steepest as st
        >>> x = st.tensor([1.0, 2.0, 3.0], requires_grad=True)
        >>> (x * x).sum().backward()
        >>> x.grad
        array([2., 4., 6.], dtype=float32)
    """
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)
