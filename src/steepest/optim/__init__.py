"""Optimizers over one flat parameter buffer and one flat gradient buffer.

Each optimizer copies its parameters into one contiguous array per dtype and
makes every parameter's ``.data`` and ``.grad`` a view into it, so a step is
one pass of a compiled loop (or a handful of in-place NumPy calls) whatever
the number of tensors.

The defaults follow each algorithm as taught; options reproduce PyTorch,
Keras and Optax (see docs/optimizers.md for the arguments per library).

Example:
    >>> import steepest as st
    >>> from steepest import optim
    >>> w = st.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = optim.Adam([w], lr=1e-3)
    >>> opt.zero_grad()
    >>> (w * w).sum().backward()
    >>> opt.step()
    >>> opt.step_count, opt.lr
    (1, 0.001)
"""

from steepest.optim.adagrad import Adagrad
from steepest.optim.adam import Adam, AdamW
from steepest.optim.clip import clip_grad_norm
from steepest.optim.optimizer import LearningRate, Optimizer
from steepest.optim.registry import OPTIMIZERS, make_optimizer
from steepest.optim.rmsprop import RMSprop
from steepest.optim.sgd import SGD

__all__ = [
    "OPTIMIZERS",
    "SGD",
    "Adagrad",
    "Adam",
    "AdamW",
    "LearningRate",
    "Optimizer",
    "RMSprop",
    "clip_grad_norm",
    "make_optimizer",
]
