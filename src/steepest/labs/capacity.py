"""Capacity: under- and overfitting, regularisation, and double descent.

Three experiments, each a closed-form least-squares fit (the point is the
curves, not the optimizer):

1. **Polynomial degree sweep.** A small noisy sample of a cubic is fitted by
   polynomials of degree 0, 1, ..., D. The training error can only fall as
   the degree grows (each feature set contains the previous one), while the
   dev error falls (underfitting), bottoms out near the true degree, then
   climbs (overfitting) as the polynomial bends to the noise; at degree
   ``n - 1`` it passes through every training point.
2. **L2 sweep.** At a high degree, ridge regression with penalty ``lambda``
   over a log grid: a little shrinkage pulls the dev error down from its
   overfitted value, too much underfits again.
3. **Double descent.** Random-features regression on a small subset of the
   digits with noisy labels: ``p`` random ReLU features of the pixels, fitted
   to one-hot targets by the minimum-norm least-squares solution. The test
   error falls, rises to a peak at the interpolation threshold ``p = n``
   (where the features first fit every noisy label, with a wildly large
   solution), then falls again as ``p`` grows past ``n`` and the minimum-norm
   solution gets smoother.

Every experiment is a function of its seed.

Example:
    >>> from steepest.labs.capacity import capacity
    >>> result = capacity("polynomial", max_degree=6)
    >>> bool(result.polynomial.train_mse[-1] <= result.polynomial.train_mse[0])
    True
"""

from __future__ import annotations

import csv
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.polynomial import legendre

from steepest.data import load_dataset, make_polynomial

__all__ = [
    "PARTS",
    "CapacityResult",
    "DoubleDescent",
    "PolynomialSweep",
    "RidgeSweep",
    "capacity",
    "double_descent",
    "fit_ridge",
    "min_norm_least_squares",
    "polynomial_features",
    "polynomial_sweep",
    "random_relu_features",
    "ridge_sweep",
]

logger = logging.getLogger(__name__)

#: The experiments :func:`capacity` can run.
PARTS: tuple[str, ...] = ("polynomial", "l2", "double-descent", "all")

#: The cubic sampled by the polynomial experiments, lowest power first.
TRUE_COEFFICIENTS: tuple[float, ...] = (0.5, 1.0, -2.0, -1.5)

_CURVE_POINTS = 201


# -- the fits -------------------------------------------------------------------


def polynomial_features(x: np.ndarray, degree: int) -> np.ndarray:
    """Legendre polynomials ``P_0(x) .. P_degree(x)`` as columns.

    They span the same functions as ``1, x, ..., x^degree``, so a least-squares
    fit gives the same polynomial, but on ``[-1, 1]`` they are nearly
    orthogonal: the columns of a degree-14 monomial design differ in scale by
    orders of magnitude and the fit loses digits, these do not.

    Args:
        x: inputs in (or near) ``[-1, 1]``, shape ``(n,)``.
        degree: the highest degree, >= 0.

    Returns:
        The design matrix, ``(n, degree + 1)``; column 0 is all ones.
    """
    if degree < 0:
        raise ValueError(f"polynomial_features: degree must be >= 0, got {degree}")
    return legendre.legvander(np.asarray(x, dtype=np.float64), degree)


def fit_ridge(
    features: np.ndarray,
    targets: np.ndarray,
    l2: float = 0.0,
    *,
    penalize_first: bool = False,
) -> np.ndarray:
    """Least squares with an L2 penalty, in closed form.

    Minimises over ``w``::

        (1/n) ||F w - y||^2 + l2 ||S w||^2

    where ``S`` selects every coefficient but the first (the intercept) unless
    ``penalize_first``. It is solved as the ordinary least-squares problem
    ``[F; sqrt(n l2) S] w ~ [y; 0]``, by SVD, so that ``l2 = 0`` is exactly
    :func:`numpy.linalg.lstsq` (the minimum-norm solution when ``F`` has more
    columns than rows) and small ``l2`` loses no precision.

    Args:
        features: the design ``F``, ``(n, p)``.
        targets: ``y``, ``(n,)`` or ``(n, k)``.
        l2: the penalty weight, >= 0 (default 0: plain least squares).
        penalize_first: penalise the first coefficient too (default False:
            the intercept is free, as usual in ridge regression).

    Returns:
        The weights, ``(p,)`` or ``(p, k)``.
    """
    if not (math.isfinite(l2) and l2 >= 0):
        raise ValueError(f"fit_ridge: l2 must be a finite number >= 0, got {l2!r}")
    f = np.asarray(features, dtype=np.float64)
    y = np.asarray(targets, dtype=np.float64)
    if l2 > 0:
        n, p = f.shape
        penalty = np.sqrt(n * l2) * np.eye(p)
        if not penalize_first:
            penalty = penalty[1:]
        f = np.concatenate([f, penalty])
        y = np.concatenate([y, np.zeros((len(penalty),) + y.shape[1:])])
    return np.linalg.lstsq(f, y, rcond=None)[0]


def min_norm_least_squares(features: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """The least-squares solution of smallest norm, ``pinv(F) y``.

    Computed from the eigendecomposition of the smaller Gram matrix,
    ``F F^T`` (n x n) when ``p >= n`` and ``F^T F`` (p x p) otherwise, with
    eigenvalues below ``max(n, p) * eps * largest`` treated as zero (the
    pseudo-inverse's cutoff, squared). It is the same solution as an SVD of
    ``F`` to far more digits than the test error needs, and a symmetric
    eigenproblem of the small side is many times cheaper than an SVD of a
    wide matrix.

    Args:
        features: ``F``, ``(n, p)``.
        targets: ``y``, ``(n,)`` or ``(n, k)``.

    Returns:
        The weights, ``(p,)`` or ``(p, k)``.
    """
    f = np.asarray(features, dtype=np.float64)
    y = np.asarray(targets, dtype=np.float64)
    n, p = f.shape
    wide = p >= n
    gram = f @ f.T if wide else f.T @ f
    lam, u = np.linalg.eigh(gram)
    keep = lam > max(n, p) * np.finfo(np.float64).eps * max(lam[-1], 0.0)
    u, lam = u[:, keep], lam[keep]
    inv = 1.0 / (lam[:, None] if y.ndim == 2 else lam)
    if wide:
        # w = F^T (F F^T)^+ y
        return f.T @ (u @ (inv * (u.T @ y)))
    # w = (F^T F)^+ F^T y
    return u @ (inv * (u.T @ (f.T @ y)))


def random_relu_features(x: np.ndarray, projection: np.ndarray) -> np.ndarray:
    """``relu(x W)``: the random ReLU features of the rows of ``x``.

    Args:
        x: inputs, ``(n, d)``.
        projection: the random weights ``W``, ``(d, p)``.

    Returns:
        The features, ``(n, p)``.
    """
    return np.maximum(np.asarray(x) @ projection, 0.0)


def _mse(predictions: np.ndarray, targets: np.ndarray) -> float:
    return float(np.mean((predictions - targets) ** 2))


# -- the experiments ------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class PolynomialSweep:
    """Train and dev error of polynomial least squares against the degree.

    Attributes:
        degrees: ``0 .. D``, ``(D + 1,)``.
        train_mse, dev_mse: mean squared errors, ``(D + 1,)``.
        x_train, y_train: the training sample, ``(n,)`` each.
        x_dev, y_dev: the dev sample, ``(m,)`` each.
        noise: the standard deviation of the noise on ``y``; ``noise**2`` is
            the dev error of the true function.
        coefficients: the true polynomial, lowest power first.
        curve_x: a grid over ``[-1, 1]``, ``(201,)``.
        true_curve: the true function on it, ``(201,)``.
        shown_degrees: the degrees whose fits are drawn, ``(3,)``.
        fits: those fits on ``curve_x``, ``(3, 201)``.
    """

    degrees: np.ndarray
    train_mse: np.ndarray
    dev_mse: np.ndarray
    x_train: np.ndarray
    y_train: np.ndarray
    x_dev: np.ndarray
    y_dev: np.ndarray
    noise: float
    coefficients: np.ndarray
    curve_x: np.ndarray
    true_curve: np.ndarray
    shown_degrees: np.ndarray
    fits: np.ndarray

    @property
    def best_degree(self) -> int:
        """The degree with the lowest dev error."""
        return int(self.degrees[np.argmin(self.dev_mse)])


@dataclass(frozen=True, eq=False)
class RidgeSweep:
    """Train and dev error of ridge regression at one degree against lambda.

    Attributes:
        degree: the polynomial degree.
        lambdas: the penalty weights, increasing, ``(L,)``.
        train_mse, dev_mse: errors at each, ``(L,)``.
        unregularized_train_mse, unregularized_dev_mse: the errors at
            ``lambda = 0``.
        noise: the standard deviation of the noise on ``y``.
        x_train, y_train: the training sample, ``(n,)`` each.
        curve_x, true_curve: as in :class:`PolynomialSweep`.
        shown_lambdas: the lambdas whose fits are drawn (0, the best, the
            largest), ``(3,)``.
        fits: those fits on ``curve_x``, ``(3, 201)``.
    """

    degree: int
    lambdas: np.ndarray
    train_mse: np.ndarray
    dev_mse: np.ndarray
    unregularized_train_mse: float
    unregularized_dev_mse: float
    noise: float
    x_train: np.ndarray
    y_train: np.ndarray
    curve_x: np.ndarray
    true_curve: np.ndarray
    shown_lambdas: np.ndarray
    fits: np.ndarray

    @property
    def best_lambda(self) -> float:
        """The lambda with the lowest dev error."""
        return float(self.lambdas[np.argmin(self.dev_mse)])


@dataclass(frozen=True, eq=False)
class DoubleDescent:
    """Errors of minimum-norm random-features regression against the width.

    ``S`` seeds (repeats with fresh features, subset and label noise), ``P``
    widths.

    Attributes:
        widths: the numbers of random features ``p``, increasing, ``(P,)``.
        n_train: training examples; the interpolation threshold is
            ``p = n_train``.
        label_noise: the fraction of training labels redrawn at random.
        dataset: the dataset's name.
        train_mse, test_mse: squared error against one-hot targets, averaged
            over examples and classes, ``(S, P)``.
        train_error, test_error: classification error (the largest output
            taken as the prediction), ``(S, P)``; training errors are against
            the noisy labels.
        n_test: test examples.
    """

    widths: np.ndarray
    n_train: int
    label_noise: float
    dataset: str
    train_mse: np.ndarray
    test_mse: np.ndarray
    train_error: np.ndarray
    test_error: np.ndarray
    n_test: int

    @property
    def peak_width(self) -> int:
        """The width with the largest mean test MSE."""
        return int(self.widths[np.argmax(self.test_mse.mean(axis=0))])


@dataclass(frozen=True, eq=False)
class CapacityResult:
    """What :func:`capacity` ran; parts not run are None.

    Attributes:
        polynomial: the degree sweep.
        ridge: the L2 sweep.
        double_descent: the width sweep.
        files: the files written (empty without ``out_dir``).
    """

    polynomial: PolynomialSweep | None = None
    ridge: RidgeSweep | None = None
    double_descent: DoubleDescent | None = None
    files: tuple[Path, ...] = field(default=())


def _polynomial_data(
    n_train: int, n_dev: int, noise: float, coefficients: Sequence[float], seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    data = make_polynomial(
        n_train + n_dev,
        coefficients=list(coefficients),
        noise=noise,
        dev_size=n_dev,
        test_size=0,
        seed=seed,
    )
    return (
        data.train.x[:, 0].astype(np.float64),
        data.train.y[:, 0].astype(np.float64),
        data.dev.x[:, 0].astype(np.float64),
        data.dev.y[:, 0].astype(np.float64),
    )


def polynomial_sweep(
    *,
    n_train: int = 15,
    n_dev: int = 500,
    noise: float = 0.3,
    max_degree: int = 14,
    coefficients: Sequence[float] = TRUE_COEFFICIENTS,
    seed: int = 0,
) -> PolynomialSweep:
    """Fit polynomials of degree 0..max_degree by least squares.

    The data come from :func:`steepest.data.make_polynomial`:
    ``x ~ U(-1, 1)``, ``y = sum_k c_k x^k + noise * N(0, 1)``. The fit of
    degree ``d`` minimises the training MSE over the polynomials of degree
    ``<= d`` (the minimum-norm one once ``d >= n_train``), so the training
    error is non-increasing in ``d`` and reaches 0 at ``d = n_train - 1``.

    Args:
        n_train: training examples, >= 2 (default 15).
        n_dev: dev examples, >= 1 (default 500: enough that the dev error
            is the expected error, give or take a few per cent).
        noise: standard deviation of the noise, >= 0 (default 0.3).
        max_degree: the largest degree fitted, >= 1 (default 14).
        coefficients: the true polynomial, lowest power first (default
            ``0.5 + x - 2 x^2 - 1.5 x^3``).
        seed: seed of the sample (default 0).

    Returns:
        A :class:`PolynomialSweep`.
    """
    _check_count("polynomial_sweep", "n_train", n_train, 2)
    _check_count("polynomial_sweep", "n_dev", n_dev, 1)
    _check_count("polynomial_sweep", "max_degree", max_degree, 1)
    xt, yt, xd, yd = _polynomial_data(n_train, n_dev, noise, coefficients, seed)
    degrees = np.arange(max_degree + 1)
    train, dev = np.empty(len(degrees)), np.empty(len(degrees))
    curve_x = np.linspace(-1.0, 1.0, _CURVE_POINTS)
    true_degree = len(coefficients) - 1
    shown = np.unique([1, min(true_degree, max_degree), max_degree])
    fits = []
    for d in degrees:
        w = fit_ridge(polynomial_features(xt, d), yt)
        train[d] = _mse(polynomial_features(xt, d) @ w, yt)
        dev[d] = _mse(polynomial_features(xd, d) @ w, yd)
        if d in shown:
            fits.append(polynomial_features(curve_x, d) @ w)
    logger.info("polynomial sweep: best degree %d", int(np.argmin(dev)))
    return PolynomialSweep(
        degrees=degrees,
        train_mse=train,
        dev_mse=dev,
        x_train=xt,
        y_train=yt,
        x_dev=xd,
        y_dev=yd,
        noise=float(noise),
        coefficients=np.asarray(coefficients, dtype=np.float64),
        curve_x=curve_x,
        true_curve=np.polynomial.polynomial.polyval(curve_x, coefficients),
        shown_degrees=shown,
        fits=np.array(fits),
    )


def ridge_sweep(
    *,
    degree: int = 14,
    lambdas: Sequence[float] | None = None,
    n_train: int = 15,
    n_dev: int = 500,
    noise: float = 0.3,
    coefficients: Sequence[float] = TRUE_COEFFICIENTS,
    seed: int = 0,
) -> RidgeSweep:
    """Fit one high-degree polynomial with an L2 penalty of growing weight.

    The same data as :func:`polynomial_sweep` with the same arguments; the
    fit minimises ``(1/n) ||F w - y||^2 + lambda ||w_{1:}||^2`` over the
    Legendre coefficients ``w`` (the constant term is not penalised).

    Args:
        degree: the polynomial degree, >= 1 (default 14).
        lambdas: penalty weights, each > 0 (default: 41 values from 1e-10
            to 10, evenly spaced in log).
        n_train, n_dev, noise, coefficients, seed: as for
            :func:`polynomial_sweep`.

    Returns:
        A :class:`RidgeSweep`.
    """
    _check_count("ridge_sweep", "degree", degree, 1)
    _check_count("ridge_sweep", "n_train", n_train, 2)
    _check_count("ridge_sweep", "n_dev", n_dev, 1)
    grid = np.geomspace(1e-10, 10.0, 41) if lambdas is None else np.asarray(lambdas)
    grid = np.sort(np.asarray(grid, dtype=np.float64))
    if grid.ndim != 1 or grid.size == 0 or not np.all(np.isfinite(grid) & (grid > 0)):
        raise ValueError(
            f"ridge_sweep: lambdas must be finite numbers > 0, got {lambdas!r}"
        )
    xt, yt, xd, yd = _polynomial_data(n_train, n_dev, noise, coefficients, seed)
    ft, fd = polynomial_features(xt, degree), polynomial_features(xd, degree)
    curve_x = np.linspace(-1.0, 1.0, _CURVE_POINTS)
    fc = polynomial_features(curve_x, degree)

    w0 = fit_ridge(ft, yt)
    train = np.empty(len(grid))
    dev = np.empty(len(grid))
    weights = []
    for i, lam in enumerate(grid):
        w = fit_ridge(ft, yt, float(lam))
        weights.append(w)
        train[i] = _mse(ft @ w, yt)
        dev[i] = _mse(fd @ w, yd)
    best = int(np.argmin(dev))
    logger.info("ridge sweep: best lambda %.3g", grid[best])
    return RidgeSweep(
        degree=degree,
        lambdas=grid,
        train_mse=train,
        dev_mse=dev,
        unregularized_train_mse=_mse(ft @ w0, yt),
        unregularized_dev_mse=_mse(fd @ w0, yd),
        noise=float(noise),
        x_train=xt,
        y_train=yt,
        curve_x=curve_x,
        true_curve=np.polynomial.polynomial.polyval(curve_x, coefficients),
        shown_lambdas=np.array([0.0, grid[best], grid[-1]]),
        fits=np.array([fc @ w0, fc @ weights[best], fc @ weights[-1]]),
    )


def _default_widths(n_train: int) -> np.ndarray:
    """About 40 widths from n/20 to 5n, log-spaced, denser around p = n."""
    n = n_train
    coarse = np.geomspace(max(n / 20, 2), 5 * n, 30)
    near = n * np.array([0.8, 0.9, 0.95, 1.0, 1.05, 1.1, 1.25])
    return np.unique(np.round(np.concatenate([coarse, near])).astype(np.int64))


def double_descent(
    *,
    dataset: str = "digits",
    n_train: int = 200,
    label_noise: float = 0.2,
    widths: Sequence[int] | None = None,
    seeds: int = 5,
    seed: int = 0,
) -> DoubleDescent:
    """Test error of minimum-norm random-features regression against width.

    For each repeat ``s`` (seeded by ``(seed, s)``): draw ``n_train`` examples
    from the dataset's train and dev parts, redraw a fraction
    ``label_noise`` of their labels uniformly at random, centre the pixels
    (by the subset's mean) and scale them to unit variance overall, draw
    ``W ~ N(0, 1/d)`` of shape ``(d, max p)``, and for each width ``p`` fit
    ``relu(x W[:, :p]) beta ~ one_hot(y)`` by :func:`min_norm_least_squares`.
    Nested widths share their first columns, so the curve varies only in
    ``p``. Test errors are on the dataset's test part, with clean labels.

    Args:
        dataset: a classification dataset of :func:`steepest.data.load_dataset`
            (default "digits", bundled; "mnist" needs its files).
        n_train: training examples per repeat, >= 2 (default 200).
        label_noise: fraction of training labels redrawn, in [0, 1]
            (default 0.2).
        widths: the feature counts ``p``, each >= 1 (default: about 40 from
            ``n_train / 20`` to ``5 n_train``, denser near ``n_train``).
        seeds: repeats averaged, >= 1 (default 5).
        seed: the base seed (default 0).

    Returns:
        A :class:`DoubleDescent`.
    """
    _check_count("double_descent", "n_train", n_train, 2)
    _check_count("double_descent", "seeds", seeds, 1)
    if not 0.0 <= label_noise <= 1.0:
        raise ValueError(
            f"double_descent: label_noise must be in [0, 1], got {label_noise!r}"
        )
    ps = _default_widths(n_train) if widths is None else np.asarray(widths)
    ps = np.unique(np.asarray(ps, dtype=np.int64))
    if ps.size == 0 or ps[0] < 1:
        raise ValueError(
            f"double_descent: widths must be integers >= 1, got {widths!r}"
        )

    data = load_dataset(dataset)
    if data.meta.task != "classification":
        raise ValueError(
            f"double_descent: {dataset!r} is a {data.meta.task} dataset; use a "
            "classification one such as 'digits'"
        )
    classes = int(data.meta.num_classes)
    pool_x = np.concatenate([data.train.x, data.dev.x]).astype(np.float64)
    pool_y = np.concatenate([data.train.y, data.dev.y])
    if n_train > len(pool_x):
        raise ValueError(
            f"double_descent: n_train={n_train} but {dataset!r} has only "
            f"{len(pool_x)} train and dev examples"
        )
    test_x = data.test.x.astype(np.float64).reshape(len(data.test), -1)
    test_y = data.test.y
    pool_x = pool_x.reshape(len(pool_x), -1)
    d = pool_x.shape[1]
    eye = np.eye(classes)

    shape = (seeds, len(ps))
    train_mse, test_mse = np.empty(shape), np.empty(shape)
    train_err, test_err = np.empty(shape), np.empty(shape)
    for s in range(seeds):
        rng = np.random.default_rng([seed, s])

        # The subset, its noisy labels, and the random projection.
        pick = rng.choice(len(pool_x), n_train, replace=False)
        x, y = pool_x[pick], pool_y[pick].copy()
        flip = rng.random(n_train) < label_noise
        y[flip] = rng.integers(0, classes, int(flip.sum()))
        mean = x.mean(axis=0)
        scale = (x - mean).std() or 1.0
        x, xt = (x - mean) / scale, (test_x - mean) / scale
        projection = rng.standard_normal((d, int(ps[-1]))) / np.sqrt(d)
        targets = eye[y]

        # One minimum-norm fit per width.
        for j, p in enumerate(ps):
            f = random_relu_features(x, projection[:, :p])
            ft = random_relu_features(xt, projection[:, :p])
            beta = min_norm_least_squares(f, targets)
            out, out_test = f @ beta, ft @ beta
            train_mse[s, j] = _mse(out, targets)
            test_mse[s, j] = _mse(out_test, eye[test_y])
            train_err[s, j] = np.mean(out.argmax(axis=1) != y)
            test_err[s, j] = np.mean(out_test.argmax(axis=1) != test_y)
        logger.info("double descent: repeat %d of %d done", s + 1, seeds)
    return DoubleDescent(
        widths=ps,
        n_train=n_train,
        label_noise=float(label_noise),
        dataset=data.meta.name,
        train_mse=train_mse,
        test_mse=test_mse,
        train_error=train_err,
        test_error=test_err,
        n_test=len(test_y),
    )


def capacity(
    part: str = "all",
    *,
    seed: int = 0,
    out_dir: str | Path | None = None,
    n_train: int = 15,
    noise: float = 0.3,
    max_degree: int = 14,
    lambdas: Sequence[float] | None = None,
    dataset: str = "digits",
    dd_train: int = 200,
    label_noise: float = 0.2,
    widths: Sequence[int] | None = None,
    seeds: int = 5,
    dpi: int = 100,
) -> CapacityResult:
    """Run the capacity experiments and optionally write their figures.

    Args:
        part: "polynomial" (the degree sweep), "l2" (the ridge sweep at
            ``max_degree``), "double-descent", or "all" (default).
        seed: seed of every sample (default 0).
        out_dir: a folder to write, per part run, a PNG and the CSVs behind
            it (``capacity_polynomial.png``, ``capacity_polynomial.csv``,
            ``capacity_polynomial_fits.csv``, ``capacity_data.csv``,
            ``capacity_l2.png`` ..., ``capacity_double_descent.png`` ...);
            created if missing (default None: write nothing).
        n_train: training examples of the polynomial experiments (default 15).
        noise: their noise standard deviation (default 0.3).
        max_degree: the largest degree, also the ridge degree (default 14).
        lambdas: the ridge penalties (default: 1e-10 to 10, 41 values).
        dataset: the double-descent dataset (default "digits").
        dd_train: its training examples (default 200).
        label_noise: its fraction of noisy labels (default 0.2).
        widths: its feature counts (default: about 40 up to 5 dd_train).
        seeds: its repeats averaged (default 5).
        dpi: resolution of the images (default 100).

    Returns:
        A :class:`CapacityResult`.
    """
    key = str(part).strip().lower().replace("_", "-")
    if key not in PARTS:
        raise ValueError(
            f"capacity: unknown part {part!r}; choose one of {', '.join(PARTS)}"
        )
    poly = ridge = dd = None
    if key in ("polynomial", "all"):
        poly = polynomial_sweep(
            n_train=n_train, noise=noise, max_degree=max_degree, seed=seed
        )
    if key in ("l2", "all"):
        ridge = ridge_sweep(
            degree=max_degree, lambdas=lambdas, n_train=n_train, noise=noise, seed=seed
        )
    if key in ("double-descent", "all"):
        dd = double_descent(
            dataset=dataset,
            n_train=dd_train,
            label_noise=label_noise,
            widths=widths,
            seeds=seeds,
            seed=seed,
        )
    result = CapacityResult(polynomial=poly, ridge=ridge, double_descent=dd)
    if out_dir is None:
        return result
    files = _write(result, Path(out_dir), dpi=dpi)
    return CapacityResult(polynomial=poly, ridge=ridge, double_descent=dd, files=files)


# -- checks and output ----------------------------------------------------------


def _check_count(caller: str, label: str, value: object, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(
            f"{caller}: {label} must be an int, got {type(value).__name__} {value!r}"
        )
    if value < low:
        raise ValueError(f"{caller}: {label} must be >= {low}, got {label}={value}")


def _write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence]) -> Path:
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _g(value: float) -> str:
    return repr(float(value))


def _write(result: CapacityResult, out: Path, *, dpi: int) -> tuple[Path, ...]:
    from steepest.plots.capacity import (
        plot_double_descent,
        plot_polynomial_sweep,
        plot_ridge_sweep,
    )

    out.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []
    sample = result.polynomial or result.ridge
    if sample is not None:
        pairs = zip(sample.x_train, sample.y_train, strict=True)
        rows = [["train", _g(x), _g(y)] for x, y in pairs]
        if result.polynomial is not None:
            poly = result.polynomial
            pairs = zip(poly.x_dev, poly.y_dev, strict=True)
            rows += [["dev", _g(x), _g(y)] for x, y in pairs]
        files.append(_write_csv(out / "capacity_data.csv", ["split", "x", "y"], rows))

    p = result.polynomial
    if p is not None:
        files.append(
            plot_polynomial_sweep(
                p.degrees,
                p.train_mse,
                p.dev_mse,
                out / "capacity_polynomial.png",
                x_train=p.x_train,
                y_train=p.y_train,
                curve_x=p.curve_x,
                true_curve=p.true_curve,
                shown_degrees=p.shown_degrees,
                fits=p.fits,
                noise=p.noise,
                dpi=dpi,
            )
        )
        rows = [
            [int(d), _g(a), _g(b)]
            for d, a, b in zip(p.degrees, p.train_mse, p.dev_mse, strict=True)
        ]
        files.append(
            _write_csv(
                out / "capacity_polynomial.csv",
                ["degree", "train_mse", "dev_mse"],
                rows,
            )
        )
        header = ["x", "true"] + [f"degree_{d}" for d in p.shown_degrees]
        rows = [
            [_g(x), _g(t), *map(_g, fit)]
            for x, t, fit in zip(p.curve_x, p.true_curve, p.fits.T, strict=True)
        ]
        files.append(_write_csv(out / "capacity_polynomial_fits.csv", header, rows))

    r = result.ridge
    if r is not None:
        files.append(
            plot_ridge_sweep(
                r.lambdas,
                r.train_mse,
                r.dev_mse,
                out / "capacity_l2.png",
                degree=r.degree,
                unregularized_dev_mse=r.unregularized_dev_mse,
                x_train=r.x_train,
                y_train=r.y_train,
                curve_x=r.curve_x,
                true_curve=r.true_curve,
                shown_lambdas=r.shown_lambdas,
                fits=r.fits,
                noise=r.noise,
                dpi=dpi,
            )
        )
        rows = [[_g(0.0), _g(r.unregularized_train_mse), _g(r.unregularized_dev_mse)]]
        rows += [
            [_g(lam), _g(a), _g(b)]
            for lam, a, b in zip(r.lambdas, r.train_mse, r.dev_mse, strict=True)
        ]
        files.append(
            _write_csv(
                out / "capacity_l2.csv", ["lambda", "train_mse", "dev_mse"], rows
            )
        )
        header = ["x", "true"] + [f"lambda_{lam:.3g}" for lam in r.shown_lambdas]
        rows = [
            [_g(x), _g(t), *map(_g, fit)]
            for x, t, fit in zip(r.curve_x, r.true_curve, r.fits.T, strict=True)
        ]
        files.append(_write_csv(out / "capacity_l2_fits.csv", header, rows))

    dd = result.double_descent
    if dd is not None:
        files.append(
            plot_double_descent(
                dd.widths,
                dd.train_mse,
                dd.test_mse,
                dd.train_error,
                dd.test_error,
                out / "capacity_double_descent.png",
                n_train=dd.n_train,
                label_noise=dd.label_noise,
                dataset=dd.dataset,
                dpi=dpi,
            )
        )
        header = ["width", "seed", "train_mse", "test_mse", "train_error", "test_error"]
        rows = []
        for j, p_ in enumerate(dd.widths):
            for s in range(len(dd.test_mse)):
                rows.append(
                    [
                        int(p_),
                        s,
                        _g(dd.train_mse[s, j]),
                        _g(dd.test_mse[s, j]),
                        _g(dd.train_error[s, j]),
                        _g(dd.test_error[s, j]),
                    ]
                )
        files.append(_write_csv(out / "capacity_double_descent.csv", header, rows))
    logger.info("wrote %s", ", ".join(map(str, files)))
    return tuple(files)
