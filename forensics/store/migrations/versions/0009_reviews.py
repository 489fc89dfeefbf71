"""reviews: accounts, API tokens, an append-only audit, decisions, and what decisions teach

The reviewer's web app (issue 14): people's decisions live beside the machine's analysis, never
inside it. ``audit_log`` is append-only; ``reviews`` holds each upload's current decision;
``template_allowlist`` and ``known_forgeries`` are what decisions teach later analyses. The
queue's order (highest risk first, keyset-paginated) gets its index.

Revision ID: 0009_reviews
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_reviews"
down_revision = "0008"
branch_labels = None
depends_on = None

ID = sa.String(128)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("token_sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_api_tokens_user_id", "api_tokens", ["user_id"])
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("action", sa.String(48), nullable=False),
        sa.Column("object_type", sa.String(32), nullable=False),
        sa.Column("object_id", sa.String(128), nullable=False),
        sa.Column("before", sa.JSON, nullable=True),
        sa.Column("after", sa.JSON, nullable=True),
        sa.Column("reason", sa.String(64), nullable=True),
        sa.Column("request_id", sa.String(64), nullable=True),
    )
    op.create_index("ix_audit_log_object", "audit_log", ["object_type", "object_id"])
    op.create_table(
        "reviews",
        sa.Column("evidence_id", ID, sa.ForeignKey("evidence.evidence_id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("reason", sa.String(64), nullable=False),
        sa.Column("comment", sa.Text, nullable=True),
        sa.Column("decided_by", sa.String(64), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("audit_id", sa.Integer, nullable=False),
    )
    op.create_index("ix_reviews_status", "reviews", ["status"])
    op.create_table(
        "template_allowlist",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("issuer_key", sa.String(256), nullable=False),
        sa.Column("layout_hash", sa.BigInteger, nullable=False),
        sa.Column("evidence_id", ID, nullable=False),
        sa.Column("audit_id", sa.Integer, nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("removed_by", sa.String(64), nullable=True),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_template_allowlist_issuer_key", "template_allowlist", ["issuer_key"])
    op.create_table(
        "known_forgeries",
        sa.Column("evidence_id", ID, sa.ForeignKey("evidence.evidence_id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("audit_id", sa.Integer, nullable=False),
        sa.Column("decided_by", sa.String(64), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(64), nullable=False),
    )
    # the queue walks uploads by risk, highest first, then id: this index backwards (keyset
    # pagination with one row-value comparison, no OFFSET)
    op.create_index("ix_evidence_queue", "evidence", ["risk", "evidence_id"])


def downgrade() -> None:
    op.drop_index("ix_evidence_queue", table_name="evidence")
    for table in ("known_forgeries", "template_allowlist", "reviews", "audit_log", "api_tokens", "users"):
        op.drop_table(table)
