"""Receipt rules for OCR slips in totals, merchant heads and dates.

Some lines are adapted from OCR readings of SROIE receipts (CC BY 4.0), names and identifiers
replaced by invented ones: see tests/README.md."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from forensics.fields import extract
from forensics.fields.amounts import find_amounts
from forensics.fields.merchant import BUSINESS_WORDS
from tests.text_readings import merchant, reading_of, total

# --------------------------------------------------------------------------- totals: labels


def test_slipped_total_after_rounding_is_not_taken_for_the_rounding_line():
    lines = ["Rounding Adjustment 0.00", "iotel After Rounding BSE 85.10", "* Your Totai Savings 6.00"]
    assert total(lines) == "85.10"


def test_more_slipped_total_words():
    assert total(["Tetal Sales (Inclusive 957) RN 72.74", "CASH 80.00"]) == "72.74"
    assert total(["Nett Jota! RH367.10"]) == "367.10"
    assert total(["Grand Tota] 12.60"]) == "12.60"


def test_savings_with_a_slipped_total_word_are_not_the_total():
    assert total(["TOTAL 20.00", "Your Totai Savings 26.00"]) == "20.00"


def test_total_rounded_beats_a_tax_statement_under_it():
    lines = ["TakeOut Total (incl GST) 18.90", "Total Rounded 18.90", "Cash Tendered 50.00",
             "Change 31.10", "TOTAL INCLUDES 6% GST 1,07"]
    assert total(lines) == "18.90"


def test_total_after_adjustment_beats_the_total_before_it():
    assert total(["Sub-total 31.00", "Total Sales Incl GST 31.60", "Total After Adj Incl GST 31.00"]) == "31.00"


def test_balance_due_is_the_amount_due_not_the_change():
    lines = ["Total : 216.38", "Rounding Adj: -0.01", "Balance Due: 16.30", "Payment (Cash) : 17.00",
             "Change (Cash) : 0.70"]
    assert total(lines) == "16.30"


def test_a_rate_after_the_label_is_not_the_amount():
    assert total(["Total Sales inclusive GST @0.00%: 12.80"]) == "12.80"
    assert total(["Total Sales inclusive GST @0.00%: ~~ ~~"]) is None
    assert total(["TOTAL 63.35%"]) == "63.35"  # a smudge after an amount, no rate label


# --------------------------------------------------------------------------- totals: OCR losses


def test_lost_decimal_point_is_read_when_the_amount_is_printed_elsewhere():
    assert total(["SUB TOTAL 10.00", "GRAND TOTAL 1000", "CASH 20.00"]) == "10.00"
    assert total(["Total Sales inclusive GST @0.00%: ~ ~~ 3045", "SR 0.00 30.45 00"]) == "30.45"


def test_lost_decimal_point_is_not_guessed_without_confirmation():
    assert total(["GRAND TOTAL 1000"]) is None


def test_negative_change_still_gives_the_amount_paid():
    lines = ["SUBTOTAL: 43.90", "Total (Excluding GST) 41.42", "CASH 100.00", "CASH CHANGE : - 56.10"]
    assert total(lines) == "43.90"


def test_payment_line_without_amount_does_not_hide_the_next_one():
    lines = ["Paid Time 14/01/2018 13:51", "Parking Time 1:45", "Amount [tbl & pa.77", "Paid Bow PM4.00",
             "Change RMO.00"]
    assert total(lines) == "4.00"


def test_total_from_subtotal_and_tax_when_its_label_is_lost():
    lines = ["Sub Total : RM 68. 87", "Service Charge ; RM 0. 00", "GST/TAX 6% ; RM 4.13", "AKO 8 RM 73. 00",
             "CHANGE: RM 0.00"]
    assert total(lines) == "73.00"


def test_total_that_is_not_subtotal_plus_tax_yields_to_the_line_that_is():
    lines = ["SUB-TOTAL 74.04", "DISC 0.00", "GST 4.04", "ROUNDING 0.00", "TOTAL 728.10", "DEBIT CARD 78.10"]
    assert total(lines) == "78.10"


def test_total_that_is_subtotal_plus_tax_stays():
    lines = ["SUB-TOTAL 74.04", "GST 4.04", "TOTAL 78.10", "CASH 100.00", "CHANGE 21.90"]
    assert total(lines) == "78.10"


def test_last_subtotal_after_the_tax_line_is_the_total_when_none_is_labelled():
    lines = ["SERV. CHG. 10% RM8.21", "GST 6% RM5.45", "SUBTOTAL RM96. 20", "CASH RM1OU. 00"]
    assert total(lines) == "96.20"
    assert total(["SUBTOTAL 96.20", "CASH 100.00"]) is None  # before any tax line: not the total


def test_an_amount_and_its_tax_summed_on_a_later_line_make_that_line_the_total():
    lines = ["Gross Amount : 40.00", "Total GST Amt : 2.40", "Sub Total : 42.40", "Total (RM) (aesa0)",
             "Amount Paid : 47-40", "Amount Change : 0.00"]
    assert total(lines) == "42.40"
    # a later amount that is not the sum is not taken for it
    assert total(["Gross Amount : 40.00", "GST : 2.40", "Deposit : 50.00"]) == "40.00"


def test_an_exact_payment_is_the_total_when_no_total_line_was_read():
    lines = ["Slice Cake 1 RM12.60", "Cheese Slice 1 RM13.50", "(Bill Inclusive of 6% GST : RM1.47)",
             "Cash RM26.10"]
    assert total(lines) == "26.10"
    # with change given, what was paid is not what was due
    assert total(["Slice Cake 1 RM12.60", "Cash RM20.00", "Change RM7.40"]) == "12.60"


def test_a_subtotal_paid_exactly_or_with_change_is_the_total_when_no_total_line_was_read():
    assert total(["BUN RM4.90", "ROLL RM8.60", "SUBTOTAL RM13.50", "CASH RM13.50"]) == "13.50"
    assert total(["BUN 4.90", "ROLL 8.60", "SUBTOTAL 13.50", "CASH 20.00", "CHANGE 6.50"]) == "13.50"
    # paid otherwise than the subtotal: the subtotal is not taken for the total
    assert total(["BUN 4.90", "ROLL 8.60", "SUBTOTAL 13.50", "CASH 20.00", "CHANGE 5.69"]) != "13.50"


def test_the_tax_a_total_includes_is_not_the_total():
    lines = ["Qty 8 19.20", "Due 19.20", "(Total Included GST @ 6% 1.09)"]
    assert total(lines) != "1.09"


def test_a_total_line_naming_its_tax_is_not_the_tax():
    lines = ["Item(s) : 4 Qty(s) : 5", "Total Incl. GST@6% RM 15.40", "CASH RM 15.40",
             "GST @6% included in total RM 0.87"]
    fields = extract(reading_of(lines), None).fields
    assert fields["total"].value == "15.40" and fields["tax"].value == "0.87"


def test_zero_read_as_letter_after_currency_mark():
    (m,) = find_amounts("Change RMO.00")
    assert m.value == Decimal("0.00") and m.currency == "MYR"


@given(st.integers(min_value=0, max_value=99))
def test_letter_zero_after_rm_reads_as_zero(cents):
    text = f"RMO.{cents:02d}"
    (m,) = find_amounts(text)
    assert m.value == Decimal(cents) / 100
    assert m.raw == text


# --------------------------------------------------------------------------- merchant


def test_lower_case_smudge_is_not_a_legal_form():
    assert not BUSINESS_WORDS.search("sa “ACCOUNT'S COPY")
    assert BUSINESS_WORDS.search("DUPONT FRERES SA")
    name, address = merchant([
        "sa “ACCOUNT'S COPY", "wen", "KILANG ROTI CONTOH (KL) SDN BHD (123456 X) |",
        "Lot 7, Jalan Contoh 2/1,", "40300 Shah Alam, Selangor.", "Tel: 03-1234 5678",
    ])
    assert name == "KILANG ROTI CONTOH (KL) SDN BHD"
    assert address == "Lot 7, Jalan Contoh 2/1, 40300 Shah Alam, Selangor."


def test_name_with_garbled_legal_form_is_not_an_address():
    name, address = merchant(["KILANG ROTI CONTOH (KL) SDN BD (123456 X)", "Lot 7, Jalan Contoh 2/1,",
                              "40300 Shah Alam, Selangor.", "Tel: 03-1234 5678"])
    assert name == "KILANG ROTI CONTOH (KL) SDN BD"
    assert address == "Lot 7, Jalan Contoh 2/1, 40300 Shah Alam, Selangor."


def test_item_line_with_prices_is_not_a_name():
    name, _ = merchant(["RELAIS CONTOH NORD", "AUTOROUTE NORD", "15000 VILLE", "Tel. : 05.22.11.22.33",
                        "CAFE CREME 12.00 2 24.00", "CAFE EXPRESSO 10.00 2 20.00"])
    assert name == "RELAIS CONTOH NORD"


def test_title_line_above_the_name_is_not_part_of_it():
    name, _ = merchant(["TAX INVOICE", "Kedai-Contoh Marketing Sdn Bhd", "Company No: 645128-M",
                        "Lot F1-01, 6, Jalan 8/27A,", "53300 Kuala Lumpur,"])
    assert name == "Kedai-Contoh Marketing Sdn Bhd"


def test_owner_under_a_trade_name_is_the_business():
    name, address = merchant(["Pho Contoh", "Dimiliki: pho contoh sdn bhd 3320815-V", "No. 1 Jalan Contoh 7/10",
                              "Bandar Contoh, 47100 Puchong", "Selangor, Malaysia", "(GST Reg. No : 000306700283)"])
    assert name == "pho contoh sdn bhd"
    assert address == "No. 1 Jalan Contoh 7/10 Bandar Contoh, 47100 Puchong Selangor, Malaysia"


def test_the_foot_greeting_is_never_the_name():
    # a page read from its foot first (turned, or its head cut off): the greeting is no name
    name, _ = merchant(["(ee THANK YOU AND DO VISIT US AGAIN.» .e+", "KEDAI CONTOH CASH & CARRY",
                        "NO 3, JALAN SS2/1", "47300 PETALING JAYA"])
    assert name == "KEDAI CONTOH CASH & CARRY"
    name, _ = merchant(["a. TQ FOR SHOPPING WITH CONTOH.COM", "Terima Kasih, Sila Datang Lagi"])
    assert name is None


def test_lower_case_scraps_before_an_upper_case_name_are_dropped():
    name, _ = merchant(["bee 3 KEDAI CONTOH REST AREA", "NO 3, JALAN SS2/1", "47300 PETALING JAYA"])
    assert name == "KEDAI CONTOH REST AREA"
    name, _ = merchant(["99 CONTOH MART SDN BHD", "NO 3, JALAN SS2/1"])
    assert name == "99 CONTOH MART SDN BHD"  # a number may begin a name


def test_unbracketed_registration_number_after_the_legal_form_is_cut():
    name, _ = merchant(["CONTOH NIAGA SDN BHD 3320815-V", "NO 3, JALAN SS2/1", "47300 PETALING JAYA"])
    assert name == "CONTOH NIAGA SDN BHD"


def test_street_number_line_with_few_letters_starts_the_address():
    _, address = merchant(["PASAR CONTOH MAJU", "(BANGI) SDN BHD", "(681573-W)", "NO 24, 25 & 26,",
                           "JALAN PUSAT NIAGA 4,", "43650 BANGI,", "TEL: FAX:"])
    assert address == "NO 24, 25 & 26, JALAN PUSAT NIAGA 4, 43650 BANGI,"


def test_state_and_country_lines_after_the_postcode():
    _, address = merchant(["Kedai Contoh Sdn Bhd", "Lot F1-01, 6, Jalan 8/27A,", "53300 Kuala Lumpur,",
                           "Wilayah Persekutuan Kuala", "Lumpur, Malaysia.", "INV No # : 12345"])
    assert address == "Lot F1-01, 6, Jalan 8/27A, 53300 Kuala Lumpur, Wilayah Persekutuan Kuala Lumpur, Malaysia."


def test_second_name_line_and_registration_before_the_street_are_skipped():
    name, address = merchant(["SIDE BY SIDE SOUP HOUSE", "SBS SOUP HOUSE", "(003158077-U)",
                              "No.25, Jalan Contoh Barat 2,", "52100 Kuala Lumpur.", "Tel: 016-579 2466"])
    assert name == "SIDE BY SIDE SOUP HOUSE"
    assert address == "No.25, Jalan Contoh Barat 2, 52100 Kuala Lumpur."


def test_address_is_read_when_the_name_is_illegible():
    name, address = merchant([".", "/ x", "NO. 31G&33G, JALAN CONTOH INDAH X ,U13/X", "40170 SETIA ALAM",
                              "Tel: +603-3471 5286"])
    assert name is None
    assert address == "NO. 31G&33G, JALAN CONTOH INDAH X ,U13/X 40170 SETIA ALAM"


def test_no_name_and_no_street_gives_no_address():
    # a garbled name whose registration number looks like a postcode: no street, no address
    assert merchant(["ab", "1234 S/R (92586-P)", "Tel: 03-1234 5678"])[1] is None


# --------------------------------------------------------------------------- dates


def test_date_printed_twice_beats_a_lone_misread_copy():
    lines = ["Parkir Contoh Sdn Bhd", "Tax Invoice no. 5821/0402", "28/08/18 11241",
             "010100 Pay parking ticket 5.00 RM", "28/05/18 11:23 - 28/05/18 11:40"]
    fields = extract(reading_of(lines), None).fields
    assert fields["date"].value == "2018-05-28"


def test_labelled_date_still_beats_a_repeated_unlabelled_one():
    lines = ["Contoh GmbH", "Rechnungsdatum: 24.01.2014", "Zeitraum 06.12.2013 bis 05.12.2014",
             "Beginn 06.12.2013"]
    fields = extract(reading_of(lines), None).fields
    assert fields["date"].value == "2014-01-24"
