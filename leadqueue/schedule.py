"""The schedule of upcoming events for the signed-in person, and their
notification rows.

What it owns:

- :func:`upcoming_events`: every event due within a horizon for one person,
  sorted by time, so the app arms ONE timer for the next one (no timer per
  lead, no polling loop): first-response deadlines and later ladder stages of
  the person's own unworked leads, cadence steps and callbacks coming due, the
  end of a lead's snooze, and for a team lead the moments their team's leads
  reach the "notify the team lead" stage;
- :func:`sla_clocks`: per lead, the deadline and ladder stage times a live
  countdown colours itself by (``SlaClock.stage(now)``: 0 before the
  deadline, 1 from it, +1 at each later ladder stage; ``next_change(now)``);
- notification rows the worker or the in-app engine raised: pending ones,
  marking them seen, snoozing one.

Levels: "urgent" for anything on a P1 lead and for overdue-ladder stages,
"quiet" for P4 steps, "normal" otherwise. Quiet hours and batching are the
app's business (``leadqueue.notify``); this module only says what is due.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from .enums import LeadStatus, NextStepKind, NotificationLevel, Role
from .rules.escalation import (
    LadderAction,
    LeadTiming,
    SlaClock,
    ladder_schedule,
    sla_clock,
    sla_stage,
    with_firings,
)
from .rules.sla import first_response_deadline

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from .rulebook import ActiveRules
    from .views import PersonView

EVENT_KINDS = ("sla_deadline", "ladder_stage", "step_due", "callback")
LEVELS = ("urgent", "normal", "quiet")
ACTIVE = (LeadStatus.NEW, LeadStatus.WORKING)


@dataclass(frozen=True)
class DueEvent:
    """Something that comes due for the signed-in person at ``at`` (aware UTC)."""

    at: datetime
    lead_id: uuid.UUID
    lead_name: str
    #: One of ``EVENT_KINDS``.
    kind: str
    #: One of ``LEVELS``.
    level: str
    title: str
    body: str
    #: The lead's priority (1-4) when the event was computed: the quiet-hours
    #: rule lets urgent P1 notes through by it, visible in the queue or not.
    priority: int | None = None


@dataclass(frozen=True)
class NotificationView:
    """A notification row for the signed-in person."""

    id: uuid.UUID
    lead_id: uuid.UUID | None
    lead_name: str | None
    level: str
    title: str
    body: str | None
    created_at: datetime
    seen_at: datetime | None = None
    snoozed_until: datetime | None = None
    #: The lead's priority now (None: no lead, or it is gone), for the
    #: quiet-hours P1 rule.
    priority: int | None = None


_STAGE_TEXT = {
    LadderAction.NOTIFY_OWNER.value: ("First response due", "normal"),
    LadderAction.NOTIFY_OWNER_URGENT.value: ("First response overdue", "urgent"),
    LadderAction.NOTIFY_TEAM_LEAD.value: ("Team lead will be told", "urgent"),
    LadderAction.REASSIGN.value: ("Lead will be reassigned", "urgent"),
}


def _name(first: str, last: str, company: str | None) -> str:
    return f"{first} {last}".strip() + (f" ({company})" if company else "")


def _timing(row: Any) -> LeadTiming:
    return LeadTiming(row.id, row.priority, row.created_at, row.owner_id, row.assigned_at,
                      row.first_action_at, row.acknowledged_at, row.last_action_at)


def _fired(session: Session, lead_ids: list[uuid.UUID]) -> dict[uuid.UUID, dict[str, datetime]]:
    from sqlalchemy import select

    from .model import RuleFiring

    out: dict[uuid.UUID, dict[str, datetime]] = {}
    for i in range(0, len(lead_ids), 1000):
        for lead_id, key, at in session.execute(
                select(RuleFiring.lead_id, RuleFiring.key, RuleFiring.fired_at)
                .where(RuleFiring.lead_id.in_(lead_ids[i:i + 1000]))):
            out.setdefault(lead_id, {})[key] = at
    return out


def _lead_cols() -> list[Any]:
    from .model import Lead

    return [Lead.id, Lead.first_name, Lead.last_name, Lead.company, Lead.priority,
            Lead.team_id, Lead.owner_id, Lead.created_at, Lead.assigned_at,
            Lead.first_action_at, Lead.acknowledged_at, Lead.last_action_at,
            Lead.next_step, Lead.next_step_kind, Lead.next_step_at, Lead.snoozed_until]


def upcoming_events(session: Session, person: PersonView, rules: ActiveRules, now: datetime,
                    horizon: timedelta = timedelta(hours=24)) -> tuple[DueEvent, ...]:
    """Events due for ``person`` in [now, now + horizon], sorted by time."""
    from sqlalchemy import select

    from .model import Lead

    until = now + horizon
    events: list[DueEvent] = []
    mine = session.execute(select(*_lead_cols()).where(
        Lead.owner_id == person.id, Lead.status.in_(ACTIVE), Lead.deleted_at.is_(None),
        Lead.merged_into_id.is_(None))).all()
    unworked = [r for r in mine if r.first_action_at is None]
    fired = _fired(session, [r.id for r in unworked])
    for row in unworked:
        events += _sla_events(row, rules, fired.get(row.id, {}), now, until)
    for row in mine:
        events += _step_events(row, now, until)
    if Role(person.role) is Role.TEAM_LEAD and person.team_id is not None:
        team = session.execute(select(*_lead_cols()).where(
            Lead.team_id == person.team_id, Lead.owner_id.is_not(None),
            Lead.owner_id != person.id, Lead.status.in_(ACTIVE),
            Lead.first_action_at.is_(None), Lead.deleted_at.is_(None))).all()
        fired = _fired(session, [r.id for r in team])
        for row in team:
            events += _team_lead_events(row, rules, fired.get(row.id, {}), now, until)
    events.sort(key=lambda e: (e.at, LEVELS.index(e.level), e.lead_name, str(e.lead_id)))
    return tuple(events)


def _sla_events(row: Any, rules: ActiveRules, fired: dict[str, datetime], now: datetime,
                until: datetime) -> list[DueEvent]:
    policy = rules.policy(row.team_id, row.priority)
    if policy is None:
        return []
    name = _name(row.first_name, row.last_name, row.company)
    p1 = row.priority == 1
    out = []
    deadline = first_response_deadline(row.created_at, policy.target)
    if deadline is not None and now <= deadline <= until:
        out.append(DueEvent(deadline, row.id, name, "sla_deadline",
                            "urgent" if p1 else "normal",
                            f"First response due: P{row.priority} {name}",
                            f"P{row.priority} first-response target reached at "
                            f"{deadline:%H:%M} UTC", row.priority))
    timing = with_firings(_timing(row), fired)
    for at, _i, stage in ladder_schedule(timing, policy):
        if not now <= at <= until or at == deadline:
            continue
        title, level = _STAGE_TEXT[stage.action.value]
        out.append(DueEvent(at, row.id, name, "ladder_stage", "urgent" if p1 else level,
                            f"{title}: P{row.priority} {name}",
                            f"Escalation stage at +{stage.offset_minutes} min: "
                            f"{stage.action.value.replace('_', ' ')}", row.priority))
    return out


def _step_events(row: Any, now: datetime, until: datetime) -> list[DueEvent]:
    name = _name(row.first_name, row.last_name, row.company)
    out = []
    snoozed = row.snoozed_until
    if snoozed is not None and now <= snoozed <= until:
        out.append(DueEvent(snoozed, row.id, name, "step_due",
                            "urgent" if row.priority == 1 else "normal",
                            f"Back from snooze: {name}", row.next_step or "Snooze is over",
                            row.priority))
    at = row.next_step_at
    if at is None or not now <= at <= until or (snoozed is not None and snoozed > at):
        return out
    callback = row.next_step_kind == NextStepKind.CALLBACK
    level = "urgent" if row.priority == 1 else "quiet" if row.priority == 4 else "normal"
    kind = "callback" if callback else "step_due"
    title = f"{'Callback' if callback else 'Next step'} due: {name}"
    out.append(DueEvent(at, row.id, name, kind, level, title,
                        row.next_step or ("Call back as promised" if callback else "Next step"),
                        row.priority))
    return out


def _team_lead_events(row: Any, rules: ActiveRules, fired: dict[str, datetime], now: datetime,
                      until: datetime) -> list[DueEvent]:
    policy = rules.policy(row.team_id, row.priority)
    if policy is None:
        return []
    name = _name(row.first_name, row.last_name, row.company)
    timing = with_firings(_timing(row), fired)
    out = []
    for at, _i, stage in ladder_schedule(timing, policy):
        if stage.action is LadderAction.NOTIFY_TEAM_LEAD and now <= at <= until:
            out.append(DueEvent(at, row.id, name, "ladder_stage", "urgent",
                                f"SLA breach: P{row.priority} {name}",
                                f"No first response yet: escalated to you at "
                                f"+{stage.offset_minutes} min", row.priority))
    return out


def sla_clocks(session: Session, rules: ActiveRules,
               lead_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, SlaClock]:
    """{lead: SlaClock} for the given leads (an empty clock once worked)."""
    from sqlalchemy import select

    from .model import Lead

    ids = list(lead_ids)
    out: dict[uuid.UUID, SlaClock] = {}
    for i in range(0, len(ids), 1000):
        for row in session.execute(select(*_lead_cols()).where(Lead.id.in_(ids[i:i + 1000]))):
            out[row.id] = sla_clock(_timing(row), rules.policy(row.team_id, row.priority))
    return out


# --------------------------------------------------------------------------- notifications


def pending_notifications(session: Session, person_id: uuid.UUID,
                          now: datetime) -> tuple[NotificationView, ...]:
    """Unseen notifications for ``person_id`` that are not snoozed past ``now``, oldest first."""
    from sqlalchemy import or_, select

    from .model import Lead, Notification

    rows = session.execute(
        select(Notification, Lead.first_name, Lead.last_name, Lead.company, Lead.priority)
        .outerjoin(Lead, Lead.id == Notification.lead_id)
        .where(Notification.recipient_id == person_id, Notification.seen_at.is_(None),
               Notification.deleted_at.is_(None),
               or_(Notification.snoozed_until.is_(None), Notification.snoozed_until <= now))
        .order_by(Notification.created_at, Notification.id)).all()
    return tuple(
        NotificationView(n.id, n.lead_id,
                         _name(first, last, company) if first is not None else None,
                         NotificationLevel(n.level).value, n.title, n.body, n.created_at,
                         n.seen_at, n.snoozed_until, priority)
        for n, first, last, company, priority in rows)


def next_notification_at(session: Session, person_id: uuid.UUID, now: datetime) -> datetime | None:
    """When the earliest snoozed notification comes back (None: none snoozed)."""
    from sqlalchemy import func, select

    from .model import Notification

    return session.scalar(select(func.min(Notification.snoozed_until)).where(
        Notification.recipient_id == person_id, Notification.seen_at.is_(None),
        Notification.deleted_at.is_(None), Notification.snoozed_until > now))


def mark_seen(session: Session, person_id: uuid.UUID, ids: Iterable[uuid.UUID],
              now: datetime) -> int:
    """Mark the person's own notifications seen; returns how many changed."""
    from sqlalchemy import update

    from .model import Notification

    wanted = list(ids)
    if not wanted:
        return 0
    result = session.execute(
        update(Notification)
        .where(Notification.id.in_(wanted), Notification.recipient_id == person_id,
               Notification.seen_at.is_(None))
        .values(seen_at=now, updated_at=now, version=Notification.version + 1)
        .execution_options(synchronize_session=False))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def snooze(session: Session, person_id: uuid.UUID, notification_id: uuid.UUID,
           until: datetime, now: datetime) -> None:
    """Hide one notification until ``until``; LookupError if it is not the person's."""
    from sqlalchemy import select

    from .model import Notification

    note = session.scalar(select(Notification).where(
        Notification.id == notification_id, Notification.recipient_id == person_id,
        Notification.deleted_at.is_(None)))
    if note is None:
        raise LookupError(f"no notification {notification_id} for you")
    note.snoozed_until = until
    note.seen_at = None
    note.updated_at = now
    note.version = (note.version or 1) + 1


__all__ = ["EVENT_KINDS", "LEVELS", "DueEvent", "NotificationView", "SlaClock",
           "mark_seen", "next_notification_at", "pending_notifications", "sla_clock",
           "sla_clocks", "sla_stage", "snooze", "upcoming_events"]
