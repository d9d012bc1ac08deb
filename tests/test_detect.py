"""``hotspots detect`` end to end on bundled real data, plus the pieces it adds."""

from __future__ import annotations

import json
import subprocess
import sys

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from conftest import DATA

from hotspots.detect.results import CONTRACT_COLUMNS

BURGLARY = DATA / "police_uk" / "met_burglary"
GI_CLASSES = {
    "hot_99",
    "hot_95",
    "hot_90",
    "cold_90",
    "cold_95",
    "cold_99",
    "not_significant",
    "no_data",
}


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "hotspots.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=900,
    )


@pytest.fixture(scope="module")
def detected(detect_output):
    return detect_output


def test_detect_writes_every_output(detected):
    out, result = detected
    assert result.returncode == 0, result.stderr
    for name in (
        "cells.parquet",
        "hotspots.geojson",
        "map.html",
        "report.html",
        "manifest.json",
        "rejects.csv",
    ):
        assert (out / name).exists(), name
    assert "Concentration of harm" in result.stdout


def test_cells_table_follows_the_contract(detected):
    out, _ = detected
    cells = gpd.read_parquet(out / "cells.parquet")
    assert list(cells.columns[: len(CONTRACT_COLUMNS)]) == list(CONTRACT_COLUMNS)
    assert cells["cell"].is_unique and len(cells) > 17_000
    assert (cells["incidents"] == 0).any()  # zeros are present
    assert sorted(cells["rank"]) == list(range(1, len(cells) + 1))
    assert set(cells["gi_class"]) <= GI_CLASSES
    tested = cells["gi_p"].notna()  # untested: no exposed cell in the neighbourhood
    assert (cells.loc[~tested, "gi_class"] == "no_data").all()
    assert cells.loc[tested, "gi_p"].between(0, 1).all()
    assert (cells.loc[tested, "gi_p_fdr"] >= cells.loc[tested, "gi_p"] - 1e-12).all()
    assert (cells.loc[~cells["exposed"], "gi_class"].astype(str).str.startswith("cold")).sum() == 0
    assert cells["density"].ge(0).all()
    assert cells.crs.to_epsg() == 27700
    top = cells.sort_values("rank").iloc[0]
    assert top["harm"] == cells["harm"].max()
    assert top["place"].startswith("On or near")


def test_manifest_records_every_automatic_choice(detected):
    out, _ = detected
    manifest = json.loads((out / "manifest.json").read_text())
    choices = manifest["automatic_choices"]
    for key in ("cells", "kernel_density", "gi_star", "clusters", "emerging"):
        assert choices[key], key
    detect = manifest["detect"]
    assert detect["period"] == ["2023-09", "2024-08"]
    assert manifest["rows"]["invariant_holds"]
    assert manifest["input_store"]  # read from an ingest folder
    assert "stop_and_search" in choices


def test_raw_files_and_months_selection(tmp_path):
    out = tmp_path / "raw"
    result = run("detect", str(BURGLARY), "--months", "2024-03..2024-08", "--out", str(out))
    assert result.returncode == 0, result.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["rows"]["invariant_holds"]
    assert manifest["rejects_by_reason"]["not_selected"] > 0  # months outside the range
    assert manifest["detect"]["period"] == ["2024-03", "2024-08"]
    cells = gpd.read_parquet(out / "cells.parquet")
    assert set(cells["trend"]) == {"not_enough_months"} or cells["trend"].notna().all()


def test_borough_report_is_written(detected):
    out, _ = detected
    assert (out / "boroughs" / "lambeth" / "map.html").exists()
    html = (out / "boroughs" / "lambeth" / "report.html").read_text()
    assert "Lambeth" in html


def test_hotspots_geojson_suppresses_small_counts(detected):
    out, _ = detected
    collection = json.loads((out / "hotspots.geojson").read_text())
    kinds = {f["properties"]["kind"] for f in collection["features"]}
    assert kinds <= {"gi_hot_cell", "harm_cluster"} and kinds
    for feature in collection["features"]:
        props = feature["properties"]
        if props["suppressed"]:
            assert props["incidents"] is None and props["harm"] is None
        else:
            assert props["incidents"] == 0 or props["incidents"] >= 5


def test_report_states_concentration_hot_cells_and_trends(detected):
    out, _ = detected
    html = (out / "report.html").read_text()
    assert "of harm in the top 1% of cells" in html
    assert "significant hot cells" in html
    assert "Emerging hot spots" in html
    assert "data:image/png;base64," in html
    assert "<script" not in html


def test_cells_parquet_is_a_cells_table_for_the_api(detected):
    """One schema: the file's columns are count_in_cells' columns, and Gi* runs on the file."""
    from hotspots import find_hotspots
    from hotspots.methods.counts import HARM_SUM, INCIDENT_COUNT

    out, result = detected
    cells = gpd.read_parquet(out / "cells.parquet")
    assert {"cell", INCIDENT_COUNT, HARM_SUM} <= set(cells.columns)
    again = find_hotspots(cells)
    np.testing.assert_allclose(again["gi_z"], cells["gi_z"], rtol=1e-9, atol=1e-12)
    assert (again["gi_class"] == cells["gi_class"]).all()


def test_rank_follows_a_forecast_with_24_months_of_history(detected):
    """The bundled store holds 24 months: rank = forecast harm, harm_rank = observed harm."""
    out, _ = detected
    cells = gpd.read_parquet(out / "cells.parquet")
    choices = json.loads((out / "manifest.json").read_text())["automatic_choices"]
    assert choices["rank"].startswith("rank = forecast harm over 2024-09..2025-02")
    assert "24 months of history" in choices["rank"]
    assert {"expected_harm", "harm_rank"} <= set(cells.columns)
    assert sorted(cells["rank"]) == list(range(1, len(cells) + 1))
    best = cells.sort_values("rank").iloc[0]
    assert best["expected_harm"] == cells["expected_harm"].max()
    assert "forecast harm" in (out / "report.html").read_text()


def test_place_per_cell_and_monthly_totals_from_a_frame():
    """Five hand-made incidents in two cells: the commonest name wins, months are filled."""
    import geopandas as gpd
    from pyproj import Transformer

    from hotspots import detect_hotspots, london_boroughs
    from hotspots.geo.grid import cell_strings, cells_from_lonlat

    lon = np.array([-0.1357, -0.1357, -0.1357, -0.1200, -0.1200])
    lat = np.array([51.5136, 51.5136, 51.5136, 51.5000, 51.5000])
    x, y = Transformer.from_crs(4326, 27700, always_xy=True).transform(lon, lat)
    cells = cell_strings(cells_from_lonlat(lon, lat, resolution=9))
    incidents = gpd.GeoDataFrame(
        {
            "cell_id": cells,
            "location": ["On or near X", "On or near Y", "On or near Y", "On or near Z", ""],
            "month": pd.PeriodIndex(
                ["2024-01", "2024-01", "2024-03", "2024-03", "2024-03"], freq="M"
            ),
            "harm": [1.0, 2.0, 3.0, 4.0, 5.0],
        },
        geometry=gpd.points_from_xy(x, y),
        crs="EPSG:27700",
    )
    detection = detect_hotspots(incidents, london_boroughs())
    table = detection.cells.set_index("cell")
    assert table.loc[cells[0], "place"] == "On or near Y"
    assert table.loc[cells[3], "place"] == "On or near Z"
    assert table.loc[cells[0], "incidents"] == 3 and table.loc[cells[0], "harm"] == 6.0
    assert [str(m) for m in detection.monthly.index] == ["2024-01", "2024-02", "2024-03"]
    assert detection.monthly["incidents"].tolist() == [2, 0, 3]


def test_detect_on_met_lsoa_violence_counts(tmp_path):
    counts = DATA / "police_uk" / "mps_area_counts" / "recorded-crime-lsoa_202308-202408.csv.gz"
    out = tmp_path / "lsoa"
    result = run(
        "detect",
        str(counts),
        "--crime-type",
        "VIOLENCE AGAINST THE PERSON",
        "--months",
        "2023-09..2024-08",
        "--out",
        str(out),
    )
    assert result.returncode == 0, result.stderr
    areas = gpd.read_parquet(out / "areas.parquet")
    assert len(areas) == 4994 and areas["area"].is_unique
    assert areas["incidents"].sum() > 200_000
    # exact count test: 20 hot LSOAs (the normal approximation on harm called 183)
    assert (areas["gi_class"].str.startswith("hot")).sum() >= 10
    assert set(areas["cluster"]) == {-1}
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["rows"]["invariant_holds"]
    assert manifest["detect"]["period"] == ["2023-09", "2024-08"]
    html = (out / "report.html").read_text()
    assert "LSOAs" in html


def test_detect_clusters_equal_find_clusters_on_the_rows():
    """The one detect path (collapsed points) names and sizes clusters as the row method does."""
    from hotspots import detect_hotspots, find_clusters, london_boroughs, read_incidents

    incidents = read_incidents(DATA / "police_uk" / "city_of_london_street").incidents
    detection = detect_hotspots(incidents, london_boroughs())
    rows = find_clusters(
        incidents[incidents["cell_id"].notna()],
        eps_m=150.0,
        min_harm=detection.parameters["clusters"].get("min_harm"),
    )
    columns = ["place", "borough", "incidents"]
    pd.testing.assert_frame_equal(
        detection.clusters[columns].reset_index(drop=True),
        rows.polygons[columns].reset_index(drop=True),
    )
