"""The headline KPIs of a scenario against its baseline, in both tiers' words.

The packet tier computes them from ns-3's counters
(:mod:`ani.orchestrator.measure.kpis`, :class:`~ani.orchestrator.measure.kpis.ScenarioKpis`),
the fluid tier from its flow model (:class:`~ani.ns3_scenarios.fluid.summary.FluidKpis`);
both extend :class:`HeadlineKpis` and use the thresholds below, so a KPI of the
same name means the same thing in either, and the damage score reads either.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

#: a loss-ratio increase above this marks a flow impacted.
IMPACT_LOSS_DELTA = 0.01
#: scenario mean delay above this multiple of the baseline's ...
IMPACT_DELAY_RATIO = 1.1
#: ... and above it by more than this (seconds) marks a flow impacted.
IMPACT_DELAY_DELTA_S = 1e-3
#: a flow with fewer send attempts than this (in either run) is not measurable.
MIN_MEASURABLE_PACKETS = 20
#: share of a node's traffic in impacted flows from which the node is impacted.
IMPACTED_NODE_SHARE = 0.25
#: utilisation from which a link direction is congested.
CONGESTED_UTILISATION = 0.9


class HeadlineKpis(BaseModel):
    """Headline KPIs of one scenario against its baseline. ``None`` means undefined (e.g. no disrupted flow
    has a reroute time)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    flows: int
    impacted_flows: int
    lost_all_flows: int
    impacted_nodes: list[str]
    mean_delta_delay_s: float | None
    max_delta_delay_s: float | None
    baseline_loss_ratio: float | None
    scenario_loss_ratio: float | None
    baseline_throughput_bps: float
    scenario_throughput_bps: float
    disrupted_flows: int
    unrecovered_flows: int
    reroute_time_median_s: float | None
    reroute_time_max_s: float | None
    convergence_time_s: float | None
    congested_links: int
    not_measurable_flows: int = 0
