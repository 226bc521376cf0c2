"""Payments: intents, exactly-once crediting of callbacks, offline payments, receipts, refunds.

The workflows live in intents (online payment), crediting (allocation, ledger, receipts,
offline payments), refunding, queries and autodebit; gateways/ speak to WeChat Pay, Alipay
and the sandbox, bulk imports bank files.

Exactly once is enforced by the database, not by Python checks: an intent moves to
`succeeded` by a compare-and-set UPDATE whose row count decides who posts to the ledger,
(channel, txn_id) is unique on payments, idempotency keys are unique per user, and bill lines
can never go below zero (compare-and-set plus a CHECK constraint), so money that finds nothing
left to pay becomes the owner's prepayment, flagged to finance as refund-due.
"""
