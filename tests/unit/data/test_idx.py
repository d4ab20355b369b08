import struct

import numpy as np
import pytest

from mnist_dvc.core.errors import DataError
from mnist_dvc.data.idx import decode_idx, encode_idx


def test_round_trip_keeps_shape_and_values():
    images = np.random.default_rng(0).integers(0, 256, size=(5, 28, 28), dtype=np.uint8)
    labels = np.arange(5, dtype=np.uint8)
    assert np.array_equal(decode_idx(encode_idx(images), "images", ndim=3), images)
    assert np.array_equal(decode_idx(encode_idx(labels), "labels", ndim=1), labels)


def test_header_is_the_canonical_one():
    payload = encode_idx(np.zeros((2, 28, 28), dtype=np.uint8))
    assert payload[:16] == struct.pack(">4I", 0x00000803, 2, 28, 28)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"", "too short for an IDX header"),
        (struct.pack(">I", 0x00000801) + struct.pack(">I", 3) + b"abc", "bad IDX magic number 0x00000801"),
        (struct.pack(">I", 0x00000D03) + struct.pack(">3I", 1, 1, 1) + b"a", "bad IDX magic number 0x00000d03"),
        (struct.pack(">I", 0x00000803) + b"\0\0", "IDX header is cut short"),
        (struct.pack(">4I", 0x00000803, 2, 28, 28) + bytes(28 * 28), "promises shape (2, 28, 28)"),
        (struct.pack(">4I", 0x00000803, 1, 28, 28) + bytes(28 * 28 + 1), "but the file has"),
    ],
)
def test_malformed_payloads_are_rejected_with_the_reason(payload, message):
    with pytest.raises(DataError, match="images: .*" + message.replace("(", r"\(").replace(")", r"\)")):
        decode_idx(payload, "images", ndim=3)


def test_labels_file_where_images_were_expected_names_the_expected_magic():
    with pytest.raises(DataError, match="expected 0x00000803"):
        decode_idx(encode_idx(np.zeros(3, dtype=np.uint8)), "images", ndim=3)


def test_writer_refuses_other_types():
    with pytest.raises(ValueError, match="uint8"):
        encode_idx(np.zeros(3, dtype=np.int32))
