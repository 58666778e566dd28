"""inbound deliveries remember the import run that fetched them and what applying them did

Revision ID: 0026_import_run_outcomes
Revises: 0025_stored_text_keys
Create Date: 2026-12-04 01:30:00

"""
from alembic import op
import sqlalchemy as sa

revision = '0026_import_run_outcomes'
down_revision = '0025_stored_text_keys'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('inbound_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('run_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('outcome', sa.String(length=12), nullable=True))
        batch_op.create_foreign_key('fk_inbound_events_run_id_integration_runs', 'integration_runs', ['run_id'],
                                    ['id'], ondelete='SET NULL')
        batch_op.create_index('ix_inbound_events_run_outcome', ['run_id', 'outcome'], unique=False)


def downgrade():
    with op.batch_alter_table('inbound_events', schema=None) as batch_op:
        batch_op.drop_index('ix_inbound_events_run_outcome')
        batch_op.drop_constraint('fk_inbound_events_run_id_integration_runs', type_='foreignkey')
        batch_op.drop_column('outcome')
        batch_op.drop_column('run_id')
