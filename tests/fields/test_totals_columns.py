"""Totals printed in a column under their heading: the tax breakdown of German invoices."""

from __future__ import annotations

from forensics.fields.layout import text_lines
from forensics.fields.totals import find_totals
from forensics.model import PageReading, Reading, Word

#: column right edges (px) of a breakdown table: net, tax, rate, gross
COLUMNS = (300, 420, 520, 660)


def _reading(rows: list[list[tuple[str, int]]]) -> Reading:
    """Words right-aligned at the given x (10 px a character), one row a line."""
    words = []
    for i, row in enumerate(rows):
        for text, right in row:
            words.append(Word(text, (right - 10 * len(text), 30 * i, right, 30 * i + 20), 1.0, block=1, line=i))
    return Reading((PageReading(1, "text_layer", tuple(words), 800, 30 * len(rows) + 30),))


HEAD = [("Nettobetrag", 300), ("MwSt-Betrag", 420), ("MwSt-%", 520), ("Endbetrag", 660)]


def _total(rows: list[list[tuple[str, int]]]) -> str | None:
    found = find_totals(text_lines(_reading(rows)), decimal_comma=True)
    return str(found["total"][1].value) if "total" in found else None


def test_the_last_row_under_a_total_heading_is_the_total():
    rows = [
        [("Warenwert", 120)] + HEAD,
        [("321,40", 300), ("61,07", 420), ("19,0", 520), ("382,47", 660)],
        [("127,59", 300), ("8,93", 420), ("7,0", 520), ("136,52", 660)],
        [("448,99", 300), ("70,00", 420), ("EUR", 520), ("518,99", 660)],
    ]
    assert _total(rows) == "518.99"
    # a credit note's negative sum row is taken the same way
    credit = [rows[0], [("-4,85", 300), ("-0,92", 420), ("19,0", 520), ("-5,77", 660)],
              [("-7,67", 300), ("-1,12", 420), ("EUR", 520), ("-8,79", 660)]]
    assert _total(credit) == "-8.79"


def test_a_row_of_words_ends_the_column():
    rows = [
        [("Warenwert", 120)] + HEAD,
        [("321,40", 300), ("61,07", 420), ("19,0", 520), ("382,47", 660)],
        [("Zahlbar", 200), ("innerhalb", 300), ("14", 420), ("Tagen", 520), ("999,00", 660)],
    ]
    # one row of amounts under the heading: the amount next to the heading is taken as before
    assert _total(rows) == "382.47"
