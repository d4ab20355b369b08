"""Checks that need a tool the machine may lack: skipped here, failed in CI, which must run every check."""

import os
from typing import NoReturn

import pytest


def skip_or_fail_in_ci(check: str, missing: str) -> NoReturn:
    """Skip a check whose tool is missing, saying why; in CI (CI=true) fail instead: CI must run every check."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{check} cannot run in CI: {missing}", pytrace=False)
    pytest.skip(f"{check} skipped: {missing}")
