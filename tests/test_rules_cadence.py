"""Cadence step dates in the lead's zone, weekends, DST, and the enrollment rule."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from leadqueue.enums import Channel
from leadqueue.rules.cadence import (
    CadenceAction,
    EnrollmentState,
    StepSpec,
    next_cadence_decision,
    step_due_at,
)

# Wednesday 2026-03-04 15:00 UTC = 10:00 in New York (EST, UTC-5).
T0 = datetime(2026, 3, 4, 15, 0, tzinfo=UTC)


def test_day_one_is_enrolment_day_and_never_before_enrolment() -> None:
    # 08:00 New York that day is already past at 10:00: due at once.
    assert step_due_at(T0, 1, "America/New_York", None) == T0
    # Later that day in the lead's zone: due then.
    assert step_due_at(T0, 1, "America/New_York", "14:00") == datetime(
        2026, 3, 4, 19, 0, tzinfo=UTC)


def test_day_offsets_in_the_leads_local_time() -> None:
    # Day 2 = Thursday 08:00 EST = 13:00 UTC.
    assert step_due_at(T0, 2, "America/New_York", None) == datetime(2026, 3, 5, 13, 0, tzinfo=UTC)
    # Berlin (CET, UTC+1): at 15:00 UTC it is 16:00 Wednesday; day 2 09:30 = 08:30 UTC.
    assert step_due_at(T0, 2, "Europe/Berlin", "09:30") == datetime(2026, 3, 5, 8, 30, tzinfo=UTC)


def test_local_day_not_utc_day() -> None:
    # 03:00 UTC Thursday is still Wednesday evening in Los Angeles.
    enrolled = datetime(2026, 3, 5, 3, 0, tzinfo=UTC)
    due = step_due_at(enrolled, 2, "America/Los_Angeles", "09:00")
    assert due == datetime(2026, 3, 5, 17, 0, tzinfo=UTC)  # Thursday 09:00 PST


def test_weekend_pushed_to_monday_unless_disabled() -> None:
    # Day 4 from Wednesday = Saturday 2026-03-07 → Monday 2026-03-09.
    assert step_due_at(T0, 4, "UTC", "10:00") == datetime(2026, 3, 9, 10, 0, tzinfo=UTC)
    assert step_due_at(T0, 4, "UTC", "10:00", skip_weekends=False) == datetime(
        2026, 3, 7, 10, 0, tzinfo=UTC)
    # Sunday also goes to Monday.
    assert step_due_at(T0, 5, "UTC", "10:00") == datetime(2026, 3, 9, 10, 0, tzinfo=UTC)


def test_across_dst_change_keeps_local_wall_time() -> None:
    # US DST starts Sunday 2026-03-08; day 7 = Tuesday 2026-03-10 08:00 EDT = 12:00 UTC.
    assert step_due_at(T0, 7, "America/New_York", None) == datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    # Before the change the same wall time was 13:00 UTC.
    assert step_due_at(T0, 2, "America/New_York", None).hour == 13


@pytest.mark.parametrize("tz", [None, "", "Mars/Olympus_Mons"])
def test_missing_or_unknown_zone_is_utc(tz: str | None) -> None:
    assert step_due_at(T0, 2, tz, "08:00") == datetime(2026, 3, 5, 8, 0, tzinfo=UTC)


def test_custom_window_start_and_bad_input() -> None:
    assert step_due_at(T0, 2, "UTC", None, window_start="07:15") == datetime(
        2026, 3, 5, 7, 15, tzinfo=UTC)
    with pytest.raises(ValueError, match="local_time"):
        step_due_at(T0, 2, "UTC", "25:00")
    with pytest.raises(ValueError, match="day_offset"):
        step_due_at(T0, -1, "UTC", None)


STEPS = [
    StepSpec(1, 1, Channel.EMAIL),
    StepSpec(2, 1, Channel.CALL),
    StepSpec(3, 2, Channel.EMAIL, local_time="11:00"),
]


def test_enrollment_schedules_current_step() -> None:
    state = EnrollmentState(enrolled_at=T0, current_step=3, lead_tz="UTC")
    decision = next_cadence_decision(state, STEPS)
    assert decision.action is CadenceAction.SCHEDULE
    assert decision.step is not None and decision.step.position == 3
    assert decision.due_at == datetime(2026, 3, 5, 11, 0, tzinfo=UTC)


def test_reply_or_meeting_ends_and_exhaustion() -> None:
    replied = EnrollmentState(enrolled_at=T0, current_step=2, lead_tz="UTC", responded=True)
    assert next_cadence_decision(replied, STEPS).action is CadenceAction.END_REPLIED
    booked = EnrollmentState(enrolled_at=T0, current_step=2, lead_tz="UTC", responded=True,
                             meeting_booked=True)
    assert next_cadence_decision(booked, STEPS).action is CadenceAction.END_MEETING
    done = EnrollmentState(enrolled_at=T0, current_step=4, lead_tz="UTC")
    assert next_cadence_decision(done, STEPS).action is CadenceAction.EXHAUSTED
