"""The facade: what one signed-in person can see and do.

The UI and the CLI talk to a :class:`Workspace` and receive the frozen views of
``leadqueue.views``; they never see a session or an ORM object. Each method is
one unit of work (its own session), so a workspace can be used from a worker
thread as long as one thread uses it at a time.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .clock import Clock, SystemClock
from .enums import Role
from .errors import ActionRefused, LeadNotFound
from .views import ActivityView, LeadDetail, PersonView, QueueRow, RankedQueue, TeamQueue
from .workspace_rules import RulesActions

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from sqlalchemy.orm import Session

    from .board import AssignmentNotice, TeamBoard
    from .model import Lead
    from .templates import RenderedTemplate
    from .views import ContactEdit, NewLead, OutcomeResult, WrapUp

__all__ = ["ActionRefused", "LeadNotFound", "UnknownPerson", "Workspace"]


class UnknownPerson(LookupError):
    """No user with that email in this database."""


class Workspace(RulesActions):
    def __init__(self, engine: Engine, me: PersonView, clock: Clock | None = None) -> None:
        self.engine = engine
        self.me = me
        self.clock: Clock = clock or SystemClock()

    # -- opening ---------------------------------------------------------------

    @classmethod
    def open(cls, engine: Engine, as_email: str | None = None,
             clock: Clock | None = None) -> Workspace:
        """Sign in as ``as_email``; without one, the first rep (then anyone)."""
        people = list_people(engine)
        if not people:
            raise UnknownPerson("this database has no users yet (load some with 'leadqueue load')")
        if as_email:
            wanted = as_email.strip().lower()
            for person in people:
                if person.email.lower() == wanted:
                    return cls(engine, person, clock)
            raise UnknownPerson(f"no user with email {as_email!r} in this database")
        if engine.dialect.name == "postgresql":
            # On the shared database you are who you connect as (session_user).
            from sqlalchemy import text

            with engine.connect() as conn:
                installed = conn.execute(text(
                    "SELECT to_regprocedure('lq_me()') IS NOT NULL")).scalar()
                me = conn.execute(text("SELECT lq_me()")).scalar() if installed else None
            for person in people:
                if person.id == me:
                    return cls(engine, person, clock)
        reps = [p for p in people if p.role == Role.REP]
        return cls(engine, (reps or people)[0], clock)

    def people(self) -> list[PersonView]:
        """Everyone this person may switch to or see (the demo's user switcher)."""
        return list_people(self.engine)

    def now(self) -> datetime:
        return self.clock.now()

    # -- reading ---------------------------------------------------------------

    def ranked_queue(self, at: datetime | None = None, limit: int | None = None) -> RankedQueue:
        """The signed-in rep's next-best-lead queue (``leadqueue.queue``).

        ``at`` pretends it is that time (default: the clock); ``limit`` caps
        each of the three lists.
        """
        from .clock import as_utc
        from .queue import ranked_queue

        now = as_utc(at) if at is not None else self.clock.now()
        if limit is not None and limit < 0:
            raise ValueError(f"limit: {limit} is negative")
        with self.engine.connect() as conn:
            return ranked_queue(conn, self.me.id, self.me.team_id, now, limit)

    def team_queue(self, at: datetime | None = None) -> TeamQueue:
        """Every active lead of the reps this person oversees, for the team view.

        A team lead sees their team's reps, an admin every rep. Each rep's
        leads are ranked by the same engine as their own queue (so SLA
        deadlines honour team overrides and business hours), then merged:
        priority first, then whichever comes first of the SLA deadline and
        the time the lead is due, then age. Do-not-contact leads are left out,
        as in the reps' own queues.
        """
        from .clock import as_utc
        from .queue import ranked_queue

        if self.me.role == Role.REP:
            raise ActionRefused("the team queue is for team leads and admins")
        now = as_utc(at) if at is not None else self.clock.now()
        reps = [p for p in self.people() if p.role == Role.REP
                and (self.me.role == Role.ADMIN or p.team_id == self.me.team_id)]
        rows: list[QueueRow] = []
        owners: dict[uuid.UUID, str] = {}
        with self.engine.connect() as conn:
            for rep in reps:
                ranked = ranked_queue(conn, rep.id, rep.team_id, now)
                for row in (*ranked.callable, *ranked.later, *ranked.upcoming):
                    rows.append(row)
                    owners[row.id] = rep.name

        def when(row: QueueRow) -> datetime:
            due = [t for t in (row.sla_due_at, row.due_at, row.next_step_at) if t is not None]
            return min(due) if due else row.created_at

        rows.sort(key=lambda r: (r.priority, when(r), r.created_at, str(r.id)))
        return TeamQueue(tuple(rows), owners, now)

    def lead(self, lead_id: uuid.UUID) -> LeadDetail:
        from sqlalchemy import select
        from sqlalchemy.orm import Session, aliased

        from .model import Activity, Lead, Team, User

        with Session(self.engine) as s:
            lead = s.get(Lead, lead_id)
            if lead is None or lead.deleted_at is not None:
                raise LookupError(f"no lead {lead_id}")
            owner = s.get(User, lead.owner_id) if lead.owner_id else None
            team = s.get(Team, lead.team_id) if lead.team_id else None
            author = aliased(User)
            rows = s.execute(
                select(Activity, author.name)
                .outerjoin(author, author.id == Activity.author_id)
                .where(Activity.lead_id == lead_id)
                .order_by(Activity.at.desc(), Activity.id.desc())
            ).all()
            activities = tuple(
                ActivityView(
                    id=a.id, kind=a.kind.value, direction=a.direction.value,
                    outcome=a.outcome.value if a.outcome else None, at=a.at,
                    author_name=name, duration_s=a.duration_s, body=a.body,
                    supersedes_id=a.supersedes_id,
                )
                for a, name in rows
            )
            return lead_detail(lead, owner.name if owner else None,
                               team.name if team else None, activities,
                               calling_window(s, lead.team_id, self.me.team_id))

    # -- working a lead (issue 3): each action is one small transaction --------
    # The rules live in ``leadqueue.actions``; refusals raise ActionRefused
    # with a message for the rep.

    def _unit(self):  # type: ignore[no-untyped-def]
        from .store import session_scope

        return session_scope(self.engine)

    def acknowledge(self, lead_id: uuid.UUID) -> None:
        """The owner opened the lead: sets ``acknowledged_at`` once (no-op for others)."""
        from . import actions

        with self._unit() as s:
            actions.acknowledge(s, self.me, self.now(), lead_id)

    def log_call(self, lead_id: uuid.UUID, outcome: str, *, duration_s: int | None = None,
                 note: str | None = None) -> OutcomeResult:
        from . import actions

        with self._unit() as s:
            return actions.log_call(s, self.me, self.now(), lead_id, outcome,
                                    duration_s=duration_s, note=note)

    def log_touch(self, lead_id: uuid.UUID, kind: str, *, body: str | None = None
                  ) -> OutcomeResult:
        """An outbound email, SMS or social touch."""
        from . import actions

        with self._unit() as s:
            return actions.log_touch(s, self.me, self.now(), lead_id, kind, body=body)

    def log_inbound(self, lead_id: uuid.UUID, kind: str, *, body: str | None = None,
                    outcome: str | None = None) -> OutcomeResult:
        """A reply or an inbound call (``outcome`` for calls only)."""
        from . import actions

        with self._unit() as s:
            return actions.log_inbound(s, self.me, self.now(), lead_id, kind, body=body,
                                       outcome=outcome)

    def add_note(self, lead_id: uuid.UUID, body: str) -> ActivityView:
        from . import actions

        with self._unit() as s:
            return actions.add_note(s, self.me, self.now(), lead_id, body)

    def correct_activity(self, activity_id: uuid.UUID, *, outcome: str | None = None,
                         body: str | None = None) -> ActivityView:
        """A new entry that supersedes a mis-logged one (history stays append-only)."""
        from . import actions

        with self._unit() as s:
            return actions.correct_activity(s, self.me, self.now(), activity_id,
                                            outcome=outcome, body=body)

    def snooze(self, lead_id: uuid.UUID, until: datetime) -> None:
        from . import actions

        with self._unit() as s:
            actions.snooze(s, self.me, self.now(), lead_id, until)

    def set_next_step(self, lead_id: uuid.UUID, kind: str, at: datetime,
                      text: str | None = None) -> None:
        from . import actions

        with self._unit() as s:
            actions.set_next_step(s, self.me, self.now(), lead_id, kind, at, text)

    def set_status(self, lead_id: uuid.UUID, status: str, *, reason: str | None = None,
                   note: str | None = None) -> None:
        """meeting, converted, nurture, no_response (reason), disqualified (reason), working."""
        from . import actions

        with self._unit() as s:
            actions.set_status(s, self.me, self.now(), lead_id, status, reason=reason,
                               note=note)

    def disqualify(self, lead_id: uuid.UUID, reason: str, note: str | None = None) -> None:
        """A standard reason (``enums.DisqualifyReason``); 'other' needs a note."""
        from . import actions

        with self._unit() as s:
            actions.disqualify(s, self.me, self.now(), lead_id, reason, note)

    def wrap_up_state(self, lead_id: uuid.UUID, since: datetime) -> WrapUp:
        """May the rep leave the lead they opened at ``since``? (read only)"""
        from . import actions

        with self._unit() as s:
            return actions.wrap_up_state(s, self.me, self.now(), lead_id, since)

    def create_lead(self, new: NewLead) -> uuid.UUID:
        """A lead entered by hand, owned by me; bad contact data is flagged, not refused."""
        from . import actions

        with self._unit() as s:
            return actions.create_lead(s, self.me, self.now(), new)

    def update_contact(self, lead_id: uuid.UUID, edit: ContactEdit) -> LeadDetail:
        from . import actions

        with self._unit() as s:
            actions.update_contact(s, self.me, self.now(), lead_id, edit)
        return self.lead(lead_id)

    def render_template(self, lead_id: uuid.UUID) -> RenderedTemplate | None:
        """The template for the lead's current step, merge fields filled."""
        from . import actions

        with self._unit() as s:
            return actions.template_for(s, self.me, lead_id)

    def cadence_step_label(self, lead_id: uuid.UUID) -> str | None:
        """"Step 3 of 7 (call)" while the lead is in an active cadence."""
        from .queue import cadence_labels

        with self.engine.connect() as conn:
            return cadence_labels(conn, [lead_id]).get(lead_id)

    # -- the shared pool (online only; leadqueue.shared.claims) ----------------

    #: The signed-in person's shared-database URL, set by the app while it is
    #: configured for a shared database; None: local store only.
    shared_url: str | None = None

    def _shared_conn(self):  # type: ignore[no-untyped-def]
        """A DB-API connection to the shared database as the person, or ActionRefused."""
        if self.engine.dialect.name == "postgresql" and self.shared_url is None:
            import psycopg
            from sqlalchemy.exc import DBAPIError

            try:
                return _PooledAutocommit(self.engine.raw_connection())
            except (DBAPIError, psycopg.OperationalError):  # unreachable (issue 5: in words)
                raise ActionRefused("You are offline: the shared database cannot be reached. "
                                    "Try again when you are back online.") from None
        if self.shared_url is None:
            raise ActionRefused("Taking a lead from the pool needs the shared team database; "
                                "this workspace has only its local store.")
        import psycopg

        from .shared.admin import libpq_url

        try:
            return psycopg.connect(libpq_url(self.shared_url), autocommit=True,
                                   connect_timeout=5)
        except psycopg.OperationalError:
            raise ActionRefused("You are offline: taking a lead from the pool needs the "
                                "shared database. Everything else keeps working.") from None

    @contextmanager
    def _pool_call(self, offline: str) -> Iterator[Any]:
        """A shared connection for one pool call: a refused claim and a lost
        connection (``offline`` says what did not happen) become ActionRefused."""
        from .shared.claims import ClaimRefused
        from .store import StoreError

        conn = self._shared_conn()
        try:
            yield conn
        except ClaimRefused as exc:
            raise ActionRefused(str(exc)) from None
        except StoreError:
            raise ActionRefused(offline) from None
        finally:
            conn.close()

    def claim_next(self) -> QueueRow | None:
        """Take the best unclaimed lead of my team's pool; None when it is empty."""
        from .shared.claims import claim_next, lead_summary

        with self._pool_call("You are offline: the claim did not reach the shared "
                             "database. Try again when you are back online.") as conn:
            claim = claim_next(conn)
            if claim is None:
                return None
            row = lead_summary(conn, claim.lead_id)
        return _claimed_row(row)

    def renew_claim(self, lead_id: uuid.UUID) -> datetime | None:
        """Extend my claim on ``lead_id`` (the team's lease length from now);
        None when I hold none. A lost claim raises ActionRefused. (Issue 5)"""
        from .shared.claims import current_epoch, renew

        with self._pool_call("You are offline: the claim was not renewed.") as conn:
            epoch = current_epoch(conn, lead_id)
            return None if epoch is None else renew(conn, lead_id, epoch)

    def team_board(self) -> TeamBoard:
        """Who holds what: my team's reps (an admin: everyone's). (Issue 5)"""
        from .board import team_board

        with self._unit() as s:
            return team_board(s, self.me, self.now())

    def assignment_notice(self, lead_id: uuid.UUID, event: str = "assigned"
                          ) -> AssignmentNotice | None:
        """Name, priority and why of a lead the live listener reported. (Issue 5)"""
        from .board import assignment_notice

        with self._unit() as s:
            return assignment_notice(s, lead_id, event)

    def reassign(self, lead_ids: Iterable[uuid.UUID], to_user_id: uuid.UUID | None,
                 reason: str | None = None) -> int:
        """Move leads to another rep, or (None) back to the pool; how many moved.
        The rule is the core's on a local store and PostgreSQL's (``lq_reassign``)
        on the shared database (``leadqueue.board``). (Issue 5)"""
        from .board import reassign

        return reassign(self.engine, self.me, self.now(), list(lead_ids), to_user_id, reason)

    def release(self, lead_id: uuid.UUID) -> None:
        """Give a lead I claimed back to my team's pool."""
        from .shared.claims import release

        with self._pool_call("You are offline: the release did not reach the shared "
                             "database. Try again when you are back online.") as conn:
            release(conn, lead_id)


class _PooledAutocommit:
    """A pooled connection in autocommit for one call (one round trip per
    claim), handed back to the pool as SQLAlchemy expects it."""

    def __init__(self, pooled) -> None:  # type: ignore[no-untyped-def]
        self._pooled = pooled
        self._driver = pooled.driver_connection
        self._driver.autocommit = True

    def cursor(self):  # type: ignore[no-untyped-def]
        return self._driver.cursor()

    def commit(self) -> None:
        self._driver.commit()

    def rollback(self) -> None:
        self._driver.rollback()

    def close(self) -> None:
        try:
            if not self._driver.closed:
                self._driver.autocommit = False
        finally:
            self._pooled.close()


def _claimed_row(row: dict) -> QueueRow:  # type: ignore[type-arg]
    """A queue row for a lead just claimed (read from the shared database)."""
    from .clock import parse_instant

    def when(value: str | None) -> datetime | None:
        return parse_instant(value) if value else None

    created = when(row["created_at"])
    assert created is not None
    return QueueRow(
        id=uuid.UUID(row["id"]), external_id=row["external_id"],
        name=f"{row['first_name']} {row['last_name']}".strip(), company=row["company"],
        priority=row["priority"], status=row["status"], lead_class=row["lead_class"],
        source=row["source"], phone=row["phone"], email=row["email"],
        timezone=row["timezone"], score=row["score"], created_at=created, next_step=None,
        next_step_kind=None, next_step_at=None, sla_due_at=when(row["sla_due_at"]),
        reasons=("claimed from the pool",))

def list_people(engine: Engine) -> list[PersonView]:
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from .model import Team, User

    order = {Role.REP: 0, Role.TEAM_LEAD: 1, Role.ADMIN: 2}
    with Session(engine) as s:
        rows = s.execute(
            select(User, Team.name)
            .outerjoin(Team, Team.id == User.team_id)
            .where(User.deleted_at.is_(None), User.disabled.is_(False))
        ).all()
        people = [
            PersonView(u.id, u.email, u.name, u.role.value, u.team_id, team_name)
            for u, team_name in rows
        ]
    return sorted(people, key=lambda p: (order[Role(p.role)], p.team_name or "", p.name))


def calling_window(session: Session, *team_ids: uuid.UUID | None) -> tuple[str, str]:
    """The calling window of the first of ``team_ids`` that is a live team (the
    lead's, then the viewer's, as ranking applies it), else the default."""
    from .model import Team
    from .rules.calling_window import DEFAULT_WINDOW_END, DEFAULT_WINDOW_START

    for team_id in team_ids:
        team = session.get(Team, team_id) if team_id else None
        if team is not None and team.deleted_at is None:
            return (team.calling_window_start or DEFAULT_WINDOW_START,
                    team.calling_window_end or DEFAULT_WINDOW_END)
    return DEFAULT_WINDOW_START, DEFAULT_WINDOW_END


def lead_detail(lead: Lead, owner_name: str | None, team_name: str | None,
                activities: tuple[ActivityView, ...], window: tuple[str, str]) -> LeadDetail:
    return LeadDetail(
        id=lead.id, external_id=lead.external_id, first_name=lead.first_name,
        last_name=lead.last_name, company=lead.company, title=lead.title, email=lead.email,
        phone=lead.phone, source=lead.source, lead_class=lead.lead_class.value,
        status=lead.status.value, priority=lead.priority, owner_name=owner_name,
        team_name=team_name, created_at=lead.created_at, assigned_at=lead.assigned_at,
        acknowledged_at=lead.acknowledged_at, first_action_at=lead.first_action_at,
        last_action_at=lead.last_action_at, next_step=lead.next_step,
        next_step_kind=lead.next_step_kind.value if lead.next_step_kind else None,
        next_step_at=lead.next_step_at, snoozed_until=lead.snoozed_until,
        do_not_contact=lead.do_not_contact, attempts=lead.attempts, score=lead.score,
        score_breakdown=tuple(
            (str(item.get("rule", "")), int(item.get("points", 0)))
            for item in (lead.score_breakdown or ())
        ),
        timezone=lead.timezone, country=lead.country, state=lead.state,
        territory=lead.territory, company_size=lead.company_size,
        product_interest=lead.product_interest,
        no_response_reason=lead.no_response_reason.value if lead.no_response_reason else None,
        disqualify_reason=lead.disqualify_reason.value if lead.disqualify_reason else None,
        final_outcome=lead.final_outcome, data_issues=tuple(lead.data_issues or ()),
        calling_window=window, activities=activities,
        assignment_why=_assignment_why(lead), phone_display=lead.phone_display,
    )


def _assignment_why(lead: Lead) -> str | None:
    from .board import assignment_why

    return assignment_why(lead.routing_explanation, lead.owner_id)
