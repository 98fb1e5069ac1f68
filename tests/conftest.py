"""Shared fixtures: real data from ../shared (skipped with a message when absent)."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The folder of real public data, or skip."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data folder {SHARED_DATA} is absent (see README: tests on real data)")
    return SHARED_DATA


@pytest.fixture(scope="session", autouse=True)
def _private_build_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Keep compiled programs of the test session out of the user's cache, shared across tests."""
    import os

    os.environ.setdefault("ANI_CACHE_DIR", str(tmp_path_factory.mktemp("ani-cache")))
