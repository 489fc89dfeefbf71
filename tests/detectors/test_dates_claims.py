"""Dates and claims detector: impossible and future dates, the seller's claims vs the document."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from forensics.detectors import Analysis
from forensics.detectors.dates_claims import detector, impossible_date, one_digit_apart
from forensics.events import UploadEvent
from forensics.model import Document, Extraction, Field, Page, PageReading, Reading, Word
from forensics.settings import Settings

FLAGGING = ("low", "medium", "high")


def analysis_of(fields: dict[str, str], lines: list[str], *, claimed: dict[str, str] | None = None,
                uploaded: datetime = datetime(2024, 6, 1, 12, tzinfo=UTC),
                confidence: float = 0.96) -> Analysis:
    words = []
    for i, text in enumerate(lines):
        x = 10
        for token in text.split():
            words.append(Word(token, (x, 20 + 30 * i, x + 12 * len(token), 40 + 30 * i), confidence, 1, i))
            x += 12 * len(token) + 10
    boxes = {w.text: w.box for w in words}
    # an ISO date is printed day first: find its box by the printed form
    printed = {n: "/".join(reversed(v.split("-"))) if n == "date" else v for n, v in fields.items()}
    extraction = Extraction({n: Field(n, v, printed[n], 0.9, 1, boxes.get(printed[n]))
                             for n, v in fields.items()})
    reading = Reading((PageReading(1, "ocr", tuple(words), 600, 800),))
    doc = Document("0" * 64, "image/jpeg", 1000, (Page(1, 600, 800),))
    event = UploadEvent("E1", "S1", "x.jpg", uploaded_at=uploaded, claimed=claimed or {})
    return Analysis(event, doc, reading, extraction, Settings())


LINES = ["BOOK TA.K (TAMAN DAYA) SDN BHD", "INVOICE NO TD01167104", "DATE 25/12/2023 10:00",
         "TOTAL 85.45", "CASH 100.00"]
FIELDS = {"merchant": "BOOK TA.K (TAMAN DAYA) SDN BHD", "serial": "TD01167104", "date": "2023-12-25",
          "total": "85.45", "currency": "MYR"}


def flagged(result):
    return [f for f in result.findings if f.severity in FLAGGING]


@pytest.mark.parametrize("text, bad", [
    ("DATE 31/04/2019", True), ("Datum 30.02.2018 12:00", True), ("2019-02-29", True),
    ("29/02/2020", False), ("12/31/2019", False), ("TEL 03-12-2019", False), ("31.04", False),
])
def test_impossible_dates(text, bad):
    assert (impossible_date(text) is not None) is bad


def test_honest_document_and_claims_stay_quiet():
    claimed = {"total": "85.45", "date": "2023-12-25", "currency": "MYR", "serial": "TD01167104",
               "merchant": "Book Ta.K Taman Daya"}
    result = detector.run(analysis_of(FIELDS, LINES, claimed=claimed), None)
    assert result.status == "done"
    assert result.findings == ()


def test_impossible_printed_date_is_flagged():
    lines = LINES[:2] + ["DATE 31/04/2023 10:00"] + LINES[3:]
    result = detector.run(analysis_of({**FIELDS, "date": "2023-12-25"}, lines), None)
    assert [f.code for f in flagged(result)] == ["date_implausible"]
    assert "31/04/2023" in result.findings[0].message


def test_document_dated_after_its_upload():
    lines = LINES[:2] + ["DATE 25/12/2024 10:00"] + LINES[3:]
    result = detector.run(analysis_of({**FIELDS, "date": "2024-12-25"}, lines), None)
    assert [f.code for f in flagged(result)] == ["date_implausible"]
    assert "after it was uploaded" in result.findings[0].message
    assert result.findings[0].box is not None


def test_future_year_that_ocr_may_have_misread_is_not_flagged():
    # "2028" for "2023" read with some doubt: 8 and 3 are confused by OCR, and 2023-12-25 is
    # before the upload
    lines = LINES[:2] + ["DATE 25/12/2028 10:00"] + LINES[3:]
    result = detector.run(analysis_of({**FIELDS, "date": "2028-12-25"}, lines, confidence=0.88), None)
    assert flagged(result) == []


@pytest.mark.parametrize("claim, expect", [
    ({"total": "62.10"}, "total"), ({"total": "12.00"}, "total"), ({"date": "2023-11-02"}, "date"),
    ({"currency": "EUR"}, "currency"), ({"serial": "XK77120044"}, "serial"),
    ({"merchant": "Galeries Lafayette"}, "merchant"),
])
def test_claims_the_document_contradicts(claim, expect):
    result = detector.run(analysis_of(FIELDS, LINES, claimed=claim), None)
    bad = flagged(result)
    assert [f.code for f in bad] == ["claim_mismatch"]
    assert bad[0].evidence["field"] == expect


def test_claims_explained_by_ocr_or_rounding_are_not_mismatches():
    for claim in ({"total": "85.46"}, {"total": "85.40"}, {"total": "100.00"}, {"date": "2023-12-26"}):
        assert flagged(detector.run(analysis_of(FIELDS, LINES, claimed=claim), None)) == [], claim


def test_contradiction_with_a_doubtful_reading_is_only_noted():
    result = detector.run(analysis_of(FIELDS, LINES, claimed={"total": "62.10"}, confidence=0.7), None)
    assert [f.severity for f in result.findings] == ["info"]


def test_one_digit_apart():
    assert one_digit_apart("53.55", "3.55") and one_digit_apart("85.45", "85.46")
    assert one_digit_apart("2018-03-09", "2018-08-09")
    assert not one_digit_apart("20.21", "39.01") and not one_digit_apart("12.00", "85.45")


def test_skipped_without_date_or_claims():
    result = detector.run(analysis_of({"total": "85.45"}, ["TOTAL 85.45"]), None)
    assert result.status.startswith("skipped:")


def test_a_repaired_date_is_not_built_upon():
    from dataclasses import replace

    lines = LINES[:2] + ["DATE 29/09/2057 10:00"] + LINES[3:]
    analysis = analysis_of({**FIELDS, "date": "2057-09-29"}, lines, claimed={"date": "2023-01-02"})
    assert {f.code for f in flagged(detector.run(analysis, None))} == {"date_implausible", "claim_mismatch"}
    date = analysis.extraction.fields["date"]
    analysis.extraction.fields["date"] = replace(date, extra={"repaired": True})
    # the field is a guess from an OCR slip: neither after the upload nor against the claim
    assert flagged(detector.run(analysis, None)) == []
