"""Point-in-polygon: inside, on a shared boundary, snapped, outside; another force's areas."""

from __future__ import annotations

import json
import subprocess
import sys

import geopandas as gpd
import numpy as np
import pytest
import shapely
from conftest import street_row, write_street

from hotspots.core.errors import CRSError, SchemaError
from hotspots.geo.geocode import areas_from_frame, assign_areas


@pytest.fixture
def two_squares():
    frame = gpd.GeoDataFrame(
        {"code": ["B", "A"], "name": ["East", "West"]},
        geometry=[shapely.box(100, 0, 200, 100), shapely.box(0, 0, 100, 100)],
        crs=27700,
    )
    return areas_from_frame(frame, code_column="code", name_column="name")


def test_inside_boundary_snapped_and_outside(two_squares):
    x = np.array([50.0, 150.0, 100.0, 230.0, 500.0, 50.0])
    y = np.array([50.0, 50.0, 50.0, 50.0, 50.0, 50.0])
    result = assign_areas(x, y, two_squares, snap_m=50)
    codes = [two_squares.codes[i] if i >= 0 else None for i in result.index]
    assert codes == ["A", "B", "A", "B", None, "A"]  # on the shared edge: lowest code
    assert result.on_boundary_mask.tolist() == [False, False, True, False, False, False]
    assert result.snapped_mask.tolist() == [False, False, False, True, False, False]
    assert result.on_boundary == 1 and result.snapped == 1


def test_areas_need_a_crs_and_unique_codes():
    frame = gpd.GeoDataFrame({"code": ["A", "A"]}, geometry=[shapely.box(0, 0, 1, 1)] * 2)
    with pytest.raises(CRSError):
        areas_from_frame(frame, code_column="code")
    with pytest.raises(SchemaError, match="more than once"):
        areas_from_frame(frame.set_crs(27700), code_column="code")
    with pytest.raises(SchemaError, match="no column 'nope'"):
        areas_from_frame(frame.set_crs(27700), code_column="nope")


def test_another_forces_boundary_file_works_from_the_command_line(tmp_path):
    # two made-up beats around central London, in WGS84, identified by name only
    beats = gpd.GeoDataFrame(
        {"beat": ["North beat", "South beat"]},
        geometry=[shapely.box(-0.2, 51.5, 0.0, 51.6), shapely.box(-0.2, 51.4, 0.0, 51.5)],
        crs=4326,
    )
    beats.to_file(tmp_path / "beats.geojson", driver="GeoJSON")
    rows = [street_row(crime_id="1"), street_row(crime_id="2", lon=0.5, lat=51.5)]
    path = write_street(tmp_path / "2024-01-x-street.csv", rows)
    out = tmp_path / "out"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "hotspots.cli.main",
            "ingest",
            str(path),
            "--out",
            str(out),
            "--areas",
            str(tmp_path / "beats.geojson"),
            "--area-name",
            "beat",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["rejects_by_reason"] == {"outside_study_area": 1}
    incidents = gpd.read_parquet(out / "incidents" / "month=2024-01" / "part-0.parquet")
    assert incidents["borough"].tolist() == ["North beat"]
