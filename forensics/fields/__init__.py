"""Field extraction: from a :class:`~forensics.model.Reading` to the contract's named fields.

:func:`extract` reads every field of CONTRACT.md section 3 that the document carries, each with
its normalised ``value``, the ``raw`` text, a confidence, the page and the box. Fields the
document lacks are absent. When the document embeds a Factur-X / ZUGFeRD / XRechnung / UBL
XML, the XML's value is the main one of every field it states (``source="xml"``); the visible
text's reading stays in ``alternatives[name]["text"]`` and the XML's in ``["xml"]``.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import replace
from decimal import Decimal

from forensics.fields.amounts import AmountMatch, currency_for, find_amounts, format_amount
from forensics.fields.dates import date_order, find_dates, find_times, repair_dates
from forensics.fields.einvoice import parse_einvoice
from forensics.fields.fapiao import fapiao_parties, fapiao_sums
from forensics.fields.items import find_line_items
from forensics.fields.layout import TextLine, text_lines
from forensics.fields.merchant import find_merchant
from forensics.fields.phone import find_merchant_phone
from forensics.fields.regno import find_merchant_reg_no
from forensics.fields.serials import find_invoice_code, find_serial
from forensics.fields.spelling import correct_address, correct_name
from forensics.fields.taxids import find_tax_ids, validate_tax_id
from forensics.fields.totals import find_totals
from forensics.model import Document, Extraction, Field, Reading, union_box

__all__ = ["extract", "detect_locale", "validate_tax_id"]

#: words that give a document's language away, by locale
_LOCALE_WORDS = {
    "de": re.compile(r"\b(Rechnung|Rechnungsnummer|MwSt|USt|Summe|Betrag|Gesamtbetrag|Datum|Menge|Kunde|Steuer)\b"),
    "fr": re.compile(r"\b(Facture|TVA|Montant|Total TTC|HT|Date de|Quantité|Client|Avoir|Net à payer)\b"),
}
#: labels of the issue date (bonus) and of other dates (malus: due, delivery, period)
ISSUE_DATE_LABEL = re.compile(
    r"(invoice\s*date|date\s*of\s*issue|bill\s*date|receipt\s*date|rechnungsdatum|belegdatum|"
    r"date\s*de\s*(?:la\s*)?facture|date\s*d'émission|开票日期|\bdate\b|\bdatum\b|\btarikh\b|日期)",
    re.IGNORECASE,
)
#: added to a date's score when the same date is printed again elsewhere
REPEAT_BONUS = 0.3
OTHER_DATE_LABEL = re.compile(
    r"(due|fällig|zahlbar|échéance|echeance|liefer|delivery|livraison|leistung|period|zeitraum|"
    r"expir|valid|gültig|birth|order\s*date|bestell)",
    re.IGNORECASE,
)
PAYMENT_WORDS: list[tuple[str, re.Pattern[str]]] = [
    ("card", re.compile(r"\b(VISA|MASTER\s*CARD|MASTERCARD|MASTER|AMEX|DEBIT|CREDIT\s*CARD|CARD|EC[\s-]?KARTE|GIROCARD|KARTE|CARTE\s*BANCAIRE|CB)\b|银行卡", re.IGNORECASE)),
    ("ewallet", re.compile(r"\b(E-?WALLET|TOUCH\s*'?N\s*GO|GRABPAY|BOOST|PAYPAL|APPLE\s*PAY|GOOGLE\s*PAY)\b|微信|支付宝", re.IGNORECASE)),
    ("transfer", re.compile(r"\b(BANK\s*TRANSFER|ÜBERWEISUNG|UEBERWEISUNG|VIREMENT|SEPA|IBAN)\b", re.IGNORECASE)),
    ("cash", re.compile(r"\b(CASH|TUNAI|BAR|BARZAHLUNG|ESPÈCES|ESPECES)\b|现金", re.IGNORECASE)),
]
CARD_LAST4 = re.compile(r"(?:[X*•#]{4}[\s-]?){2,3}[X*•#]{0,4}[\s-]?(?P<d>\d{4})\b|(?:card|karte|carte)\s*(?:no\.?|nr\.?|#)?\s*[:.]?\s*[X*•#.]+\s?(?P<d2>\d{4})\b", re.IGNORECASE)
BUYER_LABEL = re.compile(
    r"^\s*(bill\s*to|sold\s*to|invoice\s*to|customer|buyer|kunde|rechnungsempfänger|"
    r"empfänger|client|acheteur|destinataire|购买方|购方)\s*(?:name)?\s*[:：]?\s*",
    re.IGNORECASE,
)
FAPIAO = re.compile(r"发票|價稅合計|价税合计|发票代码|发票号码")


def detect_locale(text: str) -> str:
    """A coarse locale guess from the text: ``zh``, ``de``, ``fr`` or ``en``."""
    if len(re.findall(r"[\u4e00-\u9fff]", text)) >= 4:
        return "zh"
    scores = {loc: len(p.findall(text)) for loc, p in _LOCALE_WORDS.items()}
    best = max(scores.items(), key=lambda kv: kv[1])
    return best[0] if best[1] >= 2 else "en"


def _field(name: str, value: object, raw: str, conf: float, line: TextLine, start: int, end: int, source: str, **extra: object) -> Field:
    return Field(name, value, raw, round(conf, 3), line.page, line.span_box(start, end), source, dict(extra))


def extract(reading: Reading, document: Document, *, locale_hint: str | None = None) -> Extraction:
    """Every contract field the document carries, with the embedded XML's as alternatives."""
    lines = text_lines(reading)
    sources = {p.page: p.source for p in reading.pages}
    text = reading.text
    locale = locale_hint or detect_locale(text)
    lang = locale[:2]
    decimal_comma = True if lang in ("de", "fr") else None
    fields: dict[str, Field] = {}

    def src(line: TextLine) -> str:
        return sources.get(line.page, "ocr")

    name, address = find_merchant(lines) if lines else (None, None)
    if name:
        first = name.lines[0]
        fields["merchant"] = Field(
            "merchant", correct_name(name.value), " / ".join(ln.text for ln in name.lines), round(name.confidence, 3),
            first.page, union_box([ln.box for ln in name.lines]), src(first),
        )
    if address:
        first = address.lines[0]
        fields["merchant_address"] = Field(
            "merchant_address", correct_address(address.value), " / ".join(ln.text for ln in address.lines), round(address.confidence, 3),
            first.page, union_box([ln.box for ln in address.lines]), src(first),
        )

    reg = find_merchant_reg_no(lines)
    if reg:
        line, r = reg
        fields["merchant_reg_no"] = _field("merchant_reg_no", r.value, r.raw, line.span_confidence(r.start, r.end) * (1.0 if r.labelled else 0.8),
                                           line, r.start, r.end, src(line), scheme=r.scheme, valid=r.valid)
    phone = find_merchant_phone(lines)
    if phone:
        line, ph = phone
        fields["merchant_phone"] = _field("merchant_phone", ph.value, ph.raw, line.span_confidence(ph.start, ph.end) * (1.0 if ph.labelled else 0.8),
                                          line, ph.start, ph.end, src(line))
    _serials(lines, fields, src)
    _dates(lines, fields, src, locale)
    _tax_ids(lines, fields, src)
    _payment(lines, fields, src)

    for key, (line, match, conf) in find_totals(lines, decimal_comma=decimal_comma).items():
        fields[key] = _field(key, format_amount(match.value), match.raw, conf * line.span_confidence(match.start, match.end), line, match.start, match.end, src(line))
    rate = _tax_rate(lines)
    if rate:
        line, m = rate
        fields["tax_rate"] = _field("tax_rate", format_amount(Decimal(m.group(1).replace(",", "."))), m.group(0), line.confidence, line, m.start(), m.end(), src(line))

    default_dollar = "SGD" if re.search(r"\bSINGAPORE\b", text, re.IGNORECASE) else "USD"
    code = currency_for(text, default_dollar=default_dollar)
    if code is None and "total" in fields:
        code = {"de": "EUR", "fr": "EUR", "zh": "CNY"}.get(lang)
        if code is None and re.search(r"\b(GST|SST)\b", text) and re.search(r"\b(SDN|BHD|MALAYSIA|JALAN)\b", text, re.IGNORECASE):
            code = "MYR"
    if code:
        fields["currency"] = Field("currency", code, code, 0.8, None, None, "ocr" if not lines else src(lines[0]))

    buyer = _buyer(lines)
    if buyer:
        line, value = buyer
        fields["buyer"] = _field("buyer", value, line.text, line.confidence, line, 0, len(line.text), src(line))

    items = find_line_items(lines, decimal_comma=decimal_comma)
    if items:
        fields["line_items"] = Field("line_items", items, "", 0.5, lines[0].page, None, src(lines[0]))

    # (OCR spaces Chinese characters apart in the page text; the lines join them again)
    if "invoice_code" in fields or any(FAPIAO.search(ln.text) for ln in lines):
        _fapiao_parties(lines, fields, src)

    doc_type = _document_type(text, fields, document)
    if doc_type:
        fields["document_type"] = Field("document_type", doc_type, doc_type, 0.7, None, None, src(lines[0]) if lines else "ocr")

    alternatives: dict[str, dict[str, Field]] = {}
    xml = document.pdf.einvoice_xml if document is not None and document.pdf is not None else None
    if xml:
        _prefer_xml(parse_einvoice(xml), fields, alternatives)
    return Extraction(fields, alternatives)


#: the fields each fapiao party's items fill
PARTY_FIELDS = {"seller": {"name": "merchant", "tax_id": "merchant_tax_id", "address": "merchant_address",
                           "phone": "merchant_phone"},
                "buyer": {"name": "buyer", "tax_id": "buyer_tax_id"}}


def _fapiao_parties(lines: list[TextLine], fields: dict[str, Field], src) -> None:  # noqa: ANN001
    """A fapiao's seller block is the merchant and its buyer block the buyer, and its 合计 line
    the subtotal and tax: what they state replaces what the generic rules took."""
    sums = fapiao_sums(lines)
    if sums:
        line, subtotal, tax = sums
        for key, a in (("subtotal", subtotal), ("tax", tax)):
            fields[key] = _field(key, format_amount(a.value), a.raw, line.span_confidence(a.start, a.end), line, a.start, a.end, src(line))
    for role, party in fapiao_parties(lines).items():
        for item, key in PARTY_FIELDS[role].items():
            span = getattr(party, item)
            if span is not None:
                fields[key] = _field(key, span.value, span.raw, span.line.span_confidence(span.start, span.end),
                                     span.line, span.start, span.end, src(span.line), **span.extra)
            elif item == "tax_id" and party.name and key in fields and fields[key].page == party.name.line.page:
                fields.pop(key)  # the generic rule gave this party the other party's id
            elif item == "address":
                fields.pop(key, None)  # a fapiao's address is in its seller block, not its head


def _prefer_xml(xml_fields: dict[str, Field], fields: dict[str, Field], alternatives: dict[str, dict[str, Field]]) -> None:
    """Make the embedded XML's value the main one of every field it states.

    The XML is the invoice's machine-readable statement, written by the issuer's software, so
    it is authoritative over our reading of the visible text. The visible reading is kept in
    ``alternatives[name]["text"]`` (the XML's in ``["xml"]``) so that a detector can compare
    the two; when both agree the main field keeps the visible text's page and box.
    """
    for key, xml_field in xml_fields.items():
        alternatives.setdefault(key, {})["xml"] = xml_field
        seen = fields.get(key)
        if seen is not None:
            alternatives[key]["text"] = seen
            if _same_value(seen.value, xml_field.value):
                xml_field = replace(xml_field, page=seen.page, box=seen.box, raw=seen.raw or xml_field.raw)
        fields[key] = xml_field


def _same_value(a: object, b: object) -> bool:
    if isinstance(a, str) and isinstance(b, str):
        return re.sub(r"[^0-9A-Z]", "", a.upper()) == re.sub(r"[^0-9A-Z]", "", b.upper())
    return a == b


def _serials(lines: list[TextLine], fields: dict[str, Field], src) -> None:  # noqa: ANN001
    for i, line in enumerate(lines):
        if "invoice_code" not in fields and (code := find_invoice_code(line.text)):
            fields["invoice_code"] = _field("invoice_code", code.value, code.raw, line.span_confidence(code.start, code.end), line, code.start, code.end, src(line))
        if "serial" in fields:
            continue
        m = find_serial(line.text)
        if m:
            fields["serial"] = _field("serial", m.value, m.raw, line.span_confidence(m.start, m.end), line, m.start, m.end, src(line), label=m.label)
        elif i + 1 < len(lines) and re.search(r"(?:no|nr|nummer|n°|#|号码)\.?\s*[:：]?\s*$", line.text, re.IGNORECASE):
            # label at the end of a line, value on the next one (text layers of tables)
            nxt = lines[i + 1]
            m = find_serial(re.sub(r"\s+$", "", line.text) + " " + nxt.text.split(" ")[0]) if nxt.text else None
            if m:
                token = nxt.text.split(" ")[0]
                fields["serial"] = _field("serial", m.value, token, nxt.span_confidence(0, len(token)), nxt, 0, len(token), src(nxt), label=m.label)


def _dates(lines: list[TextLine], fields: dict[str, Field], src, locale: str) -> None:  # noqa: ANN001
    best: tuple[float, TextLine, object] | None = None
    n = max(len(lines), 1)
    if date_order([ln.text for ln in lines]) == "mdy":
        locale = "en_US"  # the document itself writes month first (e.g. a due date 11/17/2017)
    found = [(idx, line, d) for idx, line in enumerate(lines) for d in find_dates(line.text, locale=locale)]
    if not found:  # no date reads as valid: one put right from a single OCR slip, if any
        found = [(idx, line, d) for idx, line in enumerate(lines) for d in repair_dates(line.text, locale=locale)]
    printed = Counter(d.iso for _, _, d in found)
    for idx, line, d in found:
        before = line.text[: d.start]
        score = d.confidence - 0.3 * idx / n
        # the same date printed again (a till roll repeats it at the foot): a misread copy
        # stands alone
        score += REPEAT_BONUS * min(printed[d.iso] - 1, 1)
        if ISSUE_DATE_LABEL.search(before):
            score += 1.0
        if OTHER_DATE_LABEL.search(before) or (idx > 0 and OTHER_DATE_LABEL.search(lines[idx - 1].text) and not before.strip()):
            score -= 1.5
        if best is None or score > best[0]:
            best = (score, line, d)
    if best is None:
        return
    _, line, d = best
    # a repaired date (one OCR slip put right) says so: detectors do not build findings on it
    extra = {"repaired": True} if d.form == "repaired" else {}
    fields["date"] = _field("date", d.iso, d.raw, d.confidence * line.span_confidence(d.start, d.end), line, d.start, d.end, src(line), **extra)
    times = [t for t in find_times(line.text) if not (t.start < d.end and d.start < t.end)]
    if not times:
        for other in lines:
            times = find_times(other.text)
            if times:
                line = other
                break
    if times:
        t = times[0]
        fields["time"] = _field("time", t.value, t.raw, line.span_confidence(t.start, t.end), line, t.start, t.end, src(line))


def _tax_ids(lines: list[TextLine], fields: dict[str, Field], src) -> None:  # noqa: ANN001
    in_buyer = -1
    for i, line in enumerate(lines):
        if BUYER_LABEL.search(line.text):
            in_buyer = i
        for t in find_tax_ids(line.text):
            is_buyer = 0 <= in_buyer and i - in_buyer <= 6 or re.search(r"(customer|kunde|client|购买方|buyer)", line.text, re.IGNORECASE)
            key = "buyer_tax_id" if is_buyer else "merchant_tax_id"
            if key in fields and (fields[key].extra.get("valid") or not t.valid):
                continue
            fields[key] = _field(key, t.value, t.raw, line.span_confidence(t.start, t.end), line, t.start, t.end, src(line), scheme=t.scheme, valid=t.valid)


def _payment(lines: list[TextLine], fields: dict[str, Field], src) -> None:  # noqa: ANN001
    for line in lines:
        m = CARD_LAST4.search(line.text)
        if m and "card_last4" not in fields:
            g = "d" if m.group("d") else "d2"
            fields["card_last4"] = _field("card_last4", m.group(g), m.group(0), line.confidence, line, m.start(g), m.end(g), src(line))
    # the method is the one named on a line that also carries an amount (the tender line)
    for method, pattern in PAYMENT_WORDS:
        for line in lines:
            m = pattern.search(line.text)
            if m and find_amounts(line.text[m.end() :]):
                fields["payment_method"] = _field("payment_method", method, m.group(0), line.confidence, line, m.start(), m.end(), src(line))
                return
    if "card_last4" in fields:
        line = next(ln for ln in lines if ln.page == fields["card_last4"].page)
        fields["payment_method"] = Field("payment_method", "card", fields["card_last4"].raw, 0.5, fields["card_last4"].page, fields["card_last4"].box, src(line))


def _tax_rate(lines: list[TextLine]) -> tuple[TextLine, re.Match[str]] | None:
    for line in lines:
        if re.search(r"(gst|sst|vat|tax|mwst|ust|tva|税率|steuer)", line.text, re.IGNORECASE):
            m = re.search(r"(?<![\d.,])(\d{1,2}(?:[.,]\d{1,2})?)\s?%", line.text)
            if m:
                return line, m
    return None


def _buyer(lines: list[TextLine]) -> tuple[TextLine, str] | None:
    for i, line in enumerate(lines):
        m = BUYER_LABEL.search(line.text)
        if not m:
            continue
        rest = line.text[m.end() :].strip()
        if sum(c.isalpha() for c in rest) >= 3:
            return line, rest
        if i + 1 < len(lines) and sum(c.isalpha() for c in lines[i + 1].text) >= 3:
            return lines[i + 1], lines[i + 1].text.strip()
    return None


def _document_type(text: str, fields: dict[str, Field], document: Document | None) -> str | None:
    if "invoice_code" in fields or FAPIAO.search(text):
        return "fapiao"
    if re.search(r"\bauthori[sz]ation\s*letter|letter\s*of\s*authori[sz]ation|authori[sz]ed\s*(dealer|distributor|reseller)", text, re.IGNORECASE):
        return "authorisation"
    pos = re.search(r"\b(CASH|CHANGE|TENDERED|CASHIER|RECEIPT|QUITTUNG|KASSENBON|BON|TICKET|REÇU|收据)\b", text, re.IGNORECASE)
    invoice = re.search(r"\b(INVOICE|RECHNUNG|FACTURE|AVOIR|GUTSCHRIFT)\b", text, re.IGNORECASE)
    if invoice and ("buyer" in fields or "buyer_tax_id" in fields or not pos):
        return "invoice"
    if pos or "total" in fields:
        return "receipt"
    if document is not None and document.pdf is not None and document.pdf.einvoice_xml:
        return "invoice"
    return "other" if text.strip() else None


_ = AmountMatch  # re-exported type of find_totals' matches
