"""Patrol allocation: dosage rules, greedy, the exact MILP and the greedy floor."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hotspots.core.errors import HotspotsError, SchemaError
from hotspots.task.patrol import (
    Dosage,
    allocate_patrols,
    greedy_allocation,
    is_feasible,
    milp_allocation,
    objective,
    share_budget,
    visit_values,
)


def brute_force(harm, cost, *, budget, dosage, max_places, decay):
    """Best objective over every plan (tiny instances only)."""
    options = [0, *range(dosage.min_visits_per_week, dosage.max_visits_per_week + 1)]
    best = 0.0
    for visits in itertools.product(options, repeat=len(harm)):
        v = np.array(visits)
        if is_feasible(v, cost, budget=budget, dosage=dosage, max_places=max_places):
            best = max(best, objective(harm, v, decay=decay))
    return best


def test_koper_defaults_give_a_weekly_cap_of_28():
    dosage = Dosage()
    assert dosage.visit_minutes == 15
    assert dosage.max_visits_per_week == 28
    assert "15-minute visits, at least 2 h apart" in dosage.describe()


def test_a_day_cannot_hold_more_visits_than_the_gap_allows():
    with pytest.raises(SchemaError, match="need 26.2 hours; a day has 24"):
        Dosage(max_visits_per_day=14, min_gap_minutes=120)


def test_visits_cannot_overlap_and_the_minimum_dose_must_fit_the_cap():
    with pytest.raises(SchemaError, match="shorter than a visit"):
        Dosage(visit_minutes=30, min_gap_minutes=20)
    with pytest.raises(SchemaError, match=r"min_visits_per_week must be 1..7"):
        Dosage(max_visits_per_day=1, min_visits_per_week=8)


def test_each_extra_visit_is_worth_a_tenth_less():
    assert visit_values(10.0, 3, 0.1) == pytest.approx([10.0, 9.0, 8.1])
    assert objective(np.array([10.0]), np.array([3]), decay=0.1) == pytest.approx(27.1)
    assert objective(np.array([10.0, 2.0]), np.array([2, 1]), decay=0.0) == pytest.approx(22.0)


def test_greedy_gives_the_minimum_dose_then_adds_single_visits():
    dosage = Dosage(min_visits_per_week=7)
    # 9 visits: place 0 gets its 7, then its 8th (10*0.9^7 = 4.8) beats a new place's
    # block (1 a visit on average at most)
    visits = greedy_allocation(
        np.array([10.0, 1.0]), np.array([15.0, 15.0]), budget=9 * 15, dosage=dosage
    )
    assert visits.tolist() == [9, 0]


def test_optimiser_beats_greedy_when_a_far_place_is_worth_the_walk():
    # one visit each at most; place 0 is 15 min away (ratio 10/15), place 1 30 min (18/30):
    # greedy takes place 0 first and then cannot afford place 1; the optimum is place 1 alone
    dosage = Dosage(max_visits_per_day=1, days_per_week=1, min_visits_per_week=1)
    harm, cost = np.array([10.0, 18.0]), np.array([15.0, 30.0])
    greedy = greedy_allocation(harm, cost, budget=30, dosage=dosage)
    exact = milp_allocation(harm, cost, budget=30, dosage=dosage, warm_start=greedy)
    assert greedy.tolist() == [1, 0]
    assert exact.visits.tolist() == [0, 1]
    assert exact.status == "Optimal"
    assert objective(harm, exact.visits) == pytest.approx(18.0)
    assert objective(harm, greedy) == pytest.approx(10.0)


@settings(max_examples=60, deadline=None)
@given(
    harm=st.lists(st.floats(0, 100, allow_nan=False), min_size=1, max_size=4),
    costs=st.lists(st.sampled_from([15.0, 20.0, 35.0]), min_size=4, max_size=4),
    budget=st.integers(0, 300),
    max_places=st.integers(0, 4),
    per_day=st.integers(1, 2),
    days=st.integers(1, 3),
    min_dose=st.integers(1, 6),
    decay=st.sampled_from([0.0, 0.1, 0.5]),
)
def test_optimiser_is_exact_never_below_greedy_and_never_over_budget(
    harm, costs, budget, max_places, per_day, days, min_dose, decay
):
    cap = per_day * days
    dosage = Dosage(
        max_visits_per_day=per_day, days_per_week=days, min_visits_per_week=min(min_dose, cap)
    )
    harm = np.array(harm)
    cost = np.array(costs[: len(harm)])
    kwargs = {"budget": float(budget), "dosage": dosage, "max_places": max_places, "decay": decay}
    greedy = greedy_allocation(harm, cost, **kwargs)
    exact = milp_allocation(harm, cost, warm_start=greedy, **kwargs)
    assert is_feasible(greedy, cost, **{k: kwargs[k] for k in ("budget", "dosage", "max_places")})
    assert is_feasible(
        exact.visits, cost, **{k: kwargs[k] for k in ("budget", "dosage", "max_places")}
    )
    assert float(np.sum(exact.visits * cost)) <= budget + 1e-9
    best = brute_force(harm, cost, **kwargs)
    got = objective(harm, exact.visits, decay=decay)
    assert got == pytest.approx(best, rel=1e-7, abs=1e-7)
    assert got >= objective(harm, greedy, decay=decay) - 1e-7


def test_allocate_patrols_plans_each_team_within_its_budget_and_keeps_greedy_as_floor():
    places = pd.DataFrame(
        {
            "team": ["a", "a", "a", "b", "b"],
            "harm": [50.0, 30.0, 5.0, 8.0, 0.0],
            "walk_minutes": [0.0, 0.0, 0.0, 10.0, 0.0],
        },
        index=pd.Index(["p1", "p2", "p3", "p4", "p5"], name="place"),
    )
    budgets = pd.Series({"a": 600.0, "b": 300.0, "c": 60.0})
    result = allocate_patrols(places, budgets)
    teams = result.teams
    assert list(teams.index) == ["a", "b", "c"]
    assert (teams["planned_minutes"] <= teams["budget_minutes"] + 1e-9).all()
    assert (teams["objective"] >= teams["greedy_objective"] - 1e-9).all()
    # team a: 600 min = 40 visits of 15 min, within the 3 x 28 cap: all used
    assert teams.loc["a", "planned_minutes"] == 600.0
    # team b: one place, each visit costs 15 + 10 min walking: 12 visits = 300 min
    assert result.visits["p4"] == 12 and teams.loc["b", "walk_minutes"] == 120.0
    assert result.visits["p5"] == 0  # no harm, no visits
    assert teams.loc["c", "places_tasked"] == 0  # a team with no places
    assert set(teams["plan_from"]) <= {"optimiser", "greedy"}


def test_greedy_only_method_and_bad_inputs():
    places = pd.DataFrame({"team": ["a"], "harm": [1.0]}, index=["p"])
    result = allocate_patrols(places, pd.Series({"a": 150.0}), method="greedy")
    assert result.teams.loc["a", "solver_status"] == "not run"
    assert result.visits["p"] == 10
    with pytest.raises(HotspotsError, match="method must be"):
        allocate_patrols(places, pd.Series({"a": 1.0}), method="simplex")
    with pytest.raises(SchemaError, match="missing 'harm'"):
        allocate_patrols(places.drop(columns="harm"), pd.Series({"a": 1.0}))
    with pytest.raises(SchemaError, match="harm must be finite and >= 0"):
        greedy_allocation(np.array([-1.0]), np.array([15.0]), budget=15, dosage=Dosage())


def test_total_budget_is_shared_by_harm_in_whole_visits():
    harm = pd.Series({"a": 3.0, "b": 1.0, "c": 0.0})
    budgets = share_budget(10 * 60.0, harm, visit_minutes=15.0)
    assert budgets.sum() == 600.0  # 40 whole visits
    assert budgets["a"] == 450.0 and budgets["b"] == 150.0 and budgets["c"] == 0.0
    odd = share_budget(100.0, pd.Series({"a": 1.0, "b": 1.0}), visit_minutes=15.0)
    assert odd.sum() == 90.0  # 6 whole visits; the last 10 minutes cannot hold a visit
    assert sorted(odd.tolist()) == [45.0, 45.0]
