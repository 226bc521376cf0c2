"""disputes and objections

Revision ID: 0005disputes
Revises: 0004tickets
Create Date: 2026-11-23 20:10:00

"""
from alembic import op
import sqlalchemy as sa

import portal.db


# revision identifiers, used by Alembic.
revision = '0005disputes'
down_revision = '0004tickets'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
