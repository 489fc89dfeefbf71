"""counters: cluster ids from a sequence, not a scan of every id

New duplicate and template clusters took the next id by reading every cluster id; a counter row
per id prefix, bumped with UPDATE ... RETURNING, costs the same at any size and is safe from
two transactions at once. Seeded from the ids already on file.

Revision ID: 0010_scale
Revises: 0009_reviews
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_scale"
down_revision = "0009_reviews"
branch_labels = None
depends_on = None


def upgrade() -> None:
    counters = op.create_table(
        "counters",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("value", sa.BigInteger, nullable=False),
    )
    conn = op.get_bind()
    ids = [row[0] for row in conn.execute(sa.text("SELECT id FROM clusters"))]
    rows = []
    for prefix in ("D", "T"):
        numbers = [int(i[1:]) for i in ids if i.startswith(prefix) and i[1:].isdigit()]
        rows.append({"name": "cluster_" + prefix, "value": max(numbers, default=0)})
    op.bulk_insert(counters, rows)


def downgrade() -> None:
    op.drop_table("counters")
