"""The fixture generator: amounts add up, boxes hold the printed text, forgeries behave."""

from __future__ import annotations

import csv
import io
import json
import random
import re
import shutil
import xml.etree.ElementTree as ET
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import imagehash
import numpy as np
import pypdf
import pypdfium2 as pdfium
import pytest
from PIL import Image

from fixtures.corpus import MANIFEST_COLUMNS, build_corpus, build_demo_corpus
from fixtures.fapiao import rmb_upper
from fixtures.forgeries import edited_copy, reupload, shifted_date, tamper_total
from fixtures.invoices import (
    FACTURX_NAME,
    make_invoice_data,
    render_invoice_pdf,
    render_scanned_invoice,
)
from fixtures.receipts import draw_receipt, make_receipt_data, make_shop, render_receipt
from fixtures.shops import LOCALES
from fixtures.taxids import (
    corrupt_check_digit,
    de_vat_check,
    fr_vat_key,
    gb_vat_check,
    luhn_check,
    make_uscc,
    org_code_check,
    uscc_check,
)

ALL_LOCALES = tuple(LOCALES)
NS = {"rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
      "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
      "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100"}


def _receipt(seed: int, locale: str = "en-MY", **kw):
    rng = random.Random(seed)
    shop = make_shop(rng, locale)
    data = make_receipt_data(shop, rng)
    img, truth = render_receipt(shop, data, rng, **kw)
    return shop, data, img, truth


@pytest.mark.parametrize("locale", ALL_LOCALES)
def test_amounts_add_up(locale: str) -> None:
    rng = random.Random(locale)
    for _ in range(200):
        shop = make_shop(rng, locale)
        d = make_receipt_data(shop, rng)
        items = sum((i.amount for i in d.items), Decimal(0))
        assert d.subtotal + d.tax + d.rounding == d.total
        assert items == (d.total - d.rounding if shop.tax_inclusive else d.subtotal)
        assert all(i.amount == (i.quantity * i.unit_price).quantize(Decimal("0.01"))
                   for i in d.items)
        if d.payment_method == "cash":
            assert d.tendered is not None and d.tendered - d.change == d.total
        if locale == "en-MY" and d.payment_method == "cash":
            assert (d.total * 20) % 1 == 0  # cash rounding to 5 sen


def test_invoice_amounts_add_up() -> None:
    rng = random.Random(3)
    for locale in ("de-DE", "fr-FR", "en-GB"):
        shop, data = make_invoice_data(make_shop(rng, locale), rng)
        assert not shop.tax_inclusive
        assert sum(i.amount for i in data.items) == data.subtotal
        assert data.subtotal + data.tax == data.total


def test_check_digits_match_published_examples() -> None:
    assert de_vat_check("13669597") == "6"  # DE136695976
    assert luhn_check("30326504") == "5" and fr_vat_key("303265045") == "40"  # FR40303265045
    assert gb_vat_check("9807806") == "84"  # GB980780684
    assert org_code_check("M000100Y") == "4"  # 91350100M000100Y43
    assert uscc_check("91350100M000100Y4") == "3"


def test_generated_tax_ids_are_valid_and_corruptible() -> None:
    rng = random.Random(1)
    for _ in range(50):
        code = make_uscc(rng)
        assert len(code) == 18 and uscc_check(code[:17]) == code[17]
        assert org_code_check(code[8:16]) == code[16]
        bad = corrupt_check_digit(code, rng)
        assert bad[:17] == code[:17] and uscc_check(bad[:17]) != bad[17]
    shops = [make_shop(rng, loc) for loc in ("de-DE", "fr-FR", "en-GB", "en-MY") for _ in range(5)]
    for s in shops:
        t = s.tax_id
        assert t is not None
        if s.tax_scheme == "eu_vat_de":
            assert de_vat_check(t[2:10]) == t[10]
        elif s.tax_scheme == "eu_vat_fr":
            assert luhn_check(t[4:12]) == t[12] and fr_vat_key(t[4:]) == t[2:4]
        elif s.tax_scheme == "gb_vat":
            assert gb_vat_check(t[2:9]) == t[9:]
        else:
            assert len(t) == 12 and t.isdigit()


def test_rmb_upper() -> None:
    assert rmb_upper(Decimal("1234.50")) == "壹仟贰佰叁拾肆圆伍角整"
    assert rmb_upper(Decimal("100.05")) == "壹佰圆零伍分"
    assert rmb_upper(Decimal("100200.30")) == "壹拾万零贰佰圆叁角整"
    assert rmb_upper(Decimal("10000")) == "壹万圆整"


def test_truth_fields_and_boxes_are_consistent() -> None:
    for i, locale in enumerate(ALL_LOCALES):
        shop, data, img, truth = _receipt(i, locale)
        assert truth.amounts_add_up()
        money = [truth.total, truth.subtotal, truth.tax, truth.rounding]
        money += [v for i in truth.line_items for v in (i.unit_price, i.amount)]
        assert all(re.fullmatch(r"-?\d+\.\d{2}", v) for v in money), money
        assert truth.total == str(data.total) and truth.serial == data.serial
        assert truth.date == data.date.isoformat() and truth.currency == shop.currency
        w, h = img.size
        assert truth.page_size == (w, h)
        for name in ("total", "serial", "date", "merchant"):
            box = truth.box(name)
            assert box is not None, (locale, name)
            assert 0 <= box[0] < box[2] <= w and 0 <= box[1] < box[3] <= h
        # the box is where the ink is: darker inside than the paper around it
        arr = np.asarray(img.convert("L"), dtype=float)
        x0, y0, x1, y1 = truth.box("total")
        assert arr[y0:y1, x0:x1].min() < arr[y0:y1, x0:x1].mean() - 40
    tall = [_receipt(s, "en-US")[2] for s in range(3)]
    assert all(600 <= im.width <= 900 and 1000 <= im.height <= 2200 for im in tall)


@pytest.mark.skipif(shutil.which("tesseract") is None, reason="tesseract not installed")
def test_boxes_contain_the_printed_text_ocr(monkeypatch: pytest.MonkeyPatch) -> None:
    import pytesseract

    monkeypatch.setenv("OMP_THREAD_LIMIT", "1")
    _, _, img, truth = _receipt(11, "de-DE")
    for name in ("total", "serial"):
        fb = truth.field_box(name)
        assert fb is not None
        x0, y0, x1, y1 = fb.box
        crop = img.crop((x0 - 8, y0 - 8, x1 + 8, y1 + 8)).convert("L")
        text = pytesseract.image_to_string(crop, config="--psm 7", timeout=30).strip()
        assert text == fb.text, (name, text, fb.text)


def test_same_shop_same_layout_different_noise() -> None:
    rng = random.Random(5)
    shop = make_shop(rng, "en-GB")
    data = make_receipt_data(shop, rng)
    page1, boxes1 = draw_receipt(shop, data)
    page2, boxes2 = draw_receipt(shop, make_receipt_data(shop, rng))
    # the header of the template is drawn at the same pixels whatever the data
    assert [b.box for b in boxes1 if b.name.startswith("merchant")] == \
           [b.box for b in boxes2 if b.name.startswith("merchant")]
    a, ta = render_receipt(shop, data, rng)
    b, tb = render_receipt(shop, data, rng)
    assert a.size == b.size and ta.total == tb.total
    # blank paper in the top-left corner: both noisy, and the noise is not shared
    pa = np.asarray(a.convert("L"), dtype=float)[2:20, 2:20]
    pb = np.asarray(b.convert("L"), dtype=float)[2:20, 2:20]
    assert pa.std() > 1 and pb.std() > 1
    assert np.corrcoef(pa.ravel(), pb.ravel())[0, 1] < 0.5


def test_reupload_is_not_identical_but_close() -> None:
    _, _, img, _ = _receipt(21, "en-MY")
    _, _, other, _ = _receipt(22, "en-MY")
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=90)
    data = reupload(img, random.Random(1))
    assert data != buf.getvalue() and data[:2] == b"\xff\xd8"
    again = reupload(img, random.Random(1))
    assert again == data  # deterministic given the rng
    copy = Image.open(io.BytesIO(data))
    near = imagehash.phash(img) - imagehash.phash(copy)
    far = imagehash.phash(img) - imagehash.phash(other)
    assert near <= 12 and near < far


def test_edited_copy_changes_only_edited_boxes() -> None:
    rng = random.Random(8)
    _, _, img, truth = _receipt(31, "fr-FR")
    new_date = shifted_date(truth, 33)
    out, t2 = edited_copy(img, truth, {"serial": "90817263", "date": new_date}, rng)
    assert t2.serial == "90817263" and t2.date == new_date and t2.date_raw != truth.date_raw
    assert t2.edited_fields == ("serial", "date") and len(t2.edited_boxes) == 2
    assert t2.total == truth.total and t2.field_box("date").text == t2.date_raw
    a = np.asarray(img.convert("RGB"), dtype=int)
    b = np.asarray(out, dtype=int)
    changed = np.abs(a - b).sum(axis=2) > 0
    inside = np.zeros_like(changed)
    for x0, y0, x1, y1 in t2.edited_boxes:
        inside[y0:y1, x0:x1] = True
        assert changed[y0:y1, x0:x1].any()
    assert not (changed & ~inside).any()
    # the repainted box is flat: no scan noise left on its paper, unlike the original there
    def mode_share(im: Image.Image) -> float:
        values = np.asarray(im.convert("L").crop(t2.edited_boxes[0])).ravel()
        return np.bincount(values).max() / values.size

    assert mode_share(out) > 0.3 > 0.15 > mode_share(img)


def test_tamper_total_breaks_the_sums() -> None:
    _, _, img, truth = _receipt(41, "en-US")
    out, t2 = tamper_total(img, truth, random.Random(2))
    assert truth.amounts_add_up() and not t2.amounts_add_up()
    assert t2.total != truth.total and t2.subtotal == truth.subtotal
    assert t2.edited_fields == ("total",) and len(t2.edited_boxes) == 1


def test_fapiao_truth() -> None:
    shop, data, img, truth = _receipt(51, "zh-CN")
    assert truth.document_type == "fapiao" and truth.currency == "CNY"
    assert len(truth.invoice_code) == 12 and truth.invoice_code.isdigit()
    assert len(truth.serial) == 8 and len(truth.check_code) == 20
    assert truth.merchant_tax_scheme == "cn_uscc" and uscc_check(truth.merchant_tax_id[:17]) == \
        truth.merchant_tax_id[17]
    assert truth.date_raw == data.date.strftime("%Y年%m月%d日")
    assert truth.field_box("total").text == f"¥{data.total}"
    assert truth.amounts_add_up()


def test_invoice_pdf_has_text_layer_and_facturx() -> None:
    rng = random.Random(4)
    shop, data = make_invoice_data(make_shop(rng, "de-DE"), rng)
    pdf, truth = render_invoice_pdf(shop, data, einvoice_xml=True, producer="Microsoft Word",
                                    rng=random.Random(1))
    again, _ = render_invoice_pdf(shop, data, einvoice_xml=True, producer="Microsoft Word",
                                  rng=random.Random(1))
    assert pdf == again
    doc = pdfium.PdfDocument(pdf)
    text = doc[0].get_textpage().get_text_range()
    doc.close()
    assert truth.serial in text and truth.field_box("total").text in text
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    assert reader.metadata.producer == "Microsoft Word"
    xml = reader.attachments[FACTURX_NAME][0]
    root = ET.fromstring(xml)
    assert root.findtext("rsm:ExchangedDocument/ram:ID", namespaces=NS) == data.serial
    dts = root.find("rsm:ExchangedDocument/ram:IssueDateTime/udt:DateTimeString", NS)
    assert dts.get("format") == "102" and dts.text == data.date.strftime("%Y%m%d")
    summ = ".//ram:SpecifiedTradeSettlementHeaderMonetarySummation/ram:GrandTotalAmount"
    assert root.findtext(summ, namespaces=NS) == truth.total
    vat = root.find(".//ram:SellerTradeParty/ram:SpecifiedTaxRegistration/ram:ID", NS)
    assert vat.get("schemeID") == "VA" and vat.text == shop.tax_id
    plain, _ = render_invoice_pdf(shop, data, einvoice_xml=False, producer=None, rng=rng)
    assert not pypdf.PdfReader(io.BytesIO(plain)).attachments
    img = render_scanned_invoice(shop, data, random.Random(2))
    assert img.size == truth.page_size


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory):
    return build_demo_corpus(tmp_path_factory.mktemp("demo"))


def test_demo_manifest_parses_and_paths_exist(demo) -> None:
    with demo.manifest.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        assert tuple(reader.fieldnames) == MANIFEST_COLUMNS
        rows = list(reader)
    assert 16 <= len(rows) <= 24
    assert [r["evidence_id"] for r in rows] == [e.evidence_id for e in demo.evidence]
    times = [datetime.fromisoformat(r["uploaded_at"].replace("Z", "+00:00")) for r in rows]
    assert times == sorted(times) and len(set(times)) == len(times)
    for r in rows:
        path = demo.manifest.parent / r["path"]
        assert path.is_file() and path.stat().st_size > 1000
        magic = {"image/jpeg": b"\xff\xd8\xff", "image/png": b"\x89PNG",
                 "application/pdf": b"%PDF"}[r["content_type"]]
        assert path.read_bytes().startswith(magic)
    kinds = demo.kinds()
    for kind in ("honest", "reupload", "edited_copy", "serial_reuse", "tampered_total",
                 "invoice", "invoice_edited", "fapiao"):
        assert kinds.get(kind, 0) >= 1, kind


def test_demo_truth_links(demo) -> None:
    data = json.loads(demo.truth_path.read_text(encoding="utf-8"))
    by_id = {e["evidence_id"]: e for e in data["evidence"]}
    for e in data["evidence"]:
        for other in e["related"]:
            assert e["evidence_id"] in by_id[other]["related"]  # links are symmetric
    for e in demo.by_kind("reupload"):
        src = demo.get(e.source)
        assert src.seller_id != e.seller_id and src.evidence_id in e.related
        assert src.uploaded_at < e.uploaded_at and src.truth.total == e.truth.total
    for e in demo.by_kind("serial_reuse"):
        assert e.related and all(demo.get(r).truth.serial == e.truth.serial for r in e.related)
    copies = demo.by_kind("edited_copy")
    assert len({e.seller_id for e in copies}) == len(copies)
    assert all(len(e.related) == len(copies) - 1 for e in copies)
    # the hard negative: one shop's honest receipts are spread over different sellers
    by_shop: dict[str, set[str]] = {}
    count: dict[str, int] = {}
    for e in demo.by_kind("honest"):
        by_shop.setdefault(e.truth.merchant, set()).add(e.seller_id)
        count[e.truth.merchant] = count.get(e.truth.merchant, 0) + 1
    assert all(len(by_shop[m]) == count[m] for m in by_shop) and max(count.values()) >= 2


def test_generation_is_deterministic(tmp_path: Path) -> None:
    small = dict(n_shops=2, receipts_per_shop=2, n_sellers=5, reuploads=1, edited_templates=1,
                 edited_copies_per_template=2, serial_reuses=1, tampered_totals=1,
                 invoices_pdf=1, fapiao=1)
    a = build_corpus(tmp_path / "a", seed=3, **small)
    b = build_corpus(tmp_path / "b", seed=3, **small)
    files_a = sorted(p.relative_to(a.out_dir) for p in a.out_dir.rglob("*") if p.is_file())
    assert files_a == sorted(p.relative_to(b.out_dir) for p in b.out_dir.rglob("*") if p.is_file())
    for rel in files_a:
        assert (a.out_dir / rel).read_bytes() == (b.out_dir / rel).read_bytes(), rel
    assert make_shop(random.Random(3)) != make_shop(random.Random(4))
