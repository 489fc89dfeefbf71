"""Known forgeries: an upload that matches one a person confirmed as forged.

A reviewer's ``confirmed_forgery`` decision puts the upload in the store's known-forgery
registry; this detector compares each new upload's page fingerprints with theirs and says which
decision it matches. Only near-certain matches count (the same pixels, the same merchant +
serial + date + total, or pixel hashes a re-encoding apart): a shared shop layout is not a
match (one shop's honest receipts sit a few pHash bits apart).
"""

from __future__ import annotations

from typing import Any

from forensics.detectors import Analysis, StoreView
from forensics.detectors.duplicates import fingerprint_rows
from forensics.fingerprints import hamming
from forensics.model import CheckResult, Finding

#: most pHash and dHash bits (each, of 64) a re-encoded copy of a known forgery may differ by
NEAR_RADIUS = 2


class KnownForgeries:
    """Matches an upload against the pages of every upload confirmed as a forgery."""

    name = "known_forgery"

    def run(self, analysis: Analysis, store: StoreView) -> CheckResult:
        known = store.known_forgery_prints()
        if not known:
            return CheckResult(status="done: no known forgeries yet")
        mine = fingerprint_rows(analysis, None)
        if not mine:
            return CheckResult.skipped("no page fingerprints")
        matches: dict[str, tuple[float, str, dict[str, Any]]] = {}
        for k in known:
            if k["evidence_id"] == analysis.event.evidence_id:
                continue
            for m in mine:
                how = _match(m, k)
                if how and how[0] > matches.get(k["evidence_id"], (0.0,))[0]:
                    matches[k["evidence_id"]] = (*how, k)
        findings = [
            Finding(
                code="known_forgery_match",
                severity="high",
                score=score,
                message=(f"Matches evidence {eid} ({how}), which {k['decided_by']} confirmed as a forgery "
                         f"on {str(k['decided_at'])[:10]} (reason {k['reason']}, decision #{k['audit_id']})."),
                related=(eid,),
                evidence={"known_forgery": eid, "decision": k["audit_id"], "match": how},
            )
            for eid, (score, how, k) in sorted(matches.items())
        ]
        return CheckResult(findings=tuple(findings))


def _match(mine: dict[str, Any], known: dict[str, Any]) -> tuple[float, str] | None:
    if mine.get("pixel_sha256") and mine["pixel_sha256"] == known["pixel_sha256"]:
        return 1.0, "the same image"
    if mine.get("content_key") and mine["content_key"] == known["content_key"]:
        return 0.95, "the same merchant, serial, date and total"
    if (mine["version"] == known["version"] and hamming(mine["phash"], known["phash"]) <= NEAR_RADIUS
            and hamming(mine["dhash"], known["dhash"]) <= NEAR_RADIUS):
        return 0.9, "the same pixels, re-encoded"
    return None


detector = KnownForgeries()
