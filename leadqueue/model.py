"""The data model: SQLAlchemy 2 typed declarative tables.

Table and column names are a public contract (BI tools and CRM connectors read
the shared database; ``docs/schema.md`` documents them). Every schema change
goes through an Alembic revision in ``migrations/``; a test checks that these
models and the migrated schema agree.

Synced tables (:class:`Synced`) carry what offline sync needs from day one
(DESIGN.md §5): a client-generated time-ordered UUID key, a version bumped on
every change, a server change sequence filled in by the server, and a
tombstone (``deleted_at``) instead of hard deletes.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Enum,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from .dbtypes import JSONDoc, UTCDateTime
from .enums import (
    ActivityKind,
    CallOutcome,
    Channel,
    Direction,
    DisqualifyReason,
    EnrollmentStatus,
    LeadClass,
    LeadStatus,
    NextStepKind,
    NoResponseReason,
    NotificationLevel,
    Role,
    RoutingMethod,
)
from .ids import uuid7

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        uuid.UUID: Uuid(),
        dict[str, Any]: JSONDoc,
        list[Any]: JSONDoc,
    }


def enum_type(enum: type[StrEnum], name: str) -> Enum:
    """A string column holding ``enum``'s values, checked by a named CHECK.

    Stored as VARCHAR (not a native PostgreSQL enum) so adding a value is a
    plain migration on both backends.
    """
    return Enum(
        enum,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=32,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
    )


class Synced:
    """Columns every synced table carries (DESIGN.md §5)."""

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    #: Server change sequence; null until the shared database has seen the row.
    server_seq: Mapped[int | None] = mapped_column(BigInteger, index=True)
    updated_at: Mapped[datetime | None]
    #: Tombstone: synced rows are never hard-deleted.
    deleted_at: Mapped[datetime | None]


class Team(Synced, Base):
    __tablename__ = "teams"

    name: Mapped[str] = mapped_column(String(120), unique=True)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC", server_default="UTC")
    #: Calling window in the lead's local time, "HH:MM" (start inclusive, end exclusive).
    calling_window_start: Mapped[str] = mapped_column(
        String(5), default="08:00", server_default="08:00"
    )
    calling_window_end: Mapped[str] = mapped_column(
        String(5), default="20:00", server_default="20:00"
    )
    #: How long a pool claim is leased before it returns by rule.
    lease_minutes: Mapped[int] = mapped_column(Integer, default=30, server_default="30")
    #: A travel pack's lease, for reps going offline.
    travel_lease_hours: Mapped[int] = mapped_column(Integer, default=72, server_default="72")
    #: Routing skips a rep whose app has not been seen for this long; null: never.
    offline_after_minutes: Mapped[int | None] = mapped_column(Integer)


class User(Synced, Base):
    __tablename__ = "users"

    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(enum_type(Role, "role"), default=Role.REP)
    team_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("teams.id"), index=True)
    territory: Mapped[str | None] = mapped_column(String(64))
    daily_capacity: Mapped[int] = mapped_column(Integer, default=20, server_default="20")
    available: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")
    timezone: Mapped[str | None] = mapped_column(String(64))
    #: The person's own PostgreSQL login role in the shared database.
    db_role: Mapped[str | None] = mapped_column(String(63), unique=True)
    backup_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    #: Routing weight within a team (e.g. 40 for a senior rep among 20s).
    routing_weight: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    #: Quiet hours in the rep's own time, "HH:MM"; null means none.
    quiet_hours_start: Mapped[str | None] = mapped_column(String(5))
    quiet_hours_end: Mapped[str | None] = mapped_column(String(5))
    last_seen_at: Mapped[datetime | None]
    disabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    #: Routing skips the rep until this instant (holiday, sick leave).
    out_of_office_until: Mapped[datetime | None]
    #: Working shift in the rep's own time zone, "HH:MM" (start inclusive, end
    #: exclusive; an end before the start crosses midnight); null: no shift limit.
    shift_start: Mapped[str | None] = mapped_column(String(5))
    shift_end: Mapped[str | None] = mapped_column(String(5))
    #: ISO weekdays of the shift (1 = Monday), e.g. "12345"; null: every day.
    shift_days: Mapped[str | None] = mapped_column(String(7))


class Account(Synced, Base):
    """An existing customer account: its leads go to the account owner first."""

    __tablename__ = "accounts"

    company: Mapped[str] = mapped_column(String(200), index=True)
    #: Email domains that identify the account, e.g. ["acme.com", "acme.co.uk"].
    domains: Mapped[list[Any]] = mapped_column(default=list)
    owner_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    team_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("teams.id"))


class Lead(Synced, Base):
    """A lead and every CRM field the follow-up rules depend on (DESIGN.md §4)."""

    __tablename__ = "leads"
    __table_args__ = (
        CheckConstraint("priority BETWEEN 1 AND 4", name="priority_range"),
        CheckConstraint("attempts >= 0", name="attempts_non_negative"),
        Index("ix_leads_owner_status", "owner_id", "status"),
        Index("ix_leads_team_pool", "team_id", "status", "owner_id"),
        Index("ix_leads_phone", "phone"),
        Index("ix_leads_email", "email"),
    )

    external_id: Mapped[str | None] = mapped_column(String(120), unique=True)
    first_name: Mapped[str] = mapped_column(String(120))
    last_name: Mapped[str] = mapped_column(String(120))
    company: Mapped[str | None] = mapped_column(String(200))
    title: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254))
    #: E.164 when it parsed; otherwise the raw text as given (and flagged).
    phone: Mapped[str | None] = mapped_column(String(64))
    #: ``phone`` as people read it (international format), written with it so
    #: the app's first paint shows it without loading ``phonenumbers``; None:
    #: not a valid number, or a writer that leaves it to the display.
    phone_display: Mapped[str | None] = mapped_column(String(64))
    source: Mapped[str | None] = mapped_column(String(64))
    owner_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    team_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("teams.id"))
    account_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("accounts.id"))
    priority: Mapped[int] = mapped_column(Integer, default=3, server_default="3")
    lead_class: Mapped[LeadClass] = mapped_column(
        enum_type(LeadClass, "lead_class"), default=LeadClass.QUALIFICATION_NEEDED
    )
    status: Mapped[LeadStatus] = mapped_column(
        enum_type(LeadStatus, "lead_status"), default=LeadStatus.NEW
    )
    created_at: Mapped[datetime]
    assigned_at: Mapped[datetime | None]
    #: When the owner first opened the lead (acknowledgement timeouts use it).
    acknowledged_at: Mapped[datetime | None]
    #: First human action after creation: what speed-to-lead measures.
    first_action_at: Mapped[datetime | None]
    last_action_at: Mapped[datetime | None]
    #: The lead's latest reply or inbound call (the rep's actions are
    #: ``last_action_at``): scoring's reply points come from it, and it marks
    #: the lead changed when a reply leaves every other field as it was.
    last_inbound_at: Mapped[datetime | None]
    next_step: Mapped[str | None] = mapped_column(Text)
    next_step_kind: Mapped[NextStepKind | None] = mapped_column(
        enum_type(NextStepKind, "next_step_kind")
    )
    next_step_at: Mapped[datetime | None]
    snoozed_until: Mapped[datetime | None]
    do_not_contact: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    no_response_reason: Mapped[NoResponseReason | None] = mapped_column(
        enum_type(NoResponseReason, "no_response_reason")
    )
    disqualify_reason: Mapped[DisqualifyReason | None] = mapped_column(
        enum_type(DisqualifyReason, "disqualify_reason")
    )
    disqualify_note: Mapped[str | None] = mapped_column(Text)
    final_outcome: Mapped[str | None] = mapped_column(String(200))
    score: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: The score's transparent breakdown: [{"rule": ..., "points": ...}, ...].
    score_breakdown: Mapped[list[Any]] = mapped_column(default=list)
    #: The lead's IANA time zone (derived from the phone when not given).
    timezone: Mapped[str | None] = mapped_column(String(64))
    country: Mapped[str | None] = mapped_column(String(2))
    state: Mapped[str | None] = mapped_column(String(64))
    territory: Mapped[str | None] = mapped_column(String(64))
    company_size: Mapped[int | None] = mapped_column(Integer)
    product_interest: Mapped[str | None] = mapped_column(String(120))
    #: When a nurtured lead re-enters the queue as a new cadence.
    recycle_at: Mapped[datetime | None] = mapped_column(index=True)
    #: Merged into another (older) lead as a duplicate.
    merged_into_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("leads.id"))
    #: Contact data that did not normalise (``enums.DataIssue`` values): kept and shown.
    data_issues: Mapped[list[Any]] = mapped_column(default=list)
    #: Why the lead went to its owner: rule, method, candidates, skipped and why.
    routing_explanation: Mapped[dict[str, Any] | None]
    #: First-response deadline set at intake (null: no target); pool claims order by it.
    sla_due_at: Mapped[datetime | None]
    #: When the rule engine last scored the lead; activity or a change after it
    #: makes the engine score it again (null: never scored).
    scored_at: Mapped[datetime | None]


class Activity(Base):
    """A touch or a note. Append-only: a correction is a new row that supersedes."""

    __tablename__ = "activities"
    __table_args__ = (
        Index("ix_activities_lead_at", "lead_id", "at"),
        CheckConstraint("duration_s IS NULL OR duration_s >= 0", name="duration_non_negative"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    server_seq: Mapped[int | None] = mapped_column(BigInteger, index=True)
    lead_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("leads.id"))
    kind: Mapped[ActivityKind] = mapped_column(enum_type(ActivityKind, "activity_kind"))
    direction: Mapped[Direction] = mapped_column(
        enum_type(Direction, "direction"), default=Direction.OUTBOUND
    )
    outcome: Mapped[CallOutcome | None] = mapped_column(enum_type(CallOutcome, "call_outcome"))
    at: Mapped[datetime]
    author_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    duration_s: Mapped[int | None] = mapped_column(Integer)
    body: Mapped[str | None] = mapped_column(Text)
    #: The mis-logged entry this one corrects; history itself is never edited.
    supersedes_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("activities.id"))
    created_at: Mapped[datetime]


class SlaPolicy(Synced, Base):
    """First-response target and escalation for one priority (team null = default)."""

    __tablename__ = "sla_policies"
    __table_args__ = (
        UniqueConstraint("team_id", "priority"),
        CheckConstraint("priority BETWEEN 1 AND 4", name="priority_range"),
    )

    team_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("teams.id"))
    priority: Mapped[int] = mapped_column(Integer)
    #: Null: no first-response target (P4).
    first_response_minutes: Mapped[int | None] = mapped_column(Integer)
    business_hours_only: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    #: ISO weekdays that count as working days, e.g. "12345".
    working_days: Mapped[str] = mapped_column(String(7), default="12345", server_default="12345")
    work_start: Mapped[str] = mapped_column(String(5), default="09:00", server_default="09:00")
    work_end: Mapped[str] = mapped_column(String(5), default="17:00", server_default="17:00")
    #: ISO dates that are not working days.
    #: IANA zone of the business hours; null: the lead's team's zone (UTC without a team).
    timezone: Mapped[str | None] = mapped_column(String(64))
    holidays: Mapped[list[Any]] = mapped_column(default=list)
    #: [{"offset_minutes": 30, "action": "notify_owner_urgent"}, ...] from the deadline.
    escalation: Mapped[list[Any]] = mapped_column(default=list)
    ack_backup_minutes: Mapped[int | None] = mapped_column(Integer)
    ack_pool_minutes: Mapped[int | None] = mapped_column(Integer)


class RoutingRule(Synced, Base):
    """One routing rule; rules are tried by ``position``, first match wins."""

    __tablename__ = "routing_rules"

    team_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("teams.id"))
    name: Mapped[str] = mapped_column(String(120))
    position: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")
    #: Conditions: countries/states, company size range, product interest, source, class.
    match: Mapped[dict[str, Any]] = mapped_column(default=dict)
    method: Mapped[RoutingMethod] = mapped_column(enum_type(RoutingMethod, "routing_method"))
    target_user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    target_team_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("teams.id"))
    #: {user id: weight} for weighted routing.
    weights: Mapped[dict[str, Any]] = mapped_column(default=dict)
    backup_user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    backup_team_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("teams.id"))


class RoutingState(Base):
    """Round-robin and weighted-routing counters, kept in the database so they
    stay fair across worker restarts and concurrent workers."""

    __tablename__ = "routing_state"
    __table_args__ = (UniqueConstraint("rule_id", "user_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    rule_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("routing_rules.id"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    assigned_count: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    last_assigned_at: Mapped[datetime | None]
    #: Stride-scheduling position: the eligible member with the lowest goes
    #: next and moves on by (a constant / weight), see ``rules.routing``.
    stride_pass: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class Template(Synced, Base):
    __tablename__ = "templates"

    name: Mapped[str] = mapped_column(String(120), unique=True)
    channel: Mapped[Channel] = mapped_column(enum_type(Channel, "channel"))
    subject: Mapped[str | None] = mapped_column(String(300))
    #: Text with merge fields such as {first_name}, {company}, {rep_name}.
    body: Mapped[str] = mapped_column(Text)


class Cadence(Synced, Base):
    __tablename__ = "cadences"

    name: Mapped[str] = mapped_column(String(120), unique=True)
    team_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("teams.id"))
    description: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")
    skip_weekends: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")
    #: Days after the last step before a no-response lead is recycled from nurture.
    recycle_days: Mapped[int] = mapped_column(Integer, default=90, server_default="90")


class CadenceStep(Synced, Base):
    __tablename__ = "cadence_steps"
    __table_args__ = (
        UniqueConstraint("cadence_id", "position"),
        CheckConstraint("day_offset >= 0", name="day_offset_non_negative"),
    )

    cadence_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cadences.id"))
    position: Mapped[int] = mapped_column(Integer)
    #: Day of the cadence, counted from enrolment (day 1 = the enrolment day).
    day_offset: Mapped[int] = mapped_column(Integer)
    channel: Mapped[Channel] = mapped_column(enum_type(Channel, "channel"))
    template_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("templates.id"))
    #: Local time of day in the lead's zone, "HH:MM"; null = start of the calling window.
    local_time: Mapped[str | None] = mapped_column(String(5))


class CadenceEnrollment(Synced, Base):
    __tablename__ = "cadence_enrollments"
    __table_args__ = (Index("ix_cadence_enrollments_lead_status", "lead_id", "status"),)

    lead_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("leads.id"))
    cadence_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cadences.id"))
    status: Mapped[EnrollmentStatus] = mapped_column(
        enum_type(EnrollmentStatus, "enrollment_status"), default=EnrollmentStatus.ACTIVE
    )
    enrolled_at: Mapped[datetime]
    #: Position of the step due next; past the last step means finished.
    current_step: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    ended_at: Mapped[datetime | None]
    end_reason: Mapped[str | None] = mapped_column(String(64))
    #: When the current step became the lead's next step (null: not yet);
    #: a touch logged at or after it completes the step.
    step_scheduled_at: Mapped[datetime | None]


class Notification(Synced, Base):
    """A notification for one person, raised by the worker or the app's engine.

    The recipient's app picks these rows up and shows them (the worker has no
    screen of its own).
    """

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_recipient_seen", "recipient_id", "seen_at"),)

    recipient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    lead_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("leads.id"))
    level: Mapped[NotificationLevel] = mapped_column(
        enum_type(NotificationLevel, "notification_level"), default=NotificationLevel.NORMAL
    )
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    seen_at: Mapped[datetime | None]
    #: Snoozed by the recipient: shown again at this instant.
    snoozed_until: Mapped[datetime | None]
    #: Unique per (rule, lead, assignment, stage): a stage fires once.
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)


class RuleFiring(Base):
    """A record that a time-driven rule stage fired for a lead and assignment.

    The unique key makes each stage fire once even with two workers running.
    """

    __tablename__ = "rule_firings"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    lead_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("leads.id"), index=True)
    fired_at: Mapped[datetime]
    #: False for a stage recorded after downtime without notifying anyone.
    delivered: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")


class LeadLease(Base):
    """Lease history of pool claims; the shared database adds an exclusion
    constraint so two reps can never hold one lead at once."""

    __tablename__ = "lead_leases"
    __table_args__ = (Index("ix_lead_leases_lead", "lead_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    lead_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("leads.id"))
    holder_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    #: Fencing token: a write carrying an older epoch is refused.
    epoch: Mapped[int] = mapped_column(BigInteger)
    leased_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    released_at: Mapped[datetime | None]
    travel: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")


class IntakeItem(Base):
    """A new lead handed in by another system (web form, CRM connector).

    Other systems INSERT a row with ``payload`` (the same JSON object
    ``leadqueue intake`` takes); the worker normalises, de-duplicates,
    classifies and routes it, then fills ``processed_at`` and either
    ``lead_id`` (new lead or the existing duplicate) or ``error``.
    """

    __tablename__ = "intake"
    __table_args__ = (Index("ix_intake_processed_at", "processed_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    received_at: Mapped[datetime]
    #: Which system sent it, e.g. "webform"; also the lead's source when it has none.
    source_system: Mapped[str | None] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    processed_at: Mapped[datetime | None]
    lead_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("leads.id"))
    #: "created", "duplicate" or "rejected".
    outcome: Mapped[str | None] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text)


class AuditEntry(Base):
    """Insert-only audit log: what rule or person changed what, and why."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_entity", "entity", "entity_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    at: Mapped[datetime]
    actor_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    #: "worker", "app", "admin", "load": who or what acted when there is no user.
    actor: Mapped[str | None] = mapped_column(String(64))
    rule: Mapped[str | None] = mapped_column(String(120))
    entity: Mapped[str] = mapped_column(String(64))
    entity_id: Mapped[uuid.UUID | None]
    change: Mapped[dict[str, Any]] = mapped_column(default=dict)
    reason: Mapped[str | None] = mapped_column(Text)
