"""line holds: amounts on hold become billing's own fact

Revision ID: 0006holds
Revises: 0005disputes
Create Date: 2026-11-24 09:00:00

Until now billing asked the disputes domain for the amounts on hold; billing now keeps them
in line_holds, which disputes write. Disputes that are open at upgrade time get their hold
here, with the same meaning as before: up to the requested credit, or all of the line's
outstanding when a correction (or only an explanation) is asked.
"""
from alembic import op
import sqlalchemy as sa

import portal.db


# revision identifiers, used by Alembic.
revision = '0006holds'
down_revision = '0005disputes'
branch_labels = None
depends_on = None

OPEN_HOLD = sa.text('released_at IS NULL')


def upgrade():
    op.create_table('line_holds',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('bill_line_id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('source_type', sa.String(length=16), nullable=False),
    sa.Column('source_id', sa.Integer(), nullable=False),
    sa.Column('requested_fen', sa.BigInteger(), nullable=True),
    sa.Column('placed_at', portal.db.UTCDateTime(), nullable=False),
    sa.Column('released_at', portal.db.UTCDateTime(), nullable=True),
    sa.CheckConstraint('requested_fen IS NULL OR requested_fen > 0', name=op.f('ck_line_holds_requested_positive')),
    sa.ForeignKeyConstraint(['bill_line_id'], ['bill_lines.id'], name=op.f('fk_line_holds_bill_line_id_bill_lines')),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_line_holds_community_id_communities')),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_line_holds_unit_id_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_line_holds'))
    )
    op.create_index('ix_line_holds_line', 'line_holds', ['bill_line_id', 'id'], unique=False)
    op.create_index(
        'ix_line_holds_open_unit', 'line_holds', ['unit_id', 'bill_line_id'], unique=False,
        postgresql_where=OPEN_HOLD, sqlite_where=OPEN_HOLD,
    )
    op.create_index(
        'uq_line_holds_open_source', 'line_holds', ['source_type', 'source_id'], unique=True,
        postgresql_where=OPEN_HOLD, sqlite_where=OPEN_HOLD,
    )
    op.execute(
        """
        INSERT INTO line_holds
            (bill_line_id, unit_id, community_id, source_type, source_id, requested_fen,
             placed_at, released_at)
        SELECT d.bill_line_id, d.unit_id, d.community_id, 'dispute', d.id,
               CASE WHEN d.requested_outcome = 'correction' THEN NULL
                    ELSE d.requested_amount_fen END,
               d.created_at, NULL
        FROM disputes d
        WHERE d.bill_line_id IS NOT NULL AND d.status <> 'closed'
        ORDER BY d.id
        """
    )


def downgrade():
    op.drop_index('uq_line_holds_open_source', table_name='line_holds')
    op.drop_index('ix_line_holds_open_unit', table_name='line_holds')
    op.drop_index('ix_line_holds_line', table_name='line_holds')
    op.drop_table('line_holds')
