"""Many scenarios through the fluid twin at once (:meth:`~.model.FluidTwin.evaluate_many`).

Scenarios are taken in blocks. For a block, every scenario's segments are
laid out first (:func:`~.timeline.segments`); the segments not yet cached are
computed together (:func:`~.incremental.fast_segments` for those the fast path
covers: one sparse product for the loads and one for the delays of all of
them), and each scenario's per-flow sums over its segments (delivered bits,
delay x delivered, outage time, utilisation) are one sparse product of a
(scenarios x segments) matrix of durations with the segments' results. The
KPIs are then each scenario's as :meth:`~.model.FluidTwin.evaluate` gives them:
the same sums in the same order (a test holds the two paths equal).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from ani.kg.errors import ScenarioError
from ani.kg.scenario import Scenario
from ani.ns3_scenarios.fluid.incremental import applicable, fast_segments
from ani.ns3_scenarios.fluid.sharing import SegmentResult
from ani.ns3_scenarios.fluid.timeline import Segment, segments
from ani.ns3_scenarios.render import timeline
from scipy.sparse import csr_matrix

if TYPE_CHECKING:
    from ani.ns3_scenarios.fluid.model import FluidKpis, FluidTwin

#: scenarios per block (their segments' results are matrices of this many rows x flows)
BLOCK = 32


@dataclass
class _Plan:
    segs: list[Segment]
    keys: list[tuple[Any, ...]]
    cpu: np.ndarray
    span: float


def evaluate_many(twin: FluidTwin, scenarios: list[Scenario], block: int = BLOCK
                  ) -> list[FluidKpis | ScenarioError]:
    """Each scenario's KPIs, or the :class:`ScenarioError` (a refusal) it raised, in order."""
    out: list[FluidKpis | ScenarioError] = []
    for i in range(0, len(scenarios), block):
        out += _block(twin, scenarios[i:i + block])
    return out


def _plan(twin: FluidTwin, s: Scenario) -> _Plan:
    rows = [twin._row(s, e) for e in s.events]
    start, stop, _ = timeline(twin.params, s)
    cpu = twin._cpu(rows)
    segs = segments(rows, twin.net, twin.params, twin.flood, start, stop, twin._lsa)
    key = cpu.tobytes()
    return _Plan(segs, [(g.physical, g.routing, key) for g in segs], cpu, stop - start)


def _block(twin: FluidTwin, scenarios: list[Scenario]) -> list[FluidKpis | ScenarioError]:
    plans: list[_Plan | ScenarioError] = []
    for s in scenarios:
        try:
            plans.append(_plan(twin, s))
        except ScenarioError as exc:
            plans.append(exc)
    ok = [p for p in plans if isinstance(p, _Plan)]
    results = _results(twin, ok)
    kpis = iter(_kpis(twin, ok, results) if ok else [])
    return [p if isinstance(p, ScenarioError) else next(kpis) for p in plans]


def _results(twin: FluidTwin, plans: list[_Plan]) -> dict[tuple[Any, ...], SegmentResult]:
    """Every segment's result (cached ones from the twin; the new fast ones computed together)."""
    out: dict[tuple[Any, ...], SegmentResult] = {}
    new: dict[tuple[Any, ...], tuple[Any, ...]] = {}
    for p in plans:
        for key, g in zip(p.keys, p.segs):
            if key in out or key in new:
                continue
            if key in twin._segments:
                out[key] = twin._segments[key]
            elif applicable(twin, g.physical, p.cpu, twin._attacks(g.physical)):
                new[key] = (g.physical, g.routing)
            else:
                out[key] = twin.segment(g.physical, g.routing, p.cpu, twin._attacks(g.physical))
    if new:
        for key, res in zip(new, fast_segments(twin, list(new.values()))):
            twin._segments[key] = out[key] = res
    return out


def _kpis(twin: FluidTwin, plans: list[_Plan], results: dict[tuple[Any, ...], SegmentResult]
          ) -> list[FluidKpis]:
    """The KPIs of each scenario: its per-flow sums over segments as sparse products (scenarios x segments of
    durations times segments x flows), then :meth:`~.model._Accumulator.kpis` over all scenarios as matrices."""
    n = twin.n_demands
    col = {key: i for i, key in enumerate(results)}
    res = list(results.values())
    indptr = np.cumsum([0] + [len(p.segs) for p in plans])
    idx = np.array([col[k] for p in plans for k in p.keys], np.int64)
    dur = np.array([g.t1 - g.t0 for p in plans for g in p.segs])
    D = csr_matrix((dur, idx, indptr), shape=(len(plans), len(res)))
    on = csr_matrix((np.ones(len(idx)), idx, indptr), shape=D.shape)
    frac = np.stack([r.frac[:n] for r in res])
    dead = np.stack([r.dead[:n] for r in res])
    last = idx[np.maximum(indptr[1:] - 1, 0)] if len(idx) else np.zeros(len(plans), np.int64)
    sums = _Sums(delivered=D @ frac, delay_sum=D @ (frac * np.stack([r.delay[:n] for r in res])),
                 dead_s=D @ dead.astype(float), util_s=D @ np.stack([r.util for r in res]),
                 drops=(on @ np.stack([r.drops for r in res]).astype(float)) > 0,
                 last_dead=dead[last] & (np.diff(indptr) > 0)[:, None])
    return _block_kpis(twin, np.array([p.span for p in plans]), sums)


@dataclass
class _Sums:
    """Per scenario (rows) and flow: delivered share x s, delay x delivered, outage s; per arc: utilisation x s,
    overloaded at some time; and dead at the end."""

    delivered: np.ndarray
    delay_sum: np.ndarray
    dead_s: np.ndarray
    util_s: np.ndarray
    drops: np.ndarray
    last_dead: np.ndarray


def _block_kpis(twin: FluidTwin, span: np.ndarray, a: _Sums) -> list[FluidKpis]:
    """:meth:`~.model._Accumulator.kpis` of many scenarios at once (rows), the same expressions element by
    element; reductions over a scenario's own subset of flows (delays, outages) row by row."""
    from ani.ns3_scenarios.fluid import model as m

    n, f, N = twin.n_demands, twin.flows, twin.net.N
    twin._fixed = fixed = twin._fixed or m._Baseline(twin)
    rate, pkt = f.rate[:n], f.pkt[:n]
    offered = rate * span[:, None]
    offered_sum, b_got = offered.sum(axis=1), twin.base.frac[:n] * offered
    b_got_pos, b_got_sum = b_got > 0, b_got.sum(axis=1)
    measurable = offered / (8 * pkt) >= m.MIN_MEASURABLE_PACKETS
    got = a.delivered * rate
    loss = 1 - np.divide(got, offered, out=np.ones_like(got), where=offered > 0)
    delay = np.divide(a.delay_sum, a.delivered, out=np.full_like(got, np.nan), where=a.delivered > 0)
    lost_all = b_got_pos & (got * 1 < fixed.half_packet_bits)
    d_delay = delay - fixed.b_delay
    slower = (delay > fixed.slower_than) & (d_delay > m.IMPACT_DELAY_DELTA_S)
    impacted = measurable & ((loss - fixed.b_loss > m.IMPACT_LOSS_DELTA) | slower | lost_all)
    disrupted = (a.dead_s > 0) & ~a.last_dead
    congestion = np.maximum(0.0, offered - got - a.dead_s * rate).sum(axis=1)
    congested = ((a.util_s / span[:, None] >= m.CONGESTED_UTILISATION) | a.drops).sum(axis=1)
    w = np.where(measurable, rate, 0.0)
    tot, hit = _per_node(f, n, N, w), _per_node(f, n, N, w * (impacted & measurable))
    heavy = (tot > 0) & (hit >= 0.25 * tot)
    got_sum, lost_bits = got.sum(axis=1), (a.dead_s * rate).sum(axis=1)
    counts = {"impacted": impacted.sum(axis=1), "lost_all": (impacted & lost_all).sum(axis=1),
              "disrupted": disrupted.sum(axis=1), "unrecovered": (a.last_dead & b_got_pos).sum(axis=1),
              "not_measurable": (~measurable).sum(axis=1), "disconnected": a.last_dead.sum(axis=1)}
    out = []
    for i, t in enumerate(span):
        finite = d_delay[i][np.isfinite(d_delay[i])]
        outages = a.dead_s[i][disrupted[i]]
        so = offered_sum[i]
        out.append(m.FluidKpis(
            flows=n, impacted_flows=int(counts["impacted"][i]), lost_all_flows=int(counts["lost_all"][i]),
            impacted_nodes=sorted(twin.net.nodes[v] for v in np.flatnonzero(heavy[i])),
            mean_delta_delay_s=float(finite.mean()) if len(finite) else None,
            max_delta_delay_s=float(finite.max()) if len(finite) else None,
            baseline_loss_ratio=float(1 - b_got_sum[i] / so) if so else None,
            scenario_loss_ratio=float(1 - got_sum[i] / so) if so else None,
            baseline_throughput_bps=float(b_got_sum[i] / t), scenario_throughput_bps=float(got_sum[i] / t),
            disrupted_flows=int(counts["disrupted"][i]), unrecovered_flows=int(counts["unrecovered"][i]),
            reroute_time_median_s=m._median(outages) if len(outages) else None,
            reroute_time_max_s=float(outages.max()) if len(outages) else None,
            convergence_time_s=float(outages.max()) if len(outages) else None,
            congested_links=int(congested[i]), not_measurable_flows=int(counts["not_measurable"][i]),
            disconnected_demands=int(counts["disconnected"][i]),
            outage_lost_bits=float(lost_bits[i]), congestion_lost_bits=float(congestion[i])))
    return out


def _per_node(f: Any, n: int, N: int, w: np.ndarray) -> np.ndarray:
    """Per scenario (rows of ``w``) and node: the sum of ``w`` over the demands it sends or receives."""
    rows = np.arange(len(w))[:, None] * N
    by = lambda ends: np.bincount((rows + ends[:n]).ravel(), w.ravel(), len(w) * N).reshape(len(w), N)  # noqa: E731
    return by(f.src) + by(f.dst)
