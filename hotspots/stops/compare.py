"""Stop-and-search disproportionality: groups, rates, outcomes, time, disclosure control.

The steps, each a small function over tidy frames:

1. :func:`classify_searches` maps every data.police.uk search to a broad Census ethnic
   group (self-defined and officer-defined views, :data:`SELF_DEFINED_GROUPS`), a
   harmonised outcome (:data:`OUTCOMES`), an age band and a gender band; strings not in
   the tables raise :class:`~hotspots.core.errors.InputError` or are counted as ``unmapped``;
   nothing is dropped.
2. :func:`count_searches` counts searches, arrests, any-action outcomes and finds per
   view, geography (each borough, the whole force area and the searches with no
   location), group, age/gender band and area filter (inside or outside a hotspot set),
   zeros included: the *cube* every published figure is computed from.
3. :func:`suppress_cells` applies disclosure control to the cube: counts from 1 to
   ``min_count - 1`` are suppressed, then further cells wherever a suppressed count could
   be recovered by subtraction from a published total (:func:`disclosure_equations`).
4. :func:`compare_rates`, :func:`compare_outcomes`, :func:`compare_shares`,
   :func:`compare_harm` turn the cube into published rows: rates with exact or Wilson
   confidence intervals and ratios against White with confidence intervals.
5. :func:`monthly_counts`, :func:`year_on_year`, :func:`context_mix` and
   :func:`check_months` give the time series, the legislation and object-of-search mix
   and the months missing from the input.

Statistics (all two-sided, 95% by default):

* rate per 1,000 residents: exact Poisson interval from the chi-square (gamma) quantiles,
  ``[chi2(a/2, 2k)/2, chi2(1-a/2, 2k+2)/2]`` (Garwood 1936);
* rate ratio against White: exact conditional binomial interval by default (given
  ``k_g + k_w`` searches, ``k_g`` is binomial; Clopper-Pearson limits for its proportion
  ``p`` give ``RR = p / (1 - p) * N_w / N_g``), or the log (Katz) method
  ``exp(log RR +- z sqrt(1/k_g + 1/k_w))`` with ``ratio_method="log"``;
* proportions (arrest, any-action, find, share in hotspots): Wilson score interval;
  ratio of proportions against White: log method,
  ``exp(log RR +- z sqrt(1/a - 1/n + 1/b - 1/m))``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from hotspots.core.errors import SchemaError
from hotspots.stops.classify import (
    _CENSUS_SEX,
    ALL,
    CONFIDENCE,
    DEFAULT_MIN_COUNT,
    FORCE_CODE,
    REFERENCE_GROUP,
    UNLOCATED_CODE,
    UNLOCATED_FILTER,
)
from hotspots.stops.cube import CUBE_KEYS
from hotspots.stops.intervals import poisson_ci, proportion_ratio_ci, rate_ratio_ci, wilson_ci
from hotspots.stops.populations import ETHNIC_GROUPS, Population, PopulationBy

# --- labels ------------------------------------------------------------------------------

# --- 1. ethnic groups --------------------------------------------------------------------


# --- 2. outcomes ---------------------------------------------------------------------------


# --- 3. age and gender -----------------------------------------------------------------------


# --- statistics ------------------------------------------------------------------------------


# --- 2. the cube ---------------------------------------------------------------------------


# --- 3. disclosure control -------------------------------------------------------------------


# --- 4. published rows ------------------------------------------------------------------------
ROW_COLUMNS = (
    "measure",
    "view",
    "group",
    "geography_level",
    "geography_code",
    "geography",
    "breakdown",
    "area_filter",
    "period",
    "months_with_data",
    "numerator",
    "denominator",
    "rate",
    "ci_low",
    "ci_high",
    "rate_unit",
    "ratio",
    "ratio_ci_low",
    "ratio_ci_high",
    "ratio_reference",
    "ci_method",
    "ratio_method",
    "denominator_source",
    "suppressed",
)
"""Columns of ``disparity.csv``, in order."""


@dataclass(frozen=True)
class Context:
    """What every published row states: period, names, sources and the threshold.

    Attributes
    ----------
    period
        ``"YYYY-MM..YYYY-MM"``.
    months_with_data
        Months of the period with any search.
    names
        Area name per geography code (boroughs); the force area and the searches
        without a location are named by ``force_name`` and ``"no location"``.
    force_name
        Name of the whole force area (``"London"``).
    min_count
        Disclosure threshold.
    confidence
        Confidence level of every interval.
    ratio_method
        ``"exact"`` or ``"log"`` for ratios of rates per resident.
    """

    period: str
    months_with_data: int
    names: Mapping[str, str]
    force_name: str = "London"
    min_count: int = DEFAULT_MIN_COUNT
    confidence: float = CONFIDENCE
    ratio_method: str = "exact"


def _keyed(cube: pd.DataFrame) -> pd.DataFrame:
    if "suppressed" not in cube:
        raise SchemaError("the cube has no 'suppressed' column; run suppress_cube first.")
    return cube.set_index(list(CUBE_KEYS))


def _cells(keyed: pd.DataFrame, keys: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Count and suppressed flag of the cube cells named by ``keys`` (NaN/True if absent)."""
    index = pd.MultiIndex.from_frame(keys[list(CUBE_KEYS)])
    found = keyed.reindex(index)
    counts = found["count"].to_numpy(dtype=np.float64)
    hidden = found["suppressed"].fillna(True).to_numpy(dtype=bool)
    return counts, hidden


def _geography_columns(frame: pd.DataFrame, context: Context) -> pd.DataFrame:
    code = frame["geography_code"]
    level = np.where(
        code == FORCE_CODE, "force", np.where(code == UNLOCATED_CODE, "no location", "borough")
    )
    names = code.map(dict(context.names))
    names = names.where(code != FORCE_CODE, context.force_name)
    names = names.where(code != UNLOCATED_CODE, "no location")
    return frame.assign(geography_level=level, geography=names.fillna(code))


def _breakdown(frame: pd.DataFrame) -> pd.Series:
    return pd.Series(
        np.where(
            frame["dimension"] == ALL, ALL, frame["dimension"] + ": " + frame["band"].astype(str)
        ),
        index=frame.index,
    )


def _finish(rows: pd.DataFrame, context: Context) -> pd.DataFrame:
    rows = _geography_columns(rows, context)
    rows["breakdown"] = _breakdown(rows)
    rows["period"] = context.period
    rows["months_with_data"] = context.months_with_data
    hidden = rows["suppressed"].to_numpy(dtype=bool)
    for column in (
        "numerator",
        "rate",
        "ci_low",
        "ci_high",
        "ratio",
        "ratio_ci_low",
        "ratio_ci_high",
    ):
        rows.loc[hidden, column] = np.nan
    if "denominator_is_count" in rows:
        rows.loc[hidden & rows["denominator_is_count"].to_numpy(dtype=bool), "denominator"] = (
            np.nan
        )
    for column in ROW_COLUMNS:
        if column not in rows:
            rows[column] = np.nan if column not in ("ratio_reference", "ratio_method") else ""
    return rows[list(ROW_COLUMNS)].reset_index(drop=True)


def _with_reference(rows: pd.DataFrame, keys: list[str], columns: list[str]) -> pd.DataFrame:
    """Attach the White row's ``columns`` (as ``ref_*``) to every row with the same keys."""
    ref = rows.loc[rows["group"] == REFERENCE_GROUP, [*keys, *columns]]
    ref = ref.rename(columns={c: f"ref_{c}" for c in columns})
    return rows.merge(ref, on=keys, how="left")


def _ratio_applies(rows: pd.DataFrame) -> np.ndarray:
    return rows["group"].isin([g for g in ETHNIC_GROUPS if g != REFERENCE_GROUP]).to_numpy()


def compare_rates(
    cube: pd.DataFrame,
    population: Population,
    *,
    context: Context,
    by_age: PopulationBy | None = None,
    by_sex: PopulationBy | None = None,
) -> pd.DataFrame:
    """Search rates per 1,000 residents by group and area, with ratios against White.

    Parameters
    ----------
    cube
        From :func:`suppress_cube` (``suppressed`` column present).
    population
        Residents per borough and group (:func:`hotspots.stops.populations.read_population`).
    context
        Period, names, threshold and methods stated on every row.
    by_age, by_sex
        Residents by age band / sex and group for the force area (London region); rows by
        age band (gender) get rates where these are given. Gender ``Other`` and bands
        ``not recorded`` have no population: their counts are published without a rate.

    Returns
    -------
    DataFrame
        ``measure = "search_rate"`` rows in :data:`ROW_COLUMNS` layout: numerator
        searches, denominator residents, rate per 1,000 with the exact Poisson interval,
        ratio against White (same view, area and band) with its interval.
    """
    keyed = _keyed(cube)
    select = cube[
        (cube["kind"] == "searches")
        & (cube["area_filter"] == ALL)
        & (cube["geography_code"] != UNLOCATED_CODE)
    ].copy()
    wide = population.by_group()
    force_total = wide.sum()
    pop_lookup: dict[tuple[str, str, str], float] = {}
    for code, row in wide.iterrows():
        for group in (*ETHNIC_GROUPS, "total"):
            pop_lookup[(str(code), group, "")] = float(row[group])
    for group in (*ETHNIC_GROUPS, "total"):
        pop_lookup[(FORCE_CODE, group, "")] = float(force_total[group])
    sources = {ALL: population.source}
    for dimension, table in (("age", by_age), ("gender", by_sex)):
        if table is None:
            continue
        region = table.table[table.table["area_code"] == "E12000007"]
        for _, r in region.iterrows():
            band = r["band"] if dimension == "age" else _CENSUS_SEX.get(r["band"], r["band"])
            pop_lookup[(FORCE_CODE, r["group"], f"{dimension}:{band}")] = float(r["population"])
        for band in region["band"].unique():
            band_rows = region[region["band"] == band]
            key_band = band if dimension == "age" else _CENSUS_SEX.get(band, band)
            pop_lookup[(FORCE_CODE, "total", f"{dimension}:{key_band}")] = float(
                band_rows["population"].sum()
            )
        sources[dimension] = table.source

    def population_of(row: pd.Series) -> float:
        group = "total" if row["group"] == ALL else row["group"]
        band = "" if row["dimension"] == ALL else f"{row['dimension']}:{row['band']}"
        return pop_lookup.get((row["geography_code"], group, band), np.nan)

    select["denominator"] = select.apply(population_of, axis=1)
    select["numerator"] = select["count"].astype(np.float64)
    k, hidden = _cells(keyed, select)
    select["suppressed"] = hidden
    z_low, z_high = poisson_ci(k, confidence=context.confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        select["rate"] = k / select["denominator"] * 1000
        select["ci_low"] = z_low / select["denominator"] * 1000
        select["ci_high"] = z_high / select["denominator"] * 1000
    keys = ["view", "geography_code", "dimension", "band"]
    select = _with_reference(select, keys, ["numerator", "denominator", "suppressed"])
    ratio, low, high = rate_ratio_ci(
        select["numerator"],
        select["denominator"],
        select["ref_numerator"],
        select["ref_denominator"],
        method=context.ratio_method,
        confidence=context.confidence,
    )
    applies = _ratio_applies(select) & ~select["ref_suppressed"].fillna(True).to_numpy(dtype=bool)
    select["ratio"] = np.where(applies, ratio, np.nan)
    select["ratio_ci_low"] = np.where(applies, low, np.nan)
    select["ratio_ci_high"] = np.where(applies, high, np.nan)
    select["ratio_reference"] = np.where(applies, f"{REFERENCE_GROUP} (same area and band)", "")
    select["ratio_method"] = np.where(
        applies,
        "exact conditional binomial (Clopper-Pearson)"
        if context.ratio_method == "exact"
        else "log (Katz)",
        "",
    )
    select["measure"] = "search_rate"
    select["rate_unit"] = "searches per 1,000 residents"
    select["ci_method"] = "exact Poisson (chi-square)"
    select["denominator_source"] = select["dimension"].map(sources).fillna("")
    select.loc[select["denominator"].isna(), "denominator_source"] = "no population for this group"
    select.loc[select["denominator"].isna(), "rate_unit"] = ""
    select.loc[select["denominator"].isna(), "ci_method"] = ""
    select["denominator_is_count"] = False
    return _finish(select, context)


def compare_shares(cube: pd.DataFrame, *, context: Context) -> pd.DataFrame:
    """Share of each area's searches by group (``not stated`` included), Wilson intervals.

    Returns
    -------
    DataFrame
        ``measure = "search_share"`` rows: numerator the group's searches, denominator all
        searches in the area (the no-location searches are an area of their own).
    """
    keyed = _keyed(cube)
    select = cube[
        (cube["kind"] == "searches")
        & (cube["area_filter"] == ALL)
        & (cube["dimension"] == ALL)
        & (cube["group"] != ALL)
    ].copy()
    denominators = select.assign(group=ALL)
    n, n_hidden = _cells(keyed, denominators)
    k, k_hidden = _cells(keyed, select)
    low, high = wilson_ci(k, n, confidence=context.confidence)
    select["numerator"] = k
    select["denominator"] = n
    with np.errstate(divide="ignore", invalid="ignore"):
        select["rate"] = k / n
    select["ci_low"], select["ci_high"] = low, high
    select["suppressed"] = k_hidden | n_hidden
    select["measure"] = "search_share"
    select["rate_unit"] = "share of the area's searches"
    select["ci_method"] = "Wilson score"
    select["denominator_source"] = "searches in the area (all groups)"
    select["denominator_is_count"] = True
    return _finish(select, context)


OUTCOME_MEASURES = {
    "arrest_rate": ("arrests", "searches", "searches of the group"),
    "action_rate": ("actions", "searches", "searches of the group"),
    "find_rate": ("finds", "find_known", "searches of the group with a recorded find flag"),
}
"""Outcome measures: numerator kind, denominator kind, what the denominator is."""


def compare_outcomes(cube: pd.DataFrame, *, context: Context) -> pd.DataFrame:
    """Arrest, any-action and find rates by group and area, ratios against White.

    Every area filter of the cube is included (all searches; inside and outside each
    hotspot set), so find rates inside and outside hotspots come out of the same call.

    Returns
    -------
    DataFrame
        ``measure`` ``arrest_rate``, ``action_rate``, ``find_rate``: proportions with
        Wilson intervals and ratios of proportions against White (log method).
    """
    keyed = _keyed(cube)
    frames = []
    for measure, (kind, denominator_kind, what) in OUTCOME_MEASURES.items():
        select = cube[
            (cube["kind"] == kind)
            & (cube["dimension"] == ALL)
            & (cube["area_filter"] != UNLOCATED_FILTER)
        ].copy()
        k, k_hidden = _cells(keyed, select)
        n, n_hidden = _cells(keyed, select.assign(kind=denominator_kind))
        low, high = wilson_ci(k, n, confidence=context.confidence)
        select["numerator"], select["denominator"] = k, n
        with np.errstate(divide="ignore", invalid="ignore"):
            select["rate"] = np.where(n > 0, k / n, np.nan)
        select["ci_low"], select["ci_high"] = low, high
        select["suppressed"] = k_hidden | n_hidden
        keys = ["view", "geography_code", "area_filter"]
        select = _with_reference(select, keys, ["numerator", "denominator", "suppressed"])
        ratio, rlow, rhigh = proportion_ratio_ci(
            select["numerator"],
            select["denominator"],
            select["ref_numerator"],
            select["ref_denominator"],
            confidence=context.confidence,
        )
        applies = _ratio_applies(select) & ~select["ref_suppressed"].fillna(True).to_numpy(
            dtype=bool
        )
        select["ratio"] = np.where(applies, ratio, np.nan)
        select["ratio_ci_low"] = np.where(applies, rlow, np.nan)
        select["ratio_ci_high"] = np.where(applies, rhigh, np.nan)
        select["ratio_reference"] = np.where(applies, f"{REFERENCE_GROUP} (same area)", "")
        select["ratio_method"] = np.where(applies, "log (Katz) ratio of proportions", "")
        select["measure"] = measure
        select["rate_unit"] = "proportion"
        select["ci_method"] = "Wilson score"
        select["denominator_source"] = what
        select["denominator_is_count"] = True
        frames.append(_finish(select, context))
    return pd.concat(frames, ignore_index=True)


def compare_hotspot_shares(cube: pd.DataFrame, *, context: Context) -> pd.DataFrame:
    """Share of located searches inside each hotspot set, by group and area.

    Returns
    -------
    DataFrame
        ``measure = "hotspot_share"``; ``area_filter`` names the set (``inside <name>``);
        numerator searches inside, denominator searches inside + outside (located);
        Wilson intervals; ratio against White (log method).
    """
    keyed = _keyed(cube)
    inside = cube[
        (cube["kind"] == "searches")
        & cube["area_filter"].str.startswith("inside ")
        & (cube["dimension"] == ALL)
        & (cube["geography_code"] != UNLOCATED_CODE)
    ].copy()
    if inside.empty:
        return pd.DataFrame(columns=list(ROW_COLUMNS))
    k, k_hidden = _cells(keyed, inside)
    outside_keys = inside.assign(area_filter="outside " + inside["area_filter"].str[7:])
    m, m_hidden = _cells(keyed, outside_keys)
    n = k + m
    low, high = wilson_ci(k, n, confidence=context.confidence)
    inside["numerator"], inside["denominator"] = k, n
    with np.errstate(divide="ignore", invalid="ignore"):
        inside["rate"] = np.where(n > 0, k / n, np.nan)
    inside["ci_low"], inside["ci_high"] = low, high
    inside["suppressed"] = k_hidden | m_hidden
    keys = ["view", "geography_code", "area_filter"]
    inside = _with_reference(inside, keys, ["numerator", "denominator", "suppressed"])
    ratio, rlow, rhigh = proportion_ratio_ci(
        inside["numerator"],
        inside["denominator"],
        inside["ref_numerator"],
        inside["ref_denominator"],
        confidence=context.confidence,
    )
    applies = _ratio_applies(inside) & ~inside["ref_suppressed"].fillna(True).to_numpy(dtype=bool)
    inside["ratio"] = np.where(applies, ratio, np.nan)
    inside["ratio_ci_low"] = np.where(applies, rlow, np.nan)
    inside["ratio_ci_high"] = np.where(applies, rhigh, np.nan)
    inside["ratio_reference"] = np.where(applies, f"{REFERENCE_GROUP} (same area)", "")
    inside["ratio_method"] = np.where(applies, "log (Katz) ratio of proportions", "")
    inside["measure"] = "hotspot_share"
    inside["rate_unit"] = "share of located searches"
    inside["ci_method"] = "Wilson score"
    inside["denominator_source"] = "searches with a location (inside + outside)"
    inside["denominator_is_count"] = True
    return _finish(inside, context)


def compare_harm(
    cube: pd.DataFrame, harm: pd.DataFrame, *, context: Context, harm_label: str
) -> pd.DataFrame:
    """Compute searches per 1,000 units of harm, by group and area, inside and outside hotspots.

    Parameters
    ----------
    cube
        The suppressed cube.
    harm
        Columns ``geography_code`` (areas and ``"all"``), ``area_filter`` (``"all"``,
        ``"inside <name>"``, ``"outside <name>"``) and ``harm``.
    context
        Stated on every row.
    harm_label
        What the harm is (e.g. ``"violence, CCHI days, MPS LSOA counts 2023-09..2024-08"``).

    Returns
    -------
    DataFrame
        ``measure = "searches_per_harm"`` rows, rate per 1,000 harm units with the exact
        Poisson interval of the searches (harm taken as fixed). No ratio.
    """
    keyed = _keyed(cube)
    select = cube[
        (cube["kind"] == "searches")
        & (cube["dimension"] == ALL)
        & (cube["view"] == "self")
        & (cube["geography_code"] != UNLOCATED_CODE)
        & (cube["area_filter"] != UNLOCATED_FILTER)
    ].copy()
    lookup = harm.set_index(["geography_code", "area_filter"])["harm"]
    index = pd.MultiIndex.from_frame(select[["geography_code", "area_filter"]])
    select["denominator"] = lookup.reindex(index).to_numpy(dtype=np.float64)
    select = select[select["denominator"].notna()]
    k, hidden = _cells(keyed, select)
    low, high = poisson_ci(k, confidence=context.confidence)
    d = select["denominator"].to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        select["rate"] = np.where(d > 0, k / d * 1000, np.nan)
        select["ci_low"] = np.where(d > 0, low / d * 1000, np.nan)
        select["ci_high"] = np.where(d > 0, high / d * 1000, np.nan)
    select["numerator"] = k
    select["suppressed"] = hidden
    select["measure"] = "searches_per_harm"
    select["rate_unit"] = "searches per 1,000 harm units"
    select["ci_method"] = "exact Poisson (chi-square), harm fixed"
    select["denominator_source"] = harm_label
    select["denominator_is_count"] = False
    return _finish(select, context)


# --- 5. time and context ---------------------------------------------------------------------
