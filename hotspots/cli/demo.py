"""``hotspots demo``: the whole pipeline on the bundled London data."""

from __future__ import annotations

import click

from hotspots.cli.ingest import print_ingest_summary
from hotspots.cli.options import console, progress_bar
from hotspots.core import schema


@click.command()
@click.option(
    "--out",
    "out_dir",
    default="demo-output",
    show_default=True,
    type=click.Path(),
    help="Output folder.",
)
@click.option(
    "--resolution",
    type=int,
    default=schema.DEFAULT_H3_RESOLUTION,
    show_default=True,
    help="H3 resolution (8-11).",
)
def demo(out_dir: str, resolution: int) -> None:
    """Run the pipeline on the bundled real London data (no network needed)."""
    from hotspots.io.sources import find_sources
    from hotspots.runs.demo import demo_inputs, run_demo

    total = sum(s.size_bytes for s in find_sources(demo_inputs()))
    with progress_bar(total, "demo: ingest") as update:
        result = run_demo(out_dir, resolution=resolution, on_progress=update)
    print_ingest_summary(result.ingest, result.ingest_seconds)
    for step in result.steps:
        console.print(f"[bold]{step.name}[/] ({step.seconds:.1f} s)")
        for line in step.lines:
            console.print(f"  {line}")
        for label, path in step.files.items():
            console.print(f"  {label}: {path}")
    console.print(
        f"Demo finished in {result.seconds:.1f} s. Open {result.out_dir / 'map.html'} in a browser."
    )
