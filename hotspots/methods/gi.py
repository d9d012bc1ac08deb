"""Local Getis-Ord Gi* on H3 cells or polygons, with FDR control and permutation inference.

Gi* (Getis & Ord 1992; Ord & Getis 1995) compares the total of a value in a cell's
neighbourhood, the cell itself included (the "star"), with what the study-area mean
would give::

    z_i = (sum_j w_ij x_j - xbar W_i) / (S sqrt((n S1_i - W_i^2) / (n - 1)))

where ``W_i = sum_j w_ij``, ``S1_i = sum_j w_ij^2``, ``xbar`` is the mean and ``S`` the
population standard deviation (divisor ``n``) of all ``n`` values. With binary weights
(``S1_i = W_i``) this is exactly ``esda.G_Local(y, w, transform="B", star=True).Zs``
(tested to 1e-6 on real cells). Note that esda's *default* ``transform="R"``
row-standardises the weights and gives a different z.

Two p-values are reported side by side, because on skewed, zero-heavy crime values they
can disagree sharply (see :func:`gi_star`):

* ``gi_p``: two-sided p from the standard normal, ``2 * (1 - Phi(|z|))``;
* ``gi_p_perm``: two-sided pseudo p from conditional permutations (optional).

Benjamini-Hochberg adjusted versions (``gi_p_fdr``, ``gi_p_perm_fdr``) control the
false-discovery rate over all cells, and ``gi_class`` says hot or cold at 90/95/99%.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any, NamedTuple

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import scipy.sparse as sp
import shapely
from scipy.special import ndtr

from hotspots.core.errors import SchemaError
from hotspots.methods.gi_exact import exact_tails

# --- output columns (the ``detect`` contract) ---------------------------------------------
GI_Z = "gi_z"
"""Gi* z-score."""
GI_P = "gi_p"
"""Two-sided p-value of ``gi_z`` under the standard normal (analytic)."""
GI_P_FDR = "gi_p_fdr"
"""``gi_p`` adjusted by Benjamini-Hochberg over all cells."""
GI_P_PERM = "gi_p_perm"
"""Two-sided pseudo p-value from conditional permutations (NaN without permutations)."""
GI_P_PERM_FDR = "gi_p_perm_fdr"
"""``gi_p_perm`` adjusted by Benjamini-Hochberg (NaN without permutations)."""
GI_CLASS = "gi_class"
"""Hot/cold class at 90/95/99% confidence, or ``not_significant``."""

GI_COLUMNS = (GI_Z, GI_P, GI_P_FDR, GI_P_PERM, GI_P_PERM_FDR, GI_CLASS)

EXPOSED = "exposed"
"""Cells table column: True where an incident was recorded over the whole history."""

HOT_99, HOT_95, HOT_90 = "hot_99", "hot_95", "hot_90"
COLD_99, COLD_95, COLD_90 = "cold_99", "cold_95", "cold_90"
NOT_SIGNIFICANT = "not_significant"
NO_DATA = "no_data"
"""A cell with no exposure (no incident over the whole history) that is not hot: it cannot
be called cold, because low counts there say nothing about risk (river, parks)."""
GI_CLASSES = (NO_DATA, COLD_99, COLD_95, COLD_90, NOT_SIGNIFICANT, HOT_90, HOT_95, HOT_99)
"""Every ``gi_class`` label: ``no_data`` first, then from the coldest to the hottest."""

_CLASS_DTYPE = pd.CategoricalDtype(list(GI_CLASSES), ordered=True)

ALPHA_LEVELS = (0.10, 0.05, 0.01)
"""Significance levels of the classes: 90%, 95% and 99% confidence."""
_CONFIDENCE = {0.10: 90, 0.05: 95, 0.01: 99}

EXACT = "exact"
ANALYTIC = "analytic"
PERMUTATION = "permutation"
P_SOURCES = (EXACT, ANALYTIC, PERMUTATION)

CONTIGUITY = ("queen", "rook")


# --- neighbours --------------------------------------------------------------------------


def h3_neighbours(cell_ids: Sequence[str] | pd.Index | np.ndarray, *, k: int = 1) -> sp.csr_matrix:
    """Binary Gi* weights from H3 k-rings, restricted to the given cells.

    Parameters
    ----------
    cell_ids
        H3 cells as hex strings, all of one resolution (e.g. ``cells.index`` of
        :func:`hotspots.make_grid`). Rows and columns of the result follow this order.
    k
        Grid distance: ``1`` gives each cell and its six touching cells.

    Returns
    -------
    scipy.sparse.csr_matrix
        ``n x n`` float64 with 1 where cell ``j`` is within ``k`` steps of cell ``i``
        (``h3.grid_disk(i, k)``), the cell itself included (the Gi* "star"), else 0.
        Cells of the disk that are not in ``cell_ids`` are left out, so edge cells
        have fewer neighbours.

    Raises
    ------
    SchemaError
        If a cell id is not a valid H3 cell, is repeated, or resolutions are mixed.
    """
    import h3ronpy

    if k < 1:
        raise SchemaError(f"k must be a grid distance >= 1, got {k}.")
    ids = pd.Index(np.asarray(cell_ids, dtype=object))
    if ids.has_duplicates:
        repeated = ids[ids.duplicated()].unique()[:3].tolist()
        raise SchemaError(f"cell ids repeat, e.g. {repeated}; pass each cell once.")
    n = len(ids)
    if n == 0:
        return sp.csr_matrix((0, 0), dtype=np.float64)
    try:
        ints = np.array([int(c, 16) for c in ids], dtype=np.uint64)
    except (TypeError, ValueError) as error:
        raise SchemaError(
            f"cell ids must be H3 hex strings like '89195da49b7ffff'; got e.g. {ids[:3].tolist()}."
        ) from error
    valid = pa.array(h3ronpy.cells_valid(ints, booleanarray=True)).to_numpy(zero_copy_only=False)
    if not valid.all():
        bad = ids[~valid][:3].tolist()
        raise SchemaError(f"{int((~valid).sum())} cell id(s) are not valid H3 cells, e.g. {bad}.")
    resolutions = np.unique(pa.array(h3ronpy.cells_resolution(ints)).to_numpy())
    if len(resolutions) > 1:
        raise SchemaError(
            f"cells mix H3 resolutions {resolutions.tolist()}; k-ring neighbours need one "
            "resolution (build the grid with one make_grid call)."
        )
    disks = pa.array(h3ronpy.grid_disk(ints, k))
    offsets = disks.offsets.to_numpy()
    members = disks.values.to_numpy()
    columns = pd.Index(ints).get_indexer(members)
    rows = np.repeat(np.arange(n), np.diff(offsets))
    present = columns >= 0
    weights = sp.csr_matrix(
        (np.ones(int(present.sum())), (rows[present], columns[present])), shape=(n, n)
    )
    weights.sort_indices()
    _warn_islands(weights, ids, what=f"H3 cells with no other cell within k={k}")
    return weights


def polygon_neighbours(
    polygons: gpd.GeoDataFrame | gpd.GeoSeries, *, contiguity: str = "queen"
) -> sp.csr_matrix:
    """Binary Gi* weights from polygon contiguity (LSOAs, wards, boroughs).

    Parameters
    ----------
    polygons
        Polygons (e.g. LSOAs); rows and columns of the result follow their order.
    contiguity
        ``"queen"``: polygons that share any boundary point (a vertex or an edge) are
        neighbours. ``"rook"``: only polygons that share an edge (a line, not a single
        point) or overlap.

    Returns
    -------
    scipy.sparse.csr_matrix
        ``n x n`` float64 with 1 for neighbours, the polygon itself included (Gi* star).
        A polygon that touches no other (an island) has only itself, and a
        :class:`~hotspots.core.errors.HotspotsWarning` names it.

    Raises
    ------
    SchemaError
        If a geometry is missing or empty, or ``contiguity`` is unknown.
    """
    if contiguity not in CONTIGUITY:
        raise SchemaError(f"contiguity must be one of {list(CONTIGUITY)}, got {contiguity!r}.")
    series = polygons.geometry if isinstance(polygons, gpd.GeoDataFrame) else polygons
    geometries = series.to_numpy()
    n = len(geometries)
    missing = shapely.is_missing(geometries) | shapely.is_empty(geometries)
    if missing.any():
        examples = series.index[missing][:3].tolist()
        raise SchemaError(
            f"{int(missing.sum())} polygon(s) have no geometry, e.g. {examples}; "
            "drop or repair them before building neighbours."
        )
    tree = shapely.STRtree(geometries)
    left, right = tree.query(geometries, predicate="intersects")
    if contiguity == "rook":
        a, b = geometries[left], geometries[right]
        # interiors overlap, or the boundaries share a line (dimension 1)
        shares_edge = shapely.relate_pattern(a, b, "T********") | shapely.relate_pattern(
            a, b, "****1****"
        )
        keep = shares_edge | (left == right)
        left, right = left[keep], right[keep]
    rows = np.concatenate([left, np.arange(n)])
    cols = np.concatenate([right, np.arange(n)])
    weights = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
    weights.data[:] = 1.0  # duplicates (self pairs) were summed
    weights.sort_indices()
    _warn_islands(weights, series.index, what=f"polygons with no {contiguity} neighbour")
    return weights


def _warn_islands(weights: sp.csr_matrix, labels: pd.Index, *, what: str) -> None:
    from hotspots.core.errors import HotspotsWarning

    islands = np.flatnonzero(np.diff(weights.indptr) <= 1)
    if len(islands):
        examples = [str(labels[i]) for i in islands[:3]]
        warnings.warn(
            f"{len(islands)} {what} (e.g. {examples}); each is its own only neighbour, so "
            "its Gi* compares the cell alone with the study area.",
            HotspotsWarning,
            stacklevel=3,
        )


# --- false-discovery rate ----------------------------------------------------------------


def benjamini_hochberg(p: Sequence[float] | np.ndarray) -> np.ndarray:
    """Adjust p-values by Benjamini-Hochberg to control the false-discovery rate.

    Parameters
    ----------
    p
        p-values in [0, 1]. NaN values stay NaN and do not count as tests.

    Returns
    -------
    numpy.ndarray
        Adjusted p-values (same shape): ``min over k >= rank of p_(k) m / k``, capped at 1.
        Rejecting where the adjusted value is <= q keeps the expected share of false
        discoveries at or below q. Equals ``scipy.stats.false_discovery_control(p)``.
    """
    values = np.asarray(p, dtype=np.float64)
    flat = values.ravel()
    tested = ~np.isnan(flat)
    everything = bool(tested.all())
    q = flat if everything else flat[tested]
    if q.size == 0:
        return np.full(values.shape, np.nan)
    if q.min() < 0 or q.max() > 1:
        raise ValueError("p-values must lie in [0, 1].")
    adjusted = _bh(q)
    if everything:
        return adjusted.reshape(values.shape)
    out = np.full(flat.shape, np.nan)
    out[tested] = adjusted
    return out.reshape(values.shape)


def _bh(q: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg on a 1-d array of valid p-values (no NaN, no checks)."""
    m = q.size
    order = np.argsort(q)  # tied p-values get equal adjusted values, so any order works
    scaled = q[order]
    scaled *= m / np.arange(1, m + 1)
    backwards = scaled[::-1]
    np.minimum.accumulate(backwards, out=backwards)
    np.minimum(scaled, 1.0, out=scaled)
    adjusted = np.empty(m)
    adjusted[order] = scaled
    return adjusted


# --- Gi* ----------------------------------------------------------------------------------


def gi_star(
    values: pd.Series | Sequence[float] | np.ndarray,
    weights: sp.spmatrix | sp.sparray,
    *,
    permutations: int = 0,
    seed: int | None = None,
    fdr: bool = True,
    p_from: str = ANALYTIC,
    alpha_levels: Sequence[float] = ALPHA_LEVELS,
    exposure: Sequence[bool] | np.ndarray | None = None,
) -> pd.DataFrame:
    """Local Getis-Ord Gi* z-scores, p-values and hot/cold classes for every cell.

    Parameters
    ----------
    values
        One value per cell (e.g. harm per cell, zeros included), finite. A Series keeps
        its index in the result.
    weights
        ``n x n`` sparse weights with the cell itself on the diagonal (Gi* "star"), e.g.
        from :func:`h3_neighbours` or :func:`polygon_neighbours`; non-negative, rows in
        the order of ``values``. Binary weights give esda's ``G_Local`` z exactly.
    permutations
        Number of conditional permutations for ``gi_p_perm`` (0 = none, NaN column).
        999 is usual; the smallest possible p is then 2/1000.
    seed
        Seed for the permutations (``numpy.random.default_rng(seed)``).
    fdr
        Draw the classes from Benjamini-Hochberg adjusted p-values (default), so that in
        expectation at most 5% of the cells called significant at 95% are false
        discoveries (without it, up to 5% of *all* cells can be called by chance).
    p_from
        ``"analytic"`` (default): classes from the normal p (``gi_p`` / ``gi_p_fdr``).
        ``"permutation"``: from the pseudo p (``gi_p_perm`` / ``gi_p_perm_fdr``); needs
        ``permutations > 0``. ``"exact"``: ``values`` are incident counts and ``gi_p`` is
        the exact two-sided p of the neighbourhood count under spatial randomness of the
        exposed cells (:mod:`hotspots.methods.gi_exact`); calibrated on skewed,
        zero-heavy counts, where the normal p is not. ``hotspots detect`` uses it.
    alpha_levels
        Levels that get a class, a subset of ``(0.10, 0.05, 0.01)`` (90/95/99%).
    exposure
        With ``p_from="exact"``: one boolean per cell, where incidents can happen (e.g. any
        incident over the whole history). Unexposed cells are left out of the null and
        of every neighbourhood and are never cold (``no_data`` unless hot). ``None``:
        every cell is exposed.

    Returns
    -------
    DataFrame
        Indexed like ``values``, with columns:

        ``gi_z``
            Gi* z-score. Positive: the neighbourhood total is above what the
            study-area mean gives (hot); negative: below (cold).
        ``gi_p``
            **Two-sided** p from the standard normal, ``2 * (1 - Phi(|z|))``. (esda's
            ``p_norm`` is one-sided: ``gi_p == 2 * p_norm``.)
        ``gi_p_fdr``
            ``gi_p`` adjusted by Benjamini-Hochberg over all cells.
        ``gi_p_perm``
            **Two-sided** pseudo p from conditional permutations: each cell keeps its own
            value and its neighbourhood is refilled with values drawn without
            replacement from the other ``n - 1`` cells. With ``n_ge`` and ``n_le`` the
            numbers of permutations whose neighbourhood sum is >= and <= the observed
            one (ties count on both sides), the one-sided p in the observed direction,
            ``(min(n_ge, n_le) + 1) / (permutations + 1)``, is folded to two sides by
            doubling and capped at 1. So it lies in ``[2 / (permutations + 1), 1]``.
            NaN when ``permutations == 0``.
        ``gi_p_perm_fdr``
            ``gi_p_perm`` adjusted by Benjamini-Hochberg (NaN without permutations).
        ``gi_class``
            Ordered categorical: ``hot_99``/``hot_95``/``hot_90`` where the chosen p is at
            most 0.01/0.05/0.10 and the cell is in the upper tail, ``cold_*`` likewise
            in the lower tail, else ``not_significant``.

    Notes
    -----
    **Why the analytic p draws the classes by default.** It is deterministic (no seed),
    it is the statistic the reference implementations report (esda's ``Zs``/``p_norm``,
    ArcGIS "Hot Spot Analysis"), so a map can be checked against them, and it takes
    milliseconds. The permutation p has a floor of ``2 / (permutations + 1)``, and
    Benjamini-Hochberg over tens of thousands of cells needs p-values far below that
    floor, so with FDR the permutation classes depend strongly on the number of
    permutations rather than on the data.

    The analytic p has its own weakness, the normal approximation: harm per cell is
    skewed with many zeros, so a neighbourhood sum is far from normal, and a
    neighbourhood of zeros can never reach a large negative z when the standard
    deviation is large next to the mean. The analytic test then finds almost no cold
    spots while the permutation test does. On Met burglary harm, 2023-09..2024-08, H3
    resolution 9 over London (17,279 cells, 42% zeros), with FDR: analytic 1,542 hot and 0
    cold cells; 999 permutations 350 hot and 4 cold; 9,999 permutations 955 hot and 2,055
    cold (without FDR, 999 permutations: 1,972 hot and 4,062 cold). MISSION.md reports
    the same pattern on a million synthetic London points (914 hot / 0 cold against
    2,201 / 6,326). So both p-values are kept in the table, and whoever publishes the map
    must state which one drew it (:func:`gi_for_detect` returns the label).

    Ties are counted on both sides of the permutation p. esda folds its pseudo p as
    ``(min(#(>= obs), #(< obs)) + 1) / (P + 1)`` (one-sided), which gives a cell whose
    neighbourhood is all zeros the smallest possible p even when most random
    neighbourhoods are all zeros too; counting ties on both sides does not.

    Where every value is equal (e.g. a month with no incidents) Gi* is undefined: z is 0
    and every p is 1, with a :class:`~hotspots.core.errors.HotspotsWarning`.
    """
    y, index = _values_array(values)
    matrix = _check_weights(weights, len(y))
    if p_from not in P_SOURCES:
        raise SchemaError(f"p_from must be one of {list(P_SOURCES)}, got {p_from!r}.")
    if exposure is not None and p_from != EXACT:
        raise SchemaError("exposure applies to p_from='exact' only.")
    if p_from == EXACT:
        return _exact_frame(
            y, index, matrix, permutations, seed, fdr, exposure, levels=_check_levels(alpha_levels)
        )
    if p_from == PERMUTATION and permutations <= 0:
        raise SchemaError("p_from='permutation' needs permutations > 0 (e.g. permutations=999).")
    if permutations < 0:
        raise SchemaError(f"permutations must be >= 0, got {permutations}.")
    levels = _check_levels(alpha_levels)
    if len(y) and np.ptp(y) == 0:
        from hotspots.core.errors import HotspotsWarning

        warnings.warn(
            f"all {len(y)} values equal {y[0]!r}: no cell can stand out, so Gi* z is 0 and "
            "p is 1 everywhere.",
            HotspotsWarning,
            stacklevel=2,
        )
    return _gi_frame(y, index, matrix, permutations, seed, fdr, p_from, levels)


def _gi_frame(
    y: np.ndarray,
    index: pd.Index,
    matrix: sp.csr_matrix,
    permutations: int,
    seed: int | None,
    fdr: bool,
    p_from: str,
    levels: tuple[float, ...],
) -> pd.DataFrame:
    """Gi* table for checked inputs (no warnings; used per month by emerging hot spots)."""
    n = len(y)
    z = _gi_z(y, matrix)
    p = 2.0 * ndtr(-np.abs(z))
    p_fdr = _bh(p) if n else p.copy()
    if permutations > 0 and n > 1:
        p_perm, upper = _permutation_p(y, matrix, permutations, seed)
        p_perm_fdr = benjamini_hochberg(p_perm)
    else:
        p_perm = p_perm_fdr = np.full(n, np.nan)
        upper = z > 0
    if p_from == ANALYTIC:
        chosen, hot = (p_fdr if fdr else p), z > 0
    else:
        chosen, hot = (p_perm_fdr if fdr else p_perm), upper
    classes = classify_gi(hot, chosen, alpha_levels=levels)
    return pd.DataFrame(
        {
            GI_Z: z,
            GI_P: p,
            GI_P_FDR: p_fdr,
            GI_P_PERM: p_perm,
            GI_P_PERM_FDR: p_perm_fdr,
            GI_CLASS: classes,
        },
        index=index,
    )


def _exact_frame(
    y: np.ndarray,
    index: pd.Index,
    matrix: sp.csr_matrix,
    permutations: int,
    seed: int | None,
    fdr: bool,
    exposure: Sequence[bool] | np.ndarray | None,
    *,
    levels: tuple[float, ...],
) -> pd.DataFrame:
    """Gi* table whose p and classes come from the exact count test."""
    tails = exact_tails(y, matrix, exposure=None if exposure is None else np.asarray(exposure))
    cold_side = tails.p_cold < tails.p_hot  # NaN (unexposed) is never the cold side
    p = np.minimum(1.0, 2.0 * np.where(cold_side, tails.p_cold, tails.p_hot))
    p_fdr = benjamini_hochberg(p) if len(p) else p.copy()
    if permutations > 0 and len(y) > 1:
        p_perm, _ = _permutation_p(y.astype(np.float64), matrix, permutations, seed)
        p_perm_fdr = benjamini_hochberg(p_perm)
    else:
        p_perm = p_perm_fdr = np.full(len(y), np.nan)
    classes = classify_gi(~cold_side, p_fdr if fdr else p, alpha_levels=levels)
    classes[(~tails.exposed) & (classes == NOT_SIGNIFICANT)] = NO_DATA
    return pd.DataFrame(
        {
            GI_Z: tails.z,
            GI_P: p,
            GI_P_FDR: p_fdr,
            GI_P_PERM: p_perm,
            GI_P_PERM_FDR: p_perm_fdr,
            GI_CLASS: classes,
        },
        index=index,
    )


def classify_gi(
    hot: Sequence[bool] | np.ndarray,
    p: Sequence[float] | np.ndarray,
    *,
    alpha_levels: Sequence[float] = ALPHA_LEVELS,
) -> pd.Categorical:
    """Label cells ``hot_99`` ... ``cold_99`` or ``not_significant`` from a p-value.

    Parameters
    ----------
    hot
        True where the cell is in the upper tail (``gi_z > 0``), False in the lower.
    p
        The p-value that decides (two-sided; FDR-adjusted or not). NaN is never
        significant.
    alpha_levels
        Levels that get a class, a subset of ``(0.10, 0.05, 0.01)``.

    Returns
    -------
    pandas.Categorical
        Ordered, with categories ``GI_CLASSES`` (coldest first): the strictest level
        ``p <= alpha`` reached gives 90, 95 or 99.
    """
    levels = sorted(_check_levels(alpha_levels))  # strictest first: 0.01, 0.05, 0.10
    upper = np.asarray(hot, dtype=bool)
    chosen = np.asarray(p, dtype=np.float64)
    none = GI_CLASSES.index(NOT_SIGNIFICANT)
    hot_codes = np.array([GI_CLASSES.index(f"hot_{_CONFIDENCE[a]}") for a in levels] + [none])
    cold_codes = np.array([GI_CLASSES.index(f"cold_{_CONFIDENCE[a]}") for a in levels] + [none])
    # index of the strictest level with p <= alpha; len(levels) if none (NaN: never)
    level = np.zeros(len(chosen), dtype=np.intp)
    for alpha in levels:
        level += ~(chosen <= alpha)
    table = np.array([cold_codes, hot_codes], dtype=np.int8)
    codes = table[upper.view(np.int8), level]
    return pd.Categorical.from_codes(codes, dtype=_CLASS_DTYPE, validate=False)


def _values_array(values: pd.Series | Sequence[float] | np.ndarray) -> tuple[np.ndarray, pd.Index]:
    if isinstance(values, pd.Series):
        index = values.index
        y = values.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        y = np.asarray(values, dtype=np.float64)
        index = pd.RangeIndex(len(y))
    if y.ndim != 1:
        raise SchemaError(f"values must be one number per cell (1-d); got shape {y.shape}.")
    bad = ~np.isfinite(y)
    if bad.any():
        examples = index[bad][:3].tolist()
        raise SchemaError(
            f"{int(bad.sum())} value(s) are NaN or infinite, e.g. at {examples}; Gi* needs a "
            "number for every cell (0 where nothing happened)."
        )
    return y, index


def _check_weights(weights: sp.spmatrix | sp.sparray, n: int) -> sp.csr_matrix:
    if not sp.issparse(weights):
        raise SchemaError(
            "weights must be a scipy sparse matrix; build them with h3_neighbours() or "
            "polygon_neighbours()."
        )
    if isinstance(weights, sp.csr_matrix) and weights.dtype == np.float64:
        matrix = weights
    else:
        matrix = sp.csr_matrix(weights, dtype=np.float64)
    if matrix.shape != (n, n):
        raise SchemaError(
            f"weights are {matrix.shape[0]} x {matrix.shape[1]} but there are {n} values; "
            "build them from the same cells, in the same order."
        )
    if matrix.nnz and matrix.data.min() < 0:
        raise SchemaError("weights must be non-negative.")
    if n and (matrix.diagonal() <= 0).any():
        raise SchemaError(
            "Gi* needs every cell in its own neighbourhood (a positive diagonal); use "
            "h3_neighbours()/polygon_neighbours(), or add scipy.sparse.identity(n)."
        )
    if not matrix.has_canonical_format:
        matrix = matrix.copy()
        matrix.sum_duplicates()  # also sorts the column indices
    return matrix


def _check_levels(alpha_levels: Sequence[float]) -> tuple[float, ...]:
    levels = tuple(float(a) for a in alpha_levels)
    unknown = [a for a in levels if a not in _CONFIDENCE]
    if unknown or not levels:
        raise SchemaError(
            f"alpha_levels must be a non-empty subset of {list(ALPHA_LEVELS)} (90/95/99%); "
            f"got {list(alpha_levels)}."
        )
    return levels


def _gi_z(y: np.ndarray, matrix: sp.csr_matrix) -> np.ndarray:
    """Gi* z-scores (Ord & Getis 1995), vectorised with one sparse product."""
    n = len(y)
    if n == 0:
        return np.empty(0)
    mean = y.mean()
    # (y * y).mean(), not np.dot: a BLAS call may wake its thread pool, slow on a busy host
    std = np.sqrt(max(float((y * y).mean()) - mean * mean, 0.0))
    lag = matrix @ y
    if matrix.data.max(initial=0.0) == 1.0 and matrix.data.min(initial=1.0) == 1.0:
        w_sum = np.diff(matrix.indptr).astype(np.float64)  # binary: the neighbour counts
        w_sq = w_sum
    else:
        w_sum = np.asarray(matrix.sum(axis=1)).ravel()
        w_sq = np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel()
    spread = n * w_sq
    spread -= w_sum * w_sum
    np.maximum(spread, 0.0, out=spread)
    spread *= std * std / max(n - 1, 1)
    np.sqrt(spread, out=spread)
    lag -= mean * w_sum
    z = np.zeros(n)
    # all values equal up to rounding: no spread, z stays 0
    np.divide(lag, spread, out=z, where=spread > 1e-12 * max(abs(mean), 1e-300))
    return z


def _permutation_p(
    y: np.ndarray, matrix: sp.csr_matrix, permutations: int, seed: int | None
) -> tuple[np.ndarray, np.ndarray]:
    """Two-sided conditional-permutation pseudo p and the observed tail (True = upper).

    For each permutation one random ordering of ``0 .. n-2`` is laid end to end over all
    the neighbour slots (the off-diagonal entries, row by row). A cell's slots are
    consecutive, so it receives distinct draws; draw ``r`` means cell ``r + (r >= i)``,
    i.e. any cell but ``i`` itself. Every cell thus gets its own uniformly random set of
    ``c_i`` other cells in every permutation (draws are shared across cells within one
    permutation, as in esda). The random neighbourhood sums are one sparse product with
    the drawn cells as column indices, so memory stays O(number of neighbour pairs).
    """
    n = len(y)
    rng = np.random.default_rng(seed)
    off = matrix.tocoo()
    keep = off.row != off.col
    rows, cols, data = off.row[keep], off.col[keep], off.data[keep]
    order = np.lexsort((cols, rows))
    rows, cols, data = rows[order], cols[order], data[order]
    slots = len(rows)
    index = np.int32 if max(n, slots) < 2**31 - 1 else np.int64  # int32 halves the traffic
    indptr = np.zeros(n + 1, dtype=index)
    np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
    owner = rows.astype(index)
    observed = np.bincount(rows, weights=data * y[cols], minlength=n)
    # sums of the same values in another order may differ by rounding: count them as ties
    largest_sum = np.bincount(rows, weights=np.abs(data), minlength=n).max(initial=0.0)
    tolerance = 1e-9 * float(np.abs(y).max(initial=0.0)) * float(largest_sum)
    low, high = observed - tolerance, observed + tolerance
    n_ge = np.zeros(n, dtype=np.int64)
    n_le = np.zeros(n, dtype=np.int64)
    for _ in range(permutations):
        drawn = np.resize(rng.permutation(n - 1).astype(index, copy=False), slots)
        drawn += drawn >= owner
        shuffled = sp.csr_matrix((data, drawn, indptr), shape=(n, n), copy=False)
        lag = shuffled @ y
        n_ge += lag >= low
        n_le += lag <= high
    one_sided = (np.minimum(n_ge, n_le) + 1.0) / (permutations + 1.0)
    return np.minimum(2.0 * one_sided, 1.0), n_ge < n_le


# --- cells-table front ends ----------------------------------------------------------------


def find_hotspots(
    cells: pd.DataFrame,
    *,
    value: str = "incidents",
    weights: sp.spmatrix | sp.sparray | None = None,
    k: int = 1,
    permutations: int = 0,
    seed: int | None = None,
    fdr: bool = True,
    p_from: str = EXACT,
    exposure: Sequence[bool] | np.ndarray | None = None,
) -> pd.DataFrame:
    """Add Gi* z, p-values and hot/cold classes to a cells (or areas) table.

    Parameters
    ----------
    cells
        Cells from :func:`hotspots.count_in_cells` (indexed by H3 ``cell_id``), a table
        read from ``cells.parquet`` (H3 ids in the ``cell`` column), or polygons with a
        value column.
    value
        Column to test: ``"incidents"`` (default, with the exact count test, as
        ``hotspots detect`` does) or, with ``p_from="analytic"``, e.g. ``"harm"``.
    weights
        Sparse weights in the row order of ``cells``; ``None`` builds H3 k-ring weights
        from ``cells.index`` (see :func:`h3_neighbours`). Pass
        ``polygon_neighbours(cells)`` for LSOAs or wards.
    k
        H3 grid distance when ``weights`` is ``None``.
    permutations, seed, fdr, p_from
        See :func:`gi_star`.
    exposure
        See :func:`gi_star`; by default the table's ``exposed`` column when it has one
        (``cells.parquet`` does), else every cell (exact test only).

    Returns
    -------
    DataFrame
        A copy of ``cells`` plus ``gi_z``, ``gi_p``, ``gi_p_fdr``, ``gi_p_perm``,
        ``gi_p_perm_fdr`` and ``gi_class`` (see :func:`gi_star`).
    """
    if value not in cells.columns:
        from hotspots.core.schema import require_columns

        require_columns(cells, [value], name="cells")
    if weights is None:
        ids = cells["cell"] if "cell" in cells.columns else cells.index
        weights = h3_neighbours(pd.Index(ids), k=k)
    if exposure is None and p_from == EXACT and EXPOSED in cells.columns:
        exposure = cells[EXPOSED].to_numpy(dtype=bool)
    result = gi_star(
        cells[value],
        weights,
        permutations=permutations,
        seed=seed,
        fdr=fdr,
        p_from=p_from,
        exposure=exposure if p_from == EXACT else None,
    )
    return cells.drop(columns=[c for c in GI_COLUMNS if c in cells.columns]).assign(
        **{column: result[column] for column in GI_COLUMNS}
    )


class GiForDetect(NamedTuple):
    """Gi* results and their description, as ``hotspots detect`` records them."""

    gi: pd.DataFrame
    """The :func:`gi_star` table, indexed like the cells."""
    choice: str
    """One readable sentence: neighbours, p-value, FDR, permutations."""
    parameters: dict[str, Any]
    """The same, machine-readable, for the manifest."""
    p_label: str
    """Which p-value drew the classes, for maps and reports."""


def gi_for_detect(
    cells: pd.DataFrame,
    *,
    value: str = "incidents",
    k: int = 1,
    permutations: int = 0,
    seed: int | None = None,
    fdr: bool = True,
    p_from: str = EXACT,
    exposure: Sequence[bool] | np.ndarray | None = None,
    exposure_from: str = "every cell",
) -> GiForDetect:
    """Run Gi* on H3 cells and describe every choice, for ``hotspots detect``.

    Parameters
    ----------
    cells
        Cells indexed by H3 ``cell_id`` with a ``value`` column (zeros included).
    value, k, permutations, seed, fdr, p_from, exposure
        See :func:`find_hotspots` and :func:`gi_star`.
    exposure_from
        Where ``exposure`` came from, for the description.

    Returns
    -------
    GiForDetect
        ``(gi, choice, parameters, p_label)``; unpacks like a tuple.
    """
    from hotspots.core.schema import require_columns

    require_columns(cells, [value], name="cells")
    weights = h3_neighbours(cells.index, k=k)
    gi = gi_star(
        cells[value],
        weights,
        permutations=permutations,
        seed=seed,
        fdr=fdr,
        p_from=p_from,
        exposure=exposure if p_from == EXACT else None,
    )
    cardinality = np.diff(weights.indptr) if len(cells) else np.zeros(1, dtype=np.int64)
    p_label = {
        EXACT: "exact two-sided p of the neighbourhood incident count under spatial randomness",
        ANALYTIC: "analytic two-sided normal p",
        PERMUTATION: (
            f"two-sided permutation pseudo p ({permutations} conditional permutations, "
            f"seed {seed})"
        ),
    }[p_from]
    p_label += ", Benjamini-Hochberg FDR" if fdr else ", no FDR adjustment"
    counts = gi[GI_CLASS].value_counts().reindex(list(GI_CLASSES), fill_value=0)
    no_data = int(counts[NO_DATA])
    hot = int(counts[[HOT_90, HOT_95, HOT_99]].sum())
    cold = int(counts[[COLD_90, COLD_95, COLD_99]].sum())
    perm_text = (
        f"; {permutations} conditional permutations (seed {seed}) give gi_p_perm alongside"
        if permutations > 0
        else "; no permutations (gi_p_perm is empty)"
    )
    choice = (
        f"Getis-Ord Gi* on {value} with H3 k-ring neighbours (k={k}, the cell itself included; "
        f"{int(np.median(cardinality))} cells per neighbourhood, {int(cardinality.min())} at "
        f"the edge); classes at 90/95/99% from the {p_label}{perm_text}: {hot:,} hot and "
        f"{cold:,} cold cells"
        + (
            f"; exposure from {exposure_from}: {no_data:,} cells with no incident in that "
            "history are 'no data' (never cold)"
            if p_from == EXACT
            else ""
        )
    )
    parameters: dict[str, Any] = {
        "value": value,
        "neighbours": "h3_k_ring",
        "k": k,
        "self_included": True,
        "weights": "binary",
        "neighbourhood_cells_median": int(np.median(cardinality)),
        "neighbourhood_cells_min": int(cardinality.min()),
        "p_value": "two-sided",
        "classes_from": p_from,
        "exposure_from": exposure_from if p_from == EXACT else None,
        "fdr": "benjamini_hochberg" if fdr else None,
        "alpha_levels": list(ALPHA_LEVELS),
        "permutations": permutations,
        "seed": seed,
        "classes": {label: int(counts[label]) for label in GI_CLASSES},
    }
    return GiForDetect(gi, choice, parameters, p_label)
