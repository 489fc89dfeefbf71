from forensics.fields.einvoice import parse_einvoice

CII = """<?xml version="1.0"?>
<rsm:CrossIndustryInvoice xmlns:rsm="urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
 xmlns:ram="urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
 xmlns:udt="urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100">
 <rsm:ExchangedDocument><ram:ID>FA-2017-0010</ram:ID>
  <ram:IssueDateTime><udt:DateTimeString format="102">20171113</udt:DateTimeString></ram:IssueDateTime>
 </rsm:ExchangedDocument>
 <rsm:SupplyChainTradeTransaction>
  <ram:ApplicableHeaderTradeAgreement>
   <ram:SellerTradeParty><ram:Name>Au bon moulin</ram:Name>
    <ram:SpecifiedTaxRegistration><ram:ID schemeID="VA">FR11999999998</ram:ID></ram:SpecifiedTaxRegistration>
   </ram:SellerTradeParty>
   <ram:BuyerTradeParty><ram:Name>Ma jolie boutique</ram:Name></ram:BuyerTradeParty>
  </ram:ApplicableHeaderTradeAgreement>
  <ram:ApplicableHeaderTradeSettlement><ram:InvoiceCurrencyCode>EUR</ram:InvoiceCurrencyCode>
   <ram:SpecifiedTradeSettlementHeaderMonetarySummation>
    <ram:TaxBasisTotalAmount>624.90</ram:TaxBasisTotalAmount><ram:TaxTotalAmount currencyID="EUR">46.25</ram:TaxTotalAmount>
    <ram:GrandTotalAmount>671.15</ram:GrandTotalAmount>
   </ram:SpecifiedTradeSettlementHeaderMonetarySummation>
  </ram:ApplicableHeaderTradeSettlement>
 </rsm:SupplyChainTradeTransaction>
</rsm:CrossIndustryInvoice>"""

UBL = """<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
 xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
 xmlns:cac="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2">
 <cbc:ID>R-42</cbc:ID><cbc:IssueDate>2020-02-01</cbc:IssueDate><cbc:DocumentCurrencyCode>EUR</cbc:DocumentCurrencyCode>
 <cac:AccountingSupplierParty><cac:Party><cac:PartyTaxScheme><cbc:CompanyID>DE136695976</cbc:CompanyID></cac:PartyTaxScheme>
  <cac:PartyLegalEntity><cbc:RegistrationName>Bei Spiel GmbH</cbc:RegistrationName></cac:PartyLegalEntity></cac:Party></cac:AccountingSupplierParty>
 <cac:LegalMonetaryTotal><cbc:TaxInclusiveAmount currencyID="EUR">119.00</cbc:TaxInclusiveAmount></cac:LegalMonetaryTotal>
</Invoice>"""


def test_cii():
    f = parse_einvoice(CII)
    assert f["serial"].value == "FA-2017-0010" and f["date"].value == "2017-11-13"
    assert f["total"].value == "671.15" and f["tax"].value == "46.25" and f["currency"].value == "EUR"
    assert f["merchant_tax_id"].value == "FR11999999998" and f["merchant_tax_id"].extra["scheme"] == "EU_VAT"
    assert f["buyer"].value == "Ma jolie boutique" and all(x.source == "xml" for x in f.values())


def test_ubl():
    f = parse_einvoice(UBL)
    assert (f["serial"].value, f["date"].value, f["total"].value, f["merchant"].value) == ("R-42", "2020-02-01", "119.00", "Bei Spiel GmbH")


def test_garbage_and_entities_refused():
    assert parse_einvoice("<not xml") == {}
    assert parse_einvoice('<!DOCTYPE x [<!ENTITY a "b">]><Invoice/>') == {}
