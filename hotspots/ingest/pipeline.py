"""End-to-end steps that write files: ingest into a store, create or append.

A store is made once and then grows month by month::

    hotspots ingest 2015-01..2024-07 files --out store/              # create
    hotspots ingest 2024-08 files --out store/ --append               # add a month
    hotspots ingest corrected 2024-08 files --out store/ --append --replace-months

Appending adds the new month partitions and never rewrites the others; a month already
in the store is refused unless ``--replace-months`` (then its partition is swapped whole,
and the summary and manifest say so). ``manifest.json`` keeps every run (inputs, rows,
rejects) under ``runs``; its top-level ``inputs``, ``rows`` and ``rejects_by_reason``
describe the store as it now is: the latest reading of each input file (a file read
again supersedes its earlier reading, and its earlier rejects leave ``rejects.csv``).

Files can be read by several processes (``workers``) or on a Dask cluster
(``engine="dask"``): each input file is then one task that writes its own part files into
the staging folder, and the parent commits the partitions.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import shutil
import sys
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow.compute as pc
import pyarrow.parquet as pq

from hotspots.core import schema
from hotspots.core.errors import InputError
from hotspots.engines.local import ENGINES, map_in_processes
from hotspots.ingest.read import IngestSettings, ProgressCallback, SourceReport, run_sources
from hotspots.io.atomic import CsvAppender, atomic_path, write_json
from hotspots.io.formats import SEARCH, detect_format, month_from_file_name
from hotspots.io.manifest import Clock, build_manifest
from hotspots.io.sources import Source, find_sources, read_header
from hotspots.io.store import (
    DATASETS,
    StoreWriter,
    commit_partitions,
    staging_folder,
    store_months,
)

SAME_SETTINGS = ("h3_resolution", "snap_m", "working_crs", "harm_table")
"""Settings an appended run must share with the store (besides the boundary layers)."""


@dataclass(frozen=True)
class IngestResult:
    """What an ingest wrote and counted.

    Attributes
    ----------
    out_dir
        The output folder.
    reports
        Per-file counts (this run).
    rows_by_month
        Accepted rows per month written by this run, per dataset (``incidents``,
        ``searches``).
    manifest
        The manifest content as written.
    months_added
        Month partitions this run added, per dataset.
    months_replaced
        Month partitions this run replaced, per dataset, with the rows they held before.
    run
        Number of this run in the store's history (1 for a new store).
    """

    out_dir: Path
    reports: list[SourceReport]
    rows_by_month: dict[str, dict[str, int]]
    manifest: dict[str, object]
    months_added: dict[str, tuple[str, ...]] = field(default_factory=dict)
    months_replaced: dict[str, dict[str, int]] = field(default_factory=dict)
    run: int = 1

    @property
    def rows_read(self) -> int:
        """Rows read over all inputs."""
        return sum(r.rows_read for r in self.reports)

    @property
    def accepted(self) -> int:
        """Rows accepted over all inputs."""
        return sum(r.accepted for r in self.reports)

    @property
    def rejected(self) -> int:
        """Rows rejected over all inputs."""
        return sum(r.rejected for r in self.reports)


@dataclass(frozen=True)
class SourceOutcome:
    """One input file read into staged part files (see :func:`ingest_source`).

    Attributes
    ----------
    report
        The file's counts.
    rejects
        Its rejected rows.
    dataset
        ``"incidents"`` or ``"searches"``.
    rows_by_month
        Accepted rows staged per month.
    """

    report: SourceReport
    rejects: pd.DataFrame
    dataset: str
    rows_by_month: dict[str, int]


KNOWN_OUTPUTS = (
    *DATASETS,
    "rejects.csv",
    "boroughs",
    "cells.parquet",
    "cells.csv",
    "areas.parquet",
    "areas.csv",
    "clusters.csv",
    "hotspots.geojson",
    "map.html",
    "report.html",
)
"""Names an earlier run may have written; --overwrite removes them all."""


def _earlier_outputs(out: Path) -> list[Path]:
    """Files and folders of an earlier run in ``out``: known names plus its manifest's outputs."""
    targets = {out / name for name in KNOWN_OUTPUTS}
    try:
        manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
        outputs = manifest.get("outputs", {}) if isinstance(manifest, dict) else {}
    except (OSError, ValueError):
        outputs = {}
    root = out.resolve()
    for entry in outputs.values() if isinstance(outputs, dict) else []:
        path = Path(str(entry.get("path", ""))) if isinstance(entry, dict) else None
        if path is not None and path.resolve().is_relative_to(root) and path.resolve() != root:
            targets.add(path)
    return [*sorted(targets), out / "manifest.json"]


def prepare_out_dir(out_dir: str | Path, *, overwrite: bool) -> Path:
    """Create ``out_dir``; refuse to mix with an earlier run unless ``overwrite``.

    The rule: an existing folder that holds a ``manifest.json`` is an earlier run's
    output and is only replaced with ``overwrite=True`` (``--overwrite``); any other
    existing folder is used as it is.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} exists and is not a folder.")
    if (out / "manifest.json").exists():
        if not overwrite:
            raise InputError(
                f"{out} already holds the output of an earlier run; pass --overwrite to "
                "replace it, --append to add months to an ingest store, or choose another "
                "--out folder."
            )
        for target in _earlier_outputs(out):
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
    out.mkdir(parents=True, exist_ok=True)
    return out


def ingest_source(
    source: Source, settings: IngestSettings, out_dir: str, index: int
) -> SourceOutcome:
    """Read one input file into part files ``part-<index>.parquet`` in the staging folders.

    This is the unit of parallel work (a process of a pool, or a Dask task): it needs
    only the file, the settings and a folder shared with the caller.
    """
    writers = {
        name: StoreWriter(
            out_dir,
            name,
            working_crs=settings.working_crs,
            staging=staging_folder(out_dir, name),
            part_name=f"part-{index:05d}.parquet",
        )
        for name in DATASETS
    }
    report = SourceReport(label=source.label, kind="empty")
    rejects: list[pd.DataFrame] = []
    dataset = "incidents"
    success = False
    try:
        for report, processed in run_sources([source], settings):  # noqa: B007
            dataset = "searches" if processed.kind == SEARCH else "incidents"
            writers[dataset].write(processed.accepted)
            if len(processed.rejects):
                rejects.append(processed.rejects)
        success = True
    finally:
        staged = {name: w.finish(success=success) for name, w in writers.items()}
    frame = (
        pd.concat(rejects, ignore_index=True)
        if rejects
        else pd.DataFrame(columns=list(schema.REJECT_COLUMNS))
    )
    return SourceOutcome(
        report=report, rejects=frame, dataset=dataset, rows_by_month=staged[dataset]
    )


def _ingest_batch(
    batch: list[tuple[int, Source]], settings: IngestSettings, out_dir: str
) -> list[SourceOutcome]:
    """Read several files in one process, so its boundary caches are built once."""
    return [ingest_source(source, settings, out_dir, i) for i, source in batch]


def _outcomes_in_processes(
    sources: Sequence[Source], settings: IngestSettings, out: Path, workers: int
) -> Iterator[SourceOutcome]:
    """Read files in a pool of fresh processes, yielding outcomes in input order.

    Files go in contiguous batches (about four per worker), each batch one task.
    """
    numbered = list(enumerate(sources))
    size = max(1, math.ceil(len(numbered) / (4 * workers)))
    batches = [numbered[i : i + size] for i in range(0, len(numbered), size)]
    for outcomes in map_in_processes(
        _ingest_batch, batches, args=(settings, str(out)), workers=workers
    ):
        yield from outcomes


def _outcomes_in_order(
    sources: Sequence[Source],
    settings: IngestSettings,
    out: Path,
    *,
    on_progress: ProgressCallback | None,
) -> Iterator[SourceOutcome]:
    """Read files one after another in this process (one part file per month)."""
    writers = {name: StoreWriter(out, name, working_crs=settings.working_crs) for name in DATASETS}
    success = False
    try:
        current: dict[str, object] = {}
        for report, processed in run_sources(sources, settings, on_progress=on_progress):
            if current.get("label") != report.label:
                if current:
                    yield _outcome_of(current)
                current = {"report": report, "label": report.label, "rejects": [], "rows": {}}
                current["dataset"] = "searches" if processed.kind == SEARCH else "incidents"
            writers[current["dataset"]].write(processed.accepted)  # type: ignore[index]
            if len(processed.rejects):
                current["rejects"].append(processed.rejects)  # type: ignore[union-attr]
            if processed.accepted.num_rows:
                counts = pc.value_counts(processed.accepted.column(schema.MONTH))
                rows = current["rows"]
                for item in counts.to_pylist():
                    rows[item["values"]] = rows.get(item["values"], 0) + item["counts"]  # type: ignore[union-attr]
        if current:
            yield _outcome_of(current)
        success = True
    finally:
        for writer in writers.values():
            writer.finish(success=success)


def _outcome_of(current: dict[str, object]) -> SourceOutcome:
    rejects = current["rejects"]
    frame = (
        pd.concat(rejects, ignore_index=True)  # type: ignore[arg-type]
        if rejects
        else pd.DataFrame(columns=list(schema.REJECT_COLUMNS))
    )
    return SourceOutcome(
        report=current["report"],  # type: ignore[arg-type]
        rejects=frame,
        dataset=str(current["dataset"]),
        rows_by_month=dict(current["rows"]),  # type: ignore[call-overload]
    )


def ingest_to_store(
    inputs: Sequence[str | Path],
    out_dir: str | Path,
    *,
    settings: IngestSettings,
    overwrite: bool = False,
    append: bool = False,
    replace_months: bool = False,
    on_progress: ProgressCallback | None = None,
    sources: Sequence[Source] | None = None,
    workers: int = 1,
    engine: str = "embedded",
    scheduler: str | None = None,
) -> IngestResult:
    """Stream inputs into a month-partitioned GeoParquet store with rejects and manifest.

    Memory stays flat: rows are validated and written chunk by chunk.

    Parameters
    ----------
    inputs
        Files, folders, globs or zip archives (data.police.uk street and stop-and-search
        files may be mixed; each goes to its own dataset).
    out_dir
        Output folder (see :func:`prepare_out_dir` for the rule on existing folders), or
        with ``append`` an existing store.
    settings
        How to read rows; e.g. :func:`hotspots.ingest.read.london_settings`. An appended run
        must use the store's resolution, boundary layers, harm table and snapping.
    overwrite
        Replace an earlier run's output in ``out_dir``.
    append
        Add the inputs' months to the existing store in ``out_dir`` without rewriting
        the months already there.
    replace_months
        With ``append``: replace a month partition the store already holds (without it
        such a month is an error).
    on_progress
        Called with compressed bytes consumed so far.
    sources
        Already expanded inputs (skips :func:`find_sources`).
    workers
        Read this many files at once in separate processes (embedded engine).
    engine
        ``"embedded"`` (this machine) or ``"dask"`` (one task per file on a
        ``dask.distributed`` cluster; ``out_dir`` must be on a filesystem the workers
        share).
    scheduler
        Dask scheduler address (``tcp://host:8786``); ``None`` starts a local cluster.

    Returns
    -------
    IngestResult
        Counts, months written, added and replaced, and the manifest.

    Raises
    ------
    InputError
        Bad options; ``append`` without a store, with other settings, or on a store that
        does not match its manifest; a month already in the store without
        ``replace_months`` (nothing is written then).
    """
    clock = Clock()
    if engine not in ENGINES:
        raise InputError(f"--engine {engine!r} is not known; use one of {', '.join(ENGINES)}.")
    if workers < 1:
        raise InputError(f"workers must be at least 1; got {workers}.")
    if append and overwrite:
        raise InputError("--append adds to a store and --overwrite replaces it; pass one.")
    if replace_months and not append:
        raise InputError("--replace-months only applies with --append.")
    sources = list(sources) if sources is not None else find_sources(inputs)
    out = Path(out_dir)
    previous: dict[str, object] | None = None
    if append:
        previous = _check_store_for_append(out, settings, replace_months=replace_months)
        _refuse_known_months(out, sources, replace_months=replace_months)
    else:
        out = prepare_out_dir(out, overwrite=overwrite)
    for name in DATASETS:
        shutil.rmtree(staging_folder(out, name), ignore_errors=True)

    new_rejects = out / ".rejects.run.csv"
    rejects = CsvAppender(new_rejects, schema.REJECT_COLUMNS)
    outcomes: list[SourceOutcome] = []
    success = False
    try:
        if engine == "dask":
            from hotspots.engines.dask import map_on_dask

            stream: Iterator[SourceOutcome] = map_on_dask(
                ingest_source, sources, shared=settings, args=(str(out),), scheduler=scheduler
            )
        elif workers > 1 and len(sources) > 1:
            stream = _outcomes_in_processes(sources, settings, out, workers)
        else:
            stream = _outcomes_in_order(sources, settings, out, on_progress=on_progress)
        done = 0
        for outcome in stream:
            if len(outcome.rejects):
                rejects.append(outcome.rejects)
            # keep the counts only: rejects are on disk now, memory stays flat
            outcomes.append(dataclasses.replace(outcome, rejects=outcome.rejects.iloc[:0]))
            if engine == "dask" or workers > 1:
                done += next(s.size_bytes for s in sources if s.label == outcome.report.label)
                if on_progress is not None:
                    on_progress(done)
        success = True
    finally:
        rejects.close(success=success)
        if not success:
            for name in DATASETS:
                shutil.rmtree(staging_folder(out, name), ignore_errors=True)

    try:
        replaced_rows = _clashes(out, replace_months=replace_months)
    except InputError:
        new_rejects.unlink(missing_ok=True)
        for name in DATASETS:
            shutil.rmtree(staging_folder(out, name), ignore_errors=True)
        raise
    added: dict[str, tuple[str, ...]] = {}
    replaced: dict[str, dict[str, int]] = {}
    for name in DATASETS:
        if not append and (out / name).exists():
            shutil.rmtree(out / name)
        if staging_folder(out, name).is_dir():
            commit = commit_partitions(staging_folder(out, name), out / name, replace=append)
            added[name] = commit.added
            replaced[name] = {m: replaced_rows[name][m] for m in commit.replaced}
        else:
            added[name], replaced[name] = (), {}

    reread = {s.label for s in sources}
    _merge_rejects(out / "rejects.csv", new_rejects, drop_files=reread if append else None)
    reports = [o.report for o in outcomes]
    known = {r.label for r in reports}
    reports += [SourceReport(label=s.label, kind="empty") for s in sources if s.label not in known]
    order = {s.label: i for i, s in enumerate(sources)}
    reports.sort(key=lambda r: order.get(r.label, len(order)))
    rows_by_month: dict[str, dict[str, int]] = {name: {} for name in DATASETS}
    for outcome in outcomes:
        target = rows_by_month[outcome.dataset]
        for month, n in outcome.rows_by_month.items():
            target[month] = target.get(month, 0) + n
    rows_by_month = {name: dict(sorted(m.items())) for name, m in rows_by_month.items()}

    manifest = build_manifest(
        command="ingest",
        sources=sources,
        reports=reports,
        parameters=settings.describe(),
        outputs={"rejects": out / "rejects.csv"},
        clock=clock,
    )
    history = _history(previous)
    run_number = len(history) + 1
    this_run = {
        "run": run_number,
        "mode": "append" if append else "create",
        "engine": engine,
        "workers": workers if engine == "embedded" else None,
        "started_at": manifest["started_at"],
        "finished_at": manifest["finished_at"],
        "duration_s": manifest["duration_s"],
        "argv": sys.argv,
        "inputs": _input_entries(manifest["inputs"], outcomes, run_number),  # type: ignore[arg-type]
        "rows": manifest["rows"],
        "rejects_by_reason": manifest["rejects_by_reason"],
        "notes": manifest["notes"],
        "months_added": {k: list(v) for k, v in added.items()},
        "months_replaced": replaced,
    }
    runs = [*history, this_run]
    manifest.update(_store_totals(runs))
    manifest["runs"] = runs
    manifest["store"] = _store_section(out)
    write_json(out / "manifest.json", manifest)
    return IngestResult(
        out_dir=out,
        reports=reports,
        rows_by_month=rows_by_month,
        manifest=manifest,
        months_added=added,
        months_replaced=replaced,
        run=run_number,
    )


# ---------------------------------------------------------------------------
# appending


def _layer_name(source: object) -> str:
    return Path(str(source)).name


def _comparable(parameters: dict[str, object]) -> dict[str, object]:
    """Return the settings that must match between runs on one store (paths as names)."""
    study = parameters.get("study_areas") or {}
    extra = parameters.get("extra_layers") or {}
    out = {key: parameters.get(key) for key in SAME_SETTINGS}
    out["study_areas"] = (
        study.get("kind"),  # type: ignore[union-attr]
        study.get("count"),  # type: ignore[union-attr]
        _layer_name(study.get("source")),  # type: ignore[union-attr]
    )
    out["extra_layers"] = sorted((k, _layer_name(v)) for k, v in extra.items())  # type: ignore[union-attr]
    return out


def _check_store_for_append(
    out: Path, settings: IngestSettings, *, replace_months: bool
) -> dict[str, object]:
    """Return the store's manifest, or raise if ``out`` cannot take an appended run."""
    path = out / "manifest.json"
    if not path.is_file():
        raise InputError(
            f"--append needs an existing ingest store at {out} (with manifest.json); "
            "run without --append to create it."
        )
    previous = json.loads(path.read_text(encoding="utf-8"))
    if previous.get("command") != "ingest":
        raise InputError(
            f"{out} holds the output of 'hotspots {previous.get('command')}', not an ingest "
            "store; --append needs the --out folder of 'hotspots ingest'."
        )
    old = _comparable(previous.get("parameters", {}))
    new = _comparable(settings.describe())
    differ = [f"{k} {old[k]!r} -> {new[k]!r}" for k in old if old[k] != new[k]]
    if differ:
        raise InputError(
            f"cannot append to {out}: it was ingested with other settings ({'; '.join(differ)}); "
            "use the same --resolution, --areas, --wards/--lsoas, --harm and --snap-m, or "
            "ingest into a new --out folder."
        )
    recorded = previous.get("store", {})
    for name in DATASETS:
        on_disk = _rows_on_disk(out, name)
        written = recorded.get(name, {}).get("rows_by_month", {})  # type: ignore[union-attr]
        if on_disk != written and not replace_months:
            extra = sorted(set(on_disk) - set(written))
            missing = sorted(set(written) - set(on_disk))
            changed = sorted(m for m in set(on_disk) & set(written) if on_disk[m] != written[m])
            raise InputError(
                f"the {name} partitions of {out} do not match its manifest (on disk only: "
                f"{extra or 'none'}; missing: {missing or 'none'}; other row counts: "
                f"{changed or 'none'}): an earlier ingest was interrupted or the folder was "
                "edited. Re-run that ingest with --append --replace-months, or rebuild the "
                "store with --overwrite."
            )
    return previous


def _refuse_known_months(out: Path, sources: Sequence[Source], *, replace_months: bool) -> None:
    """Fail fast, before reading anything, on files named for a month the store holds."""
    if replace_months:
        return
    held = {name: set(store_months(out, name)) for name in DATASETS}
    clashes = []
    for source in sources:
        month = month_from_file_name(source.name)
        if month is None:
            continue
        try:
            kind = detect_format(read_header(source)[0], label=source.label, column_map=None)
        except InputError:
            continue  # reported properly when the file is read
        dataset = "searches" if kind == SEARCH else "incidents"
        if month in held[dataset]:
            clashes.append(f"{month} ({source.name})")
    if clashes:
        raise InputError(
            f"month(s) {', '.join(clashes[:5])}{' ...' if len(clashes) > 5 else ''} are "
            f"already in the store {out}; pass --replace-months to replace them, or leave "
            "those files out."
        )


def _clashes(out: Path, *, replace_months: bool) -> dict[str, dict[str, int]]:
    """Rows held by each month about to be replaced; raise if replacing is not allowed."""
    found: dict[str, dict[str, int]] = {}
    for name in DATASETS:
        staged = set(store_months(out, f".{name}.partial"))
        on_disk = _rows_on_disk(out, name)
        found[name] = {m: on_disk[m] for m in sorted(staged & set(on_disk))}
        if found[name] and not replace_months:
            raise InputError(
                f"month(s) {', '.join(found[name])} are already in the store {out}; pass "
                "--replace-months to replace them, or leave those files out (nothing was "
                "written)."
            )
    return found


def _rows_on_disk(out: Path, dataset: str) -> dict[str, int]:
    """Rows per month partition, from the Parquet footers."""
    rows = {}
    for month in store_months(out, dataset):
        folder = out / dataset / f"month={month}"
        rows[month] = sum(pq.ParquetFile(f).metadata.num_rows for f in folder.glob("*.parquet"))
    return rows


def _merge_rejects(final: Path, new: Path, *, drop_files: set[str] | None) -> None:
    """Write ``rejects.csv``: earlier rejects (without files read again) then this run's."""
    if drop_files is None or not final.exists():
        new.replace(final)
        return
    with (
        atomic_path(final) as handle,
        new.open(encoding="utf-8", newline="") as fresh,
        final.open(encoding="utf-8", newline="") as old,
    ):
        handle.write(fresh.readline())  # header
        old.readline()
        writer = csv.writer(handle, lineterminator="\n")
        for row in csv.reader(old):
            if row and row[0] not in drop_files:
                writer.writerow(row)
        shutil.copyfileobj(fresh, handle)
    new.unlink()


# ---------------------------------------------------------------------------
# the manifest of a store that grows


def _history(previous: dict[str, object] | None) -> list[dict[str, object]]:
    """Earlier runs (a store made before runs were recorded counts as one run)."""
    if previous is None:
        return []
    runs = previous.get("runs")
    if runs:
        return list(runs)  # type: ignore[call-overload]
    return [
        {
            "run": 1,
            "mode": "create",
            "started_at": previous.get("started_at"),
            "finished_at": previous.get("finished_at"),
            "inputs": [dict(e, run=1) for e in previous.get("inputs", [])],  # type: ignore[attr-defined]
            "rows": previous.get("rows"),
            "rejects_by_reason": previous.get("rejects_by_reason", {}),
            "notes": previous.get("notes", {}),
            "months_added": {
                k: list(v.get("rows_by_month", {}))
                for k, v in previous.get("store", {}).items()  # type: ignore[attr-defined]
            },
            "months_replaced": {},
        }
    ]


def _input_entries(
    entries: list[dict[str, object]], outcomes: list[SourceOutcome], run: int
) -> list[dict[str, object]]:
    """Manifest input entries plus the run and the rows each file gave each month."""
    by_label = {o.report.label: o for o in outcomes}
    out = []
    for entry in entries:
        outcome = by_label.get(str(entry.get("file")))
        out.append(
            {
                **entry,
                "run": run,
                "dataset": outcome.dataset if outcome else None,
                "accepted_by_month": dict(sorted(outcome.rows_by_month.items()))
                if outcome
                else {},
            }
        )
    return out


def _entry_label(entry: dict[str, object]) -> str:
    if entry.get("file"):
        return str(entry["file"])
    member = entry.get("member")
    return f"{entry.get('path')}!{member}" if member else str(entry.get("path"))


def _store_totals(runs: list[dict[str, object]]) -> dict[str, object]:
    """Top-level inputs, rows, rejects and notes of the store as it now is.

    Each file counts once, as last read. Rows of a month a later run replaced are counted
    in ``rows_in_store`` as ``replaced`` (they were accepted, then left the store), so
    ``in_store = accepted - replaced`` equals the rows in the partitions.
    """
    live: dict[str, dict[str, object]] = {}
    for run in runs:
        for entry in run.get("inputs", []):  # type: ignore[attr-defined]
            live[_entry_label(entry)] = entry
    replaced_in: dict[tuple[str, str], int] = {}  # (dataset, month) -> last run replacing it
    for run in runs:
        for dataset, months in (run.get("months_replaced") or {}).items():  # type: ignore[attr-defined]
            for month in months:
                replaced_in[(dataset, month)] = int(run["run"])  # type: ignore[call-overload]
    rejects: Counter = Counter()
    notes: Counter = Counter()
    read = accepted = rejected = replaced = 0
    for entry in live.values():
        read += int(entry.get("rows_read", 0))  # type: ignore[call-overload]
        accepted += int(entry.get("accepted", 0))  # type: ignore[call-overload]
        rejected += int(entry.get("rejected", 0))  # type: ignore[call-overload]
        rejects.update(entry.get("rejects_by_reason", {}))  # type: ignore[arg-type]
        notes.update(entry.get("notes", {}))  # type: ignore[arg-type]
        for month, n in (entry.get("accepted_by_month") or {}).items():  # type: ignore[attr-defined]
            later = replaced_in.get((str(entry.get("dataset")), month), 0)
            if later > int(entry.get("run", 0)):  # type: ignore[call-overload]
                replaced += int(n)
    return {
        "inputs": list(live.values()),
        "rows": {
            "read": read,
            "accepted": accepted,
            "rejected": rejected,
            "invariant_holds": accepted + rejected == read,
        },
        "rows_in_store": {
            "accepted": accepted,
            "replaced": replaced,
            "in_store": accepted - replaced,
            "runs": len(runs),
        },
        "rejects_by_reason": dict(sorted(rejects.items())),
        "reject_reasons": {k: v for k, v in schema.REJECT_REASONS.items() if k in rejects},
        "notes": dict(sorted((k, v) for k, v in notes.items() if v)),
        "note_meanings": {k: v for k, v in schema.NOTES.items() if notes.get(k)},
    }


def _store_section(out: Path) -> dict[str, object]:
    """Describe what the store holds now, per dataset, from the partitions themselves."""
    section = {}
    for name in DATASETS:
        months = _rows_on_disk(out, name)
        section[name] = {
            "path": str(out / name),
            "months": len(months),
            "first_month": next(iter(months), None),
            "last_month": next(reversed(months), None) if months else None,
            "rows": sum(months.values()),
            "rows_by_month": months,
        }
    return section


__all__ = [
    "ENGINES",
    "IngestResult",
    "SourceOutcome",
    "ingest_source",
    "ingest_to_store",
    "prepare_out_dir",
]
