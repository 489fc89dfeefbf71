"""How a record looks on the pages: boxes to draw, checks by outcome, traces, related uploads.

Pure functions of the record and its reading (no store, no request), so they are easy to test
and the routes stay thin.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from forensics.web.images import PAGE_WIDTH

#: severities, strongest first (the findings list's order)
SEVERITY_ORDER = {"high": 0, "medium": 1, "low": 2, "info": 3}
#: finding codes whose ``related`` uploads can be compared side by side
COMPARABLE_CODES = frozenset({"duplicate_upload", "edited_copy", "serial_reuse", "serial_conflict", "copied_by_later_upload",
                              "identifier_mismatch", "same_layout_cross_seller", "known_forgery_match"})
#: fields whose boxes are drawn on both pages of a side-by-side view
IDENTITY_FIELDS = ("serial", "merchant_tax_id", "invoice_code")


@dataclass(frozen=True)
class Box:
    """One rectangle over a page, in page pixels."""

    id: str
    kind: str  # "finding" or "field"
    page: int
    x0: float
    y0: float
    x1: float
    y1: float
    label: str
    severity: str = ""

    @property
    def width(self) -> float:
        return self.x1 - self.x0

    @property
    def height(self) -> float:
        return self.y1 - self.y0


@dataclass(frozen=True)
class PageView:
    """One page as drawn: its image URL, its size in page pixels and as displayed, its boxes."""

    number: int
    width: int
    height: int
    display_width: int
    display_height: int
    boxes: tuple[Box, ...]


def page_sizes(record: dict[str, Any], reading: dict[str, Any] | None) -> dict[int, tuple[int, int]]:
    """Page number -> (width, height) in the pixels boxes are measured in."""
    sizes = {int(p["page"]): (int(p["width"]), int(p["height"]))
             for p in (reading or {}).get("pages", []) if p.get("width") and p.get("height")}
    return sizes


def sorted_findings(record: dict[str, Any]) -> list[dict[str, Any]]:
    """Findings strongest first, each with a stable DOM id (``f0``, ``f1``…) and its box ids."""
    out = []
    for i, f in enumerate(record.get("findings") or []):
        out.append({**f, "dom_id": f"f{i}"})
    return sorted(out, key=lambda f: (SEVERITY_ORDER.get(f.get("severity"), 9), -float(f.get("score") or 0)))


def finding_boxes(record: dict[str, Any], findings: list[dict[str, Any]]) -> list[Box]:
    """A box per finding box: its own ``box``, and the repainted boxes an alignment measured on
    this upload (``edited_copy``)."""
    me = record["evidence_id"]
    boxes: list[Box] = []
    for f in findings:
        if f.get("box"):
            boxes.append(_box(f["dom_id"], "finding", f.get("page") or 1, f["box"], f["code"], f.get("severity", "")))
        links = (f.get("evidence") or {}).get("links") or {}
        n = 0
        for detail in links.values():
            if detail.get("boxes") and detail.get("boxes_on", me) == me:
                for b in detail["boxes"]:
                    boxes.append(_box(f"{f['dom_id']}-{n}", "finding", detail.get("page") or 1, b, f["code"],
                                      f.get("severity", ""), group=f["dom_id"]))
                    n += 1
    return boxes


def field_boxes(record: dict[str, Any], names: tuple[str, ...] | None = None) -> list[Box]:
    """A box per field that was read with one."""
    boxes = []
    for name, field in (record.get("fields") or {}).items():
        if names is not None and name not in names:
            continue
        if isinstance(field, dict) and field.get("box"):
            boxes.append(_box(f"field-{name}", "field", field.get("page") or 1, field["box"], name))
    return boxes


def _box(dom_id: str, kind: str, page: int, box: list[float], label: str, severity: str = "",
         group: str | None = None) -> Box:
    x0, y0, x1, y1 = (float(v) for v in box[:4])
    return Box(group or dom_id, kind, int(page), x0, y0, x1, y1, label, severity)


def pages_of(record: dict[str, Any], reading: dict[str, Any] | None, boxes: list[Box],
             width: int = PAGE_WIDTH) -> list[PageView]:
    """The pages to draw, each with the boxes that fall on it."""
    sizes = page_sizes(record, reading)
    out = []
    for n in range(1, int(record.get("pages") or len(sizes) or 0) + 1):
        w, h = sizes.get(n, (0, 0))
        if not w:
            continue
        out.append(PageView(n, w, h, width, round(h * width / w), tuple(b for b in boxes if b.page == n)))
    return out


def checks_by_outcome(checks: dict[str, str]) -> list[tuple[str, str, str]]:
    """(name, outcome, detail) with outcome ``done``, ``skipped`` or ``failed``: absence is not a pass."""
    out = []
    for name, value in sorted((checks or {}).items()):
        text = str(value)
        outcome = "failed" if text.startswith("failed") else "skipped" if text.startswith("skipped") else "done"
        detail = text.split(":", 1)[1].strip() if ":" in text else ""
        out.append((name, outcome, detail))
    return out


def traces(record: dict[str, Any]) -> list[tuple[str, str]]:
    """What the file says about how it was made: PDF producer, edits, image metadata (EXIF)."""
    doc = record.get("document") or {}
    out: list[tuple[str, str]] = [("media type", str(record.get("media_type") or doc.get("media_type") or ""))]
    if doc.get("claimed_type"):
        out.append(("declared as", str(doc["claimed_type"])))
    if doc.get("size_bytes"):
        out.append(("size", f"{int(doc['size_bytes']):,} bytes"))
    pdf = doc.get("pdf") or {}
    for key, label in (("producer", "PDF producer"), ("creator", "PDF creator"), ("created", "created"),
                       ("modified", "modified"), ("incremental_updates", "incremental saves (edits)"),
                       ("einvoice", "embedded e-invoice")):
        if pdf.get(key) not in (None, "", []):
            out.append((label, str(pdf[key])))
    if pdf.get("has_javascript"):
        out.append(("JavaScript", "present (not run)"))
    for key, value in sorted((doc.get("image_meta") or {}).items()):
        out.append((f"image {key}", str(value)))
    return out


def related_ids(record: dict[str, Any]) -> list[str]:
    """Other uploads the findings rest on, in the order they are first named."""
    seen: dict[str, None] = {}
    for f in record.get("findings") or []:
        for r in f.get("related") or []:
            if r != record["evidence_id"]:
                seen.setdefault(r, None)
    return list(seen)


def compare_boxes(record: dict[str, Any], other: dict[str, Any], code: str | None) -> tuple[list[Box], list[Box]]:
    """The boxes of a side-by-side view: the differing boxes the alignment measured (drawn on both
    pages, scaled to each page's size) and the identity fields (serial, tax id) of each."""
    mine: list[Box] = []
    theirs: list[Box] = []
    for f in record.get("findings") or []:
        if code and f["code"] != code:
            continue
        detail = ((f.get("evidence") or {}).get("links") or {}).get(other["evidence_id"])
        if detail and detail.get("boxes"):
            on_me = detail.get("boxes_on", record["evidence_id"]) == record["evidence_id"]
            for i, b in enumerate(detail["boxes"]):
                box = _box(f"diff-{i}", "finding", 1, b, "differs", "high")
                (mine if on_me else theirs).append(box)
    for f in other.get("findings") or []:
        detail = ((f.get("evidence") or {}).get("links") or {}).get(record["evidence_id"])
        if (not code or f["code"] == code) and detail and detail.get("boxes") and not mine and not theirs:
            for i, b in enumerate(detail["boxes"]):
                theirs.append(_box(f"diff-{i}", "finding", 1, b, "differs", "high"))
    return mine, theirs


def scale_boxes(boxes: list[Box], src: tuple[int, int], dst: tuple[int, int]) -> list[Box]:
    """Boxes measured on one page placed on another of (maybe) other size: the same scan, so the
    same place in proportion."""
    sx, sy = dst[0] / max(src[0], 1), dst[1] / max(src[1], 1)
    return [Box(b.id, b.kind, b.page, b.x0 * sx, b.y0 * sy, b.x1 * sx, b.y1 * sy, b.label, b.severity) for b in boxes]


def _pct(value: Any) -> str:
    try:
        return f"{float(value) * 100:.0f}%"
    except (TypeError, ValueError):
        return ""


def _words(code: str) -> str:
    return str(code or "").replace("_", " ")


def _when(value: Any) -> str:
    return str(value or "")[:19].replace("T", " ")


def _field_value(field: Any) -> str:
    if isinstance(field, dict):
        value = field.get("value")
        if isinstance(value, list):  # line items
            return f"{len(value)} item(s)"
        return "" if value is None else str(value)
    return str(field)


#: Jinja filters of the templates
FILTERS = {"pct": _pct, "words": _words, "when": _when, "field_value": _field_value}
