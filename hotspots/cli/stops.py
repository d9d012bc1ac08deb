"""``hotspots stops``: the stop-and-search disproportionality review on the command line.

A thin layer over :func:`hotspots.stops.review.run_stops`.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import click
from rich.table import Table

from hotspots.cli.options import console, progress_bar
from hotspots.core.errors import InputError


def _ratio_text(entry: dict | None) -> str:
    if not entry or entry.get("ratio") is None:
        return "not available"
    return f"{entry['ratio']:.2f} (95% CI {entry['ci_low']:.2f}–{entry['ci_high']:.2f})"


def _pct(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{100 * float(value):.1f}%"  # type: ignore[arg-type]


@click.command(name="stops")
@click.argument("searches", nargs=-1, required=True)
@click.option(
    "--population",
    required=True,
    help="Residents by ethnic group per borough: census2021, census2011, or a CSV "
    "(area_code,group,population).",
)
@click.option(
    "--hotspots",
    "hotspots_dir",
    type=click.Path(),
    default=None,
    help="A 'hotspots detect' --out folder: its hot cells become hotspot sets too.",
)
@click.option("--months", default=None, help="Inclusive month range, e.g. 2023-09..2024-08.")
@click.option("--out", "out_dir", required=True, type=click.Path(), help="Output folder.")
@click.option("--overwrite", is_flag=True, help="Replace an earlier run's output in --out.")
@click.option(
    "--min-count",
    type=int,
    default=5,
    show_default=True,
    help="Suppress published counts below this (and counts that would reveal them).",
)
@click.option(
    "--violence",
    default="bundled",
    show_default=True,
    help="MPS recorded-crime LSOA table for violence hotspots, 'bundled', or 'none'.",
)
@click.option(
    "--ratio-method",
    type=click.Choice(["exact", "log"]),
    default="exact",
    show_default=True,
    help="Interval of rate ratios: exact conditional binomial, or log (Katz).",
)
@click.option(
    "--top-share",
    type=float,
    default=0.05,
    show_default=True,
    help="Share of places in the 'top' hotspot sets (by harm).",
)
@click.option(
    "--confidence", type=float, default=0.95, show_default=True, help="Confidence level."
)
def stops(
    searches: tuple[str, ...],
    population: str,
    hotspots_dir: str | None,
    months: str | None,
    out_dir: str,
    overwrite: bool,
    min_count: int,
    violence: str,
    ratio_method: str,
    top_share: float,
    confidence: float,
) -> None:
    """Review stop and search: rates, ratios, outcomes, hotspots, trends (disproportionality).

    SEARCHES are data.police.uk stop-and-search files, folders or zips, or the --out
    folder of 'hotspots ingest'. Writes disparity.csv, monthly.csv, context.csv,
    lsoa_rates.csv, review.html, review_map.html, rejects.csv and manifest.json.
    """
    from hotspots.ingest.read import parse_months
    from hotspots.io.sources import find_sources
    from hotspots.runs.stops import run_stops

    period = parse_months(months)
    if min_count < 1:
        raise InputError(f"--min-count {min_count} must be at least 1.")
    if not 0 < top_share < 1:
        raise InputError(f"--top-share {top_share} must be between 0 and 1 (e.g. 0.05).")
    if not 0.5 <= confidence < 1:
        raise InputError(f"--confidence {confidence} must be between 0.5 and 1 (e.g. 0.95).")
    if hotspots_dir is not None and not Path(hotspots_dir).is_dir():
        raise InputError(f"--hotspots {hotspots_dir} is not a folder.")
    paths = [Path(s) for s in searches]
    is_store = len(paths) == 1 and (paths[0] / "searches").is_dir()
    total = 0 if is_store else sum(s.size_bytes for s in find_sources(paths))
    start = time.perf_counter()
    with progress_bar(total, "stops: read") as update:
        result = run_stops(
            paths,
            out_dir,
            population=population,
            hotspots=hotspots_dir,
            months=period,
            violence=None if violence.lower() == "none" else violence,
            min_count=min_count,
            confidence=confidence,
            ratio_method=ratio_method,
            top_share=top_share,
            overwrite=overwrite,
            on_progress=update,
        )
    print_stops_summary(result, time.perf_counter() - start)


def print_stops_summary(result, seconds: float) -> None:  # type: ignore[no-untyped-def]
    """Print one screen: rows, period, the London figures, hotspots, months and files."""
    review = result.review
    manifest = result.manifest
    rows = manifest.get("rows") or {}
    if rows.get("read") is not None:
        left_out = (manifest.get("rejects_by_reason") or {}).get("not_selected", 0)
        console.print(
            f"[bold]Read {rows['read']:,} rows[/]: accepted {rows['accepted']:,} + rejected "
            f"{rows['rejected']:,} = {rows['accepted'] + rows['rejected']:,}"
            + (f" ({left_out:,} of the rejected are outside --months)" if left_out else "")
        )
    p = review.parameters
    console.print(
        f"[bold]{p['searches']:,} searches[/], {p['period']} ({p['months_with_data']} month(s) "
        f"with data), took {seconds:.1f} s. Population: {p['population']}."
    )
    h = review.headline
    console.print(
        f"{p['force_name']} Black/White search-rate ratio: self-defined "
        f"{_ratio_text(h.get('black_white_rate_ratio_self'))}; officer-defined "
        f"{_ratio_text(h.get('black_white_rate_ratio_officer'))}."
    )
    if h.get("black_white_rate_ratio_combined"):
        console.print(
            "Not-stated sensitivity: self-defined where stated, officer-defined otherwise "
            f"{_ratio_text(h.get('black_white_rate_ratio_combined'))}; bounds "
            f"{_ratio_text(h.get('black_white_rate_ratio_not_stated_as_white'))} (every "
            "not-stated search White) to "
            f"{_ratio_text(h.get('black_white_rate_ratio_not_stated_as_black'))} (every one Black)."
        )
    table = Table(title="Outcomes by self-defined group (95% Wilson CI)", title_justify="left")
    for column in ("group", "arrest", "any action", "find"):
        table.add_column(column)
    outcomes = h["outcomes_self_defined"]
    for group in outcomes["arrest_rate"]:

        def cell(measure: str, group: str = group) -> str:
            entry = outcomes.get(measure, {}).get(group)
            if not entry or entry["rate"] is None:
                return "–"
            return f"{_pct(entry['rate'])} ({_pct(entry['ci_low'])}–{_pct(entry['ci_high'])})"

        table.add_row(group, cell("arrest_rate"), cell("action_rate"), cell("find_rate"))
    console.print(table)
    console.print(f"Find flag: {h['find_flag']}.")
    for s in h["hotspots"]:
        console.print(
            f"Inside {s['hotspots']}: {_pct(s['share_of_located_searches'])} of located "
            f"searches; {_pct(s['share_of_harm'])} of harm; {_pct(s['share_of_area'])} of area."
        )
    console.print(
        f"Not stated (self-defined): {_pct(h['share_self_defined_not_stated'])}; without "
        f"location: {_pct(h['share_without_location'])} (in {p['force_name']}, no borough)."
    )
    missing = ", ".join(h["missing_months"]) or "none"
    short = ", ".join(h["short_months"]) or "none"
    console.print(f"Missing months: {missing}; short months: {short}.")
    if review.unmapped:
        console.print(f"[bold]Unmapped strings[/] (counted as 'unmapped'): {review.unmapped}")
    for name, path in result.files.items():
        console.print(f"{name}: {path}")
