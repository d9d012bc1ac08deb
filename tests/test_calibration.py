"""Every significance layer under a null: spatially random incidents over London.

Incidents fall on the 17,000 H3 cells of the London grid at random (in proportion to cell
area: no clustering at all), each with a harm weight drawn from the real harm mix of the
bundled City of London street crime. A calibrated layer then calls (almost) nothing: with
Benjamini-Hochberg at 5% a map with any false hot or cold cell should come up in at most
about 5% of runs. A planted cluster must still be found. The layers measured are the ones
``hotspots detect`` draws: Gi* hot/cold (exact count test) and the emerging hot-spot
classes; DBSCAN clusters carry no significance test (their map says so).
The normal approximation on harm that ``detect`` used before is measured too, to show what
the test catches.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import DATA

from hotspots import london_boroughs, make_grid, read_incidents
from hotspots.methods import emerging
from hotspots.methods import gi as stats

RUNS = 40
INCIDENTS = 50_000


@pytest.fixture(scope="module")
def london():
    grid = make_grid(london_boroughs(), resolution=9)
    weights = stats.h3_neighbours(grid.index)
    harm_mix = read_incidents(DATA / "police_uk" / "city_of_london_street").incidents["harm"]
    share = grid["area_km2"].to_numpy() / grid["area_km2"].sum()
    return grid, weights, harm_mix.to_numpy(dtype=np.float64), share


def _random_cells(rng, share, n):
    return rng.choice(len(share), size=n, p=share)


def _maps_with_false_spots(result: pd.DataFrame) -> tuple[bool, bool]:
    classes = result["gi_class"].astype(str)
    return bool(classes.str.startswith("hot").any()), bool(classes.str.startswith("cold").any())


def test_gi_exact_is_calibrated_on_random_incidents_with_the_real_harm_mix(london):
    grid, weights, harm_mix, share = london
    rng = np.random.default_rng(20261203)
    hot_maps = cold_maps = false_cells = 0
    for _ in range(RUNS):
        cells = _random_cells(rng, share, INCIDENTS)
        counts = np.bincount(cells, minlength=len(grid))
        exposure = counts > 0  # a history of the same size: realistic zero cells
        result = stats.gi_star(counts, weights, p_from="exact", exposure=exposure)
        hot, cold = _maps_with_false_spots(result)
        hot_maps += hot
        cold_maps += cold
        false_cells += int((~result["gi_class"].isin(["not_significant", "no_data"])).sum())
    # nominal 5%: 2 of 40 expected at most; allow binomial noise up to 5
    assert hot_maps <= 5 and cold_maps <= 5, (hot_maps, cold_maps)
    assert false_cells / (RUNS * len(grid)) <= 0.05 / 100


def test_the_normal_approximation_on_harm_is_not(london):
    """What the calibration test catches: the old default flags hot cells in most maps."""
    grid, weights, harm_mix, share = london
    rng = np.random.default_rng(7)
    hot_maps = 0
    for _ in range(10):
        cells = _random_cells(rng, share, INCIDENTS)
        harm = np.bincount(
            cells, weights=rng.choice(harm_mix, size=len(cells)), minlength=len(grid)
        )
        result = stats.gi_star(harm, weights, p_from="analytic")
        hot_maps += _maps_with_false_spots(result)[0]
    assert hot_maps >= 8, hot_maps


def test_a_planted_cluster_is_found_and_nothing_else(london):
    grid, weights, harm_mix, share = london
    rng = np.random.default_rng(11)
    found = elsewhere = called = 0
    for _ in range(10):
        counts = np.bincount(_random_cells(rng, share, INCIDENTS), minlength=len(grid))
        centre = int(rng.integers(len(grid)))
        ring = (weights @ weights)[centre].indices  # 19 cells: a 2-ring
        counts[ring] += rng.poisson(2 * counts.mean(), size=len(ring))  # about 3x the rate
        result = stats.gi_star(counts, weights, p_from="exact", exposure=counts > 0)
        hot = result["gi_class"].astype(str).str.startswith("hot").to_numpy()
        found += hot[centre]
        far = np.ones(len(grid), dtype=bool)
        far[(weights @ weights @ weights)[centre].indices] = False
        elsewhere += int(hot[far].sum())
        called += int(hot.sum())
    assert found >= 8, found
    # with true hot cells present BH keeps the share of false ones near 5%, not zero
    assert elsewhere / called <= 0.10, (elsewhere, called)


def test_cold_spots_only_where_there_was_exposure(london):
    grid, weights, harm_mix, share = london
    rng = np.random.default_rng(3)
    counts = np.bincount(_random_cells(rng, share, INCIDENTS), minlength=len(grid))
    exposure = rng.random(len(grid)) < 0.7
    counts[~exposure] = 0  # rivers and parks: nothing to burgle, nothing recorded
    result = stats.gi_star(counts, weights, p_from="exact", exposure=exposure)
    classes = result["gi_class"].astype(str).to_numpy()
    assert not any(c.startswith("cold") for c in classes[~exposure])
    assert (classes[~exposure] != "not_significant").all()  # unexposed: no_data unless hot
    assert not any(c.startswith(("hot", "cold")) for c in classes)  # and the null holds
    # a planted area with no incidents among exposed cells is cold
    centre = int(np.flatnonzero(exposure)[len(grid) // 3])
    ring = (weights @ weights)[centre].indices
    counts[ring] = 0
    exposure[ring] = True
    cold = stats.gi_star(counts, weights, p_from="exact", exposure=exposure)
    assert str(cold["gi_class"].iloc[centre]).startswith("cold")


def test_emerging_classes_are_calibrated_on_random_months(london):
    grid, weights, _, share = london
    rng = np.random.default_rng(5)
    months = pd.period_range("2023-01", periods=12, freq="M")
    maps_with_any = 0
    runs = 10
    for _ in range(runs):
        cube = np.stack(
            [np.bincount(_random_cells(rng, share, 4_000), minlength=len(grid)) for _ in months],
            axis=1,
        )
        result = emerging.emerging_hotspots(
            pd.DataFrame(cube, index=grid.index, columns=months), weights
        )
        maps_with_any += bool((result["trend"] != "no_pattern").any())
    assert maps_with_any <= 1, maps_with_any
