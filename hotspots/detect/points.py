"""Detection: every hotspot method side by side, on one set of aggregates.

Every method needs far less than the rows themselves (sums per cell and month, distinct
map points with their harm, a harm histogram; :mod:`hotspots.aggregates.tables`), so there
is one detection, :func:`detect_from_aggregates`, and three sources of aggregates: a frame
in memory (:func:`detect_hotspots`), a store streamed month by month, or a store on a Dask
cluster (:func:`detect_store`). Steps, each a public function of its own module:

1. harm and counts per H3 cell over the whole study area, zeros included;
2. concentration: Lorenz curve, Gini, top 1/5/10% shares, cells for half
   (:func:`hotspots.methods.concentration.measure_concentration`);
3. kernel density of harm on a metric grid, sampled to cells (:mod:`hotspots.methods.kde`);
4. Getis-Ord Gi* on the cells with k-ring neighbours and FDR (:mod:`hotspots.methods.gi`);
5. harm-weighted DBSCAN clusters with readable place names (:mod:`hotspots.methods.clusters`);
6. emerging hot-spot classes over a space-time cube of months (:mod:`hotspots.methods.emerging`).

The cells table follows the command-line contract (:data:`hotspots.detect.results.CONTRACT_COLUMNS`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from hotspots.aggregates.frame import aggregate_frame
from hotspots.aggregates.store import aggregate_store, count_cells, dataset_root, months_in_store
from hotspots.aggregates.tables import Aggregates, month_text
from hotspots.core import schema
from hotspots.core.errors import SchemaError
from hotspots.detect.results import (
    DEFAULT_EPS_M,
    MIN_MONTHS_FOR_TRENDS,
    Detection,
    DetectOptions,
    _describe_clusters,
    assemble_cells,
)
from hotspots.geo.geocode import Areas
from hotspots.geo.grid import cell_ints, make_grid
from hotspots.io.formats import tidy_location
from hotspots.methods import bandwidth, emerging, kde
from hotspots.methods import clusters as cl
from hotspots.methods import gi as stats
from hotspots.methods.concentration import measure_concentration
from hotspots.methods.counts import HARM_SUM, INCIDENT_COUNT

if TYPE_CHECKING:
    from hotspots.methods.bandwidth import Bandwidth


# ---------------------------------------------------------------------------
# aggregates


# ---------------------------------------------------------------------------
# reading the store


# ---------------------------------------------------------------------------
# detection on aggregates


def _exact_sums(cell_harm_values: pd.DataFrame, position: pd.Index) -> np.ndarray:
    """Harm per grid cell, summed in extended precision from counts per harm value."""
    where = position.get_indexer(cell_harm_values["cell"].to_numpy())
    terms = cell_harm_values["count"].to_numpy(np.longdouble) * cell_harm_values["harm"].to_numpy(
        np.longdouble
    )
    total = np.zeros(len(position), dtype=np.longdouble)
    np.add.at(total, where, terms)
    return total.astype(np.float64)


def _median_positive(harm_values: pd.DataFrame) -> float:
    """``np.median`` of the positive incident harms, from the harm histogram."""
    positive = harm_values[harm_values["harm"] > 0].sort_values("harm")
    n = int(positive["count"].sum())
    if n == 0:
        return 0.0
    values = positive["harm"].to_numpy()
    ends = np.cumsum(positive["count"].to_numpy())
    low = values[np.searchsorted(ends, (n - 1) // 2, side="right")]
    high = values[np.searchsorted(ends, n // 2, side="right")]
    return float((low + high) / 2.0)


def _bandwidth(
    px: np.ndarray,
    py: np.ndarray,
    pw: np.ndarray,
    *,
    rule: str,
    bandwidth_m: float | None,
    adjust: float,
    n_effective: float,
) -> Bandwidth:
    """:func:`hotspots.methods.kde.choose_bandwidth` as it is on the rows, from collapsed points.

    Collapsing stacked points keeps the weighted mean, standard distance and median
    distance, but not the effective number of points ``(sum w)^2 / sum w^2``, which the
    rules use; it is passed in from the rows' sums.
    """
    collapsed = kde.choose_bandwidth(
        px, py, weights=pw, rule=rule, bandwidth_m=bandwidth_m, adjust=adjust
    )
    if collapsed.n_effective is None:
        return collapsed
    adjust = float(adjust)
    spread = collapsed.standard_distance_m
    adjusted = "" if adjust == 1 else f", x adjust {adjust:g}"
    if rule == "fixed":
        base = bandwidth.DEFAULT_BANDWIDTH_M if bandwidth_m is None else float(bandwidth_m)
        source = "the default, patrol scale" if bandwidth_m is None else "given"
        detail = (
            f"Fixed search radius {base:,.0f} m ({source}){adjusted}; for comparison Scott's "
            f"rule on these points would give {bandwidth._scott_m(spread, n_effective):,.0f} m"
        )
    elif rule == "scott":
        base = bandwidth._scott_m(spread, n_effective)
        detail = (
            f"Scott's rule on the weighted standard distance: (SD {spread:,.0f} m"
            f" / sqrt 2) x n_eff {n_effective:,.0f}^(-1/6) = {base:,.0f} m{adjusted}"
        )
    else:
        _, median_distance, _ = bandwidth._spread(px, py, pw, with_median=True)
        base = bandwidth._silverman_m(spread, median_distance, n_effective)
        detail = (
            "Silverman's rule, ArcGIS spatial variant: 0.9 x min(SD "
            f"{spread:,.0f} m, sqrt(1/ln 2) x median distance "
            f"{median_distance:,.0f} m) x n_eff {n_effective:,.0f}^(-0.2) = "
            f"{base:,.0f} m{adjusted}"
        )
    value = base * adjust
    if adjust != 1:
        detail += f" = {value:,.0f} m"
    return kde.Bandwidth(
        bandwidth_m=float(value),
        rule=rule,
        adjust=adjust,
        detail=detail + ".",
        n_effective=n_effective,
        standard_distance_m=spread,
    )


def _density(
    points: pd.DataFrame,
    counted: gpd.GeoDataFrame,
    study: Areas,
    options: DetectOptions,
    n_effective: float,
) -> tuple[pd.Series, str, dict[str, object]]:
    """Kernel density per cell from distinct points, described as on the rows."""
    px = points["x"].to_numpy()
    py = points["y"].to_numpy()
    pw = points["harm"].to_numpy(dtype=np.float64)
    rule = options.bandwidth_rule or "fixed"
    chosen = _bandwidth(
        px,
        py,
        pw,
        rule=rule,
        bandwidth_m=options.bandwidth_m,
        adjust=options.adjust,
        n_effective=n_effective,
    )
    as_given = kde.choose_bandwidth(
        px, py, weights=pw, rule="fixed", bandwidth_m=chosen.bandwidth_m
    )
    series, choice, parameters = kde.density_for_detect(
        px,
        py,
        pw,
        cells=counted,
        study_area=study.outline,
        kernel=options.kernel,
        rule="fixed",
        bandwidth_m=chosen.bandwidth_m,
        cell_size_m=options.grid_m,
        edge_correction=options.edge_correction,
    )
    choice = choice.replace(as_given.detail.rstrip("."), chosen.detail.rstrip("."))
    parameters = {
        **parameters,
        "bandwidth_rule": chosen.rule,
        "bandwidth_adjust": chosen.adjust,
        "bandwidth_detail": chosen.detail,
        "n_effective": chosen.n_effective,
        "standard_distance_m": chosen.standard_distance_m,
        "points": int(points["count"].sum()),
    }
    return series, choice, parameters


@dataclass(frozen=True)
class _PointClusters:
    labels: np.ndarray  # per distinct point
    polygons: gpd.GeoDataFrame
    parameters: dict[str, object]


def _clusters(
    points: pd.DataFrame,
    stacks: pd.DataFrame,
    *,
    options: DetectOptions,
    total_harm: float,
    median_harm: float,
    crs: object,
) -> _PointClusters:
    """:func:`hotspots.methods.clusters.find_clusters` on collapsed points (same labels and polygons)."""
    method = options.cluster_method
    eps_m = options.eps_m if options.eps_m is not None else DEFAULT_EPS_M
    min_harm = options.min_harm
    cl._check_options(method, eps_m, min_harm, None)
    xy = points[["x", "y"]].to_numpy(dtype=np.float64)
    stack = cl._Stacks(
        xy=xy,
        harm=points["harm"].to_numpy(dtype=np.float64),
        count=points["count"].to_numpy(dtype=np.int64),
        codes=np.arange(len(points)),
    )
    incidents = int(stack.count.sum())
    parameters: dict[str, object] = {
        "method": method,
        "eps_m": float(eps_m),
        "incidents": incidents,
        "distinct_points": len(points),
        "incidents_per_distinct_point": incidents / max(len(points), 1),
        "seed": None,
        "seed_used": False,
    }
    automatic = min_harm is None
    if automatic:
        hull_km2 = float(shapely.convex_hull(shapely.multipoints(xy)).area) / 1e6
        disc_km2 = math.pi * eps_m**2 / 1e6
        average_in_disc = total_harm * disc_km2 / hull_km2 if hull_km2 > 0 else 0.0
        min_harm = max(cl.DENSITY_RATIO * average_in_disc, cl.FLOOR_INCIDENTS * median_harm)
        if not min_harm > 0:
            raise SchemaError(
                "every incident has harm 0 (e.g. only anti-social behaviour, which CCHI "
                "weights 0), so there is no harm to cluster; pass min_harm=... with a harm "
                "table that weights these offences."
            )
        parameters.update(
            {
                "min_harm_rule": f"max({cl.DENSITY_RATIO:g} x harm in an eps_m disc at the "
                f"average density over the points' convex hull, {cl.FLOOR_INCIDENTS:g} x "
                "median incident harm)",
                "hull_area_km2": hull_km2,
                "average_harm_in_disc": average_in_disc,
                "median_incident_harm": median_harm,
            }
        )
    parameters["min_harm"] = float(min_harm)
    parameters["min_harm_source"] = "automatic" if automatic else "given"
    min_cluster_harm = None
    if method == "dbscan":
        labels = cl._dbscan_labels(stack.xy, stack.harm, eps_m=eps_m, min_weight=min_harm)
        parameters["dbscan_rule"] = (
            "core point: harm within eps_m (inclusive, own stack included) >= min_harm; "
            "stacked points collapsed with summed harm as sample_weight (exact)"
        )
    else:
        min_cluster_harm = min_harm
        # only the median of the positive incident harms is taken from the rows' harms
        labels, extra = cl._hdbscan_labels(
            stack,
            np.array([median_harm]),
            eps_m=eps_m,
            min_harm=min_harm,
            min_cluster_harm=min_cluster_harm,
        )
        parameters.update(extra)
    parameters["min_cluster_harm"] = None if min_cluster_harm is None else float(min_cluster_harm)
    labels = cl._relabel_by_harm(labels, stack)

    # polygons, as clusters._polygons does on the rows
    n_clusters = int(labels.max()) + 1 if len(labels) else 0
    clustered = np.flatnonzero(labels >= 0)
    counts = np.bincount(labels[clustered], weights=stack.count[clustered], minlength=n_clusters)
    harms = np.bincount(labels[clustered], weights=stack.harm[clustered], minlength=n_clusters)
    order = clustered[np.argsort(labels[clustered], kind="stable")]
    distinct = np.bincount(labels[clustered], minlength=n_clusters).astype(np.int64)
    outlines = np.empty(0, dtype=object)
    if n_clusters:
        hulls = shapely.concave_hull(
            shapely.multipoints(xy[order], indices=labels[order]), ratio=cl.CONCAVE_RATIO
        )
        outlines = shapely.buffer(hulls, eps_m / 2)
    area_km2 = shapely.area(outlines) / 1e6 if n_clusters else np.empty(0)

    point_of = pd.Index(points["x"].to_numpy() + 1j * points["y"].to_numpy()).get_indexer(
        stacks["x"].to_numpy() + 1j * stacks["y"].to_numpy()
    )
    stack_label = labels[point_of]
    inside = stack_label >= 0
    location_codes, names = pd.factorize(stacks[schema.LOCATION], sort=False)
    names = np.asarray(names, dtype=object)
    best_place = cl.heaviest_code(
        location_codes[inside],
        stack_label[inside],
        (stacks["count"].to_numpy(np.float64) * stacks["harm"].to_numpy(np.float64))[inside],
        stacks["count"].to_numpy(dtype=np.int64)[inside],
        tie_rank=cl._alphabetical_rank(names),
        vagueness=cl._vagueness(names),
    )
    place = {c: names[code] for c, code in best_place.items()}
    pair = (
        points["borough_code"].astype(object).fillna("\x00")
        + "\x01"
        + points["borough"].astype(object).fillna("\x00")
    )
    pair_codes, pairs = pd.factorize(pair, sort=False)
    pairs = np.asarray(pairs, dtype=object)
    split = [p.split("\x01") for p in pairs]
    code_of = np.array([None if a == "\x00" else a for a, _ in split], dtype=object)
    name_of = np.array([None if b == "\x00" else b for _, b in split], dtype=object)
    pair_codes = np.where(
        pd.isna(code_of[pair_codes]) | pd.isna(name_of[pair_codes]), -1, pair_codes
    )
    tie_rank = np.empty(len(pairs), dtype=np.int64)
    tie_rank[np.lexsort((name_of.astype(str), code_of.astype(str)))] = np.arange(len(pairs))
    in_points = labels >= 0
    best_borough = cl.heaviest_code(
        pair_codes[in_points],
        labels[in_points],
        stack.harm[in_points],
        stack.count[in_points],
        tie_rank=tie_rank,
    )
    table = pd.DataFrame(
        {
            cl.INCIDENTS: counts.astype(np.int64),
            schema.HARM: harms,
            cl.DISTINCT_POINTS: distinct,
            schema.BOROUGH_CODE: cl._at(
                {c: code_of[v] for c, v in best_borough.items()}, n_clusters
            ),
            schema.BOROUGH: cl._at({c: name_of[v] for c, v in best_borough.items()}, n_clusters),
            cl.PLACE: [tidy_location(p) for p in cl._at(place, n_clusters)],
            cl.AREA_KM2: area_km2,
            cl.HARM_DENSITY: harms / area_km2 if n_clusters else np.empty(0),
            cl.RANK: np.arange(1, n_clusters + 1, dtype=np.int64),
        },
        index=pd.RangeIndex(n_clusters, name=cl.CLUSTER),
    )
    for column in (schema.BOROUGH_CODE, schema.BOROUGH, cl.PLACE):
        table[column] = table[column].astype("string")
    polygons = gpd.GeoDataFrame(table, geometry=outlines, crs=crs)
    noise = labels < 0
    parameters.update(
        {
            "clusters": len(polygons),
            "noise_incidents": int(stack.count[noise].sum()),
            "harm_share_clustered": (
                float(polygons[schema.HARM].sum()) / total_harm if total_harm > 0 else 0.0
            ),
            "place_rule": "location holding the most harm in the cluster (ties: more "
            "incidents, then alphabetical); blank or generic names (e.g. 'On or near "
            "Supermarket') only when the cluster has no other",
            "polygon_rule": f"concave hull (ratio {cl.CONCAVE_RATIO}) of the distinct points, "
            "buffered by eps_m / 2",
        }
    )
    return _PointClusters(labels=labels, polygons=polygons, parameters=parameters)


def detect_from_aggregates(
    aggregates: Aggregates,
    study: Areas,
    *,
    options: DetectOptions | None = None,
    harm_table: str = "",
    crime_types: tuple[str, ...] | None = None,
    title: str = "Harm hotspots",
    exposure: pd.Series | None = None,
) -> Detection:
    """Run every hotspot method on aggregates, as :func:`hotspots.detect.points.detect_hotspots`.

    Parameters
    ----------
    aggregates
        From :func:`aggregate_store` (or the Dask engine).
    study
        Study areas (London boroughs by default).
    options
        :class:`hotspots.detect.points.DetectOptions`.
    harm_table, crime_types, title
        Descriptions carried to maps and reports.
    exposure
        Incidents per ``cell_id`` over the whole history (any month), named for the
        description: cells with none are 'no data' for Gi* (never cold). ``None``: the
        cells with an incident in the aggregates.

    Returns
    -------
    hotspots.detect.points.Detection
        The same cells table, clusters, concentration, monthly totals and choices as on the
        rows.
    """
    options = options or DetectOptions()
    aggregates = aggregates.canonical()
    grid = make_grid(study, resolution=options.resolution)
    grid_cells = cell_ints(grid.index.to_numpy()).view(np.int64)
    position = pd.Index(grid_cells)
    bins = aggregates.bins
    where = position.get_indexer(bins["cell"].to_numpy())
    if (where < 0).any():
        unknown = pd.unique(bins["cell"].to_numpy()[where < 0])
        from hotspots.geo.grid import cell_strings

        raise SchemaError(
            f"{len(unknown)} cell_id value(s) in incidents are not in cells, e.g. "
            f"{sorted(cell_strings(unknown[:3].view(np.uint64)))}; build the grid over the "
            "same study area and resolution as the incidents."
        )
    counted = grid.assign(
        **{
            INCIDENT_COUNT: np.bincount(where, weights=bins["count"], minlength=len(grid)).astype(
                np.int64
            ),
            HARM_SUM: _exact_sums(aggregates.cell_harm_values, position),
        }
    )
    cell_km2 = float(counted["area_km2"].mean())
    choices: dict[str, str] = {
        "cells": (
            f"H3 resolution {options.resolution}: {len(counted):,} cells over the study area, "
            f"mean {cell_km2:.4f} km² each (cells with no incidents kept as 0)"
        ),
    }
    parameters: dict[str, object] = {
        "h3_resolution": options.resolution,
        "cells": len(counted),
        "mean_cell_km2": cell_km2,
    }
    points = aggregates.points()
    total_harm = aggregates.total_harm
    n_effective = total_harm**2 / aggregates.harm_squares if aggregates.harm_squares > 0 else 0.0

    density_series, density_choice, density_params = _density(
        points, counted, study, options, n_effective
    )
    choices["kernel_density"] = density_choice
    parameters["kernel_density"] = density_params

    if exposure is None:
        exposed = counted[INCIDENT_COUNT].to_numpy() > 0
        exposure_from = "the incidents analysed (no longer history was given)"
    else:
        exposed = counted.index.isin(exposure.index[exposure.to_numpy() > 0])
        exposed |= counted[INCIDENT_COUNT].to_numpy() > 0
        exposure_from = exposure.name or "the whole history"
    gi, gi_choice, gi_params, gi_label = stats.gi_for_detect(
        counted,
        value=INCIDENT_COUNT,
        k=options.neighbours_k,
        permutations=options.permutations,
        seed=options.seed,
        fdr=options.fdr,
        exposure=exposed,
        exposure_from=exposure_from,
    )
    gi_choice += "; harm ranks the cells (rank), counts decide significance"
    choices["gi_star"] = gi_choice
    parameters["gi_star"] = gi_params

    found = _clusters(
        points,
        aggregates.stacks,
        options=options,
        total_harm=total_harm,
        median_harm=_median_positive(aggregates.harm_values),
        crs=counted.crs,
    )
    point_cells = grid.index.to_numpy()[position.get_indexer(points["cell"].to_numpy())]
    cluster_of_cell = cl.cluster_of_cells(
        point_cells,
        found.labels,
        points["harm"].to_numpy(dtype=np.float64),
        points["count"].to_numpy(dtype=np.int64),
    ).reindex(counted.index, fill_value=-1)
    choices["clusters"] = _describe_clusters(found.parameters)
    parameters["clusters"] = found.parameters

    # months: every month from the first to the last with incidents
    month_bins = bins.groupby("month")[["count", "harm"]].sum()
    first, last = int(month_bins.index.min()), int(month_bins.index.max())
    full = pd.period_range(month_text(first), month_text(last), freq="M")
    by_month = month_bins.reindex(range(first, last + 1), fill_value=0)
    monthly = pd.DataFrame(
        {
            "incidents": pd.Series(by_month["count"].to_numpy(dtype=int), index=full),
            "harm": pd.Series(by_month["harm"].to_numpy(dtype=np.float64), index=full),
        }
    )
    if len(monthly) >= MIN_MONTHS_FOR_TRENDS:
        # one row per (cell, month) bin holding its count: the cube of the rows, exactly
        cube_rows = pd.DataFrame(
            {
                schema.CELL_ID: grid.index.to_numpy()[where],
                schema.MONTH: _periods(bins["month"].to_numpy()),
                INCIDENT_COUNT: bins["count"].to_numpy(dtype=np.float64),
            }
        )
        trends, trend_choice, trend_params = emerging.trends_for_detect(
            cube_rows, counted, value=INCIDENT_COUNT, k=options.neighbours_k, fdr=options.fdr
        )
    else:
        trends = pd.Series("not_enough_months", index=counted.index)
        trend_choice = (
            f"only {len(monthly)} month(s): emerging hot-spot classes need at least "
            f"{MIN_MONTHS_FOR_TRENDS} monthly slices, so every cell is 'not_enough_months'"
        )
        trend_params = {"months": len(monthly)}
    choices["emerging"] = trend_choice
    parameters["emerging"] = trend_params

    stacks = aggregates.stacks
    named = stacks[stacks[schema.LOCATION].fillna("").ne("")]
    per_place = (
        pd.DataFrame(
            {
                schema.CELL_ID: grid.index.to_numpy()[
                    position.get_indexer(named["cell"].to_numpy())
                ],
                schema.LOCATION: named[schema.LOCATION].to_numpy(dtype=object),
                "n": named["count"].to_numpy(dtype=np.int64),
            }
        )
        .groupby([schema.CELL_ID, schema.LOCATION], sort=False)["n"]
        .sum()
        .reset_index()
        .sort_values([schema.CELL_ID, "n", schema.LOCATION], ascending=[True, False, True])
    )
    places = (
        per_place.drop_duplicates(schema.CELL_ID)
        .set_index(schema.CELL_ID)[schema.LOCATION]
        .map(tidy_location)
        .reindex(counted.index)
    )
    cells = assemble_cells(
        counted,
        density=density_series,
        gi=gi,
        cluster_of_cell=cluster_of_cell,
        trends=trends,
        places=places,
    )
    cells[stats.EXPOSED] = exposed
    concentration = {
        "incidents": measure_concentration(cells["incidents"], quantity="incidents"),
        "harm": measure_concentration(cells["harm"], quantity="harm"),
    }
    return Detection(
        monthly_by_borough=_monthly_by_borough(aggregates.boroughs, full),
        cells=cells,
        clusters=found.polygons,
        concentration=concentration,
        monthly=monthly,
        choices=choices,
        parameters=parameters,
        period=(str(full[0]), str(full[-1])),
        crime_types=crime_types,
        harm_table=harm_table,
        gi_p_label=gi_label,
        title=title,
        study_areas=study.polygons,
    )


def _periods(ordinals: np.ndarray) -> pd.PeriodIndex:
    """Monthly periods from month ordinals (converting each distinct month once)."""
    codes, unique = pd.factorize(ordinals)
    periods = pd.PeriodIndex([month_text(int(m)) for m in unique], freq="M")
    return periods.take(codes) if len(codes) else pd.PeriodIndex([], freq="M")


def _monthly_by_borough(boroughs: pd.DataFrame, months: pd.PeriodIndex) -> pd.DataFrame:
    """Incidents and harm per borough and month (every month, zeros kept) from the sums."""
    table = boroughs[boroughs["borough_code"].fillna("").ne("")]
    index = pd.MultiIndex.from_arrays(
        [
            table["borough_code"].to_numpy(dtype=object),
            _periods(table["month"].to_numpy()),
        ],
        names=[schema.BOROUGH_CODE, schema.MONTH],
    )
    sums = pd.DataFrame(
        {
            "incidents": table["count"].to_numpy(dtype=np.int64),
            "harm": table["harm"].to_numpy(dtype=np.float64),
        },
        index=index,
    )
    full = pd.MultiIndex.from_product(
        [sorted(set(table["borough_code"])), months], names=[schema.BOROUGH_CODE, schema.MONTH]
    )
    return sums.reindex(full, fill_value=0).reset_index()


def detect_hotspots(
    incidents: gpd.GeoDataFrame,
    study: Areas,
    *,
    options: DetectOptions | None = None,
    harm_table: str = "",
    crime_types: tuple[str, ...] | None = None,
    title: str = "Harm hotspots",
    exposure: pd.Series | None = None,
) -> Detection:
    """Run every hotspot method on incidents over a study area.

    Parameters
    ----------
    incidents
        Tidy incidents (from :func:`hotspots.read_incidents` or :func:`hotspots.read_store`).
    study
        Study areas (London boroughs by default).
    options
        Method settings; automatic choices are reported in ``Detection.choices``.
    harm_table, crime_types, title
        Descriptions carried to maps and reports.
    exposure
        Incidents per ``cell_id`` over a longer history, if there is one (see
        :func:`detect_from_aggregates`); by default every incident given.

    Returns
    -------
    Detection
        The cells table, clusters, concentration, monthly totals and every choice made;
        the same as :func:`detect_store` on a store of the same rows.
    """
    if exposure is None:
        placed = incidents[schema.CELL_ID].dropna()
        exposure = placed.value_counts().rename(
            f"every incident from {incidents[schema.MONTH].min()} to "
            f"{incidents[schema.MONTH].max()}"
        )
    return detect_from_aggregates(
        aggregate_frame(incidents),
        study,
        options=options,
        harm_table=harm_table,
        crime_types=crime_types,
        title=title,
        exposure=exposure,
    )


def detect_store(
    store: str | Path,
    study: Areas,
    *,
    options: DetectOptions | None = None,
    months: tuple[str, str] | None = None,
    offences: Sequence[str] | None = None,
    exclude: Sequence[str] | None = None,
    harm_table: str = "",
    crime_types: tuple[str, ...] | None = None,
    title: str | None = None,
    engine: str = "embedded",
    scheduler: str | None = None,
    with_searches: bool = True,
) -> Detection:
    """Detect hotspots on an ingest store without loading its rows.

    Parameters
    ----------
    store
        An ingest ``--out`` folder.
    study
        Study areas (the store's).
    options
        :class:`hotspots.detect.points.DetectOptions`.
    months, offences
        Partitions and offences to read.
    exclude
        Offences to leave out (police-generated offences, see :mod:`hotspots.harm.table`).
    harm_table, crime_types, title
        Descriptions; ``crime_types`` defaults to the offences present and ``title`` to
        "Harm hotspots: <crime types>".
    engine
        ``"embedded"`` (stream on this machine) or ``"dask"`` (one task per month on a
        ``dask.distributed`` cluster; see :mod:`hotspots.engines.dask`).
    scheduler
        Dask scheduler address; ``None`` starts a local cluster.
    with_searches
        When the store also holds stop and search, count located searches per cell over
        the same months (column ``searches``).

    Returns
    -------
    hotspots.detect.points.Detection
        As :func:`hotspots.detect.points.detect_hotspots` on the same rows.
    """
    aggregates = aggregate_store(
        store,
        months=months,
        offences=offences,
        engine=engine,
        scheduler=scheduler,
        exclude=exclude,
    )
    history = count_cells(store, dataset="incidents", offences=offences, exclude=exclude)
    every_month = months_in_store(dataset_root(store))
    history = history.rename(
        f"every incident from {every_month[0]} to {every_month[-1]}"
        + (f" ({', '.join(offences)})" if offences else "")
        if every_month
        else "the store"
    )
    if not crime_types:
        crime_types = tuple(sorted(aggregates.offences)) or None
    detection = detect_from_aggregates(
        aggregates,
        study,
        options=options,
        harm_table=harm_table,
        crime_types=crime_types,
        title=title or f"Harm hotspots: {', '.join(crime_types or ('all crime',))}",
        exposure=history,
    )
    if with_searches and (Path(store) / "searches").is_dir():
        per_cell = count_cells(store, dataset="searches", months=months)
        detection.cells["searches"] = (
            per_cell.reindex(detection.cells.index, fill_value=0).astype(np.int64).to_numpy()
        )
        detection.choices["stop_and_search"] = (
            f"{int(detection.cells['searches'].sum()):,} located searches in the same months "
            "counted per cell (map layer 'Stop and search per cell')"
        )
    return detection
