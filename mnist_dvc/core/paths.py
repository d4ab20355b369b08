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
PREDICTIONS = Path("data/predictions.csv")
PLOTS_DIR = Path("plots")
# The page template of `dvc plots show`, with Vega inlined (tools/plots_page.py); the sweep's page takes Vega from it.
PLOTS_TEMPLATE = Path(".dvc/plots_offline.html")


def raw_dir(dataset: str) -> Path:
    """The folder of one dataset's raw files, named after its entry in datasets.yaml; DVC tracks it."""
    return RAW_DIR / dataset


def prepared_split(name: str) -> Path:
    """The .npz file of one split: train, val or test."""
    return PREPARED_DIR / f"{name}.npz"
