"""The linking detectors through the pipeline: duplicates' candidate sources, serial registry."""

from __future__ import annotations

import pytest

from forensics.detectors import duplicates
from forensics.pipeline import analyse
from forensics.store import Store, registries
from tests.conftest import RECEIPT_LINES, simple_receipt


def _ingest(settings, blobs: list[tuple[str, str, str]]) -> Store:  # noqa: ANN001
    store = Store(settings.database_url)
    for eid, seller, name in blobs:
        analyse({"evidence_id": eid, "seller_id": seller, "blob": name}, store, settings)
    return store


def test_reupload_beyond_hash_radius_is_found_by_its_date_and_total(settings, blob_root):
    # no receipt number: the content key (which needs a serial) cannot link them either
    img = simple_receipt([ln for ln in RECEIPT_LINES if "RECEIPT" not in ln])
    img.save(blob_root / "a.png")
    turned = img.rotate(1.5, expand=True, fillcolor=250)
    turned.resize((turned.width * 9 // 10, turned.height * 9 // 10)).convert("RGB").save(blob_root / "b.jpg", quality=60)
    # radius 0: the perceptual hashes alone cannot propose the pair
    store = _ingest(settings.with_(hash_radius=0), [("E1", "S1", "a.png"), ("E2", "S2", "b.jpg")])
    rec = store.get("E2")
    assert rec["fields"]["total"]["value"] == "33.81", rec["fields"]
    dup = [f for f in rec["findings"] if f["code"] == "duplicate_upload"]
    assert dup and dup[0]["related"] == ["E1"], rec["findings"]


@pytest.mark.parametrize("nearest", [1, 0])
def test_reupload_beyond_hash_radius_is_found_among_the_nearest_pixel_hashes(settings, blob_root, monkeypatch,
                                                                           nearest):
    # nothing else can propose the pair: no text-hash candidates, no date or total, radius 0
    monkeypatch.setattr(duplicates, "TEXT_CANDIDATES", 0)
    monkeypatch.setattr(duplicates, "NEAREST_PIXEL_CANDIDATES", nearest)
    img = simple_receipt([ln for ln in RECEIPT_LINES if not ln.startswith(("DATE", "TOTAL", "RECEIPT"))])
    img.save(blob_root / "a.png")
    turned = img.rotate(1.5, expand=True, fillcolor=250)
    turned.resize((turned.width * 9 // 10, turned.height * 9 // 10)).convert("RGB").save(blob_root / "b.jpg", quality=60)
    store = _ingest(settings.with_(hash_radius=0), [("E1", "S1", "a.png"), ("E2", "S2", "b.jpg")])
    dup = [f for f in store.get("E2")["findings"] if f["code"] == "duplicate_upload"]
    if nearest:
        assert dup and dup[0]["related"] == ["E1"], store.get("E2")["findings"]
    else:  # the control: without the nearest neighbours the pair is never aligned
        assert not dup


def test_different_receipts_of_one_shop_are_not_duplicates(settings, blob_root):
    simple_receipt(RECEIPT_LINES).save(blob_root / "a.png")
    other = [ln.replace("CS00012345", "CS00012399").replace("33.81", "47.20") for ln in RECEIPT_LINES]
    simple_receipt(other, seed=9).save(blob_root / "b.png")
    store = _ingest(settings, [("E1", "S1", "a.png"), ("E2", "S2", "b.png")])
    codes = {f["code"] for f in store.get("E2")["findings"] if f["severity"] != "info"}
    assert not codes & {"duplicate_upload", "edited_copy", "serial_reuse", "serial_conflict"}, codes


def test_serial_reuse_and_conflict_across_sellers(settings, blob_root):
    simple_receipt(RECEIPT_LINES).save(blob_root / "a.png")
    changed = [ln.replace("33.81", "93.81") for ln in RECEIPT_LINES]  # same number, other total
    simple_receipt(changed, seed=4, width=760).save(blob_root / "b.png")
    store = _ingest(settings, [("E1", "S1", "a.png"), ("E2", "S2", "b.png")])
    codes = {f["code"]: f for f in store.get("E2")["findings"]}
    assert codes["serial_reuse"]["related"] == ["E1"]
    assert "serial_conflict" in codes and "total" in codes["serial_conflict"]["message"]
    # the older record learns of the newer one
    assert "copied_by_later_upload" in {f["code"] for f in store.get("E1")["findings"]}


def test_the_original_of_a_cross_seller_reupload_is_review_at_most(settings, blob_root):
    img = simple_receipt(RECEIPT_LINES)
    img.save(blob_root / "a.png")
    img.convert("RGB").save(blob_root / "b.jpg", quality=80)
    store = _ingest(settings, [("E1", "S1", "a.png"), ("E2", "S2", "b.jpg")])
    e1, e2 = store.get("E1"), store.get("E2")
    assert e2["verdict"] == "likely_forgery" and "duplicate_upload" in {f["code"] for f in e2["findings"]}
    copied = [f for f in e1["findings"] if f["code"] == "copied_by_later_upload"]
    assert copied and copied[0]["related"] == ["E2"] and "seller S2" in copied[0]["message"], e1["findings"]
    assert "duplicate_upload" not in {f["code"] for f in e1["findings"]}
    assert e1["verdict"] == "review", e1["findings"]


def test_an_original_copied_twice_in_two_ways_names_both_later_uploads(settings, blob_root):
    img = simple_receipt(RECEIPT_LINES)
    img.save(blob_root / "a.png")
    img.convert("RGB").save(blob_root / "b.jpg", quality=80)  # the same receipt again
    changed = [ln.replace("33.81", "93.81") for ln in RECEIPT_LINES]  # its serial, another total
    simple_receipt(changed, seed=4, width=760).save(blob_root / "c.png")
    store = _ingest(settings, [("E1", "S1", "a.png"), ("E2", "S2", "b.jpg"), ("E3", "S3", "c.png")])
    copied = [f for f in store.get("E1")["findings"] if f["code"] == "copied_by_later_upload"]
    assert len(copied) == 1 and copied[0]["related"] == ["E2", "E3"], store.get("E1")["findings"]
    assert store.get("E1")["verdict"] == "review"


def _every_stored_page_a_candidate(monkeypatch):  # noqa: ANN001, ANN202
    """Make every stored page (of other uploads) a candidate of every page, and count the pixel
    alignments: the text-layer screen, not the hashes, is under test."""
    aligned = []
    real = duplicates.compare_pages

    def all_ids(idx, analysis, view, *args):  # noqa: ANN001, ANN002, ANN202
        return [r.id for r in view.fingerprints_since(0, limit=1000)]

    def counted(a, b, **kw):  # noqa: ANN001, ANN003, ANN202
        rel = real(a, b, **kw)
        aligned.append(rel.kind)
        return rel

    monkeypatch.setattr(duplicates, "_candidate_ids", all_ids)
    monkeypatch.setattr(duplicates, "compare_pages", counted)
    return aligned


def _invoice(seed: int):  # noqa: ANN202
    import random

    from fixtures.invoices import make_invoice_data, render_invoice_pdf, render_scanned_invoice
    from fixtures.shops import make_shop

    shop, data = make_invoice_data(make_shop(random.Random(seed), "de-DE"), random.Random(seed))
    pdf, _ = render_invoice_pdf(shop, data, einvoice_xml=False, producer=None, rng=random.Random(seed))
    return pdf, render_scanned_invoice(shop, data, random.Random(seed))  # the same page, printed and scanned


def test_a_print_and_scan_of_a_text_pdf_is_still_aligned_and_linked(settings, blob_root, monkeypatch):
    aligned = _every_stored_page_a_candidate(monkeypatch)
    pdf, scan = _invoice(4)
    scan.save(blob_root / "scan.jpg", quality=85)
    (blob_root / "invoice.pdf").write_bytes(pdf)
    store = _ingest(settings, [("E1", "S1", "scan.jpg"), ("E2", "S2", "invoice.pdf")])
    assert aligned and aligned[-1] in duplicates.LINK_KINDS, aligned
    related = {o for f in store.get("E2")["findings"] for o in f.get("related", [])}
    assert "E1" in related, store.get("E2")["findings"]


def test_an_unrelated_receipt_scan_costs_a_text_pdf_no_alignment(settings, blob_root, monkeypatch):
    aligned = _every_stored_page_a_candidate(monkeypatch)
    simple_receipt(RECEIPT_LINES).save(blob_root / "receipt.png")
    pdf, _ = _invoice(5)
    (blob_root / "invoice.pdf").write_bytes(pdf)
    store = _ingest(settings, [("E1", "S1", "receipt.png"), ("E2", "S2", "invoice.pdf")])
    assert aligned == []
    assert not [f for f in store.get("E2")["findings"] if "E1" in f.get("related", [])]


def test_an_earlier_page_is_prepared_once_for_all_its_comparisons(settings, blob_root, monkeypatch):
    # a popular shop's page is a candidate of many uploads: its working raster and features are
    # kept with the decoded page (by its pixels' sha256), and the links are those of a fresh one
    from forensics import alignment

    monkeypatch.setattr(duplicates, "_page_cache", type(duplicates._page_cache)())
    prepared = []
    real = alignment.prepare
    monkeypatch.setattr(duplicates, "prepare", lambda img: prepared.append(img) or real(img))
    img = simple_receipt(RECEIPT_LINES)
    img.save(blob_root / "a.png")
    for i in (1, 2):
        img.rotate(0.5 * i, expand=True, fillcolor=250).convert("RGB").save(blob_root / f"b{i}.jpg", quality=70)
    store = _ingest(settings, [("E1", "S1", "a.png"), ("E2", "S2", "b1.jpg"), ("E3", "S3", "b2.jpg")])
    dup = [f for f in store.get("E3")["findings"] if f["code"] == "duplicate_upload"]
    assert dup and set(dup[0]["related"]) == {"E1", "E2"}, store.get("E3")["findings"]
    cached = [e for e in duplicates._page_cache.values() if e is not None and e[1] is not None]
    # E1's page was compared with E2's and prepared once; E2 and E3 prepared themselves once
    # each. E3 compared one of the two (E2 from the features E2 kept on disk, or E1 from the
    # cache) and is the same scan as the other by its registration (the next test)
    assert 1 <= len(cached) <= 2
    assert len(prepared) == 3
    again = alignment.compare_pages(alignment.prepare(img), cached[0][1])
    assert again.kind == alignment.compare_pages(img, cached[0][0]).kind


def test_a_scan_on_file_many_times_costs_a_new_copy_one_comparison(settings, blob_root, monkeypatch):
    # each copy certainly the same scan as an earlier one registers that scan's label, so a new
    # copy compared with one of them is linked to all, not compared with each
    img = simple_receipt(RECEIPT_LINES)
    img.save(blob_root / "a.png")
    for i in (1, 2, 3):
        img.rotate(0.5 * i, expand=True, fillcolor=250).convert("RGB").save(blob_root / f"b{i}.jpg", quality=70)
    store = _ingest(settings, [("E1", "S1", "a.png"), ("E2", "S2", "b1.jpg"), ("E3", "S3", "b2.jpg")])
    compared = []
    real = duplicates.compare_pages
    monkeypatch.setattr(duplicates, "compare_pages", lambda *a, **kw: compared.append(1) or real(*a, **kw))
    analyse({"evidence_id": "E4", "seller_id": "S4", "blob": "b3.jpg"}, store, settings)
    dup = [f for f in store.get("E4")["findings"] if f["code"] == "duplicate_upload"]
    assert dup and set(dup[0]["related"]) == {"E1", "E2", "E3"}, store.get("E4")["findings"]
    assert len(compared) == 1
    with store.transaction() as conn:
        rows = registries.fingerprint_rows(conn, [r.id for r in registries.fingerprints_since(conn, 0)])
        rels = registries.relations_of(conn, ["E4"])
    # every copy carries the first page's label; E1 is the first of its scan
    labels = {r.evidence_id: duplicates.scan_of(r) for r in rows}
    assert len(set(labels.values())) == 1 and labels["E1"] == next(r.pixel_sha256 for r in rows if r.evidence_id == "E1")
    inferred = [r for r in rels if r["kind"] == "same_image" and "same_scan_as" in (r["details"] or {})]
    assert len(inferred) == 2 and all(r["score"] == 1.0 for r in inferred)


def test_a_scan_label_links_only_what_the_comparison_found_certain(settings, blob_root, monkeypatch):
    # the control: an edited copy of the scan is not the scan; its label is its own, and a later
    # copy of the scan is still compared with it (and finds the edit)
    img = simple_receipt(RECEIPT_LINES)
    img.save(blob_root / "a.png")
    edited = simple_receipt([ln.replace("33.81", "38.81") for ln in RECEIPT_LINES])
    edited.save(blob_root / "e.png")
    img.rotate(0.5, expand=True, fillcolor=250).convert("RGB").save(blob_root / "b.jpg", quality=70)
    store = _ingest(settings, [("E1", "S1", "a.png"), ("E2", "S2", "e.png")])
    compared = []
    real = duplicates.compare_pages
    monkeypatch.setattr(duplicates, "compare_pages", lambda *a, **kw: compared.append(1) or real(*a, **kw))
    analyse({"evidence_id": "E3", "seller_id": "S3", "blob": "b.jpg"}, store, settings)
    assert len(compared) == 2
    with store.transaction() as conn:
        rows = registries.fingerprint_rows(conn, [r.id for r in registries.fingerprints_since(conn, 0)])
    assert len({duplicates.scan_of(r) for r in rows if r.evidence_id in ("E1", "E2")}) == 2


def test_kept_features_serve_a_later_process_and_its_pixels_are_read_when_needed(settings, blob_root, monkeypatch):
    # a page's features, kept on disk by the worker that prepared it, let another process reject
    # it unread; when a later upload registers with it, its pixels are read through that
    # upload's store view (the cached page outlives the transaction that found it)
    import random

    from tests.receipt_pages import make_shop, render_scan, reupload

    aligned = _every_stored_page_a_candidate(monkeypatch)
    rng = random.Random(8)
    pages = [render_scan(make_shop(rng), rng)[0] for _ in range(3)]
    for name, img in zip(("a.png", "b.png", "c.png"), pages, strict=True):
        img.save(blob_root / name)
    reupload(pages[0], rng).convert("RGB").save(blob_root / "a2.jpg", quality=80)
    _ingest(settings, [("E1", "S1", "a.png"), ("E2", "S2", "b.png")]).close()
    assert list(blob_root.parent.rglob("*.orb")), "the prepared pages' features were not kept"
    monkeypatch.setattr(duplicates, "_page_cache", type(duplicates._page_cache)())  # another process
    read = []
    real_read = duplicates.pdf_pages.read_earlier
    monkeypatch.setattr(duplicates.pdf_pages, "read_earlier", lambda view, s, eid, f: read.append(eid) or real_read(view, s, eid, f))
    _ingest(settings, [("E3", "S3", "c.png")]).close()
    assert aligned[-2:] == ["unrelated", "unrelated"] and read == []  # other shops: rejected unread
    store = _ingest(settings, [("E4", "S4", "a2.jpg")])
    dup = [f for f in store.get("E4")["findings"] if f["code"] == "duplicate_upload"]
    assert dup and dup[0]["related"] == ["E1"], store.get("E4")["findings"]
    assert read == ["E1"]


def test_earlier_pages_with_the_same_pixels_are_compared_once(settings, blob_root, monkeypatch):
    # a template uploaded again and again (other files, the same pixels) is one comparison for
    # a later upload; each copy gets the answer, as if compared on its own
    compared = []
    real = duplicates.compare_pages
    monkeypatch.setattr(duplicates, "compare_pages", lambda a, b, **kw: compared.append(1) or real(a, b, **kw))
    img = simple_receipt(RECEIPT_LINES)
    img.save(blob_root / "a.png")
    img.save(blob_root / "b.png", compress_level=1)  # other bytes, the same pixels
    img.rotate(0.7, expand=True, fillcolor=250).convert("RGB").save(blob_root / "c.jpg", quality=75)
    store = _ingest(settings, [("E1", "S1", "a.png"), ("E2", "S2", "b.png")])
    assert (blob_root / "a.png").read_bytes() != (blob_root / "b.png").read_bytes()
    before = len(compared)
    store = _ingest(settings, [("E3", "S3", "c.jpg")])
    dup = [f for f in store.get("E3")["findings"] if f["code"] == "duplicate_upload"]
    assert dup and set(dup[0]["related"]) == {"E1", "E2"}, store.get("E3")["findings"]
    assert len(compared) - before == 1


def test_a_candidates_stored_reading_is_read_once_per_registration(settings, blob_root, monkeypatch):
    # a popular page is a candidate of many uploads: its stored reading is read from the store
    # once while its registration stands, and read again once a re-analysis registers it anew
    from forensics.store.view import RegistryView

    _every_stored_page_a_candidate(monkeypatch)
    monkeypatch.setattr(duplicates, "_reading_cache", type(duplicates._reading_cache)())
    reads: list[str] = []
    real = RegistryView.page_reading
    monkeypatch.setattr(RegistryView, "page_reading",
                        lambda self, eid, page: reads.append(eid) or real(self, eid, page))
    for name, seed in (("a.pdf", 5), ("b.pdf", 6), ("c.pdf", 7)):
        (blob_root / name).write_bytes(_invoice(seed)[0])
    store = _ingest(settings, [("E1", "S1", "a.pdf"), ("E2", "S2", "b.pdf"), ("E3", "S3", "c.pdf")])
    assert reads.count("E1") == 1, reads  # a candidate of E2 and of E3
    assert reads.count("E2") == 1, reads
    kept = [r for r in duplicates._reading_cache.values() if r is not None]
    assert kept and all(r["source"] == "text_layer" for r in kept)
    assert {f["code"] for f in store.get("E3")["findings"]} == {f["code"] for f in store.get("E2")["findings"]}


def test_a_stored_reading_is_kept_by_its_registration_not_by_its_upload(monkeypatch):
    from types import SimpleNamespace

    monkeypatch.setattr(duplicates, "_reading_cache", type(duplicates._reading_cache)())
    reads = []
    view = SimpleNamespace(url="u", page_reading=lambda eid, page: reads.append((eid, page)) or {"page": page})
    first, again = SimpleNamespace(id=1, evidence_id="E1", page=1), SimpleNamespace(id=7, evidence_id="E1", page=1)
    assert duplicates._stored_reading(view, first) == {"page": 1}
    duplicates._stored_reading(view, first)
    assert reads == [("E1", 1)]
    duplicates._stored_reading(view, again)  # registered anew (a re-analysis): read again
    assert reads == [("E1", 1), ("E1", 1)]
