"""Who may write what on the shared database, beyond ownership (tests/test_shared_rls.py):
notifications, the rule book, what the rule engine owns, the worker's functions.

Each gap a review found is tried by real login roles (``admin add-user``), the
app's way (the Workspace connected as that login) where there is one, and by
direct SQL. People: reps ``ann`` and ``bob`` and team lead ``tess`` in East,
team lead ``tom`` and rep ``wes`` in West, admin ``ada``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import pytest
from shared_db_support import PASSWORD, Installation, Outcome, run_psycopg

from leadqueue.clock import FakeClock
from leadqueue.errors import ActionRefused
from leadqueue.rulebook import CadenceSpec, CadenceStepSpec
from leadqueue.shared import admin
from leadqueue.store import make_engine
from leadqueue.views import NewLead
from leadqueue.workspace import Workspace

pytestmark = pytest.mark.pg

PEOPLE = {  # short login -> (role, team)
    "ann": ("rep", "East"), "bob": ("rep", "East"), "tess": ("team_lead", "East"),
    "tom": ("team_lead", "West"), "wes": ("rep", "West"), "ada": ("admin", "HQ"),
}


@dataclass
class World:
    inst: Installation
    users: dict[str, uuid.UUID]
    teams: dict[str, uuid.UUID]
    lead: uuid.UUID                      # ann's lead
    notes: dict[str, uuid.UUID]          # short login -> their notification
    global_cadence: uuid.UUID
    global_step: uuid.UUID
    west_cadence: uuid.UUID
    west_p2: uuid.UUID                   # West's own P2 SLA policy
    template: str

    def url_of(self, short: str) -> str:
        base = self.inst.url.split("//", 1)[1].split("@", 1)[1]
        return f"postgresql://{self.inst.login(short)}:{PASSWORD}@{base}"

    def su_one(self, sql: str, params: tuple[object, ...] = ()) -> object:
        with self.inst.su() as con:
            row = con.execute(sql, params).fetchone()  # type: ignore[arg-type]
        return row[0] if row else None


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
            users[short] = uuid.UUID(res.user_id)
        with inst.su() as con:
            teams = {n: i for n, i in con.execute("SELECT name, id FROM teams").fetchall()}
            lead = uuid.uuid4()
            con.execute(
                "INSERT INTO leads (id, version, first_name, last_name, owner_id, team_id, "
                "priority, lead_class, status, created_at, do_not_contact, attempts, score, "
                "score_breakdown, data_issues, phone) VALUES (%s, 1, 'Lead', 'A1', %s, %s, 3, "
                "'high_intent', 'new', now(), false, 0, 10, '[]', '[]', '+12125550101')",
                (lead, users["ann"], teams["East"]))
            notes = {}
            for short in ("ann", "bob", "tess"):
                notes[short] = uuid.uuid4()
                con.execute("INSERT INTO notifications (id, version, recipient_id, lead_id, "
                            "level, title, created_at) VALUES (%s, 1, %s, %s, 'normal', %s, "
                            "now())", (notes[short], users[short], lead, f"for {short}"))
            template = "Shared call script"
            tid = con.execute("INSERT INTO templates (id, version, name, channel, body) VALUES "
                              "(gen_random_uuid(), 1, %s, 'call', 'Hi {first_name}') "
                              "RETURNING id", (template,)).fetchone()[0]

            def cadence(name: str, team: uuid.UUID | None) -> tuple[uuid.UUID, uuid.UUID]:
                cid = con.execute(
                    "INSERT INTO cadences (id, version, name, team_id, active, skip_weekends, "
                    "recycle_days) VALUES (gen_random_uuid(), 1, %s, %s, true, true, 90) "
                    "RETURNING id", (name, team)).fetchone()[0]
                sid = con.execute(
                    "INSERT INTO cadence_steps (id, version, cadence_id, position, day_offset, "
                    "channel, template_id) VALUES (gen_random_uuid(), 1, %s, 1, 1, 'call', %s) "
                    "RETURNING id", (cid, tid)).fetchone()[0]
                return cid, sid

            global_cadence, global_step = cadence("Everyone's cadence", None)
            west_cadence, _ = cadence("West's cadence", teams["West"])
            west_p2 = con.execute(
                "INSERT INTO sla_policies (id, version, team_id, priority, "
                "first_response_minutes, holidays, escalation) "
                "VALUES (gen_random_uuid(), 1, %s, 2, 90, '[]', '[]') RETURNING id",
                (teams["West"],)).fetchone()[0]
        yield World(inst, users, teams, lead, notes, global_cadence, global_step, west_cadence,
                    west_p2, template)
    finally:
        inst.drop()


def attempt(world: World, who: str, *statements: str) -> Outcome:
    return run_psycopg(world.inst.conninfo(who), list(statements))


def denied(outcome: Outcome, *phrases: str) -> None:
    assert not outcome.ok, f"expected a refusal, got rows {outcome.rows}"
    assert any(p in (outcome.error or "") for p in phrases), outcome.error


def no_rows(outcome: Outcome) -> None:
    """An UPDATE ... RETURNING that row-level security filtered to nothing."""
    assert outcome.ok, outcome.error
    assert outcome.rows == []


@pytest.fixture
def workspace(world: World):  # type: ignore[no-untyped-def]
    """The app's facade connected as a person's own login."""
    engines = []

    def open_as(short: str) -> Workspace:
        engine = make_engine(world.url_of(short))
        engines.append(engine)
        return Workspace.open(engine, f"{short}@example.com",
                              FakeClock(datetime.now(UTC).replace(microsecond=0)))

    yield open_as
    for engine in engines:
        engine.dispose()


# --- 1. notifications: the recipient snoozes and marks seen their own ---------------------

def test_rep_snoozes_and_marks_seen_own_notification_through_the_workspace(
        world: World, workspace) -> None:  # type: ignore[no-untyped-def]
    ann = workspace("ann")
    note = world.notes["ann"]
    assert note in {n.id for n in ann.pending_notifications()}
    until = ann.now() + timedelta(hours=1)
    ann.snooze_notification(note, until)
    assert world.su_one("SELECT snoozed_until FROM notifications WHERE id = %s",
                        (note,)) == until
    assert note not in {n.id for n in ann.pending_notifications()}
    ann.mark_notifications_seen([note])
    assert world.su_one("SELECT seen_at FROM notifications WHERE id = %s", (note,)) is not None


def test_nobody_snoozes_or_marks_another_persons_notification(world: World,
                                                              workspace) -> None:  # type: ignore[no-untyped-def]
    bobs = world.notes["bob"]
    before = world.su_one("SELECT row(snoozed_until, seen_at, version)::text FROM notifications "
                          "WHERE id = %s", (bobs,))
    ann = workspace("ann")
    with pytest.raises(ActionRefused, match="no notification"):
        ann.snooze_notification(bobs, ann.now() + timedelta(hours=1))
    ann.mark_notifications_seen([bobs])  # ignored, as the workspace promises
    for who in ("ann", "tess"):  # a rep, and bob's own team lead
        no_rows(attempt(world, who, "UPDATE notifications SET snoozed_until = now() + "
                        f"interval '1 day', seen_at = now() WHERE id = '{bobs}' RETURNING id"))
    assert world.su_one("SELECT row(snoozed_until, seen_at, version)::text FROM notifications "
                        "WHERE id = %s", (bobs,)) == before


@pytest.mark.parametrize("assignment", [
    "title = 'edited'", "level = 'quiet'", "lead_id = NULL", "recipient_id = '{bob}'",
    "deleted_at = now()", "dedupe_key = 'x'",
])
def test_only_seen_and_snooze_change_on_own_notification(world: World, assignment: str) -> None:
    sql = (f"UPDATE notifications SET {assignment.format(bob=world.users['bob'])} "
           f"WHERE id = '{world.notes['ann']}'")
    denied(attempt(world, "ann", sql), "permission denied for table notifications")


# --- 2. the rule book: a team lead edits their own team's rules ---------------------------

def test_team_lead_saves_the_teams_sla_override_through_the_workspace(
        world: World, workspace) -> None:  # type: ignore[no-untyped-def]
    tess = workspace("tess")
    default = tess.rule_book().sla_policy(1)
    assert default.team_id is None
    global_before = world.su_one("SELECT row(first_response_minutes, version)::text "
                                 "FROM sla_policies WHERE team_id IS NULL AND priority = 1")
    saved = tess.save_sla_policy(replace(default, first_response_minutes=7))
    assert saved.team_id == world.teams["East"]
    again = tess.save_sla_policy(replace(saved, first_response_minutes=8))  # an UPDATE now
    assert again.id == saved.id
    assert tess.rule_book().sla_policy(1, world.teams["East"]).first_response_minutes == 8
    assert world.su_one("SELECT row(team_id, first_response_minutes, version)::text "
                        "FROM sla_policies WHERE id = %s", (saved.id,)) == \
        f"({world.teams['East']},8,2)"
    assert world.su_one("SELECT row(first_response_minutes, version)::text FROM sla_policies "
                        "WHERE team_id IS NULL AND priority = 1") == global_before
    assert world.su_one("SELECT count(*) FROM audit_log WHERE rule = 'rule_book' "
                        "AND actor_id = %s AND entity_id = %s",
                        (world.users["tess"], saved.id)) == 2


def test_team_lead_saves_a_team_cadence_through_the_workspace(world: World,
                                                              workspace) -> None:  # type: ignore[no-untyped-def]
    tess = workspace("tess")
    made = tess.save_cadence(CadenceSpec(
        "East follow-up", (CadenceStepSpec(1, 1, "call", world.template),)))
    assert made.team_id == world.teams["East"]
    edited = tess.save_cadence(replace(made, steps=(
        CadenceStepSpec(1, 1, "call", world.template), CadenceStepSpec(2, 3, "call"))))
    assert len(edited.steps) == 2
    assert world.su_one("SELECT count(*) FROM cadence_steps WHERE cadence_id = %s "
                        "AND deleted_at IS NULL", (made.id,)) == 2
    shared = tess.rule_book().cadence("Everyone's cadence")
    with pytest.raises(ActionRefused, match="not your team's"):
        tess.save_cadence(replace(shared, recycle_days=5))


def _sla_insert(team: object) -> str:
    value = "NULL" if team is None else f"'{team}'"
    return ("INSERT INTO sla_policies (id, version, team_id, priority, first_response_minutes, "
            f"holidays, escalation) VALUES (gen_random_uuid(), 1, {value}, 3, 1, '[]', '[]')")


def test_team_lead_cannot_touch_shared_or_other_teams_sla_policies(world: World) -> None:
    before = world.su_one("SELECT string_agg(row(id, first_response_minutes, version)::text, "
                          "',' ORDER BY id) FROM sla_policies WHERE team_id IS DISTINCT FROM %s",
                          (world.teams["East"],))
    no_rows(attempt(world, "tess", "UPDATE sla_policies SET first_response_minutes = 1 "
                                   "WHERE team_id IS NULL RETURNING id"))
    no_rows(attempt(world, "tess", "UPDATE sla_policies SET first_response_minutes = 1 "
                                   f"WHERE id = '{world.west_p2}' RETURNING id"))
    denied(attempt(world, "tess", _sla_insert(world.teams["West"])), "row-level security")
    denied(attempt(world, "tess", _sla_insert(None)), "row-level security")
    denied(attempt(world, "tess", f"DELETE FROM sla_policies WHERE team_id = "
                                  f"'{world.teams['East']}'"), "permission denied")
    assert world.su_one("SELECT string_agg(row(id, first_response_minutes, version)::text, "
                        "',' ORDER BY id) FROM sla_policies WHERE team_id IS DISTINCT FROM %s",
                        (world.teams["East"],)) == before


def test_team_lead_cannot_hand_an_own_rule_to_everyone_or_another_team(world: World) -> None:
    own = attempt(world, "tess", _sla_insert(world.teams["East"]).replace(", 3, 1,", ", 4, 60,")
                  + " RETURNING id")
    assert own.ok, own.error  # their own team's P4 override
    for team in ("NULL", f"'{world.teams['West']}'"):
        denied(attempt(world, "tess", f"UPDATE sla_policies SET team_id = {team} "
                                      f"WHERE id = '{own.rows[0][0]}'"), "row-level security")


def test_team_lead_cannot_touch_shared_or_other_teams_cadences(world: World) -> None:
    digest = ("SELECT md5(string_agg(t::text, ',' ORDER BY t::text)) FROM "
              "(SELECT c.*, s.* FROM cadences c JOIN cadence_steps s ON s.cadence_id = c.id "
              "WHERE c.team_id IS DISTINCT FROM %s) t")
    before = world.su_one(digest, (world.teams["East"],))
    glob, step, west = world.global_cadence, world.global_step, world.west_cadence
    no_rows(attempt(world, "tess", "UPDATE cadences SET recycle_days = 1 "
                                   f"WHERE id IN ('{glob}', '{west}') RETURNING id"))
    no_rows(attempt(world, "tess", "UPDATE cadence_steps SET day_offset = 9 "
                                   f"WHERE cadence_id IN ('{glob}', '{west}') RETURNING id"))
    denied(attempt(world, "tess", "INSERT INTO cadence_steps (id, version, cadence_id, position, "
                                  f"day_offset, channel) VALUES (gen_random_uuid(), 1, '{glob}', "
                                  "7, 9, 'email')"), "row-level security")
    denied(attempt(world, "tess", "INSERT INTO cadences (id, version, name, team_id, active, "
                                  "skip_weekends, recycle_days) VALUES (gen_random_uuid(), 1, "
                                  f"'Planted', '{world.teams['West']}', true, true, 90)"),
           "row-level security")
    denied(attempt(world, "tess", "INSERT INTO cadences (id, version, name, active, "
                                  "skip_weekends, recycle_days) VALUES (gen_random_uuid(), 1, "
                                  "'Planted for all', true, true, 90)"), "row-level security")
    # a step of their own cadence cannot be moved into the shared one
    mine = attempt(world, "tess", "INSERT INTO cadences (id, version, name, team_id, active, "
                                  "skip_weekends, recycle_days) VALUES (gen_random_uuid(), 1, "
                                  f"'East only', '{world.teams['East']}', true, true, 90) "
                                  "RETURNING id")
    assert mine.ok, mine.error
    own_step = attempt(world, "tess", "INSERT INTO cadence_steps (id, version, cadence_id, "
                                      f"position, day_offset, channel) VALUES (gen_random_uuid(), "
                                      f"1, '{mine.rows[0][0]}', 1, 1, 'call') RETURNING id")
    assert own_step.ok, own_step.error
    denied(attempt(world, "tess", f"UPDATE cadence_steps SET cadence_id = '{glob}', "
                                  f"position = 8 WHERE id = '{own_step.rows[0][0]}'"),
           "row-level security")
    assert world.su_one(digest, (world.teams["East"],)) == before
    assert world.su_one("SELECT count(*) FROM cadence_steps WHERE id = %s", (step,)) == 1


def test_each_team_lead_edits_their_own_teams_override(world: World) -> None:
    out = attempt(world, "tom", "UPDATE sla_policies SET first_response_minutes = 80 "
                                "WHERE priority = 2 RETURNING id")
    assert out.ok and out.rows == [(str(world.west_p2),)], out.error  # not the shared P2


def test_templates_and_routing_rules_are_the_admins(world: World) -> None:
    """Templates have no team (every team's cadences use them); a team's routing
    rule also routes new leads that have no team yet, so it is the admin's too."""
    for who in ("tess", "ann"):
        denied(attempt(world, who, "INSERT INTO templates (id, version, name, channel, body) "
                                   "VALUES (gen_random_uuid(), 1, 'mine', 'email', 'x')"),
               "permission denied for table templates")
        denied(attempt(world, who, "UPDATE templates SET body = 'x'"),
               "permission denied for table templates")
        denied(attempt(world, who, "INSERT INTO routing_rules (id, version, team_id, name, "
                                   "position, active, match, method, target_team_id, weights) "
                                   "VALUES (gen_random_uuid(), 1, "
                                   f"'{world.teams['East']}', 'grab all', -1, true, '{{}}', "
                                   f"'pool', '{world.teams['East']}', '{{}}')"),
               "permission denied for table routing_rules")


def test_reps_read_the_rules_and_write_none(world: World) -> None:
    east = world.teams["East"]
    denied(attempt(world, "ann", _sla_insert(east)), "permission denied for table sla_policies")
    denied(attempt(world, "ann", "UPDATE sla_policies SET first_response_minutes = 1"),
           "permission denied for table sla_policies")
    denied(attempt(world, "ann", "UPDATE cadences SET recycle_days = 1"),
           "permission denied for table cadences")
    denied(attempt(world, "ann", "UPDATE cadence_steps SET day_offset = 1"),
           "permission denied for table cadence_steps")
    out = attempt(world, "ann", "SELECT count(*) FROM sla_policies")
    assert out.ok and int(out.rows[0][0]) >= 4


def test_admin_edits_every_rule(world: World) -> None:
    out = attempt(world, "ada", "UPDATE sla_policies SET version = version WHERE team_id IS NULL "
                                f"OR id = '{world.west_p2}' RETURNING id")
    assert out.ok and len(out.rows) >= 5, out.error
    out = attempt(world, "ada", "UPDATE cadences SET version = version RETURNING id")
    assert out.ok and len(out.rows) >= 2, out.error


# --- 3. priority and score are the rule engine's ------------------------------------------

@pytest.mark.parametrize("who", ["ann", "tess"])
@pytest.mark.parametrize("assignment", [
    "priority = 1", "score = 100", "score_breakdown = '[{\"rule\": \"me\", \"points\": 99}]'",
    "scored_at = now()",
])
def test_priority_and_score_are_not_directly_writable(world: World, who: str,
                                                      assignment: str) -> None:
    before = world.su_one("SELECT row(priority, score, score_breakdown, scored_at, "
                          "version)::text FROM leads WHERE id = %s", (world.lead,))
    denied(attempt(world, who, f"UPDATE leads SET {assignment} WHERE id = '{world.lead}'"),
           "permission denied for table leads")
    assert world.su_one("SELECT row(priority, score, score_breakdown, scored_at, "
                        "version)::text FROM leads WHERE id = %s", (world.lead,)) == before


def test_a_lead_typed_in_leaves_scoring_to_the_engine(world: World) -> None:
    insert = ("INSERT INTO leads (id, version, first_name, last_name, owner_id, team_id, "
              "priority, lead_class, status, created_at, do_not_contact, attempts, score, "
              "score_breakdown, data_issues, scored_at) VALUES "
              f"(gen_random_uuid(), 1, 'Typed', 'In', '{world.users['ann']}', "
              f"'{world.teams['East']}', 2, 'high_intent', 'new', now(), false, 0, 0, '[]', "
              "'[]', {})")
    denied(attempt(world, "ann", insert.format("now()")), "row-level security")
    out = attempt(world, "ann", insert.format("NULL"))
    assert out.ok, out.error


def test_workspace_actions_keep_working_for_a_rep(world: World, workspace) -> None:  # type: ignore[no-untyped-def]
    """The actions a rep takes write no engine-owned column: all of them work on
    the shared database as the rep's own login; the worker (an admin's login)
    then scores the lead and may move its priority."""
    from leadqueue.engine import run_pass

    ann = workspace("ann")
    lead = world.lead
    ann.acknowledge(lead)
    ann.log_call(lead, "no_answer")
    ann.add_note(lead, "left a voicemail")
    ann.set_next_step(lead, "call", ann.now() + timedelta(hours=2))
    ann.snooze(lead, ann.now() + timedelta(hours=1))
    new = ann.create_lead(NewLead("Typed", "Lead", phone="+1 212 555 0199", priority=2))
    assert ann.lead(lead).attempts == 1
    assert world.su_one("SELECT scored_at FROM leads WHERE id = %s", (new,)) is None
    worker = make_engine(world.url_of("ada"))
    try:
        run_pass(worker, ann.now())
    finally:
        worker.dispose()
    assert world.su_one("SELECT scored_at FROM leads WHERE id = %s", (new,)) is not None


# --- 5. returning every team's expired claims is the worker's ------------------------------

@pytest.mark.parametrize("who", ["ann", "tess"])
def test_expire_leases_is_not_for_reps_or_team_leads(world: World, who: str) -> None:
    denied(attempt(world, who, "SELECT lq_expire_leases()"),
           "permission denied for function lq_expire_leases")


def test_the_worker_returns_expired_claims(world: World) -> None:
    out = attempt(world, "ada", "SELECT lq_expire_leases()")
    assert out.ok and int(out.rows[0][0]) >= 0, out.error


def test_a_claim_still_returns_its_teams_expired_claims(world: World) -> None:
    """lq_claim_next returns expired claims on its own (as the owner), so reps
    need no EXECUTE on lq_expire_leases."""
    pool = uuid.uuid4()
    with world.inst.su() as con:
        con.execute(
            "INSERT INTO leads (id, version, first_name, last_name, team_id, priority, "
            "lead_class, status, created_at, do_not_contact, attempts, score, score_breakdown, "
            "data_issues) VALUES (%s, 1, 'Pool', 'Lead', %s, 1, 'high_intent', 'new', now(), "
            "false, 0, 0, '[]', '[]')", (pool, world.teams["East"]))
    with world.inst.connect("bob") as con:
        first = con.execute("SELECT lead_id FROM lq_claim_next()").fetchall()
    assert first == [(pool,)]
    with world.inst.su() as con:  # bob's claim ran out without a first action
        con.execute("UPDATE lead_leases SET leased_at = now() - interval '2 hours', "
                    "expires_at = now() - interval '1 hour' WHERE lead_id = %s", (pool,))
    with world.inst.connect("ann") as con:
        again = con.execute("SELECT lead_id FROM lq_claim_next()").fetchall()
    assert again == [(pool,)]
    assert world.su_one("SELECT owner_id FROM leads WHERE id = %s", (pool,)) == world.users["ann"]


def test_intake_logins_and_clients_cannot_call_worker_functions(world: World) -> None:
    with world.inst.su() as con:
        acl = con.execute("SELECT proacl::text[] FROM pg_proc "
                          "WHERE oid = 'lq_expire_leases()'::regprocedure").fetchone()[0]
    granted = {a.split("=")[0] for a in acl}
    assert granted == {world.inst.prefix + "owner", world.inst.prefix + "admin"}, acl
