"""issuer_marks: every upload's merchant identity, serial or not

The issuer_identity detector compares a merchant tax id with the one the merchant's other
uploads carry. It found them in the serial registry, which holds only uploads whose serial was
read; this table holds every analysed upload's tax id and name, registration and telephone keys.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "issuer_marks",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("evidence_id", sa.String(128),
                  sa.ForeignKey("evidence.evidence_id", ondelete="CASCADE"), nullable=False),
        sa.Column("seller_id", sa.String(128), nullable=False),
        sa.Column("tax_key", sa.String(64), nullable=True),
        sa.Column("name_key", sa.String(256), nullable=True),
        sa.Column("reg_key", sa.String(64), nullable=True),
        sa.Column("phone_key", sa.String(32), nullable=True),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
    )
    for column in ("evidence_id", "name_key", "reg_key", "phone_key"):
        op.create_index(f"ix_issuer_marks_{column}", "issuer_marks", [column])


def downgrade() -> None:
    op.drop_table("issuer_marks")
