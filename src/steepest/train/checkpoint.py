"""Checkpoints that survive a crash mid-write and resume exactly.

A checkpoint is a folder ``RUN_DIR/checkpoints/epoch-NNNN/`` holding

- ``arrays.safetensors``: the model's weights (``model.*``), the optimizer's
  moment buffers (``optimizer.*``) and, with early stopping, the best weights
  so far (``best.*``), all at their own dtype;
- ``state.json``: the step and epoch counts, the history, the
  early-stopping bookkeeping, the data-order state (seed and next epoch; the
  order of epoch ``e`` is a function of the two, and training draws no other
  random numbers), the optimizer's scalars and the run's configuration.

Every file is written to a temporary name, flushed with ``fsync`` and renamed
into place; the folder itself is assembled under a temporary name and renamed
whole; only then is ``RUN_DIR/checkpoints/latest.json`` (the pointer a resume
reads) replaced, again by rename. A crash at any moment leaves either the
previous checkpoint or the new one, never a broken one.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import load as load_safetensors
from safetensors.numpy import save as save_safetensors

__all__ = [
    "atomic_write_bytes",
    "atomic_write_text",
    "latest_checkpoint",
    "load_checkpoint",
    "save_checkpoint",
]

CHECKPOINTS = "checkpoints"
LATEST = "latest.json"


def _fsync_dir(path: Path) -> None:
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
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """:func:`atomic_write_bytes` for UTF-8 text."""
    atomic_write_bytes(path, text.encode("utf-8"))


def save_checkpoint(run_dir: str | os.PathLike[str], state: dict[str, Any]) -> Path:
    """Write a trainer state (``{"arrays": ..., "scalars": ...}``) as the
    checkpoint of its epoch and point ``latest.json`` at it; returns its
    folder."""
    root = Path(run_dir) / CHECKPOINTS
    root.mkdir(parents=True, exist_ok=True)
    epoch = int(state["scalars"]["epoch"])
    final = root / f"epoch-{epoch:04d}"
    staging = Path(tempfile.mkdtemp(prefix=f".epoch-{epoch:04d}.", dir=root))
    try:
        arrays = {k: np.ascontiguousarray(v) for k, v in state["arrays"].items()}
        atomic_write_bytes(staging / "arrays.safetensors", save_safetensors(arrays))
        atomic_write_text(
            staging / "state.json", json.dumps(state["scalars"], indent=1) + "\n"
        )
        if final.exists():
            shutil.rmtree(final)
        os.replace(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _fsync_dir(root)
    atomic_write_text(root / LATEST, json.dumps({"checkpoint": final.name}) + "\n")
    return final


def latest_checkpoint(run_dir: str | os.PathLike[str]) -> Path:
    """The folder of the newest complete checkpoint of a run."""
    root = Path(run_dir) / CHECKPOINTS
    pointer = root / LATEST
    if not pointer.is_file():
        raise FileNotFoundError(
            f"no checkpoint in {run_dir}: {pointer} is missing; pass the folder "
            "of a run made by 'steepest train'"
        )
    name = json.loads(pointer.read_text())["checkpoint"]
    return root / name


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a checkpoint folder (or a run folder: its latest checkpoint)."""
    path = Path(path)
    if (path / CHECKPOINTS).is_dir():
        path = latest_checkpoint(path)
    arrays_file, state_file = path / "arrays.safetensors", path / "state.json"
    for file in (arrays_file, state_file):
        if not file.is_file():
            raise FileNotFoundError(f"checkpoint {path} is incomplete: {file} missing")
    arrays = load_safetensors(arrays_file.read_bytes())
    scalars = json.loads(state_file.read_text())
    return {"arrays": arrays, "scalars": scalars}
