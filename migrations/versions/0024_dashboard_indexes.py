"""indexes the dashboard's figures read: orders by time with what the channel figures sum, first payment
and first shipment per order

Revision ID: 0024_dashboard_indexes
Revises: 0020_alert_message_data
Create Date: 2026-12-03 07:00:00

"""
from alembic import op

revision = '0024_dashboard_indexes'
down_revision = '0020_alert_message_data'
branch_labels = None
depends_on = None


def upgrade():
    # Each wider index starts with the columns of the one it replaces, so every query that used the old one
    # still can; the extra columns let the dashboard answer from the index alone.
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.create_index('ix_orders_ordered_at_figures',
                              ['ordered_at', 'source', 'currency', 'status', 'total_gross'], unique=False)
        batch_op.drop_index('ix_orders_ordered_at')
    with op.batch_alter_table('order_payments', schema=None) as batch_op:
        batch_op.create_index('ix_order_payments_order_paid', ['order_id', 'paid_at'], unique=False)
        batch_op.drop_index('ix_order_payments_order_id')
    with op.batch_alter_table('order_shipments', schema=None) as batch_op:
        batch_op.create_index('ix_order_shipments_order_shipped', ['order_id', 'shipped_at'], unique=False)
        batch_op.drop_index('ix_order_shipments_order_id')


def downgrade():
    with op.batch_alter_table('order_shipments', schema=None) as batch_op:
        batch_op.create_index('ix_order_shipments_order_id', ['order_id'], unique=False)
        batch_op.drop_index('ix_order_shipments_order_shipped')
    with op.batch_alter_table('order_payments', schema=None) as batch_op:
        batch_op.create_index('ix_order_payments_order_id', ['order_id'], unique=False)
        batch_op.drop_index('ix_order_payments_order_paid')
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.create_index('ix_orders_ordered_at', ['ordered_at'], unique=False)
        batch_op.drop_index('ix_orders_ordered_at_figures')
