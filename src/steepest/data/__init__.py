"""Datasets, file formats, splits and batching; NumPy arrays only.

One entry point, `load_dataset`, returns a `DataSplits` (train, dev, test
and a `DatasetInfo`) for any of the names in `DATASETS`:

* ``"mnist"``, ``"fashion-mnist"``: from IDX or Keras npz files found in
  ``data_dir``, ``$STEEPEST_DATA`` or ``~/.cache/steepest`` (downloaded there
  when missing and allowed); see `steepest.data.mnist`.
* ``"digits"``, ``"diabetes"``: scikit-learn's bundled sets, no files needed.
* ``"polynomial"``, ``"moons"``, ``"spirals"``: synthetic, generated from
  the seed.

Inputs are float32 (images in [0, 1]), class labels int64 ``(n,)``,
regression targets float32 ``(n, 1)``. `DataLoader` batches them with a
shuffle that is a pure function of ``(seed, epoch)``. This package knows
nothing of Tensors.
"""

from __future__ import annotations

import os

from steepest.data.builtin import (
    load_diabetes,
    load_digits,
    make_moons,
    make_polynomial,
    make_spirals,
)
from steepest.data.dataset import DatasetInfo, DataSplits, Split, split_indices
from steepest.data.idx import (
    IMAGES_MAGIC,
    LABELS_MAGIC,
    IdxFormatError,
    parse_idx,
    read_idx,
)
from steepest.data.loader import DataLoader, RunningMean, weighted_mean
from steepest.data.mnist import (
    MNIST_FILES,
    MNIST_SHA256,
    ChecksumError,
    DataNotFoundError,
    MnistSource,
    default_cache_dir,
    load_fashion_mnist,
    load_mnist,
    locate_mnist,
)

__all__ = [
    "DATASETS",
    "load_dataset",
    # containers
    "Split",
    "DataSplits",
    "DatasetInfo",
    "split_indices",
    # files
    "IMAGES_MAGIC",
    "LABELS_MAGIC",
    "IdxFormatError",
    "read_idx",
    "parse_idx",
    "MNIST_FILES",
    "MNIST_SHA256",
    "ChecksumError",
    "DataNotFoundError",
    "MnistSource",
    "default_cache_dir",
    "locate_mnist",
    "load_mnist",
    "load_fashion_mnist",
    # built-in and synthetic
    "load_digits",
    "load_diabetes",
    "make_polynomial",
    "make_moons",
    "make_spirals",
    # batching
    "DataLoader",
    "RunningMean",
    "weighted_mean",
]

#: The names `load_dataset` knows.
DATASETS: tuple[str, ...] = (
    "digits",
    "diabetes",
    "mnist",
    "fashion-mnist",
    "polynomial",
    "moons",
    "spirals",
)


def load_dataset(
    name: str,
    *,
    data_dir: str | os.PathLike[str] | None = None,
    dev_size: int | None = None,
    seed: int = 0,
    flatten: bool = True,
    download: bool | None = None,
) -> DataSplits:
    """Load a dataset by name, split into train, dev and test.

    Args:
        name: One of `DATASETS` (case and ``_`` / ``-`` do not matter).
        data_dir: Folder to search first for file-based sets (MNIST,
            Fashion-MNIST); ignored by the others. Default ``None``.
        dev_size: Number of dev examples. Default ``None``: the dataset's
            own (5,000 for the MNISTs, ``n // 5`` for the rest).
        seed: Seed of the split and of synthetic samples; the MNISTs use
            their fixed conventional split and ignore it. Default 0.
        flatten: Images as ``(n, features)`` if true, else
            ``(n, 1, height, width)``; ignored by non-image sets.
            Default ``True``.
        download: For the MNISTs, whether missing files may be downloaded.
            Default ``None``: yes unless ``STEEPEST_OFFLINE=1``.

    Raises:
        ValueError: Unknown ``name``; the message lists the valid ones.

    Example:
        >>> d = load_dataset("moons", seed=1)
        >>> d.meta.task, d.meta.num_classes, d.train.x.shape
        ('classification', 2, (600, 2))
    """
    key = str(name).strip().lower().replace("_", "-")
    if key in ("fashion", "fashionmnist"):
        key = "fashion-mnist"
    if key == "mnist":
        return load_mnist(
            data_dir, dev_size=dev_size, flatten=flatten, download=download
        )
    if key == "fashion-mnist":
        return load_fashion_mnist(
            data_dir, dev_size=dev_size, flatten=flatten, download=download
        )
    if key == "digits":
        return load_digits(dev_size=dev_size, seed=seed, flatten=flatten)
    if key == "diabetes":
        return load_diabetes(dev_size=dev_size, seed=seed)
    if key == "polynomial":
        return make_polynomial(dev_size=dev_size, seed=seed)
    if key == "moons":
        return make_moons(dev_size=dev_size, seed=seed)
    if key == "spirals":
        return make_spirals(dev_size=dev_size, seed=seed)
    raise ValueError(
        f"load_dataset: unknown dataset {name!r}; valid names: " + ", ".join(DATASETS)
    )
