"""What every benchmark shares: measured child processes, fresh copies of the project, the stage-timing wrapper,
the timings the stages record, medians, and where and on what the numbers were taken.

The scenarios are the other modules of bench/, each run as `python -m bench.<name>`.
"""

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from mnist_dvc.core import runtime
from mnist_dvc.core.params import compose
from mnist_dvc.core.stage import TIMINGS_ENV

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = BENCH_DIR.parent
MNIST_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)
MNIST_TRAIN_IMAGES = 60000
GB = 1e9

# The wrapper that stands in for `python` while DVC runs the stages: it runs the
# real interpreter as a child and logs its wall time and peak memory.
STAGE_WRAPPER = """#!{python} -S
import json, os, sys, time
real, log = os.environ["BENCH_REAL_PYTHON"], os.environ["BENCH_STAGE_LOG"]
started = time.time()
pid = os.fork()
if pid == 0:
    os.execv(real, [real, *sys.argv[1:]])
_, status, usage = os.wait4(pid, 0)
record = {{"argv": sys.argv[1:], "start": started, "end": time.time(), "maxrss_kib": usage.ru_maxrss}}
with open(log, "a") as out:
    out.write(json.dumps(record) + "\\n")
sys.exit(os.waitstatus_to_exitcode(status))
"""


class BenchError(Exception):
    """A failure that ends the benchmark with one line."""


@dataclass
class Process:
    """One measured child process."""

    wall_s: float
    maxrss_bytes: int  # the largest of the process and its waited-for descendants
    own_hwm_bytes: int | None  # the process alone (VmHWM), when polled
    output: str
    returncode: int


def bench_parser(description: str, results_name: str) -> argparse.ArgumentParser:
    """The arguments every benchmark takes: the MNIST files, --quick, --out and --keep."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data_dir", type=Path, help="directory holding the four MNIST .gz files")
    parser.add_argument("--quick", action="store_true", help="smoke run: a few epochs, one repetition")
    parser.add_argument(
        "--out",
        type=Path,
        default=BENCH_DIR / "results" / results_name,
        help=f"where to write the numbers as JSON (default: bench/results/{results_name})",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary projects and logs")
    return parser


def check_data_dir(data_dir: Path) -> None:
    if not data_dir.is_dir():
        raise BenchError(f"{data_dir}: not a directory; expected one holding {', '.join(MNIST_FILES)}")
    missing = [name for name in MNIST_FILES if not (data_dir / name).is_file()]
    if missing:
        raise BenchError(f"{data_dir}: missing {', '.join(missing)}; expected the four MNIST .gz files")


def venv_bin() -> Path:
    """The bin directory of the interpreter running this script: its `python` and `dvc` are the ones measured."""
    bin_dir = Path(sys.executable).parent
    if not (bin_dir / "dvc").exists():
        raise BenchError(f"{bin_dir}: has no dvc; run this script with the project's environment (.venv/bin/python)")
    return bin_dir


def base_env(bin_dir: Path) -> dict[str, str]:
    """The environment the benchmark was started in, with bin_dir first on PATH. Not this process's own: importing
    mnist_dvc set its TensorFlow settings (the same bytes on every machine), which the scripts it times must not
    inherit; they run with TensorFlow's defaults, as their users run them, and each stage sets its own."""
    env = runtime.environment_as_started()
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(bin_dir.parent)
    env["DVC_NO_ANALYTICS"] = "1"  # no background upload competing for the cores between runs
    env.pop("PYTHONPATH", None)
    return env


def read_hwm(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def run_process(cmd: list[str], cwd: Path, env: dict[str, str], log: Path, poll_own_memory: bool = False) -> Process:
    """Run cmd to completion, output to log; measure wall time and peak memory from the kernel's accounting."""
    with open(log, "w") as out:
        started = time.perf_counter()
        child = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
        own_hwm = [None]
        done = threading.Event()
        if poll_own_memory:

            def poll() -> None:
                while not done.wait(0.05):
                    own_hwm[0] = read_hwm(child.pid) or own_hwm[0]

            poller = threading.Thread(target=poll, daemon=True)
            poller.start()
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
        done.set()
        child.returncode = os.waitstatus_to_exitcode(status)
    return Process(wall, usage.ru_maxrss * 1024, own_hwm[0], log.read_text(errors="replace"), child.returncode)


def checked(process: Process, what: str, log: Path) -> Process:
    if process.returncode != 0:
        tail = "\n".join(process.output.splitlines()[-15:])
        raise BenchError(f"{what} failed with exit status {process.returncode} (log: {log}):\n{tail}")
    return process


def time_floor(
    shapes: list[str],
    batch: int,
    epochs: int,
    sizes: tuple[int, int],
    workdir: Path,
    env: dict[str, str],
    extra: Sequence[str] = (),
) -> dict:
    """bench/floor.py's result for these shapes (--model PATH or --layers WIDTHS), batch size, epochs and split sizes
    (training, validation), run as its own process in workdir, with TensorFlow's defaults when env is base_env's."""
    cmd = [sys.executable, str(BENCH_DIR / "floor.py"), *shapes, "--batch", str(batch), "--epochs", str(epochs)]
    cmd += ["--train", str(sizes[0]), "--validation", str(sizes[1]), *extra]
    log = workdir / "floor.log"
    process = checked(run_process(cmd, workdir, env, log), "bench/floor.py", log)
    return json.loads(process.output.strip().splitlines()[-1])


def git(args: list[str], cwd: Path) -> str:
    identity = ["-c", "user.name=bench", "-c", "user.email=bench@localhost", "-c", "commit.gpgsign=false"]
    result = subprocess.run(["git", *identity, *args], cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        raise BenchError(f"git {' '.join(args)} in {cwd} failed: {result.stderr.strip()}")
    return result.stdout


def dvc(args: list[str], cwd: Path, env: dict[str, str]) -> str:
    """What a dvc command prints on stdout (stderr apart, where DVC writes its warnings); a BenchError if it fails."""
    result = subprocess.run(["dvc", *args], cwd=cwd, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise BenchError(f"dvc {' '.join(args)} in {cwd} failed: {result.stderr.strip()}")
    return result.stdout


def project_files() -> list[str]:
    """The project as a clone would have it, plus work not yet committed: tracked and untracked, not ignored."""
    listed = git(["ls-files", "-z", "--cached", "--others", "--exclude-standard"], PROJECT_ROOT).split("\0")
    return sorted({name for name in listed if name and (PROJECT_ROOT / name).is_file()})


def fresh_copy(root: Path, data_dir: Path, overrides: list[str] = ()) -> Path:
    """A new git repository at root holding the project, the MNIST files in data/raw/mnist and an empty DVC cache,
    with params.yaml composed with the overrides (as `dvc exp run -S` composes it) and committed: what a clone would
    be, ready for `dvc repro` and `dvc exp run`."""
    for relative in project_files():
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(PROJECT_ROOT / relative, target)
    raw = root / "data" / "raw" / "mnist"
    raw.mkdir(parents=True, exist_ok=True)
    for file in MNIST_FILES:
        shutil.copy2(data_dir / file, raw / file)
    compose(root / "params.yaml", overrides, root)
    git(["init", "-q"], root)
    git(["add", "-A"], root)
    git(["commit", "-qm", "benchmark copy"], root)
    return root


def stage_commands(root: Path) -> dict[str, str]:
    """Each stage's command, from dvc.yaml, in order."""
    stages = yaml.safe_load((root / "dvc.yaml").read_text())["stages"]
    return {name: " ".join(str(spec["cmd"]).split()) for name, spec in stages.items()}


def read_stage_log(log: Path, commands: dict[str, str]) -> list[tuple[str, dict]]:
    """The wrapper's records, each matched to the stage whose command started it."""
    if not log.exists():
        return []
    records = []
    for line in log.read_text().splitlines():
        record = json.loads(line)
        command = " ".join(["python", *record["argv"]])
        name = next((stage for stage, cmd in commands.items() if cmd == command), command)
        records.append((name, record))
    return records


def stage_env(env: dict[str, str], shim_dir: Path, log: Path, timings: Path | None = None) -> dict[str, str]:
    """env with the wrapper first on PATH, logging to log; and, given timings, the file the stages record
    their own timings in."""
    env = dict(env)
    env["PATH"] = f"{shim_dir}{os.pathsep}{env['PATH']}"
    env["BENCH_REAL_PYTHON"] = sys.executable
    env["BENCH_STAGE_LOG"] = str(log)
    if timings is not None:
        env[TIMINGS_ENV] = str(timings)
    return env


def read_timing(timings: Path, stage: str, name: str) -> float | None:
    """The last duration a stage recorded under name in the MNIST_TIMINGS file, or None if it recorded none
    (the stage did not run, or ran from an older version that records nothing)."""
    if not timings.exists():
        return None
    records = [json.loads(line) for line in timings.read_text().splitlines() if line.strip()]
    found = [r["seconds"] for r in records if r.get("stage") == stage and r.get("name") == name]
    return found[-1] if found else None


def make_shim(workdir: Path) -> Path:
    """The directory holding the timing wrapper that stands in for `python` (STAGE_WRAPPER)."""
    shim_dir = workdir / "shim"
    shim_dir.mkdir(exist_ok=True)
    wrapper = shim_dir / "python"
    wrapper.write_text(STAGE_WRAPPER.format(python=sys.executable))
    wrapper.chmod(0o755)
    return shim_dir


def median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def machine(load_at_start: tuple[float, float, float]) -> dict:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "load_average_at_start": load_at_start,
        "load_average_at_end": os.getloadavg(),
    }


def versions(env: dict[str, str]) -> dict:
    code = (
        "import json, importlib.metadata as m; "
        "print(json.dumps({p: m.version(p) for p in ('tensorflow', 'keras', 'dvc', 'numpy')}))"
    )
    return json.loads(
        subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    )


def warn_if_busy() -> None:
    """Say so when the machine is already busy: the timings would measure the other load too."""
    if os.getloadavg()[0] > 0.5:
        print(
            f"bench: warning: load average {os.getloadavg()[0]:.2f}; timings are noisy on a busy machine",
            file=sys.stderr,
        )


def run_and_report(name: str, args: argparse.Namespace, measure: Callable[[argparse.Namespace, Path], dict]) -> None:
    """The main of the benchmarks that take DATA_DIR, --out and --keep: measure in a temporary directory,
    then write the numbers as JSON and print the table."""
    workdir = Path(tempfile.mkdtemp(prefix=f"mnist-{name}-"))
    kept = f" (temporary directory {workdir})" if args.keep else ""
    try:
        check_data_dir(args.data_dir)
        warn_if_busy()
        results = measure(args, workdir)
    except BenchError as error:
        sys.exit(f"{name}: error: {error}{kept}")
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print()
    print(results["table"])
    print(f"\n{name}: numbers in {args.out}{kept}")
