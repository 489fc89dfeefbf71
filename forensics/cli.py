"""The ``forensics`` command: batch ingest, export, records, publishing, operations.

Tables for people, ``--json`` for programs. Every command's ``--help`` has an example. One rule
for every command: unknown ids and bad arguments exit non-zero with one line on standard error
(exit codes in :class:`forensics.errors.ExitCode`); no traceback reaches a user.

The commands live in modules by concern (``cli_ingest``, ``cli_investigate``, ``cli_worker`` ...),
each importing only :mod:`forensics.cli_common`; this module imports them all and holds
:func:`main`.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from forensics import cli_ingest, cli_investigate, cli_ops, cli_web, cli_worker  # noqa: F401 - they register commands
from forensics.cli_common import app, console, err, fail, open_store
from forensics.cli_ingest import event_for_row, read_manifest, run_ingest  # noqa: F401 - public API
from forensics.errors import (
    ExitCode,
    ForensicsError,
    InvalidEvent,
    MissingDependency,
    TransientError,
)
from forensics.events import UploadEvent, validate_claims
from forensics.settings import Settings, get_settings

db_app = typer.Typer(help="Evidence store maintenance.", no_args_is_help=True)
dead_app = typer.Typer(help="Messages whose retries ran out: list and re-drive them.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(dead_app, name="dead-letters")


# -- export / show -----------------------------------------------------------------------------

#: columns of ``export --format csv``
CSV_COLUMNS = ("evidence_id", "seller_id", "status", "verdict", "risk", "sha256", "media_type", "pages",
               "document_type", "merchant", "serial", "date", "total", "currency", "findings", "clusters",
               "error_code", "uploaded_at", "analyzed_at")


def csv_row(record: dict[str, Any]) -> dict[str, Any]:
    fields = record.get("fields") or {}
    out = {k: record.get(k) for k in CSV_COLUMNS}
    for name in ("document_type", "merchant", "serial", "date", "total", "currency"):
        out[name] = (fields.get(name) or {}).get("value")
    out["findings"] = " ".join(f["code"] for f in record.get("findings") or [])
    out["clusters"] = " ".join(c["id"] for c in record.get("clusters") or [])
    out["error_code"] = (record.get("error") or {}).get("code")
    return out


@app.command()
def export(
    fmt: str = typer.Option("jsonl", "--format", "-f", help="jsonl (one record per line) or csv (one row per record)."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Write here instead of standard output."),
    seller: str | None = typer.Option(None, "--seller", help="Only this seller's records."),
) -> None:
    """Write every evidence record, in upload order.

    Example: [bold]forensics export --format jsonl --out records.jsonl[/bold]
    """
    if fmt not in ("jsonl", "csv"):
        fail(f"--format must be jsonl or csv, not {fmt!r}", ExitCode.bad_args)
    if out is not None and not out.parent.is_dir():
        fail(f"cannot write {out}: folder {out.parent} does not exist; create it or choose another --out.",
             ExitCode.bad_args)
    store = open_store(get_settings())
    try:
        fh = out.open("w", newline="", encoding="utf-8") if out else sys.stdout
    except OSError as exc:
        fail(f"cannot write {out}: {exc.strerror}.", ExitCode.bad_args)
    n = 0
    try:
        writer = csv.DictWriter(fh, fieldnames=CSV_COLUMNS) if fmt == "csv" else None
        if writer:
            writer.writeheader()
        for record in store.records(seller_id=seller):
            if writer:
                writer.writerow(csv_row(record))
            else:
                fh.write(json.dumps(record, ensure_ascii=False, sort_keys=False) + "\n")
            n += 1
    finally:
        if out:
            fh.close()
    if out:
        err.print(f"Wrote {n} record(s) to {out}.")


@app.command()
def show(
    evidence_id: str = typer.Argument(..., help="The evidence id."),
    as_json: bool = typer.Option(False, "--json", help="Print the record as JSON."),
    text: bool = typer.Option(False, "--text", help="Also print the text that was read."),
) -> None:
    """Show one evidence record: verdict and why, fields with confidence, findings, checks.

    Example: [bold]forensics show E0003[/bold]
    """
    from forensics.report import render_record

    store = open_store(get_settings())
    record = store.get(evidence_id)
    if record is None:
        fail(f"no evidence {evidence_id!r} in {store.safe_url}", ExitCode.not_found)
    if as_json:
        console.print_json(json.dumps(record, ensure_ascii=False))
        return
    render_record(console, record, reading=store.reading(evidence_id) if text else None,
                  history=store.history(evidence_id))


# -- submit ------------------------------------------------------------------------------------


@app.command()
def submit(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="The uploaded file (must be under FORENSICS_BLOB_ROOT)."),
    seller: str = typer.Option(..., "--seller", "-s", help="The seller who uploaded it."),
    evidence_id: str | None = typer.Option(None, "--evidence-id", "-e", help="Defaults to E- plus the first 16 hex digits of the file's sha256."),
    content_type: str | None = typer.Option(None, "--content-type", help="What the uploader claimed the file is."),
    claim: list[str] = typer.Option([], "--claim", help="A claimed field as name=value (merchant, date, total, currency, serial); repeatable."),
) -> None:
    """Publish one upload event on queue 'uploads' (or analyse it here when no broker is set).

    Example: [bold]FORENSICS_BROKER_URL=redis://127.0.0.1:6379/0 forensics submit uploads/r1.jpg --seller S1[/bold]
    """
    settings = get_settings()
    root = settings.blob_root_path
    path = file.resolve()
    if not path.is_relative_to(root):
        fail(f"{file} is not under FORENSICS_BLOB_ROOT ({root}); workers only read uploads from there. "
             "Move it there or set FORENSICS_BLOB_ROOT.", ExitCode.bad_args)
    eid = evidence_id or "E-" + hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    claimed = {}
    for c in claim:
        name, sep, value = c.partition("=")
        if not sep or not name.strip():
            fail(f"--claim {c!r} is not name=value (e.g. --claim total=12.50).", ExitCode.bad_args)
        claimed[name.strip()] = value.strip()
    event: dict[str, Any] = {"evidence_id": eid, "seller_id": seller, "blob": str(path.relative_to(root)),
                             "uploaded_at": datetime.now(UTC).isoformat()}
    if content_type:
        event["content_type"] = content_type
    if claimed:
        event["claimed"] = claimed
    try:
        validate_claims(claimed, strict=True)
        UploadEvent.from_json(event)  # the worker's own rules: what it would refuse is never sent
    except InvalidEvent as exc:
        fail(exc.message, ExitCode.bad_args)
    if not settings.broker_url:
        from forensics.pipeline import analyse

        outcome = analyse(event, open_store(settings), settings)
        console.print(f"Analysed {eid} in this process (FORENSICS_BROKER_URL is empty): "
                      f"{outcome.record.get('status')} / {outcome.record.get('verdict')}", markup=False)
        return
    from workers.publish import publisher

    with publisher(settings) as send:
        message_id = send(event)
    console.print(f"Published {eid} as message {message_id} on queue 'uploads'.", markup=False)


# -- demo --------------------------------------------------------------------------------------


@app.command()
def demo(
    out: Path = typer.Option(Path("demo"), "--out", help="Folder for the generated corpus."),
    seed: int = typer.Option(7, "--seed", help="Seed of the generated corpus."),
) -> None:
    """Generate a small corpus of receipts, invoices and forgeries, ingest it, print the verdicts.

    Example: [bold]forensics demo[/bold]
    """
    from fixtures.corpus import build_demo_corpus

    settings = get_settings()
    if settings.ocr_langs == Settings().ocr_langs:
        # the corpus has Chinese fapiao: read them with chi_sim too (FORENSICS_OCR_LANGS overrides)
        settings = settings.with_(ocr_langs="eng+chi_sim")
    out.mkdir(parents=True, exist_ok=True)
    if not out.resolve().is_relative_to(settings.blob_root_path):
        # the demo's own corpus: read it from where it was generated
        settings = settings.with_(blob_root=str(out.resolve()))
    err.print(f"Generating the demo corpus in {out}/ …")
    build_demo_corpus(out, seed=seed)
    manifest = out / "MANIFEST.csv"
    err.print(f"Ingesting it with OCR languages {settings.ocr_langs} into {settings.database_url} …")
    try:
        run_ingest(manifest, settings)
    except typer.Exit as exc:
        if exc.exit_code not in (0, int(ExitCode.rows_failed)):
            raise
    from forensics.report import verdict_table

    store = open_store(settings)
    ids = [r["evidence_id"] for r in read_manifest(manifest)]
    console.print(verdict_table([r for r in (store.get(i) for i in ids) if r]))
    console.print(f"Explore: [bold]forensics show {ids[0]}[/bold], [bold]forensics export --format jsonl[/bold]")
    cli_web.demo_login(settings)


# -- db ----------------------------------------------------------------------------------------


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the evidence store's tables to the newest schema.

    Example: [bold]FORENSICS_DATABASE_URL=postgresql://127.0.0.1/test forensics db upgrade[/bold]
    """
    store = open_store(get_settings())
    console.print(f"Schema of {store.safe_url} is up to date.")


# -- dead letters ------------------------------------------------------------------------------


@dead_app.command("list")
def dead_list(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List messages whose retries ran out (and manifest rows that could not be events).

    Example: [bold]forensics dead-letters list[/bold]
    """
    rows = open_store(get_settings()).dead_letters()
    if as_json:
        console.print_json(json.dumps(rows))
        return
    table = Table("id", "evidence", "failed at", "retries", "error")
    for r in rows:
        table.add_row(str(r["id"]), str(r["evidence_id"]), r["failed_at"] or "", str(r["retries"]), r["error"][:100])
    console.print(table if rows else "No dead letters.")


@dead_app.command("redrive")
def dead_redrive(
    ids: list[int] = typer.Argument(None, help="Dead letter ids (from `list`); none means all."),
) -> None:
    """Send dead letters again: to FORENSICS_BROKER_URL, or analysed here when it is empty.

    Example: [bold]forensics dead-letters redrive 3 4[/bold]
    """
    settings = get_settings()
    store = open_store(settings)
    letters = store.dead_letters()
    unknown = sorted(set(ids or []) - {r["id"] for r in letters})
    if unknown:
        fail(f"no dead letter {', '.join(map(str, unknown))} (see forensics dead-letters list).", ExitCode.not_found)
    rows = [r for r in letters if not ids or r["id"] in ids]
    if not rows:
        console.print("Nothing to re-drive.")
        return
    done, still_bad = [], []
    if settings.broker_url:
        from workers.publish import publisher

        with publisher(settings) as send:
            for r in rows:
                try:
                    send(r["event"])
                    done.append(r["id"])
                except InvalidEvent as exc:
                    still_bad.append((r["id"], exc.message))
    else:
        from forensics.pipeline import analyse

        for r in rows:
            try:
                analyse(r["event"], store, settings)
                done.append(r["id"])
            except ForensicsError as exc:
                still_bad.append((r["id"], exc.message))
    store.mark_redriven(done)
    console.print(f"Re-drove {len(done)} dead letter(s).")
    for i, message in still_bad:
        err.print(f"dead letter {i} not re-driven: {message}", markup=False)
    if still_bad:
        raise typer.Exit(int(ExitCode.rows_failed))


def main() -> None:
    """Entry point of the ``forensics`` command: known failures become one line and their exit
    code; anything else is a bug, reported in one line too (FORENSICS_DEBUG=1 shows the trace)."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        app()
    except MissingDependency as exc:
        err.print(f"error: {exc.message}", markup=False)
        sys.exit(int(ExitCode.missing_dependency))
    except TransientError as exc:
        err.print(f"error: {exc.message}", markup=False)
        sys.exit(int(ExitCode.service_unavailable))
    except ForensicsError as exc:
        err.print(f"error: {exc.message} ({exc.code})", markup=False)
        sys.exit(int(ExitCode.bad_args))
    except OSError as exc:
        err.print(f"error: {exc.strerror or exc} ({exc.filename or 'no file'})", markup=False)
        sys.exit(int(ExitCode.bad_args))
    except Exception as exc:  # noqa: BLE001 - no traceback reaches a user
        if _debug():
            raise
        err.print(f"error: internal error: {type(exc).__name__}: {exc}. This is a bug; run again with "
                  "FORENSICS_DEBUG=1 for the traceback and report it.", markup=False)
        sys.exit(int(ExitCode.internal_error))


def _debug() -> bool:
    try:
        return get_settings().debug
    except ValueError:  # the settings themselves are what is broken
        return False
