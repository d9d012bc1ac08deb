"""Confidence intervals: exact Poisson rates, Wilson proportions, rate and proportion ratios, empirical-Bayes smoothing."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats as sps

from hotspots.core.errors import InputError, SchemaError
from hotspots.stops.classify import CONFIDENCE


def _z(confidence: float) -> float:
    if not 0 < confidence < 1:
        raise InputError(f"confidence {confidence} must be between 0 and 1.")
    return float(sps.norm.ppf(0.5 + confidence / 2))


def _plain(*arrays: np.ndarray) -> tuple:
    """Give scalars back as floats (numpy returns 0-d arrays for scalar inputs)."""
    return tuple(float(a) if np.ndim(a) == 0 else a for a in arrays)


def poisson_ci(
    count: float | np.ndarray, *, confidence: float = CONFIDENCE
) -> tuple[np.ndarray, np.ndarray]:
    """Exact (Garwood) confidence interval for a Poisson count.

    ``low = chi2.ppf(a/2, 2k) / 2`` (0 when ``k = 0``) and
    ``high = chi2.ppf(1 - a/2, 2k + 2) / 2``, with ``a = 1 - confidence``.

    Parameters
    ----------
    count
        Observed counts (>= 0).
    confidence
        Two-sided confidence level.

    Returns
    -------
    tuple of arrays
        Lower and upper limits for the expected count.
    """
    k = np.asarray(count, dtype=np.float64)
    alpha = 1 - confidence
    _z(confidence)
    with np.errstate(invalid="ignore"):
        low = np.where(k > 0, sps.chi2.ppf(alpha / 2, 2 * k) / 2, 0.0)
        high = sps.chi2.ppf(1 - alpha / 2, 2 * k + 2) / 2
    low = np.where(np.isnan(k), np.nan, low)
    return _plain(low, np.where(np.isnan(k), np.nan, high))


def wilson_ci(
    successes: float | np.ndarray, trials: float | np.ndarray, *, confidence: float = CONFIDENCE
) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for a proportion (NaN where there are no trials)."""
    k = np.asarray(successes, dtype=np.float64)
    n = np.asarray(trials, dtype=np.float64)
    z = _z(confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / n
        denom = 1 + z**2 / n
        centre = (p + z**2 / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denom
        low = np.where(n > 0, np.clip(centre - half, 0, 1), np.nan)
        high = np.where(n > 0, np.clip(centre + half, 0, 1), np.nan)
    return _plain(low, high)


RATIO_METHODS = ("exact", "log")


def rate_ratio_ci(
    count: float | np.ndarray,
    exposure: float | np.ndarray,
    ref_count: float | np.ndarray,
    ref_exposure: float | np.ndarray,
    *,
    method: str = "exact",
    confidence: float = CONFIDENCE,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ratio of two Poisson rates with a confidence interval.

    Parameters
    ----------
    count, exposure
        Events and person-count (e.g. residents) of the group compared.
    ref_count, ref_exposure
        The same for the reference group (White).
    method
        ``"exact"``: conditional binomial (Clopper-Pearson limits for
        ``p = count / (count + ref_count)``, mapped to ``p / (1 - p) * ref_exposure /
        exposure``); ``"log"``: Katz log method ``exp(log RR +- z sqrt(1/k + 1/k_ref))``,
        undefined (NaN) when either count is 0.
    confidence
        Two-sided confidence level.

    Returns
    -------
    tuple of arrays
        Ratio, lower and upper limit (NaN where undefined).
    """
    if method not in RATIO_METHODS:
        raise InputError(f"ratio method {method!r} must be one of {', '.join(RATIO_METHODS)}.")
    a = np.asarray(count, dtype=np.float64)
    na = np.asarray(exposure, dtype=np.float64)
    b = np.asarray(ref_count, dtype=np.float64)
    nb = np.asarray(ref_exposure, dtype=np.float64)
    alpha = 1 - confidence
    z = _z(confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = (a / na) / (b / nb)
        valid = (na > 0) & (nb > 0) & (b > 0)
        ratio = np.where(valid, ratio, np.nan)
        if method == "log":
            se = np.sqrt(1 / a + 1 / b)
            ok = valid & (a > 0)
            low = np.where(ok, np.exp(np.log(ratio) - z * se), np.nan)
            high = np.where(ok, np.exp(np.log(ratio) + z * se), np.nan)
            return _plain(ratio, low, high)
        n = a + b
        p_low = np.where(a > 0, sps.beta.ppf(alpha / 2, a, n - a + 1), 0.0)
        p_high = np.where(a < n, sps.beta.ppf(1 - alpha / 2, a + 1, n - a), 1.0)
        scale = nb / na
        low = np.where(valid, p_low / (1 - p_low) * scale, np.nan)
        high = np.where(valid, np.where(p_high < 1, p_high / (1 - p_high) * scale, np.inf), np.nan)
    return _plain(ratio, low, high)


def proportion_ratio_ci(
    successes: float | np.ndarray,
    trials: float | np.ndarray,
    ref_successes: float | np.ndarray,
    ref_trials: float | np.ndarray,
    *,
    confidence: float = CONFIDENCE,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ratio of two proportions (risk ratio) with a log-method (Katz) confidence interval.

    ``exp(log RR +- z sqrt(1/a - 1/n + 1/b - 1/m))``; NaN when a count or a trial total is
    zero.
    """
    a = np.asarray(successes, dtype=np.float64)
    n = np.asarray(trials, dtype=np.float64)
    b = np.asarray(ref_successes, dtype=np.float64)
    m = np.asarray(ref_trials, dtype=np.float64)
    z = _z(confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        valid = (n > 0) & (m > 0) & (b > 0)
        ratio = np.where(valid, (a / n) / (b / m), np.nan)
        se = np.sqrt(1 / a - 1 / n + 1 / b - 1 / m)
        ok = valid & (a > 0)
        low = np.where(ok, np.exp(np.log(ratio) - z * se), np.nan)
        high = np.where(ok, np.exp(np.log(ratio) + z * se), np.nan)
    return _plain(ratio, low, high)


def smooth_rates(
    counts: np.ndarray | pd.Series, populations: np.ndarray | pd.Series
) -> np.ndarray:
    """Marshall's global empirical-Bayes estimate of each area's rate (per person).

    With ``r_i = y_i / n_i``, ``m = sum(y) / sum(n)`` and
    ``s2 = sum(n_i (r_i - m)^2) / sum(n) - m / mean(n)`` (set to 0 if negative), each
    rate is shrunk towards ``m`` with weight ``w_i = s2 / (s2 + m / n_i)``:
    ``m + w_i (r_i - m)``. Small areas are pulled most (Marshall 1991, *Applied
    Statistics* 40:283-294). Areas with no residents get NaN.
    """
    y = np.asarray(counts, dtype=np.float64)
    n = np.asarray(populations, dtype=np.float64)
    if y.shape != n.shape:
        raise SchemaError("counts and populations must have the same length.")
    has = n > 0
    if not has.any():
        return np.full(len(y), np.nan)
    yh, nh = y[has], n[has]
    m = yh.sum() / nh.sum()
    r = yh / nh
    s2 = max(float((nh * (r - m) ** 2).sum() / nh.sum() - m / nh.mean()), 0.0)
    out = np.full(len(y), np.nan)
    if m == 0:
        out[has] = 0.0
        return out
    w = s2 / (s2 + m / nh)
    out[has] = m + w * (r - m)
    return out
