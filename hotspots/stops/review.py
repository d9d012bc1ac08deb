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
2. classify them (:mod:`hotspots.stops.compare`): Census groups in two views, harmonised
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

import math
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from hotspots.core import schema
from hotspots.core.errors import InputError, SchemaError
from hotspots.stops.classify import (
    ACTION_OUTCOMES,
    ALL,
    COMBINED_VIEW,
    CONFIDENCE,
    DEFAULT_MIN_COUNT,
    FORCE_CODE,
    NOT_RECORDED,
    NOT_STATED,
    NOT_STATED_AS_BLACK,
    NOT_STATED_AS_WHITE,
    REFERENCE_GROUP,
    SENSITIVITY_VIEWS,
    UNLOCATED_CODE,
    UNMAPPED,
    classify_searches,
)
from hotspots.stops.compare import (
    Context,
    compare_harm,
    compare_hotspot_shares,
    compare_outcomes,
    compare_rates,
    compare_shares,
)
from hotspots.stops.cube import CUBE_KEYS, count_searches, sensitivity_cube, suppress_cube
from hotspots.stops.hotspot_share import (
    BUNDLED,
    DEFAULT_TOP_SHARE,
    HarmAreas,
    _harm_table,
    _membership,
    detect_hotspots_from,
    violence_hotspots,
)
from hotspots.stops.local_rates import lsoa_search_rates
from hotspots.stops.populations import (
    ETHNIC_GROUPS,
    Population,
    read_population,
    read_population_by,
)
from hotspots.stops.timeline import (
    MonthCheck,
    check_months,
    context_mix,
    monthly_counts,
    year_on_year,
)

GROUP_COLOURS = {
    "Asian": "#E69F00",
    "Black": "#0072B2",
    "Mixed": "#009E73",
    "White": "#D55E00",
    "Other": "#CC79A7",
    NOT_STATED: "#999999",
    ALL: "#000000",
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


# ---------------------------------------------------------------------------
# 1. reading


# ---------------------------------------------------------------------------
# 2. hotspot sets


# ---------------------------------------------------------------------------
# 3. LSOA rates for the map


# ---------------------------------------------------------------------------
# 4. the review


@dataclass(frozen=True)
class StopsReview:
    """Everything the review found, as tidy frames and plain values.

    Attributes
    ----------
    disparity
        Every published row (:data:`hotspots.stops.compare.ROW_COLUMNS`).
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
    months: MonthCheck
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
        geography_code: str = FORCE_CODE,
        breakdown: str = ALL,
        area_filter: str | None = ALL,
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
        & (cube["geography_code"] == FORCE_CODE)
        & (cube["dimension"] == ALL)
    ]
    return sel.set_index(["area_filter", "group"])["count"]


def _quality(
    cube: pd.DataFrame, context: pd.DataFrame, searches: pd.DataFrame, *, min_count: int
) -> pd.DataFrame:
    """Missing-data shares for the whole force area, from published cells."""
    keyed = cube.set_index(list(CUBE_KEYS))

    def cell(kind, view, geo, group, dimension=ALL, band="", area_filter=ALL):  # type: ignore[no-untyped-def]
        row = keyed.loc[(kind, view, geo, group, dimension, band, area_filter)]
        return float(row["count"]), bool(row["suppressed"])

    total, _ = cell("searches", "self", FORCE_CODE, ALL)
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
        *cell("searches", "self", UNLOCATED_CODE, ALL),
        "published without coordinates",
    )
    add(
        "self-defined ethnicity not stated or blank",
        *cell("searches", "self", FORCE_CODE, NOT_STATED),
        "'Other ethnic group - Not stated', 'Not Stated (NS)' or blank",
    )
    add(
        "officer-defined ethnicity blank",
        *cell("searches", "officer", FORCE_CODE, NOT_STATED),
        "",
    )
    for dimension, label in (("age", "age range"), ("gender", "gender")):
        add(
            f"{label} not recorded",
            *cell("searches", "self", FORCE_CODE, ALL, dimension, NOT_RECORDED),
            "",
        )
    outcome = context[(context["field"] == "outcome") & (context["group"] == ALL)]
    blank = outcome[outcome["value"] == NOT_RECORDED]
    if not blank.empty:
        add(
            "outcome blank",
            float(blank["searches"].iloc[0]) if not blank["suppressed"].iloc[0] else 0.0,
            bool(blank["suppressed"].iloc[0]),
            "",
        )
    known, known_hidden = cell("find_known", "self", FORCE_CODE, ALL)
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
        & (cube["geography_code"] == FORCE_CODE)
        & (cube["group"] == ALL)
        & (cube["dimension"] == ALL)
        & (cube["area_filter"] == ALL)
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
    months: MonthCheck,
    find_status: str,
    quality: pd.DataFrame,
) -> dict[str, object]:
    def row(measure, group, **filters):  # type: ignore[no-untyped-def]
        rows = disparity[
            (disparity["measure"] == measure)
            & (disparity["group"] == group)
            & (disparity["view"] == filters.get("view", "self"))
            & (disparity["geography_code"] == filters.get("geography_code", FORCE_CODE))
            & (disparity["breakdown"] == ALL)
            & (disparity["area_filter"] == filters.get("area_filter", ALL))
        ]
        return rows.iloc[0] if len(rows) else None

    def plain(value: object) -> object:
        if value is None:
            return None
        number = float(value)  # type: ignore[arg-type]
        return None if math.isnan(number) else number

    headline: dict[str, object] = {}
    for view in ("self", "officer", *SENSITIVITY_VIEWS):
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
            for group in (*ETHNIC_GROUPS, ALL)
            if (r := row(measure, group)) is not None
        }
    headline["outcomes_self_defined"] = outcomes
    headline["not_stated_sensitivity"] = _sensitivity(row, plain)
    headline["find_flag"] = find_status
    headline["hotspots"] = sets.to_dict(orient="records")
    headline["missing_months"] = months.missing_ranges()
    headline["short_months"] = list(months.short)
    headline["months_with_data"] = f"{months.present} of {len(months.expected)}"
    not_stated = row("search_share", NOT_STATED)
    headline["share_self_defined_not_stated"] = (
        plain(not_stated["rate"]) if not_stated is not None else None
    )
    no_location = quality[quality["field"].str.startswith("no location")]
    headline["share_without_location"] = (
        plain(no_location["share"].iloc[0]) if len(no_location) else None
    )
    return headline


def _sensitivity(row, plain) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """Black/White ratios of the self-defined, combined and bound views, and the bias direction."""
    out: dict[str, object] = {}
    for measure in ("search_rate", "arrest_rate", "action_rate"):
        entry: dict[str, object] = {}
        for view in ("self", *SENSITIVITY_VIEWS):
            black, white = row(measure, "Black", view=view), row(measure, "White", view=view)
            if black is None or white is None:
                continue
            entry[view] = {
                "ratio": plain(black["ratio"]),
                "ci_low": plain(black["ratio_ci_low"]),
                "ci_high": plain(black["ratio_ci_high"]),
                "black_rate": plain(black["rate"]),
                "white_rate": plain(white["rate"]),
                "black_numerator": plain(black["numerator"]),
                "white_numerator": plain(white["numerator"]),
            }
        own = (entry.get("self") or {}).get("ratio")
        combined = (entry.get(COMBINED_VIEW) or {}).get("ratio")
        if own is not None and combined is not None:
            entry["self_defined_bias"] = (
                "understates" if own < combined else "overstates" if own > combined else "equals"
            )
        out[measure] = entry
    not_stated = row("search_share", NOT_STATED)
    out["not_stated_searches"] = plain(not_stated["numerator"]) if not_stated is not None else None
    for group in ("Black", "White", "Asian", "Other"):
        moved = row("search_rate", group, view=COMBINED_VIEW)
        own = row("search_rate", group)
        if moved is not None and own is not None:
            a, b = plain(moved["numerator"]), plain(own["numerator"])
            out[f"not_stated_officer_{group.lower()}"] = None if a is None or b is None else a - b
    action = row("action_rate", NOT_STATED)
    out["not_stated_action_rate"] = plain(action["rate"]) if action is not None else None
    return out


def review_stops(
    searches: pd.DataFrame,
    *,
    population: str | Path | Population = "census2021",
    months: tuple[str, str] | None = None,
    hotspots: str | Path | None = None,
    violence: str | Path | None = BUNDLED,
    min_count: int = DEFAULT_MIN_COUNT,
    confidence: float = CONFIDENCE,
    ratio_method: str = "exact",
    top_share: float = DEFAULT_TOP_SHARE,
    unknown: str = UNMAPPED,
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
    month_check = check_months(frame[schema.MONTH], period=months)
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
    classified = classify_searches(frame, unknown=unknown)
    boroughs = london_boroughs()
    geographies = list(boroughs.codes)
    unknown_codes = sorted(
        set(classified.searches["geography_code"]) - set(geographies) - {UNLOCATED_CODE}
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

    cube = count_searches(classified, geographies=geographies, area_filters=filters)
    cube = suppress_cube(cube, min_count=min_count)
    cube = pd.concat(
        [cube, sensitivity_cube(classified, cube, min_count=min_count)], ignore_index=True
    )
    context = Context(
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
            monthly_counts(classified, months=month_check, cube=cube, view=v, min_count=min_count)
            for v in ("self", "officer")
        ],
        ignore_index=True,
    )
    parts = [
        compare_rates(cube, pop, context=context, by_age=by_age, by_sex=by_sex),
        compare_shares(cube, context=context),
        compare_outcomes(cube, context=context),
        compare_hotspot_shares(cube, context=context),
    ]
    for source in harm_sources:
        parts.append(
            _relabel(
                compare_harm(
                    cube[
                        cube["area_filter"].isin(
                            [ALL]
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
    parts.append(year_on_year(_without_short(monthly), context=context, min_count=min_count))
    disparity = _label_sensitivity(pd.concat([p for p in parts if len(p)], ignore_index=True))

    mix = context_mix(classified, cube=cube, min_count=min_count)
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
            inside = counts.get((f"inside {s.name}", ALL), np.nan)
            outside = counts.get((f"outside {s.name}", ALL), np.nan)
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
        "reference_group": REFERENCE_GROUP,
        "force_name": force_name,
        "unknown_area_codes": unknown_codes,
        "find_flag": find_status,
        "action_outcomes": list(ACTION_OUTCOMES),
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


SENSITIVITY_NOTES = {
    COMBINED_VIEW: "sensitivity: self-defined group where stated, officer-defined otherwise",
    NOT_STATED_AS_WHITE: "sensitivity bound: every not-stated search counted as White",
    NOT_STATED_AS_BLACK: "sensitivity bound: every not-stated search counted as Black",
}
"""What each not-stated sensitivity view is, stated on its rows (``denominator_source``)."""


def _label_sensitivity(disparity: pd.DataFrame) -> pd.DataFrame:
    """State the sensitivity scenario on every row of the sensitivity views."""
    out = disparity.copy()
    for view, note in SENSITIVITY_NOTES.items():
        chosen = out["view"] == view
        out.loc[chosen, "denominator_source"] = (
            out.loc[chosen, "denominator_source"].fillna("").astype(str) + "; " + note
        ).str.lstrip("; ")
    return out


def _relabel(rows: pd.DataFrame, measure: str) -> pd.DataFrame:
    return rows.assign(measure=measure)


def _without_short(monthly: pd.DataFrame) -> pd.DataFrame:
    """Short (probably incomplete) months are left out of year-on-year comparisons."""
    return monthly.assign(searches=monthly["searches"].where(~monthly["short_month"]))


# ---------------------------------------------------------------------------
# 5. figures, map and report


# ---------------------------------------------------------------------------
# 6. files
