"""Ingest: schema, one test per reject reason, notes, and the invariant on real months."""

from __future__ import annotations

import dataclasses

import h3
import numpy as np
import pandas as pd
import pytest
from conftest import BRIXTON, DATA, TRAFALGAR, search_row, street_row, write_search, write_street

from hotspots.core import schema
from hotspots.core.errors import SchemaError
from hotspots.ingest.read import Selection, read_incidents, read_searches
from hotspots.io.formats import parse_column_map


def reasons(loaded) -> dict[str, int]:
    return loaded.rejects["reason"].value_counts().to_dict()


def check_invariant(loaded) -> None:
    assert len(loaded.incidents) + len(loaded.rejects) == loaded.rows_read


# --- schema ------------------------------------------------------------------


def test_incidents_have_the_documented_schema(tmp_path, settings):
    path = write_street(tmp_path / "2024-01-metropolitan-street.csv", [street_row()])
    incidents = read_incidents(path, settings=settings).incidents
    assert incidents.index.name == schema.INCIDENT_ID
    assert list(incidents.columns) == list(schema.INCIDENT_COLUMNS)
    assert isinstance(incidents[schema.MONTH].dtype, pd.PeriodDtype)
    assert str(incidents[schema.OCCURRED_AT].dtype) == "datetime64[ns, UTC]"
    assert isinstance(incidents[schema.OFFENCE].dtype, pd.CategoricalDtype)
    assert incidents[schema.HARM].dtype == np.float64
    assert incidents[schema.SOURCE_ROW].dtype == np.int64
    assert incidents.crs.to_epsg() == 27700
    assert (incidents.geom_type == "Point").all()
    assert incidents.index.is_unique


def test_known_point_gets_known_cell_and_borough(tmp_path, settings):
    path = write_street(tmp_path / "a.csv", [street_row()])
    row = read_incidents(path, settings=settings).incidents.iloc[0]
    assert row[schema.BOROUGH_CODE] == "E09000033"
    assert row[schema.BOROUGH] == "Westminster"
    assert row[schema.CELL_ID] == h3.latlng_to_cell(TRAFALGAR[1], TRAFALGAR[0], 9)
    # British National Grid of Trafalgar Square is about (530000, 180500)
    assert abs(row.geometry.x - 530_020) < 200 and abs(row.geometry.y - 180_480) < 200


def test_resolution_changes_the_cell(tmp_path):
    from hotspots.ingest.read import london_settings

    path = write_street(tmp_path / "a.csv", [street_row()])
    row = read_incidents(path, settings=london_settings(resolution=11)).incidents.iloc[0]
    assert row[schema.CELL_ID] == h3.latlng_to_cell(TRAFALGAR[1], TRAFALGAR[0], 11)


def test_unsupported_resolution_is_an_error():
    from hotspots.ingest.read import london_settings

    with pytest.raises(SchemaError, match="resolution 7"):
        london_settings(resolution=7)


def test_harm_comes_from_the_cchi_table(tmp_path, settings):
    rows = [
        street_row(crime_id="1", crime_type="Burglary"),
        street_row(crime_id="2", crime_type="Shoplifting"),
        street_row(crime_id="", crime_type="Anti-social behaviour"),
    ]
    incidents = read_incidents(write_street(tmp_path / "a.csv", rows), settings=settings).incidents
    harm = dict(zip(incidents[schema.OFFENCE].astype(str), incidents[schema.HARM], strict=True))
    assert harm["Shoplifting"] == 1.0
    assert 183.5 <= harm["Burglary"] <= 273.5
    assert harm["Anti-social behaviour"] == 0.0


# --- one test per reject reason ---------------------------------------------


def test_missing_coordinates_is_rejected_not_dropped(tmp_path, settings):
    rows = [street_row(crime_id="1"), street_row(crime_id="2", lon="", lat="")]
    loaded = read_incidents(write_street(tmp_path / "a.csv", rows), settings=settings)
    assert reasons(loaded) == {schema.MISSING_COORDINATES: 1}
    assert loaded.rejects.iloc[0]["source_row"] == 3
    check_invariant(loaded)


@pytest.mark.parametrize(
    "lon,lat", [("abc", "51.5"), ("nan", "51.5"), ("inf", "51.5"), ("-0.1", "95")]
)
def test_invalid_coordinates_are_rejected(tmp_path, settings, lon, lat):
    loaded = read_incidents(
        write_street(tmp_path / "a.csv", [street_row(lon=lon, lat=lat)]), settings=settings
    )
    assert reasons(loaded) == {schema.INVALID_COORDINATES: 1}


def test_british_national_grid_in_degree_columns_is_rejected_with_a_hint(tmp_path, settings):
    loaded = read_incidents(
        write_street(tmp_path / "a.csv", [street_row(lon="530020", lat="180480")]),
        settings=settings,
    )
    assert reasons(loaded) == {schema.INVALID_COORDINATES: 1}
    assert "British National Grid" in loaded.rejects.iloc[0]["detail"]


def test_swapped_latitude_longitude_is_rejected_not_fixed(tmp_path, settings):
    row = street_row(lon=TRAFALGAR[1], lat=TRAFALGAR[0])
    loaded = read_incidents(write_street(tmp_path / "a.csv", [row]), settings=settings)
    assert reasons(loaded) == {schema.SWAPPED_COORDINATES: 1}


def test_point_outside_boroughs_is_rejected_not_dropped(tmp_path, settings):
    # Epping Forest, Essex: a Met-recorded crime outside London
    row = street_row(lon=-0.005392, lat=51.658426)
    loaded = read_incidents(write_street(tmp_path / "a.csv", [row]), settings=settings)
    assert reasons(loaded) == {schema.OUTSIDE_STUDY_AREA: 1}
    assert "outside every area" in loaded.rejects.iloc[0]["detail"]


def test_unknown_crime_type_is_rejected(tmp_path, settings):
    loaded = read_incidents(
        write_street(tmp_path / "a.csv", [street_row(crime_type="Jaywalking")]), settings=settings
    )
    assert reasons(loaded) == {schema.UNKNOWN_OFFENCE: 1}
    assert "Jaywalking" in loaded.rejects.iloc[0]["detail"]


@pytest.mark.parametrize("month", ["2024-13", "24-01", "January 2024", ""])
def test_bad_month_is_rejected(tmp_path, settings, month):
    loaded = read_incidents(
        write_street(tmp_path / "a.csv", [street_row(month=month)]), settings=settings
    )
    assert reasons(loaded) == {schema.BAD_MONTH: 1}


def test_unparseable_search_time_is_rejected(tmp_path, settings):
    rows = [search_row(), search_row(date="yesterday")]
    loaded = read_searches(write_search(tmp_path / "s.csv", rows), settings=settings)
    assert reasons(loaded) == {schema.UNPARSEABLE_TIME: 1}


def test_repeated_crime_id_in_a_file_is_rejected_and_first_kept(tmp_path, settings):
    rows = [street_row(crime_id="x", lsoa="E01004736"), street_row(crime_id="x", lsoa="E01004737")]
    loaded = read_incidents(write_street(tmp_path / "a.csv", rows), settings=settings)
    assert reasons(loaded) == {schema.DUPLICATE_ID: 1}
    assert loaded.incidents.loc["x", schema.LSOA_CODE] == "E01004736"
    assert loaded.rejects.iloc[0]["source_row"] == 3


def test_repeated_crime_id_across_chunks_is_found(tmp_path, settings, monkeypatch):
    import importlib

    ingest_module = importlib.import_module("hotspots.ingest.read")
    rows = [street_row(crime_id=f"id{i}") for i in range(3000)] + [street_row(crime_id="id5")]
    path = write_street(tmp_path / "a.csv", rows)
    original = ingest_module.iter_chunks
    chunk_sizes = []

    def small_chunks(source, **kwargs):
        kwargs["block_size"] = 16_384
        for chunk in original(source, **kwargs):
            chunk_sizes.append(chunk.table.num_rows)
            yield chunk

    monkeypatch.setattr(ingest_module, "iter_chunks", small_chunks)
    loaded = read_incidents(path, settings=settings)
    assert len(chunk_sizes) > 5
    assert reasons(loaded) == {schema.DUPLICATE_ID: 1}
    assert loaded.rejects.iloc[0]["source_row"] == 3002
    check_invariant(loaded)


def test_malformed_line_is_rejected_with_its_line_number(tmp_path, settings):
    path = write_street(tmp_path / "a.csv", [street_row(crime_id="1"), street_row(crime_id="3")])
    lines = path.read_text().splitlines()
    lines.insert(2, "only,three,fields")
    path.write_text("\n".join(lines) + "\n")
    loaded = read_incidents(path, settings=settings)
    assert reasons(loaded) == {schema.MALFORMED_ROW: 1}
    assert loaded.rejects.iloc[0]["source_row"] == 3
    assert sorted(loaded.incidents[schema.SOURCE_ROW]) == [2, 4]
    check_invariant(loaded)


def test_rows_outside_the_selection_are_counted_as_not_selected(tmp_path, settings):
    rows = [
        street_row(crime_id="1", month="2024-01"),
        street_row(crime_id="2", month="2024-03"),
        street_row(crime_id="3", month="2024-01", crime_type="Robbery"),
    ]
    chosen = dataclasses.replace(
        settings, selection=Selection(months=("2024-01", "2024-02"), crime_types=("burglary",))
    )
    loaded = read_incidents(write_street(tmp_path / "a.csv", rows), settings=chosen)
    assert reasons(loaded) == {schema.NOT_SELECTED: 2}
    assert list(loaded.incidents.index) == ["1"]


# --- counted quirks that are kept ---------------------------------------------


def test_blank_crime_id_is_kept_with_an_id_from_file_and_line(tmp_path, settings):
    rows = [street_row(crime_id="", crime_type="Anti-social behaviour")]
    loaded = read_incidents(
        write_street(tmp_path / "2024-01-x-street.csv", rows), settings=settings
    )
    assert list(loaded.incidents.index) == ["2024-01-x-street.csv:2"]
    assert loaded.notes[schema.NOTE_BLANK_CRIME_ID] == 1


def test_point_just_off_the_boundary_on_the_thames_is_snapped_and_counted(tmp_path, settings):
    # on Westminster Bridge, 27 m off the bank: the borough file excludes the tidal Thames
    near_bank = street_row(crime_id="near", lon=-0.1232, lat=51.50085)
    # mid-river, 124 m from either bank: beyond the 50 m tolerance
    mid_river = street_row(crime_id="mid", lon=-0.1218, lat=51.50085)
    loaded = read_incidents(
        write_street(tmp_path / "a.csv", [near_bank, mid_river]), settings=settings
    )
    assert list(loaded.incidents.index) == ["near"]
    assert loaded.incidents.iloc[0][schema.BOROUGH_CODE] == "E09000033"
    assert loaded.notes[schema.NOTE_SNAPPED] == 1
    assert reasons(loaded) == {schema.OUTSIDE_STUDY_AREA: 1}


def test_snapping_can_be_turned_off(tmp_path, settings):
    row = street_row(lon=-0.1232, lat=51.50085)
    strict = dataclasses.replace(settings, snap_m=0.0)
    loaded = read_incidents(write_street(tmp_path / "a.csv", [row]), settings=strict)
    assert reasons(loaded) == {schema.OUTSIDE_STUDY_AREA: 1}


def test_search_time_in_utc_gets_the_london_month(tmp_path, settings):
    # 23:30 UTC on 31 July is 00:30 BST on 1 August
    rows = [search_row(date="2023-07-31T23:30:00+00:00")]
    loaded = read_searches(
        write_search(tmp_path / "2023-08-x-stop-and-search.csv", rows), settings=settings
    )
    searches = loaded.incidents
    assert str(searches.iloc[0][schema.MONTH]) == "2023-08"
    assert searches.iloc[0][schema.OCCURRED_AT] == pd.Timestamp("2023-07-31T23:30:00Z")
    assert loaded.notes[schema.NOTE_MONTH_FROM_UTC] == 1


def test_exact_duplicate_searches_are_kept_and_flagged(tmp_path, settings):
    rows = [search_row(), search_row(), search_row(date="2024-01-16T10:00:00+00:00")]
    loaded = read_searches(write_search(tmp_path / "s.csv", rows), settings=settings)
    assert len(loaded.incidents) == 3
    assert loaded.incidents[schema.DUPLICATE_OF_EARLIER].tolist() == [False, True, False]
    assert loaded.notes[schema.NOTE_EXACT_DUPLICATE_SEARCH] == 1


def test_search_without_location_is_kept_for_force_totals(tmp_path, settings):
    rows = [search_row(lon="", lat=""), search_row()]
    loaded = read_searches(write_search(tmp_path / "s.csv", rows), settings=settings)
    searches = loaded.incidents
    assert searches[schema.HAS_LOCATION].tolist() == [False, True]
    assert pd.isna(searches.iloc[0][schema.BOROUGH_CODE])
    assert loaded.notes[schema.NOTE_SEARCH_NO_LOCATION] == 1


def test_lsoa_vintage_is_recorded(tmp_path, settings):
    rows = [
        street_row(crime_id="a", lsoa="E01000001"),  # in both vintages
        street_row(crime_id="b", lsoa="E01035716"),  # 2021 only
        street_row(crime_id="c", lsoa="E01004734" if False else "W01000001"),  # not London
    ]
    incidents = read_incidents(write_street(tmp_path / "a.csv", rows), settings=settings).incidents
    assert incidents[schema.LSOA_VINTAGE].tolist() == ["both", "2021", "unknown"]


def test_street_file_passed_as_searches_is_an_error(tmp_path, settings):
    path = write_street(tmp_path / "a.csv", [street_row()])
    with pytest.raises(SchemaError, match="street file"):
        read_searches(path, settings=settings)


# --- generic tables, BNG vs WGS84 --------------------------------------------


def test_british_national_grid_input_matches_wgs84_input(tmp_path, settings):
    from pyproj import Transformer

    points = [TRAFALGAR, BRIXTON, (-0.0877, 51.5129), (0.0, 51.55)]
    to_bng = Transformer.from_crs(4326, 27700, always_xy=True)
    wgs_rows, bng_rows = [], []
    for i, (lon, lat) in enumerate(points):
        x, y = to_bng.transform(lon, lat)
        base = {"ref": f"r{i}", "type": "Robbery", "when": "2024-02-03 14:00"}
        wgs_rows.append({**base, "lon": lon, "lat": lat})
        bng_rows.append({**base, "easting": round(x, 3), "northing": round(y, 3)})
    pd.DataFrame(wgs_rows).to_csv(tmp_path / "wgs.csv", index=False)
    pd.DataFrame(bng_rows).to_csv(tmp_path / "bng.csv", index=False)
    wgs = read_incidents(
        tmp_path / "wgs.csv",
        settings=dataclasses.replace(
            settings,
            column_map=parse_column_map("id=ref,offence=type,occurred_at=when,lon=lon,lat=lat"),
        ),
    ).incidents
    bng = read_incidents(
        tmp_path / "bng.csv",
        settings=dataclasses.replace(
            settings,
            column_map=parse_column_map(
                "id=ref,offence=type,occurred_at=when,x=easting,y=northing"
            ),
        ),
    ).incidents
    assert list(wgs.index) == list(bng.index) == ["r0", "r1", "r2", "r3"]
    assert (wgs[schema.CELL_ID] == bng[schema.CELL_ID]).all()
    assert (wgs[schema.BOROUGH_CODE] == bng[schema.BOROUGH_CODE]).all()
    assert np.allclose(wgs.geometry.x, bng.geometry.x, atol=0.01)
    # naive local time 14:00 in February is 14:00 UTC
    assert wgs[schema.OCCURRED_AT].iloc[0] == pd.Timestamp("2024-02-03T14:00Z")


def test_ambiguous_local_time_is_rejected(tmp_path, settings):
    # 01:30 on 29 October 2023 happened twice in London
    pd.DataFrame(
        [{"type": "Robbery", "when": "2023-10-29 01:30", "lon": TRAFALGAR[0], "lat": TRAFALGAR[1]}]
    ).to_csv(tmp_path / "g.csv", index=False)
    mapped = dataclasses.replace(
        settings, column_map=parse_column_map("offence=type,occurred_at=when,lon=lon,lat=lat")
    )
    loaded = read_incidents(tmp_path / "g.csv", settings=mapped)
    assert reasons(loaded) == {schema.UNPARSEABLE_TIME: 1}


def test_column_map_naming_absent_columns_is_an_error(tmp_path, settings):
    pd.DataFrame([{"a": 1}]).to_csv(tmp_path / "g.csv", index=False)
    mapped = dataclasses.replace(
        settings, column_map=parse_column_map("offence=type,month=m,lon=x,lat=y")
    )
    with pytest.raises(SchemaError, match="lacks column"):
        read_incidents(tmp_path / "g.csv", settings=mapped)


def test_generic_geoparquet_input(tmp_path, settings):
    frame = pd.DataFrame(
        {
            "offence": ["Burglary", "Robbery"],
            "month": ["2024-01", "2024-02"],
            "x": [530020.0, 531000.0],
            "y": [180480.0, 175500.0],
        }
    )
    frame.to_parquet(tmp_path / "force.parquet")
    mapped = dataclasses.replace(
        settings, column_map=parse_column_map("offence=offence,month=month,x=x,y=y")
    )
    loaded = read_incidents(tmp_path / "force.parquet", settings=mapped)
    assert len(loaded.incidents) == 2
    assert loaded.incidents[schema.BOROUGH_CODE].tolist() == ["E09000033", "E09000022"]


# --- the invariant on bundled real months -------------------------------------


def test_invariant_on_real_city_of_london_months(settings):
    loaded = read_incidents(DATA / "police_uk" / "city_of_london_street", settings=settings)
    check_invariant(loaded)
    assert loaded.rows_read == 18_317
    counts = reasons(loaded)
    assert counts[schema.MISSING_COORDINATES] > 1000
    assert loaded.notes[schema.NOTE_BLANK_CRIME_ID] > 1000  # anti-social behaviour
    assert loaded.incidents.index.is_unique
    assert set(loaded.incidents[schema.BOROUGH_CODE]) >= {"E09000001"}
    assert (loaded.incidents[schema.HARM] >= 0).all()


def test_invariant_on_real_met_burglary_and_searches(settings):
    months = sorted((DATA / "police_uk" / "met_burglary").glob("2024-0[1-3]*"))
    loaded = read_incidents(months, settings=settings)
    check_invariant(loaded)
    assert reasons(loaded).get(schema.DUPLICATE_ID, 0) > 0
    searches = read_searches(
        sorted((DATA / "police_uk" / "met_stop_and_search").glob("2024-0[1-2]*")),
        settings=settings,
    )
    check_invariant(searches)
    assert searches.incidents[schema.HAS_LOCATION].mean() > 0.8
