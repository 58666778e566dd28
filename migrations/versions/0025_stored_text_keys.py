"""outbox operations, inbound deliveries and alert channels keep the key and arguments of the texts Kontor writes on them

Revision ID: 0025_stored_text_keys
Revises: 0024_dashboard_indexes
Create Date: 2026-12-03 08:00:00

"""
from alembic import op
import sqlalchemy as sa

revision = '0025_stored_text_keys'
down_revision = '0024_dashboard_indexes'
branch_labels = None
depends_on = None


def upgrade():
    for table in ('sync_operations', 'inbound_events', 'alert_channels'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('message_data', sa.JSON(), nullable=True))


def downgrade():
    for table in ('sync_operations', 'inbound_events', 'alert_channels'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('message_data')
