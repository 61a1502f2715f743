"""``leadqueue admin``: init, add-user, set-password, disable-user on a real server.

Each test that needs a fresh database makes its own (roles carry names unique
to the run and are dropped at the end: see ``shared_db_support``).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from shared_db_support import PASSWORD, Installation, scram_matches

from leadqueue.cli import main
from leadqueue.shared import admin
from leadqueue.shared.sql import Roles
from leadqueue.store import SCHEMA_REVISION, StoreError, check_shared_revision, make_engine

pytestmark = pytest.mark.pg


@pytest.fixture
def fresh(pg_server_url: str) -> Iterator[Installation]:
    """An empty database (not yet initialised) with unique role names."""
    inst = Installation.create(pg_server_url)
    try:
        yield inst
    finally:
        inst.drop()


@pytest.fixture(scope="module")
def ready(pg_server_url: str) -> Iterator[Installation]:
    """A database set up once by ``admin init`` for the people tests."""
    inst = Installation.create(pg_server_url)
    try:
        admin.init(inst.url, role_prefix=inst.prefix)
        yield inst
    finally:
        inst.drop()


def snapshot(inst: Installation) -> dict[str, Any]:
    with inst.su() as con:
        return admin.catalog_snapshot(con.cursor(), inst.prefix)


def cli(capsys: pytest.CaptureFixture[str], *argv: str, stdin: str | None = None,
        monkeypatch: pytest.MonkeyPatch | None = None) -> tuple[int, str, str]:
    if stdin is not None:
        assert monkeypatch is not None
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def verifier(inst: Installation, login: str) -> str | None:
    with inst.su() as con:
        row = con.execute("SELECT rolpassword FROM pg_authid WHERE rolname = %s",
                          (login,)).fetchone()
    return row[0] if row else None


# --- init ------------------------------------------------------------------------------

def test_init_on_a_fresh_database_installs_everything(fresh: Installation,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys, "admin", "init", "--db", fresh.url,
                         "--role-prefix", fresh.prefix)
    assert code == 0, err
    assert "shared database ready" in out and f"schema {SCHEMA_REVISION}" in out
    roles = Roles(fresh.prefix)
    with fresh.su() as con:
        got = dict(con.execute(
            "SELECT rolname, rolcanlogin FROM pg_roles WHERE rolname = ANY(%s)",
            (list(roles.all_groups),)).fetchall())
        assert got == {name: False for name in roles.all_groups}  # groups: nobody logs in
        tables = con.execute(
            "SELECT relname, relowner::regrole::text, relrowsecurity, relforcerowsecurity "
            "FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind = 'r'"
        ).fetchall()
        assert len(tables) > 10
        for name, owner, rls, force in tables:
            assert owner == roles.owner, name
            assert (rls and force) or name == "alembic_version", name
        assert con.execute("SELECT version_num FROM alembic_version").fetchone() == (
            SCHEMA_REVISION,)
        # Only LeadQueue's roles may connect.
        acl = con.execute("SELECT datacl::text[] FROM pg_database "
                          "WHERE datname = current_database()").fetchone()[0]
        assert not any(a.startswith("=") and "c" in a.split("/")[0] for a in acl), acl


def test_init_twice_changes_nothing(fresh: Installation,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    first = admin.init(fresh.url, role_prefix=fresh.prefix)
    assert first.changed and first.revision_before is None
    before = snapshot(fresh)
    code, out, err = cli(capsys, "admin", "init", "--db", fresh.url)  # prefix read from the db
    assert code == 0, err
    assert "nothing changed" in out
    after = snapshot(fresh)
    assert after == before
    # The snapshot is not vacuous: it sees policies, functions, grants and roles.
    assert len(after["policies"]) > 30 and len(after["functions"]) >= 10
    assert any(name == fresh.prefix + "rep" for name, *_ in after["roles"])
    # ... and a real change shows up in it.
    with fresh.su() as con:
        con.execute(f'GRANT SELECT ON audit_log TO "{fresh.prefix}rep"')
    assert snapshot(fresh) != after
    again = admin.init(fresh.url)
    assert again.changed  # it put the grant back
    assert snapshot(fresh) == before


def test_init_drops_a_policy_it_did_not_declare(fresh: Installation) -> None:
    """Policies are OR-ed: a leftover one would keep granting what it granted."""
    admin.init(fresh.url, role_prefix=fresh.prefix)
    before = snapshot(fresh)
    with fresh.su() as con:
        con.execute(f'CREATE POLICY lq_leads_leftover ON leads FOR SELECT TO "{fresh.prefix}rep" '
                    "USING (true)")
    assert admin.init(fresh.url).changed
    with fresh.su() as con:
        assert con.execute("SELECT count(*) FROM pg_policy WHERE polname = 'lq_leads_leftover'"
                           ).fetchone() == (0,)
    assert snapshot(fresh) == before


def test_init_refuses_a_role_that_cannot_create_roles(
        fresh: Installation, capsys: pytest.CaptureFixture[str]) -> None:
    weak = fresh.login("installer")
    with fresh.su() as con:
        con.execute(f'CREATE ROLE "{weak}" LOGIN PASSWORD NULL')
        con.execute(f'ALTER DATABASE "{fresh.dbname}" OWNER TO "{weak}"')
    url = f"postgresql://{weak}@{_hostport(fresh)}/{fresh.dbname}"
    with pytest.raises(admin.AdminError, match="may not create roles") as exc:
        admin.init(url, role_prefix=fresh.prefix)
    assert "CREATEROLE" in str(exc.value) and "nothing was changed" in str(exc.value)
    code, _out, err = cli(capsys, "admin", "init", "--db", url, "--role-prefix", fresh.prefix)
    assert code == 2 and "may not create roles" in err
    with fresh.su() as con:
        assert con.execute("SELECT to_regclass('alembic_version')").fetchone() == (None,)
        assert con.execute("SELECT count(*) FROM pg_roles WHERE rolname LIKE %s",
                           (fresh.prefix.replace("_", "\\_") + "%",)).fetchone() == (0,)


def _hostport(inst: Installation) -> str:
    from psycopg.conninfo import conninfo_to_dict

    params = conninfo_to_dict(inst.url)
    return f"{params.get('host', '127.0.0.1')}:{params.get('port', 5432)}"


def test_init_works_for_a_createrole_database_owner(fresh: Installation) -> None:
    """The managed-PostgreSQL case: no superuser, a CREATEROLE role owning the db."""
    installer = fresh.login("installer")
    with fresh.su() as con:
        con.execute(f'CREATE ROLE "{installer}" LOGIN CREATEROLE')
        con.execute(f'ALTER DATABASE "{fresh.dbname}" OWNER TO "{installer}"')
        con.execute(f'ALTER SCHEMA public OWNER TO "{installer}"')
    url = f"postgresql://{installer}@{_hostport(fresh)}/{fresh.dbname}"
    assert admin.init(url, role_prefix=fresh.prefix).changed
    assert not admin.init(url).changed
    result = admin.add_user(url, email="nina@example.com", name="Nina", role="rep",
                            team="North", login=fresh.login("nina"), password=PASSWORD)
    assert result.created and result.team_created
    with fresh.connect("nina") as con:
        assert con.execute("SELECT email FROM users").fetchall() == [("nina@example.com",)]


def test_init_refuses_a_newer_schema_and_changes_nothing(
        fresh: Installation, capsys: pytest.CaptureFixture[str]) -> None:
    admin.init(fresh.url, role_prefix=fresh.prefix)
    with fresh.su() as con:
        con.execute("UPDATE alembic_version SET version_num = '0099'")
    before = snapshot(fresh)
    code, _out, err = cli(capsys, "admin", "init", "--db", fresh.url)
    assert code == 2
    assert "schema 0099, newer than this LeadQueue" in err and "upgrade LeadQueue" in err
    assert snapshot(fresh) == before


def test_init_upgrades_an_older_schema(fresh: Installation) -> None:
    from leadqueue.store import upgrade

    engine = make_engine(fresh.url)
    upgrade(engine, "0001")
    engine.dispose()
    report = admin.init(fresh.url, role_prefix=fresh.prefix)
    assert (report.revision_before, report.revision_after) == ("0001", SCHEMA_REVISION)
    assert report.changed


def test_init_refuses_a_group_name_taken_by_a_login_role(fresh: Installation) -> None:
    with fresh.su() as con:
        con.execute(f'CREATE ROLE "{fresh.prefix}rep" LOGIN')
    with pytest.raises(admin.AdminError, match="choose another --role-prefix"):
        admin.init(fresh.url, role_prefix=fresh.prefix)


# --- the app against an older / newer shared database -----------------------------

def test_app_on_an_older_shared_database_says_the_admin_upgrades_it(
        fresh: Installation) -> None:
    from leadqueue.store import upgrade

    engine = make_engine(fresh.url)
    try:
        upgrade(engine, "0001")
        with pytest.raises(StoreError, match="older than this app's") as exc:
            check_shared_revision(engine)
        assert "admin init" in str(exc.value)
    finally:
        engine.dispose()


def test_app_on_a_newer_shared_database_says_upgrade_the_app(ready: Installation) -> None:
    with ready.su() as con:
        con.execute("UPDATE alembic_version SET version_num = '0099'")
    engine = make_engine(ready.url)
    try:
        with pytest.raises(StoreError, match="newer than this app's") as exc:
            check_shared_revision(engine)
        assert "upgrade LeadQueue on this machine" in str(exc.value)
    finally:
        engine.dispose()
        with ready.su() as con:
            con.execute("UPDATE alembic_version SET version_num = %s", (SCHEMA_REVISION,))


# --- people ----------------------------------------------------------------------------

def test_add_user_creates_login_team_and_row_and_prints_how_to_connect(
        ready: Installation, capsys: pytest.CaptureFixture[str]) -> None:
    login = ready.login("ada")
    code, out, err = cli(capsys, "admin", "add-user", "--db", ready.url,
                         "--email", "Ada@Example.com", "--name", "Ada Lovelace",
                         "--role", "rep", "--team", "Analytical", "--login", login)
    assert code == 0, err
    assert f"created rep ada@example.com (login {login}) in team Analytical (new team)" in out
    password = next(line.split(": ", 1)[1] for line in out.splitlines()
                    if line.startswith("password (shown once"))
    assert len(password) >= 20
    assert scram_matches(verifier(ready, login) or "", password)  # the printed one is set
    assert f"user {login}" in out and "Connect to shared database" in out
    assert password not in out.split("password (shown once")[0]
    with ready.su() as con:
        row = con.execute("SELECT u.name, u.role, t.name, u.disabled FROM users u "
                          "JOIN teams t ON t.id = u.team_id WHERE u.db_role = %s",
                          (login,)).fetchone()
        assert row == ("Ada Lovelace", "rep", "Analytical", False)
        assert con.execute("SELECT pg_has_role(%s, %s, 'MEMBER')",
                           (login, ready.prefix + "rep")).fetchone() == (True,)


def test_add_user_twice_updates_and_keeps_the_password(
        ready: Installation, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    login = ready.login("bo")
    args = ("admin", "add-user", "--db", ready.url, "--email", "bo@example.com",
            "--name", "Bo", "--team", "Twice", "--login", login)
    code, out, err = cli(capsys, *args, "--role", "rep", "--password-stdin",
                         stdin=PASSWORD + "\n", monkeypatch=monkeypatch)
    assert code == 0, err
    assert "created rep" in out and "shown once" not in out
    first = verifier(ready, login)
    assert first and scram_matches(first, PASSWORD)
    code, out, err = cli(capsys, *args, "--role", "team_lead")
    assert code == 0, err
    assert "updated team_lead bo@example.com" in out and "(new team)" not in out
    assert "password unchanged" in out
    assert verifier(ready, login) == first
    with ready.su() as con:
        assert con.execute("SELECT count(*) FROM teams WHERE name = 'Twice'").fetchone() == (1,)
        assert con.execute("SELECT count(*), min(role) FROM users WHERE email = 'bo@example.com'"
                           ).fetchone() == (1, "team_lead")
        members = dict(con.execute(
            "SELECT g, pg_has_role(%s, g, 'MEMBER') FROM unnest(%s::text[]) g",
            (login, [ready.prefix + r for r in ("rep", "team_lead", "admin")])).fetchall())
    assert members == {ready.prefix + "rep": False, ready.prefix + "team_lead": True,
                       ready.prefix + "admin": False}


def test_add_user_derives_the_login_from_the_email(ready: Installation) -> None:
    email = f"{ready.login_prefix}Cy.Dee@Example.com"
    result = admin.add_user(ready.url, email=email, name="Cy", role="rep", team="Derived",
                            password=PASSWORD)
    assert result.login == f"{ready.login_prefix}cy_dee_example_com"
    with ready.connect("cy_dee_example_com") as con:
        assert con.execute("SELECT lq_me() IS NOT NULL").fetchone() == (True,)


@pytest.mark.parametrize("login, message", [
    ("postgres", "privileged role"),
    ("PG", "not a usable role name"),
])
def test_add_user_refuses_unsafe_logins(ready: Installation, login: str, message: str) -> None:
    with pytest.raises(admin.AdminError, match=message):
        admin.add_user(ready.url, email="x@example.com", name="X", role="rep", team="T",
                       login=login, password=PASSWORD)


def test_add_user_refuses_to_take_over_a_foreign_role(ready: Installation) -> None:
    stranger = ready.login("stranger")
    with ready.su() as con:
        con.execute(f'CREATE ROLE "{stranger}" LOGIN')
    before = verifier(ready, stranger)
    with pytest.raises(admin.AdminError, match="not a LeadQueue user of this database"):
        admin.add_user(ready.url, email="s@example.com", name="S", role="rep", team="T",
                       login=stranger, password=PASSWORD)
    assert verifier(ready, stranger) == before


def test_add_user_refuses_the_group_prefix(ready: Installation) -> None:
    with pytest.raises(admin.AdminError, match="reserved"):
        admin.add_user(ready.url, email="g@example.com", name="G", role="rep", team="T",
                       login=ready.prefix + "sneaky", password=PASSWORD)


def test_add_user_before_init_says_run_init(fresh: Installation) -> None:
    with pytest.raises(admin.AdminError, match="admin init"):
        admin.add_user(fresh.url, email="e@example.com", name="E", role="rep", team="T",
                       login=fresh.login("e"), password=PASSWORD)


def test_add_user_as_a_role_without_createrole_is_refused_plainly(ready: Installation) -> None:
    admin.add_user(ready.url, email="adm@example.com", name="Adm", role="admin",
                   team="Ops", login=ready.login("adm"), password=PASSWORD)
    url = f"postgresql://{ready.login('adm')}:{PASSWORD}@{_hostport(ready)}/{ready.dbname}"
    with pytest.raises(admin.AdminError, match="may not manage login roles"):
        admin.add_user(url, email="z@example.com", name="Z", role="rep", team="Ops",
                       login=ready.login("z"), password=PASSWORD)


def test_set_password_twice(ready: Installation, capsys: pytest.CaptureFixture[str],
                            monkeypatch: pytest.MonkeyPatch) -> None:
    login = ready.login("pat")
    admin.add_user(ready.url, email="pat@example.com", name="Pat", role="rep", team="T",
                   login=login, password=PASSWORD)
    code, out, err = cli(capsys, "admin", "set-password", "--db", ready.url, "--login", login)
    assert code == 0, err
    generated = out.split("shown once, pass it on privately): ")[1].strip()
    assert scram_matches(verifier(ready, login) or "", generated)
    code, out, err = cli(capsys, "admin", "set-password", "--db", ready.url, "--login", login,
                         "--password-stdin", stdin="another-Secret-1\n",
                         monkeypatch=monkeypatch)
    assert code == 0, err
    assert "shown once" not in out
    assert scram_matches(verifier(ready, login) or "", "another-Secret-1")
    assert not scram_matches(verifier(ready, login) or "", generated)
    with pytest.raises(admin.AdminError, match="no LeadQueue user has the login"):
        admin.set_password(ready.url, login=ready.login("nobody"), password="x")


def test_disable_user_twice_keeps_history(ready: Installation,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    login = ready.login("dee")
    result = admin.add_user(ready.url, email="dee@example.com", name="Dee", role="rep",
                            team="Gone", login=login, password=PASSWORD)
    open_session = ready.connect("dee")
    with ready.su() as con:
        con.execute("INSERT INTO audit_log (id, at, actor_id, actor, entity, change) "
                    "VALUES (gen_random_uuid(), now(), %s, 'app', 'lead', '{}')",
                    (result.user_id,))
    for _ in range(2):
        code, out, err = cli(capsys, "admin", "disable-user", "--db", ready.url,
                             "--email", "dee@example.com")
        assert code == 0, err
        assert f"login {login} can no longer log in" in out and "history is kept" in out
    with ready.su() as con:
        assert con.execute("SELECT rolcanlogin FROM pg_roles WHERE rolname = %s",
                           (login,)).fetchone() == (False,)
        assert con.execute("SELECT disabled FROM users WHERE db_role = %s",
                           (login,)).fetchone() == (True,)
        assert con.execute("SELECT count(*) FROM audit_log WHERE actor_id = %s",
                           (result.user_id,)).fetchone() == (1,)
    with pytest.raises(psycopg.OperationalError, match="not permitted to log in"):
        ready.connect("dee")
    # The session that was open when they were disabled was ended.
    with pytest.raises(psycopg.OperationalError):
        open_session.execute("SELECT 1")
    open_session.close()
    # Adding them again re-enables the login (with the old password).
    admin.add_user(ready.url, email="dee@example.com", name="Dee", role="rep", team="Gone",
                   login=login)
    with ready.connect("dee") as con:
        assert con.execute("SELECT lq_me()::text").fetchone() == (result.user_id,)


# --- an older installation is upgraded in place -----------------------------------------

def _comparable(snap: dict[str, Any]) -> dict[str, Any]:
    """A snapshot without what a revoke-then-grant or a recreated policy leaves
    different from a fresh install (empty column ACLs, policy oids)."""
    out = dict(snap)
    out["column_acl"] = [r for r in snap["column_acl"] if r[2] is not None]
    out["policies"] = [r[1:] for r in snap["policies"]]
    return out


def test_init_upgrades_an_older_installations_grants_and_policies_in_place(
        fresh: Installation) -> None:
    """What an earlier release installed (reps writing priority and score, no
    snoozing, admin-only rules, lq_expire_leases for every client, intake rows
    writable in every column) is brought in line by running init again."""
    admin.init(fresh.url, role_prefix=fresh.prefix)
    current = snapshot(fresh)
    rep, lead, intake = (f'"{fresh.prefix}{g}"' for g in ("rep", "team_lead", "intake"))
    with fresh.su() as con:
        con.execute(f"GRANT UPDATE (priority, score, score_breakdown, scored_at) ON leads "
                    f"TO {rep}, {lead}")
        con.execute(f"REVOKE UPDATE (snoozed_until) ON notifications FROM {rep}, {lead}")
        con.execute(f"REVOKE INSERT, UPDATE ON sla_policies, cadences, cadence_steps FROM {lead}")
        for table, name in (("sla_policies", "lq_sla_policies_team_insert"),
                            ("cadence_steps", "lq_cadence_steps_team_update")):
            con.execute(f"DROP POLICY {name} ON {table}")
        con.execute("ALTER POLICY lq_leads_insert ON leads WITH CHECK (true)")
        con.execute(f"GRANT EXECUTE ON FUNCTION lq_expire_leases() TO {rep}, {lead}")
        con.execute(f"GRANT INSERT ON intake TO {intake}")
    assert _comparable(snapshot(fresh)) != _comparable(current)
    assert admin.init(fresh.url).changed
    upgraded = snapshot(fresh)
    assert _comparable(upgraded) == _comparable(current)
    assert not admin.init(fresh.url).changed  # and idempotent from there
    assert snapshot(fresh) == upgraded
    with fresh.su() as con:
        assert con.execute(
            "SELECT has_column_privilege(%s, 'leads', 'priority', 'UPDATE'), "
            "has_function_privilege(%s, 'lq_expire_leases()', 'EXECUTE'), "
            "has_column_privilege(%s, 'intake', 'processed_at', 'INSERT'), "
            "has_column_privilege(%s, 'notifications', 'snoozed_until', 'UPDATE')",
            (fresh.prefix + "rep", fresh.prefix + "team_lead", fresh.prefix + "intake",
             fresh.prefix + "rep")).fetchone() == (False, False, False, True)


def test_init_upgrades_the_review_fixes_in_place(fresh: Installation) -> None:
    """An installation from before: reps could not read rule firings, lease
    expiry returned closed leads to the pool, a reassignment kept its reason
    in the audit log only. Init brings the policy, grant and function bodies
    in line without touching data, and is idempotent from there."""
    from leadqueue.shared import sql as S

    admin.init(fresh.url, role_prefix=fresh.prefix)
    current = snapshot(fresh)
    rep = f'"{fresh.prefix}rep"'
    older = {}
    for ddl in S.write_functions("public"):
        if "FUNCTION lq_expire_leases_for(" in ddl:
            older["expire"] = ddl.replace("       AND l.status IN ('new', 'working')\n"
                                          "       AND l.deleted_at IS NULL AND "
                                          "l.merged_into_id IS NULL\n", "")
        if "FUNCTION lq_reassign(" in ddl:
            older["reassign"] = ddl.replace("routing_explanation = v_why,", "")
    assert set(older) == {"expire", "reassign"}
    with fresh.su() as con:
        for ddl in older.values():
            con.execute(ddl)
        con.execute(f"REVOKE SELECT ON rule_firings FROM {rep}")
        con.execute("ALTER POLICY lq_rule_firings_read ON rule_firings USING "
                    "((SELECT lq_my_role()) = 'admin' OR ((SELECT lq_my_role()) = 'team_lead' "
                    "AND EXISTS (SELECT 1 FROM leads l WHERE l.id = rule_firings.lead_id)))")
    assert _comparable(snapshot(fresh)) != _comparable(current)
    assert admin.init(fresh.url).changed
    upgraded = snapshot(fresh)
    assert _comparable(upgraded) == _comparable(current)
    assert not admin.init(fresh.url).changed
    assert snapshot(fresh) == upgraded
    with fresh.su() as con:
        assert con.execute(
            "SELECT has_table_privilege(%s, 'rule_firings', 'SELECT'), "
            "position('l.status IN' in prosrc) > 0 FROM pg_proc "
            "WHERE oid = 'lq_expire_leases_for(uuid, integer)'::regprocedure",
            (fresh.prefix + "rep",)).fetchone() == (True, True)


# --- intake logins: a system, not a person ------------------------------------------------

def test_add_user_role_intake_makes_a_login_that_may_only_append(
        ready: Installation, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import UTC, datetime

    from leadqueue.shared.intake import submit

    login = ready.login("webform")
    code, out, err = cli(capsys, "admin", "add-user", "--db", ready.url, "--role", "intake",
                         "--login", login, "--password-stdin", stdin=PASSWORD + "\n",
                         monkeypatch=monkeypatch)
    assert code == 0, err
    assert f"created intake login {login}" in out and "INSERT INTO intake" in out
    assert "shown once" not in out
    with ready.su() as con:
        assert con.execute("SELECT count(*) FROM users WHERE db_role = %s",
                           (login,)).fetchone() == (0,)  # a system has no users row
        groups = [r[0] for r in con.execute(
            "SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid "
            "JOIN pg_roles r ON r.oid = m.member WHERE r.rolname = %s", (login,)).fetchall()]
    assert groups == [ready.prefix + "intake"]
    assert scram_matches(verifier(ready, login) or "", PASSWORD)
    with ready.connect("webform") as con:
        con.execute("INSERT INTO intake (id, received_at, source_system, payload) VALUES "
                    "(gen_random_uuid(), now(), 'webform', '{\"first_name\": \"Ina\"}')")
        for sql in ("SELECT count(*) FROM intake", "SELECT count(*) FROM leads",
                    "SELECT count(*) FROM users", "UPDATE intake SET error = 'x'",
                    "DELETE FROM intake",
                    "INSERT INTO intake (id, received_at, payload, processed_at, outcome) VALUES "
                    "(gen_random_uuid(), now(), '{}', now(), 'created')",
                    "INSERT INTO leads (id, version, first_name, last_name, priority, "
                    "lead_class, status, created_at) VALUES (gen_random_uuid(), 1, 'I', 'N', 1, "
                    "'high_intent', 'new', now())",
                    "SELECT * FROM lq_claim_next()", "SELECT lq_expire_leases()"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                con.execute(sql)
    # the way the project's own sender hands one in works with the login too
    engine = make_engine(f"postgresql://{login}:{PASSWORD}@{_hostport(ready)}/{ready.dbname}")
    try:
        submit(engine, {"first_name": "Ivo", "last_name": "Net"}, received_at=datetime.now(UTC),
               source_system="webform")
    finally:
        engine.dispose()
    with ready.su() as con:
        assert con.execute("SELECT count(*) FROM intake WHERE source_system = 'webform' "
                           "AND processed_at IS NULL").fetchone() == (2,)


def test_intake_login_again_set_password_and_disable(
        ready: Installation, capsys: pytest.CaptureFixture[str]) -> None:
    login = ready.login("crm")
    first = admin.add_intake_login(ready.url, login=login)
    assert first.created and first.password and len(first.password) >= 20
    with ready.su() as con:  # a person's group granted to it by hand ...
        con.execute(f'GRANT "{ready.prefix}rep" TO "{login}"')
    again = admin.add_intake_login(ready.url, login=login)
    assert not again.created and again.password is None and not again.password_set
    assert scram_matches(verifier(ready, login) or "", first.password)  # kept
    with ready.su() as con:  # ... is taken away again: intake only
        assert con.execute("SELECT pg_has_role(%s, %s, 'MEMBER'), pg_has_role(%s, %s, "
                           "'MEMBER')", (login, ready.prefix + "rep", login,
                                         ready.prefix + "intake")).fetchone() == (False, True)
    code, out, err = cli(capsys, "admin", "set-password", "--db", ready.url, "--login", login)
    assert code == 0, err
    code, out, err = cli(capsys, "admin", "disable-user", "--db", ready.url, "--login", login)
    assert code == 0, err
    assert f"disabled intake login: login {login} can no longer log in" in out
    with pytest.raises(psycopg.OperationalError, match="not permitted to log in"):
        ready.connect("crm")
    admin.add_intake_login(ready.url, login=login, password=PASSWORD)  # enabled again
    with ready.connect("crm") as con:
        assert con.execute("SELECT session_user::text").fetchone() == (login,)


def test_add_user_role_intake_refusals(ready: Installation,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    base = ("admin", "add-user", "--db", ready.url, "--role", "intake")
    code, _out, err = cli(capsys, *base, "--login", ready.login("x"), "--email", "x@example.com",
                          "--team", "T")
    assert code == 2 and "a system, not a person" in err and "--email, --team" in err
    code, _out, err = cli(capsys, *base)
    assert code == 2 and "--login" in err
    code, _out, err = cli(capsys, "admin", "add-user", "--db", ready.url, "--role", "rep",
                          "--email", "p@example.com", "--name", "P")
    assert code == 2 and "a person needs --team" in err
    person = ready.login("per")
    admin.add_user(ready.url, email="per@example.com", name="Per", role="rep", team="T",
                   login=person, password=PASSWORD)
    with pytest.raises(admin.AdminError, match=r"is the login of per@example\.com, a person"):
        admin.add_intake_login(ready.url, login=person)
    stranger = ready.login("outsider")
    with ready.su() as con:
        con.execute(f'CREATE ROLE "{stranger}" LOGIN')
    with pytest.raises(admin.AdminError, match="not an intake login of this database"):
        admin.add_intake_login(ready.url, login=stranger)
    with pytest.raises(admin.AdminError, match="reserved"):
        admin.add_intake_login(ready.url, login=ready.prefix + "feed")
    with ready.su() as con:  # nothing joined the intake group on the way
        assert con.execute("SELECT pg_has_role(%s, %s, 'MEMBER') OR pg_has_role(%s, %s, "
                           "'MEMBER')", (person, ready.prefix + "intake", stranger,
                                         ready.prefix + "intake")).fetchone() == (False,)
