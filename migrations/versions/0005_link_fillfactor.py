"""leave room in product link pages so imports and syncs update them in place (PostgreSQL)

Revision ID: 0005_link_fillfactor
Revises: 0004_catalogue_and_feeds
Create Date: 2026-11-22 03:25:00

Every feed import and availability sync rewrites every link row. With free space on each page
PostgreSQL updates them in place (HOT updates) without touching the indexes, and the table stops
growing with each import. Other databases have no such setting.
"""
from alembic import op

revision = '0005_link_fillfactor'
down_revision = '0004_catalogue_and_feeds'
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE integration_product_links SET (fillfactor = 45)")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE integration_product_links RESET (fillfactor)")
