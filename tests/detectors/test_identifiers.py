"""Identifiers detector: check digits of tax ids, cards and product codes; barcodes vs print."""

from __future__ import annotations

import io
import random
from datetime import UTC, datetime

import cv2
import numpy as np
import pytest
from PIL import Image

from fixtures.taxids import corrupt_check_digit, make_de_vat, make_uscc
from forensics.detectors import Analysis
from forensics.detectors.identifiers import (
    Symbol,
    code_claims,
    compare_symbol,
    decode_symbols,
    detector,
    ocr_variants,
)
from forensics.events import UploadEvent
from forensics.model import Document, Extraction, Field, Page, PageReading, Reading, Word
from forensics.settings import Settings


def analysis_of(fields: dict[str, Field], lines: list[str] = (), *, image: Image.Image | None = None,
                confidence: float = 0.96, source: str = "ocr") -> Analysis:
    words = []
    for i, text in enumerate(lines):
        x = 10
        for token in text.split():
            words.append(Word(token, (x, 20 + 30 * i, x + 12 * len(token), 40 + 30 * i), confidence, 1, i))
            x += 12 * len(token) + 10
    reading = Reading((PageReading(1, source, tuple(words), 600, 800),))  # type: ignore[arg-type]
    page = Page(1, 600, 800, image=image)
    doc = Document("0" * 64, "image/png", 1000, (page,))
    event = UploadEvent("E1", "S1", "x.png", uploaded_at=datetime(2024, 6, 1, tzinfo=UTC))
    return Analysis(event, doc, reading, Extraction(fields), Settings())


def tax_field(value: str, scheme: str, source: str = "text_layer") -> Field:
    return Field("merchant_tax_id", value, value, 0.9, 1, (10, 20, 200, 40), source, {"scheme": scheme})


@pytest.mark.parametrize("make, scheme", [(make_uscc, "CN_USCC"), (make_de_vat, "EU_VAT")])
def test_tax_id_check_digits(make, scheme):
    rng = random.Random(5)
    good = make(rng)
    result = detector.run(analysis_of({"merchant_tax_id": tax_field(good, scheme)}), None)
    assert result.status == "done" and result.findings == ()
    bad = corrupt_check_digit(good, rng)
    result = detector.run(analysis_of({"merchant_tax_id": tax_field(bad, scheme)}), None)
    assert [f.code for f in result.findings] == ["invalid_identifier"]
    assert bad in result.findings[0].message and result.findings[0].box == (10, 20, 200, 40)


def test_a_buyers_wrong_check_digit_is_low_and_does_not_flag_alone():
    from forensics.verdict import verdict_of

    rng = random.Random(7)
    seller, buyer = make_de_vat(rng), corrupt_check_digit(make_de_vat(rng), rng)
    fields = {"merchant_tax_id": tax_field(seller, "EU_VAT"),
              "buyer_tax_id": Field("buyer_tax_id", buyer, buyer, 0.9, 1, (10, 60, 200, 80), "text_layer",
                                    {"scheme": "EU_VAT"})}
    # the buyer's id printed again in the text is not checked a second time as an unknown id
    result = detector.run(analysis_of(fields, [f"USt-IdNr {seller}", f"Kunde USt-IdNr {buyer}"]), None)
    assert [(f.code, f.severity) for f in result.findings] == [("invalid_identifier", "low")]
    assert "buyer's" in result.findings[0].message and buyer in result.findings[0].message
    records = [{"severity": f.severity, "score": f.score} for f in result.findings]
    assert verdict_of(records, {"identifiers": "done"}, Settings())[1] == "clean"


def misread_vat() -> tuple[str, str, dict[str, Field], list[str]]:
    """A valid VAT id, a reading of it off by one digit OCR confuses (8 <-> 3 and friends), and
    the fields and lines of a page read so."""
    good = make_de_vat(random.Random(2))
    variant = next(v for v in ocr_variants(good) if v[2:].isdigit() and v != good)
    return good, variant, {"merchant_tax_id": tax_field(variant, "EU_VAT", source="ocr")}, [f"USt-IdNr {variant}"]


def test_doubtful_ocr_misread_is_not_an_invalid_id():
    _good, _variant, fields, lines = misread_vat()
    doubtful = detector.run(analysis_of(fields, lines, confidence=0.6), None)
    assert doubtful.status == "done" and doubtful.findings == ()
    # the same number read with confidence is held to its check digit
    trusted = detector.run(analysis_of(fields, lines, confidence=0.97), None)
    assert [f.code for f in trusted.findings] == ["invalid_identifier"]


def test_labelled_vat_number_in_the_text_is_checked():
    rng = random.Random(3)
    bad = corrupt_check_digit(make_de_vat(rng), rng)
    result = detector.run(analysis_of({}, [f"USt-IdNr: {bad}"]), None)
    assert [f.code for f in result.findings] == ["invalid_identifier"]


def test_full_card_number_luhn():
    good = "4111 1111 1111 1111"
    assert detector.run(analysis_of({}, [f"VISA {good}"]), None).findings == ()
    result = detector.run(analysis_of({}, ["VISA 4111 1111 1111 1112"]), None)
    assert [f.evidence["kind"] for f in result.findings] == ["card_number"]
    # masked numbers and unlabelled long numbers are left alone
    assert detector.run(analysis_of({}, ["VISA ************1112"]), None).findings == ()
    assert detector.run(analysis_of({}, ["REF 4111111111111112"]), None).findings == ()


def test_labelled_ean():
    assert detector.run(analysis_of({}, ["EAN 4006381333931"]), None).findings == ()
    result = detector.run(analysis_of({}, ["EAN 4006381333932"]), None)
    assert [f.evidence["kind"] for f in result.findings] == ["ean"]


def qr_page(text: str) -> Image.Image:
    code = cv2.QRCodeEncoder.create().encode(text)
    code = cv2.resize(code, None, fx=6, fy=6, interpolation=cv2.INTER_NEAREST)
    page = Image.new("L", (600, 800), 245)
    page.paste(Image.fromarray(np.where(code > 0, 245, 20).astype(np.uint8)), (150, 400))
    return page


FAPIAO_FIELDS = {
    "serial": Field("serial", "12345678", "12345678", 0.9, 1, (400, 40, 520, 60)),
    "subtotal": Field("subtotal", "85.45", "85.45", 0.9, 1, (400, 300, 520, 320)),
    "total": Field("total", "96.56", "96.56", 0.9, 1, (400, 330, 520, 350)),
    "date": Field("date", "2019-03-12", "2019年03月12日", 0.9, 1, (400, 70, 520, 90)),
}


def test_fapiao_qr_code_agreeing_with_the_print_is_quiet():
    img = qr_page("01,04,044031900111,12345678,85.45,20190312,12345678901234567890,ABCD")
    result = detector.run(analysis_of(FAPIAO_FIELDS, image=img), None)
    assert result.status == "done"
    assert result.findings == ()


def test_fapiao_qr_code_with_another_amount_and_number_is_a_mismatch():
    img = qr_page("01,04,044031900111,12345672,15.45,20190312,12345678901234567890,ABCD")
    result = detector.run(analysis_of(FAPIAO_FIELDS, image=img), None)
    codes = [f.code for f in result.findings]
    assert codes.count("barcode_mismatch") == 2
    assert any("15.45" in f.message for f in result.findings)
    assert all(f.box is not None for f in result.findings)


def test_code_with_the_serial_slightly_changed():
    sym = Symbol("CODE128", "TX4471203399", 1, None)
    assert code_claims(sym) == {}
    fields = {"serial": Field("serial", "4471209399", "4471209399", 0.9)}
    assert compare_symbol(sym, fields) == []  # 0 and 3 are confused by OCR: not evidence
    fields = {"serial": Field("serial", "4471215399", "4471215399", 0.9)}
    assert compare_symbol(sym, fields)


@pytest.mark.parametrize("module_px", [3, 4, 6])
def test_small_qr_modules_on_a_scan_are_read_as_by_zbar_default(module_px):
    """The scan density saves CPU but must read what zbar's default reads: QR modules of 3 px
    and more on a blurred, noisy scan."""
    pyzbar = pytest.importorskip("pyzbar.pyzbar")
    text = "01,04,044031900111,12345678,85.45,20190312,12345678901234567890,ABCD"
    code = cv2.resize(cv2.QRCodeEncoder.create().encode(text), None, fx=module_px, fy=module_px,
                      interpolation=cv2.INTER_NEAREST)
    page = np.full((1500, 1000), 245, np.uint8)
    page[400:400 + code.shape[0], 150:150 + code.shape[1]] = np.where(code > 0, 245, 20)
    noise = np.random.default_rng(module_px).normal(0, 8, page.shape)
    scan = np.clip(cv2.GaussianBlur(page, (3, 3), 0) + noise, 0, 255).astype(np.uint8)
    assert [s.data.decode() for s in pyzbar.decode(scan)] == [text]
    assert [s.data for s in decode_symbols(Image.fromarray(scan), 1)] == [text]


def test_product_barcode_decodes_and_is_not_compared():
    pytest.importorskip("pyzbar.pyzbar")
    bits = _ean13_bits("4006381333931")
    page = np.full((800, 600), 245, np.uint8)
    for i, b in enumerate(bits):
        if b == "1":
            page[300:400, 100 + 3 * i:103 + 3 * i] = 20
    symbols = decode_symbols(Image.fromarray(page), 1)
    assert [s.data for s in symbols] == ["4006381333931"]
    result = detector.run(analysis_of(FAPIAO_FIELDS, image=Image.fromarray(page)), None)
    assert result.status == "done" and result.findings == ()


def test_skipped_when_nothing_to_check():
    result = detector.run(analysis_of({}, ["THANK YOU"], image=Image.new("L", (600, 800), 245)), None)
    assert result.status.startswith("skipped:")


_L = ("0001101", "0011001", "0010011", "0111101", "0100011", "0110001", "0101111", "0111011",
      "0110111", "0001011")
_PARITY = ("LLLLLL", "LLGLGG", "LLGGLG", "LLGGGL", "LGLLGG", "LGGLLG", "LGGGLL", "LGLGLG",
           "LGLGGL", "LGGLGL")


def _ean13_bits(code: str) -> str:
    """Module pattern of an EAN-13 symbol (L, G and R codes from the standard)."""
    g = tuple(c[::-1].translate(str.maketrans("01", "10")) for c in _L)
    r = tuple(c.translate(str.maketrans("01", "10")) for c in _L)
    bits = "101"
    for i, ch in enumerate(code[1:7]):
        bits += (_L if _PARITY[int(code[0])][i] == "L" else g)[int(ch)]
    bits += "01010"
    for ch in code[7:]:
        bits += r[int(ch)]
    return bits + "101"


def test_doubtful_id_read_alike_a_second_time_is_held_to_its_check_digit():
    from PIL import ImageDraw

    from tests.conftest import font

    good, variant, fields, lines = misread_vat()
    # the page shows the id as read: a second reading of its box agrees, so the failed check is
    # the document's, not the scanner's
    page = Image.new("L", (600, 800), 255)
    ImageDraw.Draw(page).text((12, 18), variant, fill=0, font=font(20))
    printed = detector.run(analysis_of(fields, lines, confidence=0.6, image=page), None)
    assert [f.code for f in printed.findings] == ["invalid_identifier"]
    # the page shows the valid id (the page reading slipped): still excused
    page = Image.new("L", (600, 800), 255)
    ImageDraw.Draw(page).text((12, 18), good, fill=0, font=font(20))
    slipped = detector.run(analysis_of(fields, lines, confidence=0.6, image=page), None)
    assert slipped.findings == ()


# --------------------------------------------------------------------------- codes in PDFs


QR_TEXT = "01,04,044031900111,12345678,85.45,20190312,12345678901234567890,ABCD"


def _invoice_pdf(*, codes: bool) -> bytes:
    """A text invoice with a ruled table and filled row backgrounds; with ``codes`` also a QR
    code drawn as one filled square per module, the same code as an embedded image, and a
    Code 39 and an Interleaved 2 of 5 barcode drawn as filled bars (fpdf2's own)."""
    from fpdf import FPDF

    pdf = FPDF(unit="pt", format="A4")
    pdf.add_page()
    pdf.set_font("Helvetica", size=10)
    for i in range(25):
        pdf.text(40, 80 + 14 * i, f"Item {i:02d} delivered   {3 * i + 7:>4d}.50 EUR")
    pdf.set_fill_color(225)
    for i in range(0, 25, 2):
        pdf.rect(36, 70 + 14 * i, 520, 13, style="F")  # row shading: no code
    pdf.set_line_width(0.6)
    for i in range(26):
        pdf.line(36, 70 + 14 * i, 556, 70 + 14 * i)  # table rules
    pdf.set_fill_color(0)
    for x in (36, 556):
        pdf.rect(x, 70, 0.8, 350, style="F")  # vertical rules drawn as long filled bars
    if codes:
        code = cv2.QRCodeEncoder.create().encode(QR_TEXT)
        n = code.shape[0]
        for y in range(n):
            for x in range(n):
                if code[y, x] == 0:
                    pdf.rect(60 + 2.5 * x, 470 + 2.5 * y, 2.5, 2.5, style="F")
        img = cv2.resize(code, None, fx=8, fy=8, interpolation=cv2.INTER_NEAREST)
        buf = io.BytesIO()
        Image.fromarray(img).save(buf, format="PNG")
        pdf.image(buf, x=300, y=470, w=100, h=100)
        pdf.code39("*INV-20457*", x=60, y=620, w=2, h=40)
        pdf.interleaved2of5("1234567890", x=330, y=620, w=2, h=40)
    return bytes(pdf.output())


def test_codes_in_a_pdf_are_read_inside_its_code_regions_as_on_the_whole_page():
    pytest.importorskip("pyzbar.pyzbar")
    from forensics.detectors.identifiers import page_symbols
    from forensics.documents import load_document

    page = load_document(_invoice_pdf(codes=True), claimed_type=None, settings=Settings()).pages[0]
    whole = decode_symbols(page.image, 1)
    assert sorted(s.data for s in whole) == sorted([QR_TEXT, QR_TEXT, "INV-20457", "1234567890"])
    found = page_symbols(page)
    assert sorted((s.kind, s.data) for s in found) == sorted((s.kind, s.data) for s in whole)
    for s in found:  # boxes in page pixels, on the code the whole page found
        assert any(abs(s.box[0] - w.box[0]) <= 2 and abs(s.box[1] - w.box[1]) <= 2 for w in whole if w.data == s.data)
    covered = sum((x1 - x0) * (y1 - y0) for x0, y0, x1, y1 in page.code_regions)
    assert covered < 0.3 * page.width * page.height


def test_a_pdf_page_of_text_rules_and_shading_has_no_code_region():
    from forensics.documents import load_document

    page = load_document(_invoice_pdf(codes=False), claimed_type=None, settings=Settings()).pages[0]
    assert page.has_text_layer
    assert page.code_regions == ()
    result = detector.run(Analysis(
        UploadEvent("E1", "S1", "x.pdf", uploaded_at=datetime(2024, 6, 1, tzinfo=UTC)),
        Document("0" * 64, "application/pdf", 1000, (page,)), Reading(()), Extraction({}), Settings()), None)
    assert result.status.startswith("skipped:")


def test_a_scanned_pdf_page_is_one_code_region():
    """A page that is one picture (a scan saved as PDF) is read whole, as an image upload is."""
    from fpdf import FPDF

    from forensics.documents import load_document

    buf = io.BytesIO()
    qr_page(QR_TEXT).save(buf, format="PNG")
    pdf = FPDF(unit="pt", format=(600, 800))
    pdf.add_page()
    pdf.image(buf, x=0, y=0, w=600, h=800)
    page = load_document(bytes(pdf.output()), claimed_type=None, settings=Settings()).pages[0]
    assert page.code_regions == ((0, 0, page.width, page.height),)


def test_a_code_inside_a_scaled_form_xobject_is_inside_a_code_region():
    """Objects of a form XObject have bounds in the form's space: the form stands for them."""
    pytest.importorskip("pyzbar.pyzbar")
    from pypdf import PdfReader, PdfWriter
    from pypdf.generic import (
        ArrayObject,
        DecodedStreamObject,
        DictionaryObject,
        FloatObject,
        NameObject,
    )

    from forensics.detectors.identifiers import page_symbols
    from forensics.documents import load_document

    code = cv2.QRCodeEncoder.create().encode(QR_TEXT)
    modules = " ".join(f"{x} {code.shape[0] - 1 - y} 1 1 re" for y in range(code.shape[0])
                       for x in range(code.shape[1]) if code[y, x] == 0)
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(_invoice_pdf(codes=False))))
    form = DecodedStreamObject()
    form.set_data(f"0 g {modules} f".encode())
    form.update({NameObject("/Type"): NameObject("/XObject"), NameObject("/Subtype"): NameObject("/Form"),
                 NameObject("/BBox"): ArrayObject([FloatObject(0), FloatObject(0),
                                                   FloatObject(code.shape[1]), FloatObject(code.shape[0])]),
                 NameObject("/Matrix"): ArrayObject([FloatObject(v) for v in (3, 0, 0, 3, 0, 0)])})
    page = writer.pages[0]
    resources = page["/Resources"]
    resources.setdefault(NameObject("/XObject"), DictionaryObject())[NameObject("/Fm9")] = writer._add_object(form)
    placed = DecodedStreamObject()
    placed.set_data(b"q 1 0 0 1 300 60 cm /Fm9 Do Q")  # bottom of the page, in PDF space
    contents = page.get_contents()
    contents.set_data(contents.get_data() + b"\n" + placed.get_data())
    page.replace_contents(contents)
    buf = io.BytesIO()
    writer.write(buf)
    doc = load_document(buf.getvalue(), claimed_type=None, settings=Settings())
    assert [s.data for s in decode_symbols(doc.pages[0].image, 1)] == [QR_TEXT]
    assert [s.data for s in page_symbols(doc.pages[0])] == [QR_TEXT]
