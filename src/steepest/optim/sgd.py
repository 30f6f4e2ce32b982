"""Stochastic gradient descent: plain, with momentum, and with Nesterov momentum."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from steepest.backend import xp
from steepest.kernels import Kernel
from steepest.optim.optimizer import (
    LearningRate,
    Optimizer,
    _check_choice,
    _check_unit_interval,
)
from steepest.tensor import Array, Tensor

__all__ = ["SGD"]

MOMENTUM_FORMS = ("velocity", "trace")

_SGD = Kernel("sgd", "aairr")
_SGD_VELOCITY = Kernel("sgd_velocity", "aaairrri")
_SGD_TRACE = Kernel("sgd_trace", "aaairrri")


class SGD(Optimizer):
    """Stochastic gradient descent, optionally with (Nesterov) momentum.

    Algorithm (g the gradient, plus ``weight_decay * theta`` when set)::

        plain:      theta <- theta - lr g

        momentum:   v <- beta v - lr g
                    theta <- theta + v

        Nesterov:   v <- beta v - lr g
                    theta <- theta + beta v - lr g

    The Nesterov line is the gradient-at-the-look-ahead-point method
    rewritten in the variable ``theta + beta v``, so that it needs only the
    gradient at the current parameters (Sutskever et al., 2013).

    Args:
        params: the tensors to optimize, such as ``model.parameters()``.
        lr: learning rate, a number or a schedule (default 0.01).
        momentum: beta, the decay of the velocity, in [0, 1) (default 0:
            plain SGD).
        nesterov: use Nesterov momentum (default False); needs momentum > 0.
        momentum_form: where the learning rate enters the momentum buffer
            (default ``"velocity"``):

            - ``"velocity"``: ``v <- beta v - lr g; theta <- theta + v``, as
              above (the lecture form and Keras);
            - ``"trace"``: ``b <- beta b + g; theta <- theta - lr b``, and for
              Nesterov ``theta <- theta - lr (g + beta b)`` (PyTorch, Optax).

            With a constant learning rate ``v = -lr b`` and the two agree; they
            differ once the learning rate changes, because the velocity keeps
            the steps taken at the old rate while the trace rescales all past
            gradients by the new one.
        weight_decay: L2 coefficient added to the gradient (default 0).

    Example:
        >>> import steepest as st
        >>> from steepest.optim import SGD
        >>> w = st.tensor([1.0], requires_grad=True, dtype="float64")
        >>> opt = SGD([w], lr=0.1, momentum=0.9)
        >>> for _ in range(3):
        ...     opt.zero_grad()
        ...     (w * w / 2).sum().backward()
        ...     opt.step()
        >>> w.data.round(6)
        array([0.486])

    Notes:
        PyTorch's ``dampening`` (scaling g by ``1 - dampening`` in the trace)
        is not offered; PyTorch's default of 0 is what this class does.

    References:
        Polyak, Some methods of speeding up the convergence of iteration
        methods, 1964. Sutskever, Martens, Dahl and Hinton, On the importance
        of initialization and momentum in deep learning, ICML 2013.
        Goodfellow, Bengio and Courville, Deep Learning, 2016, section 8.3.
    """

    _fixed_settings = ("momentum", "momentum_form")

    def __init__(
        self,
        params: Iterable[Tensor],
        lr: LearningRate = 0.01,
        momentum: float = 0.0,
        nesterov: bool = False,
        momentum_form: str = "velocity",
        weight_decay: float = 0.0,
    ) -> None:
        name = type(self).__name__
        momentum = _check_unit_interval(name, "momentum", momentum)
        if nesterov and momentum == 0:
            raise ValueError(
                f"{name}: nesterov=True needs momentum > 0, got momentum={momentum}; "
                "pass momentum=0.9, say"
            )
        self.momentum = momentum
        self.nesterov = bool(nesterov)
        self.momentum_form = _check_choice(
            name, "momentum_form", momentum_form, MOMENTUM_FORMS
        )
        super().__init__(params, lr, weight_decay)
        if momentum:
            self._add_buffer("v" if momentum_form == "velocity" else "b")

    def _hyperparameters(self) -> dict[str, Any]:
        return {
            "momentum": self.momentum,
            "nesterov": self.nesterov,
            "momentum_form": self.momentum_form,
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
        beta = self.momentum
        if not state:
            # theta <- theta - lr g
            xp.multiply(g, lr, out=u)
            theta -= u
        elif "v" in state:
            v = state["v"]
            # v <- beta v - lr g
            xp.multiply(g, lr, out=u)
            v *= beta
            v -= u
            if self.nesterov:
                # theta <- theta + beta v - lr g
                theta -= u
                xp.multiply(v, beta, out=u)
                theta += u
            else:
                # theta <- theta + v
                theta += v
        else:
            b = state["b"]
            # b <- beta b + g
            b *= beta
            b += g
            if self.nesterov:
                # theta <- theta - lr (g + beta b)
                xp.multiply(b, beta, out=u)
                u += g
                u *= lr
            else:
                # theta <- theta - lr b
                xp.multiply(b, lr, out=u)
            theta -= u

    def _kernel(self, lr: float, t: int) -> tuple[Kernel, tuple[str, ...], tuple]:
        # The form follows the buffers, as in _update.
        state = self._groups[0].state
        if not state:
            return _SGD, (), (lr,)
        if "v" in state:
            return _SGD_VELOCITY, ("v",), (lr, self.momentum, self.nesterov)
        return _SGD_TRACE, ("b",), (lr, self.momentum, self.nesterov)
