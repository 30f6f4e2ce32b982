"""MNIST and Fashion-MNIST: find the files, verify them, download them, load them.

Where the files are looked for, in this order (the first complete set wins):

1. ``data_dir`` (the CLI's ``--data-dir``), if given;
2. the folder in the environment variable ``STEEPEST_DATA``, if set;
3. the cache, ``~/.cache/steepest``.

In each of those folders ``DIR``, MNIST is found as

* ``DIR/mnist/`` holding the four IDX files, then ``DIR/mnist/mnist.npz``;
* ``DIR/`` itself holding the four IDX files, then ``DIR/mnist.npz``.

The four IDX files are ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte``, each optionally
gzip-compressed with a ``.gz`` suffix. ``mnist.npz`` is the Keras layout:
arrays ``x_train`` (60000, 28, 28) uint8, ``y_train``, ``x_test``, ``y_test``.

Fashion-MNIST uses the same four file names, so it must not sit beside the
MNIST files under the same names. It is found as

* ``DIR/fashion-mnist/`` holding the four IDX files, then
  ``DIR/fashion-mnist/fashion-mnist.npz``;
* ``DIR/`` holding the four files with the prefix ``fashion-`` (e.g.
  ``fashion-train-images-idx3-ubyte.gz``), then ``DIR/fashion-mnist.npz``.

When no complete set is found and downloading is allowed, the four ``.gz``
files are fetched from the usual mirrors into ``~/.cache/steepest/mnist`` (or
``.../fashion-mnist``), each checked before it is written, and each written
atomically (a temporary file, then a rename), so an interrupted download
leaves nothing half-written. Downloading is off when ``download=False`` or the
environment sets ``STEEPEST_OFFLINE=1``.

MNIST files are verified against the sha256 of their *decompressed* bytes,
so any gzip wrapper of the official data is accepted; arrays from
``mnist.npz`` are verified as the IDX bytes they stand for.
"""

from __future__ import annotations

import hashlib
import logging
import os
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from steepest.data.dataset import DatasetInfo, DataSplits, Split
from steepest.data.idx import (
    IMAGES_MAGIC,
    LABELS_MAGIC,
    IdxFormatError,
    decompress_idx,
    idx_header,
    parse_idx,
)
from steepest.files import atomic_write_bytes, cache_dir

__all__ = [
    "MNIST_FILES",
    "MNIST_SHA256",
    "ChecksumError",
    "DataNotFoundError",
    "MnistSource",
    "default_cache_dir",
    "locate_mnist",
    "load_mnist",
    "load_fashion_mnist",
]

logger = logging.getLogger(__name__)

#: The four IDX files, in the order train images, train labels, test images,
#: test labels (without the optional ``.gz`` suffix).
MNIST_FILES: tuple[str, str, str, str] = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)

#: sha256 of the decompressed bytes of the official MNIST files.
MNIST_SHA256: dict[str, str] = {
    "train-images-idx3-ubyte": (
        "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"
    ),
    "train-labels-idx1-ubyte": (
        "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"
    ),
    "t10k-images-idx3-ubyte": (
        "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"
    ),
    "t10k-labels-idx1-ubyte": (
        "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"
    ),
}

# Keys of the Keras-style npz, in the order of MNIST_FILES.
_NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")
_MAGICS = (IMAGES_MAGIC, LABELS_MAGIC, IMAGES_MAGIC, LABELS_MAGIC)

_OFFLINE_ENV = "STEEPEST_OFFLINE"
_DATA_ENV = "STEEPEST_DATA"

Fetch = Callable[[str], bytes]


class DataNotFoundError(FileNotFoundError):
    """The data files are in none of the places looked in."""


class ChecksumError(ValueError):
    """A data file's content differs from the official file."""


@dataclass(frozen=True)
class _Spec:
    """What differs between MNIST and Fashion-MNIST."""

    name: str
    title: str
    folder: str  # sub-folder of a data dir, and of the cache
    prefix: str  # file-name prefix accepted directly in a data dir
    npz: str
    mirrors: tuple[str, ...]
    sha256: dict[str, str] | None
    class_names: tuple[str, ...]


_SPECS = {
    "mnist": _Spec(
        name="mnist",
        title="MNIST",
        folder="mnist",
        prefix="",
        npz="mnist.npz",
        mirrors=(
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "https://storage.googleapis.com/cvdf-datasets/mnist/",
            "http://yann.lecun.com/exdb/mnist/",
        ),
        sha256=MNIST_SHA256,
        class_names=tuple(str(d) for d in range(10)),
    ),
    "fashion-mnist": _Spec(
        name="fashion-mnist",
        title="Fashion-MNIST",
        folder="fashion-mnist",
        prefix="fashion-",
        npz="fashion-mnist.npz",
        mirrors=(
            "https://storage.googleapis.com/tensorflow/tf-keras-datasets/fashion-mnist/",
            "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        ),
        # TODO: verify Fashion-MNIST against the sha256 of its decompressed
        # files once those are known for certain; until then only the
        # structure (magic numbers, sizes, shapes, label range) is checked.
        sha256=None,
        class_names=(
            "T-shirt/top",
            "Trouser",
            "Pullover",
            "Dress",
            "Coat",
            "Sandal",
            "Shirt",
            "Sneaker",
            "Bag",
            "Ankle boot",
        ),
    ),
}

# Files whose checksum already matched in this process, keyed by path, size,
# modification time and expected hash: hashing 47 MB again on every load
# would cost ~0.1 s for nothing.
_verified: set[tuple[str, int, int, str]] = set()


@dataclass(frozen=True)
class MnistSource:
    """Where a complete set of MNIST-style files was found.

    Args:
        name: ``"mnist"`` or ``"fashion-mnist"``.
        format: ``"idx"`` (four files) or ``"npz"`` (one Keras-style file).
        paths: The four IDX files in the order of `MNIST_FILES`, or the
            one ``.npz``.
    """

    name: str
    format: Literal["idx", "npz"]
    paths: tuple[Path, ...]


def default_cache_dir() -> Path:
    """Return the cache folder, ``~/.cache/steepest`` (follows ``$HOME``)."""
    return cache_dir()


def _spec(name: str) -> _Spec:
    key = name.lower().replace("_", "-")
    if key not in _SPECS:
        raise ValueError(
            f"unknown MNIST-style dataset {name!r}; expected one of "
            + ", ".join(repr(k) for k in _SPECS)
        )
    return _SPECS[key]


def _offline() -> bool:
    return os.environ.get(_OFFLINE_ENV, "").strip().lower() in {
        "1",
        "true",
        "yes",
        "on",
    }


def _roots(data_dir: str | os.PathLike[str] | None) -> list[tuple[Path, str]]:
    """The folders to search, each with where it came from, in order."""
    roots: list[tuple[Path, str]] = []
    if data_dir is not None:
        roots.append((Path(data_dir).expanduser(), "data_dir / --data-dir"))
    env = os.environ.get(_DATA_ENV, "").strip()
    if env:
        roots.append((Path(env).expanduser(), f"${_DATA_ENV}"))
    roots.append((default_cache_dir(), "cache"))
    return roots


def _find_idx(folder: Path, prefix: str) -> tuple[list[Path], list[str]]:
    """The files of the set present in ``folder``, and the names missing."""
    found, missing = [], []
    for name in MNIST_FILES:
        # Prefer the uncompressed file: it reads faster.
        for candidate in (folder / (prefix + name), folder / (prefix + name + ".gz")):
            if candidate.is_file():
                found.append(candidate)
                break
        else:
            missing.append(f"{prefix}{name}[.gz]")
    return found, missing


def _search(
    spec: _Spec, data_dir: str | os.PathLike[str] | None
) -> tuple[MnistSource | None, list[str]]:
    """Look for a complete set; return it, or None and what was seen where."""
    seen: list[str] = []
    done: set[tuple[Path, str]] = set()
    for root, origin in _roots(data_dir):
        for folder, prefix in ((root / spec.folder, ""), (root, spec.prefix)):
            if (folder, prefix) in done:
                continue
            done.add((folder, prefix))
            shown = f"{folder}{os.sep} ({origin})"
            if not folder.is_dir():
                seen.append(f"{shown}: does not exist")
                continue
            found, missing = _find_idx(folder, prefix)
            if not missing:
                return MnistSource(spec.name, "idx", tuple(found)), seen
            npz = folder / spec.npz
            if npz.is_file():
                return MnistSource(spec.name, "npz", (npz,)), seen
            if found:
                seen.append(
                    f"{shown}: has {len(found)} of 4 files, missing "
                    + ", ".join(missing)
                )
            else:
                seen.append(f"{shown}: no {spec.title} files")
    return None, seen


def _not_found_message(spec: _Spec, seen: list[str], reason: str) -> str:
    names = ", ".join(f"{n}[.gz]" for n in MNIST_FILES)
    cache = default_cache_dir() / spec.folder
    where = "\n".join(f"  {line}" for line in seen)
    env_note = (
        "" if os.environ.get(_DATA_ENV, "").strip() else f" (${_DATA_ENV} is not set)"
    )
    prefix_note = (
        f", or in DIR itself with the prefix {spec.prefix!r} on each name"
        if spec.prefix
        else ", or in DIR itself"
    )
    return (
        f"{spec.title} files not found{env_note}. Looked for {names} "
        f"(or {spec.npz}) in:\n{where}\n"
        f"{reason}\n"
        f"To provide the files: set {_DATA_ENV}=DIR or pass --data-dir DIR "
        f"(data_dir=DIR in Python), with the four files in DIR/{spec.folder}/"
        f"{prefix_note}; or copy the four files to {cache}{os.sep}"
    )


def _urllib_fetch(url: str) -> bytes:
    """Fetch ``url`` with the standard library (the default downloader)."""
    request = urllib.request.Request(url, headers={"User-Agent": "steepest"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return response.read()


def _check_file(
    spec: _Spec, index: int, raw: bytes, name: str, verify: bool
) -> np.ndarray:
    """Decompress, verify and parse one IDX file's bytes into an array."""
    data = decompress_idx(raw, name=name, gz_name=name.endswith(".gz"))
    if verify and spec.sha256 is not None:
        _check_sha256(data, spec.sha256[MNIST_FILES[index]], name, spec)
    array = parse_idx(data, name=name, expected_magic=_MAGICS[index])
    _check_shape(array, index, name)
    return array


def _check_sha256(data: bytes, expected: str, name: str, spec: _Spec) -> None:
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected:
        raise ChecksumError(
            f"{name}: sha256 of the decompressed data is {actual}, expected "
            f"{expected}; this is not the official {spec.title} file (damaged "
            "or different data): delete it and provide the original"
        )


def _check_shape(array: np.ndarray, index: int, name: str) -> None:
    if index % 2 == 0:
        if array.ndim != 3 or array.shape[1:] != (28, 28):
            raise IdxFormatError(
                f"{name}: images must have shape (n, 28, 28), got {array.shape}"
            )
    elif array.ndim != 1:
        raise IdxFormatError(f"{name}: labels must have shape (n,), got {array.shape}")


def _download(spec: _Spec, fetch: Fetch) -> MnistSource:
    """Fetch the four files into the cache; return where they are."""
    folder = default_cache_dir() / spec.folder
    paths = []
    for index, name in enumerate(MNIST_FILES):
        dest = folder / (name + ".gz")
        paths.append(dest)
        if dest.is_file():
            continue  # an earlier, interrupted download got this one
        errors = []
        for mirror in spec.mirrors:
            url = mirror + name + ".gz"
            logger.info("downloading %s", url)
            try:
                blob = fetch(url)
                # Check before writing, so the cache never holds a bad file.
                _check_file(spec, index, blob, url, verify=True)
            except (OSError, ValueError) as err:
                logger.warning("download of %s failed: %s", url, err)
                errors.append(f"  {url}: {err}")
                continue
            atomic_write_bytes(dest, blob)
            break
        else:
            raise DataNotFoundError(
                f"could not download {name}.gz for {spec.title} from any "
                "mirror:\n" + "\n".join(errors) + "\n"
                f"Provide the files by hand: set {_DATA_ENV}=DIR or pass "
                f"--data-dir DIR, or copy the four files to {folder}{os.sep}"
            )
    return MnistSource(spec.name, "idx", tuple(paths))


def locate_mnist(
    name: str = "mnist",
    data_dir: str | os.PathLike[str] | None = None,
    *,
    download: bool | None = None,
    fetch: Fetch | None = None,
) -> MnistSource:
    """Find the files of MNIST or Fashion-MNIST, downloading them if allowed.

    See the module docstring for the folders searched and their layout.

    Args:
        name: ``"mnist"`` or ``"fashion-mnist"``. Default ``"mnist"``.
        data_dir: A folder to search first. Default ``None``.
        download: Whether to download missing files into the cache.
            Default ``None``: yes, unless the environment sets
            ``STEEPEST_OFFLINE=1``.
        fetch: The downloader, a function from URL to the response bytes.
            Default ``None``: `urllib`. Tests pass a fake one.

    Returns:
        Where the files are (`MnistSource`).

    Raises:
        DataNotFoundError: No complete set was found and downloading was off
            or failed; the message lists every folder looked in and how to
            provide the files.
    """
    spec = _spec(name)
    source, seen = _search(spec, data_dir)
    if source is not None:
        logger.debug("%s found: %s", spec.title, ", ".join(map(str, source.paths)))
        return source
    allowed = (not _offline()) if download is None else download
    if not allowed:
        reason = (
            f"Downloading is off ({_OFFLINE_ENV}=1)."
            if download is None
            else "Downloading is off (download=False)."
        )
        raise DataNotFoundError(_not_found_message(spec, seen, reason))
    return _download(spec, fetch or _urllib_fetch)


def _read_source(spec: _Spec, source: MnistSource, verify: bool) -> list[np.ndarray]:
    """The four uint8 arrays: train images, train labels, test images, labels."""
    if source.format == "idx":
        arrays = []
        for index, path in enumerate(source.paths):
            stat = path.stat()
            key = (
                str(path.resolve()),
                stat.st_size,
                stat.st_mtime_ns,
                spec.sha256[MNIST_FILES[index]] if spec.sha256 else "",
            )
            # Skip the hash when this very file already passed it.
            check = verify and key not in _verified
            arrays.append(_check_file(spec, index, path.read_bytes(), str(path), check))
            if check and spec.sha256 is not None:
                _verified.add(key)
        return arrays
    return _read_npz(spec, source.paths[0], verify)


def _read_npz(spec: _Spec, path: Path, verify: bool) -> list[np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = [k for k in _NPZ_KEYS if k not in archive.files]
            if missing:
                raise IdxFormatError(
                    f"{path}: missing arrays {missing}; a Keras-style npz holds "
                    f"{list(_NPZ_KEYS)}, found {archive.files}"
                )
            arrays = [archive[k] for k in _NPZ_KEYS]
    except IdxFormatError:
        raise
    except (OSError, EOFError, ValueError) as err:
        # NumPy reads a file that is no zip archive as a pickle and refuses it
        # (ValueError); either way the file is not what it should be.
        raise IdxFormatError(
            f"{path}: not a readable .npz archive of arrays; replace it with the "
            "Keras-style file (x_train, y_train, x_test, y_test) or remove it"
        ) from err
    for index, (key, array) in enumerate(zip(_NPZ_KEYS, arrays, strict=True)):
        name = f"{path}[{key}]"
        if array.dtype != np.uint8:
            if index % 2 == 0 or not np.issubdtype(array.dtype, np.integer):
                raise IdxFormatError(
                    f"{name}: expected uint8 {'images' if index % 2 == 0 else 'labels'}"
                    f", got dtype {array.dtype}"
                )
            if array.size and (array.min() < 0 or array.max() > 255):
                raise IdxFormatError(f"{name}: labels outside 0..255")
            arrays[index] = array = array.astype(np.uint8)
        _check_shape(array, index, name)
        if verify and spec.sha256 is not None:
            # Hash the IDX file these arrays stand for: header, then payload.
            data = (
                idx_header(_MAGICS[index], array.shape)
                + np.ascontiguousarray(array).tobytes()
            )
            _check_sha256(data, spec.sha256[MNIST_FILES[index]], name, spec)
    return arrays


def _load(
    name: str,
    data_dir: str | os.PathLike[str] | None,
    dev_size: int | None,
    flatten: bool,
    download: bool | None,
    verify: bool,
    fetch: Fetch | None,
) -> DataSplits:
    spec = _spec(name)
    caller = f"load_{spec.name.replace('-', '_')}"
    # Check the argument before spending a second on reading the files.
    dev_size = 5000 if dev_size is None else dev_size
    if isinstance(dev_size, bool) or not isinstance(dev_size, int | np.integer):
        raise TypeError(
            f"{caller}: dev_size must be an int, got "
            f"{type(dev_size).__name__} {dev_size!r}"
        )
    if dev_size < 0:
        raise ValueError(f"{caller}: dev_size must be >= 0, got dev_size={dev_size}")

    source = locate_mnist(spec.name, data_dir, download=download, fetch=fetch)
    x_train, y_train, x_test, y_test = _read_source(spec, source, verify)
    where = ", ".join(str(p) for p in source.paths)
    for images, labels in ((x_train, y_train), (x_test, y_test)):
        if len(images) != len(labels):
            raise IdxFormatError(
                f"{where}: {len(images)} images but {len(labels)} labels"
            )
        if labels.size and labels.max() >= 10:
            raise IdxFormatError(f"{where}: label {int(labels.max())} outside 0..9")

    n = len(x_train)
    if not dev_size < n:
        raise ValueError(
            f"{caller}: dev_size must be in [0, {n}) to leave training "
            f"examples, got dev_size={dev_size}"
        )

    # Cast before any arithmetic: uint8 / 255 would go through float64.
    def images(array: np.ndarray) -> np.ndarray:
        x = array.astype(np.float32)
        x /= np.float32(255)
        return x.reshape(len(x), -1) if flatten else x[:, None, :, :]

    x_all, x_te = images(x_train), images(x_test)
    y_all, y_te = y_train.astype(np.int64), y_test.astype(np.int64)
    cut = n - dev_size
    meta = DatasetInfo(
        name=spec.name,
        task="classification",
        input_shape=tuple(x_all.shape[1:]),
        num_classes=10,
        class_names=spec.class_names,
        source=where,
        extras={"format": source.format, "verified": verify and bool(spec.sha256)},
    )
    return DataSplits(
        train=Split(x_all[:cut], y_all[:cut]),
        dev=Split(x_all[cut:], y_all[cut:]),
        test=Split(x_te, y_te),
        meta=meta,
    )


def load_mnist(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    dev_size: int | None = None,
    flatten: bool = True,
    download: bool | None = None,
    verify: bool = True,
    fetch: Fetch | None = None,
) -> DataSplits:
    """Load MNIST with the conventional split.

    train = the first ``60000 - dev_size`` training images in file order,
    dev = the last ``dev_size`` of them, test = the 10,000 t10k images.
    Pixels are float32 in [0, 1]; labels are int64 in 0..9.

    Args:
        data_dir: A folder to search before ``$STEEPEST_DATA`` and the cache
            (see the module docstring for the layout). Default ``None``.
        dev_size: Number of training images held out as dev. Default
            ``None``: 5,000.
        flatten: Inputs of shape ``(n, 784)`` if true, else
            ``(n, 1, 28, 28)``. Default ``True``.
        download: Download missing files into the cache. Default ``None``:
            yes unless ``STEEPEST_OFFLINE=1``.
        verify: Check the sha256 of the decompressed files. Default ``True``.
        fetch: The downloader (URL -> bytes). Default ``None``: `urllib`.

    Returns:
        The splits and their `DatasetInfo`.

    Raises:
        DataNotFoundError: The files are nowhere and cannot be downloaded.
        ChecksumError: A file differs from the official one.
        IdxFormatError: A file is not valid IDX / gzip / npz.
    """
    return _load("mnist", data_dir, dev_size, flatten, download, verify, fetch)


def load_fashion_mnist(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    dev_size: int | None = None,
    flatten: bool = True,
    download: bool | None = None,
    verify: bool = True,
    fetch: Fetch | None = None,
) -> DataSplits:
    """Load Fashion-MNIST with the conventional split (as `load_mnist`).

    The files are looked for in ``fashion-mnist/`` sub-folders or with the
    ``fashion-`` prefix (see the module docstring). Only their structure is
    checked: no checksums are recorded for Fashion-MNIST yet, so ``verify``
    has no effect.

    Args:
        data_dir: A folder to search first. Default ``None``.
        dev_size: Training images held out as dev. Default ``None``: 5,000.
        flatten: ``(n, 784)`` inputs if true, else ``(n, 1, 28, 28)``.
            Default ``True``.
        download: Download missing files. Default ``None``: yes unless
            ``STEEPEST_OFFLINE=1``.
        verify: Reserved for checksums. Default ``True``.
        fetch: The downloader (URL -> bytes). Default ``None``: `urllib`.

    Returns:
        The splits and their `DatasetInfo` (with the ten class names).
    """
    return _load("fashion-mnist", data_dir, dev_size, flatten, download, verify, fetch)
