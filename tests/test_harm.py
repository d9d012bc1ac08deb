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


# --- offences police mostly find themselves ---------------------------------------------


def test_police_generated_offences_are_marked_in_every_bundled_table():
    from hotspots.harm.table import default_harm_table

    assert default_harm_table("police_uk").police_generated == {"Drugs", "Possession of weapons"}
    assert default_harm_table("mps_minor").police_generated == {
        "POSSESSION OF DRUGS",
        "TRAFFICKING OF DRUGS",
        "POSSESSION OF WEAPONS",
    }
    codes = default_harm_table("home_office").police_generated
    assert {"92A", "10A", "81"} <= codes and "28E" not in codes  # drugs, weapons; not burglary
    table = default_harm_table("police_uk")
    assert table.is_police_generated(["drugs ", "Burglary", "POSSESSION OF WEAPONS"]).tolist() == [
        True,
        False,
        True,
    ]


def test_police_generated_choice_leaves_them_out_unless_asked():
    from hotspots.harm.table import default_harm_table, police_generated_choice

    table = default_harm_table("police_uk")
    default = police_generated_choice(table)
    assert default.exclude == ("Drugs", "Possession of weapons")
    assert "left out" in default.sentence and "--include-police-generated" in default.sentence
    kept = police_generated_choice(table, include=True)
    assert kept.exclude == () and "must not be used to place searches" in kept.sentence
    chosen = police_generated_choice(table, crime_types=["Drugs"])
    assert chosen.exclude == () and "past police activity" in chosen.sentence
    burglary = police_generated_choice(table, crime_types=["Burglary"])
    assert burglary.exclude == () and "none was chosen" in burglary.sentence


def test_user_table_can_mark_police_generated(tmp_path):
    from hotspots.harm.table import read_harm_table

    path = tmp_path / "harm.csv"
    path.write_text("offence,harm,police_generated\nA,1,no\nB,2,TRUE\n", encoding="utf-8")
    assert read_harm_table(path).police_generated == {"B"}


def test_detect_leaves_police_generated_offences_out_of_the_harm_layer(tmp_path):
    import json
    import subprocess
    import sys

    import geopandas as gpd
    from conftest import DATA

    from hotspots import read_incidents

    city = DATA / "police_uk" / "city_of_london_street"
    months = "2024-01..2024-06"
    loaded = read_incidents(city)
    chosen = loaded.incidents[loaded.incidents["month"].astype(str).between("2024-01", "2024-06")]
    police = chosen["offence"].isin(["Drugs", "Possession of weapons"])
    assert police.sum() > 50  # the City records plenty of both
    totals = {}
    for flag in ((), ("--include-police-generated",)):
        out = tmp_path / ("with" if flag else "without")
        run = subprocess.run(
            [
                sys.executable,
                "-m",
                "hotspots.cli.main",
                "detect",
                str(city),
                "--months",
                months,
                "--out",
                str(out),
                *flag,
            ],
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert run.returncode == 0, run.stderr
        cells = gpd.read_parquet(out / "cells.parquet")
        manifest = json.loads((out / "manifest.json").read_text())
        totals[bool(flag)] = (int(cells["incidents"].sum()), manifest)
        assert "police_generated" in manifest["automatic_choices"]
        # six months read: no forecast, and the run says why
        assert "needs at least 24 months" in manifest["automatic_choices"]["rank"]
        assert (
            "police-generated" in (out / "report.html").read_text()
            or "police mostly" in (out / "report.html").read_text()
        )
    without, with_ = totals[False], totals[True]
    assert with_[0] - without[0] == int(police.sum())
    assert without[1]["detect"]["parameters"]["police_generated"]["left_out"] == [
        "Drugs",
        "Possession of weapons",
    ]
    assert "must not be used" in with_[1]["automatic_choices"]["police_generated"]
