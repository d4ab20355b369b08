"""The model card: what the model is, what it learnt from, how it scores, how fast each format runs, what it is for and
where it fails, and how to get it again; written in Markdown from the run's own records.

Every line is a function of the stage's inputs, so the card is byte-identical run to run and changes only with them.
That is why it names the model by the MD5 that dvc.lock records for it rather than by a commit (which does not exist
yet when the stage runs), and quotes speed from the committed benchmark result rather than timing anything itself.
What takes the model itself to find out (its layers, the limits) the export stage has measured (facts.py), so that
writing the card needs no TensorFlow.
"""

import textwrap
from dataclasses import dataclass

import numpy as np
import yaml

from mnist_dvc.core import paths
from mnist_dvc.core.results import ExportSpeed
from mnist_dvc.data.datasets import Dataset
from mnist_dvc.export.contract import FORMATS, INPUT, ONNX_LABELS_KEY, ONNX_OPSET, OUTPUT, TITLES, TOLERANCE
from mnist_dvc.export.facts import Answer, Facts

FAMILY_NAMES = {"mlp": "multilayer perceptron", "cnn": "convolutional network"}
RUNTIMES = {
    "keras": "Keras (the classifier)",
    "saved_model": "SavedModel, TensorFlow",
    "onnx": "ONNX, onnxruntime",
    "litert": "LiteRT, its interpreter",
}
CONFUSIONS = 5
FIGURE = paths.PLOTS_DIR / "confusion_matrix.png"  # drawn by the visualize stage
WIDTH = 120


@dataclass(frozen=True)
class CardRecord:
    """Everything the card says, as the card stage reads it from the run's records."""

    dataset: Dataset
    params: dict  # seed, prepare and train, as params.yaml has them
    facts: Facts  # what the export stage found out from the model
    model_md5: str
    model_size: int  # bytes
    split_sizes: dict[str, int]  # train, val, test
    test_metrics: dict[str, float]
    per_class: dict[str, dict[str, float]]
    actual: np.ndarray
    predicted: np.ndarray
    agreements: dict[str, tuple[int, float]]  # by format: labels equal to evaluate's, largest probability difference
    speed: ExportSpeed | None


def confusable_pairs(actual: np.ndarray, predicted: np.ndarray, top: int) -> list[tuple[int, int, int]]:
    """The commonest mistakes: (true class, predicted class, count), most frequent first, ties in class order."""
    n = int(max(actual.max(), predicted.max())) + 1
    counts = np.zeros((n, n), dtype=np.int64)
    np.add.at(counts, (actual, predicted), 1)
    np.fill_diagonal(counts, 0)
    pairs = [(int(a), int(p), int(counts[a, p])) for a, p in zip(*np.nonzero(counts), strict=True)]
    return sorted(pairs, key=lambda pair: (-pair[2], pair[0], pair[1]))[:top]


def render_card(record: CardRecord) -> str:
    """The card, as Markdown, its prose wrapped at WIDTH."""
    sections = [_title, _model, _files, _data, _results, _speed, _use, _reproduce]
    return _reflow("\n\n".join(section(record).strip("\n") for section in sections)) + "\n"


def _reflow(markdown: str) -> str:
    """Paragraphs and list items filled to WIDTH, whatever the values put into them; headings, tables, images and
    code blocks as they are."""
    blocks, in_code = [], False
    for block in markdown.split("\n\n"):
        lines = block.split("\n")
        fences = sum(line.startswith("```") for line in lines)
        if in_code or lines[0].startswith(("```", "#", "|", "![")):
            blocks.append(block)
        elif lines[0].startswith("- "):
            items = "\n".join(lines).replace("\n  ", " ").split("\n")
            blocks.append("\n".join(_fill(item, subsequent_indent="  ") for item in items))
        else:
            blocks.append(_fill(" ".join(lines)))
        in_code = in_code != (fences % 2 == 1)
    return "\n\n".join(blocks)


def _fill(text: str, subsequent_indent: str = "") -> str:
    return textwrap.fill(
        text, WIDTH, subsequent_indent=subsequent_indent, break_long_words=False, break_on_hyphens=False
    )


def _title(r: CardRecord) -> str:
    return f"""# Model card: a {_family(r)} for {r.dataset.subject}

Written by the card stage (`python -m stages.card`, which `dvc repro` runs) from this run's own records: its params,
the data's checksums, the model and what the export stage measured of it, the test results and the committed speed
benchmark. It changes when they do; edit the code in `mnist_dvc/export/card.py`, not this file."""


def _family(r: CardRecord) -> str:
    family = r.params["train"]["model"]["family"]
    return FAMILY_NAMES.get(family, family)


def _model(r: CardRecord) -> str:
    f, shape = r.facts.model, "x".join(map(str, r.dataset.image_shape))
    rows = "\n".join(f"| {layer.kind} | {layer.output} | {layer.weights:,} |" for layer in f.layers)
    head = (
        "the softmax of the last layer's logits (the inputs of its sigmoids), which is what Keras trained the "
        "sigmoid layer with; every export gives the same"
        if f.sigmoid_head
        else "those of the last layer's softmax; every export gives the same"
    )
    classes = ", ".join(f"`{name}`" for name in r.dataset.classes)
    return f"""## The model

A {_family(r)}, trained on the `{r.dataset.name}` dataset, that reads a {shape} grayscale image of
{r.dataset.subject} as uint8 pixels (0 is black, 255 white; it scales them itself) and gives the probability of each
of its {len(r.dataset.classes)} classes: {classes}.

| layer | output | weights |
|---|---|---|
{rows}

- **Weights**: {f.weights:,}, {f.weights * 4 / 1e6:.2f} MB as float32.
- **FLOPs**: {f.flops:,} per image ({f.flops / 1e6:.2f} MFLOPs), counted as twice the multiply-adds of the dense and
  convolution layers; activations, pooling and normalisation add little and are left out.
- **Probabilities**: {head}.
- **Params**: in [Reproduce](#reproduce)."""


def _files(r: CardRecord) -> str:
    rows = [f"| Keras | `{paths.MODEL}` | {r.model_size / 1e6:.2f} MB | MD5 `{r.model_md5}` | the reference | |"]
    for name in FORMATS:  # in this order, whatever the order of the file they were read from
        file, (equal, difference) = r.facts.files[name], r.agreements[name]
        digest = f"SHA-256 `{file.sha256}`" if file.sha256 else "(a directory)"
        where = f"`{file.path}/`" if file.sha256 is None else f"`{file.path}`"
        rows.append(
            f"| {TITLES[name]} | {where} | {file.size / 1e6:.2f} MB | {digest} | "
            f"{equal:,} of {r.split_sizes['test']:,} | {difference:.2g} |"
        )
    table = "\n".join(rows)
    shape = ", ".join(map(str, r.dataset.image_shape))
    return f"""## The files

Each export takes `{INPUT}`, uint8 `[N, {shape}]`, and gives `{OUTPUT}`, float32 `[N, {len(r.dataset.classes)}]`,
and carries the class names, one a line, in the order of the probabilities: in a SavedModel's
`assets.extra/labels.txt`, in the ONNX metadata entry `{ONNX_LABELS_KEY}`, in a `labels.txt` in the zip archive
appended to the `.tflite`. Each was run by its own runtime on the {r.split_sizes["test"]:,} test images: its labels
are compared with evaluate's (`{paths.PREDICTIONS}`) and its probabilities with the classifier's
(`{paths.EXPORT_METRICS}`, which `dvc metrics show` shows; the export stage fails on a difference over
{TOLERANCE:.0e}).

| format | path | size | checksum | labels equal to evaluate's | largest probability difference |
|---|---|---|---|---|---|
{table}

ONNX is opset {ONNX_OPSET}; LiteRT is float32 with built-in ops only. Each in a few lines of Python:
[docs/exporting.md](docs/exporting.md); each by name and version with `dvc artifacts get`: `dvc.yaml`'s
`artifacts`."""


def _data(r: CardRecord) -> str:
    prepare = r.params["prepare"]
    files = "\n".join(
        f"| {role.replace('_', ' ')} | `{raw.name}` | `{raw.idx_sha256}` |" for role, raw in r.dataset.files.items()
    )
    sizes = r.split_sizes
    return f"""## The data

`{r.dataset.name}`, as `datasets.yaml` defines it: {sizes["train"] + sizes["val"]:,} training and {sizes["test"]:,}
test images of {r.dataset.subject}, in `data/raw/{r.dataset.name}/`, tracked by DVC. Each raw file is pinned by the
SHA-256 of its decompressed content:

| part | file | IDX SHA-256 |
|---|---|---|
{files}

Split: {sizes["train"]:,} images to train on and {sizes["val"]:,} held out for validation (`val_fraction`
{prepare["val_fraction"]}, stratified by class, seed {r.params["seed"]}). The {sizes["test"]:,} test images are used
only to score the model."""


def _results(r: CardRecord) -> str:
    classes = r.dataset.classes
    support = np.bincount(r.actual, minlength=len(classes))
    rows = "\n".join(
        f"| {name} | {scores['precision']:.4f} | {scores['recall']:.4f} | {scores['f1']:.4f} | {support[k]:,} |"
        for k, (name, scores) in enumerate(r.per_class.items())
    )
    pairs = confusable_pairs(r.actual, r.predicted, CONFUSIONS)
    confused = "\n".join(f"| {classes[a]} | {classes[p]} | {count} |" for a, p, count in pairs) or "| none | | |"
    return f"""## Results on the test set

**Accuracy {r.test_metrics["accuracy"]:.4f}**, loss {r.test_metrics["loss"]:.4f}, on the {r.split_sizes["test"]:,}
test images (`{paths.TEST_METRICS}`).

| class | precision | recall | F1 | test images |
|---|---|---|---|---|
{rows}

The most confused pairs, its commonest mistakes:

| true class | taken for | times |
|---|---|---|
{confused}

![Confusion matrix of the test set: rows are true classes, columns predicted ones]({FIGURE})"""


def _speed(r: CardRecord) -> str:
    speed = r.speed
    if speed is None:
        return f"""## Speed

Not measured yet: `python -m bench.exports` measures each format and writes `{paths.EXPORT_SPEED}`, which this card
quotes."""
    order = [
        *(runtime for runtime in RUNTIMES if runtime in speed.images_per_s),
        *sorted(speed.images_per_s.keys() - RUNTIMES),
    ]
    rows = "\n".join(
        f"| {RUNTIMES.get(runtime, runtime)} | {speed.images_per_s[runtime]:,.0f} | "
        f"{speed.single_image_ms[runtime]:.3f} |"
        for runtime in order
    )
    which = (
        "this model"
        if speed.model_md5 == r.model_md5
        else f"another model (MD5 `{speed.model_md5}`), not this one: run it again to measure this one"
    )
    versions = ", ".join(f"{name} {version}" for name, version in speed.versions.items())
    return f"""## Speed

Measured by `python -m bench.exports` on {which}; on {speed.machine}, {speed.threads} threads for each runtime
({versions}). Images per second over the test images in batches of {speed.batch_size:,}, best of several runs, and
the median time of a call with one image:

| runtime | images per second | one image (ms) |
|---|---|---|
{rows}"""


def _use(r: CardRecord) -> str:
    limits, classes, name = r.facts.limits, r.dataset.classes, r.dataset.name
    rows = "\n".join(f"| {change} | {value:.4f} |" for change, value in limits.accuracy)

    def said(answer: Answer) -> str:
        return f"`{classes[answer.commonest]}`"

    return f"""## Intended use and known limits

For learning and trying things out: it reads {r.dataset.subject} prepared as the images of `{name}` are, and serves as a
reference for reproducible training, experiments and exports. It is not meant for any decision that matters to
anyone, and has not been tested for one.

**It answers with one of its classes whatever it is shown.** A black image: {said(limits.blank)}, with probability
{limits.blank.mean_probability:.2f}. {limits.noise.images:,} images of random pixels: {said(limits.noise)} for
{limits.noise.share:.0%} of them, with a mean probability of {limits.noise.mean_probability:.2f} for what it
answered. A high probability does not mean that the image shows one of its classes.

**It reads images prepared as its training images were**: those of `{name}` are light on dark, scaled and
centred. The same test images, changed:

| test images | accuracy |
|---|---|
| as they are | {r.test_metrics["accuracy"]:.4f} |
{rows}

`python -m mnist_dvc.apps.predict` and `serve` first make a photo or a drawing look like the images of `{name}`
([docs/using-the-model.md](docs/using-the-model.md)); the exports do not: whoever feeds them prepares the images."""


def _reproduce(r: CardRecord) -> str:
    params = yaml.safe_dump(r.params, sort_keys=False).strip()
    versions = ", ".join(f"{name} {version}" for name, version in r.facts.versions.items())
    return f"""## Reproduce

`dvc.lock` records this model, `{paths.MODEL}`, with MD5 `{r.model_md5}`. To get it and every file above back, find
the commit that recorded it, then:

```bash
git log --reverse --format=%H -S {r.model_md5} -- dvc.lock | head -1   # the first commit with this model
git checkout <that commit>
./tasks.sh repro   # train it again (the raw files of data/raw/{r.dataset.name}/ are downloaded if missing)
dvc pull           # or, where a DVC remote holds this run's outputs, fetch them instead
```

On the same platform with the same packages, `dvc repro` gives the same bytes. The params, from `params.yaml`:

```yaml
{params}
```

The exports were made and checked with {versions}, all pinned in `requirements.lock`."""
