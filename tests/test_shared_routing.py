"""Routing applied on the real shared database: fairness state in the
database across restarts and concurrent routers, caps from today's counts,
explanations stored with an audit entry."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from pool_support import PoolDb

from leadqueue.ids import uuid7
from leadqueue.shared.routing_store import Router, facts_of, route_unassigned

pytestmark = pytest.mark.pg


@pytest.fixture
def db(pg_server_url: str) -> Iterator[PoolDb]:
    pool = PoolDb(pg_server_url)
    try:
        yield pool
    finally:
        pool.close()


def add_unassigned(db: PoolDb, n: int, *, source: str = "web", country: str = "US",
                   created: datetime | None = None) -> list[uuid.UUID]:
    """``n`` leads with no owner and no team, as another system would write them."""
    created = created or datetime.now(UTC)
    ids = [uuid7() for _ in range(n)]
    with db.su() as con, con.cursor().copy(
            "COPY leads (id, version, first_name, last_name, email, source, country, priority, "
            "lead_class, status, created_at, attempts, score, do_not_contact, score_breakdown, "
            "data_issues) FROM STDIN") as copy:
        for i, lead_id in enumerate(ids):
            copy.write_row((lead_id, 1, f"L{i}", "Test", f"{lead_id.hex}@example.com", source,
                            country, 3, "qualification_needed", "new", created, 0, 0, False,
                            "[]", "[]"))
    return ids


def route_all(db: PoolDb, now: datetime, limit: int = 500) -> int:
    total = 0
    while True:
        with db.engine.begin() as conn:
            n = route_unassigned(conn, now, limit=limit)
        if n == 0:
            return total
        total += n


def counts(db: PoolDb, source: str) -> dict[str, int]:
    return dict(db.q("SELECT u.name, count(*) FROM leads l JOIN users u ON u.id = l.owner_id "
                     "WHERE l.source = %s GROUP BY u.name", (source,)))


@pytest.mark.slow
def test_fairness_over_10k_leads_survives_restarts(db: PoolDb) -> None:
    """Round-robin within +-1 of ideal and weights within 2 %, routed in 20
    separate transactions (each a fresh Router, as after a worker restart)."""
    rr = [db.person(n, daily_capacity=100_000) for n in ("Ann", "Bob", "Cat")]
    senior = db.person("Sen", team="Beta", daily_capacity=100_000, routing_weight=40)
    juniors = [db.person(n, team="Beta", daily_capacity=100_000, routing_weight=20)
               for n in ("Jo", "Jay", "Jim")]
    db.rule("rr", "round_robin", match={"sources": ["rr"]}, target_team="Alpha")
    db.rule("w", "weighted", match={"sources": ["w"]}, target_team="Beta", position=1)
    add_unassigned(db, 10_000, source="rr")
    add_unassigned(db, 10_000, source="w")
    now = datetime.now(UTC)
    assert route_all(db, now, limit=1000) == 20_000
    got = counts(db, "rr")
    assert sum(got.values()) == 10_000 and len(rr) == 3
    assert all(abs(v - 10_000 / 3) <= 1 for v in got.values()), got
    got = counts(db, "w")
    assert abs(got["Sen"] / 10_000 - 0.4) <= 0.4 * 0.02, got
    for name in ("Jo", "Jay", "Jim"):
        assert abs(got[name] / 10_000 - 0.2) <= 0.2 * 0.02, got
    assert senior and juniors
    # The counters in the database agree with the leads.
    state = dict(db.q("SELECT u.name, s.assigned_count FROM routing_state s "
                      "JOIN users u ON u.id = s.user_id"))
    assert state == {**counts(db, "rr"), **counts(db, "w")}


def test_two_concurrent_routers_stay_fair(db: PoolDb) -> None:
    for name in ("Ann", "Bob", "Cat", "Dan"):
        db.person(name, daily_capacity=100_000)
    db.rule("rr", "round_robin", target_team="Alpha")
    add_unassigned(db, 1200)
    now = datetime.now(UTC)
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def worker() -> None:
        try:
            start.wait()
            while True:
                with db.engine.begin() as conn:
                    if route_unassigned(conn, now, limit=7) == 0:
                        return
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors
    got = counts(db, "web")
    assert sum(got.values()) == 1200
    assert max(got.values()) - min(got.values()) <= 1, got
    assert db.one("SELECT count(*) FROM audit_log WHERE rule = 'routing'") == 1200


def test_daily_cap_counts_todays_assignments_in_the_database(db: PoolDb) -> None:
    ann = db.person("Ann", daily_capacity=2)
    bob = db.person("Bob", daily_capacity=1)
    db.rule("rr", "round_robin", target_team="Alpha", backup_team="Beta")
    now = datetime(2026, 3, 4, 15, 0, tzinfo=UTC)
    # One lead Ann got this morning counts; one from yesterday does not.
    for at in (now - timedelta(hours=3), now - timedelta(days=1)):
        lead = add_unassigned(db, 1, source="old")[0]
        db.update("leads", lead, owner_id=ann, team_id=db.team("Alpha"), assigned_at=at,
                  routing_explanation=json.dumps({"old": True}))
    add_unassigned(db, 4)
    assert route_all(db, now) == 4
    assert counts(db, "web") == {"Ann": 1, "Bob": 1}
    pool = db.q("SELECT team_id, routing_explanation FROM leads WHERE source = 'web' "
                "AND owner_id IS NULL")
    assert len(pool) == 2
    # Beta has no reps: the overflow lands in the rule's own team pool.
    assert {row[0] for row in pool} == {db.team("Alpha")}
    why = pool[0][1]
    assert why["via"] == "overflow_pool"
    assert {s["name"]: s["reason"] for s in why["skipped"]} == {
        "Ann": "at daily capacity (2 of 2)", "Bob": "at daily capacity (1 of 1)"}
    assert bob


def test_explanation_and_audit_are_stored_and_readable_by_the_rep(db: PoolDb) -> None:
    ann = db.login("ann")
    db.person("Bob", available=False)
    rid = db.rule("US", "round_robin", match={"countries": ["US"]}, target_team="Alpha")
    lead = add_unassigned(db, 1)[0]
    assert route_all(db, datetime.now(UTC)) == 1
    with db.connect("ann") as con:
        why, owner = con.execute("SELECT routing_explanation, owner_id FROM leads "
                                 "WHERE id = %s", (lead,)).fetchone()
    assert owner == ann
    assert why["rule"] == {"id": str(rid), "name": "US"}
    assert why["method"] == "round_robin"
    assert [c["name"] for c in why["candidates"]] == ["Ann", "Bob"]
    assert why["skipped"] == [{"id": why["skipped"][0]["id"], "name": "Bob",
                               "reason": "marked unavailable"}]
    audit = db.q("SELECT actor, rule, change, reason FROM audit_log WHERE entity_id = %s",
                 (lead,))
    assert audit[0][:2] == ("worker", "routing")
    assert audit[0][2]["owner_id"] == [None, str(ann)]
    assert "Ann" in audit[0][3]


def test_dry_run_router_reads_but_writes_and_locks_nothing(db: PoolDb) -> None:
    db.person("Ann")
    db.rule("rr", "round_robin", target_team="Alpha")
    lead = add_unassigned(db, 1)[0]
    with db.engine.connect() as conn:
        trans = conn.begin()
        router = Router(conn, datetime.now(UTC), dry_run=True)
        row = conn.exec_driver_sql("SELECT * FROM leads WHERE id = %(id)s",
                                   {"id": lead}).mappings().one()
        decision = router.decide(facts_of(row))
        router.apply(lead, decision)
        router.flush()
        locks = conn.exec_driver_sql(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
            "AND pid = pg_backend_pid()").scalar()
        trans.rollback()
    assert decision.owner_id is not None and locks == 0
    assert db.one("SELECT count(*) FROM routing_state") == 0
    assert db.one("SELECT owner_id FROM leads WHERE id = %s", (lead,)) is None
