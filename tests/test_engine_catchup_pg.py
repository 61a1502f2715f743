"""The rule engine on PostgreSQL when another transaction holds a lead the pass
comes to: the pass skips it (SKIP LOCKED) and catches up on it at the end of
the same pass, waiting for the lock a bounded time; a lead still held after
that is left for the next pass, and the pass ends normally.

Two workers need this: each can hold, for one rule, a lead the other skips
for another rule, and without the catch-up neither would apply the second
rule in that pass."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from engine_support import a_lead, doc, lead_id, notes

from leadqueue import engine as rule_engine
from leadqueue.engine import run_pass
from leadqueue.loader import load_document
from leadqueue.store import make_engine, upgrade

pytestmark = pytest.mark.pg

T0 = datetime(2026, 3, 4, 15, 0, tzinfo=UTC)
AT = T0 + timedelta(minutes=61)  # a P2 lead opened at once: its deadline stage is due


@pytest.fixture
def pg_db(pg_server_url: str):  # type: ignore[no-untyped-def]
    name = f"lq_catchup_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_server_url, autocommit=True) as con:
        con.execute(f'CREATE DATABASE "{name}"')
    url = f"{pg_server_url.rsplit('/', 1)[0]}/{name}"
    engine = make_engine(url)
    try:
        upgrade(engine)
        load_document(engine, doc(*[a_lead(ext, T0, acknowledged_at=T0 + timedelta(minutes=1))
                                    for ext in ("A", "B", "C")]), now=T0)
        run_pass(engine, T0 + timedelta(minutes=2))  # enrolment and scoring done before
        yield url, engine
    finally:
        engine.dispose()
        with psycopg.connect(pg_server_url, autocommit=True) as con:
            con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _hold(url: str, lead: uuid.UUID) -> psycopg.Connection:  # type: ignore[type-arg]
    """Another transaction (a second worker's batch, a rep's edit) locking ``lead``."""
    con = psycopg.connect(url)
    con.execute("SELECT 1 FROM leads WHERE id = %s FOR UPDATE", (lead,))
    return con


def test_a_lead_held_while_the_pass_comes_to_it_is_caught_up_in_that_pass(
        pg_db, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    url, engine = pg_db
    monkeypatch.setattr(rule_engine, "LOCK_WAIT_MS", 30_000)  # a slow machine must not matter
    expected = run_pass(engine, AT, dry_run=True).counts
    assert expected == {"sla_ladder:notify_owner": 3}
    held = _hold(url, lead_id(engine, "B"))
    released = threading.Event()

    def progress(step: str) -> None:
        if step == "scoring":  # every other rule has come to B (and skipped it) by now
            def release() -> None:
                held.commit()
                released.set()
            threading.Timer(0.1, release).start()

    try:
        summary = run_pass(engine, AT, progress=progress)
    finally:
        released.wait(10)
        held.close()
    assert released.is_set()
    assert summary.counts == expected and summary.skipped == 0
    assert len(notes(engine)) == 3
    assert run_pass(engine, AT).total == 0


def test_a_lead_still_held_after_the_wait_is_left_for_the_next_pass(
        pg_db, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    url, engine = pg_db
    monkeypatch.setattr(rule_engine, "LOCK_WAIT_MS", 50)
    expected = run_pass(engine, AT, dry_run=True).counts
    held = _hold(url, lead_id(engine, "B"))
    try:
        first = run_pass(engine, AT)
    finally:
        held.commit()
        held.close()
    assert first.counts["sla_ladder:notify_owner"] == 2
    assert [title for _, title, _ in notes(engine)] == ["Due now: P2 A Lead", "Due now: P2 C Lead"]
    second = run_pass(engine, AT)
    assert second.counts["sla_ladder:notify_owner"] == 1
    assert Counter(first.counts) + Counter(second.counts) == Counter(expected)
    assert run_pass(engine, AT).total == 0
