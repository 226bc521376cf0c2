"""Feedback: complaints, surveys, each unit's satisfaction profile, service recovery, KPIs.

- complaints: a complaint (投诉) is a ticket of kind "complaint" (portal/tickets), so it has the
  ticket SLA clock, timeline, answer (resolution) and the owner's 1-5 rating; it is seen only by
  the owner, customer service and the manager.
- surveys: created by customer service or a manager for a community or some of its buildings,
  rating (1-5) / choice / text questions; owners are invited through the outbox and answer
  once per unit; results per question and building are k-anonymous (k = 5).
- profile: `satisfaction_profile(session, *, unit_id, now)` → SatisfactionProfile, the unit's
  0-100 score with each input, its weight and evidence. Collections reads it (see profile.py).
- recovery: a dissatisfied unit (a rating ≤ 2, an open complaint, a low survey answer) gets one
  open recovery task for customer service listing the specific problems; done/overdue tracked.
- kpis: the manager's dashboard figures (satisfaction trend, complaint response, recovery).
"""
