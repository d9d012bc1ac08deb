"""Check that a run's outputs still describe its inputs, from its ``manifest.json``.

Every command writes ``manifest.json`` with the sha256 and size of each input file (the
archive, for zip members) and of its outputs. :func:`verify_run` hashes them again:

* an input that is missing, or whose bytes changed, means the outputs no longer describe
  the data at that path;
* an output that is missing or changed means the folder no longer holds what the run wrote;
* an ingest store's month partitions must hold the rows the manifest counted;
* the ingest folder a ``detect`` read (``input_store``), and the store a ``demo`` wrote,
  are checked in turn.

Outputs whose hash the manifest does not record are listed as ``unhashed``: present, but
not verifiable (they do not fail the check).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from hotspots.core.errors import InputError
from hotspots.io.atomic import sha256_file

OK = "ok"
CHANGED = "changed"
MISSING = "missing"
UNHASHED = "unhashed"
STATUSES = (OK, CHANGED, MISSING, UNHASHED)
"""``unhashed``: an output the manifest names without a hash (present, not verifiable)."""


@dataclass(frozen=True)
class FileCheck:
    """The outcome for one file (or store partition set) named in a manifest.

    Attributes
    ----------
    role
        ``"input"``, ``"output"`` or ``"store"``.
    path
        The path as the manifest records it.
    status
        One of :data:`STATUSES`.
    detail
        What was compared, in a sentence.
    members
        Zip members read from this archive (inputs only).
    """

    role: str
    path: str
    status: str
    detail: str
    members: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """Whether this file does not undermine the outputs."""
        return self.status in (OK, UNHASHED)


@dataclass(frozen=True)
class Verification:
    """Everything :func:`verify_run` checked for one run folder.

    Attributes
    ----------
    folder
        The run folder.
    command
        The command that wrote it (``ingest``, ``detect``, ...).
    checks
        One entry per input file, output file and store dataset.
    nested
        Runs this one depends on (the ingest folder a detect read; a demo's store).
    """

    folder: Path
    command: str
    checks: tuple[FileCheck, ...]
    nested: tuple[Verification, ...] = field(default=())

    @property
    def ok(self) -> bool:
        """Whether every input and output matches (in nested runs too)."""
        return all(c.ok for c in self.checks) and all(n.ok for n in self.nested)

    def problems(self) -> list[tuple[Path, FileCheck]]:
        """Every failed check, with the folder whose manifest named it."""
        found = [(self.folder, c) for c in self.checks if not c.ok]
        for inner in self.nested:
            found.extend(inner.problems())
        return found

    def counts(self) -> dict[str, int]:
        """Count checks by status, nested runs included."""
        totals = dict.fromkeys(STATUSES, 0)
        for check in self.checks:
            totals[check.status] += 1
        for inner in self.nested:
            for status, n in inner.counts().items():
                totals[status] += n
        return totals


def read_manifest(folder: str | Path) -> dict[str, object]:
    """Read ``manifest.json`` of a run folder.

    Raises
    ------
    InputError
        If the folder does not exist or holds no readable manifest.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder} is not a folder; pass the --out folder of a hotspots run.")
    path = folder / "manifest.json"
    if not path.is_file():
        raise InputError(
            f"{folder} holds no manifest.json, so there is nothing to verify; pass the --out "
            "folder of a hotspots run."
        )
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path} is not readable JSON ({exc}); it cannot be verified.") from None
    if not isinstance(manifest, dict):
        raise InputError(f"{path} is not a hotspots manifest (expected a JSON object).")
    return manifest


def _short(digest: object) -> str:
    return f"{str(digest)[:12]}…"


def _compare(path: Path, *, sha256: object, size: object) -> tuple[str, str]:
    """Status and detail of one file against its recorded size and hash."""
    if not path.is_file():
        return MISSING, f"no file at {path}"
    now_size = path.stat().st_size
    if isinstance(size, int) and size != now_size:
        return CHANGED, f"{size:,} bytes recorded, {now_size:,} now"
    if not sha256:
        return UNHASHED, "present; the manifest records no hash for it"
    digest = sha256_file(path)
    if digest != sha256:
        return CHANGED, f"sha256 recorded {_short(sha256)}, now {_short(digest)}"
    return OK, f"sha256 {_short(digest)} matches"


def _input_checks(entries: Iterable[dict[str, object]], root: Path) -> list[FileCheck]:
    """One check per input file (an archive once, however many members were read)."""
    by_path: dict[str, dict[str, object]] = {}
    members: dict[str, list[str]] = {}
    for entry in entries:
        recorded = str(entry.get("path", ""))
        by_path.setdefault(recorded, entry)
        if entry.get("member"):
            members.setdefault(recorded, []).append(str(entry["member"]))
    checks = []
    for recorded, entry in by_path.items():
        path = Path(recorded)
        if not path.is_absolute():
            path = root / path
        status, detail = _compare(path, sha256=entry.get("sha256"), size=entry.get("bytes"))
        if status == MISSING and not Path(recorded).is_absolute():
            detail += " (the path is relative to the folder the run started in; see --root)"
        if status == UNHASHED:  # an input without a hash cannot vouch for the outputs
            status, detail = CHANGED, "the manifest records no sha256 for this input"
        checks.append(
            FileCheck("input", recorded, status, detail, tuple(sorted(members.get(recorded, []))))
        )
    return checks


def _inside(folder: Path, recorded: str) -> Path | None:
    """Find an output the manifest names (the folder may have moved since the run)."""
    parts = Path(recorded).parts
    candidates = [folder.joinpath(*parts[i:]) for i in range(len(parts))]
    if Path(recorded).is_absolute():
        candidates.insert(0, Path(recorded))
    folder = folder.resolve()
    for candidate in candidates:
        resolved = candidate.resolve()
        if resolved.is_file() and (resolved == folder or folder in resolved.parents):
            return resolved
    return None


def _output_checks(outputs: dict[str, object], folder: Path) -> list[FileCheck]:
    checks = []
    for name, entry in sorted(outputs.items()):
        record = entry if isinstance(entry, dict) else {"path": entry}
        recorded = str(record.get("path", name))
        found = _inside(folder, recorded)
        if found is None:
            checks.append(FileCheck("output", recorded, MISSING, f"not found in {folder}"))
            continue
        status, detail = _compare(found, sha256=record.get("sha256"), size=record.get("bytes"))
        checks.append(FileCheck("output", recorded, status, detail))
    return checks


def _store_checks(store: dict[str, object], folder: Path) -> list[FileCheck]:
    """Rows per month partition, from Parquet footers, against the manifest's counts."""
    import pyarrow.parquet as pq

    checks = []
    for dataset, entry in sorted(store.items()):
        if not isinstance(entry, dict):
            continue
        expected = {str(k): int(v) for k, v in (entry.get("rows_by_month") or {}).items()}
        base = folder / dataset
        found: dict[str, int] = {}
        if base.is_dir():
            for part in sorted(base.glob("month=*/*.parquet")):
                month = part.parent.name.removeprefix("month=")
                try:
                    rows = pq.ParquetFile(part).metadata.num_rows
                except Exception as exc:  # noqa: BLE001 (any unreadable part fails the check)
                    checks.append(
                        FileCheck("store", str(part), CHANGED, f"unreadable Parquet ({exc})")
                    )
                    continue
                found[month] = found.get(month, 0) + rows
        label = f"{dataset}/ ({len(expected)} month(s), {sum(expected.values()):,} rows)"
        if found == expected:
            checks.append(FileCheck("store", label, OK, "rows per month partition match"))
            continue
        missing = sorted(set(expected) - set(found))
        extra = sorted(set(found) - set(expected))
        differ = sorted(m for m in set(found) & set(expected) if found[m] != expected[m])
        parts = []
        if missing:
            parts.append(f"months missing: {', '.join(missing[:6])}")
        if extra:
            parts.append(f"months not in the manifest: {', '.join(extra[:6])}")
        if differ:
            parts.append(
                "rows differ in "
                + ", ".join(
                    f"{m} ({expected[m]:,} recorded, {found[m]:,} now)" for m in differ[:6]
                )
            )
        status = MISSING if not found and expected else CHANGED
        checks.append(FileCheck("store", label, status, "; ".join(parts)))
    return checks


def verify_run(folder: str | Path, *, root: str | Path | None = None) -> Verification:
    """Hash again the inputs and outputs named in a run's ``manifest.json``.

    Parameters
    ----------
    folder
        The ``--out`` folder of a hotspots run.
    root
        Folder that relative input paths in the manifest are taken from (the folder the
        run was started in); the current folder by default.

    Returns
    -------
    Verification
        Per-file checks; ``.ok`` says whether the outputs can be trusted to describe the
        inputs as they are now.

    Raises
    ------
    InputError
        If ``folder`` holds no readable ``manifest.json``.
    """
    return _verify(Path(folder), Path(root) if root is not None else Path.cwd(), frozenset())


def _verify(folder: Path, base: Path, seen: frozenset[Path]) -> Verification:
    manifest = read_manifest(folder)
    seen = seen | {folder.resolve()}
    checks: list[FileCheck] = []
    inputs = manifest.get("inputs") or []
    if isinstance(inputs, list):
        checks += _input_checks([i for i in inputs if isinstance(i, dict)], base)
    outputs = manifest.get("outputs") or {}
    if isinstance(outputs, dict):
        checks += _output_checks(outputs, folder)
    store = manifest.get("store")
    if isinstance(store, dict):
        checks += _store_checks(store, folder)
    nested: list[Verification] = []
    for key in ("input_store", "ingest_manifest"):
        value = manifest.get(key)
        if not value:
            continue
        path = Path(str(value))
        inner = path.parent if path.name == "manifest.json" else path
        candidates = [inner] if inner.is_absolute() else [base / inner, folder / inner.name]
        target = next((c for c in candidates if (c / "manifest.json").is_file()), None)
        if target is None:
            checks.append(
                FileCheck("input", str(value), MISSING, "the run this one read has no manifest")
            )
        elif target.resolve() not in seen:
            nested.append(_verify(target, base, seen))
    return Verification(
        folder=folder,
        command=str(manifest.get("command", "?")),
        checks=tuple(checks),
        nested=tuple(nested),
    )


__all__ = [
    "CHANGED",
    "MISSING",
    "OK",
    "STATUSES",
    "UNHASHED",
    "FileCheck",
    "Verification",
    "read_manifest",
    "verify_run",
]
