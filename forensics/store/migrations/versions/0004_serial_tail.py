"""serials.serial_tail: find a long serial that OCR read with a slip on one upload

bench/quality.py: half the reused receipt numbers were read with one character wrong on one of
the two uploads ("$080064712" for "9080064712", "CSOO3Z6I817" for "CS00362817"), so the exact
(issuer, serial) key never met. The last characters of a long number survive most slips; rows
sharing them are compared character by character (forensics.detectors.serial_registry).

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

#: as forensics.detectors.serial_registry.TAIL_LEN / ISSUER_FREE_MIN_LEN when this was written
TAIL_LEN = 6
MIN_LEN = 8


def upgrade() -> None:
    with op.batch_alter_table("serials") as batch:
        batch.add_column(sa.Column("serial_tail", sa.String(16), nullable=True))
        batch.create_index("ix_serials_serial_tail", ["serial_tail"])
    conn = op.get_bind()
    serials = sa.table("serials", sa.column("id", sa.Integer), sa.column("serial", sa.String),
                       sa.column("serial_tail", sa.String))
    rows = conn.execute(sa.select(serials.c.id, serials.c.serial)).all()
    for row_id, serial in rows:
        if serial and len(serial) >= MIN_LEN:
            conn.execute(sa.update(serials).where(serials.c.id == row_id)
                         .values(serial_tail=serial[-TAIL_LEN:]))


def downgrade() -> None:
    with op.batch_alter_table("serials") as batch:
        batch.drop_index("ix_serials_serial_tail")
        batch.drop_column("serial_tail")
