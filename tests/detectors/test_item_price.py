"""The receipt's one item against its own quantity x unit price (forensics.detectors.item_price),
through the arithmetic detector: the total changed with the item, either way, and honest items."""

from __future__ import annotations

import pytest

from forensics.detectors.arithmetic import detector
from tests.detectors.test_arithmetic import analysis_of, check_findings, flagged

#: an invented one-item receipt: three of a 2.90 item, the total is the item's amount
LINES = ["KOPI PENGANG", "3 X 2.9000 = 8.70 SR", "Total Amount: 8.70", "Thank you"]
FIELDS = {"total": "8.70", "currency": "MYR"}


def _item_findings(total: str, lines: list[str] = LINES, confidence: float = 0.96):
    return check_findings("item_price", {**FIELDS, "total": total}, [ln.replace("8.70", total) for ln in lines],
                          confidence)


def test_honest_item_stays_quiet():
    assert flagged(detector.run(analysis_of(FIELDS, LINES), None)) == []
    # quantity glued to the sign ("5X"), price with two decimals
    lines = ["9312345 5X 1.79 8.95", "TOTAL 8.95"]
    assert flagged(detector.run(analysis_of({"total": "8.95"}, lines), None)) == []


@pytest.mark.parametrize("total", ["6.10", "12.40"])
def test_the_total_changed_with_its_item_either_way_contradicts_quantity_times_price(total):
    analysis, found = _item_findings(total)
    assert len(found) == 1
    f = found[0]
    assert f.severity == "medium"
    assert f.evidence["expected"] == "8.70"
    item_line_word = [w for w in analysis.reading.pages[0].words if w.text == total][0]
    assert f.box == item_line_word.box  # the item's amount, the first copy of the total
    assert {n["name"] for n in f.evidence["numbers"]} == {"line item amount", "quantity", "unit price"}
    assert ("below" if total == "6.10" else "above") in f.message


def test_guards_keep_misreads_and_other_items_quiet():
    # quantity and price read without confidence, their product printed nowhere else
    assert _item_findings("6.10", confidence=0.6)[1] == []
    # ... unless their product is printed elsewhere (a subtotal the forger missed, "8.7O" as read)
    lines = [*LINES[:2], "Sub Total: 8.7O", *LINES[2:]]
    assert len(_item_findings("6.10", lines, confidence=0.6)[1]) == 1
    # a confusable digit apart (8.70 read as 3.70): a misread, not an edit
    assert _item_findings("3.70")[1] == []
    # an item that is not the total: one of several items
    lines = ["3 X 2.9000 = 6.10 SR", "1 X 2.6000 = 2.60 SR", "Total Amount: 8.70"]
    assert _item_findings("8.70", lines)[1] == []


def test_a_shaky_quantity_is_trusted_when_another_relation_yields_its_product():
    # quantity and price read without confidence: the cash tendered minus the change (which the
    # forger left alone) yields their product, a confusable digit off as OCR reads it ("10.06")
    lines = [*LINES[:3], "CASH 10.06", "CHANGE 1.30", *LINES[3:]]
    found = _item_findings("6.10", lines, confidence=0.6)[1]
    assert len(found) == 1 and found[0].evidence["expected"] == "8.70"
    # honest: the same shaky reading of an item that agrees with its total stays quiet
    assert _item_findings("8.70", lines, confidence=0.6)[1] == []
    # cash minus change yielding another value corroborates nothing
    lines = [*LINES[:3], "CASH 20.00", "CHANGE 5.00", *LINES[3:]]
    assert _item_findings("6.10", lines, confidence=0.6)[1] == []
