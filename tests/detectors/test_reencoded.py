"""A re-encoded re-upload is a duplicate, not an edited copy; an edit stays an edit.

Long receipts are compared at a small working size, where a re-upload's JPEG and resampling
leave specks all over the exact comparison: the alignment calls the pair ``edited_copy``.
:func:`forensics.detectors.reencoding.reencoded` tells the two apart by how the differing boxes
stand out from the rest of the page, and :func:`~forensics.detectors.reencoding.read_apart` by
whether the two uploads read an edited field apart.
"""

from __future__ import annotations

import dataclasses
import random

from PIL import Image

from forensics.alignment import Relation, compare_pages
from forensics.detectors import duplicates, reencoding
from forensics.pipeline import analyse
from forensics.store import Store, registries
from tests.receipt_pages import edited_copy, make_shop, render_scan, reupload


def _long_scan(seed: int) -> tuple[Image.Image, dict, object, random.Random]:
    """A receipt scan four times as long as one receipt (small text at the working size)."""
    rng = random.Random(seed)
    shop = dataclasses.replace(make_shop(rng), size=14)
    img, boxes = render_scan(shop, rng)
    tall = Image.new("L", (img.width, img.height * 4))
    for i in range(4):
        tall.paste(img, (0, img.height * i))
    return tall, boxes, shop, rng


def test_a_long_receipts_reupload_is_reencoded_not_edited():
    tall, _, _, rng = _long_scan(0)
    rel = compare_pages(reupload(tall, rng), tall)
    # what the alignment alone says: one scan, a speck of exact difference
    assert rel.kind == "edited_copy" and rel.details["tolerant_boxes"] == 0, rel.details
    assert reencoding.reencoded(rel)


def test_an_edit_the_tolerant_comparison_sees_is_not_reencoded():
    # the control: the same long scan with a field repainted, saved again
    tall, boxes, shop, rng = _long_scan(2)
    edited, _ = edited_copy(tall, boxes, shop, rng, degrade=True)
    rel = compare_pages(reupload(edited, rng), tall)
    assert rel.kind == "edited_copy" and not reencoding.reencoded(rel), rel.details


def test_the_rule_on_measurements():
    speckled = {"tolerant_boxes": 0, "box_diff": [0.06, 0.3], "rest_diff": 5e-4}
    assert reencoding.reencoded(Relation("edited_copy", 1.0, ((0, 0, 9, 9),), speckled))
    # a page whose other pixels agree: the box stands out, an edit
    assert not reencoding.reencoded(Relation("edited_copy", 1.0, (), {**speckled, "rest_diff": 4e-5}))
    # a box the tolerant comparison sees too, or a number repainted whole
    assert not reencoding.reencoded(Relation("edited_copy", 1.0, (), {**speckled, "tolerant_boxes": 1}))
    assert not reencoding.reencoded(Relation("edited_copy", 1.0, (), {**speckled, "box_diff": [1.6]}))


def _field(value: str, confidence: float, source: str = "ocr") -> dict:
    return {"value": value, "confidence": confidence, "source": source}


def test_fields_read_apart_only_when_both_readings_are_sure():
    mine = {"total": _field("10.00", 0.9), "time": _field("09:34:40", 0.79), "serial": _field("CSOO1234", 0.9)}
    theirs = {"total": _field("10.0", 0.8), "time": _field("08:34", 0.43), "serial": _field("CS001234", 0.7)}
    # one amount, a time one side doubts, a number keyed alike: nothing read apart
    assert reencoding.read_apart(mine, theirs) == []
    assert reencoding.read_apart({**mine, "total": _field("16.00", 0.9)}, theirs) == ["total"]
    assert reencoding.read_apart(mine, {**theirs, "time": _field("08:34", 0.95)}) == ["time"]
    # a field only one side read says nothing; a text layer is always sure
    assert reencoding.read_apart(mine, {**theirs, "date": _field("2018-03-23", 1.0, "text_layer")}) == []
    assert reencoding.read_apart({**mine, "date": _field("2018-03-24", 1.0, "text_layer")},
                                 {**theirs, "date": _field("2018-03-23", 0.9)}) == ["date"]


def _ingest(settings, files: list[tuple[str, str, str]]) -> Store:  # noqa: ANN001
    store = Store(settings.database_url)
    for eid, seller, name in files:
        analyse({"evidence_id": eid, "seller_id": seller, "blob": name}, store, settings)
    return store


def _codes(record: dict) -> dict[str, list[str]]:
    return {f["code"]: f.get("related") or [] for f in record["findings"] if f["severity"] != "info"}


def test_a_long_receipts_reupload_links_as_a_duplicate(settings, blob_root):
    tall, _, _, rng = _long_scan(3)  # saved and read back, this pair aligns as an edited_copy
    tall.save(blob_root / "a.png")
    reupload(tall, rng).save(blob_root / "b.jpg", quality=95)
    store = _ingest(settings, [("E1", "S1", "a.png"), ("E2", "S2", "b.jpg")])
    codes = _codes(store.get("E2"))
    assert codes.get("duplicate_upload") == ["E1"] and "edited_copy" not in codes, store.get("E2")["findings"]
    with store.transaction() as conn:
        (rel,) = [r for r in registries.relations_of(conn, ["E2"]) if r["kind"] == "same_image"]
    assert rel["details"].get("reencoded") is True, rel  # the alignment alone said edited_copy


def test_an_edit_read_apart_stays_an_edited_copy(settings, blob_root, monkeypatch):
    # whatever the pixel statistics say (here: made to say "re-encoded"), two uploads that
    # read a repainted field apart are an edit
    monkeypatch.setattr(duplicates, "reencoded", lambda rel: True)
    rng = random.Random(5)
    shop = make_shop(rng)
    scan, boxes = render_scan(shop, rng)
    scan.save(blob_root / "a.png")
    edited, _ = edited_copy(scan, boxes, shop, rng)
    edited.save(blob_root / "b.jpg", quality=92)
    store = _ingest(settings, [("E1", "S1", "a.png"), ("E2", "S2", "b.jpg")])
    codes = _codes(store.get("E2"))
    assert codes.get("edited_copy") == ["E1"] and "duplicate_upload" not in codes, store.get("E2")["findings"]
