"""Writing files so that a crash never leaves a partial one.

Each write goes to a temporary file in the same folder, is flushed to disk
with ``fsync`` and renamed over the destination; readers see the old file or
the new one. Used by the data cache and by run folders and checkpoints.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = [
    "atomic_write_bytes",
    "atomic_write_text",
    "cache_dir",
    "default_mode",
    "fsync_dir",
]


def cache_dir() -> Path:
    """steepest's cache folder, ``~/.cache/steepest`` (follows ``$HOME``):
    downloaded datasets and compiled loops."""
    return Path.home() / ".cache" / "steepest"


def default_mode(directory: bool = False) -> int:
    """The mode a plain ``open``/``mkdir`` would give under the current umask
    (``mkstemp`` and ``mkdtemp`` use 0600/0700, private to the owner)."""
    umask = os.umask(0)
    os.umask(umask)
    return (0o777 if directory else 0o666) & ~umask


def fsync_dir(path: Path) -> None:
    """Flush a folder's entries (a rename in it) to disk, where supported."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # not every platform opens folders
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old or the new file,
    never a partial one: temporary file, fsync, rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.chmod(tmp, default_mode())
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """:func:`atomic_write_bytes` for UTF-8 text."""
    atomic_write_bytes(path, text.encode("utf-8"))
