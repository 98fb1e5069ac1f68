"""What each arm could reach (``reach.parquet``): real knowledge graphs, the real fluid tier, the loop's own
generation as the independent reference. Nothing is simulated at packet level here."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from ani.kg.model import build_kg
from ani.kg.scenario import Event, EventType
from ani.kg.topology import load_topology
from ani.llm.base import rng_for
from ani.llm.constraints import step_choices
from ani.llm.policy import InterventionPolicy, with_policy
from ani.llm.registry import get_generator
from ani.ns3_scenarios.templates import get_template
from ani.orchestrator.evaluate import gap, reach
from ani.orchestrator.evaluate.evaluation import (ARMS, EvalConfig, _network_params, loop_config, network_reach,
                                                  reach_only)
from ani.orchestrator.evaluate.screen import screen_scenarios
from ani.orchestrator.loop.closed_loop import LOOP_DEFAULTS, ClosedLoop
from ani.orchestrator.loop.feedback import render_graph

TYPES = [EventType(t) for t in get_template("ospf_failure").manifest.events]
LISTING_ARMS = ["llm", "frontier-greedy", "frontier-random", "llm-shuffled", "llm-no-causal"]


def _network(g, config: EvalConfig):
    params = _network_params(config, g)
    return params, build_kg(g, load_factor=float(params.get("load_factor", LOOP_DEFAULTS["load_factor"])))


def _loop(g, kg, config: EvalConfig, arm: str, params) -> ClosedLoop:
    """The evaluation's loop of ``arm`` (seed 1), with its generator under the arm's policy; never simulated."""
    cfg = loop_config(config, ARMS[arm], config.seeds[0], params)
    opts = {k: v for k, v in cfg.generator_options.items() if k != "policy"}
    gen = with_policy(get_generator(cfg.generator, **opts), InterventionPolicy.model_validate(
        cfg.generator_options["policy"]))
    return ClosedLoop(g, cfg, runner=None, generator=gen, kg=kg)  # type: ignore[arg-type]


def _step0(kg, loop: ClosedLoop) -> list[tuple[EventType, str]]:
    """The step-0 enum as the loop's first scenario sees it, computed here from step_choices."""
    c = loop.constraints(0)
    return list(step_choices(kg.frontier([]), c, rng_for(c, 0), step=0).actions.values())


def _worst_n1(g, kg, params) -> tuple[float, str]:
    """The worst single event by the gap's screen (its own graph and screening path), at high severity."""
    values = {**gap.loop_params("ospf_failure", params, 1), "cascades": False}
    singles = gap.single_events(kg, TYPES, float(values["warmup_s"]) + 0.1, InterventionPolicy())
    top = screen_scenarios(render_graph(g, kg), singles, values).rows[0]
    return float(top.damage), top.scenario.events[0].event_type.value


# --------------------------------------------------------------------------- Abilene
@pytest.fixture(scope="module")
def abilene(tmp_path_factory: pytest.TempPathFactory):
    config = EvalConfig(networks=["abilene"])
    g = load_topology("abilene")
    params, kg = _network(g, config)
    table = reach_only(config, tmp_path_factory.mktemp("reach"))
    return g, kg, params, config, table


def test_reach_only_writes_both_tables_with_one_row_per_arm(abilene, tmp_path: Path) -> None:
    _, _, _, config, table = abilene
    assert list(table["arm"]) == config.arms and set(table["network"]) == {"Abilene"}
    assert (table["fluid_refused"] == "").all() and table["worst_n1"].gt(0).all()
    out = reach_only(config.model_copy(update={"arms": ["llm", "random"]}), tmp_path)
    options = pd.read_parquet(tmp_path / "reach_options.parquet")
    assert list(out["arm"]) == ["llm", "random"] and len(pd.read_parquet(tmp_path / "reach.parquet")) == 2
    assert options["position"].tolist() == list(range(len(options)))
    assert options["listed"].sum() == 12 and options["listed"].iloc[:12].all()


def test_reach_sees_the_loops_own_constraints(abilene) -> None:
    g, kg, params, config, _ = abilene
    for arm in ("llm", "frontier-greedy", "rule-based", "llm-own-severity"):
        loop = _loop(g, kg, config, arm, params)
        assert reach.loop_constraints(loop.config) == loop.constraints(0), arm


def test_abilene_greedy_reaches_exactly_its_rank_enumeration(abilene) -> None:
    g, kg, params, config, table = abilene
    loop = _loop(g, kg, config, "frontier-greedy", params)
    firsts = []  # the loop's own generation over its iterations (what the evaluation would simulate)
    per_iteration = math.ceil(config.budget / config.iterations)
    for it in range(config.iterations):
        _, planned = loop.generate(it, per_iteration)
        firsts += [(s.events[0].event_type, s.events[0].target) for s, _, _ in planned]
    enum = _step0(kg, loop)
    space = reach.arm_space(kg, loop.config, reach.enum_at(kg, [], reach.loop_constraints(loop.config)), [])
    assert space.kind == "rank enumeration"
    assert set(space.actions) == set(firsts) == set(enum[:config.budget])
    row = table.set_index("arm").loc["frontier-greedy"]
    assert row["reachable_options"] == config.budget


def test_abilene_reachable_best_never_exceeds_the_worst_n1(abilene) -> None:
    g, kg, params, _, table = abilene
    worst, _ = _worst_n1(g, kg, params)
    fixed = table[~table["arm"].str.endswith("own-severity")]
    assert fixed["worst_n1"].to_numpy() == pytest.approx(worst)  # the gap's own screen agrees
    assert (table["best_damage"] <= table["worst_n1"] + 1e-12).all()
    assert (table["ratio"] <= 1 + 1e-12).all()
    prompted = table[table["space"].isin(["listed", "rank enumeration"])]  # a part of the enum
    assert (prompted["best_damage"] <= prompted["enum_best_damage"] + 1e-12).all()
    assert (table["enum_best_damage"] <= table["worst_n1"] + 1e-12).all()
    # the free-choice arms reach the worst single event itself
    assert table.set_index("arm").loc[["random", "llm-no-causal"], "ratio"].tolist() == [1.0, 1.0]
    # severity chosen by the arm (critical): its reference is the worst N-1 at critical, never lower
    own = table[table["arm"].str.endswith("own-severity")]
    assert (own["worst_n1"] >= worst).all()


def test_listed_best_is_the_best_listed_option_scored_apart(abilene) -> None:
    g, kg, params, config, table = abilene
    loop = _loop(g, kg, config, "llm", params)
    listed = _step0(kg, loop)[:12]
    values = {**gap.loop_params("ospf_failure", params, 1), "cascades": False}
    at = float(values["warmup_s"]) + 0.1
    singles = [s for s in gap.single_events(kg, TYPES, at, InterventionPolicy())
               if (s.events[0].event_type, s.events[0].target) in set(listed)]
    assert len(singles) == 12
    best = screen_scenarios(render_graph(g, kg), singles, values).rows[0].damage
    assert table.set_index("arm").loc["llm", "best_damage"] == pytest.approx(best)


def test_fewer_listed_options_never_reach_more(abilene) -> None:
    g, kg, params, config, _ = abilene
    arms = ["llm", "frontier-random", "frontier-greedy"]
    best: dict[str, list[float]] = {a: [] for a in arms}
    spaces: dict[str, list[set]] = {a: [] for a in arms}
    for k in (2, 6, 12, 24):
        cfg = config.model_copy(update={"arms": arms, "llm_options": {**config.llm_options, "listed_actions": k}})
        rows = network_reach(cfg, "Abilene", g, kg, params).table.set_index("arm")
        for a in arms:
            lc = loop_config(cfg, ARMS[a], 1, params)
            enum = reach.enum_at(kg, [], reach.loop_constraints(lc))
            spaces[a].append(set(reach.arm_space(kg, lc, enum, []).actions))
            best[a].append(float(rows.loc[a, "best_damage"]))
            assert rows.loc[a, "reachable_options"] == len(spaces[a][-1]) <= k
    for a in arms:
        assert all(x <= y for x, y in zip(spaces[a], spaces[a][1:])), a  # nested
        assert all(x <= y + 1e-12 for x, y in zip(best[a], best[a][1:])), (a, best[a])
    assert len(spaces["llm"][0]) == 2 and len(spaces["llm"][-1]) == 24


def test_a_network_the_fluid_tier_refuses_is_said_so_not_failed(abilene) -> None:
    g, kg, _, config, _ = abilene
    cfg = config.model_copy(update={"arms": ["llm", "rule-based"], "params": {"spf_hold_s": 0.5,
                                                                           "spf_max_hold_s": 4.0}})
    params = _network_params(cfg, g)
    table = network_reach(cfg, "Abilene", g, kg, params).table
    assert table["fluid_refused"].str.contains("spf_max_hold_s").all()
    assert table["best_damage"].isna().all() and table["worst_n1"].isna().all()
    assert table["reachable_options"].gt(0).all() and math.isfinite(table["enum_first_router_failure"].iloc[0])
    assert "refused" in reach.reach_line(table)[0]


# ------------------------------------------------------------------------------ Ion
@pytest.fixture(scope="module")
def ion(shared_data: Path):
    config = EvalConfig(networks=["Ion"], arms=LISTING_ARMS, zoo=str(shared_data / "topologyzoo"))
    g = load_topology(shared_data / "topologyzoo" / "Ion.graphml")
    params, kg = _network(g, config)
    return g, kg, params, config, network_reach(config, "Ion", g, kg, params).table


@pytest.mark.slow
def test_ion_srlg_cuts_fill_the_listed_options_and_the_first_spike_is_beyond(ion) -> None:
    g, kg, params, config, table = ion
    enum = _step0(kg, _loop(g, kg, config, "llm", params))
    listed = config.llm_options["listed_actions"]
    first = {t: next((i for i, (e, _) in enumerate(enum) if e == t), None) for t in TYPES}
    assert {e for e, _ in enum[:listed]} == {EventType.srlg_cut}  # measured on Ion: 12 SRLG cuts
    assert first[EventType.traffic_spike] is not None and first[EventType.traffic_spike] >= listed
    rows = table.set_index("arm")
    for t in TYPES:
        col = f"enum_first_{t.value}"
        if col in rows:
            assert (rows[col].isna().all() if first[t] is None else (rows[col] == first[t]).all()), t
    for arm in ("llm", "frontier-random"):
        assert rows.loc[arm, "reach_srlg_cut"] == listed and rows.loc[arm, "reach_traffic_spike"] == 0
        assert rows.loc[arm, "event_types"] == "srlg_cut"
    assert rows.loc["frontier-greedy", "event_types"] == "srlg_cut"
    worst, kind = _worst_n1(g, kg, params)
    assert rows["worst_n1"].to_numpy() == pytest.approx(worst)
    assert kind != "srlg_cut"  # measured: the worst single event is of a type the listed arms cannot pick
    assert rows.loc["llm", "best_damage"] < worst and rows.loc["llm", "ratio"] < 1
    for arm in ("llm-shuffled", "llm-no-causal"):  # they can pick a spike
        assert rows.loc[arm, "reach_traffic_spike"] > 0
        assert rows.loc[arm, "best_damage"] >= rows.loc["llm", "best_damage"]
    c = _loop(g, kg, config, "llm", params).constraints(0)  # step 1 after each listed SRLG cut
    at = round(c.start_s + max(1, c.max_delay_ms // 2) / 1000.0, 3)
    step1 = set()
    for e0, x0 in enum[:listed]:
        ch = step_choices(kg.frontier([Event(event_type=e0, target=x0, timestamp=at)]), c, rng_for(c, 0), step=1)
        step1 |= {t.value for t, _ in list(ch.actions.values())[:listed]}
    assert set(rows.loc["llm", "step1_event_types"].split(", ")) == step1
    line = reach.reach_line(table)[0]
    assert f"traffic_spike at option {first[EventType.traffic_spike]}" in line and f"{listed} srlg_cut" in line


# ------------------------------------------------------------------ in the evaluation
@pytest.mark.ns3
@pytest.mark.slow
def test_the_evaluation_writes_reach_for_every_network_its_line_and_section(small_eval) -> None:
    import json

    from ani.orchestrator.evaluate.report_html import evaluation_report

    folder, config = small_eval.folder, small_eval.summary.config
    table = pd.read_parquet(folder / "reach.parquet")
    assert sorted(zip(table["network"], table["arm"])) == sorted((n, a) for n in ("Abilene", "Aarnet")
                                                                   for a in config.arms)
    assert (table["best_damage"] <= table["worst_n1"] + 1e-12).all()
    assert set(pd.read_parquet(folder / "reach_options.parquet")["network"]) == {"Abilene", "Aarnet"}
    lines = json.loads((folder / "eval.json").read_text())["reach"]
    assert [x.split(":")[0] for x in lines] == ["Abilene", "Aarnet"] and "worst N-1" in lines[0]
    page = evaluation_report(folder).read_text()
    assert "What each arm could reach" in page and "reach_options.parquet" in page


def test_the_report_section_shows_the_lines_and_every_arm(abilene) -> None:
    from ani.orchestrator.evaluate.report_html import _table

    table = abilene[-1]
    page = reach.reach_html(table, _table)
    assert reach.reach_line(table)[0].split(";")[0].replace("'", "&#x27;") in page
    assert all(f"<td>{a}</td>" in page for a in table["arm"]) and "enum_best_damage" in page
    assert "No reach table" in reach.reach_html(pd.DataFrame(), _table)
