"""alerts: channels, rule thresholds, incidents; outbox operations without an integration (alerts)

Revision ID: 0015_alerts
Revises: 0011_inbound_events
Create Date: 2026-12-02 16:20:00

"""
from alembic import op
import sqlalchemy as sa

revision = '0015_alerts'
down_revision = '0016_run_details'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('alert_channels',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('settings', sa.JSON(), nullable=False),
    sa.Column('credentials_encrypted', sa.Text(), nullable=True),
    sa.Column('last_sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_channels'))
    )
    op.create_table('alert_rules',
    sa.Column('key', sa.String(length=40), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('threshold', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_alert_rules'))
    )
    op.create_table('alert_incidents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('rule', sa.String(length=40), nullable=False),
    sa.Column('subject', sa.String(length=120), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('cleared_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_incidents'))
    )
    op.create_index('ix_alert_incidents_open', 'alert_incidents', ['rule', 'subject', 'cleared_at'])
    op.create_index('ix_alert_incidents_started', 'alert_incidents', ['started_at'])
    with op.batch_alter_table('sync_operations') as batch_op:
        batch_op.alter_column('integration_id', existing_type=sa.Integer(), nullable=True)
    with op.batch_alter_table('sync_operations') as batch_op:
        batch_op.create_index('ix_sync_operations_kind_finished', ['kind', 'finished_at'])


def downgrade():
    with op.batch_alter_table('sync_operations') as batch_op:
        batch_op.drop_index('ix_sync_operations_kind_finished')
    op.execute("DELETE FROM sync_operations WHERE integration_id IS NULL")
    with op.batch_alter_table('sync_operations') as batch_op:
        batch_op.alter_column('integration_id', existing_type=sa.Integer(), nullable=False)
    op.drop_index('ix_alert_incidents_started', table_name='alert_incidents')
    op.drop_index('ix_alert_incidents_open', table_name='alert_incidents')
    op.drop_table('alert_incidents')
    op.drop_table('alert_rules')
    op.drop_table('alert_channels')
