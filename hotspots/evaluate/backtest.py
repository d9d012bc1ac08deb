"""Forecast evaluation: rolling-origin backtests of every hotspot method.

A hotspot map is only as good as its record on months it did not see. For each forecast
*origin* (a month), every method is run on the ``window`` months before it, the
top-ranked cells covering fixed shares of the study area are flagged, and the flags are
scored on the incidents (and the harm) of the ``horizon`` months from the origin on.

The metrics (plain functions over one value per cell; each is computed on counts and on
harm by passing counts or harm as ``observed``):

* :func:`hit_rate`: share of the test incidents that fall in flagged cells;
* :func:`pai`: Predictive Accuracy Index (Chainey, Tompson & Uhlig 2008), hit rate over
  the share of the area flagged; random flags give 1 on average;
* :func:`rri_levine`: Recapture Rate Index as Levine (2008) defines it, the change in
  the flagged cells' incidents between training and test relative to the change overall;
* :func:`rri_forecast`: the Recapture Rate Index as Wheeler & Steenbeek (2021) and the
  R package ``ptools`` define it, forecast over observed incidents in the flagged cells;
* :func:`pei`: Predictive Efficiency Index (Hunt 2016), the PAI over the best PAI any
  selection of the same *area* could have had;
* :func:`pei_star`: PEI* (White, Hunt & Green 2023), what was captured over the most a
  selection of the same *number of cells* could have captured.

The backtest (:func:`backtest`) builds the grid once, sums incidents and harm per cell
and month into a cells x months array, and runs each method on each training window:

========== ===========================================================================
method     cells ranked by (highest first; remaining ties in the seeded tie-break order)
========== ===========================================================================
harm       harm per cell in the window (the ``detect`` ranking)
kde        harm-weighted kernel density sampled to cells (``kde.density_for_detect``)
gi_star    Gi* z of harm per cell (significant hot cells first, as classes follow z)
clusters   harm of the DBSCAN cluster holding the cell, then the cell's own harm
emerging   new / consecutive / intensifying / persistent hot spots first, then harm
last_month incidents in the last month of the window (baseline)
random     a random order drawn afresh for every origin (baseline; PAI near 1)
========== ===========================================================================

**Exact coverage.** Cells are taken in rank order until their area is as close as it can
be to the target share (at most half a cell away; H3 cells of one resolution differ in
area by well under 1%), never by a score threshold, so ties cannot inflate the area.
Ties, and the cells with no signal at all (score 0, e.g. no harm in the window), are
ordered by one seeded random permutation of the cells shared by every method and origin
(not by cell id, which would favour one part of the map). Zero-score cells are therefore
only flagged when the positive ones do not fill the area, and then in that random order.

**Per borough.** Each borough is ranked on its own: the same scores, restricted to the
borough's cells (a cell belongs to the borough holding its centre), flag the top share of
the *borough's* area and are scored on the borough's test incidents. This answers "how
well would this method have tasked my borough", with coverage exact in every borough.
"""

from __future__ import annotations

import base64
import dataclasses
import io
import json
import logging
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd

from hotspots.core import schema
from hotspots.core.errors import InputError, SchemaError
from hotspots.geo.geocode import Areas

if TYPE_CHECKING:
    import scipy.sparse as sp

    from hotspots.detect.points import DetectOptions
    from hotspots.ingest.read import IngestSettings

logger = logging.getLogger(__name__)

METHODS = ("harm", "kde", "gi_star", "clusters", "emerging", "last_month", "random")
"""Every method the backtest can run, in report order (the last two are baselines)."""
BASELINES = ("last_month", "random")
METHOD_LABELS = {
    "harm": "harm per cell",
    "kde": "kernel density",
    "gi_star": "Gi* z",
    "clusters": "DBSCAN clusters",
    "emerging": "emerging trends",
    "last_month": "last month (baseline)",
    "random": "random (baseline)",
}
DEFAULT_COVERAGE_PCT = (1.0, 2.0, 5.0, 10.0)
"""Shares of the study area flagged, in percent."""
MEASURES = ("counts", "harm")
"""What the flags are scored on: incident counts and harm of the test months."""
METRICS = ("hit_rate", "pai", "rri_levine", "rri_forecast", "pei", "pei_star")
"""Metrics per measure, in table order."""
AREA_METRICS = ("area_share", "cells")
"""Metrics of the flagged selection itself (``measure`` is ``"area"``)."""
ALL = "ALL"
"""``borough`` value of the study-area-wide results."""
ACTIVE_TRENDS = ("new", "consecutive", "intensifying", "persistent")
"""Emerging hot-spot classes ranked first by the ``emerging`` method."""
EVALUATION_COLUMNS = ("origin", "method", "coverage", "borough", "measure", "metric", "value")
OKABE_ITO = {
    "harm": "#D55E00",
    "kde": "#0072B2",
    "gi_star": "#CC79A7",
    "clusters": "#009E73",
    "emerging": "#E69F00",
    "last_month": "#56B4E9",
    "random": "#999999",
}
"""Colour-blind-safe colours per method (Okabe & Ito 2008)."""


# --- metrics ---------------------------------------------------------------------------


def _vectors(flagged: object, *arrays: object) -> tuple[np.ndarray, ...]:
    """Check and return one flag array and same-length float arrays."""
    mask = np.asarray(flagged)
    if mask.ndim != 1 or mask.dtype != bool:
        raise SchemaError(
            f"flagged must be a 1-d boolean array (one flag per cell); got dtype {mask.dtype} "
            f"and shape {mask.shape}."
        )
    out: list[np.ndarray] = [mask]
    for array in arrays:
        values = np.asarray(array, dtype=np.float64)
        if values.shape != mask.shape:
            raise SchemaError(
                f"every array must hold one value per cell like flagged ({mask.shape[0]}); got "
                f"shape {values.shape}."
            )
        if not np.isfinite(values).all() or (values < 0).any():
            raise SchemaError(
                "counts, harm and areas must be finite and >= 0; fill cells without incidents "
                "with 0 (e.g. from space_time_cube) before scoring."
            )
        out.append(values)
    return tuple(out)


def _ratio(numerator: float, denominator: float) -> float:
    return float(numerator / denominator) if denominator > 0 else float("nan")


def hit_rate(flagged: np.ndarray, observed: np.ndarray) -> float:
    """Share of the observed incidents (or harm) that fall in flagged cells.

    Parameters
    ----------
    flagged
        One boolean per cell: flagged as a hotspot.
    observed
        Test-period incidents (or harm) per cell, >= 0.

    Returns
    -------
    float
        ``n / N`` in [0, 1]; NaN when nothing was observed.
    """
    mask, values = _vectors(flagged, observed)
    return _ratio(values[mask].sum(), values.sum())


def pai(flagged: np.ndarray, observed: np.ndarray, area: np.ndarray) -> float:
    """Predictive Accuracy Index: hit rate over the share of the area flagged.

    ``PAI = (n / N) / (a / A)`` (Chainey, Tompson & Uhlig 2008), with ``n`` of the ``N``
    test incidents in the flagged cells, whose area ``a`` is part of the total area ``A``.
    Flags placed at random give 1 on average; 10 means ten times the incidents per km²
    of an average place.

    Parameters
    ----------
    flagged
        One boolean per cell.
    observed
        Test incidents (or harm) per cell.
    area
        Area of each cell (any unit; only shares matter).

    Returns
    -------
    float
        NaN when nothing was observed or nothing was flagged.
    """
    mask, values, areas = _vectors(flagged, observed, area)
    share = _ratio(areas[mask].sum(), areas.sum())
    return _ratio(_ratio(values[mask].sum(), values.sum()), share)


def rri_levine(flagged: np.ndarray, observed: np.ndarray, train: np.ndarray) -> float:
    """Recapture Rate Index as defined by Levine (2008).

    ``RRI = (n2 / n1) / (N2 / N1)``: ``n1`` and ``n2`` are the training and test incidents
    in the flagged cells, ``N1`` and ``N2`` the training and test totals. It is 1 when the
    flagged cells keep their share of incidents from one period to the next, above 1 when
    they gain (the hotspots "recapture" more than their share), below 1 when they lose,
    which is what regression to the mean does to cells picked for their past counts.
    This is the definition in Levine, "The 'hottest' part of a hotspot", *Security
    Journal* 21 (2008) and in CrimeStat.

    Parameters
    ----------
    flagged
        One boolean per cell.
    observed
        Test incidents (or harm) per cell.
    train
        Training-window incidents (or harm) per cell.

    Returns
    -------
    float
        NaN when a denominator is 0 (no training incidents in the flagged cells, or none
        observed at all).
    """
    mask, test, past = _vectors(flagged, observed, train)
    return _ratio(_ratio(test[mask].sum(), past[mask].sum()), _ratio(test.sum(), past.sum()))


def rri_forecast(flagged: np.ndarray, observed: np.ndarray, forecast: np.ndarray) -> float:
    """Recapture Rate Index as predicted over observed incidents in the flagged cells.

    ``RRI = sum(forecast in flagged) / sum(observed in flagged)``, the definition of
    Wheeler & Steenbeek, "Mapping the risk terrain for crime using machine learning",
    *J. Quant. Criminol.* 37 (2021), as computed by the R package ``ptools`` (``pai``).
    1 is a calibrated forecast; above 1 the flagged cells got fewer incidents than
    forecast, below 1 more. (This one compares forecast and observed *counts*; no
    published rank-based variant was found.) In :func:`backtest` the forecast of every
    method is the training window's monthly mean times the horizon, the one forecast in
    incident units that every method shares.

    Parameters
    ----------
    flagged
        One boolean per cell.
    observed
        Test incidents (or harm) per cell.
    forecast
        Forecast incidents (or harm) per cell for the test period.

    Returns
    -------
    float
        NaN when no incident was observed in the flagged cells.
    """
    mask, test, predicted = _vectors(flagged, observed, forecast)
    return _ratio(predicted[mask].sum(), test[mask].sum())


def _prefix_length(cumulative_area: np.ndarray, target: float) -> int:
    """Count the leading cells whose total area is closest to ``target`` (ties: fewer)."""
    j = int(np.searchsorted(cumulative_area, target, side="left"))
    if j >= len(cumulative_area):
        return len(cumulative_area)
    over = cumulative_area[j] - target
    under = target - (cumulative_area[j - 1] if j > 0 else 0.0)
    return j + 1 if over < under else j


def _oracle_order(observed: np.ndarray, area: np.ndarray) -> np.ndarray:
    """Return the cells by observed density, highest first (ties by position)."""
    density = np.divide(observed, area, out=np.zeros_like(observed), where=area > 0)
    return np.argsort(-density, kind="stable")


def pei(flagged: np.ndarray, observed: np.ndarray, area: np.ndarray) -> float:
    """Predictive Efficiency Index: the PAI over the best PAI of the same area.

    ``PEI = PAI / PAI*`` (Hunt 2016, "Do crime hot spots move?"), where ``PAI*`` is the
    PAI of a perfect forecast flagging the same area: the cells with the most observed
    incidents per km², taken until their area is closest to the flagged area. With cells
    of equal area this is ``n / n*``, the incidents captured over the most any selection
    of that area could capture, between 0 and 1 (with unequal cells it can pass 1 by the
    half-cell rounding of the perfect selection's area).

    Parameters
    ----------
    flagged
        One boolean per cell.
    observed
        Test incidents (or harm) per cell.
    area
        Area of each cell.

    Returns
    -------
    float
        NaN when nothing was observed or nothing was flagged.
    """
    mask, values, areas = _vectors(flagged, observed, area)
    order = _oracle_order(values, areas)
    cumulative = np.cumsum(areas[order])
    k = _prefix_length(cumulative, float(areas[mask].sum()))
    best = np.zeros_like(mask)
    best[order[:k]] = True
    return _ratio(pai(mask, values, areas), pai(best, values, areas))


def pei_star(flagged: np.ndarray, observed: np.ndarray) -> float:
    """PEI*: incidents captured over the most the same number of cells could capture.

    ``PEI* = n / n*_k`` where ``k`` cells were flagged and ``n*_k`` is the sum of the
    ``k`` largest observed values (White, Hunt & Green, "A discussion of current crime
    forecasting indices and an improvement to the prediction efficiency index",
    *Security Journal* 2023; the efficiency measure of NIJ's Real-Time Crime Forecasting
    Challenge). It counts patrol places rather than km², so it is between 0 and 1 whatever
    the cell areas.

    Parameters
    ----------
    flagged
        One boolean per cell.
    observed
        Test incidents (or harm) per cell.

    Returns
    -------
    float
        NaN when the best ``k`` cells hold nothing (or nothing was flagged).
    """
    mask, values = _vectors(flagged, observed)
    k = int(mask.sum())
    best = np.sort(values)[::-1][:k].sum()
    return _ratio(values[mask].sum(), best)


# --- ranking and flagging --------------------------------------------------------------


def tie_break_order(n_cells: int, *, seed: int | None) -> np.ndarray:
    """Return a seeded random priority per cell (0 = first) for breaking ties.

    Parameters
    ----------
    n_cells
        Number of cells.
    seed
        Seed of ``numpy.random.default_rng``.
    """
    return np.random.default_rng(seed).permutation(n_cells)


def rank_cells(*keys: np.ndarray, tie_break: np.ndarray) -> np.ndarray:
    """Order cells by one or more scores, highest first, then by ``tie_break``.

    Parameters
    ----------
    *keys
        Scores per cell, the first most important (e.g. cluster harm, then cell harm).
        NaN ranks below every number.
    tie_break
        A priority per cell, lowest first (e.g. from :func:`tie_break_order`), which
        settles every remaining tie, so the order is total and reproducible.

    Returns
    -------
    numpy.ndarray
        Cell positions, best first.
    """
    if not keys:
        raise SchemaError("rank_cells needs at least one score array.")
    priority = np.asarray(tie_break)
    columns = []
    for key in keys:
        values = np.asarray(key, dtype=np.float64)
        if values.shape != priority.shape:
            raise SchemaError(
                f"scores and tie_break must hold one value per cell; got {values.shape} and "
                f"{priority.shape}."
            )
        columns.append(-np.where(np.isnan(values), -np.inf, values))
    return np.lexsort((priority, *reversed(columns)))


def flag_top_area(order: np.ndarray, area: np.ndarray, *, share: float) -> np.ndarray:
    """Flag the leading cells of ``order`` whose area is closest to ``share`` of the total.

    Parameters
    ----------
    order
        Cell positions, best first (from :func:`rank_cells`).
    area
        Area per cell.
    share
        Target share of the total area, in (0, 1].

    Returns
    -------
    numpy.ndarray
        One boolean per cell. The flagged area is within half a cell of the target, and
        cells enter by rank, never by a score threshold, so ties cannot inflate it.
    """
    if not 0 < share <= 1:
        raise SchemaError(f"share must be in (0, 1], e.g. 0.05 for 5%; got {share}.")
    areas = np.asarray(area, dtype=np.float64)
    ranked = np.asarray(order)
    if sorted(ranked.tolist()) != list(range(len(areas))):
        raise SchemaError("order must list every cell position exactly once (see rank_cells).")
    k = _prefix_length(np.cumsum(areas[ranked]), share * float(areas.sum()))
    flagged = np.zeros(len(areas), dtype=bool)
    flagged[ranked[:k]] = True
    return flagged


# --- origins ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Origin:
    """One forecast origin: train on ``train`` months, score on ``test`` months.

    Attributes
    ----------
    label
        The first test month, ``YYYY-MM`` (the ``origin`` column of the table).
    train
        First and last training month.
    test
        First and last test month.
    """

    label: str
    train: tuple[str, str]
    test: tuple[str, str]


def _month_pair(value: str | tuple[str, str] | None, *, name: str) -> tuple[str, str]:
    from hotspots.ingest.read import parse_months

    if value is None:
        raise InputError(f"{name} is required, e.g. {name} 2023-01..2023-12.")
    if isinstance(value, str):
        parsed = parse_months(value)
        if parsed is None:
            raise InputError(f"{name} is empty; give a month range like 2023-01..2023-12.")
        return parsed
    start, end = (str(v) for v in value)
    return parse_months(f"{start}..{end}") or (start, end)


def plan_origins(
    *,
    train: str | tuple[str, str],
    test: str | tuple[str, str],
    window: int = 12,
    horizon: int = 1,
) -> tuple[Origin, ...]:
    """Lay out the rolling origins of a backtest.

    Every month ``o`` of ``test`` from its start to ``horizon - 1`` months before its end
    is an origin: the method trains on the ``window`` months before ``o`` and is scored on
    ``o`` and the ``horizon - 1`` months after it. Origins step by one month, so later
    origins train on earlier test months (they are in the past by then).

    Parameters
    ----------
    train
        ``"A..B"`` or ``(A, B)``: the months available for training before the test
        period. It must end the month before ``test`` starts and reach back at least
        ``window`` months.
    test
        ``"C..D"`` or ``(C, D)``: the months scored.
    window
        Training months per origin.
    horizon
        Test months per origin.

    Returns
    -------
    tuple of Origin
        In time order.

    Raises
    ------
    InputError
        If the test period does not follow the training period, or is shorter than the
        horizon, or the training period is shorter than the window.
    """
    train_from, train_to = _month_pair(train, name="--train")
    test_from, test_to = _month_pair(test, name="--test")
    if window < 1 or horizon < 1:
        raise InputError(
            f"--window and --horizon must be at least 1 month; got {window} and {horizon}."
        )
    a, b, c, d = (pd.Period(m, freq="M") for m in (train_from, train_to, test_from, test_to))
    if c <= b:
        raise InputError(
            f"--test {test_from}..{test_to} starts before --train {train_from}..{train_to} "
            "ends; the test months must come after the training months, e.g. "
            f"--train {train_from}..{train_to} --test {b + 1}..{max(d, b + 1)}."
        )
    if c != b + 1:
        raise InputError(
            f"--train ends {train_to} but --test starts {test_from}: the training window rolls "
            "up to each test month, so --train must end the month before --test starts "
            f"({c - 1})."
        )
    months_of_test = (d - c).n + 1
    if months_of_test < horizon:
        raise InputError(
            f"--test {test_from}..{test_to} has {months_of_test} month(s), fewer than "
            f"--horizon {horizon}."
        )
    first_needed = c - window
    if first_needed < a:
        raise InputError(
            f"--window {window} needs training months from {first_needed}, but --train starts "
            f"{train_from}; start --train at {first_needed} or earlier, or use a shorter "
            "--window."
        )
    origins = []
    for step in range(months_of_test - horizon + 1):
        o = c + step
        origins.append(
            Origin(
                label=str(o),
                train=(str(o - window), str(o - 1)),
                test=(str(o), str(o + horizon - 1)),
            )
        )
    return tuple(origins)


def check_months_present(incidents: pd.DataFrame, months: Sequence[str]) -> None:
    """Raise :class:`InputError` naming every month in ``months`` with no incident.

    data.police.uk publishes every month, so a month with no incident is a month missing
    from the input (or outside the selected crime types).
    """
    schema.require_columns(incidents, [schema.MONTH], name="incidents")
    present = set(pd.PeriodIndex(incidents[schema.MONTH], freq="M").astype(str))
    missing = [m for m in months if m not in present]
    if missing:
        raise InputError(
            f"{len(missing)} of the {len(months)} month(s) that --train/--test need "
            f"({months[0]}..{months[-1]}) have no incidents in the input: "
            f"{', '.join(missing[:12])}{' ...' if len(missing) > 12 else ''}; add those months' "
            "files, or choose --train/--test (and --window) within the months the input holds."
        )


# --- the backtest ----------------------------------------------------------------------


@dataclass(frozen=True)
class Backtest:
    """Scores of every method at every origin, coverage and borough.

    Attributes
    ----------
    scores
        Tidy table with columns :data:`EVALUATION_COLUMNS`: ``origin`` (first test
        month), ``method``, ``coverage`` (percent of the area), ``borough`` (``"ALL"`` or
        a borough name), ``measure`` (``"counts"``, ``"harm"``, or ``"area"`` for the
        selection itself), ``metric`` and ``value`` (NaN where a metric is undefined).
    origins
        One row per origin: ``origin``, ``train_from``, ``train_to``, ``test_from``,
        ``test_to``, ``train_incidents``, ``test_incidents``, ``test_harm``.
    methods
        Methods run, in order.
    coverage_pct
        Coverages, in percent.
    choices
        Readable sentences on every choice made.
    parameters
        The same, machine-readable, for the manifest.
    """

    scores: pd.DataFrame
    origins: pd.DataFrame
    methods: tuple[str, ...]
    coverage_pct: tuple[float, ...]
    choices: dict[str, str]
    parameters: dict[str, object]


@dataclass(frozen=True)
class _Group:
    """Cells of one borough (or all), with their areas."""

    name: str
    cells: np.ndarray  # positions in the grid, sorted
    area: np.ndarray


@dataclass(frozen=True)
class _Window:
    """Per-cell arrays of one origin."""

    train: dict[str, np.ndarray]  # measure -> training totals
    test: dict[str, np.ndarray]  # measure -> test totals
    last_counts: np.ndarray
    incidents: gpd.GeoDataFrame
    harm_cube: pd.DataFrame  # cells x training months (for emerging)


@dataclass
class _Columns:
    """Growing columns of the scores table (blocks of numpy arrays)."""

    blocks: dict[str, list[np.ndarray]] = field(
        default_factory=lambda: {c: [] for c in EVALUATION_COLUMNS}
    )

    def add(self, **columns: np.ndarray) -> None:
        for name, values in columns.items():
            self.blocks[name].append(values)

    def frame(self) -> pd.DataFrame:
        data = {
            name: np.concatenate(parts) if parts else np.array([], dtype=object)
            for name, parts in self.blocks.items()
        }
        out = pd.DataFrame(data)
        out["value"] = out["value"].astype(np.float64)
        out["coverage"] = out["coverage"].astype(np.float64)
        return out


def _scores(
    method: str,
    window: _Window,
    *,
    grid: gpd.GeoDataFrame,
    study: Areas,
    weights: sp.csr_matrix,
    options: DetectOptions,
    random_scores: np.ndarray,
) -> tuple[np.ndarray, ...]:
    """Return the ranking keys of one method on one training window (highest first)."""
    from hotspots.detect.points import DEFAULT_EPS_M
    from hotspots.methods import clusters as clustering
    from hotspots.methods import emerging, kde
    from hotspots.methods import gi as stats

    harm = window.train["harm"]
    if method == "harm":
        return (harm,)
    if method == "last_month":
        return (window.last_counts,)
    if method == "random":
        return (random_scores,)
    if method == "kde":
        placed = window.incidents
        density = kde.density_for_detect(
            placed.geometry.x.to_numpy(),
            placed.geometry.y.to_numpy(),
            placed[schema.HARM].to_numpy(dtype=np.float64),
            cells=grid,
            study_area=study.outline,
            kernel=options.kernel,
            rule=options.bandwidth_rule,
            bandwidth_m=options.bandwidth_m,
            adjust=options.adjust,
            cell_size_m=options.grid_m,
            edge_correction=options.edge_correction,
        )
        return (density.density.to_numpy(dtype=np.float64),)
    if method == "gi_star":
        gi = stats.gi_star(harm, weights, fdr=options.fdr)
        return (gi[stats.GI_Z].to_numpy(dtype=np.float64),)
    if method == "clusters":
        placed = window.incidents
        found = clustering.find_clusters(
            placed,
            method=options.cluster_method,
            eps_m=options.eps_m if options.eps_m is not None else DEFAULT_EPS_M,
            min_harm=options.min_harm,
        )
        of_cell = clustering.clusters_per_cell(found, placed).reindex(grid.index, fill_value=-1)
        cluster_harm = found.polygons[schema.HARM].astype(np.float64)
        keys = of_cell.to_numpy()
        by_cluster = np.zeros(len(keys))
        inside = keys >= 0
        by_cluster[inside] = cluster_harm.reindex(keys[inside]).to_numpy(dtype=np.float64)
        return (by_cluster, harm)
    if method == "emerging":
        result = emerging.emerging_hotspots(window.harm_cube, weights, fdr=options.fdr)
        active = result[emerging.TREND].astype(object).isin(ACTIVE_TRENDS).to_numpy()
        return (active.astype(np.float64), harm)
    raise SchemaError(f"unknown method {method!r}; choose from {list(METHODS)}.")


def _selection_block(
    order: np.ndarray,
    group: _Group,
    window: _Window,
    *,
    coverage_pct: Sequence[float],
    oracle: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]],
    forecast_factor: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every metric of one ranking within one group, at every coverage.

    Computed from cumulative sums along the ranking (equal to the public metric
    functions on the flags of :func:`flag_top_area`; a test checks that).

    Returns
    -------
    tuple
        ``(coverage, measure, metric, value)`` arrays of one length.
    """
    areas = group.area
    total_area = float(areas.sum())
    cum_area = np.cumsum(areas[order])
    coverage_out, measure_out, metric_out, value_out = [], [], [], []
    lengths = [_prefix_length(cum_area, pct / 100.0 * total_area) for pct in coverage_pct]
    cums = {}
    for measure in MEASURES:
        test = window.test[measure][group.cells]
        train = window.train[measure][group.cells]
        cums[measure] = (np.cumsum(test[order]), np.cumsum(train[order]), test.sum(), train.sum())
    for pct, k in zip(coverage_pct, lengths, strict=True):
        flagged_area = float(cum_area[k - 1]) if k else 0.0
        area_share = flagged_area / total_area if total_area > 0 else float("nan")
        coverage_out += [pct, pct]
        measure_out += ["area", "area"]
        metric_out += list(AREA_METRICS)
        value_out += [area_share, float(k)]
        for measure in MEASURES:
            cum_test, cum_train, total_test, total_train = cums[measure]
            n = float(cum_test[k - 1]) if k else 0.0
            n1 = float(cum_train[k - 1]) if k else 0.0
            hit = _ratio(n, total_test)
            pai_value = _ratio(hit, area_share)
            rri_lev = _ratio(_ratio(n, n1), _ratio(total_test, total_train))
            rri_fc = _ratio(n1 * forecast_factor, n)
            best_cum_area, best_cum_test, sorted_cum = oracle[measure]
            k_best = _prefix_length(best_cum_area, flagged_area)
            best_n = float(best_cum_test[k_best - 1]) if k_best else 0.0
            best_area = float(best_cum_area[k_best - 1]) if k_best else 0.0
            best_pai = _ratio(_ratio(best_n, total_test), _ratio(best_area, total_area))
            pei_value = _ratio(pai_value, best_pai)
            pei_star_value = _ratio(n, float(sorted_cum[k - 1]) if k else 0.0)
            coverage_out += [pct] * len(METRICS)
            measure_out += [measure] * len(METRICS)
            metric_out += list(METRICS)
            value_out += [hit, pai_value, rri_lev, rri_fc, pei_value, pei_star_value]
    return (
        np.asarray(coverage_out, dtype=np.float64),
        np.asarray(measure_out, dtype=object),
        np.asarray(metric_out, dtype=object),
        np.asarray(value_out, dtype=np.float64),
    )


def _oracle(
    group: _Group, window: _Window
) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Return the perfect selections of one group at one origin (for PEI and PEI*)."""
    out = {}
    for measure in MEASURES:
        test = window.test[measure][group.cells]
        order = _oracle_order(test, group.area)
        out[measure] = (
            np.cumsum(group.area[order]),
            np.cumsum(test[order]),
            np.cumsum(np.sort(test)[::-1]),
        )
    return out


def _groups(grid: gpd.GeoDataFrame) -> list[_Group]:
    areas = grid["area_km2"].to_numpy(dtype=np.float64)
    groups = [_Group(ALL, np.arange(len(grid)), areas)]
    boroughs = grid[schema.BOROUGH].astype(object).to_numpy()
    known = pd.Series(boroughs).dropna()
    for name in sorted(set(known)):
        cells = np.flatnonzero(boroughs == name)
        groups.append(_Group(str(name), cells, areas[cells]))
    return groups


def _restrict(order: np.ndarray, group: _Group, n_cells: int) -> np.ndarray:
    """Return the positions within ``group`` of its cells, in the global ranking order."""
    if group.name == ALL:
        return order
    position = np.full(n_cells, -1)
    position[group.cells] = np.arange(len(group.cells))
    ranked = position[order]
    return ranked[ranked >= 0]


def backtest(
    incidents: gpd.GeoDataFrame,
    study: Areas,
    *,
    origins: Sequence[Origin],
    coverage_pct: Sequence[float] = DEFAULT_COVERAGE_PCT,
    methods: Sequence[str] = METHODS,
    seed: int | None = 0,
    options: DetectOptions | None = None,
    grid: gpd.GeoDataFrame | None = None,
    per_borough: bool = True,
    on_origin: Callable[[int, int], None] | None = None,
) -> Backtest:
    """Run every method at every origin and score the flags on the following months.

    Parameters
    ----------
    incidents
        Tidy incidents (from :func:`hotspots.read_incidents` or :func:`hotspots.read_store`)
        covering every training and test month of ``origins``.
    study
        Study areas (London boroughs by default); the grid covers them.
    origins
        From :func:`plan_origins`.
    coverage_pct
        Shares of the study area to flag, in percent.
    methods
        Subset of :data:`METHODS`.
    seed
        Seed of the tie-break order and of the random baseline.
    options
        :class:`hotspots.detect.points.DetectOptions` (resolution, kernel density, Gi* and
        cluster settings); the defaults of ``detect`` when ``None``.
    grid
        A grid from :func:`hotspots.geo.grid.make_grid` at ``options.resolution`` (built when
        ``None``).
    per_borough
        Also rank and score each borough on its own (see the module notes).
    on_origin
        Called with (origins done, origins in all) after each origin.

    Returns
    -------
    Backtest
        The tidy scores table, the origins and every choice.

    Raises
    ------
    InputError
        If a month the origins need has no incidents.
    SchemaError
        If a column is missing, a method is unknown or a coverage is out of range.
    """
    from hotspots.detect.points import MIN_MONTHS_FOR_TRENDS, DetectOptions
    from hotspots.geo.grid import make_grid
    from hotspots.methods.emerging import space_time_cube
    from hotspots.methods.gi import h3_neighbours

    options = options or DetectOptions()
    if not origins:
        raise InputError("no forecast origins; see plan_origins.")
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        raise SchemaError(f"unknown method(s) {unknown}; choose from {list(METHODS)}.")
    coverages = tuple(float(c) for c in coverage_pct)
    if not coverages or any(not 0 < c <= 100 for c in coverages):
        raise SchemaError(
            f"coverages must be percentages in (0, 100], e.g. 1,2,5,10; got {list(coverage_pct)}."
        )
    schema.require_columns(
        incidents,
        [
            schema.MONTH,
            schema.HARM,
            schema.CELL_ID,
            schema.LOCATION,
            schema.BOROUGH,
            schema.BOROUGH_CODE,
        ],
        name="incidents",
    )
    if incidents.crs is None or incidents.crs.is_geographic:
        raise SchemaError(
            "incidents must be in a projected CRS (metres); load them with read_incidents."
        )
    first = pd.Period(origins[0].train[0], freq="M")
    last = pd.Period(origins[-1].test[1], freq="M")
    months = pd.period_range(first, last, freq="M")
    month_labels = [str(m) for m in months]
    check_months_present(incidents, month_labels)
    window_months = (
        pd.Period(origins[0].label, freq="M") - pd.Period(origins[0].train[0], freq="M")
    ).n
    horizon = (
        pd.Period(origins[0].test[1], freq="M") - pd.Period(origins[0].test[0], freq="M")
    ).n + 1
    chosen = list(dict.fromkeys(methods))
    notes: dict[str, str] = {}
    if "emerging" in chosen and window_months < MIN_MONTHS_FOR_TRENDS:
        chosen.remove("emerging")
        notes["emerging"] = (
            f"left out: emerging hot-spot classes need at least {MIN_MONTHS_FOR_TRENDS} monthly "
            f"slices and the window has {window_months}"
        )

    start = time.perf_counter()
    if grid is None:
        grid = make_grid(study, resolution=options.resolution)
    period_of = pd.PeriodIndex(incidents[schema.MONTH], freq="M")
    in_span = (period_of >= first) & (period_of <= last) & incidents[schema.CELL_ID].notna()
    placed = incidents[np.asarray(in_span)]
    counts_cube = space_time_cube(placed, grid, value=None, months=months).to_numpy()
    harm_frame = space_time_cube(placed, grid, value=schema.HARM, months=months)
    harm_cube = harm_frame.to_numpy()
    weights = h3_neighbours(grid.index, k=options.neighbours_k)
    n_cells = len(grid)
    rng = np.random.default_rng(seed)
    tie_break = rng.permutation(n_cells)
    groups = _groups(grid) if per_borough else _groups(grid)[:1]
    placed_months = pd.PeriodIndex(placed[schema.MONTH], freq="M")
    weights_seen = placed[schema.HARM].dropna().unique()
    if len(weights_seen) == 1:
        notes["harm_note"] = (
            f"every incident carries the same harm weight ({float(weights_seen[0]):g}), so "
            "harm is proportional to counts and the harm results repeat the count results"
        )
    setup_s = time.perf_counter() - start

    columns = _Columns()
    origin_rows = []
    method_seconds = dict.fromkeys(chosen, 0.0)
    forecast_factor = horizon / window_months
    for step, origin in enumerate(origins):
        o = months.get_loc(pd.Period(origin.label, freq="M"))
        train_slice = slice(o - window_months, o)
        test_slice = slice(o, o + horizon)
        train_periods = months[train_slice]
        in_window = (placed_months >= train_periods[0]) & (placed_months <= train_periods[-1])
        window = _Window(
            train={
                "counts": counts_cube[:, train_slice].sum(axis=1),
                "harm": harm_cube[:, train_slice].sum(axis=1),
            },
            test={
                "counts": counts_cube[:, test_slice].sum(axis=1),
                "harm": harm_cube[:, test_slice].sum(axis=1),
            },
            last_counts=counts_cube[:, o - 1],
            incidents=placed[np.asarray(in_window)],
            harm_cube=harm_frame.iloc[:, train_slice],
        )
        random_scores = rng.random(n_cells)
        origin_rows.append(
            {
                "origin": origin.label,
                "train_from": origin.train[0],
                "train_to": origin.train[1],
                "test_from": origin.test[0],
                "test_to": origin.test[1],
                "train_incidents": int(window.train["counts"].sum()),
                "test_incidents": int(window.test["counts"].sum()),
                "test_harm": float(window.test["harm"].sum()),
            }
        )
        oracles = [_oracle(group, window) for group in groups]
        for method in chosen:
            t0 = time.perf_counter()
            keys = _scores(
                method,
                window,
                grid=grid,
                study=study,
                weights=weights,
                options=options,
                random_scores=random_scores,
            )
            order = rank_cells(*keys, tie_break=tie_break)
            for group, oracle in zip(groups, oracles, strict=True):
                local = _restrict(order, group, n_cells)
                coverage, measure, metric, value = _selection_block(
                    local,
                    group,
                    window,
                    coverage_pct=coverages,
                    oracle=oracle,
                    forecast_factor=forecast_factor,
                )
                size = len(value)
                columns.add(
                    origin=np.full(size, origin.label, dtype=object),
                    method=np.full(size, method, dtype=object),
                    coverage=coverage,
                    borough=np.full(size, group.name, dtype=object),
                    measure=measure,
                    metric=metric,
                    value=value,
                )
            method_seconds[method] += time.perf_counter() - t0
        if on_origin is not None:
            on_origin(step + 1, len(origins))
    scores = columns.frame()
    total_km2 = float(grid["area_km2"].sum())
    choices = {
        "origins": (
            f"{len(origins)} rolling origin(s) {origins[0].label}..{origins[-1].label}: each "
            f"trains on the {window_months} months before it and is scored on the next "
            f"{horizon} month(s)"
        ),
        "cells": (
            f"H3 resolution {options.resolution}: {n_cells:,} cells, {total_km2:,.1f} km² in "
            "all; coverage is a share of this area"
        ),
        "coverage": (
            "cells are flagged in rank order until their area is closest to the target "
            "(within half a cell), never by a score threshold"
        ),
        "ties": (
            f"ties and zero-score cells follow one random permutation of the cells (seed "
            f"{seed}), shared by every method and origin"
        ),
        "per_borough": (
            "each borough ranked on its own: the same scores restricted to its cells flag "
            "the top share of the borough's area, scored on its incidents"
            if per_borough
            else "not computed"
        ),
        "rri_forecast": (
            f"forecast = training-window total x {horizon}/{window_months} (the window's "
            "monthly mean over the horizon), the same for every method"
        ),
        **{f"method_{m}": _describe_method(m, options) for m in chosen},
        **notes,
    }
    parameters: dict[str, object] = {
        "origins": [dataclasses.asdict(o) for o in origins],
        "window_months": window_months,
        "horizon_months": horizon,
        "coverage_pct": list(coverages),
        "methods": chosen,
        "methods_left_out": notes,
        "seed": seed,
        "tie_break": "seeded random permutation of the cells (numpy default_rng(seed))",
        "random_baseline": "uniform random scores per origin from the same generator",
        "per_borough": "rank within each borough" if per_borough else None,
        "h3_resolution": options.resolution,
        "cells": n_cells,
        "study_area_km2": total_km2,
        "detect_options": dataclasses.asdict(options),
        "seconds": {
            "setup": round(setup_s, 3),
            **{m: round(s, 3) for m, s in method_seconds.items()},
        },
    }
    return Backtest(
        scores=scores,
        origins=pd.DataFrame(origin_rows),
        methods=tuple(chosen),
        coverage_pct=coverages,
        choices=choices,
        parameters=parameters,
    )


def _describe_method(method: str, options: DetectOptions) -> str:
    from hotspots.detect.points import DEFAULT_EPS_M

    eps = options.eps_m if options.eps_m is not None else DEFAULT_EPS_M
    texts = {
        "harm": "harm per cell over the training window",
        "kde": (
            f"{options.kernel} kernel density of harm (bandwidth "
            f"{options.bandwidth_m or 'automatic (250 m fixed by default)'}"
            f"{' m' if options.bandwidth_m else ''}, {options.grid_m:g} m grid, edge "
            f"correction {'on' if options.edge_correction else 'off'}) averaged over each cell"
        ),
        "gi_star": (
            f"Gi* z of harm per cell, H3 k={options.neighbours_k} neighbours; significant "
            "hot cells come first because the classes follow z"
        ),
        "clusters": (
            f"{options.cluster_method.upper()} on the window's incidents (eps {eps:g} m, "
            "automatic min_harm unless given); cells ranked by their cluster's harm, then "
            "their own harm; unclustered cells by their own harm"
        ),
        "emerging": (
            "emerging hot-spot classes over the window's months; new, consecutive, "
            "intensifying and persistent hot spots first, then every cell by harm"
        ),
        "last_month": "incidents per cell in the last month of the window (baseline)",
        "random": "a fresh random order of the cells at every origin (baseline)",
    }
    return texts[method]


# --- summaries -------------------------------------------------------------------------


def summarise(scores: pd.DataFrame, *, metric: str = "pai", borough: str = ALL) -> pd.DataFrame:
    """Median and interquartile range of a metric across origins.

    Parameters
    ----------
    scores
        ``Backtest.scores``.
    metric
        One of :data:`METRICS`.
    borough
        ``"ALL"`` or a borough name.

    Returns
    -------
    DataFrame
        One row per measure, coverage and method: ``median``, ``q25``, ``q75``, ``mean``
        and ``origins`` (origins with a defined value).
    """
    rows = scores[(scores["metric"] == metric) & (scores["borough"] == borough)]
    grouped = rows.groupby(["measure", "coverage", "method"], sort=False)["value"]
    out = pd.DataFrame(
        {
            "median": grouped.median(),
            "q25": grouped.quantile(0.25),
            "q75": grouped.quantile(0.75),
            "mean": grouped.mean(),
            "origins": grouped.count(),
        }
    )
    return out.reset_index()


@dataclass(frozen=True)
class Verdict:
    """The best method at one coverage and measure, and its margin over the baselines.

    Attributes
    ----------
    measure, coverage
        ``"counts"`` or ``"harm"``, and percent of the area.
    method
        The method (baselines excluded) with the highest median PAI across origins.
    median, q25, q75
        Its PAI across origins.
    baselines
        Per baseline: its median PAI and the median and quartiles of the per-origin
        ratio ``PAI(best) / PAI(baseline)``.
    """

    measure: str
    coverage: float
    method: str
    median: float
    q25: float
    q75: float
    baselines: dict[str, dict[str, float]]


def verdicts(scores: pd.DataFrame, *, borough: str = ALL) -> list[Verdict]:
    """Pick the best method per measure and coverage, by median PAI across origins.

    Parameters
    ----------
    scores
        ``Backtest.scores``.
    borough
        ``"ALL"`` or a borough name.

    Returns
    -------
    list of Verdict
        One per measure and coverage, counts first. Methods that are all NaN are skipped.
    """
    pai_rows = scores[(scores["metric"] == "pai") & (scores["borough"] == borough)]
    out = []
    for measure in MEASURES:
        of_measure = pai_rows[pai_rows["measure"] == measure]
        for coverage in sorted(of_measure["coverage"].unique()):
            wide = of_measure[of_measure["coverage"] == coverage].pivot_table(
                index="origin", columns="method", values="value", aggfunc="first", dropna=False
            )
            candidates = [m for m in wide.columns if m not in BASELINES]
            medians = wide[candidates].median() if candidates else pd.Series(dtype=float)
            medians = medians.dropna()
            if medians.empty:
                continue
            best = str(sorted(medians.index, key=lambda m: (-medians[m], METHODS.index(m)))[0])
            values = wide[best]
            baselines = {}
            for baseline in BASELINES:
                if baseline not in wide.columns:
                    continue
                ratio = (values / wide[baseline]).replace([np.inf, -np.inf], np.nan)
                baselines[baseline] = {
                    "median": float(wide[baseline].median()),
                    "q25": float(wide[baseline].quantile(0.25)),
                    "q75": float(wide[baseline].quantile(0.75)),
                    "ratio_median": float(ratio.median()),
                    "ratio_q25": float(ratio.quantile(0.25)),
                    "ratio_q75": float(ratio.quantile(0.75)),
                    "origins_beaten": int((values > wide[baseline]).sum()),
                    "origins": int((values.notna() & wide[baseline].notna()).sum()),
                }
            out.append(
                Verdict(
                    measure=measure,
                    coverage=float(coverage),
                    method=best,
                    median=float(values.median()),
                    q25=float(values.quantile(0.25)),
                    q75=float(values.quantile(0.75)),
                    baselines=baselines,
                )
            )
    return out


def verdict_sentence(verdict: Verdict) -> str:
    """One readable line: best method, its median PAI [IQR], and the margin over baselines."""
    what = "incidents" if verdict.measure == "counts" else "harm"
    parts = [
        f"{verdict.coverage:g}% of the area ({what}): {METHOD_LABELS[verdict.method]}, median "
        f"PAI {verdict.median:.2f} [IQR {verdict.q25:.2f}-{verdict.q75:.2f}]"
    ]
    for name, base in verdict.baselines.items():
        parts.append(
            f"{base['ratio_median']:.2f}x {METHOD_LABELS[name]} (PAI {base['median']:.2f}; "
            f"ratio IQR {base['ratio_q25']:.2f}-{base['ratio_q75']:.2f}, better at "
            f"{base['origins_beaten']}/{base['origins']} origins)"
        )
    return "; ".join(parts)


# --- figure and report -----------------------------------------------------------------


def figure_pai(scores: pd.DataFrame, *, borough: str = ALL) -> bytes:
    """Box plots of PAI across origins by method and coverage, on counts and on harm.

    Returns
    -------
    bytes
        A PNG image.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    rows = scores[(scores["metric"] == "pai") & (scores["borough"] == borough)]
    methods = [m for m in METHODS if m in set(rows["method"])]
    coverages = sorted(rows["coverage"].unique())
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.6), sharey=False)
    width = 0.8 / max(len(methods), 1)
    for ax, measure in zip(axes, MEASURES, strict=True):
        of_measure = rows[rows["measure"] == measure]
        for i, method in enumerate(methods):
            data, positions = [], []
            for j, coverage in enumerate(coverages):
                values = of_measure[
                    (of_measure["method"] == method) & (of_measure["coverage"] == coverage)
                ]["value"].dropna()
                data.append(values.to_numpy())
                positions.append(j + (i - (len(methods) - 1) / 2) * width)
            boxes = ax.boxplot(
                data,
                positions=positions,
                widths=width * 0.85,
                patch_artist=True,
                showfliers=True,
                flierprops={"markersize": 2.5, "markeredgecolor": OKABE_ITO[method]},
                medianprops={"color": "#000000", "linewidth": 1.4},
                manage_ticks=False,
            )
            for patch in boxes["boxes"]:
                patch.set_facecolor(OKABE_ITO[method])
                patch.set_edgecolor("#333333")
                if method in BASELINES:
                    patch.set_hatch("//")
        ax.axhline(1.0, color="#333333", linestyle=":", linewidth=1)
        ax.set_xticks(range(len(coverages)))
        ax.set_xticklabels([f"{c:g}%" for c in coverages])
        ax.set_xlabel("share of the study area flagged")
        ax.set_ylabel("PAI (1 = random)")
        ax.set_ylim(bottom=0)
        ax.grid(axis="y", alpha=0.3)
        ax.set_title(f"PAI on {'incident counts' if measure == 'counts' else 'harm'}")
    n_origins = rows["origin"].nunique()
    handles = [
        Patch(
            facecolor=OKABE_ITO[m],
            edgecolor="#333333",
            hatch="//" if m in BASELINES else None,
            label=METHOD_LABELS[m],
        )
        for m in methods
    ]
    fig.legend(handles=handles, loc="lower center", ncol=len(methods), fontsize=8, frameon=False)
    fig.suptitle(
        f"Forecast accuracy by method: PAI over {n_origins} rolling origin(s) "
        f"({borough if borough != ALL else 'whole study area'}; boxes: quartiles, line: median)",
        fontsize=11,
    )
    fig.tight_layout(rect=(0, 0.07, 1, 0.95))
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, metadata={"Software": None})
    plt.close(fig)
    return buffer.getvalue()


_REPORT = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{{ title }}</title>
<style>
  body { font-family: "DejaVu Sans", Arial, sans-serif; margin: 24px auto; max-width: 1000px; color: #1b1b1b; line-height: 1.4; }
  h1 { font-size: 22px; margin-bottom: 4px; }
  h2 { font-size: 17px; border-bottom: 2px solid #444; padding-bottom: 2px; margin-top: 28px; }
  .sub { color: #444; font-size: 13px; }
  table { border-collapse: collapse; width: 100%; font-size: 12px; margin: 8px 0; }
  th, td { border: 1px solid #bbb; padding: 3px 5px; text-align: left; vertical-align: top; }
  th { background: #f0f0f0; }
  td.num { text-align: right; font-variant-numeric: tabular-nums; }
  img { max-width: 100%; }
  .note { font-size: 12px; color: #444; }
  @page { size: A4; margin: 14mm; }
  @media print { body { margin: 0; max-width: none; font-size: 11px; } table, img { page-break-inside: avoid; } }
</style>
</head>
<body>
<h1>{{ title }}</h1>
<div class="sub">{{ origins_text }} · crime types: {{ crime_types }} · harm weights: {{ harm_table }}</div>
<div class="sub">Made by hotspots {{ version }} (run times and input hashes are in manifest.json).</div>

<h2>Verdict</h2>
{% if harm_note %}<p class="note">Harm results are not shown separately: {{ harm_note }}.</p>{% endif %}
<ul>
{% for line in verdict_lines %}<li>{{ line }}</li>
{% endfor %}
</ul>
<p class="note">PAI = share of the test incidents in the flagged cells / share of the area flagged; random
flags give 1. Medians and interquartile ranges (IQR) are across origins; "better at" counts the origins where
the best method's PAI beat the baseline's. The best method is chosen among the non-baseline methods by median PAI.</p>

<h2>PAI by method and coverage</h2>
<img alt="PAI by method and coverage" src="data:image/png;base64,{{ figure }}">

<h2>All metrics (whole study area): median [IQR] across origins</h2>
{% for measure, table in tables %}
<h3>{{ measure }}</h3>
<table>
  <tr><th>method</th><th>coverage</th>{% for m in metric_names %}<th>{{ m }}{% if m == "hit_rate" %} (%){% endif %}</th>{% endfor %}</tr>
  {% for row in table %}
  <tr><td>{{ row.method }}</td><td class="num">{{ row.coverage }}</td>
  {% for cell in row.cells %}<td class="num">{{ cell }}</td>{% endfor %}</tr>
  {% endfor %}
</table>
{% endfor %}

<h2>Per borough: median PAI on incident counts</h2>
<p class="note">Each borough ranked on its own (the top share of the borough's own area); few incidents per
borough and month make these noisy.</p>
{% if not borough_rows %}<p class="note">Not computed (--no-per-borough).</p>{% else %}
<table>
  <tr><th>borough</th>{% for c in borough_coverages %}<th>best at {{ c }}</th>{% endfor %}</tr>
  {% for row in borough_rows %}
  <tr><td>{{ row.borough }}</td>{% for cell in row.cells %}<td>{{ cell }}</td>{% endfor %}</tr>
  {% endfor %}
</table>
{% endif %}

<h2>Origins</h2>
<table>
  <tr><th>origin</th><th>training months</th><th>test months</th><th>training incidents</th><th>test incidents</th><th>test harm</th></tr>
  {% for o in origins %}
  <tr><td>{{ o.origin }}</td><td>{{ o.train_from }}..{{ o.train_to }}</td><td>{{ o.test_from }}..{{ o.test_to }}</td>
  <td class="num">{{ "{:,}".format(o.train_incidents) }}</td><td class="num">{{ "{:,}".format(o.test_incidents) }}</td>
  <td class="num">{{ "{:,.0f}".format(o.test_harm) }}</td></tr>
  {% endfor %}
</table>

<h2>Definitions and choices</h2>
<table>
  {% for key, text in definitions %}<tr><th>{{ key }}</th><td>{{ text }}</td></tr>
  {% endfor %}
  {% for key, text in choices %}<tr><th>{{ key }}</th><td>{{ text }}</td></tr>
  {% endfor %}
</table>
</body>
</html>
"""

DEFINITIONS = {
    "hit_rate": "share of the test incidents (or harm) in the flagged cells, n/N (in % in the tables)",
    "pai": "Predictive Accuracy Index (Chainey et al. 2008): (n/N) / (a/A)",
    "rri_levine": (
        "Recapture Rate Index, Levine (2008): (n2/n1) / (N2/N1), test over training "
        "incidents in the flagged cells relative to the totals; below 1 the hotspots lost share"
    ),
    "rri_forecast": (
        "Recapture Rate Index, Wheeler & Steenbeek (2021) / ptools: forecast / observed "
        "incidents in the flagged cells (forecast = training monthly mean x horizon)"
    ),
    "pei": "Predictive Efficiency Index (Hunt 2016): PAI / best PAI of the same area",
    "pei_star": (
        "PEI* (White, Hunt & Green 2023): n / most incidents the same number of cells "
        "could capture"
    ),
    "area_share, cells": "share of the area actually flagged, and cells flagged",
}


def _cell(median: float, q25: float, q75: float) -> str:
    if not np.isfinite(median):
        return "–"
    return f"{median:.2f} [{q25:.2f}–{q75:.2f}]"


def render_evaluation_report(
    backtest_result: Backtest,
    *,
    figure_png: bytes,
    title: str,
    crime_types: str,
    harm_table: str,
) -> str:
    """Render ``evaluation.html``: verdict, PAI figure, metric table, boroughs, origins.

    Every string passes through jinja2 autoescaping.
    """
    from datetime import UTC, datetime
    from importlib import metadata

    import jinja2

    scores = backtest_result.scores
    harm_note = backtest_result.choices.get("harm_note", "")
    measures = ("counts",) if harm_note else MEASURES
    found = [v for v in verdicts(scores) if v.measure in measures]
    tables = []
    summaries = {metric: summarise(scores, metric=metric) for metric in METRICS}
    for measure in measures:
        rows = []
        for method in backtest_result.methods:
            for coverage in backtest_result.coverage_pct:
                cells = []
                for metric in METRICS:
                    table = summaries[metric]
                    scale = 100.0 if metric == "hit_rate" else 1.0
                    hit = table[
                        (table["measure"] == measure)
                        & (table["method"] == method)
                        & (table["coverage"] == coverage)
                    ]
                    if hit.empty:
                        cells.append("–")
                    else:
                        r = hit.iloc[0]
                        cells.append(
                            _cell(scale * r["median"], scale * r["q25"], scale * r["q75"])
                        )
                rows.append(
                    {"method": METHOD_LABELS[method], "coverage": f"{coverage:g}%", "cells": cells}
                )
        tables.append(("incident counts" if measure == "counts" else "harm", rows))
    borough_rows = []
    boroughs = sorted(b for b in scores["borough"].unique() if b != ALL)
    by_borough = {
        b: {(v.coverage): v for v in verdicts(scores, borough=b) if v.measure == "counts"}
        for b in boroughs
    }
    for borough in boroughs:
        cells = []
        for coverage in backtest_result.coverage_pct:
            v = by_borough[borough].get(coverage)
            if v is None:
                cells.append("–")
                continue
            base = v.baselines.get("last_month", {})
            rand = v.baselines.get("random", {})
            cells.append(
                f"{METHOD_LABELS[v.method]} {v.median:.2f}"
                + (f"; last month {base['median']:.2f}" if base else "")
                + (f"; random {rand['median']:.2f}" if rand else "")
            )
        borough_rows.append({"borough": borough, "cells": cells})
    origins = backtest_result.origins
    origins_text = (
        f"{len(origins)} rolling origin(s), first test month {origins['origin'].iloc[0]}, last "
        f"{origins['test_to'].iloc[-1]}; training window "
        f"{backtest_result.parameters['window_months']} months, horizon "
        f"{backtest_result.parameters['horizon_months']} month(s)"
    )
    try:
        version = metadata.version("hotspots")
    except metadata.PackageNotFoundError:  # pragma: no cover - editable installs have it
        version = "unknown"
    environment = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    return environment.from_string(_REPORT).render(
        title=title,
        origins_text=origins_text,
        crime_types=crime_types,
        harm_table=harm_table,
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        version=version,
        verdict_lines=[verdict_sentence(v) for v in found],
        harm_note=harm_note,
        figure=base64.b64encode(figure_png).decode("ascii"),
        metric_names=list(METRICS),
        tables=tables,
        borough_coverages=[f"{c:g}%" for c in backtest_result.coverage_pct],
        borough_rows=borough_rows,
        origins=origins.to_dict("records"),
        definitions=list(DEFINITIONS.items()),
        choices=list(backtest_result.choices.items()),
    )


# --- the command -----------------------------------------------------------------------


@dataclass(frozen=True)
class EvaluateResult:
    """Files written by :func:`run_evaluate`, the backtest and its verdicts."""

    out_dir: Path
    backtest: Backtest
    verdicts: list[Verdict]
    files: dict[str, Path]
    manifest: dict[str, object]
    seconds: float


def run_evaluate(
    inputs: Sequence[str | Path],
    out_dir: str | Path,
    *,
    settings: IngestSettings,
    train: str | tuple[str, str],
    test: str | tuple[str, str],
    coverage_pct: Sequence[float] = DEFAULT_COVERAGE_PCT,
    window: int = 12,
    horizon: int = 1,
    seed: int | None = 0,
    methods: Sequence[str] = METHODS,
    options: DetectOptions | None = None,
    per_borough: bool = True,
    overwrite: bool = False,
    on_origin: Callable[[int, int], None] | None = None,
) -> EvaluateResult:
    """Read inputs (raw files or an ingested store), backtest every method, write outputs.

    Writes ``evaluation.csv`` (the tidy scores), ``pai.png``, ``evaluation.html``,
    ``origins.csv``, ``rejects.csv`` and ``manifest.json`` into ``out_dir``.

    Parameters
    ----------
    inputs
        data.police.uk files, folders, globs or zips, or one ``hotspots ingest`` folder.
    out_dir
        Output folder (see :func:`hotspots.ingest.pipeline.prepare_out_dir`).
    settings
        :class:`hotspots.ingest.read.IngestSettings`; its month selection is replaced by the
        months the backtest needs (the first origin's window through the last test month),
        its crime types are kept.
    train, test, window, horizon
        See :func:`plan_origins`.
    coverage_pct, seed, methods, options, per_borough, on_origin
        See :func:`backtest`.
    overwrite
        Replace an earlier run's output in ``out_dir``.

    Returns
    -------
    EvaluateResult
        The backtest, verdicts, files and manifest.

    Examples
    --------
    The demo's configuration (6 origins on the bundled Met burglary, about 10 s)::

        run_evaluate([bundled("police_uk", "met_burglary")], "out/evaluate",
                     settings=london_settings(), train="2023-02..2024-02",
                     test="2024-03..2024-08")
    """
    from hotspots.detect.points import DetectOptions
    from hotspots.ingest.pipeline import prepare_out_dir
    from hotspots.ingest.read import Selection, read_incidents
    from hotspots.io.atomic import write_csv, write_json
    from hotspots.io.manifest import Clock, build_manifest
    from hotspots.io.sources import find_sources
    from hotspots.io.store import is_store, read_store

    clock = Clock()
    start = time.perf_counter()
    origins = plan_origins(train=train, test=test, window=window, horizon=horizon)
    options = options or DetectOptions(resolution=settings.resolution, seed=seed or 0)
    paths = [Path(p) for p in inputs]
    if not paths:
        raise InputError("no INPUT given; pass data.police.uk files or an ingest folder.")
    out = prepare_out_dir(out_dir, overwrite=overwrite)
    for name in ("evaluation.csv", "origins.csv", "pai.png", "evaluation.html"):
        stale = out / name
        if stale.exists() and overwrite:
            stale.unlink()
    needed = (origins[0].train[0], origins[-1].test[1])
    selection = Selection(months=needed, crime_types=settings.selection.crime_types)
    settings = dataclasses.replace(settings, selection=selection)
    if len(paths) == 1 and is_store(paths[0]):
        store = paths[0]
        offences = None
        if selection.crime_types:
            canonical = settings.harm.canonical(np.array(selection.crime_types, dtype=object))
            offences = [o for o in canonical if o]
        incidents = read_store(store, months=needed, offences=offences)
        store_manifest = json.loads((store / "manifest.json").read_text(encoding="utf-8"))
        sources: list[object] = []
        reports: list[object] = []
        harm_name = store_manifest.get("parameters", {}).get("harm_table", settings.harm.name)
    else:
        sources = list(find_sources(paths))
        loaded = read_incidents(paths, settings=settings)
        incidents = loaded.incidents
        reports = list(loaded.reports)
        store_manifest = None
        harm_name = settings.harm.name
    if incidents.empty:
        raise InputError(
            f"no incidents in {needed[0]}..{needed[1]} for the chosen crime types; check "
            "--train/--test and --crime-type."
        )
    check_months_present(
        incidents, [str(m) for m in pd.period_range(needed[0], needed[1], freq="M")]
    )
    if store_manifest is None:
        write_csv(out / "rejects.csv", loaded.rejects)
    else:
        shutil.copyfile(paths[0] / "rejects.csv", out / "rejects.csv")
    crime_types = (
        ", ".join(selection.crime_types)
        if selection.crime_types
        else ", ".join(sorted(map(str, incidents[schema.OFFENCE].dropna().unique())))
    )
    result = backtest(
        incidents,
        settings.layers.study,
        origins=origins,
        coverage_pct=coverage_pct,
        methods=methods,
        seed=seed,
        options=options,
        per_borough=per_borough,
        on_origin=on_origin,
    )
    files: dict[str, Path] = {}
    files["evaluation"] = out / "evaluation.csv"
    table = result.scores.assign(value=result.scores["value"].round(6))
    write_csv(files["evaluation"], table)
    files["origins"] = out / "origins.csv"
    write_csv(files["origins"], result.origins)
    png = figure_pai(result.scores)
    files["figure"] = out / "pai.png"
    from hotspots.io.atomic import atomic_path

    with atomic_path(files["figure"], mode="wb") as handle:
        handle.write(png)
    title = f"Forecast evaluation: {crime_types or 'all crime'}"
    files["report"] = out / "evaluation.html"
    with atomic_path(files["report"]) as handle:
        handle.write(
            render_evaluation_report(
                result,
                figure_png=png,
                title=title,
                crime_types=crime_types or "all",
                harm_table=str(harm_name),
            )
        )
    found = verdicts(result.scores)
    manifest = build_manifest(
        command="evaluate",
        sources=sources,
        reports=reports,
        parameters=settings.describe(),
        outputs=files,
        clock=clock,
        extra={
            "automatic_choices": result.choices,
            "evaluate": {
                **result.parameters,
                "train": list(_month_pair(train, name="--train")),
                "test": list(_month_pair(test, name="--test")),
                "metrics": DEFINITIONS,
                "verdicts": [dataclasses.asdict(v) for v in found],
                "rows": len(result.scores),
            },
        },
    )
    if store_manifest is not None:
        manifest["inputs"] = store_manifest.get("inputs", [])
        manifest["rejects_by_reason"] = store_manifest.get("rejects_by_reason", {})
        manifest["rows"] = store_manifest.get("rows", {})
        manifest["input_store"] = str(paths[0])
    write_json(out / "manifest.json", manifest)
    return EvaluateResult(
        out_dir=out,
        backtest=result,
        verdicts=found,
        files=files,
        manifest=manifest,
        seconds=time.perf_counter() - start,
    )
