"""``ani kg show --links`` lists the link ids a scenario's target names."""

from __future__ import annotations

import json

from click.testing import CliRunner

from ani.orchestrator.cli import main


def test_show_lists_every_link_id_with_its_ends() -> None:
    res = CliRunner().invoke(main, ["kg", "show", "abilene", "--links"])
    assert res.exit_code == 0, res.output
    assert "links (14): id, ends, capacity, delay, OSPF cost" in res.output
    line = next(l for l in res.output.splitlines() if l.strip().startswith("Denver-Kansas_City"))
    assert "Denver - Kansas_City" in line and "Gb/s" in line and "cost" in line


def test_show_links_as_json_and_not_without_the_flag() -> None:
    res = CliRunner().invoke(main, ["kg", "show", "abilene", "--links", "--json"])
    assert res.exit_code == 0, res.output
    links = json.loads(res.output)["links"]
    assert len(links) == 14 and {"link_id", "a", "b", "capacity_bps", "delay_s", "ospf_cost"} == set(links[0])
    plain = CliRunner().invoke(main, ["kg", "show", "abilene"])
    assert plain.exit_code == 0 and "Denver-Kansas_City" not in plain.output
