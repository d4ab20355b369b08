"""Where every artifact lives, relative to the project root; dvc.yaml declares the same paths."""

from pathlib import Path

PARAMS = Path("params.yaml")
RAW_DIR = Path("data/raw")
PREPARED_DIR = Path("data/prepared")
MODEL = Path("models/model.keras")
TRAIN_LOG_DIR = Path("metrics/train")
TRAIN_METRICS = Path("metrics/train.json")
TEST_METRICS = Path("metrics/test.json")
PER_CLASS_METRICS = Path("metrics/per_class.json")
ROBUSTNESS_METRICS = Path("metrics/robustness.json")
PREDICTIONS = Path("data/predictions.csv")
PLOTS_DIR = Path("plots")
# The page template of `dvc plots show`, with Vega inlined (tools/plots_page.py); the sweep's page takes Vega from it.
PLOTS_TEMPLATE = Path(".dvc/plots_offline.html")
# The export stage's: the model in other formats, their agreement with the classifier, and what the card says of
# the model that takes TensorFlow to find out; and the card stage's model card.
SAVED_MODEL = Path("models/saved_model")
ONNX_MODEL = Path("models/model.onnx")
LITERT_MODEL = Path("models/model.tflite")
EXPORT_METRICS = Path("metrics/export.json")
EXPORT_FACTS = Path("models/export_facts.json")
MODEL_CARD = Path("MODEL_CARD.md")
# Inference speed of each format, as bench/exports.py measured it: committed, for the card to quote.
EXPORT_SPEED = Path("bench/export_speed.json")


def raw_dir(dataset: str) -> Path:
    """The folder of one dataset's raw files, named after its entry in datasets.yaml; DVC tracks it."""
    return RAW_DIR / dataset


def prepared_split(name: str) -> Path:
    """The .npz file of one split: train, val or test."""
    return PREPARED_DIR / f"{name}.npz"
