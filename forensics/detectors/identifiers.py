"""Identifiers: check digits of printed ids, and barcodes/QR codes against the printed text.

- Tax ids (GB 32100-2015 unified social credit code, EU VAT numbers, UK VAT) read as fields or
  found labelled in the text; card numbers printed in full (Luhn); EAN-13/UPC-A/EAN-8 numbers
  printed with an EAN/GTIN/UPC label. A wrong check digit is ``invalid_identifier``: high for
  the issuer's own ids, low for the buyer's tax id (``buyer_tax_id``), which the issuer types in
  from what its customer tells it; a forger has no reason to spoil it, and a mistyped customer
  number is common on honest invoices (9 of the 47 specimen PDFs in bench/quality.py carry
  DE999999999 as the buyer's). An OCR'd id
  read with low confidence whose wrong digit is a common OCR confusion is not flagged: the
  scanner, not the forger, is the likelier culprit; unless a second, independent reading of the
  field's box (:func:`forensics.ocr.read_box`) reads the same id, since two readings seldom
  make one slip alike.
- Barcodes and QR codes decoded on the page (pyzbar when libzbar is installed, else OpenCV;
  on a PDF page only where its objects can draw a code, :func:`forensics.pdf.code_regions`)
  are compared with the printed serial, total and date: a Chinese fapiao's QR code states
  invoice number, amount and date; other codes are compared when they carry ``key=value``
  pairs or a serial-like token. A disagreement is ``barcode_mismatch``.

The check-digit algorithms live in :mod:`forensics.fields.taxids` (one implementation).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import numpy as np

from forensics.detectors import Analysis, StoreView
from forensics.fields.taxids import ean_valid, find_tax_ids, luhn_valid, validate_tax_id
from forensics.model import Box, CheckResult, Field, Finding, Page, Word, boxes_overlap
from forensics.ocr import read_page_box

log = logging.getLogger(__name__)

#: OCR word confidence (0..1) at or above which a misread is not considered for an invalid id
TRUSTED_WORD_CONFIDENCE = 0.9
#: characters Tesseract confuses with each other inside ids (both directions)
OCR_CONFUSIONS: dict[str, str] = {
    "0": "O8D69Q", "O": "0DQ", "D": "0O", "Q": "0O", "1": "7IL", "7": "1", "I": "1L", "L": "1I",
    "8": "0369B", "3": "8", "6": "085G", "9": "08", "5": "6S", "S": "5", "B": "8", "2": "Z7",
    "Z": "2", "G": "6", "4": "A", "A": "4",
}
#: card numbers: 13-19 digits, optionally grouped by spaces or dashes
CARD_RE = re.compile(r"(?<![\d*Xx])(?:\d[ -]?){12,18}\d(?![\d*])")
#: words on a line that announce a payment card
CARD_LABEL = re.compile(r"\b(?:VISA|MASTER\s*CARD|MASTERCARD|MASTER|AMEX|AMERICAN EXPRESS|CARD|"
                        r"KARTE|CARTE|CB|MAESTRO|DEBIT|CREDIT|UNIONPAY|JCB|DINERS|DISCOVER)\b", re.I)
#: card number prefixes (IIN ranges) of the big schemes, as regexes on the digits
CARD_IIN = re.compile(r"^(?:4|5[1-5]|2[2-7]|3[47]|6011|65|62|35|30[0-5]|36|38)")
#: a printed EAN/UPC: label then 8, 12 or 13 digits
EAN_RE = re.compile(r"\b(?:EAN|GTIN|UPC|EAN-?13|EAN-?8)\b\W{0,4}(\d[\d ]{6,16}\d)", re.I)
#: fields compared with barcode contents
CODE_KEYS: dict[str, re.Pattern[str]] = {
    "total": re.compile(r"\b(?:total|amount|amt|sum|betrag|montant|importe|gesamt|price)\s*[=:]\s*"
                        r"([-\d.,]+)", re.I),
    "date": re.compile(r"\b(?:date|datum|dt|fecha)\s*[=:]\s*([\d\-./]{6,10})", re.I),
    "serial": re.compile(r"\b(?:no|nr|number|invoice|inv|receipt|bill|serial|beleg|rechnung|"
                         r"ticket|txn|trans)\s*[=:]\s*([A-Za-z0-9\-/]{3,})", re.I),
}
#: digit pairs Tesseract confuses (after letters were mapped to their look-alike digits)
CONFUSABLE_DIGITS = frozenset(frozenset(p) for p in (
    "08", "06", "09", "17", "14", "38", "56", "58", "68", "89", "27", "39", "03", "35", "12"))
#: symbologies decoded with zbar (its DataBar decoder trips assertions on receipt noise)
ZBAR_SYMBOLS = ("EAN13", "EAN8", "UPCA", "UPCE", "CODE128", "CODE39", "CODE93", "I25", "QRCODE")
#: zbar's scan density: every pixel row is scanned (horizontal lines cross the bars of a printed
#: barcode), every 2nd column (vertical lines: QR finder patterns, codes printed sideways). On the
#: 220 SROIE scans and 47 invoice PDFs (300 DPI): the same 6 symbols with the same boxes as zbar's
#: default of every row and column, at 0.78x its CPU (12.2 s vs 15.6 s). Every 4th column (0.64x)
#: lost QR codes of 3-4 px modules (zbar's default reads them from 3 px); every 4th row lost a
#: barely readable code128 (5 of 6); a 2x reduced page lost 4 of the 6 (zbar's default density).
#: PDF pages are scanned at their render DPI: rendered at 150 DPI, vector QR codes of 0.38-0.66 mm
#: modules still read at these densities, but the dev PDFs carry no barcode to measure 1D codes on
ZBAR_ROW_DENSITY, ZBAR_COLUMN_DENSITY = 1, 2
#: share of same characters (position by position) above which a code token is "the serial with
#: a few characters changed" rather than an unrelated number
SERIAL_SIMILARITY = 0.6


@dataclass(frozen=True)
class Symbol:
    """One decoded barcode or QR code."""

    kind: str
    data: str
    page: int
    box: Box | None


# --------------------------------------------------------------------------- check digits


def _compact(value: str) -> str:
    return re.sub(r"[\s.\-]", "", value.upper())


def ocr_variants(value: str) -> list[str]:
    """``value`` with any one character replaced by a character OCR confuses it with."""
    out = []
    for i, ch in enumerate(value):
        for alt in OCR_CONFUSIONS.get(ch, ""):
            out.append(value[:i] + alt + value[i + 1:])
    return out


def _words_in(words: tuple[Word, ...], box: Box) -> list[Word]:
    return [w for w in words if w.box[0] < box[2] and box[0] < w.box[2]
            and w.box[1] < box[3] and box[1] < w.box[3]]


def ocr_confidence(analysis: Analysis, page: int | None, box: Box | None) -> float | None:
    """Lowest OCR confidence of the words printed in ``box`` (None: not an OCR'd page)."""
    for p in analysis.reading.pages:
        if p.page == page and p.source == "ocr" and box is not None:
            ws = _words_in(p.words, box)
            return min((w.confidence for w in ws), default=None)
    return None


def _misread_explains(value: str, scheme: str, confidence: float | None) -> bool:
    """True when an OCR misread could explain a failed check (so it is not flagged)."""
    if confidence is None or confidence >= TRUSTED_WORD_CONFIDENCE:
        return False
    for variant in ocr_variants(value):
        try:
            if validate_tax_id(variant, scheme):
                return True
        except ValueError:
            return True
    return False


def _read_again_alike(analysis: Analysis, page_no: int | None, box: Box | None, value: str) -> bool:
    """Does a second, independent reading of ``box`` read the same id? Then OCR is not the
    likelier explanation of its failed check: two readings seldom make one slip alike."""
    return value in _compact(read_page_box(analysis.document, page_no, box, analysis.settings))


def scheme_name(scheme: str) -> str:
    """A tax id scheme in words: "EU VAT number", "GST registration number"."""
    return {"CN_USCC": "unified social credit code", "EU_VAT": "EU VAT number",
            "GB_VAT": "UK VAT number", "MY_GST": "GST registration number",
            "MY_SST": "SST registration number"}.get(scheme, scheme or "tax id")


def tax_id_findings(analysis: Analysis) -> tuple[list[Finding], int]:
    """Invalid tax ids among the fields and the labelled ids in the text; and how many were checked."""
    out: list[Finding] = []
    checked = 0
    seen: set[str] = set()
    fields = analysis.extraction.fields
    for name in ("merchant_tax_id", "buyer_tax_id"):
        f = fields.get(name)
        if f is None or not f.value:
            continue
        scheme = str(f.extra.get("scheme") or "").upper()
        value = _compact(str(f.value))
        seen.add(value)
        try:
            valid = validate_tax_id(value, scheme)
        except ValueError:
            continue  # a scheme without a check we know
        checked += 1
        conf = ocr_confidence(analysis, f.page, f.box) if f.source == "ocr" else None
        if valid or _misread_explains(value, scheme, conf) and not _read_again_alike(analysis, f.page, f.box, value):
            continue
        if name == "merchant_tax_id":
            severity, message = "high", (f"The merchant's {scheme_name(scheme)} {value} has a wrong "
                                         "check digit, so it cannot have been issued.")
        else:
            severity, message = "low", (f"The buyer's {scheme_name(scheme)} {value} has a wrong check "
                                        "digit: an issuer mistyping its customer's number is as "
                                        "likely as a forger, so this alone does not flag the document.")
        out.append(Finding(
            code="invalid_identifier", severity=severity, score=0.8,
            message=message,
            page=f.page, box=f.box,
            evidence={"field": name, "value": value, "scheme": scheme, "source": f.source}))
    for page in analysis.reading.pages:
        for line in page.lines():
            for m in find_tax_ids(line.text):
                value = _compact(m.value)
                if value in seen or not m.labelled or m.scheme in ("MY_GST", "MY_SST"):
                    continue
                seen.add(value)
                checked += 1
                conf = line.confidence if page.source == "ocr" else None
                if m.valid or _misread_explains(value, m.scheme, conf) and not _read_again_alike(
                        analysis, page.page, line.box, value):
                    continue
                out.append(Finding(
                    code="invalid_identifier", severity="high", score=0.75,
                    message=f"The {scheme_name(m.scheme)} {value} printed on the document has a "
                            "wrong check digit, so it cannot have been issued.",
                    page=page.page, box=line.box,
                    evidence={"value": value, "scheme": m.scheme, "source": page.source}))
    return out, checked


def number_findings(analysis: Analysis) -> tuple[list[Finding], int]:
    """Full card numbers failing Luhn and labelled EAN/UPC numbers failing their check digit."""
    out: list[Finding] = []
    checked = 0
    for page in analysis.reading.pages:
        for line in page.lines():
            text = line.text
            trusted = page.source != "ocr" or line.confidence >= TRUSTED_WORD_CONFIDENCE
            if CARD_LABEL.search(text):
                for m in CARD_RE.finditer(text):
                    digits = re.sub(r"\D", "", m.group(0))
                    if not CARD_IIN.match(digits):
                        continue
                    checked += 1
                    if luhn_valid(digits) or not trusted:
                        continue
                    out.append(Finding(
                        code="invalid_identifier", severity="medium", score=0.6,
                        message=f"The card number {digits[:6]}...{digits[-4:]} printed on the "
                                "receipt fails the Luhn check that every real card number passes.",
                        page=page.page, box=line.box,
                        evidence={"kind": "card_number", "iin": digits[:6], "last4": digits[-4:]}))
            for m in EAN_RE.finditer(text):
                digits = re.sub(r"\D", "", m.group(1))
                if len(digits) not in (8, 12, 13):
                    continue
                checked += 1
                if ean_valid(digits) or not trusted:
                    continue
                out.append(Finding(
                    code="invalid_identifier", severity="medium", score=0.55,
                    message=f"The product code {digits} has a wrong EAN/UPC check digit.",
                    page=page.page, box=line.box, evidence={"kind": "ean", "value": digits}))
    return out, checked


# --------------------------------------------------------------------------- barcodes


def decoder_name() -> str:
    """Which barcode decoder this process uses: ``pyzbar`` or ``opencv``."""
    try:
        from pyzbar import pyzbar  # noqa: F401
    except (ImportError, OSError):  # OSError: the pip package without libzbar
        return "opencv"
    return "pyzbar"


def decode_symbols(image: Any, page: int) -> list[Symbol]:
    """Every barcode and QR code readable on a page image."""
    gray = np.asarray(image.convert("L"))
    if decoder_name() == "pyzbar":
        out = []
        for s in _zbar_decode(gray):
            r = s.rect
            out.append(Symbol(s.type, s.data.decode("utf-8", "replace"), page,
                              (r.left, r.top, r.left + r.width, r.top + r.height)))
        return out
    return _decode_opencv(gray, page)


def page_symbols(page: Page) -> list[Symbol]:
    """The codes on a page image: only inside its :attr:`Page.code_regions` when the PDF says
    where a code can be drawn (a page of text and rules: none, and no pixel is read), else on
    the whole page. Region boxes are in page pixels; a code found twice (regions whose quiet
    zones overlap) counts once."""
    assert page.image is not None
    if page.code_regions is None:
        return decode_symbols(page.image, page.number)
    out: list[Symbol] = []
    for x0, y0, x1, y1 in page.code_regions:
        for s in decode_symbols(page.image.crop((x0, y0, x1, y1)), page.number):
            box = None if s.box is None else (s.box[0] + x0, s.box[1] + y0, s.box[2] + x0, s.box[3] + y0)
            if not any(o.kind == s.kind and o.data == s.data and _same_place(o.box, box) for o in out):
                out.append(Symbol(s.kind, s.data, s.page, box))
    return out


def _same_place(a: Box | None, b: Box | None) -> bool:
    """Do two codes' boxes overlap (one code read in two regions)?"""
    if a is None or b is None:
        return a is b
    return boxes_overlap(a, b)


def _zbar_decode(gray: np.ndarray) -> list[Any]:
    """``pyzbar.decode`` of :data:`ZBAR_SYMBOLS` at the scan densities above (pyzbar's own
    function scans every row and column and has no setting for it)."""
    from ctypes import c_void_p, cast

    from pyzbar import pyzbar
    from pyzbar import wrapper as zw

    pixels = np.ascontiguousarray(gray, dtype=np.uint8).tobytes()
    height, width = gray.shape
    kinds = {getattr(pyzbar.ZBarSymbol, k) for k in ZBAR_SYMBOLS}
    with pyzbar._image_scanner() as scanner:
        for symbol in set(pyzbar.ZBarSymbol) - kinds:  # as pyzbar.decode: all others off, then on
            zw.zbar_image_scanner_set_config(scanner, symbol, zw.ZBarConfig.CFG_ENABLE, 0)
        for symbol in kinds:
            zw.zbar_image_scanner_set_config(scanner, symbol, zw.ZBarConfig.CFG_ENABLE, 1)
        # symbol 0 (ZBAR_NONE): the setting applies to the scanner itself
        zw.zbar_image_scanner_set_config(scanner, 0, zw.ZBarConfig.CFG_X_DENSITY, ZBAR_COLUMN_DENSITY)
        zw.zbar_image_scanner_set_config(scanner, 0, zw.ZBarConfig.CFG_Y_DENSITY, ZBAR_ROW_DENSITY)
        with pyzbar._image() as img:
            zw.zbar_image_set_format(img, pyzbar._FOURCC["L800"])
            zw.zbar_image_set_size(img, width, height)
            zw.zbar_image_set_data(img, cast(pixels, c_void_p), len(pixels), None)
            if zw.zbar_scan_image(scanner, img) < 0:
                return []
            return list(pyzbar._decode_symbols(pyzbar._symbols_for_image(img)))


def _decode_opencv(gray: np.ndarray, page: int) -> list[Symbol]:
    import cv2

    out: list[Symbol] = []
    ok, infos, points, _ = cv2.QRCodeDetector().detectAndDecodeMulti(gray)
    if ok:
        for info, pts in zip(infos, points, strict=False):
            if info:
                out.append(Symbol("QRCODE", info, page, _pts_box(pts)))
    if hasattr(cv2, "barcode"):
        ok, infos, kinds, points = cv2.barcode.BarcodeDetector().detectAndDecodeWithType(gray)
        if ok:
            for info, kind, pts in zip(infos, kinds, points, strict=False):
                if info:
                    out.append(Symbol(kind.replace("_", ""), info, page, _pts_box(pts)))
    return out


def _pts_box(pts: Any) -> Box | None:
    if pts is None:
        return None
    a = np.asarray(pts).reshape(-1, 2)
    return (int(a[:, 0].min()), int(a[:, 1].min()), int(a[:, 0].max()), int(a[:, 1].max()))


_TO_DIGIT = str.maketrans({"O": "0", "D": "0", "Q": "0", "I": "1", "L": "1", "S": "5", "B": "8",
                           "Z": "2", "G": "6"})


def _norm_serial(value: str) -> str:
    return re.sub(r"[^A-Z0-9]", "", value.upper()).translate(_TO_DIGIT)


def _amount(text: str) -> Decimal | None:
    try:
        return Decimal(text.replace(",", ".")) if re.fullmatch(r"-?\d+(?:[.,]\d{1,2})?", text) else None
    except InvalidOperation:
        return None


def _iso_date(text: str) -> str | None:
    digits = re.sub(r"\D", "", text)
    if len(digits) == 8 and digits[:2] in ("19", "20"):
        return f"{digits[:4]}-{digits[4:6]}-{digits[6:]}"
    return None


def code_claims(symbol: Symbol) -> dict[str, str]:
    """What a code's content says about the document: serial, total/amount, date, invoice_code."""
    data = symbol.data.strip()
    parts = [p.strip() for p in data.split(",")]
    # Chinese VAT invoice QR: 01,type,invoice code,invoice number,amount,YYYYMMDD,check code,crc
    if len(parts) >= 6 and parts[0] == "01" and parts[3].isdigit():
        out = {"invoice_code": parts[2], "serial": parts[3], "amount": parts[4]}
        date = _iso_date(parts[5])
        if date:
            out["date"] = date
        return {k: v for k, v in out.items() if v}
    out = {}
    for key, rx in CODE_KEYS.items():
        m = rx.search(data)
        if m:
            out[key] = m.group(1).strip(".,;")
    return out


def compare_symbol(symbol: Symbol, fields: dict[str, Field]) -> list[str]:
    """Reviewer sentences for each way ``symbol`` disagrees with the printed fields."""
    claims = code_claims(symbol)
    what = "QR code" if "QR" in symbol.kind.upper() else "barcode"
    out = []
    serial = fields.get("serial")
    if serial and serial.value:
        printed = _norm_serial(str(serial.value))
        if "serial" in claims:
            coded = _norm_serial(claims["serial"])
            if coded and printed and not ocr_equal(coded, printed) and not (
                    coded.endswith(printed) or printed.endswith(coded)):
                out.append(f"The {what} says document number {claims['serial']}, but the printed "
                           f"number is {serial.value}.")
        elif not claims:
            near = _near_serial(symbol.data, printed)
            if near:
                out.append(f"The {what} holds {near}, close to but not the printed document "
                           f"number {serial.value}, as if the printed number had been edited.")
    code_field = fields.get("invoice_code")
    if code_field and code_field.value and "invoice_code" in claims:
        if _norm_serial(claims["invoice_code"]) != _norm_serial(str(code_field.value)):
            out.append(f"The {what} says invoice code {claims['invoice_code']}, but the printed "
                       f"code is {code_field.value}.")
    coded_amount = _amount(claims.get("amount") or claims.get("total") or "")
    if coded_amount is not None:
        printed_amounts = {n: Decimal(str(fields[n].value)) for n in ("total", "subtotal")
                           if n in fields and _amount(str(fields[n].value)) is not None}
        if printed_amounts and all(abs(v - coded_amount) > Decimal("0.011")
                                   for v in printed_amounts.values()):
            name, value = next(iter(printed_amounts.items()))
            out.append(f"The {what} says the amount is {coded_amount:.2f}, but the printed "
                       f"{name} is {value:.2f}.")
    coded_date = _iso_date(claims.get("date", "")) if claims.get("date") else None
    date = fields.get("date")
    if coded_date and date and date.value and coded_date != str(date.value):
        out.append(f"The {what} says the document is dated {coded_date}, but the printed date is "
                   f"{date.value}.")
    return out


def ocr_equal(a: str, b: str) -> bool:
    """True when normalised ``a`` and ``b`` differ only in characters OCR confuses."""
    if len(a) != len(b):
        return False
    return all(x == y or frozenset((x, y)) in CONFUSABLE_DIGITS for x, y in zip(a, b, strict=True))


def _near_serial(data: str, printed: str) -> str | None:
    """A token of ``data`` that is ``printed`` with a few characters changed, if any."""
    if len(printed) < 6:
        return None
    tokens = [_norm_serial(t) for t in re.findall(r"[A-Za-z0-9]{4,}", data)]
    if any(printed in t or t == printed for t in tokens):
        return None
    for t in tokens:
        for start in range(0, max(1, len(t) - len(printed) + 1)):
            window = t[start:start + len(printed)]
            if len(window) != len(printed):
                continue
            same = sum(a == b for a, b in zip(window, printed, strict=True)) / len(printed)
            if SERIAL_SIMILARITY <= same < 1 and not ocr_equal(window, printed):
                return window
    return None


def barcode_findings(analysis: Analysis) -> tuple[list[Finding], list[Symbol]]:
    """Decode the codes on every page image and compare them with the printed fields."""
    symbols: list[Symbol] = []
    for page in analysis.document.pages:
        if page.image is not None:
            symbols += page_symbols(page)
    out = []
    for sym in symbols:
        if sym.kind.upper().replace("-", "") in ("EAN13", "EAN8", "UPCA", "UPCE", "ISBN13"):
            continue  # product codes say nothing about this document's serial or total
        for message in compare_symbol(sym, analysis.extraction.fields):
            out.append(Finding(
                code="barcode_mismatch", severity="high", score=0.8, message=message,
                page=sym.page, box=sym.box,
                evidence={"kind": sym.kind, "data": sym.data[:500], "decoder": decoder_name()}))
    return out, symbols


class IdentifiersDetector:
    """Check digits of tax ids, card numbers and product codes; barcodes vs the printed text."""

    name = "identifiers"

    def run(self, analysis: Analysis, store: StoreView) -> CheckResult:
        ids, n_ids = tax_id_findings(analysis)
        numbers, n_numbers = number_findings(analysis)
        codes, symbols = barcode_findings(analysis)
        if n_ids + n_numbers == 0 and not symbols:
            return CheckResult.skipped("no tax id, card number, product code or barcode found")
        return CheckResult(tuple(ids + numbers + codes), "done")


#: the module-level detector the pipeline runs
detector = IdentifiersDetector()
