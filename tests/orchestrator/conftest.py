"""Session fixtures of the orchestrator tests (each built only when a test asks for it).

Campaign and executor tests: a fault template and two scenarios (helpers in ``campaign_helpers``).
Loop and evaluation tests: short simulations, one loop and one small evaluation (``loop_helpers``).
pytest's default (prepend) import mode puts this folder on ``sys.path``, so tests in the
sub-folders import the helpers by name."""

from __future__ import annotations

from pathlib import Path

import pytest
from campaign_helpers import make_fault_template, make_scenarios
from loop_helpers import SHORT

from ani.kg.topology import load_topology
from ani.orchestrator.evaluate.evaluation import EvalConfig, EvalResult, evaluate
from ani.orchestrator.loop.closed_loop import LoopConfig, LoopResult, run_loop



@pytest.fixture(scope="session")
def loop_results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One ns-3 results folder shared by the loops of the session (runs are content-addressed)."""
    return tmp_path_factory.mktemp("loop-runs")


@pytest.fixture(scope="session")
def abilene_loop(tmp_path_factory: pytest.TempPathFactory, loop_results: Path) -> LoopResult:
    """The causal walk in the closed loop on Abilene: 3 iterations, 6 scenario runs."""
    config = LoopConfig(generator="causal-walk", iterations=3, budget=6, params=SHORT, seed=3)
    return run_loop(load_topology("abilene"), config, tmp_path_factory.mktemp("loop"), results=loop_results)


@pytest.fixture(scope="session")
def small_eval(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> EvalResult:
    """The CI-size evaluation: Abilene and Aarnet, 2 seeds, 2 scenario runs per loop, no LLM."""
    config = EvalConfig(networks=["abilene", "Aarnet"], seeds=[1, 2], budget=2, iterations=2,
                        arms=["causal-walk", "rule-based", "random", "replay", "worst-case"], params=SHORT,
                        mitigate_top=1, zoo=str(shared_data / "topologyzoo"))
    return evaluate(config, tmp_path_factory.mktemp("eval"), command="pytest small_eval")


@pytest.fixture(scope="session")
def fault_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the bundled template whose program crashes for seed 13 and hangs for seed 14."""
    return make_fault_template(tmp_path_factory.mktemp("templates"))


@pytest.fixture(scope="session")
def scenario_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two fibre cuts on Abilene at the same time (so they share one baseline per seed)."""
    return make_scenarios(tmp_path_factory.mktemp("scenarios"))
