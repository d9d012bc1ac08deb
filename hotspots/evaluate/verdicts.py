"""Verdicts: median scores across origins, the best method per coverage and its margin over the baselines."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from hotspots.evaluate.backtest import ALL, BASELINES, MEASURES, METHOD_LABELS, METHODS

if TYPE_CHECKING:
    pass


def summarise(scores: pd.DataFrame, *, metric: str = "pai", borough: str = ALL) -> pd.DataFrame:
    """Median and interquartile range of a metric across origins.

    Parameters
    ----------
    scores
        ``Backtest.scores``.
    metric
        One of :data:`METRICS`.
    borough
        ``"ALL"`` or a borough name.

    Returns
    -------
    DataFrame
        One row per measure, coverage and method: ``median``, ``q25``, ``q75``, ``mean``
        and ``origins`` (origins with a defined value).
    """
    rows = scores[(scores["metric"] == metric) & (scores["borough"] == borough)]
    grouped = rows.groupby(["measure", "coverage", "method"], sort=False)["value"]
    out = pd.DataFrame(
        {
            "median": grouped.median(),
            "q25": grouped.quantile(0.25),
            "q75": grouped.quantile(0.75),
            "mean": grouped.mean(),
            "origins": grouped.count(),
        }
    )
    return out.reset_index()


@dataclass(frozen=True)
class Verdict:
    """The best method at one coverage and measure, and its margin over the baselines.

    Attributes
    ----------
    measure, coverage
        ``"counts"`` or ``"harm"``, and percent of the area.
    method
        The method (baselines excluded) with the highest median PAI across origins.
    median, q25, q75
        Its PAI across origins.
    baselines
        Per baseline: its median PAI and the median and quartiles of the per-origin
        ratio ``PAI(best) / PAI(baseline)``.
    """

    measure: str
    coverage: float
    method: str
    median: float
    q25: float
    q75: float
    baselines: dict[str, dict[str, float]]


def verdicts(scores: pd.DataFrame, *, borough: str = ALL) -> list[Verdict]:
    """Pick the best method per measure and coverage, by median PAI across origins.

    Parameters
    ----------
    scores
        ``Backtest.scores``.
    borough
        ``"ALL"`` or a borough name.

    Returns
    -------
    list of Verdict
        One per measure and coverage, counts first. Methods that are all NaN are skipped.
    """
    pai_rows = scores[(scores["metric"] == "pai") & (scores["borough"] == borough)]
    out = []
    for measure in MEASURES:
        of_measure = pai_rows[pai_rows["measure"] == measure]
        for coverage in sorted(of_measure["coverage"].unique()):
            wide = of_measure[of_measure["coverage"] == coverage].pivot_table(
                index="origin", columns="method", values="value", aggfunc="first", dropna=False
            )
            candidates = [m for m in wide.columns if m not in BASELINES]
            medians = wide[candidates].median() if candidates else pd.Series(dtype=float)
            medians = medians.dropna()
            if medians.empty:
                continue
            best = str(sorted(medians.index, key=lambda m: (-medians[m], METHODS.index(m)))[0])
            values = wide[best]
            baselines = {}
            for baseline in BASELINES:
                if baseline not in wide.columns:
                    continue
                ratio = (values / wide[baseline]).replace([np.inf, -np.inf], np.nan)
                baselines[baseline] = {
                    "median": float(wide[baseline].median()),
                    "q25": float(wide[baseline].quantile(0.25)),
                    "q75": float(wide[baseline].quantile(0.75)),
                    "ratio_median": float(ratio.median()),
                    "ratio_q25": float(ratio.quantile(0.25)),
                    "ratio_q75": float(ratio.quantile(0.75)),
                    "origins_beaten": int((values > wide[baseline]).sum()),
                    "origins": int((values.notna() & wide[baseline].notna()).sum()),
                }
            out.append(
                Verdict(
                    measure=measure,
                    coverage=float(coverage),
                    method=best,
                    median=float(values.median()),
                    q25=float(values.quantile(0.25)),
                    q75=float(values.quantile(0.75)),
                    baselines=baselines,
                )
            )
    return out


def verdict_sentence(verdict: Verdict) -> str:
    """One readable line: best method, its median PAI [IQR], and the margin over baselines."""
    what = "incidents" if verdict.measure == "counts" else "harm"
    parts = [
        f"{verdict.coverage:g}% of the area ({what}): {METHOD_LABELS[verdict.method]}, median "
        f"PAI {verdict.median:.2f} [IQR {verdict.q25:.2f}-{verdict.q75:.2f}]"
    ]
    for name, base in verdict.baselines.items():
        parts.append(
            f"{base['ratio_median']:.2f}x {METHOD_LABELS[name]} (PAI {base['median']:.2f}; "
            f"ratio IQR {base['ratio_q25']:.2f}-{base['ratio_q75']:.2f}, better at "
            f"{base['origins_beaten']}/{base['origins']} origins)"
        )
    return "; ".join(parts)
