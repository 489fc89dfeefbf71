"""page_fingerprints.date_total_key: a second candidate source for duplicates

Crops, rotations and rescaling push a re-upload's perceptual hashes past the search radius
(bench/quality.py: missed re-uploads sat at distance 12-28). The printed date and total survive
any geometry, so uploads sharing them are aligned too.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("page_fingerprints") as batch:
        batch.add_column(sa.Column("date_total_key", sa.String(64), nullable=True))
        batch.create_index("ix_page_fingerprints_date_total_key", ["date_total_key"])


def downgrade() -> None:
    with op.batch_alter_table("page_fingerprints") as batch:
        batch.drop_index("ix_page_fingerprints_date_total_key")
        batch.drop_column("date_total_key")
