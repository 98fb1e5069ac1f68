"""The fluid tier's KPIs: per-flow sums over a scenario's segments, then the packet tier's headline KPIs.

KPIs (over demand flows; a flow's offered traffic is its rate over its active
span, as send attempts are in the packet tier, refused sends included) follow
:mod:`ani.orchestrator.measure.kpis`, with the thresholds both tiers take from
:mod:`ani.kg.kpis`: loss ratios are totals, a flow is measurable with >= 20
attempted packets and impacted when its loss ratio grows by > 0.01, its mean
delay by > 10 % and > 1 ms, or it delivers nothing.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from ani.kg.kpis import (
    CONGESTED_UTILISATION,
    IMPACT_DELAY_DELTA_S,
    IMPACT_DELAY_RATIO,
    IMPACT_LOSS_DELTA,
    IMPACTED_NODE_SHARE,
    MIN_MEASURABLE_PACKETS,
    HeadlineKpis,
)
from ani.ns3_scenarios.fluid.sharing import SegmentResult
from ani.ns3_scenarios.fluid.timeline import Segment


class FluidKpis(HeadlineKpis):
    """The fluid tier's KPIs: the headline KPIs both tiers give, plus its own."""

    disconnected_demands: int = 0
    outage_lost_bits: float = 0.0
    congestion_lost_bits: float = 0.0

    def scenario_kpis(self) -> dict[str, Any]:
        """The fields :class:`ScenarioKpis` has (validate them there)."""
        return self.model_dump(exclude={"disconnected_demands", "outage_lost_bits", "congestion_lost_bits"})


class _Accumulator:
    """Per-flow sums over segments: delivered share x time, delay x delivered, time without a route.

    The sums are those of adding every segment to every flow (zeros first, in
    segment order), computed as: every flow that delivers all it is offered in
    every segment has the same delivered time (the durations added in order),
    so only the flows that lose something in some segment are summed one by one.
    """

    def __init__(self, n: int, arcs: int) -> None:
        self.n, self.arcs = n, arcs
        self.segs: list[tuple[float, SegmentResult]] = []

    def add(self, s: Segment, res: SegmentResult) -> None:
        self.segs.append((s.t1 - s.t0, res))

    def _sums(self) -> None:
        n, first = self.n, True
        total = 0.0
        lossy = np.zeros(n, bool)
        for dur, res in self.segs:
            total += dur
            if first:
                self.delay_sum = res.delay[:n] * dur
                self.util_s, self.drops = res.util * dur, res.drops.copy()
                first = False
            else:
                self.delay_sum += res.delay[:n] * dur
                self.util_s += res.util * dur
                self.drops |= res.drops
            lossy[_lossy(res, n)] = True
        self.lossy = u = np.flatnonzero(lossy)
        self.delivered = np.full(n, total)
        got, delay_sum, dead_s = np.zeros(len(u)), np.zeros(len(u)), np.zeros(len(u))
        for dur, res in self.segs:
            if not len(res.lossy):   # every flow delivers all: its share is 1 exactly and it has a route
                got += dur
                delay_sum += res.delay[u] * dur
                continue
            fr = res.frac[u]
            got += fr * dur
            delay_sum += fr * res.delay[u] * dur
            dead_s += res.dead[u] * dur
        self.delivered[u], self.delay_sum[u], self.dead_u = got, delay_sum, dead_s
        self.dead_s = np.zeros(n)
        self.dead_s[u] = dead_s
        self.last_dead = self.segs[-1][1].dead[:n] if self.segs else np.zeros(n, bool)

    def kpis(self, twin: Any, base: SegmentResult, span: float) -> FluidKpis:
        self._sums()
        n, f, u = self.n, twin.flows, self.lossy
        rate = f.rate[:n]
        c = twin._window(span)
        offered, measurable, sum_offered = c.offered, c.measurable, c.offered_sum
        got = self.delivered * rate
        if (self.delivered[u] > 0).all():   # every flow delivers something: no mean delay is undefined
            delay = self.delay_sum / self.delivered
        else:
            delay = np.divide(self.delay_sum, self.delivered, out=np.full(n, np.nan), where=self.delivered > 0)
        d_delay = delay - c.b_delay
        impacted = measurable & (delay > c.slower_than) & (d_delay > IMPACT_DELAY_DELTA_S)
        # a flow that loses nothing in any segment (not in u) delivers its whole window: its loss is 0 up to
        # rounding (never more than the baseline's by 0.01), and a measurable one (>= 20 packets) delivers
        # more than half a packet; so loss and delivering nothing are looked at in u only
        lost_all = np.zeros(n, bool)
        gu, off_u = got[u], offered[u]
        lost_all[u] = c.b_got_pos[u] & (gu < c.half_packet_bits[u])
        loss_u = 1 - np.divide(gu, off_u, out=np.ones(len(u)), where=off_u > 0)
        impacted[u] |= measurable[u] & ((loss_u - c.b_loss[u] > IMPACT_LOSS_DELTA) | lost_all[u])
        finite = np.isfinite(d_delay)
        finite = d_delay if finite.all() else d_delay[finite]
        disrupted = (self.dead_u > 0) & ~self.last_dead[u]      # only a lossy flow can have been without a route
        outages = self.dead_u[disrupted]
        spare = offered - got
        spare[u] -= self.dead_u * rate[u]
        congestion = np.maximum(0.0, spare).sum()
        util = self.util_s / span
        got_sum = got.sum()
        return FluidKpis(
            flows=n, impacted_flows=int(np.count_nonzero(impacted)),
            lost_all_flows=int(np.count_nonzero(impacted & lost_all)),
            impacted_nodes=_impacted_nodes(twin, impacted, c.node_weight, c.node_total),  # measurable already
            mean_delta_delay_s=float(finite.mean()) if len(finite) else None,
            max_delta_delay_s=float(finite.max()) if len(finite) else None,
            baseline_loss_ratio=float(1 - c.b_got_sum / sum_offered) if sum_offered else None,
            scenario_loss_ratio=float(1 - got_sum / sum_offered) if sum_offered else None,
            baseline_throughput_bps=float(c.b_got_sum / span), scenario_throughput_bps=float(got_sum / span),
            disrupted_flows=int(np.count_nonzero(disrupted)),
            unrecovered_flows=int(np.count_nonzero(self.last_dead & c.b_got_pos)),
            reroute_time_median_s=_median(outages) if len(outages) else None,
            reroute_time_max_s=float(outages.max()) if len(outages) else None,
            convergence_time_s=float(outages.max()) if len(outages) else None,
            congested_links=int(np.count_nonzero((util >= CONGESTED_UTILISATION) | self.drops)),
            not_measurable_flows=c.not_measurable,
            disconnected_demands=int(np.count_nonzero(self.last_dead)),
            outage_lost_bits=float((self.dead_s * rate).sum()), congestion_lost_bits=float(congestion))


def _lossy(res: SegmentResult, n: int) -> np.ndarray:
    """Demand flows that do not deliver all they are offered in a segment, or have no route (cached on it)."""
    if res.lossy is None:
        res.lossy = np.flatnonzero((res.frac[:n] != 1.0) | res.dead[:n])
    return res.lossy


def _median(x: np.ndarray) -> float:
    """``np.median`` of a non-empty 1-d array, without its overhead (same value: the middle, or the mean of two)."""
    s, m = np.sort(x), len(x) // 2
    return float(s[m]) if len(x) % 2 else float(np.mean(s[m - 1:m + 1]))


class _Baseline:
    """What the KPIs take from the baseline whatever the traffic window."""

    def __init__(self, twin: Any) -> None:
        n, base = twin.n_demands, twin.base
        self.b_loss = 1 - base.frac[:n]
        self.b_delay = np.where(base.frac[:n] > 0, base.delay[:n], np.nan)
        self.slower_than = IMPACT_DELAY_RATIO * self.b_delay
        self.half_packet_bits = 8 * twin.flows.pkt[:n] * 0.5
        self.packet_bits = 8 * twin.flows.pkt[:n]
        self.by_measurable: dict[bytes, tuple[int, np.ndarray, np.ndarray]] = {}


class _Window:
    """What the KPIs take from the baseline for a traffic window of ``span`` s (the same for many scenarios)."""

    def __init__(self, twin: Any, span: float, fixed: _Baseline) -> None:
        n, f, base, N = twin.n_demands, twin.flows, twin.base, twin.net.N
        rate = f.rate[:n]
        self.offered = rate * span
        self.offered_sum = self.offered.sum()
        b_got = base.frac[:n] * self.offered
        self.b_got_pos = b_got > 0
        self.b_got_sum = b_got.sum()
        self.b_loss, self.b_delay = fixed.b_loss, fixed.b_delay
        self.slower_than, self.half_packet_bits = fixed.slower_than, fixed.half_packet_bits
        self.measurable = self.offered / fixed.packet_bits >= MIN_MEASURABLE_PACKETS
        key = self.measurable.tobytes()   # most windows make the same flows measurable
        if key not in fixed.by_measurable:
            if len(fixed.by_measurable) >= 16:
                fixed.by_measurable.clear()
            w = np.where(self.measurable, rate, 0.0)
            fixed.by_measurable[key] = (int((~self.measurable).sum()), w,
                                        np.bincount(f.src[:n], w, N) + np.bincount(f.dst[:n], w, N))
        self.not_measurable, self.node_weight, self.node_total = fixed.by_measurable[key]


def _impacted_nodes(twin: Any, hit: np.ndarray, w: np.ndarray, tot: np.ndarray,
                    share: float = IMPACTED_NODE_SHARE) -> list[str]:
    """Nodes with at least ``share`` of their measurable traffic (as source or sink) on impacted flows."""
    f, N = twin.flows, twin.net.N
    on = np.flatnonzero(hit)    # the other flows would add zeros to the same sums
    h = np.bincount(f.src[on], w[on], N) + np.bincount(f.dst[on], w[on], N)
    by_name = twin.net.by_name    # node indices in the order of their names
    return [twin.net.nodes[i] for i in by_name[((tot > 0) & (h >= share * tot))[by_name]]]
