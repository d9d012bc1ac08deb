"""``hotspots stops``: the stop-and-search disproportionality review, end to end.

Steps (each a public function a notebook can call)::

    loaded = load_searches(["data/police_uk/met_stop_and_search"], months=("2023-09", "2024-08"))
    review = review_stops(loaded.searches, months=("2023-09", "2024-08"))
    review.headline                      # the London figures, as plain values
    review.table("search_rate")          # London rates by group (self-defined)
    run_stops([...], "out/")             # everything above, written to files

1. read searches (raw data.police.uk files or an ingest store), placed in boroughs and
   2021 LSOAs; a search with no location counts toward the force area (London) but no
   borough;
2. classify them (:mod:`hotspots.stops.disparity`): Census groups in two views, harmonised
   outcomes, age and gender bands;
3. hotspot sets: the Met's violence counts by LSOA (top LSOAs by violence harm, and
   Gi* hot LSOAs), plus the hot cells of a ``hotspots detect`` output when given;
4. count everything into one cube, suppress small and recoverable counts, and compute
   rates, ratios, outcomes, shares in hotspots, searches per unit of harm, the monthly
   series, year-on-year change and the legislation / object / outcome mix;
5. write ``disparity.csv``, ``monthly.csv``, ``context.csv``, ``lsoa_rates.csv``,
   ``review.html`` (printable, no script), ``review_map.html`` (offline folium map of
   empirical-Bayes smoothed search rates per LSOA), ``rejects.csv`` and ``manifest.json``.
"""

from __future__ import annotations

import base64
import io
import json
import math
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from hotspots.core import schema
from hotspots.core.errors import InputError, SchemaError
from hotspots.stops import disparity as dp
from hotspots.stops.populations import (
    ETHNIC_GROUPS,
    Population,
    lsoa_boroughs,
    read_population,
    read_population_by,
)

VIOLENCE = "VIOLENCE AGAINST THE PERSON"
BUNDLED = "bundled"
LSOA_COUNTS = ("police_uk", "mps_area_counts", "recorded-crime-lsoa_202308-202408.csv.gz")
DEFAULT_TOP_SHARE = 0.05
MAP_GROUPS = (dp.ALL, "Black", "White", "Asian")
GROUP_COLOURS = {
    "Asian": "#E69F00",
    "Black": "#0072B2",
    "Mixed": "#009E73",
    "White": "#D55E00",
    "Other": "#CC79A7",
    dp.NOT_STATED: "#999999",
    dp.ALL: "#000000",
}
"""Okabe-Ito colours, distinguishable with the common colour-vision deficiencies."""
SET_COLUMNS = (
    "hotspots",
    "unit",
    "places",
    "places_total",
    "share_of_area",
    "share_of_harm",
    "share_of_located_searches",
    "searches_share_over_harm_share",
    "description",
)
"""Columns of ``StopsReview.hotspot_sets``."""
RATE_COLOURS = ("#f1eef6", "#d4b9da", "#c994c7", "#df65b0", "#dd1c77", "#980043")
"""ColorBrewer PuRd (6): sequential, colour-blind safe."""


# ---------------------------------------------------------------------------
# 1. reading


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


# ---------------------------------------------------------------------------
# 2. hotspot sets


@dataclass(frozen=True)
class HotspotSet:
    """A set of places called hotspots, and what it holds.

    Attributes
    ----------
    name
        Short name used in ``area_filter`` (``inside <name>``).
    unit
        ``"LSOA"`` or ``"H3 cell"``.
    members
        Codes of the places in the set.
    units_total
        Places of that unit in the study area.
    area_share
        Share of the study area (km²) the set covers.
    harm_share
        Share of the harm (of the source) inside the set.
    description
        How the set was chosen, in a sentence.
    harm_source
        Which harm ``harm_share`` refers to.
    """

    name: str
    unit: str
    members: frozenset[str]
    units_total: int
    area_share: float
    harm_share: float
    description: str
    harm_source: str


@dataclass(frozen=True)
class HarmAreas:
    """Harm per place of one source, and the hotspot sets drawn from it.

    Attributes
    ----------
    places
        One row per place (LSOA or cell): ``place``, ``borough_code``, ``harm``,
        ``count``, ``area_km2``, ``rank``, ``gi_class`` (and geometry).
    sets
        The hotspot sets.
    label
        What the harm is, with its period and weights.
    measure
        Measure name of the searches-per-harm rows.
    unit
        ``"LSOA"`` or ``"H3 cell"``.
    """

    places: gpd.GeoDataFrame
    sets: tuple[HotspotSet, ...]
    label: str
    measure: str
    unit: str


def _top_and_hot(
    places: gpd.GeoDataFrame,
    *,
    unit: str,
    prefix: str,
    top_share: float,
    harm_source: str,
    gi_text: str,
) -> tuple[HotspotSet, ...]:
    n = len(places)
    n_top = max(1, math.ceil(top_share * n))
    total_harm = float(places["harm"].sum())
    total_area = float(places["area_km2"].sum())
    top = places[places["rank"] <= n_top]
    hot = places[places["gi_class"].astype(str).str.startswith("hot")]
    pct = f"{100 * top_share:g}%"
    sets = []
    for name, chosen, description in (
        (
            f"{prefix} top {pct} {unit}s",
            top,
            f"the {len(top):,} {unit}s ({pct} of {n:,}) with the most {harm_source}",
        ),
        (
            f"{prefix} Gi* hot {unit}s",
            hot,
            f"the {len(hot):,} {unit}s that are significant Gi* hot spots of {harm_source} ({gi_text})",
        ),
    ):
        sets.append(
            HotspotSet(
                name=name,
                unit=unit,
                members=frozenset(map(str, chosen.index)),
                units_total=n,
                area_share=float(chosen["area_km2"].sum()) / total_area if total_area else np.nan,
                harm_share=float(chosen["harm"].sum()) / total_harm if total_harm else np.nan,
                description=description,
                harm_source=harm_source,
            )
        )
    return tuple(sets)


def _violence_rows(source: Path, folder: Path) -> Path:
    """Write the violence rows of an MPS wide table (values unchanged) to a CSV in ``folder``.

    Reading only these rows makes :func:`hotspots.ingest.area_counts.read_area_counts` about five
    times faster than reading every offence and leaving the others out.
    """
    if not source.is_file():
        raise InputError(f"no such file: {source}")
    try:
        if source.suffix == ".parquet":
            wide = pd.read_parquet(source).astype(str)
        else:
            wide = pd.read_csv(source, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError) as exc:
        raise InputError(f"cannot read {source}: {exc}") from None
    major = next((c for c in ("major_category", "majortext") if c in wide.columns), None)
    if major is None:
        raise SchemaError(
            f"{source} has no major_category column; expected an MPS recorded-crime table."
        )
    target = folder / f"{source.name.split('.')[0]}-violence.csv"
    wide[wide[major].str.strip().str.upper() == VIOLENCE].to_csv(target, index=False)
    return target


def violence_hotspots(
    path: str | Path = BUNDLED,
    *,
    months: tuple[str, str] | None = None,
    top_share: float = DEFAULT_TOP_SHARE,
) -> HarmAreas:
    """Violence harm per London LSOA from the Met's area counts, and its hotspot sets.

    Parameters
    ----------
    path
        An MPS recorded-crime LSOA table, or ``"bundled"`` for the bundled one
        (2023-08..2024-08).
    months
        The search period: the months of the counts inside it are used; if none are, all
        months of the table are used (and the label says so).
    top_share
        Share of LSOAs in the "top" set (by harm; default 5%).

    Returns
    -------
    HarmAreas
        Harm per LSOA (CCHI weights of the MPS minor categories, ``VIOLENCE AGAINST THE
        PERSON``), the top set and the Gi* hot set (queen contiguity, FDR).
    """
    from hotspots.core.paths import bundled
    from hotspots.detect.areas import detect_area_hotspots
    from hotspots.geo.boundaries import london_boroughs, london_lsoas
    from hotspots.ingest.area_counts import read_area_counts

    source = bundled(*LSOA_COUNTS) if str(path) == BUNDLED else Path(path)
    with tempfile.TemporaryDirectory(prefix="hotspots-violence-") as folder:
        counts = read_area_counts(_violence_rows(source, Path(folder)))
    if counts.geography != "lsoa":
        raise InputError(
            f"{source} holds {counts.geography} counts; violence hotspots need LSOAs."
        )
    tidy = counts.counts[counts.counts["major_category"].str.upper() == VIOLENCE]
    if tidy.empty:
        raise InputError(f"{source} has no '{VIOLENCE}' rows.")
    available = (str(tidy["month"].min()), str(tidy["month"].max()))
    note = ""
    if months is not None:
        inside = tidy["month"].astype(str).between(months[0], months[1])
        if inside.any():
            tidy = tidy[inside]
        else:
            note = f" (no months inside the search period {months[0]}..{months[1]}; all used)"
    used = (str(tidy["month"].min()), str(tidy["month"].max()))
    from dataclasses import replace

    detection = detect_area_hotspots(
        replace(counts, counts=tidy), london_lsoas(), boroughs=london_boroughs()
    )
    cells = detection.cells
    places = gpd.GeoDataFrame(
        {
            "place": cells["place"].to_numpy(),
            "borough_code": cells["borough_code"].replace("", np.nan).to_numpy(),
            "harm": cells["harm"].to_numpy(),
            "count": cells["incidents"].to_numpy(),
            "area_km2": cells["area_km2"].to_numpy(),
            "rank": cells["rank"].to_numpy(),
            "gi_class": cells["gi_class"].astype(str).to_numpy(),
        },
        geometry=cells.geometry.to_numpy(),
        index=pd.Index(cells.index.astype(str), name="lsoa21_code"),
        crs=cells.crs,
    )
    missing_borough = places["borough_code"].isna()
    if missing_borough.any():
        fill = lsoa_boroughs(places.index[missing_borough])
        places.loc[missing_borough, "borough_code"] = fill.to_numpy()
    harm_source = f"violence harm (MPS LSOA counts {used[0]}..{used[1]}, CCHI)"
    label = (
        f"violence against the person (homicide, violence with and without injury), MPS "
        f"recorded-crime counts by LSOA {used[0]}..{used[1]}{note}, weighted by "
        f"{counts.harm_table}; available {available[0]}..{available[1]}"
    )
    sets = _top_and_hot(
        places,
        unit="LSOA",
        prefix="violence",
        top_share=top_share,
        harm_source=harm_source,
        gi_text=f"queen contiguity, {detection.gi_p_label}",
    )
    return HarmAreas(
        places=places,
        sets=sets,
        label=label,
        measure="searches_per_violence_harm",
        unit="LSOA",
    )


def detect_hotspots_from(path: str | Path, *, top_share: float = DEFAULT_TOP_SHARE) -> HarmAreas:
    """Read the hot places of a ``hotspots detect`` output folder.

    Parameters
    ----------
    path
        A ``detect`` ``--out`` folder with ``cells.parquet`` (H3 cells) or
        ``areas.parquet`` (LSOAs).
    top_share
        Share of places in the "top" set (by harm).

    Returns
    -------
    HarmAreas
        The detect harm per place, its top set and its Gi* hot set.
    """
    folder = Path(path)
    cells_path, areas_path = folder / "cells.parquet", folder / "areas.parquet"
    if cells_path.is_file():
        table = gpd.read_parquet(cells_path)
        key, unit = "cell", "H3 cell"
    elif areas_path.is_file():
        table = gpd.read_parquet(areas_path)
        key, unit = "area", "LSOA"
        if not table["area"].astype(str).str.startswith("E01").all():
            raise InputError(
                f"{areas_path} holds areas that are not LSOAs; --hotspots takes a detect "
                "output on H3 cells or on LSOAs."
            )
    else:
        raise InputError(
            f"--hotspots {folder} has no cells.parquet or areas.parquet; point it at the "
            "--out folder of 'hotspots detect'."
        )
    required = [key, "harm", "incidents", "rank", "gi_class", "borough_code", "area_km2"]
    missing = [c for c in required if c not in table]
    if missing:
        raise SchemaError(f"{folder} detect table lacks {missing}; re-run hotspots detect.")
    what = "harm"
    manifest_path = folder / "manifest.json"
    if manifest_path.is_file():
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        detect = manifest.get("detect") or {}
        period = detect.get("period") or []
        types = detect.get("crime_types") or []
        harm_table = (manifest.get("parameters") or {}).get("harm_table", "")
        what = (
            f"{', '.join(map(str, types)) or 'all crime'} harm "
            f"({'..'.join(map(str, period))}{', ' + harm_table if harm_table else ''})"
        )
    places = gpd.GeoDataFrame(
        {
            "place": table.get("place", table[key]).astype(str).to_numpy(),
            "borough_code": table["borough_code"].astype(str).replace("", np.nan).to_numpy(),
            "harm": table["harm"].to_numpy(dtype=np.float64),
            "count": table["incidents"].to_numpy(),
            "area_km2": table["area_km2"].to_numpy(dtype=np.float64),
            "rank": table["rank"].to_numpy(),
            "gi_class": table["gi_class"].astype(str).to_numpy(),
        },
        geometry=table.geometry.to_numpy(),
        index=pd.Index(table[key].astype(str).to_numpy(), name="place_code"),
        crs=table.crs,
    )
    sets = _top_and_hot(
        places,
        unit=unit,
        prefix="detect",
        top_share=top_share,
        harm_source=f"detect {what}",
        gi_text="as classified by detect",
    )
    return HarmAreas(
        places=places,
        sets=sets,
        label=f"detect output {folder.name}: {what}",
        measure="searches_per_detect_harm",
        unit=unit,
    )


def _membership(searches: pd.DataFrame, areas: HarmAreas) -> dict[str, pd.Series]:
    """Flag, per hotspot set, whether each located search lies inside it."""
    if areas.unit == "LSOA":
        place = searches.get(schema.LSOA21_CODE, pd.Series(None, index=searches.index))
    else:
        import h3

        resolution = h3.get_resolution(str(areas.places.index[0]))
        place = searches[schema.CELL_ID]
        sample = place.dropna()
        if sample.empty or h3.get_resolution(str(sample.iloc[0])) != resolution:
            from hotspots.geo.grid import cell_strings, cells_from_lonlat

            located = searches[schema.LON].notna().to_numpy()
            values = np.full(len(searches), None, dtype=object)
            values[located] = cell_strings(
                cells_from_lonlat(
                    searches[schema.LON].to_numpy()[located],
                    searches[schema.LAT].to_numpy()[located],
                    resolution=resolution,
                )
            )
            place = pd.Series(values, index=searches.index)
    place = place.astype(object)
    return {s.name: place.isin(s.members) & place.notna() for s in areas.sets}


def _harm_table(areas: HarmAreas, geographies: Sequence[str]) -> pd.DataFrame:
    """Harm per borough and force area, for all places and inside/outside each set."""
    places = areas.places
    rows = []
    filters = {dp.ALL: np.ones(len(places), dtype=bool)}
    for s in areas.sets:
        inside = places.index.isin(list(s.members))
        filters[f"inside {s.name}"] = inside
        filters[f"outside {s.name}"] = ~inside
    for name, mask in filters.items():
        sub = places[mask]
        by = sub.groupby("borough_code")["harm"].sum().reindex(list(geographies), fill_value=0.0)
        for code, harm in by.items():
            rows.append((code, name, float(harm)))
        rows.append((dp.FORCE_CODE, name, float(sub["harm"].sum())))
    return pd.DataFrame(rows, columns=["geography_code", "area_filter", "harm"])


# ---------------------------------------------------------------------------
# 3. LSOA rates for the map


def lsoa_search_rates(
    classified: dp.ClassifiedSearches,
    population: Population,
    *,
    cube: pd.DataFrame,
    groups: Sequence[str] = MAP_GROUPS,
    min_count: int = dp.DEFAULT_MIN_COUNT,
) -> pd.DataFrame:
    """Compute searches per 1,000 residents per LSOA (self-defined groups), raw and EB-smoothed.

    Parameters
    ----------
    classified
        From :func:`hotspots.stops.disparity.classify_searches` (needs ``lsoa21_code``).
    population
        Residents per LSOA and group (``read_population("census2021", level="lsoa")``).
    cube
        The suppressed cube: borough totals it publishes take part in the suppression.
    groups
        ``"all"`` and/or broad groups.
    min_count
        Disclosure threshold; suppression is primary and secondary within each borough
        (an LSOA count is also withheld when it could be recovered from the borough total).

    Returns
    -------
    DataFrame
        Indexed by ``lsoa21_code``: ``lsoa_name``, ``borough_code``, and for each group
        ``residents_<g>``, ``searches_<g>``, ``rate_<g>`` (raw, per 1,000),
        ``smoothed_<g>`` (Marshall global empirical Bayes, per 1,000) and
        ``suppressed_<g>``; withheld values are NaN.
    """
    if population.level != "lsoa":
        raise InputError("LSOA rates need an LSOA population table (level='lsoa').")
    frame = classified.searches
    wide = population.by_group()
    codes = wide.index
    boroughs = lsoa_boroughs(codes)
    out = pd.DataFrame(
        {"lsoa_name": population.names().reindex(codes).to_numpy(), "borough_code": boroughs},
        index=pd.Index(codes, name="lsoa21_code"),
    )
    lsoa = frame.get(schema.LSOA21_CODE, pd.Series(None, index=frame.index))
    for group in groups:
        chosen = frame if group == dp.ALL else frame[frame["group_self"] == group]
        chosen_lsoa = lsoa.reindex(chosen.index)
        counts = chosen_lsoa.value_counts().reindex(codes, fill_value=0).astype(np.int64)
        residents = wide["total" if group == dp.ALL else group]
        # secondary suppression within each borough: borough total = LSOAs + remainder
        borough_cells = cube[
            (cube["kind"] == "searches")
            & (cube["view"] == "self")
            & (cube["group"] == group)
            & (cube["dimension"] == dp.ALL)
            & (cube["area_filter"] == dp.ALL)
        ].set_index("geography_code")
        by_borough = chosen["geography_code"].value_counts()
        values = list(counts.to_numpy(dtype=np.float64))
        pre = [False] * len(values)
        equations = []
        for borough, members in pd.Series(
            np.arange(len(codes)), index=boroughs.to_numpy()
        ).groupby(level=0):
            if borough not in borough_cells.index:
                continue
            total = float(by_borough.get(borough, 0))
            remainder = total - counts.iloc[members.to_numpy()].sum()
            values += [total, float(remainder)]
            pre += [bool(borough_cells.loc[borough, "suppressed"]), remainder != 0]
            equations.append(
                np.array([len(values) - 2, *members.to_numpy(), len(values) - 1], dtype=np.int64)
            )
        hidden = dp.suppress_cells(
            np.abs(np.array(values)), equations, min_count=min_count, presuppressed=np.array(pre)
        )[: len(codes)]
        with np.errstate(divide="ignore", invalid="ignore"):
            raw = np.where(residents > 0, counts / residents * 1000, np.nan)
        smoothed = dp.smooth_rates(counts.to_numpy(), residents.to_numpy()) * 1000
        out[f"residents_{group}"] = residents.to_numpy()
        out[f"searches_{group}"] = np.where(hidden, np.nan, counts.to_numpy(dtype=np.float64))
        out[f"rate_{group}"] = np.where(hidden, np.nan, raw)
        out[f"smoothed_{group}"] = np.where(hidden, np.nan, smoothed)
        out[f"smoothed_class_value_{group}"] = smoothed
        out[f"suppressed_{group}"] = hidden
    return out


# ---------------------------------------------------------------------------
# 4. the review


@dataclass(frozen=True)
class StopsReview:
    """Everything the review found, as tidy frames and plain values.

    Attributes
    ----------
    disparity
        Every published row (:data:`hotspots.stops.disparity.ROW_COLUMNS`).
    cube
        The counts behind them, with ``suppressed`` (not published as such).
    monthly
        Searches per month and group (both views), suppressed.
    context
        Legislation, object of search and harmonised outcome by group, suppressed.
    lsoa
        LSOA search rates (raw and smoothed) with LSOA polygons.
    months
        Months present, missing and short.
    hotspot_sets
        One row per hotspot set: unit, places, shares of area, harm and searches.
    quality
        Missing-data shares (London).
    headline
        The key London figures as plain values.
    parameters
        Period, population sources, threshold, methods, hotspot sources.
    unmapped
        Strings outside the mapping tables, with counts.
    harm_places
        The harm sources and their places (for maps).
    """

    disparity: pd.DataFrame
    cube: pd.DataFrame
    monthly: pd.DataFrame
    context: pd.DataFrame
    lsoa: gpd.GeoDataFrame
    months: dp.MonthCheck
    hotspot_sets: pd.DataFrame
    quality: pd.DataFrame
    headline: dict[str, object]
    parameters: dict[str, object]
    unmapped: dict[str, dict[str, int]]
    harm_places: tuple[HarmAreas, ...] = field(default=(), repr=False)
    boroughs: gpd.GeoDataFrame | None = field(default=None, repr=False)

    def table(
        self,
        measure: str,
        *,
        view: str = "self",
        geography_code: str = dp.FORCE_CODE,
        breakdown: str = dp.ALL,
        area_filter: str | None = dp.ALL,
    ) -> pd.DataFrame:
        """Return the published rows of one measure for one view, area, band and filter.

        Parameters
        ----------
        measure
            ``search_rate``, ``search_share``, ``arrest_rate``, ``action_rate``,
            ``find_rate``, ``hotspot_share``, ``searches_per_violence_harm``,
            ``year_on_year``...
        view, geography_code, breakdown, area_filter
            Filters; ``None`` keeps every value (``hotspot_share`` rows have
            ``area_filter="inside <set name>"``).
        """
        rows = self.disparity[self.disparity["measure"] == measure]
        for column, value in (
            ("view", view),
            ("geography_code", geography_code),
            ("breakdown", breakdown),
            ("area_filter", area_filter),
        ):
            if value is not None:
                rows = rows[rows[column] == value]
        return rows.reset_index(drop=True)


def _group_share_of_searches(cube: pd.DataFrame) -> pd.Series:
    sel = cube[
        (cube["kind"] == "searches")
        & (cube["view"] == "self")
        & (cube["geography_code"] == dp.FORCE_CODE)
        & (cube["dimension"] == dp.ALL)
    ]
    return sel.set_index(["area_filter", "group"])["count"]


def _quality(
    cube: pd.DataFrame, context: pd.DataFrame, searches: pd.DataFrame, *, min_count: int
) -> pd.DataFrame:
    """Missing-data shares for the whole force area, from published cells."""
    keyed = cube.set_index(list(dp.CUBE_KEYS))

    def cell(kind, view, geo, group, dimension=dp.ALL, band="", area_filter=dp.ALL):  # type: ignore[no-untyped-def]
        row = keyed.loc[(kind, view, geo, group, dimension, band, area_filter)]
        return float(row["count"]), bool(row["suppressed"])

    total, _ = cell("searches", "self", dp.FORCE_CODE, dp.ALL)
    items = []

    def add(what: str, count: float, hidden: bool, note: str) -> None:
        items.append(
            {
                "field": what,
                "searches": np.nan if hidden else count,
                "share": np.nan if hidden else (count / total if total else np.nan),
                "suppressed": hidden,
                "note": note,
            }
        )

    add(
        "no location (counted toward London, not any borough)",
        *cell("searches", "self", dp.UNLOCATED_CODE, dp.ALL),
        "published without coordinates",
    )
    add(
        "self-defined ethnicity not stated or blank",
        *cell("searches", "self", dp.FORCE_CODE, dp.NOT_STATED),
        "'Other ethnic group - Not stated', 'Not Stated (NS)' or blank",
    )
    add(
        "officer-defined ethnicity blank",
        *cell("searches", "officer", dp.FORCE_CODE, dp.NOT_STATED),
        "",
    )
    for dimension, label in (("age", "age range"), ("gender", "gender")):
        add(
            f"{label} not recorded",
            *cell("searches", "self", dp.FORCE_CODE, dp.ALL, dimension, dp.NOT_RECORDED),
            "",
        )
    outcome = context[(context["field"] == "outcome") & (context["group"] == dp.ALL)]
    blank = outcome[outcome["value"] == dp.NOT_RECORDED]
    if not blank.empty:
        add(
            "outcome blank",
            float(blank["searches"].iloc[0]) if not blank["suppressed"].iloc[0] else 0.0,
            bool(blank["suppressed"].iloc[0]),
            "",
        )
    known, known_hidden = cell("find_known", "self", dp.FORCE_CODE, dp.ALL)
    add(
        "'outcome linked to object of search' not recorded",
        total - known,
        known_hidden,
        "blank in the published file",
    )
    if schema.DUPLICATE_OF_EARLIER in searches:
        duplicates = float(searches[schema.DUPLICATE_OF_EARLIER].fillna(False).sum())
        add(
            "exact duplicate of an earlier row (kept)",
            duplicates,
            bool(0 < duplicates < min_count),
            "several people searched together look identical; not de-duplicated",
        )
    return pd.DataFrame(items)


def _find_flag_status(cube: pd.DataFrame) -> str:
    """Say whether the find flag can be read (recorded at all; ever True)."""
    keyed = cube[
        (cube["view"] == "self")
        & (cube["geography_code"] == dp.FORCE_CODE)
        & (cube["group"] == dp.ALL)
        & (cube["dimension"] == dp.ALL)
        & (cube["area_filter"] == dp.ALL)
    ].set_index("kind")["count"]
    known, finds, searches = keyed["find_known"], keyed["finds"], keyed["searches"]
    if known == 0:
        return "not recorded: 'outcome linked to object of search' is blank in every row"
    if finds == 0:
        return (
            f"not informative: recorded for {known:,} of {searches:,} searches and False in "
            "every one of them, which says the force publishes the flag as False when it is "
            "not recorded, not that nothing was ever found"
        )
    return f"recorded for {known:,} of {searches:,} searches ({100 * known / searches:.1f}%)"


def _headline(
    disparity: pd.DataFrame,
    sets: pd.DataFrame,
    months: dp.MonthCheck,
    find_status: str,
    quality: pd.DataFrame,
) -> dict[str, object]:
    def row(measure, group, **filters):  # type: ignore[no-untyped-def]
        rows = disparity[
            (disparity["measure"] == measure)
            & (disparity["group"] == group)
            & (disparity["view"] == filters.get("view", "self"))
            & (disparity["geography_code"] == filters.get("geography_code", dp.FORCE_CODE))
            & (disparity["breakdown"] == dp.ALL)
            & (disparity["area_filter"] == filters.get("area_filter", dp.ALL))
        ]
        return rows.iloc[0] if len(rows) else None

    def plain(value: object) -> object:
        if value is None:
            return None
        number = float(value)  # type: ignore[arg-type]
        return None if math.isnan(number) else number

    headline: dict[str, object] = {}
    for view in ("self", "officer"):
        black = row("search_rate", "Black", view=view)
        white = row("search_rate", "White", view=view)
        if black is not None and white is not None:
            headline[f"black_white_rate_ratio_{view}"] = {
                "ratio": plain(black["ratio"]),
                "ci_low": plain(black["ratio_ci_low"]),
                "ci_high": plain(black["ratio_ci_high"]),
                "black_rate_per_1000": plain(black["rate"]),
                "white_rate_per_1000": plain(white["rate"]),
                "black_searches": plain(black["numerator"]),
                "white_searches": plain(white["numerator"]),
                "method": black["ratio_method"],
            }
    outcomes = {}
    for measure in ("arrest_rate", "action_rate", "find_rate"):
        outcomes[measure] = {
            group: {
                "rate": plain(r["rate"]),
                "ci_low": plain(r["ci_low"]),
                "ci_high": plain(r["ci_high"]),
                "ratio_vs_white": plain(r["ratio"]),
                "ratio_ci_low": plain(r["ratio_ci_low"]),
                "ratio_ci_high": plain(r["ratio_ci_high"]),
                "searches": plain(r["denominator"]),
            }
            for group in (*ETHNIC_GROUPS, dp.ALL)
            if (r := row(measure, group)) is not None
        }
    headline["outcomes_self_defined"] = outcomes
    headline["find_flag"] = find_status
    headline["hotspots"] = sets.to_dict(orient="records")
    headline["missing_months"] = months.missing_ranges()
    headline["short_months"] = list(months.short)
    headline["months_with_data"] = f"{months.present} of {len(months.expected)}"
    not_stated = row("search_share", dp.NOT_STATED)
    headline["share_self_defined_not_stated"] = (
        plain(not_stated["rate"]) if not_stated is not None else None
    )
    no_location = quality[quality["field"].str.startswith("no location")]
    headline["share_without_location"] = (
        plain(no_location["share"].iloc[0]) if len(no_location) else None
    )
    return headline


def review_stops(
    searches: pd.DataFrame,
    *,
    population: str | Path | Population = "census2021",
    months: tuple[str, str] | None = None,
    hotspots: str | Path | None = None,
    violence: str | Path | None = BUNDLED,
    min_count: int = dp.DEFAULT_MIN_COUNT,
    confidence: float = dp.CONFIDENCE,
    ratio_method: str = "exact",
    top_share: float = DEFAULT_TOP_SHARE,
    unknown: str = dp.UNMAPPED,
    force_name: str = "London",
) -> StopsReview:
    """Run the whole disproportionality review on stop-and-search rows.

    Parameters
    ----------
    searches
        Stop-and-search rows (e.g. ``load_searches(...).searches``), with
        ``borough_code`` and ``lsoa21_code`` (searches without a location count toward
        the force area only).
    population
        ``"census2021"`` (default), ``"census2011"``, a CSV path or a
        :class:`~hotspots.stops.populations.Population` of boroughs. LSOA rates always use
        Census 2021 by LSOA (the only LSOA table bundled).
    months
        Inclusive period; default: first to last month present. Rows outside are ignored.
    hotspots
        A ``hotspots detect`` output folder whose hot cells (or LSOAs) form further
        hotspot sets.
    violence
        MPS LSOA counts for violence hotspots (``"bundled"``), or None to skip them.
    min_count
        Disclosure threshold (counts 1 .. min_count-1 suppressed, with secondary
        suppression of counts that would reveal them).
    confidence
        Confidence level of every interval.
    ratio_method
        ``"exact"`` (conditional binomial) or ``"log"`` for rate ratios against White.
    top_share
        Share of places in the "top" hotspot sets.
    unknown
        ``"unmapped"`` (count strings outside the mapping tables) or ``"raise"``.
    force_name
        Name of the whole force area.

    Returns
    -------
    StopsReview
    """
    from hotspots.geo.boundaries import london_boroughs, london_lsoas

    if not isinstance(searches, pd.DataFrame):
        raise SchemaError("searches must be a data frame; read files with load_searches().")
    frame = searches
    if schema.LSOA21_CODE not in frame:
        frame = frame.assign(**{schema.LSOA21_CODE: None})
    if months is not None:
        month_text = frame[schema.MONTH].astype(str)
        frame = frame[month_text.between(months[0], months[1])]
    if frame.empty:
        raise InputError(
            "no stop-and-search rows in the period; check --months and that SEARCHES are "
            "stop-and-search files."
        )
    month_check = dp.check_months(frame[schema.MONTH], period=months)
    period = (month_check.expected[0], month_check.expected[-1])
    period_text = f"{period[0]}..{period[1]}"

    pop = population if isinstance(population, Population) else read_population(population)
    if pop.level != "borough":
        raise InputError(
            f"the population table {pop.name} is at {pop.level} level; rates by borough need "
            "a borough (local authority) table such as census2021."
        )
    lsoa_pop = read_population("census2021", level="lsoa")
    by_age, by_sex = read_population_by("age"), read_population_by("sex")
    classified = dp.classify_searches(frame, unknown=unknown)
    boroughs = london_boroughs()
    geographies = list(boroughs.codes)
    unknown_codes = sorted(
        set(classified.searches["geography_code"]) - set(geographies) - {dp.UNLOCATED_CODE}
    )
    geographies += unknown_codes
    names = dict(zip(boroughs.codes, boroughs.names, strict=True))

    harm_sources: list[HarmAreas] = []
    if violence is not None:
        harm_sources.append(violence_hotspots(violence, months=period, top_share=top_share))
    if hotspots is not None:
        harm_sources.append(detect_hotspots_from(hotspots, top_share=top_share))
    filters: dict[str, pd.Series] = {}
    for source in harm_sources:
        filters.update(_membership(classified.searches, source))

    cube = dp.count_searches(classified, geographies=geographies, area_filters=filters)
    cube = dp.suppress_cube(cube, min_count=min_count)
    context = dp.Context(
        period=period_text,
        months_with_data=month_check.present,
        names=names,
        force_name=force_name,
        min_count=min_count,
        confidence=confidence,
        ratio_method=ratio_method,
    )
    monthly = pd.concat(
        [
            dp.monthly_counts(
                classified, months=month_check, cube=cube, view=v, min_count=min_count
            )
            for v in ("self", "officer")
        ],
        ignore_index=True,
    )
    parts = [
        dp.compare_rates(cube, pop, context=context, by_age=by_age, by_sex=by_sex),
        dp.compare_shares(cube, context=context),
        dp.compare_outcomes(cube, context=context),
        dp.compare_hotspot_shares(cube, context=context),
    ]
    for source in harm_sources:
        parts.append(
            _relabel(
                dp.compare_harm(
                    cube[
                        cube["area_filter"].isin(
                            [dp.ALL]
                            + [
                                f"{side} {s.name}"
                                for s in source.sets
                                for side in ("inside", "outside")
                            ]
                        )
                    ],
                    _harm_table(source, geographies),
                    context=context,
                    harm_label=source.label,
                ),
                source.measure,
            )
        )
    parts.append(dp.year_on_year(_without_short(monthly), context=context, min_count=min_count))
    disparity = pd.concat([p for p in parts if len(p)], ignore_index=True)

    mix = dp.context_mix(classified, cube=cube, min_count=min_count)
    quality = _quality(cube, mix, classified.searches, min_count=min_count)
    lsoa_rates = lsoa_search_rates(classified, lsoa_pop, cube=cube, min_count=min_count)
    lsoa_polygons = london_lsoas().polygons
    lsoa = gpd.GeoDataFrame(
        lsoa_rates,
        geometry=lsoa_polygons.geometry.reindex(lsoa_rates.index).to_numpy(),
        crs=lsoa_polygons.crs,
    )
    counts = _group_share_of_searches(cube)
    set_rows = []
    for source in harm_sources:
        for s in source.sets:
            inside = counts.get((f"inside {s.name}", dp.ALL), np.nan)
            outside = counts.get((f"outside {s.name}", dp.ALL), np.nan)
            share = inside / (inside + outside) if inside + outside else np.nan
            set_rows.append(
                {
                    "hotspots": s.name,
                    "unit": s.unit,
                    "places": len(s.members),
                    "places_total": s.units_total,
                    "share_of_area": s.area_share,
                    "share_of_harm": s.harm_share,
                    "share_of_located_searches": share,
                    "searches_share_over_harm_share": share / s.harm_share
                    if s.harm_share
                    else np.nan,
                    "description": s.description,
                }
            )
    sets = pd.DataFrame(set_rows, columns=list(SET_COLUMNS))
    find_status = _find_flag_status(cube)
    parameters = {
        "period": period_text,
        "months_with_data": month_check.present,
        "population": pop.source,
        "population_name": pop.name,
        "population_lsoa": lsoa_pop.source,
        "population_age": by_age.source,
        "population_sex": by_sex.source,
        "min_count": min_count,
        "confidence": confidence,
        "ratio_method": ratio_method,
        "top_share": top_share,
        "hotspot_sources": [s.label for s in harm_sources],
        "reference_group": dp.REFERENCE_GROUP,
        "force_name": force_name,
        "unknown_area_codes": unknown_codes,
        "find_flag": find_status,
        "action_outcomes": list(dp.ACTION_OUTCOMES),
        "searches": int(len(frame)),
    }
    return StopsReview(
        disparity=disparity,
        cube=cube,
        monthly=monthly,
        context=mix,
        lsoa=lsoa,
        months=month_check,
        hotspot_sets=sets,
        quality=quality,
        headline=_headline(disparity, sets, month_check, find_status, quality),
        parameters=parameters,
        unmapped=classified.unmapped,
        harm_places=tuple(harm_sources),
        boroughs=boroughs.polygons,
    )


def _relabel(rows: pd.DataFrame, measure: str) -> pd.DataFrame:
    return rows.assign(measure=measure)


def _without_short(monthly: pd.DataFrame) -> pd.DataFrame:
    """Short (probably incomplete) months are left out of year-on-year comparisons."""
    return monthly.assign(searches=monthly["searches"].where(~monthly["short_month"]))


# ---------------------------------------------------------------------------
# 5. figures, map and report


def _png(figure, *, tight: bool = True) -> str:  # type: ignore[no-untyped-def]
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(
        buffer,
        format="png",
        dpi=100,
        bbox_inches="tight" if tight else None,
        metadata={"Software": None},
    )
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _pyplot():  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def figure_forest(review: StopsReview, *, view: str = "self") -> str:
    """Forest plot: search-rate ratios against White by borough, one panel per group."""
    plt = _pyplot()
    rows = review.disparity[
        (review.disparity["measure"] == "search_rate")
        & (review.disparity["view"] == view)
        & (review.disparity["breakdown"] == dp.ALL)
        & (review.disparity["geography_level"].isin(["force", "borough"]))
    ]
    groups = [g for g in ETHNIC_GROUPS if g != dp.REFERENCE_GROUP and (rows["group"] == g).any()]
    black = rows[rows["group"] == "Black"].set_index("geography")["ratio"]
    order = list(black.sort_values(ascending=True, na_position="first").index)
    force = review.parameters["force_name"]
    order = [n for n in order if n != force] + [force]
    fig, axes = plt.subplots(
        1,
        len(groups),
        figsize=(2.6 * len(groups) + 2, 0.24 * len(order) + 1.6),
        sharey=True,
        sharex=True,
    )
    axes = np.atleast_1d(axes)
    y = np.arange(len(order))
    limits = rows[rows["group"].isin(groups)][["ratio_ci_low", "ratio_ci_high"]].to_numpy(float)
    limits = limits[np.isfinite(limits) & (limits > 0)]
    low_x = max(0.1, float(limits.min()) / 1.2) if len(limits) else 0.25
    high_x = min(100.0, float(limits.max()) * 1.2) if len(limits) else 4.0
    ticks = [t for t in (0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32, 64) if low_x <= t <= high_x]
    for ax, group in zip(axes, groups, strict=True):
        sub = rows[rows["group"] == group].set_index("geography").reindex(order)
        ratio = sub["ratio"].to_numpy(dtype=float)
        low = sub["ratio_ci_low"].to_numpy(dtype=float)
        high = sub["ratio_ci_high"].to_numpy(dtype=float)
        ok = np.isfinite(ratio) & np.isfinite(low) & np.isfinite(high) & (ratio > 0) & (low > 0)
        colour = GROUP_COLOURS.get(group, "#333")
        ax.errorbar(
            ratio[ok],
            y[ok],
            xerr=[ratio[ok] - low[ok], high[ok] - ratio[ok]],
            fmt="o",
            color=colour,
            ecolor=colour,
            markersize=3.5,
            elinewidth=1.2,
        )
        is_force = np.array([n == force for n in order])
        ax.scatter(
            ratio[ok & is_force], y[ok & is_force], marker="D", s=40, color="black", zorder=3
        )
        ax.axvline(1.0, color="#444", linewidth=0.8, linestyle="--")
        ax.set_xscale("log")
        ax.set_xlim(low_x, high_x)
        ax.set_xticks(ticks)
        ax.set_xticklabels([f"{t:g}" for t in ticks], fontsize=8)
        ax.xaxis.set_minor_locator(plt.NullLocator())
        ax.set_title(f"{group} vs White", fontsize=10)
        ax.grid(axis="x", alpha=0.3, which="both")
        ax.set_xlabel("rate ratio (log scale)")
    axes[0].set_yticks(y)
    axes[0].set_yticklabels(order, fontsize=8)
    fig.suptitle(
        f"Search rate ratios against White, {dp.VIEW_LABELS[view]} ethnicity, "
        f"{review.parameters['period']} (95% CI)",
        fontsize=11,
    )
    fig.subplots_adjust(
        left=1.6 / fig.get_figwidth(),
        right=0.98,
        top=1 - 0.75 / fig.get_figheight(),
        bottom=0.5 / fig.get_figheight(),
        wspace=0.08,
    )
    return _png(fig, tight=False)


def figure_monthly(review: StopsReview, *, view: str = "self") -> str:
    """Monthly searches and searches per 1,000 residents by group (force area)."""
    plt = _pyplot()
    monthly = review.monthly[review.monthly["view"] == view]
    months = list(review.months.expected)
    pop = review.disparity[
        (review.disparity["measure"] == "search_rate")
        & (review.disparity["view"] == view)
        & (review.disparity["geography_code"] == dp.FORCE_CODE)
        & (review.disparity["breakdown"] == dp.ALL)
    ].set_index("group")["denominator"]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8.5, 6.2), sharex=True)
    x = np.arange(len(months))
    for group in [*ETHNIC_GROUPS, dp.NOT_STATED]:
        sub = monthly[monthly["group"] == group].set_index("month")["searches"].reindex(months)
        if sub.isna().all():
            continue
        colour = GROUP_COLOURS[group]
        top.plot(
            x, sub.to_numpy(dtype=float), marker="o", markersize=2.5, color=colour, label=group
        )
        if group in pop.index and pd.notna(pop[group]) and pop[group] > 0:
            bottom.plot(
                x,
                sub.to_numpy(dtype=float) / pop[group] * 1000,
                marker="o",
                markersize=2.5,
                color=colour,
                label=group,
            )
    for ax in (top, bottom):
        for i, m in enumerate(months):
            if m in review.months.missing:
                ax.axvspan(i - 0.5, i + 0.5, color="#dddddd", zorder=0)
            if m in review.months.short:
                ax.axvspan(i - 0.5, i + 0.5, color="#f4cccc", zorder=0)
        ax.grid(alpha=0.3)
        ax.set_ylim(bottom=0)
    top.set_ylabel("searches per month")
    bottom.set_ylabel("per 1,000 residents")
    top.legend(ncol=3, fontsize=8)
    step = max(1, len(months) // 14)
    bottom.set_xticks(x[::step])
    bottom.set_xticklabels(months[::step], rotation=45, ha="right", fontsize=8)
    top.set_title(
        f"Searches per month by {dp.VIEW_LABELS[view]} group (grey: missing month, "
        "pink: short month)"
    )
    fig.tight_layout()
    return _png(fig)


def figure_outcomes(review: StopsReview) -> str:
    """Arrest, any-action (and find) rates by group with Wilson 95% intervals."""
    plt = _pyplot()
    rows = review.disparity[
        (review.disparity["view"] == "self")
        & (review.disparity["geography_code"] == dp.FORCE_CODE)
        & (review.disparity["area_filter"] == dp.ALL)
        & (review.disparity["breakdown"] == dp.ALL)
    ]
    measures = ["arrest_rate", "action_rate"]
    groups = [*ETHNIC_GROUPS, dp.NOT_STATED]
    fig, ax = plt.subplots(figsize=(8, 3.4))
    width = 0.38
    for j, measure in enumerate(measures):
        sub = rows[rows["measure"] == measure].set_index("group").reindex(groups)
        rate = sub["rate"].to_numpy(dtype=float)
        err = np.vstack(
            [
                rate - sub["ci_low"].to_numpy(dtype=float),
                sub["ci_high"].to_numpy(dtype=float) - rate,
            ]
        )
        ax.bar(
            np.arange(len(groups)) + (j - 0.5) * width,
            rate,
            width,
            yerr=err,
            capsize=2,
            color=["#0072B2", "#E69F00"][j],
            label={"arrest_rate": "arrest", "action_rate": "any action"}[measure],
        )
    ax.set_xticks(np.arange(len(groups)))
    ax.set_xticklabels(groups)
    ax.set_ylabel("share of searches")
    ax.legend()
    ax.grid(axis="y", alpha=0.3)
    ax.set_title(f"Outcomes by self-defined group, {review.parameters['period']} (95% Wilson CI)")
    return _png(fig)


def figure_hotspots(review: StopsReview) -> str:
    """Share of located searches inside each hotspot set, by group, against harm and area."""
    plt = _pyplot()
    sets = review.hotspot_sets
    rows = review.disparity[
        (review.disparity["measure"] == "hotspot_share")
        & (review.disparity["view"] == "self")
        & (review.disparity["geography_code"] == dp.FORCE_CODE)
    ]
    groups = [dp.ALL, *ETHNIC_GROUPS]
    fig, axes = plt.subplots(1, len(sets), figsize=(4.2 * len(sets), 3.4), squeeze=False)
    for ax, (_, s) in zip(axes[0], sets.iterrows(), strict=True):
        sub = (
            rows[rows["area_filter"] == f"inside {s['hotspots']}"]
            .set_index("group")
            .reindex(groups)
        )
        rate = sub["rate"].to_numpy(dtype=float)
        err = np.vstack(
            [
                rate - sub["ci_low"].to_numpy(dtype=float),
                sub["ci_high"].to_numpy(dtype=float) - rate,
            ]
        )
        ax.bar(groups, rate, yerr=err, capsize=2, color=[GROUP_COLOURS[g] for g in groups])
        ax.axhline(s["share_of_harm"], color="#b2182b", linestyle="--", label="share of harm")
        ax.axhline(s["share_of_area"], color="#555", linestyle=":", label="share of area")
        ax.set_title(str(s["hotspots"]), fontsize=9)
        ax.tick_params(axis="x", labelrotation=45, labelsize=8)
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=7)
    axes[0][0].set_ylabel("share of located searches inside")
    fig.tight_layout()
    return _png(fig)


def _legend_rows(breaks: np.ndarray, colours: tuple[str, ...], unit: str) -> list[tuple[str, str]]:
    offset = len(colours) - len(breaks)
    rows, lower = [], 0.0
    for i, upper in enumerate(breaks):
        rows.append((colours[i + offset], f"{lower:,.1f} – {upper:,.1f} {unit}"))
        lower = float(upper)
    return rows


def draw_review_map(review: StopsReview, *, tiles: str | None = None):  # type: ignore[no-untyped-def]
    """Build the offline folium map of empirical-Bayes search rates per LSOA.

    Layers: smoothed searches per 1,000 residents (all searches, and of Black, White and
    Asian residents by self-defined group), the violence hotspot LSOAs (and detect hot
    places when given) as outlines, and borough boundaries. Tooltips give counts below
    the threshold as "fewer than N" with no rate; every string is escaped.
    """
    import folium

    from hotspots.maps.draw import (
        Legend,
        SharedShapes,
        add_title_and_legends,
        class_breaks,
        class_of,
        escape_text,
        offline_map,
        suppress,
    )

    lsoa = review.lsoa[review.lsoa.geometry.notna()]
    boroughs = review.boroughs
    centre = boroughs.to_crs(schema.WGS84).union_all().centroid
    fmap = offline_map(location=(centre.y, centre.x), zoom_start=10, tiles=tiles)
    min_count = int(review.parameters["min_count"])
    borough_names = boroughs["name"].to_dict()

    def fmt(value: float) -> str:
        return "not shown" if not np.isfinite(value) else f"{value:,.1f}"

    shared = SharedShapes(
        lsoa,
        labels=["LSOA", "Borough", "Residents", "Searches", "Per 1,000 (raw)", "Per 1,000 (EB)"],
        tooltips=[
            [
                f"{name} ({code})",
                borough_names.get(b, str(b)),
                f"{int(r):,}",
                "fewer than " + str(min_count) if hidden else suppress(n, min_count),
                fmt(raw),
                fmt(sm),
            ]
            for code, name, b, r, n, hidden, raw, sm in zip(
                lsoa.index,
                lsoa["lsoa_name"],
                lsoa["borough_code"],
                lsoa[f"residents_{dp.ALL}"],
                lsoa[f"searches_{dp.ALL}"].fillna(0),
                lsoa[f"suppressed_{dp.ALL}"],
                lsoa[f"rate_{dp.ALL}"],
                lsoa[f"smoothed_{dp.ALL}"],
                strict=True,
            )
        ],
        decimals=4,
    )
    shared.add_to(fmap)
    legends: list[Legend] = []
    for group in MAP_GROUPS:
        values = lsoa[f"smoothed_class_value_{group}"].fillna(0)
        breaks = class_breaks(values)
        title = (
            "Searches per 1,000 residents (EB-smoothed)"
            if group == dp.ALL
            else f"Searches of {group} people per 1,000 {group} residents (EB-smoothed)"
        )
        extra = None
        labels: tuple[str, ...] = ()
        if group != dp.ALL:
            labels = (f"{group} residents", f"{group} searches", f"{group} per 1,000 (EB)")
            extra = [
                [f"{int(r):,}", f"fewer than {min_count}" if h else suppress(n, min_count), fmt(s)]
                for r, n, h, s in zip(
                    lsoa[f"residents_{group}"],
                    lsoa[f"searches_{group}"].fillna(0),
                    lsoa[f"suppressed_{group}"],
                    lsoa[f"smoothed_{group}"],
                    strict=True,
                )
            ]
        shared.layer(
            name=title,
            classes=class_of(values, breaks, len(RATE_COLOURS)),
            colours=RATE_COLOURS,
            extra_labels=labels,
            extra_tooltips=extra,
            show=group == dp.ALL,
            line_weight=0.1,
        ).add_to(fmap)
        if group == dp.ALL:
            legends.append(Legend(title, _legend_rows(breaks, RATE_COLOURS, "per 1,000")))
    outline_colours = ("#000000", "#1b7837", "#762a83", "#e08214")
    outline_rows: list[tuple[str, str]] = []
    k = 0
    for source in review.harm_places:
        places = source.places
        for s in source.sets:
            chosen = places[places.index.isin(list(s.members))]
            if chosen.empty:
                continue
            shapes = SharedShapes(
                chosen,
                labels=[source.unit, "Hotspot set", "Harm"],
                tooltips=[
                    [str(p), s.name, f"{h:,.0f}"]
                    for p, h in zip(chosen["place"], chosen["harm"], strict=True)
                ],
                decimals=4,
            )
            shapes.add_to(fmap)
            colour = outline_colours[k % len(outline_colours)]
            shapes.layer(
                name=f"Hotspots: {s.name}",
                classes=[0] * len(chosen),
                colours=(colour,),
                show=k == 0,
                line_weight=1.2,
                fill_opacity=0.0,
            ).add_to(fmap)
            outline_rows.append((colour, s.name))
            k += 1
    if outline_rows:
        legends.append(Legend("Hotspot outlines", outline_rows))
    outline = boroughs.to_crs(schema.WGS84)
    folium.GeoJson(
        json.loads(
            outline[["name", "geometry"]].assign(name=outline["name"].map(escape_text)).to_json()
        ),
        name="Borough boundaries",
        style_function=lambda f: {"color": "#252525", "weight": 1.0, "fill": False},
    ).add_to(fmap)
    folium.LayerControl(collapsed=False).add_to(fmap)
    add_title_and_legends(
        fmap,
        title="Stop and search per 1,000 residents by LSOA",
        subtitle=(
            f"{review.parameters['period']} · {review.parameters['population_lsoa']} · "
            "Marshall global empirical-Bayes smoothing"
        ),
        legends=legends,
        note=(
            f"Counts below {min_count} are shown as 'fewer than {min_count}' with no rate "
            "(colour from the smoothed rate). Each group layer has its own quantile classes. "
            "Residential population, not the people present. "
            "Contains public sector information licensed under the Open Government Licence v3.0."
        ),
    )
    bounds = outline.total_bounds
    fmap.fit_bounds([[bounds[1], bounds[0]], [bounds[3], bounds[2]]])
    return fmap


def _fmt_num(value: object, digits: int = 1) -> str:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return ""
    if not math.isfinite(number):
        return "–"
    return f"{number:,.{digits}f}"


def _fmt_count(value: object, hidden: bool, min_count: int) -> str:
    if hidden:
        return "suppressed"
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return ""
    return "–" if not math.isfinite(number) else f"{int(round(number)):,}"


def _ci(row: pd.Series, *, scale: float = 1.0, digits: int = 1) -> str:
    if row["suppressed"]:
        return "suppressed"
    rate = row["rate"]
    if pd.isna(rate):
        return "–"
    if abs(rate * scale) < 1:
        digits = max(digits, 2)
    return (
        f"{_fmt_num(rate * scale, digits)} ({_fmt_num(row['ci_low'] * scale, digits)}–"
        f"{_fmt_num(row['ci_high'] * scale, digits)})"
    )


def _ratio(row: pd.Series) -> str:
    if pd.isna(row["ratio"]):
        return ""
    return (
        f"{_fmt_num(row['ratio'], 2)} ({_fmt_num(row['ratio_ci_low'], 2)}–"
        f"{_fmt_num(row['ratio_ci_high'], 2)})"
    )


def _rate_table(
    rows: pd.DataFrame, *, min_count: int, scale: float = 1.0, digits: int = 1
) -> list:
    out = []
    for _, r in rows.iterrows():
        out.append(
            {
                "label": r["group"],
                "breakdown": r["breakdown"],
                "geography": r["geography"],
                "numerator": _fmt_count(r["numerator"], bool(r["suppressed"]), min_count),
                "denominator": _fmt_count(
                    r["denominator"],
                    bool(r["suppressed"]) and r["rate_unit"] != "searches per 1,000 residents",
                    min_count,
                ),
                "rate": _ci(r, scale=scale, digits=digits),
                "ratio": _ratio(r),
            }
        )
    return out


def render_review(review: StopsReview, *, manifest: dict[str, object], map_file: str) -> str:
    """Render ``review.html`` (jinja2, autoescaped; figures embedded as PNG; no script)."""
    import jinja2

    d = review.disparity
    p = review.parameters
    min_count = int(p["min_count"])
    force = p["force_name"]

    def select(measure, **filters):  # type: ignore[no-untyped-def]
        rows = d[d["measure"] == measure]
        for column, value in filters.items():
            rows = rows[rows[column] == value]
        return rows

    order = {g: i for i, g in enumerate(dp.GROUP_ORDER)}

    def ordered(rows):  # type: ignore[no-untyped-def]
        return rows.assign(_o=rows["group"].map(order)).sort_values(["_o"]).drop(columns="_o")

    rates = {
        view: _rate_table(
            ordered(
                select("search_rate", view=view, geography_code=dp.FORCE_CODE, breakdown=dp.ALL)
            ),
            min_count=min_count,
        )
        for view in ("self", "officer")
    }
    bands = {}
    for dimension in ("age", "gender"):
        rows = d[
            (d["measure"] == "search_rate")
            & (d["view"] == "self")
            & (d["geography_code"] == dp.FORCE_CODE)
            & d["breakdown"].str.startswith(f"{dimension}: ")
            & d["group"].isin([*ETHNIC_GROUPS, dp.ALL])
        ]
        band_order = {b: i for i, b in enumerate(dp.BAND_VALUES[dimension])}
        rows = rows.assign(
            _b=rows["breakdown"].str.split(": ", n=1).str[1].map(band_order),
            _g=rows["group"].map(order),
        ).sort_values(["_b", "_g"])
        bands[dimension] = _rate_table(rows.drop(columns=["_b", "_g"]), min_count=min_count)
    borough_rows = []
    boroughs = select("search_rate", view="self", breakdown=dp.ALL, geography_level="borough")
    shares = select("search_share", view="self", group=dp.NOT_STATED)
    for name, sub in boroughs.groupby("geography", sort=True):
        by = sub.set_index("group")
        black, allg = by.loc["Black"], by.loc[dp.ALL]
        ns = shares[shares["geography"] == name]
        borough_rows.append(
            {
                "borough": name,
                "searches": _fmt_count(allg["numerator"], bool(allg["suppressed"]), min_count),
                "rate": _ci(allg),
                "black_rate": _ci(black),
                "white_rate": _ci(by.loc["White"]),
                "black_ratio": _ratio(black),
                "asian_ratio": _ratio(by.loc["Asian"]),
                "mixed_ratio": _ratio(by.loc["Mixed"]),
                "not_stated": _ci(ns.iloc[0], scale=100) if len(ns) else "",
            }
        )
    outcome_rows = []
    for measure, label in (
        ("arrest_rate", "arrest"),
        ("action_rate", "any action"),
        ("find_rate", "find (outcome linked to object)"),
    ):
        for _, r in ordered(
            select(measure, view="self", geography_code=dp.FORCE_CODE, area_filter=dp.ALL)
        ).iterrows():
            outcome_rows.append(
                {
                    "measure": label,
                    "group": r["group"],
                    "numerator": _fmt_count(r["numerator"], bool(r["suppressed"]), min_count),
                    "denominator": _fmt_count(r["denominator"], bool(r["suppressed"]), min_count),
                    "rate": _ci(r, scale=100),
                    "ratio": _ratio(r),
                }
            )
    officer_outcomes = []
    for _, r in ordered(
        select("action_rate", view="officer", geography_code=dp.FORCE_CODE, area_filter=dp.ALL)
    ).iterrows():
        officer_outcomes.append(
            {"group": r["group"], "rate": _ci(r, scale=100), "ratio": _ratio(r)}
        )
    sets = []
    for _, s in review.hotspot_sets.iterrows():
        name = s["hotspots"]
        inside = select(
            "hotspot_share",
            view="self",
            geography_code=dp.FORCE_CODE,
            area_filter=f"inside {name}",
        )
        inside_rows = [
            {"group": r["group"], "share": _ci(r, scale=100), "ratio": _ratio(r)}
            for _, r in ordered(inside).iterrows()
            if r["group"] != dp.UNMAPPED
        ]
        finds = []
        for measure in ("action_rate", "arrest_rate"):
            for side in ("inside", "outside"):
                r = select(
                    measure,
                    view="self",
                    geography_code=dp.FORCE_CODE,
                    area_filter=f"{side} {name}",
                    group=dp.ALL,
                )
                if len(r):
                    finds.append(
                        {
                            "measure": measure.replace("_rate", ""),
                            "side": side,
                            "rate": _ci(r.iloc[0], scale=100),
                        }
                    )
        per_borough = []
        bor = select(
            "hotspot_share", view="self", geography_level="borough", area_filter=f"inside {name}"
        )
        act_in = select(
            "action_rate",
            view="self",
            geography_level="borough",
            area_filter=f"inside {name}",
            group=dp.ALL,
        ).set_index("geography")
        act_out = select(
            "action_rate",
            view="self",
            geography_level="borough",
            area_filter=f"outside {name}",
            group=dp.ALL,
        ).set_index("geography")
        for geo, sub in bor.groupby("geography", sort=True):
            by = sub.set_index("group")
            per_borough.append(
                {
                    "borough": geo,
                    "share": _ci(by.loc[dp.ALL], scale=100),
                    "black": _ci(by.loc["Black"], scale=100),
                    "white": _ci(by.loc["White"], scale=100),
                    "action_in": _ci(act_in.loc[geo], scale=100) if geo in act_in.index else "",
                    "action_out": _ci(act_out.loc[geo], scale=100) if geo in act_out.index else "",
                }
            )
        sets.append(
            {
                "name": name,
                "description": s["description"],
                "places": f"{int(s['places']):,} of {int(s['places_total']):,}",
                "area": _fmt_num(100 * s["share_of_area"]) + "%",
                "harm": _fmt_num(100 * s["share_of_harm"]) + "%",
                "searches": _fmt_num(100 * s["share_of_located_searches"]) + "%",
                "inside": inside_rows,
                "finds": finds,
                "per_borough": per_borough,
            }
        )
    harm_rows = []
    for source in review.harm_places:
        rows = select(source.measure, group=dp.ALL, area_filter=dp.ALL)
        for _, r in rows.sort_values("rate", ascending=False).iterrows():
            harm_rows.append(
                {
                    "source": source.measure,
                    "geography": r["geography"],
                    "searches": _fmt_count(r["numerator"], bool(r["suppressed"]), min_count),
                    "harm": _fmt_num(r["denominator"], 0),
                    "rate": _ci(r),
                }
            )
        for s in source.sets:
            for side in ("inside", "outside"):
                r = select(
                    source.measure,
                    group=dp.ALL,
                    area_filter=f"{side} {s.name}",
                    geography_code=dp.FORCE_CODE,
                )
                if len(r):
                    harm_rows.insert(
                        0,
                        {
                            "source": source.measure,
                            "geography": f"{force}, {side} {s.name}",
                            "searches": _fmt_count(
                                r.iloc[0]["numerator"], bool(r.iloc[0]["suppressed"]), min_count
                            ),
                            "harm": _fmt_num(r.iloc[0]["denominator"], 0),
                            "rate": _ci(r.iloc[0]),
                        },
                    )
    yoy = [
        {
            "view": dp.VIEW_LABELS[r["view"]],
            "group": r["group"],
            "later": _fmt_count(r["numerator"], bool(r["suppressed"]), min_count),
            "earlier": _fmt_count(r["denominator"], bool(r["suppressed"]), min_count),
            "change": "suppressed" if r["suppressed"] else f"{_fmt_num(100 * r['rate'])}%",
            "ratio": _ratio(r),
            "months": r["ratio_reference"],
        }
        for _, r in ordered(select("year_on_year")).iterrows()
    ]
    mix_tables = {}
    for name in ("legislation", "object_of_search", "outcome"):
        sub = review.context[review.context["field"] == name]
        groups = [g for g in [*ETHNIC_GROUPS, dp.NOT_STATED, dp.ALL] if (sub["group"] == g).any()]
        table_rows = []
        for value, rows in sub.groupby("value", sort=False):
            by = rows.set_index("group")
            table_rows.append(
                {
                    "value": value,
                    "cells": [
                        "suppressed"
                        if by.loc[g, "suppressed"]
                        else f"{int(by.loc[g, 'searches']):,} ({100 * by.loc[g, 'share_of_group']:.1f}%)"
                        for g in groups
                    ],
                }
            )
        mix_tables[name] = {"groups": groups, "rows": table_rows}
    quality = [
        {
            "field": r["field"],
            "searches": _fmt_count(r["searches"], bool(r["suppressed"]), min_count),
            "share": "suppressed" if r["suppressed"] else f"{100 * r['share']:.1f}%",
            "note": r["note"],
        }
        for _, r in review.quality.iterrows()
    ]
    months = review.months
    h = review.headline
    bw = h.get("black_white_rate_ratio_self") or {}
    inputs = [
        {
            "name": str(i.get("member") or str(i.get("path", "")).rsplit("/", 1)[-1]),
            "read": f"{i.get('rows_read', 0):,}",
            "accepted": f"{i.get('accepted', 0):,}",
            "rejected": f"{i.get('rejected', 0):,}",
            "sha": str(i.get("sha256", ""))[:16] + "…",
        }
        for i in manifest.get("inputs", [])  # type: ignore[union-attr]
    ]
    figures = {
        "forest": figure_forest(review),
        "forest_officer": figure_forest(review, view="officer"),
        "monthly": figure_monthly(review),
        "outcomes": figure_outcomes(review),
        "hotspots": figure_hotspots(review) if len(review.hotspot_sets) else "",
    }
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("hotspots.reports", "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
    )
    context = {
        "title": f"Stop and search in {force}: disproportionality review",
        "p": p,
        "generated": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "version": metadata.version("hotspots"),
        "min_count": min_count,
        "bw": {k: (_fmt_num(v, 2) if isinstance(v, float) else v) for k, v in bw.items()},
        "bw_raw": bw,
        "h": h,
        "fmt": _fmt_num,
        "rates": rates,
        "bands": bands,
        "boroughs": borough_rows,
        "outcomes": outcome_rows,
        "officer_outcomes": officer_outcomes,
        "sets": sets,
        "harm_rows": harm_rows,
        "harm_labels": [s.label for s in review.harm_places],
        "yoy": yoy,
        "mix": mix_tables,
        "quality": quality,
        "months": {
            "expected": f"{months.expected[0]}..{months.expected[-1]} ({len(months.expected)} months)",
            "missing": ", ".join(months.missing_ranges()) or "none",
            "short": ", ".join(f"{m} ({months.rows_by_month[m]:,} searches)" for m in months.short)
            or "none",
            "fraction": f"{100 * months.short_fraction:.0f}%",
            "present": months.present,
        },
        "figures": figures,
        "map_file": map_file,
        "ethnicity_self": dp.ethnicity_mapping("self").to_dict(orient="records"),
        "ethnicity_officer": dp.ethnicity_mapping("officer").to_dict(orient="records"),
        "outcome_map": dp.outcome_mapping().to_dict(orient="records"),
        "unmapped": review.unmapped,
        "inputs": inputs,
        "rejects_text": ", ".join(
            f"{k} {v:,}"
            for k, v in (manifest.get("rejects_by_reason") or {}).items()  # type: ignore[union-attr]
        )
        or "none",
        "rows": manifest.get("rows") or {},
    }
    return environment.get_template("stops_review.html").render(**context)


# ---------------------------------------------------------------------------
# 6. files


@dataclass(frozen=True)
class StopsResult:
    """What :func:`run_stops` wrote, and the review itself."""

    out_dir: Path
    review: StopsReview
    files: dict[str, Path]
    manifest: dict[str, object]
    seconds: float


def _published_lsoa(review: StopsReview) -> pd.DataFrame:
    table = pd.DataFrame(review.lsoa.drop(columns="geometry"))
    keep = [c for c in table.columns if not c.startswith("smoothed_class_value_")]
    return table[keep].reset_index()


def run_stops(
    inputs: Sequence[str | Path],
    out_dir: str | Path,
    *,
    population: str | Path = "census2021",
    hotspots: str | Path | None = None,
    months: tuple[str, str] | None = None,
    violence: str | Path | None = BUNDLED,
    min_count: int = dp.DEFAULT_MIN_COUNT,
    confidence: float = dp.CONFIDENCE,
    ratio_method: str = "exact",
    top_share: float = DEFAULT_TOP_SHARE,
    overwrite: bool = False,
    tiles: str | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> StopsResult:
    """Read searches, run the review and write every output into ``out_dir``.

    Writes ``disparity.csv``, ``monthly.csv``, ``context.csv``, ``lsoa_rates.csv``,
    ``review.html``, ``review_map.html``, ``rejects.csv`` and ``manifest.json``.

    Parameters
    ----------
    inputs
        Stop-and-search files/folders/zips, or one ``hotspots ingest`` output folder.
    out_dir
        Output folder (an earlier run there is replaced only with ``overwrite``).
    population, hotspots, months, violence, min_count, confidence, ratio_method, top_share
        See :func:`review_stops`.
    overwrite
        Replace an earlier run's output.
    tiles
        Optional background tiles for the map (need internet).
    on_progress
        Called with the compressed bytes read so far.

    Returns
    -------
    StopsResult
    """
    from hotspots.ingest.pipeline import prepare_out_dir
    from hotspots.io.atomic import atomic_path, write_csv, write_json
    from hotspots.io.manifest import Clock, build_manifest

    start = time.perf_counter()
    clock = Clock()
    if population is None:
        raise InputError("--population is required: census2021, census2011 or a CSV file.")
    residents = read_population(population)  # fail on a bad --population before reading
    if hotspots is not None and not Path(hotspots).is_dir():
        raise InputError(f"--hotspots {hotspots} is not a folder.")
    out = prepare_out_dir(out_dir, overwrite=overwrite)
    loaded = load_searches(inputs, months=months, on_progress=on_progress)
    review = review_stops(
        loaded.searches,
        population=residents,
        months=months,
        hotspots=hotspots,
        violence=violence,
        min_count=min_count,
        confidence=confidence,
        ratio_method=ratio_method,
        top_share=top_share,
    )
    files: dict[str, Path] = {}
    if loaded.source == "store":
        source = Path(inputs[0]) / "rejects.csv"
        if source.is_file():
            shutil.copyfile(source, out / "rejects.csv")
        else:
            write_csv(out / "rejects.csv", loaded.rejects)
    else:
        write_csv(out / "rejects.csv", loaded.rejects)
    files["rejects"] = out / "rejects.csv"
    files["disparity"] = write_csv(out / "disparity.csv", review.disparity)
    files["monthly"] = write_csv(out / "monthly.csv", review.monthly)
    files["context"] = write_csv(out / "context.csv", review.context)
    files["lsoa_rates"] = write_csv(out / "lsoa_rates.csv", _published_lsoa(review))
    fmap = draw_review_map(review, tiles=tiles)
    files["map"] = out / "review_map.html"
    with atomic_path(files["map"]) as handle:
        handle.write(fmap.get_root().render())

    rejects_by_reason = (
        loaded.rejects["reason"].value_counts().sort_index().to_dict()
        if "reason" in loaded.rejects
        else {}
    )
    parameters = {
        **review.parameters,
        "inputs": [str(p) for p in inputs],
        "input_kind": loaded.source,
        "hotspots_dir": str(hotspots) if hotspots else None,
        "violence_counts": str(violence) if violence is not None else None,
        "months_requested": list(months) if months else None,
    }
    extra = {
        "stops": {
            "headline": review.headline,
            "months": {
                "expected": [review.months.expected[0], review.months.expected[-1]],
                "present": review.months.present,
                "missing": review.months.missing_ranges(),
                "short": list(review.months.short),
                "short_fraction": review.months.short_fraction,
                "rows_by_month": review.months.rows_by_month,
            },
            "unmapped": review.unmapped,
            "hotspot_sets": review.hotspot_sets.drop(columns="description").to_dict(
                orient="records"
            ),
            "rows_published": int(len(review.disparity)),
            "rows_suppressed": int(review.disparity["suppressed"].sum()),
            "cube_cells": int(len(review.cube)),
            "cube_cells_suppressed": int(review.cube["suppressed"].sum()),
            "search_notes": loaded.notes,
        },
    }
    manifest = build_manifest(
        command="stops",
        sources=[],
        reports=[],
        parameters=parameters,
        outputs=files,
        clock=clock,
        extra=extra,
    )
    manifest["inputs"] = loaded.inputs
    manifest["rows"] = loaded.rows
    manifest["rejects_by_reason"] = rejects_by_reason
    files["review"] = out / "review.html"
    with atomic_path(files["review"]) as handle:
        handle.write(render_review(review, manifest=manifest, map_file=files["map"].name))
    from hotspots.io.atomic import sha256_file

    manifest["outputs"]["review"] = {  # type: ignore[index]
        "path": str(files["review"]),
        "sha256": sha256_file(files["review"]),
        "bytes": files["review"].stat().st_size,
    }
    write_json(out / "manifest.json", manifest)
    files["manifest"] = out / "manifest.json"
    return StopsResult(
        out_dir=out,
        review=review,
        files=files,
        manifest=manifest,
        seconds=time.perf_counter() - start,
    )


__all__ = [
    "HarmAreas",
    "HotspotSet",
    "LoadedSearches",
    "StopsResult",
    "StopsReview",
    "detect_hotspots_from",
    "draw_review_map",
    "load_searches",
    "lsoa_search_rates",
    "render_review",
    "review_stops",
    "run_stops",
    "violence_hotspots",
]
