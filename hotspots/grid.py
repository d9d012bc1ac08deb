"""H3 cells: the only module that converts between (lat, lng) and (x=lng, y=lat).

H3 takes latitude first; shapely, GeoJSON and pyproj (with ``always_xy``) take longitude
first. Everything else in the package passes named ``lon``/``lat`` arrays to these
functions and never calls H3 directly.
"""

from __future__ import annotations

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import pyarrow as pa
import shapely
from h3ronpy import vector as h3vector

from hotspots.errors import SchemaError
from hotspots.schema import CELL_ID, H3_RESOLUTIONS, WGS84, WORKING_CRS


def check_resolution(resolution: int) -> int:
    """Return ``resolution`` if it is an allowed H3 resolution, else raise SchemaError."""
    if resolution not in H3_RESOLUTIONS:
        raise SchemaError(
            f"H3 resolution {resolution} is not supported; use one of {list(H3_RESOLUTIONS)} "
            "(9 is about 0.1 km2 per cell)."
        )
    return resolution


def cells_from_lonlat(lon: np.ndarray, lat: np.ndarray, *, resolution: int) -> np.ndarray:
    """H3 cell index (uint64) of each point, vectorised.

    Parameters
    ----------
    lon, lat
        WGS84 degrees, finite.
    resolution
        H3 resolution, 8 to 11.

    Returns
    -------
    numpy.ndarray of uint64
        One H3 index per point.
    """
    check_resolution(resolution)
    lon = np.ascontiguousarray(lon, dtype=np.float64)
    lat = np.ascontiguousarray(lat, dtype=np.float64)
    if len(lon) == 0:
        return np.empty(0, dtype=np.uint64)
    cells = h3vector.coordinates_to_cells(lat, lon, resolution)
    return pa.array(cells).to_numpy(zero_copy_only=False).astype(np.uint64, copy=False)


def cell_strings(cells: np.ndarray) -> np.ndarray:
    """Hex strings (``"89195da49b7ffff"``) for uint64 H3 indexes, via a lookup of uniques."""
    cells = np.asarray(cells, dtype=np.uint64)
    if len(cells) == 0:
        return np.empty(0, dtype=object)
    unique, inverse = np.unique(cells, return_inverse=True)
    names = np.array([format(int(c), "x") for c in unique], dtype=object)
    return names[inverse.reshape(-1)]


def cell_ints(cell_ids: pd.Series | np.ndarray) -> np.ndarray:
    """uint64 H3 indexes from hex strings."""
    return np.array([int(c, 16) for c in np.asarray(cell_ids, dtype=object)], dtype=np.uint64)


def cell_polygons(
    cell_ids: pd.Index | list[str], *, crs: str = WORKING_CRS
) -> gpd.GeoDataFrame:
    """Hexagon polygons for H3 cells, indexed by ``cell_id``.

    Parameters
    ----------
    cell_ids
        H3 hex strings.
    crs
        CRS of the output geometries (H3 boundaries are computed in WGS84).
    """
    ids = pd.Index(sorted(set(cell_ids)), name=CELL_ID)
    rings = []
    for cell in ids:
        boundary = h3.cell_to_boundary(cell)  # ((lat, lng), ...)
        rings.append(shapely.Polygon([(lng, lat) for lat, lng in boundary]))
    frame = gpd.GeoDataFrame(geometry=rings, index=ids, crs=WGS84)
    return frame.to_crs(crs) if crs != WGS84 else frame


def cell_centres(cell_ids: pd.Index | list[str]) -> pd.DataFrame:
    """Centre ``lon``/``lat`` (WGS84) of each H3 cell, indexed by ``cell_id``."""
    ids = pd.Index(list(cell_ids), name=CELL_ID)
    latlng = np.array([h3.cell_to_latlng(c) for c in ids], dtype=np.float64).reshape(-1, 2)
    return pd.DataFrame({"lon": latlng[:, 1], "lat": latlng[:, 0]}, index=ids)


def cells_covering(
    boundary: gpd.GeoDataFrame | gpd.GeoSeries, *, resolution: int
) -> pd.Index:
    """Every H3 cell whose centre lies in the study area (cells with no incidents too).

    Parameters
    ----------
    boundary
        Polygons of the study area, any CRS.
    resolution
        H3 resolution.
    """
    check_resolution(resolution)
    shape = shapely.union_all(boundary.to_crs(WGS84).geometry.to_numpy())
    shape = shapely.make_valid(shape)
    polygons = list(shape.geoms) if hasattr(shape, "geoms") else [shape]
    cells: set[str] = set()
    for polygon in polygons:
        if polygon.geom_type != "Polygon" or polygon.is_empty:
            continue
        outer = [(lat, lng) for lng, lat in polygon.exterior.coords]
        holes = [[(lat, lng) for lng, lat in ring.coords] for ring in polygon.interiors]
        cells.update(h3.polygon_to_cells(h3.LatLngPoly(outer, *holes), resolution))
    return pd.Index(sorted(cells), name=CELL_ID)
