"""Findings that rest on links between uploads, derived from the stored relations.

They are derived rather than stored per record so that when a new upload links to older ones,
every member's findings can be recomputed the same way and written back (an older record learns
that its receipt turned up again at another seller).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from forensics.model import Finding

#: codes of the findings this module derives; a record's other findings are its own
LINK_CODES = frozenset(
    {"duplicate_upload", "edited_copy", "same_layout_cross_seller", "serial_reuse", "serial_conflict",
     "copied_by_later_upload"}
)

_DUPLICATE = {"same_file", "same_image", "same_content"}

#: link kinds that say a later upload copied this one: on the earlier record they become
#: ``copied_by_later_upload`` (the seller whose receipt was taken is not told it is forged);
#: a serial conflict too: the later upload took the serial and changed what it prints
COPIED_KINDS = frozenset({"duplicate", "edited_copy", "serial_reuse", "serial_conflict"})
#: the relation kinds that are :data:`COPIED_KINDS`
COPIED_RELATION_KINDS = frozenset(_DUPLICATE) | (COPIED_KINDS - {"duplicate"})


def uploaded_later(meta: dict[str, dict[str, Any]], me: str, other: str) -> bool:
    """Whether ``other`` was uploaded after ``me`` (unknown or equal times: not later)."""
    mine, theirs = meta[me].get("uploaded_at"), meta[other].get("uploaded_at")
    if mine is None or theirs is None:
        return False
    try:
        return theirs > mine
    except TypeError:  # one time zone-aware, one naive (SQLite drops the zone): compare as UTC
        return theirs.replace(tzinfo=None) > mine.replace(tzinfo=None)


def link_findings(evidence_id: str, relations: list[dict[str, Any]],
                  meta: dict[str, dict[str, Any]]) -> list[Finding]:
    """The link findings of ``evidence_id`` from its relations and the other records' metadata
    (``seller_id``); one finding per kind, listing every related id."""
    me = meta.get(evidence_id)
    if me is None:
        return []
    seller = me["seller_id"]
    by_kind: dict[str, list[tuple[str, dict[str, Any]]]] = defaultdict(list)
    for rel in relations:
        if evidence_id not in (rel["a"], rel["b"]):
            continue
        other = rel["b"] if rel["a"] == evidence_id else rel["a"]
        if other not in meta:
            continue
        kind = "duplicate" if rel["kind"] in _DUPLICATE else rel["kind"]
        if kind in COPIED_KINDS and uploaded_later(meta, evidence_id, other):
            kind = "copied_by_later"
        by_kind[kind].append((other, rel))
    out: list[Finding] = []
    for kind, links in sorted(by_kind.items()):
        others = sorted({o for o, _ in links})
        other_sellers = sorted({meta[o]["seller_id"] for o in others} - {seller})
        cross = bool(other_sellers)
        best = max(float(r["score"]) for _, r in links)
        names = ", ".join(others[:6]) + (f" and {len(others) - 6} more" if len(others) > 6 else "")
        by = (f" uploaded by seller{'s' if len(other_sellers) > 1 else ''} {', '.join(other_sellers[:4])}"
              if cross else " from the same seller")
        details = {o: {"relation": r["kind"], "score": round(float(r["score"]), 3),
                       **({k: v for k, v in (r.get("details") or {}).items() if k in ("boxes", "fields", "serial", "issuer", "read_as", "second_reading", "label_read_as", "content_key", "same_scan_as")})}
                   for o, r in links}
        if kind == "copied_by_later":
            out.append(_copied_by_later(links, meta, seller, details))
        elif kind == "duplicate":
            kinds = sorted({r["kind"] for _, r in links})
            keyed = [d for _, r in links if (d := r.get("details") or {}).get("content_key")]
            stated = "".join(f" Both state the same issuer, receipt number {d.get('serial') or d['content_key'].split('|')[0]}"
                             f" and print time {' '.join(d['content_key'].split('|')[1:])}." for d in keyed[:1])
            out.append(Finding(
                code="duplicate_upload",
                severity="high" if cross else "low",
                score=best,
                message=f"The same receipt ({', '.join(k.replace('_', ' ') for k in kinds)}) was also uploaded as evidence {names}{by}.{stated}",
                related=tuple(others),
                evidence={"links": details},
            ))
        elif kind == "edited_copy":
            boxes = [b for _, r in links for b in (r.get("details") or {}).get("boxes", [])][:10]
            out.append(Finding(
                code="edited_copy",
                severity="high" if cross else "medium",
                score=best,
                message=f"Cut from the same scan as evidence {names}{by}, with a few text areas repainted.",
                related=tuple(others),
                evidence={"links": details, "differing_boxes": boxes},
            ))
        elif kind == "same_layout":
            if not cross:
                continue
            out.append(Finding(
                code="same_layout_cross_seller",
                severity="info",
                score=best,
                message=f"Same shop layout as evidence {names}{by}; different receipts, which is normal for a popular shop.",
                related=tuple(others),
            ))
        elif kind == "serial_reuse":
            serial = next(((r.get("details") or {}).get("serial") for _, r in links), None)
            read = [d for _, r in links if (d := r.get("details") or {}).get("read_as")]
            slips = sorted({d["read_as"] for d in read if not d.get("second_reading")})
            again = sorted({d["read_as"] for d in read if d.get("second_reading")})
            slip = (f" (read as {', '.join(slips)} on one of them: the readings differ by an OCR slip"
                    " only, so compare the two numbers on the images)") if slips else ""
            labels = sorted({d["label_read_as"] for _, r in links
                             if (d := r.get("details") or {}).get("label_read_as")})
            if labels:
                slip += (f" (its label read as {', '.join(repr(x) for x in labels)} on one of them,"
                         " which is how OCR misread the label the shop prints)")
            if again:
                slip += (f" (read as {', '.join(again)} on one of them at first; a second reading of"
                         " the number's box agrees with the other, so compare the two numbers on"
                         " the images)")
            out.append(Finding(
                code="serial_reuse",
                severity="high" if cross else "low",
                score=best,
                message=f"Serial {serial} also appears on evidence {names}{by}{slip}.",
                related=tuple(others),
                evidence={"links": details},
            ))
        elif kind == "serial_conflict":
            serial = next(((r.get("details") or {}).get("serial") for _, r in links), None)
            diffs = sorted({f for _, r in links for f in (r.get("details") or {}).get("fields", [])})
            out.append(Finding(
                code="serial_conflict",
                severity="high",
                score=best,
                message=(f"Serial {serial} of the same issuer appears on evidence {names} with a different "
                         f"{' and '.join(diffs) or 'content'}: one receipt number cannot have two "
                         f"{' or '.join(d + 's' for d in diffs) or 'contents'}."),
                related=tuple(others),
                evidence={"links": details},
            ))
    return out


_COPY_WORDS = {"same_file": "the same file", "same_image": "the same image", "same_content": "the same receipt",
               "edited_copy": "cut from this scan with a few text areas repainted",
               "serial_reuse": "printing this receipt's serial",
               "serial_conflict": "printing this receipt's serial with another content"}


def _copied_by_later(links: list[tuple[str, dict[str, Any]]], meta: dict[str, dict[str, Any]], seller: str,
                     details: dict[str, Any]) -> Finding:
    """The earlier record's side of a copy: it was taken by later uploads, which is no evidence
    that it is forged itself; ``review`` at most (see verdict.py), naming who copied it."""
    parts = []
    for other in sorted({o for o, _ in links}):
        kinds = sorted({r["kind"] for o, r in links if o == other})
        by = meta[other]["seller_id"]
        who = "the same seller" if by == seller else f"seller {by}"
        parts.append(f"evidence {other} uploaded later by {who} ({'; '.join(_COPY_WORDS.get(k, k) for k in kinds)})")
    others = tuple(sorted({o for o, _ in links}))
    cross = any(meta[o]["seller_id"] != seller for o in others)
    boxes = [b for _, r in links for b in (r.get("details") or {}).get("boxes", [])][:10]
    return Finding(
        code="copied_by_later_upload",
        severity="medium" if cross else "low",
        score=max(float(r["score"]) for _, r in links),
        message=("This upload was copied later: " + ", ".join(parts[:6])
                 + (f" and {len(parts) - 6} more" if len(parts) > 6 else "")
                 + ". Being copied is no sign that this one is forged; check who holds the real receipt."),
        related=others,
        evidence={"links": {o: details[o] for o in others}, **({"differing_boxes": boxes} if boxes else {})},
    )
