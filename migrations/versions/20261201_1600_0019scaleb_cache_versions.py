"""cache_versions: the data version public-page cache keys are built from

Revision ID: 0019scaleb
Revises: 0011security
Create Date: 2026-12-01 16:00:00

"""
from alembic import op
import sqlalchemy as sa

import portal.db


# revision identifiers, used by Alembic.
revision = '0019scaleb'
down_revision = '0018scalea'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('cache_versions',
    sa.Column('community_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('version', sa.BigInteger(), nullable=False),
    sa.Column('changed_at', portal.db.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('community_id', name=op.f('pk_cache_versions'))
    )


def downgrade():
    op.drop_table('cache_versions')
