"""Compiled loops: one pass over memory where NumPy would make a dozen.

An optimizer's update is a dozen elementwise operations over its flat
buffers. NumPy runs each as a pass of its own, with a temporary in between;
written as one loop, the same arithmetic reads each value once and keeps the
intermediates in registers, which makes Adam's step three to five times
faster on a CPU.

The loops are C, in ``kernels.c`` beside this file. Each performs exactly the
operations of the NumPy code it replaces, in the same order and in the
buffers' precision, and is built with floating-point contraction and fast
math off, so its results are bitwise those of the NumPy code, NaN payloads
aside (the tests hold every loop to that). The file is compiled on first use
by the system's C compiler (``$CC``, else ``cc``, ``gcc`` or ``clang``) for
this machine's CPU, into a shared library cached in
``~/.cache/steepest/kernels`` and loaded with :mod:`ctypes`; later processes
load the cached library in about a millisecond. The library's name carries
the SHA-256 of its bytes, checked before it is loaded, so a damaged file is
built again rather than run. Where there is no cache folder to write, each
process builds its own copy (in a second or less).

Callers keep their NumPy code as the reference and the fallback: with no C
compiler, with a backend other than NumPy, or with ``STEEPEST_KERNELS=0`` in
the environment (or after ``set_enabled(False)``), :func:`enabled` is False
and nothing is compiled.
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import os
import platform
import re
import shlex
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from steepest.backend import xp
from steepest.files import cache_dir, fsync_dir

__all__ = ["KERNEL_DTYPES", "Kernel", "KernelBuildError", "enabled", "set_enabled"]

log = logging.getLogger(__name__)

#: The C source of every loop.
SOURCE = Path(__file__).with_name("kernels.c")

#: The precisions the source is compiled for: dtype -> (C type, square root,
#: suffix of the function names). Other dtypes take the NumPy path (NumPy
#: computes float16 in float32 and rounds, which a float16 loop would not).
PRECISIONS = {
    xp.dtype(xp.float32): ("float", "sqrtf", "f32"),
    xp.dtype(xp.float64): ("double", "sqrt", "f64"),
}
KERNEL_DTYPES = tuple(PRECISIONS)

#: Compiler flags, after any in ``$CC`` so that they win. ``-fno-fast-math``
#: and ``-ffp-contract=off``: no reassociation, no approximate division, no
#: fused multiply-add, so each operation rounds as NumPy's does.
#: ``-fno-math-errno`` only lets sqrt vectorize (errno is never read).
#: ``-march=native`` is dropped when the compiler refuses it.
FLAGS = (
    "-O3",
    "-fno-fast-math",
    "-ffp-contract=off",
    "-fno-math-errno",
    "-fPIC",
    "-shared",
    "-std=c99",
)
NATIVE = "-march=native"

#: Seconds the compiler may take (it needs well under one).
COMPILE_TIMEOUT = 60

_COMPILERS = ("cc", "gcc", "clang")


class KernelBuildError(RuntimeError):
    """The C loops could not be compiled or loaded."""


# Every Kernel, to unbind them when another library is loaded.
_instances: list[Kernel] = []

# The loaded library, None before the first attempt; the switch, None until
# read from the environment.
_library: ctypes.CDLL | None = None
_failure: str | None = None
_switch: bool | None = None


def _environment_allows() -> bool:
    setting = os.environ.get("STEEPEST_KERNELS", "1").strip().lower()
    if setting in ("1", "true", "yes", "on", ""):
        return True
    if setting in ("0", "false", "no", "off"):
        return False
    raise ValueError(
        "STEEPEST_KERNELS must be 1 (use compiled loops) or 0 (NumPy only), "
        f"got {setting!r}"
    )


def enabled() -> bool:
    """Whether compiled loops are in use; the first call builds them.

    Returns:
        True when the switch is on (``STEEPEST_KERNELS``, :func:`set_enabled`)
        and the library is built and loaded. A failed build is logged once as
        a warning, with the compiler's message, and leaves this False.
    """
    global _switch
    if _switch is None:
        _switch = _environment_allows() and _try_load()
    return _switch


def set_enabled(flag: bool) -> bool:
    """Turn compiled loops on or off for this process.

    Args:
        flag: True to use the loops, False to use the NumPy code everywhere
            (to compare the two, say).

    Returns:
        The previous setting, so that it can be restored.

    Raises:
        KernelBuildError: ``flag`` is True but the loops cannot be built
            here; the message says why.
    """
    global _switch
    try:
        previous = enabled()
    except ValueError:  # a bad STEEPEST_KERNELS; the call below replaces it
        previous = False
    if flag and not _try_load():
        raise KernelBuildError(
            f"compiled loops are not available: {_failure}; install a C "
            "compiler (gcc or clang) or set CC, or leave them off"
        )
    _switch = bool(flag)
    return previous


class Kernel:
    """One loop of ``kernels.c``, callable for float32 and float64 buffers.

    Args:
        name: the function's name in the C source, without the precision
            suffix.
        signature: its arguments after the element count ``n``, one letter
            each: ``a`` an array (passed as its address), ``i`` a C int (a
            flag or a small count), ``r`` a real in the buffers' precision.

    A call ``kernel(dtype, n, addresses, values)`` runs the loop over ``n``
    elements: ``addresses`` are the arrays' data addresses, ``values`` the
    remaining arguments, converted by the signature.
    """

    __slots__ = ("name", "signature", "_functions")

    def __init__(self, name: str, signature: str) -> None:
        if not re.fullmatch("a+[ir]*", signature):
            raise ValueError(
                f"kernel {name!r}: signature must be arrays ('a') then ints and "
                f"reals ('i', 'r'), got {signature!r}"
            )
        self.name = name
        self.signature = signature
        self._functions: dict[Any, Any] = {}
        _instances.append(self)

    def __call__(
        self, dtype: Any, n: int, addresses: tuple[int, ...], values: tuple
    ) -> None:
        """Run the loop; releases the GIL while it runs."""
        function = self._functions.get(dtype)
        if function is None:
            function = self._bind(dtype)
        function(n, *addresses, *values)

    def _bind(self, dtype: Any) -> Any:
        if _library is None:
            raise KernelBuildError(
                f"kernel {self.name!r} called before the loops were built; "
                "check steepest.kernels.enabled() first"
            )
        ctype, _, suffix = PRECISIONS[xp.dtype(dtype)]
        real = ctypes.c_float if ctype == "float" else ctypes.c_double
        kinds = {"a": ctypes.c_void_p, "i": ctypes.c_int, "r": real}
        function = getattr(_library, f"{self.name}_{suffix}")
        function.restype = None
        function.argtypes = [ctypes.c_int64] + [kinds[k] for k in self.signature]
        self._functions[dtype] = function
        return function

    def __repr__(self) -> str:
        return f"Kernel({self.name!r}, {self.signature!r})"


# -- building -----------------------------------------------------------------


def _translation_unit() -> str:
    """The C source once per precision, with its macros defined."""
    body = SOURCE.read_text()
    parts = ["#include <math.h>\n#include <stdint.h>\n"]
    for ctype, sqrt, suffix in PRECISIONS.values():
        parts += [
            f"#define real {ctype}\n#define SQRT {sqrt}\n",
            f"#define KERNEL(name) name##_{suffix}\n",
            f'#line 1 "{SOURCE.name}"\n',
            body,
            "#undef real\n#undef SQRT\n#undef KERNEL\n",
        ]
    return "".join(parts)


def _compiler() -> list[str]:
    """The compiler command: ``$CC`` split into words, else the first found."""
    setting = os.environ.get("CC", "").strip()
    try:
        candidates = [shlex.split(setting)] if setting else [[c] for c in _COMPILERS]
    except ValueError as error:
        raise KernelBuildError(
            f"CC={setting!r} cannot be split into words ({error}); fix its quotes"
        ) from None
    for command in candidates:
        path = shutil.which(command[0])
        if path:
            return [path, *command[1:]]
    looked = ", ".join(" ".join(c) for c in candidates)
    raise KernelBuildError(f"no C compiler found (looked for {looked} on PATH)")


def _machine() -> str:
    """What the build depends on besides the source: CPU and its features."""
    features = ""
    try:
        with open("/proc/cpuinfo") as f:
            features = next(
                (line for line in f if line.startswith(("flags", "Features"))), ""
            )
    except OSError:
        pass
    return f"{platform.machine()} {platform.processor()} {features}"


def _compile(compiler: list[str], unit: str, target: Path) -> None:
    """Compile ``unit`` into the shared library ``target``."""
    message = ""
    for flags in ((NATIVE, *FLAGS), FLAGS):
        command = [*compiler, *flags, "-o", str(target), "-x", "c", "-"]
        try:
            done = subprocess.run(
                command,
                input=unit,
                capture_output=True,
                text=True,
                timeout=COMPILE_TIMEOUT,
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            raise KernelBuildError(f"running {compiler[0]} failed: {error}") from None
        if done.returncode == 0:
            return
        lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
        message = " | ".join(lines[-4:]) or f"exit status {done.returncode}"
    raise KernelBuildError(
        f"{' '.join(compiler)} failed to compile {SOURCE.name}: {message}"
    )


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def _load_cached(folder: Path, key: str) -> ctypes.CDLL | None:
    """The cached library for ``key`` whose bytes match its name, if any.

    A file whose bytes do not match (cut short by a crash, overwritten) is
    removed, so that it is built again, rather than loaded and run.
    """
    for path in sorted(folder.glob(f"kernels-{key}-*.so")):
        try:
            if _digest(path) == path.stem.rsplit("-", 1)[1]:
                return ctypes.CDLL(str(path))
            log.warning("removing the damaged compiled loops %s", path)
            path.unlink()
        except OSError as error:
            log.warning("cannot use the compiled loops %s: %s", path, error)
    return None


def _remove_stale_temporaries(folder: Path) -> None:
    """Remove temporaries of builds killed more than an hour ago."""
    now = time.time()
    for path in folder.glob("tmp*.so"):
        try:
            if now - path.stat().st_mtime > 3600:
                path.unlink()
        except OSError:
            pass


def _build_into(folder: Path, key: str, compiler: list[str], unit: str) -> Path:
    """Compile into ``folder`` atomically; the name carries the bytes' digest."""
    _remove_stale_temporaries(folder)
    fd, temporary = tempfile.mkstemp(suffix=".so", dir=folder)
    os.close(fd)
    try:
        _compile(compiler, unit, Path(temporary))
        with open(temporary, "rb+") as f:
            os.fsync(f.fileno())
        target = folder / f"kernels-{key}-{_digest(Path(temporary))}.so"
        os.replace(temporary, target)  # a racing process sees all of it or none
        fsync_dir(folder)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    log.info("compiled the loops of %s into %s", SOURCE.name, target)
    return target


def _build() -> ctypes.CDLL:
    """Load the cached library, compiling it first when there is none."""
    compiler = _compiler()
    unit = _translation_unit()
    key = hashlib.sha256(
        "\0".join([unit, *compiler, *FLAGS, NATIVE, _machine()]).encode()
    ).hexdigest()[:20]
    try:
        folder: Path | None = cache_dir() / "kernels"
    except RuntimeError as error:  # no home folder to resolve
        log.info("no cache folder for the compiled loops: %s", error)
        folder = None
    if folder is not None:
        library = _load_cached(folder, key) if folder.is_dir() else None
        if library is not None:
            return library
        try:
            folder.mkdir(parents=True, exist_ok=True)
            return ctypes.CDLL(str(_build_into(folder, key, compiler, unit)))
        except OSError as error:
            log.info(
                "cannot cache the compiled loops in %s (%s); building them for "
                "this process only",
                folder,
                error,
            )
    # No usable cache: build in a private folder, load, and remove the folder
    # (the loaded library stays mapped).
    with tempfile.TemporaryDirectory(prefix="steepest-kernels-") as private:
        target = Path(private) / "kernels.so"
        _compile(compiler, unit, target)
        return ctypes.CDLL(str(target))


def _try_load() -> bool:
    """Build and load the library once per process; False if that fails."""
    global _library, _failure
    if _library is not None:
        return True
    if _failure is not None:
        return False
    if xp.__name__ != "numpy":
        _failure = f"the array backend is {xp.__name__}, not numpy"
        return False
    try:
        _library = _build()
        for instance in _instances:
            instance._functions.clear()
    except (KernelBuildError, OSError, RuntimeError) as error:
        _failure = str(error)
        log.warning(
            "compiled loops unavailable, using NumPy (the same results, slower; "
            "STEEPEST_KERNELS=0 skips the attempt): %s",
            _failure,
        )
        return False
    return True
