"""Figures of ``steepest landscape``: slices, contours, surface, trajectory."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

from steepest.plots import save_figure  # the package selects the Agg backend

__all__ = [
    "animate_trajectory",
    "plot_contour",
    "plot_interpolation",
    "plot_slice",
    "plot_surface",
    "plot_trajectory",
]

ALPHA_LABEL = "alpha: step along direction 1 (x filter norm)"
BETA_LABEL = "beta: step along direction 2 (x filter norm)"


def _levels(loss: np.ndarray, count: int = 20) -> np.ndarray:
    """Contour levels spaced evenly in log(loss) over the finite values."""
    finite = loss[np.isfinite(loss) & (loss > 0)]
    if not finite.size:
        return np.array([0.0, 1.0])
    lo, hi = float(finite.min()), float(finite.max())
    if hi <= lo * (1 + 1e-9):
        hi = lo * 1.01
    return np.geomspace(lo, hi, count)


def _contours(ax, x, y, loss, levels):
    """Filled contours on a log colour scale with labelled lines; returns
    the filled set (for a colour bar)."""
    loss = np.clip(loss, levels[0], levels[-1])
    filled = ax.contourf(
        x, y, loss, levels=levels, cmap="viridis", norm=LogNorm(levels[0], levels[-1])
    )
    lines = ax.contour(
        x, y, loss, levels=levels[::3], colors="white", linewidths=0.6, alpha=0.7
    )
    ax.clabel(lines, fontsize=7, fmt="%.3g")
    return filled


def _colorbar(fig, ax, filled, loss_name: str) -> None:
    """A colour bar with plain numbers at every other contour level."""
    levels = filled.levels
    fig.colorbar(
        filled,
        ax=ax,
        ticks=levels[::2],
        format="%.3g",
        label=f"loss ({loss_name}), log scale",
    )


def plot_slice(
    alphas: np.ndarray,
    loss: np.ndarray,
    acc: np.ndarray,
    path: str | Path,
    *,
    loss_name: str = "cross-entropy, nats",
    title: str = "1-D loss slice",
    dpi: int = 100,
) -> Path:
    """Loss (log scale) and accuracy along ``theta* + alpha d1``.

    Args:
        alphas: ``(m,)`` positions along the direction.
        loss: ``(m,)`` the loss there.
        acc: ``(m,)`` the accuracy there (all NaN: not drawn).
        path: the image to write.
        loss_name: what the loss is, for the axis label.
        title: the figure title.
        dpi: resolution; default 100.

    Returns:
        The path written.
    """
    fig = Figure(figsize=(7.5, 4.5), layout="constrained")
    ax = fig.add_subplot()
    ax.plot(alphas, loss, color="C0", linewidth=1.8, label="loss (train subset)")
    ax.axvline(0.0, color="0.5", linestyle=":", linewidth=1.0)
    ax.set_yscale("log")
    ax.set_xlabel(ALPHA_LABEL)
    ax.set_ylabel(f"loss ({loss_name}), log scale")
    handles = ax.get_lines()[:1]
    if np.isfinite(acc).any():
        twin = ax.twinx()
        twin.plot(
            alphas,
            acc,
            color="C1",
            linewidth=1.5,
            linestyle="--",
            label="accuracy (train subset)",
        )
        twin.set_ylabel("accuracy (fraction correct)")
        twin.set_ylim(0, 1.02)
        handles = [*handles, *twin.get_lines()]
    fig.legend(handles=handles, loc="outside lower center", ncol=2, fontsize=9)
    ax.grid(True, alpha=0.3)
    ax.set_title(title, fontsize=11)
    return save_figure(fig, path, dpi)


def plot_contour(
    alphas: np.ndarray,
    betas: np.ndarray,
    loss: np.ndarray,
    path: str | Path,
    *,
    loss_name: str = "cross-entropy, nats",
    title: str = "Loss contours",
    dpi: int = 100,
) -> Path:
    """Filled contours of ``loss[i, j]`` at ``(alphas[j], betas[i])``.

    Levels are spaced evenly in log(loss); the trained weights (the origin)
    are starred.

    Args:
        alphas: ``(g,)`` positions along direction 1.
        betas: ``(h,)`` positions along direction 2.
        loss: ``(h, g)`` the loss.
        path: the image to write.
        loss_name: what the loss is, for the colour bar.
        title: the figure title.
        dpi: resolution; default 100.

    Returns:
        The path written.
    """
    fig = Figure(figsize=(6.8, 5.6), layout="constrained")
    ax = fig.add_subplot()
    filled = _contours(ax, alphas, betas, loss, _levels(loss))
    ax.plot(
        [0],
        [0],
        marker="*",
        color="red",
        markersize=14,
        linestyle="none",
        markeredgecolor="white",
        label="trained weights",
    )
    _colorbar(fig, ax, filled, loss_name)
    ax.set_xlabel(ALPHA_LABEL)
    ax.set_ylabel(BETA_LABEL)
    ax.set_aspect("equal")
    ax.legend(loc="upper right", fontsize=9)
    ax.set_title(title, fontsize=11)
    return save_figure(fig, path, dpi)


def plot_surface(
    alphas: np.ndarray,
    betas: np.ndarray,
    loss: np.ndarray,
    path: str | Path,
    *,
    loss_name: str = "cross-entropy, nats",
    title: str = "Loss surface",
    dpi: int = 100,
) -> Path:
    """A 3-D surface of ``log10(loss)`` over the grid of two directions.

    Args:
        alphas: ``(g,)`` positions along direction 1.
        betas: ``(h,)`` positions along direction 2.
        loss: ``(h, g)`` the loss.
        path: the image to write.
        loss_name: what the loss is, for the vertical axis.
        title: the figure title.
        dpi: resolution; default 100.

    Returns:
        The path written.
    """
    a, b = np.meshgrid(alphas, betas)
    z = np.log10(np.where(loss > 0, loss, np.nan))
    fig = Figure(figsize=(7.5, 6.0), layout="constrained")
    # Drawn in call order, so that the star stays in front of the surface.
    ax = fig.add_subplot(projection="3d", computed_zorder=False)
    surface = ax.plot_surface(
        a, b, z, cmap="viridis", linewidth=0.2, edgecolor="0.3", antialiased=True
    )
    ax.set_xlabel("alpha (x filter norm)", labelpad=6)
    ax.set_ylabel("beta (x filter norm)", labelpad=6)
    ax.set_zlabel(f"log10 loss ({loss_name})", labelpad=8)
    # The trained weights: the grid point nearest the origin.
    i, j = int(np.argmin(np.abs(betas))), int(np.argmin(np.abs(alphas)))
    ax.scatter(
        [alphas[j]],
        [betas[i]],
        [z[i, j]],
        color="red",
        marker="*",
        s=140,
        depthshade=False,
        label="trained weights",
        zorder=10,
    )
    ax.legend(loc="upper left", fontsize=9)
    ax.view_init(elev=32, azim=-55)
    fig.colorbar(
        surface, ax=ax, shrink=0.6, pad=0.08, label=f"log10 loss ({loss_name})"
    )
    ax.set_title(title, fontsize=11)
    return save_figure(fig, path, dpi)


def plot_interpolation(
    t: np.ndarray,
    loss: np.ndarray,
    acc: np.ndarray,
    path: str | Path,
    *,
    dev_loss: np.ndarray | None = None,
    dev_acc: np.ndarray | None = None,
    loss_name: str = "cross-entropy, nats",
    title: str = "Linear interpolation",
    dpi: int = 100,
) -> Path:
    """Loss and accuracy along ``(1 - t) theta0 + t theta*``.

    Args:
        t: ``(k,)`` positions; 0 is the initial, 1 the trained weights.
        loss, acc: ``(k,)`` on the training subset (acc all NaN: no panel).
        path: the image to write.
        dev_loss, dev_acc: ``(k,)`` on the dev set, or None.
        loss_name: what the loss is, for the axis label.
        title: the figure title.
        dpi: resolution; default 100.

    Returns:
        The path written.
    """
    has_acc = np.isfinite(acc).any()
    fig = Figure(figsize=(11 if has_acc else 6, 4.3), layout="constrained")
    axes = fig.subplots(1, 2 if has_acc else 1, squeeze=False)[0]
    panels = [(axes[0], loss, dev_loss, f"loss ({loss_name}), log scale")]
    if has_acc:
        panels.append((axes[1], acc, dev_acc, "accuracy (fraction correct)"))
    for ax, train, dev, label in panels:
        ax.axvspan(0, 1, color="0.92", zorder=0)
        ax.plot(
            t,
            train,
            color="C0",
            linewidth=1.8,
            marker="o",
            markersize=3,
            label="train subset",
        )
        if dev is not None and np.isfinite(dev).any():
            ax.plot(t, dev, color="C1", linewidth=1.5, linestyle="--", label="dev")
        for x in (0, 1):
            ax.axvline(x, color="0.4", linestyle=":", linewidth=1.0)
        ax.set_xlabel("t  (0: initial weights, 1: trained weights; shaded: between)")
        ax.set_ylabel(label)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=9, loc="center right")
    axes[0].set_yscale("log")
    fig.suptitle(title)
    return save_figure(fig, path, dpi)


def _trajectory_figure(
    a: np.ndarray,
    b: np.ndarray,
    loss: np.ndarray,
    coords: np.ndarray,
    epochs: Sequence[int],
    *,
    loss_name: str,
    explained: Sequence[float] | None,
    title: str,
):
    fig = Figure(figsize=(7.2, 5.8), layout="constrained")
    ax = fig.add_subplot()
    filled = _contours(ax, a, b, loss, _levels(loss))
    _colorbar(fig, ax, filled, loss_name)
    (line,) = ax.plot(
        coords[:, 0],
        coords[:, 1],
        color="red",
        linewidth=1.6,
        marker="o",
        markersize=4,
        label="weights after each epoch",
    )
    ax.plot(
        coords[0, 0],
        coords[0, 1],
        marker="s",
        color="orange",
        markersize=9,
        linestyle="none",
        markeredgecolor="black",
        label=f"initial weights (epoch {epochs[0]})",
    )
    ax.plot(
        0,
        0,
        marker="*",
        color="red",
        markersize=15,
        linestyle="none",
        markeredgecolor="white",
        label=f"final weights (epoch {epochs[-1]})",
    )
    shares = list(explained) if explained is not None else [np.nan, np.nan]
    ax.set_xlabel(f"PC1 ({100 * shares[0]:.1f}% of variance; weight-space distance)")
    ax.set_ylabel(f"PC2 ({100 * shares[1]:.1f}% of variance; weight-space distance)")
    ax.legend(loc="best", fontsize=8)
    ax.set_title(title, fontsize=10)
    return fig, ax, line


def plot_trajectory(
    a: np.ndarray,
    b: np.ndarray,
    loss: np.ndarray,
    coords: np.ndarray,
    epochs: Sequence[int],
    path: str | Path,
    *,
    loss_name: str = "cross-entropy, nats",
    explained: Sequence[float] | None = None,
    title: str = "Training trajectory",
    dpi: int = 100,
) -> Path:
    """The path of the weights over the loss contours in the PCA plane.

    Args:
        a, b: ``(g,)``, ``(h,)`` grid positions along PC1 and PC2.
        loss: ``(h, g)`` the loss over the grid.
        coords: ``(e, 2)`` the weights of each epoch in the plane.
        epochs: ``(e,)`` their epochs (the first is the initial weights).
        path: the image to write.
        loss_name: what the loss is, for the colour bar.
        explained: the fraction of variance along PC1 and PC2.
        title: the figure title.
        dpi: resolution; default 100.

    Returns:
        The path written.
    """
    fig, _, _ = _trajectory_figure(
        a,
        b,
        loss,
        coords,
        epochs,
        loss_name=loss_name,
        explained=explained,
        title=title,
    )
    return save_figure(fig, path, dpi)


def animate_trajectory(
    a: np.ndarray,
    b: np.ndarray,
    loss: np.ndarray,
    coords: np.ndarray,
    epochs: Sequence[int],
    path: str | Path,
    *,
    loss_name: str = "cross-entropy, nats",
    explained: Sequence[float] | None = None,
    title: str = "Training trajectory",
    max_frames: int = 40,
    frame_ms: int = 300,
    dpi: int = 70,
) -> Path:
    """:func:`plot_trajectory` as a GIF that draws the path epoch by epoch.

    Args:
        a, b, loss, coords, epochs, loss_name, explained, title: as in
            :func:`plot_trajectory`.
        path: the GIF to write.
        max_frames: at most this many frames, epochs evenly subsampled
            (default 40); the last frame shows the whole path.
        frame_ms: milliseconds per frame (default 300; the last is held 4x).
        dpi: resolution; default 70.

    Returns:
        The path written.
    """
    from PIL import Image

    fig, ax, line = _trajectory_figure(
        a,
        b,
        loss,
        coords,
        epochs,
        loss_name=loss_name,
        explained=explained,
        title=title,
    )
    count = len(coords)
    shown = np.unique(np.linspace(1, count, min(max_frames, count)).round().astype(int))
    label = ax.text(
        0.02,
        0.03,
        "",
        transform=ax.transAxes,
        fontsize=10,
        color="white",
        fontweight="bold",
    )
    frames = []
    for k in shown:
        line.set_data(coords[:k, 0], coords[:k, 1])
        label.set_text(f"epoch {epochs[k - 1]}")
        buffer = io.BytesIO()
        fig.savefig(buffer, dpi=dpi, format="png")
        # The layout is fixed after the first frame: solving it again for
        # every frame would cost most of the time and could make it jitter.
        fig.set_layout_engine("none")
        buffer.seek(0)
        with Image.open(buffer) as image:
            frames.append(image.convert("RGB").quantize(colors=128))
    durations = [frame_ms] * (len(frames) - 1) + [frame_ms * 4]
    path = Path(path)
    frames[0].save(
        path, save_all=True, append_images=frames[1:], duration=durations, loop=0
    )
    return path
