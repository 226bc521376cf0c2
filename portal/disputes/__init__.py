"""Disputes: objections to a bill line, a published spending item, a fee standard or the service.

The workflows live in base (shared rules, access, timeline), intake (settings, targets, opening,
evidence, look-ups), decisions (response, proposals, acceptance and credits), lifecycle
(clocks, escalation, withdrawal, closing, comments) and overview (counts, queue, lists).

Rules enforced (identical for HTML, JSON and the demo):
- an owner disputes only their own bill lines, and only published records of their community;
- a requested credit never exceeds the disputed amount; one open dispute per bill line;
- state changes are compare-and-set UPDATEs, so two clicks (or two staff) cannot both win;
- an accepted credit or correction is an ADJUSTMENT entry in the ledger, never an edit;
- while a dispute on a bill line is open, the disputed amount is on hold (a billing
  LineHold, placed when it opens and released in the same transaction as every move to
  closed): payments are not allocated to it, late fees are not charged on it, collections
  leave it alone.
"""
