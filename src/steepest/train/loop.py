"""The training loop: minibatch steps, evaluation, early stopping, callbacks.

One :class:`Trainer` joins a model, a loss, an optimizer and a
:class:`~steepest.data.DataLoader`. Its whole state (weights, optimizer
moments and step, epoch, history, early-stopping bookkeeping) is in
:meth:`Trainer.state_dict`, and the order of the training examples in epoch
``e`` is a pure function of ``(seed, e)``, so a run stopped after any epoch
and resumed from its checkpoint ends bit for bit where the uninterrupted run
does.

The loop logs through :mod:`logging` and reports progress only through
callbacks; it never prints.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from steepest.data import DataLoader, RunningMean
from steepest.losses import accuracy, l2_penalty
from steepest.nn import Module
from steepest.tensor import Tensor, no_grad

__all__ = [
    "Callback",
    "EarlyStopping",
    "History",
    "Trainer",
    "TrainingDiverged",
    "evaluate",
]

logger = logging.getLogger(__name__)

LossFn = Callable[[Tensor, np.ndarray], Tensor]


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; training stopped at that step."""


class Callback:
    """Hooks the trainer calls; override the ones you need.

    ``on_batch_end`` receives the 1-based batch index within the epoch, the
    number of batches, and the running mean loss of the epoch so far.
    ``on_epoch_end`` receives the epoch's metrics row (a dict).
    """

    def on_train_begin(self, trainer: Trainer) -> None:
        """Called once before the first epoch of a :meth:`Trainer.fit` call."""

    def on_epoch_begin(self, trainer: Trainer, epoch: int) -> None:
        """Called before epoch ``epoch`` (0-based)."""

    def on_batch_end(
        self, trainer: Trainer, batch: int, batches: int, running_loss: float
    ) -> None:
        """Called after every optimizer step."""

    def on_epoch_end(self, trainer: Trainer, row: dict[str, Any]) -> None:
        """Called after each epoch's evaluation with its metrics row."""

    def on_train_end(self, trainer: Trainer) -> None:
        """Called once when :meth:`Trainer.fit` returns or raises."""


@dataclass
class History:
    """One metrics row per finished epoch, in order."""

    rows: list[dict[str, Any]] = field(default_factory=list)

    def column(self, name: str) -> list[Any]:
        """The values of one metric over the epochs (None where absent)."""
        return [row.get(name) for row in self.rows]


@dataclass
class EarlyStopping:
    """Stop when a dev metric has not improved for ``patience`` epochs.

    Args:
        patience: epochs without improvement before stopping (>= 1).
        monitor: the metrics-row key to watch (default ``"dev_loss"``).
        mode: ``"min"`` or ``"max"`` (default: ``"max"`` for accuracies,
            else ``"min"``).
        min_delta: the smallest change that counts as improvement (default 0).

    The trainer keeps a copy of the weights of the best epoch and restores
    them when training ends.
    """

    patience: int
    monitor: str = "dev_loss"
    mode: str | None = None
    min_delta: float = 0.0

    def __post_init__(self) -> None:
        if not isinstance(self.patience, int) or self.patience < 1:
            raise ValueError(
                f"early stopping patience must be an integer >= 1, got "
                f"{self.patience!r}"
            )
        if self.mode is None:
            self.mode = "max" if "acc" in self.monitor else "min"
        if self.mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {self.mode!r}")

    def improved(self, value: float, best: float | None) -> bool:
        """Whether ``value`` beats ``best`` by more than ``min_delta``."""
        if best is None:
            return True
        if self.mode == "min":
            return value < best - self.min_delta
        return value > best + self.min_delta


@no_grad()
def evaluate(
    model: Module,
    loss_fn: LossFn,
    x: np.ndarray,
    y: np.ndarray,
    *,
    batch_size: int = 1000,
    classification: bool = True,
) -> dict[str, float]:
    """Mean loss (and accuracy) of ``model`` on ``(x, y)``, in eval mode.

    Means are weighted by batch size. Returns ``{"loss": ..., "acc": ...}``
    (no ``acc`` for regression); NaN values for an empty set.
    """
    if len(x) == 0:
        out = {"loss": math.nan}
        if classification:
            out["acc"] = math.nan
        return out
    was_training = model.training
    model.eval()
    dtype = _input_dtype(model)
    try:
        loss_mean, acc_mean = RunningMean(), RunningMean()
        for start in range(0, len(x), batch_size):
            xb, yb = x[start : start + batch_size], y[start : start + batch_size]
            output = model(Tensor._wrap(xb.astype(dtype, copy=False)))
            loss_mean.update(loss_fn(output, yb).item(), len(xb))
            if classification:
                acc_mean.update(accuracy(output, yb), len(xb))
    finally:
        model.train(was_training)
    out = {"loss": loss_mean.mean}
    if classification:
        out["acc"] = acc_mean.mean
    return out


class Trainer:
    """Minibatch training of ``model`` on ``loss_fn`` with ``optimizer``.

    Args:
        model: the network; its ``parameters()`` are what ``optimizer`` owns.
        loss_fn: ``loss_fn(output, targets) -> scalar Tensor`` (mean over the
            batch).
        optimizer: a :mod:`steepest.optim` optimizer over the model.
        train_loader: batches of the training split.
        dev: ``(x, y)`` of the dev split, or None.
        classification: whether to report accuracy (default True).
        l2: weight of the L2 penalty added to the loss (default 0; see
            :func:`steepest.losses.l2_penalty`).
        early_stopping: an :class:`EarlyStopping`, or None.
        callbacks: :class:`Callback` objects, called in order.
        eval_batch_size: batch size for evaluation (default 1000).
    """

    def __init__(
        self,
        model: Module,
        loss_fn: LossFn,
        optimizer: Any,
        train_loader: DataLoader,
        dev: tuple[np.ndarray, np.ndarray] | None = None,
        *,
        classification: bool = True,
        l2: float = 0.0,
        early_stopping: EarlyStopping | None = None,
        callbacks: Sequence[Callback] = (),
        eval_batch_size: int = 1000,
    ) -> None:
        if l2 < 0 or not math.isfinite(l2):
            raise ValueError(f"l2 must be a finite number >= 0, got {l2!r}")
        self.model = model
        self.loss_fn = loss_fn
        self.optimizer = optimizer
        self.train_loader = train_loader
        self.dev = dev
        self.classification = classification
        self.l2 = float(l2)
        self.early_stopping = early_stopping
        self.callbacks = list(callbacks)
        self.eval_batch_size = eval_batch_size
        self.epoch = 0  # epochs finished
        self.target_epochs = 0  # the total asked of the current fit()
        self.history = History()
        self.best_value: float | None = None
        self.best_epoch: int | None = None
        self.best_state: dict[str, np.ndarray] | None = None
        self.epochs_without_improvement = 0
        self.stopped_early = False

    # -- one epoch -----------------------------------------------------------

    def _train_epoch(self) -> dict[str, float]:
        model, optimizer, loss_fn = self.model, self.optimizer, self.loss_fn
        model.train()
        loss_mean, acc_mean = RunningMean(), RunningMean()
        batches = len(self.train_loader)
        last_finite, lr = math.nan, optimizer.lr
        dtype = _input_dtype(
            model
        )  # float64 data must not make a float32 model run in float64
        # Overflow shows up below as a non-finite loss, with a clearer message
        # than NumPy's warning.
        with np.errstate(over="ignore", invalid="ignore"):
            for batch, (xb, yb) in enumerate(self.train_loader.epoch(self.epoch), 1):
                lr = optimizer.lr

                # Forward: data loss (and penalty) on this batch.
                output = model(Tensor._wrap(xb.astype(dtype, copy=False)))
                loss = loss_fn(output, yb)
                data_loss = loss.item()
                if self.l2:
                    loss = loss + l2_penalty(model, self.l2)

                # Stop at the first non-finite loss, before it reaches the weights.
                value = loss.item()
                if not math.isfinite(value):
                    self._diverged(value, batch, batches, last_finite, lr)
                last_finite = value

                # Backward and update.
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()

                # Report.
                loss_mean.update(data_loss, len(xb))
                if self.classification:
                    acc_mean.update(accuracy(output, yb), len(xb))
                for callback in self.callbacks:
                    callback.on_batch_end(self, batch, batches, loss_mean.mean)
        row = {"loss": loss_mean.mean, "lr": lr}
        if self.classification:
            row["acc"] = acc_mean.mean
        return row

    def _diverged(
        self, value: float, batch: int, batches: int, last: float, lr: float
    ) -> None:
        step = self.optimizer.step_count + 1
        raise TrainingDiverged(
            f"the loss became {value} at step {step} (epoch {self.epoch + 1}, "
            f"batch {batch}/{batches}); the last finite loss was {last:.6g} and "
            f"the learning rate {lr:.3g}. Training stopped; try a smaller "
            f"learning rate (e.g. {lr / 10:.3g})"
        )

    # -- the loop ------------------------------------------------------------

    def fit(self, epochs: int) -> History:
        """Train until ``epochs`` epochs in total have run (counting those of
        a resumed run), or early stopping ends it; returns the history."""
        if not isinstance(epochs, int) or epochs < 1:
            raise ValueError(f"epochs must be an integer >= 1, got {epochs!r}")
        self.target_epochs = epochs
        for callback in self.callbacks:
            callback.on_train_begin(self)
        try:
            while self.epoch < epochs and not self.stopped_early:
                for callback in self.callbacks:
                    callback.on_epoch_begin(self, self.epoch)
                started = time.perf_counter()
                row = {"epoch": self.epoch + 1, **self._train_epoch()}
                if self.dev is not None:
                    dev = evaluate(
                        self.model,
                        self.loss_fn,
                        *self.dev,
                        batch_size=self.eval_batch_size,
                        classification=self.classification,
                    )
                    row.update({f"dev_{k}": v for k, v in dev.items()})
                row["seconds"] = time.perf_counter() - started
                self.epoch += 1
                self._track_best(row)
                self.history.rows.append(row)
                logger.info("epoch %d: %s", self.epoch, row)
                for callback in self.callbacks:
                    callback.on_epoch_end(self, row)
        finally:
            if self.best_state is not None and self.early_stopping is not None:
                self.model.load_state_dict(self.best_state)
            for callback in self.callbacks:
                callback.on_train_end(self)
        return self.history

    def _track_best(self, row: dict[str, Any]) -> None:
        stopper = self.early_stopping
        if stopper is None:
            return
        if stopper.monitor not in row:
            raise ValueError(
                f"early stopping monitors {stopper.monitor!r}, which this run "
                f"does not report; available: {sorted(row)}"
            )
        value = row[stopper.monitor]
        if stopper.improved(value, self.best_value):
            self.best_value = value
            self.best_epoch = self.epoch
            self.best_state = self.model.state_dict()
            self.epochs_without_improvement = 0
        else:
            self.epochs_without_improvement += 1
            if self.epochs_without_improvement >= stopper.patience:
                self.stopped_early = True
                logger.info(
                    "early stopping after epoch %d: %s has not improved on %.6g "
                    "(epoch %d) for %d epochs",
                    self.epoch,
                    stopper.monitor,
                    self.best_value,
                    self.best_epoch,
                    stopper.patience,
                )

    # -- state ---------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """Everything a resume needs besides the configuration.

        Arrays (weights, optimizer moments, best weights) and JSON-able
        scalars, kept apart under ``"arrays"`` and ``"scalars"``.
        """
        arrays = {f"model.{k}": v for k, v in self.model.state_dict().items()}
        opt_scalars = _split_arrays(self.optimizer.state_dict(), "optimizer.", arrays)
        if self.best_state is not None:
            arrays.update({f"best.{k}": v for k, v in self.best_state.items()})
        scalars = {
            "epoch": self.epoch,
            "history": self.history.rows,
            "best_value": self.best_value,
            "best_epoch": self.best_epoch,
            "epochs_without_improvement": self.epochs_without_improvement,
            "stopped_early": self.stopped_early,
            "optimizer": opt_scalars,
            "data_order": {"seed": self.train_loader.seed, "next_epoch": self.epoch},
        }
        return {"arrays": arrays, "scalars": scalars}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a :meth:`state_dict`; weights are copied in place."""
        arrays, scalars = state["arrays"], state["scalars"]
        self.model.load_state_dict(_with_prefix(arrays, "model."))
        self.optimizer.load_state_dict(
            _join_arrays(scalars["optimizer"], _with_prefix(arrays, "optimizer."))
        )
        best = _with_prefix(arrays, "best.")
        self.best_state = best or None
        self.epoch = int(scalars["epoch"])
        self.history = History(list(scalars["history"]))
        self.best_value = scalars["best_value"]
        self.best_epoch = scalars["best_epoch"]
        self.epochs_without_improvement = int(scalars["epochs_without_improvement"])
        self.stopped_early = bool(scalars["stopped_early"])
        seed = scalars["data_order"]["seed"]
        if seed != self.train_loader.seed:
            raise ValueError(
                f"the checkpoint was shuffled with seed {seed} but the loader "
                f"uses seed {self.train_loader.seed}; resume with --seed {seed}"
            )


def _input_dtype(model: Module) -> Any:
    """The floating dtype of the model's parameters, which inputs are cast to."""
    for p in model.parameters():
        return p.data.dtype
    return np.dtype(np.float32)


def _with_prefix(arrays: dict[str, np.ndarray], prefix: str) -> dict[str, Any]:
    n = len(prefix)
    return {k[n:]: v for k, v in arrays.items() if k.startswith(prefix)}


def _split_arrays(
    state: dict[str, Any], prefix: str, arrays: dict[str, np.ndarray]
) -> dict[str, Any]:
    """Move the arrays of a nested state dict into ``arrays`` under dotted
    keys; return what is left, made JSON-able."""
    scalars: dict[str, Any] = {}
    for key, value in state.items():
        if isinstance(value, np.ndarray):
            arrays[prefix + key] = value
        elif isinstance(value, dict):
            scalars[key] = _split_arrays(value, f"{prefix}{key}.", arrays)
        elif isinstance(value, np.generic):
            scalars[key] = value.item()
        elif hasattr(value, "to_config"):
            scalars[key] = value.to_config()
        elif callable(value):
            scalars[key] = repr(value)
        else:
            scalars[key] = value
    return scalars


def _join_arrays(scalars: dict[str, Any], arrays: dict[str, np.ndarray]) -> dict:
    """Undo :func:`_split_arrays`: put the dotted-key arrays back in place."""
    state = dict(scalars)
    for key, value in arrays.items():
        *path, leaf = key.split(".")
        node = state
        for part in path:
            node = node.setdefault(part, {})
        node[leaf] = value
    return state
