"""The next-best-lead engine: which lead a rep works now, and why.

Two layers:

* :func:`rank` is pure. Over plain :class:`Candidate` rows, a time and a
  :class:`QueuePolicy` it sorts a rep's leads into three lists: *callable*
  (due now, inside the lead's calling window, ranked by tier), *later* (due,
  but the window is closed; carries ``window_opens_at``) and *upcoming*
  (nothing due yet, or snoozed; ordered by when it comes due). :func:`explain`
  turns one ranked lead into the human reasons the queue shows.
* :func:`ranked_queue` fetches the rep's candidate rows with one indexed
  query on ``leads(owner_id, status)`` (only the columns ranking needs, no ORM
  objects), ranks them, and only then loads display fields for the rows that
  made the cut.

The default ranking (issue 3, the contract the tests rely on):

Eligible: owner is the rep; status ``new`` or ``working``; not snoozed past
now; not do-not-contact. Tiers: (1) promised callbacks due within 5 minutes,
oldest first; (2) leads awaiting a first response, by priority then SLA
deadline (``created_at`` + the policy's target, so reassignment does not
restart the customer's wait); (3) scheduled steps due (``next_step_at`` <= now),
by priority then ``next_step_at``. Ties: higher score, older ``created_at``,
then id.

A lead whose time zone is missing or unknown is **never dropped**: its local
time cannot be told, so the calling window cannot be applied; it is treated
as callable (a rep can still decide not to dial) and carries the reason
"Local time unknown". Hiding it would let a hot lead rot unseen, which is the
failure the product exists to prevent.
"""

from __future__ import annotations

import heapq
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple

from .enums import DataIssue, LeadStatus, NextStepKind
from .rules.calling_window import (
    DEFAULT_WINDOW_END,
    DEFAULT_WINDOW_START,
    lead_zone,
    window_opens_at,
)
from .rules.sla import DEFAULT_TARGET_MINUTES, SlaTarget, first_response_deadline

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from .views import QueueRow, RankedQueue

#: A promised callback counts as due this long before its time.
CALLBACK_LEAD_TIME = timedelta(minutes=5)
ACTIVE_STATUSES = (LeadStatus.NEW.value, LeadStatus.WORKING.value)
_CALLBACK = NextStepKind.CALLBACK.value
_FAR_FUTURE = datetime.max.replace(tzinfo=UTC)


class Candidate(NamedTuple):
    """The columns ranking needs, in the order the store query selects them."""

    id: uuid.UUID
    priority: int
    score: int
    created_at: datetime
    first_action_at: datetime | None
    next_step_kind: str | None
    next_step_at: datetime | None
    snoozed_until: datetime | None
    timezone: str | None
    team_id: uuid.UUID | None
    status: str = LeadStatus.NEW.value
    do_not_contact: bool = False


@dataclass(frozen=True)
class QueuePolicy:
    """Team settings ranking depends on.

    ``windows`` maps a team id to its calling window ("HH:MM", "HH:MM");
    ``sla_minutes`` maps (team id or None, priority) to the first-response
    target in minutes (None: no target). A team's own policy overrides the
    team-less default; a priority with no policy at all uses
    :data:`~leadqueue.rules.sla.DEFAULT_TARGET_MINUTES`.
    """

    windows: Mapping[uuid.UUID | None, tuple[str, str]] = field(default_factory=dict)
    sla_minutes: Mapping[tuple[uuid.UUID | None, int], int | None] = field(default_factory=dict)
    #: The calling window of a lead without a team (the rep's team's, usually).
    default_window: tuple[str, str] = (DEFAULT_WINDOW_START, DEFAULT_WINDOW_END)

    def window_for(self, team_id: uuid.UUID | None) -> tuple[str, str]:
        return self.windows.get(team_id, self.default_window)

    def sla_target(self, team_id: uuid.UUID | None, priority: int) -> SlaTarget | None:
        key = (team_id, priority)
        if key in self.sla_minutes:
            return SlaTarget(priority, self.sla_minutes[key])
        if (None, priority) in self.sla_minutes:
            return SlaTarget(priority, self.sla_minutes[(None, priority)])
        if priority in DEFAULT_TARGET_MINUTES:
            return SlaTarget(priority, DEFAULT_TARGET_MINUTES[priority])
        return None


class Ranked(NamedTuple):
    """One lead's place in the queue."""

    candidate: Candidate
    #: 1-3 for due leads (callable or later); None for upcoming.
    tier: int | None
    sla_due_at: datetime | None
    #: When the calling window opens ("later" leads only).
    window_opens_at: datetime | None
    #: When an upcoming lead comes due: its snooze end or next step time.
    upcoming_at: datetime | None
    #: False when the lead's zone is missing or unknown (window not applied).
    local_time_known: bool
    sort_key: tuple[Any, ...]


@dataclass(frozen=True)
class Ranking:
    callable: list[Ranked]
    later: list[Ranked]
    upcoming: list[Ranked]


def _tier(c: Candidate, now: datetime, callback_due_by: datetime) -> int | None:
    nsa = c.next_step_at
    if c.next_step_kind == _CALLBACK and nsa is not None and nsa <= callback_due_by:
        return 1
    if c.first_action_at is None:
        return 2
    if nsa is not None and nsa <= now:
        return 3
    return None


def rank(candidates: Iterable[Candidate], now: datetime, policy: QueuePolicy | None = None,
         limit: int | None = None, *, upcoming: bool = True) -> Ranking:
    """Sort a rep's leads into callable, later and upcoming lists (pure).

    ``limit`` caps each list. With ``upcoming=False`` the upcoming list is left
    empty (a caller that only wants the next lead skips that work).
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    policy = policy or QueuePolicy()
    callback_due_by = now + CALLBACK_LEAD_TIME
    # The window answer depends only on (zone, team): compute it once per pair.
    windows: dict[tuple[str | None, uuid.UUID | None], tuple[bool, datetime | None]] = {}
    targets: dict[tuple[uuid.UUID | None, int], SlaTarget | None] = {}
    due_now: list[Ranked] = []
    due_later: list[Ranked] = []
    waiting: list[Ranked] = []

    for c in candidates:
        if c.do_not_contact or c.status not in ACTIVE_STATUSES:
            continue
        snoozed = c.snoozed_until is not None and c.snoozed_until > now
        tier = None if snoozed else _tier(c, now, callback_due_by)
        sla_due_at = None
        if c.first_action_at is None:
            tkey = (c.team_id, c.priority)
            if tkey not in targets:
                targets[tkey] = policy.sla_target(c.team_id, c.priority)
            sla_due_at = first_response_deadline(c.created_at, targets[tkey])
        wkey = (c.timezone, c.team_id)
        if wkey not in windows:
            known = lead_zone(c.timezone) is not None
            start, end = policy.window_for(c.team_id)
            windows[wkey] = (known, window_opens_at(now, c.timezone, start, end) if known else None)
        known, opens = windows[wkey]
        ties = (-c.score, c.created_at, c.id)
        if tier is None:
            if not upcoming:
                continue
            at = c.snoozed_until if snoozed else c.next_step_at
            key = (at or _FAR_FUTURE, c.priority, *ties)
            waiting.append(Ranked(c, None, sla_due_at, None, at, known, key))
            continue
        if tier == 1:
            key = (1, 0, c.next_step_at, *ties)
        elif tier == 2:
            key = (2, c.priority, sla_due_at or _FAR_FUTURE, *ties)
        else:
            key = (3, c.priority, c.next_step_at, *ties)
        if opens is None:
            due_now.append(Ranked(c, tier, sla_due_at, None, None, known, key))
        else:
            due_later.append(Ranked(c, tier, sla_due_at, opens, None, known, (opens, *key)))

    def ordered(rows: list[Ranked]) -> list[Ranked]:
        if limit is not None and limit < len(rows):
            return heapq.nsmallest(limit, rows, key=lambda r: r.sort_key)
        return sorted(rows, key=lambda r: r.sort_key)

    return Ranking(ordered(due_now), ordered(due_later), ordered(waiting))


# -- reasons ---------------------------------------------------------------------


@dataclass(frozen=True)
class LeadFacts:
    """Display facts the reasons mention, beyond what ranking needs."""

    source: str | None = None
    lead_class: str | None = None
    next_step: str | None = None
    score_breakdown: Sequence[Mapping[str, Any]] = ()
    data_issues: Sequence[str] = ()
    #: e.g. "Step 3 of 6 (call)" when the lead is in an active cadence.
    cadence_step: str | None = None


def humanize(delta: timedelta) -> str:
    """A short duration: "3 min", "2 h", "2 h 15 min", "3 days"."""
    minutes = int(abs(delta).total_seconds() // 60)
    if minutes < 60:
        return f"{max(minutes, 1)} min" if minutes else "under a minute"
    hours, rest = divmod(minutes, 60)
    if hours >= 48:
        return f"{hours // 24} days"
    if rest and hours < 10:
        return f"{hours} h {rest} min"
    return f"{hours} h"


def _due_phrase(what: str, at: datetime, now: datetime) -> str:
    if at > now:
        return f"{what} due in {humanize(at - now)}"
    if now - at < timedelta(minutes=1):
        return f"{what} due now"
    return f"{what} overdue by {humanize(now - at)}"


def _clock_text(at: datetime, zone_name: str | None, now: datetime) -> str:
    """``at`` as the lead's wall-clock time ("14:30", or "Thu 14:30" another day)."""
    zone = lead_zone(zone_name)
    local = at.astimezone(zone) if zone else at.astimezone(UTC)
    today = now.astimezone(zone) if zone else now.astimezone(UTC)
    text = local.strftime("%H:%M")
    if local.date() != today.date():
        text = f"{local.strftime('%a %b')} {local.day} {text}"
    return text if zone else f"{text} UTC"


def score_reason(score: int, breakdown: Sequence[Mapping[str, Any]]) -> str | None:
    """"Score 72: +30 booked call, +15 reply, +10 verified phone, +17 other"."""
    items = [(str(b.get("rule", "")).replace("_", " "), int(b.get("points", 0) or 0))
             for b in breakdown or () if isinstance(b, Mapping)]
    if not items:
        return f"Score {score}" if score else None
    shown = items[:3]
    other = score - sum(points for _, points in shown)
    parts = [f"{points:+d} {rule}".strip() for rule, points in shown]
    if other:
        parts.append(f"{other:+d} other")
    return f"Score {score}: {', '.join(parts)}"


def explain(r: Ranked, facts: LeadFacts, now: datetime) -> tuple[str, ...]:
    """The human reasons one ranked lead is where it is (most important first)."""
    c = r.candidate
    reasons: list[str] = []
    their = "their time" if r.local_time_known else "local time unknown"
    if r.tier == 1 and c.next_step_at is not None:
        reasons.append(
            f"Callback promised for {_clock_text(c.next_step_at, c.timezone, now)} ({their})"
        )
    elif r.tier == 2:
        label = (facts.source or facts.lead_class or "lead").replace("_", " ")
        if r.sla_due_at is None:
            reasons.append(f"P{c.priority} {label} — awaiting first response (no SLA target)")
        else:
            reasons.append(f"P{c.priority} {label} — {_due_phrase('first response', r.sla_due_at, now)}")
    elif r.tier == 3 and c.next_step_at is not None:
        if facts.cadence_step:
            what = f"Cadence {facts.cadence_step[0].lower()}{facts.cadence_step[1:]}"
        else:
            what = f"Next step ({c.next_step_kind or 'follow-up'})"
        text = _due_phrase(what, c.next_step_at, now)
        if facts.next_step and not facts.cadence_step:
            text = f"{text}: {facts.next_step}"
        reasons.append(text)
    elif r.tier is None:
        if c.snoozed_until is not None and c.snoozed_until > now:
            reasons.append(f"Snoozed until {_clock_text(c.snoozed_until, None, now)}")
        elif c.next_step_at is not None:
            what = f"Next step ({c.next_step_kind or 'follow-up'})"
            reasons.append(f"{what} due in {humanize(c.next_step_at - now)}"
                           + (f": {facts.next_step}" if facts.next_step else ""))
        else:
            reasons.append("No next step set")
    if r.window_opens_at is not None:
        reasons.append(
            f"Outside calling window ({_clock_text(now, c.timezone, now)} their time); "
            f"opens in {humanize(r.window_opens_at - now)}"
        )
    score = score_reason(c.score, facts.score_breakdown)
    if score:
        reasons.append(score)
    if not r.local_time_known:
        reasons.append(
            "Local time unknown (no time zone): check before calling"
            if not c.timezone
            else f"Local time unknown (time zone {c.timezone!r} not recognised): check before calling"
        )
    issues = set(facts.data_issues or ())
    if DataIssue.PHONE_UNPARSEABLE.value in issues:
        reasons.append("Phone number could not be read: check it before dialling")
    if "phone_wrong" in issues:
        reasons.append("Phone flagged as wrong or dead number")
    return tuple(reasons)


# -- the store query ---------------------------------------------------------------


def _policy(conn: Connection, rep_team_id: uuid.UUID | None) -> QueuePolicy:
    from sqlalchemy import select

    from .model import SlaPolicy, Team

    teams = Team.__table__.c
    windows = {
        team_id: (start or DEFAULT_WINDOW_START, end or DEFAULT_WINDOW_END)
        for team_id, start, end in conn.execute(
            select(teams.id, teams.calling_window_start, teams.calling_window_end)
            .where(teams.deleted_at.is_(None))
        )
    }
    sla = SlaPolicy.__table__.c
    minutes = {
        (team_id, priority): target
        for team_id, priority, target in conn.execute(
            select(sla.team_id, sla.priority, sla.first_response_minutes)
            .where(sla.deleted_at.is_(None))
        )
    }
    default = windows.get(rep_team_id, (DEFAULT_WINDOW_START, DEFAULT_WINDOW_END))
    return QueuePolicy(windows, minutes, default)


def candidate_query(rep_id: uuid.UUID, now: datetime, *, due: bool | None):  # type: ignore[no-untyped-def]
    """The rep's eligible leads via ``ix_leads_owner_status``, ranking columns only.

    ``due=True`` narrows to rows that may be due now (a superset of tiers 1-3:
    :func:`rank` decides), ``due=False`` to the rest (upcoming), None to all.
    """
    from sqlalchemy import and_, false, or_, select

    from .model import Lead

    t = Lead.__table__.c
    query = select(
        t.id, t.priority, t.score, t.created_at, t.first_action_at, t.next_step_kind,
        t.next_step_at, t.snoozed_until, t.timezone, t.team_id, t.status, t.do_not_contact,
    ).where(
        t.owner_id == rep_id,
        t.status.in_(ACTIVE_STATUSES),
        t.deleted_at.is_(None),
        t.do_not_contact == false(),
    )
    if due is None:
        return query
    maybe_due = and_(
        or_(t.snoozed_until.is_(None), t.snoozed_until <= now),
        or_(
            t.first_action_at.is_(None),
            t.next_step_at <= now + CALLBACK_LEAD_TIME,
        ),
    )
    return query.where(maybe_due if due else ~maybe_due)


def fetch_ranking(conn: Connection, rep_id: uuid.UUID, rep_team_id: uuid.UUID | None,
                  now: datetime, limit: int | None = None, *,
                  upcoming: bool = True) -> Ranking:
    """Rank one rep's queue from the store (the hot path: no ORM objects)."""
    policy = _policy(conn, rep_team_id)
    make = Candidate._make
    due_rows = [make(row) for row in conn.execute(candidate_query(rep_id, now, due=True))]
    # The due query is a superset: a non-callback step due within the
    # callback lead time comes back too, and rank() files it as upcoming.
    ranking = rank(due_rows, now, policy, limit, upcoming=upcoming)
    if upcoming:
        rest = [make(row) for row in conn.execute(candidate_query(rep_id, now, due=False))]
        waiting = heapq.merge(ranking.upcoming, rank(rest, now, policy, limit).upcoming,
                              key=lambda r: r.sort_key)
        ranking = Ranking(ranking.callable, ranking.later, list(waiting)[:limit])
    return ranking


def _chunks(ids: list[uuid.UUID], size: int = 500) -> Iterable[list[uuid.UUID]]:
    for start in range(0, len(ids), size):
        yield ids[start:start + size]


def ranked_queue(conn: Connection, rep_id: uuid.UUID, rep_team_id: uuid.UUID | None,
                 now: datetime, limit: int | None = None) -> RankedQueue:
    """The rep's queue as frozen views, each row with its reasons."""
    from sqlalchemy import select

    from .model import Lead
    from .views import QueueRow, RankedQueue

    ranking = fetch_ranking(conn, rep_id, rep_team_id, now, limit)
    chosen = [r.candidate.id for r in (*ranking.callable, *ranking.later, *ranking.upcoming)]
    t = Lead.__table__.c
    details: dict[uuid.UUID, Any] = {}
    for ids in _chunks(chosen):
        for row in conn.execute(
            select(t.id, t.external_id, t.first_name, t.last_name, t.company, t.lead_class,
                   t.source, t.phone, t.email, t.next_step, t.score_breakdown, t.data_issues)
            .where(t.id.in_(ids))
        ):
            details[row.id] = row
    labels = cadence_labels(conn, chosen)

    def view(r: Ranked) -> QueueRow:
        c = r.candidate
        d = details[c.id]
        facts = LeadFacts(d.source, d.lead_class, d.next_step, d.score_breakdown or (),
                          d.data_issues or (), labels.get(c.id))
        flags = list(d.data_issues or ())
        if not r.local_time_known and DataIssue.TIMEZONE_UNKNOWN.value not in flags:
            flags.append(DataIssue.TIMEZONE_UNKNOWN.value)
        zone = lead_zone(c.timezone)
        return QueueRow(
            id=c.id, external_id=d.external_id,
            name=f"{d.first_name or ''} {d.last_name or ''}".strip(), company=d.company,
            priority=c.priority, status=str(c.status), lead_class=str(d.lead_class),
            source=d.source, phone=d.phone, email=d.email, timezone=c.timezone, score=c.score,
            created_at=c.created_at, next_step=d.next_step,
            next_step_kind=str(c.next_step_kind) if c.next_step_kind else None,
            next_step_at=c.next_step_at, sla_due_at=r.sla_due_at, tier=r.tier,
            reasons=explain(r, facts, now), data_issues=tuple(flags),
            local_time=now.astimezone(zone) if zone else None,
            window_opens_at=r.window_opens_at, due_at=r.upcoming_at,
            snoozed_until=c.snoozed_until, cadence_step=labels.get(c.id),
        )

    return RankedQueue(
        callable=tuple(view(r) for r in ranking.callable),
        later=tuple(view(r) for r in ranking.later),
        upcoming=tuple(view(r) for r in ranking.upcoming),
    )


def cadence_labels(conn: Connection, lead_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str]:
    """"Step 3 of 6 (call)" for each lead with an active cadence enrollment."""
    from sqlalchemy import func, select

    from .enums import EnrollmentStatus
    from .model import CadenceEnrollment, CadenceStep

    e = CadenceEnrollment.__table__.c
    s = CadenceStep.__table__.c
    labels: dict[uuid.UUID, str] = {}
    for ids in _chunks(list(lead_ids)):
        rows = conn.execute(
            select(e.lead_id, e.cadence_id, e.current_step)
            .where(e.lead_id.in_(ids), e.status == EnrollmentStatus.ACTIVE.value,
                   e.deleted_at.is_(None))
        ).all()
        if not rows:
            continue
        cadence_ids = {r.cadence_id for r in rows}
        steps: dict[uuid.UUID, dict[int, str]] = {}
        totals: dict[uuid.UUID, int] = {}
        for cid, position, channel in conn.execute(
            select(s.cadence_id, s.position, s.channel)
            .where(s.cadence_id.in_(cadence_ids), s.deleted_at.is_(None))
        ):
            steps.setdefault(cid, {})[position] = str(channel)
        for cid, count in conn.execute(
            select(s.cadence_id, func.count()).where(s.cadence_id.in_(cadence_ids),
                                                     s.deleted_at.is_(None))
            .group_by(s.cadence_id)
        ):
            totals[cid] = count
        for r in rows:
            ordered = sorted(steps.get(r.cadence_id, {}))
            if r.current_step in steps.get(r.cadence_id, {}):
                number = ordered.index(r.current_step) + 1
                channel = steps[r.cadence_id][r.current_step]
                labels[r.lead_id] = f"Step {number} of {totals[r.cadence_id]} ({channel})"
    return labels
