"""Scores of a flagged set of cells, ranking with seeded tie-breaks, flagging to an area share.

Hit rate, PAI, RRI (Levine; forecast/observed), PEI and PEI*; cells are flagged in rank
order to an exact share of the study area. They live with the methods because the
forecast's inner backtest scores with them as ``evaluate`` does (one definition for both).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from hotspots.core.errors import SchemaError

if TYPE_CHECKING:
    pass


def _vectors(flagged: object, *arrays: object) -> tuple[np.ndarray, ...]:
    """Check and return one flag array and same-length float arrays."""
    mask = np.asarray(flagged)
    if mask.ndim != 1 or mask.dtype != bool:
        raise SchemaError(
            f"flagged must be a 1-d boolean array (one flag per cell); got dtype {mask.dtype} "
            f"and shape {mask.shape}."
        )
    out: list[np.ndarray] = [mask]
    for array in arrays:
        values = np.asarray(array, dtype=np.float64)
        if values.shape != mask.shape:
            raise SchemaError(
                f"every array must hold one value per cell like flagged ({mask.shape[0]}); got "
                f"shape {values.shape}."
            )
        if not np.isfinite(values).all() or (values < 0).any():
            raise SchemaError(
                "counts, harm and areas must be finite and >= 0; fill cells without incidents "
                "with 0 (e.g. from space_time_cube) before scoring."
            )
        out.append(values)
    return tuple(out)


def safe_ratio(numerator: float, denominator: float) -> float:
    """Return ``numerator / denominator``, NaN when the denominator is not positive."""
    return float(numerator / denominator) if denominator > 0 else float("nan")


def hit_rate(flagged: np.ndarray, observed: np.ndarray) -> float:
    """Share of the observed incidents (or harm) that fall in flagged cells.

    Parameters
    ----------
    flagged
        One boolean per cell: flagged as a hotspot.
    observed
        Test-period incidents (or harm) per cell, >= 0.

    Returns
    -------
    float
        ``n / N`` in [0, 1]; NaN when nothing was observed.
    """
    mask, values = _vectors(flagged, observed)
    return safe_ratio(values[mask].sum(), values.sum())


def pai(flagged: np.ndarray, observed: np.ndarray, area: np.ndarray) -> float:
    """Predictive Accuracy Index: hit rate over the share of the area flagged.

    ``PAI = (n / N) / (a / A)`` (Chainey, Tompson & Uhlig 2008), with ``n`` of the ``N``
    test incidents in the flagged cells, whose area ``a`` is part of the total area ``A``.
    Flags placed at random give 1 on average; 10 means ten times the incidents per km²
    of an average place.

    Parameters
    ----------
    flagged
        One boolean per cell.
    observed
        Test incidents (or harm) per cell.
    area
        Area of each cell (any unit; only shares matter).

    Returns
    -------
    float
        NaN when nothing was observed or nothing was flagged.
    """
    mask, values, areas = _vectors(flagged, observed, area)
    share = safe_ratio(areas[mask].sum(), areas.sum())
    return safe_ratio(safe_ratio(values[mask].sum(), values.sum()), share)


def rri_levine(flagged: np.ndarray, observed: np.ndarray, train: np.ndarray) -> float:
    """Recapture Rate Index as defined by Levine (2008).

    ``RRI = (n2 / n1) / (N2 / N1)``: ``n1`` and ``n2`` are the training and test incidents
    in the flagged cells, ``N1`` and ``N2`` the training and test totals. It is 1 when the
    flagged cells keep their share of incidents from one period to the next, above 1 when
    they gain (the hotspots "recapture" more than their share), below 1 when they lose,
    which is what regression to the mean does to cells picked for their past counts.
    This is the definition in Levine, "The 'hottest' part of a hotspot", *Security
    Journal* 21 (2008) and in CrimeStat.

    Parameters
    ----------
    flagged
        One boolean per cell.
    observed
        Test incidents (or harm) per cell.
    train
        Training-window incidents (or harm) per cell.

    Returns
    -------
    float
        NaN when a denominator is 0 (no training incidents in the flagged cells, or none
        observed at all).
    """
    mask, test, past = _vectors(flagged, observed, train)
    return safe_ratio(
        safe_ratio(test[mask].sum(), past[mask].sum()), safe_ratio(test.sum(), past.sum())
    )


def rri_forecast(flagged: np.ndarray, observed: np.ndarray, forecast: np.ndarray) -> float:
    """Recapture Rate Index as predicted over observed incidents in the flagged cells.

    ``RRI = sum(forecast in flagged) / sum(observed in flagged)``, the definition of
    Wheeler & Steenbeek, "Mapping the risk terrain for crime using machine learning",
    *J. Quant. Criminol.* 37 (2021), as computed by the R package ``ptools`` (``pai``).
    1 is a calibrated forecast; above 1 the flagged cells got fewer incidents than
    forecast, below 1 more. (This one compares forecast and observed *counts*; no
    published rank-based variant was found.) In :func:`backtest` the forecast of every
    method is the training window's monthly mean times the horizon, the one forecast in
    incident units that every method shares.

    Parameters
    ----------
    flagged
        One boolean per cell.
    observed
        Test incidents (or harm) per cell.
    forecast
        Forecast incidents (or harm) per cell for the test period.

    Returns
    -------
    float
        NaN when no incident was observed in the flagged cells.
    """
    mask, test, predicted = _vectors(flagged, observed, forecast)
    return safe_ratio(predicted[mask].sum(), test[mask].sum())


def prefix_length(cumulative_area: np.ndarray, target: float) -> int:
    """Count the leading cells whose total area is closest to ``target`` (ties: fewer)."""
    j = int(np.searchsorted(cumulative_area, target, side="left"))
    if j >= len(cumulative_area):
        return len(cumulative_area)
    over = cumulative_area[j] - target
    under = target - (cumulative_area[j - 1] if j > 0 else 0.0)
    return j + 1 if over < under else j


def oracle_order(observed: np.ndarray, area: np.ndarray) -> np.ndarray:
    """Return the cells by observed density, highest first (ties by position)."""
    density = np.divide(observed, area, out=np.zeros_like(observed), where=area > 0)
    return np.argsort(-density, kind="stable")


def pei(flagged: np.ndarray, observed: np.ndarray, area: np.ndarray) -> float:
    """Predictive Efficiency Index: the PAI over the best PAI of the same area.

    ``PEI = PAI / PAI*`` (Hunt 2016, "Do crime hot spots move?"), where ``PAI*`` is the
    PAI of a perfect forecast flagging the same area: the cells with the most observed
    incidents per km², taken until their area is closest to the flagged area. With cells
    of equal area this is ``n / n*``, the incidents captured over the most any selection
    of that area could capture, between 0 and 1 (with unequal cells it can pass 1 by the
    half-cell rounding of the perfect selection's area).

    Parameters
    ----------
    flagged
        One boolean per cell.
    observed
        Test incidents (or harm) per cell.
    area
        Area of each cell.

    Returns
    -------
    float
        NaN when nothing was observed or nothing was flagged.
    """
    mask, values, areas = _vectors(flagged, observed, area)
    order = oracle_order(values, areas)
    cumulative = np.cumsum(areas[order])
    k = prefix_length(cumulative, float(areas[mask].sum()))
    best = np.zeros_like(mask)
    best[order[:k]] = True
    return safe_ratio(pai(mask, values, areas), pai(best, values, areas))


def pei_star(flagged: np.ndarray, observed: np.ndarray) -> float:
    """PEI*: incidents captured over the most the same number of cells could capture.

    ``PEI* = n / n*_k`` where ``k`` cells were flagged and ``n*_k`` is the sum of the
    ``k`` largest observed values (White, Hunt & Green, "A discussion of current crime
    forecasting indices and an improvement to the prediction efficiency index",
    *Security Journal* 2023; the efficiency measure of NIJ's Real-Time Crime Forecasting
    Challenge). It counts patrol places rather than km², so it is between 0 and 1 whatever
    the cell areas.

    Parameters
    ----------
    flagged
        One boolean per cell.
    observed
        Test incidents (or harm) per cell.

    Returns
    -------
    float
        NaN when the best ``k`` cells hold nothing (or nothing was flagged).
    """
    mask, values = _vectors(flagged, observed)
    k = int(mask.sum())
    best = np.sort(values)[::-1][:k].sum()
    return safe_ratio(values[mask].sum(), best)


def tie_break_order(n_cells: int, *, seed: int | None) -> np.ndarray:
    """Return a seeded random priority per cell (0 = first) for breaking ties.

    Parameters
    ----------
    n_cells
        Number of cells.
    seed
        Seed of ``numpy.random.default_rng``.
    """
    return np.random.default_rng(seed).permutation(n_cells)


def rank_cells(*keys: np.ndarray, tie_break: np.ndarray) -> np.ndarray:
    """Order cells by one or more scores, highest first, then by ``tie_break``.

    Parameters
    ----------
    *keys
        Scores per cell, the first most important (e.g. cluster harm, then cell harm).
        NaN ranks below every number.
    tie_break
        A priority per cell, lowest first (e.g. from :func:`tie_break_order`), which
        settles every remaining tie, so the order is total and reproducible.

    Returns
    -------
    numpy.ndarray
        Cell positions, best first.
    """
    if not keys:
        raise SchemaError("rank_cells needs at least one score array.")
    priority = np.asarray(tie_break)
    columns = []
    for key in keys:
        values = np.asarray(key, dtype=np.float64)
        if values.shape != priority.shape:
            raise SchemaError(
                f"scores and tie_break must hold one value per cell; got {values.shape} and "
                f"{priority.shape}."
            )
        columns.append(-np.where(np.isnan(values), -np.inf, values))
    return np.lexsort((priority, *reversed(columns)))


def flag_top_area(order: np.ndarray, area: np.ndarray, *, share: float) -> np.ndarray:
    """Flag the leading cells of ``order`` whose area is closest to ``share`` of the total.

    Parameters
    ----------
    order
        Cell positions, best first (from :func:`rank_cells`).
    area
        Area per cell.
    share
        Target share of the total area, in (0, 1].

    Returns
    -------
    numpy.ndarray
        One boolean per cell. The flagged area is within half a cell of the target, and
        cells enter by rank, never by a score threshold, so ties cannot inflate it.
    """
    if not 0 < share <= 1:
        raise SchemaError(f"share must be in (0, 1], e.g. 0.05 for 5%; got {share}.")
    areas = np.asarray(area, dtype=np.float64)
    ranked = np.asarray(order)
    if sorted(ranked.tolist()) != list(range(len(areas))):
        raise SchemaError("order must list every cell position exactly once (see rank_cells).")
    k = prefix_length(np.cumsum(areas[ranked]), share * float(areas.sum()))
    flagged = np.zeros(len(areas), dtype=bool)
    flagged[ranked[:k]] = True
    return flagged


# --- every share at once along one ranking (inner backtests) -----------------------------


@dataclass(frozen=True)
class Oracle:
    """Cumulative sums of the perfect selection for one target (for PEI)."""

    cum_area: np.ndarray
    cum_value: np.ndarray
    total_value: float
    total_area: float


def make_oracle(observed: np.ndarray, area: np.ndarray) -> Oracle:
    """Precompute the perfect (observed-density) ordering of one test target."""
    observed = np.asarray(observed, dtype=np.float64)
    order = oracle_order(observed, area)
    return Oracle(
        np.cumsum(area[order]),
        np.cumsum(observed[order]),
        float(observed.sum()),
        float(area.sum()),
    )


def score_order(
    order: np.ndarray,
    observed: np.ndarray,
    area: np.ndarray,
    shares: Sequence[float],
    oracle: Oracle | None = None,
) -> dict[str, np.ndarray]:
    """PAI, PEI and hit rate of a ranking at several area shares (cumulative sums).

    Equal to :func:`pai` / :func:`pei` on the flags of :func:`flag_top_area`, in one pass
    over cumulative sums for every share (a test checks this).

    Parameters
    ----------
    order
        Places, best first.
    observed
        Test total per place.
    area
        Area per place.
    shares
        Area shares in (0, 1].
    oracle
        From :func:`make_oracle` for ``observed`` (computed when ``None``).

    Returns
    -------
    dict
        ``pai``, ``pei``, ``hit_rate``, ``area_share`` arrays, one value per share.
    """
    observed = np.asarray(observed, dtype=np.float64)
    oracle = oracle or make_oracle(observed, area)
    cum_area = np.cumsum(area[order])
    cum_obs = np.cumsum(observed[order])
    out = {k: np.empty(len(shares)) for k in ("pai", "pei", "hit_rate", "area_share")}
    for i, s in enumerate(shares):
        k = prefix_length(cum_area, s * oracle.total_area)
        a = float(cum_area[k - 1]) if k else 0.0
        n = float(cum_obs[k - 1]) if k else 0.0
        share = a / oracle.total_area
        hit = safe_ratio(n, oracle.total_value)
        p = safe_ratio(hit, share)
        kb = prefix_length(oracle.cum_area, a)
        nb = float(oracle.cum_value[kb - 1]) if kb else 0.0
        ab = float(oracle.cum_area[kb - 1]) if kb else 0.0
        best = safe_ratio(safe_ratio(nb, oracle.total_value), safe_ratio(ab, oracle.total_area))
        out["pai"][i], out["pei"][i], out["hit_rate"][i], out["area_share"][i] = (
            p,
            safe_ratio(p, best),
            hit,
            share,
        )
    return out
