"""Born-digital pages compared by their PDF objects: unit checks, and the links through the pipeline."""

from __future__ import annotations

import io
import random
from dataclasses import replace
from decimal import Decimal

import cv2
import numpy as np
import pytest

from fixtures.invoices import DPI, make_invoice_data, render_invoice_pdf
from fixtures.shops import make_shop
from forensics import alignment, page_objects
from forensics.detectors import duplicates
from forensics.detectors.pdf_pages import load_page_graphics
from forensics.documents import load_document
from forensics.model import boxes_overlap
from forensics.pipeline import analyse
from forensics.settings import Settings
from forensics.store import Store

SETTINGS = Settings()


def _invoices(seed: int):  # noqa: ANN202
    """(an invoice, the same with its total raised in the PDF, another invoice of its template)
    as PDF bytes, and the first one's ground truth."""
    shop, data = make_invoice_data(make_shop(random.Random(seed), "de-DE"), random.Random(seed))
    _, other = make_invoice_data(shop, random.Random(seed + 100))
    raised = replace(data, total=data.total + Decimal("100.00"))
    out = []
    for d in (data, raised, other):
        pdf, truth = render_invoice_pdf(shop, d, einvoice_xml=False, producer=None, rng=random.Random(seed))
        out.append((pdf, truth))
    return out


def _page(pdf: bytes):  # noqa: ANN202
    return load_document(pdf, claimed_type="application/pdf", settings=SETTINGS).pages[0]


def _compare(a, b) -> alignment.Relation | None:  # noqa: ANN001
    words = [(w.text, w.box) for w in a.text_words]
    theirs = [(w.text, w.box) for w in b.text_words]
    return page_objects.compare(words, a.graphics, theirs, b.graphics, b.image.size,
                                lambda: page_objects.ink_agreement(page_objects.layout_ink(a.image),
                                                                   page_objects.layout_ink(b.image)))


def _scaled(box, page) -> tuple[int, int, int, int]:  # noqa: ANN001
    k = page.width / (210 / 25.4 * DPI)  # the fixture's boxes are at its DPI on A4
    return tuple(round(v * k) for v in box)


def test_the_same_invoice_is_the_same_image_and_a_raised_total_an_edited_copy_on_it():
    (pdf, truth), (raised, _), (other, _) = _invoices(3)
    a, b, c = _page(pdf), _page(raised), _page(other)
    assert a.graphics is not None and b.graphics is not None
    same = _compare(a, _page(pdf))
    assert same is not None and same.kind == "same_image" and not same.differing_boxes
    edit = _compare(b, a)
    assert edit is not None and edit.kind == "edited_copy", edit
    total = _scaled(truth.box("total"), b)
    assert len(edit.differing_boxes) == 1 and boxes_overlap(edit.differing_boxes[0], total), (edit, total)
    # the other invoice of the template differs in its number, date, buyer and items: not an edit
    rel = _compare(c, a)
    assert rel is not None and rel.kind in ("same_layout", "unrelated"), rel


def test_a_page_rendered_at_another_resolution_compares_in_its_own_frame():
    (pdf, _), (raised, _), _ = _invoices(5)
    low = load_document(raised, claimed_type="application/pdf", settings=SETTINGS.with_(render_dpi=150)).pages[0]
    a = _page(pdf)
    rel = _compare(a, low)
    assert rel is not None and rel.kind == "edited_copy", rel
    # the graphics read without a render are those of the render
    assert load_page_graphics(pdf, 1, settings=SETTINGS) == a.graphics


def test_a_scan_inside_a_pdf_is_left_to_the_pixels():
    from fpdf import FPDF
    from PIL import Image

    pdf = FPDF(format="A4", unit="mm")
    pdf.add_page()
    buf = io.BytesIO()
    Image.new("L", (800, 1100), 240).save(buf, format="PNG")
    pdf.image(buf, x=5, y=5, w=200)
    pdf.set_font("helvetica", size=12)
    pdf.text(20, 30, "Invoice 12345 total 99.00")
    page = _page(bytes(pdf.output()))
    assert page.text_words and page.graphics is None


def test_invisible_text_is_left_to_the_pixels():
    from fpdf import FPDF

    pdf = FPDF(format="A4", unit="mm")
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.text(20, 20, "Shown")
    pdf.text_mode = "INVISIBLE"
    pdf.text(20, 40, "Invoice 12345 total 99.00")
    page = _page(bytes(pdf.output()))
    assert page.text_words and page.graphics is None


# --------------------------------------------------------------------------- through the pipeline


def _ingest(settings, blobs: list[tuple[str, str, str]]) -> Store:  # noqa: ANN001
    store = Store(settings.database_url)
    for eid, seller, name in blobs:
        analyse({"evidence_id": eid, "seller_id": seller, "blob": name}, store, settings)
    return store


@pytest.fixture
def aligned(monkeypatch):  # noqa: ANN001, ANN201
    """Every stored page a candidate of every page; the pixel alignments made, counted."""
    made = []
    real = duplicates.compare_pages

    def all_ids(idx, analysis, view, *args):  # noqa: ANN001, ANN002, ANN202
        return [r.id for r in view.fingerprints_since(0, limit=1000)]

    def counted(a, b, **kw):  # noqa: ANN001, ANN003, ANN202
        made.append(1)
        return real(a, b, **kw)

    monkeypatch.setattr(duplicates, "_candidate_ids", all_ids)
    monkeypatch.setattr(duplicates, "compare_pages", counted)
    return made


def test_an_edited_text_pdf_is_an_edited_copy_boxed_on_the_changed_amount(settings, blob_root, aligned):
    (pdf, _), (raised, truth), _ = _invoices(7)
    (blob_root / "a.pdf").write_bytes(pdf)
    (blob_root / "b.pdf").write_bytes(raised)
    store = _ingest(settings, [("E1", "S1", "a.pdf"), ("E2", "S2", "b.pdf")])
    found = [f for f in store.get("E2")["findings"] if f["code"] == "edited_copy"]
    assert found and found[0]["related"] == ["E1"], store.get("E2")["findings"]
    page = _page(raised)
    total = _scaled(truth.box("total"), page)
    boxes = found[0]["evidence"]["differing_boxes"]
    assert len(boxes) == 1 and boxes_overlap(tuple(boxes[0]), total), (boxes, total)
    assert aligned == []  # decided by the objects, no pixel alignment


def test_a_reissued_text_pdf_is_a_duplicate(settings, blob_root, aligned):
    (pdf, _), _, _ = _invoices(8)
    shop, data = make_invoice_data(make_shop(random.Random(8), "de-DE"), random.Random(8))
    # issued again: other bytes (metadata), the same page
    again, _ = render_invoice_pdf(shop, data, einvoice_xml=False, producer="Invoicing 2.1", rng=random.Random(8))
    assert again != pdf
    (blob_root / "a.pdf").write_bytes(pdf)
    (blob_root / "b.pdf").write_bytes(again)
    store = _ingest(settings, [("E1", "S1", "a.pdf"), ("E2", "S2", "b.pdf")])
    codes = {f["code"]: f for f in store.get("E2")["findings"]}
    assert "duplicate_upload" in codes and codes["duplicate_upload"]["related"] == ["E1"], codes
    assert "edited_copy" not in codes
    assert aligned == []


def test_two_invoices_of_one_template_are_not_edited_copies(settings, blob_root, aligned):
    (pdf, _), _, (other, _) = _invoices(9)
    (blob_root / "a.pdf").write_bytes(pdf)
    (blob_root / "b.pdf").write_bytes(other)
    store = _ingest(settings, [("E1", "S1", "a.pdf"), ("E2", "S2", "b.pdf")])
    codes = {f["code"] for f in store.get("E2")["findings"] if f["severity"] != "info"}
    assert not codes & {"duplicate_upload", "edited_copy", "serial_reuse"}, codes
    assert aligned == []


def _words(n: int, changed: dict[int, str] | None = None) -> list[tuple[str, tuple[int, int, int, int]]]:
    changed = changed or {}
    return [(changed.get(i, f"word{i}"), (100 + 300 * (i % 6), 100 + 60 * (i // 6), 300 + 300 * (i % 6), 140 + 60 * (i // 6)))
            for i in range(n)]


def test_objects_decide_by_words_a_differing_picture_alone_is_no_edit():
    size = (2480, 3508)
    logo = page_objects.PageGraphics(size, (("image:aaaa", (2000, 100, 2100, 200)),))
    other_logo = page_objects.PageGraphics(size, (("image:bbbb", (2000, 100, 2100, 200)),))
    never = lambda: pytest.fail("no layout measure needed")  # noqa: E731
    rel = page_objects.compare(_words(60), logo, _words(60), other_logo, size, never)
    assert rel is not None and rel.kind == "same_image" and rel.details["differing_graphics"] == 2
    rel = page_objects.compare(_words(60), logo, _words(60, {13: "999.00"}), logo, size, never)
    assert rel is not None and rel.kind == "edited_copy" and rel.differing_boxes == ((400, 220, 600, 260),)
    # B rendered at half the resolution: the same places
    half = page_objects.PageGraphics((1240, 1754), (("image:aaaa", (1000, 50, 1050, 100)),))
    halved = [(t, tuple(v // 2 for v in box)) for t, box in _words(60)]
    rel = page_objects.compare(_words(60), logo, halved, half, (1240, 1754), never)
    assert rel is not None and rel.kind == "same_image"
    # most words changed: the layout measure decides between same_layout and unrelated
    rel = page_objects.compare(_words(60), logo, _words(60, {i: "x" for i in range(40)}), logo, size, lambda: 0.7)
    assert rel is not None and rel.kind == "same_layout"
    rel = page_objects.compare(_words(60), logo, _words(60, {i: "x" for i in range(40)}), logo, size, lambda: 0.2)
    assert rel is not None and rel.kind == "unrelated"
    # another page shape (a receipt against an A4 page): the pixels decide
    assert page_objects.compare(_words(60), logo, _words(60), page_objects.PageGraphics((800, 3000), ()),
                                (800, 3000), never) is None


def test_a_page_prepared_once_compares_as_it_does_unprepared():
    size = (2480, 3508)
    logo = page_objects.PageGraphics(size, (("image:aaaa", (2000, 100, 2100, 200)), ("path:1", (90, 90, 2400, 95))))
    mine = _words(60)
    prepared = page_objects.ObjectPage(mine, logo)
    others = [_words(60), _words(60, {13: "999.00"}), _words(60, {i: "x" for i in range(40)}),
              _words(60, {i: "y" for i in range(0, 60, 7)})]
    for theirs in others:
        for layout in (0.2, 0.7):
            plain = page_objects.compare(mine, logo, theirs, logo, size, lambda v=layout: v)
            again = page_objects.compare(mine, logo, theirs, logo, size, lambda v=layout: v, prepared)
            assert plain is not None and again == plain
    # prepared for other words: not used (the answer is for the words given)
    other = page_objects.ObjectPage(_words(60, {i: "z" for i in range(60)}), logo)
    assert page_objects.compare(mine, logo, mine, logo, size, lambda: 0.5, other).kind == "same_image"


def test_an_earlier_page_prepared_once_compares_as_it_does_unprepared_with_many():
    size = (2480, 3508)
    logo = page_objects.PageGraphics(size, (("image:aaaa", (2000, 100, 2100, 200)), ("path:1", (90, 90, 2400, 95))))
    theirs = _words(60, {13: "999.00"})
    # stored at another resolution (its words' and objects' pixels): scaled into each later page's
    half = [(t, tuple(v // 2 for v in box)) for t, box in theirs]
    half_logo = page_objects.PageGraphics((1240, 1754), tuple((s, tuple(v // 2 for v in b)) for s, b in logo.objects))
    for b_words, b_logo, b_size in ((theirs, logo, size), (half, half_logo, (1240, 1754))):
        prepared = page_objects.scaled_page(b_words, b_logo, b_size, size)
        for mine in (_words(60), _words(60, {13: "999.00"}), _words(60, {i: "x" for i in range(40)}),
                     _words(60, {i: "y" for i in range(0, 60, 7)})):
            for layout in (0.2, 0.7):
                plain = page_objects.compare(mine, logo, b_words, b_logo, b_size, lambda v=layout: v)
                again = page_objects.compare(mine, logo, b_words, b_logo, b_size, lambda v=layout: v,
                                             None, lambda p=prepared: p)
                assert plain is not None and again == plain
    # prepared for a page of another size: not used (scaled anew for this one)
    small = page_objects.scaled_page(theirs, logo, size, (1240, 1754))
    plain = page_objects.compare(_words(60), logo, theirs, logo, size, lambda: 0.5)
    assert page_objects.compare(_words(60), logo, theirs, logo, size, lambda: 0.5, None, lambda: small) == plain
    assert plain.kind == "edited_copy"


def test_a_mark_off_the_page_covers_none_of_it():
    # a graphic drawn wholly above the page has negative pixel coordinates: it marks nothing
    m = page_objects._raster([("g:path", (10, -50, 100, -20))], 2.0, (1000, 1400))
    assert m.sum() == 0
    m = page_objects._raster([("g:path", (10, -50, 100, 20))], 2.0, (1000, 1400))
    assert m[:11, 5:51].all() and m.sum() == 11 * 46


def test_ink_agreement_is_the_alignments_agreement_from_dilations_made_once():
    rng = np.random.default_rng(3)
    a = rng.random((120, 90)) < 0.05
    b = rng.random((118, 88)) < 0.08  # another render's size: resized to A's shape
    near_b = cv2.resize(b.astype(np.uint8), a.shape[::-1], interpolation=cv2.INTER_NEAREST) > 0
    want = alignment._agreement(a, near_b)
    ink_a, ink_b = page_objects.LayoutInk(a), page_objects.LayoutInk(b)
    assert page_objects.ink_agreement(ink_a, ink_b) == want
    assert page_objects.ink_agreement(ink_a, ink_b) == want  # its kept dilations give the same
    assert page_objects.ink_agreement(a, b) == want
    assert page_objects.ink_agreement(ink_a, page_objects.LayoutInk(a)) == 1.0
    assert page_objects.ink_agreement(ink_a, page_objects.LayoutInk(np.zeros_like(a))) == 0.0


def test_a_page_rendered_at_the_layout_resolution_or_coarser_is_its_own_layout_render():
    from forensics.detectors import pdf_pages

    (pdf, _), _, _ = _invoices(6)
    for dpi in (100, 72):
        coarse = replace(SETTINGS, render_dpi=dpi)
        page = load_document(pdf, claimed_type="application/pdf", settings=coarse).pages[0]
        assert page.graphics is not None and page.graphics.layout is page.image
        again = pdf_pages.documents.load_page_image(pdf, 1, settings=coarse, dpi=page_objects.LAYOUT_DPI)
        assert np.array_equal(np.asarray(page.graphics.layout), np.asarray(again))


def test_a_text_pages_layout_ink_is_the_one_a_later_upload_reads_and_is_kept_for_it(monkeypatch):
    from types import SimpleNamespace

    from forensics.detectors import pdf_pages

    (pdf, _), _, _ = _invoices(5)
    page = _page(pdf)
    assert page.graphics is not None and page.graphics.pdf == pdf and page.pixel_sha256
    view = SimpleNamespace(url="memory://layout-ink-test")
    mine = pdf_pages.layout_ink_of(view, SETTINGS, page)
    # what comparing with this page as an earlier upload's reads: its file rendered at LAYOUT_DPI
    image = pdf_pages.documents.load_page_image(pdf, 1, settings=SETTINGS, dpi=page_objects.LAYOUT_DPI)
    assert np.array_equal(mine.ink, page_objects.layout_ink(image).ink)
    # the decoder rendered it so while it had the page open: the same pixels, the file unread
    assert page.graphics.layout is not None
    assert np.array_equal(np.asarray(page.graphics.layout), np.asarray(image))
    assert image.width < page.image.width  # not the 300-DPI render's ink

    # a later upload compares with it without reading its file again: ink and graphics are kept
    def unread(*_a, **_k):  # noqa: ANN002, ANN003, ANN202
        raise AssertionError("the earlier page's file was read again")

    monkeypatch.setattr(pdf_pages, "read_earlier", unread)
    later = _page(pdf)
    theirs = {"source": "text_layer", "width": page.width, "height": page.height,
              "words": [[w.text, *w.box] for w in page.text_words]}
    r = SimpleNamespace(id=1, evidence_id="E-earlier", page=1, pixel_sha256=page.pixel_sha256)
    words = [(w.text, w.box) for w in later.text_words]
    pdf_pages.by_objects(view, SETTINGS, ((later.width, later.height), words), page, r, theirs, unread)
    rel = pdf_pages.by_objects(view, SETTINGS, ((later.width, later.height), words), later, r, theirs, unread)
    assert rel is not None and rel.kind == "same_image"
    assert pdf_pages.layout_ink_of(view, SETTINGS, later) is mine


def test_scaled_boxes_and_raster_are_the_per_box_arithmetic() -> None:
    """The array forms of scaling boxes and filling their cells give what the per-box Python
    arithmetic gives (Python's rounding half to even; boxes partly or wholly off the page)."""
    from forensics.page_objects import _raster, _scaled

    rng = random.Random(3)
    items = [(f"w{i}", (x, y, x + rng.randrange(0, 80), y + rng.randrange(0, 40)))
             for i in range(400) for x, y in [(rng.randrange(-60, 2600), rng.randrange(-60, 3400))]]
    items += [("half", (1, 3, 5, 7))]  # x 0.5 -> 0.5, 1.5, 2.5, 3.5: halves round to even
    for src, dst in (((2480, 3508), (2550, 3300)), ((2, 2), (1, 1)), ((2480, 3508), (2480, 3508))):
        sx, sy = dst[0] / src[0], dst[1] / src[1]
        expected = [(t, (round(b[0] * sx), round(b[1] * sy), round(b[2] * sx), round(b[3] * sy))) for t, b in items]
        assert _scaled(items, src, dst) == expected
    cell, size = 2550 / 1200, (2550, 3300)
    w, h = int(size[0] / cell) + 1, int(size[1] / cell) + 1
    expected = np.zeros((h, w), np.uint8)
    for _, (x0, y0, x1, y1) in items:
        expected[max(0, int(y0 / cell)):max(0, int(y1 / cell) + 1), max(0, int(x0 / cell)):max(0, int(x1 / cell) + 1)] = 1
    assert (_raster(items, cell, size) == expected).all() and expected.sum() > 0
    assert _raster([], cell, size).sum() == 0 and _scaled([], src, dst) == []
