"""The one source of "now".

Everything that needs the time takes a :class:`Clock`; production code gets
:class:`SystemClock`, tests a :class:`FakeClock` they move by hand. Times are
always timezone-aware UTC here; local time exists only at the edges.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FakeClock:
    """A clock that stands still until a test moves it."""

    def __init__(self, start: datetime) -> None:
        self._now = as_utc(start)

    def now(self) -> datetime:
        return self._now

    def set(self, when: datetime) -> None:
        self._now = as_utc(when)

    def advance(self, delta: timedelta | None = None, **kwargs: float) -> datetime:
        self._now += delta if delta is not None else timedelta(**kwargs)
        return self._now


def as_utc(when: datetime) -> datetime:
    """``when`` as aware UTC; a naive value is taken to be UTC already."""
    if when.tzinfo is None:
        return when.replace(tzinfo=UTC)
    return when.astimezone(UTC)


def parse_instant(text: str) -> datetime:
    """Parse an ISO 8601 instant; it must carry an offset (or ``Z``).

    Raises ``ValueError`` with a message that names the problem.
    """
    try:
        value = datetime.fromisoformat(text.strip().replace("z", "Z"))
    except ValueError:
        raise ValueError(
            f"{text!r} is not an ISO 8601 time (expected e.g. 2026-11-25T14:30:00+00:00)"
        ) from None
    if value.tzinfo is None:
        raise ValueError(f"{text!r} has no UTC offset (add +00:00, Z or the local offset)")
    return value.astimezone(UTC)
