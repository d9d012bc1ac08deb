"""Counts and harm per cell or per area."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from hotspots.core import schema
from hotspots.core.errors import SchemaError

INCIDENT_COUNT = "incidents"
"""Incidents per cell: the same name as in ``cells.parquet`` and every cells table."""
HARM_SUM = "harm"
"""Harm per cell (days of imprisonment, CCHI by default): the same name as in ``cells.parquet``."""


def count_in_cells(
    incidents: pd.DataFrame,
    cells: gpd.GeoDataFrame,
    *,
    weight: str | None = schema.HARM,
    key: str = schema.CELL_ID,
) -> gpd.GeoDataFrame:
    """Count incidents, and sum a weight column, in each cell (or area).

    Parameters
    ----------
    incidents
        Tidy incidents with a ``key`` column (``cell_id`` by default).
    cells
        Grid from :func:`hotspots.geo.grid.make_grid` (or areas), indexed by ``key`` values.
    weight
        Incident column to sum, e.g. ``"harm"``; ``None`` counts rows only.
    key
        Incident column that names the cell or area.

    Returns
    -------
    GeoDataFrame
        A copy of ``cells`` plus ``incidents`` (and the sum of ``weight`` under the same
        name, e.g. ``harm``): the column names of ``cells.parquet``. Cells without
        incidents hold 0, never NaN.

    Raises
    ------
    SchemaError
        If a column is missing or incidents name cells that the grid lacks.
    """
    needed = [key] if weight is None else [key, weight]
    schema.require_columns(incidents, needed, name="incidents")
    placed = incidents[incidents[key].notna()]
    unknown = pd.Index(placed[key].unique()).difference(cells.index)
    if len(unknown):
        raise SchemaError(
            f"{len(unknown)} {key} value(s) in incidents are not in cells, e.g. "
            f"{sorted(map(str, unknown))[:3]}; build the grid over the same study area and "
            "resolution as the incidents."
        )
    grouped = placed.groupby(key, sort=False)
    out = cells.assign(
        **{INCIDENT_COUNT: grouped.size().reindex(cells.index, fill_value=0).astype(np.int64)}
    )
    if weight is not None:
        out[weight] = grouped[weight].sum().reindex(cells.index, fill_value=0.0).astype(np.float64)
    return out
