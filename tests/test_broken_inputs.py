"""Broken inputs through the command line: exact exit codes, one-line errors, exact rejects.

The corpus and each case's expected outcome are in ``tests/broken/cases.py``. Every case
that must be refused runs as its own ``hotspots`` process (a few at once); the cases that
are read all go through one ``hotspots ingest`` (per-file counts are in the manifest and
per-row reasons in ``rejects.csv``), and through the Python API one by one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from broken.cases import CASES, GENERATED, HERE, Case

from hotspots.core.errors import HotspotsError
from hotspots.ingest.read import read_incidents, read_searches

CLI = ("-m", "hotspots.cli.main")
REFUSED = [c for c in CASES if c.exit_code == 2]
READ = [c for c in CASES if c.exit_code == 0]


def run_cli(*args: str) -> subprocess.CompletedProcess:
    """Run the command line in a fresh process."""
    return subprocess.run(
        [sys.executable, *CLI, *args], capture_output=True, text=True, timeout=300
    )


def case_paths(case: Case, generated: dict[str, Path]) -> list[str]:
    return [str(generated[name] if name.startswith("@") else HERE / name) for name in case.files]


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> dict[str, Path]:
    """The 10 MB files, written once."""
    folder = tmp_path_factory.mktemp("generated")
    return {name: make(folder) for name, make in GENERATED.items()}


@pytest.fixture(scope="module")
def refused_runs(
    tmp_path_factory, generated
) -> dict[str, tuple[subprocess.CompletedProcess, Path]]:
    """Every refused case in its own CLI process, a few processes at a time."""
    root = tmp_path_factory.mktemp("refused")

    def one(case: Case) -> tuple[subprocess.CompletedProcess, Path]:
        out = root / case.name
        return run_cli(case.command, *case_paths(case, generated), "--out", str(out)), out

    with ThreadPoolExecutor(max_workers=max(2, min(4, os.cpu_count() or 2))) as pool:
        return dict(zip([c.name for c in REFUSED], pool.map(one, REFUSED), strict=True))


@dataclass(frozen=True)
class Combined:
    """One ``hotspots ingest`` over every readable case file."""

    result: subprocess.CompletedProcess
    out: Path
    manifest: dict
    rejects: pd.DataFrame
    stored: dict[str, pd.DataFrame]

    def entry(self, path: str) -> dict:
        (found,) = [e for e in self.manifest["inputs"] if e["path"] == path]
        return found

    def rows_of(self, path: str, dataset: str) -> pd.DataFrame:
        stored = self.stored[dataset]
        return stored[stored["source_file"] == path] if len(stored) else stored


@pytest.fixture(scope="module")
def combined(tmp_path_factory, generated) -> Combined:
    from hotspots.io.store import read_store

    out = tmp_path_factory.mktemp("read") / "out"
    paths = [p for case in READ for p in case_paths(case, generated)]
    result = run_cli("ingest", *paths, "--out", str(out))
    assert result.returncode == 0, result.stderr
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    rejects = pd.read_csv(out / "rejects.csv", dtype={"detail": str, "raw": str})
    stored = {
        name: read_store(out, dataset=name) if (out / name).is_dir() else pd.DataFrame()
        for name in ("incidents", "searches")
    }
    return Combined(result, out, manifest, rejects, stored)


def test_corpus_is_small_and_every_file_has_a_case():
    committed = {p.name for p in HERE.iterdir() if p.is_file() and p.suffix not in (".py", ".pyc")}
    used = {name for case in CASES for name in case.files if not name.startswith("@")}
    assert committed == used, committed ^ used
    assert sum((HERE / name).stat().st_size for name in committed) < 100_000
    assert len({case.name for case in CASES}) == len(CASES) >= 30


@pytest.mark.parametrize("case", REFUSED, ids=lambda c: c.name)
def test_refused_input_exits_2_with_one_line_and_leaves_nothing(case, refused_runs):
    result, out = refused_runs[case.name]
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert lines[0].startswith("error: ")
    assert case.error in lines[0]
    assert len(lines[0]) < 1000
    # nothing that could pass for output: no manifest, rejects, store or temporary files
    left = sorted(p.relative_to(out) for p in out.rglob("*")) if out.exists() else []
    assert left == [], left


def test_one_run_over_every_readable_case_keeps_the_invariant(combined):
    rows = combined.manifest["rows"]
    assert rows["read"] == sum(c.read for c in READ)
    assert rows["accepted"] == sum(c.accepted for c in READ)
    assert rows["accepted"] + rows["rejected"] == rows["read"]
    assert rows["invariant_holds"] is True
    assert len(combined.rejects) == rows["rejected"]
    expected: Counter = Counter()
    for case in READ:
        expected.update(case.rejects)
    assert combined.manifest["rejects_by_reason"] == dict(sorted(expected.items()))
    assert "Traceback" not in combined.result.stderr
    summary = f"accepted {rows['accepted']:,} + rejected {rows['rejected']:,} = {rows['read']:,}"
    assert summary + " (holds)" in combined.result.stdout
    assert (combined.rejects["raw"].fillna("").str.len() <= 2000).all()


@pytest.mark.parametrize("case", READ, ids=lambda c: c.name)
def test_read_input_has_exact_counts_and_rejects(case, combined, generated):
    (path,) = case_paths(case, generated)
    entry = combined.entry(path)
    assert (entry["rows_read"], entry["accepted"], entry["rejected"]) == (
        case.read,
        case.accepted,
        case.rejected,
    )
    assert entry["rejects_by_reason"] == dict(sorted(case.rejects.items()))
    assert {k: v for k, v in entry["notes"].items() if v} == case.notes
    assert len(entry["sha256"]) == 64

    rejects = combined.rejects[combined.rejects["source_file"] == path]
    assert len(rejects) == case.rejected
    assert dict(Counter(rejects["reason"])) == case.rejects
    assert dict(zip(rejects["source_row"], rejects["reason"], strict=True)) == case.lines
    assert rejects["detail"].notna().all()
    if case.detail:
        assert rejects["detail"].str.contains(case.detail, regex=False).any()

    for name in ("incidents", "searches"):
        stored = combined.rows_of(path, name)
        assert len(stored) == (case.accepted if name == case.dataset else 0), name
    accepted_lines = set(combined.rows_of(path, case.dataset).get("source_row", []))
    assert not accepted_lines & set(case.lines)  # no line both accepted and rejected
    assert len(accepted_lines) == case.accepted


@pytest.mark.parametrize("case", [c for c in CASES if c.command == "ingest"], ids=lambda c: c.name)
def test_python_api_agrees_with_the_cli(case, generated):
    paths = case_paths(case, generated)
    read = read_searches if case.dataset == "searches" else read_incidents
    if case.exit_code == 2:
        with pytest.raises(HotspotsError) as caught:
            read(paths)
        assert case.error in str(caught.value)
        return
    loaded = read(paths)
    assert (loaded.rows_read, len(loaded.incidents)) == (case.read, case.accepted)
    assert len(loaded.incidents) + len(loaded.rejects) == loaded.rows_read
    assert dict(zip(loaded.rejects["source_row"], loaded.rejects["reason"], strict=True)) == (
        case.lines
    )


def test_stop_and_search_file_is_stored_as_searches_with_its_columns(combined):
    path = str(HERE / "2024-01-metropolitan-stop-and-search.csv")
    searches = combined.rows_of(path, "searches")
    assert len(searches) == 6
    assert {"self_defined_ethnicity", "has_location", "outcome"} <= set(searches.columns)
    assert searches["has_location"].sum() == 5  # one of the six real rows has no location


def test_city_of_london_rows_get_london_boroughs(combined):
    path = str(HERE / "2024-01-city-of-london-street.csv")
    boroughs = set(combined.rows_of(path, "incidents")["borough"])
    assert "City of London" in boroughs
    assert boroughs <= {"City of London", "Camden", "Islington", "Hackney", "Westminster"}


def test_latin1_and_bom_text_is_decoded_not_mangled(combined):
    for name in ("latin1.csv", "utf8_bom.csv"):
        locations = set(combined.rows_of(str(HERE / name), "incidents")["location"])
        assert locations == {"On or near Café Royal", "On or near £ Street – “quoted”"}, name
    assert combined.entry(str(HERE / "latin1.csv"))["encoding"] == "cp1252"


def test_ten_mb_location_is_kept_whole(combined, generated):
    (location,) = combined.rows_of(str(generated["@ten_mb_location"]), "incidents")["location"]
    assert len(location) == len("On or near ") + 10 * 2**20
