"""The whole pipeline on the bundled real London data.

Steps (each a public function a notebook can call):

1. ingest the bundled data.police.uk files (Met burglary, City of London street crime,
   Met stop and search) into a GeoParquet store, with rejects and a manifest;
2. harm per H3 cell over all of London (cells with no incidents included);
3. harm per LSOA from the incidents, and violence per LSOA from the Met's area counts;
4. a folium map (offline) with harm per cell, violence per LSOA and borough boundaries;
5. ``detect`` with every hotspot method on Met burglary (H3 cells) and on Met violence
   (LSOA lattice), for the last 12 months, each with its own map and report.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pandas as pd

from hotspots import schema
from hotspots.area_counts import read_area_counts, totals_by_area
from hotspots.boundaries import london_boroughs, london_layers, london_lsoas
from hotspots.density import count_in_cells
from hotspots.grid import make_grid
from hotspots.harm import default_harm_table
from hotspots.ingest import IngestSettings, ProgressCallback, Selection
from hotspots.io import atomic_path, write_csv, write_json
from hotspots.manifest import Clock, package_versions
from hotspots.maps import draw_harm_map, render_map
from hotspots.paths import bundled, data_dir
from hotspots.pipeline import IngestResult, ingest_to_store
from hotspots.store import read_store

VIOLENCE = "VIOLENCE AGAINST THE PERSON"
DEMO_INPUTS = ("met_burglary", "city_of_london_street", "met_stop_and_search")
LSOA_COUNTS = "recorded-crime-lsoa_202308-202408.csv.gz"
VIOLENCE_MONTHS = ("2023-09", "2024-08")


@dataclass(frozen=True)
class DemoResult:
    """Where the demo wrote its files and what it found."""

    out_dir: Path
    ingest: IngestResult
    cells: gpd.GeoDataFrame
    lsoa_violence: gpd.GeoDataFrame
    files: dict[str, Path]
    seconds: float
    detections: dict[str, object] = dataclasses.field(default_factory=dict)


def demo_inputs() -> list[Path]:
    """Return the bundled data.police.uk folders the demo ingests."""
    return [bundled("police_uk", name) for name in DEMO_INPUTS]


def run_demo(
    out_dir: str | Path,
    *,
    resolution: int = schema.DEFAULT_H3_RESOLUTION,
    overwrite: bool = True,
    on_progress: ProgressCallback | None = None,
) -> DemoResult:
    """Run the demo into ``out_dir`` and return its results.

    Parameters
    ----------
    out_dir
        Output folder (an earlier demo there is replaced).
    resolution
        H3 resolution of the cells.
    overwrite
        Replace an earlier run in ``out_dir``.
    on_progress
        Progress callback for the ingest (compressed bytes read).
    """
    start = time.perf_counter()
    clock = Clock()
    out = Path(out_dir)
    layers = london_layers(with_wards=True, with_lsoas=True)
    harm = default_harm_table("police_uk")
    settings = IngestSettings(layers=layers, harm=harm, resolution=resolution)
    store_dir = out / "store"
    ingested = ingest_to_store(
        demo_inputs(), store_dir, settings=settings, overwrite=overwrite, on_progress=on_progress
    )

    incidents = read_store(store_dir, dataset="incidents")
    boroughs = layers.study
    grid = make_grid(boroughs, resolution=resolution)
    cells = count_in_cells(incidents, grid, weight=schema.HARM)
    period = _period(incidents)

    lsoas = london_lsoas().polygons
    lsoa_incidents = count_in_cells(
        incidents.rename(columns={"lsoa21_code": "area_code"}),
        lsoas.rename_axis("area_code"),
        key="area_code",
    )
    counts = read_area_counts(
        bundled("police_uk", "mps_area_counts", LSOA_COUNTS),
        months=VIOLENCE_MONTHS,
        majors=(VIOLENCE,),
    )
    violence = totals_by_area(counts.counts)
    lsoa_violence = lsoas.join(violence[["count", "harm"]], how="left").fillna(
        {"count": 0, "harm": 0.0}
    )
    lsoa_violence = lsoa_violence.rename(columns={"name": "area_name"})

    files: dict[str, Path] = {}
    files["cells"] = out / "harm_per_cell.csv"
    write_csv(
        files["cells"],
        cells.drop(columns="geometry").reset_index()[
            [
                schema.CELL_ID,
                schema.BOROUGH_CODE,
                schema.BOROUGH,
                "lon",
                "lat",
                "incident_count",
                "harm_sum",
            ]
        ],
    )
    files["lsoa"] = out / "harm_per_lsoa.csv"
    write_csv(
        files["lsoa"],
        lsoa_incidents.drop(columns="geometry")
        .rename(columns={"name": "lsoa_name"})
        .join(
            lsoa_violence[["count", "harm"]].rename(
                columns={"count": "violence_count", "harm": "violence_harm"}
            )
        )
        .reset_index(),
    )
    fmap = draw_harm_map(
        cells,
        boroughs=boroughs.polygons,
        title="London harm map: Met burglary and City of London street crime",
        period=period,
        harm_table=harm.name,
        areas=lsoa_violence,
        areas_label="Violence against the person per LSOA (MPS counts)",
        areas_period=f"{VIOLENCE_MONTHS[0]} to {VIOLENCE_MONTHS[1]}",
    )
    files["map"] = out / "map.html"
    with atomic_path(files["map"]) as handle:
        handle.write(render_map(fmap))

    # every hotspot method: Met burglary points, and Met violence on the LSOA lattice
    from hotspots.detect import run_detect

    burglary = dataclasses.replace(
        settings, selection=Selection(months=VIOLENCE_MONTHS, crime_types=("Burglary",))
    )
    point_detect = run_detect(
        [store_dir], out / "detect_burglary", settings=burglary, overwrite=overwrite
    )
    violence = dataclasses.replace(
        settings, selection=Selection(months=VIOLENCE_MONTHS, crime_types=(VIOLENCE,))
    )
    area_detect = run_detect(
        [bundled("police_uk", "mps_area_counts", LSOA_COUNTS)],
        out / "detect_violence_lsoa",
        settings=violence,
        overwrite=overwrite,
    )
    files["detect_burglary"] = point_detect.files["report"]
    files["detect_violence_lsoa"] = area_detect.files["report"]
    seconds = time.perf_counter() - start
    write_json(
        out / "manifest.json",
        {
            "tool": "hotspots",
            "command": "demo",
            **clock.stamp(),
            "data": str(data_dir()),
            "ingest_manifest": str(store_dir / "manifest.json"),
            "rows": ingested.manifest["rows"],
            "rejects_by_reason": ingested.manifest["rejects_by_reason"],
            "parameters": {
                "h3_resolution": resolution,
                "cells": len(cells),
                "harm_table": harm.name,
                "area_counts": {
                    "file": LSOA_COUNTS,
                    "months": list(VIOLENCE_MONTHS),
                    "major_category": VIOLENCE,
                    "rows_read": counts.rows_read,
                    "rejects_by_reason": counts.rejects["reason"].value_counts().to_dict(),
                    "harm_table": counts.harm_table,
                },
            },
            "outputs": {k: str(v) for k, v in files.items()},
            "versions": package_versions(),
        },
    )
    return DemoResult(
        out_dir=out,
        ingest=ingested,
        cells=cells,
        lsoa_violence=lsoa_violence,
        files=files,
        seconds=seconds,
        detections={"burglary": point_detect, "violence_lsoa": area_detect},
    )


def _period(incidents: pd.DataFrame) -> str:
    if incidents.empty:
        return "no incidents"
    months = incidents[schema.MONTH]
    return f"{months.min()} to {months.max()}"


__all__ = ["DemoResult", "demo_inputs", "london_boroughs", "run_demo"]
