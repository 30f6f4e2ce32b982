"""Tests of steepest.data: IDX parsing, MNIST files, built-in sets, batching.

No test touches the network or the real home cache: an autouse fixture points
``HOME`` at a temporary folder, clears ``STEEPEST_DATA`` and sets
``STEEPEST_OFFLINE=1``; downloads are tested with a fake fetcher.

The real MNIST files are used when ``STEEPEST_DATA`` names a folder holding
them (as CI does), or from a ``shared/data/mnist`` folder beside the checkout.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import struct
from pathlib import Path

import numpy as np
import pytest

from steepest.data import (
    DATASETS,
    IMAGES_MAGIC,
    LABELS_MAGIC,
    MNIST_FILES,
    MNIST_SHA256,
    ChecksumError,
    DataLoader,
    DataNotFoundError,
    IdxFormatError,
    RunningMean,
    Split,
    load_dataset,
    load_diabetes,
    load_digits,
    load_fashion_mnist,
    load_mnist,
    locate_mnist,
    make_moons,
    make_polynomial,
    make_spirals,
    parse_idx,
    read_idx,
    split_indices,
    weighted_mean,
)

# Read before any fixture edits the environment.
_ENV_MNIST = os.environ.get("STEEPEST_DATA")


def _real_mnist_dir() -> Path | None:
    candidates = []
    if _ENV_MNIST:
        candidates += [Path(_ENV_MNIST), Path(_ENV_MNIST) / "mnist"]
    candidates.append(Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist")
    for folder in candidates:
        if all(
            (folder / n).is_file() or (folder / f"{n}.gz").is_file()
            for n in MNIST_FILES
        ):
            return folder
    return None


REAL_MNIST = _real_mnist_dir()


@pytest.fixture(autouse=True)
def _isolated(tmp_path_factory, monkeypatch):
    """A fresh HOME (so the cache is private), no STEEPEST_DATA, offline."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("STEEPEST_DATA", raising=False)
    monkeypatch.setenv("STEEPEST_OFFLINE", "1")
    return home


# --- writing IDX by hand, independent of the reader ---------------------------


def idx_bytes(array: np.ndarray, magic: int | None = None) -> bytes:
    """IDX bytes of a uint8 array: big-endian magic and sizes, then the data."""
    array = np.asarray(array, dtype=np.uint8)
    magic = 0x0800 + array.ndim if magic is None else magic
    header = struct.pack(">i", magic)
    for size in array.shape:
        header += struct.pack(">I", size)
    return header + array.tobytes()


def fake_mnist_arrays(n_train: int = 30, n_test: int = 10, seed: int = 0):
    rng = np.random.default_rng(seed)
    return [
        rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        rng.integers(0, 10, n_train, dtype=np.uint8),
        rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        rng.integers(0, 10, n_test, dtype=np.uint8),
    ]


def write_idx_set(
    folder: Path, arrays, *, prefix: str = "", compress: bool = True
) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, array in zip(MNIST_FILES, arrays, strict=True):
        data = idx_bytes(array)
        path = folder / (prefix + name + (".gz" if compress else ""))
        path.write_bytes(gzip.compress(data) if compress else data)
        paths.append(path)
    return paths


# --- IDX parsing --------------------------------------------------------------


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gzip"])
def test_read_idx_images_and_labels(tmp_path, compress):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    labels = np.array([7, 2], dtype=np.uint8)
    suffix = ".gz" if compress else ""
    wrap = gzip.compress if compress else bytes
    (tmp_path / f"i{suffix}").write_bytes(wrap(idx_bytes(images)))
    (tmp_path / f"l{suffix}").write_bytes(wrap(idx_bytes(labels)))

    got = read_idx(tmp_path / f"i{suffix}", expected_magic=IMAGES_MAGIC)
    assert got.dtype == np.uint8 and got.shape == (2, 3, 4)
    np.testing.assert_array_equal(got, images)
    got = read_idx(tmp_path / f"l{suffix}", expected_magic=LABELS_MAGIC)
    np.testing.assert_array_equal(got, labels)


def test_read_idx_gzip_without_suffix_is_detected(tmp_path):
    labels = np.array([1, 2, 3], dtype=np.uint8)
    (tmp_path / "labels").write_bytes(gzip.compress(idx_bytes(labels)))
    np.testing.assert_array_equal(read_idx(tmp_path / "labels"), labels)


def test_parse_idx_big_endian_wider_types():
    values = np.array([[1, -2], [300, 40000]], dtype=">i4")
    data = struct.pack(">iII", 0x0C02, 2, 2) + values.tobytes()
    got = parse_idx(data)
    assert got.dtype == np.int32 and got.dtype.isnative
    np.testing.assert_array_equal(got, values)


# (bytes of the file, expected message fragment)
_BAD_IDX = {
    "truncated payload": (idx_bytes(np.zeros((3, 2, 2)))[:-1], "truncated"),
    "truncated header": (struct.pack(">iI", IMAGES_MAGIC, 3), "truncated header"),
    "too short": (b"\x00\x00", "truncated"),
    "extra bytes": (idx_bytes(np.zeros((3, 2, 2))) + b"\x00", "size mismatch"),
    "declared size too large": (
        struct.pack(">i3I", IMAGES_MAGIC, 4, 2, 2) + bytes(12),
        "declares shape (4, 2, 2)",
    ),
    "wrong magic": (idx_bytes(np.zeros(3)), "wrong magic number 2049, expected 2051"),
    "unknown type": (struct.pack(">iI", 0x0A01, 1) + b"\x00", "element type"),
}


@pytest.mark.parametrize("case", sorted(_BAD_IDX))
def test_read_idx_rejects_bad_files(tmp_path, case):
    data, fragment = _BAD_IDX[case]
    path = tmp_path / "bad-idx3-ubyte"
    path.write_bytes(data)
    expected = IMAGES_MAGIC if case in ("wrong magic", "too short") else None
    with pytest.raises(IdxFormatError, match="truncated|magic|mismatch|type") as err:
        read_idx(path, expected_magic=expected)
    assert str(path) in str(err.value)
    assert fragment in str(err.value)


def test_read_idx_rejects_gz_that_is_not_gzip(tmp_path):
    path = tmp_path / "train-labels-idx1-ubyte.gz"
    path.write_bytes(idx_bytes(np.zeros(3)))  # plain IDX under a .gz name
    with pytest.raises(IdxFormatError, match="gzip header not recognised") as err:
        read_idx(path)
    assert str(path) in str(err.value)


def test_read_idx_rejects_truncated_gzip(tmp_path):
    path = tmp_path / "train-labels-idx1-ubyte.gz"
    blob = gzip.compress(idx_bytes(np.arange(200) % 10))
    path.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(IdxFormatError, match="gzip data is truncated or corrupt"):
        read_idx(path)


def test_read_idx_rejects_truncated_inside_gzip(tmp_path):
    path = tmp_path / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.arange(10) % 10)[:-3]))
    with pytest.raises(IdxFormatError, match="truncated") as err:
        read_idx(path, expected_magic=LABELS_MAGIC)
    assert "t10k-labels-idx1-ubyte.gz" in str(err.value)


# --- MNIST files: layout, npz, checksums, the offline error -------------------


def test_load_fake_mnist_idx_split_and_scaling(tmp_path):
    arrays = fake_mnist_arrays(n_train=30, n_test=10)
    write_idx_set(tmp_path / "mnist", arrays)
    data = load_mnist(tmp_path, dev_size=6, verify=False)
    assert (len(data.train), len(data.dev), len(data.test)) == (24, 6, 10)
    assert data.train.x.shape == (24, 784) and data.train.x.dtype == np.float32
    assert data.train.y.dtype == np.int64
    # Exactly pixel / 255 in float32, train first and dev last in file order.
    expected = arrays[0].reshape(30, 784).astype(np.float32) / np.float32(255)
    np.testing.assert_array_equal(data.train.x, expected[:24])
    np.testing.assert_array_equal(data.dev.x, expected[24:])
    np.testing.assert_array_equal(data.dev.y, arrays[1][24:])
    np.testing.assert_array_equal(data.test.y, arrays[3])
    assert data.meta.input_shape == (784,) and data.meta.num_classes == 10


def test_load_fake_mnist_unflattened_and_uncompressed(tmp_path):
    write_idx_set(tmp_path, fake_mnist_arrays(), compress=False)
    data = load_mnist(tmp_path, dev_size=0, flatten=False, verify=False)
    assert data.train.x.shape == (30, 1, 28, 28) and len(data.dev) == 0
    assert data.meta.input_shape == (1, 28, 28)


def test_checksum_mismatch_names_file_and_hashes(tmp_path):
    arrays = fake_mnist_arrays()
    write_idx_set(tmp_path, arrays)
    with pytest.raises(ChecksumError) as err:
        load_mnist(tmp_path, dev_size=5)
    message = str(err.value)
    actual = hashlib.sha256(idx_bytes(arrays[0])).hexdigest()
    assert "train-images-idx3-ubyte.gz" in message
    assert MNIST_SHA256["train-images-idx3-ubyte"] in message
    assert actual in message


def test_keras_npz(tmp_path):
    arrays = fake_mnist_arrays(n_train=20, n_test=8)
    keys = ("x_train", "y_train", "x_test", "y_test")
    np.savez(tmp_path / "mnist.npz", **dict(zip(keys, arrays, strict=True)))
    data = load_mnist(tmp_path, dev_size=4, verify=False)
    assert data.meta.extras["format"] == "npz"
    assert (len(data.train), len(data.dev), len(data.test)) == (16, 4, 8)
    np.testing.assert_array_equal(data.test.y, arrays[3])
    assert data.train.x.max() <= 1.0 and data.train.x.dtype == np.float32

    # Verified as the IDX bytes the arrays stand for: fake data fails.
    with pytest.raises(ChecksumError, match=r"mnist\.npz\[x_train\]"):
        load_mnist(tmp_path, dev_size=4)


def test_garbage_npz_is_named_without_an_unsafe_hint(tmp_path):
    (tmp_path / "mnist.npz").write_bytes(b"not a zip archive at all" * 10)
    with pytest.raises(IdxFormatError) as err:
        load_mnist(tmp_path, download=False)
    message = str(err.value)
    assert "mnist.npz" in message and "not a readable .npz" in message
    assert "allow_pickle" not in message


def test_keras_npz_missing_arrays(tmp_path):
    np.savez(tmp_path / "mnist.npz", x_train=np.zeros((2, 28, 28), np.uint8))
    with pytest.raises(IdxFormatError, match="missing arrays"):
        load_mnist(tmp_path, verify=False)


def test_offline_and_missing_lists_folders_and_fix(tmp_path, monkeypatch, _isolated):
    given, env = tmp_path / "given", tmp_path / "env"
    env.mkdir()
    monkeypatch.setenv("STEEPEST_DATA", str(env))
    # A partial set is reported as such.
    write_idx_set(env / "mnist", fake_mnist_arrays())
    (env / "mnist" / "t10k-labels-idx1-ubyte.gz").unlink()

    with pytest.raises(DataNotFoundError) as err:
        load_mnist(given)
    message = str(err.value)
    cache = _isolated / ".cache" / "steepest"
    for folder in (given / "mnist", given, env / "mnist", env, cache / "mnist", cache):
        assert f"{folder}{os.sep} (" in message
    assert "has 3 of 4 files, missing t10k-labels-idx1-ubyte[.gz]" in message
    assert "STEEPEST_OFFLINE=1" in message
    assert "STEEPEST_DATA=DIR" in message and "--data-dir" in message
    assert f"copy the four files to {cache / 'mnist'}" in message
    assert isinstance(err.value, FileNotFoundError)
    assert not cache.exists()


def test_download_false_overrides_online(tmp_path, monkeypatch):
    monkeypatch.delenv("STEEPEST_OFFLINE")

    def no_network(url):  # pragma: no cover - must not be called
        raise AssertionError(f"tried to fetch {url}")

    with pytest.raises(DataNotFoundError, match=r"download=False"):
        locate_mnist("mnist", tmp_path, download=False, fetch=no_network)


def test_search_order_data_dir_then_env_then_cache(tmp_path, monkeypatch, _isolated):
    cache = _isolated / ".cache" / "steepest"
    env = tmp_path / "env"
    given = tmp_path / "given"
    write_idx_set(cache / "fashion-mnist", fake_mnist_arrays(seed=1))
    assert locate_mnist("fashion-mnist").paths[0].parent == cache / "fashion-mnist"

    # Prefixed files directly in $STEEPEST_DATA beat the cache.
    write_idx_set(env, fake_mnist_arrays(seed=2), prefix="fashion-")
    monkeypatch.setenv("STEEPEST_DATA", str(env))
    source = locate_mnist("fashion-mnist")
    assert source.paths[0] == env / "fashion-train-images-idx3-ubyte.gz"

    # data_dir beats both; unprefixed MNIST names there are not Fashion-MNIST.
    write_idx_set(given, fake_mnist_arrays(seed=3))
    assert locate_mnist("fashion-mnist", given).paths[0].parent == env
    write_idx_set(given / "fashion-mnist", fake_mnist_arrays(seed=3))
    data = load_fashion_mnist(given, dev_size=5)
    np.testing.assert_array_equal(data.test.y, fake_mnist_arrays(seed=3)[3])
    assert data.meta.class_names[9] == "Ankle boot"


def test_download_with_fake_fetcher_writes_cache_atomically(monkeypatch, _isolated):
    arrays = fake_mnist_arrays()
    served = {
        name + ".gz": gzip.compress(idx_bytes(a))
        for name, a in zip(MNIST_FILES, arrays, strict=True)
    }
    calls = []

    def fetch(url):
        calls.append(url)
        if len(calls) == 1:
            raise OSError("mirror down")  # the next mirror is tried
        return served[url.rsplit("/", 1)[1]]

    data = load_fashion_mnist(dev_size=5, download=True, fetch=fetch)
    folder = _isolated / ".cache" / "steepest" / "fashion-mnist"
    assert sorted(p.name for p in folder.iterdir()) == sorted(served)  # no temp
    np.testing.assert_array_equal(data.train.y, arrays[1][:25])
    assert len(calls) == 5


def test_download_rejects_bad_checksum_and_writes_nothing(monkeypatch, _isolated):
    arrays = fake_mnist_arrays()

    def fetch(url):
        name = url.rsplit("/", 1)[1].removesuffix(".gz")
        return gzip.compress(idx_bytes(arrays[MNIST_FILES.index(name)]))

    with pytest.raises(DataNotFoundError, match="sha256") as err:
        load_mnist(download=True, fetch=fetch)
    assert "could not download train-images-idx3-ubyte.gz" in str(err.value)
    folder = _isolated / ".cache" / "steepest" / "mnist"
    assert not folder.exists() or not any(folder.iterdir())


# --- the real MNIST -------------------------------------------------------------

needs_mnist = pytest.mark.skipif(
    REAL_MNIST is None,
    reason="real MNIST files not found: set STEEPEST_DATA to a folder holding "
    "the four IDX files (CI does) or put them in ../shared/data/mnist",
)


@pytest.fixture(scope="module")
def mnist():
    return load_mnist(REAL_MNIST, download=False)


@needs_mnist
def test_real_mnist(mnist):
    assert (len(mnist.train), len(mnist.dev), len(mnist.test)) == (55000, 5000, 10000)
    for split in (mnist.train, mnist.dev, mnist.test):
        assert split.x.dtype == np.float32 and split.y.dtype == np.int64
        assert split.x.shape[1:] == (784,)
        assert split.x.min() == 0.0 and split.x.max() == 1.0
        assert set(np.unique(split.y)) == set(range(10))
    assert mnist.train.y[0] == 5 and mnist.test.y[0] == 7
    assert mnist.meta.extras["verified"] is True


@needs_mnist
def test_real_mnist_dev_size(mnist):
    other = load_mnist(REAL_MNIST, dev_size=10000, flatten=False, download=False)
    assert (len(other.train), len(other.dev), len(other.test)) == (50000, 10000, 10000)
    assert other.train.x.shape == (50000, 1, 28, 28)
    np.testing.assert_array_equal(other.train.y, mnist.train.y[:50000])
    np.testing.assert_array_equal(other.dev.y[-5000:], mnist.dev.y)


@pytest.mark.parametrize(
    ("dev_size", "error", "fragment"),
    [(-1, ValueError, "dev_size=-1"), (2.5, TypeError, "float 2.5")],
)
def test_mnist_bad_dev_size_fails_before_reading(tmp_path, dev_size, error, fragment):
    with pytest.raises(error, match=fragment):
        load_mnist(tmp_path, dev_size=dev_size)  # no files needed to refuse


@needs_mnist
def test_real_mnist_bad_dev_size():
    with pytest.raises(ValueError, match="dev_size=60000"):
        load_mnist(REAL_MNIST, dev_size=60000, download=False)


# --- built-in and synthetic sets ----------------------------------------------


def test_digits_split_and_seeding():
    a, b, c = load_digits(seed=0), load_digits(seed=0), load_digits(seed=1)
    assert (len(a.train), len(a.dev), len(a.test)) == (1079, 359, 359)
    assert a.train.x.dtype == np.float32 and a.train.y.dtype == np.int64
    assert a.train.x.min() == 0.0 and a.train.x.max() == 1.0
    np.testing.assert_array_equal(a.train.x, b.train.x)
    assert not np.array_equal(a.test.y, c.test.y)
    # Stratified: every class holds 20% of the test set, give or take one.
    counts = np.bincount(np.concatenate([a.train.y, a.dev.y, a.test.y]))
    test_counts = np.bincount(a.test.y, minlength=10)
    assert np.all(np.abs(test_counts - counts * 359 / 1797) <= 1)
    assert load_digits(flatten=False).train.x.shape == (1079, 1, 8, 8)


def test_split_indices_partition_the_examples():
    labels = np.repeat(np.arange(3), [50, 30, 20])
    for lab in (None, labels):
        train, dev, test = split_indices(100, 10, 20, seed=3, labels=lab)
        assert (len(train), len(dev), len(test)) == (70, 10, 20)
        everything = np.sort(np.concatenate([train, dev, test]))
        np.testing.assert_array_equal(everything, np.arange(100))
    with pytest.raises(ValueError, match="dev_size=50 \\+ test_size=50"):
        split_indices(100, 50, 50)


def test_diabetes_standardised_on_train():
    d = load_diabetes(seed=0)
    assert (len(d.train), len(d.dev), len(d.test)) == (266, 88, 88)
    assert d.meta.task == "regression" and d.meta.num_classes is None
    assert d.train.x.dtype == np.float32 and d.train.y.shape == (266, 1)
    assert d.train.y.dtype == np.float32
    np.testing.assert_allclose(d.train.x.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(d.train.x.std(axis=0), 1.0, atol=1e-5)
    assert not np.allclose(d.test.x.mean(axis=0), 0.0, atol=1e-3)


@pytest.mark.parametrize(
    ("make", "x_dim", "task"),
    [
        (make_polynomial, 1, "regression"),
        (make_moons, 2, "classification"),
        (make_spirals, 2, "classification"),
    ],
)
def test_synthetic_shapes_and_seeding(make, x_dim, task):
    a, b, c = make(100, seed=4), make(100, seed=4), make(100, seed=5)
    assert (len(a.train), len(a.dev), len(a.test)) == (60, 20, 20)
    assert a.train.x.shape == (60, x_dim) and a.train.x.dtype == np.float32
    assert a.meta.task == task
    if task == "regression":
        assert a.train.y.shape == (60, 1) and a.train.y.dtype == np.float32
    else:
        assert a.train.y.dtype == np.int64
        assert set(np.unique(a.train.y)) == set(range(a.meta.num_classes))
    np.testing.assert_array_equal(a.train.x, b.train.x)
    np.testing.assert_array_equal(a.test.y, b.test.y)
    assert not np.array_equal(a.train.x, c.train.x)


def test_polynomial_follows_its_coefficients():
    d = make_polynomial(50, coefficients=[1.0, -2.0, 0.5], noise=0.0)
    x = d.train.x[:, 0].astype(np.float64)
    np.testing.assert_allclose(d.train.y[:, 0], 1 - 2 * x + 0.5 * x**2, rtol=1e-6)


def test_load_dataset_names():
    d = load_dataset("Spirals", dev_size=30, seed=2)
    assert len(d.dev) == 30 and d.meta.name == "spirals"
    with pytest.raises(ValueError) as err:
        load_dataset("cifar10")
    for name in DATASETS:
        assert name in str(err.value)


# --- batching -----------------------------------------------------------------


def _loader(n=10, **kwargs):
    x = np.arange(n, dtype=np.float32).reshape(n, 1)
    return DataLoader(x, np.arange(n), **kwargs)


def _order(loader, epoch):
    return np.concatenate([yb for _, yb in loader.epoch(epoch)]).tolist()


def test_loader_order_is_a_function_of_seed_and_epoch():
    a, b = _loader(batch_size=3, seed=7), _loader(batch_size=3, seed=7)
    assert _order(a, 2) == _order(b, 2)  # a fresh loader resumes exactly
    assert _order(a, 0) != _order(a, 1)
    assert _order(a, 0) != _order(_loader(batch_size=3, seed=8), 0)
    expected = np.random.default_rng([7, 2]).permutation(10).tolist()
    assert _order(a, 2) == expected
    a.set_epoch(2)
    assert np.concatenate([yb for _, yb in a]).tolist() == expected


def test_loader_sees_every_example_once_and_keeps_last_batch():
    loader = _loader(n=10, batch_size=4, seed=1)
    batches = list(loader.epoch(5))
    assert [len(yb) for _, yb in batches] == [4, 4, 2] and len(loader) == 3
    assert sorted(_order(loader, 5)) == list(range(10))
    for xb, yb in batches:  # x and y stay aligned
        np.testing.assert_array_equal(xb[:, 0], yb)


def test_loader_drop_last_and_no_shuffle():
    loader = _loader(n=10, batch_size=4, drop_last=True)
    assert [len(yb) for _, yb in loader.epoch(0)] == [4, 4] and len(loader) == 2
    plain = _loader(n=5, batch_size=2, shuffle=False)
    assert [yb.tolist() for _, yb in plain.epoch(3)] == [[0, 1], [2, 3], [4]]


@pytest.mark.parametrize("full", [None, "full"])
def test_loader_full_batch(full):
    assert [len(yb) for _, yb in _loader(n=7, batch_size=full).epoch(0)] == [7]


@pytest.mark.parametrize(
    ("batch_size", "error", "fragment"),
    [
        (0, ValueError, "batch_size=0"),
        (-3, ValueError, "batch_size=-3"),
        ("half", ValueError, "batch_size='half'"),
        (2.5, TypeError, "float 2.5"),
        (True, TypeError, "bool True"),
    ],
)
def test_loader_rejects_bad_batch_size(batch_size, error, fragment):
    with pytest.raises(error) as err:
        _loader(batch_size=batch_size)
    assert fragment in str(err.value)


def test_loader_rejects_misaligned_arrays():
    with pytest.raises(ValueError, match=r"x.shape=\(3, 1\) and y.shape=\(4,\)"):
        DataLoader(np.zeros((3, 1)), np.zeros(4), batch_size=2)
    with pytest.raises(ValueError, match="same number of rows"):
        Split(np.zeros((3, 1)), np.zeros(4))


def test_epoch_mean_is_weighted_by_batch_size():
    assert weighted_mean([10.0, 9.0], [2, 1]) == pytest.approx(29 / 3)
    assert round(weighted_mean([10.0, 9.0], [2, 1]), 4) == 9.6667
    running = RunningMean()
    for value, weight in ((10.0, 2), (np.float32(9.0), 1)):
        running.update(value, weight)
    assert running.mean == pytest.approx(9.6667, abs=1e-4) and running.count == 3
    running.reset()
    with pytest.raises(ValueError, match="no values"):
        _ = running.mean
    with pytest.raises(ValueError, match="sum to zero"):
        weighted_mean([], [])


def test_data_package_imports_no_tensor():
    """The data layer returns arrays; it must not depend on the engine."""
    import ast

    import steepest.data

    forbidden = ("steepest.tensor", "steepest.ops", "steepest.nn", "steepest.train")
    for path in Path(steepest.data.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                assert not name.startswith(forbidden), f"{path.name} imports {name}"
