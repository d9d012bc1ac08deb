"""Emerging hot-spot analysis after ArcGIS Pro's definition, with calibrated inference.

The engine behind :func:`hotspots.methods.emerging.emerging_hotspots`.

Pure functions (numpy / scipy / pandas only). The cube is **slices x cells** (time first).

Pipeline (:func:`emerging_st`):

1. :func:`space_time_gi` -- Gi* for every bin with a space-time neighbourhood: bin
   ``(t, i)``'s neighbourhood is cell ``i``'s spatial neighbours (itself included) in
   slices ``t - time_step .. t`` (ArcGIS "Neighborhood Time Step"; the first
   ``time_step`` slices have shorter windows). Binary weights. The Gi* mean and
   standard deviation are those of the whole cube (ArcGIS "Define Global Window =
   Entire cube", the default). p-values from the normal (ArcGIS) or, for integer
   counts, from the exact randomisation distribution of the neighbourhood sum; then
   Benjamini-Hochberg per slice (default), over the whole cube, or none.
2. :func:`mann_kendall` -- Mann-Kendall trend test of each location's Gi* z-scores over
   time (ties corrected; optionally corrected for the serial correlation that the
   overlapping time windows create), then BH across the locations whose class the
   trend decides (default) or across all locations.
3. :func:`classify_emerging` -- the 17 ArcGIS categories (rules in ``RULES``/RESULTS.md).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.special import ndtr

from hotspots.core.errors import SchemaError
from hotspots.methods.gi import benjamini_hochberg
from hotspots.methods.gi_exact import sum_tails

MIN_SLICES = 10
"""ArcGIS Emerging Hot Spot Analysis needs at least ten time-step intervals."""
MOST = 0.9
"""The "90 percent of the time-step intervals" of the ArcGIS definitions (``h >= 0.9 n``)."""

# --- labels (ArcGIS names) ---------------------------------------------------------------
NO_PATTERN = "no_pattern"
_FAMILY = (
    "new",
    "consecutive",
    "intensifying",
    "persistent",
    "diminishing",
    "sporadic",
    "oscillating",
    "historical",
)
HOT_CLASSES = tuple(f"{name}_hot" for name in _FAMILY)
COLD_CLASSES = tuple(f"{name}_cold" for name in _FAMILY)
CLASSES = (NO_PATTERN, *HOT_CLASSES, *COLD_CLASSES)
"""All 17 labels: ``no_pattern``, ``new_hot`` .. ``historical_hot``, ``new_cold`` .. ``historical_cold``."""

FDR_CHOICES = ("slice", "cube", None)
TREND_FDR_CHOICES = ("all", "candidates", None)
P_METHODS = ("auto", "exact", "normal")
MK_VARIANCES = ("iid", "overlap")
GLOBAL_WINDOWS = ("cube", "neighbourhood")

RULES = """\
n slices; bin hot: p <= alpha and z > 0; cold: p <= alpha and z < 0 (p after the chosen FDR);
h, c = number of hot, cold bins; 'most hot' = h >= 0.9 n (10 h >= 9 n in integers);
r = length of the unbroken run of hot bins ending in the final slice;
trend up/down = Mann-Kendall S > 0 / S < 0 with (FDR-adjusted) trend p <= trend_alpha.
Final slice hot (tried in this order):
  most hot & trend up                        -> intensifying_hot
  most hot & trend down                      -> diminishing_hot
  most hot (no significant trend)            -> persistent_hot
  c >= 1 (a cold bin before)                 -> oscillating_hot
  h == 1                                     -> new_hot
  h == r >= 2 (no hot bin before the run)    -> consecutive_hot
  otherwise (hot before the run, never cold) -> sporadic_hot
Final slice cold: the same with hot/cold swapped (intensifying_cold: trend down).
Final slice not significant:
  most hot -> historical_hot; most cold -> historical_cold; else no_pattern.
"""


# --- Benjamini-Hochberg --------------------------------------------------------------------


def bh_adjust(p: np.ndarray, axis: int | None = None) -> np.ndarray:
    """Adjust p-values by Benjamini-Hochberg over the whole array or along ``axis``.

    With ``axis=None`` the whole array is one family; otherwise each 1-d slice along
    ``axis`` is a separate family. NaN stays NaN and is not counted.
    """
    p = np.asarray(p, dtype=np.float64)
    if axis is None:
        return benjamini_hochberg(p.ravel()).reshape(p.shape)
    moved = np.moveaxis(p, axis, -1)
    out = np.empty_like(moved)
    flat_in = moved.reshape(-1, moved.shape[-1])
    flat_out = out.reshape(-1, moved.shape[-1])
    for row in range(flat_in.shape[0]):
        flat_out[row] = benjamini_hochberg(flat_in[row])
    return np.moveaxis(out, -1, axis)


# --- space-time Gi* ----------------------------------------------------------------------


class SpaceTimeGi(NamedTuple):
    """Space-time Gi* per bin (slices x cells)."""

    z: np.ndarray
    """Gi* z-score per bin (slices x cells)."""
    p: np.ndarray
    """Two-sided p per bin after the FDR adjustment (this decides significance)."""
    p_raw: np.ndarray
    """Two-sided p per bin before any adjustment."""
    weight: np.ndarray
    """Number of bins in each bin's space-time neighbourhood (slices x cells)."""
    p_method: str
    """``"exact"`` or ``"normal"``: what produced ``p_raw``."""


def _check_cube(cube: np.ndarray, neighbours) -> tuple[np.ndarray, sp.csr_matrix]:
    x = np.asarray(cube, dtype=np.float64)
    if x.ndim != 2:
        raise SchemaError(f"cube must be 2-d (slices x cells); got shape {x.shape}.")
    if x.shape[0] < MIN_SLICES:
        raise SchemaError(
            f"emerging hot-spot analysis needs at least {MIN_SLICES} time slices (ArcGIS "
            f"Emerging Hot Spot Analysis minimum); the cube has {x.shape[0]} slice(s) of "
            f"{x.shape[1]} cells (shape {x.shape}, slices first). Use a longer period or "
            "shorter slices."
        )
    if not np.isfinite(x).all():
        raise SchemaError("cube holds NaN or infinite values; use 0 where nothing happened.")
    if not sp.issparse(neighbours):
        raise SchemaError("neighbours must be a scipy sparse matrix (cells x cells).")
    w = sp.csr_matrix(neighbours, dtype=np.float64)
    n = x.shape[1]
    if w.shape != (n, n):
        raise SchemaError(f"neighbours are {w.shape} but the cube has {n} cells (columns).")
    w.sum_duplicates()
    w.eliminate_zeros()
    if w.nnz and not np.all(w.data == 1.0):
        raise SchemaError("neighbours must be binary (1 for a neighbour, self included).")
    if n and (w.diagonal() != 1.0).any():
        raise SchemaError(
            "neighbours must include every cell itself (diagonal of ones), as Gi* does."
        )
    return x, w


def _window_lengths(slices: int, time_step: int) -> np.ndarray:
    return np.minimum(np.arange(slices), time_step) + 1.0


def space_time_gi(
    cube: np.ndarray,
    neighbours: sp.spmatrix | sp.sparray,
    *,
    time_step: int = 1,
    fdr: str | None = "slice",
    p_method: str = "auto",
    global_window: str = "cube",
    max_support: int = 20_000_000,
    mid_p: bool = False,
) -> SpaceTimeGi:
    """Gi* z and p for every bin of a slices x cells cube, with a space-time neighbourhood.

    Parameters
    ----------
    cube
        Slices x cells (time first), finite, e.g. incident counts per month and cell.
    neighbours
        Cells x cells binary sparse matrix with ones on the diagonal (Gi* "star").
    time_step
        ArcGIS "Neighborhood Time Step": bin ``(t, i)``'s neighbourhood is the spatial
        neighbours of ``i`` in slices ``max(0, t - time_step) .. t``. ``0`` = space only.
    fdr
        ``"slice"`` (default): Benjamini-Hochberg within each slice (one family of
        ``cells`` tests per slice). ``"cube"``: one family of all bins. ``None``: none.
    p_method
        ``"normal"``: ``2 Phi(-|z|)`` (what ArcGIS reports). ``"exact"``: the exact
        randomisation p of the neighbourhood sum -- the sum of ``W`` bins drawn at random
        (with replacement) from the global window's values, computed by convolving the
        empirical distribution ``W`` times; needs integer values (counts). ``"auto"``
        (default): exact for integer cubes, normal otherwise.
    global_window
        ``"cube"`` (ArcGIS default "Entire cube"): mean and spread over all bins.
        ``"neighbourhood"`` (ArcGIS "Neighborhood time step"): over the slices of the
        bin's time window.
    max_support
        Largest ``W * (max - min)`` for which the exact distribution is computed.
    mid_p
        With ``p_method="exact"``: count only half the probability of the observed sum
        (Lancaster's mid-p), which removes most of the conservatism of a discrete test
        but no longer guarantees ``P(p <= a) <= a``.

    Returns
    -------
    SpaceTimeGi
        ``z``, ``p`` (adjusted), ``p_raw``, ``weight`` -- all slices x cells -- and
        ``p_method``.

    Notes
    -----
    ``z = (S - xbar W) / (s sqrt((N W - W^2) / (N - 1)))`` with ``S`` the sum over the
    ``W`` bins of the neighbourhood, ``N`` the number of bins of the global window,
    ``xbar`` and ``s`` (divisor ``N``) their mean and standard deviation (Ord & Getis
    1995 with binary weights). The sum is one sparse product per slice, summed over the
    ``time_step + 1`` lags.
    """
    x, w = _check_cube(cube, neighbours)
    if time_step < 0 or int(time_step) != time_step:
        raise SchemaError(f"time_step must be an integer >= 0, got {time_step!r}.")
    if fdr not in FDR_CHOICES:
        raise SchemaError(f"fdr must be one of {FDR_CHOICES}, got {fdr!r}.")
    if p_method not in P_METHODS:
        raise SchemaError(f"p_method must be one of {P_METHODS}, got {p_method!r}.")
    if global_window not in GLOBAL_WINDOWS:
        raise SchemaError(f"global_window must be one of {GLOBAL_WINDOWS}, got {global_window!r}.")
    time_step = int(time_step)
    slices, n = x.shape
    integer = bool(np.all(x == np.round(x)))
    if p_method == "auto":
        p_method = "exact" if integer else "normal"
    if p_method == "exact" and not integer:
        raise SchemaError(
            "p_method='exact' needs integer values (counts); this cube has fractional "
            "values. Use p_method='normal' (ArcGIS's normal p) or round to a unit first."
        )

    spatial = (w @ x.T).T  # slices x cells: sum over the spatial ring in each slice
    window = spatial.copy()
    for lag in range(1, time_step + 1):
        window[lag:] += spatial[:-lag]
    degree = np.diff(w.indptr).astype(np.float64)
    lengths = _window_lengths(slices, time_step)
    weight = lengths[:, None] * degree[None, :]

    if global_window == "cube":
        big_n = np.full(slices, float(x.size))
        mean = np.full(slices, x.mean())
        var = np.full(slices, x.var())
    else:
        s1 = np.cumsum(x.sum(axis=1))
        s2 = np.cumsum((x * x).sum(axis=1))
        first = np.maximum(np.arange(slices) - time_step, 0)
        prev1 = np.where(first > 0, s1[first - 1], 0.0)
        prev2 = np.where(first > 0, s2[first - 1], 0.0)
        big_n = lengths * n
        mean = (s1 - prev1) / big_n
        var = np.maximum((s2 - prev2) / big_n - mean**2, 0.0)

    spread = np.sqrt(
        var[:, None] * np.maximum(big_n[:, None] * weight - weight**2, 0.0) / (big_n[:, None] - 1)
    )
    z = np.zeros_like(window)
    scale = max(float(np.abs(x).max(initial=0.0)), 1e-300)
    np.divide(window - mean[:, None] * weight, spread, out=z, where=spread > 1e-12 * scale)

    if p_method == "normal":
        p_raw = 2.0 * ndtr(-np.abs(z))
        p_raw[spread <= 1e-12 * scale] = 1.0
    else:
        p_raw = _exact_p(x, window, weight, time_step, global_window, max_support, mid_p)

    if fdr == "slice":
        p = bh_adjust(p_raw, axis=1)
    elif fdr == "cube":
        p = bh_adjust(p_raw)
    else:
        p = p_raw.copy()
    return SpaceTimeGi(z=z, p=p, p_raw=p_raw, weight=weight, p_method=p_method)


def _exact_p(
    x: np.ndarray,
    window: np.ndarray,
    weight: np.ndarray,
    time_step: int,
    global_window: str,
    max_support: int,
    mid_p: bool = False,
) -> np.ndarray:
    """Two-sided exact randomisation p of each neighbourhood sum (integer values).

    Under the Gi* null the ``W`` values in a neighbourhood are a random draw from the
    global window's values; drawing with replacement (``W`` is tiny next to ``N``), the
    sum's distribution is the ``W``-fold convolution of the empirical distribution.
    ``p = min(1, 2 min(P(S >= s), P(S <= s)))``.
    """
    slices, _ = x.shape
    ints = np.round(x).astype(np.int64)
    lo = int(ints.min())
    p = np.ones_like(window)
    if global_window == "cube":
        groups = [(np.arange(slices), np.bincount((ints - lo).ravel()))]
    else:
        groups = []
        for t in range(slices):
            first = max(0, t - time_step)
            groups.append((np.array([t]), np.bincount((ints[first : t + 1] - lo).ravel())))
    for rows, counts in groups:
        pmf1 = counts / counts.sum()
        sub_w = np.round(weight[rows]).astype(np.int64)
        sub_s = np.round(window[rows]).astype(np.int64) - sub_w * lo  # shifted to >= 0
        top = int(sub_w.max())
        if top * (len(pmf1) - 1) > max_support:
            raise SchemaError(
                f"the exact distribution would need {top * (len(pmf1) - 1):,} points "
                f"(W={top}, value range {len(pmf1) - 1}); use p_method='normal'."
            )
        upper, lower, point = sum_tails(pmf1, sub_w, sub_s)
        half = 0.5 * point if mid_p else 0.0
        p[rows] = np.minimum(1.0, 2.0 * np.minimum(upper - half, lower - half))
    return p


# --- Mann-Kendall -------------------------------------------------------------------------


class MannKendall(NamedTuple):
    """Mann-Kendall trend test per location."""

    s: np.ndarray
    """Mann-Kendall S per location (its sign is the direction)."""
    z: np.ndarray
    """Normal score (continuity- and ties-corrected; serial-correlation corrected if asked)."""
    p: np.ndarray
    """Two-sided p of ``z``."""
    variance: np.ndarray
    """Var(S) used."""


def mann_kendall(
    series: np.ndarray,
    *,
    continuity: bool = True,
    variance: str = "iid",
    time_step: int = 0,
) -> MannKendall:
    """Mann-Kendall trend test down every column of a slices x locations array at once.

    ``S = sum_{i<j} sign(x_j - x_i)``; ``Var S = (n(n-1)(2n+5) - sum_g t_g(t_g-1)(2t_g+5))/18``
    over groups of ``t_g`` tied values; ``z = (S - sign S) / sqrt(Var S)`` with the
    continuity correction (Kendall 1975; R ``Kendall::MannKendall``).

    ``variance="overlap"`` multiplies ``Var S`` by the factor that the overlapping time
    windows of the space-time Gi* create under the null: consecutive z-scores share
    bins (corr(z_a, z_b) = |A n B| / sqrt(|A||B|) for windows A, B), and for Gaussian
    scores Cov(sign(X_j-X_i), sign(X_l-X_k)) = (2/pi) arcsin(corr(X_j-X_i, X_l-X_k)).
    ``time_step`` says how the windows overlap (0: independent, factor 1).
    """
    x = np.asarray(series, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    if variance not in MK_VARIANCES:
        raise SchemaError(f"variance must be one of {MK_VARIANCES}, got {variance!r}.")
    n = x.shape[0]
    s = np.zeros(x.shape[1])
    equal = np.ones(x.shape)
    for lag in range(1, n):
        later, earlier = x[lag:], x[:-lag]
        s += np.sign(later - earlier).sum(axis=0)
        same = later == earlier
        equal[lag:] += same
        equal[:-lag] += same
    ties = ((equal - 1.0) * (2.0 * equal + 5.0)).sum(axis=0)
    var = (n * (n - 1) * (2 * n + 5) - ties) / 18.0
    if variance == "overlap":
        var = var * overlap_variance_factor(n, time_step)
    numerator = s - np.sign(s) if continuity else s
    z = np.zeros_like(s)
    np.divide(numerator, np.sqrt(np.maximum(var, 0.0)), out=z, where=var > 0)
    return MannKendall(s=s, z=z, p=2.0 * ndtr(-np.abs(z)), variance=var)


def overlap_variance_factor(n: int, time_step: int) -> float:
    """Var(S) of Mann-Kendall on n window-overlapping Gaussian scores / the iid Var(S)."""
    if time_step <= 0 or n < 2:
        return 1.0
    lengths = _window_lengths(n, time_step)
    start = np.arange(n) - lengths + 1
    # covariance of the window sums (unit-variance iid slices): overlap count
    a_lo, b_lo = start[:, None], start[None, :]
    a_hi, b_hi = np.arange(n)[:, None], np.arange(n)[None, :]
    overlap = np.maximum(np.minimum(a_hi, b_hi) - np.maximum(a_lo, b_lo) + 1, 0)
    sd = np.sqrt(lengths)
    corr = overlap / (sd[:, None] * sd[None, :])
    i, j = np.triu_indices(n, 1)
    # covariance of the differences D_ij = X_j - X_i for all pairs
    total = 0.0
    var_d = corr[j, j] + corr[i, i] - 2 * corr[i, j]
    sd_d = np.sqrt(np.maximum(var_d, 1e-300))
    chunk = max(1, 4_000_000 // len(i))
    for lo in range(0, len(i), chunk):
        ii, jj = i[lo : lo + chunk, None], j[lo : lo + chunk, None]
        cov = corr[jj, j] - corr[jj, i] - corr[ii, j] + corr[ii, i]
        r = np.clip(cov / (sd_d[lo : lo + chunk, None] * sd_d[None, :]), -1.0, 1.0)
        total += float((2.0 / np.pi * np.arcsin(r)).sum())
    return total / (n * (n - 1) * (2 * n + 5) / 18.0)


# --- classification ---------------------------------------------------------------------


def classify_emerging(
    z: np.ndarray,
    p: np.ndarray,
    trend_s: np.ndarray,
    trend_p: np.ndarray,
    *,
    alpha: float = 0.05,
    trend_alpha: float = 0.05,
) -> np.ndarray:
    """Give each location one of the 17 ArcGIS Emerging Hot Spot categories.

    From per-bin z/p and per-location trend.

    Parameters
    ----------
    z, p
        Gi* z and the p that decides significance (already FDR-adjusted), slices x
        locations (or one location's 1-d series). At least ``MIN_SLICES`` slices.
    trend_s, trend_p
        Mann-Kendall S (sign = direction) and the trend p that decides (adjusted or not),
        one per location (scalars for a 1-d series).
    alpha, trend_alpha
        Significance levels of a bin and of a trend.

    Returns
    -------
    numpy.ndarray
        One label from ``CLASSES`` per location (a str for a 1-d series). Rules: ``RULES``.
    """
    z = np.asarray(z, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    single = z.ndim == 1
    if single:
        z, p = z[:, None], p[:, None]
    if z.shape != p.shape:
        raise SchemaError(f"z {z.shape} and p {p.shape} differ.")
    n = z.shape[0]
    if n < MIN_SLICES:
        raise SchemaError(
            f"classification needs at least {MIN_SLICES} time slices (ArcGIS minimum); got {n} "
            f"(array shape {z.shape}, slices first)."
        )
    sig = p <= alpha
    hot, cold = sig & (z > 0), sig & (z < 0)
    t_sig = np.atleast_1d(np.asarray(trend_p, dtype=np.float64)) <= trend_alpha
    t_s = np.atleast_1d(np.asarray(trend_s, dtype=np.float64))
    up, down = t_sig & (t_s > 0), t_sig & (t_s < 0)
    labels = np.full(z.shape[1], NO_PATTERN, dtype=object)

    def family(mine, other, stronger, weaker, suffix):
        count = mine.sum(axis=0)
        most = count * 10 >= 9 * n
        final = mine[-1]
        broken = ~mine[::-1]
        run = np.where(broken.any(axis=0), broken.argmax(axis=0), n)
        rules = (
            (final & most & stronger, "intensifying"),
            (final & most & weaker, "diminishing"),
            (final & most, "persistent"),
            (final & other.any(axis=0), "oscillating"),
            (final & (count == 1), "new"),
            (final & (run == count) & (run >= 2), "consecutive"),
            (final, "sporadic"),
        )
        done = np.zeros(len(labels), dtype=bool)
        for mask, name in rules:
            take = mask & ~done
            labels[take] = f"{name}_{suffix}"
            done |= take
        labels[~hot[-1] & ~cold[-1] & most] = f"historical_{suffix}"

    family(hot, cold, up, down, "hot")
    family(cold, hot, down, up, "cold")
    return labels[0] if single else labels


# --- the whole analysis ------------------------------------------------------------------


class EmergingResult(NamedTuple):
    """Classes per location with the Gi* and trend results that decided them."""

    labels: np.ndarray
    """One of ``CLASSES`` per cell."""
    gi: SpaceTimeGi
    trend: MannKendall
    trend_p: np.ndarray
    """The trend p that decided (after ``trend_fdr``)."""
    label: str
    """How this run follows and departs from ArcGIS Emerging Hot Spot Analysis."""

    def counts(self) -> pd.Series:
        """Locations per class, every class listed."""
        return pd.Series(self.labels).value_counts().reindex(list(CLASSES), fill_value=0)


def emerging_st(
    cube: np.ndarray,
    neighbours: sp.spmatrix | sp.sparray,
    *,
    time_step: int = 1,
    alpha: float = 0.05,
    trend_alpha: float = 0.05,
    fdr: str | None = "slice",
    p_method: str = "auto",
    global_window: str = "cube",
    trend_fdr: str | None = "candidates",
    mk_variance: str = "overlap",
    mid_p: bool = False,
) -> EmergingResult:
    """Emerging hot spots: space-time Gi*, Mann-Kendall on z, the 17 ArcGIS classes.

    ``trend_fdr``: ``"candidates"`` (default) BH over the locations whose class the trend
    decides (final slice hot and >= 90% hot, or the cold mirror) -- the family of trend
    calls that reach the map; ``"all"`` BH over every location's trend p (with 12 slices
    and thousands of cells this makes intensifying/diminishing unreachable: the smallest
    Mann-Kendall p of 12 values is 8e-6 (iid) or 9e-4 (overlap-corrected)); ``None``
    no adjustment (ArcGIS).
    ``mk_variance``: ``"overlap"`` (default) corrects Var(S) for the serial correlation
    of z that ``time_step > 0`` creates; ``"iid"`` as ArcGIS.
    Other parameters: :func:`space_time_gi` and :func:`classify_emerging`.
    """
    if not 0 < alpha < 1 or not 0 < trend_alpha < 1:
        raise SchemaError(f"alpha and trend_alpha must be in (0, 1); got {alpha}, {trend_alpha}.")
    if trend_fdr not in TREND_FDR_CHOICES:
        raise SchemaError(f"trend_fdr must be one of {TREND_FDR_CHOICES}, got {trend_fdr!r}.")
    gi = space_time_gi(
        cube,
        neighbours,
        time_step=time_step,
        fdr=fdr,
        p_method=p_method,
        global_window=global_window,
        mid_p=mid_p,
    )
    trend = mann_kendall(gi.z, variance=mk_variance, time_step=time_step)
    n = gi.z.shape[0]
    if trend_fdr == "all":
        trend_p = bh_adjust(trend.p)
    elif trend_fdr == "candidates":
        sig = gi.p <= alpha
        hot, cold = sig & (gi.z > 0), sig & (gi.z < 0)
        decides = (hot[-1] & (hot.sum(0) * 10 >= 9 * n)) | (cold[-1] & (cold.sum(0) * 10 >= 9 * n))
        trend_p = np.ones_like(trend.p)
        if decides.any():
            trend_p[decides] = bh_adjust(trend.p[decides])
    else:
        trend_p = trend.p
    labels = classify_emerging(gi.z, gi.p, trend.s, trend_p, alpha=alpha, trend_alpha=trend_alpha)
    return EmergingResult(
        labels=labels,
        gi=gi,
        trend=trend,
        trend_p=trend_p,
        label=describe(
            time_step=time_step,
            alpha=alpha,
            trend_alpha=trend_alpha,
            fdr=fdr,
            p_method=gi.p_method,
            global_window=global_window,
            trend_fdr=trend_fdr,
            mk_variance=mk_variance if time_step > 0 else "iid",
            mid_p=mid_p,
            empty_cells=int((np.asarray(cube) == 0).all(axis=0).sum()),
        ),
    )


def describe(
    *,
    time_step: int,
    alpha: float,
    trend_alpha: float,
    fdr: str | None,
    p_method: str,
    global_window: str,
    trend_fdr: str | None,
    mk_variance: str,
    mid_p: bool = False,
    empty_cells: int = 0,
) -> str:
    """One sentence: ArcGIS Emerging Hot Spot rules and every way this run departs from them."""
    same = [
        f"space-time Gi* (spatial ring x current and {time_step} previous slice(s))"
        if time_step
        else "Gi* in space only (ArcGIS neighbourhood time step 0)",
        "Entire-cube global window"
        if global_window == "cube"
        else "neighbourhood-time-step global window",
        f"bins at {alpha}",
        f"Mann-Kendall on Gi* z at {trend_alpha}",
        "17 ArcGIS classes",
    ]
    differs = []
    if p_method == "exact":
        differs.append(
            ("bin mid-p" if mid_p else "bin p")
            + " exact from the randomisation distribution of the neighbourhood count "
            "(ArcGIS: normal approximation)"
        )
    if fdr == "slice":
        differs.append("BH FDR within each time slice (ArcGIS: FDR, family not documented)")
    elif fdr == "cube":
        differs.append("BH FDR over all bins of the cube (ArcGIS: FDR, family not documented)")
    else:
        differs.append("no FDR on the bins (ArcGIS applies FDR)")
    if trend_fdr == "all":
        differs.append("trend test FDR-controlled across cells (ArcGIS: none)")
    elif trend_fdr == "candidates":
        differs.append(
            "trend test FDR-controlled across the cells whose class it decides (ArcGIS: none)"
        )
    if empty_cells:
        differs.append(
            f"{empty_cells:,} cells with no value in any slice are analysed "
            "(ArcGIS leaves out locations with no point in any time step)"
        )
    if mk_variance == "overlap":
        differs.append(
            "Mann-Kendall variance corrected for the overlap of consecutive time windows "
            "(ArcGIS: independence assumed)"
        )
    return (
        "ArcGIS Emerging Hot Spot rules; "
        + ", ".join(same)
        + "; differs from ArcGIS: "
        + "; ".join(differs)
    )
