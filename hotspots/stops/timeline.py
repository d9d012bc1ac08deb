"""Time and context: missing or short months, monthly series, year-on-year change, legislation and object mix."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from hotspots.core import schema
from hotspots.core.errors import InputError
from hotspots.stops.classify import (
    ALL,
    DEFAULT_MIN_COUNT,
    FORCE_CODE,
    GROUP_ORDER,
    NOT_RECORDED,
    ClassifiedSearches,
)
from hotspots.stops.compare import ROW_COLUMNS, Context, _finish
from hotspots.stops.cube import suppress_cells
from hotspots.stops.intervals import rate_ratio_ci


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
