"""Helpers for tests on a set-up shared database (``admin init``) with real
login roles, reached through psycopg and through ``psql``.

Login and group roles are cluster-wide, so every installation made here uses
names unique to it (``lqt<hex>_`` for group roles, ``lqu<hex>_<name>`` for
people) and :meth:`Installation.drop` removes the database and every one of
those roles at the end.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import subprocess
import uuid
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

#: Every password the tests give people (trust auth on 127.0.0.1 accepts
#: anything, but on a password-checking server the tests still connect).
PASSWORD = "s3cret-Test-pw"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def url_with(url: str, **changes: Any) -> str:
    """A libpq conninfo string for ``url`` with some parameters changed."""
    params = conninfo_to_dict(url.replace("postgresql+psycopg://", "postgresql://", 1))
    params.update({k: v for k, v in changes.items() if v is not None})
    return make_conninfo(**params)


def database_url(server_url: str, dbname: str) -> str:
    return f"{server_url.rsplit('/', 1)[0]}/{dbname}"


@dataclass
class Installation:
    """One shared database with its own group-role prefix and people."""

    server_url: str
    dbname: str
    prefix: str
    login_prefix: str
    logins: dict[str, str] = field(default_factory=dict)  # short name -> login role

    @classmethod
    def create(cls, server_url: str, *, owner: str | None = None) -> Installation:
        tag = uuid.uuid4().hex[:8]
        inst = cls(server_url, f"lq_test_sec_{tag}", f"lqt{tag}_", f"lqu{tag}_")
        with psycopg.connect(server_url, autocommit=True) as con:
            owner_clause = f" OWNER {_quote(owner)}" if owner else ""
            con.execute(f"CREATE DATABASE {_quote(inst.dbname)}{owner_clause}")
        return inst

    @property
    def url(self) -> str:
        """The superuser's URL of this database (the installer's, in tests)."""
        return database_url(self.server_url, self.dbname)

    def login(self, short: str) -> str:
        return self.logins.get(short) or f"{self.login_prefix}{short}"

    def conninfo(self, short: str, *, password: str = PASSWORD) -> str:
        return url_with(self.url, user=self.login(short), password=password)

    def connect(self, short: str, **kwargs: Any) -> psycopg.Connection[Any]:
        kwargs.setdefault("autocommit", True)
        return psycopg.connect(self.conninfo(short), connect_timeout=10, **kwargs)

    def su(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self.url, autocommit=True)

    def drop(self) -> None:
        with psycopg.connect(self.server_url, autocommit=True) as con:
            con.execute(f"DROP DATABASE IF EXISTS {_quote(self.dbname)} WITH (FORCE)")
            like = [self.prefix.replace("_", "\\_") + "%",
                    self.login_prefix.replace("_", "\\_") + "%"]
            names = [r[0] for r in con.execute(
                "SELECT rolname FROM pg_roles WHERE rolname LIKE ANY(%s) "
                "ORDER BY rolname LIKE %s, rolname", (like, like[0])).fetchall()]
            # People first (members), then the group roles.
            for name in names:
                con.execute(f"DROP ROLE IF EXISTS {_quote(name)}")


@dataclass(frozen=True)
class Outcome:
    """What one attempt gave: rows as text, or the error text."""

    rows: list[tuple[str, ...]]
    error: str | None

    @property
    def ok(self) -> bool:
        return self.error is None


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "t" if value else "f"
    return str(value)


def run_psycopg(conninfo: str, statements: list[str]) -> Outcome:
    """Run statements in order on one session; rows of the last one."""
    try:
        with psycopg.connect(conninfo, autocommit=True, connect_timeout=10) as con:
            rows: list[tuple[str, ...]] = []
            for sql in statements:
                cur = con.execute(sql)  # type: ignore[call-overload]
                rows = ([tuple(_text(v) for v in r) for r in cur.fetchall()]
                        if cur.description else [])
            return Outcome(rows, None)
    except psycopg.Error as exc:
        return Outcome([], str(exc).strip())


def run_psql(conninfo: str, statements: list[str]) -> Outcome:
    """The same through the psql binary: one session, stop at the first error.

    Every statement but the last should return no rows (-q hides command tags).
    """
    params = conninfo_to_dict(conninfo)
    password = params.pop("password", None)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update(PGCONNECT_TIMEOUT="10", PGAPPNAME="leadqueue-tests")
    if password:
        env["PGPASSWORD"] = password
    script = "\n".join(s.rstrip().rstrip(";") + ";" for s in statements) + "\n"
    done = subprocess.run(
        ["psql", "-X", "-q", "-A", "-t", "-F", "|", "-v", "ON_ERROR_STOP=1",
         make_conninfo(**params)],
        input=script, capture_output=True, text=True, timeout=60, env=env)
    if done.returncode != 0:
        return Outcome([], done.stderr.strip() or f"psql exited {done.returncode}")
    rows = [tuple(line.split("|")) for line in done.stdout.splitlines() if line != ""]
    return Outcome(rows, None)


CLIENTS = {"psycopg": run_psycopg, "psql": run_psql}


def scram_matches(verifier: str, password: str) -> bool:
    """Whether a SCRAM-SHA-256 verifier from pg_authid is for ``password``
    (RFC 5802/7677: StoredKey = H(HMAC(SaltedPassword, "Client Key")))."""
    method, rest = verifier.split("$", 1)
    if method != "SCRAM-SHA-256":
        return False
    iter_salt, keys = rest.split("$", 1)
    iterations, salt_b64 = iter_salt.split(":", 1)
    stored_b64, _server_b64 = keys.split(":", 1)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(salt_b64),
                                 int(iterations))
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    return hmac.compare_digest(hashlib.sha256(client_key).digest(),
                               base64.b64decode(stored_b64))
