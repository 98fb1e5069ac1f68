"""The binary trace file the ns-3 replay program reads (a RunSpec's ``trace_file``, passed as ``--trace``).

Format (little-endian, written by :func:`write_trace`)::

    header   24 B   magic b"ANITRC1\\0" (8 B), uint32 n_flows, uint32 reserved=0,
                    uint64 n_packets
    flows    8 B each    uint32 src_index, uint32 dst_index   (ns-3 node indices)
    packets  16 B each   float64 t_s, uint32 flow, uint16 ip_bytes, uint16 reserved=0

Packets are sorted by ``t_s``; the file size is exactly
``24 + 8 * n_flows + 16 * n_packets`` bytes. The traces themselves (pcap ->
PoP pairs -> transforms) are built in :mod:`ani.kg.traces`.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np

from ani.kg.errors import UnknownComponentError
from ani.kg.traces import Trace, TraceError

__all__ = ["MAGIC", "HEADER", "FLOW_DTYPE", "PACKET_DTYPE", "write_trace", "read_trace"]

MAGIC = b"ANITRC1\0"
HEADER = struct.Struct("<8sIIQ")
FLOW_DTYPE = np.dtype([("src", "<u4"), ("dst", "<u4")])
PACKET_DTYPE = np.dtype([("t_s", "<f8"), ("flow", "<u4"), ("ip_bytes", "<u2"), ("reserved", "<u2")])


def write_trace(trace: Trace, path: str | Path, node_index: dict[str, int]) -> None:
    """Write the binary trace file read by the ns-3 replay program (see module doc).

    Parameters
    ----------
    trace : Trace
        Times must be >= 0.
    path : str or Path
        Written atomically (a temporary file renamed into place).
    node_index : dict of str to int
        ns-3 node index of every node named in ``trace.flows``.

    Raises
    ------
    UnknownComponentError
        If a flow names a node missing from ``node_index``.
    TraceError
        If a time is negative.
    """
    if missing := sorted({n for pair in trace.flows for n in pair} - node_index.keys()):
        raise UnknownComponentError(missing[0], "node", f"{len(missing)} flow end(s) missing from node_index")
    if len(trace) and trace.t_s[0] < 0:
        raise TraceError(trace.source, f"negative packet time {trace.t_s[0]} (use start_s)")
    try:
        flows = np.array([(node_index[s], node_index[d]) for s, d in trace.flows], dtype=FLOW_DTYPE)
    except OverflowError as exc:
        raise TraceError(str(path), f"a node index does not fit uint32: {exc}") from exc
    pkts = np.zeros(len(trace), dtype=PACKET_DTYPE)
    pkts["t_s"], pkts["flow"], pkts["ip_bytes"] = trace.t_s, trace.flow, trace.ip_bytes
    p = Path(path)
    tmp = p.with_name(f".{p.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(HEADER.pack(MAGIC, len(flows), 0, len(pkts)))
        fh.write(flows.tobytes())
        fh.write(pkts.tobytes())
    os.replace(tmp, p)


def read_trace(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Read a binary trace file back.

    Returns
    -------
    (uint32 array of shape (n_flows, 2), structured array of PACKET_DTYPE)
        Flows as ``(src_index, dst_index)`` rows, and the packets.

    Raises
    ------
    TraceError
        If the file is missing, has another magic, or its size does not match its header.
    """
    p = Path(path)
    try:
        blob = p.read_bytes()
    except OSError as exc:
        raise TraceError(str(p), f"cannot read: {exc.strerror or exc}") from exc
    if len(blob) < HEADER.size or blob[:8] != MAGIC:
        raise TraceError(str(p), "not an ANITRC1 trace file")
    _, n_flows, _, n_pkts = HEADER.unpack_from(blob)
    if len(blob) != HEADER.size + 8 * n_flows + 16 * n_pkts:
        raise TraceError(str(p), f"size {len(blob)} does not match {n_flows} flows and {n_pkts} packets")
    flows = np.frombuffer(blob, FLOW_DTYPE, n_flows, HEADER.size)
    pkts = np.frombuffer(blob, PACKET_DTYPE, n_pkts, HEADER.size + 8 * n_flows)
    return np.stack([flows["src"], flows["dst"]], axis=1), pkts
