"""Emerging hot spots: the cube, Mann-Kendall, one constructed case per class, real data."""

from __future__ import annotations

import h3
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
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


# --- one constructed case per class --------------------------------------------------------
#
# 127 cells: an H3 disk of radius 6 around CENTRE. Every month the background is 1 and a
# fixed "decoy" cluster far from the centre holds 3, so no month is constant. A month of kind
# ("hot", v) puts v on the centre and its six neighbours (v > 3: a hot spot, stronger as v
# grows); ("cold", a) puts a < 1 there (a cold spot, stronger as a falls); NONE leaves them
# at 1 (the centre's z is then -0.65, not significant).

IDS = sorted(h3.grid_disk(CENTRE, 6))
WEIGHTS = stats.h3_neighbours(IDS)
TARGET = np.isin(IDS, list(h3.grid_disk(CENTRE, 1)))
DECOY = np.isin(IDS, list(h3.grid_disk(sorted(h3.grid_ring(CENTRE, 5))[0], 1)))
NONE = ("none", 1.0)


def hot(v: float = 5.0) -> tuple[str, float]:
    return ("hot", v)


def cold(a: float = 0.0) -> tuple[str, float]:
    return ("cold", a)


def cube_of(months: list[tuple[str, float]]) -> pd.DataFrame:
    columns = []
    for _, level in months:
        values = np.ones(len(IDS))
        values[DECOY] = 3.0
        values[TARGET] = level
        columns.append(values)
    return pd.DataFrame(np.column_stack(columns), index=pd.Index(IDS), columns=MONTHS)


RISING = [hot(3.5 + t) for t in range(12)]
FALLING_COLD = [cold(0.2 - 0.015 * t) for t in range(12)]
CASES = {
    "new": [NONE] * 11 + [hot()],
    "consecutive": [NONE] * 9 + [hot()] * 3,
    "intensifying": RISING,
    "persistent": [hot()] * 12,
    "diminishing": RISING[::-1],
    "sporadic": [NONE, NONE, hot(), NONE, NONE, NONE, hot(), NONE, NONE, NONE, NONE, hot()],
    "oscillating": [NONE, NONE, NONE, cold(), *[NONE] * 7, hot()],
    "historical": [hot()] * 11 + [NONE],
    "no_pattern": [NONE] * 12,
    "new_cold": [NONE] * 11 + [cold()],
    "consecutive_cold": [NONE] * 9 + [cold()] * 3,
    "intensifying_cold": FALLING_COLD,
    "persistent_cold": [cold()] * 12,
    "diminishing_cold": FALLING_COLD[::-1],
    "sporadic_cold": [NONE, NONE, cold(), NONE, NONE, NONE, cold(), *[NONE] * 4, cold()],
    "oscillating_cold": [NONE, NONE, NONE, hot(), *[NONE] * 7, cold()],
    "historical_cold": [cold()] * 11 + [NONE],
}


def test_every_class_has_a_case():
    assert set(CASES) == set(emerging.EMERGING_CLASSES)


@pytest.mark.parametrize("expected", list(CASES))
def test_constructed_case_gives_its_class(expected):
    result = emerging.emerging_hotspots(cube_of(CASES[expected]), WEIGHTS)
    assert result.loc[CENTRE, "trend"] == expected
    assert list(result.columns) == list(emerging.EMERGING_COLUMNS)
    assert set(result["trend"].cat.categories) == set(emerging.EMERGING_CLASSES)


def test_constructed_cases_count_slices_and_trends():
    rising = emerging.emerging_hotspots(cube_of(RISING), WEIGHTS).loc[CENTRE]
    assert rising["hot_slices"] == 12 and rising["cold_slices"] == 0
    assert rising["mk_s"] == 66 and rising["mk_tau"] == 1.0 and rising["mk_p"] < 1e-4
    steady = emerging.emerging_hotspots(cube_of([hot()] * 12), WEIGHTS).loc[CENTRE]
    assert steady["mk_s"] == 0 and steady["mk_p"] == 1.0


def test_classify_patterns_tie_breaks():
    """Rules on hand-made z and significance, 10 months (90% = 9 months)."""
    n = 10
    z = np.zeros((6, n))
    sig = np.zeros((6, n), dtype=bool)
    z[0, :9], sig[0, :9] = 3, True  # hot 9 of 10, final not significant -> historical
    z[1, :9], sig[1, :9] = 3, True  # hot 9 of 10, final cold -> oscillating_cold
    z[1, 9], sig[1, 9] = -3, True
    z[2, 8:], sig[2, 8:] = 3, True  # hot in the last two only -> consecutive
    z[3, [5, 8, 9]], sig[3, [5, 8, 9]] = 3, True  # gap before the final run -> sporadic
    z[4, 9], sig[4, 9] = 3, True  # hot once, final, cold before -> oscillating
    z[4, 2], sig[4, 2] = -3, True
    z[5, :8], sig[5, :8] = 3, True  # hot 8 of 10 (< 90%), final not significant -> no_pattern
    labels = emerging.classify_patterns(z, sig, np.zeros(6), np.zeros(6, dtype=bool))
    assert labels.tolist() == [
        "historical",
        "oscillating_cold",
        "consecutive",
        "sporadic",
        "oscillating",
        "no_pattern",
    ]


def test_neighbourhood_time_step_uses_the_previous_month():
    """time_steps=1: bin (cell, month) also sees its neighbours in the previous month."""
    n = 3
    weights = sp.diags([1.0, 1.0, 1.0], [-1, 0, 1], shape=(n, n), format="csr")  # a path
    values = np.array([[1.0, 4.0, 0.0], [0.0, 2.0, 5.0], [3.0, 0.0, 1.0]])  # 3 cells x 3 months
    cube = pd.DataFrame(values, columns=MONTHS[:3])
    gi = emerging.gi_by_month(cube, weights, time_steps=1, fdr=False)
    every = values.ravel()
    mean, std, bins = every.mean(), every.std(), every.size
    # cell 0, month 1: itself and cell 1 in months 0 and 1 -> W = 4
    lag = values[0, 1] + values[1, 1] + values[0, 0] + values[1, 0]
    expected = (lag - 4 * mean) / (std * np.sqrt((bins * 4 - 16) / (bins - 1)))
    assert gi.z.iloc[0, 1] == pytest.approx(expected, abs=1e-12)
    # month 0 has no previous month: W = 2 for cell 0
    lag = values[0, 0] + values[1, 0]
    expected = (lag - 2 * mean) / (std * np.sqrt((bins * 2 - 4) / (bins - 1)))
    assert gi.z.iloc[0, 0] == pytest.approx(expected, abs=1e-12)
    # space only: month 1 is its own Gi* run
    alone = emerging.gi_by_month(cube, weights, fdr=False)
    month = stats.gi_star(values[:, 1], weights, fdr=False)
    np.testing.assert_allclose(alone.z.iloc[:, 1], month["gi_z"])
    np.testing.assert_allclose(alone.p.iloc[:, 1], month["gi_p"])


def test_too_few_months_is_an_error():
    with pytest.raises(SchemaError, match="at least 3 months"):
        emerging.emerging_hotspots(cube_of([hot()] * 12).iloc[:, :2], WEIGHTS)


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
    cube = emerging.space_time_cube(incidents, grid)
    assert cube.shape == (len(grid), 12)
    assert cube.to_numpy().sum() == pytest.approx(incidents["harm"].sum())
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
