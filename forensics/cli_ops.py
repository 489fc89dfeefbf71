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


index_app = typer.Typer(help="The fingerprint index snapshot every worker on this machine maps.",
                        no_args_is_help=True)
app.add_typer(index_app, name="index")


@index_app.command("build")
def index_build() -> None:
    """Write the fingerprint index snapshot from the store.

    Atomically: workers that map the old one move to the new one at their next upload. Run it after a bulk load, or from cron: workers also rewrite it when
    FORENSICS_INDEX_SNAPSHOT_ROWS fingerprints arrived after it. Where: FORENSICS_INDEX_DIR
    (empty: next to a SQLite store's file, else ~/.cache/forensics/index).

    Example: [bold]forensics index build[/bold]
    """
    import time

    from forensics import index_snapshot
    from forensics.cli_common import fail, open_store

    settings = get_settings()
    path = index_snapshot.snapshot_path(settings.database_url, settings)
    if path is None:
        fail("index snapshots are off (FORENSICS_INDEX_DIR=off) or the store is in memory", ExitCode.bad_args)
    store = open_store(settings)
    try:
        t0 = time.monotonic()
        path, count, last_id = index_snapshot.build(store, path)
    finally:
        store.close()
    typer.echo(f"{path}: {count} page fingerprints up to id {last_id} "
               f"({path.stat().st_size / 1e6:.1f} MB, {time.monotonic() - t0:.1f} s)")


@index_app.command("status")
def index_status(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Where the snapshot is, what it holds, and whether it matches the store.

    Exits 0 when it is usable, 1 when it is missing or would be ignored (workers then catch up
    from the store: slower to start, same answers).

    Example: [bold]forensics index status[/bold]
    """
    from forensics import index_snapshot
    from forensics.cli_common import open_store
    from forensics.store.view import RegistryView

    settings = get_settings()
    path = index_snapshot.snapshot_path(settings.database_url, settings)
    out: dict = {"path": str(path) if path else None, "usable": False}
    snap = index_snapshot.read_snapshot(path) if path else None
    if snap is None:
        out["problem"] = "no snapshot" if path else "snapshots are off"
    else:
        out.update(last_id=snap.last_id, fingerprints={n: len(i) for n, i in snap.indexes.items()},
                   bytes=snap.identity[2], written_at=snap.footer.get("written_at"))
        store = open_store(settings)
        try:
            with store.transaction() as conn:
                problem = index_snapshot.mismatch(snap, RegistryView(store, conn))
        finally:
            store.close()
        out["usable"] = problem is None
        if problem:
            out["problem"] = problem
    if as_json:
        console.print_json(json.dumps(out))
    else:
        for key, value in out.items():
            typer.echo(f"{key}: {value}")
    if not out["usable"]:
        raise typer.Exit(1)
