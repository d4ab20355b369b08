"""What reproducibility costs: the DVC pipeline against a bare Keras script and the machine's limit.

Measures, in one run on one machine, and prints one Markdown table:

- the reference (bench/reference.py): wall time, fit time, peak memory and test
  accuracy of the bare script;
- the pipeline: a full `dvc repro` from an empty cache in a fresh copy of this
  project (its tracked and untracked files, committed to a new git repository),
  with per-stage wall time and peak memory;
- a no-op `dvc repro` of the project next to one of a trivial one-stage DVC
  project, which is DVC's own floor;
- the turnaround of one visualize param changed with `dvc exp run -S`, against
  rerunning the whole reference script;
- the limit: the training FLOPs over the float32 matmul rate TensorFlow reaches
  here at the shapes of the model the pipeline trained (bench/floor.py reads them
  from its models/model.keras), and each fit time over it.

Runs are repeated and medians reported; reference and pipeline runs alternate,
so that a change in the machine's load hits both alike. Every stage's process
is started through a small `python` wrapper placed first on PATH, which times
it and reads its peak resident memory (ru_maxrss) when it exits; DVC's own time
is the whole `dvc repro` less its stages. The train stage's fit time is what the
stage itself records in the file that MNIST_TIMINGS names (mnist_dvc/core/stage.py).

    python -m bench.pipeline DATA_DIR              # the full benchmark, about 6 minutes on 2 cores
    python -m bench.pipeline DATA_DIR --quick      # a smoke run: 3 epochs, one repetition, about 1 minute
"""

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

from bench.harness import (
    BENCH_DIR,
    GB,
    MNIST_TRAIN_IMAGES,
    PROJECT_ROOT,
    BenchError,
    base_env,
    bench_parser,
    check_data_dir,
    checked,
    fresh_copy,
    git,
    machine,
    make_shim,
    median,
    read_stage_log,
    read_timing,
    run_process,
    stage_commands,
    stage_env,
    time_floor,
    venv_bin,
    versions,
    warn_if_busy,
)

TRIVIAL_DVC_YAML = """stages:
  copy:
    cmd: cp input.txt output.txt
    deps:
      - input.txt
    outs:
      - output.txt
"""


@dataclass
class Stage:
    name: str
    wall_s: float
    peak_bytes: int


@dataclass
class PipelineRun:
    wall_s: float
    stages: list[Stage]
    dvc_overhead_s: float
    dvc_peak_bytes: int | None
    fit_s: float | None
    test_accuracy: float


@dataclass
class ReferenceRun:
    wall_s: float
    fit_s: float
    import_s: float
    peak_bytes: int
    test_accuracy: float


@dataclass
class Settings:
    data_dir: Path
    epochs: int
    repeats: int
    noop_repeats: int
    exp_repeats: int
    floor_args: list[str]
    keep: bool
    workdir: Path
    env: dict[str, str] = field(default_factory=dict)


def parse_args() -> argparse.Namespace:
    parser = bench_parser(__doc__, "latest.json")
    parser.add_argument("--repeats", type=int, default=3, help="full runs of reference and pipeline (default: 3)")
    parser.add_argument("--epochs", type=int, help="override train.epochs for both (default: params.yaml)")
    args = parser.parse_args()
    if args.repeats < 1 or (args.epochs is not None and args.epochs < 1):
        parser.error("--repeats and --epochs must be at least 1")
    return args


def run_pipeline(settings: Settings, shim_dir: Path, index: int) -> tuple[PipelineRun, Path]:
    """One full `dvc repro` in a fresh copy. --force, because a fresh clone of a deterministic
    pipeline may find some stages' committed outputs (the figures) already up to date."""
    root = fresh_copy(settings.workdir / f"project-{index}", settings.data_dir, [f"train.epochs={settings.epochs}"])
    stage_log = settings.workdir / f"stages-{index}.jsonl"
    timings = settings.workdir / f"timings-{index}.jsonl"
    log = settings.workdir / f"repro-{index}.log"
    env = stage_env(settings.env, shim_dir, stage_log, timings)
    process = checked(
        run_process(["dvc", "repro", "--force"], root, env, log, poll_own_memory=True),
        "dvc repro --force",
        log,
    )
    commands = stage_commands(root)
    records = read_stage_log(stage_log, commands)
    ran = [name for name, _ in records]
    if sorted(ran) != sorted(commands):
        raise BenchError(f"dvc repro ran {ran}; expected every stage of dvc.yaml once: {list(commands)}")
    stages = [Stage(name, r["end"] - r["start"], r["maxrss_kib"] * 1024) for name, r in records]
    accuracy = json.loads((root / "metrics" / "test.json").read_text())["test"]["accuracy"]
    run = PipelineRun(
        wall_s=process.wall_s,
        stages=stages,
        dvc_overhead_s=process.wall_s - sum(stage.wall_s for stage in stages),
        dvc_peak_bytes=process.own_hwm_bytes,
        fit_s=read_timing(timings, "train", "fit"),
        test_accuracy=accuracy,
    )
    return run, root


def run_reference(settings: Settings, index: int) -> ReferenceRun:
    log = settings.workdir / f"reference-{index}.log"
    cmd = [sys.executable, str(BENCH_DIR / "reference.py"), str(settings.data_dir), "--epochs", str(settings.epochs)]
    process = checked(run_process(cmd, settings.workdir, settings.env, log), "bench/reference.py", log)
    result = json.loads(process.output.strip().splitlines()[-1])
    return ReferenceRun(
        process.wall_s, result["fit_s"], result["import_s"], process.maxrss_bytes, result["test_accuracy"]
    )


def trivial_project(settings: Settings) -> Path:
    """DVC's floor: a git repository with one stage that copies a small file."""
    root = settings.workdir / "trivial"
    root.mkdir()
    (root / "input.txt").write_text("input\n")
    (root / "dvc.yaml").write_text(TRIVIAL_DVC_YAML)
    git(["init", "-q"], root)
    checked(
        run_process(["dvc", "init", "-q"], root, settings.env, settings.workdir / "trivial-init.log"),
        "dvc init",
        settings.workdir / "trivial-init.log",
    )
    checked(
        run_process(["dvc", "repro"], root, settings.env, settings.workdir / "trivial-repro.log"),
        "dvc repro (trivial)",
        settings.workdir / "trivial-repro.log",
    )
    git(["add", "-A"], root)
    git(["commit", "-qm", "trivial"], root)
    return root


def noop_times(settings: Settings, project: Path, trivial: Path) -> dict[str, list[float]]:
    """Alternate no-op `dvc repro` in both projects, after one untimed run of each."""
    times: dict[str, list[float]] = {"project": [], "trivial": []}
    log = settings.workdir / "noop.log"
    for repeat in range(settings.noop_repeats + 1):
        for name, root in (("trivial", trivial), ("project", project)):
            process = checked(run_process(["dvc", "repro"], root, settings.env, log), f"no-op dvc repro ({name})", log)
            if "Running stage" in process.output:
                raise BenchError(f"the no-op dvc repro of the {name} project ran a stage:\n{process.output[-2000:]}")
            if repeat:
                times[name].append(process.wall_s)
    return times


def visualize_param(root: Path) -> tuple[str, int] | None:
    """A visualize param and its current value, if dvc.yaml has a visualize stage that reads one."""
    stages = yaml.safe_load((root / "dvc.yaml").read_text())["stages"]
    if "visualize" not in stages:
        return None
    section = yaml.safe_load((root / "params.yaml").read_text()).get("visualize") or {}
    numbers = {key: value for key, value in section.items() if isinstance(value, int) and not isinstance(value, bool)}
    if not numbers:
        return None
    key = "dpi" if "dpi" in numbers else sorted(numbers)[0]
    return f"visualize.{key}", numbers[key]


def visualize_turnaround(settings: Settings, shim_dir: Path, project: Path) -> dict | None:
    """Time `dvc exp run -S visualize.<key>=<new value>`, a new value each time, and check that only visualize ran."""
    param = visualize_param(project)
    if param is None:
        return None
    name, value = param
    commands = stage_commands(project)
    times, ran_stages = [], []
    for repeat in range(1, settings.exp_repeats + 1):
        stage_log = settings.workdir / f"exp-stages-{repeat}.jsonl"
        log = settings.workdir / f"exp-{repeat}.log"
        # dvc exp run composes params.yaml from conf/ again: the copy's epochs are among its overrides.
        cmd = ["dvc", "exp", "run", "-S", f"train.epochs={settings.epochs}", "-S", f"{name}={value + repeat}"]
        env = stage_env(settings.env, shim_dir, stage_log)
        process = checked(run_process(cmd, project, env, log), " ".join(cmd), log)
        ran = [stage for stage, _ in read_stage_log(stage_log, commands)]
        if ran != ["visualize"]:
            print(f"bench: warning: {' '.join(cmd)} ran {ran or 'no stage'}, not visualize alone", file=sys.stderr)
        ran_stages.append(ran)
        times.append(process.wall_s)
    return {
        "param": name,
        "values": [value + r for r in range(1, settings.exp_repeats + 1)],
        "wall_s": times,
        "stages_run": ran_stages,
    }


def measure_floor(settings: Settings, project: Path) -> dict:
    """The FLOP floor at the shapes of the model that the pipeline trained in project, with the batch size and
    split that trained it: read from the run itself, so that it follows whatever params trained the model."""
    params = yaml.safe_load((project / "params.yaml").read_text())
    model = ["--model", str(project / "models" / "model.keras")]
    train = params["train"]
    return time_floor(
        model,
        train["batch_size"],
        train["epochs"],
        split_sizes(params),
        settings.workdir,
        settings.env,
        settings.floor_args,
    )


def import_times(settings: Settings, repeats: int) -> list[float]:
    """Wall time of a Python process that only imports Keras (and with it TensorFlow), then exits at once."""
    log = settings.workdir / "import.log"
    code = "import os, keras; os._exit(0)"
    return [
        checked(
            run_process([sys.executable, "-c", code], settings.workdir, settings.env, log), "import keras", log
        ).wall_s
        for _ in range(repeats)
    ]


def split_sizes(params: dict) -> tuple[int, int]:
    """Training and validation images, as prepare splits them (and as Keras' validation_split=0.2 does)."""
    validation = round(params["prepare"]["val_fraction"] * MNIST_TRAIN_IMAGES)
    return MNIST_TRAIN_IMAGES - validation, validation


def summarize(
    references: list[ReferenceRun],
    pipelines: list[PipelineRun],
    noop: dict,
    turnaround: dict | None,
    floor: dict,
    imports: list[float],
) -> dict:
    stage_names = [stage.name for stage in pipelines[0].stages]
    per_stage = {
        name: {
            "wall_s": median([next(s.wall_s for s in run.stages if s.name == name) for run in pipelines]),
            "peak_bytes": max(next(s.peak_bytes for s in run.stages if s.name == name) for run in pipelines),
        }
        for name in stage_names
    }
    reference = {
        "wall_s": median([r.wall_s for r in references]),
        "fit_s": median([r.fit_s for r in references]),
        "import_s": median([r.import_s for r in references]),
        "peak_bytes": max(r.peak_bytes for r in references),
        "test_accuracy": median([r.test_accuracy for r in references]),
    }
    pipeline = {
        "wall_s": median([p.wall_s for p in pipelines]),
        "fit_s": median([p.fit_s for p in pipelines]),
        "dvc_overhead_s": median([p.dvc_overhead_s for p in pipelines]),
        "dvc_peak_bytes": max((p.dvc_peak_bytes or 0) for p in pipelines) or None,
        "test_accuracy": median([p.test_accuracy for p in pipelines]),
        "stages": per_stage,
    }
    summary = {
        "reference": reference,
        "pipeline": pipeline,
        "noop": {"project_s": median(noop["project"]), "trivial_s": median(noop["trivial"])},
        "floor": {key: value for key, value in floor.items() if key not in ("shapes", "model")},
        "import_keras_s": median(imports),
    }
    summary["ratios"] = {
        "repro_over_reference": pipeline["wall_s"] / reference["wall_s"],
        "pipeline_fit_over_floor": pipeline["fit_s"] / floor["floor_s"] if pipeline["fit_s"] else None,
        "reference_fit_over_floor": reference["fit_s"] / floor["floor_s"],
        "noop_over_dvc_floor": summary["noop"]["project_s"] / summary["noop"]["trivial_s"],
        "max_stage_peak_gb": max(s["peak_bytes"] for s in per_stage.values()) / GB,
    }
    if turnaround:
        summary["visualize_change"] = {"param": turnaround["param"], "wall_s": median(turnaround["wall_s"])}
        summary["ratios"]["reference_rerun_over_visualize_change"] = reference["wall_s"] / median(turnaround["wall_s"])
    return summary


def table(summary: dict, repeats: int, epochs: int) -> str:
    """The results as one Markdown table, targets and all."""
    ref, pipe, ratios, floor = summary["reference"], summary["pipeline"], summary["ratios"], summary["floor"]

    def s(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.2f} s" if value < 10 else f"{value:.1f} s"

    def gb(value: float | None) -> str:
        return "n/a" if value is None else f"{value / GB:.2f} GB"

    def x(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.2f}x"

    rows = [
        ("", "reference script", "DVC pipeline", "ratio", "target"),
        ("wall time, whole run", s(ref["wall_s"]), s(pipe["wall_s"]), x(ratios["repro_over_reference"]), "≤ 1.10x"),
        ("fit time", s(ref["fit_s"]), s(pipe["fit_s"]), x(pipe["fit_s"] / ref["fit_s"] if pipe["fit_s"] else None), ""),
        (
            f"fit time / FLOP floor ({s(floor['floor_s'])})",
            x(ratios["reference_fit_over_floor"]),
            x(ratios["pipeline_fit_over_floor"]),
            "",
            "≤ 1.30x",
        ),
        (
            "peak memory (largest process)",
            gb(ref["peak_bytes"]),
            gb(max(stage["peak_bytes"] for stage in pipe["stages"].values())),
            "",
            "≤ 1.00 GB per stage",
        ),
        ("test accuracy", f"{ref['test_accuracy']:.4f}", f"{pipe['test_accuracy']:.4f}", "", ""),
    ]
    for name, stage in pipe["stages"].items():
        rows.append(
            (f"stage `{name}`: wall, peak memory", "", f"{s(stage['wall_s'])}, {gb(stage['peak_bytes'])}", "", "")
        )
    rows.append(
        (
            "DVC itself during `dvc repro`: time, peak memory",
            "",
            f"{s(pipe['dvc_overhead_s'])}, {gb(pipe['dvc_peak_bytes'])}",
            "",
            "",
        )
    )
    rows.append(
        (
            "`import keras` (TensorFlow start-up): in the script, in a bare process",
            s(ref["import_s"]),
            s(summary["import_keras_s"]),
            "",
            "",
        )
    )
    noop = summary["noop"]
    rows.append(
        (
            "no-op `dvc repro`: a one-stage project (DVC's floor) vs this project",
            s(noop["trivial_s"]),
            s(noop["project_s"]),
            x(ratios["noop_over_dvc_floor"]),
            "≤ 1.30x",
        )
    )
    change = summary.get("visualize_change")
    if change:
        rows.append(
            (
                f"change `{change['param']}`: rerun script vs `dvc exp run -S`",
                s(ref["wall_s"]),
                s(change["wall_s"]),
                f"{ratios['reference_rerun_over_visualize_change']:.1f}x faster",
                "≥ 5x",
            )
        )
    else:
        rows.append(("change a visualize param", s(ref["wall_s"]), "n/a (no visualize stage)", "", "≥ 5x"))
    rows.append(
        (
            "FLOP floor: training FLOPs / matmul rate",
            "",
            f"{floor['total_flops'] / 1e12:.2f} TFLOP / {floor['gflops_per_s']:.0f} GFLOP/s = {s(floor['floor_s'])}",
            "",
            "",
        )
    )
    lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
    lines += ["| " + " | ".join(row) + " |" for row in rows[1:]]
    note = f"{epochs} epochs; medians of {repeats} run(s); peak memory is the largest of the runs; 1 GB = 10^9 bytes."
    return "\n".join(lines) + "\n\n" + note


def benchmark(settings: Settings) -> dict:
    shim_dir = make_shim(settings.workdir)
    started, load_at_start = time.time(), os.getloadavg()
    print("bench: import keras", flush=True)
    imports = import_times(settings, settings.repeats)
    references, pipelines, project = [], [], None
    for index in range(1, settings.repeats + 1):
        print(f"bench: run {index} of {settings.repeats}: reference script", flush=True)
        references.append(run_reference(settings, index))
        print(f"bench: run {index} of {settings.repeats}: dvc repro in a fresh copy", flush=True)
        if project is not None and not settings.keep:
            shutil.rmtree(project)
        run, project = run_pipeline(settings, shim_dir, index)
        pipelines.append(run)
    print(f"bench: FLOP floor at the trained model's shapes ({settings.epochs} epochs)", flush=True)
    floor = measure_floor(settings, project)
    git(["add", "-A"], project)
    git(["commit", "-q", "--allow-empty", "-m", "the benchmark's run"], project)
    print("bench: no-op dvc repro, this project and a trivial one", flush=True)
    noop = noop_times(settings, project, trivial_project(settings))
    print("bench: visualize param change with dvc exp run", flush=True)
    turnaround = visualize_turnaround(settings, shim_dir, project)
    summary = summarize(references, pipelines, noop, turnaround, floor, imports)
    return {
        "summary": summary,
        "table": table(summary, settings.repeats, settings.epochs),
        "settings": {
            "epochs": settings.epochs,
            "repeats": settings.repeats,
            "noop_repeats": settings.noop_repeats,
            "exp_repeats": settings.exp_repeats,
        },
        "machine": machine(load_at_start),
        "versions": versions(settings.env),
        "duration_s": time.time() - started,
        "runs": {
            "reference": [asdict(r) for r in references],
            "pipeline": [asdict(p) for p in pipelines],
            "noop": noop,
            "visualize_change": turnaround,
            "floor_shapes": floor["shapes"],
            "import_keras_s": imports,
        },
    }


def main() -> None:
    args = parse_args()
    try:
        check_data_dir(args.data_dir)
        env = base_env(venv_bin())
        params = yaml.safe_load((PROJECT_ROOT / "params.yaml").read_text())
        epochs = args.epochs or (3 if args.quick else params["train"]["epochs"])
        workdir = Path(tempfile.mkdtemp(prefix="mnist-bench-"))
        settings = Settings(
            data_dir=args.data_dir.resolve(),
            epochs=epochs,
            repeats=1 if args.quick else args.repeats,
            noop_repeats=3 if args.quick else 7,
            exp_repeats=1 if args.quick else 3,
            floor_args=["--rounds", "3", "--min-seconds", "0.05"] if args.quick else [],
            keep=args.keep,
            workdir=workdir,
            env=env,
        )
        warn_if_busy()
        try:
            results = benchmark(settings)
        finally:
            if not args.keep:
                shutil.rmtree(workdir, ignore_errors=True)
    except BenchError as error:
        sys.exit(f"bench: error: {error}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print()
    print(results["table"])
    print(
        f"\nbench: {results['duration_s']:.0f} s; numbers in {args.out}"
        + (f"; temporary projects in {workdir}" if args.keep else "")
    )


if __name__ == "__main__":
    main()
