"""Serial registry across all sellers: reused and conflicting receipt or invoice numbers.

Key = (issuer, normalised serial); the issuer is the merchant's tax id when read, else its
normalised name. OCR misreads merchant names more often than long numbers, so serials of
:data:`ISSUER_FREE_MIN_LEN` characters or more are also matched whatever the issuer.

A registration also keeps the upload's name key, its company-registration key
(``merchant_reg_no``) and its telephone key (``merchant_phone``): OCR misreads a name or takes
the wrong header line for it, and then one shop has two name keys. A registration that agrees
with this upload on any of the issuer key, the name key, the registration key or the telephone
key is the same issuer's. Two uploads whose registration
numbers were both read and differ (by more than an OCR slip or two) are different issuers,
however alike their names (a tax id or a registration number that agrees still wins).

- ``serial_reuse``: one key on two or more sellers' uploads (high).
- ``serial_conflict``: one key with a different date or total, even from one seller (high).
Both are relations, so the older upload's record learns of the newer one too.

One OCR slip must not hide a reuse: a long serial is also compared with the registrations that
end in the same :data:`TAIL_LEN` characters, and two readings that differ only where one has a
letter or symbol and the other a digit ("$080064712" and "9080064712"), or by one character
read in extra in a number of :data:`INSERTION_MIN_LEN` or more, are taken as one serial on two
sellers' uploads. Two digits that differ are never a slip: consecutive receipts of one shop
differ exactly so, and no reuse may be invented from them.

Two digits that differ are a question for a second reading, though, when the same issuer (a
tax id, registration number, telephone or name key that agrees) has a registration by another
seller :func:`near` this upload's serial: the serial's box is read again on both uploads
(:func:`forensics.ocr.read_box`; the other upload's file is loaded from the blob store) and a
second reading on either side that reads the other side's number (:func:`readings_agree`)
confirms one serial on two sellers' uploads. A one-digit misread would have to land exactly on
the other receipt's number to invent a reuse, where a misread on the original hides every one.

A label misread hides the serial from extraction altogether ("COBH: 58213" for "CB#: 58213").
An upload without a serial, of an issuer known to the registry, is searched for the labels that
issuer's other uploads were read with (:func:`labelled_serials`): a number after a word within
:data:`LABEL_EDITS` edits of one of them that equals a serial the issuer registered for another
seller is a ``serial_reuse``. The number must be equal, so the looser label invents nothing the
registry would not already match.

Measured and rejected: registering a second, independent reading of the serial's box (the box
cut out, scaled 1-2x, read as one line with psm 7 or 13) so that a misread digit on either
upload could still match. On the 140 SROIE receipts whose printed number the page reading
found, it was right on 104; the box re-read was right on 75-78, fixed 4-9 of the 36 wrong ones,
and differed from the page reading on 60-64 receipts, three of them by one digit of a right
reading (a neighbouring receipt's number): more new ways to invent a reuse than to find one.
"""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal, InvalidOperation
from difflib import SequenceMatcher
from typing import Any

from forensics.detectors import Analysis, remember
from forensics.documents import load_document
from forensics.errors import ForensicsError
from forensics.events import resolve_blob
from forensics.fields.layout import text_lines
from forensics.fields.phone import phone_key as telephone_key
from forensics.fields.regno import reg_key as registration_key
from forensics.fields.serials import serial_after
from forensics.fingerprints import normalise_merchant
from forensics.model import CheckResult
from forensics.ocr import read_page_box

#: serials at least this long are matched across issuers (chance collisions are rare)
ISSUER_FREE_MIN_LEN = 8
#: how alike two issuer keys must be (difflib ratio) for an issuer-free serial match
ISSUER_SIMILARITY = 0.75
#: a merchant name key shorter than this (letters and digits) is an OCR scrap, not a name
MIN_NAME_LEN = 6
#: shorter serials than this are not registered: "1", "01" or "25" identify nothing
MIN_SERIAL_LEN = 4
#: a long serial's last characters, under which readings with one OCR slip are looked up
TAIL_LEN = 6
#: at most this many letter-for-digit positions between two readings of one serial
MAX_SLIPS = 2
#: one extra character is a slip only in serials at least this long (the shorter reading)
INSERTION_MIN_LEN = 10
#: two registration numbers this many edits apart or fewer may be one number misread
REG_SLIPS = 2
#: serials this many edits apart or fewer (or their digits so) are near: worth a second reading
NEAR_EDITS = 2
#: how many of the issuer's newest registrations are searched for a near serial
NEAR_SEARCH_LIMIT = 2000
#: at most this many near registrations are read again (each loads the other upload's file)
MAX_SECOND_READINGS = 3
#: two readings ending in one run of at least this many digits read one serial (the letters in
#: front are where OCR slips most: "F0R17120705140236" and "YR17120705140236")
DIGIT_RUN_MIN = 8
#: a word read this many edits or fewer from a label the issuer printed is that label
LABEL_EDITS = 2
#: labels are learned from this many of the issuer's newest registrations
LABEL_SAMPLE = 50
#: a label is one to this many words
LABEL_WORDS = 3


def issuer_key(analysis: Analysis) -> str | None:
    """``tax:<id>`` when a merchant tax id was read, else ``name:<normalised name>``."""
    fields = analysis.extraction.fields
    tax = fields.get("merchant_tax_id")
    if tax and tax.value:
        return "tax:" + re.sub(r"[^A-Z0-9]", "", str(tax.value).upper())
    return name_key(analysis)


def name_key(analysis: Analysis) -> str | None:
    """``name:<normalised merchant name>``, or None when no name was read."""
    merchant = analysis.extraction.fields.get("merchant")
    if merchant and merchant.value:
        return "name:" + normalise_merchant(str(merchant.value))
    return None


def reg_key(analysis: Analysis) -> str | None:
    """``reg:<scheme>:<registration number>`` when the merchant's was read, else None."""
    reg = analysis.extraction.fields.get("merchant_reg_no")
    if reg and reg.value:
        return registration_key(str(reg.value), reg.extra.get("scheme"))
    return None


def phone_key(analysis: Analysis) -> str | None:
    """``tel:<last digits>`` when the merchant's telephone number was read, else None."""
    phone = analysis.extraction.fields.get("merchant_phone")
    return telephone_key(str(phone.value)) if phone and phone.value else None


def _edits(a: str, b: str) -> int:
    """Levenshtein distance."""
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        cur = [i]
        for j, y in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y)))
        prev = cur
    return prev[-1]


def reg_conflict(a: str | None, b: str | None) -> bool:
    """Are two registration keys known to name two companies? Both read, of two schemes or more
    than :data:`REG_SLIPS` edits apart (OCR misreads a digit or two: "5531208" as "8531208")."""
    if a is None or b is None or a == b:
        return False
    scheme_a, _, value_a = a.rpartition(":")
    scheme_b, _, value_b = b.rpartition(":")
    return scheme_a != scheme_b or _edits(value_a, value_b) > REG_SLIPS


def known_same_issuer(row: dict[str, Any], use: dict[str, Any]) -> bool:
    """Does a registration agree with ``row`` on its issuer key, name key, registration key or
    telephone key? A tax id or a registration number that agrees wins; registration numbers
    that differ rule out an agreement on the telephone or the name alone."""
    if row.get("reg_key") is not None and row.get("reg_key") == use.get("reg_key"):
        return True
    issuer = row["issuer_key"]
    if issuer is not None and issuer.startswith("tax:") and use["issuer_key"] == issuer:
        return True
    if reg_conflict(row.get("reg_key"), use.get("reg_key")):
        return False
    if row.get("phone_key") is not None and row.get("phone_key") == use.get("phone_key"):
        return True
    name = row.get("name_key")
    return (issuer is not None and use["issuer_key"] == issuer) or (
        name is not None and name in (use["issuer_key"], use.get("name_key")))


def normalise_serial(value: str) -> str:
    return re.sub(r"[^0-9A-Z]", "", unicodedata.normalize("NFKC", value).upper())


def _amount(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value)) if value not in (None, "") else None
    except InvalidOperation:
        return None


def registry_row(analysis: Analysis) -> dict[str, Any] | None:
    """The registry entry this upload adds, or None when it has no usable serial."""
    fields = analysis.extraction.fields
    serial_field = fields.get("serial")
    if not serial_field or not serial_field.value:
        return None
    serial = normalise_serial(str(serial_field.value))
    if len(serial) < MIN_SERIAL_LEN:
        return None
    ev = analysis.event
    total = fields.get("total")
    date = fields.get("date")
    return {
        "issuer_key": issuer_key(analysis),
        "serial": serial,
        "evidence_id": ev.evidence_id,
        "seller_id": ev.seller_id,
        "date": str(date.value) if date else None,
        "total": str(total.value) if total else None,
        "uploaded_at": ev.uploaded_at,
        "serial_tail": serial[-TAIL_LEN:] if len(serial) >= ISSUER_FREE_MIN_LEN else None,
        "name_key": name_key(analysis),
        "reg_key": reg_key(analysis),
        "phone_key": phone_key(analysis),
    }


def plausibly_same_issuer(a: str | None, b: str | None, *, reg_a: str | None = None,
                          reg_b: str | None = None) -> bool:
    """Could two issuer keys be one issuer read differently? Unknown matches anything; two
    known keys of one kind must be alike (an OCR slip or two), so that two shops that happen to
    number their receipts alike are not linked. A tax id on one upload and only a name on the
    other (the id was not read there) cannot be compared: that counts as unknown, which is why
    only long serials are matched across issuer keys at all. Registration keys ``reg_a`` and
    ``reg_b`` that were both read and differ (:func:`reg_conflict`) are two issuers."""
    if reg_conflict(reg_a, reg_b):
        return False
    if a is None or b is None or a == b:
        return True
    if a.split(":", 1)[0] != b.split(":", 1)[0]:
        return True
    if min(len(a), len(b)) - len("name:") < MIN_NAME_LEN:
        return True  # "name:WOE": a name read as a scrap identifies no issuer
    return SequenceMatcher(None, a, b).ratio() >= ISSUER_SIMILARITY


def _could_be_same(row: dict[str, Any], use: dict[str, Any]) -> bool:
    return known_same_issuer(row, use) or plausibly_same_issuer(
        row["issuer_key"], use["issuer_key"], reg_a=row.get("reg_key"), reg_b=use.get("reg_key"))


def earlier_uses(store: Any, row: dict[str, Any]) -> list[dict[str, Any]]:
    """Registrations of ``row``'s serial by the same issuer: agreeing on the issuer key, the
    merchant name key (uploads whose tax id was not read register under the name), the
    registration key or the telephone key; for long serials, also under any issuer key that
    could be the same issuer read differently."""
    if len(row["serial"]) >= ISSUER_FREE_MIN_LEN:
        return [u for u in store.serial_uses(None, row["serial"]) if _could_be_same(row, u)]
    if all(row.get(k) is None for k in ("issuer_key", "name_key", "reg_key", "phone_key")):
        return []
    found = store.serial_uses(row["issuer_key"], row["serial"], name_key=row["name_key"],
                              reg_key=row.get("reg_key"), phone_key=row.get("phone_key"))
    return [u for u in found if known_same_issuer(row, u)]


def ocr_slip(a: str, b: str) -> bool:
    """Could two different readings be one long serial with an OCR slip? Equal length with at
    most :data:`MAX_SLIPS` positions where one has a letter or symbol and the other a digit, or
    one extra character in the longer of two readings of :data:`INSERTION_MIN_LEN` or more."""
    if a == b or min(len(a), len(b)) < ISSUER_FREE_MIN_LEN or a[-TAIL_LEN:] != b[-TAIL_LEN:]:
        return False
    if len(a) == len(b):
        diffs = [(x, y) for x, y in zip(a, b, strict=True) if x != y]
        return len(diffs) <= MAX_SLIPS and all(x.isdigit() != y.isdigit() for x, y in diffs)
    short, long_ = sorted((a, b), key=len)
    if len(long_) - len(short) != 1 or len(short) < INSERTION_MIN_LEN:
        return False
    return any(long_[:i] + long_[i + 1:] == short for i in range(len(long_)))


def slipped_uses(store: Any, row: dict[str, Any]) -> list[dict[str, Any]]:
    """Registrations of a long serial that ``row``'s differs from by one OCR slip, by an issuer
    that could be the same (an issuer known to be another is never matched)."""
    if row["serial_tail"] is None:
        return []
    return [u for u in store.serials_ending(row["serial_tail"])
            if ocr_slip(row["serial"], u["serial"]) and _could_be_same(row, u)]


def _digits(value: str) -> str:
    return re.sub(r"[^0-9]", "", value)


def _close(a: str, b: str) -> bool:
    """At most :data:`NEAR_EDITS` edits apart: substitutions between readings of one length
    (compared position by position, fast enough for an issuer's thousands of serials),
    Levenshtein edits between readings whose lengths differ."""
    if len(a) == len(b):
        return sum(map(str.__ne__, a, b)) <= NEAR_EDITS
    return abs(len(a) - len(b)) <= NEAR_EDITS and _edits(a, b) <= NEAR_EDITS


def near(a: str, b: str) -> bool:
    """Are two different serials close enough that one could be the other misread: at most
    :data:`NEAR_EDITS` edits apart (:func:`_close`), or their digits so? Never a match by itself
    (consecutive receipts are this close), only the question :func:`second_reading_uses` puts."""
    if a == b or abs(len(a) - len(b)) > NEAR_EDITS:
        return False
    if _close(a, b):
        return True
    da, db = _digits(a), _digits(b)
    return min(len(da), len(db)) >= MIN_SERIAL_LEN and _close(da, db)


def readings_agree(a: str, b: str) -> bool:
    """Do two normalised readings read one serial: equal, one OCR slip apart (:func:`ocr_slip`),
    or ending in the same run of :data:`DIGIT_RUN_MIN` digits or more with at most
    :data:`NEAR_EDITS` edits in the letters before it (more is another series of the shop's:
    "CS00012345" and "INV00012345")?"""
    if not a or not b:
        return False
    if a == b or ocr_slip(a, b):
        return True
    run_a, run_b = re.search(r"[0-9]*$", a).group(), re.search(r"[0-9]*$", b).group()
    return len(run_a) >= DIGIT_RUN_MIN and run_a == run_b and _edits(a, b) <= NEAR_EDITS


def _read_serial_again(document: Any, page_no: int | None, box: Any, settings: Any) -> str:
    """A second reading of a serial's box, normalised; "" without a page image or a box."""
    return normalise_serial(read_page_box(document, page_no or 1, box, settings))


def _other_second_reading(store: Any, use: dict[str, Any], settings: Any) -> str:
    """Read the serial's box again on another upload's file: "" when its serial was not read
    by OCR, or its file is gone or no longer loads (a confirmation missed, nothing broken)."""
    meta = store.evidence_meta([use["evidence_id"]]).get(use["evidence_id"])
    field = ((meta or {}).get("fields") or {}).get("serial")
    if not meta or not field or field.get("source") != "ocr" or not meta.get("blob"):
        return ""
    try:
        data = resolve_blob(meta["blob"], settings.blob_root_path).read_bytes()
        document = load_document(data, claimed_type=meta.get("media_type"), settings=settings)
        return _read_serial_again(document, field.get("page"), field.get("box"), settings)
    except (ForensicsError, OSError):
        return ""


def second_reading_uses(analysis: Analysis, store: Any, row: dict[str, Any]) -> list[tuple[dict[str, Any], str]]:
    """Registrations by another seller, of an issuer known to be this upload's, whose serial is
    :func:`near` this one's and which a second reading of either box confirms as this one:
    (registration, the second reading that agreed) pairs."""
    serial_field = analysis.extraction.fields["serial"]
    if serial_field.source != "ocr":
        return []
    near_uses = [u for u in store.issuer_serials(
        issuer_key=row["issuer_key"], name_key=row["name_key"], reg_key=row.get("reg_key"),
        phone_key=row.get("phone_key"), other_than_seller=row["seller_id"], limit=NEAR_SEARCH_LIMIT)
        if near(row["serial"], u["serial"]) and known_same_issuer(row, u)]
    if not near_uses:
        return []
    near_uses.sort(key=lambda u: (_edits(row["serial"], u["serial"]), -u["id"]))
    mine = remember(analysis, ("serial_again",), lambda: _read_serial_again(
        analysis.document, serial_field.page, serial_field.box, analysis.settings))
    found = []
    for use in near_uses[:MAX_SECOND_READINGS]:
        # the two page readings disagree: only a second reading may say they read one serial
        if mine != row["serial"] and readings_agree(mine, use["serial"]):
            found.append((use, mine))
            continue
        theirs = remember(analysis, ("serial_again", use["evidence_id"], use["id"]),
                          lambda use=use: _other_second_reading(store, use, analysis.settings))
        if theirs != use["serial"] and (readings_agree(theirs, row["serial"])
                                         or readings_agree(theirs, mine)):
            found.append((use, theirs))
    return found


def label_key(label: str) -> str:
    """A serial label compared as upper-case letters, digits and "#": "Inv No." -> "INVNO"."""
    return re.sub(r"[^0-9A-Z#]", "", unicodedata.normalize("NFKC", label).upper())


def serials_after_labels(text: str, labels: set[str]) -> list[tuple[str, str]]:
    """(serial, label as read) for every number in one line of ``text`` that follows one to
    :data:`LABEL_WORDS` words reading within :data:`LABEL_EDITS` edits of one of ``labels``."""
    tokens = list(re.finditer(r"\S+", text))
    found = []
    for i in range(len(tokens)):
        for n in range(1, min(LABEL_WORDS, i + 1) + 1):
            start, end = tokens[i - n + 1].start(), tokens[i].end()
            key = label_key(text[start:end])
            if len(key) < 2 or not any(abs(len(key) - len(lab)) <= LABEL_EDITS
                                       and _edits(key, lab) <= LABEL_EDITS for lab in labels):
                continue
            serial = normalise_serial(serial_after(text, end) or "")
            if len(serial) >= MIN_SERIAL_LEN:
                found.append((serial, text[start:end]))
    return found


def labelled_serials(analysis: Analysis, store: Any) -> list[dict[str, Any]]:
    """For an upload whose serial was not read: relations to the same issuer's registrations by
    other sellers whose serial is printed on this page after a label that issuer's uploads were
    read with (misread here, or extraction would have found it)."""
    keys = {"issuer_key": issuer_key(analysis), "name_key": name_key(analysis),
            "reg_key": reg_key(analysis), "phone_key": phone_key(analysis)}
    if all(v is None for v in keys.values()):
        return []
    uses = [u for u in store.issuer_serials(**keys, other_than_seller=analysis.event.seller_id,
                                            limit=NEAR_SEARCH_LIMIT) if known_same_issuer(keys, u)]
    if not uses:
        return []
    meta = store.evidence_meta([u["evidence_id"] for u in uses[:LABEL_SAMPLE]])
    labels = {label_key(label) for m in meta.values()
              if (label := (((m.get("fields") or {}).get("serial") or {}).get("label")))}
    labels = {lab for lab in labels if len(lab) >= 2}
    if not labels:
        return []
    by_serial: dict[str, list[dict[str, Any]]] = {}
    for u in uses:
        by_serial.setdefault(u["serial"], []).append(u)
    relations, seen = [], set()
    for line in text_lines(analysis.reading):
        for serial, read_label in serials_after_labels(line.text, labels):
            for use in by_serial.get(serial, []):
                if use["evidence_id"] in seen or use["evidence_id"] == analysis.event.evidence_id:
                    continue
                seen.add(use["evidence_id"])
                relations.append({"other": use["evidence_id"], "kind": "serial_reuse", "score": 0.75,
                                  "details": {"serial": serial, "issuer": keys["issuer_key"],
                                              "label_read_as": read_label}})
    return relations


class SerialRegistry:
    """Matches this upload's serial against every earlier registration."""

    name = "serial_registry"

    def run(self, analysis: Analysis, store: Any) -> CheckResult:
        row = registry_row(analysis)
        if row is None:
            found = labelled_serials(analysis, store)
            if found:
                return CheckResult(status="done", relations=tuple(found))
            return CheckResult.skipped("no serial number read")
        uses = [u for u in earlier_uses(store, row) if u["evidence_id"] != analysis.event.evidence_id]
        relations = []
        for use in uses:
            details = {"serial": row["serial"], "issuer": row["issuer_key"]}
            differs = []
            if row["date"] and use["date"] and row["date"] != use["date"]:
                differs.append("date")
            t_me, t_other = _amount(row["total"]), _amount(use["total"])
            # a credit note repeats its invoice's number and amount with the sign turned
            if t_me is not None and t_other is not None and abs(t_me) != abs(t_other):
                differs.append("total")
            same_issuer = known_same_issuer(row, use)
            if use["seller_id"] != row["seller_id"]:
                relations.append({"other": use["evidence_id"], "kind": "serial_reuse",
                                  "score": 0.95 if same_issuer else 0.8, "details": details})
            if differs and (same_issuer or len(row["serial"]) >= ISSUER_FREE_MIN_LEN):
                relations.append({"other": use["evidence_id"], "kind": "serial_conflict",
                                  "score": 0.9, "details": {**details, "fields": differs}})
        # a slip is a weaker match: it names a reuse across sellers, never a conflict
        for use in slipped_uses(store, row):
            if use["seller_id"] != row["seller_id"] and use["evidence_id"] != analysis.event.evidence_id:
                relations.append({"other": use["evidence_id"], "kind": "serial_reuse", "score": 0.7,
                                  "details": {"serial": row["serial"], "issuer": row["issuer_key"],
                                              "read_as": use["serial"]}})
        if not any(r["kind"] == "serial_reuse" for r in relations):
            for use, again in second_reading_uses(analysis, store, row):
                relations.append({"other": use["evidence_id"], "kind": "serial_reuse", "score": 0.75,
                                  "details": {"serial": row["serial"], "issuer": row["issuer_key"],
                                              "read_as": use["serial"], "second_reading": again}})
        return CheckResult(status="done", relations=tuple(relations))


detector = SerialRegistry()
