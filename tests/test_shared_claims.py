"""Claims from the pool on the real server, as real rep login roles:
one server round trip, order, leases per team, release and expiry by rule,
fencing by epoch, the exclusion constraint, 50 concurrent claimers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from pool_support import PoolDb, add_pool

from leadqueue.cli import main
from leadqueue.ids import uuid7
from leadqueue.shared import claims
from leadqueue.shared.claims import LeaseLost, NotAllowed

pytestmark = pytest.mark.pg


@pytest.fixture(scope="module")
def db(pg_server_url: str) -> Iterator[PoolDb]:
    pool = PoolDb(pg_server_url)
    try:
        yield pool
    finally:
        pool.close()


@pytest.fixture(autouse=True)
def real_time(db: PoolDb) -> Iterator[None]:
    yield
    db.set_now(None)


class Spy:
    """A DB-API connection that records every statement sent through it."""

    def __init__(self, con: psycopg.Connection) -> None:  # type: ignore[type-arg]
        self.con = con
        self.statements: list[str] = []

    def cursor(self) -> Spy:
        self._cur = self.con.cursor()
        return self

    def execute(self, sql: str, params: object = ()) -> None:
        self.statements.append(sql)
        self._cur.execute(sql, params)  # type: ignore[arg-type]

    def __getattr__(self, name: str) -> object:
        target = self._cur if name in ("fetchall", "description", "close") else self.con
        return getattr(target, name)


def test_claim_takes_the_best_lead_by_priority_deadline_score_age(db: PoolDb) -> None:
    db.login("ora", team="Order")
    now = datetime.now(UTC)
    late = add_pool(db, "Order", 1, priority=2, created_at=now - timedelta(days=2))
    scored = add_pool(db, "Order", 1, priority=2, score=40, created_at=now)
    urgent = add_pool(db, "Order", 1, priority=2, sla_due_at=now + timedelta(minutes=5))
    p1 = add_pool(db, "Order", 1, priority=1, created_at=now)
    old = add_pool(db, "Order", 1, priority=2, score=40, created_at=now - timedelta(days=1))
    add_pool(db, "Other", 3, priority=1)  # another team's pool is never touched
    with db.connect("ora", autocommit=False) as con:
        got = [claims.claim_next(con) for _ in range(6)]
    assert [c.lead_id if c else None for c in got] == [
        *p1, *urgent, *old, *scored, *late, None]


def test_a_claim_is_one_round_trip_and_sets_owner_lease_and_epoch(db: PoolDb) -> None:
    me = db.login("cal", team="Calls")
    db.update("teams", db.team("Calls"), lease_minutes=7)
    lead = add_pool(db, "Calls", 1)[0]
    with db.connect("cal") as con:  # autocommit: no BEGIN/COMMIT round trips around it
        con.execute("LISTEN " + json.dumps(db.one("SELECT lq_rep_channel(%s)", (me,))))
        spy = Spy(con)
        claim = claims.claim_next(spy)
        statements = spy.statements
        heard = list(con.notifies(timeout=2, stop_after=1))
    assert statements == ["SELECT lead_id, epoch, leased_at, expires_at FROM lq_claim_next()"]
    assert claim is not None and claim.lead_id == lead
    assert claim.expires_at - claim.leased_at == timedelta(minutes=7)
    owner, assigned = db.q("SELECT owner_id, assigned_at FROM leads WHERE id = %s", (lead,))[0]
    assert owner == me and assigned == claim.leased_at
    assert db.q("SELECT holder_id, epoch, released_at FROM lead_leases WHERE lead_id = %s",
                (lead,)) == [(me, claim.epoch, None)]
    assert json.loads(heard[0].payload) == {"lead_id": str(lead), "event": "claimed"}


def test_renew_release_and_claim_again(db: PoolDb) -> None:
    db.login("ren", team="Renew")
    db.login("rex", team="Renew")
    lead = add_pool(db, "Renew", 1)[0]
    t0 = datetime.now(UTC).replace(microsecond=0)
    db.set_now(t0)
    with db.connect("ren", autocommit=False) as ren, db.connect("rex", autocommit=False) as rex:
        first = claims.claim_next(ren)
        assert first is not None and claims.claim_next(rex) is None
        db.set_now(t0 + timedelta(minutes=20))
        until = claims.renew(ren, lead, first.epoch)
        assert until == t0 + timedelta(minutes=50)
        assert claims.release(ren, lead) == first.epoch
        assert db.one("SELECT owner_id FROM leads WHERE id = %s", (lead,)) is None
        second = claims.claim_next(rex)
        assert second is not None and second.lead_id == lead and second.epoch > first.epoch
        with pytest.raises(LeaseLost):
            claims.release(ren, lead)  # ren holds nothing now
    leases = db.q("SELECT epoch, released_at FROM lead_leases WHERE lead_id = %s ORDER BY epoch",
                  (lead,))
    assert leases == [(first.epoch, t0 + timedelta(minutes=20)), (second.epoch, None)]


def test_stale_epoch_writes_are_refused(db: PoolDb) -> None:
    db.login("sam", team="Stale")
    tom = db.login("tom", team="Stale")
    lead = add_pool(db, "Stale", 1)[0]
    t0 = datetime.now(UTC).replace(microsecond=0)
    db.set_now(t0)
    with db.connect("sam", autocommit=False) as sam, db.connect("tom", autocommit=False) as tom_c:
        old = claims.claim_next(sam)
        assert old is not None
        db.set_now(t0 + timedelta(minutes=31))
        # Expired but not yet taken: the old epoch can no longer extend it...
        with pytest.raises(LeaseLost, match="stale lease"):
            claims.renew(sam, lead, old.epoch)
        new = claims.claim_next(tom_c)
        assert new is not None and new.lead_id == lead
        # ...nor release it, nor write its status, now that it is someone else's.
        with pytest.raises(LeaseLost, match="stale lease"):
            claims.release(sam, lead, old.epoch)
        with pytest.raises(LeaseLost):
            claims.renew(sam, lead, old.epoch)
        with pytest.raises(NotAllowed):
            claims.set_status(sam, lead, "working", old.epoch)
        # Nor can the stale holder take the lead back by writing it directly.
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            sam.execute("UPDATE leads SET owner_id = lq_me() WHERE id = %s", (lead,))
        sam.rollback()
        # The current holder's epoch works.
        claims.set_status(tom_c, lead, "working", new.epoch)
    assert db.q("SELECT owner_id, status FROM leads WHERE id = %s", (lead,)) == [
        (tom, "working")]


def test_overlapping_leases_are_impossible_in_the_database(db: PoolDb) -> None:
    uma = db.login("uma", team="Excl")
    vic = db.login("vic", team="Excl")
    lead = add_pool(db, "Excl", 1)[0]
    with db.connect("uma", autocommit=False) as con:
        claim = claims.claim_next(con)
    assert claim is not None
    with db.su() as su, pytest.raises(psycopg.errors.ExclusionViolation,
                                      match="lead_leases_no_overlap"):
        su.execute("INSERT INTO lead_leases (id, lead_id, holder_id, epoch, leased_at, "
                   "expires_at, travel) VALUES (%s, %s, %s, nextval('lq_lease_epoch'), %s, %s, "
                   "false)", (uuid7(), lead, vic, claim.leased_at + timedelta(minutes=1),
                              claim.expires_at + timedelta(minutes=5)))
    # Back to back (the old one released first) is fine.
    with db.su() as su:
        su.execute("UPDATE lead_leases SET released_at = %s WHERE lead_id = %s",
                   (claim.leased_at + timedelta(minutes=2), lead))
        su.execute("INSERT INTO lead_leases (id, lead_id, holder_id, epoch, leased_at, "
                   "expires_at, travel) VALUES (%s, %s, %s, nextval('lq_lease_epoch'), %s, %s, "
                   "false)", (uuid7(), lead, vic, claim.leased_at + timedelta(minutes=2),
                              claim.expires_at + timedelta(minutes=5)))
    assert uma


KILLED_CLAIMER = """
import sys, time
import psycopg
from leadqueue.shared.claims import claim_next
con = psycopg.connect(sys.argv[1])
claim = claim_next(con)
print(claim.lead_id, flush=True)
time.sleep(600)
"""


def test_a_killed_claimers_lease_expires_and_the_lead_is_claimable_again(db: PoolDb) -> None:
    db.login("kim", team="Kill")
    leo = db.login("leo", team="Kill")
    lead = add_pool(db, "Kill", 1)[0]
    proc = subprocess.Popen([sys.executable, "-c", KILLED_CLAIMER, db.conninfo("kim")],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == str(lead)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()
    with db.connect("leo", autocommit=False) as con:
        assert claims.claim_next(con) is None  # still leased to the dead claimer
        db.set_now(datetime.now(UTC) + timedelta(minutes=31))
        again = claims.claim_next(con)
    assert again is not None and again.lead_id == lead
    assert db.one("SELECT owner_id FROM leads WHERE id = %s", (lead,)) == leo
    assert db.one("SELECT count(*) FROM audit_log WHERE entity_id = %s "
                  "AND rule = 'lease_expiry'", (lead,)) == 1


def test_the_worker_expiry_returns_only_leads_nobody_acted_on(db: PoolDb) -> None:
    db.login("wes", team="Expire")
    worked, idle = add_pool(db, "Expire", 2)
    with db.connect("wes", autocommit=False) as con:
        a, b = claims.claim_next(con), claims.claim_next(con)
    assert {a.lead_id, b.lead_id} == {worked, idle}  # type: ignore[union-attr]
    db.q("UPDATE leads SET first_action_at = now() WHERE id = %s", (worked,))
    db.set_now(datetime.now(UTC) + timedelta(hours=1))
    with db.su() as con:
        assert claims.expire_leases(con) >= 1
    owners = dict(db.q("SELECT id, owner_id FROM leads WHERE id IN (%s, %s)", (worked, idle)))
    assert owners[idle] is None and owners[worked] is not None


@pytest.mark.parametrize("path", ["worker", "claim"])
def test_expiry_ends_the_lease_of_a_closed_lead_and_leaves_it_with_its_holder(
        db: PoolDb, path: str) -> None:
    """A claimed lead closed without a first action (disqualified, a meeting
    booked) is not an active, never-worked lead: its lease just ends; only the
    untouched one returns to the pool (by the worker, or by a claim that finds
    the pool empty)."""
    team = f"Closing-{path}"
    cal = db.login(f"cal{path}", team=team)
    db.login(f"cora{path}", team=team)
    leads = set(add_pool(db, team, 3))
    with db.connect(f"cal{path}", autocommit=False) as con:
        got = [claims.claim_next(con) for _ in range(3)]
        assert {c.lead_id for c in got if c} == leads
        dq, met, idle = got
        claims.set_status(con, dq.lead_id, "disqualified", dq.epoch)  # type: ignore[union-attr]
        claims.set_status(con, met.lead_id, "meeting", met.epoch)  # type: ignore[union-attr]
    assert db.one("SELECT count(*) FROM leads WHERE id = ANY(%s) "
                  "AND first_action_at IS NULL", (list(leads),)) == 3
    db.set_now(datetime.now(UTC) + timedelta(minutes=31))
    if path == "worker":
        with db.su() as con:
            assert claims.expire_leases(con) >= 1  # (other tests' leases expire too)
    else:
        with db.connect(f"cora{path}", autocommit=False) as con:
            again = claims.claim_next(con)
        assert again is not None and again.lead_id == idle.lead_id  # type: ignore[union-attr]
    rows = {r[0]: r[1:] for r in db.q(
        "SELECT id, owner_id, status FROM leads WHERE id = ANY(%s)", (list(leads),))}
    assert rows[dq.lead_id] == (cal, "disqualified")  # type: ignore[union-attr]
    assert rows[met.lead_id] == (cal, "meeting")  # type: ignore[union-attr]
    assert rows[idle.lead_id][0] != cal  # type: ignore[union-attr]
    # Every one of Cal's leases ended; only the untouched lead was audited as returned.
    assert db.one("SELECT count(*) FROM lead_leases WHERE lead_id = ANY(%s) AND holder_id = %s "
                  "AND released_at IS NULL", (list(leads), cal)) == 0
    assert [r[0] for r in db.q("SELECT entity_id FROM audit_log WHERE rule = 'lease_expiry' "
                               "AND entity_id = ANY(%s)", (list(leads),))] == [idle.lead_id]  # type: ignore[union-attr]


@pytest.mark.slow
def test_50_concurrent_claimers_claim_500_leads_each_exactly_once(db: PoolDb) -> None:
    names = [f"c{i:02d}" for i in range(50)]
    ids = {n: db.login(n, team="Crowd") for n in names}
    leads = set(add_pool(db, "Crowd", 500))
    got: dict[str, list[uuid.UUID]] = {n: [] for n in names}
    errors: list[BaseException] = []
    start = threading.Barrier(len(names))

    def claimer(name: str) -> None:
        try:
            with db.connect(name, autocommit=False) as con:
                start.wait(60)
                while (claim := claims.claim_next(con)) is not None:
                    got[name].append(claim.lead_id)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=claimer, args=(n,)) for n in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join(180)
    assert not errors, errors[:3]
    claimed = [lead for ls in got.values() for lead in ls]
    assert len(claimed) == 500 and set(claimed) == leads  # each exactly once
    owners = dict(db.q("SELECT id, owner_id FROM leads WHERE team_id = %s",
                       (db.team("Crowd"),)))
    for name, mine in got.items():
        assert all(owners[lead] == ids[name] for lead in mine)
    per_lead = Counter(r[0] for r in db.q(
        "SELECT lead_id FROM lead_leases WHERE lead_id = ANY(%s)", (list(leads),)))
    assert set(per_lead.values()) == {1} and len(per_lead) == 500
    assert sum(1 for ls in got.values() if ls) > 1  # really concurrent, not one winner


def test_cli_claim_and_release(db: PoolDb, capsys: pytest.CaptureFixture[str]) -> None:
    db.login("cli", team="Cli")
    lead = add_pool(db, "Cli", 1)[0]
    url = db.url_of("cli")
    assert main(["claim", "--db", url, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)["claimed"]
    assert doc["id"] == str(lead) and doc["epoch"] > 0 and "lease_expires_at" in doc
    assert main(["claim", "--db", url, "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"claimed": None}
    assert main(["claim", "--db", url]) == 0
    assert "pool is empty" in capsys.readouterr().out
    assert main(["release", "--db", url, str(lead)]) == 0
    assert "Released lead" in capsys.readouterr().out
    assert main(["release", "--db", url, str(lead)]) == 1
    assert "no lease" in capsys.readouterr().err
    assert main(["claim", "--db", url]) == 0
    assert "Claimed P0 Cli" in capsys.readouterr().out
    assert main(["release", "--db", url, "nope"]) == 2
    capsys.readouterr()


def test_a_user_without_a_lq_user_row_cannot_claim(db: PoolDb) -> None:
    login = db.inst.login("stranger")
    with db.su() as su:
        su.execute(f'CREATE ROLE "{login}" LOGIN')
        su.execute(f'GRANT "{db.inst.prefix}rep" TO "{login}"')
    with psycopg.connect(db.inst.conninfo("stranger")) as con, \
            pytest.raises(NotAllowed, match="not an active LeadQueue user"):
        claims.claim_next(con)


def test_who_holds_what_a_team_lead_sees_the_team_a_rep_their_own(db: PoolDb) -> None:
    ada = db.login("ada", team="Hold")
    db.login("ben", team="Hold")
    db.login("hal", team="Hold", role="team_lead")
    db.login("oth", team="Elsewhere")
    add_pool(db, "Hold", 2)
    add_pool(db, "Elsewhere", 1)
    for who in ("ada", "ben", "oth"):
        with db.connect(who) as con:
            assert claims.claim_next(con) is not None
    with db.connect("hal") as con:
        board = claims.active_leases(con)
    assert sorted(v.holder_name for v in board) == ["Ada", "Ben"]
    with db.connect("ada") as con:
        mine = claims.active_leases(con)
    assert [v.holder_id for v in mine] == [ada]
