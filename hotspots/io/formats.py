"""Recognise input formats by their header and describe their columns.

data.police.uk publishes two row-level formats that this tool reads natively:

* street-level crime (``YYYY-MM-<force>-street.csv``), month precision;
* stop and search (``YYYY-MM-<force>-stop-and-search.csv``), UTC date-times.

Anything else is a *generic* table read through a column mapping.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from hotspots.core.errors import SchemaError

STREET = "street"
SEARCH = "search"
GENERIC = "generic"
OUTCOMES = "outcomes"

STREET_COLUMNS = (
    "Crime ID",
    "Month",
    "Reported by",
    "Falls within",
    "Longitude",
    "Latitude",
    "Location",
    "LSOA code",
    "LSOA name",
    "Crime type",
    "Last outcome category",
    "Context",
)
STREET_REQUIRED = ("Crime ID", "Month", "Longitude", "Latitude", "Crime type")

SEARCH_COLUMNS = (
    "Type",
    "Date",
    "Part of a policing operation",
    "Policing operation",
    "Latitude",
    "Longitude",
    "Gender",
    "Age range",
    "Self-defined ethnicity",
    "Officer-defined ethnicity",
    "Legislation",
    "Object of search",
    "Outcome",
    "Outcome linked to object of search",
    "Removal of more than just outer clothing",
)
SEARCH_REQUIRED = ("Type", "Date", "Latitude", "Longitude", "Self-defined ethnicity")

OUTCOMES_MARKERS = ("Crime ID", "Month", "Outcome type")

GENERIC_FIELDS = (
    "id",
    "month",
    "occurred_at",
    "offence",
    "lon",
    "lat",
    "x",
    "y",
    "location",
    "lsoa_code",
    "outcome",
)
"""Fields a ``--columns`` mapping may name (``field=Source column``)."""

_FILE_MONTH = re.compile(r"(\d{4}-\d{2})-")


@dataclass(frozen=True)
class ColumnMap:
    """How a generic table's columns map onto incident fields.

    Attributes
    ----------
    fields
        Incident field -> source column, e.g. ``{"offence": "Offence", "x": "Easting"}``.
    crs
        CRS of ``x``/``y`` (default British National Grid); ``lon``/``lat`` are WGS84.
    timezone
        Time zone of date-times that carry none (converted to UTC, never stripped).
    """

    fields: dict[str, str]
    crs: str = "EPSG:27700"
    timezone: str = "Europe/London"

    @property
    def has_xy(self) -> bool:
        """Whether coordinates come as projected x/y."""
        return "x" in self.fields and "y" in self.fields


def parse_column_map(
    text: str, *, crs: str = "EPSG:27700", timezone: str = "Europe/London"
) -> ColumnMap:
    """Parse ``"offence=Offence,occurred_at=Date,x=Easting,y=Northing"``.

    Raises
    ------
    SchemaError
        If an entry is malformed, names an unknown field, or the mapping lacks an offence,
        a month or date-time, or a coordinate pair.
    """
    fields: dict[str, str] = {}
    for part in [p for p in text.split(",") if p.strip()]:
        if "=" not in part:
            raise SchemaError(
                f"--columns entry {part!r} is not field=Column; e.g. "
                "'offence=Offence,occurred_at=Date,x=Easting,y=Northing'."
            )
        key, value = (s.strip() for s in part.split("=", 1))
        if key not in GENERIC_FIELDS:
            raise SchemaError(
                f"--columns names unknown field {key!r}; fields are {', '.join(GENERIC_FIELDS)}."
            )
        fields[key] = value
    problems = []
    if "offence" not in fields:
        problems.append("an offence column (offence=...)")
    if "month" not in fields and "occurred_at" not in fields:
        problems.append("a month or occurred_at column")
    has_lonlat = "lon" in fields and "lat" in fields
    has_xy = "x" in fields and "y" in fields
    if not (has_lonlat or has_xy):
        problems.append("coordinates (lon=...,lat=... or x=...,y=...)")
    if problems:
        raise SchemaError(f"--columns mapping needs {'; '.join(problems)}; got {text!r}.")
    return ColumnMap(fields=fields, crs=crs, timezone=timezone)


def detect_format(header: list[str], *, label: str, column_map: ColumnMap | None) -> str:
    """Which format a header belongs to: ``street``, ``search`` or ``generic``.

    Raises
    ------
    SchemaError
        If the header fits no format, saying what arrived and what was expected.
    """
    names = set(header)
    if column_map is not None:
        missing = [c for c in column_map.fields.values() if c not in names]
        if missing:
            raise SchemaError(
                f"{label} lacks column(s) {', '.join(repr(m) for m in missing)} named in "
                f"--columns; it has {', '.join(repr(h) for h in header[:15])}."
            )
        return GENERIC
    if all(c in names for c in STREET_REQUIRED):
        return STREET
    if all(c in names for c in SEARCH_REQUIRED):
        return SEARCH
    if all(c in names for c in OUTCOMES_MARKERS):
        raise SchemaError(
            f"{label} is a data.police.uk *outcomes* file; pass the *-street.csv or "
            "*-stop-and-search.csv files instead."
        )
    street_missing = [c for c in STREET_REQUIRED if c not in names]
    raise SchemaError(
        f"{label} has columns {', '.join(repr(h) for h in header[:15])}; expected a "
        f"data.police.uk street-crime file (missing {', '.join(repr(m) for m in street_missing)}) "
        "or a stop-and-search file, or pass --columns to map a generic table "
        "(e.g. --columns 'offence=Type,occurred_at=Date,lon=Lon,lat=Lat')."
    )


_APOSTROPHE_CAPITAL = re.compile(r"(?<=[A-Za-z])'S\b")


def tidy_location(text: str) -> str:
    """Mend data.police.uk's title-casing after apostrophes ("Watson'S Mews" -> "Watson's Mews").

    Used for place names shown to people; the stored ``location`` keeps the published text.
    """
    return _APOSTROPHE_CAPITAL.sub("'s", text) if isinstance(text, str) else text


def month_from_file_name(name: str) -> str | None:
    """``"2023-01"`` from ``"2023-01-metropolitan-street.csv"``, else None."""
    match = _FILE_MONTH.match(name)
    return match.group(1) if match else None
