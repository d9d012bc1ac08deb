"""MPS area counts: wide tables to tidy rows, harm per minor category, rejects."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import DATA

from hotspots.core import schema
from hotspots.core.errors import SchemaError
from hotspots.ingest.area_counts import read_area_counts, totals_by_area

LSOA_FILE = DATA / "police_uk" / "mps_area_counts" / "recorded-crime-lsoa_202308-202408.csv.gz"


def write_wide(path, rows):
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_wide_rows_become_tidy_months_with_harm(tmp_path):
    path = write_wide(
        tmp_path / "c.csv",
        [
            {
                "lsoa_code": "E01000001",
                "lsoa_name": "City 001A",
                "borough": "E09000001",
                "major_category": "VIOLENCE AGAINST THE PERSON",
                "minor_category": "VIOLENCE WITH INJURY",
                "202401": 2,
                "202402": 0,
            },
            {
                "lsoa_code": "E01000001",
                "lsoa_name": "City 001A",
                "borough": "E09000001",
                "major_category": "NFIB FRAUD",
                "minor_category": "NFIB",
                "202401": 1,
                "202402": 1,
            },
            {
                "lsoa_code": "E01000002",
                "lsoa_name": "City 001B",
                "borough": "E09000001",
                "major_category": "THEFT",
                "minor_category": "SHOPLIFTING",
                "202401": -1,
                "202402": 1,
            },
        ],
    )
    counts = read_area_counts(path)
    assert counts.rows_read == 3
    assert counts.rejects["reason"].tolist() == [schema.UNKNOWN_OFFENCE, schema.INVALID_COUNT]
    assert counts.counts["count"].tolist() == [2, 0]
    assert counts.counts["harm"].tolist() == [730.0, 0.0]
    assert [str(m) for m in counts.counts["month"]] == ["2024-01", "2024-02"]


def test_real_lsoa_violence_counts():
    counts = read_area_counts(
        LSOA_FILE, months=("2023-09", "2024-08"), majors=("VIOLENCE AGAINST THE PERSON",)
    )
    assert counts.rows_read == 101_048
    assert len(counts.counts) // 12 + len(counts.rejects) == counts.rows_read
    totals = totals_by_area(counts.counts)
    assert 4900 < len(totals) <= 4994
    monthly = counts.counts.groupby("month")["count"].sum()
    assert monthly.between(15_000, 25_000).all()
    assert counts.months == ("2023-09", "2024-08")


def test_not_an_mps_table_is_a_clear_error(tmp_path):
    write_wide(tmp_path / "x.csv", [{"a": 1}])
    with pytest.raises(SchemaError, match="MPS recorded-crime"):
        read_area_counts(tmp_path / "x.csv")
