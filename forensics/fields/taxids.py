"""Tax identifiers: finding them in text, naming their scheme, and checking their check digits.

The check functions are pure and public: the identifier detector imports them to flag ids
that no tax authority could have issued. Schemes (``extra["scheme"]`` of a tax-id field):

- ``CN_USCC``: Chinese unified social credit code, GB 32100-2015 (18 characters, mod 31)
- ``EU_VAT``: EU VAT number with its country prefix (check digits for DE, FR, IT, ES, NL, BE,
  AT, PL; format only for the other member states)
- ``GB_VAT``: UK VAT registration number (mod 97, both the classic and the 2010 variant)
- ``MY_GST``: Malaysian GST registration (12 digits; no published check digit: format only)
- ``MY_SST``: Malaysian SST registration (``W10-1808-32000023``; format only)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: GB 32100-2015 alphabet of the unified social credit code (no I, O, S, V, Z)
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
#: GB 32100-2015 weights of the first 17 characters
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
#: control letters of a Spanish DNI/NIE, indexed by number mod 23
ES_DNI_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"
#: format of the national part of each EU member state's VAT number (after the prefix)
EU_VAT_FORMATS: dict[str, str] = {
    "AT": r"U\d{8}",
    "BE": r"[01]\d{9}",
    "BG": r"\d{9,10}",
    "CY": r"\d{8}[A-Z]",
    "CZ": r"\d{8,10}",
    "DE": r"\d{9}",
    "DK": r"\d{8}",
    "EE": r"\d{9}",
    "EL": r"\d{9}",
    "ES": r"[0-9A-Z]\d{7}[0-9A-Z]",
    "FI": r"\d{8}",
    "FR": r"[0-9A-HJ-NP-Z]{2}\d{9}",
    "HR": r"\d{11}",
    "HU": r"\d{8}",
    "IE": r"\d{7}[A-W][A-I]?|\d[A-Z+*]\d{5}[A-W]",
    "IT": r"\d{11}",
    "LT": r"\d{9}|\d{12}",
    "LU": r"\d{8}",
    "LV": r"\d{11}",
    "MT": r"\d{8}",
    "NL": r"\d{9}B\d{2}",
    "PL": r"\d{10}",
    "PT": r"\d{9}",
    "RO": r"[1-9]\d{1,9}",  # a Romanian CUI is a number: no leading zero
    "SE": r"\d{10}01",
    "SI": r"\d{8}",
    "SK": r"\d{10}",
}


@dataclass(frozen=True)
class TaxIdMatch:
    """A tax id found in text: normalised value, scheme, raw text, span, check-digit result."""

    value: str
    scheme: str
    raw: str
    start: int
    end: int
    valid: bool
    #: True when a label (VAT, USt-IdNr, GST, 税号 ...) stands right before it
    labelled: bool = False


# --------------------------------------------------------------------------- check digits


def luhn_valid(digits: str) -> bool:
    """True when ``digits`` (digits only, check digit last) passes the Luhn mod-10 test."""
    if not digits.isdigit() or len(digits) < 2:
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def ean_valid(code: str) -> bool:
    """True for a valid GTIN: EAN-8, UPC-A (12), EAN-13 or GTIN-14 with its mod-10 check digit."""
    if not code.isdigit() or len(code) not in (8, 12, 13, 14):
        return False
    body, check = code[:-1], int(code[-1])
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10 == check


def uscc_valid(code: str) -> bool:
    """GB 32100-2015: 18 characters of the code alphabet, the last a mod-31 check character."""
    code = code.upper()
    if len(code) != 18 or any(c not in USCC_ALPHABET for c in code):
        return False
    total = sum(USCC_ALPHABET.index(c) * w for c, w in zip(code[:17], USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31] == code[17]


def _de_valid(n: str) -> bool:
    # ISO 7064 MOD 11,10
    product = 10
    for ch in n[:8]:
        total = (int(ch) + product) % 10 or 10
        product = (2 * total) % 11
    return (11 - product) % 10 == int(n[8])


def _fr_valid(n: str) -> bool:
    key, siren = n[:2], n[2:]
    if not siren.isdigit():
        return False
    if key.isdigit():
        return int(key) == (12 + 3 * (int(siren) % 97)) % 97
    return True  # new-style alphabetic keys have no published algorithm


def _es_valid(n: str) -> bool:
    first, middle, last = n[0], n[1:8], n[8]
    if not middle.isdigit():
        return False
    if first.isdigit() or first in "XYZ":  # DNI / NIE
        lead = first if first.isdigit() else str("XYZ".index(first))
        number = int(lead + middle)
        return ES_DNI_LETTERS[number % 23] == last
    # CIF: letter, 7 digits, control digit or letter
    total = 0
    for i, ch in enumerate(middle):
        d = int(ch)
        if i % 2 == 0:
            d = sum(divmod(d * 2, 10))
        total += d
    control = (10 - total % 10) % 10
    return last == str(control) or last == "JABCDEFGHI"[control]


def _nl_valid(n: str) -> bool:
    digits, suffix = n[:9], n[10:]
    old = sum(int(d) * w for d, w in zip(digits[:8], range(9, 1, -1), strict=True)) % 11
    if old == int(digits[8]) and old != 10:
        return True
    # 2020 sole-proprietor numbers: ISO 7064 mod 97 over "NL" + number with letters as 10..35
    numeric = "2321" + digits + "11" + suffix
    return int(numeric) % 97 == 1


def _be_valid(n: str) -> bool:
    return 97 - int(n[:8]) % 97 == int(n[8:])


def _at_valid(n: str) -> bool:
    digits = n[1:]
    total = 0
    for i, ch in enumerate(digits[:7]):
        d = int(ch) * (2 if i % 2 == 1 else 1)
        total += d // 10 + d % 10
    return (10 - (total + 4) % 10) % 10 == int(digits[7])


def _pl_valid(n: str) -> bool:
    total = sum(int(d) * w for d, w in zip(n[:9], (6, 5, 7, 2, 3, 4, 5, 6, 7), strict=True)) % 11
    return total != 10 and total == int(n[9])


#: check-digit functions of the national part, by EU country prefix
_EU_CHECKS = {
    "DE": _de_valid,
    "FR": _fr_valid,
    "IT": luhn_valid,
    "ES": _es_valid,
    "NL": _nl_valid,
    "BE": _be_valid,
    "AT": _at_valid,
    "PL": _pl_valid,
}


def eu_vat_valid(value: str) -> bool:
    """An EU VAT number with country prefix: format for every state, check digits where known."""
    value = re.sub(r"[\s.\-]", "", value.upper())
    country, national = value[:2], value[2:]
    if country == "GR":
        country = "EL"
    fmt = EU_VAT_FORMATS.get(country)
    if fmt is None or not re.fullmatch(fmt, national):
        return False
    check = _EU_CHECKS.get(country)
    return check(national) if check else True


def gb_vat_valid(value: str) -> bool:
    """UK VAT registration number (9 digits, optional GB prefix): mod 97 or the mod 9755 variant."""
    digits = re.sub(r"[\s.\-]", "", value.upper()).removeprefix("GB")
    if not re.fullmatch(r"\d{9}(\d{3})?", digits):
        return False
    total = sum(int(d) * w for d, w in zip(digits[:7], range(8, 1, -1), strict=True)) + int(digits[7:9])
    return total % 97 == 0 or (total + 55) % 97 == 0


def validate_tax_id(value: str, scheme: str) -> bool:
    """True when ``value`` is a well-formed id of ``scheme`` with correct check digits.

    Schemes without a published check digit (MY_GST, MY_SST) are checked for format only.
    """
    compact = re.sub(r"[\s.]", "", value.upper())
    if scheme == "CN_USCC":
        return uscc_valid(compact)
    if scheme == "EU_VAT":
        return eu_vat_valid(compact)
    if scheme == "GB_VAT":
        return gb_vat_valid(compact)
    if scheme == "MY_GST":
        return bool(re.fullmatch(r"\d{12}", compact.replace("-", "")))
    if scheme == "MY_SST":
        return bool(re.fullmatch(r"[A-Z]\d{2}-\d{4}-\d{8}", compact))
    raise ValueError(f"unknown tax id scheme {scheme!r}")


# --------------------------------------------------------------------------- finding ids

#: labels that announce a tax id, by scheme family
_VAT_LABEL = r"(?:VAT\s*Reg(?:istration)?\.?\s*(?:No|Nr|Number)?\.?|VAT|V\.A\.T\.|USt[.\-\s]*Id(?:ent(?:ifikations)?)?[.\-\s]*(?:Nr|No|nummer)?|UID|TVA|N°\s*TVA|IVA|P\.?\s?IVA|BTW|NIP|NIF|CIF|Tax\s*ID|Ust\.?-?IdNr)"
_GST_LABEL = r"(?:GST|SST)\s*(?:REG(?:ISTRATION)?|ID|NO|REG\.?\s*NO|ID\s*NO)?\.?\s*(?:NO|#)?\.?"
_CN_LABEL = r"(?:纳税人识别号|统一社会信用代码|税号|识别号)"
_EU_PREFIXES = "|".join(sorted(EU_VAT_FORMATS) + ["GR"])
_EU_RE = re.compile(rf"(?<![A-Z0-9])(?P<cc>{_EU_PREFIXES}|GB)\s?(?P<body>[0-9A-Z][0-9A-Z .\-]{{6,16}}[0-9A-Z])")
_USCC_RE = re.compile(r"(?<![0-9A-Z])[0-9A-Z]{18}(?![0-9A-Z])")
#: up to eight characters but digits between the label and the number: a colon, a bracket
#: ("GST ID No: (002648730915") or the rest of a label OCR garbled ("GSTI se (002648730915")
#: OCR reads a GST id's 0 as "@" or "O" now and then ("@9@418070203"): taken as 0 when the
#: id has at least :data:`GST_MIN_DIGITS` real digits
_MY_GST_RE = re.compile(rf"{_GST_LABEL}[^\d\n]{{0,8}}?(?P<v>[\d@O][\d@O\s\-]{{10,16}}\d)", re.IGNORECASE)
GST_ZEROS = str.maketrans("@Oo", "000")
GST_MIN_DIGITS = 9
_MY_SST_RE = re.compile(r"(?<![A-Z0-9])(?P<v>[A-Z]\d{2}-\d{4}-\d{8})(?!\d)")
#: an amount with its cents inside what looks like an unlabelled VAT id: a line of amounts
_AMOUNT_INSIDE = re.compile(r"\d[.,]\d{2}(?!\d)")
_LABEL_BEFORE = re.compile(rf"(?:{_VAT_LABEL}|{_CN_LABEL}|{_GST_LABEL})\W{{0,6}}$", re.IGNORECASE)


def find_tax_ids(text: str) -> list[TaxIdMatch]:
    """Every tax id in ``text`` with its scheme; ambiguous candidates only when labelled."""
    out: list[TaxIdMatch] = []
    taken: list[tuple[int, int]] = []

    def add(value: str, scheme: str, start: int, end: int, labelled: bool) -> None:
        if any(start < e and s < end for s, e in taken):
            return
        taken.append((start, end))
        valid = validate_tax_id(value, scheme)
        out.append(TaxIdMatch(value, scheme, text[start:end], start, end, valid, labelled))

    upper = text.upper()
    for m in _MY_SST_RE.finditer(upper):
        add(m.group("v"), "MY_SST", m.start("v"), m.end("v"), True)
    for m in _MY_GST_RE.finditer(text):
        start, value = m.start("v"), m.group("v")
        digits = re.sub(r"\D", "", value.translate(GST_ZEROS))
        if len(digits) != 12 and (first := re.match(r"[\d@Oo][\d@Oo\-]*", value)):
            value = first.group(0)  # the number printed twice, or a second number after it
            digits = re.sub(r"\D", "", value.translate(GST_ZEROS))
        if len(digits) == 12 and len(re.sub(r"\D", "", value)) >= GST_MIN_DIGITS:
            add(digits, "MY_GST", start, start + len(value), True)
    for m in _USCC_RE.finditer(upper):
        code = m.group(0)
        if sum(c.isdigit() for c in code) < 10:
            continue
        labelled = bool(_LABEL_BEFORE.search(text[: m.start()]))
        if uscc_valid(code) or labelled:
            add(code, "CN_USCC", m.start(), m.end(), labelled)
    pos = 0
    while (m := _EU_RE.search(upper, pos)) is not None:
        pos = m.start() + 2
        cc, body = m.group("cc"), m.group("body")
        scheme = "GB_VAT" if cc == "GB" else "EU_VAT"
        fmt = r"\d{9}(\d{3})?" if cc == "GB" else EU_VAT_FORMATS["EL" if cc == "GR" else cc]
        # the regex takes too much (the next word may follow); keep the longest well-formed head
        for cut in range(len(body), 5, -1):
            national = re.sub(r"[\s.\-]", "", body[:cut])
            if body[cut - 1] in " .-" or not re.fullmatch(fmt, national):
                continue
            labelled = bool(_LABEL_BEFORE.search(text[: m.start()]))
            value = cc + national
            if not labelled and (not text[m.start():m.start() + 2].isupper()
                                 or _AMOUNT_INSIDE.search(body[:cut])):
                break  # "Si 0.00 30.45 0", "GR 1801 4 26.00": a line of amounts, not an id
            if labelled or validate_tax_id(value, scheme):
                add(value, scheme, m.start(), m.start("body") + cut, labelled)
                pos = m.start("body") + cut
            break
    out.sort(key=lambda t: t.start)
    return out
