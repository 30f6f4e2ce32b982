"""Adagrad: a per-coordinate step size from the sum of squared gradients."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from steepest.backend import xp
from steepest.kernels import Kernel
from steepest.optim.optimizer import (
    LearningRate,
    Optimizer,
    _check_at_least,
    _check_eps_pair,
)
from steepest.tensor import Array, Tensor

__all__ = ["Adagrad"]

_ADAGRAD = Kernel("adagrad", "aaairrrr")


class Adagrad(Optimizer):
    """Adagrad: divide each coordinate's step by its accumulated gradient size.

    Algorithm (g the gradient, plus ``weight_decay * theta`` when set; r starts
    at ``initial_accumulator``)::

        r <- r + g^2
        theta <- theta - lr g / (sqrt(r + eps_root) + eps)

    With the defaults (``eps = 0``, ``eps_root = 1e-8``) this is the lecture
    form ``theta <- theta - lr g / sqrt(r + 1e-8)``. Under a constant
    gradient g0 and r0 = 0, step t moves by ``lr g0 / sqrt(t g0^2 + eps_root)``:
    the step shrinks like 1/sqrt(t) whatever the gradient's scale.

    Args:
        params: the tensors to optimize, such as ``model.parameters()``.
        lr: learning rate, a number or a schedule (default 0.01).
        initial_accumulator: the starting value of r, >= 0 (default 0, as
            PyTorch; Keras and Optax use 0.1).
        eps: added to ``sqrt(r)``, outside the square root (default 0;
            PyTorch uses 1e-10 there).
        eps_root: added to r inside the square root (default 1e-8; Keras and
            Optax use 1e-7 there). eps and eps_root may not both be 0.
        weight_decay: L2 coefficient added to the gradient (default 0).

    Example:
        >>> import steepest as st
        >>> from steepest.optim import Adagrad
        >>> w = st.tensor([0.0], requires_grad=True, dtype="float64")
        >>> opt = Adagrad([w], lr=0.1)
        >>> for _ in range(2):
        ...     w.grad[...] = 0.1
        ...     opt.step()
        >>> w.data.round(6)
        array([-0.170711])

    Notes:
        PyTorch's ``lr_decay`` (lr / (1 + (t - 1) lr_decay)) is a schedule
        here: pass ``lr=lambda step: lr0 / (1 + step * lr_decay)``.

    References:
        Duchi, Hazan and Singer, Adaptive subgradient methods for online
        learning and stochastic optimization, JMLR 12, 2011. Goodfellow,
        Bengio and Courville, Deep Learning, 2016, algorithm 8.4.
    """

    def __init__(
        self,
        params: Iterable[Tensor],
        lr: LearningRate = 0.01,
        initial_accumulator: float = 0.0,
        eps: float = 0.0,
        eps_root: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        name = type(self).__name__
        self.initial_accumulator = _check_at_least(
            name, "initial_accumulator", initial_accumulator
        )
        self.eps, self.eps_root = _check_eps_pair(name, eps, eps_root)
        super().__init__(params, lr, weight_decay)
        self._add_buffer("r", self.initial_accumulator)

    def _hyperparameters(self) -> dict[str, Any]:
        return {
            "initial_accumulator": self.initial_accumulator,
            "eps": self.eps,
            "eps_root": self.eps_root,
        }

    def _update(
        self,
        theta: Array,
        g: Array,
        state: dict[str, Array],
        u: Array,
        lr: float,
        t: int,
    ) -> None:
        r = state["r"]
        eps, eps_root = self.eps, self.eps_root
        # r <- r + g^2
        xp.multiply(g, g, out=u)
        r += u
        # theta <- theta - lr g / (sqrt(r + eps_root) + eps)
        xp.add(r, eps_root, out=u)
        xp.sqrt(u, out=u)
        if eps:
            u += eps
        xp.divide(g, u, out=u)
        u *= lr
        theta -= u

    def _kernel(self, lr: float, t: int) -> tuple[Kernel, tuple[str, ...], tuple]:
        return _ADAGRAD, ("r",), (self.eps_root, self.eps, lr)
