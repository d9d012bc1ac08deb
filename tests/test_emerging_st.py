"""The calibrated emerging hot-spot engine: every ArcGIS class, exact p, the null, planted trends."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.stats as st

from hotspots.methods import emerging_st as E

N = 12
SIG, NOT = 0.01, 0.5


def hex_lattice(side: int) -> sp.csr_matrix:
    """Binary k=1 neighbours (self included) of a side x side axial hex lattice (like H3 k=1)."""
    q, r = np.meshgrid(np.arange(side), np.arange(side), indexing="ij")
    q, r = q.ravel(), r.ravel()
    index = q * side + r
    rows, cols = [index], [index]
    for dq, dr in ((1, 0), (-1, 0), (0, 1), (0, -1), (1, -1), (-1, 1)):
        qq, rr = q + dq, r + dr
        ok = (qq >= 0) & (qq < side) & (rr >= 0) & (rr < side)
        rows.append(index[ok])
        cols.append(qq[ok] * side + rr[ok])
    rows, cols = np.concatenate(rows), np.concatenate(cols)
    n = side * side
    return sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))


def series(hot=(), cold=()):
    """A z/p series of N slices: given slices significant hot / cold, the rest not."""
    z = np.full(N, 0.5)
    p = np.full(N, NOT)
    for t in hot:
        z[t], p[t] = 3.0, SIG
    for t in cold:
        z[t], p[t] = -3.0, SIG
    return z, p


LAST = N - 1
MOST = range(1, N)  # 11 of 12 slices incl. the final one (>= 90%)
CASES = {
    "no_pattern": (series(), 0, NOT),
    "new_hot": (series(hot=[LAST]), 0, NOT),
    "consecutive_hot": (series(hot=[9, 10, 11]), 0, NOT),
    "intensifying_hot": (series(hot=MOST), 30, SIG),
    "persistent_hot": (series(hot=range(N)), 2, NOT),
    "diminishing_hot": (series(hot=range(N)), -30, SIG),
    "sporadic_hot": (series(hot=[2, 5, LAST]), 0, NOT),
    "oscillating_hot": (series(hot=[LAST], cold=[3]), 0, NOT),
    "historical_hot": (series(hot=range(N - 1)), 0, NOT),
    "new_cold": (series(cold=[LAST]), 0, NOT),
    "consecutive_cold": (series(cold=[10, 11]), 0, NOT),
    "intensifying_cold": (series(cold=MOST), -30, SIG),
    "persistent_cold": (series(cold=range(N)), -2, NOT),
    "diminishing_cold": (series(cold=range(N)), 30, SIG),
    "sporadic_cold": (series(cold=[0, 4, 7, LAST]), 0, NOT),
    "oscillating_cold": (series(cold=[LAST], hot=[1, 2]), 0, NOT),
    "historical_cold": (series(cold=range(N - 1)), 0, NOT),
}


def test_every_class_has_a_case():
    assert set(CASES) == set(E.CLASSES) and len(E.CLASSES) == 17


@pytest.mark.parametrize("expected", list(CASES))
def test_constructed_series_gets_its_class(expected):
    (z, p), s, tp = CASES[expected]
    assert E.classify_emerging(z, p, s, tp) == expected


def test_vectorised_classification_matches_one_by_one():
    zs = np.column_stack([CASES[k][0][0] for k in CASES])
    ps = np.column_stack([CASES[k][0][1] for k in CASES])
    s = np.array([CASES[k][1] for k in CASES], dtype=float)
    tp = np.array([CASES[k][2] for k in CASES])
    assert list(E.classify_emerging(zs, ps, s, tp)) == list(CASES)


def test_boundaries_of_the_rules():
    # 10 of 12 hot incl. final is < 90%: not persistent; hot before the final run -> sporadic
    z, p = series(hot=[0, 1, 2, 3, 4, 5, 6, 7, 10, 11])
    assert E.classify_emerging(z, p, 0, NOT) == "sporadic_hot"
    # a significant trend without 90% hot does nothing
    z, p = series(hot=[10, 11])
    assert E.classify_emerging(z, p, 40, SIG) == "consecutive_hot"
    # persistent with the final slice not hot is historical (documented precedence)
    z, p = series(hot=range(N - 1))
    assert E.classify_emerging(z, p, 0, NOT) == "historical_hot"
    # hot 11/12 then cold in the final slice: the final slice's family wins
    z, p = series(hot=range(N - 1), cold=[LAST])
    assert E.classify_emerging(z, p, 0, NOT) == "oscillating_cold"
    # consecutive run with an earlier cold bin is oscillating
    z, p = series(hot=[10, 11], cold=[2])
    assert E.classify_emerging(z, p, 0, NOT) == "oscillating_hot"
    # exactly 90% with 10 slices: 9 of 10
    z = np.r_[0.5, np.full(9, 3.0)]
    p = np.r_[NOT, np.full(9, SIG)]
    assert E.classify_emerging(z, p, 0, NOT) == "persistent_hot"


def test_fewer_than_ten_slices_is_refused():
    w = hex_lattice(5)
    with pytest.raises(ValueError, match=r"at least 10 time slices.*has 9 slice"):
        E.space_time_gi(np.zeros((9, 25)), w)
    with pytest.raises(ValueError, match=r"at least 10 time slices.*got 9"):
        E.classify_emerging(np.zeros(9), np.ones(9), 0, 1)
    with pytest.raises(ValueError, match="at least 10"):
        E.emerging_st(np.ones((6, 25)), w)


def test_space_time_sum_matches_explicit_kron():
    rng = np.random.default_rng(0)
    w = hex_lattice(6)
    cube = rng.poisson(1.0, size=(10, 36)).astype(float)
    g = E.space_time_gi(cube, w, time_step=2, p_method="normal", fdr=None)
    lags = sp.diags([np.ones(10 - d) for d in range(3)], [0, -1, -2], shape=(10, 10))
    big = sp.kron(lags, w).tocsr()
    y = cube.ravel()
    sums, wsum = big @ y, np.asarray(big.sum(axis=1)).ravel()
    nn = y.size
    z = (sums - y.mean() * wsum) / (y.std() * np.sqrt((nn * wsum - wsum**2) / (nn - 1)))
    np.testing.assert_allclose(g.z.ravel(), z, atol=1e-12)
    np.testing.assert_array_equal(g.weight.ravel(), wsum)


def test_exact_p_matches_brute_force():
    rng = np.random.default_rng(3)
    w = hex_lattice(4)
    cube = rng.poisson(0.7, size=(10, 16)).astype(float)
    g = E.space_time_gi(cube, w, time_step=1, p_method="exact", fdr=None)
    values = cube.ravel()
    pmf = np.bincount(values.astype(int)) / values.size
    t, i = 5, 5  # interior cell, full window: W = 7 * 2
    k = int(g.weight[t, i])
    dist = np.array([1.0])
    for _ in range(k):
        dist = np.convolve(dist, pmf)
    s = int(round((w @ cube[t] + w @ cube[t - 1])[i]))
    expected = min(1.0, 2 * min(dist[s:].sum(), dist[: s + 1].sum()))
    assert g.p_raw[t, i] == pytest.approx(expected, rel=1e-9)
    with pytest.raises(ValueError, match="integer"):
        E.space_time_gi(cube + 0.5, w, p_method="exact")


def test_mann_kendall_matches_scipy_and_overlap_factor():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(15, 4))
    x[3, 0] = x[4, 0]
    mk = E.mann_kendall(x, continuity=False)
    for c in range(4):
        assert mk.p[c] == pytest.approx(
            st.kendalltau(np.arange(15), x[:, c], method="asymptotic").pvalue
        )
    assert E.overlap_variance_factor(12, 0) == 1.0
    assert 1.7 < E.overlap_variance_factor(12, 1) < 1.9  # simulated 1.817 for 12 slices


def _null_cube(rng, slices, n, per_slice):
    return np.stack(
        [np.bincount(rng.integers(0, n, per_slice), minlength=n) for _ in range(slices)]
    ).astype(float)


def test_null_false_positive_rate_at_or_below_nominal():
    w = hex_lattice(40)  # 1,600 cells
    n = w.shape[0]
    rng = np.random.default_rng(2024)
    runs, any_runs, cells = 20, 0, 0
    for _ in range(runs):
        result = E.emerging_st(_null_cube(rng, 12, n, 400), w)
        flagged = int((result.labels != E.NO_PATTERN).sum())
        cells += flagged
        any_runs += flagged > 0
    # nominal: BH at 0.05 per slice gives P(any false bin in the final slice) <= 0.05
    assert any_runs <= 2, any_runs
    assert cells / (runs * n) <= 0.05 / n * 7 * 2  # at most a few cells per run on average


def test_planted_new_and_intensifying_hotspots_are_found():
    w = hex_lattice(30)
    n = w.shape[0]
    rng = np.random.default_rng(5)
    cube = _null_cube(rng, 12, n, 900)  # about 1 incident per cell-slice
    new_centre, int_centre = 8 * 30 + 8, 20 * 30 + 20
    new_ring, int_ring = w[new_centre].indices, w[int_centre].indices
    cube[-1, new_ring] += 6  # a burst in the final slice only
    cube[:, int_ring] += np.linspace(3, 9, 12).round()[:, None]  # hot throughout, rising
    result = E.emerging_st(cube, w)
    assert result.labels[new_centre] == "new_hot"
    assert result.labels[int_centre] == "intensifying_hot"
    far = np.ones(n, dtype=bool)
    for c in (new_centre, int_centre):
        far[(w @ w)[c].indices] = False
    assert (result.labels[far] == E.NO_PATTERN).all()
    assert (
        "trend test FDR-controlled across the cells whose class it decides (ArcGIS: none)"
        in result.label
    )
    everywhere = E.emerging_st(cube, w, trend_fdr="all")
    assert "trend test FDR-controlled across cells (ArcGIS: none)" in everywhere.label
    # BH over all 900 cells: the 12-slice trend cannot reach significance (see emerging_st)
    assert everywhere.labels[int_centre] == "persistent_hot"
    assert result.label.startswith("ArcGIS Emerging Hot Spot rules")


def test_mid_p_is_smaller_and_normal_is_what_arcgis_reports():
    rng = np.random.default_rng(9)
    w = hex_lattice(10)
    cube = rng.poisson(0.3, size=(12, 100)).astype(float)
    exact = E.space_time_gi(cube, w, p_method="exact", fdr=None)
    mid = E.space_time_gi(cube, w, p_method="exact", fdr=None, mid_p=True)
    normal = E.space_time_gi(cube, w, p_method="normal", fdr=None)
    assert (mid.p_raw <= exact.p_raw + 1e-15).all() and (mid.p_raw < exact.p_raw).any()
    np.testing.assert_allclose(normal.p_raw, 2 * st.norm.sf(np.abs(normal.z)))
    assert E.space_time_gi(cube + 0.5, w).p_method == "normal"  # auto: fractional -> normal
