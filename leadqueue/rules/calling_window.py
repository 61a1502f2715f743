"""Calling windows: whether a lead may be called now, in the lead's local time.

A team sets a window such as 08:00 (inclusive) to 20:00 (exclusive); it is read
on the lead's wall clock, so a New York lead and a Berlin lead open at
different instants, and each follows its own DST changes. Pure functions over
aware datetimes and IANA zone names; nothing here touches the store.

Choices worth knowing:

- A window whose end is before its start wraps midnight (22:00-06:00 means
  "from 22:00 until 06:00 the next morning").
- A window whose start equals its end is open all day.
- A window start that falls in a DST gap (a local time that does not exist
  that day) opens at the first instant after the gap.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_WINDOW_START = "08:00"
DEFAULT_WINDOW_END = "20:00"


def parse_hhmm(text: str, what: str = "time") -> time:
    """``"HH:MM"`` as a time; ValueError naming ``what`` when malformed."""
    try:
        hours, minutes = text.strip().split(":")
        value = time(int(hours), int(minutes))
    except (AttributeError, ValueError):
        raise ValueError(
            f"{what}: {text!r} is not a time of day (expected HH:MM, e.g. 08:00)") from None
    return value


@lru_cache(maxsize=1024)
def lead_zone(name: str | None) -> ZoneInfo | None:
    """The IANA zone called ``name``, or None when missing or unknown."""
    if not name:
        return None
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


def is_inside(local: time, start: time, end: time) -> bool:
    """Whether a local wall-clock time lies in [start, end)."""
    if start == end:
        return True
    if start < end:
        return start <= local < end
    return local >= start or local < end  # wraps midnight


def _local_instant(day: date, at: time, zone: tzinfo) -> datetime:
    """``day`` at wall time ``at`` in ``zone`` as UTC; a time in a DST gap
    moves to the end of the gap (the first real instant at or after it)."""
    naive = datetime.combine(day, at)
    candidate = naive.replace(tzinfo=zone).astimezone(UTC)
    if candidate.astimezone(zone).replace(tzinfo=None) != naive:
        # A wall time that does not exist that day round-trips to another one.
        # fold=1 reads it with the pre-gap offset, i.e. an instant before the
        # gap; walk forward to the first instant whose wall time reaches it.
        candidate = naive.replace(tzinfo=zone, fold=1).astimezone(UTC)
        candidate = candidate.replace(second=0, microsecond=0)
        while candidate.astimezone(zone).replace(tzinfo=None) < naive:
            candidate += timedelta(minutes=1)
    return candidate


def window_opens_at(now: datetime, tz: str | tzinfo | None,
                    start: str | time = DEFAULT_WINDOW_START,
                    end: str | time = DEFAULT_WINDOW_END) -> datetime | None:
    """When the calling window next opens, as aware UTC; None when ``now`` is inside.

    ``tz`` is the lead's IANA zone (a name or a tzinfo). A missing or unknown
    zone is treated as "inside" (None): the caller flags the lead's local time
    as unknown rather than hiding the lead.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    zone = lead_zone(tz) if tz is None or isinstance(tz, str) else tz
    if zone is None:
        return None
    start_t = parse_hhmm(start, "calling window start") if isinstance(start, str) else start
    end_t = parse_hhmm(end, "calling window end") if isinstance(end, str) else end
    local = now.astimezone(zone)
    if is_inside(local.time().replace(tzinfo=None), start_t, end_t):
        return None
    # Outside: the window opens at the next local start, today or tomorrow.
    day = local.date()
    for offset in range(3):
        opens = _local_instant(day + timedelta(days=offset), start_t, zone)
        if opens > now:
            return opens
    raise AssertionError("unreachable: a window start occurs within three days")
