"""Forecast evaluation: metrics on hand-checkable cases, exact coverage, the backtest."""

from __future__ import annotations

import json
import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Transformer

from hotspots.core.errors import InputError, SchemaError
from hotspots.core.paths import bundled
from hotspots.evaluate.backtest import (
    ALL,
    AREA_METRICS,
    BASELINES,
    DEFAULT_COVERAGE_PCT,
    EVALUATION_COLUMNS,
    METHODS,
    METRICS,
    backtest,
)
from hotspots.evaluate.origins import plan_origins
from hotspots.evaluate.verdicts import summarise
from hotspots.methods.metrics import (
    flag_top_area,
    hit_rate,
    pai,
    pei,
    pei_star,
    rank_cells,
    rri_forecast,
    rri_levine,
    tie_break_order,
)
from hotspots.runs.evaluate import run_evaluate

# --- metrics on ten cells -------------------------------------------------------------

TEST = np.array([5, 3, 0, 0, 2, 0, 0, 0, 0, 0], dtype=float)  # N = 10
TRAIN = np.array([10, 2, 1, 1, 1, 1, 1, 1, 1, 1], dtype=float)  # N1 = 20
EQUAL = np.ones(10)


def _flags(*cells: int, n: int = 10) -> np.ndarray:
    flagged = np.zeros(n, dtype=bool)
    flagged[list(cells)] = True
    return flagged


def test_hit_rate_and_pai_on_ten_equal_cells():
    flagged = _flags(0, 1)  # 8 of 10 incidents on 20% of the area
    assert hit_rate(flagged, TEST) == pytest.approx(0.8)
    assert pai(flagged, TEST, EQUAL) == pytest.approx(4.0)


def test_pai_uses_the_area_share_not_the_cell_share():
    area = np.array([3.0] + [1.0] * 9)  # A = 12; cell 0 is a quarter of it
    assert pai(_flags(0), TEST, area) == pytest.approx(0.5 / 0.25)


def test_rri_levine_is_the_change_in_flagged_cells_over_the_change_overall():
    # flagged cells: 12 of 20 training incidents, 8 of 10 test incidents
    assert rri_levine(_flags(0, 1), TEST, TRAIN) == pytest.approx((8 / 12) / (10 / 20))


def test_rri_forecast_is_forecast_over_observed_in_flagged_cells():
    forecast = TRAIN / 2  # six months of training -> 3 per month... any forecast in counts
    assert rri_forecast(_flags(0, 1), TEST, forecast) == pytest.approx(6 / 8)


def test_pei_and_pei_star_are_one_for_the_perfect_selection():
    assert pei(_flags(0, 1), TEST, EQUAL) == pytest.approx(1.0)
    assert pei_star(_flags(0, 1), TEST) == pytest.approx(1.0)


def test_pei_and_pei_star_with_equal_cells_are_captured_over_best():
    flagged = _flags(0, 4)  # 7 captured; the best two cells hold 8
    assert pei(flagged, TEST, EQUAL) == pytest.approx(7 / 8)
    assert pei_star(flagged, TEST) == pytest.approx(7 / 8)


def test_pei_counts_area_and_pei_star_counts_cells():
    test = np.array([4, 3, 3, 0, 0, 0, 0, 0, 0, 0], dtype=float)
    area = np.array([2.0] + [1.0] * 9)  # A = 11
    flagged = _flags(0)  # one big cell: 4 incidents on 2 units of area
    # same area (2): the two densest small cells hold 6 -> PEI = 4/6
    assert pei(flagged, test, area) == pytest.approx((4 / 10) / (2 / 11) / ((6 / 10) / (2 / 11)))
    # same number of cells (1): the best single cell holds 4 -> PEI* = 1
    assert pei_star(flagged, test) == pytest.approx(1.0)


def test_metrics_are_nan_when_undefined():
    nothing = np.zeros(10)
    assert math.isnan(hit_rate(_flags(0), nothing))
    assert math.isnan(pai(_flags(0), nothing, EQUAL))
    assert math.isnan(pai(_flags(), TEST, EQUAL))  # nothing flagged
    assert math.isnan(rri_levine(_flags(2), TEST, np.zeros(10)))
    assert math.isnan(rri_forecast(_flags(2), TEST, TRAIN))  # no incident in the flags
    assert math.isnan(pei_star(_flags(0), nothing))


def test_metrics_on_harm_are_the_same_functions():
    harm = TEST * np.array([1, 10, 1, 1, 1, 1, 1, 1, 1, 1])  # 5 + 30 + 2 = 37
    assert hit_rate(_flags(1), harm) == pytest.approx(30 / 37)
    assert pai(_flags(1), harm, EQUAL) == pytest.approx((30 / 37) / 0.1)


def test_metric_inputs_are_checked():
    with pytest.raises(SchemaError, match="boolean"):
        hit_rate(np.ones(10), TEST)
    with pytest.raises(SchemaError, match="one value per cell"):
        pai(_flags(0), TEST, np.ones(9))
    with pytest.raises(SchemaError, match=">= 0"):
        hit_rate(_flags(0), -TEST)


# --- ranking and exact coverage ---------------------------------------------------------

SCORES = np.array([3, 3, 3, 3, 0, 0, 0, 0, 0, 0], dtype=float)
PRIORITY = np.array([9, 8, 7, 6, 5, 4, 3, 2, 1, 0])  # cell 9 wins every tie


def test_ties_are_broken_by_the_tie_break_order_and_coverage_is_exact():
    order = rank_cells(SCORES, tie_break=PRIORITY)
    flagged = flag_top_area(order, EQUAL, share=0.3)
    assert flagged.sum() == 3  # not the four tied cells
    assert set(np.flatnonzero(flagged)) == {1, 2, 3}


def test_zero_cells_are_taken_only_to_fill_the_area_in_tie_break_order():
    order = rank_cells(SCORES, tie_break=PRIORITY)
    assert set(np.flatnonzero(flag_top_area(order, EQUAL, share=0.4))) == {0, 1, 2, 3}
    assert set(np.flatnonzero(flag_top_area(order, EQUAL, share=0.6))) == {0, 1, 2, 3, 8, 9}


def test_rank_cells_sorts_lexicographically_and_puts_nan_last():
    first = np.array([1.0, 1.0, 2.0, np.nan])
    second = np.array([5.0, 7.0, 0.0, 9.0])
    order = rank_cells(first, second, tie_break=np.arange(4))
    assert order.tolist() == [2, 1, 0, 3]


def test_coverage_with_unequal_cells_is_within_half_a_cell():
    rng = np.random.default_rng(1)
    area = rng.uniform(0.5, 1.5, 500)
    order = rank_cells(rng.random(500), tie_break=tie_break_order(500, seed=0))
    for share in (0.01, 0.02, 0.05, 0.1):
        flagged = flag_top_area(order, area, share=share)
        assert abs(area[flagged].sum() - share * area.sum()) <= area.max() / 2


def test_tie_break_order_is_seeded():
    assert np.array_equal(tie_break_order(50, seed=3), tie_break_order(50, seed=3))
    assert not np.array_equal(tie_break_order(50, seed=3), tie_break_order(50, seed=4))


def test_random_flags_give_pai_near_one_on_uniform_counts():
    rng = np.random.default_rng(7)
    counts = rng.poisson(2.0, 5000).astype(float)
    area = np.ones(5000)
    tie = tie_break_order(5000, seed=0)
    values = [
        pai(
            flag_top_area(rank_cells(rng.random(5000), tie_break=tie), area, share=0.05),
            counts,
            area,
        )
        for _ in range(100)
    ]
    assert np.mean(values) == pytest.approx(1.0, abs=0.03)


def test_flag_top_area_checks_share_and_order():
    with pytest.raises(SchemaError, match="share"):
        flag_top_area(np.arange(10), EQUAL, share=5)
    with pytest.raises(SchemaError, match="every cell"):
        flag_top_area(np.array([0, 0, 1]), np.ones(3), share=0.5)


# --- origins ----------------------------------------------------------------------------


def test_plan_origins_rolls_one_month_at_a_time():
    origins = plan_origins(train="2023-01..2023-12", test="2024-01..2024-03", window=12)
    assert [o.label for o in origins] == ["2024-01", "2024-02", "2024-03"]
    assert origins[0].train == ("2023-01", "2023-12")
    assert origins[2].train == ("2023-03", "2024-02")
    assert origins[2].test == ("2024-03", "2024-03")
    two = plan_origins(train="2023-01..2023-12", test="2024-01..2024-03", horizon=2)
    assert [(o.label, o.test) for o in two] == [
        ("2024-01", ("2024-01", "2024-02")),
        ("2024-02", ("2024-02", "2024-03")),
    ]


@pytest.mark.parametrize(
    ("train", "test", "window", "message"),
    [
        ("2023-06..2024-02", "2024-01..2024-03", 3, "starts before --train"),
        ("2023-01..2023-10", "2024-01..2024-03", 3, "must end the month before"),
        ("2023-06..2023-12", "2024-01..2024-03", 12, "needs training months from 2023-01"),
        ("2023..2024", "2024-01..2024-03", 3, "must look like"),
    ],
)
def test_bad_train_and_test_ranges_are_refused(train, test, window, message):
    with pytest.raises((InputError, SchemaError), match=message):
        plan_origins(train=train, test=test, window=window)


# --- a synthetic backtest on uniform incidents -------------------------------------------


def _uniform_study(seed: int = 0):
    """Two 6 km square 'boroughs' in central London with uniform incidents, 4 months."""
    from hotspots.core import schema
    from hotspots.geo.geocode import areas_from_frame
    from hotspots.geo.grid import cell_strings, cells_from_lonlat

    x0, y0 = 524_000.0, 176_000.0
    squares = gpd.GeoDataFrame(
        {"code": ["W", "E"], "name": ["West", "East"]},
        geometry=[
            shapely.box(x0, y0, x0 + 6000, y0 + 6000),
            shapely.box(x0 + 6000, y0, x0 + 12000, y0 + 6000),
        ],
        crs="EPSG:27700",
    )
    study = areas_from_frame(squares, code_column="code", name_column="name", kind="borough")
    rng = np.random.default_rng(seed)
    months = pd.period_range("2024-01", "2024-04", freq="M")
    per_month = 4000
    n = per_month * len(months)
    x = rng.uniform(x0, x0 + 12000, n)
    y = rng.uniform(y0, y0 + 6000, n)
    lon, lat = Transformer.from_crs("EPSG:27700", "EPSG:4326", always_xy=True).transform(x, y)
    east = x >= x0 + 6000
    incidents = gpd.GeoDataFrame(
        {
            schema.MONTH: months.repeat(per_month).array,
            schema.HARM: rng.choice([1.0, 2.0, 20.0], n),
            schema.CELL_ID: cell_strings(cells_from_lonlat(lon, lat, resolution=9)),
            schema.LOCATION: "On or near Test Street",
            schema.BOROUGH: np.where(east, "East", "West"),
            schema.BOROUGH_CODE: np.where(east, "E", "W"),
        },
        geometry=shapely.points(x, y),
        crs="EPSG:27700",
        index=pd.Index([f"i{i}" for i in range(n)], name=schema.INCIDENT_ID),
    )
    return study, incidents


@pytest.fixture(scope="module")
def uniform_backtest():
    study, incidents = _uniform_study()
    origins = plan_origins(train="2024-01..2024-02", test="2024-03..2024-04", window=2)
    return backtest(incidents, study, origins=origins, seed=0)


def test_random_baseline_pai_is_near_one_on_uniform_incidents(uniform_backtest):
    scores = uniform_backtest.scores
    pai = scores[(scores["metric"] == "pai") & (scores["borough"] == ALL)]
    random_pai = pai[pai["method"] == "random"]
    assert len(random_pai) == 2 * 4 * 2  # origins x coverages x measures
    assert random_pai[random_pai["coverage"] >= 5]["value"].mean() == pytest.approx(1.0, abs=0.2)
    # no real hotspots in uniform data: even the best method stays near 1 at 10%
    at_ten = pai[(pai["coverage"] == 10) & (pai["measure"] == "counts")]
    assert at_ten["value"].between(0.6, 1.5).all()


def test_coverage_is_exact_in_the_backtest(uniform_backtest):
    scores = uniform_backtest.scores
    share = scores[scores["metric"] == "area_share"]
    assert ((share["value"] - share["coverage"] / 100).abs() < 0.006).all()
    cells = scores[(scores["metric"] == "cells") & (scores["borough"] == ALL)]
    assert cells.groupby("coverage")["value"].nunique().eq(1).all()  # same cells per method


def test_emerging_is_left_out_with_a_short_window(uniform_backtest):
    assert "emerging" not in uniform_backtest.methods
    assert "10 monthly slices" in uniform_backtest.choices["emerging"]


def test_backtest_matches_the_public_metric_functions(uniform_backtest):
    """The fast cumulative path equals the public functions on the flags they describe."""
    from hotspots.geo.grid import make_grid
    from hotspots.methods.emerging import space_time_cube

    study, incidents = _uniform_study()
    grid = make_grid(study, resolution=9)
    area = grid["area_km2"].to_numpy()
    counts = space_time_cube(incidents, grid, value=None).to_numpy()
    harm = space_time_cube(incidents, grid, value="harm").to_numpy()
    train_harm, train_counts = harm[:, 1:3].sum(axis=1), counts[:, 1:3].sum(axis=1)
    test_counts, test_harm = counts[:, 3], harm[:, 3]
    tie = tie_break_order(len(grid), seed=0)
    order = rank_cells(train_harm, tie_break=tie)
    scores = uniform_backtest.scores
    rows = scores[
        (scores["origin"] == "2024-04") & (scores["method"] == "harm") & (scores["borough"] == ALL)
    ]
    for coverage in DEFAULT_COVERAGE_PCT:
        flagged = flag_top_area(order, area, share=coverage / 100)
        got = rows[rows["coverage"] == coverage].set_index(["measure", "metric"])["value"]
        assert got[("area", "cells")] == flagged.sum()
        for measure, observed, train in (
            ("counts", test_counts, train_counts),
            ("harm", test_harm, train_harm),
        ):
            expected = {
                "hit_rate": hit_rate(flagged, observed),
                "pai": pai(flagged, observed, area),
                "rri_levine": rri_levine(flagged, observed, train),
                "rri_forecast": rri_forecast(flagged, observed, train / 2),
                "pei": pei(flagged, observed, area),
                "pei_star": pei_star(flagged, observed),
            }
            for metric, value in expected.items():
                assert got[(measure, metric)] == pytest.approx(value, rel=1e-9), (measure, metric)


def test_boroughs_are_ranked_on_their_own(uniform_backtest):
    scores = uniform_backtest.scores
    assert set(scores["borough"]) == {ALL, "East", "West"}
    west = scores[(scores["borough"] == "West") & (scores["metric"] == "area_share")]
    assert (west["value"] - west["coverage"] / 100).abs().max() < 0.01


def test_backtest_is_deterministic_for_a_seed():
    study, incidents = _uniform_study(seed=2)
    origins = plan_origins(train="2024-01..2024-02", test="2024-03..2024-03", window=2)
    runs = [
        backtest(incidents, study, origins=origins, seed=5, methods=("harm", "random")).scores
        for _ in range(2)
    ]
    pd.testing.assert_frame_equal(runs[0], runs[1])


def test_a_missing_month_is_an_input_error():
    study, incidents = _uniform_study()
    gap = incidents[incidents["month"].astype(str) != "2024-02"]
    origins = plan_origins(train="2024-01..2024-02", test="2024-03..2024-04", window=2)
    with pytest.raises(InputError, match="2024-02"):
        backtest(gap, study, origins=origins, methods=("harm",))


# --- real data: a small backtest on the bundled Met burglary ------------------------------


@pytest.fixture(scope="module")
def real_run(tmp_path_factory):
    from hotspots.ingest.read import london_settings

    out = tmp_path_factory.mktemp("evaluate") / "out"
    return run_evaluate(
        [bundled("police_uk", "met_burglary")],
        out,
        settings=london_settings(),
        train="2023-07..2024-05",
        test="2024-06..2024-08",
        window=11,
    )


def test_real_backtest_writes_a_well_formed_table(real_run):
    for name in ("evaluation.csv", "pai.png", "evaluation.html", "rejects.csv", "manifest.json"):
        assert (real_run.out_dir / name).is_file(), name
    table = pd.read_csv(real_run.out_dir / "evaluation.csv")
    assert tuple(table.columns) == EVALUATION_COLUMNS
    assert set(table["origin"]) == {"2024-06", "2024-07", "2024-08"}
    assert set(table["method"]) == set(METHODS)
    assert set(table["coverage"]) == {1.0, 2.0, 5.0, 10.0}
    assert set(table["measure"]) == {"area", "counts", "harm"}
    assert set(table["metric"]) == set(METRICS) | set(AREA_METRICS)
    boroughs = set(table["borough"]) - {ALL}
    assert len(boroughs) == 33
    # one row per origin, method, coverage, borough, measure and metric
    key = ["origin", "method", "coverage", "borough", "measure", "metric"]
    assert not table.duplicated(key).any()
    assert len(table) == 3 * len(METHODS) * 4 * 34 * (2 + 2 * 6)
    whole = table[(table["borough"] == ALL) & (table["metric"] != "cells")]
    assert whole["value"].notna().all()
    hit = table[table["metric"] == "hit_rate"]["value"].dropna()
    assert hit.between(0, 1).all()


def test_real_backtest_beats_random_and_random_is_near_one(real_run):
    scores = real_run.backtest.scores
    summary = summarise(scores)
    counts = summary[summary["measure"] == "counts"].set_index(["coverage", "method"])
    for coverage in (5.0, 10.0):
        assert counts.loc[(coverage, "random"), "median"] == pytest.approx(1.0, abs=0.25)
        assert counts.loc[(coverage, "harm"), "median"] > 3
    best = [v for v in real_run.verdicts if v.measure == "counts"]
    assert [v.coverage for v in best] == [1.0, 2.0, 5.0, 10.0]
    assert all(v.method not in BASELINES for v in best)
    assert all(v.baselines["random"]["ratio_median"] > 2 for v in best)


def test_real_backtest_manifest_and_report(real_run):
    manifest = json.loads((real_run.out_dir / "manifest.json").read_text())
    assert manifest["command"] == "evaluate"
    assert manifest["rows"]["invariant_holds"]
    assert manifest["evaluate"]["window_months"] == 11
    assert len(manifest["evaluate"]["origins"]) == 3
    assert "ties" in manifest["automatic_choices"]
    html = (real_run.out_dir / "evaluation.html").read_text()
    assert "Verdict" in html and "median PAI" in html and "data:image/png;base64," in html
    assert (real_run.out_dir / "pai.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# --- the command line -----------------------------------------------------------------------


def _cli(*args: str):
    """Run ``hotspots evaluate`` in-process; returns click's result (exit code, output)."""
    from click.testing import CliRunner

    from hotspots.cli.main import main

    return CliRunner().invoke(main, ["evaluate", *args])


def test_cli_exits_2_when_test_comes_before_train(tmp_path):
    result = _cli(
        str(bundled("police_uk", "met_burglary")),
        "--train", "2024-01..2024-06", "--test", "2023-09..2023-12",
        "--out", str(tmp_path / "out"),
    )  # fmt: skip
    assert result.exit_code == 2
    assert "starts before --train" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_cli_exits_2_when_months_are_missing_from_the_input(tmp_path):
    result = _cli(
        str(bundled("police_uk", "met_burglary")),
        "--train", "2021-09..2022-10", "--test", "2022-11..2022-12", "--window", "3",
        "--out", str(tmp_path / "out"),
    )  # fmt: skip
    assert result.exit_code == 2
    assert "2022-08" in result.output and "no incidents" in result.output
    assert not (tmp_path / "out" / "manifest.json").exists()


def test_cli_exits_2_on_bad_coverage_and_months_option(tmp_path):
    base = [str(bundled("police_uk", "met_burglary")), "--train", "2024-05..2024-06",
            "--test", "2024-07..2024-08", "--window", "2", "--out", str(tmp_path / "o")]  # fmt: skip
    bad = _cli(*base, "--coverage", "1,abc")
    assert bad.exit_code == 2 and "--coverage" in bad.output
    result = _cli(*base, "--months", "2024-01..2024-08")
    assert result.exit_code == 2 and "leave out --months" in result.output


def test_cli_writes_every_file_and_prints_the_best_method(tmp_path):
    out = tmp_path / "out"
    result = _cli(
        str(bundled("police_uk", "met_burglary")),
        "--train", "2024-05..2024-06", "--test", "2024-07..2024-08", "--window", "2",
        "--coverage", "5,10", "--no-per-borough", "--out", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Best method per coverage" in result.output and "random" in result.output
    for name in ("evaluation.csv", "pai.png", "evaluation.html", "rejects.csv", "manifest.json"):
        assert (out / name).is_file(), name
    table = pd.read_csv(out / "evaluation.csv")
    assert set(table["borough"]) == {ALL}
    assert set(table["coverage"]) == {5.0, 10.0}
    again = _cli(
        str(bundled("police_uk", "met_burglary")),
        "--train", "2024-05..2024-06", "--test", "2024-07..2024-08", "--window", "2",
        "--out", str(out),
    )  # fmt: skip
    assert again.exit_code == 2 and "--overwrite" in again.output
