"""feed imports note when they last made progress, so a stalled import is found and closed

Revision ID: 0006_feed_safety
Revises: 0005_link_fillfactor
Create Date: 2026-12-02 07:40:00

A recurring check marks imports that made no progress for 15 minutes as failed; it reads this
column (or started_at for imports from before it existed).
"""
from alembic import op
import sqlalchemy as sa

revision = '0006_feed_safety'
down_revision = '0005_link_fillfactor'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('feed_imports', schema=None) as batch_op:
        batch_op.add_column(sa.Column('progress_at', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('feed_imports', schema=None) as batch_op:
        batch_op.drop_column('progress_at')
