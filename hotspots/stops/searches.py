"""Load stop-and-search records (raw files or a store) with their LSOA."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from hotspots.core import schema
from hotspots.core.errors import InputError


@dataclass(frozen=True)
class LoadedSearches:
    """Searches read for a review, with what is needed for the manifest.

    Attributes
    ----------
    searches
        Stop-and-search rows (``hotspots.read_searches`` schema) with ``lsoa21_code``.
    rejects
        Rejected rows (reason codes as for ingest).
    rows
        ``{"read", "accepted", "rejected"}`` counts (``None`` for a store whose manifest
        lacks them).
    inputs
        Manifest entries of the input files (path, sha256, counts).
    source
        ``"files"`` or ``"store"``.
    """

    searches: gpd.GeoDataFrame
    rejects: pd.DataFrame
    rows: dict[str, object]
    inputs: list[dict[str, object]]
    source: str
    notes: dict[str, int] = field(default_factory=dict)


def _add_lsoas(searches: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Place located searches in 2021 LSOAs when the store was built without them."""
    from hotspots.geo.boundaries import london_lsoas
    from hotspots.geo.geocode import assign_areas

    located = searches.geometry.notna() & ~searches.geometry.is_empty
    codes = np.full(len(searches), None, dtype=object)
    if located.any():
        geometry = searches.geometry[located]
        lsoas = london_lsoas()
        found = assign_areas(geometry.x.to_numpy(), geometry.y.to_numpy(), lsoas).index
        codes[np.flatnonzero(located.to_numpy())[found >= 0]] = lsoas.codes[found[found >= 0]]
    return searches.assign(**{schema.LSOA21_CODE: codes})


def load_searches(
    inputs: Sequence[str | Path],
    *,
    months: tuple[str, str] | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> LoadedSearches:
    """Read stop-and-search rows from raw files or an ingest folder.

    Parameters
    ----------
    inputs
        data.police.uk stop-and-search files, folders, globs or zips; or one ``hotspots
        ingest`` output folder holding a ``searches/`` dataset.
    months
        Inclusive ``("YYYY-MM", "YYYY-MM")``; rows outside are rejected as
        ``not_selected`` (raw files) or not read (store).
    on_progress
        Called with the compressed bytes read so far (raw files).

    Returns
    -------
    LoadedSearches
        Searches placed in London boroughs and 2021 LSOAs, rejects and provenance.
    """
    from hotspots.ingest.read import Selection, london_settings, read_searches
    from hotspots.io.manifest import describe_inputs
    from hotspots.io.sources import find_sources
    from hotspots.io.store import is_store, read_store

    paths = [Path(p) for p in inputs]
    if not paths:
        raise InputError("no SEARCHES given: pass stop-and-search files or an ingest folder.")
    if len(paths) == 1 and is_store(paths[0], dataset="searches"):
        store = paths[0]
        searches = read_store(store, dataset="searches", months=months)
        if schema.LSOA21_CODE not in searches:
            searches = _add_lsoas(searches)
        manifest = json.loads((store / "manifest.json").read_text(encoding="utf-8"))
        rejects_path = store / "rejects.csv"
        rejects = (
            pd.read_csv(rejects_path, dtype=str, keep_default_na=False)
            if rejects_path.is_file()
            else pd.DataFrame(columns=list(schema.REJECT_COLUMNS))
        )
        return LoadedSearches(
            searches=searches,
            rejects=rejects,
            rows=dict(manifest.get("rows") or {}),
            inputs=list(manifest.get("inputs") or []),
            source="store",
            notes=dict(manifest.get("notes") or {}),
        )
    if any(is_store(p, dataset="searches") for p in paths):
        raise InputError("pass an ingest folder on its own, not mixed with other inputs.")
    settings = london_settings(with_lsoas=True, selection=Selection(months=months))
    loaded = read_searches(paths, settings=settings, on_progress=on_progress)
    sources = find_sources(paths)
    return LoadedSearches(
        searches=loaded.incidents,
        rejects=loaded.rejects,
        rows={
            "read": loaded.rows_read,
            "accepted": len(loaded.incidents),
            "rejected": len(loaded.rejects),
            "invariant_holds": len(loaded.incidents) + len(loaded.rejects) == loaded.rows_read,
        },
        inputs=describe_inputs(sources, loaded.reports),
        source="files",
        notes=dict(loaded.notes),
    )
