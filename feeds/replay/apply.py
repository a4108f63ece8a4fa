"""Apply a mapping to an export: long columns of samples (one per row, or per cell of a wide file), vectorised.

Whatever the mapping cannot read is kept with its reason and the file's row number, so the ingest
path refuses and counts it like any other bad row; empty cells of a wide file are counted, not sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from cityvitals.areas.crs import to_wgs84
from feeds.ingest import Rules, SampleColumns, known_mask
from feeds.replay.mapping import FieldSpec, Mapping, TimeSpec

EPOCH = pd.Timestamp(0, tz="UTC")
GAP_SHIFT = pd.Timedelta(hours=1)  # what a time in a daylight-saving gap is moved by (the usual jump)


@dataclass
class Long:
    """Samples in file order: the row each came from, and a reason where the mapping refused it."""

    line: np.ndarray  # the file's line number (the header is line 1)
    metric: pd.Categorical  # of str, as ``area``
    area: pd.Categorical | None
    lon: np.ndarray | None
    lat: np.ndarray | None
    ts: np.ndarray  # Unix seconds, NaN where unreadable
    raw_time: np.ndarray  # the time as written, for the reason
    value: np.ndarray | None  # floats, or the text as found (the ingest path says why it is not a number);
    # None where every value is a number (then ``number`` says them all, and no object array is made)
    number: np.ndarray  # the values as floats, NaN where text
    reason: np.ndarray  # None, or why the mapping refused the sample
    empty: int = 0  # cells of a wide file that hold no value (``na``): counted, not sent
    known: np.ndarray | None = None  # where metric, area and value pass the ingest checks (see check_known)

    def __len__(self) -> int:
        return len(self.line)

    def columns(self, first: int, stop: int) -> SampleColumns:
        """Samples ``first:stop`` as columns for :meth:`Ingestor.submit_columns` (samples with an area only)."""
        part = slice(first, stop)
        return SampleColumns(self.metric[part], self.area[part], self.ts[part], self.number[part],  # type: ignore[index]
                             self.refusals(first, stop),
                             None if self.known is None else self.known[part])

    def check_known(self, rules: Rules) -> None:
        """Run the checks that do not depend on the clock (metric, area, value) over every sample at once.

        A replay then checks only the times batch by batch: one pass over a chunk costs far less than
        the same checks made again for every batch of 500.
        """
        if self.area is not None:
            self.known = known_mask(self.metric, self.area, self.number, rules)

    def values(self, first: int, stop: int) -> list:
        """The values of samples ``first:stop`` as floats, or the text as found where not a number."""
        return (self.number if self.value is None else self.value)[first:stop].tolist()

    def refusals(self, first: int, stop: int) -> dict[int, str]:
        """The mapping's own reasons among samples ``first:stop``, by position in that range."""
        at = self._refused_at
        return {k - first: self.reason[k] for k in at[np.searchsorted(at, first) : np.searchsorted(at, stop)].tolist()}

    @cached_property
    def _refused_at(self) -> np.ndarray:
        """Where the mapping refused a sample: found once a chunk, not again in every batch's part of it."""
        return np.flatnonzero(self.reason != None)  # noqa: E711 (elementwise)

    def cells(self) -> tuple[np.ndarray, list[tuple]]:
        """Each sample's cell (metric and area, or point) numbered in order of appearance, and each number's cell.

        To find repeats and rows out of order: numbers, not text joined per sample.
        """
        columns = [self.metric, *([self.area] if self.area is not None else [self.lon, self.lat])]
        number, first = _distinct_rows(columns)  # type: ignore[arg-type]
        return number, list(zip(*(c[first].tolist() for c in columns), strict=True))  # type: ignore[index]

    def items(self, first: int, stop: int) -> list[dict[str, Any]]:
        """The ingest items of samples ``first:stop`` (the mapping's own refusals: :meth:`refusals`)."""
        part = slice(first, stop)
        ts = self.ts[part]
        # Python floats and str, not numpy scalars: reasons and dead letters show them as written.
        times = np.where(np.isfinite(ts), ts, self.raw_time[part]).tolist()
        items = [{"metric": m, "ts": t, "value": v}
                 for m, t, v in zip(self.metric[part].tolist(), times, self.values(first, stop), strict=True)]
        if self.area is not None:
            for item, area in zip(items, self.area[part].tolist(), strict=True):
                item["area"] = area
        else:
            for item, lon, lat in zip(items, self.lon[part].tolist(), self.lat[part].tolist(), strict=True):  # type: ignore[index]
                item["lon"], item["lat"] = lon, lat
        return items


def apply(frame: pd.DataFrame, mapping: Mapping, first_line: int = 2) -> Long:
    """Return the samples ``frame`` holds under ``mapping`` (its columns checked by the caller).

    ``first_line`` is the file line of the frame's first row (a chunk of a file read in parts).
    """
    text = frame if frame.dtypes.eq(object).all() else frame.astype(str)  # Parquet: numbers as text, like a CSV
    ts, raw_time, reason = read_times(text, mapping.time)
    line = np.arange(len(frame)) + first_line
    area = _field(text, mapping.area, "area", reason) if mapping.area else None
    lon = lat = None
    if mapping.area is None:
        lon, lat = (pd.to_numeric(text[c], errors="coerce").to_numpy(float) for c in (mapping.lon, mapping.lat))
        lon, lat = to_wgs84(lon, lat, mapping.crs)
    if mapping.wide is None:
        metric = _field(text, mapping.metric, "metric", reason)  # type: ignore[arg-type]
        number, value = _values(text[mapping.value.column], mapping)  # type: ignore[union-attr]
        return Long(line, metric, area, lon, lat, ts, raw_time, value, number, reason)
    return _melt(text, mapping, line, area, lon, lat, ts, raw_time, reason)


def _melt(text: pd.DataFrame, mapping: Mapping, line: np.ndarray, area: np.ndarray | None, lon: np.ndarray | None,
          lat: np.ndarray | None, ts: np.ndarray, raw_time: np.ndarray, reason: np.ndarray) -> Long:
    """One sample per filled cell of the wide columns, row by row in the file's order."""
    columns = list(mapping.wide)  # type: ignore[arg-type]
    na = pa.array(mapping.na, type=pa.string())
    cells = [pa.array(text[c], type=pa.string()) for c in columns]
    empty = [pc.is_in(c, value_set=na) for c in cells]  # one hashed look-up per cell, for both uses below
    filled = ~np.column_stack([e.to_numpy(zero_copy_only=False) for e in empty])  # rows x metrics
    floats = np.column_stack([_arrow_floats(pc.if_else(e, None, c), text[name])
                              for c, e, name in zip(cells, empty, columns, strict=True)])
    rows, cols = np.nonzero(filled)  # row-major: the file's order
    number = floats[rows, cols]
    values, unread = None, np.flatnonzero(np.isnan(number))
    if unread.size:
        values = number.astype(object)
        for k in unread.tolist():  # text that is no number: kept as found
            values[k] = text[columns[cols[k]]].iat[rows[k]]
    metric = _category(np.array([mapping.wide[c] for c in columns], dtype=object), cols)  # type: ignore[index]
    pick = (lambda a: None if a is None else a[rows])  # noqa: E731
    return Long(line[rows], metric, pick(area), pick(lon), pick(lat), ts[rows], raw_time[rows], values, number,
                reason[rows], empty=int((~filled).sum()))


def read_times(text: pd.DataFrame, spec: TimeSpec) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unix seconds per row (NaN where unreadable), the time as written, and a reason for a daylight-saving problem.

    One column of numbers is Unix seconds; text is ISO 8601 (with or without an offset) or ``format``.
    """
    sources = list(spec.sources)
    if len(sources) > 1:  # an hourly file repeats each time per station: join and parse each distinct one once
        key, first = _distinct_rows([text[c] for c in sources])
        distinct = text[sources].take(first)
        ts, raw, reason = read_times(_joined(distinct, sources), TimeSpec(column="t", format=spec.format,
                                     timezone=spec.timezone, dst_gap=spec.dst_gap, dst_overlap=spec.dst_overlap))
        return ts[key], raw[key], reason[key]
    raw = text[sources[0]].str.strip()
    reason = np.full(len(raw), None, dtype=object)
    numeric = _numbers(raw)
    if numeric.notna().all():
        return numeric.to_numpy(float), raw.to_numpy(object), reason
    fmt = spec.format or "ISO8601"
    zoned = raw.str.contains(r"(?:Z|[+-]\d\d:?\d\d)$", regex=True)
    naive = pd.to_datetime(raw.where(~zoned), format=fmt, errors="coerce")
    local = naive.dt.tz_localize(spec.timezone, ambiguous="NaT", nonexistent="NaT")
    trouble = (naive.notna() & local.isna()).to_numpy()
    if trouble.any():
        local = _resolve_dst(naive, local, trouble, spec, reason, raw)
    utc = local.dt.tz_convert("UTC")
    if zoned.any():  # times written with their offset
        utc = pd.to_datetime(raw.where(zoned), format=fmt, errors="coerce", utc=True).where(zoned, utc)
    seconds = (utc - EPOCH).dt.total_seconds().to_numpy(float)
    seconds = np.where(numeric.notna(), numeric, seconds)  # a column mixing numbers and text: Unix seconds still
    return seconds, raw.to_numpy(object), reason


def _numbers(raw: pd.Series) -> pd.Series:
    """The stripped cells that are numbers (Unix seconds), NaN elsewhere; a cell with a blank inside is none.

    Parsing only the others spares pandas' number parser every time of several columns joined by spaces.
    """
    spaced = raw.str.contains(" ", regex=False).fillna(False).to_numpy(bool)
    if not spaced.any():
        return pd.to_numeric(raw, errors="coerce")
    numeric = pd.Series(np.nan, index=raw.index)
    numeric[~spaced] = pd.to_numeric(raw[~spaced], errors="coerce")
    return numeric


def _distinct_rows(columns: list[np.ndarray | pd.Series | pd.Categorical]) -> tuple[np.ndarray, np.ndarray]:
    """Number the distinct combinations of ``columns`` in order of appearance: each row's number, each one's first row.

    Each column is factorised alone (a category's codes are used as they are) and the codes combined
    into one integer, factorised once at the end: cheaper than grouping by several string columns.
    """
    key, size = np.zeros(len(columns[0]), dtype=np.int64), 1
    for column in columns:
        codes, count = _codes(column)
        if size * (count + 1) >= 2**62:  # the combined number could overflow: renumber what is combined so far
            key = pd.factorize(key)[0]
            size = int(key.max(initial=-1)) + 1
        key, size = key * (count + 1) + codes, size * (count + 1)
    key = pd.factorize(key)[0]
    first = np.empty(int(key.max(initial=-1)) + 1, dtype=np.int64)
    first[key[::-1]] = np.arange(len(key))[::-1]  # the last write of each number is its first row
    return key, first


def _codes(column: np.ndarray | pd.Series | pd.Categorical) -> tuple[np.ndarray, int]:
    """A column's codes from 1 (0: missing, which spares pandas a pass looking for NaN) and how many distinct."""
    if isinstance(column, pd.Categorical):
        return column.codes.astype(np.int64) + 1, len(column.categories)
    codes, distinct = pd.factorize(column)
    return codes.astype(np.int64) + 1, len(distinct)


def _joined(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """One column ``t``: the cells of ``columns`` stripped and joined with spaces."""
    joined = frame[columns[0]].str.strip()
    for column in columns[1:]:
        joined = joined + " " + frame[column].str.strip()
    return pd.DataFrame({"t": joined.to_numpy(object)})


def _resolve_dst(naive: pd.Series, local: pd.Series, trouble: np.ndarray, spec: TimeSpec, reason: np.ndarray,
                 raw: pd.Series) -> pd.Series:
    """Place the local times that fall in a daylight-saving gap or overlap as the spec says, or give a reason."""
    n = len(naive)
    # Shifting places a time in a gap, never one in an overlap: what stays NaT happens twice.
    shifted = naive.dt.tz_localize(spec.timezone, ambiguous="NaT", nonexistent="shift_forward")
    overlap = trouble & shifted.isna().to_numpy()
    gap = trouble & ~overlap
    earlier = naive.dt.tz_localize(spec.timezone, ambiguous=np.ones(n, bool), nonexistent=-GAP_SHIFT)
    later = naive.dt.tz_localize(spec.timezone, ambiguous=np.zeros(n, bool), nonexistent=GAP_SHIFT)
    for mask, choice, what, option in ((gap, spec.dst_gap, "does not exist", "dst_gap"),
                                       (overlap, spec.dst_overlap, "happens twice", "dst_overlap")):
        if not mask.any():
            continue
        if choice == "refuse":
            for k in np.flatnonzero(mask).tolist():
                reason[k] = (f"time {raw.iat[k]!r} {what} in {spec.timezone} (daylight saving); "
                             f"set {option}: earlier or later to place it")
        else:
            local = local.where(~mask, earlier if choice == "earlier" else later)
    return local


def _field(text: pd.DataFrame, spec: FieldSpec, name: str, reason: np.ndarray) -> pd.Categorical:
    """A text field per row: the constant, the column, or the column through its map (unknowns get a reason).

    As a category: a column repeats few values (stations, districts), each stripped and mapped once,
    and the ingest path's checks and the stream's text then work on the few, not on every row.
    """
    if spec.value is not None:
        return _category(np.array([spec.value], dtype=object), np.zeros(len(text), dtype=np.intp))
    codes, distinct = pd.factorize(text[spec.column], use_na_sentinel=False)
    cells = np.array([str(c).strip() for c in distinct], dtype=object)
    if spec.map is None:
        return _category(cells, codes)
    mapped = np.array([spec.map.get(c) for c in cells], dtype=object)
    unknown = (mapped == None)[codes]  # noqa: E711 (elementwise)
    for k in np.flatnonzero(unknown & (reason == None)).tolist():  # noqa: E711 (elementwise)
        reason[k] = f"{name} {cells[codes[k]]!r} of column {spec.column!r} is not in its map"
    return _category(np.where(mapped == None, cells, mapped), codes)  # noqa: E711 (elementwise)


def _category(values: np.ndarray, codes: np.ndarray) -> pd.Categorical:
    """``values[codes]`` as a category (``values`` may repeat: two stations mapped to one grid)."""
    which, distinct = pd.factorize(values)
    return pd.Categorical.from_codes(which[codes], categories=pd.Index(distinct, dtype=object))


def _values(cells: pd.Series, mapping: Mapping) -> tuple[np.ndarray, np.ndarray]:
    """The value per row as a float (NaN where text), and as floats or the text as found for the ingest path."""
    spec = mapping.value
    raw = cells.str.strip()
    floats = _floats(raw)
    if spec.map is not None:  # type: ignore[union-attr]
        mapped = raw.map(spec.map).to_numpy(dtype=float, na_value=np.nan)  # type: ignore[union-attr]
        floats = np.where(np.isnan(mapped), floats, mapped)
    out = floats.astype(object)
    unread = np.isnan(floats)
    out[unread] = raw.to_numpy(object)[unread]  # "abc" stays "abc", refused with its text
    return floats, out


def _floats(cells: pd.Series) -> np.ndarray:
    """The column's cells as floats, NaN where a cell is no number (Arrow's parser: ten times pandas')."""
    return _arrow_floats(pa.array(cells, type=pa.string()), cells)


def _arrow_floats(text: pa.Array, cells: pd.Series) -> np.ndarray:
    """Arrow text (nulls where no value) as floats; pandas' parser for the cells when a cell is no number."""
    try:
        return pc.cast(text, pa.float64()).to_numpy(zero_copy_only=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pd.to_numeric(cells, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
