"""Optimizer trajectories on two-dimensional test functions.

Each test function is written with steepest's ops, so the gradient every
optimizer sees comes from the engine's ``backward``; the position is one
float64 tensor of shape ``(2,)``, and the optimizers are the real ones of
:mod:`steepest.optim`. The functions show the classic difficulties:

* ``quadratic``: ``f = (a x^2 + b y^2) / 2`` with ``b >> a``, an
  ill-conditioned bowl where plain gradient descent zig-zags across the steep
  axis while crawling along the shallow one;
* ``saddle``: ``f = x^2 - y^2``, where the gradient vanishes at the origin
  and a path that starts close to the ``y = 0`` line takes a long time to
  notice it should leave;
* ``rosenbrock``: ``f = (1 - x)^2 + 100 (y - x^2)^2``, a curved, narrow
  valley with its minimum at ``(1, 1)``;
* ``beale``: ``f = (1.5 - x + xy)^2 + (2.25 - x + xy^2)^2
  + (2.625 - x + xy^3)^2``, flat plateaus and steep walls around its minimum
  at ``(3, 0.5)``.

Nothing here is random: a run is fixed by its function, start point, steps
and learning rates.

Example:
    >>> from steepest.labs.paths import paths
    >>> result = paths("quadratic", ["sgd", "adam"], steps=50)
    >>> result.paths.shape
    (2, 51, 2)
"""

from __future__ import annotations

import csv
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from steepest.optim import OPTIMIZERS, make_optimizer
from steepest.tensor import Tensor, no_grad, tensor

__all__ = [
    "DEFAULT_OPTIMIZERS",
    "SURFACES",
    "PathsResult",
    "Surface",
    "evaluate_surface",
    "make_quadratic",
    "paths",
]

logger = logging.getLogger(__name__)

#: The optimizers raced by default, in legend order.
DEFAULT_OPTIMIZERS: tuple[str, ...] = (
    "sgd",
    "momentum",
    "nesterov",
    "adagrad",
    "rmsprop",
    "adam",
)

# A path is stopped once it is more than this many box widths from the
# plotted box's centre: it has left for good, and following it further only
# leads to overflow.
_ESCAPE_FACTOR = 10.0


@dataclass(frozen=True)
class Surface:
    """A two-dimensional test function and how to show it.

    Args:
        name: the key in :data:`SURFACES` (``"quadratic"``, ...).
        formula: the function as text, for titles.
        function: maps a tensor ``w`` of shape ``(2, ...)`` to ``f(w[0], w[1])``
            of shape ``(...)``, written with steepest ops so that it can be
            differentiated (shape ``(2,)``) or evaluated on a grid.
        start: the default start point ``(x, y)``.
        bounds: the plotted box ``(x_min, x_max, y_min, y_max)``.
        minima: the points to mark, each ``(x, y)``.
        minima_label: what the marked points are (default "minimum").
        steps: the default number of updates.
        lrs: the default learning rate of each optimizer, by name.
        log_contours: draw contours of ``log10 f``, for functions with
            ``f >= 0`` whose valleys are much flatter than their walls
            (default False: contours of ``f``).
    """

    name: str
    formula: str
    function: Callable[[Tensor], Tensor]
    start: tuple[float, float]
    bounds: tuple[float, float, float, float]
    minima: tuple[tuple[float, float], ...]
    steps: int
    lrs: Mapping[str, float]
    minima_label: str = "minimum"
    log_contours: bool = False


def make_quadratic(a: float = 1.0, b: float = 20.0) -> Surface:
    """The ill-conditioned quadratic ``f(x, y) = (a x^2 + b y^2) / 2``.

    Its Hessian is ``diag(a, b)``, so plain gradient descent with learning
    rate ``eta`` multiplies ``x`` by ``1 - eta a`` and ``y`` by ``1 - eta b``
    at every step: it converges only for ``eta < 2 / max(a, b)``, and then at
    the rate ``max(|1 - eta a|, |1 - eta b|)``, slow when ``b / a`` (the
    condition number) is large.

    Args:
        a: curvature along x, > 0 (default 1).
        b: curvature along y, > 0 (default 20).

    Returns:
        The :class:`Surface`; its default learning rates assume the default
        curvatures.
    """
    for label, value in (("a", a), ("b", b)):
        if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
            raise ValueError(
                f"make_quadratic: {label} must be a finite number > 0, got "
                f"{label}={value!r}"
            )

    def quadratic(w: Tensor) -> Tensor:
        x, y = w[0], w[1]
        return 0.5 * (a * x**2 + b * y**2)

    return Surface(
        name="quadratic",
        formula=f"f(x, y) = ({_coefficient(a)}x² + {_coefficient(b)}y²) / 2",
        function=quadratic,
        start=(-5.0, 2.0),
        bounds=(-6.0, 6.0, -3.0, 3.0),
        minima=((0.0, 0.0),),
        steps=100,
        lrs={
            "sgd": 0.09,
            "momentum": 0.02,
            "nesterov": 0.02,
            "adagrad": 1.0,
            "rmsprop": 0.1,
            "adam": 0.3,
            "adamw": 0.3,
        },
        log_contours=True,
    )


def _coefficient(c: float) -> str:
    return "" if c == 1 else f"{c:g} "


def _saddle(w: Tensor) -> Tensor:
    return w[0] ** 2 - w[1] ** 2


def _rosenbrock(w: Tensor) -> Tensor:
    x, y = w[0], w[1]
    return (1 - x) ** 2 + 100 * (y - x**2) ** 2


def _beale(w: Tensor) -> Tensor:
    x, y = w[0], w[1]
    return (
        (1.5 - x + x * y) ** 2
        + (2.25 - x + x * y**2) ** 2
        + (2.625 - x + x * y**3) ** 2
    )


#: The test functions by name.
SURFACES: dict[str, Surface] = {
    "quadratic": make_quadratic(),
    "saddle": Surface(
        name="saddle",
        formula="f(x, y) = x² - y²",
        function=_saddle,
        start=(-1.8, 0.001),
        bounds=(-2.0, 2.0, -2.0, 2.0),
        minima=((0.0, 0.0),),
        minima_label="saddle point",
        steps=200,
        lrs={
            "sgd": 0.02,
            "momentum": 0.01,
            "nesterov": 0.01,
            "adagrad": 0.2,
            "rmsprop": 0.01,
            "adam": 0.05,
            "adamw": 0.05,
        },
    ),
    "rosenbrock": Surface(
        name="rosenbrock",
        formula="f(x, y) = (1 - x)² + 100 (y - x²)²",
        function=_rosenbrock,
        start=(-1.2, 1.0),
        bounds=(-2.0, 2.0, -1.0, 3.0),
        minima=((1.0, 1.0),),
        steps=2000,
        lrs={
            "sgd": 0.001,
            "momentum": 0.001,
            "nesterov": 0.001,
            "adagrad": 0.5,
            "rmsprop": 0.01,
            "adam": 0.05,
            "adamw": 0.05,
        },
        log_contours=True,
    ),
    "beale": Surface(
        name="beale",
        formula="f(x, y) = (1.5 - x + xy)² + (2.25 - x + xy²)² + (2.625 - x + xy³)²",
        function=_beale,
        start=(1.0, 1.5),
        bounds=(-1.0, 4.5, -1.5, 2.0),
        minima=((3.0, 0.5),),
        steps=1000,
        lrs={
            "sgd": 0.001,
            "momentum": 0.001,
            "nesterov": 0.001,
            "adagrad": 0.3,
            "rmsprop": 0.01,
            "adam": 0.05,
            "adamw": 0.05,
        },
        log_contours=True,
    ),
}


@dataclass(frozen=True, eq=False)
class PathsResult:
    """Where each optimizer went.

    ``k`` optimizers, ``T`` the number of steps asked for. Positions after a
    path was stopped are NaN.

    Attributes:
        function: the test function's name.
        formula: the function as text.
        optimizers: the optimizer names, ``(k,)``.
        lrs: their learning rates, ``(k,)``.
        start: the start point, ``(2,)``.
        paths: positions ``x_0 .. x_T`` of each optimizer, ``(k, T + 1, 2)``.
        values: ``f`` at each position, ``(k, T + 1)``.
        steps_run: the updates kept of each path, ``(k,)``: ``T`` unless the
            path was stopped.
        stopped: why each path was stopped early, ``(k,)`` strings:
            ``"overflow"`` (its next position was not finite), ``"ran away"``
            (its last position is more than ten box widths from the box's
            centre) or ``""`` (it was not stopped).
        left_at: for a path that ends outside the plotted box, the step of
            its last exit from the box; for a path stopped inside it, the
            step that overflowed; else -1; ``(k,)``.
        exit_points: where that exit crossed the box's edge (or the last
            point of a path stopped inside), NaN when none; ``(k, 2)``.
        bounds: the plotted box ``(x_min, x_max, y_min, y_max)``.
        minima: the points to mark, ``(m, 2)``, and ``minima_label`` what
            they are.
        grid_x, grid_y: the contour grid's coordinates, ``(g,)`` and ``(h,)``.
        grid_f: ``f`` on the grid, ``(h, g)``.
        log_contours: whether the plots space contour levels logarithmically.
        files: the files written (empty without ``out_dir``).
    """

    function: str
    formula: str
    optimizers: tuple[str, ...]
    lrs: np.ndarray
    start: np.ndarray
    paths: np.ndarray
    values: np.ndarray
    steps_run: np.ndarray
    stopped: np.ndarray
    left_at: np.ndarray
    exit_points: np.ndarray
    bounds: tuple[float, float, float, float]
    minima: np.ndarray
    minima_label: str
    grid_x: np.ndarray
    grid_y: np.ndarray
    grid_f: np.ndarray
    log_contours: bool
    files: tuple[Path, ...] = field(default=())

    @property
    def final_points(self) -> np.ndarray:
        """The last finite position of each path, ``(k, 2)``."""
        return self.paths[np.arange(len(self.optimizers)), self.steps_run]

    @property
    def final_values(self) -> np.ndarray:
        """``f`` at the last finite position of each path, ``(k,)``."""
        return self.values[np.arange(len(self.optimizers)), self.steps_run]


def evaluate_surface(surface: Surface, points: np.ndarray) -> np.ndarray:
    """``f`` at many points without recording a graph.

    Args:
        surface: the test function.
        points: coordinates of shape ``(2, ...)``: ``points[0]`` the x's and
            ``points[1]`` the y's.

    Returns:
        ``f`` of shape ``points.shape[1:]``, float64.
    """
    points = np.asarray(points, dtype=np.float64)
    if points.ndim < 1 or points.shape[0] != 2:
        raise ValueError(
            f"evaluate_surface: points must have shape (2, ...), got {points.shape}"
        )
    with no_grad(), np.errstate(all="ignore"):
        return np.asarray(surface.function(tensor(points, dtype="float64")).data)


def paths(
    function: str | Surface = "quadratic",
    optimizers: Sequence[str] = DEFAULT_OPTIMIZERS,
    *,
    lrs: Mapping[str, float] | None = None,
    start: Sequence[float] | None = None,
    steps: int | None = None,
    out_dir: str | Path | None = None,
    frames: int = 60,
    grid: int = 120,
    dpi: int = 100,
) -> PathsResult:
    """Race optimizers from one start point on a two-dimensional function.

    Every optimizer starts at ``x_0 = start`` and repeats: zero the gradient,
    evaluate ``f(x_t)``, ``backward``, ``step``, so ``x_{t+1}`` is the
    optimizer's update from the engine's gradient at ``x_t``. A path that
    overflows, or runs more than ten box-widths out of the plotted box (the
    saddle is unbounded below), is stopped there; no warning is raised.

    Args:
        function: a name in :data:`SURFACES` ("quadratic", "saddle",
            "rosenbrock", "beale"), or a :class:`Surface` (default
            "quadratic").
        optimizers: names from :data:`steepest.optim.OPTIMIZERS` (default
            sgd, momentum, nesterov, adagrad, rmsprop, adam), each with its
            own default settings besides the learning rate.
        lrs: learning rates by optimizer name, overriding the function's
            defaults (default None: all defaults).
        start: the start point ``(x, y)`` (default: the function's).
        steps: updates per optimizer, >= 1 (default: the function's: 100
            for the quadratic, 200 for the saddle, 2,000 for Rosenbrock,
            1,000 for Beale).
        out_dir: a folder to write ``paths_NAME.png``, ``paths_NAME.gif``,
            ``paths_NAME.csv`` (every position) and ``paths_NAME_grid.csv``
            (the contoured values) into, created if missing (default None:
            write nothing).
        frames: frames of the GIF, 2 to 200 (default 60); the steps are
            subsampled evenly.
        grid: points per axis of the contour grid, >= 10 (default 120).
        dpi: resolution of the PNG (default 100); the GIF uses 80% of it.

    Returns:
        A :class:`PathsResult`.

    Raises:
        ValueError: an unknown function or optimizer, a learning rate for an
            optimizer not raced, or a bad start, steps, frames or grid.
    """
    surface = _surface(function)
    names = _optimizer_names(optimizers)
    rates = _learning_rates(surface, names, lrs)
    x0 = _start(surface, start)
    steps = surface.steps if steps is None else steps
    _check_int("steps", steps, 1)
    _check_int("frames", frames, 2, 200)
    _check_int("grid", grid, 10)
    bounds = _box(surface.bounds, x0)

    # Race: one optimizer at a time, each from the same start.
    k = len(names)
    positions = np.full((k, steps + 1, 2), np.nan)
    values = np.full((k, steps + 1), np.nan)
    steps_run = np.zeros(k, dtype=np.int64)
    reasons = []
    for i, (name, lr) in enumerate(zip(names, rates, strict=True)):
        positions[i], values[i], steps_run[i], reason = _descend(
            surface, name, lr, x0, steps, bounds
        )
        reasons.append(reason)
        logger.info(
            "%s on %s: %d steps, f = %.4g",
            name,
            surface.name,
            steps_run[i],
            values[i, steps_run[i]],
        )
    stopped = np.array(reasons, dtype=str)
    left_at, exits = _exits(positions, steps_run, stopped, bounds)

    # The contoured values, on a grid over the box.
    gx = np.linspace(bounds[0], bounds[1], grid)
    gy = np.linspace(bounds[2], bounds[3], grid)
    gf = evaluate_surface(surface, np.stack(np.meshgrid(gx, gy)))

    result = PathsResult(
        function=surface.name,
        formula=surface.formula,
        optimizers=names,
        lrs=np.array(rates),
        start=x0,
        paths=positions,
        values=values,
        steps_run=steps_run,
        stopped=stopped,
        left_at=left_at,
        exit_points=exits,
        bounds=bounds,
        minima=np.array(surface.minima, dtype=np.float64).reshape(-1, 2),
        minima_label=surface.minima_label,
        grid_x=gx,
        grid_y=gy,
        grid_f=gf,
        log_contours=surface.log_contours,
    )
    if out_dir is None:
        return result
    files = _write(result, Path(out_dir), frames=frames, dpi=dpi)
    return PathsResult(**{**result.__dict__, "files": files})


# -- the race -------------------------------------------------------------------


def _descend(
    surface: Surface,
    name: str,
    lr: float,
    x0: np.ndarray,
    steps: int,
    bounds: tuple[float, float, float, float],
) -> tuple[np.ndarray, np.ndarray, int, str]:
    """One optimizer's path: positions ``(steps + 1, 2)``, values, the number
    of updates kept, and why the path was stopped ("" if it was not)."""
    w = tensor(x0, requires_grad=True, dtype="float64")
    opt = make_optimizer(name, [w], lr=lr)
    xs = np.full((steps + 1, 2), np.nan)
    fs = np.full(steps + 1, np.nan)
    xs[0] = x0
    x_min, x_max, y_min, y_max = bounds
    reach = _ESCAPE_FACTOR * max(x_max - x_min, y_max - y_min)
    centre = np.array([(x_min + x_max) / 2, (y_min + y_max) / 2])
    # Overflow on a runaway path is expected and handled below.
    with np.errstate(all="ignore"):
        for t in range(steps):
            opt.zero_grad()
            loss = surface.function(w)
            fs[t] = loss.item()
            loss.backward()
            opt.step()
            if not np.all(np.isfinite(w.data)):
                logger.info("%s on %s overflowed at step %d", name, surface.name, t + 1)
                return xs, fs, t, "overflow"
            xs[t + 1] = w.data
            if np.max(np.abs(w.data - centre)) > reach:
                logger.info("%s on %s ran away at step %d", name, surface.name, t + 1)
                fs[t + 1] = surface.function(w.detach()).item()
                return xs, fs, t + 1, "ran away"
        fs[steps] = surface.function(w.detach()).item()
    return xs, fs, steps, ""


def _exits(
    positions: np.ndarray,
    steps_run: np.ndarray,
    stopped: np.ndarray,
    bounds: tuple[float, float, float, float],
) -> tuple[np.ndarray, np.ndarray]:
    """Where each path that ends outside the box (or was stopped) left it.

    A path whose last point is outside the box gets the step and the point of
    its last crossing of the box's edge; a path stopped by an overflow while
    still inside gets its last point. Others get -1 and NaN.
    """
    x_min, x_max, y_min, y_max = bounds
    k = len(positions)
    left_at = np.full(k, -1, dtype=np.int64)
    exits = np.full((k, 2), np.nan)
    for i in range(k):
        xy = positions[i, : steps_run[i] + 1]
        inside = (
            (xy[:, 0] >= x_min)
            & (xy[:, 0] <= x_max)
            & (xy[:, 1] >= y_min)
            & (xy[:, 1] <= y_max)
        )
        if inside[-1]:
            if stopped[i] == "overflow":
                left_at[i] = steps_run[i] + 1
                exits[i] = xy[-1]
            continue
        if not inside.any():
            continue
        last_in = int(np.flatnonzero(inside)[-1])
        left_at[i] = last_in + 1
        exits[i] = _edge_crossing(xy[last_in], xy[last_in + 1], bounds)
    return left_at, exits


def _edge_crossing(
    a: np.ndarray, b: np.ndarray, bounds: tuple[float, float, float, float]
) -> np.ndarray:
    """Where the segment from ``a`` (inside the box) to ``b`` (outside) leaves it."""
    x_min, x_max, y_min, y_max = bounds
    d = b - a
    s = 1.0
    # The smallest fraction of the segment at which some coordinate hits its edge.
    for axis, low, high in ((0, x_min, x_max), (1, y_min, y_max)):
        if d[axis] > 0:
            s = min(s, (high - a[axis]) / d[axis])
        elif d[axis] < 0:
            s = min(s, (low - a[axis]) / d[axis])
    return a + s * d


# -- checks ---------------------------------------------------------------------


def _surface(function: str | Surface) -> Surface:
    if isinstance(function, Surface):
        return function
    key = str(function).strip().lower()
    if key not in SURFACES:
        known = ", ".join(SURFACES)
        raise ValueError(f"paths: unknown function {function!r}; choose one of {known}")
    return SURFACES[key]


def _optimizer_names(optimizers: Sequence[str]) -> tuple[str, ...]:
    if isinstance(optimizers, str):
        optimizers = [optimizers]
    names = tuple(str(name).strip().lower() for name in optimizers)
    if not names:
        raise ValueError("paths: optimizers is empty; name at least one, e.g. 'sgd'")
    for name in names:
        if name not in OPTIMIZERS:
            known = ", ".join(OPTIMIZERS)
            raise ValueError(f"paths: unknown optimizer {name!r}; choose from {known}")
    if len(set(names)) != len(names):
        raise ValueError(f"paths: an optimizer is named twice in {list(names)}")
    return names


def _learning_rates(
    surface: Surface, names: tuple[str, ...], lrs: Mapping[str, float] | None
) -> list[float]:
    given = {str(k).strip().lower(): v for k, v in (lrs or {}).items()}
    extra = sorted(set(given) - set(names))
    if extra:
        raise ValueError(
            f"paths: learning rate given for {', '.join(extra)}, which is not "
            f"among the optimizers raced ({', '.join(names)}); add it to the "
            "optimizers or drop its rate"
        )
    rates = []
    for name in names:
        lr = given.get(name, surface.lrs.get(name, 0.01))
        if isinstance(lr, bool) or not isinstance(lr, int | float) or not lr > 0:
            raise ValueError(
                f"paths: the learning rate of {name} must be a number > 0, got {lr!r}"
            )
        if not math.isfinite(lr):
            raise ValueError(
                f"paths: the learning rate of {name} is {lr}; use a finite one"
            )
        rates.append(float(lr))
    return rates


def _start(surface: Surface, start: Sequence[float] | None) -> np.ndarray:
    x0 = np.array(surface.start if start is None else start, dtype=np.float64)
    if x0.shape != (2,) or not np.all(np.isfinite(x0)):
        raise ValueError(
            f"paths: start must be two finite numbers (x, y), got {start!r}"
        )
    return x0


def _check_int(label: str, value: object, low: int, high: int | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(
            f"paths: {label} must be an int, got {type(value).__name__} {value!r}"
        )
    if value < low or (high is not None and value > high):
        limit = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise ValueError(f"paths: {label} must be {limit}, got {label}={value}")


def _box(
    bounds: tuple[float, float, float, float], x0: np.ndarray
) -> tuple[float, float, float, float]:
    """The plotted box, widened to hold the start point with a margin."""
    x_min, x_max, y_min, y_max = bounds
    mx = 0.05 * (x_max - x_min)
    my = 0.05 * (y_max - y_min)
    return (
        float(min(x_min, x0[0] - mx)),
        float(max(x_max, x0[0] + mx)),
        float(min(y_min, x0[1] - my)),
        float(max(y_max, x0[1] + my)),
    )


# -- output ---------------------------------------------------------------------


def _write(
    result: PathsResult, out: Path, *, frames: int, dpi: int
) -> tuple[Path, ...]:
    """The PNG, the GIF and the CSVs behind them."""
    from steepest.plots.paths import animate_paths, plot_paths

    out.mkdir(parents=True, exist_ok=True)
    stem = f"paths_{result.function}"
    labels = [
        f"{name} (lr {lr:g})"
        for name, lr in zip(result.optimizers, result.lrs, strict=True)
    ]
    common = dict(
        grid_x=result.grid_x,
        grid_y=result.grid_y,
        grid_f=result.grid_f,
        paths=result.paths,
        labels=labels,
        minima=result.minima,
        minima_label=result.minima_label,
        exit_points=result.exit_points,
        bounds=result.bounds,
        log_contours=result.log_contours,
    )
    steps = result.paths.shape[1] - 1
    x0, y0 = result.start
    title = (
        f"{result.function.capitalize()}: {steps} steps from ({x0:g}, {y0:g})\n"
        f"{result.formula}"
    )
    png = plot_paths(path=out / f"{stem}.png", title=title, dpi=dpi, **common)
    gif = animate_paths(
        path=out / f"{stem}.gif",
        title=title,
        frames=frames,
        exit_steps=result.left_at,
        dpi=max(round(0.8 * dpi), 10),
        **common,
    )

    table = out / f"{stem}.csv"
    with table.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["optimizer", "lr", "step", "x", "y", "f", "in_plot"])
        x_min, x_max, y_min, y_max = result.bounds
        for i, name in enumerate(result.optimizers):
            for t in range(result.steps_run[i] + 1):
                x, y = result.paths[i, t]
                inside = x_min <= x <= x_max and y_min <= y <= y_max
                writer.writerow(
                    [
                        name,
                        repr(float(result.lrs[i])),
                        t,
                        repr(float(x)),
                        repr(float(y)),
                        repr(float(result.values[i, t])),
                        int(inside),
                    ]
                )

    grid_table = out / f"{stem}_grid.csv"
    with grid_table.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["x", "y", "f"])
        for j, y in enumerate(result.grid_y):
            for i, x in enumerate(result.grid_x):
                writer.writerow([f"{x:.6g}", f"{y:.6g}", f"{result.grid_f[j, i]:.8g}"])
    logger.info("wrote %s, %s, %s and %s", png, gif, table, grid_table)
    return (png, gif, table, grid_table)
