"""Faults: a read-only results folder gives one clear line and publishes nothing half-written (issue 16)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from ani.kg.errors import ResultsWriteError, UnknownComponentError
from ani.kg.scenario import Scenario
from ani.kg.topology import load_topology
from ani.kg.graph_queries import resolve_link
from ani.ns3_scenarios.render import render, write_run_folder
from ani.ns3_scenarios.templates import get_template
from ani.orchestrator.campaign.plan import load_campaign
from ani.orchestrator.campaign.store import CampaignStore, current_environment
from ani.orchestrator.cli.main import main

needs_permissions = pytest.mark.skipif(os.geteuid() == 0 and not os.environ.get("ANI_TEST_AS_ROOT_OK"),
                                       reason="root ignores file permissions")


def _read_only(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o555)
    return folder


@pytest.fixture()
def spec():
    t = get_template("ospf_failure")
    return render(t, Scenario(name="s"), load_topology("abilene"), t.params())


def _fake_oserror(monkeypatch: pytest.MonkeyPatch, target: str, errno: int = 30,
                  text: str = "Read-only file system") -> None:
    """A full or read-only disk, also where the tests run as root (which ignores permissions)."""
    def refuse(*args, **kwargs):
        raise OSError(errno, text, str(args[0]) if args else None)
    monkeypatch.setattr(target, refuse)


@pytest.mark.parametrize("errno, text", [(30, "Read-only file system"), (28, "No space left on device")])
def test_a_read_only_or_full_results_folder_is_one_clear_line(tmp_path: Path, spec, monkeypatch, errno,
                                                              text) -> None:
    _fake_oserror(monkeypatch, "pathlib.Path.mkdir", errno, text)
    with pytest.raises(ResultsWriteError, match=f"cannot write to the results folder .*{text}") as err:
        write_run_folder(spec, tmp_path / "results" / "run")
    assert "\n" not in str(err.value)
    assert not (tmp_path / "results").exists()


@needs_permissions
def test_a_really_read_only_results_folder(tmp_path: Path, spec) -> None:
    results = _read_only(tmp_path / "results")
    with pytest.raises(ResultsWriteError, match="Permission denied"):
        write_run_folder(spec, results / "run")


def test_a_read_only_campaign_store_is_one_clear_line(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "c.yaml").write_text("name: c\ntopologies: [abilene]\nscenarios: {files: ['*.json']}\n")
    campaign = load_campaign(tmp_path / "c.yaml")
    _fake_oserror(monkeypatch, "os.open")
    store = CampaignStore(tmp_path / "store")
    with pytest.raises(ResultsWriteError, match="cannot write to the results folder") as err:
        store.open_for_run(campaign, "c.yaml", current_environment(), ["a"])
    assert "\n" not in str(err.value) and not store.manifest_path.exists()


def test_cli_run_into_a_read_only_results_folder_exits_1_with_one_line(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "s.json").write_text(json.dumps([{"event_type": "fiber_link_failure", "target": "Denver-Kansas_City",
                                                  "timestamp": 0.6}]))
    _fake_oserror(monkeypatch, "pathlib.Path.mkdir")
    result = CliRunner().invoke(main, ["run", str(tmp_path / "s.json"), "--topology", "abilene", "--jobs", "1",
                                       "--results", str(tmp_path / "results"), "--param", "observe_s=0.2"])
    assert result.exit_code == 1, result.output
    assert "cannot write to the results folder" in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_a_10000_character_target_is_shortened_in_the_message() -> None:
    with pytest.raises(UnknownComponentError) as err:
        resolve_link(load_topology("abilene"), "x" * 10_000)
    assert len(str(err.value)) < 400 and "10000 chars" in str(err.value)


def test_a_full_disk_while_journaling_is_one_clear_line(tmp_path: Path, monkeypatch) -> None:
    from ani.orchestrator.campaign.plan import RunMeta
    from ani.orchestrator.campaign.store import JournalEntry

    (tmp_path / "c.yaml").write_text("name: c\ntopologies: [abilene]\nscenarios: {files: ['*.json']}\n")
    store = CampaignStore(tmp_path / "store")
    store.open_for_run(load_campaign(tmp_path / "c.yaml"), "c.yaml", current_environment(), ["a"])
    _fake_oserror(monkeypatch, "os.write", 28, "No space left on device")
    meta = RunMeta(run_id="a", role="scenario", topology="abilene", scenario_source="s.json", overrides={}, seed=1)
    with pytest.raises(ResultsWriteError, match="No space left on device"):
        store.append(JournalEntry(kind="lost", meta=meta, error="x", executor="local"))
    monkeypatch.undo()
    store.close()
    assert CampaignStore(store.root).entries() == {}
