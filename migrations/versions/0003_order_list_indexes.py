"""indexes for the order list's common filter pairs

Revision ID: 0003_order_list_indexes
Revises: 0002_integrations_and_outbox
Create Date: 2026-11-22 02:30:00

"""
from alembic import op

revision = '0003_order_list_indexes'
down_revision = '0002_integrations_and_outbox'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.create_index('ix_orders_status_source_ordered_at', ['status', 'source', 'ordered_at'], unique=False)
        batch_op.create_index('ix_orders_status_payment_ordered_at', ['status', 'payment_status', 'ordered_at'],
                              unique=False)
        batch_op.create_index('ix_orders_source_ordered_at', ['source', 'ordered_at'], unique=False)


def downgrade():
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index('ix_orders_source_ordered_at')
        batch_op.drop_index('ix_orders_status_payment_ordered_at')
        batch_op.drop_index('ix_orders_status_source_ordered_at')
