"""The image reader under generated bad input: any bytes, a drawn digit's file in each format cut short, with bytes
changed, or declaring huge dimensions, give either a normalised 28x28 image or one ImageError of one line that names
the input, never another exception, nor a warning (which would print lines of its own)."""

import io
import struct
import warnings
import zlib

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st

from mnist_dvc.apps.images import MAX_PIXELS, ImageError, read_image, to_mnist
from tests.helpers.drawn import draw

FUZZ = settings(max_examples=50, deadline=None)
NAME = "the fuzzed image"
# A 7 drawn in a small frame, in each format and a few colour modes: small files, quick to decode.
FORMATS = {
    "PNG": {},
    "JPEG": {},
    "GIF": {},
    "BMP": {},
    "TIFF": {},
    "WEBP": {},
    "PNG-RGBA": {"mode": "RGBA"},
    "PNG-1": {"mode": "1"},
    "PNG-I16": {"mode": "I;16"},
    "JPEG-CMYK": {"mode": "CMYK"},
    "TIFF-F": {"mode": "F"},
    "GIF-ANIMATED": {"save_all": True},
}


def saved(kind: str) -> bytes:
    image = draw("7", size=(48, 40), width=4)
    options = FORMATS[kind]
    if options.get("mode"):
        image = image.convert(options["mode"])
    buffer = io.BytesIO()
    if options.get("save_all"):
        image.save(buffer, "GIF", save_all=True, append_images=[draw("1", size=(48, 40), width=4)])
    else:
        image.save(buffer, kind.split("-")[0])
    return buffer.getvalue()


FILES = {kind: saved(kind) for kind in FORMATS}
# Dimensions a header may declare: small ones, and ones whose area is over the limit (decoding stops before
# allocating them), each way round.
SIZES = st.sampled_from([0, 1, 2, 28, 255, 4096, 65535, MAX_PIXELS + 1, 2**31 - 1, 2**32 - 1])


def assert_normalised_or_one_line(data: bytes) -> None:
    with warnings.catch_warnings(record=True) as warned:
        warnings.simplefilter("always")
        try:
            result = to_mnist(read_image(io.BytesIO(data), NAME), NAME)
        except ImageError as error:
            message = str(error)
            assert message.startswith(f"{NAME}: ") and "\n" not in message, message
        else:
            assert result.shape == (28, 28) and result.dtype == np.uint8 and result.max() == 255
    assert not warned, [str(warning.message) for warning in warned]


@FUZZ
@given(data=st.binary(max_size=400))
def test_any_bytes(data):
    assert_normalised_or_one_line(data)


@FUZZ
@given(kind=st.sampled_from(sorted(FILES)), cut=st.integers(0, 2**16))
@example(kind="TIFF", cut=8)  # Pillow warns of its corrupt EXIF data
def test_a_file_cut_short(kind, cut):
    data = FILES[kind]
    assert_normalised_or_one_line(data[: cut % len(data)])


@FUZZ
@given(
    kind=st.sampled_from(sorted(FILES)),
    changes=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), min_size=1, max_size=8),
)
def test_a_file_with_bytes_changed(kind, changes):
    data = bytearray(FILES[kind])
    for where, value in changes:
        data[int(where * len(data))] = value
    assert_normalised_or_one_line(bytes(data))


def png_declaring(width: int, height: int, good_crc: bool) -> bytes:
    """The drawn PNG with its header declaring other dimensions, with a checksum that matches or not."""
    data = bytearray(FILES["PNG"])
    header = data[12:17] + struct.pack(">II", width, height) + data[25:29]
    crc = zlib.crc32(header) if good_crc else 0
    return bytes(data[:12] + header + struct.pack(">I", crc) + data[33:])


def gif_declaring(width: int, height: int) -> bytes:
    """The drawn GIF with its screen and its first frame declaring other dimensions (16 bits each)."""
    data = bytearray(FILES["GIF"])
    data[6:10] = struct.pack("<HH", width % 2**16, height % 2**16)
    frame = 13 + (3 << (data[10] & 7) + 1 if data[10] & 0x80 else 0)  # after the global colour table
    while data[frame] == 0x21:  # an extension block: its label, then sub-blocks each led by its size, up to a 0
        frame += 2
        while data[frame]:
            frame += data[frame] + 1
        frame += 1
    assert data[frame] == 0x2C  # the first image descriptor
    data[frame + 5 : frame + 9] = struct.pack("<HH", width % 2**16, height % 2**16)
    return bytes(data)


def jpeg_declaring(width: int, height: int) -> bytes:
    """The drawn JPEG with its frame header (SOF0) declaring other dimensions (16 bits each)."""
    data = bytearray(FILES["JPEG"])
    frame = data.index(b"\xff\xc0")
    data[frame + 5 : frame + 9] = struct.pack(">HH", height % 2**16, width % 2**16)
    return bytes(data)


@FUZZ
@given(width=SIZES, height=SIZES, good_crc=st.booleans(), kind=st.sampled_from(["PNG", "GIF", "JPEG"]))
def test_huge_declared_dimensions(width, height, good_crc, kind):
    if kind == "PNG":
        data = png_declaring(width, height, good_crc)
    else:
        data = (gif_declaring if kind == "GIF" else jpeg_declaring)(width, height)
    assert_normalised_or_one_line(data)
