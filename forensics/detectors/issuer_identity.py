"""Issuer identity: does the merchant's tax id agree with the one its other uploads carry?

A Malaysian GST or SST registration number has no check digit, so an invented or repainted one
passes every format check. What gives it away is the merchant's other receipts: uploads of the
same merchant (agreeing on the merchant-name key, the company-registration key or the telephone
key, as the serial registry keeps them) carry one tax id, and this one carries another, a digit
or two away from it.

``identifier_mismatch`` (medium) when:

- at least :data:`CONSENSUS_MIN` other uploads of the merchant carry one tax id, and none
  carries this upload's;
- the two ids are of one length and at most :data:`MAX_DIGITS_OFF` digits apart (ids further
  apart are another company trading under a like name: a franchise, not an edit);
- where the id was read by OCR, a second reading of its box (:func:`forensics.ocr.read_box`)
  reads a differing digit the same way (:func:`read_twice`): a misread is the likelier story
  where the two readings disagree, or where the second gives the merchant's usual digit (the
  leading zeros of "000418070203" read as "@9@…" once and "90…" again still leave the "0" where
  the usual id has "5"); and where every differing digit is one OCR confuses
  (:data:`~forensics.detectors.identifiers.OCR_CONFUSIONS`: 6/8, 0/9, 1/7 ...), the id's words
  were also read with a confidence of at least
  :data:`~forensics.detectors.identifiers.TRUSTED_WORD_CONFIDENCE`, the rule the identifiers
  detector keeps for check digits; and, the same rule the other way round, where every
  differing digit is one OCR confuses, at least :data:`CONSENSUS_MIN` of the uploads carrying
  the usual id read it with that confidence (:func:`trusted_readings`): two uploads can share a
  misread, and the one honest upload reading its id right must not be the one accused.

Measured on bench/quality.py (370 uploads): with the second reading alone, two honest SROIE
receipts were flagged, each a 6 read as 8 (or 8 as 6) on the page and again in the box (word
confidence 0.86 and 0.69); with the confidence rule too, neither is, and of the ten repainted
GST ids, one (0 repainted as 9, confidence 0.92) is found that no other detector found.

The merchant's other uploads are found in the issuer marks every analysed upload leaves
(:func:`issuer_mark`: its tax id and its name, registration and telephone keys), the newest
:data:`SEARCH_LIMIT` of them.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from forensics.detectors import Analysis, StoreView, remember
from forensics.detectors.identifiers import (
    OCR_CONFUSIONS,
    TRUSTED_WORD_CONFIDENCE,
    ocr_confidence,
    scheme_name,
)
from forensics.detectors.serial_registry import known_same_issuer, name_key, phone_key, reg_key
from forensics.fields.taxids import GST_ZEROS
from forensics.model import CheckResult, Finding
from forensics.ocr import read_page_box

#: other uploads of the merchant that must agree on one tax id before a different one counts
CONSENSUS_MIN = 2
#: ids at most this many digits apart (one length) may be the merchant's id altered
MAX_DIGITS_OFF = 2
#: how many of the merchant's newest registrations are looked at
SEARCH_LIMIT = 500
#: digit pairs Tesseract confuses on thermal print besides the shape confusions of
#: :data:`~forensics.detectors.identifiers.OCR_CONFUSIONS` (a faded 3 read as 5, 2 as 7, 1 as 4):
#: two honest receipts of one shop went to review with "6007215…" read for "0007213…"
PRINT_CONFUSIONS = {frozenset(p) for p in ("35", "27", "14", "23", "89", "59", "17", "38", "56", "06", "08", "09")}


def _compact(value: str) -> str:
    return re.sub(r"[^0-9A-Z]", "", str(value).upper())


def digits_off(a: str, b: str) -> int | None:
    """How many positions two ids of one length differ in; None for two lengths."""
    return sum(map(str.__ne__, a, b)) if len(a) == len(b) else None


def issuer_mark(analysis: Analysis) -> dict[str, Any] | None:
    """The issuer mark this upload leaves for later ones, or None when it shows no identity."""
    tax = analysis.extraction.fields.get("merchant_tax_id")
    mark = {"tax_key": _compact(tax.value) if tax is not None and tax.value else None,
            "name_key": name_key(analysis), "reg_key": reg_key(analysis), "phone_key": phone_key(analysis)}
    if all(v is None for v in mark.values()):
        return None
    ev = analysis.event
    return {**mark, "evidence_id": ev.evidence_id, "seller_id": ev.seller_id, "uploaded_at": ev.uploaded_at}


class IssuerIdentity:
    """Compares this upload's merchant tax id with the one the merchant's other uploads carry."""

    name = "issuer_identity"

    def run(self, analysis: Analysis, store: StoreView) -> CheckResult:
        tax = analysis.extraction.fields.get("merchant_tax_id")
        if tax is None or not tax.value:
            return CheckResult.skipped("no merchant tax id read")
        keys = {"issuer_key": None, "name_key": name_key(analysis), "reg_key": reg_key(analysis),
                "phone_key": phone_key(analysis)}
        if all(v is None for v in keys.values()):
            return CheckResult.skipped("no merchant name, registration or telephone to find its other uploads by")
        mine = _compact(tax.value)
        carried: dict[str, set[str]] = {}
        for u in store.issuer_uploads(name_key=keys["name_key"], reg_key=keys["reg_key"],
                                      phone_key=keys["phone_key"], limit=SEARCH_LIMIT):
            if u["evidence_id"] != analysis.event.evidence_id and u["tax_key"] and known_same_issuer(
                    keys, {**u, "issuer_key": "tax:" + u["tax_key"]}):
                carried.setdefault(u["tax_key"], set()).add(u["evidence_id"])
        if not carried or mine in carried:
            return CheckResult(status="done")
        usual, uploads = Counter({k: len(v) for k, v in carried.items()}).most_common(1)[0]
        off = digits_off(mine, usual)
        if uploads < CONSENSUS_MIN or off is None or off > MAX_DIGITS_OFF:
            return CheckResult(status="done")
        if tax.source == "ocr":
            stands = self._ocr_stands(analysis, tax, mine, usual)
            if stands is None:
                return CheckResult(status="done")
            off = digits_off(stands, usual)
        else:
            stands = mine
        if confusable(stands, usual) and trusted_readings(store, carried[usual]) < CONSENSUS_MIN:
            return CheckResult(status="done")  # the usual id may be the misread one
        others = sorted(carried[usual])
        scheme = scheme_name(str(tax.extra.get("scheme") or ""))
        digit = "one digit" if off == 1 else f"{off} digits"
        evidence = {"tax_id": stands, "usual_tax_id": usual, "uploads_with_usual": uploads, "digits_off": off}
        as_read = ""
        if stands != mine:
            evidence["read_as"] = mine
            as_read = f" (the digits two readings agree on; the page reads {tax.raw})"
        return CheckResult(status="done", findings=(Finding(
            code="identifier_mismatch",
            severity="medium",
            score=0.7,
            message=(f"The merchant's {scheme} {stands}{as_read} differs in {digit} from {usual}, which "
                     f"{uploads} other uploads of this merchant (same name, registration number "
                     "or telephone) carry: compare the two numbers on the images."),
            related=tuple(others[:6]),
            page=tax.page,
            box=tax.box,
            evidence=evidence,
        ),))

    @staticmethod
    def _ocr_stands(analysis: Analysis, tax: Any, mine: str, usual: str) -> str | None:
        """The id as two readings read it (:func:`read_twice`, with a second reading of its
        box) when it still differs from the usual one, and, where every digit it differs in is
        one OCR confuses, its words were read with a trusted confidence; else None."""
        again = remember(analysis, ("tax_again",), lambda: read_page_box(
            analysis.document, tax.page or 1, tax.box, analysis.settings))
        if mine.isdigit():
            again = again.translate(GST_ZEROS)  # read as extraction reads it: "@9@3..." is 093...
        stands = read_twice(mine, _compact(again), usual)
        if stands is None:
            return None
        confidence = ocr_confidence(analysis, tax.page or 1, tax.box)
        return None if misread_likely(stands, usual, confidence) else stands


def confusable(stands: str, usual: str) -> bool:
    """Is every digit two ids of one length differ in a pair OCR confuses on print?"""
    return all(b in OCR_CONFUSIONS.get(a, "") or a in OCR_CONFUSIONS.get(b, "")
               or frozenset((a, b)) in PRINT_CONFUSIONS
               for a, b in zip(stands, usual, strict=True) if a != b)


def misread_likely(stands: str, usual: str, confidence: float | None) -> bool:
    """Whether OCR misreading the usual id is the likelier story: every digit the two differ in
    is a pair OCR confuses on print (:func:`confusable`), and the id's words were not read with
    a trusted confidence (:data:`~forensics.detectors.identifiers.TRUSTED_WORD_CONFIDENCE`)."""
    return confusable(stands, usual) and (confidence is None or confidence < TRUSTED_WORD_CONFIDENCE)


def trusted_readings(store: StoreView, uploads: set[str]) -> int:
    """How many of ``uploads`` state their tax id from a text layer or XML, or read it by OCR
    with a trusted confidence: the same rule for the merchant's usual id as for this upload's.
    Two uploads can share one misread (a 0 read as 6 twice), and then the honest upload that
    reads its id right would be the one accused."""
    meta = store.evidence_meta(sorted(uploads))
    count = 0
    for m in meta.values():
        tax = (m.get("fields") or {}).get("merchant_tax_id") or {}
        if tax.get("source") != "ocr" or float(tax.get("confidence") or 0.0) >= TRUSTED_WORD_CONFIDENCE:
            count += 1
    return count


def read_twice(mine: str, again: str, usual: str) -> str | None:
    """The id two readings agree on: ``again`` (a second reading, compacted) is lined up with
    ``mine`` where it differs least (more than :data:`MAX_DIGITS_OFF` digits everywhere: it
    read something else, None); where the two readings differ, a misread on one side is the
    likelier story and the usual id's digit is kept. None when that leaves the usual id."""
    n = len(mine)
    windows = [again[i:i + n] for i in range(len(again) - n + 1)]
    if not windows:
        return None
    best = min(windows, key=lambda w: digits_off(w, mine))
    if digits_off(best, mine) > MAX_DIGITS_OFF:
        return None
    stands = "".join(m if m == a else u for m, a, u in zip(mine, best, usual, strict=True))
    return stands if stands != usual else None


detector = IssuerIdentity()
