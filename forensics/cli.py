"""The ``forensics`` command: batch ingest, export, records, publishing, operations.

Tables for people, ``--json`` for programs. Every command's ``--help`` has an example.
"""

from __future__ import annotations

import csv
import hashlib
import json
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from forensics.errors import ExitCode, ForensicsError, MissingDependency, TransientError
from forensics.events import ID_PATTERN
from forensics.settings import Settings, get_settings

app = typer.Typer(
    help="Document forensics for proof-of-purchase uploads: OCR, fields, templated forgeries, "
    "reused serials. Configuration comes from FORENSICS_* environment variables (see README).",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Evidence store maintenance.", no_args_is_help=True)
dead_app = typer.Typer(help="Messages whose retries ran out: list and re-drive them.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(dead_app, name="dead-letters")

#: width of tables when the output is not a terminal (files, CI logs): wide enough for records
PIPE_WIDTH = 160
console = Console(width=None if Console().is_terminal else PIPE_WIDTH)
err = Console(stderr=True)

#: manifest columns (CONTRACT.md section 2)
MANIFEST_REQUIRED = ("evidence_id", "seller_id", "path")
MANIFEST_OPTIONAL = ("uploaded_at", "listing_id", "brand", "content_type")


def _store(settings: Settings):  # noqa: ANN202
    from forensics.store import Store

    return Store(settings.database_url)


def _fail(message: str, code: ExitCode) -> None:
    err.print(f"[red]error:[/red] {message}")
    raise typer.Exit(int(code))


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(), TextColumn("{task.fields[note]}"),
        console=err, transient=False, disable=not err.is_terminal,
    )


# -- ingest ------------------------------------------------------------------------------------


def read_manifest(manifest: Path) -> list[dict[str, str]]:
    """Rows of a manifest CSV, with ``path`` made absolute (relative to the manifest's folder)."""
    with manifest.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in MANIFEST_REQUIRED if c not in (reader.fieldnames or [])]
        if missing:
            raise typer.BadParameter(
                f"{manifest} lacks column(s) {', '.join(missing)}; the header needs at least "
                + ",".join(MANIFEST_REQUIRED)
            )
        rows = []
        for i, row in enumerate(reader, start=2):
            row = {k: (v or "").strip() for k, v in row.items() if k}
            row["_line"] = str(i)
            row["_abs"] = str((manifest.parent / row["path"]).resolve()) if row.get("path") else ""
            rows.append(row)
    return rows


def event_for_row(row: dict[str, str], blob_root: Path, index: int, started: datetime) -> dict[str, Any]:
    """The upload event a manifest row stands for; rows without a time are spaced a second apart
    in file order, so "as if uploaded in that order" holds."""
    abs_path = Path(row["_abs"]) if row.get("_abs") else None
    blob = str(abs_path.relative_to(blob_root)) if abs_path and abs_path.is_relative_to(blob_root) else (row.get("path") or "")
    event: dict[str, Any] = {
        "evidence_id": row.get("evidence_id", ""),
        "seller_id": row.get("seller_id", ""),
        "blob": blob,
        "uploaded_at": row.get("uploaded_at") or (started + timedelta(seconds=index)).isoformat(),
    }
    for key in ("listing_id", "brand", "content_type"):
        if row.get(key):
            event[key] = row[key]
    return event


@app.command()
def ingest(
    manifest: Path = typer.Argument(..., exists=True, dir_okay=False, help="CSV with evidence_id,seller_id,path[,uploaded_at,listing_id,brand,content_type]."),
    enqueue: bool = typer.Option(False, "--enqueue", help="Publish events to FORENSICS_BROKER_URL for workers instead of analysing in this process."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Analyse every row of a manifest, in file order, as if uploaded in that order.

    A bad row (missing file, bad id) is reported and recorded; it never stops the batch.

    Example: [bold]forensics ingest demo/MANIFEST.csv[/bold]
    """
    run_ingest(manifest, get_settings(), enqueue=enqueue, as_json=as_json)


def run_ingest(manifest: Path, settings: Settings, *, enqueue: bool = False, as_json: bool = False) -> None:
    """The body of ``ingest`` for given settings (the demo runs it with its own)."""
    rows = read_manifest(manifest)
    root = settings.blob_root_path
    outside = [r for r in rows if r["_abs"] and not Path(r["_abs"]).is_relative_to(root)]
    if outside and not enqueue:
        # the operator named this manifest: in-process, its folder is where uploads are read from
        root = manifest.parent.resolve()
        settings = settings.with_(blob_root=str(root))
    started = datetime.now(UTC)
    if enqueue:
        _ingest_enqueue(rows, settings, root, started, as_json)
        return
    from forensics.pipeline import analyse

    store = _store(settings)
    summary: dict[str, int] = {}
    problems: list[tuple[str, str, str]] = []
    at_ingest: dict[str, str] = {}  # evidence id -> its verdict when it was analysed
    with _progress() as progress:
        task = progress.add_task("ingest", total=len(rows), note="")
        for i, row in enumerate(rows):
            event = event_for_row(row, root, i, started)
            label = row.get("evidence_id") or f"line {row['_line']}"
            progress.update(task, note=label)
            if not ID_PATTERN.match(event["evidence_id"] or "") or not ID_PATTERN.match(event["seller_id"] or ""):
                problems.append((label, "invalid_event", "evidence_id and seller_id must be 1-128 of A-Za-z0-9._:-"))
                store.add_dead_letter(f"ingest:{manifest.name}:{row['_line']}", event, "invalid_event: bad id in manifest row", 0)
                summary["invalid_row"] = summary.get("invalid_row", 0) + 1
                progress.advance(task)
                continue
            try:
                outcome = analyse(event, store, settings)
            except TransientError as exc:
                problems.append((label, exc.code, exc.message))
                summary["transient_error"] = summary.get("transient_error", 0) + 1
                progress.advance(task)
                continue
            key = outcome.action if outcome.action != "analyzed" else (outcome.record.get("verdict") or "analyzed")
            summary[key] = summary.get(key, 0) + 1
            if outcome.action == "analyzed":
                at_ingest[event["evidence_id"]] = key
            if outcome.action == "failed":
                e = outcome.record.get("error") or {}
                problems.append((label, e.get("code", ""), e.get("message", "")))
            progress.advance(task)
    # a later upload linked to an earlier one (a re-upload, a reused serial) changes the earlier
    # record's verdict too: say where the batch ended, not only what each row got at its turn
    now = store.verdicts(at_ingest)
    final = {eid: now.get(eid) or verdict for eid, verdict in at_ingest.items()}
    changed = sum(final[eid] != at_ingest[eid] for eid in at_ingest)
    final_counts = dict(sorted(Counter(final.values()).items()))
    if as_json:
        console.print_json(json.dumps({"rows": len(rows), "outcomes": summary, "final_verdicts": final_counts,
                                       "changed_by_later_uploads": changed,
                                       "problems": [dict(zip(("evidence_id", "code", "message"), p, strict=True)) for p in problems]}))
    else:
        console.print(f"Ingested {len(rows)} row(s) from {manifest} into {store.safe_url}: "
                      + ", ".join(f"{k} {v}" for k, v in sorted(summary.items())))
        if changed:
            console.print(f"Later uploads linked to earlier ones changed {changed} verdict(s); the batch ends with "
                          + ", ".join(f"{k} {v}" for k, v in final_counts.items()) + ".")
        for label, code, message in problems:
            console.print(f"  [yellow]{label}[/yellow] {code}: {message}")
    if problems:
        raise typer.Exit(int(ExitCode.rows_failed))


def _ingest_enqueue(rows: list[dict[str, str]], settings: Settings, root: Path, started: datetime, as_json: bool) -> None:
    if not settings.broker_url:
        _fail("--enqueue needs FORENSICS_BROKER_URL (redis://… or amqp://…); without it, drop --enqueue "
              "to analyse in this process.", ExitCode.bad_args)
    from workers.broker import setup_broker

    broker = setup_broker(settings)
    from workers import actors

    sent, skipped = 0, []
    with _progress() as progress:
        task = progress.add_task("enqueue", total=len(rows), note="")
        for i, row in enumerate(rows):
            event = event_for_row(row, root, i, started)
            if row["_abs"] and not Path(row["_abs"]).is_relative_to(root):
                skipped.append((event["evidence_id"], f"{row['path']} is not under FORENSICS_BLOB_ROOT ({root}); workers could not read it"))
            else:
                actors.send(event)
                sent += 1
            progress.advance(task)
    broker.close()
    if as_json:
        console.print_json(json.dumps({"sent": sent, "skipped": [{"evidence_id": e, "reason": r} for e, r in skipped]}))
    else:
        console.print(f"Published {sent} upload event(s) to queue 'uploads'.")
        for e, r in skipped:
            console.print(f"  [yellow]{e}[/yellow] not sent: {r}")
    if skipped:
        raise typer.Exit(int(ExitCode.rows_failed))


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
        _fail(f"--format must be jsonl or csv, not {fmt!r}", ExitCode.bad_args)
    store = _store(get_settings())
    fh = out.open("w", newline="", encoding="utf-8") if out else sys.stdout
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

    store = _store(get_settings())
    record = store.get(evidence_id)
    if record is None:
        _fail(f"no evidence {evidence_id!r} in {store.safe_url}", ExitCode.not_found)
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
        _fail(f"{file} is not under FORENSICS_BLOB_ROOT ({root}); workers only read uploads from there. "
              "Move it there or set FORENSICS_BLOB_ROOT.", ExitCode.bad_args)
    eid = evidence_id or "E-" + hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    claimed = {}
    for c in claim:
        name, _, value = c.partition("=")
        claimed[name.strip()] = value.strip()
    event: dict[str, Any] = {"evidence_id": eid, "seller_id": seller, "blob": str(path.relative_to(root)),
                             "uploaded_at": datetime.now(UTC).isoformat()}
    if content_type:
        event["content_type"] = content_type
    if claimed:
        event["claimed"] = claimed
    if not settings.broker_url:
        from forensics.pipeline import analyse

        outcome = analyse(event, _store(settings), settings)
        console.print(f"Analysed {eid} in this process (FORENSICS_BROKER_URL is empty): "
                      f"{outcome.record.get('status')} / {outcome.record.get('verdict')}")
        return
    from workers.broker import setup_broker

    broker = setup_broker(settings)
    from workers import actors

    message_id = actors.send(event)
    broker.close()
    console.print(f"Published {eid} as message {message_id} on queue 'uploads'.")


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

    store = _store(settings.with_(blob_root=str(out.resolve())))
    ids = [r["evidence_id"] for r in read_manifest(manifest)]
    console.print(verdict_table([r for r in (store.get(i) for i in ids) if r]))
    console.print(f"Explore: [bold]forensics show {ids[0]}[/bold], [bold]forensics export --format jsonl[/bold]")


# -- db ----------------------------------------------------------------------------------------


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the evidence store's tables to the newest schema.

    Example: [bold]FORENSICS_DATABASE_URL=postgresql://127.0.0.1/test forensics db upgrade[/bold]
    """
    store = _store(get_settings())
    console.print(f"Schema of {store.safe_url} is up to date.")


# -- dead letters ------------------------------------------------------------------------------


@dead_app.command("list")
def dead_list(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List messages whose retries ran out (and manifest rows that could not be events).

    Example: [bold]forensics dead-letters list[/bold]
    """
    rows = _store(get_settings()).dead_letters()
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
    store = _store(settings)
    rows = [r for r in store.dead_letters() if not ids or r["id"] in ids]
    if not rows:
        console.print("Nothing to re-drive.")
        return
    done = []
    if settings.broker_url:
        from workers.broker import setup_broker

        broker = setup_broker(settings)
        from workers import actors

        for r in rows:
            actors.send(r["event"])
            done.append(r["id"])
        broker.close()
    else:
        from forensics.pipeline import analyse

        for r in rows:
            try:
                analyse(r["event"], store, settings)
                done.append(r["id"])
            except ForensicsError as exc:
                err.print(f"dead letter {r['id']} failed again: {exc.message}")
    store.mark_redriven(done)
    console.print(f"Re-drove {len(done)} dead letter(s).")


def main() -> None:
    """Entry point of the ``forensics`` command."""
    try:
        app()
    except MissingDependency as exc:
        err.print(f"[red]error:[/red] {exc.message}")
        sys.exit(int(ExitCode.missing_dependency))
    except TransientError as exc:
        err.print(f"[red]error:[/red] {exc.message}")
        sys.exit(int(ExitCode.service_unavailable))


# the investigators' commands register themselves on `app` (kept in their own module for size)
from forensics import cli_investigate  # noqa: E402,F401
