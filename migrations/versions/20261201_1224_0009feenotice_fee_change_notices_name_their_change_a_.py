"""fee-change notices name their change; a standard cites one notice

Notices published before this revision name no item or rate: they stay as they are (their
publication-log payload is unchanged) but no new fee-standard version can cite them.

Revision ID: 0009feenotice
Revises: 0007notify
Create Date: 2026-12-01 12:24:44.274399

"""
from alembic import op
import sqlalchemy as sa

import portal.db


# revision identifiers, used by Alembic.
revision = '0009feenotice'
down_revision = '0007notify'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('notices', schema=None) as batch_op:
        batch_op.add_column(sa.Column('fee_property_type', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('fee_item_code', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('fee_rate', sa.Numeric(precision=12, scale=4), nullable=True))
        batch_op.create_check_constraint(
            op.f('ck_notices_fee_rate_nonnegative'), 'fee_rate IS NULL OR fee_rate >= 0'
        )

    # A notice announces one change, so it justifies one version (notice_id had no FK before).
    with op.batch_alter_table('fee_standards', schema=None) as batch_op:
        batch_op.create_unique_constraint(batch_op.f('uq_fee_standards_notice_id'), ['notice_id'])
        batch_op.create_foreign_key(batch_op.f('fk_fee_standards_notice_id_notices'), 'notices', ['notice_id'], ['id'])


def downgrade():
    with op.batch_alter_table('fee_standards', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_fee_standards_notice_id_notices'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('uq_fee_standards_notice_id'), type_='unique')

    with op.batch_alter_table('notices', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_notices_fee_rate_nonnegative'), type_='check')
        batch_op.drop_column('fee_rate')
        batch_op.drop_column('fee_item_code')
        batch_op.drop_column('fee_property_type')

