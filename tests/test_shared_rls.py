"""Row-level security, enforced by PostgreSQL, tried by real login roles.

Each attempt a rep (or team lead) with psql and their own password might make
is one test, run through psycopg and through the ``psql`` binary; each must be
denied or filtered. Positive tests show every role sees exactly what it should,
so a policy that hid everything would fail too.

People: reps ``ann`` and ``bob`` and team lead ``tess`` in team East, rep ``wes``
in team West, admin ``ada``. Leads: A1, A2 (ann), B1 (bob, under a lease), P1
(East's pool), W1 (wes), PW (West's pool), each with one activity.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
import pytest
from conftest import require_tool
from shared_db_support import CLIENTS, PASSWORD, Installation, Outcome

from leadqueue.shared import admin

pytestmark = pytest.mark.pg

PEOPLE = {  # short login -> (role, team)
    "ann": ("rep", "East"), "bob": ("rep", "East"), "tess": ("team_lead", "East"),
    "wes": ("rep", "West"), "ada": ("admin", "HQ"),
}
LEADS = {  # name -> (owner short login or None for the pool, team)
    "A1": ("ann", "East"), "A2": ("ann", "East"), "B1": ("bob", "East"),
    "P1": (None, "East"), "W1": ("wes", "West"), "PW": (None, "West"),
}


@dataclass
class World:
    inst: Installation
    users: dict[str, str]   # short login -> users.id
    teams: dict[str, str]   # team name -> teams.id
    leads: dict[str, str]   # lead name -> leads.id
    names: dict[str, str]   # leads.id -> lead name
    b1_epoch: int


@pytest.fixture(scope="module")
def world(pg_server_url: str) -> Iterator[World]:
    inst = Installation.create(pg_server_url)
    try:
        admin.init(inst.url, role_prefix=inst.prefix)
        users = {}
        for short, (role, team) in PEOPLE.items():
            res = admin.add_user(inst.url, email=f"{short}@example.com", name=short.title(),
                                 role=role, team=team, login=inst.login(short),
                                 password=PASSWORD)
            users[short] = res.user_id
        with inst.su() as con:
            teams = dict(con.execute("SELECT name, id::text FROM teams").fetchall())
            leads = {}
            for name, (owner, team) in LEADS.items():
                lead_id = str(uuid.uuid4())
                leads[name] = lead_id
                con.execute(
                    "INSERT INTO leads (id, version, first_name, last_name, owner_id, team_id, "
                    "priority, lead_class, status, created_at, do_not_contact, attempts, score, "
                    "score_breakdown, data_issues) VALUES (%s, 1, 'Lead', %s, %s, %s, 2, "
                    "'high_intent', 'new', now(), false, 0, 0, '[]', '[]')",
                    (lead_id, name, users.get(owner) if owner else None, teams[team]))
                con.execute(
                    "INSERT INTO activities (id, lead_id, kind, direction, at, author_id, body, "
                    "created_at) VALUES (gen_random_uuid(), %s, 'note', 'outbound', now(), %s, "
                    "%s, now())", (lead_id, users.get(owner) if owner else None, f"note {name}"))
            for short in ("ann", "bob", "wes"):
                con.execute("INSERT INTO audit_log (id, at, actor_id, actor, entity, change) "
                            "VALUES (gen_random_uuid(), now(), %s, 'app', 'lead', '{}')",
                            (users[short],))
            # A1 and P1 are enrolled in a cadence
            cadence = con.execute(
                "INSERT INTO cadences (id, version, name, active, skip_weekends, recycle_days) "
                "VALUES (gen_random_uuid(), 1, 'Inbound', true, true, 90) RETURNING id"
            ).fetchone()[0]
            for name in ("A1", "P1"):
                con.execute("INSERT INTO cadence_enrollments (id, version, lead_id, cadence_id, "
                            "status, enrolled_at, current_step) VALUES (gen_random_uuid(), 1, "
                            "%s, %s, 'active', now(), 1)", (leads[name], cadence))
            # bob holds B1 under a lease (as a claim would leave it)
            b1_epoch = con.execute("SELECT nextval('lq_lease_epoch')").fetchone()[0]
            con.execute("INSERT INTO lead_leases (id, lead_id, holder_id, epoch, leased_at, "
                        "expires_at, travel) VALUES (gen_random_uuid(), %s, %s, %s, now(), "
                        "now() + interval '1 hour', false)",
                        (leads["B1"], users["bob"], b1_epoch))
            # Lets the "evaluated once" test count calls (superuser-only setting).
            con.execute(f'ALTER ROLE "{inst.login("ann")}" SET track_functions = \'all\'')
        yield World(inst, users, teams, leads, {v: k for k, v in leads.items()}, b1_epoch)
    finally:
        inst.drop()


@pytest.fixture(params=sorted(CLIENTS))
def client(request: pytest.FixtureRequest) -> str:
    if request.param == "psql":
        require_tool("psql")
    return request.param


def attempt(world: World, client: str, who: str, *statements: str) -> Outcome:
    return CLIENTS[client](world.inst.conninfo(who), list(statements))


def lead_names(world: World, outcome: Outcome) -> set[str]:
    assert outcome.ok, outcome.error
    return {world.names[r[0]] for r in outcome.rows}


def lead_row(world: World, name: str) -> tuple[object, ...]:
    with world.inst.su() as con:
        return con.execute("SELECT owner_id, team_id, status, next_step, version FROM leads "
                           "WHERE id = %s", (world.leads[name],)).fetchone()


def denied(outcome: Outcome, *phrases: str) -> None:
    assert not outcome.ok, f"expected a refusal, got rows {outcome.rows}"
    assert any(p in (outcome.error or "") for p in phrases), outcome.error


# --- what each role sees (positive) -----------------------------------------------------

def test_rep_sees_exactly_own_leads_and_the_team_pool(world: World, client: str) -> None:
    out = attempt(world, client, "ann", "SELECT id FROM leads")
    assert lead_names(world, out) == {"A1", "A2", "P1"}


def test_rep_sees_the_activities_of_those_leads_only(world: World, client: str) -> None:
    out = attempt(world, client, "ann", "SELECT lead_id FROM activities")
    assert lead_names(world, out) == {"A1", "A2", "P1"}


def test_rep_sees_the_team_users_only(world: World, client: str) -> None:
    out = attempt(world, client, "ann", "SELECT db_role FROM users ORDER BY 1")
    assert out.ok, out.error
    assert {r[0] for r in out.rows} == {world.inst.login(s) for s in ("ann", "bob", "tess")}


def test_rep_reads_templates_and_rules_but_cannot_change_them(world: World, client: str) -> None:
    out = attempt(world, client, "ann", "SELECT count(*) FROM sla_policies")
    assert out.ok and int(out.rows[0][0]) >= 4  # the default policies (team NULL)
    assert attempt(world, client, "ann", "SELECT count(*) FROM templates").ok
    denied(attempt(world, client, "ann", "UPDATE sla_policies SET first_response_minutes = 1"),
           "permission denied")
    denied(attempt(world, client, "ann",
                   "INSERT INTO templates (id, version, name, channel, body) "
                   "VALUES (gen_random_uuid(), 1, 'mine', 'email', 'x')"), "permission denied")


def test_team_lead_sees_the_whole_team(world: World, client: str) -> None:
    out = attempt(world, client, "tess", "SELECT id FROM leads")
    assert lead_names(world, out) == {"A1", "A2", "B1", "P1"}
    out = attempt(world, client, "tess", "SELECT count(*) FROM audit_log")
    assert out.ok and out.rows == [("2",)]  # ann's and bob's entries, not wes's


def test_admin_sees_everything(world: World, client: str) -> None:
    out = attempt(world, client, "ada", "SELECT id FROM leads")
    assert lead_names(world, out) == set(LEADS)
    out = attempt(world, client, "ada", "SELECT count(*) FROM users")
    assert out.rows == [(str(len(PEOPLE)),)]


# --- attempts by a rep: each denied or filtered ------------------------------------------

def test_select_another_reps_lead_returns_nothing(world: World, client: str) -> None:
    out = attempt(world, client, "ann", f"SELECT id FROM leads WHERE id = '{world.leads['B1']}'")
    assert out.ok and out.rows == []


def test_select_another_teams_pool_returns_nothing(world: World, client: str) -> None:
    out = attempt(world, client, "ann", f"SELECT id FROM leads WHERE id = '{world.leads['PW']}'")
    assert out.ok and out.rows == []


def test_update_another_reps_lead_changes_nothing(world: World, client: str) -> None:
    before = lead_row(world, "B1")
    out = attempt(world, client, "ann",
                  f"UPDATE leads SET next_step = 'mine now' WHERE id = '{world.leads['B1']}' "
                  "RETURNING id")
    assert out.ok and out.rows == []
    assert lead_row(world, "B1") == before


def test_change_the_owner_of_another_reps_lead_is_denied(world: World, client: str) -> None:
    before = lead_row(world, "B1")
    out = attempt(world, client, "ann",
                  f"UPDATE leads SET owner_id = '{world.users['ann']}' "
                  f"WHERE id = '{world.leads['B1']}'")
    denied(out, "permission denied for table leads")
    assert lead_row(world, "B1") == before


def test_take_a_pool_lead_by_update_is_denied(world: World, client: str) -> None:
    out = attempt(world, client, "ann",
                  f"UPDATE leads SET owner_id = '{world.users['ann']}' "
                  f"WHERE id = '{world.leads['P1']}'")
    denied(out, "permission denied for table leads")
    assert lead_row(world, "P1")[0] is None


def test_change_status_of_own_lead_directly_is_denied(world: World, client: str) -> None:
    out = attempt(world, client, "ann",
                  f"UPDATE leads SET status = 'converted' WHERE id = '{world.leads['A1']}'")
    denied(out, "permission denied for table leads")
    assert lead_row(world, "A1")[2] == "new"


def test_rep_may_edit_the_working_fields_of_own_lead(world: World, client: str) -> None:
    """The column privileges are not a blanket denial (so the tests above mean something)."""
    text = f"call back ({client})"
    out = attempt(world, client, "ann",
                  f"UPDATE leads SET next_step = '{text}' WHERE id = '{world.leads['A2']}' "
                  "RETURNING id")
    assert out.ok and len(out.rows) == 1, out.error
    assert lead_row(world, "A2")[3] == text


def test_delete_from_the_audit_log_is_denied(world: World, client: str) -> None:
    denied(attempt(world, client, "ann", "DELETE FROM audit_log"),
           "permission denied for table audit_log")


@pytest.mark.parametrize("who", ["tess", "ada"])
def test_audit_log_is_insert_only_for_team_leads_and_admins_too(world: World, client: str,
                                                                who: str) -> None:
    denied(attempt(world, client, who, "DELETE FROM audit_log"),
           "permission denied for table audit_log")
    denied(attempt(world, client, who, "UPDATE audit_log SET reason = 'edited'"),
           "permission denied for table audit_log")
    denied(attempt(world, client, who, "TRUNCATE audit_log"),
           "permission denied for table audit_log")


def test_rep_cannot_read_the_audit_log(world: World, client: str) -> None:
    denied(attempt(world, client, "ann", "SELECT * FROM audit_log"),
           "permission denied for table audit_log")


def test_rep_appends_to_the_audit_log_only_as_themselves(world: World, client: str) -> None:
    insert = ("INSERT INTO audit_log (id, at, actor_id, actor, entity, change) "
              "VALUES (gen_random_uuid(), now(), '{}', 'app', 'lead', '{{}}')")
    assert attempt(world, client, "ann", insert.format(world.users["ann"])).ok
    denied(attempt(world, client, "ann", insert.format(world.users["bob"])),
           "row-level security")


def test_set_role_to_own_group_is_harmless(world: World, client: str) -> None:
    """PostgreSQL 15 lets a member SET ROLE to its group; identity stays session_user."""
    group = world.inst.prefix + "rep"
    out = attempt(world, client, "ann", f'SET ROLE "{group}"',
                  "SELECT current_user::text, session_user::text")
    assert out.ok and out.rows == [(group, world.inst.login("ann"))]
    out = attempt(world, client, "ann", f'SET ROLE "{group}"', "SELECT id FROM leads")
    assert lead_names(world, out) == {"A1", "A2", "P1"}
    out = attempt(world, client, "ann", f'SET ROLE "{group}"',
                  f"UPDATE leads SET owner_id = '{world.users['ann']}' "
                  f"WHERE id = '{world.leads['B1']}'")
    denied(out, "permission denied for table leads")


def test_set_role_to_another_person_is_denied(world: World, client: str) -> None:
    denied(attempt(world, client, "ann", f'SET ROLE "{world.inst.login("bob")}"'),
           "permission denied to set role")


@pytest.mark.parametrize("group", ["team_lead", "admin", "owner"])
def test_set_role_to_a_higher_group_is_denied(world: World, client: str, group: str) -> None:
    denied(attempt(world, client, "ann", f'SET ROLE "{world.inst.prefix}{group}"'),
           "permission denied to set role")


def test_set_session_authorization_is_denied(world: World, client: str) -> None:
    denied(attempt(world, client, "ann",
                   f'SET SESSION AUTHORIZATION "{world.inst.login("bob")}"'),
           "permission denied to set session authorization")


def test_set_status_on_another_reps_lead_is_refused(world: World, client: str) -> None:
    before = lead_row(world, "B1")
    out = attempt(world, client, "ann",
                  f"SELECT lq_set_status('{world.leads['B1']}', 'converted', NULL)")
    denied(out, "is not yours")
    assert lead_row(world, "B1") == before


def test_set_status_on_a_pool_lead_is_refused(world: World, client: str) -> None:
    """A pool lead has no owner: a NULL comparison must refuse, not pass."""
    out = attempt(world, client, "ann",
                  f"SELECT lq_set_status('{world.leads['P1']}', 'disqualified', NULL)")
    denied(out, "is not yours")
    assert lead_row(world, "P1")[2] == "new"


def test_reassign_own_lead_to_another_rep_is_refused(world: World, client: str) -> None:
    out = attempt(world, client, "ann",
                  f"SELECT lq_reassign('{world.leads['A1']}', '{world.users['bob']}', 'swap')")
    denied(out, "only the team lead of the lead's team or an admin")
    assert lead_row(world, "A1")[0] == uuid.UUID(world.users["ann"])


def test_reassign_another_reps_lead_to_self_is_refused(world: World, client: str) -> None:
    out = attempt(world, client, "ann",
                  f"SELECT lq_reassign('{world.leads['B1']}', '{world.users['ann']}', 'mine')")
    denied(out, "only the team lead of the lead's team or an admin")
    assert lead_row(world, "B1")[0] == uuid.UUID(world.users["bob"])


def test_release_another_reps_lease_is_refused(world: World, client: str) -> None:
    out = attempt(world, client, "ann",
                  f"SELECT lq_release('{world.leads['B1']}', {world.b1_epoch})")
    denied(out, "held by someone else")
    assert lead_row(world, "B1")[0] == uuid.UUID(world.users["bob"])


def test_renew_another_reps_lease_is_refused(world: World, client: str) -> None:
    denied(attempt(world, client, "ann",
                   f"SELECT lq_renew('{world.leads['B1']}', {world.b1_epoch})"),
           "held by someone else")


def test_owner_only_functions_cannot_be_called(world: World, client: str) -> None:
    out = attempt(world, client, "ann",
                  f"SELECT lq_check_lease('{world.leads['B1']}', {world.b1_epoch}, "
                  f"'{world.users['ann']}', now())")
    denied(out, "permission denied for function lq_check_lease")


def test_rep_cannot_change_own_role_or_team(world: World, client: str) -> None:
    denied(attempt(world, client, "ann",
                   f"UPDATE users SET role = 'admin' WHERE id = '{world.users['ann']}'"),
           "permission denied for table users")
    denied(attempt(world, client, "ann",
                   f"UPDATE users SET team_id = '{world.teams['West']}' "
                   f"WHERE id = '{world.users['ann']}'"), "permission denied for table users")


def test_rep_cannot_add_a_user_row_for_another_login(world: World, client: str) -> None:
    denied(attempt(world, client, "ann",
                   "INSERT INTO users (id, version, email, name, role, db_role, daily_capacity, "
                   "available, routing_weight, disabled) VALUES (gen_random_uuid(), 1, "
                   "'x@example.com', 'X', 'admin', 'someone', 20, true, 1, false)"),
           "permission denied for table users")


def test_rep_cannot_insert_a_lead_for_another_rep(world: World, client: str) -> None:
    out = attempt(world, client, "ann",
                  "INSERT INTO leads (id, version, first_name, last_name, owner_id, team_id, "
                  "priority, lead_class, status, created_at) VALUES (gen_random_uuid(), 1, "
                  f"'Planted', 'Lead', '{world.users['bob']}', '{world.teams['East']}', 2, "
                  "'high_intent', 'new', now())")
    denied(out, "row-level security")


def _activity(world: World, who: str, lead: str) -> str:
    return ("INSERT INTO activities (id, lead_id, kind, direction, at, author_id, body, "
            f"created_at) VALUES (gen_random_uuid(), '{world.leads[lead]}', 'call', "
            f"'outbound', now(), '{world.users[who]}', 'called', now()) RETURNING lead_id")


def test_rep_cannot_log_an_activity_on_another_reps_lead(world: World, client: str) -> None:
    denied(attempt(world, client, "ann", _activity(world, "ann", "B1")), "row-level security")


def test_rep_cannot_log_an_activity_on_an_unclaimed_pool_lead(world: World,
                                                              client: str) -> None:
    """Working a pool lead starts with a claim; logging a call on it would bypass that."""
    denied(attempt(world, client, "ann", _activity(world, "ann", "P1")), "row-level security")


def test_rep_cannot_log_an_activity_in_another_reps_name(world: World, client: str) -> None:
    denied(attempt(world, client, "ann", _activity(world, "bob", "A1")), "row-level security")


def test_rep_logs_activities_on_own_lead(world: World, client: str) -> None:
    out = attempt(world, client, "ann", _activity(world, "ann", "A1"))
    assert out.ok and lead_names(world, out) == {"A1"}


def test_rep_cannot_change_a_pool_leads_cadence(world: World, client: str) -> None:
    out = attempt(world, client, "ann",
                  "UPDATE cadence_enrollments SET status = 'stopped' "
                  f"WHERE lead_id = '{world.leads['P1']}' RETURNING lead_id")
    assert out.ok and out.rows == []
    out = attempt(world, client, "ann",
                  "UPDATE cadence_enrollments SET current_step = current_step "
                  f"WHERE lead_id = '{world.leads['A1']}' RETURNING lead_id")
    assert out.ok and lead_names(world, out) == {"A1"}  # own lead: allowed


# --- attempts by a team lead --------------------------------------------------------------

def test_team_lead_cannot_see_another_teams_leads(world: World, client: str) -> None:
    out = attempt(world, client, "tess",
                  f"SELECT id FROM leads WHERE team_id = '{world.teams['West']}'")
    assert out.ok and out.rows == []


def test_team_lead_cannot_reassign_another_teams_lead(world: World, client: str) -> None:
    out = attempt(world, client, "tess",
                  f"SELECT lq_reassign('{world.leads['W1']}', '{world.users['ann']}', 'grab')")
    denied(out, "only the team lead of the lead's team or an admin")
    assert lead_row(world, "W1")[0] == uuid.UUID(world.users["wes"])


def test_team_lead_cannot_reassign_to_another_teams_rep(world: World, client: str) -> None:
    out = attempt(world, client, "tess",
                  f"SELECT lq_reassign('{world.leads['A1']}', '{world.users['wes']}', 'export')")
    denied(out, "within their own team only")
    assert lead_row(world, "A1")[0] == uuid.UUID(world.users["ann"])


def test_team_lead_cannot_update_ownership_directly(world: World, client: str) -> None:
    denied(attempt(world, client, "tess",
                   f"UPDATE leads SET owner_id = '{world.users['bob']}' "
                   f"WHERE id = '{world.leads['A1']}'"), "permission denied for table leads")


def test_team_lead_set_role_to_another_person_is_denied(world: World, client: str) -> None:
    denied(attempt(world, client, "tess", f'SET ROLE "{world.inst.login("ann")}"'),
           "permission denied to set role")


def test_team_lead_reassigns_within_the_team(world: World) -> None:
    """The write function works for the caller it is meant for (positive)."""
    with world.inst.connect("tess") as con:
        con.execute("SELECT lq_reassign(%s, %s, 'cover for bob')",
                    (world.leads["P1"], world.users["bob"]))
    assert lead_row(world, "P1")[0] == uuid.UUID(world.users["bob"])
    with world.inst.connect("tess") as con:
        con.execute("SELECT lq_reassign(%s, NULL, 'back to the pool')", (world.leads["P1"],))
    assert lead_row(world, "P1")[0] is None


# --- people outside LeadQueue and disabled people ------------------------------------------

def test_a_role_that_is_not_a_leadqueue_user_cannot_connect(world: World) -> None:
    stranger = world.inst.login("stranger")
    with world.inst.su() as con:
        con.execute(f'CREATE ROLE "{stranger}" LOGIN')
    with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
        world.inst.connect("stranger")


def test_a_disabled_persons_open_session_sees_nothing(world: World) -> None:
    short = "gone"
    admin.add_user(world.inst.url, email="gone@example.com", name="Gone", role="rep",
                   team="East", login=world.inst.login(short), password=PASSWORD)
    with world.inst.connect(short) as con:
        assert con.execute("SELECT count(*) FROM leads").fetchone()[0] == 1  # P1, the pool
        with world.inst.su() as su:
            # what disable-user does, without ending the session
            su.execute("UPDATE users SET disabled = true WHERE db_role = %s",
                       (world.inst.login(short),))
        assert con.execute("SELECT count(*) FROM leads").fetchone() == (0,)
        assert con.execute("SELECT count(*) FROM users").fetchone() == (0,)


# --- how the policies are built -----------------------------------------------------------

def test_helper_functions_are_initplans_evaluated_once(world: World) -> None:
    with world.inst.connect("ann") as con:
        plan = con.execute("EXPLAIN (VERBOSE, FORMAT JSON) SELECT * FROM leads").fetchone()[0]
        init_outputs: list[str] = []
        filters: list[str] = []

        def walk(node: dict[str, object]) -> None:
            if node.get("Parent Relationship") == "InitPlan":
                init_outputs.extend(node.get("Output", []))  # type: ignore[arg-type]
            if "Filter" in node:
                filters.append(str(node["Filter"]))
            for child in node.get("Plans", []):  # type: ignore[union-attr]
                walk(child)

        walk(plan[0]["Plan"])
        for helper in ("lq_me()", "lq_my_team()", "lq_my_role()"):
            assert any(helper in out for out in init_outputs), (helper, init_outputs)
        assert filters and not any("lq_" in f for f in filters), filters
        # And counted: one call of each per query, however many rows it reads.
        with con.transaction():
            con.execute("SELECT count(*) FROM leads, generate_series(1, 50)").fetchone()
            calls = con.execute(
                "SELECT pg_stat_get_xact_function_calls('lq_me()'::regprocedure), "
                "pg_stat_get_xact_function_calls('lq_my_team()'::regprocedure)").fetchone()
        assert calls == (1, 1)


def test_every_column_a_policy_reads_is_indexed(world: World) -> None:
    """An INSERT policy's check on the new row's own columns reads no table (no
    index helps it); the tables its subqueries read are checked like the rest."""
    with world.inst.su() as con:
        missing = con.execute("""
            SELECT DISTINCT c.relname, a.attname, p.polname
              FROM pg_depend d
              JOIN pg_policy p ON d.classid = 'pg_policy'::regclass AND d.objid = p.oid
              JOIN pg_class c ON c.oid = d.refobjid
              JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
             WHERE d.refclassid = 'pg_class'::regclass AND d.refobjsubid > 0
               AND NOT (p.polcmd = 'a' AND d.refobjid = p.polrelid)
               AND NOT EXISTS (SELECT 1 FROM pg_index i
                                WHERE i.indrelid = d.refobjid AND i.indkey[0] = d.refobjsubid)
             ORDER BY 1, 2""").fetchall()
        checked = con.execute(
            "SELECT count(*) FROM pg_depend WHERE classid = 'pg_policy'::regclass "
            "AND refclassid = 'pg_class'::regclass AND refobjsubid > 0").fetchone()[0]
    assert checked > 20  # the check really looked at the policies' columns
    assert missing == []


def test_every_table_forces_rls_and_definer_functions_pin_search_path(world: World) -> None:
    with world.inst.su() as con:
        loose = con.execute(
            "SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace "
            "AND relkind = 'r' AND relname <> 'alembic_version' "
            "AND NOT (relrowsecurity AND relforcerowsecurity)").fetchall()
        unpinned = con.execute(
            "SELECT proname FROM pg_proc WHERE proname LIKE 'lq\\_%' AND prosecdef "
            "AND NOT EXISTS (SELECT 1 FROM unnest(proconfig) c WHERE c LIKE 'search_path=%')"
        ).fetchall()
        definers = con.execute("SELECT count(*) FROM pg_proc WHERE proname LIKE 'lq\\_%' "
                               "AND prosecdef").fetchone()[0]
        public_exec = con.execute(
            "SELECT proname FROM pg_proc WHERE proname LIKE 'lq\\_%' "
            "AND (proacl IS NULL OR EXISTS (SELECT 1 FROM unnest(proacl) a "
            "WHERE a::text LIKE '=%'))").fetchall()
    assert loose == [] and unpinned == [] and public_exec == []
    assert definers >= 6


def test_notify_payloads_carry_ids_only(world: World) -> None:
    with world.inst.connect("ann") as listener:
        listener.execute(f"LISTEN lq_rep_{world.users['ann'].replace('-', '')}")
        with world.inst.connect("tess") as tl:
            tl.execute("SELECT lq_reassign(%s, %s, 'payload check')",
                       (world.leads["P1"], world.users["ann"]))
        notices = list(listener.notifies(timeout=5, stop_after=1))
        with world.inst.connect("tess") as tl:
            tl.execute("SELECT lq_reassign(%s, NULL, 'back')", (world.leads["P1"],))
    assert len(notices) == 1
    payload = json.loads(notices[0].payload)
    assert payload["lead_id"] == world.leads["P1"]
    assert set(payload) <= {"lead_id", "event", "epoch"}
