"""payment intents keep WeChat JSAPI parameters

Revision ID: 0009phonepay
Revises: 0009feenotice
Create Date: 2026-12-01 12:31:31.005959

"""
from alembic import op
import sqlalchemy as sa

import portal.db


# revision identifiers, used by Alembic.
revision = '0009phonepay'
down_revision = '0009feenotice'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('payment_intents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('jsapi_params', sa.JSON(), nullable=True))



def downgrade():
    with op.batch_alter_table('payment_intents', schema=None) as batch_op:
        batch_op.drop_column('jsapi_params')

