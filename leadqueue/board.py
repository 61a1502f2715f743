"""The supervisor's team board and reassignment (issue 5; DESIGN.md §6).

:func:`team_board` answers "who holds what" for a team lead (their team) or an
admin (every team): each rep's active queue, SLA breaches right now, whether
routing would give them a lead now (``rules.routing.unavailable_reason``, the
same rule routing applies), the pool leads they hold under a claim, and the
team's unclaimed pool. An SLA breach is what the countdowns show as red: an
active lead with no first action whose first-response deadline (its team's
escalation policy, ``rulebook.ActiveRules``) has passed.

:func:`reassign` moves leads to another rep or back to the team pool. Who
may: the team lead of the lead's team (to a rep of that team or its pool) or
an admin (anyone). On the shared database the rule is PostgreSQL's
(``lq_reassign``, a ``SECURITY DEFINER`` function that checks the caller and
writes the audit row); on a local store this module applies the same rule.
Both end any active claim on the lead, clear the acknowledgement, stamp
the assignment time and store who moved it and why on the lead
(``routing_explanation``, method "reassign": :func:`reassign_explanation`),
so the new owner's notice can say why without the audit log, which reps may
not read. A bulk reassignment is one transaction: all or nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .enums import LeadStatus, Role
from .errors import ActionRefused
from .views import PersonView

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from sqlalchemy.orm import Session

__all__ = ["AssignmentNotice", "BoardLead", "BoardRep", "HeldLead", "TeamBoard",
           "assignment_notice", "assignment_why", "reassign", "reassign_explanation",
           "reassigned_because",
           "team_board"]

_ACTIVE = (LeadStatus.NEW, LeadStatus.WORKING)
#: The most lead ids one reassignment takes (a team lead's bulk move).
MAX_REASSIGN = 5000


@dataclass(frozen=True)
class HeldLead:
    """A pool lead a rep holds under an active claim (lease)."""

    lead_id: uuid.UUID
    name: str
    expires_at: datetime


@dataclass(frozen=True)
class BoardLead:
    """One active lead on the board (the rep's or the pool's)."""

    id: uuid.UUID
    name: str
    company: str | None
    priority: int
    status: str
    owner_id: uuid.UUID | None
    team_id: uuid.UUID | None
    created_at: datetime
    #: First-response deadline while the lead has no first action (else None).
    sla_due_at: datetime | None
    breached: bool
    #: Until when its holder's claim runs (a pool lead claimed), else None.
    held_until: datetime | None = None


@dataclass(frozen=True)
class BoardRep:
    id: uuid.UUID
    name: str
    email: str
    role: str
    team_id: uuid.UUID | None
    team_name: str | None
    #: None: routing would give them a lead now; else why not, in words.
    unavailable: str | None
    last_seen_at: datetime | None
    queue_size: int
    breaches: int
    held: tuple[HeldLead, ...] = ()

    @property
    def available(self) -> bool:
        return self.unavailable is None


@dataclass(frozen=True)
class TeamBoard:
    """The board as of ``now`` for the person who asked."""

    now: datetime
    scope: str                       # "team" (a team lead) or "all" (an admin)
    team_name: str | None            # the team lead's team
    reps: tuple[BoardRep, ...]
    pool_size: int
    pool_breaches: int
    leads: tuple[BoardLead, ...]     # every active lead on the board (reps' and pool)
    #: Everyone a lead on this board may be moved to (team reps and team leads).
    targets: tuple[PersonView, ...] = ()

    def leads_of(self, owner_id: uuid.UUID | None,
                 team_id: uuid.UUID | None = None) -> tuple[BoardLead, ...]:
        """A rep's leads, or (``owner_id`` None) the pool of ``team_id`` (any team: None)."""
        return tuple(lead for lead in self.leads if lead.owner_id == owner_id
                     and (owner_id is not None or team_id is None or lead.team_id == team_id))


def _may_see_board(me: PersonView) -> None:
    if me.role not in (Role.TEAM_LEAD.value, Role.ADMIN.value):
        raise ActionRefused("The team board is for team leads and admins.")
    if me.role == Role.TEAM_LEAD.value and me.team_id is None:
        raise ActionRefused("You lead no team yet: an admin puts you in one.")


def team_board(session: Session, me: PersonView, now: datetime) -> TeamBoard:
    """The board for ``me`` (read only; one snapshot)."""
    from sqlalchemy import select

    from .model import Lead, LeadLease, Team, User
    from .rulebook import ActiveRules
    from .rules.escalation import LeadTiming, sla_clock
    from .rules.routing import Rep, TeamInfo, unavailable_reason

    _may_see_board(me)
    team_scope = me.role == Role.TEAM_LEAD.value
    teams = {t.id: t for t in session.scalars(select(Team).where(Team.deleted_at.is_(None)))}
    people_q = select(User).where(User.deleted_at.is_(None), User.disabled.is_(False))
    if team_scope:
        people_q = people_q.where(User.team_id == me.team_id)
    people = list(session.scalars(people_q))
    reps = [u for u in people if u.role == Role.REP]

    leads_q = select(
        Lead.id, Lead.first_name, Lead.last_name, Lead.company, Lead.priority, Lead.status,
        Lead.owner_id, Lead.team_id, Lead.created_at, Lead.assigned_at, Lead.first_action_at,
        Lead.acknowledged_at, Lead.last_action_at,
    ).where(Lead.status.in_(_ACTIVE), Lead.deleted_at.is_(None), Lead.merged_into_id.is_(None))
    if team_scope:
        member_ids = [u.id for u in people]
        owned = Lead.owner_id.in_(member_ids) if member_ids else Lead.owner_id.is_(None)
        leads_q = leads_q.where((Lead.team_id == me.team_id) | owned)
    rows = session.execute(leads_q.order_by(Lead.priority, Lead.created_at, Lead.id)).all()

    leases: dict[uuid.UUID, tuple[uuid.UUID, datetime]] = {}
    lease_rows = session.execute(
        select(LeadLease.lead_id, LeadLease.holder_id, LeadLease.expires_at)
        .where(LeadLease.released_at.is_(None), LeadLease.expires_at > now)).all()
    for lead_id, holder_id, expires_at in lease_rows:
        leases[lead_id] = (holder_id, expires_at)

    rules = ActiveRules(session)
    on_board = {u.id for u in people}
    leads: list[BoardLead] = []
    queue_size: dict[uuid.UUID, int] = {}
    breaches: dict[uuid.UUID, int] = {}
    held: dict[uuid.UUID, list[HeldLead]] = {}
    pool_size = pool_breaches = 0
    for r in rows:
        name = f"{r.first_name} {r.last_name}".strip()
        clock = sla_clock(LeadTiming(r.id, r.priority, r.created_at, r.owner_id, r.assigned_at,
                                     r.first_action_at, r.acknowledged_at, r.last_action_at),
                          rules.policy(r.team_id, r.priority))
        breached = clock.deadline is not None and clock.stage(now) >= 1
        lease = leases.get(r.id)
        held_until = lease[1] if lease is not None and lease[0] == r.owner_id else None
        if r.owner_id is None:
            pool_size += 1
            pool_breaches += breached
        elif r.owner_id in on_board:
            queue_size[r.owner_id] = queue_size.get(r.owner_id, 0) + 1
            breaches[r.owner_id] = breaches.get(r.owner_id, 0) + breached
            if held_until is not None:
                held.setdefault(r.owner_id, []).append(HeldLead(r.id, name, held_until))
        else:
            continue  # owned by someone not on this board (a lead of another team)
        leads.append(BoardLead(r.id, name, r.company, r.priority, LeadStatus(r.status).value,
                               r.owner_id, r.team_id, r.created_at, clock.deadline, breached,
                               held_until))

    # The supervisor's order: breached first, then by priority and deadline.
    leads.sort(key=lambda x: (not x.breached, x.priority, x.sla_due_at or x.created_at,
                              x.created_at, str(x.id)))
    infos = {t.id: TeamInfo(t.id, t.name, t.timezone or "UTC", t.offline_after_minutes)
             for t in teams.values()}
    board_reps = []
    for u in reps:
        rep = Rep(u.id, u.name, u.team_id, u.role.value, u.daily_capacity, 0, u.available,
                  u.disabled, u.out_of_office_until, u.shift_start, u.shift_end, u.shift_days,
                  u.timezone, u.last_seen_at)
        team = teams.get(u.team_id) if u.team_id else None
        board_reps.append(BoardRep(
            u.id, u.name, u.email, u.role.value, u.team_id, team.name if team else None,
            unavailable_reason(rep, now, infos.get(u.team_id) if u.team_id else None),
            u.last_seen_at, queue_size.get(u.id, 0), breaches.get(u.id, 0),
            tuple(sorted(held.get(u.id, ()), key=lambda h: h.expires_at))))
    board_reps.sort(key=lambda b: (b.team_name or "", b.name.lower()))
    targets = tuple(sorted(
        (PersonView(u.id, u.email, u.name, u.role.value, u.team_id,
                    teams[u.team_id].name if u.team_id in teams else None)
         for u in people if u.role in (Role.REP, Role.TEAM_LEAD)),
        key=lambda p: (p.team_name or "", p.role != Role.REP.value, p.name.lower())))
    my_team = teams.get(me.team_id) if me.team_id else None
    return TeamBoard(now, "team" if team_scope else "all",
                     my_team.name if my_team is not None else None, tuple(board_reps),
                     pool_size, pool_breaches, tuple(leads), targets)


# --------------------------------------------------------------------------- reassigning


def _lead_ids(lead_ids: Iterable[uuid.UUID]) -> list[uuid.UUID]:
    ids = list(dict.fromkeys(lead_ids))  # each once, in the order given
    if not ids:
        raise ActionRefused("Choose at least one lead to reassign.")
    if len(ids) > MAX_REASSIGN:
        raise ActionRefused(f"At most {MAX_REASSIGN:,} leads at once, please.")
    return ids


def reassign(engine: Engine, me: PersonView, now: datetime, lead_ids: Sequence[uuid.UUID],
             to_user_id: uuid.UUID | None, reason: str | None) -> int:
    """Give ``lead_ids`` to ``to_user_id`` (None: back to their team's pool).

    Returns how many leads changed owner. Refusals raise ActionRefused and
    change nothing.
    """
    ids = _lead_ids(lead_ids)
    reason = (reason or "").strip() or None
    if reason is not None and len(reason) > 500:
        raise ActionRefused("The reason is too long: 500 characters at most.")
    if engine.dialect.name == "postgresql" and _has_server_function(engine):
        return _reassign_on_server(engine, ids, to_user_id, reason)
    from .store import session_scope

    with session_scope(engine) as s:
        return _reassign_here(s, me, now, ids, to_user_id, reason)


def _has_server_function(engine: Engine) -> bool:
    from sqlalchemy import text

    with engine.connect() as conn:
        return bool(conn.scalar(text(
            "SELECT to_regprocedure('lq_reassign(uuid, uuid, text)') IS NOT NULL")))


def _reassign_on_server(engine: Engine, ids: list[uuid.UUID], to_user_id: uuid.UUID | None,
                        reason: str | None) -> int:
    """One transaction of ``lq_reassign`` calls: PostgreSQL decides who may."""
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    try:
        with engine.begin() as conn:
            before = dict(conn.execute(text(
                "SELECT id, owner_id FROM leads WHERE id = ANY(:ids)"), {"ids": ids}).all())
            for lead_id in ids:
                conn.execute(text("SELECT lq_reassign(:lead, :owner, :reason)"),
                             {"lead": lead_id, "owner": to_user_id, "reason": reason})
    except DBAPIError as exc:
        code = getattr(exc.orig, "sqlstate", None)
        diag = getattr(exc.orig, "diag", None)
        words = getattr(diag, "message_primary", None) or str(exc.orig).strip()
        if code == "LQ403" or code == "42501":
            raise ActionRefused(f"Not reassigned: {words}. Nothing was changed.") from None
        if code == "LQ404":
            raise ActionRefused("Not reassigned: a lead or the rep is gone (deleted, merged "
                                "or disabled). Refresh the board; nothing was changed.") from None
        raise
    return sum(1 for lead_id in ids if before.get(lead_id) != to_user_id)


def _reassign_here(s: Session, me: PersonView, now: datetime, ids: list[uuid.UUID],
                   to_user_id: uuid.UUID | None, reason: str | None) -> int:
    """The same rule as ``lq_reassign``, applied by the core on a local store."""
    from sqlalchemy import select

    from .ids import uuid7
    from .model import AuditEntry, Lead, LeadLease, User

    is_admin = me.role == Role.ADMIN.value
    if not is_admin and not (me.role == Role.TEAM_LEAD.value and me.team_id is not None):
        raise ActionRefused("Only a team lead (for their own team) or an admin may "
                            "reassign leads.")
    target = None
    if to_user_id is not None:
        target = s.get(User, to_user_id)
        if target is None or target.disabled or target.deleted_at is not None:
            raise ActionRefused("That person is not an active user any more: choose "
                                "someone else. Nothing was changed.")
        if not is_admin and target.team_id != me.team_id:
            raise ActionRefused(f"{target.name} is not in your team: a team lead reassigns "
                                "within their own team only. Nothing was changed.")
    found = {lead.id: lead for lead in s.scalars(select(Lead).where(Lead.id.in_(ids)))}
    changed = 0
    for lead_id in ids:
        lead = found.get(lead_id)
        if lead is None or lead.deleted_at is not None:
            raise ActionRefused("A lead is gone (deleted or merged): refresh the board. "
                                "Nothing was changed.")
        if not is_admin and lead.team_id != me.team_id:
            raise ActionRefused(f"{lead.first_name} {lead.last_name} is not a lead of your "
                                "team: only its team lead or an admin may reassign it. "
                                "Nothing was changed.")
        for lease in s.scalars(select(LeadLease).where(LeadLease.lead_id == lead_id,
                                                       LeadLease.released_at.is_(None))):
            lease.released_at = max(now, lease.leased_at)
        old_owner = lead.owner_id
        if old_owner != to_user_id:
            changed += 1
        lead.owner_id = to_user_id
        if target is not None and target.team_id is not None:
            lead.team_id = target.team_id
        lead.assigned_at = now if to_user_id is not None else None
        lead.acknowledged_at = None
        lead.routing_explanation = reassign_explanation(
            me, target.id if target is not None else None,
            target.name if target is not None else None, reason, now,
            lead.routing_explanation)
        lead.updated_at = now
        lead.version = (lead.version or 1) + 1
        s.add(AuditEntry(id=uuid7(), at=now, actor_id=me.id, actor="app", rule="reassign",
                         entity="lead", entity_id=lead_id,
                         change={"owner_id": [_text(old_owner), _text(to_user_id)]},
                         reason=reason))
    return changed


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def reassign_explanation(by: PersonView, owner_id: uuid.UUID | None, owner_name: str | None,
                         reason: str | None, now: datetime, previous: Any) -> dict[str, Any]:
    """Why a reassigned lead is where it is, stored on the lead like a routing
    explanation (``leads.routing_explanation``), so its new owner can read the
    reason without the audit log. The same shape ``lq_reassign`` writes on the
    shared database; ``previous`` keeps how the lead came in before (one level)."""
    reason = (reason or "").strip() or None
    summary = (f"reassigned to {owner_name}" if owner_id is not None else
               "returned to the pool") + f" by {by.name}" + (f": {reason}" if reason else "")
    return {
        "version": 1, "at": now.isoformat(), "via": "reassign", "method": "reassign",
        "by": {"id": str(by.id), "name": by.name}, "reason": reason,
        "owner": ({"id": str(owner_id), "name": owner_name} if owner_id is not None
                  else None),
        "summary": summary,
        "previous": ({k: v for k, v in previous.items() if k != "previous"}
                     if isinstance(previous, dict) else None),
    }


def _explains_owner(explanation: dict[str, Any], owner_id: uuid.UUID | None) -> bool:
    owner = explanation.get("owner")
    owner_ref = owner.get("id") if isinstance(owner, dict) else None
    return owner_ref == (str(owner_id) if owner_id is not None else None)


def assignment_why(explanation: Any, owner_id: uuid.UUID | None) -> str | None:
    """How the lead reached its current owner, in words for the preview
    ("routed: rule 'web': to Ann …", "reassigned to Bo by Tess: Ann is out");
    None when nothing stored explains the current owner (it moved on since)."""
    if not isinstance(explanation, dict) or not _explains_owner(explanation, owner_id):
        return None
    summary = explanation.get("summary")
    if not isinstance(summary, str) or not summary:
        return None
    return summary if explanation.get("method") == "reassign" else f"routed: {summary}"


def reassigned_because(explanation: Any, owner_id: uuid.UUID | None,
                       assigned_at: datetime | None) -> str | None:
    """"reassigned to you by <who>[: <reason>]" when ``explanation`` is the
    reassignment that gave the lead its current owner (else None: the lead
    moved on since, by a claim, a rule or another routing)."""
    if not isinstance(explanation, dict) or explanation.get("method") != "reassign":
        return None
    if owner_id is None or not _explains_owner(explanation, owner_id):
        return None
    at = explanation.get("at")
    if assigned_at is not None and isinstance(at, str):
        try:
            if datetime.fromisoformat(at) != assigned_at:
                return None
        except ValueError:
            pass
    by = explanation.get("by")
    who = by.get("name") if isinstance(by, dict) else None
    reason = explanation.get("reason")
    return (f"reassigned to you by {who or 'your team lead'}"
            + (f": {reason}" if isinstance(reason, str) and reason else ""))


# --------------------------------------------------------------------------- live notices


@dataclass(frozen=True)
class AssignmentNotice:
    """What the rep is told when a lead reaches them live (``shared.live``)."""

    lead_id: uuid.UUID
    name: str
    priority: int
    #: Why it reached the person, in words ("routed: rule 'web': to Ann, …").
    reason: str

    @property
    def why(self) -> str:
        return f"P{self.priority} · {self.reason}"


def assignment_notice(session: Session, lead_id: uuid.UUID, event: str
                      ) -> AssignmentNotice | None:
    """Name, priority and why for a lead the listener reported; None when the
    lead is not (or no longer) visible to the signed-in person."""
    from .model import Lead

    lead = session.get(Lead, lead_id)
    if lead is None or lead.deleted_at is not None:
        return None
    name = f"{lead.first_name} {lead.last_name}".strip() or (lead.company or "a lead")
    explanation = lead.routing_explanation
    # A reassignment stores who and why on the lead: read it for a live
    # "reassigned" and for an "assigned" found on catching up after a reconnect.
    reassigned = reassigned_because(explanation, lead.owner_id, lead.assigned_at)
    summary = explanation.get("summary") if isinstance(explanation, dict) else None
    if event == "duplicate":
        why = "the same person got in touch again (a duplicate inquiry, logged on the lead)"
    elif event == "claimed":
        why = "you claimed it from the pool"
    elif reassigned is not None:
        why = reassigned
    elif event == "reassigned":
        why = "reassigned to you by your team lead"
    elif isinstance(explanation, dict) and explanation.get("method") == "reassign":
        why = "assigned to you"  # an old reassignment: the lead moved on since
    else:
        why = f"routed: {summary}" if summary else "assigned to you"
    return AssignmentNotice(lead.id, name, lead.priority, why)
