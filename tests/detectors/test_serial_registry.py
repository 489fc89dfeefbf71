"""Serial registry: which registrations of one serial count as the same issuer's."""

from __future__ import annotations

import pytest

from forensics.detectors.serial_registry import (
    known_same_issuer,
    label_key,
    near,
    ocr_slip,
    plausibly_same_issuer,
    readings_agree,
    reg_conflict,
    serials_after_labels,
)
from forensics.pipeline import analyse
from forensics.store import Store
from tests.conftest import RECEIPT_LINES, simple_receipt


def analyse_two(settings) -> Store:  # noqa: ANN001
    """a.png from seller S1 as E1, then b.png from seller S2 as E2, into a fresh store."""
    store = Store(settings.database_url)
    for eid, seller, name in (("E1", "S1", "a.png"), ("E2", "S2", "b.png")):
        analyse({"evidence_id": eid, "seller_id": seller, "blob": name}, store, settings)
    return store


def test_issuer_keys_of_one_kind_must_be_alike():
    assert plausibly_same_issuer("name:KEDAIRUNCITMAJUJAYA", "name:KEDAIRUNCITMAJUJAVA")
    assert not plausibly_same_issuer("name:KEDAIRUNCITMAJUJAYA", "name:KEDAIALATTULIS")
    assert not plausibly_same_issuer("tax:001234567890", "tax:009876543210")


def test_a_tax_id_and_a_name_cannot_be_compared():
    # one upload's tax id was read, the other's was not: unknown, not different
    assert plausibly_same_issuer("tax:001234567890", "name:KEDAIRUNCITMAJUJAYA")
    assert plausibly_same_issuer(None, "name:KEDAIRUNCITMAJUJAYA")


def test_long_serial_reused_when_only_one_upload_shows_the_tax_id(settings, blob_root):
    simple_receipt(RECEIPT_LINES).save(blob_root / "a.png")
    # the same receipt number on another receipt of the shop whose GST line was not printed
    other = [ln.replace("33.81", "47.20") for ln in RECEIPT_LINES if not ln.startswith("GST REG")]
    simple_receipt(other, seed=5, width=760).save(blob_root / "b.png")
    store = analyse_two(settings)
    e1, e2 = store.get("E1"), store.get("E2")
    assert e1["fields"]["merchant_tax_id"]["value"] and "merchant_tax_id" not in e2["fields"]
    codes = {f["code"]: f for f in e2["findings"]}
    assert codes["serial_reuse"]["related"] == ["E1"], e2["findings"]


def test_scraps_of_names_identify_no_issuer():
    assert plausibly_same_issuer("name:WOE", "name:ROTISEGARKLSDNBHD")
    assert not plausibly_same_issuer("name:ROTISEGARBAKERY", "name:KEDAIALATTULISSHOP")


def test_short_serial_found_under_the_name_of_an_upload_without_the_tax_id(settings, blob_root):
    # a short number is matched only within one issuer: the older upload was registered under
    # its name (no GST line), the newer one shows the tax id and is looked up under both
    short = [ln.replace("CS00012345", "54321") for ln in RECEIPT_LINES]
    simple_receipt([ln for ln in short if not ln.startswith("GST REG")]).save(blob_root / "a.png")
    simple_receipt([ln.replace("33.81", "47.20") for ln in short], seed=5, width=760).save(
        blob_root / "b.png")
    store = analyse_two(settings)
    e1, e2 = store.get("E1"), store.get("E2")
    assert e1["fields"]["serial"]["value"] == e2["fields"]["serial"]["value"] == "54321"
    codes = {f["code"]: f for f in e2["findings"]}
    assert codes["serial_reuse"]["related"] == ["E1"], e2["findings"]
    assert "serial_conflict" in codes  # same issuer, same number, another total


def test_ocr_slips_are_letters_for_digits_or_one_extra_character():
    assert ocr_slip("9080064712", "S080064712")  # "$" (S) read for a 9
    assert ocr_slip("CS00362817", "CS003362817")  # one character read in extra
    assert ocr_slip("TD01167104", "TDO1167104")
    # two digits that differ: the next receipt of the shop, never a slip
    assert not ocr_slip("9080064712", "9080064713")
    assert not ocr_slip("CS00016755", "CS00016785")
    # the tail must agree; short numbers and short insertions are too easy to meet by chance
    assert not ocr_slip("S080064712", "9070058750")
    assert not ocr_slip("C1234567", "C12345567")  # shorter than INSERTION_MIN_LEN
    assert not ocr_slip("CS00362817", "CS00362817")  # equal is an exact match, not a slip
    assert not ocr_slip("SSOA064712", "9080064712")  # more than MAX_SLIPS positions


def _two_receipts(blob_root, first: str, second: str) -> None:
    lines = [ln for ln in RECEIPT_LINES if not ln.startswith("GST REG")]
    simple_receipt([ln.replace("CS00012345", first) for ln in lines]).save(blob_root / "a.png")
    simple_receipt([ln.replace("CS00012345", second).replace("33.81", "47.20") for ln in lines],
                   seed=5, width=760).save(blob_root / "b.png")


def test_a_serial_read_with_a_slip_on_one_upload_is_still_a_reuse(settings, blob_root):
    # what OCR made of "9080064712" on one of the two uploads
    _two_receipts(blob_root, "9080064712", "S080064712")
    store = analyse_two(settings)
    e1, e2 = store.get("E1"), store.get("E2")
    assert e1["fields"]["serial"]["value"] == "9080064712"
    assert e2["fields"]["serial"]["value"] == "S080064712"
    codes = {f["code"]: f for f in e2["findings"]}
    assert codes["serial_reuse"]["related"] == ["E1"], e2["findings"]
    assert codes["serial_reuse"]["severity"] == "high"
    assert "S080064712" in codes["serial_reuse"]["message"]
    assert "serial_conflict" not in codes  # a slip names a reuse, never a conflict
    assert "copied_by_later_upload" in {f["code"] for f in store.get("E1")["findings"]}


def test_the_next_receipt_of_the_shop_is_not_a_slip(settings, blob_root):
    _two_receipts(blob_root, "9080064712", "9080064713")
    store = analyse_two(settings)
    e2 = store.get("E2")
    assert e2["fields"]["serial"]["value"] == "9080064713"
    assert not {"serial_reuse", "serial_conflict"} & {f["code"] for f in e2["findings"]}


def test_near_serials_are_a_digit_or_two_apart_or_their_digits_are():
    assert near("CS00016755", "GS00016785")  # two edits
    assert near("F0R17120705140236", "OR17120805140236")  # digits two edits apart
    assert near("9080064712", "9080064713")  # the next receipt is near too: only a question
    assert not near("CS00016755", "CS00016755")
    assert not near("CS00016755", "CS00042977")
    assert not near("1234", "123456789")


def test_readings_agree_when_equal_one_slip_or_one_long_digit_run():
    assert readings_agree("CS00016755", "CS00016755")
    assert readings_agree("9080064712", "S080064712")  # a letter for a digit
    assert readings_agree("YR17120705140236", "F0R17120705140236")  # letters in front misread
    assert not readings_agree("YR17120705140236", "OR17120805140236")  # a digit differs
    assert not readings_agree("CS00012345", "INV00012345")  # another series of the shop
    assert not readings_agree("AB1234", "XY1234")  # a short run proves nothing
    assert not readings_agree("", "CS00016755")


def _receipt_with_serial(path, serial: str, *, total: str = "33.81", seed: int = 0,
                         width: int = 700) -> None:
    lines = [ln for ln in RECEIPT_LINES if not ln.startswith("GST REG")]
    simple_receipt([ln.replace("CS00012345", serial).replace("33.81", total) for ln in lines],
                   seed=seed, width=width).save(path)


@pytest.mark.parametrize("store_settings", ["settings", "pg_settings"])
def test_a_digit_misread_on_the_original_is_caught_by_reading_its_box_again(store_settings, blob_root, request):
    # E1's page reading gave CS00016785. To stand for a print that reads CS00016755 on a second
    # look, its file is replaced by one printing CS00016755 (same layout, same box) before E2.
    settings = request.getfixturevalue(store_settings)  # SQLite, then the real PostgreSQL
    _receipt_with_serial(blob_root / "a.png", "CS00016785")
    store = Store(settings.database_url)
    analyse({"evidence_id": "E1", "seller_id": "S1", "blob": "a.png"}, store, settings)
    assert store.get("E1")["fields"]["serial"]["value"] == "CS00016785"
    _receipt_with_serial(blob_root / "a.png", "CS00016755")
    _receipt_with_serial(blob_root / "b.png", "CS00016755", total="47.20", seed=5, width=760)
    analyse({"evidence_id": "E2", "seller_id": "S2", "blob": "b.png"}, store, settings)
    codes = {f["code"]: f for f in store.get("E2")["findings"]}
    assert codes["serial_reuse"]["related"] == ["E1"], store.get("E2")["findings"]
    assert "second reading" in codes["serial_reuse"]["message"]
    assert "CS00016785" in codes["serial_reuse"]["message"]
    assert "serial_conflict" not in codes
    assert "copied_by_later_upload" in {f["code"] for f in store.get("E1")["findings"]}


def test_the_shops_neighbouring_receipt_read_again_is_still_no_reuse(settings, blob_root):
    _receipt_with_serial(blob_root / "a.png", "CS00016785")
    _receipt_with_serial(blob_root / "b.png", "CS00016755", total="47.20", seed=5, width=760)
    store = analyse_two(settings)
    assert store.get("E2")["fields"]["serial"]["value"] == "CS00016755"
    assert not {"serial_reuse", "serial_conflict"} & {f["code"] for f in store.get("E2")["findings"]}


def test_a_near_serial_whose_file_is_gone_is_no_reuse_and_no_error(settings, blob_root):
    _receipt_with_serial(blob_root / "a.png", "CS00016785")
    store = Store(settings.database_url)
    analyse({"evidence_id": "E1", "seller_id": "S1", "blob": "a.png"}, store, settings)
    (blob_root / "a.png").unlink()
    _receipt_with_serial(blob_root / "b.png", "CS00016755", total="47.20", seed=5, width=760)
    analyse({"evidence_id": "E2", "seller_id": "S2", "blob": "b.png"}, store, settings)
    e2 = store.get("E2")
    assert e2["status"] == "analyzed"
    assert e2["checks"]["serial_registry"] == "done"
    assert "serial_reuse" not in {f["code"] for f in e2["findings"]}


def test_numbers_after_a_label_read_a_slip_or_two_away():
    labels = {label_key("CB#"), label_key("Inv No")}
    assert serials_after_labels("COBH: 58213 21/09/2017 10:20 AM", labels) == [("58213", "COBH:")]
    assert ("CS0012345", "Inv N0:") in serials_after_labels("Inv N0: CS0O12345", labels)
    assert serials_after_labels("CASH 58213", labels) == []  # three edits from "CB#"
    assert serials_after_labels("COBH: 12", labels) == []  # too short to be a serial


def _labelled_receipt(path, label_and_serial: str, *, name: str = "KEDAI RUNCIT MAJU JAYA",
                      total: str = "33.81", seed: int = 0, width: int = 700) -> None:
    lines = [ln for ln in RECEIPT_LINES if not ln.startswith("GST REG")]
    simple_receipt([ln.replace("RECEIPT NO: CS00012345", label_and_serial)
                    .replace("KEDAI RUNCIT MAJU JAYA", name).replace("33.81", total) for ln in lines],
                   seed=seed, width=width).save(path)


def test_a_serial_under_a_misread_label_is_found_by_the_label_the_shop_prints(settings, blob_root):
    # "COBH:" is what OCR made of the label "CB#:" that the shop prints on every receipt
    _labelled_receipt(blob_root / "a.png", "CB#: 58213")
    _labelled_receipt(blob_root / "b.png", "COBH: 58213", total="47.20", seed=5, width=760)
    store = analyse_two(settings)
    assert store.get("E1")["fields"]["serial"]["value"] == "58213"
    e2 = store.get("E2")
    assert "serial" not in e2["fields"]  # extraction knows no label "COBH"
    codes = {f["code"]: f for f in e2["findings"]}
    assert codes["serial_reuse"]["related"] == ["E1"], e2["findings"]
    assert "COBH" in codes["serial_reuse"]["message"]
    assert "copied_by_later_upload" in {f["code"] for f in store.get("E1")["findings"]}


def test_a_misread_label_before_another_number_or_of_another_shop_is_no_reuse(settings, blob_root):
    _labelled_receipt(blob_root / "a.png", "CB#: 58213")
    _labelled_receipt(blob_root / "b.png", "COBH: 69157", total="47.20", seed=5, width=760)
    store = analyse_two(settings)
    assert "serial_reuse" not in {f["code"] for f in store.get("E2")["findings"]}
    _labelled_receipt(blob_root / "c.png", "COBH: 58213", name="SYARIKAT LAIN ENTERPRISE",
                      total="47.20", seed=5, width=760)
    analyse({"evidence_id": "E3", "seller_id": "S3", "blob": "c.png"}, store, settings)
    assert "serial_reuse" not in {f["code"] for f in store.get("E3")["findings"]}


def test_registration_numbers_that_differ_are_two_issuers():
    a, b = "reg:MY_ROC:2204197", "reg:MY_ROC:645128"
    assert not plausibly_same_issuer("name:KEDAIRUNCITMAJUJAYA", "name:KEDAIRUNCITMAJUJAVA", reg_a=a, reg_b=b)
    assert plausibly_same_issuer("name:KEDAIRUNCITMAJUJAYA", "name:KEDAIRUNCITMAJUJAVA", reg_a=a, reg_b=None)
    # one or two digits misread are not another company
    assert not reg_conflict("reg:MY_ROC:5531208", "reg:MY_ROC:8531208")
    assert not reg_conflict("reg:MY_ROC:248517", "reg:MY_ROC:238117")
    assert reg_conflict("reg:MY_ROC:248517", "reg:DE_HR:HRB248517")


def _row(issuer, name, reg):
    return {"issuer_key": issuer, "name_key": name, "reg_key": reg}


def test_any_of_the_three_keys_agreeing_is_the_same_issuer():
    reg = "reg:MY_ROC:2204197"
    me = _row("name:308LEVEL", "name:308LEVEL", reg)
    assert known_same_issuer(me, _row("name:KEDAISIHATDANCANTIKSDNBHD", "name:KEDAISIHATDANCANTIKSDNBHD", reg))
    assert known_same_issuer(me, _row("tax:000765432109", "name:308LEVEL", None))
    assert known_same_issuer(me, {"issuer_key": "name:308LEVEL"})  # registered before name keys were kept
    assert not known_same_issuer(me, _row("name:OTHERSHOP", "name:OTHERSHOP", None))
    # a name that agrees does not outweigh registration numbers that differ; a tax id does
    assert not known_same_issuer(me, _row("name:308LEVEL", "name:308LEVEL", "reg:MY_ROC:645128"))
    mine = _row("tax:000765432109", "name:308LEVEL", reg)
    assert known_same_issuer(mine, _row("tax:000765432109", "name:X", "reg:MY_ROC:645128"))


def _two_shops(blob_root, reg_a: str, reg_b: str) -> None:
    # one shop's two receipts whose names were read (or printed) differently, one short serial
    body = [ln.replace("CS00012345", "54321") for ln in RECEIPT_LINES[1:] if not ln.startswith("GST REG")]
    simple_receipt(["KEDAI RUNCIT MAJU JAYA", f"Company Reg No: {reg_a}", *body]).save(blob_root / "a.png")
    simple_receipt(["SERBA NIAGA ENTERPRISE", f"Company Reg No: {reg_b}", *[ln.replace("33.81", "47.20") for ln in body]],
                   seed=5, width=760).save(blob_root / "b.png")


def test_short_serial_reused_under_two_names_with_one_registration_number(settings, blob_root):
    _two_shops(blob_root, "913462-U", "0913462-U")
    store = analyse_two(settings)
    e1, e2 = store.get("E1"), store.get("E2")
    assert e1["fields"]["merchant"]["value"] != e2["fields"]["merchant"]["value"]
    assert e1["fields"]["merchant_reg_no"]["value"] == e2["fields"]["merchant_reg_no"]["value"] == "913462U"
    assert e1["fields"]["serial"]["value"] == e2["fields"]["serial"]["value"] == "54321"
    codes = {f["code"]: f for f in e2["findings"]}
    assert codes["serial_reuse"]["related"] == ["E1"], e2["findings"]


def test_short_serial_of_two_registration_numbers_is_no_reuse(settings, blob_root):
    _two_shops(blob_root, "913462-U", "645128-M")
    store = analyse_two(settings)
    e2 = store.get("E2")
    assert e2["fields"]["merchant_reg_no"]["value"] == "645128M"
    assert not {"serial_reuse", "serial_conflict"} & {f["code"] for f in e2["findings"]}


def test_long_serial_of_one_name_but_two_registration_numbers_is_no_reuse(settings, blob_root):
    # two companies of one name (or one misread as the other): their numbers tell them apart
    lines = [ln for ln in RECEIPT_LINES if not ln.startswith("GST REG")]
    simple_receipt([lines[0], "Company Reg No: 913462-U", *lines[1:]]).save(blob_root / "a.png")
    simple_receipt([lines[0], "Company Reg No: 645128-M", *[ln.replace("33.81", "47.20") for ln in lines[1:]]],
                   seed=5, width=760).save(blob_root / "b.png")
    store = analyse_two(settings)
    e1, e2 = store.get("E1"), store.get("E2")
    assert e1["fields"]["serial"]["value"] == e2["fields"]["serial"]["value"] == "CS00012345"
    assert e1["fields"]["merchant"]["value"] == e2["fields"]["merchant"]["value"]
    assert not {"serial_reuse", "serial_conflict"} & {f["code"] for f in e2["findings"]}


def test_the_telephone_number_agreeing_is_the_same_issuer():
    me = {**_row("name:SEBUTIR", "name:SEBUTIR", None), "phone_key": "tel:126651793"}
    assert known_same_issuer(me, {**_row("name:KEDAICONTOH", "name:KEDAICONTOH", None), "phone_key": "tel:126651793"})
    assert not known_same_issuer(me, {**_row("name:KEDAICONTOH", "name:KEDAICONTOH", None), "phone_key": "tel:128463175"})
    # registration numbers that differ outweigh a shared telephone (a franchise's hotline)
    mine = {**me, "reg_key": "reg:MY_ROC:913462"}
    assert not known_same_issuer(mine, {**_row("name:X", "name:X", "reg:MY_ROC:645128"), "phone_key": "tel:126651793"})


def _phone_shops(blob_root, phone_b: str) -> None:
    # one shop's two receipts whose names were read differently, no registration number or tax
    # id, one short serial; the shop's telephone printed under its name
    body = [ln.replace("CS00012345", "54321") for ln in RECEIPT_LINES[1:] if not ln.startswith("GST REG")]
    simple_receipt(["KEDAI RUNCIT MAJU JAYA", "TEL: 012-665 1793", *body]).save(blob_root / "a.png")
    simple_receipt(["SERBA NIAGA ENTERPRISE", f"TEL: {phone_b}", *[ln.replace("33.81", "47.20") for ln in body]],
                   seed=5, width=760).save(blob_root / "b.png")


def test_short_serial_reused_under_two_names_with_one_telephone_number(settings, blob_root):
    _phone_shops(blob_root, "+60 12-665 1793")
    store = analyse_two(settings)
    e1, e2 = store.get("E1"), store.get("E2")
    assert e1["fields"]["merchant_phone"]["value"] == "0126651793"
    assert e2["fields"]["merchant_phone"]["value"] == "60126651793"
    codes = {f["code"]: f for f in e2["findings"]}
    assert codes["serial_reuse"]["related"] == ["E1"], e2["findings"]


def test_short_serial_of_two_telephone_numbers_and_names_is_no_reuse(settings, blob_root):
    _phone_shops(blob_root, "03-7865 4321")
    store = analyse_two(settings)
    assert not {"serial_reuse", "serial_conflict"} & {f["code"] for f in store.get("E2")["findings"]}
