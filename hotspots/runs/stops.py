"""``hotspots stops``: read searches, review, write the tables, report, map and manifest."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from hotspots.core.errors import InputError
from hotspots.maps.draw import render_map
from hotspots.maps.stops import draw_review_map
from hotspots.reports.stops import render_review
from hotspots.stops.classify import CONFIDENCE, DEFAULT_MIN_COUNT
from hotspots.stops.hotspot_share import BUNDLED, DEFAULT_TOP_SHARE
from hotspots.stops.populations import read_population
from hotspots.stops.review import StopsReview, review_stops
from hotspots.stops.searches import load_searches


@dataclass(frozen=True)
class StopsResult:
    """What :func:`run_stops` wrote, and the review itself."""

    out_dir: Path
    review: StopsReview
    files: dict[str, Path]
    manifest: dict[str, object]
    seconds: float


def _published_lsoa(review: StopsReview) -> pd.DataFrame:
    return pd.DataFrame(review.lsoa.drop(columns="geometry")).reset_index()


def run_stops(
    inputs: Sequence[str | Path],
    out_dir: str | Path,
    *,
    population: str | Path = "census2021",
    hotspots: str | Path | None = None,
    months: tuple[str, str] | None = None,
    violence: str | Path | None = BUNDLED,
    min_count: int = DEFAULT_MIN_COUNT,
    confidence: float = CONFIDENCE,
    ratio_method: str = "exact",
    top_share: float = DEFAULT_TOP_SHARE,
    overwrite: bool = False,
    tiles: str | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> StopsResult:
    """Read searches, run the review and write every output into ``out_dir``.

    Writes ``disparity.csv``, ``monthly.csv``, ``context.csv``, ``lsoa_rates.csv``,
    ``review.html``, ``review_map.html``, ``rejects.csv`` and ``manifest.json``.

    Parameters
    ----------
    inputs
        Stop-and-search files/folders/zips, or one ``hotspots ingest`` output folder.
    out_dir
        Output folder (an earlier run there is replaced only with ``overwrite``).
    population, hotspots, months, violence, min_count, confidence, ratio_method, top_share
        See :func:`review_stops`.
    overwrite
        Replace an earlier run's output.
    tiles
        Optional background tiles for the map (need internet).
    on_progress
        Called with the compressed bytes read so far.

    Returns
    -------
    StopsResult
    """
    from hotspots.ingest.pipeline import prepare_out_dir
    from hotspots.io.atomic import atomic_path, write_csv, write_json
    from hotspots.io.manifest import Clock, build_manifest

    start = time.perf_counter()
    clock = Clock()
    if population is None:
        raise InputError("--population is required: census2021, census2011 or a CSV file.")
    residents = read_population(population)  # fail on a bad --population before reading
    if hotspots is not None and not Path(hotspots).is_dir():
        raise InputError(f"--hotspots {hotspots} is not a folder.")
    out = prepare_out_dir(out_dir, overwrite=overwrite)
    loaded = load_searches(inputs, months=months, on_progress=on_progress)
    review = review_stops(
        loaded.searches,
        population=residents,
        months=months,
        hotspots=hotspots,
        violence=violence,
        min_count=min_count,
        confidence=confidence,
        ratio_method=ratio_method,
        top_share=top_share,
    )
    files: dict[str, Path] = {}
    if loaded.source == "store":
        source = Path(inputs[0]) / "rejects.csv"
        if source.is_file():
            shutil.copyfile(source, out / "rejects.csv")
        else:
            write_csv(out / "rejects.csv", loaded.rejects)
    else:
        write_csv(out / "rejects.csv", loaded.rejects)
    files["rejects"] = out / "rejects.csv"
    files["disparity"] = write_csv(out / "disparity.csv", review.disparity)
    files["monthly"] = write_csv(out / "monthly.csv", review.monthly)
    files["context"] = write_csv(out / "context.csv", review.context)
    files["lsoa_rates"] = write_csv(out / "lsoa_rates.csv", _published_lsoa(review))
    fmap = draw_review_map(review, tiles=tiles)
    files["map"] = out / "review_map.html"
    with atomic_path(files["map"]) as handle:
        handle.write(render_map(fmap))

    rejects_by_reason = (
        loaded.rejects["reason"].value_counts().sort_index().to_dict()
        if "reason" in loaded.rejects
        else {}
    )
    parameters = {
        **review.parameters,
        "inputs": [str(p) for p in inputs],
        "input_kind": loaded.source,
        "hotspots_dir": str(hotspots) if hotspots else None,
        "violence_counts": str(violence) if violence is not None else None,
        "months_requested": list(months) if months else None,
    }
    extra = {
        "stops": {
            "headline": review.headline,
            "months": {
                "expected": [review.months.expected[0], review.months.expected[-1]],
                "present": review.months.present,
                "missing": review.months.missing_ranges(),
                "short": list(review.months.short),
                "short_fraction": review.months.short_fraction,
                "rows_by_month": review.months.rows_by_month,
            },
            "unmapped": review.unmapped,
            "hotspot_sets": review.hotspot_sets.drop(columns="description").to_dict(
                orient="records"
            ),
            "rows_published": int(len(review.disparity)),
            "rows_suppressed": int(review.disparity["suppressed"].sum()),
            "cube_cells": int(len(review.cube)),
            "cube_cells_suppressed": int(review.cube["suppressed"].sum()),
            "search_notes": loaded.notes,
        },
    }
    manifest = build_manifest(
        command="stops",
        sources=[],
        reports=[],
        parameters=parameters,
        outputs=files,
        clock=clock,
        extra=extra,
    )
    manifest["inputs"] = loaded.inputs
    manifest["rows"] = loaded.rows
    manifest["rejects_by_reason"] = rejects_by_reason
    files["review"] = out / "review.html"
    with atomic_path(files["review"]) as handle:
        handle.write(render_review(review, manifest=manifest, map_file=files["map"].name))
    from hotspots.io.atomic import sha256_file

    manifest["outputs"]["review"] = {  # type: ignore[index]
        "path": str(files["review"]),
        "sha256": sha256_file(files["review"]),
        "bytes": files["review"].stat().st_size,
    }
    write_json(out / "manifest.json", manifest)
    files["manifest"] = out / "manifest.json"
    return StopsResult(
        out_dir=out,
        review=review,
        files=files,
        manifest=manifest,
        seconds=time.perf_counter() - start,
    )
