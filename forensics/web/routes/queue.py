"""The review queue: what awaits a decision, highest risk first, keyset-paginated."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import Depends, HTTPException, Request
from fastapi.responses import Response

from forensics.store.reviews import REVIEW_FILTERS
from forensics.web.auth import User, require
from forensics.web.routes.common import RequestConn, make_router, page, web

router = make_router()

#: rows per page of the queue
PAGE_SIZE = 50
#: verdict filters offered
VERDICTS = ("flagged", "likely_forgery", "review", "clean", "error")


def _day(value: str | None, name: str) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.combine(date.fromisoformat(value), datetime.min.time(), tzinfo=UTC)
    except ValueError:
        raise HTTPException(400, f"{name} must be a date like 2024-05-31, not {value!r}.") from None


def _cursor(value: str | None) -> tuple[int | None, str] | None:
    if not value:
        return None
    risk, _, eid = value.partition(":")
    try:
        return (int(risk) if risk else None, eid)
    except ValueError:
        raise HTTPException(400, "bad page cursor") from None


def _queue(request: Request, verdict: str | None, code: str | None, seller: str | None, review: str,
           since: str | None, until: str | None, after: str | None, conn: Any = None) -> dict:
    if verdict and verdict not in VERDICTS:
        raise HTTPException(400, f"verdict must be one of {', '.join(VERDICTS)}")
    if review not in REVIEW_FILTERS:
        raise HTTPException(400, f"review must be one of {', '.join(REVIEW_FILTERS)}")
    until_day = _day(until, "until")
    result = web(request).reviews.queue(
        verdict=verdict or None, code=(code or "").strip() or None, seller=(seller or "").strip() or None,
        review=review, since=_day(since, "since"), until=until_day + timedelta(days=1) if until_day else None,
        after=_cursor(after), limit=PAGE_SIZE, conn=conn)
    filters = {k: v for k, v in {"verdict": verdict, "code": code, "seller": seller, "review": review,
                                 "since": since, "until": until}.items() if v}
    nxt = result["next"]
    result["more_url"] = ("/queue/rows?" + urlencode({**filters, "after": f"{'' if nxt[0] is None else nxt[0]}:{nxt[1]}"})
                          if nxt else None)
    result["filters"] = filters
    return result


@router.get("/queue", include_in_schema=False)
def queue_page(request: Request, verdict: str | None = None, code: str | None = None, seller: str | None = None,
               review: str = "open", since: str | None = None, until: str | None = None,
               after: str | None = None, conn: Any = RequestConn, user: User = Depends(require("reviewer"))) -> Response:
    result = _queue(request, verdict, code, seller, review, since, until, after, conn)
    return page(request, "queue.html", user, q=result, verdicts=VERDICTS, reviews=REVIEW_FILTERS)


@router.get("/queue/rows", include_in_schema=False)
def queue_rows(request: Request, verdict: str | None = None, code: str | None = None, seller: str | None = None,
               review: str = "open", since: str | None = None, until: str | None = None,
               after: str | None = None, conn: Any = RequestConn, user: User = Depends(require("reviewer"))) -> Response:
    """The next rows of the queue (htmx appends them in place of the "more" row)."""
    result = _queue(request, verdict, code, seller, review, since, until, after, conn)
    return page(request, "_queue_rows.html", user, q=result)
