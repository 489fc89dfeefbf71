"""Issuer identity: a merchant's tax id against the one its other uploads carry."""

from __future__ import annotations

import pytest

from forensics.detectors.issuer_identity import digits_off, misread_likely, read_twice
from forensics.pipeline import analyse
from forensics.store import Store
from tests.conftest import RECEIPT_LINES, simple_receipt

USUAL = "001234567890"


def _receipt(path, gst: str, serial: str, *, name: str = "KEDAI RUNCIT MAJU JAYA", seed: int = 0) -> None:
    simple_receipt([ln.replace("001234567890", gst).replace("CS00012345", serial)
                    .replace("KEDAI RUNCIT MAJU JAYA", name) for ln in RECEIPT_LINES],
                   seed=seed).save(path)


def _upload(store, settings, blob_root, eid: str, seller: str, gst: str, serial: str, **kw) -> dict:  # noqa: ANN001
    _receipt(blob_root / f"{eid}.png", gst, serial, **kw)
    analyse({"evidence_id": eid, "seller_id": seller, "blob": f"{eid}.png"}, store, settings)
    return store.get(eid)


def _two_usual(settings, blob_root) -> Store:  # noqa: ANN001
    store = Store(settings.database_url)
    for eid, seller, serial in (("E1", "S1", "CS00012345"), ("E2", "S2", "CS00013467")):
        rec = _upload(store, settings, blob_root, eid, seller, USUAL, serial)
        assert rec["fields"]["merchant_tax_id"]["value"] == USUAL
    return store


def test_digits_off_counts_positions_of_one_length():
    assert digits_off("001234567890", "001234567899") == 1
    assert digits_off("001234567890", "001234567890") == 0
    assert digits_off("001234567890", "01234567890") is None


@pytest.mark.parametrize(
    "mine,again,stands",
    [
        ("001234567899", "001234567899", "001234567899"),  # read alike twice
        ("001234567899", "(GST:001234567899)", "001234567899"),  # the box holds more than the id
        ("001234567899", "001234567890", None),  # the second reading gives the usual id
        ("001234567899", "001234567866", None),  # the readings disagree where it differs
        ("001234567899", "998877665544", None),  # the second reading read something else
        ("001234567899", "0012345", None),  # too short to hold the id
        # the leading zeros misread differently each time; the last-but-one digit read alike
        ("091234567899", "1901234567899", "001234567899"),
    ],
)
def test_read_twice_keeps_what_both_readings_read_alike(mine, again, stands):
    assert read_twice(mine, again, USUAL) == stands


@pytest.mark.parametrize("store_settings", ["settings", "pg_settings"])
def test_a_tax_id_a_digit_off_the_merchants_usual_one_is_flagged(store_settings, blob_root, request):
    settings = request.getfixturevalue(store_settings)  # SQLite, then the real PostgreSQL
    store = _two_usual(settings, blob_root)
    rec = _upload(store, settings, blob_root, "E3", "S3", "001234567899", "CS00014589", seed=4)
    assert rec["fields"]["merchant_tax_id"]["value"] == "001234567899"
    found = [f for f in rec["findings"] if f["code"] == "identifier_mismatch"]
    assert len(found) == 1, rec["findings"]
    assert found[0]["severity"] == "medium" and rec["verdict"] != "clean"
    assert sorted(found[0]["related"]) == ["E1", "E2"]
    assert USUAL in found[0]["message"] and "001234567899" in found[0]["message"]
    assert found[0]["box"] == rec["fields"]["merchant_tax_id"]["box"]
    assert rec["checks"]["issuer_identity"] == "done"


def test_the_usual_id_a_far_id_or_a_single_other_upload_is_not_flagged(settings, blob_root):
    store = _two_usual(settings, blob_root)
    same = _upload(store, settings, blob_root, "E3", "S3", USUAL, "CS00014589", seed=4)
    # another company under the same trading name: its id is nowhere near
    franchise = _upload(store, settings, blob_root, "E4", "S4", "009876501234", "CS00015678", seed=5)
    # one other upload is no consensus: which of the two is the altered one?
    lone = _upload(store, settings, blob_root, "F1", "S5", "007777777770", "CS00016789",
                   name="SYARIKAT CONTOH DAGANG")
    lone2 = _upload(store, settings, blob_root, "F2", "S6", "007777777771", "CS00017890",
                    name="SYARIKAT CONTOH DAGANG", seed=6)
    for rec in (same, franchise, lone, lone2):
        assert "identifier_mismatch" not in {f["code"] for f in rec["findings"]}, rec["findings"]
    assert [r["fields"]["merchant_tax_id"]["value"] for r in (same, franchise, lone, lone2)] == [
        USUAL, "009876501234", "007777777770", "007777777771"]


def test_uploads_without_a_serial_count_as_the_merchants_other_uploads(settings, blob_root):
    store = Store(settings.database_url)
    lines = [ln for ln in RECEIPT_LINES if not ln.startswith("RECEIPT NO")]
    for eid, gst, seed in (("E1", USUAL, 0), ("E2", USUAL, 2), ("E3", "001234567899", 4)):
        simple_receipt([ln.replace("001234567890", gst) for ln in lines], seed=seed).save(blob_root / f"{eid}.png")
        analyse({"evidence_id": eid, "seller_id": "S" + eid[1:], "blob": f"{eid}.png"}, store, settings)
    e3 = store.get("E3")
    assert "serial" not in e3["fields"] and e3["fields"]["merchant_tax_id"]["value"] == "001234567899"
    found = [f for f in e3["findings"] if f["code"] == "identifier_mismatch"]
    assert len(found) == 1 and sorted(found[0]["related"]) == ["E1", "E2"], e3["findings"]


@pytest.mark.parametrize(
    "stands,confidence,misread",
    [
        ("600471500000", 0.80, True),  # 6 for 0 and 5 for 3, faded print read twice alike
        ("600471500000", 0.95, False),  # read with confidence: the digits are printed so
        ("000471800000", None, True),  # no confidence known: 8 for 3 is a misread
        ("000471400000", 0.50, False),  # 4 for 3 is no misread of print, whatever the confidence
    ],
)
def test_an_ocr_misread_of_the_usual_id_is_no_mismatch(stands, confidence, misread):
    assert misread_likely(stands, "000471300000", confidence) is misread


def _doubt_the_usual_readings(store: Store, confidence: float) -> None:
    """Mark the usual id of E1 and E2 as read with ``confidence`` (as a faded print reads)."""
    from sqlalchemy import update

    from forensics.store.schema import evidence

    with store.transaction() as conn:
        for eid in ("E1", "E2"):
            fields = dict(store.get(eid, conn)["fields"])
            fields["merchant_tax_id"] = {**fields["merchant_tax_id"], "confidence": confidence}
            conn.execute(update(evidence).where(evidence.c.evidence_id == eid).values(fields=fields))


@pytest.mark.parametrize("confidence,flagged", [(0.95, True), (0.77, False)])
def test_a_usual_id_only_doubtful_readings_carry_accuses_nobody(settings, blob_root, confidence, flagged):
    # two earlier uploads may share one misread (9 read for 0 twice): where the readings that
    # carry the usual id are doubtful, the upload that differs by a confusable digit may be
    # the one read right; the usual id read with confidence still accuses it
    store = _two_usual(settings, blob_root)
    _doubt_the_usual_readings(store, confidence)
    rec = _upload(store, settings, blob_root, "E3", "S3", "001234567899", "CS00014589", seed=4)
    assert rec["fields"]["merchant_tax_id"]["value"] == "001234567899"
    assert ("identifier_mismatch" in {f["code"] for f in rec["findings"]}) is flagged, rec["findings"]
