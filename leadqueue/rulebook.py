"""The rule book: SLA policies, escalation ladders, acknowledgement timeouts,
cadences and templates as data a team lead edits.

What it owns:

- frozen specs of every rule (:class:`SlaPolicySpec`, :class:`CadenceSpec`,
  :class:`TemplateSpec`) and :class:`RuleBook`, the read view the rules
  editor shows;
- validation at save time: every problem raises :class:`RuleError` naming
  the field (``steps[2].day_offset: -1 is negative ...``), so a bad rule is
  refused in the editor, never discovered at 3 a.m. by the worker;
- saving an edit (upsert, tombstones instead of deletes, an audit entry per
  save);
- :class:`ActiveRules`, the rules as the engine and the schedule use them
  (pure ``rules/`` objects), with the playbook defaults where nothing is
  stored;
- :func:`ensure_defaults`: the default cadence and its templates.

An edit is a spec: take one from :meth:`Workspace.rule_book` and change it
with ``dataclasses.replace``, or build a new one. SLA policies are matched
by (team, priority); cadences and templates by ``id`` (None: a new one, whose
name must not be taken).

Choices worth knowing: ladder stages are stored sorted by offset; a ladder
needs a first-response target (it counts from the deadline); offsets are >= 0
(from the deadline on); the business-hours zone defaults to the lead's team's
zone; a cadence step's template must exist and have the step's channel; a
cadence's steps run in position order with non-decreasing days.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from itertools import pairwise
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .enums import Channel
from .rules.cadence import DEFAULT_CADENCE_NAME, DEFAULT_STEPS, StepSpec
from .rules.escalation import (
    DEFAULT_ACK_MINUTES,
    DEFAULT_LADDER,
    EscalationPolicy,
    LadderAction,
    LadderStage,
)
from .rules.sla import DEFAULT_TARGET_MINUTES, BusinessHours, SlaTarget, parse_hhmm
from .templates import MERGE_FIELDS, describe_problems, validate_template

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from .model import SlaPolicy

log = logging.getLogger("leadqueue.rulebook")

MAX_MINUTES = 60 * 24 * 365
MAX_DAYS = 365 * 10


class RuleError(ValueError):
    """A rule edit that cannot be saved; ``field`` names what is wrong."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.problem = message
        super().__init__(f"{field}: {message}")


# --------------------------------------------------------------------------- specs


@dataclass(frozen=True)
class BusinessHoursSpec:
    """When the SLA clock runs, if ``enabled``: local hours on working days."""

    enabled: bool = False
    #: IANA zone; None: the lead's team's zone (UTC for a lead without a team).
    timezone: str | None = None
    #: ISO weekdays, 1 = Monday.
    working_days: tuple[int, ...] = (1, 2, 3, 4, 5)
    start: str = "09:00"
    end: str = "17:00"
    holidays: tuple[date, ...] = ()


@dataclass(frozen=True)
class LadderStageSpec:
    """A ladder stage: ``action`` (a ``LadderAction`` value) at ``offset_minutes``
    after the first-response deadline."""

    offset_minutes: int
    action: str


DEFAULT_LADDER_SPEC: tuple[LadderStageSpec, ...] = tuple(
    LadderStageSpec(s.offset_minutes, s.action.value) for s in DEFAULT_LADDER)


@dataclass(frozen=True)
class SlaPolicySpec:
    """One priority's SLA policy (team None: the default for every team)."""

    priority: int
    #: None: no first-response target (and then no ladder).
    first_response_minutes: int | None
    ladder: tuple[LadderStageSpec, ...] = DEFAULT_LADDER_SPEC
    ack_backup_minutes: int | None = None
    ack_pool_minutes: int | None = None
    business_hours: BusinessHoursSpec = field(default_factory=BusinessHoursSpec)
    team_id: uuid.UUID | None = None
    #: None: not stored (the playbook default shown until someone saves it).
    id: uuid.UUID | None = None

    def to_policy(self, team_timezone: str | None = None) -> EscalationPolicy:
        """The policy as the pure rules take it (validate first)."""
        bh = self.business_hours
        hours = None
        if bh.enabled:
            hours = BusinessHours(
                timezone=bh.timezone or team_timezone or "UTC",
                working_days=frozenset(bh.working_days),
                start=parse_hhmm(bh.start, "business_hours.start"),
                end=parse_hhmm(bh.end, "business_hours.end"),
                holidays=frozenset(bh.holidays),
            )
        return EscalationPolicy(
            target=SlaTarget(self.priority, self.first_response_minutes, hours),
            ladder=tuple(LadderStage(s.offset_minutes, LadderAction(s.action))
                         for s in self.ladder),
            ack_backup_minutes=self.ack_backup_minutes,
            ack_pool_minutes=self.ack_pool_minutes,
        )


@dataclass(frozen=True)
class CadenceStepSpec:
    """One step: on day ``day_offset`` (1 = the enrolment day) by ``channel``."""

    position: int
    day_offset: int
    channel: str
    #: Template name; None: the channel's built-in template.
    template: str | None = None
    #: "HH:MM" in the lead's zone; None: when the team's calling window opens.
    local_time: str | None = None


@dataclass(frozen=True)
class CadenceSpec:
    name: str
    steps: tuple[CadenceStepSpec, ...]
    team_id: uuid.UUID | None = None
    description: str | None = None
    active: bool = True
    skip_weekends: bool = True
    #: Days in nurture before a no-response lead is recycled.
    recycle_days: int = 90
    id: uuid.UUID | None = None


@dataclass(frozen=True)
class TemplateSpec:
    name: str
    channel: str
    body: str
    subject: str | None = None
    id: uuid.UUID | None = None

    @property
    def fields(self) -> tuple[str, ...]:
        from .templates import template_fields

        return tuple(dict.fromkeys(template_fields(self.subject or "")
                                   + template_fields(self.body)))


#: The names the API contract uses for edits: an edit is a spec.
SlaPolicyEdit = SlaPolicySpec
CadenceEdit = CadenceSpec
CadenceStepEdit = CadenceStepSpec
TemplateEdit = TemplateSpec


@dataclass(frozen=True)
class RuleBook:
    """Every rule as the editor shows it.

    ``sla_policies`` holds, per priority 1-4, the default policy (team None)
    and every team's own override, defaults first.
    """

    sla_policies: tuple[SlaPolicySpec, ...]
    cadences: tuple[CadenceSpec, ...]
    templates: tuple[TemplateSpec, ...]
    #: (name, meaning) of every merge field a template may use.
    merge_fields: tuple[tuple[str, str], ...] = tuple(MERGE_FIELDS.items())
    ladder_actions: tuple[str, ...] = tuple(a.value for a in LadderAction)
    channels: tuple[str, ...] = tuple(c.value for c in Channel)

    def sla_policy(self, priority: int, team_id: uuid.UUID | None = None) -> SlaPolicySpec:
        """The policy in force for ``priority`` in ``team_id`` (its own, else the default)."""
        own = [p for p in self.sla_policies if p.priority == priority and p.team_id == team_id]
        if own:
            return own[0]
        return next(p for p in self.sla_policies if p.priority == priority and p.team_id is None)

    def cadence(self, name: str) -> CadenceSpec:
        for c in self.cadences:
            if c.name == name:
                return c
        raise KeyError(name)

    def template(self, name: str) -> TemplateSpec:
        for t in self.templates:
            if t.name == name:
                return t
        raise KeyError(name)


def default_sla_policy(priority: int) -> SlaPolicySpec:
    minutes = DEFAULT_TARGET_MINUTES.get(priority)
    backup, pool = DEFAULT_ACK_MINUTES.get(priority, (None, None))
    return SlaPolicySpec(priority, minutes, DEFAULT_LADDER_SPEC if minutes is not None else (),
                         backup, pool)


# --------------------------------------------------------------------------- validation


def _int(fld: str, value: Any, lo: int, hi: int, *, optional: bool = False) -> int | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise RuleError(fld, f"{value!r} is not a whole number")
    if value < lo or value > hi:
        if value < 0 <= lo:
            raise RuleError(fld, f"{value} is negative")
        raise RuleError(fld, f"{value} is outside {lo}..{hi}")
    return value


def _hhmm(fld: str, value: Any) -> str:
    try:
        t = parse_hhmm(value, fld)
    except (ValueError, AttributeError):
        raise RuleError(fld, f"{value!r} is not a time of day as HH:MM (e.g. 08:30)") from None
    return f"{t:%H:%M}"


def _zone(fld: str, value: Any) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise RuleError(fld, f"{value!r} is not a time zone name")
    try:
        ZoneInfo(value.strip())
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise RuleError(fld, f"unknown time zone {value!r} (use an IANA name such as "
                             "Europe/Berlin or America/New_York)") from None
    return value.strip()


def _date(fld: str, value: Any) -> date:
    if isinstance(value, datetime):
        raise RuleError(fld, f"{value!r} is a time, not a date")
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise RuleError(fld, f"{value!r} is not a date as YYYY-MM-DD") from None


def _text(fld: str, value: Any, max_len: int, *, required: bool = True) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise RuleError(fld, "is empty")
        return None
    if not isinstance(value, str):
        raise RuleError(fld, f"{value!r} is not text")
    text = value.strip()
    if len(text) > max_len:
        raise RuleError(fld, f"is {len(text)} characters long (at most {max_len})")
    return text


def validate_business_hours(bh: BusinessHoursSpec,
                            prefix: str = "business_hours") -> BusinessHoursSpec:
    zone = _zone(f"{prefix}.timezone", bh.timezone)
    days = list(bh.working_days or ())
    for i, d in enumerate(days):
        _int(f"{prefix}.working_days[{i}]", d, 1, 7)
    if len(set(days)) != len(days):
        raise RuleError(f"{prefix}.working_days", "lists a day twice")
    if bh.enabled and not days:
        raise RuleError(f"{prefix}.working_days", "no working day: the SLA clock would never run")
    start = _hhmm(f"{prefix}.start", bh.start)
    end = _hhmm(f"{prefix}.end", bh.end)
    if start >= end:
        raise RuleError(f"{prefix}.end", f"{end} is not after the start {start}")
    holidays = tuple(sorted({_date(f"{prefix}.holidays[{i}]", h)
                             for i, h in enumerate(bh.holidays or ())}))
    return BusinessHoursSpec(bool(bh.enabled), zone, tuple(sorted(days)), start, end, holidays)


def validate_sla_policy(spec: SlaPolicySpec) -> SlaPolicySpec:
    """The spec, normalised (ladder sorted, dates parsed); RuleError if unusable."""
    priority = _int("priority", spec.priority, 1, 4)
    target = _int("first_response_minutes", spec.first_response_minutes, 1, MAX_MINUTES,
                  optional=True)
    stages: list[LadderStageSpec] = []
    seen: set[tuple[int, str]] = set()
    for i, stage in enumerate(spec.ladder or ()):
        offset = _int(f"ladder[{i}].offset_minutes", stage.offset_minutes, 0, MAX_MINUTES)
        try:
            action = LadderAction(stage.action).value
        except ValueError:
            allowed = ", ".join(a.value for a in LadderAction)
            raise RuleError(f"ladder[{i}].action",
                            f"{stage.action!r} is not one of {allowed}") from None
        assert offset is not None
        if (offset, action) in seen:
            raise RuleError(f"ladder[{i}]", f"{action} at +{offset} min is listed twice")
        seen.add((offset, action))
        stages.append(LadderStageSpec(offset, action))
    if stages and target is None:
        raise RuleError("first_response_minutes",
                        f"P{priority} has an escalation ladder but no first-response target; "
                        "the ladder counts from the deadline, so set a target or remove the ladder")
    backup = _int("ack_backup_minutes", spec.ack_backup_minutes, 1, MAX_MINUTES, optional=True)
    pool = _int("ack_pool_minutes", spec.ack_pool_minutes, 1, MAX_MINUTES, optional=True)
    if backup is not None and pool is not None and pool <= backup:
        raise RuleError("ack_pool_minutes",
                        f"{pool} min is not after the hand-over to the backup ({backup} min)")
    hours = validate_business_hours(spec.business_hours or BusinessHoursSpec())
    out = replace(spec, priority=priority, first_response_minutes=target,
                  ladder=tuple(sorted(stages, key=lambda s: s.offset_minutes)),
                  ack_backup_minutes=backup, ack_pool_minutes=pool, business_hours=hours)
    try:
        out.to_policy("UTC")  # what the worker will do with it
    except ValueError as exc:  # pragma: no cover - the checks above cover it
        raise RuleError("business_hours", str(exc)) from None
    return out


def validate_template_spec(spec: TemplateSpec) -> TemplateSpec:
    name = _text("name", spec.name, 120)
    try:
        channel = Channel(spec.channel).value
    except ValueError:
        raise RuleError("channel", f"{spec.channel!r} is not one of "
                                   f"{', '.join(c.value for c in Channel)}") from None
    subject = _text("subject", spec.subject, 300, required=False)
    body = spec.body
    if not isinstance(body, str) or not body.strip():
        raise RuleError("body", "is empty")
    for fld, text in (("subject", subject or ""), ("body", body)):
        problems = validate_template(text)
        if problems:
            raise RuleError(fld, describe_problems(problems))
    assert name is not None
    return replace(spec, name=name, channel=channel, subject=subject, body=body)


def validate_cadence(spec: CadenceSpec, template_channels: Mapping[str, str]) -> CadenceSpec:
    """``template_channels``: {template name: channel} of every stored template."""
    name = _text("name", spec.name, 120)
    description = _text("description", spec.description, 2000, required=False)
    recycle = _int("recycle_days", spec.recycle_days, 1, MAX_DAYS)
    steps = list(spec.steps or ())
    if not steps:
        raise RuleError("steps", "a cadence needs at least one step")
    clean: list[tuple[int, CadenceStepSpec]] = []
    positions: dict[int, int] = {}
    for i, step in enumerate(steps):
        where = f"steps[{i}]"
        position = _int(f"{where}.position", step.position, 1, 1000)
        assert position is not None
        if position in positions:
            raise RuleError(f"{where}.position",
                            f"position {position} is used twice (steps[{positions[position]}])")
        positions[position] = i
        if isinstance(step.day_offset, int) and not isinstance(step.day_offset, bool) \
                and step.day_offset < 0:
            raise RuleError(f"{where}.day_offset",
                            f"{step.day_offset} is negative (day 1 is the enrolment day)")
        day = _int(f"{where}.day_offset", step.day_offset, 0, MAX_DAYS)
        try:
            channel = Channel(step.channel).value
        except ValueError:
            raise RuleError(f"{where}.channel", f"{step.channel!r} is not one of "
                                                f"{', '.join(c.value for c in Channel)}") from None
        template = _text(f"{where}.template", step.template, 120, required=False)
        if template is not None:
            if template not in template_channels:
                raise RuleError(f"{where}.template", f"no template called {template!r}")
            if template_channels[template] != channel:
                raise RuleError(f"{where}.template",
                                f"{template!r} is a {template_channels[template]} template, "
                                f"the step is a {channel}")
        local = None if step.local_time in (None, "") else _hhmm(f"{where}.local_time",
                                                                  step.local_time)
        assert day is not None
        clean.append((i, CadenceStepSpec(position, day, channel, template, local)))
    clean.sort(key=lambda t: t[1].position)
    for (_, before), (i, after) in pairwise(clean):
        if after.day_offset < before.day_offset:
            raise RuleError(f"steps[{i}].day_offset",
                            f"day {after.day_offset} comes before day {before.day_offset} of "
                            f"position {before.position}; steps run in position order")
    assert name is not None and recycle is not None
    return replace(spec, name=name, description=description, recycle_days=recycle,
                   active=bool(spec.active), skip_weekends=bool(spec.skip_weekends),
                   steps=tuple(s for _, s in clean))


def validate_quiet_hours(start: str | None, end: str | None) -> tuple[str | None, str | None]:
    if start in (None, "") and end in (None, ""):
        return None, None
    if start in (None, "") or end in (None, ""):
        raise RuleError("quiet_hours_end" if start else "quiet_hours_start",
                        "quiet hours need both a start and an end (or neither)")
    s, e = _hhmm("quiet_hours_start", start), _hhmm("quiet_hours_end", end)
    if s == e:
        raise RuleError("quiet_hours_end", f"{e} equals the start: quiet hours would be empty")
    return s, e


# --------------------------------------------------------------------------- reading


def _policy_spec(row: SlaPolicy) -> SlaPolicySpec:
    """A stored row as a spec (as stored: not validated)."""
    return SlaPolicySpec(
        priority=row.priority,
        first_response_minutes=row.first_response_minutes,
        ladder=tuple(LadderStageSpec(int(s["offset_minutes"]), str(s["action"]))
                     for s in (row.escalation or ())),
        ack_backup_minutes=row.ack_backup_minutes,
        ack_pool_minutes=row.ack_pool_minutes,
        business_hours=BusinessHoursSpec(
            enabled=bool(row.business_hours_only), timezone=row.timezone,
            working_days=tuple(int(c) for c in (row.working_days or "") if c.isdigit()),
            start=row.work_start, end=row.work_end,
            holidays=tuple(date.fromisoformat(str(h)) for h in (row.holidays or ()))),
        team_id=row.team_id,
        id=row.id,
    )


def read_rule_book(session: Session) -> RuleBook:
    from sqlalchemy import select

    from .model import Cadence, CadenceStep, SlaPolicy, Template

    policies: list[SlaPolicySpec] = []
    for row in session.scalars(select(SlaPolicy).where(SlaPolicy.deleted_at.is_(None))):
        try:
            policies.append(_policy_spec(row))
        except (ValueError, KeyError, TypeError) as exc:
            log.error("SLA policy %s is unreadable: %s", row.id, exc)
    have = {p.priority for p in policies if p.team_id is None}
    policies += [default_sla_policy(p) for p in (1, 2, 3, 4) if p not in have]
    policies.sort(key=lambda p: (p.team_id is not None, str(p.team_id or ""), p.priority))

    templates = {t.id: t for t in session.scalars(
        select(Template).where(Template.deleted_at.is_(None)))}
    steps: dict[uuid.UUID, list[CadenceStepSpec]] = {}
    for st in session.scalars(select(CadenceStep).where(CadenceStep.deleted_at.is_(None))
                              .order_by(CadenceStep.position)):
        tmpl = templates.get(st.template_id) if st.template_id else None
        steps.setdefault(st.cadence_id, []).append(CadenceStepSpec(
            st.position, st.day_offset, st.channel.value, tmpl.name if tmpl else None,
            st.local_time))
    cadences = tuple(
        CadenceSpec(c.name, tuple(steps.get(c.id, ())), c.team_id, c.description, c.active,
                    c.skip_weekends, c.recycle_days, c.id)
        for c in session.scalars(select(Cadence).where(Cadence.deleted_at.is_(None))
                                 .order_by(Cadence.name)))
    return RuleBook(
        sla_policies=tuple(policies),
        cadences=cadences,
        templates=tuple(sorted((TemplateSpec(t.name, t.channel.value, t.body, t.subject, t.id)
                                for t in templates.values()), key=lambda t: t.name)),
    )


# --------------------------------------------------------------------------- saving


def _audit(session: Session, now: datetime, actor_id: uuid.UUID | None, entity: str,
           entity_id: uuid.UUID, change: dict[str, Any], reason: str) -> None:
    from .model import AuditEntry

    session.add(AuditEntry(at=now, actor_id=actor_id, actor="app" if actor_id else "admin",
                           rule="rule_book", entity=entity, entity_id=entity_id,
                           change=change, reason=reason))


def _check_team(session: Session, team_id: uuid.UUID | None) -> None:
    from .model import Team

    if team_id is not None and session.get(Team, team_id) is None:
        raise RuleError("team_id", f"no team {team_id}")


def save_sla_policy(session: Session, spec: SlaPolicySpec, *, now: datetime,
                    actor_id: uuid.UUID | None = None) -> SlaPolicySpec:
    """Validate and store ``spec`` (one row per team and priority); returns it as stored."""
    from sqlalchemy import select

    from .model import SlaPolicy

    clean = validate_sla_policy(spec)
    _check_team(session, clean.team_id)
    row = session.scalar(select(SlaPolicy).where(
        SlaPolicy.priority == clean.priority,
        SlaPolicy.team_id.is_(None) if clean.team_id is None
        else SlaPolicy.team_id == clean.team_id))
    created = row is None
    if row is None:
        row = SlaPolicy(team_id=clean.team_id, priority=clean.priority)
        session.add(row)
    else:
        row.version = (row.version or 1) + 1
    bh = clean.business_hours
    row.first_response_minutes = clean.first_response_minutes
    row.escalation = [{"offset_minutes": s.offset_minutes, "action": s.action}
                      for s in clean.ladder]
    row.ack_backup_minutes = clean.ack_backup_minutes
    row.ack_pool_minutes = clean.ack_pool_minutes
    row.business_hours_only = bh.enabled
    row.timezone = bh.timezone
    row.working_days = "".join(str(d) for d in bh.working_days)
    row.work_start, row.work_end = bh.start, bh.end
    row.holidays = [d.isoformat() for d in bh.holidays]
    row.updated_at = now
    row.deleted_at = None
    session.flush()
    _audit(session, now, actor_id, "sla_policy", row.id,
           {"policy": [None if created else "changed", _plain_spec(clean)]},
           f"P{clean.priority} SLA policy {'created' if created else 'edited'}")
    return replace(clean, id=row.id)


def save_template(session: Session, spec: TemplateSpec, *, now: datetime,
                  actor_id: uuid.UUID | None = None) -> TemplateSpec:
    from sqlalchemy import select

    from .model import Template

    clean = validate_template_spec(spec)
    row = session.get(Template, clean.id) if clean.id else None
    if clean.id and row is None:
        raise RuleError("id", f"no template {clean.id}")
    clash = session.scalar(select(Template.id).where(Template.name == clean.name))
    if clash is not None and (row is None or clash != row.id):
        raise RuleError("name", f"another template is already called {clean.name!r}")
    if row is not None:
        from .model import CadenceStep

        used = session.scalar(select(CadenceStep.id).where(
            CadenceStep.template_id == row.id, CadenceStep.deleted_at.is_(None),
            CadenceStep.channel != clean.channel).limit(1))
        if used is not None:
            raise RuleError("channel", f"cadence steps of another channel use {row.name!r}")
    created = row is None
    if row is None:
        row = Template(name=clean.name, channel=Channel(clean.channel), body=clean.body)
        session.add(row)
    else:
        row.version = (row.version or 1) + 1
    row.name, row.channel = clean.name, Channel(clean.channel)
    row.subject, row.body = clean.subject, clean.body
    row.updated_at, row.deleted_at = now, None
    session.flush()
    _audit(session, now, actor_id, "template", row.id, {"name": [None, clean.name]},
           f"template {clean.name!r} {'created' if created else 'edited'}")
    return replace(clean, id=row.id)


def save_cadence(session: Session, spec: CadenceSpec, *, now: datetime,
                 actor_id: uuid.UUID | None = None) -> CadenceSpec:
    """Validate and store a cadence and its steps (matched by position)."""
    from sqlalchemy import select

    from .model import Cadence, CadenceStep, Template

    templates = {t.name: t for t in session.scalars(
        select(Template).where(Template.deleted_at.is_(None)))}
    clean = validate_cadence(spec, {n: t.channel.value for n, t in templates.items()})
    _check_team(session, clean.team_id)
    row = session.get(Cadence, clean.id) if clean.id else None
    if clean.id and row is None:
        raise RuleError("id", f"no cadence {clean.id}")
    clash = session.scalar(select(Cadence.id).where(Cadence.name == clean.name))
    if clash is not None and (row is None or clash != row.id):
        raise RuleError("name", f"another cadence is already called {clean.name!r}")
    created = row is None
    if row is None:
        row = Cadence(name=clean.name)
        session.add(row)
    else:
        row.version = (row.version or 1) + 1
    row.name, row.team_id, row.description = clean.name, clean.team_id, clean.description
    row.active, row.skip_weekends, row.recycle_days = (clean.active, clean.skip_weekends,
                                                       clean.recycle_days)
    row.updated_at, row.deleted_at = now, None
    session.flush()
    existing = {st.position: st for st in session.scalars(
        select(CadenceStep).where(CadenceStep.cadence_id == row.id))}
    wanted = {s.position for s in clean.steps}
    for step in clean.steps:
        st = existing.get(step.position)
        if st is None:
            st = CadenceStep(cadence_id=row.id, position=step.position)
            session.add(st)
        else:
            st.version = (st.version or 1) + 1
        st.day_offset, st.channel = step.day_offset, Channel(step.channel)
        st.template_id = templates[step.template].id if step.template else None
        st.local_time = step.local_time
        st.updated_at, st.deleted_at = now, None
    for position, st in existing.items():
        if position not in wanted and st.deleted_at is None:
            st.deleted_at = st.updated_at = now
            st.version = (st.version or 1) + 1
    session.flush()
    _audit(session, now, actor_id, "cadence", row.id,
           {"steps": [None, [f"day {s.day_offset} {s.channel}" for s in clean.steps]]},
           f"cadence {clean.name!r} {'created' if created else 'edited'}")
    return replace(clean, id=row.id)


def _plain_spec(spec: SlaPolicySpec) -> dict[str, Any]:
    return {
        "first_response_minutes": spec.first_response_minutes,
        "ladder": [[s.offset_minutes, s.action] for s in spec.ladder],
        "ack": [spec.ack_backup_minutes, spec.ack_pool_minutes],
        "business_hours": spec.business_hours.enabled,
    }


# --------------------------------------------------------------------------- defaults

#: Default templates of the default cadence: (name, channel, subject, body).
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


def ensure_defaults(session: Session) -> bool:
    """Create the default cadence and its templates if absent; True if created.

    Idempotent: matches on names, never duplicates or overwrites an edit.
    """
    from sqlalchemy import select

    from .model import Cadence, CadenceStep, Template

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


# --------------------------------------------------------------------------- in force


class ActiveRules:
    """The rules in force, as the engine and the schedule use them.

    Read once per batch. A stored row that no longer validates (saved before
    validation existed) is skipped with an error in the log, never a crash.
    """

    def __init__(self, session: Session) -> None:
        from sqlalchemy import select

        from .model import Cadence, CadenceStep, SlaPolicy, Team, Template

        self._specs: dict[tuple[uuid.UUID | None, int], SlaPolicySpec | None] = {}
        for row in session.scalars(select(SlaPolicy).where(SlaPolicy.deleted_at.is_(None))):
            try:
                self._specs[(row.team_id, row.priority)] = validate_sla_policy(_policy_spec(row))
            except (RuleError, ValueError, KeyError, TypeError) as exc:
                log.error("SLA policy P%s (team %s) is unusable and skipped: %s",
                          row.priority, row.team_id, exc)
                self._specs[(row.team_id, row.priority)] = None
        teams = session.execute(select(Team.id, Team.timezone, Team.calling_window_start)).all()
        self.team_zone = {t: z for t, z, _ in teams}
        self.windows = {t: w or "08:00" for t, _, w in teams}
        self._policies: dict[tuple[uuid.UUID | None, int], EscalationPolicy | None] = {}
        self.cadences = {c.id: c for c in session.scalars(select(Cadence))}
        names = {t.id: t.name for t in session.scalars(select(Template))}
        self.steps: dict[uuid.UUID, list[StepSpec]] = {}
        for st in session.scalars(select(CadenceStep).where(CadenceStep.deleted_at.is_(None))
                                  .order_by(CadenceStep.position)):
            self.steps.setdefault(st.cadence_id, []).append(StepSpec(
                st.position, st.day_offset, st.channel, st.local_time,
                names.get(st.template_id) if st.template_id else None))

    def spec(self, team_id: uuid.UUID | None, priority: int) -> SlaPolicySpec | None:
        if (team_id, priority) in self._specs:
            return self._specs[(team_id, priority)]
        if (None, priority) in self._specs:
            return self._specs[(None, priority)]
        return default_sla_policy(priority)

    def policy(self, team_id: uuid.UUID | None, priority: int) -> EscalationPolicy | None:
        """The escalation policy for a lead of ``team_id`` with ``priority``."""
        key = (team_id, priority)
        if key not in self._policies:
            spec = self.spec(team_id, priority)
            self._policies[key] = None if spec is None else spec.to_policy(
                self.team_zone.get(team_id) if team_id else None)
        return self._policies[key]

    def earliest_minutes(self, priority: int) -> tuple[int | None, int | None]:
        """The smallest first-response target and ack timeout for ``priority``
        over every team: a wall-clock cut-off no business-hours deadline beats."""
        specs = [s for (_, p), s in self._specs.items() if p == priority and s is not None]
        if (None, priority) not in self._specs:
            specs.append(default_sla_policy(priority))
        targets = [s.first_response_minutes for s in specs if s.first_response_minutes]
        acks = [m for s in specs for m in (s.ack_backup_minutes, s.ack_pool_minutes) if m]
        return (min(targets) if targets else None, min(acks) if acks else None)

    def cadence_for(self, team_id: uuid.UUID | None) -> Any | None:
        """The cadence a lead of ``team_id`` is enrolled in: its team's, else the default."""
        active = [c for c in self.cadences.values()
                  if c.active and c.deleted_at is None and self.steps.get(c.id)]
        own = [c for c in active if team_id is not None and c.team_id == team_id]
        default = [c for c in active if c.name == DEFAULT_CADENCE_NAME and c.team_id is None]
        chosen = own or default or [c for c in active if c.team_id is None]
        return sorted(chosen, key=lambda c: c.name)[0] if chosen else None

    def window_start(self, team_id: uuid.UUID | None) -> str:
        return self.windows.get(team_id, "08:00") if team_id else "08:00"


__all__ = [
    "ActiveRules", "BusinessHoursSpec", "CadenceEdit", "CadenceSpec", "CadenceStepEdit",
    "CadenceStepSpec", "LadderStageSpec", "RuleBook", "RuleError", "SlaPolicyEdit",
    "SlaPolicySpec", "TemplateEdit", "TemplateSpec", "default_sla_policy", "ensure_defaults",
    "read_rule_book", "save_cadence", "save_sla_policy", "save_template",
    "validate_cadence", "validate_quiet_hours", "validate_sla_policy", "validate_template_spec",
]
