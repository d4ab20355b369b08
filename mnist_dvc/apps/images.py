"""People's images made to look like MNIST's: read from any common format, then normalised
the way MNIST itself was made, so that the model sees what it was trained on.

MNIST's digits were cropped to their ink, scaled to fit a 20x20 box keeping their aspect
ratio (anti-aliased), and placed in a 28x28 frame with their centre of mass at the centre.
An MNIST test image goes through unchanged, but for its strongest ink raised to 255 in one of ten.
"""

import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from mnist_dvc.core.errors import DataError

SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
# Files that people take for images but that hold no pixels Pillow can read: in a directory they are inputs too,
# so that each is counted and named for what it is rather than skipped.
LOOKALIKES = (".pdf", ".svg", ".heic", ".heif")
FRAME = 28
BOX = 20
# Larger images are refused rather than decoded: a small file can unpack into gigabytes.
MAX_PIXELS = 40_000_000
# In a photo, ink weaker than this many times the border's spread (its median absolute deviation) is
# noise: about six standard deviations of Gaussian noise, which a million pixels of paper do not reach;
# and ink weaker than this share of the strongest is a faint mark, not the digit.
NOISE_SCALE = 9.0
FAINT = 0.25
# Ink fainter than this, after the background is taken away, is no digit but a blank page.
MIN_CONTRAST = 32
# In a photo, ink is averaged over the square of this radius around each pixel (a 5x5 square), in photos of at
# least SMOOTHED_FROM pixels each way: enough to even out the grain of paper, too little to thin a pen's stroke.
SMOOTHING_RADIUS = 2
SMOOTHED_FROM = 150


class ImageError(DataError):
    """A file that is not a readable image, or an image with no digit in it."""


@dataclass(frozen=True)
class Batch:
    """Files read and normalised together, to go to the model in one call."""

    paths: list[Path]  # the files that could be read, in order
    images: np.ndarray  # their 28x28 uint8 images, n x 28 x 28
    failures: list[ImageError]  # one for each file that could not


def find_images(paths: Iterable[Path]) -> Iterator[Path | ImageError]:
    """Every file named, and every image file under every directory named, in order; an error for each
    path that is missing, and for each directory with no images in it."""
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.suffix.lower() in SUFFIXES + LOOKALIKES and p.is_file())
            if not found:
                yield ImageError(f"{path}: no images in this directory (expected {', '.join(SUFFIXES)})")
            yield from found
        elif path.is_file():
            yield path
        else:
            yield ImageError(f"{path}: not found")


def normalised_batches(files: Sequence[Path], batch_size: int) -> Iterator[Batch]:
    """The files read and normalised, batch_size at a time."""
    for start in range(0, len(files), batch_size):
        read, images, failures = [], [], []
        for path in files[start : start + batch_size]:
            try:
                images.append(to_mnist(read_image(path), str(path)))
                read.append(path)
            except ImageError as error:
                failures.append(error)
        yield Batch(read, np.stack(images) if images else np.zeros((0, FRAME, FRAME), np.uint8), failures)


def read_image(file: Path | BinaryIO, name: str = "") -> Image.Image:
    """Decode the first frame of an image file, upright as its EXIF orientation says; errors name it as name
    says, or by its path."""
    name = name or str(file)
    try:
        with warnings.catch_warnings():
            # Pillow's warnings of damaged metadata (EXIF, TIFF tags) would be lines of their own on stderr: the
            # pixels still decode, or the image is reported in one line; a decompression bomb stops it.
            warnings.simplefilter("ignore")
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(file) as image:
                if image.width * image.height > MAX_PIXELS:
                    raise ImageError(
                        f"{name}: {image.width}x{image.height} pixels is too large to decode safely "
                        f"(at most {MAX_PIXELS:,})"
                    )
                image.seek(0)
                image.load()
                return ImageOps.exif_transpose(image)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(f"{name}: too large to decode safely (at most {MAX_PIXELS:,} pixels)") from None
    except FileNotFoundError:
        raise ImageError(f"{name}: not found") from None
    except UnidentifiedImageError:
        raise ImageError(f"{name}: {_what_it_is(file)}") from None
    except (OSError, SyntaxError, ValueError) as error:
        raise ImageError(f"{name}: a damaged or truncated image ({error})") from None


def _what_it_is(file: Path | BinaryIO) -> str:
    """What a file that Pillow cannot read is, from its first bytes, and what to do with it."""
    if isinstance(file, Path):
        with open(file, "rb") as opened:
            head = opened.read(64)
    else:
        file.seek(0)
        head = file.read(64)
    if not head:
        return "an empty file (0 bytes), not an image"
    if head.startswith(b"%PDF"):
        return "a PDF, not an image; save its page as a PNG or JPEG first"
    if head[4:8] == b"ftyp" and head[8:12] in (b"heic", b"heix", b"mif1", b"msf1", b"hevc"):
        return "a HEIC photo, which Pillow cannot read; save it as a JPEG first"
    if b"<svg" in head.lower() or head.lstrip().startswith(b"<?xml"):
        return "an SVG or other XML drawing, not an image of pixels; save it as a PNG first"
    return "not an image that Pillow can read"


def to_mnist(image: Image.Image, source: str = "image") -> np.ndarray:
    """The 28x28 uint8 image MNIST would have made of this one: light ink on black, centred."""
    ink = _ink(image)
    if ink.max() < MIN_CONTRAST:
        raise ImageError(f"{source}: no ink found; expected a digit that stands out from its background")
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    digit = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    scale = BOX / max(digit.shape)
    size = (max(1, round(digit.shape[1] * scale)), max(1, round(digit.shape[0] * scale)))
    if size != digit.shape[::-1]:
        # Averaging when shrinking, as MNIST's anti-aliasing did; no filter with negative lobes, which
        # would wipe out the faint edges of the digit and so change its size.
        resample = Image.Resampling.BOX if scale < 1 else Image.Resampling.BILINEAR
        digit = np.asarray(Image.fromarray(digit.astype(np.float32), mode="F").resize(size, resample))
    return _centred(_full_strength(digit))


def _full_strength(digit: np.ndarray) -> np.ndarray:
    """The digit in uint8 with its strongest ink at 255, as in MNIST, once it has its final size (so that a thin
    pen line in a large photo comes out as strong as a marker); no ink is rounded away."""
    scaled = digit * (255 / digit.max())
    return np.where(scaled > 0, np.maximum(scaled + 0.5, 1), 0).astype(np.uint8)


def _ink(image: Image.Image) -> np.ndarray:
    """How much ink each pixel holds, 0 for the background, float32.

    Transparency is the ink where the visible part is ink alone, one colour on a clear
    background. Otherwise the background is what the frame's border shows, a plane to follow
    uneven light, and the ink is whichever way, darker or lighter, pixels stray further from
    it; a digit that touches the border, even along a third of it, does not count as paper.
    """
    gray = _gray(image)
    alpha = _alpha(image)
    if alpha is not None:
        visible = gray[alpha > 127]
        if alpha.max() - alpha.min() >= MIN_CONTRAST and visible.size and np.ptp(visible) < MIN_CONTRAST:
            return alpha
        # A visible page on a clear canvas: the clear part is more of the page.
        page = _middle(visible) if visible.size else 0.0
        gray = gray * (alpha / 255) + page * (1 - alpha / 255)
    background = _background(gray)
    deviation = gray - background
    ink = -deviation if -deviation.min() > deviation.max() else deviation
    if np.isscalar(background):  # clean paper, as drawn on a computer: every shade of ink counts
        return np.maximum(ink, 0).astype(np.float32)
    # A photo: its noise, as much as the border shows, and faint marks (ruled lines, smudges) are not the digit.
    # Averaged over a few pixels first: strokes are wider than the grain of paper, which averaging evens out, so
    # that a faint pencil line stands out of a textured page.
    ink = _box_mean(ink, SMOOTHING_RADIUS if min(ink.shape) >= SMOOTHED_FROM else 0)
    floor = max(NOISE_SCALE * _middle(np.abs(_border(ink))), FAINT * ink.max())
    if ink.max() <= floor:
        return np.zeros_like(ink, np.float32)
    # Scaled back to the strength of the strongest ink, which to_mnist checks: the noise is taken away, the
    # ink's contrast with the paper is not.
    return (np.maximum(ink - floor, 0) * (ink.max() / (ink.max() - floor))).astype(np.float32)


def _box_mean(pixels: np.ndarray, radius: int) -> np.ndarray:
    """The mean of each pixel's (2 radius + 1)-square neighbourhood, the frame's edge repeated beyond it."""
    if radius < 1:
        return pixels
    size = 2 * radius + 1
    sums = np.pad(np.pad(pixels.astype(np.float64), radius, mode="edge"), ((1, 0), (1, 0))).cumsum(0).cumsum(1)
    return (sums[size:, size:] - sums[:-size, size:] - sums[size:, :-size] + sums[:-size, :-size]) / size**2


def _gray(image: Image.Image) -> np.ndarray:
    """The image's brightness, 0 to 255, float32; 16-bit and float images are scaled into that range."""
    if image.mode in ("I", "F") or image.mode.startswith("I;16"):
        pixels = np.asarray(image, dtype=np.float32)
        low, high = pixels.min(), pixels.max()
        return (pixels - low) * (255 / (high - low)) if high > low else np.zeros_like(pixels)
    return np.asarray(image if image.mode == "L" else image.convert("L"), dtype=np.float32)


def _alpha(image: Image.Image) -> np.ndarray | None:
    """The opacity of each pixel, 0 to 255, float32; None for an image that has no transparency."""
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        return np.asarray(image.convert("RGBA"), dtype=np.float32)[..., 3]
    return None


def _background(gray: np.ndarray) -> np.ndarray | float:
    """The brightness of the paper at each pixel: the plane that best fits the border, once refitted
    without the border pixels that stray far from it (ink that touches the border)."""
    border = _border(gray)
    paper = _middle(border)
    if _middle(np.abs(border - paper)) == 0:  # most of the border is one shade: a drawing, not a photo
        return paper
    height, width = gray.shape
    rows, cols = (
        _border(np.broadcast_to(np.arange(height)[:, None], gray.shape)),
        _border(np.broadcast_to(np.arange(width), gray.shape)),
    )
    terms = np.stack([np.ones_like(border), rows / height, cols / width], axis=1)
    keep = np.ones(len(border), bool)
    for _ in range(2):
        plane, *_ = np.linalg.lstsq(terms[keep], border[keep], rcond=None)
        residuals = np.abs(border - terms @ plane)
        keep = residuals <= 3 * _middle(residuals) + 1
    return plane[0] + plane[1] * (np.arange(height)[:, None] / height) + plane[2] * (np.arange(width) / width)


def _border(pixels: np.ndarray) -> np.ndarray:
    """The frame's outermost pixels."""
    return np.concatenate([pixels[0], pixels[-1], pixels[1:-1, 0], pixels[1:-1, -1]])


def _middle(values: np.ndarray) -> float:
    """The median, or the upper of the two middle values: as good here, and faster than np.median."""
    middle = len(values) // 2
    return float(np.partition(values, middle)[middle])


def _centred(digit: np.ndarray) -> np.ndarray:
    """The digit placed in a 28x28 frame with its centre of mass at the frame's centre."""
    weights = digit.astype(np.float64)
    total = weights.sum()
    centre_row = weights.sum(axis=1) @ np.arange(digit.shape[0]) / total
    centre_col = weights.sum(axis=0) @ np.arange(digit.shape[1]) / total
    top = min(max(round(FRAME / 2 - centre_row), 0), FRAME - digit.shape[0])
    left = min(max(round(FRAME / 2 - centre_col), 0), FRAME - digit.shape[1])
    frame = np.zeros((FRAME, FRAME), np.uint8)
    frame[top : top + digit.shape[0], left : left + digit.shape[1]] = digit
    return frame
