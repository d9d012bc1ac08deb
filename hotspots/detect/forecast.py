"""Forecast harm per cell (or per area) for the months after ``until``, and rank the places.

:func:`forecast_cells` builds the months x cells count and harm history from an ingest
store (or tidy incidents), forecasts the next ``horizon`` months with
:func:`hotspots.methods.forecast_select.forecast_matrix` and ranks the cells by expected
harm. :func:`forecast_areas` does the same for the MPS LSOA/ward count tables.

What to expect (measured, see ``bench/README.md``): on Met burglary the automatic choice
beats plain 12-month counts on unseen months by only +2..4% median PAI (issue 13 asked
for +5%), and on MPS ward violence by about 0 (12-month counts are already close to a
perfect ranking there).
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hotspots.aggregates.store import aggregate_store, dataset_root, months_in_store
from hotspots.core import schema
from hotspots.core.errors import InputError, SchemaError
from hotspots.geo.geocode import Areas
from hotspots.geo.grid import cell_ints, make_grid
from hotspots.ingest.area_counts import AreaCounts
from hotspots.methods.forecast import METHODS, make_context, rank_forecast
from hotspots.methods.forecast_select import forecast_matrix
from hotspots.methods.gi import h3_neighbours, polygon_neighbours

MIN_HISTORY = 24
"""Months the inner backtest of ``method="auto"`` needs before its first inner origin."""

FORECAST_COLUMNS = (
    "expected_incidents",
    "expected_harm",
    "rank",
    "method",
)
"""Columns every forecast table has after its place columns."""


@dataclass(frozen=True)
class Forecast:
    """A forecast per place for the months after the history, and how it was made.

    Attributes
    ----------
    places
        One row per cell of the study grid (``cell``, ``borough_code``, ``borough``) or per
        area (``area``, ``area_name``, ``borough``), then ``expected_incidents``,
        ``expected_harm`` (totals over the ``horizon`` months), ``rank`` (1 = most expected
        harm; ties in a seeded order) and ``method``; sorted by place.
    method
        The method that made the harm forecast (and, with the same parameters, the
        incident forecast).
    params
        Its parameters.
    reason
        Why this method (for ``auto``: the inner-backtest comparison, on training months
        only).
    history
        First and last month of the history used (``until`` is the last).
    forecast_months
        First and last month forecast.
    horizon
        Months forecast.
    choices
        Automatic choices, in words (for the manifest).
    inner_scores
        The inner-backtest table of ``auto`` (empty otherwise).
    seconds
        Wall time of the forecasts.
    """

    places: pd.DataFrame
    method: str
    params: dict
    reason: str
    history: tuple[str, str]
    forecast_months: tuple[str, str]
    horizon: int
    choices: dict[str, str] = field(default_factory=dict)
    inner_scores: pd.DataFrame = field(default_factory=pd.DataFrame)
    seconds: float = 0.0

    def describe(self) -> dict[str, object]:
        """Everything chosen, for a manifest (JSON-ready)."""
        return {
            "method": self.method,
            "params": _jsonable(self.params),
            "reason": self.reason,
            "history": list(self.history),
            "forecast_months": list(self.forecast_months),
            "horizon": self.horizon,
            "places": len(self.places),
            "expected_incidents": float(self.places["expected_incidents"].sum()),
            "expected_harm": float(self.places["expected_harm"].sum()),
            "seconds": round(self.seconds, 2),
            "choices": dict(self.choices),
        }


def _jsonable(value: object) -> object:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _month_ordinal(label: str) -> int:
    period = pd.Period(label, freq="M")
    return period.year * 12 + period.month - 1


def _check_request(until: str, horizon: int, method: str) -> pd.Period:
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", str(until)):
        raise InputError(f"until must be a month YYYY-MM, got {until!r}.")
    last = pd.Period(str(until), freq="M")
    if not isinstance(horizon, int | np.integer) or horizon < 1:
        raise InputError(f"horizon must be a whole number of months >= 1, got {horizon!r}.")
    if method != "auto" and method not in METHODS:
        raise InputError(
            f"unknown forecast method {method!r}; use auto or one of {list(METHODS)}."
        )
    return last


def _choose(method: str, n_months: int, horizon: int) -> tuple[str, str | None]:
    """Fall back to 12-month counts when the history is too short for ``auto``."""
    needed = MIN_HISTORY + horizon
    if method == "auto" and n_months < needed:
        return "counts", (
            f"only {n_months} months of history up to the origin; 'auto' needs at least "
            f"{needed} ({MIN_HISTORY} + horizon {horizon}) to backtest on training months, "
            "so plain 12-month counts (the baseline) were used"
        )
    return method, None


def _forecast_pair(
    counts: np.ndarray,
    harm: np.ndarray,
    *,
    months: Sequence[str],
    neighbours: object,
    area_km2: np.ndarray,
    groups: Sequence[object],
    horizon: int,
    method: str,
    seed: int,
    rank_by: str,
    coverage: Sequence[float],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, object, str | None]:
    """Forecast harm (choosing the method), then counts with the same method and params."""
    chosen, fallback = _choose(method, counts.shape[0], horizon)
    context = make_context(
        counts.shape[1],
        months=months,
        neighbours=neighbours,
        area_km2=area_km2,
        groups=groups,
        seed=seed,
        rank_by=rank_by,
    )
    on_harm = forecast_matrix(
        harm,
        months=months,
        horizon=horizon,
        method=chosen,
        seed=seed,
        coverage=coverage,
        context=context,
    )
    on_counts = forecast_matrix(
        counts,
        months=months,
        horizon=horizon,
        method=on_harm.method,
        params=on_harm.params,
        seed=seed,
        context=context,
    )
    order = rank_forecast(on_harm.expected, context)
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(1, len(order) + 1)
    return on_counts.expected, on_harm.expected, rank, on_harm, fallback


def forecast_cells(
    incidents_or_store: pd.DataFrame | str | Path,
    study: Areas,
    *,
    until: str,
    horizon: int = 6,
    method: str = "auto",
    crime_types: Sequence[str] | None = None,
    seed: int = 0,
    resolution: int = 9,
) -> Forecast:
    """Forecast incidents and harm per H3 cell for the ``horizon`` months after ``until``.

    Parameters
    ----------
    incidents_or_store
        An ingest ``--out`` folder (streamed month by month, never loaded whole), or tidy
        incidents with ``month``, ``harm`` and ``cell_id`` (from :func:`read_incidents`).
    study
        Study areas (the store's); the grid is ``make_grid(study, resolution=...)``.
    until
        Last month of history (``YYYY-MM``); every month from the first in the input up
        to it is used, later months are never read.
    horizon
        Months forecast; ``expected_*`` are totals over them.
    method
        ``"auto"`` (chosen by an inner backtest on the training months, on harm) or one of
        :data:`hotspots.methods.forecast.METHODS`. With fewer than ``24 + horizon`` months
        of history ``auto`` falls back to 12-month counts and says so.
    crime_types
        Offences to keep (as stored, e.g. ``"Burglary"``); all when ``None``.
    seed
        Seed of the tie-break order (and the gradient boosting).
    resolution
        H3 resolution of the grid (the store's cells must be at it).

    Returns
    -------
    Forecast
        ``places`` has ``cell``, ``borough_code``, ``borough``, ``expected_incidents``,
        ``expected_harm``, ``rank``, ``method``, one row per grid cell (zeros kept).

    Raises
    ------
    InputError
        If the request is malformed or there is no history up to ``until``.
    SchemaError
        If incidents fall in cells outside the study grid.
    """
    import time

    start = time.perf_counter()
    last = _check_request(until, horizon, method)
    offences = list(crime_types) if crime_types else None
    if isinstance(incidents_or_store, str | Path):
        root = dataset_root(incidents_or_store)
        present = [m for m in months_in_store(root) if m <= str(last)]
        if not present:
            raise InputError(f"{incidents_or_store} holds no month up to {last}.")
        first_label = present[0]
        aggregates = aggregate_store(
            incidents_or_store, months=(first_label, str(last)), offences=offences
        )
        bins = aggregates.bins[["cell", "month", "count", "harm"]]
    else:
        bins, first_label = _bins_from_frame(incidents_or_store, last, offences)
    grid = make_grid(study, resolution=resolution)
    grid_cells = cell_ints(grid.index.to_numpy()).view(np.int64)
    where = pd.Index(grid_cells).get_indexer(bins["cell"].to_numpy())
    if (where < 0).any():
        raise SchemaError(
            f"{int((where < 0).sum())} cell-month row(s) of incidents are in cells outside the "
            f"H3 resolution-{resolution} grid of the study area; build both from the same "
            "study areas and resolution."
        )
    first = _month_ordinal(first_label)
    months = [str(p) for p in pd.period_range(first_label, last, freq="M")]
    row = bins["month"].to_numpy(np.int64) - first
    counts, harm = _history(row, where, bins, shape=(len(months), len(grid)))
    neighbours = h3_neighbours(grid.index, k=1)
    expected_counts, expected_harm, rank, result, fallback = _forecast_pair(
        counts,
        harm,
        months=months,
        neighbours=neighbours,
        area_km2=grid["area_km2"].to_numpy(np.float64),
        groups=grid[schema.BOROUGH_CODE].astype(object).fillna("").to_numpy(),
        horizon=horizon,
        method=method,
        seed=seed,
        rank_by="score",
        coverage=(0.01, 0.05),
    )
    places = pd.DataFrame(
        {
            "cell": grid.index.to_numpy(dtype=object),
            schema.BOROUGH_CODE: grid[schema.BOROUGH_CODE].to_numpy(),
            schema.BOROUGH: grid[schema.BOROUGH].to_numpy(),
            "expected_incidents": expected_counts,
            "expected_harm": expected_harm,
            "rank": rank,
            "method": result.method,
        }
    )
    empty = [m for m, total in zip(months, counts.sum(axis=1), strict=True) if total == 0]
    choices = {
        "cells": (
            f"H3 resolution {resolution}: {len(grid):,} cells over the study area (cells with "
            "no incidents kept as 0)"
        ),
        "history": f"{len(months)} months {months[0]}..{months[-1]} (every month up to --until)"
        + (
            f"; {len(empty)} month(s) with no incidents kept as 0: {', '.join(empty[:6])}"
            if empty
            else ""
        ),
        "method": fallback or result.reason,
        "rank": (
            "rank 1 = most expected harm over the horizon; ties in a seeded random order "
            f"(seed {seed}); expected_incidents uses the method chosen on harm"
        ),
    }
    return _forecast(
        places, result, fallback, months=months, horizon=horizon, choices=choices, start=start
    )


def _bins_from_frame(
    incidents: pd.DataFrame, last: pd.Period, offences: list[str] | None
) -> tuple[pd.DataFrame, str]:
    """Cell x month sums of tidy incidents up to ``last``."""
    needed = [schema.MONTH, schema.HARM, schema.CELL_ID]
    missing = [c for c in needed if c not in incidents.columns]
    if missing:
        raise SchemaError(
            f"incidents is missing {', '.join(map(repr, missing))}; load them with "
            "read_incidents (or pass an ingest store)."
        )
    rows = incidents
    if offences:
        wanted = {o.strip().casefold() for o in offences}
        rows = rows[rows[schema.OFFENCE].astype(str).str.casefold().isin(wanted)]
    month = rows[schema.MONTH].astype("period[M]")
    rows = rows[month <= last]
    month = month[month <= last]
    if rows.empty:
        raise InputError(f"no incidents up to {last} in the selection.")
    ordinal = (month.dt.year * 12 + month.dt.month - 1).to_numpy(np.int64)
    bins = (
        pd.DataFrame(
            {
                "cell": cell_ints(rows[schema.CELL_ID].to_numpy()).view(np.int64),
                "month": ordinal,
                "count": 1,
                "harm": rows[schema.HARM].to_numpy(np.float64),
            }
        )
        .groupby(["cell", "month"], as_index=False)
        .sum()
    )
    return bins, str(month.min())


def forecast_areas(
    counts: AreaCounts,
    areas: Areas | None = None,
    *,
    until: str,
    horizon: int = 6,
    method: str = "auto",
    seed: int = 0,
) -> Forecast:
    """Forecast incidents and harm per area (MPS LSOA/ward tables) after ``until``.

    Parameters
    ----------
    counts
        From :func:`hotspots.ingest.area_counts.read_area_counts` (harm-weighted).
    areas
        The area polygons (e.g. ``london_wards()``), for neighbours and areas in km²; then
        areas are ranked by expected harm per km² (the fair ranking for PAI over unequal
        areas). ``None``: no neighbours, ranked by expected harm.
    until, horizon, method, seed
        As for :func:`forecast_cells`.

    Returns
    -------
    Forecast
        ``places`` has ``area``, ``area_name``, ``borough``, then the forecast columns.
    """
    import time

    start = time.perf_counter()
    last = _check_request(until, horizon, method)
    table = counts.counts
    table = table[table["month"].astype("period[M]") <= last]
    if table.empty:
        raise InputError(f"the area counts hold no month up to {last}.")
    first_label = str(table["month"].min())
    months = [str(p) for p in pd.period_range(first_label, last, freq="M")]
    info = table.groupby("area_code", sort=True)[["area_name", "borough"]].first().astype(object)
    codes = info.index
    if areas is not None:
        polygons = areas.polygons.reindex(codes)
        unknown = codes[polygons.geometry.isna().to_numpy()]
        if len(unknown):
            raise SchemaError(
                f"{len(unknown)} area code(s) of the counts are not in the {areas.kind} "
                f"polygons, e.g. {list(unknown[:3])}; use the boundaries of the same year."
            )
        area_km2 = polygons.geometry.area.to_numpy() / 1e6
        neighbours = polygon_neighbours(polygons)
        rank_by = "density"
    else:
        area_km2, neighbours, rank_by = np.ones(len(codes)), None, "score"
    period = table["month"].astype("period[M]")
    row = (period.dt.year * 12 + period.dt.month - 1).to_numpy(np.int64) - _month_ordinal(
        first_label
    )
    col = codes.get_indexer(table["area_code"])
    counts_m, harm_m = _history(row, col, table, shape=(len(months), len(codes)))
    expected_counts, expected_harm, rank, result, fallback = _forecast_pair(
        counts_m,
        harm_m,
        months=months,
        neighbours=neighbours,
        area_km2=area_km2,
        groups=info["borough"].fillna("").to_numpy(),
        horizon=horizon,
        method=method,
        seed=seed,
        rank_by=rank_by,
        coverage=(0.05, 0.10),
    )
    places = pd.DataFrame(
        {
            "area": codes.to_numpy(dtype=object),
            "area_name": info["area_name"].to_numpy(),
            schema.BOROUGH: info["borough"].to_numpy(),
            "expected_incidents": expected_counts,
            "expected_harm": expected_harm,
            "rank": rank,
            "method": result.method,
        }
    )
    choices = {
        "areas": f"{len(codes):,} {counts.geography} areas with counts",
        "history": f"{len(months)} months {months[0]}..{months[-1]} (every month up to --until)",
        "method": fallback or result.reason,
        "rank": (
            "rank 1 = most expected harm"
            + (" per km²" if rank_by == "density" else "")
            + f" over the horizon; ties in a seeded random order (seed {seed})"
        ),
    }
    return _forecast(
        places, result, fallback, months=months, horizon=horizon, choices=choices, start=start
    )


def _history(
    row: np.ndarray, col: np.ndarray, sums: pd.DataFrame, *, shape: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Months x places matrices of counts and harm from (month row, place column) sums."""
    counts = np.zeros(shape)
    harm = np.zeros(shape)
    np.add.at(counts, (row, col), sums["count"].to_numpy(np.float64))
    np.add.at(harm, (row, col), sums["harm"].to_numpy(np.float64))
    return counts, harm


def _forecast(
    places: pd.DataFrame,
    result: Any,
    fallback: str | None,
    *,
    months: list[str],
    horizon: int,
    choices: dict[str, str],
    start: float,
) -> Forecast:
    """Bundle the places and the choice made into a :class:`Forecast`."""
    last = pd.Period(months[-1], freq="M")
    return Forecast(
        places=places,
        method=result.method,
        params=dict(result.params),
        reason=fallback or result.reason,
        history=(months[0], months[-1]),
        forecast_months=(str(last + 1), str(last + horizon)),
        horizon=horizon,
        choices=choices,
        inner_scores=result.inner_scores,
        seconds=time.perf_counter() - start,
    )
