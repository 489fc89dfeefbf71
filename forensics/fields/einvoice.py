"""Fields from an embedded e-invoice XML: UN/CEFACT CII (Factur-X, ZUGFeRD 1 and 2, XRechnung
CII) and OASIS UBL (XRechnung UBL, Peppol). Every field has ``source="xml"``.

Parsed with the standard library's ElementTree, matching on local names so that the several
namespace versions in use all read the same; no entity expansion, no network.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from decimal import Decimal, InvalidOperation
from typing import Any

from forensics.fields.amounts import format_amount
from forensics.model import Field

#: largest XML accepted (bytes of text); real invoices are far smaller
MAX_XML_CHARS = 5_000_000


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _children(el: ET.Element | None, name: str) -> list[ET.Element]:
    return [c for c in el if _local(c.tag) == name] if el is not None else []


def _child(el: ET.Element | None, *path: str) -> ET.Element | None:
    for name in path:
        found = _children(el, name)
        el = found[0] if found else None
        if el is None:
            return None
    return el


def _first(*els: ET.Element | None) -> ET.Element | None:
    """The first element that exists (ElementTree elements without children are falsy)."""
    return next((e for e in els if e is not None), None)


def _text(el: ET.Element | None, *path: str) -> str | None:
    node = _child(el, *path) if path else el
    if node is None or node.text is None:
        return None
    return node.text.strip() or None


def _amount(text: str | None) -> str | None:
    if text is None:
        return None
    try:
        return format_amount(Decimal(text))
    except InvalidOperation:
        return None


def _date(text: str | None) -> str | None:
    if not text:
        return None
    digits = re.sub(r"\D", "", text)
    if len(digits) >= 8:
        return f"{digits[:4]}-{digits[4:6]}-{digits[6:8]}"
    return None


def parse_einvoice(xml: str) -> dict[str, Field]:
    """Fields of a CII or UBL invoice; an empty dict for XML that is neither (or is broken)."""
    if len(xml) > MAX_XML_CHARS or "<!ENTITY" in xml:
        return {}
    try:
        root = ET.fromstring(xml.lstrip("\ufeff").encode("utf-8"))
    except ET.ParseError:
        return {}
    kind = _local(root.tag)
    if kind in ("CrossIndustryInvoice", "CrossIndustryDocument"):
        values = _cii(root)
    elif kind in ("Invoice", "CreditNote"):
        values = _ubl(root)
    else:
        return {}
    out: dict[str, Field] = {}
    for name, (value, extra) in values.items():
        if value in (None, "", []):
            continue
        raw = value if isinstance(value, str) else ""
        out[name] = Field(name, value, raw, 1.0, None, None, "xml", extra)
    return out


def _party(party: ET.Element | None) -> dict[str, Any]:
    if party is None:
        return {}
    address = _child(party, "PostalTradeAddress")
    parts = [
        _text(address, n)
        for n in ("LineOne", "LineTwo", "LineThree", "PostcodeCode", "CityName", "CountryID")
    ]
    vat = None
    for reg in _children(party, "SpecifiedTaxRegistration"):
        node = _child(reg, "ID")
        if node is not None and node.text:
            scheme = node.get("schemeID", "")
            if scheme == "VA" or vat is None:
                vat = (node.text.strip(), vat_scheme(node.text.strip()) if scheme == "VA" else "NATIONAL")
    return {
        "name": _text(party, "Name"),
        "address": " ".join(p for p in parts if p) or None,
        "vat": vat,
    }


def _cii(root: ET.Element) -> dict[str, tuple[Any, dict[str, Any]]]:
    doc = _first(_child(root, "ExchangedDocument"), _child(root, "HeaderExchangedDocument"))
    trade = _first(_child(root, "SupplyChainTradeTransaction"), _child(root, "SpecifiedSupplyChainTradeTransaction"))
    agreement = _first(_child(trade, "ApplicableHeaderTradeAgreement"), _child(trade, "ApplicableSupplyChainTradeAgreement"))
    settlement = _first(_child(trade, "ApplicableHeaderTradeSettlement"), _child(trade, "ApplicableSupplyChainTradeSettlement"))
    sums = _first(_child(settlement, "SpecifiedTradeSettlementHeaderMonetarySummation"), _child(
        settlement, "SpecifiedTradeSettlementMonetarySummation"
    ))
    seller = _party(_child(agreement, "SellerTradeParty"))
    buyer = _party(_child(agreement, "BuyerTradeParty"))
    taxes = _children(settlement, "ApplicableTradeTax")
    rate = _text(taxes[0], "RateApplicablePercent") or _text(taxes[0], "ApplicablePercent") if taxes else None
    items = []
    for line in _children(trade, "IncludedSupplyChainTradeLineItem"):
        product = _child(line, "SpecifiedTradeProduct")
        line_agreement = _first(_child(line, "SpecifiedLineTradeAgreement"), _child(line, "SpecifiedSupplyChainTradeAgreement"))
        delivery = _first(_child(line, "SpecifiedLineTradeDelivery"), _child(line, "SpecifiedSupplyChainTradeDelivery"))
        line_settlement = _first(_child(line, "SpecifiedLineTradeSettlement"), _child(line, "SpecifiedSupplyChainTradeSettlement"))
        line_sum = _first(_child(line_settlement, "SpecifiedTradeSettlementLineMonetarySummation"), _child(
            line_settlement, "SpecifiedTradeSettlementMonetarySummation"
        ))
        items.append(
            {
                "description": _text(product, "Name"),
                "quantity": _text(delivery, "BilledQuantity"),
                "unit_price": _amount(_text(line_agreement, "NetPriceProductTradePrice", "ChargeAmount")),
                "amount": _amount(_text(line_sum, "LineTotalAmount")),
            }
        )
    # a grand total may be given more than once (one per currency); the first is the invoice's
    tax_total = _text(sums, "TaxTotalAmount")
    return {
        "document_type": ("invoice", {}),
        "serial": (_text(doc, "ID"), {}),
        "date": (_date(_text(doc, "IssueDateTime", "DateTimeString")), {}),
        "currency": (_text(settlement, "InvoiceCurrencyCode"), {}),
        "total": (_amount(_text(sums, "GrandTotalAmount")), {}),
        "subtotal": (_amount(_text(sums, "TaxBasisTotalAmount") or _text(sums, "LineTotalAmount")), {}),
        "tax": (_amount(tax_total), {}),
        "tax_rate": (_amount(rate), {}),
        "merchant": (seller.get("name"), {}),
        "merchant_address": (seller.get("address"), {}),
        "merchant_tax_id": (seller["vat"][0] if seller.get("vat") else None, {"scheme": seller["vat"][1]} if seller.get("vat") else {}),
        "buyer": (buyer.get("name"), {}),
        "buyer_tax_id": (buyer["vat"][0] if buyer.get("vat") else None, {"scheme": buyer["vat"][1]} if buyer.get("vat") else {}),
        "payment_method": (_text(settlement, "SpecifiedTradeSettlementPaymentMeans", "TypeCode"), {"code_list": "UNTDID 4461"}),
        "line_items": ([i for i in items if i["description"] or i["amount"]], {}),
    }


def _ubl_party(party: ET.Element | None) -> dict[str, Any]:
    inner = _child(party, "Party")
    name = _text(inner, "PartyLegalEntity", "RegistrationName") or _text(inner, "PartyName", "Name")
    address = _child(inner, "PostalAddress")
    parts = [_text(address, n) for n in ("StreetName", "AdditionalStreetName", "PostalZone", "CityName")]
    parts.append(_text(address, "Country", "IdentificationCode"))
    vat = _text(inner, "PartyTaxScheme", "CompanyID")
    return {"name": name, "address": " ".join(p for p in parts if p) or None, "vat": (vat, vat_scheme(vat)) if vat else None}


def _ubl(root: ET.Element) -> dict[str, tuple[Any, dict[str, Any]]]:
    sums = _child(root, "LegalMonetaryTotal")
    seller = _ubl_party(_child(root, "AccountingSupplierParty"))
    buyer = _ubl_party(_child(root, "AccountingCustomerParty"))
    tax_total = _child(root, "TaxTotal")
    items = []
    for line in _children(root, "InvoiceLine") + _children(root, "CreditNoteLine"):
        qty = _text(line, "InvoicedQuantity") or _text(line, "CreditedQuantity")
        items.append(
            {
                "description": _text(line, "Item", "Name"),
                "quantity": qty,
                "unit_price": _amount(_text(line, "Price", "PriceAmount")),
                "amount": _amount(_text(line, "LineExtensionAmount")),
            }
        )
    return {
        "document_type": ("invoice", {}),
        "serial": (_text(root, "ID"), {}),
        "date": (_date(_text(root, "IssueDate")), {}),
        "currency": (_text(root, "DocumentCurrencyCode"), {}),
        "total": (_amount(_text(sums, "TaxInclusiveAmount") or _text(sums, "PayableAmount")), {}),
        "subtotal": (_amount(_text(sums, "TaxExclusiveAmount")), {}),
        "tax": (_amount(_text(tax_total, "TaxAmount")), {}),
        "tax_rate": (_amount(_text(tax_total, "TaxSubtotal", "TaxCategory", "Percent")), {}),
        "merchant": (seller.get("name"), {}),
        "merchant_address": (seller.get("address"), {}),
        "merchant_tax_id": (seller["vat"][0] if seller.get("vat") else None, {"scheme": seller["vat"][1] if seller.get("vat") else None}),
        "buyer": (buyer.get("name"), {}),
        "buyer_tax_id": (buyer["vat"][0] if buyer.get("vat") else None, {"scheme": buyer["vat"][1] if buyer.get("vat") else None}),
        "payment_method": (_text(root, "PaymentMeans", "PaymentMeansCode"), {"code_list": "UNTDID 4461"}),
        "line_items": ([i for i in items if i["description"] or i["amount"]], {}),
    }


def vat_scheme(vat: str) -> str:
    """A VAT id's scheme by its country prefix: the UK left the EU VAT area (other check digits)."""
    return "GB_VAT" if vat.upper().startswith("GB") else "EU_VAT"
