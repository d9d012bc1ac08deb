"""Disproportionality: group and outcome tables, intervals, suppression, months, populations."""

from __future__ import annotations

import glob

import numpy as np
import pandas as pd
import pytest
from conftest import DATA
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from hotspots.core.errors import InputError, SchemaError
from hotspots.stops.classify import (
    AGE_BANDS,
    NOT_RECORDED,
    NOT_STATED,
    OUTCOMES,
    SELF_DEFINED_GROUPS,
    UNLOCATED_CODE,
    UNMAPPED,
    classify_searches,
    ethnic_groups,
    harmonise_outcomes,
    outcome_mapping,
)
from hotspots.stops.compare import (
    ROW_COLUMNS,
    Context,
    compare_outcomes,
    compare_rates,
    compare_shares,
)
from hotspots.stops.cube import (
    CUBE_KEYS,
    count_searches,
    disclosure_equations,
    suppress_cells,
    suppress_cube,
)
from hotspots.stops.intervals import (
    poisson_ci,
    proportion_ratio_ci,
    rate_ratio_ci,
    smooth_rates,
    wilson_ci,
)
from hotspots.stops.populations import ETHNIC_GROUPS, read_population, read_population_by
from hotspots.stops.timeline import check_months, year_on_year

# Every string published in the Met stop-and-search files 2015-04..2024-08 (shared
# collection, 85 monthly files, scanned once), blank included.
SELF_DEFINED_2015_2024 = [
    "",
    "Asian or Asian British - Any other Asian ethnic background (A9)",
    "Asian or Asian British - Bangladeshi (A3)",
    "Asian or Asian British - Indian (A1)",
    "Asian or Asian British - Pakistani (A2)",
    "Asian/Asian British - Any other Asian background",
    "Asian/Asian British - Bangladeshi",
    "Asian/Asian British - Chinese",
    "Asian/Asian British - Indian",
    "Asian/Asian British - Pakistani",
    "Black or Black British - African (B2)",
    "Black or Black British - Any other Black ethnic background (B9)",
    "Black or Black British - Caribbean (B1)",
    "Black/African/Caribbean/Black British - African",
    "Black/African/Caribbean/Black British - Any other Black/African/Caribbean background",
    "Black/African/Caribbean/Black British - Caribbean",
    "Chinese or other ethnic group - Any other ethnic group (O9)",
    "Chinese or other ethnic group - Chinese (O1)",
    "Mixed - Any other Mixed ethnic background (M9)",
    "Mixed - White and Asian (M3)",
    "Mixed - White and Black African (M2)",
    "Mixed - White and Black Caribbean (M1)",
    "Mixed/Multiple ethnic groups - Any other Mixed/Multiple ethnic background",
    "Mixed/Multiple ethnic groups - White and Asian",
    "Mixed/Multiple ethnic groups - White and Black African",
    "Mixed/Multiple ethnic groups - White and Black Caribbean",
    "Not Stated (NS)",
    "Other ethnic group - Any other ethnic group",
    "Other ethnic group - Arab",
    "Other ethnic group - Not stated",
    "White - Any other White background",
    "White - Any other White ethnic background (W9)",
    "White - English/Welsh/Scottish/Northern Irish/British",
    "White - Gypsy or Irish Traveller",
    "White - Irish",
    "White - White British (W1)",
    "White - White Irish (W2)",
]
OUTCOMES_2015_2024 = [
    "",
    "A no further action disposal",
    "Arrest",
    "Article found - Detailed outcome unavailable",
    "Caution (simple or conditional)",
    "Community resolution",
    "Khat or Cannabis warning",
    "Local resolution",
    "Nothing found - no further action",
    "Offender cautioned",
    "Offender given drugs possession warning",
    "Offender given penalty notice",
    "Penalty Notice for Disorder",
    "Summons / charged by post",
    "Suspect arrested",
    "Suspect summonsed to court",
]


@pytest.fixture(scope="module")
def bundled_strings() -> dict[str, set[str]]:
    """Distinct strings of the bundled raw stop-and-search files (read with pandas)."""
    columns = ["Self-defined ethnicity", "Officer-defined ethnicity", "Outcome"]
    seen: dict[str, set[str]] = {c: set() for c in columns}
    for path in sorted(glob.glob(str(DATA / "police_uk" / "met_stop_and_search" / "*.csv.gz"))):
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, usecols=columns)
        for column in columns:
            seen[column] |= set(frame[column].str.strip())
    return seen


# --- ethnic groups ---------------------------------------------------------------------------


def test_every_self_defined_string_in_the_bundled_files_maps_to_a_group(bundled_strings):
    values = sorted(bundled_strings["Self-defined ethnicity"])
    assert len(values) >= 19  # 18 categories and more, plus blank
    groups = ethnic_groups(values, view="self", unknown="raise")
    assert set(groups) <= {*ETHNIC_GROUPS, NOT_STATED}
    assert UNMAPPED not in set(groups)


def test_every_officer_defined_and_outcome_string_in_the_bundled_files_maps(bundled_strings):
    officer = ethnic_groups(sorted(bundled_strings["Officer-defined ethnicity"]), view="officer")
    assert set(officer) == {"Asian", "Black", "White", "Other", NOT_STATED}
    outcomes = harmonise_outcomes(sorted(bundled_strings["Outcome"]))
    assert UNMAPPED not in set(outcomes)


def test_every_string_published_2015_to_2024_is_in_the_tables():
    self_groups = ethnic_groups(SELF_DEFINED_2015_2024, view="self")
    assert UNMAPPED not in set(self_groups)
    assert set(SELF_DEFINED_2015_2024) == set(SELF_DEFINED_GROUPS)
    assert set(OUTCOMES_2015_2024) <= set(OUTCOMES)


def test_known_strings_land_in_the_census_groups():
    cases = {
        "Asian/Asian British - Chinese": "Asian",
        "Chinese or other ethnic group - Chinese (O1)": "Asian",
        "Other ethnic group - Arab": "Other",
        "White - Gypsy or Irish Traveller": "White",
        "Mixed - White and Black Caribbean (M1)": "Mixed",
        "Black or Black British - African (B2)": "Black",
        "Other ethnic group - Not stated": NOT_STATED,
        "Not Stated (NS)": NOT_STATED,
        "": NOT_STATED,
        "  white - irish ": "White",  # whitespace and case do not matter
    }
    got = ethnic_groups(list(cases), view="self")
    assert list(got) == list(cases.values())


def test_unknown_ethnicity_raises_naming_the_string_or_is_counted_as_unmapped():
    values = pd.Series(["White - Irish", "Martian - Any other", "Martian - Any other"])
    with pytest.raises(InputError, match="'Martian - Any other' \\(2 rows\\)"):
        ethnic_groups(values, view="self")
    got = ethnic_groups(values, view="self", unknown="unmapped")
    assert list(got) == ["White", UNMAPPED, UNMAPPED]
    with pytest.raises(InputError, match="view"):
        ethnic_groups(values, view="neighbour")


def test_outcome_labels_that_changed_in_2018_are_harmonised_to_the_same_outcome():
    pairs = [
        ("Suspect arrested", "Arrest"),
        ("Nothing found - no further action", "A no further action disposal"),
        ("Offender cautioned", "Caution (simple or conditional)"),
        ("Offender given penalty notice", "Penalty Notice for Disorder"),
        ("Suspect summonsed to court", "Summons / charged by post"),
        ("Local resolution", "Community resolution"),
        ("Offender given drugs possession warning", "Khat or Cannabis warning"),
    ]
    for old, new in pairs:
        assert OUTCOMES[old] == OUTCOMES[new]
    table = outcome_mapping()
    actions = set(table.loc[table["is_action"], "outcome"])
    assert "Arrest" in actions and "Community resolution" in actions
    assert not actions & {"A no further action disposal", "Nothing found - no further action", ""}
    assert set(table.loc[table["is_arrest"], "outcome"]) == {"Arrest", "Suspect arrested"}


def _searches(rows: list[dict]) -> pd.DataFrame:
    base = {
        "month": pd.Period("2024-01", freq="M"),
        "self_defined_ethnicity": "White - Irish",
        "officer_defined_ethnicity": "White",
        "outcome": "A no further action disposal",
        "outcome_linked_to_object": None,
        "age_range": "18-24",
        "gender": "Male",
        "borough_code": "E09000022",
        "legislation": "Misuse of Drugs Act 1971 (section 23)",
        "object_of_search": "Controlled drugs",
    }
    frame = pd.DataFrame([{**base, **r} for r in rows])
    frame.index = pd.Index([f"f:{i + 2}" for i in range(len(frame))], name="incident_id")
    return frame


def test_classify_adds_columns_without_changing_the_input():
    searches = _searches(
        [
            {"outcome": "Arrest", "outcome_linked_to_object": True},
            {"outcome": "", "age_range": "", "gender": "", "borough_code": None},
            {
                "self_defined_ethnicity": "Other ethnic group - Not stated",
                "officer_defined_ethnicity": "",
            },
        ]
    )
    before = searches.copy()
    classified = classify_searches(searches)
    pd.testing.assert_frame_equal(searches, before)
    out = classified.searches
    assert list(out["is_arrest"]) == [True, False, False]
    assert list(out["is_action"]) == [True, False, False]
    assert out["find"].iloc[0] and out["find"].isna().iloc[1]
    assert list(out["age_band"]) == ["18-24", NOT_RECORDED, "18-24"]
    assert list(out["geography_code"]) == ["E09000022", UNLOCATED_CODE, "E09000022"]
    assert list(out["group_self"]) == ["White", "White", NOT_STATED]
    assert list(out["group_officer"]) == ["White", "White", NOT_STATED]
    with pytest.raises(SchemaError, match="missing 'outcome'"):
        classify_searches(searches.drop(columns="outcome"))


# --- intervals --------------------------------------------------------------------------------


def test_exact_poisson_interval_matches_published_values():
    low, high = poisson_ci(np.array([0, 1, 10]))
    np.testing.assert_allclose(low, [0.0, 0.0253, 4.7954], atol=1e-4)
    np.testing.assert_allclose(high, [3.6889, 5.5716, 18.3904], atol=1e-4)


def test_wilson_interval_matches_a_hand_checked_case():
    low, high = wilson_ci(np.array([1, 0, 5]), np.array([10, 20, 0]))
    np.testing.assert_allclose(low[:2], [0.0179, 0.0], atol=1e-4)
    np.testing.assert_allclose(high[:2], [0.4042, 0.1611], atol=1e-4)
    assert np.isnan(low[2]) and np.isnan(high[2])


def test_exact_rate_ratio_is_the_conditional_binomial_clopper_pearson_interval():
    a, na, b, nb = 30, 1000.0, 20, 4000.0
    ratio, low, high = rate_ratio_ci(a, na, b, nb, method="exact")
    assert ratio == pytest.approx(6.0)
    ci = sps.binomtest(a, a + b).proportion_ci(0.95, method="exact")
    assert low == pytest.approx(ci.low / (1 - ci.low) * nb / na)
    assert high == pytest.approx(ci.high / (1 - ci.high) * nb / na)


def test_log_rate_ratio_is_katz_and_agrees_with_exact_for_large_counts():
    ratio, low, high = rate_ratio_ci(40, 1000.0, 10, 1000.0, method="log")
    se = np.sqrt(1 / 40 + 1 / 10)
    assert (ratio, low, high) == pytest.approx(
        (4.0, 4 * np.exp(-1.959964 * se), 4 * np.exp(1.959964 * se))
    )
    big = rate_ratio_ci(60_000, 1.2e6, 78_000, 4.7e6, method="log")
    exact = rate_ratio_ci(60_000, 1.2e6, 78_000, 4.7e6, method="exact")
    np.testing.assert_allclose(np.array(big), np.array(exact), rtol=2e-3)
    assert np.isnan(rate_ratio_ci(0, 10.0, 5, 10.0, method="log")[1])
    zero = rate_ratio_ci(0, 10.0, 5, 10.0, method="exact")
    assert zero[0] == 0 and zero[1] == 0 and zero[2] > 0
    with pytest.raises(InputError, match="ratio method"):
        rate_ratio_ci(1, 1, 1, 1, method="bayes")


def test_ratio_of_proportions_uses_the_log_method():
    ratio, low, high = proportion_ratio_ci(20, 100, 10, 100)
    se = np.sqrt(1 / 20 - 1 / 100 + 1 / 10 - 1 / 100)
    assert ratio == pytest.approx(2.0)
    assert low == pytest.approx(2 * np.exp(-1.959964 * se), rel=1e-5)
    assert high == pytest.approx(2 * np.exp(1.959964 * se), rel=1e-5)


def test_empirical_bayes_pulls_small_areas_most_and_keeps_equal_rates():
    same = smooth_rates(np.array([1.0, 10.0, 100.0]), np.array([100.0, 1000.0, 10000.0]))
    np.testing.assert_allclose(same, 0.01)
    counts = np.array([5.0, 50.0, 10.0, 100.0])
    people = np.array([100.0, 1000.0, 1000.0, 10000.0])
    smoothed = smooth_rates(counts, people)
    raw = counts / people
    overall = counts.sum() / people.sum()
    assert abs(smoothed[0] - overall) < abs(raw[0] - overall)  # small area pulled in
    assert abs(smoothed[0] - raw[0]) > abs(smoothed[1] - raw[1])  # more than the large one
    assert np.isnan(smooth_rates(np.array([1.0, 2.0]), np.array([0.0, 10.0]))[0])


# --- suppression --------------------------------------------------------------------------------


def test_small_counts_are_suppressed_and_so_is_a_second_cell_of_their_total():
    # total 30 = 3 + 12 + 15: 3 is suppressed, so 12 (smallest other non-zero) goes too
    values = np.array([30, 3, 12, 15])
    hidden = suppress_cells(values, [np.array([0, 1, 2, 3])], min_count=5)
    assert list(hidden) == [False, True, True, False]


def test_zero_is_published_and_the_total_is_withheld_when_the_other_parts_are_zero():
    hidden = suppress_cells(np.array([2, 2, 0]), [np.array([0, 1, 2])], min_count=5)
    assert list(hidden) == [True, True, False]
    hidden = suppress_cells(np.array([9, 0, 9]), [np.array([0, 1, 2])], min_count=5)
    assert not hidden.any()


def test_secondary_suppression_spreads_across_rows_and_columns():
    # 2 x 2 table with margins: cells a b / c d, row totals, column totals, grand total
    #   a=3  b=20 | 23
    #   c=30 d=40 | 70
    #   33   60   | 93
    values = np.array([3, 20, 30, 40, 23, 70, 33, 60, 93])
    equations = [
        np.array([4, 0, 1]),
        np.array([5, 2, 3]),
        np.array([6, 0, 2]),
        np.array([7, 1, 3]),
        np.array([8, 4, 5]),
        np.array([8, 6, 7]),
    ]
    hidden = suppress_cells(values, equations, min_count=5)
    assert hidden[:4].tolist() == [True, True, True, True]
    for members in equations:
        assert hidden[members].sum() != 1


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.lists(st.integers(0, 12), min_size=3, max_size=3), min_size=2, max_size=5),
    st.integers(1, 6),
)
def test_no_relation_is_left_with_a_single_suppressed_cell(table, min_count):
    cells = np.array(table)
    rows, cols = cells.shape
    flat = list(cells.ravel()) + list(cells.sum(axis=1)) + list(cells.sum(axis=0)) + [cells.sum()]
    values = np.array(flat)
    index = np.arange(rows * cols).reshape(rows, cols)
    row_total = rows * cols + np.arange(rows)
    col_total = rows * cols + rows + np.arange(cols)
    grand = len(flat) - 1
    equations = [np.array([row_total[i], *index[i]]) for i in range(rows)]
    equations += [np.array([col_total[j], *index[:, j]]) for j in range(cols)]
    equations += [np.array([grand, *row_total]), np.array([grand, *col_total])]
    hidden = suppress_cells(values, equations, min_count=min_count)
    assert all(hidden[e].sum() != 1 for e in equations)
    assert hidden[(values > 0) & (values < min_count)].all()


# --- cube and rates -------------------------------------------------------------------------------


def _hand_cube(min_count: int = 2):
    rows = (
        [
            {
                "self_defined_ethnicity": "Black/African/Caribbean/Black British - African",
                "officer_defined_ethnicity": "Black",
            }
        ]
        * 10
        + [{"self_defined_ethnicity": "White - Irish"}] * 5
        + [{"self_defined_ethnicity": "White - Irish", "borough_code": None}] * 2
    )
    classified = classify_searches(_searches(rows))
    inside = pd.Series([True] * 4 + [False] * 13, index=classified.searches.index)
    cube = count_searches(
        classified, geographies=["E09000022", "E09000028"], area_filters={"hot": inside}
    )
    return classified, suppress_cube(cube, min_count=min_count)


def test_cube_counts_are_conserved_across_areas_groups_and_filters():
    _, cube = _hand_cube()
    keyed = cube.set_index(list(CUBE_KEYS))["count"]

    def count(geo, group, area_filter="all", view="self"):
        return keyed[("searches", view, geo, group, "all", "", area_filter)]

    assert count("all", "all") == 17
    assert count("all", "all") == count("E09000022", "all") + count("E09000028", "all") + count(
        "none", "all"
    )
    assert count("none", "White") == 2
    assert (
        count("all", "all", "inside hot")
        + count("all", "all", "outside hot")
        + count("all", "all", "no location")
        == 17
    )
    assert count("all", "all", "inside hot") == 4
    for equation in disclosure_equations(cube):
        values = cube["count"].to_numpy()[equation]
        assert values[0] == values[1:].sum()


class _Pop:
    """A Population stand-in with hand-checkable numbers."""

    def __init__(self):
        from hotspots.stops.populations import Population

        table = pd.DataFrame(
            {
                "area_code": ["E09000022"] * 5 + ["E09000028"] * 5,
                "area_name": ["Lambeth"] * 5 + ["Southwark"] * 5,
                "group": list(ETHNIC_GROUPS) * 2,
                "population": [100, 1000, 100, 2000, 100] * 2,
            }
        )
        self.population = Population(
            table=table, level="borough", source="hand table", name="hand"
        )


def test_rates_and_ratios_come_out_as_calculated_by_hand():
    _, cube = _hand_cube()
    context = Context(
        period="2024-01..2024-01", months_with_data=1, names={"E09000022": "Lambeth"}
    )
    rates = compare_rates(cube, _Pop().population, context=context)
    lambeth = rates[
        (rates["geography"] == "Lambeth")
        & (rates["view"] == "self")
        & (rates["breakdown"] == "all")
    ]
    black = lambeth.set_index("group").loc["Black"]
    white = lambeth.set_index("group").loc["White"]
    assert black["rate"] == pytest.approx(10.0)  # 10 searches / 1,000 residents x 1,000
    assert white["rate"] == pytest.approx(2.5)  # 5 / 2,000 x 1,000
    low, high = poisson_ci(10)
    assert (black["ci_low"], black["ci_high"]) == pytest.approx((low, high))
    assert black["ratio"] == pytest.approx(4.0)
    expected = rate_ratio_ci(10, 1000.0, 5, 2000.0, method="exact")
    assert (black["ratio_ci_low"], black["ratio_ci_high"]) == pytest.approx(expected[1:])
    assert list(rates.columns) == list(ROW_COLUMNS)
    london = rates[
        (rates["geography_code"] == "all")
        & (rates["view"] == "self")
        & (rates["group"] == "White")
        & (rates["breakdown"] == "all")
    ]
    assert (
        london["numerator"].iloc[0] == 7
    )  # the two searches without a location count toward London
    assert london["denominator"].iloc[0] == 4000


def test_suppressed_rows_withhold_numbers_and_ratios():
    _, cube = _hand_cube(min_count=3)
    context = Context(period="p", months_with_data=1, names={}, min_count=3)
    shares = compare_shares(cube, context=context)
    none_white = shares[
        (shares["geography_code"] == "none")
        & (shares["group"] == "White")
        & (shares["view"] == "self")
    ]
    assert none_white["suppressed"].iloc[0]  # 2 searches without location, below 3
    assert none_white[["numerator", "rate", "ci_low", "ci_high"]].isna().all(axis=None)
    published = shares[~shares["suppressed"]]
    assert published["numerator"].notna().all()
    # 2 unlocated White searches are hidden, so Lambeth's 5 would reveal them via London's 7
    lambeth_white = shares[
        (shares["geography_code"] == "E09000022")
        & (shares["group"] == "White")
        & (shares["view"] == "self")
    ]
    assert lambeth_white["suppressed"].iloc[0]


def test_outcomes_use_searches_of_the_group_and_the_recorded_find_flag():
    rows = (
        [{"outcome": "Arrest", "outcome_linked_to_object": True}] * 6
        + [{"outcome_linked_to_object": False}] * 14
        + [{}] * 20
    )
    classified = classify_searches(_searches(rows))
    cube = suppress_cube(count_searches(classified, geographies=["E09000022"]))
    context = Context(period="p", months_with_data=1, names={})
    out = compare_outcomes(cube, context=context)
    london = out[
        (out["geography_code"] == "all") & (out["group"] == "White") & (out["view"] == "self")
    ]
    by = london.set_index("measure")
    assert by.loc["arrest_rate", "rate"] == pytest.approx(6 / 40)
    assert by.loc["find_rate", "rate"] == pytest.approx(6 / 20)
    assert by.loc["find_rate", "denominator"] == 20
    low, high = wilson_ci(6, 40)
    assert (by.loc["arrest_rate", "ci_low"], by.loc["arrest_rate", "ci_high"]) == pytest.approx(
        (low, high)
    )


# --- months and time --------------------------------------------------------------------------------


def test_missing_and_short_months_are_found():
    months = (
        ["2019-01"] * 100
        + ["2019-02"] * 110
        + ["2021-06"] * 105
        + ["2021-07"] * 40
        + ["2021-08"] * 100
        + ["2021-09"] * 95
        + ["2021-11"] * 100
    )
    check = check_months(pd.Series(months))
    assert check.missing_ranges() == ["2019-03..2021-05", "2021-10"]
    assert check.short == ("2021-07",)
    assert check.present == 7
    check = check_months(pd.Series(months), period=("2018-12", "2019-02"))
    assert check.missing == ("2018-12",)


def test_year_on_year_compares_only_months_present_in_both_windows():
    months = [f"2023-{m:02d}" for m in range(1, 13)] + [f"2024-{m:02d}" for m in range(1, 13)]
    monthly = pd.DataFrame(
        {
            "month": months,
            "group": "all",
            "view": "self",
            "searches": [100.0] * 12 + [50.0] * 11 + [np.nan],
        }
    )
    context = Context(period="2023-01..2024-12", months_with_data=23, names={})
    out = year_on_year(monthly, context=context)
    row = out.iloc[0]
    assert row["numerator"] == 550 and row["denominator"] == 1100
    assert row["ratio"] == pytest.approx(0.5)
    assert "11 calendar months" in row["ratio_reference"]


# --- populations -----------------------------------------------------------------------------------


def test_bundled_populations_have_the_documented_totals():
    la21 = read_population("census2021").by_group()
    assert len(la21) == 33 and la21["total"].sum() == 8_799_736
    lsoa = read_population("census2021", level="lsoa").by_group()
    assert len(lsoa) == 4_994 and lsoa["total"].sum() == 8_799_810
    la11 = read_population("census2011").by_group()
    assert la11["total"].sum() == 8_173_941 and la11["White"].sum() == 4_887_435
    age = read_population_by("age").table
    london = age[age["area_code"] == "E12000007"]
    assert set(london["band"]) == set(AGE_BANDS)
    sex = read_population_by("sex").table
    assert sex.loc[sex["area_code"] == "E12000007", "population"].sum() == 8_799_720


def test_population_files_are_read_or_rejected_with_a_hint(tmp_path):
    good = tmp_path / "pop.csv"
    pd.DataFrame(
        {
            "area_code": ["E09000022", "E09000022"],
            "group": ["Black", "White"],
            "population": [10, 20],
        }
    ).to_csv(good, index=False)
    pop = read_population(good)
    assert pop.level == "borough" and pop.by_group().loc["E09000022", "total"] == 30
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"area_code": ["E09000022"], "group": ["Martian"], "population": [1]}).to_csv(
        bad, index=False
    )
    with pytest.raises(SchemaError, match="not Census broad groups"):
        read_population(bad)
    with pytest.raises(InputError, match="Census 2011 is bundled by borough only"):
        read_population("census2011", level="lsoa")
    with pytest.raises(InputError, match="neither a file nor one of"):
        read_population("census2031")


# --- not-stated sensitivity -------------------------------------------------------------------


def _not_stated_searches() -> pd.DataFrame:
    black = "Black/African/Caribbean/Black British - African"
    not_stated = "Other ethnic group - Not stated"
    rows = (
        [{"self_defined_ethnicity": black, "officer_defined_ethnicity": "Black"}] * 20
        + [{"self_defined_ethnicity": "White - Irish", "officer_defined_ethnicity": "White"}] * 40
        + [
            {
                "self_defined_ethnicity": not_stated,
                "officer_defined_ethnicity": "Black",
                "outcome": "Arrest",
            }
        ]
        * 10
        + [{"self_defined_ethnicity": not_stated, "officer_defined_ethnicity": "White"}] * 6
        + [{"self_defined_ethnicity": not_stated, "officer_defined_ethnicity": ""}] * 5
    )
    return _searches(rows)


def test_combined_view_uses_the_officer_group_only_where_self_defined_is_not_stated():
    from hotspots.stops.cube import sensitivity_cube, suppress_cube

    classified = classify_searches(_not_stated_searches())
    assert (classified.searches["group_combined"].value_counts()).to_dict() == {
        "White": 46,
        "Black": 30,
        NOT_STATED: 5,
    }
    cube = suppress_cube(count_searches(classified, geographies=["E09000022"]), min_count=5)
    before = cube.copy()
    extra = sensitivity_cube(classified, cube, min_count=5)
    pd.testing.assert_frame_equal(cube, before)  # the published views are not changed
    keyed = extra.set_index(["kind", "view", "group"])

    def cell(view, group, kind="searches"):
        row = keyed.loc[(kind, view, group)]
        return int(row["count"]), bool(row["suppressed"])

    assert cell("combined", "Black") == (30, False)
    assert cell("combined", "White") == (46, False)
    assert cell("combined", "Black", "arrests") == (10, False)
    # bounds: every not-stated search (21) White, or Black
    assert cell("not_stated_as_white", "White") == (61, False)
    assert cell("not_stated_as_white", "Black") == (20, False)
    assert cell("not_stated_as_black", "Black") == (41, False)
    assert cell("not_stated_as_black", NOT_STATED) == (0, False)
    for view in ("combined", "not_stated_as_white", "not_stated_as_black"):
        assert cell(view, "all") == (81, False)


def test_combined_cell_is_withheld_when_it_differs_from_self_defined_by_a_small_count():
    from hotspots.stops.cube import sensitivity_cube, suppress_cube

    searches = _not_stated_searches()
    # only 3 not-stated searches are officer-defined White: combined White - self White = 3
    searches = searches.iloc[:-8]
    classified = classify_searches(searches)
    cube = suppress_cube(count_searches(classified, geographies=["E09000022"]), min_count=5)
    extra = sensitivity_cube(classified, cube, min_count=5)
    combined = extra[(extra["kind"] == "searches") & (extra["view"] == "combined")]
    hidden = combined.set_index("group")["suppressed"]
    assert hidden["White"]
    # and a second cell, so the White count cannot be recovered from the total
    assert hidden.sum() >= 2


def test_sensitivity_rates_and_ratios_come_out_as_calculated_by_hand():
    from hotspots.stops.cube import sensitivity_cube, suppress_cube

    classified = classify_searches(_not_stated_searches())
    cube = suppress_cube(count_searches(classified, geographies=["E09000022"]), min_count=5)
    cube = pd.concat([cube, sensitivity_cube(classified, cube, min_count=5)], ignore_index=True)
    context = Context(
        period="2024-01..2024-01",
        months_with_data=1,
        names={"E09000022": "Lambeth"},
        force_name="London",
        ratio_method="log",
    )
    rates = compare_rates(cube, _Pop().population, context=context)
    force = rates[
        (rates["geography_code"] == "all")
        & (rates["group"] == "Black")
        & (rates["breakdown"] == "all")
    ]
    ratio = force.set_index("view")["ratio"]
    # Black 1000 residents, White 2000 (one borough in this population: London = Lambeth x 2)
    assert ratio["self"] == pytest.approx((20 / 2000) / (40 / 4000))
    assert ratio["combined"] == pytest.approx((30 / 2000) / (46 / 4000))
    assert ratio["not_stated_as_white"] == pytest.approx((20 / 2000) / (61 / 4000))
    assert ratio["not_stated_as_black"] == pytest.approx((41 / 2000) / (40 / 4000))
    assert ratio["not_stated_as_white"] < ratio["self"] < ratio["combined"]
    assert ratio["combined"] < ratio["not_stated_as_black"]
    outcomes = compare_outcomes(cube, context=context)
    arrests = outcomes[
        (outcomes["measure"] == "arrest_rate")
        & (outcomes["geography_code"] == "all")
        & (outcomes["area_filter"] == "all")
        & (outcomes["group"] == "Black")
    ].set_index("view")
    assert arrests.loc["self", "rate"] == 0
    assert arrests.loc["combined", "rate"] == pytest.approx(10 / 30)
    assert arrests.loc["not_stated_as_black", "rate"] == pytest.approx(10 / 41)
