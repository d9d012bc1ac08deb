"""``hotspots task``: patrol plans per neighbourhood team, sheets, map and exposure audit.

Steps, each a function a notebook can call:

1. :func:`team_areas`: teams are London wards (December 2024), boroughs, or any polygon
   file. The bundled ward file has no wards for the City of London, so with wards the City
   (and any other borough the ward file does not cover) is one team of its own.
2. :func:`candidate_places`: hotspot cells (or harm clusters) from ``detect``, each given to
   the team whose area covers most of it, with harm, its share of the team's harm, trend,
   Gi* class and a readable name (the most common data.police.uk location in it).
3. :func:`walk_from_bases`: optional bases (front counters) and a walking limit: straight
   line distance times a detour factor (1.3 by default), walked at 80 m a minute.
4. :func:`hotspots.task.patrol.allocate_patrols`: visits per week within the budget (exact MILP,
   greedy as a floor).
5. :func:`hotspots.task.timewindows.windows_for_places`: visit windows when incidents have times;
   a plain statement when they have the month only.
6. :func:`hotspots.task.exposure.exposure_audit`: residents by ethnic group of the tasked places
   against the team's whole area.
7. :func:`render_tasking_sheets` (one printable A4 page per team with an inline SVG map) and
   :func:`draw_tasking_map` (offline folium map); :func:`run_task` writes every file.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from hotspots.core import schema
from hotspots.core.errors import InputError, SchemaError
from hotspots.geo.geocode import Areas
from hotspots.task.patrol import (
    DEFAULT_DECAY,
    DEFAULT_MAX_PLACES,
    Allocation,
    Dosage,
    allocate_patrols,
    share_budget,
)
from hotspots.task.timewindows import DAY_NAMES, HOURS_IN_WEEK, PlaceTimes, windows_for_places

DEFAULT_DETOUR = 1.3
"""Walking distance = straight-line distance x 1.3 (a typical urban detour factor)."""
WALK_M_PER_MIN = 80.0
"""Walking speed: 80 m a minute (4.8 km/h)."""
DEFAULT_MAX_CANDIDATES = 40
DEFAULT_MIN_COUNT = 5
TEAM_BY = ("ward", "borough", "custom")
NO_WARDS_SHARE = 0.5
"""A borough less than half covered by the ward file is one team of its own."""

TASKING_COLUMNS = (
    "team",
    "team_code",
    "rank",
    "place",
    "name",
    "borough",
    "ward",
    "lat",
    "lon",
    "harm_share",
    "visits_per_week",
    "minutes_per_visit",
    "minutes_per_week",
    "time_windows",
    "reason",
    "trend",
    "gi_class",
    "incidents",
    "base",
    "walk_m",
)


# ---------------------------------------------------------------------------
# teams


def _largest_overlap(targets: gpd.GeoSeries, areas: gpd.GeoDataFrame) -> np.ndarray:
    """Position in ``areas`` of the area covering most of each target, or -1 if none.

    Targets that touch one area only take it without measuring; for the others each large
    area is first clipped to the target's bounding box, so the overlap is cheap to measure.
    Ties go to the area listed first.
    """
    target_geoms = targets.to_numpy()
    area_geoms = areas.geometry.to_numpy()
    out = np.full(len(target_geoms), -1, dtype=np.int64)
    if len(target_geoms) == 0 or len(area_geoms) == 0:
        return out
    tree = shapely.STRtree(target_geoms)
    a_idx, t_idx = tree.query(area_geoms, predicate="intersects")
    if len(t_idx) == 0:
        return out
    counts = np.bincount(t_idx, minlength=len(target_geoms))
    single = counts[t_idx] == 1
    out[t_idx[single]] = a_idx[single]
    multi_t, multi_a = t_idx[~single], a_idx[~single]
    if len(multi_t):
        bounds = shapely.bounds(target_geoms[multi_t])
        overlap = np.empty(len(multi_t))
        for j, (t, a) in enumerate(zip(multi_t, multi_a, strict=True)):
            near = shapely.clip_by_rect(area_geoms[a], *bounds[j])
            overlap[j] = shapely.area(shapely.intersection(target_geoms[t], near))
        pairs = pd.DataFrame({"t": multi_t, "a": multi_a, "overlap": overlap})
        pairs = pairs[pairs["overlap"] > 0].sort_values(
            ["t", "overlap", "a"], ascending=[True, False, True], kind="mergesort"
        )
        best = pairs.drop_duplicates("t")
        out[best["t"].to_numpy()] = best["a"].to_numpy()
    return out


def _match_boroughs(boroughs: gpd.GeoDataFrame, wanted: Sequence[str]) -> list[str]:
    """Codes of the boroughs named (by name or code, any case)."""
    by_key = {str(code).casefold(): code for code in boroughs.index}
    by_key.update({str(name).casefold(): code for code, name in boroughs["name"].items()})
    codes, unknown = [], []
    for text in wanted:
        key = text.strip().casefold()
        if key in by_key:
            codes.append(by_key[key])
        else:
            unknown.append(text)
    if unknown:
        names = ", ".join(sorted(boroughs["name"].astype(str)))
        raise InputError(
            f"unknown borough {', '.join(repr(u) for u in unknown)}; choose from: {names}."
        )
    return sorted(set(codes))


def team_areas(
    team_by: str,
    *,
    boroughs: Areas,
    wards: Areas | None = None,
    custom: Areas | None = None,
    only_boroughs: Sequence[str] | None = None,
) -> gpd.GeoDataFrame:
    """Build the teams: one polygon per ward, borough or custom area.

    Parameters
    ----------
    team_by
        ``"ward"``, ``"borough"`` or ``"custom"``.
    boroughs
        The study areas (London boroughs, or a force's own areas with ``team_by="borough"``).
    wards
        Ward polygons (``hotspots.geo.boundaries.london_wards()``) for ``team_by="ward"``.
        A borough less than half covered by them (the City of London, whose wards are not
        in the bundled file) becomes one team, with a note saying so.
    custom
        Any polygons for ``team_by="custom"``.
    only_boroughs
        Keep only teams in these boroughs (names or codes, any case).

    Returns
    -------
    GeoDataFrame
        Indexed by ``team`` (area code), with ``name``, ``borough_code``, ``borough``,
        ``kind`` and ``note``, in the boroughs' CRS, sorted by borough then name.
    """
    if team_by not in TEAM_BY:
        raise InputError(f"team_by must be one of {', '.join(TEAM_BY)}; got {team_by!r}.")
    borough_polys = boroughs.polygons
    if team_by == "borough":
        teams = borough_polys[["name", "geometry"]].copy()
        teams["borough_code"] = teams.index.to_numpy(dtype=object)
        teams["borough"] = teams["name"].to_numpy(dtype=object)
        teams["kind"] = boroughs.kind
        teams["note"] = ""
    else:
        layer = wards if team_by == "ward" else custom
        if layer is None:
            raise InputError(
                f"team_by={team_by!r} needs the {'ward' if team_by == 'ward' else 'custom'} "
                "polygons (london_wards() or a --teams file)."
            )
        polys = layer.polygons
        where = _largest_overlap(polys.geometry, borough_polys)
        inside = where >= 0
        teams = polys.loc[inside, ["name", "geometry"]].copy()
        teams["borough_code"] = borough_polys.index.to_numpy(dtype=object)[where[inside]]
        teams["borough"] = borough_polys["name"].to_numpy(dtype=object)[where[inside]]
        teams["kind"] = layer.kind
        teams["note"] = ""
        if team_by == "ward":
            covered = shapely.area(
                shapely.intersection(
                    borough_polys.geometry.to_numpy(),
                    shapely.union_all(polys.geometry.to_numpy()),
                )
            )
            share = pd.Series(
                covered / shapely.area(borough_polys.geometry.to_numpy()),
                index=borough_polys.index,
            )
            extra = borough_polys[share < NO_WARDS_SHARE]
            if len(extra):
                partial = teams["borough_code"].isin(extra.index)
                dropped = teams[partial].groupby("borough_code").size()
                teams = teams[~partial]
                whole = extra[["name", "geometry"]].copy()
                whole["borough_code"] = extra.index.to_numpy(dtype=object)
                whole["borough"] = extra["name"].to_numpy(dtype=object)
                whole["kind"] = "borough (one team)"
                whole["note"] = [
                    f"one team for the whole of {name}: the ward file covers only "
                    f"{100 * share[code]:.0f}% of it ({int(dropped.get(code, 0))} ward(s))"
                    for code, name in zip(extra.index, extra["name"], strict=True)
                ]
                teams = pd.concat([teams, whole])
    teams.index = pd.Index(teams.index.astype(str), name="team")
    if only_boroughs:
        codes = _match_boroughs(borough_polys, only_boroughs)
        teams = teams[teams["borough_code"].isin(codes)]
    teams = teams.sort_values(["borough", "name"], kind="mergesort")
    return gpd.GeoDataFrame(teams, geometry="geometry", crs=borough_polys.crs)


# ---------------------------------------------------------------------------
# candidate places


def _fallback_name(lat: float, lon: float) -> str:
    return f"unnamed place near {lat:.4f}, {lon:.4f}"


def candidate_places(
    cells: gpd.GeoDataFrame,
    teams: gpd.GeoDataFrame,
    *,
    clusters: gpd.GeoDataFrame | None = None,
    wards: gpd.GeoDataFrame | None = None,
    min_incidents: int = 1,
    max_candidates: int = DEFAULT_MAX_CANDIDATES,
) -> tuple[gpd.GeoDataFrame, pd.DataFrame, pd.Series]:
    """Give hotspot cells (or clusters) to teams and keep each team's candidates.

    Parameters
    ----------
    cells
        The ``detect`` cells table (``harm``, ``incidents``, ``trend``, ``gi_class``,
        ``place``, ``lon``, ``lat``, hexagons; indexed by cell).
    teams
        From :func:`team_areas`.
    clusters
        Cluster polygons from ``detect`` (``place``, ``harm``, ``incidents``): when given,
        the candidate places are clusters instead of cells.
    wards
        Ward polygons with ``name``, to name each place's ward (optional).
    min_incidents
        Least incidents for a place to be a candidate.
    max_candidates
        Most candidates per team (highest harm first).

    Returns
    -------
    places : GeoDataFrame
        Candidates indexed by ``place`` (cell id or ``cluster-N``), with ``team``,
        ``team_name``, ``borough``, ``ward``, ``name``, ``lat``, ``lon``, ``harm``,
        ``harm_share`` (of the team's harm), ``harm_rank`` (in the team), ``incidents``,
        ``trend``, ``gi_class``, ``kind`` and the polygon.
    team_harm : DataFrame
        Per team: ``harm`` and ``incidents`` of all cells given to it, ``cells``.
    cell_team : Series
        Team of every cell (None outside every team), indexed like ``cells``.
    """
    schema.require_columns(cells, ["harm", "incidents", "lon", "lat"], name="cells")
    where = _largest_overlap(cells.geometry, teams)
    team_codes = teams.index.to_numpy(dtype=object)
    cell_team = pd.Series(
        np.where(where >= 0, team_codes[np.maximum(where, 0)], None), index=cells.index
    )
    in_team = cell_team.notna()
    team_harm = (
        pd.DataFrame(
            {
                "team": cell_team[in_team].to_numpy(),
                "harm": cells.loc[in_team, "harm"].to_numpy(dtype=np.float64),
                "incidents": cells.loc[in_team, "incidents"].to_numpy(dtype=np.int64),
            }
        )
        .groupby("team")
        .agg(harm=("harm", "sum"), incidents=("incidents", "sum"), cells=("harm", "size"))
        .reindex(teams.index, fill_value=0)
    )
    if clusters is not None and len(clusters):
        where_c = _largest_overlap(clusters.geometry, teams)
        keep = where_c >= 0
        source = clusters[keep]
        point = source.geometry.representative_point().to_crs(schema.WGS84)
        trend_of_cluster = _cluster_trends(cells, source)
        frame = pd.DataFrame(
            {
                "team": team_codes[where_c[keep]],
                "name": source["place"].fillna("").astype(str).to_numpy(),
                "lat": point.y.to_numpy(),
                "lon": point.x.to_numpy(),
                "harm": source["harm"].to_numpy(dtype=np.float64),
                "incidents": source["incidents"].to_numpy(dtype=np.int64),
                "trend": trend_of_cluster.to_numpy(dtype=object),
                "gi_class": "",
                "kind": "harm cluster",
            },
            index=pd.Index([f"cluster-{c}" for c in source.index], name="place"),
        )
        geometry = source.geometry.to_numpy()
    else:
        frame = pd.DataFrame(
            {
                "team": cell_team.to_numpy(),
                "name": (
                    cells["place"].fillna("").astype(str).to_numpy() if "place" in cells else ""
                ),
                "lat": cells["lat"].to_numpy(dtype=np.float64),
                "lon": cells["lon"].to_numpy(dtype=np.float64),
                "harm": cells["harm"].to_numpy(dtype=np.float64),
                "incidents": cells["incidents"].to_numpy(dtype=np.int64),
                "trend": cells["trend"].astype(str).to_numpy() if "trend" in cells else "",
                "gi_class": cells["gi_class"].astype(str).to_numpy()
                if "gi_class" in cells
                else "",
                "kind": "H3 cell",
            },
            index=pd.Index(cells.index.astype(str), name="place"),
        )
        geometry = cells.geometry.to_numpy()
    places = gpd.GeoDataFrame(frame, geometry=geometry, crs=cells.crs)
    places = places[
        places["team"].notna() & (places["harm"] > 0) & (places["incidents"] >= min_incidents)
    ]
    empty_name = places["name"].eq("")
    if empty_name.any():
        places.loc[empty_name, "name"] = [
            _fallback_name(lat, lon)
            for lat, lon in zip(
                places.loc[empty_name, "lat"], places.loc[empty_name, "lon"], strict=True
            )
        ]
    places = places.assign(
        team_name=teams["name"].reindex(places["team"]).to_numpy(dtype=object),
        borough=teams["borough"].reindex(places["team"]).to_numpy(dtype=object),
    )
    places["ward"] = _ward_names(places, teams, wards)
    totals = team_harm["harm"].reindex(places["team"]).to_numpy(dtype=np.float64)
    places["harm_share"] = np.divide(
        places["harm"].to_numpy(), totals, out=np.zeros(len(places)), where=totals > 0
    )
    places = places.assign(_place=places.index.to_numpy()).sort_values(
        ["team", "harm", "_place"], ascending=[True, False, True], kind="mergesort"
    )
    places["harm_rank"] = places.groupby("team").cumcount() + 1
    places = places[places["harm_rank"] <= max_candidates].drop(columns="_place")
    return places, team_harm, cell_team


def _ward_names(
    places: gpd.GeoDataFrame, teams: gpd.GeoDataFrame, wards: gpd.GeoDataFrame | None
) -> np.ndarray:
    """Name the ward of each place.

    For ward teams it is the team's name; otherwise the ward covering most of the part of
    the place inside its team's area (blank if no ward covers a quarter of that part).
    """
    is_ward = (teams["kind"].reindex(places["team"]) == "ward").to_numpy()
    out = np.where(is_ward, places["team_name"].to_numpy(dtype=object), "")
    rest = np.flatnonzero(~is_ward)
    if wards is None or wards.empty or len(rest) == 0:
        return out
    team_geoms = teams.geometry.reindex(places["team"].iloc[rest]).to_numpy()
    clipped = shapely.intersection(places.geometry.to_numpy()[rest], team_geoms)
    clipped_series = gpd.GeoSeries(clipped, crs=places.crs)
    where = _largest_overlap(clipped_series, wards)
    ward_geoms = wards.geometry.to_numpy()
    names = wards["name"].to_numpy(dtype=object)
    for j, (position, w) in enumerate(zip(rest, where, strict=True)):
        if w < 0:
            continue
        part = clipped[j]
        share = shapely.area(shapely.intersection(part, ward_geoms[w])) / max(
            shapely.area(part), 1e-9
        )
        if share >= 0.25:
            out[position] = names[w]
    return out


def _cluster_trends(cells: gpd.GeoDataFrame, clusters: gpd.GeoDataFrame) -> pd.Series:
    """Trend of the highest-harm cell in each cluster ('' if unknown)."""
    if "cluster" not in cells or "trend" not in cells:
        return pd.Series("", index=clusters.index)
    member = cells[cells["cluster"] >= 0].sort_values("harm", ascending=False)
    top = member.drop_duplicates("cluster").set_index("cluster")["trend"].astype(str)
    return top.reindex(clusters.index).fillna("")


# ---------------------------------------------------------------------------
# bases


def read_bases(path: str | Path, *, name_column: str | None = None) -> gpd.GeoDataFrame:
    """Read bases (e.g. front counters) from a CSV with latitude/longitude or a point file.

    Names are stripped of surrounding white space, including non-breaking spaces (the
    bundled police-stations file has one after "Dagenham"); a UTF-8 byte-order mark is
    allowed.

    Returns
    -------
    GeoDataFrame
        ``name`` and point geometry in EPSG:27700.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"bases file not found: {path}")
    if path.suffix.lower() in (".csv", ".txt"):
        table = pd.read_csv(path, encoding="utf-8-sig", dtype=str)
        lower = {c.strip().casefold(): c for c in table.columns}
        lat = next((lower[k] for k in ("latitude", "lat") if k in lower), None)
        lon = next((lower[k] for k in ("longitude", "lon", "lng", "long") if k in lower), None)
        name = name_column or next(
            (lower[k] for k in ("name", "station", "base") if k in lower), None
        )
        if lat is None or lon is None or name is None:
            raise SchemaError(
                f"{path} has columns {list(table.columns)}; bases need a name (name/station) "
                "and Latitude/Longitude columns (WGS84)."
            )
        ys = pd.to_numeric(table[lat], errors="coerce")
        xs = pd.to_numeric(table[lon], errors="coerce")
        bad = ys.isna() | xs.isna() | ~ys.between(-90, 90) | ~xs.between(-180, 180)
        if bad.any():
            raise SchemaError(
                f"{path}: {int(bad.sum())} base(s) have missing or invalid coordinates "
                f"(first at data row {int(np.flatnonzero(bad.to_numpy())[0]) + 1})."
            )
        frame = gpd.GeoDataFrame(
            {"name": table[name].astype(str).str.strip().to_numpy()},
            geometry=gpd.points_from_xy(xs, ys),
            crs=schema.WGS84,
        )
    else:
        try:
            frame = gpd.read_file(path)
        except Exception as exc:  # noqa: BLE001 (any reader failure is bad input)
            raise InputError(f"cannot read bases file {path}: {exc}") from None
        if frame.crs is None:
            raise SchemaError(f"{path} has no CRS; set one before using it as bases.")
        column = name_column or next(
            (c for c in frame.columns if c.casefold() in ("name", "station", "base")), None
        )
        if column is None:
            raise SchemaError(f"{path} has no name column; pass name_column.")
        frame = frame.assign(
            name=frame[column].astype(str).str.strip(),
            geometry=frame.geometry.representative_point(),
        )[["name", "geometry"]]
    if frame.empty:
        raise InputError(f"{path} lists no bases.")
    return frame.to_crs(schema.WORKING_CRS).reset_index(drop=True)


def walk_from_bases(
    places: gpd.GeoDataFrame,
    bases: gpd.GeoDataFrame,
    *,
    detour: float = DEFAULT_DETOUR,
    speed_m_per_min: float = WALK_M_PER_MIN,
) -> pd.DataFrame:
    """Nearest base of each place and the walk to it.

    Walking distance is the straight line from the base to the place's centre times
    ``detour``; walking time is that over ``speed_m_per_min``.

    Returns
    -------
    DataFrame
        Indexed like ``places``: ``base``, ``walk_m``, ``walk_minutes`` (one way).
    """
    if detour < 1:
        raise SchemaError(f"the detour factor must be >= 1; got {detour}.")
    centres = shapely.centroid(places.geometry.to_numpy())
    points = bases.geometry.to_numpy()
    xy_p = shapely.get_coordinates(centres)
    xy_b = shapely.get_coordinates(points)
    if len(xy_p) == 0:
        return pd.DataFrame(
            {"base": pd.Series(dtype=object), "walk_m": 0.0, "walk_minutes": 0.0},
            index=places.index,
        )
    d = np.hypot(xy_p[:, None, 0] - xy_b[None, :, 0], xy_p[:, None, 1] - xy_b[None, :, 1])
    nearest = np.argmin(d, axis=1)
    walk_m = d[np.arange(len(xy_p)), nearest] * detour
    return pd.DataFrame(
        {
            "base": bases["name"].to_numpy(dtype=object)[nearest],
            "walk_m": walk_m,
            "walk_minutes": walk_m / speed_m_per_min,
        },
        index=places.index,
    )


# ---------------------------------------------------------------------------
# the plan


@dataclass(frozen=True)
class TaskOptions:
    """Choices for :func:`plan_tasking`.

    Attributes
    ----------
    hours_per_week
        Officer hours per team per week (one of this or ``total_hours``).
    total_hours
        Officer hours per week for all teams, shared in proportion to their harm.
    dosage
        Visit length and frequency (:class:`hotspots.task.patrol.Dosage`).
    decay
        Diminishing returns per extra visit.
    max_places
        Most places per team sheet.
    method
        ``"milp"`` (exact, greedy as floor) or ``"greedy"``.
    places
        ``"cells"`` or ``"clusters"``.
    min_incidents, max_candidates
        Candidate filters per team.
    max_walk_m, detour, walk_in_budget
        With bases: the walking limit (metres after the detour factor), the detour factor,
        and whether return walks count against the budget.
    timezone, window_hours
        Visit windows.
    min_count
        Disclosure threshold for published counts.
    time_limit_s
        Solver time limit per team.
    """

    hours_per_week: float | None = None
    total_hours: float | None = None
    dosage: Dosage = field(default_factory=Dosage)
    decay: float = DEFAULT_DECAY
    max_places: int = DEFAULT_MAX_PLACES
    method: str = "milp"
    places: str = "cells"
    min_incidents: int = 1
    max_candidates: int = DEFAULT_MAX_CANDIDATES
    max_walk_m: float | None = None
    detour: float = DEFAULT_DETOUR
    walk_in_budget: bool = False
    timezone: str = "Europe/London"
    window_hours: int = 2
    min_count: int = DEFAULT_MIN_COUNT
    time_limit_s: float = 20.0

    def __post_init__(self) -> None:
        """Check the budget is given once and is positive."""
        if (self.hours_per_week is None) == (self.total_hours is None):
            raise InputError(
                "give the budget once: hours per team per week (--hours-per-week H) or a "
                "total shared in proportion to harm (--total-hours T)."
            )
        hours = self.hours_per_week if self.hours_per_week is not None else self.total_hours
        if hours is None or not np.isfinite(hours) or hours < 0:
            raise InputError(f"the weekly budget must be >= 0 hours; got {hours}.")
        if self.places not in ("cells", "clusters"):
            raise InputError(f"places must be 'cells' or 'clusters'; got {self.places!r}.")
        if self.max_walk_m is not None and self.max_walk_m <= 0:
            raise InputError(f"max_walk_m must be > 0; got {self.max_walk_m}.")

    def budget_text(self) -> str:
        """Say how the budget was set."""
        if self.hours_per_week is not None:
            return f"{self.hours_per_week:g} officer hours per team per week"
        return f"{self.total_hours:g} officer hours per week shared between teams by harm"


@dataclass(frozen=True)
class TaskingPlan:
    """A plan for every team, with everything needed to print, map and audit it.

    Attributes
    ----------
    teams
        One row per team (polygon): ``name``, ``borough``, ``kind``, ``note``, harm,
        budget, planned minutes, visits, places tasked, objectives, ``harm_covered_share``,
        ``time_windows``.
    places
        Every candidate place with ``status``, ``visits_per_week`` and, when tasked,
        ``rank``, ``time_windows`` and ``reason`` (polygons).
    tasking
        The tasked places in the ``tasking.csv`` layout (no geometry).
    exposure
        The exposure audit (see :func:`hotspots.task.exposure.exposure_audit`).
    allocation
        The allocation, with both objectives per team.
    times
        Visit windows and the statement about time precision.
    bases
        Bases used (may be empty).
    options
        The options used.
    period, crime_types, harm_table
        What the plan is based on.
    choices
        Readable sentences for every rule and automatic choice.
    """

    teams: gpd.GeoDataFrame
    places: gpd.GeoDataFrame
    tasking: pd.DataFrame
    exposure: pd.DataFrame
    allocation: Allocation
    times: PlaceTimes
    bases: gpd.GeoDataFrame
    options: TaskOptions
    period: tuple[str, str]
    crime_types: tuple[str, ...] | None
    harm_table: str
    choices: dict[str, str]
    cells: gpd.GeoDataFrame | None = dataclasses.field(default=None, repr=False)

    def summary(self) -> dict[str, object]:
        """Headline figures for the manifest and the command line."""
        teams = self.teams
        total_harm = float(teams["harm"].sum())
        covered = float(teams["harm_covered"].sum())
        return {
            "teams": len(teams),
            "teams_with_places": int((teams["places_tasked"] > 0).sum()),
            "places_tasked": int(teams["places_tasked"].sum()),
            "visits_per_week": int(teams["visits"].sum()),
            "budget_minutes": float(teams["budget_minutes"].sum()),
            "planned_minutes": float(teams["planned_minutes"].sum()),
            "unplanned_minutes": float(teams["unplanned_minutes"].sum()),
            "objective": float(teams["objective"].sum()),
            "greedy_objective": float(teams["greedy_objective"].sum()),
            "teams_where_optimiser_beats_greedy": int(
                (teams["objective"] > teams["greedy_objective"] * (1 + 1e-9)).sum()
            ),
            "harm_total": total_harm,
            "harm_covered": covered,
            "harm_covered_share": covered / total_harm if total_harm > 0 else 0.0,
            "timed": self.times.timed,
        }


def _ordinal(n: int) -> str:
    if n == 1:
        return ""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


GI_TEXT = {
    "hot_99": "significant hot spot (Gi*, 99%)",
    "hot_95": "significant hot spot (Gi*, 95%)",
    "hot_90": "significant hot spot (Gi*, 90%)",
}
TREND_TEXT = {
    "new": "newly hot",
    "consecutive": "hot in recent months",
    "intensifying": "getting hotter",
    "persistent": "persistently hot",
    "diminishing": "cooling but still hot",
    "sporadic": "hot on and off",
    "oscillating": "switching hot and cold",
    "historical": "was hot, less so lately",
}


def _reason(row: pd.Series, candidates: int, dosage: Dosage) -> str:
    which = " ".join(filter(None, [_ordinal(int(row["harm_rank"])), "highest harm"]))
    parts = [
        f"{which} of {candidates} places in the area ({100 * row['harm_share']:.1f}% of its harm)"
    ]
    if row.get("gi_class") in GI_TEXT:
        parts.append(GI_TEXT[row["gi_class"]])
    if row.get("trend") in TREND_TEXT:
        parts.append(TREND_TEXT[row["trend"]])
    visits = int(row["visits_per_week"])
    if visits >= dosage.max_visits_per_week:
        parts.append("at the weekly cap of visits")
    elif visits == dosage.min_visits_per_week:
        parts.append("the minimum dose")
    return "; ".join(parts)


def plan_tasking(
    cells: gpd.GeoDataFrame,
    teams: gpd.GeoDataFrame,
    *,
    options: TaskOptions,
    incidents: pd.DataFrame | None = None,
    clusters: gpd.GeoDataFrame | None = None,
    wards: gpd.GeoDataFrame | None = None,
    bases: gpd.GeoDataFrame | None = None,
    population: gpd.GeoDataFrame | None = None,
    period: tuple[str, str] = ("", ""),
    crime_types: tuple[str, ...] | None = None,
    harm_table: str = "",
) -> TaskingPlan:
    """Plan patrols for every team: places, visits per week, windows, exposure audit.

    Parameters
    ----------
    cells
        The ``detect`` cells table (see :func:`candidate_places`).
    teams
        From :func:`team_areas`.
    options
        Budget, dosage and the other rules.
    incidents
        The incidents behind ``cells`` (with ``cell_id``), for visit windows; None or
        month-only data give the plain statement instead.
    clusters
        Cluster polygons, used as places when ``options.places == "clusters"``.
    wards
        Ward polygons with ``name``, to name each place's ward.
    bases
        Bases (:func:`read_bases`), for walking distances and ``options.max_walk_m``.
    population
        LSOA polygons with residents per group (:func:`hotspots.task.exposure.population_polygons`);
        None skips the exposure audit.
    period, crime_types, harm_table
        Descriptions carried to the outputs.

    Returns
    -------
    TaskingPlan
    """
    from hotspots.task.exposure import CAVEAT, exposure_audit

    if teams.empty:
        raise InputError("no teams to plan for; check --borough and the boundary files.")
    if options.places == "clusters" and (clusters is None or clusters.empty):
        raise InputError(
            "places='clusters' but detect found no harm clusters here; use places='cells'."
        )
    if options.max_walk_m is not None and (bases is None or bases.empty):
        raise InputError("a maximum walking distance needs bases (--bases FILE).")
    dosage = options.dosage
    places, team_harm, cell_team = candidate_places(
        cells,
        teams,
        clusters=clusters if options.places == "clusters" else None,
        wards=wards,
        min_incidents=options.min_incidents,
        max_candidates=options.max_candidates,
    )
    places["status"] = "candidate"
    eligible = pd.Series(True, index=places.index)
    bases = (
        bases
        if bases is not None
        else gpd.GeoDataFrame({"name": []}, geometry=[], crs=schema.WORKING_CRS)
    )
    if not bases.empty:
        walks = walk_from_bases(places, bases, detour=options.detour)
        places = places.join(walks)
        if options.max_walk_m is not None:
            far = places["walk_m"] > options.max_walk_m
            eligible &= ~far
            places.loc[far, "status"] = [
                f"beyond walking distance ({w:,.0f} m from {b})"
                for w, b in zip(places.loc[far, "walk_m"], places.loc[far, "base"], strict=True)
            ]
    else:
        places["base"] = ""
        places["walk_m"] = np.nan
        places["walk_minutes"] = 0.0

    # budgets ---------------------------------------------------------------
    if options.hours_per_week is not None:
        budgets = pd.Series(options.hours_per_week * 60.0, index=teams.index)
    else:
        budgets = share_budget(
            float(options.total_hours) * 60.0,  # type: ignore[arg-type]
            team_harm["harm"],
            visit_minutes=dosage.visit_minutes,
        )
    frame = places.loc[eligible, ["team", "harm"]].copy()
    frame["walk_minutes"] = (
        2.0 * places.loc[eligible, "walk_minutes"].fillna(0.0) if options.walk_in_budget else 0.0
    )
    allocation = allocate_patrols(
        frame,
        budgets,
        dosage=dosage,
        decay=options.decay,
        max_places=options.max_places,
        method=options.method,
        time_limit_s=options.time_limit_s,
    )
    places["visits_per_week"] = allocation.visits.reindex(places.index, fill_value=0).astype(
        np.int64
    )
    tasked_mask = places["visits_per_week"] > 0
    places.loc[tasked_mask, "status"] = "tasked"
    places.loc[~tasked_mask & eligible, "status"] = "not tasked (budget or place limit)"
    places["minutes_per_visit"] = dosage.visit_minutes
    places["minutes_per_week"] = places["visits_per_week"] * dosage.visit_minutes
    places["rank"] = 0
    order = places[tasked_mask].sort_values(
        ["team", "visits_per_week", "harm"], ascending=[True, False, False], kind="mergesort"
    )
    places.loc[order.index, "rank"] = order.groupby("team").cumcount().to_numpy() + 1

    # time windows ------------------------------------------------------------
    if incidents is not None and len(incidents) and schema.CELL_ID in incidents:
        inc = incidents[incidents[schema.CELL_ID].isin(cells.index)]
        team_of_incident = cell_team.reindex(inc[schema.CELL_ID]).to_numpy(dtype=object)
        if options.places == "clusters":
            place_of_incident = _incident_clusters(inc, places)
        else:
            place_of_incident = inc[schema.CELL_ID].astype(str).to_numpy(dtype=object)
        times = windows_for_places(
            inc,
            pd.Series(place_of_incident),
            pd.Series(team_of_incident),
            timezone=options.timezone,
            window_hours=options.window_hours,
        )
    else:
        times = windows_for_places(
            pd.DataFrame({"occurred_at": pd.Series([], dtype="datetime64[ns, UTC]")}),
            pd.Series([], dtype=object),
            pd.Series([], dtype=object),
        )
    if times.timed:
        own = times.places["time_windows"].reindex(places.index)
        team_text = times.teams["time_windows"].reindex(places["team"]).to_numpy(dtype=object)
        places["time_windows"] = own.where(
            own.notna(),
            pd.Series(team_text, index=places.index).map(
                lambda t: (
                    f"no timed incidents here; area peaks: {t}"
                    if isinstance(t, str)
                    else "no timed incidents in this area"
                )
            ),
        )
    else:
        places["time_windows"] = "not available (month-only data)"

    candidates_per_team = places.groupby("team").size()
    places["reason"] = ""
    places.loc[tasked_mask, "reason"] = [
        _reason(row, int(candidates_per_team[row["team"]]), dosage)
        for _, row in places[tasked_mask].iterrows()
    ]

    # teams table -------------------------------------------------------------
    summary = allocation.teams.reindex(teams.index)
    team_table = teams.copy()
    team_table["harm"] = team_harm["harm"].reindex(teams.index).fillna(0.0)
    team_table["incidents"] = team_harm["incidents"].reindex(teams.index).fillna(0).astype(int)
    team_table["candidates"] = candidates_per_team.reindex(teams.index).fillna(0).astype(int)
    for column in (
        "budget_minutes",
        "planned_minutes",
        "visit_minutes",
        "walk_minutes",
        "unplanned_minutes",
        "objective",
        "greedy_objective",
    ):
        team_table[column] = summary[column].fillna(0.0).astype(float)
    team_table["budget_minutes"] = budgets.reindex(teams.index).fillna(0.0)
    team_table["unplanned_minutes"] = team_table["budget_minutes"] - team_table["planned_minutes"]
    team_table["visits"] = summary["visits"].fillna(0).astype(int)
    team_table["places_tasked"] = summary["places_tasked"].fillna(0).astype(int)
    team_table["solver_status"] = summary["solver_status"].fillna("no candidates")
    team_table["plan_from"] = summary["plan_from"].fillna("")
    covered = places[tasked_mask].groupby("team")["harm"].sum()
    team_table["harm_covered"] = covered.reindex(teams.index).fillna(0.0)
    team_table["harm_covered_share"] = np.divide(
        team_table["harm_covered"].to_numpy(),
        team_table["harm"].to_numpy(),
        out=np.zeros(len(team_table)),
        where=team_table["harm"].to_numpy() > 0,
    )
    team_table["time_windows"] = (
        times.teams["time_windows"].reindex(teams.index).fillna("no timed incidents")
        if times.timed
        else "not available (month-only data)"
    )

    # exposure audit ----------------------------------------------------------
    if population is not None:
        exposure = exposure_audit(places[tasked_mask], teams, population)
    else:
        exposure = pd.DataFrame()

    tasking = _tasking_table(places[tasked_mask], teams, min_count=options.min_count)
    choices = {
        "budget": options.budget_text(),
        "dosage": dosage.describe(),
        "value": (
            f"the k-th visit to a place in a week is worth harm x (1 - {options.decay:g})^(k-1): "
            f"each extra visit is worth {100 * options.decay:g}% less than the one before"
        ),
        "places": (
            f"{'harm clusters' if options.places == 'clusters' else 'H3 cells'} from detect with "
            f"at least {options.min_incidents} incident(s), the {options.max_candidates} highest "
            f"harm per team; a place belongs to the team whose area covers most of it; at most "
            f"{options.max_places} places per team"
        ),
        "optimiser": (
            "exact mixed-integer programme (PuLP with CBC), warm-started from the greedy plan; "
            "the greedy plan (highest value per minute first) is kept as a floor"
            if options.method == "milp"
            else "greedy: highest value per minute first"
        ),
        "times": times.note,
        "exposure": CAVEAT if population is not None else "no exposure audit (no population)",
    }
    if not bases.empty:
        walk = (
            f"bases: {len(bases)}; walking distance = straight line x {options.detour:g} at "
            f"{WALK_M_PER_MIN:g} m/min"
        )
        if options.max_walk_m is not None:
            walk += f"; places more than {options.max_walk_m:,.0f} m from every base are left out"
        if options.walk_in_budget:
            walk += "; the return walk from the nearest base counts against the budget"
        choices["bases"] = walk
    notes = [n for n in teams["note"] if n]
    if notes:
        choices["teams"] = "; ".join(
            f"{name}: {note}"
            for name, note in zip(teams["name"], teams["note"], strict=True)
            if note
        )
    return TaskingPlan(
        teams=team_table,
        places=places,
        tasking=tasking,
        exposure=exposure,
        allocation=allocation,
        times=times,
        bases=bases,
        options=options,
        period=period,
        crime_types=crime_types,
        harm_table=harm_table,
        choices=choices,
        cells=cells,
    )


def _incident_clusters(incidents: pd.DataFrame, places: gpd.GeoDataFrame) -> np.ndarray:
    """Cluster place id of each incident point ('' outside every cluster)."""
    polygons = places.geometry.to_numpy()
    tree = shapely.STRtree(polygons)
    points = incidents.geometry.to_numpy()
    p_idx, c_idx = tree.query(points, predicate="within")
    out = np.full(len(points), None, dtype=object)
    ids = places.index.to_numpy(dtype=object)
    out[p_idx] = ids[c_idx]
    return out


def _tasking_table(
    tasked: gpd.GeoDataFrame, teams: gpd.GeoDataFrame, *, min_count: int
) -> pd.DataFrame:
    from hotspots.maps.draw import suppress

    if tasked.empty:
        return pd.DataFrame(columns=list(TASKING_COLUMNS))
    table = pd.DataFrame(
        {
            "team": tasked["team_name"].to_numpy(dtype=object),
            "team_code": tasked["team"].to_numpy(dtype=object),
            "rank": tasked["rank"].to_numpy(dtype=np.int64),
            "place": tasked.index.to_numpy(dtype=object),
            "name": tasked["name"].to_numpy(dtype=object),
            "borough": tasked["borough"].to_numpy(dtype=object),
            "ward": tasked["ward"].to_numpy(dtype=object),
            "lat": tasked["lat"].round(6).to_numpy(),
            "lon": tasked["lon"].round(6).to_numpy(),
            "harm_share": tasked["harm_share"].round(4).to_numpy(),
            "visits_per_week": tasked["visits_per_week"].to_numpy(dtype=np.int64),
            "minutes_per_visit": tasked["minutes_per_visit"].to_numpy(),
            "minutes_per_week": tasked["minutes_per_week"].to_numpy(),
            "time_windows": tasked["time_windows"].to_numpy(dtype=object),
            "reason": tasked["reason"].to_numpy(dtype=object),
            "trend": tasked["trend"].to_numpy(dtype=object),
            "gi_class": tasked["gi_class"].to_numpy(dtype=object),
            "incidents": [suppress(n, min_count) for n in tasked["incidents"]],
            "base": tasked["base"].fillna("").to_numpy(dtype=object),
            "walk_m": tasked["walk_m"].round(0).to_numpy(),
        }
    )
    order = teams.index.to_list()
    table["_team_order"] = table["team_code"].map({t: i for i, t in enumerate(order)})
    table = table.sort_values(["_team_order", "rank"], kind="mergesort").drop(
        columns="_team_order"
    )
    return table.reset_index(drop=True)[list(TASKING_COLUMNS)]


# ---------------------------------------------------------------------------
# printable sheets


SVG_SIZE = 330
TASKED_COLOUR = "#d95f0e"
CANDIDATE_COLOURS = ("#f7f7f7", "#d9d9d9", "#bdbdbd", "#969696")


def _svg_path(geometry: shapely.Geometry, transform) -> str:  # type: ignore[no-untyped-def]
    parts = []
    for polygon in shapely.get_parts(geometry):
        if polygon.geom_type != "Polygon":
            continue
        for ring in [polygon.exterior, *polygon.interiors]:
            xy = transform(np.asarray(ring.coords))
            if len(xy) < 3:
                continue
            points = " ".join(f"{x:.1f},{y:.1f}" for x, y in xy)
            parts.append(f"M{points}Z")
    return " ".join(parts)


def team_svg(
    team: shapely.Geometry,
    places: gpd.GeoDataFrame,
    *,
    bases: gpd.GeoDataFrame | None = None,
    size: int = SVG_SIZE,
) -> str:
    """Draw a small map of one team: the area, its candidate places and numbered tasked places.

    Candidate places are grey by harm; tasked places are orange and carry their rank.
    Only numbers and fixed labels are written, so nothing from the input reaches the SVG.
    """
    shown = [team, *places.geometry.to_numpy()] if len(places) else [team]
    minx, miny, maxx, maxy = shapely.total_bounds(np.asarray(shown, dtype=object))
    pad = 0.04 * max(maxx - minx, maxy - miny, 100.0)
    minx, miny, maxx, maxy = minx - pad, miny - pad, maxx + pad, maxy + pad
    scale = size / max(maxx - minx, maxy - miny)
    width = (maxx - minx) * scale
    height = (maxy - miny) * scale

    def transform(xy: np.ndarray) -> np.ndarray:
        return np.column_stack([(xy[:, 0] - minx) * scale, (maxy - xy[:, 1]) * scale])

    shapes = [
        f'<path d="{_svg_path(shapely.simplify(team, 2.0), transform)}" fill="#fbfbf8" '
        'stroke="#252525" stroke-width="1.6"/>'
    ]
    if len(places):
        harm = places["harm"].to_numpy(dtype=np.float64)
        ranks = np.argsort(np.argsort(-harm))
        classes = np.minimum(
            (len(CANDIDATE_COLOURS) * (1 - ranks / max(len(harm), 1))).astype(int),
            len(CANDIDATE_COLOURS) - 1,
        )
        for geometry, cls, visits in zip(
            places.geometry, classes, places["visits_per_week"], strict=True
        ):
            colour = TASKED_COLOUR if visits > 0 else CANDIDATE_COLOURS[cls]
            shapes.append(
                f'<path d="{_svg_path(geometry, transform)}" fill="{colour}" '
                'fill-opacity="0.85" stroke="#636363" stroke-width="0.5"/>'
            )
        tasked = places[places["visits_per_week"] > 0]
        for geometry, rank in zip(tasked.geometry, tasked["rank"], strict=True):
            x, y = transform(shapely.get_coordinates(shapely.centroid(geometry)))[0]
            shapes.append(
                f'<text x="{x:.1f}" y="{y + 4:.1f}" text-anchor="middle" font-size="11" '
                'font-weight="bold" fill="#000" stroke="#fff" stroke-width="2.5" '
                f'paint-order="stroke">{int(rank)}</text>'
            )
    if bases is not None and len(bases):
        xy = transform(shapely.get_coordinates(bases.geometry.to_numpy()))
        for x, y in xy:
            if 0 <= x <= width and 0 <= y <= height:
                shapes.append(
                    f'<rect x="{x - 5:.1f}" y="{y - 5:.1f}" width="10" height="10" '
                    'fill="#2166ac" stroke="#fff" stroke-width="1"/>'
                )
    bar_m = _scale_bar_m(maxx - minx)
    bar_px = bar_m * scale
    shapes.append(
        f'<g font-size="10" fill="#333"><rect x="8" y="{height - 14:.1f}" width="{bar_px:.1f}" '
        f'height="4" fill="#333"/><text x="8" y="{height - 18:.1f}">{bar_m:,.0f} m</text></g>'
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.1f} {height:.1f}" role="img" aria-label="map of the team area">'
        + "".join(shapes)
        + "</svg>"
    )


def _scale_bar_m(span_m: float) -> float:
    target = span_m / 4
    for step in (50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10000, 20000):
        if step >= target:
            return float(step)
    return 50000.0


def heat_strip_svg(profile: np.ndarray, *, cell: int = 9) -> str:
    """Draw a 7 x 24 grid of a team's hour-of-week profile (darker = more harm)."""
    profile = np.asarray(profile, dtype=np.float64)
    top = profile.max() if profile.size and profile.max() > 0 else 1.0
    rects = []
    for how in range(HOURS_IN_WEEK):
        day, hour = divmod(how, 24)
        level = profile[how] / top
        shade = int(round(255 - 200 * level))
        rects.append(
            f'<rect x="{30 + hour * cell}" y="{day * cell}" width="{cell - 1}" '
            f'height="{cell - 1}" fill="rgb(255,{shade},{max(shade - 40, 0)})"/>'
        )
    labels = "".join(
        f'<text x="0" y="{day * cell + cell - 1}" font-size="8">{DAY_NAMES[day]}</text>'
        for day in range(7)
    )
    hours = "".join(
        f'<text x="{30 + h * cell}" y="{7 * cell + 9}" font-size="8">{h:02d}</text>'
        for h in range(0, 24, 3)
    )
    width = 30 + 24 * cell
    height = 7 * cell + 12
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="harm by hour of week">'
        + labels
        + hours
        + "".join(rects)
        + "</svg>"
    )


def _pct(value: float) -> str:
    return "n/a" if value is None or not np.isfinite(value) else f"{100 * value:.1f}%"


def render_tasking_sheets(plan: TaskingPlan) -> str:
    """Render ``tasking.html``: an overview page, then one printable A4 page per team.

    Every string from the input passes through jinja2's autoescaping; the maps are SVG
    built from numbers only.
    """
    import jinja2

    from hotspots.maps.draw import suppress

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("hotspots.reports", "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
    )
    options = plan.options
    places = plan.places
    exposure = plan.exposure
    summary = plan.summary()
    pages = []
    for code, team in plan.teams.iterrows():
        mine = places[places["team"] == code]
        bases = plan.bases
        tasked = mine[mine["visits_per_week"] > 0].sort_values("rank")
        rows = [
            {
                "rank": int(r["rank"]),
                "name": r["name"],
                "ward": r["ward"],
                "visits": int(r["visits_per_week"]),
                "per_day": _per_day(int(r["visits_per_week"]), options.dosage.days_per_week),
                "minutes": f"{r['minutes_per_visit']:g}",
                "windows": r["time_windows"],
                "share": _pct(r["harm_share"]),
                "incidents": suppress(r["incidents"], options.min_count),
                "trend": TREND_TEXT.get(str(r["trend"]), str(r["trend"]).replace("_", " ")),
                "base": (
                    f"{r['base']} ({r['walk_m']:,.0f} m)"
                    if isinstance(r.get("base"), str) and r.get("base")
                    else ""
                ),
                "reason": r["reason"],
            }
            for _, r in tasked.iterrows()
        ]
        audit = []
        if not exposure.empty:
            for _, e in exposure[exposure["team"] == code].iterrows():
                audit.append(
                    {
                        "group": e["group"],
                        "tasked": _pct(e["tasked_share"]),
                        "weighted": _pct(e["visit_weighted_share"]),
                        "area": _pct(e["area_share"]),
                        "ratio": "n/a" if not np.isfinite(e["ratio"]) else f"{e['ratio']:.2f}",
                        "flag": e["flag"],
                    }
                )
        profile = (
            plan.times.team_profiles.loc[code].to_numpy()
            if plan.times.timed and code in plan.times.team_profiles.index
            else None
        )
        pages.append(
            {
                "code": code,
                "name": team["name"],
                "borough": team["borough"],
                "kind": team["kind"],
                "note": team["note"],
                "budget_h": f"{team['budget_minutes'] / 60:,.2f}",
                "planned_h": f"{team['planned_minutes'] / 60:,.2f}",
                "unplanned_min": f"{team['unplanned_minutes']:,.0f}",
                "walk_h": f"{team['walk_minutes'] / 60:,.2f}",
                "visits": int(team["visits"]),
                "places": int(team["places_tasked"]),
                "candidates": int(team["candidates"]),
                "covered": _pct(team["harm_covered_share"]),
                "incidents": suppress(team["incidents"], options.min_count),
                "windows": team["time_windows"],
                "objective": f"{team['objective']:,.1f}",
                "greedy": f"{team['greedy_objective']:,.1f}",
                "plan_from": team["plan_from"],
                "map": team_svg(team.geometry, mine, bases=bases),
                "heat": heat_strip_svg(profile) if profile is not None else "",
                "rows": rows,
                "audit": audit,
            }
        )
    overview = [
        {
            "name": p["name"],
            "borough": p["borough"],
            "budget_h": p["budget_h"],
            "planned_h": p["planned_h"],
            "places": p["places"],
            "visits": p["visits"],
            "covered": p["covered"],
            "objective": p["objective"],
            "greedy": p["greedy"],
            "flags": ", ".join(
                f"{a['group']} {a['flag']} ({a['ratio']})"
                for a in p["audit"]
                if a["flag"] in ("over", "under")
            ),
        }
        for p in pages
    ]
    all_audit = []
    if not exposure.empty:
        for _, e in exposure[exposure["team"] == "ALL"].iterrows():
            all_audit.append(
                {
                    "group": e["group"],
                    "tasked": _pct(e["tasked_share"]),
                    "weighted": _pct(e["visit_weighted_share"]),
                    "area": _pct(e["area_share"]),
                    "ratio": "n/a" if not np.isfinite(e["ratio"]) else f"{e['ratio']:.2f}",
                    "flag": e["flag"],
                }
            )
    context = {
        "title": "Patrol tasking",
        "period_text": f"{plan.period[0]} to {plan.period[1]}",
        "crime_types": ", ".join(plan.crime_types) if plan.crime_types else "all in the input",
        "harm_table": plan.harm_table,
        "generated": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "version": metadata.version("hotspots"),
        "min_count": options.min_count,
        "summary": summary,
        "total_budget_h": f"{summary['budget_minutes'] / 60:,.1f}",
        "total_planned_h": f"{summary['planned_minutes'] / 60:,.1f}",
        "covered": _pct(summary["harm_covered_share"]),
        "objective": f"{summary['objective']:,.1f}",
        "greedy": f"{summary['greedy_objective']:,.1f}",
        "choices": list(plan.choices.items()),
        "timed": plan.times.timed,
        "time_note": plan.times.note,
        "dosage": options.dosage,
        "overview": overview,
        "all_audit": all_audit,
        "pages": pages,
        "caveat": plan.choices.get("exposure", ""),
    }
    return env.get_template("tasking.html").render(**context)


def _per_day(visits: int, days: int) -> str:
    per_day = visits / days
    if abs(per_day - round(per_day)) < 1e-9:
        return f"{int(round(per_day))} a day"
    return f"{per_day:.1f} a day on average"


# ---------------------------------------------------------------------------
# map


VISIT_COLOURS = ("#fdd0a2", "#fdae6b", "#f16913", "#a63603")
"""ColorBrewer Oranges (4): visits per week, light to dark."""


def draw_tasking_map(
    plan: TaskingPlan, *, title: str = "Patrol tasking", tiles: str | None = None
) -> object:
    """Map the plan: team areas, tasked places by visits per week, other candidates, bases.

    Returns
    -------
    folium.Map
        Offline (scripts inlined); tooltips escaped.
    """
    import folium

    from hotspots.maps.draw import (
        Legend,
        SharedShapes,
        add_title_and_legends,
        escape_text,
        offline_map,
        suppress,
    )

    teams = plan.teams
    places = plan.places
    options = plan.options
    bounds = teams.to_crs(schema.WGS84).total_bounds
    fmap = offline_map(
        location=((bounds[1] + bounds[3]) / 2, (bounds[0] + bounds[2]) / 2),
        zoom_start=13,
        tiles=tiles,
    )
    team_shapes = SharedShapes(
        teams,
        labels=[
            "Team",
            "Borough",
            "Budget (h/week)",
            "Planned (h/week)",
            "Places",
            "Harm covered",
        ],
        tooltips=[
            [
                str(t["name"]),
                str(t["borough"]),
                f"{t['budget_minutes'] / 60:,.1f}",
                f"{t['planned_minutes'] / 60:,.1f}",
                str(int(t["places_tasked"])),
                _pct(t["harm_covered_share"]),
            ]
            for _, t in teams.iterrows()
        ],
        decimals=4,
    )
    team_shapes.add_to(fmap)
    team_shapes.layer(
        name="Team areas",
        classes=[0] * len(teams),
        colours=("#ffffff",),
        line_weight=1.5,
        fill_opacity=0.05,
    ).add_to(fmap)
    legends = [
        Legend(
            "Team areas",
            [("#ffffff", f"{len(teams)} {teams['kind'].iloc[0]} teams")],
            layer="Team areas",
        )
    ]
    if len(places):
        place_shapes = SharedShapes(
            places,
            labels=[
                "Place",
                "Rank on the sheet",
                "Team",
                "Visits a week",
                "Minutes a visit",
                "When",
                "Share of area harm",
                "Incidents",
                "Status",
            ],
            tooltips=[
                [
                    str(p["name"]),
                    str(int(p["rank"])) if p["rank"] > 0 else "not tasked",
                    str(p["team_name"]),
                    str(int(p["visits_per_week"])),
                    f"{p['minutes_per_visit']:g}",
                    str(p["time_windows"]),
                    _pct(p["harm_share"]),
                    suppress(p["incidents"], options.min_count),
                    str(p["status"]),
                ]
                for _, p in places.iterrows()
            ],
        )
        place_shapes.add_to(fmap)
        visits = places["visits_per_week"].to_numpy()
        cap = options.dosage.max_visits_per_week
        low = options.dosage.min_visits_per_week
        uppers = np.unique(np.round(np.linspace(low, cap, len(VISIT_COLOURS) + 1)[1:]))
        uppers = uppers.astype(np.int64)
        colours = VISIT_COLOURS[len(VISIT_COLOURS) - len(uppers) :]
        visit_class = [
            None if v <= 0 else int(min(np.searchsorted(uppers, v, side="left"), len(uppers) - 1))
            for v in visits
        ]
        place_shapes.layer(
            name="Tasked places (visits a week)",
            classes=visit_class,
            colours=colours,
            line_weight=1.0,
            fill_opacity=0.85,
        ).add_to(fmap)
        rows = []
        lower = low
        for colour, upper in zip(colours, uppers, strict=True):
            text = f"{lower}" if lower == upper else f"{lower}-{upper}"
            rows.append((colour, f"{text} visits a week"))
            lower = int(upper) + 1
        legends.append(Legend("Tasked places", rows, layer="Tasked places (visits a week)"))
        other = [0 if v <= 0 else None for v in visits]
        place_shapes.layer(
            name="Other candidate places (not tasked)",
            classes=other,
            colours=("#bdbdbd",),
            show=False,
            line_weight=0.5,
            fill_opacity=0.6,
        ).add_to(fmap)
        legends.append(
            Legend(
                "Not tasked",
                [("#bdbdbd", "candidate place, not tasked")],
                layer="Other candidate places (not tasked)",
                shown=False,
            )
        )
    if len(plan.bases):
        group = folium.FeatureGroup(name="Bases (front counters, indicative)")
        for _, base in plan.bases.to_crs(schema.WGS84).iterrows():
            folium.CircleMarker(
                location=[base.geometry.y, base.geometry.x],
                radius=6,
                color="#2166ac",
                fill=True,
                fill_opacity=0.9,
                tooltip=escape_text(base["name"]),
            ).add_to(group)
        group.add_to(fmap)
        legends.append(
            Legend(
                "Bases",
                [("#2166ac", "base (front counter)")],
                layer="Bases (front counters, indicative)",
            )
        )
    folium.LayerControl(collapsed=False).add_to(fmap)
    add_title_and_legends(
        fmap,
        title=title,
        subtitle=(
            f"{plan.period[0]} to {plan.period[1]} · {options.budget_text()} · harm: "
            f"{plan.harm_table}"
        ),
        legends=legends,
        note=(
            f"Counts below {options.min_count} are shown as 'fewer than {options.min_count}'. "
            "Contains public sector information licensed under the Open Government Licence v3.0."
        ),
    )
    fmap.fit_bounds([[bounds[1], bounds[0]], [bounds[3], bounds[2]]])
    return fmap


# ---------------------------------------------------------------------------
# reading inputs and writing files


@dataclass(frozen=True)
class TaskResult:
    """Files written by :func:`run_task` and the plan itself."""

    out_dir: Path
    plan: TaskingPlan
    files: dict[str, Path]
    manifest: dict[str, object]
    seconds: float


def _is_detect_output(path: Path) -> bool:
    return (
        path.is_dir() and (path / "cells.parquet").exists() and (path / "manifest.json").exists()
    )


def run_task(
    inputs: Sequence[str | Path],
    out_dir: str | Path,
    *,
    settings,  # type: ignore[no-untyped-def]
    options: TaskOptions,
    team_by: str = "ward",
    boroughs: Sequence[str] | None = None,
    teams_file: str | Path | None = None,
    team_code: str | None = None,
    team_name: str | None = None,
    bases: str | Path | gpd.GeoDataFrame | None = None,
    detect_options=None,  # type: ignore[no-untyped-def]
    overwrite: bool = False,
    title: str | None = None,
) -> TaskResult:
    """Read incidents, detect hotspots, plan patrols per team and write every output.

    Parameters
    ----------
    inputs
        Raw files (as for ``ingest``), an ingest store folder, or a ``detect`` output
        folder (then there are no incident times).
    out_dir
        Output folder (see :func:`hotspots.ingest.pipeline.prepare_out_dir`).
    settings
        :class:`hotspots.ingest.read.IngestSettings` (boundaries, harm, resolution, selection).
    options
        Budget, dosage and the other rules (:class:`TaskOptions`).
    team_by
        ``"ward"`` (London wards; the City of London is one team), ``"borough"`` (the study
        areas) or ``"custom"`` (``teams_file``).
    boroughs
        Plan only for teams in these boroughs (names or codes).
    teams_file, team_code, team_name
        Any polygon file of teams and its code/name columns (``team_by="custom"``).
    bases
        Bases file (CSV with name and Latitude/Longitude, or a point file) or frame.
    detect_options
        :class:`hotspots.detect.points.DetectOptions` (defaults; resolution from ``settings``).
    overwrite
        Replace an earlier run's output in ``out_dir``.
    title
        Title of the sheets and map.

    Returns
    -------
    TaskResult
        Writes ``tasking.csv``, ``tasking.html``, ``tasking_map.html``, ``exposure.csv``,
        ``candidates.csv``, ``teams.csv``, ``rejects.csv`` and ``manifest.json``.
    """
    from hotspots.detect.points import DetectOptions, detect_hotspots
    from hotspots.geo.boundaries import london_lsoas, london_wards
    from hotspots.geo.geocode import read_areas
    from hotspots.ingest.pipeline import prepare_out_dir
    from hotspots.ingest.read import read_incidents
    from hotspots.io.atomic import atomic_path, write_csv, write_json
    from hotspots.io.manifest import Clock, build_manifest
    from hotspots.io.sources import find_sources
    from hotspots.io.store import is_store, read_store
    from hotspots.maps.draw import render_map
    from hotspots.task.exposure import census_ethnicity_lsoa, population_polygons

    start = time.perf_counter()
    clock = Clock()
    study = settings.layers.study
    london = study.source.endswith("london_boroughs.geojson")
    if team_by == "ward" and not london:
        raise InputError(
            "--team-by ward uses London's wards; with your own --areas use --team-by borough "
            "(one team per area) or --teams FILE."
        )
    if team_by == "custom" and teams_file is None:
        raise InputError("--team-by custom needs --teams FILE (and --team-name COL).")
    if teams_file is not None:
        team_by = "custom"
    if teams_file is not None and not (team_code or team_name):
        raise InputError("--teams needs --team-name (and optionally --team-code).")
    wards = london_wards() if london else None
    custom = (
        read_areas(
            teams_file,
            code_column=str(team_code or team_name),
            name_column=team_name,
            kind="team",
        )
        if teams_file is not None
        else None
    )
    teams = team_areas(team_by, boroughs=study, wards=wards, custom=custom, only_boroughs=boroughs)
    if teams.empty:
        raise InputError("no teams left after --borough; check the borough names.")
    base_frame = read_bases(bases) if isinstance(bases, (str, Path)) else bases
    out = prepare_out_dir(out_dir, overwrite=overwrite)
    for name in ("tasking.csv", "tasking.html", "tasking_map.html", "exposure.csv"):
        (out / name).unlink(missing_ok=True)

    paths = [Path(p) for p in inputs]
    selection = settings.selection
    team_boroughs = sorted(set(teams["borough_code"]))
    incidents = None
    sources: list[object] = []
    reports: list[object] = []
    store_manifest: dict[str, object] | None = None
    if len(paths) == 1 and _is_detect_output(paths[0]):
        folder = paths[0]
        detect_manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        cells = gpd.read_parquet(folder / "cells.parquet").set_index("cell", drop=False)
        cells.index.name = schema.CELL_ID
        cells = cells[cells["borough_code"].isin(team_boroughs)]
        if (folder / "rejects.csv").exists():
            shutil.copyfile(folder / "rejects.csv", out / "rejects.csv")
        detect_part = detect_manifest.get("detect", {})
        period = tuple(detect_part.get("period") or ("", ""))
        crime_types = tuple(detect_part.get("crime_types") or ()) or None
        harm_name = detect_manifest.get("parameters", {}).get("harm_table", settings.harm.name)
        clusters = None
        store_manifest = detect_manifest
    else:
        if len(paths) == 1 and is_store(paths[0]):
            store = paths[0]
            offences = None
            if selection.crime_types:
                canon = settings.harm.canonical(np.array(selection.crime_types, dtype=object))
                offences = [o for o in canon if o]
            incidents = read_store(store, months=selection.months, offences=offences)
            store_manifest = json.loads((store / "manifest.json").read_text(encoding="utf-8"))
            shutil.copyfile(store / "rejects.csv", out / "rejects.csv")
            harm_name = store_manifest.get("parameters", {}).get(  # type: ignore[union-attr]
                "harm_table", settings.harm.name
            )
        else:
            sources = find_sources(paths)
            loaded = read_incidents(paths, settings=settings)
            incidents = loaded.incidents
            reports = loaded.reports
            write_csv(out / "rejects.csv", loaded.rejects)
            harm_name = settings.harm.name
        if incidents.empty:
            raise InputError("no incidents after the selection; check --months and --crime-type.")
        crime_types = tuple(selection.crime_types) if selection.crime_types else None
        if not crime_types:
            crime_types = tuple(sorted(map(str, incidents[schema.OFFENCE].dropna().unique())))
        detect_options = detect_options or DetectOptions(resolution=settings.resolution)
        if detect_options.resolution != settings.resolution:
            raise InputError(
                f"detect resolution {detect_options.resolution} differs from the incidents' "
                f"cells ({settings.resolution}); use one resolution."
            )
        # detect over the whole study area, as 'hotspots detect' does, then keep the teams'
        detection = detect_hotspots(
            incidents,
            study,
            options=detect_options,
            harm_table=harm_name,
            crime_types=crime_types,
        )
        cells = detection.cells[detection.cells["borough_code"].isin(team_boroughs)]
        clusters = detection.clusters
        if clusters is not None and len(clusters):
            clusters = clusters[clusters.intersects(shapely.union_all(teams.geometry.to_numpy()))]
        period = detection.period
        incidents = incidents[incidents[schema.BOROUGH_CODE].isin(team_boroughs)]
        if incidents.empty:
            raise InputError(
                "no incidents in the teams' boroughs after the selection; check --borough, "
                "--months and --crime-type."
            )

    population = (
        population_polygons(london_lsoas().polygons, census_ethnicity_lsoa()) if london else None
    )
    plan = plan_tasking(
        cells,
        teams,
        options=options,
        incidents=incidents,
        clusters=clusters,
        wards=wards.polygons if wards is not None else None,
        bases=base_frame,
        population=population,
        period=(str(period[0]), str(period[1])),
        crime_types=crime_types,
        harm_table=str(harm_name),
    )

    files: dict[str, Path] = {}
    files["tasking"] = write_csv(out / "tasking.csv", plan.tasking)
    files["candidates"] = write_csv(
        out / "candidates.csv",
        pd.DataFrame(plan.places.drop(columns="geometry")).reset_index(),
    )
    files["teams"] = write_csv(
        out / "teams.csv", pd.DataFrame(plan.teams.drop(columns="geometry")).reset_index()
    )
    if not plan.exposure.empty:
        files["exposure"] = write_csv(out / "exposure.csv", plan.exposure.round(6))
    files["sheets"] = out / "tasking.html"
    with atomic_path(files["sheets"]) as handle:
        handle.write(render_tasking_sheets(plan))
    fmap = draw_tasking_map(plan, title=title or "Patrol tasking")
    files["map"] = out / "tasking_map.html"
    with atomic_path(files["map"]) as handle:
        handle.write(render_map(fmap))  # type: ignore[arg-type]
    files["rejects"] = out / "rejects.csv"
    summary = plan.summary()
    extra: dict[str, object] = {
        "automatic_choices": plan.choices,
        "task": {
            "team_by": team_by,
            "boroughs": list(boroughs) if boroughs else None,
            "options": {
                k: (dataclasses.asdict(v) if dataclasses.is_dataclass(v) else v)
                for k, v in dataclasses.asdict(options).items()
            },
            "period": list(plan.period),
            "crime_types": list(plan.crime_types) if plan.crime_types else None,
            "summary": summary,
            "teams": {
                str(code): {
                    "name": t["name"],
                    "budget_minutes": float(t["budget_minutes"]),
                    "planned_minutes": float(t["planned_minutes"]),
                    "objective": float(t["objective"]),
                    "greedy_objective": float(t["greedy_objective"]),
                    "solver_status": t["solver_status"],
                    "plan_from": t["plan_from"],
                }
                for code, t in plan.teams.iterrows()
            },
            "allocation_notes": plan.allocation.notes,
            "allocation_seconds": round(plan.allocation.seconds, 3),
        },
    }
    manifest = build_manifest(
        command="task",
        sources=sources,  # type: ignore[arg-type]
        reports=reports,
        parameters=settings.describe(),
        outputs=files,
        clock=clock,
        extra=extra,
    )
    if store_manifest is not None:
        manifest["inputs"] = store_manifest.get("inputs", [])
        manifest["rows"] = store_manifest.get("rows", {})
        manifest["rejects_by_reason"] = store_manifest.get("rejects_by_reason", {})
        manifest["input_folder"] = str(paths[0])
    write_json(out / "manifest.json", manifest)
    return TaskResult(
        out_dir=out,
        plan=plan,
        files=files,
        manifest=manifest,
        seconds=time.perf_counter() - start,
    )
