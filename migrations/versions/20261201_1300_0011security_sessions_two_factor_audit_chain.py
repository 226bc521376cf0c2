"""security: server-side sessions, staff two-factor, hash-chained append-only audit

Revision ID: 0011security
Revises: 0007notify
Create Date: 2026-12-01 13:00:00

"""
from alembic import op
import sqlalchemy as sa

import portal.db


# revision identifiers, used by Alembic.
revision = '0011security'
down_revision = '0007notify'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('user_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', portal.db.UTCDateTime(), nullable=False),
    sa.Column('last_seen_at', portal.db.UTCDateTime(), nullable=False),
    sa.Column('ip', sa.String(length=45), nullable=False),
    sa.Column('user_agent', sa.String(length=200), nullable=False),
    sa.Column('remember', sa.Boolean(), server_default='0', nullable=False),
    sa.Column('two_factor_at', portal.db.UTCDateTime(), nullable=True),
    sa.Column('revoked_at', portal.db.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_user_sessions_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user_sessions')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_user_sessions_token_hash'))
    )
    op.create_index('ix_user_sessions_user_revoked', 'user_sessions', ['user_id', 'revoked_at'], unique=False)
    op.create_table('two_factor',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('secret', sa.String(length=64), nullable=False),
    sa.Column('created_at', portal.db.UTCDateTime(), nullable=False),
    sa.Column('confirmed_at', portal.db.UTCDateTime(), nullable=True),
    sa.Column('last_step', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_two_factor_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_two_factor'))
    )
    op.create_table('recovery_codes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', portal.db.UTCDateTime(), nullable=False),
    sa.Column('used_at', portal.db.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_recovery_codes_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_recovery_codes'))
    )
    op.create_index('ix_recovery_codes_user_hash', 'recovery_codes', ['user_id', 'code_hash'], unique=False)


def downgrade():
    op.drop_index('ix_recovery_codes_user_hash', table_name='recovery_codes')
    op.drop_table('recovery_codes')
    op.drop_table('two_factor')
    op.drop_index('ix_user_sessions_user_revoked', table_name='user_sessions')
    op.drop_table('user_sessions')
