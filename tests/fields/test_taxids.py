import pytest

from forensics.fields.taxids import ean_valid, find_tax_ids, luhn_valid, validate_tax_id


@pytest.mark.parametrize(
    "value,scheme",
    [
        ("DE136695976", "EU_VAT"), ("FR40303265045", "EU_VAT"), ("IT00743110157", "EU_VAT"),
        ("ESA28015865", "EU_VAT"), ("NL004495445B01", "EU_VAT"), ("BE0428759497", "EU_VAT"),
        ("ATU13585627", "EU_VAT"), ("PL5260250274", "EU_VAT"), ("91350100M000100Y43", "CN_USCC"),
        ("GB980780684", "GB_VAT"), ("000418070253", "MY_GST"),
    ],
)
def test_valid(value, scheme):
    assert validate_tax_id(value, scheme)


@pytest.mark.parametrize("value,scheme", [("DE136695975", "EU_VAT"), ("91350100M000100Y44", "CN_USCC"), ("PL5260250275", "EU_VAT")])
def test_bad_check_digit(value, scheme):
    assert not validate_tax_id(value, scheme)


def test_find_with_schemes():
    found = find_tax_ids("USt-IdNr.: DE 136 695 976  GST REG NO: 000418070253 税号 91350100M000100Y43")
    assert [(t.scheme, t.value) for t in found] == [
        ("EU_VAT", "DE136695976"), ("MY_GST", "000418070253"), ("CN_USCC", "91350100M000100Y43")]


def test_a_bracket_or_a_garbled_label_end_before_the_gst_number_is_passed_over():
    for text in ("GST ID No: (002648730915", "GST REG NO: [000418070253", "GSTI se (002648730915"):
        assert [(m.value, m.scheme) for m in find_tax_ids(text)] == [(text[-12:], "MY_GST")]
    found = find_tax_ids("GSTI se (002648730915 002648730915 TAX INVOICE")
    assert [(m.value, m.raw) for m in found] == [("002648730915", "002648730915")]


def test_zeros_read_as_at_signs_or_letters_o_in_a_gst_number_are_zeros():
    found = find_tax_ids("(GST ID No :@9@418070203)")
    assert [(m.value, m.raw, m.scheme) for m in found] == [("090418070203", "@9@418070203", "MY_GST")]
    assert [m.value for m in find_tax_ids("GST No: OO1258093716")] == ["001258093716"]
    # mostly zeros read as symbols is no reading of a number; a GST rate is no id
    for text in ("GST ID: @@@@O@@12345", "GST @6% RM 15.40", "Total Incl. GST@6% RM 15.40"):
        assert find_tax_ids(text) == [], text


def test_lines_of_amounts_and_zero_led_numbers_are_no_unlabelled_vat_ids():
    # a tax summary row read as "SI" + digits, a Romanian-looking number with a leading zero
    for text in ("Si 0.00 12.50 0", "ee 15.00 0 15.00", "GR 1801 4 26.00", "TRX RO00123456"):
        assert find_tax_ids(text) == [], text
    # printed as ids they are still found
    assert [m.value for m in find_tax_ids("DE136695976")] == ["DE136695976"]
    assert [m.value for m in find_tax_ids("VAT: FR 28 613 076 348")] == ["FR28613076348"]


def test_ean_luhn():
    assert ean_valid("4006381333931") and not ean_valid("4006381333932")
    assert luhn_valid("79927398713") and not luhn_valid("79927398710")
