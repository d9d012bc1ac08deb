"""Allocate patrol visits to places within a weekly budget of officer time.

The model, per team (teams are independent once each has its budget):

* a place ``i`` has harm ``h_i`` (CCHI days over the analysis period) and a cost per visit
  ``c_i`` in minutes (the visit itself, plus the return walk from a base when walking is
  counted against the budget);
* the ``k``-th visit in a week to a place is worth ``h_i * (1 - r) ** (k - 1)``, so each
  extra visit is worth a fraction ``r`` less than the one before (diminishing returns;
  ``r = 0.1`` by default: the 7th visit in a week is worth 53% of the first). The value of
  ``v`` visits is ``h_i * (1 - (1 - r) ** v) / r``;
* dosage (Koper 1995, and the Sacramento hot-spots experiment, Telep et al. 2014): visits of
  ``visit_minutes`` (15 by default), at least ``min_gap_minutes`` apart (120), so at most
  ``max_visits_per_day`` a day (4) and ``max_visits_per_day * days_per_week`` a week (28);
  a place on the sheet gets at least ``min_visits_per_week`` visits (7: one a day), because
  an occasional visit does not deter;
* at most ``max_places`` places per team (10: one printed page a team can carry);
* the visits' minutes stay within the team's budget.

Choose visits to maximise the total value. :func:`greedy_allocation` adds, again and again,
the visit (or, for a new place, the block of ``min_visits_per_week`` visits) with the
highest value per minute that still fits. :func:`milp_allocation` solves the same problem
exactly as a mixed-integer programme (PuLP with its bundled CBC solver), warm-started from
the greedy answer. :func:`allocate_patrols` keeps the greedy answer as a floor: the plan is
the optimiser's whenever its objective is at least greedy's, and greedy's otherwise (which
the tests show never happens).

With equal visit costs and no place limit or minimum dose, greedy is already optimal (the
value is concave and separable); the minimum dose, the place limit and unequal costs
(walking from a base) are what make the exact solver matter.
"""

from __future__ import annotations

import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from hotspots.core.errors import InputError, SchemaError

log = logging.getLogger(__name__)

DEFAULT_DECAY = 0.1
DEFAULT_MAX_PLACES = 10
DEFAULT_TIME_LIMIT_S = 20.0
_TOLERANCE = 1e-9


@dataclass(frozen=True)
class Dosage:
    """How long and how often a place is visited.

    Attributes
    ----------
    visit_minutes
        Minutes per visit (Koper: about 15; longer visits add little).
    min_gap_minutes
        Least time between two visits to the same place (about 2 hours).
    max_visits_per_day
        Cap on visits to one place in a day.
    days_per_week
        Days a week the team patrols.
    min_visits_per_week
        A place on the sheet gets at least this many visits a week.
    """

    visit_minutes: float = 15.0
    min_gap_minutes: float = 120.0
    max_visits_per_day: int = 4
    days_per_week: int = 7
    min_visits_per_week: int = 7

    def __post_init__(self) -> None:
        """Check that the rule is possible within a day and a week."""
        if not self.visit_minutes > 0:
            raise SchemaError(f"visit_minutes must be > 0; got {self.visit_minutes}.")
        if self.min_gap_minutes < self.visit_minutes:
            raise SchemaError(
                f"min_gap_minutes ({self.min_gap_minutes:g}) is shorter than a visit "
                f"({self.visit_minutes:g} min); visits would overlap. Use a gap of at least "
                "the visit length (default 120)."
            )
        if not 1 <= self.days_per_week <= 7:
            raise SchemaError(f"days_per_week must be 1..7; got {self.days_per_week}.")
        if self.max_visits_per_day < 1:
            raise SchemaError(f"max_visits_per_day must be >= 1; got {self.max_visits_per_day}.")
        span = (self.max_visits_per_day - 1) * self.min_gap_minutes + self.visit_minutes
        if span > 24 * 60:
            raise SchemaError(
                f"{self.max_visits_per_day} visits a day at least {self.min_gap_minutes:g} min "
                f"apart need {span / 60:.1f} hours; a day has 24. Lower max_visits_per_day or "
                "the gap."
            )
        if not 1 <= self.min_visits_per_week <= self.max_visits_per_week:
            raise SchemaError(
                f"min_visits_per_week must be 1..{self.max_visits_per_week} (the weekly cap); "
                f"got {self.min_visits_per_week}."
            )

    @property
    def max_visits_per_week(self) -> int:
        """Weekly cap on visits to one place."""
        return self.max_visits_per_day * self.days_per_week

    def describe(self) -> str:
        """One sentence for sheets and manifests."""
        return (
            f"{self.visit_minutes:g}-minute visits, at least {self.min_gap_minutes / 60:g} h "
            f"apart, at most {self.max_visits_per_day} a day on {self.days_per_week} days a week "
            f"(cap {self.max_visits_per_week} a week per place), at least "
            f"{self.min_visits_per_week} a week for a place on the sheet"
        )


def visit_values(harm: float, visits: int, decay: float) -> np.ndarray:
    """Value of the 1st, 2nd, ... ``visits``-th visit: ``harm * (1 - decay) ** (k - 1)``."""
    return harm * (1.0 - decay) ** np.arange(visits, dtype=np.float64)


def objective(harm: np.ndarray, visits: np.ndarray, *, decay: float = DEFAULT_DECAY) -> float:
    """Total value of a plan: ``sum_i harm_i * (1 - (1 - decay) ** v_i) / decay``.

    Parameters
    ----------
    harm
        Harm per place.
    visits
        Visits per week per place (whole numbers).
    decay
        Fraction by which each further visit is worth less (0 = no diminishing returns).
    """
    harm = np.asarray(harm, dtype=np.float64)
    visits = np.asarray(visits, dtype=np.float64)
    if decay == 0:
        return float(np.sum(harm * visits))
    return float(np.sum(harm * (1.0 - (1.0 - decay) ** visits) / decay))


def _check_instance(
    harm: np.ndarray, cost: np.ndarray, budget: float, decay: float, max_places: int
) -> None:
    if harm.shape != cost.shape:
        raise SchemaError(f"harm has {harm.shape[0]} places but cost has {cost.shape[0]}.")
    if (harm < 0).any() or not np.isfinite(harm).all():
        raise SchemaError("harm must be finite and >= 0 for every place.")
    if (cost <= 0).any() or not np.isfinite(cost).all():
        raise SchemaError("the cost of a visit must be finite and > 0 minutes for every place.")
    if budget < 0 or not np.isfinite(budget):
        raise SchemaError(f"the budget must be >= 0 minutes; got {budget}.")
    if not 0 <= decay < 1:
        raise SchemaError(f"decay must be in [0, 1); got {decay}.")
    if max_places < 0:
        raise SchemaError(f"max_places must be >= 0; got {max_places}.")


def greedy_allocation(
    harm: np.ndarray,
    cost: np.ndarray,
    *,
    budget: float,
    dosage: Dosage,
    decay: float = DEFAULT_DECAY,
    max_places: int = DEFAULT_MAX_PLACES,
) -> np.ndarray:
    """Allocate visits greedily by value per minute (the floor for the optimiser).

    Each step takes, among the moves that fit the remaining budget, the one with the highest
    value per minute: one more visit to a place already on the sheet (below the weekly cap),
    or a new place with its first ``min_visits_per_week`` visits as one block (while fewer
    than ``max_places`` places are on the sheet). Ties go to the earlier place.

    Parameters
    ----------
    harm
        Harm per place (>= 0).
    cost
        Minutes per visit per place (> 0).
    budget
        Minutes available in the week.
    dosage
        The dosage rule (weekly cap and minimum dose).
    decay
        Diminishing returns per extra visit.
    max_places
        Most places on the sheet.

    Returns
    -------
    numpy.ndarray
        Visits per week per place (int64).
    """
    harm = np.asarray(harm, dtype=np.float64)
    cost = np.asarray(cost, dtype=np.float64)
    _check_instance(harm, cost, budget, decay, max_places)
    n = len(harm)
    cap = dosage.max_visits_per_week
    block = dosage.min_visits_per_week
    block_factor = float(np.sum((1.0 - decay) ** np.arange(block)))
    visits = np.zeros(n, dtype=np.int64)
    left = float(budget)
    while True:
        tasked = visits > 0
        # one more visit to a tasked place
        more_ok = tasked & (visits < cap) & (cost <= left + _TOLERANCE)
        more_ratio = np.where(more_ok, harm * (1.0 - decay) ** visits / cost, -np.inf)
        # a new place, with its minimum dose
        can_add = int(tasked.sum()) < max_places
        new_ok = (~tasked) & (block * cost <= left + _TOLERANCE) & (harm > 0) & can_add
        new_ratio = np.where(new_ok, harm * block_factor / (block * cost), -np.inf)
        best_more = int(np.argmax(more_ratio)) if n else 0
        best_new = int(np.argmax(new_ratio)) if n else 0
        if n == 0 or (more_ratio[best_more] == -np.inf and new_ratio[best_new] == -np.inf):
            return visits
        take_new = new_ratio[best_new] > more_ratio[best_more] or (
            new_ratio[best_new] == more_ratio[best_more] and best_new < best_more
        )
        if take_new:
            visits[best_new] = block
            left -= block * cost[best_new]
        else:
            visits[best_more] += 1
            left -= cost[best_more]


@dataclass(frozen=True)
class SolverResult:
    """Visits from the exact solver and how the solve went."""

    visits: np.ndarray
    status: str
    seconds: float
    solver: str


def _cbc_solver(**options: object):  # type: ignore[no-untyped-def]
    """CBC through PuLP's COIN_CMD: the binary bundled with PuLP, else ``cbc`` on the PATH."""
    import pulp
    from pulp.apis import coin_api

    bundled = getattr(coin_api, "pulp_cbc_path", None)
    path = bundled if bundled and os.access(bundled, os.X_OK) else None
    solver = pulp.COIN_CMD(path=path, msg=False, **options)
    if not solver.available():
        raise ImportError(
            "the exact patrol allocation needs the CBC solver: pip install 'pulp>=2.8,<4' "
            "(which bundles it), or install cbc (apt-get install coinor-cbc); or use "
            "method='greedy'."
        )
    return solver


def milp_allocation(
    harm: np.ndarray,
    cost: np.ndarray,
    *,
    budget: float,
    dosage: Dosage,
    decay: float = DEFAULT_DECAY,
    max_places: int = DEFAULT_MAX_PLACES,
    warm_start: np.ndarray | None = None,
    time_limit_s: float = DEFAULT_TIME_LIMIT_S,
) -> SolverResult:
    """Solve the allocation exactly as a mixed-integer linear programme (PuLP + CBC).

    Variables per place ``i``: ``y_i`` in {0, 1} (on the sheet), ``v_i`` integer visits, and
    ``z_ik`` in [0, 1] for the ``k``-th visit (``v_i = sum_k z_ik``); since the value of the
    ``k``-th visit falls with ``k``, the solver fills them in order. Constraints:
    ``min_dose * y_i <= v_i <= cap * y_i``, ``sum_i y_i <= max_places``,
    ``sum_i cost_i * v_i <= budget``. Objective: ``sum_ik harm_i (1 - decay)^(k-1) z_ik``.

    Parameters
    ----------
    harm, cost, budget, dosage, decay, max_places
        As for :func:`greedy_allocation`.
    warm_start
        A feasible plan (e.g. greedy's) given to the solver as its first incumbent.
    time_limit_s
        Stop the search after this many seconds and return the best plan found.

    Returns
    -------
    SolverResult
        Visits (int64), the solver's status, seconds taken and solver name.
    """
    import time

    try:
        import pulp
    except ImportError as exc:  # pragma: no cover - pulp is a core dependency
        raise ImportError(
            "the exact patrol allocation needs PuLP: pip install 'pulp>=2.8'"
        ) from exc

    harm = np.asarray(harm, dtype=np.float64)
    cost = np.asarray(cost, dtype=np.float64)
    _check_instance(harm, cost, budget, decay, max_places)
    n = len(harm)
    cap = dosage.max_visits_per_week
    block = dosage.min_visits_per_week
    start = time.perf_counter()
    useful = np.flatnonzero((harm > 0) & (block * cost <= budget + _TOLERANCE))
    visits = np.zeros(n, dtype=np.int64)
    if len(useful) == 0 or max_places == 0:
        return SolverResult(visits, "trivial", time.perf_counter() - start, "none")
    scale = float(harm[useful].max())
    problem = pulp.LpProblem("patrol_allocation", pulp.LpMaximize)
    # PuLP >= 3.3 attaches variables to the model; older versions build them directly
    variable = getattr(problem, "add_variable", None) or pulp.LpVariable
    y = {i: variable(f"y_{i}", 0, 1, cat="Integer") for i in useful}
    v = {i: variable(f"v_{i}", 0, cap, cat="Integer") for i in useful}
    z = {(i, k): variable(f"z_{i}_{k}", 0, 1) for i in useful for k in range(cap)}
    problem += pulp.lpSum(
        (harm[i] / scale) * (1.0 - decay) ** k * z[i, k] for i in useful for k in range(cap)
    )
    for i in useful:
        problem += v[i] == pulp.lpSum(z[i, k] for k in range(cap))
        problem += v[i] <= cap * y[i]
        problem += v[i] >= block * y[i]
    problem += pulp.lpSum(y.values()) <= max_places
    problem += pulp.lpSum(float(cost[i]) * v[i] for i in useful) <= float(budget)
    if warm_start is not None:
        warm = np.asarray(warm_start, dtype=np.int64)
        for i in useful:
            y[i].setInitialValue(1 if warm[i] > 0 else 0)
            v[i].setInitialValue(int(warm[i]))
            for k in range(cap):
                z[i, k].setInitialValue(1 if k < warm[i] else 0)
    solver = _cbc_solver(timeLimit=time_limit_s, warmStart=warm_start is not None, gapRel=0.0)
    problem.solve(solver)
    status = pulp.LpStatus[problem.status]
    for i in useful:
        value = v[i].value()
        visits[i] = 0 if value is None else int(round(value))
    return SolverResult(visits, status, time.perf_counter() - start, "PuLP/CBC")


def is_feasible(
    visits: np.ndarray,
    cost: np.ndarray,
    *,
    budget: float,
    dosage: Dosage,
    max_places: int,
) -> bool:
    """Check a plan against the budget, the weekly cap, the minimum dose and the place limit."""
    visits = np.asarray(visits)
    tasked = visits > 0
    return bool(
        (visits >= 0).all()
        and (visits <= dosage.max_visits_per_week).all()
        and (visits[tasked] >= dosage.min_visits_per_week).all()
        and int(tasked.sum()) <= max_places
        and float(np.sum(visits * np.asarray(cost, dtype=np.float64))) <= budget + 1e-6
    )


@dataclass(frozen=True)
class Allocation:
    """Visits per place for every team, and how each team's plan was found.

    Attributes
    ----------
    visits
        Visits per week, indexed like the ``places`` given (0 = not on the sheet).
    teams
        One row per team: ``budget_minutes``, ``planned_minutes``, ``visit_minutes``,
        ``walk_minutes``, ``places_tasked``, ``objective``, ``greedy_objective``,
        ``solver_status``, ``plan_from`` (``optimiser`` or ``greedy``), ``unplanned_minutes``.
    decay, max_places, dosage
        The rules used.
    method
        ``"milp"`` or ``"greedy"``.
    """

    visits: pd.Series
    teams: pd.DataFrame
    decay: float
    max_places: int
    dosage: Dosage
    method: str
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


def allocate_patrols(
    places: pd.DataFrame,
    budgets: pd.Series,
    *,
    dosage: Dosage | None = None,
    decay: float = DEFAULT_DECAY,
    max_places: int = DEFAULT_MAX_PLACES,
    method: str = "milp",
    time_limit_s: float = DEFAULT_TIME_LIMIT_S,
) -> Allocation:
    """Choose places and visits per week for every team.

    Parameters
    ----------
    places
        One row per candidate place with ``team`` and ``harm``; optionally ``walk_minutes``
        (return walk from a base, added to the cost of every visit when present and > 0).
    budgets
        Minutes per week per team (indexed by team); teams absent here get no visits.
    dosage
        The dosage rule (:class:`Dosage` defaults: Koper 15-minute visits).
    decay
        Diminishing returns: each extra visit in a week is worth this fraction less.
    max_places
        Most places per team.
    method
        ``"milp"`` (exact, with greedy as a floor) or ``"greedy"``.
    time_limit_s
        Time limit per team for the exact solver.

    Returns
    -------
    Allocation
        Visits per place and a per-team summary with both objectives.
    """
    import time

    dosage = dosage or Dosage()
    for column in ("team", "harm"):
        if column not in places.columns:
            raise SchemaError(
                f"places is missing {column!r}; it has {', '.join(map(str, places.columns))}."
            )
    if method not in ("milp", "greedy"):
        raise InputError(f"method must be 'milp' or 'greedy'; got {method!r}.")
    if places.index.has_duplicates:
        raise SchemaError("places must have a unique index (one row per place).")
    start = time.perf_counter()
    walk = (
        places["walk_minutes"].fillna(0.0).to_numpy(dtype=np.float64)
        if "walk_minutes" in places
        else np.zeros(len(places))
    )
    cost_all = dosage.visit_minutes + walk
    harm_all = places["harm"].to_numpy(dtype=np.float64)
    visits_all = np.zeros(len(places), dtype=np.int64)
    team_values = places["team"].to_numpy(dtype=object)
    rows = []
    notes: list[str] = []
    jobs = []
    for team, budget in budgets.sort_index().items():
        positions = np.flatnonzero(team_values == team)
        harm, cost = harm_all[positions], cost_all[positions]
        greedy = greedy_allocation(
            harm, cost, budget=float(budget), dosage=dosage, decay=decay, max_places=max_places
        )
        jobs.append((team, float(budget), positions, harm, cost, greedy))

    def solve(job: tuple) -> SolverResult | None:  # type: ignore[type-arg]
        _, budget, positions, harm, cost, greedy = job
        if method != "milp" or len(positions) == 0:
            return None
        return milp_allocation(
            harm,
            cost,
            budget=budget,
            dosage=dosage,
            decay=decay,
            max_places=max_places,
            warm_start=greedy,
            time_limit_s=time_limit_s,
        )

    # each solve runs CBC in its own process, so threads overlap them
    with ThreadPoolExecutor(max_workers=max(1, min(4, os.cpu_count() or 1))) as pool:
        solutions = list(pool.map(solve, jobs))
    for (team, budget, positions, harm, cost, greedy), solved in zip(jobs, solutions, strict=True):
        greedy_value = objective(harm, greedy, decay=decay)
        chosen, status, plan_from = greedy, "not run", "greedy"
        if solved is not None:
            status = solved.status
            feasible = is_feasible(
                solved.visits, cost, budget=budget, dosage=dosage, max_places=max_places
            )
            solved_value = objective(harm, solved.visits, decay=decay)
            if feasible and solved_value >= greedy_value - 1e-9 * max(1.0, greedy_value):
                chosen, plan_from = solved.visits, "optimiser"
            else:
                notes.append(
                    f"team {team}: the solver's plan ({status}, objective {solved_value:.6g}, "
                    f"feasible {feasible}) was not better than greedy's ({greedy_value:.6g}); "
                    "greedy's plan is used"
                )
        visits_all[positions] = chosen
        planned = float(np.sum(chosen * cost))
        rows.append(
            {
                "team": team,
                "budget_minutes": budget,
                "planned_minutes": planned,
                "visit_minutes": float(np.sum(chosen) * dosage.visit_minutes),
                "walk_minutes": float(np.sum(chosen * (cost - dosage.visit_minutes))),
                "unplanned_minutes": budget - planned,
                "visits": int(np.sum(chosen)),
                "places_tasked": int(np.sum(chosen > 0)),
                "candidates": len(positions),
                "objective": objective(harm, chosen, decay=decay),
                "greedy_objective": greedy_value,
                "solver_status": status,
                "plan_from": plan_from,
            }
        )
    teams = pd.DataFrame(rows).set_index("team") if rows else pd.DataFrame()
    return Allocation(
        visits=pd.Series(visits_all, index=places.index, name="visits_per_week"),
        teams=teams,
        decay=decay,
        max_places=max_places,
        dosage=dosage,
        method=method,
        seconds=time.perf_counter() - start,
        notes=notes,
    )


def share_budget(
    total_minutes: float, harm_by_team: pd.Series, *, visit_minutes: float
) -> pd.Series:
    """Share a total budget between teams in proportion to their harm, in whole visits.

    Whole visits are handed out by largest remainder, so the team budgets add up to the
    total rounded down to a whole visit. Teams with no harm get nothing.

    Returns
    -------
    Series
        Minutes per week per team (same index as ``harm_by_team``).
    """
    if total_minutes < 0:
        raise SchemaError(f"the total budget must be >= 0 minutes; got {total_minutes}.")
    harm = harm_by_team.clip(lower=0).astype(np.float64)
    slots = int(np.floor(total_minutes / visit_minutes + 1e-9))
    if harm.sum() <= 0 or slots == 0:
        return pd.Series(0.0, index=harm.index)
    exact = slots * harm / harm.sum()
    whole = np.floor(exact).astype(np.int64)
    remainder = (exact - whole).to_numpy()
    extra = slots - int(whole.sum())
    order = np.lexsort((np.arange(len(harm)), -remainder))  # largest remainder, then position
    bonus = np.zeros(len(harm), dtype=np.int64)
    bonus[order[:extra]] = 1
    return (whole + bonus) * float(visit_minutes)
