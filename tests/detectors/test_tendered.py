"""The totals against the cash tendered minus the change (forensics.detectors.tendered), through
the arithmetic detector: every copy of the total moved either way, and the honest cases."""

from __future__ import annotations

import pytest

from forensics.detectors.arithmetic import detector
from tests.detectors.test_arithmetic import analysis_of, check_findings, flagged

#: a small receipt without subtotal or tax lines: only the tender and the change pin the total
LINES = ["NASI LEMAK 1 x 6.50 6.50", "TEH TARIK 2 x 3.05 6.10", "TOTAL : 12.60", "CASH : 20.00",
         "CHANGE : 7.40"]
FIELDS = {"total": "12.60", "currency": "MYR"}


def _changed(total: str, lines: list[str] = LINES) -> tuple[dict[str, object], list[str]]:
    return {**FIELDS, "total": total}, [ln.replace("12.60", total) if ln.startswith("TOTAL") else ln
                                        for ln in lines]


def _tender_findings(fields: dict[str, object], lines: list[str], confidence: float = 0.96):
    return check_findings("tendered", fields, lines, confidence)


def test_the_honest_receipt_stays_quiet():
    assert flagged(detector.run(analysis_of(FIELDS, LINES), None)) == []


@pytest.mark.parametrize("total", ["25.40", "8.10"])
def test_every_total_moved_either_way_disagrees_with_the_cash_paid(total):
    analysis, found = _tender_findings(*_changed(total))
    assert len(found) == 1
    f = found[0]
    assert f.severity == "medium"
    word = next(w for w in analysis.reading.pages[0].words if w.text == total)
    assert f.box == word.box  # the finding points at the repainted total
    assert f.evidence["expected"] == "12.60"
    assert {n["value"] for n in f.evidence["numbers"]} == {total, "20.00", "7.40"}
    assert all(n["box"] is not None for n in f.evidence["numbers"])
    if total == "25.40":  # above the tender itself: no till gives change on that
        assert "handed over 20.00 and got 7.40 back" in f.message
    else:
        assert "minus the change 7.40 is 12.60" in f.message


def test_a_few_percent_off_a_misread_digit_or_an_exact_tender_stay_quiet():
    for total in ("12.95", "12.80", "12.50"):  # rounding-size differences
        assert _tender_findings(*_changed(total))[1] == []
    assert _tender_findings(*_changed("17.60"))[1] == []  # 1 <-> 7: one confusable digit
    exact = [ln.replace("7.40", "0.00").replace("20.00", "12.60") for ln in LINES]
    assert _tender_findings(FIELDS | {"total": "9.00"}, [ln.replace("TOTAL : 12.60", "TOTAL : 9.00")
                                                         for ln in exact])[1] == []


def test_a_tender_misread_where_net_and_tax_confirm_the_total_stays_quiet():
    lines = ["SUBTOTAL : 93.40", "GST 6% : 5.60", "TOTAL : 99.00", "CASH : 400.09", "CHANGE : 4.00"]
    fields = {"total": "99.00", "subtotal": "93.40", "tax": "5.60", "currency": "MYR"}
    assert flagged(detector.run(analysis_of(fields, lines), None)) == []


def test_a_tax_under_a_total_label_and_a_net_total_are_not_the_total():
    lines = [*LINES[:3], "TOTAL INCLUDES 6% GST 0.71", *LINES[3:]]
    assert flagged(detector.run(analysis_of(FIELDS, lines), None)) == []
    # ... and does not vouch for a total a forger raised
    assert len(_tender_findings(*_changed("25.40", lines))[1]) == 1
    # the total printed before a service charge the page prints: a net amount, not an edit
    lines = ["TOTAL : 11.45", "SERVICE CHARGE 10% : 1.15", "CASH : 20.00", "CHANGE : 7.40"]
    assert _tender_findings(FIELDS | {"total": "11.45"}, lines)[1] == []


#: a receipt that prints its total twice ("SUB TOTAL (Inc GST)" and "TOTAL") and its tax inclusive
COPIED = ["SUB TOTAL (Inc GST) 18.80", "TOTAL 18.80", "CASH 50.00", "CHANGE 31.20", "GST 6% 1.06"]


@pytest.mark.parametrize("total", ["43.62", "11.28"])
def test_a_subtotal_printing_the_total_changed_with_it_does_not_vouch_for_it(total):
    # the tax at its rate (1.06 at 6% included: 18.73-18.90) backs the tender minus the change
    lines = [ln.replace("18.80", total) for ln in COPIED]
    fields = {"total": total, "subtotal": total, "tax": "1.06", "tax_rate": "6", "currency": "MYR"}
    analysis, found = _tender_findings(fields, lines)
    assert len(found) == 1
    assert found[0].evidence["expected"] == "18.80"
    assert found[0].box in {w.box for w in analysis.reading.pages[0].words if w.text == total}


def test_an_honest_total_printed_twice_with_its_tax_stays_quiet():
    fields = {"total": "18.80", "subtotal": "18.80", "tax": "1.06", "tax_rate": "6", "currency": "MYR"}
    assert flagged(detector.run(analysis_of(fields, COPIED), None)) == []
    # a tender misread ("80.00" for "50.00") that no relation backs: the two copies stand
    misread = [ln.replace("50.00", "80.00") for ln in COPIED]
    assert _tender_findings(fields, misread)[1] == []


def test_unsure_reading_of_the_tender_or_change_stays_quiet():
    assert _tender_findings(*_changed("25.40"), confidence=0.5)[1] == []


def test_show_explains_the_finding_with_the_total_tender_and_change_boxes():
    from io import StringIO

    from rich.console import Console

    from forensics.report import render_record

    analysis, found = _tender_findings(*_changed("25.40"))
    words = {w.text: w.box for w in analysis.reading.pages[0].words}
    rec = {"evidence_id": "E1", "seller_id": "S1", "status": "done", "verdict": "review", "risk": 40,
           "findings": [found[0].to_json()], "checks": {"arithmetic": "done"}, "fields": {}}
    out = StringIO()
    render_record(Console(file=out, width=400), rec)
    text = out.getvalue()
    assert "disagrees with the cash paid" in text, text
    for amount in ("25.40", "20.00", "7.40"):
        assert str(tuple(words[amount])) in text, (amount, text)
