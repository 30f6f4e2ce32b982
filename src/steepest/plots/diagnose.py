"""Figures of ``steepest diagnose``: per-layer gradients, updates and rates."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from steepest.plots import save_figure  # the package selects the Agg backend

__all__ = ["plot_diagnostics"]


def _positive(a: np.ndarray) -> np.ndarray:
    """NaN where a log axis could not show the value."""
    a = np.asarray(a, dtype=float)
    return np.where(a > 0, a, np.nan)


def plot_diagnostics(
    steps: np.ndarray,
    names: Sequence[str],
    grad_norm: np.ndarray,
    update_ratio: np.ndarray,
    lr: np.ndarray,
    path: str | Path,
    *,
    eff_lr: np.ndarray | None = None,
    eff_lr_raw: np.ndarray | None = None,
    quantiles: Sequence[float] = (5, 25, 50, 75, 95),
    decay_reference: bool = False,
    title: str = "Training diagnostics",
    dpi: int = 100,
) -> Path:
    """Plot gradient norms, update ratios and effective rates against the step.

    Three panels share a logarithmic step axis, so that the first updates
    (where Adam's bias correction acts) are as visible as the last:

    1. the L2 norm of each parameter tensor's gradient;
    2. each tensor's update-to-parameter ratio, with the usual 1e-3 marked;
    3. the effective learning rate: the median over all coordinates, the
       middle two quantiles and the outer two shaded; with ``eff_lr_raw``
       (Adam) the median rate with the raw second moment, dashed; with no
       ``eff_lr`` (SGD) the learning rate itself.

    Args:
        steps: ``(n,)`` update numbers, 1 for the first.
        names: the ``p`` parameter tensors.
        grad_norm: ``(n, p)`` gradient norms.
        update_ratio: ``(n, p)`` update norm over parameter norm.
        lr: ``(n,)`` the learning rate of each update.
        path: the image to write.
        eff_lr: ``(n, q)`` quantiles of the effective rate, or None.
        eff_lr_raw: ``(n, q)`` the same with Adam's raw second moment, or
            None.
        quantiles: the percentiles of the columns of ``eff_lr`` (default
            5, 25, 50, 75, 95); the first and last, the second and
            second-to-last, and the middle one are drawn.
        decay_reference: draw ``median(step 1) / sqrt(t)``, Adagrad's decay
            under a constant gradient (default False).
        title: the figure title.
        dpi: resolution; default 100.

    Returns:
        The path written.
    """
    steps = np.asarray(steps)
    fig = Figure(figsize=(8.5, 10.5), layout="constrained")
    ax_g, ax_u, ax_r = fig.subplots(3, 1, sharex=True)

    for j, name in enumerate(names):
        style = dict(
            color=f"C{(j // 2) % 10}" if len(names) <= 20 else f"C{j % 10}",
            linestyle="--" if name.endswith("bias") else "-",
            linewidth=1.3,
        )
        ax_g.plot(steps, _positive(grad_norm[:, j]), label=name, **style)
        ax_u.plot(steps, _positive(update_ratio[:, j]), label=name, **style)
    ax_g.set_ylabel("gradient norm ||g|| (L2, per tensor)")
    ax_g.set_title("Gradient norm of each parameter tensor")
    ax_u.axhline(1e-3, color="0.4", linestyle=":", linewidth=1.2, label="1e-3")
    ax_u.set_ylabel("||update|| / ||parameter|| (ratio)")
    ax_u.set_title("Update-to-parameter ratio of each tensor")
    for ax in (ax_g, ax_u):
        ax.set_yscale("log")
        ax.legend(fontsize=8, ncol=2 if len(names) > 4 else 1, loc="best")

    if eff_lr is None:
        ax_r.plot(steps, lr, color="C0", linewidth=1.6, label="learning rate")
        ax_r.set_title("Learning rate (the same for every coordinate)")
        ax_r.set_ylabel("learning rate")
        ax_r.legend(fontsize=8, loc="best")
    else:
        eff_lr = np.asarray(eff_lr, dtype=float)
        q = list(quantiles)
        k = len(q)
        mid = k // 2
        if k >= 2:
            ax_r.fill_between(
                steps,
                eff_lr[:, 0],
                eff_lr[:, -1],
                color="C0",
                alpha=0.15,
                label=f"{q[0]:g}-{q[-1]:g}%",
            )
        if k >= 4:
            ax_r.fill_between(
                steps,
                eff_lr[:, 1],
                eff_lr[:, -2],
                color="C0",
                alpha=0.3,
                label=f"{q[1]:g}-{q[-2]:g}%",
            )
        ax_r.plot(
            steps,
            eff_lr[:, mid],
            color="C0",
            linewidth=1.8,
            label=f"{q[mid]:g}% (median)",
        )
        if eff_lr_raw is not None:
            ax_r.plot(
                steps,
                np.asarray(eff_lr_raw)[:, mid],
                color="C3",
                linestyle="--",
                linewidth=1.4,
                label="median without bias correction of r",
            )
        if decay_reference and len(steps):
            ref = eff_lr[0, mid] * np.sqrt(steps[0] / steps)
            ax_r.plot(
                steps,
                ref,
                color="0.3",
                linestyle=":",
                linewidth=1.4,
                label="median at first step x 1/sqrt(t)",
            )
        ax_r.plot(steps, lr, color="0.5", linewidth=1.0, label="lr (schedule)")
        ax_r.set_title("Effective learning rate over all coordinates (quantiles)")
        ax_r.set_ylabel("effective lr (step per unit gradient)")
        ax_r.legend(fontsize=8, loc="best")
    ax_r.set_yscale("log")
    ax_r.set_xscale("log")
    ax_r.set_xlabel("step (updates made; log scale)")
    for ax in (ax_g, ax_u, ax_r):
        ax.grid(True, which="major", alpha=0.3)
    fig.suptitle(title)
    return save_figure(fig, path, dpi)
