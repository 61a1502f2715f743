"""The facade: what one signed-in person can see and do.

The UI and the CLI talk to a :class:`Workspace` and receive the frozen views of
``leadqueue.views``; they never see a session or an ORM object. Each method is
one unit of work (its own session), so a workspace can be used from a worker
thread as long as one thread uses it at a time.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING

from .clock import Clock, SystemClock
from .enums import LeadStatus, Role
from .views import ActivityView, LeadDetail, PersonView, QueueRow, RankedQueue

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from .model import Lead


class UnknownPerson(LookupError):
    """No user with that email in this database."""


class Workspace:
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

    def queue(self) -> list[QueueRow]:
        """The signed-in rep's active leads: P1 first, then oldest first."""
        from sqlalchemy import select
        from sqlalchemy.orm import Session

        from .model import Lead, SlaPolicy
        from .rules.sla import SlaTarget, first_response_deadline

        with Session(self.engine) as s:
            targets = {
                p.priority: SlaTarget(p.priority, p.first_response_minutes)
                for p in s.scalars(
                    select(SlaPolicy).where(SlaPolicy.team_id.is_(None),
                                            SlaPolicy.deleted_at.is_(None))
                )
            }
            leads = s.scalars(
                select(Lead)
                .where(
                    Lead.owner_id == self.me.id,
                    Lead.status.in_([LeadStatus.NEW, LeadStatus.WORKING]),
                    Lead.deleted_at.is_(None),
                )
                .order_by(Lead.priority, Lead.created_at, Lead.id)
            ).all()
            return [
                queue_row(
                    lead,
                    first_response_deadline(lead.created_at, targets.get(lead.priority))
                    if lead.first_action_at is None
                    else None,
                )
                for lead in leads
            ]

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
                               team.name if team else None, activities)


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


def queue_row(lead: Lead, sla_due_at: datetime | None, tier: int | None = None,
              reasons: tuple[str, ...] = ()) -> QueueRow:
    return QueueRow(
        id=lead.id, external_id=lead.external_id,
        name=f"{lead.first_name} {lead.last_name}".strip(), company=lead.company,
        priority=lead.priority, status=lead.status.value, lead_class=lead.lead_class.value,
        source=lead.source, phone=lead.phone, email=lead.email, timezone=lead.timezone,
        score=lead.score, created_at=lead.created_at, next_step=lead.next_step,
        next_step_kind=lead.next_step_kind.value if lead.next_step_kind else None,
        next_step_at=lead.next_step_at, sla_due_at=sla_due_at, tier=tier, reasons=reasons,
        data_issues=tuple(lead.data_issues or ()),
    )


def lead_detail(lead: Lead, owner_name: str | None, team_name: str | None,
                activities: tuple[ActivityView, ...]) -> LeadDetail:
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
        activities=activities,
    )
