"""The schedule of upcoming events for the signed-in person, countdown clocks,
and notification rows (pending, snoozed, seen), through the Workspace."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from engine_support import a_lead, doc, lead_id

from leadqueue.clock import FakeClock
from leadqueue.errors import ActionRefused
from leadqueue.loader import load_document
from leadqueue.schedule import EVENT_KINDS, LEVELS
from leadqueue.workspace import Workspace

T0 = datetime(2026, 3, 4, 15, 0, tzinfo=UTC)


def m(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.fixture
def team(local_engine):  # type: ignore[no-untyped-def]
    load_document(local_engine, doc(
        a_lead("HOT", T0, priority=1, acknowledged_at=m(1)),
        a_lead("CB", T0 - timedelta(days=1), first_action_at=T0 - timedelta(days=1),
               next_step="Call back as promised", next_step_kind="callback",
               next_step_at=m(120)),
        a_lead("STEP", T0 - timedelta(days=1), priority=3, first_action_at=T0 - timedelta(days=1),
               next_step="Send the case study", next_step_kind="email", next_step_at=m(180)),
        a_lead("LOW", T0 - timedelta(days=1), priority=4, first_action_at=T0 - timedelta(days=1),
               next_step="Check in", next_step_kind="email", next_step_at=m(60)),
        a_lead("SNOOZED", T0 - timedelta(days=1), first_action_at=T0 - timedelta(days=1),
               next_step="Call", next_step_kind="call", next_step_at=m(30),
               snoozed_until=m(90)),
        a_lead("BOBS", T0, priority=1, owner="bob@x.com"),
    ), now=T0)
    clock = FakeClock(T0)
    return lambda email: Workspace.open(local_engine, email, clock), clock


def test_upcoming_events_for_a_rep_sorted_by_time(team) -> None:  # type: ignore[no-untyped-def]
    open_as, _ = team
    events = open_as("ann@x.com").upcoming_events(timedelta(hours=6))
    got = [(e.at, e.lead_name, e.kind, e.level) for e in events]
    assert got == [
        (m(5), "HOT Lead", "sla_deadline", "urgent"),
        (m(35), "HOT Lead", "ladder_stage", "urgent"),
        (m(60), "LOW Lead", "step_due", "quiet"),
        (m(90), "SNOOZED Lead", "step_due", "normal"),  # back from snooze (its step was due)
        (m(120), "CB Lead", "callback", "normal"),
        (m(125), "HOT Lead", "ladder_stage", "urgent"),
        (m(180), "STEP Lead", "step_due", "normal"),
        (m(245), "HOT Lead", "ladder_stage", "urgent"),
    ]
    assert all(e.kind in EVENT_KINDS and e.level in LEVELS for e in events)
    assert events[0].title == "First response due: P1 HOT Lead"
    assert "Team lead will be told" in events[5].title
    # A shorter horizon, and only what is still ahead.
    assert [e.at for e in open_as("ann@x.com").upcoming_events(timedelta(minutes=60))] == [
        m(5), m(35), m(60)]


def test_the_team_lead_sees_the_moment_a_lead_escalates_to_them(team) -> None:  # type: ignore[no-untyped-def]
    open_as, _ = team
    events = open_as("tess@x.com").upcoming_events(timedelta(hours=3))
    assert [(e.at, e.lead_name, e.title) for e in events] == [
        (m(125), "BOBS Lead", "SLA breach: P1 BOBS Lead"),
        (m(125), "HOT Lead", "SLA breach: P1 HOT Lead"),
    ]


def test_events_move_with_the_clock_and_vanish_once_worked(team, local_engine) -> None:  # type: ignore[no-untyped-def]
    open_as, clock = team
    clock.set(m(10))
    ann = open_as("ann@x.com")
    assert ann.upcoming_events(timedelta(minutes=30))[0].at == m(35)
    from engine_support import touch

    touch(local_engine, "HOT", m(11), "call", outcome="connected")
    assert all(e.lead_name != "HOT Lead" for e in ann.upcoming_events(timedelta(hours=6)))


def test_sla_clocks_for_countdown_colours(team, local_engine) -> None:  # type: ignore[no-untyped-def]
    open_as, _ = team
    hot, cb = lead_id(local_engine, "HOT"), lead_id(local_engine, "CB")
    clocks = open_as("ann@x.com").sla_clocks([hot, cb])
    assert clocks[hot].deadline == m(5)
    assert [clocks[hot].stage(m(x)) for x in (0, 5, 34, 35, 125, 245)] == [0, 1, 1, 2, 3, 4]
    assert clocks[hot].next_change(m(6)) == m(35)
    assert clocks[cb].deadline is None and clocks[cb].stage(m(500)) == 0


def test_notifications_pending_snoozed_and_seen(team) -> None:  # type: ignore[no-untyped-def]
    open_as, clock = team
    clock.set(m(6))
    ann = open_as("ann@x.com")
    ann.run_rules()
    (note,) = ann.pending_notifications()
    assert (note.title, note.lead_name, note.level) == ("Due now: P1 HOT Lead", "HOT Lead",
                                                        "urgent")
    assert "First response is due" in (note.body or "")
    bob = open_as("bob@x.com")
    (bobs,) = bob.pending_notifications()
    with pytest.raises(ActionRefused):
        ann.snooze_notification(bobs.id, m(60))
    with pytest.raises(ActionRefused, match="future"):
        ann.snooze_notification(note.id, m(5))
    ann.snooze_notification(note.id, m(30))
    assert ann.pending_notifications() == ()
    assert ann.next_notification_at() == m(30)
    clock.set(m(30))
    assert [n.id for n in ann.pending_notifications()] == [note.id]
    ann.mark_notifications_seen([note.id, bobs.id])  # Bob's id is ignored
    assert ann.pending_notifications() == ()
    assert [n.id for n in bob.pending_notifications()] == [bobs.id]
    assert ann.next_notification_at() is None


def test_run_rules_in_the_app_is_the_engine(team) -> None:  # type: ignore[no-untyped-def]
    open_as, _ = team
    ann = open_as("ann@x.com")
    first = ann.run_rules(at=m(6))
    assert first.counts["sla_ladder:notify_owner"] == 2  # Ann's and Bob's P1 leads
    assert ann.run_rules(at=m(6)).total == 0


def test_events_and_notifications_carry_the_leads_priority(team) -> None:  # type: ignore[no-untyped-def]
    """The app's quiet-hours rule lets urgent P1 notes through by this
    priority, whether or not the lead is in the visible queue."""
    open_as, clock = team
    ann = open_as("ann@x.com")
    by_name = {(e.lead_name, e.kind): e.priority for e in ann.upcoming_events(timedelta(hours=6))}
    assert by_name[("HOT Lead", "sla_deadline")] == 1
    assert by_name[("HOT Lead", "ladder_stage")] == 1
    assert by_name[("LOW Lead", "step_due")] == 4
    assert by_name[("CB Lead", "callback")] == 2
    assert {e.priority for e in open_as("tess@x.com").upcoming_events(timedelta(hours=3))} == {1}
    clock.set(m(6))
    ann.run_rules()
    (note,) = ann.pending_notifications()
    assert (note.lead_name, note.priority) == ("HOT Lead", 1)


def test_quiet_hours_read_back_with_my_zone(team, local_engine) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import update

    from leadqueue.model import User

    open_as, _ = team
    ann = open_as("ann@x.com")
    with local_engine.begin() as con:
        con.execute(update(User).where(User.id == ann.me.id).values(timezone="Europe/Berlin"))
        con.execute(update(User).where(User.email == "bob@x.com").values(timezone=None))
    assert ann.quiet_hours() == (None, None, "Europe/Berlin")
    ann.set_quiet_hours("22:00", "07:00")
    # Read back by a new workspace (the app after a restart).
    assert open_as("ann@x.com").quiet_hours() == ("22:00", "07:00", "Europe/Berlin")
    assert open_as("bob@x.com").quiet_hours() == (None, None, None)
    ann.set_quiet_hours(None, None)
    assert open_as("ann@x.com").quiet_hours() == (None, None, "Europe/Berlin")
