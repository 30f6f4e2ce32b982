"""The loss landscape around a trained model, after Li et al. (2018).

A network's loss is a function of millions of weights; these views cut it
down to one or two dimensions, through the trained weights ``theta*``:

- **Random slices.** Two Gaussian directions ``d1``, ``d2`` in weight space,
  *filter-normalised*: every row ``i`` of a weight matrix (the incoming
  weights of one unit, a "filter") is rescaled to the norm of the same row
  of the trained weights,

      d_i <- d_i / ||d_i|| * ||theta*_i||,

  so that a step ``alpha`` moves every unit by the same *relative* amount
  and the picture does not depend on how the weights of a ReLU network
  happen to be scaled. The loss is drawn along ``theta* + alpha d1`` (1-D)
  and over ``theta* + alpha d1 + beta d2`` (2-D contour and surface).
  Biases (1-D tensors) get a zero direction by default, as Li et al. do for
  biases and batch-norm parameters; ``biases="filter"`` rescales a bias
  vector as a whole to the bias's norm instead.
- **Linear interpolation** (Goodfellow et al., 2015) from the initial
  weights ``theta0`` to ``theta*``: ``(1 - t) theta0 + t theta*`` for ``t``
  in ``[-0.25, 1.25]``.
- **The trajectory** of training: the weights of every epoch's checkpoint
  (and ``theta0``), minus ``theta*``, projected on the first two principal
  components of those points, over the loss on a grid in that plane. The
  final point is the origin.

The loss is the data loss (no L2 penalty) on a fixed random subset of the
training set, evaluated without gradients. ``theta0`` is rebuilt from the
run's seed, which reproduces the initial weights exactly; ``theta*`` is the
``model.*`` weights of the run's latest checkpoint (with early stopping that
is the last epoch trained, not the best one).

Reference: Li, Xu, Taylor, Studer and Goldstein, Visualizing the loss
landscape of neural nets, NeurIPS 2018. Goodfellow, Vinyals and Saxe,
Qualitatively characterizing neural network optimization problems, ICLR
2015.
"""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from steepest.nn import Module
from steepest.train import build, evaluate, load_checkpoint, load_config

__all__ = [
    "LandscapeResult",
    "filter_normalized_direction",
    "landscape",
    "pca_directions",
]

logger = logging.getLogger(__name__)

BIASES = ("zero", "filter")


def filter_normalized_direction(
    weights: Mapping[str, np.ndarray],
    rng: np.random.Generator,
    *,
    biases: str = "zero",
) -> dict[str, np.ndarray]:
    """A Gaussian direction with every filter scaled to its weight's norm.

    For a tensor with two or more axes, row ``i`` (``d[i]``, all axes but
    the first) is drawn from N(0, I) and rescaled to ``||w[i]||``, the norm
    of the same row of the weights (a row of zeros stays zero). For 1-D
    tensors (biases) ``biases`` decides: ``"zero"`` (default) gives them no
    direction, ``"filter"`` rescales the whole vector to ``||w||``. A scalar
    gets no direction.

    Args:
        weights: name -> array, e.g. ``model.state_dict()``; weights are
            ``(out, in)`` so a row is one output unit's incoming weights.
        rng: the generator to draw from; tensors are drawn in the order of
            ``weights``.
        biases: ``"zero"`` (default) or ``"filter"``.

    Returns:
        name -> float64 array of the tensor's shape.

    Example:
        >>> w = {"weight": np.array([[3.0, 4.0], [0.0, 1.0]]), "bias": np.ones(2)}
        >>> d = filter_normalized_direction(w, np.random.default_rng(0))
        >>> np.linalg.norm(d["weight"], axis=1).round(6), d["bias"]
        (array([5., 1.]), array([0., 0.]))
    """
    if biases not in BIASES:
        raise ValueError(
            f"filter_normalized_direction: biases must be one of {BIASES}, "
            f"got {biases!r}"
        )
    out: dict[str, np.ndarray] = {}
    for name, value in weights.items():
        w = np.asarray(value, dtype=np.float64)
        d = rng.standard_normal(w.shape)
        if w.ndim >= 2:
            rows_w = w.reshape(len(w), -1)
            rows_d = d.reshape(len(d), -1)
            scale = _ratio(
                np.linalg.norm(rows_w, axis=1), np.linalg.norm(rows_d, axis=1)
            )
            d = (rows_d * scale[:, None]).reshape(w.shape)
        elif w.ndim == 1 and biases == "filter":
            d = d * _ratio(np.linalg.norm(w), np.linalg.norm(d))
        else:
            d = np.zeros_like(w)
        out[name] = d
    return out


def _ratio(a: Any, b: Any) -> Any:
    """``a / b``, 0 where ``b`` is 0 (a zero row gets a zero direction)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    safe = np.where(b > 0, b, 1.0)
    return np.where(b > 0, a / safe, 0.0)


def pca_directions(
    points: np.ndarray, origin: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The first two principal directions of ``points`` and their coordinates.

    The directions are the top right-singular vectors of the points centred
    on their mean (ordinary PCA); each point is then projected, relative to
    ``origin``, onto them, so ``origin`` itself maps to ``(0, 0)``. Signs
    are fixed so that the first point has coordinates <= 0.

    Args:
        points: ``(k, n)`` flattened weights, e.g. one row per epoch.
        origin: ``(n,)`` the point that becomes the origin (the final
            weights).

    Returns:
        ``(directions, coords, explained)``: ``(2, n)`` orthonormal rows,
        ``(k, 2)`` coordinates, and ``(2,)`` the fraction of the variance of
        the points along each direction.
    """
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or len(points) < 2:
        raise ValueError(
            f"pca_directions: need at least 2 points as a (k, n) array, got "
            f"shape {points.shape}; train for at least one epoch"
        )
    centred = points - points.mean(axis=0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    directions = np.zeros((2, points.shape[1]))
    rank = min(2, len(vt))
    directions[:rank] = vt[:rank]
    if rank < 2:  # a single direction: any orthonormal partner will do
        partner = np.zeros(points.shape[1])
        partner[int(np.argmin(np.abs(directions[0])))] = 1.0
        partner -= partner @ directions[0] * directions[0]
        directions[1] = partner / np.linalg.norm(partner)
    coords = (points - origin) @ directions.T
    for j in range(2):
        if coords[0, j] > 0:
            directions[j] *= -1
            coords[:, j] *= -1
    total = float(np.sum(s**2))
    explained = np.zeros(2)
    if total > 0:
        explained[:rank] = s[:rank] ** 2 / total
    return directions, coords, explained


class _Flat:
    """A model's parameters as one float64 vector, and back."""

    def __init__(self, model: Module) -> None:
        self.model = model
        named = model.named_parameters()
        self.names = [name for name, _ in named]
        self.params = [p for _, p in named]
        self.shapes = [p.data.shape for p in self.params]
        self.sizes = [p.data.size for p in self.params]
        self.offsets = np.cumsum([0, *self.sizes])

    def flatten(self, state: Mapping[str, np.ndarray]) -> np.ndarray:
        """name -> array into one float64 vector, in parameter order."""
        return np.concatenate(
            [np.asarray(state[n], dtype=np.float64).ravel() for n in self.names]
        )

    def unflatten(self, vector: np.ndarray) -> dict[str, np.ndarray]:
        """One vector back into name -> array."""
        return {
            n: vector[a:b].reshape(shape)
            for n, a, b, shape in zip(
                self.names,
                self.offsets[:-1],
                self.offsets[1:],
                self.shapes,
                strict=True,
            )
        }

    def assign(self, vector: np.ndarray) -> None:
        """Write the vector into the parameters, in place, at their dtype."""
        for p, a, b in zip(
            self.params, self.offsets[:-1], self.offsets[1:], strict=True
        ):
            p.data[...] = vector[a:b].reshape(p.data.shape)


@dataclass
class LandscapeResult:
    """What :func:`landscape` returns; every array is also in a CSV.

    Attributes:
        run_dir: the run analysed.
        out_dir: where the files are.
        sample_indices: the training examples the loss is evaluated on.
        final: ``{"loss", "acc"}`` of the trained weights on that subset.
        initial: the same for the initial weights.
        alphas: ``(m,)`` positions along ``d1`` (``alphas`` holds exactly 0).
        slice_loss, slice_acc: ``(m,)`` along the 1-D slice.
        grid_alphas, grid_betas: ``(g,)`` positions of the 2-D grid.
        surface_loss, surface_acc: ``(g, g)``, row ``i`` at ``grid_betas[i]``,
            column ``j`` at ``grid_alphas[j]``.
        interp_t: ``(k,)`` interpolation positions (exactly 0 and 1 among
            them).
        interp_loss, interp_acc: ``(k,)`` on the training subset.
        interp_dev_loss, interp_dev_acc: ``(k,)`` on the dev set (NaN
            without one).
        epochs: ``(e,)`` epoch of each trajectory point (0: initial weights).
        trajectory: ``(e, 2)`` the points in the PCA plane (last: 0, 0).
        trajectory_loss: ``(e,)`` the loss at each checkpoint.
        explained: ``(2,)`` fraction of the trajectory's variance per axis.
        pca_a, pca_b: ``(g,)`` grid positions in the PCA plane.
        pca_loss: ``(g, g)`` loss over that grid (row ``i`` at ``pca_b[i]``).
        files: every file written, by name.
    """

    run_dir: Path
    out_dir: Path
    sample_indices: np.ndarray
    final: dict[str, float]
    initial: dict[str, float]
    alphas: np.ndarray
    slice_loss: np.ndarray
    slice_acc: np.ndarray
    grid_alphas: np.ndarray
    grid_betas: np.ndarray
    surface_loss: np.ndarray
    surface_acc: np.ndarray
    interp_t: np.ndarray
    interp_loss: np.ndarray
    interp_acc: np.ndarray
    interp_dev_loss: np.ndarray
    interp_dev_acc: np.ndarray
    epochs: np.ndarray
    trajectory: np.ndarray
    trajectory_loss: np.ndarray
    explained: np.ndarray
    pca_a: np.ndarray
    pca_b: np.ndarray
    pca_loss: np.ndarray
    files: dict[str, Path]


def _symmetric(span: float, points: int) -> np.ndarray:
    """``points`` values from -span to span with the middle one exactly 0."""
    values = np.linspace(-span, span, points)
    if points % 2:
        values[points // 2] = 0.0
    return values


def _checkpoints(run_dir: Path) -> list[tuple[int, Path]]:
    folders = []
    for path in sorted((run_dir / "checkpoints").glob("epoch-*")):
        if (path / "arrays.safetensors").is_file():
            folders.append((int(path.name.split("-")[1]), path))
    return folders


def _model_weights(arrays: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {k[len("model.") :]: v for k, v in arrays.items() if k.startswith("model.")}


def _write_csv(
    path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]]
) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def landscape(
    run_dir: str | Path,
    *,
    grid: int = 21,
    samples: int = 1000,
    seed: int = 0,
    span: float = 1.0,
    slice_points: int = 51,
    interp_points: int = 31,
    biases: str = "zero",
    out_dir: str | Path | None = None,
    data_dir: str | None = None,
    plot: bool = True,
    gif: bool = True,
) -> LandscapeResult:
    """Map the loss around the trained model of a run folder.

    Writes into ``out_dir`` the CSV behind every figure (``slice.csv``,
    ``surface.csv``, ``interpolation.csv``, ``trajectory.csv``,
    ``trajectory_grid.csv``), the directions (``directions.npz``), a
    ``summary.json``, and the figures ``slice.png``, ``contour.png``,
    ``surface.png``, ``interpolation.png``, ``trajectory.png`` and
    ``trajectory.gif`` (the path drawn epoch by epoch).

    Args:
        run_dir: a folder written by ``steepest train`` (config and one
            checkpoint per epoch).
        grid: points per axis of the 2-D grids (default 21, odd so that the
            trained weights are a grid point).
        samples: training examples the loss is evaluated on (default 1000;
            all of them if the set is smaller).
        seed: seed of the directions and of the subset (default 0).
        span: the slices and the grid cover ``alpha, beta`` in
            ``[-span, span]`` (default 1).
        slice_points: points of the 1-D slice (default 51).
        interp_points: points of the interpolation over ``[-0.25, 1.25]``
            (default 31, a step of 0.05).
        biases: the direction of 1-D tensors, ``"zero"`` (default) or
            ``"filter"``; see :func:`filter_normalized_direction`.
        out_dir: the output folder (default ``RUN_DIR/landscape``).
        data_dir: where the dataset files are, if not where the config says.
        plot: whether to draw the PNG figures (default True).
        gif: whether to draw the trajectory GIF (default True).

    Returns:
        A :class:`LandscapeResult`.

    Example:
        >>> result = landscape("runs/digits-adam-20250101-120000")  # doctest: +SKIP
        >>> result.final["loss"] == result.slice_loss[25]  # doctest: +SKIP
        True
    """
    run_dir = Path(run_dir)
    for name, value, low in (
        ("grid", grid, 2),
        ("samples", samples, 1),
        ("slice_points", slice_points, 2),
        ("interp_points", interp_points, 2),
    ):
        if not isinstance(value, int) or value < low:
            raise ValueError(
                f"landscape: {name} must be an integer >= {low}, got {value!r}"
            )
    if not span > 0:
        raise ValueError(f"landscape: span must be > 0, got {span!r}; e.g. 1.0")
    if biases not in BIASES:
        raise ValueError(f"landscape: biases must be one of {BIASES}, got {biases!r}")
    config_file = run_dir / "config.toml"
    if not config_file.is_file():
        raise FileNotFoundError(
            f"{run_dir} is not a run folder: {config_file} is missing; pass a "
            "folder written by 'steepest train'"
        )
    checkpoints = _checkpoints(run_dir)
    if not checkpoints:
        raise FileNotFoundError(
            f"{run_dir} has no checkpoints; train it for at least one epoch first"
        )
    out = Path(out_dir) if out_dir is not None else run_dir / "landscape"
    out.mkdir(parents=True, exist_ok=True)

    # The model: built from the config, so its weights are the initial ones.
    config = load_config(config_file)
    if data_dir is not None:
        config.data_dir = data_dir
    experiment = build(config)
    model, loss_fn = experiment.model, experiment.loss_fn
    flat = _Flat(model)
    theta0 = flat.flatten(model.state_dict())
    # In parameter order: a checkpoint's keys come back in no fixed order,
    # and the directions are drawn tensor by tensor.
    stored = _model_weights(load_checkpoint(run_dir)["arrays"])
    missing = [name for name in flat.names if name not in stored]
    if missing:
        raise ValueError(
            f"the latest checkpoint of {run_dir} has no weights {missing} of the "
            f"model its config.toml describes; was the config edited after training?"
        )
    final_weights = {name: stored[name] for name in flat.names}
    theta = flat.flatten(final_weights)

    # The fixed subset of the training set every loss is measured on.
    rng = np.random.default_rng(seed)
    train = experiment.data.train
    n = min(samples, len(train))
    indices = np.sort(rng.choice(len(train), size=n, replace=False))
    xs, ys = train.x[indices], train.y[indices]
    logger.info("landscape of %s on %d training examples", run_dir, n)
    dev = experiment.data.dev

    def measure(vector: np.ndarray, x=xs, y=ys) -> tuple[float, float]:
        flat.assign(vector)
        metrics = evaluate(
            model,
            loss_fn,
            x,
            y,
            batch_size=max(len(x), 1),
            classification=experiment.classification,
        )
        return metrics["loss"], metrics.get("acc", np.nan)

    def sweep(vectors: Iterable[np.ndarray], **kw: Any) -> tuple[np.ndarray, ...]:
        pairs = [measure(v, **kw) for v in vectors]
        return np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])

    # Directions: filter-normalised, drawn after the subset from one generator.
    d1 = flat.flatten(filter_normalized_direction(final_weights, rng, biases=biases))
    d2 = flat.flatten(filter_normalized_direction(final_weights, rng, biases=biases))

    # 1-D slice and 2-D surface through the trained weights.
    alphas = _symmetric(span, slice_points)
    slice_loss, slice_acc = sweep(theta + a * d1 for a in alphas)
    axis = _symmetric(span, grid)
    surface_loss, surface_acc = sweep(
        theta + a * d1 + b * d2 for b in axis for a in axis
    )
    surface_loss = surface_loss.reshape(grid, grid)
    surface_acc = surface_acc.reshape(grid, grid)

    # Linear interpolation from the initial to the final weights.
    t = np.linspace(-0.25, 1.25, interp_points)
    t[np.isclose(t, 0.0)] = 0.0
    t[np.isclose(t, 1.0)] = 1.0
    path = [theta0 + s * (theta - theta0) for s in t]
    interp_loss, interp_acc = sweep(path)
    if len(dev):
        interp_dev_loss, interp_dev_acc = sweep(path, x=dev.x, y=dev.y)
    else:
        interp_dev_loss = interp_dev_acc = np.full(len(t), np.nan)

    # The trajectory: theta0 and every checkpoint, in the PCA plane.
    epochs = [0]
    points = [theta0]
    for epoch, folder in checkpoints:
        epochs.append(epoch)
        points.append(flat.flatten(_model_weights(load_checkpoint(folder)["arrays"])))
    directions, coords, explained = pca_directions(np.stack(points), theta)
    trajectory_loss, _ = sweep(points)
    lo, hi = coords.min(axis=0), coords.max(axis=0)
    reach = max(float((hi - lo).max()), 1e-12)
    margin = np.maximum(0.15 * (hi - lo), 0.1 * reach)
    pca_a = np.linspace(lo[0] - margin[0], hi[0] + margin[0], grid)
    pca_b = np.linspace(lo[1] - margin[1], hi[1] + margin[1], grid)
    pca_loss, _ = sweep(
        theta + a * directions[0] + b * directions[1] for b in pca_b for a in pca_a
    )
    pca_loss = pca_loss.reshape(grid, grid)

    # The two ends, then leave the model at the trained weights.
    loss0, acc0 = measure(theta0)
    loss1, acc1 = measure(theta)
    initial = {"loss": float(loss0), "acc": float(acc0)}
    final = {"loss": float(loss1), "acc": float(acc1)}

    result = LandscapeResult(
        run_dir=run_dir,
        out_dir=out,
        sample_indices=indices,
        final=final,
        initial=initial,
        alphas=alphas,
        slice_loss=slice_loss,
        slice_acc=slice_acc,
        grid_alphas=axis,
        grid_betas=axis.copy(),
        surface_loss=surface_loss,
        surface_acc=surface_acc,
        interp_t=t,
        interp_loss=interp_loss,
        interp_acc=interp_acc,
        interp_dev_loss=interp_dev_loss,
        interp_dev_acc=interp_dev_acc,
        epochs=np.array(epochs),
        trajectory=coords,
        trajectory_loss=trajectory_loss,
        explained=explained,
        pca_a=pca_a,
        pca_b=pca_b,
        pca_loss=pca_loss,
        files={},
    )
    result.files = _write_outputs(
        result,
        flat.unflatten(d1),
        flat.unflatten(d2),
        experiment.config,  # resolved: the loss is named, not "auto"
        plot,
        gif,
        seed,
    )
    return result


def _write_outputs(
    r: LandscapeResult,
    d1: Mapping[str, np.ndarray],
    d2: Mapping[str, np.ndarray],
    config: Any,
    plot: bool,
    gif: bool,
    seed: int,
) -> dict[str, Path]:
    out = r.out_dir
    files: dict[str, Path] = {}
    files["slice.csv"] = _write_csv(
        out / "slice.csv",
        ["alpha", "loss", "acc"],
        zip(r.alphas, r.slice_loss, r.slice_acc, strict=True),
    )
    files["surface.csv"] = _write_csv(
        out / "surface.csv",
        ["alpha", "beta", "loss", "acc"],
        (
            [a, b, r.surface_loss[i, j], r.surface_acc[i, j]]
            for i, b in enumerate(r.grid_betas)
            for j, a in enumerate(r.grid_alphas)
        ),
    )
    files["interpolation.csv"] = _write_csv(
        out / "interpolation.csv",
        ["t", "loss", "acc", "dev_loss", "dev_acc"],
        zip(
            r.interp_t,
            r.interp_loss,
            r.interp_acc,
            r.interp_dev_loss,
            r.interp_dev_acc,
            strict=True,
        ),
    )
    files["trajectory.csv"] = _write_csv(
        out / "trajectory.csv",
        ["epoch", "pc1", "pc2", "loss"],
        zip(
            r.epochs,
            r.trajectory[:, 0],
            r.trajectory[:, 1],
            r.trajectory_loss,
            strict=True,
        ),
    )
    files["trajectory_grid.csv"] = _write_csv(
        out / "trajectory_grid.csv",
        ["pc1", "pc2", "loss"],
        (
            [a, b, r.pca_loss[i, j]]
            for i, b in enumerate(r.pca_b)
            for j, a in enumerate(r.pca_a)
        ),
    )
    npz = out / "directions.npz"
    with npz.open("wb") as handle:
        np.savez(
            handle,
            **{f"d1.{k}": v for k, v in d1.items()},
            **{f"d2.{k}": v for k, v in d2.items()},
        )
    files["directions.npz"] = npz
    summary = {
        "run_dir": str(r.run_dir),
        "seed": seed,
        "samples": len(r.sample_indices),
        "final": r.final,
        "initial": r.initial,
        "surface_min": float(np.nanmin(r.surface_loss)),
        "interpolation_max_between": float(
            np.max(r.interp_loss[(r.interp_t >= 0) & (r.interp_t <= 1)])
        ),
        "explained_variance": r.explained.tolist(),
    }
    files["summary.json"] = out / "summary.json"
    files["summary.json"].write_text(json.dumps(summary, indent=1) + "\n")
    if not plot:
        return files

    from steepest.plots import landscape as figures

    loss_name = "cross-entropy, nats" if config.loss != "mse" else "squared error"
    name = r.run_dir.name
    files["slice.png"] = figures.plot_slice(
        r.alphas,
        r.slice_loss,
        r.slice_acc,
        out / "slice.png",
        loss_name=loss_name,
        title=f"1-D loss slice around the trained model ({name})",
    )
    files["contour.png"] = figures.plot_contour(
        r.grid_alphas,
        r.grid_betas,
        r.surface_loss,
        out / "contour.png",
        loss_name=loss_name,
        title=f"Loss contours around the trained model ({name})",
    )
    files["surface.png"] = figures.plot_surface(
        r.grid_alphas,
        r.grid_betas,
        r.surface_loss,
        out / "surface.png",
        loss_name=loss_name,
        title=f"Loss surface around the trained model ({name})",
    )
    files["interpolation.png"] = figures.plot_interpolation(
        r.interp_t,
        r.interp_loss,
        r.interp_acc,
        out / "interpolation.png",
        dev_loss=r.interp_dev_loss,
        dev_acc=r.interp_dev_acc,
        loss_name=loss_name,
        title=f"Linear interpolation from initial to trained weights ({name})",
    )
    trajectory_args = dict(
        loss_name=loss_name,
        explained=r.explained,
        title=f"Training trajectory in the PCA plane of the checkpoints ({name})",
    )
    files["trajectory.png"] = figures.plot_trajectory(
        r.pca_a,
        r.pca_b,
        r.pca_loss,
        r.trajectory,
        r.epochs,
        out / "trajectory.png",
        **trajectory_args,
    )
    if gif:
        files["trajectory.gif"] = figures.animate_trajectory(
            r.pca_a,
            r.pca_b,
            r.pca_loss,
            r.trajectory,
            r.epochs,
            out / "trajectory.gif",
            **trajectory_args,
        )
    return files
