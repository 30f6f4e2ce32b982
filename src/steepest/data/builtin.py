"""Data that needs no files: scikit-learn's bundled sets and synthetic ones.

Every function here returns `DataSplits` split 60 / 20 / 20 by default:
``test_size = n // 5`` and ``dev_size = n // 5`` examples, the rest for
training. The split is seeded (`split_indices`): stratified by class for
classification, a plain shuffle for regression. The same ``seed`` gives the
same arrays, bit for bit, on the same NumPy.

Synthetic sets draw their examples from ``default_rng([seed, 0])`` and split
them with ``seed``; so changing the seed changes both the sample and the
split.
"""

from __future__ import annotations

import numpy as np

from steepest.data.dataset import DatasetInfo, DataSplits, Split, split_indices

__all__ = [
    "load_digits",
    "load_diabetes",
    "make_polynomial",
    "make_moons",
    "make_spirals",
]


def _sizes(n: int, dev_size: int | None, test_size: int | None) -> tuple[int, int]:
    return (n // 5 if dev_size is None else dev_size), (
        n // 5 if test_size is None else test_size
    )


def _check_seed(seed: object, caller: str) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise TypeError(
            f"{caller}: seed must be an int, got {type(seed).__name__} {seed!r}"
        )
    if seed < 0:
        raise ValueError(f"{caller}: seed must be >= 0, got seed={seed}")
    return int(seed)


def _check_positive(value: object, what: str, caller: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(
            f"{caller}: {what} must be an int, got {type(value).__name__} {value!r}"
        )
    if value < minimum:
        raise ValueError(f"{caller}: {what} must be >= {minimum}, got {what}={value}")
    return int(value)


def _check_noise(noise: float, caller: str) -> float:
    noise = float(noise)
    if not noise >= 0:  # also rejects nan
        raise ValueError(f"{caller}: noise must be >= 0, got noise={noise}")
    return noise


def _assemble(
    x: np.ndarray,
    y: np.ndarray,
    meta: DatasetInfo,
    *,
    seed: int,
    dev_size: int | None,
    test_size: int | None,
) -> DataSplits:
    """Split ``(x, y)`` into `DataSplits`, stratified for classification."""
    n_dev, n_test = _sizes(len(x), dev_size, test_size)
    labels = y if meta.task == "classification" else None
    indices = split_indices(len(x), n_dev, n_test, seed=seed, labels=labels)
    return _take(x, y, indices, meta)


def _take(
    x: np.ndarray, y: np.ndarray, indices: tuple[np.ndarray, ...], meta: DatasetInfo
) -> DataSplits:
    """The train, dev and test rows of ``(x, y)`` given their indices."""
    train, dev, test = indices
    return DataSplits(
        train=Split(x[train], y[train]),
        dev=Split(x[dev], y[dev]),
        test=Split(x[test], y[test]),
        meta=meta,
    )


def load_digits(
    *,
    dev_size: int | None = None,
    test_size: int | None = None,
    seed: int = 0,
    flatten: bool = True,
) -> DataSplits:
    """scikit-learn's bundled 8x8 handwritten digits (1,797 images, 10 classes).

    Pixels (integers 0..16) are scaled to float32 in [0, 1]; labels are
    int64. The split is stratified by class: 1,079 / 359 / 359 by default.

    Args:
        dev_size: Dev examples. Default ``None``: ``n // 5`` = 359.
        test_size: Test examples. Default ``None``: ``n // 5`` = 359.
        seed: Seed of the split. Default 0.
        flatten: Inputs ``(n, 64)`` if true, else ``(n, 1, 8, 8)``.
            Default ``True``.

    Example:
        >>> d = load_digits()
        >>> len(d.train), len(d.dev), len(d.test), d.train.x.shape[1]
        (1079, 359, 359, 64)
    """
    seed = _check_seed(seed, "load_digits")
    from sklearn import datasets  # deferred: importing scikit-learn is slow

    bunch = datasets.load_digits()
    x = bunch.data.astype(np.float32)
    x /= np.float32(16)
    x = x if flatten else x.reshape(-1, 1, 8, 8)
    y = bunch.target.astype(np.int64)
    meta = DatasetInfo(
        name="digits",
        task="classification",
        input_shape=tuple(x.shape[1:]),
        num_classes=10,
        class_names=tuple(str(d) for d in range(10)),
        source="scikit-learn (sklearn.datasets.load_digits)",
    )
    return _assemble(x, y, meta, seed=seed, dev_size=dev_size, test_size=test_size)


def load_diabetes(
    *,
    dev_size: int | None = None,
    test_size: int | None = None,
    seed: int = 0,
) -> DataSplits:
    """scikit-learn's bundled diabetes regression set (442 patients).

    Ten baseline features (age, sex, body-mass index, blood pressure, six
    serum measurements) predict a disease-progression score one year later.
    The raw features are standardised with the mean and standard deviation
    of the *training* part only (no peeking at dev or test); the statistics
    are kept in ``meta.extras``. Targets stay in their own units (about 25 to
    346), as a float32 column ``(n, 1)``. Split 266 / 88 / 88 by default.

    Args:
        dev_size: Dev examples. Default ``None``: ``n // 5`` = 88.
        test_size: Test examples. Default ``None``: ``n // 5`` = 88.
        seed: Seed of the split. Default 0.
    """
    seed = _check_seed(seed, "load_diabetes")
    from sklearn import datasets  # deferred: importing scikit-learn is slow

    bunch = datasets.load_diabetes(scaled=False)
    x = np.asarray(bunch.data, dtype=np.float64)
    y = np.asarray(bunch.target, dtype=np.float32).reshape(-1, 1)
    n_dev, n_test = _sizes(len(x), dev_size, test_size)
    train, dev, test = split_indices(len(x), n_dev, n_test, seed=seed)

    mean = x[train].mean(axis=0)
    std = x[train].std(axis=0)
    std[std == 0] = 1.0  # a constant feature stays 0 rather than nan
    x = ((x - mean) / std).astype(np.float32)
    meta = DatasetInfo(
        name="diabetes",
        task="regression",
        input_shape=(x.shape[1],),
        num_classes=None,
        source="scikit-learn (sklearn.datasets.load_diabetes, scaled=False)",
        extras={
            "feature_names": tuple(bunch.feature_names),
            "feature_mean": mean,
            "feature_std": std,
        },
    )
    return _take(x, y, (train, dev, test), meta)


def make_polynomial(
    n_samples: int = 200,
    *,
    degree: int = 3,
    noise: float = 0.1,
    coefficients: np.ndarray | list[float] | None = None,
    dev_size: int | None = None,
    test_size: int | None = None,
    seed: int = 0,
) -> DataSplits:
    """Noisy polynomial regression in one variable.

    ``x ~ Uniform(-1, 1)`` and ``y = sum_k c_k x^k + noise * N(0, 1)``, both
    float32 columns ``(n, 1)``. The true coefficients ``c_0 .. c_degree`` go
    to ``meta.extras["coefficients"]``, so a plot can draw the true curve.

    Args:
        n_samples: Examples in all three parts together. Default 200.
        degree: Degree of the true polynomial (ignored when ``coefficients``
            is given). Default 3.
        noise: Standard deviation of the Gaussian noise on ``y``. Default 0.1.
        coefficients: ``c_0, c_1, ...`` (lowest power first). Default
            ``None``: drawn from N(0, 1) with the seed.
        dev_size: Dev examples. Default ``None``: ``n_samples // 5``.
        test_size: Test examples. Default ``None``: ``n_samples // 5``.
        seed: Seed of the sample and the split. Default 0.
    """
    caller = "make_polynomial"
    seed = _check_seed(seed, caller)
    n = _check_positive(n_samples, "n_samples", caller, minimum=3)
    noise = _check_noise(noise, caller)
    rng = np.random.default_rng([seed, 0])
    if coefficients is None:
        degree = _check_positive(degree, "degree", caller, minimum=0)
        coef = rng.standard_normal(degree + 1)
    else:
        coef = np.asarray(coefficients, dtype=np.float64).ravel()
        if coef.size == 0:
            raise ValueError(f"{caller}: coefficients must not be empty")

    x = rng.uniform(-1.0, 1.0, size=(n, 1))
    # np.polynomial.polynomial.polyval takes the lowest power first, as we do.
    y = np.polynomial.polynomial.polyval(x, coef) + noise * rng.standard_normal((n, 1))
    meta = DatasetInfo(
        name="polynomial",
        task="regression",
        input_shape=(1,),
        num_classes=None,
        source="synthetic",
        extras={"coefficients": coef, "noise": noise},
    )
    return _assemble(
        x.astype(np.float32),
        y.astype(np.float32),
        meta,
        seed=seed,
        dev_size=dev_size,
        test_size=test_size,
    )


def make_moons(
    n_samples: int = 1000,
    *,
    noise: float = 0.1,
    dev_size: int | None = None,
    test_size: int | None = None,
    seed: int = 0,
) -> DataSplits:
    """Two interleaving half-circles in the plane, a two-class problem.

    Class 0 lies on the upper half of the unit circle, class 1 on the lower
    half shifted to ``(1, 0.5)``; each point gets Gaussian noise of standard
    deviation ``noise`` on both coordinates. Inputs float32 ``(n, 2)``,
    labels int64, classes balanced (class 0 gets the odd one out).

    Args:
        n_samples: Examples in all three parts together. Default 1000.
        noise: Standard deviation of the noise. Default 0.1.
        dev_size: Dev examples. Default ``None``: ``n_samples // 5``.
        test_size: Test examples. Default ``None``: ``n_samples // 5``.
        seed: Seed of the sample and the split. Default 0.
    """
    caller = "make_moons"
    seed = _check_seed(seed, caller)
    n = _check_positive(n_samples, "n_samples", caller, minimum=3)
    noise = _check_noise(noise, caller)
    rng = np.random.default_rng([seed, 0])

    n1 = n // 2
    n0 = n - n1
    t0 = rng.uniform(0.0, np.pi, n0)
    t1 = rng.uniform(0.0, np.pi, n1)
    upper = np.stack([np.cos(t0), np.sin(t0)], axis=1)
    lower = np.stack([1.0 - np.cos(t1), 0.5 - np.sin(t1)], axis=1)
    x = np.concatenate([upper, lower]) + noise * rng.standard_normal((n, 2))
    y = np.concatenate([np.zeros(n0, np.int64), np.ones(n1, np.int64)])
    meta = DatasetInfo(
        name="moons",
        task="classification",
        input_shape=(2,),
        num_classes=2,
        source="synthetic",
        extras={"noise": noise},
    )
    return _assemble(
        x.astype(np.float32), y, meta, seed=seed, dev_size=dev_size, test_size=test_size
    )


def make_spirals(
    n_samples: int = 900,
    *,
    n_classes: int = 3,
    turns: float = 1.0,
    noise: float = 0.05,
    dev_size: int | None = None,
    test_size: int | None = None,
    seed: int = 0,
) -> DataSplits:
    """Interleaved spiral arms in the plane, one class per arm.

    Arm ``k`` of ``K`` is ``r (cos a, sin a)`` with ``r = t``,
    ``a = 2 pi (k / K + turns * t)``, ``t ~ Uniform(0, 1)``, plus Gaussian
    noise of standard deviation ``noise`` on both coordinates. Not linearly
    separable: a classic test that a network learns a non-linear boundary.
    Inputs float32 ``(n, 2)`` within about the unit disc, labels int64.

    Args:
        n_samples: Examples in all three parts together (spread as evenly
            as possible over the arms). Default 900.
        n_classes: Number of arms. Default 3.
        turns: How many full turns each arm makes. Default 1.0.
        noise: Standard deviation of the noise. Default 0.05.
        dev_size: Dev examples. Default ``None``: ``n_samples // 5``.
        test_size: Test examples. Default ``None``: ``n_samples // 5``.
        seed: Seed of the sample and the split. Default 0.
    """
    caller = "make_spirals"
    seed = _check_seed(seed, caller)
    k = _check_positive(n_classes, "n_classes", caller, minimum=2)
    n = _check_positive(n_samples, "n_samples", caller, minimum=3)
    noise = _check_noise(noise, caller)
    rng = np.random.default_rng([seed, 0])

    y = np.arange(n, dtype=np.int64) % k
    t = rng.uniform(0.0, 1.0, n)
    angle = 2.0 * np.pi * (y / k + float(turns) * t)
    x = t[:, None] * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    x += noise * rng.standard_normal((n, 2))
    meta = DatasetInfo(
        name="spirals",
        task="classification",
        input_shape=(2,),
        num_classes=k,
        source="synthetic",
        extras={"noise": noise, "turns": float(turns)},
    )
    return _assemble(
        x.astype(np.float32), y, meta, seed=seed, dev_size=dev_size, test_size=test_size
    )
