"""hotspots: harm hotspots, patrol tasking and stop-and-search reviews from police data.

The public API, listed explicitly (each name is imported on first use, so ``import hotspots``
and ``hotspots --version`` stay fast)::

    from hotspots import read_incidents, london_settings, make_grid, count_in_cells

How the code is laid out
------------------------
One subpackage per stage of the data flow. **The rule of the house: a stage imports only
from the stages above it in this list** (and from itself, with no cycles);
``tests/test_layout.py`` reads every import with ``ast`` and fails otherwise.

1. ``core``: errors, column names and dtypes, where bundled data lives
2. ``engines``: where work runs (in this process, a process pool, a Dask cluster)
3. ``io``: source files and formats, the Parquet store, manifests, atomic writes, verify
4. ``geo``: boundaries, point-in-polygon, the H3 grid
5. ``harm``: offence -> harm weight tables
6. ``ingest``: validate, geocode and weight rows; into memory or into a store; area counts
7. ``aggregates``: per-cell, per-month and per-point sums, from a frame or a store
8. ``methods``: counts, concentration, kernel density, Gi*, clusters, emerging trends,
   forecasts
9. ``detect``: every method side by side on one set of aggregates; forecasts per cell/area
10. ``evaluate``: rolling-origin backtests and verdicts
11. ``task``: teams, candidate places, dosage, the patrol optimiser
12. ``stops``: the stop-and-search review (classify, rates, outcomes, hotspot share)
13. ``maps``: folium maps drawn from result tables (compute nothing)
14. ``reports``: HTML reports and figures drawn from results (compute nothing)
15. ``runs``: one function per command: read, compute, draw, write every output
16. ``cli``: the command line, one thin file per command
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

STAGES = (
    "core",
    "engines",
    "io",
    "geo",
    "harm",
    "ingest",
    "aggregates",
    "methods",
    "detect",
    "evaluate",
    "task",
    "stops",
    "maps",
    "reports",
    "runs",
    "cli",
)
"""The stages in data-flow order; a stage imports only from the stages before it."""

_PUBLIC = {
    "CRSError": "hotspots.core.errors",
    "HotspotsError": "hotspots.core.errors",
    "HotspotsWarning": "hotspots.core.errors",
    "InputError": "hotspots.core.errors",
    "SchemaError": "hotspots.core.errors",
    "DetectOptions": "hotspots.detect.points",
    "Detection": "hotspots.detect.points",
    "detect_area_hotspots": "hotspots.detect.points",
    "detect_hotspots": "hotspots.detect.points",
    "run_detect": "hotspots.detect.points",
    "Forecast": "hotspots.detect.forecast",
    "forecast_areas": "hotspots.detect.forecast",
    "forecast_cells": "hotspots.detect.forecast",
    "custom_layers": "hotspots.geo.boundaries",
    "london_boroughs": "hotspots.geo.boundaries",
    "london_layers": "hotspots.geo.boundaries",
    "london_lsoas": "hotspots.geo.boundaries",
    "london_wards": "hotspots.geo.boundaries",
    "Areas": "hotspots.geo.geocode",
    "areas_from_frame": "hotspots.geo.geocode",
    "assign_areas": "hotspots.geo.geocode",
    "read_areas": "hotspots.geo.geocode",
    "cell_polygons": "hotspots.geo.grid",
    "cells_from_lonlat": "hotspots.geo.grid",
    "make_grid": "hotspots.geo.grid",
    "HarmTable": "hotspots.harm.table",
    "default_harm_table": "hotspots.harm.table",
    "read_harm_table": "hotspots.harm.table",
    "AreaCounts": "hotspots.ingest.area_counts",
    "read_area_counts": "hotspots.ingest.area_counts",
    "totals_by_area": "hotspots.ingest.area_counts",
    "IngestResult": "hotspots.ingest.pipeline",
    "ingest_to_store": "hotspots.ingest.pipeline",
    "IngestSettings": "hotspots.ingest.read",
    "Layers": "hotspots.ingest.read",
    "Loaded": "hotspots.ingest.read",
    "Selection": "hotspots.ingest.read",
    "london_settings": "hotspots.ingest.read",
    "parse_months": "hotspots.ingest.read",
    "read_incidents": "hotspots.ingest.read",
    "read_searches": "hotspots.ingest.read",
    "read_store": "hotspots.io.store",
    "draw_harm_map": "hotspots.maps.draw",
    "Clusters": "hotspots.methods.clusters",
    "clusters_per_cell": "hotspots.methods.clusters",
    "find_clusters": "hotspots.methods.clusters",
    "Concentration": "hotspots.methods.concentration",
    "measure_concentration": "hotspots.methods.concentration",
    "count_in_cells": "hotspots.methods.counts",
    "emerging_hotspots": "hotspots.methods.emerging",
    "mann_kendall": "hotspots.methods.emerging",
    "space_time_cube": "hotspots.methods.emerging",
    "benjamini_hochberg": "hotspots.methods.gi",
    "find_hotspots": "hotspots.methods.gi",
    "gi_star": "hotspots.methods.gi",
    "h3_neighbours": "hotspots.methods.gi",
    "polygon_neighbours": "hotspots.methods.gi",
    "choose_bandwidth": "hotspots.methods.kde",
    "density_per_cell": "hotspots.methods.kde",
    "kernel_density": "hotspots.methods.kde",
    "forecast_matrix": "hotspots.methods.forecast_select",
}
"""Public name -> the module that defines it."""

__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'hotspots' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_PUBLIC])
