"""``hotspots forecast``: forecast harm per cell (or area) after ``--until``; write the table."""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hotspots.core.errors import InputError
from hotspots.detect.forecast import Forecast, forecast_areas, forecast_cells
from hotspots.ingest.read import IngestSettings
from hotspots.io.atomic import atomic_path, write_csv, write_json
from hotspots.io.manifest import Clock, build_manifest
from hotspots.io.sources import find_sources
from hotspots.io.store import is_store


@dataclass(frozen=True)
class ForecastRun:
    """Files written by :func:`run_forecast` and the forecast itself."""

    out_dir: Path
    forecast: Forecast
    files: dict[str, Path]
    manifest: dict[str, object]


def _write_table(forecast: Forecast, out: Path) -> dict[str, Path]:
    files = {"forecast": out / "forecast.parquet", "forecast_csv": out / "forecast.csv"}
    with atomic_path(files["forecast"], mode="wb") as handle:
        forecast.places.to_parquet(handle, index=False)
    write_csv(files["forecast_csv"], forecast.places)
    if not forecast.inner_scores.empty:
        files["inner_backtest"] = out / "inner_backtest.csv"
        scores = forecast.inner_scores.assign(
            params=forecast.inner_scores["params"].map(lambda p: json.dumps(p, default=str))
        )
        write_csv(files["inner_backtest"], scores)
    return files


def run_forecast(
    inputs: Sequence[str | Path],
    out_dir: str | Path,
    *,
    settings: IngestSettings,
    until: str,
    horizon: int = 6,
    method: str = "auto",
    seed: int = 0,
    overwrite: bool = False,
) -> ForecastRun:
    """Forecast the ``horizon`` months after ``until`` and write every output.

    Writes ``forecast.parquet`` and ``forecast.csv`` (one row per H3 cell of the study
    grid, or per area for an MPS LSOA/ward count table), ``inner_backtest.csv`` (the
    ``auto`` comparison, when it ran), ``rejects.csv`` and ``manifest.json`` into
    ``out_dir``.

    Parameters
    ----------
    inputs
        Raw data.police.uk files (ingested first into ``out_dir/store``), the ``--out``
        folder of an earlier ``hotspots ingest``, or one MPS area-count table.
    out_dir
        Output folder.
    settings
        Study areas, harm table, H3 resolution and crime types (``selection.months``
        must be unset: the forecast uses every month up to ``until``).
    until, horizon, method, seed
        As for :func:`hotspots.detect.forecast.forecast_cells`.
    overwrite
        Replace an earlier run's output in ``out_dir``.
    """
    from hotspots.ingest.pipeline import ingest_to_store, prepare_out_dir
    from hotspots.runs.detect import _area_counts_input

    clock = Clock()
    if settings.selection.months is not None:
        raise InputError(
            "forecast uses every month up to --until; leave --months off (use --until to end "
            "the history earlier)."
        )
    out = prepare_out_dir(out_dir, overwrite=overwrite)
    paths = [Path(p) for p in inputs]
    counts = _area_counts_input(paths, settings)
    if counts is not None:
        from hotspots.geo.boundaries import london_lsoas, london_wards

        layers = {"lsoa": london_lsoas, "ward": london_wards}
        areas = layers[counts.geography]() if counts.geography in layers else None
        forecast = forecast_areas(
            counts, areas, until=until, horizon=horizon, method=method, seed=seed
        )
        write_csv(out / "rejects.csv", counts.rejects)
        files = _write_table(forecast, out)
        accepted = counts.rows_read - len(counts.rejects)
        manifest = build_manifest(
            command="forecast",
            sources=find_sources(paths),
            reports=[],
            parameters={
                "harm_table": counts.harm_table,
                "selection": settings.selection.describe(),
            },
            outputs=files,
            clock=clock,
            extra={"forecast": {"input": "area counts", "geography": counts.geography}},
        )
        manifest["rows"] = {
            "read": counts.rows_read,
            "accepted": accepted,
            "rejected": len(counts.rejects),
            "invariant_holds": True,
            "unit": "wide rows (area x offence)",
        }
        manifest["rejects_by_reason"] = (
            counts.rejects["reason"].value_counts().sort_index().to_dict()
        )
    else:
        if not (len(paths) == 1 and is_store(paths[0])):
            # raw files: ingest into OUT/store first, then forecast from the store
            staged = ingest_to_store(paths, out / "store", settings=settings, overwrite=True)
            paths = [staged.out_dir]
        store = paths[0]
        offences = None
        if settings.selection.crime_types:
            labels = np.array(settings.selection.crime_types, dtype=object)
            offences = [o for o in settings.harm.canonical(labels) if o]
        forecast = forecast_cells(
            store,
            settings.layers.study,
            until=until,
            horizon=horizon,
            method=method,
            crime_types=offences,
            seed=seed,
            resolution=settings.resolution,
        )
        with (
            open(store / "rejects.csv", "rb") as source,
            atomic_path(out / "rejects.csv", mode="wb") as target,
        ):
            shutil.copyfileobj(source, target)
        files = _write_table(forecast, out)
        store_manifest = json.loads((store / "manifest.json").read_text(encoding="utf-8"))
        manifest = build_manifest(
            command="forecast",
            sources=[],
            reports=[],
            parameters=settings.describe(),
            outputs=files,
            clock=clock,
            extra={"forecast": {"input": "store", "crime_types": offences}},
        )
        manifest["inputs"] = store_manifest.get("inputs", [])
        manifest["rejects_by_reason"] = store_manifest.get("rejects_by_reason", {})
        manifest["rows"] = store_manifest.get("rows", {})
        manifest["input_store"] = str(store)
    manifest["forecast"] = {**manifest["forecast"], **forecast.describe()}  # type: ignore[dict-item]
    manifest["automatic_choices"] = forecast.choices
    files["rejects"] = out / "rejects.csv"
    write_json(out / "manifest.json", manifest)
    return ForecastRun(out_dir=out, forecast=forecast, files=files, manifest=manifest)
