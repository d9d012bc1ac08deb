"""Forecast methods: expected incidents (or harm) per place over the next months.

Every method is a pure function of a *history* matrix (months x places, counts or harm,
oldest month first, only months before the forecast origin) plus fixed place data
(neighbour matrix, areas, group codes). It returns the expected total per place over the
next ``horizon`` months. Places are then ranked by that expectation (or by expectation
per km², see ``rank_by``), the top places covering a share of the study *area* are
flagged, and flags are scored with the project's PAI and PEI
(:func:`hotspots.methods.metrics.score_order`, the same definitions as ``evaluate``).

Methods (:data:`METHODS`):

``counts``
    Plain sum of the last ``window`` (12) months (the baseline).
``ewma``
    Exponentially weighted mean over *all* history, weight ``0.5 ** (age / half_life)``.
``prospective``
    Prospective hot-spotting (Bowers, Johnson & Pease 2004 in spirit): the own EW rate
    blended with the EW rates of the first and second H3 ring (or contiguity ring), each
    ring with its own half-life.
``hawkes``
    A self-exciting model at month resolution, ``lambda_i(t) = mu_i + theta0 * A_i(t) +
    theta1 * B_i(t)``, where ``A_i(t) = sum_d (1-beta) beta^(d-1) x_i(t-d)`` (own past,
    geometric decay; the kernel sums to 1 so ``theta`` is a branching ratio) and ``B`` is
    the same for the mean of the ring-1 neighbours. ``mu``, ``theta0``, ``theta1`` are
    fitted by EM (Poisson likelihood) for every ``beta`` of a grid; the best likelihood
    wins. The background is then smoothed over ring 1 by ``sigma``; the forecast runs the
    expectation forward month by month.
``gbm``
    sklearn ``HistGradientBoostingRegressor(loss="poisson")`` on lagged multi-scale
    features (own sums over 1..36 months, EW rates, ring-1/2 means, group (borough)
    level and trend, London trend, month of year, months since the last event),
    trained on earlier origins whose target months all precede the origin.
``ensemble``
    Mean of the ``ewma``, ``hawkes`` and ``gbm`` forecasts, each scaled to sum 1.
``auto``
    An inner rolling backtest on the training months only (12 inner origins ending
    ``horizon`` months before the origin) tunes each method's parameters, then keeps
    12-month counts unless some candidate beats them on the same inner origins, and
    otherwise takes the simplest candidate within half a percentage point of the best
    inner gain (see :func:`hotspots.methods.forecast_select.forecast_matrix`, the entry
    point); the choice and why are returned.

How well it does (measured on Met burglary 2022-09..2024-08, see ``bench/README.md``):
every method beats 12-month counts on unseen months, but only by +2..4% median PAI, short
of the +5% target of issue 13; on MPS ward violence the gain is about 0 (12-month counts
are already within 1-2% of a perfect ranking there).

The ranking is deterministic: ties follow one seeded random permutation of the places
(``Context.priority``), shared by every method and origin.

Leakage rule: a forecast at origin ``t`` is computed from ``history[:t]`` only; inner
backtests use origins ``s <= t - horizon`` and fit on ``history[:s]``, so no month at or
after an origin is ever read by the forecast made at that origin (tests poison the
future with NaN and huge values to check).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from hotspots.core.errors import InputError

# --- context: fixed place data ---------------------------------------------------------


@dataclass
class Context:
    """Fixed data about the places, shared by every origin.

    Build with :func:`make_context`.
    """

    n: int
    area: np.ndarray
    groups: np.ndarray  # integer code per place
    first_month: pd.Period
    ring1: sp.csr_matrix  # binary, no self
    ring2: sp.csr_matrix  # binary, grid distance exactly 2
    deg1: np.ndarray
    deg2: np.ndarray
    priority: np.ndarray  # tie-break priority (0 first)
    perm: np.ndarray  # places in tie-break order
    rank_by: str

    def month_of_year(self, index: int) -> int:
        """Month of year (1..12) of history row ``index`` (``index`` may be >= len)."""
        return int((self.first_month + int(index)).month)


def _ring_matrices(neighbours: sp.spmatrix | None, n: int) -> tuple[sp.csr_matrix, ...]:
    if neighbours is None:
        empty = sp.csr_matrix((n, n))
        return empty, empty
    w1 = (sp.csr_matrix(neighbours) != 0).astype(np.float64)
    w1 = ((w1 + w1.T + sp.identity(n)) > 0).astype(np.float64).tocsr()
    w2 = ((w1 @ w1) > 0).astype(np.float64).tocsr()
    eye = sp.identity(n, format="csr")
    ring1 = (w1 - eye).tocsr()
    ring2 = (w2 - w1).tocsr()
    ring1.eliminate_zeros()
    ring2.eliminate_zeros()
    return ring1, ring2


def make_context(
    n_places: int,
    *,
    months: Sequence[str],
    neighbours: sp.spmatrix | None = None,
    area_km2: np.ndarray | None = None,
    groups: Sequence[object] | None = None,
    seed: int | None = 0,
    rank_by: str = "score",
) -> Context:
    """Bundle the fixed place data for the methods.

    Parameters
    ----------
    n_places
        Number of places (columns of the history).
    months
        ``YYYY-MM`` label of every history row (at least the first one is used; later
        rows are consecutive months).
    neighbours
        Binary place x place adjacency (self included or not; symmetrised). ``None``
        disables the spatial methods' neighbour terms.
    area_km2
        Area per place (1 each when ``None``).
    groups
        Group label per place (borough), for group-level features.
    seed
        Seed of the tie-break permutation (shared by every method and origin).
    rank_by
        ``"score"``: rank by expected value per place (the project's convention on the
        near-equal H3 cells); ``"density"``: by expected value per km² (right for PAI
        on unequal areas such as wards).
    """
    if rank_by not in ("score", "density"):
        raise InputError(f"rank_by must be 'score' or 'density', got {rank_by!r}")
    area = np.ones(n_places) if area_km2 is None else np.asarray(area_km2, dtype=np.float64)
    if area.shape != (n_places,) or not (area > 0).all():
        raise InputError("area_km2 must hold one positive area per place")
    codes = (
        np.zeros(n_places, dtype=np.int64)
        if groups is None
        else pd.factorize(np.asarray(groups, dtype=object))[0].astype(np.int64)
    )
    ring1, ring2 = _ring_matrices(neighbours, n_places)
    priority = np.random.default_rng(seed).permutation(n_places)
    return Context(
        n=n_places,
        area=area,
        groups=codes,
        first_month=pd.Period(months[0], freq="M"),
        ring1=ring1,
        ring2=ring2,
        deg1=np.maximum(np.asarray(ring1.sum(axis=1)).ravel(), 1.0),
        deg2=np.maximum(np.asarray(ring2.sum(axis=1)).ravel(), 1.0),
        priority=priority,
        perm=np.argsort(priority, kind="stable"),
        rank_by=rank_by,
    )


def rank_forecast(expected: np.ndarray, ctx: Context) -> np.ndarray:
    """Places best first: by expected value (or per km²), ties in the seeded order.

    Same order as ``hotspots.methods.metrics.rank_cells(key, tie_break=ctx.priority)``;
    NaN ranks last.
    """
    key = np.asarray(expected, dtype=np.float64)
    if ctx.rank_by == "density":
        key = key / ctx.area
    key = np.where(np.isnan(key), -np.inf, key)
    return ctx.perm[np.argsort(-key[ctx.perm], kind="stable")]


# --- building blocks -------------------------------------------------------------------


def ew_rate(history: np.ndarray, half_life: float) -> np.ndarray:
    """Exponentially weighted monthly rate per place over all rows of ``history``.

    Weight ``0.5 ** (age / half_life)`` with age 0 for the last row; normalised so a
    constant series returns its value.
    """
    t = history.shape[0]
    w = 0.5 ** (np.arange(t - 1, -1, -1) / float(half_life))
    return (w @ history) / w.sum()


def ring_mean(values: np.ndarray, ctx: Context, ring: int = 1) -> np.ndarray:
    """Mean of ``values`` over each place's ring-1 (or ring-2) neighbours."""
    if ring == 1:
        return (ctx.ring1 @ values) / ctx.deg1
    return (ctx.ring2 @ values) / ctx.deg2


# --- methods ---------------------------------------------------------------------------


def m_counts(history: np.ndarray, ctx: Context, *, horizon: int, window: int = 12) -> np.ndarray:
    """Sum of the last ``window`` months, scaled to ``horizon`` months (the baseline)."""
    w = min(window, history.shape[0])
    return history[-w:].sum(axis=0) * (horizon / w)


def m_ewma(
    history: np.ndarray, ctx: Context, *, horizon: int, half_life: float = 12.0
) -> np.ndarray:
    """Exponentially weighted counts over all history, as an expected ``horizon`` total."""
    return ew_rate(history, half_life) * horizon


def m_prospective(
    history: np.ndarray,
    ctx: Context,
    *,
    horizon: int,
    half_life: float = 12.0,
    nb_half_life: float = 3.0,
    w1: float = 0.25,
    w2: float = 0.0,
) -> np.ndarray:
    """Own EW rate blended with ring-1 and ring-2 EW mean rates.

    ``(own + w1 * ring1_mean + w2 * ring2_mean) / (1 + w1 + w2) * horizon``, where the
    own rate uses ``half_life`` and the ring rates ``nb_half_life``.
    """
    own = ew_rate(history, half_life)
    if w1 == 0 and w2 == 0:
        return own * horizon
    nb = ew_rate(history, nb_half_life) if nb_half_life != half_life else own
    total = own.copy()
    if w1:
        total += w1 * ring_mean(nb, ctx, 1)
    if w2:
        total += w2 * ring_mean(nb, ctx, 2)
    return total / (1.0 + w1 + w2) * horizon


@dataclass(frozen=True)
class HawkesFit:
    """A fitted month-resolution self-exciting model."""

    mu: np.ndarray
    theta0: float
    theta1: float
    beta: float
    loglik: float
    a_last: np.ndarray  # own excitation state entering the first forecast month
    b_last: np.ndarray  # neighbour excitation state entering the first forecast month
    iterations: int


def _excitation(history: np.ndarray, beta: float) -> np.ndarray:
    """``A[t] = sum_{d>=1} (1-beta) beta^(d-1) x[t-d]`` for t = 0..T (T+1 rows)."""
    t, n = history.shape
    a = np.zeros((t + 1, n), dtype=np.float32)
    for i in range(t):
        a[i + 1] = beta * a[i] + (1.0 - beta) * history[i]
    return a


def hawkes_fit(
    history: np.ndarray,
    ctx: Context,
    *,
    betas: Sequence[float] = (0.1, 0.3, 0.6, 0.85),
    burn_in: int = 12,
    fit_months: int | None = 48,
    n_iter: int = 30,
    tol: float = 1e-6,
    warm: HawkesFit | None = None,
) -> HawkesFit:
    """Fit ``mu_i``, ``theta0``, ``theta1`` by EM for each ``beta``; keep the best likelihood.

    Parameters
    ----------
    history
        Months x places, counts (or harm; the Poisson likelihood is then a quasi-
        likelihood).
    ctx
        Place data (ring-1 neighbours for ``B``).
    betas
        Geometric decay per month of the triggering kernel (``g(d) = (1-beta)
        beta^(d-1)``, mean delay ``1 / (1 - beta)`` months).
    burn_in
        First months used only to build up the excitation state.
    fit_months
        Fit on at most the last ``fit_months`` months (all when ``None``); earlier
        months still feed the excitation state.
    n_iter, tol
        EM iterations and relative log-likelihood tolerance.
    warm
        An earlier fit to start EM from (its ``beta`` is then the only one tried).

    Returns
    -------
    HawkesFit
    """
    x = np.asarray(history, dtype=np.float32)
    t = x.shape[0]
    start = min(max(burn_in, 1), t - 1)
    if fit_months is not None:
        start = max(start, t - fit_months)
    xf = x[start:]
    positive = xf > 0
    xpos = xf[positive]
    best: HawkesFit | None = None
    has_ring = ctx.ring1.nnz > 0
    for beta in (warm.beta,) if warm is not None else betas:
        a_all = _excitation(x, beta)
        b_all = (
            (np.asarray(ctx.ring1 @ a_all.T).T / ctx.deg1).astype(np.float32)
            if has_ring
            else np.zeros_like(a_all)
        )
        af, bf = a_all[start:t], b_all[start:t]
        if warm is not None:
            mu, th0, th1 = warm.mu.astype(np.float32).copy(), warm.theta0, warm.theta1
        else:
            mu = np.maximum(xf.mean(axis=0) * 0.5, 1e-9).astype(np.float32)
            th0, th1 = 0.3, (0.1 if has_ring else 0.0)
        sa, sb = float(af.sum(dtype=np.float64)), float(bf.sum(dtype=np.float64))
        apos, bpos = af[positive], bf[positive]
        prev, ll, it = -np.inf, -np.inf, 0
        nt = xf.shape[0]
        for step in range(1, n_iter + 1):
            it = step
            lam = mu[None, :] + th0 * af + th1 * bf
            r = np.zeros_like(xf)
            r[positive] = xpos / lam[positive]
            ll = float(
                (xpos * np.log(lam[positive])).sum(dtype=np.float64) - lam.sum(dtype=np.float64)
            )
            if abs(ll - prev) <= tol * abs(ll):
                break
            prev = ll
            rp = r[positive]
            mu = np.maximum(mu * r.sum(axis=0) / nt, 1e-12).astype(np.float32)
            th0 = th0 * float((rp * apos).sum(dtype=np.float64)) / sa if sa > 0 else 0.0
            th1 = th1 * float((rp * bpos).sum(dtype=np.float64)) / sb if sb > 0 else 0.0
        fit = HawkesFit(
            mu.astype(np.float64),
            float(th0),
            float(th1),
            float(beta),
            ll,
            a_all[t].astype(np.float64),
            b_all[t].astype(np.float64),
            it,
        )
        if best is None or fit.loglik > best.loglik:
            best = fit
    if best is None:
        raise InputError("hawkes_fit needs at least one beta")
    return best


def hawkes_predict(
    fit: HawkesFit, ctx: Context, *, horizon: int, sigma: float = 0.0
) -> np.ndarray:
    """Run the fitted model's expectation forward ``horizon`` months; sum it.

    The background is smoothed to ``(1 - sigma) * mu + sigma * ring1_mean(mu)``; the
    excitation state is updated with each month's expected count.
    """
    mu = fit.mu if sigma == 0 else (1 - sigma) * fit.mu + sigma * ring_mean(fit.mu, ctx, 1)
    a, b = fit.a_last.copy(), fit.b_last.copy()
    total = np.zeros(ctx.n)
    for _ in range(horizon):
        lam = mu + fit.theta0 * a + fit.theta1 * b
        total += lam
        a = fit.beta * a + (1 - fit.beta) * lam
        b = (fit.beta * b + (1 - fit.beta) * ring_mean(lam, ctx, 1)) if ctx.ring1.nnz else b
    return total


def m_hawkes(
    history: np.ndarray, ctx: Context, *, horizon: int, sigma: float = 0.25, **fit_options: object
) -> np.ndarray:
    """Self-exciting model (see :func:`hawkes_fit`), expected ``horizon`` total."""
    return hawkes_predict(
        hawkes_fit(history, ctx, **fit_options), ctx, horizon=horizon, sigma=sigma
    )


# --- gradient boosting -----------------------------------------------------------------

FEATURES = (
    "own_1",
    "own_3",
    "own_6",
    "own_12",
    "own_24",
    "own_36",
    "own_all",
    "ew_3",
    "ew_12",
    "r1_3",
    "r1_12",
    "r1_36",
    "r2_12",
    "r2_36",
    "grp_12",
    "grp_trend",
    "grp_yoy",
    "all_trend",
    "moy",
    "since_last",
)


class LagFeatures:
    """Lagged multi-scale features at any origin ``u`` (rows of history before ``u``)."""

    def __init__(self, history: np.ndarray, ctx: Context):
        x = np.asarray(history, dtype=np.float64)
        self.x, self.ctx, self.t = x, ctx, x.shape[0]
        self.cum = np.vstack([np.zeros((1, x.shape[1])), np.cumsum(x, axis=0)])
        self.ew = {hl: _ew_states(x, hl) for hl in (3, 12)}
        last = np.full(x.shape[1], -1.0)
        self.last_seen = np.empty((self.t + 1, x.shape[1]))
        self.last_seen[0] = last
        for i in range(self.t):
            last = np.where(x[i] > 0, float(i), last)
            self.last_seen[i + 1] = last
        self.n_groups = int(ctx.groups.max()) + 1 if len(ctx.groups) else 1
        self.group_size = np.bincount(ctx.groups, minlength=self.n_groups).astype(float)

    def window(self, u: int, w: int) -> np.ndarray:
        """Mean monthly value per place over the ``w`` rows before row ``u``."""
        lo = max(0, u - w)
        return (self.cum[u] - self.cum[lo]) / max(u - lo, 1)

    def _group(self, values: np.ndarray) -> np.ndarray:
        g = self.ctx.groups
        return (np.bincount(g, weights=values, minlength=self.n_groups) / self.group_size)[g]

    def at(self, u: int) -> np.ndarray:
        """Feature matrix (places x features) for a forecast made at row ``u``."""
        c = self.ctx
        own = {w: self.window(u, w) for w in (1, 3, 6, 12, 24, 36)}
        own_all = self.window(u, u)
        prev12 = (self.cum[max(u - 12, 0)] - self.cum[max(u - 24, 0)]) / 12.0
        g3, g12, gp = self._group(own[3]), self._group(own[12]), self._group(prev12)
        tot3, tot12 = own[3].sum(), own[12].sum()
        since = np.where(self.last_seen[u] < 0, 120.0, u - self.last_seen[u])
        cols = [
            own[1],
            own[3],
            own[6],
            own[12],
            own[24],
            own[36],
            own_all,
            self.ew[3][u],
            self.ew[12][u],
            ring_mean(own[3], c, 1),
            ring_mean(own[12], c, 1),
            ring_mean(own[36], c, 1),
            ring_mean(own[12], c, 2),
            ring_mean(own[36], c, 2),
            g12,
            np.divide(g3, g12, out=np.ones_like(g3), where=g12 > 0),
            np.divide(g12, gp, out=np.ones_like(g12), where=gp > 0),
            np.full(c.n, tot3 / tot12 if tot12 > 0 else 1.0),
            np.full(c.n, float(c.month_of_year(u))),
            np.minimum(since, 120.0),
        ]
        return np.column_stack(cols)


def _ew_states(x: np.ndarray, half_life: float) -> np.ndarray:
    """Normalised EW rate entering each row u (u = 0..T); row 0 is zeros."""
    d = 0.5 ** (1.0 / half_life)
    num = np.zeros((x.shape[0] + 1, x.shape[1]))
    den = np.zeros(x.shape[0] + 1)
    for i in range(x.shape[0]):
        num[i + 1] = d * num[i] + x[i]
        den[i + 1] = d * den[i] + 1.0
    den[0] = 1.0
    return num / den[:, None]


def gbm_fit(
    history: np.ndarray,
    ctx: Context,
    *,
    horizon: int,
    train_origins: int = 12,
    min_history: int = 12,
    max_iter: int = 150,
    learning_rate: float = 0.08,
    max_leaf_nodes: int = 31,
    min_samples_leaf: int = 200,
    seed: int = 0,
    features: LagFeatures | None = None,
):
    """Fit the Poisson GBM on origins ``u`` whose target months ``u..u+h-1`` are in history.

    Returns the fitted model and the feature builder (reusable for later origins of the
    same history).
    """
    from sklearn.ensemble import HistGradientBoostingRegressor

    x = np.asarray(history, dtype=np.float64)
    t = x.shape[0]
    feats = features or LagFeatures(x, ctx)
    last = t - horizon
    first = max(min_history, last - train_origins + 1)
    if last < first:
        raise InputError(f"gbm needs at least {min_history + horizon} months of history")
    rows, ys = [], []
    for u in range(first, last + 1):
        rows.append(feats.at(u))
        ys.append(x[u : u + horizon].sum(axis=0))
    model = HistGradientBoostingRegressor(
        loss="poisson",
        max_iter=max_iter,
        learning_rate=learning_rate,
        max_leaf_nodes=max_leaf_nodes,
        min_samples_leaf=min_samples_leaf,
        l2_regularization=1.0,
        early_stopping=False,
        random_state=seed,
    )
    model.fit(np.vstack(rows), np.concatenate(ys))
    return model, feats


def m_gbm(
    history: np.ndarray, ctx: Context, *, horizon: int, seed: int = 0, **options
) -> np.ndarray:
    """Poisson gradient boosting on lagged features; expected ``horizon`` total."""
    model, feats = gbm_fit(history, ctx, horizon=horizon, seed=seed, **options)
    return model.predict(feats.at(history.shape[0]))


def m_ensemble(
    history: np.ndarray,
    ctx: Context,
    *,
    horizon: int,
    members: Mapping[str, Mapping] | None = None,
    seed: int = 0,
) -> np.ndarray:
    """Mean of the members' forecasts, each scaled to sum 1, rescaled to the first's total.

    Default members: ``ewma``, ``hawkes``, ``gbm`` at their default parameters.
    """
    members = members or {"ewma": {}, "hawkes": {}, "gbm": {}}
    parts = []
    for m, p in members.items():
        q = {**DEFAULT_PARAMS[m], **p}
        if m == "gbm":
            q.setdefault("seed", seed)
        parts.append(METHODS[m](history, ctx, horizon=horizon, **q))
    return combine(parts)


def combine(parts: Sequence[np.ndarray]) -> np.ndarray:
    """Average of forecasts scaled to equal totals (the first one's total)."""
    total = float(parts[0].sum())
    shares = [p / p.sum() if p.sum() > 0 else p for p in parts]
    return np.mean(shares, axis=0) * total


METHODS: dict[str, Callable[..., np.ndarray]] = {
    "counts": m_counts,
    "ewma": m_ewma,
    "prospective": m_prospective,
    "hawkes": m_hawkes,
    "gbm": m_gbm,
    "ensemble": m_ensemble,
}
"""Method name -> pure function ``f(history, ctx, *, horizon, **params)``."""

DEFAULT_PARAMS: dict[str, dict] = {
    "counts": {"window": 12},
    "ewma": {"half_life": 12.0},
    "prospective": {"half_life": 12.0, "nb_half_life": 3.0, "w1": 0.25, "w2": 0.0},
    "hawkes": {"sigma": 0.25},
    "gbm": {},
    "ensemble": {},
}

GRIDS: dict[str, dict[str, Sequence]] = {
    "ewma": {"half_life": (2, 4, 6, 9, 12, 18, 24, 36, 60)},
    "prospective": {
        "nb_half_life": (1, 3, 12),
        "w1": (0.0, 0.1, 0.25, 0.5, 1.0),
        "w2": (0.0, 0.1, 0.25, 0.5),
    },
    "hawkes": {"sigma": (0.0, 0.25, 0.5)},
}
ENSEMBLE_MEMBERS = ("ewma", "hawkes", "gbm")
"""Parameter grids searched by the inner backtest (prospective's own half-life is the
one chosen for ``ewma``)."""
