"""Downloads against a real HTTP server on 127.0.0.1: mirrors, retries, timeouts, bad bytes."""

import gzip

import pytest

from mnist_dvc.core.errors import DataError, DownloadError
from mnist_dvc.data.datasets import RawFile
from mnist_dvc.data.download import download, obtain
from tests.helpers.data import dataset_entry, tiny_payloads

FAST = {"timeout": 1.0, "attempts": 2, "backoff": 0.01}


@pytest.fixture
def labels():
    payload = tiny_payloads(50, 10)["train_labels"]
    raw_file = RawFile(**dataset_entry({"train_labels": payload})["files"]["train_labels"])
    return raw_file, payload, gzip.compress(payload, mtime=0)


def leftovers(directory):
    return sorted(path.name for path in directory.iterdir())


def test_first_mirror_404_then_second_works(tmp_path, mirror_server, labels):
    raw_file, payload, body = labels
    mirror_server.routes[f"b/{raw_file.name}"] = body
    mirrors = (mirror_server.url("a"), mirror_server.url("b"))
    assert download(raw_file, mirrors, tmp_path / raw_file.name, **FAST) == payload
    assert (tmp_path / raw_file.name).read_bytes() == body
    assert mirror_server.requests == [f"a/{raw_file.name}", f"b/{raw_file.name}"]


def test_dropped_connection_is_retried_and_never_left_as_complete(tmp_path, mirror_server, labels):
    raw_file, _, body = labels
    mirror_server.routes[f"a/{raw_file.name}"] = ("drop", body)
    with pytest.raises(DownloadError, match="connection dropped"):
        download(raw_file, (mirror_server.url("a"),), tmp_path / raw_file.name, **FAST)
    assert mirror_server.requests == [f"a/{raw_file.name}"] * 2
    assert leftovers(tmp_path) == []


def test_wrong_bytes_are_refused_and_the_next_mirror_used(tmp_path, mirror_server, labels):
    raw_file, payload, body = labels
    mirror_server.routes[f"a/{raw_file.name}"] = gzip.compress(b"not the data")
    mirror_server.routes[f"b/{raw_file.name}"] = body
    assert (
        download(raw_file, (mirror_server.url("a"), mirror_server.url("b")), tmp_path / raw_file.name, **FAST)
        == payload
    )
    assert leftovers(tmp_path) == [raw_file.name]


def test_wrong_bytes_everywhere_fail_with_the_checksum_and_leave_nothing(tmp_path, mirror_server, labels):
    raw_file, _, _ = labels
    mirror_server.routes[f"a/{raw_file.name}"] = gzip.compress(b"not the data")
    with pytest.raises(DownloadError, match="checksum mismatch"):
        download(raw_file, (mirror_server.url("a"),), tmp_path / raw_file.name, **FAST)
    assert leftovers(tmp_path) == []


def test_server_that_never_answers_times_out(tmp_path, mirror_server, labels):
    raw_file, _, _ = labels
    mirror_server.routes[f"a/{raw_file.name}"] = "hang"
    options = {**FAST, "timeout": 0.3, "attempts": 1}
    with pytest.raises(DownloadError, match="no answer within 0.3 s.*put the genuine"):
        download(raw_file, (mirror_server.url("a"),), tmp_path / raw_file.name, **options)
    assert leftovers(tmp_path) == []


def test_good_local_file_is_verified_without_any_request(tmp_path, mirror_server, labels):
    raw_file, _, body = labels
    (tmp_path / raw_file.name).write_bytes(body)
    assert obtain(raw_file, (mirror_server.url("a"),), tmp_path, **FAST) == "verified"
    assert mirror_server.requests == []


def test_missing_file_is_downloaded(tmp_path, mirror_server, labels):
    raw_file, _, body = labels
    mirror_server.routes[f"a/{raw_file.name}"] = body
    assert obtain(raw_file, (mirror_server.url("a"),), tmp_path, **FAST) == "downloaded"
    assert (tmp_path / raw_file.name).read_bytes() == body


def test_bad_local_file_is_an_error_and_stays_as_it_is(tmp_path, mirror_server, labels):
    raw_file, _, body = labels
    (tmp_path / raw_file.name).write_bytes(b"garbage")
    mirror_server.routes[f"a/{raw_file.name}"] = body
    with pytest.raises(DataError, match="not a gzip file .*; delete it to download it again"):
        obtain(raw_file, (mirror_server.url("a"),), tmp_path, **FAST)
    assert leftovers(tmp_path) == [raw_file.name]
    assert (tmp_path / raw_file.name).read_bytes() == b"garbage"
    assert mirror_server.requests == []
