"""The escalation ladder and acknowledgement timeouts, as pure rules.

Ladder: stages at offsets from the first-response deadline (default: at the
deadline notify the owner; +30 min an urgent one; +2 h the team lead; +4 h
reassign to the backup rep or the team pool). Each stage fires once per lead
and assignment: its key is ``sla:{lead}:{assigned_at}:{owner}:{stage}``. Under
a business-hours policy the offsets count working time, so "+2 h" pauses
overnight with the SLA clock.

Acknowledgement timeouts: an owned lead neither opened (``acknowledged_at``)
nor worked since its assignment goes to the owner's backup after
``ack_backup_minutes`` and to the team pool after ``ack_pool_minutes``, both
counted from the original assignment (a hand-over to the backup keeps
``assigned_at`` for exactly that reason; under business hours they count
working time too, so a lead assigned at 3 a.m. is not handed on at 3:15).

Hand-overs (an ack timeout or the ladder's "reassign"):

- go to the owner's backup once per lead; a lead a rule already handed to a
  backup goes to the pool next time (no ping-pong between two reps who back
  each other up); without a usable backup, straight to the pool;
- a ladder reassignment is a new assignment (``assigned_at`` = now) with its
  own ladder; stages of the new owner's ladder due at or before the hand-over
  are covered by the hand-over notice and never fire;
- a lead with no owner (the pool) does not escalate: nobody to remind.

Catch-up after downtime (:func:`plan_escalation`): the due stages are applied
in time order as if the worker had been running (a hand-over changes the
owner, so the old owner's later stages no longer apply); every stage is
recorded once, and only the last one is delivered, so nobody gets four
notifications about one lead when the worker comes back.

UI colours: :func:`sla_clock` gives the deadline and the ladder stage times;
``SlaClock.stage(now)`` is 0 before the deadline, 1 from the deadline, and
one more at each later ladder stage (default ladder: 0-4).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from .sla import (
    DEFAULT_TARGET_MINUTES,
    BusinessHours,
    SlaTarget,
    first_response_deadline,
    offset_from,
)


class LadderAction(StrEnum):
    NOTIFY_OWNER = "notify_owner"
    NOTIFY_OWNER_URGENT = "notify_owner_urgent"
    NOTIFY_TEAM_LEAD = "notify_team_lead"
    REASSIGN = "reassign"


class AckAction(StrEnum):
    TO_BACKUP = "to_backup"
    TO_POOL = "to_pool"


#: Actions that change the lead's owner.
HANDOVER_ACTIONS = frozenset({LadderAction.REASSIGN.value, AckAction.TO_BACKUP.value,
                              AckAction.TO_POOL.value})


@dataclass(frozen=True)
class LadderStage:
    offset_minutes: int
    action: LadderAction


DEFAULT_LADDER: tuple[LadderStage, ...] = (
    LadderStage(0, LadderAction.NOTIFY_OWNER),
    LadderStage(30, LadderAction.NOTIFY_OWNER_URGENT),
    LadderStage(120, LadderAction.NOTIFY_TEAM_LEAD),
    LadderStage(240, LadderAction.REASSIGN),
)

#: Default acknowledgement timeouts by priority: (to backup, to pool) minutes.
DEFAULT_ACK_MINUTES: dict[int, tuple[int | None, int | None]] = {
    1: (15, 30), 2: (30, 60), 3: (None, None), 4: (None, None),
}


@dataclass(frozen=True)
class EscalationPolicy:
    """One priority's SLA policy as the rules see it."""

    target: SlaTarget
    ladder: tuple[LadderStage, ...] = DEFAULT_LADDER
    ack_backup_minutes: int | None = None
    ack_pool_minutes: int | None = None

    @property
    def business_hours(self) -> BusinessHours | None:
        return self.target.business_hours

    @classmethod
    def default(cls, priority: int) -> EscalationPolicy:
        """The playbook's policy for ``priority`` (used where none is stored)."""
        minutes = DEFAULT_TARGET_MINUTES.get(priority)
        backup, pool = DEFAULT_ACK_MINUTES.get(priority, (None, None))
        return cls(SlaTarget(priority, minutes), DEFAULT_LADDER if minutes is not None else (),
                   backup, pool)


@dataclass(frozen=True)
class LeadTiming:
    """The facts about one active lead the time-driven rules need."""

    lead_id: uuid.UUID
    priority: int
    created_at: datetime
    owner_id: uuid.UUID | None
    assigned_at: datetime | None
    first_action_at: datetime | None = None
    acknowledged_at: datetime | None = None
    last_action_at: datetime | None = None
    #: When a rule handed the lead to its current owner (ladder stages of
    #: this assignment due at or before it are covered by that notice).
    handed_over_at: datetime | None = None
    #: A rule has already handed this lead to a backup once.
    backup_used: bool = False


@dataclass(frozen=True)
class StageDecision:
    """A ladder stage or ack timeout that is due now."""

    key: str
    rule: str  # "sla_ladder" or "ack_timeout"
    action: str  # a LadderAction or an AckAction value
    due_at: datetime
    #: False: superseded by a later stage in the same catch-up; recorded only.
    deliver: bool
    stage: int
    reason: str


@dataclass(frozen=True)
class EscalationStep:
    """One decision of a lead's escalation plan and the assignment it leaves."""

    decision: StageDecision
    owner_before: uuid.UUID | None
    owner_after: uuid.UUID | None
    assigned_at_after: datetime | None
    #: A hand-over that went to the owner's backup (False: the pool, or no hand-over).
    to_backup: bool = False

    @property
    def is_handover(self) -> bool:
        return self.decision.action in HANDOVER_ACTIONS


# --------------------------------------------------------------------------- keys


def _iso(at: datetime | None) -> str:
    return at.isoformat() if at is not None else "unassigned"


def ladder_key(lead: LeadTiming, stage: int) -> str:
    return f"{_ladder_tag(lead)}{stage}"


def _ladder_tag(lead: LeadTiming) -> str:
    return f"sla:{lead.lead_id}:{_iso(lead.assigned_at)}:{lead.owner_id}:"


def ack_key(lead: LeadTiming, action: str) -> str:
    return f"ack:{lead.lead_id}:{_iso(lead.assigned_at)}:{action}"


def handover_key(lead_id: uuid.UUID, new_owner: uuid.UUID, assigned_at: datetime | None) -> str:
    """Recorded when a rule hands ``lead_id`` to a backup (see :func:`with_firings`)."""
    return f"handover:{lead_id}:{new_owner}:{_iso(assigned_at)}"


def with_firings(lead: LeadTiming, fired: Mapping[str, datetime]) -> LeadTiming:
    """``lead`` with the hand-over facts read from its fired keys ({key: fired_at})."""
    prefix = f"handover:{lead.lead_id}:"
    used = any(k.startswith(prefix) for k in fired)
    at = None
    if lead.owner_id is not None:
        at = fired.get(handover_key(lead.lead_id, lead.owner_id, lead.assigned_at))
    if used == lead.backup_used and at == lead.handed_over_at:
        return lead
    return replace(lead, backup_used=used or lead.backup_used,
                   handed_over_at=at or lead.handed_over_at)


# --------------------------------------------------------------------------- schedules


def escalates(lead: LeadTiming) -> bool:
    """Only an owned lead without a first action escalates."""
    return lead.owner_id is not None and lead.first_action_at is None


def ladder_anchor(lead: LeadTiming, policy: EscalationPolicy) -> datetime | None:
    """Where this assignment's ladder starts: the deadline, or a later assignment."""
    deadline = first_response_deadline(lead.created_at, policy.target)
    if deadline is None:
        return None
    if lead.assigned_at is not None and lead.assigned_at > deadline:
        return lead.assigned_at
    return deadline


Schedule = list[tuple[datetime, int, LadderStage]]


def ladder_times(lead: LeadTiming, policy: EscalationPolicy) -> Schedule:
    """Every stage of this assignment's ladder with its due time, covered or not."""
    anchor = ladder_anchor(lead, policy)
    if anchor is None:
        return []
    out = [(offset_from(anchor, stage.offset_minutes, policy.business_hours), i, stage)
           for i, stage in enumerate(policy.ladder)]
    return sorted(out, key=lambda t: (t[0], t[1]))


def ladder_schedule(lead: LeadTiming, policy: EscalationPolicy) -> Schedule:
    """The stages this assignment's ladder can still fire (fired or not)."""
    if not escalates(lead):
        return []
    times = ladder_times(lead, policy)
    if lead.handed_over_at is not None:
        times = [t for t in times if t[0] > lead.handed_over_at]
    return times


def ack_schedule(lead: LeadTiming, policy: EscalationPolicy) -> list[tuple[datetime, str]]:
    """The acknowledgement timeouts of this assignment: [(due, AckAction value)]."""
    if not escalates(lead) or lead.assigned_at is None or lead.acknowledged_at is not None:
        return []
    if lead.last_action_at is not None and lead.last_action_at >= lead.assigned_at:
        return []
    out = []
    hours = policy.business_hours
    if policy.ack_backup_minutes is not None:
        out.append((offset_from(lead.assigned_at, policy.ack_backup_minutes, hours),
                    AckAction.TO_BACKUP.value))
    if policy.ack_pool_minutes is not None:
        out.append((offset_from(lead.assigned_at, policy.ack_pool_minutes, hours),
                    AckAction.TO_POOL.value))
    return out


#: A stage not yet fired: (due, 0 ack / 1 ladder, index, action, key, minutes).
_Pending = tuple[datetime, int, int, str, str, int | None]


def _pending(lead: LeadTiming, policy: EscalationPolicy,
             fired: Mapping[str, object] | set[str] | frozenset[str]) -> list[_Pending]:
    """Every not-yet-fired stage of the current assignment, in time order
    (ack timeouts first on a tie: they hand the lead on, which ends the ladder)."""
    found: list[_Pending] = []
    schedule = ladder_schedule(lead, policy)
    if schedule:
        tag = _ladder_tag(lead)
        for due, i, stage in schedule:
            key = f"{tag}{i}"
            if key not in fired:
                found.append((due, 1, i, stage.action.value, key, stage.offset_minutes))
    for i, (due, action) in enumerate(ack_schedule(lead, policy)):
        key = ack_key(lead, action)
        if key not in fired:
            minutes = (policy.ack_backup_minutes if action == AckAction.TO_BACKUP
                       else policy.ack_pool_minutes)
            found.append((due, 0, i, action, key, minutes))
    if len(found) > 1:
        found.sort(key=lambda t: (t[0], t[1], t[2]))
    return found


def _decision(lead: LeadTiming, policy: EscalationPolicy, p: _Pending) -> StageDecision:
    due, ladder, i, action, key, minutes = p
    if ladder:
        anchor = ladder_anchor(lead, policy)
        return StageDecision(
            key, "sla_ladder", action, due, True, i,
            f"P{lead.priority} first response due {anchor:%Y-%m-%d %H:%M} UTC; ladder stage"
            f" {i + 1} ({action}) at +{minutes} min")
    return StageDecision(
        key, "ack_timeout", action, due, True, i,
        f"P{lead.priority} lead neither opened nor worked {minutes} min after assignment")


def due_stages(lead: LeadTiming, policy: EscalationPolicy, now: datetime,
               fired: Mapping[str, object] | set[str] | frozenset[str]) -> list[StageDecision]:
    """Stages of the current assignment due at ``now`` and not yet fired, in
    time order, up to and including the first hand-over (after it the lead
    has another owner, whose stages are worked out anew)."""
    if not escalates(lead):
        return []
    out = []
    for p in _pending(lead, policy, fired):
        if p[0] > now:
            break
        out.append(_decision(lead, policy, p))
        if p[3] in HANDOVER_ACTIONS:
            break
    return out


# --------------------------------------------------------------------------- the plan


def plan_escalation(
    lead: LeadTiming,
    policy: EscalationPolicy,
    now: datetime,
    fired: Mapping[str, object] | set[str] | frozenset[str],
    backup_of: Callable[[uuid.UUID], uuid.UUID | None] | Mapping[uuid.UUID, uuid.UUID | None],
) -> list[EscalationStep]:
    """Everything due for ``lead`` at ``now``, in order, as if applied one by one.

    ``backup_of(owner)`` names the owner's usable backup (None: no backup,
    or the backup is away or disabled). Only the last step is delivered.
    """
    resolve = backup_of.get if isinstance(backup_of, Mapping) else backup_of
    seen = set(fired)
    steps: list[EscalationStep] = []
    timing = lead
    for _ in range(12):  # a few hand-overs at most; bounded against a bad policy
        due = due_stages(timing, policy, now, seen)
        if not due:
            break
        for d in due:
            seen.add(d.key)
            if d.action not in HANDOVER_ACTIONS:
                steps.append(EscalationStep(d, timing.owner_id, timing.owner_id,
                                            timing.assigned_at))
                continue
            target = None
            if d.action != AckAction.TO_POOL and not timing.backup_used and timing.owner_id:
                target = resolve(timing.owner_id)
                if target == timing.owner_id:
                    target = None
            # An ack hand-over keeps the original assignment time (the pool
            # timeout counts from it); a ladder reassignment starts a new one.
            assigned = now if (target is not None and d.action == LadderAction.REASSIGN) \
                else timing.assigned_at
            steps.append(EscalationStep(d, timing.owner_id, target, assigned, target is not None))
            timing = replace(timing, owner_id=target, assigned_at=assigned, acknowledged_at=None,
                             handed_over_at=now if target is not None else None,
                             backup_used=timing.backup_used or target is not None)
        if due[-1].action not in HANDOVER_ACTIONS:
            break  # everything due was in this round; only a hand-over brings more
    if len(steps) > 1:
        last = len(steps) - 1
        steps = [s if i == last else replace(s, decision=replace(
            s.decision, deliver=False,
            reason=s.decision.reason + " (superseded by a later stage in the same catch-up;"
            " recorded, not delivered)")) for i, s in enumerate(steps)]
    return steps


# --------------------------------------------------------------------------- countdown colours


@dataclass(frozen=True)
class SlaClock:
    """A lead's first-response deadline and ladder stage times (aware UTC).

    What a countdown needs to colour itself without asking the store again:
    ``stage(now)`` is 0 before the deadline, 1 from the deadline, and one more
    at each later ladder stage; ``next_change(now)`` is when it next changes.
    """

    deadline: datetime | None
    stage_times: tuple[datetime, ...] = ()

    @property
    def thresholds(self) -> tuple[datetime, ...]:
        if self.deadline is None:
            return ()
        return tuple(sorted({self.deadline, *(t for t in self.stage_times if t >= self.deadline)}))

    def stage(self, now: datetime) -> int:
        return sum(1 for t in self.thresholds if t <= now)

    def next_change(self, now: datetime) -> datetime | None:
        return next((t for t in self.thresholds if t > now), None)


def sla_clock(lead: LeadTiming, policy: EscalationPolicy | None) -> SlaClock:
    """The SLA clock of ``lead``'s current assignment (empty once worked)."""
    if policy is None or lead.first_action_at is not None:
        return SlaClock(None)
    deadline = first_response_deadline(lead.created_at, policy.target)
    if deadline is None:
        return SlaClock(None)
    return SlaClock(deadline, tuple(t for t, _, _ in ladder_times(lead, policy)))


def sla_stage(lead: LeadTiming, policy: EscalationPolicy | None, now: datetime) -> int:
    """0 before the deadline (or no SLA), 1 from the deadline, +1 per later ladder stage."""
    return sla_clock(lead, policy).stage(now)
