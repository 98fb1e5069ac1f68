"""Parse the files an ns-3 run leaves in its run folder into typed pandas frames.

Parse, then compute: this module only turns files into frames with a fixed
schema (column names and dtypes below); every KPI is computed from those frames
in :mod:`ani.orchestrator.measure.kpis`.

Files of a run folder
---------------------
``flowmon.xml`` (programs that run FlowMonitor)
    ``FlowMonitor::SerializeToXmlFile(path, enableHistograms=true, ...)`` of
    ns-3 3.44. Read by :func:`read_flowmon` with a streaming parser (one
    ``<Flow>`` element in memory at a time). ns-3 writes times with
    ``Time::As(Time::NS)``, i.e. ``"+1.00333e+09ns"``: six significant digits,
    so a time is known to about 1 part in 10^6 (1 us at t = 1 s).
``delay_histogram.csv`` and ``flows.csv``'s ``jitter_sum_s`` and ``dropped_packets`` (programs without FlowMonitor)
    What the ``ospf_failure`` program counts itself, per flow, as FlowMonitor
    counts it (:func:`own_flow_stats`): delay histogram bins, the jitter sum
    (|delay(i) - delay(i-1)| in arrival order) and the packets IP or a device
    queue dropped. In place of ``flowmon.xml``; exact where the XML rounds to
    six significant digits.
``flows.csv`` (required), ``timeseries.csv``, ``event_probes.csv``,
``events.csv``, ``links.csv`` (optional: a missing file is an empty frame)
    Written by the twin's ns-3 program; schemas and the CSV reader in
    :mod:`ani.orchestrator.measure.run_csv`.

Every reading error (missing required file, truncated or malformed XML, a CSV
with missing columns or unparsable values) is a
:class:`~ani.kg.errors.SimulationError` whose message names the file (and the
line or column when known).
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ani.kg.errors import SimulationError
from ani.orchestrator.measure.run_csv import (
    CSV_SCHEMAS,
    DELAY_HISTOGRAM_CSV,
    DTYPES,
    REQUIRED_CSVS,
    ColumnKind,
    empty_frame,
    read_csv_table,
)

#: Seconds per ns-3 time unit suffix (``Time::As`` labels).
TIME_UNITS_S: dict[str, float] = {
    "y": 365.0 * 86400.0, "d": 86400.0, "h": 3600.0, "min": 60.0, "s": 1.0,
    "ms": 1e-3, "us": 1e-6, "ns": 1e-9, "ps": 1e-12, "fs": 1e-15,
}
_TIME_RE = re.compile(
    r"^\s*([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)\s*(y|d|h|min|s|ms|us|ns|ps|fs)?\s*$"
)

#: ``Ipv4FlowProbe::DropReason`` codes 0-6 (shared with ``Ipv6FlowProbe``) and
#: the column each is counted in; any other code is counted in ``drops_other``.
DROP_REASON_COLUMNS: dict[int, str] = {
    0: "drops_no_route", 1: "drops_ttl_expire", 2: "drops_bad_checksum",
    3: "drops_queue", 4: "drops_queue_disc", 5: "drops_interface_down",
    6: "drops_route_error",
}
DROPS_OTHER = "drops_other"

#: Columns of :func:`read_flowmon`, one row per FlowMonitor flow.
FLOWMON_COLUMNS: dict[str, ColumnKind] = {
    "flow_id": "int", "src_addr": "str", "dst_addr": "str", "protocol": "int",
    "src_port": "int", "dst_port": "int", "tx_packets": "int", "rx_packets": "int",
    "tx_bytes": "int", "rx_bytes": "int", "lost_packets": "int", "times_forwarded": "int",
    "first_tx_s": "float", "last_tx_s": "float", "first_rx_s": "float", "last_rx_s": "float",
    "delay_sum_s": "float", "jitter_sum_s": "float", "mean_delay_s": "float",
    "mean_jitter_s": "float", "min_delay_s": "float", "max_delay_s": "float",
    "delay_p50_s": "float", "delay_p95_s": "float", "delay_p99_s": "float",
    "dropped_packets": "int", "dropped_bytes": "int",
    **{name: "int" for name in DROP_REASON_COLUMNS.values()}, DROPS_OTHER: "int",
}

#: Long-form delay histogram: one row per non-empty bin of each FlowMonitor flow.
HISTOGRAM_COLUMNS: dict[str, ColumnKind] = {
    "flow_id": "int", "bin_start_s": "float", "bin_width_s": "float", "count": "int",
}

EVENT_PHASES: frozenset[str] = frozenset({"inject", "detect", "reconverge", "restore", "end"})

def parse_ns3_time(s: str, default_unit: str = "ns") -> float:
    """Convert an ns-3 time string (``"+1.23e+09ns"``, ``"-5ms"``, ``"42"``) to seconds.

    Parameters
    ----------
    s : str
        A signed decimal number followed by an optional ns-3 unit suffix
        (``y d h min s ms us ns ps fs``).
    default_unit : str
        The unit of a number without suffix; nanoseconds, as FlowMonitor writes
        times in ns.

    Raises
    ------
    ValueError
        If ``s`` is not a number with an optional known unit.
    """
    match = _TIME_RE.match(s)
    if match is None:
        raise ValueError(f"not an ns-3 time: {s!r}")
    return float(match.group(1)) * TIME_UNITS_S[match.group(2) or default_unit]


def histogram_percentile(
    starts: Sequence[float] | np.ndarray,
    widths: Sequence[float] | np.ndarray,
    counts: Sequence[float] | np.ndarray,
    q: float,
) -> float:
    """The ``q``-quantile (0 <= q <= 1) of a histogram, interpolated inside its bin.

    The quantile is the value below which a fraction ``q`` of the samples lie,
    assuming samples spread uniformly inside each bin: find the first bin where
    the cumulative count reaches ``q * total``, then move linearly from the
    bin's start by the missing fraction of its count. NaN for an empty histogram.
    """
    s, w, c = (np.asarray(a, dtype=float) for a in (starts, widths, counts))
    keep = c > 0
    s, w, c = s[keep], w[keep], c[keep]
    if c.size == 0:
        return math.nan
    order = np.argsort(s, kind="stable")
    s, w, c = s[order], w[order], c[order]
    cum = np.cumsum(c)
    rank = min(max(q, 0.0), 1.0) * cum[-1]
    i = min(int(np.searchsorted(cum, rank, side="left")), c.size - 1)
    before = cum[i] - c[i]
    return float(s[i] + w[i] * (rank - before) / c[i])


# --------------------------------------------------------------------------- XML


@dataclass(frozen=True)
class FlowmonData:
    """Both frames parsed from one ``flowmon.xml``.

    Attributes
    ----------
    flows : pd.DataFrame
        One row per FlowMonitor flow, columns :data:`FLOWMON_COLUMNS`.
    delay_histogram : pd.DataFrame
        Non-empty delay-histogram bins, columns :data:`HISTOGRAM_COLUMNS`.
    """

    flows: pd.DataFrame
    delay_histogram: pd.DataFrame


def _time_attr(el: ET.Element, name: str, path: Path) -> float:
    try:
        return parse_ns3_time(el.attrib[name])
    except (KeyError, ValueError) as exc:
        raise SimulationError(f"{path}: Flow {el.get('flowId')}: bad {name}: {exc}") from None


def _int_attr(el: ET.Element, name: str, path: Path) -> int:
    try:
        return int(el.attrib[name])
    except (KeyError, ValueError) as exc:
        raise SimulationError(f"{path}: <{el.tag}>: bad {name}: {exc}") from None


def _drops(el: ET.Element, path: Path) -> dict[str, int]:
    """Dropped packets/bytes per reason of one FlowStats ``<Flow>``."""
    out = {name: 0 for name in DROP_REASON_COLUMNS.values()} | {DROPS_OTHER: 0}
    out["dropped_bytes"] = 0
    for child in el.iterfind("packetsDropped"):
        code = _int_attr(child, "reasonCode", path)
        out[DROP_REASON_COLUMNS.get(code, DROPS_OTHER)] += _int_attr(child, "number", path)
    for child in el.iterfind("bytesDropped"):
        out["dropped_bytes"] += _int_attr(child, "bytes", path)
    out["dropped_packets"] = sum(out[c] for c in [*DROP_REASON_COLUMNS.values(), DROPS_OTHER])
    return out


def _bins(el: ET.Element, flow_id: int, path: Path) -> list[tuple[int, float, float, int]]:
    """Non-empty bins of the ``<delayHistogram>`` of one FlowStats ``<Flow>``."""
    hist = el.find("delayHistogram")
    if hist is None:
        return []
    try:
        return [
            (flow_id, float(b.attrib["start"]), float(b.attrib["width"]), int(b.attrib["count"]))
            for b in hist.iterfind("bin")
            if int(b.attrib["count"]) > 0
        ]
    except (KeyError, ValueError) as exc:
        raise SimulationError(f"{path}: Flow {flow_id}: bad delayHistogram bin: {exc}") from None


def _stats_row(el: ET.Element, path: Path) -> dict[str, float | int]:
    """Counters and times of one FlowStats ``<Flow>`` (NaN where no packet arrived)."""
    ints = {
        "flow_id": "flowId", "tx_packets": "txPackets", "rx_packets": "rxPackets",
        "tx_bytes": "txBytes", "rx_bytes": "rxBytes", "lost_packets": "lostPackets",
        "times_forwarded": "timesForwarded",
    }
    row: dict[str, float | int] = {k: _int_attr(el, a, path) for k, a in ints.items()}
    rx = int(row["rx_packets"])
    row["first_tx_s"] = _time_attr(el, "timeFirstTxPacket", path)
    row["last_tx_s"] = _time_attr(el, "timeLastTxPacket", path)
    row["delay_sum_s"] = _time_attr(el, "delaySum", path)
    row["jitter_sum_s"] = _time_attr(el, "jitterSum", path)
    for key, attr in [("first_rx_s", "timeFirstRxPacket"), ("last_rx_s", "timeLastRxPacket"),
                      ("min_delay_s", "minDelay"), ("max_delay_s", "maxDelay")]:
        present = rx > 0 and attr in el.attrib  # minDelay holds a sentinel when rx == 0
        row[key] = _time_attr(el, attr, path) if present else math.nan
    row["mean_delay_s"] = row["delay_sum_s"] / rx if rx > 0 else math.nan
    row["mean_jitter_s"] = row["jitter_sum_s"] / (rx - 1) if rx > 1 else math.nan
    return row


def _flow_record(el: ET.Element, path: Path) -> tuple[dict, list[tuple[int, float, float, int]]]:
    """One flow's row (stats, drops, percentiles) and its histogram bins."""
    row = _stats_row(el, path) | _drops(el, path)
    bins = _bins(el, int(row["flow_id"]), path)
    starts, widths, counts = ([b[i] for b in bins] for i in (1, 2, 3))
    for q, name in [(0.5, "delay_p50_s"), (0.95, "delay_p95_s"), (0.99, "delay_p99_s")]:
        row[name] = histogram_percentile(starts, widths, counts, q)
    return row, bins


def _classifier_row(el: ET.Element, path: Path) -> dict[str, int | str]:
    """The five-tuple of one classifier ``<Flow>``."""
    try:
        return {
            "src_addr": el.attrib["sourceAddress"], "dst_addr": el.attrib["destinationAddress"],
            "protocol": int(el.attrib["protocol"]), "src_port": int(el.attrib["sourcePort"]),
            "dst_port": int(el.attrib["destinationPort"]),
        }
    except (KeyError, ValueError) as exc:
        raise SimulationError(f"{path}: classifier Flow {el.get('flowId')}: {exc}") from None


def _iter_flow_elements(path: Path) -> Iterator[tuple[str, ET.Element]]:
    """Yield (section tag, ``<Flow>`` element) pairs, freeing each once consumed."""
    stack: list[ET.Element] = []
    with path.open("rb") as fh:
        for event, el in ET.iterparse(fh, events=("start", "end")):
            if event == "start":
                if not stack and el.tag != "FlowMonitor":
                    raise SimulationError(f"{path}: root element is <{el.tag}>, not <FlowMonitor>")
                stack.append(el)
                continue
            stack.pop()
            if len(stack) == 2:  # el is a child of a section (FlowStats, a classifier, ...)
                if el.tag == "Flow":
                    yield stack[-1].tag, el
                del stack[-1][:]  # drop consumed children: memory stays O(one flow)


def _parse_flowmon_xml(path: Path) -> tuple[list[dict], list[tuple], dict[int, dict]]:
    stats: list[dict] = []
    bins: list[tuple] = []
    tuples: dict[int, dict] = {}
    try:
        for section, el in _iter_flow_elements(path):
            if section == "FlowStats":
                row, flow_bins = _flow_record(el, path)
                stats.append(row)
                bins.extend(flow_bins)
            elif section.endswith("FlowClassifier"):
                tuples[_int_attr(el, "flowId", path)] = _classifier_row(el, path)
    except ET.ParseError as exc:
        line, col = exc.position
        raise SimulationError(f"{path}: malformed FlowMonitor XML at line {line}, "
                              f"column {col}: {exc}") from None
    return stats, bins, tuples


def _typed(rows: list[dict] | list[tuple], columns: dict[str, ColumnKind]) -> pd.DataFrame:
    if not rows:
        return empty_frame(columns)
    frame = pd.DataFrame(rows, columns=list(columns)) if isinstance(rows[0], tuple) \
        else pd.DataFrame(rows)[list(columns)]
    return frame.astype({c: DTYPES[k] for c, k in columns.items()})


def read_flowmon_data(path: str | Path) -> FlowmonData:
    """Stream-parse a FlowMonitor XML file into flow rows and delay-histogram bins.

    Raises
    ------
    SimulationError
        The file is missing, truncated or malformed (message names the file and
        the line), or a FlowStats flow has no classifier five-tuple.
    """
    path = Path(path)
    if not path.is_file():
        raise SimulationError(f"{path}: FlowMonitor file not found")
    stats, bins, tuples = _parse_flowmon_xml(path)
    for row in stats:
        five = tuples.get(int(row["flow_id"]))
        if five is None:
            raise SimulationError(f"{path}: Flow {row['flow_id']} has no classifier entry")
        row.update(five)
    return FlowmonData(_typed(stats, FLOWMON_COLUMNS), _typed(bins, HISTOGRAM_COLUMNS))


def read_flowmon(path: str | Path) -> pd.DataFrame:
    """One row per FlowMonitor flow, columns :data:`FLOWMON_COLUMNS`.

    Times are in seconds. ``first_rx_s``, ``last_rx_s``, ``min_delay_s``,
    ``max_delay_s``, ``mean_delay_s`` and ``delay_p*_s`` are NaN when no packet
    arrived; ``mean_jitter_s = jitter_sum_s / (rx_packets - 1)`` is NaN below two
    packets. ``delay_p50/p95/p99_s`` come from the delay histogram
    (:func:`histogram_percentile`). Drops: ``dropped_packets`` is the sum over
    reasons, one ``drops_<reason>`` column per ``Ipv4FlowProbe::DropReason``
    code 0-6 (:data:`DROP_REASON_COLUMNS`), ``drops_other`` for the rest.
    Note ``lost_packets`` is FlowMonitor's count (explicit drops + packets
    older than ``MaxPerHopDelay``, 10 s): it under-counts losses of short runs.
    """
    return read_flowmon_data(path).flows


@dataclass(frozen=True)
class RunTables:
    """Every table of one run folder, typed (see the module docstring).

    Attributes
    ----------
    flows, timeseries, event_probes, events, links, link_timeseries, node_timeseries, cascades : pd.DataFrame
        The CSVs, columns :data:`CSV_SCHEMAS` (empty frames when a file is absent).
    flowmon : pd.DataFrame
        :func:`read_flowmon` of ``flowmon.xml``; for a program without FlowMonitor,
        :func:`own_flow_stats` (the columns the KPIs use, one row per flow that sent).
    delay_histogram : pd.DataFrame
        The delay-histogram bins (FlowMonitor's or the program's), columns :data:`HISTOGRAM_COLUMNS`.
    """

    flows: pd.DataFrame
    flowmon: pd.DataFrame
    delay_histogram: pd.DataFrame = field(default_factory=lambda: empty_frame(HISTOGRAM_COLUMNS))
    timeseries: pd.DataFrame = field(
        default_factory=lambda: empty_frame(CSV_SCHEMAS["timeseries.csv"]))
    event_probes: pd.DataFrame = field(
        default_factory=lambda: empty_frame(CSV_SCHEMAS["event_probes.csv"]))
    events: pd.DataFrame = field(default_factory=lambda: empty_frame(CSV_SCHEMAS["events.csv"]))
    links: pd.DataFrame = field(default_factory=lambda: empty_frame(CSV_SCHEMAS["links.csv"]))
    link_timeseries: pd.DataFrame = field(
        default_factory=lambda: empty_frame(CSV_SCHEMAS["link_timeseries.csv"]))
    node_timeseries: pd.DataFrame = field(
        default_factory=lambda: empty_frame(CSV_SCHEMAS["node_timeseries.csv"]))
    cascades: pd.DataFrame = field(default_factory=lambda: empty_frame(CSV_SCHEMAS["cascades.csv"]))


def _read_run_csv(run_dir: Path, name: str) -> pd.DataFrame:
    path = run_dir / name
    if path.is_file():
        return read_csv_table(path, CSV_SCHEMAS[name])
    if name in REQUIRED_CSVS:
        raise SimulationError(f"{path}: required run output not found")
    return empty_frame(CSV_SCHEMAS[name])


#: Columns of :func:`own_flow_stats`: those of :data:`FLOWMON_COLUMNS` the KPIs use.
OWN_FLOW_STATS_COLUMNS: dict[str, ColumnKind] = {
    c: FLOWMON_COLUMNS[c] for c in ["flow_id", "src_addr", "dst_addr", "protocol", "src_port", "dst_port",
                                    "tx_packets", "rx_packets", "jitter_sum_s", "dropped_packets"]}
UDP_PROTOCOL = 17


def own_flow_stats(flows: pd.DataFrame, run_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """FlowMonitor's per-flow rows and delay histogram, from a program that counts them itself.

    One row per flow that sent a packet (FlowMonitor creates a flow at its first
    packet), ``flow_id`` = the flow's index, UDP; ``jitter_sum_s`` and
    ``dropped_packets`` from ``flows.csv``; the bins from ``delay_histogram.csv``
    (:data:`DELAY_HISTOGRAM_CSV`; absent: no bins).
    """
    sent = flows[flows["tx_packets"] > 0]
    frame = pd.DataFrame({"flow_id": sent["flow"], "src_addr": sent["src_addr"], "dst_addr": sent["dst_addr"],
                          "protocol": UDP_PROTOCOL, "src_port": sent["src_port"], "dst_port": sent["dst_port"],
                          "tx_packets": sent["tx_packets"], "rx_packets": sent["rx_packets"],
                          "jitter_sum_s": sent["jitter_sum_s"], "dropped_packets": sent["dropped_packets"]})
    frame = frame.astype({c: DTYPES[k] for c, k in OWN_FLOW_STATS_COLUMNS.items()}).reset_index(drop=True)
    path = run_dir / "delay_histogram.csv"
    if not path.is_file():
        return frame, empty_frame(HISTOGRAM_COLUMNS)
    bins = read_csv_table(path, DELAY_HISTOGRAM_CSV).rename(columns={"flow": "flow_id"})
    return frame, bins[list(HISTOGRAM_COLUMNS)]


def read_run_tables(run_dir: str | Path) -> RunTables:
    """Read a run folder's ``flowmon.xml`` (or the program's own per-flow counters) and CSVs into
    :class:`RunTables`.

    ``flows.csv`` is required; ``flowmon.xml`` is read when present, otherwise
    :func:`own_flow_stats` stands in for it; the other CSVs are optional (an
    absent file gives an empty frame with the right columns).

    Raises
    ------
    SimulationError
        A required file is missing or any file is malformed, or ``events.csv``
        has a phase outside :data:`EVENT_PHASES`.
    """
    run_dir = Path(run_dir)
    csvs = {name.removesuffix(".csv"): _read_run_csv(run_dir, name) for name in CSV_SCHEMAS}
    if (run_dir / "flowmon.xml").is_file():
        fm = read_flowmon_data(run_dir / "flowmon.xml")
        flowmon, histogram = fm.flows, fm.delay_histogram
    else:
        flowmon, histogram = own_flow_stats(csvs["flows"], run_dir)
    bad = sorted(set(csvs["events"]["phase"]) - EVENT_PHASES)
    if bad:
        raise SimulationError(f"{run_dir / 'events.csv'}: unknown phases {bad}")
    return RunTables(flowmon=flowmon, delay_histogram=histogram, **csvs)
