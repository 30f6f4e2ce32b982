"""Mini-batches, and the weighted means that turn batch losses into epoch means.

The order of an epoch is a pure function of ``(seed, epoch)``:
``default_rng([seed, epoch]).permutation(n)``. A run resumed at epoch ``e``
therefore sees exactly the batches it would have seen, with no generator
state to save. Only training data should be shuffled; dev and test are read
in order.

An epoch mean must weight each batch by its size: with a last, partial
batch, the plain mean of batch means over-counts that batch's examples.
Batches of 2 and 1 examples with mean losses 10 and 9 have the epoch mean
(2 * 10 + 1 * 9) / 3 = 9.6667, not 9.5.
"""

from __future__ import annotations

import logging
import math
import operator
from collections.abc import Iterable, Iterator
from typing import Literal

import numpy as np

__all__ = ["DataLoader", "RunningMean", "weighted_mean"]

logger = logging.getLogger(__name__)


def _check_batch_size(batch_size: object, n: int) -> int:
    """Turn ``batch_size`` (positive int, ``None`` or ``"full"``) into an int."""
    if batch_size is None or (isinstance(batch_size, str) and batch_size == "full"):
        return max(n, 1)
    if isinstance(batch_size, str):
        raise ValueError(
            f"DataLoader: batch_size must be a positive int, None or 'full', "
            f"got batch_size={batch_size!r}"
        )
    if isinstance(batch_size, bool):
        raise TypeError(
            f"DataLoader: batch_size must be a positive int, got bool {batch_size!r}"
        )
    try:
        size = operator.index(batch_size)
    except TypeError:
        raise TypeError(
            "DataLoader: batch_size must be a positive int, None or 'full', got "
            f"{type(batch_size).__name__} {batch_size!r}"
        ) from None
    if size < 1:
        raise ValueError(
            f"DataLoader: batch_size must be a positive int, got batch_size={size}; "
            "use None or 'full' for the whole set in one batch"
        )
    return size


def _check_nonnegative_int(value: object, what: str) -> int:
    if isinstance(value, bool):
        raise TypeError(f"DataLoader: {what} must be an int, got bool {value!r}")
    try:
        number = operator.index(value)
    except TypeError:
        raise TypeError(
            f"DataLoader: {what} must be an int, got {type(value).__name__} {value!r}"
        ) from None
    if number < 0:
        raise ValueError(f"DataLoader: {what} must be >= 0, got {what}={number}")
    return number


class DataLoader:
    """Mini-batches of ``(x, y)``, shuffled reproducibly per epoch.

    Args:
        x: Inputs, shape ``(n, ...)``.
        y: Targets, shape ``(n, ...)``.
        batch_size: Examples per batch, a positive int; ``None`` or
            ``"full"`` for the whole set in one batch.
        shuffle: Shuffle each epoch (for training data). Default ``True``.
        seed: Seed of the shuffles, a non-negative int. Default 0.
        drop_last: Drop the last batch when it is smaller than
            ``batch_size``. Default ``False``: keep it.

    Batches are copies when shuffling (fancy indexing) and views of ``x``
    and ``y`` when not.

    Example:
        >>> x = np.arange(5.0).reshape(5, 1); y = np.arange(5)
        >>> loader = DataLoader(x, y, batch_size=2, shuffle=False)
        >>> [yb.tolist() for _, yb in loader.epoch(0)]
        [[0, 1], [2, 3], [4]]
        >>> len(loader)
        3
    """

    def __init__(
        self,
        x: np.ndarray,
        y: np.ndarray,
        batch_size: int | Literal["full"] | None,
        *,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
    ) -> None:
        x, y = np.asarray(x), np.asarray(y)
        if x.ndim == 0 or y.ndim == 0 or len(x) != len(y):
            raise ValueError(
                f"DataLoader: x and y must have the same number of rows, got "
                f"x.shape={x.shape} and y.shape={y.shape}"
            )
        self.x = x
        self.y = y
        self.batch_size = _check_batch_size(batch_size, len(x))
        self.shuffle = bool(shuffle)
        self.seed = _check_nonnegative_int(seed, "seed")
        self.drop_last = bool(drop_last)
        self._epoch = 0
        if self.drop_last and 0 < len(x) < self.batch_size:
            logger.warning(
                "DataLoader: drop_last with batch_size=%d > %d examples yields "
                "no batch at all",
                self.batch_size,
                len(x),
            )

    @property
    def num_examples(self) -> int:
        """Number of examples, ``n``."""
        return len(self.x)

    def __len__(self) -> int:
        """Number of batches per epoch."""
        n, b = len(self.x), self.batch_size
        return n // b if self.drop_last else -(-n // b)

    def permutation(self, epoch: int) -> np.ndarray:
        """The order of the examples in ``epoch``: a function of (seed, epoch).

        Args:
            epoch: The epoch number, a non-negative int.

        Returns:
            An int64 index array of length ``n``; ``arange(n)`` when not
            shuffling.
        """
        epoch = _check_nonnegative_int(epoch, "epoch")
        n = len(self.x)
        if not self.shuffle:
            return np.arange(n, dtype=np.int64)
        return np.random.default_rng([self.seed, epoch]).permutation(n)

    def epoch(self, epoch: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield the batches ``(xb, yb)`` of ``epoch``, in its order.

        Args:
            epoch: The epoch number, a non-negative int.
        """
        order = self.permutation(epoch)
        n, b = len(order), self.batch_size
        stop = (n // b) * b if self.drop_last else n
        for start in range(0, stop, b):
            if self.shuffle:
                index = order[start : start + b]
                yield self.x[index], self.y[index]
            else:
                yield self.x[start : start + b], self.y[start : start + b]

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch that plain iteration (``for xb, yb in loader``) runs."""
        self._epoch = _check_nonnegative_int(epoch, "epoch")

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        return self.epoch(self._epoch)

    def __repr__(self) -> str:
        return (
            f"DataLoader(n={len(self.x)}, batch_size={self.batch_size}, "
            f"shuffle={self.shuffle}, seed={self.seed}, drop_last={self.drop_last})"
        )


def weighted_mean(values: Iterable[float], weights: Iterable[float]) -> float:
    """Return ``sum(w * v) / sum(w)``, e.g. an epoch mean from batch means.

    Args:
        values: The means, one per batch.
        weights: The weights, e.g. the batch sizes; non-negative.

    Raises:
        ValueError: Lengths differ, a weight is negative, or the weights sum
            to zero.

    Example:
        >>> round(weighted_mean([10.0, 9.0], [2, 1]), 4)
        9.6667
    """
    values, weights = [float(v) for v in values], [float(w) for w in weights]
    if len(values) != len(weights):
        raise ValueError(
            f"weighted_mean: {len(values)} values but {len(weights)} weights"
        )
    if any(w < 0 for w in weights):
        raise ValueError(f"weighted_mean: weights must be >= 0, got {weights}")
    total = math.fsum(weights)
    if total == 0:
        raise ValueError(
            "weighted_mean: the weights sum to zero (no values?), the mean is undefined"
        )
    return math.fsum(w * v for w, v in zip(weights, values, strict=True)) / total


class RunningMean:
    """Accumulates a weighted mean, one batch at a time.

    Example:
        >>> m = RunningMean()
        >>> m.update(10.0, weight=2); m.update(9.0, weight=1)
        >>> round(m.mean, 4), m.count
        (9.6667, 3.0)
    """

    def __init__(self) -> None:
        self._sum = 0.0
        self._weight = 0.0

    def update(self, value: float, weight: float = 1.0) -> None:
        """Add ``value`` (a batch mean) with ``weight`` (its batch size).

        Args:
            value: The value, a number or a 0-d array.
            weight: Its weight, >= 0. Default 1.
        """
        weight = float(weight)
        if not weight >= 0:
            raise ValueError(f"RunningMean.update: weight must be >= 0, got {weight}")
        self._sum += weight * float(value)
        self._weight += weight

    @property
    def count(self) -> float:
        """The total weight so far (the number of examples, for batch sizes)."""
        return self._weight

    @property
    def mean(self) -> float:
        """The weighted mean so far.

        Raises:
            ValueError: Nothing has been added yet (total weight zero).
        """
        if self._weight == 0:
            raise ValueError("RunningMean.mean: no values added yet (total weight 0)")
        return self._sum / self._weight

    def reset(self) -> None:
        """Forget everything added."""
        self._sum = 0.0
        self._weight = 0.0

    def __repr__(self) -> str:
        mean = self._sum / self._weight if self._weight else math.nan
        return f"RunningMean(mean={mean:.6g}, count={self._weight:g})"
