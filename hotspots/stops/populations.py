"""Resident populations by ethnic group: the denominators of stop-and-search rates.

Bundled tables (``data/demographics/``, ONS, Open Government Licence v3.0):

* ``census2021`` by borough: Census 2021 TS021, 19 groups per local authority, summed
  into the five broad groups;
* ``census2021`` by LSOA: TS021 at LSOA level (2021 codes), five broad groups;
* ``census2011`` by borough: Census 2011 QS201EW, five broad groups (no LSOA table is
  bundled for 2011);
* ``census2021`` by age band and by sex (London and its local authorities, counts rounded
  to 5): see :func:`read_population_by`.

A user's own table can be given instead: a CSV with columns ``area_code``, ``group``
(one of the five broad groups) and ``population`` (``area_name`` optional), or any of the
bundled layouts. Every table carries a ``source`` sentence that outputs must state.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from hotspots.core.errors import InputError, SchemaError
from hotspots.core.paths import bundled

ETHNIC_GROUPS = ("Asian", "Black", "Mixed", "White", "Other")
"""The five broad Census ethnic groups, in the ONS order used in every output."""

LONDON_CODE = "E12000007"
LEVELS = ("borough", "lsoa")
KEYWORDS = ("census2021", "census2011")

_CENSUS2021_PREFIXES = {
    "Asian, Asian British or Asian Welsh": "Asian",
    "Black, Black British, Black Welsh, Caribbean or African": "Black",
    "Mixed or Multiple ethnic groups": "Mixed",
    "White": "White",
    "Other ethnic group": "Other",
}
_CENSUS2011_COLUMNS = {
    "Ethnic Group: Asian; measures: Value": "Asian",
    "Ethnic Group: Black; measures: Value": "Black",
    "Ethnic Group: Mixed; measures: Value": "Mixed",
    "Ethnic Group: White; measures: Value": "White",
    "Ethnic Group: Other; measures: Value": "Other",
}
_SOURCES = {
    ("census2021", "borough"): (
        "Census 2021 (ONS TS021), usual residents on 21 March 2021, by local authority "
        "(19 groups summed into 5)"
    ),
    ("census2021", "lsoa"): (
        "Census 2021 (ONS TS021), usual residents on 21 March 2021, by LSOA (2021 codes)"
    ),
    ("census2011", "borough"): (
        "Census 2011 (ONS QS201EW), usual residents on 27 March 2011, by local authority"
    ),
}


@dataclass(frozen=True)
class Population:
    """Residents per area and broad ethnic group, with where they come from.

    Attributes
    ----------
    table
        One row per area and group: ``area_code``, ``area_name``, ``group`` (one of
        :data:`ETHNIC_GROUPS`), ``population`` (int64), sorted by code and group.
    level
        ``"borough"`` (local authority), ``"lsoa"`` or ``"area"`` (a user's table).
    source
        A sentence naming the table, for every output.
    name
        Short name (``census2021``, ``census2011`` or the file name).
    """

    table: pd.DataFrame
    level: str
    source: str
    name: str

    def by_group(self) -> pd.DataFrame:
        """Return a wide table: one row per ``area_code``, one column per group, plus ``total``."""
        wide = self.table.pivot_table(
            index="area_code", columns="group", values="population", aggfunc="sum"
        ).reindex(columns=list(ETHNIC_GROUPS))
        wide = wide.fillna(0).astype(np.int64)
        wide["total"] = wide.sum(axis=1)
        return wide

    def names(self) -> pd.Series:
        """Area name per ``area_code``."""
        return self.table.drop_duplicates("area_code").set_index("area_code")["area_name"]


@dataclass(frozen=True)
class PopulationBy:
    """Residents per area, broad ethnic group and band of age or sex.

    Attributes
    ----------
    table
        ``area_code``, ``area_name``, ``band``, ``group``, ``population``,
        ``suppressed_cells`` (source cells published as suppressed and counted as 0).
    dimension
        ``"age"`` or ``"sex"``.
    source
        A sentence naming the table.
    """

    table: pd.DataFrame
    dimension: str
    source: str


def _tidy(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.groupby(["area_code", "area_name", "group"], as_index=False, sort=True)[
        "population"
    ].sum()
    frame["population"] = frame["population"].astype(np.int64)
    return frame.reset_index(drop=True)


def _from_census2021_la(raw: pd.DataFrame) -> pd.DataFrame:
    raw = raw[raw["ethnic_group"].str.endswith("(number)")]
    prefix = raw["ethnic_group"].str.split(":").str[0].str.strip()
    group = prefix.map(_CENSUS2021_PREFIXES)
    if group.isna().any():
        unknown = sorted(set(raw.loc[group.isna(), "ethnic_group"]))
        raise SchemaError(f"unknown Census 2021 ethnic groups {unknown[:5]}.")
    return _tidy(
        pd.DataFrame(
            {
                "area_code": raw["ltla21_code"],
                "area_name": raw["ltla21_name"],
                "group": group,
                "population": pd.to_numeric(raw["value"]).round().astype(np.int64),
            }
        )
    )


def _from_census2021_lsoa(raw: pd.DataFrame) -> pd.DataFrame:
    group = raw["ethnic_group"].map(_CENSUS2021_PREFIXES)
    if group.isna().any():
        unknown = sorted(set(raw.loc[group.isna(), "ethnic_group"]))
        raise SchemaError(f"unknown Census 2021 ethnic groups {unknown[:5]}.")
    return _tidy(
        pd.DataFrame(
            {
                "area_code": raw["lsoa21_code"],
                "area_name": raw["lsoa21_code"],
                "group": group,
                "population": pd.to_numeric(raw["n"]).astype(np.int64),
            }
        )
    )


def _from_census2011_la(raw: pd.DataFrame) -> pd.DataFrame:
    parts = [
        pd.DataFrame(
            {
                "area_code": raw["geography code"],
                "area_name": raw["geography"],
                "group": group,
                "population": pd.to_numeric(raw[column]).astype(np.int64),
            }
        )
        for column, group in _CENSUS2011_COLUMNS.items()
    ]
    return _tidy(pd.concat(parts, ignore_index=True))


def _from_tidy(raw: pd.DataFrame, label: str) -> pd.DataFrame:
    bad = sorted(set(raw["group"]) - set(ETHNIC_GROUPS))
    if bad:
        raise SchemaError(
            f"{label}: group values {bad[:5]} are not Census broad groups; expected "
            f"{', '.join(ETHNIC_GROUPS)}. Sum detailed groups into these five first."
        )
    population = pd.to_numeric(raw["population"], errors="coerce")
    if population.isna().any() or (population < 0).any():
        raise SchemaError(f"{label}: 'population' must hold whole numbers >= 0.")
    return _tidy(
        pd.DataFrame(
            {
                "area_code": raw["area_code"].astype(str),
                "area_name": raw["area_name"].astype(str)
                if "area_name" in raw
                else raw["area_code"].astype(str),
                "group": raw["group"],
                "population": population.round().astype(np.int64),
            }
        )
    )


def _read_table(path: Path) -> tuple[pd.DataFrame, str, str]:
    """Read a population file of a known layout -> (tidy table, level, source sentence)."""
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InputError(f"cannot read population file {path}: {exc}") from None
    raw.columns = [str(c).strip() for c in raw.columns]
    columns = set(raw.columns)
    if {"ltla21_code", "ethnic_group", "value"} <= columns:
        return _from_census2021_la(raw), "borough", _SOURCES[("census2021", "borough")]
    if {"lsoa21_code", "ethnic_group", "n"} <= columns:
        return _from_census2021_lsoa(raw), "lsoa", _SOURCES[("census2021", "lsoa")]
    if {"geography code", *_CENSUS2011_COLUMNS} <= columns:
        return _from_census2011_la(raw), "borough", _SOURCES[("census2011", "borough")]
    if {"area_code", "group", "population"} <= columns:
        table = _from_tidy(raw, str(path))
        codes = table["area_code"]
        level = (
            "borough"
            if codes.str.startswith("E09").all()
            else "lsoa"
            if codes.str.startswith("E01").all()
            else "area"
        )
        return table, level, f"user table {path.name} ({level} level)"
    have = ", ".join(repr(c) for c in list(raw.columns)[:8])
    raise SchemaError(
        f"population file {path} has columns {have}; expected 'area_code', 'group' "
        f"(one of {', '.join(ETHNIC_GROUPS)}) and 'population', or a bundled Census layout. "
        "Or pass --population census2021 / census2011."
    )


def read_population(source: str | Path = "census2021", *, level: str = "borough") -> Population:
    """Read residents per area and broad ethnic group.

    Parameters
    ----------
    source
        ``"census2021"`` or ``"census2011"`` for the bundled tables, or a CSV path (a
        tidy ``area_code, group, population`` table or a bundled Census layout).
    level
        ``"borough"`` or ``"lsoa"``, for the keywords (Census 2011 has no bundled LSOA
        table). A file's own level is used as it is.

    Returns
    -------
    Population
        The tidy table and the sentence naming its source.

    Raises
    ------
    InputError
        If the keyword or level is unknown or the file cannot be read.
    SchemaError
        If the file's columns or values do not fit a known layout.
    """
    if level not in LEVELS:
        raise InputError(f"level {level!r} must be one of {', '.join(LEVELS)}.")
    text = str(source)
    if text in KEYWORDS:
        files = {
            ("census2021", "borough"): "census2021_ethnicity_la_london.csv",
            ("census2021", "lsoa"): "census2021_ethnicity_lsoa21_london.csv.gz",
            ("census2011", "borough"): "census2011_ethnicity_la_london.csv",
        }
        if (text, level) not in files:
            raise InputError(
                f"no bundled {text} table at {level} level; Census 2011 is bundled by "
                "borough only (use census2021 for LSOAs)."
            )
        table, _, sentence = _read_table(bundled("demographics", files[(text, level)]))
        name = text
    else:
        path = Path(source)
        if not path.is_file():
            raise InputError(
                f"population {source!r} is neither a file nor one of {', '.join(KEYWORDS)}."
            )
        table, file_level, sentence = _read_table(path)
        level, name = file_level, path.name
    if table.empty:
        raise InputError(f"population table {source} holds no rows.")
    if level == "lsoa":
        table = table.assign(area_name=_lsoa_names(table["area_code"]))
    return Population(table=table, level=level, source=sentence, name=name)


def _lsoa_names(codes: pd.Series) -> pd.Series:
    """LSOA names from the bundled 2021 boundaries (the code where unknown)."""
    from hotspots.geo.boundaries import london_lsoas

    names = london_lsoas().polygons["name"]
    return codes.map(names).fillna(codes)


def lsoa_boroughs(codes: pd.Index | pd.Series) -> pd.Series:
    """Borough (GSS code) of each London LSOA, from the LSOA name ("Camden 001A").

    Returns
    -------
    Series
        Indexed by LSOA code; NaN for codes not in the bundled 2021 LSOAs.
    """
    from hotspots.geo.boundaries import london_boroughs, london_lsoas

    names = london_lsoas().polygons["name"]
    boroughs = london_boroughs().polygons
    by_name = pd.Series(boroughs.index, index=boroughs["name"])
    prefix = names.str.replace(r"\s+\d{3}[A-Z]$", "", regex=True).map(by_name)
    index = pd.Index(codes)
    return pd.Series(prefix.reindex(index).to_numpy(), index=index, name="borough_code")


def read_population_by(dimension: str) -> PopulationBy:
    """Read Census 2021 residents by broad ethnic group and age band or sex (London LAs).

    Parameters
    ----------
    dimension
        ``"age"`` (the stop-and-search bands under 10, 10-17, 18-24, 25-34, over 34) or
        ``"sex"`` (Female, Male).

    Returns
    -------
    PopulationBy
        For the London region (``E12000007``) and its local authorities (City of London
        and Westminster are one area, ``E09000001``, in this release). Counts are rounded
        to 5 with small cells suppressed at source (counted as 0 and counted in
        ``suppressed_cells``).
    """
    if dimension not in ("age", "sex"):
        raise InputError(f"dimension {dimension!r} must be 'age' or 'sex'.")
    raw = pd.read_csv(bundled("demographics", "census2021_ethnicity_age_sex_london.csv"))
    raw = raw[raw["dimension"] == dimension].rename(columns={"ethnic_group": "group"})
    table = raw[
        ["area_code", "area_name", "band", "group", "population", "suppressed_cells"]
    ].reset_index(drop=True)
    return PopulationBy(
        table=table,
        dimension=dimension,
        source=(
            f"Census 2021 ethnic group by {dimension} (ONS, counts rounded to 5, small cells "
            "suppressed at source), London region"
        ),
    )


__all__ = [
    "ETHNIC_GROUPS",
    "LONDON_CODE",
    "Population",
    "PopulationBy",
    "lsoa_boroughs",
    "read_population",
    "read_population_by",
]
