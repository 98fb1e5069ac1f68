"""The twin's KPIs against independent computations on many Topology Zoo networks, default parameters.

For each network: a baseline (no event) and one fibre cut, rendered with the
``ospf_failure`` template's **defaults** (auto-sized traffic, the default
window), run by the real program, then checked by
:mod:`ani.orchestrator.measure.checks` — the computations that read nothing of
the twin's routing or convergence code:

- baseline: nothing lost, nothing in flight at the end, every flow sent rate x
  window packets, each flow's fastest packet took exactly the propagation +
  serialisation delay of its networkx shortest path (tie-break documented);
- cut (the non-bridge link most demand flows cross, at the window's event
  time): conservation with every drop's reason, the detour's delay 1 s after
  the cut on the graph without the link, each probe over the link rerouted
  within the convergence model's bounds, its loss = its rate x its outage.

Networks: ``--sample K`` picks K networks evenly spread over the size ranks of
the Zoo folder's files (disconnected ones included: demands stay within a component) (always the smallest and the largest);
``--all`` takes every one. Writes one row per network (PoPs, links, flows,
probes over the cut, seconds, each check's disagreements) as CSV and prints a
summary: how many networks passed every check.

Usage::

    python bench/validate_zoo.py [--sample 24 | --all] [--zoo DIR] [--out results/bench/validate_zoo.csv]
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
import time
from pathlib import Path

import networkx as nx

from ani.kg.errors import ProjectError
from ani.kg.scenario import Event, Scenario
from ani.kg.topology import load_graphml
from ani.ns3_scenarios.render import render, timeline
from ani.ns3_scenarios.templates import get_template
from ani.orchestrator.execute.run import execute_run
from ani.orchestrator.measure.checks import baseline_checks, busiest_cut, cut_checks, probes_over
from ani.orchestrator.measure.run_csv import read_run_csv

ZOO = Path(os.environ.get("ANI_TOPOLOGY_ZOO", "/work/shared/data/topologyzoo"))
REPO = Path(__file__).resolve().parent.parent
TEMPLATE = "ospf_failure"
#: the cut's time and the probe after reconvergence (s after the cut), as tests/ns3_scenarios/twin/test_validation.py
AFTER_S = 1.0


def candidates(zoo: Path) -> list[tuple[int, str, Path]]:
    """(PoPs, name, path) of every Zoo file that loads as a graph of >= 3 PoPs with a link, by size."""
    out = []
    for path in sorted(zoo.glob("*.graphml")):
        try:
            g = load_graphml(path)
        except ProjectError:
            continue
        if g.number_of_nodes() >= 3 and g.number_of_edges():
            out.append((g.number_of_nodes(), path.stem, path))
    return sorted(out)


def pick(nets: list[tuple[int, str, Path]], k: int) -> list[tuple[int, str, Path]]:
    """``k`` networks evenly spread over the size ranks (the smallest and the largest included)."""
    if k >= len(nets):
        return nets
    idx = sorted({round(i * (len(nets) - 1) / (k - 1)) for i in range(k)}) if k > 1 else [len(nets) - 1]
    return [nets[i] for i in idx]


def one(name: str, path: Path, work: Path) -> dict[str, object]:
    """Baseline and cut of one network, checked; the row of the table."""
    g = load_graphml(path)
    template = get_template(TEMPLATE)
    params = template.params({})
    row: dict[str, object] = {"network": name, "pops": g.number_of_nodes(), "links": g.number_of_edges(),
                              "components": nx.number_connected_components(g)}
    t0 = time.perf_counter()
    base_spec = render(template, Scenario(name="baseline", events=[]), g, params)
    rec = execute_run(base_spec, work)
    if rec.status != "ok":
        return {**row, "baseline": f"run {rec.status}: {rec.stderr_tail[-200:]}"}
    folder = Path(rec.folder)
    flows = read_run_csv(folder / "flows.csv")
    row |= {"demand_flows": int((flows["class"] == "demand").sum()), "probes": int((flows["class"] == "probe").sum()),
            "baseline": "; ".join(baseline_checks(g, base_spec, folder)) or "ok"}
    cut = busiest_cut(g, flows[flows["class"] == "demand"])
    if cut is None:
        return {**row, "cut": "no non-bridge link", "seconds": round(time.perf_counter() - t0, 1)}
    start, _, _ = timeline(params, Scenario(name="x", events=[]))
    at = start + 0.5
    ev = [Event(event_type="fiber_link_failure", target=f"{cut[0]}-{cut[1]}", timestamp=at, severity="high")]
    spec = render(template, Scenario(name="cut", events=ev), g, params, probes=[at, at + AFTER_S])
    rec = execute_run(spec, work)
    if rec.status != "ok":
        return {**row, "cut": f"run {rec.status}: {rec.stderr_tail[-200:]}"}
    folder = Path(rec.folder)
    over = probes_over(g, folder, cut)
    checks = cut_checks(g, spec, folder, cut, cut_probe=0, late_probe=1)
    if over == 0:
        checks.append("no probe crossed the cut link")
    return {**row, "cut_link": f"{cut[0]}-{cut[1]}", "probes_over_cut": over, "cut": "; ".join(checks) or "ok",
            "seconds": round(time.perf_counter() - t0, 1)}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--zoo", type=Path, default=ZOO)
    ap.add_argument("--sample", type=int, default=24, help="networks evenly spread over the sizes")
    ap.add_argument("--all", action="store_true", help="every network of the folder")
    ap.add_argument("--out", type=Path, default=REPO / "results" / "bench" / "validate_zoo.csv")
    args = ap.parse_args(argv)
    if not args.zoo.is_dir():
        sys.exit(f"validate_zoo: no Topology Zoo folder at {args.zoo} (set ANI_TOPOLOGY_ZOO)")
    nets = candidates(args.zoo)
    chosen = nets if args.all else pick(nets, args.sample)
    print(f"{len(nets)} networks in {args.zoo}; checking {len(chosen)} "
          f"({chosen[0][0]}-{chosen[-1][0]} PoPs)", flush=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="ani-validate-") as tmp:
        for pops, name, path in chosen:
            try:
                row = one(name, path, Path(tmp) / name)
            except Exception as exc:  # noqa: BLE001 (a sweep reports every network; a crash is a finding)
                row = {"network": name, "pops": pops, "baseline": f"error: {type(exc).__name__}: {exc}"}
            rows.append(row)
            print(f"  {name} ({pops} PoPs): baseline {row.get('baseline')}; cut {row.get('cut')} "
                  f"[{row.get('seconds', '?')} s]", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    keys = list(dict.fromkeys(k for r in rows for k in r))
    with args.out.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=keys)
        w.writeheader()
        w.writerows(rows)
    good = [r for r in rows if r.get("baseline") == "ok" and r.get("cut") in ("ok", "no non-bridge link")]
    print(f"every check passed on {len(good)} of {len(rows)} networks; table: {args.out}")


if __name__ == "__main__":
    main()
