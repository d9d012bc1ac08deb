"""Point-in-polygon assignment of incidents to areas (boroughs, wards, LSOAs).

The work is done once per *distinct* coordinate, not per incident: data.police.uk
publishes anonymised "snap points", so many incidents share one point. Points are tested
with :func:`shapely.contains_xy` against prepared polygons found through an STRtree, so no
shapely object is built per incident.

Decisions, each counted by :func:`assign_areas`:

* a point strictly inside one area gets that area;
* a point exactly on the shared boundary of several areas gets the one with the lowest
  code (``on_boundary``);
* a point outside every area but within ``snap_m`` metres of one (a Thames bridge, say:
  London's borough file excludes the tidal river) gets the nearest area (``snapped``);
* anything else is outside the study area and the caller rejects it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from hotspots.core.errors import CRSError, InputError, SchemaError
from hotspots.core.schema import WORKING_CRS

DEFAULT_SNAP_M = 50.0
"""Points this close to an area (but outside all) are given to the nearest one."""


@dataclass(frozen=True)
class Areas:
    """Polygons to assign points to, in the working CRS.

    Attributes
    ----------
    polygons
        GeoDataFrame indexed by area code with a ``name`` column, sorted by code.
    kind
        What the areas are (``"borough"``, ``"ward"``, ``"lsoa"``...), for messages.
    source
        Where they were read from.
    """

    polygons: gpd.GeoDataFrame
    kind: str
    source: str

    @property
    def codes(self) -> np.ndarray:
        """Area codes in index order."""
        return self.polygons.index.to_numpy(dtype=object)

    @property
    def names(self) -> np.ndarray:
        """Area names in index order."""
        return self.polygons["name"].to_numpy(dtype=object)

    @cached_property
    def outline(self) -> shapely.Geometry:
        """Union of all areas."""
        return shapely.union_all(self.polygons.geometry.to_numpy())

    def widened(self, distance_m: float) -> shapely.Geometry:
        """Return the outline grown by ``distance_m`` (slightly more, never less), prepared."""
        cache = self.__dict__.setdefault("_widened", {})
        if distance_m not in cache:
            # simplify first (much faster to buffer), and grow by the tolerance as well
            tolerance = max(distance_m / 10.0, 0.5)
            simple = shapely.simplify(self.outline, tolerance)
            grown = shapely.buffer(simple, distance_m * 1.03 + tolerance + 1.0, quad_segs=4)
            shapely.prepare(grown)
            cache[distance_m] = grown
        return cache[distance_m]


def areas_from_frame(
    frame: gpd.GeoDataFrame,
    *,
    code_column: str,
    name_column: str | None = None,
    kind: str = "area",
    source: str = "<frame>",
    working_crs: str = WORKING_CRS,
) -> Areas:
    """Build :class:`Areas` from any polygon layer.

    Parameters
    ----------
    frame
        Polygons with a CRS.
    code_column
        Column holding a unique code per area (e.g. ``GSS_CODE``).
    name_column
        Column holding a readable name; defaults to the code.
    kind
        What the areas are, used in messages and output column names.
    source
        Where the layer came from, for the manifest.
    working_crs
        Projected CRS (metres) to reproject to.

    Raises
    ------
    SchemaError
        If a column is missing, codes repeat, or geometries are not polygons.
    CRSError
        If the layer has no CRS.
    """
    missing = [c for c in (code_column, name_column) if c and c not in frame.columns]
    if missing:
        raise SchemaError(
            f"{source} has no column {', '.join(repr(m) for m in missing)}; it has "
            f"{', '.join(repr(c) for c in frame.columns if c != 'geometry')}. "
            "Pass the right --area-code/--area-name."
        )
    if frame.crs is None:
        raise CRSError(f"{source} has no CRS; set one (e.g. EPSG:27700) before using it.")
    if frame.empty:
        raise InputError(f"{source} has no polygons.")
    geom_types = set(frame.geom_type.dropna())
    if not geom_types <= {"Polygon", "MultiPolygon"}:
        raise SchemaError(
            f"{source} holds {sorted(geom_types)} geometries; areas must be polygons."
        )
    codes = frame[code_column].astype(str).str.strip()
    if codes.duplicated().any():
        dup = codes[codes.duplicated()].iloc[0]
        raise SchemaError(
            f"{source}: code {dup!r} appears more than once in {code_column!r}; "
            "codes must be unique (dissolve the layer first)."
        )
    names = frame[name_column].astype(str).str.strip() if name_column else codes
    polygons = gpd.GeoDataFrame(
        {"name": names.to_numpy()},
        geometry=shapely.make_valid(frame.geometry.to_crs(working_crs).to_numpy()),
        index=pd.Index(codes.to_numpy(), name="code"),
        crs=working_crs,
    ).sort_index()
    return Areas(polygons=polygons, kind=kind, source=source)


def read_areas(
    path: str | Path,
    *,
    code_column: str,
    name_column: str | None = None,
    kind: str = "area",
    layer: str | None = None,
    working_crs: str = WORKING_CRS,
) -> Areas:
    """Read a boundary file (GeoJSON, GeoPackage, shapefile, GeoParquet) as :class:`Areas`.

    Raises
    ------
    InputError
        If the file does not exist or cannot be read.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"boundary file not found: {path}")
    try:
        if path.suffix.lower() in (".parquet", ".geoparquet"):
            frame = gpd.read_parquet(path)
        else:
            frame = gpd.read_file(path, layer=layer)
    except Exception as exc:  # noqa: BLE001 (any reader failure is bad input)
        raise InputError(f"cannot read boundary file {path}: {exc}") from None
    return areas_from_frame(
        frame,
        code_column=code_column,
        name_column=name_column,
        kind=kind,
        source=str(path),
        working_crs=working_crs,
    )


@dataclass(frozen=True)
class Assignment:
    """Result of :func:`assign_areas` for arrays of points.

    Attributes
    ----------
    index
        Position of the area in ``Areas.polygons`` for each point, or -1 if outside.
    on_boundary_mask
        Points on a shared boundary (given to the lowest code).
    snapped_mask
        Points outside every area, given to the nearest one within the tolerance.
    """

    index: np.ndarray
    on_boundary_mask: np.ndarray
    snapped_mask: np.ndarray

    @property
    def on_boundary(self) -> int:
        """Number of points on a shared boundary."""
        return int(self.on_boundary_mask.sum())

    @property
    def snapped(self) -> int:
        """Number of points snapped to the nearest area."""
        return int(self.snapped_mask.sum())


def assign_areas(
    x_m: np.ndarray,
    y_m: np.ndarray,
    areas: Areas,
    *,
    snap_m: float = DEFAULT_SNAP_M,
) -> Assignment:
    """Find the area each point lies in.

    Parameters
    ----------
    x_m, y_m
        Point coordinates in the areas' CRS (metres), finite.
    areas
        From :func:`read_areas` or :func:`areas_from_frame`.
    snap_m
        Tolerance for points just outside every area; 0 turns snapping off.

    Returns
    -------
    Assignment
        Area position per point (-1 when outside) and masks of the special cases.
    """
    x_m = np.asarray(x_m, dtype=np.float64)
    y_m = np.asarray(y_m, dtype=np.float64)
    if areas.polygons.crs is not None and areas.polygons.crs.is_geographic:
        raise CRSError("assign_areas needs areas in a projected CRS (metres).")
    if len(x_m) == 0:
        empty = np.zeros(0, dtype=bool)
        return Assignment(np.empty(0, dtype=np.int64), empty, empty)

    # one test per distinct coordinate
    inverse, unique_key = pd.factorize(x_m + 1j * y_m)
    ux, uy = np.ascontiguousarray(unique_key.real), np.ascontiguousarray(unique_key.imag)
    order = np.argsort(ux, kind="stable")
    sorted_x = ux[order]

    geoms = areas.polygons.geometry.to_numpy()
    bounds = shapely.bounds(geoms)
    shapely.prepare(geoms)
    found = np.full(len(ux), -1, dtype=np.int64)
    boundary_hits = np.zeros(len(ux), dtype=np.int64)
    for area_pos, geom in enumerate(geoms):
        minx, miny, maxx, maxy = bounds[area_pos]
        lo = np.searchsorted(sorted_x, minx, side="left")
        hi = np.searchsorted(sorted_x, maxx, side="right")
        candidates = order[lo:hi]
        candidates = candidates[(uy[candidates] >= miny) & (uy[candidates] <= maxy)]
        if len(candidates) == 0:
            continue
        inside = shapely.contains_xy(geom, ux[candidates], uy[candidates])
        hit = candidates[inside]
        found[hit[found[hit] < 0]] = area_pos
        rest = candidates[~inside]
        if len(rest):
            edge = rest[shapely.intersects_xy(geom, ux[rest], uy[rest])]
            boundary_hits[edge] += 1
            found[edge[found[edge] < 0]] = area_pos  # areas sorted by code: lowest wins

    on_boundary = (boundary_hits > 0) & (found >= 0)
    snapped = np.zeros(len(ux), dtype=bool)
    outside = np.flatnonzero(found < 0)
    if snap_m > 0 and len(outside):
        # most outside points are far away: test them against the widened outline first
        near = shapely.contains_xy(areas.widened(snap_m), ux[outside], uy[outside])
        outside = outside[near]
        points = shapely.points(ux[outside], uy[outside])
        area_tree = shapely.STRtree(geoms)
        pt_idx, area_idx = area_tree.query_nearest(points, max_distance=snap_m, all_matches=False)
        found[outside[pt_idx]] = area_idx
        snapped[outside[pt_idx]] = True

    return Assignment(
        index=found[inverse], on_boundary_mask=on_boundary[inverse], snapped_mask=snapped[inverse]
    )
