"""Helpers for the routing, intake, claims and live-push tests: a database set
up by the real ``admin init`` (see ``shared_db_support.Installation``), teams,
people (with or without a login role), routing rules, and the database's
"now" (``lq_now()``) pinned to a test instant.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from shared_db_support import PASSWORD, Installation

from leadqueue.ids import uuid7
from leadqueue.shared import admin
from leadqueue.store import make_engine


class PoolDb:
    """One installed shared database plus quick ways to fill it."""

    def __init__(self, server_url: str) -> None:
        self.inst = Installation.create(server_url)
        admin.init(self.inst.url, role_prefix=self.inst.prefix)
        self.url = self.inst.url
        self.engine = make_engine(self.url)
        self.tag = self.inst.prefix.rstrip("_")
        self._teams: dict[str, uuid.UUID] = {}

    def close(self) -> None:
        self.engine.dispose()
        self.inst.drop()

    # -- plumbing -----------------------------------------------------------------

    def su(self) -> psycopg.Connection[Any]:
        return self.inst.su()

    def q(self, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
        with self.su() as con:
            cur = con.execute(sql, params)
            return cur.fetchall() if cur.description else []

    def one(self, sql: str, params: Any = None) -> Any:
        rows = self.q(sql, params)
        return rows[0][0] if rows else None

    def set_now(self, when: datetime | None) -> None:
        """Pin the database's ``lq_now()`` (leases, claims) to ``when``; None: real time."""
        body = "SELECT now()" if when is None else f"SELECT '{when.isoformat()}'::timestamptz"
        with self.su() as con:
            con.execute("CREATE OR REPLACE FUNCTION lq_now() RETURNS timestamptz "
                        "LANGUAGE sql STABLE SET search_path = public, pg_temp "
                        f"AS $$ {body} $$")

    # -- teams and people ---------------------------------------------------------

    def team(self, name: str, **attrs: Any) -> uuid.UUID:
        if name not in self._teams:
            tid = self.one("SELECT id FROM teams WHERE name = %s", (name,))
            if tid is None:
                tid = uuid7()
                self.q("INSERT INTO teams (id, version, name, timezone, calling_window_start, "
                       "calling_window_end, lease_minutes, travel_lease_hours) "
                       "VALUES (%s, 1, %s, 'UTC', '08:00', '20:00', 30, 72)", (tid, name))
            self._teams[name] = tid
        if attrs:
            self.update("teams", self._teams[name], **attrs)
        return self._teams[name]

    def update(self, table: str, row_id: uuid.UUID, **attrs: Any) -> None:
        cols = ", ".join(f"{k} = %s" for k in attrs)
        self.q(f"UPDATE {table} SET {cols} WHERE id = %s", (*attrs.values(), row_id))

    def person(self, name: str, *, team: str | None = "Alpha", role: str = "rep",
               **attrs: Any) -> uuid.UUID:
        """A users row without a login role (routing needs no logins)."""
        uid = uuid7()
        tid = self.team(team) if team else None
        self.q("INSERT INTO users (id, version, email, name, role, team_id, daily_capacity, "
               "available, routing_weight, disabled) VALUES (%s, 1, %s, %s, %s, %s, 20, true, "
               "1, false)", (uid, f"{name.lower()}.{uid.hex[-8:]}@{self.tag}.test", name, role,
                             tid))
        if attrs:
            self.update("users", uid, **attrs)
        return uid

    def login(self, short: str, *, team: str = "Alpha", role: str = "rep",
              **attrs: Any) -> uuid.UUID:
        """A person with their own login role (``admin add-user``)."""
        result = admin.add_user(self.url, email=f"{short}@{self.tag}.test", name=short.title(),
                                role=role, team=team, login=self.inst.login(short),
                                password=PASSWORD)
        uid = uuid.UUID(result.user_id)
        self._teams.setdefault(team, self.one("SELECT team_id FROM users WHERE id = %s",
                                              (uid,)))
        if attrs:
            self.update("users", uid, **attrs)
        return uid

    def conninfo(self, short: str) -> str:
        return self.inst.conninfo(short)

    def connect(self, short: str, **kwargs: Any) -> psycopg.Connection[Any]:
        return self.inst.connect(short, **kwargs)

    def url_of(self, short: str) -> str:
        """A postgresql:// URL for the person's login (CLI --db)."""
        base = self.url.split("//", 1)[1].split("@", 1)[1]
        return f"postgresql://{self.inst.login(short)}:{PASSWORD}@{base}"

    # -- routing configuration -------------------------------------------------------

    def rule(self, name: str, method: str, *, position: int = 0,
             match: Mapping[str, Any] | None = None, target_user: uuid.UUID | None = None,
             target_team: str | None = None, weights: Mapping[uuid.UUID, int] | None = None,
             backup_user: uuid.UUID | None = None, backup_team: str | None = None,
             active: bool = True) -> uuid.UUID:
        rid = uuid7()
        self.q("INSERT INTO routing_rules (id, version, name, position, active, match, method, "
               "target_user_id, target_team_id, weights, backup_user_id, backup_team_id) "
               "VALUES (%s, 1, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
               (rid, name, position, active, json.dumps(dict(match or {})), method,
                target_user, self.team(target_team) if target_team else None,
                json.dumps({str(k): v for k, v in (weights or {}).items()}), backup_user,
                self.team(backup_team) if backup_team else None))
        return rid

    def account(self, company: str, domains: list[str], owner: uuid.UUID) -> uuid.UUID:
        aid = uuid7()
        self.q("INSERT INTO accounts (id, version, company, domains, owner_id) "
               "VALUES (%s, 1, %s, %s, %s)", (aid, company, json.dumps(domains), owner))
        return aid

    def owners(self) -> dict[uuid.UUID | None, int]:
        return dict(self.q("SELECT owner_id, count(*) FROM leads GROUP BY owner_id"))


def add_pool(db: PoolDb, team: str, n: int, **cols: object) -> list[uuid.UUID]:
    """``n`` unclaimed leads in ``team``'s pool."""
    tid = db.team(team)
    ids = [uuid7() for _ in range(n)]
    created = cols.pop("created_at", datetime.now(UTC) - timedelta(hours=1))
    with db.su() as con, con.cursor().copy(
            "COPY leads (id, version, first_name, last_name, email, team_id, priority, "
            "lead_class, status, created_at, attempts, score, do_not_contact, score_breakdown, "
            "data_issues, sla_due_at) FROM STDIN") as copy:
        for i, lead_id in enumerate(ids):
            copy.write_row((lead_id, 1, f"P{i}", team, f"{lead_id.hex}@pool.test", tid,
                            cols.get("priority", 3), "qualification_needed", "new", created,
                            0, cols.get("score", 0), False, "[]", "[]", cols.get("sla_due_at")))
    return ids


def table_digest(db: PoolDb, tables: tuple[str, ...] = (
        "leads", "activities", "audit_log", "routing_state", "notifications", "intake",
        "lead_leases", "users", "teams", "accounts", "routing_rules")) -> dict[str, str]:
    """An md5 per table over every row: equal digests mean nothing changed."""
    out = {}
    for table in tables:
        out[table] = db.one(f"SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), "
                            f"'')) FROM {table} t")
    return out


__all__ = ["PASSWORD", "PoolDb", "add_pool", "table_digest"]
