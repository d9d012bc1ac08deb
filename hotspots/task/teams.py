"""Teams: the area each neighbourhood team patrols (wards, boroughs or a custom polygon file)."""

from __future__ import annotations

from collections.abc import Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from hotspots.core.errors import InputError
from hotspots.geo.geocode import Areas

TEAM_BY = ("ward", "borough", "custom")


NO_WARDS_SHARE = 0.5
"""A borough less than half covered by the ward file is one team of its own."""


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
