"""An engine's kept arrays on disk, so that a restarted engine goes on from its last tick instead of scoring anew.

A province's first scoring pass takes seconds of CPU (every indicator at every grid, rolled up
to every level); what it computes is what the engine before held when it stopped. ``save``
writes those arrays (``Engine.kept``) as ``.npy`` files in a new directory, each synced, then
points ``current`` at it in one rename: a reader sees a whole snapshot or the one before.
``load`` maps them copy-on-write (pages are read as a tick touches them; nothing is written back).

A snapshot is keyed by the hierarchy's digest, the catalog's version and the time of the tick it
was taken after: the states in it are those written to the store at that tick, so it is used only
when the store's last tick is that one (``EngineService`` checks); anything else (no snapshot, a
torn or foreign one, a later tick written since) and the engine scores from nothing as before.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from cityvitals.archive.files import sync_dir

log = logging.getLogger(__name__)
FORMAT = 3  # bump when the arrays kept change meaning
CURRENT = "current"  # the symbolic link naming the snapshot in force


@dataclass(frozen=True)
class SnapshotKey:
    """What a snapshot is valid for."""

    tree: str  # digest of the hierarchy (``EngineService.tree_digest``)
    catalog: str  # the catalog's version
    tick: float  # the time of the tick whose results it holds (``store.meta().last_tick`` then)


def save(directory: Path, key: SnapshotKey, arrays: dict[str, np.ndarray], scalars: dict[str, float]) -> Path:
    """Write a snapshot and make it the current one; returns its directory. Older ones are removed."""
    directory.mkdir(parents=True, exist_ok=True)
    target = Path(tempfile.mkdtemp(prefix="snapshot-", dir=directory))
    for name, array in arrays.items():
        with open(target / f"{name}.npy", "wb") as f:
            np.save(f, np.ascontiguousarray(array), allow_pickle=False)
            f.flush()
            os.fsync(f.fileno())  # the link below must never name a file the disk does not hold whole
    meta = {"format": FORMAT, "key": asdict(key), "scalars": scalars, "arrays": sorted(arrays)}
    with open(target / "meta.json", "w") as f:
        json.dump(meta, f)
        f.flush()
        os.fsync(f.fileno())
    link = directory / f".{CURRENT}-{target.name}"
    link.symlink_to(target.name)
    os.replace(link, directory / CURRENT)
    sync_dir(directory)
    for old in directory.glob("snapshot-*"):
        if old != target:
            shutil.rmtree(old, ignore_errors=True)
    return target


def load(directory: Path, key: SnapshotKey) -> tuple[dict[str, np.ndarray], dict[str, float]] | None:
    """The current snapshot's arrays (mapped copy-on-write) and numbers if it is one of ``key``; else None."""
    path = directory / CURRENT
    try:
        meta = json.loads((path / "meta.json").read_text())
    except (OSError, ValueError):
        return None  # none yet, or not readable: a start from nothing
    if meta.get("format") != FORMAT or meta.get("key") != asdict(key):
        log.info("engine snapshot %s is of %s, not %s: scoring from nothing", path.resolve(), meta.get("key"),
                 asdict(key))
        return None
    try:
        arrays = {name: np.asarray(np.load(path / f"{name}.npy", mmap_mode="c", allow_pickle=False))
                  for name in meta["arrays"]}
    except (OSError, ValueError) as exc:
        log.warning("engine snapshot %s unreadable (%s): scoring from nothing", path.resolve(), exc)
        return None
    return arrays, meta["scalars"]
