"""Detection on a polygon lattice (LSOAs, wards) from area counts: queen Gi*, emerging trends."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from hotspots.core import schema
from hotspots.core.errors import InputError
from hotspots.detect.results import (
    MIN_MONTHS_FOR_TRENDS,
    Detection,
    DetectOptions,
    _rank,
    detection_unit,
)
from hotspots.geo.geocode import Areas
from hotspots.ingest.area_counts import AreaCounts
from hotspots.methods.concentration import measure_concentration


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
    p_from = stats.EXACT
    gi = stats.gi_star(
        incidents,
        weights,
        permutations=options.permutations,
        seed=options.seed,
        fdr=options.fdr,
        p_from=p_from,
    )
    neighbours = np.asarray(weights.sum(axis=1)).ravel()
    gi_label = (
        "exact two-sided p of the neighbourhood count under spatial randomness (areas "
        "treated as exchangeable units)"
        + (", Benjamini-Hochberg FDR" if options.fdr else ", no FDR adjustment")
    )

    months = sorted(tidy[schema.MONTH].unique())
    cube = (
        tidy.pivot_table(index=AREA_CODE, columns=schema.MONTH, values=COUNT, aggfunc="sum")
        .reindex(index=polygons.index, columns=months)
        .fillna(0.0)
    )
    if len(months) >= MIN_MONTHS_FOR_TRENDS:
        trend_table = emerging.emerging_hotspots(cube, weights, fdr=options.fdr)
        trends = trend_table["trend"].astype(str)
        trend_choice = (
            f"emerging hot spots over {len(months)} months ({months[0]}..{months[-1]}) of "
            "offence counts per area, queen-contiguity neighbours: "
            + trend_table.attrs["description"]
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
            f"Getis-Ord Gi* on offence counts with queen contiguity (median {int(np.median(neighbours))} "
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
