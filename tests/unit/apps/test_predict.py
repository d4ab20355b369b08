"""python -m mnist_dvc.apps.predict on images made in different ways, on bad input, and in agreement with evaluate."""

import json
import sys
from pathlib import Path

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
    header, *lines = out.splitlines()
    assert error is None and header.split() == ["path", "label", "probability", "next", "likeliest", "doubt"]
    end = header.index("probability") + len("probability")  # the column is right-aligned under its heading
    rows = [(*line.split()[:2], shown_value(line[end - 7 : end]), line[end:].split(maxsplit=1)) for line in lines]
    assert {path: label for path, label, _, _ in rows} == expected
    assert all(shown_value(next_one[1]) <= probability for _, _, probability, next_one in rows)


def shown_value(text: str) -> float:
    return float(text.strip().lstrip("<> "))


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
        ("empty.jpg", "an empty file (0 bytes), not an image"),
        ("cut.png", "a damaged or truncated image"),
        ("blank.png", "no ink found"),
        ("nothing_here", "no images in this directory"),
        ("missing.png", "not found"),
    ]:
        assert any(line.startswith(f"predict: error: {tmp_path / name}: {problem}") for line in errors), (name, errors)
    assert errors[-1] == "predict: error: 6 of 7 inputs failed, named above"


def test_a_missing_pipeline_model_says_how_to_make_it(monkeypatch, capsys, tmp_path):
    monkeypatch.chdir(tmp_path)
    draw("1").save(tmp_path / "one.png")
    _, _, error = run_predict(monkeypatch, capsys, "one.png")
    assert str(error).startswith("models/model.keras: not found; run the pipeline first (./tasks.sh repro)")


@pytest.mark.parametrize(
    ("model", "problem"),
    [
        ("missing.keras", "no such file"),
        ("models", "a directory, not a model file"),
        ("notes.pdf", "not a Keras model (a .keras file is a zip archive holding config.json)"),
    ],
)
def test_a_bad_model_says_what_it_is_and_lists_the_models_there_are(monkeypatch, capsys, tmp_path, model, problem):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "models/old").mkdir(parents=True)
    for name in ("models/model.keras", "models/old/first.keras"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "notes.pdf").write_bytes(b"%PDF-1.4")
    draw("1").save(tmp_path / "one.png")
    out, _, error = run_predict(monkeypatch, capsys, "one.png", "--model", model)
    assert out == "" and str(error) == (
        f"{model}: {problem}; the models under models/: models/model.keras, models/old/first.keras"
    )


def test_a_file_that_is_no_keras_model_is_one_short_line(monkeypatch, capsys, tmp_path):
    """A zip with a config.json that Keras cannot load: Keras' own explanation is cut to its first sentence."""
    import zipfile

    with zipfile.ZipFile(tmp_path / "odd.keras", "w") as archive:
        archive.writestr("config.json", "{}")
    draw("1").save(tmp_path / "one.png")
    _, _, error = run_predict(monkeypatch, capsys, tmp_path / "one.png", "--model", tmp_path / "odd.keras")
    message = str(error)
    assert "not a readable Keras model" in message and "\n" not in message and len(message) < 300 + len(str(tmp_path))


def test_top_must_be_a_count_of_classes_the_model_has(monkeypatch, capsys, tmp_path, drawn_model):
    draw("1").save(tmp_path / "one.png")
    _, _, error = run_predict(monkeypatch, capsys, tmp_path / "one.png", "--model", drawn_model, "--top", "11")
    assert str(error) == "--top 11; expected at most 10, the model's classes"
    with pytest.raises(SystemExit):
        run_predict(monkeypatch, capsys, tmp_path / "one.png", "--top", "0")
    assert "argument --top: '0'; expected a whole number of 1 or more" in capsys.readouterr().err


def test_when_no_input_can_be_used_there_is_no_table_and_no_traceback(monkeypatch, capsys, drawn_model, tmp_path):
    """One blank page, an empty file and a PDF: each its line, counted; no header without rows, no model call."""
    Image.new("L", (50, 50), 200).save(tmp_path / "blank.png")
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "scan.pdf").write_bytes(b"%PDF-1.7\n%stuff")
    for name, problem in [
        ("blank.png", "no ink found"),
        ("empty.png", "an empty file (0 bytes), not an image"),
        ("scan.pdf", "a PDF, not an image; save its page as a PNG or JPEG first"),
    ]:
        out, err, error = run_predict(monkeypatch, capsys, tmp_path / name, "--model", drawn_model)
        assert out == "" and err.startswith(f"predict: error: {tmp_path / name}: {problem}")
        assert str(error) == "1 of 1 inputs failed, named above"


def test_a_pdf_in_a_directory_is_counted_and_named(monkeypatch, capsys, drawn_model, tmp_path):
    draw("7").save(tmp_path / "seven.png")
    (tmp_path / "page.pdf").write_bytes(b"%PDF-1.7\n")
    (tmp_path / "readme.txt").write_text("not an input")
    out, err, error = run_predict(monkeypatch, capsys, tmp_path, "--model", drawn_model)
    assert [line.split()[:2] for line in out.splitlines()[1:]] == [[str(tmp_path / "seven.png"), "7"]]
    assert err.splitlines()[0] == f"predict: error: {tmp_path / 'page.pdf'}: a PDF, not an image; " + (
        "save its page as a PNG or JPEG first"
    )
    assert str(error) == "1 of 2 inputs failed, named above"


def test_batches_with_no_readable_image_are_passed_over(monkeypatch, capsys, drawn_model, tmp_path):
    """Many blank files before the good ones, whole batches of them: each counted, the good ones predicted."""
    for index in range(5):
        Image.new("L", (20, 20), 255).save(tmp_path / f"a{index}.png")
    draw("1").save(tmp_path / "b.png")
    monkeypatch.setattr(predict, "BATCH_SIZE", 2)
    out, err, error = run_predict(monkeypatch, capsys, tmp_path, "--model", drawn_model, "--json")
    assert [json.loads(line)["label"] for line in out.splitlines()] == ["1"]
    assert sum("no ink found" in line for line in err.splitlines()) == 5
    assert str(error) == "5 of 6 inputs failed, named above"


def test_error_lines_come_after_the_table_not_inside_it(monkeypatch, capsys, drawn_model, tmp_path):
    draw("0").save(tmp_path / "a.png")
    Image.new("L", (20, 20), 255).save(tmp_path / "b.png")
    draw("7").save(tmp_path / "c.png")
    monkeypatch.setattr(sys, "stderr", sys.stdout)  # one stream, as a terminal shows them
    out, _, _ = run_predict(monkeypatch, capsys, tmp_path, "--model", drawn_model)
    assert [line.split()[0] for line in out.splitlines()] == [
        "path",
        str(tmp_path / "a.png"),
        str(tmp_path / "c.png"),
        "predict:",
    ]


def test_two_digits_side_by_side_are_flagged_in_the_table_and_the_json(monkeypatch, capsys, drawn_model, tmp_path):
    pair = Image.new("L", (400, 200), 255)
    pair.paste(draw("1", box=(0.1, 0.2, 0.9, 0.8)), (0, 0))
    pair.paste(draw("7", box=(0.1, 0.2, 0.9, 0.8)), (200, 0))
    pair.save(tmp_path / "17.png")
    draw("7").save(tmp_path / "7.png")
    out, _, _ = run_predict(monkeypatch, capsys, tmp_path, "--model", drawn_model, "--json")
    doubts = {Path(record["path"]).name: record["doubt"] for record in map(json.loads, out.splitlines())}
    assert doubts["7.png"] is None and doubts["17.png"] == "the ink is in pieces side by side: two digits?"
    out, _, _ = run_predict(monkeypatch, capsys, tmp_path, "--model", drawn_model)
    assert out.splitlines()[0].split()[-1] == "doubt" and "two digits?" in out.splitlines()[1]


@pytest.mark.parametrize(
    ("probability", "text"), [(1.0, "> 0.999"), (0.9996, "> 0.999"), (0.5, "0.500"), (0, "< 0.001")]
)
def test_probabilities_never_round_to_a_certainty(probability, text):
    assert predict.shown(probability) == text
