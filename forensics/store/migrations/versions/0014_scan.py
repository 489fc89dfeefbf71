"""page_fingerprints.scan: which scan a page is certainly a copy of

A scan passed between sellers is uploaded again and again; each upload's candidates are then
mostly earlier copies of that one scan, and each cost a full page comparison (bench/scale.py:
1.28 an upload at 1M stored pages against 0.20 at 1k). A page certainly the same scan as an
earlier one (the same file, the same pixels, or the same paper noise) registers that scan's
label, the pixel sha256 of the first page of it on file; a later upload certainly the same scan
as one of them is then the same scan as every page with that label, without comparing each.
Null: the page is the first of its scan (its own pixel sha256 is its label).

Revision ID: 0014_scan
Revises: 0013_content_keys
"""

import sqlalchemy as sa
from alembic import op

revision = "0014_scan"
down_revision = "0013_content_keys"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("page_fingerprints") as batch:
        batch.add_column(sa.Column("scan", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("page_fingerprints") as batch:
        batch.drop_column("scan")
