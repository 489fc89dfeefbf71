import pytest

from forensics.fields.serials import find_invoice_code, find_serial, normalise_serial


@pytest.mark.parametrize(
    "raw,value",
    [("TDO1167104", "TD01167104"), ("CS00013", "CS00013"), ("INV-2O18-0042", "INV-2018-0042"), ("1234S67B", "12345678")],
)
def test_normalise(raw, value):
    assert normalise_serial(raw) == value


@pytest.mark.parametrize(
    "line,raw",
    [
        ("Invoice No: TDO1167104", "TDO1167104"),
        ("Rechnungsnummer: 2018-47", "2018-47"),
        ("N° de facture : F-2021-00042", "F-2021-00042"),
        ("发票号码: 01234567", "01234567"),
    ],
)
def test_labelled(line, raw):
    m = find_serial(line)
    assert m is not None and m.raw == raw


def test_no_label_no_serial():
    assert find_serial("THANK YOU 12345") is None


def test_invoice_code():
    assert find_invoice_code("发票代码：044031900111").value == "044031900111"
