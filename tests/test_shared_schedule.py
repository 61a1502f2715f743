"""The notification schedule on the shared database, as real rep and team-lead
logins (``admin add-user``): ``Workspace.upcoming_events`` reads the rule
firings of the leads the person sees (row-level security: a rep their own
and their team's pool, a team lead their team), ``pending_notifications``
their own rows. Nobody reads the firings of leads they cannot see."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from pool_support import PoolDb, add_pool

from leadqueue.clock import FakeClock
from leadqueue.ids import uuid7
from leadqueue.rules.escalation import handover_key
from leadqueue.store import make_engine
from leadqueue.workspace import Workspace

pytestmark = pytest.mark.pg

#: The test's "now", to the second (the database stores microseconds; the
#: firing keys carry the assignment time as text, so it must round-trip).
NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture(scope="module")
def db(pg_server_url: str) -> Iterator[PoolDb]:
    pool = PoolDb(pg_server_url)
    try:
        pool.ids = {  # type: ignore[attr-defined]
            "ria": pool.login("ria", team="Sched"), "rex": pool.login("rex", team="Sched"),
            "tia": pool.login("tia", team="Sched", role="team_lead"),
            "oz": pool.login("oz", team="Elsewhere"),
        }
        # P2 everywhere: first response in 60 minutes; the owner is told at the
        # deadline and urgently 30 minutes later, the team lead 60 minutes later.
        pool.q("INSERT INTO sla_policies (id, version, team_id, priority, "
               "first_response_minutes, holidays, escalation) "
               "VALUES (%s, 1, NULL, 2, 60, '[]', %s)",
               (uuid7(), json.dumps([
                   {"offset_minutes": 0, "action": "notify_owner"},
                   {"offset_minutes": 30, "action": "notify_owner_urgent"},
                   {"offset_minutes": 60, "action": "notify_team_lead"}])))
        yield pool
    finally:
        pool.close()


@pytest.fixture
def open_ws(db: PoolDb) -> Iterator:  # type: ignore[type-arg]
    engines = []

    def opener(short: str) -> Workspace:
        engine = make_engine(db.url_of(short))
        engines.append(engine)
        return Workspace.open(engine, clock=FakeClock(NOW))

    yield opener
    for engine in engines:
        engine.dispose()


def owned_lead(db: PoolDb, team: str, to: str) -> uuid.UUID:
    """An unworked P2 lead created 10 minutes ago, assigned to ``to`` then."""
    lead = add_pool(db, team, 1, priority=2, created_at=NOW - timedelta(minutes=10))[0]
    db.q("UPDATE leads SET owner_id = %s, assigned_at = %s WHERE id = %s",
         (db.ids[to], NOW - timedelta(minutes=10), lead))  # type: ignore[attr-defined]
    return lead


def fire(db: PoolDb, lead: uuid.UUID, key: str, at: datetime) -> None:
    db.q("INSERT INTO rule_firings (id, key, lead_id, fired_at, delivered) "
         "VALUES (%s, %s, %s, %s, true)", (uuid7(), key, lead, at))


def notify(db: PoolDb, to: str, lead: uuid.UUID, title: str) -> None:
    db.q("INSERT INTO notifications (id, version, recipient_id, lead_id, level, title, "
         "created_at) VALUES (%s, 1, %s, %s, 'normal', %s, %s)",
         (uuid7(), db.ids[to], lead, title, NOW - timedelta(minutes=1)))  # type: ignore[attr-defined]


def test_a_reps_schedule_reads_the_firings_of_their_own_leads(db: PoolDb, open_ws) -> None:  # type: ignore[no-untyped-def]
    lead = owned_lead(db, "Sched", "ria")
    # A hand-over to Ria recorded at +85 min: the ladder stages before it are
    # the previous owner's and leave her schedule (rules.escalation.with_firings).
    fire(db, lead, handover_key(lead, db.ids["ria"], NOW - timedelta(minutes=10)),  # type: ignore[attr-defined]
         NOW + timedelta(minutes=85))
    notify(db, "ria", lead, "First response due soon")
    ria = open_ws("ria")
    events = [(e.kind, e.at) for e in ria.upcoming_events(timedelta(hours=3))
              if e.lead_id == lead]
    deadline = NOW + timedelta(minutes=50)
    assert events == [("sla_deadline", deadline),
                      ("ladder_stage", deadline + timedelta(minutes=60))]
    assert [n.title for n in ria.pending_notifications()] == ["First response due soon"]


def test_a_team_leads_schedule_reads_their_teams_firings(db: PoolDb, open_ws) -> None:  # type: ignore[no-untyped-def]
    lead = owned_lead(db, "Sched", "rex")
    own = owned_lead(db, "Sched", "tia")
    notify(db, "tia", lead, "Rex has a lead waiting")
    tia = open_ws("tia")
    events = {(e.lead_id, e.kind, e.title.split(":")[0])
              for e in tia.upcoming_events(timedelta(hours=3))}
    assert (lead, "ladder_stage", "SLA breach") in events  # Rex's lead reaches her at +60
    assert (own, "sla_deadline", "First response due") in events  # and her own lead
    assert "Rex has a lead waiting" in [n.title for n in tia.pending_notifications()]


def test_firings_are_visible_with_their_lead_only(db: PoolDb) -> None:
    ria_lead = owned_lead(db, "Sched", "ria")
    rex_lead = owned_lead(db, "Sched", "rex")
    pool_lead = add_pool(db, "Sched", 1, priority=2)[0]
    other = owned_lead(db, "Elsewhere", "oz")
    for lead in (ria_lead, rex_lead, pool_lead, other):
        fire(db, lead, f"test:{lead}", NOW)
    mine = [ria_lead, rex_lead, pool_lead, other]

    def seen(short: str) -> set[uuid.UUID]:
        with db.connect(short) as con:
            return {r[0] for r in con.execute(
                "SELECT lead_id FROM rule_firings WHERE lead_id = ANY(%s)", (mine,))}

    assert seen("ria") == {ria_lead, pool_lead}  # her own and her team's pool
    assert seen("rex") == {rex_lead, pool_lead}
    assert seen("tia") == {ria_lead, rex_lead, pool_lead}  # her team
    assert seen("oz") == {other}
    with db.connect("ria") as con:  # read-only for everyone but the worker's admin
        for sql in ("UPDATE rule_firings SET delivered = false WHERE lead_id = %s",
                    "DELETE FROM rule_firings WHERE lead_id = %s"):
            with pytest.raises(Exception, match="permission denied"):
                con.execute(sql, (ria_lead,))
