"""Harm tables: bundled CCHI weights and user CSVs."""

from __future__ import annotations

import numpy as np
import pytest

from hotspots.core.errors import InputError, SchemaError
from hotspots.harm.table import default_harm_table, read_harm_table

POLICE_UK_CATEGORIES = {
    "Anti-social behaviour",
    "Bicycle theft",
    "Burglary",
    "Criminal damage and arson",
    "Drugs",
    "Other crime",
    "Other theft",
    "Possession of weapons",
    "Public order",
    "Robbery",
    "Shoplifting",
    "Theft from the person",
    "Vehicle crime",
    "Violence and sexual offences",
}


def test_bundled_police_uk_table_covers_the_14_categories():
    table = default_harm_table("police_uk")
    assert set(table.weights.index) == POLICE_UK_CATEGORIES
    assert (table.weights >= 0).all()
    assert table.weights["Robbery"] == 365.0
    assert table.weights["Shoplifting"] == 1.0


def test_bundled_mps_and_home_office_tables_load():
    mps = default_harm_table("mps_minor")
    assert mps.lookup(np.array(["VIOLENCE WITH INJURY", "HOMICIDE", "NFIB"])).tolist()[:2] == [
        365.0,
        5475.0,
    ]
    assert np.isnan(mps.lookup(np.array(["NFIB"]))[0])  # fraud has no CCHI value
    ho = default_harm_table("home_office")
    assert len(ho.weights) > 100


def test_lookup_ignores_case_and_spaces_and_keeps_the_tables_spelling():
    table = default_harm_table("police_uk")
    values = np.array(["  burglary ", "SHOPLIFTING", "unknown"], dtype=object)
    harm = table.lookup(values)
    assert harm[1] == 1.0 and np.isnan(harm[2])
    assert table.canonical(values).tolist() == ["Burglary", "Shoplifting", None]


def test_user_table_replaces_the_default(tmp_path):
    (tmp_path / "h.csv").write_text("offence,harm\nBurglary,10\nRobbery,20\n")
    table = read_harm_table(tmp_path / "h.csv")
    assert table.lookup(np.array(["Burglary"]))[0] == 10
    assert "h.csv" in table.name


@pytest.mark.parametrize(
    "text,message",
    [
        ("offence,weight\nBurglary,1\n", "missing 'harm'"),
        ("offence,harm\nBurglary,-1\n", ">= 0"),
        ("offence,harm\nBurglary,x\n", ">= 0"),
        ("offence,harm\nBurglary,1\nburglary,2\n", "appears twice"),
    ],
)
def test_bad_user_tables_are_clear_errors(tmp_path, text, message):
    (tmp_path / "h.csv").write_text(text)
    with pytest.raises(SchemaError, match=message):
        read_harm_table(tmp_path / "h.csv")


def test_missing_user_table_is_an_input_error(tmp_path):
    with pytest.raises(InputError):
        read_harm_table(tmp_path / "nope.csv")
