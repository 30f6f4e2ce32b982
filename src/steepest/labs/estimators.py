"""The bias of the sample variance: dividing by n against dividing by n - 1.

For ``x_1 .. x_n`` drawn independently from ``N(mu, sigma^2)`` and their mean
``m``, the two usual estimators of ``sigma^2`` are::

    s2_n     = (1/n)       sum_i (x_i - m)^2      (maximum likelihood)
    s2_{n-1} = (1/(n - 1)) sum_i (x_i - m)^2      (Bessel's correction)

Since ``sum_i (x_i - m)^2 / sigma^2`` follows a chi-square law with ``n - 1``
degrees of freedom (mean ``n - 1``, variance ``2 (n - 1)``)::

    E[s2_n] = (1 - 1/n) sigma^2        E[s2_{n-1}] = sigma^2
    MSE(s2_n) = (2n - 1)/n^2 sigma^4   MSE(s2_{n-1}) = 2/(n - 1) sigma^4

so the 1/n estimator is biased low, by ``sigma^2 / n``, yet has the smaller
mean squared error: unbiased is not the same as better. The lab checks both
facts by simulation: ``repeats`` samples of each size ``n``, the mean of each
estimate over them, and its standard error.

Example:
    >>> from steepest.labs.estimators import estimators
    >>> result = estimators(n_min=2, n_max=5, repeats=2000)
    >>> result.sample_sizes
    array([2, 3, 4, 5])
"""

from __future__ import annotations

import csv
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["EstimatorsResult", "estimators"]

logger = logging.getLogger(__name__)

# Samples drawn per chunk, to bound memory at a few tens of MB.
_CHUNK_VALUES = 2_000_000


@dataclass(frozen=True, eq=False)
class EstimatorsResult:
    """Simulated means and mean squared errors of the two variance estimators.

    Every quantity is relative to the true variance: estimates are divided by
    ``sigma^2`` and squared errors by ``sigma^4``, so the analytic curves do
    not depend on ``mu`` or ``sigma``. Arrays have one entry per sample size.

    Attributes:
        sample_sizes: the sample sizes ``n``, ``(N,)``.
        biased_mean, biased_se: mean of ``s2_n / sigma^2`` over the repeats
            and its standard error (standard deviation / sqrt(repeats)).
        unbiased_mean, unbiased_se: the same for ``s2_{n-1} / sigma^2``.
        biased_mse, biased_mse_se: mean of ``(s2_n - sigma^2)^2 / sigma^4``
            and its standard error.
        unbiased_mse, unbiased_mse_se: the same for ``s2_{n-1}``.
        repeats: samples drawn per sample size.
        mu, sigma: the normal law sampled.
        seed: the seed.
        files: the files written (empty without ``out_dir``).
    """

    sample_sizes: np.ndarray
    biased_mean: np.ndarray
    biased_se: np.ndarray
    unbiased_mean: np.ndarray
    unbiased_se: np.ndarray
    biased_mse: np.ndarray
    biased_mse_se: np.ndarray
    unbiased_mse: np.ndarray
    unbiased_mse_se: np.ndarray
    repeats: int
    mu: float
    sigma: float
    seed: int
    files: tuple[Path, ...] = field(default=())

    @property
    def analytic_biased_mean(self) -> np.ndarray:
        """``E[s2_n] / sigma^2 = 1 - 1/n``."""
        return 1.0 - 1.0 / self.sample_sizes

    @property
    def analytic_biased_mse(self) -> np.ndarray:
        """``MSE(s2_n) / sigma^4 = (2n - 1) / n^2``."""
        n = self.sample_sizes
        return (2.0 * n - 1.0) / n**2

    @property
    def analytic_unbiased_mse(self) -> np.ndarray:
        """``MSE(s2_{n-1}) / sigma^4 = 2 / (n - 1)``."""
        return 2.0 / (self.sample_sizes - 1.0)


def estimators(
    n_min: int = 2,
    n_max: int = 30,
    repeats: int = 100_000,
    *,
    mu: float = 3.0,
    sigma: float = 2.0,
    seed: int = 0,
    out_dir: str | Path | None = None,
    dpi: int = 100,
) -> EstimatorsResult:
    """Simulate the 1/n and 1/(n - 1) variance estimators for n in a range.

    For each ``n`` in ``n_min .. n_max``, draw ``repeats`` samples of size
    ``n`` from ``N(mu, sigma^2)`` with the generator seeded by ``(seed, n)``
    (so a sample size's numbers do not depend on the range asked for),
    compute both estimates for each sample, and average.

    Args:
        n_min: the smallest sample size, >= 2 (default 2).
        n_max: the largest, >= n_min (default 30).
        repeats: samples per size, >= 2 (default 100,000: standard errors
            of about 0.2% of sigma^2 at n = 2).
        mu: the mean sampled (default 3; the estimates do not depend on it).
        sigma: the standard deviation sampled, > 0 (default 2).
        seed: the seed (default 0).
        out_dir: a folder to write ``estimators.png`` and ``estimators.csv``
            into, created if missing (default None: write nothing).
        dpi: resolution of the image (default 100).

    Returns:
        An :class:`EstimatorsResult`.
    """
    _check_int("n_min", n_min, 2)
    _check_int("n_max", n_max, n_min)
    _check_int("repeats", repeats, 2)
    _check_int("seed", seed, 0)
    if not (math.isfinite(mu) and math.isfinite(sigma) and sigma > 0):
        raise ValueError(
            f"estimators: need a finite mu and a finite sigma > 0, got mu={mu!r}, "
            f"sigma={sigma!r}"
        )
    sizes = np.arange(n_min, n_max + 1)
    stats = np.empty((len(sizes), 8))
    for i, n in enumerate(sizes):
        stats[i] = _simulate(int(n), repeats, mu, sigma, seed)
    logger.info("estimators: %d sample sizes x %d repeats", len(sizes), repeats)
    result = EstimatorsResult(
        sample_sizes=sizes,
        biased_mean=stats[:, 0],
        biased_se=stats[:, 1],
        unbiased_mean=stats[:, 2],
        unbiased_se=stats[:, 3],
        biased_mse=stats[:, 4],
        biased_mse_se=stats[:, 5],
        unbiased_mse=stats[:, 6],
        unbiased_mse_se=stats[:, 7],
        repeats=repeats,
        mu=float(mu),
        sigma=float(sigma),
        seed=seed,
    )
    if out_dir is None:
        return result
    files = _write(result, Path(out_dir), dpi=dpi)
    return EstimatorsResult(**{**result.__dict__, "files": files})


def _simulate(n: int, repeats: int, mu: float, sigma: float, seed: int) -> np.ndarray:
    """Means and standard errors of both estimates and their squared errors.

    Returns ``[mean, se]`` of ``s2_n / sigma^2``, of ``s2_{n-1} / sigma^2``,
    of ``(s2_n / sigma^2 - 1)^2`` and of ``(s2_{n-1} / sigma^2 - 1)^2``.
    """
    rng = np.random.default_rng([seed, n])
    # Sum of squared deviations over sigma^2, one per sample: chi-square(n - 1).
    q = np.empty(repeats)
    rows = max(_CHUNK_VALUES // n, 1)
    for start in range(0, repeats, rows):
        stop = min(start + rows, repeats)
        x = rng.normal(mu, sigma, size=(stop - start, n))  # (samples, n)
        q[start:stop] = x.var(axis=1) * n / sigma**2
    out = []
    for estimate in (q / n, q / (n - 1)):
        for value in (estimate, (estimate - 1.0) ** 2):
            out += [value.mean(), value.std(ddof=1) / math.sqrt(repeats)]
    # Order: biased mean, se, biased mse, se, unbiased mean, se, unbiased mse, se.
    b_mean, b_se, b_mse, b_mse_se, u_mean, u_se, u_mse, u_mse_se = out
    return np.array([b_mean, b_se, u_mean, u_se, b_mse, b_mse_se, u_mse, u_mse_se])


def _check_int(label: str, value: object, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(
            f"estimators: {label} must be an int, got {type(value).__name__} {value!r}"
        )
    if value < low:
        raise ValueError(f"estimators: {label} must be >= {low}, got {label}={value}")


def _write(result: EstimatorsResult, out: Path, *, dpi: int) -> tuple[Path, ...]:
    from steepest.plots.estimators import plot_estimators

    out.mkdir(parents=True, exist_ok=True)
    png = plot_estimators(
        result.sample_sizes,
        result.biased_mean,
        result.biased_se,
        result.unbiased_mean,
        result.unbiased_se,
        result.biased_mse,
        result.unbiased_mse,
        out / "estimators.png",
        repeats=result.repeats,
        mu=result.mu,
        sigma=result.sigma,
        dpi=dpi,
    )
    table = out / "estimators.csv"
    columns = {
        "n": result.sample_sizes,
        "biased_mean": result.biased_mean,
        "biased_se": result.biased_se,
        "analytic_biased_mean": result.analytic_biased_mean,
        "unbiased_mean": result.unbiased_mean,
        "unbiased_se": result.unbiased_se,
        "analytic_unbiased_mean": np.ones(len(result.sample_sizes)),
        "biased_mse": result.biased_mse,
        "biased_mse_se": result.biased_mse_se,
        "analytic_biased_mse": result.analytic_biased_mse,
        "unbiased_mse": result.unbiased_mse,
        "unbiased_mse_se": result.unbiased_mse_se,
        "analytic_unbiased_mse": result.analytic_unbiased_mse,
    }
    with table.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(columns)
        for i, n in enumerate(result.sample_sizes):
            values = [repr(float(column[i])) for column in list(columns.values())[1:]]
            writer.writerow([int(n), *values])
    logger.info("wrote %s and %s", png, table)
    return (png, table)
