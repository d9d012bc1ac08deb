"""Column names, reason codes and the working CRS, in one place.

Code and tests import names from here rather than spelling strings.

Incidents (one row per accepted incident, index ``incident_id``):

=================  =======================  ==============================================
column             dtype                    notes
=================  =======================  ==============================================
``month``          period[M]                month of the incident (London local time)
``occurred_at``    datetime64[ns, UTC]      when the source has times; NaT otherwise
``offence``        category                 data.police.uk crime type or offence label
``harm``           float64 >= 0             harm weight (days of custody, CCHI by default)
``borough_code``   string                   GSS code of the area the point falls in
``borough``        string                   area name
``cell_id``        string                   H3 cell (hex string) at the chosen resolution
``lon``, ``lat``   float64                  WGS84 degrees
``location``       string                   data.police.uk ``Location`` ("On or near ...")
``lsoa_code``      string                   LSOA code as published (2011 or 2021)
``lsoa_vintage``   string                   ``2011``, ``2021``, ``both`` or ``unknown``
``source_file``    string                   input file (or ``archive.zip!member``)
``source_row``     int64                    line number in that file (header is line 1)
``geometry``       Point                    working CRS (metres)
=================  =======================  ==============================================
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from hotspots.core.errors import SchemaError

if TYPE_CHECKING:  # pandas is imported where frames are made; the CLI starts without it
    import pandas as pd

WORKING_CRS = "EPSG:27700"
"""British National Grid: projected, metres. All distances and areas use it."""

WGS84 = "EPSG:4326"

DEFAULT_H3_RESOLUTION = 9
H3_RESOLUTIONS = (8, 9, 10, 11)

# --- incident columns -------------------------------------------------------
INCIDENT_ID = "incident_id"
MONTH = "month"
OCCURRED_AT = "occurred_at"
OFFENCE = "offence"
HARM = "harm"
BOROUGH_CODE = "borough_code"
BOROUGH = "borough"
WARD_CODE = "ward_code"
WARD = "ward"
LSOA21_CODE = "lsoa21_code"
CELL_ID = "cell_id"
LON = "lon"
LAT = "lat"
X = "x"
Y = "y"
LOCATION = "location"
LSOA_CODE = "lsoa_code"
LSOA_VINTAGE = "lsoa_vintage"
OUTCOME = "outcome"
SOURCE_FILE = "source_file"
SOURCE_ROW = "source_row"
GEOMETRY = "geometry"

INCIDENT_COLUMNS = (
    MONTH,
    OCCURRED_AT,
    OFFENCE,
    HARM,
    BOROUGH_CODE,
    BOROUGH,
    CELL_ID,
    LON,
    LAT,
    LOCATION,
    LSOA_CODE,
    LSOA_VINTAGE,
    OUTCOME,
    SOURCE_FILE,
    SOURCE_ROW,
    GEOMETRY,
)

# --- stop-and-search columns ------------------------------------------------
SEARCH_TYPE = "search_type"
SELF_ETHNICITY = "self_defined_ethnicity"
OFFICER_ETHNICITY = "officer_defined_ethnicity"
GENDER = "gender"
AGE_RANGE = "age_range"
LEGISLATION = "legislation"
OBJECT_OF_SEARCH = "object_of_search"
OUTCOME_LINKED = "outcome_linked_to_object"
REMOVAL_OF_CLOTHING = "removal_of_more_than_outer_clothing"
HAS_LOCATION = "has_location"
DUPLICATE_OF_EARLIER = "exact_duplicate_of_earlier_row"

SEARCH_COLUMNS = (
    MONTH,
    OCCURRED_AT,
    SEARCH_TYPE,
    GENDER,
    AGE_RANGE,
    SELF_ETHNICITY,
    OFFICER_ETHNICITY,
    LEGISLATION,
    OBJECT_OF_SEARCH,
    OUTCOME,
    OUTCOME_LINKED,
    REMOVAL_OF_CLOTHING,
    HAS_LOCATION,
    DUPLICATE_OF_EARLIER,
    BOROUGH_CODE,
    BOROUGH,
    CELL_ID,
    LON,
    LAT,
    SOURCE_FILE,
    SOURCE_ROW,
    GEOMETRY,
)

# --- reject reasons ----------------------------------------------------------
MISSING_COORDINATES = "missing_coordinates"
INVALID_COORDINATES = "invalid_coordinates"
SWAPPED_COORDINATES = "swapped_coordinates"
OUTSIDE_STUDY_AREA = "outside_study_area"
UNKNOWN_OFFENCE = "unknown_offence"
BAD_MONTH = "bad_month"
UNPARSEABLE_TIME = "unparseable_time"
DUPLICATE_ID = "duplicate_id"
MALFORMED_ROW = "malformed_row"
INVALID_COUNT = "invalid_count"
UNKNOWN_AREA = "unknown_area"
NOT_SELECTED = "not_selected"

REJECT_REASONS: dict[str, str] = {
    MISSING_COORDINATES: "no longitude/latitude (or x/y) given, so the row cannot be placed",
    INVALID_COORDINATES: "coordinates that are not finite numbers or are out of range",
    SWAPPED_COORDINATES: "latitude and longitude appear swapped (the swapped point is in "
    "the study area); not corrected silently",
    OUTSIDE_STUDY_AREA: "the point lies outside every area of the boundary file, beyond the "
    "snapping tolerance",
    UNKNOWN_OFFENCE: "the offence/crime type is not in the harm table",
    BAD_MONTH: "the month is missing or not YYYY-MM",
    UNPARSEABLE_TIME: "the date-time is missing, unparseable or ambiguous in local time",
    DUPLICATE_ID: "the same Crime ID was already accepted from this file (data.police.uk "
    "publishes some crimes more than once in a month)",
    MALFORMED_ROW: "the CSV line has the wrong number of fields",
    INVALID_COUNT: "an area-count row holds a month value that is not a whole number >= 0",
    UNKNOWN_AREA: "an area-count row names an area code that is not in the boundary layer",
    NOT_SELECTED: "outside the requested months or crime types (kept out on purpose)",
}

REJECT_COLUMNS = ("source_file", "source_row", "reason", "detail", "raw")

# --- study-area quirks that are counted but not rejected ---------------------
NOTE_BLANK_CRIME_ID = "blank_crime_id"
NOTE_ON_BOUNDARY = "on_area_boundary"
NOTE_SNAPPED = "snapped_to_nearest_area"
NOTE_MONTH_FROM_UTC = "utc_time_in_other_local_month"
NOTE_EXACT_DUPLICATE_SEARCH = "exact_duplicate_search_row"
NOTE_SEARCH_NO_LOCATION = "search_without_location"
NOTE_MONTH_NOT_FILE_MONTH = "month_differs_from_file_name"
NOTE_BLANK_LINE = "blank_line"
NOTE_HEADER_ONLY = "header_only"

NOTES: dict[str, str] = {
    NOTE_BLANK_CRIME_ID: "blank Crime ID (anti-social behaviour has none): kept, with an id "
    "made from source file and line",
    NOTE_ON_BOUNDARY: "point exactly on the boundary of two areas: given to the area with the "
    "lowest code",
    NOTE_SNAPPED: "point just outside every area (e.g. on a Thames bridge): given to the "
    "nearest area within the snapping tolerance",
    NOTE_MONTH_FROM_UTC: "UTC date-time falls in another month than London local time; the "
    "local month is used",
    NOTE_EXACT_DUPLICATE_SEARCH: "stop-and-search row identical to an earlier row of the same "
    "file: kept (several people searched together look identical) and flagged",
    NOTE_SEARCH_NO_LOCATION: "stop-and-search row without a location: kept for force-wide "
    "totals, with no borough or cell",
    NOTE_MONTH_NOT_FILE_MONTH: "the Month column differs from the month in the file name; "
    "the Month column is used",
    NOTE_BLANK_LINE: "an empty line in a CSV: not a row, so neither accepted nor rejected; later "
    "rows keep their true line numbers",
    NOTE_HEADER_ONLY: "a file with a header and no rows",
}


def require_columns(frame: pd.DataFrame, columns: Iterable[str], *, name: str) -> None:
    """Raise :class:`SchemaError` naming every missing column.

    Parameters
    ----------
    frame
        Any data frame.
    columns
        Column names that must be present.
    name
        What the frame is called in the message, e.g. ``"incidents"``.
    """
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        have = ", ".join(repr(c) for c in list(frame.columns)[:12])
        raise SchemaError(
            f"{name} is missing {', '.join(repr(c) for c in missing)}; it has {have}. "
            "Load it with hotspots.read_incidents (or pass a column mapping)."
        )
