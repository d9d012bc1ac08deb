"""``hotspots verify``: re-hash a run's inputs and outputs against its manifest."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from broken.cases import HERE as CORPUS

from hotspots.core.errors import InputError
from hotspots.io.verify import CHANGED, MISSING, OK, UNHASHED, verify_run

CLI = ("-m", "hotspots.cli.main")


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "250"}
    return subprocess.run(
        [sys.executable, *CLI, *args],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=cwd,
        env=env,
    )


@pytest.fixture
def ingested(tmp_path) -> tuple[Path, Path, Path]:
    """An ingest of two small files and a zip, run from ``tmp_path`` with relative paths."""
    inputs = tmp_path / "in"
    inputs.mkdir()
    shutil.copy(CORPUS / "crlf.csv", inputs / "2024-01-metropolitan-street.csv")
    shutil.copy(CORPUS / "mixed_reasons.csv", inputs / "2024-02-metropolitan-street.csv")
    with zipfile.ZipFile(inputs / "download.zip", "w") as archive:
        archive.write(CORPUS / "2024-01-city-of-london-street.csv", "a/2024-01-city-street.csv")
        archive.write(CORPUS / "latin1.csv", "b/2024-03-city-street.csv")
    result = run_cli("ingest", "in", "--out", "out", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    return tmp_path, inputs, tmp_path / "out"


def test_untouched_run_verifies(ingested):
    root, _, out = ingested
    verification = verify_run(out, root=root)
    assert verification.ok and verification.command == "ingest"
    assert {c.status for c in verification.checks} == {OK}
    roles = [c.role for c in verification.checks]
    assert roles.count("input") == 3  # the zip once, with its two members
    (archive,) = [c for c in verification.checks if c.path.endswith("download.zip")]
    assert archive.members == ("a/2024-01-city-street.csv", "b/2024-03-city-street.csv")
    assert roles.count("output") == 1 and roles.count("store") == 2
    result = run_cli("verify", "out", cwd=root)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "OK: all 6 files named in the manifest match" in result.stdout


def test_changed_input_fails_with_a_per_file_list(ingested):
    root, inputs, out = ingested
    with open(inputs / "2024-02-metropolitan-street.csv", "a", encoding="utf-8") as handle:
        handle.write("late,2024-02,x,x,-0.1,51.5,On or near X,E01,W,Burglary,,\n")
    (inputs / "2024-01-metropolitan-street.csv").unlink()
    verification = verify_run(out, root=root)
    assert not verification.ok
    bad = {c.path: c.status for _, c in verification.problems()}
    assert bad == {
        "in/2024-02-metropolitan-street.csv": CHANGED,
        "in/2024-01-metropolitan-street.csv": MISSING,
    }
    result = run_cli("verify", "out", cwd=root)
    assert result.returncode == 1
    assert "changed  input  in/2024-02-metropolitan-street.csv" in result.stdout
    assert "missing  input  in/2024-01-metropolitan-street.csv" in result.stdout
    assert "cannot be trusted" in result.stdout and "Traceback" not in result.stderr


def test_same_size_edit_is_caught_by_the_hash(ingested):
    root, inputs, out = ingested
    path = inputs / "2024-02-metropolitan-street.csv"
    data = bytearray(path.read_bytes())
    data[-3] = ord("X") if data[-3] != ord("X") else ord("Y")
    path.write_bytes(bytes(data))
    (check,) = [c for _, c in verify_run(out, root=root).problems()]
    assert check.status == CHANGED and check.detail.startswith("sha256 recorded")


def test_changed_zip_member_fails_its_archive(ingested):
    root, inputs, out = ingested
    with zipfile.ZipFile(inputs / "download.zip", "a") as archive:
        archive.writestr("c/extra.txt", "not a table")
    (check,) = [c for _, c in verify_run(out, root=root).problems()]
    assert check.path == "in/download.zip" and check.status == CHANGED
    assert len(check.members) == 2


def test_changed_or_missing_outputs_fail(ingested):
    root, _, out = ingested
    with open(out / "rejects.csv", "a", encoding="utf-8") as handle:
        handle.write("x,1,bad_month,edited,\n")
    month = next((out / "incidents").glob("month=*"))
    shutil.rmtree(month)
    problems = {c.role: c for _, c in verify_run(out, root=root).problems()}
    assert problems["output"].status == CHANGED
    assert problems["store"].status == MISSING  # its only month is gone
    assert f"months missing: {month.name.removeprefix('month=')}" in problems["store"].detail
    assert run_cli("verify", "out", cwd=root).returncode == 1


def test_relative_inputs_need_the_folder_the_run_started_in(ingested):
    root, _, out = ingested
    elsewhere = root / "elsewhere"
    elsewhere.mkdir()
    assert run_cli("verify", str(out), cwd=elsewhere).returncode == 1
    assert run_cli("verify", str(out), "--root", str(root), cwd=elsewhere).returncode == 0
    problems = verify_run(out, root=elsewhere).problems()
    assert {c.status for _, c in problems} == {MISSING} and len(problems) == 3
    assert all("relative to the folder the run started in" in c.detail for _, c in problems)


def test_a_moved_run_folder_still_finds_its_outputs(ingested):
    root, _, out = ingested
    moved = root / "archive" / "run-1"
    moved.parent.mkdir()
    shutil.move(out, moved)
    assert verify_run(moved, root=root).ok


@pytest.mark.parametrize("broken", ["no manifest", "no folder", "not json", "a list"])
def test_folder_without_a_readable_manifest_exits_2(tmp_path, broken):
    folder = tmp_path / "run"
    if broken != "no folder":
        folder.mkdir()
    if broken == "not json":
        (folder / "manifest.json").write_text("{not json", encoding="utf-8")
    if broken == "a list":
        (folder / "manifest.json").write_text("[]", encoding="utf-8")
    with pytest.raises(InputError):
        verify_run(folder)
    result = run_cli("verify", str(folder))
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in result.stderr


def test_detect_from_a_store_checks_the_store_too(ingested):
    root, _, out = ingested
    detect = run_cli("detect", "out", "--out", "hot", "--months", "2024-01..2024-03", cwd=root)
    assert detect.returncode == 0, detect.stderr
    verification = verify_run(root / "hot", root=root)
    assert verification.ok
    assert [n.command for n in verification.nested] == ["ingest"]
    statuses = {Path(c.path).name: c.status for c in verification.checks if c.role == "output"}
    assert statuses["cells.parquet"] == OK and statuses["map.html"] == OK
    assert statuses["report.html"] in (OK, UNHASHED)
    # the store the detection read changes: the detection no longer describes it
    part = next((out / "incidents").rglob("*.parquet"))
    part.unlink()
    result = run_cli("verify", "hot", cwd=root)
    assert result.returncode == 1
    assert "read from" in result.stdout and "missing" in result.stdout
    manifest = json.loads((root / "hot" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["input_store"]
