"""SLA deadlines: when a lead's first response is due, optionally counted in
business hours only, plus the small local-time helpers the rules share.

The customer's wait does not restart when a lead is reassigned, so the deadline
counts from ``created_at``. With business hours enabled the SLA clock runs
only inside the team's working hours (team time zone, working days, holidays)
and pauses outside them; local wall-clock arithmetic goes through ``zoneinfo``
so a DST change shortens or lengthens a night, never a working hour.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

#: Default first-response targets by priority, in minutes (None: no target).
DEFAULT_TARGET_MINUTES: dict[int, int | None] = {1: 5, 2: 60, 3: 24 * 60, 4: None}

_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def parse_hhmm(text: str, what: str = "time of day") -> time:
    """Parse a strict 24-hour "HH:MM"; ``ValueError`` names ``what`` otherwise."""
    match = _HHMM.match(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"{what}: {text!r} is not a time of day as HH:MM (e.g. 08:30)")
    return time(int(match.group(1)), int(match.group(2)))


def zone_or_utc(name: str | None) -> ZoneInfo:
    """The IANA zone ``name``; UTC when it is missing or unknown.

    A lead whose zone is unknown still gets a schedule (flagged elsewhere as
    ``DataIssue.TIMEZONE_UNKNOWN``) rather than none at all.
    """
    if not name:
        return ZoneInfo("UTC")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local_instant(day: date, at: time, zone: ZoneInfo) -> datetime:
    """``day`` at wall-clock ``at`` in ``zone``, as aware UTC.

    In a spring-forward gap the time is read with the offset before the change
    (02:30 that does not exist becomes 03:30 summer time), which is what a
    person setting an alarm would expect.
    """
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


@dataclass(frozen=True)
class BusinessHours:
    """When the SLA clock runs: local working hours on working days."""

    timezone: str = "UTC"
    #: ISO weekdays (1 = Monday) that are working days.
    working_days: frozenset[int] = frozenset({1, 2, 3, 4, 5})
    start: time = time(9, 0)
    end: time = time(17, 0)
    holidays: frozenset[date] = field(default_factory=frozenset)

    @classmethod
    def from_policy(
        cls,
        timezone: str | None,
        working_days: str,
        work_start: str,
        work_end: str,
        holidays: Iterable[str] = (),
    ) -> BusinessHours:
        """Build from the ``sla_policies`` columns (strings as stored)."""
        days = frozenset(int(c) for c in working_days if c.isdigit() and 1 <= int(c) <= 7)
        return cls(
            timezone=timezone or "UTC",
            working_days=days,
            start=parse_hhmm(work_start, "work_start"),
            end=parse_hhmm(work_end, "work_end"),
            holidays=frozenset(date.fromisoformat(h) for h in holidays),
        )

    def is_working_day(self, day: date) -> bool:
        return day.isoweekday() in self.working_days and day not in self.holidays

    def _windows_from(self, when: datetime) -> Iterable[tuple[datetime, datetime]]:
        """Working windows (UTC start, UTC end) from the local day of ``when`` on."""
        zone = zone_or_utc(self.timezone)
        day = when.astimezone(zone).date()
        # A year without one working day means the policy is unusable; stop
        # rather than loop forever (validation refuses such policies at save).
        for _ in range(800):
            if self.is_working_day(day):
                yield local_instant(day, self.start, zone), local_instant(day, self.end, zone)
            day += timedelta(days=1)

    def add(self, start: datetime, minutes: float) -> datetime:
        """``start`` plus ``minutes`` of working time (the clock pauses outside)."""
        if not self.working_days or self.start >= self.end:
            raise ValueError("business hours have no working time (check days and hours)")
        remaining = timedelta(minutes=minutes)
        for w_start, w_end in self._windows_from(start):
            if w_end <= start:
                continue
            begin = max(start, w_start)
            if begin + remaining <= w_end:
                return begin + remaining
            remaining -= w_end - begin
        raise ValueError("business hours have no working day in the next two years")

    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        """Working time between two instants."""
        total = timedelta(0)
        if end <= start:
            return total
        for w_start, w_end in self._windows_from(start):
            if w_start >= end:
                break
            lo, hi = max(start, w_start), min(end, w_end)
            if hi > lo:
                total += hi - lo
        return total


@dataclass(frozen=True)
class SlaTarget:
    """The part of an SLA policy a deadline depends on."""

    priority: int
    first_response_minutes: int | None
    #: None: the clock runs around the clock.
    business_hours: BusinessHours | None = None


def first_response_deadline(created_at: datetime, target: SlaTarget | None) -> datetime | None:
    """When the first response is due; None when the priority has no target."""
    if target is None or target.first_response_minutes is None:
        return None
    if target.business_hours is not None:
        return target.business_hours.add(created_at, target.first_response_minutes)
    return created_at + timedelta(minutes=target.first_response_minutes)


def offset_from(anchor: datetime, minutes: float, hours: BusinessHours | None) -> datetime:
    """``anchor`` plus ``minutes``, counted in business hours when given.

    Escalation stages are offsets from the deadline; under a business-hours
    policy they pause with the SLA clock so "+2 h" never lands at 3 a.m.
    """
    if hours is None:
        return anchor + timedelta(minutes=minutes)
    return hours.add(anchor, minutes)
