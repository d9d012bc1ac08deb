"""Broken inputs and the exact outcome each must have (see ``tests/test_broken_inputs.py``).

Each case is run through the command line (``hotspots ingest FILE --out DIR`` unless
``command`` says otherwise). A case either fails as a whole (exit 2, one line on stderr
naming the file and the fix, no traceback, nothing left in ``--out``) or succeeds with
exact counts: rows read, accepted, rejected by reason, and the line of every reject.

The files live next to this module (rebuild them with ``make_corpus.py``); names starting
with ``@`` are generated at test time by :data:`GENERATED` (10 MB files are not committed).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent

STREET_HEADER = (
    "Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,"
    "LSOA name,Crime type,Last outcome category,Context"
)
TEN_MB = 10 * 2**20


@dataclass(frozen=True)
class Case:
    """One broken input and its expected outcome.

    Attributes
    ----------
    name
        Short id (the pytest parameter id).
    files
        Inputs, relative to this folder (``@name`` for generated ones).
    why
        The decision this case pins down, in one sentence.
    exit_code
        0 (rows read, some perhaps rejected) or 2 (the input as a whole is refused).
    error
        For exit 2: a substring of the one-line error.
    read, accepted
        For exit 0: rows read and accepted (rejected = read - accepted).
    rejects
        Reject reason -> rows.
    lines
        Line in the file -> reject reason, for every rejected row.
    detail
        Substring of at least one reject's ``detail``.
    notes
        Counted quirks of the file (kept rows, or lines that are not rows), e.g.
        ``{"blank_line": 1}``.
    dataset
        Where accepted rows go in the store: ``incidents`` or ``searches``.
    command
        CLI command: ``ingest`` or ``detect``.
    """

    name: str
    files: tuple[str, ...]
    why: str
    exit_code: int = 0
    error: str = ""
    read: int = 0
    accepted: int = 0
    rejects: dict[str, int] = field(default_factory=dict)
    lines: dict[int, str] = field(default_factory=dict)
    detail: str = ""
    notes: dict[str, int] = field(default_factory=dict)
    dataset: str = "incidents"
    command: str = "ingest"

    @property
    def rejected(self) -> int:
        """Rows expected in rejects.csv."""
        return self.read - self.accepted


def _ten_mb_no_line_break(folder: Path) -> Path:
    path = folder / "ten_mb_no_line_break.csv"
    path.write_bytes(b"A," * (TEN_MB // 2))
    return path


def _ten_mb_one_field_row(folder: Path) -> Path:
    path = folder / "ten_mb_one_field_row.csv"
    path.write_bytes(STREET_HEADER.encode() + b"\n" + b"Z" * TEN_MB + b"\n")
    return path


def _ten_mb_location(folder: Path) -> Path:
    path = folder / "ten_mb_location.csv"
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(
        [
            "big",
            "2024-01",
            "Metropolitan Police Service",
            "Metropolitan Police Service",
            "-0.128100",
            "51.508000",
            "On or near " + "X" * TEN_MB,
            "E01004736",
            "Westminster 018A",
            "Burglary",
            "Under investigation",
            "",
        ]
    )
    path.write_text(STREET_HEADER + "\n" + buffer.getvalue(), encoding="utf-8")
    return path


GENERATED: dict[str, Callable[[Path], Path]] = {
    "@ten_mb_no_line_break": _ten_mb_no_line_break,
    "@ten_mb_one_field_row": _ten_mb_one_field_row,
    "@ten_mb_location": _ten_mb_location,
}

CASES: tuple[Case, ...] = (
    # --- the file as a whole is refused: exit 2, one line ---------------------------
    Case(
        "empty_file",
        ("empty.csv",),
        "a zero-byte file has no header: refused",
        exit_code=2,
        error="is empty; expected a CSV with a header row",
    ),
    Case(
        "whitespace_only",
        ("whitespace_only.csv",),
        "blank lines only count as empty",
        exit_code=2,
        error="is empty; expected a CSV with a header row",
    ),
    Case(
        "truncated_gzip",
        ("truncated.csv.gz",),
        "a gzip cut in half is refused, not read as far as it goes",
        exit_code=2,
        error="is truncated or corrupt (Compressed file ended before the end-of-stream",
    ),
    Case(
        "not_gzip",
        ("not_gzip.csv.gz",),
        "a .gz name on plain text is refused",
        exit_code=2,
        error="is truncated or corrupt (Not a gzipped file",
    ),
    Case(
        "truncated_zip",
        ("truncated.zip",),
        "a zip cut in half has no central directory: refused",
        exit_code=2,
        error="is not a readable zip archive",
    ),
    Case(
        "zip_member_bad_crc",
        ("corrupt_member.zip",),
        "a stored member whose bytes fail the CRC check is refused",
        exit_code=2,
        error="is truncated or corrupt (Bad CRC-32",
    ),
    Case(
        "zip_member_encrypted",
        ("encrypted_member.zip",),
        "an encrypted member is refused with a hint",
        exit_code=2,
        error="is encrypted; unzip it with its password",
    ),
    Case(
        "missing_required_column",
        ("missing_required_column.csv",),
        "no Latitude column: not a street-crime file, say what is missing",
        exit_code=2,
        error="expected a data.police.uk street-crime file (missing 'Latitude')",
    ),
    Case(
        "duplicate_column",
        ("duplicate_column.csv",),
        "two 'Crime type' columns are ambiguous: refused",
        exit_code=2,
        error="has the column(s) 'Crime type' more than once in its header",
    ),
    Case(
        "binary_garbage",
        ("binary_garbage.csv",),
        "bytes that are not text give a header that fits no format",
        exit_code=2,
        error="expected a data.police.uk street-crime file",
    ),
    Case(
        "outcomes_file",
        ("2024-01-metropolitan-outcomes.csv",),
        "data.police.uk outcomes files are recognised and refused with a hint",
        exit_code=2,
        error="is a data.police.uk *outcomes* file",
    ),
    Case(
        "search_file_as_street_crime_in_detect",
        ("2024-01-metropolitan-stop-and-search.csv",),
        "detect needs crimes: a stop-and-search file is refused, naming read_searches",
        exit_code=2,
        error="is a search file but street rows were asked for",
        command="detect",
    ),
    Case(
        "ten_mb_without_line_break",
        ("@ten_mb_no_line_break",),
        "10 MB with no line break cannot start with a header: refused after 64 KiB",
        exit_code=2,
        error="has no line break in its first 65,536 bytes",
    ),
    Case(
        "one_broken_file_fails_the_run",
        ("crlf.csv", "truncated.csv.gz"),
        "a good file then a broken one: the run fails and commits nothing",
        exit_code=2,
        error="truncated.csv.gz is truncated or corrupt",
    ),
    # --- read; rows accepted or rejected with reasons -------------------------------
    Case(
        "header_only",
        ("header_only.csv",),
        "a header and no rows is a valid empty month",
        read=0,
        notes={"header_only": 1},
    ),
    Case(
        "header_only_no_newline",
        ("header_only_no_newline.csv",),
        "the same without a final line break",
        read=0,
        notes={"header_only": 1},
    ),
    Case(
        "latin1",
        ("latin1.csv",),
        "cp1252/latin-1 text is detected and decoded",
        read=2,
        accepted=2,
    ),
    Case("utf8_bom", ("utf8_bom.csv",), "a UTF-8 byte-order mark is dropped", read=2, accepted=2),
    Case("crlf", ("crlf.csv",), "Windows line endings", read=2, accepted=2),
    Case(
        "missing_optional_columns",
        ("missing_optional_columns.csv",),
        "only Crime ID, Month, Longitude, Latitude, Crime type are required",
        read=1,
        accepted=1,
    ),
    Case(
        "extra_columns",
        ("extra_columns.csv",),
        "columns the tool does not know are ignored",
        read=1,
        accepted=1,
    ),
    Case(
        "reordered_columns",
        ("reordered_columns.csv",),
        "columns are found by name, not position",
        read=1,
        accepted=1,
    ),
    Case(
        "padded_header",
        ("padded_header.csv",),
        "spaces around (quoted) header names are trimmed",
        read=1,
        accepted=1,
    ),
    Case(
        "swapped_lat_lon",
        ("swapped_lat_lon.csv",),
        "latitude in the longitude column: rejected as swapped, not silently swapped back",
        read=3,
        accepted=1,
        rejects={"swapped_coordinates": 2},
        lines={2: "swapped_coordinates", 3: "swapped_coordinates"},
        detail="look swapped; fix the file (not corrected silently)",
    ),
    Case(
        "bng_in_lon_lat",
        ("bng_in_lon_lat.csv",),
        "eastings/northings in the degree columns: invalid, with a --columns hint",
        read=3,
        accepted=1,
        rejects={"invalid_coordinates": 2},
        lines={2: "invalid_coordinates", 3: "invalid_coordinates"},
        detail="these look like British National Grid metres: map them as x/y with --columns",
    ),
    Case(
        "nan_inf_huge",
        ("nan_inf_huge.csv",),
        "NaN, inf, 1e308, 1e999, hex, '1,5', '½' and a 400-digit latitude are invalid; "
        "blank is missing; padded numbers are fine",
        read=13,
        accepted=1,
        rejects={"invalid_coordinates": 11, "missing_coordinates": 1},
        lines={**dict.fromkeys(range(2, 13), "invalid_coordinates"), 13: "missing_coordinates"},
        detail="coordinates (nan, 51.508) are not valid WGS84 degrees",
    ),
    Case(
        "month_formats",
        ("month_formats.csv",),
        "only YYYY-MM is a month: 2024/01, 01/2024, Jan 2024, 2024-1, 202401, 2024-01-15, "
        "2024-13, 2024-00, 24-01 and blank are rejected",
        read=12,
        accepted=1,
        rejects={"bad_month": 11},
        lines=dict.fromkeys(range(2, 13), "bad_month"),
        detail="month 'Jan 2024' is not YYYY-MM",
    ),
    Case(
        "another_force_outside_london",
        ("2024-01-greater-manchester-street.csv",),
        "Greater Manchester points are outside every London borough",
        read=3,
        accepted=0,
        rejects={"outside_study_area": 3},
        lines={2: "outside_study_area", 3: "outside_study_area", 4: "outside_study_area"},
        detail="is outside every area of london_boroughs.geojson",
    ),
    Case(
        "another_force_inside_london",
        ("2024-01-city-of-london-street.csv",),
        "City of London Police rows (real, bundled) lie in London: all accepted",
        read=12,
        accepted=12,
        notes={"blank_crime_id": 2},
    ),
    Case(
        "search_file_as_street_crime_in_ingest",
        ("2024-01-metropolitan-stop-and-search.csv",),
        "ingest recognises stop and search by its header and stores it as searches",
        read=6,
        accepted=6,
        notes={"search_without_location": 1},
        dataset="searches",
    ),
    Case(
        "search_dates",
        ("2024-01-metropolitan-stop-and-search-bad-dates.csv",),
        "ISO and day-first dates are read; month 13, blank, words, and local times that do "
        "not exist or are ambiguous at the clock changes are rejected",
        read=7,
        accepted=2,
        rejects={"unparseable_time": 5},
        lines=dict.fromkeys(range(4, 9), "unparseable_time"),
        detail="date-time '2024-03-31T01:30:00' cannot be read",
        dataset="searches",
    ),
    Case(
        "malformed_rows",
        ("malformed_rows.csv",),
        "too many / too few fields, a NUL byte, an unclosed quote: one reject per line, "
        "the lines after the stray quote are still read; a blank line is counted, not a row, "
        "and the line after it keeps its number",
        read=7,
        accepted=3,
        rejects={"malformed_row": 3, "unknown_offence": 1},
        lines={3: "malformed_row", 4: "malformed_row", 5: "unknown_offence", 6: "malformed_row"},
        detail="a quote must open and close a value on the same line",
        notes={"blank_line": 1},
    ),
    Case(
        "mixed_reasons",
        ("mixed_reasons.csv",),
        "one row per reason: duplicate id, unknown offence, missing and invalid coordinates, "
        "bad month; a blank Crime ID is kept",
        notes={"blank_crime_id": 1},
        read=7,
        accepted=2,
        rejects={
            "duplicate_id": 1,
            "unknown_offence": 1,
            "missing_coordinates": 1,
            "invalid_coordinates": 1,
            "bad_month": 1,
        },
        lines={
            3: "duplicate_id",
            5: "unknown_offence",
            6: "missing_coordinates",
            7: "invalid_coordinates",
            8: "bad_month",
        },
        detail="Crime ID 'x1' already appeared earlier in this file; first kept",
    ),
    Case(
        "ten_mb_one_field_row",
        ("@ten_mb_one_field_row",),
        "one 10 MB line without commas is one malformed row",
        read=1,
        accepted=0,
        rejects={"malformed_row": 1},
        lines={2: "malformed_row"},
        detail="expected 12 fields, got 1",
    ),
    Case(
        "ten_mb_location",
        ("@ten_mb_location",),
        "a valid row whose Location is 10 MB long is read (the raw copy in rejects is capped)",
        read=1,
        accepted=1,
    ),
)
