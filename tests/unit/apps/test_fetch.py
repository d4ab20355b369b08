"""fetch: a dataset's raw files into data/raw/<dataset>/ from the mirrors or as they are, verified, then recorded
by DVC through the pipeline's check stage."""

import gzip
import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.helpers.data import install_tiny_dataset, tiny_payloads
from tests.helpers.project import PROJECT_ROOT, make_project, project_env, run, tiny_params, write_params
from tests.helpers.servers import closed_port_url


def fetch(root, *args):
    env = {**project_env(), "PYTHONPATH": str(PROJECT_ROOT)}
    env.pop("MNIST_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", "mnist_dvc.apps.fetch", *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def repository(tmp_path):
    """An empty git + DVC repository with the project's params."""
    run(["git", "init", "-q", "-b", "main"], tmp_path)
    run(["dvc", "init", "-q"], tmp_path)
    write_params(tmp_path, tiny_params())
    return tmp_path


def test_downloads_what_is_missing_and_dvc_records_the_folder(tmp_path, mirror_server):
    project = make_project(tmp_path / "project")
    shutil.rmtree(project / "data/raw/tiny")
    payloads = tiny_payloads()
    entry = install_tiny_dataset(project, payloads, mirrors=[mirror_server.url("mirror")], write_files=False)
    for role, payload in payloads.items():
        mirror_server.routes[f"mirror/{entry['files'][role]['name']}"] = gzip.compress(payload, mtime=0)

    result = fetch(project)  # the dataset that params.yaml names
    assert result.returncode == 0, result.stderr
    assert sorted(os.listdir(project / "data/raw/tiny")) == sorted(f["name"] for f in entry["files"].values())
    assert result.stdout.count(": downloaded") == 4
    assert "check: params.yaml is valid; the 4 files in data/raw/ match datasets.yaml" in result.stdout
    assert "check" not in json.loads(run(["dvc", "status", "--json"], project).stdout), "recorded in dvc.lock"

    again = fetch(project, "tiny")
    assert again.returncode == 0 and again.stdout.count(": verified") == 4
    assert len(mirror_server.requests) == 4, "files already there are never downloaded again"


def test_a_bad_local_file_stops_it_and_is_left_alone(repository):
    install_tiny_dataset(repository, mirrors=[closed_port_url()])
    bad = repository / "data/raw/tiny/t10k-labels-idx1-ubyte.gz"
    bad.write_bytes(b"")
    result = fetch(repository, "tiny")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.splitlines()[-1] == (
        f"fetch: error: {bad.relative_to(repository)}: file is empty (0 bytes); delete it to download it again"
    )
    assert bad.read_bytes() == b""
    assert not (repository / "dvc.lock").exists(), "nothing recorded"


def test_no_network_names_the_file_and_where_to_put_it(repository):
    install_tiny_dataset(repository, mirrors=[closed_port_url()], write_files=False)
    result = fetch(repository, "tiny")
    assert result.returncode == 1
    assert "put the genuine train-images-idx3-ubyte.gz in data/raw/tiny/" in result.stderr.splitlines()[-1]
    assert not list((repository / "data/raw/tiny").glob("*"))


def test_an_unknown_dataset_is_named_as_the_user_gave_it(repository):
    install_tiny_dataset(repository, write_files=False)
    result = fetch(repository, "cifar")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "fetch: error: DATASET = 'cifar'; expected one of the datasets in datasets.yaml: tiny"
    ]
