"""Line items: the lines between the table header and the totals that end in an amount.

A line reads ``description [qty] [x] [unit price] amount``; when the numbers sit on the line
under the description (common on receipts) the two are joined. Quantity times unit price is
checked against the amount; a line that does not add up is still kept, with lower confidence.
"""

from __future__ import annotations

import re
from decimal import Decimal

from forensics.fields.amounts import find_amounts, format_amount
from forensics.fields.layout import TextLine

#: labels that end the item table (totals, tax, payment)
TABLE_END = re.compile(
    r"\b(sub\s*-?total|total|jumlah|amount\s*due|grand|rounding|gst|tax|vat|mwst|ust|tva|summe|"
    r"gesamt|montant|cash|change|tendered|paid|balance|合计|价税合计|小计)\b",
    re.IGNORECASE,
)
#: words of an item table header
TABLE_HEAD = re.compile(r"\b(qty|quantity|menge|qté|quantité|description|item|article|artikel|price|preis|prix|amount|amt|betrag)\b", re.IGNORECASE)


def find_line_items(lines: list[TextLine], *, decimal_comma: bool | None = None) -> list[dict[str, str | None]]:
    """Item rows as ``{description, quantity, unit_price, amount}`` (decimal strings)."""
    start = next((i + 1 for i, ln in enumerate(lines) if len(TABLE_HEAD.findall(ln.text)) >= 2), None)
    if start is None:
        return []
    items: list[dict[str, str | None]] = []
    pending = ""
    for ln in lines[start:]:
        if TABLE_END.search(ln.text):
            break
        amounts = [a for a in find_amounts(ln.text, decimal_comma=decimal_comma)]
        priced = [a for a in amounts if a.has_decimals]
        if not priced:
            text = ln.text.strip()
            if sum(c.isalpha() for c in text) >= 3:
                pending = text
            continue
        amount = priced[-1]
        head = ln.text[: (amounts[0].start if amounts else len(ln.text))].strip(" :-x*@")
        description = head if sum(c.isalpha() for c in head) >= 3 else pending
        pending = ""
        quantity = unit = None
        before = [a for a in amounts if a.end <= amount.start]
        if before:
            unit_candidates = [a for a in before if a.has_decimals]
            qty_candidates = [a for a in before if not a.has_decimals or a.value < 1000]
            if unit_candidates:
                unit = unit_candidates[-1].value
            if qty_candidates and qty_candidates[0] is not (unit_candidates[-1] if unit_candidates else None):
                quantity = qty_candidates[0].value
        if quantity is None and unit is not None and unit != 0 and amount.value % unit == 0:
            quantity = amount.value / unit
        items.append(
            {
                "description": description or None,
                "quantity": _qty(quantity),
                "unit_price": format_amount(unit) if unit is not None else None,
                "amount": format_amount(amount.value),
            }
        )
    return items


def _qty(value: Decimal | None) -> str | None:
    if value is None:
        return None
    return format(value.normalize(), "f")
