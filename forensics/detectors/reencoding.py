"""Is a difference between two scans of one page an edit, or a re-encoding of the whole page?

An ``edited_copy`` alignment whose differences are a re-encoding's (JPEG, resampling: every
region of the page changes a little, an edit changes one region a lot) and whose uploads read no
edited field apart is the same image (:mod:`forensics.detectors.duplicates`).
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from forensics.alignment import Relation
from forensics.fields.serials import OCR_DIGIT_CONFUSIONS

#: share of a page's pixels outside the differing boxes that differ in the exact comparison
#: from which the page was re-encoded as a whole (JPEG, resampling): every region differs a
#: little. Measured on bench/quality.py's tune half (pipeline direction, later page onto the
#: earlier): the re-uploads the alignment called ``edited_copy`` 4.4e-4 to 5.4e-4; the bench's
#: edited copies 0 to 4.7e-5, and edits simulated on tune scans (a total, date or number
#: repainted, then re-encoded like a re-upload or saved at JPEG 60) mostly below 1e-4
REENCODED_REST_DIFF = 2.5e-4
#: most differing pixels (in text-line heights squared) one box of such a page may hold: the
#: re-encoding specks measured there held 0.1-0.4; a number repainted whole holds more
REENCODED_MAX_BOX = 1.0

#: fields an edit changes and a re-encoding does not: two uploads reading one of them apart,
#: both with :data:`SURE_FIELD` confidence or more (or from a text layer), are an edit whatever
#: the pixel statistics say
EDIT_FIELDS = ("total", "date", "time", "serial")
SURE_FIELD = 0.6


def reencoded(rel: Relation) -> bool:
    """Is an ``edited_copy`` alignment a re-encoding of the one scan rather than an edit? A
    re-encoding (JPEG, resampling) changes every region of the page a little, an edit changes
    one region a lot. So: the tolerant comparison, which lets blur and a pixel of
    misregistration pass but not a changed glyph's shape, found no differing box, and the
    exact comparison's boxes sit on a page whose other pixels differ as much
    (:data:`REENCODED_REST_DIFF`): its boxes are the densest specks of a page-wide noise, not a
    repainted field, provided no box holds more than :data:`REENCODED_MAX_BOX` (a number
    repainted whole). An edit that only the exact comparison sees on a page re-encoded that
    heavily looks alike to these statistics: the caller also asks that the two uploads do not
    read an edited field apart (:func:`read_apart`)."""
    d = rel.details
    return (rel.kind == "edited_copy" and d.get("tolerant_boxes") == 0
            and "exact_compare" not in d
            and float(d.get("rest_diff") or 0.0) >= REENCODED_REST_DIFF
            and max(d.get("box_diff") or [0.0]) <= REENCODED_MAX_BOX)


def read_apart(mine: dict[str, Any], theirs: dict[str, Any]) -> list[str]:
    """The :data:`EDIT_FIELDS` two uploads state differently, both sure of their reading
    (:data:`SURE_FIELD`; a text layer or XML always is): letters OCR reads for digits count as
    those digits, a time is compared to the minute, a total as an amount."""
    out = []
    for name in EDIT_FIELDS:
        a, b = mine.get(name) or {}, theirs.get(name) or {}
        if not a.get("value") or not b.get("value") or min(_sureness(a), _sureness(b)) < SURE_FIELD:
            continue
        if _as_stated(name, a["value"]) != _as_stated(name, b["value"]):
            out.append(name)
    return out


def _sureness(field: dict[str, Any]) -> float:
    return float(field.get("confidence") or 0.0) if field.get("source") == "ocr" else 1.0


def _as_stated(name: str, value: Any) -> str:
    text = str(value)
    if name == "total":
        try:
            return str(abs(Decimal(text)).quantize(Decimal("0.01")))
        except InvalidOperation:
            return text
    if name == "time":
        text = text[:5]
    return "".join(OCR_DIGIT_CONFUSIONS.get(c, c) for c in re.sub(r"[^0-9A-Z]", "", text.upper()))
