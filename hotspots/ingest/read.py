"""Read incidents and searches: validate, geocode, weight by harm, reject with reasons.

Every row read ends up in exactly one place: the accepted table or the rejects table,
so ``accepted + rejected == rows read`` always holds. The checks run in this order and
a row takes the reason of the first one it fails:

1. ``malformed_row``: the CSV line has the wrong number of fields;
2. ``duplicate_id``: a Crime ID already seen earlier in the same file (data.police.uk
   publishes some crimes twice in a month, sometimes with a different LSOA or outcome;
   the first line is kept);
3. ``bad_month`` / ``unparseable_time``: no valid ``YYYY-MM`` month, or a date-time that
   cannot be read (or is ambiguous/non-existent in local time);
4. ``unknown_offence``: the crime type is not in the harm table;
5. ``not_selected``: outside the requested ``months`` or ``crime_types``;
6. ``missing_coordinates``: no coordinates (street crime and generic tables only;
   stop-and-search rows without a location are kept and flagged, because force-wide
   search rates need them);
7. ``invalid_coordinates`` / ``swapped_coordinates``: not finite, out of range, British
   National Grid numbers in degree columns, or latitude and longitude swapped;
8. ``outside_study_area``: outside every area, beyond the snapping tolerance.

Other quirks are kept and counted as *notes* (see ``schema.NOTES``): blank Crime IDs
(anti-social behaviour), points on a boundary or snapped to the nearest area, UTC
date-times that fall in another local month, exact duplicate stop-and-search rows. Blank
lines are not rows: they are counted (``blank_line``) and the lines after them keep their
true numbers in ``source_row``.
"""

from __future__ import annotations

import itertools
import json
import re
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pyproj import Transformer

from hotspots.core import schema
from hotspots.core.errors import InputError, SchemaError
from hotspots.geo.boundaries import Layers
from hotspots.geo.geocode import DEFAULT_SNAP_M, assign_areas
from hotspots.geo.grid import cell_strings, cells_from_lonlat, check_resolution
from hotspots.harm.table import HarmTable
from hotspots.io.formats import (
    GENERIC,
    SEARCH,
    STREET,
    ColumnMap,
    detect_format,
    month_from_file_name,
)
from hotspots.io.sources import Chunk, Source, find_sources, iter_chunks, read_header
from hotspots.io.store import frame_from_arrow

NOT_SELECTED = schema.NOT_SELECTED
LOCAL_TZ = "Europe/London"
_MONTH_RE = r"^\d{4}-(0[1-9]|1[0-2])$"
_REASONS = (
    "",
    schema.MALFORMED_ROW,
    schema.DUPLICATE_ID,
    schema.BAD_MONTH,
    schema.UNPARSEABLE_TIME,
    schema.UNKNOWN_OFFENCE,
    NOT_SELECTED,
    schema.MISSING_COORDINATES,
    schema.INVALID_COORDINATES,
    schema.SWAPPED_COORDINATES,
    schema.OUTSIDE_STUDY_AREA,
)
_CODE = {reason: i for i, reason in enumerate(_REASONS)}

ProgressCallback = Callable[[int], None]


@dataclass(frozen=True)
class Selection:
    """Which rows to keep beyond validity: an inclusive month range and crime types."""

    months: tuple[str, str] | None = None
    crime_types: tuple[str, ...] | None = None

    def describe(self) -> dict[str, object]:
        """Plain form for manifests."""
        return {
            "months": list(self.months) if self.months else None,
            "crime_types": list(self.crime_types) if self.crime_types else None,
        }


def parse_months(text: str | None) -> tuple[str, str] | None:
    """Parse ``"2023-01..2023-12"`` (or one month) into an inclusive pair.

    Raises
    ------
    SchemaError
        If the text is not ``YYYY-MM..YYYY-MM`` with start <= end.
    """
    if not text:
        return None
    parts = text.split("..")
    if len(parts) == 1:
        parts = [parts[0], parts[0]]
    if len(parts) != 2 or not all(re.match(_MONTH_RE, p.strip()) for p in parts):
        raise SchemaError(f"months {text!r} must look like 2023-01..2023-12 (inclusive).")
    start, end = (p.strip() for p in parts)
    if start > end:
        raise SchemaError(f"months {text!r}: the start {start} is after the end {end}.")
    return start, end


@dataclass
class SourceReport:
    """What happened to one input file."""

    label: str
    kind: str
    rows_read: int = 0
    accepted: int = 0
    rejected: int = 0
    rejects_by_reason: Counter = field(default_factory=Counter)
    notes: Counter = field(default_factory=Counter)
    encoding: str = "utf-8"

    def as_dict(self) -> dict[str, object]:
        """Plain form for manifests."""
        return {
            "file": self.label,
            "format": self.kind,
            "encoding": self.encoding,
            "rows_read": self.rows_read,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "rejects_by_reason": dict(sorted(self.rejects_by_reason.items())),
            "notes": dict(sorted(self.notes.items())),
        }


@dataclass(frozen=True)
class Processed:
    """One chunk after validation: accepted rows (arrow) and rejects (pandas)."""

    kind: str
    accepted: pa.Table
    rejects: pd.DataFrame


@dataclass(frozen=True)
class IngestSettings:
    """Everything that decides how rows are read, for one run.

    Attributes
    ----------
    layers
        Boundary layers.
    harm
        Harm table.
    resolution
        H3 resolution of ``cell_id``.
    snap_m
        Snapping tolerance for points just outside every area.
    selection
        Months and crime types to keep.
    column_map
        Mapping for generic tables (``None`` for data.police.uk files only).
    working_crs
        Projected CRS of ``geometry``.
    """

    layers: Layers
    harm: HarmTable
    resolution: int = schema.DEFAULT_H3_RESOLUTION
    snap_m: float = DEFAULT_SNAP_M
    selection: Selection = field(default_factory=Selection)
    column_map: ColumnMap | None = None
    working_crs: str = schema.WORKING_CRS

    def describe(self) -> dict[str, object]:
        """Parameters for the manifest."""
        return {
            "h3_resolution": self.resolution,
            "snap_m": self.snap_m,
            "working_crs": self.working_crs,
            "study_areas": {
                "kind": self.layers.study.kind,
                "source": self.layers.study.source,
                "count": len(self.layers.study.polygons),
            },
            "extra_layers": {k: v.source for k, v in self.layers.extra.items()},
            "harm_table": self.harm.name,
            "selection": self.selection.describe(),
            "column_map": self.column_map.fields if self.column_map else None,
        }


# ---------------------------------------------------------------------------
# small vector helpers


def _text(table: pa.Table, column: str | None) -> pa.Array:
    """Return a column as trimmed UTF-8 text ('' for missing or absent columns)."""
    if column is None or column not in table.column_names:
        return pa.array([""] * table.num_rows, pa.string())
    array = table.column(column).combine_chunks()
    if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
        array = pc.cast(array, pa.string())
    return pc.utf8_trim_whitespace(array.fill_null(""))


def _numpy_bool(array: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return np.asarray(array.to_numpy(zero_copy_only=False), dtype=bool)


def _floats(table: pa.Table, column: str) -> tuple[np.ndarray, np.ndarray]:
    """Parse a column to float64; returns (values with NaN, is_blank)."""
    array = table.column(column).combine_chunks()
    if pa.types.is_floating(array.type) or pa.types.is_integer(array.type):
        values = np.asarray(pc.cast(array, pa.float64()).to_numpy(zero_copy_only=False))
        return values.astype(np.float64), _numpy_bool(array.is_null())
    text = _text(table, column)
    blank_arrow = pc.equal(text, "")
    blank = _numpy_bool(blank_arrow)
    try:
        values = pc.cast(pc.if_else(blank_arrow, None, text), pa.float64())
        out = np.asarray(values.to_numpy(zero_copy_only=False), dtype=np.float64)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        out = pd.to_numeric(
            pd.Series(text.to_numpy(zero_copy_only=False), dtype=object), errors="coerce"
        ).to_numpy(dtype=np.float64)
    return out, blank


def _lookup(keys: pa.Array, mapping: dict[str, object], default: object) -> np.ndarray:
    """Map text values through a dict, working on the distinct values only."""
    encoded = pc.dictionary_encode(keys)
    dictionary = encoded.dictionary.to_pylist()
    values = np.array([mapping.get(k, default) for k in dictionary] + [default], dtype=object)
    indices = encoded.indices.fill_null(len(dictionary)).to_numpy(zero_copy_only=False)
    return values[indices]


def _raw_json(table: pa.Table, positions: np.ndarray) -> list[str]:
    """Serialise the original fields of some rows, as compact JSON, for the rejects table."""
    if len(positions) == 0:
        return []
    subset = table.take(pa.array(positions, type=pa.int64())).to_pylist()
    return [json.dumps(row, ensure_ascii=False, default=str)[:2000] for row in subset]


def _detail_for(reason: str, row: dict[str, object]) -> str:
    """Write a sentence a person can act on, for one rejected row."""
    if reason == schema.DUPLICATE_ID:
        return f"Crime ID {row['id']!r} already appeared earlier in this file; first kept"
    if reason == schema.BAD_MONTH:
        return f"month {row['month']!r} is not YYYY-MM"
    if reason == schema.UNPARSEABLE_TIME:
        return (
            f"date-time {row['time']!r} cannot be read, or does not exist / is ambiguous "
            "in local time"
        )
    if reason == schema.UNKNOWN_OFFENCE:
        return f"offence {row['offence']!r} is not in the harm table; add it to a harm CSV"
    if reason == NOT_SELECTED:
        return f"month {row['month']} / offence {row['offence']!r} is outside the selection"
    if reason == schema.MISSING_COORDINATES:
        return "no coordinates: the row cannot be placed on a map"
    if reason == schema.INVALID_COORDINATES:
        lon, lat = row["lon"], row["lat"]
        hint = ""
        if (
            isinstance(lon, float)
            and isinstance(lat, float)
            and 0 <= lon <= 7e5
            and 0 <= lat <= 1.3e6
            and (abs(lon) > 180 or abs(lat) > 90)
        ):
            hint = "; these look like British National Grid metres: map them as x/y with --columns"
        return f"coordinates ({lon}, {lat}) are not valid {row['units']}{hint}"
    if reason == schema.SWAPPED_COORDINATES:
        return (
            f"longitude {row['lon']} / latitude {row['lat']} look swapped; fix the file "
            "(not corrected silently)"
        )
    if reason == schema.OUTSIDE_STUDY_AREA:
        return (
            f"point ({row['lon']:.5f}, {row['lat']:.5f}) is outside every area of {row['areas']}"
        )
    return reason


# ---------------------------------------------------------------------------
# the engine


class _Engine:
    """Validates chunks of one source at a time; holds per-file state (seen ids)."""

    def __init__(self, settings: IngestSettings) -> None:
        self.settings = settings
        self._to_working = Transformer.from_crs(schema.WGS84, settings.working_crs, always_xy=True)
        self._source_xy: Transformer | None = None
        if settings.column_map is not None and settings.column_map.has_xy:
            crs = settings.column_map.crs
            self._source_xy = Transformer.from_crs(crs, schema.WGS84, always_xy=True)

    # -- per file ---------------------------------------------------------
    def process_source(
        self, source: Source, report: SourceReport, on_progress: ProgressCallback | None
    ) -> Iterator[Processed]:
        header, encoding = read_header(source)
        kind = detect_format(header, label=source.label, column_map=self.settings.column_map)
        report.kind = kind
        report.encoding = encoding
        state = _FileState(file_month=month_from_file_name(source.name))
        chunks = iter_chunks(source, header=header, encoding=encoding, on_progress=on_progress)
        first = next(chunks, None)
        if first is None:  # header only: one empty chunk, so that the file is reported
            empty = pa.Table.from_arrays([pa.array([], pa.string()) for _ in header], names=header)
            first = Chunk(table=empty, source_rows=np.empty(0, dtype=np.int64), malformed=[])
        for chunk in itertools.chain([first], chunks):
            processed = self._process_chunk(chunk, source, kind, report, state)
            if chunk.blank_lines:
                report.notes["blank_line"] += chunk.blank_lines
            report.rows_read += chunk.table.num_rows + len(chunk.malformed)
            report.accepted += processed.accepted.num_rows
            report.rejected += len(processed.rejects)
            report.rejects_by_reason.update(processed.rejects["reason"].tolist())
            yield processed

    # -- per chunk ----------------------------------------------------------
    def _field(self, name: str) -> str | None:
        cmap = self.settings.column_map
        return cmap.fields.get(name) if cmap is not None else None

    def _process_chunk(
        self, chunk: Chunk, source: Source, kind: str, report: SourceReport, state: _FileState
    ) -> Processed:
        table = chunk.table
        n = table.num_rows
        rows = np.asarray(chunk.source_rows, dtype=np.int64)
        code = np.zeros(n, dtype=np.int8)
        selection = self.settings.selection
        info: dict[str, np.ndarray | pa.Array] = {}

        def fail(mask: np.ndarray, reason: str) -> None:
            code[(code == 0) & mask] = _CODE[reason]

        # 1. ids and duplicates (first line of a Crime ID kept)
        id_column = {STREET: "Crime ID", GENERIC: self._field("id")}.get(kind)
        ids = _text(table, id_column)
        blank_id = _numpy_bool(pc.equal(ids, ""))
        if kind != SEARCH and n:
            dup = state.repeated_ids(ids, blank_id)
            fail(dup, schema.DUPLICATE_ID)
        info["id"] = ids

        # 2. month and time
        occurred = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
        if kind == SEARCH or (kind == GENERIC and self._field("occurred_at")):
            raw_time = _text(table, "Date" if kind == SEARCH else self._field("occurred_at"))
            tz = LOCAL_TZ if kind == SEARCH else self.settings.column_map.timezone  # type: ignore[union-attr]
            utc = _parse_times(raw_time.to_numpy(zero_copy_only=False), tz)
            bad_time = np.asarray(pd.isna(utc))
            fail(bad_time, schema.UNPARSEABLE_TIME)
            occurred = utc.tz_convert(None).to_numpy(dtype="datetime64[ns]")
            month = np.asarray(utc.tz_convert(LOCAL_TZ).strftime("%Y-%m"), dtype=object)
            month[bad_time] = ""
            utc_month = np.asarray(utc.strftime("%Y-%m"), dtype=object)
            report.notes[schema.NOTE_MONTH_FROM_UTC] += int(
                ((utc_month != month) & ~bad_time).sum()
            )
            month_arrow = pa.array(month, pa.string())
            info["time"] = raw_time
        else:
            month_arrow = _text(table, "Month" if kind == STREET else self._field("month"))
            good = _numpy_bool(
                pc.fill_null(pc.match_substring_regex(month_arrow, _MONTH_RE), False)
            )
            fail(~good, schema.BAD_MONTH)
            if state.file_month is not None and kind == STREET:
                differs = _numpy_bool(pc.not_equal(month_arrow, state.file_month))
                report.notes[schema.NOTE_MONTH_NOT_FILE_MONTH] += int((good & differs).sum())
        info["month"] = month_arrow

        # 3. offence and harm
        if kind == SEARCH:
            harm = np.zeros(n)
            offence = pa.array([""] * n, pa.string())
        else:
            raw_offence = _text(table, "Crime type" if kind == STREET else self._field("offence"))
            encoded = pc.dictionary_encode(raw_offence)
            labels = encoded.dictionary.to_numpy(zero_copy_only=False)
            indices = encoded.indices.to_numpy(zero_copy_only=False)
            harm = self.settings.harm.lookup(labels)[indices]
            offence = pa.array(self.settings.harm.canonical(labels)[indices], pa.string())
            fail(np.isnan(harm), schema.UNKNOWN_OFFENCE)
            info["offence"] = raw_offence

        # 4. selection
        if selection.months is not None:
            start, end = selection.months
            inside = pc.and_(pc.greater_equal(month_arrow, start), pc.less_equal(month_arrow, end))
            fail(~_numpy_bool(pc.fill_null(inside, False)), NOT_SELECTED)
        if selection.crime_types is not None and kind != SEARCH:
            wanted = pa.array(sorted({c.strip().casefold() for c in selection.crime_types}))
            chosen = pc.is_in(pc.utf8_lower(offence.fill_null("")), value_set=wanted)
            fail(~_numpy_bool(chosen), NOT_SELECTED)
        info.setdefault("offence", offence)

        # 5-7. coordinates
        lon, lat, x, y, coord_blank, units = self._coordinates(table, kind)
        info["lon"], info["lat"] = lon, lat
        info["units"] = np.full(n, units, dtype=object)
        has_location = ~coord_blank
        if kind == SEARCH:
            report.notes[schema.NOTE_SEARCH_NO_LOCATION] += int((coord_blank & (code == 0)).sum())
        else:
            fail(coord_blank, schema.MISSING_COORDINATES)
        with np.errstate(invalid="ignore"):
            in_range = (
                np.isfinite(lon) & np.isfinite(lat) & (np.abs(lon) <= 180) & (np.abs(lat) <= 90)
            )
            fail(has_location & ~in_range, schema.INVALID_COORDINATES)
            minx, miny, maxx, maxy = self.settings.layers.bbox_wgs84
            in_box = (lon >= minx) & (lon <= maxx) & (lat >= miny) & (lat <= maxy)
            swapped_in_box = (lat >= minx) & (lat <= maxx) & (lon >= miny) & (lon <= maxy)
        fail(has_location & in_range & ~in_box & swapped_in_box, schema.SWAPPED_COORDINATES)

        # 8. place each distinct point once
        placed = (code == 0) & has_location
        area_index = np.full(n, -1, dtype=np.int64)
        cells = np.zeros(n, dtype=np.uint64)
        x_all = np.full(n, np.nan)
        y_all = np.full(n, np.nan)
        if placed.any():
            key = lon[placed] + 1j * lat[placed]
            inverse, unique_key = pd.factorize(key)
            ulon, ulat = unique_key.real, unique_key.imag
            if x is None:
                ux, uy = self._to_working.transform(ulon, ulat)
                ux, uy = np.asarray(ux), np.asarray(uy)
            else:
                first = np.zeros(len(unique_key), dtype=np.int64)
                first[inverse[::-1]] = np.arange(len(inverse))[::-1]
                ux, uy = x[placed][first], y[placed][first]
            assignment = assign_areas(
                ux, uy, self.settings.layers.study, snap_m=self.settings.snap_m
            )
            area_index[placed] = assignment.index[inverse]
            ucells = cells_from_lonlat(ulon, ulat, resolution=self.settings.resolution)
            cells[placed] = ucells[inverse]
            x_all[placed], y_all[placed] = ux[inverse], uy[inverse]
            weights = np.bincount(inverse, minlength=len(unique_key))
            report.notes[schema.NOTE_ON_BOUNDARY] += int(
                weights[assignment.on_boundary_mask].sum()
            )
            report.notes[schema.NOTE_SNAPPED] += int(weights[assignment.snapped_mask].sum())
            fail(placed & (area_index < 0), schema.OUTSIDE_STUDY_AREA)

        # split
        accepted_mask = code == 0
        rejects = self._rejects(table, rows, code, info, source, chunk.malformed)
        if kind != SEARCH:
            report.notes[schema.NOTE_BLANK_CRIME_ID] += int((blank_id & accepted_mask).sum())
        keep = np.flatnonzero(accepted_mask)
        accepted = self._accepted(
            table=table,
            kind=kind,
            keep=keep,
            rows=rows,
            ids=ids,
            blank_id=blank_id,
            month=month_arrow,
            occurred=occurred,
            offence=offence,
            harm=harm,
            lon=lon,
            lat=lat,
            x=x_all,
            y=y_all,
            cells=cells,
            area_index=area_index,
            located=has_location,
            source=source,
            report=report,
            state=state,
        )
        return Processed(kind=kind, accepted=accepted, rejects=rejects)

    def _coordinates(
        self, table: pa.Table, kind: str
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None, np.ndarray, str]:
        cmap = self.settings.column_map
        if kind == GENERIC and cmap is not None and cmap.has_xy:
            x, x_blank = _floats(table, cmap.fields["x"])
            y, y_blank = _floats(table, cmap.fields["y"])
            ok = np.isfinite(x) & np.isfinite(y)
            lon = np.full(len(x), np.nan)
            lat = np.full(len(x), np.nan)
            if ok.any():
                lon[ok], lat[ok] = self._source_xy.transform(x[ok], y[ok])  # type: ignore[union-attr]
                if cmap.crs.upper() != self.settings.working_crs.upper():
                    x, y = x.copy(), y.copy()
                    x[ok], y[ok] = self._to_working.transform(lon[ok], lat[ok])
            # non-finite projected inputs must fail the range check
            lon[~ok & ~(x_blank | y_blank)] = np.inf
            return lon, lat, x, y, x_blank | y_blank, "projected x/y"
        lon_col, lat_col = ("Longitude", "Latitude")
        if kind == GENERIC and cmap is not None:
            lon_col, lat_col = cmap.fields["lon"], cmap.fields["lat"]
        lon, lon_blank = _floats(table, lon_col)
        lat, lat_blank = _floats(table, lat_col)
        return lon, lat, None, None, lon_blank | lat_blank, "WGS84 degrees"

    def _rejects(
        self,
        table: pa.Table,
        rows: np.ndarray,
        code: np.ndarray,
        info: dict[str, np.ndarray | pa.Array],
        source: Source,
        malformed: list[tuple[int, str]],
    ) -> pd.DataFrame:
        positions = np.flatnonzero(code != 0)
        records = []
        # rows left out on purpose by --months/--crime-type are valid: no need to copy them
        wanted_raw = positions[code[positions] != _CODE[NOT_SELECTED]]
        raw_by_pos = dict(zip(wanted_raw.tolist(), _raw_json(table, wanted_raw), strict=True))
        raws = [raw_by_pos.get(int(p), "") for p in positions]
        areas = Path(self.settings.layers.study.source).name
        for pos, raw in zip(positions, raws, strict=True):
            reason = _REASONS[code[pos]]
            row = {
                k: (v[pos].as_py() if isinstance(v, pa.Array) else v[pos]) for k, v in info.items()
            }
            row["areas"] = areas
            records.append((source.label, int(rows[pos]), reason, _detail_for(reason, row), raw))
        for line, detail in malformed:
            records.append((source.label, int(line), schema.MALFORMED_ROW, detail, ""))
        return pd.DataFrame.from_records(records, columns=list(schema.REJECT_COLUMNS))

    def _accepted(
        self,
        *,
        table: pa.Table,
        kind: str,
        keep: np.ndarray,
        rows: np.ndarray,
        ids: pa.Array,
        blank_id: np.ndarray,
        month: pa.Array,
        occurred: np.ndarray,
        offence: pa.Array,
        harm: np.ndarray,
        lon: np.ndarray,
        lat: np.ndarray,
        x: np.ndarray,
        y: np.ndarray,
        cells: np.ndarray,
        area_index: np.ndarray,
        located: np.ndarray,
        source: Source,
        report: SourceReport,
        state: _FileState,
    ) -> pa.Table:
        layers = self.settings.layers
        take = pa.array(keep, pa.int64())
        located_k = located[keep]
        x_k, y_k = x[keep], y[keep]

        row_ids = ids.take(take)
        blank_k = blank_id[keep]
        if blank_k.any():
            made = np.asarray(row_ids.to_numpy(zero_copy_only=False), dtype=object)
            made[blank_k] = [f"{source.name}:{r}" for r in rows[keep][blank_k]]
            row_ids = pa.array(made, pa.string())

        columns: dict[str, pa.Array] = {
            schema.INCIDENT_ID: row_ids,
            schema.MONTH: month.take(take),
            schema.OCCURRED_AT: pa.array(occurred[keep], pa.timestamp("ns", tz="UTC")),
        }
        if kind == SEARCH:
            columns.update(self._search_columns(table, take, report, state))
            columns[schema.HAS_LOCATION] = pa.array(located_k, pa.bool_())
        else:
            columns[schema.OFFENCE] = offence.take(take)
            columns[schema.HARM] = pa.array(harm[keep], pa.float64())
        study_pos = area_index[keep]
        inside = study_pos >= 0
        columns[schema.BOROUGH_CODE] = _codes_or_null(layers.study.codes, study_pos)
        columns[schema.BOROUGH] = _codes_or_null(layers.study.names, study_pos)
        for layer_name, layer in layers.extra.items():
            extra = np.full(len(keep), -1, dtype=np.int64)
            if inside.any():
                extra[inside] = assign_areas(
                    x_k[inside], y_k[inside], layer, snap_m=self.settings.snap_m
                ).index
            report.notes[f"outside_{layer_name}_layer"] += int((inside & (extra < 0)).sum())
            columns[f"{layer_name}_code"] = _codes_or_null(layer.codes, extra)
            if layer_name != "lsoa21":
                columns[layer_name] = _codes_or_null(layer.names, extra)
        cell_text = np.full(len(keep), None, dtype=object)
        if located_k.any():
            cell_text[located_k] = cell_strings(cells[keep][located_k])
        columns[schema.CELL_ID] = pa.array(cell_text, pa.string())
        columns[schema.LON] = pa.array(np.where(located_k, lon[keep], np.nan), pa.float64())
        columns[schema.LAT] = pa.array(np.where(located_k, lat[keep], np.nan), pa.float64())
        if kind != SEARCH:
            street = kind == STREET
            location = _text(table, "Location" if street else self._field("location")).take(take)
            lsoa = _text(table, "LSOA code" if street else self._field("lsoa_code")).take(take)
            outcome = _text(table, "Last outcome category" if street else self._field("outcome"))
            columns[schema.LOCATION] = location
            columns[schema.LSOA_CODE] = lsoa
            vintages = layers.lsoa_vintages or {}
            vintage = _lookup(lsoa, vintages, "unknown")
            vintage[_numpy_bool(pc.equal(lsoa, ""))] = ""
            columns[schema.LSOA_VINTAGE] = pa.array(vintage, pa.string())
            columns[schema.OUTCOME] = outcome.take(take)
        columns[schema.SOURCE_FILE] = pa.array([source.label] * len(keep), pa.string())
        columns[schema.SOURCE_ROW] = pa.array(rows[keep], pa.int64())
        columns[schema.GEOMETRY] = pa.StructArray.from_arrays(
            [pa.array(x_k, pa.float64()), pa.array(y_k, pa.float64())],
            names=["x", "y"],
            mask=pa.array(~located_k, pa.bool_()),
        )
        return pa.table(columns)

    def _search_columns(
        self, table: pa.Table, take: pa.Array, report: SourceReport, state: _FileState
    ) -> dict[str, pa.Array]:
        def text(name: str) -> pa.Array:
            return _text(table, name).take(take)

        def flag(name: str) -> pa.Array:
            lower = pc.utf8_lower(text(name))
            return pc.if_else(
                pc.equal(lower, "true"), True, pc.if_else(pc.equal(lower, "false"), False, None)
            )

        subset = table.take(take)
        duplicate = state.repeated_rows(subset)
        report.notes[schema.NOTE_EXACT_DUPLICATE_SEARCH] += int(duplicate.sum())
        return {
            schema.SEARCH_TYPE: text("Type"),
            schema.GENDER: text("Gender"),
            schema.AGE_RANGE: text("Age range"),
            schema.SELF_ETHNICITY: text("Self-defined ethnicity"),
            schema.OFFICER_ETHNICITY: text("Officer-defined ethnicity"),
            schema.LEGISLATION: text("Legislation"),
            schema.OBJECT_OF_SEARCH: text("Object of search"),
            schema.OUTCOME: text("Outcome"),
            schema.OUTCOME_LINKED: flag("Outcome linked to object of search"),
            schema.REMOVAL_OF_CLOTHING: flag("Removal of more than just outer clothing"),
            "part_of_policing_operation": flag("Part of a policing operation"),
            "policing_operation": text("Policing operation"),
            schema.DUPLICATE_OF_EARLIER: pa.array(duplicate, pa.bool_()),
        }


def _codes_or_null(values: np.ndarray, positions: np.ndarray) -> pa.Array:
    """``values[positions]`` with null where the position is -1."""
    out = np.where(positions >= 0, values[np.maximum(positions, 0)], None)
    return pa.array(out, pa.string())


@dataclass
class _FileState:
    """What must be remembered across the chunks of one file."""

    file_month: str | None
    seen_ids: list[pa.Array] = field(default_factory=list)
    seen_row_hashes: list[np.ndarray] = field(default_factory=list)

    def repeated_ids(self, ids: pa.Array, blank: np.ndarray) -> np.ndarray:
        """Flag a non-blank id seen on an earlier line of this file; remembers ids."""
        series = pd.Series(ids.to_numpy(zero_copy_only=False), dtype=object)
        repeated = series.duplicated().to_numpy() & ~blank
        if self.seen_ids:
            earlier = pa.chunked_array(self.seen_ids)
            repeated |= _numpy_bool(pc.is_in(ids, value_set=earlier.combine_chunks())) & ~blank
        self.seen_ids.append(pc.filter(ids, pa.array(~blank & ~repeated)))
        return repeated

    def repeated_rows(self, table: pa.Table) -> np.ndarray:
        """Flag a row identical to an earlier row of this file; remembers rows."""
        if table.num_rows == 0:
            return np.zeros(0, dtype=bool)
        hashes = pd.util.hash_pandas_object(table.to_pandas(), index=False).to_numpy()
        repeated = pd.Series(hashes).duplicated().to_numpy()
        if self.seen_row_hashes:
            repeated |= np.isin(hashes, np.concatenate(self.seen_row_hashes))
        self.seen_row_hashes.append(hashes[~repeated])
        return repeated


_FIRST_NS = pd.Timestamp("1677-09-22", tz="UTC")
_LAST_NS = pd.Timestamp("2262-04-10", tz="UTC")


def _parse_times(raw: np.ndarray, timezone: str) -> pd.DatetimeIndex:
    """Parse date-time strings to UTC; naive ones are local to ``timezone``.

    ISO dates (``2024-02-03 14:00``) are read year-month-day; other forms are read the
    British way, day first (``03/02/2024 14:00`` is 3 February). Ambiguous or non-existent
    local times (clock changes) become NaT, so they are rejected rather than guessed.
    """
    series = pd.Series(raw, dtype=object).astype(str).str.strip()
    out = pd.Series(pd.NaT, index=series.index, dtype="datetime64[ns, UTC]")
    has_offset = series.str.contains(r"(?:Z|[+-]\d{2}:?\d{2})$", regex=True)
    iso = series.str.match(r"^\d{4}-\d{2}-\d{2}")
    for mask, aware, options in (
        (has_offset & iso, True, {"format": "ISO8601"}),
        (has_offset & ~iso, True, {"format": "mixed", "dayfirst": True}),
        (~has_offset & iso & (series != ""), False, {"format": "ISO8601"}),
        (~has_offset & ~iso & (series != ""), False, {"format": "mixed", "dayfirst": True}),
    ):
        if not mask.any():
            continue
        if aware:
            parsed = pd.to_datetime(series[mask], utc=True, errors="coerce", **options)
        else:
            parsed = pd.to_datetime(series[mask], errors="coerce", **options)
            if parsed.dt.tz is not None:  # pragma: no cover - offsets are caught above
                parsed = parsed.dt.tz_convert("UTC")
            else:
                parsed = parsed.dt.tz_localize(timezone, ambiguous="NaT", nonexistent="NaT")
        parsed = parsed.dt.tz_convert("UTC")
        # "10-17" reads as 17 October of year 1: outside what nanoseconds hold, so NaT
        representable = parsed.between(_FIRST_NS, _LAST_NS)
        out[mask] = parsed.where(representable).dt.as_unit("ns")
    return pd.DatetimeIndex(out)


# ---------------------------------------------------------------------------
# public API


@dataclass(frozen=True)
class Loaded:
    """Incidents (or searches) read into memory, with their rejects.

    ``len(incidents) + len(rejects) == rows_read`` always holds.

    Attributes
    ----------
    incidents
        Accepted rows, indexed by ``incident_id``, geometry in the working CRS.
    rejects
        One row per rejected input row: source_file, source_row, reason, detail, raw.
    rows_read
        Data rows read from all inputs.
    reports
        Per-file counts and notes.
    settings
        How the rows were read.
    """

    incidents: gpd.GeoDataFrame
    rejects: pd.DataFrame
    rows_read: int
    reports: list[SourceReport]
    settings: IngestSettings

    @property
    def notes(self) -> Counter:
        """Counted quirks over all files."""
        total: Counter = Counter()
        for report in self.reports:
            total.update(report.notes)
        return total


def run_sources(
    sources: Sequence[Source],
    settings: IngestSettings,
    *,
    on_progress: ProgressCallback | None = None,
) -> Iterator[tuple[SourceReport, Processed]]:
    """Validate every source in turn, yielding each processed chunk with its file report."""
    check_resolution(settings.resolution)
    engine = _Engine(settings)
    done_bytes = 0
    for source in sources:
        report = SourceReport(label=source.label, kind="")

        def progress(consumed: int, base: int = done_bytes) -> None:
            if on_progress is not None:
                on_progress(base + consumed)

        for processed in engine.process_source(source, report, progress):
            yield report, processed
        if report.rows_read == 0 and report.kind:
            report.notes["header_only"] += 1
        done_bytes += source.size_bytes
        if on_progress is not None:
            on_progress(done_bytes)


def read_incidents(
    inputs: str | Path | Sequence[str | Path],
    *,
    settings: IngestSettings | None = None,
    on_progress: ProgressCallback | None = None,
    kind: str = STREET,
) -> Loaded:
    """Read data.police.uk files (or a mapped generic table) into memory.

    Parameters
    ----------
    inputs
        Files, folders, globs or zip archives.
    settings
        How to read; :func:`london_settings` by default.
    on_progress
        Called with the compressed bytes consumed so far.
    kind
        ``"street"`` for crimes (street files and generic tables) or ``"search"`` for
        stop-and-search files. Files of the other kind raise :class:`SchemaError`.

    Returns
    -------
    Loaded
        Accepted incidents, rejects and counts; accepted + rejected == rows read.

    Examples
    --------
    >>> loaded = read_incidents("data/police_uk/city_of_london_street")  # doctest: +SKIP
    >>> len(loaded.incidents) + len(loaded.rejects) == loaded.rows_read  # doctest: +SKIP
    True
    """
    if isinstance(inputs, (str, Path)):
        inputs = [inputs]
    settings = settings or london_settings()
    sources = find_sources(inputs)
    accepted: list[pa.Table] = []
    template: pa.Table | None = None  # an accepted table, maybe empty: gives the schema
    rejects: list[pd.DataFrame] = []
    reports: dict[str, SourceReport] = {}
    for report, processed in run_sources(sources, settings, on_progress=on_progress):
        wanted = (SEARCH,) if kind == SEARCH else (STREET, GENERIC)
        if processed.kind not in wanted:
            raise SchemaError(
                f"{report.label} is a {processed.kind} file but {kind} rows were asked for; "
                f"use {'read_searches' if processed.kind == SEARCH else 'read_incidents'}."
            )
        reports[report.label] = report
        if template is None:
            template = processed.accepted
        if processed.accepted.num_rows:
            accepted.append(processed.accepted)
        if len(processed.rejects):
            rejects.append(processed.rejects)
    if accepted or template is not None:
        table = pa.concat_tables(accepted, promote_options="default") if accepted else template
        incidents = frame_from_arrow(table, working_crs=settings.working_crs)
    else:
        incidents = gpd.GeoDataFrame(
            {c: [] for c in schema.INCIDENT_COLUMNS if c != schema.GEOMETRY},
            geometry=[],
            crs=settings.working_crs,
        ).rename_axis(schema.INCIDENT_ID)
    reject_frame = (
        pd.concat(rejects, ignore_index=True)
        if rejects
        else pd.DataFrame(
            {
                c: pd.Series(dtype="int64" if c == schema.SOURCE_ROW else "str")
                for c in schema.REJECT_COLUMNS
            }
        )
    )
    rows_read = sum(r.rows_read for r in reports.values())
    if len(incidents) + len(reject_frame) != rows_read:  # pragma: no cover - invariant
        raise RuntimeError(
            f"internal error: {len(incidents)} accepted + {len(reject_frame)} rejected "
            f"!= {rows_read} read; please report this."
        )
    return Loaded(
        incidents=incidents,
        rejects=reject_frame,
        rows_read=rows_read,
        reports=list(reports.values()),
        settings=settings,
    )


def read_searches(
    inputs: str | Path | Sequence[str | Path],
    *,
    settings: IngestSettings | None = None,
    on_progress: ProgressCallback | None = None,
) -> Loaded:
    """Read data.police.uk stop-and-search files into memory (see :func:`read_incidents`)."""
    return read_incidents(inputs, settings=settings, on_progress=on_progress, kind=SEARCH)


def london_settings(
    *,
    resolution: int = schema.DEFAULT_H3_RESOLUTION,
    harm: HarmTable | None = None,
    selection: Selection | None = None,
    column_map: ColumnMap | None = None,
    with_wards: bool = False,
    with_lsoas: bool = False,
    snap_m: float = DEFAULT_SNAP_M,
) -> IngestSettings:
    """Build settings for London: the 33 bundled boroughs, CCHI harm, H3 resolution 9."""
    from hotspots.geo.boundaries import london_layers
    from hotspots.harm.table import default_harm_table

    return IngestSettings(
        layers=london_layers(with_wards=with_wards, with_lsoas=with_lsoas),
        harm=harm or default_harm_table("police_uk"),
        resolution=check_resolution(resolution),
        snap_m=snap_m,
        selection=selection or Selection(),
        column_map=column_map,
    )


__all__ = [
    "InputError",
    "IngestSettings",
    "Layers",
    "Loaded",
    "Selection",
    "SourceReport",
    "frame_from_arrow",
    "london_settings",
    "parse_months",
    "read_incidents",
    "read_searches",
    "run_sources",
]
