"""The incidents store: GeoParquet partitioned by month.

Layout of an ingest's ``--out`` folder::

    incidents/month=2024-01/part-0.parquet   street crime and generic incidents
    searches/month=2024-01/part-0.parquet    stop and search
    rejects.csv
    manifest.json

Each part file is GeoParquet 1.1: ``geometry`` uses the native GeoArrow ``point``
encoding (a struct of ``x``, ``y`` in the working CRS), and ``lon``, ``lat`` and
``cell_id`` are plain columns, so reading a million rows never builds WKB.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from pyproj import CRS

from hotspots import schema
from hotspots.errors import InputError

DATASETS = ("incidents", "searches")


def geo_metadata(working_crs: str) -> bytes:
    """GeoParquet 1.1 file metadata for a native-encoded point column."""
    meta = {
        "version": "1.1.0",
        "primary_column": schema.GEOMETRY,
        "columns": {
            schema.GEOMETRY: {
                "encoding": "point",
                "geometry_types": ["Point"],
                "crs": CRS.from_user_input(working_crs).to_json_dict(),
            }
        },
    }
    return json.dumps(meta).encode("utf-8")


class StoreWriter:
    """Write accepted rows into ``<out>/<dataset>/month=YYYY-MM/part-0.parquet``.

    Files are written under a hidden staging folder and moved into place by
    :meth:`close`, so an interrupted ingest never leaves a store that looks complete.
    """

    def __init__(
        self, out_dir: str | Path, dataset: str, *, working_crs: str = schema.WORKING_CRS
    ) -> None:
        if dataset not in DATASETS:
            raise ValueError(f"dataset must be one of {DATASETS}")
        self.out_dir = Path(out_dir)
        self.dataset = dataset
        self.final = self.out_dir / dataset
        self.staging = self.out_dir / f".{dataset}.partial"
        if self.staging.exists():
            shutil.rmtree(self.staging)
        self._metadata = geo_metadata(working_crs)
        self._writers: dict[str, pq.ParquetWriter] = {}
        self._schema: pa.Schema | None = None
        self.rows_by_month: dict[str, int] = {}

    def write(self, table: pa.Table) -> None:
        """Append rows, split by their ``month``."""
        if table.num_rows == 0:
            return
        months = table.column(schema.MONTH)
        # the month lives in the folder name (hive partitioning), not in the file
        table = table.drop_columns([schema.MONTH])
        if self._schema is None:
            self._schema = table.schema.with_metadata({b"geo": self._metadata})
        table = table.cast(self._schema)
        for month in pc.unique(months).to_pylist():
            part = table.filter(pc.equal(months, month))
            writer = self._writers.get(month)
            if writer is None:
                folder = self.staging / f"month={month}"
                folder.mkdir(parents=True, exist_ok=True)
                writer = pq.ParquetWriter(
                    folder / "part-0.parquet", self._schema, compression="zstd"
                )
                self._writers[month] = writer
            writer.write_table(part)
            self.rows_by_month[month] = self.rows_by_month.get(month, 0) + part.num_rows

    def close(self, *, success: bool = True) -> Path | None:
        """Finish files and move the dataset into place (or discard it on failure)."""
        for writer in self._writers.values():
            writer.close()
        self._writers.clear()
        if not success or not self.rows_by_month:
            shutil.rmtree(self.staging, ignore_errors=True)
            return None
        if self.final.exists():
            shutil.rmtree(self.final)
        self.staging.rename(self.final)
        return self.final


def read_store(
    path: str | Path,
    *,
    dataset: str = "incidents",
    months: tuple[str, str] | None = None,
    columns: list[str] | None = None,
    offences: list[str] | None = None,
) -> gpd.GeoDataFrame:
    """Read (part of) a store into a tidy GeoDataFrame.

    Only the month partitions in ``months`` and the ``columns`` asked for are read.

    Parameters
    ----------
    path
        An ingest ``--out`` folder (or the dataset folder inside it).
    dataset
        ``"incidents"`` or ``"searches"``.
    months
        Inclusive ``("YYYY-MM", "YYYY-MM")`` range.
    columns
        Columns to read besides the index; ``None`` reads all.
    offences
        Offences to keep (exact labels).
    """
    from hotspots.ingest import frame_from_arrow

    root = Path(path)
    if (root / dataset).is_dir():
        root = root / dataset
    if not root.is_dir():
        raise InputError(f"no {dataset} store at {path}; run 'hotspots ingest ... --out {path}'.")
    partitioning = ds.partitioning(pa.schema([(schema.MONTH, pa.string())]), flavor="hive")
    dataset_obj = ds.dataset(root, format="parquet", partitioning=partitioning)
    filters = None
    if months is not None:
        filters = (ds.field(schema.MONTH) >= months[0]) & (ds.field(schema.MONTH) <= months[1])
    if offences:
        offence_filter = ds.field(schema.OFFENCE).isin(offences)
        filters = offence_filter if filters is None else filters & offence_filter
    wanted = None
    if columns is not None:
        wanted = list(dict.fromkeys([schema.INCIDENT_ID, schema.MONTH, *columns, schema.GEOMETRY]))
    table = dataset_obj.to_table(columns=wanted, filter=filters)
    if table.column(schema.MONTH).type != pa.string():
        table = table.set_column(
            table.schema.get_field_index(schema.MONTH),
            schema.MONTH,
            pc.cast(table.column(schema.MONTH), pa.string()),
        )
    frame = frame_from_arrow(table)
    return (
        frame.sort_values([schema.MONTH, schema.SOURCE_FILE, schema.SOURCE_ROW])
        if {
            schema.SOURCE_FILE,
            schema.SOURCE_ROW,
        }
        <= set(frame.columns)
        else frame.sort_index()
    )


def month_range_of(frame: pd.DataFrame) -> tuple[str, str] | None:
    """First and last month present, as strings."""
    if frame.empty:
        return None
    months = frame[schema.MONTH]
    return str(months.min()), str(months.max())


__all__ = ["StoreWriter", "geo_metadata", "month_range_of", "read_store"]
