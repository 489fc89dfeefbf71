"""Content keys: re-uploads linked by what the receipt says (issuer, number, date and minute)."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest
from PIL import Image

from fixtures.forgeries import reupload
from forensics.detectors import content_keys, duplicates
from forensics.fingerprints import fingerprint_page, hamming
from forensics.pipeline import analyse
from forensics.store import Store, registries
from tests.conftest import RECEIPT_LINES, simple_receipt


def _ingest(settings, blobs: list[tuple[str, str, str]]) -> Store:  # noqa: ANN001
    store = Store(settings.database_url)
    for eid, seller, name in blobs:
        analyse({"evidence_id": eid, "seller_id": seller, "blob": name}, store, settings)
    return store


def _content_links(store: Store, eid: str) -> list[dict]:
    """The same_content relations of ``eid`` this detector made (their details name the key)."""
    with store.transaction() as conn:
        rels = registries.relations_of(conn, [eid])
    return [r for r in rels if r["kind"] == "same_content" and "content_key" in (r["details"] or {})]


@pytest.fixture
def content_only(monkeypatch: pytest.MonkeyPatch, settings):  # noqa: ANN001, ANN201
    """Settings under which nothing but the content key can link two uploads: no pixel-hash
    radius or nearest neighbours, no text-hash candidates, no date + total, no exact
    merchant/serial/date/total key."""
    monkeypatch.setattr(duplicates, "TEXT_CANDIDATES", 0)
    monkeypatch.setattr(duplicates, "NEAREST_PIXEL_CANDIDATES", 0)
    monkeypatch.setattr(duplicates, "date_total_key", lambda analysis: None)
    monkeypatch.setattr(duplicates, "_content_key", lambda analysis: None)
    return settings.with_(hash_radius=0)


def _cropped_turned(img: Image.Image) -> Image.Image:
    """The receipt as a re-uploader might save it: cropped (the total and the lines below it
    cut off), turned 2 degrees, scaled, re-encoded."""
    w, h = img.size
    out = img.crop((25, 30, w - 20, h - 200)).rotate(2.0, expand=True, fillcolor=250)
    return out.resize((out.width * 9 // 10, out.height * 9 // 10)).convert("RGB")


def test_a_cropped_and_turned_reupload_links_by_its_content(content_only, blob_root):
    img = simple_receipt(RECEIPT_LINES)
    img.save(blob_root / "a.png")
    copy = _cropped_turned(img)
    copy.save(blob_root / "b.jpg", quality=60)
    a, b = fingerprint_page(1, img), fingerprint_page(1, copy)
    # far beyond any pixel-hash radius the duplicates detector searches by default
    assert min(hamming(a.phash, b.phash), hamming(a.dhash, b.dhash)) > 10
    store = _ingest(content_only, [("E1", "S1", "a.png"), ("E2", "S2", "b.jpg")])
    e1, e2 = store.get("E1"), store.get("E2")
    dup = [f for f in e2["findings"] if f["code"] == "duplicate_upload"]
    assert dup and dup[0]["related"] == ["E1"] and dup[0]["severity"] == "high", e2["findings"]
    assert dup[0]["evidence"]["links"]["E1"]["content_key"] == "C500012345|2018-10-19|20:49"
    assert "same issuer, receipt number CS00012345 and print time 2018-10-19 20:49" in dup[0]["message"]
    assert e2["checks"]["content_keys"] == "done"
    # the honest original is told it was copied, not accused
    assert "copied_by_later_upload" in {f["code"] for f in e1["findings"]}
    assert e1["verdict"] != "likely_forgery"


def test_without_a_sure_reading_the_same_pair_is_not_linked(content_only, blob_root, monkeypatch):
    # the control of the test above: numbers and times below the confidence asked for link nothing
    monkeypatch.setattr(content_keys, "MIN_CONFIDENCE", 1.01)
    img = simple_receipt(RECEIPT_LINES)
    img.save(blob_root / "a.png")
    _cropped_turned(img).save(blob_root / "b.jpg", quality=60)
    store = _ingest(content_only, [("E1", "S1", "a.png"), ("E2", "S2", "b.jpg")])
    assert not [f for f in store.get("E2")["findings"] if f["code"] == "duplicate_upload"]
    assert store.get("E2")["checks"]["content_keys"].startswith("skipped")


def test_two_receipts_of_one_shop_in_one_minute_with_two_numbers_are_not_linked(settings, blob_root):
    simple_receipt(RECEIPT_LINES).save(blob_root / "a.png")
    other = [ln.replace("CS00012345", "CS00012346").replace("33.81", "47.20") for ln in RECEIPT_LINES]
    simple_receipt(other, seed=9).save(blob_root / "b.png")
    store = _ingest(settings, [("E1", "S1", "a.png"), ("E2", "S2", "b.png")])
    assert store.get("E2")["checks"]["content_keys"] == "done"
    assert not _content_links(store, "E2")
    assert "duplicate_upload" not in {f["code"] for f in store.get("E2")["findings"]}


@pytest.mark.parametrize("change", [("TIME: 20:49", "TIME: 21:07"), ("19/10/2018", "20/10/2018")],
                         ids=["other minute", "other day"])
def test_one_number_printed_at_another_time_is_not_the_same_receipt(settings, blob_root, change):
    # a shop whose numbers restart (daily, or per till): one number, two receipts
    simple_receipt(RECEIPT_LINES).save(blob_root / "a.png")
    other = [ln.replace(*change).replace("33.81", "47.20") for ln in RECEIPT_LINES]
    simple_receipt(other, seed=9).save(blob_root / "b.png")
    store = _ingest(settings, [("E1", "S1", "a.png"), ("E2", "S2", "b.png")])
    assert not _content_links(store, "E2")


def test_one_number_and_minute_with_another_total_is_an_edited_copy_not_a_reupload(settings, blob_root):
    # the same receipt with its total repainted: serial_conflict and edited_copy say so; it is
    # not the same receipt uploaded twice
    simple_receipt(RECEIPT_LINES).save(blob_root / "a.png")
    edited = [ln.replace("33.81", "93.81") for ln in RECEIPT_LINES]
    simple_receipt(edited).save(blob_root / "b.png")
    store = _ingest(settings, [("E1", "S1", "a.png"), ("E2", "S2", "b.png")])
    assert not _content_links(store, "E2")
    assert "serial_conflict" in {f["code"] for f in store.get("E2")["findings"]}


# -- the rules, on registrations as stored ------------------------------------------------------


def _row(**kw) -> dict:  # noqa: ANN003
    row = {"evidence_id": "E1", "seller_id": "S1", "uploaded_at": datetime(2026, 1, 5, tzinfo=UTC),
           "printed_at": "2018-10-19|20:49", "serial": content_keys.key_serial("CS00012345"),
           "serial_confidence": 0.9, "serial_line": "RECEIPT NO: CS00012345",
           "issuer_key": "tax:001234567890", "name_key": "name:KEDAI RUNCIT MAJU JAYA",
           "reg_key": None, "phone_key": None}
    return {**row, **kw}


def test_a_number_read_alike_with_confidence_is_one_number():
    assert content_keys.same_number(_row(), _row(evidence_id="E2")) == "read alike"
    # letters OCR reads for digits key as those digits, on both sides
    assert content_keys.key_serial("CSOO012345") == content_keys.key_serial("CS00012345")


def test_low_confidence_digits_match_nothing_as_read():
    low = _row(evidence_id="E2", serial_confidence=0.3)
    assert content_keys.same_number(_row(serial_confidence=0.3), low) is None
    # one sure side is not enough when the unsure side's line does not print its number
    assert content_keys.same_number(_row(), {**low, "serial_line": "RECEIPT NO: CS00012845"}) is None


def test_a_number_ocr_split_is_found_whole_on_its_line():
    sure = _row(serial="0R17110403150228", serial_line="Invoice # : OR17110403150228")
    split = _row(evidence_id="E2", serial="0R171104031", serial_confidence=0.2,
                 serial_line="invoice # ; OR171104031 50228")
    assert content_keys.same_number(sure, split) == "printed on both"
    assert content_keys.same_number(split, sure) == "printed on both"
    # the next receipt's number is not printed on that line
    assert content_keys.same_number(_row(serial="0R17110403150229"), split) is None


def test_a_number_is_never_found_inside_another():
    assert not content_keys.printed_in("1234", "No: 12345")
    assert not content_keys.printed_in("2345", "No: 12345")
    assert content_keys.printed_in("12345", "No:12345")
    assert content_keys.printed_in("58210402", "Bill 5821/0402")


def test_two_totals_read_with_confidence_are_two_documents():
    assert content_keys.other_totals(_row(total="33.81"), _row(total="93.81"))
    assert not content_keys.other_totals(_row(total="33.81"), _row(total="33.810"))
    # a total not read with confidence (stored as None) says nothing either way
    assert not content_keys.other_totals(_row(total="33.81"), _row(total=None))


def test_two_issuers_are_not_one_receipt():
    other_shop = _row(evidence_id="E2", issuer_key="tax:009876543210", name_key="name:KEDAI BUKU CAHAYA")
    assert not content_keys.same_issuer(_row(), other_shop)
    # a name read with an OCR slip is the same shop when nothing else was read to say otherwise
    slip = _row(evidence_id="E2", issuer_key="name:KEDAI RUNCIT MAJU JAYA", name_key="name:KEDAI RUNCIT MAJV JAYA")
    assert content_keys.same_issuer(_row(issuer_key="name:KEDAI RUNCIT MAJU JAYA"), slip)


def test_a_bench_style_reupload_keeps_its_key(content_only, blob_root):
    # the re-encoding bench/quality.py applies (crop, turn, scale, brightness, JPEG 55-85)
    img = simple_receipt(RECEIPT_LINES)
    img.save(blob_root / "a.png")
    (blob_root / "b.jpg").write_bytes(reupload(img, random.Random(3)))
    store = _ingest(content_only, [("E1", "S1", "a.png"), ("E2", "S2", "b.jpg")])
    assert [r["details"]["number"] for r in _content_links(store, "E2")] == ["read alike"]
