"""The totals against the tax summary table (forensics.detectors.tax_table), through the
arithmetic detector: every copy of the total moved either way, and honest tables."""

from __future__ import annotations

import pytest

from forensics.detectors.arithmetic import detector
from tests.detectors.test_arithmetic import analysis_of, check_findings, flagged

#: an invented stationery receipt: one item, its total printed three times and paid exactly,
#: the tax only in the summary table under it (2.83 at 6% is 0.17; 2.83 + 0.17 = 3.00)
LINES = ["3 X 1.0000 3.00 SR", "Discount 0.00", "Total 3.00", "Round Adj 0.00", "Final Total 3.00",
         "CASH 3.00", "CHANGE 0.00", "GST Summary Amount(RM) Tax(RM)", "SR @ 6% 2.83 0.17",
         "INV NO: CS-0001 Date: 12/08/2017"]
FIELDS = {"total": "3.00", "currency": "MYR"}


def _changed(total: str, lines: list[str] = LINES) -> tuple[dict[str, object], list[str]]:
    """Every printed copy of the total (and the exact cash) changed to ``total``, the table kept."""
    return {**FIELDS, "total": total}, [ln.replace("3.00", total) for ln in lines]


def _table_findings(fields: dict[str, object], lines: list[str], confidence: float = 0.96):
    return check_findings("tax_table", fields, lines, confidence)


def test_the_honest_receipt_stays_quiet():
    assert flagged(detector.run(analysis_of(FIELDS, LINES), None)) == []


@pytest.mark.parametrize("total", ["2.22", "5.61"])
def test_every_total_moved_either_way_disagrees_with_the_table(total):
    analysis, found = _table_findings(*_changed(total))
    assert len(found) == 1
    f = found[0]
    assert f.severity == "medium"
    assert f.evidence["expected"] == "3.00"
    # the finding points at a repainted total
    assert f.box in [w.box for w in analysis.reading.pages[0].words if w.text == total]
    values = {n["value"] for n in f.evidence["numbers"]}
    assert {total, "2.83", "0.17"} <= values
    assert ("below" if total == "2.22" else "above") in f.message
    assert "2.83 at 6% with tax 0.17" in f.message


def test_a_table_that_does_not_agree_with_its_rate_pins_nothing():
    # a misread tax ("0.71" for 0.17) does not pin the net amount
    lines = [ln.replace("0.17", "0.71") for ln in _changed("2.22")[1]]
    assert _table_findings({**FIELDS, "total": "2.22"}, lines)[1] == []


def test_a_row_read_half_or_a_total_near_the_table_stays_quiet():
    # a zero-rated row whose tax OCR lost: the rows read cover only part of the amount due
    lines = [*LINES[:9], "Z = 0% 146.40 00", *LINES[9:]]
    lines = [ln.replace("3.00", "149.40") for ln in lines]
    assert _table_findings({**FIELDS, "total": "149.40"}, lines)[1] == []
    # within ODD_FACTOR of the table (a rounding or a cent of difference) is no edit
    assert _table_findings(*_changed("3.10"))[1] == []
    # one confusable digit off (8 for 3): a misread, not an edit
    assert _table_findings(*_changed("8.00"))[1] == []


def test_the_tables_own_total_row_counts_once():
    lines = [*LINES[:9], "Total: 2.80 0.17", *LINES[9:]]  # its net read a digit off
    assert flagged(detector.run(analysis_of(FIELDS, lines), None)) == []
    assert len(_table_findings(*_changed("5.61", lines))[1]) == 1


def test_a_total_stated_once_must_be_read_with_confidence():
    lines = ["Total 5.61", "GST Summary Amount(RM) Tax(RM)", "SR @ 6% 2.83 0.17"]
    fields = {**FIELDS, "total": "5.61"}
    assert len(_table_findings(fields, lines)[1]) == 1
    assert _table_findings(fields, lines, confidence=0.5)[1] == []
