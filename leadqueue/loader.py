"""Loading a JSON document of teams, users, leads and activities (``leadqueue load``).

The format is a public contract (``docs/load-format.md``); tests, the demo
generator and outside tools produce it. Loading is all or nothing: the whole
document is validated first and every problem is reported by position and
field (``leads[12].owner: no user 'x@y.com'``); only a clean document is
written, in one transaction, with bulk Core inserts.

``load`` writes the data as given: no routing, no rules, no outbox entries.
A phone that does not parse or an unknown time zone is data, not an error: the
lead is stored with the raw text and flagged in ``leads.data_issues``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from .clock import parse_instant
from .contact import normalize_email, phone_and_zone, valid_timezone
from .enums import (
    ActivityKind,
    CallOutcome,
    Direction,
    DisqualifyReason,
    LeadClass,
    LeadStatus,
    NextStepKind,
    NoResponseReason,
    Role,
)

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from sqlalchemy.orm import Session

#: Makes the id of a new row; given the row's own time so a caller can keep ids
#: time-ordered and, for the demo, deterministic.
IdFactory = Callable[[datetime], uuid.UUID]

SECTIONS = ("teams", "users", "leads", "activities")

#: Outbound touches of these kinds are "actions" (attempts, first/last action);
#: a note is not a touch on the lead, an inbound reply is the lead's action.
TOUCH_KINDS = frozenset({ActivityKind.CALL, ActivityKind.EMAIL, ActivityKind.SMS,
                         ActivityKind.SOCIAL})


class LoadError(Exception):
    """The document has problems; nothing of it was written."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        n = len(self.problems)
        head = f"{n} problem{'s' if n != 1 else ''} in the document; nothing was loaded"
        super().__init__(head + ":\n  " + "\n  ".join(self.problems))


@dataclass(frozen=True)
class LoadReport:
    teams: int
    users: int
    leads: int
    activities: int
    #: Leads without an owner (in their team's pool).
    pool: int
    #: Leads stored with a data-issue flag (bad phone, unknown zone).
    flagged: int

    def summary(self) -> str:
        return (
            f"loaded {self.teams} teams, {self.users} users, {self.leads} leads "
            f"({self.pool} in the pool, {self.flagged} flagged), "
            f"{self.activities} activities"
        )


# -- field kinds ---------------------------------------------------------------
# Each field of the format has a kind; a kind turns JSON into a Python value or
# records a problem. ``_BAD`` marks a value that failed (already reported).

_BAD: Any = object()
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


@dataclass(frozen=True)
class F:
    """One field of the format."""

    kind: str  # str, int, bool, time, email, enum, hhmm, zone, uuid, ref_team, ref_user, ref_lead
    required: bool = False
    max_len: int | None = None
    enum: type[StrEnum] | None = None
    min: int | None = None
    max: int | None = None


def _s(n: int | None = None, required: bool = False) -> F:
    return F("str", required=required, max_len=n)


TEAM_FIELDS: dict[str, F] = {
    "id": F("uuid"),
    "name": _s(120, required=True),
    "timezone": F("zone"),
    "calling_window_start": F("hhmm"),
    "calling_window_end": F("hhmm"),
}

USER_FIELDS: dict[str, F] = {
    "id": F("uuid"),
    "email": F("email", required=True, max_len=254),
    "name": _s(200, required=True),
    "role": F("enum", enum=Role),
    "team": F("ref_team"),
    "timezone": F("zone"),
    "daily_capacity": F("int", min=0),
    "available": F("bool"),
    "backup": F("ref_user"),
    "territory": _s(64),
    "routing_weight": F("int", min=0),
    "db_role": _s(63),
}

LEAD_FIELDS: dict[str, F] = {
    "id": F("uuid"),
    "external_id": _s(120, required=True),
    "first_name": _s(120, required=True),
    "last_name": _s(120, required=True),
    "company": _s(200),
    "title": _s(200),
    "email": F("email", max_len=254),
    "phone": _s(64),
    "source": _s(64),
    "priority": F("int", min=1, max=4),
    "lead_class": F("enum", enum=LeadClass),
    "status": F("enum", enum=LeadStatus),
    "owner": F("ref_user"),
    "team": F("ref_team"),
    "created_at": F("time"),
    "assigned_at": F("time"),
    "acknowledged_at": F("time"),
    "first_action_at": F("time"),
    "last_action_at": F("time"),
    "next_step": _s(),
    "next_step_kind": F("enum", enum=NextStepKind),
    "next_step_at": F("time"),
    "snoozed_until": F("time"),
    "recycle_at": F("time"),
    "do_not_contact": F("bool"),
    "attempts": F("int", min=0),
    "score": F("int"),
    "timezone": _s(64),
    "country": _s(2),
    "state": _s(64),
    "territory": _s(64),
    "company_size": F("int", min=0),
    "product_interest": _s(120),
    "no_response_reason": F("enum", enum=NoResponseReason),
    "disqualify_reason": F("enum", enum=DisqualifyReason),
    "disqualify_note": _s(),
    "final_outcome": _s(200),
}

ACTIVITY_FIELDS: dict[str, F] = {
    "id": F("uuid"),
    "lead": F("ref_lead", required=True),
    "kind": F("enum", enum=ActivityKind),
    "direction": F("enum", enum=Direction),
    "outcome": F("enum", enum=CallOutcome),
    "at": F("time"),
    "author": F("ref_user"),
    "duration_s": F("int", min=0),
    "body": _s(),
}


class _Validator:
    """Turns the document into insertable rows, collecting every problem."""

    def __init__(self, doc: Any, existing: _Existing, now: datetime, new_id: IdFactory) -> None:
        self.doc = doc
        self.existing = existing
        self.now = now
        self.new_id = new_id
        self.problems: list[str] = []
        # Names the document defines, for references (value: id).
        self.team_ids: dict[str, uuid.UUID] = {}
        self.team_zone: dict[str, str] = {}
        self.user_ids: dict[str, uuid.UUID] = {}
        self.user_team: dict[str, uuid.UUID | None] = {}
        self.lead_ids: dict[str, uuid.UUID] = {}
        self.seen_ids: set[uuid.UUID] = set()

    def problem(self, where: str, message: str) -> None:
        self.problems.append(f"{where}: {message}")

    # -- one value -------------------------------------------------------------

    def value(self, where: str, spec: F, raw: Any) -> Any:
        """The checked Python value of one field (None when null)."""
        if raw is None:
            if spec.required:
                self.problem(where, "required, got null")
                return _BAD
            return None
        kind = spec.kind
        if kind in ("str", "ref_team", "ref_user", "ref_lead", "zone", "hhmm", "email",
                    "uuid", "time", "enum"):
            if not isinstance(raw, str):
                self.problem(where, f"expected text, got {_json_type(raw)} {raw!r}")
                return _BAD
            text = raw.strip()
            if spec.required and not text:
                self.problem(where, "required, got empty text")
                return _BAD
            if spec.max_len is not None and len(text) > spec.max_len:
                self.problem(where, f"longer than {spec.max_len} characters ({len(text)})")
                return _BAD
            if kind == "time":
                try:
                    return parse_instant(text)
                except ValueError as exc:
                    self.problem(where, str(exc))
                    return _BAD
            if kind == "enum":
                assert spec.enum is not None
                try:
                    return spec.enum(text)
                except ValueError:
                    allowed = ", ".join(m.value for m in spec.enum)
                    self.problem(where, f"{raw!r} is not one of: {allowed}")
                    return _BAD
            if kind == "email":
                try:
                    return normalize_email(text)
                except ValueError as exc:
                    self.problem(where, str(exc))
                    return _BAD
            if kind == "zone":
                if not valid_timezone(text):
                    self.problem(where, f"{raw!r} is not an IANA time zone (e.g. Europe/London)")
                    return _BAD
                return text
            if kind == "hhmm":
                if not _HHMM.match(text):
                    self.problem(where, f"{raw!r} is not a time of day HH:MM")
                    return _BAD
                return text
            if kind == "uuid":
                try:
                    return uuid.UUID(text)
                except ValueError:
                    self.problem(where, f"{raw!r} is not a UUID")
                    return _BAD
            if kind == "ref_user":
                return text.lower()
            return text if text else None
        if kind == "int":
            if isinstance(raw, bool) or not isinstance(raw, int):
                if isinstance(raw, float) and raw.is_integer():
                    raw = int(raw)
                else:
                    self.problem(where, f"expected a whole number, got {_json_type(raw)} {raw!r}")
                    return _BAD
            if ((spec.min is not None and raw < spec.min)
                    or (spec.max is not None and raw > spec.max)):
                bounds = (f"from {spec.min} to {spec.max}" if spec.max is not None
                          else f"at least {spec.min}")
                self.problem(where, f"{raw} is out of range (must be {bounds})")
                return _BAD
            return raw
        if kind == "bool":
            if not isinstance(raw, bool):
                self.problem(where, f"expected true or false, got {_json_type(raw)} {raw!r}")
                return _BAD
            return raw
        raise AssertionError(f"unknown field kind {kind}")

    def record(self, section: str, index: int, item: Any,
               fields: Mapping[str, F]) -> dict[str, Any] | None:
        """The checked fields of one record (absent fields missing), or None."""
        where = f"{section}[{index}]"
        if not isinstance(item, dict):
            self.problem(where, f"expected an object, got {_json_type(item)}")
            return None
        out: dict[str, Any] = {}
        for key in item:
            if key not in fields:
                self.problem(f"{where}.{key}", "unknown field (see docs/load-format.md)")
        for name, spec in fields.items():
            if name not in item:
                if spec.required:
                    self.problem(f"{where}.{name}", "required field is missing")
                    out[name] = _BAD
                continue
            out[name] = self.value(f"{where}.{name}", spec, item[name])
        if "id" in out and out["id"] not in (None, _BAD):
            if out["id"] in self.seen_ids or out["id"] in self.existing.ids:
                self.problem(f"{where}.id", f"id {out['id']} is used twice")
            self.seen_ids.add(out["id"])
        return out

    def section(self, name: str) -> list[Any]:
        items = self.doc.get(name, [])
        if items is None:
            return []
        if not isinstance(items, list):
            self.problem(name, f"expected a list, got {_json_type(items)}")
            return []
        return items

    def row_id(self, rec: dict[str, Any], at: datetime) -> uuid.UUID:
        given = rec.get("id")
        return given if isinstance(given, uuid.UUID) else self.new_id(at)

    # -- the sections ----------------------------------------------------------

    def run(self) -> _Rows:
        if not isinstance(self.doc, dict):
            self.problem("document", f"expected a JSON object with {', '.join(SECTIONS)}, "
                                     f"got {_json_type(self.doc)}")
            raise LoadError(self.problems)
        for key in self.doc:
            if key not in SECTIONS:
                self.problem(key, f"unknown section (expected {', '.join(SECTIONS)})")
        rows = _Rows()
        self.teams(rows)
        self.users(rows)
        leads = self.leads()
        activities = self.activities(rows)
        self.finish_leads(leads, activities, rows)
        if self.problems:
            raise LoadError(self.problems)
        return rows

    def teams(self, rows: _Rows) -> None:
        for i, item in enumerate(self.section("teams")):
            rec = self.record("teams", i, item, TEAM_FIELDS)
            if rec is None or _BAD in rec.values():
                continue
            name = rec["name"]
            if name in self.team_ids or name in self.existing.teams:
                self.problem(f"teams[{i}].name", f"team {name!r} is defined twice"
                             if name in self.team_ids else
                             f"a team {name!r} already exists in this database")
                continue
            tid = self.row_id(rec, self.now)
            self.team_ids[name] = tid
            self.team_zone[name] = rec.get("timezone") or "UTC"
            rows.teams.append({
                "id": tid, "name": name, "timezone": rec.get("timezone") or "UTC",
                "calling_window_start": rec.get("calling_window_start") or "08:00",
                "calling_window_end": rec.get("calling_window_end") or "20:00",
                "version": 1, "updated_at": self.now,
            })

    def team_ref(self, where: str, name: str | None) -> uuid.UUID | None:
        if name is None:
            return None
        if name in self.team_ids:
            return self.team_ids[name]
        if name in self.existing.teams:
            return self.existing.teams[name][0]
        self.problem(where, f"no team {name!r}")
        return _BAD

    def user_ref(self, where: str, email: str | None) -> uuid.UUID | None:
        if email is None:
            return None
        if email in self.user_ids:
            return self.user_ids[email]
        if email in self.existing.users:
            return self.existing.users[email][0]
        self.problem(where, f"no user {email!r}")
        return _BAD

    def users(self, rows: _Rows) -> None:
        recs: list[tuple[int, dict[str, Any]]] = []
        for i, item in enumerate(self.section("users")):
            rec = self.record("users", i, item, USER_FIELDS)
            if rec is None:
                continue
            email = rec.get("email")
            if email not in (None, _BAD):
                if email in self.user_ids or email in self.existing.users:
                    self.problem(f"users[{i}].email", f"user {email!r} is defined twice"
                                 if email in self.user_ids else
                                 f"a user {email!r} already exists in this database")
                    continue
                self.user_ids[email] = self.row_id(rec, self.now)
            recs.append((i, rec))
        # Second pass: backups may name a user defined further down.
        for i, rec in recs:
            where = f"users[{i}]"
            team_id = self.team_ref(f"{where}.team", rec.get("team")) \
                if rec.get("team") is not _BAD else _BAD
            backup_id = self.user_ref(f"{where}.backup", rec.get("backup")) \
                if rec.get("backup") is not _BAD else _BAD
            if rec.get("backup") is not None and rec.get("backup") == rec.get("email"):
                self.problem(f"{where}.backup", "a user cannot be their own backup")
                backup_id = _BAD
            if _BAD in rec.values() or _BAD in (team_id, backup_id):
                continue
            email = rec["email"]
            self.user_team[email] = team_id
            zone = rec.get("timezone") or self.team_zone.get(rec.get("team") or "") or (
                self.existing.teams[rec["team"]][1] if rec.get("team") in self.existing.teams
                else None)
            rows.users.append({
                "id": self.user_ids[email], "email": email, "name": rec["name"],
                "role": rec.get("role") or Role.REP, "team_id": team_id,
                "territory": rec.get("territory"),
                "daily_capacity": _default(rec.get("daily_capacity"), 20),
                "available": _default(rec.get("available"), True),
                "timezone": zone, "db_role": rec.get("db_role"),
                "routing_weight": _default(rec.get("routing_weight"), 1),
                "version": 1, "updated_at": self.now,
            })
            if backup_id is not None:
                rows.backups.append({"id": self.user_ids[email], "backup_id": backup_id})

    def leads(self) -> list[tuple[int, dict[str, Any]]]:
        recs = []
        for i, item in enumerate(self.section("leads")):
            rec = self.record("leads", i, item, LEAD_FIELDS)
            if rec is None:
                continue
            ext = rec.get("external_id")
            if ext not in (None, _BAD):
                if ext in self.lead_ids or ext in self.existing.leads:
                    self.problem(f"leads[{i}].external_id",
                                 f"duplicate external_id {ext!r}" if ext in self.lead_ids else
                                 f"a lead {ext!r} already exists in this database")
                    rec["external_id"] = _BAD
                else:
                    # The id is made once the lead's created_at is known.
                    self.lead_ids[ext] = uuid.UUID(int=0)
            recs.append((i, rec))
        return recs

    def activities(self, rows: _Rows) -> list[tuple[str, dict[str, Any]]]:
        out = []
        for i, item in enumerate(self.section("activities")):
            where = f"activities[{i}]"
            rec = self.record("activities", i, item, ACTIVITY_FIELDS)
            if rec is None:
                continue
            lead = rec.get("lead")
            if lead not in (None, _BAD) and lead not in self.lead_ids \
                    and lead not in self.existing.leads:
                self.problem(f"{where}.lead", f"no lead with external_id {lead!r}")
                rec["lead"] = _BAD
            author_id = self.user_ref(f"{where}.author", rec.get("author")) \
                if rec.get("author") is not _BAD else _BAD
            kind = rec.get("kind") or ActivityKind.NOTE
            if rec.get("outcome") not in (None, _BAD) and kind is not ActivityKind.CALL:
                self.problem(f"{where}.outcome", f"an outcome is for calls only, not {kind.value}")
                rec["outcome"] = _BAD
            if _BAD in rec.values() or author_id is _BAD:
                continue
            rec["kind"] = kind
            rec["direction"] = rec.get("direction") or Direction.OUTBOUND
            rec["at"] = rec.get("at") or self.now
            rec["author_id"] = author_id
            out.append((rec["lead"], rec))
        return out

    def finish_leads(self, leads: list[tuple[int, dict[str, Any]]],
                     activities: list[tuple[str, dict[str, Any]]], rows: _Rows) -> None:
        touches: dict[str, list[datetime]] = {}
        for ext, rec in activities:
            if rec["kind"] in TOUCH_KINDS and rec["direction"] is Direction.OUTBOUND:
                touches.setdefault(ext, []).append(rec["at"])
        for i, rec in leads:
            where = f"leads[{i}]"
            owner = rec.get("owner")
            owner_id = self.user_ref(f"{where}.owner", owner) if owner is not _BAD else _BAD
            team = rec.get("team")
            if team is None and owner not in (None, _BAD):
                team_id = self.user_team.get(owner, None) if owner in self.user_team else (
                    self.existing.users[owner][1] if owner in self.existing.users else None)
            else:
                team_id = self.team_ref(f"{where}.team", team) if team is not _BAD else _BAD
            if _BAD in rec.values() or _BAD in (owner_id, team_id):
                continue
            created_at = rec.get("created_at") or self.now
            lead_id = self.row_id(rec, created_at)
            ext = rec["external_id"]
            self.lead_ids[ext] = lead_id
            times = sorted(touches.get(ext, ()))
            contact = _contact_fields(rec)
            rows.leads.append({
                "id": lead_id, "external_id": ext,
                "first_name": rec["first_name"], "last_name": rec["last_name"],
                "company": rec.get("company"), "title": rec.get("title"),
                "email": rec.get("email"), "source": rec.get("source"),
                "owner_id": owner_id, "team_id": team_id,
                "priority": _default(rec.get("priority"), 3),
                "lead_class": rec.get("lead_class") or LeadClass.QUALIFICATION_NEEDED,
                "status": rec.get("status") or LeadStatus.NEW,
                "created_at": created_at,
                "assigned_at": rec.get("assigned_at") or (created_at if owner_id else None),
                "acknowledged_at": rec.get("acknowledged_at"),
                "first_action_at": rec.get("first_action_at") or (times[0] if times else None),
                "last_action_at": rec.get("last_action_at") or (times[-1] if times else None),
                "next_step": rec.get("next_step"),
                "next_step_kind": rec.get("next_step_kind"),
                "next_step_at": rec.get("next_step_at"),
                "snoozed_until": rec.get("snoozed_until"),
                "recycle_at": rec.get("recycle_at"),
                "do_not_contact": _default(rec.get("do_not_contact"), False),
                "attempts": _default(rec.get("attempts"), len(times)),
                "no_response_reason": rec.get("no_response_reason"),
                "disqualify_reason": rec.get("disqualify_reason"),
                "disqualify_note": rec.get("disqualify_note"),
                "final_outcome": rec.get("final_outcome"),
                "score": _default(rec.get("score"), 0),
                "score_breakdown": [],
                "state": rec.get("state"), "territory": rec.get("territory"),
                "company_size": rec.get("company_size"),
                "product_interest": rec.get("product_interest"),
                "version": 1, "updated_at": self.now,
                **contact,
            })
        for ext, rec in activities:
            lead_id = self.lead_ids.get(ext) or self.existing.leads.get(ext)
            if lead_id is None or lead_id.int == 0:
                continue  # its lead had problems, already reported
            rows.activities.append({
                "id": self.row_id(rec, rec["at"]), "lead_id": lead_id,
                "kind": rec["kind"], "direction": rec["direction"],
                "outcome": rec.get("outcome"), "at": rec["at"], "author_id": rec["author_id"],
                "duration_s": rec.get("duration_s"), "body": rec.get("body"),
                "created_at": rec["at"],
            })


def _contact_fields(rec: dict[str, Any]) -> dict[str, Any]:
    """Phone, time zone, country and the data-issue flags of one lead."""
    raw_phone = rec.get("phone")
    country = rec.get("country")
    country = country.upper() if country else None
    result, zone, issues = phone_and_zone(raw_phone, country, rec.get("timezone"))
    return {
        "phone": result.e164 or raw_phone,
        "phone_display": result.display,
        "timezone": zone,
        "country": country or result.region,
        "data_issues": issues,
    }


def _default(value: Any, default: Any) -> Any:
    return default if value is None else value


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


class _Rows:
    def __init__(self) -> None:
        self.teams: list[dict[str, Any]] = []
        self.users: list[dict[str, Any]] = []
        self.backups: list[dict[str, Any]] = []
        self.leads: list[dict[str, Any]] = []
        self.activities: list[dict[str, Any]] = []


@dataclass
class _Existing:
    """What the database already holds that the document may refer to."""

    teams: dict[str, tuple[uuid.UUID, str]]
    users: dict[str, tuple[uuid.UUID, uuid.UUID | None]]
    leads: dict[str, uuid.UUID]
    ids: set[uuid.UUID]

    @classmethod
    def read(cls, session: Session) -> _Existing:
        from sqlalchemy import select

        from .model import Lead, Team, User

        teams = {n: (i, z) for i, n, z in session.execute(
            select(Team.id, Team.name, Team.timezone))}
        users = {e.lower(): (i, t) for i, e, t in session.execute(
            select(User.id, User.email, User.team_id))}
        leads = {x: i for i, x in session.execute(
            select(Lead.id, Lead.external_id).where(Lead.external_id.is_not(None)))}
        ids = {t[0] for t in teams.values()} | {u[0] for u in users.values()} | set(
            leads.values())
        return cls(teams, users, leads, ids)


def _default_id(_at: datetime) -> uuid.UUID:
    from .ids import uuid7

    return uuid7()


def load_document(engine: Engine, doc: Any, *, now: datetime,
                  new_id: IdFactory | None = None) -> LoadReport:
    """Validate ``doc`` completely, then write it in one transaction.

    Raises :class:`LoadError` listing every problem; nothing is written then.
    ``now`` is the default for absent times (``created_at``, activity ``at``).
    """
    from sqlalchemy import insert, update

    from .model import Activity, Lead, Team, User
    from .store import session_scope

    if now.tzinfo is None:
        raise ValueError("load_document needs an aware 'now'")
    with session_scope(engine) as session:
        rows = _Validator(doc, _Existing.read(session), now, new_id or _default_id).run()
        if rows.teams:
            session.execute(insert(Team), rows.teams)
        if rows.users:
            session.execute(insert(User), rows.users)
        if rows.backups:
            session.execute(update(User), rows.backups)
        if rows.leads:
            session.execute(insert(Lead), rows.leads)
        if rows.activities:
            session.execute(insert(Activity), rows.activities)
    return LoadReport(
        teams=len(rows.teams), users=len(rows.users), leads=len(rows.leads),
        activities=len(rows.activities),
        pool=sum(1 for r in rows.leads if r["owner_id"] is None),
        flagged=sum(1 for r in rows.leads if r["data_issues"]),
    )
