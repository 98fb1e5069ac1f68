"""Reroute times per flow and event, from the event probes (definitions: :mod:`ani.orchestrator.measure.kpis`,
"Reroute time")."""

from __future__ import annotations

from collections.abc import Collection

import numpy as np
import pandas as pd

from ani.orchestrator.measure.kpis import REROUTE_MAX_GAP_S, REROUTE_TOLERANCE_S, UNRECOVERED_MIN_PACKETS, ratio


def _estimated_latency(probes: pd.DataFrame, flows: pd.DataFrame | None) -> pd.Series:
    """``last_rx_before_s + ipi - t``; NaN for flows not sending at ``t`` (when known)."""
    if flows is None:
        return probes["last_rx_before_s"] - probes["event_time_s"]
    info = flows.set_index("flow")
    ipi = ratio(info["packet_bytes"] * 8, info["rate_bps"]).fillna(0.0)
    t = probes["event_time_s"]
    active = ((probes["flow"].map(info["start_s"]) <= t)
              & (t < probes["flow"].map(info["stop_s"])))
    est = probes["last_rx_before_s"] + probes["flow"].map(ipi).fillna(0.0) - t
    return est.where(active | ~probes["flow"].isin(info.index))


def _reference_latency(probes: pd.DataFrame, baseline_probes: pd.DataFrame | None,
                       flows: pd.DataFrame | None) -> pd.Series:
    """Undisturbed first-delivery latency after each event (NaN when unknown).

    The baseline's latency where the baseline probed that (flow, event), else
    :func:`_estimated_latency`.
    """
    estimate = _estimated_latency(probes, flows)
    if baseline_probes is None:
        return estimate
    ref = baseline_probes.assign(
        ref=baseline_probes["first_rx_after_s"] - baseline_probes["event_time_s"], probed=True)
    merged = probes[["flow", "event"]].merge(ref[["flow", "event", "ref", "probed"]],
                                             on=["flow", "event"], how="left")
    probed = merged["probed"].notna().to_numpy()
    return pd.Series(np.where(probed, merged["ref"], estimate), index=probes.index)


def _evidence(probes: pd.DataFrame, flows: pd.DataFrame | None) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Per probe row: measurable (sending at ``t`` with a gap <= REROUTE_MAX_GAP_S), the
    number of packets the flow tried to send at or after ``t``, and its class."""
    if flows is None:
        inf = pd.Series(np.inf, index=probes.index)
        return pd.Series(True, index=probes.index), inf, pd.Series("demand", index=probes.index)
    info = flows.set_index("flow")
    gap = probes["flow"].map(ratio(info["packet_bytes"] * 8, info["rate_bps"]))
    t = probes["event_time_s"]
    start, stop = probes["flow"].map(info["start_s"]), probes["flow"].map(info["stop_s"])
    measurable = (start <= t) & (t < stop) & (gap <= REROUTE_MAX_GAP_S)
    kind = probes["flow"].map(info["class"]) if "class" in info.columns else "demand"
    return measurable.fillna(False).astype(bool), ((stop - t) / gap).fillna(0.0), \
        pd.Series(kind, index=probes.index).fillna("demand")


def _event_info(events: pd.DataFrame) -> pd.DataFrame:
    """event, event_type, target of the injected events."""
    inj = events.loc[events["phase"] == "inject", ["event", "event_type", "target"]]
    return inj.drop_duplicates("event")


def reroute_times(
    probes: pd.DataFrame,
    events: pd.DataFrame,
    baseline_probes: pd.DataFrame | None = None,
    *,
    flows: pd.DataFrame | None = None,
    event_types: Collection[str] | None = None,
) -> pd.DataFrame:
    """Disruption and reroute time of every (flow, injected event) probe.

    Parameters
    ----------
    probes, baseline_probes : pd.DataFrame
        ``event_probes.csv`` frames of the scenario and (optionally) of a
        baseline run probed at the same event times.
    events : pd.DataFrame
        ``events.csv``; gives ``event_type`` and ``target`` of each injected event.
    flows : pd.DataFrame, optional
        ``flows.csv``, for the inter-packet gap when there is no baseline.
    event_types : collection of str, optional
        Keep only events of these types (default: every probed event).

    Returns
    -------
    pd.DataFrame
        The probe columns + ``event_type, target, class, latency_s, reference_latency_s,
        measurable, disrupted, recovered, unrecovered, reroute_time_s, outage_s``
        (definitions in the module docstring); one row per probe, disrupted or not.
    """
    out = probes.merge(_event_info(events), on="event", how="left")
    if event_types is not None:
        out = out[out["event_type"].isin(list(event_types))].reset_index(drop=True)
    out["latency_s"] = out["first_rx_after_s"] - out["event_time_s"]
    ref = _reference_latency(out, baseline_probes, flows)
    out["reference_latency_s"] = ref
    out["recovered"] = out["first_rx_after_s"].notna()
    measurable, sent_after, kind = _evidence(out, flows)
    out["class"], out["measurable"] = kind, measurable
    late = out["latency_s"] > ref + REROUTE_TOLERANCE_S
    out["disrupted"] = measurable & ref.notna() & (late | ~out["recovered"])
    out["unrecovered"] = out["disrupted"] & ~out["recovered"] & (sent_after >= UNRECOVERED_MIN_PACKETS)
    out["reroute_time_s"] = out["latency_s"].where(out["disrupted"] & out["recovered"])
    out["outage_s"] = out["first_rx_after_s"] - out["last_rx_before_s"]
    return out
