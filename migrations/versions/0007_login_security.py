"""session versions (ending a user's sessions on the server) and the failed sign-in log

Revision ID: 0007_login_security
Revises: 0006_feed_safety
Create Date: 2026-12-02 07:30:00

Every user starts at session version 1; a session carries the version it was made with, so
raising it (logout, password change, switching the user off) makes the old cookies worthless.
"""
from alembic import op
import sqlalchemy as sa

revision = '0007_login_security'
down_revision = '0006_feed_safety'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users') as batch_op:
        batch_op.add_column(sa.Column('session_version', sa.Integer(), server_default='1', nullable=False))
    op.create_table('login_attempts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('email', sa.String(length=255), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('client_address', sa.String(length=64), nullable=False),
    sa.Column('user_agent', sa.String(length=255), nullable=False),
    sa.Column('outcome', sa.String(length=20), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_login_attempts_user_id_users'),
                            ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_login_attempts'))
    )
    with op.batch_alter_table('login_attempts') as batch_op:
        batch_op.create_index('ix_login_attempts_created_at', ['created_at'], unique=False)


def downgrade():
    with op.batch_alter_table('login_attempts') as batch_op:
        batch_op.drop_index('ix_login_attempts_created_at')
    op.drop_table('login_attempts')
    with op.batch_alter_table('users') as batch_op:
        batch_op.drop_column('session_version')
