"""Dates and claims: impossible dates, documents dated after their upload, and what the seller
typed in the upload event against what the document says.

- ``date_implausible``: a printed calendar date that does not exist (31 April, 29 February of a
  common year) or a document dated after it was uploaded.
- ``claim_mismatch``: a claimed total, date, currency, serial or merchant that the document
  contradicts. A claim the document cannot confirm (field not read) is not a mismatch; a claimed
  value printed anywhere on the document (even where the field extractor did not look) is not
  one either, so extraction mistakes do not become accusations.
"""

from __future__ import annotations

import calendar
import re
import unicodedata
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from difflib import SequenceMatcher

from forensics.detectors import Analysis, StoreView
from forensics.fields.amounts import find_amounts
from forensics.fields.dates import DIGIT_CONFUSIONS, digit_variants, find_dates
from forensics.model import CheckResult, Finding, Line

#: days a document may be dated after its upload (time zones, a till clock set wrong)
FUTURE_SLACK_DAYS = 1
#: earliest and latest year of a numeric date considered for "impossible date" (others are noise)
YEAR_RANGE = (1990, 2099)
#: OCR confidence of a line below which a strange date is blamed on the scan
TRUSTED_LINE_CONFIDENCE = 0.8
#: OCR confidence above which a printed date is taken as read, whatever OCR could confuse
CERTAIN_CONFIDENCE = 0.95
#: OCR confidence of a document value below which a claim that contradicts it is only noted
TRUSTED_CLAIM_CONFIDENCE = 0.9
#: merchant names this alike (difflib ratio of normalised names) are the same merchant
MERCHANT_SIMILARITY = 0.6
#: a claimed total this close to the printed one is the cash-rounded total (to 0.05)
CASH_ROUNDING = Decimal("0.05")
#: lines from the top searched for the claimed merchant's name
MERCHANT_LINES = 12
#: largest difference between a claimed and a printed total still read as equal
AMOUNT_TOLERANCE = Decimal("0.011")

#: d/m/y, m/d/y and y/m/d with the same separator twice
_NUMERIC_DATE = re.compile(
    r"(?<![\d.:/-])(?:(?P<y1>(?:19|20)\d{2})(?P<s1>[/.-])(?P<m1>\d{1,2})(?P=s1)(?P<d1>\d{1,2})"
    r"|(?P<a>\d{1,2})(?P<s2>[/.-])(?P<b>\d{1,2})(?P=s2)(?P<y2>(?:19|20)\d{2}|\d{2}))(?![\d:/-]|\.\d)")

_TO_DIGIT = str.maketrans({"O": "0", "D": "0", "Q": "0", "I": "1", "L": "1", "S": "5", "B": "8"})


def _exists(y: int, m: int, d: int) -> bool:
    return 1 <= m <= 12 and 1 <= d <= calendar.monthrange(y, m)[1]


def impossible_date(text: str) -> tuple[str, str] | None:
    """(raw, reason) for a numeric date in ``text`` that exists under no day/month order."""
    for m in _NUMERIC_DATE.finditer(text):
        if m.group("y1"):
            y, mo, d = int(m.group("y1")), int(m.group("m1")), int(m.group("d1"))
            if 1 <= mo <= 12 and 1 <= d <= 31 and not _exists(y, mo, d):
                return m.group(0), f"{calendar.month_name[mo]} has no day {d}"
            continue
        a, b, ys = int(m.group("a")), int(m.group("b")), m.group("y2")
        y = int(ys) + (2000 if len(ys) == 2 else 0)
        if not YEAR_RANGE[0] <= y <= YEAR_RANGE[1] or len(ys) == 2:
            continue  # two-digit years make too many things look like dates
        # day/month order unknown: impossible only when neither order is a real date, yet the
        # numbers are in calendar range (so this is a date, not a phone number or a price)
        if not (1 <= a <= 31 and 1 <= b <= 31 and min(a, b) <= 12):
            continue
        if _exists(y, b, a) or _exists(y, a, b):
            continue
        day, month = (a, b) if b <= 12 else (b, a)
        return m.group(0), f"{calendar.month_name[month]} {y} has no day {day}"
    return None


def impossible_date_findings(analysis: Analysis) -> list[Finding]:
    out = []
    for page in analysis.reading.pages:
        for line in page.lines():
            if page.source == "ocr" and line.confidence < TRUSTED_LINE_CONFIDENCE:
                continue
            hit = impossible_date(line.text)
            if hit is None:
                continue
            raw, reason = hit
            out.append(Finding(
                code="date_implausible", severity="high", score=0.75,
                message=f"The document prints the date {raw}, which does not exist ({reason}).",
                page=page.page, box=_word_box(line, raw),
                evidence={"kind": "impossible_date", "raw": raw}))
    return out


def _word_box(line: Line, raw: str):  # noqa: ANN202 - Box | None
    for w in line.words:
        if raw in w.text or w.text in raw and len(w.text) >= 4:
            return w.box
    return line.box


def future_date_finding(analysis: Analysis) -> Finding | None:
    f = analysis.extraction.fields.get("date")
    if f is None or not f.value or f.extra.get("repaired"):
        return None  # a date put right from an OCR slip is a guess, not a printed date
    try:
        printed = date.fromisoformat(str(f.value))
    except ValueError:
        return None
    uploaded = analysis.event.uploaded_at.date()
    latest = uploaded + timedelta(days=FUTURE_SLACK_DAYS)
    if printed <= latest:
        return None
    # a misread year ("2048" for "2018") is likelier than a forger's slip: every date printed
    # must be in the future, and the date must have been read with confidence
    if any(date.fromisoformat(d.iso) <= latest for d in find_dates(analysis.reading.text)):
        return None
    if _ocr_confidence(analysis, f.page, f.box) < TRUSTED_LINE_CONFIDENCE:
        return None
    confidence = _ocr_confidence(analysis, f.page, f.box)
    if confidence < CERTAIN_CONFIDENCE and any(_misread_of_past(printed.isoformat(), latest)):
        return None
    days = (printed - uploaded).days
    return Finding(
        code="date_implausible", severity="high", score=0.85,
        message=f"The document is dated {printed.isoformat()}, {days} days after it was uploaded "
                f"on {uploaded.isoformat()}.",
        page=f.page, box=f.box,
        evidence={"kind": "after_upload", "date": printed.isoformat(),
                  "uploaded_at": analysis.event.uploaded_at.isoformat()})


def _misread_of_past(iso: str, latest: date):  # noqa: ANN202 - Iterator[bool]
    """For each one-digit OCR confusion of ``iso``: whether it is a real date not after ``latest``."""
    for variant in digit_variants(iso):
        try:
            yield date.fromisoformat(variant) <= latest
        except ValueError:
            continue


def _ocr_confidence(analysis: Analysis, page: int | None, box) -> float:  # noqa: ANN001
    """Lowest OCR confidence of the words in ``box`` (1.0 for text layers and XML)."""
    for p in analysis.reading.pages:
        if p.page != page or p.source != "ocr":
            continue
        if box is None:
            return 0.0  # an OCR'd value we cannot find on the page is not one to accuse with
        confs = [w.confidence for w in p.words
                 if w.box[0] < box[2] and box[0] < w.box[2] and w.box[1] < box[3] and box[1] < w.box[3]]
        return min(confs, default=0.0)
    return 1.0


# --------------------------------------------------------------------------- claims


#: most confusable digits two readings of one value may differ in
MAX_CONFUSED_DIGITS = 2
#: generic words of business names that say nothing about which business it is
GENERIC_NAME_WORDS = frozenset(
    "SDN BHD BERHAD ENTERPRISE ENTERPRISES TRADING STORE STORES MART SHOP RESTAURANT CAFE "
    "COMPANY LIMITED GMBH SARL HOLDINGS GROUP CENTRE CENTER MARKET SUPERMARKET HYPERMARKET "
    "THE AND".split())


def one_digit_apart(a: str, b: str) -> bool:
    """True when two values could be one value read twice by OCR: their digits differ only in
    a digit or two that Tesseract confuses (or in one digit of any kind)."""
    da, db = re.sub(r"\D", "", a), re.sub(r"\D", "", b)
    if abs(len(da) - len(db)) == 1:  # a digit dropped or doubled by OCR
        longer, shorter = (da, db) if len(da) > len(db) else (db, da)
        return any(longer[:i] + longer[i + 1:] == shorter for i in range(len(longer)))
    if len(da) != len(db) or not da:
        return False
    diff = [(x, y) for x, y in zip(da, db, strict=True) if x != y]
    if len(diff) <= 1:
        return True
    return len(diff) <= MAX_CONFUSED_DIGITS and all(frozenset(d) in DIGIT_CONFUSIONS for d in diff)


def _decimal(text: str) -> Decimal | None:
    found = find_amounts(text)
    if len(found) == 1:
        return abs(found[0].value)
    try:
        return abs(Decimal(text.strip()))
    except (InvalidOperation, ValueError):
        return None


def _claimed_date(text: str) -> str | None:
    try:
        return date.fromisoformat(text.strip()[:10]).isoformat()
    except ValueError:
        found = find_dates(text)
        return found[0].iso if found else None


def _norm_name(name: str) -> str:
    text = unicodedata.normalize("NFKC", name).upper()
    return re.sub(r"[^0-9A-Z\u4e00-\u9fff]+", "", text)


def _norm_serial(value: str) -> str:
    return re.sub(r"[^A-Z0-9]", "", value.upper()).translate(_TO_DIGIT)


def _name_words(name: str) -> set[str]:
    words = re.findall(r"[0-9A-Z\u4e00-\u9fff]{4,}", unicodedata.normalize("NFKC", name).upper())
    return {w for w in words if w not in GENERIC_NAME_WORDS}


def claim_findings(analysis: Analysis) -> tuple[list[Finding], list[str]]:
    """Mismatches between the upload's claims and the document; and the claims compared."""
    claimed = analysis.event.claimed
    fields = analysis.extraction.fields
    text = analysis.reading.text
    out: list[Finding] = []
    compared: list[str] = []

    def mismatch(name: str, message: str, evidence: dict) -> None:
        f = fields.get(name)
        # a value OCR'd with doubt may be the misread one: noted, not held against the seller
        if f is None or f.source != "ocr":
            doubt = False
        elif f.box is None:  # inferred (currency from symbols) or spread over a line
            doubt = f.confidence < TRUSTED_CLAIM_CONFIDENCE
        else:
            doubt = _ocr_confidence(analysis, f.page, f.box) < TRUSTED_CLAIM_CONFIDENCE
        severity, score = ("info", 0.2) if doubt else ("medium", 0.6)
        out.append(Finding(code="claim_mismatch", severity=severity, score=score, message=message,
                           page=f.page if f else None, box=f.box if f else None,
                           evidence={"field": name, **evidence}))

    if claimed.get("total") and fields.get("total"):
        want, have = _decimal(claimed["total"]), _decimal(str(fields["total"].value))
        if want is not None and have is not None:
            compared.append("total")
            printed = {abs(a.value) for a in find_amounts(text) if a.has_decimals}
            near = any(one_digit_apart(f"{want:.2f}", f"{p:.2f}") for p in printed | {have})
            rounding = abs(want - have) <= CASH_ROUNDING
            if abs(want - have) > AMOUNT_TOLERANCE and want not in printed and not near and not rounding:
                mismatch("total", f"The seller claimed a total of {want:.2f}, but the document's "
                         f"total is {have:.2f}.", {"claimed": claimed["total"], "document": f"{have:.2f}"})
    if claimed.get("date") and fields.get("date") and not fields["date"].extra.get("repaired"):
        want_d = _claimed_date(claimed["date"])
        have_d = str(fields["date"].value)
        if want_d:
            compared.append("date")
            printed_dates = {d.iso for d in find_dates(text)}
            near = any(one_digit_apart(want_d, d) for d in printed_dates | {have_d})
            if want_d != have_d and want_d not in printed_dates and not near:
                mismatch("date", f"The seller claimed the purchase was on {want_d}, but the "
                         f"document is dated {have_d}.", {"claimed": claimed["date"], "document": have_d})
    if claimed.get("currency") and fields.get("currency"):
        want_c, have_c = claimed["currency"].strip().upper(), str(fields["currency"].value).upper()
        if re.fullmatch(r"[A-Z]{3}", want_c):
            compared.append("currency")
            if want_c != have_c:
                mismatch("currency", f"The seller claimed an amount in {want_c}, but the document "
                         f"is in {have_c}.", {"claimed": want_c, "document": have_c})
    if claimed.get("serial") and fields.get("serial"):
        want_s, have_s = _norm_serial(claimed["serial"]), _norm_serial(str(fields["serial"].value))
        if want_s:
            compared.append("serial")
            in_text = want_s in _norm_serial(text)
            if want_s != have_s and not in_text and not one_digit_apart(want_s, have_s):
                mismatch("serial", f"The seller claimed document number {claimed['serial']}, but "
                         f"the document's number is {fields['serial'].value}.",
                         {"claimed": claimed["serial"], "document": str(fields["serial"].value)})
    if claimed.get("merchant") and fields.get("merchant"):
        want_m, have_m = _norm_name(claimed["merchant"]), _norm_name(str(fields["merchant"].value))
        if want_m and have_m:
            compared.append("merchant")
            alike = SequenceMatcher(None, want_m, have_m).ratio() >= MERCHANT_SIMILARITY
            shared = _name_words(claimed["merchant"]) & _name_words(text)
            contained = shared or want_m in have_m or have_m in want_m or any(
                SequenceMatcher(None, want_m, _norm_name(ln.text)).ratio() >= MERCHANT_SIMILARITY
                for _p, ln in analysis.reading.lines()[:MERCHANT_LINES])
            if not alike and not contained:
                mismatch("merchant", f"The seller claimed the merchant is {claimed['merchant']}, "
                         f"but the document was issued by {fields['merchant'].value}.",
                         {"claimed": claimed["merchant"], "document": str(fields["merchant"].value)})
    return out, compared


class DatesClaimsDetector:
    """Impossible dates, dates after the upload, and the seller's claims against the document."""

    name = "dates_claims"

    def run(self, analysis: Analysis, store: StoreView) -> CheckResult:
        findings = impossible_date_findings(analysis)
        future = future_date_finding(analysis)
        if future is not None:
            findings.append(future)
        claims, compared = claim_findings(analysis)
        findings += claims
        has_date = analysis.extraction.fields.get("date") is not None
        if not has_date and not compared and not findings:
            why = "no date read" + (", and the claims could not be compared"
                                     if analysis.event.claimed else " and nothing claimed")
            return CheckResult.skipped(why)
        return CheckResult(tuple(findings), "done")


#: the module-level detector the pipeline runs
detector = DatesClaimsDetector()
