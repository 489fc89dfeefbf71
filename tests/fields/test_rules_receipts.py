"""Receipt rules for noisy OCR: merchant head, totals by label meaning, spelling, date order."""

from __future__ import annotations

import pytest

from forensics.fields import extract
from forensics.fields.dates import date_order, find_dates
from forensics.fields.layout import text_lines
from forensics.fields.spelling import correct_address, correct_name, correct_word
from forensics.fields.totals import find_totals
from forensics.model import Document
from tests.text_readings import merchant, reading_of, total

# --------------------------------------------------------------------------- merchant


def test_name_split_over_two_lines_is_joined():
    name, address = merchant([
        "KEDAI RUNCIT SEGAR HARI",
        "MAKMUR SDN BHD",
        "(123456-X)",
        "NO 5, JALAN MAWAR 2,",
        "43000 KAJANG, SELANGOR",
        "TEL: 03-1234 5678",
    ])
    assert name == "KEDAI RUNCIT SEGAR HARI MAKMUR SDN BHD"
    assert address == "NO 5, JALAN MAWAR 2, 43000 KAJANG, SELANGOR"


def test_bracketed_branch_continues_the_name_and_keeps_its_bracket():
    name, _ = merchant(["PASAR BESAR ANEKA", "(KAJANG) SDN BHD", "(681573-W)", "NO 24, JALAN PUSAT 4,", "43000 KAJANG"])
    assert name == "PASAR BESAR ANEKA (KAJANG) SDN BHD"


def test_registration_line_between_name_and_address_is_skipped():
    name, address = merchant([
        "MR. ABC (DEMO) SDN BHD",
        "(CO Reg :638215-W)",
        "LOT 1851-A & 1851-B,JALAN KPB 6,",
        "KAWASAN PERINDUSTRIAN BALAKONG,",
        "43300 SERI KEMBANGAN, SELANGOR",
        "(GST ID No :000681429357)",
    ])
    assert name == "MR. ABC (DEMO) SDN BHD"
    assert address == "LOT 1851-A & 1851-B,JALAN KPB 6, KAWASAN PERINDUSTRIAN BALAKONG, 43300 SERI KEMBANGAN, SELANGOR"


def test_handwriting_and_numbers_above_the_name_are_skipped():
    name, _ = merchant(["tan woon yann", "31803033", "GIFT & HOME DECO", "27, JALAN DEDAP 13,", "81100 JOHOR BAHRU"])
    assert name == "GIFT & HOME DECO"


def test_contact_line_above_the_name_does_not_end_the_header():
    name, address = merchant([
        "Subway#53321-0 Phone 03-76543210",
        "URBAN PLAN SDN BHD (528061-M),",
        "A-G-06, DATARAN CONTOH,",
        "47301 PETALING JAYA, SELANGOR",
        "TAX INVOICE",
    ])
    assert name == "URBAN PLAN SDN BHD"
    assert address == "A-G-06, DATARAN CONTOH, 47301 PETALING JAYA, SELANGOR"


def test_mixed_case_name_without_legal_form():
    name, _ = merchant(["Noodle Corner BMC", "NO.19 & 21", "JALAN TEMENGGUNG 23/9", "43200 CHERAS", "TAX INVOICE"])
    assert name == "Noodle Corner BMC"


def test_registration_number_after_the_legal_form_ends_the_name():
    name, _ = merchant(["TRI JAYA SDN BHD (615424-H) MART SRI MUDA", "4-20, JALAN RIA 25/62", "40400 SHAH ALAM"])
    assert name == "TRI JAYA SDN BHD"
    name, _ = merchant(["Bintang Example Sdn Bhd (Co. Na:31265-T)", "27, Jalan Sultan Ismail,", "50250 Kuala Lumpur."])
    assert name == "Bintang Example Sdn Bhd"
    # "SB" for Sdn Bhd, a registration glued to it and a former name after it
    name, _ = merchant(["KEDAI CONTOH RETAIL SB(417382-X) FKA CONTOH STORES SB", "LOT 2, JALAN CONTOH", "47301 PETALING JAYA"])
    assert name == "KEDAI CONTOH RETAIL SB"


def test_owner_named_after_by_is_the_business():
    name, _ = merchant(["OLD TOWN OWN BY: CHEF KITCHEN SDN BHD", "NO 3, JALAN SS2/1", "47300 PETALING JAYA"])
    assert name == "CHEF KITCHEN SDN BHD"


def test_a_name_broken_over_three_lines_is_joined():
    name, address = merchant(["KEDAI CONTOH HARDWARE", "ENTERPRISE (SERI", "CONTOH) SDN BHD", "914362-X",
                              "NO. 17, JALAN CONTOH 2, 40170 SHAH ALAM"])
    assert name == "KEDAI CONTOH HARDWARE ENTERPRISE (SERI CONTOH) SDN BHD"
    assert address == "NO. 17, JALAN CONTOH 2, 40170 SHAH ALAM"
    # a scrap without a word above the name is not part of it
    name, _ = merchant(["BY J", "MR. A.B.C. (M) SDN BHD", "LOT 3, JALAN CONTOH 6, 43300 SERI CONTOH"])
    assert name == "MR. A.B.C. (M) SDN BHD"


def test_registration_phone_and_lot_lines_around_an_address():
    # a registration in brackets opens no address; a bare telephone number closes it
    _, address = merchant(["PASARAYA CONTOH SDN BHD", "BR NO. :(235736-H)", "NO 19-G JALAN CONTOH 4,",
                           "MEDAN NIAGA CONTOH", "016-7302918", "GST NO.:"])
    assert address == "NO 19-G JALAN CONTOH 4, MEDAN NIAGA CONTOH"
    _, address = merchant(["KEDAI CONTOH SDN BHD", "(NO. 284619-M)", "LEVEL G2, BLOCK D1,", "50480 KUALA LUMPUR."])
    assert address == "LEVEL G2, BLOCK D1, 50480 KUALA LUMPUR."
    # a land lot number ("P.T. 33198") is not a postcode: the address goes on to the real one
    _, address = merchant(["KEDAI CONTOH S/B (627148-X)", "LOT P.T. 33198, BATU 4", "JALAN CONTOH, MUKIM CONTOH",
                           "42100 KLANG, SELANGOR", "GST ID. NO : 000592836104"])
    assert address == "LOT P.T. 33198, BATU 4 JALAN CONTOH, MUKIM CONTOH 42100 KLANG, SELANGOR"


def test_a_street_line_without_a_number_is_not_skipped_as_a_branch():
    _, address = merchant(["KEDAI CONTOH SUBANG AIRPORT", "JALAN LAPANGAN CONTOH", "47200 SUBANG", "SELANGOR"])
    assert address == "JALAN LAPANGAN CONTOH 47200 SUBANG SELANGOR"
    _, address = merchant(["KEDAI CONTOH SDN BHD", "(JALAN KLANG LAMA)", "LOT 29, JLN CONTOH 8,", "58000 KUALA LUMPUR."])
    assert address == "LOT 29, JLN CONTOH 8, 58000 KUALA LUMPUR."


def test_branch_line_between_name_and_street_is_skipped():
    _, address = merchant(["HANDEL CONTOH SDN BHD", "(1185728K)", "STORE Cheras", "No 2A Jalan Cochrane", "55100 KUALA LUMPUR"])
    assert address == "No 2A Jalan Cochrane 55100 KUALA LUMPUR"


def test_a_postcode_closing_its_line_takes_the_town_line_under_it():
    _, address = merchant(["KEDAI CONTOH SDN BHD", "NO 5, JALAN CONTOH 3, BANDAR CONTOH, 47301",
                           "PETALING JAYA, SELANGOR DARUL EHSAN.", "TEL: 03-1234 5678"])
    assert address == "NO 5, JALAN CONTOH 3, BANDAR CONTOH, 47301 PETALING JAYA, SELANGOR DARUL EHSAN."
    # with its town on the postcode's line, a long line under it is not taken
    _, address = merchant(["KEDAI CONTOH SDN BHD", "NO 5, JALAN CONTOH 3, 47301 PETALING JAYA",
                           "SELAMAT DATANG KE KEDAI KAMI", "TEL: 03-1234 5678"])
    assert address == "NO 5, JALAN CONTOH 3, 47301 PETALING JAYA"


# --------------------------------------------------------------------------- totals


def test_total_after_rounding_found_by_cash_minus_change_when_its_label_is_lost():
    assert total(["TOTAL RM 60.01", "ROUNDING ADJ 0.01", "RH 60.30 J", "CASH RM 70.30", "CHANGE RM 10.00"]) == "60.30"


def test_ocr_slipped_total_labels():
    assert total(["SubTotal: 445.00", "Tatal Inclusive GST: 165.00"]) == "165.00"
    assert total(["iotel After Rounding 85.10", "CASH 100.10", "CHANGE 15.00"]) == "85.10"
    assert total(["Gross Amt 47.80", "GST (6%) 2.86", "Net Amt : 53.55"]) == "53.55"


def test_split_decimal_point_after_a_total_label():
    assert total(["Sub Total : RM 68. 87", "TOTAL RM 73. 00"]) == "73.00"
    assert total(["Total incl. GST 6 00"]) == "6.00"


def test_a_date_is_not_an_amount():
    assert total(["Der Betrag in Höhe von EUR 529,87 wird am 20.03.2014 abgebucht"]) != "20.03"


def test_german_gross_total_beats_open_amount_and_net():
    lines = [
        "Rechnungssumme Netto (exkl. USt.) 193,83",
        "Summe Umsatzsteuer 21,31",
        "Rechnungssumme Brutto (inkl. USt.) 215,14",
        "Bereits bezahlt 50,00",
        "Offener Betrag 165,14",
    ]
    found = find_totals(text_lines(reading_of(lines)), decimal_comma=True)
    assert str(found["total"][1].value) == "215.14"


def test_due_payable_beats_net_total():
    assert total(["Net total: 496.00 €", "VAT total: 75.04 €", "Due payable: 571.04 €"]) == "571.04"


def test_credit_note_total_may_be_negative():
    found = find_totals(text_lines(reading_of(["Total HT -218,48 €", "Total TTC -233,47 €"])), decimal_comma=True)
    assert str(found["total"][1].value) == "-233.47"


# --------------------------------------------------------------------------- spelling


@pytest.mark.parametrize(
    "raw,fixed",
    [
        ("SINAR CAHAYA INTERNATIONAL SON BHD", "SINAR CAHAYA INTERNATIONAL SDN BHD"),
        ("ACME INTERNATIGNAL SDN BHD", "ACME INTERNATIONAL SDN BHD"),
        ("Bintang Realties Sdn Bhd", "Bintang Realties Sdn Bhd"),
        ("MAJU RESTAURANTS SDN BHD", "MAJU RESTAURANTS SDN BHD"),
        # BHD with its H garbled, after a read SDN
        ("KILANG ROTI CONTOH (KL) SDN BELD", "KILANG ROTI CONTOH (KL) SDN BHD"),
        ("KEDAI CONTOH SDN BITD", "KEDAI CONTOH SDN BHD"),
        ("Kedai Contoh Sdn Bha", "Kedai Contoh Sdn Bhd"),
        ("KEDAI CONTOH SDN BD", "KEDAI CONTOH SDN BHD"),
        ("CONTOH QUARTERS SUN BHD", "CONTOH QUARTERS SDN BHD"),
        ("CONTOH RETAIL SBN BHD", "CONTOH RETAIL SDN BHD"),
        ("SUN TRADING", "SUN TRADING"),
        ("MR, A.B.C. (Mj SDN BHD", "MR. A.B.C. (M) SDN BHD"),
        ("BED AND BATH TRADING", "BED AND BATH TRADING"),  # no SDN before it: a word
        # S/B with its S read as 5 or $; braces for brackets; a yen sign for a Y
        ("KEDAI CONTOH 5/B", "KEDAI CONTOH S/B"),
        ("KEDAI CONTOH $/B", "KEDAI CONTOH S/B"),
        ("CONTOH CO. {M) BHD", "CONTOH CO. (M) BHD"),
        ("A.B.¥. (M) SDN BHD", "A.B.Y. (M) SDN BHD"),
        # a digit between dotted initials is the letter it looks like; other digits stay
        ("MR. A.1.Z. (M) SDN BHD", "MR. A.I.Z. (M) SDN BHD"),
        ("K.0.K. TRADING", "K.O.K. TRADING"),
        ("No. 1.2 PLAZA", "No. 1.2 PLAZA"),
        # trade words of a name with a letter slipped
        ("CONTOH PHARNACY (KL) SDN BHD", "CONTOH PHARMACY (KL) SDN BHD"),
        ("CONTOH HARDWAFE SDN BHD", "CONTOH HARDWARE SDN BHD"),
    ],
)
def test_correct_name(raw: str, fixed: str):
    assert correct_name(raw) == fixed


def test_correct_address():
    assert correct_address("12, Jalan Tampoi 7/4,Kawasan Petindustrian") == "12, Jalan Tampoi 7/4,Kawasan Perindustrian"
    assert correct_address("425, JALAN PAHANG, S3000 KUALA LUMPUR.") == "425, JALAN PAHANG, 53000 KUALA LUMPUR."
    assert correct_address("MEDAN NIAGA DAMA! SG BES! 57000 KL") == "MEDAN NIAGA DAMAI SG BESI 57000 KL"
    assert correct_address("Jalan $S21/39,47400") == "Jalan SS21/39,47400"
    assert correct_address("Lot 3, Jalan’Contoh 23/1, 40300 Shah Alam :") == "Lot 3, Jalan Contoh 23/1, 40300 Shah Alam"
    assert correct_address("NO 24, JALAN CONTOH 4,") == "NO 24, JALAN CONTOH 4,"
    assert correct_address("KEDAI O’REILLY, JALAN CONTOH") == "KEDAI O’REILLY, JALAN CONTOH"
    # a speck after the town that follows the postcode goes; a house number before it stays
    assert correct_address("NO 3, JALAN CONTOH, 40170 SETIA ALAM 3") == "NO 3, JALAN CONTOH, 40170 SETIA ALAM"
    assert correct_address("43300 SERI CONTOH, SELANGOR .") == "43300 SERI CONTOH, SELANGOR"
    assert correct_address("JALAN CONTOH 3") == "JALAN CONTOH 3"
    # a place name one letter off a vocabulary word is not that word
    assert correct_address("NO 14 JALAN PERMAS 4/3") == "NO 14 JALAN PERMAS 4/3"


def test_correct_word_leaves_real_and_ambiguous_words():
    assert correct_word("LAND") == "LAND"  # too short to correct
    assert correct_word("SERVICES") == "SERVICES"
    assert correct_word("XYZZYQ") == "XYZZYQ"
    assert correct_word("Selangar") == "Selangor"


# --------------------------------------------------------------------------- dates


def test_date_order_from_unambiguous_dates():
    assert date_order(["Invoice Date 11/03/2017", "Paid 11/17/2017"]) == "mdy"
    assert date_order(["19/10/2018", "01/02/2018"]) == "dmy"
    assert date_order(["01/02/2018"]) is None


def test_month_first_document_reads_its_ambiguous_issue_date_month_first():
    doc = Document("0" * 64, "application/pdf", 1, ())
    lines = ["Invoice FA-2017-0008", "Invoice Date 11/03/2017", "SEPA Wire transfer 11/17/2017 623.00 €"]
    ex = extract(reading_of(lines), doc)
    assert ex.fields["date"].value == "2017-11-03"
    assert ex.fields["serial"].value == "FA-2017-0008"
    assert find_dates("11/03/2017")[0].iso == "2017-03-11"  # alone, day first stays the default


def test_labelled_line_under_a_total_without_amount_is_not_the_total():
    lines = ["Total 8.70", "Round Adj 0.00", "Final Total = SSO", "CASH 10.00", "CHANGE 1.30"]
    assert total(lines) == "8.70"


def test_time_printed_with_dots_is_not_a_date():
    found = find_dates("Date 06/01/18 12.17.26 PM")
    assert [d.iso for d in found] == ["2018-01-06"]
    assert date_order(["Date 06/01/18 12.17.26 PM"]) is None


def test_rounded_total_on_the_rounding_line_wins():
    lines = ["Total Sales (Inclusive GST) RM 181.98", "Rounding Adjustment RM 0.02", "Rounding RM 182.00", "CREDIT RM 182.00"]
    assert total(lines) == "182.00"


def test_tax_summary_table_totals_are_not_the_receipt_total():
    lines = ["Total Sales (Excluding GST) : 5.00", "Total Sales (Inclusive of GST) : 5.30", "CASH : 5.30",
             "Change : 0.00", "GST Summary Amount(RM) Tax(RM)", "Total : 5.00 0.30"]
    assert total(lines) == "5.30"


def test_lot_number_is_not_a_postcode_and_scraps_are_trimmed():
    name, address = merchant([
        "LEONG SHELL SERVICE STATION '",
        "Company No :367739-W",
        "LOT 26151 BANDAR SG LONG,",
        "11 1/4 MILES CHERAS,",
        "43000 KAJANG, SELANGOR &",
        "Telephone : 03-91827364",
    ])
    assert name == "LEONG SHELL SERVICE STATION"
    assert address == "LOT 26151 BANDAR SG LONG, 11 1/4 MILES CHERAS, 43000 KAJANG, SELANGOR"


def test_garbled_registration_number_is_not_an_address():
    _, address = merchant(["KEDAI CONTOH SDN BHD", "(0005£83085-K)", "LOT 276 JALAN BANTING", "43800 DENGKIL, SELANGOR"])
    assert address == "LOT 276 JALAN BANTING 43800 DENGKIL, SELANGOR"


def test_bare_rounded_amount_under_the_rounding_line():
    assert total(["TOTAL RM 60.31", "ROUNDING ADJ 0.01", "RH 60.30 J", "Thank You !"]) == "60.30"
