"""The few lines that end `./tasks.sh repro`: the test score, what changed since the last commit, where to look.

Each metric that changed is shown with both values in full and how many significant digits they share:
`dvc metrics diff` rounds to five decimals, so a difference in the eighth digit, as between two kinds of CPU
when the project's same-bytes settings are off, shows there as a change of 0.0.

python -m tools.summary
"""

import json
import subprocess

from mnist_dvc.core import paths
from mnist_dvc.core.cli import parse_args, run_command
from mnist_dvc.core.results import read_test_metrics


def changed_metrics() -> list[tuple[str, float, float]]:
    """(metric, old, new) for each metric that differs from HEAD's (none when there is no commit to compare with),
    from `dvc metrics diff --json`, whose values are not rounded."""
    result = subprocess.run(["dvc", "metrics", "diff", "--json"], capture_output=True, text=True)
    if result.returncode != 0 or not result.stdout.strip():
        return []
    return [
        (f"{path}: {name}", values["old"], values["new"])
        for path, metrics in json.loads(result.stdout).items()
        for name, values in metrics.items()
        if values.get("old") != values.get("new")
    ]


def same_digits(old: object, new: object) -> int:
    """How many significant digits two numbers share: 0 when they differ in the first, 17 when they are equal."""
    if not all(isinstance(value, int | float) for value in (old, new)):
        return 0
    return next((digits - 1 for digits in range(1, 18) if f"{old:.{digits}g}" != f"{new:.{digits}g}"), 17)


def describe(old: object, new: object) -> str:
    """A change in one line: a metric new or gone says so; two numbers, how many significant digits they share."""
    if old is None:
        return f"{new} (new)"
    if new is None:
        return f"{old} (gone)"
    return f"{old} -> {new} (the same to {same_digits(old, new)} significant digits)"


def main() -> None:
    parse_args(__doc__.split("\n\n")[0], with_params=False)
    test = read_test_metrics(paths.TEST_METRICS)
    figures = sorted(paths.PLOTS_DIR.glob("*.png"))
    print(f"Test accuracy {test['accuracy']:.4f}, test loss {test['loss']:.4f} ({paths.TEST_METRICS})")
    changed = changed_metrics()
    if changed:
        print("Changed since the last commit (values in full; dvc metrics diff rounds them to 5 decimals):")
        for name, old, new in changed:
            print(f"  {name}: {describe(old, new)}")
    else:
        print("Metrics unchanged since the last commit.")
    print(f"Figures: {len(figures)} PNGs in {paths.PLOTS_DIR}/")
    print("Report: dvc plots show, then open dvc_plots/index.html")


if __name__ == "__main__":
    run_command("summary", main)
