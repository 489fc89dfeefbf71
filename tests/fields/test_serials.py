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


@pytest.mark.parametrize(
    "line,value",
    [
        # label forms as printed and as Tesseract reads them on real receipt scans
        ("Cash Inv No, 8014F825", "8014F825"),
        ("Bil1#:V002-647199 Order#: 251619", "V002-647199"),
        ("Bi 11#:V002-647199", "V002-647199"),
        ("Bil V002--641244 Order#: 248447", "V002--641244"),
        ("Doc No. - CS00020455 Date: 31/03/2018", "CS00020455"),
        ("Doc No. ~ (CS00020455 Date", "CS00020455"),
        ("Doe No. : ©S00023505 Date: 02/01/2018", "CS00023505"),
        ("Doc No C$00023933 = Date: 24/01/2018", "CS00023933"),
        ("RECEIPT 4: (S00362817 DATE: 11/08/2017", "CS00362817"),
        ("RECEIPT #2 CSOOO42291 DATE: 04/12/2017", "CS00042291"),
        ("INV-No.: 963261 Cashier: Thandar", "963261"),
        ("Tax Invoice na. 5821/0402/00402", "5821/0402/00402"),
        ("TAX INVOICE NG : 286258 COUNTER :002", "286258"),
        ("INVOICE NO s 21735/102/T0419", "21735/102/T0419"),
        ("INVOICE NO > 17736/102/T0275", "17736/102/T0275"),
        ("St20 Ctrl 109658 Taxinv:83517", "83517"),
        ("Slip: 0000000012000251539", "0000000012000251539"),
        ("irans # : 372283", "372283"),
        ("BILL 27416 - 203 - 7395", "27416"),
        ("Tax Invoice na. 5821/0402 /00402", "5821/0402/00402"),
        # "#:" read as "is", "#" read as "H"
        ("RECEIPT is (SPO531318 gaits 15/06/2017", "CSP0531318"),
        ("RECEIPT H: CS00012345", "CS00012345"),
        # a letter prefix split off its number, whose "1" was read as a brace
        ("Invoice # : OR {8032802170347", "OR18032802170347"),
        ("INVOICE NO: INV 123456", "INV123456"),
    ],
)
def test_ocr_read_labels(line, value):
    m = find_serial(line)
    assert m is not None and m.value == value


@pytest.mark.parametrize(
    "line",
    ["TAX INVOICE", "Bill 4 pax 12.00", "Billing no: 5555", "Slip 2 of 3", "Doc fee 12.00",
     "Invoice No: 12/03/2018", "This receipt is valid for 30 days", "Receipt is 12 items"],
)
def test_labels_that_carry_no_serial(line):
    assert find_serial(line) is None
