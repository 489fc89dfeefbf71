"""api: indexes for the investigator's seller graph

The graph walks from a set of sellers to the clusters, serials and issuers they share and back
to other sellers: by seller id on serials, issuer marks and cluster members, and by tax id on
issuer marks. Without them each hop scans those tables.

Revision ID: 0011_api
Revises: 0010_scale
"""

from alembic import op

revision = "0011_api"
down_revision = "0010_scale"
branch_labels = None
depends_on = None

INDEXES = (("ix_serials_seller", "serials", ["seller_id"]),
           ("ix_issuer_marks_seller", "issuer_marks", ["seller_id"]),
           ("ix_issuer_marks_tax", "issuer_marks", ["tax_key"]),
           ("ix_cluster_members_seller", "cluster_members", ["seller_id"]))


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _columns in INDEXES:
        op.drop_index(name, table_name=table)
