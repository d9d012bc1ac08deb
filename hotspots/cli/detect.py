"""``hotspots detect``: every hotspot method side by side, with maps and a report."""

from __future__ import annotations

import time

import click
from rich.table import Table

from hotspots.cli.options import console, engine_options, ingest_options, settings_from_options
from hotspots.core import schema


@click.command()
@click.argument("inputs", nargs=-1, required=True)
@click.option("--out", "out_dir", required=True, type=click.Path(), help="Output folder.")
@click.option("--overwrite", is_flag=True, help="Replace an earlier run's output in --out.")
@click.option(
    "--kernel",
    default="quartic",
    show_default=True,
    help="Kernel: quartic, epanechnikov, triangular, uniform, gaussian.",
)
@click.option(
    "--bandwidth-m",
    type=float,
    default=None,
    help="Kernel bandwidth in metres (default: chosen by --bandwidth-rule).",
)
@click.option(
    "--bandwidth-rule",
    default=None,
    help="Bandwidth rule when --bandwidth-m is not given (see the report).",
)
@click.option(
    "--adjust",
    type=float,
    default=1.0,
    show_default=True,
    help="Multiply the chosen bandwidth by this.",
)
@click.option(
    "--grid-m",
    type=float,
    default=50.0,
    show_default=True,
    help="Kernel density grid size in metres.",
)
@click.option(
    "--edge-correction/--no-edge-correction",
    default=True,
    show_default=True,
    help="Correct density near the study boundary.",
)
@click.option(
    "--neighbours",
    "neighbours_k",
    type=int,
    default=1,
    show_default=True,
    help="H3 k-ring for Gi*.",
)
@click.option(
    "--permutations",
    type=int,
    default=0,
    show_default=True,
    help="Gi* permutations (0 = analytic only).",
)
@click.option(
    "--seed",
    type=int,
    default=0,
    show_default=True,
    help="Random seed for permutations and clustering.",
)
@click.option(
    "--fdr/--no-fdr",
    default=True,
    show_default=True,
    help="Benjamini-Hochberg FDR control for Gi* classes.",
)
@click.option(
    "--eps-m",
    type=float,
    default=None,
    help="DBSCAN radius in metres (default: automatic, see the report).",
)
@click.option(
    "--min-harm", type=float, default=None, help="DBSCAN minimum harm within eps for a core point."
)
@click.option(
    "--min-count",
    type=int,
    default=5,
    show_default=True,
    help="Suppress published counts below this.",
)
@click.option(
    "--include-police-generated",
    is_flag=True,
    help="Keep drugs and possession of weapons (mostly found by police) in the harm layer.",
)
@click.option(
    "--borough-report",
    "borough_reports",
    multiple=True,
    help="Also write a map and report for this borough (name or code; 'all' for every one).",
)
@engine_options[0]
@engine_options[1]
@ingest_options
def detect(
    inputs: tuple[str, ...],
    out_dir: str,
    overwrite: bool,
    kernel: str,
    bandwidth_m: float | None,
    bandwidth_rule: str | None,
    adjust: float,
    grid_m: float,
    edge_correction: bool,
    neighbours_k: int,
    permutations: int,
    seed: int,
    fdr: bool,
    eps_m: float | None,
    min_harm: float | None,
    min_count: int,
    include_police_generated: bool,
    borough_reports: tuple[str, ...],
    engine: str,
    scheduler: str | None,
    **options: object,
) -> None:
    """Find hotspots with every method: harm per cell, density, Gi*, clusters, trends.

    INPUT is raw data.police.uk files (as for ingest) or the --out folder of an earlier
    'hotspots ingest'. Writes cells.parquet, hotspots.geojson, map.html, report.html,
    rejects.csv and manifest.json.
    """
    from hotspots.detect.points import DetectOptions
    from hotspots.runs.detect import run_detect

    settings = settings_from_options(**options)  # type: ignore[arg-type]
    detect_options = DetectOptions(
        resolution=settings.resolution,
        kernel=kernel,
        bandwidth_rule=bandwidth_rule,
        bandwidth_m=bandwidth_m,
        adjust=adjust,
        grid_m=grid_m,
        edge_correction=edge_correction,
        neighbours_k=neighbours_k,
        permutations=permutations,
        seed=seed,
        fdr=fdr,
        eps_m=eps_m,
        min_harm=min_harm,
        min_count=min_count,
        include_police_generated=include_police_generated,
    )
    start = time.perf_counter()
    result = run_detect(
        inputs,
        out_dir,
        settings=settings,
        options=detect_options,
        overwrite=overwrite,
        borough_reports=borough_reports,
        engine=engine,
        scheduler=scheduler,
    )
    print_detect_summary(result, time.perf_counter() - start)


def print_detect_summary(result, seconds: float) -> None:  # type: ignore[no-untyped-def]
    """Print one screen: period, concentration, Gi* classes, clusters, trends, files."""
    detection = result.detection
    cells = detection.cells
    manifest = result.manifest
    rows = manifest.get("rows") or {}
    if rows:
        left_out = (manifest.get("rejects_by_reason") or {}).get(schema.NOT_SELECTED, 0)
        console.print(
            f"[bold]Read {rows['read']:,} rows[/]: accepted {rows['accepted']:,} + rejected "
            f"{rows['rejected']:,} = {rows['accepted'] + rows['rejected']:,}"
            + (
                f" ({left_out:,} of the rejected are outside --months/--crime-type)"
                if left_out
                else ""
            )
        )
    console.print(
        f"[bold]{int(cells['incidents'].sum()):,} incidents[/], {detection.period[0]} to "
        f"{detection.period[1]}, over {len(cells):,} H3 cells (took {seconds:.1f} s)."
    )
    harm = detection.concentration["harm"]
    console.print(
        f"Concentration of harm: Gini {harm.gini:.2f}; top 1% of cells hold "
        f"{100 * harm.top_share[0.01]:.1f}%, top 5% {100 * harm.top_share[0.05]:.1f}%; "
        f"{harm.places_for_half:,} cells hold half."
    )
    gi_class = cells["gi_class"].astype(str)
    hot = int(gi_class.str.startswith("hot").sum())
    cold = int(gi_class.str.startswith("cold").sum())
    console.print(f"Gi*: {hot:,} hot and {cold:,} cold cells ({detection.gi_p_label}).")
    clusters = detection.clusters
    if clusters is not None and not clusters.empty:
        top = clusters.sort_values("rank").head(3)
        names = "; ".join(f"{r['place']} ({r['borough']})" for _, r in top.iterrows())
        console.print(f"Clusters: {len(clusters):,}; highest harm: {names}.")
    trends = cells["trend"].value_counts()
    console.print("Emerging: " + ", ".join(f"{k} {v:,}" for k, v in trends.items()))
    table = Table(title="Automatic choices", title_justify="left", show_header=False)
    for key, value in detection.choices.items():
        table.add_row(key, value)
    console.print(table)
    for name, path in result.files.items():
        console.print(f"{name}: {path}")
