"""Many scenarios through the fluid twin at once (:meth:`~.model.FluidTwin.evaluate_many`).

Scenarios are taken in blocks of :data:`BLOCK`. For a block, every scenario's
segments are laid out first (:func:`~.timeline.segments`); the segments not
yet cached that the fast path covers are computed together
(:func:`~.incremental.fast_segments`: the moved flows' hops as one flat list,
the loads of all segments as one bincount, their delays as one sparse
product), the others one at a time; then each scenario's KPIs are summed over
its segments as :meth:`~.model.FluidTwin.evaluate` does. Results equal one at
a time (a test holds them to it; a moved flow's delay adds its hops in another
order, ~1e-16 relative).

Measured (docs/measurements-2026-12.md, "Screening rate"): batching pays
little, because a segment's cost is the data it touches (a few hundred moved
flows x ~14 hops, the flows that lose their path, the delays of all flows),
not the number of numpy calls. The KPIs stay per scenario: as matrices over
the block they measured slower (stacking the segments costs more than it saves).
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
    """The KPIs of each scenario, as :meth:`~.model.FluidTwin.evaluate` computes them from its segments.

    Per scenario, not as matrices over the block: the per-flow sums are already
    one numpy pass over all flows, and stacking the block's segments into
    matrices measured slower (0.83 against 0.49 ms per warm single cut).
    """
    from ani.ns3_scenarios.fluid.model import _Accumulator

    out = []
    for p in plans:
        acc = _Accumulator(twin.n_demands, twin.net.A)
        for seg, key in zip(p.segs, p.keys):
            acc.add(seg, results[key])
        out.append(acc.kpis(twin, twin.base, p.span))
    return out
