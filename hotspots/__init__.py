"""hotspots: harm hotspots, patrol tasking and stop-and-search reviews from police data.

The public API, listed explicitly::

    from hotspots import read_incidents, london_settings, make_grid, count_in_cells
"""

from hotspots.ingest.area_counts import AreaCounts, read_area_counts, totals_by_area
from hotspots.geo.boundaries import (
    custom_layers,
    london_boroughs,
    london_layers,
    london_lsoas,
    london_wards,
)
from hotspots.methods.clusters import Clusters, clusters_per_cell, find_clusters
from hotspots.methods.concentration import Concentration, measure_concentration
from hotspots.methods.counts import count_in_cells
from hotspots.detect.points import (
    Detection,
    DetectOptions,
    detect_area_hotspots,
    detect_hotspots,
    run_detect,
)
from hotspots.methods.emerging import emerging_hotspots, mann_kendall, space_time_cube
from hotspots.core.errors import CRSError, HotspotsError, HotspotsWarning, InputError, SchemaError
from hotspots.geo.geocode import Areas, areas_from_frame, assign_areas, read_areas
from hotspots.geo.grid import cell_polygons, cells_from_lonlat, make_grid
from hotspots.harm.table import HarmTable, default_harm_table, read_harm_table
from hotspots.ingest.read import (
    IngestSettings,
    Layers,
    Loaded,
    Selection,
    london_settings,
    parse_months,
    read_incidents,
    read_searches,
)
from hotspots.methods.kde import choose_bandwidth, density_per_cell, kernel_density
from hotspots.maps.draw import draw_harm_map
from hotspots.ingest.pipeline import IngestResult, ingest_to_store
from hotspots.methods.gi import (
    benjamini_hochberg,
    find_hotspots,
    gi_star,
    h3_neighbours,
    polygon_neighbours,
)
from hotspots.io.store import read_store

__version__ = "0.1.0"

__all__ = [
    "Clusters",
    "Concentration",
    "DetectOptions",
    "Detection",
    "benjamini_hochberg",
    "choose_bandwidth",
    "clusters_per_cell",
    "density_per_cell",
    "detect_area_hotspots",
    "detect_hotspots",
    "emerging_hotspots",
    "find_clusters",
    "find_hotspots",
    "gi_star",
    "h3_neighbours",
    "kernel_density",
    "mann_kendall",
    "measure_concentration",
    "polygon_neighbours",
    "run_detect",
    "space_time_cube",
    "AreaCounts",
    "Areas",
    "CRSError",
    "HarmTable",
    "HotspotsError",
    "HotspotsWarning",
    "IngestResult",
    "IngestSettings",
    "InputError",
    "Layers",
    "Loaded",
    "SchemaError",
    "Selection",
    "areas_from_frame",
    "assign_areas",
    "cell_polygons",
    "cells_from_lonlat",
    "count_in_cells",
    "custom_layers",
    "default_harm_table",
    "draw_harm_map",
    "ingest_to_store",
    "london_boroughs",
    "london_layers",
    "london_lsoas",
    "london_settings",
    "london_wards",
    "make_grid",
    "parse_months",
    "read_area_counts",
    "read_areas",
    "read_harm_table",
    "read_incidents",
    "read_searches",
    "read_store",
    "totals_by_area",
]
