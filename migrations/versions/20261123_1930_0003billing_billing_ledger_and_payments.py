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

IMMUTABLE_TABLES = ("journal_entries", "postings")
PG_FUNCTION = (
    "CREATE OR REPLACE FUNCTION ledger_immutable() RETURNS trigger AS $$ BEGIN "
    "RAISE EXCEPTION 'ledger rows are immutable'; END $$ LANGUAGE plpgsql"
)


def upgrade():
    op.create_table('fee_standards',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('property_type', sa.String(length=20), nullable=False),
    sa.Column('item_code', sa.String(length=40), nullable=False),
    sa.Column('item_name', sa.String(length=60), nullable=False),
    sa.Column('basis', sa.String(length=20), nullable=False),
    sa.Column('rate', sa.Numeric(precision=12, scale=4), nullable=False),
    sa.Column('effective_from', sa.Date(), nullable=False),
    sa.Column('approval_ref', sa.String(length=200), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('supersedes_id', sa.Integer(), nullable=True),
    sa.Column('notice_id', sa.Integer(), nullable=True),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', portal.db.UTCDateTime(), nullable=False),
    sa.CheckConstraint('rate >= 0', name=op.f('ck_fee_standards_rate_nonnegative')),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_fee_standards_community_id_communities')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_fee_standards_created_by_id_users')),
    sa.ForeignKeyConstraint(['supersedes_id'], ['fee_standards.id'], name=op.f('fk_fee_standards_supersedes_id_fee_standards')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fee_standards')),
    sa.UniqueConstraint('community_id', 'property_type', 'item_code', 'version', name=op.f('uq_fee_standards_community_id_property_type_item_code_version'))
    )

    with op.batch_alter_table('fee_standards', schema=None) as batch_op:
        batch_op.create_index('ix_fee_standards_lookup', ['community_id', 'property_type', 'item_code', 'effective_from'], unique=False)

    op.create_table('journal_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('memo', sa.String(length=255), nullable=False),
    sa.Column('source_type', sa.String(length=24), nullable=False),
    sa.Column('source_id', sa.Integer(), nullable=False),
    sa.Column('reverses_id', sa.Integer(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', portal.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_journal_entries_community_id_communities')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_journal_entries_created_by_id_users')),
    sa.ForeignKeyConstraint(['reverses_id'], ['journal_entries.id'], name=op.f('fk_journal_entries_reverses_id_journal_entries')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_journal_entries')),
    sa.UniqueConstraint('reverses_id', name=op.f('uq_journal_entries_reverses_id'))
    )

    with op.batch_alter_table('journal_entries', schema=None) as batch_op:
        batch_op.create_index('ix_journal_entries_community_at', ['community_id', 'created_at'], unique=False)
        batch_op.create_index('ix_journal_entries_source', ['source_type', 'source_id'], unique=False)

    op.create_table('late_fee_policies',
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('daily_rate', sa.Numeric(precision=8, scale=6), nullable=False),
    sa.Column('cap_rate', sa.Numeric(precision=6, scale=4), nullable=False),
    sa.Column('grace_days', sa.Integer(), nullable=False),
    sa.Column('clause_ref', sa.String(length=200), nullable=False),
    sa.Column('updated_at', portal.db.UTCDateTime(), nullable=False),
    sa.CheckConstraint('cap_rate >= 0 AND cap_rate <= 0.3', name=op.f('ck_late_fee_policies_cap_rate_range')),
    sa.CheckConstraint('daily_rate >= 0 AND daily_rate <= 0.001', name=op.f('ck_late_fee_policies_daily_rate_range')),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_late_fee_policies_community_id_communities')),
    sa.PrimaryKeyConstraint('community_id', name=op.f('pk_late_fee_policies'))
    )

    op.create_table('payment_intents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('out_trade_no', sa.String(length=32), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('amount_fen', sa.BigInteger(), nullable=False),
    sa.Column('fee_fen', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('idempotency_key', sa.String(length=64), nullable=False),
    sa.Column('pay_url', sa.String(length=2000), nullable=True),
    sa.Column('qr_code', sa.String(length=500), nullable=True),
    sa.Column('txn_id', sa.String(length=64), nullable=True),
    sa.Column('created_at', portal.db.UTCDateTime(), nullable=False),
    sa.Column('expires_at', portal.db.UTCDateTime(), nullable=False),
    sa.Column('succeeded_at', portal.db.UTCDateTime(), nullable=True),
    sa.Column('failed_at', portal.db.UTCDateTime(), nullable=True),
    sa.CheckConstraint('amount_fen > 0', name=op.f('ck_payment_intents_amount_positive')),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_payment_intents_community_id_communities')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_payment_intents_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_intents')),
    sa.UniqueConstraint('out_trade_no', name=op.f('uq_payment_intents_out_trade_no')),
    sa.UniqueConstraint('user_id', 'idempotency_key', name=op.f('uq_payment_intents_user_id_idempotency_key'))
    )

    with op.batch_alter_table('payment_intents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payment_intents_user_id'), ['user_id'], unique=False)

    op.create_table('receipt_counters',
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('last_seq', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_receipt_counters_community_id_communities')),
    sa.PrimaryKeyConstraint('community_id', 'year', name=op.f('pk_receipt_counters'))
    )

    op.create_table('auto_debit_mandates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('bank_account_masked', sa.String(length=40), nullable=False),
    sa.Column('max_amount_fen', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', portal.db.UTCDateTime(), nullable=False),
    sa.Column('updated_at', portal.db.UTCDateTime(), nullable=False),
    sa.CheckConstraint('max_amount_fen > 0', name=op.f('ck_auto_debit_mandates_max_positive')),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_auto_debit_mandates_unit_id_units')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_auto_debit_mandates_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_auto_debit_mandates')),
    sa.UniqueConstraint('unit_id', 'user_id', name=op.f('uq_auto_debit_mandates_unit_id_user_id'))
    )

    op.create_table('bills',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('period', sa.Date(), nullable=False),
    sa.Column('period_months', sa.Integer(), nullable=False),
    sa.Column('issued_on', sa.Date(), nullable=False),
    sa.Column('due_date', sa.Date(), nullable=False),
    sa.Column('amount_fen', sa.BigInteger(), nullable=False),
    sa.Column('outstanding_fen', sa.BigInteger(), nullable=False),
    sa.Column('waived_fen', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('created_at', portal.db.UTCDateTime(), nullable=False),
    sa.CheckConstraint('outstanding_fen <= amount_fen', name=op.f('ck_bills_outstanding_within_amount')),
    sa.CheckConstraint('outstanding_fen >= 0', name=op.f('ck_bills_outstanding_nonnegative')),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_bills_community_id_communities')),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_bills_unit_id_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bills')),
    sa.UniqueConstraint('unit_id', 'period', name=op.f('uq_bills_unit_id_period'))
    )

    with op.batch_alter_table('bills', schema=None) as batch_op:
        batch_op.create_index('ix_bills_community_period', ['community_id', 'period'], unique=False)
        batch_op.create_index('ix_bills_open_due', ['community_id', 'due_date', 'outstanding_fen'], unique=False)
        batch_op.create_index(batch_op.f('ix_bills_unit_id'), ['unit_id'], unique=False)

    op.create_table('ledger_accounts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=80), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=True),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_ledger_accounts_community_id_communities')),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_ledger_accounts_unit_id_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_accounts')),
    sa.UniqueConstraint('community_id', 'code', name=op.f('uq_ledger_accounts_community_id_code'))
    )

    with op.batch_alter_table('ledger_accounts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ledger_accounts_unit_id'), ['unit_id'], unique=False)

    op.create_table('payments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('payer_id', sa.Integer(), nullable=True),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('intent_id', sa.Integer(), nullable=True),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('txn_id', sa.String(length=64), nullable=False),
    sa.Column('amount_fen', sa.BigInteger(), nullable=False),
    sa.Column('refund_due_fen', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('received_at', portal.db.UTCDateTime(), nullable=False),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('note', sa.String(length=255), nullable=False),
    sa.CheckConstraint('amount_fen > 0', name=op.f('ck_payments_amount_positive')),
    sa.CheckConstraint('refund_due_fen >= 0', name=op.f('ck_payments_refund_due_nonnegative')),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_payments_community_id_communities')),
    sa.ForeignKeyConstraint(['intent_id'], ['payment_intents.id'], name=op.f('fk_payments_intent_id_payment_intents')),
    sa.ForeignKeyConstraint(['payer_id'], ['users.id'], name=op.f('fk_payments_payer_id_users')),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id'], name=op.f('fk_payments_recorded_by_id_users')),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_payments_unit_id_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payments')),
    sa.UniqueConstraint('channel', 'txn_id', name=op.f('uq_payments_channel_txn_id'))
    )

    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.create_index('ix_payments_community_received', ['community_id', 'received_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_payments_unit_id'), ['unit_id'], unique=False)

    op.create_table('bill_lines',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('bill_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('item_code', sa.String(length=40), nullable=False),
    sa.Column('item_name', sa.String(length=60), nullable=False),
    sa.Column('fee_standard_id', sa.Integer(), nullable=True),
    sa.Column('quantity', sa.Numeric(precision=14, scale=4), nullable=False),
    sa.Column('rate', sa.Numeric(precision=12, scale=4), nullable=False),
    sa.Column('months', sa.Integer(), nullable=False),
    sa.Column('amount_fen', sa.BigInteger(), nullable=False),
    sa.Column('outstanding_fen', sa.BigInteger(), nullable=False),
    sa.Column('waived_fen', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('explanation', sa.String(length=255), nullable=False),
    sa.Column('late_fee_month', sa.Date(), nullable=True),
    sa.CheckConstraint('amount_fen > 0', name=op.f('ck_bill_lines_amount_positive')),
    sa.CheckConstraint('outstanding_fen <= amount_fen', name=op.f('ck_bill_lines_outstanding_within_amount')),
    sa.CheckConstraint('outstanding_fen >= 0', name=op.f('ck_bill_lines_outstanding_nonnegative')),
    sa.ForeignKeyConstraint(['bill_id'], ['bills.id'], name=op.f('fk_bill_lines_bill_id_bills')),
    sa.ForeignKeyConstraint(['fee_standard_id'], ['fee_standards.id'], name=op.f('fk_bill_lines_fee_standard_id_fee_standards')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bill_lines')),
    sa.UniqueConstraint('bill_id', 'late_fee_month', name=op.f('uq_bill_lines_bill_id_late_fee_month'))
    )

    with op.batch_alter_table('bill_lines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_bill_lines_bill_id'), ['bill_id'], unique=False)

    op.create_table('payment_intent_bills',
    sa.Column('intent_id', sa.Integer(), nullable=False),
    sa.Column('bill_id', sa.Integer(), nullable=False),
    sa.Column('amount_fen', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['bill_id'], ['bills.id'], name=op.f('fk_payment_intent_bills_bill_id_bills')),
    sa.ForeignKeyConstraint(['intent_id'], ['payment_intents.id'], name=op.f('fk_payment_intent_bills_intent_id_payment_intents')),
    sa.PrimaryKeyConstraint('intent_id', 'bill_id', name=op.f('pk_payment_intent_bills'))
    )

    op.create_table('receipts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=40), nullable=False),
    sa.Column('payment_id', sa.Integer(), nullable=False),
    sa.Column('issued_at', portal.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_receipts_community_id_communities')),
    sa.ForeignKeyConstraint(['payment_id'], ['payments.id'], name=op.f('fk_receipts_payment_id_payments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_receipts')),
    sa.UniqueConstraint('community_id', 'year', 'seq', name=op.f('uq_receipts_community_id_year_seq')),
    sa.UniqueConstraint('number', name=op.f('uq_receipts_number')),
    sa.UniqueConstraint('payment_id', name=op.f('uq_receipts_payment_id'))
    )

    op.create_table('refunds',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('payment_id', sa.Integer(), nullable=False),
    sa.Column('amount_fen', sa.BigInteger(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('requested_by_id', sa.Integer(), nullable=False),
    sa.Column('approved_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', portal.db.UTCDateTime(), nullable=False),
    sa.Column('decided_at', portal.db.UTCDateTime(), nullable=True),
    sa.CheckConstraint('amount_fen > 0', name=op.f('ck_refunds_amount_positive')),
    sa.ForeignKeyConstraint(['approved_by_id'], ['users.id'], name=op.f('fk_refunds_approved_by_id_users')),
    sa.ForeignKeyConstraint(['payment_id'], ['payments.id'], name=op.f('fk_refunds_payment_id_payments')),
    sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'], name=op.f('fk_refunds_requested_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_refunds'))
    )

    with op.batch_alter_table('refunds', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_refunds_payment_id'), ['payment_id'], unique=False)

    op.create_table('postings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('entry_id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('amount_fen', sa.BigInteger(), nullable=False),
    sa.Column('bill_line_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['ledger_accounts.id'], name=op.f('fk_postings_account_id_ledger_accounts')),
    sa.ForeignKeyConstraint(['bill_line_id'], ['bill_lines.id'], name=op.f('fk_postings_bill_line_id_bill_lines')),
    sa.ForeignKeyConstraint(['entry_id'], ['journal_entries.id'], name=op.f('fk_postings_entry_id_journal_entries')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_postings'))
    )

    with op.batch_alter_table('postings', schema=None) as batch_op:
        batch_op.create_index('ix_postings_account', ['account_id', 'entry_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_postings_bill_line_id'), ['bill_line_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_postings_entry_id'), ['entry_id'], unique=False)
    # Ledger rows are immutable in the database itself, not only in the ORM.
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_FUNCTION)
        for table in IMMUTABLE_TABLES:
            op.execute(
                f"CREATE TRIGGER {table}_immutable BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION ledger_immutable()"
            )
    else:
        for table in IMMUTABLE_TABLES:
            for action in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                    "BEGIN SELECT RAISE(ABORT, 'ledger rows are immutable'); END"
                )


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        for table in IMMUTABLE_TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_immutable ON {table}")
        op.execute("DROP FUNCTION IF EXISTS ledger_immutable()")
    else:
        for table in IMMUTABLE_TABLES:
            for action in ("update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{action}")
    with op.batch_alter_table('postings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_postings_entry_id'))
        batch_op.drop_index(batch_op.f('ix_postings_bill_line_id'))
        batch_op.drop_index('ix_postings_account')

    op.drop_table('postings')

    with op.batch_alter_table('refunds', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_refunds_payment_id'))

    op.drop_table('refunds')

    op.drop_table('receipts')

    op.drop_table('payment_intent_bills')

    with op.batch_alter_table('bill_lines', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_bill_lines_bill_id'))

    op.drop_table('bill_lines')

    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payments_unit_id'))
        batch_op.drop_index('ix_payments_community_received')

    op.drop_table('payments')

    with op.batch_alter_table('ledger_accounts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ledger_accounts_unit_id'))

    op.drop_table('ledger_accounts')

    with op.batch_alter_table('bills', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_bills_unit_id'))
        batch_op.drop_index('ix_bills_open_due')
        batch_op.drop_index('ix_bills_community_period')

    op.drop_table('bills')

    op.drop_table('auto_debit_mandates')

    op.drop_table('receipt_counters')

    with op.batch_alter_table('payment_intents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payment_intents_user_id'))

    op.drop_table('payment_intents')

    op.drop_table('late_fee_policies')

    with op.batch_alter_table('journal_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_journal_entries_source')
        batch_op.drop_index('ix_journal_entries_community_at')

    op.drop_table('journal_entries')

    with op.batch_alter_table('fee_standards', schema=None) as batch_op:
        batch_op.drop_index('ix_fee_standards_lookup')

    op.drop_table('fee_standards')
