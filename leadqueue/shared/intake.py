"""Intake: new leads into the shared database, normalised, de-duplicated,
classified and routed.

Three doors, one path:

- ``leadqueue intake --db URL --json FILE`` (:func:`intake_payloads`), one
  object or a list;
- ``leadqueue import-csv`` (:mod:`leadqueue.shared.csv_import`), which maps
  columns to the same fields;
- rows another system inserts into the ``intake`` table (``payload`` is the
  same JSON object), processed by :func:`process_intake`, which the worker
  calls (an insert there NOTIFYs ``lq_intake`` so the worker wakes at once).

Each item is checked field by field (the intake format is
:data:`FIELDS`); a bad item is rejected with every problem named by field and
the rest of the batch goes on. Each accepted item is written inside its own
savepoint, so an item is either fully written (lead, note, routing
explanation, audit entry, fairness state) or not at all.

For an accepted item: phone to E.164 (with the lead's country as the default
region), email lower-cased, time zone from the payload, the phone or the
country; then a duplicate check against existing leads by email, phone or
external id (a duplicate becomes an inbound note on the existing lead and a
notification to its owner, or to the team leads for a pool lead); otherwise
the lead is classified (:mod:`leadqueue.rules.classify`), scored, given its
SLA deadline and routed (:mod:`leadqueue.shared.routing_store`).

Concurrency: the batch locks its routing rules and reps (see
``routing_store``) and then its contact keys, all in one fixed order, before
it looks for duplicates; two workers handed the same person at once make one
lead and one duplicate note, never two leads.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ..clock import parse_instant
from ..contact import PREFERRED_ZONES, normalize_email, normalize_phone, valid_timezone
from ..enums import DataIssue, LeadClass
from ..rules.classify import INQUIRIES, classify
from ..rules.routing import LeadFacts, RoutingDecision

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

    from .routing_store import Router

#: A lead's free-text message (kept as an inbound note) may be this long.
MAX_MESSAGE = 5000
#: Items per transaction when processing a list or the intake table.
BATCH = 200


@dataclass(frozen=True)
class Field:
    kind: str  # text, email, phone, int, class, inquiry, zone, country, instant
    required: bool = False
    max_len: int | None = None
    min: int | None = None
    max: int | None = None


#: The intake format: every field a payload may carry.
FIELDS: dict[str, Field] = {
    "external_id": Field("text", max_len=120),
    "first_name": Field("text", required=True, max_len=120),
    "last_name": Field("text", required=True, max_len=120),
    "email": Field("email", max_len=254),
    "phone": Field("phone", max_len=64),
    "company": Field("text", max_len=200),
    "title": Field("text", max_len=200),
    "source": Field("text", max_len=64),
    "country": Field("country", max_len=64),
    "state": Field("text", max_len=64),
    "territory": Field("text", max_len=64),
    "company_size": Field("int", min=0, max=10_000_000),
    "product_interest": Field("text", max_len=120),
    "lead_class": Field("class", max_len=32),
    "priority": Field("int", min=1, max=4),
    "timezone": Field("zone", max_len=64),
    "team": Field("text", max_len=120),
    "inquiry": Field("inquiry", max_len=32),
    "message": Field("text", max_len=MAX_MESSAGE),
    "created_at": Field("instant", max_len=64),
}
INT_FIELDS = frozenset(k for k, f in FIELDS.items() if f.kind == "int")


@dataclass(frozen=True)
class FieldProblem:
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class IntakeRejected(ValueError):
    """An item failed its checks; ``problems`` names each field."""

    def __init__(self, problems: Sequence[FieldProblem]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(str(p) for p in self.problems))


@dataclass(frozen=True)
class NewLead:
    """One checked and normalised intake item."""

    first_name: str
    last_name: str
    created_at: datetime
    external_id: str | None = None
    email: str | None = None
    phone: str | None = None
    #: The phone as people read it, stored beside the E.164 text (leads.phone_display).
    phone_display: str | None = None
    company: str | None = None
    title: str | None = None
    source: str | None = None
    country: str | None = None
    state: str | None = None
    territory: str | None = None
    company_size: int | None = None
    product_interest: str | None = None
    lead_class: LeadClass | None = None
    priority: int | None = None
    timezone: str | None = None
    team: str | None = None
    inquiry: str | None = None
    message: str | None = None
    data_issues: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def contact_keys(self) -> list[str]:
        keys = []
        if self.email:
            keys.append(f"e:{self.email}")
        if self.phone:
            keys.append(f"p:{self.phone}")
        if self.external_id:
            keys.append(f"x:{self.external_id}")
        return keys


def _shown(raw: Any) -> str:
    text = raw if isinstance(raw, str) else json.dumps(raw, default=str)
    return repr(text if len(text) <= 60 else text[:57] + "...")


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


_COUNTRY = re.compile(r"^[A-Za-z]{2}$")


def parse_payload(payload: Any, *, now: datetime, default_source: str | None = None) -> NewLead:
    """Check and normalise one intake item; :class:`IntakeRejected` names every problem."""
    import phonenumbers

    if not isinstance(payload, Mapping):
        raise IntakeRejected([FieldProblem("item", f"expected a JSON object, got "
                                                   f"{_json_type(payload)}")])
    problems: list[FieldProblem] = []
    values: dict[str, Any] = {}
    for key in payload:
        if key not in FIELDS:
            shown = key if len(str(key)) <= 40 else str(key)[:37] + "..."
            problems.append(FieldProblem(str(shown), "unknown field (known: "
                                         f"{', '.join(FIELDS)})"))
    for name, spec in FIELDS.items():
        raw = payload.get(name)
        if isinstance(raw, str):
            raw = raw.strip() or None
        if raw is None:
            if spec.required:
                problems.append(FieldProblem(name, "required field is missing"
                                             if name not in payload else "required, got nothing"))
            continue
        if spec.kind == "int":
            if isinstance(raw, bool) or not isinstance(raw, (int, float)) or (
                    isinstance(raw, float) and not raw.is_integer()):
                problems.append(FieldProblem(name, f"expected a whole number, got "
                                                   f"{_json_type(raw)} {_shown(raw)}"))
                continue
            value = int(raw)
            if (spec.min is not None and value < spec.min) or (
                    spec.max is not None and value > spec.max):
                problems.append(FieldProblem(name, f"{value} is out of range "
                                                   f"({spec.min} to {spec.max})"))
                continue
            values[name] = value
            continue
        if not isinstance(raw, str):
            problems.append(FieldProblem(name, f"expected text, got {_json_type(raw)}"))
            continue
        if spec.max_len is not None and len(raw) > spec.max_len:
            problems.append(FieldProblem(name, f"longer than {spec.max_len} characters "
                                               f"({len(raw)})"))
            continue
        values[name] = raw
    # Kinds that need a value to check.
    if "email" in values:
        try:
            values["email"] = normalize_email(values["email"])
        except ValueError as exc:
            problems.append(FieldProblem("email", str(exc)))
            del values["email"]
    if "country" in values:
        country = values["country"].upper()
        if not _COUNTRY.match(country) or country not in phonenumbers.SUPPORTED_REGIONS:
            problems.append(FieldProblem("country", f"{_shown(values['country'])} is not an "
                                                    "ISO 3166 country code (e.g. US, GB, DE)"))
            del values["country"]
        else:
            values["country"] = country
    if "lead_class" in values:
        try:
            values["lead_class"] = LeadClass(values["lead_class"])
        except ValueError:
            problems.append(FieldProblem("lead_class", f"{_shown(values['lead_class'])} is not "
                                         f"one of {', '.join(c.value for c in LeadClass)}"))
            del values["lead_class"]
    if "inquiry" in values:
        values["inquiry"] = values["inquiry"].lower()
        if values["inquiry"] not in INQUIRIES:
            problems.append(FieldProblem("inquiry", f"{_shown(values['inquiry'])} is not one of "
                                                    f"{', '.join(INQUIRIES)}"))
            del values["inquiry"]
    if "timezone" in values and not valid_timezone(values["timezone"]):
        problems.append(FieldProblem("timezone", f"{_shown(values['timezone'])} is not an IANA "
                                                 "time zone (e.g. Europe/London)"))
        del values["timezone"]
    if "created_at" in values:
        try:
            created = parse_instant(values["created_at"])
        except ValueError as exc:
            problems.append(FieldProblem("created_at", str(exc)))
        else:
            if created > now + timedelta(minutes=5):
                problems.append(FieldProblem("created_at", f"{values['created_at']} is in the "
                                                           "future"))
            values["created_at"] = created
    issues: list[str] = []
    zone: str | None = values.get("timezone")
    if "phone" in values:
        result = normalize_phone(values["phone"], values.get("country"))
        if result.e164 is None:
            hint = ("" if values["phone"].startswith("+") or values.get("country")
                    else " (write it with +country code, or give the country)")
            problems.append(FieldProblem("phone", f"{_shown(values['phone'])} is not a valid "
                                                  f"phone number{hint}"))
            del values["phone"]
        else:
            values["phone"] = result.e164
            values["phone_display"] = result.display
            values.setdefault("country", result.region)
            zone = zone or result.timezone
    if not values.get("email") and not values.get("phone") \
            and not any(p.field in ("email", "phone") for p in problems):
        problems.append(FieldProblem("email", "an email or a phone is required "
                                              "(a lead nobody can contact is no lead)"))
    if problems:
        raise IntakeRejected(problems)
    if zone is None:
        zone, guessed = _zone_of_country(values.get("country"))
        if zone is None or guessed:
            issues.append(DataIssue.TIMEZONE_UNKNOWN.value)
    if "source" not in values and default_source:
        values["source"] = default_source[:64]
    return NewLead(
        first_name=values["first_name"], last_name=values["last_name"],
        created_at=values.get("created_at") or now, external_id=values.get("external_id"),
        email=values.get("email"), phone=values.get("phone"),
        phone_display=values.get("phone_display"), company=values.get("company"),
        title=values.get("title"), source=values.get("source"), country=values.get("country"),
        state=values.get("state"), territory=values.get("territory"),
        company_size=values.get("company_size"),
        product_interest=values.get("product_interest"),
        lead_class=values.get("lead_class"), priority=values.get("priority"), timezone=zone,
        team=values.get("team"), inquiry=values.get("inquiry"), message=values.get("message"),
        data_issues=tuple(issues))


def _zone_of_country(country: str | None) -> tuple[str | None, bool]:
    """(zone, guessed): a country's zone; guessed when the country has several."""
    if not country:
        return None, False
    import phonenumbers

    from ..contact import zone_for_number

    preferred = PREFERRED_ZONES.get(country)
    if preferred:
        return preferred[0], True
    number = phonenumbers.example_number_for_type(country,
                                                  phonenumbers.PhoneNumberType.FIXED_LINE)
    if number is None:
        return None, False
    from phonenumbers import timezone as phone_timezone

    zones = phone_timezone.time_zones_for_number(number)
    return zone_for_number(number), len(zones) > 1


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class ItemResult:
    """What happened to one item."""

    index: int
    outcome: str  # created, duplicate, rejected
    lead_id: uuid.UUID | None = None
    problems: tuple[FieldProblem, ...] = ()
    summary: str = ""
    owner_id: uuid.UUID | None = None
    team_id: uuid.UUID | None = None
    intake_id: uuid.UUID | None = None

    @property
    def error(self) -> str | None:
        return "; ".join(str(p) for p in self.problems) or None

    def line(self) -> str:
        where = f"#{self.index}"
        if self.outcome == "rejected":
            return f"{where} rejected: {self.error}"
        if self.outcome == "duplicate":
            return f"{where} duplicate of lead {self.lead_id}: {self.summary}"
        return f"{where} created lead {self.lead_id}: {self.summary}"

    def as_json(self) -> dict[str, Any]:
        return {"index": self.index, "outcome": self.outcome,
                "lead_id": str(self.lead_id) if self.lead_id else None,
                "owner_id": str(self.owner_id) if self.owner_id else None,
                "team_id": str(self.team_id) if self.team_id else None,
                "summary": self.summary,
                "problems": [{"field": p.field, "message": p.message} for p in self.problems]}


@dataclass
class IntakeSummary:
    created: int = 0
    duplicates: int = 0
    rejected: int = 0
    items: list[ItemResult] = field(default_factory=list)

    def add(self, result: ItemResult) -> None:
        self.items.append(result)
        if result.outcome == "created":
            self.created += 1
        elif result.outcome == "duplicate":
            self.duplicates += 1
        else:
            self.rejected += 1

    @property
    def total(self) -> int:
        return self.created + self.duplicates + self.rejected

    def line(self) -> str:
        return (f"{self.total} item{'s' if self.total != 1 else ''}: {self.created} created, "
                f"{self.duplicates} duplicate{'s' if self.duplicates != 1 else ''}, "
                f"{self.rejected} rejected")


# --------------------------------------------------------------------------- one batch


@dataclass(frozen=True)
class _Item:
    index: int
    payload: Any
    received_at: datetime
    source_system: str | None = None
    intake_id: uuid.UUID | None = None


@dataclass(frozen=True)
class Existing:
    id: uuid.UUID
    name: str
    owner_id: uuid.UUID | None
    team_id: uuid.UUID | None
    matched_on: str


class SlaBook:
    """First-response targets by (team, priority): the team's policy, else the
    default (team null) one, else the playbook's defaults (P1 5 min, P2 1 h,
    P3 24 h, P4 none)."""

    def __init__(self, conn: Connection) -> None:
        from sqlalchemy import text

        self._rows = {(r["team_id"], r["priority"]): r for r in conn.execute(text(
            "SELECT * FROM sla_policies WHERE deleted_at IS NULL")).mappings()}
        self._tz = {r.id: r.timezone for r in conn.execute(text(
            "SELECT id, timezone FROM teams"))}

    def target(self, team_id: uuid.UUID | None, priority: int) -> Any:
        from ..rules.sla import DEFAULT_TARGET_MINUTES, BusinessHours, SlaTarget

        row = self._rows.get((team_id, priority)) or self._rows.get((None, priority))
        if row is None:
            return SlaTarget(priority, DEFAULT_TARGET_MINUTES.get(priority))
        hours = None
        if row["business_hours_only"]:
            try:
                hours = BusinessHours.from_policy(
                    row.get("timezone") or self._tz.get(team_id) or "UTC",
                    row["working_days"], row["work_start"], row["work_end"],
                    row["holidays"] or [])
            except (ValueError, TypeError):
                hours = None  # an unusable calendar: count around the clock
        return SlaTarget(priority, row["first_response_minutes"], hours)


class _Batch:
    """Processes items inside one transaction on ``conn`` (savepoint per item)."""

    def __init__(self, conn: Connection, now: datetime, *, dry_run: bool = False) -> None:
        from sqlalchemy import text

        from .routing_store import Router

        self.conn = conn
        self.now = now
        self.dry_run = dry_run
        self.router: Router = Router(conn, now, dry_run=dry_run)
        self.teams = {r.name: r.id for r in conn.execute(text(
            "SELECT id, name FROM teams WHERE deleted_at IS NULL"))}
        self.sla = SlaBook(conn)

    def parse(self, item: _Item) -> tuple[NewLead | None, ItemResult | None]:
        try:
            lead = parse_payload(item.payload, now=self.now, default_source=item.source_system)
        except IntakeRejected as exc:
            return None, ItemResult(item.index, "rejected", problems=exc.problems,
                                    intake_id=item.intake_id)
        if lead.team is not None and lead.team not in self.teams:
            return None, ItemResult(item.index, "rejected", problems=(
                FieldProblem("team", f"no team {lead.team!r}"),), intake_id=item.intake_id)
        if item.payload.get("created_at") is None and item.received_at != self.now:
            # Speed-to-lead counts from when the inquiry arrived, not from processing.
            from dataclasses import replace

            lead = replace(lead, created_at=min(item.received_at, self.now))
        return lead, None

    def facts(self, lead: NewLead) -> tuple[LeadFacts, Any]:
        """Routing facts (with the lead's class) and the classification."""
        base = LeadFacts(
            country=lead.country, state=lead.state, territory=lead.territory,
            company_size=lead.company_size, product_interest=lead.product_interest,
            source=lead.source, email=lead.email, company=lead.company,
            team_id=self.teams.get(lead.team) if lead.team else None)
        account = self.router.book.account_index.find(base)
        cls = classify(given_class=lead.lead_class, given_priority=lead.priority,
                       inquiry=lead.inquiry,
                       existing_account=account.company if account else None)
        from dataclasses import replace

        return replace(base, lead_class=cls.lead_class.value), cls

    def run(self, items: Sequence[_Item]) -> list[ItemResult]:
        parsed: list[tuple[_Item, NewLead, LeadFacts, Any]] = []
        results: dict[int, ItemResult] = {}
        for item in items:
            lead, rejected = self.parse(item)
            if rejected is not None:
                results[item.index] = rejected
                continue
            assert lead is not None
            facts, cls = self.facts(lead)
            parsed.append((item, lead, facts, cls))
        self.router.prepare([f for _, _, f, _ in parsed],
                            contact_keys=[k for _, lead, _, _ in parsed
                                          for k in lead.contact_keys()])
        for item, lead, facts, cls in parsed:
            results[item.index] = self.one(item, lead, facts, cls)
        self.router.flush()
        return [results[i.index] for i in items]

    def one(self, item: _Item, lead: NewLead, facts: LeadFacts, cls: Any) -> ItemResult:
        from sqlalchemy.exc import DBAPIError

        snapshot = self.router.snapshot()
        savepoint = self.conn.begin_nested()
        try:
            existing = self.find_existing(lead)
            if existing is not None:
                result = self.duplicate(item, lead, existing)
            else:
                result = self.create(item, lead, facts, cls)
            savepoint.commit()
            return result
        except DBAPIError as exc:
            savepoint.rollback()
            self.router.restore(snapshot)
            message = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
            return ItemResult(item.index, "rejected", problems=(
                FieldProblem("item", f"the database refused it: {message}"),),
                intake_id=item.intake_id)

    def find_existing(self, lead: NewLead) -> Existing | None:
        from sqlalchemy import text

        row = self.conn.execute(text(
            "SELECT id, first_name, last_name, owner_id, team_id, email, phone, external_id "
            "FROM leads WHERE deleted_at IS NULL AND merged_into_id IS NULL AND ("
            "email = :email OR phone = :phone OR external_id = :ext) "
            "ORDER BY created_at, id LIMIT 1"),
            {"email": lead.email, "phone": lead.phone, "ext": lead.external_id}).first()
        if row is None:
            return None
        on = ("external id" if lead.external_id and row.external_id == lead.external_id else
              "email" if lead.email and row.email == lead.email else "phone")
        return Existing(row.id, f"{row.first_name} {row.last_name}".strip(), row.owner_id,
                        row.team_id, on)

    def duplicate(self, item: _Item, lead: NewLead, existing: Existing) -> ItemResult:
        from sqlalchemy import insert, text

        from ..enums import ActivityKind, Direction, NotificationLevel
        from ..ids import uuid7
        from ..model import Activity, Notification

        source = lead.source or item.source_system or "intake"
        details = [f"New inquiry via {source} (same {existing.matched_on})."]
        for label, value in (("Name", lead.name), ("Email", lead.email),
                             ("Phone", lead.phone), ("Company", lead.company),
                             ("Inquiry", lead.inquiry), ("Message", lead.message)):
            if value:
                details.append(f"{label}: {value}")
        body = "\n".join(details)
        summary = f"same {existing.matched_on} as {existing.name}; noted on that lead"
        if self.dry_run:
            return ItemResult(item.index, "duplicate", existing.id, summary=summary,
                              owner_id=existing.owner_id, team_id=existing.team_id)
        activity_id = uuid7()
        self.conn.execute(insert(Activity.__table__).values(
            id=activity_id, lead_id=existing.id, kind=ActivityKind.NOTE.value,
            direction=Direction.INBOUND.value, at=lead.created_at, author_id=None,
            body=body, created_at=self.now))
        if existing.owner_id is not None:
            recipients = [existing.owner_id]
        else:
            recipients = [r.id for r in self.conn.execute(text(
                "SELECT id FROM users WHERE team_id = :team AND role = 'team_lead' "
                "AND NOT disabled AND deleted_at IS NULL"), {"team": existing.team_id})]
        level = (NotificationLevel.URGENT if lead.inquiry in ("demo", "pricing", "call")
                 else NotificationLevel.NORMAL)
        for recipient in recipients:
            self.conn.execute(insert(Notification.__table__).values(
                id=uuid7(), version=1, recipient_id=recipient, lead_id=existing.id,
                level=level.value, title=f"Returning lead: {existing.name}"[:200], body=body,
                created_at=self.now, updated_at=self.now,
                dedupe_key=f"intake_duplicate:{activity_id}:{recipient}"[:200]))
            self.conn.execute(text("SELECT pg_notify(lq_rep_channel(:who), :payload)"), {
                "who": recipient,
                "payload": json.dumps({"lead_id": str(existing.id), "event": "duplicate"})})
        return ItemResult(item.index, "duplicate", existing.id, summary=summary,
                          owner_id=existing.owner_id, team_id=existing.team_id,
                          intake_id=item.intake_id)

    def create(self, item: _Item, lead: NewLead, facts: LeadFacts, cls: Any) -> ItemResult:
        from sqlalchemy import insert

        from ..enums import ActivityKind, Direction, LeadStatus
        from ..ids import uuid7
        from ..model import Activity, Lead
        from ..rules.scoring import ScoreFacts, score_lead
        from ..rules.sla import first_response_deadline

        decision: RoutingDecision = self.router.decide(facts)
        team_id = decision.team_id or facts.team_id
        score = score_lead(ScoreFacts(cls.lead_class, 0, (), 0))
        target = self.sla.target(team_id, cls.priority)
        explanation = decision.explanation(self.router.book)
        explanation["classification"] = {"class": cls.lead_class.value,
                                         "priority": cls.priority, "why": cls.reason}
        lead_id = uuid7()
        if self.dry_run:
            return ItemResult(item.index, "created", None, summary=decision.summary,
                              owner_id=decision.owner_id, team_id=team_id)
        self.conn.execute(insert(Lead.__table__).values(
            id=lead_id, version=1, updated_at=self.now, external_id=lead.external_id,
            first_name=lead.first_name, last_name=lead.last_name, company=lead.company,
            title=lead.title, email=lead.email, phone=lead.phone,
            phone_display=lead.phone_display, source=lead.source, owner_id=decision.owner_id,
            team_id=team_id, account_id=decision.account_id,
            priority=cls.priority, lead_class=cls.lead_class.value,
            status=LeadStatus.NEW.value, created_at=lead.created_at,
            assigned_at=self.now if decision.owner_id else None,
            score=score.score, score_breakdown=score.breakdown, timezone=lead.timezone,
            country=lead.country, state=lead.state, territory=lead.territory,
            company_size=lead.company_size, product_interest=lead.product_interest,
            data_issues=list(lead.data_issues), routing_explanation=explanation,
            sla_due_at=first_response_deadline(lead.created_at, target)))
        if lead.message:
            self.conn.execute(insert(Activity.__table__).values(
                id=uuid7(), lead_id=lead_id, kind=ActivityKind.NOTE.value,
                direction=Direction.INBOUND.value, at=lead.created_at, author_id=None,
                body=lead.message, created_at=self.now))
        self.router.record(lead_id, decision)
        return ItemResult(item.index, "created", lead_id, summary=decision.summary,
                          owner_id=decision.owner_id, team_id=team_id,
                          intake_id=item.intake_id)


# --------------------------------------------------------------------------- the doors


def _batches(items: Sequence[_Item], size: int) -> Iterable[Sequence[_Item]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def intake_payloads(engine: Engine, payloads: Sequence[Any], *, now: datetime,
                    source_system: str | None = None, batch_size: int = BATCH,
                    progress: Any = None) -> IntakeSummary:
    """Take in a list of payloads (``leadqueue intake`` / ``import-csv``).

    Each batch is one transaction with a savepoint per item; results keep the
    payloads' order and indexes.
    """
    if now.tzinfo is None:
        raise ValueError("intake needs an aware 'now'")
    items = [_Item(i, p, now, source_system) for i, p in enumerate(payloads)]
    summary = IntakeSummary()
    for chunk in _batches(items, batch_size):
        with engine.begin() as conn:
            for result in _Batch(conn, now).run(chunk):
                summary.add(result)
        if progress is not None:
            progress(summary.total, len(items))
    return summary


def dry_run(engine: Engine, payload: Any, *, now: datetime) -> tuple[ItemResult, dict[str, Any]]:
    """Where ``payload`` would go and why; nothing is written (the transaction
    is rolled back and no locks are taken). Returns the result and the
    explanation that would be stored."""
    with engine.connect() as conn:
        trans = conn.begin()
        try:
            batch = _Batch(conn, now, dry_run=True)
            item = _Item(0, payload, now, "dry-run")
            lead, rejected = batch.parse(item)
            if rejected is not None:
                return rejected, {}
            assert lead is not None
            facts, cls = batch.facts(lead)
            existing = batch.find_existing(lead)
            if existing is not None:
                result = batch.duplicate(item, lead, existing)
                return result, {"duplicate_of": {"lead_id": str(existing.id),
                                                 "name": existing.name,
                                                 "matched_on": existing.matched_on}}
            decision = batch.router.decide(facts)
            explanation = decision.explanation(batch.router.book)
            explanation["classification"] = {"class": cls.lead_class.value,
                                             "priority": cls.priority, "why": cls.reason}
            return ItemResult(0, "created", None, summary=decision.summary,
                              owner_id=decision.owner_id,
                              team_id=decision.team_id or facts.team_id), explanation
        finally:
            trans.rollback()


def process_intake(engine: Engine, now: datetime, *, batch_size: int = BATCH,
                   max_batches: int | None = None) -> IntakeSummary:
    """Process rows other systems inserted into ``intake``; the worker calls this.

    Rows are taken with ``FOR UPDATE SKIP LOCKED`` (several workers share the
    work) and marked processed in the same transaction as their lead, so a
    crash leaves them pending and the next pass does them; none is done twice.
    """
    from sqlalchemy import text

    if now.tzinfo is None:
        raise ValueError("process_intake needs an aware 'now'")
    summary = IntakeSummary()
    batches = 0
    while max_batches is None or batches < max_batches:
        with engine.begin() as conn:
            rows = conn.execute(text(
                "SELECT id, received_at, source_system, payload FROM intake "
                "WHERE processed_at IS NULL ORDER BY received_at, id LIMIT :n "
                "FOR UPDATE SKIP LOCKED"), {"n": batch_size}).all()
            if not rows:
                break
            items = [_Item(summary.total + i, r.payload, r.received_at, r.source_system, r.id)
                     for i, r in enumerate(rows)]
            results = _Batch(conn, now).run(items)
            conn.execute(text(
                "UPDATE intake SET processed_at = :now, outcome = :outcome, lead_id = :lead, "
                "error = :error WHERE id = :id"),
                [{"now": now, "outcome": r.outcome, "lead": r.lead_id, "error": r.error,
                  "id": r.intake_id} for r in results])
            for result in results:
                summary.add(result)
        batches += 1
    return summary


def submit(engine: Engine, payload: Mapping[str, Any], *, received_at: datetime,
           source_system: str | None = None) -> uuid.UUID:
    """Hand in one payload the way another system would (an ``intake`` row)."""
    from sqlalchemy import insert

    from ..ids import uuid7
    from ..model import IntakeItem

    intake_id = uuid7()
    with engine.begin() as conn:
        conn.execute(insert(IntakeItem.__table__).values(
            id=intake_id, received_at=received_at, source_system=source_system,
            payload=dict(payload)))
    return intake_id


@dataclass
class SharedPass:
    """What :func:`shared_pass` did."""

    intake: IntakeSummary
    routed: int = 0
    expired: int = 0

    def lines(self) -> list[str]:
        out = []
        if self.intake.total:
            out.append(f"intake: {self.intake.line()}")
            out.extend(f"  {i.line()}" for i in self.intake.items if i.outcome == "rejected")
        if self.routed:
            out.append(f"routed {self.routed} lead{'s' if self.routed != 1 else ''} that "
                       "arrived without routing")
        if self.expired:
            out.append(f"{self.expired} expired claim{'s' if self.expired != 1 else ''} "
                       "returned to the pool")
        return out


def shared_pass(engine: Engine, now: datetime) -> SharedPass:
    """The worker's shared-database duties besides the rule engine: process the
    intake table, route leads written without routing, return expired claims
    to the pool. Each step commits on its own; safe with several workers."""
    from sqlalchemy import text

    from .routing_store import route_unassigned

    done = SharedPass(process_intake(engine, now))
    while True:
        with engine.begin() as conn:
            n = route_unassigned(conn, now)
        done.routed += n
        if n == 0:
            break
    with engine.begin() as conn:
        done.expired = int(conn.execute(text("SELECT lq_expire_leases()")).scalar() or 0)
    return done
