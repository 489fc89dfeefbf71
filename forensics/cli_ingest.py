"""``forensics ingest``: a manifest of uploads analysed in file order, or published to workers.

A batch never stops on a bad row: every row is reported and, when it names a valid evidence id,
recorded (a ``failed`` record with the error's code); the summary counts it. Paths outside
``FORENSICS_BLOB_ROOT`` are refused like any other upload's (``blob_outside_root``): the root is
a security boundary, not a default to be replaced by the manifest's folder.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import typer

from forensics.cli_common import BatchProgress, app, console, err, fail, open_store
from forensics.errors import ExitCode, ForensicsError, TransientError
from forensics.events import ID_PATTERN
from forensics.settings import Settings, get_settings

#: manifest columns (CONTRACT.md section 2)
MANIFEST_REQUIRED = ("evidence_id", "seller_id", "path")
MANIFEST_OPTIONAL = ("uploaded_at", "listing_id", "brand", "content_type")
#: what a manifest that is not UTF-8 is read as (spreadsheets on Windows write cp1252)
FALLBACK_ENCODING = "cp1252"


def _manifest_text(manifest: Path) -> str:
    data = manifest.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        err.print(f"[yellow]warning:[/yellow] {manifest} is not UTF-8 (byte {exc.start}); "
                  f"reading it as {FALLBACK_ENCODING}. Save it as UTF-8 to be sure of its names.")
        return data.decode(FALLBACK_ENCODING, errors="replace")


def read_manifest(manifest: Path) -> list[dict[str, str]]:
    """Rows of a manifest CSV, with ``path`` made absolute (relative to the manifest's folder).

    Raises :class:`typer.BadParameter` only for a header without the required columns; a bad
    row is returned as it is, for the caller to report and record."""
    reader = csv.DictReader(io.StringIO(_manifest_text(manifest), newline=""))
    missing = [c for c in MANIFEST_REQUIRED if c not in (reader.fieldnames or [])]
    if missing:
        raise typer.BadParameter(
            f"{manifest} lacks column(s) {', '.join(missing)}; the header needs at least "
            + ",".join(MANIFEST_REQUIRED)
        )
    rows = []
    for i, row in enumerate(reader, start=2):
        row = {k: (v or "").strip() for k, v in row.items() if isinstance(k, str)}
        row["_line"] = str(i)
        row["_abs"] = str((manifest.parent / row["path"]).resolve()) if row.get("path") else ""
        rows.append(row)
    return rows


def event_for_row(row: dict[str, str], blob_root: Path, index: int, started: datetime) -> dict[str, Any]:
    """The upload event a manifest row stands for; rows without a time are spaced a second apart
    in file order, so "as if uploaded in that order" holds. A path outside ``blob_root`` stays
    absolute, for the pipeline to refuse with the root's name in its message."""
    abs_path = Path(row["_abs"]) if row.get("_abs") else None
    if abs_path is None:
        blob = ""
    elif abs_path.is_relative_to(blob_root):
        blob = str(abs_path.relative_to(blob_root))
    else:
        blob = str(abs_path)
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

    Paths are relative to the manifest and must lie under FORENSICS_BLOB_ROOT. A bad row
    (missing file, bad id, no path, outside the root) is reported and recorded; it never stops
    the batch, which then exits 3. Off a terminal a progress line is printed every 25 rows or
    10 seconds.

    Example: [bold]FORENSICS_BLOB_ROOT=demo forensics ingest demo/MANIFEST.csv[/bold]
    """
    run_ingest(manifest, get_settings(), enqueue=enqueue, as_json=as_json)


def run_ingest(manifest: Path, settings: Settings, *, enqueue: bool = False, as_json: bool = False) -> None:
    """The body of ``ingest`` for given settings (the demo runs it with its own)."""
    rows = read_manifest(manifest)
    root = settings.blob_root_path
    started = datetime.now(UTC)
    if enqueue:
        _ingest_enqueue(rows, settings, root, started, as_json)
        return
    from forensics.pipeline import analyse

    store = open_store(settings)
    summary: Counter[str] = Counter()
    problems: list[tuple[str, str, str]] = []
    at_ingest: dict[str, str] = {}  # evidence id -> its verdict when it was analysed
    with BatchProgress("ingest", len(rows)) as progress:
        for i, row in enumerate(rows):
            event = event_for_row(row, root, i, started)
            label = row.get("evidence_id") or f"line {row['_line']}"
            progress.note(label)
            if not ID_PATTERN.match(event["evidence_id"] or "") or not ID_PATTERN.match(event["seller_id"] or ""):
                # no evidence id to record it under: reported, and kept as a dead letter to redrive
                problems.append((f"line {row['_line']}", "invalid_event",
                                 "evidence_id and seller_id must be 1-128 of A-Za-z0-9._:-; "
                                 f"got {event['evidence_id']!r} and {event['seller_id']!r}"))
                store.add_dead_letter(f"ingest:{manifest.name}:{row['_line']}", event,
                                      "invalid_event: bad id in manifest row", 0)
                summary["invalid_row"] += 1
                progress.advance(failed=True)
                continue
            try:
                outcome = analyse(event, store, settings)
            except ForensicsError as exc:  # transient, or an event too broken to record
                problems.append((label, exc.code, exc.message))
                summary["transient_error" if isinstance(exc, TransientError) else exc.code] += 1
                progress.advance(failed=True)
                continue
            except Exception as exc:  # noqa: BLE001 - a bug on one row must not stop the batch
                problems.append((label, "internal_error", f"{type(exc).__name__}: {exc}"))
                summary["internal_error"] += 1
                progress.advance(failed=True)
                continue
            # outcomes by verdict, by error code for failures, else by action
            error = outcome.error or (outcome.record.get("error") or {} if outcome.action == "failed" else {})
            key = (error.get("code") or outcome.action) if error else (
                outcome.record.get("verdict") or "analyzed" if outcome.action == "analyzed" else outcome.action)
            summary[key] += 1
            if outcome.action == "analyzed":
                at_ingest[event["evidence_id"]] = key
            if error:
                problems.append((label, error.get("code", outcome.action), error.get("message", "")))
            progress.advance(failed=outcome.action in ("failed", "conflict"))
    # a later upload linked to an earlier one (a re-upload, a reused serial) changes the earlier
    # record's verdict too: say where the batch ended, not only what each row got at its turn
    now = store.verdicts(at_ingest)
    final = {eid: now.get(eid) or verdict for eid, verdict in at_ingest.items()}
    changed = sum(final[eid] != at_ingest[eid] for eid in at_ingest)
    final_counts = dict(sorted(Counter(final.values()).items()))
    if as_json:
        console.print_json(json.dumps({"rows": len(rows), "outcomes": dict(sorted(summary.items())),
                                       "final_verdicts": final_counts, "changed_by_later_uploads": changed,
                                       "problems": [dict(zip(("evidence_id", "code", "message"), p, strict=True))
                                                    for p in problems]}))
    else:
        console.print(f"Ingested {len(rows)} row(s) from {manifest} into {store.safe_url}: "
                      + ", ".join(f"{k} {v}" for k, v in sorted(summary.items())), markup=False)
        if changed:
            console.print(f"Later uploads linked to earlier ones changed {changed} verdict(s); the batch ends with "
                          + ", ".join(f"{k} {v}" for k, v in final_counts.items()) + ".")
        for label, code, message in problems:
            console.print(f"  {label} {code}: {message}", markup=False, highlight=False)
    if problems:
        raise typer.Exit(int(ExitCode.rows_failed))


def _ingest_enqueue(rows: list[dict[str, str]], settings: Settings, root: Path, started: datetime,
                    as_json: bool) -> None:
    if not settings.broker_url:
        fail("--enqueue needs FORENSICS_BROKER_URL (redis://… or amqp://…); without it, drop --enqueue "
             "to analyse in this process.", ExitCode.bad_args)
    from forensics.events import UploadEvent
    from workers.publish import publisher

    sent, skipped = 0, []
    with publisher(settings) as send, BatchProgress("enqueue", len(rows)) as progress:
        for i, row in enumerate(rows):
            event = event_for_row(row, root, i, started)
            label = row.get("evidence_id") or f"line {row['_line']}"
            reason = None
            if row["_abs"] and not Path(row["_abs"]).is_relative_to(root):
                reason = (f"{row['path']} is not under FORENSICS_BLOB_ROOT ({root}); workers could not read it. "
                          "Move it there or set FORENSICS_BLOB_ROOT.")
            else:
                try:
                    UploadEvent.from_json(event)
                except ForensicsError as exc:
                    reason = exc.message
            if reason:
                skipped.append((label, reason))
            else:
                send(event)
                sent += 1
            progress.advance(failed=reason is not None)
    if as_json:
        console.print_json(json.dumps({"sent": sent, "skipped": [{"evidence_id": e, "reason": r} for e, r in skipped]}))
    else:
        console.print(f"Published {sent} upload event(s) to queue 'uploads'.")
        for e, r in skipped:
            console.print(f"  {e} not sent: {r}", markup=False, highlight=False)
    if skipped:
        raise typer.Exit(int(ExitCode.rows_failed))
