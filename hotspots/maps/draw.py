"""folium maps from result frames. This module styles data; it computes nothing.

Maps work offline: Leaflet's JavaScript and CSS come from the ``xstatic-leaflet`` package
and are inlined into the page, the default CDN scripts (jQuery, Bootstrap, awesome
markers) are not used, and tiles are optional (``tiles=None`` gives a plain background
with boundaries, which is the default so that maps render with no network).

Colours are ColorBrewer sequential schemes that stay readable with colour-blindness.
Every string from the input is HTML-escaped before it reaches a tooltip or popup.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from pathlib import Path

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import MacroElement, Template

from hotspots.core import schema
from hotspots.core.disclosure import suppress

# ColorBrewer YlOrRd (6) for harm per cell, PuBu (6) for area counts: colour-blind safe
HARM_COLOURS = ("#ffffb2", "#fed976", "#feb24c", "#fd8d3c", "#f03b20", "#bd0026")
AREA_COLOURS = ("#f1eef6", "#d0d1e6", "#a6bddb", "#74a9cf", "#2b8cbe", "#045a8d")
BOUNDARY_COLOUR = "#252525"
COORD_DECIMALS = 5
"""5 decimals is about 1 m."""
DEFAULT_MIN_COUNT = 5


def escape_text(value: object) -> str:
    """Escape text from the input for HTML *and* for branca's templates.

    folium/branca render every element's HTML and script through Jinja a second time, so
    ``{{ ... }}`` or ``{% ... %}`` in a place name would run as template code. Braces are
    therefore turned into character references too; browsers show them unchanged.
    """
    return html.escape(str(value), quote=True).replace("{", "&#123;").replace("}", "&#125;")


def render_map(fmap: folium.Map) -> str:
    """Render a map to HTML with stable element ids, so the same inputs give the same bytes.

    folium names every element with a random id; they are replaced, in tree order, by a
    counter before rendering.
    """
    counter = 0

    def renumber(element: object) -> None:
        nonlocal counter
        element._id = f"{counter:032x}"  # type: ignore[attr-defined]
        counter += 1
        for child in list(getattr(element, "_children", {}).values()):
            renumber(child)

    root = fmap.get_root()
    renumber(root)
    return root.render()


def _leaflet_assets() -> tuple[str, str]:
    """Leaflet's JS and CSS text from the xstatic-leaflet package."""
    from xstatic.pkg import leaflet

    base = Path(leaflet.BASE_DIR)
    return (base / "leaflet.js").read_text(encoding="utf-8"), (base / "leaflet.css").read_text(
        encoding="utf-8"
    )


def offline_map(
    *, location: tuple[float, float], zoom_start: int, tiles: str | None
) -> folium.Map:
    """Create a folium Map whose scripts are all inlined, so it renders from ``file://`` offline."""
    fmap = folium.Map(
        location=list(location), zoom_start=zoom_start, tiles=None, control_scale=True
    )
    fmap.default_js = []
    fmap.default_css = []
    js, css = _leaflet_assets()
    # images referenced by leaflet.css (layer icons) are not needed: the control is expanded
    header = fmap.get_root().header
    header.add_child(folium.Element(f"<style>{css}</style>"), name="leaflet_css", index=0)
    header.add_child(folium.Element(f"<script>{js}</script>"), name="leaflet_js", index=1)
    if tiles:
        folium.TileLayer(tiles, name="Background map (needs internet)", control=True).add_to(fmap)
    return fmap


def _round_geometry(geometries: gpd.GeoSeries, decimals: int = COORD_DECIMALS) -> gpd.GeoSeries:
    """Reproject to WGS84 and round coordinates (5 decimals is about 1 m)."""
    wgs = geometries.to_crs(schema.WGS84)
    rounded = shapely.set_precision(wgs.to_numpy(), 10**-decimals)
    return gpd.GeoSeries(rounded, index=wgs.index, crs=schema.WGS84)


def class_breaks(values: pd.Series, n_classes: int = 6) -> np.ndarray:
    """Quantile class breaks of the positive values (upper bounds, the last is the max)."""
    positive = values[values > 0]
    if positive.empty:
        return np.array([0.0])
    qs = np.quantile(positive, np.linspace(0, 1, n_classes + 1)[1:])
    return np.unique(qs)


SUPPRESSED_COLOUR = "#cccccc"


def disclosed_classes(
    values: pd.Series,
    counts: pd.Series,
    *,
    min_count: int,
    colours: tuple[str, ...],
    unit: str,
    what: str = "incidents",
) -> tuple[list[int | None], tuple[str, ...], list[tuple[str, str]]]:
    """Colour classes with disclosure control.

    Places with 1 to ``min_count - 1`` counts share one grey class, so neither their count
    nor their harm can be read off the map.

    Returns
    -------
    tuple
        ``(classes, colours, legend_rows)``: a class per value (None: not drawn), the
        palette with the grey class first, and legend rows.
    """
    values = pd.Series(np.asarray(values, dtype=np.float64))
    counts = pd.Series(np.asarray(counts, dtype=np.float64))
    small = (counts > 0) & (counts < min_count)
    shown = values.where(~small, 0.0)
    breaks = class_breaks(shown)
    classes = class_of(shown, breaks, len(colours))
    out = [
        0 if is_small else (None if c is None else c + 1)
        for c, is_small in zip(classes, small, strict=True)
    ]
    rows = [(SUPPRESSED_COLOUR, f"fewer than {min_count} {what} (suppressed)")]
    if (shown > 0).any():
        rows += _legend_rows(breaks, colours, unit)
    return out, (SUPPRESSED_COLOUR, *colours), rows


def class_of(values: pd.Series, breaks: np.ndarray, n_colours: int) -> list[int | None]:
    """Colour class per value (None for zero: not drawn); few breaks use the darker end."""
    idx = np.searchsorted(breaks, values.to_numpy(), side="left")
    offset = n_colours - len(breaks)
    return [
        None if v <= 0 else min(int(i) + offset, n_colours - 1)
        for v, i in zip(values, idx, strict=True)
    ]


def _harm_text(count: float, harm: float, min_count: int) -> str:
    return "suppressed" if 0 < count < min_count else f"{harm:,.0f}"


@dataclass(frozen=True)
class Legend:
    """An HTML legend box: title, unit and (colour, label) rows.

    A legend tied to a map layer (``layer``) is shown only while that layer is on the map
    (see :class:`LegendSync`); ``shown`` is its state when the map opens.
    """

    title: str
    rows: list[tuple[str, str]]
    layer: str | None = None
    shown: bool = True

    def html(self) -> str:
        """Render the legend as an HTML fragment (text escaped)."""
        items = "".join(
            f'<div><span style="background:{colour};display:inline-block;width:14px;height:14px;'
            f'margin-right:6px;border:1px solid #777;vertical-align:middle"></span>'
            f"{escape_text(label)}</div>"
            for colour, label in self.rows
        )
        layer = f' data-layer="{escape_text(self.layer)}"' if self.layer else ""
        hidden = "" if self.shown else ' style="display:none"'
        return (
            f'<div class="hs-legend-block"{layer}{hidden}><b>{escape_text(self.title)}</b>'
            f"{items}</div>"
        )


class LegendSync(MacroElement):
    """Show a layer's legend block while the layer is on the map, hide it otherwise."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function() {
            function sync(name, on) {
                document.querySelectorAll(".hs-legend-block").forEach(function(el) {
                    if (el.dataset.layer === name) { el.style.display = on ? "" : "none"; }
                });
            }
            {{ this._parent.get_name() }}.on("overlayadd", function(e) { sync(e.name, true); });
            {{ this._parent.get_name() }}.on("overlayremove", function(e) { sync(e.name, false); });
        })();
        {% endmacro %}
        """
    )

    def __init__(self) -> None:
        super().__init__()
        self._name = "LegendSync"


def _legend_rows(breaks: np.ndarray, colours: tuple[str, ...], unit: str) -> list[tuple[str, str]]:
    offset = len(colours) - len(breaks)
    rows = []
    lower = 0.0
    for i, upper in enumerate(breaks):
        rows.append((colours[i + offset], f"{lower:,.0f} – {upper:,.0f} {unit}"))
        lower = upper
    return rows


def add_title_and_legends(
    fmap: folium.Map, *, title: str, subtitle: str, legends: list[Legend], note: str
) -> None:
    """Put a title box (top) and a legend box (bottom right) on the map."""
    title_html = (
        '<div id="hs-title" style="position:fixed;top:10px;left:60px;z-index:1000;background:white;'
        'padding:6px 10px;border:1px solid #999;border-radius:4px;font:14px sans-serif;max-width:60%">'
        f"<b>{escape_text(title)}</b><br><span style='font-size:12px'>{escape_text(subtitle)}</span></div>"
    )
    legend_html = (
        '<div id="hs-legend" style="position:fixed;bottom:20px;right:10px;z-index:1000;background:white;'
        'padding:8px 10px;border:1px solid #999;border-radius:4px;font:12px sans-serif;max-width:320px">'
        + "".join(legend.html() for legend in legends)
        + f"<div style='margin-top:6px;color:#444'>{escape_text(note)}</div></div>"
    )
    root = fmap.get_root()
    root.html.add_child(folium.Element(title_html))
    root.html.add_child(folium.Element(legend_html))
    LegendSync().add_to(fmap)


def _encode_rings(geometry: shapely.Geometry, scale: int) -> list[list[list[int]]]:
    """Polygon parts -> rings -> delta-encoded integer coordinates (lon, lat interleaved)."""
    parts = shapely.get_parts(geometry)
    encoded = []
    for part in parts:
        rings = [part.exterior, *part.interiors]
        out_rings = []
        for ring in rings:
            coords = np.round(np.asarray(ring.coords)[:-1] * scale).astype(np.int64)
            if len(coords) < 3:
                continue
            deltas = np.vstack([coords[:1], np.diff(coords, axis=0)])
            out_rings.append(deltas.reshape(-1).tolist())
        if out_rings:
            encoded.append(out_rings)
    return encoded


def _json_for_script(payload: object) -> str:
    """JSON safe to embed in a <script> element."""
    return json.dumps(payload, separators=(",", ":")).replace("</", "<\\/")


class SharedShapes(MacroElement):
    """Polygons shipped once, as delta-encoded integers, for several map layers to share.

    Plain GeoJSON of 17,000 hexagons is about 5 MB per layer; this encoding, shared by every
    layer drawn from the same cells, keeps a London map with six layers under 5 MB. Each
    shape carries tooltip rows (label, value); every value is HTML-escaped here, in Python.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = (function() {
            var data = {{ this.payload }};
            var scale = data.scale;
            var latlngs = data.shapes.map(function(shape) {
                return shape.map(function(part) {
                    return part.map(function(ring) {
                        var out = [], x = 0, y = 0;
                        for (var k = 0; k < ring.length; k += 2) {
                            x += ring[k]; y += ring[k + 1];
                            out.push([y / scale, x / scale]);
                        }
                        return out;
                    });
                });
            });
            return {latlngs: latlngs, labels: data.labels, tips: data.tips};
        })();
        {% endmacro %}
        """
    )

    def __init__(
        self,
        frame: gpd.GeoDataFrame,
        *,
        labels: list[str],
        tooltips: list[list[str]],
        decimals: int = COORD_DECIMALS,
    ) -> None:
        super().__init__()
        self._name = "SharedShapes"
        scale = 10**decimals
        geometry = frame.geometry.to_crs(schema.WGS84).to_numpy()
        shapes = [[] if g is None or g.is_empty else _encode_rings(g, scale) for g in geometry]
        self.count = len(shapes)
        self.payload = _json_for_script(
            {
                "scale": scale,
                "shapes": shapes,
                "labels": [escape_text(label) for label in labels],
                "tips": [[escape_text(str(t)) for t in row] for row in tooltips],
            }
        )

    def layer(
        self,
        *,
        name: str,
        classes: list[int | None],
        colours: tuple[str, ...],
        extra_labels: tuple[str, ...] = (),
        extra_tooltips: list[list[str]] | None = None,
        show: bool = True,
        line_weight: float = 0.3,
        fill_opacity: float = 0.75,
    ) -> CompactPolygons:
        """Make a layer that draws some of these shapes, coloured by class."""
        return CompactPolygons(
            self,
            name=name,
            classes=classes,
            colours=colours,
            extra_labels=extra_labels,
            extra_tooltips=extra_tooltips,
            show=show,
            line_weight=line_weight,
            fill_opacity=fill_opacity,
        )


class CompactPolygons(folium.map.Layer):
    """A map layer drawing shapes of a :class:`SharedShapes`, one colour per class.

    Shapes whose class is ``None`` are not drawn. Extra tooltip rows (escaped here) are
    added to the shared ones.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = (function() {
            var shared = {{ this.shared.get_name() }};
            var data = {{ this.payload }};
            var group = L.featureGroup();
            function row(label, value) {
                return "<tr><th style='text-align:left;padding-right:6px'>" + label +
                    "</th><td>" + value + "</td></tr>";
            }
            for (var n = 0; n < data.index.length; n++) {
                var i = data.index[n];
                var style = data.styles[data.classes[n]];
                var polygon = L.polygon(shared.latlngs[i], style);
                var rows = shared.tips[i].map(function(v, j) { return row(shared.labels[j], v); });
                var extra = data.extra[n] || [];
                for (var e = 0; e < extra.length; e++) { rows.push(row(data.labels[e], extra[e])); }
                polygon.bindTooltip("<table>" + rows.join("") + "</table>", {sticky: true});
                polygon.on("mouseover", function(ev) { ev.target.setStyle({weight: 2, color: "#000"}); });
                polygon.on("mouseout", (function(s) {
                    return function(ev) { ev.target.setStyle(s); };
                })(style));
                group.addLayer(polygon);
            }
            return group;
        })();
        {% endmacro %}
        """
    )

    def __init__(
        self,
        shared: SharedShapes,
        *,
        name: str,
        classes: list[int | None],
        colours: tuple[str, ...],
        extra_labels: tuple[str, ...] = (),
        extra_tooltips: list[list[str]] | None = None,
        show: bool = True,
        line_weight: float = 0.3,
        fill_opacity: float = 0.75,
    ) -> None:
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "CompactPolygons"
        if len(classes) != shared.count:
            raise ValueError(f"{len(classes)} classes for {shared.count} shapes")
        self.shared = shared
        index = [i for i, c in enumerate(classes) if c is not None]
        self.feature_count = len(index)
        styles = [
            {
                "color": "#555555",
                "weight": line_weight,
                "fillColor": c,
                "fillOpacity": fill_opacity,
            }
            for c in colours
        ]
        extra = (
            [[escape_text(str(t)) for t in extra_tooltips[i]] for i in index]
            if extra_tooltips is not None
            else []
        )
        self.payload = _json_for_script(
            {
                "index": index,
                "classes": [int(classes[i]) for i in index],  # type: ignore[arg-type]
                "styles": styles,
                "labels": [escape_text(label) for label in extra_labels],
                "extra": extra,
            }
        )


GI_COLOURS = {
    "hot_99": "#b2182b",
    "hot_95": "#ef8a62",
    "hot_90": "#fddbc7",
    "cold_90": "#d1e5f0",
    "cold_95": "#67a9cf",
    "cold_99": "#2166ac",
}
"""ColorBrewer RdBu: diverging and colour-blind safe."""
GI_LABELS = {
    "hot_99": "hot spot, 99% confidence",
    "hot_95": "hot spot, 95% confidence",
    "hot_90": "hot spot, 90% confidence",
    "cold_90": "cold spot, 90% confidence",
    "cold_95": "cold spot, 95% confidence",
    "cold_99": "cold spot, 99% confidence",
    "no_data": "no data: no incident over the whole history, so never cold (not drawn)",
}
DENSITY_COLOURS = ("#f2f0f7", "#dadaeb", "#bcbddc", "#9e9ac8", "#756bb1", "#54278f")
# Okabe-Ito: distinguishable with the common colour-vision deficiencies
TREND_COLOURS = {
    "new": "#D55E00",
    "consecutive": "#E69F00",
    "intensifying": "#CC79A7",
    "persistent": "#000000",
    "diminishing": "#56B4E9",
    "sporadic": "#F0E442",
    "oscillating": "#009E73",
    "historical": "#0072B2",
}
CLUSTER_COLOUR = ("#7a0177",)
SEARCH_COLOURS = ("#edf8e9", "#c7e9c0", "#a1d99b", "#74c476", "#31a354", "#006d2c")
"""ColorBrewer Greens, for stop-and-search counts."""


def _add_boundaries(fmap: folium.Map, boroughs: gpd.GeoDataFrame) -> None:
    outline = boroughs.assign(geometry=_round_geometry(boroughs.geometry))
    folium.GeoJson(
        json.loads(
            outline[["name", "geometry"]].assign(name=outline["name"].map(escape_text)).to_json()
        ),
        name="Borough boundaries",
        style_function=lambda f: {"color": BOUNDARY_COLOUR, "weight": 1.2, "fill": False},
        tooltip=folium.GeoJsonTooltip(fields=["name"], aliases=["Borough"]),
    ).add_to(fmap)


def _finish(
    fmap: folium.Map,
    *,
    boroughs: gpd.GeoDataFrame,
    title: str,
    subtitle: str,
    legends: list[Legend],
    min_count: int,
    wards: gpd.GeoDataFrame | None = None,
) -> None:
    if wards is not None and not wards.empty:
        outline = wards.assign(geometry=_round_geometry(wards.geometry))
        folium.GeoJson(
            json.loads(
                outline[["name", "geometry"]]
                .assign(name=outline["name"].map(escape_text))
                .to_json()
            ),
            name="Ward boundaries",
            style_function=lambda f: {
                "color": "#636363",
                "weight": 0.8,
                "dashArray": "4 3",
                "fill": False,
            },
            tooltip=folium.GeoJsonTooltip(fields=["name"], aliases=["Ward"]),
        ).add_to(fmap)
    _add_boundaries(fmap, boroughs)
    folium.LayerControl(collapsed=False).add_to(fmap)
    add_title_and_legends(
        fmap,
        title=title,
        subtitle=subtitle,
        legends=legends,
        note=(
            f"Counts below {min_count} are shown as 'fewer than {min_count}'. Points are "
            "data.police.uk anonymised map points. Contains public sector information licensed "
            "under the Open Government Licence v3.0."
        ),
    )
    bounds = boroughs.to_crs(schema.WGS84).total_bounds
    fmap.fit_bounds([[bounds[1], bounds[0]], [bounds[3], bounds[2]]])


def _categories(
    values: pd.Series, palette: dict[str, str]
) -> tuple[list[int | None], tuple[str, ...]]:
    keys = list(palette)
    classes = [keys.index(v) if v in palette else None for v in values]
    return classes, tuple(palette.values())


def draw_hotspot_map(
    cells: gpd.GeoDataFrame,
    *,
    clusters: gpd.GeoDataFrame | None,
    boroughs: gpd.GeoDataFrame,
    title: str,
    period: str,
    harm_table: str,
    gi_p_label: str = "FDR-adjusted analytic p",
    min_count: int = DEFAULT_MIN_COUNT,
    tiles: str | None = None,
    unit: str = "H3 cell",
    density_label: str = "Kernel density of harm",
    wards: gpd.GeoDataFrame | None = None,
    zoom_start: int = 11,
) -> folium.Map:
    """Map every detection method as its own layer, for a borough commander.

    Parameters
    ----------
    cells
        The detect cells table: ``incidents``, ``harm``, ``density``, ``gi_z``,
        ``gi_class``, ``trend``, ``borough``, ``place`` and hexagon geometry.
    clusters
        Cluster polygons with ``place``, ``incidents``, ``harm``, ``borough``, ``rank``.
    boroughs
        Boundaries with ``name``.
    title, period, harm_table
        Stated in the title box.
    gi_p_label
        Which p-value drew the Gi* classes, stated in the legend.
    min_count
        Counts below this are shown as "fewer than N".
    tiles
        Optional background tiles (need internet).
    unit
        What a row of ``cells`` is ("H3 cell", "LSOA", ...), for layer names and tooltips.
    density_label
        Name of the ``density`` layer (kernel density for points, harm per km² for areas).
    wards
        Optional ward outlines (with ``name``), drawn under the borough boundaries.
    zoom_start
        Initial zoom (the map is then fitted to the boroughs).
    """
    centre = boroughs.to_crs(schema.WGS84).union_all().centroid
    fmap = offline_map(location=(centre.y, centre.x), zoom_start=zoom_start, tiles=tiles)
    legends: list[Legend] = []
    place = cells["place"] if "place" in cells else pd.Series("", index=cells.index)
    shared = SharedShapes(
        cells,
        labels=[unit, "Borough", "Place", "Incidents", "Harm (CCHI days)"],
        tooltips=[
            [str(cell), str(b), str(p or ""), suppress(n, min_count), _harm_text(n, h, min_count)]
            for cell, b, p, n, h in zip(
                cells.index,
                cells["borough"],
                place,
                cells["incidents"],
                cells["harm"],
                strict=True,
            )
        ],
    )
    shared.add_to(fmap)

    classes, colours, rows = disclosed_classes(
        cells["harm"], cells["incidents"], min_count=min_count, colours=HARM_COLOURS, unit="days"
    )
    shared.layer(name=f"Harm per {unit}", classes=classes, colours=colours).add_to(fmap)
    legends.append(Legend(f"Harm per {unit} ({period})", rows, layer=f"Harm per {unit}"))

    if "expected_harm" in cells and cells["expected_harm"].gt(0).any():
        # a forecast can reveal the counts it was made from: the same disclosure control
        forecast_label = "Forecast harm, next 6 months"
        classes, colours, rows = disclosed_classes(
            cells["expected_harm"],
            cells["incidents"],
            min_count=min_count,
            colours=HARM_COLOURS,
            unit="days",
        )
        shared.layer(name=forecast_label, classes=classes, colours=colours, show=False).add_to(
            fmap
        )
        legends.append(
            Legend(
                f"{forecast_label} (what 'rank' follows)",
                rows,
                layer=forecast_label,
                shown=False,
            )
        )

    if "density" in cells and cells["density"].gt(0).any():
        breaks = class_breaks(cells["density"].fillna(0))
        shared.layer(
            name=density_label,
            classes=class_of(cells["density"].fillna(0), breaks, len(DENSITY_COLOURS)),
            colours=DENSITY_COLOURS,
            extra_labels=("Density (days/km²)",),
            extra_tooltips=[[f"{v:,.1f}"] for v in cells["density"].fillna(0)],
            show=False,
            line_weight=0.0,
        ).add_to(fmap)
        legends.append(
            Legend(
                density_label,
                _legend_rows(breaks, DENSITY_COLOURS, "days/km²"),
                layer=density_label,
                shown=False,
            )
        )

    classes, colours = _categories(cells["gi_class"], GI_COLOURS)
    shared.layer(
        name="Getis-Ord Gi* hot and cold spots",
        classes=classes,
        colours=colours,
        extra_labels=("Gi* z", "Class"),
        extra_tooltips=[
            [f"{z:.2f}", GI_LABELS.get(str(c), str(c))]
            for z, c in zip(cells["gi_z"], cells["gi_class"], strict=True)
        ],
        show=False,
    ).add_to(fmap)
    legends.append(
        Legend(
            f"Gi* ({gi_p_label})",
            [(GI_COLOURS[k], GI_LABELS[k]) for k in GI_COLOURS]
            + [("#ffffff", GI_LABELS["no_data"])],
            layer="Getis-Ord Gi* hot and cold spots",
            shown=False,
        )
    )

    if "trend" in cells and cells["trend"].isin(list(TREND_COLOURS)).any():
        classes, colours = _categories(cells["trend"], TREND_COLOURS)
        shared.layer(
            name="Emerging hot spot trends",
            classes=classes,
            colours=colours,
            extra_labels=("Trend",),
            extra_tooltips=[[str(t)] for t in cells["trend"]],
            show=False,
        ).add_to(fmap)
        present = [k for k in TREND_COLOURS if (cells["trend"] == k).any()]
        legends.append(
            Legend(
                "Emerging trend",
                [(TREND_COLOURS[k], k) for k in present],
                layer="Emerging hot spot trends",
                shown=False,
            )
        )

    if "searches" in cells and cells["searches"].gt(0).any():
        classes, colours, rows = disclosed_classes(
            cells["searches"],
            cells["searches"],
            min_count=min_count,
            colours=SEARCH_COLOURS,
            unit="searches",
            what="searches",
        )
        shared.layer(
            name="Stop and search per cell",
            classes=classes,
            colours=colours,
            extra_labels=("Searches",),
            extra_tooltips=[[suppress(n, min_count)] for n in cells["searches"]],
            show=False,
        ).add_to(fmap)
        legends.append(
            Legend(
                "Stop and search (same period)",
                rows,
                layer="Stop and search per cell",
                shown=False,
            )
        )

    if clusters is not None and not clusters.empty:
        cluster_shapes = SharedShapes(
            clusters,
            labels=["Rank", "Place", "Borough", "Incidents", "Harm (CCHI days)"],
            tooltips=[
                [
                    str(r["rank"]),
                    str(r["place"]),
                    str(r["borough"]),
                    suppress(r["incidents"], min_count),
                    _harm_text(r["incidents"], r["harm"], min_count),
                ]
                for _, r in clusters.iterrows()
            ],
        )
        cluster_shapes.add_to(fmap)
        cluster_shapes.layer(
            name="Harm clusters (named places)",
            classes=[0] * len(clusters),
            colours=CLUSTER_COLOUR,
            line_weight=1.5,
            fill_opacity=0.35,
        ).add_to(fmap)
        legends.append(
            Legend(
                "Harm clusters",
                [(CLUSTER_COLOUR[0], "cluster (DBSCAN, harm-weighted)")],
                layer="Harm clusters (named places)",
            )
        )

    _finish(
        fmap,
        boroughs=boroughs,
        title=title,
        subtitle=f"{period} · harm: {harm_table}",
        legends=legends,
        min_count=min_count,
        wards=wards,
    )
    return fmap


def draw_harm_map(
    cells: gpd.GeoDataFrame,
    *,
    boroughs: gpd.GeoDataFrame,
    title: str,
    period: str,
    harm_table: str,
    areas: gpd.GeoDataFrame | None = None,
    areas_label: str = "Violence per LSOA",
    areas_period: str = "",
    min_count: int = DEFAULT_MIN_COUNT,
    tiles: str | None = None,
) -> folium.Map:
    """London (or any force) harm map: harm per H3 cell, optional area counts, boundaries.

    Parameters
    ----------
    cells
        From :func:`hotspots.methods.counts.count_in_cells`: ``incidents``, ``harm``,
        ``borough``; cells with no harm are not drawn.
    boroughs
        Boundary polygons with ``name`` (drawn as outlines).
    title, period, harm_table
        Stated in the title box.
    areas
        Optional polygons with ``area_name``, ``count`` and ``harm`` (e.g. violence per LSOA).
    areas_label, areas_period
        Layer name and period of the area counts.
    min_count
        Counts below this are shown as "fewer than N" (disclosure control).
    tiles
        A folium tile name for a background map (needs internet), or None.
    """
    centre = boroughs.to_crs(schema.WGS84).union_all().centroid
    fmap = offline_map(location=(centre.y, centre.x), zoom_start=10, tiles=tiles)
    legends = []

    if areas is not None and not areas.empty:
        drawn = areas[areas["count"] > 0]
        area_shapes = SharedShapes(
            drawn,
            labels=["Area", "Offences", "Harm (CCHI days)"],
            tooltips=[
                [name, suppress(c, min_count), _harm_text(c, h, min_count)]
                for name, c, h in zip(
                    drawn["area_name"], drawn["count"], drawn["harm"], strict=True
                )
            ],
            decimals=4,
        )
        area_shapes.add_to(fmap)
        classes, colours, rows = disclosed_classes(
            drawn["count"],
            drawn["count"],
            min_count=min_count,
            colours=AREA_COLOURS,
            unit="offences",
            what="offences",
        )
        area_shapes.layer(
            name=escape_text(areas_label),
            classes=classes,
            colours=colours,
            show=False,
            line_weight=0.2,
        ).add_to(fmap)
        legends.append(
            Legend(
                f"{areas_label} ({areas_period})",
                rows,
                layer=escape_text(areas_label),
                shown=False,
            )
        )

    drawn = cells[cells["harm"] > 0]
    cell_shapes = SharedShapes(
        drawn,
        labels=["H3 cell", "Borough", "Incidents", "Harm (CCHI days)"],
        tooltips=[
            [cell, borough, suppress(c, min_count), _harm_text(c, h, min_count)]
            for cell, borough, c, h in zip(
                drawn.index,
                drawn["borough"],
                drawn["incidents"],
                drawn["harm"],
                strict=True,
            )
        ],
    )
    cell_shapes.add_to(fmap)
    classes, colours, rows = disclosed_classes(
        drawn["harm"],
        drawn["incidents"],
        min_count=min_count,
        colours=HARM_COLOURS,
        unit="days",
    )
    cell_shapes.layer(name="Harm per H3 cell", classes=classes, colours=colours).add_to(fmap)
    legends.insert(0, Legend(f"Harm per cell ({period})", rows, layer="Harm per H3 cell"))

    _finish(
        fmap,
        boroughs=boroughs,
        title=title,
        subtitle=f"{period} · harm: {harm_table}",
        legends=legends,
        min_count=min_count,
    )
    return fmap
