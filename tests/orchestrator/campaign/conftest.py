"""Fixtures of the campaign tests (the helpers and constants are in ``campaign_helpers``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from campaign_helpers import make_fault_template, make_scenarios


@pytest.fixture(scope="session")
def fault_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the bundled template whose program crashes for seed 13 and hangs for seed 14."""
    return make_fault_template(tmp_path_factory.mktemp("templates"))


@pytest.fixture(scope="session")
def scenario_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two fibre cuts on Abilene at the same time (so they share one baseline per seed)."""
    return make_scenarios(tmp_path_factory.mktemp("scenarios"))
