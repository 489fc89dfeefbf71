"""page_fingerprints.text_hash: a candidate source for duplicates independent of pixels

Crops that cut into the print move every perceptual hash of a re-upload (bench/quality.py:
re-uploads at pHash distance 12-30 from their originals, a third of them never aligned). A
SimHash of the words read on the page stays close whatever the geometry; it is searched in the
same Hamming index as the pixel hashes, and alignment still decides. ``text_version`` names the
algorithm like ``version`` does for the pixel hashes.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("page_fingerprints") as batch:
        batch.add_column(sa.Column("text_hash", sa.BigInteger, nullable=True))
        batch.add_column(sa.Column("text_version", sa.String(32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("page_fingerprints") as batch:
        batch.drop_column("text_version")
        batch.drop_column("text_hash")
