"""The stop-and-search review map: empirical-Bayes smoothed search rates per LSOA, suppressed below the threshold."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from hotspots.core import schema
from hotspots.stops.classify import ALL
from hotspots.stops.local_rates import MAP_GROUPS
from hotspots.stops.review import StopsReview

RATE_COLOURS = ("#f1eef6", "#d4b9da", "#c994c7", "#df65b0", "#dd1c77", "#980043")
"""ColorBrewer PuRd (6): sequential, colour-blind safe."""


def _legend_rows(breaks: np.ndarray, colours: tuple[str, ...], unit: str) -> list[tuple[str, str]]:
    offset = len(colours) - len(breaks)
    rows, lower = [], 0.0
    for i, upper in enumerate(breaks):
        rows.append((colours[i + offset], f"{lower:,.1f} – {upper:,.1f} {unit}"))
        lower = float(upper)
    return rows


def suppressed_label(min_count: int) -> str:
    """Legend label of the one class every suppressed LSOA shares."""
    return f"fewer than {min_count} searches (suppressed), or withheld so one cannot be recovered"


def review_map_classes(
    smoothed: pd.Series, suppressed: pd.Series
) -> tuple[list[int | None], np.ndarray]:
    """Colour class per LSOA: 0 for every suppressed LSOA, else 1 + its rate class.

    The classes come from the published (not suppressed) smoothed rates only, so neither
    the colour of a suppressed LSOA nor the class breaks carry its rate.

    Returns
    -------
    tuple
        ``(classes, breaks)``: a class per LSOA (None: not drawn) and the upper bounds of
        the rate classes (for the palette :data:`RATE_COLOURS`, after the suppressed class).
    """
    from hotspots.maps.draw import class_breaks, class_of

    hidden = np.asarray(suppressed, dtype=bool)
    shown = pd.Series(np.where(hidden, 0.0, np.asarray(smoothed, dtype=np.float64)))
    shown = shown.fillna(0.0)
    breaks = class_breaks(shown)
    rate_classes = class_of(shown, breaks, len(RATE_COLOURS))
    classes = [
        0 if h else (None if c is None else c + 1)
        for c, h in zip(rate_classes, hidden, strict=True)
    ]
    return classes, breaks


def draw_review_map(review: StopsReview, *, tiles: str | None = None):  # type: ignore[no-untyped-def]
    """Build the offline folium map of empirical-Bayes search rates per LSOA.

    Layers: smoothed searches per 1,000 residents (all searches, and of Black, White and
    Asian residents by self-defined group), the violence hotspot LSOAs (and detect hot
    places when given) as outlines, and borough boundaries. Tooltips give counts below
    the threshold as "fewer than N" with no rate; every string is escaped.
    """
    import folium

    from hotspots.core.disclosure import suppress
    from hotspots.maps.draw import (
        SUPPRESSED_COLOUR,
        Legend,
        SharedShapes,
        add_title_and_legends,
        escape_text,
        offline_map,
    )

    lsoa = review.lsoa[review.lsoa.geometry.notna()]
    boroughs = review.boroughs
    centre = boroughs.to_crs(schema.WGS84).union_all().centroid
    fmap = offline_map(location=(centre.y, centre.x), zoom_start=10, tiles=tiles)
    min_count = int(review.parameters["min_count"])
    borough_names = boroughs["name"].to_dict()

    hidden_text = f"fewer than {min_count} (suppressed), or withheld to protect one"
    colours = (SUPPRESSED_COLOUR, *RATE_COLOURS)

    def fmt(value: float) -> str:
        return "not shown" if not np.isfinite(value) else f"{value:,.1f}"

    shared = SharedShapes(
        lsoa,
        labels=["LSOA", "Borough", "Residents", "Searches", "Per 1,000 (raw)", "Per 1,000 (EB)"],
        tooltips=[
            [
                f"{name} ({code})",
                borough_names.get(b, str(b)),
                f"{int(r):,}",
                hidden_text if hidden else suppress(n, min_count),
                fmt(raw),
                fmt(sm),
            ]
            for code, name, b, r, n, hidden, raw, sm in zip(
                lsoa.index,
                lsoa["lsoa_name"],
                lsoa["borough_code"],
                lsoa[f"residents_{ALL}"],
                lsoa[f"searches_{ALL}"].fillna(0),
                lsoa[f"suppressed_{ALL}"],
                lsoa[f"rate_{ALL}"],
                lsoa[f"smoothed_{ALL}"],
                strict=True,
            )
        ],
        decimals=4,
    )
    shared.add_to(fmap)
    legends: list[Legend] = []
    for group in MAP_GROUPS:
        classes, breaks = review_map_classes(
            lsoa[f"smoothed_{group}"], lsoa[f"suppressed_{group}"]
        )
        title = (
            "Searches per 1,000 residents (EB-smoothed)"
            if group == ALL
            else f"Searches of {group} people per 1,000 {group} residents (EB-smoothed)"
        )
        extra = None
        labels: tuple[str, ...] = ()
        if group != ALL:
            labels = (f"{group} residents", f"{group} searches", f"{group} per 1,000 (EB)")
            extra = [
                [f"{int(r):,}", hidden_text if h else suppress(n, min_count), fmt(s)]
                for r, n, h, s in zip(
                    lsoa[f"residents_{group}"],
                    lsoa[f"searches_{group}"].fillna(0),
                    lsoa[f"suppressed_{group}"],
                    lsoa[f"smoothed_{group}"],
                    strict=True,
                )
            ]
        shared.layer(
            name=title,
            classes=classes,
            colours=colours,
            extra_labels=labels,
            extra_tooltips=extra,
            show=group == ALL,
            line_weight=0.1,
        ).add_to(fmap)
        if group == ALL:
            legends.append(
                Legend(
                    title,
                    [
                        (SUPPRESSED_COLOUR, suppressed_label(min_count)),
                        *_legend_rows(breaks, RATE_COLOURS, "per 1,000"),
                    ],
                )
            )
    outline_colours = ("#000000", "#1b7837", "#762a83", "#e08214")
    outline_rows: list[tuple[str, str]] = []
    k = 0
    for source in review.harm_places:
        places = source.places
        for s in source.sets:
            chosen = places[places.index.isin(list(s.members))]
            if chosen.empty:
                continue
            shapes = SharedShapes(
                chosen,
                labels=[source.unit, "Hotspot set", "Harm"],
                tooltips=[
                    [str(p), s.name, f"{h:,.0f}"]
                    for p, h in zip(chosen["place"], chosen["harm"], strict=True)
                ],
                decimals=4,
            )
            shapes.add_to(fmap)
            colour = outline_colours[k % len(outline_colours)]
            shapes.layer(
                name=f"Hotspots: {s.name}",
                classes=[0] * len(chosen),
                colours=(colour,),
                show=k == 0,
                line_weight=1.2,
                fill_opacity=0.0,
            ).add_to(fmap)
            outline_rows.append((colour, s.name))
            k += 1
    if outline_rows:
        legends.append(Legend("Hotspot outlines", outline_rows))
    outline = boroughs.to_crs(schema.WGS84)
    folium.GeoJson(
        json.loads(
            outline[["name", "geometry"]].assign(name=outline["name"].map(escape_text)).to_json()
        ),
        name="Borough boundaries",
        style_function=lambda f: {"color": "#252525", "weight": 1.0, "fill": False},
    ).add_to(fmap)
    folium.LayerControl(collapsed=False).add_to(fmap)
    add_title_and_legends(
        fmap,
        title="Stop and search per 1,000 residents by LSOA",
        subtitle=(
            f"{review.parameters['period']} · {review.parameters['population_lsoa']} · "
            "Marshall global empirical-Bayes smoothing"
        ),
        legends=legends,
        note=(
            f"LSOAs with 1 to {min_count - 1} searches, and those withheld so that such a count "
            "cannot be recovered from a borough total, share one grey class with no rate in "
            "colour, tooltip or data; classes come from the published rates only. Each group "
            "layer has its own quantile classes. "
            "Residential population, not the people present. "
            "Contains public sector information licensed under the Open Government Licence v3.0."
        ),
    )
    bounds = outline.total_bounds
    fmap.fit_bounds([[bounds[1], bounds[0]], [bounds[3], bounds[2]]])
    return fmap
