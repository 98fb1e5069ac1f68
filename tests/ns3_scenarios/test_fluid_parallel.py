"""Screening on several processes (``fluid/parallel.py``) against screening here, on real networks.

Every result must be the serial one: integer KPIs and lists exactly, float KPIs
to 1e-12 relative (a segment's floats may be summed in another order when the
scenarios around it differ). Worker deaths are real: a worker kills itself
with SIGKILL or SIGSEGV (what the OOM killer or a native crash does) and the
results must still be complete and equal.
"""

from __future__ import annotations

import faulthandler
import logging
import mmap
import os
import random
import signal

import networkx as nx
import numpy as np
import pytest
from ani.kg.errors import ScenarioError
from ani.kg.scenario import Event, Scenario
from ani.ns3_scenarios.fluid import FluidTwin, parallel
from ani.ns3_scenarios.fluid.parallel import evaluate_parallel, planned_workers
from ani.ns3_scenarios.templates import get_template
from ani.orchestrator.cli.main import main
from ani.orchestrator.evaluate.screen import screen_scenarios
from click.testing import CliRunner
from zoo_data import every_type, zoo_network

pytestmark = pytest.mark.skipif(not parallel.can_fork(), reason="no fork on this platform: screened serially")


def cuts(g: nx.Graph, n: int, seed: int) -> list[Scenario]:
    """Single and double fibre cuts on random links."""
    rng = random.Random(seed)
    links = [d["link_id"] for _, _, d in g.edges(data=True)]
    out = []
    for i in range(n):
        events = [Event(event_type="fiber_link_failure", target=t, timestamp=1.0 + 0.4 * j)
                  for j, t in enumerate(rng.sample(links, 1 + i % 2))]
        out.append(Scenario(name=f"cut-{i}", events=events))
    return out


def same(a: list[object], b: list[object]) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        if isinstance(x, ScenarioError) or isinstance(y, ScenarioError):
            assert str(x) == str(y)
            continue
        for (k, u), v in zip(x.model_dump().items(), y.model_dump().values(), strict=True):  # type: ignore[union-attr]
            if isinstance(u, float) and isinstance(v, float):
                assert u == pytest.approx(v, rel=1e-12, abs=1e-300), k
            else:
                assert u == v, k


def serial(g: nx.Graph, params: dict, scenarios: list[Scenario]) -> list[object]:
    return FluidTwin(g, params).evaluate_many(scenarios)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["Geant2010", "TataNld"])
def test_two_workers_give_the_serial_results_and_share_the_single_link_states(name: str) -> None:
    g = zoo_network(name)
    params = get_template("ospf_failure").params({})
    found = cuts(g, 160, seed=1) + every_type(name, 60, seed=2)
    found.insert(7, Scenario(name="bad", events=[Event(event_type="router_failure", target="Atlantis",
                                                       timestamp=1.0)]))
    twin = FluidTwin(g, params)
    shared = parallel._shared(parallel._cut_links(twin, found), parallel._chunks(found, 2))
    assert len(shared) >= parallel.MIN_WARM   # the double cuts' links are needed by several chunks
    got = evaluate_parallel(twin, found, 2)
    same(got, serial(g, params, found))
    assert isinstance(got[7], ScenarioError) and "Atlantis" in str(got[7])
    assert any(getattr(k, "impacted_flows", 0) for k in got)   # not a comparison of zeros
    # the single-link states more than one chunk needed were computed by the workers and kept here
    assert all(frozenset({k}) in twin.cuts.states.cache for k in shared)


def test_single_cuts_ordered_by_link_share_no_state() -> None:
    """One cut per scenario, chunks ordered by the cut link: each link's state is needed by one chunk (a
    chunk boundary aside), so none is computed ahead."""
    g = zoo_network("Geant2010")
    twin = FluidTwin(g, get_template("ospf_failure").params({}))
    singles = [s for s in cuts(g, 400, seed=5) if len(s.events) == 1]
    chunks = parallel._chunks(singles, 2)
    assert len(parallel._shared(parallel._cut_links(twin, singles), chunks)) <= len(chunks) - 1


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGSEGV])
def test_a_worker_that_dies_costs_only_time(how: signal.Signals, caplog: pytest.LogCaptureFixture,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    g = zoo_network("Geant2010")
    params = get_template("ospf_failure").params({})
    found = cuts(g, 200, seed=3)
    victim = found[150]
    parent = os.getpid()

    def post(k: object) -> object:   # a native crash in one worker, on one scenario's result
        if os.getpid() != parent and k is marked[0]:
            os.kill(os.getpid(), how)
        return k

    twin = FluidTwin(g, params)
    marked: list[object] = [None]
    real = twin.evaluate_many

    def evaluate_many(scenarios: list[Scenario], **kw: object) -> list[object]:
        out = real(scenarios, **kw)
        if victim in scenarios:
            marked[0] = out[scenarios.index(victim)]
        return out

    monkeypatch.setattr(twin, "evaluate_many", evaluate_many)
    dumping = faulthandler.is_enabled()
    faulthandler.disable()   # pytest's: the worker inherits it and would print a dump of its crash
    try:
        with caplog.at_level(logging.WARNING, logger=parallel.__name__):
            got = evaluate_parallel(twin, found, 2, post)
    finally:
        if dumping:
            faulthandler.enable()
    same(got, serial(g, params, found))
    assert "a screening worker died" in caplog.text and "screened again in this process" in caplog.text


def test_few_scenarios_are_screened_here() -> None:
    assert planned_workers(8, 10) == 1
    assert planned_workers(2, 2 * parallel.MIN_PER_WORKER) == 2
    assert planned_workers(2, 2 * parallel.MIN_PER_WORKER - 1) == 1
    assert planned_workers(1, 10_000) == 1


def test_screen_scenarios_on_two_processes_ranks_as_on_one() -> None:
    g = zoo_network("Geant2010")
    params = get_template("ospf_failure").params({})
    found = cuts(g, 140, seed=4)
    one, two = screen_scenarios(g, found, params), screen_scenarios(g, found, params, workers=2)
    assert two.workers == 2 and one.workers == 1
    assert [r.scenario.name for r in one.rows] == [r.scenario.name for r in two.rows]
    assert [r.damage for r in two.rows] == pytest.approx([r.damage for r in one.rows], rel=1e-12)
    assert "on 2 processes" in two.table() and "processes" not in one.table()


def test_cli_screen_takes_workers() -> None:
    res = CliRunner().invoke(main, ["screen", "--topology", "abilene", "--generator", "random", "-n", "130",
                                    "--workers", "2", "--param", "auto_size=false", "--top", "3"])
    assert res.exit_code == 0, res.output
    assert "screened 130 scenarios" in res.output and "on 2 processes" in res.output
    res = CliRunner().invoke(main, ["screen", "--topology", "abilene", "--generator", "random", "-n", "3",
                                    "--workers", "0"])
    assert res.exit_code == 2 and "--workers" in res.output


def test_the_board_gives_back_the_states_written_to_it_and_pickles_what_does_not_fit() -> None:
    """The shared memory the workers pass single-link states through: every array read back equal (dtype
    included), and the states past a region's end returned as they are."""
    twin = FluidTwin(zoo_network("Geant2010"), get_template("ospf_failure").params({}))
    states = twin.cuts.states
    links = list(range(12))
    states.prepare([frozenset({k}) for k in links])
    flats = [(k, states.state(frozenset({k}))) for k in links]
    board = parallel._Board(states, [links[:6], links[6:]])
    index = board.write(0, flats[:6]) + board.write(1, flats[6:])
    assert all(len(e) == 3 for e in index)   # all fit: written, not pickled
    got: dict[frozenset[int], object] = {}
    board.install(got, index)
    for k, f in flats:
        g = got[frozenset({k})]
        assert g.width == f.width   # type: ignore[attr-defined]
        for name in ("flows", "reached", "lens", "start", "arc", "ser"):
            a, b = getattr(g, name), getattr(f, name)
            assert a.dtype == b.dtype and np.array_equal(a, b), name
    small = parallel._Board(states, [links])
    small.start[1] = parallel._aligned(sum(a.nbytes for a in (flats[0][1].flows, flats[0][1].reached,
                                                              flats[0][1].lens, flats[0][1].arc, flats[0][1].ser)))
    index = small.write(0, flats)
    assert len(index[0]) == 3 and all(e[1] is f for e, (_, f) in zip(index[1:], flats[1:]))
    taken: dict[frozenset[int], object] = {frozenset({links[1]}): "kept"}
    small.install(taken, index)
    assert taken[frozenset({links[1]})] == "kept" and taken[frozenset({links[2]})] is flats[2][1]


@pytest.mark.slow
def test_states_too_large_for_the_board_travel_pickled(monkeypatch: pytest.MonkeyPatch) -> None:
    g = zoo_network("TataNld")
    params = get_template("ospf_failure").params({})
    found = [s for s in cuts(g, 300, seed=6) if len(s.events) == 2]
    monkeypatch.setattr(parallel, "BOARD_BYTES", 2**20)   # about half the states fit, the rest are pickled
    twin = FluidTwin(g, params)
    shared = parallel._shared(parallel._cut_links(twin, found), parallel._chunks(found, 2))
    same(evaluate_parallel(twin, found, 2), serial(g, params, found))
    kept = [twin.cuts.states.cache[frozenset({k})] for k in shared]
    on_board = [isinstance(getattr(f.arc.base, "obj", None), mmap.mmap) for f in kept]   # views of the board
    assert any(on_board) and not all(on_board)   # both ways were taken
