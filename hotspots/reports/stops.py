"""The stop-and-search review report and its figures (forest plot, monthly series, outcomes, hotspots)."""

from __future__ import annotations

import base64
import io
import math
from datetime import UTC, datetime
from importlib import metadata

import numpy as np
import pandas as pd

from hotspots.stops.classify import (
    ALL,
    BAND_VALUES,
    FORCE_CODE,
    GROUP_ORDER,
    NOT_STATED,
    REFERENCE_GROUP,
    UNMAPPED,
    VIEW_LABELS,
    ethnicity_mapping,
    outcome_mapping,
)
from hotspots.stops.populations import ETHNIC_GROUPS
from hotspots.stops.review import GROUP_COLOURS, StopsReview


def _png(figure, *, tight: bool = True) -> str:  # type: ignore[no-untyped-def]
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(
        buffer,
        format="png",
        dpi=100,
        bbox_inches="tight" if tight else None,
        metadata={"Software": None},
    )
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _pyplot():  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def figure_forest(review: StopsReview, *, view: str = "self") -> str:
    """Forest plot: search-rate ratios against White by borough, one panel per group."""
    plt = _pyplot()
    rows = review.disparity[
        (review.disparity["measure"] == "search_rate")
        & (review.disparity["view"] == view)
        & (review.disparity["breakdown"] == ALL)
        & (review.disparity["geography_level"].isin(["force", "borough"]))
    ]
    groups = [g for g in ETHNIC_GROUPS if g != REFERENCE_GROUP and (rows["group"] == g).any()]
    black = rows[rows["group"] == "Black"].set_index("geography")["ratio"]
    order = list(black.sort_values(ascending=True, na_position="first").index)
    force = review.parameters["force_name"]
    order = [n for n in order if n != force] + [force]
    fig, axes = plt.subplots(
        1,
        len(groups),
        figsize=(2.6 * len(groups) + 2, 0.24 * len(order) + 1.6),
        sharey=True,
        sharex=True,
    )
    axes = np.atleast_1d(axes)
    y = np.arange(len(order))
    limits = rows[rows["group"].isin(groups)][["ratio_ci_low", "ratio_ci_high"]].to_numpy(float)
    limits = limits[np.isfinite(limits) & (limits > 0)]
    low_x = max(0.1, float(limits.min()) / 1.2) if len(limits) else 0.25
    high_x = min(100.0, float(limits.max()) * 1.2) if len(limits) else 4.0
    ticks = [t for t in (0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32, 64) if low_x <= t <= high_x]
    for ax, group in zip(axes, groups, strict=True):
        sub = rows[rows["group"] == group].set_index("geography").reindex(order)
        ratio = sub["ratio"].to_numpy(dtype=float)
        low = sub["ratio_ci_low"].to_numpy(dtype=float)
        high = sub["ratio_ci_high"].to_numpy(dtype=float)
        ok = np.isfinite(ratio) & np.isfinite(low) & np.isfinite(high) & (ratio > 0) & (low > 0)
        colour = GROUP_COLOURS.get(group, "#333")
        ax.errorbar(
            ratio[ok],
            y[ok],
            xerr=[ratio[ok] - low[ok], high[ok] - ratio[ok]],
            fmt="o",
            color=colour,
            ecolor=colour,
            markersize=3.5,
            elinewidth=1.2,
        )
        is_force = np.array([n == force for n in order])
        ax.scatter(
            ratio[ok & is_force], y[ok & is_force], marker="D", s=40, color="black", zorder=3
        )
        ax.axvline(1.0, color="#444", linewidth=0.8, linestyle="--")
        ax.set_xscale("log")
        ax.set_xlim(low_x, high_x)
        ax.set_xticks(ticks)
        ax.set_xticklabels([f"{t:g}" for t in ticks], fontsize=8)
        ax.xaxis.set_minor_locator(plt.NullLocator())
        ax.set_title(f"{group} vs White", fontsize=10)
        ax.grid(axis="x", alpha=0.3, which="both")
        ax.set_xlabel("rate ratio (log scale)")
    axes[0].set_yticks(y)
    axes[0].set_yticklabels(order, fontsize=8)
    fig.suptitle(
        f"Search rate ratios against White, {VIEW_LABELS[view]} ethnicity, "
        f"{review.parameters['period']} (95% CI)",
        fontsize=11,
    )
    fig.subplots_adjust(
        left=1.6 / fig.get_figwidth(),
        right=0.98,
        top=1 - 0.75 / fig.get_figheight(),
        bottom=0.5 / fig.get_figheight(),
        wspace=0.08,
    )
    return _png(fig, tight=False)


def figure_monthly(review: StopsReview, *, view: str = "self") -> str:
    """Monthly searches and searches per 1,000 residents by group (force area)."""
    plt = _pyplot()
    monthly = review.monthly[review.monthly["view"] == view]
    months = list(review.months.expected)
    pop = review.disparity[
        (review.disparity["measure"] == "search_rate")
        & (review.disparity["view"] == view)
        & (review.disparity["geography_code"] == FORCE_CODE)
        & (review.disparity["breakdown"] == ALL)
    ].set_index("group")["denominator"]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8.5, 6.2), sharex=True)
    x = np.arange(len(months))
    for group in [*ETHNIC_GROUPS, NOT_STATED]:
        sub = monthly[monthly["group"] == group].set_index("month")["searches"].reindex(months)
        if sub.isna().all():
            continue
        colour = GROUP_COLOURS[group]
        top.plot(
            x, sub.to_numpy(dtype=float), marker="o", markersize=2.5, color=colour, label=group
        )
        if group in pop.index and pd.notna(pop[group]) and pop[group] > 0:
            bottom.plot(
                x,
                sub.to_numpy(dtype=float) / pop[group] * 1000,
                marker="o",
                markersize=2.5,
                color=colour,
                label=group,
            )
    for ax in (top, bottom):
        for i, m in enumerate(months):
            if m in review.months.missing:
                ax.axvspan(i - 0.5, i + 0.5, color="#dddddd", zorder=0)
            if m in review.months.short:
                ax.axvspan(i - 0.5, i + 0.5, color="#f4cccc", zorder=0)
        ax.grid(alpha=0.3)
        ax.set_ylim(bottom=0)
    top.set_ylabel("searches per month")
    bottom.set_ylabel("per 1,000 residents")
    top.legend(ncol=3, fontsize=8)
    step = max(1, len(months) // 14)
    bottom.set_xticks(x[::step])
    bottom.set_xticklabels(months[::step], rotation=45, ha="right", fontsize=8)
    top.set_title(
        f"Searches per month by {VIEW_LABELS[view]} group (grey: missing month, pink: short month)"
    )
    fig.tight_layout()
    return _png(fig)


def figure_outcomes(review: StopsReview) -> str:
    """Arrest, any-action (and find) rates by group with Wilson 95% intervals."""
    plt = _pyplot()
    rows = review.disparity[
        (review.disparity["view"] == "self")
        & (review.disparity["geography_code"] == FORCE_CODE)
        & (review.disparity["area_filter"] == ALL)
        & (review.disparity["breakdown"] == ALL)
    ]
    measures = ["arrest_rate", "action_rate"]
    groups = [*ETHNIC_GROUPS, NOT_STATED]
    fig, ax = plt.subplots(figsize=(8, 3.4))
    width = 0.38
    for j, measure in enumerate(measures):
        sub = rows[rows["measure"] == measure].set_index("group").reindex(groups)
        rate = sub["rate"].to_numpy(dtype=float)
        err = np.vstack(
            [
                rate - sub["ci_low"].to_numpy(dtype=float),
                sub["ci_high"].to_numpy(dtype=float) - rate,
            ]
        )
        ax.bar(
            np.arange(len(groups)) + (j - 0.5) * width,
            rate,
            width,
            yerr=err,
            capsize=2,
            color=["#0072B2", "#E69F00"][j],
            label={"arrest_rate": "arrest", "action_rate": "any action"}[measure],
        )
    ax.set_xticks(np.arange(len(groups)))
    ax.set_xticklabels(groups)
    ax.set_ylabel("share of searches")
    ax.legend()
    ax.grid(axis="y", alpha=0.3)
    ax.set_title(f"Outcomes by self-defined group, {review.parameters['period']} (95% Wilson CI)")
    return _png(fig)


def figure_hotspots(review: StopsReview) -> str:
    """Share of located searches inside each hotspot set, by group, against harm and area."""
    plt = _pyplot()
    sets = review.hotspot_sets
    rows = review.disparity[
        (review.disparity["measure"] == "hotspot_share")
        & (review.disparity["view"] == "self")
        & (review.disparity["geography_code"] == FORCE_CODE)
    ]
    groups = [ALL, *ETHNIC_GROUPS]
    fig, axes = plt.subplots(1, len(sets), figsize=(4.2 * len(sets), 3.4), squeeze=False)
    for ax, (_, s) in zip(axes[0], sets.iterrows(), strict=True):
        sub = (
            rows[rows["area_filter"] == f"inside {s['hotspots']}"]
            .set_index("group")
            .reindex(groups)
        )
        rate = sub["rate"].to_numpy(dtype=float)
        err = np.vstack(
            [
                rate - sub["ci_low"].to_numpy(dtype=float),
                sub["ci_high"].to_numpy(dtype=float) - rate,
            ]
        )
        ax.bar(groups, rate, yerr=err, capsize=2, color=[GROUP_COLOURS[g] for g in groups])
        ax.axhline(s["share_of_harm"], color="#b2182b", linestyle="--", label="share of harm")
        ax.axhline(s["share_of_area"], color="#555", linestyle=":", label="share of area")
        ax.set_title(str(s["hotspots"]), fontsize=9)
        ax.tick_params(axis="x", labelrotation=45, labelsize=8)
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=7)
    axes[0][0].set_ylabel("share of located searches inside")
    fig.tight_layout()
    return _png(fig)


def _fmt_num(value: object, digits: int = 1) -> str:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return ""
    if not math.isfinite(number):
        return "–"
    return f"{number:,.{digits}f}"


def _fmt_count(value: object, hidden: bool, min_count: int) -> str:
    if hidden:
        return "suppressed"
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return ""
    return "–" if not math.isfinite(number) else f"{int(round(number)):,}"


def _ci(row: pd.Series, *, scale: float = 1.0, digits: int = 1) -> str:
    if row["suppressed"]:
        return "suppressed"
    rate = row["rate"]
    if pd.isna(rate):
        return "–"
    if abs(rate * scale) < 1:
        digits = max(digits, 2)
    return (
        f"{_fmt_num(rate * scale, digits)} ({_fmt_num(row['ci_low'] * scale, digits)}–"
        f"{_fmt_num(row['ci_high'] * scale, digits)})"
    )


def _ratio(row: pd.Series) -> str:
    if pd.isna(row["ratio"]):
        return ""
    return (
        f"{_fmt_num(row['ratio'], 2)} ({_fmt_num(row['ratio_ci_low'], 2)}–"
        f"{_fmt_num(row['ratio_ci_high'], 2)})"
    )


def _rate_table(
    rows: pd.DataFrame, *, min_count: int, scale: float = 1.0, digits: int = 1
) -> list:
    out = []
    for _, r in rows.iterrows():
        out.append(
            {
                "label": r["group"],
                "breakdown": r["breakdown"],
                "geography": r["geography"],
                "numerator": _fmt_count(r["numerator"], bool(r["suppressed"]), min_count),
                "denominator": _fmt_count(
                    r["denominator"],
                    bool(r["suppressed"]) and r["rate_unit"] != "searches per 1,000 residents",
                    min_count,
                ),
                "rate": _ci(r, scale=scale, digits=digits),
                "ratio": _ratio(r),
            }
        )
    return out


_SENSITIVITY_ROWS = (
    ("self", "self-defined (headline)"),
    ("combined", "self-defined where stated, officer-defined otherwise"),
    ("not_stated_as_white", "bound: every not-stated search counted as White"),
    ("not_stated_as_black", "bound: every not-stated search counted as Black"),
)


def _ratio_text(entry: dict | None) -> str:
    if not entry or entry.get("ratio") is None:
        return "suppressed"
    return (
        f"{_fmt_num(entry['ratio'], 2)} ({_fmt_num(entry['ci_low'], 2)}–"
        f"{_fmt_num(entry['ci_high'], 2)})"
    )


def _sensitivity_context(review: StopsReview) -> dict[str, object]:
    """Rows and the sentences of the not-stated sensitivity analysis, from the headline."""
    s = review.headline.get("not_stated_sensitivity") or {}
    p = review.parameters
    rows = []
    for view, label in _SENSITIVITY_ROWS:
        rate = (s.get("search_rate") or {}).get(view)
        rows.append(
            {
                "view": label,
                "rate": (
                    f"{_fmt_num(rate['black_rate'])} vs {_fmt_num(rate['white_rate'])}"
                    if rate and rate.get("black_rate") is not None
                    else "suppressed"
                ),
                "search_ratio": _ratio_text(rate),
                "arrest_ratio": _ratio_text((s.get("arrest_rate") or {}).get(view)),
                "action_ratio": _ratio_text((s.get("action_rate") or {}).get(view)),
            }
        )
    search = s.get("search_rate") or {}
    action = s.get("action_rate") or {}
    arrest = s.get("arrest_rate") or {}
    text = ""
    if "combined" in search and "self" in search and search["self"].get("ratio") is not None:
        share = review.headline.get("share_self_defined_not_stated")
        counts = ", ".join(
            f"{int(s[f'not_stated_officer_{g}']):,} as {g.capitalize()}"
            for g in ("black", "white", "asian", "other")
            if s.get(f"not_stated_officer_{g}") is not None
        )
        bias = search.get("self_defined_bias", "equals")
        text = (
            f"In {p['force_name']}, {p['period']}, "
            f"{int(s['not_stated_searches']):,} searches ({_fmt_num(100 * share)}%) have no "
            f"self-defined ethnicity and are left out of the self-defined rates. Officers "
            f"recorded {counts}. Counting each of them in its officer-defined group gives a "
            f"Black/White search-rate ratio of {_ratio_text(search['combined'])} against "
            f"{_ratio_text(search['self'])} self-defined: the self-defined headline "
            f"{bias} the ratio"
            + (" (it is biased downwards)" if bias == "understates" else "")
            + (" (it is biased upwards)" if bias == "overstates" else "")
            + ". Whatever their ethnicity, the ratio lies between "
            f"{_ratio_text(search.get('not_stated_as_white'))} (every not-stated search White) "
            f"and {_ratio_text(search.get('not_stated_as_black'))} (every one Black)."
        )
        if "combined" in action and "self" in action:
            abias = action.get("self_defined_bias", "equals")
            ns_rate = s.get("not_stated_action_rate")
            text += (
                " The not-stated searches end in any action less often ("
                + (f"{_fmt_num(100 * ns_rate)}%" if ns_rate is not None else "–")
                + f" against {_fmt_num(100 * action['self']['black_rate'])}% of self-defined "
                f"Black and {_fmt_num(100 * action['self']['white_rate'])}% of White people's "
                f"searches), so the outcome test moves too: the Black/White ratio of any-action "
                f"rates is {_ratio_text(action['combined'])} combined against "
                f"{_ratio_text(action['self'])} self-defined (the self-defined test {abias} it"
                + (", biased upwards" if abias == "overstates" else "")
                + (", biased downwards" if abias == "understates" else "")
                + f"; all-White to all-Black scenarios {_ratio_text(action.get('not_stated_as_white'))}"
                f" and {_ratio_text(action.get('not_stated_as_black'))}), and of arrest rates "
                f"{_ratio_text(arrest.get('combined'))} against {_ratio_text(arrest.get('self'))}."
            )
    return {"rows": rows, "text": text}


def render_review(review: StopsReview, *, manifest: dict[str, object], map_file: str) -> str:
    """Render ``review.html`` (jinja2, autoescaped; figures embedded as PNG; no script)."""
    import jinja2

    d = review.disparity
    p = review.parameters
    min_count = int(p["min_count"])
    force = p["force_name"]

    def select(measure, **filters):  # type: ignore[no-untyped-def]
        rows = d[d["measure"] == measure]
        for column, value in filters.items():
            rows = rows[rows[column] == value]
        return rows

    order = {g: i for i, g in enumerate(GROUP_ORDER)}

    def ordered(rows):  # type: ignore[no-untyped-def]
        return rows.assign(_o=rows["group"].map(order)).sort_values(["_o"]).drop(columns="_o")

    rates = {
        view: _rate_table(
            ordered(select("search_rate", view=view, geography_code=FORCE_CODE, breakdown=ALL)),
            min_count=min_count,
        )
        for view in ("self", "officer")
    }
    bands = {}
    for dimension in ("age", "gender"):
        rows = d[
            (d["measure"] == "search_rate")
            & (d["view"] == "self")
            & (d["geography_code"] == FORCE_CODE)
            & d["breakdown"].str.startswith(f"{dimension}: ")
            & d["group"].isin([*ETHNIC_GROUPS, ALL])
        ]
        band_order = {b: i for i, b in enumerate(BAND_VALUES[dimension])}
        rows = rows.assign(
            _b=rows["breakdown"].str.split(": ", n=1).str[1].map(band_order),
            _g=rows["group"].map(order),
        ).sort_values(["_b", "_g"])
        bands[dimension] = _rate_table(rows.drop(columns=["_b", "_g"]), min_count=min_count)
    borough_rows = []
    boroughs = select("search_rate", view="self", breakdown=ALL, geography_level="borough")
    shares = select("search_share", view="self", group=NOT_STATED)
    for name, sub in boroughs.groupby("geography", sort=True):
        by = sub.set_index("group")
        black, allg = by.loc["Black"], by.loc[ALL]
        ns = shares[shares["geography"] == name]
        borough_rows.append(
            {
                "borough": name,
                "searches": _fmt_count(allg["numerator"], bool(allg["suppressed"]), min_count),
                "rate": _ci(allg),
                "black_rate": _ci(black),
                "white_rate": _ci(by.loc["White"]),
                "black_ratio": _ratio(black),
                "asian_ratio": _ratio(by.loc["Asian"]),
                "mixed_ratio": _ratio(by.loc["Mixed"]),
                "not_stated": _ci(ns.iloc[0], scale=100) if len(ns) else "",
            }
        )
    outcome_rows = []
    for measure, label in (
        ("arrest_rate", "arrest"),
        ("action_rate", "any action"),
        ("find_rate", "find (outcome linked to object)"),
    ):
        for _, r in ordered(
            select(measure, view="self", geography_code=FORCE_CODE, area_filter=ALL)
        ).iterrows():
            outcome_rows.append(
                {
                    "measure": label,
                    "group": r["group"],
                    "numerator": _fmt_count(r["numerator"], bool(r["suppressed"]), min_count),
                    "denominator": _fmt_count(r["denominator"], bool(r["suppressed"]), min_count),
                    "rate": _ci(r, scale=100),
                    "ratio": _ratio(r),
                }
            )
    officer_outcomes = []
    for _, r in ordered(
        select("action_rate", view="officer", geography_code=FORCE_CODE, area_filter=ALL)
    ).iterrows():
        officer_outcomes.append(
            {"group": r["group"], "rate": _ci(r, scale=100), "ratio": _ratio(r)}
        )
    sets = []
    for _, s in review.hotspot_sets.iterrows():
        name = s["hotspots"]
        inside = select(
            "hotspot_share",
            view="self",
            geography_code=FORCE_CODE,
            area_filter=f"inside {name}",
        )
        inside_rows = [
            {"group": r["group"], "share": _ci(r, scale=100), "ratio": _ratio(r)}
            for _, r in ordered(inside).iterrows()
            if r["group"] != UNMAPPED
        ]
        finds = []
        for measure in ("action_rate", "arrest_rate"):
            for side in ("inside", "outside"):
                r = select(
                    measure,
                    view="self",
                    geography_code=FORCE_CODE,
                    area_filter=f"{side} {name}",
                    group=ALL,
                )
                if len(r):
                    finds.append(
                        {
                            "measure": measure.replace("_rate", ""),
                            "side": side,
                            "rate": _ci(r.iloc[0], scale=100),
                        }
                    )
        per_borough = []
        bor = select(
            "hotspot_share", view="self", geography_level="borough", area_filter=f"inside {name}"
        )
        act_in = select(
            "action_rate",
            view="self",
            geography_level="borough",
            area_filter=f"inside {name}",
            group=ALL,
        ).set_index("geography")
        act_out = select(
            "action_rate",
            view="self",
            geography_level="borough",
            area_filter=f"outside {name}",
            group=ALL,
        ).set_index("geography")
        for geo, sub in bor.groupby("geography", sort=True):
            by = sub.set_index("group")
            per_borough.append(
                {
                    "borough": geo,
                    "share": _ci(by.loc[ALL], scale=100),
                    "black": _ci(by.loc["Black"], scale=100),
                    "white": _ci(by.loc["White"], scale=100),
                    "action_in": _ci(act_in.loc[geo], scale=100) if geo in act_in.index else "",
                    "action_out": _ci(act_out.loc[geo], scale=100) if geo in act_out.index else "",
                }
            )
        sets.append(
            {
                "name": name,
                "description": s["description"],
                "places": f"{int(s['places']):,} of {int(s['places_total']):,}",
                "area": _fmt_num(100 * s["share_of_area"]) + "%",
                "harm": _fmt_num(100 * s["share_of_harm"]) + "%",
                "searches": _fmt_num(100 * s["share_of_located_searches"]) + "%",
                "inside": inside_rows,
                "finds": finds,
                "per_borough": per_borough,
            }
        )
    harm_rows = []
    for source in review.harm_places:
        rows = select(source.measure, group=ALL, area_filter=ALL)
        for _, r in rows.sort_values("rate", ascending=False).iterrows():
            harm_rows.append(
                {
                    "source": source.measure,
                    "geography": r["geography"],
                    "searches": _fmt_count(r["numerator"], bool(r["suppressed"]), min_count),
                    "harm": _fmt_num(r["denominator"], 0),
                    "rate": _ci(r),
                }
            )
        for s in source.sets:
            for side in ("inside", "outside"):
                r = select(
                    source.measure,
                    group=ALL,
                    area_filter=f"{side} {s.name}",
                    geography_code=FORCE_CODE,
                )
                if len(r):
                    harm_rows.insert(
                        0,
                        {
                            "source": source.measure,
                            "geography": f"{force}, {side} {s.name}",
                            "searches": _fmt_count(
                                r.iloc[0]["numerator"], bool(r.iloc[0]["suppressed"]), min_count
                            ),
                            "harm": _fmt_num(r.iloc[0]["denominator"], 0),
                            "rate": _ci(r.iloc[0]),
                        },
                    )
    yoy = [
        {
            "view": VIEW_LABELS[r["view"]],
            "group": r["group"],
            "later": _fmt_count(r["numerator"], bool(r["suppressed"]), min_count),
            "earlier": _fmt_count(r["denominator"], bool(r["suppressed"]), min_count),
            "change": "suppressed" if r["suppressed"] else f"{_fmt_num(100 * r['rate'])}%",
            "ratio": _ratio(r),
            "months": r["ratio_reference"],
        }
        for _, r in ordered(select("year_on_year")).iterrows()
    ]
    mix_tables = {}
    for name in ("legislation", "object_of_search", "outcome"):
        sub = review.context[review.context["field"] == name]
        groups = [g for g in [*ETHNIC_GROUPS, NOT_STATED, ALL] if (sub["group"] == g).any()]
        table_rows = []
        for value, rows in sub.groupby("value", sort=False):
            by = rows.set_index("group")
            table_rows.append(
                {
                    "value": value,
                    "cells": [
                        "suppressed"
                        if by.loc[g, "suppressed"]
                        else f"{int(by.loc[g, 'searches']):,} ({100 * by.loc[g, 'share_of_group']:.1f}%)"
                        for g in groups
                    ],
                }
            )
        mix_tables[name] = {"groups": groups, "rows": table_rows}
    quality = [
        {
            "field": r["field"],
            "searches": _fmt_count(r["searches"], bool(r["suppressed"]), min_count),
            "share": "suppressed" if r["suppressed"] else f"{100 * r['share']:.1f}%",
            "note": r["note"],
        }
        for _, r in review.quality.iterrows()
    ]
    months = review.months
    h = review.headline
    bw = h.get("black_white_rate_ratio_self") or {}
    inputs = [
        {
            "name": str(i.get("member") or str(i.get("path", "")).rsplit("/", 1)[-1]),
            "read": f"{i.get('rows_read', 0):,}",
            "accepted": f"{i.get('accepted', 0):,}",
            "rejected": f"{i.get('rejected', 0):,}",
            "sha": str(i.get("sha256", ""))[:16] + "…",
        }
        for i in manifest.get("inputs", [])  # type: ignore[union-attr]
    ]
    figures = {
        "forest": figure_forest(review),
        "forest_officer": figure_forest(review, view="officer"),
        "monthly": figure_monthly(review),
        "outcomes": figure_outcomes(review),
        "hotspots": figure_hotspots(review) if len(review.hotspot_sets) else "",
    }
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("hotspots.reports", "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
    )
    context = {
        "title": f"Stop and search in {force}: disproportionality review",
        "p": p,
        "generated": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "version": metadata.version("hotspots"),
        "min_count": min_count,
        "bw": {k: (_fmt_num(v, 2) if isinstance(v, float) else v) for k, v in bw.items()},
        "bw_raw": bw,
        "h": h,
        "fmt": _fmt_num,
        "rates": rates,
        "sensitivity": _sensitivity_context(review),
        "bands": bands,
        "boroughs": borough_rows,
        "outcomes": outcome_rows,
        "officer_outcomes": officer_outcomes,
        "sets": sets,
        "harm_rows": harm_rows,
        "harm_labels": [s.label for s in review.harm_places],
        "yoy": yoy,
        "mix": mix_tables,
        "quality": quality,
        "months": {
            "expected": f"{months.expected[0]}..{months.expected[-1]} ({len(months.expected)} months)",
            "missing": ", ".join(months.missing_ranges()) or "none",
            "short": ", ".join(f"{m} ({months.rows_by_month[m]:,} searches)" for m in months.short)
            or "none",
            "fraction": f"{100 * months.short_fraction:.0f}%",
            "present": months.present,
        },
        "figures": figures,
        "map_file": map_file,
        "ethnicity_self": ethnicity_mapping("self").to_dict(orient="records"),
        "ethnicity_officer": ethnicity_mapping("officer").to_dict(orient="records"),
        "outcome_map": outcome_mapping().to_dict(orient="records"),
        "unmapped": review.unmapped,
        "inputs": inputs,
        "rejects_text": ", ".join(
            f"{k} {v:,}"
            for k, v in (manifest.get("rejects_by_reason") or {}).items()  # type: ignore[union-attr]
        )
        or "none",
        "rows": manifest.get("rows") or {},
    }
    return environment.get_template("stops_review.html").render(**context)
