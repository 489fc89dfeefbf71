"""What a PDF says about itself: metadata, revisions, JavaScript, attachments and the e-invoice.

pypdf walks the object tree for metadata, JavaScript and embedded files, including the
e-invoice XML of Factur-X / ZUGFeRD / XRechnung; a raw byte scan stands in for it on files it
cannot parse. Nothing in a PDF is ever executed. (The text layer and the page objects are
:mod:`forensics.pdf`'s.)
"""

from __future__ import annotations

import io
import re
import zlib
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from forensics.model import PdfInfo

#: most objects visited when looking for JavaScript (a hostile file may hold millions)
JS_WALK_BUDGET = 50_000

#: most bytes inflated in total by the raw JavaScript scan of a damaged file
RAW_INFLATE_BUDGET = 32 * 1024 * 1024

#: largest embedded file read to check whether it is an e-invoice (bytes)
MAX_EMBEDDED_XML = 20 * 1024 * 1024

#: embedded file names that are e-invoices by convention (lower case)
EINVOICE_NAMES = ("factur-x.xml", "zugferd-invoice.xml", "xrechnung.xml", "order-x.xml")

#: root elements of e-invoice XML (CII, ZUGFeRD 1 CrossIndustryDocument, UBL)
EINVOICE_ROOTS = ("CrossIndustryInvoice", "CrossIndustryDocument", "Invoice", "CreditNote")

# --- what the file says about itself ---------------------------------------------------------


def read_pdf_info(data: bytes) -> PdfInfo:
    """Metadata and structure of a PDF: producer, dates, revisions, JavaScript, attachments and
    the embedded e-invoice XML. Never raises on damaged input; returns what it could read."""
    found: dict[str, Any] = {"incremental_updates": count_incremental_updates(data)}
    # The walk from the catalog (pypdf, ~10 ms an invoice) finds JavaScript only as a
    # dictionary's /JS or /JavaScript name. A file without object streams has every dictionary
    # in its raw bytes (names are never encrypted), where the raw scan looks; when that scan
    # finds no such name anywhere, the walk would answer False, and so would its fallback (the
    # raw scan itself): the answer is known without walking.
    js_free = not _has_name(data, OBJECT_STREAM_NAMES) and not raw_javascript_scan(data)
    reader = _open_reader(data)
    js_checked = False
    if reader is not None:
        parts = (_read_metadata, _read_page_count, _read_attachments) if js_free else (
            _read_metadata, _read_page_count, _read_javascript, _read_attachments)
        for part in parts:
            try:
                found.update(part(reader))
            except Exception:  # noqa: BLE001 - a damaged part must not hide the others
                continue
        js_checked = "has_javascript" in found
    if js_free:
        found["has_javascript"] = False
    elif not js_checked:
        found["has_javascript"] = raw_javascript_scan(data)
    return PdfInfo(**found)


def _open_reader(data: bytes) -> Any:
    """A pypdf reader, decrypted with the empty password when needed; None if unreadable."""
    try:
        from pypdf import PdfReader

        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            return None
        return reader
    except Exception:  # noqa: BLE001 - pypdf missing or the file too damaged for it
        return None


def _read_metadata(reader: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    info = reader.metadata or {}
    for key, name in (("/Producer", "producer"), ("/Creator", "creator")):
        value = _text(info.get(key))
        if value:
            out[name] = value
    for key, name in (("/CreationDate", "created"), ("/ModDate", "modified")):
        value = _text(info.get(key))
        if value:
            out[name] = pdf_date_iso(value)
    if "producer" not in out or "creator" not in out:
        try:
            xmp = reader.xmp_metadata
        except Exception:  # noqa: BLE001 - broken XMP packet
            xmp = None
        if xmp is not None:
            if "producer" not in out and _text(xmp.pdf_producer):
                out["producer"] = _text(xmp.pdf_producer)
            if "creator" not in out and _text(xmp.xmp_creator_tool):
                out["creator"] = _text(xmp.xmp_creator_tool)
    return out


def _read_page_count(reader: Any) -> dict[str, Any]:
    return {"page_count": len(reader.pages)}


def _text(value: Any) -> str | None:
    if value is None:
        return None
    try:
        value = value.get_object()
    except AttributeError:
        pass
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    text = str(value).replace("\x00", "").strip()
    return text[:500] or None


#: D:YYYYMMDDHHmmSS followed by Z, +HH'mm' or -HH'mm' (every part after the year optional)
PDF_DATE = re.compile(
    r"^(?:D:)?(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?\s*(?:([Zz+-])(\d{2})?'?(\d{2})?'?)?"
)


def pdf_date_iso(raw: str) -> str:
    """A PDF date string as ISO 8601 (``2024-03-01T10:20:30+01:00``); the raw text if unparseable."""
    m = PDF_DATE.match(raw.strip())
    if not m:
        return raw
    year, month, day, hour, minute, second, sign, tzh, tzm = m.groups()
    try:
        datetime(
            int(year),
            int(month or 1),
            int(day or 1),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
        )
    except ValueError:
        return raw
    iso = f"{year}-{month or '01'}-{day or '01'}"
    if hour:
        iso += f"T{hour}:{minute or '00'}:{second or '00'}"
        if sign in ("Z", "z"):
            iso += "Z" if not tzh or int(tzh) == 0 else f"+{tzh}:{tzm or '00'}"
        elif sign:
            iso += f"{sign}{tzh or '00'}:{tzm or '00'}"
    return iso


#: where a linearization dictionary must be, bytes from the start
PDF_HEADER_SCAN = 2048

#: one revision's end: ``startxref <offset> %%EOF``
REVISION_END = re.compile(rb"startxref\s+\d+\s+%%EOF")


def count_incremental_updates(data: bytes) -> int:
    """Revisions saved on top of the original file (0 for a file written once).

    A linearized ("fast web view") file has two end markers by construction; that is not an edit.
    """
    ends = len(REVISION_END.findall(data))
    if ends > 1 and b"/Linearized" in data[:PDF_HEADER_SCAN]:
        ends -= 1
    return max(0, ends - 1)


def _read_javascript(reader: Any) -> dict[str, Any]:
    """Walk the object graph from the catalog looking for JavaScript actions or name trees."""
    from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject

    root = reader.trailer.get("/Root")
    if root is None:
        raise ValueError("no document catalog")  # caller falls back to the raw scan
    stack: list[Any] = [root]
    seen: set[tuple[int, int]] = set()
    visited = 0
    while stack:
        obj = stack.pop()
        if isinstance(obj, IndirectObject):
            key = (obj.idnum, obj.generation)
            if key in seen:
                continue
            seen.add(key)
            obj = obj.get_object()
        visited += 1
        if visited > JS_WALK_BUDGET:
            raise RuntimeError("object graph too large")  # caller falls back to the raw scan
        if isinstance(obj, DictionaryObject):
            if "/JS" in obj or "/JavaScript" in obj or obj.get("/S") == "/JavaScript":
                return {"has_javascript": True}
            stack.extend(v for k, v in obj.items() if k != "/Parent" and _container(v))
        elif isinstance(obj, ArrayObject):
            stack.extend(v for v in obj if _container(v))
    return {"has_javascript": False}


def _container(value: Any) -> bool:
    from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject

    return isinstance(value, IndirectObject | DictionaryObject | ArrayObject)


#: a PDF name token (``#xx`` escapes decoded before comparing)
NAME_TOKEN = re.compile(rb"/[^\s/<>\[\]()%{}]+")
STREAM_START = re.compile(rb"stream\r?\n")


def raw_javascript_scan(data: bytes) -> bool:
    """Look for ``/JS`` or ``/JavaScript`` names in the raw bytes and in inflated streams (for
    files pypdf cannot parse; object streams hide names from a plain byte search)."""
    if _has_js_name(data):
        return True
    budget = RAW_INFLATE_BUDGET
    for m in STREAM_START.finditer(data):
        if budget <= 0:
            break
        end = data.find(b"endstream", m.end())
        chunk = data[m.end() : end if end >= 0 else len(data)]
        try:
            inflated = zlib.decompressobj().decompress(chunk, budget)
        except zlib.error:
            continue
        budget -= len(inflated)
        if _has_js_name(inflated):
            return True
    return False


def _has_js_name(blob: bytes) -> bool:
    return _has_name(blob, JS_NAMES)


#: the names a dictionary that holds JavaScript has (as a key, or /S /JavaScript)
JS_NAMES = (b"/JS", b"/JavaScript")
#: the type name of an object stream (dictionaries compressed out of the raw bytes' sight)
OBJECT_STREAM_NAMES = (b"/ObjStm",)


#: a name token holding an escape (every ``/`` starts a token, which ends at a delimiter)
ESCAPED_NAME_TOKEN = re.compile(rb"/[^\s/<>\[\]()%{}]*#[^\s/<>\[\]()%{}]*")
#: names -> the pattern of those names as whole tokens, written without escapes
_PLAIN_NAMES: dict[tuple[bytes, ...], re.Pattern[bytes]] = {}


def _has_name(blob: bytes, names: tuple[bytes, ...]) -> bool:
    """Is one of ``names`` a name token in ``blob`` (``#xx`` escapes decoded)? The names
    written plainly are searched as whole tokens, and only the tokens holding an escape are
    decoded: the answer of decoding every token (:data:`NAME_TOKEN`), without a Python step
    per token of a binary file."""
    if b"#" not in blob and not any(n in blob for n in names):
        return False
    plain = _PLAIN_NAMES.get(names)
    if plain is None:
        alternatives = b"|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
        plain = _PLAIN_NAMES[names] = re.compile(rb"(?:" + alternatives + rb")(?=[\s/<>\[\]()%{}]|\Z)")
    if plain.search(blob):  # a slash always starts a token: the match is one whole token
        return True
    if b"#" in blob:
        for m in ESCAPED_NAME_TOKEN.finditer(blob):
            name = re.sub(rb"#([0-9A-Fa-f]{2})", lambda h: bytes([int(h.group(1), 16)]), m.group())
            if name in names:
                return True
    return False


# --- embedded files and the e-invoice ---------------------------------------------------------


def _read_attachments(reader: Any) -> dict[str, Any]:
    """Names of embedded files, and the e-invoice XML among them."""
    specs = list(_file_specs(reader))
    names = tuple(dict.fromkeys(name for name, _ in specs))
    out: dict[str, Any] = {"embedded_files": names}
    ranked = sorted(specs, key=lambda s: s[0].lower() not in EINVOICE_NAMES)  # stable sort
    for name, spec in ranked:
        if not (name.lower().endswith(".xml") or name.lower() in EINVOICE_NAMES):
            continue
        raw = _embedded_bytes(spec)
        if raw is None:
            continue
        text = xml_text(raw)
        if name.lower() in EINVOICE_NAMES or is_einvoice_xml(text):
            out["einvoice_xml"] = text
            out["einvoice_name"] = name
            break
    return out


def _file_specs(reader: Any) -> Iterator[tuple[str, Any]]:
    """(name, file specification) from the EmbeddedFiles name tree, the catalog's /AF list
    (PDF/A-3 associated files) and file-attachment annotations."""
    root = reader.trailer["/Root"].get_object()
    names = root.get("/Names")
    if names is not None:
        tree = names.get_object().get("/EmbeddedFiles")
        if tree is not None:
            yield from _name_tree(tree.get_object(), depth=0)
    for spec in _resolve(root.get("/AF")) or []:
        yield from _named(spec)
    for page in reader.pages[:50]:
        for annot in _resolve(page.get("/Annots")) or []:
            annot = _resolve(annot)
            if annot is not None and annot.get("/Subtype") == "/FileAttachment":
                yield from _named(annot.get("/FS"))


def _name_tree(node: Any, depth: int) -> Iterator[tuple[str, Any]]:
    if depth > 32:
        return
    pairs = _resolve(node.get("/Names")) or []
    for i in range(0, len(pairs) - 1, 2):
        yield from _named(pairs[i + 1], fallback=_text(pairs[i]))
    for kid in _resolve(node.get("/Kids")) or []:
        kid = _resolve(kid)
        if kid is not None:
            yield from _name_tree(kid, depth + 1)


def _named(spec: Any, fallback: str | None = None) -> Iterator[tuple[str, Any]]:
    spec = _resolve(spec)
    if spec is None or not hasattr(spec, "get"):
        return
    name = _text(spec.get("/UF")) or _text(spec.get("/F")) or fallback
    if name:
        yield name, spec


def _resolve(obj: Any) -> Any:
    return obj.get_object() if obj is not None and hasattr(obj, "get_object") else obj


def _embedded_bytes(spec: Any) -> bytes | None:
    ef = _resolve(spec.get("/EF"))
    if ef is None:
        return None
    stream = _resolve(ef.get("/F") or ef.get("/UF"))
    if stream is None or not hasattr(stream, "get_data"):
        return None
    declared = _resolve(stream.get("/Length"))
    if isinstance(declared, int) and declared > MAX_EMBEDDED_XML:
        return None
    try:
        raw = stream.get_data()
    except Exception:  # noqa: BLE001 - a damaged attachment is skipped
        return None
    return raw if len(raw) <= MAX_EMBEDDED_XML else None


#: the encoding named in an XML declaration
XML_ENCODING = re.compile(rb"""^<\?xml[^>]*encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")


def xml_text(raw: bytes) -> str:
    """XML bytes as text, honouring a byte-order mark or the declared encoding."""
    for bom, codec in (
        (b"\xef\xbb\xbf", "utf-8-sig"),
        (b"\xff\xfe", "utf-16"),
        (b"\xfe\xff", "utf-16"),
    ):
        if raw.startswith(bom):
            return raw.decode(codec, "replace")
    m = XML_ENCODING.match(raw.lstrip())
    codec = m.group(1).decode("ascii") if m else "utf-8"
    try:
        return raw.decode(codec, "replace")
    except LookupError:
        return raw.decode("utf-8", "replace")


#: the first element of an XML document, after declarations, comments and the doctype
XML_ROOT = re.compile(
    r"^(?:\s|<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^>]*>)*<(?:[\w.-]+:)?([\w.-]+)([^>]*)>", re.S
)


def is_einvoice_xml(text: str) -> bool:
    """True when the root element is a CII, ZUGFeRD 1 or UBL invoice (read without parsing)."""
    m = XML_ROOT.match(text[:20_000])
    if not m or m.group(1) not in EINVOICE_ROOTS:
        return False
    if m.group(1) in ("Invoice", "CreditNote"):
        return "ubl:schema:xsd:" in m.group(2)
    return True
