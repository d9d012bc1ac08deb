"""Scale: appendable store, streamed detection equal to the in-memory path, the generator."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import shapely
from conftest import BRIXTON, DATA, REPO, street_row, write_street

from hotspots.aggregates.store import reduce_month
from hotspots.aggregates.tables import combine, month_ordinal
from hotspots.core.errors import InputError
from hotspots.detect.points import (
    DetectOptions,
    _median_positive,
    aggregate_store,
    detect_hotspots,
    detect_store,
    month_text,
)
from hotspots.geo.boundaries import london_boroughs
from hotspots.ingest.pipeline import ingest_to_store
from hotspots.ingest.read import london_settings
from hotspots.io.store import read_store

CITY = DATA / "police_uk" / "city_of_london_street"
BURGLARY = DATA / "police_uk" / "met_burglary"


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "hotspots.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.fixture(scope="module")
def settings():
    return london_settings()


@pytest.fixture(scope="module")
def city_store(tmp_path_factory, settings):
    out = tmp_path_factory.mktemp("city") / "store"
    ingest_to_store([CITY], out, settings=settings)
    return out


def assert_same_cells(a: pd.DataFrame, b: pd.DataFrame) -> None:
    """Every column equal (floats to 1e-9 relative)."""
    assert list(a.columns) == list(b.columns)
    assert a.index.equals(b.index)
    assert (a.dtypes == b.dtypes).all()
    for column in a.columns:
        x, y = a[column], b[column]
        if column == "geometry":
            assert x.geom_equals(y).all()
        elif pd.api.types.is_float_dtype(x):
            scale = float(np.nanmax(np.abs(x))) if x.notna().any() else 0.0
            np.testing.assert_allclose(x, y, rtol=1e-9, atol=1e-12 * scale, err_msg=column)
        else:
            assert (x.astype(str) == y.astype(str)).all(), column


def flat(d: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in d.items():
        if isinstance(value, dict):
            out.update(flat(value, f"{prefix}{key}."))
        else:
            out[prefix + key] = value
    return out


def assert_same_parameters(a: dict, b: dict) -> None:
    fa, fb = flat(a), flat(b)
    assert set(fa) == set(fb)
    for key in fa:
        if isinstance(fa[key], float):
            assert fb[key] == pytest.approx(fa[key], rel=1e-9), key
        else:
            assert fa[key] == fb[key], key


# --- streamed detection equals the in-memory path -------------------------------------


def test_streamed_detect_equals_in_memory_detect_on_city_of_london(city_store):
    study = london_boroughs()
    rows = detect_hotspots(read_store(city_store), study)
    streamed = detect_store(city_store, study, crime_types=rows.crime_types, title=rows.title)
    assert_same_cells(rows.cells, streamed.cells)
    pd.testing.assert_frame_equal(
        rows.clusters.drop(columns="geometry"),
        streamed.clusters.drop(columns="geometry"),
        check_exact=False,
        rtol=1e-9,
    )
    assert rows.clusters.geometry.geom_equals_exact(streamed.clusters.geometry, 1e-6).all()
    pd.testing.assert_frame_equal(rows.monthly, streamed.monthly, check_exact=False, rtol=1e-9)
    pd.testing.assert_frame_equal(
        rows.monthly_by_borough, streamed.monthly_by_borough, check_exact=False, rtol=1e-9
    )
    assert rows.choices == streamed.choices
    assert_same_parameters(rows.parameters, streamed.parameters)
    assert rows.period == streamed.period


def test_bandwidth_rules_use_the_rows_effective_number_of_points(city_store):
    # collapsing stacked points changes sum(w^2); the rules must still see the rows' n_eff
    study = london_boroughs()
    options = DetectOptions(bandwidth_rule="silverman", adjust=1.5)
    months = ("2024-01", "2024-08")
    history = read_store(city_store)["cell_id"].value_counts()
    history = history.rename("every incident from 2022-07 to 2024-08")
    rows = detect_hotspots(
        read_store(city_store, months=months), study, options=options, exposure=history
    )
    streamed = detect_store(city_store, study, options=options, months=months)
    assert rows.choices["kernel_density"] == streamed.choices["kernel_density"]
    assert_same_parameters(
        rows.parameters["kernel_density"], streamed.parameters["kernel_density"]
    )
    assert_same_cells(rows.cells, streamed.cells)


def test_streamed_detect_equals_in_memory_on_met_burglary_up_to_tied_clusters(tmp_path, settings):
    files = sorted(BURGLARY.glob("2024-0[1-4]*"))
    store = tmp_path / "store"
    ingest_to_store(files, store, settings=settings)
    study = london_boroughs()
    rows = detect_hotspots(read_store(store), study)
    streamed = detect_store(store, study, crime_types=rows.crime_types, title=rows.title)

    # the same clusters (same outlines, incidents, harm, names), but clusters that tie on
    # harm and incidents may be numbered in another order: harm sums are rounded differently
    # when rows are summed one by one and when monthly sums are merged
    def key(geometry):
        return shapely.to_wkb(shapely.normalize(shapely.set_precision(geometry, 0.01)))

    ids = pd.Series(rows.clusters.index, index=[key(g) for g in rows.clusters.geometry])
    renumber = {b: ids[key(g)] for b, g in streamed.clusters.geometry.items()}
    assert sorted(renumber.values()) == list(rows.clusters.index)
    again = streamed.clusters.rename(index=renumber).sort_index()
    columns = ["incidents", "harm", "distinct_points", "borough_code", "place", "area_km2"]
    pd.testing.assert_frame_equal(
        rows.clusters[columns], again[columns], check_exact=False, rtol=1e-9
    )
    for old, new in renumber.items():
        if old != new:  # a tie, broken by rounding
            assert rows.clusters.loc[old, "incidents"] == rows.clusters.loc[new, "incidents"]
            assert rows.clusters.loc[old, "harm"] == pytest.approx(
                rows.clusters.loc[new, "harm"], rel=1e-9
            )
    cells = streamed.cells.assign(
        cluster=streamed.cells["cluster"].map(lambda c: renumber.get(c, c))
    )
    differ = cells["cluster"] != rows.cells["cluster"]
    assert differ.sum() <= 0.01 * (rows.cells["cluster"] >= 0).sum()  # cells split by a tie
    assert_same_cells(rows.cells[~differ], cells[~differ])
    assert rows.choices == streamed.choices


def test_months_and_offences_read_only_those_partitions(city_store):
    months = ("2024-01", "2024-03")
    aggregates = aggregate_store(city_store, months=months, offences=["Robbery"])
    rows = read_store(city_store, months=months, offences=["Robbery"])
    assert aggregates.rows == len(rows)
    assert aggregates.offences == {"Robbery"}
    assert set(aggregates.bins["month"]) == {
        month_ordinal(m) for m in ("2024-01", "2024-02", "2024-03")
    }
    assert int(aggregates.bins["count"].sum()) == len(rows)
    assert aggregates.total_harm == pytest.approx(rows["harm"].sum(), rel=1e-12)


def test_merging_is_independent_of_order(city_store):
    root = city_store / "incidents"
    parts = [reduce_month(root, m) for m in ("2024-01", "2024-02", "2024-03")]
    one = combine([combine(parts[:2]), parts[2]]).canonical()
    other = combine([parts[2], combine([parts[1], parts[0]])]).canonical()
    for name in ("stacks", "bins", "boroughs", "harm_values", "cell_harm_values"):
        pd.testing.assert_frame_equal(getattr(one, name), getattr(other, name))
    pd.testing.assert_frame_equal(one.points(), other.points())


def test_points_keep_the_order_of_their_first_incident(city_store):
    points = aggregate_store(city_store).points()
    rows = read_store(city_store)
    first_seen = pd.unique(rows.geometry.x.to_numpy() + 1j * rows.geometry.y.to_numpy())
    np.testing.assert_array_equal(points["x"] + 1j * points["y"], first_seen)
    assert int(points["count"].sum()) == len(rows)


def test_median_of_positive_harm_from_histogram():
    for values in ([1.0], [0.0, 2.0, 5.0], [3.0, 1.0, 2.0, 4.0], [0.0, 0.0], [2.0, 2.0, 7.5, 1.0]):
        harm = np.array(values)
        table = pd.DataFrame(
            dict(zip(("harm", "count"), np.unique(harm, return_counts=True), strict=True))
        )
        positive = harm[harm > 0]
        expected = float(np.median(positive)) if len(positive) else 0.0
        assert _median_positive(table) == expected


def test_month_ordinals_round_trip():
    assert month_text(month_ordinal("2024-01")) == "2024-01"
    assert month_ordinal("2024-01") - month_ordinal("2023-12") == 1


def test_store_selection_without_rows_is_an_input_error(city_store):
    with pytest.raises(InputError, match="no incidents"):
        aggregate_store(city_store, months=("2030-01", "2030-12"))


# --- appending to a store ---------------------------------------------------------------


def month_files(months: list[str]) -> list:
    return [f for m in months for f in sorted(BURGLARY.glob(f"{m}-*"))]


def test_append_adds_months_and_leaves_the_old_partitions_alone(tmp_path, settings):
    store = tmp_path / "store"
    ingest_to_store(month_files(["2024-01"]), store, settings=settings)
    old = store / "incidents" / "month=2024-01" / "part-0.parquet"
    before = (old.stat().st_ino, old.stat().st_mtime_ns)
    result = ingest_to_store(month_files(["2024-02"]), store, settings=settings, append=True)
    assert result.months_added["incidents"] == ("2024-02",)
    assert result.run == 2
    assert (old.stat().st_ino, old.stat().st_mtime_ns) == before
    manifest = json.loads((store / "manifest.json").read_text())
    assert [run["mode"] for run in manifest["runs"]] == ["create", "append"]
    assert len(manifest["inputs"]) == 2
    assert manifest["rows"]["invariant_holds"]
    assert manifest["store"]["incidents"]["rows"] == manifest["rows"]["accepted"]
    assert manifest["store"]["incidents"]["months"] == 2
    rejects = pd.read_csv(store / "rejects.csv")
    assert len(rejects) == manifest["rows"]["rejected"]
    assert rejects["source_file"].nunique() == 2
    # one store built in two runs detects exactly like one built at once
    whole = tmp_path / "whole"
    ingest_to_store(month_files(["2024-01", "2024-02"]), whole, settings=settings)
    study = london_boroughs()
    pd.testing.assert_frame_equal(
        detect_store(store, study).cells, detect_store(whole, study).cells, check_exact=True
    )


def test_month_already_in_store_is_refused_with_one_line(tmp_path):
    store = tmp_path / "store"
    files = [str(f) for f in month_files(["2024-01"])]
    assert run("ingest", *files, "--out", str(store)).returncode == 0
    manifest = (store / "manifest.json").read_text()
    result = run("ingest", *files, "--out", str(store), "--append")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert len([line for line in result.stderr.splitlines() if line.strip()]) == 1
    assert "2024-01" in result.stderr and "--replace-months" in result.stderr
    assert (store / "manifest.json").read_text() == manifest
    assert not (store / ".incidents.partial").exists()


def test_month_clash_found_after_reading_is_refused_too(tmp_path, settings):
    # a file whose name says no month: the clash is only known once rows are read
    store = tmp_path / "store"
    write_street(tmp_path / "a.csv", [street_row(crime_id="1", month="2024-01")])
    ingest_to_store([tmp_path / "a.csv"], store, settings=settings)
    write_street(tmp_path / "b.csv", [street_row(crime_id="2", month="2024-01")])
    with pytest.raises(InputError, match="already in the store"):
        ingest_to_store([tmp_path / "b.csv"], store, settings=settings, append=True)
    assert read_store(store).index.tolist() == ["1"]
    assert not (store / ".incidents.partial").exists()


def test_replace_months_swaps_the_partition_and_says_so(tmp_path):
    store = tmp_path / "store"
    first = write_street(
        tmp_path / "v1" / "2024-01-metropolitan-street.csv",
        [street_row(crime_id="1"), street_row(crime_id="2", lon="", lat="")],
    )
    assert run("ingest", str(first), "--out", str(store)).returncode == 0
    second = write_street(
        tmp_path / "v2" / "2024-01-metropolitan-street.csv",
        [street_row(crime_id="3"), street_row(crime_id="4", lon=BRIXTON[0], lat=BRIXTON[1])],
    )
    result = run("ingest", str(second), "--out", str(store), "--append", "--replace-months")
    assert result.returncode == 0, result.stderr
    assert "Replaced incidents month 2024-01 (it held 1 rows)" in " ".join(result.stdout.split())
    assert sorted(read_store(store).index) == ["3", "4"]
    manifest = json.loads((store / "manifest.json").read_text())
    assert manifest["runs"][-1]["months_replaced"] == {"incidents": {"2024-01": 1}, "searches": {}}
    assert manifest["rows_in_store"] == {"accepted": 3, "replaced": 1, "in_store": 2, "runs": 2}
    assert manifest["store"]["incidents"]["rows"] == 2


def test_reading_a_file_again_replaces_its_rejects(tmp_path, settings):
    store = tmp_path / "store"
    path = write_street(
        tmp_path / "2024-01-metropolitan-street.csv",
        [street_row(crime_id="1"), street_row(crime_id="2", lon="", lat="")],
    )
    ingest_to_store([path], store, settings=settings)
    ingest_to_store([path], store, settings=settings, append=True, replace_months=True)
    assert len(pd.read_csv(store / "rejects.csv")) == 1
    manifest = json.loads((store / "manifest.json").read_text())
    assert manifest["rows"] == {"read": 2, "accepted": 1, "rejected": 1, "invariant_holds": True}
    assert manifest["rows_in_store"]["in_store"] == 1


def test_append_with_other_settings_or_no_store_is_refused(tmp_path, settings):
    store = tmp_path / "store"
    path = write_street(tmp_path / "2024-01-x-street.csv", [street_row(crime_id="1")])
    with pytest.raises(InputError, match="needs an existing ingest store"):
        ingest_to_store([path], store, settings=settings, append=True)
    ingest_to_store([path], store, settings=settings)
    other = write_street(tmp_path / "2024-02-x-street.csv", [street_row(month="2024-02")])
    with pytest.raises(InputError, match="h3_resolution 9 -> 8"):
        ingest_to_store([other], store, settings=london_settings(resolution=8), append=True)
    with pytest.raises(InputError, match="--append adds"):
        ingest_to_store([other], store, settings=settings, append=True, overwrite=True)
    with pytest.raises(InputError, match="only applies with --append"):
        ingest_to_store([other], tmp_path / "new", settings=settings, replace_months=True)


def test_interrupted_store_is_detected_before_appending(tmp_path, settings):
    store = tmp_path / "store"
    path = write_street(tmp_path / "2024-01-x-street.csv", [street_row(crime_id="1")])
    ingest_to_store([path], store, settings=settings)
    stray = store / "incidents" / "month=2024-02"
    shutil.copytree(store / "incidents" / "month=2024-01", stray)
    other = write_street(tmp_path / "2024-03-x-street.csv", [street_row(month="2024-03")])
    with pytest.raises(InputError, match="do not match its manifest"):
        ingest_to_store([other], store, settings=settings, append=True)


def test_parallel_ingest_writes_the_same_rows(tmp_path, settings):
    files = month_files(["2024-01", "2024-02"])
    one = ingest_to_store(files, tmp_path / "one", settings=settings)
    two = ingest_to_store(files, tmp_path / "two", settings=settings, workers=2)
    assert one.rows_by_month == two.rows_by_month
    assert [r.as_dict() for r in one.reports] == [r.as_dict() for r in two.reports]
    a = read_store(tmp_path / "one").drop(columns="geometry")
    b = read_store(tmp_path / "two").drop(columns="geometry")
    pd.testing.assert_frame_equal(a, b)
    assert pd.read_csv(tmp_path / "one" / "rejects.csv").equals(
        pd.read_csv(tmp_path / "two" / "rejects.csv")
    )


# --- the benchmark generator --------------------------------------------------------------


def test_generator_writes_police_uk_files_with_the_published_quirks(tmp_path, settings):
    spec = importlib.util.spec_from_file_location("generate", REPO / "bench" / "generate.py")
    generate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generate)
    info = generate.generate(tmp_path / "data", rows=6_000, months=2, seed=3, jobs=1)
    assert info["rows"] == 6_000 and info["files"] == 2
    files = sorted((tmp_path / "data").rglob("*-street.csv"))
    assert [f.parent.name for f in files] == ["2024-07", "2024-08"]
    again = generate.generate(tmp_path / "again", rows=6_000, months=2, seed=3, jobs=1)
    assert again["bytes"] == info["bytes"]
    assert files[0].read_bytes() == (tmp_path / "again" / "2024-07" / files[0].name).read_bytes()
    result = ingest_to_store([tmp_path / "data"], tmp_path / "store", settings=settings)
    assert result.rows_read == 6_000
    reasons = result.manifest["rejects_by_reason"]
    assert reasons["duplicate_id"] > 0 and reasons["missing_coordinates"] > 0
    assert result.manifest["notes"]["blank_crime_id"] > 0
    assert len(result.manifest["rejects_by_reason"]) <= 3  # nothing else is wrong
    incidents = read_store(tmp_path / "store")
    assert incidents["offence"].nunique() == 14
