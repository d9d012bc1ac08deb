"""Provenance: what went in, what came out, with which parameters and versions."""

from __future__ import annotations

import platform
import sys
import time
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from hotspots.core import schema
from hotspots.io.atomic import sha256_file
from hotspots.io.sources import Source

PACKAGES = (
    "hotspots",
    "numpy",
    "pandas",
    "geopandas",
    "shapely",
    "pyproj",
    "pyarrow",
    "h3",
    "h3ronpy",
    "folium",
    "scikit-learn",
    "scipy",
)


def package_versions() -> dict[str, str]:
    """Installed versions of the packages that shape results."""
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def describe_inputs(
    sources: Sequence[Source], reports: Sequence[object]
) -> list[dict[str, object]]:
    """One entry per input: path, member, bytes, sha256 and the per-file counts."""
    by_label = {getattr(r, "label", None): r for r in reports}
    hashes: dict[Path, str] = {}
    entries = []
    for source in sources:
        if source.path not in hashes:
            hashes[source.path] = sha256_file(source.path)
        entry: dict[str, object] = {
            "path": str(source.path),
            "member": source.member,
            "bytes": source.path.stat().st_size,
            "sha256": hashes[source.path],
        }
        report = by_label.get(source.label)
        if report is not None:
            entry.update(report.as_dict())  # type: ignore[attr-defined]
        entries.append(entry)
    return entries


class Clock:
    """Start and finish times of a run."""

    def __init__(self) -> None:
        self.started = datetime.now(UTC)
        self._t0 = time.perf_counter()

    def stamp(self) -> dict[str, object]:
        """Return start and finish times for the manifest."""
        return {
            "started_at": self.started.isoformat(timespec="seconds"),
            "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "duration_s": round(time.perf_counter() - self._t0, 3),
        }


def build_manifest(
    *,
    command: str,
    sources: Sequence[Source],
    reports: Sequence[object],
    parameters: dict[str, object],
    outputs: dict[str, Path],
    clock: Clock,
    extra: dict[str, object] | None = None,
) -> dict[str, object]:
    """Assemble ``manifest.json`` content."""
    rejects: Counter = Counter()
    notes: Counter = Counter()
    rows_read = accepted = rejected = 0
    for report in reports:
        rejects.update(report.rejects_by_reason)  # type: ignore[attr-defined]
        notes.update(report.notes)  # type: ignore[attr-defined]
        rows_read += report.rows_read  # type: ignore[attr-defined]
        accepted += report.accepted  # type: ignore[attr-defined]
        rejected += report.rejected  # type: ignore[attr-defined]
    manifest: dict[str, object] = {
        "tool": "hotspots",
        "command": command,
        "argv": sys.argv,
        **clock.stamp(),
        "rows": {
            "read": rows_read,
            "accepted": accepted,
            "rejected": rejected,
            "invariant_holds": accepted + rejected == rows_read,
        },
        "rejects_by_reason": dict(sorted(rejects.items())),
        "reject_reasons": {k: v for k, v in schema.REJECT_REASONS.items() if k in rejects},
        "notes": dict(sorted((k, v) for k, v in notes.items() if v)),
        "note_meanings": {k: v for k, v in schema.NOTES.items() if notes.get(k)},
        "parameters": parameters,
        "inputs": describe_inputs(sources, reports),
        "outputs": {
            name: {"path": str(path), "sha256": sha256_file(path), "bytes": path.stat().st_size}
            for name, path in sorted(outputs.items())
            if path.is_file()
        },
        "versions": package_versions(),
        "platform": {"machine": platform.machine(), "system": platform.system()},
    }
    if extra:
        manifest.update(extra)
    return manifest
