"""evidence_conflicts: uploads refused because their evidence id is another seller's

An evidence id names one seller's upload. The same id arriving from another seller is refused
(the first record is kept); each such attempt is kept here for reviewers and auditors.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "evidence_conflicts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("evidence_id", sa.String(128), nullable=False, index=True),
        sa.Column("seller_id", sa.String(128), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=True),
        sa.Column("event", sa.JSON, nullable=False),
        sa.Column("attempted_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("evidence_conflicts")
