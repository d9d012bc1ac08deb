"""Aggregates: the sums every hotspot method needs, reduced from rows and merged exactly.

Distinct map points with their harm, cells x months, boroughs x months and a harm
histogram; memory grows with distinct points and cells, not rows. Merging is associative,
so months can be reduced anywhere (this process, a Dask worker) and merged in any order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from hotspots.core import schema
from hotspots.core.errors import InputError
from hotspots.geo.grid import cell_ints

if TYPE_CHECKING:
    pass


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


def _text_series(values: np.ndarray) -> pd.Series:
    """Text as a plain object column (no conversion to another string type per row)."""
    return pd.Series(values, dtype=object)
