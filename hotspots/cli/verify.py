"""``hotspots verify DIR``: tell whether a run's outputs still describe its inputs.

A thin layer over :func:`hotspots.io.verify.verify_run`. Exit codes: 0 every input and
output matches ``manifest.json``; 1 something changed or is missing (listed per file);
2 the folder holds no manifest (one-line error, as for every command).
"""

from __future__ import annotations

import click


def _print(verification, console, *, every: bool, indent: str = "") -> None:  # type: ignore[no-untyped-def]
    from rich.markup import escape
    from rich.table import Table

    roles = {}
    for check in verification.checks:
        roles[check.role] = roles.get(check.role, 0) + 1
    names = {"input": "input", "output": "output", "store": "store dataset"}
    what = ", ".join(
        f"{n:,} {names.get(role, role)}{'s' if n != 1 else ''}" for role, n in roles.items()
    )
    verdict = "all match" if verification.ok else "[bold red]CHANGED[/]"
    console.print(
        f"{indent}{escape(str(verification.folder))} ({escape(verification.command)}): "
        f"{what or 'nothing recorded'} checked, {verdict}"
    )
    shown = [c for c in verification.checks if every or c.status != "ok"]
    if shown:
        table = Table(show_header=True, box=None, padding=(0, 1))
        for column in ("status", "role", "file", "detail"):
            table.add_column(column)
        for check in shown:
            name = check.path
            if check.members:
                listed = ", ".join(check.members[:3]) + (" …" if len(check.members) > 3 else "")
                name += f" ({len(check.members)} member(s): {listed})"
            status = check.status if check.ok else f"[bold red]{check.status}[/]"
            table.add_row(status, check.role, escape(name), escape(check.detail))
        console.print(table)
    for inner in verification.nested:
        _print(inner, console, every=every, indent=indent + "  read from ")


@click.command(name="verify")
@click.argument("folder", type=click.Path())
@click.option(
    "--root",
    type=click.Path(),
    default=None,
    help="Folder relative input paths are taken from (where the run was started; "
    "default: the current folder).",
)
@click.option("--all", "every", is_flag=True, help="List every file, not only the problems.")
@click.pass_context
def verify(ctx: click.Context, folder: str, root: str | None, every: bool) -> None:
    """Hash again the inputs and outputs named in FOLDER/manifest.json.

    Exit 0 when every input and output matches (the outputs can be trusted to describe
    the inputs as they are now), 1 when a file changed or is missing (listed per file),
    2 when FOLDER holds no manifest.json.
    """
    from hotspots.cli.options import console
    from hotspots.io.verify import verify_run

    verification = verify_run(folder, root=root)
    _print(verification, console, every=every)
    counts = verification.counts()
    checked = sum(counts.values())
    if verification.ok:
        unhashed = f" ({counts['unhashed']} without a recorded hash)" if counts["unhashed"] else ""
        console.print(
            f"[bold]OK[/]: all {checked:,} files named in the manifest match{unhashed}; the "
            "outputs describe these inputs."
        )
        return
    console.print(
        f"[bold red]CHANGED[/]: {len(verification.problems()):,} of {checked:,} files differ "
        "from the manifest (listed above); the outputs cannot be trusted to describe the "
        "inputs as they are now."
    )
    ctx.exit(1)
