"""``python -m hotspots``: the command line."""

from hotspots.cli.main import main

main(prog_name="hotspots")
