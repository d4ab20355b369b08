"""The few lines that end `./tasks.sh repro`: the test score, what changed since the last commit, where to look.

python -m tools.summary
"""

import subprocess

from mnist_dvc.core import paths
from mnist_dvc.core.cli import parse_args, run_command
from mnist_dvc.core.results import read_test_metrics


def metrics_diff() -> str:
    """`dvc metrics diff` against HEAD: empty when nothing changed (or there is no commit to compare with)."""
    result = subprocess.run(["dvc", "metrics", "diff"], capture_output=True, text=True)
    return result.stdout.strip() if result.returncode == 0 else ""


def main() -> None:
    parse_args(__doc__, with_params=False)
    test = read_test_metrics(paths.TEST_METRICS)
    figures = sorted(paths.PLOTS_DIR.glob("*.png"))
    print(f"Test accuracy {test['accuracy']:.4f}, test loss {test['loss']:.4f} ({paths.TEST_METRICS})")
    diff = metrics_diff()
    print(f"Changed since the last commit:\n{diff}" if diff else "Metrics unchanged since the last commit.")
    print(f"Figures: {len(figures)} PNGs in {paths.PLOTS_DIR}/")
    print("Report: dvc plots show, then open dvc_plots/index.html")


if __name__ == "__main__":
    run_command("summary", main)
