"""The layers: Linear, Flatten, the activations, and the MLP builder.

Each layer is a :class:`~steepest.nn.Module` whose ``forward`` is one op of
:mod:`steepest.ops` (the fused ``linear`` for :class:`Linear`). Parameters are
read through their Tensors at every call (see :mod:`steepest.nn.module`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from steepest import ops
from steepest.backend import DEFAULT_FLOAT
from steepest.nn.init import Initializer, _as_generator, _resolve, zeros
from steepest.nn.module import Module, Sequential, _register_fusion
from steepest.tensor import Tensor, tensor

__all__ = ["Linear", "Flatten", "ReLU", "Sigmoid", "Tanh", "Softmax", "MLP"]


def _check_features(value: Any, argument: str, layer: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(
            f"{layer}: {argument} must be a positive integer, got {argument}={value!r}"
        )
    return int(value)


class Linear(Module):
    """Affine map ``y = x W^T + b``, with ``W`` of shape ``(out, in)``.

    Runs as the fused op :func:`steepest.ops.linear`, which multiplies by
    ``W`` through BLAS without a transposed copy. The weight layout is
    PyTorch's (one row per output unit); Keras stores ``(in, out)``.

    Args:
        in_features: size of each input's last axis.
        out_features: size of each output's last axis.
        bias: whether to add a learned bias ``b`` of shape ``(out,)``
            (default True); without one, ``self.bias`` is None.
        init: the weight initialiser, a name of
            :data:`steepest.nn.init.INITIALIZERS` or a function
            ``(shape, rng, dtype) -> array`` (default ``"glorot_uniform"``,
            Keras's default). The bias starts at zero.
        rng: a ``numpy.random.Generator`` (used and advanced), an int seed, or
            None for seed 0 (default None). Layers built with the same seed
            are identical, so give each layer of a model its own seed or one
            shared Generator, as :class:`MLP` does.
        dtype: the parameters' floating dtype (default float32).

    Attributes:
        weight: Tensor ``(out_features, in_features)``.
        bias: Tensor ``(out_features,)`` or None.

    Example:
        >>> import steepest as st
        >>> layer = Linear(3, 2, rng=0)
        >>> layer.weight.shape, layer.bias.shape
        ((2, 3), (2,))
        >>> layer(st.tensor([[1.0, 0.0, 0.0]])).shape
        (1, 2)
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        *,
        init: str | Initializer = "glorot_uniform",
        rng: np.random.Generator | int | None = None,
        dtype: DTypeLike = DEFAULT_FLOAT,
    ) -> None:
        super().__init__()
        self.in_features = _check_features(in_features, "in_features", "Linear")
        self.out_features = _check_features(out_features, "out_features", "Linear")
        initializer = _resolve(init, "Linear")
        generator = _as_generator(rng, "Linear")
        shape = (self.out_features, self.in_features)
        w = initializer(shape, generator, dtype)
        self.weight = tensor(w, requires_grad=True, dtype=dtype)
        if bias:
            b = zeros((self.out_features,), dtype=dtype)
            self.bias = tensor(b, requires_grad=True, dtype=dtype)
        else:
            self.bias = None

    def forward(self, x: Any) -> Tensor:
        """``x @ weight.T + bias`` for ``x`` of shape ``(..., in_features)``."""
        return ops.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}"
        )


class Flatten(Module):
    """Collapse every axis from ``start_axis`` on into one.

    Args:
        start_axis: the first axis to flatten (default 1, keeping the batch
            axis): ``(batch, 1, 28, 28)`` becomes ``(batch, 784)``.

    Example:
        >>> import numpy as np
        >>> import steepest as st
        >>> Flatten()(st.tensor(np.zeros((2, 1, 3, 3)))).shape
        (2, 9)
    """

    def __init__(self, start_axis: int = 1) -> None:
        super().__init__()
        self.start_axis = start_axis

    def forward(self, x: Tensor) -> Tensor:
        """``x`` reshaped to ``x.shape[:start_axis] + (-1,)``."""
        ndim = x.ndim
        if not -ndim <= self.start_axis < ndim:
            raise ValueError(
                f"Flatten: start_axis={self.start_axis} is out of range for an "
                f"input of shape {x.shape}"
            )
        keep = x.shape[: self.start_axis % ndim]
        return ops.reshape(x, keep + (-1,))

    def extra_repr(self) -> str:
        return f"start_axis={self.start_axis}"


class ReLU(Module):
    """Elementwise ``max(x, 0)``; its derivative at 0 is taken as 0.

    After a :class:`Linear` inside a :class:`~steepest.nn.Sequential`, it is
    fused into the linear op.
    """

    def forward(self, x: Tensor) -> Tensor:
        """``max(x, 0)``."""
        return ops.relu(x)


class Sigmoid(Module):
    """Elementwise logistic ``1 / (1 + exp(-x))``, stable for any ``x``.

    For a binary classifier, leave it out of the model and give the logits to
    :func:`steepest.losses.binary_cross_entropy`, which is exact where
    ``log(sigmoid(x))`` underflows.
    """

    def forward(self, x: Tensor) -> Tensor:
        """``1 / (1 + exp(-x))``."""
        return ops.sigmoid(x)


class Tanh(Module):
    """Elementwise hyperbolic tangent."""

    def forward(self, x: Tensor) -> Tensor:
        """``tanh(x)``."""
        return ops.tanh(x)


class Softmax(Module):
    """``exp(x) / sum(exp(x))`` along ``axis``: logits to probabilities.

    For training a classifier, leave it out of the model:
    :func:`steepest.losses.cross_entropy` takes the logits and applies the
    softmax itself, stably and with the simpler gradient.

    Args:
        axis: the axis that sums to one (default -1).
    """

    def __init__(self, axis: int = -1) -> None:
        super().__init__()
        self.axis = axis

    def forward(self, x: Tensor) -> Tensor:
        """The softmax of ``x`` along ``axis``."""
        return ops.softmax(x, axis=self.axis)

    def extra_repr(self) -> str:
        return f"axis={self.axis}"


#: The activations :class:`MLP` builds by name.
ACTIVATIONS: dict[str, type[Module]] = {
    "relu": ReLU,
    "tanh": Tanh,
    "sigmoid": Sigmoid,
}


def _activation(name: str, argument: str, valid: dict[str, type[Module]]) -> Module:
    if name not in valid:
        names = ", ".join(repr(k) for k in valid)
        raise ValueError(f"MLP: unknown {argument} {name!r}; valid names are {names}")
    return valid[name]()


class MLP(Sequential):
    """A multilayer perceptron: ``Linear`` layers with an activation between.

    ``MLP([784, 200, 10])`` is ``Sequential(Linear(784, 200), ReLU(),
    Linear(200, 10))``: its outputs are logits, for
    :func:`steepest.losses.cross_entropy`. The state-dict names follow the
    positions: ``"0.weight"``, ``"0.bias"``, ``"2.weight"``, ...

    Args:
        sizes: the widths, input first and output last (at least two).
        activation: between the linear layers: ``"relu"`` (default),
            ``"tanh"`` or ``"sigmoid"``.
        output_activation: after the last layer: None (default, logits),
            ``"relu"``, ``"tanh"``, ``"sigmoid"`` or ``"softmax"``.
        bias: whether the linear layers have biases (default True).
        init: the weight initialiser of every linear layer (default
            ``"glorot_uniform"``); see :class:`Linear`.
        rng: a ``numpy.random.Generator``, an int seed, or None for seed 0
            (default None). One Generator initialises the layers in order,
            so the same seed builds the same model.
        dtype: the parameters' dtype (default float32).
        fuse: fuse each Linear with the ReLU after it (default True).

    Example:
        >>> import steepest as st
        >>> model = MLP([4, 8, 3], activation="tanh", rng=1)
        >>> model(st.tensor([[0.5, -1.0, 2.0, 0.0]])).shape
        (1, 3)
        >>> model.num_parameters()
        67
    """

    def __init__(
        self,
        sizes: Sequence[int],
        activation: str = "relu",
        output_activation: str | None = None,
        *,
        bias: bool = True,
        init: str | Initializer = "glorot_uniform",
        rng: np.random.Generator | int | None = None,
        dtype: DTypeLike = DEFAULT_FLOAT,
        fuse: bool = True,
    ) -> None:
        sizes = list(sizes)
        if len(sizes) < 2:
            raise ValueError(
                f"MLP: sizes must list at least the input and output widths, got "
                f"sizes={sizes}; e.g. [784, 200, 10]"
            )
        for n in sizes:
            _check_features(n, "every size", "MLP")
        # Validate the names before drawing any random numbers.
        _activation(activation, "activation", ACTIVATIONS)
        outputs = {**ACTIVATIONS, "softmax": Softmax}
        if output_activation is not None:
            _activation(output_activation, "output_activation", outputs)

        generator = _as_generator(rng, "MLP")
        layers: list[Module] = []
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
            layers.append(
                Linear(n_in, n_out, bias, init=init, rng=generator, dtype=dtype)
            )
            if i < len(sizes) - 2:
                layers.append(_activation(activation, "activation", ACTIVATIONS))
        if output_activation is not None:
            layers.append(_activation(output_activation, "output_activation", outputs))
        super().__init__(*layers, fuse=fuse)
        self.sizes = tuple(int(n) for n in sizes)


def _linear_relu(layer: Module, relu: Module, x: Any) -> Tensor:
    return ops.linear(x, layer.weight, layer.bias, activation="relu")


_register_fusion(Linear, ReLU, _linear_relu)
