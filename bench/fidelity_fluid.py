"""Fidelity of the fluid tier: Spearman rank correlation of fluid and packet-level damage.

Two phases, both resumable:

``python bench/fidelity_fluid.py run``
    samples scenarios of every event type on each network (seeded, written to
    ``<out>/<network>/scenarios.json``) and runs each with its baseline at
    packet level (ns-3, through :class:`CachedRunner`: content-addressed, so
    an interrupted run resumes), appending the packet damage to
    ``<out>/<network>/packet.jsonl``. Short runs: warmup 0.2 s, observe 0.8 s,
    capacity_scale 0.01, auto_size off; ``--ecmp`` turns ``ecmp`` on in both
    tiers (default out folder ``results/fidelity_fluid_ecmp``), ``-n`` caps the
    scenarios per network. Every scenario's events are at the same
    times (0.3 s, and 0.5 s for a second event), so one baseline serves many.
``python bench/fidelity_fluid.py table``
    screens the same scenarios with the fluid tier and prints, per network and
    event type and overall, n and Spearman's rho with a 95 % bootstrap interval
    (2,000 resamples of scenarios); writes ``<out>/fidelity.json``. With
    ``--ecmp --control``: the fluid tier screens with ``ecmp`` off against the
    same ECMP packet runs (the control), written to ``fidelity-control.json``.

Run it at ``nice``: ``nice -n 10 python bench/fidelity_fluid.py run``.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import networkx as nx
import numpy as np
from ani.kg.io import load_network
from ani.kg.scenario import Event, Scenario

ZOO = Path("/work/shared/data/topologyzoo")
NETWORKS = {"abilene": ("abilene", 80), "geant2010": (str(ZOO / "Geant2010.graphml"), 75),
            "deltacom": (str(ZOO / "Deltacom.graphml"), 55),
            # many equal-cost paths (45-58 % of demand flows have more than one): for the ECMP study
            "surfnet": (str(ZOO / "Surfnet.graphml"), 60), "uninett2010": (str(ZOO / "Uninett2010.graphml"), 60)}
DEFAULT = ["abilene", "geant2010", "deltacom"]
PARAMS = {"warmup_s": "0.2", "observe_s": "0.8", "capacity_scale": "0.01", "auto_size": "false"}
T1, T2 = 0.3, 0.5
SEVERITIES = ("low", "medium", "high", "critical")
KINDS = ("fiber_link_failure", "double_link_failure", "router_failure", "link_restore", "router_restore",
         "srlg_cut", "link_degradation", "misconfiguration", "router_overload", "traffic_spike")


def network(name: str) -> nx.Graph:
    """The network with synthetic SRLGs (pairs of links sharing a node's neighbourhood) for srlg_cut."""
    g = load_network(NETWORKS[name][0])
    rng = random.Random(7)
    links = [d["link_id"] for _, _, d in g.edges(data=True)]
    g.graph["srlgs"] = {f"fid-{k}": rng.sample(links, 2 + k % 2) for k in range(8)}
    return g


def _event(kind: str, target: str, t: float, rng: random.Random) -> Event:
    sev = rng.choice(SEVERITIES)
    return Event(event_type=kind, target=target, timestamp=t, severity=sev)


def sample(g: nx.Graph, kind: str, rng: random.Random, name: str) -> Scenario:
    """One scenario of ``kind`` (see :data:`KINDS`) with random targets and severities."""
    links = [d["link_id"] for _, _, d in g.edges(data=True)]
    routers = [n for n, k in g.nodes(data="kind") if k == "router" and g.degree(n) > 0]
    link, node = rng.choice(links), rng.choice(routers)
    ev = {
        "fiber_link_failure": lambda: [_event(kind, link, T1, rng)],
        "double_link_failure": lambda: [_event("fiber_link_failure", link, T1, rng),
                                        _event("fiber_link_failure", rng.choice(links), T2, rng)],
        "router_failure": lambda: [_event(kind, node, T1, rng)],
        "link_restore": lambda: [_event("fiber_link_failure", link, T1, rng), _event(kind, link, T2, rng)],
        "router_restore": lambda: [_event("router_failure", node, T1, rng), _event(kind, node, T2, rng)],
        "srlg_cut": lambda: [_event(kind, "srlg:" + rng.choice(sorted(g.graph["srlgs"])), T1, rng)],
        "link_degradation": lambda: [_event(kind, link, T1, rng)],
        "misconfiguration": lambda: [_event(kind, link, T1, rng)],
        "router_overload": lambda: [_event(kind, node, T1, rng)],
        "traffic_spike": lambda: [_event(kind, node, T1, rng)],
    }[kind]()
    return Scenario(name=name, description=kind, events=ev)


def scenarios(name: str, g: nx.Graph, n: int, out: Path) -> list[Scenario]:
    path = out / name / "scenarios.json"
    if path.is_file():
        return [Scenario.model_validate(s) for s in json.loads(path.read_text())]
    rng = random.Random(hash(name) % 1000 if False else sum(map(ord, name)))
    found = [sample(g, KINDS[i % len(KINDS)], rng, f"{name}-{i:03d}") for i in range(n)]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([s.model_dump(mode="json") for s in found], indent=1))
    return found


def params_of(ecmp: bool) -> dict[str, str]:
    """The template overrides of the study (``ecmp`` on or off in both tiers)."""
    return {**PARAMS, "ecmp": "true" if ecmp else "false"}


def run_packet(names: list[str], out: Path, workers: int, batch: int, ecmp: bool = False,
               cap: int | None = None) -> None:
    from ani.ns3_scenarios.render import render_pair
    from ani.ns3_scenarios.templates import get_template
    from ani.orchestrator.execute.cached_runner import CachedRunner
    from ani.orchestrator.measure.damage import damage, damage_terms
    from ani.orchestrator.measure.kpis import ScenarioKpis

    template = get_template("ospf_failure")
    params = template.params(params_of(ecmp))
    runner = CachedRunner(out / "runs", workers=workers, timeout_s=900)
    for name in names:
        g = network(name)
        todo = scenarios(name, g, NETWORKS[name][1], out)[:cap]
        log = out / name / "packet.jsonl"
        done = {json.loads(l)["scenario"] for l in log.read_text().splitlines()} if log.is_file() else set()
        todo = [s for s in todo if s.name not in done]
        for k in range(0, len(todo), batch):
            chunk, t0 = todo[k:k + batch], time.time()
            specs = []
            for s in chunk:
                specs.extend(render_pair(template, s, g, params))
            recs = runner(specs)
            pairs = runner.compare(list(zip(recs[0::2], recs[1::2])))
            with log.open("a") as f:
                for s, rec in zip(chunk, pairs):
                    row = {"scenario": s.name, "kind": s.description, "status": rec.status,
                           "wall_s": rec.wall_s}
                    if rec.comparison is not None:
                        k_ = ScenarioKpis.model_validate(rec.comparison)
                        row |= {"damage": damage(k_), **damage_terms(k_), "kpis": k_.model_dump(mode="json")}
                    f.write(json.dumps(row) + "\n")
            print(f"{name}: {k + len(chunk)}/{len(todo)} in {time.time() - t0:.0f} s", flush=True)
    runner.close()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("phase", choices=["run", "table"])
    ap.add_argument("--out", type=Path, help="results/fidelity_fluid (results/fidelity_fluid_ecmp with --ecmp)")
    ap.add_argument("--ecmp", action="store_true", help="ecmp on in both tiers")
    ap.add_argument("-n", type=int, help="at most this many scenarios per network")
    ap.add_argument("--network", action="append", choices=list(NETWORKS))
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--control", action="store_true",
                    help="table with --ecmp: screen with ecmp off against the same packet runs (the control)")
    ap.add_argument("--batch", type=int, default=10)
    a = ap.parse_args(argv)
    names = a.network or DEFAULT
    out = a.out or Path("results/fidelity_fluid_ecmp" if a.ecmp else "results/fidelity_fluid")
    if a.phase == "run":
        run_packet(names, out, a.workers, a.batch, a.ecmp, a.n)
    else:
        table(names, out, a.ecmp, a.ecmp and not a.control)


def spearman_ci(x: np.ndarray, y: np.ndarray, n_boot: int = 2000, seed: int = 0) -> tuple[float, float, float]:
    """Spearman's rho of ``x`` and ``y`` and its 95 % percentile bootstrap interval (resampling pairs)."""
    from scipy.stats import spearmanr

    rho = float(spearmanr(x, y).statistic)
    rng = np.random.default_rng(seed)
    boots = []
    for _ in range(n_boot):
        i = rng.integers(0, len(x), len(x))
        if np.ptp(x[i]) > 0 and np.ptp(y[i]) > 0:
            boots.append(spearmanr(x[i], y[i]).statistic)
    lo, hi = np.nanpercentile(boots, [2.5, 97.5]) if boots else (np.nan, np.nan)
    return rho, float(lo), float(hi)


def fluid_rows(names: list[str], out: Path, ecmp: bool = False) -> list[dict]:
    """Packet rows joined with the fluid damage of the same scenario (screened with ``ecmp`` as given)."""
    from ani.ns3_scenarios.templates import get_template
    from ani.orchestrator.evaluate.screen import screen_scenarios

    params = get_template("ospf_failure").params(params_of(ecmp))
    rows = []
    for name in names:
        log = out / name / "packet.jsonl"
        if not log.is_file():
            continue
        packet = {r["scenario"]: r for r in map(json.loads, log.read_text().splitlines()) if "damage" in r}
        g = network(name)
        todo = [s for s in scenarios(name, g, NETWORKS[name][1], out) if s.name in packet]
        t0 = time.perf_counter()
        result = screen_scenarios(g, todo, params)
        wall = time.perf_counter() - t0
        for r in result.rows:
            p = packet[r.scenario.name]
            rows.append({"network": name, "nodes": len(g), "kind": p["kind"], "scenario": r.scenario.name,
                         "packet": p["damage"], "fluid": r.damage, "refused": r.refused,
                         "packet_wall_s": p["wall_s"], "fluid_s": wall / max(len(todo), 1),
                         **{f"packet_{k}": p[k] for k in ("lost_traffic", "impacted_share", "delay_term")},
                         **{f"fluid_{k}": v for k, v in r.terms.items()}})
    return rows


def table(names: list[str], out: Path, ecmp: bool = False, fluid_ecmp: bool | None = None) -> None:
    """Print and write the fidelity table (``fidelity.json``; ``fidelity-control.json`` when the fluid tier's
    ``ecmp`` differs from the packet runs'): per network, per event type, overall."""
    import pandas as pd

    fluid_ecmp = ecmp if fluid_ecmp is None else fluid_ecmp
    df = pd.DataFrame(fluid_rows(names, out, fluid_ecmp))
    ok = df[df["refused"].isna()]
    groups = [("all", "all", ok)]
    groups += [(n, "all", d) for n, d in ok.groupby("network", sort=False)]
    groups += [("all", k, d) for k, d in ok.groupby("kind", sort=False)]
    lines, records = [(f"{'network':<10} {'event type':<20} {'n':>4} {'rho':>6}  95% CI          "
                      f"{'mean |d| diff':>13}")], []
    for net_, kind, d in groups:
        x, y = d["fluid"].to_numpy(float), d["packet"].to_numpy(float)
        rho, lo, hi = spearman_ci(x, y) if len(d) > 2 and np.ptp(x) > 0 and np.ptp(y) > 0 else (np.nan,) * 3
        mad = float(np.mean(np.abs(x - y))) if len(d) else np.nan
        records.append({"network": net_, "kind": kind, "n": len(d), "rho": rho, "lo": lo, "hi": hi, "mad": mad})
        lines.append(f"{net_:<10} {kind:<20} {len(d):>4} {rho:6.3f}  [{lo:5.3f}, {hi:5.3f}]  {mad:13.3f}")
    lines.append(f"refused by the fluid tier: {int(df['refused'].notna().sum())}; packet runs: "
                 f"median {df['packet_wall_s'].median():.1f} s per run; fluid: "
                 f"median {1e3 * df['fluid_s'].median():.2f} ms per scenario (incl. first-time set-up amortised)")
    print("\n".join(lines))
    (out / ("fidelity.json" if fluid_ecmp == ecmp else "fidelity-control.json")).write_text(json.dumps({"rows": df.to_dict("records"), "table": records}, indent=1,
                                                  default=str))


if __name__ == "__main__":
    main(sys.argv[1:])
