"""The HTTP API, ``/api/v1`` (CONTRACT 3b): evidence records, uploads and decisions.

JSON in and out, ``Authorization: Bearer <token>`` (``forensics users token NAME``), scoped by
the token's role: every route needs a reviewer, the investigator's routes
(:mod:`forensics.web.routes.api_graph`) an investigator. Errors are
``{"error": {"code", "message"}}`` with the failed records' codes where there is one.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import Depends, File, Form, HTTPException, Query, Request, UploadFile
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPBearer
from pydantic import BaseModel, ConfigDict, Field

from forensics.errors import BrokerUnavailable, ForensicsError, InvalidEvent
from forensics.events import UploadEvent, validate_claims
from forensics.store.reviews import REVIEW_FILTERS
from forensics.web.auth import User, require
from forensics.web.routes.common import RequestConn, make_router, web
from forensics.web.routes.queue import VERDICTS, _cursor, _day

#: rows per page of ``GET /evidence`` unless ``limit`` says otherwise, and the most it may ask
PAGE_SIZE, MAX_PAGE = 50, 200
#: folder under the blob root where API uploads are stored (names are generated, never the client's)
UPLOAD_DIR = "api-uploads"
#: file name extensions kept from the client's file name (anything else is stored as .bin)
KEPT_SUFFIXES = {".jpg", ".jpeg", ".png", ".pdf", ".tif", ".tiff", ".webp", ".gif", ".bmp", ".heic", ".xml"}


class ApiError(HTTPException):
    """An HTTP error with the stable error code that goes into its JSON body."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(status, message)
        self.code = code


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorBody(BaseModel):
    """Every error of the API."""

    error: ErrorDetail


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for error responses (all share :class:`ErrorBody`)."""
    return {s: {"model": ErrorBody} for s in statuses}


#: errors any API route can answer
COMMON_ERRORS = errors(401, 403, 422)

bearer = HTTPBearer(auto_error=False, description="An API token from `forensics users token NAME`.")
router = make_router(prefix="/api/v1", tags=["api"], dependencies=[Depends(bearer)], responses=COMMON_ERRORS)


class Record(BaseModel):
    """An evidence record (CONTRACT section 2), with people's ``review`` beside the analysis."""

    model_config = ConfigDict(extra="allow")
    evidence_id: str
    seller_id: str
    status: str
    verdict: str | None = None
    risk: int | None = None
    findings: list[dict[str, Any]] = []
    review: dict[str, Any] | None = None


class EvidenceRow(BaseModel):
    model_config = ConfigDict(extra="allow")
    evidence_id: str
    seller_id: str
    status: str
    verdict: str | None = None
    risk: int | None = None


class EvidencePage(BaseModel):
    """One page of matching records; pass ``next`` as ``after`` for the next page (null: the end)."""

    rows: list[EvidenceRow]
    next: str | None
    count: int


class Accepted(BaseModel):
    """An upload was accepted: its record will be at ``status_url``."""

    evidence_id: str
    status_url: str
    status: str = Field(description="queued (published for a worker) or the record's status when analysed here")
    message_id: str | None = None


class Decision(BaseModel):
    status: str = Field(description="confirmed_forgery, legitimate or needs_more_information")
    reason: str
    comment: str | None = None
    own_template: bool = False


def _record(request: Request, evidence_id: str, conn: Any = None) -> dict[str, Any]:
    record = web(request).store.get(evidence_id, conn)
    if record is None:
        raise ApiError(404, "not_found", f"No evidence {evidence_id!r}.")
    return record


@router.get("/evidence/{evidence_id}", response_model=Record, responses=errors(404))
def get_evidence(request: Request, evidence_id: str, conn: Any = RequestConn,
                 user: User = Depends(require("reviewer"))) -> Any:
    """The evidence record, with the reviewer's decision (``review``, null before one)."""
    return _record(request, evidence_id, conn)


@router.get("/evidence", response_model=EvidencePage, responses=errors(400))
def list_evidence(request: Request, verdict: Literal[VERDICTS] | None = None, code: str | None = None,  # type: ignore[valid-type]
                  seller: str | None = None, review: Literal[REVIEW_FILTERS] = "any",  # type: ignore[valid-type]
                  since: str | None = Query(None, description="First upload day, e.g. 2024-05-01"),
                  until: str | None = Query(None, description="Last upload day, e.g. 2024-05-31"),
                  after: str | None = Query(None, description="The previous page's next"),
                  limit: int = Query(PAGE_SIZE, ge=1, le=MAX_PAGE),
                  conn: Any = RequestConn, user: User = Depends(require("reviewer"))) -> Any:
    """Analysed records, highest risk first (``verdict=error``: failed ones, by id), filtered as
    the review queue is; keyset-paginated by ``after`` (the previous page's ``next``)."""
    if verdict and verdict not in VERDICTS:
        raise ApiError(400, "bad_request", f"verdict must be one of {', '.join(VERDICTS)}")
    if review not in REVIEW_FILTERS:
        raise ApiError(400, "bad_request", f"review must be one of {', '.join(REVIEW_FILTERS)}")
    if not 1 <= limit <= MAX_PAGE:
        raise ApiError(400, "bad_request", f"limit must be 1 to {MAX_PAGE}")
    until_day = _day(until, "until")
    from datetime import timedelta

    result = web(request).reviews.queue(
        verdict=verdict or None, code=(code or "").strip() or None, seller=(seller or "").strip() or None,
        review=review, since=_day(since, "since"), until=until_day + timedelta(days=1) if until_day else None,
        after=_cursor(after), limit=limit, conn=conn)
    nxt = result["next"]
    return {"rows": result["rows"], "count": result["count"],
            "next": f"{'' if nxt[0] is None else nxt[0]}:{nxt[1]}" if nxt else None}


@router.get("/evidence/{evidence_id}/pages/{number}.png", response_class=Response, responses={
    200: {"content": {"image/png": {}}, "description": "The page as the analysis decoded it."}, **errors(404)})
def page_png(request: Request, evidence_id: str, number: int, user: User = Depends(require("reviewer"))) -> Response:
    """Page ``number`` (1-based) of an upload as PNG, turned upright as the analysis saw it."""
    record = _record(request, evidence_id)
    data = web(request).images.png(record, number) if 1 <= number <= 1000 else None
    if data is None:
        raise ApiError(404, "not_found", f"Page {number} of {evidence_id} cannot be drawn: no such page, "
                       "or its file is gone or unreadable.")
    return Response(data, media_type="image/png", headers={"Cache-Control": "private, max-age=3600"})


@router.post("/evidence/{evidence_id}/decisions", status_code=201, responses=errors(400, 404))
def decide(request: Request, evidence_id: str, body: Decision,
           conn: Any = RequestConn, user: User = Depends(require("reviewer"))) -> dict[str, Any]:
    """Record a reviewer's decision, with the same rules and audit entry as the evidence page."""
    s = web(request)
    try:
        review = s.reviews.decide(evidence_id, body.status, body.reason, body.comment, actor=user.name,
                                  role=user.role, request_id=request.state.request_id,
                                  own_template=body.own_template, conn=conn)
    except ValueError as exc:
        if str(exc).startswith("no evidence"):
            raise ApiError(404, "not_found", str(exc)) from None
        raise ApiError(400, "bad_request", str(exc)) from None
    return review


def read_limited(request: Request, file: UploadFile) -> bytes:
    """The uploaded file's bytes; refuses (413) past FORENSICS_MAX_FILE_BYTES and (400) empty files."""
    limit = web(request).settings.max_file_bytes
    data = file.file.read(limit + 1)
    if len(data) > limit:
        raise ApiError(413, "file_too_large", f"The file is over the limit of {limit:,} bytes (FORENSICS_MAX_FILE_BYTES).")
    if not data:
        raise ApiError(400, "empty_file", "The file is empty.")
    return data


def _claims(text: str | None) -> dict[str, str]:
    if not text:
        return {}
    try:
        claimed = json.loads(text)
    except json.JSONDecodeError:
        raise ApiError(400, "invalid_event", 'claims must be a JSON object, e.g. {"total": "12.50"}') from None
    try:
        return validate_claims(claimed, strict=True)
    except InvalidEvent as exc:
        raise ApiError(400, exc.code, exc.message) from None


def _store_blob(request: Request, data: bytes, filename: str | None) -> str:
    """Write the file under the blob root with a generated name; returns its blob path."""
    root = web(request).settings.blob_root_path
    suffix = os.path.splitext(filename or "")[1].lower()
    sha = hashlib.sha256(data).hexdigest()
    rel = f"{UPLOAD_DIR}/{datetime.now(UTC):%Y/%m/%d}/{sha}{suffix if suffix in KEPT_SUFFIXES else '.bin'}"
    path = root / rel
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
        tmp.write_bytes(data)
        os.replace(tmp, path)
    return rel


@router.post("/uploads", status_code=202, response_model=Accepted, responses=errors(400, 413, 503))
def upload(request: Request, file: UploadFile = File(..., description="The uploaded receipt or invoice."),
           seller_id: str = Form(...), claims: str | None = Form(None, description='JSON, e.g. {"total": "12.50"}'),
           evidence_id: str | None = Form(None, description="Defaults to E- and the first 16 hex digits of the sha256."),
           content_type: str | None = Form(None, description="What the uploader claimed the file is."),
           user: User = Depends(require("reviewer"))) -> Any:
    """Store an upload and publish the same event as ``forensics submit`` (analysed in this
    process when no broker is configured); its record is then at ``status_url``."""
    s = web(request)
    data = read_limited(request, file)
    claimed = _claims(claims)
    eid = evidence_id or "E-" + hashlib.sha256(data).hexdigest()[:16]
    event: dict[str, Any] = {"evidence_id": eid, "seller_id": seller_id, "blob": "-",
                             "uploaded_at": datetime.now(UTC).isoformat()}
    if content_type:
        event["content_type"] = content_type
    if claimed:
        event["claimed"] = claimed
    try:
        UploadEvent.from_json(event)  # the worker's own rules, before anything is written
    except InvalidEvent as exc:
        raise ApiError(400, exc.code, exc.message) from None
    event["blob"] = _store_blob(request, data, file.filename)
    status_url = f"/api/v1/evidence/{eid}"
    if not s.settings.broker_url:
        from forensics.pipeline import analyse

        try:
            outcome = analyse(event, s.store, s.settings)
        except ForensicsError as exc:
            raise ApiError(503, exc.code, exc.message) from None
        return JSONResponse(Accepted(evidence_id=eid, status_url=status_url,
                                     status=str(outcome.record.get("status") or "failed")).model_dump(),
                            status_code=202, headers={"Location": status_url})
    from workers.publish import publisher

    try:
        with publisher(s.settings) as send:
            message_id = send(event)
    except InvalidEvent as exc:
        raise ApiError(400, exc.code, exc.message) from None
    except BrokerUnavailable as exc:
        raise ApiError(503, exc.code, exc.message) from None
    return JSONResponse(Accepted(evidence_id=eid, status_url=status_url, status="queued",
                                 message_id=str(message_id)).model_dump(),
                        status_code=202, headers={"Location": status_url})


#: a seed of the graph: ``seller:<id>``
SEED = re.compile(r"^seller:(.+)$")
