"""Findings -> risk (0-100), verdict and a plain-words explanation.

Each finding contributes ``weight(severity) * score``; contributions combine like independent
pieces of evidence (noisy-or), so two medium findings weigh more than one but never pass 100.
``info`` findings never raise the risk: a shared shop layout is not fraud by itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from forensics.settings import Settings

#: how much one finding of each severity (at score 1.0) weighs, as a probability of forgery
SEVERITY_WEIGHT = {"info": 0.0, "low": 0.15, "medium": 0.4, "high": 0.85}

#: findings that may send a record to review but never make it ``likely_forgery``: an upload
#: that others copied later is the victim as often as the source (CONTRACT.md, section 3)
REVIEW_AT_MOST = frozenset({"copied_by_later_upload"})


def risk_of(findings: Iterable[dict[str, Any]]) -> int:
    """Combined risk 0-100 of findings given as record JSON (``severity``, ``score``)."""
    clean = 1.0
    for f in findings:
        w = SEVERITY_WEIGHT.get(f.get("severity", "info"), 0.0) * float(f.get("score", 1.0))
        clean *= 1.0 - min(max(w, 0.0), 1.0)
    return int(round(100 * (1.0 - clean)))


def verdict_of(findings: list[dict[str, Any]], checks: dict[str, str], settings: Settings) -> tuple[int, str]:
    """(risk, verdict). ``clean`` only when nothing calls for a human: a medium or high finding,
    or a detector that failed to run, sends the record to review even at low combined risk."""
    risk = risk_of(findings)
    if risk >= settings.forgery_risk:
        own = risk_of(f for f in findings if f.get("code") not in REVIEW_AT_MOST)
        if own >= settings.forgery_risk:
            return risk, "likely_forgery"
        risk = settings.forgery_risk - 1  # being copied adds to the risk up to review, no further
    needs_human = any(f.get("severity") in ("medium", "high") for f in findings) or any(
        str(s).startswith("failed") for s in checks.values()
    )
    if risk >= settings.review_risk or needs_human:
        return risk, "review"
    return risk, "clean"


def explain(record: dict[str, Any]) -> list[str]:
    """Sentences a reviewer reads: the verdict, then each finding that is not mere information."""
    verdict = record.get("verdict")
    if record.get("status") == "failed":
        err = record.get("error") or {}
        return [f"Could not be analysed: {err.get('message', 'unknown error')} ({err.get('code')})."]
    if record.get("status") == "pending":
        pending = record.get("pending") or {}
        return [f"Not analysed yet: pending since {pending.get('since')} (attempt {pending.get('attempts', 1)}).",
                "A worker is reading it, or the worker that took it died and the broker will redeliver "
                "it: RabbitMQ at once, Redis once the dead worker's heartbeat is older than "
                "FORENSICS_REDIS_HEARTBEAT_MS (15 s by default, then at its next maintenance pass)."]
    lines = []
    flagged = [f for f in record.get("findings", []) if f.get("severity") != "info"]
    if verdict == "clean":
        lines.append("Nothing in this document calls for a reviewer.")
    else:
        lines.append(f"Risk {record.get('risk')}/100 ({verdict}): {len(flagged)} finding(s) to check.")
    failed = [k for k, v in (record.get("checks") or {}).items() if str(v).startswith("failed")]
    if failed:
        lines.append("These checks could not run, so their absence of findings means nothing: "
                     + ", ".join(failed) + ".")
    for f in sorted(flagged, key=lambda f: -SEVERITY_WEIGHT.get(f.get("severity", "info"), 0)):
        where = ""
        if f.get("box"):
            where = f" (page {f.get('page') or 1}, box {tuple(f['box'])})"
        lines.append(f"[{f['severity']}] {f['message']}{where}")
    return lines
