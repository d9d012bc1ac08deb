"""``hotspots task``: teams, places, bases, exposure audit, sheets and map, on real data."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from conftest import DATA

from hotspots.core.errors import HotspotsError
from hotspots.geo.boundaries import london_boroughs, london_wards
from hotspots.ingest.read import Selection, london_settings
from hotspots.runs.task import run_task
from hotspots.task.exposure import apportion, census_ethnicity_lsoa, exposure_audit
from hotspots.task.places import read_bases, walk_from_bases
from hotspots.task.plan import TASKING_COLUMNS, TaskOptions
from hotspots.task.teams import team_areas

BURGLARY = DATA / "police_uk" / "met_burglary"
STATIONS = DATA / "reference" / "police-stations.csv"
MONTHS = ("2023-09", "2024-08")


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "hotspots.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.fixture(scope="module")
def lambeth(tmp_path_factory):
    """Plans for every Lambeth ward: Met burglary 2023-09..2024-08, 10 hours a team a week."""
    out = tmp_path_factory.mktemp("task") / "lambeth"
    settings = london_settings(selection=Selection(months=MONTHS))
    return run_task(
        [BURGLARY],
        out,
        settings=settings,
        options=TaskOptions(hours_per_week=10),
        boroughs=["Lambeth"],
        bases=STATIONS,
    )


# --- teams and bases -------------------------------------------------------------


def test_wards_are_teams_and_the_city_of_london_is_one_team():
    teams = team_areas("ward", boroughs=london_boroughs(), wards=london_wards())
    city = teams[teams["borough"] == "City of London"]
    assert len(city) == 1 and city.index[0] == "E09000001"
    assert city["kind"].iloc[0] == "borough (one team)"
    assert "ward file covers only 26%" in city["note"].iloc[0]
    lambeth = teams[teams["borough"] == "Lambeth"]
    assert len(lambeth) == 25 and set(lambeth["kind"]) == {"ward"}
    assert len(teams) == 684 - 5 + 1  # the 5 City wards in the file give way to one City team


def test_teams_can_be_boroughs_and_unknown_boroughs_are_named():
    teams = team_areas("borough", boroughs=london_boroughs(), only_boroughs=["lambeth"])
    assert teams.index.tolist() == ["E09000022"]
    with pytest.raises(HotspotsError, match="unknown borough 'Atlantis'; choose from: Barking"):
        team_areas("borough", boroughs=london_boroughs(), only_boroughs=["Atlantis"])


def test_bases_names_lose_non_breaking_spaces():
    bases = read_bases(STATIONS)
    assert len(bases) == 21 and bases.crs.to_epsg() == 27700
    assert {"Dagenham", "Hayes", "Croydon", "Walworth"} <= set(bases["name"])
    assert not bases["name"].str.contains("\xa0| $").any()


def test_walking_distance_is_the_straight_line_times_the_detour():
    bases = gpd.GeoDataFrame(
        {"name": ["A", "B"]}, geometry=shapely.points([[0, 0], [5000, 0]]), crs=27700
    )
    places = gpd.GeoDataFrame(geometry=[shapely.box(900, -100, 1100, 100)], index=["p"], crs=27700)
    walk = walk_from_bases(places, bases, detour=1.3)
    assert walk.loc["p", "base"] == "A"
    assert walk.loc["p", "walk_m"] == pytest.approx(1300.0)
    assert walk.loc["p", "walk_minutes"] == pytest.approx(1300.0 / 80.0)


# --- exposure audit ---------------------------------------------------------------


def square(x, y, size=100.0):
    return shapely.box(x, y, x + size, y + size)


def test_population_is_apportioned_by_area_of_overlap():
    lsoas = gpd.GeoDataFrame(
        {"White": [100.0, 0.0], "Black": [0.0, 60.0], "total": [100.0, 60.0]},
        geometry=[square(0, 0), square(100, 0)],
        index=["L1", "L2"],
        crs=27700,
    )
    targets = gpd.GeoSeries([square(50, 0), square(0, 0, 200)], index=["half", "all"], crs=27700)
    got = apportion(targets, lsoas, ["White", "Black", "total"])
    assert got.loc["half"].tolist() == pytest.approx([50.0, 30.0, 80.0])
    assert got.loc["all"].tolist() == pytest.approx([100.0, 60.0, 160.0])


def test_exposure_ratio_shows_a_plan_concentrated_on_one_community():
    lsoas = gpd.GeoDataFrame(
        {"White": [100.0, 0.0], "Black": [0.0, 100.0], "total": [100.0, 100.0]},
        geometry=[square(0, 0), square(100, 0)],
        index=["L1", "L2"],
        crs=27700,
    )
    teams = gpd.GeoDataFrame({"name": ["Team"]}, geometry=[square(0, 0, 200)], index=["t"])
    teams = teams.set_crs(27700)
    places = gpd.GeoDataFrame(
        {"team": ["t"], "visits_per_week": [7]}, geometry=[square(120, 20, 50)], crs=27700
    )
    audit = exposure_audit(places, teams, lsoas, groups=["White", "Black"]).set_index(
        ["team", "group"]
    )
    black = audit.loc[("t", "Black")]
    assert black["tasked_share"] == pytest.approx(1.0) and black["area_share"] == 0.5
    assert black["ratio"] == pytest.approx(2.0) and black["flag"] == "over"
    assert audit.loc[("t", "White"), "flag"] == "under"
    assert ("ALL", "Black") in audit.index


def test_census_counts_cover_london():
    counts = census_ethnicity_lsoa()
    assert len(counts) == 4994
    assert counts["total"].sum() == 8_799_810
    assert list(counts.columns) == ["Asian", "Black", "Mixed", "Other", "White", "total"]


# --- the Lambeth plan on real data --------------------------------------------------


def test_every_lambeth_ward_gets_a_sheet(lambeth):
    teams = lambeth.plan.teams
    assert len(teams) == 25 and (teams["borough"] == "Lambeth").all()
    sheets = (lambeth.out_dir / "tasking.html").read_text()
    for code in teams.index:
        assert f'id="team-{code}"' in sheets
    assert sheets.count('class="sheet"') == 25
    assert sheets.count("<svg") >= 25


def test_planned_minutes_equal_the_budget_within_one_visit(lambeth):
    teams = lambeth.plan.teams
    assert (teams["budget_minutes"] == 600.0).all()
    assert (teams["planned_minutes"] <= teams["budget_minutes"] + 1e-9).all()
    assert (teams["budget_minutes"] - teams["planned_minutes"] < 15.0).all()


def test_optimiser_beats_or_equals_greedy_on_real_data(lambeth):
    teams = lambeth.plan.teams
    assert (teams["objective"] >= teams["greedy_objective"] - 1e-6).all()
    summary = lambeth.plan.summary()
    assert summary["objective"] >= summary["greedy_objective"]
    assert 0.4 < summary["harm_covered_share"] < 0.9
    assert set(teams["solver_status"]) == {"Optimal"}


def test_tasking_csv_has_the_promised_columns_and_sensible_rows(lambeth):
    table = pd.read_csv(lambeth.out_dir / "tasking.csv")
    assert list(table.columns) == list(TASKING_COLUMNS)
    assert table["visits_per_week"].between(7, 28).all()
    assert (table["minutes_per_visit"] == 15).all()
    assert table["name"].str.startswith("On or near").all()
    assert table["lat"].between(51.40, 51.52).all() and table["lon"].between(-0.16, -0.07).all()
    assert (table["harm_share"] > 0).all()
    assert table.groupby("team_code")["harm_share"].sum().le(1 + 1e-6).all()
    assert (
        table.groupby("team_code")["rank"].apply(lambda r: sorted(r) == list(range(1, len(r) + 1)))
    ).all()
    assert (table["time_windows"] == "not available (month-only data)").all()
    assert table["base"].notna().all() and (table["walk_m"] > 0).all()
    counts = pd.to_numeric(table["incidents"], errors="coerce")
    assert (counts.dropna() >= 5).all()  # small counts are shown as "fewer than 5"


def test_month_only_data_are_said_plainly_on_the_sheet(lambeth):
    sheets = (lambeth.out_dir / "tasking.html").read_text()
    assert "the data give the month of each incident only" in sheets
    assert not re.search(r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun) \d\d:00-", sheets)


def test_exposure_audit_is_written_for_every_team_and_overall(lambeth):
    exposure = pd.read_csv(lambeth.out_dir / "exposure.csv")
    assert set(exposure["group"]) == {"Asian", "Black", "Mixed", "Other", "White"}
    assert exposure["team"].nunique() == 26  # 25 wards and ALL
    shares = exposure.groupby("team")[["tasked_share", "area_share"]].sum()
    np.testing.assert_allclose(shares.to_numpy(), 1.0, atol=1e-5)  # rounded to 6 places
    assert "exposure audit" in (lambeth.out_dir / "tasking.html").read_text()


def test_manifest_records_rules_both_objectives_and_rows(lambeth):
    manifest = json.loads((lambeth.out_dir / "manifest.json").read_text())
    assert manifest["command"] == "task"
    assert manifest["rows"]["invariant_holds"]
    task = manifest["task"]
    assert task["summary"]["objective"] >= task["summary"]["greedy_objective"]
    assert task["options"]["dosage"]["visit_minutes"] == 15.0
    for key in ("budget", "dosage", "value", "optimiser", "times", "exposure", "bases"):
        assert manifest["automatic_choices"][key], key
    for name in ("tasking", "sheets", "map", "exposure", "rejects"):
        assert name in manifest["outputs"], name


def test_tasking_map_has_the_layers(lambeth):
    page = (lambeth.out_dir / "tasking_map.html").read_text()
    for layer in ("Team areas", "Tasked places (visits a week)", "Bases (front counters"):
        assert layer in page
    assert "unpkg.com" not in page and "cdn.jsdelivr" not in page


def test_tasking_map_renders_offline(lambeth):
    from test_browser import open_offline

    out = lambeth.out_dir
    seen = open_offline(out / "tasking_map.html", out / "tasking_map.png")
    assert seen["errors"] == [] and seen["failed"] == []
    assert seen["layers"][:2] == ["Team areas", "Tasked places (visits a week)"]
    assert seen["polygons"] > 100


# --- the command line ---------------------------------------------------------------


def test_cli_reproduces_the_plan_and_prints_a_summary(lambeth, tmp_path):
    out = tmp_path / "cli"
    result = run(
        "task",
        str(BURGLARY),
        "--months",
        "2023-09..2024-08",
        "--borough",
        "Lambeth",
        "--hours-per-week",
        "10",
        "--bases",
        str(STATIONS),
        "--out",
        str(out),
    )
    assert result.returncode == 0, result.stderr
    assert "25 teams" in result.stdout and "optimiser" in result.stdout
    for name in ("tasking.csv", "tasking.html", "tasking_map.html", "exposure.csv"):
        assert (out / name).exists(), name
    assert (out / "rejects.csv").exists() and (out / "manifest.json").exists()
    same = (out / "tasking.csv").read_bytes() == (lambeth.out_dir / "tasking.csv").read_bytes()
    assert same, "two runs on the same input gave different plans"


def write_force_export(path, rows):
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_timed_force_export_gets_visit_windows_and_strings_are_escaped(tmp_path):
    rng = np.random.default_rng(1)
    fridays = pd.date_range("2024-01-05", "2024-03-22", freq="7D")
    rows = [
        {
            "URN": f"u{i}",
            "Offence": "Burglary",
            "When": (fridays[i % len(fridays)] + pd.Timedelta(hours=21, minutes=i % 60)).strftime(
                "%Y-%m-%d %H:%M"
            ),
            "Lon": -0.1146 + rng.normal(0, 0.003),
            "Lat": 51.4613 + rng.normal(0, 0.002),
            "Where": "On or near <script>alert(1)</script> Road",
        }
        for i in range(200)
    ]
    source = write_force_export(tmp_path / "export.csv", rows)
    out = tmp_path / "timed"
    result = run(
        "task",
        str(source),
        "--columns",
        "id=URN,offence=Offence,occurred_at=When,lon=Lon,lat=Lat,location=Where",
        "--borough",
        "Lambeth",
        "--team-by",
        "borough",
        "--hours-per-week",
        "5",
        "--out",
        str(out),
    )
    assert result.returncode == 0, result.stderr
    table = pd.read_csv(out / "tasking.csv")
    assert len(table) > 0
    assert table["time_windows"].str.startswith("Fri 20:00-22:00").all()
    assert "200 of 200 incidents" in result.stdout
    for name in ("tasking.html", "tasking_map.html"):
        page = (out / name).read_text()
        assert "<script>alert(1)</script>" not in page, name
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page, name
    assert "Harm by hour of the week" in (out / "tasking.html").read_text()


def test_cli_bad_input_is_one_line_and_exit_2(tmp_path):
    result = run(
        "task",
        str(BURGLARY),
        "--borough",
        "Atlantis",
        "--hours-per-week",
        "5",
        "--out",
        str(tmp_path / "x"),
    )
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "unknown borough 'Atlantis'" in result.stderr
    both = run(
        "task",
        str(BURGLARY),
        "--hours-per-week",
        "5",
        "--total-hours",
        "50",
        "--out",
        str(tmp_path / "y"),
    )
    assert both.returncode == 2 and "give the budget once" in both.stderr
