"""Search rates per LSOA against the resident population, smoothed for small areas."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from hotspots.core import schema
from hotspots.core.errors import InputError
from hotspots.stops.classify import ALL, DEFAULT_MIN_COUNT, ClassifiedSearches
from hotspots.stops.cube import suppress_cells
from hotspots.stops.intervals import smooth_rates
from hotspots.stops.populations import Population, lsoa_boroughs

MAP_GROUPS = (ALL, "Black", "White", "Asian")


def lsoa_search_rates(
    classified: ClassifiedSearches,
    population: Population,
    *,
    cube: pd.DataFrame,
    groups: Sequence[str] = MAP_GROUPS,
    min_count: int = DEFAULT_MIN_COUNT,
) -> pd.DataFrame:
    """Compute searches per 1,000 residents per LSOA (self-defined groups), raw and EB-smoothed.

    Parameters
    ----------
    classified
        From :func:`hotspots.stops.compare.classify_searches` (needs ``lsoa21_code``).
    population
        Residents per LSOA and group (``read_population("census2021", level="lsoa")``).
    cube
        The suppressed cube: borough totals it publishes take part in the suppression.
    groups
        ``"all"`` and/or broad groups.
    min_count
        Disclosure threshold; suppression is primary and secondary within each borough
        (an LSOA count is also withheld when it could be recovered from the borough total).

    Returns
    -------
    DataFrame
        Indexed by ``lsoa21_code``: ``lsoa_name``, ``borough_code``, and for each group
        ``residents_<g>``, ``searches_<g>``, ``rate_<g>`` (raw, per 1,000),
        ``smoothed_<g>`` (Marshall global empirical Bayes, per 1,000) and
        ``suppressed_<g>``; withheld values are NaN.
    """
    if population.level != "lsoa":
        raise InputError("LSOA rates need an LSOA population table (level='lsoa').")
    frame = classified.searches
    wide = population.by_group()
    codes = wide.index
    boroughs = lsoa_boroughs(codes)
    out = pd.DataFrame(
        {"lsoa_name": population.names().reindex(codes).to_numpy(), "borough_code": boroughs},
        index=pd.Index(codes, name="lsoa21_code"),
    )
    lsoa = frame.get(schema.LSOA21_CODE, pd.Series(None, index=frame.index))
    for group in groups:
        chosen = frame if group == ALL else frame[frame["group_self"] == group]
        chosen_lsoa = lsoa.reindex(chosen.index)
        counts = chosen_lsoa.value_counts().reindex(codes, fill_value=0).astype(np.int64)
        residents = wide["total" if group == ALL else group]
        # secondary suppression within each borough: borough total = LSOAs + remainder
        borough_cells = cube[
            (cube["kind"] == "searches")
            & (cube["view"] == "self")
            & (cube["group"] == group)
            & (cube["dimension"] == ALL)
            & (cube["area_filter"] == ALL)
        ].set_index("geography_code")
        by_borough = chosen["geography_code"].value_counts()
        values = list(counts.to_numpy(dtype=np.float64))
        pre = [False] * len(values)
        equations = []
        for borough, members in pd.Series(
            np.arange(len(codes)), index=boroughs.to_numpy()
        ).groupby(level=0):
            if borough not in borough_cells.index:
                continue
            total = float(by_borough.get(borough, 0))
            remainder = total - counts.iloc[members.to_numpy()].sum()
            values += [total, float(remainder)]
            pre += [bool(borough_cells.loc[borough, "suppressed"]), remainder != 0]
            equations.append(
                np.array([len(values) - 2, *members.to_numpy(), len(values) - 1], dtype=np.int64)
            )
        hidden = suppress_cells(
            np.abs(np.array(values)), equations, min_count=min_count, presuppressed=np.array(pre)
        )[: len(codes)]
        with np.errstate(divide="ignore", invalid="ignore"):
            raw = np.where(residents > 0, counts / residents * 1000, np.nan)
        smoothed = smooth_rates(counts.to_numpy(), residents.to_numpy()) * 1000
        out[f"residents_{group}"] = residents.to_numpy()
        out[f"searches_{group}"] = np.where(hidden, np.nan, counts.to_numpy(dtype=np.float64))
        out[f"rate_{group}"] = np.where(hidden, np.nan, raw)
        out[f"smoothed_{group}"] = np.where(hidden, np.nan, smoothed)
        out[f"suppressed_{group}"] = hidden
    return out
