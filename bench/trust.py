"""How well the flag on answers not to trust (mnist_dvc/apps/trust.py) works: on MNIST, and on things that are no digit.

The limits are chosen on the validation split (data/prepared/val.npz), never on the test split: the lowest top
probability that flags at most 5% of the right answers, and the widest ink, and the smallest share of the ink in a
piece apart, that no more than one validation digit in a thousand has (the last, what the split shows, printed).
Then, with models/model.keras, on the test split: how many right answers the flag costs and how many wrong ones it
catches; and on generated non-digits, how many it flags: two MNIST test digits side by side (like
"42"), letters typed in Pillow's font at several weights and slants (those that look like a digit left out: O, I, S,
Z, B...), and scribbles of random strokes. The images are normalised as predict normalises files.

    python -m bench.trust          # from the project root, after dvc repro; about 15 seconds on 2 cores
"""

import argparse
import json
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from mnist_dvc.apps import trust
from mnist_dvc.apps.images import to_mnist
from mnist_dvc.core import paths
from mnist_dvc.core.cli import parse_args, run_command
from mnist_dvc.core.prepared import read_split

FLAGGED_RIGHT = 0.05  # at most this share of the validation split's right answers flagged for being unsure
WIDER_THAN = 0.001  # at most this share of the validation split's digits flagged for being wide
# Letters that do not look like a digit: no O, I, l, S, Z, B, G, g, q, b.
LETTERS = "ACDEFHJKLMNPRTUVWXYacdefhkmnrtuvwxy"
SEED = 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, default=Path("bench/results/trust.json"), help="(default: %(default)s)")


def main() -> None:
    args = parse_args(__doc__, with_params=False, add_arguments=add_arguments)
    from mnist_dvc.model.inference import load_classifier

    classifier = load_classifier(paths.MODEL)
    val, test = read_split("val"), read_split("test")
    chosen = choose(val.images, val.labels, classifier.probabilities(val.images))
    print(
        f"chosen on the validation split: probability under {chosen['min_probability']:.2f}, "
        f"wider than {chosen['max_width_ratio']:.3f}:1; trust.py uses {trust.MIN_PROBABILITY} and "
        f"{trust.MAX_WIDTH_RATIO:.3f}"
    )
    results = {"chosen_on_validation": chosen, "model": str(paths.MODEL)}
    probabilities = classifier.probabilities(test.images)
    flagged = flags(test.images, probabilities)
    right = probabilities.argmax(axis=1) == test.labels
    results["test"] = {
        "images": len(right),
        "right": int(right.sum()),
        "right_flagged": int(flagged[right].sum()),
        "wrong": int((~right).sum()),
        "wrong_flagged": int(flagged[~right].sum()),
    }
    t = results["test"]
    print(
        f"MNIST test split: {t['right_flagged']} of {t['right']} right answers flagged "
        f"({t['right_flagged'] / t['right']:.1%}); {t['wrong_flagged']} of {t['wrong']} wrong ones caught "
        f"({t['wrong_flagged'] / t['wrong']:.1%})"
    )
    rng = np.random.default_rng(SEED)
    for kind, images in (
        ("two digits side by side", pairs(test.images, 1000, rng)),
        ("letters", letters()),
        ("scribbles", scribbles(500, rng)),
    ):
        counts = reason_counts(doubts(images, classifier.probabilities(images)))
        results[kind] = {"images": len(images), **counts}
        flagged = sum(counts.values())
        print(
            f"{kind}: {flagged} of {len(images)} flagged ({flagged / len(images):.1%}): "
            + ", ".join(f"{count} {reason}" for reason, count in counts.items())
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nbench trust: numbers in {args.out}")


def choose(images: np.ndarray, labels: np.ndarray, probabilities: np.ndarray) -> dict:
    """The limits the rule asks for, found on the validation split, with what trust.py's own limits flag there."""
    top, right = probabilities.max(axis=1), probabilities.argmax(axis=1) == labels
    min_probability = np.floor(np.quantile(top[right], FLAGGED_RIGHT) * 100) / 100
    ratios = np.array([width_ratio(image) for image in images])
    flagged = flags(images, probabilities)
    print(f"validation split, {len(images)} images, flagged: {reason_counts(doubts(images, probabilities))}")
    return {
        "min_probability": float(min_probability),
        "max_width_ratio": float(np.quantile(ratios, 1 - WIDER_THAN)),
        "right_flagged_share": float(flagged[right].mean()),
        "wrong_flagged_share": float(flagged[~right].mean()),
        "wider_share": float((ratios > trust.MAX_WIDTH_RATIO).mean()),
    }


def doubts(images: np.ndarray, probabilities: np.ndarray) -> list[str | None]:
    return [trust.doubt(image, p) for image, p in zip(images, probabilities.max(axis=1), strict=True)]


def reason_counts(reasons: list[str | None]) -> dict[str, int]:
    """How many were flagged for each of the rule's reasons: ink in pieces, too wide, the model unsure."""
    kinds = {"in pieces": "in pieces", "too wide": "wider", "unsure": "unsure"}
    return {kind: sum(bool(reason) and start in reason for reason in reasons) for kind, start in kinds.items()}


def flags(images: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
    return np.array([reason is not None for reason in doubts(images, probabilities)])


def width_ratio(image: np.ndarray) -> float:
    rows, cols = np.flatnonzero(image.any(axis=1)), np.flatnonzero(image.any(axis=0))
    return (cols[-1] - cols[0] + 1) / (rows[-1] - rows[0] + 1)


def pairs(digits: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """Two handwritten digits side by side, as a number like 42 is written: from 2 pixels overlapping (touching) to
    4 pixels apart."""
    made = []
    for first, second in rng.integers(0, len(digits), (count, 2)):
        left, right = (digits[index][:, digits[index].any(axis=0)] for index in (first, second))
        start = left.shape[1] + int(rng.integers(-2, 5))
        canvas = np.zeros((28, start + right.shape[1]), np.uint8)
        canvas[:, : left.shape[1]] = left
        canvas[:, start:] = np.maximum(canvas[:, start:], right)
        made.append(to_mnist(Image.fromarray(canvas)))
    return np.stack(made)


def letters() -> np.ndarray:
    """Each letter in Pillow's own font, light on dark, at three weights, upright and slanted."""
    font = ImageFont.load_default(size=160)
    made = []
    for letter in LETTERS:
        for weight in (0, 4, 8):
            for slant in (0.0, 0.25):
                image = Image.new("L", (300, 300), 0)
                ImageDraw.Draw(image).text((70, 30), letter, fill=255, font=font, stroke_width=weight, stroke_fill=255)
                image = image.transform(image.size, Image.Transform.AFFINE, (1, slant, -slant * 150, 0, 1, 0))
                made.append(to_mnist(image))
    return np.stack(made)


def scribbles(count: int, rng: np.random.Generator) -> np.ndarray:
    """Random strokes through 4 to 11 points, 8 to 20 pixels thick on a 200x200 pad."""
    made = []
    for _ in range(count):
        image = Image.new("L", (200, 200), 0)
        points = [tuple(point) for point in rng.uniform(20, 180, (int(rng.integers(4, 12)), 2))]
        ImageDraw.Draw(image).line(points, fill=255, width=int(rng.integers(8, 21)), joint="curve")
        made.append(to_mnist(image))
    return np.stack(made)


if __name__ == "__main__":
    run_command("bench trust", main)
