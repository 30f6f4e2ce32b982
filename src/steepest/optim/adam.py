"""Adam and AdamW: moving averages of the gradient and of its square."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from steepest.backend import xp
from steepest.kernels import Kernel
from steepest.optim.optimizer import (
    LearningRate,
    Optimizer,
    _check_choice,
    _check_eps_pair,
    _check_unit_interval,
)
from steepest.tensor import Array, Tensor

__all__ = ["Adam", "AdamW"]

_ADAM = Kernel("adam", "aaaairrrrrrrrir")

BIAS_CORRECTIONS = ("moments", "step_size")


class Adam(Optimizer):
    """Adam: momentum on the gradient, scaled by the root of its second moment.

    Algorithm (g the gradient, plus ``weight_decay * theta`` when set; s, r
    start at 0; t counts updates from 1)::

        s <- beta1 s + (1 - beta1) g
        r <- beta2 r + (1 - beta2) g^2
        s_hat = s / (1 - beta1^t)
        r_hat = r / (1 - beta2^t)
        theta <- theta - lr s_hat / (sqrt(r_hat + eps_root) + eps)

    With the defaults (``eps = 0``, ``eps_root = 1e-8``) the last line is the
    lecture form ``theta <- theta - lr s_hat / sqrt(r_hat + 1e-8)``.
    ``bias_correction="step_size"`` selects the paper's efficient form, which
    folds both corrections into the step size and applies eps to the
    uncorrected r::

        lr_t = lr sqrt(1 - beta2^t) / (1 - beta1^t)
        theta <- theta - lr_t s / (sqrt(r + eps_root) + eps)

    The two agree when eps = eps_root = 0; otherwise the step-size form's eps
    acts like a larger one early on (it is Keras' "epsilon hat"). With
    ``eps = 1e-3``, ``lr = 1e-3``, a constant gradient 0.01 and theta0 = 1,
    ``1 - theta`` after 1, 2, 3 steps is 9.0909e-4, 1.8182e-3, 2.7273e-3 in
    the moments form and 2.4025e-4, 5.4922e-4, 9.0299e-4 in the step-size
    form.

    Args:
        params: the tensors to optimize, such as ``model.parameters()``.
        lr: learning rate, a number or a schedule (default 0.001).
        beta1: decay of the first moment s, in [0, 1) (default 0.9).
        beta2: decay of the second moment r, in [0, 1) (default 0.999).
        eps: added to the square root, outside it (default 0; the paper,
            PyTorch and Optax put their eps of 1e-8 here, Keras its 1e-7).
        eps_root: added inside the square root (default 1e-8; Optax's
            eps_root, default 0). eps and eps_root may not both be 0.
        bias_correction: ``"moments"`` (default: correct s and r) or
            ``"step_size"`` (correct the step size; Keras).
        weight_decay: L2 coefficient added to the gradient (default 0), as
            PyTorch's ``Adam(weight_decay=...)``. For decoupled decay use
            :class:`AdamW`.

    Example:
        >>> import steepest as st
        >>> from steepest.optim import Adam
        >>> w = st.tensor([1.0], requires_grad=True, dtype="float64")
        >>> opt = Adam([w], lr=0.1)
        >>> w.grad[...] = 0.5
        >>> opt.step()
        >>> w.data.round(6)
        array([0.9])

    Notes:
        The first step has size lr (times the sign of g) whatever the scale of
        the gradient, as long as eps is small beside |g|.

    References:
        Kingma and Ba, Adam: a method for stochastic optimization, ICLR 2015
        (algorithm 1; the step-size form is in its section 2). Goodfellow,
        Bengio and Courville, Deep Learning, 2016, algorithm 8.7.
    """

    def __init__(
        self,
        params: Iterable[Tensor],
        lr: LearningRate = 0.001,
        beta1: float = 0.9,
        beta2: float = 0.999,
        eps: float = 0.0,
        eps_root: float = 1e-8,
        bias_correction: str = "moments",
        weight_decay: float = 0.0,
    ) -> None:
        name = type(self).__name__
        self.beta1 = _check_unit_interval(name, "beta1", beta1)
        self.beta2 = _check_unit_interval(name, "beta2", beta2)
        self.eps, self.eps_root = _check_eps_pair(name, eps, eps_root)
        self.bias_correction = _check_choice(
            name, "bias_correction", bias_correction, BIAS_CORRECTIONS
        )
        super().__init__(params, lr, weight_decay)
        self._add_buffer("s")
        self._add_buffer("r")

    def _hyperparameters(self) -> dict[str, Any]:
        return {
            "beta1": self.beta1,
            "beta2": self.beta2,
            "eps": self.eps,
            "eps_root": self.eps_root,
            "bias_correction": self.bias_correction,
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
        s, r = state["s"], state["r"]
        beta1, beta2 = self.beta1, self.beta2
        # s <- beta1 s + (1 - beta1) g
        s *= beta1
        xp.multiply(g, 1.0 - beta1, out=u)
        s += u
        # r <- beta2 r + (1 - beta2) g^2
        r *= beta2
        xp.multiply(g, g, out=u)
        u *= 1.0 - beta2
        r += u
        root, outer, step_size = self._scalars(lr, t)
        if root:
            xp.add(r, root, out=u)
            xp.sqrt(u, out=u)
        else:
            xp.sqrt(r, out=u)
        if outer:
            u += outer
        xp.divide(s, u, out=u)
        u *= step_size
        if self._decoupled_weight_decay and self.weight_decay:
            # Decoupled decay: theta <- theta - lr wd theta, then the step.
            theta *= 1.0 - lr * float(self.weight_decay)
        theta -= u

    def _scalars(self, lr: float, t: int) -> tuple[float, float, float]:
        """``(root, outer, step_size)`` of update t: d = sqrt(r + root) + outer.

        Python floats, so that float32 buffers stay float32.
        """
        c1 = 1.0 - self.beta1**t
        c2 = 1.0 - self.beta2**t
        root_c2 = math.sqrt(c2)
        if self.bias_correction == "moments":
            # sqrt(r_hat + eps_root) + eps = (sqrt(r + c2 eps_root) + sqrt(c2) eps)
            # / sqrt(c2): the same step with the correction moved into scalars,
            # one pass fewer and no division by c2 over the buffer.
            return c2 * self.eps_root, root_c2 * self.eps, lr * root_c2 / c1
        # theta <- theta - lr_t s / (sqrt(r + eps_root) + eps)
        return self.eps_root, self.eps, lr * root_c2 / c1

    def _kernel(self, lr: float, t: int) -> tuple[Kernel, tuple[str, ...], tuple]:
        root, outer, step_size = self._scalars(lr, t)
        decoupled = self._decoupled_weight_decay and bool(self.weight_decay)
        decay = 1.0 - lr * float(self.weight_decay) if decoupled else 1.0
        scalars = (
            self.beta1,
            1.0 - self.beta1,
            self.beta2,
            1.0 - self.beta2,
            root,
            outer,
            step_size,
            decoupled,
            decay,
        )
        return _ADAM, ("s", "r"), scalars


class AdamW(Adam):
    """AdamW: Adam with weight decay decoupled from the gradient.

    Algorithm: Adam's (see :class:`Adam`) on the gradient g of the loss alone,
    with the decay applied to the parameters directly::

        theta <- theta - lr s_hat / (sqrt(r_hat + eps_root) + eps)
                       - lr weight_decay theta

    The decay does not pass through the moments, so every weight decays at
    the same relative rate ``lr * weight_decay`` per step, whatever its
    gradient history; with L2 in Adam (``Adam(weight_decay=...)``) the decay
    is divided by sqrt(r_hat) like the rest of the gradient.

    Args:
        params: the tensors to optimize, such as ``model.parameters()``.
        lr: learning rate, a number or a schedule (default 0.001).
        beta1: decay of the first moment, in [0, 1) (default 0.9).
        beta2: decay of the second moment, in [0, 1) (default 0.999).
        eps: added outside the square root (default 0).
        eps_root: added inside the square root (default 1e-8).
        bias_correction: ``"moments"`` (default) or ``"step_size"``.
        weight_decay: the decoupled decay rate, multiplied by the learning
            rate as in PyTorch, Keras and Optax (default 0.01, PyTorch's;
            Keras uses 0.004, Optax 1e-4).

    Example:
        >>> import steepest as st
        >>> from steepest.optim import AdamW
        >>> w = st.tensor([1.0], requires_grad=True, dtype="float64")
        >>> opt = AdamW([w], lr=1e-3, weight_decay=0.1)
        >>> opt.step()  # zero gradient: only the decay acts
        >>> w.data.round(6)
        array([0.9999])

    Notes:
        The paper multiplies the decay by a schedule multiplier but not by
        the learning rate; the libraries (and this class) multiply it by the
        learning rate, so ``weight_decay`` here is the paper's lambda over
        alpha.

    References:
        Loshchilov and Hutter, Decoupled weight decay regularization, ICLR
        2019.
    """

    _decoupled_weight_decay = True

    def __init__(
        self,
        params: Iterable[Tensor],
        lr: LearningRate = 0.001,
        beta1: float = 0.9,
        beta2: float = 0.999,
        eps: float = 0.0,
        eps_root: float = 1e-8,
        bias_correction: str = "moments",
        weight_decay: float = 0.01,
    ) -> None:
        super().__init__(
            params, lr, beta1, beta2, eps, eps_root, bias_correction, weight_decay
        )
