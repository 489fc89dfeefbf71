"""Findings -> risk and verdict; link findings derived from relations."""

from __future__ import annotations

from forensics.links import link_findings
from forensics.settings import Settings
from forensics.verdict import explain, risk_of, verdict_of

S = Settings()


def f(sev: str, score: float = 1.0) -> dict:
    return {"code": "x", "severity": sev, "score": score, "message": "m"}


def test_info_never_raises_risk():
    assert risk_of([f("info")] * 5) == 0
    assert verdict_of([f("info")], {}, S) == (0, "clean")


def test_risk_grows_with_evidence_and_stays_bounded():
    one, two = risk_of([f("medium")]), risk_of([f("medium")] * 2)
    assert 0 < one < two < 100
    assert risk_of([f("high")] * 10) <= 100


def test_high_finding_or_failed_check_needs_a_human():
    assert verdict_of([f("high", 0.1)], {}, S)[1] == "review"
    assert verdict_of([], {"ocr": "done", "pixel": "failed: boom"}, S)[1] == "review"
    assert verdict_of([f("high"), f("high")], {}, S)[1] == "likely_forgery"
    assert verdict_of([f("medium", 0.2)], {}, S)[1] == "review"
    assert verdict_of([f("low")], {"x": "skipped: no pdf"}, S)[1] == "clean"


def test_explain_names_failed_checks_and_boxes():
    rec = {"status": "analyzed", "verdict": "review", "risk": 40, "checks": {"a": "failed: x"},
           "findings": [{"code": "c", "severity": "medium", "message": "Total repainted.", "box": [1, 2, 3, 4], "page": 1}]}
    text = "\n".join(explain(rec))
    assert "a" in text and "Total repainted." in text and "(1, 2, 3, 4)" in text


def test_link_findings_cross_seller_vs_same_seller():
    meta = {"E1": {"seller_id": "S1"}, "E2": {"seller_id": "S2"}, "E3": {"seller_id": "S1"}}
    rels = [
        {"a": "E1", "b": "E2", "kind": "same_image", "score": 0.97, "details": {}},
        {"a": "E1", "b": "E3", "kind": "edited_copy", "score": 0.9, "details": {"boxes": [[1, 2, 3, 4]]}},
        {"a": "E2", "b": "E3", "kind": "same_layout", "score": 0.6, "details": {}},
    ]
    e1 = {x.code: x for x in link_findings("E1", rels, meta)}
    assert e1["duplicate_upload"].severity == "high" and e1["duplicate_upload"].related == ("E2",)
    assert e1["edited_copy"].severity == "medium"  # same seller
    assert "same_layout_cross_seller" not in e1
    e3 = {x.code: x for x in link_findings("E3", rels, meta)}
    assert e3["same_layout_cross_seller"].severity == "info" and e3["same_layout_cross_seller"].related == ("E2",)
    assert set(e3) == {"edited_copy", "same_layout_cross_seller"}


def test_an_original_copied_later_is_told_so_and_not_called_forged():
    from datetime import UTC, datetime, timedelta

    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    meta = {"E1": {"seller_id": "S1", "uploaded_at": t0},
            "E2": {"seller_id": "S2", "uploaded_at": t0 + timedelta(hours=1)},
            "E3": {"seller_id": "S3", "uploaded_at": t0 + timedelta(hours=2)}}
    rels = [
        {"a": "E1", "b": "E2", "kind": "same_image", "score": 0.97, "details": {}},
        {"a": "E1", "b": "E3", "kind": "edited_copy", "score": 0.9, "details": {"boxes": [[1, 2, 3, 4]]}},
        {"a": "E1", "b": "E3", "kind": "serial_reuse", "score": 0.9, "details": {"serial": "CS1"}},
        {"a": "E1", "b": "E3", "kind": "serial_conflict", "score": 0.9, "details": {"serial": "CS1", "fields": ["total"]}},
    ]
    e1 = {x.code: x for x in link_findings("E1", rels, meta)}
    assert set(e1) == {"copied_by_later_upload"}, e1
    copied = e1["copied_by_later_upload"]
    assert copied.related == ("E2", "E3") and copied.severity == "medium"
    assert "E2" in copied.message and "seller S2" in copied.message and "seller S3" in copied.message
    risk, verdict = verdict_of([copied.to_json()], {}, S)
    assert verdict == "review"
    # the later uploads keep the findings that accuse them
    e3 = {x.code for x in link_findings("E3", rels, meta)}
    assert e3 == {"edited_copy", "serial_reuse", "serial_conflict"}
    assert verdict_of([x.to_json() for x in link_findings("E3", rels, meta)], {}, S)[1] == "likely_forgery"


def test_being_copied_never_tips_own_evidence_into_likely_forgery():
    copied = {"code": "copied_by_later_upload", "severity": "medium", "score": 1.0, "message": "m"}
    own = [f("medium"), f("medium")]  # own evidence alone: review (risk 64)
    assert verdict_of(own, {}, S)[1] == "review"
    risk, verdict = verdict_of(own + [copied], {}, S)
    assert verdict == "review" and risk < S.forgery_risk
    # own evidence that says more still does
    assert verdict_of([f("high"), f("high"), copied], {}, S)[1] == "likely_forgery"
