"""The two parties of a Chinese VAT invoice (fapiao): buyer (购买方) and seller (销售方).

A fapiao prints each party as a block of labelled lines beside the block's name written down
the left edge one character a line ("购 | 名称: …", "买 | 纳税人识别号: …", "方 | 地址、电话: …";
the seller's block below, "销", "售", "方"). Which block a line belongs to is read from that
first character; within a block, 名称 is the party's name, 纳税人识别号 (or 统一社会信用代码)
its tax id, and 地址、电话 its address followed by its telephone number. The seller is the
merchant. Under the goods table the 合计 line states the sum of the amounts and the sum of the
tax (subtotal and tax); 价税合计 (the total) is read by the totals rules.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from forensics.fields.amounts import AmountMatch, find_amounts
from forensics.fields.layout import TextLine
from forensics.fields.taxids import find_tax_ids

#: the first character of a block line, with the separator OCR reads for the block's frame
_BLOCK = re.compile(r"^\s*(?P<c>[购买销售方])\s*[|│丨1l]?\s*")
#: 名称 and its colon; OCR misreads the 称 ("名 Hs :")
_NAME = re.compile(r"名[^:：]{0,4}[:：]\s*(?P<v>\S.*)$")
_TAX_LABEL = re.compile(r"(?:纳税人识别号|统一社会信用代码)")
_ADDRESS = re.compile(r"地\s*址\s*[、,，]?\s*电\s*话\s*[:：]?\s*(?P<v>\S.*)$")
#: the sums line under the goods table ("合计 ¥121.76 ¥7.31"), not the total's 价税合计
_SUMS = re.compile(r"^\s*合\s*计")
#: a telephone number closing the address-and-telephone line
_TRAILING_PHONE = re.compile(r"\s*(?P<p>\(?0\d{2,3}\)?[\s\-]?\d{7,8}|1\d{10})\s*$")


@dataclass(frozen=True)
class Span:
    """One item of a party: its normalised value, where it stands on its line, field extras."""

    line: TextLine
    start: int
    end: int
    value: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def raw(self) -> str:
        return self.line.text[self.start:self.end].strip()


@dataclass(frozen=True)
class Party:
    """One party's name, tax id, address and telephone, each where it was read."""

    name: Span | None = None
    tax_id: Span | None = None
    address: Span | None = None
    phone: Span | None = None


def fapiao_parties(lines: list[TextLine]) -> dict[str, Party]:
    """``{"buyer": Party, "seller": Party}`` for the blocks found (none on other documents)."""
    found: dict[str, dict[str, Span]] = {}
    current: str | None = None
    for line in lines:
        m = _BLOCK.match(line.text)
        if not m:
            current = None
            continue
        c = m.group("c")
        if c in "购销":
            current = "buyer" if c == "购" else "seller"
        elif c in "买售":
            current = "buyer" if c == "买" else "seller"
        if current is None:
            continue
        party = found.setdefault(current, {})
        rest = line.text
        if (n := _NAME.search(rest)) and "name" not in party:
            party["name"] = Span(line, n.start("v"), n.end("v"), n.group("v").strip())
        if _TAX_LABEL.search(rest) and "tax_id" not in party:
            ids = find_tax_ids(rest)
            if ids:
                t = ids[0]
                party["tax_id"] = Span(line, t.start, t.end, t.value, {"scheme": t.scheme, "valid": t.valid})
        if (a := _ADDRESS.search(rest)) and "address" not in party:
            value, start, end = a.group("v"), a.start("v"), a.end("v")
            if p := _TRAILING_PHONE.search(value):
                party["phone"] = Span(line, start + p.start("p"), start + p.end("p"), re.sub(r"\D", "", p.group("p")))
                value = value[: p.start()]
                end = start + len(value)
            if value.strip():
                party["address"] = Span(line, start, end, value.strip())
    return {k: Party(**v) for k, v in found.items()}


def fapiao_sums(lines: list[TextLine]) -> tuple[TextLine, AmountMatch, AmountMatch] | None:
    """The 合计 line's two amounts: the sum of the goods' amounts (subtotal) and of their tax."""
    for line in lines:
        if _SUMS.match(line.text):
            amounts = [a for a in find_amounts(line.text) if a.has_decimals]
            if len(amounts) == 2 and 0 <= amounts[1].value < amounts[0].value:
                return line, amounts[0], amounts[1]
    return None
