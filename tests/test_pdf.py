"""PDFs: the text layer in pixel coordinates, metadata, structure and the embedded e-invoice."""

from __future__ import annotations

import io
import zlib
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from fpdf import FPDF
from pypdf import PdfReader, PdfWriter

from fixtures.bad_inputs import encrypted, receipt_pdf, with_attachment, with_javascript
from forensics.documents import load_document
from forensics.model import PageReading
from forensics.pdf_info import (
    count_incremental_updates,
    is_einvoice_xml,
    pdf_date_iso,
    raw_javascript_scan,
    read_pdf_info,
)
from forensics.settings import Settings

SETTINGS = Settings()
#: pixels per point at the default 300 DPI
SCALE = 300 / 72
FONT_SIZE = 12

#: (text, x, baseline y) in points, drawn in this order: the left column completely before the
#: right one, and a label followed at once by its far-right amount
DRAWN = [
    ("Invoice No: INV-2024-0042", 30, 40),
    ("Date: 15.03.2024", 30, 60),
    ("Seller GmbH", 30, 100),
    ("Hauptstr. 1", 30, 114),
    ("Buyer Ltd", 230, 100),
    ("Main St 5", 230, 114),
    ("Total", 30, 200),
    ("1,234.56", 300, 200),
]


def text_pdf(drawn=DRAWN, size=(400, 300)) -> tuple[bytes, FPDF]:
    pdf = FPDF(unit="pt", format=size)
    pdf.set_creator("Invoice Designer 7")
    pdf.set_producer("fpdf2 test build")
    pdf.set_creation_date(datetime(2024, 3, 15, 14, 2, 3, tzinfo=timezone(timedelta(hours=1))))
    pdf.add_page()
    pdf.set_font("Helvetica", size=FONT_SIZE)
    for text, x, y in drawn:
        pdf.text(x, y, text)
    return bytes(pdf.output()), pdf


def expected_words(pdf: FPDF, scale: float = SCALE) -> list[tuple[str, float, float, float]]:
    """(word, x0, x1, baseline) in pixels, from fpdf2's own string widths."""
    out = []
    for text, x, y in DRAWN:
        offset = 0.0
        for word in text.split(" "):
            x0 = x + offset
            out.append((word, x0 * scale, (x0 + pdf.get_string_width(word)) * scale, y * scale))
            offset += pdf.get_string_width(word + " ")
    return out


def load(data: bytes, settings: Settings = SETTINGS):
    return load_document(data, claimed_type="application/pdf", settings=settings)


# --- text layer ---------------------------------------------------------------------------------


def test_text_layer_words_sit_where_the_text_was_drawn() -> None:
    data, pdf = text_pdf()
    page = load(data).pages[0]
    assert page.dpi == 300 and page.image is not None and page.image.size == (1667, 1250)
    words = {w.text: w for w in page.text_words}
    em = FONT_SIZE * SCALE
    for text, x0, x1, baseline in expected_words(pdf):
        word = words[text]
        assert word.confidence == 1.0
        # ink lies inside the advance box, a side bearing from its edges (at most 0.25 em)
        assert x0 - 2 <= word.box[0] <= x0 + 0.15 * em, (text, word.box, x0)
        assert x1 - 0.25 * em <= word.box[2] <= x1 + 2, (text, word.box, x1)
        assert baseline - 0.85 * em <= word.box[1] <= baseline - 0.5 * em, (text, word.box)
        assert baseline - 2 <= word.box[3] <= baseline + 0.25 * em, (text, word.box)


def test_text_layer_boxes_cover_ink() -> None:
    data, _ = text_pdf()
    page = load(data).pages[0]
    pixels = np.asarray(page.image)
    for word in page.text_words:
        x0, y0, x1, y1 = word.box
        assert pixels[y0:y1, x0:x1].min() < 100, word


def test_text_layer_lines_follow_the_printed_lines() -> None:
    data, _ = text_pdf()
    page = load(data).pages[0]
    reading = PageReading(1, "text_layer", page.text_words, page.width, page.height)
    lines = [line.text for line in reading.lines()]
    assert sorted(lines) == sorted([
        "Invoice No: INV-2024-0042",
        "Date: 15.03.2024",
        "Seller GmbH",  # two columns on one baseline, written one after the other: two lines
        "Buyer Ltd",
        "Hauptstr. 1",
        "Main St 5",
        "Total 1,234.56",  # label and amount written in sequence: one line
    ])  # fmt: skip
    assert lines[:2] == ["Invoice No: INV-2024-0042", "Date: 15.03.2024"]
    assert lines[-1] == "Total 1,234.56"
    keys = {(w.block, w.line) for w in page.text_words}
    assert len(keys) == len(lines)


def test_text_drawn_twice_for_fake_bold_counts_once() -> None:
    data, _ = text_pdf([("TOTAL", 30, 40), ("TOTAL", 30.3, 40), ("9.99", 120, 40)])
    page = load(data).pages[0]
    assert [w.text for w in page.text_words] == ["TOTAL", "9.99"]


def test_a_monospaced_comma_does_not_split_an_amount() -> None:
    # Courier's comma is a sliver of ink inside a full advance: its ink gaps pass for word gaps
    pdf = FPDF(unit="pt", format=(400, 300))
    pdf.add_page()
    pdf.set_font("Courier", size=8)
    pdf.text(30, 40, "326,50 -8,10 1.234,56 EUR 518,99")
    page = load(bytes(pdf.output())).pages[0]
    assert [w.text for w in page.text_words] == ["326,50", "-8,10", "1.234,56", "EUR", "518,99"]


def test_page_without_text_has_no_text_layer() -> None:
    blank, _ = text_pdf([])
    spaces, _ = text_pdf([("    ", 30, 40)])
    for data in (blank, spaces):
        page = load(data).pages[0]
        assert page.text_words is None and not page.has_text_layer
        assert page.image is not None


def test_rotated_page_boxes_stay_on_the_ink() -> None:
    data, _ = text_pdf()
    writer = PdfWriter(clone_from=io.BytesIO(data))
    writer.pages[0].rotate(90)
    out = io.BytesIO()
    writer.write(out)
    page = load(out.getvalue()).pages[0]
    assert page.image.size == (1250, 1667)  # landscape page shown as portrait
    pixels = np.asarray(page.image)
    assert page.text_words
    for word in page.text_words:
        x0, y0, x1, y1 = word.box
        assert 0 <= x0 < x1 <= page.width and 0 <= y0 < y1 <= page.height
        assert pixels[y0:y1, x0:x1].min() < 100, word


def test_sideways_text_is_read_in_its_own_direction() -> None:
    pdf = FPDF(unit="pt", format=(400, 300))
    pdf.add_page()
    pdf.set_font("Helvetica", size=FONT_SIZE)
    pdf.text(20, 20, "Normal line here")
    with pdf.rotation(90, x=100, y=250):
        pdf.text(100, 250, "Up text two")
    with pdf.rotation(-90, x=300, y=50):
        pdf.text(300, 50, "Down text three")
    page = load(bytes(pdf.output())).pages[0]
    reading = PageReading(1, "text_layer", page.text_words, page.width, page.height)
    assert sorted(line.text for line in reading.lines()) == [
        "Down text three", "Normal line here", "Up text two",
    ]  # fmt: skip
    up = [w for w in page.text_words if w.text in ("Up", "two")]
    assert up[0].box[1] > up[1].box[1]  # reads bottom to top
    rotated, _ = text_pdf()
    writer = PdfWriter(clone_from=io.BytesIO(rotated))
    writer.pages[0].rotate(90)
    out = io.BytesIO()
    writer.write(out)
    words = {w.text for w in load(out.getvalue()).pages[0].text_words}
    assert {"Hauptstr.", "Seller", "GmbH", "INV-2024-0042", "1,234.56"} <= words


def test_huge_page_is_rendered_at_lower_dpi_within_max_pixels() -> None:
    data, _ = text_pdf([("Total 12.00", 30, 40)], size=(14400, 14400))
    settings = SETTINGS.with_(max_pixels=1_000_000)
    page = load(data, settings).pages[0]
    assert page.dpi < 300
    assert page.width * page.height <= settings.max_pixels
    assert page.width == pytest.approx(14400 * page.dpi / 72, abs=1)
    total = next(w for w in page.text_words if w.text == "Total")
    assert total.box[0] == pytest.approx(30 * page.dpi / 72, abs=2)


def test_page_limit_is_checked_before_rendering() -> None:
    with pytest.raises(Exception) as info:
        load(receipt_pdf(pages=3), SETTINGS.with_(max_pages=2))
    assert getattr(info.value, "code", None) == "too_many_pages"
    assert len(load(receipt_pdf(pages=2)).pages) == 2


# --- metadata and structure -----------------------------------------------------------------------


def test_metadata_is_read_and_dates_are_iso() -> None:
    data, _ = text_pdf()
    info = load(data).pdf
    assert info is not None
    assert info.creator == "Invoice Designer 7"
    assert info.producer == "fpdf2 test build"
    assert info.created == "2024-03-15T14:02:03+01:00"
    assert info.page_count == 1 and info.incremental_updates == 0
    assert info.has_javascript is False and info.embedded_files == ()


@pytest.mark.parametrize(
    ("raw", "iso"),
    [("D:20240315140203+01'00'", "2024-03-15T14:02:03+01:00"),
     ("D:20240315140203-05'30", "2024-03-15T14:02:03-05:30"),
     ("D:20240315140203Z", "2024-03-15T14:02:03Z"),
     ("D:20240315140203Z00'00'", "2024-03-15T14:02:03Z"),
     ("D:20240315", "2024-03-15"),
     ("20240315140203", "2024-03-15T14:02:03"),
     ("D:20241315", "D:20241315"),
     ("last tuesday", "last tuesday")],
)  # fmt: skip
def test_pdf_date_iso(raw: str, iso: str) -> None:
    assert pdf_date_iso(raw) == iso


def test_incremental_update_is_counted_and_metadata_follows_the_last_revision() -> None:
    data, _ = text_pdf()
    writer = PdfWriter(io.BytesIO(data), incremental=True)
    writer.add_metadata({"/Producer": "PDF Editor Pro 12"})
    out = io.BytesIO()
    writer.write(out)
    info = read_pdf_info(out.getvalue())
    assert info.incremental_updates == 1
    assert info.producer == "PDF Editor Pro 12"


def test_linearized_file_is_not_an_edit() -> None:
    linearized = (
        b"%PDF-1.5\n1 0 obj <</Linearized 1/L 999>> endobj\n"
        b"trailer <<>>\nstartxref\n0\n%%EOF\n2 0 obj <<>> endobj\n"
        b"xref\ntrailer <<>>\nstartxref\n120\n%%EOF\n"
    )
    assert count_incremental_updates(linearized) == 0
    assert count_incremental_updates(linearized.replace(b"/Linearized 1", b"/Other 1")) == 1


def test_javascript_is_found_but_not_a_plain_open_action() -> None:
    plain = receipt_pdf()
    assert b"/OpenAction" in plain  # fpdf2 opens at a zoom: an action that is not JavaScript
    assert read_pdf_info(plain).has_javascript is False
    assert read_pdf_info(with_javascript(plain)).has_javascript is True


def _walks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the JavaScript walks from the catalog that read_pdf_info makes."""
    from forensics import pdf_info

    calls: list[int] = []
    walk = pdf_info._read_javascript

    def counted(reader):  # noqa: ANN001, ANN202
        calls.append(1)
        return walk(reader)

    monkeypatch.setattr(pdf_info, "_read_javascript", counted)
    return calls


def test_a_file_with_no_javascript_name_is_not_walked(monkeypatch: pytest.MonkeyPatch) -> None:
    walks = _walks(monkeypatch)
    assert read_pdf_info(receipt_pdf()).has_javascript is False
    assert walks == []  # every dictionary is in the raw bytes, none names JavaScript
    assert read_pdf_info(with_javascript(receipt_pdf())).has_javascript is True
    assert walks == [1]


def test_a_javascript_name_outside_any_dictionary_is_left_to_the_walk(monkeypatch: pytest.MonkeyPatch) -> None:
    walks = _walks(monkeypatch)
    printed = receipt_pdf(lines=("Paid by card", "/JS and /JavaScript are only text here"))
    assert raw_javascript_scan(printed) is True  # the names are in the compressed content stream
    assert read_pdf_info(printed).has_javascript is False  # no dictionary holds them: the walk says so
    assert walks == [1]


def test_a_file_with_object_streams_is_walked(monkeypatch: pytest.MonkeyPatch) -> None:
    walks = _walks(monkeypatch)
    plain = receipt_pdf()
    head = plain.index(b"\n") + 1
    # a name /ObjStm (here in a comment) says dictionaries may be compressed out of sight
    named = plain[:head] + b"% /Obj#53tm\n" + plain[head:]
    assert read_pdf_info(named).has_javascript is False
    assert walks == [1]


def test_raw_scan_finds_escaped_and_compressed_javascript_in_broken_files() -> None:
    escaped = b"%PDF-1.4\n1 0 obj << /S /J#61vaScript /J#53 (app.alert(1)) >> endobj\n"
    assert read_pdf_info(escaped).has_javascript is True
    hidden = zlib.compress(b"<< /Type /Action /S /JavaScript /JS (this.print()) >>")
    compressed = b"%PDF-1.5\n5 0 obj << /Filter /FlateDecode >>\nstream\n" + hidden + b"\nendstream"
    assert raw_javascript_scan(compressed) is True
    assert raw_javascript_scan(b"%PDF-1.4\n/JSON /Jump (JS) /JavaScripts") is False


@pytest.mark.parametrize(
    "data",
    [b"", b"%PDF-1.4\n", b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 9 0 R >> endobj\n%%EOF",
     receipt_pdf()[:300], receipt_pdf()[:-200], bytes(range(256)) * 8],
)  # fmt: skip
def test_read_pdf_info_never_raises_on_damaged_files(data: bytes) -> None:
    info = read_pdf_info(data)
    assert info.page_count >= 0 and info.einvoice_xml is None


def test_encrypted_pdf_info_is_limited_not_an_error() -> None:
    info = read_pdf_info(encrypted(receipt_pdf()))
    assert info.einvoice_xml is None


# --- embedded e-invoice -------------------------------------------------------------------------

CII = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<rsm:CrossIndustryInvoice xmlns:rsm="urn:un:unece:uncefact:data:standard:'
    'CrossIndustryInvoice:100" xmlns:ram="urn:un:unece:uncefact:data:standard:'
    'ReusableAggregateBusinessInformationEntity:100"><rsm:ExchangedDocument>'
    "<ram:ID>INV-2024-0042</ram:ID></rsm:ExchangedDocument></rsm:CrossIndustryInvoice>\n"
)
UBL = (
    '<?xml version="1.0" encoding="ISO-8859-1"?>\n<!-- generated -->\n'
    '<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2">'
    "<ID>R-77</ID><Note>Lieferung f\u00fcr M\u00fcller</Note></Invoice>"
)


def test_factur_x_xml_is_extracted() -> None:
    data = with_attachment(receipt_pdf(), "factur-x.xml", CII.encode())
    doc = load(data)
    assert doc.pdf is not None
    assert doc.pdf.einvoice_name == "factur-x.xml"
    assert doc.pdf.einvoice_xml == CII
    assert doc.pdf.embedded_files == ("factur-x.xml",)


def test_ubl_xml_under_another_name_is_found_by_its_root() -> None:
    data = with_attachment(receipt_pdf(), "invoice_data.xml", UBL.encode("iso-8859-1"))
    info = read_pdf_info(data)
    assert info.einvoice_name == "invoice_data.xml"
    assert "M\u00fcller" in info.einvoice_xml


def test_other_attachments_are_listed_but_not_taken_for_invoices() -> None:
    data = with_attachment(receipt_pdf(), "notes.xml", b"<?xml version='1.0'?><notes>hi</notes>")
    data = with_attachment(data, "photo.png", b"\x89PNG\r\n\x1a\n")
    info = read_pdf_info(data)
    assert set(info.embedded_files) == {"notes.xml", "photo.png"}
    assert info.einvoice_xml is None and info.einvoice_name is None
    both = read_pdf_info(with_attachment(data, "ZUGFeRD-invoice.xml", CII.encode()))
    assert both.einvoice_name == "ZUGFeRD-invoice.xml"


def test_is_einvoice_xml() -> None:
    assert is_einvoice_xml(CII)
    assert is_einvoice_xml(UBL)
    assert not is_einvoice_xml("<Invoice><ID>1</ID></Invoice>")  # not UBL's namespace
    assert not is_einvoice_xml("<?xml version='1.0'?><html/>")


def test_attachment_survives_pypdf_round_trip_used_by_tests() -> None:
    # guards the fixture itself: pypdf must really write an EmbeddedFiles name tree
    data = with_attachment(receipt_pdf(), "factur-x.xml", CII.encode())
    assert "factur-x.xml" in PdfReader(io.BytesIO(data)).attachments


def test_concurrent_loads_are_serialised_safely() -> None:
    # PDFium is not thread-safe and dramatiq workers run threads: the module lock must hold
    from concurrent.futures import ThreadPoolExecutor

    data, _ = text_pdf()
    with ThreadPoolExecutor(max_workers=4) as pool:
        docs = list(pool.map(lambda _: load(data), range(8)))
    assert len({d.pixel_sha256 for d in docs}) == 1
    assert len({tuple(w.text for w in d.pages[0].text_words) for d in docs}) == 1


def test_a_page_s_objects_are_walked_once_for_overlays_code_regions_and_graphics(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import pypdfium2 as pdfium

    walks: list[int] = []
    walk = pdfium.PdfPage.get_objects

    def counted(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        walks.append(1)
        return walk(self, *args, **kwargs)

    monkeypatch.setattr(pdfium.PdfPage, "get_objects", counted)
    doc = load_document(receipt_pdf(pages=2), claimed_type=None, settings=SETTINGS)
    assert all(p.text_words and p.graphics is not None and p.code_regions == () for p in doc.pages)
    assert len(walks) == 2


def test_names_are_whole_tokens_escaped_or_not():
    from forensics.pdf_info import JS_NAMES, _has_name

    assert _has_name(b"<</S/JavaScript>>", JS_NAMES)
    assert _has_name(b"/JS", JS_NAMES) and _has_name(b"x /JS(", JS_NAMES)
    assert _has_name(b"#\x00\xff /J#53 ", JS_NAMES)  # binary bytes with a '#' around an escaped name
    assert _has_name(b"/Java#53cript", JS_NAMES) and _has_name(b"[/#4A#53]", JS_NAMES)
    for other in (b"/JSX", b"/JS#58", b"/JavaScripts", b"JS", b"/ JS", b"/J S", b"#/JSON"):
        assert _has_name(other, JS_NAMES) is False, other
