"""The app's core on the shared database, as real login roles: the team board
under row-level security, reassignment through ``lq_reassign`` (PostgreSQL
decides who may), status changes a rep makes through the workspace (the
fenced ``lq_set_status``, with the lease epoch of a claimed lead), and claim
renewal."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from pool_support import PoolDb, add_pool

from leadqueue.errors import ActionRefused
from leadqueue.shared import claims
from leadqueue.store import make_engine
from leadqueue.workspace import Workspace

pytestmark = pytest.mark.pg


@pytest.fixture(scope="module")
def db(pg_server_url: str) -> Iterator[PoolDb]:
    pool = PoolDb(pg_server_url)
    try:
        pool.ids = {  # type: ignore[attr-defined]
            "ann": pool.login("ann", team="North"), "bo": pool.login("bo", team="North"),
            "tl": pool.login("tl", team="North", role="team_lead"),
            "sid": pool.login("sid", team="South"),
            "tls": pool.login("tls", team="South", role="team_lead"),
        }
        yield pool
    finally:
        pool.close()


@pytest.fixture
def open_ws(db: PoolDb) -> Iterator:  # type: ignore[type-arg]
    engines = []

    def opener(short: str) -> Workspace:
        engine = make_engine(db.url_of(short))
        engines.append(engine)
        return Workspace.open(engine)

    yield opener
    for engine in engines:
        engine.dispose()


def give(db: PoolDb, team: str, to: str | None, n: int = 1, **cols: object) -> list[uuid.UUID]:
    """``n`` pool leads of ``team``, handed to ``to`` by the superuser (None: left in the pool)."""
    ids = add_pool(db, team, n, **cols)
    if to is not None:
        db.q("UPDATE leads SET owner_id = %s, assigned_at = now() WHERE id = ANY(%s)",
             (db.ids[to], ids))  # type: ignore[attr-defined]
    return ids


def owner(db: PoolDb, lead_id: uuid.UUID) -> uuid.UUID | None:
    return db.one("SELECT owner_id FROM leads WHERE id = %s", (lead_id,))


def test_the_board_of_a_team_lead_is_their_team_only(db: PoolDb, open_ws) -> None:  # type: ignore[no-untyped-def]
    anns = give(db, "North", "ann", 2, priority=1,
                created_at=datetime.now(UTC) - timedelta(hours=2))
    give(db, "South", "sid", 3)
    pool = give(db, "North", None, 1)
    with db.connect("bo") as con:
        claim = claims.claim_next(con)
    assert claim is not None and claim.lead_id == pool[0]
    board = open_ws("tl").team_board()
    by_name = {r.name: r for r in board.reps}
    assert set(by_name) == {"Ann", "Bo"}  # RLS: no South rep, no South lead
    assert by_name["Ann"].queue_size >= 2 and by_name["Ann"].breaches >= 2
    assert [h.lead_id for h in by_name["Bo"].held] == [pool[0]]
    assert all(lead.team_id == db.team("North") for lead in board.leads)
    assert {anns[0], anns[1], pool[0]} <= {lead.id for lead in board.leads}
    with pytest.raises(ActionRefused, match="team leads and admins"):
        open_ws("ann").team_board()


def test_reassignment_is_decided_by_postgresql(db: PoolDb, open_ws) -> None:  # type: ignore[no-untyped-def]
    a, b, c = give(db, "North", "ann", 3)
    tl = open_ws("tl")
    assert tl.reassign([a, b], db.ids["bo"], "Ann is out") == 2  # type: ignore[attr-defined]
    assert owner(db, a) == owner(db, b) == db.ids["bo"]  # type: ignore[attr-defined]
    assert db.one("SELECT count(*) FROM audit_log WHERE rule = 'reassign' AND entity_id = ANY(%s) "
                  "AND actor_id = %s AND reason = 'Ann is out'",
                  ([a, b], db.ids["tl"])) == 2  # type: ignore[attr-defined]
    assert tl.reassign([c], None, None) == 1
    assert owner(db, c) is None
    # A rep may not; a team lead not across teams; a bulk move is all or nothing.
    with pytest.raises(ActionRefused, match="only the team lead"):
        open_ws("ann").reassign([a], db.ids["ann"], None)  # type: ignore[attr-defined]
    sids = give(db, "South", "sid", 1)
    with pytest.raises(ActionRefused, match="Nothing was changed"):
        tl.reassign([a, sids[0]], db.ids["ann"], None)  # type: ignore[attr-defined]
    assert owner(db, a) == db.ids["bo"]  # type: ignore[attr-defined]
    with pytest.raises(ActionRefused, match="within their own team"):
        tl.reassign([a], db.ids["sid"], None)  # type: ignore[attr-defined]


def test_a_rep_changes_status_through_the_fenced_server_function(db: PoolDb, open_ws) -> None:  # type: ignore[no-untyped-def]
    mine = give(db, "North", "ann", 1)[0]
    ann = open_ws("ann")
    result = ann.log_call(mine, "no_answer")  # new -> working: a protected column
    assert result.status == "working"
    assert db.one("SELECT status FROM leads WHERE id = %s", (mine,)) == "working"
    ann.set_status(mine, "nurture")
    assert db.one("SELECT status FROM leads WHERE id = %s", (mine,)) == "nurture"
    assert db.one("SELECT count(*) FROM activities WHERE lead_id = %s", (mine,)) >= 1

    # A claimed lead: the write carries the lease's epoch ...
    pooled = give(db, "North", None, 1, priority=1)[0]
    row = ann.claim_next()
    assert row is not None and row.id == pooled
    ann.disqualify(pooled, "other", "not a real company")
    assert db.one("SELECT status FROM leads WHERE id = %s", (pooled,)) == "disqualified"
    # ... and once the lease ran out, the write is refused in words, nothing changed.
    pooled2 = give(db, "North", None, 1, priority=1)[0]
    assert ann.claim_next().id == pooled2  # type: ignore[union-attr]
    db.q("UPDATE lead_leases SET leased_at = now() - interval '2 hours', "
         "expires_at = now() - interval '1 hour' WHERE lead_id = %s", (pooled2,))
    with pytest.raises(ActionRefused, match="claim on this lead has run out"):
        ann.set_status(pooled2, "nurture")
    assert db.one("SELECT status FROM leads WHERE id = %s", (pooled2,)) == "new"


def test_a_claim_is_renewed_by_its_holder_only(db: PoolDb, open_ws) -> None:  # type: ignore[no-untyped-def]
    pooled = give(db, "North", None, 1, priority=1)[0]
    bo = open_ws("bo")
    # Pin the lease short, then renew: it runs the team's lease length from now.
    row = bo.claim_next()
    assert row is not None and row.id == pooled
    db.q("UPDATE lead_leases SET expires_at = leased_at + interval '1 minute' "
         "WHERE lead_id = %s AND released_at IS NULL", (pooled,))
    until = bo.renew_claim(pooled)
    assert until is not None and until > datetime.now(UTC) + timedelta(minutes=25)
    assert open_ws("ann").renew_claim(pooled) is None  # not hers: nothing to renew
    bo.release(pooled)
    assert owner(db, pooled) is None
    assert bo.renew_claim(pooled) is None


def test_assignment_notice_reads_the_routing_explanation(db: PoolDb, open_ws) -> None:  # type: ignore[no-untyped-def]
    lead = give(db, "North", "ann", 1, priority=2)[0]
    db.q("UPDATE leads SET routing_explanation = %s WHERE id = %s",
         ('{"summary": "rule \'web\': to Ann, round-robin in North"}', lead))
    note = open_ws("ann").assignment_notice(lead, "assigned")
    assert note is not None and note.why == "P2 · routed: rule 'web': to Ann, round-robin in North"
    assert open_ws("sid").assignment_notice(lead, "assigned") is None  # RLS: not visible


def test_the_new_owner_reads_why_a_lead_was_reassigned_to_them(db: PoolDb, open_ws) -> None:  # type: ignore[no-untyped-def]
    """The reason travels with the assignment on the lead (reps never read the
    audit log): the notice says who moved it and why, live or caught up."""
    import json

    # P1 due long ago: the first in North's pool once it is back there (below).
    lead, quiet = give(db, "North", "ann", 2, priority=1,
                       sla_due_at=datetime.now(UTC) - timedelta(days=1))
    db.q("UPDATE leads SET routing_explanation = %s WHERE id = %s",
         (json.dumps({"summary": "rule 'web': to Ann", "method": "round_robin"}), lead))
    tl = open_ws("tl")
    assert tl.reassign([lead], db.ids["bo"], "Ann is at a trade fair") == 1  # type: ignore[attr-defined]
    assert tl.reassign([quiet], db.ids["bo"], None) == 1  # type: ignore[attr-defined]
    bo = open_ws("bo")
    with pytest.raises(Exception, match="permission denied"), bo.engine.connect() as conn:
        conn.exec_driver_sql("SELECT * FROM audit_log").all()
    note = bo.assignment_notice(lead, "reassigned")
    assert note is not None
    assert note.why == "P1 · reassigned to you by Tl: Ann is at a trade fair"
    # Caught up after a reconnect ("assigned"): the same words, not "routed".
    assert bo.assignment_notice(lead, "assigned").why == note.why  # type: ignore[union-attr]
    assert bo.assignment_notice(quiet, "reassigned").why == "P1 · reassigned to you by Tl"  # type: ignore[union-attr]
    why = db.one("SELECT routing_explanation FROM leads WHERE id = %s", (lead,))
    assert {k: why[k] for k in ("method", "reason")} == {
        "method": "reassign", "reason": "Ann is at a trade fair"}
    assert why["by"] == {"id": str(db.ids["tl"]), "name": "Tl"}  # type: ignore[attr-defined]
    assert why["owner"]["id"] == str(db.ids["bo"])  # type: ignore[attr-defined]
    assert why["previous"]["summary"] == "rule 'web': to Ann"  # how it first came in stays
    # The preview says it too, in words that fit whoever looks (the team lead as well).
    assert bo.lead(lead).assignment_why == "reassigned to Bo by Tl: Ann is at a trade fair"
    assert tl.lead(lead).assignment_why == bo.lead(lead).assignment_why
    # A later move through the pool and a claim is not explained by the old reason.
    tl.reassign([lead], None, "back to the pool")
    with db.connect("ann") as con:
        assert claims.claim_next(con).lead_id == lead  # type: ignore[union-attr]
    ann = open_ws("ann")
    assert ann.assignment_notice(lead, "assigned").why == "P1 · assigned to you"  # type: ignore[union-attr]
    assert ann.lead(lead).assignment_why is None  # claimed since: the old reason no longer fits
