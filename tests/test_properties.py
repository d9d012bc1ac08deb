"""Property-based tests (Hypothesis) over generated and mutated data.police.uk files.

Files are built from real rows of the bundled data, then mutated: fields blanked or
replaced by random unicode (commas, quotes, line breaks, NUL included), numbers made
extreme, columns swapped, latitude and longitude swapped, British National Grid numbers
in the degree columns, rows duplicated, fields dropped or added, stray quotes, raw junk
lines, other encodings and line endings, reordered columns.

Whatever arrives, reading must:

* raise nothing but :class:`hotspots.core.errors.HotspotsError`;
* account for every line after the header exactly once: a blank line is counted as a
  note, every other line is one row, accepted or rejected, under its own line number (so
  accepted + rejected == rows read == non-blank lines);
* accept only rows that satisfy the schema (harm finite and >= 0, a London borough, a
  valid H3 cell at the resolution that contains the point, a valid month, a point inside
  London or within the snapping distance of it).

Example counts (``max_examples``) are modest so that the file runs in well under a minute.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
import tempfile
from functools import cache
from pathlib import Path

import h3
import numpy as np
import pandas as pd
import pytest
import shapely
from conftest import DATA
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from hotspots.core import schema
from hotspots.core.errors import HotspotsError, SchemaError
from hotspots.ingest.read import parse_months, read_incidents, read_searches
from hotspots.io.atomic import FORMULA_PREFIXES, write_csv
from hotspots.io.formats import SEARCH_COLUMNS, STREET_COLUMNS

STREET_EXAMPLES = 200
SEARCH_EXAMPLES = 120
PIPELINE_EXAMPLES = 20
SMALL_EXAMPLES = 200
EXAMPLES_PER_RUN = STREET_EXAMPLES + SEARCH_EXAMPLES + PIPELINE_EXAMPLES + 3 * SMALL_EXAMPLES

PROPERTY = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
}
LINE_BREAK = re.compile(r"\r\n|\r|\n")


@cache
def real_rows(kind: str) -> tuple[tuple[str, ...], ...]:
    """Real rows (as published strings) to mutate: street crime of all types, or searches."""
    if kind == "street":
        files = [
            DATA / "police_uk" / "city_of_london_street" / "2024-01-city-of-london-street.csv.gz",
            DATA / "police_uk" / "met_burglary" / "2024-01-metropolitan-street.csv.gz",
        ]
    else:
        files = [
            DATA
            / "police_uk"
            / "met_stop_and_search"
            / "2024-01-metropolitan-stop-and-search.csv.gz"
        ]
    rows: list[tuple[str, ...]] = []
    for path in files:
        with gzip.open(path, "rt", encoding="utf-8", newline="") as handle:
            reader = csv.reader(handle)
            next(reader)
            rows += [tuple(r) for _, r in zip(range(150), reader, strict=False)]
    return tuple(rows)


@cache
def london():
    """Settings, the study outline and the 33 codes, read once."""
    from hotspots.ingest.read import london_settings

    settings_ = london_settings()
    study = settings_.layers.study
    outline = shapely.buffer(study.outline, 51.0)  # snapping distance (50 m) and a margin
    shapely.prepare(outline)
    return settings_, outline, dict(zip(study.codes, study.names, strict=True))


# --- strategies ----------------------------------------------------------------------

any_text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=24)
csv_hostile = st.text(alphabet=",\"\r\n\x00 ;\t'=+-@<>", max_size=6)
numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.floats(min_value=-1.0, max_value=1.0).map(lambda v: f"{v:.6f}"),
    st.floats(min_value=50.0, max_value=53.0).map(lambda v: f"{v:.6f}"),
    st.integers(-(10**40), 10**40).map(str),
    st.sampled_from(
        [
            "NaN",
            "nan",
            "inf",
            "-inf",
            "1e999",
            "-1e400",
            "0x1p-2",
            " 51.5 ",
            "+51.5",
            "-0",
            "1_000",
            "٣",
            "1,5",
            "530000",
            "180000",
            "",
            " ",
        ]
    ),
)
months = st.one_of(
    st.sampled_from(
        [
            "2024-01",
            "2023-12",
            "2024-1",
            "2024/01",
            "Jan 2024",
            "202401",
            "2024-13",
            "2024-00",
            "",
            " 2024-01 ",
            "2024-01-15",
            "１２３４-05",
        ]
    ),
    any_text,
)
crime_types = st.one_of(
    st.sampled_from(
        [
            "Burglary",
            "burglary",
            " BURGLARY ",
            "Anti-social behaviour",
            "Drugs",
            "Robbery",
            "Violence and sexual offences",
            "Jaywalking",
            "",
            "Bur\x00glary",
        ]
    ),
    any_text,
)


@st.composite
def mutation(draw, width: int, lon: int, lat: int, month: int | None, offence: int | None):
    """One change to one row (by position, taken modulo the row count)."""
    row = draw(st.integers(0, 10_000))
    col = draw(st.integers(0, width - 1))
    kinds = [
        "blank",
        "text",
        "hostile",
        "number",
        "swap",
        "swap_lonlat",
        "bng",
        "duplicate",
        "drop",
        "extra",
        "quote",
        "raw",
        "junk_line",
        "blank_line",
    ]
    if month is not None:
        kinds.append("month")
    if offence is not None:
        kinds.append("offence")
    kind = draw(st.sampled_from(kinds))
    if kind == "text":
        return ("set", row, col, draw(any_text))
    if kind == "hostile":
        return ("set", row, col, draw(csv_hostile))
    if kind == "blank":
        return ("set", row, col, "")
    if kind == "number":
        return ("set", row, draw(st.sampled_from([lon, lat])), draw(numbers))
    if kind == "month":
        return ("set", row, month, draw(months))
    if kind == "offence":
        return ("set", row, offence, draw(crime_types))
    if kind == "swap":
        return ("swap", row, col, draw(st.integers(0, width - 1)))
    if kind == "swap_lonlat":
        return ("swap", row, lon, lat)
    if kind == "bng":
        x = draw(st.integers(500_000, 565_000))
        y = draw(st.integers(155_000, 205_000))
        return ("bng", row, lon, lat, str(x), str(y))
    if kind in ("junk_line", "blank_line"):
        return (kind, row, draw(any_text))
    if kind == "extra":
        return ("extra", row, draw(any_text))
    return (kind, row, col)  # duplicate, drop, quote, raw


def apply(rows: list[list[str]], raw: set[int], change: tuple) -> None:
    """Apply one mutation in place (rows are this test's own copies)."""
    if not rows:
        return
    kind, index = change[0], change[1] % len(rows)
    row = rows[index]
    if kind == "set" and change[2] < len(row):
        row[change[2]] = change[3]
    elif kind == "swap" and max(change[2], change[3]) < len(row):
        row[change[2]], row[change[3]] = row[change[3]], row[change[2]]
    elif kind == "bng" and max(change[2], change[3]) < len(row):
        row[change[2]], row[change[3]] = change[4], change[5]
    elif kind == "duplicate":
        rows.insert(index, list(row))
    elif kind == "drop" and change[2] < len(row):
        del row[change[2]]
    elif kind == "extra":
        row.append(change[2])
    elif kind == "quote" and change[2] < len(row):
        row[change[2]] = '"' + row[change[2]]
        raw.add(id(row))
    elif kind == "raw":
        raw.add(id(row))
    elif kind == "junk_line":
        junk = [change[2]]
        rows.insert(index, junk)
        raw.add(id(junk))
    elif kind == "blank_line":
        blank: list[str] = []
        rows.insert(index, blank)
        raw.add(id(blank))


@st.composite
def mutated_file(draw, kind: str) -> tuple[bytes, list[str]]:
    """Bytes of a mutated data.police.uk file and its lines after the header."""
    columns = list(STREET_COLUMNS if kind == "street" else SEARCH_COLUMNS)
    pool = real_rows(kind)
    picks = draw(st.lists(st.integers(0, len(pool) - 1), max_size=25))
    rows = [list(pool[i]) for i in picks]
    lon, lat = columns.index("Longitude"), columns.index("Latitude")
    month = columns.index("Month") if kind == "street" else columns.index("Date")
    offence = columns.index("Crime type") if kind == "street" else None
    changes = draw(
        st.lists(
            mutation(len(columns), lon, lat, month if kind == "street" else None, offence),
            max_size=12,
        )
    )
    raw: set[int] = set()
    for change in changes:
        apply(rows, raw, change)
    if kind == "search" and rows and draw(st.booleans()):
        # dates in other forms: day-first, naive local, offsets, junk
        i = draw(st.integers(0, len(rows) - 1))
        if len(rows[i]) > month:
            rows[i][month] = draw(
                st.one_of(
                    st.sampled_from(
                        [
                            "15/01/2024 12:00",
                            "2024-01-15 12:00",
                            "2024-03-31T01:30:00",
                            "2024-10-27T01:30:00",
                            "2024-01-31T23:30:00+00:00",
                            "2024-06-30T23:30:00Z",
                            "2024-02-30T10:00:00+00:00",
                            "",
                            "yesterday",
                        ]
                    ),
                    any_text,
                )
            )
    if draw(st.booleans()):  # columns in another order, found by name
        order = draw(st.permutations(range(len(columns))))
        columns = [columns[i] for i in order]
        rows = [
            [r[i] for i in order] if len(r) == len(order) and id(r) not in raw else r for r in rows
        ]
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator=newline)
    writer.writerow(columns)
    for r in rows:
        if id(r) in raw:
            buffer.write(",".join(r) + newline)
        else:
            writer.writerow(r)
    text = buffer.getvalue()
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "cp1252"]))
    data = text.encode(encoding, errors="replace")
    decoded = data.decode("utf-8-sig" if encoding != "cp1252" else "cp1252", errors="replace")
    lines = LINE_BREAK.split(decoded)
    if lines and lines[-1] == "":
        lines.pop()  # after the final line break
    return data, lines[1:]


# --- checks ----------------------------------------------------------------------------


def check_accounting(loaded, lines: list[str]) -> None:
    accepted_rows = loaded.incidents[schema.SOURCE_ROW].to_numpy()
    rejected_rows = loaded.rejects["source_row"].to_numpy()
    assert len(loaded.incidents) + len(loaded.rejects) == loaded.rows_read
    # every non-blank line after the header is one row, accepted or rejected, once
    expected = [n for n, line in enumerate(lines, start=2) if line != ""]
    assert loaded.rows_read == len(expected)
    every = np.concatenate([accepted_rows, rejected_rows]).astype(np.int64)
    assert sorted(every.tolist()) == expected
    assert loaded.notes.get("blank_line", 0) == len(lines) - len(expected)
    assert set(loaded.rejects["reason"]) <= set(schema.REJECT_REASONS)
    assert loaded.rejects["detail"].astype(str).str.len().gt(0).all()
    assert loaded.incidents.index.is_unique


def check_located(frame: pd.DataFrame, codes: dict[str, str], outline) -> None:
    assert frame[schema.BOROUGH_CODE].isin(list(codes)).all()
    assert (frame[schema.BOROUGH_CODE].map(codes) == frame[schema.BOROUGH]).all()
    lon = frame[schema.LON].to_numpy(dtype=float)
    lat = frame[schema.LAT].to_numpy(dtype=float)
    assert np.isfinite(lon).all() and np.isfinite(lat).all()
    for cell, x, y in zip(frame[schema.CELL_ID], lon, lat, strict=True):
        assert h3.is_valid_cell(cell) and h3.get_resolution(cell) == schema.DEFAULT_H3_RESOLUTION
        assert h3.latlng_to_cell(y, x, schema.DEFAULT_H3_RESOLUTION) == cell
    geometry = frame.geometry.to_numpy()
    assert shapely.contains(outline, geometry).all()


def check_month(frame: pd.DataFrame) -> None:
    assert isinstance(frame[schema.MONTH].dtype, pd.PeriodDtype)
    assert frame[schema.MONTH].notna().all()


def read_bytes(data: bytes, name: str, reader):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(data)
        try:
            return reader(path, settings=london()[0])
        except HotspotsError as exc:  # allowed: the file as a whole is refused, in one line
            event(f"refused: {type(exc).__name__}")
            assert "\n" not in " ".join(str(exc).split())
            return None


# --- properties ---------------------------------------------------------------------------


@settings(max_examples=STREET_EXAMPLES, **PROPERTY)
@given(mutated_file("street"))
def test_street_files_never_crash_lose_or_invent_rows(case):
    data, lines = case
    loaded = read_bytes(data, "2024-01-metropolitan-street.csv", read_incidents)
    if loaded is None:
        return
    _, outline, codes = london()
    check_accounting(loaded, lines)
    incidents = loaded.incidents
    event(f"accepted {min(len(incidents), 5)}+ / rejected {min(len(loaded.rejects), 5)}+")
    harm = incidents[schema.HARM].to_numpy(dtype=float)
    assert np.isfinite(harm).all() and (harm >= 0).all()
    labels = set(map(str, london()[0].harm.weights.index))
    assert set(map(str, incidents[schema.OFFENCE].unique())) <= labels
    check_month(incidents)
    check_located(incidents, codes, outline)
    assert incidents.crs.to_epsg() == 27700


@settings(max_examples=SEARCH_EXAMPLES, **PROPERTY)
@given(mutated_file("search"))
def test_search_files_never_crash_lose_or_invent_rows(case):
    data, lines = case
    loaded = read_bytes(data, "2024-01-metropolitan-stop-and-search.csv", read_searches)
    if loaded is None:
        return
    _, outline, codes = london()
    check_accounting(loaded, lines)
    searches = loaded.incidents
    check_month(searches)
    assert searches[schema.OCCURRED_AT].notna().all()
    located = searches[schema.HAS_LOCATION].astype(bool)
    assert (searches[schema.CELL_ID].notna() == located).all()
    assert (searches[schema.BOROUGH_CODE].notna() == located).all()
    check_located(searches[located], codes, outline)


@settings(max_examples=PIPELINE_EXAMPLES, **PROPERTY)
@given(mutated_file("street"), mutated_file("search"))
def test_ingest_store_counts_every_row_of_mixed_files(street, search):
    from hotspots.ingest.pipeline import ingest_to_store

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "in").mkdir()
        (root / "in" / "2024-01-metropolitan-street.csv").write_bytes(street[0])
        (root / "in" / "2024-01-metropolitan-stop-and-search.csv").write_bytes(search[0])
        try:
            result = ingest_to_store([root / "in"], root / "out", settings=london()[0])
        except HotspotsError:
            event("refused")
            assert not (root / "out" / "manifest.json").exists()
            return
        rows = result.manifest["rows"]
        assert rows["read"] == sum(line != "" for line in street[1] + search[1])
        assert rows["accepted"] + rows["rejected"] == rows["read"]
        rejects = pd.read_csv(root / "out" / "rejects.csv", dtype=str, keep_default_na=False)
        assert len(rejects) == rows["rejected"]
        assert not list(root.glob("out/**/*.partial")) and not list(root.glob("out/.*.partial"))


@settings(max_examples=SMALL_EXAMPLES, **PROPERTY)
@given(st.text(alphabet="ab,\r\n", max_size=80), st.integers(1, 9))
def test_blank_line_filter_keeps_every_line_across_read_boundaries(text, read_size):
    from hotspots.io.sources import _BlankLineFilter

    source = io.BufferedReader(io.BytesIO(text.encode()), buffer_size=read_size)
    stream = _BlankLineFilter(source, n_columns=2, read_size=read_size)
    out = io.BufferedReader(stream, buffer_size=read_size).read().decode()

    def lines_of(value: str) -> list[str]:
        lines = LINE_BREAK.split(value)
        return lines[:-1] if lines and lines[-1] == "" else lines

    expanded: list[str] = []
    for line in lines_of(out):
        if line.startswith(stream.tag):
            blanks = int(line[len(stream.tag) :].rstrip(","))
            assert blanks >= 1
            expanded += [""] * blanks
        else:
            expanded.append(line)
    assert expanded == lines_of(text)
    assert "\n\n" not in out.replace("\r\n", "\n").replace("\r", "\n").lstrip("\n")


@settings(max_examples=SMALL_EXAMPLES, **PROPERTY)
@given(st.lists(st.one_of(any_text, csv_hostile, numbers), min_size=1, max_size=8))
def test_written_csv_cells_never_start_a_formula(values):
    frame = pd.DataFrame({"value": values, "as_string": pd.array(values, dtype="string")})
    with tempfile.TemporaryDirectory() as folder:
        path = write_csv(Path(folder) / "out.csv", frame)
        with open(path, encoding="utf-8", newline="") as handle:
            read_back = list(csv.reader(handle))[1:]
    assert len(read_back) == len(values)
    for (cell, cell_string), original in zip(read_back, values, strict=True):
        assert cell == cell_string
        assert cell in (original, "'" + original)
        if cell.startswith(FORMULA_PREFIXES):
            float(cell)  # only plain numbers such as -0.12 keep a leading sign


@settings(max_examples=SMALL_EXAMPLES, **PROPERTY)
@given(st.one_of(any_text, st.from_regex(r"\A\d{4}-\d{2}(\.\.\d{4}-\d{2})?\Z")))
def test_month_ranges_parse_or_raise_schema_error(text):
    try:
        parsed = parse_months(text)
    except SchemaError:
        return
    if parsed is not None:
        start, end = parsed
        assert re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", start)
        assert re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", end)
        assert start <= end


def test_property_examples_stay_modest():
    # the number of generated examples per default run, reported in the README
    assert EXAMPLES_PER_RUN == 940
    with pytest.raises(SchemaError):
        parse_months("2024-02..2024-01")
