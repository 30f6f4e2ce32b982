"""Gradient clipping by the global norm."""

from __future__ import annotations

import math
from collections.abc import Iterable

from steepest.backend import xp
from steepest.optim.optimizer import Optimizer, _as_number
from steepest.tensor import Array, Tensor

__all__ = ["clip_grad_norm"]


def clip_grad_norm(
    params: Optimizer | Iterable[Tensor] | Tensor, max_norm: float
) -> float:
    """Scale all gradients together so that their joint norm is at most max_norm.

    Algorithm, over every gradient g_i of the parameters::

        n = sqrt(sum_i ||g_i||^2)
        if n > max_norm:  g_i <- g_i * max_norm / n   (for every i)

    The direction of the whole gradient is kept; only its length is capped.

    Args:
        params: an optimizer (its flat gradient is scaled in a handful of
            calls), or tensors (an iterable, or one tensor), whose ``.grad``
            is scaled in place; tensors without a gradient are skipped.
        max_norm: the largest norm allowed, a number > 0 (no default).

    Returns:
        The norm before clipping, as a Python float (log it: spikes show
        instability before the loss does).

    Example:
        >>> import steepest as st
        >>> from steepest.optim import clip_grad_norm
        >>> w = st.tensor([3.0, 4.0], requires_grad=True)
        >>> w.grad = w.data.copy()
        >>> clip_grad_norm([w], max_norm=1.0)
        5.0
        >>> w.grad
        array([0.6, 0.8], dtype=float32)

    Notes:
        PyTorch's ``clip_grad_norm_`` scales by ``max_norm / (n + 1e-6)``, so
        its result is a hair under max_norm; here, as in Optax's
        ``clip_by_global_norm``, it is max_norm exactly. A norm that is not
        finite (inf or NaN) leaves the gradients as they are; the caller sees
        it in the returned value and decides (PyTorch would scale them to NaN).

    References:
        Pascanu, Mikolov and Bengio, On the difficulty of training recurrent
        neural networks, ICML 2013.
    """
    limit = _as_number("clip_grad_norm", "max_norm", max_norm)
    if not (limit > 0 and math.isfinite(limit)):
        raise ValueError(
            f"clip_grad_norm: max_norm must be a finite number > 0, got {max_norm!r}"
        )
    grads = _gradients(params)
    # One dot product per flat buffer (or per tensor): n^2 = sum of g . g.
    n = math.sqrt(sum(float(xp.vdot(g, g)) for g in grads))
    if n > limit and math.isfinite(n):
        scale = limit / n
        for g in grads:
            g *= scale
    return n


def _gradients(params: Optimizer | Iterable[Tensor] | Tensor) -> list[Array]:
    if isinstance(params, Optimizer):
        return list(params.flat_grads)
    if isinstance(params, Tensor):
        params = [params]
    grads = []
    for i, p in enumerate(params):
        if not isinstance(p, Tensor):
            raise TypeError(
                f"clip_grad_norm: params[{i}] is a {type(p).__name__}, not a "
                "Tensor; pass an optimizer or model.parameters()"
            )
        if p.grad is not None:
            grads.append(p.grad)
    return grads
