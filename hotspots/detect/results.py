"""What detection returns: options, the Detection bundle, the contract cells table and borough views."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd

from hotspots.core import schema
from hotspots.core.errors import SchemaError
from hotspots.methods.concentration import Concentration, measure_concentration
from hotspots.methods.counts import HARM_SUM, INCIDENT_COUNT

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


MIN_MONTHS_FOR_TRENDS = 10


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
    include_police_generated
        Keep offences police mostly find themselves (drugs, possession of weapons) in the
        harm layer; by default ``run_detect`` and ``run_task`` leave them out.
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
    include_police_generated: bool = False


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


FORECAST_MIN_MONTHS = 24
"""History needed before ``rank`` follows a forecast of harm instead of observed harm."""


def _rank(cells: pd.DataFrame) -> pd.Series:
    """Rank 1 = most harm: forecast harm when the table has it, else observed harm."""
    keys = ["harm", "density", "_cell"]
    if "expected_harm" in cells:
        keys = ["expected_harm", *keys]
    order = cells.assign(_cell=cells.index).sort_values(
        keys, ascending=[False] * (len(keys) - 1) + [True], kind="mergesort"
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
    (:func:`hotspots.detect.points.detect_from_aggregates`), so both write the same table.
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


def detection_unit(geography: str) -> str:
    """Readable unit for a geography: ``LSOA``, ``ward``."""
    return "LSOA" if geography == "lsoa" else geography


def use_forecast_rank(detection: Detection, expected_harm: pd.Series, *, sentence: str) -> None:
    """Make ``rank`` follow expected harm and record why, in place.

    The forecast is kept as ``expected_harm`` and the rank by observed harm as ``harm_rank``.
    """
    cells = detection.cells
    cells["harm_rank"] = cells["rank"].to_numpy()
    cells["expected_harm"] = (
        expected_harm.reindex(cells["cell"].to_numpy()).fillna(0.0).to_numpy(dtype=np.float64)
    )
    cells["rank"] = _rank(cells).to_numpy()
    detection.choices["rank"] = sentence
