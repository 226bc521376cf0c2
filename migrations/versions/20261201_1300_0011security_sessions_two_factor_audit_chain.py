"""security: server-side sessions, staff two-factor, hash-chained append-only audit

Revision ID: 0011security
Revises: 0012feedback
Create Date: 2026-12-01 13:00:00

"""
from alembic import op
import sqlalchemy as sa

import portal.db


# revision identifiers, used by Alembic.
revision = '0011security'
down_revision = '0012feedback'
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
    op.create_table('erasure_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('requested_at', portal.db.UTCDateTime(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', portal.db.UTCDateTime(), nullable=True),
    sa.Column('note', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_erasure_requests_decided_by_id_users')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_erasure_requests_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_erasure_requests'))
    )
    op.create_index('ix_erasure_requests_status', 'erasure_requests', ['status'], unique=False)
    # The audit chain: number and chain the entries already there, then forbid edits.
    with op.batch_alter_table('audit_entries') as batch_op:
        batch_op.add_column(sa.Column('seq', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('prev_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('hash', sa.String(length=64), nullable=True))
    _chain_existing_entries()
    with op.batch_alter_table('audit_entries') as batch_op:
        batch_op.alter_column('seq', existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column('prev_hash', existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column('hash', existing_type=sa.String(length=64), nullable=False)
        batch_op.create_unique_constraint(batch_op.f('uq_audit_entries_seq'), ['seq'])
    from portal.audit.models import PG_FUNCTION, PG_TRIGGER, SQLITE_TRIGGERS

    if op.get_bind().dialect.name == 'postgresql':
        op.execute(PG_FUNCTION)
        op.execute(PG_TRIGGER)
    else:
        for ddl in SQLITE_TRIGGERS:
            op.execute(ddl)


def _chain_existing_entries():
    import hashlib
    import json
    from datetime import UTC

    bind = op.get_bind()
    table = sa.table(
        'audit_entries', sa.column('id', sa.Integer), sa.column('at', portal.db.UTCDateTime()),
        sa.column('actor_id', sa.Integer), sa.column('action', sa.String),
        sa.column('target_type', sa.String), sa.column('target_id', sa.Integer),
        sa.column('community_id', sa.Integer), sa.column('details', sa.JSON),
        sa.column('seq', sa.Integer), sa.column('prev_hash', sa.String),
        sa.column('hash', sa.String),
    )
    prev = '0' * 64
    rows = bind.execute(sa.select(table).order_by(table.c.id)).mappings().all()
    for seq, row in enumerate(rows, start=1):
        at = row['at'].astimezone(UTC).replace(microsecond=0)
        body = {
            'seq': seq, 'at': at.strftime('%Y-%m-%dT%H:%M:%SZ'), 'actor_id': row['actor_id'],
            'action': row['action'], 'target_type': row['target_type'],
            'target_id': row['target_id'], 'community_id': row['community_id'],
            'details': row['details'] or {}, 'prev_hash': prev,
        }
        canonical = json.dumps(body, sort_keys=True, separators=(',', ':'), ensure_ascii=False)
        digest = hashlib.sha256((prev + canonical).encode()).hexdigest()
        bind.execute(
            table.update().where(table.c.id == row['id'])
            .values(seq=seq, at=at, details=body['details'], prev_hash=prev, hash=digest)
        )
        prev = digest


def downgrade():
    op.drop_index('ix_erasure_requests_status', table_name='erasure_requests')
    op.drop_table('erasure_requests')
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP TRIGGER IF EXISTS audit_entries_append_only ON audit_entries')
        op.execute('DROP FUNCTION IF EXISTS audit_append_only()')
    else:
        op.execute('DROP TRIGGER IF EXISTS audit_entries_no_update')
        op.execute('DROP TRIGGER IF EXISTS audit_entries_no_delete')
    with op.batch_alter_table('audit_entries') as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_audit_entries_seq'), type_='unique')
        batch_op.drop_column('hash')
        batch_op.drop_column('prev_hash')
        batch_op.drop_column('seq')
    op.drop_index('ix_recovery_codes_user_hash', table_name='recovery_codes')
    op.drop_table('recovery_codes')
    op.drop_table('two_factor')
    op.drop_index('ix_user_sessions_user_revoked', table_name='user_sessions')
    op.drop_table('user_sessions')
