"""steepest: neural-network training from first principles.

The engine: :class:`Tensor` and the differentiable functions of
:mod:`steepest.ops`, re-exported here so that ``steepest.exp(x)`` reads like
``torch.exp(x)``.
"""

from steepest.ops import (
    abs,
    clip,
    concatenate,
    exp,
    linear,
    log,
    log_softmax,
    logsumexp,
    matmul,
    max,
    maximum,
    mean,
    min,
    minimum,
    relu,
    reshape,
    sigmoid,
    softmax,
    softmax_cross_entropy,
    softplus,
    sqrt,
    stack,
    sum,
    tanh,
    transpose,
    where,
)
from steepest.tensor import Tensor, enable_grad, is_grad_enabled, no_grad, tensor

# The sub-packages users reach as steepest.nn, steepest.optim, ...; imported
# after the engine, which they build on.
from steepest import data, losses, nn, optim, schedules  # noqa: E402  isort: skip

__version__ = "0.1.0"

__all__ = [
    "Tensor",
    "abs",
    "clip",
    "concatenate",
    "data",
    "enable_grad",
    "exp",
    "is_grad_enabled",
    "linear",
    "log",
    "log_softmax",
    "losses",
    "logsumexp",
    "matmul",
    "max",
    "maximum",
    "mean",
    "min",
    "minimum",
    "nn",
    "no_grad",
    "optim",
    "relu",
    "reshape",
    "schedules",
    "sigmoid",
    "softmax",
    "softmax_cross_entropy",
    "softplus",
    "sqrt",
    "stack",
    "sum",
    "tanh",
    "tensor",
    "transpose",
    "where",
]
