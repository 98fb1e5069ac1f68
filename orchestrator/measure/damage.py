"""Damage of a scenario and how much a mitigation improves it (pure functions over ScenarioKpis).

``damage = max(0, scenario_loss - baseline_loss) + impacted_flows / flows
+ min(1, mean_delta_delay_s / DELAY_REF_S)``, from 0 to 3.
"""

from __future__ import annotations

import math

from ani.orchestrator.measure.kpis import ScenarioKpis

DELAY_REF_S = 0.050
EPS = 1e-6
IMPROVEMENT_KPIS = ("loss", "impacted_flows", "delay", "throughput", "reroute_time", "congested_links",
                    "unrecovered_flows", "impacted_nodes")


def damage_terms(k: ScenarioKpis) -> dict[str, float]:
    """The three terms of :func:`damage` (see the module docstring)."""
    loss = max(0.0, (k.scenario_loss_ratio or 0.0) - (k.baseline_loss_ratio or 0.0))
    share = k.impacted_flows / k.flows if k.flows else 0.0
    delay = min(1.0, max(0.0, (k.mean_delta_delay_s or 0.0) / DELAY_REF_S))
    return {"lost_traffic": loss, "impacted_share": share, "delay_term": delay}


def damage(k: ScenarioKpis) -> float:
    """One number for how badly a scenario hurt the network: 0 (nothing) to 3."""
    return float(sum(damage_terms(k).values()))


def kpi_values(k: ScenarioKpis) -> dict[str, float]:
    """The KPIs effectiveness is measured on, each 'lower is better' and 0 when undisturbed."""
    lost_tp = max(0.0, k.baseline_throughput_bps - k.scenario_throughput_bps)
    return {
        "loss": max(0.0, (k.scenario_loss_ratio or 0.0) - (k.baseline_loss_ratio or 0.0)),
        "impacted_flows": float(k.impacted_flows),
        "delay": max(0.0, k.mean_delta_delay_s or 0.0),
        "throughput": lost_tp / k.baseline_throughput_bps if k.baseline_throughput_bps > 0 else 0.0,
        "reroute_time": k.reroute_time_max_s or 0.0,
        "congested_links": float(k.congested_links),
        "unrecovered_flows": float(k.unrecovered_flows),
        "impacted_nodes": float(len(k.impacted_nodes)),
    }


def relative_improvement(before: float, after: float) -> float:
    """``(before - after) / before``; NaN when ``before`` is (about) zero."""
    return (before - after) / before if before > EPS else math.nan


def improvements(unmitigated: ScenarioKpis, mitigated: ScenarioKpis) -> dict[str, float]:
    """Relative improvement of each KPI of :data:`IMPROVEMENT_KPIS`."""
    u, m = kpi_values(unmitigated), kpi_values(mitigated)
    return {k: relative_improvement(u[k], m[k]) for k in IMPROVEMENT_KPIS}
