"""a run's full details (every shop row an availability sync could not find)

Revision ID: 0016_run_details
Revises: 0013_order_item_products
Create Date: 2026-12-02 16:40:00

"""
from alembic import op
import sqlalchemy as sa

revision = '0016_run_details'
down_revision = '0013_order_item_products'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('integration_runs') as batch_op:
        batch_op.add_column(sa.Column('details', sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table('integration_runs') as batch_op:
        batch_op.drop_column('details')
