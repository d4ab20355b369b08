"""The IDX file format of MNIST, read strictly and written for tests and tools.

An IDX file is a 4-byte magic number (two zero bytes, a type code, the number
of dimensions), one big-endian uint32 per dimension, then the values.
"""

import struct

import numpy as np

from mnist_dvc.core.errors import DataError

_UBYTE = 0x08


def encode_idx(array: np.ndarray) -> bytes:
    """Serialise a uint8 array as IDX."""
    array = np.ascontiguousarray(array)
    if array.dtype != np.uint8:
        raise ValueError(f"IDX writer supports uint8 arrays only, got {array.dtype}")
    header = struct.pack(f">BBBB{array.ndim}I", 0, 0, _UBYTE, array.ndim, *array.shape)
    return header + array.tobytes()


def decode_idx(payload: bytes, source: str, ndim: int) -> np.ndarray:
    """Parse an IDX payload of unsigned bytes with exactly ndim dimensions."""
    if len(payload) < 4:
        raise DataError(f"{source}: {len(payload)} bytes is too short for an IDX header")
    zero1, zero2, type_code, found_ndim = payload[:4]
    if zero1 or zero2 or type_code != _UBYTE or found_ndim != ndim:
        raise DataError(
            f"{source}: bad IDX magic number 0x{payload[:4].hex()}; "
            f"expected 0x000008{ndim:02x} (unsigned bytes, {ndim} dimension{'s' if ndim > 1 else ''})"
        )
    header_size = 4 + 4 * ndim
    if len(payload) < header_size:
        raise DataError(f"{source}: IDX header is cut short ({len(payload)} of {header_size} bytes)")
    shape = struct.unpack(f">{ndim}I", payload[4:header_size])
    expected = header_size + int(np.prod(shape, dtype=np.int64))
    if len(payload) != expected:
        raise DataError(
            f"{source}: IDX header promises shape {shape} ({expected} bytes) but the file has {len(payload)} bytes"
        )
    return np.frombuffer(payload, dtype=np.uint8, offset=header_size).reshape(shape)
