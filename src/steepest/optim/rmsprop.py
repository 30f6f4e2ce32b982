"""RMSprop: a per-coordinate step size from a moving average of squared gradients."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from steepest.backend import xp
from steepest.kernels import Kernel
from steepest.optim.optimizer import (
    LearningRate,
    Optimizer,
    _check_at_least,
    _check_choice,
    _check_eps_pair,
    _check_unit_interval,
)
from steepest.optim.sgd import MOMENTUM_FORMS
from steepest.tensor import Array, Tensor

__all__ = ["RMSprop"]

_RMSPROP = Kernel("rmsprop", "aaaaairrrrrrrii")


class RMSprop(Optimizer):
    """RMSprop: divide each step by the root mean square of recent gradients.

    Algorithm (g the gradient, plus ``weight_decay * theta`` when set; r starts
    at ``initial_accumulator``, m at 0)::

        r <- beta r + (1 - beta) g^2
        d  = sqrt(r + eps_root) + eps
        theta <- theta - lr g / d

    With the defaults (``beta = 0.9``, ``eps = 0``, ``eps_root = 1e-8``) this
    is the lecture form ``theta <- theta - lr g / sqrt(r + 1e-8)``.

    Centered (Graves, 2013) also tracks the mean gradient and divides by an
    estimate of the standard deviation instead::

        m <- beta m + (1 - beta) g
        d  = sqrt(r - m^2 + eps_root) + eps

    With momentum (``mu``), the scaled step ``lr g / d`` feeds a velocity::

        v <- mu v - lr g / d;   theta <- theta + v        ("velocity", Keras)
        b <- mu b + g / d;      theta <- theta - lr b     ("trace", PyTorch)

    Args:
        params: the tensors to optimize, such as ``model.parameters()``.
        lr: learning rate, a number or a schedule (default 0.001).
        beta: decay of the average of g^2, in [0, 1) (default 0.9; Keras
            calls it rho, PyTorch alpha (default 0.99), Optax decay).
        eps: added to the square root, outside it (default 0; PyTorch puts
            its eps of 1e-8 there).
        eps_root: added inside the square root (default 1e-8; Keras puts its
            epsilon of 1e-7 there, Optax its eps of 1e-8 by default). eps and
            eps_root may not both be 0.
        centered: divide by the standard deviation rather than the root mean
            square (default False).
        momentum: mu, the decay of the velocity, in [0, 1) (default 0: none).
        momentum_form: ``"velocity"`` (default; Keras, Optax) or ``"trace"``
            (PyTorch), as in :class:`~steepest.optim.SGD`; they differ only
            when the learning rate changes.
        initial_accumulator: the starting value of r, >= 0 (default 0, as
            PyTorch, Keras and Optax; TensorFlow 1 used 1).
        weight_decay: L2 coefficient added to the gradient (default 0).

    Example:
        >>> import steepest as st
        >>> from steepest.optim import RMSprop
        >>> w = st.tensor([0.0], requires_grad=True, dtype="float64")
        >>> opt = RMSprop([w], lr=0.01, eps=1.0, eps_root=0.0)
        >>> for _ in range(2):
        ...     w.grad[...] = 1.0
        ...     opt.step()
        >>> w.data.round(7)
        array([-0.0145618])

    Notes:
        In the centered form ``r - m^2`` is clipped at 0 before the square
        root: it is never negative in exact arithmetic, but rounding can make
        it so once the gradient is nearly constant, where PyTorch gives NaN.

    References:
        Tieleman and Hinton, Lecture 6.5, Neural Networks for Machine
        Learning, 2012. Graves, Generating sequences with recurrent neural
        networks, 2013 (centered). Goodfellow, Bengio and Courville, Deep
        Learning, 2016, algorithm 8.5.
    """

    _fixed_settings = ("centered", "momentum", "momentum_form")

    def __init__(
        self,
        params: Iterable[Tensor],
        lr: LearningRate = 0.001,
        beta: float = 0.9,
        eps: float = 0.0,
        eps_root: float = 1e-8,
        centered: bool = False,
        momentum: float = 0.0,
        momentum_form: str = "velocity",
        initial_accumulator: float = 0.0,
        weight_decay: float = 0.0,
    ) -> None:
        name = type(self).__name__
        self.beta = _check_unit_interval(name, "beta", beta)
        self.eps, self.eps_root = _check_eps_pair(name, eps, eps_root)
        self.centered = bool(centered)
        self.momentum = _check_unit_interval(name, "momentum", momentum)
        self.momentum_form = _check_choice(
            name, "momentum_form", momentum_form, MOMENTUM_FORMS
        )
        self.initial_accumulator = _check_at_least(
            name, "initial_accumulator", initial_accumulator
        )
        super().__init__(params, lr, weight_decay)
        self._add_buffer("r", self.initial_accumulator)
        if self.centered:
            self._add_buffer("m")
        if self.momentum:
            self._add_buffer("v" if momentum_form == "velocity" else "b")

    def _hyperparameters(self) -> dict[str, Any]:
        return {
            "beta": self.beta,
            "eps": self.eps,
            "eps_root": self.eps_root,
            "centered": self.centered,
            "momentum": self.momentum,
            "momentum_form": self.momentum_form,
            "initial_accumulator": self.initial_accumulator,
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
        beta, mu = self.beta, self.momentum
        eps, eps_root = self.eps, self.eps_root
        r = state["r"]
        # r <- beta r + (1 - beta) g^2
        r *= beta
        xp.multiply(g, g, out=u)
        u *= 1.0 - beta
        r += u
        if "m" in state:
            m = state["m"]
            # m <- beta m + (1 - beta) g
            m *= beta
            xp.multiply(g, 1.0 - beta, out=u)
            m += u
            # d = sqrt(max(r - m^2, 0) + eps_root) + eps
            xp.multiply(m, m, out=u)
            xp.subtract(r, u, out=u)
            xp.maximum(u, 0.0, out=u)
            u += eps_root
        else:
            # d = sqrt(r + eps_root) + eps
            xp.add(r, eps_root, out=u)
        xp.sqrt(u, out=u)
        if eps:
            u += eps
        xp.divide(g, u, out=u)  # u = g / d
        if "v" in state:
            v = state["v"]
            # v <- mu v - lr g / d;  theta <- theta + v
            u *= lr
            v *= mu
            v -= u
            theta += v
        elif "b" in state:
            b = state["b"]
            # b <- mu b + g / d;  theta <- theta - lr b
            b *= mu
            b += u
            xp.multiply(b, lr, out=u)
            theta -= u
        else:
            # theta <- theta - lr g / d
            u *= lr
            theta -= u

    def _kernel(self, lr: float, t: int) -> tuple[Kernel, tuple[str, ...], tuple]:
        # The configuration follows the buffers, as in _update; buffers it
        # lacks are passed as the group's scratch (None), left alone.
        state = self._groups[0].state
        m = "m" if "m" in state else None
        if "v" in state:
            velocity, mode = "v", 1
        elif "b" in state:
            velocity, mode = "b", 2
        else:
            velocity, mode = None, 0
        scalars = (
            self.beta,
            1.0 - self.beta,
            self.eps_root,
            self.eps,
            lr,
            self.momentum,
            m is not None,
            mode,
        )
        return _RMSPROP, ("r", m, velocity), scalars
