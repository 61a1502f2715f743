"""Applying routing decisions on the shared database, with fairness state.

:mod:`leadqueue.rules.routing` decides (pure); this module reads what it
needs (the routing book: rules, people, teams, accounts; the fairness state;
each rep's count of leads assigned today) and writes the result (the lead's
owner, team and ``routing_explanation``, an ``audit_log`` entry, the
``routing_state`` rows).

Concurrency: a :class:`Router` works inside one transaction. Before it reads
fairness state or today's counts it takes transaction-scoped advisory locks
on every rule and every rep the decisions may touch, rules first, then reps,
each in sorted order. Two workers routing at once therefore see each other's
committed counts (round-robin stays in step, a daily cap is never exceeded),
and because everyone locks in the same global order they cannot deadlock.
Locks are held to the end of the transaction; :meth:`Router.prepare` takes
them for a whole batch up front. State lives in the database, so a restarted
worker continues the rotation where the last one stopped.

A dry run (``dry_run=True``) takes no locks and writes nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, time
from typing import TYPE_CHECKING, Any

from ..enums import LeadClass
from ..rules.calling_window import lead_zone
from ..rules.routing import (
    Account,
    FairnessState,
    LeadFacts,
    MemberState,
    Rep,
    RoutingBook,
    RoutingConfigError,
    RoutingDecision,
    TeamInfo,
    route,
    rule_from_row,
)

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

#: Advisory-lock namespaces (the first key of pg_advisory_xact_lock(int, int)).
LOCK_RULE = 0x4C510001
LOCK_REP = 0x4C510002
#: Intake's de-duplication keys (email / phone) use this one.
LOCK_CONTACT = 0x4C510003


@dataclass(frozen=True)
class BookProblem:
    rule_name: str
    message: str


def load_book(conn: Connection) -> tuple[RoutingBook, list[BookProblem]]:
    """The routing book as the database holds it now.

    A rule that cannot be used (saved before validation, a weight naming a
    stranger) is left out and reported, so the others keep routing.
    """
    from sqlalchemy import text

    teams = {
        r.id: TeamInfo(r.id, r.name, r.timezone or "UTC", r.offline_after_minutes)
        for r in conn.execute(text(
            "SELECT id, name, timezone, offline_after_minutes FROM teams "
            "WHERE deleted_at IS NULL"))
    }
    reps = {
        r.id: Rep(
            id=r.id, name=r.name, team_id=r.team_id, role=r.role,
            daily_capacity=r.daily_capacity, available=r.available, disabled=r.disabled,
            out_of_office_until=r.out_of_office_until, shift_start=r.shift_start,
            shift_end=r.shift_end, shift_days=r.shift_days,
            timezone=r.timezone, last_seen_at=r.last_seen_at,
            routing_weight=r.routing_weight, backup_id=r.backup_id)
        for r in conn.execute(text(
            "SELECT id, name, team_id, role, daily_capacity, available, disabled, "
            "out_of_office_until, shift_start, shift_end, shift_days, timezone, "
            "last_seen_at, routing_weight, backup_id FROM users WHERE deleted_at IS NULL"))
    }
    rules = []
    problems: list[BookProblem] = []
    for row in conn.execute(text(
            "SELECT id, name, position, team_id, match, method, target_user_id, "
            "target_team_id, weights, backup_user_id, backup_team_id FROM routing_rules "
            "WHERE active AND deleted_at IS NULL ORDER BY position, name, id")).mappings():
        try:
            rules.append(rule_from_row(row))
        except (RoutingConfigError, ValueError) as exc:
            problems.append(BookProblem(row["name"], str(exc)))
    accounts = tuple(
        Account(r.id, r.company, tuple(d for d in (r.domains or []) if isinstance(d, str)),
                r.owner_id, r.team_id)
        for r in conn.execute(text(
            "SELECT id, company, domains, owner_id, team_id FROM accounts "
            "WHERE deleted_at IS NULL")))
    return RoutingBook(tuple(rules), reps, teams, accounts), problems


def day_start(now: datetime, zone_name: str | None) -> datetime:
    """Local midnight of ``now``'s day in ``zone_name`` (UTC when unknown)."""
    zone = lead_zone(zone_name) or lead_zone("UTC")
    local = now.astimezone(zone)
    return datetime.combine(local.date(), time(0), tzinfo=zone)


class Router:
    """Routes leads inside one open transaction on ``conn``.

    Use: ``router = Router(conn, now)``, optionally ``router.prepare(facts)``
    for a batch, then ``router.decide(facts)`` per lead and
    ``router.record(lead_id, decision)`` once the lead row is written; finally
    ``router.flush()`` before the transaction commits.
    """

    def __init__(self, conn: Connection, now: datetime, *, dry_run: bool = False,
                 book: RoutingBook | None = None) -> None:
        if now.tzinfo is None:
            raise ValueError("Router needs an aware 'now'")
        self.conn = conn
        self.now = now
        self.dry_run = dry_run
        if book is None:
            book, self.problems = load_book(conn)
        else:
            self.problems = []
        self.book = book
        self._locked_rules: set[uuid.UUID] = set()
        self._locked_users: set[uuid.UUID] = set()
        self._locked_contacts: set[str] = set()
        self._state: dict[tuple[uuid.UUID, uuid.UUID], MemberState] = {}
        self._dirty: set[tuple[uuid.UUID, uuid.UUID]] = set()
        self._today: dict[uuid.UUID, int] = {}
        self._updates: list[dict[str, Any]] = []
        self._audits: list[dict[str, Any]] = []

    # -- locks and reads --------------------------------------------------------

    def prepare(self, leads: Iterable[LeadFacts], *, contact_keys: Iterable[str] = ()) -> None:
        """Lock (and read) everything the decisions for ``leads`` may need.

        ``contact_keys`` (intake's "e:<email>" / "p:<phone>") are locked last,
        so de-duplication is serialised in the same global lock order.
        """
        rules: set[uuid.UUID] = set()
        users: set[uuid.UUID] = set()
        for lead in leads:
            r, u = self.book.lock_plan(lead)
            rules |= r
            users |= u
        self._acquire(rules, users, set(contact_keys))

    def snapshot(self) -> tuple[Any, ...]:
        """The in-memory state, to :meth:`restore` when a lead's savepoint rolls back."""
        return dict(self._state), set(self._dirty), dict(self._today)

    def restore(self, snap: tuple[Any, ...]) -> None:
        state, dirty, today = snap
        self._state, self._dirty, self._today = dict(state), set(dirty), dict(today)

    def _acquire(self, rules: set[uuid.UUID], users: set[uuid.UUID],
                 contacts: set[str] | None = None) -> None:
        from sqlalchemy import text

        new_rules = sorted(rules - self._locked_rules, key=str)
        new_users = sorted(users - self._locked_users, key=str)
        new_contacts = sorted((contacts or set()) - self._locked_contacts)
        if not new_rules and not new_users and not new_contacts:
            return
        if not self.dry_run:
            # One statement, locks taken in the listed order: rules, reps, contacts.
            keys = [(LOCK_RULE, str(r)) for r in new_rules] + \
                   [(LOCK_REP, str(u)) for u in new_users] + \
                   [(LOCK_CONTACT, c) for c in new_contacts]
            self.conn.execute(text(
                "SELECT pg_advisory_xact_lock(k.ns, hashtext(k.id)) FROM "
                "unnest(CAST(:ns AS int[]), CAST(:ids AS text[])) WITH ORDINALITY "
                "AS k(ns, id, n) ORDER BY k.n"),
                {"ns": [k[0] for k in keys], "ids": [k[1] for k in keys]}).all()
        if new_rules:
            for row in self.conn.execute(text(
                    "SELECT rule_id, user_id, assigned_count, stride_pass, last_assigned_at "
                    "FROM routing_state WHERE rule_id = ANY(:rules)"),
                    {"rules": new_rules}):
                self._state[(row.rule_id, row.user_id)] = MemberState(
                    row.assigned_count, row.stride_pass, row.last_assigned_at)
        if new_users:
            starts = {u: day_start(self.now, self._zone_of(u)) for u in new_users}
            counts = dict.fromkeys(new_users, 0)
            for row in self.conn.execute(text(
                    "SELECT owner_id, assigned_at FROM leads "
                    "WHERE owner_id = ANY(:users) AND assigned_at >= :since "
                    "AND deleted_at IS NULL"),
                    {"users": new_users, "since": min(starts.values())}):
                if row.assigned_at >= starts[row.owner_id]:
                    counts[row.owner_id] += 1
            self._today.update(counts)
        self._locked_rules.update(new_rules)
        self._locked_users.update(new_users)
        self._locked_contacts.update(new_contacts)

    def _zone_of(self, user_id: uuid.UUID) -> str | None:
        rep = self.book.reps.get(user_id)
        if rep is None:
            return None
        team = self.book.teams.get(rep.team_id) if rep.team_id else None
        return rep.timezone or (team.timezone if team else None)

    # -- deciding and recording ---------------------------------------------------

    def decide(self, lead: LeadFacts) -> RoutingDecision:
        rules, users = self.book.lock_plan(lead)
        self._acquire(rules, users)
        state: FairnessState = self._state
        decision = route(lead, self.book, state, self.now, extra_today=self._today)
        for change in decision.state_changes:
            key = (change.rule_id, change.user_id)
            self._state[key] = change.state
            self._dirty.add(key)
        if decision.owner_id is not None:
            self._today[decision.owner_id] = self._today.get(decision.owner_id, 0) + 1
        return decision

    def _audit_row(self, lead_id: uuid.UUID, decision: RoutingDecision) -> dict[str, Any]:
        from ..ids import uuid7

        return {
            "id": uuid7(), "at": self.now, "actor": "worker", "rule": "routing",
            "entity": "lead", "entity_id": lead_id,
            "change": {"owner_id": [None, str(decision.owner_id) if decision.owner_id else None],
                       "team_id": [None, str(decision.team_id) if decision.team_id else None]},
            "reason": decision.summary}

    def record(self, lead_id: uuid.UUID, decision: RoutingDecision) -> None:
        """Write the audit entry for a decision applied to ``lead_id`` (now)."""
        if self.dry_run:
            return
        from sqlalchemy import insert

        from ..model import AuditEntry

        self.conn.execute(insert(AuditEntry.__table__).values(
            **self._audit_row(lead_id, decision)))

    def apply(self, lead_id: uuid.UUID, decision: RoutingDecision) -> None:
        """Give an existing (unassigned) lead its owner, team and explanation.

        Buffered: written, with its audit entry, by :meth:`flush` in one round
        trip per kind of statement.
        """
        if self.dry_run:
            return
        self._updates.append({
            "owner": decision.owner_id, "team": decision.team_id, "now": self.now,
            "account": decision.account_id, "why": _json(decision.explanation(self.book)),
            "id": lead_id})
        self._audits.append(self._audit_row(lead_id, decision))

    def flush(self) -> None:
        """Write buffered assignments and the changed fairness state (before
        the transaction commits)."""
        if self.dry_run:
            return
        from sqlalchemy import insert, text

        from ..ids import uuid7
        from ..model import AuditEntry

        if self._updates:
            self.conn.execute(text(
                "UPDATE leads SET owner_id = :owner, team_id = coalesce(:team, team_id), "
                "assigned_at = CASE WHEN CAST(:owner AS uuid) IS NULL THEN assigned_at "
                "ELSE :now END, account_id = coalesce(:account, account_id), "
                "routing_explanation = CAST(:why AS jsonb), "
                "updated_at = :now, version = version + 1 WHERE id = :id"), self._updates)
            self.conn.execute(insert(AuditEntry.__table__), self._audits)
            self._updates, self._audits = [], []
        if not self._dirty:
            return

        rows = [{"id": uuid7(), "rule": r, "user": u, "count": s.assigned_count,
                 "pass": s.stride_pass, "at": s.last_assigned_at}
                for (r, u), s in ((k, self._state[k]) for k in sorted(self._dirty, key=str))]
        self.conn.execute(text(
            "INSERT INTO routing_state (id, rule_id, user_id, assigned_count, stride_pass, "
            "last_assigned_at) VALUES (:id, :rule, :user, :count, :pass, :at) "
            "ON CONFLICT (rule_id, user_id) DO UPDATE SET "
            "assigned_count = excluded.assigned_count, stride_pass = excluded.stride_pass, "
            "last_assigned_at = excluded.last_assigned_at"), rows)
        self._dirty.clear()


def _json(doc: Mapping[str, Any]) -> str:
    """JSON text for a ``CAST(:x AS jsonb)`` parameter."""
    import json

    return json.dumps(doc)


def facts_of(row: Mapping[str, Any], team_id: uuid.UUID | None = None) -> LeadFacts:
    """:class:`LeadFacts` from a mapping of lead columns."""
    cls = row.get("lead_class")
    return LeadFacts(
        country=row.get("country"), state=row.get("state"), territory=row.get("territory"),
        company_size=row.get("company_size"), product_interest=row.get("product_interest"),
        source=row.get("source"),
        lead_class=cls.value if isinstance(cls, LeadClass) else cls,
        email=row.get("email"), company=row.get("company"),
        team_id=team_id if team_id is not None else row.get("team_id"))


def route_unassigned(conn: Connection, now: datetime, *, limit: int = 500) -> int:
    """Route leads that arrived without routing (no owner, no team, no explanation).

    For leads another system wrote straight into ``leads``; intake routes its
    own. Returns how many were routed. Runs in the caller's transaction.
    """
    from sqlalchemy import text

    rows = conn.execute(text(
        "SELECT id, country, state, territory, company_size, product_interest, source, "
        "lead_class, email, company, team_id FROM leads WHERE owner_id IS NULL "
        "AND team_id IS NULL AND routing_explanation IS NULL AND deleted_at IS NULL "
        "AND merged_into_id IS NULL AND status IN ('new', 'working') "
        "ORDER BY created_at LIMIT :limit FOR UPDATE SKIP LOCKED"),
        {"limit": limit}).mappings().all()
    if not rows:
        return 0
    router = Router(conn, now)
    facts = [facts_of(r) for r in rows]
    router.prepare(facts)
    for row, f in zip(rows, facts, strict=True):
        router.apply(row["id"], router.decide(f))
    router.flush()
    return len(rows)
