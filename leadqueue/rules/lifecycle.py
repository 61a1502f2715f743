"""Lifecycle moves: cadence exhausted -> no-response -> nurture with a
recycle date; recycle back into the queue; disqualify with a standard reason;
merge a duplicate into the older record.

Pure: each function returns a :class:`LeadChange` (the fields to set and
why); the engine applies it and writes the audit entry.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ..enums import DisqualifyReason, LeadStatus, NoResponseReason

DEFAULT_RECYCLE_DAYS = 90


@dataclass(frozen=True)
class LeadChange:
    rule: str
    changes: dict[str, Any] = field(default_factory=dict)
    reason: str = ""


def cadence_exhausted(now: datetime, recycle_days: int = DEFAULT_RECYCLE_DAYS,
                      attempts: int | None = None) -> LeadChange:
    """After the cadence's attempts with no response: no-response, then nurture.

    Both moves happen in one decision; the audit entry records the path
    (working -> no_response -> nurture) so reports can count no-responses.
    """
    return LeadChange(
        "lifecycle_no_response",
        {
            "status": LeadStatus.NURTURE,
            "no_response_reason": NoResponseReason.CADENCE_EXHAUSTED,
            "recycle_at": now + timedelta(days=recycle_days),
            "next_step": "Recycle check-in",
            "next_step_kind": None,
            "next_step_at": now + timedelta(days=recycle_days),
        },
        f"cadence finished after {attempts if attempts is not None else 'all'} attempts without"
        f" a response: no_response ({NoResponseReason.CADENCE_EXHAUSTED.value}), then nurture"
        f" until recycle in {recycle_days} days",
    )


def recycle(recycle_at: datetime) -> LeadChange:
    """A nurtured lead re-enters the queue on its recycle date as a new cadence."""
    return LeadChange(
        "lifecycle_recycle",
        {"status": LeadStatus.WORKING, "recycle_at": None, "no_response_reason": None},
        f"recycle date {recycle_at:%Y-%m-%d} reached: back in the queue with a new cadence",
    )


def disqualify(reason: DisqualifyReason | str, note: str | None = None) -> LeadChange:
    """Disqualify with a standard reason; "other" needs a text."""
    try:
        why = DisqualifyReason(reason)
    except ValueError:
        allowed = ", ".join(r.value for r in DisqualifyReason)
        raise ValueError(f"disqualify_reason: {reason!r} is not one of {allowed}") from None
    if why is DisqualifyReason.OTHER and not (note and note.strip()):
        raise ValueError("disqualify_note: reason 'other' needs a short text saying why")
    return LeadChange(
        "lifecycle_disqualify",
        {"status": LeadStatus.DISQUALIFIED, "disqualify_reason": why,
         "disqualify_note": note.strip() if note else None, "next_step": None,
         "next_step_at": None, "next_step_kind": None},
        f"disqualified: {why.value}" + (f" ({note.strip()})" if note and note.strip() else ""),
    )


@dataclass(frozen=True)
class MergeCandidate:
    lead_id: uuid.UUID
    created_at: datetime


def merge_plan(a: MergeCandidate, b: MergeCandidate) -> tuple[uuid.UUID, uuid.UUID]:
    """(survivor, duplicate): the older record survives; ties go to the smaller id."""
    first, second = sorted((a, b), key=lambda c: (c.created_at, str(c.lead_id)))
    return first.lead_id, second.lead_id


def merged_duplicate(survivor: uuid.UUID) -> LeadChange:
    return LeadChange(
        "lifecycle_merge",
        {"status": LeadStatus.DISQUALIFIED, "disqualify_reason": DisqualifyReason.DUPLICATE,
         "merged_into_id": survivor, "next_step": None, "next_step_at": None,
         "next_step_kind": None},
        f"duplicate merged into the older lead {survivor}; its activities moved there",
    )
