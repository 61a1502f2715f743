"""``leadqueue worker --once --at``: exactly the expected decisions, then none
(idempotency), on a small store and on the demo store; usage errors."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from engine_support import a_lead, count, doc, notes

from leadqueue.cli import main
from leadqueue.loader import load_document
from leadqueue.model import AuditEntry, Notification, RuleFiring
from leadqueue.store import open_local_store

T0 = datetime(2026, 3, 4, 15, 0, tzinfo=UTC)


def worker(capsys: pytest.CaptureFixture[str], db: Path, at: datetime, *extra: str) -> str:
    code = main(["worker", "--db", str(db), "--once", "--at", at.isoformat(), "--show", "-1",
                 *extra])
    out = capsys.readouterr().out
    assert code == 0, out
    return out


def counts(out: str) -> dict[str, int]:
    return {k: int(v) for k, v in re.findall(r"^  ([a-z_:]+): (\d+)$", out, re.M)}


@pytest.fixture
def small_store(tmp_path: Path) -> Path:
    path = tmp_path / "small.db"
    engine = open_local_store(path)
    load_document(engine, doc(
        a_lead("BREACHED", T0 - timedelta(hours=3), acknowledged_at=T0 - timedelta(hours=3)),
        a_lead("UNOPENED", T0 - timedelta(minutes=20), priority=1),
        a_lead("WORKED", T0 - timedelta(days=1), first_action_at=T0 - timedelta(days=1),
               status="working", lead_class="early_stage"),
        a_lead("RECYCLE", T0 - timedelta(days=100), status="nurture",
               first_action_at=T0 - timedelta(days=99), recycle_at=T0 - timedelta(hours=1)),
        a_lead("P4", T0 - timedelta(days=1), priority=4, score=25),
    ), now=T0 - timedelta(days=1))
    engine.dispose()
    return path


def test_worker_once_applies_exactly_the_expected_decisions_then_none(
        small_store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = worker(capsys, small_store, T0)
    assert counts(out) == {
        # BREACHED (P2, due 2 h ago, opened): owner told, urgent, team lead: all
        # due at once, only the latest delivered.
        # UNOPENED (P1, 20 min): due at 5 min (recorded), to the backup at 15 min.
        "sla_ladder:notify_owner:recorded": 2,
        "sla_ladder:notify_owner_urgent:recorded": 1,
        "sla_ladder:notify_team_lead": 1,
        "ack_timeout:to_backup": 1,
        "lifecycle:recycled": 1,
        # Every owned active P1-P3 lead (RECYCLE enrols as it comes back).
        "cadence:enrolled": 4,
        "cadence:scheduled": 4,
        # Every lead scored once; P4's loaded score stands, its breakdown recorded.
        "score:updated": 4,
        "score:breakdown": 1,
    }
    assert "applied 19 decisions" in out
    assert "BREACHED Lead: notify team lead (Ann Rep)" in out
    engine = open_local_store(small_store)
    try:
        assert [n[:2] for n in notes(engine)] == [
            ("ann@x.com", "Moved to Bob Rep: UNOPENED Lead"),
            ("bob@x.com", "Reassigned to you: P1 UNOPENED Lead"),
            ("tess@x.com", "SLA breach: P2 BREACHED Lead"),
        ]
        before = (count(engine, RuleFiring), count(engine, AuditEntry),
                  count(engine, Notification))
    finally:
        engine.dispose()
    again = worker(capsys, small_store, T0)
    assert "applied 0 decisions" in again and counts(again) == {}
    engine = open_local_store(small_store)
    try:
        assert (count(engine, RuleFiring), count(engine, AuditEntry),
                count(engine, Notification)) == before
    finally:
        engine.dispose()


def test_dry_run_previews_without_writing(small_store: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    preview = worker(capsys, small_store, T0, "--dry-run")
    assert "would apply" in preview and counts(preview)["ack_timeout:to_backup"] == 1
    out = worker(capsys, small_store, T0)
    assert counts(out)["ack_timeout:to_backup"] == 1


def test_worker_on_the_demo_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from leadqueue.demo import write_demo_db

    path = tmp_path / "demo.db"
    write_demo_db(path, leads=400, seed=1, now=T0)
    at = T0 + timedelta(hours=2)
    expected = counts(worker(capsys, path, at, "--dry-run"))
    out = worker(capsys, path, at)
    applied = counts(out)
    escalations = {k: v for k, v in applied.items() if k.startswith(("sla_", "ack_"))}
    assert escalations and escalations == {k: v for k, v in expected.items()
                                           if k.startswith(("sla_", "ack_"))}
    assert "applied 0 decisions" in worker(capsys, path, at)
    engine = open_local_store(path)
    try:
        # One notification batch per delivered stage at most; nothing twice.
        delivered = sum(v for k, v in escalations.items() if not k.endswith(":recorded"))
        assert 0 < len(notes(engine)) <= 3 * delivered
        assert count(engine, RuleFiring) >= sum(escalations.values())
    finally:
        engine.dispose()


def test_usage_errors(tmp_path: Path, small_store: Path,
                      capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["worker", "--db", str(small_store), "--at", "2026-03-04T15:00:00Z"]) == 2
    assert "--once" in capsys.readouterr().err
    assert main(["worker", "--db", str(small_store), "--once", "--at", "soon"]) == 2
    assert "--at" in capsys.readouterr().err
    assert main(["worker", "--db", str(small_store), "--interval", "0"]) == 2
    assert main(["worker", "--db", str(tmp_path / "missing.db"), "--once"]) == 2
    assert "no LeadQueue database" in capsys.readouterr().err
    assert not (tmp_path / "missing.db").exists()


@pytest.mark.slow
def test_a_worker_killed_mid_pass_loses_nothing_and_repeats_nothing(tmp_path: Path) -> None:
    import signal
    import sqlite3
    import subprocess
    import sys
    import time

    n = 4000
    path = tmp_path / "big.db"
    engine = open_local_store(path)
    load_document(engine, doc(*[
        a_lead(f"L{i:05d}", T0 - timedelta(hours=3), acknowledged_at=T0 - timedelta(hours=3),
               owner=("ann@x.com", "bob@x.com")[i % 2]) for i in range(n)]),
        now=T0 - timedelta(days=1))
    engine.dispose()
    cmd = [sys.executable, "-m", "leadqueue.cli", "worker", "--db", str(path), "--once",
           "--at", T0.isoformat(), "--show", "0"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    con = sqlite3.connect(path)
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if con.execute("SELECT count(*) FROM rule_firings").fetchone()[0] > 0:
                    break
            except sqlite3.OperationalError:
                pass
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        partial = con.execute("SELECT count(*) FROM rule_firings").fetchone()[0]
    finally:
        con.close()
    assert 0 < partial < 3 * n, "the kill should land mid-pass"
    subprocess.run(cmd, check=True, capture_output=True, timeout=120)
    con = sqlite3.connect(path)
    try:
        # Every lead: three ladder stages fired once, the team lead told once.
        per_lead = Counter(k.split(":")[1] for (k,) in con.execute(
            "SELECT key FROM rule_firings WHERE key LIKE 'sla:%'"))
        assert len(per_lead) == n and set(per_lead.values()) == {3}
        told = con.execute("SELECT count(*), count(DISTINCT lead_id) FROM notifications "
                           "WHERE title LIKE 'SLA breach%'").fetchone()
        assert told == (n, n)
        audits = con.execute("SELECT count(*) FROM audit_log WHERE rule = 'sla_ladder'").fetchone()
        assert audits == (3 * n,)
    finally:
        con.close()
