"""Candidate places for tasking (hot cells and clusters with readable names) and walking from bases."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from hotspots.core import schema
from hotspots.core.errors import InputError, SchemaError
from hotspots.task.teams import _largest_overlap

DEFAULT_DETOUR = 1.3
"""Walking distance = straight-line distance x 1.3 (a typical urban detour factor)."""


WALK_M_PER_MIN = 80.0
"""Walking speed: 80 m a minute (4.8 km/h)."""

DEFAULT_MAX_CANDIDATES = 40


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
