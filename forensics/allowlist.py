""""The shop's own template": layout matches a reviewer declared honest drop to information.

A reviewer who decides an ``edited_copy`` / ``same_layout`` match ``legitimate`` can say the
layout is the shop's own template. The store keeps an entry (issuer key + page-1 layout hash);
from then on, when a record's link findings are recomputed, an ``edited_copy`` or
``same_layout_cross_seller`` finding of an upload of that issuer whose layout is within
:data:`LAYOUT_RADIUS` of the entry's becomes ``info``, naming the decision. An admin removes
the entry in the web app; the findings go back at their next refresh.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from forensics.fingerprints import hamming
from forensics.store import reviews

#: finding codes an allowlist entry softens
SOFTENED_CODES = ("edited_copy", "same_layout_cross_seller")
#: most layout-hash bits (of 64) between an upload and the allowlisted one: the same layout
LAYOUT_RADIUS = 10


@dataclass
class TemplateAllowlist:
    """Active entries and, for the uploads being refreshed, their issuer keys and layouts."""

    entries: list[dict[str, Any]] = field(default_factory=list)
    keys: dict[str, set[str]] = field(default_factory=dict)
    layouts: dict[str, int] = field(default_factory=dict)

    @classmethod
    def load(cls, conn: Any, ids: set[str] | list[str]) -> TemplateAllowlist:
        """The allowlist as it applies to ``ids`` (two small queries, none when it is empty)."""
        entries = reviews.allowlist_entries(conn)
        if not entries:
            return cls()
        ids = sorted(ids)
        return cls(entries, reviews.issuer_keys(conn, ids), reviews.layout_hashes(conn, ids))

    def entry_for(self, evidence_id: str) -> dict[str, Any] | None:
        """The entry that covers this upload's layout and issuer, or None."""
        layout = self.layouts.get(evidence_id)
        keys = self.keys.get(evidence_id, set())
        if layout is None or not keys:
            return None
        for e in self.entries:
            if e["issuer_key"] in keys and hamming(layout, e["layout_hash"]) <= LAYOUT_RADIUS:
                return e
        return None

    def soften(self, evidence_id: str, findings: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Findings (record JSON) with allowlisted layout matches dropped to ``info``."""
        if not self.entries:
            return findings
        entry = self.entry_for(evidence_id)
        if entry is None:
            return findings
        out = []
        for f in findings:
            if f.get("code") in SOFTENED_CODES and f.get("severity") != "info":
                note = (f" Counted as information only: {entry['created_by']} marked this layout as the "
                        f"shop's own template on {str(entry['created_at'])[:10]} (decision #{entry['audit_id']} "
                        f"on evidence {entry['evidence_id']}).")
                f = {**f, "severity": "info", "message": f.get("message", "") + note,
                     "evidence": {**(f.get("evidence") or {}), "allowlisted": {
                         "entry": entry["id"], "decision": entry["audit_id"], "evidence_id": entry["evidence_id"]}}}
            out.append(f)
        return out
