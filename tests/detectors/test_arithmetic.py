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
