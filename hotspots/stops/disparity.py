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

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats as sps

from hotspots.core import schema
from hotspots.core.errors import InputError, SchemaError
from hotspots.stops.populations import ETHNIC_GROUPS, Population, PopulationBy

# --- labels ------------------------------------------------------------------------------
ALL = "all"
NOT_STATED = "not stated"
UNMAPPED = "unmapped"
NOT_RECORDED = "not recorded"
REFERENCE_GROUP = "White"
FORCE_CODE = "all"
"""Geography code of the whole force area (London for the Met)."""
UNLOCATED_CODE = "none"
"""Geography code of the searches published without a location."""
UNLOCATED_FILTER = "no location"
VIEWS = {"self": schema.SELF_ETHNICITY, "officer": schema.OFFICER_ETHNICITY}
VIEW_LABELS = {"self": "self-defined", "officer": "officer-defined"}
GROUP_ORDER = (ALL, *ETHNIC_GROUPS, NOT_STATED, UNMAPPED)
KINDS = ("searches", "arrests", "actions", "finds", "find_known")
DEFAULT_MIN_COUNT = 5
CONFIDENCE = 0.95

# --- 1. ethnic groups --------------------------------------------------------------------
SELF_DEFINED_GROUPS: dict[str, str] = {
    # 2011 Census classification (data.police.uk from 2017-04; Arab, Gypsy from 2024-02)
    "Asian/Asian British - Bangladeshi": "Asian",
    "Asian/Asian British - Chinese": "Asian",
    "Asian/Asian British - Indian": "Asian",
    "Asian/Asian British - Pakistani": "Asian",
    "Asian/Asian British - Any other Asian background": "Asian",
    "Black/African/Caribbean/Black British - African": "Black",
    "Black/African/Caribbean/Black British - Caribbean": "Black",
    "Black/African/Caribbean/Black British - Any other Black/African/Caribbean background": "Black",
    "Mixed/Multiple ethnic groups - White and Asian": "Mixed",
    "Mixed/Multiple ethnic groups - White and Black African": "Mixed",
    "Mixed/Multiple ethnic groups - White and Black Caribbean": "Mixed",
    "Mixed/Multiple ethnic groups - Any other Mixed/Multiple ethnic background": "Mixed",
    "White - English/Welsh/Scottish/Northern Irish/British": "White",
    "White - Irish": "White",
    "White - Gypsy or Irish Traveller": "White",
    "White - Any other White background": "White",
    "Other ethnic group - Arab": "Other",
    "Other ethnic group - Any other ethnic group": "Other",
    "Other ethnic group - Not stated": NOT_STATED,
    # 2001 Census codes (data.police.uk until 2017-03)
    "White - White British (W1)": "White",
    "White - White Irish (W2)": "White",
    "White - Any other White ethnic background (W9)": "White",
    "Mixed - White and Black Caribbean (M1)": "Mixed",
    "Mixed - White and Black African (M2)": "Mixed",
    "Mixed - White and Asian (M3)": "Mixed",
    "Mixed - Any other Mixed ethnic background (M9)": "Mixed",
    "Asian or Asian British - Indian (A1)": "Asian",
    "Asian or Asian British - Pakistani (A2)": "Asian",
    "Asian or Asian British - Bangladeshi (A3)": "Asian",
    "Asian or Asian British - Any other Asian ethnic background (A9)": "Asian",
    "Black or Black British - Caribbean (B1)": "Black",
    "Black or Black British - African (B2)": "Black",
    "Black or Black British - Any other Black ethnic background (B9)": "Black",
    "Chinese or other ethnic group - Chinese (O1)": "Asian",
    "Chinese or other ethnic group - Any other ethnic group (O9)": "Other",
    "Not Stated (NS)": NOT_STATED,
    "": NOT_STATED,
}
"""data.police.uk self-defined ethnicity -> broad Census group (or ``not stated``).

Chinese is Asian and Arab is Other, as in the 2011 and 2021 Censuses (the 2001 codes put
Chinese with "Chinese or other"); a blank cell is ``not stated``.
"""

OFFICER_DEFINED_GROUPS: dict[str, str] = {
    "Asian": "Asian",
    "Black": "Black",
    "White": "White",
    "Other": "Other",
    "": NOT_STATED,
}
"""data.police.uk officer-defined ethnicity -> broad Census group.

Officers choose from four groups only; there is no Mixed, so residents of Mixed ethnicity
have no officer-defined counterpart.
"""

_MAPPINGS = {"self": SELF_DEFINED_GROUPS, "officer": OFFICER_DEFINED_GROUPS}

# --- 2. outcomes ---------------------------------------------------------------------------
OUTCOMES: dict[str, str] = {
    "Arrest": "arrest",
    "Suspect arrested": "arrest",
    "Summons / charged by post": "summons or charged by post",
    "Suspect summonsed to court": "summons or charged by post",
    "Caution (simple or conditional)": "caution",
    "Offender cautioned": "caution",
    "Community resolution": "community resolution",
    "Local resolution": "community resolution",
    "Penalty Notice for Disorder": "penalty notice",
    "Offender given penalty notice": "penalty notice",
    "Khat or Cannabis warning": "drugs possession warning",
    "Offender given drugs possession warning": "drugs possession warning",
    "Article found - Detailed outcome unavailable": "article found, outcome unavailable",
    "Suspected psychoactive substances seized - No further action": (
        "psychoactive substances seized, no further action"
    ),
    "A no further action disposal": "no further action",
    "Nothing found - no further action": "no further action",
    "": NOT_RECORDED,
}
"""data.police.uk outcome labels (2015-2024) -> harmonised outcome.

The labels changed in 2018-01 (``Suspect arrested`` -> ``Arrest``, ``Nothing found - no
further action`` -> ``A no further action disposal``, ...).
"""

ACTION_OUTCOMES = (
    "arrest",
    "summons or charged by post",
    "caution",
    "community resolution",
    "penalty notice",
    "drugs possession warning",
    "article found, outcome unavailable",
)
"""Harmonised outcomes that count as *any action*: everything except no further action
(including psychoactive substances seized with no further action) and a blank outcome."""

ARREST_OUTCOMES = ("arrest",)

# --- 3. age and gender -----------------------------------------------------------------------
AGE_BANDS = ("under 10", "10-17", "18-24", "25-34", "over 34")
GENDER_BANDS = ("Male", "Female", "Other")
BAND_VALUES = {"age": (*AGE_BANDS, NOT_RECORDED), "gender": (*GENDER_BANDS, NOT_RECORDED)}
_CENSUS_SEX = {"Male": "Male", "Female": "Female"}


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", str(text)).strip().casefold()


def ethnicity_mapping(view: str = "self") -> pd.DataFrame:
    """Return the mapping table of one view: ``ethnicity`` (as published) -> ``group``.

    Parameters
    ----------
    view
        ``"self"`` (self-defined) or ``"officer"`` (officer-defined).
    """
    _check_view(view)
    mapping = _MAPPINGS[view]
    return pd.DataFrame({"ethnicity": list(mapping), "group": list(mapping.values())}).sort_values(
        ["group", "ethnicity"], ignore_index=True
    )


def outcome_mapping() -> pd.DataFrame:
    """Return the outcome harmonisation table with the arrest and any-action flags."""
    table = pd.DataFrame({"outcome": list(OUTCOMES), "harmonised": list(OUTCOMES.values())})
    table["is_arrest"] = table["harmonised"].isin(ARREST_OUTCOMES)
    table["is_action"] = table["harmonised"].isin(ACTION_OUTCOMES)
    return table.sort_values(["harmonised", "outcome"], ignore_index=True)


def _check_view(view: str) -> None:
    if view not in VIEWS:
        raise InputError(f"view {view!r} must be one of {', '.join(VIEWS)}.")


def _lookup(values: pd.Series, mapping: Mapping[str, str], *, what: str, unknown: str) -> tuple:
    """Map strings through ``mapping`` (whitespace and case insensitive)."""
    if unknown not in ("raise", UNMAPPED):
        raise InputError(f"unknown={unknown!r} must be 'raise' or {UNMAPPED!r}.")
    keyed = {_norm(k): v for k, v in mapping.items()}
    text = values.fillna("").astype(str)
    distinct = pd.Index(text.unique())
    mapped = pd.Series([keyed.get(_norm(s)) for s in distinct], index=distinct, dtype=object)
    missing = mapped[mapped.isna()].index
    counts: dict[str, int] = {}
    if len(missing):
        counts = text[text.isin(missing)].value_counts().sort_index().to_dict()
        if unknown == "raise":
            shown = "; ".join(f"{s!r} ({n:,} rows)" for s, n in list(counts.items())[:5])
            raise InputError(
                f"{len(counts)} {what} value(s) are not in the mapping table: {shown}. "
                f"Add them to the table, or pass unknown={UNMAPPED!r} to count them as "
                f"{UNMAPPED!r}."
            )
        mapped[missing] = UNMAPPED
    return text.map(mapped).astype(object), {str(k): int(v) for k, v in counts.items()}


def ethnic_groups(
    values: pd.Series | Sequence[str], *, view: str = "self", unknown: str = "raise"
) -> pd.Series:
    """Map published ethnicity strings to broad Census groups.

    Parameters
    ----------
    values
        ``self_defined_ethnicity`` or ``officer_defined_ethnicity`` strings.
    view
        ``"self"`` or ``"officer"``: which mapping table to use.
    unknown
        ``"raise"`` (default): a string not in the table raises :class:`InputError`
        listing it; ``"unmapped"``: it becomes the group ``"unmapped"``.

    Returns
    -------
    Series
        One of :data:`~hotspots.stops.populations.ETHNIC_GROUPS`, ``"not stated"`` or
        ``"unmapped"`` per value, same index.
    """
    _check_view(view)
    series = values if isinstance(values, pd.Series) else pd.Series(list(values), dtype=object)
    mapped, _ = _lookup(series, _MAPPINGS[view], what=f"{view}-defined ethnicity", unknown=unknown)
    return mapped


def harmonise_outcomes(values: pd.Series | Sequence[str], *, unknown: str = "raise") -> pd.Series:
    """Map data.police.uk outcome labels of any year to the harmonised outcomes.

    Parameters
    ----------
    values
        ``outcome`` strings.
    unknown
        ``"raise"`` or ``"unmapped"`` (see :func:`ethnic_groups`).
    """
    series = values if isinstance(values, pd.Series) else pd.Series(list(values), dtype=object)
    mapped, _ = _lookup(series, OUTCOMES, what="outcome", unknown=unknown)
    return mapped


@dataclass(frozen=True)
class ClassifiedSearches:
    """Searches with their groups, outcome flags and bands.

    Attributes
    ----------
    searches
        The input rows (index kept) plus ``group_self``, ``group_officer``,
        ``outcome_harmonised``, ``is_arrest``, ``is_action``, ``find`` (True, False or
        NA when not recorded), ``age_band``, ``gender_band`` and ``geography_code`` (the
        borough code, or ``"none"`` for searches without a location).
    unmapped
        Strings not in the mapping tables, with row counts, per field.
    """

    searches: pd.DataFrame
    unmapped: dict[str, dict[str, int]] = field(default_factory=dict)


def classify_searches(searches: pd.DataFrame, *, unknown: str = "raise") -> ClassifiedSearches:
    """Add groups, harmonised outcomes and bands to stop-and-search rows.

    Parameters
    ----------
    searches
        Stop-and-search rows from :func:`hotspots.read_searches` or the store.
    unknown
        What to do with ethnicity or outcome strings not in the tables: ``"raise"`` or
        ``"unmapped"`` (counted, listed in ``ClassifiedSearches.unmapped``).

    Returns
    -------
    ClassifiedSearches
        A new frame (the input is not changed) and the unmapped strings.
    """
    schema.require_columns(
        searches,
        [
            schema.MONTH,
            schema.SELF_ETHNICITY,
            schema.OFFICER_ETHNICITY,
            schema.OUTCOME,
            schema.OUTCOME_LINKED,
            schema.AGE_RANGE,
            schema.GENDER,
            schema.BOROUGH_CODE,
        ],
        name="searches",
    )
    out = pd.DataFrame(index=searches.index)
    unmapped: dict[str, dict[str, int]] = {}
    for view, column in VIEWS.items():
        mapped, counts = _lookup(
            searches[column], _MAPPINGS[view], what=f"{view}-defined ethnicity", unknown=unknown
        )
        out[f"group_{view}"] = mapped.to_numpy()
        if counts:
            unmapped[column] = counts
    outcome, counts = _lookup(searches[schema.OUTCOME], OUTCOMES, what="outcome", unknown=unknown)
    if counts:
        unmapped[schema.OUTCOME] = counts
    out["outcome_harmonised"] = outcome.to_numpy()
    out["is_arrest"] = out["outcome_harmonised"].isin(ARREST_OUTCOMES)
    out["is_action"] = out["outcome_harmonised"].isin(ACTION_OUTCOMES)
    linked = searches[schema.OUTCOME_LINKED]
    out["find"] = pd.array(
        [None if v is None or (isinstance(v, float) and np.isnan(v)) else bool(v) for v in linked],
        dtype="boolean",
    )
    age = searches[schema.AGE_RANGE].fillna("").astype(str).str.strip()
    out["age_band"] = age.where(age.isin(AGE_BANDS), NOT_RECORDED).to_numpy()
    unknown_age = sorted(set(age[~age.isin(AGE_BANDS) & age.ne("")]))
    gender = searches[schema.GENDER].fillna("").astype(str).str.strip()
    out["gender_band"] = gender.where(gender.isin(GENDER_BANDS), NOT_RECORDED).to_numpy()
    unknown_gender = sorted(set(gender[~gender.isin(GENDER_BANDS) & gender.ne("")]))
    for name, values in (("age_range", unknown_age), ("gender", unknown_gender)):
        if values:
            unmapped[name] = {
                v: int(n)
                for v, n in (age if name == "age_range" else gender)
                .value_counts()
                .loc[values]
                .items()
            }
    borough = searches[schema.BOROUGH_CODE]
    out["geography_code"] = borough.where(borough.notna(), UNLOCATED_CODE).astype(str).to_numpy()
    combined = searches.join(out)
    return ClassifiedSearches(searches=combined, unmapped=unmapped)


# --- statistics ------------------------------------------------------------------------------


def _z(confidence: float) -> float:
    if not 0 < confidence < 1:
        raise InputError(f"confidence {confidence} must be between 0 and 1.")
    return float(sps.norm.ppf(0.5 + confidence / 2))


def _plain(*arrays: np.ndarray) -> tuple:
    """Give scalars back as floats (numpy returns 0-d arrays for scalar inputs)."""
    return tuple(float(a) if np.ndim(a) == 0 else a for a in arrays)


def poisson_ci(
    count: float | np.ndarray, *, confidence: float = CONFIDENCE
) -> tuple[np.ndarray, np.ndarray]:
    """Exact (Garwood) confidence interval for a Poisson count.

    ``low = chi2.ppf(a/2, 2k) / 2`` (0 when ``k = 0``) and
    ``high = chi2.ppf(1 - a/2, 2k + 2) / 2``, with ``a = 1 - confidence``.

    Parameters
    ----------
    count
        Observed counts (>= 0).
    confidence
        Two-sided confidence level.

    Returns
    -------
    tuple of arrays
        Lower and upper limits for the expected count.
    """
    k = np.asarray(count, dtype=np.float64)
    alpha = 1 - confidence
    _z(confidence)
    with np.errstate(invalid="ignore"):
        low = np.where(k > 0, sps.chi2.ppf(alpha / 2, 2 * k) / 2, 0.0)
        high = sps.chi2.ppf(1 - alpha / 2, 2 * k + 2) / 2
    low = np.where(np.isnan(k), np.nan, low)
    return _plain(low, np.where(np.isnan(k), np.nan, high))


def wilson_ci(
    successes: float | np.ndarray, trials: float | np.ndarray, *, confidence: float = CONFIDENCE
) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for a proportion (NaN where there are no trials)."""
    k = np.asarray(successes, dtype=np.float64)
    n = np.asarray(trials, dtype=np.float64)
    z = _z(confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / n
        denom = 1 + z**2 / n
        centre = (p + z**2 / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denom
        low = np.where(n > 0, np.clip(centre - half, 0, 1), np.nan)
        high = np.where(n > 0, np.clip(centre + half, 0, 1), np.nan)
    return _plain(low, high)


RATIO_METHODS = ("exact", "log")


def rate_ratio_ci(
    count: float | np.ndarray,
    exposure: float | np.ndarray,
    ref_count: float | np.ndarray,
    ref_exposure: float | np.ndarray,
    *,
    method: str = "exact",
    confidence: float = CONFIDENCE,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ratio of two Poisson rates with a confidence interval.

    Parameters
    ----------
    count, exposure
        Events and person-count (e.g. residents) of the group compared.
    ref_count, ref_exposure
        The same for the reference group (White).
    method
        ``"exact"``: conditional binomial (Clopper-Pearson limits for
        ``p = count / (count + ref_count)``, mapped to ``p / (1 - p) * ref_exposure /
        exposure``); ``"log"``: Katz log method ``exp(log RR +- z sqrt(1/k + 1/k_ref))``,
        undefined (NaN) when either count is 0.
    confidence
        Two-sided confidence level.

    Returns
    -------
    tuple of arrays
        Ratio, lower and upper limit (NaN where undefined).
    """
    if method not in RATIO_METHODS:
        raise InputError(f"ratio method {method!r} must be one of {', '.join(RATIO_METHODS)}.")
    a = np.asarray(count, dtype=np.float64)
    na = np.asarray(exposure, dtype=np.float64)
    b = np.asarray(ref_count, dtype=np.float64)
    nb = np.asarray(ref_exposure, dtype=np.float64)
    alpha = 1 - confidence
    z = _z(confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = (a / na) / (b / nb)
        valid = (na > 0) & (nb > 0) & (b > 0)
        ratio = np.where(valid, ratio, np.nan)
        if method == "log":
            se = np.sqrt(1 / a + 1 / b)
            ok = valid & (a > 0)
            low = np.where(ok, np.exp(np.log(ratio) - z * se), np.nan)
            high = np.where(ok, np.exp(np.log(ratio) + z * se), np.nan)
            return _plain(ratio, low, high)
        n = a + b
        p_low = np.where(a > 0, sps.beta.ppf(alpha / 2, a, n - a + 1), 0.0)
        p_high = np.where(a < n, sps.beta.ppf(1 - alpha / 2, a + 1, n - a), 1.0)
        scale = nb / na
        low = np.where(valid, p_low / (1 - p_low) * scale, np.nan)
        high = np.where(valid, np.where(p_high < 1, p_high / (1 - p_high) * scale, np.inf), np.nan)
    return _plain(ratio, low, high)


def proportion_ratio_ci(
    successes: float | np.ndarray,
    trials: float | np.ndarray,
    ref_successes: float | np.ndarray,
    ref_trials: float | np.ndarray,
    *,
    confidence: float = CONFIDENCE,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ratio of two proportions (risk ratio) with a log-method (Katz) confidence interval.

    ``exp(log RR +- z sqrt(1/a - 1/n + 1/b - 1/m))``; NaN when a count or a trial total is
    zero.
    """
    a = np.asarray(successes, dtype=np.float64)
    n = np.asarray(trials, dtype=np.float64)
    b = np.asarray(ref_successes, dtype=np.float64)
    m = np.asarray(ref_trials, dtype=np.float64)
    z = _z(confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        valid = (n > 0) & (m > 0) & (b > 0)
        ratio = np.where(valid, (a / n) / (b / m), np.nan)
        se = np.sqrt(1 / a - 1 / n + 1 / b - 1 / m)
        ok = valid & (a > 0)
        low = np.where(ok, np.exp(np.log(ratio) - z * se), np.nan)
        high = np.where(ok, np.exp(np.log(ratio) + z * se), np.nan)
    return _plain(ratio, low, high)


def smooth_rates(
    counts: np.ndarray | pd.Series, populations: np.ndarray | pd.Series
) -> np.ndarray:
    """Marshall's global empirical-Bayes estimate of each area's rate (per person).

    With ``r_i = y_i / n_i``, ``m = sum(y) / sum(n)`` and
    ``s2 = sum(n_i (r_i - m)^2) / sum(n) - m / mean(n)`` (set to 0 if negative), each
    rate is shrunk towards ``m`` with weight ``w_i = s2 / (s2 + m / n_i)``:
    ``m + w_i (r_i - m)``. Small areas are pulled most (Marshall 1991, *Applied
    Statistics* 40:283-294). Areas with no residents get NaN.
    """
    y = np.asarray(counts, dtype=np.float64)
    n = np.asarray(populations, dtype=np.float64)
    if y.shape != n.shape:
        raise SchemaError("counts and populations must have the same length.")
    has = n > 0
    if not has.any():
        return np.full(len(y), np.nan)
    yh, nh = y[has], n[has]
    m = yh.sum() / nh.sum()
    r = yh / nh
    s2 = max(float((nh * (r - m) ** 2).sum() / nh.sum() - m / nh.mean()), 0.0)
    out = np.full(len(y), np.nan)
    if m == 0:
        out[has] = 0.0
        return out
    w = s2 / (s2 + m / nh)
    out[has] = m + w * (r - m)
    return out


# --- 2. the cube ---------------------------------------------------------------------------
CUBE_KEYS = ("kind", "view", "geography_code", "group", "dimension", "band", "area_filter")


def _indicators(frame: pd.DataFrame) -> pd.DataFrame:
    find = frame["find"]
    return pd.DataFrame(
        {
            "searches": np.ones(len(frame), dtype=np.int64),
            "arrests": frame["is_arrest"].to_numpy(dtype=np.int64),
            "actions": frame["is_action"].to_numpy(dtype=np.int64),
            "finds": find.fillna(False).to_numpy(dtype=np.int64),
            "find_known": find.notna().to_numpy(dtype=np.int64),
        },
        index=frame.index,
    )


def _group_sums(
    indicators: pd.DataFrame, keys: list[pd.Series | np.ndarray], names: list[str]
) -> pd.DataFrame:
    grouped = indicators.groupby([pd.Series(np.asarray(k), index=indicators.index) for k in keys])
    sums = grouped.sum()
    sums.index = sums.index.set_names(names)
    return sums


def count_searches(
    classified: ClassifiedSearches | pd.DataFrame,
    *,
    geographies: Sequence[str],
    area_filters: Mapping[str, pd.Series] | None = None,
    views: Sequence[str] = ("self", "officer"),
    filter_views: Sequence[str] = ("self",),
    breakdowns: Sequence[str] = ("age", "gender"),
) -> pd.DataFrame:
    """Count searches and their outcomes in every published combination, zeros included.

    Parameters
    ----------
    classified
        From :func:`classify_searches`.
    geographies
        Every area code to report (e.g. the 33 boroughs), whether or not it has searches.
    area_filters
        Named hotspot sets: per search, True if it lies inside the set (searches without a
        location are neither inside nor outside). Each name gives filters
        ``"inside <name>"`` and ``"outside <name>"``.
    views
        Ethnicity views to count.
    filter_views
        Views for which the hotspot filters are counted.
    breakdowns
        Band dimensions counted for the whole force area (``"age"``, ``"gender"``).

    Returns
    -------
    DataFrame
        Columns :data:`CUBE_KEYS` and ``count``: ``kind`` is ``searches``, ``arrests``,
        ``actions``, ``finds`` or ``find_known`` (searches with a recorded find flag);
        ``geography_code`` is an area, ``"all"`` (the whole force area) or ``"none"`` (no
        location); ``group`` includes ``"all"``; ``dimension``/``band`` are
        ``"all"``/``""`` or a band of age or gender; ``area_filter`` is ``"all"``,
        ``"no location"`` or inside/outside a hotspot set.
    """
    frame = classified.searches if isinstance(classified, ClassifiedSearches) else classified
    indicators = _indicators(frame)
    geo = frame["geography_code"].to_numpy(dtype=object)
    located = geo != UNLOCATED_CODE
    filters: dict[str, np.ndarray] = {ALL: np.ones(len(frame), dtype=bool)}
    filters[UNLOCATED_FILTER] = ~located
    named_filters: dict[str, np.ndarray] = {}
    for name, inside in (area_filters or {}).items():
        flag = np.asarray(pd.Series(inside).reindex(frame.index).fillna(False), dtype=bool)
        named_filters[f"inside {name}"] = flag & located
        named_filters[f"outside {name}"] = ~flag & located
    geos = [*dict.fromkeys([*geographies, UNLOCATED_CODE])]
    extra_geos = sorted(set(geo) - set(geos))
    if extra_geos:
        raise SchemaError(
            f"searches fall in areas {extra_geos[:5]} that are not in the geographies given."
        )
    pieces: list[pd.DataFrame] = []
    for view in views:
        _check_view(view)
        group = frame[f"group_{view}"].to_numpy(dtype=object)
        groups = [g for g in GROUP_ORDER if g != ALL]
        if view == "officer":
            groups = [g for g in groups if g != "Mixed"]
        if UNMAPPED not in set(group):
            groups = [g for g in groups if g != UNMAPPED]
        view_filters = dict(filters)
        if view in filter_views:
            view_filters.update(named_filters)
        for filter_name, mask in view_filters.items():
            sub = indicators[mask]
            by = _group_sums(sub, [geo[mask], group[mask]], ["geography_code", "group"])
            full = pd.MultiIndex.from_product([geos, groups], names=["geography_code", "group"])
            by = by.reindex(full, fill_value=0)
            force = by.groupby(level="group").sum()
            force.index = pd.MultiIndex.from_product([[FORCE_CODE], force.index])
            by = pd.concat([force.reindex(pd.MultiIndex.from_product([[FORCE_CODE], groups])), by])
            by.index = by.index.set_names(["geography_code", "group"])
            totals = by.groupby(level="geography_code", sort=False).sum()
            totals.index = pd.MultiIndex.from_product([totals.index, [ALL]])
            by = pd.concat([by, totals]).sort_index()
            long = by.stack().rename("count").reset_index()
            long.columns = ["geography_code", "group", "kind", "count"]
            long["view"] = view
            long["dimension"] = ALL
            long["band"] = ""
            long["area_filter"] = filter_name
            pieces.append(long)
        for dimension in breakdowns:
            column = {"age": "age_band", "gender": "gender_band"}[dimension]
            bands = list(BAND_VALUES[dimension])
            band = frame[column].to_numpy(dtype=object)
            by = _group_sums(indicators, [band, group], ["band", "group"])
            by = by.reindex(
                pd.MultiIndex.from_product([bands, groups], names=["band", "group"]), fill_value=0
            )
            totals = by.groupby(level="band", sort=False).sum()
            totals.index = pd.MultiIndex.from_product([totals.index, [ALL]])
            by = pd.concat([by, totals]).sort_index()
            long = by.stack().rename("count").reset_index()
            long.columns = ["band", "group", "kind", "count"]
            long["view"] = view
            long["geography_code"] = FORCE_CODE
            long["dimension"] = dimension
            long["area_filter"] = ALL
            pieces.append(long)
    cube = pd.concat(pieces, ignore_index=True)[[*CUBE_KEYS, "count"]]
    cube["count"] = cube["count"].astype(np.int64)
    return cube.sort_values(list(CUBE_KEYS), ignore_index=True)


# --- 3. disclosure control -------------------------------------------------------------------


def _family(
    cube: pd.DataFrame, dim: Sequence[str], total: np.ndarray, part: np.ndarray
) -> list[np.ndarray]:
    """Equations ``total = sum(parts)`` over dimension(s) ``dim``, one per other-key combination."""
    keys = [k for k in CUBE_KEYS if k not in dim]
    used = total | part
    sub = cube.loc[used, keys].copy()
    sub["_pos"] = np.flatnonzero(used)
    sub["_total"] = total[used]
    sub["_eq"] = sub.groupby(keys, sort=False, dropna=False).ngroup()
    expected = int(part[used].any() and cube.loc[part, list(dim)].drop_duplicates().shape[0])
    sub = sub.sort_values(["_eq", "_total"], ascending=[True, False], kind="stable")
    equations: list[np.ndarray] = []
    eq = sub["_eq"].to_numpy()
    pos = sub["_pos"].to_numpy()
    is_total = sub["_total"].to_numpy()
    bounds = np.flatnonzero(np.diff(eq)) + 1
    for members, totals in zip(np.split(pos, bounds), np.split(is_total, bounds), strict=True):
        if totals.sum() == 1 and totals[0] and len(members) - 1 == expected:
            equations.append(members)
    return equations


def disclosure_equations(cube: pd.DataFrame) -> list[np.ndarray]:
    """Return the additive relations between published counts of a cube.

    Each equation is an array of cube positions whose first element is a total equal to
    the sum of the others: groups add up to all groups; areas and the searches without a
    location add up to the force area; inside, outside and without location add up to
    all searches, for every hotspot set; age (gender) bands add up to all ages.
    """
    group = cube["group"].to_numpy()
    geo = cube["geography_code"].to_numpy()
    dimension = cube["dimension"].to_numpy()
    area_filter = cube["area_filter"].to_numpy()
    equations = _family(cube, ["group"], group == ALL, group != ALL)
    equations += _family(cube, ["geography_code"], geo == FORCE_CODE, geo != FORCE_CODE)
    names = sorted({f.split(" ", 1)[1] for f in set(area_filter) if f.startswith("inside ")})
    for name in names:
        parts = np.isin(area_filter, [f"inside {name}", f"outside {name}", UNLOCATED_FILTER])
        equations += _family(cube, ["area_filter"], area_filter == ALL, parts)
    for dim in sorted(set(dimension) - {ALL}):
        equations += _family(cube, ["dimension", "band"], dimension == ALL, dimension == dim)
    return equations


def suppress_cells(
    counts: np.ndarray | pd.Series,
    equations: Iterable[np.ndarray],
    *,
    min_count: int = DEFAULT_MIN_COUNT,
    presuppressed: np.ndarray | None = None,
) -> np.ndarray:
    """Primary and secondary suppression of counts.

    Primary: every count from 1 to ``min_count - 1`` is suppressed (zero is published).
    Secondary: wherever a relation ``total = sum(parts)`` holds exactly one suppressed
    cell, the suppressed value could be recovered by subtraction, so one more cell of that
    relation is suppressed: the smallest non-zero part, else the total, else a zero part.
    This repeats until no relation has a single suppressed cell.

    Parameters
    ----------
    counts
        Cell values.
    equations
        Arrays of cell positions, the first being the total of the others.
    min_count
        Disclosure threshold.
    presuppressed
        Cells already withheld (e.g. suppressed in another table).

    Returns
    -------
    numpy.ndarray of bool
        True where the cell must not be published.
    """
    if min_count < 1:
        raise InputError(f"min_count {min_count} must be at least 1.")
    values = np.asarray(counts, dtype=np.float64)
    suppressed = (values > 0) & (values < min_count)
    if presuppressed is not None:
        suppressed |= np.asarray(presuppressed, dtype=bool)
    equations = [np.asarray(e, dtype=np.int64) for e in equations if len(e) > 1]
    changed = True
    while changed:
        changed = False
        for members in equations:
            hidden = suppressed[members]
            if hidden.sum() != 1:
                continue
            parts = members[1:][~hidden[1:]]
            nonzero = parts[values[parts] > 0]
            if len(nonzero):
                pick = nonzero[np.argmin(values[nonzero])]
            elif not hidden[0]:
                pick = members[0]
            elif len(parts):
                pick = parts[0]
            else:  # pragma: no cover - a relation of one part only
                continue
            suppressed[pick] = True
            changed = True
    return suppressed


def suppress_cube(cube: pd.DataFrame, *, min_count: int = DEFAULT_MIN_COUNT) -> pd.DataFrame:
    """Return a copy of the cube with a boolean ``suppressed`` column (see :func:`suppress_cells`)."""
    equations = disclosure_equations(cube)
    return cube.assign(
        suppressed=suppress_cells(cube["count"].to_numpy(), equations, min_count=min_count)
    )


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


@dataclass(frozen=True)
class MonthCheck:
    """Which months of a period have searches, and which look incomplete.

    Attributes
    ----------
    expected
        Every month from the first to the last of the period.
    rows_by_month
        Searches per month (0 for missing months).
    missing
        Months with no searches at all.
    short
        Months with fewer than ``short_fraction`` of the median of their neighbours (up
        to 3 present months each side).
    short_fraction
        The threshold used.
    """

    expected: tuple[str, ...]
    rows_by_month: dict[str, int]
    missing: tuple[str, ...]
    short: tuple[str, ...]
    short_fraction: float

    @property
    def present(self) -> int:
        """Months with searches."""
        return len(self.expected) - len(self.missing)

    def missing_ranges(self) -> list[str]:
        """Missing months collapsed into ranges: ``["2019-03..2021-05", "2022-01"]``."""
        return _ranges(self.missing)


def _ranges(months: Sequence[str]) -> list[str]:
    out: list[str] = []
    if not months:
        return out
    periods = [pd.Period(m, freq="M") for m in months]
    start = prev = periods[0]
    for p in periods[1:]:
        if p != prev + 1:
            out.append(str(start) if start == prev else f"{start}..{prev}")
            start = p
        prev = p
    out.append(str(start) if start == prev else f"{start}..{prev}")
    return out


def check_months(
    months: pd.Series,
    *,
    period: tuple[str, str] | None = None,
    short_fraction: float = 0.6,
) -> MonthCheck:
    """Find months of the period with no searches, or with suspiciously few.

    Parameters
    ----------
    months
        The ``month`` of every search (period[M] or ``YYYY-MM`` strings).
    period
        Inclusive ``(first, last)``; by default the first and last month present.
    short_fraction
        A month is *short* when it has fewer searches than this fraction of the median of
        the present months around it (up to 3 before and 3 after).

    Returns
    -------
    MonthCheck
    """
    counts = pd.Series(months).value_counts()
    counts.index = counts.index.astype(str)
    if period is None:
        if counts.empty:
            raise InputError("no searches: cannot tell which months are missing.")
        period = (min(counts.index), max(counts.index))
    expected = [str(p) for p in pd.period_range(period[0], period[1], freq="M")]
    rows = {m: int(counts.get(m, 0)) for m in expected}
    missing = tuple(m for m in expected if rows[m] == 0)
    present = [m for m in expected if rows[m] > 0]
    short = []
    for i, month in enumerate(present):
        around = [rows[m] for m in present[max(0, i - 3) : i] + present[i + 1 : i + 4]]
        if around and rows[month] < short_fraction * float(np.median(around)):
            short.append(month)
    return MonthCheck(
        expected=tuple(expected),
        rows_by_month=rows,
        missing=missing,
        short=tuple(short),
        short_fraction=short_fraction,
    )


def monthly_counts(
    classified: ClassifiedSearches | pd.DataFrame,
    *,
    months: MonthCheck,
    cube: pd.DataFrame,
    view: str = "self",
    min_count: int = DEFAULT_MIN_COUNT,
) -> pd.DataFrame:
    """Count searches per month and group for the whole force area, with suppression.

    Months form a relation with the period total of each group (published in the cube,
    whose suppression is carried over), and groups with each month's total.

    Returns
    -------
    DataFrame
        ``month``, ``group``, ``searches`` (NaN if suppressed or the month is missing),
        ``suppressed``, ``missing_month``, ``short_month``.
    """
    frame = classified.searches if isinstance(classified, ClassifiedSearches) else classified
    group = frame[f"group_{view}"]
    present = set(group.unique())
    groups = [g for g in GROUP_ORDER if g != ALL and g in present]
    table = pd.crosstab(frame[schema.MONTH], group)
    table.index = table.index.astype(str)
    table = table.reindex(index=list(months.expected), columns=groups)
    table = table.fillna(0).astype(np.int64)
    table[ALL] = table.sum(axis=1)
    long = table.stack().rename("searches").reset_index()
    long.columns = ["month", "group", "searches"]
    totals = cube[
        (cube["kind"] == "searches")
        & (cube["view"] == view)
        & (cube["geography_code"] == FORCE_CODE)
        & (cube["dimension"] == ALL)
        & (cube["area_filter"] == ALL)
    ].set_index("group")
    values = np.concatenate([long["searches"].to_numpy(), totals["count"].to_numpy()])
    pre = np.concatenate(
        [np.zeros(len(long), dtype=bool), totals["suppressed"].to_numpy(dtype=bool)]
    )
    position = {
        (m, g): i for i, (m, g) in enumerate(zip(long["month"], long["group"], strict=True))
    }
    total_pos = {g: len(long) + i for i, g in enumerate(totals.index)}
    equations = []
    for m in months.expected:
        equations.append(np.array([position[(m, ALL)]] + [position[(m, g)] for g in groups]))
    for g in [ALL, *groups]:
        if g in total_pos:
            equations.append(
                np.array([total_pos[g]] + [position[(m, g)] for m in months.expected])
            )
    hidden = suppress_cells(values, equations, min_count=min_count, presuppressed=pre)[: len(long)]
    long["suppressed"] = hidden
    long["missing_month"] = long["month"].isin(months.missing)
    long["short_month"] = long["month"].isin(months.short)
    long["searches"] = (
        long["searches"].astype(np.float64).where(~hidden & ~long["missing_month"].to_numpy())
    )
    long["view"] = view
    return long


def year_on_year(
    monthly: pd.DataFrame, *, context: Context, min_count: int = DEFAULT_MIN_COUNT
) -> pd.DataFrame:
    """Return the last 12 months of the period against the 12 before, per group.

    Only calendar months present (not missing, not suppressed) in both windows are
    compared, so gaps do not read as falls. The ratio is later / earlier with an exact
    conditional binomial interval (equal exposure: the same months).

    Returns
    -------
    DataFrame
        ``measure = "year_on_year"`` rows: numerator searches in the later window,
        denominator searches in the earlier window, ``rate`` the change (ratio - 1).
    """
    months = sorted(monthly["month"].unique())
    rows = []
    if len(months) < 13:
        return pd.DataFrame(columns=list(ROW_COLUMNS))
    later = months[-12:]
    earlier = [str(pd.Period(m, freq="M") - 12) for m in later]
    for (view, group), sub in monthly.groupby(["view", "group"], sort=False):
        by_month = sub.set_index("month")["searches"]
        pairs = [
            (m, e)
            for m, e in zip(later, earlier, strict=True)
            if e in by_month.index and pd.notna(by_month.get(m)) and pd.notna(by_month.get(e))
        ]
        a = float(sum(by_month[m] for m, _ in pairs))
        b = float(sum(by_month[e] for _, e in pairs))
        ratio, low, high = rate_ratio_ci(
            a, 1.0, b, 1.0, method="exact", confidence=context.confidence
        )
        hidden = (0 < a < min_count) or (0 < b < min_count)
        rows.append(
            {
                "measure": "year_on_year",
                "view": view,
                "group": group,
                "geography_code": FORCE_CODE,
                "dimension": ALL,
                "band": "",
                "area_filter": ALL,
                "numerator": a,
                "denominator": b,
                "rate": float(ratio) - 1 if np.isfinite(ratio) else np.nan,
                "ratio": float(ratio),
                "ratio_ci_low": float(low),
                "ratio_ci_high": float(high),
                "ratio_reference": (
                    f"same {len(pairs)} calendar months a year earlier"
                    f" ({pairs[0][1] if pairs else '-'}..{pairs[-1][1] if pairs else '-'})"
                ),
                "ratio_method": "exact conditional binomial (Clopper-Pearson)",
                "rate_unit": "change (later / earlier - 1)",
                "ci_method": "",
                "denominator_source": "searches in the earlier window",
                "suppressed": hidden,
                "denominator_is_count": True,
            }
        )
    return _finish(pd.DataFrame(rows), context)


CONTEXT_FIELDS = {
    "legislation": schema.LEGISLATION,
    "object_of_search": schema.OBJECT_OF_SEARCH,
    "outcome": "outcome_harmonised",
}
"""Fields of :func:`context_mix`: name -> column of the classified searches."""


def context_mix(
    classified: ClassifiedSearches | pd.DataFrame,
    *,
    cube: pd.DataFrame,
    view: str = "self",
    min_count: int = DEFAULT_MIN_COUNT,
) -> pd.DataFrame:
    """Count legislation, object of search and outcome by group (whole force area), suppressed.

    Returns
    -------
    DataFrame
        ``field`` (``legislation``, ``object_of_search``, ``outcome`` harmonised), ``value`` (blank shown as
        ``not recorded``), ``group``, ``searches``, ``share_of_group`` (of the group's
        searches), ``suppressed``.
    """
    frame = classified.searches if isinstance(classified, ClassifiedSearches) else classified
    group = frame[f"group_{view}"]
    present = set(group.unique())
    groups = [g for g in GROUP_ORDER if g != ALL and g in present]
    totals = cube[
        (cube["kind"] == "searches")
        & (cube["view"] == view)
        & (cube["geography_code"] == FORCE_CODE)
        & (cube["dimension"] == ALL)
        & (cube["area_filter"] == ALL)
    ].set_index("group")
    out = []
    for name, column in CONTEXT_FIELDS.items():
        value = frame[column].fillna("").astype(str).str.strip().replace("", NOT_RECORDED)
        table = pd.crosstab(value, group).reindex(columns=groups).fillna(0).astype(np.int64)
        table[ALL] = table.sum(axis=1)
        long = table.stack().rename("searches").reset_index()
        long.columns = ["value", "group", "searches"]
        values = np.concatenate([long["searches"].to_numpy(), totals["count"].to_numpy()])
        pre = np.concatenate(
            [np.zeros(len(long), dtype=bool), totals["suppressed"].to_numpy(dtype=bool)]
        )
        position = {
            (v, g): i for i, (v, g) in enumerate(zip(long["value"], long["group"], strict=True))
        }
        total_pos = {g: len(long) + i for i, g in enumerate(totals.index)}
        equations = [
            np.array([position[(v, ALL)]] + [position[(v, g)] for g in groups])
            for v in table.index
        ]
        equations += [
            np.array([total_pos[g]] + [position[(v, g)] for v in table.index])
            for g in [ALL, *groups]
            if g in total_pos
        ]
        hidden = suppress_cells(values, equations, min_count=min_count, presuppressed=pre)
        long["suppressed"] = hidden[: len(long)]
        group_total = long["group"].map(totals["count"]).astype(np.float64)
        long["share_of_group"] = long["searches"] / group_total
        long.loc[long["suppressed"], ["searches", "share_of_group"]] = np.nan
        long["field"] = name
        out.append(long)
    result = pd.concat(out, ignore_index=True)
    return result[["field", "value", "group", "searches", "share_of_group", "suppressed"]]


__all__ = [
    "ACTION_OUTCOMES",
    "ALL",
    "AGE_BANDS",
    "ClassifiedSearches",
    "Context",
    "GENDER_BANDS",
    "MonthCheck",
    "NOT_STATED",
    "OFFICER_DEFINED_GROUPS",
    "OUTCOMES",
    "REFERENCE_GROUP",
    "ROW_COLUMNS",
    "SELF_DEFINED_GROUPS",
    "UNMAPPED",
    "check_months",
    "classify_searches",
    "compare_harm",
    "compare_hotspot_shares",
    "compare_outcomes",
    "compare_rates",
    "compare_shares",
    "context_mix",
    "count_searches",
    "disclosure_equations",
    "ethnic_groups",
    "ethnicity_mapping",
    "harmonise_outcomes",
    "monthly_counts",
    "outcome_mapping",
    "poisson_ci",
    "proportion_ratio_ci",
    "rate_ratio_ci",
    "smooth_rates",
    "suppress_cells",
    "suppress_cube",
    "wilson_ci",
    "year_on_year",
]
