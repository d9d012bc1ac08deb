"""The whole pipeline on the bundled real London data.

Steps (each a public function a notebook can call):

1. ingest the bundled data.police.uk files (Met burglary, City of London street crime,
   Met stop and search) into a GeoParquet store, with rejects and a manifest;
2. the London overview: harm per H3 cell over all of London (cells with no incidents
   included), harm per LSOA, violence per LSOA from the Met's area counts, and an offline
   folium map;
3. ``detect`` with every hotspot method on Met burglary (H3 cells, with a Lambeth map and
   report) and on Met violence (LSOA lattice), for the last 12 months;
4. ``task``: patrol plans for every ward of the demo borough (from step 3's detection);
5. ``evaluate``: a rolling-origin backtest of every method on burglary;
6. ``stops``: the stop-and-search disproportionality review.

Steps 2 to 6 only read the store, so they run side by side in two worker processes (the
target machine has two cores); each returns a short summary for the command line.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

from hotspots.core import schema
from hotspots.core.paths import bundled, data_dir
from hotspots.geo.boundaries import london_layers
from hotspots.harm.table import default_harm_table
from hotspots.ingest.pipeline import IngestResult, ingest_to_store
from hotspots.ingest.read import IngestSettings, ProgressCallback, Selection
from hotspots.io.atomic import write_json
from hotspots.io.manifest import Clock, package_versions

VIOLENCE = "VIOLENCE AGAINST THE PERSON"
DEMO_INPUTS = ("met_burglary", "city_of_london_street", "met_stop_and_search")
LSOA_COUNTS = "recorded-crime-lsoa_202308-202408.csv.gz"
LAST_YEAR = ("2023-09", "2024-08")
DEMO_BOROUGH = "Lambeth"


@dataclass(frozen=True)
class StepSummary:
    """What one demo step produced: a few sentences and its files."""

    name: str
    lines: list[str]
    files: dict[str, str]
    seconds: float


@dataclass(frozen=True)
class DemoResult:
    """Where the demo wrote its files and what it found."""

    out_dir: Path
    ingest: IngestResult
    steps: list[StepSummary]
    files: dict[str, Path]
    seconds: float
    ingest_seconds: float = 0.0
    """Wall time of the ingest step alone (``seconds`` is the whole demo)."""


def demo_inputs() -> list[Path]:
    """Return the bundled data.police.uk folders the demo ingests."""
    return [bundled("police_uk", name) for name in DEMO_INPUTS]


def _settings(resolution: int, selection: Selection | None = None) -> IngestSettings:
    return IngestSettings(
        layers=london_layers(with_wards=True, with_lsoas=True),
        harm=default_harm_table("police_uk"),
        resolution=resolution,
        selection=selection or Selection(),
    )


def step_overview(store: Path, out: Path, resolution: int) -> StepSummary:
    """Map harm per H3 cell and per LSOA over London, with violence per LSOA."""
    from hotspots.geo.boundaries import london_boroughs, london_lsoas
    from hotspots.geo.grid import make_grid
    from hotspots.ingest.area_counts import read_area_counts, totals_by_area
    from hotspots.io.atomic import atomic_path, write_csv
    from hotspots.io.store import read_store
    from hotspots.maps.draw import draw_harm_map, render_map
    from hotspots.methods.counts import count_in_cells

    start = time.perf_counter()
    incidents = read_store(store, dataset="incidents")
    boroughs = london_boroughs()
    cells = count_in_cells(incidents, make_grid(boroughs, resolution=resolution))
    months = incidents[schema.MONTH]
    period = f"{months.min()} to {months.max()}"
    lsoas = london_lsoas().polygons
    lsoa_incidents = count_in_cells(
        incidents.rename(columns={"lsoa21_code": "area_code"}),
        lsoas.rename_axis("area_code"),
        key="area_code",
    )
    counts = read_area_counts(
        bundled("police_uk", "mps_area_counts", LSOA_COUNTS), months=LAST_YEAR, majors=(VIOLENCE,)
    )
    violence = totals_by_area(counts.counts)
    lsoa_violence = (
        lsoas.join(violence[["count", "harm"]], how="left")
        .fillna({"count": 0, "harm": 0.0})
        .rename(columns={"name": "area_name"})
    )
    files = {
        "cells": out / "harm_per_cell.csv",
        "lsoa": out / "harm_per_lsoa.csv",
        "map": out / "map.html",
    }
    columns = [
        "cell",
        schema.BOROUGH_CODE,
        schema.BOROUGH,
        "lon",
        "lat",
        "incidents",
        "harm",
    ]
    write_csv(
        files["cells"],
        cells.drop(columns="geometry").rename_axis("cell").reset_index()[columns],
    )
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
        harm_table=default_harm_table("police_uk").name,
        areas=lsoa_violence,
        areas_label="Violence against the person per LSOA (MPS counts)",
        areas_period=f"{LAST_YEAR[0]} to {LAST_YEAR[1]}",
    )
    with atomic_path(files["map"]) as handle:
        handle.write(render_map(fmap))
    top = cells.sort_values("harm", ascending=False).head(3)
    lines = [
        f"Harm per H3 cell (resolution {resolution}), {period}: {len(cells):,} cells over London, "
        f"{int((cells['incidents'] > 0).sum()):,} with incidents; highest: "
        + "; ".join(f"{c} ({r['borough']}, {r['harm']:,.0f} days)" for c, r in top.iterrows())
    ]
    return StepSummary(
        "overview", lines, {k: str(v) for k, v in files.items()}, time.perf_counter() - start
    )


def _detect_lines(name: str, result: object) -> list[str]:
    detection = result.detection  # type: ignore[attr-defined]
    harm = detection.concentration["harm"]
    hot = int(detection.cells["gi_class"].astype(str).str.startswith("hot").sum())
    return [
        f"{name} ({detection.period[0]} to {detection.period[1]}): top 5% of {detection.units} hold "
        f"{100 * harm.top_share[0.05]:.1f}% of harm; {hot:,} significant hot {detection.units} "
        "(Gi*, FDR)"
    ]


def step_detect_burglary(store: Path, out: Path, resolution: int) -> StepSummary:
    """Run every hotspot method on Met burglary over the last 12 months."""
    from hotspots.detect.points import DetectOptions
    from hotspots.runs.detect import run_detect

    start = time.perf_counter()
    settings = _settings(resolution, Selection(months=LAST_YEAR, crime_types=("Burglary",)))
    result = run_detect(
        [store],
        out / "detect_burglary",
        settings=settings,
        options=DetectOptions(resolution=resolution),
        overwrite=True,
        borough_reports=("all",),
    )
    files = {k: str(v) for k, v in result.files.items() if k in ("map", "report")}
    lines = _detect_lines("burglary", result)

    # patrol plans for every ward of the demo borough, from the detection just written
    from hotspots.runs.task import run_task
    from hotspots.task.plan import TaskOptions

    plan = run_task(
        [out / "detect_burglary"],
        out / "task",
        settings=settings,
        options=TaskOptions(hours_per_week=10),
        team_by="ward",
        boroughs=[DEMO_BOROUGH],
        overwrite=True,
    )
    summary = plan.plan.summary()
    lines.append(
        f"patrol plans for {summary['teams']} {DEMO_BOROUGH} teams at 10 officer hours a week "
        f"each: {summary['places_tasked']} places, {summary['visits_per_week']:,} visits a week, "
        f"{100 * float(summary['harm_covered_share']):.1f}% of the teams' harm in tasked places"
    )
    files.update({f"task {k}": str(v) for k, v in plan.files.items() if str(v).endswith(".html")})
    return StepSummary("detect burglary + task", lines, files, time.perf_counter() - start)


def step_detect_violence(store: Path, out: Path, resolution: int) -> StepSummary:
    """Run the lattice methods on the Met's violence counts per LSOA."""
    from hotspots.runs.detect import run_detect

    start = time.perf_counter()
    settings = _settings(resolution, Selection(months=LAST_YEAR, crime_types=(VIOLENCE,)))
    result = run_detect(
        [bundled("police_uk", "mps_area_counts", LSOA_COUNTS)],
        out / "detect_violence_lsoa",
        settings=settings,
        overwrite=True,
    )
    files = {k: str(v) for k, v in result.files.items() if k in ("map", "report")}
    lines = _detect_lines("violence per LSOA", result)
    return StepSummary("detect violence", lines, files, time.perf_counter() - start)


def step_evaluate(store: Path, out: Path, resolution: int) -> StepSummary:
    """Backtest every method on burglary over six rolling origins."""
    from hotspots.detect.points import DetectOptions
    from hotspots.evaluate.verdicts import verdict_sentence
    from hotspots.runs.evaluate import run_evaluate

    start = time.perf_counter()
    settings = _settings(resolution, Selection(crime_types=("Burglary",)))
    result = run_evaluate(
        [store],
        out / "evaluate_burglary",
        settings=settings,
        train="2023-02..2024-02",
        test="2024-03..2024-08",
        options=DetectOptions(resolution=resolution),
        overwrite=True,
    )
    lines = [verdict_sentence(v) for v in result.verdicts[:2]]
    files = {
        k: str(v) for k, v in result.files.items() if k.endswith("html") or k in ("report", "html")
    }
    return StepSummary("evaluate", lines, files, time.perf_counter() - start)


def step_stops(store: Path, out: Path, resolution: int) -> StepSummary:
    """Review stop and search over the last 12 months against Census 2021."""
    from hotspots.runs.stops import run_stops

    start = time.perf_counter()
    result = run_stops([store], out / "stops", months=LAST_YEAR, overwrite=True)
    lines = []
    ratio = result.review.headline.get("black_white_rate_ratio_self")
    if isinstance(ratio, dict) and ratio.get("ratio") is not None:
        lines.append(
            f"Black/White search rate ratio (self-defined, Census 2021): {ratio['ratio']:.2f} "
            f"(95% CI {ratio['ci_low']:.2f}-{ratio['ci_high']:.2f}); "
            f"{ratio['black_rate_per_1000']:.1f} vs {ratio['white_rate_per_1000']:.1f} per 1,000"
        )
    files = {k: str(v) for k, v in result.files.items() if str(v).endswith(".html")}
    return StepSummary("stops", lines, files, time.perf_counter() - start)


STEPS: tuple[Callable[[Path, Path, int], StepSummary], ...] = (
    step_detect_burglary,
    step_evaluate,
    step_overview,
    step_stops,
    step_detect_violence,
)


def run_demo(
    out_dir: str | Path,
    *,
    resolution: int = schema.DEFAULT_H3_RESOLUTION,
    overwrite: bool = True,
    on_progress: ProgressCallback | None = None,
    workers: int | None = None,
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
    workers
        Worker processes for the steps after ingest (default: up to 2, one per core).
    """
    start = time.perf_counter()
    clock = Clock()
    out = Path(out_dir)
    settings = _settings(resolution)
    store_dir = out / "store"
    ingested = ingest_to_store(
        demo_inputs(), store_dir, settings=settings, overwrite=overwrite, on_progress=on_progress
    )
    ingest_seconds = time.perf_counter() - start

    workers = workers or max(1, min(2, os.cpu_count() or 1))
    summaries: dict[str, StepSummary] = {}
    if workers == 1:
        for step in STEPS:
            summaries[step.__name__] = step(store_dir, out, resolution)
    else:
        with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
            futures = {
                step.__name__: pool.submit(step, store_dir, out, resolution) for step in STEPS
            }
            for name, future in futures.items():
                summaries[name] = future.result()  # a failure in a step is a bug: let it raise
    steps = [summaries[step.__name__] for step in STEPS]
    files = {f"{s.name}: {k}": Path(v) for s in steps for k, v in s.files.items()}
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
                "last_year": list(LAST_YEAR),
                "borough": DEMO_BOROUGH,
            },
            "steps": {
                s.name: {"seconds": round(s.seconds, 2), "files": s.files, "summary": s.lines}
                for s in steps
            },
            "versions": package_versions(),
        },
    )
    return DemoResult(
        out_dir=out,
        ingest=ingested,
        steps=steps,
        files=files,
        seconds=seconds,
        ingest_seconds=ingest_seconds,
    )


__all__ = ["DemoResult", "StepSummary", "demo_inputs", "run_demo"]
