"""The total before the rounding line against the rounded total (forensics.detectors.rounding),
through the arithmetic detector: the amount due moved either way, and honest rounding."""

from __future__ import annotations

from decimal import Decimal

import pytest

from forensics.detectors.arithmetic import detector
from tests.detectors.test_arithmetic import analysis_of, check_findings, flagged

#: an invented restaurant bill: the total with its tax, a rounding of -0.02, the amount due
LINES = ["Total (Excluding GST): 21.95", "Total (Inclusive of GST): 23.27", "Rounding Adj: -0.02",
         "TOTAL: 23.25", "Closed: 29-10-2017"]
FIELDS = {"total": "23.25", "currency": "MYR"}


def _rounding_findings(total: str, lines: list[str] = LINES, confidence: float = 0.96):
    return check_findings("rounding", {**FIELDS, "total": total}, [ln.replace("23.25", total) for ln in lines],
                          confidence)


def test_honest_rounding_stays_quiet():
    assert flagged(detector.run(analysis_of(FIELDS, LINES), None)) == []


@pytest.mark.parametrize("total", ["17.90", "41.10"])
def test_the_amount_due_moved_either_way_is_far_from_the_total_before_rounding(total):
    analysis, found = _rounding_findings(total)
    assert len(found) == 1
    f = found[0]
    assert f.severity == "medium"
    word = next(w for w in analysis.reading.pages[0].words if w.text == total)
    assert f.box == word.box
    assert f.evidence["expected"] == "23.27"
    assert {n["value"] for n in f.evidence["numbers"]} == {total, "23.27"}
    assert ("below" if total == "17.90" else "above") in f.message


def test_misread_digits_and_faint_totals_stay_quiet():
    # the total before rounding read with a confusable digit ("28.27" for 23.27; 3/8)
    lines = [ln.replace("23.27", "28.27") for ln in LINES]
    assert _rounding_findings("23.25", lines)[1] == []
    # a stray leading digit ("123.27")
    lines = [ln.replace("23.27", "123.27") for ln in LINES]
    assert _rounding_findings("23.25", lines)[1] == []
    # a rounded total read without confidence and printed once
    assert _rounding_findings("17.90", confidence=0.6)[1] == []


def test_an_amount_due_split_at_its_point_is_joined_and_checked():
    # OCR read the amount due as three words ("RM17" "." "90"): still one amount
    lines = [ln.replace("TOTAL: 23.25", "TOTAL: RM23 . 25") for ln in LINES]
    assert flagged(detector.run(analysis_of(FIELDS, lines), None)) == []
    lines = [ln.replace("TOTAL: 23.25", "TOTAL: RM17 . 90") for ln in LINES]
    analysis = analysis_of({**FIELDS, "total": "17.90"}, lines)
    found = [f for f in flagged(detector.run(analysis, None)) if f.evidence.get("check") == "rounding"]
    assert len(found) == 1
    assert found[0].evidence["expected"] == "23.27"
    assert "17.90" in {n["value"] for n in found[0].evidence["numbers"]}


def test_split_pieces_far_apart_are_not_one_amount():
    from forensics.detectors.printed_totals import _word_amounts
    from forensics.model import Line, Word

    def line(gap: int) -> Line:
        boxes = [(10, 10, 58, 30), (58 + gap, 25, 64 + gap, 30), (64 + 2 * gap, 10, 88 + 2 * gap, 30)]
        return Line(tuple(Word(t, b, 0.9) for t, b in zip(("RM17", ".", "90"), boxes, strict=True)))

    assert [v for v, _b, _c in _word_amounts(line(8))] == [Decimal("17.90")]
    assert _word_amounts(line(60)) == []
