"""A fapiao's parties: the seller block is the merchant, the buyer block the buyer, read from
lines as chi_sim returns them (Chinese characters as separate words)."""

from __future__ import annotations

from fixtures.taxids import corrupt_check_digit, make_uscc
from forensics.fields import extract
from forensics.fields.layout import text_lines
from forensics.model import Document
from tests.text_readings import reading_of


def spaced(text: str) -> str:
    """Chinese characters as OCR returns them: one word each."""
    return " ".join(text)


def test_parties_of_a_fapiao():
    import random

    rng = random.Random(7)
    seller_id, buyer_id = make_uscc(rng), make_uscc(rng)
    lines = [
        spaced("发票代码") + " : 051011915894",
        spaced("浙江增值税普通发票") + " " + spaced("发票号码") + " : 49668502",
        spaced("开票日期") + " : 2019 " + spaced("年") + " 12 " + spaced("月") + " 19 " + spaced("日"),
        "购 | " + spaced("名称") + " : " + spaced("北京示例科技有限公司"),
        "买 | " + spaced("纳税人识别号") + " : " + buyer_id,
        "方 | " + spaced("地址、电话") + " :",
        spaced("合计") + " ¥121.76 ¥7.31",
        spaced("价税合计") + " ( " + spaced("小写") + " ) ¥129.07",
        "销 | 名 Hs : " + spaced("杭州示例商贸有限公司"),  # 称 misread
        "售 | " + spaced("纳税人识别号") + " : " + seller_id,
        "方 | " + spaced("地址、电话") + " : " + spaced("杭州市示例区示例路") + " 135 " + spaced("号") + " 0571-48638813",
    ]
    ex = extract(reading_of(lines), Document("0" * 64, "image/jpeg", 1, ()))
    v = {k: f.value for k, f in ex.fields.items()}
    assert v["document_type"] == "fapiao" and v["invoice_code"] == "051011915894" and v["serial"] == "49668502"
    assert v["merchant"] == "杭州示例商贸有限公司" and v["buyer"] == "北京示例科技有限公司"
    assert v["merchant_tax_id"] == seller_id and v["buyer_tax_id"] == buyer_id
    assert ex.fields["merchant_tax_id"].extra["valid"] is True
    assert v["merchant_address"] == "杭州市示例区示例路135号" and v["merchant_phone"] == "057148638813"
    assert v["date"] == "2019-12-19" and v["total"] == "129.07"
    assert v["subtotal"] == "121.76" and v["tax"] == "7.31"
    # the seller's id with a wrong check digit is the merchant's, and says so
    bad = corrupt_check_digit(seller_id, rng)
    ex = extract(reading_of([ln.replace(seller_id, bad) for ln in lines]), Document("0" * 64, "image/jpeg", 1, ()))
    assert ex.fields["merchant_tax_id"].value == bad and ex.fields["merchant_tax_id"].extra["valid"] is False


def test_chinese_words_are_joined_and_others_keep_their_spaces():
    lines = text_lines(reading_of([spaced("纳税人识别号") + " : 9144 ABC", "TOTAL 12.00 " + spaced("元"),
                                   "TOTAL 12.00 EUR"]))
    assert lines[0].text == "纳税人识别号 : 9144 ABC"
    assert lines[1].text == "TOTAL 12.00元"  # a number and its Chinese unit are written together
    assert lines[2].text == "TOTAL 12.00 EUR"
    # a span of the joined text still maps to its words
    start = lines[0].text.index("识别")
    assert [w.text for w in lines[0].span_words(start, start + 2)] == ["识", "别"]
