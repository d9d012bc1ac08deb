"""``hotspots detect``: read raw files or a store, detect, write cells, GeoJSON, map, report, manifest."""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from hotspots.core import schema
from hotspots.core.errors import InputError
from hotspots.detect.areas import detect_area_hotspots
from hotspots.detect.points import detect_hotspots
from hotspots.detect.results import (
    FORECAST_MIN_MONTHS,
    Detection,
    DetectOptions,
    borough_view,
    detection_unit,
    use_forecast_rank,
)
from hotspots.harm.table import police_generated_choice
from hotspots.ingest.area_counts import AreaCounts
from hotspots.ingest.read import IngestSettings, Selection, read_incidents
from hotspots.io.atomic import atomic_path, write_csv, write_json
from hotspots.io.manifest import Clock, build_manifest
from hotspots.io.sources import find_sources
from hotspots.io.store import is_store


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
    An ingest folder is streamed month by month (:func:`hotspots.detect.points.detect_store`), never
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
    leave_out = police_generated_choice(
        settings.harm,
        crime_types=selection.crime_types,
        include=options.include_police_generated,
    )
    if len(paths) == 1 and is_store(paths[0]):
        store = paths[0]
        offences = None
        if selection.crime_types:
            offences = list(settings.harm.canonical(np.array(selection.crime_types, dtype=object)))
            offences = [o for o in offences if o]
        store_manifest = json.loads((store / "manifest.json").read_text(encoding="utf-8"))
        harm_name = store_manifest.get("parameters", {}).get("harm_table", settings.harm.name)
        # scale: stream the store month by month; memory depends on cells, not rows
        from hotspots.detect.points import detect_store

        detection = detect_store(
            store,
            settings.layers.study,
            options=options,
            months=selection.months,
            offences=offences,
            exclude=leave_out.exclude,
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
        if leave_out.exclude:
            incidents = incidents[~incidents[schema.OFFENCE].isin(leave_out.exclude)]
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
    detection.choices["police_generated"] = leave_out.sentence
    _forecast_rank(
        detection,
        store if incidents is None else incidents,
        settings=settings,
        options=options,
    )
    detection.parameters["police_generated"] = {
        "left_out": list(leave_out.exclude),
        "marked_in_harm_table": sorted(settings.harm.police_generated),
    }

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


def _forecast_rank(
    detection: Detection, source: object, *, settings: IngestSettings, options: DetectOptions
) -> None:
    """Rank by a 6-month forecast of harm when there are 24 months of history, else say why not."""
    from hotspots.aggregates.store import dataset_root, months_in_store
    from hotspots.detect.forecast import forecast_cells

    until = detection.period[1]
    if isinstance(source, pd.DataFrame):
        months = sorted(set(source[schema.MONTH].astype(str)))
    else:
        months = months_in_store(dataset_root(source))
    history = [m for m in months if m <= until]
    if len(history) < FORECAST_MIN_MONTHS:
        detection.choices["rank"] = (
            f"rank = observed harm over {detection.period[0]}..{until}; a forecast rank needs "
            f"at least {FORECAST_MIN_MONTHS} months of history and the input has "
            f"{len(history)} up to {until}"
        )
        return
    forecast = forecast_cells(
        source,
        settings.layers.study,
        until=until,
        horizon=6,
        crime_types=detection.crime_types,
        seed=options.seed,
        resolution=options.resolution,
    )
    expected = forecast.places.set_index("cell")["expected_harm"]
    use_forecast_rank(
        detection,
        expected,
        sentence=(
            f"rank = forecast harm over {forecast.forecast_months[0]}.."
            f"{forecast.forecast_months[1]} from {len(history)} months of history "
            f"({forecast.history[0]}..{forecast.history[1]}), method {forecast.method}: "
            f"{forecast.reason}; harm_rank keeps the rank by observed harm"
        ),
    )
    described = forecast.describe()
    described.pop("seconds", None)  # outputs stay byte-stable; times are in the manifest
    detection.parameters["forecast"] = described
