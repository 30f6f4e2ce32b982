"""Figures of the ``capacity`` lab: fits, error against capacity, double descent.

Each function takes plain arrays and writes one two-panel PNG. Errors are on
a log scale; a value beyond the drawn range (an overfitted polynomial far
outside its data, or a training error of 1e-30 once a model interpolates) is
drawn as a triangle on the edge, so the interesting range stays readable.
The exact numbers are in the CSVs the lab writes beside the images.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from steepest.plots import save_figure  # the package selects the Agg backend

__all__ = ["plot_double_descent", "plot_polynomial_sweep", "plot_ridge_sweep"]

_TRAIN, _DEV = "tab:blue", "tab:red"
_FIT_COLORS = ("tab:orange", "tab:green", "tab:purple")


def plot_polynomial_sweep(
    degrees: np.ndarray,
    train_mse: np.ndarray,
    dev_mse: np.ndarray,
    path: str | Path,
    *,
    x_train: np.ndarray,
    y_train: np.ndarray,
    curve_x: np.ndarray,
    true_curve: np.ndarray,
    shown_degrees: Sequence[int],
    fits: np.ndarray,
    noise: float,
    dpi: int = 100,
) -> Path:
    """Left: a few fits over the data; right: train and dev MSE against degree.

    Args:
        degrees: the degrees fitted, ``(D + 1,)``.
        train_mse, dev_mse: their errors, ``(D + 1,)``.
        path: the image to write (``.png``).
        x_train, y_train: the training points.
        curve_x, true_curve: the true function on a grid.
        shown_degrees: the degrees of the drawn fits.
        fits: those fits on ``curve_x``, one row each.
        noise: the noise standard deviation; ``noise**2`` is drawn as the
            error of the true function.
        dpi: resolution (default 100).

    Returns:
        The path written.
    """
    fig = Figure(figsize=(12.0, 4.8), layout="constrained")
    left, right = fig.subplots(1, 2)
    labels = [f"degree {d} fit" for d in shown_degrees]
    _draw_fits(left, x_train, y_train, curve_x, true_curve, fits, labels)
    left.set_title(f"Least-squares polynomials through n = {len(x_train)} points")

    best = int(np.argmin(dev_mse))
    low, high = _error_range(train_mse, dev_mse, noise)
    _draw_clipped(right, degrees, train_mse, low, high, _TRAIN, "train MSE")
    _draw_clipped(right, degrees, dev_mse, low, high, _DEV, "dev MSE")
    _mark_best(right, degrees[best], dev_mse[best], f"degree {degrees[best]}")
    right.axhline(
        noise**2, color="gray", ls=":", lw=1.5, label=f"noise variance {noise**2:.3g}"
    )
    right.axvline(
        len(x_train) - 1,
        color="black",
        ls="--",
        lw=1,
        label=f"degree n - 1 = {len(x_train) - 1}: interpolates",
    )
    right.set_yscale("log")
    right.set_ylim(low, high)
    right.set_xlabel("polynomial degree (number of coefficients - 1)")
    right.set_ylabel("mean squared error (y units squared, log scale)")
    right.set_title("Underfitting, then overfitting")
    right.grid(True, which="both", alpha=0.25)
    right.legend(fontsize=8.5, loc="center right")
    fig.suptitle("Model capacity: polynomial degree", fontsize=13)
    return save_figure(fig, path, dpi)


def plot_ridge_sweep(
    lambdas: np.ndarray,
    train_mse: np.ndarray,
    dev_mse: np.ndarray,
    path: str | Path,
    *,
    degree: int,
    unregularized_dev_mse: float,
    x_train: np.ndarray,
    y_train: np.ndarray,
    curve_x: np.ndarray,
    true_curve: np.ndarray,
    shown_lambdas: Sequence[float],
    fits: np.ndarray,
    noise: float,
    dpi: int = 100,
) -> Path:
    """Left: fits at three penalties; right: train and dev MSE against lambda.

    Args:
        lambdas: the penalty weights, increasing, ``(L,)``.
        train_mse, dev_mse: their errors, ``(L,)``.
        path: the image to write (``.png``).
        degree: the polynomial degree.
        unregularized_dev_mse: the dev error with no penalty.
        x_train, y_train, curve_x, true_curve, noise, dpi: as for
            :func:`plot_polynomial_sweep`.
        shown_lambdas: the penalties of the drawn fits.
        fits: those fits on ``curve_x``, one row each.

    Returns:
        The path written.
    """
    fig = Figure(figsize=(12.0, 4.8), layout="constrained")
    left, right = fig.subplots(1, 2)
    labels = [f"lambda = {lam:.2g}" for lam in shown_lambdas]
    if shown_lambdas[0] == 0:
        labels[0] = "lambda = 0 (least squares)"
    if len(labels) > 1:
        labels[1] += " (lowest dev MSE)"
    _draw_fits(left, x_train, y_train, curve_x, true_curve, fits, labels)
    left.set_title(f"Degree-{degree} ridge fits to n = {len(x_train)} points")

    best = int(np.argmin(dev_mse))
    low, high = _error_range(train_mse, dev_mse, noise)
    high = max(high, min(unregularized_dev_mse * 3, high * 10))
    _draw_clipped(right, lambdas, train_mse, low, high, _TRAIN, "train MSE")
    _draw_clipped(right, lambdas, dev_mse, low, high, _DEV, "dev MSE")
    _mark_best(right, lambdas[best], dev_mse[best], f"lambda {lambdas[best]:.2g}")
    label = f"dev MSE at lambda = 0: {unregularized_dev_mse:.3g}"
    if low <= unregularized_dev_mse <= high:
        right.axhline(unregularized_dev_mse, color=_DEV, ls="--", lw=1, label=label)
    else:
        right.plot([], [], " ", label=f"{label} (off the scale)")
    right.axhline(
        noise**2, color="gray", ls=":", lw=1.5, label=f"noise variance {noise**2:.3g}"
    )
    right.set_xscale("log")
    right.set_yscale("log")
    right.set_ylim(low, high)
    right.set_xlabel("L2 penalty weight lambda (per example, log scale)")
    right.set_ylabel("mean squared error (y units squared, log scale)")
    right.set_title("A penalty pulls the dev error down")
    right.grid(True, which="both", alpha=0.25)
    right.legend(fontsize=8.5, loc="upper right")
    fig.suptitle(f"Regularisation: L2 penalty at degree {degree}", fontsize=13)
    return save_figure(fig, path, dpi)


def plot_double_descent(
    widths: np.ndarray,
    train_mse: np.ndarray,
    test_mse: np.ndarray,
    train_error: np.ndarray,
    test_error: np.ndarray,
    path: str | Path,
    *,
    n_train: int,
    label_noise: float,
    dataset: str = "digits",
    dpi: int = 100,
) -> Path:
    """Test and train error against the number of features, threshold marked.

    Each repeat is a thin line, their mean a thick one with markers.

    Args:
        widths: numbers of features, ``(P,)``.
        train_mse, test_mse, train_error, test_error: per repeat and width,
            ``(S, P)``.
        path: the image to write (``.png``).
        n_train: the number of training examples (the threshold).
        label_noise: the fraction of noisy training labels, for the title.
        dataset: the dataset's name, for the title.
        dpi: resolution (default 100).

    Returns:
        The path written.
    """
    widths = np.asarray(widths)
    fig = Figure(figsize=(12.0, 4.8), layout="constrained")
    left, right = fig.subplots(1, 2)
    label = f"test (mean of {len(np.atleast_2d(test_mse))} repeats)"

    # Squared error, log scale: once p >= n the training error is ~1e-30, so
    # it is marked on the bottom edge instead.
    test, train = np.atleast_2d(test_mse), np.atleast_2d(train_mse)
    positive = test[test > 0]
    low = max(min(positive.min(), 1e-3) / 2, 1e-4) if positive.size else 1e-4
    high = 10 * test.mean(axis=0).max()
    _draw_repeats(left, widths, test, _DEV)
    _draw_repeats(left, widths, np.where(train >= low, train, np.nan), _TRAIN)
    _draw_clipped(left, widths, test.mean(axis=0), low, high, _DEV, label)
    _draw_clipped(left, widths, train.mean(axis=0), low, high, _TRAIN, "train")
    left.set_yscale("log")
    left.set_ylim(low, high)
    left.set_ylabel("mean squared error vs one-hot targets (log scale)")

    # Classification error, linear scale.
    test, train = np.atleast_2d(test_error), np.atleast_2d(train_error)
    _draw_repeats(right, widths, test, _DEV)
    _draw_repeats(right, widths, train, _TRAIN)
    right.plot(
        widths, test.mean(axis=0), color=_DEV, lw=2, marker="o", ms=4, label=label
    )
    right.plot(
        widths,
        train.mean(axis=0),
        color=_TRAIN,
        lw=2,
        marker="o",
        ms=4,
        label="train (against the noisy labels)",
    )
    right.set_ylim(0, 1)
    right.set_ylabel("classification error (fraction of examples wrong)")

    for ax in (left, right):
        ax.axvline(
            n_train,
            color="black",
            ls="--",
            lw=1.2,
            label=f"interpolation threshold p = n = {n_train}",
        )
        ax.set_xscale("log")
        ax.set_xlabel("number of random ReLU features p (log scale)")
        ax.grid(True, which="both", alpha=0.25)
        ax.legend(fontsize=8.5, loc="upper left")
    left.set_title("Squared error: a peak at p = n")
    right.set_title("Classification error")
    fig.suptitle(
        f"Double descent: minimum-norm random-features regression on {dataset}, "
        f"n = {n_train}, {label_noise:.0%} of labels noisy",
        fontsize=13,
    )
    return save_figure(fig, path, dpi)


# -- shared pieces --------------------------------------------------------------


def _draw_fits(
    ax: Axes,
    x_train: np.ndarray,
    y_train: np.ndarray,
    curve_x: np.ndarray,
    true_curve: np.ndarray,
    fits: np.ndarray,
    labels: Sequence[str],
) -> None:
    """The data, the true function and the fits, clipped to the data's range."""
    ax.plot(curve_x, true_curve, color="black", ls="--", lw=1.5, label="true function")
    for i, (fit, label) in enumerate(zip(fits, labels, strict=True)):
        ax.plot(
            curve_x, fit, color=_FIT_COLORS[i % len(_FIT_COLORS)], lw=1.8, label=label
        )
    ax.plot(x_train, y_train, "o", color="black", ms=5, label="training points")
    values = np.concatenate([y_train, true_curve])
    span = values.max() - values.min()
    ax.set_ylim(values.min() - 0.5 * span, values.max() + 0.5 * span)
    ax.set_xlim(curve_x[0], curve_x[-1])
    ax.set_xlabel("x (input, unitless)")
    ax.set_ylabel("y (target, unitless)")
    ax.grid(True, alpha=0.25)
    ax.legend(fontsize=8.5, loc="lower left")


def _draw_repeats(ax: Axes, x: np.ndarray, rows: np.ndarray, color: str) -> None:
    """One thin line per repeat."""
    for row in rows:
        ax.plot(x, row, color=color, lw=0.6, alpha=0.35)


def _error_range(
    train: np.ndarray, dev: np.ndarray, noise: float
) -> tuple[float, float]:
    """A log range that shows the interesting errors: from well below the noise
    floor to a few times the worst error of the simplest model."""
    floor = noise**2 if noise > 0 else np.min(dev[dev > 0])
    positive = train[train > 1e-12]
    low = min(floor / 30, positive.min() / 2 if positive.size else floor / 30)
    high = 30 * max(dev[0], train[0], floor)
    return low, high


def _mark_best(ax: Axes, x: float, y: float, setting: str) -> None:
    """Ring the point of lowest dev error, labelled with its setting."""
    label = f"lowest dev MSE ({setting})"
    ax.plot(x, y, "o", ms=13, mfc="none", mec="black", mew=1.5, label=label)


def _draw_clipped(
    ax: Axes,
    x: np.ndarray,
    y: np.ndarray,
    low: float,
    high: float,
    color: str,
    label: str,
) -> None:
    """A line of ``y`` within ``[low, high]``; values outside become triangles
    on the top or bottom edge."""
    y = np.asarray(y, dtype=np.float64)
    shown = np.clip(y, low, high)
    ax.plot(x, shown, color=color, lw=2, marker="o", ms=4, label=label)
    over, under = y > high, y < low
    if over.any():
        ax.plot(
            x[over],
            np.full(over.sum(), high),
            "^",
            color=color,
            ms=9,
            mec="black",
            clip_on=False,
            label=f"{label} off the scale (above)",
        )
    if under.any():
        ax.plot(
            x[under],
            np.full(under.sum(), low),
            "v",
            color=color,
            ms=9,
            mec="black",
            clip_on=False,
            label=f"{label} below the scale (~0)",
        )
