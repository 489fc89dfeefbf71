"""Text-layer pages compared by words and boxes before the pixel alignment."""

from __future__ import annotations

import random

from forensics.text_layers import MIN_WORDS, screen

SIZE = (2480, 3508)  # A4 at 300 DPI


def page(seed: int, *, top: int = 200, left: int = 150, lines: int = 40, words: int = 5):
    """Words of an invoice-like page: ``lines`` lines of ``words`` words each."""
    rng = random.Random(seed)
    out = []
    for i in range(lines):
        x = left
        for _ in range(words):
            text = "".join(rng.choice("ABCDEFGHKLMNPRSTUVWXYZ0123456789") for _ in range(rng.randint(3, 9)))
            w = 22 * len(text)
            out.append((text, (x, top + 60 * i, x + w, top + 60 * i + 35)))
            x += w + 30
    return out


def test_different_documents_in_different_places_are_unrelated():
    a = page(1)
    b = page(2, top=1900, left=1200, lines=20, words=3)
    verdict = screen(a, SIZE, b, SIZE)
    assert verdict is not None
    score, details = verdict
    assert 0.65 < score <= 1.0 and details["registration"] == "skipped: text layers"


def test_the_same_text_layer_is_left_to_the_pixels():
    a = page(1)
    assert screen(a, SIZE, list(a), SIZE) is None


def test_an_edited_copy_is_left_to_the_pixels():
    a = page(1)
    b = list(a)
    for i in (7, 60, 120):  # three numbers changed in place
        text, box = b[i]
        b[i] = (text[::-1] + "9", box)
    assert screen(a, SIZE, b, SIZE) is None


def test_one_template_with_other_content_is_left_to_the_pixels():
    # every word different, but printed where the other page prints its words: maybe one layout
    a, b = page(1), page(2)
    b = [(tb, ba) for (tb, _), (_, ba) in zip(b, a, strict=True)]
    assert screen(a, SIZE, b, SIZE) is None


def test_pages_of_other_sizes_or_few_words_are_left_to_the_pixels():
    a, b = page(1), page(2, top=1900, left=1200, lines=20, words=3)
    assert screen(a, SIZE, b, (1240, 1754)) is None  # a scaled render: the pixels align it
    assert screen(a[: MIN_WORDS - 1], SIZE, b, SIZE) is None
