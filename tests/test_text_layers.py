"""Text-layer pages compared by words and boxes before the pixel alignment."""

from __future__ import annotations

import random

from forensics.text_layers import MIN_WORDS, screen, screen_scan

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


# --------------------------------------------------------------------------- against a scan

LAYER = [f"{w}" for w in (
    "Rechnung Nummer RE-2024-0815 Datum 15.03.2024 Kunde Musterfirma GmbH Hauptstrasse 12 "
    "Berlin Position Beschreibung Menge Einzelpreis Gesamtpreis Beratung Stunden 120.00 960.00 "
    "Reisekosten Pauschale 85.00 Zwischensumme 1045.00 Umsatzsteuer 19% 198.55 Gesamtbetrag "
    "1243.55 Zahlbar innerhalb 14 Tagen ohne Abzug Bankverbindung IBAN DE89370400440532013000 "
    "Sparkasse Steuernummer 21/815/08150 Geschaeftsfuehrer Erika Mustermann Amtsgericht "
    "Charlottenburg HRB 123456").split()]
RECEIPT = ("KEDAI RUNCIT MAJU JAYA SDN BHD NO 12 JALAN BUNGA RAYA 47100 PUCHONG SELANGOR GST ID "
           "000123456789 TAX INVOICE CASHIER AMINAH MILO 2KG 29.90 BERAS SUPER 10KG 32.50 GULA PASIR "
           "2.85 ROUNDING 0.01 TOTAL 65.25 CASH 70.00 CHANGE 4.75 THANK YOU PLEASE COME AGAIN "
           "GOODS SOLD ARE NOT RETURNABLE").split()


def test_an_unrelated_receipt_scan_is_unrelated_without_the_pixels():
    verdict = screen_scan(LAYER, [(w, 0.93) for w in RECEIPT])
    assert verdict is not None
    score, details = verdict
    assert score > 0.75 and details["shared_words"] <= 2


def test_a_scan_of_the_page_with_ocr_slips_is_left_to_the_pixels():
    rng = random.Random(3)
    read = []
    for w in LAYER:  # a third of the words misread by a character, a few lost
        if rng.random() < 0.1:
            continue
        if rng.random() < 0.33 and len(w) > 3:
            i = rng.randrange(len(w))
            w = w[:i] + rng.choice("0OIl18B") + w[i + 1:]
        read.append((w, rng.uniform(0.82, 0.97)))
    assert screen_scan(LAYER, read) is None


def test_a_crop_of_the_page_and_a_document_of_its_template_are_left_to_the_pixels():
    assert screen_scan(LAYER, [(w, 0.95) for w in LAYER[:30]]) is None  # the top half, scanned
    template = [w for w in LAYER if not any(c.isdigit() for c in w)]  # labels, names, address
    other = template + [f"{7 * i + 13}.{i:02d}" for i in range(25)]  # another invoice's numbers
    assert screen_scan(LAYER, [(w, 0.95) for w in other]) is None


def test_a_scan_read_poorly_or_not_at_all_is_left_to_the_pixels():
    assert screen_scan(LAYER, [(w, 0.95) for w in RECEIPT[:12]]) is None  # too few words
    assert screen_scan(LAYER, [(w, 0.4) for w in RECEIPT]) is None  # OCR was unsure of them all
    assert screen_scan(LAYER, []) is None


def test_a_page_placed_once_screens_as_it_does_unplaced():
    import pytest

    from forensics.text_layers import BOX_TOLERANCE, Placed, placed_layer, unmatched

    a = page(1)
    placed = placed_layer(a, SIZE)
    others = [page(2, top=1900, left=1200, lines=20, words=3), list(a), page(2),
              [(t[::-1], box) for t, box in a[:100]] + a[100:]]
    for b in others:
        assert screen(a, SIZE, b, SIZE, placed) == screen(a, SIZE, b, SIZE)
        tol = BOX_TOLERANCE * max(SIZE)
        assert unmatched(b, placed, tol) == unmatched(b, a, tol)
        assert screen(a, SIZE, b, SIZE, placed_layer(page(7), SIZE)) == screen(a, SIZE, b, SIZE)  # not a's: unused
    with pytest.raises(ValueError):
        unmatched(a, Placed(a, 3.0), 4.0)  # placed for another tolerance: never silently reused


def test_an_earlier_page_placed_once_screens_as_it_does_unplaced_against_many():
    # an earlier page (b) met by many later ones: its words placed once at their size, its
    # agreement raster kept with them after the first screen
    from forensics.text_layers import placed_layer

    later = [page(1), page(2), page(3, top=1900, left=1200, lines=20, words=3), page(4, top=230)]
    for b in (page(2, top=1900, left=1200, lines=20, words=3), page(5), page(6, top=210, left=170)):
        placed_b = placed_layer(b, SIZE)
        for a in later:
            for a_placed in (None, placed_layer(a, SIZE)):
                assert screen(a, SIZE, b, SIZE, a_placed, placed_b) == screen(a, SIZE, b, SIZE)
        assert screen(later[0], SIZE, b, SIZE, None, placed_layer(page(7), SIZE)) == screen(later[0], SIZE, b, SIZE)
    placed_b = placed_layer(page(8), SIZE)
    screen(later[2], SIZE, page(8), SIZE, None, placed_b)
    assert not placed_b.rasters  # placed for other words (an equal list is not those words): unused
    b = page(8)
    placed_b = placed_layer(b, SIZE)
    assert screen(later[2], SIZE, b, SIZE, None, placed_b) is not None and placed_b.rasters  # kept
