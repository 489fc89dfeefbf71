"""Arithmetic detector: amounts that do not add up, and the quiet cases."""

from __future__ import annotations

import io
import random
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from forensics.detectors import Analysis
from forensics.detectors.arithmetic import PLAUSIBLE_RATES, detector
from forensics.events import UploadEvent
from forensics.model import Document, Extraction, Field, Page, PageReading, Reading, Word
from forensics.settings import Settings

FLAGGING = ("low", "medium", "high")


def analysis_of(values: dict[str, object], lines: list[str] = (), confidence: float = 0.96) -> Analysis:
    """An upload whose reading prints ``lines`` and whose fields are ``values`` (boxes on line 0)."""
    words = []
    for i, text in enumerate(lines):
        x = 10
        for token in text.split():
            words.append(Word(token, (x, 20 + 30 * i, x + 12 * len(token), 40 + 30 * i), confidence,
                              block=1, line=i))
            x += 12 * len(token) + 10
    boxes = {w.text: w.box for w in words}
    fields = {}
    for name, value in values.items():
        box = boxes.get(str(value)) if isinstance(value, str) else None
        fields[name] = Field(name, value, str(value), 0.9, 1, box)
    reading = Reading((PageReading(1, "ocr", tuple(words), 600, 40 + 30 * len(lines)),))
    doc = Document("0" * 64, "image/jpeg", 1000, (Page(1, 600, 800),))
    event = UploadEvent("E1", "S1", "x.jpg", uploaded_at=datetime(2024, 6, 1, tzinfo=UTC))
    return Analysis(event, doc, reading, Extraction(fields), Settings())


MY_LINES = ["SUBTOTAL 80.00", "GST 6% 4.80", "ROUNDING 0.00", "TOTAL 84.80", "CASH 100.00",
            "CHANGE 15.20"]
MY_FIELDS = {"subtotal": "80.00", "tax": "4.80", "tax_rate": "6", "total": "84.80", "currency": "MYR",
             "line_items": [{"description": "A", "quantity": "2", "unit_price": "20.00", "amount": "40.00"},
                            {"description": "B", "quantity": "1", "unit_price": "40.00", "amount": "40.00"}]}


def flagged(result):
    return [f for f in result.findings if f.severity in FLAGGING]


def check_findings(check: str, fields: dict[str, object], lines: list[str], confidence: float = 0.96):
    """(the upload, the flagging findings of arithmetic's sub-check ``check``) for these lines."""
    from forensics.detectors.arithmetic import detector

    analysis = analysis_of(fields, lines, confidence)
    return analysis, [f for f in flagged(detector.run(analysis, None)) if f.evidence.get("check") == check]


def test_honest_amounts_stay_quiet():
    result = detector.run(analysis_of(MY_FIELDS, MY_LINES), None)
    assert result.status == "done"
    assert flagged(result) == []


def test_raised_total_is_flagged_with_the_numbers_and_box():
    lines = [ln.replace("84.80", "184.80") for ln in MY_LINES]
    result = detector.run(analysis_of({**MY_FIELDS, "total": "184.80"}, lines), None)
    bad = flagged(result)
    assert bad, result.findings
    f = bad[0]
    assert f.code == "amounts_inconsistent"
    assert f.severity == "high"  # subtotal+tax, cash-change and the consistent tax all agree
    assert "184.80" in f.message and "80.00" in f.message
    assert f.box is not None
    names = {n["name"] for n in f.evidence["numbers"]}
    assert {"total", "subtotal"} <= names


def test_tax_inclusive_total_is_checked_against_net_plus_tax():
    fields = {"total": "119.00", "tax": "19.00", "subtotal": "100.00", "tax_rate": "19", "currency": "EUR"}
    lines = ["SUMME EUR 119.00", "MwSt 19% 19.00", "Netto 100.00"]
    assert flagged(detector.run(analysis_of(fields, lines), None)) == []
    lines[0] = "SUMME EUR 219.00"
    result = detector.run(analysis_of({**fields, "total": "219.00"}, lines), None)
    assert [f.code for f in flagged(result)] == ["amounts_inconsistent"]


def test_discount_service_and_rounding_lines_are_taken_into_account():
    fields = {"subtotal": "50.00", "tax": "3.00", "tax_rate": "6", "total": "50.35", "currency": "MYR"}
    lines = ["SUBTOTAL 50.00", "MEMBER DISCOUNT -5.00", "SERVICE CHARGE 2.35", "TAX 6% 3.00",
             "TOTAL 50.35"]
    assert flagged(detector.run(analysis_of(fields, lines), None)) == []


def test_single_unconfirmed_failure_is_only_noted():
    # the total disagrees, but nothing else confirms which number is wrong (no rate, no cash)
    fields = {"subtotal": "80.00", "tax": "4.80", "total": "90.80"}
    result = detector.run(analysis_of(fields, ["SUBTOTAL 80.00", "TAX 4.80", "TOTAL 90.80"]), None)
    assert result.findings and flagged(result) == []
    assert result.findings[0].severity == "info"


def test_low_ocr_confidence_is_not_held_against_the_receipt():
    lines = [ln.replace("84.80", "184.80") for ln in MY_LINES]
    result = detector.run(analysis_of({**MY_FIELDS, "total": "184.80"}, lines, confidence=0.5), None)
    assert flagged(result) == []


def test_implausible_rate_is_noted():
    fields = {"subtotal": "100.00", "tax": "64.00", "tax_rate": "64", "total": "164.00", "currency": "MYR"}
    result = detector.run(analysis_of(fields, ["SUBTOTAL 100.00", "TAX 64% 64.00", "TOTAL 164.00"]), None)
    checks = {f.evidence["check"] for f in result.findings}
    assert "tax_rate" in checks
    assert Decimal("6") in PLAUSIBLE_RATES["MYR"]


def test_a_rate_not_in_force_whose_tax_one_in_force_explains_is_a_misread_rate():
    # "GST@4%" read for 6%: 1.30 is 6% of 22.90 tax included; only the rate's own note remains
    lines = ["Total Incl. GST@4% RM 22.90", "CASH RM 23.00", "CHANGE RM 0.10", "GST @4% included in total RM 1.30"]
    fields = {"total": "22.90", "tax": "1.30", "tax_rate": "4", "currency": "MYR"}
    result = detector.run(analysis_of(fields, lines), None)
    assert {f.evidence["check"] for f in result.findings} == {"tax_rate"}
    assert flagged(result) == []
    # a tax no rate in force explains is still held against the total
    wrong = detector.run(analysis_of({**fields, "tax": "3.10"}, [ln.replace("1.30", "3.10") for ln in lines]), None)
    assert "tax" in {f.evidence["check"] for f in wrong.findings}


def test_skipped_without_amounts():
    result = detector.run(analysis_of({"merchant": "SHOP"}, ["SHOP"]), None)
    assert result.status.startswith("skipped:")
    result = detector.run(analysis_of({"total": "10.00"}, ["TOTAL 10.00"]), None)
    assert result.status.startswith("skipped:")


@pytest.mark.slow
def test_generated_receipt_with_tampered_total_end_to_end():
    """A rendered, scanned, JPEG-encoded receipt: quiet when honest, flagged when the total was
    repainted (fixtures.forgeries.tamper_total), through OCR and field extraction."""
    pytest.importorskip("fixtures.forgeries")
    from fixtures.forgeries import tamper_total
    from fixtures.receipts import make_receipt_data, make_shop, render_receipt
    from forensics.documents import load_document
    from forensics.fields import extract
    from forensics.ocr import read_document

    rng = random.Random(11)
    shop = make_shop(rng, "en-MY")
    img, truth = render_receipt(shop, make_receipt_data(shop, rng), rng)
    bad, _ = tamper_total(img, truth, rng)
    settings = Settings()
    results = {}
    for name, page in (("good", img), ("bad", bad)):
        buf = io.BytesIO()
        page.save(buf, "JPEG", quality=92)
        doc = load_document(buf.getvalue(), claimed_type=None, settings=settings)
        reading = read_document(doc, settings)
        event = UploadEvent("E1", "S1", "x.jpg", uploaded_at=datetime(2026, 1, 1, tzinfo=UTC))
        results[name] = detector.run(Analysis(event, doc, reading, extract(reading, doc), settings), None)
    assert results["good"].status == "done"
    assert flagged(results["good"]) == []
    assert any(f.code == "amounts_inconsistent" for f in flagged(results["bad"]))


# --------------------------------------------------------------------------- printed totals
# A till roll prints its total several times; a forger repaints one occurrence. The extractor
# may well keep the original value as "the" total, so the check must compare the printed
# totals with each other and with the relations that yield one.

#: a Malaysian GST receipt's lower half, as OCR reads it: net, tax, total with tax, the total,
#: cash and change, and the GST summary table
GST_LINES = ["Total Sales (Excluding GST) : 80.00", "Total GST : 4.80", "Rounding : 0.00",
             "Total Sales (Inclusive of GST) : 84.80", "TOTAL : 84.80", "CASH : 100.00",
             "Change : 15.20", "GST Summary Amount(RM) Tax(RM)", "SR @ 6% 80.00 4.80"]
#: what the extractor found on it (the first total-like line, say)
GST_FIELDS = {"total": "84.80", "subtotal": "80.00", "tax": "4.80", "currency": "MYR"}


def _repaint(lines: list[str], at: int, old: str, new: str) -> list[str]:
    return [ln.replace(old, new) if i == at else ln for i, ln in enumerate(lines)]


def test_printed_totals_quiet_on_the_honest_receipt():
    result = detector.run(analysis_of(GST_FIELDS, GST_LINES), None)
    assert result.status == "done"
    assert flagged(result) == []


def test_one_repainted_total_is_flagged_although_the_extracted_total_is_the_original():
    lines = _repaint(GST_LINES, 4, "84.80", "218.40")  # only the TOTAL line repainted
    analysis = analysis_of(GST_FIELDS, lines)
    result = detector.run(analysis, None)
    bad = [f for f in flagged(result) if f.evidence["check"] == "printed_totals"]
    assert len(bad) == 1, result.findings
    f = bad[0]
    # the total with tax, subtotal + tax, cash - change and the summary table all say 84.80
    assert f.severity == "high"
    assert "218.40" in f.message and "84.80" in f.message
    assert f.evidence["expected"] == "84.80"
    word = next(w for w in analysis.reading.pages[0].words if w.text == "218.40")
    assert f.box == word.box
    numbers = {n["value"]: n for n in f.evidence["numbers"]}
    assert numbers["218.40"]["box"] == list(word.box)
    assert "84.80" in numbers and numbers["84.80"]["box"] is not None


def test_two_agreeing_relations_make_a_medium_finding_without_any_extracted_total():
    lines = ["SUBTOTAL 59.99", "GST 3.36", "TOTAL 133.67", "CASH 63.35", "CHANGE 0.00"]
    result = detector.run(analysis_of({"currency": "MYR"}, lines), None)
    bad = flagged(result)
    assert [f.severity for f in bad] == ["medium"]
    assert bad[0].evidence["expected"] == "63.35"


def test_a_single_disagreeing_relation_is_not_enough():
    # subtotal + tax says 63.35, nothing else does: a misread subtotal is as likely as an edit
    lines = ["SUBTOTAL 59.99", "GST 3.36", "TOTAL 133.67"]
    result = detector.run(analysis_of({"currency": "MYR"}, lines), None)
    assert not any(f.evidence.get("check") == "printed_totals" for f in flagged(result))


def test_excluding_and_including_tax_totals_are_not_a_disagreement():
    # "Net total" is the amount before VAT on European invoices: the gross adds the VAT line
    lines = ["Item A 2 x 100.00 200.00", "Item B 1 x 296.00 296.00", "Net total: 496.00",
             "VAT total: 75.04", "Due payable: 571.04"]
    items = [{"quantity": "2", "unit_price": "100.00", "amount": "200.00"},
             {"quantity": "1", "unit_price": "296.00", "amount": "296.00"}]
    fields = {"total": "571.04", "currency": "EUR", "line_items": items}
    assert flagged(detector.run(analysis_of(fields, lines), None)) == []


def test_rounding_and_the_total_before_it_stay_quiet():
    lines = ["Total (Excluding GST): 80.02", "GST payable (6%): 4.80",
             "Total (Inclusive of GST): 84.82", "Rounding Adj: -0.02", "TOTAL: 84.80",
             "CASH : 100.00", "Change : 15.20"]
    assert flagged(detector.run(analysis_of(GST_FIELDS, lines), None)) == []


def test_one_confusable_digit_is_a_misread_not_an_edit():
    honest = ["Total Sales (Excluding GST) : 32.83", "Total GST : 1.97",
              "Total Sales (Inclusive of GST) : 34.80", "TOTAL : 34.80", "CASH : 50.00",
              "Change : 15.20"]
    fields = {"total": "34.80", "subtotal": "32.83", "tax": "1.97", "currency": "MYR"}
    misread = _repaint(honest, 3, "34.80", "84.80")  # 3 read as 8
    assert flagged(detector.run(analysis_of(fields, misread), None)) == []
    raised = _repaint(honest, 3, "34.80", "94.80")  # 3 and 9 are not confused: an edit
    assert flagged(detector.run(analysis_of(fields, raised), None))


def test_counts_savings_and_discount_totals_are_not_totals():
    lines = GST_LINES[:4] + ["Total Qty: 12", "Total Savings : 150.00", "Total Items 7",
                             "TOTAL : 84.80"] + GST_LINES[5:]
    assert flagged(detector.run(analysis_of(GST_FIELDS, lines), None)) == []


def test_low_confidence_two_digit_slip_is_a_misread():
    # the OCR doubted the word: two confusable digits (1->7, 4->1) are a misread; read with
    # confidence, the same two digits are an edit
    lines = ["Total Sales (Excluding GST) : 165.00", "TotalGST : 9.90",
             "Total Sales (Inclusive of GST) : 174.90", "CASH : 174.90", "Change : 0.00",
             "TOTAL : 771.90"]
    fields = {"total": "174.90", "subtotal": "165.00", "tax": "9.90", "currency": "MYR"}
    assert flagged(detector.run(analysis_of(fields, lines, confidence=0.5), None)) == []
    assert flagged(detector.run(analysis_of(fields, lines, confidence=0.96), None))


def _with_confidence(analysis: Analysis, texts: set[str], confidence: float) -> Analysis:
    """``analysis`` with the words printing ``texts`` read at ``confidence``."""
    from dataclasses import replace

    page = analysis.reading.pages[0]
    words = tuple(replace(w, confidence=confidence) if w.text in texts else w for w in page.words)
    return replace(analysis, reading=Reading((replace(page, words=words),)))


def test_subtotal_and_tax_that_agree_with_the_rate_need_no_ocr_confidence():
    # tax = 6% of the subtotal: both were read right even at low word confidence, so the total
    # that disagrees with them is the odd one out
    lines = ["SUBTOTAL 179.18", "GST 6% 10.75", "TOTAL 501.42"]
    values = {"subtotal": "179.18", "tax": "10.75", "tax_rate": "6", "total": "501.42",
              "currency": "MYR"}
    shaky = _with_confidence(analysis_of(values, lines), {"179.18", "10.75"}, 0.67)
    assert [f.severity for f in flagged(detector.run(shaky, None))] == ["medium"]
    # numbers that do not agree among themselves keep the confidence rule: only noted
    off = {**values, "tax": "12.75"}
    lines_off = ["SUBTOTAL 179.18", "GST 6% 12.75", "TOTAL 501.42"]
    shaky_off = _with_confidence(analysis_of(off, lines_off), {"179.18", "12.75"}, 0.67)
    assert flagged(detector.run(shaky_off, None)) == []


def test_a_total_a_few_cents_off_rate_consistent_numbers_is_still_a_possible_misread():
    # subtotal 1327.16 read as 1327.36: tax 79.63 is still "6%" of it within the tolerance, so the
    # agreement does not prove the subtotal right to the cent; low confidence keeps it a note
    lines = ["SUBTOTAL 1327.36", "GST 6% 79.63", "TOTAL 1406.79"]
    values = {"subtotal": "1327.36", "tax": "79.63", "tax_rate": "6", "total": "1406.79",
              "currency": "MYR"}
    shaky = _with_confidence(analysis_of(values, lines), {"1327.36", "79.63"}, 0.42)
    assert flagged(detector.run(shaky, None)) == []


# --------------------------------------------------------------------------- both directions


@pytest.mark.parametrize("lowered", ["54.80", "61.20", "40.10"])
def test_one_total_repainted_lower_is_flagged_like_a_raised_one(lowered):
    lines = _repaint(GST_LINES, 4, "84.80", lowered)  # only the TOTAL line repainted
    analysis = analysis_of(GST_FIELDS, lines)
    bad = [f for f in flagged(detector.run(analysis, None)) if f.evidence["check"] == "printed_totals"]
    assert len(bad) == 1, bad
    assert bad[0].severity == "high" and bad[0].evidence["expected"] == "84.80"
    assert bad[0].box == next(w for w in analysis.reading.pages[0].words if w.text == lowered).box


def test_every_total_lowered_fails_against_subtotal_tax_and_cash():
    # the extractor's total and the printed total both lowered: cash - change and the net + tax
    lines = [ln.replace("84.80", "64.80") for ln in GST_LINES]
    bad = flagged(detector.run(analysis_of({**GST_FIELDS, "total": "64.80"}, lines), None))
    assert bad and max(f.severity for f in bad) in ("medium", "high"), bad
    assert any("64.80" in f.message and "84.80" in f.message for f in bad)


def test_lines_that_honestly_print_less_than_the_total_stay_quiet():
    honest = [
        *GST_LINES[:4], "TOTAL INCLUDES 6% GST 4.80", *GST_LINES[4:],  # the tax under a total label
        "Total 6% supplies 80.00",  # a per-rate part
    ]
    assert flagged(detector.run(analysis_of(GST_FIELDS, honest), None)) == []
    # a total before service charge: the agreed value less the service line
    service = ["SUBTOTAL 80.00", "TOTAL 80.00", "SERVICE CHARGE 8.00", "GST 6% 5.28", "GRAND TOTAL 93.28",
               "CASH 100.00", "CHANGE 6.72"]
    assert not any(f.evidence.get("check") == "printed_totals"
                   for f in flagged(detector.run(analysis_of({"currency": "MYR"}, service), None)))


def test_every_copy_of_the_total_changed_alike_fails_against_net_and_tax_at_their_rate():
    # the forger changed the TOTAL line and the total with tax; net + tax at 6% still say 84.80
    lines = ["Total Sales (Excluding GST) : 80.00", "GST @6% : 4.80", "Total Sales (Inclusive of GST) : 132.50",
             "TOTAL : 132.50", "CASH : 150.00", "Change : 17.50"]
    bad = [f for f in flagged(detector.run(analysis_of({"currency": "MYR"}, lines), None))
           if f.evidence.get("check") == "rate_pinned_total"]
    assert len(bad) == 1 and bad[0].evidence["expected"] == "84.80" and "132.50" in bad[0].message


def test_a_zero_rated_part_explains_a_total_above_net_and_tax():
    lines = ["Total Sales (Excluding GST) : 80.00", "GST @6% : 4.80", "TOTAL : 132.50",
             "GST Summary Amount(RM) Tax(RM)", "SR @ 6% 80.00 4.80", "ZR @ 0% 47.70 0.00"]
    assert not [f for f in flagged(detector.run(analysis_of({"currency": "MYR"}, lines), None))
                if f.evidence.get("check") == "rate_pinned_total"]


#: a small till's receipt (as OCR reads it): the total amount, the nett total, cash and change
SMALL_LINES = ["Vege $8.40 1 $8.40", "Add Vegetable $0.80 1 $0.80", "Total Amount: $9.20",
               "GST @6%: $0.52", "Nett Total: $9.20", "CASH $9.20", "Change $0.00"]


@pytest.mark.parametrize("label", ["Total Amount:", "Total Amouni:"])
def test_a_total_amount_as_small_as_a_tax_is_lowered_when_its_label_names_the_amount_due(label):
    # the forger pasted the receipt's own "$0.80" over the total amount: as small as a tax, but
    # the label names the amount due and the nett total and cash - change agree on 9.20
    lines = [ln.replace("Total Amount: $9.20", f"{label} $0.80") for ln in SMALL_LINES]
    analysis = analysis_of({"total": "9.20", "tax": "0.52", "currency": "MYR"}, lines)
    bad = [f for f in flagged(detector.run(analysis, None)) if f.evidence["check"] == "printed_totals"]
    assert len(bad) == 1, bad
    # 9.20, or 9.19 where the tax grossed up at its rate is the first witness
    assert abs(float(bad[0].evidence["expected"]) - 9.20) <= 0.011 and "0.80" in bad[0].message


#: a small cash receipt whose one total line says it includes the tax
INCL_LINES = ["Total Incl. GST@6% RM 5.00", "CASH RM 50.00", "CHANGE RM 45.00", "GST @6% included in total RM 0.28"]


@pytest.mark.parametrize("lowered", ["2.55", "1.20"])
def test_a_total_including_its_tax_repainted_lower_is_flagged(lowered):
    # cash - change and the tax at its rate (0.28 at 6% included: 4.95) agree on 5.00; the
    # retyped total read unsure, so that only the printed totals' majority speaks. "Total Incl.
    # GST" names the total with its tax, even when it is now as small as a tax (1.20)
    lines = [ln.replace("RM 5.00", f"RM {lowered}") for ln in INCL_LINES]
    fields = {"total": lowered, "tax": "0.28", "tax_rate": "6", "currency": "MYR"}
    analysis = _with_confidence(analysis_of(fields, lines), {lowered}, 0.41)
    bad = [f for f in flagged(detector.run(analysis, None)) if f.evidence["check"] == "printed_totals"]
    assert len(bad) == 1, bad
    assert bad[0].evidence["expected"] == "5.00" and lowered in bad[0].message
    assert bad[0].box == next(w for w in analysis.reading.pages[0].words if w.text == lowered).box
    honest = analysis_of({"total": "5.00", "tax": "0.28", "tax_rate": "6", "currency": "MYR"}, INCL_LINES)
    assert flagged(detector.run(honest, None)) == []


def test_a_tax_whose_label_ocr_garbled_under_a_payable_word_stays_quiet():
    honest = [*GST_LINES[:4], "GSI Payable: 4.80", *GST_LINES[4:]]  # GST read as GSI
    assert flagged(detector.run(analysis_of(GST_FIELDS, honest), None)) == []


#: a till's receipt with no net amount: the total, the tax at its rate, the nett total, cash
TAX_ONLY = ["Meal $7.10 1 $7.10", "Total Amount: $7.10", "GST @6%: $0.40", "Nett Total: $7.10", "CASH $7.10",
            "Change $0.00"]


def test_every_total_changed_alike_fails_against_the_tax_at_its_printed_rate():
    # every copy of the total (and the one item) raised to 10.15: the tax at 6% still says 7.07
    lines = [ln.replace("7.10", "10.15") for ln in TAX_ONLY]
    bad = [f for f in flagged(detector.run(analysis_of({"total": "10.15", "tax": "0.40", "currency": "MYR"}, lines),
                                           None))
           if f.evidence["check"] == "rate_pinned_total"]
    assert len(bad) == 1, bad
    assert bad[0].evidence["expected"] == "7.07" and "0.40" in bad[0].message and "6%" in bad[0].message


@pytest.mark.parametrize("lines", [TAX_ONLY, [ln.replace("@6%", "@4%").replace("7.10", "10.15") for ln in TAX_ONLY]])
def test_the_tax_at_its_rate_quiet_when_it_agrees_or_the_rate_is_misread(lines):
    # 0.40 at 6% implies 7.07 (7.10 within its rounding); a rate of 4% (no rate in force) pins nothing
    values = {"total": lines[1].split("$")[-1], "tax": "0.40", "currency": "MYR"}
    assert not [f for f in flagged(detector.run(analysis_of(values, lines), None))
                if f.evidence["check"] == "rate_pinned_total"]
