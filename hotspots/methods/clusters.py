"""Harm-weighted density clusters: DBSCAN (harm as sample weight) and HDBSCAN.

Clusters are places where harm is dense, found on incident points rather than on cells,
and drawn as polygons with a readable place name.

**Stacked map points.** data.police.uk moves every crime to one of a fixed set of
anonymised snap points, so many incidents share one coordinate (6.6 rows per distinct point
in ten years of Met burglary). Both methods first collapse identical coordinates into one
point carrying the summed harm and the incident count, cluster those distinct points, and
give every incident the label of its point. For DBSCAN this is exact, not an
approximation (see :func:`find_clusters`); it is what lets a million incidents cluster in
well under a second, because the work grows with distinct points, not with rows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy import sparse
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from hotspots.core import schema
from hotspots.core.errors import CRSError, SchemaError
from hotspots.io.formats import tidy_location

# --- result columns ----------------------------------------------------------
CLUSTER = "cluster"
INCIDENTS = "incidents"
DISTINCT_POINTS = "distinct_points"
PLACE = "place"
AREA_KM2 = "area_km2"
HARM_DENSITY = "harm_density_per_km2"
RANK = "rank"
POLYGON_COLUMNS = (
    INCIDENTS,
    schema.HARM,
    DISTINCT_POINTS,
    schema.BOROUGH_CODE,
    schema.BOROUGH,
    PLACE,
    AREA_KM2,
    HARM_DENSITY,
    RANK,
)
NOISE = -1

# --- methods and automatic choices -------------------------------------------
METHODS = ("dbscan", "hdbscan")
DENSITY_RATIO = 10.0
"""Automatic ``min_harm``: this many times the harm an eps-disc holds on average."""
FLOOR_INCIDENTS = 5.0
"""Automatic ``min_harm`` is never below this many median incidents' worth of harm."""
CONCAVE_RATIO = 0.3
"""``shapely.concave_hull`` ratio for cluster outlines (1 would be the convex hull)."""
HDBSCAN_MAX_COPIES = 30_000
"""HDBSCAN repeats points in proportion to harm; the harm unit grows to keep copies below this."""

_REQUIRED = (schema.HARM, schema.BOROUGH_CODE, schema.BOROUGH, schema.LOCATION)
_PREFIX = "On or near"
GENERIC_PLACES = frozenset(
    {
        "Airport/Airfield",
        "Bus/Coach Station",
        "Conference/Exhibition Centre",
        "Ferry Terminal",
        "Further/Higher Educational Building",
        "Hospital",
        "Nightclub",
        "Park/Open Space",
        "Parking Area",
        "Pedestrian Subway",
        "Petrol Station",
        "Police Station",
        "Prison",
        "Race Track",
        "Shopping Area",
        "Sports/Recreation Area",
        "Supermarket",
        "Theatre/Concert Hall",
        "Theme/Adventure Park",
    }
)
"""data.police.uk snap-point names that say what a place is, not where it is."""


@dataclass(frozen=True)
class Clusters:
    """Harm clusters found by :func:`find_clusters`.

    Attributes
    ----------
    labels
        Cluster id of every incident, indexed like the incidents (name ``cluster``, int64);
        ``-1`` is noise (harm not dense enough to belong to any cluster).
    polygons
        One row per cluster, indexed by ``cluster`` (0 holds the most harm), with an outline
        polygon in the incidents' CRS and the columns ``incidents``, ``harm``,
        ``distinct_points``, ``borough_code``, ``borough``, ``place``, ``area_km2``,
        ``harm_density_per_km2`` and ``rank`` (1 = most harm).
    parameters
        Every setting used, given or automatic (``min_harm`` and how it was chosen), and
        summary figures (distinct points, clusters, share of harm clustered), for manifests.
    """

    labels: pd.Series
    polygons: gpd.GeoDataFrame
    parameters: dict[str, object]


@dataclass(frozen=True)
class _Stacks:
    """Incidents collapsed onto their distinct coordinates (in order of first occurrence)."""

    xy: np.ndarray  # (m, 2) metres
    harm: np.ndarray  # (m,) summed harm of the incidents at each point
    count: np.ndarray  # (m,) incidents at each point
    codes: np.ndarray  # (n,) distinct point of every incident


def find_clusters(
    incidents: gpd.GeoDataFrame,
    *,
    method: str = "dbscan",
    eps_m: float = 150.0,
    min_harm: float | None = None,
    min_cluster_harm: float | None = None,
    seed: int | None = None,
) -> Clusters:
    """Find places where harm is dense, with DBSCAN or HDBSCAN, and outline them.

    Parameters
    ----------
    incidents
        Tidy incidents (see :func:`hotspots.read_incidents`): Point geometry in a projected
        CRS in metres, and ``harm``, ``borough_code``, ``borough`` and ``location``.
    method
        ``"dbscan"`` (default) or ``"hdbscan"``.
    eps_m
        DBSCAN neighbourhood radius in metres: a point is *core* when the harm within
        ``eps_m`` of it (its own included) is at least ``min_harm``, and core points closer
        than ``eps_m`` join one cluster. HDBSCAN has no radius; there ``eps_m`` only sets the
        scale of the automatic ``min_harm`` and the outline buffer.
    min_harm
        Harm needed within ``eps_m`` for a core point (DBSCAN ``min_samples`` with harm as
        ``sample_weight``; for HDBSCAN, the harm that sets a point's core distance).
        ``None`` chooses it automatically (reported in ``parameters``): ten times the harm
        that an ``eps_m`` disc holds on average, where the average spreads the total harm
        evenly over the convex hull of the points, and at least five median incidents'
        worth of harm. A hotspot is thus ten times as harm-dense as the area's average,
        whatever the period or offence mix.
    min_cluster_harm
        The least total harm a cluster may hold. HDBSCAN's ``min_cluster_size`` (default:
        ``min_harm``). For DBSCAN it is a filter applied afterwards (smaller clusters become
        noise); default ``None`` keeps every DBSCAN cluster.
    seed
        Accepted for a uniform pipeline signature. Both methods are deterministic, so it is
        unused (recorded in ``parameters``).

    Returns
    -------
    Clusters
        ``labels`` per incident, ``polygons`` per cluster and ``parameters``.

    Raises
    ------
    CRSError
        If the incidents have no CRS or a geographic one (degrees).
    SchemaError
        If a column is missing, harm is negative or missing, a geometry is not a point, or
        an option is out of range.

    Notes
    -----
    **Stacked points, DBSCAN.** Incidents with identical coordinates are collapsed into one
    point weighted by their summed harm. This gives exactly the labels of DBSCAN on the raw
    points with ``sample_weight=harm``: copies of a point are at distance 0, so they have
    the same neighbours and the same neighbourhood harm (the sum over the distinct points
    within ``eps_m`` of their summed harm), hence the same core status; being within
    ``eps_m`` of each other they always share a label, and a point between two clusters
    goes to the cluster started first, which is the same because distinct points keep the
    order of their first incident. A test checks this against ``sklearn.cluster.DBSCAN``.
    The labelling reproduces scikit-learn's (clusters numbered in order of their first core
    point; a border point goes to the earliest-numbered cluster it touches) but is computed
    here with a k-d tree and connected components, because scikit-learn needs an integer
    ``min_samples`` and sums weights in a Python loop. Neighbours are those within
    ``eps_m`` inclusive, as in scikit-learn. (Harm is summed in another order, so a
    neighbourhood holding exactly ``min_harm`` could differ in the last bit of rounding.)

    **HDBSCAN.** ``sklearn.cluster.HDBSCAN`` takes no ``sample_weight``, so harm enters by
    repetition: each distinct point is repeated ``round(harm / unit)`` times, where
    ``unit`` is the median incident harm, raised when needed so that about 30,000 copies at
    most are clustered (scikit-learn's HDBSCAN time grows with the square of the points:
    about 2 s for 34,000 here). ``min_samples`` and ``min_cluster_size`` are ``min_harm``
    and ``min_cluster_harm`` counted in units. Each distinct point takes the label most of
    its copies received (HDBSCAN can split identical points). A point lighter than half a
    unit (zero harm, such as anti-social behaviour under CCHI, or a single minor incident
    once the unit has been raised) gets no copies; like a DBSCAN border point, it takes the
    label of the nearest repeated point within ``eps_m``, else it is noise. So this is
    HDBSCAN on harm rounded to ``unit`` (reported, with how many points were light), not
    an exact weighted HDBSCAN, and it is much slower than DBSCAN. Clusters are selected
    with ``cluster_selection_method="leaf"``: the default ``"eom"`` tends to pick a few
    city-sized clusters on a whole force area. As in any HDBSCAN, a cluster keeps the
    points that split off it while it shrank (members with low probability) and only
    points that split off before any cluster formed are noise, so HDBSCAN outlines can be
    wider than DBSCAN's. HDBSCAN never returns the whole point set as one cluster, so
    input holding a single dense group gives no cluster; use DBSCAN there.

    **Polygons.** The outline of a cluster is the concave hull (ratio 0.3) of its distinct
    points buffered by ``eps_m / 2``, so a one-point cluster is a disc and every point lies
    inside. ``place`` is the data.police.uk ``location`` holding the most harm in the
    cluster (ties: more incidents, then alphabetical), among locations that name a street
    or place; a blank ``"On or near"`` or a generic snap-point type such as
    ``"On or near Supermarket"`` (:data:`GENERIC_PLACES`) is used only when the cluster
    has no other name. ``borough`` is the one holding the most harm (ties: lowest code).
    Cluster ids run 0, 1, ... by harm (ties: more incidents, then the lowest x, y of a
    member point), so the same input always gives the same output.
    """
    _check_incidents(incidents)
    _check_options(method, eps_m, min_harm, min_cluster_harm)
    stacks = _collapse(incidents)
    harm = incidents[schema.HARM].to_numpy(dtype=np.float64)

    automatic = min_harm is None
    parameters: dict[str, object] = {
        "method": method,
        "eps_m": float(eps_m),
        "incidents": len(incidents),
        "distinct_points": len(stacks.harm),
        "incidents_per_distinct_point": len(incidents) / max(len(stacks.harm), 1),
        "seed": seed,
        "seed_used": False,
    }
    if automatic:
        min_harm, rule = _automatic_min_harm(stacks, harm, eps_m=eps_m)
        parameters.update(rule)
    parameters["min_harm"] = float(min_harm)
    parameters["min_harm_source"] = "automatic" if automatic else "given"

    if method == "dbscan":
        point_labels = _dbscan_labels(stacks.xy, stacks.harm, eps_m=eps_m, min_weight=min_harm)
        parameters["dbscan_rule"] = (
            "core point: harm within eps_m (inclusive, own stack included) >= min_harm; "
            "stacked points collapsed with summed harm as sample_weight (exact)"
        )
    else:
        cluster_harm = min_harm if min_cluster_harm is None else min_cluster_harm
        point_labels, hdbscan_parameters = _hdbscan_labels(
            stacks, harm, eps_m=eps_m, min_harm=min_harm, min_cluster_harm=cluster_harm
        )
        parameters.update(hdbscan_parameters)
    if min_cluster_harm is not None:
        point_labels = _drop_small(point_labels, stacks.harm, min_cluster_harm)
    if method == "hdbscan" and min_cluster_harm is None:
        min_cluster_harm = min_harm
    parameters["min_cluster_harm"] = None if min_cluster_harm is None else float(min_cluster_harm)
    point_labels = _relabel_by_harm(point_labels, stacks)

    labels = pd.Series(point_labels[stacks.codes], index=incidents.index, name=CLUSTER)
    polygons = _polygons(incidents, labels.to_numpy(), stacks, point_labels, eps_m=eps_m)
    total = float(harm.sum())
    parameters.update(
        {
            "clusters": len(polygons),
            "noise_incidents": int((labels.to_numpy() == NOISE).sum()),
            "harm_share_clustered": (
                float(polygons[schema.HARM].sum()) / total if total > 0 else 0.0
            ),
            "place_rule": "location holding the most harm in the cluster (ties: more "
            "incidents, then alphabetical); blank or generic names (e.g. 'On or near "
            "Supermarket') only when the cluster has no other",
            "polygon_rule": f"concave hull (ratio {CONCAVE_RATIO}) of the distinct points, "
            "buffered by eps_m / 2",
        }
    )
    return Clusters(labels=labels, polygons=polygons, parameters=parameters)


def clusters_per_cell(clusters: Clusters, incidents: pd.DataFrame) -> pd.Series:
    """Give each cell the cluster that holds the most of its harm, or -1.

    Parameters
    ----------
    clusters
        Result of :func:`find_clusters` on these incidents.
    incidents
        The same incidents, with a ``cell_id`` column.

    Returns
    -------
    Series
        Indexed by ``cell_id`` (sorted; every cell that holds an incident), name
        ``cluster``, int64. A cell takes the cluster holding the most of its harm (ties: more
        incidents, then the lower cluster id), unless its unclustered (noise) incidents hold
        more harm than that cluster, or it has no clustered incident: then it is -1.
        Reindex onto a full grid with ``fill_value=-1``.

    Raises
    ------
    SchemaError
        If ``cell_id`` or ``harm`` is missing or the labels do not match the incidents.
    """
    schema.require_columns(incidents, [schema.CELL_ID, schema.HARM], name="incidents")
    labels = clusters.labels
    if len(labels) != len(incidents) or not labels.index.equals(incidents.index):
        raise SchemaError(
            f"clusters.labels has {len(labels)} rows but incidents has {len(incidents)}, or "
            "their indexes differ; pass the incidents that find_clusters was run on."
        )
    if incidents[schema.CELL_ID].isna().any():
        raise SchemaError(
            f"{int(incidents[schema.CELL_ID].isna().sum())} incident(s) have no cell_id; "
            "assign cells to every incident (read_incidents does) before clusters_per_cell."
        )
    return cluster_of_cells(
        incidents[schema.CELL_ID].to_numpy(),
        labels.to_numpy(),
        incidents[schema.HARM].to_numpy(dtype=np.float64),
        np.ones(len(incidents), dtype=np.int64),
    )


def cluster_of_cells(
    cell_ids: np.ndarray, labels: np.ndarray, harm: np.ndarray, count: np.ndarray
) -> pd.Series:
    """Give each cell the cluster holding most of its harm, from points with harm and counts.

    Parameters
    ----------
    cell_ids, labels, harm, count
        Per point (an incident, or a stack of incidents at one map point): its cell, its
        cluster label (-1 noise), its harm and how many incidents it stands for.

    Returns
    -------
    Series
        As :func:`clusters_per_cell`.
    """
    table = pd.DataFrame({schema.CELL_ID: cell_ids, CLUSTER: labels, "sum": harm, "size": count})
    per = table.groupby([schema.CELL_ID, CLUSTER], sort=False)[["sum", "size"]].sum().reset_index()
    clustered = per[per[CLUSTER] != NOISE].sort_values(
        [schema.CELL_ID, "sum", "size", CLUSTER], ascending=[True, False, False, True]
    )
    best = clustered.drop_duplicates(schema.CELL_ID).set_index(schema.CELL_ID)
    noise = per[per[CLUSTER] == NOISE].set_index(schema.CELL_ID)
    cells = pd.Index(sorted(per[schema.CELL_ID].unique()), name=schema.CELL_ID)
    best = best.reindex(cells)
    noise_sum = noise["sum"].reindex(cells, fill_value=0.0)
    noise_wins = noise_sum > best["sum"].fillna(-1.0)
    out = best[CLUSTER].where(~noise_wins & best[CLUSTER].notna(), NOISE)
    return out.astype(np.int64).rename(CLUSTER)


# --- validation ------------------------------------------------------------------


def _check_incidents(incidents: gpd.GeoDataFrame) -> None:
    """Raise if incidents cannot be clustered in metres."""
    if not isinstance(incidents, gpd.GeoDataFrame):
        raise SchemaError(
            f"find_clusters needs a GeoDataFrame of incidents, got {type(incidents).__name__}; "
            "load them with hotspots.read_incidents or hotspots.read_store."
        )
    crs = incidents.crs
    if crs is None:
        raise CRSError(
            "incidents have no CRS but find_clusters(eps_m=...) needs metres; set it, e.g. "
            "incidents.set_crs('EPSG:27700'), or load via read_incidents."
        )
    unit = crs.axis_info[0].unit_name if crs.axis_info else "unknown"
    if crs.is_geographic or unit not in ("metre", "meter"):
        raise CRSError(
            f"incidents use {crs.to_string()} ({unit}) but find_clusters(eps_m=...) needs "
            f"metres. Reproject with incidents.to_crs('{schema.WORKING_CRS}'), or load via "
            "read_incidents."
        )
    schema.require_columns(incidents, _REQUIRED, name="incidents")
    if len(incidents) == 0:
        raise SchemaError("incidents is empty; find_clusters needs at least one incident.")
    problems = []
    harm = incidents[schema.HARM]
    if not pd.api.types.is_numeric_dtype(harm) or pd.api.types.is_bool_dtype(harm):
        problems.append(f"harm has dtype {harm.dtype}, expected float64")
    else:
        values = harm.to_numpy(dtype=np.float64, na_value=np.nan)
        if np.isnan(values).any():
            problems.append(f"{int(np.isnan(values).sum())} incident(s) have no harm")
        if np.isinf(values).any():
            problems.append(f"{int(np.isinf(values).sum())} incident(s) have infinite harm")
        if (values < 0).any():
            problems.append(
                f"{int((values < 0).sum())} incident(s) have negative harm "
                f"(lowest {values[values < 0].min():g})"
            )
    geometry = incidents.geometry.to_numpy()
    not_points = (shapely.get_type_id(geometry) != 0) | shapely.is_empty(geometry)
    if not_points.any():
        problems.append(
            f"{int(not_points.sum())} geometry value(s) are missing, empty or not points"
        )
    if problems:
        raise SchemaError(
            "incidents cannot be clustered: "
            + "; ".join(problems)
            + ". Score harm with the harm table (harm >= 0) and keep one Point per incident, "
            "as read_incidents does."
        )


def _check_options(
    method: str, eps_m: float, min_harm: float | None, min_cluster_harm: float | None
) -> None:
    """Raise one SchemaError listing every option out of range."""
    problems = []
    if method not in METHODS:
        problems.append(f"method={method!r} (use one of {list(METHODS)})")
    if not (math.isfinite(eps_m) and eps_m > 0):
        problems.append(f"eps_m={eps_m!r} (use a distance in metres > 0, e.g. 150)")
    if min_harm is not None and not (math.isfinite(min_harm) and min_harm > 0):
        problems.append(f"min_harm={min_harm!r} (use a harm > 0, or None for automatic)")
    if min_cluster_harm is not None and not (
        math.isfinite(min_cluster_harm) and min_cluster_harm >= 0
    ):
        problems.append(f"min_cluster_harm={min_cluster_harm!r} (use a harm >= 0, or None)")
    if problems:
        raise SchemaError("find_clusters got " + "; ".join(problems) + ".")


# --- stacks and labels -----------------------------------------------------------


def _collapse(incidents: gpd.GeoDataFrame) -> _Stacks:
    """Collapse identical coordinates, keeping the order of each point's first incident."""
    geometry = incidents.geometry.to_numpy()
    x = shapely.get_x(geometry)
    y = shapely.get_y(geometry)
    codes, distinct = pd.factorize(x + 1j * y, sort=False)
    distinct = np.asarray(distinct)
    harm = incidents[schema.HARM].to_numpy(dtype=np.float64)
    return _Stacks(
        xy=np.column_stack([distinct.real, distinct.imag]),
        harm=np.bincount(codes, weights=harm, minlength=len(distinct)),
        count=np.bincount(codes, minlength=len(distinct)),
        codes=codes,
    )


def _automatic_min_harm(
    stacks: _Stacks, harm: np.ndarray, *, eps_m: float
) -> tuple[float, dict[str, object]]:
    """Ten times the harm an eps-disc holds on average, floored at five median incidents."""
    hull_km2 = float(shapely.convex_hull(shapely.multipoints(stacks.xy)).area) / 1e6
    total = float(harm.sum())
    disc_km2 = math.pi * eps_m**2 / 1e6
    average_in_disc = total * disc_km2 / hull_km2 if hull_km2 > 0 else 0.0
    positive = harm[harm > 0]
    median = float(np.median(positive)) if len(positive) else 0.0
    floor = FLOOR_INCIDENTS * median
    min_harm = max(DENSITY_RATIO * average_in_disc, floor)
    if not min_harm > 0:
        raise SchemaError(
            "every incident has harm 0 (e.g. only anti-social behaviour, which CCHI weights 0), "
            "so there is no harm to cluster; pass min_harm=... with a harm table that weights "
            "these offences."
        )
    rule = {
        "min_harm_rule": f"max({DENSITY_RATIO:g} x harm in an eps_m disc at the average "
        f"density over the points' convex hull, {FLOOR_INCIDENTS:g} x median incident harm)",
        "hull_area_km2": hull_km2,
        "average_harm_in_disc": average_in_disc,
        "median_incident_harm": median,
    }
    return min_harm, rule


def _dbscan_labels(
    xy: np.ndarray, weight: np.ndarray, *, eps_m: float, min_weight: float
) -> np.ndarray:
    """Weighted DBSCAN labels, numbered and tie-broken exactly as scikit-learn does."""
    m = len(xy)
    pairs = cKDTree(xy).query_pairs(eps_m, output_type="ndarray")
    i, j = pairs[:, 0], pairs[:, 1]
    around = (
        weight
        + np.bincount(i, weights=weight[j], minlength=m)
        + np.bincount(j, weights=weight[i], minlength=m)
    )
    core = around >= min_weight
    labels = np.full(m, NOISE, dtype=np.int64)
    core_index = np.flatnonzero(core)
    if not len(core_index):
        return labels
    both = core[i] & core[j]
    graph = sparse.coo_matrix((np.ones(both.sum()), (i[both], j[both])), shape=(m, m))
    n_components, component = connected_components(graph, directed=False)
    # scikit-learn starts a cluster at each unlabelled core point in index order, so
    # clusters are numbered by the first core point of each component.
    first = np.full(n_components, m, dtype=np.int64)
    np.minimum.at(first, component[core_index], core_index)
    used = np.flatnonzero(first < m)
    number = np.full(n_components, NOISE, dtype=np.int64)
    number[used[np.argsort(first[used], kind="stable")]] = np.arange(len(used))
    labels[core_index] = number[component[core_index]]
    # A border point joins the first-numbered cluster that reaches it.
    border_ij = core[j] & ~core[i]
    border_ji = core[i] & ~core[j]
    border = np.concatenate([i[border_ij], j[border_ji]])
    reached_by = np.concatenate([labels[j[border_ij]], labels[i[border_ji]]])
    if len(border):
        best = np.full(m, np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(best, border, reached_by)
        reached = best < np.iinfo(np.int64).max
        labels[reached] = best[reached]
    return labels


def _hdbscan_labels(
    stacks: _Stacks,
    harm: np.ndarray,
    *,
    eps_m: float,
    min_harm: float,
    min_cluster_harm: float,
) -> tuple[np.ndarray, dict[str, object]]:
    """HDBSCAN on distinct points repeated in proportion to their harm (see find_clusters)."""
    from sklearn.cluster import HDBSCAN

    positive = harm[harm > 0]
    median = float(np.median(positive)) if len(positive) else 0.0
    total = float(stacks.harm.sum())
    unit = max(median, total / HDBSCAN_MAX_COPIES)
    m = len(stacks.harm)
    labels = np.full(m, NOISE, dtype=np.int64)
    copies = np.rint(stacks.harm / unit).astype(np.int64) if unit > 0 else np.zeros(m, int)
    min_samples = max(1, round(min_harm / unit)) if unit > 0 else 1
    min_cluster_size = max(2, round(min_cluster_harm / unit)) if unit > 0 else 2
    light = copies == 0
    parameters: dict[str, object] = {
        "hdbscan_harm_unit": unit,
        "hdbscan_copies": int(copies.sum()),
        "hdbscan_light_points": int(light.sum()),
        "hdbscan_light_harm_share": float(stacks.harm[light].sum()) / total if total else 0.0,
        "hdbscan_min_samples": min_samples,
        "hdbscan_min_cluster_size": min_cluster_size,
        "hdbscan_cluster_selection_method": "leaf",
        "hdbscan_rule": "sklearn HDBSCAN has no sample_weight: each distinct point repeated "
        "round(harm / unit) times; a point takes the label most of its copies got; a point "
        "lighter than unit / 2 takes the label of the nearest repeated point within eps_m",
    }
    owner = np.repeat(np.arange(m), copies)
    if len(owner) <= min_cluster_size:
        return labels, parameters
    model = HDBSCAN(
        min_cluster_size=min_cluster_size,
        min_samples=min(min_samples, len(owner)),
        cluster_selection_method="leaf",
        copy=True,
    )
    copy_labels = model.fit(stacks.xy[owner]).labels_.astype(np.int64)
    # The label most copies of a point got (ties: a cluster over noise, then the lowest id).
    votes = pd.DataFrame({"point": owner, "label": copy_labels}).value_counts().reset_index()
    votes["noise"] = votes["label"] == NOISE
    votes = votes.sort_values(
        ["point", "count", "noise", "label"], ascending=[True, False, True, True], kind="stable"
    )
    winners = votes.drop_duplicates("point")
    labels[winners["point"].to_numpy()] = winners["label"].to_numpy()
    # Light points join the nearest repeated point's cluster if it is within eps_m.
    heavy = np.flatnonzero(~light)
    if light.any():
        distance, nearest = cKDTree(stacks.xy[heavy]).query(
            stacks.xy[light], distance_upper_bound=eps_m
        )
        found = np.isfinite(distance)
        light_labels = np.full(int(light.sum()), NOISE, dtype=np.int64)
        light_labels[found] = labels[heavy[nearest[found]]]
        labels[light] = light_labels
    return labels, parameters


def _drop_small(labels: np.ndarray, weight: np.ndarray, min_cluster_harm: float) -> np.ndarray:
    """Turn clusters holding less than ``min_cluster_harm`` into noise."""
    clustered = labels >= 0
    if not clustered.any():
        return labels
    totals = np.bincount(labels[clustered], weights=weight[clustered])
    small = totals < min_cluster_harm
    out = labels.copy()
    out[clustered & small[np.where(clustered, labels, 0)]] = NOISE
    return out


def _relabel_by_harm(labels: np.ndarray, stacks: _Stacks) -> np.ndarray:
    """Renumber clusters 0, 1, ... by harm, then incidents, then lowest member (x, y)."""
    clustered = labels >= 0
    if not clustered.any():
        return labels
    old = np.unique(labels[clustered])
    position = np.searchsorted(old, labels[clustered])
    harm = np.bincount(position, weights=stacks.harm[clustered], minlength=len(old))
    count = np.bincount(position, weights=stacks.count[clustered], minlength=len(old))
    # Lowest (x, y) member of each cluster: the first of it in x, y order.
    members_xy = stacks.xy[clustered]
    by_xy = np.lexsort((members_xy[:, 1], members_xy[:, 0]))
    seen = np.full(len(old), -1, dtype=np.int64)
    order_pos = position[by_xy]
    first_pos = np.unique(order_pos, return_index=True)[1]
    seen[order_pos[first_pos]] = by_xy[first_pos]
    lowest_x = members_xy[seen, 0]
    lowest_y = members_xy[seen, 1]
    order = np.lexsort((lowest_y, lowest_x, -count, -harm))
    new_of = np.empty(len(old), dtype=np.int64)
    new_of[order] = np.arange(len(old))
    out = np.full(len(labels), NOISE, dtype=np.int64)
    out[clustered] = new_of[position]
    return out


# --- polygons ----------------------------------------------------------------------


def _polygons(
    incidents: gpd.GeoDataFrame,
    labels: np.ndarray,
    stacks: _Stacks,
    point_labels: np.ndarray,
    *,
    eps_m: float,
) -> gpd.GeoDataFrame:
    """One outline and summary row per cluster, indexed by cluster id."""
    n_clusters = int(point_labels.max()) + 1 if len(point_labels) else 0
    index = pd.RangeIndex(n_clusters, name=CLUSTER)
    in_cluster = labels >= 0
    cluster_of = labels[in_cluster]
    harm = incidents[schema.HARM].to_numpy(dtype=np.float64)[in_cluster]
    clustered_points = np.flatnonzero(point_labels >= 0)
    # Sums over distinct points, in the order _relabel_by_harm used, so ranks match harm.
    counts = np.bincount(
        point_labels[clustered_points],
        weights=stacks.count[clustered_points],
        minlength=n_clusters,
    ).astype(np.int64)
    harms = np.bincount(
        point_labels[clustered_points], weights=stacks.harm[clustered_points], minlength=n_clusters
    )

    point_order = clustered_points[np.argsort(point_labels[clustered_points], kind="stable")]
    distinct = np.bincount(point_labels[clustered_points], minlength=n_clusters).astype(np.int64)
    outlines = np.empty(0, dtype=object)
    if n_clusters:
        points = shapely.multipoints(stacks.xy[point_order], indices=point_labels[point_order])
        hulls = shapely.concave_hull(points, ratio=CONCAVE_RATIO)
        outlines = shapely.buffer(hulls, eps_m / 2)
    area_km2 = shapely.area(outlines) / 1e6 if n_clusters else np.empty(0)

    place = _heaviest_location(incidents[schema.LOCATION], in_cluster, cluster_of, harm)
    borough_code, borough = _heaviest_borough(incidents, in_cluster, cluster_of, harm)

    table = pd.DataFrame(
        {
            INCIDENTS: counts,
            schema.HARM: harms,
            DISTINCT_POINTS: distinct,
            schema.BOROUGH_CODE: _at(borough_code, n_clusters),
            schema.BOROUGH: _at(borough, n_clusters),
            PLACE: [tidy_location(p) for p in _at(place, n_clusters)],
            AREA_KM2: area_km2,
            HARM_DENSITY: harms / area_km2 if n_clusters else np.empty(0),
            RANK: np.arange(1, n_clusters + 1, dtype=np.int64),
        },
        index=index,
    )
    for column in (schema.BOROUGH_CODE, schema.BOROUGH, PLACE):
        table[column] = table[column].astype("string")
    return gpd.GeoDataFrame(table, geometry=outlines, crs=incidents.crs)


def _heaviest_location(
    locations: pd.Series, in_cluster: np.ndarray, cluster_of: np.ndarray, harm: np.ndarray
) -> dict[int, str]:
    """Per cluster, the named location holding the most harm (see find_clusters)."""
    codes, uniques = pd.factorize(locations, sort=False)
    names = np.asarray(uniques, dtype=object)
    best = heaviest_code(
        codes[in_cluster],
        cluster_of,
        harm,
        tie_rank=_alphabetical_rank(names),
        vagueness=_vagueness(names),
    )
    return {cluster: names[code] for cluster, code in best.items()}


def _heaviest_borough(
    incidents: pd.DataFrame, in_cluster: np.ndarray, cluster_of: np.ndarray, harm: np.ndarray
) -> tuple[dict[int, str], dict[int, str]]:
    """Per cluster, the borough (code and name together) holding the most harm."""
    code_codes, codes = pd.factorize(incidents[schema.BOROUGH_CODE], sort=False)
    name_codes, names = pd.factorize(incidents[schema.BOROUGH], sort=False)
    code_codes, name_codes = code_codes[in_cluster], name_codes[in_cluster]
    known = (code_codes >= 0) & (name_codes >= 0)
    pair = np.where(known, code_codes.astype(np.int64) * len(names) + name_codes, -1)
    pair_codes, pairs = pd.factorize(pair, sort=False, use_na_sentinel=False)
    pairs = np.asarray(pairs)
    pair_codes = np.where(pairs[pair_codes] >= 0, pair_codes, -1)
    code_of = np.asarray(codes, dtype=object)[np.maximum(pairs, 0) // max(len(names), 1)]
    name_of = np.asarray(names, dtype=object)[np.maximum(pairs, 0) % max(len(names), 1)]
    tie_rank = np.empty(len(pairs), dtype=np.int64)
    tie_rank[np.lexsort((name_of.astype(str), code_of.astype(str)))] = np.arange(len(pairs))
    best = heaviest_code(pair_codes, cluster_of, harm, tie_rank=tie_rank)
    return (
        {cluster: code_of[code] for cluster, code in best.items()},
        {cluster: name_of[code] for cluster, code in best.items()},
    )


def heaviest_code(
    codes: np.ndarray,
    cluster_of: np.ndarray,
    harm: np.ndarray,
    count: np.ndarray | None = None,
    *,
    tie_rank: np.ndarray,
    vagueness: np.ndarray | None = None,
) -> dict[int, int]:
    """Per cluster, the code holding the most harm (ties: more incidents, then tie_rank).

    Each row is an incident, or a stack of ``count`` incidents at one map point with their
    summed ``harm``. Codes below 0 (missing values) never win. With ``vagueness``, a less
    vague code wins whatever its harm.
    """
    known = codes >= 0
    size = np.ones(len(codes), dtype=np.int64) if count is None else np.asarray(count)
    table = pd.DataFrame(
        {
            "cluster": cluster_of[known],
            "code": codes[known],
            "sum": harm[known],
            "size": size[known],
        }
    )
    per = table.groupby(["cluster", "code"], sort=False)[["sum", "size"]].sum().reset_index()
    code = per["code"].to_numpy()
    per["vague"] = 0 if vagueness is None else vagueness[code]
    per["tie"] = tie_rank[code]
    per = per.sort_values(
        ["cluster", "vague", "sum", "size", "tie"],
        ascending=[True, True, False, False, True],
        kind="stable",
    ).drop_duplicates("cluster")
    return dict(zip(per["cluster"].tolist(), per["code"].tolist(), strict=True))


def _alphabetical_rank(values: np.ndarray) -> np.ndarray:
    """Position of each value in alphabetical order."""
    rank = np.empty(len(values), dtype=np.int64)
    rank[np.argsort(values.astype(str), kind="stable")] = np.arange(len(values))
    return rank


def _at(values: dict[int, str], n_clusters: int) -> pd.Series:
    """Spread per-cluster strings over clusters 0..n-1, <NA> where a cluster has none."""
    return pd.Series(
        [values.get(cluster, pd.NA) for cluster in range(n_clusters)], dtype="string"
    ).to_numpy()


def _vagueness(locations: np.ndarray) -> np.ndarray:
    """0 for a named place, 1 for a generic place type, 2 for a blank name."""
    names = pd.Series(locations, dtype="string").str.strip()
    names = names.str.removeprefix(_PREFIX).str.strip()
    vague = np.where(names.isin(GENERIC_PLACES).to_numpy(dtype=bool), 1, 0)
    return np.where((names == "").to_numpy(dtype=bool, na_value=True), 2, vague)
