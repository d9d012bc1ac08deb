"""The count cube (kind x view x geography x group x band) and its disclosure control."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from hotspots.core.errors import InputError, SchemaError
from hotspots.stops.classify import (
    ALL,
    BAND_VALUES,
    COMBINED_VIEW,
    DEFAULT_MIN_COUNT,
    FORCE_CODE,
    GROUP_ORDER,
    NOT_STATED,
    NOT_STATED_AS_BLACK,
    NOT_STATED_AS_WHITE,
    REFERENCE_GROUP,
    UNLOCATED_CODE,
    UNLOCATED_FILTER,
    UNMAPPED,
    ClassifiedSearches,
    _check_view,
)

CUBE_KEYS = ("kind", "view", "geography_code", "group", "dimension", "band", "area_filter")


def _indicators(frame: pd.DataFrame) -> pd.DataFrame:
    find = frame["find"]
    return pd.DataFrame(
        {
            "searches": np.ones(len(frame), dtype=np.int64),
            "arrests": frame["is_arrest"].to_numpy(dtype=np.int64),
            "actions": frame["is_action"].to_numpy(dtype=np.int64),
            "finds": find.fillna(False).to_numpy(dtype=np.int64),
            "find_known": find.notna().to_numpy(dtype=np.int64),
        },
        index=frame.index,
    )


def _group_sums(
    indicators: pd.DataFrame, keys: list[pd.Series | np.ndarray], names: list[str]
) -> pd.DataFrame:
    grouped = indicators.groupby([pd.Series(np.asarray(k), index=indicators.index) for k in keys])
    sums = grouped.sum()
    sums.index = sums.index.set_names(names)
    return sums


def count_searches(
    classified: ClassifiedSearches | pd.DataFrame,
    *,
    geographies: Sequence[str],
    area_filters: Mapping[str, pd.Series] | None = None,
    views: Sequence[str] = ("self", "officer"),
    filter_views: Sequence[str] = ("self",),
    breakdowns: Sequence[str] = ("age", "gender"),
) -> pd.DataFrame:
    """Count searches and their outcomes in every published combination, zeros included.

    Parameters
    ----------
    classified
        From :func:`classify_searches`.
    geographies
        Every area code to report (e.g. the 33 boroughs), whether or not it has searches.
    area_filters
        Named hotspot sets: per search, True if it lies inside the set (searches without a
        location are neither inside nor outside). Each name gives filters
        ``"inside <name>"`` and ``"outside <name>"``.
    views
        Ethnicity views to count.
    filter_views
        Views for which the hotspot filters are counted.
    breakdowns
        Band dimensions counted for the whole force area (``"age"``, ``"gender"``).

    Returns
    -------
    DataFrame
        Columns :data:`CUBE_KEYS` and ``count``: ``kind`` is ``searches``, ``arrests``,
        ``actions``, ``finds`` or ``find_known`` (searches with a recorded find flag);
        ``geography_code`` is an area, ``"all"`` (the whole force area) or ``"none"`` (no
        location); ``group`` includes ``"all"``; ``dimension``/``band`` are
        ``"all"``/``""`` or a band of age or gender; ``area_filter`` is ``"all"``,
        ``"no location"`` or inside/outside a hotspot set.
    """
    frame = classified.searches if isinstance(classified, ClassifiedSearches) else classified
    indicators = _indicators(frame)
    geo = frame["geography_code"].to_numpy(dtype=object)
    located = geo != UNLOCATED_CODE
    filters: dict[str, np.ndarray] = {ALL: np.ones(len(frame), dtype=bool)}
    filters[UNLOCATED_FILTER] = ~located
    named_filters: dict[str, np.ndarray] = {}
    for name, inside in (area_filters or {}).items():
        flag = np.asarray(pd.Series(inside).reindex(frame.index).fillna(False), dtype=bool)
        named_filters[f"inside {name}"] = flag & located
        named_filters[f"outside {name}"] = ~flag & located
    geos = [*dict.fromkeys([*geographies, UNLOCATED_CODE])]
    extra_geos = sorted(set(geo) - set(geos))
    if extra_geos:
        raise SchemaError(
            f"searches fall in areas {extra_geos[:5]} that are not in the geographies given."
        )
    pieces: list[pd.DataFrame] = []
    for view in views:
        _check_view(view)
        group = frame[f"group_{view}"].to_numpy(dtype=object)
        groups = [g for g in GROUP_ORDER if g != ALL]
        if view == "officer":
            groups = [g for g in groups if g != "Mixed"]
        if UNMAPPED not in set(group):
            groups = [g for g in groups if g != UNMAPPED]
        view_filters = dict(filters)
        if view in filter_views:
            view_filters.update(named_filters)
        for filter_name, mask in view_filters.items():
            sub = indicators[mask]
            by = _group_sums(sub, [geo[mask], group[mask]], ["geography_code", "group"])
            full = pd.MultiIndex.from_product([geos, groups], names=["geography_code", "group"])
            by = by.reindex(full, fill_value=0)
            force = by.groupby(level="group").sum()
            force.index = pd.MultiIndex.from_product([[FORCE_CODE], force.index])
            by = pd.concat([force.reindex(pd.MultiIndex.from_product([[FORCE_CODE], groups])), by])
            by.index = by.index.set_names(["geography_code", "group"])
            totals = by.groupby(level="geography_code", sort=False).sum()
            totals.index = pd.MultiIndex.from_product([totals.index, [ALL]])
            by = pd.concat([by, totals]).sort_index()
            long = by.stack().rename("count").reset_index()
            long.columns = ["geography_code", "group", "kind", "count"]
            long["view"] = view
            long["dimension"] = ALL
            long["band"] = ""
            long["area_filter"] = filter_name
            pieces.append(long)
        for dimension in breakdowns:
            column = {"age": "age_band", "gender": "gender_band"}[dimension]
            bands = list(BAND_VALUES[dimension])
            band = frame[column].to_numpy(dtype=object)
            by = _group_sums(indicators, [band, group], ["band", "group"])
            by = by.reindex(
                pd.MultiIndex.from_product([bands, groups], names=["band", "group"]), fill_value=0
            )
            totals = by.groupby(level="band", sort=False).sum()
            totals.index = pd.MultiIndex.from_product([totals.index, [ALL]])
            by = pd.concat([by, totals]).sort_index()
            long = by.stack().rename("count").reset_index()
            long.columns = ["band", "group", "kind", "count"]
            long["view"] = view
            long["geography_code"] = FORCE_CODE
            long["dimension"] = dimension
            long["area_filter"] = ALL
            pieces.append(long)
    cube = pd.concat(pieces, ignore_index=True)[[*CUBE_KEYS, "count"]]
    cube["count"] = cube["count"].astype(np.int64)
    return cube.sort_values(list(CUBE_KEYS), ignore_index=True)


def _family(
    cube: pd.DataFrame, dim: Sequence[str], total: np.ndarray, part: np.ndarray
) -> list[np.ndarray]:
    """Equations ``total = sum(parts)`` over dimension(s) ``dim``, one per other-key combination."""
    keys = [k for k in CUBE_KEYS if k not in dim]
    used = total | part
    sub = cube.loc[used, keys].copy()
    sub["_pos"] = np.flatnonzero(used)
    sub["_total"] = total[used]
    sub["_eq"] = sub.groupby(keys, sort=False, dropna=False).ngroup()
    expected = int(part[used].any() and cube.loc[part, list(dim)].drop_duplicates().shape[0])
    sub = sub.sort_values(["_eq", "_total"], ascending=[True, False], kind="stable")
    equations: list[np.ndarray] = []
    eq = sub["_eq"].to_numpy()
    pos = sub["_pos"].to_numpy()
    is_total = sub["_total"].to_numpy()
    bounds = np.flatnonzero(np.diff(eq)) + 1
    for members, totals in zip(np.split(pos, bounds), np.split(is_total, bounds), strict=True):
        if totals.sum() == 1 and totals[0] and len(members) - 1 == expected:
            equations.append(members)
    return equations


def disclosure_equations(cube: pd.DataFrame) -> list[np.ndarray]:
    """Return the additive relations between published counts of a cube.

    Each equation is an array of cube positions whose first element is a total equal to
    the sum of the others: groups add up to all groups; areas and the searches without a
    location add up to the force area; inside, outside and without location add up to
    all searches, for every hotspot set; age (gender) bands add up to all ages.
    """
    group = cube["group"].to_numpy()
    geo = cube["geography_code"].to_numpy()
    dimension = cube["dimension"].to_numpy()
    area_filter = cube["area_filter"].to_numpy()
    equations = _family(cube, ["group"], group == ALL, group != ALL)
    equations += _family(cube, ["geography_code"], geo == FORCE_CODE, geo != FORCE_CODE)
    names = sorted({f.split(" ", 1)[1] for f in set(area_filter) if f.startswith("inside ")})
    for name in names:
        parts = np.isin(area_filter, [f"inside {name}", f"outside {name}", UNLOCATED_FILTER])
        equations += _family(cube, ["area_filter"], area_filter == ALL, parts)
    for dim in sorted(set(dimension) - {ALL}):
        equations += _family(cube, ["dimension", "band"], dimension == ALL, dimension == dim)
    return equations


def suppress_cells(
    counts: np.ndarray | pd.Series,
    equations: Iterable[np.ndarray],
    *,
    min_count: int = DEFAULT_MIN_COUNT,
    presuppressed: np.ndarray | None = None,
) -> np.ndarray:
    """Primary and secondary suppression of counts.

    Primary: every count from 1 to ``min_count - 1`` is suppressed (zero is published).
    Secondary: wherever a relation ``total = sum(parts)`` holds exactly one suppressed
    cell, the suppressed value could be recovered by subtraction, so one more cell of that
    relation is suppressed: the smallest non-zero part, else the total, else a zero part.
    This repeats until no relation has a single suppressed cell.

    Parameters
    ----------
    counts
        Cell values.
    equations
        Arrays of cell positions, the first being the total of the others.
    min_count
        Disclosure threshold.
    presuppressed
        Cells already withheld (e.g. suppressed in another table).

    Returns
    -------
    numpy.ndarray of bool
        True where the cell must not be published.
    """
    if min_count < 1:
        raise InputError(f"min_count {min_count} must be at least 1.")
    values = np.asarray(counts, dtype=np.float64)
    suppressed = (values > 0) & (values < min_count)
    if presuppressed is not None:
        suppressed |= np.asarray(presuppressed, dtype=bool)
    equations = [np.asarray(e, dtype=np.int64) for e in equations if len(e) > 1]
    changed = True
    while changed:
        changed = False
        for members in equations:
            hidden = suppressed[members]
            if hidden.sum() != 1:
                continue
            parts = members[1:][~hidden[1:]]
            nonzero = parts[values[parts] > 0]
            if len(nonzero):
                pick = nonzero[np.argmin(values[nonzero])]
            elif not hidden[0]:
                pick = members[0]
            elif len(parts):
                pick = parts[0]
            else:  # pragma: no cover - a relation of one part only
                continue
            suppressed[pick] = True
            changed = True
    return suppressed


def suppress_cube(cube: pd.DataFrame, *, min_count: int = DEFAULT_MIN_COUNT) -> pd.DataFrame:
    """Return a copy of the cube with a boolean ``suppressed`` column (see :func:`suppress_cells`)."""
    equations = disclosure_equations(cube)
    return cube.assign(
        suppressed=suppress_cells(cube["count"].to_numpy(), equations, min_count=min_count)
    )


def sensitivity_cube(
    classified: ClassifiedSearches,
    cube: pd.DataFrame,
    *,
    min_count: int = DEFAULT_MIN_COUNT,
) -> pd.DataFrame:
    """Cube cells of the not-stated sensitivity views, for the whole force area only.

    Three views, each with every kind and group, all bands and all searches
    (``dimension = "all"``, ``area_filter = "all"``, ``geography_code = "all"``):

    * ``combined``: the self-defined group where stated, else the officer-defined group
      (``group_combined`` of :func:`classify_searches`);
    * ``not_stated_as_white`` / ``not_stated_as_black``: the self-defined counts with every
      not-stated search added to White (Black). For the search-rate ratio of Black against
      White these are the lower and upper bounds over every way of sharing the not-stated
      searches out among the groups.

    Disclosure control: the published self-defined cube stays as it is. A combined cell is
    withheld when its count is from 1 to ``min_count - 1``, or when it differs from the
    self-defined cell by 1 to ``min_count - 1`` (the difference is a count of not-stated
    searches reassigned, which subtraction would reveal), then secondarily within each
    view's groups (:func:`suppress_cells`). A bound cell is withheld when a self-defined
    cell it is made of is.

    Parameters
    ----------
    classified
        From :func:`classify_searches`.
    cube
        The suppressed cube (:func:`suppress_cube`) with the ``self`` view.

    Returns
    -------
    DataFrame
        Columns :data:`CUBE_KEYS`, ``count`` and ``suppressed``; append it to the cube.
    """
    if "suppressed" not in cube:
        raise SchemaError("the cube has no 'suppressed' column; run suppress_cube first.")
    frame = classified.searches
    base = cube[
        (cube["view"] == "self")
        & (cube["geography_code"] == FORCE_CODE)
        & (cube["dimension"] == ALL)
        & (cube["area_filter"] == ALL)
    ]
    self_cells = base.set_index(["kind", "group"])
    indicators = _indicators(frame)
    combined_group = frame[f"group_{COMBINED_VIEW}"].to_numpy(dtype=object)
    groups = [g for g in GROUP_ORDER if g != ALL]
    if UNMAPPED not in set(combined_group) and UNMAPPED not in set(base["group"]):
        groups = [g for g in groups if g != UNMAPPED]
    by = indicators.groupby(pd.Series(combined_group, index=frame.index)).sum()
    by = by.reindex(groups, fill_value=0)
    pieces = []
    for view in (COMBINED_VIEW, NOT_STATED_AS_WHITE, NOT_STATED_AS_BLACK):
        for kind in indicators.columns:
            counts: dict[str, int] = {}
            pre: dict[str, bool] = {}

            def self_cell(group: str, kind: str = kind) -> tuple[int, bool]:
                if (kind, group) not in self_cells.index:
                    return 0, False
                row = self_cells.loc[(kind, group)]
                return int(row["count"]), bool(row["suppressed"])

            for group in groups:
                own, own_hidden = self_cell(group)
                if view == COMBINED_VIEW:
                    counts[group] = int(by.loc[group, kind])
                    moved = abs(counts[group] - own)
                    pre[group] = 0 < moved < min_count
                else:
                    target = REFERENCE_GROUP if view == NOT_STATED_AS_WHITE else "Black"
                    ns, ns_hidden = self_cell(NOT_STATED)
                    if group == NOT_STATED:
                        counts[group], pre[group] = 0, False
                    elif group == target:
                        counts[group], pre[group] = own + ns, own_hidden or ns_hidden
                    else:
                        counts[group], pre[group] = own, own_hidden
            total, total_hidden = self_cell(ALL)
            names = [ALL, *groups]
            values = np.array([total, *(counts[g] for g in groups)], dtype=np.float64)
            hidden = suppress_cells(
                values,
                [np.arange(len(names))],
                min_count=min_count,
                presuppressed=np.array([total_hidden, *(pre[g] for g in groups)]),
            )
            if hidden[0] and not total_hidden:
                # the total is published in the self view: a withheld part could be
                # recovered from it, so every part is withheld
                hidden[1:] |= values[1:] > 0
            pieces.append(
                pd.DataFrame(
                    {
                        "kind": kind,
                        "view": view,
                        "geography_code": FORCE_CODE,
                        "group": names,
                        "dimension": ALL,
                        "band": "",
                        "area_filter": ALL,
                        "count": values.astype(np.int64),
                        "suppressed": hidden,
                    }
                )
            )
    return pd.concat(pieces, ignore_index=True)[[*CUBE_KEYS, "count", "suppressed"]]
