from forensics.fields import extract
from forensics.model import Document, PageReading, Reading, Word

RECEIPT = [
    "KEDAI MAJU ENTERPRISE SDN BHD",
    "(123456-X)",
    "NO. 12, JALAN MAWAR 3,",
    "81100 JOHOR BAHRU, JOHOR.",
    "GST ID: 000418070253",
    "TAX INVOICE",
    "Invoice No: CSO0123",
    "Date: 19/10/2018 20:49",
    "ITEM QTY PRICE AMOUNT",
    "PEN 2 1.50 3.00",
    "TOTAL SALES (INCL GST) 60.32",
    "ROUNDING ADJ -0.02",
    "TOTAL RM 60.30",
    "CASH RM 70.30",
    "CHANGE RM 10.00",
]


def reading_of(lines):
    words = []
    for i, text in enumerate(lines):
        x = 10
        for token in text.split():
            words.append(Word(token, (x, 20 * i, x + 10 * len(token), 20 * i + 15), 0.9, block=1, line=i))
            x += 10 * len(token) + 10
    return Reading((PageReading(1, "ocr", tuple(words), 800, 400),))


def test_receipt_fields():
    doc = Document("0" * 64, "image/jpeg", 1, ())
    ex = extract(reading_of(RECEIPT), doc)
    v = {k: f.value for k, f in ex.fields.items()}
    assert v["merchant"] == "KEDAI MAJU ENTERPRISE SDN BHD"
    assert v["merchant_address"] == "NO. 12, JALAN MAWAR 3, 81100 JOHOR BAHRU, JOHOR."
    assert v["date"] == "2018-10-19" and v["time"] == "20:49"
    assert v["total"] == "60.30" and v["currency"] == "MYR"
    assert v["serial"] == "CS00123" and ex.fields["serial"].raw == "CSO0123"
    assert v["merchant_tax_id"] == "000418070253" and ex.fields["merchant_tax_id"].extra["scheme"] == "MY_GST"
    assert v["payment_method"] == "cash" and v["document_type"] == "receipt"
    assert ex.fields["total"].box is not None and ex.fields["total"].page == 1
    assert "buyer" not in v


def test_absent_fields_are_absent():
    ex = extract(reading_of(["hello world"]), Document("0" * 64, "image/jpeg", 1, ()))
    assert "total" not in ex.fields and "date" not in ex.fields
