"""Connecting the app to the shared database, and saying what went wrong.

A :class:`SharedProfile` is where the shared database is and who connects
(host, port, database, user, TLS mode): not a secret, so it is kept in a small
JSON file in the user's config folder; the password goes to the OS keyring
(:mod:`leadqueue.secrets`). :func:`check_connection` connects once and answers
with a :class:`ConnectionCheck` in plain words: wrong password, server down or
unreachable, no such database, TLS required, the role is not a LeadQueue user,
the schema is older or newer than this app (and which side upgrades).

:func:`classify_error` turns libpq's connection errors into those words. libpq
reports connection failures as text only (no SQLSTATE reaches the client
before the session exists), so the classification matches the server's and
libpq's English messages; a server configured with a translated
``lc_messages`` gives text this cannot match, and the answer is then "could
not connect" with the server's own words beside it.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

from ..secrets import CredentialKey
from ..store import KNOWN_REVISIONS, SCHEMA_REVISION

#: libpq's TLS modes, the safest that works everywhere first.
SSL_MODES = ("prefer", "require", "verify-ca", "verify-full", "disable")
DEFAULT_PORT = 5432
CONNECT_TIMEOUT_S = 10


class Problem(StrEnum):
    WRONG_PASSWORD = "wrong_password"
    PASSWORD_NEEDED = "password_needed"
    UNKNOWN_ROLE = "unknown_role"
    LOGIN_DISABLED = "login_disabled"
    SERVER_DOWN = "server_down"
    HOST_UNKNOWN = "host_unknown"
    UNREACHABLE = "unreachable"
    NO_DATABASE = "no_database"
    TLS_REQUIRED = "tls_required"
    TLS_UNAVAILABLE = "tls_unavailable"
    TLS_CERTIFICATE = "tls_certificate"
    NOT_POSTGRES = "not_postgres"
    NOT_ALLOWED = "not_allowed"
    SERVER_BUSY = "server_busy"
    NOT_SET_UP = "not_set_up"
    NOT_A_USER = "not_a_user"
    SCHEMA_OLDER = "schema_older"
    SCHEMA_NEWER = "schema_newer"
    #: An open session ended under the app (server restart, network drop,
    #: ``pg_terminate_backend``): :func:`classify_failure` only.
    CONNECTION_LOST = "connection_lost"
    OTHER = "other"


@dataclass(frozen=True)
class SharedProfile:
    """Where the shared database is and who connects (no password)."""

    host: str
    database: str
    user: str
    port: int = DEFAULT_PORT
    sslmode: str = "prefer"

    def problems(self) -> dict[str, str]:
        """Field name -> what is wrong with it (empty: the profile is usable)."""
        found: dict[str, str] = {}
        if not self.host.strip():
            found["host"] = "enter the server's name or address"
        if not self.database.strip():
            found["database"] = "enter the database name"
        if not self.user.strip():
            found["user"] = "enter your database user name"
        if not 1 <= int(self.port) <= 65535:
            found["port"] = "a port is a number from 1 to 65535"
        if self.sslmode not in SSL_MODES:
            found["sslmode"] = f"one of {', '.join(SSL_MODES)}"
        return found

    def cleaned(self) -> SharedProfile:
        return replace(self, host=self.host.strip(), database=self.database.strip(),
                       user=self.user.strip(), port=int(self.port))

    @property
    def key(self) -> CredentialKey:
        """Which keyring entry holds this profile's password."""
        return CredentialKey(self.host, int(self.port), self.database, self.user)

    def conninfo(self, password: str | None = None, *,
                 timeout_s: int = CONNECT_TIMEOUT_S) -> str:
        from psycopg.conninfo import make_conninfo

        params: dict[str, Any] = {"host": self.host, "port": int(self.port),
                                  "dbname": self.database, "user": self.user,
                                  "sslmode": self.sslmode, "connect_timeout": timeout_s,
                                  "application_name": "leadqueue"}
        if password:
            params["password"] = password
        return make_conninfo(**params)

    @property
    def label(self) -> str:
        return f"{self.user}@{self.host}:{self.port}/{self.database}"


@dataclass(frozen=True)
class ConnectionCheck:
    """The answer of one connection attempt, for a person to read."""

    ok: bool
    message: str
    problem: Problem | None = None
    #: The server's or libpq's own words (for the details / the log).
    detail: str = ""
    revision: str | None = None
    tls: bool | None = None
    #: Who the connection is, when it got that far.
    email: str | None = None
    name: str | None = None
    role: str | None = None
    team: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


# --- classifying connection errors -------------------------------------------------------

# (problem, phrases) tried in order: the first whose phrase appears wins. With
# sslmode=prefer libpq reports both attempts (TLS, then plain); the specific
# cause (a wrong password) is listed before the general one (no pg_hba entry).
_RULES: tuple[tuple[Problem, tuple[str, ...]], ...] = (
    (Problem.WRONG_PASSWORD, ("password authentication failed",)),
    (Problem.PASSWORD_NEEDED, ("no password supplied", "password is required")),
    (Problem.LOGIN_DISABLED, ("is not permitted to log in",)),
    (Problem.UNKNOWN_ROLE, ("role \"",)),  # completed by "does not exist" below
    (Problem.NO_DATABASE, ("database \"",)),
    (Problem.TLS_UNAVAILABLE, ("server does not support ssl",)),
    (Problem.TLS_CERTIFICATE, ("certificate verify failed", "root certificate file",
                               "server certificate for", "does not match host name")),
    (Problem.TLS_REQUIRED, ("no encryption", "ssl off")),
    (Problem.NOT_ALLOWED, ("no pg_hba.conf entry", "pg_hba.conf rejects",
                           "permission denied for database")),
    (Problem.SERVER_DOWN, ("connection refused",)),
    (Problem.HOST_UNKNOWN, ("could not translate host name", "failed to resolve host",
                            "name or service not known", "nodename nor servname",
                            "no address associated", "temporary failure in name resolution")),
    (Problem.UNREACHABLE, ("timeout expired", "timed out", "no route to host",
                           "network is unreachable", "host is unreachable")),
    (Problem.NOT_POSTGRES, ("invalid response to ssl negotiation",
                            "invalid response to gss negotiation",
                            "expected authentication request from server")),
    (Problem.SERVER_BUSY, ("too many clients", "remaining connection slots",
                           "the database system is starting up",
                           "the database system is shutting down",
                           "the database system is in recovery mode")),
)


def _matches(problem: Problem, text: str, phrases: tuple[str, ...]) -> bool:
    if problem in (Problem.UNKNOWN_ROLE, Problem.NO_DATABASE):
        # 'role "x" does not exist' / 'database "x" does not exist'
        lead = phrases[0]
        return any(line.find(lead) != -1 and "does not exist" in line[line.find(lead):]
                   for line in text.splitlines())
    return any(p in text for p in phrases)


def _first_line(detail: str) -> str:
    lines = [ln.strip() for ln in detail.splitlines() if ln.strip()]
    if not lines:
        return ""
    line = lines[0]
    # libpq prefixes: "connection failed: connection to server at ... failed: FATAL:  ..."
    if "failed: " in line:
        line = line.rsplit("failed: ", 1)[-1]
    return line.replace("FATAL:  ", "").strip()


def message_for(problem: Problem, profile: SharedProfile | None, detail: str = "",
                revision: str | None = None) -> str:
    """Plain words for ``problem`` (``detail``: the server's own text)."""
    host = profile.host if profile else "the server"
    where = f"{profile.host}:{profile.port}" if profile else "the server"
    user = profile.user if profile else "this user"
    db = profile.database if profile else "this database"
    text = {
        Problem.WRONG_PASSWORD:
            f"Wrong password for user {user} on {host} (or no such user): check the "
            "password; an admin can set a new one with 'leadqueue admin set-password'.",
        Problem.PASSWORD_NEEDED:
            f"The server asks for the password of {user}: enter it.",
        Problem.UNKNOWN_ROLE:
            f"The server has no user called {user}: check the user name, or ask an admin to "
            "add you with 'leadqueue admin add-user'.",
        Problem.LOGIN_DISABLED:
            f"User {user} may not log in any more (disabled by an admin): ask your admin.",
        Problem.SERVER_DOWN:
            f"Nothing answers at {where}: the database server is down, or not listening on "
            "that port. Check the port, or ask your admin whether the server is running.",
        Problem.HOST_UNKNOWN:
            f"The server name {host} cannot be found: check its spelling, and your network "
            "or VPN.",
        Problem.UNREACHABLE:
            f"The server {where} cannot be reached (no answer in time): check your network, "
            "VPN or firewall.",
        Problem.NO_DATABASE:
            f"The server has no database called {db}: check the database name.",
        Problem.TLS_REQUIRED:
            f"The server requires an encrypted (TLS) connection for {user}: set TLS to "
            "'require' (or 'verify-full').",
        Problem.TLS_UNAVAILABLE:
            "TLS was required, but the server does not offer encrypted connections: ask your "
            "admin to enable TLS on the server, or set TLS to 'prefer'.",
        Problem.TLS_CERTIFICATE:
            "The server's TLS certificate could not be verified: ask your admin for the "
            "server's CA certificate, or use TLS 'require' (encrypted, not verified).",
        Problem.NOT_POSTGRES:
            f"Something answers at {where}, but it is not a PostgreSQL server: check the host "
            "and the port.",
        Problem.NOT_ALLOWED:
            f"The server does not let {user} connect to {db} from this computer: ask your "
            "admin (pg_hba.conf, or CONNECT on the database).",
        Problem.SERVER_BUSY:
            "The server is busy or restarting: try again in a moment.",
        Problem.NOT_SET_UP:
            f"Database {db} is not set up for LeadQueue yet: an admin runs "
            "'leadqueue admin init' on it first.",
        Problem.NOT_A_USER:
            f"Connected as {user}, but that database user is not set up for LeadQueue (no "
            f"active LeadQueue user has it): an admin runs 'leadqueue admin add-user "
            f"--login {user} …'.",
        Problem.SCHEMA_OLDER:
            f"The shared database has schema {revision}, older than this app's "
            f"{SCHEMA_REVISION}: an admin upgrades the shared database with "
            "'leadqueue admin init' (this app needs no change).",
        Problem.SCHEMA_NEWER:
            f"The shared database has schema {revision}, newer than this app's "
            f"{SCHEMA_REVISION}: upgrade LeadQueue on this computer (the database needs no "
            "change).",
        Problem.CONNECTION_LOST:
            f"The connection to {where} dropped (the server restarted, the network went "
            "away, or an admin ended the session).",
    }.get(problem)
    if text is None:
        line = _first_line(detail)
        text = "Could not connect" + (f": {line}" if line else ".")
    return text


def classify_error(error: BaseException | str,
                   profile: SharedProfile | None = None) -> ConnectionCheck:
    """A failed connection attempt (psycopg's exception or its text), in plain words."""
    detail = str(error).strip()
    lowered = detail.lower()
    problem = Problem.OTHER
    for candidate, phrases in _RULES:
        if _matches(candidate, lowered, phrases):
            problem = candidate
            break
    else:
        try:
            import psycopg

            if isinstance(error, psycopg.errors.ConnectionTimeout):
                problem = Problem.UNREACHABLE
        except ImportError:  # pragma: no cover - psycopg is a dependency
            pass
    return ConnectionCheck(False, message_for(problem, profile, detail), problem, detail)


# --- failures of an open workspace (reads and writes) -------------------------------------

#: SQLSTATEs that mean "the session is gone", not "the statement was wrong":
#: class 08 (connection exception), 57P01 admin shutdown (pg_terminate_backend),
#: 57P02 crash shutdown, 57P03 cannot connect now, 57P05 idle session timeout.
_SESSION_GONE = ("57P01", "57P02", "57P03", "57P05")
#: What libpq says when the socket went away under a query (no SQLSTATE then).
_LOST_PHRASES = ("server closed the connection unexpectedly", "connection is closed",
                 "connection is lost", "consuming input failed", "sending query failed",
                 "could not receive data from server", "could not send data to server",
                 "terminating connection", "ssl syscall error", "ssl connection has been closed",
                 "connection reset by peer", "broken pipe", "no connection to the server")
#: Problems that pass by themselves (retrying helps); the others need a person.
TRANSIENT = frozenset({Problem.CONNECTION_LOST, Problem.SERVER_DOWN, Problem.HOST_UNKNOWN,
                       Problem.UNREACHABLE, Problem.SERVER_BUSY, Problem.OTHER})
#: The shortest plain words per transient problem (for a status line).
_SHORT = {
    Problem.CONNECTION_LOST: "the connection dropped",
    Problem.SERVER_DOWN: "the server does not answer",
    Problem.HOST_UNKNOWN: "the server's name cannot be found (network or VPN?)",
    Problem.UNREACHABLE: "no answer in time (network, VPN or firewall?)",
    Problem.SERVER_BUSY: "the server is busy or restarting",
    Problem.OTHER: "the connection failed",
}


def _driver_errors(exc: BaseException) -> list[BaseException]:
    """``exc`` and what it wraps: SQLAlchemy's ``.orig``, then causes/contexts."""
    seen: list[BaseException] = []
    todo: list[BaseException | None] = [exc]
    while todo:
        cur = todo.pop(0)
        if cur is None or any(cur is s for s in seen) or len(seen) > 8:
            continue
        seen.append(cur)
        orig = getattr(cur, "orig", None)
        todo += [orig if isinstance(orig, BaseException) else None,
                 cur.__cause__, cur.__context__]
    return seen


def classify_failure(exc: BaseException,
                     profile: SharedProfile | None = None) -> ConnectionCheck | None:
    """What went wrong with the shared database under an open workspace, in
    plain words; None when ``exc`` is not about reaching the server (a refused
    action, a bug: those keep their own message).

    Recognises psycopg's errors directly or wrapped by SQLAlchemy: a session
    that ended (SQLSTATE class 08, 57P01 ``pg_terminate_backend``, 57P02/03,
    or libpq's "server closed the connection unexpectedly" and the like) is
    ``CONNECTION_LOST``; a new connection that failed (the pool reconnecting)
    goes through :func:`classify_error`, so a server that is down, a network
    that is away or a login an admin disabled are told apart.
    """
    try:
        import psycopg
    except ImportError:  # pragma: no cover - psycopg is a dependency
        return None
    chain = _driver_errors(exc)
    invalidated = any(getattr(e, "connection_invalidated", False) for e in chain)
    for err in chain:
        if not isinstance(err, psycopg.Error):
            continue
        code = getattr(err, "sqlstate", None) or ""
        text = str(err).strip()
        lowered = text.lower()
        if code.startswith("08") or code in _SESSION_GONE:
            problem = Problem.SERVER_BUSY if code == "57P03" else Problem.CONNECTION_LOST
            return ConnectionCheck(False, message_for(problem, profile, text), problem, text)
        if code:
            return None  # the server answered: a statement error, not the connection
        if not isinstance(err, psycopg.OperationalError | psycopg.InterfaceError):
            return None
        if any(p in lowered for p in _LOST_PHRASES) and "connection failed" not in lowered:
            return ConnectionCheck(False, message_for(Problem.CONNECTION_LOST, profile, text),
                                   Problem.CONNECTION_LOST, text)
        return classify_error(err, profile)  # a new connection that could not be made
    if invalidated:
        text = str(exc).strip()
        return ConnectionCheck(False, message_for(Problem.CONNECTION_LOST, profile, text),
                               Problem.CONNECTION_LOST, text)
    return None


def failure_message(exc: BaseException, *, write: bool = False,
                    profile: SharedProfile | None = None) -> str | None:
    """The status line's words for a read or write that failed because the
    shared database could not be reached; None when that is not the cause.

    A read: "Shared database unreachable — retrying (the connection dropped)."
    A write: it says the change was NOT saved, so nothing is lost silently (a
    write runs in one transaction: a dropped connection rolls it back; only
    a drop during the commit itself leaves the outcome to the server, and the
    queue the app reloads once back shows which).
    """
    check = classify_failure(exc, profile)
    if check is None:
        return None
    problem = check.problem or Problem.OTHER
    if problem in TRANSIENT:
        why = _SHORT[problem]
        if write:
            return (f"Not saved: the shared database is unreachable ({why}). Your change was "
                    "not saved: do it again once the status line shows Online.")
        return f"Shared database unreachable — retrying ({why})."
    # The server answered but will not let this login back in (a disabled
    # login, a changed password, TLS now required): a person must act.
    if write:
        return f"Not saved: the shared database refused to reconnect. {check.message}"
    return f"The shared database refused to reconnect: {check.message}"


# --- checking a connection ---------------------------------------------------------------

def check_connection(profile: SharedProfile, password: str | None, *,
                     timeout_s: int = CONNECT_TIMEOUT_S) -> ConnectionCheck:
    """Connect once as the profile's user; say who that is or what is wrong.

    Never raises for what the environment did (that is the answer); a bug
    still raises.
    """
    import psycopg

    profile = profile.cleaned()
    try:
        con = psycopg.connect(profile.conninfo(password, timeout_s=timeout_s), autocommit=True)
    except psycopg.OperationalError as exc:
        return classify_error(exc, profile)
    try:
        with con:
            tls = bool(con.pgconn.ssl_in_use)
            return _inspect(con, profile, tls)
    except psycopg.OperationalError as exc:  # dropped half-way
        return classify_error(exc, profile)


def _inspect(con: Any, profile: SharedProfile, tls: bool) -> ConnectionCheck:
    import psycopg

    def fail(problem: Problem, detail: str = "", revision: str | None = None) -> ConnectionCheck:
        return ConnectionCheck(False, message_for(problem, profile, detail, revision), problem,
                               detail, revision=revision, tls=tls)

    has_version = con.execute("SELECT to_regclass('alembic_version') IS NOT NULL").fetchone()[0]
    if not has_version:
        return fail(Problem.NOT_SET_UP, "no alembic_version table")
    try:
        row = con.execute("SELECT version_num FROM alembic_version").fetchone()
    except psycopg.errors.InsufficientPrivilege as exc:
        return fail(Problem.NOT_A_USER, str(exc).strip())
    revision = row[0] if row else None
    if revision is None:
        return fail(Problem.NOT_SET_UP, "alembic_version is empty")
    if revision not in KNOWN_REVISIONS:
        return fail(Problem.SCHEMA_NEWER, revision=revision)
    if revision != SCHEMA_REVISION:
        return fail(Problem.SCHEMA_OLDER, revision=revision)
    if con.execute("SELECT to_regprocedure('lq_me()') IS NULL").fetchone()[0]:
        return fail(Problem.NOT_SET_UP, "lq_me() is not installed")
    try:
        me = con.execute(
            "SELECT u.email, u.name, u.role::text, t.name FROM users u "
            "LEFT JOIN teams t ON t.id = u.team_id WHERE u.id = lq_me()").fetchone()
    except psycopg.errors.InsufficientPrivilege as exc:
        # Not a member of any LeadQueue group: no EXECUTE on lq_me().
        return fail(Problem.NOT_A_USER, str(exc).strip())
    if me is None:
        return fail(Problem.NOT_A_USER, f"no active users row has db_role {profile.user!r}")
    email, name, role, team = me
    where = f"team {team}" if team else "no team"
    return ConnectionCheck(
        True, f"Connected as {name} ({role.replace('_', ' ')}, {where}) to {profile.database} "
        f"on {profile.host}" + (", encrypted (TLS)." if tls else ", not encrypted."),
        None, "", revision=revision, tls=tls, email=email, name=name, role=role, team=team)


# --- the saved profile -------------------------------------------------------------------

def default_profile_path() -> Path:
    override = os.environ.get("LEADQUEUE_CONFIG_DIR")
    if override:
        return Path(override) / "shared-database.json"
    import platformdirs

    return Path(platformdirs.user_config_dir("LeadQueue", appauthor=False)) / "shared-database.json"


def load_profile(path: Path | None = None) -> SharedProfile | None:
    """The saved profile, or None (none saved, or a file this cannot read)."""
    path = path or default_profile_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return SharedProfile(host=str(data["host"]), database=str(data["database"]),
                             user=str(data["user"]), port=int(data.get("port", DEFAULT_PORT)),
                             sslmode=str(data.get("sslmode", "prefer")))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def save_profile(profile: SharedProfile, path: Path | None = None) -> Path:
    """Write the profile (never a password: the dataclass has none)."""
    path = path or default_profile_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(profile), indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path
