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
counts_12m incidents in the 12 months before the origin (baseline: an analyst's spreadsheet;
           the window's months when ``window`` is shorter than 12, and the notes say so)
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

import dataclasses
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd

from hotspots.core import schema
from hotspots.core.errors import InputError, SchemaError
from hotspots.evaluate.origins import Origin, check_months_present
from hotspots.geo.geocode import Areas
from hotspots.methods.metrics import oracle_order, prefix_length, rank_cells, safe_ratio

if TYPE_CHECKING:
    import scipy.sparse as sp

    from hotspots.detect.points import DetectOptions

logger = logging.getLogger(__name__)

METHODS = (
    "harm",
    "kde",
    "gi_star",
    "clusters",
    "emerging",
    "counts_12m",
    "last_month",
    "random",
)
"""Every method the backtest can run, in report order (the last three are baselines)."""
BASELINES = ("counts_12m", "last_month", "random")
METHOD_LABELS = {
    "harm": "harm per cell",
    "kde": "kernel density",
    "gi_star": "Gi* z",
    "clusters": "DBSCAN clusters",
    "emerging": "emerging trends",
    "counts_12m": "12-month counts (baseline)",
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


# --- metrics ---------------------------------------------------------------------------


# --- ranking and flagging --------------------------------------------------------------


# --- origins ---------------------------------------------------------------------------


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
    year_counts: np.ndarray  # incidents in the 12 months (at most the window) before the origin
    incidents: gpd.GeoDataFrame
    count_cube: pd.DataFrame  # cells x training months of counts (for emerging)


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
    if method == "counts_12m":
        return (window.year_counts,)
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
        result = emerging.emerging_hotspots(window.count_cube, weights, fdr=options.fdr)
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
    lengths = [prefix_length(cum_area, pct / 100.0 * total_area) for pct in coverage_pct]
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
            hit = safe_ratio(n, total_test)
            pai_value = safe_ratio(hit, area_share)
            rri_lev = safe_ratio(safe_ratio(n, n1), safe_ratio(total_test, total_train))
            rri_fc = safe_ratio(n1 * forecast_factor, n)
            best_cum_area, best_cum_test, sorted_cum = oracle[measure]
            k_best = prefix_length(best_cum_area, flagged_area)
            best_n = float(best_cum_test[k_best - 1]) if k_best else 0.0
            best_area = float(best_cum_area[k_best - 1]) if k_best else 0.0
            best_pai = safe_ratio(
                safe_ratio(best_n, total_test), safe_ratio(best_area, total_area)
            )
            pei_value = safe_ratio(pai_value, best_pai)
            pei_star_value = safe_ratio(n, float(sorted_cum[k - 1]) if k else 0.0)
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
        order = oracle_order(test, group.area)
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
    count_frame = space_time_cube(placed, grid, value=None, months=months)
    counts_cube = count_frame.to_numpy()
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
    year_months = min(12, window_months)
    if "counts_12m" in chosen and window_months < 12:
        notes["counts_12m"] = (
            f"the window is {window_months} months, shorter than 12: the 12-month-counts "
            f"baseline counts the {window_months} months of the window instead (use --window "
            "12 or more for the real baseline)"
        )
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
            year_counts=counts_cube[:, o - year_months : o].sum(axis=1),
            incidents=placed[np.asarray(in_window)],
            count_cube=count_frame.iloc[:, train_slice],
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
        "counts_12m": (
            "incidents per cell in the 12 months before the origin (baseline; the plain "
            "counts any analyst would use)"
        ),
        "last_month": "incidents per cell in the last month of the window (baseline)",
        "random": "a fresh random order of the cells at every origin (baseline)",
    }
    return texts[method]


# --- summaries -------------------------------------------------------------------------


# --- figure and report -----------------------------------------------------------------


# --- the command -----------------------------------------------------------------------
