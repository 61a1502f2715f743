"""SLA deadlines: when a lead's first response is due.

The customer's wait does not restart when a lead is reassigned, so the deadline
counts from ``created_at``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

#: Default first-response targets by priority, in minutes (None: no target).
DEFAULT_TARGET_MINUTES: dict[int, int | None] = {1: 5, 2: 60, 3: 24 * 60, 4: None}


@dataclass(frozen=True)
class SlaTarget:
    """The part of an SLA policy a deadline depends on."""

    priority: int
    first_response_minutes: int | None


def first_response_deadline(created_at: datetime, target: SlaTarget | None) -> datetime | None:
    """When the first response is due; None when the priority has no target."""
    if target is None or target.first_response_minutes is None:
        return None
    return created_at + timedelta(minutes=target.first_response_minutes)
