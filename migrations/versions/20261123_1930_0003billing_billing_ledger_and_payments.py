"""billing, ledger and payments

Revision ID: 0003billing
Revises: 0002transparency
Create Date: 2026-11-23 19:30:00

"""
from alembic import op
import sqlalchemy as sa

import portal.db


# revision identifiers, used by Alembic.
revision = '0003billing'
down_revision = '0002transparency'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
