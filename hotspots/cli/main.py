"""Command line: a thin layer over the public functions, one file per command.

Exit codes: 0 success; 2 bad input or usage, with a one-line message and no traceback.
An unexpected bug keeps its traceback so that it can be reported. Shared options and the
console are in :mod:`hotspots.cli.options`.
"""

from __future__ import annotations

import logging

import click

from hotspots.cli.demo import demo
from hotspots.cli.detect import detect
from hotspots.cli.evaluate import evaluate
from hotspots.cli.forecast import forecast
from hotspots.cli.ingest import ingest
from hotspots.cli.options import CommandGroup
from hotspots.cli.stops import stops
from hotspots.cli.task import task
from hotspots.cli.verify import verify


@click.group(cls=CommandGroup)
@click.version_option(package_name="hotspots")
@click.option("-v", "--verbose", is_flag=True, help="Log progress details.")
def main(verbose: bool) -> None:
    """Harm hotspots, patrol tasking and stop-and-search reviews from police data."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(message)s")


for _command in (ingest, detect, forecast, evaluate, task, stops, verify, demo):
    main.add_command(_command)

if __name__ == "__main__":  # pragma: no cover
    main()
