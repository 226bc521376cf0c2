"""tickets and responsiveness

Revision ID: 0004tickets
Revises: 0003billing
Create Date: 2026-11-23 19:30:00

"""
from alembic import op
import sqlalchemy as sa

import portal.db


# revision identifiers, used by Alembic.
revision = '0004tickets'
down_revision = '0003billing'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
