"""alert incidents keep their message's key and arguments, so alerts and the history speak each reader's language

Revision ID: 0020_alert_message_data
Revises: 0018_dashboard_and_locale
Create Date: 2026-12-03 07:00:00

"""
from alembic import op
import sqlalchemy as sa

revision = '0020_alert_message_data'
down_revision = '0018_dashboard_and_locale'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('alert_incidents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('message_data', sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table('alert_incidents', schema=None) as batch_op:
        batch_op.drop_column('message_data')
