"""The CSV files a run's program writes: their schemas and a typed, strict reader.

:func:`read_csv_table` turns one CSV of a run folder into a frame with exactly
the columns of its schema in :data:`CSV_SCHEMAS`, typed; every reading error
is a :class:`~ani.kg.errors.SimulationError` naming the file (and the column
and row when known). :mod:`ani.orchestrator.measure.flowmon` reads a whole run folder
with it.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from ani.kg.errors import SimulationError

ColumnKind = Literal["int", "float", "str"]

#: Schema of each CSV of a run folder (``float`` columns may be empty -> NaN).
CSV_SCHEMAS: dict[str, dict[str, ColumnKind]] = {
    "flows.csv": {
        "flow": "int", "src": "str", "dst": "str", "src_addr": "str", "dst_addr": "str",
        "src_port": "int", "dst_port": "int", "rate_bps": "float", "packet_bytes": "int",
        "start_s": "float", "stop_s": "float", "tx_packets": "int", "tx_failed": "int",
        "rx_packets": "int", "rx_bytes": "int", "delay_sum_s": "float",
        "delay_min_s": "float", "delay_max_s": "float", "class": "str",
        "jitter_sum_s": "float", "dropped_packets": "int",
    },
    "timeseries.csv": {
        "flow": "int", "bin": "int", "t_start_s": "float", "tx_packets": "int",
        "rx_by_send": "int", "rx_packets": "int", "rx_bytes": "int", "delay_sum_s": "float",
        "tx_failed": "int",
    },
    "event_probes.csv": {
        "flow": "int", "event": "int", "event_time_s": "float", "last_rx_before_s": "float",
        "first_send_after_s": "float", "first_rx_after_s": "float",
    },
    "events.csv": {
        "time_s": "float", "event": "int", "event_type": "str", "target": "str", "phase": "str",
    },
    "links.csv": {
        "link": "str", "from": "str", "to": "str", "capacity_bps": "float",
        "tx_packets": "int", "tx_bytes": "int", "drops": "int",
    },
    "link_timeseries.csv": {
        "link": "str", "from": "str", "to": "str", "bin": "int", "t_start_s": "float",
        "tx_packets": "int", "tx_bytes": "int", "queue_packets": "int", "drops": "int",
    },
    "node_timeseries.csv": {
        "node": "str", "bin": "int", "t_start_s": "float", "cpu_utilisation": "float", "cpu_drops": "int",
    },
    "cascades.csv": {
        "time_s": "float", "event": "int", "event_type": "str", "target": "str", "origin": "str",
        "cause": "int", "depth": "int",
    },
}
REQUIRED_CSVS: frozenset[str] = frozenset({"flows.csv"})

#: ``delay_histogram.csv``: per flow, the non-empty bins of its packets' one-way delays (programs
#: that count them themselves instead of writing ``flowmon.xml``)
DELAY_HISTOGRAM_CSV: dict[str, ColumnKind] = {
    "flow": "int", "bin_start_s": "float", "bin_width_s": "float", "count": "int",
}

#: pandas dtype of each column kind
DTYPES: dict[ColumnKind, str] = {"int": "int64", "float": "float64", "str": "object"}


def empty_frame(columns: dict[str, ColumnKind]) -> pd.DataFrame:
    """An empty frame with the given columns and their dtypes."""
    return pd.DataFrame({c: pd.Series(dtype=DTYPES[k]) for c, k in columns.items()})


def _convert(raw: pd.Series, kind: ColumnKind, where: str) -> pd.Series:
    """Convert one column read as text; raise naming the file, column and row."""
    if kind == "str":
        return raw.astype(object)
    stripped = raw.str.strip()
    values = pd.to_numeric(stripped.where(stripped != "", np.nan), errors="coerce")
    bad = values.isna() & (stripped != "")
    if kind == "int":
        bad |= values.isna() | (values.notna() & (values % 1 != 0))
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise SimulationError(f"{where}: bad {kind} value {raw.iloc[row]!r} in data row {row + 1}")
    return values.astype("int64" if kind == "int" else "float64")


#: columns a file may lack (written by older template programs), and the value they then take
OPTIONAL_DEFAULTS: dict[str, dict[str, float | int | str]] = {
    "timeseries.csv": {"tx_failed": 0},
    "flows.csv": {"class": "demand", "jitter_sum_s": float("nan"), "dropped_packets": 0}}
OPTIONAL_COLUMNS: dict[str, frozenset[str]] = {k: frozenset(v) for k, v in OPTIONAL_DEFAULTS.items()}


def read_csv_table(path: str | Path, columns: dict[str, ColumnKind]) -> pd.DataFrame:
    """Read one CSV of a run folder into a frame with exactly ``columns`` typed.

    Extra columns are ignored (forward compatible); an empty ``float`` cell is
    NaN; ``int`` and ``str`` cells must not be empty. A column of
    :data:`OPTIONAL_DEFAULTS` that the file lacks takes its default value.

    Raises
    ------
    SimulationError
        Unreadable CSV, missing columns or an unparsable value (the message names
        the file, the column and the row).
    """
    path = Path(path)
    optional = OPTIONAL_COLUMNS.get(path.name, frozenset()) & set(columns)
    if optional:
        header = _header(path)
        absent = [c for c in columns if c in optional and c not in header]
        if absent:
            frame = read_csv_table(path, {c: k for c, k in columns.items() if c not in absent})
            for c in absent:
                frame[c] = pd.Series([OPTIONAL_DEFAULTS[path.name][c]] * len(frame), index=frame.index,
                                     dtype=DTYPES[columns[c]])
            return frame[list(columns)]
    fast = _read_typed(path, columns)
    if fast is not None:
        return fast
    try:
        with warnings.catch_warnings():  # a row longer than the header must not shift columns
            warnings.simplefilter("error", pd.errors.ParserWarning)
            raw = pd.read_csv(path, dtype=str, keep_default_na=False, index_col=False)
    except (pd.errors.ParserError, pd.errors.ParserWarning, pd.errors.EmptyDataError,
            UnicodeDecodeError) as exc:
        raise SimulationError(f"{path}: malformed CSV: {exc}") from None
    missing = [c for c in columns if c not in raw.columns]
    if missing:
        raise SimulationError(f"{path}: missing columns {missing}")
    if raw.empty:
        return empty_frame(columns)
    return pd.DataFrame({c: _convert(raw[c], k, f"{path}: column {c!r}")
                         for c, k in columns.items()})


def read_run_csv(path: str | Path, columns: list[str] | None = None) -> pd.DataFrame:
    """A CSV of a run folder by its schema in :data:`CSV_SCHEMAS` (``columns``: a subset, in that order).

    Node and link names stay text: a router called "NA" (Napoli, in GARR's
    Topology Zoo files) is not a missing value, as ``pd.read_csv`` would make it.
    """
    schema = CSV_SCHEMAS[Path(path).name]
    return read_csv_table(path, {c: schema[c] for c in (columns or list(schema))})


def _header(path: Path) -> list[str]:
    """The column names of a CSV's first line ([] for an empty or unreadable file)."""
    try:
        with path.open(encoding="utf-8") as f:
            return [c.strip() for c in f.readline().rstrip("\r\n").split(",")]
    except (OSError, UnicodeDecodeError):
        return []


def _read_typed(path: Path, columns: dict[str, ColumnKind]) -> pd.DataFrame | None:
    """The fast path: pandas parses the types itself. None when anything is off,
    so that the careful path above finds and names the problem."""
    dtypes = {c: DTYPES[k] for c, k in columns.items()}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            frame = pd.read_csv(path, dtype=dtypes, index_col=False,
                                keep_default_na=False,
                                na_values={c: [""] for c, k in columns.items() if k == "float"})
    except (ValueError, TypeError, pd.errors.ParserError, pd.errors.ParserWarning, UnicodeDecodeError,
            Warning):
        return None
    if not set(columns) <= set(frame.columns) or frame.empty:
        return None
    strings = [c for c, k in columns.items() if k == "str"]
    if any((frame[c] == "").any() for c in strings):
        return None
    return frame[list(columns)]
