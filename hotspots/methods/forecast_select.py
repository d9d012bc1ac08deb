"""Choosing a forecast method by an inner backtest on the training months, and the entry point.

:func:`forecast_matrix` forecasts a months x places matrix with one method of
:data:`hotspots.methods.forecast.METHODS` or with ``"auto"``: an inner rolling backtest on
the training months only tunes every candidate and keeps 12-month counts unless a
candidate beats them on the same inner origins. :func:`rolling_forecasts` and
:func:`score_forecasts` are the outer rolling-origin backtest used by the tests and the
bench (a forecast at origin ``o`` only ever receives ``history[:o]``).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from hotspots.core.errors import InputError
from hotspots.methods.forecast import (
    DEFAULT_PARAMS,
    ENSEMBLE_MEMBERS,
    GRIDS,
    METHODS,
    Context,
    HawkesFit,
    LagFeatures,
    combine,
    ew_rate,
    gbm_fit,
    hawkes_fit,
    hawkes_predict,
    m_counts,
    m_ewma,
    make_context,
    rank_forecast,
    ring_mean,
)
from hotspots.methods.metrics import make_oracle, score_order


@dataclass
class ForecastResult:
    """One forecast and how it was chosen.

    Attributes
    ----------
    expected
        Expected total per place over the horizon.
    order
        Places, best first (ties in the seeded order).
    method, params
        The method that produced ``expected`` and its parameters.
    reason
        Why this method (for ``auto``: the inner-backtest comparison).
    inner_scores
        One row per candidate (method, params) with the inner mean PAI per coverage and
        the decision score (empty when no inner backtest ran).
    per_method
        Expected values of every candidate method at its tuned parameters (``auto``
        only; for backtest tables).
    chosen_params
        Tuned parameters per method (``auto`` only).
    seconds
        Wall time of the call.
    """

    expected: np.ndarray
    order: np.ndarray
    method: str
    params: dict
    reason: str
    inner_scores: pd.DataFrame = field(default_factory=pd.DataFrame)
    per_method: dict[str, np.ndarray] = field(default_factory=dict)
    chosen_params: dict[str, dict] = field(default_factory=dict)
    seconds: float = 0.0


def inner_origins(t: int, *, horizon: int, n_origins: int, min_history: int) -> list[int]:
    """Inner origins ``s`` (row indices) whose target rows ``s..s+h-1`` are all < ``t``."""
    last = t - horizon
    first = max(min_history, last - n_origins + 1)
    return list(range(first, last + 1))


def _inner_scorer(
    history: np.ndarray,
    ctx: Context,
    origins: Sequence[int],
    horizon: int,
    shares: Sequence[float],
):
    targets = {s: history[s : s + horizon].sum(axis=0) for s in origins}
    oracles = {s: make_oracle(targets[s], ctx.area) for s in origins}

    def score(predictions: Mapping[int, np.ndarray]) -> np.ndarray:
        """PAI per (origin, share) of one candidate's predictions at the inner origins."""
        return np.array(
            [
                score_order(
                    rank_forecast(predictions[s], ctx), targets[s], ctx.area, shares, oracles[s]
                )["pai"]
                for s in origins
            ]
        )

    return score


def _grid(spec: Mapping[str, Sequence]) -> list[dict]:
    keys = list(spec)
    return [
        dict(zip(keys, vals, strict=True)) for vals in itertools.product(*(spec[k] for k in keys))
    ]


CANDIDATES = ("counts", "ewma", "prospective", "hawkes", "gbm", "ensemble")
SIMPLICITY = CANDIDATES
"""Simplest first; ``auto`` prefers the earlier of near-equal candidates."""


def tune_and_compare(
    history: np.ndarray,
    ctx: Context,
    *,
    horizon: int,
    candidates: Sequence[str] = CANDIDATES,
    n_inner: int = 12,
    n_inner_hawkes: int | None = None,
    shares: Sequence[float] = (0.01, 0.05),
    min_history: int = 24,
    seed: int = 0,
    gbm_options: Mapping | None = None,
    hawkes_options: Mapping | None = None,
) -> tuple[pd.DataFrame, dict[str, dict]]:
    """Inner rolling backtest on ``history`` (training months only).

    For inner origins ``s = t-h-n_inner+1 .. t-h`` (``t`` = number of history rows), each
    candidate forecasts from ``history[:s]`` and is scored (PAI at ``shares``) on rows
    ``s..s+h-1``, all before ``t``. Grids (:data:`GRIDS`) are searched for ``ewma``,
    ``prospective`` (own half-life = ewma's best) and ``hawkes`` (``sigma``). For speed
    ``hawkes`` is refitted at each inner origin by EM warm-started from the previous
    origin's fit (the first from one fit on the months before the first inner origin,
    whose likelihood also picks ``beta``; ``n_inner_hawkes`` limits it to the last
    inner origins), and ``gbm`` is fitted once, on origins whose targets end before the
    first inner origin, then predicts every inner origin from features of the months
    before it. ``ensemble`` averages the inner predictions of the best ``ewma``,
    ``hawkes`` and ``gbm`` (each scaled to sum 1).

    Every candidate's decision score is the mean PAI over its inner origins and
    ``shares``; ``gain`` is that score over the 12-month-count baseline's score on the
    *same* inner origins, minus 1.

    Returns
    -------
    (DataFrame, dict)
        Candidate table (``method``, ``params``, ``origins``, ``pai@<share>``, ``score``,
        ``baseline``, ``gain``) and the best parameters per method.
    """
    t = history.shape[0]
    origins = inner_origins(t, horizon=horizon, n_origins=n_inner, min_history=min_history)
    if not origins:
        raise InputError(f"too little history ({t} months) for an inner backtest")
    scorers = {tuple(origins): _inner_scorer(history, ctx, origins, horizon, shares)}
    baselines: dict[tuple, float] = {}
    rows: list[dict] = []
    best: dict[str, dict] = {}

    def scorer(used: Sequence[int]):
        key = tuple(used)
        if key not in scorers:
            scorers[key] = _inner_scorer(history, ctx, used, horizon, shares)
        if key not in baselines:
            base = {s: m_counts(history[:s], ctx, horizon=horizon) for s in used}
            baselines[key] = float(np.nanmean(scorers[key](base)))
        return scorers[key], baselines[key]

    best_preds: dict[str, dict[int, np.ndarray]] = {}

    def search(method: str, grid: list[dict], fn, used: Sequence[int]) -> None:
        score, base = scorer(used)
        top = -np.inf
        for params in grid:
            preds = {s: fn(s, params) for s in used}
            pais = score(preds)
            row = {"method": method, "params": dict(params), "origins": len(used)}
            for j, sh in enumerate(shares):
                row[f"pai@{sh:g}"] = float(np.nanmean(pais[:, j]))
            row["score"] = float(np.nanmean(pais))
            row["baseline"] = base
            row["gain"] = row["score"] / base - 1 if base > 0 else np.nan
            rows.append(row)
            if row["score"] > top:
                top, best[method] = row["score"], dict(params)
                best_preds[method] = preds

    search(
        "counts",
        [DEFAULT_PARAMS["counts"]],
        lambda s, p: m_counts(history[:s], ctx, horizon=horizon, **p),
        origins,
    )
    if "ewma" in candidates or "prospective" in candidates:
        search(
            "ewma",
            _grid(GRIDS["ewma"]),
            lambda s, p: m_ewma(history[:s], ctx, horizon=horizon, **p),
            origins,
        )
    if "prospective" in candidates:
        hl = best["ewma"]["half_life"]
        cache: dict[tuple[int, float], np.ndarray] = {}

        def ew(s: int, h: float) -> np.ndarray:
            if (s, h) not in cache:
                cache[(s, h)] = ew_rate(history[:s], h)
            return cache[(s, h)]

        def pros(s: int, p: dict) -> np.ndarray:
            own, nb = ew(s, hl), ew(s, p["nb_half_life"])
            tot = own + p["w1"] * ring_mean(nb, ctx, 1) + p["w2"] * ring_mean(nb, ctx, 2)
            return tot / (1 + p["w1"] + p["w2"]) * horizon

        grid = [
            dict(half_life=hl, **g)
            for g in _grid(GRIDS["prospective"])
            if not (g["w1"] == 0 and g["w2"] == 0 and g["nb_half_life"] != 1)
        ]
        search("prospective", grid, pros, origins)
    if "hawkes" in candidates:
        used = origins[-(n_inner_hawkes or len(origins)) :]
        opts = dict(hawkes_options or {})
        fits: dict[int, HawkesFit] = {}
        warm = hawkes_fit(history[: used[0] - 1], ctx, **opts)
        for s in used:
            warm = fits[s] = hawkes_fit(
                history[:s], ctx, warm=warm, **{**opts, "n_iter": opts.get("n_iter", 30) // 2}
            )
        search(
            "hawkes",
            _grid(GRIDS["hawkes"]),
            lambda s, p: hawkes_predict(fits[s], ctx, horizon=horizon, **p),
            used,
        )
    if "gbm" in candidates:
        opts = dict(gbm_options or {})
        try:
            model, _ = gbm_fit(history[: origins[0]], ctx, horizon=horizon, seed=seed, **opts)
        except InputError:
            model = None
        if model is not None:
            full = LagFeatures(history, ctx)  # features at row u only read rows < u
            preds = {s: model.predict(full.at(s)) for s in origins}
            search("gbm", [opts], lambda s, p: preds[s], origins)
    members = [m for m in ENSEMBLE_MEMBERS if m in best_preds]
    if "ensemble" in candidates and len(members) >= 2:
        common = sorted(set.intersection(*(set(best_preds[m]) for m in members)))
        search(
            "ensemble",
            [{"members": {m: best[m] for m in members}}],
            lambda s, p: combine([best_preds[m][s] for m in members]),
            common,
        )
    return pd.DataFrame(rows), best


def forecast_matrix(
    history: np.ndarray,
    *,
    months: Sequence[str],
    neighbours: sp.spmatrix | None = None,
    area_km2: np.ndarray | None = None,
    groups: Sequence[object] | None = None,
    horizon: int = 6,
    method: str = "auto",
    params: Mapping | None = None,
    seed: int = 0,
    rank_by: str = "score",
    coverage: Sequence[float] = (0.01, 0.05),
    candidates: Sequence[str] = CANDIDATES,
    n_inner: int = 12,
    min_gain: float = 0.0,
    tolerance: float = 0.005,
    all_methods: bool = False,
    context: Context | None = None,
) -> ForecastResult:
    """Forecast the next ``horizon`` months per place and rank the places.

    Parameters
    ----------
    history
        Months x places, counts or harm (>= 0, finite), oldest first; only months before
        the forecast origin.
    months
        ``YYYY-MM`` label of each history row (consecutive months).
    neighbours
        Binary adjacency (e.g. ``hotspots.methods.gi.h3_neighbours(cells, k=1)``).
    area_km2
        Area per place.
    groups
        Borough (or other group) per place.
    horizon
        Months forecast (the target is their sum).
    method
        One of :data:`METHODS` or ``"auto"``.
    params
        Parameters of ``method`` (defaults: :data:`DEFAULT_PARAMS`); ignored by ``auto``.
    seed
        Seed of the tie-break order (and of the GBM).
    rank_by
        ``"score"`` or ``"density"`` (see :func:`make_context`).
    coverage
        Area shares the inner backtest optimises (mean PAI over them).
    candidates
        Methods ``auto`` compares (12-month counts always included).
    n_inner
        Inner origins of the ``auto`` backtest.
    min_gain
        ``auto`` keeps 12-month counts unless the best candidate's inner gain over
        them (same origins) exceeds this.
    tolerance
        Parsimony: otherwise ``auto`` takes the simplest non-baseline method (order
        :data:`SIMPLICITY`) whose inner gain is within ``tolerance`` (absolute, 0.005 =
        half a percentage point) of the best gain. Rule fixed on the development
        origins (2021-03..2022-02) before the evaluation origins were scored.
    all_methods
        With ``auto``, also compute every candidate's final forecast at its tuned
        parameters (``result.per_method``).
    context
        A prebuilt :func:`make_context` (skips rebuilding neighbour rings).

    Returns
    -------
    ForecastResult
        ``expected``, ``order``, ``method``, ``params``, ``reason``, ``inner_scores``.
    """
    start = time.perf_counter()
    x = np.asarray(history, dtype=np.float64)
    if x.ndim != 2:
        raise InputError("history must be a months x places matrix")
    if len(months) != x.shape[0]:
        raise InputError(f"months has {len(months)} labels for {x.shape[0]} history rows")
    ctx = context or make_context(
        x.shape[1],
        months=months,
        neighbours=neighbours,
        area_km2=area_km2,
        groups=groups,
        seed=seed,
        rank_by=rank_by,
    )
    if method != "auto":
        if method not in METHODS:
            raise InputError(f"unknown method {method!r}; choose from {[*METHODS, 'auto']}")
        p = {**DEFAULT_PARAMS[method], **(params or {})}
        if method == "gbm":
            p.setdefault("seed", seed)
        expected = METHODS[method](x, ctx, horizon=horizon, **p)
        return ForecastResult(
            expected,
            rank_forecast(expected, ctx),
            method,
            p,
            reason="method given by the caller",
            seconds=time.perf_counter() - start,
        )
    table, best = tune_and_compare(
        x, ctx, horizon=horizon, candidates=candidates, n_inner=n_inner, shares=coverage, seed=seed
    )
    top = table.loc[table.groupby("method")["score"].idxmax()].set_index("method")
    ranked = top["gain"].sort_values(ascending=False, kind="stable")
    best_gain = float(ranked.iloc[0])
    # the baseline unless something beats it; then parsimony: the simplest non-baseline
    # method whose inner gain is within `tolerance` of the best gain
    simple = [m for m in SIMPLICITY if m in top.index and m != "counts"]
    chosen = "counts"
    if best_gain > min_gain and simple:
        chosen = next(m for m in simple if top.loc[m, "gain"] >= best_gain - tolerance)
    runner = [m for m in ranked.index if m != chosen][:1]
    cov = ", ".join(f"{c:.0%}" for c in coverage)
    inner = inner_origins(x.shape[0], horizon=horizon, n_origins=n_inner, min_history=24)
    reason = (
        f"inner backtest (horizon {horizon}, origins {months[inner[0]]}..{months[inner[-1]]}"
        f", scored on months < {_next_month(months[-1])}; {top.loc[chosen, 'origins']} "
        f"origins for {chosen}): {chosen}"
        f"{_fmt(best.get(chosen, {}))} mean PAI@{cov} {top.loc[chosen, 'score']:.3f}, "
        f"{top.loc[chosen, 'gain']:+.1%} vs 12-month counts on the same origins (best: "
        f"{ranked.index[0]} {best_gain:+.1%}; simplest within {tolerance:.1%} taken)"
        + (
            f"; runner-up {runner[0]}{_fmt(best.get(runner[0], {}))} "
            f"{top.loc[runner[0], 'gain']:+.1%}"
            if runner
            else ""
        )
    )
    per_method: dict[str, np.ndarray] = {}
    wanted = list(top.index) if all_methods else [chosen]
    if "ensemble" in wanted:  # members first, so the ensemble reuses their forecasts
        wanted = [m for m in wanted if m != "ensemble"]
        wanted = [*dict.fromkeys([*wanted, *best["ensemble"]["members"]]), "ensemble"]
    for m in wanted:
        p = {**DEFAULT_PARAMS[m], **best.get(m, {})}
        if m == "gbm":
            p.setdefault("seed", seed)
        if m == "ensemble":
            per_method[m] = combine([per_method[k] for k in p["members"]])
        else:
            per_method[m] = METHODS[m](x, ctx, horizon=horizon, **p)
    if not all_methods:
        per_method = {chosen: per_method[chosen]}
    expected = per_method[chosen]
    return ForecastResult(
        expected=expected,
        order=rank_forecast(expected, ctx),
        method=chosen,
        params={**DEFAULT_PARAMS[chosen], **best.get(chosen, {})},
        reason=reason,
        inner_scores=table,
        per_method=per_method,
        chosen_params={m: {**DEFAULT_PARAMS[m], **best.get(m, {})} for m in top.index},
        seconds=time.perf_counter() - start,
    )


def _next_month(label: str) -> str:
    return str(pd.Period(label, freq="M") + 1)


def _fmt(params: Mapping) -> str:
    return (
        "("
        + ", ".join(
            f"{k}={v:g}" if isinstance(v, float | int) else f"{k}={v}" for k, v in params.items()
        )
        + ")"
        if params
        else ""
    )


# --- outer rolling-origin backtest -----------------------------------------------------


def rolling_forecasts(
    history: np.ndarray,
    ctx: Context,
    *,
    origins: Sequence[int],
    horizon: int,
    fixed: Mapping[str, tuple[str, Mapping]] | None = None,
    auto: bool = True,
    coverage: Sequence[float] = (0.01, 0.05),
    candidates: Sequence[str] = CANDIDATES,
    n_inner: int = 12,
    seed: int = 0,
    months: Sequence[str] | None = None,
    on_origin: Callable[[int, dict], None] | None = None,
) -> dict[int, dict]:
    """Forecast at each origin from ``history[:o]`` only.

    Parameters
    ----------
    history
        All months x places (months at or after an origin are never passed on to the
        forecast made at that origin).
    ctx
        From :func:`make_context`.
    origins
        Row indices of the origins.
    horizon
        Months forecast.
    fixed
        Extra fixed-parameter entries ``label -> (method, params)`` (e.g. the reviewer's
        ``ewma`` with a 12-month half-life).
    auto
        Also run ``auto`` (which yields every candidate at its tuned parameters).

    Returns
    -------
    dict
        origin -> {"forecasts": {label: expected}, "auto": method, "params", "reason",
        "seconds": {label: s}, "inner": DataFrame}.
    """
    out: dict[int, dict] = {}
    labels = (
        list(months)
        if months is not None
        else [str(ctx.first_month + i) for i in range(history.shape[0])]
    )
    for o in origins:
        past = history[:o]  # the only data the forecast at o can see
        rec: dict = {"forecasts": {}, "seconds": {}}
        for label, (m, p) in (fixed or {}).items():
            t0 = time.perf_counter()
            rec["forecasts"][label] = forecast_matrix(
                past,
                months=labels[:o],
                horizon=horizon,
                method=m,
                params=p,
                seed=seed,
                context=ctx,
            ).expected
            rec["seconds"][label] = time.perf_counter() - t0
        if auto:
            res = forecast_matrix(
                past,
                months=labels[:o],
                horizon=horizon,
                method="auto",
                seed=seed,
                coverage=coverage,
                candidates=candidates,
                n_inner=n_inner,
                all_methods=True,
                context=ctx,
            )
            for m, e in res.per_method.items():
                rec["forecasts"][f"{m}*"] = e
            rec["forecasts"]["auto"] = res.expected
            rec["seconds"]["auto"] = res.seconds
            rec.update(
                auto=res.method,
                params=res.params,
                reason=res.reason,
                inner=res.inner_scores,
                tuned=res.chosen_params,
            )
        out[o] = rec
        if on_origin is not None:
            on_origin(o, rec)
    return out


def score_forecasts(
    forecasts: Mapping[int, Mapping[str, np.ndarray]],
    truth: np.ndarray,
    ctx: Context,
    *,
    horizon: int,
    shares: Sequence[float],
    months: Sequence[str],
    measure: str = "counts",
) -> pd.DataFrame:
    """Score forecasts on the summed ``truth`` rows ``o..o+h-1``.

    Returns a tidy frame ``origin, method, coverage, measure, metric, value``.
    """
    rows = []
    for o, fc in forecasts.items():
        target = truth[o : o + horizon].sum(axis=0)
        oracle = make_oracle(target, ctx.area)
        for label, expected in fc.items():
            s = score_order(rank_forecast(expected, ctx), target, ctx.area, shares, oracle)
            for j, share in enumerate(shares):
                for metric in ("pai", "pei", "hit_rate"):
                    rows.append((months[o], label, 100 * share, measure, metric, s[metric][j]))
    return pd.DataFrame(
        rows, columns=["origin", "method", "coverage", "measure", "metric", "value"]
    )
