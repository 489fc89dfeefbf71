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
    #: where each word starts in ``text`` (:func:`joined`)
    starts: tuple[int, ...]

    @property
    def box(self) -> Box:
        return self.line.box

    @property
    def confidence(self) -> float:
        words = self.line.words
        return sum(w.confidence for w in words) / len(words) if words else 0.0

    def span_words(self, start: int, end: int) -> list[Word]:
        """The words that the character span [start, end) of ``text`` touches."""
        return [w for w, pos in zip(self.line.words, self.starts, strict=True)
                if pos < end and start < pos + len(w.text)]

    def span_box(self, start: int, end: int) -> Box:
        """The box of the words the span touches."""
        return union_box([w.box for w in self.span_words(start, end)]) or self.line.box

    def span_confidence(self, start: int, end: int) -> float:
        """The lowest word confidence over the span (what OCR doubts most)."""
        confs = [w.confidence for w in self.span_words(start, end)]
        return min(confs) if confs else self.confidence


#: Chinese characters and CJK punctuation (ideographs, CJK symbols, full-width forms)
_CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]")


def joined(words: tuple[Word, ...]) -> tuple[str, tuple[int, ...]]:
    """A line's text and where each word starts in it. Tesseract's chi_sim model returns
    Chinese text as words of one or two characters ("发 票 号 码", "恒源路 135 号"); Chinese is
    written without spaces, so two words meeting at a Chinese character and another Chinese
    character or a digit are joined without one ("发票号码", "恒源路135号"), the form its labels
    and values are printed and matched in."""
    parts: list[str] = []
    starts: list[int] = []
    pos = 0
    for i, w in enumerate(words):
        if i:
            sep = " "
            if w.text and words[i - 1].text:
                a, b = words[i - 1].text[-1], w.text[0]
                if (_CJK.match(a) and (_CJK.match(b) or b.isdigit())) or (a.isdigit() and _CJK.match(b)):
                    sep = ""
            parts.append(sep)
            pos += len(sep)
        starts.append(pos)
        parts.append(w.text)
        pos += len(w.text)
    return "".join(parts), tuple(starts)


def text_lines(reading: Reading) -> list[TextLine]:
    """Every line of the document in reading order."""
    out = []
    for i, (page, line) in enumerate(reading.lines()):
        text, starts = joined(line.words)
        out.append(TextLine(page, i, line, text, starts))
    return out


def fold(text: str) -> str:
    """Lower-case with runs of spaces folded: the form labels are matched in."""
    return re.sub(r"\s+", " ", text.lower()).strip()


def letters_ratio(text: str) -> float:
    """Share of letters among the non-space characters (how much a line looks like words)."""
    chars = [c for c in text if not c.isspace()]
    return sum(c.isalpha() for c in chars) / len(chars) if chars else 0.0
