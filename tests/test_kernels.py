"""Building, caching and switching the compiled loops (``steepest.kernels``).

That each loop gives the bits of the NumPy code it replaces is tested where
that code lives: tests/test_optim.py (every optimizer configuration) and
tests/test_tensor.py (linear's bias + ReLU and ReLU mask). Here: the library
is built once per machine and cached, a damaged cache is built again instead
of loaded, a missing or failing compiler or cache folder falls back cleanly,
and the switch behaves.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

import steepest as st
from steepest import kernels
from steepest.optim import Adam

HAVE_KERNELS = kernels.enabled()
needs_compiler = pytest.mark.skipif(
    not HAVE_KERNELS,
    reason=f"compiled loops are off or unavailable ({kernels._failure})",
)


@pytest.fixture
def fresh_kernels(monkeypatch, tmp_path):
    """The kernels module as in a new process, with its cache under tmp_path."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(kernels, "_switch", None)
    monkeypatch.setattr(kernels, "_library", None)
    monkeypatch.setattr(kernels, "_failure", None)
    monkeypatch.delenv("STEEPEST_KERNELS", raising=False)
    return tmp_path / ".cache" / "steepest" / "kernels"


def new_process(monkeypatch):
    """Forget the loaded library, as a new process would."""
    monkeypatch.setattr(kernels, "_switch", None)
    monkeypatch.setattr(kernels, "_library", None)
    monkeypatch.setattr(kernels, "_failure", None)


def private_folders() -> set[Path]:
    return set(Path(tempfile.gettempdir()).glob("steepest-kernels-*"))


def adam_step_works() -> None:
    """One Adam step, checked against its closed form (first step = lr)."""
    w = st.tensor([1.0, 2.0], requires_grad=True)
    opt = Adam([w], lr=0.5)
    w.grad[...] = [1.0, -1.0]
    opt.step()
    np.testing.assert_allclose(w.data, [0.5, 2.5], rtol=1e-6)


def test_kernels_switch(fresh_kernels, monkeypatch):
    monkeypatch.setenv("STEEPEST_KERNELS", "0")
    assert kernels.enabled() is False
    assert not fresh_kernels.exists()  # off: nothing is compiled
    monkeypatch.setattr(kernels, "_switch", None)
    monkeypatch.setenv("STEEPEST_KERNELS", "maybe")
    with pytest.raises(ValueError, match="STEEPEST_KERNELS must be 1 .* got 'maybe'"):
        kernels.enabled()
    # Turning the loops off does not trip over the bad setting.
    assert kernels.set_enabled(False) is False
    assert kernels.enabled() is False
    adam_step_works()


@needs_compiler
def test_kernels_are_built_once_and_cached(fresh_kernels, monkeypatch):
    assert kernels.enabled() is True
    (library,) = fresh_kernels.glob("kernels-*.so")
    built = library.stat().st_mtime_ns
    # A new process loads the cached library instead of compiling again.
    new_process(monkeypatch)
    monkeypatch.setattr(kernels, "_compile", None)  # calling it would fail
    assert kernels.enabled() is True
    assert library.stat().st_mtime_ns == built
    assert list(fresh_kernels.iterdir()) == [library]  # no temporary left
    adam_step_works()


def run_python(code: str, home: Path, **env: str) -> subprocess.CompletedProcess:
    """Run ``code`` in a new Python process with HOME set to ``home``."""
    environment = {**os.environ, "HOME": str(home), **env}
    environment.pop("STEEPEST_KERNELS", None)
    return subprocess.run(
        [sys.executable, "-c", code],
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )


ADAM_STEP = (
    "import numpy as np, steepest as st\n"
    "from steepest import kernels\n"
    "from steepest.optim import Adam\n"
    "assert kernels.enabled(), kernels._failure\n"
    "w = st.tensor([1.0, 2.0], requires_grad=True)\n"
    "opt = Adam([w], lr=0.5)\n"
    "w.grad[...] = [1.0, -1.0]\n"
    "opt.step()\n"
    "np.testing.assert_allclose(w.data, [0.5, 2.5], rtol=1e-6)\n"
)


@needs_compiler
@pytest.mark.parametrize("damage", ["truncate", "garbage"])
def test_a_damaged_cached_library_is_built_again_not_loaded(tmp_path, damage):
    # Loading a damaged shared library can crash the process, so its bytes are
    # checked against the digest in its name before loading. Each process
    # here is a new one: a library must never change while a process has it
    # loaded.
    folder = tmp_path / ".cache" / "steepest" / "kernels"
    done = run_python(ADAM_STEP, tmp_path)
    assert done.returncode == 0, done.stderr
    (library,) = folder.glob("kernels-*.so")
    data = library.read_bytes()
    if damage == "truncate":
        library.write_bytes(data[: len(data) // 2])
    else:
        library.write_bytes(data[:64] + bytes(range(256)) * 8 + data[64 + 2048 :])
    done = run_python(ADAM_STEP, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "damaged" in done.stderr  # the warning, logged
    (rebuilt,) = folder.glob("kernels-*.so")
    assert rebuilt.read_bytes() == data  # the same build, whole again


@needs_compiler
def test_kernels_build_without_a_writable_cache(fresh_kernels, monkeypatch, tmp_path):
    # A cache folder that cannot be made (a file stands in its way): the loops
    # are built in a private temporary folder, which is removed after loading.
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setattr(kernels, "cache_dir", lambda: blocker)
    before = private_folders()
    assert kernels.enabled() is True
    assert blocker.read_text() == ""
    assert private_folders() == before
    adam_step_works()


@needs_compiler
def test_kernels_build_without_a_home_folder(fresh_kernels, monkeypatch):
    def no_home():
        raise RuntimeError("Could not determine home directory.")

    monkeypatch.setattr(kernels, "cache_dir", no_home)
    before = private_folders()
    assert kernels.enabled() is True
    assert private_folders() == before
    adam_step_works()


@needs_compiler
def test_cc_may_hold_a_command_with_arguments(fresh_kernels, monkeypatch):
    monkeypatch.setenv("CC", "env cc")  # as CC="ccache gcc" would be
    assert kernels.enabled() is True, kernels._failure
    adam_step_works()


def test_kernels_fall_back_when_the_compiler_fails(fresh_kernels, monkeypatch, caplog):
    # A "compiler" that always fails.
    monkeypatch.setenv("CC", f"{sys.executable} -c 'raise SystemExit(1)'")
    with caplog.at_level("WARNING", logger="steepest.kernels"):
        assert kernels.enabled() is False
    assert "using NumPy" in caplog.text and "failed to compile" in caplog.text
    with pytest.raises(kernels.KernelBuildError, match="install a C compiler"):
        kernels.set_enabled(True)
    adam_step_works()  # the optimizers take the NumPy path


def test_a_cc_that_cannot_be_split_falls_back(fresh_kernels, monkeypatch):
    monkeypatch.setenv("CC", 'gcc "')
    assert kernels.enabled() is False
    assert "CC='gcc \"' cannot be split into words" in kernels._failure
    adam_step_works()


def test_kernels_report_a_missing_compiler(fresh_kernels, monkeypatch):
    monkeypatch.setenv("CC", "no-such-compiler-here")
    assert kernels.enabled() is False
    assert "no C compiler found (looked for no-such-compiler-here" in kernels._failure
    adam_step_works()


def test_kernel_signatures_are_checked():
    with pytest.raises(ValueError, match="signature must be arrays"):
        kernels.Kernel("adam", "iaa")
    assert repr(kernels.Kernel("relu_grad", "aaa")) == "Kernel('relu_grad', 'aaa')"
