"""web: the seller graph's issuer join reads the index alone

The graph joins a seller's issuer marks to every mark with the same tax id and keeps only the
other seller: with (tax_key, seller_id) indexed PostgreSQL answers that join from the index
(an index-only scan per tax id) instead of hashing the whole table. The new index starts with
tax_key, so it replaces the tax_key index of 0011_api.

Revision ID: 0012_web
Revises: 0011_api
"""

from alembic import op

revision = "0012_web"
down_revision = "0011_api"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_issuer_marks_tax_seller", "issuer_marks", ["tax_key", "seller_id"])
    op.drop_index("ix_issuer_marks_tax", table_name="issuer_marks")


def downgrade() -> None:
    op.create_index("ix_issuer_marks_tax", "issuer_marks", ["tax_key"])
    op.drop_index("ix_issuer_marks_tax_seller", table_name="issuer_marks")
