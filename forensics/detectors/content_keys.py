"""Content keys: uploads whose content says they are one receipt, whatever their pixels.

A receipt names itself: its issuer, its receipt (bill) number and the date and minute it was
printed. Two uploads that state all of them are the same receipt, even when cropping, rotation
and re-encoding pushed every pixel hash of one far from the other and the page comparison of
:mod:`forensics.detectors.duplicates` took the re-encoding for repainted boxes.

Every upload whose number, date and time were read registers (:mod:`forensics.store.content_keys`)
its printed date and minute (``<ISO date>|<HH:MM>``, seconds dropped: a re-read may lose them),
the number keyed against OCR's letter-for-digit slips (:func:`key_serial`, with the one table of
them, :data:`forensics.fields.serials.OCR_DIGIT_CONFUSIONS`, on both sides), OCR's confidence
in it, the line it was read on, the total when read with confidence, and the issuer keys of the
serial registry. A later upload looks up the registrations printed at its own date and minute
(one indexed query) and links those that

- are the same issuer's (:func:`~forensics.detectors.serial_registry.known_same_issuer`, or two
  merchant names alike within an OCR slip), and
- state the same number (:func:`same_number`): both readings sure and keyed alike, or one
  side's sure reading printed whole on the other's line ("OR171104031 50228": OCR split the
  number there, and the field kept only its first part).

What must never link, and why it cannot:

- two receipts of one shop on one day: their numbers differ, or their minutes do;
- a shop whose numbers restart daily: the same number on another day, or at another minute of
  the same day, is not looked up;
- a number read with low confidence (:data:`MIN_CONFIDENCE`) matches nothing as read (only a
  sure reading of the other side, printed whole on its line, can confirm it); a time read with
  low confidence, a missing number or time, a date put right from an OCR slip: no key at all;
- two shops that number and time alike: their issuers differ;
- one number and minute with two totals, both read with confidence (:func:`other_totals`): two
  documents (an edited copy, a reused number), which ``serial_conflict`` and ``edited_copy``
  report; not a receipt uploaded twice.

The match is the relation ``same_content`` (a ``duplicate_upload`` finding; the earlier upload
is ``copied_by_later_upload``) with the content key as its evidence. It is found in the same
optimistic scheme as the other linking detectors: the lookup is one indexed query, run against
the snapshot outside the match lock and again inside it, where every earlier registration is
visible, so two workers end with the links one would make.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from forensics.detectors import Analysis, remember
from forensics.detectors.serial_registry import (
    MIN_NAME_LEN,
    MIN_SERIAL_LEN,
    issuer_key,
    known_same_issuer,
    name_key,
    normalise_serial,
    phone_key,
    plausibly_same_issuer,
    reg_key,
)
from forensics.fields.layout import text_lines
from forensics.fields.serials import OCR_DIGIT_CONFUSIONS
from forensics.model import CheckResult, boxes_overlap

#: lowest OCR confidence (the span's least sure word) of a receipt number that may match, and of
#: a time that may be keyed at all: a doubtful digit there could make another receipt's key
MIN_CONFIDENCE = 0.6
#: how sure a content-key match is (as sure as the exact merchant/serial/date/total key)
SCORE = 0.9
#: the fields a content key rests on (the finding names them)
KEY_FIELDS = ("merchant", "serial", "date", "time")
#: most tokens of a printed line joined into one number (a number OCR split in two or three)
MAX_JOINED_TOKENS = 4

_TIME_RE = re.compile(r"(?P<h>[01]\d|2[0-3]):(?P<m>[0-5]\d)")
_TOKEN_RE = re.compile(r"[0-9A-Za-z]+")


def key_serial(value: str) -> str:
    """A receipt number as keyed: upper-case letters and digits, each letter OCR reads for a
    digit taken as that digit ("CSOO012345" and "C500012345" key alike)."""
    return "".join(OCR_DIGIT_CONFUSIONS.get(c, c) for c in normalise_serial(value))


def printed_in(serial: str, line: str | None) -> bool:
    """Is the keyed number ``serial`` printed whole on ``line``: one to
    :data:`MAX_JOINED_TOKENS` consecutive tokens of it (letters and digits, split at spaces and
    punctuation) that key as ``serial``? "OR171104031 50228" prints "OR17110403150228"; "No:
    12345" does not print "1234" (a number is never matched inside another)."""
    if not line:
        return False
    tokens = _TOKEN_RE.findall(line)
    for i in range(len(tokens)):
        joined = ""
        for token in tokens[i:i + MAX_JOINED_TOKENS]:
            joined += token
            keyed = key_serial(joined)
            if keyed == serial:
                return True
            if len(keyed) >= len(serial):
                break
    return False


def _serial_line(analysis: Analysis, field: Any) -> str | None:
    """The text of the line the receipt number was read on (None when it cannot be told)."""
    for line in text_lines(analysis.reading):
        if line.page != field.page or field.raw not in line.text:
            continue
        if field.box is None or boxes_overlap(line.box, field.box):
            return line.text
    return None


def printed_when(analysis: Analysis) -> str | None:
    """``<ISO date>|<HH:MM>`` when the date was read (not put right from an OCR slip) and the
    time with confidence, else None."""
    fields = analysis.extraction.fields
    date, time = fields.get("date"), fields.get("time")
    if date is None or not date.value or date.extra.get("repaired"):
        return None
    if not _confident(time):
        return None
    clock = _TIME_RE.match(str(time.value))
    return None if clock is None else f"{date.value}|{clock.group('h')}:{clock.group('m')}"


def registry_row(analysis: Analysis) -> dict[str, Any] | None:
    """The content-key registration this upload adds: None without a receipt number of
    :data:`MIN_SERIAL_LEN` characters, a printed date and minute (:func:`printed_when`) or any
    issuer key. A number read with low confidence is registered (a later, surer reading may
    find it printed on its line) but never matches as read."""
    return remember(analysis, ("content_key_row",), lambda: _registry_row(analysis))


def _registry_row(analysis: Analysis) -> dict[str, Any] | None:
    serial, total = analysis.extraction.fields.get("serial"), analysis.extraction.fields.get("total")
    when = printed_when(analysis)
    if serial is None or not serial.value or when is None:
        return None
    number = key_serial(str(serial.value))
    if len(number) < MIN_SERIAL_LEN:
        return None
    issuer = {"issuer_key": issuer_key(analysis), "name_key": name_key(analysis),
              "reg_key": reg_key(analysis), "phone_key": phone_key(analysis)}
    if all(v is None for v in issuer.values()):
        return None
    ev = analysis.event
    return {"evidence_id": ev.evidence_id, "seller_id": ev.seller_id, "uploaded_at": ev.uploaded_at,
            "printed_at": when, "serial": number,
            "serial_confidence": 1.0 if serial.source != "ocr" else round(float(serial.confidence), 3),
            "serial_line": _serial_line(analysis, serial),
            "total": str(total.value) if _confident(total) else None, **issuer}


def _confident(field: Any) -> bool:
    """Read, and by OCR only with :data:`MIN_CONFIDENCE` or more."""
    return field is not None and bool(field.value) and (
        field.source != "ocr" or float(field.confidence) >= MIN_CONFIDENCE)


def other_totals(row: dict[str, Any], use: dict[str, Any]) -> bool:
    """Do two registrations state two totals, both read with confidence? Then they are two
    documents under one number and minute (an edited copy, a number reused), which the serial
    registry's ``serial_conflict`` and the page comparison's ``edited_copy`` report, not one
    receipt uploaded twice."""
    a, b = _amount(row.get("total")), _amount(use.get("total"))
    return a is not None and b is not None and a != b


def _amount(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value)) if value not in (None, "") else None
    except InvalidOperation:
        return None


def same_issuer(row: dict[str, Any], use: dict[str, Any]) -> bool:
    """Is a registration the same issuer's: agreeing on a tax id, name, registration or
    telephone key (:func:`known_same_issuer`), or with two merchant names both read (long enough
    to name a shop) and alike within an OCR slip, and registration numbers that do not say
    otherwise?"""
    if known_same_issuer(row, use):
        return True
    a, b = row.get("name_key"), use.get("name_key")
    if a is None or b is None or min(len(a), len(b)) - len("name:") < MIN_NAME_LEN:
        return False
    return plausibly_same_issuer(a, b, reg_a=row.get("reg_key"), reg_b=use.get("reg_key"))


def same_number(row: dict[str, Any], use: dict[str, Any]) -> str | None:
    """How two registrations state one receipt number, or None: ``read alike`` (both readings
    sure and keyed alike), or ``printed on both`` (one side's sure reading printed whole on the
    line the other side's number was read on, which OCR split or cut short there)."""
    sure_a = row["serial_confidence"] >= MIN_CONFIDENCE
    sure_b = use["serial_confidence"] >= MIN_CONFIDENCE
    if sure_a and sure_b and row["serial"] == use["serial"]:
        return "read alike"
    if (sure_a and printed_in(row["serial"], use.get("serial_line"))) or (
            sure_b and printed_in(use["serial"], row.get("serial_line"))):
        return "printed on both"
    return None


class ContentKeys:
    """Links this upload to earlier uploads stating the same issuer, number, date and minute."""

    name = "content_keys"

    def run(self, analysis: Analysis, store: Any) -> CheckResult:
        row = registry_row(analysis)
        if row is None:
            return CheckResult.skipped("no receipt number, date and time read")
        relations = []
        as_read = str(analysis.extraction.fields["serial"].value)
        for use in store.content_keys_printed_at(row["printed_at"], exclude=analysis.event.evidence_id):
            how = same_number(row, use) if same_issuer(row, use) and not other_totals(row, use) else None
            if how is None:
                continue
            details = {"fields": list(KEY_FIELDS), "content_key": f"{row['serial']}|{row['printed_at']}",
                       "issuer": row["issuer_key"], "number": how, "serial": as_read}
            if use["serial"] != row["serial"]:
                details["read_as"] = use["serial"]
            relations.append({"other": use["evidence_id"], "kind": "same_content", "score": SCORE,
                              "details": details})
        return CheckResult(status="done", relations=tuple(relations))


detector = ContentKeys()
