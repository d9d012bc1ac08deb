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
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from hotspots.core import schema
from hotspots.core.errors import InputError
from hotspots.task.patrol import (
    DEFAULT_DECAY,
    DEFAULT_MAX_PLACES,
    Allocation,
    Dosage,
    allocate_patrols,
    share_budget,
)
from hotspots.task.places import (
    DEFAULT_DETOUR,
    DEFAULT_MAX_CANDIDATES,
    WALK_M_PER_MIN,
    candidate_places,
    walk_from_bases,
)
from hotspots.task.timewindows import PlaceTimes, windows_for_places

DEFAULT_MIN_COUNT = 5

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


# ---------------------------------------------------------------------------
# candidate places


# ---------------------------------------------------------------------------
# bases


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
    from hotspots.core.disclosure import suppress

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


# ---------------------------------------------------------------------------
# map


# ---------------------------------------------------------------------------
# reading inputs and writing files
