"""Module, the base of every layer and model, and Sequential, a chain of them.

A :class:`Module` holds parameters (leaf Tensors that require a gradient) and
child modules as attributes; assigning one registers it, in order, so that
:meth:`Module.parameters` and :meth:`Module.state_dict` find everything
without being told. Names are dotted paths: ``"0.weight"``, ``"2.bias"``.

The contract with the optimizers: an optimizer takes ``model.parameters()``
and rebinds each parameter's ``.data`` and ``.grad`` to views into one flat
buffer. Modules therefore read ``self.weight.data`` through the Tensor every
time they run, never keep the array itself, and :meth:`Module.load_state_dict`
copies values into the existing arrays instead of replacing them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Self

from steepest.backend import xp
from steepest.tensor import Array, Tensor

__all__ = ["Module", "Sequential"]


def _is_parameter(value: Any) -> bool:
    return isinstance(value, Tensor) and value.requires_grad and value.is_leaf


class Module:
    """Base class of layers and models: parameters, children, mode, state.

    Subclasses call ``super().__init__()`` first, assign their parameters and
    child modules as attributes, and define :meth:`forward`; calling the
    module calls ``forward``.

    An attribute becomes a parameter when it is a leaf Tensor that requires a
    gradient at the time of assignment (``tensor(..., requires_grad=True)``);
    it stays one if ``requires_grad`` is switched off later (a frozen
    parameter is still saved and loaded). An attribute that is a Module
    becomes a child. Anything else, None included, is a plain attribute.

    Attributes:
        training: True in training mode (the default), False after
            :meth:`eval`. Layers that act differently while training (dropout,
            batch norm) read it.

    Example:
        >>> import steepest as st
        >>> class Scale(Module):
        ...     def __init__(self) -> None:
        ...         super().__init__()
        ...         self.s = st.tensor([2.0], requires_grad=True)
        ...
        ...     def forward(self, x):
        ...         return x * self.s
        >>> m = Scale()
        >>> m(st.tensor([1.0, 3.0]))
        tensor([2., 6.], dtype=float32, requires_grad=True)
        >>> [name for name, _ in m.named_parameters()]
        ['s']
    """

    training: bool

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_modules", {})
        object.__setattr__(self, "training", True)

    # -- registration ---------------------------------------------------------

    def __setattr__(self, name: str, value: Any) -> None:
        registries = self.__dict__.get("_parameters"), self.__dict__.get("_modules")
        params, modules = registries
        if params is None or modules is None:
            if isinstance(value, Module) or _is_parameter(value):
                raise AttributeError(
                    f"cannot assign {name!r} before Module.__init__() has run; "
                    f"call super().__init__() first in "
                    f"{type(self).__name__}.__init__"
                )
            object.__setattr__(self, name, value)
            return
        # A name is in at most one registry; reassigning moves it.
        params.pop(name, None)
        modules.pop(name, None)
        if isinstance(value, Module):
            modules[name] = value
        elif _is_parameter(value):
            params[name] = value
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        self.__dict__["_parameters"].pop(name, None)
        self.__dict__["_modules"].pop(name, None)
        object.__delattr__(self, name)

    # -- running ----------------------------------------------------------------

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """The computation; defined by each subclass."""
        raise NotImplementedError(
            f"{type(self).__name__} does not define forward(); subclasses of "
            "Module must"
        )

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    # -- traversal --------------------------------------------------------------

    def named_children(self) -> list[tuple[str, Module]]:
        """The direct child modules with their attribute names, in order."""
        return list(self._modules.items())

    def children(self) -> list[Module]:
        """The direct child modules, in order of assignment."""
        return list(self._modules.values())

    def named_modules(self, prefix: str = "") -> list[tuple[str, Module]]:
        """This module (named ``prefix``, default ``""``) and every module
        below it, depth first, each once."""
        out: list[tuple[str, Module]] = []
        seen: set[int] = set()
        for name, module in self._walk(prefix):
            if id(module) not in seen:
                seen.add(id(module))
                out.append((name, module))
        return out

    def modules(self) -> list[Module]:
        """This module and every module below it, depth first, each once."""
        return [module for _, module in self.named_modules()]

    def _walk(self, prefix: str) -> Iterator[tuple[str, Module]]:
        yield prefix, self
        for name, child in self._modules.items():
            yield from child._walk(f"{prefix}.{name}" if prefix else name)

    def named_parameters(self) -> list[tuple[str, Tensor]]:
        """Every parameter with its dotted name, in order of registration.

        A module's own parameters come before its children's. A parameter
        shared by two modules is listed once, under its first name.

        Example:
            >>> from steepest.nn import MLP
            >>> [n for n, _ in MLP([4, 3, 2]).named_parameters()]
            ['0.weight', '0.bias', '2.weight', '2.bias']
        """
        out: list[tuple[str, Tensor]] = []
        seen: set[int] = set()
        for prefix, module in self._walk(""):
            for name, p in module._parameters.items():
                if id(p) not in seen:
                    seen.add(id(p))
                    out.append((f"{prefix}.{name}" if prefix else name, p))
        return out

    def parameters(self) -> list[Tensor]:
        """Every parameter, in the order of :meth:`named_parameters`.

        This list is what an optimizer takes; it may rebind each parameter's
        ``.data`` and ``.grad`` to views into its own buffers.
        """
        return [p for _, p in self.named_parameters()]

    def num_parameters(self) -> int:
        """The number of scalar parameters (each shared parameter once)."""
        return sum(p.data.size for p in self.parameters())

    # -- mode and gradients -------------------------------------------------------

    def train(self, mode: bool = True) -> Self:
        """Set training mode (``mode=True``, the default) or evaluation mode
        on this module and every module below it; return self."""
        for module in self.modules():
            object.__setattr__(module, "training", bool(mode))
        return self

    def eval(self) -> Self:
        """Set evaluation mode on this module and all below it; return self."""
        return self.train(False)

    def zero_grad(self) -> None:
        """Zero every parameter's gradient in place (keeping its buffer)."""
        for p in self.parameters():
            p.zero_grad()

    # -- state --------------------------------------------------------------------

    def state_dict(self) -> dict[str, Array]:
        """A copy of every parameter's values, keyed by dotted name.

        Example:
            >>> from steepest.nn import MLP
            >>> {k: v.shape for k, v in MLP([4, 3, 2]).state_dict().items()}
            {'0.weight': (3, 4), '0.bias': (3,), '2.weight': (2, 3), '2.bias': (2,)}
        """
        return {name: p.data.copy() for name, p in self.named_parameters()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Copy values into the parameters, in place.

        The keys must be exactly those of :meth:`state_dict` and each value
        must have its parameter's shape; the dtype is converted. Everything is
        checked before anything is copied, so a failed load changes nothing.
        The arrays are written into, never replaced, so that an optimizer
        holding views of them keeps seeing the parameters.

        Args:
            state: name -> array (or Tensor), as returned by :meth:`state_dict`.

        Raises:
            ValueError: a key is missing or unexpected (all such keys named),
                or a value has the wrong shape (the key and both shapes named).
        """
        own = dict(self.named_parameters())
        missing = [k for k in own if k not in state]
        extra = [k for k in state if k not in own]
        if missing or extra:
            parts = []
            if missing:
                shapes = ", ".join(f"{k!r} {own[k].shape}" for k in missing)
                parts.append(f"missing keys {shapes}")
            if extra:
                parts.append(f"unexpected keys {', '.join(map(repr, extra))}")
            raise ValueError(
                f"load_state_dict: {'; '.join(parts)}; {type(self).__name__} "
                f"expects exactly the keys {list(own)}"
            )
        values: list[tuple[Tensor, Array]] = []
        for name, p in own.items():
            raw = state[name]
            value = raw.data if isinstance(raw, Tensor) else xp.asarray(raw)
            if value.shape != p.data.shape:
                raise ValueError(
                    f"load_state_dict: {name!r} has shape {value.shape} in the "
                    f"state dict but shape {p.data.shape} in the model; it was "
                    "saved from a model of another architecture"
                )
            # Converted now, so that a value of a bad kind fails before any copy.
            values.append((p, value.astype(p.data.dtype, copy=False)))
        for p, value in values:
            p.data[...] = value

    # -- printing -------------------------------------------------------------------

    def extra_repr(self) -> str:
        """The arguments shown inside this module's repr (default none)."""
        return ""

    def __repr__(self) -> str:
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not self._modules:
            return head + ")"
        lines = [head]
        for name, child in self._modules.items():
            body = repr(child).replace("\n", "\n  ")
            lines.append(f"  ({name}): {body}")
        return "\n".join(lines) + "\n)"


#: (type of a layer, type of the next) -> a function of (layer, next, x)
#: computing both in one op. Filled in by :mod:`steepest.nn.layers`; exact
#: types only, so a subclass that changes ``forward`` is never fused.
_FUSIONS: dict[tuple[type, type], Callable[[Module, Module, Any], Any]] = {}


def _register_fusion(
    first: type, second: type, fused: Callable[[Module, Module, Any], Any]
) -> None:
    _FUSIONS[(first, second)] = fused


class Sequential(Module):
    """Modules applied one after another; the children are named ``"0"``,
    ``"1"``, ...

    When ``fuse`` is True (the default), a :class:`~steepest.nn.Linear`
    followed directly by a :class:`~steepest.nn.ReLU` runs as one fused
    ``linear(x, weight, bias, activation="relu")``: one graph node and one
    array fewer, the same values and gradients.

    Args:
        *layers: the modules, in order.
        fuse: whether to fuse known pairs of layers (default True).

    Example:
        >>> import steepest as st
        >>> from steepest.nn import Linear, ReLU
        >>> model = Sequential(Linear(4, 3), ReLU(), Linear(3, 2))
        >>> model(st.tensor([[1.0, 2.0, 3.0, 4.0]])).shape
        (1, 2)
        >>> len(model), type(model[1]).__name__
        (3, 'ReLU')
    """

    def __init__(self, *layers: Module, fuse: bool = True) -> None:
        super().__init__()
        self.fuse = bool(fuse)
        for layer in layers:
            self.append(layer)

    def append(self, layer: Module) -> Self:
        """Add ``layer`` at the end (named by its position); return self."""
        if not isinstance(layer, Module):
            raise TypeError(
                f"Sequential: layer {len(self)} must be a Module, got "
                f"{type(layer).__name__}"
            )
        setattr(self, str(len(self._modules)), layer)
        return self

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def __getitem__(self, index: int | slice) -> Any:
        layers = list(self._modules.values())
        if isinstance(index, slice):
            return Sequential(*layers[index], fuse=self.fuse)
        try:
            return layers[index]
        except IndexError:
            raise IndexError(
                f"Sequential: index {index} is out of range for {len(layers)} layers"
            ) from None

    def forward(self, x: Any) -> Any:
        """Apply each layer in turn to ``x``."""
        layers = list(self._modules.values())
        i, n = 0, len(layers)
        while i < n:
            layer = layers[i]
            if self.fuse and i + 1 < n:
                fused = _FUSIONS.get((type(layer), type(layers[i + 1])))
                if fused is not None:
                    x = fused(layer, layers[i + 1], x)
                    i += 2
                    continue
            x = layer(x)
            i += 1
        return x

    def extra_repr(self) -> str:
        return "" if self.fuse else "fuse=False"
