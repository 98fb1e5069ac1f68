"""Reading packet captures (pcap, pcapng, gzip) into a :class:`PacketTable` of IPv4 packets.

Robust to the MAWI quirks: Ethernet stubs without an IP header, L4 headers cut
by the snaplen, fragments, a truncated last record (kept up to the cut, with a
note). Sizes come from the IP total-length field.
"""

from __future__ import annotations

import gzip
import math
import struct
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import dpkt
import numpy as np

from ani.kg.errors import ProjectError

_PCAP_MAGIC = {  # magic bytes -> (struct byte order, ticks per second)
    b"\xd4\xc3\xb2\xa1": ("<", 10**6),
    b"\xa1\xb2\xc3\xd4": (">", 10**6),
    b"\x4d\x3c\xb2\xa1": ("<", 10**9),
    b"\xa1\xb2\x3c\x4d": (">", 10**9),
}
_PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"
_GZIP_MAGIC = b"\x1f\x8b"
_MAX_CAPLEN = 1 << 18  # larger record lengths mean a corrupt file
_MAX_TICKS_PER_S = 1e12  # pcapng if_tsresol finer than picoseconds (10^-12, 2^-39) is not a real clock


class TraceError(ProjectError, ValueError):
    """A packet trace or trace file cannot be read, transformed or written.

    The message names the file (or trace source) and the reason.
    """

    def __init__(self, source: str, reason: str) -> None:
        self.source = str(source)
        self.reason = reason
        super().__init__(f"{self.source}: {reason}")


def _frozen(obj: Any, **arrays: np.ndarray) -> None:
    """Set read-only array attributes on a frozen dataclass instance."""
    for name, value in arrays.items():
        arr = np.asarray(value)
        arr = arr.copy() if arr.flags.writeable else arr
        arr.setflags(write=False)
        object.__setattr__(obj, name, arr)


@dataclass(frozen=True, eq=False)
class PacketTable:
    """IPv4 packets of a capture, one row per packet, sorted by time.

    Attributes
    ----------
    t_s : float64 array
        Seconds from the first kept packet (``t_s[0] == 0``).
    src, dst : uint32 arrays
        IPv4 addresses (scrambled in MAWI traces: no prefix meaning).
    proto : uint8 array
        IP protocol number.
    sport, dport : uint16 arrays
        TCP/UDP ports; 0 for other protocols, non-first fragments and L4
        headers cut by the snaplen.
    ip_bytes : uint16 array
        Packet size from the IP total-length field (not the captured length).
    source : str
        The file read.
    notes : list of str
        One line per quirk handled (skipped frames, truncation, ...).
    t0_epoch_s : float
        Capture time of the first kept packet, seconds since the Unix epoch.
    """

    t_s: np.ndarray
    src: np.ndarray
    dst: np.ndarray
    proto: np.ndarray
    sport: np.ndarray
    dport: np.ndarray
    ip_bytes: np.ndarray
    source: str
    notes: list[str] = field(default_factory=list)
    t0_epoch_s: float = math.nan

    def __post_init__(self) -> None:
        _frozen(self, t_s=self.t_s, src=self.src, dst=self.dst, proto=self.proto)
        _frozen(self, sport=self.sport, dport=self.dport, ip_bytes=self.ip_bytes)

    def __len__(self) -> int:
        return len(self.t_s)


# --- reading captures ---------------------------------------------------------
def _pcap_frames(fh: IO[bytes], source: str, notes: list[str]) -> tuple[int, Iterator[tuple[int, bytes]]]:
    """Classic pcap: link type and (timestamp in ns, frame) pairs.

    Read with ``struct`` rather than ``dpkt.pcap.Reader``, which returns a cut
    last record silently and gives float timestamps.
    """
    head = fh.read(24)
    if len(head) < 24:
        raise TraceError(source, f"too short for a pcap file header ({len(head)} of 24 bytes)")
    order, ticks = _PCAP_MAGIC[head[:4]]
    linktype = struct.unpack(order + "I", head[20:24])[0] & 0x0FFFFFFF
    rec = struct.Struct(order + "IIII")

    def frames() -> Iterator[tuple[int, bytes]]:
        offset = 24
        while hdr := fh.read(16):
            sec, frac, caplen, _ = rec.unpack(hdr) if len(hdr) == 16 else (0, 0, -1, 0)
            data = fh.read(caplen) if 0 <= caplen <= _MAX_CAPLEN else b""
            if not 0 <= caplen <= _MAX_CAPLEN or len(data) < caplen:
                notes.append(f"truncated or corrupt final record at byte {offset} dropped; packets before it kept")
                return
            yield sec * 10**9 + frac * (10**9 // ticks), data
            offset += 16 + caplen

    return linktype, frames()


def _pcapng_frames(fh: IO[bytes], source: str, notes: list[str]) -> tuple[int, Iterator[tuple[int, bytes]]]:
    """pcapng through ``dpkt.pcapng.Reader`` (first interface's link type; float timestamps, +-0.25 us)."""
    try:
        reader = dpkt.pcapng.Reader(fh)
    except (ValueError, dpkt.UnpackError, struct.error) as exc:
        raise TraceError(source, f"not a readable pcapng file: {str(exc)[:200]}") from exc
    divisor = getattr(reader, "_divisor", 1e6)  # ticks per second from the interface's if_tsresol
    if not 1 <= divisor <= _MAX_TICKS_PER_S:
        raise TraceError(source, f"pcapng if_tsresol of {divisor:.3g} ticks per second is out of range "
                                 f"(1 to {_MAX_TICKS_PER_S:.0e}: seconds to picoseconds)")

    def frames() -> Iterator[tuple[int, bytes]]:
        try:
            for ts, data in reader:
                if not 0 <= ts < 2**63 / 1e9:
                    raise ValueError(f"timestamp {ts}")
                yield round(ts * 1e9), data
        except (dpkt.UnpackError, struct.error, ValueError):
            notes.append("truncated or corrupt final pcapng block dropped; packets before it kept")

    return reader.datalink(), frames()


def _guarded(frames: Iterator[tuple[int, bytes]], notes: list[str]) -> Iterator[tuple[int, bytes]]:
    """Stop at a cut gzip stream, keeping the packets before the cut."""
    try:
        yield from frames
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        notes.append(f"compressed stream ends early ({exc}); packets before it kept")


def _open_frames(fh: IO[bytes], source: str, notes: list[str]) -> tuple[int, Iterator[tuple[int, bytes]]]:
    magic = fh.read(4)
    fh.seek(0)
    if not magic:
        raise TraceError(source, "empty file")
    if magic in _PCAP_MAGIC:
        linktype, frames = _pcap_frames(fh, source, notes)
    elif magic == _PCAPNG_MAGIC:
        linktype, frames = _pcapng_frames(fh, source, notes)
    else:
        raise TraceError(source, f"not a pcap or pcapng file (starts with 0x{magic.hex()})")
    return linktype, _guarded(frames, notes)


def _link_decoder(linktype: int, source: str) -> Callable[[bytes], Any]:
    """Frame -> the network-layer payload (a dpkt object, or bytes if undecodable)."""
    if linktype == dpkt.pcap.DLT_EN10MB:
        return lambda buf: dpkt.ethernet.Ethernet(buf).data
    if linktype in (12, 14, 101, 228):  # DLT_RAW (12 or 14 by platform), LINKTYPE_RAW, LINKTYPE_IPV4
        return lambda buf: dpkt.ip.IP(buf) if buf[:1] and buf[0] >> 4 == 4 else dpkt.ip6.IP6(buf)
    if linktype == dpkt.pcap.DLT_LINUX_SLL:
        return lambda buf: dpkt.sll.SLL(buf).data
    if linktype in (dpkt.pcap.DLT_NULL, dpkt.pcap.DLT_LOOP):
        return lambda buf: dpkt.loopback.Loopback(buf).data
    raise TraceError(source, f"unsupported link type {linktype} (Ethernet, raw IP, Linux SLL, BSD loopback)")


def _classify(decode: Callable[[bytes], Any], buf: bytes) -> tuple[str, Any]:
    """``("ipv4", ip)`` or the reason a frame is skipped."""
    try:
        net = decode(buf)
    except (dpkt.UnpackError, struct.error, IndexError, ValueError):
        return "no IP header", None
    if isinstance(net, dpkt.ip.IP):
        return "ipv4", net
    if isinstance(net, dpkt.ip6.IP6):
        return "IPv6", None
    return "no IP header", None


_COLUMNS = ("ts_ns", "src", "dst", "proto", "sport", "dport", "ip_bytes")


def _row(ts_ns: int, ip: dpkt.ip.IP, counts: Counter[str]) -> tuple[int, ...]:
    sport = dport = 0
    if isinstance(ip.data, (dpkt.tcp.TCP, dpkt.udp.UDP)):
        sport, dport = ip.data.sport, ip.data.dport
    elif ip.p in (6, 17):
        counts["frag" if ip.offset else "cut"] += 1
    size = ip.len
    if size == 0:  # segmentation offload: the capture holds the whole packet
        counts["zero_len"] += 1
        size = min(len(ip), 0xFFFF)
    src, dst = struct.unpack("!II", ip.src + ip.dst)
    return ts_ns, src, dst, ip.p, sport, dport, size


def _collect(frames: Iterator[tuple[int, bytes]], decode: Callable[[bytes], Any]) -> tuple[dict, Counter]:
    rows: list[tuple[int, ...]] = []
    counts: Counter[str] = Counter()
    for ts_ns, buf in frames:
        counts["frames"] += 1
        kind, ip = _classify(decode, buf)
        if kind == "ipv4":
            rows.append(_row(ts_ns, ip, counts))
        else:
            counts[kind] += 1
    cols = np.array(rows, dtype=np.int64).reshape(-1, len(_COLUMNS)).T
    return dict(zip(_COLUMNS, cols)), counts


def _count_notes(counts: Counter[str]) -> list[str]:
    lines = {
        "no IP header": "{} frames without an IP header skipped",
        "IPv6": "IPv6 skipped: {}",
        "cut": "{} TCP/UDP packets with L4 headers cut by the snaplen kept with ports 0",
        "frag": "{} TCP/UDP non-first fragments (no L4 header) kept with ports 0",
        "zero_len": "{} packets with IP total length 0 (offload) sized from the capture",
    }
    return [f"{counts['frames']} frames read"] + [text.format(counts[k]) for k, text in lines.items() if counts[k]]


def _table(cols: dict[str, np.ndarray], source: str, notes: list[str]) -> PacketTable:
    order = np.argsort(cols["ts_ns"], kind="stable")
    if np.any(order != np.arange(len(order))):
        notes.append("packets were not in time order; sorted by timestamp")
    c = {k: v[order] for k, v in cols.items()}
    t0 = int(c["ts_ns"][0])
    return PacketTable(
        t_s=(c["ts_ns"] - t0) / 1e9,
        **{k: c[k].astype(t) for k, t in (("src", np.uint32), ("dst", np.uint32), ("proto", np.uint8))},
        **{k: c[k].astype(np.uint16) for k in ("sport", "dport", "ip_bytes")},
        source=source,
        notes=notes,
        t0_epoch_s=t0 / 1e9,
    )


def read_pcap(path: str | Path) -> PacketTable:
    """Read the IPv4 packets of a pcap or pcapng file (optionally gzip-compressed).

    Parameters
    ----------
    path : str or Path
        A classic pcap (us or ns timestamps, either byte order) or pcapng
        file with link type Ethernet, raw IP, Linux SLL or BSD loopback.

    Returns
    -------
    PacketTable
        IPv4 packets sorted by time. Non-IP frames, Ethernet stubs without an
        IP header and IPv6 packets are skipped and counted in ``notes``;
        packets whose L4 header is cut keep ports 0. A cut final record is
        dropped with a note; the packets before it are kept.

    Raises
    ------
    TraceError
        If the file is missing, empty, not a capture, has an unsupported link
        type or holds no IPv4 packet. The message names the file.
    """
    p, notes = Path(path), []
    if not p.is_file():
        raise TraceError(str(p), "not a file" if p.exists() else "no such file")
    with open(p, "rb") as raw:
        gz = raw.read(2) == _GZIP_MAGIC
    with gzip.open(p, "rb") if gz else open(p, "rb") as fh:
        try:
            linktype, frames = _open_frames(fh, str(p), notes)
            cols, counts = _collect(frames, _link_decoder(linktype, str(p)))
        except (EOFError, OSError, zlib.error) as exc:
            raise TraceError(str(p), f"cannot read: {exc}") from exc
    notes[:0] = _count_notes(counts)
    if not len(cols["ts_ns"]):
        raise TraceError(str(p), "no IPv4 packet in the capture (" + "; ".join(notes) + ")")
    return _table(cols, str(p), notes)
