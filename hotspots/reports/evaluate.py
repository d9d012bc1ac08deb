"""The evaluation report and its PAI figure."""

from __future__ import annotations

import base64
import io
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from hotspots.evaluate.backtest import (
    ALL,
    BASELINES,
    MEASURES,
    METHOD_LABELS,
    METHODS,
    METRICS,
    Backtest,
)
from hotspots.evaluate.verdicts import summarise, verdict_sentence, verdicts

if TYPE_CHECKING:
    pass


OKABE_ITO = {
    "harm": "#D55E00",
    "kde": "#0072B2",
    "gi_star": "#CC79A7",
    "clusters": "#009E73",
    "emerging": "#E69F00",
    "counts_12m": "#F0E442",
    "last_month": "#56B4E9",
    "random": "#999999",
}
"""Colour-blind-safe colours per method (Okabe & Ito 2008)."""


def figure_pai(scores: pd.DataFrame, *, borough: str = ALL) -> bytes:
    """Box plots of PAI across origins by method and coverage, on counts and on harm.

    Returns
    -------
    bytes
        A PNG image.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    rows = scores[(scores["metric"] == "pai") & (scores["borough"] == borough)]
    methods = [m for m in METHODS if m in set(rows["method"])]
    coverages = sorted(rows["coverage"].unique())
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.6), sharey=False)
    width = 0.8 / max(len(methods), 1)
    for ax, measure in zip(axes, MEASURES, strict=True):
        of_measure = rows[rows["measure"] == measure]
        for i, method in enumerate(methods):
            data, positions = [], []
            for j, coverage in enumerate(coverages):
                values = of_measure[
                    (of_measure["method"] == method) & (of_measure["coverage"] == coverage)
                ]["value"].dropna()
                data.append(values.to_numpy())
                positions.append(j + (i - (len(methods) - 1) / 2) * width)
            boxes = ax.boxplot(
                data,
                positions=positions,
                widths=width * 0.85,
                patch_artist=True,
                showfliers=True,
                flierprops={"markersize": 2.5, "markeredgecolor": OKABE_ITO[method]},
                medianprops={"color": "#000000", "linewidth": 1.4},
                manage_ticks=False,
            )
            for patch in boxes["boxes"]:
                patch.set_facecolor(OKABE_ITO[method])
                patch.set_edgecolor("#333333")
                if method in BASELINES:
                    patch.set_hatch("//")
        ax.axhline(1.0, color="#333333", linestyle=":", linewidth=1)
        ax.set_xticks(range(len(coverages)))
        ax.set_xticklabels([f"{c:g}%" for c in coverages])
        ax.set_xlabel("share of the study area flagged")
        ax.set_ylabel("PAI (1 = random)")
        ax.set_ylim(bottom=0)
        ax.grid(axis="y", alpha=0.3)
        ax.set_title(f"PAI on {'incident counts' if measure == 'counts' else 'harm'}")
    n_origins = rows["origin"].nunique()
    handles = [
        Patch(
            facecolor=OKABE_ITO[m],
            edgecolor="#333333",
            hatch="//" if m in BASELINES else None,
            label=METHOD_LABELS[m],
        )
        for m in methods
    ]
    fig.legend(handles=handles, loc="lower center", ncol=len(methods), fontsize=8, frameon=False)
    fig.suptitle(
        f"Forecast accuracy by method: PAI over {n_origins} rolling origin(s) "
        f"({borough if borough != ALL else 'whole study area'}; boxes: quartiles, line: median)",
        fontsize=11,
    )
    fig.tight_layout(rect=(0, 0.07, 1, 0.95))
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, metadata={"Software": None})
    plt.close(fig)
    return buffer.getvalue()


_REPORT = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{{ title }}</title>
<style>
  body { font-family: "DejaVu Sans", Arial, sans-serif; margin: 24px auto; max-width: 1000px; color: #1b1b1b; line-height: 1.4; }
  h1 { font-size: 22px; margin-bottom: 4px; }
  h2 { font-size: 17px; border-bottom: 2px solid #444; padding-bottom: 2px; margin-top: 28px; }
  .sub { color: #444; font-size: 13px; }
  table { border-collapse: collapse; width: 100%; font-size: 12px; margin: 8px 0; }
  th, td { border: 1px solid #bbb; padding: 3px 5px; text-align: left; vertical-align: top; }
  th { background: #f0f0f0; }
  td.num { text-align: right; font-variant-numeric: tabular-nums; }
  img { max-width: 100%; }
  .note { font-size: 12px; color: #444; }
  @page { size: A4; margin: 14mm; }
  @media print { body { margin: 0; max-width: none; font-size: 11px; } table, img { page-break-inside: avoid; } }
</style>
</head>
<body>
<h1>{{ title }}</h1>
<div class="sub">{{ origins_text }} · crime types: {{ crime_types }} · harm weights: {{ harm_table }}</div>
<div class="sub">Made by hotspots {{ version }} (run times and input hashes are in manifest.json).</div>

<h2>Verdict</h2>
{% if harm_note %}<p class="note">Harm results are not shown separately: {{ harm_note }}.</p>{% endif %}
<ul>
{% for line in verdict_lines %}<li>{{ line }}</li>
{% endfor %}
</ul>
<p class="note">PAI = share of the test incidents in the flagged cells / share of the area flagged; random
flags give 1. Medians and interquartile ranges (IQR) are across origins; "better at" counts the origins where
the best method's PAI beat the baseline's. The best method is chosen among the non-baseline methods by median PAI.</p>

<h2>PAI by method and coverage</h2>
<img alt="PAI by method and coverage" src="data:image/png;base64,{{ figure }}">

<h2>All metrics (whole study area): median [IQR] across origins</h2>
{% for measure, table in tables %}
<h3>{{ measure }}</h3>
<table>
  <tr><th>method</th><th>coverage</th>{% for m in metric_names %}<th>{{ m }}{% if m == "hit_rate" %} (%){% endif %}</th>{% endfor %}</tr>
  {% for row in table %}
  <tr><td>{{ row.method }}</td><td class="num">{{ row.coverage }}</td>
  {% for cell in row.cells %}<td class="num">{{ cell }}</td>{% endfor %}</tr>
  {% endfor %}
</table>
{% endfor %}

<h2>Per borough: median PAI on incident counts</h2>
<p class="note">Each borough ranked on its own (the top share of the borough's own area); few incidents per
borough and month make these noisy.</p>
{% if not borough_rows %}<p class="note">Not computed (--no-per-borough).</p>{% else %}
<table>
  <tr><th>borough</th>{% for c in borough_coverages %}<th>best at {{ c }}</th>{% endfor %}</tr>
  {% for row in borough_rows %}
  <tr><td>{{ row.borough }}</td>{% for cell in row.cells %}<td>{{ cell }}</td>{% endfor %}</tr>
  {% endfor %}
</table>
{% endif %}

<h2>Origins</h2>
<table>
  <tr><th>origin</th><th>training months</th><th>test months</th><th>training incidents</th><th>test incidents</th><th>test harm</th></tr>
  {% for o in origins %}
  <tr><td>{{ o.origin }}</td><td>{{ o.train_from }}..{{ o.train_to }}</td><td>{{ o.test_from }}..{{ o.test_to }}</td>
  <td class="num">{{ "{:,}".format(o.train_incidents) }}</td><td class="num">{{ "{:,}".format(o.test_incidents) }}</td>
  <td class="num">{{ "{:,.0f}".format(o.test_harm) }}</td></tr>
  {% endfor %}
</table>

<h2>Definitions and choices</h2>
<table>
  {% for key, text in definitions %}<tr><th>{{ key }}</th><td>{{ text }}</td></tr>
  {% endfor %}
  {% for key, text in choices %}<tr><th>{{ key }}</th><td>{{ text }}</td></tr>
  {% endfor %}
</table>
</body>
</html>
"""


DEFINITIONS = {
    "hit_rate": "share of the test incidents (or harm) in the flagged cells, n/N (in % in the tables)",
    "pai": "Predictive Accuracy Index (Chainey et al. 2008): (n/N) / (a/A)",
    "rri_levine": (
        "Recapture Rate Index, Levine (2008): (n2/n1) / (N2/N1), test over training "
        "incidents in the flagged cells relative to the totals; below 1 the hotspots lost share"
    ),
    "rri_forecast": (
        "Recapture Rate Index, Wheeler & Steenbeek (2021) / ptools: forecast / observed "
        "incidents in the flagged cells (forecast = training monthly mean x horizon)"
    ),
    "pei": "Predictive Efficiency Index (Hunt 2016): PAI / best PAI of the same area",
    "pei_star": (
        "PEI* (White, Hunt & Green 2023): n / most incidents the same number of cells "
        "could capture"
    ),
    "area_share, cells": "share of the area actually flagged, and cells flagged",
}


def _cell(median: float, q25: float, q75: float) -> str:
    if not np.isfinite(median):
        return "–"
    return f"{median:.2f} [{q25:.2f}–{q75:.2f}]"


def render_evaluation_report(
    backtest_result: Backtest,
    *,
    figure_png: bytes,
    title: str,
    crime_types: str,
    harm_table: str,
) -> str:
    """Render ``evaluation.html``: verdict, PAI figure, metric table, boroughs, origins.

    Every string passes through jinja2 autoescaping.
    """
    from datetime import UTC, datetime
    from importlib import metadata

    import jinja2

    scores = backtest_result.scores
    harm_note = backtest_result.choices.get("harm_note", "")
    measures = ("counts",) if harm_note else MEASURES
    found = [v for v in verdicts(scores) if v.measure in measures]
    tables = []
    summaries = {metric: summarise(scores, metric=metric) for metric in METRICS}
    for measure in measures:
        rows = []
        for method in backtest_result.methods:
            for coverage in backtest_result.coverage_pct:
                cells = []
                for metric in METRICS:
                    table = summaries[metric]
                    scale = 100.0 if metric == "hit_rate" else 1.0
                    hit = table[
                        (table["measure"] == measure)
                        & (table["method"] == method)
                        & (table["coverage"] == coverage)
                    ]
                    if hit.empty:
                        cells.append("–")
                    else:
                        r = hit.iloc[0]
                        cells.append(
                            _cell(scale * r["median"], scale * r["q25"], scale * r["q75"])
                        )
                rows.append(
                    {"method": METHOD_LABELS[method], "coverage": f"{coverage:g}%", "cells": cells}
                )
        tables.append(("incident counts" if measure == "counts" else "harm", rows))
    borough_rows = []
    boroughs = sorted(b for b in scores["borough"].unique() if b != ALL)
    by_borough = {
        b: {(v.coverage): v for v in verdicts(scores, borough=b) if v.measure == "counts"}
        for b in boroughs
    }
    for borough in boroughs:
        cells = []
        for coverage in backtest_result.coverage_pct:
            v = by_borough[borough].get(coverage)
            if v is None:
                cells.append("–")
                continue
            year = v.baselines.get("counts_12m", {})
            base = v.baselines.get("last_month", {})
            rand = v.baselines.get("random", {})
            cells.append(
                f"{METHOD_LABELS[v.method]} {v.median:.2f}"
                + (f"; 12-month counts {year['median']:.2f}" if year else "")
                + (f"; last month {base['median']:.2f}" if base else "")
                + (f"; random {rand['median']:.2f}" if rand else "")
            )
        borough_rows.append({"borough": borough, "cells": cells})
    origins = backtest_result.origins
    origins_text = (
        f"{len(origins)} rolling origin(s), first test month {origins['origin'].iloc[0]}, last "
        f"{origins['test_to'].iloc[-1]}; training window "
        f"{backtest_result.parameters['window_months']} months, horizon "
        f"{backtest_result.parameters['horizon_months']} month(s)"
    )
    try:
        version = metadata.version("hotspots")
    except metadata.PackageNotFoundError:  # pragma: no cover - editable installs have it
        version = "unknown"
    environment = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    return environment.from_string(_REPORT).render(
        title=title,
        origins_text=origins_text,
        crime_types=crime_types,
        harm_table=harm_table,
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        version=version,
        verdict_lines=[verdict_sentence(v) for v in found],
        harm_note=harm_note,
        figure=base64.b64encode(figure_png).decode("ascii"),
        metric_names=list(METRICS),
        tables=tables,
        borough_coverages=[f"{c:g}%" for c in backtest_result.coverage_pct],
        borough_rows=borough_rows,
        origins=origins.to_dict("records"),
        definitions=list(DEFINITIONS.items()),
        choices=list(backtest_result.choices.items()),
    )
