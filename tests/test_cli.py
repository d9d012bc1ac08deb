"""Command line: exit codes, one-line errors, the ingest summary and files, the demo."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
from conftest import DATA, street_row, write_street


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "hotspots.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_missing_file_exits_2_with_one_line_and_no_traceback(tmp_path):
    result = run("ingest", str(tmp_path / "nope.csv"), "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "no such file or folder" in result.stderr
    assert len([line for line in result.stderr.splitlines() if line.strip()]) == 1


def test_csv_with_wrong_columns_exits_2(tmp_path):
    (tmp_path / "x.csv").write_text("a,b,c\n1,2,3\n")
    result = run("ingest", str(tmp_path / "x.csv"), "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "expected a data.police.uk street-crime file" in result.stderr


def test_bad_option_values_exit_2(tmp_path):
    path = write_street(tmp_path / "a.csv", [street_row()])
    for extra in (
        ["--resolution", "7"],
        ["--months", "2024-13..2024-01"],
        ["--columns", "nonsense"],
    ):
        result = run("ingest", str(path), "--out", str(tmp_path / "o"), *extra)
        assert result.returncode == 2, extra
        assert "Traceback" not in result.stderr


def test_ingest_writes_store_rejects_and_manifest(tmp_path):
    rows = [
        street_row(crime_id="1"),
        street_row(crime_id="2", lon="", lat=""),
        street_row(crime_id="1"),
    ]
    path = write_street(tmp_path / "2024-01-metropolitan-street.csv", rows)
    out = tmp_path / "out"
    result = run("ingest", str(path), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "Read 3 rows" in result.stdout
    assert "accepted 1 + rejected 2 = 3 (holds)" in result.stdout
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["rows"] == {"read": 3, "accepted": 1, "rejected": 2, "invariant_holds": True}
    assert manifest["rejects_by_reason"] == {"duplicate_id": 1, "missing_coordinates": 1}
    assert len(manifest["inputs"][0]["sha256"]) == 64
    assert "Cambridge Crime Harm Index" in manifest["parameters"]["harm_table"]
    assert manifest["versions"]["h3"]
    rejects = pd.read_csv(out / "rejects.csv")
    assert list(rejects.columns) == ["source_file", "source_row", "reason", "detail", "raw"]
    assert sorted(rejects["source_row"]) == [3, 4]
    assert (out / "incidents" / "month=2024-01" / "part-0.parquet").exists()
    # a second run into the same folder is refused unless --overwrite
    again = run("ingest", str(path), "--out", str(out))
    assert again.returncode == 2 and "--overwrite" in again.stderr
    assert run("ingest", str(path), "--out", str(out), "--overwrite").returncode == 0


def test_ingest_real_city_of_london_folder(tmp_path):
    out = tmp_path / "out"
    result = run("ingest", str(DATA / "police_uk" / "city_of_london_street"), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "Read 18,317 rows" in result.stdout
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["rows"]["invariant_holds"]
    assert manifest["store"]["incidents"]["months"] == 23


def test_formula_like_cells_are_neutralised_in_rejects_csv(tmp_path):
    rows = [street_row(crime_id="=cmd|' /C calc'!A0", lon="", lat="")]
    path = write_street(tmp_path / "a.csv", rows)
    assert run("ingest", str(path), "--out", str(tmp_path / "o")).returncode == 0
    text = (tmp_path / "o" / "rejects.csv").read_text()
    assert "\n=" not in text and ",=" not in text


def test_demo_writes_every_file(demo_output):
    out, result = demo_output
    assert result.returncode == 0, result.stderr
    assert "accepted" in result.stdout and "(holds)" in result.stdout
    for name in (
        "map.html",
        "harm_per_cell.csv",
        "harm_per_lsoa.csv",
        "manifest.json",
        "store/manifest.json",
        "detect_burglary/report.html",
        "detect_burglary/boroughs/lambeth/map.html",
        "detect_violence_lsoa/areas.parquet",
        "evaluate_burglary/evaluation.csv",
        "stops/disparity.csv",
        "stops/review.html",
        "task/tasking.csv",
        "task/tasking.html",
    ):
        assert (out / name).exists(), name
    demo = json.loads((out / "manifest.json").read_text())
    assert {"overview", "detect burglary + task", "detect violence", "evaluate", "stops"} <= set(
        demo["steps"]
    )
    assert (out / "map.html").stat().st_size < 5 * 2**20
    cells = pd.read_csv(out / "harm_per_cell.csv")
    assert (cells["incidents"] == 0).any()  # zeros are present
    assert cells["harm"].sum() > 0
    manifest = json.loads((out / "store" / "manifest.json").read_text())
    assert manifest["rows"]["invariant_holds"]
    html = (out / "map.html").read_text()
    assert "Harm per H3 cell" in html and "Borough boundaries" in html
    assert "cdn.jsdelivr" not in html and "code.jquery" not in html


def test_the_command_line_starts_without_the_heavy_libraries():
    """``hotspots --version``/``--help`` import no data library (start-up ~0.1 s, not 2 s)."""
    heavy = ("numpy", "pandas", "geopandas", "pyarrow", "folium", "sklearn", "matplotlib", "dask")
    code = (
        "import sys, hotspots, hotspots.cli.main; "
        f"print(','.join(m for m in {heavy!r} if m in sys.modules))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.strip() == ""
    version = subprocess.run(
        [sys.executable, "-m", "hotspots", "--version"], capture_output=True, text=True
    )
    assert version.returncode == 0 and "version" in version.stdout
