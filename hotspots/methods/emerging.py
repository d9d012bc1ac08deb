"""Emerging hot spots: per-month Gi* and a Mann-Kendall trend, classified as ArcGIS does.

The method follows ArcGIS Pro's "Emerging Hot Spot Analysis" (Space Time Pattern Mining
toolbox, "How Emerging Hot Spot Analysis works"):

1. a space-time cube holds one value per cell and month, zeros included
   (:func:`space_time_cube`);
2. every bin (cell, month) gets a Gi* z-score and p-value, with a false-discovery-rate
   correction (:func:`gi_by_month`);
3. the Mann-Kendall test gives the trend of each cell's Gi* z-scores over the months
   (:func:`mann_kendall`);
4. the pattern of significant hot/cold bins plus that trend put each cell in one class
   (:func:`emerging_hotspots`; the rules are written out there).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.special import ndtr

from hotspots.core import schema
from hotspots.core.errors import SchemaError
from hotspots.methods.gi import (
    ANALYTIC,
    P_SOURCES,
    PERMUTATION,
    _check_weights,
    _gi_frame,
    benjamini_hochberg,
    h3_neighbours,
)

# --- class labels ---------------------------------------------------------------------
NEW, CONSECUTIVE, INTENSIFYING, PERSISTENT = "new", "consecutive", "intensifying", "persistent"
DIMINISHING, SPORADIC, OSCILLATING, HISTORICAL = (
    "diminishing",
    "sporadic",
    "oscillating",
    "historical",
)
NO_PATTERN = "no_pattern"
HOT_PATTERNS = (
    NEW,
    CONSECUTIVE,
    INTENSIFYING,
    PERSISTENT,
    DIMINISHING,
    SPORADIC,
    OSCILLATING,
    HISTORICAL,
)
"""Hot-spot patterns, named as in ArcGIS without the words "hot spot"."""
COLD_PATTERNS = tuple(f"{name}_cold" for name in HOT_PATTERNS)
"""The cold-spot equivalents: ``new_cold``, ``consecutive_cold``, ..."""
EMERGING_CLASSES = (*HOT_PATTERNS, *COLD_PATTERNS, NO_PATTERN)
"""Every label of the ``trend`` column."""

# --- output columns ---------------------------------------------------------------------
TREND = "trend"
MK_S = "mk_s"
MK_TAU = "mk_tau"
MK_Z = "mk_z"
MK_P = "mk_p"
HOT_SLICES = "hot_slices"
COLD_SLICES = "cold_slices"
FINAL_GI_Z = "final_gi_z"
EMERGING_COLUMNS = (TREND, MK_S, MK_TAU, MK_Z, MK_P, HOT_SLICES, COLD_SLICES, FINAL_GI_Z)

SHARE_MOST = 0.9
"""The "ninety percent of the time-step intervals" of the ArcGIS definitions."""
MIN_SLICES = 3


# --- the cube -----------------------------------------------------------------------------


def space_time_cube(
    incidents: pd.DataFrame,
    cells: pd.DataFrame,
    *,
    value: str | None = schema.HARM,
    months: Sequence[str | pd.Period] | pd.PeriodIndex | None = None,
) -> pd.DataFrame:
    """Sum a value (or count incidents) per cell and month, zeros included.

    Parameters
    ----------
    incidents
        Tidy incidents with ``month`` (period[M]) and ``cell_id`` columns.
    cells
        The grid (from :func:`hotspots.make_grid`), indexed by ``cell_id``. Every cell is
        a row of the cube, with or without incidents.
    value
        Incident column to sum, e.g. ``"harm"``; ``None`` counts incidents.
    months
        Months to use, e.g. ``["2023-09", ..., "2024-08"]``. ``None``: every month from
        the first to the last in ``incidents``, months with no incidents included.
        Incidents in other months are left out (a selection, not an error).

    Returns
    -------
    DataFrame
        Cells x months of float64, indexed like ``cells``; columns are a sorted
        ``PeriodIndex`` named ``month``. Incidents without a cell are not counted (as in
        :func:`hotspots.count_in_cells`).

    Raises
    ------
    SchemaError
        If a column is missing, no month is given, or incidents name unknown cells.
    """
    needed = [schema.MONTH, schema.CELL_ID] + ([] if value is None else [value])
    schema.require_columns(incidents, needed, name="incidents")
    placed = incidents[incidents[schema.CELL_ID].notna()]
    unknown = pd.Index(placed[schema.CELL_ID].unique()).difference(cells.index)
    if len(unknown):
        raise SchemaError(
            f"{len(unknown)} cell_id value(s) in incidents are not in cells, e.g. "
            f"{sorted(map(str, unknown))[:3]}; build the grid over the same study area and "
            "resolution as the incidents."
        )
    incident_months = pd.PeriodIndex(placed[schema.MONTH], freq="M")
    if months is None:
        if len(placed) == 0:
            raise SchemaError(
                "incidents hold no placed rows, so the months are unknown; pass months=."
            )
        columns = pd.period_range(incident_months.min(), incident_months.max(), freq="M")
    else:
        columns = pd.PeriodIndex(pd.Index(list(months)).unique(), freq="M").sort_values()
        if len(columns) == 0:
            raise SchemaError("months is empty; pass at least one month, e.g. ['2024-01'].")
    columns = columns.rename(schema.MONTH)
    row = cells.index.get_indexer(placed[schema.CELL_ID])
    col = columns.get_indexer(incident_months)
    inside = col >= 0
    weights = None if value is None else placed[value].to_numpy(dtype=np.float64)[inside]
    flat = np.bincount(
        row[inside] * len(columns) + col[inside],
        weights=weights,
        minlength=len(cells) * len(columns),
    ).astype(np.float64)
    return pd.DataFrame(flat.reshape(len(cells), len(columns)), index=cells.index, columns=columns)


# --- Mann-Kendall -------------------------------------------------------------------------


def mann_kendall(series: pd.DataFrame | np.ndarray, *, continuity: bool = True) -> pd.DataFrame:
    """Mann-Kendall trend test on every row at once, with the correction for ties.

    Parameters
    ----------
    series
        One row per cell, one column per time step, in time order (e.g. Gi* z-scores).
    continuity
        Apply the continuity correction, ``z = (S - sign(S)) / sqrt(Var S)`` (Gilbert
        1987; R's ``Kendall::MannKendall``). ``False`` gives ``S / sqrt(Var S)``, as
        ``scipy.stats.kendalltau(time, x, method="asymptotic")``.

    Returns
    -------
    DataFrame
        Indexed like ``series`` (a RangeIndex for arrays), with

        ``mk_s``
            ``S = sum over i < j of sign(x_j - x_i)``.
        ``mk_tau``
            Kendall's tau-b between time and the series,
            ``S / sqrt(n0 (n0 - n1))`` with ``n0 = n(n-1)/2`` and ``n1`` the tied pairs
            (equal to ``scipy.stats.kendalltau(range(n), x)``; NaN for a constant row).
        ``mk_z``
            Normal score; ``Var S = (n(n-1)(2n+5) - sum_t t(t-1)(2t+5)) / 18`` over
            groups of ``t`` tied values. 0 where ``Var S`` is 0.
        ``mk_p``
            Two-sided p-value of ``mk_z``.
    """
    index = series.index if isinstance(series, pd.DataFrame) else None
    x = np.asarray(series, dtype=np.float64)
    if x.ndim != 2:
        raise SchemaError(f"series must be 2-d (rows x time steps); got shape {x.shape}.")
    if np.isnan(x).any():
        raise SchemaError("series hold NaN; Mann-Kendall needs a value at every time step.")
    rows, n = x.shape
    s = np.zeros(rows)
    equal_count = np.ones((rows, n))  # t for every value (itself included)
    for lag in range(1, n):
        later, earlier = x[:, lag:], x[:, :-lag]
        s += np.sign(later - earlier).sum(axis=1)
        same = later == earlier
        equal_count[:, lag:] += same
        equal_count[:, :-lag] += same
    ties = ((equal_count - 1.0) * (2.0 * equal_count + 5.0)).sum(axis=1)
    # sum over values of (t-1)(2t+5) = sum over groups of t(t-1)(2t+5)
    variance = (n * (n - 1) * (2 * n + 5) - ties) / 18.0
    tied_pairs = (equal_count - 1.0).sum(axis=1) / 2.0  # sum over groups of t(t-1)/2
    n0 = n * (n - 1) / 2.0
    numerator = s - np.sign(s) if continuity else s
    z = np.zeros(rows)
    np.divide(numerator, np.sqrt(np.maximum(variance, 0.0)), out=z, where=variance > 0)
    tau = np.full(rows, np.nan)
    denominator = np.sqrt(n0 * (n0 - tied_pairs))
    np.divide(s, denominator, out=tau, where=denominator > 0)
    return pd.DataFrame(
        {MK_S: s, MK_TAU: tau, MK_Z: z, MK_P: 2.0 * ndtr(-np.abs(z))},
        index=index if index is not None else pd.RangeIndex(rows),
    )


# --- Gi* per month -------------------------------------------------------------------------


class GiCube(NamedTuple):
    """Gi* for every bin of a space-time cube (cells x months)."""

    z: pd.DataFrame
    """Gi* z-score of each bin."""
    p: pd.DataFrame
    """The p-value that decides significance: two-sided, FDR-adjusted over the cube if asked."""


def gi_by_month(
    cube: pd.DataFrame,
    weights: sp.spmatrix | sp.sparray,
    *,
    time_steps: int = 0,
    fdr: bool = True,
    permutations: int = 0,
    seed: int | None = None,
    p_from: str = ANALYTIC,
) -> GiCube:
    """Gi* z and p for every cell and month of a space-time cube.

    Parameters
    ----------
    cube
        Cells x months from :func:`space_time_cube`.
    weights
        Spatial Gi* weights in the row order of ``cube`` (self included), e.g.
        ``h3_neighbours(cube.index)``.
    time_steps
        ``0`` (default): neighbours in space only. Each month is a separate Gi* run
        against that month's own mean and spread, so a city-wide seasonal rise does not
        make every cell hot. ``>= 1``: the neighbourhood of bin (cell, month) also holds
        the same spatial neighbours in the previous ``time_steps`` months (ArcGIS's
        "neighbourhood time step"), and each bin is compared with the whole cube's mean
        and spread (ArcGIS's "entire cube" global window); the first months have fewer
        neighbours.
    fdr
        Adjust the p-values by Benjamini-Hochberg over all bins of the cube (ArcGIS
        applies its FDR correction to the bins).
    permutations, seed, p_from
        As in :func:`hotspots.methods.gi.gi_star`; with ``p_from="permutation"`` the pseudo p
        decides significance. Month ``t`` uses the ``t``-th seed spawned from ``seed``.

    Returns
    -------
    GiCube
        ``z`` and ``p``, both cells x months.
    """
    if cube.shape[1] == 0:
        raise SchemaError("the cube has no months.")
    values = cube.to_numpy(dtype=np.float64)
    if not np.isfinite(values).all():
        raise SchemaError("the cube holds NaN or infinite values; use 0 where nothing happened.")
    n, months = values.shape
    matrix = _check_weights(weights, n)
    if time_steps < 0:
        raise SchemaError(f"time_steps must be >= 0, got {time_steps}.")
    if p_from not in P_SOURCES:
        raise SchemaError(f"p_from must be one of {list(P_SOURCES)}, got {p_from!r}.")
    if p_from == PERMUTATION and permutations <= 0:
        raise SchemaError("p_from='permutation' needs permutations > 0 (e.g. permutations=999).")
    levels = (0.05,)
    column = "gi_p" if p_from == ANALYTIC else "gi_p_perm"
    if time_steps == 0:
        seeds = np.random.SeedSequence(seed).spawn(months)
        z = np.empty((n, months))
        p = np.empty((n, months))
        for t in range(months):
            month_seed = int(seeds[t].generate_state(1)[0]) if seed is not None else None
            frame = _gi_frame(
                values[:, t],
                pd.RangeIndex(n),
                matrix,
                permutations,
                month_seed,
                False,
                p_from,
                levels,
            )
            z[:, t] = frame["gi_z"].to_numpy()
            p[:, t] = frame[column].to_numpy()
    else:
        lags = sp.diags(
            [np.ones(months - d) for d in range(min(time_steps, months - 1) + 1)],
            [-d for d in range(min(time_steps, months - 1) + 1)],
            shape=(months, months),
            format="csr",
        )
        stacked = sp.kron(lags, matrix, format="csr")  # bin (t, i) -> row t * n + i
        frame = _gi_frame(
            values.T.ravel(),
            pd.RangeIndex(n * months),
            stacked,
            permutations,
            seed,
            False,
            p_from,
            levels,
        )
        z = frame["gi_z"].to_numpy().reshape(months, n).T
        p = frame[column].to_numpy().reshape(months, n).T
    if fdr:
        p = benjamini_hochberg(p)
    return GiCube(
        z=pd.DataFrame(z, index=cube.index, columns=cube.columns),
        p=pd.DataFrame(p, index=cube.index, columns=cube.columns),
    )


# --- classes --------------------------------------------------------------------------------


def emerging_hotspots(
    cube: pd.DataFrame,
    weights: sp.spmatrix | sp.sparray,
    *,
    alpha: float = 0.05,
    trend_alpha: float | None = None,
    fdr: bool = True,
    time_steps: int = 0,
    permutations: int = 0,
    seed: int | None = None,
    p_from: str = ANALYTIC,
) -> pd.DataFrame:
    """Classify every cell as a new, consecutive, intensifying, ... hot or cold spot.

    Each bin (cell, month) gets a Gi* z and p (:func:`gi_by_month`); the bin is a
    *significant hot* bin when ``p <= alpha`` and ``z > 0``, a *significant cold* bin when
    ``p <= alpha`` and ``z < 0``. The trend is the Mann-Kendall test on the cell's Gi*
    z-scores in time order (:func:`mann_kendall`): *up* when ``S > 0`` and
    ``p <= trend_alpha``, *down* when ``S < 0`` and ``p <= trend_alpha``, else none.

    ArcGIS Pro's published definitions (paraphrased; "90%" means at least 90% of the
    time-step intervals):

    - **new**: a significant hot spot in the final time step that has never been a
      significant hot spot before.
    - **consecutive**: a single uninterrupted run of at least two significant hot bins
      in the final time steps; never a significant hot spot before that run, and less
      than 90% of all bins are significant hot spots.
    - **intensifying**: a significant hot spot for 90% of the time steps, including the
      final one, and the intensity of clustering of high values is increasing overall,
      significantly.
    - **persistent**: a significant hot spot for 90% of the time steps with no
      discernible trend in the intensity of clustering.
    - **diminishing**: as intensifying, but the intensity is decreasing significantly.
    - **sporadic**: a significant hot spot in the final time step with a history of being
      an on-again, off-again hot spot; less than 90% of the time steps significant hot
      spots and none significant cold spots.
    - **oscillating**: a significant hot spot in the final time step that has been a
      significant cold spot in a prior time step; less than 90% of the time steps
      significant hot spots.
    - **historical**: the most recent time step is not hot, but at least 90% of the time
      steps have been significant hot spots.
    - **no_pattern**: none of these, hot or cold.

    The cold patterns (``new_cold``, ..., ``historical_cold``) are the same with hot and
    cold swapped; *intensifying* cold means the z-scores trend significantly *down*
    (ever colder) and *diminishing* cold means they trend up.

    Exact rules used here, with ``n`` months, ``h``/``c`` the numbers of significant
    hot/cold bins, "most" meaning ``h >= 0.9 n`` (for cold: ``c >= 0.9 n``) and the
    *final run* the unbroken run of hot bins that ends in the final month. Where the
    definitions overlap, the final month decides the family (hot or cold) and the rules
    are tried in this order:

    If the final month is a significant hot bin:

    1. most hot: ``intensifying`` if the trend is up, ``diminishing`` if down, else
       ``persistent``;
    2. else, any cold bin: ``oscillating``;
    3. else ``h == 1``: ``new``;
    4. else the final run has length ``h`` (>= 2; no hot bin before it): ``consecutive``;
    5. else (hot bins before the final run, none cold): ``sporadic``.

    If the final month is a significant cold bin: the same with hot and cold swapped,
    giving the ``*_cold`` labels (``intensifying_cold`` when the trend is down).

    If the final month is not significant: ``historical`` when most bins are hot,
    ``historical_cold`` when most are cold, else ``no_pattern``.

    Two consequences worth knowing: with fewer than 10 months "90%" means every month
    (ArcGIS asks for at least 10 time steps), and a cell that was hot for 90% of the
    months and is cold in the final month is ``oscillating_cold`` (both it and
    ``historical`` fit the published wording). Persistent, intensifying and diminishing
    require the final month hot here; with it not hot the cell is ``historical``.

    Parameters
    ----------
    cube
        Cells x months, from :func:`space_time_cube` (at least 3 months).
    weights
        Spatial Gi* weights in the row order of ``cube`` (self included).
    alpha
        Significance level of a hot or cold bin (ArcGIS: 0.05 with FDR).
    trend_alpha
        Significance level of the Mann-Kendall trend; ``None`` uses ``alpha``.
    fdr, time_steps, permutations, seed, p_from
        See :func:`gi_by_month`. By default Gi* is per month, in space only, analytic,
        with Benjamini-Hochberg over all bins.

    Returns
    -------
    DataFrame
        Indexed like ``cube``: ``trend`` (categorical, labels in ``EMERGING_CLASSES``),
        ``mk_s``, ``mk_tau``, ``mk_z``, ``mk_p`` (Mann-Kendall on the Gi* z-scores, with
        continuity and ties corrections), ``hot_slices`` and ``cold_slices`` (``h``, ``c``)
        and ``final_gi_z``.
    """
    if cube.shape[1] < MIN_SLICES:
        raise SchemaError(
            f"emerging hot spots need at least {MIN_SLICES} months; the cube has "
            f"{cube.shape[1]} (ArcGIS asks for 10)."
        )
    if not 0 < alpha < 1:
        raise SchemaError(f"alpha must be between 0 and 1, got {alpha}.")
    trend_alpha = alpha if trend_alpha is None else trend_alpha
    gi = gi_by_month(
        cube,
        weights,
        time_steps=time_steps,
        fdr=fdr,
        permutations=permutations,
        seed=seed,
        p_from=p_from,
    )
    z = gi.z.to_numpy()
    significant = gi.p.to_numpy() <= alpha
    trend = mann_kendall(z)
    labels = classify_patterns(
        z, significant, trend[MK_S].to_numpy(), trend[MK_P].to_numpy() <= trend_alpha
    )
    hot = significant & (z > 0)
    cold = significant & (z < 0)
    return pd.DataFrame(
        {
            TREND: pd.Categorical(labels, categories=list(EMERGING_CLASSES)),
            MK_S: trend[MK_S].to_numpy(),
            MK_TAU: trend[MK_TAU].to_numpy(),
            MK_Z: trend[MK_Z].to_numpy(),
            MK_P: trend[MK_P].to_numpy(),
            HOT_SLICES: hot.sum(axis=1).astype(np.int64),
            COLD_SLICES: cold.sum(axis=1).astype(np.int64),
            FINAL_GI_Z: z[:, -1],
        },
        index=cube.index,
    )


def classify_patterns(
    z: np.ndarray, significant: np.ndarray, mk_s: np.ndarray, trend_significant: np.ndarray
) -> np.ndarray:
    """Apply the rules of :func:`emerging_hotspots` to arrays (cells x months).

    Parameters
    ----------
    z
        Gi* z-scores, cells x months in time order.
    significant
        Whether each bin is significant.
    mk_s
        Mann-Kendall S of each cell's z-scores (its sign is the trend's direction).
    trend_significant
        Whether each cell's trend is significant.

    Returns
    -------
    numpy.ndarray
        One label per cell (object strings from ``EMERGING_CLASSES``).
    """
    z = np.asarray(z, dtype=np.float64)
    significant = np.asarray(significant, dtype=bool)
    n = z.shape[1]
    hot = significant & (z > 0)
    cold = significant & (z < 0)
    up = np.asarray(trend_significant, dtype=bool) & (np.asarray(mk_s) > 0)
    down = np.asarray(trend_significant, dtype=bool) & (np.asarray(mk_s) < 0)
    labels = np.full(z.shape[0], NO_PATTERN, dtype=object)

    def family(
        mine: np.ndarray, other: np.ndarray, stronger: np.ndarray, weaker: np.ndarray, suffix: str
    ) -> None:
        count = mine.sum(axis=1)
        most = count * 10 >= 9 * n  # at least 90%, exactly in integers
        final = mine[:, -1]
        # length of the unbroken run of `mine` that ends in the final month
        broken = ~mine[:, ::-1]
        run = np.where(broken.any(axis=1), broken.argmax(axis=1), n)
        rules = [
            (final & most & stronger, INTENSIFYING),
            (final & most & weaker, DIMINISHING),
            (final & most, PERSISTENT),
            (final & other.any(axis=1), OSCILLATING),
            (final & (count == 1), NEW),
            (final & (run == count) & (run >= 2), CONSECUTIVE),
            (final, SPORADIC),
        ]
        assigned = np.zeros(len(labels), dtype=bool)
        for mask, name in rules:
            take = mask & ~assigned
            labels[take] = name + suffix
            assigned |= take
        labels[~mine[:, -1] & ~other[:, -1] & most] = HISTORICAL + suffix

    family(hot, cold, up, down, "")
    family(cold, hot, down, up, "_cold")
    return labels


# --- front end for ``hotspots detect`` -----------------------------------------------------


class TrendsForDetect(NamedTuple):
    """Emerging hot-spot classes and their description, as ``hotspots detect`` records them."""

    trends: pd.Series
    """The ``trend`` label of every cell."""
    choice: str
    """One readable sentence: months, neighbours, significance, counts per class."""
    parameters: dict[str, Any]
    """The same, machine-readable, for the manifest."""


def trends_for_detect(
    incidents: pd.DataFrame,
    cells: pd.DataFrame,
    *,
    value: str = schema.HARM,
    k: int = 1,
    fdr: bool = True,
    alpha: float = 0.05,
) -> TrendsForDetect:
    """Build the monthly cube, run :func:`emerging_hotspots` and describe the choices.

    Parameters
    ----------
    incidents
        Tidy incidents with ``month``, ``cell_id`` and ``value``.
    cells
        The grid, indexed by H3 ``cell_id``.
    value
        Incident column summed per cell and month (harm by default).
    k
        H3 k-ring of the spatial neighbours.
    fdr, alpha
        See :func:`emerging_hotspots`.

    Returns
    -------
    TrendsForDetect
        ``(trends, choice, parameters)``; unpacks like a tuple.
    """
    cube = space_time_cube(incidents, cells, value=value)
    weights = h3_neighbours(cells.index, k=k)
    result = emerging_hotspots(cube, weights, alpha=alpha, fdr=fdr)
    counts = result[TREND].value_counts()
    found = ", ".join(
        f"{int(counts[label]):,} {label}" for label in EMERGING_CLASSES if counts.get(label, 0)
    )
    months = cube.columns
    choice = (
        f"emerging hot spots over {len(months)} months ({months[0]}..{months[-1]}) of {value} "
        f"per cell: Gi* per month with H3 k={k} neighbours (space only), bins significant at "
        f"p <= {alpha}{' after Benjamini-Hochberg over all bins' if fdr else ''}, Mann-Kendall "
        f"trend of each cell's Gi* z at {alpha}, ArcGIS pattern rules: {found}"
    )
    parameters: dict[str, Any] = {
        "value": value,
        "months": len(months),
        "first_month": str(months[0]),
        "last_month": str(months[-1]),
        "neighbours": "h3_k_ring",
        "k": k,
        "time_steps": 0,
        "alpha": alpha,
        "trend_alpha": alpha,
        "fdr": "benjamini_hochberg_all_bins" if fdr else None,
        "p_value": "analytic two-sided",
        "trend_test": "mann_kendall_on_gi_z",
        "classes": {label: int(counts.get(label, 0)) for label in EMERGING_CLASSES},
    }
    return TrendsForDetect(result[TREND].astype(object), choice, parameters)
