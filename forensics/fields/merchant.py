"""The issuing business's name and address, read from the head of the document.

Receipts print the shop's name first, then its address, then registration, phone and tax
lines, then the document title. The name is the first line there that looks like a business
(a legal-form or trade word wins), the address the lines that follow it up to the first
contact or registration line. Nothing here names a particular merchant.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from forensics.fields.layout import TextLine, letters_ratio

#: words that mark a business name (legal forms and trade words), English/Malay/German/French
BUSINESS_WORDS = re.compile(
    r"\b(SDN\.?\s*BHD|BHD|S/B|SDN|ENTERPRISE|ENTERPRISES|TRADING|HOLDINGS|CORPORATION|CORP|"
    r"COMPANY|CO\.|LTD|LIMITED|LLC|INC|PLC|GMBH|E\.K\.|SARL|EURL|"
    r"MART|MARKET|SUPERMARKET|MINIMARKET|STORE|STORES|SHOP|HARDWARE|RESTAURANT|RESTORAN|CAFE|"
    r"BAKERY|PHARMACY|FARMASI|KEDAI|PERNIAGAAN|STATIONERY|BOOKSTORE|GALLERY|TRADERS|"
    r"INTERNATIONAL|INDUSTRIES|SERVICES|CENTRE|CENTER|BISTRO|KITCHEN|FOOD|MAKANAN)\b"
    # short legal forms count in capitals only: OCR reads smudges as "sa", "ag", "ug"
    r"|(?-i:\b(?:AG|KG|OHG|UG|SAS|SA|SNC)\b)",
    re.IGNORECASE,
)
CJK_BUSINESS = re.compile(r"(有限公司|公司|商店|超市|酒店|餐厅|饭店)")
#: a line that ends the header: contact, registration, tax, title, date or table lines
HEADER_END = re.compile(
    r"\b(TEL|TELEPHONE|PHONE|FAX|H/P|HP|E-?MAIL|WEBSITE|WWW|GST|SST|VAT|TAX\s*INVOICE|INVOICE|"
    r"RECEIPT|CASH\s*BILL|BILL|DATE|CASHIER|TABLE|ROC|REG(?:ISTRATION)?\.?\s*NO|CO\.?\s*REG|"
    r"COMPANY\s*(?:REG|NO)|BUSINESS\s*REG|TEL\.|USt|Steuer|SIRET|SIREN|TVA|RECHNUNG|FACTURE|"
    r"QUITTUNG|BELEG|KASSENBON)\b|@|发票|电话",
    re.IGNORECASE,
)
#: a line that is (only) a company registration number, e.g. ``(913462-U)`` or ``JM0326955-V``
REG_NO_LINE = re.compile(r"^[\s(\[]*(?:CO\.?\s*NO\.?|ROC|REG\.?\s*NO\.?|BR\.?\s*NO\.?|NO\.?)?[\s:.(\[]*[A-Z]{0,3}\d{4,}[\s-]*[A-Z]?[)\]]?[\s.,:]*$", re.IGNORECASE)
#: a line opening with a street word is the street, not a branch name ("JALAN LAPANGAN TERBANG
#: SUBANG" over "47200 SUBANG"; a branch in brackets, "(JALAN KLANG LAMA)", is still a branch)
STREET_START = re.compile(r"^(?:JALAN|JLN|LORONG|LRG|PERSIARAN|LEBUH|LEBUHRAYA)\b", re.IGNORECASE)
#: a line that is only a telephone number ("016-7302918", "03 - 1234 5678"): the address has ended
PHONE_ONLY = re.compile(r"^[\s(+]*\d[\d\s()-]{7,15}\d[\s)]*$")
#: words that mark an address line
ADDRESS_WORDS = re.compile(
    r"\b(NO|LOT|JALAN|JLN|TAMAN|TMN|BATU|KAWASAN|BANDAR|LORONG|PERSIARAN|BLOK|BLOCK|LEVEL|"
    r"FLOOR|ROAD|RD|STREET|ST|AVENUE|AVE|LANE|SUITE|UNIT|STRASSE|STRAßE|STR|WEG|PLATZ|ALLEE|"
    r"RUE|AVENUE|BOULEVARD|BD|CHEMIN|PLACE|CEDEX|SELANGOR|JOHOR|KUALA|LUMPUR|PERAK|PENANG|"
    r"PULAU|KEDAH|MELAKA|PAHANG|SABAH|SARAWAK|NEGERI|SEMBILAN|KELANTAN|TERENGGANU|PERLIS|MALAYSIA|"
    r"DARUL|EHSAN|TAKZIM|WILAYAH|PERSEKUTUAN|DATARAN|PUSAT|PLAZA|MENARA|WISMA|KOMPLEKS|BANGUNAN|"
    r"SEKSYEN|SECTION|DESA|KAMPUNG)\b",
    re.IGNORECASE,
)
#: a five-digit postcode; a lot or house number ("LOT 26151") is not one
POSTCODE = re.compile(r"(?<!\d)(?<!LOT )(?<!LOT\.)(?<!NO )(?<!NO\.)(?<!No )(?<!No\.)(?<!Lot )(?<!P\.T\. )(?<!PT )(?<!PT\. )\d{5}(?!\d)")
#: a line that starts with a house or lot number ("NO 24, 25 & 26,", "LOT 12A,")
STREET_NUMBER = re.compile(r"^(?:NO|LOT|BLK|BLOCK|UNIT)\b\.?\s*[:.]?\s*\d+[A-Z]?\b\s*(?:[,&/-]|$)", re.IGNORECASE)
#: how many lines from the top the merchant's name may start at
NAME_WINDOW = 8
#: most lines an address spans
ADDRESS_MAX_LINES = 5


@dataclass(frozen=True)
class Found:
    """A field found on one or more consecutive lines."""

    value: str
    lines: tuple[TextLine, ...]
    confidence: float


#: a line that only registers the business: company, GST or SST registration. Such lines sit
#: between the name and the address on many receipts, so the address search skips them.
REGISTRATION_LINE = re.compile(
    r"\b(?:CO(?:MPANY)?\.?\s*REG|REG(?:ISTRATION)?\.?\s*NO|ROC|BUSINESS\s*REG|"
    r"(?:GST|SST)\s*(?:REG|ID|NO)|(?:GST|SST)\b.{0,15}\d{6,})|^[\s(\[]*(?:CO(?:MPANY)?\.?\s*NO|ROC)\b",
    re.IGNORECASE,
)
#: legal forms that end a business name (a line starting with one continues the line above)
LEGAL_FORM = re.compile(
    r"(?:^|\s|\))(?:SDN\.?\s*BHD\.?|BHD\.?|S/B|SDN|GMBH|LTD\.?|LIMITED|LLC|INC\.?|PLC|SARL|SAS)\s*$"
    r"|^\s*\([A-Z ]{1,20}\)\s*(?:SDN|BHD|S/B)",
    re.IGNORECASE,
)
#: a registration number in brackets after a name, e.g. "(913462-U)", "{92586-F}", "(Co. No"
TRAILING_REG_NO = re.compile(
    r"\s*[(\[{]\s*(?:CO\.?\s*(?:NO|N[AO0])\b.*|[^()\[\]{}]*\d[^()\[\]{}]*\d[^()\[\]{}]*[)\]}]?)\s*$",
    re.IGNORECASE,
)

#: legal forms and trade words that only a business name carries
LEGAL_WORD = re.compile(
    r"\b(?:SDN\.?\s*BHD|BHD|SDN|S/B|GMBH|LTD|LIMITED|LLC|INC|PLC|SARL|ENTERPRISES?|TRADING)\b", re.IGNORECASE
)
#: lines that end the header: the document's title and the transaction lines under it
TITLE_LINE = re.compile(
    r"\b(TAX\s*INVOICE|INVOICE|RECEIPT|CASH\s*BILL|BILL|DATE|CASHIER|TABLE|RECHNUNG|FACTURE|"
    r"QUITTUNG|BELEG|KASSENBON)\b|发票",
    re.IGNORECASE,
)
#: a legal form followed by a registration number, bracketed or not: the name ends at the
#: legal form ("X SDN BHD (615424-H)", "x sdn bhd 3320815-V")
NAME_THEN_REG_NO = re.compile(r"(SDN\.?\s*BHD\.?|\bBHD\.?|S/B|\bSB)\s*(?:[(\[{][^)\]}]*\d|\d{4,})", re.IGNORECASE)


def _clean(text: str) -> str:
    # leading smudges go, an opening bracket stays: "(KAJANG) SDN BHD"
    text = re.sub(r"^(?:[^\w(]|_)+(?=[A-Za-z0-9(])", "", text.strip())
    return re.sub(r"[\s|_~—‘“\"]+$", "", text).strip()


def _upper_share(text: str) -> float:
    letters = [c for c in text if c.isalpha()]
    return sum(c.isupper() for c in letters) / len(letters) if letters else 0.0


def _is_noise(line: TextLine) -> bool:
    text = _clean(line.text)
    letters = sum(c.isalpha() for c in text)
    if letters < 3 or line.confidence < 0.45:
        return True
    if not any(c.isupper() for c in text):
        return True  # handwriting and stamps read as lower-case scraps; printed headers are not
    # registration numbers and street numbers lower the share of letters on real header lines
    return letters_ratio(text) < 0.5 and not (POSTCODE.search(text) or ADDRESS_WORDS.search(text) or LEGAL_WORD.search(text))


def _is_registration(text: str) -> bool:
    return bool(REGISTRATION_LINE.search(text) or REG_NO_LINE.match(text))


def _is_address(text: str) -> bool:
    if LEGAL_WORD.search(text):
        return False  # "X SDN BHD (31265-T)": a name with its registration number, not a postcode
    if STREET_NUMBER.match(text):
        return True  # "NO 24, 25 & 26,", "LOT 12,": few letters, but a street number
    if sum(c.isalpha() for c in text) < 3:
        return False  # "(0005£83085-K)": a garbled registration number, not a street
    return bool(ADDRESS_WORDS.search(text) and any(c.isdigit() for c in text)) or bool(POSTCODE.search(text))


#: a price ("10.00", "12,50"): item and total lines carry one, a business name does not
PRICE = re.compile(r"(?<![\d.,])\d{1,6}[.,]\d\d(?![\d.,])")
#: the greeting at the foot of a receipt, read at the top of a page turned or cut short
GREETING = re.compile(
    r"\b(?:THANK\s*YOU|THANKS|TQ\s+FOR|VISIT\s+US|COME\s+AGAIN|TERIMA\s*KASIH|SILA\s+DATANG|"
    r"DANKE|VIELEN\s+DANK|MERCI|谢谢)",
    re.IGNORECASE,
)


def _looks_like_name(line: TextLine) -> bool:
    text = _clean(line.text)
    if (_is_noise(line) or HEADER_END.search(text) or REG_NO_LINE.match(text) or _is_address(text)
            or PRICE.search(text) or GREETING.search(text)):
        return False
    return _upper_share(text) >= 0.6 or bool(BUSINESS_WORDS.search(text)) or bool(CJK_BUSINESS.search(text))


def _plain_name(line: TextLine) -> bool:
    """A line that could be a name printed in mixed case (``Noodle Corner BMC``): words, no digits."""
    text = _clean(line.text)
    return not (
        _is_noise(line) or HEADER_END.search(text) or _is_registration(text) or _is_address(text)
        or sum(c.isdigit() for c in text) > 1 or len(text.split()) > 6 or PRICE.search(text)
        or GREETING.search(text)
    )


def _joins_previous(prev: str, text: str) -> bool:
    """True when ``text`` is the second half of a name that starts on the line above."""
    if text.upper().startswith(prev.upper()):
        return False  # a logo word above the full name: "ACME" / "ACME STATIONERY SDN BHD"
    if prev.endswith(("&", "-", ",")):
        return True
    if any(c.isdigit() for c in prev) or ADDRESS_WORDS.search(prev) or _upper_share(prev) < 0.6:
        return False
    m = LEGAL_FORM.search(text)
    if not m:
        return False
    # the words before the legal form, a bracketed branch or place aside: "RESTAURANT SDN BHD",
    # "(KAJANG) SDN BHD", "ENTERPRISE (SETIA ALAM) SDN BHD"
    before = re.sub(r"\([^()]*\)", " ", text[: m.start()]).strip()
    return text.lstrip().startswith("(") or len(before.split()) <= 2


def _name_text(lines: list[TextLine]) -> str:
    text = " ".join(_clean(ln.text) for ln in lines)
    cut = NAME_THEN_REG_NO.search(text)
    if cut:
        text = text[: cut.end(1)]  # "X SDN BHD (615424-H) BRANCH NAME": the name ends at the legal form
    owner = re.search(
        r"\b(?:OWN(?:ED)?\s*BY|OPERATED\s*BY|A\s*MEMBER\s*OF|DIMILIKI(?:\s*OLEH)?)\s*:?\s*", text, re.IGNORECASE
    )
    if owner and LEGAL_FORM.search(text[owner.end() :]):
        text = text[owner.end() :]  # "KOPI CONTOH OWN BY: X SDN BHD": the business is the owner
    text = TRAILING_REG_NO.sub("", text)
    if _upper_share(text) >= 0.8:
        # a trailing scrap with no capital or digit on an upper-case name is a smudge: “a, '
        text = re.sub(r"(?:\s+[^A-Z0-9\s]{1,3})+$", "", text)
        # and so are lower-case scraps before it, with a lone digit after them: "bee 3 KEDAI
        # CONTOH" (a digit alone may begin the name: "99 SPEEDMART")
        text = re.sub(r"^(?:[a-z]{1,3}\s+)+(?:\d\s+)?(?=[A-Z]{2,}\s+[A-Z]{2,})", "", text)
    return text.strip(" :;,|{}[")


def find_merchant(lines: list[TextLine]) -> tuple[Found | None, Found | None]:
    """(name, address) of the issuing business from the head of the first page."""
    head = [ln for ln in lines if ln.page == lines[0].page][: NAME_WINDOW + ADDRESS_MAX_LINES] if lines else []
    # contact and registration lines may stand above the name ("Subway#42210 Phone ..."); only
    # the document's title ends the part of the page where the name can be
    end = next((i for i, ln in enumerate(head) if i > 0 and TITLE_LINE.search(ln.text)), len(head))
    window = range(min(end, NAME_WINDOW))
    candidates = [
        i for i in window
        if _looks_like_name(head[i]) and (not ADDRESS_WORDS.search(head[i].text) or BUSINESS_WORDS.search(head[i].text))
    ]
    by_word = [i for i in candidates if LEGAL_FORM.search(_clean(head[i].text))]
    by_word = by_word or [i for i in candidates if BUSINESS_WORDS.search(head[i].text) or CJK_BUSINESS.search(head[i].text)]
    if by_word:
        start = by_word[0]
    else:
        plain = [i for i in window if _plain_name(head[i]) and not ADDRESS_WORDS.search(head[i].text)]
        if not candidates and not plain:
            return None, _find_address(head, 0, strict=True)
        start = min(candidates[:1] + plain[:1])
    # the name may begin a line or two above (a long name broken over three lines): the line
    # above joins what is read of the name so far, up to the end of the line with the legal form
    first = start
    while start > max(0, first - 2):
        above = head[start - 1]
        upto = head[start: first + 1]
        if (_is_noise(above) or HEADER_END.search(above.text) or not re.search(r"[A-Za-z]{3}", above.text)
                or not _joins_previous(_clean(above.text), " ".join(_clean(ln.text) for ln in upto))):
            break
        start -= 1
    name_lines = list(head[start: first + 1])
    nxt = first + 1
    while nxt < len(head) and nxt < end:
        text = _clean(head[nxt].text)
        prev = _clean(name_lines[-1].text)
        if LEGAL_FORM.search(prev) and not prev.endswith(("&", "-")) or NAME_THEN_REG_NO.search(prev):
            break  # the legal form ends the name
        continues = _joins_previous(prev, text) or (
            BUSINESS_WORDS.search(text) and not ADDRESS_WORDS.search(text) and not any(c.isdigit() for c in text)
        )
        if not continues or not _looks_like_name(head[nxt]):
            break
        name_lines.append(head[nxt])
        nxt += 1
    if nxt < len(head) and nxt < end:
        owner = OWNER_LINE.match(_clean(head[nxt].text))
        rest = _clean(head[nxt].text)[owner.end():] if owner else ""
        if owner and LEGAL_WORD.search(rest) and not _is_noise(head[nxt]):
            value = _name_text([replace(head[nxt], text=rest)])
            return Found(value, (head[nxt],), head[nxt].confidence), _find_address(head, nxt + 1)
    name = Found(_name_text(name_lines), tuple(name_lines), min(ln.confidence for ln in name_lines))
    return name, _find_address(head, nxt)


#: a line that names the company owning or running the shop named above it
OWNER_LINE = re.compile(r"^(?:OWN(?:ED)?\s*BY|OPERATED\s*BY|DIMILIKI(?:\s*OLEH)?|A\s*MEMBER\s*OF)\s*[:;.]?\s*", re.IGNORECASE)


def _find_address(head: list[TextLine], start: int, *, strict: bool = False) -> Found | None:
    """The address lines from ``start`` on. ``strict`` (no name found above): the first line
    must look like an address itself, not only carry a digit (a garbled name "X S/R (92586-P)")."""
    picked: list[TextLine] = []
    skipped_branch = False
    i = start
    while i < len(head) and len(picked) < ADDRESS_MAX_LINES:
        ln = head[i]
        text = _clean(ln.text)
        i += 1
        if not picked and (_is_registration(text) or _is_noise(ln) and not _is_address(text) or _only_date(text)):
            continue  # registration number or a smudge between name and address
        if (
            not picked and not skipped_branch and i < len(head) and not HEADER_END.search(text)
            and not any(c.isdigit() for c in text) and not STREET_START.match(text) and _street_follows(head, i)
        ):
            skipped_branch = True  # a branch name ("IKEA Cheras") between the name and the street
            continue
        if HEADER_END.search(text) or _is_registration(text) or PHONE_ONLY.match(text):
            break
        if not picked and not (ADDRESS_WORDS.search(text) or any(c.isdigit() for c in text)):
            break
        if not picked and strict and not _is_street(text):
            break
        picked.append(ln)
        if (post := POSTCODE.search(text)):
            # state and country lines may follow the postcode line ("Wilayah Persekutuan Kuala"
            # / "Lumpur, Malaysia."); a postcode closing its line has its town on the next one
            # ("..., 47301" / "PETALING JAYA, SELANGOR DARUL EHSAN."), however many words
            town_next = not re.search(r"[A-Za-z]", text[post.end():])
            while i < len(head) and len(picked) < ADDRESS_MAX_LINES + 1:
                after = _clean(head[i].text)
                if not (
                    (ADDRESS_WORDS.search(after) or town_next)
                    and not HEADER_END.search(after)
                    and not _is_registration(after)
                    and not any(c.isdigit() for c in after)
                    and (len(after.split()) <= 3 or town_next)
                ):
                    break
                town_next = False
                picked.append(head[i])
                i += 1
            break
    if not picked:
        return None
    text = re.sub(r"(?:\s+[&|'\"“”‘’]+)+$", "", " ".join(_clean(ln.text) for ln in picked))
    return Found(text, tuple(picked), min(ln.confidence for ln in picked))


def _is_street(text: str) -> bool:
    """A line that starts an address by itself: a street word with a number, a house number, or
    a postcode outside brackets (a bracketed five-digit number is a registration number)."""
    if STREET_NUMBER.match(text) or ADDRESS_WORDS.search(text) and any(c.isdigit() for c in text):
        return not LEGAL_WORD.search(text)
    return bool(POSTCODE.search(re.sub(r"[(\[{][^)\]}]*[)\]}]?", " ", text)))


def _street_follows(head: list[TextLine], i: int) -> bool:
    """True when line ``i`` is an address line, or follows a registration line that is."""
    for ln in head[i : i + 2]:
        text = _clean(ln.text)
        if _is_address(text):
            return True
        if not _is_registration(text):
            return False
    return False


def _only_date(text: str) -> bool:
    from forensics.fields.dates import find_dates

    return bool(find_dates(text))
