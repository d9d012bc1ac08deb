"""``hotspots evaluate``: read incidents, backtest every method, write scores, figure and report."""

from __future__ import annotations

import dataclasses
import json
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from hotspots.core import schema
from hotspots.core.errors import InputError
from hotspots.evaluate.backtest import DEFAULT_COVERAGE_PCT, METHODS, Backtest, backtest
from hotspots.evaluate.origins import _month_pair, check_months_present, plan_origins
from hotspots.evaluate.verdicts import Verdict, verdicts
from hotspots.reports.evaluate import DEFINITIONS, figure_pai, render_evaluation_report

if TYPE_CHECKING:
    from hotspots.detect.points import DetectOptions
    from hotspots.ingest.read import IngestSettings


@dataclass(frozen=True)
class EvaluateResult:
    """Files written by :func:`run_evaluate`, the backtest and its verdicts."""

    out_dir: Path
    backtest: Backtest
    verdicts: list[Verdict]
    files: dict[str, Path]
    manifest: dict[str, object]
    seconds: float


def run_evaluate(
    inputs: Sequence[str | Path],
    out_dir: str | Path,
    *,
    settings: IngestSettings,
    train: str | tuple[str, str],
    test: str | tuple[str, str],
    coverage_pct: Sequence[float] = DEFAULT_COVERAGE_PCT,
    window: int = 12,
    horizon: int = 1,
    seed: int | None = 0,
    methods: Sequence[str] = METHODS,
    options: DetectOptions | None = None,
    per_borough: bool = True,
    overwrite: bool = False,
    on_origin: Callable[[int, int], None] | None = None,
) -> EvaluateResult:
    """Read inputs (raw files or an ingested store), backtest every method, write outputs.

    Writes ``evaluation.csv`` (the tidy scores), ``pai.png``, ``evaluation.html``,
    ``origins.csv``, ``rejects.csv`` and ``manifest.json`` into ``out_dir``.

    Parameters
    ----------
    inputs
        data.police.uk files, folders, globs or zips, or one ``hotspots ingest`` folder.
    out_dir
        Output folder (see :func:`hotspots.ingest.pipeline.prepare_out_dir`).
    settings
        :class:`hotspots.ingest.read.IngestSettings`; its month selection is replaced by the
        months the backtest needs (the first origin's window through the last test month),
        its crime types are kept.
    train, test, window, horizon
        See :func:`plan_origins`.
    coverage_pct, seed, methods, options, per_borough, on_origin
        See :func:`backtest`.
    overwrite
        Replace an earlier run's output in ``out_dir``.

    Returns
    -------
    EvaluateResult
        The backtest, verdicts, files and manifest.

    Examples
    --------
    The demo's configuration (6 origins on the bundled Met burglary, about 10 s)::

        run_evaluate([bundled("police_uk", "met_burglary")], "out/evaluate",
                     settings=london_settings(), train="2023-02..2024-02",
                     test="2024-03..2024-08")
    """
    from hotspots.detect.points import DetectOptions
    from hotspots.ingest.pipeline import prepare_out_dir
    from hotspots.ingest.read import Selection, read_incidents
    from hotspots.io.atomic import write_csv, write_json
    from hotspots.io.manifest import Clock, build_manifest
    from hotspots.io.sources import find_sources
    from hotspots.io.store import is_store, read_store

    clock = Clock()
    start = time.perf_counter()
    origins = plan_origins(train=train, test=test, window=window, horizon=horizon)
    options = options or DetectOptions(resolution=settings.resolution, seed=seed or 0)
    paths = [Path(p) for p in inputs]
    if not paths:
        raise InputError("no INPUT given; pass data.police.uk files or an ingest folder.")
    out = prepare_out_dir(out_dir, overwrite=overwrite)
    for name in ("evaluation.csv", "origins.csv", "pai.png", "evaluation.html"):
        stale = out / name
        if stale.exists() and overwrite:
            stale.unlink()
    needed = (origins[0].train[0], origins[-1].test[1])
    selection = Selection(months=needed, crime_types=settings.selection.crime_types)
    settings = dataclasses.replace(settings, selection=selection)
    if len(paths) == 1 and is_store(paths[0]):
        store = paths[0]
        offences = None
        if selection.crime_types:
            canonical = settings.harm.canonical(np.array(selection.crime_types, dtype=object))
            offences = [o for o in canonical if o]
        incidents = read_store(store, months=needed, offences=offences)
        store_manifest = json.loads((store / "manifest.json").read_text(encoding="utf-8"))
        sources: list[object] = []
        reports: list[object] = []
        harm_name = store_manifest.get("parameters", {}).get("harm_table", settings.harm.name)
    else:
        sources = list(find_sources(paths))
        loaded = read_incidents(paths, settings=settings)
        incidents = loaded.incidents
        reports = list(loaded.reports)
        store_manifest = None
        harm_name = settings.harm.name
    if incidents.empty:
        raise InputError(
            f"no incidents in {needed[0]}..{needed[1]} for the chosen crime types; check "
            "--train/--test and --crime-type."
        )
    check_months_present(
        incidents, [str(m) for m in pd.period_range(needed[0], needed[1], freq="M")]
    )
    if store_manifest is None:
        write_csv(out / "rejects.csv", loaded.rejects)
    else:
        shutil.copyfile(paths[0] / "rejects.csv", out / "rejects.csv")
    crime_types = (
        ", ".join(selection.crime_types)
        if selection.crime_types
        else ", ".join(sorted(map(str, incidents[schema.OFFENCE].dropna().unique())))
    )
    result = backtest(
        incidents,
        settings.layers.study,
        origins=origins,
        coverage_pct=coverage_pct,
        methods=methods,
        seed=seed,
        options=options,
        per_borough=per_borough,
        on_origin=on_origin,
    )
    files: dict[str, Path] = {}
    files["evaluation"] = out / "evaluation.csv"
    table = result.scores.assign(value=result.scores["value"].round(6))
    write_csv(files["evaluation"], table)
    files["origins"] = out / "origins.csv"
    write_csv(files["origins"], result.origins)
    png = figure_pai(result.scores)
    files["figure"] = out / "pai.png"
    from hotspots.io.atomic import atomic_path

    with atomic_path(files["figure"], mode="wb") as handle:
        handle.write(png)
    title = f"Forecast evaluation: {crime_types or 'all crime'}"
    files["report"] = out / "evaluation.html"
    with atomic_path(files["report"]) as handle:
        handle.write(
            render_evaluation_report(
                result,
                figure_png=png,
                title=title,
                crime_types=crime_types or "all",
                harm_table=str(harm_name),
            )
        )
    found = verdicts(result.scores)
    manifest = build_manifest(
        command="evaluate",
        sources=sources,
        reports=reports,
        parameters=settings.describe(),
        outputs=files,
        clock=clock,
        extra={
            "automatic_choices": result.choices,
            "evaluate": {
                **result.parameters,
                "train": list(_month_pair(train, name="--train")),
                "test": list(_month_pair(test, name="--test")),
                "metrics": DEFINITIONS,
                "verdicts": [dataclasses.asdict(v) for v in found],
                "rows": len(result.scores),
            },
        },
    )
    if store_manifest is not None:
        manifest["inputs"] = store_manifest.get("inputs", [])
        manifest["rejects_by_reason"] = store_manifest.get("rejects_by_reason", {})
        manifest["rows"] = store_manifest.get("rows", {})
        manifest["input_store"] = str(paths[0])
    write_json(out / "manifest.json", manifest)
    return EvaluateResult(
        out_dir=out,
        backtest=result,
        verdicts=found,
        files=files,
        manifest=manifest,
        seconds=time.perf_counter() - start,
    )
