"""The base of every optimizer: flat buffers, the learning rate, state, checks.

An optimizer owns its parameters' memory. At construction it copies the
values of all parameters of one dtype into one contiguous array (the *flat*
buffer), allocates a flat gradient of the same size, and rebinds each
parameter's ``.data`` and ``.grad`` to views into them. An update is then
one pass of a compiled loop over the flat arrays (see
:mod:`steepest.kernels`), or, without the loops, a fixed handful of in-place
NumPy calls over them in cache-sized blocks (see ``BLOCK_BYTES``), whatever
the number of parameter tensors: a 20-layer network costs no more per step
than a 2-layer one of the same size.

Subclasses add their buffers (moments, velocities) with :meth:`_add_buffer`,
write :meth:`Optimizer._update`, which reads like the algorithm box in their
docstring, and name in :meth:`Optimizer._kernel` the loop of
``kernels.c`` that does the same operations.
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from operator import attrgetter, is_
from typing import Any

from steepest import kernels
from steepest.backend import xp
from steepest.kernels import Kernel
from steepest.tensor import Array, Tensor

__all__ = ["Optimizer", "LearningRate"]

#: A learning rate: a number, or a schedule mapping the number of updates
#: already made (0 for the first update) to a number.
LearningRate = float | Callable[[int], float]

_FLUSH = Kernel("flush_subnormals", "ar")

_data = attrgetter("data")
_grad = attrgetter("grad")


#: The update runs over the flat buffers in blocks of this many bytes per
#: array, so that the handful of passes of one update reuse a block while it
#: sits in the CPU's cache instead of streaming every buffer from memory once
#: per pass (about 30% faster for Adam on 1.9M float32 values). The number
#: of blocks grows with the number of values, never with the number of
#: tensors. A GPU backend would use one block.
BLOCK_BYTES = 1 << 18

#: Every this many steps, state values that have decayed below the smallest
#: normal number (subnormals) are set to 0. A moment whose gradient has
#: stopped (a dead ReLU unit, say) shrinks by beta every step into the
#: subnormal range, where CPU arithmetic is tens of times slower, and sticks
#: at the smallest subnormal, since rounding ``tiny * beta`` gives ``tiny``
#: back: without this, Adam over a network with dead units runs 3x slower
#: after a few hundred steps. Compiled frameworks avoid it by running with
#: flush-to-zero on; NumPy cannot switch that on, so the flush is explicit.
#: Its cost is three passes over the state once per period (under 1% of a
#: step of Adam).
FLUSH_SUBNORMALS_EVERY = 32

#: Buffers of at most this many bytes are updated as one block.
SINGLE_BLOCK_BYTES = 1 << 20

#: Buffers of at least this many blocks are updated by several threads, each
#: taking a contiguous run of blocks. NumPy releases the GIL inside each
#: ufunc's loop, and the blocks are independent, so the result is bitwise the
#: same as on one thread; below this size the hand-off costs more than it saves.
PARALLEL_MIN_BLOCKS = 4


#: Buffers of at least this many bytes are updated by several threads on the
#: compiled path. A compiled pass is several times cheaper than NumPy's, and
#: handing work to a thread and waiting for it costs about 100 us here, so the
#: split pays only from about 2 MiB (measured on 2 cores: Adam over 1 MiB
#: takes 148 us on one thread and 212 us on two; over 4 MiB, 583 and 463 us).
KERNEL_PARALLEL_MIN_BYTES = 1 << 21


def _worker_count() -> int:
    """Threads for the update: ``STEEPEST_NUM_THREADS``, else the usable cores."""
    setting = os.environ.get("STEEPEST_NUM_THREADS")
    if setting:
        try:
            count = int(setting)
        except ValueError:
            count = 0
        if count < 1:
            raise ValueError(
                f"STEEPEST_NUM_THREADS must be a positive integer, got {setting!r}"
            )
        return count
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # platforms without affinity
        return max(1, os.cpu_count() or 1)


class _Pool:
    """A thread pool made on first use and shared by every optimizer."""

    executor: ThreadPoolExecutor | None = None
    workers = 0

    @classmethod
    def get(cls) -> tuple[ThreadPoolExecutor | None, int]:
        if cls.executor is None:
            cls.workers = _worker_count()
            if cls.workers > 1:
                cls.executor = ThreadPoolExecutor(
                    cls.workers, thread_name_prefix="steepest-update"
                )
        return cls.executor, cls.workers


class _Group:
    """The parameters of one dtype and their flat buffers.

    ``theta`` and ``g`` hold every parameter and gradient of the group end to
    end; ``u`` is scratch for the update; ``gd`` is scratch for the gradient
    with L2 weight decay added (allocated on first use); ``state`` holds the
    optimizer's buffers by name. ``datas`` and ``grads`` are the views handed
    to the parameters, kept to notice when someone rebinds them.
    """

    __slots__ = (
        "params",
        "theta",
        "g",
        "u",
        "gd",
        "state",
        "datas",
        "grads",
        "_blocks",
        "_parts",
    )

    def __init__(self, params: list[Tensor], dtype: Any) -> None:
        n = sum(p.data.size for p in params)
        self.params = tuple(params)
        self.theta = xp.empty(n, dtype=dtype)
        self.g = xp.zeros(n, dtype=dtype)
        self.u = xp.empty(n, dtype=dtype)
        self.gd: Array | None = None
        self.state: dict[str, Array] = {}
        self._blocks: list[tuple] | None = None
        self._parts: tuple[tuple, list[tuple]] | None = None
        offset = 0
        for p in params:
            a, b = offset, offset + p.data.size
            self.theta[a:b] = p.data.reshape(-1)
            if p.grad is not None:
                self.g[a:b] = xp.asarray(p.grad).reshape(-1)
            p.data = self.theta[a:b].reshape(p.data.shape)
            p.grad = self.g[a:b].reshape(p.data.shape)
            offset = b
        self.datas = tuple(p.data for p in params)
        self.grads = tuple(p.grad for p in params)

    def add_buffer(self, name: str, fill: float) -> None:
        self.state[name] = xp.full(self.theta.shape, fill, self.theta.dtype)
        self._blocks = self._parts = None

    def parts(
        self, names: tuple[str | None, ...], workers: int
    ) -> list[tuple[int, tuple[int, ...]]]:
        """``(n, addresses)`` of one contiguous part of the buffers per thread.

        The addresses are those of ``theta``, ``g`` and the state buffers
        named by ``names``, where None stands for the scratch buffer ``u`` (an
        argument the configuration does not use). One part when the buffers
        are smaller than ``KERNEL_PARALLEL_MIN_BYTES``, where handing work to
        a thread costs more than it saves.
        """
        key = (names, workers)
        if self._parts is None or self._parts[0] != key:
            n = self.theta.size
            if n * self.theta.itemsize < KERNEL_PARALLEL_MIN_BYTES:
                workers = 1
            arrays = (
                self.theta,
                self.g,
                *(self.u if k is None else self.state[k] for k in names),
            )
            item = self.theta.itemsize
            starts = [a.ctypes.data for a in arrays]
            cut = [n * i // workers for i in range(workers + 1)]
            views = [
                (hi - lo, tuple(start + lo * item for start in starts))
                for lo, hi in zip(cut[:-1], cut[1:], strict=True)
            ]
            self._parts = (key, views)
        return self._parts[1]

    def blocks(self, l2: bool) -> list[tuple]:
        """Views ``(theta, g, gd, u, state)`` of each block, made once."""
        if l2 and self.gd is None:
            self.gd = xp.empty_like(self.g)
            self._blocks = None
        if self._blocks is None:
            n = self.theta.size
            size = max(1, BLOCK_BYTES // self.theta.itemsize)
            if n * self.theta.itemsize <= SINGLE_BLOCK_BYTES:
                # Small enough to stay in cache whole: one call per operation,
                # without the per-block overhead.
                size = n
            self._blocks = []
            for a in range(0, n, size):
                b = min(a + size, n)
                self._blocks.append(
                    (
                        self.theta[a:b],
                        self.g[a:b],
                        None if self.gd is None else self.gd[a:b],
                        self.u[a:b],
                        {k: v[a:b] for k, v in self.state.items()},
                    )
                )
        return self._blocks


class Optimizer:
    """Base class: flat parameter and gradient buffers, learning rate, state.

    Every parameter's ``.data`` and ``.grad`` become views into one flat
    buffer per dtype, owned by the optimizer. Code that changes parameter
    values or gradients must do so in place (``p.data[...] = values``,
    ``optimizer.zero_grad()``, ``Tensor.backward``, which adds in place, or
    writes in place after ``zero_grad``);
    code must never rebind ``p.data`` or ``p.grad`` (``p.data = array``,
    ``p.grad = None``) once an optimizer owns them, because the optimizer
    would go on updating memory the model no longer reads. :meth:`step`
    checks this on every call (identity checks, no array work) and raises
    ``RuntimeError`` naming the parameter. Building a second optimizer over
    the same parameters moves them into the new one's buffers, so the first
    one then refuses to step.

    Args:
        params: the tensors to optimize (a list, a tuple or a generator, such
            as ``model.parameters()``); each a floating leaf with
            ``requires_grad=True``, none twice. A gradient a parameter already
            holds is kept.
        lr: the learning rate: a number >= 0, or a schedule, any callable
            mapping the number of updates already made (0 for the first
            update) to a number >= 0. A schedule is a pure function of the
            step, so only the step count is saved by :meth:`state_dict`.
        weight_decay: L2 penalty coefficient (default 0): the update uses
            ``g + weight_decay * theta`` in place of the gradient ``g``.
            :class:`~steepest.optim.AdamW` reads it as decoupled decay
            instead.

    Attributes:
        weight_decay: as above; may be changed between steps.

    Example:
        >>> import numpy as np
        >>> import steepest as st
        >>> from steepest.optim import SGD
        >>> w = st.tensor([2.0, -1.0], requires_grad=True)
        >>> opt = SGD([w], lr=0.25)
        >>> for _ in range(2):
        ...     opt.zero_grad()
        ...     (w * w).sum().backward()
        ...     opt.step()
        >>> w.data  # each step takes w - 0.25 * 2w = w / 2
        array([ 0.5 , -0.25], dtype=float32)
        >>> np.shares_memory(w.data, opt.flat_params[0])
        True
    """

    #: Whether ``weight_decay`` is decoupled from the gradient (AdamW) rather
    #: than an L2 term added to it.
    _decoupled_weight_decay = False

    #: Settings that decide which state buffers exist; once the optimizer is
    #: built they may not change (``momentum`` may, but not from 0 to more,
    #: which would need a velocity buffer the optimizer does not have).
    _fixed_settings: tuple[str, ...] = ()

    def __init__(
        self, params: Iterable[Tensor], lr: LearningRate, weight_decay: float = 0.0
    ) -> None:
        # Read the environment's settings (and build the compiled loops) now,
        # so that a bad STEEPEST_KERNELS or STEEPEST_NUM_THREADS is reported
        # before any training starts.
        kernels.enabled()
        _worker_count()
        self._lr = _check_lr(self._name, lr)
        self.weight_decay = _check_at_least(self._name, "weight_decay", weight_decay)
        self._step = 0
        tensors = _collect_params(self._name, params)
        self._params = tuple(tensors)
        by_dtype: dict[Any, list[Tensor]] = {}
        for p in tensors:
            by_dtype.setdefault(p.data.dtype, []).append(p)
        self._groups = tuple(_Group(ps, dtype) for dtype, ps in by_dtype.items())
        self._size = sum(group.theta.size for group in self._groups)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in self._fixed_settings and "_groups" in self.__dict__:
            value = self._check_fixed_setting(name, value)
        object.__setattr__(self, name, value)

    def _check_fixed_setting(self, attr: str, value: Any) -> Any:
        current = getattr(self, attr)
        if attr == "momentum":
            value = _check_unit_interval(self._name, attr, value)
            state = self._groups[0].state
            if value == 0 or "v" in state or "b" in state:
                return value
        elif value == current:
            return value
        raise ValueError(
            f"{self._name}: {attr} decides which buffers the optimizer keeps, so "
            f"it cannot change from {current!r} to {value!r} once the optimizer "
            f"is built; build a new {self._name} with {attr}={value!r}"
        )

    # -- what subclasses provide ------------------------------------------------

    def _update(
        self,
        theta: Array,
        g: Array,
        state: dict[str, Array],
        u: Array,
        lr: float,
        t: int,
    ) -> None:
        """Update the flat parameters ``theta`` in place.

        Called once per block of the flat buffers (see ``BLOCK_BYTES``); all
        arrays are 1-D views of one block. Every operation must be elementwise.

        Args:
            theta: the flat parameters of one block.
            g: their gradient (L2 weight decay already added); read only.
            state: this block's buffers, by the names given to
                :meth:`_add_buffer`; update them in place.
            u: scratch of ``theta``'s size and dtype.
            lr: the learning rate of this update, a Python float.
            t: the number of this update, 1 for the first.
        """
        raise NotImplementedError(f"{self._name} does not define _update()")

    def _kernel(
        self, lr: float, t: int
    ) -> tuple[Kernel, tuple[str, ...], tuple] | None:
        """The update as one compiled loop, or None to use :meth:`_update` alone.

        Returns:
            ``(kernel, names, scalars)``: the C loop (see
            :mod:`steepest.kernels`) runs on each part of the flat buffers
            with the arguments ``theta, g, *buffers, l2, wd, *scalars``: the
            state buffers named by ``names`` (None for one the configuration
            does not use), ``l2`` whether L2 weight decay adds ``wd * theta``
            to g, and ``scalars``, whose floats are converted to the
            buffers' dtype. It must give bitwise the result of
            :meth:`_update`, L2 included.
        """
        return None

    def _hyperparameters(self) -> dict[str, Any]:
        """The settings besides ``lr`` and ``weight_decay``, as Python scalars."""
        return {}

    def _add_buffer(self, name: str, fill: float = 0.0) -> None:
        """Allocate a state buffer ``name`` in every group, filled with ``fill``."""
        for group in self._groups:
            group.add_buffer(name, fill)

    # -- the public surface -----------------------------------------------------

    @property
    def params(self) -> tuple[Tensor, ...]:
        """The parameters, in the order given."""
        return self._params

    @property
    def step_count(self) -> int:
        """The number of updates made so far."""
        return self._step

    @property
    def lr(self) -> float:
        """The learning rate the next update will use.

        A schedule is evaluated at :attr:`step_count`. Assign a number or a
        schedule to change it.
        """
        lr = self._lr
        if not callable(lr):
            return lr
        value = lr(self._step)
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise TypeError(
                f"{self._name}: the learning-rate schedule returned "
                f"{value!r} at step {self._step}; it must return a number"
            ) from None
        if not value >= 0 or math.isinf(value):
            raise ValueError(
                f"{self._name}: the learning-rate schedule returned {value} at "
                f"step {self._step}; it must return a finite number >= 0"
            )
        return value

    @lr.setter
    def lr(self, value: LearningRate) -> None:
        self._lr = _check_lr(self._name, value)

    @property
    def hyperparameters(self) -> dict[str, Any]:
        """Every setting as a Python scalar; ``lr`` is None for a schedule."""
        lr = None if callable(self._lr) else self._lr
        return {"lr": lr, "weight_decay": self.weight_decay} | self._hyperparameters()

    @property
    def flat_params(self) -> tuple[Array, ...]:
        """The flat parameter buffers, one per dtype (usually one)."""
        return tuple(group.theta for group in self._groups)

    @property
    def flat_grads(self) -> tuple[Array, ...]:
        """The flat gradient buffers, one per dtype (usually one)."""
        for p in self._params:
            p.grad  # noqa: B018  (writes the zeros of a lazily zeroed gradient)
        return tuple(group.g for group in self._groups)

    def zero_grad(self) -> None:
        """Set every gradient to 0; the buffers are kept, never None.

        As :meth:`Tensor.zero_grad`, the zeros are written lazily: the next
        ``backward`` writes each gradient in place of adding it to zeros,
        saving a pass over the buffer, and a gradient read through ``.grad``
        before that (or one that ``backward`` does not reach) reads as zeros.
        An array taken from ``.grad`` or :attr:`flat_grads` before this call
        is not zeroed by it: it keeps its old values until ``backward``
        writes it, and what is written into it before then is overwritten;
        read ``.grad`` again after ``zero_grad`` instead.
        """
        for p in self._params:
            p.zero_grad()

    def step(self) -> None:
        """Make one update of every parameter from its current gradient."""
        self._check_views()
        lr = self.lr
        t = self._step + 1
        wd = float(self.weight_decay)
        l2 = bool(wd) and not self._decoupled_weight_decay
        fused = self._kernel(lr, t) if kernels.enabled() else None
        pool, workers = _Pool.get()
        for group in self._groups:
            if fused is not None and group.theta.dtype in kernels.KERNEL_DTYPES:
                self._run_kernel(group, fused, l2, wd, pool, workers)
                continue
            blocks = group.blocks(l2)
            if pool is None or len(blocks) < PARALLEL_MIN_BLOCKS:
                self._update_blocks(blocks, l2, wd, lr, t)
                continue
            # Contiguous runs of blocks, one per thread; the caller takes one.
            cut = [len(blocks) * i // workers for i in range(workers + 1)]
            runs = [blocks[a:b] for a, b in zip(cut[:-1], cut[1:], strict=True)]
            futures = [
                pool.submit(self._update_blocks, run, l2, wd, lr, t) for run in runs[1:]
            ]
            self._update_blocks(runs[0], l2, wd, lr, t)
            for future in futures:
                future.result()
        self._step = t
        if t % FLUSH_SUBNORMALS_EVERY == 0:
            self._flush_subnormals()

    def _flush_subnormals(self) -> None:
        """Set state values below the smallest normal number to exactly 0."""
        compiled = kernels.enabled()
        for group in self._groups:
            dtype = group.theta.dtype
            tiny = float(xp.finfo(dtype).tiny)
            for buffer in group.state.values():
                if compiled and dtype in kernels.KERNEL_DTYPES:
                    _FLUSH(dtype, buffer.size, (buffer.ctypes.data,), (tiny,))
                    continue
                xp.abs(buffer, out=group.u)
                xp.copyto(buffer, 0, where=group.u < tiny)

    @staticmethod
    def _run_kernel(
        group: _Group,
        fused: tuple[Kernel, tuple[str | None, ...], tuple],
        l2: bool,
        wd: float,
        pool: ThreadPoolExecutor | None,
        workers: int,
    ) -> None:
        """One compiled pass over the group, split across threads when large."""
        function, names, scalars = fused
        dtype = group.theta.dtype
        values = (l2, wd, *scalars)
        parts = group.parts(names, 1 if pool is None else workers)
        futures = [
            pool.submit(function, dtype, n, pointers, values)
            for n, pointers in parts[1:]
        ]
        n, pointers = parts[0]
        function(dtype, n, pointers, values)
        for future in futures:
            future.result()

    def _update_blocks(
        self, blocks: list[tuple], l2: bool, wd: float, lr: float, t: int
    ) -> None:
        for theta, g, gd, u, state in blocks:
            if l2:
                # g <- g + wd theta, in scratch: the gradient the user sees
                # stays the gradient of the loss.
                xp.multiply(theta, wd, out=gd)
                gd += g
                g = gd
            self._update(theta, g, state, u, lr, t)

    def state_dict(self) -> dict[str, Any]:
        """Everything a resumed run needs to continue exactly.

        Returns:
            A dict of plain Python values and NumPy arrays (copies):
            ``"optimizer"`` (the class name), ``"step"`` (updates made),
            ``"hyperparameters"`` (for the record; :meth:`load_state_dict`
            does not apply them) and ``"buffers"``, each buffer one flat
            array over all parameters (dtype groups end to end, widened to a
            common dtype, which is exact).
        """
        names = list(self._groups[0].state)
        if len(self._groups) == 1:
            buffers = {k: self._groups[0].state[k].copy() for k in names}
        else:
            buffers = {
                k: xp.concatenate([group.state[k] for group in self._groups])
                for k in names
            }
        return {
            "optimizer": self._name,
            "step": self._step,
            "hyperparameters": self.hyperparameters,
            "buffers": buffers,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the step count and every buffer from :meth:`state_dict`.

        The values are copied into the existing buffers, so parameter views
        stay valid. Hyperparameters are those this optimizer was built with.
        Everything is checked before anything is changed.

        Raises:
            ValueError: the state comes from another optimizer class, its
                buffers have other names or sizes, or its step is invalid.
        """
        if not isinstance(state, dict) or "buffers" not in state:
            raise TypeError(
                f"{self._name}.load_state_dict: expected the dict returned by "
                f"state_dict(), got {type(state).__name__}"
            )
        kind = state.get("optimizer")
        if kind != self._name:
            raise ValueError(
                f"{self._name}.load_state_dict: the state was saved by {kind!r}, "
                f"not {self._name!r}; build the same optimizer to resume"
            )
        step = state.get("step")
        if isinstance(step, bool) or not isinstance(step, numbers.Integral) or step < 0:
            raise ValueError(
                f"{self._name}.load_state_dict: 'step' must be an integer >= 0, "
                f"got {step!r}"
            )
        buffers = state["buffers"]
        expected = set(self._groups[0].state)
        if set(buffers) != expected:
            raise ValueError(
                f"{self._name}.load_state_dict: buffers {sorted(buffers)} do not "
                f"match this optimizer's {sorted(expected)}; were the options "
                "(momentum, centered, momentum_form) the same?"
            )
        arrays = {}
        for k in expected:
            a = xp.asarray(buffers[k])
            if a.shape != (self._size,):
                raise ValueError(
                    f"{self._name}.load_state_dict: buffer {k!r} has shape "
                    f"{a.shape} but this optimizer's has shape ({self._size},); "
                    "the state belongs to other parameters"
                )
            arrays[k] = a
        for k, a in arrays.items():
            offset = 0
            for group in self._groups:
                n = group.theta.size
                xp.copyto(group.state[k], a[offset : offset + n], casting="unsafe")
                offset += n
        self._step = int(step)

    def __repr__(self) -> str:
        shown = self.hyperparameters
        if callable(self._lr):
            shown["lr"] = self._lr
        settings = ", ".join(f"{k}={v!r}" for k, v in shown.items())
        return (
            f"{self._name}({settings}; {len(self._params)} tensors, "
            f"{self._size} values)"
        )

    # -- checks -----------------------------------------------------------------

    @property
    def _name(self) -> str:
        return type(self).__name__

    def _check_views(self) -> None:
        """Raise if a parameter's ``.data`` or ``.grad`` was rebound.

        Identity checks only; falls back to comparing memory addresses when
        an object differs, so ``p.data = p.data.reshape(shape)`` passes.
        Reading ``.grad`` also writes the zeros of gradients that were zeroed
        lazily and not reached by ``backward`` since.
        """
        for group in self._groups:
            params = group.params
            if all(map(is_, map(_data, params), group.datas)) and all(
                map(is_, map(_grad, params), group.grads)
            ):
                continue
            self._recheck_views(group)

    def _recheck_views(self, group: _Group) -> None:
        datas, grads = list(group.datas), list(group.grads)
        for i, p in enumerate(group.params):
            # By identity: == on tensors compares elementwise.
            index = next(j for j, q in enumerate(self._params) if q is p)
            if p.data is not datas[i]:
                if not _same_memory(p.data, datas[i]):
                    raise RuntimeError(
                        f"{self._name}: parameter {index} (shape {datas[i].shape}) "
                        "had its .data rebound, so it is no longer a view of the "
                        "optimizer's buffer and step() would update memory the "
                        "model does not read. Assign values in place "
                        "(p.data[...] = values), or build the optimizer again; "
                        "another optimizer built over the same parameters also "
                        "takes them over"
                    )
                datas[i] = p.data
            if p.grad is not grads[i]:
                if p.grad is None or not _same_memory(p.grad, grads[i]):
                    raise RuntimeError(
                        f"{self._name}: parameter {index} (shape {grads[i].shape}) "
                        "had its .grad replaced (set to None or to a new array), "
                        "so the optimizer would not see its gradient. Zero "
                        "gradients with optimizer.zero_grad() or p.zero_grad(), "
                        "which keep the buffer, or build the optimizer again"
                    )
                grads[i] = p.grad
        group.datas, group.grads = tuple(datas), tuple(grads)


def _same_memory(a: Any, b: Array) -> bool:
    """True when ``a`` is an array over exactly the memory of view ``b``."""
    return (
        isinstance(a, type(b))
        and a.shape == b.shape
        and a.dtype == b.dtype
        and a.strides == b.strides
        and a.__array_interface__["data"][0] == b.__array_interface__["data"][0]
    )


def _collect_params(name: str, params: Iterable[Tensor]) -> list[Tensor]:
    """The parameters as a list, each checked; raises on the first bad one."""
    if isinstance(params, Tensor):
        raise TypeError(
            f"{name}: params must be an iterable of tensors, got a single "
            f"Tensor of shape {params.shape}; pass [tensor] or model.parameters()"
        )
    try:
        tensors = list(params)
    except TypeError:
        raise TypeError(
            f"{name}: params must be an iterable of tensors (such as "
            f"model.parameters()), got {type(params).__name__}"
        ) from None
    if not tensors:
        raise ValueError(
            f"{name}: params is empty; pass the tensors to optimize, such as "
            "model.parameters()"
        )
    seen: dict[int, int] = {}
    for i, p in enumerate(tensors):
        if not isinstance(p, Tensor):
            raise TypeError(
                f"{name}: params[{i}] is a {type(p).__name__}, not a Tensor"
            )
        if p.data.dtype.kind != "f":
            raise TypeError(
                f"{name}: params[{i}] (shape {p.shape}) has dtype {p.data.dtype}; "
                "only real floating tensors can be optimized"
            )
        if not p.requires_grad:
            raise ValueError(
                f"{name}: params[{i}] (shape {p.shape}) has requires_grad=False; "
                "make it with requires_grad=True or leave it out"
            )
        if not p.is_leaf:
            raise ValueError(
                f"{name}: params[{i}] (shape {p.shape}) is the result of an op, "
                "not a leaf; optimize the tensors it was computed from"
            )
        if id(p) in seen:
            raise ValueError(
                f"{name}: params[{i}] (shape {p.shape}) is the same tensor as "
                f"params[{seen[id(p)]}]; pass each parameter once"
            )
        seen[id(p)] = i
    return tensors


def _check_lr(name: str, lr: Any) -> LearningRate:
    if callable(lr):
        return lr
    return _check_at_least(name, "lr", lr, hint="or a schedule (a function of step)")


def _check_at_least(
    name: str, arg: str, value: Any, low: float = 0.0, hint: str = ""
) -> float:
    """``value`` as a float, checked finite and >= ``low``."""
    number = _as_number(name, arg, value)
    if not (math.isfinite(number) and number >= low):
        hint = f" {hint}" if hint else ""
        raise ValueError(
            f"{name}: {arg} must be a finite number >= {low:g}{hint}, got {value!r}"
        )
    return number


def _check_unit_interval(name: str, arg: str, value: Any) -> float:
    """``value`` as a float, checked in [0, 1): a decay rate."""
    number = _as_number(name, arg, value)
    if not 0.0 <= number < 1.0:
        raise ValueError(
            f"{name}: {arg} must be in [0, 1), got {value!r}; 0.9 is usual for a "
            "momentum or first moment, 0.999 for a second moment"
        )
    return number


def _check_choice(name: str, arg: str, value: Any, choices: tuple[str, ...]) -> str:
    if value not in choices:
        options = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{name}: {arg} must be one of {options}, got {value!r}")
    return value


def _check_eps_pair(name: str, eps: Any, eps_root: Any) -> tuple[float, float]:
    """``eps`` (outside the square root) and ``eps_root`` (inside), checked."""
    eps = _check_at_least(name, "eps", eps)
    eps_root = _check_at_least(name, "eps_root", eps_root)
    if eps == 0 and eps_root == 0:
        raise ValueError(
            f"{name}: eps and eps_root are both 0, so a parameter whose gradient "
            "has always been 0 would divide 0 by 0; make one of them > 0 "
            "(1e-8 is usual)"
        )
    return eps, eps_root


def _as_number(name: str, arg: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"{name}: {arg} must be a number, got {type(value).__name__} {value!r}"
        )
    return float(value)
