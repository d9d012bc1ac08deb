"""Classify searches: Census ethnic groups (self- and officer-defined), harmonised outcomes, age and gender bands."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from hotspots.core import schema
from hotspots.core.errors import InputError
from hotspots.stops.populations import ETHNIC_GROUPS

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


COMBINED_VIEW = "combined"
"""Self-defined group where stated, else the officer-defined group (``group_combined``)."""


NOT_STATED_AS_WHITE = "not_stated_as_white"
"""Sensitivity bound: self-defined groups with every not-stated search counted as White."""


NOT_STATED_AS_BLACK = "not_stated_as_black"
"""Sensitivity bound: self-defined groups with every not-stated search counted as Black."""


SENSITIVITY_VIEWS = (COMBINED_VIEW, NOT_STATED_AS_WHITE, NOT_STATED_AS_BLACK)
"""Views of the not-stated sensitivity analysis (force area, all bands, all searches only)."""


VIEW_LABELS = {
    "self": "self-defined",
    "officer": "officer-defined",
    COMBINED_VIEW: "self-defined where stated, officer-defined otherwise",
    NOT_STATED_AS_WHITE: "self-defined, every not-stated search counted as White",
    NOT_STATED_AS_BLACK: "self-defined, every not-stated search counted as Black",
}


GROUP_ORDER = (ALL, *ETHNIC_GROUPS, NOT_STATED, UNMAPPED)


KINDS = ("searches", "arrests", "actions", "finds", "find_known")


DEFAULT_MIN_COUNT = 5


CONFIDENCE = 0.95


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
    stated = ~pd.Series(out["group_self"]).isin([NOT_STATED, UNMAPPED]).to_numpy()
    out[f"group_{COMBINED_VIEW}"] = np.where(stated, out["group_self"], out["group_officer"])
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
