"""Layers and models: :class:`Module`, :class:`Sequential`, :class:`Linear`,
the activations, :class:`MLP`, and the initialisers in :mod:`steepest.nn.init`.

Example:
    >>> import steepest as st
    >>> from steepest import nn
    >>> model = nn.MLP([2, 4, 1], activation="tanh", rng=0)
    >>> model(st.tensor([[1.0, -1.0]])).shape
    (1, 1)
"""

from steepest.nn import init
from steepest.nn.layers import MLP, Flatten, Linear, ReLU, Sigmoid, Softmax, Tanh
from steepest.nn.module import Module, Sequential

__all__ = [
    "MLP",
    "Flatten",
    "Linear",
    "Module",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Softmax",
    "Tanh",
    "init",
]
