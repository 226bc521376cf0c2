"""Feedback: complaints, surveys, each unit's satisfaction profile, service recovery, KPIs.

- complaints: a complaint (投诉) is a ticket of kind "complaint" (portal/tickets: Ticket.kind,
  TicketCategory.kind, Ticket.about_staff_id), so it has the ticket SLA clock (1 h first
  response, 24 h answer), timeline, answer (= resolution) and the owner's 1-5 rating; it is
  seen only by the owner, customer service and the manager (never engineers, never the public
  common-area feed) and is left out of the repair responsiveness statistics.
- surveys: created by customer service or a manager for a community or some of its buildings,
  rating (1-5) / choice / text questions; owners are invited through the outbox
  (Reason.SURVEY_INVITE) and answer once per unit (unique constraint); results per question
  and building are k-anonymous (k = 5) and published to owners when the survey closes.
- profile: the unit's 0-100 score with each input, its weight and evidence (see below).
- recovery: a dissatisfied unit (a rating ≤ 2, an open complaint, a survey answer ≤ 2.5) gets
  one open recovery task for customer service listing the specific problems; done/overdue
  tracked; `flask feedback recovery` is the idempotent daily sweep.
- kpis: the manager's dashboard (satisfaction trend, complaint rate and response, recovery
  completion, by building) and streamed CSV exports.

For collections (the next domain in DOMAINS):

    from portal.feedback.profile import satisfaction_profile
    p = satisfaction_profile(session, unit_id=unit.id, now=now)
    p.score            # int 0-100, or None when nothing is known about the unit
    p.dissatisfied     # score < 60 or an open complaint (the "in arrears and dissatisfied" filter)
    p.evidence         # [{"signal", "ref", "detail", "at"}]: low ratings, open complaints, …
    p.as_json()        # {"score", "dissatisfied", "inputs": [{"signal", "weight", "count",
                       #  "value"}], "penalties", "evidence", "trend", "as_of", "fresh_at"}
                       # — the `"satisfaction"` of the case JSON (DESIGN.md §3)

Set-based helpers for lists: `profile.unit_open_complaint_ids(session, community_id=…)` and
`recovery.candidate_units(session, community_id=…, now=…)` (units showing dissatisfaction);
`recovery.unit_tasks(session, unit_id=…)` lists a unit's recovery tasks (status, done_at) for
the "recovery before escalation" figure.
"""
