"""The team board and reassignment on a local store (``leadqueue.board``
through the Workspace): who sees what, SLA breaches now, availability as
routing sees it, claims held, and the reassignment rule the core enforces
here (PostgreSQL enforces it on the shared database: test_shared_app.py)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from conftest import T0
from test_gui_support import write_small_store

from leadqueue.clock import FakeClock
from leadqueue.errors import ActionRefused
from leadqueue.workspace import Workspace


@pytest.fixture
def store(tmp_path: Path):  # type: ignore[no-untyped-def]
    from leadqueue.store import open_local_store

    ids = write_small_store(tmp_path / "s.db", T0)
    engine = open_local_store(tmp_path / "s.db")
    yield engine, ids
    engine.dispose()


def ws_of(engine, email: str, at=T0) -> Workspace:  # type: ignore[no-untyped-def]
    return Workspace.open(engine, email, FakeClock(at))


def owner_of(engine, lead_id):  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from leadqueue.model import Lead

    with engine.connect() as conn:
        return conn.execute(select(Lead.owner_id, Lead.team_id, Lead.assigned_at,
                                   Lead.acknowledged_at).where(Lead.id == lead_id)).one()


def test_a_team_lead_sees_their_team_with_breaches_now(store) -> None:  # type: ignore[no-untyped-def]
    engine, ids = store
    # Ten minutes on: Ada's P1 (2 min old at T0, 5-min target) and Bob's P1 are late.
    board = ws_of(engine, "lea@example.com", T0 + timedelta(minutes=10)).team_board()
    assert board.scope == "team" and board.team_name == "East"
    by_name = {r.name: r for r in board.reps}
    assert set(by_name) == {"Ada Rep", "Bob Rep"}  # not Cy (West), not the lead herself
    assert (by_name["Ada Rep"].queue_size, by_name["Bob Rep"].queue_size) == (6, 1)
    assert (by_name["Ada Rep"].breaches, by_name["Bob Rep"].breaches) == (1, 1)
    assert all(r.available and r.unavailable is None for r in board.reps)
    late = [lead for lead in board.leads if lead.breached]
    assert {lead.id for lead in late} == {ids["L1"], ids["B1"]}
    assert board.leads[0].breached  # breached first: what a supervisor acts on
    assert {p.name for p in board.targets} == {"Ada Rep", "Bob Rep", "Lea Lead"}
    assert board.pool_size == 0
    # At T0 nothing is late yet: the same rule as the countdowns.
    assert sum(r.breaches for r in ws_of(engine, "lea@example.com").team_board().reps) == 0


def test_availability_and_claims_held_show(store) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import update

    from leadqueue.model import Lead, LeadLease, User
    from leadqueue.store import session_scope

    engine, ids = store
    ada = ws_of(engine, "ada@example.com").me
    with session_scope(engine) as s:
        s.execute(update(User).where(User.email == "bob@example.com").values(available=False))
        s.execute(update(Lead).where(Lead.id == ids["L3"]).values(owner_id=None))
        s.add(LeadLease(lead_id=ids["L2"], holder_id=ada.id, epoch=7, leased_at=T0,
                        expires_at=T0 + timedelta(minutes=30)))
        s.add(LeadLease(lead_id=ids["L4"], holder_id=ada.id, epoch=8,  # ran out: not held
                        leased_at=T0 - timedelta(hours=1), expires_at=T0 - timedelta(minutes=1)))
    board = ws_of(engine, "lea@example.com").team_board()
    by_name = {r.name: r for r in board.reps}
    assert by_name["Bob Rep"].unavailable == "marked unavailable"
    assert [h.lead_id for h in by_name["Ada Rep"].held] == [ids["L2"]]
    assert by_name["Ada Rep"].held[0].expires_at == T0 + timedelta(minutes=30)
    assert board.pool_size == 1
    assert [lead.id for lead in board.leads_of(None)] == [ids["L3"]]
    held = {lead.id: lead.held_until for lead in board.leads}
    assert held[ids["L2"]] == T0 + timedelta(minutes=30) and held[ids["L4"]] is None


def test_reps_do_not_get_the_board_and_admins_see_every_team(store) -> None:  # type: ignore[no-untyped-def]
    engine, _ids = store
    with pytest.raises(ActionRefused, match="team leads and admins"):
        ws_of(engine, "ada@example.com").team_board()
    board = ws_of(engine, "admin@example.com").team_board()
    assert board.scope == "all"
    assert {r.name for r in board.reps} == {"Ada Rep", "Bob Rep", "Cy Rep"}


def test_a_team_lead_reassigns_one_or_many_or_back_to_the_pool(store) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import func, select

    from leadqueue.model import AuditEntry, LeadLease
    from leadqueue.store import session_scope

    engine, ids = store
    lea = ws_of(engine, "lea@example.com", T0 + timedelta(minutes=3))
    bob = ws_of(engine, "bob@example.com").me
    ada = ws_of(engine, "ada@example.com").me
    with session_scope(engine) as s:  # Ada holds L2 under a claim: a move ends it
        s.add(LeadLease(lead_id=ids["L2"], holder_id=ada.id, epoch=3, leased_at=T0,
                        expires_at=T0 + timedelta(minutes=30)))
    assert lea.reassign([ids["L1"], ids["L2"]], bob.id, "Ada is out today") == 2
    for key in ("L1", "L2"):
        owner, team, assigned, acked = owner_of(engine, ids[key])
        assert owner == bob.id and assigned == T0 + timedelta(minutes=3) and acked is None
    with engine.connect() as conn:
        assert conn.scalar(select(LeadLease.released_at).where(
            LeadLease.lead_id == ids["L2"])) == T0 + timedelta(minutes=3)
        audits = conn.execute(select(AuditEntry.reason, AuditEntry.change).where(
            AuditEntry.rule == "reassign")).all()
    assert len(audits) == 2 and audits[0].reason == "Ada is out today"
    assert audits[0].change["owner_id"] == [str(ada.id), str(bob.id)]
    # Back to the pool: no owner, the team stays.
    assert lea.reassign([ids["L3"]], None, None) == 1
    owner, team, assigned, _acked = owner_of(engine, ids["L3"])
    assert owner is None and assigned is None and team is not None
    assert lea.team_board().pool_size == 1
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.rule == "reassign")) == 3


def test_the_core_refuses_what_a_team_lead_may_not_do_and_changes_nothing(store) -> None:  # type: ignore[no-untyped-def]
    engine, ids = store
    lea = ws_of(engine, "lea@example.com")
    cy = ws_of(engine, "cy@example.com").me
    before = owner_of(engine, ids["L1"])
    with pytest.raises(ActionRefused, match="not in your team"):
        lea.reassign([ids["L1"], ids["L2"]], cy.id, None)
    assert owner_of(engine, ids["L1"]) == before
    with pytest.raises(ActionRefused, match="Only a team lead"):
        ws_of(engine, "ada@example.com").reassign([ids["B1"]], None, None)
    with pytest.raises(ActionRefused, match="at least one"):
        lea.reassign([], None, None)
    # An admin may move a lead to another team's rep: the lead follows the rep's team.
    admin = ws_of(engine, "admin@example.com")
    assert admin.reassign([ids["L1"]], cy.id, "territory") == 1
    owner, team, _a, _k = owner_of(engine, ids["L1"])
    assert owner == cy.id and team == cy.team_id
    # ... and then Lea (East) may not take it back: it is West's lead now.
    with pytest.raises(ActionRefused, match="not a lead of your team"):
        lea.reassign([ids["L1"]], None, None)


def test_assignment_notice_says_who_and_why(store) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import update

    from leadqueue.model import Lead
    from leadqueue.store import session_scope

    engine, ids = store
    with session_scope(engine) as s:
        s.execute(update(Lead).where(Lead.id == ids["L1"]).values(
            routing_explanation={"summary": "rule 'Web P1': to Ada Rep, round-robin in East"}))
    ada = ws_of(engine, "ada@example.com")
    note = ada.assignment_notice(ids["L1"], "assigned")
    assert note is not None and note.name == "Priya Shah" and note.priority == 1
    assert note.why == "P1 · routed: rule 'Web P1': to Ada Rep, round-robin in East"
    assert "reassigned to you" in ada.assignment_notice(ids["L2"], "reassigned").why
    import uuid

    assert ada.assignment_notice(uuid.uuid4(), "assigned") is None


def test_a_reassignment_on_a_local_store_tells_the_new_owner_why(store) -> None:  # type: ignore[no-untyped-def]
    engine, ids = store
    lea = ws_of(engine, "lea@example.com")
    bob = ws_of(engine, "bob@example.com")
    assert lea.reassign([ids["L2"]], bob.me.id, "  Ada is out today ") == 1
    note = bob.assignment_notice(ids["L2"], "reassigned")
    assert note is not None and note.why.endswith("reassigned to you by Lea Lead: Ada is out today")
    assert bob.assignment_notice(ids["L2"], "assigned").why == note.why  # type: ignore[union-attr]
    # The preview shows it to whoever looks at the lead.
    from ui.preview import PreviewData, render_html

    detail = bob.lead(ids["L2"])
    assert detail.assignment_why == "reassigned to Bob Rep by Lea Lead: Ada is out today"
    assert "reassigned to Bob Rep by Lea Lead: Ada is out today" in render_html(
        PreviewData(detail), T0)  # type: ignore[arg-type]
    assert lea.reassign([ids["L3"]], bob.me.id, None) == 1
    assert bob.assignment_notice(ids["L3"], "reassigned").why.endswith(  # type: ignore[union-attr]
        "reassigned to you by Lea Lead")


def test_the_team_queue_merges_the_reps_ranked_queues(store) -> None:  # type: ignore[no-untyped-def]
    from leadqueue.model import SlaPolicy
    from leadqueue.store import session_scope

    engine, ids = store
    lead_ws = ws_of(engine, "lea@example.com")
    team = lead_ws.team_queue()
    ada, bob = ws_of(engine, "ada@example.com"), ws_of(engine, "bob@example.com")
    expected: set[object] = set()
    for rep in (ada, bob):
        q = rep.ranked_queue()
        expected |= {r.id for r in (*q.callable, *q.later, *q.upcoming)}
    assert {r.id for r in team.rows} == expected  # East only: not Cy's West leads
    assert team.owners[ids["L1"]] == "Ada Rep" and team.owners[ids["B1"]] == "Bob Rep"
    assert [r.priority for r in team.rows] == sorted(r.priority for r in team.rows)
    # The SLA deadline is the ranking's: a team override of the P1 target shows.
    with session_scope(engine) as s:
        s.add(SlaPolicy(team_id=lead_ws.me.team_id, priority=1, first_response_minutes=45))
    row = next(r for r in lead_ws.team_queue().rows if r.id == ids["L1"])
    assert row.sla_due_at == ada.lead(ids["L1"]).created_at + timedelta(minutes=45)
    with pytest.raises(ActionRefused):
        ada.team_queue()
