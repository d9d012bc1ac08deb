"""``hotspots task``: read or detect, plan per team, write sheets, map, tables and the manifest."""

from __future__ import annotations

import dataclasses
import json
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from hotspots.core import schema
from hotspots.core.errors import InputError
from hotspots.harm.table import police_generated_choice
from hotspots.maps.tasking import draw_tasking_map
from hotspots.reports.tasking import render_tasking_sheets
from hotspots.task.places import read_bases
from hotspots.task.plan import TaskingPlan, TaskOptions, plan_tasking
from hotspots.task.teams import team_areas


@dataclass(frozen=True)
class TaskResult:
    """Files written by :func:`run_task` and the plan itself."""

    out_dir: Path
    plan: TaskingPlan
    files: dict[str, Path]
    manifest: dict[str, object]
    seconds: float


def _is_detect_output(path: Path) -> bool:
    return (
        path.is_dir() and (path / "cells.parquet").exists() and (path / "manifest.json").exists()
    )


def run_task(
    inputs: Sequence[str | Path],
    out_dir: str | Path,
    *,
    settings,  # type: ignore[no-untyped-def]
    options: TaskOptions,
    team_by: str = "ward",
    boroughs: Sequence[str] | None = None,
    teams_file: str | Path | None = None,
    team_code: str | None = None,
    team_name: str | None = None,
    bases: str | Path | gpd.GeoDataFrame | None = None,
    detect_options=None,  # type: ignore[no-untyped-def]
    overwrite: bool = False,
    title: str | None = None,
) -> TaskResult:
    """Read incidents, detect hotspots, plan patrols per team and write every output.

    Parameters
    ----------
    inputs
        Raw files (as for ``ingest``), an ingest store folder, or a ``detect`` output
        folder (then there are no incident times).
    out_dir
        Output folder (see :func:`hotspots.ingest.pipeline.prepare_out_dir`).
    settings
        :class:`hotspots.ingest.read.IngestSettings` (boundaries, harm, resolution, selection).
    options
        Budget, dosage and the other rules (:class:`TaskOptions`).
    team_by
        ``"ward"`` (London wards; the City of London is one team), ``"borough"`` (the study
        areas) or ``"custom"`` (``teams_file``).
    boroughs
        Plan only for teams in these boroughs (names or codes).
    teams_file, team_code, team_name
        Any polygon file of teams and its code/name columns (``team_by="custom"``).
    bases
        Bases file (CSV with name and Latitude/Longitude, or a point file) or frame.
    detect_options
        :class:`hotspots.detect.points.DetectOptions` (defaults; resolution from ``settings``).
    overwrite
        Replace an earlier run's output in ``out_dir``.
    title
        Title of the sheets and map.

    Returns
    -------
    TaskResult
        Writes ``tasking.csv``, ``tasking.html``, ``tasking_map.html``, ``exposure.csv``,
        ``candidates.csv``, ``teams.csv``, ``rejects.csv`` and ``manifest.json``.
    """
    from hotspots.detect.points import DetectOptions, detect_hotspots
    from hotspots.geo.boundaries import london_lsoas, london_wards
    from hotspots.geo.geocode import read_areas
    from hotspots.ingest.pipeline import prepare_out_dir
    from hotspots.ingest.read import read_incidents
    from hotspots.io.atomic import atomic_path, write_csv, write_json
    from hotspots.io.manifest import Clock, build_manifest
    from hotspots.io.sources import find_sources
    from hotspots.io.store import is_store, read_store
    from hotspots.maps.draw import render_map
    from hotspots.task.exposure import census_ethnicity_lsoa, population_polygons

    start = time.perf_counter()
    clock = Clock()
    study = settings.layers.study
    london = study.source.endswith("london_boroughs.geojson")
    if team_by == "ward" and not london:
        raise InputError(
            "--team-by ward uses London's wards; with your own --areas use --team-by borough "
            "(one team per area) or --teams FILE."
        )
    if team_by == "custom" and teams_file is None:
        raise InputError("--team-by custom needs --teams FILE (and --team-name COL).")
    if teams_file is not None:
        team_by = "custom"
    if teams_file is not None and not (team_code or team_name):
        raise InputError("--teams needs --team-name (and optionally --team-code).")
    wards = london_wards() if london else None
    custom = (
        read_areas(
            teams_file,
            code_column=str(team_code or team_name),
            name_column=team_name,
            kind="team",
        )
        if teams_file is not None
        else None
    )
    teams = team_areas(team_by, boroughs=study, wards=wards, custom=custom, only_boroughs=boroughs)
    if teams.empty:
        raise InputError("no teams left after --borough; check the borough names.")
    base_frame = read_bases(bases) if isinstance(bases, (str, Path)) else bases
    out = prepare_out_dir(out_dir, overwrite=overwrite)
    for name in ("tasking.csv", "tasking.html", "tasking_map.html", "exposure.csv"):
        (out / name).unlink(missing_ok=True)

    paths = [Path(p) for p in inputs]
    selection = settings.selection
    team_boroughs = sorted(set(teams["borough_code"]))
    incidents = None
    sources: list[object] = []
    reports: list[object] = []
    store_manifest: dict[str, object] | None = None
    include = bool(detect_options is not None and detect_options.include_police_generated)
    leave_out = police_generated_choice(
        settings.harm, crime_types=selection.crime_types, include=include
    )
    if len(paths) == 1 and _is_detect_output(paths[0]):
        folder = paths[0]
        detect_manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        cells = gpd.read_parquet(folder / "cells.parquet").set_index("cell", drop=False)
        cells.index.name = schema.CELL_ID
        cells = cells[cells["borough_code"].isin(team_boroughs)]
        if (folder / "rejects.csv").exists():
            shutil.copyfile(folder / "rejects.csv", out / "rejects.csv")
        detect_part = detect_manifest.get("detect", {})
        period = tuple(detect_part.get("period") or ("", ""))
        crime_types = tuple(detect_part.get("crime_types") or ()) or None
        harm_name = detect_manifest.get("parameters", {}).get("harm_table", settings.harm.name)
        clusters = None
        store_manifest = detect_manifest
        leave_out_sentence = detect_manifest.get("automatic_choices", {}).get(
            "police_generated",
            "the detect run does not say whether police-generated offences were left out",
        )
    else:
        if len(paths) == 1 and is_store(paths[0]):
            store = paths[0]
            offences = None
            if selection.crime_types:
                canon = settings.harm.canonical(np.array(selection.crime_types, dtype=object))
                offences = [o for o in canon if o]
            incidents = read_store(store, months=selection.months, offences=offences)
            store_manifest = json.loads((store / "manifest.json").read_text(encoding="utf-8"))
            shutil.copyfile(store / "rejects.csv", out / "rejects.csv")
            harm_name = store_manifest.get("parameters", {}).get(  # type: ignore[union-attr]
                "harm_table", settings.harm.name
            )
        else:
            sources = find_sources(paths)
            loaded = read_incidents(paths, settings=settings)
            incidents = loaded.incidents
            reports = loaded.reports
            write_csv(out / "rejects.csv", loaded.rejects)
            harm_name = settings.harm.name
        if leave_out.exclude:
            incidents = incidents[~incidents[schema.OFFENCE].isin(leave_out.exclude)]
        leave_out_sentence = leave_out.sentence
        if incidents.empty:
            raise InputError("no incidents after the selection; check --months and --crime-type.")
        crime_types = tuple(selection.crime_types) if selection.crime_types else None
        if not crime_types:
            crime_types = tuple(sorted(map(str, incidents[schema.OFFENCE].dropna().unique())))
        detect_options = detect_options or DetectOptions(resolution=settings.resolution)
        if detect_options.resolution != settings.resolution:
            raise InputError(
                f"detect resolution {detect_options.resolution} differs from the incidents' "
                f"cells ({settings.resolution}); use one resolution."
            )
        # detect over the whole study area, as 'hotspots detect' does, then keep the teams'
        detection = detect_hotspots(
            incidents,
            study,
            options=detect_options,
            harm_table=harm_name,
            crime_types=crime_types,
        )
        cells = detection.cells[detection.cells["borough_code"].isin(team_boroughs)]
        clusters = detection.clusters
        if clusters is not None and len(clusters):
            clusters = clusters[clusters.intersects(shapely.union_all(teams.geometry.to_numpy()))]
        period = detection.period
        incidents = incidents[incidents[schema.BOROUGH_CODE].isin(team_boroughs)]
        if incidents.empty:
            raise InputError(
                "no incidents in the teams' boroughs after the selection; check --borough, "
                "--months and --crime-type."
            )

    population = (
        population_polygons(london_lsoas().polygons, census_ethnicity_lsoa()) if london else None
    )
    plan = plan_tasking(
        cells,
        teams,
        options=options,
        incidents=incidents,
        clusters=clusters,
        wards=wards.polygons if wards is not None else None,
        bases=base_frame,
        population=population,
        period=(str(period[0]), str(period[1])),
        crime_types=crime_types,
        harm_table=str(harm_name),
    )
    plan.choices["police_generated"] = leave_out_sentence

    files: dict[str, Path] = {}
    files["tasking"] = write_csv(out / "tasking.csv", plan.tasking)
    files["candidates"] = write_csv(
        out / "candidates.csv",
        pd.DataFrame(plan.places.drop(columns="geometry")).reset_index(),
    )
    files["teams"] = write_csv(
        out / "teams.csv", pd.DataFrame(plan.teams.drop(columns="geometry")).reset_index()
    )
    if not plan.exposure.empty:
        files["exposure"] = write_csv(out / "exposure.csv", plan.exposure.round(6))
    files["sheets"] = out / "tasking.html"
    with atomic_path(files["sheets"]) as handle:
        handle.write(render_tasking_sheets(plan))
    fmap = draw_tasking_map(plan, title=title or "Patrol tasking")
    files["map"] = out / "tasking_map.html"
    with atomic_path(files["map"]) as handle:
        handle.write(render_map(fmap))  # type: ignore[arg-type]
    files["rejects"] = out / "rejects.csv"
    summary = plan.summary()
    extra: dict[str, object] = {
        "automatic_choices": plan.choices,
        "task": {
            "team_by": team_by,
            "boroughs": list(boroughs) if boroughs else None,
            "options": {
                k: (dataclasses.asdict(v) if dataclasses.is_dataclass(v) else v)
                for k, v in dataclasses.asdict(options).items()
            },
            "period": list(plan.period),
            "crime_types": list(plan.crime_types) if plan.crime_types else None,
            "summary": summary,
            "teams": {
                str(code): {
                    "name": t["name"],
                    "budget_minutes": float(t["budget_minutes"]),
                    "planned_minutes": float(t["planned_minutes"]),
                    "objective": float(t["objective"]),
                    "greedy_objective": float(t["greedy_objective"]),
                    "solver_status": t["solver_status"],
                    "plan_from": t["plan_from"],
                }
                for code, t in plan.teams.iterrows()
            },
            "allocation_notes": plan.allocation.notes,
            "allocation_seconds": round(plan.allocation.seconds, 3),
        },
    }
    manifest = build_manifest(
        command="task",
        sources=sources,  # type: ignore[arg-type]
        reports=reports,
        parameters=settings.describe(),
        outputs=files,
        clock=clock,
        extra=extra,
    )
    if store_manifest is not None:
        manifest["inputs"] = store_manifest.get("inputs", [])
        manifest["rows"] = store_manifest.get("rows", {})
        manifest["rejects_by_reason"] = store_manifest.get("rejects_by_reason", {})
        manifest["input_folder"] = str(paths[0])
    write_json(out / "manifest.json", manifest)
    return TaskResult(
        out_dir=out,
        plan=plan,
        files=files,
        manifest=manifest,
        seconds=time.perf_counter() - start,
    )
