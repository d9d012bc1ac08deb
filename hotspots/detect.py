"""``hotspots detect``: every hotspot method side by side on one cells table.

Steps, each a public function of its own module:

1. harm and counts per H3 cell over the whole study area, zeros included
   (:func:`hotspots.density.count_in_cells`);
2. concentration: Lorenz curve, Gini, top 1/5/10% shares, cells for half
   (:func:`hotspots.concentration.measure_concentration`);
3. kernel density of harm on a metric grid, sampled to cells (:mod:`hotspots.kde`);
4. Getis-Ord Gi* on the cells with k-ring neighbours and FDR (:mod:`hotspots.stats`);
5. harm-weighted DBSCAN clusters with readable place names (:mod:`hotspots.clusters`);
6. emerging hot-spot classes over a space-time cube of months (:mod:`hotspots.emerging`).

The cells table follows the command-line contract: ``cell``, ``borough``, ``incidents``,
``harm``, ``density``, ``gi_z``, ``gi_p``, ``gi_p_fdr``, ``gi_class``, ``cluster``,
``trend``, ``rank`` (plus ``borough_code``, ``place``, ``gi_p_perm``, ``lon``, ``lat``,
``area_km2`` and the hexagon geometry).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from hotspots import schema
from hotspots.concentration import Concentration, measure_concentration
from hotspots.density import HARM_SUM, INCIDENT_COUNT, count_in_cells
from hotspots.errors import InputError, SchemaError
from hotspots.formats import tidy_location
from hotspots.geocode import Areas
from hotspots.grid import make_grid
from hotspots.ingest import IngestSettings, Selection, read_incidents
from hotspots.io import atomic_path, write_csv, write_json
from hotspots.manifest import Clock, build_manifest
from hotspots.sources import find_sources
from hotspots.store import read_store

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
        Kernel density settings (see :mod:`hotspots.kde`).
    neighbours_k
        H3 k-ring for Gi* (1 = the six touching cells).
    permutations, seed
        Gi* permutation inference (0 = analytic only).
    fdr
        Benjamini-Hochberg control of the false-discovery rate for Gi* classes.
    cluster_method, eps_m, min_harm
        Clustering settings (see :mod:`hotspots.clusters`).
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
    from hotspots import clusters as clustering
    from hotspots import emerging, kde, stats

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
    cells = gpd.GeoDataFrame(
        {
            "cell": counted.index.to_numpy(),
            "borough": counted[schema.BOROUGH].to_numpy(dtype=object),
            "incidents": counted[INCIDENT_COUNT].to_numpy(dtype=np.int64),
            "harm": counted[HARM_SUM].to_numpy(dtype=np.float64),
            "density": density_series.reindex(counted.index).to_numpy(dtype=np.float64),
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
    concentration = {
        "incidents": measure_concentration(cells["incidents"], quantity="incidents"),
        "harm": measure_concentration(cells["harm"], quantity="harm"),
    }
    months = placed[schema.MONTH]
    return Detection(
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


# ---------------------------------------------------------------------------
# reading inputs and writing outputs


def _is_store(path: Path) -> bool:
    return path.is_dir() and (path / "incidents").is_dir() and (path / "manifest.json").exists()


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
) -> DetectResult:
    """Read inputs (raw files or an ingested store), detect hotspots, write every output.

    Writes ``cells.parquet``, ``cells.csv``, ``hotspots.geojson``, ``clusters.csv``,
    ``map.html``, ``report.html``, ``rejects.csv`` and ``manifest.json`` into ``out_dir``.
    """
    from hotspots.maps import draw_hotspot_map
    from hotspots.pipeline import prepare_out_dir
    from hotspots.report import render_detect_report

    clock = Clock()
    options = options or DetectOptions()
    out = prepare_out_dir(out_dir, overwrite=overwrite)
    selection: Selection = settings.selection
    paths = [Path(p) for p in inputs]
    if len(paths) == 1 and _is_store(paths[0]):
        store = paths[0]
        offences = None
        if selection.crime_types:
            offences = list(settings.harm.canonical(np.array(selection.crime_types, dtype=object)))
            offences = [o for o in offences if o]
        incidents = read_store(store, months=selection.months, offences=offences)
        store_manifest = json.loads((store / "manifest.json").read_text(encoding="utf-8"))
        shutil.copyfile(store / "rejects.csv", out / "rejects.csv")
        sources = []
        reports: list[object] = []
        input_entries = store_manifest.get("inputs", [])
        rejects_by_reason = store_manifest.get("rejects_by_reason", {})
        rows = store_manifest.get("rows", {})
        harm_name = store_manifest.get("parameters", {}).get("harm_table", settings.harm.name)
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
        handle.write(fmap.get_root().render())

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
    manifest["outputs"]["report"] = {"path": str(files["report"])}
    write_json(out / "manifest.json", manifest)
    return DetectResult(out_dir=out, detection=detection, files=files, manifest=manifest)
