"""Document numbers (receipt, invoice, bill or document serials) and the Chinese invoice code.

A serial is read after a label (``Invoice No``, ``Rechnungsnummer``, ``N° de facture``,
``发票号码`` ...). Its ``value`` is normalised against OCR confusions where the context calls
for digits; its ``raw`` keeps what was read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: letters OCR reads in place of digits, and the digit meant
OCR_DIGIT_CONFUSIONS = {"O": "0", "Q": "0", "D": "0", "I": "1", "L": "1", "|": "1", "S": "5", "B": "8", "Z": "2", "G": "6"}
#: "No." and its kin; OCR reads "No." as "na.", "N0", "NG", "Wo" or "Ho" and "#" as "4" or "H"
#: before the colon that follows them, and "#:" as "is" before a number of four digits or more
_NUMBER_WORD = (r"-?\s*(?:no|nr|num|number|nummer|numéro|numero|n°|n º|nº|#|id|n[a0]\."
                r"|(?:4|h|now|n[g0m]|[wh]o)(?=\s*[.:;])|is(?=\s+\(?[A-Z]{0,4}\d{4}))")
#: labels of a document serial, as regex alternatives (English, Malay, German, French, Chinese)
SERIAL_LABELS = [
    rf"(?:tax\s*)?invoice\s*{_NUMBER_WORD}",
    rf"(?:official\s*)?receipt\s*{_NUMBER_WORD}",
    # "Bil1#", "Bi 11#": OCR splits and confuses the l's of "Bill"
    # and reads "Doc" as "Doe", "Dac", "Doz", "Trans" as "irans"
    rf"(?:bi\s?[l1|i]{{2}}|d[oa][cez]|doc(?:ument)?|[ti]rans(?:action)?|txn|order|slip|ref(?:erence)?|chk|check|cheque|ticket|voucher|inv|rcpt|cash\s*bill|cb|sales|no\.\s*resit|resit)\s*{_NUMBER_WORD}",
    r"rechnungs?\s*-?\s*(?:nummer|nr\.?|no\.?)",
    r"(?:beleg|bon|quittungs?|kassenbon)\s*-?\s*(?:nummer|nr\.?)",
    r"rechnung\s*(?:nr\.?|no\.?|nummer|#)",
    r"(?:n°|nº|no|numéro|numero)\s*(?:de\s*)?(?:la\s*)?(?:facture|ticket|reçu|recu|avoir)",
    r"(?:facture|avoir|ticket|reçu)\s*(?:n°|nº|no\.?|numéro|#)",
    r"发票号码|票据号码|单据号",
    # "Taxinv:83517": the label printed (or read) as one word
    r"tax\s*inv(?=\s*[:#])",
    # a bare colon after a slip or bill label, or the number straight after "BILL"
    r"(?:slip|bill)(?=\s*:)",
    r"bill(?=\s+\d{3})",
    # "Bil" (Malay "number", or a clipped "Bill") straight before a coded number
    r"bil{1,2}(?=\s+[A-Z]{0,3}\d{2})",
    r"invoice\s*:",
    r"invoice(?=\s+[A-Z0-9\-/]*\d)",
    r"rechnung(?=\s+[A-Z0-9\-/]*\d{3})",
    # a document title followed by its number: "Facture FA-2017-0010", "Avoir AV-2017-0005"
    r"(?:facture|avoir|gutschrift|credit\s*note)(?=\s+[A-Z]{0,4}[\-/]?\d[A-Z0-9\-/]*)",
]
SERIAL_LABEL_RE = re.compile(r"(?<![A-Za-z])(?:" + "|".join(SERIAL_LABELS) + r")", re.IGNORECASE)
#: the value after a serial label: a token with at least one digit (letters, - / . allowed).
#: Separators as printed or misread (":" as "s", ">" or "»"); the symbols OCR reads for C and
#: S ("€$00031862", "©S00023505") are allowed and mapped back by :data:`SYMBOL_LETTERS`.
_VALUE_RE = re.compile(
    r"\s*(?:(?:[.:#;=,~>»\-]|s(?=\s))\s*){0,3}"
    r"(?P<v>\(?[A-Za-z0-9€©$§][A-Za-z0-9€©$§\-/_.]*[A-Za-z0-9](?:(?:\s/|/\s)\d[A-Za-z0-9\-/]*)*|\d)")
#: the number after a letter prefix that OCR split off it ("OR {8032802170347")
_SPLIT_NUMBER_RE = re.compile(r" (?P<n>[{}\[\]|!]?\d{5,}[A-Za-z0-9\-/]*)")
#: brackets and bars OCR reads in place of a "1"
BRACE_ONES = str.maketrans({"{": "1", "}": "1", "[": "1", "]": "1", "|": "1", "!": "1"})
#: symbols OCR reads in place of the letters C and S inside a serial
SYMBOL_LETTERS = str.maketrans({"€": "C", "©": "C", "$": "S", "§": "S"})
INVOICE_CODE_LABEL_RE = re.compile(r"发票代码")


@dataclass(frozen=True)
class SerialMatch:
    """A serial found after its label: normalised value, raw text, span in the text."""

    value: str
    raw: str
    start: int
    end: int
    label: str


def normalise_serial(raw: str) -> str:
    """The serial with OCR letter-for-digit confusions fixed where the context calls for digits.

    A leading run of letters is a prefix and stays (``TD01167104``), except that confusable
    letters at its end that run straight into digits are digits (``TDO1167104`` -> ``TD01167104``);
    inside the numeric part every confusable letter is a digit when digits dominate there.
    """
    text = raw.strip().upper()
    m = re.match(r"[A-Z]*", text)
    prefix = m.group(0) if m else ""
    rest = text[len(prefix) :]
    if rest and rest[0].isdigit() and len(prefix) > 1:
        # move confusable letters at the end of the prefix into the number, keep one letter
        keep = len(prefix)
        while keep > 1 and prefix[keep - 1] in "OQI":
            keep -= 1
        prefix, rest = prefix[:keep], prefix[keep:] + rest
    elif rest and rest[0].isdigit() and len(prefix) == 1 and prefix in "O":
        prefix, rest = "", prefix + rest
    digits = sum(c.isdigit() for c in rest)
    letters = sum(c.isalpha() for c in rest)
    if digits and digits > letters:
        rest = "".join(OCR_DIGIT_CONFUSIONS.get(c, c) for c in rest)
    return prefix + rest


def find_serial(text: str) -> SerialMatch | None:
    """The first labelled serial in ``text`` (one line), or None."""
    for label in SERIAL_LABEL_RE.finditer(text):
        m = _VALUE_RE.match(text, label.end())
        if not m:
            continue
        raw = m.group("v")
        if len(raw) <= 3 and raw.isalpha() and (rest := _SPLIT_NUMBER_RE.match(text, m.end())):
            # "Invoice # : OR {8032802170347": a letter prefix OCR cut off its number, whose
            # first "1" it read as a brace
            prefix, number = raw, rest.group("n")
            raw = text[m.start("v"):rest.end("n")]
            return SerialMatch(normalise_serial(prefix + number.translate(BRACE_ONES)), raw,
                               m.start("v"), rest.end("n"), label.group(0))
        if len(raw) <= 2 and (longer := _VALUE_RE.match(text, m.end())):
            # "RECEIPT #2 CS00042291": a colon read as a digit before the real number
            m, raw = longer, longer.group("v")
        if not any(c.isdigit() for c in raw) or len(raw) < 3 and not raw.isdigit():
            continue
        if re.fullmatch(r"\(?\d{1,2}[/.\-]\d{1,2}[/.\-]\d{2,4}", raw):
            continue  # a date after "Invoice:", not a number
        # "5821/0402 /00402": a space OCR put next to a slash is not part of the number
        return SerialMatch(normalise_token(raw), raw, m.start("v"), m.end("v"), label.group(0))
    return None


def serial_after(text: str, pos: int) -> str | None:
    """The serial printed straight after ``pos`` of ``text`` (after a label found some other
    way, e.g. one an issuer printed before), normalised; None when no number follows."""
    m = _VALUE_RE.match(text, pos)
    if not m or not any(c.isdigit() for c in m.group("v")):
        return None
    return normalise_token(m.group("v"))


def normalise_token(raw: str) -> str:
    """A serial read on its own (no label): spaces dropped, an opening "(" and the symbols OCR
    reads for C and S mapped back, then :func:`normalise_serial`."""
    return normalise_serial(re.sub(r"\s", "", _open_paren(raw.strip())).translate(SYMBOL_LETTERS))


def _open_paren(raw: str) -> str:
    """A serial read with a leading "(": OCR's reading of a "C" when a letter follows
    ("(S00362817" is CS00362817), else a bracket that is not part of the number
    ("(CS00020455", "(12345")."""
    if not raw.startswith("("):
        return raw
    return "C" + raw[1:] if raw[1:2].isalpha() and raw[1:2].upper() != "C" else raw[1:]


def find_invoice_code(text: str) -> SerialMatch | None:
    """The fapiao invoice code (10 or 12 digits) after 发票代码, or None."""
    label = INVOICE_CODE_LABEL_RE.search(text)
    if not label:
        return None
    m = re.compile(r"\s*[:：]?\s*(?P<v>[0-9OIlSBZ]{10,12})").match(text, label.end())
    if not m:
        return None
    raw = m.group("v")
    return SerialMatch(normalise_serial(raw), raw, m.start("v"), m.end("v"), label.group(0))
