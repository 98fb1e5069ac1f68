"""Hostile files give one line naming the file, never a traceback; sizes and numbers are bounded (issue 16)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from ani.kg.errors import ProjectError, ScenarioError, TemplateError
from ani.kg.scenario import MAX_EVENT_TIME_S, load_scenario
from ani.ns3_scenarios.templates import load_template
from ani.orchestrator.campaign.plan import MAX_RUNS, CampaignError, RunMeta, load_campaign, plan_campaign_file
from ani.orchestrator.campaign.store import CampaignStore, JournalEntry, current_environment, intact, store_status
from ani.orchestrator.cli.main import main
from ani.orchestrator.execute.records import RunRecord, save_record

EVENT = {"event_type": "fiber_link_failure", "target": "Denver-Kansas_City", "timestamp": 1.0}


def _one_line(exc: BaseException) -> str:
    text = str(exc)
    assert "\n" not in text and len(text) < 1200, text
    return text


# ------------------------------------------------------------------ scenario files

@pytest.mark.parametrize("content, message", [
    (b"\xff\xfe[]", "not UTF-8"),
    (b'[{"event_type": "router_failure", "target": "a", "timestamp": 0}]\0', "NUL byte"),
    (b"[" * 100_000 + b"]" * 100_000, "nested too deep"),
    (b'{"name": "a\\u0000b", "events": []}', "name"),
    (b'{"name": "a\\nb", "events": []}', "name"),
    (json.dumps([{**EVENT, "timestamp": "Infinity"}]).replace('"Infinity"', "Infinity").encode(), "finite"),
    (json.dumps([{**EVENT, "timestamp": 1e308}]).encode(), "less than or equal to 86400"),
    (json.dumps([{**EVENT, "timestamp": 1e9}]).encode(), "86400"),
    (json.dumps([{**EVENT, "duration_s": float("inf")}]).replace("Infinity", "Infinity").encode(), "finite"),
    (json.dumps({"x" * 10_000: 1}).encode(), "chars"),
])
def test_hostile_scenario_files_give_one_line(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "s.json"
    path.write_bytes(content)
    with pytest.raises(ScenarioError, match=message) as err:
        load_scenario(path)
    assert str(path) in _one_line(err.value)


def test_events_after_the_templates_time_limit_are_refused_before_running() -> None:
    from ani.kg.scenario import Event, Scenario
    from ani.kg.topology import load_topology
    from ani.ns3_scenarios.render import TEMPLATE_TIME_LIMIT_S, render
    from ani.ns3_scenarios.templates import get_template

    assert MAX_EVENT_TIME_S == 86400.0 and TEMPLATE_TIME_LIMIT_S == 3600.0
    t = get_template("ospf_failure")
    late = Scenario(name="late", events=[Event(**{**EVENT, "timestamp": 3600.5})])
    with pytest.raises(ScenarioError, match="after the template's time limit of 3600 s"):
        render(t, late, load_topology("abilene"), t.params())


def test_cli_run_with_a_hostile_scenario_exits_1_with_one_line(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_bytes(b"\xc3\x28 not utf-8")
    result = CliRunner().invoke(main, ["run", str(path), "--topology", "abilene", "--results", str(tmp_path / "r")])
    assert result.exit_code == 1
    assert "not UTF-8" in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


# ------------------------------------------------------------------ template manifests

@pytest.mark.parametrize("content, message", [
    (b"name = \"t\"\n\xff\n", "not UTF-8"),
    (b"a = " + b"[" * 50_000 + b"]" * 50_000, "nested too deep|not valid TOML"),
    (b"name = \"t\0\"\n", "NUL byte"),
])
def test_hostile_manifests_give_one_line(tmp_path: Path, content: bytes, message: str) -> None:
    (tmp_path / "manifest.toml").write_bytes(content)
    with pytest.raises(TemplateError, match=message) as err:
        load_template(tmp_path)
    _one_line(err.value)


# ------------------------------------------------------------------ campaign files

def _campaign(tmp_path: Path, suffix: str = ".yaml", **fields) -> Path:
    (tmp_path / "cut.json").write_text(json.dumps([EVENT]))
    data = {"name": "c", "topologies": ["abilene"], "scenarios": {"files": ["cut.json"]},
            "params": {"observe_s": 0.3}, "baseline": False} | fields
    path = tmp_path / f"c{suffix}"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize("fields, message", [
    ({"seeds": []}, "at least one seed"),
    ({"seeds": list(range(1, MAX_RUNS + 2))}, "more than max_runs"),
    ({"seeds": {"start": 1, "count": 10**9}}, "more than max_runs"),
    ({"params": {"load_factor": [0.1 + i * 1e-6 for i in range(1000)],
                 "observe_s": [0.1 + i * 1e-6 for i in range(1000)]}}, "grid points"),
    ({"scenarios": {"generator": "random", "n": 10**9}}, "generated scenarios"),
    ({"timeout_s": float("inf")}, "finite"),
    ({"name": ".."}, "name"),
    ({"name": "../../x"}, "name"),
])
def test_oversized_or_unbounded_campaigns_are_refused_before_planning(tmp_path: Path, fields, message) -> None:
    with pytest.raises(CampaignError, match=message) as err:
        load_campaign(_campaign(tmp_path, **fields))
    assert "c.yaml" in _one_line(err.value)


def test_max_runs_can_be_raised_on_purpose(tmp_path: Path) -> None:
    campaign = load_campaign(_campaign(tmp_path, seeds={"start": 1, "count": MAX_RUNS + 1}, max_runs=MAX_RUNS + 1))
    assert len(campaign.seed_list()) == MAX_RUNS + 1


def test_a_glob_matching_too_many_files_is_refused(tmp_path: Path) -> None:
    for i in range(6):
        (tmp_path / f"s{i}.json").write_text(json.dumps([EVENT]))
    path = _campaign(tmp_path, scenarios={"files": ["**/*.json"]}, max_runs=5)
    with pytest.raises(CampaignError, match="matches more than max_runs = 5") as err:
        plan_campaign_file(path)
    _one_line(err.value)


def test_planning_errors_name_the_campaign_file(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text(json.dumps([{**EVENT, "target": "Nowhere-Atlantis"}]))
    path = _campaign(tmp_path, scenarios={"files": ["bad.json"]})
    with pytest.raises(ProjectError) as err:
        plan_campaign_file(path)
    assert str(path) in _one_line(err.value)


@pytest.mark.parametrize("suffix, content, message", [
    (".yaml", b"name: c\n\xff\xfe", "not UTF-8"),
    (".yaml", b"a: [" * 1 + b"[" * 20_000 + b"]" * 20_001, "nested too deep|not valid YAML"),
    (".toml", b"a = " + b"[" * 20_000 + b"]" * 20_000, "nested too deep|not valid TOML"),
    (".yaml", b"name: c\n  bad: : indent\n- x", "not valid YAML"),
    (".toml", b"name = \"c\0\"", "NUL byte"),
])
def test_hostile_campaign_files_give_one_line(tmp_path: Path, suffix: str, content: bytes, message: str) -> None:
    path = tmp_path / f"c{suffix}"
    path.write_bytes(content)
    with pytest.raises(CampaignError, match=message) as err:
        load_campaign(path)
    assert str(path) in _one_line(err.value)


def test_cli_campaign_plan_with_a_hostile_file_exits_1_with_one_line(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("name: c\nseeds: []\ntopologies: [abilene]\nscenarios: {files: ['*.json']}\n")
    result = CliRunner().invoke(main, ["campaign", "plan", str(path), "--store", str(tmp_path / "store")])
    assert result.exit_code == 1 and "at least one seed" in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


# ------------------------------------------------------------------ campaign store

def _store(tmp_path: Path) -> CampaignStore:
    store = CampaignStore(tmp_path / "store")
    campaign = load_campaign(_campaign(tmp_path))
    store.open_for_run(campaign, "c.yaml", current_environment(), ["a", "b"])
    return store


def _entry(store: CampaignStore, run_id: str) -> JournalEntry:
    folder = store.runs_root / "g" / f"s-{run_id}"
    record = RunRecord(run_id=run_id, status="ok", returncode=0, folder=str(folder), template="t",
                       template_digest="t", ns3_version="3.44.post0", graph_name="g", graph_digest="g",
                       scenario_name="s", scenario_digest="s", seed=1, wall_s=0.1, repro_cmd="sh run.sh")
    save_record(record)
    meta = RunMeta(run_id=run_id, role="scenario", topology="abilene", scenario_source="cut.json", overrides={}, seed=1)
    return JournalEntry(kind="record", meta=meta, record=record, executor="local")


def test_invalid_utf8_in_the_journal_is_skipped_and_reported(tmp_path: Path) -> None:
    store = _store(tmp_path)
    store.append(_entry(store, "a"))
    store.close()
    with store.journal_path.open("ab") as fh:
        fh.write(b'{"kind": "record", "meta": \xff\xfe}\n')
    fresh = CampaignStore(store.root)
    assert set(fresh.entries()) == {"a"} and fresh.skipped_lines == [2]
    result = CliRunner().invoke(main, ["campaign", "status", str(store.root)])
    assert result.exit_code == 0, result.output
    assert "unreadable line" in result.output and "line 2" in result.output


def test_invalid_utf8_in_campaign_json_gives_one_line(tmp_path: Path) -> None:
    store = _store(tmp_path)
    store.close()
    store.manifest_path.write_bytes(b'{"schema_version": 1, \xff}')
    with pytest.raises(CampaignError, match="not UTF-8") as err:
        store_status(CampaignStore(store.root))
    _one_line(err.value)
    result = CliRunner().invoke(main, ["campaign", "status", str(store.root)])
    assert result.exit_code == 1 and "not UTF-8" in result.output and "Traceback" not in result.output


def test_garbage_json_in_campaign_json_gives_one_line(tmp_path: Path) -> None:
    store = _store(tmp_path)
    store.close()
    store.manifest_path.write_text("[" * 10_000)
    with pytest.raises(CampaignError, match="invalid manifest") as err:
        CampaignStore(store.root).manifest()
    _one_line(err.value)


def test_a_garbage_or_missing_run_json_is_not_intact(tmp_path: Path) -> None:
    store = _store(tmp_path)
    entry = _entry(store, "a")
    folder = Path(entry.record.folder)
    assert intact(folder, "a") and not intact(folder, "b")
    (folder / "run.json").write_bytes(b"\x00garbage\xff")
    assert not intact(folder, "a")
    (folder / "run.json").unlink()
    assert not intact(folder, "a")


@pytest.mark.parametrize("args", [
    ["run", "s.json", "--topology", "abilene", "--timeout", "nan"],
    ["run", "s.json", "--topology", "abilene", "--timeout", "inf"],
    ["campaign", "run", "c.yaml", "--timeout", "inf"],
    ["campaign", "run", "c.yaml", "--timeout", "nan"],
    ["loop", "--topology", "abilene", "--timeout", "1e308"],
    ["generate", "--topology", "abilene", "--start-s", "inf"],
])
def test_cli_refuses_unbounded_times(tmp_path: Path, args: list[str]) -> None:
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2 and "Invalid value" in result.output and "Traceback" not in result.output


def test_generation_constraints_cannot_place_events_past_the_latest_time(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["generate", "--generator", "random", "--topology", "abilene", "-n", "1",
                                       "--max-events", "100", "--max-delay-s", "3600", "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "may pass the latest event time, 86400 s" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "o").exists()
