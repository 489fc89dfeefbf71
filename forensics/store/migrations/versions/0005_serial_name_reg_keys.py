"""serials.name_key, serials.reg_key: one issuer under a misread name or header line

bench/quality.py: one shop's two uploads registered a reused short receipt number under two
name keys ("3-08 Level &" and "Kedai Sihat Dan Cantik Sdn Bhd", both tax ids garbled),
so a short serial, matched only within one issuer, was never met. Both print the company
registration number. A registration now also keeps the upload's name key and its
registration-number key, and a registration agreeing on any of the three keys is the same
issuer's (forensics.detectors.serial_registry).

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("serials") as batch:
        batch.add_column(sa.Column("name_key", sa.String(256), nullable=True))
        batch.add_column(sa.Column("reg_key", sa.String(64), nullable=True))
        batch.create_index("ix_serials_name_key", ["name_key"])
        batch.create_index("ix_serials_reg_key", ["reg_key"])
    # registrations without a tax id were keyed by their name: that is their name key too
    # (the registration number was not read before this revision)
    serials = sa.table("serials", sa.column("issuer_key", sa.String), sa.column("name_key", sa.String))
    op.get_bind().execute(sa.update(serials).where(serials.c.issuer_key.like("name:%"))
                          .values(name_key=serials.c.issuer_key))


def downgrade() -> None:
    with op.batch_alter_table("serials") as batch:
        batch.drop_index("ix_serials_reg_key")
        batch.drop_index("ix_serials_name_key")
        batch.drop_column("reg_key")
        batch.drop_column("name_key")
