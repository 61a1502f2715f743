"""Helpers for the rule engine tests: a small team, leads by spec, and what the
app would write when a rep touches a lead (so tests do not depend on the UI)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update

from leadqueue.enums import ActivityKind, CallOutcome, Direction
from leadqueue.ids import uuid7
from leadqueue.model import (
    Activity,
    AuditEntry,
    CadenceEnrollment,
    Lead,
    Notification,
    RuleFiring,
    User,
)

TEAM = [{"name": "Americas", "timezone": "America/New_York"}]
USERS = [
    {"email": "ann@x.com", "name": "Ann Rep", "role": "rep", "team": "Americas",
     "backup": "bob@x.com"},
    {"email": "bob@x.com", "name": "Bob Rep", "role": "rep", "team": "Americas"},
    {"email": "cy@x.com", "name": "Cy Rep", "role": "rep", "team": "Americas",
     "backup": "dee@x.com"},
    {"email": "dee@x.com", "name": "Dee Away", "role": "rep", "team": "Americas",
     "available": False},
    {"email": "tess@x.com", "name": "Tess Lead", "role": "team_lead", "team": "Americas"},
]


def doc(*leads: dict[str, Any], activities: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"teams": TEAM, "users": USERS, "leads": list(leads),
            "activities": activities or []}


def a_lead(ext: str, created: datetime, **fields: Any) -> dict[str, Any]:
    out = {"external_id": ext, "first_name": ext, "last_name": "Lead", "owner": "ann@x.com",
           "created_at": created.isoformat(), "priority": 2, "timezone": "America/New_York"}
    out.update({k: v.isoformat() if isinstance(v, datetime) else v for k, v in fields.items()})
    return out


def lead_id(engine: Any, ext: str) -> uuid.UUID:
    with engine.connect() as con:
        return con.execute(select(Lead.id).where(Lead.external_id == ext)).scalar_one()


def lead_row(engine: Any, ext: str) -> Any:
    with engine.connect() as con:
        return con.execute(select(Lead).where(Lead.external_id == ext)).one()


def user_id(engine: Any, email: str) -> uuid.UUID:
    with engine.connect() as con:
        return con.execute(select(User.id).where(User.email == email)).scalar_one()


def touch(engine: Any, ext: str, at: datetime, kind: str = "email",
          direction: str = "outbound", outcome: str | None = None) -> None:
    """Log an activity the way the app does: the row plus the lead's action fields."""
    lid = lead_id(engine, ext)
    with engine.begin() as con:
        con.execute(insert(Activity), [{
            "id": uuid7(), "lead_id": lid, "kind": ActivityKind(kind),
            "direction": Direction(direction),
            "outcome": CallOutcome(outcome) if outcome else None, "at": at, "created_at": at}])
        if direction == "outbound":
            lead = con.execute(select(Lead.first_action_at, Lead.attempts)
                               .where(Lead.id == lid)).one()
            con.execute(update(Lead).where(Lead.id == lid).values(
                first_action_at=lead.first_action_at or at, last_action_at=at,
                attempts=lead.attempts + 1, updated_at=at, version=Lead.version + 1))


def notes(engine: Any, email: str | None = None) -> list[tuple[str, str, datetime]]:
    """[(recipient email, title, created_at)] oldest first."""
    with engine.connect() as con:
        q = (select(User.email, Notification.title, Notification.created_at)
             .join(User, User.id == Notification.recipient_id)
             .order_by(Notification.created_at, User.email, Notification.title))
        if email:
            q = q.where(User.email == email)
        return [tuple(r) for r in con.execute(q)]  # type: ignore[misc]


def firings(engine: Any) -> list[tuple[str, bool]]:
    with engine.connect() as con:
        return [tuple(r) for r in con.execute(  # type: ignore[misc]
            select(RuleFiring.key, RuleFiring.delivered).order_by(RuleFiring.fired_at,
                                                                  RuleFiring.key))]


def audit_rules(engine: Any, rule_prefix: str = "") -> list[tuple[str, str]]:
    with engine.connect() as con:
        return [tuple(r) for r in con.execute(  # type: ignore[misc]
            select(AuditEntry.rule, AuditEntry.reason)
            .where(AuditEntry.rule.like(f"{rule_prefix}%")).order_by(AuditEntry.at,
                                                                     AuditEntry.id))]


def enrollments(engine: Any, ext: str) -> list[Any]:
    with engine.connect() as con:
        return con.execute(select(CadenceEnrollment).where(
            CadenceEnrollment.lead_id == lead_id(engine, ext))
            .order_by(CadenceEnrollment.enrolled_at)).all()


def count(engine: Any, table: Any) -> int:
    with engine.connect() as con:
        return int(con.execute(select(func.count()).select_from(table)).scalar_one())
