"""Obtaining the raw dataset files: verified local copies first, then the mirrors in order.

A file is downloaded to a temporary name, checked against its pinned checksum
and only then renamed into place, so a partial or wrong download is never
left where it would be picked up as good.
"""

import http.client
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from mnist_dvc.core.errors import DataError, DownloadError
from mnist_dvc.core.files import atomic_path
from mnist_dvc.data.datasets import RawFile, read_verified

TIMEOUT_S = 30.0
ATTEMPTS = 3
BACKOFF_S = 1.0
_CHUNK = 1 << 16


def obtain(raw_file: RawFile, mirrors: tuple[str, ...], directory: Path, **download_options: float) -> str:
    """Make sure directory holds a verified copy of raw_file; download it only if there is none.

    A copy that fails its checksum is an error, never moved or replaced: it may be the only one, and in a
    folder that DVC tracks a replaced file would be a silent change. Returns what was done.
    """
    path = Path(directory) / raw_file.name
    if path.exists():
        try:
            read_verified(path, raw_file)
        except DataError as error:
            raise DataError(f"{error}; delete it to download it again") from None
        return "verified"
    download(raw_file, mirrors, path, **download_options)
    return "downloaded"


def download(
    raw_file: RawFile,
    mirrors: tuple[str, ...],
    target: Path,
    *,
    timeout: float = TIMEOUT_S,
    attempts: int = ATTEMPTS,
    backoff: float = BACKOFF_S,
) -> bytes:
    """Fetch raw_file from the first mirror that delivers the right bytes; return its payload."""
    failures = []
    for mirror in mirrors:
        url = mirror + raw_file.name
        for attempt in range(1, attempts + 1):
            try:
                with atomic_path(target) as temp:
                    _fetch(url, temp, timeout)
                    payload = read_verified(temp, raw_file, source=url)
                return payload
            except urllib.error.HTTPError as error:
                failure, retry = f"HTTP {error.code} {error.reason}", error.code >= 500
            except DataError as error:
                failure, retry = str(error).removeprefix(f"{url}: "), False
            except (urllib.error.URLError, http.client.HTTPException, OSError) as error:
                failure, retry = _describe(error, timeout), True
            print(f"{url}: attempt {attempt} of {attempts} failed: {failure}", file=sys.stderr)
            if not retry or attempt == attempts:
                failures.append(f"{url} ({failure})")
                break
            time.sleep(backoff * attempt)
    tried = "; ".join(failures) if failures else "no mirrors are defined"
    raise DownloadError(
        f"{target}: could not download it: {tried}. "
        f"Without network access, put the genuine {raw_file.name} in {target.parent}/"
    )


def _fetch(url: str, destination: Path, timeout: float) -> None:
    request = urllib.request.Request(url, headers={"User-Agent": "mnist-dvc-pipeline"})
    with urllib.request.urlopen(request, timeout=timeout) as response, open(destination, "wb") as out:
        total = int(response.headers.get("Content-Length") or 0)
        progress = _Progress(url, total)
        received = 0
        while chunk := response.read(_CHUNK):
            out.write(chunk)
            received += len(chunk)
            progress.update(received)
        if total and received != total:
            raise http.client.IncompleteRead(b"", total - received)
        progress.done(received)


def _describe(error: Exception, timeout: float) -> str:
    reason = getattr(error, "reason", error)
    if isinstance(reason, TimeoutError):
        return f"no answer within {timeout:g} s"
    if isinstance(error, http.client.IncompleteRead):
        return "connection dropped before the end of the file"
    return str(reason) or type(reason).__name__


class _Progress:
    """Download progress on stderr: a live line on a terminal, every 10% in a log."""

    def __init__(self, url: str, total: int):
        self.url, self.total = url, total
        self.live = sys.stderr.isatty()
        self.shown = -1

    def update(self, received: int) -> None:
        if not self.total:
            return
        percent = 100 * received // self.total
        if self.live or percent // 10 > self.shown // 10:
            end = "\r" if self.live else "\n"
            print(f"downloading {self.url}: {percent:3d}% of {self.total / 1e6:.1f} MB", end=end, file=sys.stderr)
            self.shown = percent

    def done(self, received: int) -> None:
        print(f"downloaded {self.url}: {received / 1e6:.1f} MB", file=sys.stderr)
