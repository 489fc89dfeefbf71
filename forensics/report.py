"""How records look to people in the terminal: the verdict table and one record explained."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from forensics.verdict import explain

VERDICT_STYLE = {"clean": "green", "review": "yellow", "likely_forgery": "bold red", "error": "red"}


def styled(verdict: str | None) -> str:
    """A verdict or status as rich markup (a word with no style is printed plain)."""
    word = escape(str(verdict or "unknown"))
    style = VERDICT_STYLE.get(verdict or "")
    return f"[{style}]{word}[/]" if style else word


def verdict_table(records: list[dict[str, Any]]) -> Table:
    """One row per record: who, what was read, verdict, risk and finding codes."""
    table = Table(title="Verdicts", show_lines=False)
    for col in ("evidence", "seller", "type", "merchant", "serial", "date", "total", "verdict", "risk", "findings"):
        table.add_column(col, overflow="fold")
    for r in records:
        f = r.get("fields") or {}
        codes = [x["code"] for x in r.get("findings") or [] if x.get("severity") != "info"]
        if r.get("status") == "failed":
            codes = [(r.get("error") or {}).get("code", "error")]
        verdict = r.get("verdict") or r.get("status")
        table.add_row(
            escape(r["evidence_id"]), escape(r["seller_id"]),
            escape(str((f.get("document_type") or {}).get("value") or r.get("media_type") or "")),
            escape(str((f.get("merchant") or {}).get("value") or "")[:28]),
            escape(str((f.get("serial") or {}).get("value") or "")),
            escape(str((f.get("date") or {}).get("value") or "")),
            escape(" ".join(str(x) for x in ((f.get("currency") or {}).get("value"), (f.get("total") or {}).get("value")) if x)),
            styled(verdict),
            "" if r.get("risk") is None else str(r["risk"]),
            escape(", ".join(dict.fromkeys(codes))),
        )
    return table


def render_record(console: Console, record: dict[str, Any], *, reading: dict[str, Any] | None = None,
                  history: list[dict[str, Any]] | None = None) -> None:
    """A readable record: the explanation first, then fields, findings, checks, clusters."""
    verdict = record.get("verdict") or record.get("status")
    title = (f"{escape(record['evidence_id'])} · seller {escape(record['seller_id'])} · "
             f"{styled(verdict)} · risk {record.get('risk')}")
    meta = (f"{record.get('media_type')}, {record.get('pages')} page(s), sha256 {str(record.get('sha256'))[:16]}…, "
            f"uploaded {record.get('uploaded_at')}, analysed {record.get('analyzed_at')} by {record.get('analyzer_version')}")
    console.print(Panel(escape("\n".join(explain(record))) + f"\n[dim]{escape(meta)}[/dim]", title=title, expand=False))

    fields = record.get("fields") or {}
    if fields:
        t = Table("field", "value", "as read", "confidence", "page", "box", "source", title="Fields")
        for name, f in fields.items():
            value = f.get("value")
            if name == "line_items" and isinstance(value, list):
                value = f"{len(value)} item(s)"
            extra = f" ({f['scheme']})" if f.get("scheme") else ""
            t.add_row(escape(name), escape(f"{value}{extra}"), escape(str(f.get("raw", ""))[:40]),
                      f"{f.get('confidence', 0):.2f}", str(f.get("page") or ""),
                      str(tuple(f["box"])) if f.get("box") else "", escape(str(f.get("source", ""))))
        console.print(t)
        items = fields.get("line_items", {}).get("value")
        if isinstance(items, list) and items:
            it = Table("description", "qty", "unit price", "amount", title="Line items")
            for i in items:
                it.add_row(*(escape(str(i.get(k) or "")) for k in ("description", "quantity", "unit_price", "amount")))
            console.print(it)

    findings = record.get("findings") or []
    if findings:
        t = Table("severity", "code", "message", "related", "where", title="Findings")
        for f in findings:
            where = f"p{f.get('page') or 1} {tuple(f['box'])}" if f.get("box") else ""
            t.add_row(escape(f["severity"]), escape(f["code"]), escape(f["message"]),
                      escape(", ".join(f.get("related") or [])), where)
        console.print(t)

    checks = record.get("checks") or {}
    if checks:
        t = Table("check", "status", title="Checks")
        for k, v in checks.items():
            style = "red" if str(v).startswith("failed") else ("dim" if str(v).startswith("skipped") else "")
            t.add_row(escape(k), f"[{style}]{escape(str(v))}[/]" if style else escape(str(v)))
        console.print(t)
    for c in record.get("clusters") or []:
        console.print(f"Member of {c['kind']} cluster {c['id']}: {c['size']} uploads from {c['sellers']} seller(s) "
                      f"(forensics clusters show {c['id']}).", markup=False)
    for h in history or []:
        if h.get("kind") == "conflict":
            console.print(f"Refused upload under this id by seller {h.get('seller_id')} "
                          f"(sha256 {str(h.get('sha256'))[:16]}…) at {h.get('archived_at')}: evidence_conflict",
                          style="yellow", markup=False)
            continue
        console.print(f"Earlier analysis of other bytes (sha256 {str(h.get('sha256'))[:16]}…): "
                      f"{h.get('verdict')} archived {h.get('archived_at')}", style="dim", markup=False)
    if reading:
        console.print(Panel(escape(reading["text"]), title="Text read", expand=False))
