"""Figures of training: each function takes plain arrays and writes one file.

This package holds the learning curves and schedules; each lab's figures are
in a module of their own here (``steepest.plots.paths``, ...).

Plots use matplotlib's non-interactive Agg backend, so they work on machines
without a display; nothing here opens a window or prints.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

from matplotlib.figure import Figure  # noqa: E402  (after choosing the backend)

__all__ = ["plot_curves", "plot_schedule", "save_figure"]


def save_figure(fig: Figure, path: str | Path, dpi: int = 100) -> Path:
    """Write ``fig`` to ``path`` (the format follows the suffix) and return
    the path."""
    path = Path(path)
    fig.savefig(path, dpi=dpi)
    return path


def plot_schedule(
    steps: Sequence[int],
    values: Sequence[float],
    title: str,
    path: str | Path,
    *,
    dpi: int = 100,
) -> Path:
    """Plot a learning-rate schedule, the rate against the step, to an image.

    Short schedules (60 steps or fewer) get a marker per step, since each
    marker is the rate of one update.

    Args:
        steps: the step counts (updates already made), increasing.
        values: the learning rate at each step, as long as ``steps``.
        title: the figure title, e.g. the schedule and its arguments.
        path: where to write the image; the suffix picks the format (``.png``).
        dpi: resolution of the image; default 100.

    Returns:
        The path written.

    Example:
        >>> from steepest.schedules import cosine_decay
        >>> lr = cosine_decay(0.1, decay_steps=100)
        >>> plot_schedule(range(101), [lr(t) for t in range(101)], "cosine",
        ...               "cosine.png")  # doctest: +SKIP
        PosixPath('cosine.png')
    """
    steps = list(steps)
    values = list(values)
    if len(steps) != len(values):
        raise ValueError(
            f"plot_schedule: steps and values must have the same length, "
            f"got {len(steps)} steps and {len(values)} values"
        )
    fig = Figure(figsize=(6.4, 3.6), layout="constrained")
    ax = fig.add_subplot()
    marker = "o" if len(steps) <= 60 else None
    ax.plot(steps, values, color="tab:blue", linewidth=1.6, marker=marker, ms=3.5)
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("step (updates already made)")
    ax.set_ylabel("learning rate")
    ax.set_ylim(bottom=min(0.0, *values) if values else 0.0)
    ax.grid(True, alpha=0.3)
    return save_figure(fig, path, dpi)


def plot_curves(
    rows: Sequence[dict],
    path: str | Path,
    *,
    title: str = "Learning curves",
    loss_label: str = "loss (mean NLL per example, nats)",
    dpi: int = 100,
) -> Path:
    """Plot loss (and accuracy, when present) per epoch, train against dev.

    Args:
        rows: one metrics dict per epoch with ``epoch``, ``loss`` and
            optionally ``acc``, ``dev_loss``, ``dev_acc``.
        path: the image to write.
        title: the figure title.
        loss_label: the loss axis label (default the categorical negative
            log-likelihood; "loss (mean squared error)" for regression).
        dpi: resolution; default 100.

    Returns:
        The path written.
    """
    epochs = [r["epoch"] for r in rows]
    has_acc = any(r.get("acc") is not None for r in rows)
    figure = Figure(figsize=(10 if has_acc else 5.5, 4), layout="constrained")
    axes = figure.subplots(1, 2 if has_acc else 1, squeeze=False)[0]
    panels = [("loss", loss_label)]
    if has_acc:
        panels.append(("acc", "accuracy (fraction correct)"))
    for ax, (key, label) in zip(axes, panels, strict=True):
        marker = "o" if len(epochs) <= 30 else None
        ax.plot(epochs, [r.get(key) for r in rows], marker=marker, label="train")
        if any(r.get(f"dev_{key}") is not None for r in rows):
            dev = [r.get(f"dev_{key}") for r in rows]
            ax.plot(epochs, dev, marker=marker, label="dev")
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        if key == "loss" and all((r.get("loss") or 0) > 0 for r in rows):
            ax.set_yscale("log")
        ax.grid(True, alpha=0.3)
        ax.legend()
    figure.suptitle(title)
    return save_figure(figure, path, dpi)
