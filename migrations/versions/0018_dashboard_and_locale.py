"""the dashboard's time to ship, shipped-at index, and each user's interface language

Revision ID: 0018_dashboard_and_locale
Revises: 0013_order_item_products
Create Date: 2026-12-02 16:30:00

"""
from alembic import op
import sqlalchemy as sa

revision = '0018_dashboard_and_locale'
down_revision = '0014_stock'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('shop_preferences',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ship_within_hours', sa.Integer(), server_default='48', nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_shop_preferences'))
    )
    with op.batch_alter_table('order_shipments', schema=None) as batch_op:
        batch_op.create_index('ix_order_shipments_shipped_at', ['shipped_at'], unique=False)
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('locale', sa.String(length=10), nullable=True))


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('locale')
    with op.batch_alter_table('order_shipments', schema=None) as batch_op:
        batch_op.drop_index('ix_order_shipments_shipped_at')
    op.drop_table('shop_preferences')
