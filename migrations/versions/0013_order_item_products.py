"""order items remember the platform listing they were bought from and the catalogue product it is

Revision ID: 0013_order_item_products
Revises: 0011_inbound_events
Create Date: 2026-12-02 16:20:00

"""
from alembic import op
import sqlalchemy as sa

revision = '0013_order_item_products'
down_revision = '0011_inbound_events'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('order_items', schema=None) as batch_op:
        batch_op.add_column(sa.Column('offer_id', sa.String(length=64), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('product_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_order_items_product_id_products'), 'products', ['product_id'],
                                    ['id'], ondelete='SET NULL')
        batch_op.create_index(batch_op.f('ix_order_items_product_id'), ['product_id'], unique=False)


def downgrade():
    with op.batch_alter_table('order_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_order_items_product_id'))
        batch_op.drop_constraint(batch_op.f('fk_order_items_product_id_products'), type_='foreignkey')
        batch_op.drop_column('product_id')
        batch_op.drop_column('offer_id')
