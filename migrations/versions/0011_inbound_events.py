"""the inbound ledger (deliveries stored raw before processing) and refused-delivery counters

Revision ID: 0011_inbound_events
Revises: 0007_login_security
Create Date: 2026-12-02 07:50:00

"""
from alembic import op
import sqlalchemy as sa

revision = '0011_inbound_events'
down_revision = '0007_login_security'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('inbound_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('integration_id', sa.Integer(), nullable=False),
    sa.Column('delivery_id', sa.String(length=255), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('topic', sa.String(length=60), nullable=False),
    sa.Column('resource_id', sa.String(length=100), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('headers', sa.JSON(), nullable=False),
    sa.Column('body', sa.LargeBinary(), nullable=False),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('error', sa.Text(), nullable=False),
    sa.Column('result', sa.Text(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('processed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['integration_id'], ['integrations.id'], name=op.f('fk_inbound_events_integration_id_integrations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_inbound_events_order_id_orders'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inbound_events')),
    sa.UniqueConstraint('integration_id', 'delivery_id', name=op.f('uq_inbound_events_integration_id_delivery_id'))
    )
    with op.batch_alter_table('inbound_events', schema=None) as batch_op:
        batch_op.create_index('ix_inbound_events_due', ['state', 'next_attempt_at'], unique=False)
        batch_op.create_index('ix_inbound_events_integration_received', ['integration_id', 'received_at'], unique=False)

    op.create_table('webhook_rejections',
    sa.Column('integration_id', sa.Integer(), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('last_reason', sa.Text(), nullable=False),
    sa.Column('last_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['integration_id'], ['integrations.id'], name=op.f('fk_webhook_rejections_integration_id_integrations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('integration_id', name=op.f('pk_webhook_rejections'))
    )


def downgrade():
    op.drop_table('webhook_rejections')
    with op.batch_alter_table('inbound_events', schema=None) as batch_op:
        batch_op.drop_index('ix_inbound_events_integration_received')
        batch_op.drop_index('ix_inbound_events_due')
    op.drop_table('inbound_events')
