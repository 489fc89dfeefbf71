"""Page images, by evidence id and page number only (never a path from the request)."""

from __future__ import annotations

from fastapi import Depends, HTTPException, Request
from fastapi.responses import Response

from forensics.web.auth import User, require
from forensics.web.images import PAGE_WIDTH, WIDTHS
from forensics.web.routes.common import make_router, web

router = make_router()


@router.get("/evidence/{evidence_id}/pages/{number}.jpg", include_in_schema=False)
def page_image(request: Request, evidence_id: str, number: int, w: int = PAGE_WIDTH,
               user: User = Depends(require("reviewer"))) -> Response:
    if w not in WIDTHS:
        raise HTTPException(404, f"pages are served {' or '.join(map(str, WIDTHS))} px wide")
    s = web(request)
    record = s.store.get(evidence_id)
    if record is None:
        raise HTTPException(404, f"No evidence {evidence_id!r}.")
    data = s.images.jpeg(record, number, w)
    if data is None:
        raise HTTPException(404, f"Page {number} of {evidence_id} cannot be drawn: its file is gone or unreadable.")
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"})
