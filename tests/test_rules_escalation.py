"""The escalation ladder and acknowledgement timeouts, driven minute by minute
by a fake clock: each stage fires once and only once, at the right time,
across nights, weekends, holidays and DST changes; catch-up after downtime;
hand-overs to the backup, then the pool."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta

import pytest

from leadqueue.rules.escalation import (
    DEFAULT_LADDER,
    EscalationPolicy,
    LeadTiming,
    handover_key,
    plan_escalation,
    sla_clock,
    sla_stage,
    with_firings,
)
from leadqueue.rules.sla import BusinessHours, SlaTarget

T0 = datetime(2026, 3, 4, 15, 0, tzinfo=UTC)  # a Wednesday
ANN, BOB, CY = uuid.UUID(int=1), uuid.UUID(int=2), uuid.UUID(int=3)


def lead(created: datetime = T0, priority: int = 2, owner: uuid.UUID | None = ANN,
         **kw: object) -> LeadTiming:
    return LeadTiming(uuid.UUID(int=99), priority, created, owner, kw.pop("assigned_at", created),
                      **kw)  # type: ignore[arg-type]


def policy(minutes: int | None = 60, hours: BusinessHours | None = None, ladder=DEFAULT_LADDER,
           ack: tuple[int | None, int | None] = (None, None)) -> EscalationPolicy:
    return EscalationPolicy(SlaTarget(2, minutes, hours), ladder, *ack)


def simulate(timing: LeadTiming, pol: EscalationPolicy, start: datetime, end: datetime,
             backups: dict[uuid.UUID, uuid.UUID | None] | None = None,
             step: timedelta = timedelta(minutes=1),
             ) -> list[tuple[datetime, str, uuid.UUID | None, bool]]:
    """A worker passing every ``step``: [(pass time, action, owner after, delivered)]."""
    fired: dict[str, datetime] = {}
    backups = backups or {}
    out = []
    now = start
    while now <= end:
        for st in plan_escalation(with_firings(timing, fired), pol, now, fired, backups):
            fired[st.decision.key] = now
            if st.to_backup and st.owner_after:
                fired[handover_key(timing.lead_id, st.owner_after, st.assigned_at_after)] = now
            label = st.decision.action
            if st.is_handover:
                label = "to_backup" if st.to_backup else "to_pool"
            out.append((now, label, st.owner_after, st.decision.deliver))
            if st.is_handover:
                timing = replace(timing, owner_id=st.owner_after,
                                 assigned_at=st.assigned_at_after, acknowledged_at=None)
        now += step
    return out


def m(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_each_default_ladder_stage_fires_once_at_its_time() -> None:
    fires = simulate(lead(), policy(), T0, m(8 * 60))
    assert fires == [
        (m(60), "notify_owner", ANN, True),
        (m(90), "notify_owner_urgent", ANN, True),
        (m(180), "notify_team_lead", ANN, True),
        (m(300), "to_pool", None, True),  # no backup: the team pool
    ]


def test_stages_are_keyed_per_assignment() -> None:
    fired: dict[str, datetime] = {}
    t = lead()
    first = plan_escalation(t, policy(), m(61), fired, {})
    assert [s.decision.action for s in first] == ["notify_owner"]
    fired[first[0].decision.key] = m(61)
    assert plan_escalation(t, policy(), m(62), fired, {}) == []
    # A team lead reassigns to Bob after the deadline: Bob's own ladder starts
    # at his assignment and tells him at once.
    bob = replace(t, owner_id=BOB, assigned_at=m(70))
    again = plan_escalation(bob, policy(), m(70), fired, {})
    assert [(s.decision.action, s.decision.due_at) for s in again] == [("notify_owner", m(70))]


def test_no_target_no_ladder_and_worked_or_pool_leads_do_not_escalate() -> None:
    assert simulate(lead(), policy(minutes=None, ladder=()), T0, m(600)) == []
    assert simulate(lead(first_action_at=m(3)), policy(), T0, m(600)) == []
    assert simulate(lead(owner=None), policy(), T0, m(600)) == []


def test_catch_up_after_downtime_records_each_missed_stage_and_delivers_the_latest() -> None:
    fired: dict[str, datetime] = {}
    t = lead()
    s1 = plan_escalation(t, policy(), m(61), fired, {ANN: BOB})
    fired.update({s.decision.key: m(61) for s in s1})
    # Down until six hours later: three stages are due at once.
    steps = plan_escalation(with_firings(t, fired), policy(), m(360), fired, {ANN: BOB})
    assert [(s.decision.action, s.decision.due_at, s.decision.deliver) for s in steps] == [
        ("notify_owner_urgent", m(90), False),
        ("notify_team_lead", m(180), False),
        ("reassign", m(300), True),
    ]
    assert "recorded, not delivered" in steps[0].decision.reason
    last = steps[-1]
    # The reassignment happens now (not back-dated) and covers Bob's first stage.
    assert (last.owner_after, last.assigned_at_after, last.to_backup) == (BOB, m(360), True)
    assert len({s.decision.key for s in steps}) == 3


def test_catch_up_when_the_worker_was_never_running() -> None:
    steps = plan_escalation(lead(), policy(), m(10 * 60), {}, {})
    assert [(s.decision.action, s.decision.deliver) for s in steps] == [
        ("notify_owner", False), ("notify_owner_urgent", False), ("notify_team_lead", False),
        ("reassign", True)]
    assert steps[-1].owner_after is None


# --------------------------------------------------------------------------- business hours

# Good Friday and Easter Monday are holidays.
BERLIN = BusinessHours("Europe/Berlin", frozenset({1, 2, 3, 4, 5}), time(9), time(17),
                       frozenset({date(2026, 4, 3), date(2026, 4, 6)}))


def test_ladder_pauses_over_night_weekend_and_holidays() -> None:
    created = datetime(2026, 4, 2, 14, 45, tzinfo=UTC)  # Thursday 16:45 in Berlin (CEST)
    fires = simulate(lead(created), policy(60, BERLIN), created,
                     datetime(2026, 4, 7, 16, 0, tzinfo=UTC))
    # 15 working minutes on Thursday, the rest on Tuesday 7 April from 09:00 CEST (07:00 UTC).
    assert [(at, action) for at, action, _, _ in fires] == [
        (datetime(2026, 4, 7, 7, 45, tzinfo=UTC), "notify_owner"),
        (datetime(2026, 4, 7, 8, 15, tzinfo=UTC), "notify_owner_urgent"),
        (datetime(2026, 4, 7, 9, 45, tzinfo=UTC), "notify_team_lead"),
        (datetime(2026, 4, 7, 11, 45, tzinfo=UTC), "to_pool"),
    ]


def test_business_hours_across_the_european_dst_change() -> None:
    hours = replace(BERLIN, holidays=frozenset())
    created = datetime(2026, 3, 27, 15, 30, tzinfo=UTC)  # Friday 16:30 CET (UTC+1)
    fires = simulate(lead(created), policy(60, hours), created,
                     datetime(2026, 3, 30, 12, 0, tzinfo=UTC))
    # Clocks go forward on Sunday 29 March: Monday 09:30 is CEST (UTC+2) = 07:30 UTC.
    assert [(at, action) for at, action, _, _ in fires][:2] == [
        (datetime(2026, 3, 30, 7, 30, tzinfo=UTC), "notify_owner"),
        (datetime(2026, 3, 30, 8, 0, tzinfo=UTC), "notify_owner_urgent"),
    ]


def test_business_hours_across_the_us_dst_change_over_three_days() -> None:
    hours = BusinessHours("America/New_York", frozenset({1, 2, 3, 4, 5}), time(9), time(17))
    created = datetime(2026, 3, 6, 15, 0, tzinfo=UTC)  # Friday 10:00 EST
    pol = EscalationPolicy(SlaTarget(3, 24 * 60, hours), DEFAULT_LADDER)
    clock = sla_clock(lead(created, priority=3), pol)
    # 7 h Friday + 8 h Monday + 8 h Tuesday + 1 h Wednesday (EDT, UTC-4 since Sunday).
    assert clock.deadline == datetime(2026, 3, 11, 14, 0, tzinfo=UTC)
    assert clock.stage_times == (
        datetime(2026, 3, 11, 14, 0, tzinfo=UTC), datetime(2026, 3, 11, 14, 30, tzinfo=UTC),
        datetime(2026, 3, 11, 16, 0, tzinfo=UTC), datetime(2026, 3, 11, 18, 0, tzinfo=UTC))
    fires = simulate(lead(created, priority=3), pol, datetime(2026, 3, 11, 13, 0, tzinfo=UTC),
                     datetime(2026, 3, 11, 19, 0, tzinfo=UTC))
    assert [at for at, *_ in fires] == list(clock.stage_times)


def test_wall_clock_deadline_through_the_us_spring_forward_night() -> None:
    created = datetime(2026, 3, 8, 6, 58, tzinfo=UTC)  # 01:58 EST; 02:00 jumps to 03:00
    fires = simulate(lead(created, priority=1), policy(5), created,
                     created + timedelta(minutes=40))
    assert [(at, action) for at, action, _, _ in fires] == [
        (datetime(2026, 3, 8, 7, 3, tzinfo=UTC), "notify_owner"),
        (datetime(2026, 3, 8, 7, 33, tzinfo=UTC), "notify_owner_urgent"),
    ]


# --------------------------------------------------------------------------- ack timeouts

P1_ACK = EscalationPolicy(SlaTarget(1, 5), DEFAULT_LADDER, 15, 30)


def test_ack_timeouts_go_to_the_backup_then_the_pool_from_the_original_assignment() -> None:
    fires = simulate(lead(priority=1), P1_ACK, T0, m(120), {ANN: BOB})
    assert fires == [
        (m(5), "notify_owner", ANN, True),
        (m(15), "to_backup", BOB, True),
        (m(30), "to_pool", None, True),  # 30 min after the assignment, not after the hand-over
    ]


def test_ack_without_a_backup_goes_straight_to_the_pool() -> None:
    fires = simulate(lead(priority=1), P1_ACK, T0, m(120), {ANN: None})
    assert [(at, a) for at, a, _, _ in fires] == [(m(5), "notify_owner"), (m(15), "to_pool")]


def test_opening_the_lead_stops_the_ack_timeouts_but_not_the_ladder() -> None:
    fires = simulate(lead(priority=1, acknowledged_at=m(2)), P1_ACK, T0, m(60), {ANN: BOB})
    assert [(at, a) for at, a, _, _ in fires] == [(m(5), "notify_owner"),
                                                  (m(35), "notify_owner_urgent")]


def test_ack_catch_up_after_downtime_ends_in_the_pool_and_notifies_once() -> None:
    steps = plan_escalation(lead(priority=1), P1_ACK, m(45), {}, {ANN: BOB})
    assert [(s.decision.action, s.owner_after, s.decision.deliver) for s in steps] == [
        ("notify_owner", ANN, False), ("to_backup", BOB, False), ("to_pool", None, True)]


def test_no_ping_pong_between_reps_who_back_each_other_up() -> None:
    pol = EscalationPolicy(SlaTarget(3, 60), DEFAULT_LADDER)
    fires = simulate(lead(priority=3), pol, T0, m(20 * 60), {ANN: BOB, BOB: ANN})
    owners = [(a, o) for _, a, o, _ in fires if a in ("to_backup", "to_pool")]
    assert owners == [("to_backup", BOB), ("to_pool", None)]
    # Bob's ladder starts at his assignment (+300 min); its first stage is the hand-over itself.
    bob_stages = [(at, a) for at, a, o, _ in fires if o == BOB]
    assert bob_stages == [(m(300), "to_backup"), (m(330), "notify_owner_urgent"),
                          (m(420), "notify_team_lead")]
    assert fires[-1][0] == m(540)


def test_ack_timeouts_count_business_hours_when_the_policy_does() -> None:
    hours = BusinessHours("UTC", frozenset({1, 2, 3, 4, 5}), time(9), time(17))
    pol = EscalationPolicy(SlaTarget(1, 5, hours), (), 15, 30)
    night = datetime(2026, 3, 4, 3, 0, tzinfo=UTC)
    fires = simulate(lead(night, priority=1), pol, night, night + timedelta(hours=8), {ANN: BOB})
    assert [(at, a) for at, a, _, _ in fires] == [
        (datetime(2026, 3, 4, 9, 15, tzinfo=UTC), "to_backup"),
        (datetime(2026, 3, 4, 9, 30, tzinfo=UTC), "to_pool")]


# --------------------------------------------------------------------------- countdown colours


@pytest.mark.parametrize(("minutes", "stage"), [
    (0, 0), (59, 0), (60, 1), (89, 1), (90, 2), (179, 2), (180, 3), (300, 4), (900, 4)])
def test_sla_stage_changes_at_the_deadline_and_each_ladder_stage(minutes: int, stage: int) -> None:
    assert sla_stage(lead(), policy(), m(minutes)) == stage


def test_sla_clock_next_change_and_empty_clocks() -> None:
    clock = sla_clock(lead(), policy())
    assert clock.next_change(m(10)) == m(60)
    assert clock.next_change(m(60)) == m(90)
    assert clock.next_change(m(301)) is None
    assert sla_clock(lead(first_action_at=m(1)), policy()).stage(m(500)) == 0
    assert sla_clock(lead(), policy(minutes=None, ladder=())).deadline is None
    assert sla_clock(lead(), None).thresholds == ()
