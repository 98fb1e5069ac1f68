"""Link speeds from Topology Zoo's free-text ``LinkLabel`` ("2.5 Gbps", "OC-192", "45 Mbps DS-3")."""

from __future__ import annotations

import re

UNITS = {"K": 1e3, "M": 1e6, "G": 1e9}
# Reliability order of capacity sources: a bundle reports its weakest member's.

# --- link label parser -------------------------------------------------------
_PRE = r"(?<![\d.])(?:(?P<pre>\d+)\s*[x*]\s*)?"  # "2x10Gb/s", "4*2 Mbps"
_POST = r"(?:\s*[x*]\s*(?P<post>\d+))?"  # "STM-64x2", "10GEx4"
_RATE_RE = re.compile(_PRE + r"(?P<n>\d+(?:\.\d+)?)\s*(?P<u>[KMG])(?:i?b(?:it)?(?:ps|/s|s)?|pbs)?(?![a-z])", re.I)
_BITS_RE = re.compile(r"(?<![\d.])(?P<n>\d+(?:\.\d+)?)\s*(?:bit/s|bps)(?![a-z])", re.I)
_GE_RE = re.compile(_PRE + r"(?P<n>\d+(?:\.\d+)?)?\s*(?<![a-z])G(?:ig|b)?E" + _POST + r"(?![a-z])", re.I)
_CIRCUITS: tuple[tuple[re.Pattern[str], float], ...] = tuple(
    (re.compile(_PRE + r"(?<![A-Za-z])" + name + _POST + r"(?![A-Za-z\d])"), rate)
    for name, rate in (
        (r"OC-?(?P<n>\d+)c?", 51.84e6),  # SONET OC-n
        (r"STM-?(?P<n>\d+)", 155.52e6),  # SDH STM-n
        (r"(?:DS-?3|T-?3)", 44.736e6),
        (r"E-?3", 34.368e6),
        (r"E-?1", 2.048e6),
        (r"(?:DS-?1|T-?1)", 1.544e6),
    )
)


def _match_rate(m: re.Match[str], unit_bps: float) -> float:
    groups = m.groupdict()
    base = float(groups.get("n") or 1)
    pre, post = int(groups.get("pre") or 1), int(groups.get("post") or 1)
    return base * unit_bps * pre * post


def _part_rate(text: str) -> float | None:
    circuits = [_match_rate(m, rate) for rx, rate in _CIRCUITS for m in rx.finditer(text)]
    if circuits:
        return max(circuits)
    rates = [_match_rate(m, UNITS[m["u"].upper()]) for m in _RATE_RE.finditer(text)]
    rates += [_match_rate(m, 1e9) for m in _GE_RE.finditer(text)]
    rates += [_match_rate(m, 1.0) for m in _BITS_RE.finditer(text)]
    return max(rates, default=None)


def parse_link_label(label: str) -> float | None:
    """Read a link speed out of a Topology Zoo free-text ``LinkLabel``.

    Parameters
    ----------
    label : str
        The label, e.g. ``"2.5 Gbps"``, ``"45 Mbps DS-3"``, ``"OC192/STM64"``,
        ``"10 GE"``, ``"2x10Gb/s"``, ``"E1"``.

    Returns
    -------
    float or None
        The rate in bit/s, or None when the label names no speed ("Yellow").
        Named circuits win over a rounded number next to them (OC-n = n x
        51.84 Mbit/s, STM-n = n x 155.52, DS-3/T3 = 44.736, E3 = 34.368,
        E1 = 2.048, T1 = 1.544); otherwise the largest rate the label names
        (the upper end of a range such as "10-34 Mb/s"); ``N x`` multiplies;
        parts joined by ``+`` add up.
    """
    total = sum(r for part in label.split("+") if (r := _part_rate(part)))
    return total or None
