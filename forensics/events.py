"""The upload event (CONTRACT.md section 1): validation and blob resolution."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from forensics.errors import BlobNotFound, BlobOutsideRoot, InvalidEvent

#: evidence and seller ids: 1-128 of A-Za-z0-9._:-
ID_PATTERN = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

#: fields a seller may claim about the document
CLAIM_FIELDS = ("merchant", "date", "total", "currency", "serial")
#: a claimed amount: digits with optional thousands separators and decimals, a currency mark
#: or code before it at most ("12.50", "1,234.50", "RM 12.50", "12,50")
CLAIM_AMOUNT = re.compile(r"^(?:[A-Za-z]{1,3}\s?|[$€£¥])?\s*-?\d[\d.,' ]*$")
#: a claimed date: digits in one of the usual orders, or a month name ("2019-03-04", "4/3/2019")
CLAIM_DATE = re.compile(r"^(?=.*\d)[\w ./,-]{6,40}$")
#: a claimed free-text value (merchant, serial): at most this long
CLAIM_TEXT_MAX = 256


def validate_claims(claimed: Any, *, strict: bool = False) -> dict[str, str]:
    """The claims of an event, checked: an amount for ``total``, a date for ``date``, a
    three-letter code for ``currency``. Unknown names are ignored (producers may send more),
    or refused when ``strict`` (the CLI, where a typo is the user's). Raises InvalidEvent."""
    if not isinstance(claimed, dict):
        raise InvalidEvent("claimed must be an object like {\"total\": \"12.50\"}.")
    unknown = sorted(k for k in claimed if k not in CLAIM_FIELDS)
    if strict and unknown:
        raise InvalidEvent(f"unknown claim {', '.join(map(repr, unknown))}; claims are {', '.join(CLAIM_FIELDS)}.")
    out = {}
    for key in CLAIM_FIELDS:
        value = claimed.get(key)
        if value is None:
            continue
        text = str(value).strip()
        if not text or len(text) > CLAIM_TEXT_MAX:
            raise InvalidEvent(f"claimed {key} must be 1-{CLAIM_TEXT_MAX} characters; got {text[:40]!r}.")
        if key == "total" and not CLAIM_AMOUNT.match(text):
            raise InvalidEvent(f"claimed total {text!r} is not an amount like 12.50.")
        if key == "date" and not CLAIM_DATE.match(text):
            raise InvalidEvent(f"claimed date {text!r} is not a date like 2024-03-15.")
        if key == "currency" and not re.fullmatch(r"[A-Za-z]{3}", text):
            raise InvalidEvent(f"claimed currency {text!r} is not a three-letter ISO 4217 code like EUR.")
        out[key] = text
    return out


@dataclass(frozen=True)
class UploadEvent:
    """One proof upload as the marketplace announced it."""

    evidence_id: str
    seller_id: str
    blob: str
    content_type: str | None = None
    uploaded_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    listing_id: str | None = None
    brand: str | None = None
    claimed: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Any, *, received_at: datetime | None = None) -> UploadEvent:
        """Validate a JSON event; raise :class:`InvalidEvent` saying what is wrong."""
        if not isinstance(data, dict):
            raise InvalidEvent("The upload event must be a JSON object.")
        for key in ("evidence_id", "seller_id"):
            value = data.get(key)
            if not isinstance(value, str) or not ID_PATTERN.match(value):
                raise InvalidEvent(
                    f"{key} must be 1-128 characters of A-Z, a-z, 0-9, '.', '_', ':' or '-'; got {value!r}."
                )
        blob = data.get("blob")
        if not isinstance(blob, str) or not blob:
            raise InvalidEvent("blob must name the uploaded file (a path under FORENSICS_BLOB_ROOT).")
        uploaded_at = received_at or datetime.now(UTC)
        if data.get("uploaded_at"):
            uploaded_at = parse_timestamp(data["uploaded_at"])
        claimed = validate_claims(data.get("claimed") or {})
        optional = {}
        for key in ("content_type", "listing_id", "brand"):
            value = data.get(key)
            if value is not None and not isinstance(value, str):
                raise InvalidEvent(f"{key} must be a string.")
            optional[key] = value or None
        return cls(
            evidence_id=data["evidence_id"],
            seller_id=data["seller_id"],
            blob=blob,
            uploaded_at=uploaded_at,
            claimed=claimed,
            **optional,
        )

    @classmethod
    def partial(cls, data: Any) -> UploadEvent | None:
        """The part of an invalid event that still names its evidence and seller, to record the
        failure under; None when even those are missing or invalid."""
        if not isinstance(data, dict):
            return None
        ids = [data.get(k) for k in ("evidence_id", "seller_id")]
        if not all(isinstance(v, str) and ID_PATTERN.match(v) for v in ids):
            return None
        blob = data.get("blob")
        return cls(evidence_id=ids[0], seller_id=ids[1], blob=blob if isinstance(blob, str) else "")

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "evidence_id": self.evidence_id,
            "seller_id": self.seller_id,
            "blob": self.blob,
            "uploaded_at": self.uploaded_at.isoformat(),
        }
        for key in ("content_type", "listing_id", "brand"):
            if getattr(self, key):
                out[key] = getattr(self, key)
        if self.claimed:
            out["claimed"] = dict(self.claimed)
        return out


def parse_timestamp(value: Any) -> datetime:
    """An RFC 3339 timestamp; a naive one is taken as UTC."""
    if not isinstance(value, str):
        raise InvalidEvent(f"uploaded_at must be an RFC 3339 timestamp; got {value!r}.")
    try:
        ts = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidEvent(f"uploaded_at {value!r} is not an RFC 3339 timestamp.") from exc
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


def resolve_blob(blob: str, root: Path) -> Path:
    """The file a blob reference names, refusing anything outside ``root``.

    Accepts a relative path, an absolute path inside ``root`` or a ``file://`` URI inside it.
    Symlinks are resolved before the check, so a link pointing out of the root is refused too.
    """
    root = root.resolve()
    if "://" in blob:
        parsed = urlparse(blob)
        if parsed.scheme != "file" or parsed.netloc not in ("", "localhost"):
            raise BlobOutsideRoot(
                f"Blob {blob!r} uses scheme {parsed.scheme!r}; only paths and file:// URIs under "
                "FORENSICS_BLOB_ROOT are read."
            )
        raw = Path(unquote(parsed.path))
    else:
        raw = Path(blob)
    if "\x00" in str(raw):
        raise BlobOutsideRoot("Blob path contains a NUL byte.")
    if ".." in raw.parts:
        raise BlobOutsideRoot(f"Blob {blob!r} contains '..'; paths must stay inside FORENSICS_BLOB_ROOT.")
    candidate = raw if raw.is_absolute() else root / raw
    resolved = candidate.resolve()
    if resolved != root and root not in resolved.parents:
        raise BlobOutsideRoot(
            f"Blob {blob!r} is outside FORENSICS_BLOB_ROOT ({root}); move the file under it or "
            "set FORENSICS_BLOB_ROOT."
        )
    if not resolved.is_file():
        raise BlobNotFound(f"Blob {blob!r} does not exist under {root}.")
    return resolved
