"""Optimizers by name, for configuration files and the command line."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any

from steepest.optim.adagrad import Adagrad
from steepest.optim.adam import Adam, AdamW
from steepest.optim.optimizer import Optimizer
from steepest.optim.rmsprop import RMSprop
from steepest.optim.sgd import SGD
from steepest.tensor import Tensor

__all__ = ["OPTIMIZERS", "make_optimizer"]

#: Every optimizer by name: a class, or a class with some defaults changed.
#: "momentum" is SGD(momentum=0.9), "nesterov" SGD(momentum=0.9,
#: nesterov=True); keyword arguments given later override these.
OPTIMIZERS: dict[str, Callable[..., Optimizer]] = {
    "sgd": SGD,
    "momentum": functools.partial(SGD, momentum=0.9),
    "nesterov": functools.partial(SGD, momentum=0.9, nesterov=True),
    "adagrad": Adagrad,
    "rmsprop": RMSprop,
    "adam": Adam,
    "adamw": AdamW,
}


def make_optimizer(name: str, params: Iterable[Tensor], **kwargs: Any) -> Optimizer:
    """Build the optimizer called ``name`` (a key of :data:`OPTIMIZERS`).

    Args:
        name: "sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam" or
            "adamw" (any case).
        params: the tensors to optimize, such as ``model.parameters()``.
        **kwargs: the optimizer's arguments (``lr=...``, ...); unset ones take
            the optimizer's defaults.

    Example:
        >>> import steepest as st
        >>> from steepest.optim import make_optimizer
        >>> w = st.tensor([1.0, 2.0], requires_grad=True)
        >>> make_optimizer("nesterov", [w], lr=0.1).momentum
        0.9
    """
    key = name.lower() if isinstance(name, str) else name
    if key not in OPTIMIZERS:
        known = ", ".join(repr(k) for k in OPTIMIZERS)
        raise ValueError(f"unknown optimizer {name!r}; choose one of {known}")
    return OPTIMIZERS[key](params, **kwargs)
