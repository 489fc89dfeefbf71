"""Readings made from typed lines, for the field rules' tests: one OCR word per token."""

from __future__ import annotations

from forensics.fields.layout import text_lines
from forensics.fields.merchant import find_merchant
from forensics.fields.totals import find_totals
from forensics.model import PageReading, Reading, Word


def reading_of(lines: list[str], conf: float = 0.9) -> Reading:
    words = []
    for i, text in enumerate(lines):
        x = 10
        for token in text.split():
            words.append(Word(token, (x, 20 * i, x + 10 * len(token), 20 * i + 15), conf, block=1, line=i))
            x += 10 * len(token) + 10
    return Reading((PageReading(1, "ocr", tuple(words), 800, 20 * len(lines) + 20),))


def merchant(lines: list[str]) -> tuple[str | None, str | None]:
    name, address = find_merchant(text_lines(reading_of(lines)))
    return (name.value if name else None), (address.value if address else None)


def total(lines: list[str]) -> str | None:
    found = find_totals(text_lines(reading_of(lines)))
    return str(found["total"][1].value) if "total" in found else None
