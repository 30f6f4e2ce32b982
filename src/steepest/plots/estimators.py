"""Figure of the ``estimators`` lab: bias and error of two variance estimators."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from steepest.plots import save_figure  # the package selects the Agg backend

__all__ = ["plot_estimators"]

_BIASED, _UNBIASED = "tab:red", "tab:blue"


def plot_estimators(
    sample_sizes: np.ndarray,
    biased_mean: np.ndarray,
    biased_se: np.ndarray,
    unbiased_mean: np.ndarray,
    unbiased_se: np.ndarray,
    biased_mse: np.ndarray,
    unbiased_mse: np.ndarray,
    path: str | Path,
    *,
    repeats: int,
    mu: float,
    sigma: float,
    dpi: int = 100,
) -> Path:
    """Left: mean estimate over sigma^2 against n; right: the MSEs against n.

    Simulated values are markers (with error bars of two standard errors on
    the left), the analytic values lines: ``1 - 1/n`` and ``1`` on the left,
    ``(2n - 1)/n^2`` and ``2/(n - 1)`` on the right.

    Args:
        sample_sizes: the sample sizes ``n``, ``(N,)``.
        biased_mean, biased_se: mean of ``s2_n / sigma^2`` and its standard
            error, ``(N,)`` each.
        unbiased_mean, unbiased_se: the same for ``s2_{n-1} / sigma^2``.
        biased_mse, unbiased_mse: mean of ``(s2 / sigma^2 - 1)^2`` for each.
        path: the image to write (``.png``).
        repeats: samples per size, for the title.
        mu, sigma: the normal law sampled, for the title.
        dpi: resolution (default 100).

    Returns:
        The path written.
    """
    n = np.asarray(sample_sizes, dtype=np.float64)
    grid = np.linspace(n[0], n[-1], 400)
    fig = Figure(figsize=(12.0, 4.8), layout="constrained")
    left, right = fig.subplots(1, 2)

    left.plot(
        grid, 1 - 1 / grid, color=_BIASED, lw=1.5, ls="--", label="analytic 1 - 1/n"
    )
    left.axhline(1.0, color=_UNBIASED, lw=1.5, ls="--", label="analytic 1")
    left.errorbar(
        n,
        biased_mean,
        yerr=2 * np.asarray(biased_se),
        fmt="o",
        color=_BIASED,
        ms=4.5,
        capsize=3,
        label="divide by n (simulated, ±2 SE)",
    )
    left.errorbar(
        n,
        unbiased_mean,
        yerr=2 * np.asarray(unbiased_se),
        fmt="s",
        color=_UNBIASED,
        ms=4.5,
        capsize=3,
        label="divide by n - 1 (simulated, ±2 SE)",
    )
    left.set_xlabel("sample size n (observations)")
    left.set_ylabel("mean estimate / true variance (ratio)")
    left.set_title("Bias: E[estimate] / sigma²")
    left.grid(True, alpha=0.3)
    left.legend(fontsize=9, loc="lower right")

    right.plot(
        grid,
        (2 * grid - 1) / grid**2,
        color=_BIASED,
        lw=1.5,
        ls="--",
        label="analytic (2n - 1)/n²",
    )
    right.plot(
        grid,
        2 / (grid - 1),
        color=_UNBIASED,
        lw=1.5,
        ls="--",
        label="analytic 2/(n - 1)",
    )
    right.plot(
        n, biased_mse, "o", color=_BIASED, ms=4.5, label="divide by n (simulated)"
    )
    right.plot(
        n,
        unbiased_mse,
        "s",
        color=_UNBIASED,
        ms=4.5,
        label="divide by n - 1 (simulated)",
    )
    right.set_yscale("log")
    right.set_xlabel("sample size n (observations)")
    right.set_ylabel("mean squared error / sigma⁴ (log scale)")
    right.set_title("Error: the biased estimator is closer on average")
    right.grid(True, which="both", alpha=0.3)
    right.legend(fontsize=9, loc="upper right")

    fig.suptitle(
        f"Sample variance: dividing by n against n - 1 ({repeats:,} samples of "
        f"each size from N({mu:g}, {sigma:g}²))",
        fontsize=13,
    )
    return save_figure(fig, path, dpi)
