"""Emerging hot spots: the cube, Mann-Kendall, one constructed case per class, real data."""

from __future__ import annotations

import h3
import numpy as np
import pandas as pd
import pytest
import scipy.stats
from conftest import DATA

from hotspots.core.errors import SchemaError
from hotspots.methods import emerging
from hotspots.methods import gi as stats

CENTRE = h3.latlng_to_cell(51.5080, -0.1281, 9)
MONTHS = pd.period_range("2024-01", periods=12, freq="M")


# --- the cube --------------------------------------------------------------------------


def test_space_time_cube_sums_per_cell_and_month_with_zeros():
    cells = pd.DataFrame(index=pd.Index(["a", "b", "c"], name="cell_id"))
    incidents = pd.DataFrame(
        {
            "month": pd.PeriodIndex(["2024-01", "2024-01", "2024-03", "2024-03"], freq="M"),
            "cell_id": ["a", "a", "b", None],
            "harm": [1.5, 2.0, 10.0, 99.0],
        }
    )
    cube = emerging.space_time_cube(incidents, cells)
    assert list(cube.columns.astype(str)) == ["2024-01", "2024-02", "2024-03"]  # gap kept
    assert cube.columns.name == "month" and cube.index.equals(cells.index)
    assert cube.to_numpy().tolist() == [[3.5, 0, 0], [0, 0, 10.0], [0, 0, 0]]
    counts = emerging.space_time_cube(incidents, cells, value=None, months=["2024-03", "2024-01"])
    assert list(counts.columns.astype(str)) == ["2024-01", "2024-03"]
    assert counts.to_numpy().tolist() == [[2, 0], [0, 1], [0, 0]]
    with pytest.raises(SchemaError, match="not in cells"):
        emerging.space_time_cube(incidents.assign(cell_id="z"), cells)
    with pytest.raises(SchemaError, match="missing 'harm'"):
        emerging.space_time_cube(incidents.drop(columns="harm"), cells)


# --- Mann-Kendall --------------------------------------------------------------------------


def test_mann_kendall_by_hand():
    # 1..5: S = 10, Var S = 5*4*15/18 = 50/3, z = (10 - 1)/sqrt(50/3) = 2.2045
    # 1, 1, 2: S = 0 + 1 + 1 = 2, ties t=2: Var S = (3*2*11 - 2*1*9)/18 = 8/3,
    # z = (2 - 1)/sqrt(8/3) = 0.6124
    first = emerging.mann_kendall(np.array([[1.0, 2, 3, 4, 5]]))
    assert first.loc[0, "mk_s"] == 10
    assert first.loc[0, "mk_z"] == pytest.approx(9 / np.sqrt(50 / 3))
    assert first.loc[0, "mk_p"] == pytest.approx(0.027486, abs=1e-6)
    assert first.loc[0, "mk_tau"] == 1.0
    tied = emerging.mann_kendall(np.array([[1.0, 1, 2]]))
    assert tied.loc[0, "mk_s"] == 2
    assert tied.loc[0, "mk_z"] == pytest.approx(1 / np.sqrt(8 / 3))
    flat = emerging.mann_kendall(pd.DataFrame([[3.0, 3, 3]], index=["x"]))
    assert (
        flat.loc["x", "mk_z"] == 0
        and flat.loc["x", "mk_p"] == 1
        and np.isnan(flat.loc["x", "mk_tau"])
    )


def test_mann_kendall_matches_scipy_kendalltau_with_ties():
    rng = np.random.default_rng(5)
    series = rng.integers(0, 6, size=(200, 12)).astype(float)  # many ties
    ours = emerging.mann_kendall(series, continuity=False)
    time = np.arange(12)
    for i in range(0, 200, 7):
        ref = scipy.stats.kendalltau(time, series[i], method="asymptotic")
        if np.isnan(ref.statistic):
            continue
        assert ours.loc[i, "mk_tau"] == pytest.approx(ref.statistic, abs=1e-12)
        assert ours.loc[i, "mk_p"] == pytest.approx(ref.pvalue, abs=1e-12)


# --- the wrapper over the calibrated engine (the engine's class cases: test_emerging_st.py) ---
#
# 127 cells: an H3 disk of radius 6 around CENTRE, 12 months of about 2 incidents per cell.

IDS = sorted(h3.grid_disk(CENTRE, 6))
WEIGHTS = stats.h3_neighbours(IDS)
TARGET = np.isin(IDS, list(h3.grid_disk(CENTRE, 1)))


def counts_cube(seed: int = 0, burst: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    values = rng.poisson(2.0, size=(len(IDS), 12)).astype(float)
    values[TARGET, -1] += burst
    return pd.DataFrame(values, index=pd.Index(IDS), columns=MONTHS)


def test_wrapper_keeps_the_trend_labels_and_columns():
    result = emerging.emerging_hotspots(counts_cube(burst=12.0), WEIGHTS)
    assert list(result.columns) == list(emerging.EMERGING_COLUMNS)
    assert set(result["trend"].cat.categories) == set(emerging.EMERGING_CLASSES)
    assert result.loc[CENTRE, "trend"] == "new"  # ArcGIS 'new hot spot', hot suffix dropped
    assert result.loc[CENTRE, "hot_slices"] == 1
    assert "ArcGIS Emerging Hot Spot rules" in result.attrs["description"]
    assert result.attrs["p_method"] == "exact"


def test_no_pattern_anywhere_on_random_counts():
    for seed in range(5):
        result = emerging.emerging_hotspots(counts_cube(seed), WEIGHTS)
        assert (result["trend"] == "no_pattern").all(), seed


def test_too_few_months_is_an_error():
    with pytest.raises(SchemaError, match="at least 10 months"):
        emerging.emerging_hotspots(counts_cube().iloc[:, :9], WEIGHTS)


# --- real data -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def burglary():
    """Met burglary 2023-09..2024-08 (12 months) and the resolution-9 London grid."""
    import hotspots

    files = sorted((DATA / "police_uk" / "met_burglary").glob("*.csv.gz"))[-12:]
    assert files[0].name.startswith("2023-09") and files[-1].name.startswith("2024-08")
    loaded = hotspots.read_incidents(files)
    grid = hotspots.make_grid(hotspots.london_boroughs(), resolution=9)
    return loaded.incidents, grid


def test_real_burglary_gives_a_class_for_every_cell(burglary):
    incidents, grid = burglary
    harm_cube = emerging.space_time_cube(incidents, grid)
    assert harm_cube.to_numpy().sum() == pytest.approx(incidents["harm"].sum())
    cube = emerging.space_time_cube(incidents, grid, value=None)
    assert cube.shape == (len(grid), 12) and cube.to_numpy().sum() == len(incidents)
    result = emerging.emerging_hotspots(cube, stats.h3_neighbours(grid.index))
    assert result.index.equals(grid.index)
    assert result["trend"].notna().all()
    assert set(result["trend"].astype(str)) <= set(emerging.EMERGING_CLASSES)
    counts = result["trend"].value_counts()
    assert counts["no_pattern"] < len(grid)
    assert counts[list(emerging.HOT_PATTERNS)].sum() > 50
    assert (result["hot_slices"] + result["cold_slices"]).between(0, 12).all()
    trends, choice, parameters = emerging.trends_for_detect(incidents, grid)
    assert trends.equals(result["trend"].astype(object))
    assert "12 months (2023-09..2024-08)" in choice
    assert parameters["classes"]["no_pattern"] == counts["no_pattern"]
