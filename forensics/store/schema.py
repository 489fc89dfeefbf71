"""Tables of the evidence store (SQLAlchemy Core). Alembic migrations create and change them.

The truth lives here, in PostgreSQL in production: workers keep in-memory indexes but catch up
from these tables (``page_fingerprints.id`` is monotonic for that).
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

#: evidence and seller ids are at most 128 characters (CONTRACT.md)
ID = String(128)

evidence = Table(
    "evidence",
    metadata,
    Column("evidence_id", ID, primary_key=True),
    Column("seller_id", ID, nullable=False, index=True),
    Column("status", String(16), nullable=False),
    Column("verdict", String(24), nullable=True),
    Column("risk", Integer, nullable=True),
    Column("sha256", String(64), nullable=True, index=True),
    Column("media_type", String(64), nullable=True),
    Column("claimed_type", String(128), nullable=True),
    Column("pages", Integer, nullable=True),
    Column("blob", Text, nullable=False),
    Column("uploaded_at", DateTime(timezone=True), nullable=False),
    Column("listing_id", String(256), nullable=True),
    Column("brand", String(256), nullable=True),
    Column("claimed", JSON, nullable=True),
    Column("fields", JSON, nullable=True),
    #: findings that rest on this upload alone (relation findings are derived, see relations)
    Column("own_findings", JSON, nullable=True),
    #: every finding, own and relation-derived, as the record shows them
    Column("findings", JSON, nullable=True),
    Column("checks", JSON, nullable=True),
    Column("document", JSON, nullable=True),
    Column("error_code", String(64), nullable=True),
    Column("error_message", Text, nullable=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("analyzed_at", DateTime(timezone=True), nullable=True),
    Column("analyzer_version", String(64), nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

#: earlier analyses of an evidence id whose bytes changed (the id was re-uploaded)
evidence_history = Table(
    "evidence_history",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("evidence_id", ID, nullable=False, index=True),
    Column("sha256", String(64), nullable=True),
    Column("record", JSON, nullable=False),
    Column("archived_at", DateTime(timezone=True), nullable=False),
)

#: uploads refused because their evidence id is another seller's (the first record is kept)
evidence_conflicts = Table(
    "evidence_conflicts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("evidence_id", ID, nullable=False, index=True),
    Column("seller_id", ID, nullable=False),
    Column("sha256", String(64), nullable=True),
    Column("event", JSON, nullable=False),
    Column("attempted_at", DateTime(timezone=True), nullable=False),
)

#: what was read, for reviewers and re-analysis (kept apart: it is the bulky part)
readings = Table(
    "readings",
    metadata,
    Column("evidence_id", ID, ForeignKey("evidence.evidence_id", ondelete="CASCADE"), primary_key=True),
    Column("sha256", String(64), nullable=False),
    Column("text", Text, nullable=False),
    #: per page: {"page", "source", "engine", "width", "height", "words": [[text, x0, y0, x1, y1, conf, block, line], ...]}
    Column("pages", JSON, nullable=False),
)

page_fingerprints = Table(
    "page_fingerprints",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("evidence_id", ID, ForeignKey("evidence.evidence_id", ondelete="CASCADE"), nullable=False, index=True),
    Column("seller_id", ID, nullable=False),
    Column("page", Integer, nullable=False),
    Column("version", String(32), nullable=False),
    #: 64-bit hashes stored as signed BIGINT (two's complement of the unsigned value)
    Column("phash", BigInteger, nullable=False),
    Column("dhash", BigInteger, nullable=False),
    Column("layout_hash", BigInteger, nullable=False),
    Column("pixel_sha256", String(64), nullable=True, index=True),
    Column("file_sha256", String(64), nullable=True, index=True),
    Column("content_key", String(256), nullable=True, index=True),
    #: "<ISO date>|<total>" of page 1: a candidate source that survives crops and rotations
    Column("date_total_key", String(64), nullable=True, index=True),
    #: SimHash of the words read on the page (signed like the other hashes) and its algorithm
    #: version; null when too little was read. A candidate source that survives any geometry
    Column("text_hash", BigInteger, nullable=True),
    Column("text_version", String(32), nullable=True),
    #: the scan this page is certainly a copy of (same file, same pixels or the same paper
    #: noise as an earlier page): that scan's first page's pixel sha256; null when this page is
    #: the first of its scan (0014_scan). Pages with one label are one scan: an upload certainly
    #: the same scan as one of them is linked to the others without comparing each
    Column("scan", String(64), nullable=True),
)

serials = Table(
    "serials",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("issuer_key", String(256), nullable=True),
    Column("serial", String(128), nullable=False, index=True),
    Column("evidence_id", ID, ForeignKey("evidence.evidence_id", ondelete="CASCADE"), nullable=False, index=True),
    Column("seller_id", ID, nullable=False),
    Column("date", String(10), nullable=True),
    Column("total", String(32), nullable=True),
    Column("uploaded_at", DateTime(timezone=True), nullable=False),
    #: the last characters of a long serial: candidates for a reading with an OCR slip
    Column("serial_tail", String(16), nullable=True, index=True),
    #: the upload's merchant-name key and registration-number key, besides its issuer key: a
    #: registration agreeing on any of the three is the same issuer's
    Column("name_key", String(256), nullable=True, index=True),
    Column("reg_key", String(64), nullable=True, index=True),
    #: the upload's merchant telephone key (its last digits): a fourth agreement on the issuer
    Column("phone_key", String(32), nullable=True, index=True),
    Index("ix_serials_issuer_serial", "issuer_key", "serial"),
)

#: every analysed upload's merchant identity as read: its tax id and the keys that find the
#: merchant's other uploads (name, company registration, telephone), serial or not
issuer_marks = Table(
    "issuer_marks",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("evidence_id", ID, ForeignKey("evidence.evidence_id", ondelete="CASCADE"), nullable=False, index=True),
    Column("seller_id", ID, nullable=False),
    Column("tax_key", String(64), nullable=True),
    Column("name_key", String(256), nullable=True, index=True),
    Column("reg_key", String(64), nullable=True, index=True),
    Column("phone_key", String(32), nullable=True, index=True),
    Column("uploaded_at", DateTime(timezone=True), nullable=False),
)

#: what a receipt says it is (issuer, receipt number, printed date and minute), one row per upload
#: whose number, date and time were read (0013_content_keys): re-uploads that crops and
#: rotation pushed away from every pixel hash are found by it (forensics/store/content_keys)
content_keys = Table(
    "content_keys",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("evidence_id", ID, ForeignKey("evidence.evidence_id", ondelete="CASCADE"), nullable=False, index=True),
    Column("seller_id", ID, nullable=False),
    Column("uploaded_at", DateTime(timezone=True), nullable=False),
    #: "<ISO date>|<HH:MM>" as printed: the indexed lookup (a receipt prints one minute)
    Column("printed_at", String(32), nullable=False, index=True),
    #: the receipt number normalised against OCR letter-for-digit slips, and how sure OCR was
    Column("serial", String(128), nullable=False),
    Column("serial_confidence", Float, nullable=False),
    #: the printed line the number was read on (a number OCR split in two is whole there)
    Column("serial_line", Text, nullable=True),
    #: the total when read with confidence: two that differ are two documents, not one receipt
    Column("total", String(32), nullable=True),
    #: the issuer as the serial registry keys it: tax id or name, name, registration, telephone
    Column("issuer_key", String(256), nullable=True),
    Column("name_key", String(256), nullable=True),
    Column("reg_key", String(64), nullable=True),
    Column("phone_key", String(32), nullable=True),
)

#: confirmed links between two uploads (a < b); the clusters and relation findings derive from them
relations = Table(
    "relations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("a", ID, nullable=False, index=True),
    Column("b", ID, nullable=False, index=True),
    Column("kind", String(32), nullable=False),
    Column("score", Float, nullable=False),
    Column("details", JSON, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("a", "b", "kind", name="uq_relations_pair_kind"),
)

clusters = Table(
    "clusters",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("size", Integer, nullable=False),
    Column("sellers", Integer, nullable=False),
    Column("first_seen", DateTime(timezone=True), nullable=False),
    Column("last_seen", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

cluster_members = Table(
    "cluster_members",
    metadata,
    Column("cluster_id", String(32), ForeignKey("clusters.id", ondelete="CASCADE"), primary_key=True),
    Column("evidence_id", ID, primary_key=True),
    Column("seller_id", ID, nullable=False),
    Index("ix_cluster_members_evidence", "evidence_id"),
)

#: named sequences (``cluster_D``, ``cluster_T``: the last cluster number given out)
counters = Table(
    "counters",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("value", BigInteger, nullable=False),
)

#: messages whose transient failures outlived every retry; `forensics dead-letters` re-drives them
dead_letters = Table(
    "dead_letters",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("message_id", String(64), nullable=False, unique=True),
    Column("evidence_id", ID, nullable=True, index=True),
    Column("event", JSON, nullable=False),
    Column("error", Text, nullable=False),
    Column("retries", Integer, nullable=False),
    Column("failed_at", DateTime(timezone=True), nullable=False),
    Column("redriven_at", DateTime(timezone=True), nullable=True),
)

# -- people: the reviewer's web app (migration 0009) -------------------------------------------

#: accounts of the web app; ``role`` is reviewer, investigator or admin
users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("role", String(16), nullable=False),
    #: argon2id hash (argon2-cffi's encoded form, salt and parameters included)
    Column("password_hash", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

#: API tokens for programs: only the sha256 of the token is kept
api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("token_sha256", String(64), nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

#: append-only: who did what to which object, before and after; never updated nor deleted
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("role", String(16), nullable=False),
    Column("action", String(48), nullable=False),
    Column("object_type", String(32), nullable=False),
    Column("object_id", String(128), nullable=False),
    Column("before", JSON, nullable=True),
    Column("after", JSON, nullable=True),
    Column("reason", String(64), nullable=True),
    Column("request_id", String(64), nullable=True),
    Index("ix_audit_log_object", "object_type", "object_id"),
)

#: a person's current decision on an upload, beside the machine's analysis (never inside it)
reviews = Table(
    "reviews",
    metadata,
    Column("evidence_id", ID, ForeignKey("evidence.evidence_id", ondelete="CASCADE"), primary_key=True),
    Column("status", String(32), nullable=False, index=True),
    Column("reason", String(64), nullable=False),
    Column("comment", Text, nullable=True),
    Column("decided_by", String(64), nullable=False),
    Column("decided_at", DateTime(timezone=True), nullable=False),
    Column("audit_id", Integer, nullable=False),
)

#: "this is the shop's own template": later layout matches of the issuer drop to information
template_allowlist = Table(
    "template_allowlist",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("issuer_key", String(256), nullable=False, index=True),
    #: page-1 layout hash of the upload decided on (signed like page_fingerprints')
    Column("layout_hash", BigInteger, nullable=False),
    Column("evidence_id", ID, nullable=False),
    Column("audit_id", Integer, nullable=False),
    Column("created_by", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("removed_by", String(64), nullable=True),
    Column("removed_at", DateTime(timezone=True), nullable=True),
)

#: uploads a person confirmed as forgeries: their fingerprints (page_fingerprints) are matched
known_forgeries = Table(
    "known_forgeries",
    metadata,
    Column("evidence_id", ID, ForeignKey("evidence.evidence_id", ondelete="CASCADE"), primary_key=True),
    Column("audit_id", Integer, nullable=False),
    Column("decided_by", String(64), nullable=False),
    Column("decided_at", DateTime(timezone=True), nullable=False),
    Column("reason", String(64), nullable=False),
)

#: the review queue walks uploads by risk, then id, backwards (keyset pagination, no OFFSET)
Index("ix_evidence_queue", evidence.c.risk, evidence.c.evidence_id)

# the investigator's seller graph walks from sellers to what they share (0011_api)
Index("ix_serials_seller", serials.c.seller_id)
Index("ix_issuer_marks_seller", issuer_marks.c.seller_id)
# (tax id, seller): the graph's issuer join is answered from the index alone (0012_web)
Index("ix_issuer_marks_tax_seller", issuer_marks.c.tax_key, issuer_marks.c.seller_id)
Index("ix_cluster_members_seller", cluster_members.c.seller_id)
