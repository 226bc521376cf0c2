"""notify: the one way anything leaves the portal for a person (outbox, channels, policy).

notify sits low in the domain order (right after uploads): the domains that own events
(billing, payments, notices, tickets, disputes, feedback, collections) compose their own
message context and call this API; notify never imports them.

API for other domains (all take the session and `now`; none commits):

- `service.queue_message(session, *, event_key, recipient, community_id, unit_id, reason,
  category, template_key, context, related_type="", related_id=None, not_before=None,
  amount_fen=None, held_fen=None, channels=None, now) -> list[Message]`
  One message per channel for one recipient. Idempotent by (event_key, recipient, channel):
  calling again for the same event returns the rows already queued. `reason` is a
  `models.Reason`; `category` a `models.Category` ("money" counts against the caps,
  "service"/"notice" do not, "legal" letters cannot be opted out of). `template_key` is one of
  `templates.BUILTIN` and `context` fills its placeholders (`*_fen` ints are formatted as ¥,
  `*_en` values replace the plain one in English). channels=None uses the owner's 通知设置:
  always the inbox, plus WeChat (when bound) else SMS for money, plus a letter for legal.
  Each message passes `policy` now and again when sent; one that may not go is kept as
  `suppressed` (with `suppressed_reason`) or `deferred` (with `defer_reason` and a later
  `not_before`). A unit outside `community_id` raises DomainError(code="unit_not_in_community").
  Money messages carry `amount_fen` (payable) and `held_fen` (under open dispute): payable 0
  with something held is suppressed as `disputed`.
- `service.queue_messages(session, [MessageRequest(...), ...], *, now) -> list[list[Message]]`:
  the same for many events at once (what they need read once, one multi-row INSERT per
  1,000 new messages; all or nothing). `service.queue_in_batches(session, requests, *, now,
  size=2000) -> int` queues a whole community's owners 2,000 at a time.
- `service.suppress_pending(session, *, unit_id, category="money", reason="disputed",
  related_type=None, related_id=None, now)`: billing's `place_hold` calls this for the bill
  whose line is held, so nothing queued about it names a disputed amount.
- `service.cancel_pending(session, *, related_type, related_id, reason, now)`: e.g. a bill paid
  before its reminder went out.
- `policy.check_contact(session, *, unit_id, community_tz, channel, category, at, planned=True)
  -> ContactDecision(allowed, reason, defer_until, flagged)`: the same rules for a collector's
  phone call or home visit (planned: refused in quiet hours or over a cap, with when it may
  happen; recorded after the fact: allowed and flagged).
- `policy.record_contact_attempt(session, *, unit_id, channel, category, at, source_type,
  source_id)`: log a call/visit so the 7-in-7 cap counts it with the messages.
- `service.register_daily(name, producer)`: a daily job (e.g. billing's due-in-3-days
  reminders) that `flask notify due-soon [--date]` runs.
- `service.public_url(path)` (absolute links from PUBLIC_BASE_URL); `sending.send_due` (a
  quiet-hours backlog is deferred, and due inbox messages delivered, one statement each),
  `sending.record_delivery_receipt`; the owner's `inbox.inbox(session, user, page)`,
  `inbox.unread_count(session, user)`, `inbox.mark_read`; the staff side in `outbox`.

Jobs: `flask notify send [--now ISO]` (claims rows by compare-and-set, retries with
exponential backoff, a failed SMS/WeChat falls back to the inbox) and `flask notify due-soon`.
"""
