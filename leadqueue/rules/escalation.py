"""The escalation ladder and acknowledgement timeouts, as pure rules.

Ladder: stages at offsets from the first-response deadline (default: at the
deadline notify the owner; +30 min an urgent one; +2 h the team lead; +4 h
reassign to the backup rep or the team pool). Each stage fires once per lead
and assignment: its key is ``sla:{lead}:{assigned_at}:{owner}:{stage}``. An
assignment made after the deadline already passed starts its ladder at the
assignment (the new owner is told at once, then gets the same time to act),
so a reassignment never fires the next "reassign" instantly.

After downtime several stages can be due at once: each missed stage is
recorded once, only the latest is delivered (a rep does not want four
notifications about one lead when the worker comes back).

Acknowledgement timeouts: an owned lead neither opened (``acknowledged_at``)
nor worked since its assignment goes to the owner's backup after
``ack_backup_minutes`` and to the team pool after ``ack_pool_minutes``, both
counted from the original assignment (a hand-over to the backup keeps
``assigned_at`` for exactly that reason).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from .sla import BusinessHours, SlaTarget, first_response_deadline, offset_from


class LadderAction(StrEnum):
    NOTIFY_OWNER = "notify_owner"
    NOTIFY_OWNER_URGENT = "notify_owner_urgent"
    NOTIFY_TEAM_LEAD = "notify_team_lead"
    REASSIGN = "reassign"


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


@dataclass(frozen=True)
class StageDecision:
    """A ladder stage or ack timeout that is due now."""

    key: str
    rule: str  # "sla_ladder" or "ack_timeout"
    action: str  # a LadderAction, or "to_backup" / "to_pool"
    due_at: datetime
    #: False: missed during downtime, recorded without telling anyone.
    deliver: bool
    stage: int
    reason: str


def _assignment_tag(lead: LeadTiming) -> str:
    at = lead.assigned_at.isoformat() if lead.assigned_at else "unassigned"
    return f"{at}:{lead.owner_id}"


def ladder_anchor(lead: LeadTiming, policy: EscalationPolicy) -> datetime | None:
    """Where this assignment's ladder starts: the deadline, or a later assignment."""
    deadline = first_response_deadline(lead.created_at, policy.target)
    if deadline is None:
        return None
    if lead.assigned_at is not None and lead.assigned_at > deadline:
        return lead.assigned_at
    return deadline


def ladder_schedule(lead: LeadTiming, policy: EscalationPolicy) -> list[tuple[datetime, int, LadderStage]]:
    """Every stage of this assignment's ladder with its due time (fired or not)."""
    anchor = ladder_anchor(lead, policy)
    if anchor is None or lead.owner_id is None or lead.first_action_at is not None:
        return []
    return [
        (offset_from(anchor, stage.offset_minutes, policy.business_hours), i, stage)
        for i, stage in enumerate(policy.ladder)
    ]


def ladder_key(lead: LeadTiming, stage: int) -> str:
    return f"sla:{lead.lead_id}:{_assignment_tag(lead)}:{stage}"


def _only_latest_delivered(found: list[StageDecision]) -> list[StageDecision]:
    if len(found) <= 1:
        return found
    last = found[-1]
    return [StageDecision(d.key, d.rule, d.action, d.due_at, d is last, d.stage, d.reason + (
        "" if d is last else " (missed while the worker was down; not delivered)"))
        for d in found]


def due_ladder_stages(
    lead: LeadTiming, policy: EscalationPolicy, now: datetime, fired: set[str] | frozenset[str]
) -> list[StageDecision]:
    """Ladder stages due at ``now`` that have not fired for this assignment.

    Only leads with an owner and no first action yet escalate: a pool lead has
    nobody to remind, and the first human action is what the SLA asks for.
    """
    found = []
    for due, i, stage in ladder_schedule(lead, policy):
        key = ladder_key(lead, i)
        if due <= now and key not in fired:
            found.append(StageDecision(
                key, "sla_ladder", stage.action.value, due, True, i,
                f"P{lead.priority} first response due {ladder_anchor(lead, policy):%Y-%m-%d %H:%M} UTC;"
                f" stage {i + 1} ({stage.action.value}) at +{stage.offset_minutes} min",
            ))
    return _only_latest_delivered(found)


def ack_schedule(lead: LeadTiming, policy: EscalationPolicy) -> list[tuple[datetime, str]]:
    """The acknowledgement timeouts of this assignment: [(due, "to_backup"|"to_pool")]."""
    if lead.owner_id is None or lead.assigned_at is None or lead.acknowledged_at is not None:
        return []
    if lead.first_action_at is not None or (
        lead.last_action_at is not None and lead.last_action_at >= lead.assigned_at
    ):
        return []
    out = []
    from datetime import timedelta

    if policy.ack_backup_minutes is not None:
        out.append((lead.assigned_at + timedelta(minutes=policy.ack_backup_minutes), "to_backup"))
    if policy.ack_pool_minutes is not None:
        out.append((lead.assigned_at + timedelta(minutes=policy.ack_pool_minutes), "to_pool"))
    return out


def due_ack_timeouts(
    lead: LeadTiming, policy: EscalationPolicy, now: datetime, fired: set[str] | frozenset[str]
) -> list[StageDecision]:
    """Ack timeouts due at ``now``; keyed on the original assignment time."""
    found = []
    base = f"ack:{lead.lead_id}:{lead.assigned_at.isoformat() if lead.assigned_at else ''}"
    for i, (due, action) in enumerate(ack_schedule(lead, policy)):
        key = f"{base}:{action}"
        if due <= now and key not in fired:
            minutes = int((due - lead.assigned_at).total_seconds() // 60)  # type: ignore[operator]
            found.append(StageDecision(
                key, "ack_timeout", action, due, True, i,
                f"P{lead.priority} lead neither opened nor worked {minutes} min after assignment",
            ))
    return _only_latest_delivered(found)
