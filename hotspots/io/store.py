"""The incidents store: GeoParquet partitioned by month.

Layout of an ingest's ``--out`` folder::

    incidents/month=2024-01/part-0.parquet   street crime and generic incidents
    searches/month=2024-01/part-0.parquet    stop and search
    rejects.csv
    manifest.json

Each part file is GeoParquet 1.1: ``geometry`` uses the native GeoArrow ``point``
encoding (a struct of ``x``, ``y`` in the working CRS), and ``lon``, ``lat`` and
``cell_id`` are plain columns, so reading a million rows never builds WKB.

A store grows month by month: ``hotspots ingest NEW_FILES --out STORE --append`` adds
the new month partitions and leaves the others untouched; a month already present is
refused unless ``--replace-months``, which swaps that partition whole. A partition may
hold several part files (``part-00003.parquet``: one per input file when files are read
in parallel); readers take every file of the folder.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from pyproj import CRS

from hotspots.core import schema
from hotspots.core.errors import InputError

DATASETS = ("incidents", "searches")


def is_store(path: str | Path, *, dataset: str = "incidents") -> bool:
    """Whether ``path`` is an ``ingest`` output folder holding ``dataset``."""
    path = Path(path)
    return path.is_dir() and (path / dataset).is_dir() and (path / "manifest.json").is_file()


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

    Files are written under a hidden staging folder (``<out>/.<dataset>.partial``) and
    moved into place by :meth:`close` (a new store) or :func:`commit_partitions` (one
    partition at a time, for appending), so an interrupted ingest never leaves a partition
    that looks complete.

    Parameters
    ----------
    out_dir
        The store folder.
    dataset
        ``"incidents"`` or ``"searches"``.
    working_crs
        CRS of the point geometry, for the GeoParquet metadata.
    staging
        Staging folder shared by several writers (e.g. one per input file, in parallel);
        it is then neither cleared on start nor removed on failure, only this writer's
        files are. Default: ``<out>/.<dataset>.partial``, cleared on start.
    part_name
        File name of the parts this writer writes in each month folder.
    max_open
        Part files kept open at once. An open Parquet writer holds its column
        dictionaries, so input spread over many months would hold many of them; the least
        recently used is closed and a later row of its month starts the next part
        (``part-0.1.parquet``, ...). Memory then depends on this, not on the months.
    """

    def __init__(
        self,
        out_dir: str | Path,
        dataset: str,
        *,
        working_crs: str = schema.WORKING_CRS,
        staging: str | Path | None = None,
        part_name: str = "part-0.parquet",
        max_open: int = 12,
    ) -> None:
        if dataset not in DATASETS:
            raise ValueError(f"dataset must be one of {DATASETS}")
        self.out_dir = Path(out_dir)
        self.dataset = dataset
        self.final = self.out_dir / dataset
        self.shared = staging is not None
        self.staging = Path(staging) if staging is not None else staging_folder(out_dir, dataset)
        if not self.shared and self.staging.exists():
            shutil.rmtree(self.staging)
        self.part_name = part_name
        self.max_open = max(1, max_open)
        self._parts: list[Path] = []
        self._opened: dict[str, int] = {}
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
            writer = self._writers.pop(month, None)
            if writer is None:
                writer = self._open(month)
            self._writers[month] = writer  # most recently used last
            writer.write_table(part)
            self.rows_by_month[month] = self.rows_by_month.get(month, 0) + part.num_rows

    def _open(self, month: str) -> pq.ParquetWriter:
        """Open the next part file of ``month``, closing the least recently used if needed."""
        while len(self._writers) >= self.max_open:
            oldest = next(iter(self._writers))
            self._writers.pop(oldest).close()
        folder = self.staging / f"month={month}"
        folder.mkdir(parents=True, exist_ok=True)
        count = self._opened.get(month, 0)
        self._opened[month] = count + 1
        name = self.part_name
        if count:
            stem = name.removesuffix(".parquet")
            name = f"{stem}.{count}.parquet"
        path = folder / name
        self._parts.append(path)
        return pq.ParquetWriter(path, self._schema, compression="zstd")

    def finish(self, *, success: bool = True) -> dict[str, int]:
        """Close the part files (deleting them on failure); return rows per month staged."""
        for writer in self._writers.values():
            writer.close()
        self._writers.clear()
        if not success:
            for path in self._parts:
                path.unlink(missing_ok=True)
            self.rows_by_month = {}
        return dict(self.rows_by_month)

    def close(self, *, success: bool = True) -> Path | None:
        """Finish files and move the dataset into place (or discard it on failure)."""
        self.finish(success=success)
        if not success or not self.rows_by_month:
            shutil.rmtree(self.staging, ignore_errors=True)
            return None
        if self.final.exists():
            shutil.rmtree(self.final)
        self.staging.rename(self.final)
        return self.final


def staging_folder(out_dir: str | Path, dataset: str) -> Path:
    """Hidden folder where a dataset's new partitions are written before they are committed."""
    return Path(out_dir) / f".{dataset}.partial"


def store_months(out_dir: str | Path, dataset: str = "incidents") -> list[str]:
    """Month partitions present in a store (``["2024-01", ...]``, sorted)."""
    folder = Path(out_dir) / dataset
    if not folder.is_dir():
        return []
    return sorted(
        p.name.removeprefix("month=")
        for p in folder.iterdir()
        if p.is_dir() and p.name.startswith("month=")
    )


@dataclass(frozen=True)
class Commit:
    """Partitions moved into a store by :func:`commit_partitions`."""

    added: tuple[str, ...]
    replaced: tuple[str, ...]


def commit_partitions(staging: str | Path, final: str | Path, *, replace: bool) -> Commit:
    """Move every staged ``month=YYYY-MM`` folder into the dataset folder, one rename each.

    A month already in ``final`` is replaced only with ``replace=True``: the old folder is
    renamed aside, the new one renamed in, and the old one deleted, so at every moment the
    partition is either the old one or the new one, never a mix. The staging folder is
    removed afterwards.

    Raises
    ------
    InputError
        If a staged month is already in the store and ``replace`` is False (nothing is
        moved then).
    """
    staging, final = Path(staging), Path(final)
    staged = sorted(p for p in staging.iterdir() if p.is_dir()) if staging.is_dir() else []
    clashes = [p.name.removeprefix("month=") for p in staged if (final / p.name).exists()]
    if clashes and not replace:
        raise InputError(
            f"month(s) {', '.join(clashes)} are already in the store {final.parent}; pass "
            "--replace-months to replace them, or leave those files out."
        )
    final.mkdir(parents=True, exist_ok=True)
    added, replaced = [], []
    for folder in staged:
        target = final / folder.name
        month = folder.name.removeprefix("month=")
        if target.exists():
            aside = final / f".{folder.name}.old"
            if aside.exists():
                shutil.rmtree(aside)
            target.rename(aside)
            folder.rename(target)
            shutil.rmtree(aside)
            replaced.append(month)
        else:
            folder.rename(target)
            added.append(month)
    shutil.rmtree(staging, ignore_errors=True)
    return Commit(added=tuple(added), replaced=tuple(replaced))


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
    from hotspots.io.store import frame_from_arrow

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


__all__ = [
    "Commit",
    "StoreWriter",
    "commit_partitions",
    "geo_metadata",
    "month_range_of",
    "read_store",
    "staging_folder",
    "store_months",
]


def frame_from_arrow(
    table: pa.Table, *, working_crs: str = schema.WORKING_CRS
) -> gpd.GeoDataFrame:
    """Turn accepted rows (arrow, with a point struct ``geometry``) into a tidy GeoDataFrame."""
    geometry = table.column(schema.GEOMETRY).combine_chunks()
    xs = geometry.field("x").to_numpy(zero_copy_only=False)
    ys = geometry.field("y").to_numpy(zero_copy_only=False)
    missing = np.asarray(geometry.is_null().to_numpy(zero_copy_only=False))
    import shapely

    points = shapely.points(xs, ys)
    points[missing] = None
    frame = table.drop_columns([schema.GEOMETRY]).to_pandas()
    codes, labels = pd.factorize(frame[schema.MONTH])
    periods = pd.PeriodIndex(list(labels), freq="M")
    frame[schema.MONTH] = (
        pd.Series(periods.take(codes), index=frame.index)
        if len(codes)
        else pd.PeriodIndex([], freq="M")
    )
    if schema.OFFENCE in frame:
        frame[schema.OFFENCE] = frame[schema.OFFENCE].astype("category")
    frame = frame.set_index(schema.INCIDENT_ID)
    return gpd.GeoDataFrame(frame, geometry=points, crs=working_crs)
