"""Grid and counts per cell: zeros present, counts conserved, unknown cells refused."""

from __future__ import annotations

import geopandas as gpd
import h3
import pandas as pd
import pytest
import shapely

from hotspots.core import schema
from hotspots.core.errors import SchemaError
from hotspots.geo.boundaries import london_boroughs
from hotspots.geo.geocode import areas_from_frame
from hotspots.geo.grid import cells_from_lonlat, make_grid
from hotspots.methods.counts import count_in_cells


@pytest.fixture(scope="module")
def small_area():
    # a 1 km square around Trafalgar Square, in British National Grid
    square = shapely.box(529_500, 180_000, 530_500, 181_000)
    frame = gpd.GeoDataFrame({"code": ["SQ"], "name": ["square"]}, geometry=[square], crs=27700)
    return areas_from_frame(frame, code_column="code", name_column="name", kind="borough")


def test_grid_covers_the_area_with_every_cell(small_area):
    grid = make_grid(small_area, resolution=9)
    assert grid.index.name == schema.CELL_ID and grid.index.is_monotonic_increasing
    assert grid.geometry.union_all().covers(small_area.polygons.geometry.iloc[0].buffer(-1))
    assert set(grid[schema.BOROUGH_CODE]) == {"SQ"}
    assert h3.latlng_to_cell(51.5080, -0.1281, 9) in grid.index


def test_counts_and_harm_per_cell_keep_zeros_and_conserve_totals(small_area):
    grid = make_grid(small_area, resolution=9)
    cell = h3.latlng_to_cell(51.5080, -0.1281, 9)
    incidents = pd.DataFrame({schema.CELL_ID: [cell, cell, None], schema.HARM: [1.0, 2.5, 9.0]})
    cells = count_in_cells(incidents, grid)
    assert cells.loc[cell, "incidents"] == 2 and cells.loc[cell, "harm"] == 3.5
    assert (cells.drop(index=cell)["incidents"] == 0).all()
    assert cells["incidents"].sum() == 2
    assert not cells["harm"].isna().any()
    assert list(grid.columns) == list(cells.columns[: len(grid.columns)])


def test_cells_not_in_the_grid_are_refused(small_area):
    grid = make_grid(small_area, resolution=9)
    far = h3.latlng_to_cell(53.48, -2.24, 9)  # Manchester
    with pytest.raises(SchemaError, match="not in cells"):
        count_in_cells(pd.DataFrame({schema.CELL_ID: [far], schema.HARM: [1.0]}), grid)


def test_vectorised_cells_match_h3():
    lon = [-0.1281, -0.1146, 0.0]
    lat = [51.5080, 51.4613, 51.55]
    cells = cells_from_lonlat(pd.Series(lon).to_numpy(), pd.Series(lat).to_numpy(), resolution=10)
    assert [format(int(c), "x") for c in cells] == [
        h3.latlng_to_cell(b, a, 10) for a, b in zip(lon, lat, strict=False)
    ]


def test_london_grid_assigns_every_cell_a_borough():
    grid = make_grid(london_boroughs(), resolution=8)
    assert grid[schema.BOROUGH_CODE].notna().all()
    assert grid[schema.BOROUGH_CODE].nunique() == 33
