"""A built hierarchy cached on disk as plain arrays, keyed by the hierarchy's version.

Generating the province demo (Voronoi tiling) takes seconds per 10,000 grids; reading its
columns back from one ``.npz`` file (geometry as WKB, decoded by shapely in one vectorised
call) takes a fraction of that. The file holds no pickled objects, only arrays of numbers,
strings and bytes, and records the version it was built for: a different version (a changed
hierarchy, a new generator, a new file format) misses the cache and rebuilds.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import os
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import shapely

from cityvitals.areas.demo import DEMO_VERSION, province_demo, pukou_demo
from cityvitals.areas.model import AREA_FIELDS, Area, AreaTree

# Bump when the file layout changes: older files then stop matching any version.
CACHE_FORMAT = 1
_TEXT = ("id", "level", "name_zh", "name_en")
_OPTIONAL = ("parent", "kind", "category")


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a tree loads.

    A province makes about a million lists and strings, none of them garbage; the collections they
    would trigger cost a third of the load.
    """
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def cache_path(cache_dir: Path, version: str) -> Path:
    """Return the cache file for hierarchy ``version`` under ``cache_dir``."""
    digest = hashlib.sha256(f"{CACHE_FORMAT}\n{version}".encode()).hexdigest()[:24]
    return Path(cache_dir) / f"areas-{digest}.npz"


def save_cached(path: Path, version: str, areas: list[Area]) -> None:
    """Write ``areas`` to ``path`` as columns; atomic, so a reader never sees half a file."""
    columns: dict[str, np.ndarray] = {name: np.array([getattr(a, name) for a in areas], dtype=str) for name in _TEXT}
    for name in _OPTIONAL:
        values = [getattr(a, name) for a in areas]
        columns[name] = np.array(["" if v is None else v for v in values], dtype=str)
        columns[f"{name}_set"] = np.array([v is not None for v in values], dtype=bool)
    columns["population"] = np.array([a.population for a in areas], dtype=np.int64)
    columns["area_km2"] = np.array([a.area_km2 for a in areas], dtype=np.float64)
    wkb = shapely.to_wkb(np.array([a.geometry for a in areas], dtype=object))
    columns["geometry"] = np.frombuffer(b"".join(wkb.tolist()), dtype=np.uint8)
    columns["geometry_end"] = np.cumsum([len(w) for w in wkb.tolist()], dtype=np.int64)
    columns["version"] = np.array(f"{CACHE_FORMAT}\n{version}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".areas-", suffix=".npz")
    try:
        with os.fdopen(fd, "wb") as out:
            np.savez(out, **columns)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_columns(path: Path, version: str) -> dict[str, list] | None:
    """Return the cached columns at ``path`` for ``version`` (one list per Area field), or None if absent or stale."""
    try:
        with np.load(path, allow_pickle=False) as data:
            if str(data["version"]) != f"{CACHE_FORMAT}\n{version}":
                return None
            arrays = {name: data[name] for name in data.files}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        # Missing, truncated or from another layout: rebuilding is always correct.
        return None
    ends = arrays["geometry_end"]
    blob = arrays["geometry"].tobytes()
    starts = np.concatenate(([0], ends[:-1]))
    columns: dict[str, list] = {name: arrays[name].tolist() for name in (*_TEXT, "population", "area_km2")}
    columns["geometry"] = shapely.from_wkb([blob[s:e] for s, e in zip(starts.tolist(), ends.tolist(), strict=True)])
    for name in _OPTIONAL:
        present = arrays[f"{name}_set"].tolist()
        columns[name] = [v if p else None for v, p in zip(arrays[name].tolist(), present, strict=True)]
    return columns


def load_cached(path: Path, version: str) -> list[Area] | None:
    """Return the areas cached at ``path`` for ``version``, or None if absent, stale or unreadable."""
    columns = load_columns(path, version)
    if columns is None:
        return None
    return [Area(*row) for row in zip(*(columns[name] for name in AREA_FIELDS), strict=True)]


def cached_areas(cache_dir: Path, version: str, build: Callable[[], list[Area]]) -> list[Area]:
    """Return the hierarchy of ``version`` from the cache, else ``build()`` it and cache it."""
    path = cache_path(cache_dir, version)
    areas = load_cached(path, version)
    if areas is None:
        areas = build()
        save_cached(path, version, areas)
    return areas


def demo_version(grids: int | None = None, seed: int = 7) -> str:
    """Return the version key of the Pukou demo (``grids`` None) or of a province demo of ``grids`` grids."""
    if grids is None:
        return f"pukou_demo seed={seed} demo={DEMO_VERSION}"
    return f"province_demo grids={grids} seed={seed} demo={DEMO_VERSION}"


def cached_tree(cache_dir: Path, version: str, build: Callable[[], list[Area]]) -> AreaTree:
    """Return the tree of ``version`` from the cache's columns (no Area made until asked), else build and cache it."""
    path = cache_path(cache_dir, version)
    with _collector_paused():
        columns = load_columns(path, version)
        if columns is not None:
            return AreaTree.from_columns(columns)
    areas = build()
    save_cached(path, version, areas)
    return AreaTree(areas)


def cached_demo_tree(cache_dir: Path, grids: int | None = None, seed: int = 7) -> AreaTree:
    """Return the Pukou demo (``grids`` None) or a province demo of ``grids`` grids as a tree, through the cache."""
    build = (lambda: pukou_demo(seed)) if grids is None else (lambda: province_demo(grids, seed))
    return cached_tree(cache_dir, demo_version(grids, seed), build)
