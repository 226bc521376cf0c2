"""collection summaries: billed, collected and waived fen per community, building and month

Revision ID: 0018scalea
Revises: 0011security
Create Date: 2026-12-01 16:00:00

The table is filled from the existing bills, so collection statistics stay the same across
the upgrade. (Account look-ups by community and code use the existing unique index
uq_ledger_accounts_community_id on (community_id, code): no new index is needed for them.)
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0018scalea'
down_revision = '0011security'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('collection_summaries',
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('building_id', sa.Integer(), nullable=False),
    sa.Column('period', sa.Date(), nullable=False),
    sa.Column('billed_fen', sa.BigInteger(), nullable=False),
    sa.Column('collected_fen', sa.BigInteger(), nullable=False),
    sa.Column('waived_fen', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['building_id'], ['buildings.id'], name=op.f('fk_collection_summaries_building_id_buildings')),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_collection_summaries_community_id_communities')),
    sa.PrimaryKeyConstraint('community_id', 'building_id', 'period', name=op.f('pk_collection_summaries'))
    )
    op.execute(
        "INSERT INTO collection_summaries "
        "(community_id, building_id, period, billed_fen, collected_fen, waived_fen) "
        "SELECT b.community_id, u.building_id, b.period, "
        "SUM(b.amount_fen - b.waived_fen), "
        "SUM(b.amount_fen - b.waived_fen - b.outstanding_fen), SUM(b.waived_fen) "
        "FROM bills b JOIN units u ON u.id = b.unit_id "
        "GROUP BY b.community_id, u.building_id, b.period"
    )


def downgrade():
    op.drop_table('collection_summaries')
