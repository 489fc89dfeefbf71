"""serials.phone_key: one issuer under two misread names, known by its telephone number

bench/quality.py: a shop's receipt number reused on an edited copy whose merchant name was read
as a fragment of its second line, while the original showed no registration number; both print
the shop's telephone number. A registration now also keeps the upload's telephone key, and a
registration agreeing on it is the same issuer's (forensics.detectors.serial_registry).

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("serials") as batch:
        batch.add_column(sa.Column("phone_key", sa.String(32), nullable=True))
        batch.create_index("ix_serials_phone_key", ["phone_key"])


def downgrade() -> None:
    with op.batch_alter_table("serials") as batch:
        batch.drop_index("ix_serials_phone_key")
        batch.drop_column("phone_key")
