"""indexes: unpaid bills by due date (partial), and the foreign keys that point at messages

Revision ID: 0020scalec
Revises: 0019scaleb
Create Date: 2026-12-02 13:00:00

The collections run ages the unpaid bills of a community due before the day; the full
(community, due date) index made it read every bill ever due (~1.2 M at 20,000 units × 60
months) to find the eighth still unpaid. Deleting a message checked `fallback_of_id` and
`collection_contacts.message_id` by a sequential scan each.

On PostgreSQL the indexes are built CONCURRENTLY, outside a transaction, so a live bills
table keeps taking writes while they build.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0020scalec'
down_revision = '0019scaleb'
branch_labels = None
depends_on = None

INDEXES = [
    (
        "ix_bills_unpaid_due",
        "bills",
        ["community_id", "due_date"],
        {
            "postgresql_where": sa.text("outstanding_fen > 0"),
            "sqlite_where": sa.text("outstanding_fen > 0"),
        },
    ),
    ("ix_notify_messages_fallback_of_id", "notify_messages", ["fallback_of_id"], {}),
    ("ix_collection_contacts_message_id", "collection_contacts", ["message_id"], {}),
]


def upgrade():
    with op.get_context().autocommit_block():
        for name, table, columns, options in INDEXES:
            op.create_index(
                name, table, columns, unique=False, postgresql_concurrently=True, **options
            )


def downgrade():
    with op.get_context().autocommit_block():
        for name, table, _, _ in reversed(INDEXES):
            op.drop_index(name, table_name=table, postgresql_concurrently=True)
