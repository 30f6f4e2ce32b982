"""Compiled elementwise loops: one pass where NumPy would make a dozen.

An optimizer's update is a dozen elementwise operations over its flat
buffers. NumPy runs each one as a pass of its own over memory, with a
temporary in between; written as one loop, the same arithmetic reads each
value once and keeps the intermediates in registers, which makes Adam's step
three to five times faster on a CPU.

A kernel is a plain Python function over 1-D arrays and scalars, decorated
with :func:`kernel`, that performs exactly the operations of the NumPy code
it replaces, in the same order and in the arrays' dtype. It is compiled by
Numba on first use (and cached on disk), with floating-point contraction and
reassociation off, so its results are bitwise those of the NumPy code; the
tests hold every kernel to that. Callers keep their NumPy code as the
reference and as the fallback: when Numba is not installed, when the array
module is not NumPy, or when ``STEEPEST_KERNELS=0`` is set in the environment
(or :func:`set_enabled` is called with False), :func:`enabled` is False and
nothing is compiled.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from collections.abc import Callable
from typing import Any

from steepest.backend import xp

__all__ = ["Kernel", "enabled", "kernel", "set_enabled"]

log = logging.getLogger(__name__)

#: The dtypes kernels are compiled for; other dtypes take the NumPy path
#: (NumPy computes float16 in float32 and rounds, which a loop would not).
KERNEL_DTYPES = (xp.dtype(xp.float32), xp.dtype(xp.float64))

_NUMBA_OPTIONS = {
    # Release the GIL, so that the optimizer's threads run side by side.
    "nogil": True,
    # Compile once per machine, not once per process.
    "cache": True,
    # Division by zero gives inf or nan as in NumPy, instead of raising; this
    # also lets the loops vectorize.
    "error_model": "numpy",
    "boundscheck": False,
    # No fast-math: no fused multiply-add, no reassociation, so each operation
    # rounds exactly as NumPy's does.
    "fastmath": False,
}

_switch: bool | None = None


def _environment_allows() -> bool:
    setting = os.environ.get("STEEPEST_KERNELS", "1").strip().lower()
    if setting in ("1", "true", "yes", "on", ""):
        return True
    if setting in ("0", "false", "no", "off"):
        return False
    raise ValueError(
        f"STEEPEST_KERNELS must be 1 (use compiled kernels) or 0 (NumPy only), "
        f"got {setting!r}"
    )


def enabled() -> bool:
    """Whether compiled kernels are used: Numba present, NumPy the backend, on.

    Returns:
        False when Numba is not installed, the array module is not NumPy,
        ``STEEPEST_KERNELS=0`` is set, or :func:`set_enabled` turned them off.
    """
    global _switch
    if _switch is None:
        _switch = (
            _environment_allows()
            and xp.__name__ == "numpy"
            and importlib.util.find_spec("numba") is not None
        )
        log.debug("compiled kernels %s", "on" if _switch else "off")
    return _switch


def set_enabled(flag: bool) -> bool:
    """Turn compiled kernels on or off for this process.

    Args:
        flag: True to use kernels where they are available, False to use the
            NumPy code everywhere (to compare the two, say).

    Returns:
        The previous setting, so that it can be restored.

    Raises:
        RuntimeError: ``flag`` is True but Numba is not installed or the
            array module is not NumPy.
    """
    global _switch
    previous = enabled()
    if flag and not (
        xp.__name__ == "numpy" and importlib.util.find_spec("numba") is not None
    ):
        raise RuntimeError(
            "compiled kernels need Numba and the NumPy backend; install numba "
            "(pip install numba) or leave kernels off"
        )
    _switch = bool(flag)
    return previous


class Kernel:
    """A loop compiled by Numba on its first call.

    Args:
        function: the loop, in the subset of Python that Numba compiles.
    """

    __slots__ = ("function", "_compiled", "__name__")

    def __init__(self, function: Callable[..., Any]) -> None:
        self.function = function
        self._compiled: Callable[..., Any] | None = None
        self.__name__ = function.__name__

    def __call__(self, *args: Any) -> Any:
        """Run the compiled loop (compiling it first if needed)."""
        compiled = self._compiled
        if compiled is None:
            compiled = self.compile()
        return compiled(*args)

    def compile(self) -> Callable[..., Any]:
        """The compiled function; Numba compiles per argument types on call."""
        if self._compiled is None:
            import numba

            self._compiled = numba.njit(**_NUMBA_OPTIONS)(self.function)
        return self._compiled

    def __repr__(self) -> str:
        return f"Kernel({self.__name__})"


def kernel(function: Callable[..., Any]) -> Kernel:
    """Decorator: make ``function`` a :class:`Kernel`, compiled on first call.

    The function must run the same operations, in the same order, as the
    NumPy code it stands for, on scalars of the arrays' dtype, so that the two
    agree bit for bit.
    """
    return Kernel(function)
