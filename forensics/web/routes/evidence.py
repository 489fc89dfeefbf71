"""The evidence page (the page with its evidence drawn on it), side by side, and decisions."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from forensics.store.reviews import REASONS, STATUSES
from forensics.web import views
from forensics.web.auth import User, require
from forensics.web.routes.common import RequestConn, make_router, page, web

router = make_router()


def _record(request: Request, evidence_id: str, conn: Any = None) -> dict:
    record = web(request).store.get(evidence_id, conn)
    if record is None:
        raise HTTPException(404, f"No evidence {evidence_id!r}.")
    return record


def _history(record: dict, archived: list[dict], audit: list[dict]) -> list[dict]:
    """Analyses (earlier ones archived when the bytes changed, then the current) and people's
    actions on this upload, oldest first."""
    items = [{"at": old.get("analyzed_at") or old.get("archived_at"), "kind": "analysis",
              "text": f"Analysed: {old.get('verdict')} (risk {old.get('risk')}), file {str(old.get('sha256'))[:12]}…"}
             for old in archived]
    if record.get("analyzed_at"):
        items.append({"at": record["analyzed_at"], "kind": "analysis",
                      "text": f"Analysed: {record.get('verdict')} (risk {record.get('risk')}) "
                              f"by {record.get('analyzer_version')}"})
    for a in audit:
        after = a.get("after") or {}
        if a["action"] == "decide":
            text = f"{a['actor']} ({a['role']}) decided {after.get('status')}, reason {a['reason']}"
            if after.get("comment"):
                text += f": “{after['comment']}”"
            if after.get("known_forgery"):
                text += "; added to the known forgeries"
            elif after.get("known_forgery") is False:
                text += "; taken out of the known forgeries"
            if after.get("template_allowlist"):
                text += f"; layout allowlisted as {after['template_allowlist']['issuer_key']}'s own template"
        elif a["action"] == "allowlist_remove":
            text = f"{a['actor']} ({a['role']}) removed the shop's-own-template entry"
        else:
            text = f"{a['actor']} ({a['role']}): {a['action'].replace('_', ' ')}"
        items.append({"at": a["at"], "kind": "decision", "text": text, "audit_id": a["id"]})
    return sorted(items, key=lambda i: str(i["at"]))


@router.get("/evidence/{evidence_id}", include_in_schema=False)
def evidence_page(request: Request, evidence_id: str, decided: str | None = None,
                  conn: Any = RequestConn, user: User = Depends(require("reviewer"))) -> Response:
    data = web(request).reviews.evidence_page(evidence_id, conn=conn)
    if data is None:
        raise HTTPException(404, f"No evidence {evidence_id!r}.")
    record = data["record"]
    findings = views.sorted_findings(record)
    boxes = views.finding_boxes(record, findings) + views.field_boxes(record)
    related = views.related_ids(record)
    boxed = {b.id for b in boxes}
    return page(request, "evidence.html", user, r=record, findings=findings, boxed=boxed,
                pages=views.pages_of(record, {"pages": data["pages"]}, boxes),
                checks=views.checks_by_outcome(record.get("checks")), traces=views.traces(record),
                related=[data["briefs"][i] for i in related if i in data["briefs"]],
                comparable=views.COMPARABLE_CODES, history=_history(record, data["archived"], data["audit"]),
                statuses=STATUSES, reasons=REASONS, decided=decided, next_id=data["next"])


@router.get("/evidence/{evidence_id}/compare/{other_id}", include_in_schema=False)
def compare_page(request: Request, evidence_id: str, other_id: str, code: str | None = None,
                 user: User = Depends(require("reviewer"))) -> Response:
    s = web(request)
    record, other = _record(request, evidence_id), _record(request, other_id)
    mine_r, theirs_r = s.store.reading(evidence_id), s.store.reading(other_id)
    mine, theirs = views.compare_boxes(record, other, code)
    size_me = views.page_sizes(record, mine_r).get(1)
    size_other = views.page_sizes(other, theirs_r).get(1)
    if size_me and size_other:
        # the differing boxes were measured on one page: draw them at the same place on the other
        mine, theirs = (mine + views.scale_boxes(theirs, size_other, size_me),
                        theirs + views.scale_boxes(mine, size_me, size_other))
    mine += views.field_boxes(record, views.IDENTITY_FIELDS)
    theirs += views.field_boxes(other, views.IDENTITY_FIELDS)
    half = 560
    left = [p for p in views.pages_of(record, mine_r, mine, half) if p.number == 1]
    right = [p for p in views.pages_of(other, theirs_r, theirs, half) if p.number == 1]
    finding = next((f for f in record.get("findings") or [] if other_id in (f.get("related") or [])
                    and (not code or f["code"] == code)), None)
    return page(request, "compare.html", user, r=record, o=other, left=left, right=right, finding=finding,
                code=code)


@router.post("/evidence/{evidence_id}/decision", include_in_schema=False)
def decide(request: Request, evidence_id: str, status: str = Form(...), reason: str = Form(...),
           comment: str = Form(""), own_template: str | None = Form(None), then: str = Form("stay"),
           conn: Any = RequestConn, user: User = Depends(require("reviewer"))) -> Response:
    s = web(request)
    try:
        s.reviews.decide(evidence_id, status, reason, comment, actor=user.name, role=user.role,
                         request_id=request.state.request_id, own_template=bool(own_template), conn=conn)
    except ValueError as exc:
        raise HTTPException(404 if str(exc).startswith("no evidence") else 400, str(exc)) from None
    if then == "next":
        nxt = s.reviews.next_after(evidence_id, _record(request, evidence_id, conn).get("risk"), conn=conn)
        if nxt:
            return RedirectResponse(f"/evidence/{nxt}?decided={evidence_id}", status_code=303)
        return RedirectResponse("/queue", status_code=303)
    return RedirectResponse(f"/evidence/{evidence_id}", status_code=303)
