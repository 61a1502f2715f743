"""Test data for the GUI tests: a small store written with the ORM.

Used until (and beside) ``leadqueue.demo``: the shapes here are hand-picked so
a test knows exactly which lead comes first.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path


def write_small_store(path: Path, now: datetime) -> dict[str, object]:
    """Two teams, three reps, a team lead and an admin; rep 1 has 6 active leads."""
    from leadqueue.enums import ActivityKind, CallOutcome, LeadClass, LeadStatus, NextStepKind, Role
    from leadqueue.model import Activity, Lead, Team, User
    from leadqueue.store import open_local_store, session_scope

    engine = open_local_store(path)
    ids: dict[str, object] = {}
    with session_scope(engine) as s:
        east = Team(name="East", timezone="America/New_York")
        west = Team(name="West", timezone="America/Los_Angeles")
        s.add_all([east, west])
        s.flush()
        ada = User(email="ada@example.com", name="Ada Rep", role=Role.REP, team_id=east.id)
        bob = User(email="bob@example.com", name="Bob Rep", role=Role.REP, team_id=east.id)
        cy = User(email="cy@example.com", name="Cy Rep", role=Role.REP, team_id=west.id)
        lea = User(email="lea@example.com", name="Lea Lead", role=Role.TEAM_LEAD,
                   team_id=east.id)
        adm = User(email="admin@example.com", name="Al Admin", role=Role.ADMIN)
        s.add_all([ada, bob, cy, lea, adm])
        s.flush()
        specs = [
            # external_id, first, last, company, priority, minutes ago, first action?, tz
            ("L1", "Priya", "Shah", "Northwind Ltd", 1, 2, False, "America/New_York"),
            ("L2", "Jonas", "Becker", "Brandt GmbH", 2, 30, False, "Europe/Berlin"),
            ("L3", "Olivia", "Wong", "Harbour Pty", 3, 600, True, "Australia/Sydney"),
            ("L4", "Tom", "Hughes", "Kestrel plc", 2, 1500, True, "Europe/London"),
            ("L5", "Maria", "Lopez", "Sunset Foods", 3, 3000, True, "America/Los_Angeles"),
            ("L6", "Sam", "Odd", "Broken Data Inc", 4, 100, False, "Mars/Olympus"),
        ]
        for ext, first, last, company, prio, ago, acted, tz in specs:
            created = now - timedelta(minutes=ago)
            lead = Lead(
                external_id=ext, first_name=first, last_name=last, company=company,
                title="Head of Operations", email=f"{first.lower()}@{ext.lower()}.example",
                phone="+12125550100" if ext != "L6" else "call me maybe",
                source="web_form" if prio <= 2 else "webinar", owner_id=ada.id,
                team_id=east.id, priority=prio, lead_class=LeadClass.HIGH_INTENT,
                status=LeadStatus.WORKING if acted else LeadStatus.NEW,
                created_at=created, assigned_at=created,
                first_action_at=created + timedelta(minutes=5) if acted else None,
                last_action_at=created + timedelta(minutes=5) if acted else None,
                next_step="Call back" if acted else "First call",
                next_step_kind=NextStepKind.CALL,
                next_step_at=now - timedelta(minutes=10) if acted else created,
                attempts=1 if acted else 0, score=40 + prio,
                score_breakdown=[{"rule": "verified phone", "points": 10},
                                 {"rule": "reply", "points": 15}],
                timezone=tz, country="US",
                data_issues=["phone_unparseable", "timezone_unknown"] if ext == "L6" else [],
            )
            s.add(lead)
            s.flush()
            ids[ext] = lead.id
            if acted:
                s.add(Activity(lead_id=lead.id, kind=ActivityKind.CALL,
                               outcome=CallOutcome.VOICEMAIL, at=created + timedelta(minutes=5),
                               author_id=ada.id, duration_s=42, body="Left a voicemail",
                               created_at=created + timedelta(minutes=5)))
        other = Lead(external_id="B1", first_name="Bea", last_name="Other", company="Elsewhere",
                     owner_id=bob.id, team_id=east.id, priority=1, created_at=now,
                     status=LeadStatus.NEW, timezone="America/New_York")
        s.add(other)
        s.flush()
        ids["B1"] = other.id
    engine.dispose()
    return ids


def test_small_store_gives_ada_six_active_leads(tmp_path: Path) -> None:
    """The GUI tests' data is what they assume (their expectations rest on it)."""
    from datetime import UTC

    from leadqueue.clock import FakeClock
    from leadqueue.store import open_local_store
    from leadqueue.workspace import Workspace

    now = datetime(2026, 3, 4, 15, 0, tzinfo=UTC)
    ids = write_small_store(tmp_path / "s.db", now)
    engine = open_local_store(tmp_path / "s.db")
    try:
        ws = Workspace.open(engine, "ada@example.com", FakeClock(now))
        ranked = ws.ranked_queue()
        shown = {r.id for r in (*ranked.callable, *ranked.later, *ranked.upcoming)}
        assert shown == {ids[k] for k in ("L1", "L2", "L3", "L4", "L5", "L6")}
    finally:
        engine.dispose()
