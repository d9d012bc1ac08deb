"""Kernel density bandwidths: fixed, Scott and Silverman rules on weighted points (effective n)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from pyproj import CRS

from hotspots.core.errors import CRSError, SchemaError

KERNELS = ("quartic", "epanechnikov", "triangular", "uniform", "gaussian")
"""Kernel names accepted by :func:`kernel_density` and :func:`exact_kernel_sum`."""


RULES = ("fixed", "scott", "silverman")
"""Bandwidth rules accepted by :func:`choose_bandwidth`."""


DEFAULT_KERNEL = "quartic"


DEFAULT_RULE = "fixed"


DEFAULT_BANDWIDTH_M = 250.0
"""Search radius used when no bandwidth is given: patrol scale (see :func:`choose_bandwidth`)."""


@dataclass(frozen=True)
class Bandwidth:
    """A kernel bandwidth and how it was chosen, for the run's manifest.

    Attributes
    ----------
    bandwidth_m
        The bandwidth in metres, after ``adjust``: the search radius of the compact
        kernels (quartic, Epanechnikov, triangular, uniform) and the standard deviation
        of the Gaussian kernel.
    rule
        ``"fixed"``, ``"scott"`` or ``"silverman"``.
    adjust
        Factor the rule's value was multiplied by.
    detail
        One sentence stating the rule, its inputs and the result.
    n_effective
        Effective number of points behind the rule, ``(sum w)^2 / sum w^2`` (Kish); the
        point count when unweighted. ``None`` when there were fewer than two points.
    standard_distance_m
        Weighted standard distance of the points from their weighted mean centre, in
        metres; ``None`` when there were fewer than two points.
    """

    bandwidth_m: float
    rule: str
    adjust: float
    detail: str
    n_effective: float | None = None
    standard_distance_m: float | None = None


def _points(
    x_m: Any, y_m: Any, weights: Any, *, caller: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return float arrays ``x, y, w`` after checking them all, raising once."""
    x = np.asarray(x_m, dtype=np.float64).reshape(-1)
    y = np.asarray(y_m, dtype=np.float64).reshape(-1)
    problems = []
    if len(x) != len(y):
        problems.append(f"x_m has {len(x)} values but y_m has {len(y)}")
    if weights is None:
        w = np.ones(len(x))
    else:
        w = np.asarray(weights, dtype=np.float64).reshape(-1)
        if len(w) != len(x):
            problems.append(f"weights has {len(w)} values but there are {len(x)} points")
    x_low, x_high, x_bad = _range(x)
    y_low, y_high, y_bad = _range(y)
    if x_bad + y_bad:
        problems.append(
            f"{x_bad + y_bad} coordinate value(s) are NaN or infinite (rows without "
            "coordinates belong in rejects; read_incidents puts them there)"
        )
    if weights is not None:
        w_low, _, w_bad = _range(w)
        if w_bad:
            problems.append(f"{w_bad} weight(s) are NaN or infinite")
        if w_low < 0 or (w_bad and np.nanmin(w) < 0):
            negative = int((w < 0).sum())
            problems.append(f"{negative} weight(s) are negative (min {np.nanmin(w):g})")
    if problems:
        raise SchemaError(
            f"{caller} got bad points: {'; '.join(problems)}. Pass one finite x, y and one "
            "finite harm >= 0 per incident, e.g. incidents.geometry.x, incidents.geometry.y "
            "and incidents['harm'] from read_incidents."
        )
    if len(x) and max(-x_low, x_high) <= 180.0 and max(-y_low, y_high) <= 90.0:
        raise CRSError(
            f"{caller} got coordinates that look like degrees (x from {x_low:.4g} to "
            f"{x_high:.4g}, y from {y_low:.4g} to {y_high:.4g}) but needs metres in a "
            "projected CRS. Reproject, e.g. incidents.to_crs('EPSG:27700'), or load the "
            "points with read_incidents."
        )
    return x, y, w


def _projected_crs(crs: Any, *, what: str) -> str:
    """Return ``crs`` as a string, raising CRSError if it is missing or geographic."""
    if crs is None:
        raise CRSError(f"{what} has no CRS; set a projected CRS in metres (e.g. EPSG:27700).")
    parsed = CRS.from_user_input(crs)
    if parsed.is_geographic:
        raise CRSError(
            f"{what} is in {parsed.to_string()} (degrees) but kernel density needs metres. "
            "Reproject to a projected CRS such as EPSG:27700."
        )
    return crs if isinstance(crs, str) else parsed.to_string()


def _positive(value: Any, *, name: str) -> float:
    number = float(value)
    if not math.isfinite(number) or number <= 0:
        raise SchemaError(f"{name} must be a finite number > 0; got {value!r}.")
    return number


def _check_choice(value: str, allowed: Sequence[str], *, name: str) -> str:
    if value not in allowed:
        raise SchemaError(f"{name} {value!r} is not known; use one of {list(allowed)}.")
    return value


def _spread(
    x: np.ndarray, y: np.ndarray, w: np.ndarray, *, with_median: bool
) -> tuple[float, float, float]:
    """Weighted standard distance, weighted median distance (NaN unless asked), Kish n."""
    total = w.sum()
    x_bar = float(np.dot(w, x) / total)
    y_bar = float(np.dot(w, y) / total)
    squared = (x - x_bar) ** 2
    squared += (y - y_bar) ** 2
    standard_distance = math.sqrt(float(np.dot(w, squared)) / total)
    median_distance = math.nan
    if with_median:
        order = np.argsort(squared)
        cumulative = np.cumsum(w[order])
        median_at = int(np.searchsorted(cumulative, 0.5 * cumulative[-1]))
        median_distance = math.sqrt(float(squared[order[median_at]]))
    n_effective = float(total**2 / np.dot(w, w))
    return standard_distance, median_distance, n_effective


def _scott_m(standard_distance: float, n_effective: float) -> float:
    return standard_distance / math.sqrt(2.0) * n_effective ** (-1.0 / 6.0)


def _silverman_m(standard_distance: float, median_distance: float, n_effective: float) -> float:
    spread = min(standard_distance, math.sqrt(1.0 / math.log(2.0)) * median_distance)
    return 0.9 * spread * n_effective ** (-0.2)


def choose_bandwidth(
    x_m: Any,
    y_m: Any,
    *,
    weights: Any = None,
    rule: str = DEFAULT_RULE,
    bandwidth_m: float | None = None,
    adjust: float = 1.0,
) -> Bandwidth:
    r"""Choose a kernel bandwidth and say how, for the run's manifest.

    The rules, with :math:`w_i` the weights (harm), :math:`SD` the weighted standard
    distance of the points from their weighted mean centre, :math:`D_m` the weighted
    median of those distances, and :math:`n_e = (\sum w_i)^2 / \sum w_i^2` the effective
    number of points (Kish; the point count when unweighted, and unchanged when all
    harms are scaled, unlike :math:`\sum w_i`):

    ``"fixed"`` (default)
        :math:`h` = ``bandwidth_m``, or 250 m when it is not given.
    ``"scott"``
        Scott's rule for two dimensions, :math:`h = (SD/\sqrt 2)\, n_e^{-1/6}`
        (:math:`SD/\sqrt 2` is the pooled standard deviation per axis).
    ``"silverman"``
        The spatial variant of Silverman's rule that ArcGIS Kernel Density uses by default,
        :math:`h = 0.9 \min(SD, \sqrt{1/\ln 2}\, D_m)\, n_e^{-0.2}`; the median term makes it
        robust to outlying points.

    The result is then multiplied by ``adjust``. Both rules are derived for a Gaussian
    kernel; like ArcGIS, :func:`kernel_density` uses the value as the search radius of
    the compact kernels (a quartic kernel of radius :math:`h` smooths like a Gaussian of
    standard deviation :math:`0.35h`) and as the standard deviation of the Gaussian kernel.

    Why the default is a fixed 250 m: the rules assume one smooth, roughly normal cloud
    of points. Crime is a city-wide scatter of many small, sharp clusters, so the city-wide
    spread sets the rule's value and it comes out in kilometres: on the bundled Met
    burglary (106,216 points, 2022-09 to 2024-08, CCHI harm) Scott's rule gives 1,260 m
    and the Silverman variant 1,072 m, kernels 2-2.5 km across that smooth street-level
    hotspots into neighbourhood-sized blobs. Hot-spot policing tasks micro-places (street
    segments, blocks), so the default is a search radius of 250 m: a kernel 500 m across,
    under two H3 resolution-9 cells (about 300 m across), and a three-minute walk. It is a
    choice, stated in ``detail`` next to what Scott's rule would have given; pass
    ``rule="scott"`` or ``"silverman"`` (and ``adjust``) for a data-driven one.

    ArcGIS takes :math:`n` as the sum of the population (weight) field; :math:`n_e` is used
    here instead so that the bandwidth does not change with the unit of harm (days of
    custody, or a severity score).

    Parameters
    ----------
    x_m, y_m
        Point coordinates in a projected CRS (metres).
    weights
        Harm (or other weight >= 0) per point; ``None`` weighs every point 1.
    rule
        ``"fixed"``, ``"scott"`` or ``"silverman"``.
    bandwidth_m
        The bandwidth for ``rule="fixed"`` (default 250 m); must be ``None`` for the
        other rules.
    adjust
        Factor applied to the rule's value (e.g. 0.5 for half of Scott's bandwidth).

    Returns
    -------
    Bandwidth
        The bandwidth in metres with the rule, ``adjust``, the rule's inputs and a sentence
        stating all of them.

    Raises
    ------
    SchemaError
        For an unknown rule, a non-positive ``bandwidth_m`` or ``adjust``, ``bandwidth_m``
        given with a data-driven rule, bad points, or too few (or all coincident or
        zero-weight) points for a data-driven rule.
    CRSError
        If the coordinates look like degrees.

    Examples
    --------
    >>> choose_bandwidth([530_000.0, 531_000.0], [180_000.0, 180_500.0]).bandwidth_m
    250.0
    """
    _check_choice(rule, RULES, name="Bandwidth rule")
    adjust = _positive(adjust, name="adjust")
    if rule != "fixed" and bandwidth_m is not None:
        raise SchemaError(
            f"bandwidth_m={bandwidth_m!r} was given with rule={rule!r}; give bandwidth_m only "
            "with rule='fixed', or use adjust to scale the rule's value."
        )
    x, y, w = _points(x_m, y_m, weights, caller="choose_bandwidth")
    has_spread = len(x) >= 2 and w.sum() > 0 and np.count_nonzero(w) >= 2
    stats = _spread(x, y, w, with_median=rule == "silverman") if has_spread else None
    if stats is not None and stats[0] == 0:
        stats = None
    adjusted = "" if adjust == 1 else f", x adjust {adjust:g}"
    if rule == "fixed":
        base = (
            DEFAULT_BANDWIDTH_M
            if bandwidth_m is None
            else _positive(bandwidth_m, name="bandwidth_m")
        )
        source = "the default, patrol scale" if bandwidth_m is None else "given"
        detail = f"Fixed search radius {base:,.0f} m ({source}){adjusted}"
        if stats is not None:
            detail += (
                f"; for comparison Scott's rule on these points would give "
                f"{_scott_m(stats[0], stats[2]):,.0f} m"
            )
    else:
        if stats is None:
            raise SchemaError(
                f"rule={rule!r} needs at least two distinct points with weight > 0 to measure "
                f"their spread; got {len(x)} point(s), {np.count_nonzero(w)} with weight > 0. "
                "Pass rule='fixed' with bandwidth_m instead."
            )
        standard_distance, median_distance, n_effective = stats
        if rule == "scott":
            base = _scott_m(standard_distance, n_effective)
            detail = (
                f"Scott's rule on the weighted standard distance: (SD {standard_distance:,.0f} m"
                f" / sqrt 2) x n_eff {n_effective:,.0f}^(-1/6) = {base:,.0f} m{adjusted}"
            )
        else:
            base = _silverman_m(standard_distance, median_distance, n_effective)
            detail = (
                "Silverman's rule, ArcGIS spatial variant: 0.9 x min(SD "
                f"{standard_distance:,.0f} m, sqrt(1/ln 2) x median distance "
                f"{median_distance:,.0f} m) x n_eff {n_effective:,.0f}^(-0.2) = "
                f"{base:,.0f} m{adjusted}"
            )
    value = base * adjust
    if adjust != 1:
        detail += f" = {value:,.0f} m"
    return Bandwidth(
        bandwidth_m=float(value),
        rule=rule,
        adjust=adjust,
        detail=detail + ".",
        n_effective=None if stats is None else stats[2],
        standard_distance_m=None if stats is None else stats[0],
    )


def _bandwidth_of(bandwidth: Bandwidth | float | None, x, y, w) -> Bandwidth:
    if bandwidth is None:
        return choose_bandwidth(x, y, weights=w)
    if isinstance(bandwidth, Bandwidth):
        _positive(bandwidth.bandwidth_m, name="bandwidth.bandwidth_m")
        return bandwidth
    return choose_bandwidth(
        np.empty(0), np.empty(0), rule="fixed", bandwidth_m=_positive(bandwidth, name="bandwidth")
    )


def _range(values: np.ndarray) -> tuple[float, float, int]:
    """Min, max and the number of non-finite values (counted only when there are some)."""
    if len(values) == 0:
        return 0.0, 0.0, 0
    low, high = float(values.min()), float(values.max())
    if math.isfinite(low) and math.isfinite(high):
        return low, high, 0
    return low, high, int((~np.isfinite(values)).sum())
