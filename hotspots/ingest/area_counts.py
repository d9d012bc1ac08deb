"""Area counts: the Met's published monthly recorded-crime tables (no points).

The MPS "Recorded Crime: Geographic Breakdown" tables are wide: one row per area and
offence (major and minor category) and one column per month named ``YYYYMM``. They are
the only Met-wide *violence* series in the bundled data, so London's violence picture is
built on the LSOA (or ward) lattice from them.

Each wide row read is either accepted (and melted into one tidy row per month) or
rejected with a reason, so accepted + rejected == rows read, as for incidents.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from hotspots.core import schema
from hotspots.core.errors import InputError, SchemaError
from hotspots.harm.table import HarmTable, default_harm_table

_MONTH_COLUMN = re.compile(r"^\d{6}$")

GEOGRAPHIES = {
    "lsoa": ("lsoa_code", "lsoa_name"),
    "ward": ("wardcode", "wardname"),
    "borough": ("boroughname", "boroughname"),
}
MAJOR = "major_category"
MINOR = "minor_category"
AREA_CODE = "area_code"
AREA_NAME = "area_name"
COUNT = "count"


@dataclass(frozen=True)
class AreaCounts:
    """Tidy monthly counts per area and offence, with rejects.

    Attributes
    ----------
    counts
        One row per area, offence and month: ``area_code``, ``area_name``, ``borough``,
        ``major_category``, ``minor_category``, ``month`` (period[M]), ``count``, ``harm``.
    rejects
        Rejected wide rows (source_file, source_row, reason, detail, raw).
    rows_read
        Wide rows read.
    geography
        ``lsoa``, ``ward`` or ``borough``.
    harm_table
        Name of the harm table used.
    """

    counts: pd.DataFrame
    rejects: pd.DataFrame
    rows_read: int
    geography: str
    harm_table: str

    @property
    def months(self) -> tuple[str, str] | None:
        """First and last month present."""
        if self.counts.empty:
            return None
        return str(self.counts["month"].min()), str(self.counts["month"].max())


def _detect_geography(columns: list[str], label: str) -> str:
    for geography, (code, _) in GEOGRAPHIES.items():
        if code in columns:
            return geography
    raise SchemaError(
        f"{label} does not look like an MPS recorded-crime table: it has "
        f"{', '.join(repr(c) for c in columns[:8])}; expected an area column "
        "(lsoa_code, wardcode or boroughname), major/minor category and YYYYMM month columns."
    )


def read_area_counts(
    path: str | Path,
    *,
    harm: HarmTable | None = None,
    months: tuple[str, str] | None = None,
    majors: tuple[str, ...] | None = None,
) -> AreaCounts:
    """Read an MPS wide recorded-crime table into tidy monthly counts with harm.

    Parameters
    ----------
    path
        CSV (optionally gzipped) or Parquet file in the MPS layout.
    harm
        Harm per minor category; the bundled CCHI ``mps_minor`` table by default.
    months
        Inclusive ``("YYYY-MM", "YYYY-MM")``; other month columns are not read.
    majors
        Major categories to keep (e.g. ``("VIOLENCE AGAINST THE PERSON",)``); other rows
        are rejected as ``not_selected``.

    Returns
    -------
    AreaCounts
        Tidy counts with ``harm = count * weight``; rejects with reasons.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"no such file: {path}")
    harm = harm or default_harm_table("mps_minor")
    try:
        if path.suffix == ".parquet":
            wide = pd.read_parquet(path)
        else:
            wide = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError) as exc:
        raise InputError(f"cannot read {path}: {exc}") from None
    wide.columns = [str(c).strip() for c in wide.columns]
    # the borough/ward historical files name their categories majortext/minortext
    wide = wide.rename(columns={"majortext": MAJOR, "minortext": MINOR})
    geography = _detect_geography(list(wide.columns), str(path))
    schema.require_columns(wide, [MAJOR, MINOR], name=str(path))
    code_col, name_col = GEOGRAPHIES[geography]
    month_cols = [c for c in wide.columns if _MONTH_COLUMN.match(c)]
    if not month_cols:
        raise SchemaError(f"{path} has no YYYYMM month columns.")
    if months is not None:
        lo, hi = (m.replace("-", "") for m in months)
        month_cols = [c for c in month_cols if lo <= c <= hi]
        if not month_cols:
            raise SchemaError(f"{path} has no month columns in {months[0]}..{months[1]}.")

    rows_read = len(wide)
    source_row = np.arange(2, rows_read + 2)
    values = wide[month_cols].apply(pd.to_numeric, errors="coerce")
    bad_count = ~(values.notna() & (values >= 0) & (values == np.floor(values))).all(axis=1)
    weights = harm.lookup(wide[MINOR].to_numpy(dtype=object))
    unknown = np.isnan(weights)
    not_selected = np.zeros(rows_read, dtype=bool)
    if majors is not None:
        wanted = {m.strip().casefold() for m in majors}
        not_selected = ~wide[MAJOR].str.strip().str.casefold().isin(wanted).to_numpy()

    reason = np.full(rows_read, "", dtype=object)
    for mask, code in (
        (bad_count.to_numpy(), schema.INVALID_COUNT),
        (unknown, schema.UNKNOWN_OFFENCE),
        (not_selected, schema.NOT_SELECTED),
    ):
        reason[(reason == "") & mask] = code
    rejected = reason != ""
    details = {
        schema.INVALID_COUNT: "a month value is missing, negative or not a whole number",
        schema.UNKNOWN_OFFENCE: "minor category {minor!r} has no weight in the harm table",
        schema.NOT_SELECTED: "major category {major!r} is outside the selection",
    }
    raw = wide.loc[rejected].apply(lambda r: r.to_json(), axis=1) if rejected.any() else []
    rejects = pd.DataFrame(
        {
            "source_file": str(path),
            "source_row": source_row[rejected],
            "reason": reason[rejected],
            "detail": [
                details[r].format(minor=mn, major=mj)
                for r, mn, mj in zip(
                    reason[rejected],
                    wide.loc[rejected, MINOR],
                    wide.loc[rejected, MAJOR],
                    strict=True,
                )
            ],
            "raw": list(raw),
        },
        columns=list(schema.REJECT_COLUMNS),
    )

    kept = wide.loc[~rejected]
    borough = (
        kept["borough"] if "borough" in kept else kept.get("lookup_boroughname", kept[name_col])
    )
    long = pd.DataFrame(
        {
            AREA_CODE: np.repeat(kept[code_col].to_numpy(dtype=object), len(month_cols)),
            AREA_NAME: np.repeat(kept[name_col].to_numpy(dtype=object), len(month_cols)),
            schema.BOROUGH: np.repeat(np.asarray(borough, dtype=object), len(month_cols)),
            MAJOR: np.repeat(kept[MAJOR].to_numpy(dtype=object), len(month_cols)),
            MINOR: np.repeat(kept[MINOR].to_numpy(dtype=object), len(month_cols)),
            schema.MONTH: np.tile(
                pd.PeriodIndex([f"{c[:4]}-{c[4:]}" for c in month_cols], freq="M"), len(kept)
            ),
            COUNT: values.loc[~rejected].to_numpy(dtype=np.int64).reshape(-1),
            "harm_per_offence": np.repeat(weights[~rejected], len(month_cols)),
        }
    )
    long[schema.HARM] = long[COUNT] * long["harm_per_offence"]
    long = long.drop(columns="harm_per_offence")
    if len(long) + 0 and (long[COUNT] < 0).any():  # pragma: no cover - guarded above
        raise SchemaError("negative counts slipped through validation")
    return AreaCounts(
        counts=long,
        rejects=rejects,
        rows_read=rows_read,
        geography=geography,
        harm_table=harm.name,
    )


def totals_by_area(counts: pd.DataFrame) -> pd.DataFrame:
    """Sum counts and harm over months and offences, one row per ``area_code``."""
    grouped = counts.groupby(AREA_CODE, sort=True)
    return pd.DataFrame(
        {
            AREA_NAME: grouped[AREA_NAME].first(),
            schema.BOROUGH: grouped[schema.BOROUGH].first(),
            COUNT: grouped[COUNT].sum(),
            schema.HARM: grouped[schema.HARM].sum(),
        }
    )
