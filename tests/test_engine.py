"""The rule engine on a local store, driven by a fake clock: escalations fire
once with notifications and audit entries, ack hand-overs, cadences in the
lead's local time, pause on reply, lifecycle and recycle, scoring thresholds,
idempotency and a batch that dies half-way."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from engine_support import (
    a_lead,
    audit_rules,
    count,
    doc,
    enrollments,
    firings,
    lead_row,
    notes,
    touch,
    user_id,
)
from sqlalchemy import update

from leadqueue import engine as rule_engine
from leadqueue.engine import run_pass
from leadqueue.enums import EnrollmentStatus, LeadStatus, NextStepKind, NoResponseReason
from leadqueue.loader import load_document
from leadqueue.model import AuditEntry, Lead, Notification, RuleFiring

T0 = datetime(2026, 3, 4, 15, 0, tzinfo=UTC)  # Wednesday 10:00 in New York


def m(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.fixture
def store(local_engine):  # type: ignore[no-untyped-def]
    def load(*leads, activities=None):  # type: ignore[no-untyped-def]
        load_document(local_engine, doc(*leads, activities=activities), now=T0)
        return local_engine
    return load


def kinds(summary) -> dict[str, int]:  # type: ignore[no-untyped-def]
    return {k: v for k, v in summary.counts.items() if not k.startswith(("cadence", "score"))}


# --------------------------------------------------------------------------- escalation


def test_every_ladder_stage_fires_once_with_its_notifications(store) -> None:  # type: ignore[no-untyped-def]
    eng = store(a_lead("L1", T0, acknowledged_at=m(1)))  # opened, not worked: no ack timeout
    applied = []
    for minute in range(0, 301, 5):
        s = run_pass(eng, m(minute))
        applied += [(minute, k) for k in kinds(s)]
    assert applied == [(60, "sla_ladder:notify_owner"), (90, "sla_ladder:notify_owner_urgent"),
                       (180, "sla_ladder:notify_team_lead"), (300, "sla_ladder:to_backup")]
    assert notes(eng) == [
        ("ann@x.com", "Due now: P2 L1 Lead", m(60)),
        ("ann@x.com", "Overdue: P2 L1 Lead", m(90)),
        ("tess@x.com", "SLA breach: P2 L1 Lead", m(180)),
        ("ann@x.com", "Moved to Bob Rep: L1 Lead", m(300)),
        ("bob@x.com", "Reassigned to you: P2 L1 Lead", m(300)),
    ]
    lead = lead_row(eng, "L1")
    assert lead.owner_id == user_id(eng, "bob@x.com") and lead.assigned_at == m(300)
    assert lead.acknowledged_at is None  # Bob has not opened it yet
    ladder = audit_rules(eng, "sla_ladder")
    assert len(ladder) == 4 and "handed to the backup rep Bob Rep" in ladder[-1][1]
    assert all(delivered for _, delivered in firings(eng))
    # The hand-over is a new assignment: Bob's own ladder (its first stage
    # covered by the hand-over notice) and his own ack timeout, which sends
    # the lead to the pool when he does not open it (his backup was used).
    later = [(minute, k) for minute in range(305, 8 * 60, 5)
             for k in kinds(run_pass(eng, m(minute)))]
    assert later == [(330, "ack_timeout:to_pool")]
    assert lead_row(eng, "L1").owner_id is None


def test_catch_up_after_downtime(store) -> None:  # type: ignore[no-untyped-def]
    eng = store(a_lead("L1", T0, acknowledged_at=m(1)))
    run_pass(eng, m(61))
    s = run_pass(eng, m(6 * 60))  # the worker was down for five hours
    assert kinds(s) == {"sla_ladder:notify_owner_urgent:recorded": 1,
                        "sla_ladder:notify_team_lead:recorded": 1, "sla_ladder:to_backup": 1}
    delivered = [d for k, d in firings(eng) if k.startswith("sla:")]
    assert delivered == [True, False, False, True]
    # Only the latest stage told anyone.
    assert [(who, title) for who, title, at in notes(eng) if at == m(360)] == [
        ("ann@x.com", "Moved to Bob Rep: L1 Lead"), ("bob@x.com", "Reassigned to you: P2 L1 Lead")]
    assert sum("recorded, not delivered" in r for _, r in audit_rules(eng, "sla_ladder")) == 2
    assert kinds(run_pass(eng, m(6 * 60))) == {}


def test_ack_timeouts_to_the_backup_then_the_pool(store) -> None:  # type: ignore[no-untyped-def]
    eng = store(a_lead("P1", T0, priority=1),
                a_lead("NOBACKUP", T0, priority=1, owner="bob@x.com"),
                a_lead("AWAY", T0, priority=1, owner="cy@x.com"))
    assert kinds(run_pass(eng, m(6))) == {"sla_ladder:notify_owner": 3}
    assert kinds(run_pass(eng, m(16))) == {"ack_timeout:to_backup": 1, "ack_timeout:to_pool": 2}
    p1 = lead_row(eng, "P1")
    assert p1.owner_id == user_id(eng, "bob@x.com") and p1.assigned_at == T0
    assert lead_row(eng, "NOBACKUP").owner_id is None  # Bob has no backup: the pool
    assert lead_row(eng, "AWAY").owner_id is None  # Cy's backup is unavailable
    assert kinds(run_pass(eng, m(25))) == {}
    assert kinds(run_pass(eng, m(31))) == {"ack_timeout:to_pool": 1}
    assert lead_row(eng, "P1").owner_id is None
    assert ("bob@x.com", "Reassigned to you: P1 P1 Lead", m(16)) in notes(eng)
    assert ("tess@x.com", "In the pool, not yet worked: P1 P1 Lead", m(31)) in notes(eng)


def test_a_pass_is_idempotent(store) -> None:  # type: ignore[no-untyped-def]
    eng = store(a_lead("A", T0, priority=1), a_lead("B", T0 - timedelta(days=2), priority=3))
    first = run_pass(eng, m(45))
    assert first.total > 0
    before = (count(eng, RuleFiring), count(eng, AuditEntry), count(eng, Notification))
    assert run_pass(eng, m(45)).total == 0
    assert (count(eng, RuleFiring), count(eng, AuditEntry), count(eng, Notification)) == before


def test_a_batch_that_dies_half_way_is_redone_once(store, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    eng = store(*[a_lead(f"L{i}", T0, acknowledged_at=m(1)) for i in range(5)])
    real = rule_engine._update_many

    def boom(session, table, *args, **kwargs):  # type: ignore[no-untyped-def]
        if table is rule_engine.L and any(args[0].values()):
            raise RuntimeError("killed")
        return real(session, table, *args, **kwargs)

    run_pass(eng, m(1))  # enrolment and scoring done before the trouble
    monkeypatch.setattr(rule_engine, "_update_many", boom)
    with pytest.raises(RuntimeError, match="killed"):
        run_pass(eng, m(301))
    assert count(eng, RuleFiring) == 0 and notes(eng) == []
    monkeypatch.setattr(rule_engine, "_update_many", real)
    s = run_pass(eng, m(301))
    assert s.counts["sla_ladder:to_backup"] == 5
    assert len(notes(eng, "bob@x.com")) == 5 and count(eng, RuleFiring) == 5 * 4 + 5


def test_dry_run_changes_nothing(store) -> None:  # type: ignore[no-untyped-def]
    eng = store(a_lead("A", T0, priority=1))
    preview = run_pass(eng, m(45), dry_run=True)
    assert preview.dry_run and preview.counts["ack_timeout:to_pool"] == 1
    assert count(eng, RuleFiring) == 0 and count(eng, AuditEntry) == 0
    assert "would apply" in preview.report()


# --------------------------------------------------------------------------- cadences


def _steps_due(eng, ext):  # type: ignore[no-untyped-def]
    row = lead_row(eng, ext)
    return row.next_step, row.next_step_kind, row.next_step_at


def test_cadence_steps_in_the_leads_zone_across_a_weekend_and_dst(store) -> None:  # type: ignore[no-untyped-def]
    friday = datetime(2026, 3, 6, 20, 0, tzinfo=UTC)  # Friday 15:00 EST
    eng = store(a_lead("NY", friday, first_action_at=friday))
    s = run_pass(eng, friday)
    assert s.counts["cadence:enrolled"] == 1
    assert _steps_due(eng, "NY") == ("Email — cadence step 1: Day 1 intro email",
                                     NextStepKind.EMAIL, friday)
    due = []
    at = friday
    for kind in ("email", "call", "email", "call", "email", "social"):
        at += timedelta(minutes=10)
        touch(eng, "NY", at, kind)
        run_pass(eng, at + timedelta(minutes=1))
        due.append(_steps_due(eng, "NY")[2])
    # Day 1 call: today, already past 08:00 local, so due since enrolment;
    # day 2 = Saturday -> Monday
    # 08:00 EDT (clocks went forward on Sunday) = 12:00 UTC; day 4 = Monday; day 7 =
    # Thursday; day 10 = Sunday -> Monday; day 14 = Thursday.
    assert due == [friday,
                   datetime(2026, 3, 9, 12, 0, tzinfo=UTC),
                   datetime(2026, 3, 9, 12, 0, tzinfo=UTC),
                   datetime(2026, 3, 12, 12, 0, tzinfo=UTC),
                   datetime(2026, 3, 16, 12, 0, tzinfo=UTC),
                   datetime(2026, 3, 19, 12, 0, tzinfo=UTC)]
    # The break-up email finishes the cadence without a response.
    last = datetime(2026, 3, 19, 13, 0, tzinfo=UTC)
    touch(eng, "NY", last, "email")
    s = run_pass(eng, last + timedelta(minutes=1))
    assert s.counts["cadence:exhausted"] == 1 and s.counts["lifecycle:no_response"] == 1
    lead = lead_row(eng, "NY")
    assert lead.status == LeadStatus.NURTURE
    assert lead.no_response_reason == NoResponseReason.CADENCE_EXHAUSTED
    assert lead.recycle_at == last + timedelta(minutes=1) + timedelta(days=90)
    assert [r for r, _ in audit_rules(eng, "lifecycle")] == ["lifecycle_no_response",
                                                              "lifecycle_nurture"]
    (enr,) = enrollments(eng, "NY")
    assert (enr.status, enr.end_reason) == (EnrollmentStatus.COMPLETED, "exhausted")
    assert run_pass(eng, last + timedelta(minutes=1)).total == 0


def test_two_touches_between_passes_complete_two_steps(store) -> None:  # type: ignore[no-untyped-def]
    eng = store(a_lead("A", T0, first_action_at=T0))
    run_pass(eng, T0)
    touch(eng, "A", m(5), "email")
    touch(eng, "A", m(9), "call", outcome="no_answer")
    s = run_pass(eng, m(10))
    assert s.counts["cadence:step_done"] == 2
    assert enrollments(eng, "A")[0].current_step == 3
    assert _steps_due(eng, "A")[0] == "Email — cadence step 3: Day 2 resource email"


@pytest.mark.parametrize(("kind", "direction", "outcome", "status", "end"), [
    ("email", "inbound", None, LeadStatus.WORKING, "replied"),
    ("call", "outbound", "meeting_booked", LeadStatus.MEETING, "meeting_booked"),
])
def test_a_reply_or_a_meeting_ends_the_enrollment(store, kind, direction, outcome, status,  # type: ignore[no-untyped-def]
                                                  end) -> None:
    eng = store(a_lead("A", T0, first_action_at=T0, status="working"))
    run_pass(eng, T0)
    touch(eng, "A", m(30), kind, direction, outcome)
    s = run_pass(eng, m(31))
    assert s.counts[f"cadence:{end}"] == 1
    (enr,) = enrollments(eng, "A")
    assert (enr.status, enr.end_reason) == (EnrollmentStatus.STOPPED, end)
    lead = lead_row(eng, "A")
    assert lead.status == status
    if end == "replied":
        assert (lead.next_step, lead.next_step_at) == ("Answer the reply", m(31))
    assert s.counts["score:updated"] == 1  # a reply (+15) or a meeting (+30) rescored
    assert run_pass(eng, m(40)).total == 0


def test_a_promised_callback_is_not_overwritten_by_the_cadence(store) -> None:  # type: ignore[no-untyped-def]
    eng = store(a_lead("A", T0, first_action_at=T0, next_step="Call back after lunch",
                       next_step_kind="callback", next_step_at=m(120)))
    run_pass(eng, T0)
    assert _steps_due(eng, "A") == ("Call back after lunch", NextStepKind.CALLBACK, m(120))
    assert enrollments(eng, "A")[0].step_scheduled_at is None
    touch(eng, "A", m(121), "call", outcome="connected")
    clear_next_step(eng, "A")  # the app clears the step the touch did
    run_pass(eng, m(122))
    assert _steps_due(eng, "A")[1] == NextStepKind.EMAIL  # step 1 follows the callback


def clear_next_step(eng, ext: str) -> None:  # type: ignore[no-untyped-def]
    with eng.begin() as con:
        con.execute(update(Lead).where(Lead.external_id == ext).values(
            next_step=None, next_step_kind=None, next_step_at=None))


def test_leaving_the_active_statuses_stops_the_enrollment(store) -> None:  # type: ignore[no-untyped-def]
    eng = store(a_lead("A", T0, first_action_at=T0))
    run_pass(eng, T0)
    with eng.begin() as con:
        con.execute(update(Lead).where(Lead.external_id == "A").values(
            status=LeadStatus.DISQUALIFIED, updated_at=m(5)))
    s = run_pass(eng, m(6))
    assert s.counts["cadence:stopped"] == 1
    assert enrollments(eng, "A")[0].end_reason == "status disqualified"


def test_recycle_brings_a_nurture_lead_back_with_a_new_cadence(store) -> None:  # type: ignore[no-untyped-def]
    eng = store(a_lead("R", T0 - timedelta(days=120), status="nurture", recycle_at=m(-1),
                       first_action_at=T0 - timedelta(days=119),
                       no_response_reason="cadence_exhausted"))
    s = run_pass(eng, T0)
    assert s.counts["lifecycle:recycled"] == 1 and s.counts["cadence:enrolled"] == 1
    lead = lead_row(eng, "R")
    assert (lead.status, lead.recycle_at, lead.no_response_reason) == (LeadStatus.WORKING,
                                                                        None, None)
    assert lead.next_step.startswith("Email — cadence step 1")
    (enr,) = enrollments(eng, "R")
    assert enr.enrolled_at == T0 and enr.status == EnrollmentStatus.ACTIVE
    assert run_pass(eng, T0).total == 0


# --------------------------------------------------------------------------- scoring


def _score(eng, ext):  # type: ignore[no-untyped-def]
    row = lead_row(eng, ext)
    return row.score, [(b["rule"], b["points"]) for b in row.score_breakdown], row.priority


def test_promotion_needs_three_touches_and_happens_once(store) -> None:  # type: ignore[no-untyped-def]
    eng = store(a_lead("HOT", T0, lead_class="high_intent", phone="+12125550123",
                       first_action_at=T0))
    run_pass(eng, T0)
    assert _score(eng, "HOT") == (60, [("class:high_intent", 50), ("verified_phone", 10)], 2)
    touch(eng, "HOT", m(1), "email")
    touch(eng, "HOT", m(2), "call", outcome="connected")
    run_pass(eng, m(3))
    assert _score(eng, "HOT")[2] == 2  # 60 points but only two touches
    touch(eng, "HOT", m(4), "email")
    s = run_pass(eng, m(5))
    assert s.counts["score:promoted"] == 1
    assert _score(eng, "HOT")[2] == 1
    assert "after three touches" in audit_rules(eng, "scoring_promote")[0][1]


def test_park_below_twenty_only_after_three_touches(store) -> None:  # type: ignore[no-untyped-def]
    eng = store(a_lead("COLD", T0, lead_class="poor_fit", first_action_at=T0))
    run_pass(eng, T0)
    assert _score(eng, "COLD")[0] == 10  # below 20 but nobody has tried yet: kept
    assert lead_row(eng, "COLD").status == LeadStatus.NEW
    for i in range(3):
        touch(eng, "COLD", m(10 + i), "email")
    s = run_pass(eng, m(20))
    assert s.counts["score:parked"] == 1
    lead = lead_row(eng, "COLD")
    assert lead.status == LeadStatus.NURTURE and lead.recycle_at == m(20) + timedelta(days=90)
    assert _score(eng, "COLD")[:2] == (0, [("class:poor_fit", 10),
                                           ("no_open_after_3_touches", -10)])
    assert enrollments(eng, "COLD")[0].end_reason == "parked"


def test_a_loaded_score_stands_until_a_rule_changes_it(store) -> None:  # type: ignore[no-untyped-def]
    eng = store(a_lead("LOADED", T0, score=70, phone="+12125550123", first_action_at=T0))
    run_pass(eng, T0)
    assert _score(eng, "LOADED")[:2] == (70, [("loaded_score", 70), ("verified_phone", 0)])
    touch(eng, "LOADED", m(5), "email", "inbound")
    run_pass(eng, m(6))
    assert _score(eng, "LOADED")[:2] == (85, [("loaded_score", 70), ("reply", 15),
                                              ("verified_phone", 0)])


def test_a_plan_whose_key_is_already_taken_is_dropped_whole(store, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The unique firing keys are the last line against a second worker: a
    plan built on a stale read is dropped with everything it would have done."""
    eng = store(a_lead("A", T0, acknowledged_at=m(1)), a_lead("B", T0, acknowledged_at=m(1)))
    run_pass(eng, m(61))
    assert len(notes(eng)) == 2
    monkeypatch.setattr(rule_engine, "_fired", lambda session, ids: {})  # a stale read
    s = run_pass(eng, m(62))
    assert s.total == 0 and s.skipped == 2
    assert len(notes(eng)) == 2 and count(eng, RuleFiring) == 2
