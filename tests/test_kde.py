"""Kernel density: hand-checkable kernels, agreement with the direct sum, edges, real data."""

from __future__ import annotations

import json
import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from conftest import DATA
from scipy.stats import spearmanr

from hotspots.core import schema
from hotspots.core.errors import CRSError, HotspotsWarning, SchemaError
from hotspots.geo.boundaries import london_boroughs
from hotspots.geo.geocode import areas_from_frame
from hotspots.geo.grid import make_grid
from hotspots.ingest.read import read_incidents
from hotspots.methods.bandwidth import KERNELS, Bandwidth, choose_bandwidth
from hotspots.methods.counts import count_in_cells
from hotspots.methods.kde import (
    DENSITY,
    DensityGrid,
    density_for_detect,
    density_per_cell,
    exact_kernel_sum,
    kernel_density,
)

# a 2 km square near Trafalgar Square, British National Grid metres
SQUARE = (529_000.0, 179_000.0, 531_000.0, 181_000.0)
H = 250.0
QUARTIC_PEAK_PER_KM2 = 3.0 / (math.pi * H**2) * 1e6  # one unit of harm, per km²


def clustered_points(n: int = 500, *, seed: int = 1):
    rng = np.random.default_rng(seed)
    centres = rng.uniform([529_300, 179_300], [530_700, 180_700], size=(10, 2))
    which = rng.integers(0, 10, n)
    x = centres[which, 0] + rng.normal(0, 150, n)
    y = centres[which, 1] + rng.normal(0, 150, n)
    harm = rng.gamma(2.0, 3.0, n)
    return x, y, harm


def grid_centres(surface: DensityGrid):
    gx, gy = np.meshgrid(surface.x_centres, surface.y_centres)
    return gx.ravel(), gy.ravel()


# --- the kernel on the grid -------------------------------------------------------------------


# worst error anywhere on the grid for a lone point, as a share of its peak: smooth kernels
# are curvature-corrected, kinked ones are not, and the disc is pixelated at 5 cells' radius
LONE_POINT_TOLERANCE = {
    "quartic": 0.03,
    "gaussian": 0.01,
    "epanechnikov": 0.10,
    "triangular": 0.10,
    "uniform": 1.0,
}


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("where", [(530_012.0, 180_031.0), (530_050.0, 180_050.0)])
def test_every_kernel_integrates_to_the_harm_and_peaks_at_the_point(kernel, where):
    surface = kernel_density(
        [where[0]], [where[1]], weights=[2.5], bandwidth=H, kernel=kernel, bounds=SQUARE
    )
    assert surface.kernel == kernel and surface.values.shape == (40, 40)
    assert np.isfinite(surface.values).all() and (surface.values >= 0).all()
    assert surface.total_harm == pytest.approx(2.5, rel=0.01)
    row, col = np.unravel_index(np.argmax(surface.values), surface.shape)
    if kernel != "uniform":  # a flat top has no single peak
        assert abs(surface.x_centres[col] - where[0]) <= 50
        assert abs(surface.y_centres[row] - where[1]) <= 50
    exact = exact_kernel_sum(
        [where[0]], [where[1]], [2.5], *grid_centres(surface), bandwidth_m=H, kernel=kernel
    )
    error = np.abs(surface.values.ravel() - exact).max()
    assert error <= LONE_POINT_TOLERANCE[kernel] * exact.max()
    reach = (H * (4 if kernel == "gaussian" else 1)) + 50 * math.sqrt(2)
    gx, gy = grid_centres(surface)
    far = np.hypot(gx - where[0], gy - where[1]) > reach
    assert (surface.values.ravel()[far] == 0).all()


def test_the_uniform_disc_stands_about_one_over_pi_h_squared_high():
    surface = kernel_density(
        [530_025.0], [180_025.0], bandwidth=H, kernel="uniform", bounds=SQUARE
    )
    height = 1 / (math.pi * H**2) * 1e6
    assert surface.values.max() == pytest.approx(height, rel=0.15)  # 69 cells, not 78.5
    assert surface.total_harm == pytest.approx(1.0, rel=1e-9)


def test_single_point_at_a_cell_centre_peaks_at_three_over_pi_h_squared():
    surface = kernel_density([530_025.0], [180_025.0], weights=[2.0], bandwidth=H, bounds=SQUARE)
    assert surface.values.max() == pytest.approx(2.0 * QUARTIC_PEAK_PER_KM2, rel=0.01)
    assert surface.sample([530_025.0], [180_025.0])[0] == surface.values.max()
    assert surface.total_harm == pytest.approx(2.0, rel=1e-9)
    # beyond the search radius there is nothing
    assert surface.sample([530_025.0 + H + 30], [180_025.0])[0] == 0.0


def test_grid_is_snapped_to_the_cell_size_and_sample_is_nan_off_the_grid():
    surface = kernel_density([530_012.0], [180_031.0], bounds=(529_010, 179_020, 530_990, 180_960))
    assert (surface.x_min, surface.y_min) == (529_000.0, 179_000.0)
    assert surface.bounds == (529_000.0, 179_000.0, 531_000.0, 181_000.0)
    assert surface.cell_area_km2 == pytest.approx(0.0025)
    assert np.isnan(surface.sample([528_000.0], [180_000.0])[0])
    with pytest.raises(ValueError, match="read-only"):
        surface.values[0, 0] = 1.0


# --- agreement with the direct sum -------------------------------------------------------------


def test_quartic_agrees_with_the_exact_kernel_sum_on_clustered_points():
    x, y, harm = clustered_points()
    surface = kernel_density(x, y, weights=harm, bandwidth=H, bounds=SQUARE)
    exact = exact_kernel_sum(x, y, harm, *grid_centres(surface), bandwidth_m=H).reshape(
        surface.shape
    )
    binned = surface.values
    error = np.abs(binned - exact)
    assert binned.sum() == pytest.approx(exact.sum(), rel=0.01)  # total on the grid
    assert binned.max() == pytest.approx(exact.max(), rel=0.01)  # the peak
    assert error.max() <= 0.01 * exact.max()  # everywhere, relative to the peak
    assert error.sum() <= 0.01 * exact.sum()  # L1
    busy = exact > 0.01 * exact.max()
    assert np.mean(error[busy] / exact[busy]) < 0.01  # mean relative error where it matters
    top = exact > 0.25 * exact.max()
    assert np.max(error[top] / exact[top]) < 0.02  # worst cell in the hotspots


def test_gaussian_agrees_with_the_exact_kernel_sum_cell_by_cell():
    x, y, harm = clustered_points()
    bounds = (528_000.0, 178_000.0, 532_000.0, 182_000.0)
    surface = kernel_density(x, y, weights=harm, bandwidth=H, kernel="gaussian", bounds=bounds)
    exact = exact_kernel_sum(
        x, y, harm, *grid_centres(surface), bandwidth_m=H, kernel="gaussian"
    ).reshape(surface.shape)
    busy = exact > 0.05 * exact.max()
    assert np.max(np.abs(surface.values - exact)[busy] / exact[busy]) < 0.01
    assert surface.total_harm == pytest.approx(harm.sum(), rel=0.01)


def test_simple_binning_is_available_and_conserves_harm():
    x, y, harm = clustered_points()
    wide = (528_000.0, 178_000.0, 532_000.0, 182_000.0)  # no kernel reaches off the grid
    surface = kernel_density(x, y, weights=harm, bandwidth=H, bounds=wide, binning="simple")
    assert surface.binning == "simple"
    assert surface.total_harm == pytest.approx(harm.sum(), rel=1e-9)


# --- weights -----------------------------------------------------------------------------------


def test_harm_weights_scale_linearly_and_add_up():
    x, y, harm = clustered_points()
    one = kernel_density(x, y, weights=harm, bandwidth=H, bounds=SQUARE).values
    tripled = kernel_density(x, y, weights=3 * harm, bandwidth=H, bounds=SQUARE).values
    np.testing.assert_allclose(tripled, 3 * one, rtol=1e-9, atol=1e-9 * one.max())
    first = kernel_density(x[:200], y[:200], weights=harm[:200], bandwidth=H, bounds=SQUARE)
    rest = kernel_density(x[200:], y[200:], weights=harm[200:], bandwidth=H, bounds=SQUARE)
    # additive up to the rim values below 0 that each surface sets to 0
    np.testing.assert_allclose(first.values + rest.values, one, atol=0.01 * one.max())


def test_without_weights_density_counts_incidents_per_km2():
    x, y, _ = clustered_points()
    counted = kernel_density(x, y, bandwidth=H, bounds=SQUARE)
    ones = kernel_density(x, y, weights=np.ones(len(x)), bandwidth=H, bounds=SQUARE)
    np.testing.assert_array_equal(counted.values, ones.values)
    assert counted.total_harm == pytest.approx(len(x), rel=0.01)
    assert counted.n_points == 500 and counted.total_weight == 500.0


def test_zero_points_give_an_all_zero_grid():
    surface = kernel_density([], [], weights=[], bounds=SQUARE)
    assert surface.shape == (40, 40) and (surface.values == 0).all()
    assert surface.n_points == 0 and surface.total_weight == 0.0
    assert surface.bandwidth.bandwidth_m == 250.0
    inside = kernel_density([], [], study_area=shapely.box(*SQUARE).buffer(-500))
    assert np.nanmax(inside.values) == 0.0


def test_zero_weights_give_an_all_zero_grid():
    surface = kernel_density([530_000.0, 530_100.0], [180_000.0, 180_000.0], weights=[0, 0])
    assert (surface.values == 0).all()


# --- edges -------------------------------------------------------------------------------------


def test_edge_correction_raises_density_at_the_boundary_and_leaves_the_interior_alone():
    # 10 m lattice of points filling the square: 10,000 incidents per km² everywhere
    ticks_x = np.arange(SQUARE[0] + 5, SQUARE[2], 10.0)
    ticks_y = np.arange(SQUARE[1] + 5, SQUARE[3], 10.0)
    x, y = (a.ravel() for a in np.meshgrid(ticks_x, ticks_y))
    area = shapely.box(*SQUARE)
    plain = kernel_density(x, y, bandwidth=H, study_area=area)
    corrected = kernel_density(x, y, bandwidth=H, study_area=area, edge_correction=True)
    gx, gy = np.meshgrid(plain.x_centres, plain.y_centres)
    to_edge = np.minimum.reduce([gx - SQUARE[0], SQUARE[2] - gx, gy - SQUARE[1], SQUARE[3] - gy])
    interior = to_edge > H
    np.testing.assert_allclose(corrected.values[interior], plain.values[interior], rtol=1e-12)
    np.testing.assert_allclose(plain.values[interior], 10_000, rtol=0.01)
    edge = to_edge < 50
    assert (corrected.values[edge] > 1.5 * plain.values[edge]).all()  # about 2x, 4x at corners
    np.testing.assert_allclose(corrected.values[edge], 10_000, rtol=0.05)
    assert corrected.edge_correction and not plain.edge_correction


def test_cells_outside_the_study_area_are_nan():
    area = shapely.Point(530_000, 180_000).buffer(600)
    surface = kernel_density([530_000.0], [180_000.0], bandwidth=H, study_area=area)
    gx, gy = np.meshgrid(surface.x_centres, surface.y_centres)
    outside = ~shapely.contains_xy(area, gx, gy)
    assert np.isnan(surface.values[outside]).all()
    assert np.isfinite(surface.values[~outside]).all()


def test_edge_correction_needs_an_edge():
    with pytest.raises(SchemaError, match="needs the study area's edge"):
        kernel_density([530_000.0], [180_000.0], edge_correction=True)


# --- bandwidth ---------------------------------------------------------------------------------


def test_default_bandwidth_is_a_stated_fixed_250_m():
    x, y, harm = clustered_points()
    chosen = choose_bandwidth(x, y, weights=harm)
    assert (chosen.bandwidth_m, chosen.rule, chosen.adjust) == (250.0, "fixed", 1.0)
    assert "250 m" in chosen.detail and "Scott's rule" in chosen.detail
    assert kernel_density(x, y, weights=harm, bounds=SQUARE).bandwidth == chosen


def test_scott_and_silverman_on_four_corners_of_a_square():
    # every point is a*sqrt(2) from the centre: SD = median distance = a*sqrt(2), n = 4
    a = 300.0
    x = [530_000 - a, 530_000 + a, 530_000 - a, 530_000 + a]
    y = [180_000 - a, 180_000 - a, 180_000 + a, 180_000 + a]
    scott = choose_bandwidth(x, y, rule="scott")
    assert scott.bandwidth_m == pytest.approx(a * 4 ** (-1 / 6))
    assert scott.standard_distance_m == pytest.approx(a * math.sqrt(2))
    assert scott.n_effective == pytest.approx(4)
    assert "Scott's rule on the weighted standard distance" in scott.detail
    silverman = choose_bandwidth(x, y, rule="silverman")
    assert silverman.bandwidth_m == pytest.approx(0.9 * a * math.sqrt(2) * 4 ** (-0.2))
    halved = choose_bandwidth(x, y, rule="scott", adjust=0.5)
    assert halved.bandwidth_m == pytest.approx(scott.bandwidth_m / 2)
    assert "x adjust 0.5" in halved.detail and halved.adjust == 0.5
    # scaling every harm leaves the effective n, and so the bandwidth, unchanged
    weighted = choose_bandwidth(x, y, weights=[7.0] * 4, rule="scott")
    assert weighted.bandwidth_m == pytest.approx(scott.bandwidth_m)


def test_kish_effective_n_counts_heavy_points_once():
    x = [530_000.0, 530_100.0, 530_200.0]
    chosen = choose_bandwidth(x, [180_000.0] * 3, weights=[1.0, 1.0, 2.0], rule="scott")
    assert chosen.n_effective == pytest.approx(16 / 6)


def test_bandwidth_errors_say_what_to_do():
    with pytest.raises(SchemaError, match="only with rule='fixed'"):
        choose_bandwidth([530_000.0, 530_100.0], [180_000.0] * 2, rule="scott", bandwidth_m=200)
    with pytest.raises(SchemaError, match="at least two distinct points"):
        choose_bandwidth([530_000.0], [180_000.0], rule="silverman")
    with pytest.raises(SchemaError, match="not known"):
        choose_bandwidth([530_000.0], [180_000.0], rule="cv")
    with pytest.raises(SchemaError, match="adjust must be"):
        choose_bandwidth([530_000.0], [180_000.0], adjust=0)


def test_a_number_is_taken_as_a_fixed_bandwidth_and_a_tiny_one_warns():
    surface = kernel_density([530_000.0], [180_000.0], bandwidth=400, bounds=SQUARE)
    assert isinstance(surface.bandwidth, Bandwidth)
    assert (surface.bandwidth.rule, surface.bandwidth.bandwidth_m) == ("fixed", 400.0)
    with pytest.warns(HotspotsWarning, match="less than twice the cell size"):
        kernel_density([530_000.0], [180_000.0], bandwidth=60, bounds=SQUARE)


# --- bad input ---------------------------------------------------------------------------------


def test_mismatched_lengths_and_bad_weights_are_refused_together():
    with pytest.raises(SchemaError) as caught:
        kernel_density([530_000.0, 530_100.0, np.nan], [180_000.0, 180_000.0], weights=[1.0])
    message = str(caught.value)
    assert "x_m has 3 values but y_m has 2" in message
    assert "weights has 1 values" in message and "NaN or infinite" in message


def test_negative_or_nan_weights_are_refused():
    with pytest.raises(SchemaError, match=r"1 weight\(s\) are negative"):
        kernel_density([530_000.0, 530_100.0], [180_000.0] * 2, weights=[1.0, -2.0])
    with pytest.raises(SchemaError, match=r"1 weight\(s\) are NaN"):
        kernel_density([530_000.0, 530_100.0], [180_000.0] * 2, weights=[1.0, np.nan])


def test_degrees_are_refused():
    with pytest.raises(CRSError, match="look like degrees"):
        kernel_density([-0.1281, -0.1146], [51.5080, 51.4613])
    with pytest.raises(CRSError, match="look like degrees"):
        choose_bandwidth([-0.1281, -0.1146], [51.5080, 51.4613], rule="scott")
    with pytest.raises(CRSError, match="degrees"):
        kernel_density([530_000.0], [180_000.0], crs="EPSG:4326")
    with pytest.raises(CRSError, match="degrees"):
        kernel_density([530_000.0], [180_000.0], study_area=shapely.box(-0.2, 51.4, 0.0, 51.6))


def test_unknown_kernel_and_huge_grids_are_refused():
    with pytest.raises(SchemaError, match="Kernel 'biweight' is not known"):
        kernel_density([530_000.0], [180_000.0], kernel="biweight")
    with pytest.raises(SchemaError, match="use a larger cell_size_m"):
        kernel_density([530_000.0], [180_000.0], bounds=(0, 0, 700_000, 1_300_000))


# --- sampling to cells -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_cells():
    square = shapely.box(529_500, 180_000, 530_500, 181_000)
    frame = gpd.GeoDataFrame({"code": ["SQ"], "name": ["square"]}, geometry=[square], crs=27700)
    areas = areas_from_frame(frame, code_column="code", name_column="name", kind="borough")
    return make_grid(areas, resolution=9)


def flat_surface(value: float, bounds=SQUARE) -> DensityGrid:
    n_cols = int((bounds[2] - bounds[0]) / 50)
    n_rows = int((bounds[3] - bounds[1]) / 50)
    return DensityGrid(
        values=np.full((n_rows, n_cols), value),
        x_min=bounds[0],
        y_min=bounds[1],
        cell_size_m=50.0,
        crs="EPSG:27700",
        bandwidth=choose_bandwidth([], []),
        kernel="quartic",
        edge_correction=False,
        binning="linear",
        n_points=0,
        total_weight=0.0,
    )


def test_density_per_cell_is_the_mean_over_grid_centres_in_each_hexagon(small_cells):
    flat = density_per_cell(flat_surface(7.0), small_cells)
    assert flat.name == DENSITY and flat.index.equals(small_cells.index)
    assert flat.index.name == schema.CELL_ID
    np.testing.assert_allclose(flat.to_numpy(), 7.0)
    # a surface rising west to east: each hexagon gets about its centre's value
    base = flat_surface(0.0)
    ramp = DensityGrid(**{**base.__dict__, "values": np.tile(base.x_centres - 529_000, (40, 1))})
    sloped = density_per_cell(ramp, small_cells)
    centres_x = small_cells.geometry.centroid.x - 529_000
    np.testing.assert_allclose(sloped.to_numpy(), centres_x.to_numpy(), atol=15)


def test_density_per_cell_puts_the_hotspot_in_the_right_hexagon(small_cells):
    point = small_cells.geometry.iloc[5].centroid
    surface = kernel_density([point.x], [point.y], bandwidth=H, bounds=SQUARE)
    per_cell = density_per_cell(surface, small_cells)
    assert per_cell.idxmax() == small_cells.index[5]


def test_a_cell_smaller_than_a_grid_cell_takes_the_value_at_its_centre():
    surface = kernel_density([530_025.0], [180_025.0], weights=[2.0], bandwidth=H, bounds=SQUARE)
    tiny = gpd.GeoDataFrame(
        geometry=[shapely.box(530_010, 180_010, 530_020, 180_020), shapely.box(0, 0, 10, 10)],
        index=pd.Index(["a", "b"], name=schema.CELL_ID),
        crs=27700,
    )
    per_cell = density_per_cell(surface, tiny)
    assert per_cell["a"] == surface.values.max()
    assert np.isnan(per_cell["b"])  # off the grid


def test_a_sliver_outside_the_study_area_takes_the_nearest_value_inside():
    area = shapely.box(529_500, 179_500, 530_500, 180_500)
    surface = kernel_density([530_480.0], [180_000.0], bandwidth=H, study_area=area, bounds=SQUARE)
    sliver = gpd.GeoDataFrame(
        geometry=[shapely.box(530_495, 179_990, 530_560, 180_010)],  # centroid outside
        index=pd.Index(["edge"], name=schema.CELL_ID),
        crs=27700,
    )
    assert density_per_cell(surface, sliver)["edge"] == surface.sample([530_475], [180_000])[0]


def test_density_for_detect_states_every_choice(small_cells):
    points = small_cells.geometry.iloc[:5].centroid
    study = shapely.box(529_500, 180_000, 530_500, 181_000)
    found = density_for_detect(
        points.x, points.y, [244.75] * 5, cells=small_cells, study_area=study
    )
    assert found.density.index.equals(small_cells.index) and found.density.notna().all()
    assert "Quartic kernel density of harm on a 50 m grid" in found.choice
    assert "250 m" in found.choice and "edge-corrected" in found.choice
    params = json.loads(json.dumps(found.parameters))
    assert params["bandwidth_rule"] == "fixed" and params["bandwidth_m"] == 250.0
    assert params["unit"] == "harm per km2" and params["cells_without_value"] == 0
    scott = density_for_detect(
        points.x, points.y, [1.0] * 5, cells=small_cells, study_area=study, rule="scott"
    )
    assert scott.parameters["bandwidth_rule"] == "scott" and "Scott's rule" in scott.choice


def test_density_per_cell_refuses_cells_in_another_crs(small_cells):
    with pytest.raises(CRSError, match="reproject the cells"):
        density_per_cell(flat_surface(1.0), small_cells.to_crs(3857))


# --- real data ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def burglary_cells():
    folder = DATA / "police_uk" / "met_burglary"
    months = [folder / f"2024-{m}-metropolitan-street.csv.gz" for m in ("07", "08")]
    incidents = read_incidents(months).incidents
    boroughs = london_boroughs()
    cells = count_in_cells(incidents, make_grid(boroughs, resolution=9))
    surface = kernel_density(
        incidents.geometry.x,
        incidents.geometry.y,
        weights=incidents[schema.HARM],
        bounds=cells.total_bounds,  # every hexagon's centroid on the grid
        study_area=boroughs,
        edge_correction=True,
    )
    return incidents, cells, surface


def test_met_burglary_density_follows_harm_per_cell(burglary_cells):
    incidents, cells, surface = burglary_cells
    assert surface.bandwidth.bandwidth_m == 250.0 and surface.kernel == "quartic"
    assert surface.n_points == len(incidents) > 5_000
    per_cell = density_per_cell(surface, cells)
    assert per_cell.notna().all()  # edge slivers take the nearest value inside London
    rho = spearmanr(per_cell, cells["harm"]).statistic
    assert rho > 0.7
    # harm is conserved up to what spills over the edge of London
    assert surface.total_harm == pytest.approx(incidents[schema.HARM].sum(), rel=0.02)


def test_met_burglary_surface_matches_the_exact_sum_at_its_hottest_cells(burglary_cells):
    incidents, _, surface = burglary_cells
    values = np.nan_to_num(surface.values, nan=-1.0)
    hottest = np.argsort(values.ravel())[-20:]
    rows, cols = np.unravel_index(hottest, surface.shape)
    px, py = surface.x_centres[cols], surface.y_centres[rows]
    plain = kernel_density(
        incidents.geometry.x,
        incidents.geometry.y,
        weights=incidents[schema.HARM],
        bounds=surface.bounds,
    )
    exact = exact_kernel_sum(
        incidents.geometry.x,
        incidents.geometry.y,
        incidents[schema.HARM],
        px,
        py,
        bandwidth_m=surface.bandwidth,
    )
    np.testing.assert_allclose(plain.sample(px, py), exact, rtol=0.01)
