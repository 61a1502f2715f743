"""Live push: a rep's listener hears assignments, claims and reassignments on
its own channel, and after its connection is killed it reconnects with
backoff and catches up on what happened meanwhile."""

from __future__ import annotations

import queue
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from pool_support import PoolDb

from leadqueue.shared import claims
from leadqueue.shared.intake import intake_payloads
from leadqueue.shared.live import LeadListener, Notice

pytestmark = pytest.mark.pg

WAIT = 15.0


@pytest.fixture(scope="module")
def db(pg_server_url: str) -> Iterator[PoolDb]:
    pool = PoolDb(pg_server_url)
    try:
        pool.liv = pool.login("liv", team="Live")  # type: ignore[attr-defined]
        pool.max = pool.login("max", team="Live")  # type: ignore[attr-defined]
        pool.lea = pool.login("lea", team="Live", role="team_lead")  # type: ignore[attr-defined]
        pool.rule("to Liv", "rep", match={"sources": ["for-liv"]},
                  target_user=pool.liv, target_team="Live")  # type: ignore[attr-defined]
        pool.rule("pool", "pool", position=5, target_team="Live")
        yield pool
    finally:
        pool.close()


class Recorder:
    def __init__(self) -> None:
        self.notices: queue.Queue[Notice] = queue.Queue()
        self.states: queue.Queue[str] = queue.Queue()

    def next(self, predicate, timeout: float = WAIT) -> Notice:  # type: ignore[no-untyped-def]
        while True:
            notice = self.notices.get(timeout=timeout)
            if predicate(notice):
                return notice

    def state(self, prefix: str, timeout: float = WAIT) -> str:
        while True:
            state = self.states.get(timeout=timeout)
            if state.startswith(prefix):
                return state


def new_lead(db: PoolDb, source: str = "for-liv") -> uuid.UUID:
    item = intake_payloads(db.engine, [{
        "first_name": "Live", "last_name": uuid.uuid4().hex[:6], "source": source,
        "email": f"{uuid.uuid4().hex}@live.test"}], now=datetime.now(UTC)).items[0]
    assert item.lead_id is not None
    return item.lead_id


@pytest.fixture
def listener(db: PoolDb) -> Iterator[tuple[LeadListener, Recorder]]:
    rec = Recorder()
    lst = LeadListener(db.conninfo("liv"), rec.notices.put, on_state=rec.states.put,
                       backoff_initial_s=0.2, backoff_max_s=1.0, poll_s=0.2)
    lst.start()
    try:
        assert lst.wait_listening(WAIT)
        yield lst, rec
    finally:
        lst.stop()
    assert rec.state("stopped")


def test_assignment_claim_and_reassignment_reach_the_rep(
        db: PoolDb, listener: tuple[LeadListener, Recorder]) -> None:
    lst, rec = listener
    assert lst.user_id == db.liv  # type: ignore[attr-defined]
    routed = new_lead(db)
    n = rec.next(lambda n: n.lead_id == routed)
    assert (n.event, n.catch_up) == ("assigned", False)
    pooled = new_lead(db, source="pool")
    assert rec.next(lambda n: n.event == "pool").lead_id is None  # the team channel: wake-up
    with db.connect("liv") as con:
        claim = claims.claim_next(con)
    assert claim is not None and claim.lead_id == pooled
    assert rec.next(lambda n: n.lead_id == pooled).event == "claimed"
    with db.connect("lea") as con:
        claims.reassign(con, routed, db.max, "cover while Liv is busy")  # type: ignore[attr-defined]
    assert rec.next(lambda n: n.lead_id == routed).event == "unassigned"
    # Online presence is recorded for routing's "offline too long" rule.
    assert db.one("SELECT last_seen_at FROM users WHERE id = %s",
                  (db.liv,)) is not None  # type: ignore[attr-defined]


def test_a_killed_connection_reconnects_with_backoff_and_catches_up(
        db: PoolDb, listener: tuple[LeadListener, Recorder]) -> None:
    lst, rec = listener
    kept_away = new_lead(db)
    rec.next(lambda n: n.lead_id == kept_away)
    first_pid = lst.backend_pid
    login = db.inst.login("liv")
    with db.su() as su:
        # Refuse new sessions for a while, so the outage is certain to span the
        # changes below, and retries really back off.
        su.execute(f'ALTER ROLE "{login}" NOLOGIN')
        try:
            assert su.execute("SELECT pg_terminate_backend(%s)", (first_pid,)).fetchone()[0]
            rec.state("disconnected")
            rec.state("disconnected")  # a failed reconnect attempt
            assert not lst.listening
            missed = new_lead(db)  # assigned while the listener is away
            with db.connect("lea") as con:
                claims.reassign(con, kept_away, db.max, None)  # type: ignore[attr-defined]
        finally:
            su.execute(f'ALTER ROLE "{login}" LOGIN')
    caught = rec.next(lambda n: n.lead_id == missed)
    assert (caught.event, caught.catch_up) == ("assigned", True)
    gone = rec.next(lambda n: n.lead_id == kept_away)
    assert (gone.event, gone.catch_up) == ("unassigned", True)
    assert rec.next(lambda n: n.event == "reconnected").catch_up
    assert lst.listening and lst.reconnects == 1 and lst.backend_pid != first_pid
    # And it is live again.
    after = new_lead(db)
    assert rec.next(lambda n: n.lead_id == after).catch_up is False


def test_a_login_that_is_no_leadqueue_user_is_refused_once(db: PoolDb) -> None:
    login = db.inst.login("ghost")
    with db.su() as su:
        su.execute(f'CREATE ROLE "{login}" LOGIN')
        su.execute(f'GRANT "{db.inst.prefix}rep" TO "{login}"')
    rec = Recorder()
    lst = LeadListener(db.inst.conninfo("ghost"), rec.notices.put, on_state=rec.states.put)
    lst.start()
    try:
        assert "not an active LeadQueue user" in rec.state("refused")
        assert rec.state("stopped")
    finally:
        lst.stop()
