"""End-to-end steps that write files: ingest into a store (more steps join later)."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from hotspots import schema
from hotspots.errors import InputError
from hotspots.formats import SEARCH
from hotspots.ingest import IngestSettings, ProgressCallback, SourceReport, run_sources
from hotspots.io import CsvAppender, write_json
from hotspots.manifest import Clock, build_manifest
from hotspots.sources import Source, find_sources
from hotspots.store import DATASETS, StoreWriter


@dataclass(frozen=True)
class IngestResult:
    """What an ingest wrote and counted.

    Attributes
    ----------
    out_dir
        The output folder.
    reports
        Per-file counts.
    rows_by_month
        Accepted rows per month, per dataset (``incidents``, ``searches``).
    manifest
        The manifest content as written.
    """

    out_dir: Path
    reports: list[SourceReport]
    rows_by_month: dict[str, dict[str, int]]
    manifest: dict[str, object]

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
                "replace it, or choose another --out folder."
            )
        for name in (*DATASETS, "rejects.csv", "manifest.json"):
            target = out / name
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
    out.mkdir(parents=True, exist_ok=True)
    return out


def ingest_to_store(
    inputs: Sequence[str | Path],
    out_dir: str | Path,
    *,
    settings: IngestSettings,
    overwrite: bool = False,
    on_progress: ProgressCallback | None = None,
    sources: Sequence[Source] | None = None,
) -> IngestResult:
    """Stream inputs into a month-partitioned GeoParquet store with rejects and manifest.

    Memory stays flat: rows are validated and written chunk by chunk.

    Parameters
    ----------
    inputs
        Files, folders, globs or zip archives (data.police.uk street and stop-and-search
        files may be mixed; each goes to its own dataset).
    out_dir
        Output folder (see :func:`prepare_out_dir` for the rule on existing folders).
    settings
        How to read rows; e.g. :func:`hotspots.ingest.london_settings`.
    overwrite
        Replace an earlier run's output in ``out_dir``.
    on_progress
        Called with compressed bytes consumed so far.
    sources
        Already expanded inputs (skips :func:`find_sources`).

    Returns
    -------
    IngestResult
        Counts, months written and the manifest.
    """
    clock = Clock()
    sources = list(sources) if sources is not None else find_sources(inputs)
    out = prepare_out_dir(out_dir, overwrite=overwrite)
    writers = {name: StoreWriter(out, name, working_crs=settings.working_crs) for name in DATASETS}
    rejects = CsvAppender(out / "rejects.csv", schema.REJECT_COLUMNS)
    reports: dict[str, SourceReport] = {}
    success = False
    try:
        for report, processed in run_sources(sources, settings, on_progress=on_progress):
            reports[report.label] = report
            dataset = "searches" if processed.kind == SEARCH else "incidents"
            writers[dataset].write(processed.accepted)
            if len(processed.rejects):
                rejects.append(processed.rejects)
        success = True
    finally:
        rejects.close(success=success)
        for writer in writers.values():
            writer.close(success=success)
    report_list = [
        reports.get(s.label) or SourceReport(label=s.label, kind="empty") for s in sources
    ]
    rows_by_month = {name: dict(sorted(w.rows_by_month.items())) for name, w in writers.items()}
    outputs = {"rejects": out / "rejects.csv"}
    manifest = build_manifest(
        command="ingest",
        sources=sources,
        reports=report_list,
        parameters=settings.describe(),
        outputs=outputs,
        clock=clock,
        extra={
            "store": {
                name: {
                    "path": str(out / name),
                    "months": len(months),
                    "first_month": next(iter(months), None),
                    "last_month": next(reversed(months), None) if months else None,
                    "rows": sum(months.values()),
                    "rows_by_month": months,
                }
                for name, months in rows_by_month.items()
            }
        },
    )
    write_json(out / "manifest.json", manifest)
    return IngestResult(
        out_dir=out, reports=report_list, rows_by_month=rows_by_month, manifest=manifest
    )
