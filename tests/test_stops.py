"""The stop-and-search review end to end: files, suppression, escaping, CLI, real data."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from conftest import BRIXTON, DATA, TRAFALGAR, search_row, write_search

from hotspots.core import schema
from hotspots.runs.stops import run_stops
from hotspots.stops.compare import ROW_COLUMNS
from hotspots.stops.cube import disclosure_equations
from hotspots.stops.review import review_stops
from hotspots.stops.searches import load_searches

PERIOD = ("2023-09", "2024-08")
HOSTILE = "<script>alert('x')</script>"


@pytest.fixture(scope="module")
def bundled_run(tmp_path_factory):
    """The review on the bundled Met searches, 2023-09..2024-08, written once."""
    out = tmp_path_factory.mktemp("stops") / "out"
    folder = DATA / "police_uk" / "met_stop_and_search"
    files = sorted(p for p in folder.glob("*.csv.gz") if PERIOD[0] <= p.name[:7] <= PERIOD[1])
    assert len(files) == 12
    result = run_stops(files, out, population="census2021", months=PERIOD)
    return result


def _rows(frame: pd.DataFrame, **filters) -> pd.DataFrame:
    for column, value in filters.items():
        frame = frame[frame[column] == value]
    return frame


# --- real data --------------------------------------------------------------------------------


def test_london_black_white_rate_ratio_is_reported_with_its_interval(bundled_run):
    review = bundled_run.review
    black = _rows(
        review.disparity,
        measure="search_rate",
        view="self",
        geography_code="all",
        breakdown="all",
        group="Black",
    ).iloc[0]
    assert black["ratio_ci_low"] < black["ratio"] < black["ratio_ci_high"]
    assert 2.5 < black["ratio"] < 4.0  # published Met figures are about 3 to 4 times
    headline = review.headline["black_white_rate_ratio_self"]
    assert headline["ratio"] == pytest.approx(black["ratio"])
    assert review.parameters["population"].startswith("Census 2021")
    assert (
        review.disparity.loc[review.disparity["measure"] == "search_rate", "period"]
        == "2023-09..2024-08"
    ).all()


def test_every_borough_gets_rates_and_searches_without_location_count_toward_london(bundled_run):
    review = bundled_run.review
    cube = review.cube
    searches = _rows(
        cube, kind="searches", view="self", group="all", dimension="all", area_filter="all"
    )
    by_geo = searches.set_index("geography_code")["count"]
    assert by_geo["all"] == review.parameters["searches"]
    assert by_geo["all"] == by_geo.drop(["all"]).sum()  # boroughs + "none"
    assert by_geo["none"] > 0
    rates = _rows(
        review.disparity,
        measure="search_rate",
        view="self",
        breakdown="all",
        geography_level="borough",
    )
    assert rates["geography_code"].nunique() == 33
    assert review.unmapped == {}


def test_no_published_total_reveals_a_suppressed_count(bundled_run):
    review = bundled_run.review
    cube = review.cube
    hidden = cube["suppressed"].to_numpy()
    counts = cube["count"].to_numpy()
    assert hidden[(counts > 0) & (counts < 5)].all()
    for equation in disclosure_equations(cube):
        assert hidden[equation].sum() != 1
    published = review.disparity[~review.disparity["suppressed"]]
    small = published["numerator"].between(1, 4)
    assert not small.any()
    withheld = review.disparity[review.disparity["suppressed"]]
    assert withheld[["numerator", "rate", "ratio"]].isna().all(axis=None)


def test_outcomes_hotspots_and_months_are_reported(bundled_run):
    review = bundled_run.review
    h = review.headline
    assert set(h["outcomes_self_defined"]) == {"arrest_rate", "action_rate", "find_rate"}
    assert "not informative" in h["find_flag"]  # the Met publishes the flag as False only
    sets = review.hotspot_sets.set_index("hotspots")
    top = sets.loc["violence top 5% LSOAs"]
    assert top["places"] == 250 and 0 < top["share_of_located_searches"] < 1
    assert "violence Gi* hot LSOAs" in sets.index
    assert review.months.missing == () and review.months.present == 12
    inside = _rows(
        review.disparity, measure="action_rate", view="self", geography_code="all", group="all"
    )
    assert {"all", "inside violence top 5% LSOAs", "outside violence top 5% LSOAs"} <= set(
        inside["area_filter"]
    )
    harm = _rows(
        review.disparity, measure="searches_per_violence_harm", geography_code="all", group="all"
    )
    assert (harm["rate"] > 0).all()
    yoy = _rows(review.disparity, measure="year_on_year")
    assert yoy.empty  # 12 months: nothing a year earlier


def test_files_are_written_with_the_contract_columns(bundled_run):
    files = bundled_run.files
    for name in (
        "disparity",
        "monthly",
        "context",
        "lsoa_rates",
        "map",
        "review",
        "rejects",
        "manifest",
    ):
        assert files[name].is_file(), name
    table = pd.read_csv(files["disparity"])
    assert list(table.columns) == list(ROW_COLUMNS)
    assert table.loc[table["suppressed"], "numerator"].isna().all()
    manifest = json.loads(files["manifest"].read_text())
    assert manifest["command"] == "stops"
    assert manifest["rows"]["accepted"] + manifest["rows"]["rejected"] == manifest["rows"]["read"]
    assert all(len(i["sha256"]) == 64 for i in manifest["inputs"])
    assert manifest["parameters"]["population"].startswith("Census 2021")
    assert manifest["stops"]["months"]["missing"] == []
    review = files["review"].read_text()
    assert "<script" not in review
    assert "Residential, not available, population" in review
    assert "Census 2021" in review and "review_map.html" in review
    map_html = files["map"].read_text()
    assert files["map"].stat().st_size < 5_000_000
    assert "Searches per 1,000 residents (EB-smoothed)" in map_html
    lsoa = pd.read_csv(files["lsoa_rates"])
    assert len(lsoa) == 4_994
    assert (
        lsoa.loc[lsoa["suppressed_all"], ["searches_all", "rate_all", "smoothed_all"]]
        .isna()
        .all(axis=None)
    )


def test_not_stated_sensitivity_gives_combined_view_and_bounds(bundled_run):
    review = bundled_run.review
    rows = _rows(
        review.disparity,
        measure="search_rate",
        geography_code="all",
        breakdown="all",
        group="Black",
    ).set_index("view")
    ratio = rows["ratio"]
    # the headline is unchanged by the sensitivity views
    assert review.headline["black_white_rate_ratio_self"]["ratio"] == pytest.approx(ratio["self"])
    assert round(ratio["self"], 2) == 3.26
    # not-stated searches are mostly officer-defined Black: the self-defined ratio understates
    assert ratio["not_stated_as_white"] < ratio["self"] < ratio["combined"]
    assert ratio["combined"] < ratio["not_stated_as_black"]
    sens = review.headline["not_stated_sensitivity"]
    assert sens["search_rate"]["self_defined_bias"] == "understates"
    assert sens["not_stated_officer_black"] > sens["not_stated_officer_white"]
    # the outcome test moves the other way: not-stated searches have a lower action rate
    action = _rows(
        review.disparity,
        measure="action_rate",
        geography_code="all",
        area_filter="all",
        group="Black",
    ).set_index("view")["ratio"]
    assert action["combined"] < action["self"]
    assert sens["action_rate"]["self_defined_bias"] == "overstates"
    table = pd.read_csv(bundled_run.files["disparity"])
    views = set(table.loc[table["measure"] == "search_rate", "view"])
    assert {"combined", "not_stated_as_white", "not_stated_as_black"} <= views
    labelled = table[table["view"] == "not_stated_as_black"]["denominator_source"]
    assert labelled.str.contains("every not-stated search counted as Black").all()
    html = bundled_run.files["review"].read_text()
    assert "Not-stated sensitivity" in html
    assert f"{ratio['combined']:.2f}" in html and f"{ratio['not_stated_as_black']:.2f}" in html
    assert "the self-defined headline understates the ratio" in html


def test_review_map_gives_no_rate_colour_to_lsoas_with_few_searches(bundled_run):
    import json as json_module

    from hotspots.maps.stops import draw_review_map, suppressed_label
    from hotspots.stops.classify import classify_searches
    from hotspots.stops.local_rates import MAP_GROUPS

    review = bundled_run.review
    min_count = review.parameters["min_count"]
    assert not [c for c in review.lsoa.columns if "class_value" in c]
    folder = DATA / "police_uk" / "met_stop_and_search"
    files = sorted(p for p in folder.glob("*.csv.gz") if PERIOD[0] <= p.name[:7] <= PERIOD[1])
    searches = classify_searches(
        load_searches(files, months=PERIOD).searches, unknown="unmapped"
    ).searches
    lsoa = review.lsoa[review.lsoa.geometry.notna()]
    fmap = draw_review_map(review)
    layers = {
        child.layer_name: json_module.loads(child.payload)
        for child in fmap._children.values()
        if getattr(child, "_name", "") == "CompactPolygons"
    }
    checked = 0
    for group in MAP_GROUPS:
        chosen = searches if group == "all" else searches[searches["group_self"] == group]
        raw = chosen[schema.LSOA21_CODE].value_counts().reindex(lsoa.index, fill_value=0)
        small = raw.between(1, min_count - 1).to_numpy()
        assert small.sum() > 0
        name = next(
            n
            for n in layers
            if n.startswith("Searches")
            and (
                group == "all"
                and "residents (EB" in n
                and " of " not in n
                or f"of {group} people" in n
            )
        )
        payload = layers[name]
        classes = np.full(len(lsoa), -1)
        classes[payload["index"]] = payload["classes"]
        hidden = lsoa[f"suppressed_{group}"].to_numpy(dtype=bool)
        assert hidden[small].all()
        assert (classes[hidden] == 0).all()  # one grey class, whatever the rate
        assert (classes[~hidden] != 0).all()
        assert payload["styles"][0]["fillColor"] == "#cccccc"
        assert lsoa.loc[hidden, f"smoothed_{group}"].isna().all()
        checked += int(small.sum())
    assert checked > 100
    html = bundled_run.files["map"].read_text()
    assert suppressed_label(min_count) in html
    assert "colour from the smoothed rate" not in html


# --- small hand-made inputs ----------------------------------------------------------------------


def _hand_file(tmp_path):
    rows = []
    for month, n in (("2024-01", 30), ("2024-03", 20)):
        for i in range(n):
            place = TRAFALGAR if i % 2 else BRIXTON
            row = search_row(
                date=f"{month}-1{i % 9}T12:00:00+00:00",
                lon=place[0],
                lat=place[1],
                ethnicity=(
                    "Black/African/Caribbean/Black British - African" if i % 3 else "White - Irish"
                ),
            )
            rows.append(row)
    hostile = search_row(date="2024-01-20T12:00:00+00:00", ethnicity=HOSTILE)
    hostile["Legislation"] = "<img src=x onerror=alert(1)>"
    hostile["Outcome"] = "Arrest"
    rows.append(hostile)
    no_place = search_row(date="2024-03-02T12:00:00+00:00", lon="", lat="")
    rows.append(no_place)
    return write_search(tmp_path / "2024-01-metropolitan-stop-and-search.csv", rows)


def _fake_detect(tmp_path):
    """A minimal 'hotspots detect' output: the Trafalgar Square cell is a Gi* hot cell."""
    import geopandas as gpd

    from hotspots.geo.grid import cell_polygons, cell_strings, cells_from_lonlat

    cells = cell_strings(
        cells_from_lonlat(
            np.array([TRAFALGAR[0], BRIXTON[0]]),
            np.array([TRAFALGAR[1], BRIXTON[1]]),
            resolution=9,
        )
    )
    polygons = cell_polygons(list(cells))
    table = gpd.GeoDataFrame(
        {
            "cell": list(cells),
            "borough": ["Westminster", "Lambeth"],
            "borough_code": ["E09000033", "E09000022"],
            "incidents": [50, 3],
            "harm": [500.0, 10.0],
            "rank": [1, 2],
            "gi_class": ["hot_99", "not_significant"],
            "area_km2": [0.1, 0.1],
            "place": ["On or near Trafalgar Square", ""],
        },
        geometry=polygons.loc[list(cells)].geometry.to_numpy(),
        crs=polygons.crs,
    )
    folder = tmp_path / "detect"
    folder.mkdir()
    table.to_parquet(folder / "cells.parquet")
    return folder


@pytest.fixture(scope="module")
def hand_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hand")
    path = _hand_file(tmp)
    result = run_stops(
        [path],
        tmp / "out",
        population="census2021",
        hotspots=_fake_detect(tmp),
        top_share=0.5,
        min_count=1,
    )
    return result


def test_every_string_from_the_input_is_escaped(hand_run):
    review = hand_run.files["review"].read_text()
    assert HOSTILE not in review and "<img src=x" not in review
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in review  # listed as unmapped
    assert "&lt;img src=x onerror=alert(1)&gt;" in review  # a legislation value
    map_html = hand_run.files["map"].read_text()
    assert HOSTILE not in map_html
    assert hand_run.review.unmapped[schema.SELF_ETHNICITY] == {HOSTILE: 1}


def test_missing_month_between_inputs_is_detected(hand_run):
    review = hand_run.review
    assert review.months.missing == ("2024-02",)
    assert review.headline["missing_months"] == ["2024-02"]
    monthly = _rows(review.monthly, view="self", group="all")
    assert monthly.set_index("month").loc["2024-02", "missing_month"]
    assert np.isnan(monthly.set_index("month").loc["2024-02", "searches"])


def test_detect_hot_cells_give_a_hotspot_split(hand_run):
    review = hand_run.review
    sets = review.hotspot_sets.set_index("hotspots")
    assert "detect Gi* hot H3 cells" in sets.index
    share = _rows(
        review.disparity,
        measure="hotspot_share",
        view="self",
        geography_code="all",
        group="all",
        area_filter="inside detect Gi* hot H3 cells",
    ).iloc[0]
    # 25 of the 51 located searches are at Trafalgar Square (15 + 10, and the hostile row)
    assert share["numerator"] == 26 and share["denominator"] == 51


def test_store_input_gets_lsoas_and_the_same_searches(tmp_path):
    from hotspots.ingest.pipeline import ingest_to_store
    from hotspots.ingest.read import london_settings

    path = _hand_file(tmp_path)
    ingest_to_store([path], tmp_path / "store", settings=london_settings())
    from_store = load_searches([tmp_path / "store"])
    from_files = load_searches([path])
    assert (
        from_store.source == "store" and len(from_store.searches) == len(from_files.searches) == 52
    )
    assert from_store.searches[schema.LSOA21_CODE].notna().sum() == 51
    assert (
        from_store.searches[schema.LSOA21_CODE].dropna().sort_values().tolist()
        == from_files.searches[schema.LSOA21_CODE].dropna().sort_values().tolist()
    )


def test_review_refuses_empty_periods_and_lsoa_populations(tmp_path):
    from hotspots.core.errors import InputError

    searches = load_searches([_hand_file(tmp_path)]).searches
    with pytest.raises(InputError, match="no stop-and-search rows in the period"):
        review_stops(searches, months=("2020-01", "2020-02"), violence=None)
    lsoa_file = DATA / "demographics" / "census2021_ethnicity_lsoa21_london.csv.gz"
    with pytest.raises(InputError, match="at lsoa level"):
        review_stops(searches, population=lsoa_file, violence=None)


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "hotspots.cli.main", "stops", *args],
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_cli_writes_every_file_and_prints_the_summary(tmp_path):
    path = _hand_file(tmp_path)
    result = run_cli(
        str(path), "--population", "census2011", "--violence", "none", "--out", str(tmp_path / "o")
    )
    assert result.returncode == 0, result.stderr
    assert "Black/White search-rate ratio" in result.stdout
    assert "Missing months: 2024-02" in result.stdout
    for name in (
        "disparity.csv",
        "review.html",
        "review_map.html",
        "rejects.csv",
        "manifest.json",
    ):
        assert (tmp_path / "o" / name).is_file()
    manifest = json.loads((tmp_path / "o" / "manifest.json").read_text())
    assert "Census 2011" in manifest["parameters"]["population"]


def test_cli_bad_input_exits_2_with_one_line(tmp_path):
    path = _hand_file(tmp_path)
    for extra, message in (
        (["--population", "census2031"], "neither a file nor one of"),
        (["--population", "census2021", "--months", "2024-13..2024-01"], "must look like"),
        (["--population", "census2021", "--min-count", "0"], "--min-count"),
    ):
        result = run_cli(str(path), *extra, "--out", str(tmp_path / "bad"))
        assert result.returncode == 2, result.stdout
        assert "Traceback" not in result.stderr
        assert message in result.stderr
        assert len([line for line in result.stderr.splitlines() if line.strip()]) == 1


@pytest.mark.slow
def test_review_map_renders_offline_in_chromium(bundled_run, tmp_path):
    from test_browser import open_offline

    seen = open_offline(bundled_run.files["map"], tmp_path / "map.png")
    assert seen["errors"] == [] and seen["failed"] == []
    assert "Searches per 1,000 residents (EB-smoothed)" in seen["layers"]
    assert "Hotspots: violence top 5% LSOAs" in seen["layers"]
    assert seen["polygons"] > 4_000


def test_detect_hot_set_says_no_fdr_when_detect_ran_without_it(tmp_path):
    from hotspots.stops.hotspot_share import detect_hotspots_from

    folder = _fake_detect(tmp_path)
    unknown = detect_hotspots_from(folder)
    hot = next(s for s in unknown.sets if "Gi*" in s.name)
    assert "FDR adjustment not recorded" in hot.description
    for fdr, label, said in (
        (False, "exact two-sided p ..., no FDR adjustment", "no FDR"),
        (True, "exact two-sided p ..., Benjamini-Hochberg FDR", "Benjamini-Hochberg"),
    ):
        manifest = {"detect": {"options": {"fdr": fdr}, "gi_classes_drawn_from": label}}
        (folder / "manifest.json").write_text(json.dumps(manifest))
        hot = next(s for s in detect_hotspots_from(folder).sets if "Gi*" in s.name)
        assert said in hot.description
        assert ("Benjamini-Hochberg" in hot.description) is fdr
