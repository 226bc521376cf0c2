"""Billing: fee standards, billing runs, late fees and waivers, holds, and the ledger.

standards (versioned fee standards), runs (a period's bills, prepayment applied), late_fees
(late fees and waivers), holds (amounts nobody may collect while contested), queries (look-ups
and the figures other domains publish) and ledger (the double-entry books: the only writer of
balances, bill lines' included).
"""
