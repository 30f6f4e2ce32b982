"""Figures of the ``paths`` lab: optimizer trajectories over a contour plot.

Both functions take plain arrays: the function on a grid and the positions of
each path. :func:`plot_paths` writes a still image with every path in full;
:func:`animate_paths` writes a GIF in which the optimizers move together,
step by step.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator
from PIL import Image

from steepest.plots import save_figure  # the package selects the Agg backend

__all__ = ["animate_paths", "plot_paths"]

_COLORS = (
    "tab:blue",
    "tab:orange",
    "tab:green",
    "tab:red",
    "tab:purple",
    "tab:brown",
    "tab:pink",
    "tab:olive",
    "tab:cyan",
    "tab:gray",
)
_AXIS_LABELS = ("x (first coordinate, unitless)", "y (second coordinate, unitless)")


def plot_paths(
    grid_x: np.ndarray,
    grid_y: np.ndarray,
    grid_f: np.ndarray,
    paths: np.ndarray,
    labels: Sequence[str],
    path: str | Path,
    *,
    title: str,
    minima: np.ndarray | None = None,
    minima_label: str = "minimum",
    exit_points: np.ndarray | None = None,
    bounds: Sequence[float] | None = None,
    log_contours: bool = False,
    dpi: int = 100,
) -> Path:
    """Draw every optimizer's whole path over the contours of ``f``.

    Args:
        grid_x: x coordinates of the grid, ``(g,)``.
        grid_y: y coordinates of the grid, ``(h,)``.
        grid_f: ``f`` on the grid, ``(h, g)`` (row ``j`` at ``grid_y[j]``).
        paths: positions, ``(k, T + 1, 2)``; NaN where a path was stopped.
        labels: a legend entry per path, ``k`` of them.
        path: the image to write (``.png``).
        title: the figure title.
        minima: points to mark with a star, ``(m, 2)`` (default None).
        minima_label: the legend entry of those points (default "minimum").
        exit_points: where each path left the plot, ``(k, 2)``, NaN for paths
            that did not (default None).
        bounds: the box shown, ``(x_min, x_max, y_min, y_max)`` (default:
            the grid's extent).
        log_contours: space contour levels logarithmically (default False).
        dpi: resolution (default 100).

    Returns:
        The path written.
    """
    paths = _check_paths(paths, labels)
    fig = Figure(figsize=(9.0, 6.0), layout="constrained")
    ax = fig.add_subplot()
    _draw_surface(fig, ax, grid_x, grid_y, grid_f, log_contours, bounds)
    handles = []
    for i, label in enumerate(labels):
        xy = paths[i]
        marker = "o" if np.sum(np.isfinite(xy[:, 0])) <= 150 else None
        (line,) = ax.plot(
            xy[:, 0],
            xy[:, 1],
            color=_color(i),
            lw=_width(i),
            marker=marker,
            ms=2.5,
            label=label,
        )
        handles.append(line)
        last = _last_finite(xy)
        ax.plot(*last, "o", color=_color(i), ms=6, mec="black", mew=0.8)
    handles += _draw_marks(ax, paths, minima, minima_label, exit_points)
    ax.set_title(title, pad=10)
    fig.legend(handles=handles, loc="outside right upper", fontsize=9)
    return save_figure(fig, path, dpi)


def animate_paths(
    grid_x: np.ndarray,
    grid_y: np.ndarray,
    grid_f: np.ndarray,
    paths: np.ndarray,
    labels: Sequence[str],
    path: str | Path,
    *,
    title: str,
    minima: np.ndarray | None = None,
    minima_label: str = "minimum",
    exit_points: np.ndarray | None = None,
    bounds: Sequence[float] | None = None,
    log_contours: bool = False,
    exit_steps: np.ndarray | None = None,
    frames: int = 60,
    fps: int = 10,
    dpi: int = 70,
) -> Path:
    """Write a GIF in which every optimizer advances step by step together.

    Frame ``i`` of ``frames`` shows each path up to step
    ``round(i T / (frames - 1))``, so the last frame is the whole race, and
    it is held for two seconds before the GIF loops.

    Args:
        grid_x, grid_y, grid_f, paths, labels, title, minima, minima_label,
            exit_points, bounds, log_contours: as for :func:`plot_paths`.
        path: the file to write (``.gif``).
        exit_steps: the step from which each exit mark is shown, ``(k,)``
            (default None: on the last frame only).
        frames: number of frames, >= 2 (default 60).
        fps: frames per second (default 10).
        dpi: resolution (default 70, which keeps the file small).

    Returns:
        The path written.
    """
    paths = _check_paths(paths, labels)
    if frames < 2:
        raise ValueError(f"animate_paths: frames must be >= 2, got frames={frames}")
    steps = paths.shape[1] - 1
    shown = np.unique(np.round(np.linspace(0, steps, frames)).astype(int))
    fig = Figure(figsize=(9.0, 6.0), dpi=dpi, layout="constrained")
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    _draw_surface(fig, ax, grid_x, grid_y, grid_f, log_contours, bounds)
    ax.set_title(title, pad=10)

    # What moves is drawn on top of a saved background (blitting): redrawing
    # the contours, axes and layout for every frame would cost ~0.2 s a frame.
    lines, heads, exits = [], [], []
    for i, label in enumerate(labels):
        (line,) = ax.plot([], [], color=_color(i), lw=_width(i), label=label)
        (head,) = ax.plot([], [], "o", color=_color(i), ms=7, mec="black", mew=0.8)
        (gone,) = ax.plot([], [], "X", color=_color(i), ms=10, mec="black")
        lines.append(line)
        heads.append(head)
        exits.append(gone)
    clock = ax.text(
        0.02,
        0.97,
        "",
        transform=ax.transAxes,
        va="top",
        fontsize=11,
        bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "none"},
    )
    marks = _draw_marks(ax, paths, minima, minima_label, None)
    has_exits = exit_points is not None and np.isfinite(exit_points).any()
    if has_exits:
        marks.append(_exit_handle())
    fig.legend(handles=lines + marks, loc="outside right upper", fontsize=9)
    moving = [*lines, *heads, *exits, clock]
    for artist in moving:
        artist.set_animated(True)
    canvas.draw()
    fig.set_layout_engine("none")  # keep the layout of the first draw
    background = canvas.copy_from_bbox(fig.bbox)

    images = []
    for s in shown:
        for i in range(len(labels)):
            xy = paths[i, : s + 1]
            lines[i].set_data(xy[:, 0], xy[:, 1])
            heads[i].set_data(*([v] for v in _last_finite(xy)))
            if has_exits and np.all(np.isfinite(exit_points[i])):
                due = steps if exit_steps is None else exit_steps[i]
                point = exit_points[i] if s >= due else (np.nan, np.nan)
                exits[i].set_data([point[0]], [point[1]])
        clock.set_text(f"step {s} of {steps}")
        canvas.restore_region(background)
        for artist in moving:
            ax.draw_artist(artist)
        rgba = np.asarray(canvas.buffer_rgba())
        images.append(Image.fromarray(rgba[..., :3].copy()))
    _save_gif(images, Path(path), frame_ms=round(1000 / fps), hold_ms=2000)
    return Path(path)


def _save_gif(
    images: list[Image.Image], path: Path, frame_ms: int, hold_ms: int
) -> None:
    """Save frames as a looping GIF with one shared palette and no dithering.

    The palette is taken from the last frame, which holds every colour the
    animation uses; without dithering, the unchanged parts of consecutive
    frames are identical and the GIF stores only what moved.
    """
    palette = images[-1].quantize(colors=160, method=Image.Quantize.MEDIANCUT)
    frames = [im.quantize(palette=palette, dither=Image.Dither.NONE) for im in images]
    durations = [frame_ms] * (len(frames) - 1) + [hold_ms]
    frames[0].save(
        path,
        save_all=True,
        append_images=frames[1:],
        duration=durations,
        loop=0,
        optimize=False,
    )


# -- shared pieces --------------------------------------------------------------


def _draw_surface(
    fig: Figure,
    ax: Axes,
    grid_x: np.ndarray,
    grid_y: np.ndarray,
    grid_f: np.ndarray,
    log_contours: bool,
    bounds: Sequence[float] | None,
) -> None:
    """Contour lines of ``f`` with a colour bar, axis labels and limits."""
    f = np.asarray(grid_f, dtype=np.float64)
    finite = f[np.isfinite(f)]
    label = "f(x, y) (unitless)"
    if log_contours and finite.size and finite.min() >= 0:
        # Contours of log10 f: equally spaced levels then cover the floor of
        # a valley as well as its walls, and the colour bar reads in decades.
        high = finite.max()
        low = max(np.percentile(finite, 0.5), high * 1e-7, 1e-12)
        with np.errstate(divide="ignore"):
            f = np.log10(f)
        levels = np.linspace(np.log10(low), np.log10(high), 25)
        label = "log10 f(x, y) (f unitless)"
    else:
        levels = np.linspace(finite.min(), finite.max(), 25)
    contours = ax.contour(
        grid_x, grid_y, f, levels=levels, cmap="viridis", linewidths=0.8
    )
    bar = fig.colorbar(contours, ax=ax, shrink=0.9)
    ticks = MaxNLocator(nbins=7).tick_values(levels[0], levels[-1])
    bar.set_ticks(ticks[(ticks >= levels[0]) & (ticks <= levels[-1])])
    bar.set_label(label)
    if bounds is None:
        bounds = (grid_x[0], grid_x[-1], grid_y[0], grid_y[-1])
    ax.set_xlim(bounds[0], bounds[1])
    ax.set_ylim(bounds[2], bounds[3])
    ax.set_xlabel(_AXIS_LABELS[0])
    ax.set_ylabel(_AXIS_LABELS[1])
    ax.grid(True, alpha=0.2)


def _draw_marks(
    ax: Axes,
    paths: np.ndarray,
    minima: np.ndarray | None,
    minima_label: str,
    exit_points: np.ndarray | None,
) -> list[Line2D]:
    """The start, the minima and the exits; returns their legend handles."""
    start = paths[0, 0]
    (handle,) = ax.plot(*start, "s", color="black", ms=7, label="start", zorder=5)
    handles = [handle]
    if minima is not None and len(minima):
        m = np.asarray(minima, dtype=np.float64).reshape(-1, 2)
        (handle,) = ax.plot(
            m[:, 0],
            m[:, 1],
            "*",
            color="gold",
            ms=16,
            mec="black",
            label=minima_label,
            zorder=5,
        )
        handles.append(handle)
    if exit_points is not None and np.isfinite(exit_points).any():
        for i, point in enumerate(np.asarray(exit_points)):
            if np.all(np.isfinite(point)):
                ax.plot(
                    *point,
                    "X",
                    color=_color(i),
                    ms=10,
                    mec="black",
                    zorder=6,
                    clip_on=False,
                )
        handles.append(_exit_handle())
    return handles


def _exit_handle() -> Line2D:
    return Line2D(
        [],
        [],
        marker="X",
        ls="",
        color="white",
        mec="black",
        ms=10,
        label="left the plot / stopped",
    )


def _check_paths(paths: np.ndarray, labels: Sequence[str]) -> np.ndarray:
    paths = np.asarray(paths, dtype=np.float64)
    if paths.ndim != 3 or paths.shape[2] != 2 or paths.shape[1] < 1:
        raise ValueError(
            f"paths must have shape (optimizers, steps + 1, 2), got {paths.shape}"
        )
    if len(labels) != len(paths):
        raise ValueError(
            f"got {len(labels)} labels for {len(paths)} paths; give one per path"
        )
    return paths


def _last_finite(xy: np.ndarray) -> np.ndarray:
    ok = np.flatnonzero(np.all(np.isfinite(xy), axis=1))
    return xy[ok[-1]] if ok.size else np.array([np.nan, np.nan])


def _color(i: int) -> str:
    return _COLORS[i % len(_COLORS)]


def _width(i: int) -> float:
    """Line widths that shrink along the legend, so that a path drawn over an
    earlier one leaves the earlier one showing at its edges."""
    return max(3.4 - 0.4 * i, 1.2)
