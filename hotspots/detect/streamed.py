"""Detect hotspots on a store of any size: stream it, aggregate, then run the statistics.

Every hotspot method in ``hotspots detect`` needs far less than the rows themselves:

* harm and counts per H3 cell, and per cell and month (the space-time cube): sums;
* kernel density and harm-weighted DBSCAN: the *distinct map points* with their summed
  harm and incident counts. data.police.uk snaps every crime to one of a fixed set of
  anonymised points, so there are few of them (75 thousand for all of London), and both
  methods give the same answer on collapsed points as on the rows (see
  :func:`hotspots.methods.clusters.find_clusters`: exact for DBSCAN; the binned density is
  linear in the weights);
* place names: incidents per cell and ``location``; cluster names and boroughs: harm per
  distinct point and ``location``;
* the automatic choices: the total harm, the sum of squared harms (effective number of
  points for the bandwidth rules) and the median incident harm (from the few distinct
  harm values of the harm table).

So :func:`aggregate_store` reads the store one month partition at a time, only the
columns it needs (``geometry`` x/y, ``harm``, ``cell_id``, ``location``,
``borough_code``, ``borough``, ``offence``, ``source_file``, ``source_row``), reduces
each to an :class:`Aggregates` (distinct points, cells x months bins, borough x month
sums, a harm histogram) and merges them; memory grows with distinct points and cells x
months, not with rows. :func:`detect_from_aggregates` then runs Gi*, kernel density,
clustering and emerging trends on the aggregates and returns the same
:class:`hotspots.detect.points.Detection` as :func:`hotspots.detect.points.detect_hotspots` on the
rows (the same cells table up to floating-point rounding of sums, which a test checks on
the bundled data). Distinct points are kept in the order of their first incident (by
month, source file and line, the order :func:`hotspots.io.store.read_store` returns), so
DBSCAN numbers clusters and settles border points exactly as it does on the rows.

The per-month reduction is a pure function of one partition, and merging is associative,
so the same code runs on a Dask cluster (:mod:`hotspots.engines.dask`): one task per
month, a tree of merges, the statistics on the client.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import shapely

from hotspots.core import schema
from hotspots.core.errors import InputError, SchemaError
from hotspots.geo.geocode import Areas
from hotspots.geo.grid import cell_ints

if TYPE_CHECKING:
    from hotspots.detect.points import Detection, DetectOptions
    from hotspots.methods.kde import Bandwidth

READ_COLUMNS = (
    schema.GEOMETRY,
    schema.HARM,
    schema.CELL_ID,
    schema.LOCATION,
    schema.BOROUGH_CODE,
    schema.BOROUGH,
    schema.OFFENCE,
    schema.SOURCE_FILE,
    schema.SOURCE_ROW,
)
"""The only store columns detection reads."""

TABLE_ROWS = 2_000_000
"""Rows reduced at once (a month partition larger than this is read in pieces)."""

MERGE_ROWS = 2_000_000
"""Pending aggregate rows that trigger a merge while streaming."""

_TEXT_COLUMNS = [
    schema.CELL_ID,
    schema.LOCATION,
    schema.BOROUGH_CODE,
    schema.BOROUGH,
    schema.OFFENCE,
    schema.SOURCE_FILE,
]
_KEY_MONTH_SHIFT = 48
_KEY_FILE_SHIFT = 32


# ---------------------------------------------------------------------------
# aggregates


@dataclass(frozen=True)
class Aggregates:
    """Sums over some rows of a store, small enough to hold whatever the rows.

    Attributes
    ----------
    stacks
        One row per distinct map point, ``location`` and harm value: ``x``, ``y``
        (metres), ``location``, ``harm`` (the value), ``count`` (incidents),
        ``first_key`` (the earliest row: month, source file rank and line packed in an
        int64), ``cell`` (H3 index as int64), ``borough_code``, ``borough``. Keeping the
        harm value as a key (a harm table has a dozen values) lets every harm total be
        summed exactly, so the result does not depend on the order in which partitions
        were read or merged.
    bins
        Cells x months with incidents: ``cell`` (int64 H3), ``month`` (``YYYY*12+MM-1``),
        ``count``, ``harm``.
    boroughs
        ``borough_code``, ``month``, ``count``, ``harm``.
    harm_values
        ``harm`` and ``count``: how many incidents carry each harm value.
    cell_harm_values
        ``cell``, ``harm``, ``count``: the same per cell, so that harm per cell is summed
        exactly (whatever the order rows came in) and equal counts give equal harm.
    offences
        Offences present.
    rows
        Rows aggregated.
    """

    stacks: pd.DataFrame
    bins: pd.DataFrame
    boroughs: pd.DataFrame
    harm_values: pd.DataFrame
    cell_harm_values: pd.DataFrame
    offences: frozenset[str]
    rows: int

    @property
    def size(self) -> int:
        """Rows held in the tables (a measure of memory)."""
        return len(self.stacks) + len(self.bins) + len(self.boroughs) + len(self.cell_harm_values)

    def canonical(self) -> Aggregates:
        """Return the same sums with every table sorted by its keys (merge order undone)."""
        return Aggregates(
            stacks=self.stacks.sort_values(["x", "y", schema.LOCATION, "harm"]).reset_index(
                drop=True
            ),
            bins=self.bins.sort_values(["cell", "month"]).reset_index(drop=True),
            boroughs=self.boroughs.sort_values(["borough_code", "month"]).reset_index(drop=True),
            harm_values=self.harm_values.sort_values("harm").reset_index(drop=True),
            cell_harm_values=self.cell_harm_values.sort_values(["cell", "harm"]).reset_index(
                drop=True
            ),
            offences=self.offences,
            rows=self.rows,
        )

    @property
    def total_harm(self) -> float:
        """Sum of incident harms (summed exactly from the harm histogram)."""
        return _exact_dot(self.harm_values["count"], self.harm_values["harm"])

    @property
    def harm_squares(self) -> float:
        """Sum of squared incident harms."""
        harm = self.harm_values["harm"].to_numpy(np.longdouble)
        return _exact_dot(self.harm_values["count"], harm * harm)

    def points(self) -> pd.DataFrame:
        """One row per distinct map point, in the order of its first incident.

        Columns ``x``, ``y``, ``harm`` (summed exactly), ``count``, ``first_key``,
        ``cell``, ``borough_code``, ``borough``.
        """
        stacks = self.stacks
        codes, _ = pd.factorize(stacks["x"].to_numpy() + 1j * stacks["y"].to_numpy())
        first = np.full(codes.max() + 1 if len(codes) else 0, len(codes), dtype=np.int64)
        np.minimum.at(first, codes, np.arange(len(codes)))
        harm = np.zeros(len(first), dtype=np.longdouble)
        np.add.at(
            harm,
            codes,
            stacks["count"].to_numpy(np.longdouble) * stacks["harm"].to_numpy(np.longdouble),
        )
        first_key = np.full(len(first), np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(first_key, codes, stacks["first_key"].to_numpy())
        points = pd.DataFrame(
            {
                "x": stacks["x"].to_numpy()[first],
                "y": stacks["y"].to_numpy()[first],
                "harm": harm.astype(np.float64),
                "count": np.bincount(codes, weights=stacks["count"], minlength=len(first)).astype(
                    np.int64
                ),
                "first_key": first_key,
                "cell": stacks["cell"].to_numpy()[first],
                "borough_code": stacks["borough_code"].to_numpy()[first],
                "borough": stacks["borough"].to_numpy()[first],
            }
        )
        return points.sort_values("first_key", kind="stable").reset_index(drop=True)


def _exact_dot(count: pd.Series | np.ndarray, value: pd.Series | np.ndarray) -> float:
    """Sum of count x value in extended precision, rounded once."""
    terms = np.asarray(count, dtype=np.longdouble) * np.asarray(value, dtype=np.longdouble)
    return float(np.sum(terms, dtype=np.longdouble))


def combine(parts: Sequence[Aggregates | None]) -> Aggregates:
    """Merge aggregates of disjoint rows (associative and commutative up to rounding)."""
    parts = [p for p in parts if p is not None]
    if not parts:
        raise InputError("no aggregates to combine: the store selection holds no rows.")
    if len(parts) == 1:
        return parts[0]
    stacks = pd.concat([p.stacks for p in parts], ignore_index=True)
    stacks = (
        stacks.groupby(["x", "y", schema.LOCATION, "harm"], sort=False)
        .agg(
            count=("count", "sum"),
            first_key=("first_key", "min"),
            cell=("cell", "first"),
            borough_code=("borough_code", "first"),
            borough=("borough", "first"),
        )
        .reset_index()
    )

    def summed(frames: list[pd.DataFrame], keys: list[str]) -> pd.DataFrame:
        return pd.concat(frames, ignore_index=True).groupby(keys, sort=False).sum().reset_index()

    return Aggregates(
        stacks=stacks,
        bins=summed([p.bins for p in parts], ["cell", "month"]),
        boroughs=summed([p.boroughs for p in parts], ["borough_code", "month"]),
        harm_values=summed([p.harm_values for p in parts], ["harm"]),
        cell_harm_values=summed([p.cell_harm_values for p in parts], ["cell", "harm"]),
        offences=frozenset().union(*(p.offences for p in parts)),
        rows=sum(p.rows for p in parts),
    )


def month_ordinal(month: str) -> int:
    """``"2024-01"`` -> ``2024 * 12 + 0``."""
    year, number = month.split("-")
    return int(year) * 12 + int(number) - 1


def month_text(ordinal: int) -> str:
    """Inverse of :func:`month_ordinal`."""
    return f"{ordinal // 12:04d}-{ordinal % 12 + 1:02d}"


def _codes(column: pa.ChunkedArray | pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes and their values (object array) of a text column; null -> ''."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if not pa.types.is_dictionary(array.type):
        array = pc.dictionary_encode(array)
    values = np.asarray(array.dictionary.to_numpy(zero_copy_only=False), dtype=object)
    indices = array.indices
    if indices.null_count:
        values = np.append(values, "")
        indices = indices.fill_null(len(values) - 1)
    return np.asarray(indices.to_numpy(zero_copy_only=False), dtype=np.int64), values


def reduce_table(table: pa.Table, *, month: str, file_rank: dict[str, int]) -> Aggregates:
    """Aggregate rows of one month partition (columns :data:`READ_COLUMNS`).

    Parameters
    ----------
    table
        Rows read from the store, all of one month.
    month
        That month, ``YYYY-MM``.
    file_rank
        Position of each ``source_file`` of that month in sorted order, for the order of
        first incidents.
    """
    table = table.filter(pc.is_valid(table.column(schema.CELL_ID)))
    n = table.num_rows
    geometry = table.column(schema.GEOMETRY).combine_chunks()
    x = np.asarray(geometry.field("x").to_numpy(zero_copy_only=False), dtype=np.float64)
    y = np.asarray(geometry.field("y").to_numpy(zero_copy_only=False), dtype=np.float64)
    harm = np.asarray(table.column(schema.HARM).to_numpy(), dtype=np.float64)
    codes = {name: _codes(table.column(name)) for name in _TEXT_COLUMNS}
    ordinal = month_ordinal(month)
    file_idx, file_values = codes[schema.SOURCE_FILE]
    ranks = np.array([file_rank[str(f)] for f in file_values], dtype=np.int64)
    rows = np.asarray(table.column(schema.SOURCE_ROW).to_numpy(), dtype=np.int64)
    key = (ordinal << _KEY_MONTH_SHIFT) | (ranks[file_idx] << _KEY_FILE_SHIFT) | rows
    cell_idx, cell_values = codes[schema.CELL_ID]
    cell_of = cell_ints(cell_values).view(np.int64) if len(cell_values) else np.empty(0, np.int64)
    loc_idx, loc_values = codes[schema.LOCATION]

    values, value_idx, counts = np.unique(harm, return_inverse=True, return_counts=True)
    # distinct (point, location, harm value) stacks
    point_codes, _ = pd.factorize(x + 1j * y, sort=False)
    stack_codes, _ = pd.factorize(
        (point_codes.astype(np.int64) * len(loc_values) + loc_idx) * len(values) + value_idx
    )
    m = int(stack_codes.max()) + 1 if n else 0
    first_row = np.empty(m, dtype=np.int64)
    first_row[stack_codes[::-1]] = np.arange(n - 1, -1, -1)
    first_key = np.full(m, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(first_key, stack_codes, key)
    bor_idx, bor_values = codes[schema.BOROUGH_CODE]
    name_idx, name_values = codes[schema.BOROUGH]
    stacks = pd.DataFrame(
        {
            "x": x[first_row],
            "y": y[first_row],
            schema.LOCATION: _text_series(loc_values[loc_idx[first_row]]),
            "harm": harm[first_row],
            "count": np.bincount(stack_codes, minlength=m).astype(np.int64),
            "first_key": first_key,
            "cell": cell_of[cell_idx[first_row]],
            "borough_code": _text_series(bor_values[bor_idx[first_row]]),
            "borough": _text_series(name_values[name_idx[first_row]]),
        }
    )

    def per(group_idx: np.ndarray, labels: np.ndarray, name: str) -> pd.DataFrame:
        found, unique = pd.factorize(group_idx, sort=True)
        return pd.DataFrame(
            {
                name: labels[unique] if labels.dtype != object else _text_series(labels[unique]),
                "month": np.full(len(unique), ordinal, dtype=np.int64),
                "count": np.bincount(found, minlength=len(unique)).astype(np.int64),
                "harm": np.bincount(found, weights=harm, minlength=len(unique)),
            }
        )

    cell_value, cell_value_codes = pd.factorize(cell_idx * len(values) + value_idx, sort=True)
    offence_idx, offence_values = codes[schema.OFFENCE]
    present = np.bincount(offence_idx, minlength=len(offence_values)) > 0
    return Aggregates(
        stacks=stacks,
        bins=per(cell_idx, cell_of, "cell"),
        boroughs=per(bor_idx, bor_values, "borough_code"),
        harm_values=pd.DataFrame({"harm": values, "count": counts.astype(np.int64)}),
        cell_harm_values=pd.DataFrame(
            {
                "cell": cell_of[cell_value_codes // len(values)],
                "harm": values[cell_value_codes % len(values)],
                "count": np.bincount(cell_value, minlength=len(cell_value_codes)).astype(np.int64),
            }
        ),
        offences=frozenset(str(o) for o in offence_values[present]),
        rows=n,
    )


# ---------------------------------------------------------------------------
# reading the store


def _text_series(values: np.ndarray) -> pd.Series:
    """Text as a plain object column (no conversion to another string type per row)."""
    return pd.Series(values, dtype=object)


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
    where = ds.field(schema.OFFENCE).isin(list(offences)) if offences else None
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
    on_month
        Called with each month once it is aggregated (for progress).

    Raises
    ------
    InputError
        If the selection holds no incidents.
    """
    root = dataset_root(store)
    merged: Aggregates | None = None
    pending: list[Aggregates] = []
    pending_rows = 0
    for month in months_in_store(root, months):
        part = reduce_month(root, month, offences=offences)
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
        raise InputError(
            f"no incidents in {store} for the selection (months {months or 'all'}, offences "
            f"{', '.join(offences) if offences else 'all'}); check --months and --crime-type."
        )
    return combine([merged, *pending])


def count_cells(
    store: str | Path, *, dataset: str = "searches", months: tuple[str, str] | None = None
) -> pd.Series:
    """Rows per ``cell_id`` of a dataset, streamed one month at a time.

    Returns
    -------
    Series
        Counts indexed by cell id (rows without a cell are not counted).
    """
    root = dataset_root(store, dataset)
    total: pd.Series | None = None
    data = open_dataset(root)
    for month in months_in_store(root, months):
        table = data.to_table(columns=[schema.CELL_ID], filter=ds.field(schema.MONTH) == month)
        codes, values = _codes(table.column(schema.CELL_ID))
        counts = np.bincount(codes, minlength=len(values)).astype(np.int64)
        keep = (counts > 0) & (values != "")
        series = pd.Series(counts[keep], index=pd.Index(values[keep], dtype=object))
        total = series if total is None else total.add(series, fill_value=0).astype(np.int64)
    return total if total is not None else pd.Series(dtype=np.int64)


# ---------------------------------------------------------------------------
# detection on aggregates


def _exact_sums(cell_harm_values: pd.DataFrame, position: pd.Index) -> np.ndarray:
    """Harm per grid cell, summed in extended precision from counts per harm value."""
    where = position.get_indexer(cell_harm_values["cell"].to_numpy())
    terms = cell_harm_values["count"].to_numpy(np.longdouble) * cell_harm_values["harm"].to_numpy(
        np.longdouble
    )
    total = np.zeros(len(position), dtype=np.longdouble)
    np.add.at(total, where, terms)
    return total.astype(np.float64)


def _median_positive(harm_values: pd.DataFrame) -> float:
    """``np.median`` of the positive incident harms, from the harm histogram."""
    positive = harm_values[harm_values["harm"] > 0].sort_values("harm")
    n = int(positive["count"].sum())
    if n == 0:
        return 0.0
    values = positive["harm"].to_numpy()
    ends = np.cumsum(positive["count"].to_numpy())
    low = values[np.searchsorted(ends, (n - 1) // 2, side="right")]
    high = values[np.searchsorted(ends, n // 2, side="right")]
    return float((low + high) / 2.0)


def _bandwidth(
    px: np.ndarray,
    py: np.ndarray,
    pw: np.ndarray,
    *,
    rule: str,
    bandwidth_m: float | None,
    adjust: float,
    n_effective: float,
) -> Bandwidth:
    """:func:`hotspots.methods.kde.choose_bandwidth` as it is on the rows, from collapsed points.

    Collapsing stacked points keeps the weighted mean, standard distance and median
    distance, but not the effective number of points ``(sum w)^2 / sum w^2``, which the
    rules use; it is passed in from the rows' sums.
    """
    from hotspots.methods import kde

    collapsed = kde.choose_bandwidth(
        px, py, weights=pw, rule=rule, bandwidth_m=bandwidth_m, adjust=adjust
    )
    if collapsed.n_effective is None:
        return collapsed
    adjust = float(adjust)
    spread = collapsed.standard_distance_m
    adjusted = "" if adjust == 1 else f", x adjust {adjust:g}"
    if rule == "fixed":
        base = kde.DEFAULT_BANDWIDTH_M if bandwidth_m is None else float(bandwidth_m)
        source = "the default, patrol scale" if bandwidth_m is None else "given"
        detail = (
            f"Fixed search radius {base:,.0f} m ({source}){adjusted}; for comparison Scott's "
            f"rule on these points would give {kde._scott_m(spread, n_effective):,.0f} m"
        )
    elif rule == "scott":
        base = kde._scott_m(spread, n_effective)
        detail = (
            f"Scott's rule on the weighted standard distance: (SD {spread:,.0f} m"
            f" / sqrt 2) x n_eff {n_effective:,.0f}^(-1/6) = {base:,.0f} m{adjusted}"
        )
    else:
        _, median_distance, _ = kde._spread(px, py, pw, with_median=True)
        base = kde._silverman_m(spread, median_distance, n_effective)
        detail = (
            "Silverman's rule, ArcGIS spatial variant: 0.9 x min(SD "
            f"{spread:,.0f} m, sqrt(1/ln 2) x median distance "
            f"{median_distance:,.0f} m) x n_eff {n_effective:,.0f}^(-0.2) = "
            f"{base:,.0f} m{adjusted}"
        )
    value = base * adjust
    if adjust != 1:
        detail += f" = {value:,.0f} m"
    return kde.Bandwidth(
        bandwidth_m=float(value),
        rule=rule,
        adjust=adjust,
        detail=detail + ".",
        n_effective=n_effective,
        standard_distance_m=spread,
    )


def _density(
    points: pd.DataFrame,
    counted: gpd.GeoDataFrame,
    study: Areas,
    options: DetectOptions,
    n_effective: float,
) -> tuple[pd.Series, str, dict[str, object]]:
    """Kernel density per cell from distinct points, described as on the rows."""
    from hotspots.methods import kde

    px = points["x"].to_numpy()
    py = points["y"].to_numpy()
    pw = points["harm"].to_numpy(dtype=np.float64)
    rule = options.bandwidth_rule or "fixed"
    chosen = _bandwidth(
        px,
        py,
        pw,
        rule=rule,
        bandwidth_m=options.bandwidth_m,
        adjust=options.adjust,
        n_effective=n_effective,
    )
    as_given = kde.choose_bandwidth(
        px, py, weights=pw, rule="fixed", bandwidth_m=chosen.bandwidth_m
    )
    series, choice, parameters = kde.density_for_detect(
        px,
        py,
        pw,
        cells=counted,
        study_area=study.outline,
        kernel=options.kernel,
        rule="fixed",
        bandwidth_m=chosen.bandwidth_m,
        cell_size_m=options.grid_m,
        edge_correction=options.edge_correction,
    )
    choice = choice.replace(as_given.detail.rstrip("."), chosen.detail.rstrip("."))
    parameters = {
        **parameters,
        "bandwidth_rule": chosen.rule,
        "bandwidth_adjust": chosen.adjust,
        "bandwidth_detail": chosen.detail,
        "n_effective": chosen.n_effective,
        "standard_distance_m": chosen.standard_distance_m,
        "points": int(points["count"].sum()),
    }
    return series, choice, parameters


def _weighted_heaviest(
    cluster_of: np.ndarray,
    codes: np.ndarray,
    harm: np.ndarray,
    count: np.ndarray,
    *,
    tie_rank: np.ndarray,
    vagueness: np.ndarray | None = None,
) -> dict[int, int]:
    """``clusters._heaviest`` on stacks: harm and incidents summed per (cluster, code)."""
    known = codes >= 0
    table = pd.DataFrame(
        {
            "cluster": cluster_of[known],
            "code": codes[known],
            "sum": harm[known],
            "size": count[known],
        }
    )
    per = table.groupby(["cluster", "code"], sort=False)[["sum", "size"]].sum().reset_index()
    code = per["code"].to_numpy()
    per["vague"] = 0 if vagueness is None else vagueness[code]
    per["tie"] = tie_rank[code]
    per = per.sort_values(
        ["cluster", "vague", "sum", "size", "tie"],
        ascending=[True, True, False, False, True],
        kind="stable",
    ).drop_duplicates("cluster")
    return dict(zip(per["cluster"].tolist(), per["code"].tolist(), strict=True))


@dataclass(frozen=True)
class _PointClusters:
    labels: np.ndarray  # per distinct point
    polygons: gpd.GeoDataFrame
    parameters: dict[str, object]


def _clusters(
    points: pd.DataFrame,
    stacks: pd.DataFrame,
    *,
    options: DetectOptions,
    total_harm: float,
    median_harm: float,
    crs: object,
) -> _PointClusters:
    """:func:`hotspots.methods.clusters.find_clusters` on collapsed points (same labels and polygons)."""
    from hotspots.detect.points import DEFAULT_EPS_M
    from hotspots.io.formats import tidy_location
    from hotspots.methods import clusters as cl

    method = options.cluster_method
    eps_m = options.eps_m if options.eps_m is not None else DEFAULT_EPS_M
    min_harm = options.min_harm
    cl._check_options(method, eps_m, min_harm, None)
    xy = points[["x", "y"]].to_numpy(dtype=np.float64)
    stack = cl._Stacks(
        xy=xy,
        harm=points["harm"].to_numpy(dtype=np.float64),
        count=points["count"].to_numpy(dtype=np.int64),
        codes=np.arange(len(points)),
    )
    incidents = int(stack.count.sum())
    parameters: dict[str, object] = {
        "method": method,
        "eps_m": float(eps_m),
        "incidents": incidents,
        "distinct_points": len(points),
        "incidents_per_distinct_point": incidents / max(len(points), 1),
        "seed": None,
        "seed_used": False,
    }
    automatic = min_harm is None
    if automatic:
        hull_km2 = float(shapely.convex_hull(shapely.multipoints(xy)).area) / 1e6
        disc_km2 = math.pi * eps_m**2 / 1e6
        average_in_disc = total_harm * disc_km2 / hull_km2 if hull_km2 > 0 else 0.0
        min_harm = max(cl.DENSITY_RATIO * average_in_disc, cl.FLOOR_INCIDENTS * median_harm)
        if not min_harm > 0:
            raise SchemaError(
                "every incident has harm 0 (e.g. only anti-social behaviour, which CCHI "
                "weights 0), so there is no harm to cluster; pass min_harm=... with a harm "
                "table that weights these offences."
            )
        parameters.update(
            {
                "min_harm_rule": f"max({cl.DENSITY_RATIO:g} x harm in an eps_m disc at the "
                f"average density over the points' convex hull, {cl.FLOOR_INCIDENTS:g} x "
                "median incident harm)",
                "hull_area_km2": hull_km2,
                "average_harm_in_disc": average_in_disc,
                "median_incident_harm": median_harm,
            }
        )
    parameters["min_harm"] = float(min_harm)
    parameters["min_harm_source"] = "automatic" if automatic else "given"
    min_cluster_harm = None
    if method == "dbscan":
        labels = cl._dbscan_labels(stack.xy, stack.harm, eps_m=eps_m, min_weight=min_harm)
        parameters["dbscan_rule"] = (
            "core point: harm within eps_m (inclusive, own stack included) >= min_harm; "
            "stacked points collapsed with summed harm as sample_weight (exact)"
        )
    else:
        min_cluster_harm = min_harm
        # only the median of the positive incident harms is taken from the rows' harms
        labels, extra = cl._hdbscan_labels(
            stack,
            np.array([median_harm]),
            eps_m=eps_m,
            min_harm=min_harm,
            min_cluster_harm=min_cluster_harm,
        )
        parameters.update(extra)
    parameters["min_cluster_harm"] = None if min_cluster_harm is None else float(min_cluster_harm)
    labels = cl._relabel_by_harm(labels, stack)

    # polygons, as clusters._polygons does on the rows
    n_clusters = int(labels.max()) + 1 if len(labels) else 0
    clustered = np.flatnonzero(labels >= 0)
    counts = np.bincount(labels[clustered], weights=stack.count[clustered], minlength=n_clusters)
    harms = np.bincount(labels[clustered], weights=stack.harm[clustered], minlength=n_clusters)
    order = clustered[np.argsort(labels[clustered], kind="stable")]
    distinct = np.bincount(labels[clustered], minlength=n_clusters).astype(np.int64)
    outlines = np.empty(0, dtype=object)
    if n_clusters:
        hulls = shapely.concave_hull(
            shapely.multipoints(xy[order], indices=labels[order]), ratio=cl.CONCAVE_RATIO
        )
        outlines = shapely.buffer(hulls, eps_m / 2)
    area_km2 = shapely.area(outlines) / 1e6 if n_clusters else np.empty(0)

    point_of = pd.Index(points["x"].to_numpy() + 1j * points["y"].to_numpy()).get_indexer(
        stacks["x"].to_numpy() + 1j * stacks["y"].to_numpy()
    )
    stack_label = labels[point_of]
    inside = stack_label >= 0
    location_codes, names = pd.factorize(stacks[schema.LOCATION], sort=False)
    names = np.asarray(names, dtype=object)
    best_place = _weighted_heaviest(
        stack_label[inside],
        location_codes[inside],
        (stacks["count"].to_numpy(np.float64) * stacks["harm"].to_numpy(np.float64))[inside],
        stacks["count"].to_numpy(dtype=np.int64)[inside],
        tie_rank=cl._alphabetical_rank(names),
        vagueness=cl._vagueness(names),
    )
    place = {c: names[code] for c, code in best_place.items()}
    pair = (
        points["borough_code"].astype(object).fillna("\x00")
        + "\x01"
        + points["borough"].astype(object).fillna("\x00")
    )
    pair_codes, pairs = pd.factorize(pair, sort=False)
    pairs = np.asarray(pairs, dtype=object)
    split = [p.split("\x01") for p in pairs]
    code_of = np.array([None if a == "\x00" else a for a, _ in split], dtype=object)
    name_of = np.array([None if b == "\x00" else b for _, b in split], dtype=object)
    pair_codes = np.where(
        pd.isna(code_of[pair_codes]) | pd.isna(name_of[pair_codes]), -1, pair_codes
    )
    tie_rank = np.empty(len(pairs), dtype=np.int64)
    tie_rank[np.lexsort((name_of.astype(str), code_of.astype(str)))] = np.arange(len(pairs))
    in_points = labels >= 0
    best_borough = _weighted_heaviest(
        labels[in_points],
        pair_codes[in_points],
        stack.harm[in_points],
        stack.count[in_points],
        tie_rank=tie_rank,
    )
    table = pd.DataFrame(
        {
            cl.INCIDENTS: counts.astype(np.int64),
            schema.HARM: harms,
            cl.DISTINCT_POINTS: distinct,
            schema.BOROUGH_CODE: cl._at(
                {c: code_of[v] for c, v in best_borough.items()}, n_clusters
            ),
            schema.BOROUGH: cl._at({c: name_of[v] for c, v in best_borough.items()}, n_clusters),
            cl.PLACE: [tidy_location(p) for p in cl._at(place, n_clusters)],
            cl.AREA_KM2: area_km2,
            cl.HARM_DENSITY: harms / area_km2 if n_clusters else np.empty(0),
            cl.RANK: np.arange(1, n_clusters + 1, dtype=np.int64),
        },
        index=pd.RangeIndex(n_clusters, name=cl.CLUSTER),
    )
    for column in (schema.BOROUGH_CODE, schema.BOROUGH, cl.PLACE):
        table[column] = table[column].astype("string")
    polygons = gpd.GeoDataFrame(table, geometry=outlines, crs=crs)
    noise = labels < 0
    parameters.update(
        {
            "clusters": len(polygons),
            "noise_incidents": int(stack.count[noise].sum()),
            "harm_share_clustered": (
                float(polygons[schema.HARM].sum()) / total_harm if total_harm > 0 else 0.0
            ),
            "place_rule": "location holding the most harm in the cluster (ties: more "
            "incidents, then alphabetical); blank or generic names (e.g. 'On or near "
            "Supermarket') only when the cluster has no other",
            "polygon_rule": f"concave hull (ratio {cl.CONCAVE_RATIO}) of the distinct points, "
            "buffered by eps_m / 2",
        }
    )
    return _PointClusters(labels=labels, polygons=polygons, parameters=parameters)


def _cluster_per_cell(
    cell_ids: np.ndarray, labels: np.ndarray, harm: np.ndarray, count: np.ndarray
) -> pd.Series:
    """:func:`hotspots.methods.clusters.clusters_per_cell` from distinct points."""
    from hotspots.methods.clusters import CLUSTER, NOISE

    table = pd.DataFrame({schema.CELL_ID: cell_ids, CLUSTER: labels, "sum": harm, "size": count})
    per = table.groupby([schema.CELL_ID, CLUSTER], sort=False)[["sum", "size"]].sum().reset_index()
    clustered = per[per[CLUSTER] != NOISE].sort_values(
        [schema.CELL_ID, "sum", "size", CLUSTER], ascending=[True, False, False, True]
    )
    best = clustered.drop_duplicates(schema.CELL_ID).set_index(schema.CELL_ID)
    noise = per[per[CLUSTER] == NOISE].set_index(schema.CELL_ID)
    cells = pd.Index(sorted(per[schema.CELL_ID].unique()), name=schema.CELL_ID)
    best = best.reindex(cells)
    noise_sum = noise["sum"].reindex(cells, fill_value=0.0)
    noise_wins = noise_sum > best["sum"].fillna(-1.0)
    out = best[CLUSTER].where(~noise_wins & best[CLUSTER].notna(), NOISE)
    return out.astype(np.int64).rename(CLUSTER)


def detect_from_aggregates(
    aggregates: Aggregates,
    study: Areas,
    *,
    options: DetectOptions | None = None,
    harm_table: str = "",
    crime_types: tuple[str, ...] | None = None,
    title: str = "Harm hotspots",
) -> Detection:
    """Run every hotspot method on aggregates, as :func:`hotspots.detect.points.detect_hotspots`.

    Parameters
    ----------
    aggregates
        From :func:`aggregate_store` (or the Dask engine).
    study
        Study areas (London boroughs by default).
    options
        :class:`hotspots.detect.points.DetectOptions`.
    harm_table, crime_types, title
        Descriptions carried to maps and reports.

    Returns
    -------
    hotspots.detect.points.Detection
        The same cells table, clusters, concentration, monthly totals and choices as on the
        rows.
    """
    from hotspots.detect.points import (
        MIN_MONTHS_FOR_TRENDS,
        Detection,
        DetectOptions,
        _describe_clusters,
        assemble_cells,
    )
    from hotspots.geo.grid import make_grid
    from hotspots.io.formats import tidy_location
    from hotspots.methods import emerging
    from hotspots.methods import gi as stats
    from hotspots.methods.concentration import measure_concentration
    from hotspots.methods.counts import HARM_SUM, INCIDENT_COUNT

    options = options or DetectOptions()
    aggregates = aggregates.canonical()
    grid = make_grid(study, resolution=options.resolution)
    grid_cells = cell_ints(grid.index.to_numpy()).view(np.int64)
    position = pd.Index(grid_cells)
    bins = aggregates.bins
    where = position.get_indexer(bins["cell"].to_numpy())
    if (where < 0).any():
        unknown = pd.unique(bins["cell"].to_numpy()[where < 0])
        from hotspots.geo.grid import cell_strings

        raise SchemaError(
            f"{len(unknown)} cell_id value(s) in incidents are not in cells, e.g. "
            f"{sorted(cell_strings(unknown[:3].view(np.uint64)))}; build the grid over the "
            "same study area and resolution as the incidents."
        )
    counted = grid.assign(
        **{
            INCIDENT_COUNT: np.bincount(where, weights=bins["count"], minlength=len(grid)).astype(
                np.int64
            ),
            HARM_SUM: _exact_sums(aggregates.cell_harm_values, position),
        }
    )
    cell_km2 = float(counted["area_km2"].mean())
    choices: dict[str, str] = {
        "cells": (
            f"H3 resolution {options.resolution}: {len(counted):,} cells over the study area, "
            f"mean {cell_km2:.4f} km² each (cells with no incidents kept as 0)"
        ),
    }
    parameters: dict[str, object] = {
        "h3_resolution": options.resolution,
        "cells": len(counted),
        "mean_cell_km2": cell_km2,
    }
    points = aggregates.points()
    total_harm = aggregates.total_harm
    n_effective = total_harm**2 / aggregates.harm_squares if aggregates.harm_squares > 0 else 0.0

    density_series, density_choice, density_params = _density(
        points, counted, study, options, n_effective
    )
    choices["kernel_density"] = density_choice
    parameters["kernel_density"] = density_params

    gi, gi_choice, gi_params, gi_label = stats.gi_for_detect(
        counted,
        value=HARM_SUM,
        k=options.neighbours_k,
        permutations=options.permutations,
        seed=options.seed,
        fdr=options.fdr,
    )
    choices["gi_star"] = gi_choice
    parameters["gi_star"] = gi_params

    found = _clusters(
        points,
        aggregates.stacks,
        options=options,
        total_harm=total_harm,
        median_harm=_median_positive(aggregates.harm_values),
        crs=counted.crs,
    )
    point_cells = grid.index.to_numpy()[position.get_indexer(points["cell"].to_numpy())]
    cluster_of_cell = _cluster_per_cell(
        point_cells,
        found.labels,
        points["harm"].to_numpy(dtype=np.float64),
        points["count"].to_numpy(dtype=np.int64),
    ).reindex(counted.index, fill_value=-1)
    choices["clusters"] = _describe_clusters(found.parameters)
    parameters["clusters"] = found.parameters

    # months: every month from the first to the last with incidents
    month_bins = bins.groupby("month")[["count", "harm"]].sum()
    first, last = int(month_bins.index.min()), int(month_bins.index.max())
    full = pd.period_range(month_text(first), month_text(last), freq="M")
    by_month = month_bins.reindex(range(first, last + 1), fill_value=0)
    monthly = pd.DataFrame(
        {
            "incidents": pd.Series(by_month["count"].to_numpy(dtype=int), index=full),
            "harm": pd.Series(by_month["harm"].to_numpy(dtype=np.float64), index=full),
        }
    )
    if len(monthly) >= MIN_MONTHS_FOR_TRENDS:
        # one row per (cell, month) bin holding its harm: the cube of the rows, exactly
        cube_rows = pd.DataFrame(
            {
                schema.CELL_ID: grid.index.to_numpy()[where],
                schema.MONTH: _periods(bins["month"].to_numpy()),
                schema.HARM: bins["harm"].to_numpy(dtype=np.float64),
            }
        )
        trends, trend_choice, trend_params = emerging.trends_for_detect(
            cube_rows, counted, k=options.neighbours_k, fdr=options.fdr
        )
    else:
        trends = pd.Series("not_enough_months", index=counted.index)
        trend_choice = (
            f"only {len(monthly)} month(s): emerging hot-spot classes need at least "
            f"{MIN_MONTHS_FOR_TRENDS} monthly slices, so every cell is 'not_enough_months'"
        )
        trend_params = {"months": len(monthly)}
    choices["emerging"] = trend_choice
    parameters["emerging"] = trend_params

    stacks = aggregates.stacks
    named = stacks[stacks[schema.LOCATION].fillna("").ne("")]
    per_place = (
        pd.DataFrame(
            {
                schema.CELL_ID: grid.index.to_numpy()[
                    position.get_indexer(named["cell"].to_numpy())
                ],
                schema.LOCATION: named[schema.LOCATION].to_numpy(dtype=object),
                "n": named["count"].to_numpy(dtype=np.int64),
            }
        )
        .groupby([schema.CELL_ID, schema.LOCATION], sort=False)["n"]
        .sum()
        .reset_index()
        .sort_values([schema.CELL_ID, "n", schema.LOCATION], ascending=[True, False, True])
    )
    places = (
        per_place.drop_duplicates(schema.CELL_ID)
        .set_index(schema.CELL_ID)[schema.LOCATION]
        .map(tidy_location)
        .reindex(counted.index)
    )
    cells = assemble_cells(
        counted,
        density=density_series,
        gi=gi,
        cluster_of_cell=cluster_of_cell,
        trends=trends,
        places=places,
    )
    concentration = {
        "incidents": measure_concentration(cells["incidents"], quantity="incidents"),
        "harm": measure_concentration(cells["harm"], quantity="harm"),
    }
    return Detection(
        monthly_by_borough=_monthly_by_borough(aggregates.boroughs, full),
        cells=cells,
        clusters=found.polygons,
        concentration=concentration,
        monthly=monthly,
        choices=choices,
        parameters=parameters,
        period=(str(full[0]), str(full[-1])),
        crime_types=crime_types,
        harm_table=harm_table,
        gi_p_label=gi_label,
        title=title,
        study_areas=study.polygons,
    )


def _periods(ordinals: np.ndarray) -> pd.PeriodIndex:
    """Monthly periods from month ordinals (converting each distinct month once)."""
    codes, unique = pd.factorize(ordinals)
    periods = pd.PeriodIndex([month_text(int(m)) for m in unique], freq="M")
    return periods.take(codes) if len(codes) else pd.PeriodIndex([], freq="M")


def _monthly_by_borough(boroughs: pd.DataFrame, months: pd.PeriodIndex) -> pd.DataFrame:
    """:func:`hotspots.detect.points.monthly_by_borough` from borough x month sums."""
    table = boroughs[boroughs["borough_code"].fillna("").ne("")]
    index = pd.MultiIndex.from_arrays(
        [
            table["borough_code"].to_numpy(dtype=object),
            _periods(table["month"].to_numpy()),
        ],
        names=[schema.BOROUGH_CODE, schema.MONTH],
    )
    sums = pd.DataFrame(
        {
            "incidents": table["count"].to_numpy(dtype=np.int64),
            "harm": table["harm"].to_numpy(dtype=np.float64),
        },
        index=index,
    )
    full = pd.MultiIndex.from_product(
        [sorted(set(table["borough_code"])), months], names=[schema.BOROUGH_CODE, schema.MONTH]
    )
    return sums.reindex(full, fill_value=0).reset_index()


def detect_store(
    store: str | Path,
    study: Areas,
    *,
    options: DetectOptions | None = None,
    months: tuple[str, str] | None = None,
    offences: Sequence[str] | None = None,
    harm_table: str = "",
    crime_types: tuple[str, ...] | None = None,
    title: str | None = None,
    engine: str = "embedded",
    scheduler: str | None = None,
    with_searches: bool = True,
) -> Detection:
    """Detect hotspots on an ingest store without loading its rows.

    Parameters
    ----------
    store
        An ingest ``--out`` folder.
    study
        Study areas (the store's).
    options
        :class:`hotspots.detect.points.DetectOptions`.
    months, offences
        Partitions and offences to read.
    harm_table, crime_types, title
        Descriptions; ``crime_types`` defaults to the offences present and ``title`` to
        "Harm hotspots: <crime types>".
    engine
        ``"embedded"`` (stream on this machine) or ``"dask"`` (one task per month on a
        ``dask.distributed`` cluster; see :mod:`hotspots.engines.dask`).
    scheduler
        Dask scheduler address; ``None`` starts a local cluster.
    with_searches
        When the store also holds stop and search, count located searches per cell over
        the same months (column ``searches``).

    Returns
    -------
    hotspots.detect.points.Detection
        As :func:`hotspots.detect.points.detect_hotspots` on the same rows.
    """
    if engine == "dask":
        from hotspots.engines.dask import aggregate_on_dask

        aggregates = aggregate_on_dask(
            store, months=months, offences=offences, scheduler=scheduler
        )
    elif engine == "embedded":
        aggregates = aggregate_store(store, months=months, offences=offences)
    else:
        raise InputError(f"--engine {engine!r} is not known; use embedded or dask.")
    if not crime_types:
        crime_types = tuple(sorted(aggregates.offences)) or None
    detection = detect_from_aggregates(
        aggregates,
        study,
        options=options,
        harm_table=harm_table,
        crime_types=crime_types,
        title=title or f"Harm hotspots: {', '.join(crime_types or ('all crime',))}",
    )
    if with_searches and (Path(store) / "searches").is_dir():
        per_cell = count_cells(store, dataset="searches", months=months)
        detection.cells["searches"] = (
            per_cell.reindex(detection.cells.index, fill_value=0).astype(np.int64).to_numpy()
        )
        detection.choices["stop_and_search"] = (
            f"{int(detection.cells['searches'].sum()):,} located searches in the same months "
            "counted per cell (map layer 'Stop and search per cell')"
        )
    return detection


__all__ = [
    "READ_COLUMNS",
    "Aggregates",
    "aggregate_store",
    "combine",
    "count_cells",
    "detect_from_aggregates",
    "detect_store",
    "month_ordinal",
    "month_text",
    "reduce_month",
    "reduce_table",
]
