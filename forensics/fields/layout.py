"""Line-level helpers shared by the field finders: lines in reading order with their page, and
the box of a character span inside a line."""

from __future__ import annotations

import re
from dataclasses import dataclass

from forensics.model import Box, Line, Reading, Word, union_box


@dataclass(frozen=True)
class TextLine:
    """One printed line with its page and index in reading order across the document."""

    page: int
    index: int
    line: Line
    text: str

    @property
    def box(self) -> Box:
        return self.line.box

    @property
    def confidence(self) -> float:
        words = self.line.words
        return sum(w.confidence for w in words) / len(words) if words else 0.0

    def span_words(self, start: int, end: int) -> list[Word]:
        """The words that the character span [start, end) of ``text`` touches (words are
        joined by single spaces in ``text``)."""
        out: list[Word] = []
        pos = 0
        for w in self.line.words:
            w_end = pos + len(w.text)
            if pos < end and start < w_end:
                out.append(w)
            pos = w_end + 1
        return out

    def span_box(self, start: int, end: int) -> Box:
        """The box of the words the span touches."""
        return union_box([w.box for w in self.span_words(start, end)]) or self.line.box

    def span_confidence(self, start: int, end: int) -> float:
        """The lowest word confidence over the span (what OCR doubts most)."""
        confs = [w.confidence for w in self.span_words(start, end)]
        return min(confs) if confs else self.confidence


def text_lines(reading: Reading) -> list[TextLine]:
    """Every line of the document in reading order."""
    return [TextLine(page, i, line, line.text) for i, (page, line) in enumerate(reading.lines())]


def fold(text: str) -> str:
    """Lower-case with runs of spaces folded: the form labels are matched in."""
    return re.sub(r"\s+", " ", text.lower()).strip()


def letters_ratio(text: str) -> float:
    """Share of letters among the non-space characters (how much a line looks like words)."""
    chars = [c for c in text if not c.isspace()]
    return sum(c.isalpha() for c in chars) / len(chars) if chars else 0.0
