"""Stream entries to one Arrow table: parsed in C++ at once, line by line only when some line is bad."""

from __future__ import annotations

import logging
from collections.abc import Container
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv

from cityvitals import store
from cityvitals.archive.files import SCHEMA

log = logging.getLogger(__name__)
LATEST_TS = 253_402_300_800.0  # 10000-01-01: later has no day partition
_LINES = SCHEMA.remove(SCHEMA.get_field_index("batch"))  # the fields of a line of store.encode_batch
# Tab-separated, no quoting, and no text read as null ("nan" is a number): the lines as encode_batch writes them
_PARSE = pcsv.ParseOptions(delimiter="\t", quote_char=False, escape_char=False)
_READ = pcsv.ReadOptions(column_names=_LINES.names)
_CONVERT = pcsv.ConvertOptions(column_types=_LINES, null_values=[], strings_can_be_null=False)


@dataclass
class Parsed:
    """The rows of a round's entries (each batch once), with what was left out."""

    table: pa.Table
    batches: list[str] = field(default_factory=list)  # the batch ids written (feed's, else the entry id)
    resent: int = 0  # entries whose batch was written already
    bad: int = 0  # lines that do not parse or whose time has no day


def parse_entries(entries: list[store.RawEntry], seen: Container[str]) -> Parsed:
    """Parse ``entries`` into rows with their batch id; a bad line is counted and logged with its entry's id."""
    out = Parsed(_LINES.empty_table())
    kept: list[store.RawEntry] = []
    for entry in entries:
        bid = entry.fields.get("bid") or entry.entry_id
        if bid in seen or bid in out.batches:
            out.resent += 1
            continue
        if not entry.fields:
            log.warning("archive: entry %s was trimmed from the stream before it was archived", entry.entry_id)
        out.batches.append(bid)
        kept.append(entry)
    texts = [e.fields.get("data", "") for e in kept]
    table, lines = _parse_at_once(texts) or _parse_each(texts)
    ts = table["ts"].to_numpy()
    ok = np.isfinite(ts) & (ts >= 0) & (ts < LATEST_TS)
    owner = np.repeat(np.arange(len(kept)), lines[:, 0])
    bad = lines[:, 1] + np.bincount(owner[~ok], minlength=len(kept))
    for k in np.flatnonzero(bad):
        log.warning("archive: entry %s: %d sample(s) that do not parse or have no day, skipped",
                    kept[k].entry_id, bad[k])
    out.bad = int(bad.sum())
    batch = pa.DictionaryArray.from_arrays(pa.array(owner[ok], pa.int32()), pa.array(out.batches, pa.string()))
    out.table = table.filter(ok).append_column("batch", batch.cast(pa.string()))
    return out


def _parse_at_once(texts: list[str]) -> tuple[pa.Table, np.ndarray] | None:
    """Every line of ``texts`` in one CSV read, and (lines kept, lines bad) per text; None if any line is bad."""
    counts = np.array([t.count("\n") + 1 if t else 0 for t in texts], dtype=np.int64)
    body = "\n".join(t for t in texts if t)
    if not body:
        return _LINES.empty_table(), np.zeros((len(texts), 2), dtype=np.int64)
    try:
        table = pcsv.read_csv(pa.py_buffer(body.encode()), _READ, _PARSE, _CONVERT)
    except (pa.ArrowInvalid, UnicodeEncodeError):
        return None
    if len(table) != counts.sum():  # an empty line was skipped: a bad line, so parse them one by one
        return None
    return table, np.stack([counts, np.zeros_like(counts)], axis=1)


def _parse_each(texts: list[str]) -> tuple[pa.Table, np.ndarray]:
    """Parse each text line by line, leaving out the lines that do not parse."""
    parts, lines = [], np.zeros((len(texts), 2), dtype=np.int64)
    for k, text in enumerate(texts):
        cols, bad = store.decode_lenient(text)
        try:
            parts.append(pa.table([pa.array(cols.metric, pa.string()), pa.array(cols.area, pa.string()),
                                   cols.ts, cols.value], schema=_LINES))
            lines[k] = len(cols.metric), bad
        except (UnicodeEncodeError, pa.ArrowException):  # text that is not UTF-8 cannot be stored: all bad
            lines[k] = 0, len(cols.metric) + bad
    return pa.concat_tables([_LINES.empty_table(), *parts]), lines
