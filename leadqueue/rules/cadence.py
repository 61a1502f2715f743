"""Cadence rules: when each step of a cadence is due, and what a cadence
enrollment does next (schedule the next step, end on a reply or a booked
meeting, finish when the steps run out).

Dates are computed in the lead's local time (day 1 = the enrolment day in the
lead's zone) and returned as UTC; a lead with a missing or unknown zone is
scheduled in UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from ..enums import Channel
from .sla import local_instant, parse_hhmm, zone_or_utc

#: The playbook's default B2B cadence: (day, channel, template name).
DEFAULT_CADENCE_NAME = "Default inbound"
DEFAULT_STEPS: tuple[tuple[int, Channel, str], ...] = (
    (1, Channel.EMAIL, "Day 1 intro email"),
    (1, Channel.CALL, "Day 1 call script"),
    (2, Channel.EMAIL, "Day 2 resource email"),
    (4, Channel.CALL, "Day 4 call script"),
    (7, Channel.EMAIL, "Day 7 case study email"),
    (10, Channel.SOCIAL, "Day 10 social touch"),
    (14, Channel.EMAIL, "Day 14 break-up email"),
)


def step_due_at(
    enrolled_at: datetime,
    day_offset: int,
    lead_tz: str | None,
    local_time: str | None,
    window_start: str = "08:00",
    skip_weekends: bool = True,
) -> datetime:
    """When a cadence step is due, as aware UTC.

    ``day_offset`` counts days from enrolment with day 1 (and 0) = the
    enrolment day in the lead's local zone. The time of day is ``local_time``
    ("HH:MM" in the lead's zone), or the start of the calling window. With
    ``skip_weekends`` a step landing on Saturday or Sunday moves to Monday.

    A step is never due before the enrolment itself: a day-1 step at 08:00
    for a lead enrolled at 15:00 is due at once (the playbook's "day 1 call"
    is meant for today, not for a time already past).
    """
    if day_offset < 0:
        raise ValueError(f"day_offset: {day_offset} is negative (day 1 is the enrolment day)")
    if enrolled_at.tzinfo is None:
        raise ValueError("enrolled_at must be timezone-aware")
    zone = zone_or_utc(lead_tz)
    at = parse_hhmm(local_time if local_time else window_start,
                    "local_time" if local_time else "window_start")
    day = enrolled_at.astimezone(zone).date() + timedelta(days=max(day_offset - 1, 0))
    if skip_weekends and day.isoweekday() > 5:
        day += timedelta(days=8 - day.isoweekday())
    due = local_instant(day, at, zone)
    return max(due, enrolled_at.astimezone(UTC))


@dataclass(frozen=True)
class StepSpec:
    """One cadence step as the rules see it."""

    position: int
    day_offset: int
    channel: Channel
    local_time: str | None = None
    template_name: str | None = None


@dataclass(frozen=True)
class EnrollmentState:
    """An active enrollment and the facts about its lead the cadence needs."""

    enrolled_at: datetime
    current_step: int
    lead_tz: str | None
    #: An inbound reply or a booked meeting since enrolment.
    responded: bool = False
    meeting_booked: bool = False


class CadenceAction(StrEnum):
    SCHEDULE = "schedule"  # make the step the lead's next step
    END_REPLIED = "replied"  # a reply ends the enrollment (pause on reply)
    END_MEETING = "meeting_booked"  # a booked meeting ends it
    EXHAUSTED = "exhausted"  # no steps left and no response: lifecycle takes over


@dataclass(frozen=True)
class CadenceDecision:
    action: CadenceAction
    #: For SCHEDULE: the step and when it is due.
    step: StepSpec | None = None
    due_at: datetime | None = None
    reason: str = ""


def next_cadence_decision(
    state: EnrollmentState,
    steps: list[StepSpec],
    window_start: str = "08:00",
    skip_weekends: bool = True,
) -> CadenceDecision:
    """What the enrollment does next, independent of the time it is asked.

    The step due next is the one at ``current_step`` (positions are 1-based
    and ordered); past the last step the cadence is exhausted.
    """
    if state.meeting_booked:
        return CadenceDecision(CadenceAction.END_MEETING, reason="a meeting was booked")
    if state.responded:
        return CadenceDecision(CadenceAction.END_REPLIED, reason="the lead replied")
    ordered = sorted(steps, key=lambda s: s.position)
    remaining = [s for s in ordered if s.position >= state.current_step]
    if not remaining:
        return CadenceDecision(
            CadenceAction.EXHAUSTED,
            reason=f"all {len(ordered)} cadence steps done without a response",
        )
    step = remaining[0]
    due = step_due_at(state.enrolled_at, step.day_offset, state.lead_tz, step.local_time,
                      window_start, skip_weekends)
    return CadenceDecision(
        CadenceAction.SCHEDULE, step=step, due_at=due,
        reason=f"cadence step {step.position}: day {step.day_offset} {step.channel.value}",
    )
