"""Training diagnostics: per-layer gradient norms, update sizes, effective rates.

Three quantities explain most of what an optimizer does to each layer:

- the gradient norm ``||g_l||`` of every parameter tensor ``l`` (the
  gradient of the minibatch loss, L2 penalty included, before the
  optimizer's own weight decay);
- the update-to-parameter ratio ``||theta_l(t) - theta_l(t-1)|| /
  ||theta_l(t-1)||``, the relative change a step makes (around 1e-3 is the
  usual rule of thumb for healthy training);
- for adaptive optimizers, the *effective learning rate* of every
  coordinate, the factor that turns its gradient estimate into its step:

  ====================  ===============================================
  Adagrad, RMSprop      ``lr / (sqrt(r + eps_root) + eps)``
  RMSprop, centered     ``lr / (sqrt(max(r - m^2, 0) + eps_root) + eps)``
  Adam, AdamW           ``lr / (sqrt(r_hat + eps_root) + eps)``, on s_hat
  ====================  ===============================================

  with ``r_hat = r / (1 - beta2^t)``. For Adam the rate with the *raw*
  second moment, ``lr / (sqrt(r + eps_root) + eps)``, is recorded too: the
  gap between the two is the bias correction, large for the first
  ``1 / (1 - beta2)`` steps. Under a constant gradient g Adagrad's rate is
  ``lr / sqrt(t g^2 + eps_root)``, a ``1 / sqrt(t)`` decay. The
  distribution over all coordinates is kept as quantiles (5, 25, 50, 75, 95
  percent by default).

:class:`Diagnostics` is a training callback that records these every few
steps; :func:`diagnose` gives them for a finished run folder. Checkpoints hold
the weights of each epoch, not the gradients of each step, so a run trained
without the callback is trained again from its ``config.toml`` with the
callback attached, into ``RUN_DIR/diagnose/``; training is deterministic, so
this is the same run step for step.
"""

from __future__ import annotations

import csv
import json
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from steepest.optim import Adagrad, Adam, Optimizer, RMSprop
from steepest.train import (
    Callback,
    Trainer,
    TrainingDiverged,
    load_config,
    run_training,
)
from steepest.train.run import RunWriter

__all__ = [
    "QUANTILES",
    "DiagnoseResult",
    "Diagnostics",
    "DiagnosticsData",
    "diagnose",
    "effective_learning_rates",
    "write_diagnostics",
]

logger = logging.getLogger(__name__)

#: The percentiles of the effective learning rate that are recorded.
QUANTILES: tuple[float, ...] = (5.0, 25.0, 50.0, 75.0, 95.0)

FILES = ("diagnostics.csv", "diagnostics.npz", "diagnostics.png")


def effective_learning_rates(
    optimizer: Optimizer, lr: float
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The effective learning rate of every coordinate after the last update.

    Args:
        optimizer: an optimizer that has just made update ``t =
            optimizer.step_count``.
        lr: the learning rate that update used.

    Returns:
        ``(rate, raw)``: flat float64 arrays over all parameters (dtype
        groups end to end), as in the module docstring, NaN for coordinates
        whose second moment is still exactly 0 (no gradient yet). ``raw`` is
        the rate with Adam's uncorrected second moment (None for other
        optimizers); both are None for an optimizer without a second moment (SGD), whose
        rate is ``lr`` for every coordinate.

    Example:
        >>> import steepest as st
        >>> from steepest.optim import Adagrad
        >>> w = st.tensor([0.0, 0.0], requires_grad=True, dtype="float64")
        >>> opt = Adagrad([w], lr=0.1)
        >>> w.grad[...] = [1.0, 2.0]
        >>> opt.step()
        >>> effective_learning_rates(opt, 0.1)[0].round(4)
        array([0.1 , 0.05])
    """
    if not isinstance(optimizer, Adagrad | RMSprop | Adam):
        return None, None
    hp = optimizer.hyperparameters
    buffers = optimizer.state_dict()["buffers"]
    r = np.asarray(buffers["r"], dtype=np.float64)
    eps, eps_root = hp["eps"], hp["eps_root"]
    # A coordinate whose accumulator is still exactly 0 has had no gradient
    # yet (an input pixel that is always 0, say): its rate lr / sqrt(eps_root)
    # has never been applied to anything, so it is left out.
    unused = r == 0
    if isinstance(optimizer, Adam):
        t = max(optimizer.step_count, 1)
        c2 = 1.0 - hp["beta2"] ** t
        raw = lr / (np.sqrt(r + eps_root) + eps)
        if hp["bias_correction"] == "moments":
            rate = lr / (np.sqrt(r / c2 + eps_root) + eps)
        else:
            # lr_t s = lr sqrt(c2) s_hat / ...: the rate on s_hat.
            rate = lr * math.sqrt(c2) / (np.sqrt(r + eps_root) + eps)
        rate[unused] = np.nan
        raw[unused] = np.nan
        return rate, raw
    if "m" in buffers:
        m = np.asarray(buffers["m"], dtype=np.float64)
        rate = lr / (np.sqrt(np.maximum(r - m * m, 0.0) + eps_root) + eps)
    else:
        rate = lr / (np.sqrt(r + eps_root) + eps)
    rate[unused] = np.nan
    return rate, None


@dataclass
class DiagnosticsData:
    """What :class:`Diagnostics` recorded: one row per recorded step.

    Attributes:
        optimizer: the optimizer's class name.
        names: the parameter tensors, as ``model.named_parameters()``.
        shapes: their shapes.
        quantiles: the percentiles in ``eff_lr``'s columns.
        steps: ``(n,)`` the update number, 1 for the first.
        epochs: ``(n,)`` the epoch of that update, 1-based.
        lr: ``(n,)`` the learning rate the update used.
        grad_norm: ``(n, p)`` L2 norm of each tensor's gradient.
        param_norm: ``(n, p)`` L2 norm of each tensor after the update.
        update_ratio: ``(n, p)`` norm of the update over the norm before it
            (NaN where the tensor was 0, such as a bias at its first step).
        eff_lr: ``(n, q)`` quantiles of the effective learning rate over all
            coordinates, or None (SGD).
        eff_lr_raw: ``(n, q)`` the same with Adam's uncorrected second
            moment, or None.
    """

    optimizer: str
    names: list[str]
    shapes: list[tuple[int, ...]]
    quantiles: tuple[float, ...]
    steps: np.ndarray
    epochs: np.ndarray
    lr: np.ndarray
    grad_norm: np.ndarray
    param_norm: np.ndarray
    update_ratio: np.ndarray
    eff_lr: np.ndarray | None = None
    eff_lr_raw: np.ndarray | None = None

    def columns(self) -> dict[str, np.ndarray]:
        """Every series as a named column, in the order of the CSV."""
        out = {"step": self.steps, "epoch": self.epochs, "lr": self.lr}
        for j, name in enumerate(self.names):
            out[f"grad_norm.{name}"] = self.grad_norm[:, j]
        for j, name in enumerate(self.names):
            out[f"param_norm.{name}"] = self.param_norm[:, j]
        for j, name in enumerate(self.names):
            out[f"update_ratio.{name}"] = self.update_ratio[:, j]
        for key, values in (("eff_lr", self.eff_lr), ("eff_lr_raw", self.eff_lr_raw)):
            if values is not None:
                for j, q in enumerate(self.quantiles):
                    out[f"{key}.q{q:g}"] = values[:, j]
        return out

    def write_csv(self, path: str | Path) -> Path:
        """Write :meth:`columns` as CSV, one row per recorded step."""
        path = Path(path)
        columns = self.columns()
        with path.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(columns)
            writer.writerows(zip(*(c.tolist() for c in columns.values()), strict=True))
        return path

    def save(self, path: str | Path) -> Path:
        """Write every array to an ``.npz`` file (no pickles)."""
        path = Path(path)
        meta = {
            "optimizer": self.optimizer,
            "names": self.names,
            "shapes": [list(s) for s in self.shapes],
            "quantiles": list(self.quantiles),
        }
        arrays = {
            "meta": np.array(json.dumps(meta)),
            "steps": self.steps,
            "epochs": self.epochs,
            "lr": self.lr,
            "grad_norm": self.grad_norm,
            "param_norm": self.param_norm,
            "update_ratio": self.update_ratio,
        }
        if self.eff_lr is not None:
            arrays["eff_lr"] = self.eff_lr
        if self.eff_lr_raw is not None:
            arrays["eff_lr_raw"] = self.eff_lr_raw
        with path.open("wb") as handle:
            np.savez(handle, **arrays)
        return path

    @classmethod
    def load(cls, path: str | Path) -> DiagnosticsData:
        """Read a file written by :meth:`save`."""
        with np.load(Path(path), allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            return cls(
                optimizer=meta["optimizer"],
                names=list(meta["names"]),
                shapes=[tuple(s) for s in meta["shapes"]],
                quantiles=tuple(meta["quantiles"]),
                steps=z["steps"],
                epochs=z["epochs"],
                lr=z["lr"],
                grad_norm=z["grad_norm"],
                param_norm=z["param_norm"],
                update_ratio=z["update_ratio"],
                eff_lr=z["eff_lr"] if "eff_lr" in z else None,
                eff_lr_raw=z["eff_lr_raw"] if "eff_lr_raw" in z else None,
            )


def _norm(a: np.ndarray) -> float:
    return float(np.linalg.norm(np.asarray(a, dtype=np.float64).ravel()))


class Diagnostics(Callback):
    """A callback that records per-layer diagnostics while training.

    Update ``t`` (1 for the first) is recorded when ``t <= dense`` or ``(t -
    1) % every == 0``. Recording a step costs a copy of the weights before it
    and of the optimizer's buffers after it, so ``every`` keeps the cost to
    about ``max_records`` records whatever the run's length.

    Args:
        every: record every ``every``-th update (default None: chosen at the
            start of training so that about ``max_records`` updates are
            recorded).
        dense: also record each of the first ``dense`` updates, where Adam's
            bias correction and Adagrad's decay change fastest (default 20).
        max_records: the target number of records when ``every`` is None
            (default 500).
        quantiles: the percentiles of the effective learning rate to keep
            (default :data:`QUANTILES`).
        run_dir: where ``on_train_end`` writes ``diagnostics.csv``,
            ``.npz`` and ``.png`` (default None: the run folder of the
            trainer's :class:`~steepest.train.run.RunWriter`, as in
            :func:`~steepest.train.run_training`; nothing is written without
            one).
        plot: whether to draw ``diagnostics.png`` (default True).
        name: the run's name in the figure title (default None: the name of
            the folder written to).

    Attached to a resumed run, it records the updates made after the resume
    only, and its files replace those written before.

    Attributes:
        data: the records so far, as :class:`DiagnosticsData`.
        files: the files written at the end of training, by name.

    Example:
        >>> from steepest.train import TrainConfig, run_training
        >>> diagnostics = Diagnostics()
        >>> run_training(TrainConfig(epochs=2), "run", [diagnostics])  # doctest: +SKIP
        >>> diagnostics.data.grad_norm.shape  # doctest: +SKIP
        (88, 4)
    """

    def __init__(
        self,
        every: int | None = None,
        *,
        dense: int = 20,
        max_records: int = 500,
        quantiles: Sequence[float] = QUANTILES,
        run_dir: str | Path | None = None,
        plot: bool = True,
        name: str | None = None,
    ) -> None:
        if every is not None and (not isinstance(every, int) or every < 1):
            raise ValueError(
                f"Diagnostics: every must be an integer >= 1 or None, got {every!r}"
            )
        if not isinstance(dense, int) or dense < 0:
            raise ValueError(
                f"Diagnostics: dense must be an integer >= 0, got {dense!r}"
            )
        if not isinstance(max_records, int) or max_records < 1:
            raise ValueError(
                f"Diagnostics: max_records must be an integer >= 1, got {max_records!r}"
            )
        quantiles = tuple(float(q) for q in quantiles)
        if not quantiles or not all(0 <= q <= 100 for q in quantiles):
            raise ValueError(
                f"Diagnostics: quantiles must be percentages in [0, 100], got "
                f"{quantiles}; e.g. (5, 50, 95)"
            )
        self.every = every
        self.dense = dense
        self.max_records = max_records
        self.quantiles = quantiles
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.plot = plot
        self.name = name
        self.files: dict[str, Path] = {}
        self._every = every or 1
        self._names: list[str] = []
        self._params: list[Any] = []
        self._optimizer = ""
        self._before: list[np.ndarray] | None = None
        self._next_lr = math.nan
        self._rows: list[dict[str, Any]] = []

    # -- which steps -------------------------------------------------------------

    def records(self, t: int) -> bool:
        """Whether update ``t`` (1 for the first) is recorded."""
        return t >= 1 and (t <= self.dense or (t - 1) % self._every == 0)

    # -- hooks -------------------------------------------------------------------

    def on_train_begin(self, trainer: Trainer) -> None:
        """Pick the stride, name the tensors, keep the weights before step 1."""
        named = trainer.model.named_parameters()
        self._names = [name for name, _ in named]
        self._params = [p for _, p in named]
        self._optimizer = type(trainer.optimizer).__name__
        if self.every is None:
            remaining = max(trainer.target_epochs - trainer.epoch, 1)
            total = remaining * len(trainer.train_loader)
            self._every = max(1, math.ceil(total / self.max_records))
        self._next_lr = trainer.optimizer.lr
        self._before = None
        if self.records(trainer.optimizer.step_count + 1):
            self._snapshot()

    def on_batch_end(
        self, trainer: Trainer, batch: int, batches: int, running_loss: float
    ) -> None:
        """Record this update if it is due; keep the weights before the next."""
        optimizer = trainer.optimizer
        t = optimizer.step_count
        if self.records(t):
            self._record(trainer, t)
        # The rate the next update will use (a schedule is read at the step).
        self._next_lr = optimizer.lr
        self._before = None
        if self.records(t + 1):
            self._snapshot()

    def on_train_end(self, trainer: Trainer) -> None:
        """Write the CSV, the arrays and the figure to the run folder."""
        run_dir = self.run_dir
        if run_dir is None:
            writers = [c for c in trainer.callbacks if isinstance(c, RunWriter)]
            run_dir = writers[0].run_dir if writers else None
        if run_dir is None or not self._rows:
            return
        self.files = write_diagnostics(
            self.data, run_dir, plot=self.plot, name=self.name
        )

    # -- recording ---------------------------------------------------------------

    def _snapshot(self) -> None:
        self._before = [p.data.copy() for p in self._params]

    def _record(self, trainer: Trainer, t: int) -> None:
        grads = [_norm(p.grad) for p in self._params]
        after = [_norm(p.data) for p in self._params]
        if self._before is None:
            ratios = [math.nan] * len(self._params)
        else:
            ratios = []
            for p, before in zip(self._params, self._before, strict=True):
                size = _norm(before)
                step = _norm(p.data.astype(np.float64) - before)
                ratios.append(step / size if size > 0 else math.nan)
        lr = float(self._next_lr)
        rate, raw = effective_learning_rates(trainer.optimizer, lr)
        self._rows.append(
            {
                "step": t,
                "epoch": trainer.epoch + 1,
                "lr": lr,
                "grad_norm": grads,
                "param_norm": after,
                "update_ratio": ratios,
                "eff_lr": self._quantiles(rate),
                "eff_lr_raw": self._quantiles(raw),
            }
        )

    def _quantiles(self, rate: np.ndarray | None) -> np.ndarray | None:
        if rate is None:
            return None
        used = rate[np.isfinite(rate)]
        if not used.size:
            return np.full(len(self.quantiles), np.nan)
        return np.percentile(used, self.quantiles)

    @property
    def data(self) -> DiagnosticsData:
        """The records so far as arrays."""
        rows = self._rows
        tensors, q = len(self._names), len(self.quantiles)

        def table(key: str, width: int) -> np.ndarray:
            values = [r[key] for r in rows]
            return np.array(values, dtype=np.float64).reshape(-1, width)

        def optional(key: str) -> np.ndarray | None:
            if not rows or rows[0][key] is None:
                return None
            return table(key, q)

        return DiagnosticsData(
            optimizer=self._optimizer,
            names=list(self._names),
            shapes=[tuple(param.shape) for param in self._params],
            quantiles=self.quantiles,
            steps=np.array([r["step"] for r in rows], dtype=np.int64),
            epochs=np.array([r["epoch"] for r in rows], dtype=np.int64),
            lr=np.array([r["lr"] for r in rows], dtype=np.float64),
            grad_norm=table("grad_norm", tensors),
            param_norm=table("param_norm", tensors),
            update_ratio=table("update_ratio", tensors),
            eff_lr=optional("eff_lr"),
            eff_lr_raw=optional("eff_lr_raw"),
        )


def write_diagnostics(
    data: DiagnosticsData,
    out_dir: str | Path,
    *,
    plot: bool = True,
    name: str | None = None,
) -> dict[str, Path]:
    """Write ``diagnostics.csv``, ``diagnostics.npz`` and (with ``plot``)
    ``diagnostics.png`` into ``out_dir``; return them by name. ``name``, the
    run's name in the figure title, defaults to the folder's."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = {
        "diagnostics.csv": data.write_csv(out / "diagnostics.csv"),
        "diagnostics.npz": data.save(out / "diagnostics.npz"),
    }
    if plot and len(data.steps):
        from steepest.plots.diagnose import plot_diagnostics

        files["diagnostics.png"] = plot_diagnostics(
            data.steps,
            data.names,
            data.grad_norm,
            data.update_ratio,
            data.lr,
            out / "diagnostics.png",
            eff_lr=data.eff_lr,
            eff_lr_raw=data.eff_lr_raw,
            quantiles=data.quantiles,
            title=f"Diagnostics of {name or out.name}: {data.optimizer}",
            decay_reference=data.optimizer == "Adagrad",
        )
    return files


@dataclass
class DiagnoseResult:
    """What :func:`diagnose` returns.

    Attributes:
        run_dir: the run analysed.
        out_dir: the folder holding the diagnostics files.
        data: the records.
        source: ``"recorded"`` (written while the run trained, with
            ``steepest train --diagnostics``), ``"rerun"`` (trained again
            now) or ``"cached"`` (an earlier rerun, reused).
        files: the files in ``out_dir``, by name.
        reproduced: for a rerun, whether its final train loss equals the
            original run's (None when not rerun or not comparable).
        diverged: for a rerun that stopped at an inf or nan loss, the
            message saying where; the records end there (None otherwise).
    """

    run_dir: Path
    out_dir: Path
    data: DiagnosticsData
    source: str
    files: dict[str, Path]
    reproduced: bool | None = None
    diverged: str | None = None


def _last_loss(run_dir: Path) -> float | None:
    path = run_dir / "metrics.jsonl"
    if not path.is_file():
        return None
    lines = [line for line in path.read_text().splitlines() if line]
    return json.loads(lines[-1]).get("loss") if lines else None


def diagnose(
    run_dir: str | Path,
    *,
    every: int | None = None,
    rerun: bool = False,
    data_dir: str | None = None,
    callbacks: Sequence[Callback] = (),
    plot: bool = True,
) -> DiagnoseResult:
    """The diagnostics of a run folder: recorded, cached, or trained again.

    In order: ``RUN_DIR/diagnostics.npz`` (recorded while training), then
    ``RUN_DIR/diagnose/diagnostics.npz`` (an earlier rerun); otherwise, or
    with ``rerun``, the run is trained again from its ``config.toml`` into
    ``RUN_DIR/diagnose/`` (a complete run folder) with a :class:`Diagnostics`
    callback attached. The figure is redrawn each time.

    Args:
        run_dir: a folder written by ``steepest train``.
        every: record every ``every``-th update on a rerun (default None:
            about 500 records; see :class:`Diagnostics`).
        rerun: train again even when diagnostics exist (default False).
        data_dir: where the dataset files are, if not where the config says
            (default None).
        callbacks: extra callbacks for a rerun, e.g. a progress bar.
        plot: whether to draw ``diagnostics.png`` (default True).

    Returns:
        A :class:`DiagnoseResult`.
    """
    run_dir = Path(run_dir)
    config_file = run_dir / "config.toml"
    if not config_file.is_file():
        raise FileNotFoundError(
            f"{run_dir} is not a run folder: {config_file} is missing; pass a "
            "folder written by 'steepest train'"
        )
    rerun_dir = run_dir / "diagnose"
    if not rerun:
        for folder, source in ((run_dir, "recorded"), (rerun_dir, "cached")):
            if (folder / "diagnostics.npz").is_file():
                data = DiagnosticsData.load(folder / "diagnostics.npz")
                files = write_diagnostics(data, folder, plot=plot, name=run_dir.name)
                return DiagnoseResult(run_dir, folder, data, source, files)

    config = load_config(config_file)
    if data_dir is not None:
        config.data_dir = data_dir
    recorder = Diagnostics(every, run_dir=rerun_dir, plot=plot, name=run_dir.name)
    logger.info("training %s again into %s to record diagnostics", run_dir, rerun_dir)
    try:
        result = run_training(config, rerun_dir, [recorder, *callbacks])
    except TrainingDiverged as error:
        # The records up to the divergence are the diagnosis; they were
        # written when training ended.
        return DiagnoseResult(
            run_dir, rerun_dir, recorder.data, "rerun", recorder.files, None, str(error)
        )
    original = _last_loss(run_dir)
    rows = result.trainer.history.rows
    reproduced = None
    if original is not None and rows:
        reproduced = math.isclose(original, rows[-1]["loss"], rel_tol=1e-9)
        if not reproduced:
            logger.warning(
                "the rerun of %s ended at train loss %.6g, the original at %.6g; "
                "the diagnostics describe the rerun",
                run_dir,
                rows[-1]["loss"],
                original,
            )
    return DiagnoseResult(
        run_dir, rerun_dir, recorder.data, "rerun", recorder.files, reproduced
    )
