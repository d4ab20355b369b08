"""Shared fixtures: tiny generated datasets and throwaway copies of the project."""

import gzip
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from stages.idx import encode_idx

PROJECT_ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = str(Path(sys.executable).parent)
CLASSES = tuple(str(digit) for digit in range(10))

# What a copy of the project leaves behind: environments, data, outputs.
_NOT_COPIED = {
    ".git",
    ".venv",
    ".dvc",
    "data",
    "models",
    "metrics",
    "plots",
    "bench",
    "__pycache__",
    ".pytest_cache",
    ".ruff_cache",
    "node_modules",
    "dvc_plots",
    ".artifacts",
}


def tiny_images(labels: np.ndarray, seed: int) -> np.ndarray:
    """28x28 uint8 images in which each label lights its own band, so a model can learn them."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 60, size=(len(labels), 28, 28), dtype=np.uint8)
    for index, label in enumerate(labels):
        images[index, 2 + 2 * label : 4 + 2 * label, 4:24] = 255
    return images


def tiny_labels(count: int, seed: int) -> np.ndarray:
    """Labels that cover every class."""
    rng = np.random.default_rng(seed)
    return rng.permutation(np.arange(count) % 10).astype(np.uint8)


def write_gz(path: Path, payload: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(payload, mtime=0))


def dataset_entry(payloads: dict[str, bytes], mirrors: list[str] | None = None) -> dict:
    """A datasets.yaml entry pinning the given IDX payloads, keyed by role."""
    names = {
        "train_images": "train-images-idx3-ubyte.gz",
        "train_labels": "train-labels-idx1-ubyte.gz",
        "test_images": "t10k-images-idx3-ubyte.gz",
        "test_labels": "t10k-labels-idx1-ubyte.gz",
    }
    return {
        "mirrors": mirrors or [],
        "image_shape": [28, 28],
        "classes": list(CLASSES),
        "files": {
            role: {"name": names[role], "idx_sha256": hashlib.sha256(payload).hexdigest()}
            for role, payload in payloads.items()
        },
    }


def tiny_payloads(n_train: int = 200, n_test: int = 100, seed: int = 0) -> dict[str, bytes]:
    train_labels, test_labels = tiny_labels(n_train, seed), tiny_labels(n_test, seed + 1)
    return {
        "train_images": encode_idx(tiny_images(train_labels, seed)),
        "train_labels": encode_idx(train_labels),
        "test_images": encode_idx(tiny_images(test_labels, seed + 1)),
        "test_labels": encode_idx(test_labels),
    }


def install_tiny_dataset(
    root: Path,
    payloads: dict[str, bytes] | None = None,
    mirrors: list[str] | None = None,
    write_files: bool = True,
    name: str = "tiny",
) -> dict:
    """Define a dataset (default 'tiny') in root/datasets.yaml, beside any already there, and unless told not
    to write its raw files to root/data/raw/<name>/."""
    payloads = payloads or tiny_payloads()
    entry = dataset_entry(payloads, mirrors)
    definitions_file = root / "datasets.yaml"
    definitions = yaml.safe_load(definitions_file.read_text()) if definitions_file.exists() else {}
    definitions_file.write_text(yaml.safe_dump({**definitions, name: entry}, sort_keys=False))
    if write_files:
        for role, payload in payloads.items():
            write_gz(root / "data" / "raw" / name / entry["files"][role]["name"], payload)
    return entry


TINY_TRAIN = {
    "model": "mlp",
    "cnn": {"filters": [32, 64], "kernel_size": 3, "pooling": "max", "batch_norm": False},
    "hidden_units": [32, 16],
    "hidden_activation": "sigmoid",
    "output_activation": "sigmoid",
    "optimizer": "adam",
    "learning_rate": 0.01,
    "schedule": "constant",
    "warmup_epochs": 0,
    "momentum": 0.0,
    "weight_decay": 0.0,
    "label_smoothing": 0.0,
    "batch_size": 32,
    "epochs": 5,
    "dropout": 0.0,
    "early_stopping_patience": 0,
    "augment": {"shift": 0, "rotation": 0, "zoom": 0.0},
}


def tiny_params(**train_overrides: object) -> dict:
    params = yaml.safe_load((PROJECT_ROOT / "params.yaml").read_text())
    params["prepare"]["dataset"] = "tiny"
    params["train"] = {**TINY_TRAIN, **train_overrides}
    params["visualize"]["sample_images"] = 16
    return params


def write_params(root: Path, params: dict) -> None:
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def set_param(root: Path, section: str | None, key: str, value: object) -> None:
    """Change one value of root/params.yaml: section.key, or a top-level key when section is None."""
    params = yaml.safe_load((root / "params.yaml").read_text())
    (params[section] if section else params)[key] = value
    write_params(root, params)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the project's code in a fresh git+DVC repository, with tiny data and tiny params."""
    return make_project(tmp_path / "project")


def make_project(root: Path) -> Path:
    """The project's code in a new git repository at root, with the tiny dataset tracked by DVC, and committed."""
    shutil.copytree(PROJECT_ROOT, root, ignore=lambda d, names: [n for n in names if n in _NOT_COPIED])
    install_tiny_dataset(root)
    write_params(root, tiny_params())
    run(["git", "init", "-q", "-b", "main"], root)
    run(["git", "config", "user.name", "test"], root)
    run(["git", "config", "user.email", "test@example.com"], root)
    run(["dvc", "init", "-q"], root)
    for source in (*(PROJECT_ROOT / ".dvc").glob("config*"), PROJECT_ROOT / ".dvc/plots_offline.html"):
        shutil.copy(source, root / ".dvc" / source.name)
    run(["dvc", "add", "-q", "data/raw/tiny"], root)
    run(["git", "add", "-A"], root)
    run(["git", "commit", "-qm", "tiny project"], root)
    return root


def project_env() -> dict[str, str]:
    """The environment for commands run in a project copy: this venv first, no analytics."""
    env = dict(os.environ)
    env["PATH"] = VENV_BIN + os.pathsep + env.get("PATH", "")
    env["DVC_NO_ANALYTICS"] = "1"
    env["GIT_AUTHOR_NAME"] = env["GIT_COMMITTER_NAME"] = "test"
    env["GIT_AUTHOR_EMAIL"] = env["GIT_COMMITTER_EMAIL"] = "test@example.com"
    return env


def run(command: list[str], cwd: Path, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run a command in a project copy and return its result; fail with its output if check and it fails."""
    result = subprocess.run(command, cwd=cwd, env=project_env(), capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        pytest.fail(f"{' '.join(command)} exited {result.returncode}\n{result.stdout}\n{result.stderr}")
    return result


class MirrorServer:
    """A small HTTP server on 127.0.0.1 whose answer per path a test chooses.

    Each route maps a path ("<mirror>/<file name>") to bytes to serve, or to one of: "404", "drop"
    (promise the whole file, send half, hang up) and "hang" (never answer).
    """

    def __init__(self) -> None:
        import http.server
        import threading

        self.routes: dict[str, bytes | tuple[str, bytes]] = {}
        self.requests: list[str] = []
        self.release = threading.Event()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the name http.server dispatches to
                path = self.path.lstrip("/")
                server.requests.append(path)
                route = server.routes.get(path, "404")
                if route == "hang":
                    server.release.wait(30)
                    return
                if route == "404":
                    self.send_error(404)
                    return
                behaviour, body = route if isinstance(route, tuple) else ("ok", route)
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body if behaviour == "ok" else body[: len(body) // 2])
                if behaviour == "drop":
                    self.close_connection = True

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, prefix: str = "mirror") -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{prefix}/"

    def close(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="session")
def drawn_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny model, sigmoid output like the reference, that knows drawn 0s, 1s and 7s (tests/drawn.py)."""
    from tests.drawn import train_drawn_model

    return train_drawn_model(tmp_path_factory.mktemp("drawn_model") / "model.keras")


@pytest.fixture
def mirror_server():
    server = MirrorServer()
    yield server
    server.close()


def closed_port_url() -> str:
    """A mirror URL on 127.0.0.1 where nothing listens: a machine with no network."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/mnist/"
