"""Gi* with FDR: hand-checkable lattices, esda agreement on real cells, permutations, classes."""

from __future__ import annotations

import itertools
import warnings

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import scipy.stats
import shapely
from conftest import DATA
from scipy.special import ndtr

from hotspots.core.errors import HotspotsWarning, SchemaError
from hotspots.geo.grid import cell_polygons
from hotspots.methods import gi as stats

LONDON = h3.latlng_to_cell(51.5080, -0.1281, 9)  # Trafalgar Square


def square_lattice(rows: int, cols: int, *, size: float = 100.0) -> gpd.GeoDataFrame:
    """Unit squares in row-major order, labelled r0c0, r0c1, ..."""
    boxes, labels = [], []
    for r, c in itertools.product(range(rows), range(cols)):
        boxes.append(shapely.box(c * size, -(r + 1) * size, (c + 1) * size, -r * size))
        labels.append(f"r{r}c{c}")
    return gpd.GeoDataFrame(geometry=boxes, index=pd.Index(labels, name="area"), crs=27700)


def dense(weights: sp.spmatrix) -> np.ndarray:
    return np.asarray(weights.todense())


# --- neighbours -----------------------------------------------------------------------


def test_h3_neighbours_of_an_inner_cell_are_seven_including_itself():
    ids = sorted(h3.grid_disk(LONDON, 2))
    weights = stats.h3_neighbours(ids)
    row = dense(weights)[ids.index(LONDON)]
    assert row.sum() == 7
    assert {ids[j] for j in np.flatnonzero(row)} == set(h3.grid_disk(LONDON, 1))
    assert weights.diagonal().tolist() == [1.0] * len(ids)
    assert (dense(weights) == dense(weights).T).all()


def test_h3_neighbours_match_grid_disk_and_drop_cells_outside_the_set():
    ids = sorted(h3.grid_disk(LONDON, 3))
    weights = dense(stats.h3_neighbours(ids, k=2))
    for i, cell in enumerate(ids):
        expected = set(h3.grid_disk(cell, 2)) & set(ids)
        assert {ids[j] for j in np.flatnonzero(weights[i])} == expected
    assert weights[ids.index(LONDON)].sum() == 19


def test_h3_neighbours_reject_bad_cells():
    with pytest.raises(SchemaError, match="not valid H3"):
        stats.h3_neighbours(["123", LONDON])
    with pytest.raises(SchemaError, match="hex strings"):
        stats.h3_neighbours(["London", LONDON])
    with pytest.raises(SchemaError, match="repeat"):
        stats.h3_neighbours([LONDON, LONDON])
    with pytest.raises(SchemaError, match="mix H3 resolutions"):
        stats.h3_neighbours([LONDON, h3.cell_to_parent(LONDON, 8)])


def test_h3_cell_alone_warns_and_is_its_own_neighbour():
    far = h3.latlng_to_cell(51.6, -0.3, 9)
    with pytest.warns(HotspotsWarning, match="1 H3 cells with no other cell"):
        weights = stats.h3_neighbours([LONDON, *h3.grid_ring(LONDON, 1), far])
    assert dense(weights)[-1].tolist() == [0.0] * 7 + [1.0]


def test_polygon_queen_neighbours_on_a_2x2_lattice_include_the_diagonal():
    lattice = square_lattice(2, 2)
    assert dense(stats.polygon_neighbours(lattice)).tolist() == [[1.0] * 4] * 4
    rook = dense(stats.polygon_neighbours(lattice, contiguity="rook"))
    # r0c0 touches r1c1 only at a corner: a queen but not a rook neighbour
    assert rook.tolist() == [
        [1, 1, 1, 0],
        [1, 1, 0, 1],
        [1, 0, 1, 1],
        [0, 1, 1, 1],
    ]


def test_polygon_island_warns_and_keeps_only_itself():
    lattice = square_lattice(2, 2)
    island = gpd.GeoDataFrame(
        geometry=[shapely.box(1000, 1000, 1100, 1100)], index=pd.Index(["far"]), crs=27700
    )
    areas = pd.concat([lattice, island])
    with pytest.warns(
        HotspotsWarning, match=r"1 polygons with no queen neighbour \(e.g. \['far'\]\)"
    ):
        weights = dense(stats.polygon_neighbours(areas))
    assert weights[4].tolist() == [0, 0, 0, 0, 1]
    with pytest.raises(SchemaError, match="contiguity"):
        stats.polygon_neighbours(areas, contiguity="bishop")


def test_polygon_queen_on_h3_hexagons_equals_the_k_ring():
    ids = sorted(h3.grid_disk(LONDON, 4))
    hexagons = cell_polygons(ids)  # EPSG:27700
    assert list(hexagons.index) == ids
    assert (stats.polygon_neighbours(hexagons) != stats.h3_neighbours(ids)).nnz == 0


# --- Benjamini-Hochberg ---------------------------------------------------------------


def test_benjamini_hochberg_matches_scipy():
    rng = np.random.default_rng(3)
    p = np.concatenate([rng.random(500) ** 3, [0.0, 1.0, 0.01, 0.01, 0.01]])
    np.testing.assert_allclose(
        stats.benjamini_hochberg(p), scipy.stats.false_discovery_control(p), rtol=0, atol=1e-15
    )


def test_benjamini_hochberg_by_hand_and_nan_untested():
    # m = 4: 0.01*4/1, 0.02*4/2, 0.03*4/3, 0.5*4/4 -> 0.04, 0.04, 0.04, 0.5
    adjusted = stats.benjamini_hochberg([0.03, 0.5, 0.01, np.nan, 0.02])
    np.testing.assert_allclose(adjusted, [0.04, 0.5, 0.04, np.nan, 0.04])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        stats.benjamini_hochberg([0.5, 1.5])


# --- analytic Gi* -----------------------------------------------------------------------


def test_gi_star_by_hand_on_a_3x3_rook_lattice():
    """One incident in the top-left corner of a 3 x 3 lattice (rook contiguity).

    n = 9, mean 1/9, S = sqrt(1/9 - 1/81) = sqrt(8)/9. Corner r0c0: W = 3 (itself, r0c1,
    r1c0), lag 1: z = (1 - 3/9) / (S sqrt((9*3 - 3^2)/8)) = (2/3) / (sqrt(8)/6) = sqrt(2).
    Edge r0c1: W = 4, lag 1: z = (5/9) / (S sqrt(20/8)) = 5/sqrt(20).
    Centre r1c1: W = 5, lag 0: z = (-5/9) / (S sqrt(20/8)) = -5/sqrt(20).
    Far corner r2c2: W = 3, lag 0: z = (-1/3) / (sqrt(8)/6) = -1/sqrt(2).
    """
    lattice = square_lattice(3, 3)
    weights = stats.polygon_neighbours(lattice, contiguity="rook")
    assert np.diff(weights.indptr).tolist() == [3, 4, 3, 4, 5, 4, 3, 4, 3]
    values = pd.Series([1.0, 0, 0, 0, 0, 0, 0, 0, 0], index=lattice.index)
    result = stats.gi_star(values, weights, fdr=False)
    assert result.index.equals(lattice.index)
    assert list(result.columns) == list(stats.GI_COLUMNS)
    z = result["gi_z"]
    assert z["r0c0"] == pytest.approx(np.sqrt(2), abs=1e-12)
    assert z["r0c1"] == pytest.approx(5 / np.sqrt(20), abs=1e-12)
    assert z["r1c0"] == pytest.approx(5 / np.sqrt(20), abs=1e-12)
    assert z["r1c1"] == pytest.approx(-5 / np.sqrt(20), abs=1e-12)
    assert z["r2c2"] == pytest.approx(-1 / np.sqrt(2), abs=1e-12)
    # two-sided p: 2 * (1 - Phi(sqrt 2)) = 0.1573 -> not significant even at 90%
    assert result.loc["r0c0", "gi_p"] == pytest.approx(0.157299, abs=1e-6)
    assert (result["gi_class"] == "not_significant").all()
    assert result["gi_p_perm"].isna().all() and result["gi_p_perm_fdr"].isna().all()
    np.testing.assert_allclose(
        result["gi_p_fdr"], scipy.stats.false_discovery_control(result["gi_p"])
    )
    # a 2 x 2 block of 4s in the top-left corner, queen contiguity: a strong hot corner
    block = pd.Series([4.0, 4, 0, 4, 4, 0, 0, 0, 0], index=lattice.index)
    queen = stats.polygon_neighbours(lattice)
    hot = stats.gi_star(block, queen, fdr=False)
    # r0c0 (queen, W = 4): lag 16, mean 16/9, S = sqrt(64/9 - 256/81) = sqrt(320)/9
    # z = (16 - 64/9) / (S sqrt((36 - 16)/8)) = (80/9) / (sqrt(320) sqrt(2.5) / 9) = 80/sqrt(800)
    assert hot.loc["r0c0", "gi_z"] == pytest.approx(80 / np.sqrt(800), abs=1e-12)
    assert hot.loc["r0c0", "gi_class"] == "hot_99"  # z = 2.83, p = 0.0047


def test_gi_class_levels_and_order():
    z = np.array([3.0, 2.2, 1.8, 0.5, -1.8, -2.2, -3.0])
    p = 2 * ndtr(-np.abs(z))  # 0.0027, 0.028, 0.072, 0.62, ...
    classes = stats.classify_gi(z > 0, p)
    assert list(classes) == [
        "hot_99",
        "hot_95",
        "hot_90",
        "not_significant",
        "cold_90",
        "cold_95",
        "cold_99",
    ]
    assert list(classes.categories) == list(stats.GI_CLASSES) and classes.ordered
    assert list(stats.classify_gi(z > 0, p, alpha_levels=(0.05,))) == [
        "hot_95",
        "hot_95",
        "not_significant",
        "not_significant",
        "not_significant",
        "cold_95",
        "cold_95",
    ]
    with pytest.raises(SchemaError, match="alpha_levels"):
        stats.classify_gi(z > 0, p, alpha_levels=(0.2,))


def test_gi_star_classes_at_each_level_on_a_path():
    """A path of 41 cells; values chosen so that z falls in each band (no FDR)."""
    n = 41
    weights = sp.diags([1.0, 1.0, 1.0], [-1, 0, 1], shape=(n, n), format="csr")
    rng = np.random.default_rng(0)
    values = rng.random(n)
    result = stats.gi_star(values, weights, fdr=False)
    z, p = result["gi_z"].to_numpy(), result["gi_p"].to_numpy()
    expected = np.where(
        p <= 0.01,
        np.where(z > 0, "hot_99", "cold_99"),
        np.where(
            p <= 0.05,
            np.where(z > 0, "hot_95", "cold_95"),
            np.where(p <= 0.10, np.where(z > 0, "hot_90", "cold_90"), "not_significant"),
        ),
    )
    assert result["gi_class"].astype(str).tolist() == expected.tolist()


def test_gi_star_constant_values_warn_and_give_z_zero():
    weights = stats.h3_neighbours(sorted(h3.grid_disk(LONDON, 2)))
    with pytest.warns(HotspotsWarning, match="values equal"):
        result = stats.gi_star(np.zeros(19), weights, permutations=9, seed=0)
    assert (result["gi_z"] == 0).all() and (result["gi_p"] == 1).all()
    assert (result["gi_p_perm"] == 1).all()


def test_gi_star_input_errors_say_how_to_fix():
    weights = sp.identity(3, format="csr")
    with pytest.raises(SchemaError, match="NaN or infinite"):
        stats.gi_star([1.0, np.nan, 2.0], weights)
    with pytest.raises(SchemaError, match="2 x 2 but there are 3 values"):
        stats.gi_star([1.0, 2.0, 3.0], sp.identity(2, format="csr"))
    no_self = sp.csr_matrix(np.array([[0, 1, 0], [1, 0, 1], [0, 1, 0]], dtype=float))
    with pytest.raises(SchemaError, match="own neighbourhood"):
        stats.gi_star([1.0, 2.0, 3.0], no_self)
    with pytest.raises(SchemaError, match="permutations > 0"):
        stats.gi_star([1.0, 2.0, 3.0], weights, p_from="permutation")
    with pytest.raises(SchemaError, match="scipy sparse"):
        stats.gi_star([1.0, 2.0, 3.0], np.eye(3))


# --- real cells: esda agreement --------------------------------------------------------


@pytest.fixture(scope="module")
def burglary_cells():
    """Met burglary harm per H3 cell (resolution 9, all London), 2024-01..2024-06."""
    import hotspots

    files = sorted((DATA / "police_uk" / "met_burglary").glob("2024-0[1-6]-*.csv.gz"))
    assert len(files) == 6
    loaded = hotspots.read_incidents(files)
    grid = hotspots.make_grid(hotspots.london_boroughs(), resolution=9)
    return hotspots.count_in_cells(loaded.incidents, grid)


def test_analytic_z_equals_esda_g_local_star_on_real_cells(burglary_cells):
    esda = pytest.importorskip("esda")
    libpysal = pytest.importorskip("libpysal")
    values = burglary_cells["harm"]
    assert (values == 0).mean() > 0.3  # zeros present: the whole study area
    weights = stats.h3_neighbours(burglary_cells.index)
    result = stats.gi_star(values, weights)
    w = libpysal.weights.WSP(weights, id_order=list(burglary_cells.index)).to_W(
        silence_warnings=True
    )
    reference = esda.G_Local(values.to_numpy(), w, transform="B", star=True, permutations=0)
    np.testing.assert_allclose(result["gi_z"].to_numpy(), reference.Zs, rtol=0, atol=1e-6)
    np.testing.assert_allclose(result["gi_p"].to_numpy(), 2 * reference.p_norm, atol=1e-12)
    assert (result["gi_class"].astype(str).str.startswith("hot")).sum() > 100


def test_find_hotspots_adds_columns_to_a_copy(burglary_cells):
    before = burglary_cells.copy()
    found = stats.find_hotspots(burglary_cells)  # exact count test, as detect
    pd.testing.assert_frame_equal(burglary_cells, before)
    assert list(found.columns) == list(burglary_cells.columns) + list(stats.GI_COLUMNS)
    assert found.index.equals(burglary_cells.index)
    gi, choice, parameters, label = stats.gi_for_detect(burglary_cells)
    np.testing.assert_array_equal(gi["gi_z"], found["gi_z"])
    assert (gi["gi_class"] == found["gi_class"]).all()
    assert "k=1" in choice and "7 cells per neighbourhood" in choice
    assert parameters["p_value"] == "two-sided" and parameters["fdr"] == "benjamini_hochberg"
    assert label.startswith("exact two-sided p") and label.endswith("Benjamini-Hochberg FDR")
    analytic = stats.gi_for_detect(burglary_cells, value="harm", p_from="analytic", fdr=False)
    assert analytic.p_label == "analytic two-sided normal p, no FDR adjustment"


# --- permutations --------------------------------------------------------------------------


def test_permutation_p_is_reproducible_and_in_range(burglary_cells):
    values = burglary_cells["harm"]
    weights = stats.h3_neighbours(burglary_cells.index)
    first = stats.gi_star(values, weights, permutations=99, seed=7)
    again = stats.gi_star(values, weights, permutations=99, seed=7)
    other = stats.gi_star(values, weights, permutations=99, seed=8)
    pd.testing.assert_frame_equal(first, again)
    assert not np.array_equal(first["gi_p_perm"], other["gi_p_perm"])
    p = first["gi_p_perm"].to_numpy()
    assert p.min() >= 1 / 100 and p.max() <= 1
    assert np.isclose(p.min(), 2 / 100)  # the two-sided floor is reached
    np.testing.assert_array_equal(first["gi_z"], stats.gi_star(values, weights)["gi_z"])
    by_permutation = stats.gi_star(
        values, weights, permutations=99, seed=7, p_from="permutation", fdr=False
    )
    assert by_permutation["gi_class"].astype(str).str.startswith("hot").sum() > 100


def test_permutation_p_matches_exact_conditional_distribution():
    """Exact conditional p by enumerating every neighbour set, against 20,000 permutations."""
    values = np.array([0.0, 5.0, 1.0, 7.0, 2.0, 9.0, 3.0, 4.0])
    n = len(values)
    weights = sp.diags([1.0, 1.0, 1.0], [-1, 0, 1], shape=(n, n), format="csr")
    result = stats.gi_star(values, weights, permutations=20_000, seed=1, fdr=False)
    for i in range(n):
        others = np.delete(values, i)
        size = int(weights[i].sum()) - 1
        neighbours = [j for j in weights[i].indices if j != i]
        observed = values[neighbours].sum()
        sums = np.array([sum(c) for c in itertools.combinations(others, size)])
        one_sided = min((sums >= observed).mean(), (sums <= observed).mean())
        exact = min(1.0, 2 * one_sided)
        assert result["gi_p_perm"].iloc[i] == pytest.approx(exact, abs=0.015), i


def test_permutation_ties_are_not_significant():
    """A neighbourhood that every draw reproduces (all other values 0) is never significant."""
    lattice = square_lattice(3, 3)
    weights = stats.polygon_neighbours(lattice, contiguity="rook")
    values = np.array([1.0, 0, 0, 0, 0, 0, 0, 0, 0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = stats.gi_star(values, weights, permutations=199, seed=0)
    assert result["gi_p_perm"].iloc[0] == 1.0
