"""The embedded e-invoice XML is the main value; the visible text's reading stays beside it."""

from __future__ import annotations

from forensics.fields import extract
from forensics.model import Document, PageReading, PdfInfo, Reading, Word
from tests.fields.test_einvoice import CII


def text_layer(lines: list[str]) -> Reading:
    words = []
    for i, text in enumerate(lines):
        x = 10
        for token in text.split():
            words.append(Word(token, (x, 20 * i, x + 10 * len(token), 20 * i + 15), 1.0, block=1, line=i))
            x += 10 * len(token) + 10
    return Reading((PageReading(1, "text_layer", tuple(words), 800, 600),))


def pdf(xml: str | None) -> Document:
    return Document("0" * 64, "application/pdf", 1, (), pdf=PdfInfo(einvoice_xml=xml, einvoice_name="factur-x.xml"))


VISIBLE = [
    "Au bon moulin",
    "Facture FA-2017-0010",
    "Date de facture 13/11/2017",
    "Total HT 624,90 €",
    "Total TTC 699,00 €",  # a visible total that the XML contradicts
]


def test_xml_value_is_main_and_text_value_is_kept():
    ex = extract(text_layer(VISIBLE), pdf(CII))
    total = ex.fields["total"]
    assert total.value == "671.15" and total.source == "xml"
    assert ex.alternatives["total"]["text"].value == "699.00"
    assert ex.alternatives["total"]["text"].source == "text_layer"
    assert ex.alternatives["total"]["xml"].value == "671.15"


def test_agreeing_values_keep_the_visible_box():
    ex = extract(text_layer(VISIBLE), pdf(CII))
    serial = ex.fields["serial"]
    assert serial.value == "FA-2017-0010" and serial.source == "xml"
    assert serial.box is not None and serial.page == 1
    assert ex.fields["date"].value == "2017-11-13" and ex.fields["date"].box is not None


def test_without_xml_the_text_is_main():
    ex = extract(text_layer(VISIBLE), pdf(None))
    assert ex.fields["total"].value == "699.00" and ex.fields["total"].source == "text_layer"
    assert "total" not in ex.alternatives


def test_german_gross_total_and_dashed_number_from_text():
    lines = ["Rechnung Nr. 20131122-42", "Rechnungsdatum: 31.01.2014", "Summe netto 1.420,00",
             "MwSt 19% 269,80", "Rechnungsbetrag 1.689,80"]
    ex = extract(text_layer(lines), pdf(None))
    assert ex.fields["serial"].value == "20131122-42"
    assert ex.fields["total"].value == "1689.80"
    assert ex.fields["date"].value == "2014-01-31"
