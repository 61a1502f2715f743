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
* An intake login (``add_intake_login``, ``admin add-user --role intake``) is
  a system, not a person: a login role in ``<prefix>intake`` and nothing
  else, with no users row and no team, so it is never routed to, never
  counted as a rep and sees no rows. It is recognised by that membership
  (``set-password`` and ``disable-user --login`` work on it too).
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
    Refuses, with nothing changed, when the connecting role may not create
    roles, when the database's schema is newer than this LeadQueue, or when a
    group role name is already taken by a role that is not a plain group.
    """
    import psycopg

    with connect(url, autocommit=True) as con:
        cur = con.cursor()
        # One installer at a time, held across the migration and the install:
        # a second concurrent init waits here, then finds nothing to do.
        cur.execute("SELECT pg_advisory_lock(hashtext('leadqueue admin init'))")
        try:
            return _init_locked(con, url, role_prefix, log)
        except psycopg.Error as exc:
            raise AdminError(f"admin init stopped: {str(exc).strip()} (the install step runs "
                             "in one transaction and was rolled back)") from None
        finally:
            if not con.closed:
                con.execute("SELECT pg_advisory_unlock(hashtext('leadqueue admin init'))")


def _init_locked(con, url: str, role_prefix: str | None,  # type: ignore[no-untyped-def]
                 log: Callable[[str], None]) -> InitReport:
    cur = con.cursor()
    cur.execute("SELECT rolsuper, rolcreaterole FROM pg_roles WHERE rolname = current_user")
    is_super, can_create_roles = cur.fetchone()
    cur.execute("SELECT current_user, current_schema(), current_database()")
    me, schema, dbname = cur.fetchone()
    if not (is_super or can_create_roles):
        raise AdminError(
            f"the database role {me!r} may not create roles, which admin init needs: "
            "run it as a superuser or as a role with CREATEROLE (a superuser runs "
            f"ALTER ROLE {me} CREATEROLE); nothing was changed")
    if schema is None:
        raise AdminError("the connecting role has no schema on its search_path to install "
                         "into; nothing was changed")
    before = _revision(cur)
    if before is not None and before not in KNOWN_REVISIONS:
        raise AdminError(
            f"the shared database has schema {before}, newer than this LeadQueue "
            f"({SCHEMA_REVISION}): upgrade LeadQueue on this machine before running "
            "admin init; nothing was changed")
    if not is_super:
        cur.execute("SELECT has_schema_privilege(current_schema(), 'CREATE'), "
                    "has_database_privilege(current_database(), 'CREATE'), "
                    "EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'btree_gist')")
        can_create_tables, can_create_ext, has_gist = cur.fetchone()
        if not can_create_tables or not (has_gist or can_create_ext):
            raise AdminError(
                f"the database role {me!r} may not create tables in schema {schema!r} or "
                f"extensions in database {dbname!r}: run admin init as the database's owner "
                "(or a superuser); nothing was changed")
    installed = _installed_prefix(cur)
    prefix = resolve_prefix(role_prefix or installed)
    if installed is not None and installed != prefix:
        raise AdminError(
            f"this database was set up with role prefix {installed!r}, not {prefix!r}: "
            "run admin init without --role-prefix (or with the same one); nothing was changed")
    roles = S.Roles(prefix)
    cur.execute("SELECT rolname FROM pg_roles WHERE rolname = ANY(%s) "
                "AND (rolcanlogin OR rolsuper OR rolbypassrls OR rolcreaterole) ORDER BY 1",
                (list(roles.all_groups),))
    taken = [r[0] for r in cur.fetchall()]
    if taken:
        raise AdminError(
            f"role(s) {', '.join(taken)} already exist on this server and can log in or "
            "bypass security, so they cannot serve as LeadQueue group roles: choose another "
            "--role-prefix; nothing was changed")
    snap_before = catalog_snapshot(cur, prefix) if before is not None else None

    if before != SCHEMA_REVISION:
        from ..store import make_engine, upgrade

        log(f"migrating the schema from {before or 'empty'} to {SCHEMA_REVISION}")
        engine = make_engine(url)
        try:
            upgrade(engine)
        finally:
            engine.dispose()

    with con.transaction():
        _install(cur, roles, schema, me, bool(is_super), log)
    snap_after = catalog_snapshot(cur, prefix)
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
    # A new owner needs CREATE on the schema (checked unless the installer is
    # a superuser): grant it in both cases so both installs look the same.
    cur.execute(f"GRANT USAGE, CREATE ON SCHEMA {q(schema)} TO {q(roles.owner)}")
    for table in tables:
        cur.execute(f"ALTER TABLE {q(table)} OWNER TO {q(roles.owner)}")
    cur.execute(f"ALTER SEQUENCE lq_lease_epoch OWNER TO {q(roles.owner)}")

    for ddl in S.helper_functions(schema, roles.prefix) + S.write_functions(schema):
        cur.execute(ddl)
    # Every function's EXECUTE is revoked from PUBLIC and every group, then
    # granted as declared: an installation made by an older release (which
    # granted more) is brought in line, and a re-run lands on the same ACL.
    groups = ", ".join(q(r) for r in (*roles.clients, roles.intake))
    for sig in S.CLIENT_FUNCTIONS + S.ADMIN_FUNCTIONS + S.OWNER_ONLY_FUNCTIONS:
        cur.execute(f"ALTER FUNCTION {sig} OWNER TO {q(roles.owner)}")
        cur.execute(f"REVOKE ALL ON FUNCTION {sig} FROM PUBLIC, {groups}")
    clients = ", ".join(q(r) for r in roles.clients)
    for sig in S.CLIENT_FUNCTIONS:
        cur.execute(f"GRANT EXECUTE ON FUNCTION {sig} TO {clients}")
    for sig in S.ADMIN_FUNCTIONS:
        cur.execute(f"GRANT EXECUTE ON FUNCTION {sig} TO {q(roles.admin)}")

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
        # Policies are permissive (OR-ed): one left over from an older release
        # would still grant what it granted, so anything not declared goes.
        cur.execute("SELECT polname FROM pg_policy WHERE polrelid = %s::regclass "
                    "AND NOT (polname = ANY(%s)) ORDER BY 1",
                    (table, [p.name for p in policies]))
        for (stale,) in cur.fetchall():
            log(f"dropping policy {stale} on {table} (no longer declared)")
            cur.execute(f"DROP POLICY {q(stale)} ON {q(table)}")

    # Grants: a REVOKE then GRANT lands on the same ACL, so a re-run is a no-op.
    for table in tables:
        spec = S.GRANTS.get(table, {"admin": "SELECT, INSERT, UPDATE, DELETE"})
        for group in (roles.rep, roles.team_lead, roles.admin, roles.intake):
            cur.execute(f"REVOKE ALL ON TABLE {q(table)} FROM {q(group)}")
        for key, privileges in spec.items():
            cur.execute(f"GRANT {privileges} ON TABLE {q(table)} TO {q(getattr(roles, key))}")
    for table, allowed in S.CLIENT_UPDATE_COLUMNS.items():
        if table not in tables:
            continue
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

    # Only LeadQueue's roles may connect (by default every role on the server
    # may). Needs the database's owner; a CREATEROLE installer that is not the
    # owner leaves it and says so.
    cur.execute("SELECT pg_has_role(current_user, d.datdba, 'MEMBER') FROM pg_database d "
                "WHERE d.datname = current_database()")
    if cur.fetchone()[0]:
        db = q(_current_database(cur))
        cur.execute(f"REVOKE CONNECT ON DATABASE {db} FROM PUBLIC")
        cur.execute(f"GRANT CONNECT ON DATABASE {db} TO {clients}, {q(roles.intake)}")
    else:
        log("not the database's owner: every role on the server may still connect to it "
            "(RLS still hides every row from roles that are not LeadQueue users); the "
            "owner can run REVOKE CONNECT ON DATABASE … FROM PUBLIC")


def _current_database(cur) -> str:  # type: ignore[no-untyped-def]
    cur.execute("SELECT current_database()")
    return cur.fetchone()[0]


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
        "indexes": """SELECT c.oid::bigint, c.relname, pg_get_indexdef(c.oid)
                        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                       WHERE n.nspname = current_schema() AND c.relkind = 'i' ORDER BY 2""",
        "roles": """SELECT rolname, rolcanlogin, rolinherit, rolsuper, rolcreaterole,
                           rolbypassrls
                      FROM pg_roles WHERE rolname LIKE %(like)s ORDER BY 1""",
        "database_acl": """SELECT datname, (SELECT array_agg(a::text ORDER BY a::text)
                                              FROM unnest(datacl) a)
                             FROM pg_database WHERE datname = current_database()""",
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
    email: str
    login: str
    created: bool
    team_created: bool
    #: The password that was generated (shown once); None when one was given
    #: or an existing login kept its password.
    password: str | None
    #: False when an existing login kept its password (re-run without one).
    password_set: bool = True


def _prefix_of(cur) -> str:  # type: ignore[no-untyped-def]
    prefix = _installed_prefix(cur)
    if prefix is None:
        raise AdminError("this database is not set up for LeadQueue users yet: run "
                         "'leadqueue admin init --db URL' first")
    return prefix


def _require_createrole(cur, what: str) -> None:  # type: ignore[no-untyped-def]
    cur.execute("SELECT current_user, rolsuper OR rolcreaterole FROM pg_roles "
                "WHERE rolname = current_user")
    me, ok = cur.fetchone()
    if not ok:
        raise AdminError(f"the database role {me!r} may not manage login roles, which {what} "
                         "needs: run it as the role that ran admin init (a superuser or a "
                         "role with CREATEROLE); nothing was changed")


def _encrypted(con, password: str, login: str) -> str:  # type: ignore[no-untyped-def]
    # The server only ever sees the SCRAM verifier, never the password.
    return con.pgconn.encrypt_password(password.encode(), login.encode(),
                                       b"scram-sha-256").decode()


def _check_login_name(login: str) -> None:
    if not _LOGIN_RE.match(login):
        raise AdminError(f"--login: {login!r} is not a usable role name "
                         "(lower-case letters, digits, _; at most 63 characters)")


def _refuse_reserved(login: str, prefix: str) -> None:
    if login.startswith(prefix):
        raise AdminError(f"--login: names starting with {prefix!r} are reserved for "
                         "LeadQueue's group roles")


def _enable_login(con, cur, login: str, password: str | None,  # type: ignore[no-untyped-def]
                  exists: bool) -> None:
    """Create the login role, or let an existing one log in again (re-adding a
    disabled login re-enables it), with ``password`` when one is given."""
    q = _quote
    if exists:
        clause = " PASSWORD " + _literal(con, _encrypted(con, password, login)) \
            if password is not None else ""
        cur.execute(f"ALTER ROLE {q(login)} LOGIN{clause}")
    else:
        assert password is not None
        cur.execute(f"CREATE ROLE {q(login)} LOGIN INHERIT PASSWORD "
                    + _literal(con, _encrypted(con, password, login)))


def _disable_login(cur, role: str) -> None:  # type: ignore[no-untyped-def]
    """NOLOGIN for ``role``, if the role still exists."""
    cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,))
    if cur.fetchone() is not None:
        cur.execute(f"ALTER ROLE {_quote(role)} NOLOGIN")


def _check_login_role(cur, login: str, email: str, prefix: str) -> bool:  # type: ignore[no-untyped-def]
    """Whether ``login`` exists; refuses a role that must not become a person's."""
    _refuse_reserved(login, prefix)
    cur.execute("SELECT rolsuper, rolcreaterole, rolbypassrls, rolreplication FROM pg_roles "
                "WHERE rolname = %s", (login,))
    row = cur.fetchone()
    if row is None:
        return False
    if any(row):
        raise AdminError(f"--login: {login!r} is a privileged role (superuser, CREATEROLE, "
                         "BYPASSRLS or replication) and would see past row-level security; "
                         "people get their own ordinary login role: choose another --login")
    # An existing role becomes a person's only if this database already knows
    # it as a LeadQueue login; otherwise add-user would take over (and change
    # the password of) some other application's role on the same server.
    cur.execute("SELECT email FROM users WHERE db_role = %s", (login,))
    known = cur.fetchone()
    if known is None:
        raise AdminError(f"--login: a role {login!r} already exists on this server and is not "
                         "a LeadQueue user of this database: choose another --login")
    if known[0] != email:
        raise AdminError(f"--login: {login!r} is already the login of {known[0]}")
    return True


def add_user(url: str, *, email: str, name: str, role: str, team: str,
             login: str | None = None, password: str | None = None,
             now: Any = None) -> UserResult:
    """Create (or update) a person: login role, group membership, users row.

    Running it again for the same email updates name, role, team and login;
    an existing login keeps its password unless one is given.
    """
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
    name = name.strip()
    team = team.strip()
    if not name:
        raise AdminError("--name: a name is required")
    if not team:
        raise AdminError("--team: a team name is required")
    login = (login or login_from_email(email_n)).strip()
    _check_login_name(login)
    now = now or datetime.now(UTC)
    q = _quote
    with connect(url) as con:
        cur = con.cursor()
        _require_createrole(cur, "add-user")
        prefix = _prefix_of(cur)
        roles = S.Roles(prefix)
        cur.execute("SELECT id, db_role FROM users WHERE email = %s", (email_n,))
        urow = cur.fetchone()
        role_exists = _check_login_role(cur, login, email_n, prefix)
        generated = None
        if password is None and not role_exists:
            password = generated = generate_password()
        _enable_login(con, cur, login, password, role_exists)
        for r in ROLES:
            group = roles.group_for(r)
            cur.execute("SELECT pg_has_role(%s, %s, 'MEMBER')", (login, group))
            member = cur.fetchone()[0]
            if r == role and not member:
                cur.execute(f"GRANT {q(group)} TO {q(login)}")
            elif r != role and member:
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
        if urow is None:
            user_id = uuid7()
            cur.execute(
                "INSERT INTO users (id, version, email, name, role, team_id, db_role, "
                "daily_capacity, available, routing_weight, disabled, updated_at) "
                "VALUES (%s, 1, %s, %s, %s, %s, %s, 20, true, 1, false, %s)",
                (user_id, email_n, name, role, team_id, login, now))
        else:
            user_id, old_login = urow
            cur.execute(
                "UPDATE users SET name = %s, role = %s, team_id = %s, db_role = %s, "
                "disabled = false, version = version + 1, updated_at = %s WHERE id = %s",
                (name, role, team_id, login, now, user_id))
            if old_login and old_login != login:
                # The person moved to a new login: the old one may not log in
                # as them any more (it no longer maps to a users row anyway).
                _disable_login(cur, old_login)
        con.commit()
    return UserResult(str(user_id), email_n, login, urow is None, team_created, generated,
                      password is not None)


@dataclass(frozen=True)
class IntakeLoginResult:
    login: str
    created: bool
    #: The generated password (shown once); None when one was given or an
    #: existing login kept its password.
    password: str | None
    password_set: bool = True


def _is_intake_login(cur, login: str, prefix: str) -> bool:  # type: ignore[no-untyped-def]
    """Whether ``login`` is a direct member of this installation's intake group."""
    cur.execute("SELECT EXISTS (SELECT 1 FROM pg_auth_members m "
                "JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles r ON r.oid = m.member "
                "WHERE g.rolname = %s AND r.rolname = %s)", (S.Roles(prefix).intake, login))
    return bool(cur.fetchone()[0])


def add_intake_login(url: str, *, login: str, password: str | None = None) -> IntakeLoginResult:
    """Create (or re-enable) a login for another system that hands in leads.

    It may only INSERT new rows into ``intake`` (id, received_at,
    source_system, payload): no users row, no team, nothing to read. Running
    it again re-enables the login and keeps its password unless one is given.
    """
    login = (login or "").strip()
    _check_login_name(login)
    q = _quote
    with connect(url) as con:
        cur = con.cursor()
        _require_createrole(cur, "add-user --role intake")
        prefix = _prefix_of(cur)
        roles = S.Roles(prefix)
        _refuse_reserved(login, prefix)
        cur.execute("SELECT rolsuper, rolcreaterole, rolbypassrls, rolreplication FROM pg_roles "
                    "WHERE rolname = %s", (login,))
        row = cur.fetchone()
        exists = row is not None
        if exists and any(row):
            raise AdminError(f"--login: {login!r} is a privileged role (superuser, CREATEROLE, "
                             "BYPASSRLS or replication): an intake login gets its own "
                             "ordinary role: choose another --login")
        cur.execute("SELECT email FROM users WHERE db_role = %s", (login,))
        person = cur.fetchone()
        if person is not None:
            raise AdminError(f"--login: {login!r} is the login of {person[0]}, a person; an "
                             "intake login is a system's own: choose another --login")
        if exists and not _is_intake_login(cur, login, prefix):
            raise AdminError(f"--login: a role {login!r} already exists on this server and is "
                             "not an intake login of this database: choose another --login")
        generated = None
        if password is None and not exists:
            password = generated = generate_password()
        _enable_login(con, cur, login, password, exists)
        if not exists:
            cur.execute(f"GRANT {q(roles.intake)} TO {q(login)}")
        # Only the intake group: a person's group granted by hand would let the
        # system read and write as a person (it has no users row, but still).
        for group in roles.clients:
            cur.execute("SELECT pg_has_role(%s, %s, 'MEMBER')", (login, group))
            if cur.fetchone()[0]:
                cur.execute(f"REVOKE {q(group)} FROM {q(login)}")
        con.commit()
    return IntakeLoginResult(login, not exists, generated, password is not None)


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
        _require_createrole(cur, "set-password")
        prefix = _prefix_of(cur)
        cur.execute("SELECT 1 FROM users WHERE db_role = %s", (login,))
        if cur.fetchone() is None and not _is_intake_login(cur, login, prefix):
            raise AdminError(f"--login: no LeadQueue user has the login {login!r} (and it "
                             "is not an intake login)")
        secret = _encrypted(con, password, login)
        cur.execute(f"ALTER ROLE {_quote(login)} PASSWORD " + _literal(con, secret))
        con.commit()
    return generated


@dataclass(frozen=True)
class DisableResult:
    #: None for an intake login (a system: no users row).
    email: str | None
    login: str | None
    #: Open sessions of the login that were ended (None: not allowed to end them).
    sessions_ended: int | None


def disable_user(url: str, *, email: str | None = None,
                 login: str | None = None) -> DisableResult:
    """Disable a person: no more log-ins, open sessions ended, RLS shows them nothing.

    The users row stays (activities, leases and the audit log point at it)
    with ``disabled`` set; running it again changes nothing more.
    """
    import psycopg

    if not (email or login):
        raise AdminError("disable-user: give --email or --login")
    with connect(url) as con:
        cur = con.cursor()
        _require_createrole(cur, "disable-user")
        prefix = _prefix_of(cur)
        if email:
            cur.execute("SELECT id, email, db_role FROM users WHERE email = %s",
                        (email.strip().lower(),))
        else:
            cur.execute("SELECT id, email, db_role FROM users WHERE db_role = %s", (login,))
        row = cur.fetchone()
        if row is None and login and _is_intake_login(cur, login, prefix):
            row = (None, None, login)  # a system's intake login: no users row
        if row is None:
            raise AdminError(f"no LeadQueue user {email or login!r} in this database")
        user_id, email_n, db_role = row
        if user_id is not None:
            cur.execute("UPDATE users SET disabled = true, available = false, "
                        "version = version + 1, updated_at = now() "
                        "WHERE id = %s AND NOT disabled", (user_id,))
        if db_role:
            _disable_login(cur, db_role)
        con.commit()
        ended: int | None = 0
        if db_role:
            # Their open sessions already see nothing (lq_me() skips disabled
            # users); ending them is tidiness, and needs pg_signal_backend.
            try:
                cur.execute("SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) "
                            "FROM pg_stat_activity WHERE usename = %s", (db_role,))
                ended = cur.fetchone()[0]
                con.commit()
            except psycopg.Error:
                con.rollback()
                ended = None
    return DisableResult(email_n, db_role, ended)


def _server_of(url: str) -> tuple[str, int, str]:
    """(host, port, database) of ``url``, with libpq's defaults."""
    from urllib.parse import urlsplit

    parts = urlsplit(libpq_url(url))
    return parts.hostname or "localhost", parts.port or 5432, parts.path.lstrip("/")


def connect_hint(url: str, login: str) -> str:
    """What the person does to connect, in words (nobody's password in it)."""
    host, port, db = _server_of(url)
    return (f"to connect: in LeadQueue choose File > Connect to shared database… and enter "
            f"host {host}, port {port}, database {db}, user {login} and the password\n"
            f"  (the app keeps it in the OS keyring); or: psql \"host={host} port={port} "
            f"dbname={db} user={login}\"")


def intake_hint(url: str, login: str) -> str:
    """How another system hands in a lead with an intake login (no password in it)."""
    host, port, db = _server_of(url)
    conninfo = f"host={host} port={port} dbname={db} user={login}"
    return (f"the system connects with \"{conninfo}\" and the password, and hands in each "
            "lead as\n  INSERT INTO intake (id, received_at, source_system, payload) VALUES "
            "(gen_random_uuid(), now(), 'webform', '{\"first_name\": …}'::jsonb)\n"
            "  (payload: the JSON object 'leadqueue intake' takes; the worker processes it)")
