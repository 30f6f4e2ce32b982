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
import logging
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load as load_safetensors
from safetensors.numpy import save as save_safetensors

from steepest.files import (
    atomic_write_bytes,
    atomic_write_text,
    default_mode,
    fsync_dir,
)

__all__ = [
    "CheckpointError",
    "atomic_write_bytes",
    "atomic_write_text",
    "checkpoint_folders",
    "latest_checkpoint",
    "load_checkpoint",
    "save_checkpoint",
]

logger = logging.getLogger(__name__)

CHECKPOINTS = "checkpoints"
LATEST = "latest.json"
_EPOCH_FOLDER = re.compile(r"epoch-(\d+)")


class CheckpointError(ValueError):
    """A checkpoint file that cannot be read; the message names the file."""


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
        os.chmod(staging, default_mode(directory=True))
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
    fsync_dir(root)
    atomic_write_text(root / LATEST, json.dumps({"checkpoint": final.name}) + "\n")
    return final


def checkpoint_folders(run_dir: str | os.PathLike[str]) -> list[tuple[int, Path]]:
    """``(epoch, folder)`` of every ``epoch-NNNN`` folder of a run, oldest
    first (complete or not)."""
    root = Path(run_dir) / CHECKPOINTS
    if not root.is_dir():
        return []
    found = []
    for folder in root.iterdir():
        match = _EPOCH_FOLDER.fullmatch(folder.name)
        if match and folder.is_dir():
            found.append((int(match.group(1)), folder))
    return sorted(found)


def latest_checkpoint(run_dir: str | os.PathLike[str]) -> Path:
    """The folder ``checkpoints/latest.json`` points at (it may not load; see
    :func:`load_checkpoint` for the fallback to earlier ones)."""
    root = Path(run_dir) / CHECKPOINTS
    pointer = root / LATEST
    if not pointer.is_file():
        raise FileNotFoundError(
            f"no checkpoint in {run_dir}: {pointer} is missing; pass the folder "
            "of a run made by 'steepest train'"
        )
    return root / _read_pointer(pointer)


def _read_pointer(pointer: Path) -> str:
    """The folder name in ``latest.json``; CheckpointError if unreadable."""
    try:
        name = json.loads(pointer.read_text(encoding="utf-8"))["checkpoint"]
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as err:
        raise CheckpointError(
            f"{pointer} is unreadable ({type(err).__name__}: {err}); it should "
            'hold {"checkpoint": "epoch-NNNN"}'
        ) from None
    if not isinstance(name, str) or not _EPOCH_FOLDER.fullmatch(name):
        raise CheckpointError(
            f"{pointer} names {name!r}, not a folder epoch-NNNN of {pointer.parent}"
        )
    return name


def _load_folder(path: Path) -> dict[str, Any]:
    """Read one checkpoint folder; the error names the bad file and the fault."""
    arrays_file, state_file = path / "arrays.safetensors", path / "state.json"
    for file in (arrays_file, state_file):
        if not file.is_file():
            raise FileNotFoundError(f"checkpoint {path} is incomplete: {file} missing")
    try:
        arrays = load_safetensors(arrays_file.read_bytes())
    except SafetensorError as err:
        # safetensors' own error type derives from Exception only.
        raise CheckpointError(
            f"{arrays_file} is damaged (truncated or not safetensors): {err}"
        ) from None
    try:
        scalars = json.loads(state_file.read_text(encoding="utf-8"))
    except UnicodeDecodeError as err:
        raise CheckpointError(f"{state_file} is not UTF-8 text: {err}") from None
    except json.JSONDecodeError as err:
        raise CheckpointError(
            f"{state_file} is not valid JSON (truncated?): {err}"
        ) from None
    if not isinstance(scalars, dict) or "epoch" not in scalars:
        raise CheckpointError(
            f"{state_file} holds no trainer state: expected a JSON object with "
            '"epoch", "history", "optimizer", ...'
        )
    return {"arrays": arrays, "scalars": scalars}


def _load_newest(run_dir: Path) -> dict[str, Any]:
    """The checkpoint ``latest.json`` names, else the newest earlier one that
    loads (with a warning for each one skipped)."""
    root = run_dir / CHECKPOINTS
    folders = checkpoint_folders(run_dir)
    tried: list[str] = []
    newest: int | None = None
    pointer = root / LATEST
    if pointer.is_file():
        try:
            name = _read_pointer(pointer)
            newest = int(_EPOCH_FOLDER.fullmatch(name).group(1))
            if not any(folder.name == name for _, folder in folders):
                raise CheckpointError(f"{pointer} names {name}, which is missing")
        except CheckpointError as err:
            tried.append(str(err))
            logger.warning("%s; looking for the newest checkpoint that loads", err)
            newest = None
    if newest is not None:
        folders = [(e, f) for e, f in folders if e <= newest]
    for _, folder in reversed(folders):
        try:
            state = _load_folder(folder)
        except (CheckpointError, FileNotFoundError) as err:
            tried.append(str(err))
            logger.warning("%s; trying the checkpoint before it", err)
            continue
        if tried:
            logger.warning("resuming from %s instead", folder)
        return state
    if not tried:
        raise FileNotFoundError(
            f"no checkpoint in {run_dir}: {root} holds no epoch-NNNN folder (the "
            "run stopped before its first epoch ended); start it again"
        )
    raise CheckpointError(
        f"no checkpoint of {run_dir} loads; tried: " + "; ".join(tried)
    )


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a checkpoint folder, or a run folder's newest usable checkpoint.

    For a run folder: the checkpoint ``latest.json`` names, or (if that file
    is missing or damaged, or its checkpoint does not load) the newest
    earlier ``epoch-NNNN`` folder that loads, with a logged warning. Raises
    :class:`CheckpointError` (a ValueError naming each file tried and what is
    wrong with it) when none loads, FileNotFoundError when there is none.
    """
    path = Path(path)
    if (path / CHECKPOINTS).is_dir():
        return _load_newest(path)
    if (path / "config.toml").is_file():
        raise FileNotFoundError(
            f"no checkpoint in {path}: it has no {CHECKPOINTS}/ folder (the run "
            "stopped before its first epoch ended); start it again"
        )
    if (
        not (path / "state.json").exists()
        and not (path / "arrays.safetensors").exists()
    ):
        raise FileNotFoundError(
            f"{path} is neither a run folder nor a checkpoint folder; pass the "
            "folder 'steepest train' printed, or one of its checkpoints/epoch-NNNN"
        )
    return _load_folder(path)
