"""Aggregates from an ingest store, streamed one month partition at a time (embedded or Dask)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from hotspots.aggregates.tables import (
    _TEXT_COLUMNS,
    MERGE_ROWS,
    READ_COLUMNS,
    TABLE_ROWS,
    Aggregates,
    _codes,
    combine,
    reduce_table,
)
from hotspots.core import schema
from hotspots.core.errors import InputError
from hotspots.engines.local import ENGINES

if TYPE_CHECKING:
    pass


def dataset_root(store: str | Path, dataset: str = "incidents") -> Path:
    """Return the folder of one dataset of an ingest store (or the folder itself)."""
    root = Path(store)
    if (root / dataset).is_dir():
        root = root / dataset
    if not root.is_dir():
        raise InputError(
            f"no {dataset} store at {store}; run 'hotspots ingest ... --out {store}'."
        )
    return root


def open_dataset(root: str | Path) -> ds.Dataset:
    """Open a dataset folder with text columns read as dictionaries (no string per row)."""
    partitioning = ds.partitioning(pa.schema([(schema.MONTH, pa.string())]), flavor="hive")
    fmt = ds.ParquetFileFormat(
        read_options=ds.ParquetReadOptions(dictionary_columns=_TEXT_COLUMNS)
    )
    return ds.dataset(root, format=fmt, partitioning=partitioning)


def months_in_store(root: str | Path, months: tuple[str, str] | None = None) -> list[str]:
    """Month partitions of a dataset folder, within an inclusive range."""
    found = sorted(
        p.name.removeprefix("month=")
        for p in Path(root).iterdir()
        if p.is_dir() and p.name.startswith("month=")
    )
    if months is not None:
        found = [m for m in found if months[0] <= m <= months[1]]
    return found


def reduce_month(
    root: str | Path,
    month: str,
    *,
    offences: Sequence[str] | None = None,
    table_rows: int = TABLE_ROWS,
    exclude: Sequence[str] | None = None,
) -> Aggregates | None:
    """Aggregate one month partition of a dataset folder (None when no row is selected).

    This is a pure function of the partition: the unit of work of the Dask engine.
    """
    files = sorted(str(p) for p in (Path(root) / f"month={month}").glob("*.parquet"))
    if not files:
        return None
    fmt = ds.ParquetFileFormat(
        read_options=ds.ParquetReadOptions(dictionary_columns=_TEXT_COLUMNS)
    )
    dataset = ds.dataset(files, format=fmt)
    where = offence_filter(offences, exclude)
    rows = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
    if rows <= table_rows:
        table = dataset.to_table(columns=list(READ_COLUMNS), filter=where)
        if table.num_rows == 0:
            return None
        _, names = _codes(table.column(schema.SOURCE_FILE))
        file_rank = {str(f): i for i, f in enumerate(sorted(str(v) for v in names))}
        return reduce_table(table, month=month, file_rank=file_rank)
    # a large month: rank its files first, then reduce it in pieces
    files_table = dataset.to_table(columns=[schema.SOURCE_FILE], filter=where)
    if files_table.num_rows == 0:
        return None
    _, names = _codes(files_table.column(schema.SOURCE_FILE))
    file_rank = {str(f): i for i, f in enumerate(sorted(str(v) for v in names))}
    del files_table
    parts: list[Aggregates] = []
    pending: list[pa.RecordBatch] = []
    held = 0
    for batch in dataset.to_batches(columns=list(READ_COLUMNS), filter=where, batch_size=1 << 18):
        pending.append(batch)
        held += batch.num_rows
        if held >= table_rows:
            table = pa.Table.from_batches(pending)
            parts.append(reduce_table(table, month=month, file_rank=file_rank))
            pending, held = [], 0
    if pending:
        table = pa.Table.from_batches(pending)
        parts.append(reduce_table(table, month=month, file_rank=file_rank))
    return combine(parts)


def aggregate_store(
    store: str | Path,
    *,
    months: tuple[str, str] | None = None,
    offences: Sequence[str] | None = None,
    on_month: Callable[[str], None] | None = None,
    engine: str = "embedded",
    scheduler: object = None,
    exclude: Sequence[str] | None = None,
) -> Aggregates:
    """Stream a store's incidents month by month into :class:`Aggregates` (this machine).

    Parameters
    ----------
    store
        An ingest ``--out`` folder.
    months
        Inclusive ``("YYYY-MM", "YYYY-MM")`` range; only those partitions are opened.
    offences
        Offences to keep (exact labels, as stored).
    exclude
        Offences to leave out (e.g. those police mostly find themselves).
    on_month
        Called with each month once it is aggregated (for progress; embedded engine).
    engine
        ``"embedded"`` (stream the months on this machine, merging as it goes) or
        ``"dask"`` (one task per month on a ``dask.distributed`` cluster and a tree of
        merges on the workers; see :mod:`hotspots.engines.dask`).
    scheduler
        Dask scheduler address or client; ``None`` starts a local cluster.

    Raises
    ------
    InputError
        If the selection holds no incidents.
    """
    if engine not in ENGINES:
        raise InputError(f"--engine {engine!r} is not known; use one of {', '.join(ENGINES)}.")
    root = dataset_root(store)
    if engine == "dask":
        from hotspots.engines.dask import reduce_on_dask

        result = reduce_on_dask(
            _reduce_month_task,
            months_in_store(root, months),
            _merge,
            kwargs={
                "root": str(root),
                "offences": list(offences or []),
                "exclude": list(exclude or []),
            },
            scheduler=scheduler,
        )
        if result is None:
            raise InputError(_nothing_selected(store, months, offences))
        return result
    merged: Aggregates | None = None
    pending: list[Aggregates] = []
    pending_rows = 0
    for month in months_in_store(root, months):
        part = reduce_month(root, month, offences=offences, exclude=exclude)
        if on_month is not None:
            on_month(month)
        if part is None:
            continue
        pending.append(part)
        pending_rows += part.size
        if pending_rows > max(MERGE_ROWS, merged.size if merged is not None else 0):
            merged = combine([merged, *pending])
            pending, pending_rows = [], 0
    if merged is None and not pending:
        raise InputError(_nothing_selected(store, months, offences))
    return combine([merged, *pending])


def _nothing_selected(store: object, months: object, offences: Sequence[str] | None) -> str:
    return (
        f"no incidents in {store} for the selection (months {months or 'all'}, offences "
        f"{', '.join(offences) if offences else 'all'}); check --months and --crime-type."
    )


def _reduce_month_task(
    month: str, *, root: str, offences: list[str], exclude: list[str]
) -> Aggregates | None:
    """One month as one task (the month first, as the engine passes it)."""
    return reduce_month(root, month, offences=offences, exclude=exclude)


def offence_filter(
    offences: Sequence[str] | None, exclude: Sequence[str] | None
) -> ds.Expression | None:
    """Dataset filter keeping ``offences`` (all if empty) and dropping ``exclude``."""
    where = ds.field(schema.OFFENCE).isin(list(offences)) if offences else None
    if exclude:
        dropped = ~ds.field(schema.OFFENCE).isin(list(exclude))
        where = dropped if where is None else where & dropped
    return where


def _merge(parts: list[Aggregates | None]) -> Aggregates | None:
    """Merge the parts that hold rows (a task of the Dask reduction tree)."""
    present = [p for p in parts if p is not None]
    return combine(present) if present else None


def count_cells(
    store: str | Path,
    *,
    dataset: str = "searches",
    months: tuple[str, str] | None = None,
    offences: Sequence[str] | None = None,
    exclude: Sequence[str] | None = None,
) -> pd.Series:
    """Rows per ``cell_id`` of a dataset (of some offences), streamed one month at a time.

    Returns
    -------
    Series
        Counts indexed by cell id (rows without a cell are not counted).
    """
    root = dataset_root(store, dataset)
    total: pd.Series | None = None
    data = open_dataset(root)
    for month in months_in_store(root, months):
        where = ds.field(schema.MONTH) == month
        chosen = offence_filter(offences, exclude)
        if chosen is not None:
            where = where & chosen
        table = data.to_table(columns=[schema.CELL_ID], filter=where)
        codes, values = _codes(table.column(schema.CELL_ID))
        counts = np.bincount(codes, minlength=len(values)).astype(np.int64)
        keep = (counts > 0) & (values != "")
        series = pd.Series(counts[keep], index=pd.Index(values[keep], dtype=object))
        total = series if total is None else total.add(series, fill_value=0).astype(np.int64)
    return total if total is not None else pd.Series(dtype=np.int64)
