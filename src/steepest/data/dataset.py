"""Containers for a dataset's splits, and the seeded split itself.

A dataset is three `Split` s (train, dev, test) and a `DatasetInfo` saying
what the arrays mean. Everything is plain NumPy: inputs float32, class labels
int64 of shape ``(n,)``, regression targets float32 of shape ``(n, 1)``.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

__all__ = ["Split", "DatasetInfo", "DataSplits", "split_indices"]

Task = Literal["classification", "regression"]


@dataclass(frozen=True, eq=False)
class Split:
    """One part of a dataset: inputs ``x`` and targets ``y``, row-aligned.

    Args:
        x: Inputs, shape ``(n, ...)``.
        y: Targets, shape ``(n,)`` (class labels) or ``(n, k)`` (regression).
    """

    x: np.ndarray
    y: np.ndarray

    def __post_init__(self) -> None:
        if len(self.x) != len(self.y):
            raise ValueError(
                f"Split: x and y must have the same number of rows, got "
                f"x.shape={self.x.shape} and y.shape={self.y.shape}"
            )

    def __len__(self) -> int:
        return len(self.x)


@dataclass(frozen=True)
class DatasetInfo:
    """What a dataset's arrays mean.

    Args:
        name: The dataset's name, as `load_dataset` knows it.
        task: ``"classification"`` (``y`` int64 labels in
            ``[0, num_classes)``) or ``"regression"`` (``y`` float32 ``(n, k)``).
        input_shape: Shape of one input example, e.g. ``(784,)`` or
            ``(1, 28, 28)``.
        num_classes: Number of classes; ``None`` for regression.
        class_names: A name per class, or ``None``. Default ``None``.
        source: Where the data came from (a path, a URL, "scikit-learn",
            "synthetic"). Default ``""``.
        extras: Anything else worth keeping, e.g. the true coefficients of a
            synthetic set or the standardisation statistics. Default empty.
    """

    name: str
    task: Task
    input_shape: tuple[int, ...]
    num_classes: int | None
    class_names: tuple[str, ...] | None = None
    source: str = ""
    extras: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True, eq=False)
class DataSplits:
    """A dataset: train, dev and test splits plus their description.

    Args:
        train: The part to fit on; the only one a loader should shuffle.
        dev: The held-out part for choosing hyper-parameters and early
            stopping (may be empty).
        test: The part to report once, at the end.
        meta: What the arrays mean (`DatasetInfo`).
    """

    train: Split
    dev: Split
    test: Split
    meta: DatasetInfo


def _check_count(value: object, what: str, caller: str) -> int:
    if isinstance(value, bool):
        raise TypeError(f"{caller}: {what} must be an int, got bool {value!r}")
    try:
        count = operator.index(value)
    except TypeError:
        raise TypeError(
            f"{caller}: {what} must be an int number of examples, got "
            f"{type(value).__name__} {value!r}"
        ) from None
    if count < 0:
        raise ValueError(f"{caller}: {what} must be >= 0, got {what}={count}")
    return count


def split_indices(
    n: int,
    dev_size: int,
    test_size: int,
    *,
    seed: int = 0,
    labels: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split ``range(n)`` into train, dev and test index arrays, seeded.

    Without ``labels`` the split is a plain shuffle cut into three parts.
    With ``labels`` it is stratified: each class is shuffled on its own and
    its members are spread evenly over the cut, so every part holds each
    class in (nearly) its overall proportion, while the part sizes stay
    exactly as asked.

    Args:
        n: Number of examples.
        dev_size: Number of dev examples (>= 0).
        test_size: Number of test examples (>= 0).
        seed: Seed of the shuffle (non-negative int). Default 0.
        labels: Class label per example, shape ``(n,)``, or ``None`` for a
            plain shuffle. Default ``None``.

    Returns:
        ``(train, dev, test)``, each an int64 index array sorted ascending
        (so every part keeps the original order of the data).

    Raises:
        ValueError: The sizes leave no training example.
    """
    dev_size = _check_count(dev_size, "dev_size", "split_indices")
    test_size = _check_count(test_size, "test_size", "split_indices")
    if dev_size + test_size >= n:
        raise ValueError(
            f"split_indices: dev_size={dev_size} + test_size={test_size} must "
            f"be smaller than the number of examples n={n}, to leave some "
            "for training; choose a smaller dev_size"
        )
    rng = np.random.default_rng(seed)
    order = rng.permutation(n)
    if labels is not None:
        labels = np.asarray(labels)
        if labels.shape != (n,):
            raise ValueError(
                f"split_indices: labels must have shape ({n},), got {labels.shape}"
            )
        # Group the shuffled examples by class; the k-th of a class with c
        # members gets the key (k + 0.5) / c, so sorting by key interleaves the
        # classes evenly. A random tie-break keeps the cut from favouring
        # low class numbers.
        grouped = order[np.argsort(labels[order], kind="stable")]
        _, starts, counts = np.unique(
            labels[grouped], return_index=True, return_counts=True
        )
        rank = np.arange(n) - np.repeat(starts, counts)
        key = (rank + 0.5) / np.repeat(counts, counts)
        order = grouped[np.lexsort((rng.random(n), key))]
    test = np.sort(order[:test_size])
    dev = np.sort(order[test_size : test_size + dev_size])
    train = np.sort(order[test_size + dev_size :])
    return train.astype(np.int64), dev.astype(np.int64), test.astype(np.int64)
