"""``hotspots detect``: every hotspot method side by side on one cells table.

Steps, each a public function of its own module:

1. harm and counts per H3 cell over the whole study area, zeros included
   (:func:`hotspots.methods.counts.count_in_cells`);
2. concentration: Lorenz curve, Gini, top 1/5/10% shares, cells for half
   (:func:`hotspots.methods.concentration.measure_concentration`);
3. kernel density of harm on a metric grid, sampled to cells (:mod:`hotspots.methods.kde`);
4. Getis-Ord Gi* on the cells with k-ring neighbours and FDR (:mod:`hotspots.methods.gi`);
5. harm-weighted DBSCAN clusters with readable place names (:mod:`hotspots.methods.clusters`);
6. emerging hot-spot classes over a space-time cube of months (:mod:`hotspots.methods.emerging`).

The cells table follows the command-line contract: ``cell``, ``borough``, ``incidents``,
``harm``, ``density``, ``gi_z``, ``gi_p``, ``gi_p_fdr``, ``gi_class``, ``cluster``,
``trend``, ``rank`` (plus ``borough_code``, ``place``, ``gi_p_perm``, ``lon``, ``lat``,
``area_km2`` and the hexagon geometry).
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from hotspots.core import schema
from hotspots.core.errors import InputError, SchemaError
from hotspots.geo.geocode import Areas
from hotspots.geo.grid import make_grid
from hotspots.ingest.area_counts import AreaCounts
from hotspots.ingest.read import IngestSettings, Selection, read_incidents
from hotspots.io.atomic import atomic_path, write_csv, write_json
from hotspots.io.formats import tidy_location
from hotspots.io.manifest import Clock, build_manifest
from hotspots.io.sources import find_sources
from hotspots.io.store import is_store
from hotspots.methods.concentration import Concentration, measure_concentration
from hotspots.methods.counts import HARM_SUM, INCIDENT_COUNT, count_in_cells

CONTRACT_COLUMNS = (
    "cell",
    "borough",
    "incidents",
    "harm",
    "density",
    "gi_z",
    "gi_p",
    "gi_p_fdr",
    "gi_class",
    "cluster",
    "trend",
    "rank",
)
MIN_MONTHS_FOR_TRENDS = 6
DEFAULT_EPS_M = 150.0
"""DBSCAN radius: about one H3 resolution-9 cell across, a few street blocks."""


@dataclass(frozen=True)
class DetectOptions:
    """Choices for :func:`detect_hotspots`; ``None`` means "choose automatically".

    Attributes
    ----------
    resolution
        H3 resolution of the cells.
    kernel, bandwidth_rule, bandwidth_m, adjust, grid_m, edge_correction
        Kernel density settings (see :mod:`hotspots.methods.kde`).
    neighbours_k
        H3 k-ring for Gi* (1 = the six touching cells).
    permutations, seed
        Gi* permutation inference (0 = analytic only).
    fdr
        Benjamini-Hochberg control of the false-discovery rate for Gi* classes.
    cluster_method, eps_m, min_harm
        Clustering settings (see :mod:`hotspots.methods.clusters`).
    min_count
        Disclosure threshold for published maps and tables.
    """

    resolution: int = schema.DEFAULT_H3_RESOLUTION
    kernel: str = "quartic"
    bandwidth_rule: str | None = None
    bandwidth_m: float | None = None
    adjust: float = 1.0
    grid_m: float = 50.0
    edge_correction: bool = True
    neighbours_k: int = 1
    permutations: int = 0
    seed: int = 0
    fdr: bool = True
    cluster_method: str = "dbscan"
    eps_m: float | None = None
    min_harm: float | None = None
    min_count: int = 5


@dataclass(frozen=True)
class Detection:
    """Everything ``detect`` found, as frames and plain values.

    Attributes
    ----------
    cells
        One row per H3 cell, contract columns first (indexed by ``cell``).
    clusters
        Cluster polygons with place names, ranked by harm.
    concentration
        ``{"incidents": Concentration, "harm": Concentration}``.
    monthly
        Incidents and harm per month.
    choices
        Every automatic choice, as readable sentences.
    parameters
        The same, machine-readable, for the manifest.
    period
        First and last month.
    crime_types
        Crime types included (None = all in the input).
    harm_table
        Name of the harm weights.
    gi_p_label
        Which p-value drew the Gi* classes.
    title
        Title for maps and reports.
    """

    cells: gpd.GeoDataFrame
    clusters: gpd.GeoDataFrame
    concentration: dict[str, Concentration]
    monthly: pd.DataFrame
    choices: dict[str, str]
    parameters: dict[str, object]
    period: tuple[str, str]
    crime_types: tuple[str, ...] | None
    harm_table: str
    gi_p_label: str
    title: str = "Harm hotspots"
    study_areas: gpd.GeoDataFrame | None = field(default=None, repr=False)
    unit: str = "H3 cell"
    units: str = "cells"
    place_heading: str = "place (most common location)"
    monthly_by_borough: pd.DataFrame | None = field(default=None, repr=False)


def place_per_cell(incidents: pd.DataFrame) -> pd.Series:
    """Most common data.police.uk ``location`` in each cell (ties: alphabetical).

    Returns
    -------
    Series
        Indexed by ``cell_id``; cells without a named location are absent.
    """
    named = incidents.loc[
        incidents[schema.CELL_ID].notna() & incidents[schema.LOCATION].fillna("").ne(""),
        [schema.CELL_ID, schema.LOCATION],
    ]
    if named.empty:
        return pd.Series(dtype=object, name="place")
    counts = (
        named.groupby([schema.CELL_ID, schema.LOCATION], observed=True)
        .size()
        .reset_index(name="n")
    )
    counts = counts.sort_values(
        [schema.CELL_ID, "n", schema.LOCATION], ascending=[True, False, True]
    )
    first = counts.drop_duplicates(schema.CELL_ID).set_index(schema.CELL_ID)[schema.LOCATION]
    return first.map(tidy_location).rename("place")


def monthly_totals(incidents: pd.DataFrame) -> pd.DataFrame:
    """Incidents and harm per month, every month between the first and last present."""
    if incidents.empty:
        return pd.DataFrame({"incidents": [], "harm": []})
    months = incidents[schema.MONTH]
    grouped = incidents.groupby(months, observed=True)
    full = pd.period_range(months.min(), months.max(), freq="M")
    return pd.DataFrame(
        {
            "incidents": grouped.size().reindex(full, fill_value=0).astype(int),
            "harm": grouped[schema.HARM].sum().reindex(full, fill_value=0.0),
        }
    )


def monthly_by_borough(incidents: pd.DataFrame) -> pd.DataFrame:
    """Incidents and harm per borough and month (long form, every month of the period)."""
    if incidents.empty:
        return pd.DataFrame(columns=[schema.BOROUGH_CODE, schema.MONTH, "incidents", "harm"])
    months = pd.period_range(
        incidents[schema.MONTH].min(), incidents[schema.MONTH].max(), freq="M"
    )
    grouped = incidents.groupby([schema.BOROUGH_CODE, schema.MONTH], observed=True)
    table = pd.DataFrame({"incidents": grouped.size(), "harm": grouped[schema.HARM].sum()})
    full = pd.MultiIndex.from_product(
        [sorted(incidents[schema.BOROUGH_CODE].dropna().unique()), months],
        names=[schema.BOROUGH_CODE, schema.MONTH],
    )
    return table.reindex(full, fill_value=0).reset_index()


def borough_view(detection: Detection, borough: str) -> Detection:
    """Cut a detection down to one borough, ranked within it.

    Parameters
    ----------
    detection
        A London-wide (or force-wide) detection.
    borough
        Borough code (``E09000022``) or name (``Lambeth``), any case.

    Raises
    ------
    SchemaError
        If no cell belongs to that borough.
    """
    cells = detection.cells
    wanted = str(borough).strip().casefold()
    mask = (cells["borough_code"].astype(str).str.casefold() == wanted) | (
        cells["borough"].astype(str).str.casefold() == wanted
    )
    if not mask.any():
        known = sorted(set(cells["borough"].astype(str)))
        raise SchemaError(
            f"no {detection.units} in borough {borough!r}; boroughs are e.g. {', '.join(known[:5])}."
        )
    local = cells[mask].copy()
    code = str(local["borough_code"].iloc[0])
    name = str(local["borough"].iloc[0])
    local["rank"] = _rank(local).to_numpy()
    clusters = detection.clusters
    if clusters is not None and not clusters.empty and schema.BOROUGH_CODE in clusters:
        clusters = clusters[clusters[schema.BOROUGH_CODE] == code].copy()
        clusters["rank"] = range(1, len(clusters) + 1)
    monthly = detection.monthly
    if detection.monthly_by_borough is not None and not detection.monthly_by_borough.empty:
        by = detection.monthly_by_borough
        monthly = by[by[schema.BOROUGH_CODE] == code].set_index(schema.MONTH)[
            ["incidents", "harm"]
        ]
    study = detection.study_areas
    if study is not None and code in study.index:
        study = study.loc[[code]]
    return dataclasses.replace(
        detection,
        cells=local,
        clusters=clusters,
        concentration={
            "incidents": measure_concentration(local["incidents"], quantity="incidents"),
            "harm": measure_concentration(local["harm"], quantity="harm"),
        },
        monthly=monthly,
        title=f"{detection.title} — {name}",
        study_areas=study,
    )


def _describe_clusters(parameters: dict[str, object]) -> str:
    """One sentence on how clusters were found, for reports and manifests."""
    source = parameters.get("min_harm_source")
    return (
        f"{str(parameters['method']).upper()} on {parameters['distinct_points']:,} distinct map "
        f"points ({parameters['incidents']:,} incidents stacked on them, collapsed into harm "
        f"weights), eps {parameters['eps_m']:.0f} m, a core point needs "
        f"{parameters['min_harm']:,.0f} harm-days within eps ({source}); "
        f"{parameters['clusters']:,} clusters holding "
        f"{100 * float(parameters['harm_share_clustered']):.1f}% of harm"
    )


def _rank(cells: pd.DataFrame) -> pd.Series:
    order = cells.assign(_cell=cells.index).sort_values(
        ["harm", "density", "_cell"], ascending=[False, False, True], kind="mergesort"
    )
    return pd.Series(np.arange(1, len(order) + 1), index=order.index).reindex(cells.index)


def assemble_cells(
    counted: gpd.GeoDataFrame,
    *,
    density: pd.Series,
    gi: pd.DataFrame,
    cluster_of_cell: pd.Series,
    trends: pd.Series,
    places: pd.Series,
) -> gpd.GeoDataFrame:
    """Put every method's per-cell result into the contract cells table, ranked by harm.

    Shared by the in-memory path (:func:`detect_hotspots`) and the streamed one
    (:func:`hotspots.detect.streamed.detect_from_aggregates`), so both write the same table.
    """
    cells = gpd.GeoDataFrame(
        {
            "cell": counted.index.to_numpy(),
            "borough": counted[schema.BOROUGH].to_numpy(dtype=object),
            "incidents": counted[INCIDENT_COUNT].to_numpy(dtype=np.int64),
            "harm": counted[HARM_SUM].to_numpy(dtype=np.float64),
            "density": density.reindex(counted.index).to_numpy(dtype=np.float64),
            "gi_z": gi["gi_z"].to_numpy(),
            "gi_p": gi["gi_p"].to_numpy(),
            "gi_p_fdr": gi["gi_p_fdr"].to_numpy(),
            "gi_class": gi["gi_class"].to_numpy(dtype=object),
            "cluster": cluster_of_cell.to_numpy(dtype=np.int64),
            "trend": trends.reindex(counted.index).to_numpy(dtype=object),
            "rank": 0,
            "borough_code": counted[schema.BOROUGH_CODE].to_numpy(dtype=object),
            "place": places.fillna("").to_numpy(dtype=object),
            "gi_p_perm": gi["gi_p_perm"].to_numpy(),
            "lon": counted["lon"].to_numpy(),
            "lat": counted["lat"].to_numpy(),
            "area_km2": counted["area_km2"].to_numpy(),
        },
        geometry=counted.geometry.to_numpy(),
        index=pd.Index(counted.index.to_numpy(), name=schema.CELL_ID),
        crs=counted.crs,
    )
    cells["rank"] = _rank(cells).to_numpy()
    return cells


def detect_hotspots(
    incidents: gpd.GeoDataFrame,
    study: Areas,
    *,
    options: DetectOptions | None = None,
    harm_table: str = "",
    crime_types: tuple[str, ...] | None = None,
    title: str = "Harm hotspots",
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

    Returns
    -------
    Detection
        The cells table, clusters, concentration, monthly totals and every choice made.
    """
    from hotspots.methods import clusters as clustering
    from hotspots.methods import emerging, kde
    from hotspots.methods import gi as stats

    options = options or DetectOptions()
    schema.require_columns(
        incidents, [schema.MONTH, schema.HARM, schema.CELL_ID, schema.LOCATION], name="incidents"
    )
    if incidents.empty:
        raise InputError(
            "no incidents to analyse after the selection; check --months and --crime-type."
        )
    if incidents.crs is None or incidents.crs.is_geographic:
        raise SchemaError(
            "incidents must be in a projected CRS (metres); load them with read_incidents."
        )
    placed = incidents[incidents[schema.CELL_ID].notna()]
    grid = make_grid(study, resolution=options.resolution)
    counted = count_in_cells(placed, grid, weight=schema.HARM)
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

    # kernel density -------------------------------------------------------
    xs = placed.geometry.x.to_numpy()
    ys = placed.geometry.y.to_numpy()
    weights = placed[schema.HARM].to_numpy(dtype=np.float64)
    density_series, density_choice, density_params = kde.density_for_detect(
        xs,
        ys,
        weights,
        cells=counted,
        study_area=study.outline,
        kernel=options.kernel,
        rule=options.bandwidth_rule,
        bandwidth_m=options.bandwidth_m,
        adjust=options.adjust,
        cell_size_m=options.grid_m,
        edge_correction=options.edge_correction,
    )
    choices["kernel_density"] = density_choice
    parameters["kernel_density"] = density_params

    # Gi* ------------------------------------------------------------------
    gi, gi_choice, gi_params, gi_label = stats.gi_for_detect(
        counted,
        value=HARM_SUM,
        k=options.neighbours_k,
        permutations=options.permutations,
        seed=options.seed,
        fdr=options.fdr,
    )
    choices["gi_star"] = gi_choice
    parameters["gi_star"] = gi_params

    # clusters ---------------------------------------------------------------
    found = clustering.find_clusters(
        placed,
        method=options.cluster_method,
        eps_m=options.eps_m if options.eps_m is not None else DEFAULT_EPS_M,
        min_harm=options.min_harm,
    )
    cluster_of_cell = clustering.clusters_per_cell(found, placed).reindex(
        counted.index, fill_value=-1
    )
    choices["clusters"] = _describe_clusters(found.parameters)
    parameters["clusters"] = found.parameters

    # emerging trends --------------------------------------------------------
    monthly = monthly_totals(placed)
    if len(monthly) >= MIN_MONTHS_FOR_TRENDS:
        trends, trend_choice, trend_params = emerging.trends_for_detect(
            placed, counted, k=options.neighbours_k, fdr=options.fdr
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

    places = place_per_cell(placed).reindex(counted.index)
    cells = assemble_cells(
        counted,
        density=density_series,
        gi=gi,
        cluster_of_cell=cluster_of_cell,
        trends=trends,
        places=places,
    )
    concentration = {
        "incidents": measure_concentration(cells["incidents"], quantity="incidents"),
        "harm": measure_concentration(cells["harm"], quantity="harm"),
    }
    months = placed[schema.MONTH]
    return Detection(
        monthly_by_borough=monthly_by_borough(placed),
        cells=cells,
        clusters=found.polygons,
        concentration=concentration,
        monthly=monthly,
        choices=choices,
        parameters=parameters,
        period=(str(months.min()), str(months.max())),
        crime_types=crime_types,
        harm_table=harm_table,
        gi_p_label=gi_label,
        title=title,
        study_areas=study.polygons,
    )


def detect_area_hotspots(
    counts: AreaCounts,
    areas: Areas,
    *,
    boroughs: Areas | None = None,
    options: DetectOptions | None = None,
    title: str = "Harm hotspots by area",
) -> Detection:
    """Run the lattice methods on area counts (the Met's LSOA or ward tables).

    Area counts have no points, so kernel density and point clustering do not apply:
    ``density`` is harm per km² of the area and ``cluster`` is -1. Gi* uses queen
    contiguity (areas sharing a boundary point are neighbours) and emerging hot spots use
    the monthly counts.

    Parameters
    ----------
    counts
        From :func:`hotspots.ingest.area_counts.read_area_counts`.
    areas
        The polygons the counts refer to (e.g. :func:`hotspots.geo.boundaries.london_lsoas`);
        every area is a row, zeros included. Codes in ``counts`` that are not polygons are
        left out and counted in ``parameters``.
    boroughs
        Borough polygons for names and map outlines (codes in ``counts`` are GSS codes).
    options
        Gi* settings (``permutations``, ``seed``, ``fdr``) and the disclosure threshold.
    title
        Title for maps and reports.
    """
    from hotspots.ingest.area_counts import AREA_CODE, COUNT
    from hotspots.methods import emerging
    from hotspots.methods import gi as stats

    options = options or DetectOptions()
    polygons = areas.polygons
    tidy = counts.counts
    known = tidy[AREA_CODE].isin(polygons.index)
    unknown_codes = sorted(set(tidy.loc[~known, AREA_CODE]))
    tidy = tidy[known]
    if tidy.empty:
        raise InputError(
            f"none of the area codes in the counts are in {areas.source}; "
            "check that the boundary layer matches the counts (e.g. 2021 LSOAs)."
        )
    per_area = tidy.groupby(AREA_CODE)[[COUNT, schema.HARM]].sum()
    incidents = per_area[COUNT].reindex(polygons.index, fill_value=0).astype(np.int64)
    harm = per_area[schema.HARM].reindex(polygons.index, fill_value=0.0).astype(np.float64)
    area_km2 = polygons.geometry.area.to_numpy() / 1e6

    weights = stats.polygon_neighbours(polygons, contiguity="queen")
    p_from = stats.ANALYTIC
    gi = stats.gi_star(
        harm,
        weights,
        permutations=options.permutations,
        seed=options.seed,
        fdr=options.fdr,
        p_from=p_from,
    )
    neighbours = np.asarray(weights.sum(axis=1)).ravel()
    gi_label = "analytic two-sided normal p" + (", Benjamini-Hochberg FDR" if options.fdr else "")

    months = sorted(tidy[schema.MONTH].unique())
    cube = (
        tidy.pivot_table(index=AREA_CODE, columns=schema.MONTH, values=schema.HARM, aggfunc="sum")
        .reindex(index=polygons.index, columns=months)
        .fillna(0.0)
    )
    if len(months) >= MIN_MONTHS_FOR_TRENDS:
        trend_table = emerging.emerging_hotspots(cube, weights, fdr=options.fdr)
        trends = trend_table["trend"].astype(str)
        trend_choice = (
            f"emerging hot spots over {len(months)} months ({months[0]}..{months[-1]}) of "
            "harm per area: Gi* per month with queen-contiguity neighbours, bins significant "
            "at p <= 0.05 after Benjamini-Hochberg over all bins, Mann-Kendall trend at 0.05"
        )
    else:
        trends = pd.Series("not_enough_months", index=polygons.index)
        trend_choice = f"only {len(months)} month(s): no emerging hot-spot classes"

    borough_codes = tidy.groupby(AREA_CODE)[schema.BOROUGH].first().reindex(polygons.index)
    borough_names = borough_codes
    if boroughs is not None:
        names = pd.Series(boroughs.names, index=boroughs.codes)
        borough_names = borough_codes.map(names).fillna(borough_codes)
    cells = gpd.GeoDataFrame(
        {
            "cell": polygons.index.to_numpy(),
            "borough": borough_names.fillna("").to_numpy(dtype=object),
            "incidents": incidents.to_numpy(),
            "harm": harm.to_numpy(),
            "density": harm.to_numpy() / np.where(area_km2 > 0, area_km2, np.nan),
            "gi_z": gi["gi_z"].to_numpy(),
            "gi_p": gi["gi_p"].to_numpy(),
            "gi_p_fdr": gi["gi_p_fdr"].to_numpy(),
            "gi_class": gi["gi_class"].astype(str).to_numpy(dtype=object),
            "cluster": -1,
            "trend": trends.reindex(polygons.index).to_numpy(dtype=object),
            "rank": 0,
            "borough_code": borough_codes.fillna("").to_numpy(dtype=object),
            "place": polygons["name"].to_numpy(dtype=object),
            "gi_p_perm": gi["gi_p_perm"].to_numpy(),
            "area_km2": area_km2,
        },
        geometry=polygons.geometry.to_numpy(),
        index=pd.Index(polygons.index.to_numpy(), name="area_code"),
        crs=polygons.crs,
    )
    cells["rank"] = _rank(cells).to_numpy()
    monthly = pd.DataFrame(
        {
            "incidents": tidy.groupby(schema.MONTH)[COUNT].sum(),
            "harm": tidy.groupby(schema.MONTH)[schema.HARM].sum(),
        }
    )
    hot = int(cells["gi_class"].str.startswith("hot").sum())
    cold = int(cells["gi_class"].str.startswith("cold").sum())
    choices = {
        "areas": (
            f"{len(polygons):,} {areas.kind} polygons from {Path(areas.source).name} (areas without "
            f"offences kept as 0); {len(unknown_codes)} code(s) in the counts have no polygon "
            "and are left out"
        ),
        "counts": (
            f"{counts.geography} counts from the MPS recorded-crime table, {months[0]}..{months[-1]}; "
            f"harm = count x CCHI weight of the minor category ({counts.harm_table})"
        ),
        "density": "harm per km² of each area (no kernel density: area counts have no points)",
        "gi_star": (
            f"Getis-Ord Gi* on harm with queen contiguity (median {int(np.median(neighbours))} "
            f"areas per neighbourhood, the area itself included); classes at 90/95/99% from the "
            f"{gi_label}: {hot:,} hot and {cold:,} cold areas"
        ),
        "clusters": "not applicable to area counts (no points)",
        "emerging": trend_choice,
    }
    parameters: dict[str, object] = {
        "areas": len(polygons),
        "area_layer": areas.source,
        "unknown_area_codes": unknown_codes[:50],
        "unknown_area_code_count": len(unknown_codes),
        "months": [str(m) for m in months],
        "gi_star": {
            "contiguity": "queen",
            "fdr": options.fdr,
            "permutations": options.permutations,
        },
    }
    return Detection(
        cells=cells,
        clusters=gpd.GeoDataFrame(geometry=[], crs=polygons.crs),
        concentration={
            "incidents": measure_concentration(cells["incidents"], quantity="incidents"),
            "harm": measure_concentration(cells["harm"], quantity="harm"),
        },
        monthly=monthly,
        choices=choices,
        parameters=parameters,
        period=(str(months[0]), str(months[-1])),
        crime_types=tuple(sorted(tidy["major_category"].unique())),
        harm_table=counts.harm_table,
        gi_p_label=gi_label,
        title=title,
        study_areas=boroughs.polygons if boroughs is not None else None,
        unit=detection_unit(counts.geography),
        units=detection_unit(counts.geography) + "s",
        place_heading="name",
    )


# ---------------------------------------------------------------------------
# reading inputs and writing outputs


def _area_counts_input(paths: list[Path], settings: IngestSettings) -> AreaCounts | None:
    """Read an MPS area-count table if that is what was given (else None)."""
    from hotspots.ingest.area_counts import GEOGRAPHIES, read_area_counts
    from hotspots.io.sources import read_header

    if len(paths) != 1 or not paths[0].is_file():
        return None
    sources = find_sources(paths)
    header = sources[0].path and read_header(sources[0])[0]
    columns = {c.strip() for c in header}
    is_counts = any(code in columns for code, _ in GEOGRAPHIES.values()) and (
        {"major_category", "minor_category"} <= columns or {"majortext", "minortext"} <= columns
    )
    if not is_counts:
        return None
    majors = settings.selection.crime_types
    return read_area_counts(paths[0], months=settings.selection.months, majors=majors)


def _run_area_detect(
    paths: list[Path],
    counts: AreaCounts,
    out: Path,
    *,
    settings: IngestSettings,
    options: DetectOptions,
    clock: Clock,
    title: str | None,
) -> DetectResult:
    from hotspots.geo.boundaries import london_boroughs, london_lsoas, london_wards
    from hotspots.maps.draw import draw_hotspot_map, render_map
    from hotspots.reports.detect import render_detect_report

    layers = {"lsoa": london_lsoas, "ward": london_wards}
    if counts.geography not in layers:
        raise InputError(
            f"{paths[0]} holds {counts.geography} counts; detect works on LSOA or ward counts "
            "(a lattice of small areas)."
        )
    areas = layers[counts.geography]()
    boroughs = london_boroughs()
    what = ", ".join(m.title() for m in settings.selection.crime_types or ()) or "all offences"
    detection = detect_area_hotspots(
        counts,
        areas,
        boroughs=boroughs,
        options=options,
        title=title or f"Harm hotspots by {detection_unit(counts.geography)}: {what}",
    )
    write_csv(out / "rejects.csv", counts.rejects)
    cells = detection.cells
    files: dict[str, Path] = {}
    table = cells.rename(columns={"cell": "area", "place": "area_name"})
    files["areas"] = out / "areas.parquet"
    with atomic_path(files["areas"], mode="wb") as handle:
        table.to_parquet(handle, index=False)
    files["areas_csv"] = out / "areas.csv"
    write_csv(files["areas_csv"], table.drop(columns="geometry"))
    files["hotspots"] = out / "hotspots.geojson"
    write_json(files["hotspots"], hotspots_geojson(detection, min_count=options.min_count))
    fmap = draw_hotspot_map(
        cells,
        clusters=None,
        boroughs=boroughs.polygons,
        title=detection.title,
        period=f"{detection.period[0]} to {detection.period[1]}",
        harm_table=detection.harm_table,
        gi_p_label=detection.gi_p_label,
        min_count=options.min_count,
        unit=detection.unit,
        density_label="Harm per km²",
    )
    files["map"] = out / "map.html"
    with atomic_path(files["map"]) as handle:
        handle.write(render_map(fmap))
    rejects = counts.rejects["reason"].value_counts().sort_index().to_dict()
    accepted = counts.rows_read - len(counts.rejects)
    manifest = build_manifest(
        command="detect",
        sources=find_sources(paths),
        reports=[],
        parameters={"harm_table": counts.harm_table, "selection": settings.selection.describe()},
        outputs=files,
        clock=clock,
        extra={
            "automatic_choices": detection.choices,
            "detect": {
                "input": "area counts",
                "geography": counts.geography,
                "parameters": detection.parameters,
                "period": list(detection.period),
                "concentration": {k: v.as_dict() for k, v in detection.concentration.items()},
                "gi_classes": cells["gi_class"].value_counts().sort_index().to_dict(),
                "trends": cells["trend"].value_counts().sort_index().to_dict(),
                "gi_classes_drawn_from": detection.gi_p_label,
            },
        },
    )
    manifest["rows"] = {
        "read": counts.rows_read,
        "accepted": accepted,
        "rejected": len(counts.rejects),
        "invariant_holds": accepted + len(counts.rejects) == counts.rows_read,
        "unit": "wide rows (area x offence)",
    }
    manifest["rejects_by_reason"] = rejects
    for entry in manifest["inputs"]:  # type: ignore[union-attr]
        entry.update(
            {"rows_read": counts.rows_read, "accepted": accepted, "rejected": len(counts.rejects)}
        )
    files["report"] = out / "report.html"
    with atomic_path(files["report"]) as handle:
        handle.write(
            render_detect_report(detection, manifest=manifest, min_count=options.min_count)
        )
    manifest["outputs"]["report"] = _output_entry(files["report"])  # type: ignore[index]
    write_json(out / "manifest.json", manifest)
    return DetectResult(out_dir=out, detection=detection, files=files, manifest=manifest)


def detection_unit(geography: str) -> str:
    """Readable unit for a geography: ``LSOA``, ``ward``."""
    return "LSOA" if geography == "lsoa" else geography


@dataclass(frozen=True)
class DetectResult:
    """Files written by :func:`run_detect` and the detection itself."""

    out_dir: Path
    detection: Detection
    files: dict[str, Path]
    manifest: dict[str, object]


def hotspots_geojson(detection: Detection, *, min_count: int) -> dict[str, object]:
    """Build the published hotspots: significant hot cells and clusters, WGS84, suppressed.

    Counts below ``min_count`` are null with ``"suppressed": true``.
    """
    features: list[dict[str, object]] = []
    cells = detection.cells
    hot = cells[cells["gi_class"].astype(str).str.startswith("hot")].to_crs(schema.WGS84)

    def counts(n: int, harm: float) -> dict[str, object]:
        small = 0 < n < min_count
        return {
            "incidents": None if small else int(n),
            "harm": None if small else round(float(harm), 2),
            "suppressed": bool(small),
        }

    import shapely

    for cell, row in hot.iterrows():
        features.append(
            {
                "type": "Feature",
                "geometry": shapely.geometry.mapping(shapely.set_precision(row.geometry, 1e-6)),
                "properties": {
                    "kind": "gi_hot_cell",
                    "cell": cell,
                    "borough": row["borough"],
                    "place": row["place"],
                    "gi_class": row["gi_class"],
                    "gi_z": round(float(row["gi_z"]), 4),
                    "trend": row["trend"],
                    "rank": int(row["rank"]),
                    **counts(int(row["incidents"]), float(row["harm"])),
                },
            }
        )
    clusters = detection.clusters
    if clusters is not None and not clusters.empty:
        for cluster_id, row in clusters.to_crs(schema.WGS84).iterrows():
            features.append(
                {
                    "type": "Feature",
                    "geometry": shapely.geometry.mapping(
                        shapely.set_precision(row.geometry, 1e-6)
                    ),
                    "properties": {
                        "kind": "harm_cluster",
                        "cluster": int(cluster_id),
                        "place": row["place"],
                        "borough": row["borough"],
                        "rank": int(row["rank"]),
                        **counts(int(row["incidents"]), float(row["harm"])),
                    },
                }
            )
    return {
        "type": "FeatureCollection",
        "name": detection.title,
        "period": list(detection.period),
        "harm_table": detection.harm_table,
        "disclosure": f"counts below {min_count} are suppressed",
        "features": features,
    }


def run_detect(
    inputs: Sequence[str | Path],
    out_dir: str | Path,
    *,
    settings: IngestSettings,
    options: DetectOptions | None = None,
    overwrite: bool = False,
    title: str | None = None,
    borough_reports: Sequence[str] = (),
    engine: str = "embedded",
    scheduler: str | None = None,
) -> DetectResult:
    """Read inputs (raw files or an ingested store), detect hotspots, write every output.

    Writes ``cells.parquet``, ``cells.csv``, ``hotspots.geojson``, ``clusters.csv``,
    ``map.html``, ``report.html``, ``rejects.csv`` and ``manifest.json`` into ``out_dir``,
    and ``boroughs/<name>/map.html`` + ``report.html`` for each of ``borough_reports``
    (codes or names; ``"all"`` for every borough). When the input is an ingest folder that
    also holds stop and search, searches per cell over the same months become a map layer.
    An ingest folder is streamed month by month (:func:`hotspots.detect.streamed.detect_store`), never
    loaded whole; ``engine="dask"`` runs the reading and aggregation on a
    ``dask.distributed`` cluster at ``scheduler`` (raw files are first ingested into
    ``out_dir/store`` there).
    """
    from hotspots.ingest.pipeline import prepare_out_dir
    from hotspots.maps.draw import draw_hotspot_map, render_map
    from hotspots.reports.detect import render_detect_report

    clock = Clock()
    options = options or DetectOptions()
    out = prepare_out_dir(out_dir, overwrite=overwrite)
    selection: Selection = settings.selection
    paths = [Path(p) for p in inputs]
    counts = _area_counts_input(paths, settings)
    if counts is not None:
        return _run_area_detect(
            paths, counts, out, settings=settings, options=options, clock=clock, title=title
        )
    detection: Detection | None = None
    if engine == "dask" and not (len(paths) == 1 and is_store(paths[0])):
        # scale: raw files are first ingested on the cluster into OUT/store
        from hotspots.ingest.pipeline import ingest_to_store

        staged = ingest_to_store(
            paths,
            out / "store",
            settings=settings,
            overwrite=True,
            engine=engine,
            scheduler=scheduler,
        )
        paths = [staged.out_dir]
    if len(paths) == 1 and is_store(paths[0]):
        store = paths[0]
        offences = None
        if selection.crime_types:
            offences = list(settings.harm.canonical(np.array(selection.crime_types, dtype=object)))
            offences = [o for o in offences if o]
        store_manifest = json.loads((store / "manifest.json").read_text(encoding="utf-8"))
        harm_name = store_manifest.get("parameters", {}).get("harm_table", settings.harm.name)
        # scale: stream the store month by month; memory depends on cells, not rows
        from hotspots.detect.streamed import detect_store

        detection = detect_store(
            store,
            settings.layers.study,
            options=options,
            months=selection.months,
            offences=offences,
            harm_table=harm_name,
            crime_types=tuple(selection.crime_types) if selection.crime_types else None,
            title=title,
            engine=engine,
            scheduler=scheduler,
        )
        incidents = None
        with (
            open(store / "rejects.csv", "rb") as source,
            atomic_path(out / "rejects.csv", mode="wb") as target,
        ):
            shutil.copyfileobj(source, target)
        sources = []
        reports: list[object] = []
        input_entries = store_manifest.get("inputs", [])
        rejects_by_reason = store_manifest.get("rejects_by_reason", {})
        rows = store_manifest.get("rows", {})
    else:
        sources = find_sources(paths)
        loaded = read_incidents(paths, settings=settings)
        incidents = loaded.incidents
        write_csv(out / "rejects.csv", loaded.rejects)
        reports = loaded.reports
        input_entries = None
        rejects_by_reason = loaded.rejects["reason"].value_counts().sort_index().to_dict()
        rows = None
        harm_name = settings.harm.name
    crime_types = tuple(selection.crime_types) if selection.crime_types else None
    if detection is None:
        if not crime_types and not incidents.empty:
            crime_types = tuple(sorted(map(str, incidents[schema.OFFENCE].dropna().unique())))
        detection = detect_hotspots(
            incidents,
            settings.layers.study,
            options=options,
            harm_table=harm_name,
            crime_types=crime_types,
            title=title or f"Harm hotspots: {', '.join(crime_types or ('all crime',))}",
        )
    crime_types = detection.crime_types

    files: dict[str, Path] = {}
    cells = detection.cells
    files["cells"] = out / "cells.parquet"
    with atomic_path(files["cells"], mode="wb") as handle:
        cells.to_parquet(handle, index=False)
    files["cells_csv"] = out / "cells.csv"
    write_csv(files["cells_csv"], cells.drop(columns="geometry"))
    files["clusters_csv"] = out / "clusters.csv"
    clusters = detection.clusters
    write_csv(
        files["clusters_csv"],
        clusters.drop(columns="geometry").reset_index()
        if clusters is not None
        else pd.DataFrame(),
    )
    files["hotspots"] = out / "hotspots.geojson"
    write_json(files["hotspots"], hotspots_geojson(detection, min_count=options.min_count))
    boroughs = (
        detection.study_areas
        if detection.study_areas is not None
        else settings.layers.study.polygons
    )
    fmap = draw_hotspot_map(
        cells,
        clusters=clusters,
        boroughs=boroughs,
        title=detection.title,
        period=f"{detection.period[0]} to {detection.period[1]}",
        harm_table=detection.harm_table,
        gi_p_label=detection.gi_p_label,
        min_count=options.min_count,
    )
    files["map"] = out / "map.html"
    with atomic_path(files["map"]) as handle:
        handle.write(render_map(fmap))

    extra: dict[str, object] = {
        "automatic_choices": detection.choices,
        "detect": {
            "options": options.__dict__,
            "parameters": detection.parameters,
            "period": list(detection.period),
            "crime_types": list(crime_types) if crime_types else None,
            "incidents": int(cells["incidents"].sum()),
            "concentration": {k: v.as_dict() for k, v in detection.concentration.items()},
            "gi_classes": cells["gi_class"].value_counts().sort_index().to_dict(),
            "trends": cells["trend"].value_counts().sort_index().to_dict(),
            "clusters": 0 if clusters is None else len(clusters),
            "gi_classes_drawn_from": detection.gi_p_label,
        },
    }
    manifest = build_manifest(
        command="detect",
        sources=sources,
        reports=reports,
        parameters=settings.describe(),
        outputs=files,
        clock=clock,
        extra=extra,
    )
    if input_entries is not None:
        manifest["inputs"] = input_entries
        manifest["rejects_by_reason"] = rejects_by_reason
        manifest["rows"] = rows
        manifest["input_store"] = str(paths[0])
    files["report"] = out / "report.html"
    with atomic_path(files["report"]) as handle:
        handle.write(
            render_detect_report(detection, manifest=manifest, min_count=options.min_count)
        )
    manifest["outputs"]["report"] = _output_entry(files["report"])
    borough_files = _write_borough_outputs(
        detection, out, borough_reports, options=options, wards_from=settings, manifest=manifest
    )
    for name, path in borough_files.items():
        manifest["outputs"][name] = _output_entry(path)
    files.update(borough_files)
    write_json(out / "manifest.json", manifest)
    return DetectResult(out_dir=out, detection=detection, files=files, manifest=manifest)


def _output_entry(path: Path) -> dict[str, object]:
    """Path, sha256 and size of an output, for the manifest (checked by ``hotspots verify``)."""
    from hotspots.io.atomic import sha256_file

    return {"path": str(path), "sha256": sha256_file(path), "bytes": path.stat().st_size}


def _slug(text: str, *, limit: int = 60) -> str:
    """Make a short, safe folder name from an area name (letters, digits, underscores)."""
    slug = "".join(c if c.isalnum() else "_" for c in text.strip().lower()).strip("_")
    return slug[:limit].rstrip("_") or "area"


def _write_borough_outputs(
    detection: Detection,
    out: Path,
    wanted: Sequence[str],
    *,
    options: DetectOptions,
    wards_from: IngestSettings,
    manifest: dict[str, object],
) -> dict[str, Path]:
    """Write a map and a report per borough asked for; return their paths by key."""
    from hotspots.maps.draw import draw_hotspot_map, render_map
    from hotspots.reports.detect import render_detect_report

    if not wanted:
        return {}
    cells = detection.cells
    if any(w.strip().casefold() == "all" for w in wanted):
        codes = sorted(set(cells["borough_code"].dropna().astype(str)) - {""})
    else:
        codes = [str(w) for w in wanted]
    wards = None
    if (
        wards_from.layers.study.kind == "borough"
        and "london_boroughs" in wards_from.layers.study.source
    ):
        from hotspots.geo.boundaries import london_wards

        wards = london_wards().polygons
    files: dict[str, Path] = {}
    for code in codes:
        view = borough_view(detection, code)
        name = str(view.cells["borough"].iloc[0])
        slug = _slug(name)
        if (out / "boroughs" / slug).exists() and f"map_{slug}" in files:
            slug = f"{slug}_{_slug(code, limit=20)}"  # two areas with the same short name
        folder = out / "boroughs" / slug
        local_wards = None
        if wards is not None and view.study_areas is not None:
            shape = view.study_areas.union_all()
            inside = wards.representative_point().within(shape)
            local_wards = wards[inside.to_numpy()]
        fmap = draw_hotspot_map(
            view.cells,
            clusters=view.clusters,
            boroughs=view.study_areas if view.study_areas is not None else cells.iloc[:0],
            title=view.title,
            period=f"{view.period[0]} to {view.period[1]}",
            harm_table=view.harm_table,
            gi_p_label=view.gi_p_label,
            min_count=options.min_count,
            unit=view.unit,
            wards=local_wards,
            zoom_start=13,
        )
        files[f"map_{slug}"] = folder / "map.html"
        with atomic_path(folder / "map.html") as handle:
            handle.write(render_map(fmap))
        files[f"report_{slug}"] = folder / "report.html"
        with atomic_path(folder / "report.html") as handle:
            handle.write(
                render_detect_report(view, manifest=manifest, min_count=options.min_count)
            )
    return files
