"""Figures of ``steepest compare``: learning curves of several runs overlaid."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from steepest.plots import save_figure  # the package selects the Agg backend

__all__ = ["plot_compare_curves"]

_STYLES = ("-", "--", "-.", ":")


def _mean_and_range(a: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean, min and max over seeds (axis 0) of the columns that have a value."""
    a = np.asarray(a, dtype=float)
    seen = np.isfinite(a).any(axis=0)
    mean = np.full(a.shape[1], np.nan)
    lo, hi = mean.copy(), mean.copy()
    if seen.any():
        cols = a[:, seen]
        # Mask rather than nanmean: a column of NaN would warn.
        masked = np.ma.masked_invalid(cols)
        mean[seen] = masked.mean(axis=0).filled(np.nan)
        lo[seen] = masked.min(axis=0).filled(np.nan)
        hi[seen] = masked.max(axis=0).filled(np.nan)
    return mean, lo, hi


def plot_compare_curves(
    labels: Sequence[str],
    train_loss: Sequence[np.ndarray],
    dev_values: Sequence[np.ndarray],
    path: str | Path,
    *,
    dev_metric: str = "accuracy",
    loss_name: str = "cross-entropy, nats",
    title: str = "Optimizers compared",
    dpi: int = 100,
) -> Path:
    """Overlay the learning curves of several runs: train loss and a dev metric.

    Each run is drawn as the mean over its seeds, with the range from the
    lowest to the highest seed shaded when there are several. The train loss
    is on a log scale, since the optimizers differ by orders of magnitude
    late in training.

    Args:
        labels: one legend entry per run.
        train_loss: per run, an array ``(seeds, epochs)`` of the mean
            minibatch loss of each epoch; NaN where a seed had stopped.
        dev_values: per run, ``(seeds, epochs)`` of the dev accuracy (or
            dev loss, see ``dev_metric``).
        path: the image to write.
        dev_metric: ``"accuracy"`` (default) or ``"loss"``, what the second
            panel shows.
        loss_name: what the loss is, shown in the axis labels (default
            ``"cross-entropy, nats"``).
        title: the figure title.
        dpi: resolution; default 100.

    Returns:
        The path written.
    """
    if not len(labels) == len(train_loss) == len(dev_values):
        raise ValueError(
            f"plot_compare_curves: labels, train_loss and dev_values must have one "
            f"entry per run, got {len(labels)}, {len(train_loss)} and "
            f"{len(dev_values)}"
        )
    if dev_metric not in ("accuracy", "loss"):
        raise ValueError(
            f"plot_compare_curves: dev_metric must be 'accuracy' or 'loss', "
            f"got {dev_metric!r}"
        )
    fig = Figure(figsize=(11, 4.6), layout="constrained")
    ax_loss, ax_dev = fig.subplots(1, 2)
    colors = [f"C{i % 10}" for i in range(len(labels))]
    for i, (label, a, b) in enumerate(zip(labels, train_loss, dev_values, strict=True)):
        style = dict(color=colors[i], linestyle=_STYLES[(i // 10) % len(_STYLES)])
        for ax, values in ((ax_loss, a), (ax_dev, b)):
            values = np.atleast_2d(np.asarray(values, dtype=float))
            if not np.isfinite(values).any():
                # Stopped before its first epoch ended: a legend entry only.
                ax.plot([], [], label=f"{label} (no finished epoch)", **style)
                continue
            epochs = np.arange(1, values.shape[1] + 1)
            mean, lo, hi = _mean_and_range(values)
            if ax is ax_loss:
                # A log axis cannot show a loss of 0.
                mean = np.where(mean > 0, mean, np.nan)
            ax.plot(epochs, mean, linewidth=1.8, label=label, **style)
            if values.shape[0] > 1:
                ax.fill_between(epochs, lo, hi, color=colors[i], alpha=0.15)
    ax_loss.set_yscale("log")
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel(f"train loss ({loss_name}; epoch mean)")
    ax_loss.set_title("Train loss (log scale)")
    ax_dev.set_xlabel("epoch")
    if dev_metric == "accuracy":
        ax_dev.set_ylabel("dev accuracy (fraction correct)")
        ax_dev.set_title("Dev accuracy")
    else:
        ax_dev.set_ylabel(f"dev loss ({loss_name})")
        ax_dev.set_title("Dev loss")
    for ax in (ax_loss, ax_dev):
        ax.grid(True, which="major", alpha=0.3)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    shaded = any(np.atleast_2d(a).shape[0] > 1 for a in train_loss)
    note = " (line: mean over seeds; band: min to max)" if shaded else ""
    # Accuracy rises to the top and a loss falls to the bottom: the other
    # corner is usually free.
    corner = "lower right" if dev_metric == "accuracy" else "upper right"
    ax_dev.legend(fontsize=9, title=f"run{note}", title_fontsize=9, loc=corner)
    fig.suptitle(title)
    return save_figure(fig, path, dpi)
