"""The rule engine on PostgreSQL: two workers running at the same moment apply
every decision exactly once (rows locked with SKIP LOCKED, firing keys
unique), in threads with small batches and as two ``leadqueue worker``
processes."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from engine_support import a_lead, doc
from sqlalchemy import func, select, text

from leadqueue.engine import run_pass
from leadqueue.loader import load_document
from leadqueue.model import AuditEntry, CadenceEnrollment, Notification, RuleFiring
from leadqueue.store import make_engine, upgrade

pytestmark = pytest.mark.pg

T0 = datetime(2026, 3, 4, 15, 0, tzinfo=UTC)
N = 300


def _leads(n: int) -> list[dict]:  # type: ignore[type-arg]
    out = []
    for i in range(n):
        created = T0 - timedelta(minutes=20 + (i % 7) * 45)
        out.append(a_lead(f"L{i:04d}", created, priority=1 + i % 3,
                          owner=("ann@x.com", "bob@x.com", "cy@x.com")[i % 3],
                          acknowledged_at=created if i % 2 else None))
    return out


@pytest.fixture
def pg_store(pg_server_url: str):  # type: ignore[no-untyped-def]
    """A fresh, migrated database with N leads at various SLA stages."""
    import psycopg

    name = f"lq_engine_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_server_url, autocommit=True) as con:
        con.execute(f'CREATE DATABASE "{name}"')
    url = f"{pg_server_url.rsplit('/', 1)[0]}/{name}"
    engine = make_engine(url)
    try:
        upgrade(engine)
        load_document(engine, doc(*_leads(N)), now=T0 - timedelta(days=1))
        yield url, engine
    finally:
        engine.dispose()
        with psycopg.connect(pg_server_url, autocommit=True) as con:
            con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _state(engine) -> dict[str, object]:  # type: ignore[no-untyped-def]
    with engine.connect() as con:
        dup_audit = con.execute(text(
            "SELECT count(*) FROM (SELECT entity_id, rule, reason FROM audit_log "
            "GROUP BY entity_id, rule, reason HAVING count(*) > 1) d")).scalar()
        per_lead = con.execute(select(CadenceEnrollment.lead_id, func.count())
                               .group_by(CadenceEnrollment.lead_id)).all()
        return {
            "firings": con.execute(select(func.count()).select_from(RuleFiring)).scalar(),
            "audit": con.execute(select(func.count()).select_from(AuditEntry)).scalar(),
            "notes": con.execute(select(func.count()).select_from(Notification)).scalar(),
            "dup_audit": dup_audit,
            "max_enrollments": max((c for _, c in per_lead), default=0),
            "enrolled": len(per_lead),
        }


def _expected(engine, at: datetime) -> Counter[str]:  # type: ignore[no-untyped-def]
    return Counter(run_pass(engine, at, dry_run=True).counts)


def test_two_workers_in_threads_apply_each_decision_once(pg_store) -> None:  # type: ignore[no-untyped-def]
    url, engine = pg_store
    at = T0 + timedelta(hours=3)
    expected = _expected(engine, at)
    assert expected["sla_ladder:notify_team_lead"] > 0 and expected["ack_timeout:to_pool"] > 0
    barrier = threading.Barrier(2)
    results: list[Counter[str]] = []
    errors: list[BaseException] = []

    def work() -> None:
        own = make_engine(url)
        try:
            barrier.wait()
            results.append(Counter(run_pass(own, at, batch_size=7).counts))
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            own.dispose()

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    a, b = results
    escalation = {k for k in expected if k.startswith(("sla_", "ack_"))}
    assert {k: a[k] + b[k] for k in escalation} == {k: expected[k] for k in escalation}
    # The preview cannot see the escalation pass's hand-overs: leads it sends
    # to the pool are not enrolled (nobody owns them).
    to_pool = sum(v for k, v in expected.items() if k.endswith(":to_pool"))
    assert a["cadence:enrolled"] + b["cadence:enrolled"] == N - to_pool
    state = _state(engine)
    assert state["dup_audit"] == 0 and state["max_enrollments"] == 1
    assert state["audit"] == sum(a.values()) + sum(b.values()) + _extra_audits(engine)
    assert run_pass(engine, at).total == 0


def _extra_audits(engine) -> int:  # type: ignore[no-untyped-def]
    """Audit entries beyond one per summary line: a cadence that runs out writes
    two (no-response, then nurture) for its one line. (A reply or a meeting
    also writes a second entry; this data has no activities.)"""
    with engine.connect() as con:
        return int(con.execute(text(
            "SELECT count(*) FROM audit_log WHERE rule IN ('lifecycle_nurture')")).scalar() or 0)


def test_two_worker_processes_at_once(pg_store) -> None:  # type: ignore[no-untyped-def]
    url, engine = pg_store
    at = T0 + timedelta(hours=5)
    expected = _expected(engine, at)
    cmd = [sys.executable, "-m", "leadqueue.cli", "worker", "--db", url, "--once", "--at",
           at.isoformat(), "--show", "0"]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    for p, (_out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err
    totals = [int(re.search(r"applied (\d+) decision", out).group(1))  # type: ignore[union-attr]
              for out, _ in outs]
    escalation = sum(v for k, v in expected.items() if k.startswith(("sla_", "ack_")))
    got = Counter()  # type: ignore[var-annotated]
    for text_out, _ in outs:
        for k, v in re.findall(r"^  ([a-z_:]+): (\d+)$", text_out, re.M):
            got[k] += int(v)
    assert sum(v for k, v in got.items() if k.startswith(("sla_", "ack_"))) == escalation
    assert sum(totals) == sum(got.values())
    state = _state(engine)
    assert state["dup_audit"] == 0 and state["max_enrollments"] == 1
    assert run_pass(engine, at).total == 0


def test_the_worker_does_the_shared_duties_on_an_installed_database(
        pg_server_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    """On a database set up by ``admin init``, run by an admin's own login
    (row-level security applies to it, unlike a superuser), one worker pass
    processes the intake table, routes the new leads, and the rules enrol and
    escalate them."""
    from pool_support import PoolDb

    from leadqueue.cli import main
    from leadqueue.shared.intake import submit

    db = PoolDb(pg_server_url)
    try:
        ann = db.login("ann", daily_capacity=1000)
        db.login("wanda", role="admin")
        db.rule("Everything", "round_robin", target_team="Alpha")
        for i in range(60):  # enough for the bulk paths (COPY, temp-table updates)
            submit(db.engine, {"first_name": f"Wendy{i}", "last_name": "Web", "country": "US",
                               "email": f"wendy{i}@example.com"}, received_at=T0,
                   source_system="web")
        worker = db.url_of("wanda")
        assert main(["worker", "--db", worker, "--once", "--at", T0.isoformat()]) == 0
        out = capsys.readouterr().out
        assert out.startswith("intake: 60 items")
        assert "cadence:enrolled: 60" in out
        assert db.one("SELECT count(*) FROM leads WHERE owner_id = %s", (ann,)) == 60
        later = (T0 + timedelta(hours=30)).isoformat()
        assert main(["worker", "--db", worker, "--once", "--at", later]) == 0
        out = capsys.readouterr().out
        assert re.search(r"sla_ladder:to_pool: 60|ack_timeout:to_pool: 60", out), out
        for at in (T0.isoformat(), later):
            assert main(["worker", "--db", worker, "--once", "--at", at]) == 0
            assert "applied 0 decisions" in capsys.readouterr().out
        assert db.one("SELECT count(*) FROM audit_log WHERE rule = 'cadence_enroll'") == 60
    finally:
        db.close()


def test_a_taken_key_drops_the_plan_on_postgresql(pg_store, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from leadqueue import engine as rule_engine

    _, engine = pg_store
    at = T0 + timedelta(hours=1)
    first = run_pass(engine, at)
    before = _state(engine)
    real = rule_engine._fired

    def stale(session, ids):  # type: ignore[no-untyped-def]
        """As if read before another worker fired the stages (hand-overs stay
        visible: their effect is in the lead rows read now)."""
        return {lid: {k: v for k, v in keys.items() if k.startswith("handover:")}
                for lid, keys in real(session, ids).items()}

    monkeypatch.setattr(rule_engine, "_fired", stale)
    again = run_pass(engine, at)
    escalations = sum(v for k, v in first.counts.items() if k.startswith(("sla_", "ack_")))
    assert escalations > 0 and again.total == 0 and again.skipped > 0
    assert _state(engine) == before
