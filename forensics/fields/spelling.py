"""OCR slips in a merchant's name and address, corrected where the intended text is certain.

Tesseract misreads one letter of a word far more often than it loses a word: ``SON BHD`` for
``SDN BHD``, ``PERINDUSTIAN`` for ``PERINDUSTRIAN``, ``S3000`` for the postcode ``53000``,
``DAMA!`` for ``DAMAI``. A word is replaced only when it is one edit away from exactly one
word of a small vocabulary of legal forms and address words (street, area, state and city
words used in addresses: states and the largest cities, no smaller localities), so a correction
never guesses between two readings. The vocabulary names no business. The field's ``raw`` keeps what OCR read.
"""

from __future__ import annotations

import re

#: legal forms and address words, upper case; only words of 4+ letters are corrected towards
VOCABULARY = frozenset(
    """
    SDN BHD ENTERPRISE ENTERPRISES TRADING HOLDINGS CORPORATION COMPANY LIMITED INTERNATIONAL
    INDUSTRIES SERVICE SERVICES MARKETING BORONG RESTAURANTS STATION RESOURCES RESTAURANT RESTORAN HARDWARE STATIONERY BAKERY
    PHARMACY SUPERMARKET HYPERMARKET MINIMARKET PERNIAGAAN KEDAI TRADERS
    JALAN TAMAN KAWASAN PERINDUSTRIAN PERUSAHAAN BANDAR LORONG PERSIARAN LEBUH LEBUHRAYA BLOK
    BLOCK LEVEL FLOOR GROUND ROAD STREET AVENUE LANE SUITE UNIT PLAZA PUSAT DATARAN MENARA
    BANGUNAN KOMPLEKS SEKSYEN SECTION DESA KAMPUNG KAMPONG BATU MILES UTAMA UTARA SELATAN TIMUR
    BARAT TENGAH JAYA BARU LAMA INDAH DAMAI MAJU SETIA SERI SENTOSA
    SELANGOR JOHOR KUALA LUMPUR PERAK PENANG PINANG PULAU KEDAH MELAKA MALACCA PAHANG SABAH
    SARAWAK NEGERI SEMBILAN KELANTAN TERENGGANU PERLIS LABUAN PUTRAJAYA MALAYSIA SINGAPORE
    DARUL EHSAN TAKZIM WILAYAH PERSEKUTUAN
    PETALING SHAH ALAM KLANG SUBANG PUCHONG KAJANG CHERAS AMPANG BAHRU IPOH SEREMBAN KUANTAN
    KOTA BUKIT
    """.split()
)
#: shortest word that is corrected: four-letter words have too many one-edit neighbours
#: (LAND/LANE, LOAD/ROAD) that are real words
MIN_WORD = 5
#: shortest word of a business name that is corrected: names carry brand words that are one
#: edit away from a vocabulary word, so only long words are put right there
MIN_NAME_WORD = 7
#: "SDN BHD" as OCR misreads it: S/5/$, D/O/0, N/H; B/8, H/N, D/O/0
_SDN_BHD = re.compile(r"(?<![\w$])[S5$][DO0][NH](\.?\s*)[B8][HN][DO0]\b", re.IGNORECASE)
#: a five-character postcode token with one letter OCR took for a digit
_POSTCODE_SLIP = re.compile(r"(?<![\w-])(?=[0-9SOIlB]{5}(?![\w-]))(?=(?:\D*\d){4})[0-9SOIlB]{5}")
_POSTCODE_DIGIT = str.maketrans({"S": "5", "O": "0", "I": "1", "l": "1", "B": "8"})
_WORD = re.compile(r"[A-Za-z]+")
_BY_LENGTH: dict[int, list[str]] = {}
for _w in VOCABULARY:
    _BY_LENGTH.setdefault(len(_w), []).append(_w)


def _one_edit(a: str, b: str) -> bool:
    """True when ``a`` becomes ``b`` by one substitution, insertion or deletion."""
    if a == b:
        return False
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b, strict=True)) == 1
    if abs(len(a) - len(b)) != 1:
        return False
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    i = 0
    while i < len(short) and short[i] == long_[i]:
        i += 1
    return short[i:] == long_[i + 1 :]


def correct_word(word: str, *, min_length: int = MIN_WORD) -> str:
    """The vocabulary word ``word`` was meant to be, in ``word``'s case style, or ``word``."""
    upper = word.upper()
    if upper in VOCABULARY or len(upper) < min_length or not upper.isalpha():
        return word
    near = [
        v for n in (len(upper) - 1, len(upper), len(upper) + 1) for v in _BY_LENGTH.get(n, ())
        # a plural or singular is another word, not a slip
        if _one_edit(upper, v) and not (v + "S" == upper or upper + "S" == v)
    ]
    if len(near) != 1:
        return word
    fixed = near[0]
    if word.isupper() or sum(c.isupper() for c in word) > len(word) / 2:
        return fixed
    return fixed.capitalize() if word[:1].isupper() else fixed.lower()


#: "BHD" after a read "SDN", as OCR garbles its H: "BED", "BELD", "BITD", "BILD", "BD", "Bha"
_GARBLED_BHD = re.compile(r"(?<![\w$])((?i:[S5$][DO0][NH])\.?\s*)(?:[B8](?:[EIL1T|]{1,2}|)[DO0]|Bha)(?![\w])")
#: "S/B" (Sendirian Berhad) closing a name, its S read as 5 or $
_S_SLASH_B = re.compile(r"(?<![\w$])[5$]/B(?![\w])")
#: an initial between two dotted initials read as a digit ("D.1.Y.": a 1 for an I, a 0 for an O)
_DOTTED_INITIAL = re.compile(r"(?<=[A-Z]\.)(?:(1)|(0))(?=\.\s*[A-Z¥]\b|\.[A-Z¥])")


def correct_name(text: str) -> str:
    """A business name with its legal form, initials and vocabulary words put right.

    Besides vocabulary words: "SDN BHD" and "S/B" as OCR misreads them, curly braces (OCR's
    reading of round brackets: "{M)"), "¥" for a Y, and a 1 or 0 between dotted initials
    ("D.1.Y." is D.I.Y.)."""
    text = _SDN_BHD.sub(lambda m: ("SDN{}BHD" if m.group(0).isupper() else "Sdn{}Bhd").format(m.group(1)), text)
    text = _GARBLED_BHD.sub(lambda m: m.group(1) + ("BHD" if m.group(1).isupper() else "Bhd"), text)
    # before BHD, a three-letter S?N is SDN with its D misread ("SUN BHD", "SBN BHD")
    text = re.sub(r"(?<![\w$])S[UB]N(?=\.?\s*BHD\b)", "SDN", text)
    # a bracket closed with a "j" ("(Mj SDN BHD"), and "MR," opening a name for "MR."
    text = re.sub(r"\(([A-Z]{1,3})j(?=\s)", r"(\1)", text)
    text = re.sub(r"^MR,(?=\s)", "MR.", text)
    text = _S_SLASH_B.sub("S/B", text)
    text = text.replace("{", "(").replace("}", ")").replace("Y¥", "Y").replace("¥", "Y")
    text = _DOTTED_INITIAL.sub(lambda m: "I" if m.group(1) else "O", text)
    return _WORD.sub(lambda m: correct_word(m.group(0), min_length=MIN_NAME_WORD), text)


def correct_address(text: str) -> str:
    """An address with postcode digits and vocabulary words put right."""
    text = _POSTCODE_SLIP.sub(lambda m: m.group(0).translate(_POSTCODE_DIGIT), text)
    # "!" and "|" inside a word are an I; "$" opening a word before a letter is an S (SS21/39)
    text = re.sub(r"(?<=[A-Za-z])[!|](?=[A-Za-z]|[\s,.]|$)", "I", text)
    text = re.sub(r"(?<![\w$])\$(?=[A-Za-z])", "S", text)
    # an apostrophe between two words is a speck read as one, and so is a colon closing the
    # address (a closing comma is printed where the address runs on: it stays)
    text = re.sub(r"(?<=[A-Za-z]{3})[’`](?=[A-Za-z]{3})", " ", text)
    text = re.sub(r"\s*[:;]\s*$", "", text)
    # a lone character after the town that follows the postcode is a speck ("40170 TOWN 3")
    text = re.sub(r"(\b\d{5}\s+[A-Za-z][A-Za-z .,'-]*[A-Za-z.,])\s+[^\sA-Za-z]$", r"\1", text)
    return _WORD.sub(lambda m: correct_word(m.group(0)), text)
