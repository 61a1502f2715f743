"""Setting up the shared database and its people (``leadqueue admin …``).

Owns ``init`` (Alembic upgrade, then the PostgreSQL-only layer from
:mod:`leadqueue.shared.sql`, idempotently) and the person commands
(``add_user``, ``set_password``, ``disable_user``).

Choices written down here so the next person can see them:

* Group role names carry a per-installation prefix (default ``lq_``; set with
  ``--role-prefix`` or ``LEADQUEUE_ROLE_PREFIX``). Roles are cluster-wide, so
  two installations on one server, or parallel test runs, use different
  prefixes. The prefix is recorded in the database (``lq_role_prefix()``) and
  later commands read it from there; init refuses to switch it.
* ``<prefix>owner`` (NOLOGIN) owns every table and the write functions; no
  client logs in as it. ``<prefix>rep``, ``<prefix>team_lead``,
  ``<prefix>admin`` are the group roles people's login roles join;
  ``<prefix>intake`` may only append to the ``intake`` table (for other
  systems that hand in leads).
* Passwords are sent to the server already SCRAM-hashed (libpq's
  ``PQencryptPasswordConn``), so they never appear in server logs.
* Idempotency is checked, not hoped for: :func:`catalog_snapshot` captures
  everything init touches; init reports whether anything changed.
"""

from __future__ import annotations

import os
import re
import secrets
import string
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..store import KNOWN_REVISIONS, SCHEMA_REVISION, StoreError
from . import sql as S

DEFAULT_PREFIX = "lq_"
_PREFIX_RE = re.compile(r"^[a-z][a-z0-9_]{0,20}$")
_LOGIN_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class AdminError(StoreError):
    """The admin command cannot proceed: a clear message, nothing changed."""


def libpq_url(url: str) -> str:
    """A URL psycopg accepts (SQLAlchemy's ``+psycopg`` suffix removed)."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def connect(url: str, **kwargs: Any):  # type: ignore[no-untyped-def]
    import psycopg

    try:
        return psycopg.connect(libpq_url(url), connect_timeout=10, **kwargs)
    except psycopg.OperationalError as exc:
        raise AdminError(f"cannot connect to {redact(url)}: {str(exc).strip()}") from None


def redact(url: str) -> str:
    return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", url)


def resolve_prefix(prefix: str | None) -> str:
    prefix = prefix or os.environ.get("LEADQUEUE_ROLE_PREFIX") or DEFAULT_PREFIX
    if not _PREFIX_RE.match(prefix):
        raise AdminError(f"role prefix {prefix!r}: use lower-case letters, digits and _ "
                         "(starting with a letter, at most 21 characters)")
    return prefix


@dataclass(frozen=True)
class InitReport:
    revision_before: str | None
    revision_after: str
    prefix: str
    changed: bool


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _installed_prefix(cur) -> str | None:  # type: ignore[no-untyped-def]
    cur.execute("SELECT to_regprocedure('lq_role_prefix()') IS NOT NULL")
    if not cur.fetchone()[0]:
        return None
    cur.execute("SELECT lq_role_prefix()")
    return cur.fetchone()[0]


def _revision(cur) -> str | None:  # type: ignore[no-untyped-def]
    cur.execute("SELECT to_regclass('alembic_version') IS NOT NULL")
    if not cur.fetchone()[0]:
        return None
    cur.execute("SELECT version_num FROM alembic_version")
    row = cur.fetchone()
    return row[0] if row else None


def init(url: str, *, role_prefix: str | None = None,
         log: Callable[[str], None] = lambda _m: None) -> InitReport:
    """Migrate the shared database and install roles, RLS, functions, grants.

    Safe to run again: the second run changes nothing (``changed`` False).
    """
    with connect(url, autocommit=True) as con:
        cur = con.cursor()
        cur.execute("SELECT rolsuper, rolcreaterole FROM pg_roles WHERE rolname = current_user")
        is_super, can_create_roles = cur.fetchone()
        cur.execute("SELECT current_user, current_schema()")
        me, schema = cur.fetchone()
        if not (is_super or can_create_roles):
            raise AdminError(
                f"the database role {me!r} may not create roles, which admin init needs: "
                "run it as a superuser or a role with CREATEROLE (ALTER ROLE "
                f"{me} CREATEROLE); nothing was changed")
        before = _revision(cur)
        if before is not None and before not in KNOWN_REVISIONS:
            raise AdminError(
                f"the shared database has schema {before}, newer than this LeadQueue "
                f"({SCHEMA_REVISION}): upgrade LeadQueue on this machine before running "
                "admin init; nothing was changed")
        installed = _installed_prefix(cur)
        prefix = resolve_prefix(role_prefix or installed)
        if installed is not None and installed != prefix:
            raise AdminError(
                f"this database was set up with role prefix {installed!r}, not {prefix!r}: "
                "run admin init without --role-prefix (or with the same one)")
        snap_before = catalog_snapshot(cur, prefix) if before is not None else None

    if before != SCHEMA_REVISION:
        from ..store import make_engine, upgrade

        log(f"migrating the schema from {before or 'empty'} to {SCHEMA_REVISION}")
        engine = make_engine(url)
        try:
            upgrade(engine)
        finally:
            engine.dispose()

    roles = S.Roles(prefix)
    with connect(url) as con:
        with con.transaction():
            cur = con.cursor()
            # One installer at a time; a second concurrent init waits here.
            cur.execute("SELECT pg_advisory_xact_lock(hashtext('leadqueue admin init'))")
            _install(cur, roles, schema, me, bool(is_super), log)
        snap_after = catalog_snapshot(con.cursor(), prefix)
    return InitReport(before, SCHEMA_REVISION, prefix, snap_before != snap_after)


def _install(cur, roles: S.Roles, schema: str, me: str, is_super: bool,  # type: ignore[no-untyped-def]
             log: Callable[[str], None]) -> None:
    q = _quote
    for name in roles.all_groups:
        cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,))
        if cur.fetchone() is None:
            log(f"creating group role {name}")
            cur.execute(f"CREATE ROLE {q(name)} NOLOGIN")
    if not is_super:
        # To hand tables to the owner role, the installer must be a member of it.
        cur.execute("SELECT pg_has_role(current_user, %s, 'MEMBER')", (roles.owner,))
        if not cur.fetchone()[0]:
            cur.execute(f"GRANT {q(roles.owner)} TO {q(me)}")

    cur.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    cur.execute("SELECT 1 FROM pg_class WHERE relname = 'lq_lease_epoch' AND relkind = 'S'")
    if cur.fetchone() is None:
        cur.execute("CREATE SEQUENCE lq_lease_epoch")

    cur.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s ORDER BY tablename",
                (schema,))
    tables = [r[0] for r in cur.fetchall()]
    for table in tables:
        cur.execute(f"ALTER TABLE {q(table)} OWNER TO {q(roles.owner)}")
    cur.execute(f"ALTER SEQUENCE lq_lease_epoch OWNER TO {q(roles.owner)}")

    for ddl in S.helper_functions(schema, roles.prefix) + S.write_functions(schema):
        cur.execute(ddl)
    for sig in S.CLIENT_FUNCTIONS + S.OWNER_ONLY_FUNCTIONS:
        cur.execute(f"ALTER FUNCTION {sig} OWNER TO {q(roles.owner)}")
        cur.execute(f"REVOKE ALL ON FUNCTION {sig} FROM PUBLIC")
    clients = ", ".join(q(r) for r in roles.clients)
    for sig in S.CLIENT_FUNCTIONS:
        cur.execute(f"GRANT EXECUTE ON FUNCTION {sig} TO {clients}")

    for name, table, definition in S.CONSTRAINTS:
        cur.execute("SELECT 1 FROM pg_constraint WHERE conname = %s", (name,))
        if cur.fetchone() is None:
            log(f"adding constraint {name}")
            cur.execute(f"ALTER TABLE {q(table)} ADD CONSTRAINT {q(name)} {definition}")
    for name, definition in S.INDEXES:
        cur.execute(f"CREATE INDEX IF NOT EXISTS {q(name)} {definition}")
    for name, definition in S.TRIGGERS:
        cur.execute("SELECT 1 FROM pg_trigger WHERE tgname = %s", (name,))
        if cur.fetchone() is None:
            cur.execute(f"CREATE TRIGGER {q(name)} {definition}")

    # Row-level security on every table but Alembic's bookkeeping.
    by_table: dict[str, list[S.Policy]] = {}
    for pol in S.POLICIES:
        by_table.setdefault(pol.table, []).append(pol)
    for table in tables:
        if table == "alembic_version":
            continue
        cur.execute(f"ALTER TABLE {q(table)} ENABLE ROW LEVEL SECURITY")
        cur.execute(f"ALTER TABLE {q(table)} FORCE ROW LEVEL SECURITY")
        policies = by_table.get(table) or [
            # A table no policy was written for yet: admins only, until one is.
            S.Policy(table, f"lq_{table}_admin"[:63], "ALL", S.IS_ADMIN, S.IS_ADMIN)]
        policies = [S.Policy(table, f"lq_{table}_owner"[:63], "ALL", "true", "true", to="owner"),
                    *policies]
        for pol in policies:
            _ensure_policy(cur, pol, roles, clients)

    # Grants: a REVOKE then GRANT lands on the same ACL, so a re-run is a no-op.
    for table in tables:
        spec = S.GRANTS.get(table, {"admin": "SELECT, INSERT, UPDATE, DELETE"})
        for group in (roles.rep, roles.team_lead, roles.admin, roles.intake):
            cur.execute(f"REVOKE ALL ON TABLE {q(table)} FROM {q(group)}")
        for key, privileges in spec.items():
            cur.execute(f"GRANT {privileges} ON TABLE {q(table)} TO {q(getattr(roles, key))}")
    for table, allowed in (("leads", None), ("users", S.SELF_USER_COLUMNS)):
        cur.execute(
            "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 "
            "AND NOT attisdropped ORDER BY attnum", (table,))
        columns = [r[0] for r in cur.fetchall()]
        if allowed is None:
            allowed = tuple(c for c in columns if c not in S.PROTECTED_LEAD_COLUMNS)
        cols = ", ".join(q(c) for c in columns if c in allowed)
        for group in (roles.rep, roles.team_lead):
            cur.execute(f"GRANT UPDATE ({cols}) ON TABLE {q(table)} TO {q(group)}")
    cur.execute(f"GRANT USAGE ON SCHEMA {q(schema)} TO {clients}, {q(roles.intake)}")


def _ensure_policy(cur, pol: S.Policy, roles: S.Roles, clients: str) -> None:  # type: ignore[no-untyped-def]
    to = clients if pol.to == "clients" else _quote(getattr(roles, pol.to))
    cur.execute("SELECT polcmd FROM pg_policy WHERE polname = %s AND polrelid = %s::regclass",
                (pol.name, pol.table))
    row = cur.fetchone()
    cmd_char = {"SELECT": "r", "INSERT": "a", "UPDATE": "w", "DELETE": "d", "ALL": "*"}[pol.command]
    if row is not None and row[0] != cmd_char:
        cur.execute(f"DROP POLICY {_quote(pol.name)} ON {_quote(pol.table)}")
        row = None
    using = f" USING ({pol.using})" if pol.using else ""
    check = f" WITH CHECK ({pol.check})" if pol.check else ""
    if row is None:
        cur.execute(f"CREATE POLICY {_quote(pol.name)} ON {_quote(pol.table)} AS PERMISSIVE "
                    f"FOR {pol.command} TO {to}{using}{check}")
    else:
        cur.execute(f"ALTER POLICY {_quote(pol.name)} ON {_quote(pol.table)} TO {to}{using}{check}")


def catalog_snapshot(cur, prefix: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Everything init installs, as comparable data (oids included, so an
    object dropped and recreated counts as a change)."""
    queries = {
        "revision": "SELECT version_num FROM alembic_version",
        "tables": """SELECT c.relname, c.relowner::regrole::text, c.relrowsecurity,
                            c.relforcerowsecurity,
                            (SELECT array_agg(a::text ORDER BY a::text) FROM unnest(c.relacl) a)
                       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                      WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'S')
                      ORDER BY 1""",
        "column_acl": """SELECT c.relname, a.attname,
                            (SELECT array_agg(x::text ORDER BY x::text) FROM unnest(a.attacl) x)
                       FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
                       JOIN pg_namespace n ON n.oid = c.relnamespace
                      WHERE n.nspname = current_schema() AND a.attacl IS NOT NULL ORDER BY 1, 2""",
        "policies": """SELECT p.oid::bigint, p.polname, p.polrelid::regclass::text, p.polcmd,
                              p.polpermissive,
                              (SELECT array_agg(r::regrole::text ORDER BY r::regrole::text)
                                 FROM unnest(p.polroles) r),
                              pg_get_expr(p.polqual, p.polrelid),
                              pg_get_expr(p.polwithcheck, p.polrelid)
                         FROM pg_policy p ORDER BY 2, 3""",
        "functions": """SELECT p.oid::bigint, p.oid::regprocedure::text, p.prosrc, p.proconfig,
                               p.prosecdef, p.provolatile, p.proowner::regrole::text,
                               (SELECT array_agg(a::text ORDER BY a::text) FROM unnest(p.proacl) a)
                          FROM pg_proc p WHERE p.proname LIKE 'lq\\_%%' ORDER BY 2""",
        "triggers": """SELECT t.oid::bigint, t.tgname, pg_get_triggerdef(t.oid) FROM pg_trigger t
                        WHERE NOT t.tgisinternal ORDER BY 2""",
        "constraints": """SELECT c.oid::bigint, c.conname, pg_get_constraintdef(c.oid)
                            FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
                           WHERE n.nspname = current_schema() ORDER BY 2""",
        "indexes": """SELECT indexname, indexdef FROM pg_indexes
                       WHERE schemaname = current_schema() ORDER BY 1""",
        "roles": """SELECT rolname, rolcanlogin, rolinherit, rolsuper, rolcreaterole
                      FROM pg_roles WHERE rolname LIKE %(like)s ORDER BY 1""",
        "members": """SELECT r.rolname, m.rolname FROM pg_auth_members am
                        JOIN pg_roles r ON r.oid = am.roleid JOIN pg_roles m ON m.oid = am.member
                       WHERE r.rolname LIKE %(like)s ORDER BY 1, 2""",
        "extensions": "SELECT extname FROM pg_extension ORDER BY 1",
        "schema_acl": """SELECT (SELECT array_agg(a::text ORDER BY a::text) FROM unnest(nspacl) a)
                           FROM pg_namespace WHERE nspname = current_schema()""",
    }
    like = prefix.replace("_", "\\_") + "%"
    snap: dict[str, Any] = {}
    for key, query in queries.items():
        cur.execute(query, {"like": like} if "%(like)s" in query else None)
        snap[key] = [tuple(r) for r in cur.fetchall()]
    return snap


# --- people -------------------------------------------------------------------------------

ROLES = ("rep", "team_lead", "admin")


def login_from_email(email: str) -> str:
    """A PostgreSQL login name derived from an email: lower-case, [a-z0-9_]."""
    name = re.sub(r"[^a-z0-9_]+", "_", email.strip().lower()).strip("_")
    if not name or not (name[0].isalpha() or name[0] == "_"):
        name = f"u_{name}"
    return name[:63]


def generate_password(length: int = 24) -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))


@dataclass(frozen=True)
class UserResult:
    user_id: str
    login: str
    created: bool
    team_created: bool
    password: str | None  # set when one was generated (shown once)


def _prefix_of(cur) -> str:  # type: ignore[no-untyped-def]
    prefix = _installed_prefix(cur)
    if prefix is None:
        raise AdminError("this database is not set up for LeadQueue users yet: run "
                         "'leadqueue admin init --db URL' first")
    return prefix


def _encrypted(con, password: str, login: str) -> str:  # type: ignore[no-untyped-def]
    return con.pgconn.encrypt_password(password.encode(), login.encode(), b"scram-sha-256").decode()


def add_user(url: str, *, email: str, name: str, role: str, team: str,
             login: str | None = None, password: str | None = None,
             now: Any = None) -> UserResult:
    """Create (or update) a person: login role, group membership, users row."""
    from datetime import UTC, datetime

    from ..contact import normalize_email
    from ..ids import uuid7

    if role not in ROLES:
        raise AdminError(f"--role: {role!r} is not one of {', '.join(ROLES)}")
    try:
        email_n = normalize_email(email)
    except ValueError as exc:
        raise AdminError(f"--email: {exc}") from None
    if not email_n:
        raise AdminError("--email: an email address is required")
    if not name.strip():
        raise AdminError("--name: a name is required")
    if not team.strip():
        raise AdminError("--team: a team name is required")
    login = (login or login_from_email(email_n)).strip()
    if not _LOGIN_RE.match(login):
        raise AdminError(f"--login: {login!r} is not a usable role name "
                         "(lower-case letters, digits, _; at most 63 characters)")
    generated = None
    if password is None:
        password = generated = generate_password()
    now = now or datetime.now(UTC)
    q = _quote
    with connect(url) as con:
        cur = con.cursor()
        prefix = _prefix_of(cur)
        roles = S.Roles(prefix)
        if login.startswith(prefix):
            raise AdminError(f"--login: names starting with {prefix!r} are reserved for "
                             "LeadQueue's group roles")
        cur.execute("SELECT rolsuper FROM pg_roles WHERE rolname = %s", (login,))
        row = cur.fetchone()
        if row is not None and row[0]:
            raise AdminError(f"--login: {login!r} is a superuser role; people get their own "
                             "ordinary login role")
        secret = _encrypted(con, password, login)
        if row is None:
            cur.execute(f"CREATE ROLE {q(login)} LOGIN PASSWORD %s" % _literal(con, secret))
        else:
            cur.execute(f"ALTER ROLE {q(login)} LOGIN PASSWORD %s" % _literal(con, secret))
        for r in ROLES:
            group = roles.group_for(r)
            if r == role:
                cur.execute(f"GRANT {q(group)} TO {q(login)}")
            else:
                cur.execute("SELECT pg_has_role(%s, %s, 'MEMBER')", (login, group))
                if cur.fetchone()[0]:
                    cur.execute(f"REVOKE {q(group)} FROM {q(login)}")
        cur.execute("SELECT id FROM teams WHERE name = %s", (team,))
        trow = cur.fetchone()
        team_created = trow is None
        if team_created:
            team_id = uuid7()
            cur.execute("INSERT INTO teams (id, version, name, timezone, calling_window_start, "
                        "calling_window_end, lease_minutes, travel_lease_hours, updated_at) "
                        "VALUES (%s, 1, %s, 'UTC', '08:00', '20:00', 30, 72, %s)",
                        (team_id, team, now))
        else:
            team_id = trow[0]
        cur.execute("SELECT id FROM users WHERE email = %s", (email_n,))
        urow = cur.fetchone()
        # The login may have belonged to someone else's row before: move it.
        cur.execute("UPDATE users SET db_role = NULL WHERE db_role = %s AND email <> %s",
                    (login, email_n))
        if urow is None:
            user_id = uuid7()
            cur.execute(
                "INSERT INTO users (id, version, email, name, role, team_id, db_role, "
                "daily_capacity, available, routing_weight, disabled, updated_at) "
                "VALUES (%s, 1, %s, %s, %s, %s, %s, 20, true, 1, false, %s)",
                (user_id, email_n, name, role, team_id, login, now))
        else:
            user_id = urow[0]
            cur.execute(
                "UPDATE users SET name = %s, role = %s, team_id = %s, db_role = %s, "
                "disabled = false, version = version + 1, updated_at = %s WHERE id = %s",
                (name, role, team_id, login, now, user_id))
        con.commit()
    return UserResult(str(user_id), login, urow is None, team_created, generated)


def _literal(con, value: str) -> str:  # type: ignore[no-untyped-def]
    from psycopg import sql

    return sql.Literal(value).as_string(con)


def set_password(url: str, *, login: str, password: str | None = None) -> str | None:
    """Set a login's password; returns the generated one when none was given."""
    generated = None
    if password is None:
        password = generated = generate_password()
    with connect(url) as con:
        cur = con.cursor()
        _prefix_of(cur)
        cur.execute("SELECT 1 FROM users WHERE db_role = %s", (login,))
        if cur.fetchone() is None:
            raise AdminError(f"--login: no LeadQueue user has the login {login!r}")
        secret = _encrypted(con, password, login)
        cur.execute(f"ALTER ROLE {_quote(login)} PASSWORD %s" % _literal(con, secret))
        con.commit()
    return generated


def disable_user(url: str, *, email: str | None = None, login: str | None = None) -> str:
    """Disable a person: no more log-ins, sessions ended, RLS sees nothing.

    The users row stays (history points at it) with ``disabled`` set.
    """
    with connect(url) as con:
        cur = con.cursor()
        _prefix_of(cur)
        if email:
            cur.execute("SELECT id, db_role FROM users WHERE email = %s", (email.strip().lower(),))
        else:
            cur.execute("SELECT id, db_role FROM users WHERE db_role = %s", (login,))
        row = cur.fetchone()
        if row is None:
            raise AdminError(f"no LeadQueue user {email or login!r}")
        user_id, db_role = row
        cur.execute("UPDATE users SET disabled = true, available = false, version = version + 1 "
                    "WHERE id = %s", (user_id,))
        if db_role:
            cur.execute(f"ALTER ROLE {_quote(db_role)} NOLOGIN")
        con.commit()
        if db_role:
            cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE usename = %s AND datname = current_database()", (db_role,))
            con.commit()
    return db_role or ""


def connect_hint(url: str, login: str) -> str:
    """How the person connects, in words: the URL without anyone's password."""
    from urllib.parse import urlsplit

    parts = urlsplit(libpq_url(url))
    host = parts.hostname or "localhost"
    port = parts.port or 5432
    db = parts.path.lstrip("/")
    return (f"connect as {login}: host {host}, port {port}, database {db}, user {login}\n"
            f"  e.g. leadqueue --db postgresql://{login}@{host}:{port}/{db} "
            "(the app asks for the password and keeps it in the OS keyring)")
