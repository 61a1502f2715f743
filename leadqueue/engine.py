"""The rule engine: finds due work with indexed queries, asks the pure rules in
``leadqueue/rules/`` what to do, and applies their decisions.

What it owns:

- one pass (:func:`run_pass`) over the time-driven rules: SLA escalation
  ladder, acknowledgement timeouts, cadence enrolment and steps, lifecycle
  moves (cadence exhausted -> no-response -> nurture), recycle dates, and
  scoring of leads with new activity;
- applying each batch of decisions in one transaction, with an
  ``audit_log`` entry per decision (rule, what changed, why) and a
  ``rule_firings`` row per time-driven stage;
- notifications for people as ``notifications`` rows (the recipient's app
  shows them; the worker has no screen);
- ``ensure_defaults``: the default cadence and its templates.

Concurrency: a stage is claimed by inserting its firing key with
``ON CONFLICT DO NOTHING``; only the worker whose insert took effect applies
it. Rows are read again under ``FOR UPDATE SKIP LOCKED`` (PostgreSQL) before
deciding, so two workers running the same pass never act on stale state;
SQLite has a single writer. Every batch commits on its own, so killing the
worker at any moment loses at most an uncommitted batch, which the next pass
redoes.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from .enums import (
    ActivityKind,
    CallOutcome,
    Channel,
    Direction,
    EnrollmentStatus,
    LeadStatus,
    NextStepKind,
    NotificationLevel,
    Role,
)
from .model import (
    Activity,
    AuditEntry,
    Cadence,
    CadenceEnrollment,
    CadenceStep,
    Lead,
    Notification,
    RuleFiring,
    SlaPolicy,
    Team,
    Template,
    User,
)
from .rules import lifecycle
from .rules.cadence import (
    DEFAULT_CADENCE_NAME,
    DEFAULT_STEPS,
    CadenceAction,
    EnrollmentState,
    StepSpec,
    next_cadence_decision,
)
from .rules.escalation import (
    DEFAULT_LADDER,
    EscalationPolicy,
    LadderAction,
    LadderStage,
    LeadTiming,
    StageDecision,
    due_ack_timeouts,
    due_ladder_stages,
)
from .rules.scoring import ScoreAction, ScoreFacts, breakdown_pairs, score_lead
from .rules.sla import BusinessHours, SlaTarget

log = logging.getLogger("leadqueue.engine")

ACTIVE = (LeadStatus.NEW, LeadStatus.WORKING)
BATCH = 500

#: Default templates for the default cadence: (name, channel, subject, body).
DEFAULT_TEMPLATES: tuple[tuple[str, Channel, str | None, str], ...] = (
    ("Day 1 intro email", Channel.EMAIL, "Your question about {product_interest}",
     "Hi {first_name},\n\nthanks for reaching out about {product_interest}. When would a"
     " 15-minute call suit you?\n\n{rep_name}"),
    ("Day 1 call script", Channel.CALL, None,
     "Introduce yourself, confirm {first_name}'s interest in {product_interest}, book a demo."),
    ("Day 2 resource email", Channel.EMAIL, "A guide for {company}",
     "Hi {first_name},\n\nhere is a short guide teams like {company} use to get started.\n\n"
     "{rep_name}"),
    ("Day 4 call script", Channel.CALL, None,
     "Follow up on the guide; ask what {company} is trying to solve this quarter."),
    ("Day 7 case study email", Channel.EMAIL, "How a team like {company} did it",
     "Hi {first_name},\n\na two-minute case study you may find useful.\n\n{rep_name}"),
    ("Day 10 social touch", Channel.SOCIAL, None,
     "Connect with {first_name} and comment on something {company} posted."),
    ("Day 14 break-up email", Channel.EMAIL, "Should I close your file?",
     "Hi {first_name},\n\nI have not heard back, so I will stop here. Reply any time if"
     " {product_interest} becomes a priority.\n\n{rep_name}"),
)

_CHANNEL_STEP_KIND = {
    Channel.CALL: NextStepKind.CALL,
    Channel.EMAIL: NextStepKind.EMAIL,
    Channel.SMS: NextStepKind.SMS,
    Channel.SOCIAL: NextStepKind.SOCIAL,
}


@dataclass
class PassSummary:
    """What one pass did: counts per decision kind and one line per decision."""

    at: datetime
    counts: Counter[str] = field(default_factory=Counter)
    lines: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def add(self, kind: str, line: str) -> None:
        self.counts[kind] += 1
        self.lines.append(line)


# --------------------------------------------------------------------------- defaults


def ensure_defaults(session: Session) -> bool:
    """Create the default cadence and its templates if absent; True if created.

    Idempotent: matches on names, never duplicates or overwrites an edit.
    """
    if session.scalar(select(Cadence.id).where(Cadence.name == DEFAULT_CADENCE_NAME)):
        return False
    templates = {t.name: t for t in session.scalars(select(Template))}
    for name, channel, subject, body in DEFAULT_TEMPLATES:
        if name not in templates:
            templates[name] = Template(name=name, channel=channel, subject=subject, body=body)
            session.add(templates[name])
    session.flush()
    cadence = Cadence(name=DEFAULT_CADENCE_NAME,
                      description="The playbook's B2B inbound sequence (days 1-14).")
    session.add(cadence)
    session.flush()
    for position, (day, channel, template) in enumerate(DEFAULT_STEPS, start=1):
        session.add(CadenceStep(cadence_id=cadence.id, position=position, day_offset=day,
                                channel=channel, template_id=templates[template].id))
    session.flush()
    return True


# --------------------------------------------------------------------------- policies


class PolicyBook:
    """SLA policies by (team, priority), team-specific first, then the default."""

    def __init__(self, session: Session) -> None:
        self._rows = {(p.team_id, p.priority): p for p in session.scalars(
            select(SlaPolicy).where(SlaPolicy.deleted_at.is_(None)))}
        self._tz = {t.id: t.timezone for t in session.scalars(select(Team))}
        self._cache: dict[tuple[uuid.UUID | None, int], EscalationPolicy | None] = {}

    def for_lead(self, team_id: uuid.UUID | None, priority: int) -> EscalationPolicy | None:
        key = (team_id, priority)
        if key not in self._cache:
            row = self._rows.get(key) or self._rows.get((None, priority))
            try:
                self._cache[key] = None if row is None else policy_from_row(
                    row, self._tz.get(team_id) if team_id else None)
            except (ValueError, KeyError, TypeError) as exc:
                # Saved before validation existed: skip it loudly, keep the rest running.
                log.error("SLA policy P%s (team %s) is unusable and skipped: %s",
                          priority, team_id, exc)
                self._cache[key] = None
        return self._cache[key]

    def min_minutes(self, priority: int) -> tuple[int | None, int | None]:
        """Smallest first-response target and ack timeout over all teams."""
        targets = [p.first_response_minutes for (_, pr), p in self._rows.items()
                   if pr == priority and p.first_response_minutes is not None]
        acks = [m for (_, pr), p in self._rows.items() if pr == priority
                for m in (p.ack_backup_minutes, p.ack_pool_minutes) if m is not None]
        return (min(targets) if targets else None, min(acks) if acks else None)


def policy_from_row(row: SlaPolicy, team_tz: str | None) -> EscalationPolicy:
    hours = None
    if row.business_hours_only:
        hours = BusinessHours.from_policy(team_tz, row.working_days, row.work_start,
                                          row.work_end, row.holidays or [])
    ladder = tuple(LadderStage(int(s["offset_minutes"]), LadderAction(s["action"]))
                   for s in (row.escalation or []))
    return EscalationPolicy(
        target=SlaTarget(row.priority, row.first_response_minutes, hours),
        ladder=ladder if row.escalation is not None else DEFAULT_LADDER,
        ack_backup_minutes=row.ack_backup_minutes,
        ack_pool_minutes=row.ack_pool_minutes,
    )


# --------------------------------------------------------------------------- helpers


def lead_name(lead: Lead) -> str:
    return f"{lead.first_name} {lead.last_name}".strip() + (
        f" ({lead.company})" if lead.company else "")


def timing_of(lead: Lead) -> LeadTiming:
    return LeadTiming(lead.id, lead.priority, lead.created_at, lead.owner_id, lead.assigned_at,
                      lead.first_action_at, lead.acknowledged_at, lead.last_action_at)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value.value if hasattr(value, "value") else value


class Applier:
    """Applies decisions inside one session (one batch, one transaction)."""

    def __init__(self, session: Session, now: datetime, actor: str,
                 summary: PassSummary) -> None:
        self.s = session
        self.now = now
        self.actor = actor
        self.summary = summary
        self._team_leads: dict[uuid.UUID | None, list[uuid.UUID]] = {}

    # -- claims, audit, notifications

    def claim(self, key: str, lead_id: uuid.UUID | None, delivered: bool = True) -> bool:
        """Insert the firing key; False when another worker (or pass) has it."""
        dialect = self.s.get_bind().dialect.name
        values = dict(id=uuid.uuid4(), key=key, lead_id=lead_id, fired_at=self.now,
                      delivered=delivered)
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            stmt = pg_insert(RuleFiring).values(**values).on_conflict_do_nothing(
                index_elements=["key"])
        elif dialect == "sqlite":
            from sqlalchemy.dialects.sqlite import insert as lite_insert

            stmt = lite_insert(RuleFiring).values(**values).on_conflict_do_nothing(
                index_elements=["key"])
        else:  # pragma: no cover - only the two supported backends
            raise RuntimeError(f"unsupported database {dialect}")
        return bool(self.s.execute(stmt).rowcount)

    def audit(self, rule: str, lead: Lead | None, change: dict[str, Any], reason: str,
              entity: str = "lead", entity_id: uuid.UUID | None = None) -> None:
        self.s.add(AuditEntry(at=self.now, actor=self.actor, rule=rule, entity=entity,
                              entity_id=entity_id or (lead.id if lead else None),
                              change={k: [_plain(a), _plain(b)] for k, (a, b) in change.items()},
                              reason=reason))

    def notify(self, recipient: uuid.UUID | None, lead: Lead, level: NotificationLevel,
               title: str, body: str, dedupe_key: str) -> None:
        if recipient is None:
            return
        self.s.add(Notification(recipient_id=recipient, lead_id=lead.id, level=level,
                                title=title[:200], body=body, created_at=self.now,
                                dedupe_key=f"{dedupe_key}:{recipient}"[:200]))

    def set(self, lead: Lead, changes: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
        """Set fields on ``lead``; returns {field: (old, new)} for those that changed."""
        diff = {}
        for name, value in changes.items():
            old = getattr(lead, name)
            if old != value:
                diff[name] = (old, value)
                setattr(lead, name, value)
        if diff:
            lead.updated_at = self.now
            lead.version = (lead.version or 1) + 1
        return diff

    def team_leads(self, team_id: uuid.UUID | None) -> list[uuid.UUID]:
        if team_id not in self._team_leads:
            self._team_leads[team_id] = list(self.s.scalars(
                select(User.id).where(User.team_id == team_id, User.role == Role.TEAM_LEAD,
                                      User.disabled.is_(False))))
        return self._team_leads[team_id]

    def usable_backup(self, owner_id: uuid.UUID | None) -> uuid.UUID | None:
        if owner_id is None:
            return None
        owner = self.s.get(User, owner_id)
        if owner is None or owner.backup_id is None or owner.backup_id == owner_id:
            return None
        backup = self.s.get(User, owner.backup_id)
        if backup is None or backup.disabled or not backup.available:
            return None
        return backup.id

    # -- SLA ladder and acknowledgement timeouts

    def apply_stage(self, lead: Lead, d: StageDecision) -> bool:
        if not self.claim(d.key, lead.id, d.deliver):
            return False
        name = lead_name(lead)
        p1 = lead.priority == 1
        kind = f"{d.rule}:{d.action}" + ("" if d.deliver else ":recorded")
        if not d.deliver:
            self.audit(d.rule, lead, {}, d.reason)
            self.summary.add(kind, f"{d.rule} {d.action} recorded (missed) for {name}")
            return True
        if d.action in (LadderAction.NOTIFY_OWNER, LadderAction.NOTIFY_OWNER_URGENT):
            urgent = p1 or d.action == LadderAction.NOTIFY_OWNER_URGENT
            self.notify(lead.owner_id, lead,
                        NotificationLevel.URGENT if urgent else NotificationLevel.NORMAL,
                        f"{'Overdue' if urgent else 'Due now'}: P{lead.priority} {name}",
                        f"First response is due. {d.reason}", d.key)
            self.audit(d.rule, lead, {}, f"notified the owner: {d.reason}")
        elif d.action == LadderAction.NOTIFY_TEAM_LEAD:
            for tl in self.team_leads(lead.team_id):
                self.notify(tl, lead, NotificationLevel.URGENT,
                            f"SLA breach: P{lead.priority} {name}",
                            f"No first response yet. {d.reason}", d.key)
            self.audit(d.rule, lead, {}, f"notified the team lead: {d.reason}")
        elif d.action in (LadderAction.REASSIGN, "to_backup", "to_pool"):
            backup = None if d.action == "to_pool" else self.usable_backup(lead.owner_id)
            old_owner = lead.owner_id
            changes: dict[str, Any] = {"owner_id": backup}
            if d.action == LadderAction.REASSIGN:
                # A ladder reassignment is a new assignment with its own ladder.
                changes["assigned_at"] = self.now if backup else lead.assigned_at
            # An ack hand-over keeps assigned_at: the pool timeout counts from
            # the original assignment.
            diff = self.set(lead, changes)
            where = "the backup rep" if backup else "the team pool"
            self.audit(d.rule, lead, diff, f"reassigned to {where}: {d.reason}")
            self.notify(backup, lead, NotificationLevel.URGENT if p1 else NotificationLevel.NORMAL,
                        f"Reassigned to you: P{lead.priority} {name}",
                        f"You are the backup. {d.reason}", d.key)
            self.notify(old_owner, lead, NotificationLevel.NORMAL,
                        f"Lead moved to {where}: {name}", d.reason, d.key + ":from")
            kind = f"{d.rule}:{'to_backup' if backup else 'to_pool'}"
        self.summary.add(kind, f"{d.rule} {kind.split(':')[-1]} for {name}: {d.reason}")
        return True

    def escalate(self, lead: Lead, policy: EscalationPolicy, fired: set[str]) -> int:
        """Apply every due stage for ``lead`` until none is left (a hand-over
        can make the new assignment's first stage due at once)."""
        applied = 0
        for _ in range(10):
            if lead.status not in ACTIVE:
                break
            timing = timing_of(lead)
            due = due_ack_timeouts(timing, policy, self.now, fired)
            if not due:
                due = due_ladder_stages(timing, policy, self.now, fired)
            if not due:
                break
            for d in due:
                fired.add(d.key)
                applied += self.apply_stage(lead, d)
        return applied


# --------------------------------------------------------------------------- the pass


def _batches(ids: Sequence[Any], size: int = BATCH) -> Iterable[Sequence[Any]]:
    for i in range(0, len(ids), size):
        yield ids[i:i + size]


def _lock(stmt: Any, session: Session) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        return stmt.with_for_update(skip_locked=True)
    return stmt


def due_escalation_ids(session: Session, book: PolicyBook, now: datetime) -> list[uuid.UUID]:
    """Owned active leads without a first action whose SLA or ack clock could
    have a due stage: the conservative wall-clock cut-off per priority (a
    business-hours deadline is never earlier than created_at + target)."""
    conds = []
    for priority in (1, 2, 3, 4):
        target, ack = book.min_minutes(priority)
        parts = []
        if target is not None:
            parts.append(Lead.created_at <= now - timedelta(minutes=target))
        if ack is not None:
            parts.append(Lead.assigned_at <= now - timedelta(minutes=ack))
        if parts:
            conds.append(and_(Lead.priority == priority, or_(*parts)))
    if not conds:
        return []
    return list(session.scalars(
        select(Lead.id).where(Lead.status.in_(ACTIVE), Lead.owner_id.is_not(None),
                              Lead.first_action_at.is_(None), Lead.deleted_at.is_(None),
                              Lead.merged_into_id.is_(None), or_(*conds))
        .order_by(Lead.id)))


def fired_keys(session: Session, lead_ids: Sequence[uuid.UUID]) -> set[str]:
    return set(session.scalars(select(RuleFiring.key).where(RuleFiring.lead_id.in_(lead_ids))))


def _escalation_pass(bind: Engine, now: datetime, actor: str, summary: PassSummary) -> None:
    with Session(bind) as s:
        book = PolicyBook(s)
        ids = due_escalation_ids(s, book, now)
    for batch in _batches(ids):
        with Session(bind, expire_on_commit=False) as s, s.begin():
            book = PolicyBook(s)
            leads = s.scalars(_lock(select(Lead).where(
                Lead.id.in_(batch), Lead.status.in_(ACTIVE), Lead.owner_id.is_not(None),
                Lead.first_action_at.is_(None)), s)).all()
            fired = fired_keys(s, [lead.id for lead in leads])
            applier = Applier(s, now, actor, summary)
            for lead in leads:
                policy = book.for_lead(lead.team_id, lead.priority)
                if policy is not None:
                    applier.escalate(lead, policy, fired)


class CadenceBook:
    def __init__(self, session: Session) -> None:
        self.cadences = {c.id: c for c in session.scalars(select(Cadence))}
        self.steps: dict[uuid.UUID, list[StepSpec]] = {}
        names = {t.id: t.name for t in session.scalars(select(Template))}
        for st in session.scalars(select(CadenceStep).where(CadenceStep.deleted_at.is_(None))):
            self.steps.setdefault(st.cadence_id, []).append(StepSpec(
                st.position, st.day_offset, st.channel, st.local_time,
                names.get(st.template_id) if st.template_id else None))
        self.windows = {t.id: t.calling_window_start for t in session.scalars(select(Team))}

    def cadence_for(self, team_id: uuid.UUID | None) -> Cadence | None:
        active = [c for c in self.cadences.values() if c.active and c.deleted_at is None]
        own = [c for c in active if c.team_id == team_id and team_id is not None]
        default = [c for c in active if c.name == DEFAULT_CADENCE_NAME]
        chosen = own or default or [c for c in active if c.team_id is None]
        return sorted(chosen, key=lambda c: c.name)[0] if chosen else None


def enroll(applier: Applier, lead: Lead, book: CadenceBook, key: str, why: str) -> bool:
    cadence = book.cadence_for(lead.team_id)
    if cadence is None or not applier.claim(key, lead.id):
        return False
    enr = CadenceEnrollment(lead_id=lead.id, cadence_id=cadence.id, enrolled_at=applier.now,
                            current_step=1)
    applier.s.add(enr)
    applier.s.flush()
    applier.audit("cadence_enroll", lead, {"cadence": (None, cadence.name)}, why)
    applier.summary.add("cadence:enrolled", f"enrolled {lead_name(lead)} in {cadence.name!r}")
    advance(applier, lead, enr, book, [])
    return True


def advance(applier: Applier, lead: Lead, enr: CadenceEnrollment, book: CadenceBook,
            activities: list[Activity]) -> None:
    """Move one enrollment forward as far as its activities allow."""
    now = applier.now
    cadence = book.cadences.get(enr.cadence_id)
    steps = book.steps.get(enr.cadence_id, [])
    since = enr.enrolled_at
    replied = any(a.direction == Direction.INBOUND and a.at >= since for a in activities)
    booked = any(a.outcome == CallOutcome.MEETING_BOOKED and a.at >= since for a in activities)
    for _ in range(len(steps) + 2):
        touched = enr.step_scheduled_at is not None and any(
            a.direction == Direction.OUTBOUND and a.kind != ActivityKind.NOTE
            and a.at > enr.step_scheduled_at for a in activities)
        if touched and not (replied or booked):
            if applier.claim(f"cadence:{enr.id}:{enr.current_step}:done", lead.id):
                applier.audit("cadence_step_done", lead,
                              {"current_step": (enr.current_step, enr.current_step + 1)},
                              f"a touch was logged for cadence step {enr.current_step}",
                              )
                applier.summary.add("cadence:step_done",
                                    f"step {enr.current_step} done for {lead_name(lead)}")
            enr.current_step += 1
            enr.step_scheduled_at = None
            enr.updated_at = now
            activities = [a for a in activities if a.at > now]  # one touch, one step
            continue
        if enr.step_scheduled_at is not None and not (replied or booked):
            return  # waiting for the rep to do the scheduled step
        state = EnrollmentState(enr.enrolled_at, enr.current_step, lead.timezone, replied, booked)
        decision = next_cadence_decision(
            state, steps, book.windows.get(lead.team_id, "08:00") if lead.team_id else "08:00",
            cadence.skip_weekends if cadence else True)
        if decision.action is CadenceAction.SCHEDULE:
            assert decision.step is not None and decision.due_at is not None
            if not applier.claim(f"cadence:{enr.id}:{decision.step.position}:scheduled", lead.id):
                return
            step = decision.step
            text = f"{step.channel.value.capitalize()} — cadence step {step.position}" + (
                f": {step.template_name}" if step.template_name else "")
            diff = applier.set(lead, {"next_step": text,
                                      "next_step_kind": _CHANNEL_STEP_KIND[step.channel],
                                      "next_step_at": decision.due_at})
            enr.step_scheduled_at = now
            enr.updated_at = now
            applier.audit("cadence_schedule", lead, diff, decision.reason)
            applier.summary.add("cadence:scheduled",
                                f"{lead_name(lead)}: {text} due {decision.due_at:%Y-%m-%d %H:%M}Z")
            return
        if not applier.claim(f"cadence:{enr.id}:end", lead.id):
            return
        enr.status = (EnrollmentStatus.COMPLETED if decision.action is CadenceAction.EXHAUSTED
                      else EnrollmentStatus.STOPPED)
        enr.ended_at = now
        enr.end_reason = decision.action.value
        enr.updated_at = now
        applier.audit("cadence_end", lead, {"enrollment": ("active", enr.status.value)},
                      decision.reason, entity="cadence_enrollment", entity_id=enr.id)
        applier.summary.add(f"cadence:{decision.action.value}",
                            f"cadence ended for {lead_name(lead)}: {decision.reason}")
        if decision.action is CadenceAction.EXHAUSTED and lead.status in ACTIVE:
            change = lifecycle.cadence_exhausted(
                now, cadence.recycle_days if cadence else lifecycle.DEFAULT_RECYCLE_DAYS,
                lead.attempts)
            diff = applier.set(lead, change.changes)
            applier.audit(change.rule, lead, diff, change.reason)
            applier.summary.add("lifecycle:no_response_nurture",
                                f"{lead_name(lead)} -> nurture: {change.reason}")
        elif decision.action is CadenceAction.END_MEETING and lead.status in ACTIVE:
            diff = applier.set(lead, {"status": LeadStatus.MEETING})
            applier.audit("cadence_end", lead, diff, "meeting booked: status meeting")
        elif decision.action is CadenceAction.END_REPLIED:
            diff = applier.set(lead, {"next_step": "Answer the reply",
                                      "next_step_kind": NextStepKind.EMAIL,
                                      "next_step_at": now})
            applier.audit("cadence_end", lead, diff, "the lead replied: answer it")
        return


def _cadence_pass(bind: Engine, now: datetime, actor: str, summary: PassSummary) -> set[uuid.UUID]:
    """Enrol owned active leads without any enrollment, then move active
    enrollments whose step is unscheduled or has activity since it was set."""
    touched: set[uuid.UUID] = set()
    with Session(bind) as s:
        try:
            ensure_defaults(s)
            s.commit()
        except IntegrityError:  # another worker seeded them at the same moment
            s.rollback()
        to_enroll = list(s.scalars(
            select(Lead.id).where(
                Lead.status.in_(ACTIVE), Lead.owner_id.is_not(None), Lead.priority <= 3,
                Lead.do_not_contact.is_(False), Lead.deleted_at.is_(None),
                Lead.merged_into_id.is_(None),
                ~exists().where(CadenceEnrollment.lead_id == Lead.id))
            .order_by(Lead.id)))
    for batch in _batches(to_enroll):
        with Session(bind, expire_on_commit=False) as s, s.begin():
            book = CadenceBook(s)
            applier = Applier(s, now, actor, summary)
            for lead in s.scalars(_lock(select(Lead).where(Lead.id.in_(batch)), s)):
                enroll(applier, lead, book, f"cadence:{lead.id}:enroll:first",
                       "new active lead: enrolled in the team's cadence")
    with Session(bind) as s:
        since = CadenceEnrollment.step_scheduled_at
        due = list(s.scalars(
            select(CadenceEnrollment.id).where(
                CadenceEnrollment.status == EnrollmentStatus.ACTIVE,
                CadenceEnrollment.deleted_at.is_(None),
                or_(since.is_(None), exists().where(
                    Activity.lead_id == CadenceEnrollment.lead_id,
                    Activity.at >= CadenceEnrollment.enrolled_at,
                    or_(Activity.at > since, Activity.direction == Direction.INBOUND,
                        Activity.outcome == CallOutcome.MEETING_BOOKED),
                    Activity.kind != ActivityKind.NOTE)))
            .order_by(CadenceEnrollment.id)))
    for batch in _batches(due):
        with Session(bind, expire_on_commit=False) as s, s.begin():
            book = CadenceBook(s)
            applier = Applier(s, now, actor, summary)
            enrs = s.scalars(_lock(select(CadenceEnrollment).where(
                CadenceEnrollment.id.in_(batch),
                CadenceEnrollment.status == EnrollmentStatus.ACTIVE), s)).all()
            leads = {lead.id: lead for lead in s.scalars(
                select(Lead).where(Lead.id.in_([e.lead_id for e in enrs])))}
            acts: dict[uuid.UUID, list[Activity]] = {}
            for a in s.scalars(select(Activity).where(
                    Activity.lead_id.in_(list(leads)), Activity.at <= now)
                    .order_by(Activity.at)):
                acts.setdefault(a.lead_id, []).append(a)
            for enr in enrs:
                lead = leads[enr.lead_id]
                mine = [a for a in acts.get(lead.id, []) if a.at >= enr.enrolled_at]
                advance(applier, lead, enr, book, mine)
                if mine:
                    touched.add(lead.id)
    return touched


def _recycle_pass(bind: Engine, now: datetime, actor: str, summary: PassSummary) -> None:
    with Session(bind) as s:
        ids = list(s.scalars(select(Lead.id).where(
            Lead.recycle_at <= now, Lead.status == LeadStatus.NURTURE,
            Lead.deleted_at.is_(None)).order_by(Lead.id)))
    for batch in _batches(ids):
        with Session(bind, expire_on_commit=False) as s, s.begin():
            book = CadenceBook(s)
            applier = Applier(s, now, actor, summary)
            for lead in s.scalars(_lock(select(Lead).where(
                    Lead.id.in_(batch), Lead.status == LeadStatus.NURTURE,
                    Lead.recycle_at <= now), s)):
                assert lead.recycle_at is not None
                key = f"recycle:{lead.id}:{lead.recycle_at.isoformat()}"
                change = lifecycle.recycle(lead.recycle_at)
                if not applier.claim(key, lead.id):
                    continue
                diff = applier.set(lead, change.changes)
                applier.audit(change.rule, lead, diff, change.reason)
                applier.summary.add("lifecycle:recycled", f"{lead_name(lead)}: {change.reason}")
                enroll(applier, lead, book, f"{key}:enroll", change.reason)


def score_facts(lead: Lead, activities: Sequence[Activity]) -> ScoreFacts:
    import phonenumbers

    outbound = sum(1 for a in activities
                   if a.direction == Direction.OUTBOUND and a.kind != ActivityKind.NOTE)
    verified = False
    if lead.phone and "phone_unparseable" not in (lead.data_issues or []):
        try:
            verified = phonenumbers.is_valid_number(phonenumbers.parse(lead.phone, None))
        except phonenumbers.NumberParseException:
            verified = False
    return ScoreFacts(
        lead_class=lead.lead_class, score=lead.score,
        breakdown=breakdown_pairs(lead.score_breakdown),
        touches=max(outbound, lead.attempts),
        meeting_booked=any(a.outcome == CallOutcome.MEETING_BOOKED for a in activities),
        replied=any(a.direction == Direction.INBOUND for a in activities),
        connected=any(a.outcome == CallOutcome.CONNECTED for a in activities),
        phone_verified=verified, unsubscribed=lead.do_not_contact)


def rescore(applier: Applier, lead: Lead, activities: Sequence[Activity]) -> None:
    """Recompute ``lead``'s score; promote or park once when a threshold acts."""
    result = score_lead(score_facts(lead, activities))
    diff = applier.set(lead, {"score": result.score, "score_breakdown": result.breakdown})
    if diff:
        applier.audit("scoring", lead, diff, "score recomputed: " + ", ".join(
            f"{b['rule']} {b['points']:+d}" for b in result.breakdown))
        applier.summary.add("score:updated", f"{lead_name(lead)} scores {result.score}")
    if lead.status not in ACTIVE:
        return
    if result.action is ScoreAction.PROMOTE and lead.priority > 1:
        if applier.claim(f"score:promote:{lead.id}", lead.id):
            diff = applier.set(lead, {"priority": lead.priority - 1})
            applier.audit("scoring_promote", lead, diff,
                          f"score {result.score} >= 60 after three touches: priority up one")
            applier.summary.add("score:promoted", f"{lead_name(lead)} promoted")
    elif result.action is ScoreAction.PARK:
        if applier.claim(f"score:park:{lead.id}:{lead.recycle_at or 'first'}", lead.id):
            change = lifecycle.cadence_exhausted(applier.now)
            changes = dict(change.changes)
            changes.pop("no_response_reason")
            diff = applier.set(lead, changes)
            for enr in applier.s.scalars(select(CadenceEnrollment).where(
                    CadenceEnrollment.lead_id == lead.id,
                    CadenceEnrollment.status == EnrollmentStatus.ACTIVE)):
                enr.status, enr.ended_at, enr.end_reason = (
                    EnrollmentStatus.STOPPED, applier.now, "parked")
            applier.audit("scoring_park", lead, diff,
                          f"score {result.score} < 20 after three touches: parked to nurture")
            applier.summary.add("score:parked", f"{lead_name(lead)} parked to nurture")


def _score_pass(bind: Engine, now: datetime, actor: str, summary: PassSummary,
                lead_ids: Iterable[uuid.UUID]) -> None:
    ids = sorted(lead_ids)
    for batch in _batches(ids):
        with Session(bind, expire_on_commit=False) as s, s.begin():
            applier = Applier(s, now, actor, summary)
            acts: dict[uuid.UUID, list[Activity]] = {}
            for a in s.scalars(select(Activity).where(Activity.lead_id.in_(batch),
                                                      Activity.at <= now)):
                acts.setdefault(a.lead_id, []).append(a)
            for lead in s.scalars(_lock(select(Lead).where(Lead.id.in_(batch)), s)):
                rescore(applier, lead, acts.get(lead.id, []))


def run_pass(bind: Engine, now: datetime, *, actor: str = "worker",
             progress: Callable[[str], None] | None = None) -> PassSummary:
    """One pass of every time-driven rule at ``now``; returns what it did.

    Safe to run again at the same ``now`` (it then does nothing) and to run in
    two processes at once.
    """
    summary = PassSummary(now)
    steps: list[tuple[str, Callable[[], Any]]] = [
        ("escalation", lambda: _escalation_pass(bind, now, actor, summary)),
        ("recycle", lambda: _recycle_pass(bind, now, actor, summary)),
    ]
    touched: set[uuid.UUID] = set()
    for name, step in steps:
        if progress:
            progress(name)
        step()
    if progress:
        progress("cadence")
    touched = _cadence_pass(bind, now, actor, summary)
    if progress:
        progress("scoring")
    _score_pass(bind, now, actor, summary, touched)
    log.info("pass at %s: %d decisions %s", now.isoformat(), summary.total, dict(summary.counts))
    return summary


__all__ = ["PassSummary", "PolicyBook", "ensure_defaults", "rescore", "run_pass",
           "due_escalation_ids"]
