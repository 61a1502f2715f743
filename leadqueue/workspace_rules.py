"""The Workspace's rules, schedule and notification actions (issue 4).

A mixin of :class:`leadqueue.workspace.Workspace`, kept in its own module so
the facade stays one readable file per feature. It expects ``self.engine``,
``self.me`` (a PersonView) and ``self.clock``. Heavy imports stay inside the
methods: the UI imports the workspace at start-up.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from .enums import Role
from .errors import ActionRefused

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from .clock import Clock
    from .engine import PassSummary
    from .rulebook import CadenceSpec, RuleBook, SlaPolicySpec, TemplateSpec
    from .schedule import DueEvent, NotificationView, SlaClock
    from .views import PersonView


class RulesActions:
    engine: Engine
    me: PersonView
    clock: Clock

    # -- the engine ------------------------------------------------------------

    def run_rules(self, at: datetime | None = None) -> PassSummary:
        """One pass of the time-driven rules on this (local) store, as the app.

        The same engine the worker runs (``leadqueue.engine.run_pass``); in the
        demo and a single-user store the app calls it on its timer.
        """
        from .clock import as_utc
        from .engine import run_pass

        return run_pass(self.engine, as_utc(at) if at is not None else self.clock.now(),
                        actor="app")

    # -- the schedule ------------------------------------------------------------

    def upcoming_events(self, horizon: timedelta = timedelta(hours=24)) -> tuple[DueEvent, ...]:
        """What comes due for me within ``horizon``, sorted by time (``leadqueue.schedule``)."""
        from sqlalchemy.orm import Session

        from .rulebook import ActiveRules
        from .schedule import upcoming_events

        if horizon < timedelta(0):
            raise ValueError(f"horizon: {horizon} is negative")
        with Session(self.engine) as s:
            return upcoming_events(s, self.me, ActiveRules(s), self.clock.now(), horizon)

    def sla_clocks(self, lead_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, SlaClock]:
        """Deadline and ladder stage times per lead, for countdown colours
        (``clock.stage(now)``: 0 before the deadline, 1 from it, +1 per later stage)."""
        from sqlalchemy.orm import Session

        from .rulebook import ActiveRules
        from .schedule import sla_clocks

        with Session(self.engine) as s:
            return sla_clocks(s, ActiveRules(s), lead_ids)

    # -- notifications -------------------------------------------------------------

    def pending_notifications(self) -> tuple[NotificationView, ...]:
        """My unseen notifications that are not snoozed, oldest first."""
        from sqlalchemy.orm import Session

        from .schedule import pending_notifications

        with Session(self.engine) as s:
            return pending_notifications(s, self.me.id, self.clock.now())

    def next_notification_at(self) -> datetime | None:
        """When my earliest snoozed notification comes back, if any."""
        from sqlalchemy.orm import Session

        from .schedule import next_notification_at

        with Session(self.engine) as s:
            return next_notification_at(s, self.me.id, self.clock.now())

    def mark_notifications_seen(self, ids: Iterable[uuid.UUID]) -> None:
        """Mark my notifications seen (others' ids are ignored)."""
        from .schedule import mark_seen
        from .store import session_scope

        with session_scope(self.engine) as s:
            mark_seen(s, self.me.id, ids, self.clock.now())

    def snooze_notification(self, notification_id: uuid.UUID, until: datetime) -> None:
        """Hide one of my notifications until ``until`` (it then shows again)."""
        from .clock import as_utc
        from .schedule import snooze
        from .store import session_scope

        now = self.clock.now()
        until = as_utc(until)
        if until <= now:
            raise ActionRefused("snooze until a time in the future")
        with session_scope(self.engine) as s:
            try:
                snooze(s, self.me.id, notification_id, until, now)
            except LookupError as exc:
                raise ActionRefused(str(exc)) from None

    # -- the rule book -------------------------------------------------------------

    def rule_book(self) -> RuleBook:
        """Every rule: SLA policies (ladder, ack timeouts, business hours),
        cadences with steps, templates."""
        from sqlalchemy.orm import Session

        from .rulebook import read_rule_book

        with Session(self.engine) as s:
            return read_rule_book(s)

    def _may_edit_rules(self) -> None:
        if Role(self.me.role) not in (Role.TEAM_LEAD, Role.ADMIN):
            raise ActionRefused("only a team lead or an admin can change the rules")

    def save_sla_policy(self, edit: SlaPolicySpec) -> SlaPolicySpec:
        """Validate and save an SLA policy; ``RuleError`` names a bad field.

        A team lead's edit always applies to their own team (saving a default
        policy creates the team's own override); an admin saves what is given.
        """
        from dataclasses import replace

        from .rulebook import save_sla_policy
        from .store import session_scope

        self._may_edit_rules()
        if Role(self.me.role) is Role.TEAM_LEAD:
            edit = replace(edit, team_id=self.me.team_id, id=None)
        with session_scope(self.engine) as s:
            return save_sla_policy(s, edit, now=self.clock.now(), actor_id=self.me.id)

    def save_cadence(self, edit: CadenceSpec) -> CadenceSpec:
        """Validate and save a cadence with its steps; ``RuleError`` names a bad field.

        A team lead edits their team's cadences and creates new ones for it; a
        cadence shared by every team (or another team's) is the admin's.
        """
        from dataclasses import replace

        from .model import Cadence
        from .rulebook import save_cadence
        from .store import session_scope

        self._may_edit_rules()
        with session_scope(self.engine) as s:
            if Role(self.me.role) is Role.TEAM_LEAD:
                if edit.id is not None:
                    row = s.get(Cadence, edit.id)
                    if row is not None and row.team_id != self.me.team_id:
                        raise ActionRefused(
                            f"the cadence {row.name!r} is not your team's: only an admin can "
                            "change it (save a copy under a new name for your team)")
                edit = replace(edit, team_id=self.me.team_id)
            return save_cadence(s, edit, now=self.clock.now(), actor_id=self.me.id)

    def save_template(self, edit: TemplateSpec) -> TemplateSpec:
        """Validate and save a template; ``RuleError`` names an unknown merge field."""
        from .rulebook import save_template
        from .store import session_scope

        self._may_edit_rules()
        with session_scope(self.engine) as s:
            return save_template(s, edit, now=self.clock.now(), actor_id=self.me.id)

    def quiet_hours(self) -> tuple[str | None, str | None, str | None]:
        """My saved quiet hours as ("HH:MM", "HH:MM", zone), (None, None, zone) for none.

        The zone is my own (``users.timezone``); None when I have none set, and
        the app then reads the times in its computer's zone.
        """
        from sqlalchemy import select
        from sqlalchemy.orm import Session

        from .model import User

        with Session(self.engine) as s:
            row = s.execute(select(User.quiet_hours_start, User.quiet_hours_end, User.timezone)
                            .where(User.id == self.me.id)).one_or_none()
        if row is None:
            return None, None, None
        return row.quiet_hours_start, row.quiet_hours_end, row.timezone

    def set_quiet_hours(self, start: str | None, end: str | None) -> None:
        """My own quiet hours ("HH:MM" in my zone), or None, None for none.

        Anyone may set their own; ``RuleError`` for a malformed time.
        """
        from .model import User
        from .rulebook import validate_quiet_hours
        from .store import session_scope

        start, end = validate_quiet_hours(start, end)
        with session_scope(self.engine) as s:
            user = s.get(User, self.me.id)
            if user is None:
                raise ActionRefused("you are no longer a user of this database")
            user.quiet_hours_start, user.quiet_hours_end = start, end
            user.updated_at = self.clock.now()
            user.version = (user.version or 1) + 1
