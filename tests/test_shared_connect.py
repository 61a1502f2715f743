"""The connection check and its plain-words answers, against real servers.

The test server (127.0.0.1:5432) uses trust authentication, so it accepts any
password: a wrong password cannot be produced there. For that case, and for
"TLS required", this module starts a private throwaway PostgreSQL cluster
(initdb in a temporary folder, SCRAM passwords, TLS only, a free port) and
gets the real errors from it. The classifier is also checked against error
texts captured from these servers, so it is covered where initdb is missing.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from conftest import require_tool, skip_or_fail
from psycopg.conninfo import conninfo_to_dict
from shared_db_support import PASSWORD, Installation

from leadqueue.shared import admin
from leadqueue.shared.connect import (
    Problem,
    SharedProfile,
    check_connection,
    classify_error,
    load_profile,
    save_profile,
)
from leadqueue.store import SCHEMA_REVISION

# --- the classifier on captured texts (no server needed) -----------------------------------

#: Error texts as psycopg 3.3 / libpq 18 reported them against PostgreSQL 15
#: (captured on the servers these tests use).
CAPTURED = {
    Problem.WRONG_PASSWORD:
        'connection failed: connection to server at "127.0.0.1", port 54391 failed: FATAL:  '
        'password authentication failed for user "lqsuper"\nconnection to server at '
        '"127.0.0.1", port 54391 failed: FATAL:  no pg_hba.conf entry for host "127.0.0.1", '
        'user "lqsuper", database "postgres", no encryption',
    Problem.TLS_REQUIRED:
        'connection failed: connection to server at "127.0.0.1", port 54391 failed: FATAL:  '
        'no pg_hba.conf entry for host "127.0.0.1", user "lqsuper", database "postgres", '
        "no encryption",
    Problem.NO_DATABASE:
        'connection failed: connection to server at "127.0.0.1", port 5432 failed: FATAL:  '
        'database "nope_db" does not exist',
    Problem.UNKNOWN_ROLE:
        'connection failed: connection to server at "127.0.0.1", port 5432 failed: FATAL:  '
        'role "nobody_xyz" does not exist',
    Problem.TLS_UNAVAILABLE:
        'connection failed: connection to server at "127.0.0.1", port 5432 failed: server '
        "does not support SSL, but SSL was required",
    Problem.SERVER_DOWN:
        'connection failed: connection to server at "127.0.0.1", port 5499 failed: Connection '
        "refused\n\tIs the server running on that host and accepting TCP/IP connections?",
    Problem.HOST_UNKNOWN:
        "failed to resolve host 'no-such-host.invalid': [Errno -2] Name or service not known",
    Problem.UNREACHABLE: "connection timeout expired",
    Problem.LOGIN_DISABLED:
        'connection failed: connection to server at "127.0.0.1", port 5432 failed: FATAL:  '
        'role "x" is not permitted to log in',
    Problem.NOT_ALLOWED:
        'connection failed: connection to server at "127.0.0.1", port 5432 failed: FATAL:  '
        'permission denied for database "lq"\nDETAIL:  User does not have CONNECT privilege.',
    Problem.SERVER_BUSY:
        'connection failed: connection to server at "127.0.0.1", port 5432 failed: FATAL:  '
        "sorry, too many clients already",
    Problem.NOT_POSTGRES:
        'connection failed: connection to server at "203.0.113.1", port 5432 failed: '
        "received invalid response to SSL negotiation: H",
}

PROFILE = SharedProfile(host="db.example.com", port=5432, database="leadqueue", user="ann")


@pytest.mark.parametrize("problem", list(CAPTURED), ids=[p.value for p in CAPTURED])
def test_classifier_on_captured_error_texts(problem: Problem) -> None:
    check = classify_error(CAPTURED[problem], PROFILE)
    assert not check.ok
    assert check.problem is problem
    assert check.detail == CAPTURED[problem]
    assert "Could not connect" not in check.message  # a specific sentence, not the fallback


def test_classifier_words_are_plain() -> None:
    assert "Wrong password" in classify_error(CAPTURED[Problem.WRONG_PASSWORD], PROFILE).message
    assert "requires an encrypted (TLS) connection" in classify_error(
        CAPTURED[Problem.TLS_REQUIRED], PROFILE).message
    assert "no database called leadqueue" in classify_error(
        CAPTURED[Problem.NO_DATABASE], PROFILE).message
    assert "Nothing answers at db.example.com:5432" in classify_error(
        CAPTURED[Problem.SERVER_DOWN], PROFILE).message


def test_unknown_text_falls_back_to_the_servers_words() -> None:
    check = classify_error('connection failed: connection to server at "h", port 1 failed: '
                           "FATAL:  something new happened", PROFILE)
    assert check.problem is Problem.OTHER
    assert check.message == "Could not connect: something new happened"


def test_profile_round_trip_never_holds_a_password(tmp_path: Path) -> None:
    path = tmp_path / "cfg" / "shared-database.json"
    profile = SharedProfile(host=" db.example.com ", database="lq", user="ann", port=6543,
                            sslmode="require").cleaned()
    save_profile(profile, path)
    assert load_profile(path) == profile
    assert "password" not in path.read_text()
    assert SharedProfile("", "", "", port=0, sslmode="nope").problems().keys() == {
        "host", "database", "user", "port", "sslmode"}
    path.write_text("{not json")
    assert load_profile(path) is None


# --- against the test server (trust auth) ----------------------------------------------------

pg = pytest.mark.pg


def _server(pg_server_url: str) -> tuple[str, int]:
    params = conninfo_to_dict(pg_server_url)
    return str(params.get("host", "127.0.0.1")), int(params.get("port", 5432))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def ready(pg_server_url: str) -> Iterator[Installation]:
    inst = Installation.create(pg_server_url)
    try:
        admin.init(inst.url, role_prefix=inst.prefix)
        admin.add_user(inst.url, email="ann@example.com", name="Ann", role="rep", team="East",
                       login=inst.login("ann"), password=PASSWORD)
        yield inst
    finally:
        inst.drop()


def profile_for(pg_server_url: str, database: str, user: str, **kw: object) -> SharedProfile:
    host, port = _server(pg_server_url)
    return SharedProfile(host=host, port=port, database=database, user=user, **kw)  # type: ignore[arg-type]


@pg
def test_a_rep_connects_and_is_told_who_they_are(ready: Installation, pg_server_url: str) -> None:
    check = check_connection(profile_for(pg_server_url, ready.dbname, ready.login("ann")),
                             PASSWORD)
    assert check.ok, check.message
    assert (check.email, check.role, check.team, check.revision) == (
        "ann@example.com", "rep", "East", SCHEMA_REVISION)
    assert check.message.startswith("Connected as Ann (rep, team East)")


@pg
def test_server_down(pg_server_url: str) -> None:
    host, _ = _server(pg_server_url)
    check = check_connection(SharedProfile(host=host, port=_free_port(), database="x",
                                           user="x"), "pw")
    assert check.problem is Problem.SERVER_DOWN, check.detail


@pg
def test_host_unknown() -> None:
    check = check_connection(SharedProfile(host="no-such-host.invalid", database="x",
                                           user="x"), "pw")
    assert check.problem is Problem.HOST_UNKNOWN, check.detail


@contextmanager
def fake_server(reply: bytes | None) -> Iterator[int]:
    """A local port that accepts connections and then answers ``reply`` (or
    never answers at all: what a hung server or a black-holing network gives)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    listener.settimeout(0.2)
    stop = threading.Event()
    held: list[socket.socket] = []

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            held.append(conn)
            if reply is not None:
                conn.sendall(reply)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        stop.set()
        thread.join(5)
        for conn in held:
            conn.close()
        listener.close()


def test_server_that_never_answers_is_unreachable() -> None:
    with fake_server(None) as port:
        check = check_connection(SharedProfile(host="127.0.0.1", port=port, database="x",
                                               user="x"), "pw", timeout_s=2)
    assert check.problem is Problem.UNREACHABLE, check.detail
    assert "cannot be reached" in check.message


def test_something_that_is_not_postgresql_answers() -> None:
    with fake_server(b"HTTP/1.1 400 Bad Request\r\n\r\n") as port:
        check = check_connection(SharedProfile(host="127.0.0.1", port=port, database="x",
                                               user="x"), "pw", timeout_s=5)
    assert check.problem is Problem.NOT_POSTGRES, check.detail
    assert "not a PostgreSQL server" in check.message


@pg
def test_database_does_not_exist(pg_server_url: str, ready: Installation) -> None:
    check = check_connection(profile_for(pg_server_url, ready.dbname + "_nope",
                                         ready.login("ann")), PASSWORD)
    assert check.problem is Problem.NO_DATABASE, check.detail


@pg
def test_unknown_user(pg_server_url: str, ready: Installation) -> None:
    check = check_connection(profile_for(pg_server_url, ready.dbname, ready.login("ghost")),
                             PASSWORD)
    assert check.problem is Problem.UNKNOWN_ROLE, check.detail


@pg
def test_disabled_login(pg_server_url: str, ready: Installation) -> None:
    login = ready.login("dis")
    admin.add_user(ready.url, email="dis@example.com", name="Dis", role="rep", team="East",
                   login=login, password=PASSWORD)
    admin.disable_user(ready.url, login=login)
    check = check_connection(profile_for(pg_server_url, ready.dbname, login), PASSWORD)
    assert check.problem is Problem.LOGIN_DISABLED, check.detail


@pg
def test_tls_demanded_by_the_app_but_not_offered(pg_server_url: str, ready: Installation) -> None:
    with psycopg.connect(pg_server_url) as con:
        if con.execute("SHOW ssl").fetchone() == ("on",):
            pytest.skip("the test server offers TLS, so this case cannot happen here")
    check = check_connection(profile_for(pg_server_url, ready.dbname, ready.login("ann"),
                                         sslmode="require"), PASSWORD)
    assert check.problem is Problem.TLS_UNAVAILABLE, check.detail


@pg
def test_role_that_is_not_a_leadqueue_user_may_not_connect(pg_server_url: str,
                                                           ready: Installation) -> None:
    stranger = ready.login("stranger")
    with ready.su() as con:
        con.execute(f'CREATE ROLE "{stranger}" LOGIN')
    check = check_connection(profile_for(pg_server_url, ready.dbname, stranger), "pw")
    assert check.problem is Problem.NOT_ALLOWED, check.detail


@pg
def test_role_without_a_users_row_is_not_set_up_for_leadqueue(pg_server_url: str,
                                                               ready: Installation) -> None:
    # A role that may connect (here: the superuser) but is nobody in LeadQueue.
    user = str(conninfo_to_dict(pg_server_url).get("user", "postgres"))
    check = check_connection(profile_for(pg_server_url, ready.dbname, user), None)
    assert check.problem is Problem.NOT_A_USER, check.detail
    assert "admin add-user" in check.message


@pg
def test_database_without_leadqueue_is_not_set_up(pg_server_url: str) -> None:
    inst = Installation.create(pg_server_url)
    try:
        user = str(conninfo_to_dict(pg_server_url).get("user", "postgres"))
        check = check_connection(profile_for(pg_server_url, inst.dbname, user), None)
        assert check.problem is Problem.NOT_SET_UP, check.detail
        assert "admin init" in check.message
    finally:
        inst.drop()


@pg
@pytest.mark.parametrize("revision, problem, words", [
    ("0001", Problem.SCHEMA_OLDER, "an admin upgrades the shared database"),
    ("0099", Problem.SCHEMA_NEWER, "upgrade LeadQueue on this computer"),
])
def test_schema_older_or_newer_says_which_side_upgrades(
        pg_server_url: str, ready: Installation, revision: str, problem: Problem,
        words: str) -> None:
    with ready.su() as con:
        con.execute("UPDATE alembic_version SET version_num = %s", (revision,))
    try:
        check = check_connection(profile_for(pg_server_url, ready.dbname, ready.login("ann")),
                                 PASSWORD)
    finally:
        with ready.su() as con:
            con.execute("UPDATE alembic_version SET version_num = %s", (SCHEMA_REVISION,))
    assert check.problem is problem and check.revision == revision
    assert words in check.message


# --- failures of an open workspace: classify_failure / failure_message ----------------------

def _killed(ready: Installation, *, through_sqlalchemy: bool) -> BaseException:
    """The error a query gets once its session was ended by pg_terminate_backend."""
    from sqlalchemy import text

    from leadqueue.store import make_engine

    if through_sqlalchemy:
        engine = make_engine(_sa_url(ready))
        try:
            with engine.connect() as conn:
                pid = conn.execute(text("SELECT pg_backend_pid()")).scalar()
                with ready.su() as su:
                    su.execute("SELECT pg_terminate_backend(%s)", (pid,))
                with pytest.raises(Exception) as caught:
                    conn.execute(text("SELECT 1"))
            return caught.value
        finally:
            engine.dispose()
    with ready.connect("ann") as con:
        pid = con.execute("SELECT pg_backend_pid()").fetchone()[0]  # type: ignore[index]
        with ready.su() as su:
            su.execute("SELECT pg_terminate_backend(%s)", (pid,))
        with pytest.raises(psycopg.Error) as caught:
            con.execute("SELECT 1")
    return caught.value


def _sa_url(ready: Installation) -> str:
    params = conninfo_to_dict(ready.conninfo("ann"))
    return (f"postgresql+psycopg://{params['user']}:{params['password']}@"
            f"{params.get('host', '127.0.0.1')}:{params.get('port', 5432)}/{params['dbname']}")


@pg
@pytest.mark.parametrize("through_sqlalchemy", [False, True], ids=["psycopg", "sqlalchemy"])
def test_a_killed_session_is_a_dropped_connection_in_plain_words(
        ready: Installation, through_sqlalchemy: bool) -> None:
    from leadqueue.shared.connect import classify_failure, failure_message

    exc = _killed(ready, through_sqlalchemy=through_sqlalchemy)
    check = classify_failure(exc, PROFILE)
    assert check is not None and check.problem is Problem.CONNECTION_LOST, exc
    assert check.message.startswith("The connection to db.example.com:5432 dropped")
    read, write = failure_message(exc), failure_message(exc, write=True)
    assert read == "Shared database unreachable — retrying (the connection dropped)."
    assert write is not None and write.startswith("Not saved:") and "was not saved" in write
    for words in (read, write):  # no driver's words on screen
        assert "psycopg" not in words and "terminating" not in words.lower()


@pg
def test_a_server_that_is_down_under_an_open_workspace(ready: Installation) -> None:
    from sqlalchemy import create_engine, text

    from leadqueue.shared.connect import classify_failure, failure_message

    engine = create_engine(f"postgresql+psycopg://ann@127.0.0.1:{_free_port()}/x",
                           connect_args={"connect_timeout": 2})
    try:
        with pytest.raises(Exception) as caught, engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    finally:
        engine.dispose()
    assert classify_failure(caught.value).problem is Problem.SERVER_DOWN  # type: ignore[union-attr]
    assert failure_message(caught.value) == (
        "Shared database unreachable — retrying (the server does not answer).")


@pg
def test_statement_errors_and_refusals_are_not_connection_trouble(ready: Installation) -> None:
    from sqlalchemy import create_engine, text

    from leadqueue.errors import ActionRefused
    from leadqueue.shared.connect import classify_failure, failure_message

    engine = create_engine(_sa_url(ready))
    try:
        for sql in ("SELECT * FROM audit_log", "SELECT * FROM no_such_table", "SELECT 1/0"):
            with pytest.raises(Exception) as caught, engine.connect() as conn:
                conn.execute(text(sql))
            assert classify_failure(caught.value) is None, sql
            assert failure_message(caught.value, write=True) is None
    finally:
        engine.dispose()
    assert classify_failure(ActionRefused("not yours")) is None
    assert classify_failure(ValueError("bad")) is None


def test_libpq_texts_of_a_lost_session_are_classified() -> None:
    from leadqueue.shared.connect import classify_failure, failure_message

    lost = psycopg.OperationalError(
        "consuming input failed: server closed the connection unexpectedly\n\tThis probably "
        "means the server terminated abnormally\n\tbefore or while processing the request.")
    assert classify_failure(lost).problem is Problem.CONNECTION_LOST  # type: ignore[union-attr]
    disabled = psycopg.OperationalError(
        'connection failed: connection to server at "127.0.0.1", port 5432 failed: FATAL:  '
        'role "ann" is not permitted to log in')
    assert classify_failure(disabled, PROFILE).problem is Problem.LOGIN_DISABLED  # type: ignore[union-attr]
    words = failure_message(disabled, write=True, profile=PROFILE)
    assert words is not None and words.startswith("Not saved: the shared database refused")
    assert "may not log in any more" in words


# --- a private server with real passwords and TLS ---------------------------------------------

@dataclass
class PrivateServer:
    port: int
    superuser: str
    password: str

    def url(self, database: str = "postgres", **extra: str) -> str:
        params = "&".join(f"{k}={v}" for k, v in {"sslmode": "require", **extra}.items())
        return (f"postgresql://{self.superuser}:{self.password}@127.0.0.1:{self.port}/"
                f"{database}?{params}")


def _initdb() -> Path | None:
    found = shutil.which("initdb")
    if found:
        return Path(found)
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    return Path(candidates[0]) if candidates else None


@pytest.fixture(scope="module")
def private_server() -> Iterator[PrivateServer]:
    require_tool("openssl")
    initdb = _initdb()
    if initdb is None:
        skip_or_fail("initdb not found: cannot start a password-checking PostgreSQL")
    bindir = initdb.parent  # type: ignore[union-attr]
    run_as: list[str] = []
    root = Path(tempfile.mkdtemp(prefix="lq-scram-"))
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            skip_or_fail("running as root and there is no 'postgres' user to run a server")
        run_as = ["runuser", "-u", "postgres", "--"]
        os.chown(root, owner.pw_uid, owner.pw_gid)
    secret = "super-Secret-9"
    (root / "pw").write_text(secret + "\n")
    data = root / "data"
    port = _free_port()
    started = False

    def sh(*cmd: str) -> None:
        subprocess.run([*run_as, *cmd], check=True, capture_output=True, timeout=120)

    try:
        if run_as:
            os.chown(root / "pw", owner.pw_uid, owner.pw_gid)
        sh(str(bindir / "initdb"), "-D", str(data), "-A", "scram-sha-256", "-U", "lqsuper",
           "--pwfile", str(root / "pw"), "--no-sync", "-E", "UTF8", "--locale", "C")
        sh("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
           "-days", "2", "-keyout", str(data / "server.key"), "-out", str(data / "server.crt"))
        os.chmod(data / "server.key", 0o600)
        (data / "pg_hba.conf").write_text(
            "local all all scram-sha-256\n"
            "hostssl all all 127.0.0.1/32 scram-sha-256\n")  # TLS only, passwords checked
        sh(str(bindir / "pg_ctl"), "-D", str(data), "-l", str(root / "log"), "-w", "-t", "60",
           "-o", f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={root} "
           "-c ssl=on -c lc_messages=C -c fsync=off", "start")
        started = True
        yield PrivateServer(port, "lqsuper", secret)
    except subprocess.CalledProcessError as exc:
        skip_or_fail(f"could not start a private PostgreSQL: {exc.stderr!r}")
    finally:
        if started:
            subprocess.run([*run_as, str(bindir / "pg_ctl"), "-D", str(data), "-m",
                            "immediate", "-w", "stop"], capture_output=True, timeout=60)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def private_leadqueue(private_server: PrivateServer) -> PrivateServer:
    """LeadQueue set up on the private server, with rep ``ann``."""
    with psycopg.connect(private_server.url(), autocommit=True) as con:
        con.execute("CREATE DATABASE leadqueue")
    url = private_server.url("leadqueue")
    admin.init(url, role_prefix="lq_")
    admin.add_user(url, email="ann@example.com", name="Ann", role="rep", team="East",
                   login="ann", password=PASSWORD)
    return private_server


def private_profile(server: PrivateServer, **kw: object) -> SharedProfile:
    values: dict[str, object] = {"host": "127.0.0.1", "port": server.port,
                                 "database": "leadqueue", "user": "ann"}
    values.update(kw)
    return SharedProfile(**values)  # type: ignore[arg-type]


def test_private_server_right_password_over_tls(private_leadqueue: PrivateServer) -> None:
    check = check_connection(private_profile(private_leadqueue), PASSWORD)
    assert check.ok, check.detail
    assert check.tls is True and check.role == "rep"
    assert "encrypted (TLS)" in check.message


def test_private_server_wrong_password(private_leadqueue: PrivateServer) -> None:
    check = check_connection(private_profile(private_leadqueue), "not-the-password")
    assert check.problem is Problem.WRONG_PASSWORD, check.detail
    assert "password authentication failed" in check.detail  # the server's real words
    assert check.message.startswith("Wrong password for user ann")


def test_private_server_missing_password(private_leadqueue: PrivateServer) -> None:
    check = check_connection(private_profile(private_leadqueue), None)
    assert check.problem is Problem.PASSWORD_NEEDED, check.detail


def test_private_server_requires_tls(private_leadqueue: PrivateServer) -> None:
    check = check_connection(private_profile(private_leadqueue, sslmode="disable"), PASSWORD)
    assert check.problem is Problem.TLS_REQUIRED, check.detail
    assert "no encryption" in check.detail


def test_private_server_password_from_add_user_and_set_password_works(
        private_leadqueue: PrivateServer) -> None:
    url = private_leadqueue.url("leadqueue")
    generated = admin.set_password(url, login="ann")
    assert generated
    try:
        assert check_connection(private_profile(private_leadqueue), generated).ok
        assert check_connection(private_profile(private_leadqueue), PASSWORD).problem is (
            Problem.WRONG_PASSWORD)
    finally:
        admin.set_password(url, login="ann", password=PASSWORD)
