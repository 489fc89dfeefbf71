"""content_keys: what a receipt says it is, looked up by when it was printed

Re-uploads cropped and rotated until every pixel hash is far from the original were missed even
where the receipt number and the printed time were read. Each upload whose receipt number, date
and time were read registers its printed date and minute (the indexed lookup), its number (as
normalised, with OCR's confidence and the line it was read on) and its issuer keys; a later
upload of the same issuer, minute and number is the same receipt.

Revision ID: 0013_content_keys
Revises: 0012_web
"""

import sqlalchemy as sa
from alembic import op

revision = "0013_content_keys"
down_revision = "0012_web"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "content_keys",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("evidence_id", sa.String(128),
                  sa.ForeignKey("evidence.evidence_id", ondelete="CASCADE"), nullable=False),
        sa.Column("seller_id", sa.String(128), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("printed_at", sa.String(32), nullable=False),
        sa.Column("serial", sa.String(128), nullable=False),
        sa.Column("serial_confidence", sa.Float, nullable=False),
        sa.Column("serial_line", sa.Text, nullable=True),
        sa.Column("total", sa.String(32), nullable=True),
        sa.Column("issuer_key", sa.String(256), nullable=True),
        sa.Column("name_key", sa.String(256), nullable=True),
        sa.Column("reg_key", sa.String(64), nullable=True),
        sa.Column("phone_key", sa.String(32), nullable=True),
    )
    for column in ("evidence_id", "printed_at"):
        op.create_index(f"ix_content_keys_{column}", "content_keys", [column])


def downgrade() -> None:
    op.drop_table("content_keys")
