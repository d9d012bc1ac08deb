"""Hour-of-week profiles, aoristic weighting (day/week boundaries, DST) and visit windows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hotspots.core.errors import SchemaError
from hotspots.task.timewindows import (
    HOURS_IN_WEEK,
    MONTH_ONLY_NOTE,
    Window,
    aoristic_weights,
    describe_windows,
    hour_of_week,
    hour_of_week_profiles,
    recommend_windows,
    shrink_profile,
    windows_for_places,
)


def utc(*values):
    return pd.Series(pd.to_datetime(list(values), utc=True))


def spread(start, end):
    weights = aoristic_weights(utc(*start), utc(*end))
    frame = weights.as_frame()
    return {
        (int(r), int(h)): round(float(w), 6)
        for r, h, w in zip(frame["row"], frame["hour"], frame["weight"], strict=True)
    }


def test_hour_of_week_counts_local_hours_from_monday_midnight():
    # 2024-01-01 was a Monday; 2024-07-07 a Sunday, 23:30 BST is 22:30 UTC
    hours = hour_of_week(utc("2024-01-01T00:10Z", "2024-01-05T21:59Z", "2024-07-07T22:30Z", None))
    assert hours.tolist() == [0, 4 * 24 + 21, 167, -1]


def test_exact_times_put_all_weight_in_one_hour():
    weights = aoristic_weights(utc("2024-01-05T21:10Z"))
    assert weights.row.tolist() == [0] and weights.hour.tolist() == [117]
    assert weights.weight.tolist() == [1.0]


def test_a_range_across_midnight_and_the_week_boundary_is_split_by_time():
    # Sunday 23:30 to Monday 00:30 (GMT): half in hour 167, half in hour 0
    assert spread(["2024-01-07T23:30Z"], ["2024-01-08T00:30Z"]) == {(0, 0): 0.5, (0, 167): 0.5}
    # Tuesday 22:00 to Wednesday 02:00: four hours, a quarter each
    got = spread(["2024-01-02T22:00Z"], ["2024-01-03T02:00Z"])
    assert got == {(0, 46): 0.25, (0, 47): 0.25, (0, 48): 0.25, (0, 49): 0.25}


def test_spring_forward_hour_gets_nothing():
    # 31 March 2024: 01:00 GMT becomes 02:00 BST. 00:30-02:30 UTC is local 00:30-01:00 GMT
    # then 02:00-03:30 BST: Sun 00 half an hour, Sun 01 nothing, Sun 02 an hour, Sun 03 half
    got = spread(["2024-03-31T00:30Z"], ["2024-03-31T02:30Z"])
    assert got == {(0, 144): 0.25, (0, 146): 0.5, (0, 147): 0.25}


def test_fall_back_hour_counts_twice():
    # 27 October 2024: 02:00 BST becomes 01:00 GMT; 00:00-02:00 UTC is local 01:00-02:00 twice
    assert spread(["2024-10-27T00:00Z"], ["2024-10-27T02:00Z"]) == {(0, 145): 1.0}


def test_naive_times_are_local_and_ambiguous_ones_are_refused():
    naive = pd.Series(pd.to_datetime(["2024-07-01 09:00"]))  # BST: 08:00 UTC
    assert hour_of_week(naive).tolist() == [9]
    with pytest.raises(SchemaError, match="ambiguous or does not exist in Europe/London"):
        hour_of_week(pd.Series(pd.to_datetime(["2024-10-27 01:30"])))


def test_backward_and_very_long_ranges_are_left_out_and_said_why():
    weights = aoristic_weights(
        utc("2024-01-02T10:00Z", "2024-01-01T00:00Z", None),
        utc("2024-01-02T09:00Z", "2024-02-01T00:00Z", None),
    )
    assert weights.skipped.tolist() == ["end_before_start", "longer_than_14_days", "missing_time"]
    assert len(weights.row) == 0


@settings(max_examples=80, deadline=None)
@given(
    starts=st.lists(
        st.datetimes(
            min_value=pd.Timestamp("2023-03-20").to_pydatetime(),
            max_value=pd.Timestamp("2024-11-05").to_pydatetime(),
        ),
        min_size=1,
        max_size=20,
    ),
    minutes=st.lists(st.integers(0, 14 * 24 * 60), min_size=20, max_size=20),
)
def test_aoristic_weights_sum_to_one_per_incident(starts, minutes):
    start = pd.Series(pd.to_datetime(starts)).dt.tz_localize("UTC")
    end = start + pd.to_timedelta(minutes[: len(starts)], unit="min")
    weights = aoristic_weights(start, end)
    totals = np.bincount(weights.row, weights=weights.weight, minlength=len(starts))
    np.testing.assert_allclose(totals, 1.0, rtol=0, atol=1e-9)
    assert ((weights.hour >= 0) & (weights.hour < HOURS_IN_WEEK)).all()
    assert (weights.weight > 0).all()


def test_profiles_sum_harm_per_group_and_hour():
    incidents = pd.DataFrame(
        {
            "occurred_at": utc("2024-01-05T21:10Z", "2024-01-05T21:50Z", "2024-01-06T03:00Z"),
            "harm": [2.0, 3.0, 5.0],
        }
    )
    profiles, timed = hour_of_week_profiles(incidents, pd.Series(["a", "a", "b"]))
    assert profiles.loc["a", 117] == 5.0 and profiles.loc["b", 5 * 24 + 3] == 5.0
    assert profiles.to_numpy().sum() == 10.0
    assert timed.to_dict() == {"a": 2, "b": 1}


def test_ranges_are_used_when_given():
    incidents = pd.DataFrame(
        {
            "occurred_from": utc("2024-01-02T22:00Z"),
            "occurred_to": utc("2024-01-03T02:00Z"),
            "harm": [4.0],
        }
    )
    profiles, _ = hour_of_week_profiles(incidents, pd.Series(["a"]))
    assert profiles.loc["a", [46, 47, 48, 49]].tolist() == [1.0, 1.0, 1.0, 1.0]


def test_recommended_windows_find_the_peak_and_wrap_round_the_week():
    profile = np.ones(HOURS_IN_WEEK)
    profile[[167, 0]] = 40.0  # Sunday 23:00 to Monday 01:00
    windows = recommend_windows(profile, window_hours=2, windows=1)
    assert windows == [Window(start=167, hours=2, share=pytest.approx(80 / 246))]
    assert windows[0].label() == "Sun 23:00-Mon 01:00"
    assert Window(start=4 * 24 + 22, hours=2, share=0.1).label() == "Fri 22:00-24:00"
    assert recommend_windows(np.ones(HOURS_IN_WEEK)) == []  # flat: no window
    assert describe_windows([]) == "no clear peak: spread visits through the week"


def test_windows_do_not_overlap():
    profile = np.zeros(HOURS_IN_WEEK)
    profile[100:104] = [5, 9, 9, 5]
    windows = recommend_windows(profile, window_hours=2, windows=3)
    hours = [{(w.start + i) % HOURS_IN_WEEK for i in range(w.hours)} for w in windows]
    assert windows[0].start == 101
    assert all(not (a & b) for i, a in enumerate(hours) for b in hours[i + 1 :])


def test_few_incidents_lean_on_the_team_profile():
    place = np.zeros(HOURS_IN_WEEK)
    place[10] = 1.0
    team = np.zeros(HOURS_IN_WEEK)
    team[50] = 1.0
    half = shrink_profile(place, team, incidents=10, prior_weight=10)
    assert half[10] == pytest.approx(0.5) and half[50] == pytest.approx(0.5)
    none = shrink_profile(np.zeros(HOURS_IN_WEEK), team, incidents=0, prior_weight=10)
    assert none[50] == pytest.approx(1.0)


def test_month_only_data_say_so_instead_of_inventing_times():
    incidents = pd.DataFrame(
        {"occurred_at": pd.Series([pd.NaT, pd.NaT], dtype="datetime64[ns, UTC]"), "harm": 1.0}
    )
    times = windows_for_places(incidents, pd.Series(["a", "b"]), pd.Series(["t", "t"]))
    assert not times.timed
    assert times.note == MONTH_ONLY_NOTE
    assert "month" in times.note and times.places.empty


def test_timed_incidents_give_windows_per_place_and_team():
    # 30 burglaries at place a on Friday evenings 20:00-21:59 local (GMT in January)
    stamps = [f"2024-01-{5 + 7 * (i % 4):02d}T{20 + i % 2}:{i:02d}Z" for i in range(30)]
    incidents = pd.DataFrame({"occurred_at": utc(*stamps), "harm": 1.0})
    times = windows_for_places(incidents, pd.Series(["a"] * 30), pd.Series(["t"] * 30))
    assert times.timed
    assert times.places.loc["a", "time_windows"].startswith("Fri 20:00-22:00 (100%)")
    assert times.teams.loc["t", "timed_incidents"] == 30
    assert times.team_profiles.loc["t"].sum() == pytest.approx(1.0)
    assert "30 of 30 incidents" in times.note
