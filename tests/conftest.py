"""Fixtures shared by the whole suite; what they are made of is in tests/helpers/."""

from pathlib import Path

import pytest

from tests.helpers.project import make_project
from tests.helpers.servers import MirrorServer


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Everything under tests/e2e/ runs the real dvc in a temporary git repository: marked e2e, so that
    `pytest -m "not e2e"` is the fast tier."""
    for item in items:
        if "e2e" in Path(item.path).parts:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the project's code in a fresh git+DVC repository, with tiny data and tiny params."""
    return make_project(tmp_path / "project")


@pytest.fixture(scope="session")
def drawn_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny model, sigmoid output like the reference, that knows drawn 0s, 1s and 7s (helpers/drawn.py)."""
    from tests.helpers.drawn import train_drawn_model

    return train_drawn_model(tmp_path_factory.mktemp("drawn_model") / "model.keras")


@pytest.fixture
def mirror_server():
    server = MirrorServer()
    yield server
    server.close()
