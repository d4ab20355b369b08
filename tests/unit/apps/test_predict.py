"""python -m mnist_dvc.apps.predict on images made in different ways, on bad input, and in agreement with evaluate."""

import json
import sys

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("keras")

from mnist_dvc.apps import predict  # noqa: E402
from mnist_dvc.core.errors import PipelineError  # noqa: E402
from mnist_dvc.model.inference import load_classifier  # noqa: E402
from tests.helpers.drawn import draw, drawn_dataset  # noqa: E402
from tests.helpers.project import PROJECT_ROOT, run  # noqa: E402


def run_predict(monkeypatch, capsys, *args: str) -> tuple[str, str, PipelineError | None]:
    """predict's main in this process (TensorFlow is imported once for all the tests): stdout, stderr, error."""
    monkeypatch.setattr(sys, "argv", ["predict", *map(str, args)])
    error = None
    try:
        predict.main()
    except PipelineError as raised:
        error = raised
    captured = capsys.readouterr()
    return captured.out, captured.err, error


@pytest.fixture
def drawings(tmp_path):
    """Digits as people make them: formats, modes, inks, sizes and margins, some in a subdirectory."""
    made = {
        "pen.png": ("0", draw("0")),
        "photo.jpg": (
            "1",
            draw("1", size=(640, 480), box=(0.45, 0.2, 0.55, 0.7), ink=(20, 30, 90), paper=(235, 225, 200), mode="RGB"),
        ),
        "chalk.bmp": ("7", draw("7", ink=250, paper=10, mode="RGB")),
        "scan.gif": ("0", draw("0", size=(120, 300), box=(0.1, 0.05, 0.9, 0.5))),
        "more/paint.tiff": ("7", draw("7", size=(1000, 1000), box=(0.8, 0.8, 0.97, 0.98), width=12)),
        "more/sticker.webp": ("1", draw("1", ink=(0, 0, 0, 255), paper=(255, 255, 255, 0), mode="RGBA")),
    }
    for name, (_, image) in made.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        image.save(tmp_path / name, lossless=True) if name.endswith(".webp") else image.save(tmp_path / name)
    return tmp_path, {str(tmp_path / name): digit for name, (digit, _) in made.items()}


def test_json_gives_the_right_digit_for_images_made_every_way(monkeypatch, capsys, drawn_model, drawings):
    folder, expected = drawings
    out, err, error = run_predict(monkeypatch, capsys, folder, "--model", drawn_model, "--json", "--top", "3")
    assert error is None and err == ""
    records = [json.loads(line) for line in out.splitlines()]
    assert {record["path"]: record["label"] for record in records} == expected
    for record in records:
        assert record["top"][0] == [record["label"], record["probability"]]
        chances = [p for _, p in record["top"]]
        assert chances == sorted(chances, reverse=True) and 0 < sum(chances) <= 1 + 1e-6


def test_the_table_is_aligned_and_shows_the_next_likeliest(monkeypatch, capsys, drawn_model, drawings):
    folder, expected = drawings
    out, _, error = run_predict(monkeypatch, capsys, folder, "--model", drawn_model, "--top", "2")
    lines = out.splitlines()
    assert error is None and lines[0].split() == ["path", "label", "probability", "next", "likeliest"]
    rows = [line.split() for line in lines[1:]]
    assert {row[0]: row[1] for row in rows} == expected
    assert len({line.index(row[2]) for line, row in zip(lines[1:], rows, strict=True)}) == 1  # one column
    assert all(len(row) == 5 and 0 <= float(row[4]) <= float(row[2]) <= 1 for row in rows)


def test_predict_agrees_with_what_evaluate_computes_on_the_arrays(monkeypatch, capsys, drawn_model, tmp_path):
    """The test split written out as 28x28 PNG files gets the labels and probabilities that evaluate, which
    scores the arrays themselves through the same classifier, writes to data/predictions.csv."""
    images, _ = drawn_dataset(60, seed=11)
    for index, image in enumerate(images):
        Image.fromarray(image).save(tmp_path / f"{index:02d}.png")
    out, _, error = run_predict(monkeypatch, capsys, tmp_path, "--model", drawn_model, "--json")
    classifier = load_classifier(drawn_model)
    evaluated = classifier.probabilities(images)
    records = [json.loads(line) for line in out.splitlines()]
    assert error is None and len(records) == len(images)
    assert [record["label"] for record in records] == [classifier.classes[k] for k in evaluated.argmax(axis=1)]
    assert np.allclose([record["probability"] for record in records], evaluated.max(axis=1), atol=1e-6)


def test_progress_goes_to_stderr_when_there_are_many_files(monkeypatch, capsys, drawn_model, tmp_path):
    for index in range(5):
        draw("1").save(tmp_path / f"{index}.png")
    monkeypatch.setattr(predict, "BATCH_SIZE", 2)
    out, err, error = run_predict(monkeypatch, capsys, tmp_path, "--model", drawn_model, "--json")
    assert error is None and len(out.splitlines()) == 5
    assert err.splitlines() == ["predict: 2/5 images", "predict: 4/5 images", "predict: 5/5 images"]


def test_each_bad_input_is_one_line_and_the_rest_are_still_predicted(tmp_path, drawn_model):
    (tmp_path / "notes.png").write_text("not an image")
    (tmp_path / "empty.jpg").write_bytes(b"")
    draw("7").save(tmp_path / "whole.png")
    (tmp_path / "cut.png").write_bytes((tmp_path / "whole.png").read_bytes()[:300])
    Image.new("L", (50, 50), 200).save(tmp_path / "blank.png")
    (tmp_path / "nothing_here").mkdir()
    (tmp_path / "nothing_here" / "readme.txt").write_text("no images")
    draw("0").save(tmp_path / "good.png")
    names = ["notes.png", "empty.jpg", "cut.png", "blank.png", "nothing_here", "missing.png", "good.png"]

    command = [sys.executable, "-m", "mnist_dvc.apps.predict", *(str(tmp_path / name) for name in names), "--model"]
    result = run([*command, str(drawn_model)], PROJECT_ROOT, check=False, timeout=120)
    assert result.returncode == 1
    assert [line.split()[:2] for line in result.stdout.splitlines()] == [
        ["path", "label"],
        [str(tmp_path / "good.png"), "0"],
    ]
    errors = result.stderr.splitlines()
    assert "Traceback" not in result.stderr and len(errors) == 7, result.stderr
    for name, problem in [
        ("notes.png", "not an image that Pillow can read"),
        ("empty.jpg", "not an image that Pillow can read"),
        ("cut.png", "a damaged or truncated image"),
        ("blank.png", "no ink found"),
        ("nothing_here", "no images in this directory"),
        ("missing.png", "not found"),
    ]:
        assert any(line.startswith(f"predict: error: {tmp_path / name}: {problem}") for line in errors), (name, errors)
    assert errors[-1] == "predict: error: 6 of 7 inputs failed, named above"


@pytest.mark.parametrize(
    ("model", "message"),
    [
        ("missing.keras", "missing.keras: not found; run the pipeline first (./tasks.sh repro)"),
        ("broken.keras", "broken.keras: not a readable Keras model"),
    ],
)
def test_a_missing_or_unreadable_model_is_one_line(monkeypatch, capsys, tmp_path, model, message):
    (tmp_path / "broken.keras").write_bytes(b"PK not really a zip")
    draw("1").save(tmp_path / "one.png")
    _, _, error = run_predict(monkeypatch, capsys, tmp_path / "one.png", "--model", tmp_path / model)
    assert error is not None and message in str(error)


def test_top_must_be_a_count_of_classes_the_model_has(monkeypatch, capsys, tmp_path, drawn_model):
    draw("1").save(tmp_path / "one.png")
    _, _, error = run_predict(monkeypatch, capsys, tmp_path / "one.png", "--model", drawn_model, "--top", "11")
    assert str(error) == "--top 11; expected at most 10, the model's classes"
    with pytest.raises(SystemExit):
        run_predict(monkeypatch, capsys, tmp_path / "one.png", "--top", "0")
    assert "argument --top: '0'; expected a whole number of 1 or more" in capsys.readouterr().err
