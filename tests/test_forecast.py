"""Forecast methods and their automatic choice, on synthetic lattices with planted answers."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from hotspots.methods import forecast as F
from hotspots.methods import forecast_select as S
from hotspots.methods import metrics

SIDE = 20  # 20 x 20 lattice = 400 places
N = SIDE * SIDE
T = 72
MONTHS = [str(p) for p in pd.period_range("2018-01", periods=T, freq="M")]


def lattice(side: int = SIDE) -> sp.csr_matrix:
    """Queen adjacency of a square lattice, self included (like h3_neighbours k=1)."""
    idx = np.arange(side * side).reshape(side, side)
    rows, cols = [], []
    for dr in (-1, 0, 1):
        for dc in (-1, 0, 1):
            a = idx[max(0, -dr) : side - max(0, dr), max(0, -dc) : side - max(0, dc)]
            b = idx[
                max(0, dr) : side - max(0, -dr) or None, max(0, dc) : side - max(0, -dc) or None
            ]
            rows.append(a.ravel())
            cols.append(b.ravel())
    r, c = np.concatenate(rows), np.concatenate(cols)
    return sp.csr_matrix((np.ones(len(r)), (r, c)), shape=(side * side, side * side))


NB = lattice()
GROUPS = np.repeat(np.arange(4), N // 4)


def ctx(**kw) -> F.Context:
    return F.make_context(N, months=MONTHS, neighbours=NB, groups=GROUPS, seed=0, **kw)


def background(rng: np.random.Generator, t: int = T) -> np.ndarray:
    """Stable heterogeneous Poisson background (long-run rate 0.05..0.6 per month)."""
    rate = rng.gamma(2.0, 0.15, size=N)
    return rng.poisson(np.broadcast_to(rate, (t, N))).astype(float)


def simulate_hawkes(rng, *, mu, theta0, theta1, beta, t=T, ring1=None):
    """Month-resolution Hawkes simulation matching hotspots.methods.forecast.hawkes_fit's model."""
    ring1 = ring1 if ring1 is not None else (NB - sp.identity(N)).tocsr()
    deg = np.asarray(ring1.sum(axis=1)).ravel()
    x = np.zeros((t, N))
    a = np.zeros(N)
    for i in range(t):
        b = (ring1 @ a) / deg
        x[i] = rng.poisson(mu + theta0 * a + theta1 * b)
        a = beta * a + (1 - beta) * x[i]
    return x


METHOD_NAMES = ["counts", "ewma", "prospective", "hawkes", "gbm", "ensemble"]


@pytest.mark.parametrize("method", METHOD_NAMES)
def test_recovers_planted_rising_cell(method):
    rng = np.random.default_rng(1)
    h = background(rng)
    cell = 210
    h[:, cell] = rng.poisson(np.r_[np.full(T - 12, 0.3), np.linspace(2, 10, 12)])
    res = S.forecast_matrix(
        h, months=MONTHS, neighbours=NB, groups=GROUPS, horizon=6, method=method
    )
    assert res.order[0] == cell
    assert np.isfinite(res.expected).all() and (res.expected >= 0).all()


@pytest.mark.parametrize("method", METHOD_NAMES)
def test_recovers_planted_self_exciting_cluster(method):
    rng = np.random.default_rng(2)
    h = background(rng)
    centre = 8 * SIDE + 8
    ring = NB[centre].indices
    # a burst in the centre 3 months before the origin that triggers repeats in the cell
    # and its neighbours (decaying), on top of an ordinary background there
    burst = np.zeros(T)
    burst[T - 3 :] = [15, 10, 6]
    h[:, centre] += rng.poisson(burst)
    for j in ring:
        if j != centre:
            h[:, j] += rng.poisson(burst * 0.6)
    res = S.forecast_matrix(
        h, months=MONTHS, neighbours=NB, groups=GROUPS, horizon=1, method=method
    )
    top = set(res.order[:20].tolist())  # top 5% of 400 places
    assert centre in top
    assert len(top & set(ring.tolist())) >= 6  # most of the 3x3 cluster flagged


def test_hawkes_em_recovers_parameters():
    rng = np.random.default_rng(3)
    mu = rng.gamma(2.0, 0.25, size=N)
    x = simulate_hawkes(rng, mu=mu, theta0=0.3, theta1=0.2, beta=0.6, t=120)
    fit = F.hawkes_fit(x, ctx(), betas=(0.3, 0.6, 0.85), fit_months=None, n_iter=200)
    assert fit.beta == 0.6
    assert abs(fit.theta0 - 0.3) < 0.08
    assert abs(fit.theta1 - 0.2) < 0.12
    assert np.corrcoef(fit.mu, mu)[0, 1] > 0.7


def _poisoned(h: np.ndarray, o: int, value: float) -> np.ndarray:
    p = h.copy()
    p[o:] = value
    return p


@pytest.mark.parametrize("value", [np.nan, 1e12])
def test_backtest_never_reads_the_future(value):
    rng = np.random.default_rng(4)
    h = background(rng) + simulate_hawkes(
        rng, mu=np.full(N, 0.05), theta0=0.3, theta1=0.2, beta=0.6
    )
    c = ctx()
    fixed = {
        "ew": ("ewma", {"half_life": 6}),
        "pros": ("prospective", {}),
        "hawkes": ("hawkes", {}),
        "gbm": ("gbm", {}),
    }
    for o in (50, 66):
        clean = S.rolling_forecasts(
            h, c, origins=[o], horizon=6, fixed=fixed, months=MONTHS, n_inner=6
        )[o]
        dirty = S.rolling_forecasts(
            _poisoned(h, o, value),
            c,
            origins=[o],
            horizon=6,
            fixed=fixed,
            months=MONTHS,
            n_inner=6,
        )[o]
        assert clean["auto"] == dirty["auto"]
        assert clean["forecasts"].keys() == dirty["forecasts"].keys()
        for k, v in clean["forecasts"].items():
            np.testing.assert_array_equal(v, dirty["forecasts"][k], err_msg=k)
            assert np.isfinite(v).all(), k


def test_inner_backtest_only_uses_months_before_each_inner_origin():
    """Tuning at origin t must not change when months >= t are poisoned, and each
    inner origin s only sees rows < s (checked through the inner table)."""
    rng = np.random.default_rng(5)
    h = background(rng)
    c = ctx()
    t = 60
    a, _ = S.tune_and_compare(h[:t], c, horizon=3, n_inner=6, candidates=S.CANDIDATES)
    b, _ = S.tune_and_compare(
        _poisoned(h, t, np.nan)[:t], c, horizon=3, n_inner=6, candidates=S.CANDIDATES
    )
    pd.testing.assert_frame_equal(a, b)
    assert S.inner_origins(t, horizon=3, n_origins=6, min_history=24) == list(range(52, 58))
    assert max(S.inner_origins(t, horizon=3, n_origins=6, min_history=24)) + 3 <= t


def test_auto_beats_counts_on_a_strong_trend():
    rng = np.random.default_rng(6)
    t = 84
    months = [str(p) for p in pd.period_range("2016-01", periods=t, freq="M")]
    tt = np.arange(t)[:, None].astype(float)
    # every place grows or shrinks exponentially (-12%..+12% a month), so 12-month counts
    # lag badly behind the current level
    level = rng.gamma(1.0, 1.0, size=N)
    growth = rng.uniform(-0.12, 0.12, size=N)
    rate = np.clip(level * np.exp(growth * (tt - 66)), 0.01, 20.0)
    h = rng.poisson(rate).astype(float)
    c = F.make_context(N, months=months, neighbours=NB, groups=GROUPS, seed=0)
    origins = [60, 64, 68, 72]
    fc = S.rolling_forecasts(h, c, origins=origins, horizon=6, months=months, n_inner=6)
    sc = S.score_forecasts(
        {o: r["forecasts"] for o, r in fc.items()},
        h,
        c,
        horizon=6,
        shares=(0.01, 0.05),
        months=months,
    )
    pai = sc[sc.metric == "pai"].groupby("method")["value"].mean()
    assert pai["auto"] > 1.05 * pai["counts*"]
    assert all(r["auto"] != "counts" for r in fc.values())
    assert all("vs 12-month counts" in r["reason"] for r in fc.values())


def test_fast_scoring_matches_the_metric_definitions():
    rng = np.random.default_rng(7)
    area = rng.uniform(0.5, 1.5, size=N)
    obs = rng.poisson(rng.gamma(1.0, 1.0, size=N)).astype(float)
    score = rng.random(N)
    tb = metrics.tie_break_order(N, seed=0)
    order = metrics.rank_cells(score, tie_break=tb)
    fast = metrics.score_order(order, obs, area, (0.01, 0.05, 0.1))
    for j, share in enumerate((0.01, 0.05, 0.1)):
        flags = metrics.flag_top_area(order, area, share=share)
        assert fast["pai"][j] == pytest.approx(metrics.pai(flags, obs, area))
        assert fast["pei"][j] == pytest.approx(metrics.pei(flags, obs, area))


def test_ranking_is_deterministic_and_matches_rank_cells():
    scores = np.repeat([3.0, 1.0, 0.0, 2.0], N // 4)  # massive ties
    c = ctx()
    order = F.rank_forecast(scores, c)
    np.testing.assert_array_equal(order, metrics.rank_cells(scores, tie_break=c.priority))
    np.testing.assert_array_equal(order, F.rank_forecast(scores, ctx()))
    other = F.rank_forecast(scores, F.make_context(N, months=MONTHS, seed=1))
    assert not np.array_equal(order, other)
    dens = F.make_context(
        N, months=MONTHS, area_km2=np.r_[np.full(N - 1, 1.0), 0.1], rank_by="density"
    )
    assert F.rank_forecast(np.ones(N), dens)[0] == N - 1


def test_counts_and_ewma_definitions():
    h = np.zeros((24, 3))
    h[-12:, 0] = 1.0
    h[:, 1] = 2.0
    c = F.make_context(3, months=MONTHS[:24])
    np.testing.assert_allclose(F.m_counts(h, c, horizon=6), [6.0, 12.0, 0.0])
    np.testing.assert_allclose(F.m_ewma(h, c, horizon=1, half_life=6)[1], 2.0)
    w = 0.5 ** (np.arange(23, -1, -1) / 12)
    assert F.m_ewma(h, c, horizon=1, half_life=12)[0] == pytest.approx(w[-12:].sum() / w.sum())


# --- forecast_cells / forecast_areas on the bundled real data ---------------------------

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture(scope="module")
def burglary_store(tmp_path_factory):
    """The bundled Met burglary (2022-09..2024-08) ingested once."""
    from hotspots.ingest.pipeline import ingest_to_store
    from hotspots.ingest.read import london_settings

    out = tmp_path_factory.mktemp("fstore") / "store"
    ingest_to_store([DATA / "police_uk" / "met_burglary"], out, settings=london_settings())
    return out


@pytest.fixture(scope="module")
def boroughs():
    from hotspots.geo.boundaries import london_boroughs

    return london_boroughs()


def test_forecast_cells_table_and_short_history_fallback(burglary_store, boroughs):
    from hotspots.detect.forecast import forecast_cells

    fc = forecast_cells(burglary_store, boroughs, until="2024-08", horizon=6)
    places = fc.places
    assert list(places.columns) == [
        "cell",
        "borough_code",
        "borough",
        "expected_incidents",
        "expected_harm",
        "rank",
        "method",
    ]
    assert places["cell"].is_monotonic_increasing and places["cell"].is_unique
    assert sorted(places["rank"]) == list(range(1, len(places) + 1))
    assert (places["expected_harm"] >= 0).all() and places["expected_incidents"].notna().all()
    top = places.sort_values("rank")["expected_harm"].to_numpy()
    assert (np.diff(top) <= 0).all()  # rank 1 = most expected harm
    # 24 months is too short for the inner backtest at horizon 6: counts, and it says so
    assert fc.method == "counts" and "only 24 months" in fc.reason
    assert fc.forecast_months == ("2024-09", "2025-02")


def test_forecast_cells_never_reads_after_until(burglary_store, boroughs):
    from hotspots.aggregates.store import aggregate_store
    from hotspots.detect.forecast import forecast_cells

    fc = forecast_cells(burglary_store, boroughs, until="2023-12", horizon=6, method="counts")
    year = aggregate_store(burglary_store, months=("2023-01", "2023-12"))
    assert fc.history == ("2022-09", "2023-12")
    assert fc.places["expected_incidents"].sum() == pytest.approx(year.bins["count"].sum() / 2)
    ewma = forecast_cells(burglary_store, boroughs, until="2023-12", method="ewma", seed=1)
    assert ewma.method == "ewma" and (ewma.places["expected_incidents"] >= 0).all()


def test_forecast_cells_rejects_a_bad_request(burglary_store, boroughs):
    from hotspots.core.errors import InputError
    from hotspots.detect.forecast import forecast_cells

    with pytest.raises(InputError, match="YYYY-MM"):
        forecast_cells(burglary_store, boroughs, until="August")
    with pytest.raises(InputError, match="unknown forecast method"):
        forecast_cells(burglary_store, boroughs, until="2024-08", method="magic")
    with pytest.raises(InputError, match="no month up to"):
        forecast_cells(burglary_store, boroughs, until="2020-01")


def test_forecast_areas_on_ward_counts():
    from hotspots.detect.forecast import forecast_areas
    from hotspots.geo.boundaries import london_wards
    from hotspots.ingest.area_counts import read_area_counts

    path = DATA / "police_uk" / "mps_area_counts" / "recorded-crime-ward_202402-202408.csv.gz"
    counts = read_area_counts(path, majors=("VIOLENCE AGAINST THE PERSON",))
    fc = forecast_areas(counts, london_wards(), until="2024-08", horizon=3)
    assert list(fc.places.columns[:3]) == ["area", "area_name", "borough"]
    assert sorted(fc.places["rank"]) == list(range(1, len(fc.places) + 1))
    assert fc.method == "counts" and "per km²" in fc.choices["rank"]


def test_forecast_command_writes_table_rejects_and_manifest(burglary_store, tmp_path):
    import json
    import subprocess
    import sys

    out = tmp_path / "out"
    argv = [sys.executable, "-m", "hotspots.cli.main", "forecast", str(burglary_store)]
    result = subprocess.run(
        [*argv, "--until", "2024-02", "--horizon", "3", "--method", "ewma", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    for name in ("forecast.parquet", "forecast.csv", "rejects.csv", "manifest.json"):
        assert (out / name).is_file(), name
    table = pd.read_parquet(out / "forecast.parquet")
    assert table["method"].eq("ewma").all() and table["rank"].min() == 1
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["command"] == "forecast"
    assert manifest["forecast"]["forecast_months"] == ["2024-03", "2024-05"]
    bad = subprocess.run(
        [*argv, "--until", "2024-8x", "--out", str(tmp_path / "bad")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert bad.returncode == 2 and "YYYY-MM" in bad.stderr and "Traceback" not in bad.stderr
