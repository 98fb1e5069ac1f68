"""Packet traces as a run's traffic: a capture fitted to the run's window and written for ns-3."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Literal

import networkx as nx

from ani.kg.safety import safe_name
from ani.kg.traces import map_to_topology, read_pcap, transform
from ani.ns3_scenarios.trace_file import write_trace


def file_digest(path: Path) -> str:
    """sha256 (16 hex chars) of a file: a trace's part of the run id."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


def prepare_trace(pcap: Path, g: nx.Graph, window: tuple[float, float, float], out_dir: Path, *,
                  mode: Literal["hash", "gravity"] = "hash", time_scale: float = 1.0, intensity: float = 1.0,
                  sample_flows: float = 1.0, seed: int = 0) -> Path:
    """Replay ``pcap`` on ``g`` during the run's traffic window; return the binary trace file.

    The capture is mapped to PoP pairs, scaled, sampled and looped to fill the
    window (traffic start to traffic stop), then written as
    ``<out_dir>/trace-<digest>.bin`` — content-addressed, so equal inputs give
    the same file and the same run id.
    """
    start, stop, _ = window
    trace = map_to_topology(read_pcap(pcap), g, mode=mode, seed=seed)
    trace = transform(trace, time_scale=time_scale, intensity=intensity, sample_flows=sample_flows,
                      loop_to_s=stop - start, start_s=start, seed=seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = out_dir / f".trace-{seed}-{safe_name(pcap.stem, 60)}.bin"  # the capture's name is data
    write_trace(trace, tmp, {n: i for i, n in enumerate(g.nodes)})
    final = out_dir / f"trace-{file_digest(tmp)}.bin"
    tmp.replace(final)
    return final
