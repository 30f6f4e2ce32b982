"""The IDX file format, read strictly.

An IDX file (the format of the MNIST distribution) is a header followed by a
dense array in C order:

    bytes 0-1   zero
    byte  2     element type: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
                0x0D float32, 0x0E float64
    byte  3     number of dimensions, d
    4 * d       the size of each dimension, big-endian uint32
    rest        the elements, big-endian

Read as one big-endian int32, the first four bytes are the *magic number*:
2051 (0x00000803) for a stack of uint8 images, 2049 (0x00000801) for a vector
of uint8 labels.

The reader is strict: a wrong magic number, a header cut short, or a payload
shorter or longer than the header declares is an `IdxFormatError` naming the
file and what was wrong, never a silently reshaped array. Files may be
gzip-compressed; compression is detected from the content (the gzip magic
bytes), and a file named ``*.gz`` that does not hold gzip data is an error.
"""

from __future__ import annotations

import gzip
import os
import struct
import zlib
from pathlib import Path

import numpy as np

__all__ = [
    "IMAGES_MAGIC",
    "LABELS_MAGIC",
    "IdxFormatError",
    "read_idx",
    "read_idx_bytes",
    "decompress_idx",
    "parse_idx",
    "idx_header",
]

#: Magic number of an IDX file of uint8 images (3 dimensions).
IMAGES_MAGIC = 2051
#: Magic number of an IDX file of uint8 labels (1 dimension).
LABELS_MAGIC = 2049

# Element type code -> big-endian NumPy dtype.
_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

_GZIP_MAGIC = b"\x1f\x8b"


class IdxFormatError(ValueError):
    """A file that is not valid IDX (or not valid gzip around it)."""


def decompress_idx(
    raw: bytes, *, name: str = "<bytes>", gz_name: bool = False
) -> bytes:
    """Return ``raw`` un-gzipped if it is gzip data, else unchanged.

    Args:
        raw: The bytes of a file, compressed or not.
        name: What to call the data in error messages. Default ``"<bytes>"``.
        gz_name: Whether the file is named ``*.gz``, in which case it must be
            gzip data. Default ``False``.

    Raises:
        IdxFormatError: Named ``*.gz`` but not gzip data, or a gzip stream
            that is truncated or corrupt.
    """
    if raw[:2] == _GZIP_MAGIC:
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as err:
            # EOFError: the stream ends before its end marker (a cut download).
            raise IdxFormatError(
                f"{name}: gzip data is truncated or corrupt ({err}); "
                "delete the file and fetch it again"
            ) from err
    if gz_name:
        raise IdxFormatError(
            f"{name}: named .gz but gzip header not recognised (first bytes "
            f"{raw[:4].hex()!r}, expected '1f8b...'); the file is damaged or "
            "not compressed: fetch it again, or drop the .gz suffix if it is "
            "plain IDX"
        )
    return raw


def read_idx_bytes(path: str | os.PathLike[str]) -> bytes:
    """Return the decompressed bytes of an IDX file, gzip-compressed or not.

    Args:
        path: The file. Compression is detected from its first two bytes.

    Returns:
        The raw IDX bytes (header and payload), as the checksums are taken.

    Raises:
        IdxFormatError: The file is named ``*.gz`` but is not gzip data, or
            its gzip stream is truncated or corrupt.
        OSError: The file cannot be read.
    """
    path = Path(path)
    return decompress_idx(
        path.read_bytes(), name=str(path), gz_name=path.suffix == ".gz"
    )


def parse_idx(
    data: bytes, *, name: str = "<bytes>", expected_magic: int | None = None
) -> np.ndarray:
    """Parse the bytes of an uncompressed IDX file into an array.

    Args:
        data: The whole file: header then payload.
        name: What to call the data in error messages, usually its path.
            Default ``"<bytes>"``.
        expected_magic: If given, the magic number the file must carry, e.g.
            `IMAGES_MAGIC` (2051) or `LABELS_MAGIC` (2049). Default ``None``:
            accept any valid IDX header.

    Returns:
        The array, in native byte order, with the declared shape. Its memory
        is a fresh copy, writeable and independent of ``data``.

    Raises:
        IdxFormatError: Wrong magic number, unknown element type, header or
            payload cut short, or bytes beyond the declared size.
    """
    if len(data) < 4:
        raise IdxFormatError(
            f"{name}: truncated: {len(data)} bytes, too short for an IDX header"
        )
    (magic,) = struct.unpack(">i", data[:4])
    if expected_magic is not None and magic != expected_magic:
        raise IdxFormatError(
            f"{name}: wrong magic number {magic}, expected {expected_magic} "
            f"({_describe_magic(expected_magic)}); is this the right file?"
        )
    if data[0] != 0 or data[1] != 0:
        raise IdxFormatError(
            f"{name}: wrong magic number {magic}: the first two bytes must be "
            "zero in an IDX file"
        )
    code, ndim = data[2], data[3]
    if code not in _DTYPES:
        raise IdxFormatError(
            f"{name}: unknown IDX element type 0x{code:02X} in magic number "
            f"{magic}; known types: " + ", ".join(f"0x{c:02X}" for c in sorted(_DTYPES))
        )
    header_len = 4 + 4 * ndim
    if len(data) < header_len:
        raise IdxFormatError(
            f"{name}: truncated header: {ndim} dimensions need {header_len} "
            f"header bytes, the file has {len(data)}"
        )
    shape = struct.unpack(f">{ndim}I", data[4:header_len])
    dtype = _DTYPES[code]
    declared = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    payload = len(data) - header_len
    if payload < declared:
        raise IdxFormatError(
            f"{name}: truncated: header declares shape {shape} = {declared} "
            f"bytes of data, the file has {payload}"
        )
    if payload > declared:
        raise IdxFormatError(
            f"{name}: size mismatch: header declares shape {shape} = "
            f"{declared} bytes of data, the file has {payload} "
            f"({payload - declared} extra bytes)"
        )
    array = np.frombuffer(data, dtype=dtype, offset=header_len).reshape(shape)
    return array.astype(dtype.newbyteorder("="))


def read_idx(
    path: str | os.PathLike[str], *, expected_magic: int | None = None
) -> np.ndarray:
    """Read an IDX file, gzip-compressed or not, into an array.

    Args:
        path: The file.
        expected_magic: If given, the magic number the file must carry
            (`IMAGES_MAGIC` = 2051, `LABELS_MAGIC` = 2049). Default ``None``.

    Returns:
        The array with the shape and element type the header declares.

    Raises:
        IdxFormatError: The file is not valid IDX or not valid gzip; the
            message names the file and what was wrong.

    Example:
        >>> import gzip, struct, tempfile, pathlib
        >>> d = pathlib.Path(tempfile.mkdtemp())
        >>> _ = (d / "l.gz").write_bytes(
        ...     gzip.compress(struct.pack(">iI", 2049, 3) + bytes([7, 2, 1])))
        >>> read_idx(d / "l.gz", expected_magic=LABELS_MAGIC).tolist()
        [7, 2, 1]
    """
    path = Path(path)
    return parse_idx(
        read_idx_bytes(path), name=str(path), expected_magic=expected_magic
    )


def idx_header(magic: int, shape: tuple[int, ...]) -> bytes:
    """Return the IDX header for ``magic`` and ``shape``.

    Used to checksum arrays that came from elsewhere (a ``.npz``) as if they
    were the original IDX files.

    Args:
        magic: The magic number, e.g. 2051.
        shape: The array shape; its length must match the magic number's
            dimension count (its last byte).
    """
    if magic & 0xFF != len(shape):
        raise ValueError(
            f"idx_header: magic number {magic} declares {magic & 0xFF} "
            f"dimensions, shape {tuple(shape)} has {len(shape)}"
        )
    return struct.pack(f">i{len(shape)}I", magic, *shape)


def _describe_magic(magic: int) -> str:
    if magic == IMAGES_MAGIC:
        return "uint8 images"
    if magic == LABELS_MAGIC:
        return "uint8 labels"
    return f"type 0x{(magic >> 8) & 0xFF:02X}, {magic & 0xFF} dimensions"
