"""Document traces detector: editors in metadata, PDF revisions, text layer vs render, XML."""

from __future__ import annotations

from datetime import UTC, datetime

from PIL import Image, ImageDraw, ImageFont

from forensics.detectors import Analysis
from forensics.detectors.document_traces import compare_layer, covered_words, detector, is_blank
from forensics.events import UploadEvent
from forensics.model import (
    Document,
    Extraction,
    Field,
    Page,
    PageReading,
    PdfInfo,
    Reading,
    Word,
)
from forensics.settings import Settings

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


def analysis_of(*, pdf: PdfInfo | None = None, meta: dict[str, str] | None = None,
                pages: tuple[Page, ...] = (), extraction: Extraction | None = None,
                lines: list[str] = ()) -> Analysis:
    words = tuple(Word(t, (10, 20 + 30 * i, 200, 40 + 30 * i), 1.0, 1, i) for i, t in enumerate(lines))
    reading = Reading((PageReading(1, "text_layer" if pdf else "ocr", words, 600, 800),))
    doc = Document("0" * 64, "application/pdf" if pdf else "image/jpeg", 1000,
                   pages or (Page(1, 600, 800),), pdf=pdf, image_meta=meta or {})
    event = UploadEvent("E1", "S1", "x", uploaded_at=datetime(2024, 6, 1, tzinfo=UTC))
    return Analysis(event, doc, reading, extraction or Extraction({}), Settings())


def codes(result, severities=("low", "medium", "high")):
    return [f.code for f in result.findings if f.severity in severities]


def test_honest_pdf_and_image_stay_quiet():
    pdf = PdfInfo(producer="Apache FOP Version 1.0", creator="Apache FOP Version 1.0",
                  created="2016-01-19T01:46:15+01:00", page_count=1)
    assert detector.run(analysis_of(pdf=pdf), None).findings == ()
    result = detector.run(analysis_of(meta={"Make": "Canon", "Model": "CanoScan", "Software": "ScanGear"}), None)
    assert result.status == "done" and result.findings == ()


def test_image_editor_and_receipt_generator_named_in_metadata():
    result = detector.run(analysis_of(meta={"Software": "GIMP 2.10.34"}), None)
    assert codes(result) == ["editing_software"]
    assert "GIMP" in result.findings[0].message
    pdf = PdfInfo(producer="Skia/PDF m120", creator="ExpressExpense Custom Receipt Maker")
    result = detector.run(analysis_of(pdf=pdf), None)
    assert [f.severity for f in result.findings if f.code == "editing_software"] == ["high"]


def test_word_processor_is_only_noted():
    pdf = PdfInfo(producer="Microsoft® Word for Microsoft 365", creator="Microsoft® Word for Microsoft 365")
    result = detector.run(analysis_of(pdf=pdf), None)
    assert codes(result) == [] and [f.severity for f in result.findings] == ["info"]


def test_pdf_saved_again_by_an_editor_is_edited():
    pdf = PdfInfo(producer="Adobe Acrobat Pro DC 21.1", creator="SAP NetWeaver",
                  created="2024-01-05T10:00:00+01:00", modified="2024-03-02T18:30:00+01:00",
                  incremental_updates=2)
    result = detector.run(analysis_of(pdf=pdf), None)
    assert codes(result) == ["pdf_edited"]
    assert "Acrobat" in result.findings[0].message and "2 saved revisions" in result.findings[0].message


def test_incremental_saves_by_an_einvoice_tool_are_only_noted():
    pdf = PdfInfo(producer="intarsys PDF/A Live!", creator="intarsys ZUGFeRD Toolkit 1.0",
                  created="2014-06-24T14:01:21+02:00", modified="2014-10-06T16:13:53+02:00",
                  incremental_updates=4)
    result = detector.run(analysis_of(pdf=pdf), None)
    assert codes(result) == [] and [f.code for f in result.findings] == ["pdf_edited"]


def test_embedded_xml_contradicting_the_visible_total():
    visible = Field("total", "1190.00", "1.190,00", 1.0, 1, (400, 500, 520, 520), "text_layer")
    xml = Field("total", "119.00", "119.00", 1.0, source="xml")
    extraction = Extraction({"total": visible}, {"total": {"xml": xml}})
    result = detector.run(analysis_of(pdf=PdfInfo(einvoice_xml="<x/>"), extraction=extraction,
                                      lines=["Gesamtbetrag 1.190,00 EUR"]), None)
    assert codes(result) == ["xml_mismatch"]
    assert "119.00" in result.findings[0].message and "1190.00" in result.findings[0].message
    # the same XML total printed somewhere visible: the extractor chose another number
    result = detector.run(analysis_of(pdf=PdfInfo(einvoice_xml="<x/>"), extraction=extraction,
                                      lines=["Gesamtbetrag 119.00 EUR", "Zwischensumme 1.190,00"]), None)
    assert codes(result) == []


def render(texts: list[tuple[tuple[int, int], str]]) -> Image.Image:
    img = Image.new("L", (900, 600), 255)
    draw = ImageDraw.Draw(img)
    font = ImageFont.truetype(FONT, 40)
    for xy, text in texts:
        draw.text(xy, text, font=font, fill=0)
    return img


def layer_word(text: str, xy: tuple[int, int]) -> Word:
    return Word(text, (xy[0], xy[1] + 5, xy[0] + 25 * len(text), xy[1] + 45), 1.0, 1, 0)


def test_text_layer_compared_with_the_render():
    img = render([((60, 100), "TOTAL"), ((400, 100), "95.45")])
    layer = (layer_word("TOTAL", (60, 100)), layer_word("85.45", (400, 100)),
             layer_word("123.45", (400, 300)))
    ocr = PageReading(1, "ocr", (Word("TOTAL", (60, 105, 190, 145), 0.95, 1, 1),
                                 Word("95.45", (400, 105, 525, 145), 0.95, 1, 1)), 900, 600)
    page = Page(1, 900, 600, image=img, text_words=layer)
    diffs = {d["kind"]: d for d in compare_layer(page, ocr)}
    assert diffs["overlaid"]["layer"] == "85.45" and diffs["overlaid"]["render"] == "95.45"
    assert diffs["hidden"]["layer"] == "123.45"
    assert is_blank(__import__("numpy").asarray(img), (400, 300, 550, 345))
    # the page's image read box by box answers as its whole array does (edges and colour too)
    for image in (img, img.convert("RGB")):
        for box in ((400, 300, 550, 345), (400, 100, 525, 145), (-20, -5, 70, 120), (850, 560, 990, 700), (5, 5, 5, 9)):
            assert is_blank(image, box) == is_blank(__import__("numpy").asarray(image.convert("L")), box)


def test_text_layer_mismatch_end_to_end_with_ocr():
    img = render([((60, 100), "TOTAL"), ((400, 100), "95.45"), ((60, 200), "INVOICE 2024-0117")])
    layer = (layer_word("TOTAL", (60, 100)), layer_word("85.45", (400, 100)),
             layer_word("INVOICE", (60, 200)), layer_word("2024-0117", (290, 200)))
    page = Page(1, 900, 600, image=img, text_words=layer, overlays=(layer[1].box,))
    result = detector.run(analysis_of(pdf=PdfInfo(page_count=1), pages=(page,)), None)
    found = [f for f in result.findings if f.code == "text_layer_mismatch"]
    assert found and "85.45" in found[0].message and found[0].box == layer[1].box
    honest = Page(1, 900, 600, image=render([((60, 100), "TOTAL"), ((400, 100), "85.45")]),
                  text_words=layer[:2])
    assert detector.run(analysis_of(pdf=PdfInfo(page_count=1), pages=(honest,)), None).findings == ()


def _pdf(draw) -> bytes:  # noqa: ANN001
    from fpdf import FPDF

    pdf = FPDF(unit="pt", format=(400, 300))
    pdf.add_page()
    pdf.set_font("helvetica", size=20)
    draw(pdf)
    return bytes(pdf.output())


def test_number_painted_over_in_a_real_pdf_is_found_by_reading_its_box_only(monkeypatch):
    from forensics.documents import load_document
    from forensics.ocr import engines

    def forged(pdf):  # noqa: ANN001
        pdf.set_fill_color(235, 235, 235)
        pdf.rect(20, 20, 360, 40, style="F")  # a shaded band drawn before the text: no overlay
        pdf.text(40, 50, "TOTAL")
        pdf.text(200, 50, "85.45")
        pdf.text(40, 150, "INVOICE 2024-0117")
        pdf.set_fill_color(255, 255, 255)
        pdf.rect(300, 100, 60, 60, style="F")  # over a corner of a number: not hiding it
        pdf.rect(196, 28, 80, 28, style="F")  # a white box over the total ...
        pdf.text(200, 50, "95.45")  # ... and another number drawn on it

    settings = Settings()
    doc = load_document(_pdf(forged), claimed_type=None, settings=settings)
    page = doc.pages[0]
    assert page.overlays and not any("INVOICE" in w.text for w in covered_words(page))
    # the number drawn on the box sits where the hidden one was: read too, and agrees
    assert sorted(w.text for w in covered_words(page)) == ["85.45", "95.45"]
    crops = []
    for cls in (engines.TesserocrEngine, engines.PytesseractEngine):
        orig = cls.words

        def spy(self, image, *, psm=6, _orig=orig):  # noqa: ANN001
            crops.append(image.size)
            return _orig(self, image, psm=psm)
        monkeypatch.setattr(cls, "words", spy)
    analysis = analysis_of(pdf=PdfInfo(page_count=1), pages=doc.pages)
    found = [f for f in detector.run(analysis, None).findings if f.code == "text_layer_mismatch"]
    assert len(found) == 1 and "85.45" in found[0].message and "95.45" in found[0].message
    # one small crop read (the place both numbers share), never the whole page
    assert len(crops) == 1 and crops[0][0] * crops[0][1] < page.width * page.height / 20


def test_honest_pdf_has_no_overlays_and_reads_nothing_again():
    from forensics.documents import load_document

    def honest(pdf):  # noqa: ANN001
        pdf.set_fill_color(235, 235, 235)
        pdf.rect(20, 20, 360, 40, style="F")
        pdf.text(40, 50, "TOTAL")
        pdf.text(200, 50, "85.45")
        pdf.line(20, 60, 380, 60)

    doc = load_document(_pdf(honest), claimed_type=None, settings=Settings())
    assert doc.pages[0].overlays == () and covered_words(doc.pages[0]) == []
    result = detector.run(analysis_of(pdf=PdfInfo(page_count=1), pages=doc.pages), None)
    assert not [f for f in result.findings if f.code == "text_layer_mismatch"]


def test_unrendered_text_layer_is_said_in_the_status():
    page = Page(1, 900, 600, image=None, text_words=(layer_word("85.45", (400, 100)),))
    result = detector.run(analysis_of(pdf=PdfInfo(page_count=1), pages=(page,)), None)
    assert result.status.startswith("done:") and "not compared" in result.status


def test_einvoice_resaved_by_an_office_program_or_pdf_tool_is_edited():
    for producer in ("LibreOffice 7.6", "iLovePDF", "Microsoft® Word for Microsoft 365"):
        pdf = PdfInfo(producer=producer, creator=producer, einvoice_xml="<x/>",
                      einvoice_name="factur-x.xml")
        result = detector.run(analysis_of(pdf=pdf), None)
        edited = [f for f in result.findings if f.code == "pdf_edited"]
        assert [f.severity for f in edited] == ["medium"], producer
        assert producer in edited[0].message
    # the same producers without an e-invoice: a word-processor invoice is only noted
    result = detector.run(analysis_of(pdf=PdfInfo(producer="LibreOffice 7.6", creator="Writer")), None)
    assert codes(result) == []
    # a Word layout made into an e-invoice by an e-invoice tool names that tool as producer
    pdf = PdfInfo(producer="PDFBox e-invoice toolkit", creator="Word", einvoice_xml="<x/>")
    assert codes(detector.run(analysis_of(pdf=pdf), None)) == []


def test_percentile_of_counts_is_numpys_percentile_to_the_last_bit():
    import numpy as np

    from forensics.detectors.document_traces import percentile_of_counts

    rng = np.random.default_rng(7)
    for size in (1, 2, 3, 7, 10, 11, 40, 99, 100, 101, 1234, 4000):
        for _ in range(20):
            values = rng.integers(0, 256, size) if rng.random() < 0.5 else rng.choice([0, 30, 200, 255], size)
            counts = np.bincount(values.astype(np.uint8), minlength=256)
            for q in (90, 50, 10, 99.5):
                assert percentile_of_counts(counts, q) == np.percentile(values.astype(np.int16), q)
