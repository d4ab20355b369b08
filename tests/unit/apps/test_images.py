"""mnist_dvc/apps/images.py: people's image files, read in any common format and made to look like MNIST's."""

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFilter

from mnist_dvc.apps.images import MAX_PIXELS, SUFFIXES, ImageError, read_image, to_mnist
from mnist_dvc.core.errors import DataError
from tests.helpers.drawn import SHAPES, draw, drawn_dataset, pencil_on_paper

LOSSY = {".jpg", ".jpeg", ".webp"}
# A 7 drawn black on white, the plainest input there is: what every other way of drawing it should match.
SEVEN = to_mnist(draw("7"))


def assert_mnist_form(result: np.ndarray) -> None:
    """What MNIST's own images are: placed as below, and with the strongest ink at 255."""
    assert_placed(result)
    assert result.max() == 255


def assert_placed(result: np.ndarray) -> None:
    """28x28 uint8, the ink filling a 20x20 box on its longer side, the centre of mass at the centre, or as near
    as the frame allows: a digit whose ink lies mostly at one end is moved only until it meets the frame's edge."""
    assert result.shape == (28, 28)
    assert result.dtype == np.uint8
    assert max(ink_box(result)) == 20
    weights = result.astype(np.float64)
    centre_row = weights.sum(axis=1) @ np.arange(28) / weights.sum()
    centre_col = weights.sum(axis=0) @ np.arange(28) / weights.sum()
    rows, cols = np.flatnonzero(result.any(axis=1)), np.flatnonzero(result.any(axis=0))
    for centre, inked in ((centre_row, rows), (centre_col, cols)):
        at_edge = (centre < 14 and inked[-1] == 27) or (centre > 14 and inked[0] == 0)
        assert abs(centre - 14) <= 0.5 or at_edge


def ink_box(result: np.ndarray) -> tuple[int, int]:
    """Height and width of the smallest box holding every inked pixel."""
    rows, cols = np.flatnonzero(result.any(axis=1)), np.flatnonzero(result.any(axis=0))
    return int(rows[-1] - rows[0] + 1), int(cols[-1] - cols[0] + 1)


def best_correlation(result: np.ndarray, expected: np.ndarray) -> float:
    """How alike two digits are, allowing the one-pixel shift that a lossy file's faint halo may cause."""
    return max(
        np.corrcoef(np.roll(result, (down, right), axis=(0, 1)).ravel(), expected.ravel())[0, 1]
        for down in (-1, 0, 1)
        for right in (-1, 0, 1)
    )


def normalised(path: Path) -> np.ndarray:
    """The file read and normalised, as the project does it."""
    return to_mnist(read_image(path), str(path))


def saved(image: Image.Image, path: Path, **options) -> Path:
    image.save(path, **options)
    return path


def jpeg_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG")
    return buffer.getvalue()


def blank_png(width: int, height: int) -> bytes:
    """A valid, all-black 1-bit PNG: a few kilobytes on disk however many pixels its header claims."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = bytes(1 + (width + 7) // 8)  # filter byte, then 8 pixels a byte
    packer = zlib.compressobj(9)
    pixels = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


# Formats


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_every_accepted_format_gives_the_drawn_digit(tmp_path, suffix):
    """Lossless formats give exactly the in-memory result; lossy ones a close likeness."""
    result = normalised(saved(draw("7"), tmp_path / f"seven{suffix}"))
    assert_mnist_form(result)
    if suffix in LOSSY:
        assert best_correlation(result, SEVEN) > 0.9
    else:
        assert np.array_equal(result, SEVEN)


@pytest.mark.parametrize("name", ["SEVEN.PNG", "Seven.Jpeg", "SEVEN.TIFF"])
def test_upper_case_suffixes_are_read(tmp_path, name):
    assert best_correlation(normalised(saved(draw("7"), tmp_path / name)), SEVEN) > 0.9


def test_the_content_not_the_suffix_decides_the_format(tmp_path):
    """A JPEG that someone renamed .png is still read."""
    path = tmp_path / "renamed.png"
    path.write_bytes(jpeg_bytes(draw("7")))
    assert best_correlation(normalised(path), SEVEN) > 0.9


def test_animated_gif_gives_its_first_frame(tmp_path):
    first, *others = (draw(digit) for digit in ("7", "0", "1"))
    path = saved(first, tmp_path / "animated.gif", save_all=True, append_images=others, duration=100, loop=0)
    with Image.open(path) as animation:
        assert animation.n_frames == 3
    assert np.array_equal(normalised(path), SEVEN)


@pytest.mark.parametrize(
    ("orientation", "as_stored"),
    [
        (3, Image.Transpose.ROTATE_180),
        (6, Image.Transpose.ROTATE_90),
        (8, Image.Transpose.ROTATE_270),
    ],
)
def test_exif_orientation_turns_a_photo_upright(tmp_path, orientation, as_stored):
    """A camera stores the sensor's pixels and says in EXIF how to turn them; the digit must come out upright."""
    upright = draw("7", size=(200, 300), mode="RGB", ink=(0, 0, 0), paper=(255, 255, 255), width=24)
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = saved(upright.transpose(as_stored), tmp_path / "photo.jpg", exif=exif.tobytes(), quality=95)
    image = read_image(path)
    assert image.size == upright.size
    result = to_mnist(image)
    expected = to_mnist(upright)
    (height, width), (expected_height, expected_width) = ink_box(result), ink_box(expected)
    assert height == expected_height
    assert abs(width - expected_width) <= 1  # a faint JPEG halo may add a column
    assert best_correlation(result, expected) > 0.9


# Modes: every way of storing the same black-on-white 7 gives the same result.


def rgba_on_random_colours() -> Image.Image:
    """A 7 whose ink is opaque black and whose background is transparent over random colours."""
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, size=(200, 200, 4), dtype=np.uint8)
    stroke = np.asarray(draw("7")) < 128
    pixels[..., 3] = np.where(stroke, 255, 0)
    pixels[stroke, :3] = 0
    return Image.fromarray(pixels, "RGBA")


def paletted(palette: list[int], transparent_paper: bool = False) -> Image.Image:
    """A 7 in palette entry 0 on paper in entry 1, which may be the transparent one."""
    image = draw("7", mode="P", ink=0, paper=1)
    image.putpalette(palette)
    if transparent_paper:
        image.info["transparency"] = 1
    return image


def sixteen_bit(ink: int, paper: int) -> Image.Image:
    return Image.fromarray(np.where(np.asarray(draw("7")) < 128, ink, paper).astype(np.uint16))


MODES = {
    "L": lambda: draw("7"),
    "1": lambda: draw("7", mode="1", ink=0, paper=1),
    "RGB": lambda: draw("7", mode="RGB", ink=(0, 0, 0), paper=(255, 255, 255)),
    "RGBA opaque": lambda: draw("7", mode="RGBA", ink=(0, 0, 0, 255), paper=(255, 255, 255, 255)),
    "RGBA transparent paper": lambda: draw("7", mode="RGBA", ink=(0, 0, 0, 255), paper=(0, 0, 0, 0)),
    "RGBA transparent paper, light ink": lambda: draw("7", mode="RGBA", ink=(250, 250, 250, 255), paper=(9, 9, 9, 0)),
    "RGBA transparent over random colours": rgba_on_random_colours,
    "LA transparent paper": lambda: draw("7", mode="LA", ink=(0, 255), paper=(255, 0)),
    "P": lambda: paletted([30, 60, 200, 250, 240, 180]),
    "P quantized from RGB": lambda: draw("7", mode="RGB", ink=(20, 40, 200), paper=(250, 240, 180)).quantize(4),
    # Ink and paper the same black: only the transparent index tells them apart.
    "P with transparent paper": lambda: paletted([0, 0, 0, 0, 0, 0], transparent_paper=True),
    "I;16 full range": lambda: sixteen_bit(ink=0, paper=65535),
}


@pytest.mark.parametrize("make", MODES.values(), ids=MODES.keys())
def test_every_image_mode_gives_the_same_digit(make):
    assert np.array_equal(to_mnist(make()), SEVEN)


@pytest.mark.parametrize("make", MODES.values(), ids=MODES.keys())
def test_every_image_mode_survives_a_png_file(tmp_path, make):
    image = make()
    assert np.array_equal(normalised(saved(image, tmp_path / "seven.png")), to_mnist(image))


def test_sixteen_bit_png_is_read_as_sixteen_bit(tmp_path):
    """Checks that the 16-bit cases above really test 16 bits, not a conversion on the way to disk."""
    assert read_image(saved(sixteen_bit(ink=0, paper=65535), tmp_path / "deep.png")).mode == "I;16"


def test_cmyk_gives_the_same_digit(tmp_path):
    """Print shops' JPEGs and TIFFs are CMYK."""
    cmyk = draw("7", mode="CMYK", ink=(0, 0, 0, 255), paper=(0, 0, 0, 0))
    assert np.array_equal(normalised(saved(cmyk, tmp_path / "print.tif")), SEVEN)


def test_sixteen_bit_scan_with_grey_ink_gives_the_digit(tmp_path):
    scan = saved(sixteen_bit(ink=8000, paper=60000), tmp_path / "scan.png")
    assert np.array_equal(normalised(scan), SEVEN)


def test_opaque_page_on_a_transparent_canvas_gives_the_digit_on_it():
    """Screenshots and stickers often have transparent margins around an opaque page."""
    canvas = Image.new("RGBA", (240, 240), (0, 0, 0, 0))
    canvas.paste(draw("7", mode="RGBA", ink=(0, 0, 0, 255), paper=(255, 255, 255, 255)), (20, 20))
    assert best_correlation(to_mnist(canvas), SEVEN) > 0.9


# Colours, polarity and photos


@pytest.mark.parametrize("digit", SHAPES)
def test_light_ink_on_dark_gives_what_dark_ink_on_light_gives(digit):
    dark_on_light = to_mnist(draw(digit, ink=0, paper=255))
    assert_mnist_form(dark_on_light)
    assert np.array_equal(to_mnist(draw(digit, ink=255, paper=0)), dark_on_light)


@pytest.mark.parametrize(
    ("ink", "paper"),
    [
        pytest.param((30, 60, 200), (250, 240, 180), id="blue pen on yellowish paper"),
        pytest.param((200, 30, 30), (255, 255, 255), id="red pen on white"),
        pytest.param((235, 230, 200), (40, 80, 60), id="chalk on a green board"),
        pytest.param(90, 160, id="grey pencil on grey paper"),
    ],
)
def test_coloured_and_low_contrast_ink_gives_the_digit(ink, paper):
    mode = "L" if isinstance(ink, int) else "RGB"
    assert np.array_equal(to_mnist(draw("7", ink=ink, paper=paper, mode=mode)), SEVEN)


def photo_of_a_seven(lighting: tuple[int, int], noise: float) -> Image.Image:
    """A dark 7 on paper lit from left to right as lighting says, with the camera's Gaussian noise."""
    stroke = np.asarray(draw("7", size=(300, 300))) < 128
    paper = np.broadcast_to(np.linspace(*lighting, 300), (300, 300))
    pixels = np.where(stroke, 40, paper) + np.random.default_rng(0).normal(0, noise, (300, 300))
    return Image.fromarray(np.clip(pixels + 0.5, 0, 255).astype(np.uint8))


def assert_ink_on_the_digit(result: np.ndarray) -> None:
    """No stray ink far from the digit: nearly all of it lies on or next to the digit's strong strokes."""
    rows, cols = np.nonzero(result >= result.max() // 2)
    around_digit = result[rows.min() - 1 : rows.max() + 2, cols.min() - 1 : cols.max() + 2]
    assert around_digit.sum(dtype=np.int64) > 0.95 * result.sum(dtype=np.int64)


@pytest.mark.parametrize(
    ("lighting", "noise"),
    [((200, 200), 3), ((200, 200), 8), ((160, 220), 0), ((160, 220), 8)],
    ids=["noisy", "very noisy", "unevenly lit", "unevenly lit and noisy"],
)
def test_photo_gives_the_digit_and_no_specks(lighting, noise):
    result = to_mnist(photo_of_a_seven(lighting=lighting, noise=noise))
    assert_placed(result)
    assert_ink_on_the_digit(result)
    assert best_correlation(result, SEVEN) > 0.9


def test_ruled_lines_of_the_paper_are_not_the_digit():
    """Faint lines across the whole page would make the page the digit's box, and the digit a speck."""
    photo = np.asarray(photo_of_a_seven(lighting=(180, 215), noise=3)).copy()
    photo[::30] = (photo[::30] * 0.88).astype(np.uint8)
    result = to_mnist(Image.fromarray(photo))
    assert_placed(result)
    assert best_correlation(result, SEVEN) > 0.9


@pytest.mark.parametrize("digit", SHAPES)
@pytest.mark.parametrize("darker", [40, 50, 60])
def test_light_pencil_on_textured_grey_paper_is_found(digit, darker):
    """A pencil digit a few tens of grey levels darker than grainy, blotchy grey paper: the digit, and no paper."""
    result = to_mnist(pencil_on_paper(digit, darker, grain=4))
    assert_placed(result)
    assert_ink_on_the_digit(result)
    # Alike once blurred by a pixel: a thin ring shifted by a pixel correlates poorly as it is.
    blurred = [
        np.asarray(Image.fromarray(image).filter(ImageFilter.BoxBlur(1)), np.float64)
        for image in (result, to_mnist(draw(digit, size=(300, 300), width=8)))
    ]
    assert best_correlation(*blurred) > 0.85


@pytest.mark.parametrize("grain", [2, 4, 6, 8])
@pytest.mark.parametrize("seed", [0, 1])
def test_textured_paper_alone_has_no_ink(grain, seed):
    with pytest.raises(ImageError, match="no ink found"):
        to_mnist(pencil_on_paper("7", darker=0, grain=grain, seed=seed))


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda: draw("7", size=(600, 600), width=3), id="thin strokes on a large page"),
        pytest.param(lambda: photo_of_a_seven(lighting=(200, 200), noise=8), id="noisy photo"),
    ],
)
def test_shrunk_digit_keeps_full_strength(make):
    """Shrinking averages a stroke with the paper beside it; MNIST's strongest ink is 255 all the same."""
    assert to_mnist(make()).max() == 255


# Sizes, aspects and placement


PLACEMENTS = {
    "wide page": {"size": (600, 80), "box": (0.45, 0.1, 0.55, 0.9), "width": 6},
    "tall page": {"size": (80, 600), "box": (0.2, 0.45, 0.8, 0.55), "width": 6},
    "tiny page": {"size": (10, 10), "box": (0.1, 0.1, 0.9, 0.9), "width": 1},
    "corner of a huge margin": {"size": (1000, 1000), "box": (0.01, 0.02, 0.07, 0.12), "width": 12},
    "touching the left edge": {"box": (0.0, 0.2, 0.5, 0.8)},
    "touching the bottom edge": {"box": (0.3, 0.2, 0.7, 1.0)},
    "touching the top edge": {"box": (0.3, 0.0, 0.7, 0.8)},
    "touching two edges in a corner": {"box": (0.5, 0.5, 1.0, 1.0)},
    "touching all four edges": {"box": (0.0, 0.0, 1.0, 1.0)},
    "short and wide": {"box": (0.1, 0.4, 0.9, 0.6), "width": 10},
    "slanted": {"slant": 0.3},
}


@pytest.mark.parametrize("digit", SHAPES)
@pytest.mark.parametrize("placement", PLACEMENTS.values(), ids=PLACEMENTS.keys())
def test_any_page_size_and_placement_gives_mnist_form(placement, digit):
    assert_mnist_form(to_mnist(draw(digit, **placement)))


# Images already in MNIST form


def test_mnist_form_images_go_through_unchanged(tmp_path):
    images, _ = drawn_dataset(30, seed=3)
    for index, image in enumerate(images):
        path = saved(Image.fromarray(image), tmp_path / f"{index}.png")
        assert np.array_equal(normalised(path), image), f"image {index} changed"


# Bad input


TOO_LARGE = f"too large to decode safely (at most {MAX_PIXELS:,} pixels)"


def truncated_png() -> bytes:
    buffer = io.BytesIO()
    draw("7").save(buffer, "PNG")
    return buffer.getvalue()[: len(buffer.getvalue()) // 2]


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        pytest.param("notes.png", b"remember to buy milk\n", "not an image that Pillow can read", id="text"),
        pytest.param("empty.png", b"", "an empty file (0 bytes), not an image", id="empty"),
        pytest.param("scan.png", b"%PDF-1.7\n%\xe2\xe3", "a PDF, not an image; save its page as a PNG", id="pdf"),
        pytest.param("photo.jpg", b"\0\0\0\x18ftypheic\0\0\0\0", "a HEIC photo, which Pillow cannot read", id="heic"),
        pytest.param("logo.png", b'<?xml version="1.0"?>\n<svg>', "an SVG or other XML drawing", id="svg"),
        pytest.param("cut.png", truncated_png(), "a damaged or truncated image", id="truncated png"),
        pytest.param("cut.jpg", jpeg_bytes(draw("7"))[:600], "a damaged or truncated image", id="truncated jpeg"),
        pytest.param(
            "bomb.png",
            blank_png(8000, 8000),
            f"8000x8000 pixels is too large to decode safely (at most {MAX_PIXELS:,})",
            id="bomb",
        ),
        pytest.param("bomb.png", blank_png(10_000, 10_000), TOO_LARGE, id="bomb Pillow warns about"),
        pytest.param("bomb.png", blank_png(20_000, 20_000), TOO_LARGE, id="bomb Pillow refuses"),
    ],
)
def test_unreadable_files_are_refused_with_the_file_and_the_problem(tmp_path, name, content, problem):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ImageError) as caught:
        read_image(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ")
    assert problem in message
    assert "\n" not in message


def test_bombs_are_small_files_with_too_many_pixels():
    """Checks the premise of the bomb cases above: valid PNGs, small on disk, each caught by a different check:
    the module's own limit, then Pillow's warning, then Pillow's refusal."""
    assert len(blank_png(20_000, 20_000)) < 100_000
    assert MAX_PIXELS < 8000 * 8000 <= Image.MAX_IMAGE_PIXELS
    assert Image.MAX_IMAGE_PIXELS < 10_000 * 10_000 <= 2 * Image.MAX_IMAGE_PIXELS
    assert 2 * Image.MAX_IMAGE_PIXELS < 20_000 * 20_000
    with Image.open(io.BytesIO(blank_png(40, 30))) as small:
        assert small.size == (40, 30)
        assert np.asarray(small).max() == 0


def test_missing_file_is_refused_with_its_name(tmp_path):
    path = tmp_path / "gone.png"
    with pytest.raises(ImageError, match="gone.png: not found$") as caught:
        read_image(path)
    assert str(caught.value).startswith(f"{path}: ")


def test_image_errors_are_data_errors():
    """So the stages report them as one line, like any other bad input."""
    assert issubclass(ImageError, DataError)


BLANKS = {
    "white": lambda: Image.new("L", (64, 64), 255),
    "black": lambda: Image.new("L", (64, 64), 0),
    "grey RGB": lambda: Image.new("RGB", (64, 64), (120, 130, 140)),
    "one pixel": lambda: Image.new("L", (1, 1), 0),
    "faint noise": lambda: Image.fromarray(
        np.clip(np.random.default_rng(0).normal(128, 5, (64, 64)), 0, 255).astype(np.uint8)
    ),
    "faint 7": lambda: draw("7", ink=235, paper=255),
    "fully transparent": lambda: Image.new("RGBA", (64, 64), (0, 0, 0, 0)),
}


@pytest.mark.parametrize("make", BLANKS.values(), ids=BLANKS.keys())
def test_blank_pages_have_no_ink(tmp_path, make):
    path = saved(make(), tmp_path / "blank.png")
    with pytest.raises(ImageError) as caught:
        normalised(path)
    assert str(caught.value) == f"{path}: no ink found; expected a digit that stands out from its background"


def test_what_pillow_cannot_read_is_named_in_a_posted_body_too():
    with pytest.raises(ImageError, match="^the upload: a PDF, not an image"):
        read_image(io.BytesIO(b"%PDF-1.4 ..."), "the upload")
