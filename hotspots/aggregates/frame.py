"""The in-memory source of aggregates: a tidy incidents frame reduced month by month.

It gives the same :class:`hotspots.aggregates.tables.Aggregates` as streaming a store
(:func:`hotspots.aggregates.store.aggregate_store`) holding the same rows, so detection runs
one path whatever the rows came from.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from hotspots.aggregates.tables import Aggregates, combine, reduce_table
from hotspots.core import schema
from hotspots.core.errors import InputError, SchemaError

_OPTIONAL_TEXT = (schema.LOCATION, schema.BOROUGH_CODE, schema.BOROUGH, schema.OFFENCE)


def _text(values: pd.Series) -> pa.Array:
    return pa.array(values.astype(object).where(values.notna(), None).to_numpy(), type=pa.string())


def _table(rows: pd.DataFrame) -> pa.Table:
    """Build the store columns that aggregation reads from frame rows."""
    n = len(rows)
    columns = {
        schema.GEOMETRY: pa.StructArray.from_arrays(
            [
                pa.array(rows.geometry.x.to_numpy(np.float64)),
                pa.array(rows.geometry.y.to_numpy(np.float64)),
            ],
            names=["x", "y"],
        ),
        schema.HARM: pa.array(rows[schema.HARM].to_numpy(np.float64)),
        schema.CELL_ID: _text(rows[schema.CELL_ID]),
        schema.SOURCE_FILE: _text(rows[schema.SOURCE_FILE])
        if schema.SOURCE_FILE in rows
        else pa.array([""] * n, type=pa.string()),
        schema.SOURCE_ROW: pa.array(
            rows[schema.SOURCE_ROW].to_numpy(np.int64)
            if schema.SOURCE_ROW in rows
            else np.arange(n, dtype=np.int64)
        ),
    }
    for name in _OPTIONAL_TEXT:
        columns[name] = _text(rows[name]) if name in rows else pa.array([""] * n, type=pa.string())
    return pa.table(columns)


def aggregate_frame(incidents: pd.DataFrame) -> Aggregates:
    """Reduce tidy incidents (in memory) to the aggregates every hotspot method needs.

    Parameters
    ----------
    incidents
        Tidy incidents with ``month``, ``harm``, ``cell_id`` and point geometry in a
        projected CRS (from :func:`hotspots.read_incidents` or :func:`hotspots.read_store`).
        ``location``, ``borough_code``, ``borough``, ``offence``, ``source_file`` and
        ``source_row`` are used when present. Rows without a cell are left out, as in
        the store.

    Returns
    -------
    Aggregates
        As :func:`hotspots.aggregates.store.aggregate_store` on a store of the same rows.

    Raises
    ------
    InputError
        If no incident has a cell.
    SchemaError
        If a needed column is missing or the CRS is geographic.
    """
    schema.require_columns(
        incidents, [schema.MONTH, schema.HARM, schema.CELL_ID], name="incidents"
    )
    crs = getattr(incidents, "crs", None)
    if crs is None or crs.is_geographic:
        raise SchemaError(
            "incidents must be a GeoDataFrame in a projected CRS (metres); load them with "
            "read_incidents or read_store."
        )
    placed = incidents[incidents[schema.CELL_ID].notna()]
    if placed.empty:
        raise InputError(
            "no incidents to analyse after the selection; check --months and --crime-type."
        )
    months = placed[schema.MONTH].astype(str)
    parts = []
    for month, rows in placed.groupby(months.to_numpy(), sort=True):
        files = rows[schema.SOURCE_FILE].astype(str) if schema.SOURCE_FILE in rows else None
        ranks = {f: i for i, f in enumerate(sorted(set(files)))} if files is not None else {"": 0}
        parts.append(reduce_table(_table(rows), month=str(month), file_rank=ranks))
    return combine(parts)
