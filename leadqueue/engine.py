"""The rule engine: finds due work with indexed queries, asks the pure rules in
``leadqueue/rules/`` what to do, and applies their decisions.

What it owns:

- one pass (:func:`run_pass`) over the time-driven rules, in this order: SLA
  escalation ladder and acknowledgement timeouts, recycle dates, cadence
  enrolment, cadence steps (a touch completes the step, the next one becomes
  the lead's next step; a reply or a booked meeting ends the enrollment;
  running out of steps moves the lead to no-response, then nurture), and
  scoring of leads changed since they were last scored;
- applying each batch of decisions in one transaction, with an
  ``audit_log`` entry per decision (rule, what changed, why) and a
  ``rule_firings`` row per escalation stage (so it fires once per lead and
  assignment);
- notifications for people as ``notifications`` rows (the recipient's app
  shows them; the worker has no screen).

How a batch runs: read the batch's rows with Core selects of only the columns
the rules need, as plain tuples (no ORM objects, no per-lead queries: a
batch's firing keys, enrollments and activities come with one select each);
decide with the pure rules (a :class:`Plan` per lead, whose audit entries and
notifications are built as tuples in the tables' column order); claim every
firing key of the batch at once; then write the surviving plans with one
statement per table. On PostgreSQL the inserts are binary COPY and the lead
and enrollment updates one ``UPDATE ... FROM unnest(arrays)`` per set of
changed columns (one round trip, no temporary table); where row-level
security refuses COPY (an admin login on an installed database) and on
SQLite the inserts are one executemany each.

Concurrency: on PostgreSQL the batch's lead rows are locked with ``FOR UPDATE
SKIP LOCKED`` before deciding, so a second worker skips them; on SQLite the
batch takes the write lock first (``BEGIN IMMEDIATE``), so it reads what the
last writer committed. The unique firing keys are the last line: a plan whose
key another worker already holds is dropped whole (its own claims undone in
the same transaction). Every batch commits on its own, so killing the worker
at any moment loses at most an uncommitted batch, which the next pass redoes.
A lead skipped because another transaction held it is tried once more at the
end of the pass, this time waiting for its lock (bounded by
:data:`LOCK_WAIT_MS`): two workers could otherwise each skip, for one rule, a
lead the other held for another rule.

``run_pass(..., dry_run=True)`` decides without writing anything: the
worker's ``--dry-run`` and the decide-phase benchmark. ``PassSummary.timings``
says where a pass spent its time (benchmarks/bench_worker.py prints it).
"""

from __future__ import annotations

import gc
import logging
import threading
import time
import uuid
from collections import Counter, defaultdict, namedtuple
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from operator import attrgetter
from typing import Any

from sqlalchemy import (
    JSON,
    and_,
    any_,
    bindparam,
    delete,
    exists,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .enums import (
    ActivityKind,
    CallOutcome,
    Channel,
    Direction,
    EnrollmentStatus,
    LeadStatus,
    NextStepKind,
    NoResponseReason,
    NotificationLevel,
    Role,
)
from .ids import uuid7
from .model import (
    Activity,
    AuditEntry,
    CadenceEnrollment,
    Lead,
    Notification,
    RuleFiring,
    User,
)
from .rulebook import DEFAULT_TEMPLATES, ActiveRules, ensure_defaults
from .rules import lifecycle
from .rules.cadence import CadenceAction, EnrollmentState, next_cadence_decision
from .rules.escalation import (
    AckAction,
    EscalationStep,
    LadderAction,
    LeadTiming,
    handover_key,
    plan_escalation,
    with_firings,
)
from .rules.scoring import ScoreAction, ScoreFacts, breakdown_pairs, score_lead

log = logging.getLogger("leadqueue.engine")

ACTIVE = (LeadStatus.NEW, LeadStatus.WORKING)
#: Statuses whose score is kept up to date (terminal ones are left alone).
SCORED = (LeadStatus.NEW, LeadStatus.WORKING, LeadStatus.MEETING, LeadStatus.NURTURE,
          LeadStatus.NO_RESPONSE)
#: Leads per batch (one transaction each). Each batch costs a fixed number of
#: statements and round trips (lock and read, claim, one statement per table,
#: commit): about 10 ms on the benchmark, so 500-lead batches cost a tenth
#: more than 2,000-lead ones. A batch of 2,000 holds its row locks for about
#: a quarter of a second.
BATCH = 2000
CLAIM_CHUNK = 2000
#: How long the catch-up round waits for a lead another transaction holds
#: (a worker's batch takes a few tenths of a second). Below PostgreSQL's
#: default deadlock_timeout (1 s), so in the rare cycle with an application
#: transaction that locks two leads it is the worker that gives up, not the app.
LOCK_WAIT_MS = 750

L = Lead.__table__
E = CadenceEnrollment.__table__
A = Activity.__table__
F = RuleFiring.__table__
U = User.__table__
AUDIT = AuditEntry.__table__
NOTE = Notification.__table__

_CHANNEL_STEP_KIND = {
    Channel.CALL: NextStepKind.CALL,
    Channel.EMAIL: NextStepKind.EMAIL,
    Channel.SMS: NextStepKind.SMS,
    Channel.SOCIAL: NextStepKind.SOCIAL,
}

#: Lead columns the scoring pass reads (a plan may change any of them).
_LEAD_COLS = (
    L.c.id, L.c.first_name, L.c.last_name, L.c.company, L.c.status, L.c.priority,
    L.c.owner_id, L.c.team_id, L.c.created_at, L.c.assigned_at, L.c.acknowledged_at,
    L.c.first_action_at, L.c.last_action_at, L.c.timezone, L.c.next_step_kind,
    L.c.next_step_at, L.c.next_step, L.c.do_not_contact, L.c.attempts, L.c.recycle_at,
    L.c.no_response_reason, L.c.updated_at, L.c.scored_at,
)
#: What escalation reads: the SLA clock and the assignment fields it changes.
#: Each pass reads only what its rules and plans use (a timestamp costs a
#: conversion per row).
_ESCALATION_COLS = (
    L.c.id, L.c.first_name, L.c.last_name, L.c.company, L.c.priority, L.c.owner_id,
    L.c.team_id, L.c.created_at, L.c.assigned_at, L.c.acknowledged_at, L.c.first_action_at,
    L.c.last_action_at,
)
#: What enrolment, cadence steps and recycling read: the next step and the
#: lifecycle fields they change.
_CADENCE_COLS = (
    L.c.id, L.c.first_name, L.c.last_name, L.c.company, L.c.status, L.c.priority,
    L.c.team_id, L.c.timezone, L.c.next_step_kind, L.c.next_step_at, L.c.next_step,
    L.c.do_not_contact, L.c.attempts, L.c.recycle_at, L.c.no_response_reason,
)
#: Scoring also reads these (JSON columns cost a decode per row: only here).
_SCORE_COLS = (*_LEAD_COLS, L.c.lead_class, L.c.score, L.c.score_breakdown, L.c.phone,
               L.c.data_issues)
#: What the cadence rules read of an enrollment (it is a dict the rules change
#: in place; only the changed fields are written back).
_ENR_COLS = (E.c.id, E.c.lead_id, E.c.cadence_id, E.c.status, E.c.enrolled_at,
             E.c.current_step, E.c.step_scheduled_at)

#: Rows the engine inserts, as tuples in these column orders.
AUDIT_COLS = ("id", "at", "actor_id", "actor", "rule", "entity", "entity_id", "change",
              "reason")
NOTE_COLS = ("id", "version", "updated_at", "recipient_id", "lead_id", "level", "title",
             "body", "created_at", "dedupe_key")
FIRING_COLS = ("id", "key", "lead_id", "fired_at", "delivered")
ENR_COLS = ("id", "version", "server_seq", "updated_at", "deleted_at", "lead_id", "cadence_id",
            "status", "enrolled_at", "current_step", "ended_at", "end_reason",
            "step_scheduled_at")


@dataclass
class PassSummary:
    """What one pass did: counts per decision kind and one line per decision."""

    at: datetime
    counts: Counter[str] = field(default_factory=Counter)
    lines: list[str] = field(default_factory=list)
    dry_run: bool = False
    #: Plans dropped because another worker had claimed one of their keys
    #: first (that worker applies them).
    skipped: int = 0
    #: The leads that had at least one decision.
    leads: set[uuid.UUID] = field(default_factory=set)
    #: Seconds spent per phase: setup, due (finding the work), read (the batches'
    #: locked reads), rules (the pure rules), decide (building the plans),
    #: claim (firing keys), update, insert, commit, other.
    timings: Counter[str] = field(default_factory=Counter)
    #: Of those, seconds this process's thread ran (the rest is waiting for
    #: the database).
    cpu: Counter[str] = field(default_factory=Counter)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def add(self, kind: str, line: str) -> None:
        self.counts[kind] += 1
        self.lines.append(line)

    def report(self, *, detail: bool = True) -> str:
        verb = "would apply" if self.dry_run else "applied"
        head = f"rules at {self.at.isoformat()}: {verb} {self.total} decision" + (
            "" if self.total == 1 else "s")
        out = [head]
        out += [f"  {kind}: {n}" for kind, n in sorted(self.counts.items())]
        if detail:
            out += [f"  - {line}" for line in self.lines]
        return "\n".join(out)


def lead_name(lead: Any) -> str:
    """"First Last (Company)" of a lead row (anything with those attributes)."""
    name = f"{lead.first_name} {lead.last_name}".strip()
    return name + (f" ({lead.company})" if lead.company else "")


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value.value if hasattr(value, "value") else value


# --------------------------------------------------------------------------- context


@dataclass(frozen=True)
class Person:
    id: uuid.UUID
    name: str
    role: Role
    team_id: uuid.UUID | None
    backup_id: uuid.UUID | None
    usable: bool


class Context:
    """What every batch of one pass shares: the time, the rules, the people."""

    def __init__(self, session: Session, now: datetime, actor: str, dry_run: bool) -> None:
        self.now = now
        self.actor = actor
        self.dry_run = dry_run
        self.pg = _is_pg(session)
        self.rules = ActiveRules(session)
        ooo = getattr(U.c, "out_of_office_until", None)
        cols = [U.c.id, U.c.name, U.c.role, U.c.team_id, U.c.backup_id, U.c.available,
                U.c.disabled, U.c.deleted_at] + ([ooo] if ooo is not None else [])
        self.people: dict[uuid.UUID, Person] = {}
        for row in session.execute(select(*cols)):
            away = ooo is not None and row[-1] is not None and row[-1] > now
            usable = bool(row.available) and not row.disabled and row.deleted_at is None \
                and not away
            self.people[row.id] = Person(row.id, row.name, Role(row.role), row.team_id,
                                         row.backup_id, usable)
        self._copy_ok: dict[str, bool] = {}
        self._pg_types: dict[str, dict[str, tuple[int, str]]] = {}
        self._leads_of: dict[uuid.UUID | None, list[uuid.UUID]] = defaultdict(list)
        for p in self.people.values():
            if p.role is Role.TEAM_LEAD and p.usable:
                self._leads_of[p.team_id].append(p.id)
        self._backups: dict[uuid.UUID, uuid.UUID | None] = {}
        self._cadences: dict[uuid.UUID | None, Any] = {}
        #: Lead ids a locked read of this pass did not get (see _run_batches).
        self.missed: list[uuid.UUID] = []
        #: Wait for row locks (the catch-up round) instead of skipping locked rows.
        self.wait = False
        self.timings: Counter[str] = Counter()
        self.cpu: Counter[str] = Counter()
        self.lap_at = time.perf_counter()
        self.cpu_at = time.thread_time()
        self._in_rules = 0.0

    def lap(self, phase: str) -> None:
        """Charge the time since the last lap to ``phase`` (less what the pure
        rules took meanwhile: that is charged to "rules")."""
        t, c = time.perf_counter(), time.thread_time()
        self.timings[phase] += t - self.lap_at - self._in_rules
        self.cpu[phase] += c - self.cpu_at - self._in_rules
        self._in_rules = 0.0
        self.lap_at, self.cpu_at = t, c

    def rule(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Call a pure rule, timing it apart from the engine's own work."""
        t = time.perf_counter()
        try:
            return fn(*args)
        finally:
            spent = time.perf_counter() - t
            self._in_rules += spent
            self.timings["rules"] += spent
            self.cpu["rules"] += spent  # pure Python: no waiting

    def backup_of(self, owner_id: uuid.UUID) -> uuid.UUID | None:
        if owner_id in self._backups:
            return self._backups[owner_id]
        owner = self.people.get(owner_id)
        found = None
        if owner is not None and owner.backup_id is not None and owner.backup_id != owner_id:
            backup = self.people.get(owner.backup_id)
            found = backup.id if backup is not None and backup.usable else None
        self._backups[owner_id] = found
        return found

    def team_leads(self, team_id: uuid.UUID | None, owner_id: uuid.UUID | None) -> list[uuid.UUID]:
        if team_id is None and owner_id in self.people:
            team_id = self.people[owner_id].team_id
        return list(self._leads_of.get(team_id, ()))

    def cadence_for(self, team_id: uuid.UUID | None) -> Any | None:
        """The cadence a lead of ``team_id`` is enrolled in (the rules' answer, kept
        for the pass: the rules do not change while it runs)."""
        if team_id not in self._cadences:
            self._cadences[team_id] = self.rules.cadence_for(team_id)
        return self._cadences[team_id]

    def can_copy(self, session: Session, table: Any) -> bool:
        """Whether COPY may append to ``table``: PostgreSQL refuses COPY FROM on a
        table whose row-level security applies to us (``admin init`` forces it;
        a superuser or BYPASSRLS role is exempt)."""
        if not self.pg:
            return False
        if table.name not in self._copy_ok:
            self._copy_ok[table.name] = bool(session.execute(text(
                "SELECT NOT c.relrowsecurity OR r.rolsuper OR r.rolbypassrls "
                "FROM pg_class c JOIN pg_roles r ON r.rolname = current_user "
                "WHERE c.oid = to_regclass(:t)"), {"t": table.name}).scalar())
        return self._copy_ok[table.name]

    def pg_types(self, session: Session, table: Any) -> dict[str, tuple[int, str]]:
        """{column: (type oid, type name)} of a PostgreSQL table, as the server
        has it (binary COPY and typed arrays must match it exactly)."""
        if table.name not in self._pg_types:
            self._pg_types[table.name] = {name: (oid, typ) for name, oid, typ in session.execute(
                text("SELECT attname, atttypid::int, format_type(atttypid, atttypmod) "
                     "FROM pg_attribute WHERE attrelid = to_regclass(:t) AND attnum > 0 "
                     "AND NOT attisdropped"), {"t": table.name})}
        return self._pg_types[table.name]

    def name_of(self, person_id: uuid.UUID | None) -> str:
        p = self.people.get(person_id) if person_id else None
        return p.name if p else "nobody"


# --------------------------------------------------------------------------- plans


class Plan:
    """Everything one pass decides for one lead, applied all or nothing.

    ``lead`` is the lead's row (a named tuple of the columns read); audit
    entries and notifications are tuples in :data:`AUDIT_COLS` and
    :data:`NOTE_COLS` order, ready for COPY, less their ids (given when they
    are written: a dry run needs none).
    """

    __slots__ = ("audits", "bump", "changes", "ctx", "enr_new", "enr_set", "keys", "lead",
                 "lead_id", "lines", "name", "notes")

    def __init__(self, ctx: Context, lead: Any) -> None:
        self.ctx = ctx
        self.lead = lead
        self.lead_id: uuid.UUID = lead.id
        self.name = lead_name(lead)
        self.keys: list[tuple[str, bool]] = []
        self.changes: dict[str, Any] = {}
        #: False: the changes are bookkeeping (scored_at) and do not bump the version.
        self.bump = False
        self.audits: list[tuple[Any, ...]] = []
        self.notes: list[tuple[Any, ...]] = []
        self.enr_new: list[dict[str, Any]] = []
        self.enr_set: dict[uuid.UUID, dict[str, Any]] = {}
        self.lines: list[tuple[str, str]] = []

    def get(self, column: str) -> Any:
        return self.changes[column] if column in self.changes else getattr(self.lead, column)

    def set(self, **changes: Any) -> dict[str, tuple[Any, Any]]:
        """Change lead fields; returns {field: (old, new)} for those that changed."""
        diff = {}
        for name, value in changes.items():
            old = self.get(name)
            if old != value:
                diff[name] = (old, value)
                self.changes[name] = value
        if diff:
            self.bump = True
        return diff

    def key(self, key: str, delivered: bool = True) -> None:
        self.keys.append((key, delivered))

    def audit(self, rule: str, diff: Mapping[str, tuple[Any, Any]], reason: str,
              entity: str = "lead", entity_id: uuid.UUID | None = None) -> None:
        ctx = self.ctx
        self.audits.append((
            ctx.now, None, ctx.actor, rule, entity, entity_id or self.lead_id,
            {k: [_plain(a), _plain(b)] for k, (a, b) in diff.items()}, reason))

    def notify(self, recipient: uuid.UUID | None, level: NotificationLevel, title: str,
               body: str, dedupe: str) -> None:
        if recipient is None:
            return
        now = self.ctx.now
        self.notes.append((1, now, recipient, self.lead_id, level, title[:200], body, now,
                           f"{dedupe}:{recipient}"[:200]))

    def line(self, kind: str, text: str) -> None:
        self.lines.append((kind, text))

    @property
    def empty(self) -> bool:
        return not (self.changes or self.audits or self.notes or self.enr_new or self.enr_set
                    or self.keys)


# --------------------------------------------------------------------------- transactions


def _is_pg(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _begin(session: Session, ctx: Context) -> None:
    """Start a batch: on SQLite take the write lock first, so what we read is
    what the last writer committed (a second worker waits, then sees our work).
    On PostgreSQL a batch that waits for row locks waits a bounded time."""
    if ctx.dry_run:
        return
    if not ctx.pg:
        session.connection().exec_driver_sql("BEGIN IMMEDIATE")
    elif ctx.wait:
        session.connection().exec_driver_sql(f"SET LOCAL lock_timeout = '{LOCK_WAIT_MS}ms'")


def _lock(stmt: Any, session: Session, ctx: Context, *tables: Any) -> Any:
    """Lock the rows ``stmt`` reads (PostgreSQL), skipping rows another
    transaction holds; the catch-up round waits for the leads' rows instead
    (only for those: every batch takes its leads' locks first, in id order)."""
    if ctx.pg and not ctx.dry_run:
        return stmt.with_for_update(skip_locked=not (ctx.wait and L in tables),
                                    of=list(tables) or None)
    return stmt


def _among(column: Any, ids: Iterable[Any], session: Session) -> Any:
    """``column IN ids``: one array parameter on PostgreSQL (``= ANY``), so a
    batch's ids are bound once instead of as a thousand parameters."""
    if _is_pg(session):
        from sqlalchemy.dialects.postgresql import ARRAY

        return column == any_(bindparam(None, list(ids), type_=ARRAY(column.type)))
    return column.in_(list(ids))


_shapes: dict[tuple[str, ...], Any] = {}
#: Sort key for lead ids (UUIDs order by this integer).
_uuid_int = attrgetter("int")


def _tuples(result: Any) -> list[Any]:
    """A result's rows as named tuples (cheaper to build and to read than rows
    or dicts; the rules read a column by name)."""
    keys = tuple(result.keys())
    shape = _shapes.get(keys)
    if shape is None:
        shape = _shapes.setdefault(keys, namedtuple("Row", keys))  # type: ignore[misc]
    make = shape._make
    return [make(r) for r in result]


def _batches(ids: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for i in range(0, len(ids), size):
        yield ids[i:i + size]


def _claim(session: Session, ctx: Context, plans: list[Plan]) -> list[Plan]:
    """Insert every firing key of ``plans``; keep the plans that got all of theirs."""
    now = ctx.now
    rows = [(uuid7(), k, p.lead_id, now, d) for p in plans for k, d in p.keys]
    if not rows:
        return plans
    if ctx.can_copy(session, F):
        # The rows are locked, so a conflict means another worker got there
        # between our reads: rare. COPY all keys in a savepoint; only on a
        # unique violation take the slower statement that skips the taken ones.
        import psycopg

        savepoint = session.begin_nested()
        try:
            _copy(session, ctx, F, FIRING_COLS, rows)
        except psycopg.errors.UniqueViolation:
            savepoint.rollback()
        else:
            savepoint.commit()
            return plans
    if ctx.pg:
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    got: set[str] = set()
    stmt = dialect_insert(F).on_conflict_do_nothing(index_elements=["key"]).returning(
        F.c.key, sort_by_parameter_order=True)
    params = [dict(zip(FIRING_COLS, r, strict=True)) for r in rows]
    for i in range(0, len(params), CLAIM_CHUNK):
        got.update(session.execute(stmt, params[i:i + CLAIM_CHUNK]).scalars())
    kept, undo = [], []
    for p in plans:
        if all(k in got for k, _ in p.keys):
            kept.append(p)
        else:
            undo += [k for k, _ in p.keys if k in got]
    if undo:
        session.execute(delete(F).where(F.c.key.in_(undo)))
    return kept


def _copy(session: Session, ctx: Context, table: Any, cols: Sequence[str],
          rows: Iterable[Sequence[Any]]) -> None:
    """Append ``rows`` (tuples in ``cols`` order) to ``table`` with PostgreSQL
    binary COPY, in the session's transaction.

    DESIGN.md §5: COPY runs about twice as fast as an executemany here; the
    binary format skips formatting and parsing text (types from the catalog).
    """
    types = ctx.pg_types(session, table)
    raw = session.connection().connection.driver_connection
    with raw.cursor() as cur, cur.copy(
            f"COPY {table.name} ({', '.join(cols)}) FROM STDIN (FORMAT BINARY)") as cp:
        cp.set_types([types[c][0] for c in cols])
        write = cp.write_row
        for row in rows:
            write(row)


def _insert(session: Session, ctx: Context, table: Any, cols: Sequence[str],
            rows: list[Sequence[Any]]) -> None:
    if not rows:
        return
    if ctx.can_copy(session, table):
        _copy(session, ctx, table, cols, rows)
    else:
        session.execute(insert(table), [dict(zip(cols, r, strict=True)) for r in rows])


def _update_many(session: Session, table: Any, rows: dict[uuid.UUID, dict[str, Any]],
                 bump: Mapping[uuid.UUID, bool], now: datetime, *,
                 keep_scored: bool = False, ctx: Context | None = None) -> None:
    """One UPDATE per set of changed columns; bumps version/updated_at where asked.

    On PostgreSQL each set is one ``UPDATE ... FROM unnest(arrays)`` (one round
    trip for any number of rows); elsewhere one executemany.

    ``keep_scored`` (leads): none of the engine's own changes (owner, status,
    next step, dates, priority) is a scoring fact, so a lead whose score was
    current (scored since its last change and its last activity) stays current
    instead of being rescored for nothing.
    """
    groups: dict[tuple[tuple[str, ...], bool], list[tuple[uuid.UUID, dict[str, Any]]]] = \
        defaultdict(list)
    for row_id, changes in rows.items():
        if changes:
            groups[(tuple(sorted(changes)), bump.get(row_id, True))].append((row_id, changes))
    if not groups:
        return
    if ctx is not None and ctx.pg:
        for (cols, bumped), items in groups.items():
            _update_unnest(session, ctx, table, cols, bumped, items, now, keep_scored)
        return
    for (cols, bumped), items in groups.items():
        values: dict[str, Any] = {c: bindparam(f"v_{c}", type_=table.c[c].type) for c in cols}
        params = [{"_id": row_id, **{f"v_{c}": changes[c] for c in cols}}
                  for row_id, changes in items]
        if bumped:
            now_p = bindparam("_now", now, type_=table.c.updated_at.type)
            values["version"] = table.c.version + 1
            values["updated_at"] = now_p
            for p in params:
                p["_now"] = now
            if keep_scored and "scored_at" not in cols:
                from sqlalchemy import case

                scored = table.c.scored_at
                values["scored_at"] = case(
                    (and_(scored >= table.c.updated_at, ~exists().where(
                        A.c.lead_id == table.c.id, A.c.at > scored)),
                     case((scored > now_p, scored), else_=now_p)),
                    else_=scored)
        session.execute(update(table).where(table.c.id == bindparam("_id")).values(values),
                        params)


def _update_unnest(session: Session, ctx: Context, table: Any, cols: tuple[str, ...],
                   bumped: bool, items: list[tuple[uuid.UUID, dict[str, Any]]],
                   now: datetime, keep_scored: bool) -> None:
    """``UPDATE table SET col = v.col ... FROM unnest(ids, col...) AS v``: the
    new values travel as one typed array per column, in binary (no quoting or
    parsing of text arrays)."""
    from psycopg.types.json import Jsonb

    types = ctx.pg_types(session, table)
    t = table.name
    params: dict[str, Any] = {"now": now, "c0": [row_id for row_id, _ in items]}
    arrays = [f"CAST(%(c0)b AS {types['id'][1]}[])"]
    sets = []
    for i, c in enumerate(cols, start=1):
        values = [changes[c] for _, changes in items]
        if isinstance(table.c[c].type, JSON):
            values = [None if v is None else Jsonb(v) for v in values]
        params[f"c{i}"] = values
        arrays.append(f"CAST(%(c{i})b AS {types[c][1]}[])")
        sets.append(f"{c} = v.{c}")
    if bumped:
        sets += [f"version = {t}.version + 1", "updated_at = %(now)b"]
        if keep_scored and "scored_at" not in cols:
            sets.append(
                f"scored_at = CASE WHEN {t}.scored_at >= {t}.updated_at AND NOT EXISTS ("
                f"SELECT 1 FROM activities a WHERE a.lead_id = {t}.id AND a.at > {t}.scored_at)"
                f" THEN GREATEST({t}.scored_at, %(now)b) ELSE {t}.scored_at END")
    raw = session.connection().connection.driver_connection
    raw.execute(f"UPDATE {t} SET {', '.join(sets)} FROM unnest({', '.join(arrays)}) "
                f"AS v(id, {', '.join(cols)}) WHERE {t}.id = v.id", params)


def _commit_plans(session: Session, ctx: Context, plans: list[Plan]) -> tuple[list[Plan], int]:
    """Write ``plans``; returns the plans applied and how many were dropped
    (another worker held one of their keys)."""
    plans = [p for p in plans if not p.empty]
    if not plans or ctx.dry_run:
        return plans, 0
    before = len(plans)
    plans = _claim(session, ctx, plans)
    ctx.lap("claim")
    _update_many(session, L, {p.lead_id: p.changes for p in plans},
                 {p.lead_id: p.bump for p in plans}, ctx.now, keep_scored=True, ctx=ctx)
    enr_set = {eid: ch for p in plans for eid, ch in p.enr_set.items()}
    _update_many(session, E, enr_set, {}, ctx.now, ctx=ctx)
    ctx.lap("update")
    _insert(session, ctx, E, ENR_COLS,
            [tuple(r[c] for c in ENR_COLS) for p in plans for r in p.enr_new])
    _insert(session, ctx, AUDIT, AUDIT_COLS, [(uuid7(), *a) for p in plans for a in p.audits])
    _insert(session, ctx, NOTE, NOTE_COLS, [(uuid7(), *n) for p in plans for n in p.notes])
    ctx.lap("insert")
    return plans, before - len(plans)


def _run_batches(bind: Engine, ctx: Context, ids: Sequence[Any], summary: PassSummary,
                 work: Callable[[Session, Sequence[Any]], list[Plan]], size: int) -> list[Any]:
    """Run ``work`` over ``ids`` in batches, one transaction each; returns the
    ids the batches' locked reads did not get (another worker held them)."""
    first_missed = len(ctx.missed)
    for batch in _batches(ids, size):
        with Session(bind) as s:
            ctx.lap("other")
            _begin(s, ctx)
            try:
                plans = work(s, batch)
                ctx.lap("decide")
                plans, skipped = _commit_plans(s, ctx, plans)
            except Exception as exc:  # the driver's own errors too (COPY, bulk UPDATE)
                if not (ctx.wait and _lock_given_up(exc)):
                    raise
                # The catch-up round waits a bounded time; a lead still held
                # after it (or a deadlock with an application transaction that
                # PostgreSQL broke off) leaves the batch to the next pass.
                log.info("leads still held by another transaction, left for the next "
                         "pass: %s", getattr(exc, "orig", exc))
                s.rollback()
                continue
            if ctx.dry_run:
                s.rollback()
            else:
                s.commit()
            ctx.lap("commit")
        summary.skipped += skipped
        for p in plans:
            for kind, line in p.lines:
                summary.add(kind, line)
            if p.lines:
                summary.leads.add(p.lead_id)
    missed = ctx.missed[first_missed:]
    del ctx.missed[first_missed:]
    return missed


def _lock_given_up(exc: Exception) -> bool:
    """A lock wait that ran out (``lock_timeout``) or that PostgreSQL broke off
    to end a deadlock (through SQLAlchemy, or from the driver directly)."""
    import psycopg

    orig = getattr(exc, "orig", exc)
    return isinstance(orig, psycopg.errors.LockNotAvailable | psycopg.errors.DeadlockDetected)


def _leads(session: Session, ctx: Context, ids: Sequence[uuid.UUID], *conds: Any,
           cols: Sequence[Any] = _CADENCE_COLS) -> list[Any]:
    """The batch's lead rows (locked on PostgreSQL), as named tuples."""
    stmt = _lock(select(*cols).where(_among(L.c.id, ids, session), *conds).order_by(L.c.id),
                 session, ctx, L)
    rows = _tuples(session.execute(stmt))
    if ctx.pg and not ctx.dry_run and len(rows) < len(ids):
        # Locked by another worker (SKIP LOCKED), or no longer due.
        ctx.missed.extend(set(ids).difference(r.id for r in rows))
    ctx.lap("read")
    return rows


def due_work(session: Session, rules: ActiveRules, now: datetime) -> dict[str, list[uuid.UUID]]:
    """The leads each pass has work on, in ONE statement (a UNION ALL of
    indexed conditions, each branch simple enough for the planner)."""
    from sqlalchemy import literal_column, union_all

    def tagged(tag: str, col: Any) -> Any:
        return select(literal_column(f"'{tag}'").label("pass"), col.label("lead_id"))

    branches = []
    conds = _escalation_conds(rules, now)
    if conds is not None:
        branches.append(tagged("escalation", L.c.id).where(
            L.c.status.in_(ACTIVE), L.c.owner_id.is_not(None), L.c.first_action_at.is_(None),
            L.c.deleted_at.is_(None), L.c.merged_into_id.is_(None), conds))
    branches.append(tagged("recycle", L.c.id).where(
        L.c.recycle_at <= now, L.c.status == LeadStatus.NURTURE, L.c.deleted_at.is_(None),
        L.c.merged_into_id.is_(None)))
    branches.append(tagged("enrolment", L.c.id).where(
        L.c.status.in_(ACTIVE), L.c.owner_id.is_not(None), L.c.priority <= 3,
        L.c.do_not_contact.is_(False), L.c.deleted_at.is_(None),
        L.c.merged_into_id.is_(None), L.c.created_at <= now,
        ~exists().where(E.c.lead_id == L.c.id)))
    # Cadence: a step to schedule, a lead that left the active statuses, or a
    # touch or reply since the step was scheduled.
    active = (E.c.status == EnrollmentStatus.ACTIVE, E.c.deleted_at.is_(None))
    branches.append(tagged("cadence", E.c.lead_id).where(*active,
                                                         E.c.step_scheduled_at.is_(None)))
    branches.append(tagged("cadence", E.c.lead_id).join(L, L.c.id == E.c.lead_id).where(
        *active, or_(L.c.status.not_in(ACTIVE), L.c.do_not_contact.is_(True))))
    branches.append(tagged("cadence", E.c.lead_id).where(*active, exists().where(
        A.c.lead_id == E.c.lead_id, A.c.at > E.c.step_scheduled_at, A.c.at <= now,
        A.c.kind != ActivityKind.NOTE)))
    out: dict[str, set[uuid.UUID]] = defaultdict(set)
    for tag, lead_id in session.execute(union_all(*branches)).all():
        out[tag].add(lead_id)
    # In id order: batches lock their rows in one order in every worker (and
    # sorting on the integer skips UUID.__lt__, a Python call per comparison).
    return {tag: sorted(out.get(tag, ()), key=_uuid_int)
            for tag in ("escalation", "recycle", "enrolment", "cadence")}


# --------------------------------------------------------------------------- escalation


def _escalation_conds(rules: ActiveRules, now: datetime) -> Any:
    """Owned active leads without a first action whose SLA or ack clock could
    have a due stage: the conservative wall-clock cut-off per priority (a
    business-hours deadline is never earlier than created_at + target)."""
    conds = []
    for priority in (1, 2, 3, 4):
        target, ack = rules.earliest_minutes(priority)
        parts = []
        if target is not None:
            # An assignment after the deadline anchors its own ladder later
            # still, so this cut-off holds for it too.
            parts.append(L.c.created_at <= now - timedelta(minutes=target))
        if ack is not None:
            parts.append(L.c.assigned_at <= now - timedelta(minutes=ack))
        if parts:
            conds.append(and_(L.c.priority == priority, or_(*parts)))
    return or_(*conds) if conds else None


def _fired(session: Session, lead_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, dict[str, datetime]]:
    out: dict[uuid.UUID, dict[str, datetime]] = defaultdict(dict)
    for lead_id, key, at in session.execute(
            select(F.c.lead_id, F.c.key, F.c.fired_at).where(
                _among(F.c.lead_id, lead_ids, session))):
        out[lead_id][key] = at
    return out


def timing_of(lead: Any) -> LeadTiming:
    return LeadTiming(lead.id, lead.priority, lead.created_at, lead.owner_id,
                      lead.assigned_at, lead.first_action_at, lead.acknowledged_at,
                      lead.last_action_at)


def _escalation_batch(session: Session, ctx: Context, ids: Sequence[uuid.UUID]) -> list[Plan]:
    leads = _leads(session, ctx, ids, L.c.status.in_(ACTIVE), L.c.owner_id.is_not(None),
                   L.c.first_action_at.is_(None), cols=_ESCALATION_COLS)
    fired = _fired(session, [r.id for r in leads])
    ctx.lap("read")
    plans = []
    policy_of, now, backup_of = ctx.rules.policy, ctx.now, ctx.backup_of
    for lead in leads:
        policy = policy_of(lead.team_id, lead.priority)
        if policy is None:
            continue
        mine = fired.get(lead.id, {})
        steps = ctx.rule(_escalation_steps, timing_of(lead), policy, now, mine, backup_of)
        if steps:
            plans.append(escalation_plan(ctx, lead, steps))
    return plans


def _escalation_steps(timing: LeadTiming, policy: Any, now: datetime,
                      fired: Mapping[str, datetime],
                      backup_of: Callable[[uuid.UUID], uuid.UUID | None]) -> list[EscalationStep]:
    """The escalation rules for one lead: its hand-over facts from its fired
    keys, then everything due."""
    return plan_escalation(with_firings(timing, fired), policy, now, fired, backup_of)


def escalation_plan(ctx: Context, lead: Any, steps: list[EscalationStep]) -> Plan:
    p = Plan(ctx, lead)
    first_owner = lead.owner_id
    pri = lead.priority
    name = p.name
    for st in steps:
        d = st.decision
        p.key(d.key, d.deliver)
        kind = f"{d.rule}:{d.action}"
        if st.is_handover:
            diff = p.set(owner_id=st.owner_after, assigned_at=st.assigned_at_after,
                         acknowledged_at=None)
            if st.to_backup and st.owner_after is not None:
                p.key(handover_key(p.lead_id, st.owner_after, st.assigned_at_after))
                where = f"the backup rep {ctx.name_of(st.owner_after)}"
            else:
                where = "the team pool"
            kind = f"{d.rule}:{'to_backup' if st.to_backup else 'to_pool'}"
            p.audit(d.rule, diff, f"handed to {where}: {d.reason}")
            text = f"{name}: {ctx.name_of(st.owner_before)} -> {where}"
        else:
            who = {LadderAction.NOTIFY_TEAM_LEAD.value: "the team lead"}.get(d.action, "the owner")
            p.audit(d.rule, {}, (f"notified {who}: " if d.deliver else "") + d.reason)
            text = f"{name}: {d.action.replace('_', ' ')} ({ctx.name_of(st.owner_before)})"
        if not d.deliver:
            p.line(kind + ":recorded", text + " — recorded, superseded by a later stage")
            continue
        p.line(kind, text)
        urgent_if_p1 = NotificationLevel.URGENT if pri == 1 else NotificationLevel.NORMAL
        if d.action == LadderAction.NOTIFY_OWNER:
            p.notify(st.owner_after, urgent_if_p1, f"Due now: P{pri} {name}",
                     f"First response is due. {d.reason}", d.key)
        elif d.action == LadderAction.NOTIFY_OWNER_URGENT:
            p.notify(st.owner_after, NotificationLevel.URGENT, f"Overdue: P{pri} {name}",
                     f"First response is overdue. {d.reason}", d.key)
        elif d.action == LadderAction.NOTIFY_TEAM_LEAD:
            for tl in ctx.team_leads(lead.team_id, st.owner_after):
                p.notify(tl, NotificationLevel.URGENT, f"SLA breach: P{pri} {name}",
                         f"No first response from {ctx.name_of(st.owner_after)} yet. {d.reason}",
                         d.key)
        elif st.to_backup:
            p.notify(st.owner_after, urgent_if_p1, f"Reassigned to you: P{pri} {name}",
                     f"You are {ctx.name_of(st.owner_before)}'s backup. {d.reason}", d.key)
            if first_owner not in (None, st.owner_after):
                p.notify(first_owner, NotificationLevel.NORMAL,
                         f"Moved to {ctx.name_of(st.owner_after)}: {name}", d.reason,
                         d.key + ":from")
        else:
            p.notify(first_owner, NotificationLevel.NORMAL, f"Moved to the team pool: {name}",
                     d.reason, d.key + ":from")
            for tl in ctx.team_leads(lead.team_id, first_owner):
                p.notify(tl, NotificationLevel.NORMAL,
                         f"In the pool, not yet worked: P{pri} {name}",
                         d.reason, d.key + ":pool")
    return p


# --------------------------------------------------------------------------- cadences


def _new_enrollment(p: Plan, cadence: Any, reason: str) -> dict[str, Any]:
    ctx = p.ctx
    enr = {"id": uuid7(), "version": 1, "server_seq": None, "updated_at": ctx.now,
           "deleted_at": None, "lead_id": p.lead_id, "cadence_id": cadence.id,
           "status": EnrollmentStatus.ACTIVE, "enrolled_at": ctx.now, "current_step": 1,
           "ended_at": None, "end_reason": None, "step_scheduled_at": None}
    p.enr_new.append(enr)
    p.audit("cadence_enroll", {"cadence": (None, cadence.name)}, reason)
    p.line("cadence:enrolled", f"{p.name}: enrolled in {cadence.name!r}")
    return enr


def _enr_change(p: Plan, enr: dict[str, Any], is_new: bool, **changes: Any) -> None:
    enr.update(changes)
    if not is_new:
        p.enr_set.setdefault(enr["id"], {}).update(changes)


def advance(p: Plan, enr: dict[str, Any], acts: Sequence[Any], *, is_new: bool = False) -> None:
    """Move one enrollment forward as far as its lead's activities allow.

    ``enr`` is the enrollment as a dict (changed in place); ``acts`` the lead's
    activities up to now (rows with at, kind, direction, outcome), oldest first.
    Each outbound touch after a step became the next step completes that step,
    in time order (two touches logged between passes complete two steps).
    A step becomes the lead's next step only when the lead has none, or its
    next step is a cadence step: a step a person chose (a promised callback,
    an email in two days) comes first, and the cadence waits for it.
    """
    ctx = p.ctx
    now = ctx.now
    cadence = ctx.rules.cadences.get(enr["cadence_id"])
    steps = ctx.rules.steps.get(enr["cadence_id"], [])
    since = enr["enrolled_at"]
    acts = [a for a in acts if a.at >= since and a.kind != ActivityKind.NOTE]
    replied = any(a.direction == Direction.INBOUND for a in acts)
    booked = any(a.outcome == CallOutcome.MEETING_BOOKED for a in acts)
    status = p.get("status")
    if status not in ACTIVE or p.get("do_not_contact"):
        why = "unsubscribed" if p.get("do_not_contact") else f"status {LeadStatus(status).value}"
        _enr_change(p, enr, is_new, status=EnrollmentStatus.STOPPED, ended_at=now,
                    end_reason=why[:64])
        p.audit("cadence_end", {"enrollment": ("active", "stopped")},
                f"the lead is no longer worked by the cadence ({why})",
                entity="cadence_enrollment", entity_id=enr["id"])
        p.line("cadence:stopped", f"{p.name}: cadence stopped ({why})")
        return
    touches = sorted(a.at for a in acts if a.direction == Direction.OUTBOUND)
    for _ in range(len(steps) + 2):
        scheduled = enr["step_scheduled_at"]
        if scheduled is not None and not (replied or booked):
            touch = next((t for t in touches if t > scheduled), None)
            if touch is None:
                return  # waiting for the rep to do the scheduled step
            step_no = enr["current_step"]
            _enr_change(p, enr, is_new, current_step=step_no + 1, step_scheduled_at=None)
            p.audit("cadence_step_done", {"current_step": (step_no, step_no + 1)},
                    f"a touch at {touch:%Y-%m-%d %H:%M} UTC completed cadence step {step_no}",
                    entity="cadence_enrollment", entity_id=enr["id"])
            p.line("cadence:step_done", f"{p.name}: step {step_no} done")
            enr["_last_touch"] = touch
            continue
        state = EnrollmentState(enr["enrolled_at"], enr["current_step"], p.lead.timezone,
                                replied, booked)
        decision = ctx.rule(next_cadence_decision, state, steps,
                            ctx.rules.window_start(p.lead.team_id),
                            cadence.skip_weekends if cadence else True)
        if decision.action is CadenceAction.SCHEDULE:
            assert decision.step is not None and decision.due_at is not None
            since_touch = enr.pop("_last_touch", None)
            if since_touch is not None and any(t > since_touch for t in touches):
                # A later touch already did this step too: count it, no scheduling.
                _enr_change(p, enr, is_new, step_scheduled_at=since_touch)
                continue
            if p.get("next_step_at") is not None and not is_cadence_step(p.get("next_step")):
                # A next step a person chose (a promised callback, say) comes
                # first; the cadence step follows once it is done or cleared.
                return
            step = decision.step
            text = f"{step.channel.value.capitalize()} — cadence step {step.position}" + (
                f": {step.template_name}" if step.template_name else "")
            diff = p.set(next_step=text, next_step_kind=_CHANNEL_STEP_KIND[step.channel],
                         next_step_at=decision.due_at)
            _enr_change(p, enr, is_new, step_scheduled_at=since_touch or now)
            p.audit("cadence_schedule", diff, decision.reason)
            p.line("cadence:scheduled",
                   f"{p.name}: {text} due {decision.due_at:%Y-%m-%d %H:%M} UTC")
            return
        enr.pop("_last_touch", None)
        end = (EnrollmentStatus.COMPLETED if decision.action is CadenceAction.EXHAUSTED
               else EnrollmentStatus.STOPPED)
        _enr_change(p, enr, is_new, status=end, ended_at=now, end_reason=decision.action.value)
        p.audit("cadence_end", {"enrollment": ("active", end.value)}, decision.reason,
                entity="cadence_enrollment", entity_id=enr["id"])
        p.line(f"cadence:{decision.action.value}", f"{p.name}: cadence ended, {decision.reason}")
        if decision.action is CadenceAction.EXHAUSTED:
            days = cadence.recycle_days if cadence else lifecycle.DEFAULT_RECYCLE_DAYS
            exhausted(p, days, decision.reason)
        elif decision.action is CadenceAction.END_MEETING:
            diff = p.set(status=LeadStatus.MEETING)
            p.audit("cadence_end", diff, "a meeting was booked: status meeting")
        else:
            diff = p.set(next_step="Answer the reply", next_step_kind=NextStepKind.EMAIL,
                         next_step_at=now)
            p.audit("cadence_end", diff, "the lead replied: answer it (the cadence is paused)")
        return


def is_cadence_step(text: str | None) -> bool:
    """Whether a next step's text is a cadence step (ours, or the outcome
    proposal's "Cadence step 3 of 7 ..."), which the engine may replace."""
    return bool(text) and "cadence step" in str(text).lower()


def exhausted(p: Plan, recycle_days: int, why: str) -> None:
    """No response after the cadence: no-response with its reason, then nurture."""
    change = lifecycle.cadence_exhausted(p.ctx.now, recycle_days, p.lead.attempts)
    diff = p.set(status=LeadStatus.NO_RESPONSE,
                 no_response_reason=NoResponseReason.CADENCE_EXHAUSTED)
    p.audit("lifecycle_no_response", diff,
            f"{why}: no response ({NoResponseReason.CADENCE_EXHAUSTED.value})")
    rest = {k: v for k, v in change.changes.items() if k != "no_response_reason"}
    diff = p.set(**rest)
    p.audit("lifecycle_nurture", diff, change.reason)
    p.line("lifecycle:no_response", f"{p.name}: no response -> nurture, recycle "
                                    f"{rest['recycle_at']:%Y-%m-%d}")


def _activities(session: Session, lead_ids: Sequence[uuid.UUID], now: datetime,
                since: datetime | None = None) -> dict[uuid.UUID, list[Any]]:
    stmt = select(A.c.lead_id, A.c.at, A.c.kind, A.c.direction, A.c.outcome).where(
        _among(A.c.lead_id, lead_ids, session), A.c.at <= now)
    if since is not None:
        stmt = stmt.where(A.c.at >= since)
    out: dict[uuid.UUID, list[Any]] = defaultdict(list)
    for row in _tuples(session.execute(stmt.order_by(A.c.lead_id, A.c.at))):
        out[row.lead_id].append(row)
    return out


def _enrol_batch(session: Session, ctx: Context, ids: Sequence[uuid.UUID]) -> list[Plan]:
    leads = _leads(session, ctx, ids, L.c.status.in_(ACTIVE), L.c.owner_id.is_not(None),
                   L.c.do_not_contact.is_(False))
    enrolled = set(session.scalars(select(E.c.lead_id).where(
        _among(E.c.lead_id, [r.id for r in leads], session))))
    ctx.lap("read")
    plans = []
    for lead in leads:
        if lead.id in enrolled:
            continue
        cadence = ctx.cadence_for(lead.team_id)
        if cadence is None:
            continue
        p = Plan(ctx, lead)
        enr = _new_enrollment(p, cadence, "new active lead: enrolled in the team's cadence")
        advance(p, enr, (), is_new=True)
        plans.append(p)
    return plans


def _enr_dicts(session: Session, ctx: Context,
               lead_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[dict[str, Any]]]:
    stmt = _lock(select(*_ENR_COLS).where(_among(E.c.lead_id, lead_ids, session),
                                         E.c.status == EnrollmentStatus.ACTIVE,
                                         E.c.deleted_at.is_(None)).order_by(E.c.enrolled_at),
                 session, ctx)
    result = session.execute(stmt)
    keys = tuple(result.keys())
    out: dict[uuid.UUID, list[dict[str, Any]]] = defaultdict(list)
    for row in result:
        enr = dict(zip(keys, row, strict=True))
        out[enr["lead_id"]].append(enr)
    return out


def _cadence_batch(session: Session, ctx: Context, ids: Sequence[uuid.UUID]) -> list[Plan]:
    leads = _leads(session, ctx, ids)
    enrs = _enr_dicts(session, ctx, [r.id for r in leads])
    if not enrs:
        return []
    since = min(e["enrolled_at"] for es in enrs.values() for e in es)
    acts = _activities(session, list(enrs), ctx.now, since)
    ctx.lap("read")
    plans = []
    for lead in leads:
        if lead.id not in enrs:
            continue
        p = Plan(ctx, lead)
        for enr in enrs[lead.id]:
            advance(p, enr, acts.get(lead.id, ()))
        plans.append(p)
    return plans


# --------------------------------------------------------------------------- recycle


def _recycle_batch(session: Session, ctx: Context, ids: Sequence[uuid.UUID]) -> list[Plan]:
    leads = _leads(session, ctx, ids, L.c.status == LeadStatus.NURTURE,
                   L.c.recycle_at <= ctx.now)
    plans = []
    for lead in leads:
        p = Plan(ctx, lead)
        change = lifecycle.recycle(lead.recycle_at)
        diff = p.set(**change.changes, next_step=None, next_step_kind=None, next_step_at=None)
        p.audit(change.rule, diff, change.reason)
        p.line("lifecycle:recycled", f"{p.name}: {change.reason}")
        cadence = ctx.cadence_for(lead.team_id)
        if cadence is not None and not lead.do_not_contact and lead.priority <= 3:
            enr = _new_enrollment(p, cadence, change.reason)
            advance(p, enr, (), is_new=True)
        plans.append(p)
    return plans


# --------------------------------------------------------------------------- scoring


def score_candidates(session: Session, now: datetime) -> list[uuid.UUID]:
    """Leads never scored, changed since they were scored, or with an inbound
    activity since (a reply on a working lead may leave the lead row as it was)."""
    from sqlalchemy import union

    scored = L.c.scored_at
    base = (L.c.status.in_(SCORED), L.c.deleted_at.is_(None), L.c.merged_into_id.is_(None),
            L.c.created_at <= now)
    stmt = union(
        select(L.c.id).where(*base, or_(scored.is_(None), L.c.updated_at > scored)),
        select(L.c.id).where(*base, exists().where(
            A.c.lead_id == L.c.id, A.c.direction == Direction.INBOUND, A.c.at > scored,
            A.c.at <= now)))
    return sorted(session.scalars(stmt), key=_uuid_int)


def _phone_verified(lead: Any) -> bool:
    phone = lead.phone
    if not phone or "phone_unparseable" in (lead.data_issues or ()):
        return False
    import phonenumbers

    try:
        return bool(phonenumbers.is_valid_number(phonenumbers.parse(phone, None)))
    except phonenumbers.NumberParseException:
        return False


def score_facts(lead: Any, activities: Sequence[Any]) -> ScoreFacts:
    outbound = sum(1 for a in activities
                   if a.direction == Direction.OUTBOUND and a.kind != ActivityKind.NOTE)
    return ScoreFacts(
        lead_class=lead.lead_class, score=lead.score,
        breakdown=breakdown_pairs(lead.score_breakdown),
        touches=max(outbound, lead.attempts or 0),
        meeting_booked=any(a.outcome == CallOutcome.MEETING_BOOKED for a in activities),
        replied=any(a.direction == Direction.INBOUND for a in activities),
        connected=any(a.outcome == CallOutcome.CONNECTED for a in activities),
        phone_verified=_phone_verified(lead), unsubscribed=bool(lead.do_not_contact))


def rescore(p: Plan, activities: Sequence[Any], promoted: bool) -> None:
    """Recompute the lead's score; promote or park when a threshold acts."""
    lead = p.lead
    result = p.ctx.rule(score_lead, score_facts(lead, activities))
    diff = p.set(score=result.score, score_breakdown=result.breakdown)
    if diff:
        p.audit("scoring", diff, "score " + ", ".join(
            f"{b['rule']} {b['points']:+d}" for b in result.breakdown) + f" = {result.score}")
        if "score" in diff:
            p.line("score:updated", f"{p.name}: score {lead.score} -> {result.score}")
        else:  # e.g. a loaded score: it stands, its breakdown is recorded
            p.line("score:breakdown", f"{p.name}: score {result.score} explained")
    stamp = max(t for t in (p.ctx.now, lead.updated_at, lead.last_action_at) if t)
    p.changes["scored_at"] = stamp
    if lead.status not in ACTIVE:
        return
    if result.action is ScoreAction.PROMOTE and lead.priority > 1 and not promoted:
        p.key(f"score:promote:{p.lead_id}")
        diff = p.set(priority=lead.priority - 1)
        p.audit("scoring_promote", diff,
                f"score {result.score} >= 60 after three touches: priority up one level")
        p.line("score:promoted", f"{p.name}: P{lead.priority} -> P{lead.priority - 1}")
    elif result.action is ScoreAction.PARK:
        change = lifecycle.cadence_exhausted(p.ctx.now)
        rest = {k: v for k, v in change.changes.items() if k != "no_response_reason"}
        diff = p.set(**rest)
        p.audit("scoring_park", diff,
                f"score {result.score} < 20 after three touches: parked to nurture, recycle "
                f"{rest['recycle_at']:%Y-%m-%d}")
        p.line("score:parked", f"{p.name}: parked to nurture (score {result.score})")


def _score_batch(session: Session, ctx: Context, ids: Sequence[uuid.UUID]) -> list[Plan]:
    leads = _leads(session, ctx, ids, L.c.status.in_(SCORED), cols=_SCORE_COLS)
    lead_ids = [r.id for r in leads]
    acts = _activities(session, lead_ids, ctx.now)
    promoted = set(session.scalars(select(F.c.lead_id).where(
        _among(F.c.lead_id, lead_ids, session), F.c.key.like("score:promote:%"))))
    ctx.lap("read")
    plans = []
    parked = []
    for lead in leads:
        p = Plan(ctx, lead)
        rescore(p, acts.get(lead.id, ()), lead.id in promoted)
        if p.get("status") == LeadStatus.NURTURE and lead.status in ACTIVE:
            parked.append(p)
        plans.append(p)
    if parked:
        # The parked leads' enrollments, in one read (not one per lead).
        ctx.lap("decide")
        enrs = _enr_dicts(session, ctx, [p.lead_id for p in parked])
        ctx.lap("read")
        for p in parked:
            for enr in enrs.get(p.lead_id, ()):
                _enr_change(p, enr, False, status=EnrollmentStatus.STOPPED, ended_at=ctx.now,
                            end_reason="parked")
    return plans


# --------------------------------------------------------------------------- the pass


_gc_lock = threading.Lock()
_gc_passes = 0
_gc_was_enabled = False


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off while passes run in this process.

    A pass allocates a few hundred thousand short-lived objects (rows, plans,
    audit tuples), and every few hundred allocations start a collection; the
    full ones walk every object the process holds (SQLAlchemy's metadata, the
    app's models). Measured on the benchmark: a quarter of the pass's CPU time
    for nothing, since reference counting frees what a pass drops. The
    collector resumes when the last pass running in the process ends (two
    passes may run in threads), and only if it was on before.
    """
    global _gc_passes, _gc_was_enabled
    with _gc_lock:
        if _gc_passes == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_passes += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_passes -= 1
            if _gc_passes == 0 and _gc_was_enabled:
                gc.enable()


def run_pass(bind: Engine, now: datetime, *, actor: str = "worker", dry_run: bool = False,
             progress: Callable[[str], None] | None = None,
             batch_size: int = BATCH) -> PassSummary:
    """One pass of every time-driven rule at ``now``; returns what it did.

    Safe to run again at the same ``now`` (it then does nothing), to run in
    two processes at once, and to kill at any moment.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    with _collector_paused():
        return _pass(bind, now, actor, dry_run, progress, batch_size)


def _pass(bind: Engine, now: datetime, actor: str, dry_run: bool,
          progress: Callable[[str], None] | None, batch_size: int) -> PassSummary:
    started, started_cpu = time.perf_counter(), time.thread_time()
    summary = PassSummary(now, dry_run=dry_run)
    if not dry_run:
        with Session(bind) as s:
            try:
                ensure_defaults(s)
                s.commit()
            except IntegrityError:  # another worker seeded them at the same moment
                s.rollback()
    with Session(bind) as s:
        ctx = Context(s, now, actor, dry_run)
        ctx.lap_at, ctx.cpu_at = started, started_cpu
        ctx.lap("setup")
        work = due_work(s, ctx.rules, now)
        ctx.lap("due")
    passes: list[tuple[str, Callable[[Session, Context, Sequence[uuid.UUID]], list[Plan]]]] = [
        ("escalation", _escalation_batch), ("recycle", _recycle_batch),
        ("enrolment", _enrol_batch), ("cadence", _cadence_batch),
        ("scoring", _score_batch),
    ]
    missed: dict[str, list[uuid.UUID]] = {}
    for name, batch in passes:
        if progress:
            progress(name)
        if name == "scoring":
            with Session(bind) as s:
                ctx.lap("other")
                work[name] = score_candidates(s, now)
                ctx.lap("due")
        missed[name] = _run_batches(bind, ctx, work[name], summary,
                                    lambda s, b, batch=batch: batch(s, ctx, b), batch_size)
    # A lead another worker held when we came to it (for this rule or for
    # another one) may have been skipped by both workers: the other one may
    # hold it for another rule, then skip it for this one while we hold it.
    # Catch up on those once, waiting for their locks this time: each batch
    # locks its leads in id order, so waiting workers never wait in a cycle.
    # What was done meanwhile decides nothing new (keys, enrollments and
    # statuses are read again under the lock).
    ctx.wait = True
    for name, batch in passes:
        if missed[name]:
            _run_batches(bind, ctx, sorted(set(missed[name]), key=_uuid_int), summary,
                         lambda s, b, batch=batch: batch(s, ctx, b), batch_size)
    ctx.wait = False
    summary.timings.update(ctx.timings)
    summary.cpu.update(ctx.cpu)
    log.info("pass at %s: %d decisions %s", now.isoformat(), summary.total, dict(summary.counts))
    return summary


__all__ = ["DEFAULT_TEMPLATES", "AckAction", "Context", "PassSummary", "Plan", "due_work",
           "ensure_defaults", "run_pass", "score_candidates"]
