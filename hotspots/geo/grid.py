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
from pyproj import Transformer

from hotspots.core.errors import SchemaError
from hotspots.core.schema import BOROUGH, BOROUGH_CODE, CELL_ID, H3_RESOLUTIONS, WGS84, WORKING_CRS
from hotspots.geo.geocode import Areas


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
    """Hex strings (``"89195da49b7ffff"``) for uint64 H3 indexes, vectorised."""
    cells = np.asarray(cells, dtype=np.uint64)
    if len(cells) == 0:
        return np.empty(0, dtype=object)
    import h3ronpy

    text = h3ronpy.cells_to_string(pa.array(cells, pa.uint64()))
    return np.asarray(pa.array(text).to_numpy(zero_copy_only=False), dtype=object)


def cell_ints(cell_ids: pd.Series | np.ndarray) -> np.ndarray:
    """uint64 H3 indexes from hex strings."""
    return np.array([int(c, 16) for c in np.asarray(cell_ids, dtype=object)], dtype=np.uint64)


def cell_polygons(cell_ids: pd.Index | list[str], *, crs: str = WORKING_CRS) -> gpd.GeoDataFrame:
    """Hexagon polygons for H3 cells, indexed by ``cell_id``.

    Parameters
    ----------
    cell_ids
        H3 hex strings.
    crs
        CRS of the output geometries (H3 boundaries are computed in WGS84).
    """
    ids = pd.Index(sorted(set(cell_ids)), name=CELL_ID)
    if len(ids):
        wkb = h3vector.cells_to_wkb_polygons(pa.array(cell_ints(ids), pa.uint64()))
        rings = shapely.from_wkb(pa.array(wkb).to_numpy(zero_copy_only=False))
    else:
        rings = np.empty(0, dtype=object)
    frame = gpd.GeoDataFrame(geometry=rings, index=ids, crs=WGS84)
    return frame.to_crs(crs) if crs != WGS84 else frame


def cell_centres(cell_ids: pd.Index | list[str]) -> pd.DataFrame:
    """Centre ``lon``/``lat`` (WGS84) of each H3 cell, indexed by ``cell_id``."""
    ids = pd.Index(list(cell_ids), name=CELL_ID)
    latlng = np.array([h3.cell_to_latlng(c) for c in ids], dtype=np.float64).reshape(-1, 2)
    return pd.DataFrame({"lon": latlng[:, 1], "lat": latlng[:, 0]}, index=ids)


SIMPLIFY_M = 5.0
"""Tolerance for the outline given to H3: simplified, then grown by as much, so that the
cells found still cover every point of the true outline (and a few more at the edge)."""


def _h3_shapes(boundary: gpd.GeoSeries) -> list[h3.LatLngPoly]:
    union = shapely.union_all(boundary.to_numpy())
    if boundary.crs is not None and not boundary.crs.is_geographic:
        union = shapely.buffer(shapely.simplify(union, SIMPLIFY_M), SIMPLIFY_M, quad_segs=2)
    wgs = gpd.GeoSeries([union], crs=boundary.crs).to_crs(WGS84).iloc[0]
    shape = shapely.make_valid(wgs)
    polygons = shapely.get_parts(shape)
    out = []
    for polygon in polygons:
        if polygon.geom_type != "Polygon" or polygon.is_empty:
            continue
        outer = [(lat, lng) for lng, lat in polygon.exterior.coords]
        holes = [[(lat, lng) for lng, lat in ring.coords] for ring in polygon.interiors]
        out.append(h3.LatLngPoly(outer, *holes))
    return out


def cells_covering(boundary: gpd.GeoSeries, *, resolution: int) -> pd.Index:
    """Every H3 cell that overlaps the study area (so every point inside has a cell).

    Parameters
    ----------
    boundary
        Polygons of the study area, any CRS.
    resolution
        H3 resolution.
    """
    check_resolution(resolution)
    cells: set[str] = set()
    for shape in _h3_shapes(boundary):
        cells.update(h3.polygon_to_cells_experimental(shape, resolution, contain="overlap"))
    return pd.Index(sorted(cells), name=CELL_ID)


def make_grid(areas: Areas, *, resolution: int = 9) -> gpd.GeoDataFrame:
    """All H3 cells over the study area, each with the area holding its centre.

    Cells with no incidents are included, so statistics see the zeros. A cell whose
    centre is outside every area (an edge cell over the river, say) is given the
    nearest area.

    Parameters
    ----------
    areas
        Study areas (e.g. :func:`hotspots.geo.boundaries.london_boroughs`).
    resolution
        H3 resolution, 8 to 11.

    Returns
    -------
    GeoDataFrame
        Indexed by ``cell_id`` (sorted), with ``borough_code``, ``borough``, ``lon``,
        ``lat`` (centre, WGS84), ``area_km2`` and hexagon ``geometry`` in the areas' CRS.
    """
    from hotspots.geo.geocode import assign_areas

    ids = cells_covering(areas.polygons.geometry, resolution=resolution)
    centres = cell_centres(ids)
    crs = areas.polygons.crs
    polygons = cell_polygons(ids, crs=crs)
    transformer = Transformer.from_crs(WGS84, crs, always_xy=True)
    x, y = transformer.transform(centres["lon"].to_numpy(), centres["lat"].to_numpy())
    edge_m = h3.average_hexagon_edge_length(resolution, unit="m")
    where = assign_areas(np.asarray(x), np.asarray(y), areas, snap_m=4 * edge_m).index
    codes = np.where(where >= 0, areas.codes[np.maximum(where, 0)], None)
    names = np.where(where >= 0, areas.names[np.maximum(where, 0)], None)
    return gpd.GeoDataFrame(
        {
            BOROUGH_CODE: pd.array(codes, dtype="string"),
            BOROUGH: pd.array(names, dtype="string"),
            "lon": centres["lon"].to_numpy(),
            "lat": centres["lat"].to_numpy(),
            "area_km2": [h3.cell_area(c, unit="km^2") for c in ids],
        },
        geometry=polygons.geometry.to_numpy(),
        index=ids,
        crs=crs,
    )
