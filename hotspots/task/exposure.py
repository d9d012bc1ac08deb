"""Exposure audit: who lives where the patrols go, against who lives in the team's area.

Place-based patrols are not aimed at people, but the residents of the tasked places are the
ones who meet them most. Before a plan is used, this module compares the residential
population by ethnic group of the tasked places with that of the team's whole area, so that
a plan that concentrates patrols on one community is visible.

Populations are Census 2021 usual residents by broad ethnic group per 2021 LSOA (table
TS021, bundled), apportioned to cells, clusters and team areas by area of overlap: an LSOA
that is 30% covered by a cell gives 30% of its residents to it. That assumes residents are
spread evenly within an LSOA (they are not: parks, railways and shopping streets have none),
so the figures for small places are rough; the ratio over a team's tasked places is
steadier. Residents are not the people present (visitors, commuters, night-time economy),
which the audit states wherever it is shown.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from hotspots.core.errors import CRSError, SchemaError
from hotspots.core.paths import bundled

CENSUS_FILE = ("demographics", "census2021_ethnicity_lsoa21_london.csv.gz")
GROUPS = {
    "Asian, Asian British or Asian Welsh": "Asian",
    "Black, Black British, Black Welsh, Caribbean or African": "Black",
    "Mixed or Multiple ethnic groups": "Mixed",
    "Other ethnic group": "Other",
    "White": "White",
}
"""Census 2021 broad groups (TS021) and the short names used in tables."""
OVER = 1.25
UNDER = 0.8
CAVEAT = (
    "Residents (Census 2021, usual residents by broad ethnic group, apportioned from LSOAs to "
    "places by area) are not the people present in a place; a ratio far from 1 says the "
    "tasked places' residents differ from the area's, not who will be stopped or spoken to."
)


def census_ethnicity_lsoa(path: str | None = None) -> pd.DataFrame:
    """Read Census 2021 residents by broad ethnic group per 2021 LSOA (bundled, London).

    Returns
    -------
    DataFrame
        Indexed by ``lsoa21_code``, one column per group (short names: Asian, Black, Mixed,
        Other, White) plus ``total``.
    """
    source = path or bundled(*CENSUS_FILE)
    long = pd.read_csv(source, dtype={"lsoa21_code": str})
    missing = {"lsoa21_code", "ethnic_group", "n"} - set(long.columns)
    if missing:
        raise SchemaError(
            f"{source} lacks {sorted(missing)}; expected the Census 2021 TS021 LSOA table "
            "(lsoa21_code, ethnic_group, n)."
        )
    unknown = sorted(set(long["ethnic_group"]) - set(GROUPS))
    if unknown:
        raise SchemaError(f"{source} has ethnic groups {unknown} that are not the 5 broad groups.")
    wide = long.pivot_table(
        index="lsoa21_code", columns="ethnic_group", values="n", aggfunc="sum", fill_value=0
    ).rename(columns=GROUPS)
    wide = wide[list(GROUPS.values())].astype(np.float64)
    wide["total"] = wide.sum(axis=1)
    wide.columns.name = None
    return wide


def population_polygons(lsoas: gpd.GeoDataFrame, counts: pd.DataFrame) -> gpd.GeoDataFrame:
    """Join LSOA polygons (indexed by code) with residents per group; LSOAs with none get 0."""
    joined = lsoas[["geometry"]].join(counts, how="left")
    value_columns = list(counts.columns)
    joined[value_columns] = joined[value_columns].fillna(0.0)
    return joined


def apportion(
    targets: gpd.GeoSeries, sources: gpd.GeoDataFrame, columns: list[str]
) -> pd.DataFrame:
    """Apportion counts from source polygons to target polygons by area of overlap.

    Each source gives each target ``count * area(source ∩ target) / area(source)``.

    Parameters
    ----------
    targets
        Polygons to receive counts (e.g. tasked cells, or team areas).
    sources
        Polygons holding ``columns`` (e.g. LSOAs with residents per group).
    columns
        Count columns to apportion.

    Returns
    -------
    DataFrame
        Indexed like ``targets``, one column per count.

    Raises
    ------
    CRSError
        If the layers are not in the same projected CRS.
    """
    if targets.crs is None or sources.crs is None or targets.crs != sources.crs:
        raise CRSError(
            f"apportioning needs both layers in one projected CRS; got {targets.crs} and "
            f"{sources.crs}. Reproject with .to_crs('EPSG:27700')."
        )
    if targets.crs.is_geographic:
        raise CRSError("apportioning by area needs a projected CRS (metres), not degrees.")
    target_geoms = targets.to_numpy()
    source_geoms = sources.geometry.to_numpy()
    tree = shapely.STRtree(source_geoms)
    t_idx, s_idx = tree.query(target_geoms, predicate="intersects")
    overlap = shapely.area(shapely.intersection(target_geoms[t_idx], source_geoms[s_idx]))
    source_area = shapely.area(source_geoms)
    fraction = np.divide(
        overlap, source_area[s_idx], out=np.zeros_like(overlap), where=source_area[s_idx] > 0
    )
    values = sources[columns].to_numpy(dtype=np.float64)[s_idx] * fraction[:, None]
    out = np.zeros((len(target_geoms), len(columns)))
    np.add.at(out, t_idx, values)
    return pd.DataFrame(out, index=targets.index, columns=columns)


def exposure_audit(
    places: gpd.GeoDataFrame,
    teams: gpd.GeoDataFrame,
    population: gpd.GeoDataFrame,
    *,
    groups: list[str] | None = None,
) -> pd.DataFrame:
    """Compare residents of the tasked places with residents of each team's whole area.

    Parameters
    ----------
    places
        Tasked places: ``team``, ``visits_per_week`` and polygon geometry.
    teams
        Team areas indexed by team code, with ``name``.
    population
        Polygons (LSOAs) with residents per group and ``total``
        (see :func:`population_polygons`).
    groups
        Group columns (default: the five Census broad groups).

    Returns
    -------
    DataFrame
        One row per team and group, plus ``ALL`` (all teams together): ``team``,
        ``team_name``, ``group``, ``tasked_residents``, ``tasked_share``,
        ``visit_weighted_share`` (residents weighted by visits per week),
        ``area_residents``, ``area_share``, ``ratio`` (tasked share / area share),
        ``visit_weighted_ratio`` and ``flag`` (``over`` at 1.25 or more, ``under`` at 0.8
        or less, empty otherwise; ``no tasked places`` when there are none).
    """
    groups = groups or list(GROUPS.values())
    columns = [*groups, "total"]
    missing = [c for c in columns if c not in population.columns]
    if missing:
        raise SchemaError(f"population lacks {missing}; build it with population_polygons().")
    for column in ("team", "visits_per_week"):
        if column not in places.columns:
            raise SchemaError(f"places lacks {column!r}; pass the tasked places of a plan.")
    at_places = apportion(places.geometry, population, columns)
    weighted = at_places.mul(places["visits_per_week"].to_numpy(dtype=np.float64), axis=0)
    in_areas = apportion(teams.geometry, population, columns)
    team_of_place = places["team"].to_numpy(dtype=object)
    by_team_places = at_places.groupby(team_of_place).sum()
    by_team_weighted = weighted.groupby(team_of_place).sum()
    rows = []
    names = teams["name"] if "name" in teams.columns else pd.Series(teams.index, teams.index)
    blocks = [(code, names.loc[code]) for code in teams.index] + [("ALL", "All teams")]
    for code, name in blocks:
        if code == "ALL":
            tasked = by_team_places.sum()
            visit_w = by_team_weighted.sum()
            area = in_areas.sum()
        else:
            tasked = by_team_places.loc[code] if code in by_team_places.index else None
            visit_w = by_team_weighted.loc[code] if code in by_team_weighted.index else None
            area = in_areas.loc[code]
        for group in groups:
            area_share = area[group] / area["total"] if area["total"] > 0 else np.nan
            if tasked is None or tasked["total"] <= 0:
                rows.append(
                    {
                        "team": code,
                        "team_name": name,
                        "group": group,
                        "tasked_residents": 0.0,
                        "tasked_share": np.nan,
                        "visit_weighted_share": np.nan,
                        "area_residents": float(area[group]),
                        "area_share": area_share,
                        "ratio": np.nan,
                        "visit_weighted_ratio": np.nan,
                        "flag": "no tasked places" if tasked is None else "no residents",
                    }
                )
                continue
            share = tasked[group] / tasked["total"]
            share_w = visit_w[group] / visit_w["total"] if visit_w["total"] > 0 else np.nan
            ratio = share / area_share if area_share and area_share > 0 else np.nan
            ratio_w = share_w / area_share if area_share and area_share > 0 else np.nan
            flag = ""
            if np.isfinite(ratio):
                flag = "over" if ratio >= OVER else "under" if ratio <= UNDER else ""
            rows.append(
                {
                    "team": code,
                    "team_name": name,
                    "group": group,
                    "tasked_residents": float(tasked[group]),
                    "tasked_share": float(share),
                    "visit_weighted_share": float(share_w),
                    "area_residents": float(area[group]),
                    "area_share": float(area_share),
                    "ratio": float(ratio),
                    "visit_weighted_ratio": float(ratio_w),
                    "flag": flag,
                }
            )
    return pd.DataFrame(rows)
