"""Small factories for test inputs: data.police.uk-shaped CSV files built from a few rows."""

from __future__ import annotations

import csv
import gzip
from pathlib import Path

import pytest

from hotspots.io.formats import SEARCH_COLUMNS, STREET_COLUMNS

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "data"

TRAFALGAR = (-0.1281, 51.5080)  # Westminster, E09000033
BRIXTON = (-0.1146, 51.4613)  # Lambeth, E09000022


def street_row(
    *,
    crime_id: str = "abc",
    month: str = "2024-01",
    lon: float | str = TRAFALGAR[0],
    lat: float | str = TRAFALGAR[1],
    crime_type: str = "Burglary",
    location: str = "On or near Trafalgar Square",
    lsoa: str = "E01004736",
) -> dict[str, str]:
    """One data.police.uk street-crime row (strings, as in the published files)."""
    return {
        "Crime ID": crime_id,
        "Month": month,
        "Reported by": "Metropolitan Police Service",
        "Falls within": "Metropolitan Police Service",
        "Longitude": str(lon),
        "Latitude": str(lat),
        "Location": location,
        "LSOA code": lsoa,
        "LSOA name": "Westminster 018A",
        "Crime type": crime_type,
        "Last outcome category": "Under investigation",
        "Context": "",
    }


def search_row(
    *,
    date: str = "2024-01-15T12:00:00+00:00",
    lon: float | str = TRAFALGAR[0],
    lat: float | str = TRAFALGAR[1],
    ethnicity: str = "White - English/Welsh/Scottish/Northern Irish/British",
) -> dict[str, str]:
    """One data.police.uk stop-and-search row."""
    return {
        "Type": "Person search",
        "Date": date,
        "Part of a policing operation": "False",
        "Policing operation": "",
        "Latitude": str(lat),
        "Longitude": str(lon),
        "Gender": "Male",
        "Age range": "18-24",
        "Self-defined ethnicity": ethnicity,
        "Officer-defined ethnicity": "White",
        "Legislation": "Misuse of Drugs Act 1971 (section 23)",
        "Object of search": "Controlled drugs",
        "Outcome": "A no further action disposal",
        "Outcome linked to object of search": "",
        "Removal of more than just outer clothing": "False",
    }


def write_rows(
    path: Path, rows: list[dict[str, str]], *, columns=STREET_COLUMNS, gz: bool = False
) -> Path:
    """Write rows as a CSV (optionally gzipped) with the given header."""
    path.parent.mkdir(parents=True, exist_ok=True)
    opener = gzip.open if gz else open
    with opener(path, "wt", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(columns), lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow(row)
    return path


def write_street(path: Path, rows: list[dict[str, str]], **kwargs) -> Path:
    return write_rows(path, rows, columns=STREET_COLUMNS, **kwargs)


def write_search(path: Path, rows: list[dict[str, str]], **kwargs) -> Path:
    return write_rows(path, rows, columns=SEARCH_COLUMNS, **kwargs)


@pytest.fixture(scope="session")
def settings():
    """London settings (boroughs, CCHI), read once per session."""
    from hotspots.ingest.read import london_settings

    return london_settings()


@pytest.fixture(scope="session")
def demo_output(tmp_path_factory):
    """Run ``hotspots demo`` once per test session; returns (out folder, completed process)."""
    import subprocess
    import sys

    out = tmp_path_factory.mktemp("demo") / "demo-output"
    result = subprocess.run(
        [sys.executable, "-m", "hotspots.cli.main", "demo", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    return out, result


@pytest.fixture(scope="session")
def detect_output(tmp_path_factory):
    """Ingest bundled burglary + searches, then ``hotspots detect`` from that store (once)."""
    import subprocess
    import sys

    base = tmp_path_factory.mktemp("detect")
    store, out = base / "store", base / "out"
    police = DATA / "police_uk"
    ingest = subprocess.run(
        [
            sys.executable,
            "-m",
            "hotspots.cli.main",
            "ingest",
            str(police / "met_burglary"),
            str(police / "met_stop_and_search"),
            "--out",
            str(store),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert ingest.returncode == 0, ingest.stderr
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "hotspots.cli.main",
            "detect",
            str(store),
            "--months",
            "2023-09..2024-08",
            "--crime-type",
            "Burglary",
            "--borough-report",
            "Lambeth",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    return out, result
