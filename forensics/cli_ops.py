"""Operators' commands: ``forensics health``."""

from __future__ import annotations

import json

import typer

from forensics.cli_common import app, console
from forensics.errors import ExitCode
from forensics.settings import get_settings


@app.command()
def health(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Check that the store, the broker and the OCR engine answer: one line each.

    Exits 0 when all answer, 6 (service unavailable) otherwise, with a line saying what failed.

    Example: [bold]FORENSICS_BROKER_URL=redis://127.0.0.1:6379/0 forensics health[/bold]
    """
    from forensics.observability.health import check_all

    checks = check_all(get_settings())
    if as_json:
        console.print_json(json.dumps([{"name": c.name, "ok": c.ok, "detail": c.detail,
                                        "seconds": round(c.seconds, 3)} for c in checks]))
    else:
        for c in checks:
            # plain echo: one line per part, never wrapped (scripts grep these)
            typer.echo(c.line(), err=not c.ok)
    if not all(c.ok for c in checks):
        raise typer.Exit(int(ExitCode.service_unavailable))
