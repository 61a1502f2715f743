"""Working a lead through the Workspace (issue 3): each action's effect, the
refusals, append-only corrections, the wrap-up rule, manual entry, and an
audit entry for every write."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from conftest import T0  # Wed 2026-03-04 15:00 UTC: 10:00 in New York
from sqlalchemy import select
from sqlalchemy.orm import Session

from leadqueue.clock import FakeClock
from leadqueue.enums import Channel, EnrollmentStatus
from leadqueue.loader import load_document
from leadqueue.model import (
    Activity,
    AuditEntry,
    Cadence,
    CadenceEnrollment,
    CadenceStep,
    Lead,
    Template,
)
from leadqueue.store import session_scope
from leadqueue.views import ContactEdit, NewLead
from leadqueue.workspace import ActionRefused, LeadNotFound, Workspace

HOUR = timedelta(hours=1)
MIN = timedelta(minutes=1)

DOC: dict[str, Any] = {
    "teams": [{"name": "East", "timezone": "America/New_York"},
              {"name": "West", "timezone": "America/Los_Angeles"}],
    "users": [
        {"email": "ada@x.test", "name": "Ada Rep", "team": "East"},
        {"email": "bob@x.test", "name": "Bob Rep", "team": "East"},
        {"email": "tim@x.test", "name": "Tim Lead", "team": "East", "role": "team_lead"},
        {"email": "wes@x.test", "name": "Wes Lead", "team": "West", "role": "team_lead"},
        {"email": "root@x.test", "name": "Root Admin", "role": "admin"},
    ],
    "leads": [
        {"external_id": "NEW1", "first_name": "Nina", "last_name": "New", "company": "Acme",
         "owner": "ada@x.test", "priority": 1, "created_at": "2026-03-04T14:58:00Z",
         "phone": "+1 212 555 0101", "product_interest": "Analytics", "source": "demo_request"},
        {"external_id": "WORK1", "first_name": "Walt", "last_name": "Working",
         "owner": "ada@x.test", "priority": 2, "status": "working",
         "created_at": "2026-03-01T14:00:00Z", "first_action_at": "2026-03-01T15:00:00Z",
         "last_action_at": "2026-03-01T15:00:00Z", "attempts": 1,
         "next_step_kind": "callback", "next_step_at": "2026-03-04T15:00:00Z",
         "next_step": "Call back about pricing", "phone": "+1 212 555 0102"},
        {"external_id": "BOB1", "first_name": "Bea", "last_name": "Bobs", "owner": "bob@x.test",
         "created_at": "2026-03-04T10:00:00Z"},
        {"external_id": "POOL1", "first_name": "Pat", "last_name": "Pool", "team": "East",
         "created_at": "2026-03-04T10:00:00Z"},
    ],
}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def engine(local_engine):  # type: ignore[no-untyped-def]
    load_document(local_engine, DOC, now=T0)
    return local_engine


@pytest.fixture
def ws(engine, clock: FakeClock):  # type: ignore[no-untyped-def]
    """Workspaces by first name: ws("ada")."""
    def open_as(name: str) -> Workspace:
        return Workspace.open(engine, f"{name}@x.test", clock)
    return open_as


def lead_id(engine, external_id: str) -> uuid.UUID:  # type: ignore[no-untyped-def]
    with Session(engine) as s:
        return s.scalar(select(Lead.id).where(Lead.external_id == external_id))


def get_lead(engine, external_id: str) -> Lead:  # type: ignore[no-untyped-def]
    with Session(engine, expire_on_commit=False) as s:
        lead = s.scalar(select(Lead).where(Lead.external_id == external_id))
        s.expunge(lead)
        return lead


def audits(engine, entity_id: uuid.UUID | None = None) -> list[AuditEntry]:  # type: ignore[no-untyped-def]
    with Session(engine) as s:
        query = select(AuditEntry).order_by(AuditEntry.at, AuditEntry.id)
        if entity_id is not None:
            query = query.where(AuditEntry.entity_id == entity_id)
        rows = list(s.scalars(query))
        s.expunge_all()
        return rows


def activities(engine, lid: uuid.UUID) -> list[Activity]:  # type: ignore[no-untyped-def]
    with Session(engine) as s:
        rows = list(s.scalars(select(Activity).where(Activity.lead_id == lid)
                              .order_by(Activity.created_at, Activity.id)))
        s.expunge_all()
        return rows


def enroll(engine, lid: uuid.UUID, *, current: int = 1, scheduled: bool = True  # type: ignore[no-untyped-def]
           ) -> uuid.UUID:
    """A three-step cadence (email day 1, call day 1, call day 4) with ``lid`` enrolled."""
    tag = uuid.uuid4().hex[:6]
    with session_scope(engine) as s:
        tpl = Template(name=f"Intro {tag}", channel=Channel.EMAIL,
                       subject="About {product_interest}",
                       body="Hi {first_name}, {rep_name} here about {product_interest}.")
        cadence = Cadence(name=f"Cadence {tag}")
        s.add_all([tpl, cadence])
        s.flush()
        for position, (day, channel) in enumerate(
                [(1, Channel.EMAIL), (1, Channel.CALL), (4, Channel.CALL)], 1):
            s.add(CadenceStep(cadence_id=cadence.id, position=position, day_offset=day,
                              channel=channel,
                              template_id=tpl.id if channel is Channel.EMAIL else None))
        enr = CadenceEnrollment(lead_id=lid, cadence_id=cadence.id, enrolled_at=T0 - HOUR,
                                current_step=current,
                                step_scheduled_at=T0 - HOUR if scheduled else None)
        s.add(enr)
        s.flush()
        return enr.id


def enrollment(engine, enr_id: uuid.UUID) -> CadenceEnrollment:  # type: ignore[no-untyped-def]
    with Session(engine) as s:
        enr = s.get(CadenceEnrollment, enr_id)
        s.expunge(enr)
        return enr


# -- acknowledge -----------------------------------------------------------------------


def test_acknowledge_sets_once_for_the_owner_only(engine, ws, clock) -> None:  # type: ignore[no-untyped-def]
    lid = lead_id(engine, "NEW1")
    ws("tim").acknowledge(lid)  # the team lead looking is not the owner's acknowledgement
    assert get_lead(engine, "NEW1").acknowledged_at is None
    ws("ada").acknowledge(lid)
    clock.advance(minutes=5)
    ws("ada").acknowledge(lid)
    assert get_lead(engine, "NEW1").acknowledged_at == T0
    assert [a.rule for a in audits(engine, lid)] == ["acknowledge"]
    with pytest.raises(ActionRefused, match="belongs to Ada Rep"):
        ws("bob").acknowledge(lid)


# -- calls --------------------------------------------------------------------------------


def test_log_call_updates_action_dates_attempts_and_status(engine, ws, clock) -> None:  # type: ignore[no-untyped-def]
    lid = lead_id(engine, "NEW1")
    result = ws("ada").log_call(lid, "no_answer", duration_s=25, note=" rang out ")
    lead = get_lead(engine, "NEW1")
    assert (lead.status, lead.first_action_at, lead.last_action_at, lead.attempts) == (
        "working", T0, T0, 1)
    assert result.status == "working" and result.proposed_status == "working"
    assert (result.next_step_kind, result.next_step_at) == ("call", T0 + timedelta(days=1))
    assert result.next_step_text == "Call again (last call: no answer)"
    assert lead.next_step_at is None  # a proposal, applied only when the rep confirms it
    [act] = activities(engine, lid)
    assert (act.id, act.kind, act.direction, act.outcome, act.duration_s, act.body,
            act.at) == (result.activity_id, "call", "outbound", "no_answer", 25, "rang out", T0)
    clock.advance(hours=2)
    ws("ada").log_call(lid, "busy")
    lead = get_lead(engine, "NEW1")
    assert (lead.first_action_at, lead.last_action_at, lead.attempts) == (T0, T0 + 2 * HOUR, 2)


def test_a_touch_completes_the_step_that_was_due(engine, ws) -> None:  # type: ignore[no-untyped-def]
    lid = lead_id(engine, "WORK1")
    ws("ada").log_call(lid, "connected")
    lead = get_lead(engine, "WORK1")
    assert (lead.next_step, lead.next_step_kind, lead.next_step_at) == (None, None, None)
    assert lead.attempts == 2 and lead.first_action_at == datetime(2026, 3, 1, 15, tzinfo=UTC)


def test_retry_proposal_lands_inside_the_calling_window(engine, ws, clock) -> None:  # type: ignore[no-untyped-def]
    clock.set(datetime(2026, 3, 5, 0, 45, tzinfo=UTC))  # 19:45 in New York
    result = ws("ada").log_call(lead_id(engine, "NEW1"), "busy")
    # +30 min is 20:15 there, after the window closes: the next morning at 08:00.
    assert result.next_step_at == datetime(2026, 3, 5, 13, 0, tzinfo=UTC)


def test_wrong_number_flags_the_phone(engine, ws) -> None:  # type: ignore[no-untyped-def]
    lid = lead_id(engine, "NEW1")
    result = ws("ada").log_call(lid, "wrong_number")
    assert result.phone_flagged and result.next_step_kind == "email"
    assert get_lead(engine, "NEW1").data_issues == ["phone_wrong"]
    row = next(r for r in ws("ada").ranked_queue().upcoming if r.id == lid)
    assert "phone_wrong" in row.data_issues
    assert "Phone flagged as wrong or dead number" in row.reasons


def test_meeting_booked_sets_status_and_ends_the_cadence(engine, ws) -> None:  # type: ignore[no-untyped-def]
    lid = lead_id(engine, "NEW1")
    enr = enroll(engine, lid)
    result = ws("ada").log_call(lid, "meeting_booked")
    assert result.status == "meeting" and result.cadence_ended
    assert get_lead(engine, "NEW1").status == "meeting"
    stopped = enrollment(engine, enr)
    assert (stopped.status, stopped.end_reason, stopped.ended_at) == (
        EnrollmentStatus.STOPPED, "meeting_booked", T0)
    queue = ws("ada").ranked_queue()
    assert lid not in {r.id for r in (*queue.callable, *queue.later, *queue.upcoming)}


def test_not_interested_proposes_nurture_or_disqualify(engine, ws) -> None:  # type: ignore[no-untyped-def]
    lid = lead_id(engine, "NEW1")
    enroll(engine, lid)
    result = ws("ada").log_call(lid, "not_interested")
    assert (result.status, result.proposed_status, result.alternative_status) == (
        "working", "nurture", "disqualified")
    assert result.cadence_ended


def test_bad_call_input_is_refused(engine, ws) -> None:  # type: ignore[no-untyped-def]
    lid = lead_id(engine, "NEW1")
    with pytest.raises(ActionRefused, match="Unknown call outcome 'hung up'"):
        ws("ada").log_call(lid, "hung up")
    with pytest.raises(ActionRefused, match="duration"):
        ws("ada").log_call(lid, "connected", duration_s=-5)
    assert activities(engine, lid) == [] and audits(engine, lid) == []


# -- touches and inbound -------------------------------------------------------------------


def test_log_touch_counts_an_attempt_and_proposes_a_call(engine, ws) -> None:  # type: ignore[no-untyped-def]
    lid = lead_id(engine, "NEW1")
    result = ws("ada").log_touch(lid, "email", body="Sent the pricing sheet")
    lead = get_lead(engine, "NEW1")
    assert (lead.status, lead.attempts, lead.first_action_at) == ("working", 1, T0)
    assert (result.next_step_kind, result.next_step_at) == ("call", T0 + timedelta(days=2))
    [act] = activities(engine, lid)
    assert (act.kind, act.direction, act.outcome) == ("email", "outbound", None)
    for kind in ("call", "note", "fax"):
        with pytest.raises(ActionRefused):
            ws("ada").log_touch(lid, kind)


def test_touch_proposes_the_next_cadence_step(engine, ws) -> None:  # type: ignore[no-untyped-def]
    lid = lead_id(engine, "NEW1")
    enroll(engine, lid)  # step 1 (email) scheduled: this email completes it
    result = ws("ada").log_touch(lid, "email")
    assert result.next_step_kind == "call" and result.next_step_at == T0
    assert result.next_step_text == "Cadence step 2 of 3 (call) (after the email)"
    assert ws("ada").cadence_step_label(lid) == "Step 1 of 3 (email)"  # the engine steps it on


def test_inbound_reply_pauses_the_cadence_and_is_not_the_reps_action(engine, ws) -> None:  # type: ignore[no-untyped-def]
    lid = lead_id(engine, "NEW1")
    enr = enroll(engine, lid)
    result = ws("ada").log_inbound(lid, "email", body="Can we talk Thursday?")
    assert result.cadence_ended and result.next_step_text == "Answer the reply"
    assert enrollment(engine, enr).end_reason == "replied"
    lead = get_lead(engine, "NEW1")
    assert (lead.status, lead.first_action_at, lead.attempts) == ("working", None, 0)
    [act] = activities(engine, lid)
    assert (act.kind, act.direction) == ("email", "inbound")
    assert ws("ada").cadence_step_label(lid) is None


def test_a_reply_on_a_working_lead_is_recorded_on_the_lead(engine, ws, clock) -> None:  # type: ignore[no-untyped-def]
    """A reply leaves status, actions and attempts alone but is on the row, so
    anything that reads leads changed since a moment (the engine's scoring,
    sync) sees it without re-reading the activities."""
    from leadqueue.engine import score_candidates

    lid = lead_id(engine, "WORK1")
    before = get_lead(engine, "WORK1")
    assert before.last_inbound_at is None
    clock.advance(minutes=7)
    ws("ada").log_inbound(lid, "email", body="Thursday works")
    lead = get_lead(engine, "WORK1")
    assert lead.last_inbound_at == T0 + 7 * MIN
    assert lead.updated_at == T0 + 7 * MIN and lead.version == before.version + 1
    assert (lead.status, lead.last_action_at, lead.attempts, lead.first_action_at) == (
        before.status, before.last_action_at, before.attempts, before.first_action_at)
    [entry] = [a for a in audits(engine, lid) if a.rule == "log_inbound"]
    assert set(entry.change) == {"last_inbound_at"}
    # Scored before the reply: the reply alone makes it a candidate again.
    with session_scope(engine) as s:
        s.get(Lead, lid).scored_at = T0 + 6 * MIN
    with Session(engine) as s:
        assert lid in score_candidates(s, clock.now())
    # An inbound call moves it as well.
    clock.advance(minutes=5)
    ws("ada").log_inbound(lid, "call", outcome="connected")
    assert get_lead(engine, "WORK1").last_inbound_at == T0 + 12 * MIN


def test_inbound_call_answered_is_a_response(engine, ws) -> None:  # type: ignore[no-untyped-def]
    lid = lead_id(engine, "NEW1")
    result = ws("ada").log_inbound(lid, "call", outcome="connected")
    lead = get_lead(engine, "NEW1")
    assert (lead.first_action_at, lead.last_action_at, lead.attempts) == (T0, T0, 0)
    assert result.next_step_text == "Follow up on the conversation"
    with pytest.raises(ActionRefused, match="for calls only"):
        ws("ada").log_inbound(lid, "email", outcome="connected")


# -- notes and corrections --------------------------------------------------------------------


def test_add_note(engine, ws) -> None:  # type: ignore[no-untyped-def]
    lid = lead_id(engine, "WORK1")
    with pytest.raises(ActionRefused, match="needs some text"):
        ws("ada").add_note(lid, "   ")
    view = ws("ada").add_note(lid, "Prefers mornings")
    assert (view.kind, view.body, view.author_name) == ("note", "Prefers mornings", "Ada Rep")
    lead = get_lead(engine, "WORK1")
    assert lead.attempts == 1 and lead.last_action_at == datetime(2026, 3, 1, 15, tzinfo=UTC)
    assert ws("ada").lead(lid).activities[0].id == view.id


def test_correction_is_a_new_entry_and_the_original_stays(engine, ws, clock) -> None:  # type: ignore[no-untyped-def]
    lid = lead_id(engine, "NEW1")
    logged = ws("ada").log_call(lid, "wrong_number", duration_s=12)
    assert get_lead(engine, "NEW1").data_issues == ["phone_wrong"]
    clock.advance(minutes=3)
    fixed = ws("ada").correct_activity(logged.activity_id, outcome="no_answer")
    assert fixed.supersedes_id == logged.activity_id and fixed.outcome == "no_answer"
    assert (fixed.at, fixed.duration_s) == (T0, 12)  # when the call happened
    original, correction = activities(engine, lid)
    assert (original.id, original.outcome) == (logged.activity_id, "wrong_number")
    assert (correction.id, correction.created_at) == (fixed.id, T0 + 3 * MIN)
    assert get_lead(engine, "NEW1").data_issues == []  # nothing says wrong number any more
    with pytest.raises(ActionRefused, match="already corrected"):
        ws("ada").correct_activity(logged.activity_id, outcome="busy")
    again = ws("ada").correct_activity(fixed.id, body="Rang out twice")
    assert (again.outcome, again.body, again.supersedes_id) == ("no_answer", "Rang out twice",
                                                                fixed.id)
    assert len(ws("ada").lead(lid).activities) == 3
    rules = [a.rule for a in audits(engine, lid)]
    assert rules == ["log_call", "correct_activity", "correct_activity"]


def test_correction_to_meeting_booked_applies_its_facts(engine, ws) -> None:  # type: ignore[no-untyped-def]
    lid = lead_id(engine, "NEW1")
    logged = ws("ada").log_call(lid, "connected")
    ws("ada").correct_activity(logged.activity_id, outcome="meeting_booked")
    assert get_lead(engine, "NEW1").status == "meeting"


def test_correction_refusals(engine, ws) -> None:  # type: ignore[no-untyped-def]
    lid = lead_id(engine, "NEW1")
    note = ws("ada").add_note(lid, "x")
    with pytest.raises(ActionRefused, match="Nothing to correct"):
        ws("ada").correct_activity(note.id)
    with pytest.raises(ActionRefused, match="for calls only"):
        ws("ada").correct_activity(note.id, outcome="connected")
    with pytest.raises(ActionRefused, match="belongs to Ada Rep"):
        ws("bob").correct_activity(note.id, body="mine now")
    with pytest.raises(LeadNotFound):
        ws("ada").correct_activity(uuid.uuid4(), body="?")


# -- snooze and next step --------------------------------------------------------------------


def test_snooze_moves_the_lead_to_upcoming_until_it_ends(engine, ws, clock) -> None:  # type: ignore[no-untyped-def]
    lid = lead_id(engine, "NEW1")
    with pytest.raises(ActionRefused, match="future"):
        ws("ada").snooze(lid, T0 - MIN)
    with pytest.raises(ValueError, match="timezone-aware"):
        ws("ada").snooze(lid, datetime(2026, 3, 5, 9, 0))
    ws("ada").snooze(lid, T0 + 2 * HOUR)
    queue = ws("ada").ranked_queue()
    assert lid not in {r.id for r in queue.callable}
    row = next(r for r in queue.upcoming if r.id == lid)
    assert row.due_at == row.snoozed_until == T0 + 2 * HOUR
    clock.advance(hours=2)
    assert lid in {r.id for r in ws("ada").ranked_queue().callable}


def test_set_next_step(engine, ws, clock) -> None:  # type: ignore[no-untyped-def]
    lid = lead_id(engine, "NEW1")
    with pytest.raises(ActionRefused, match="Unknown next step kind"):
        ws("ada").set_next_step(lid, "carrier pigeon", T0 + HOUR)
    with pytest.raises(ActionRefused, match="in the past"):
        ws("ada").set_next_step(lid, "call", T0 - 2 * MIN)
    ws("ada").set_next_step(lid, "callback", T0 + 2 * HOUR, "Promised 12:00 their time")
    lead = get_lead(engine, "NEW1")
    assert (lead.next_step_kind, lead.next_step_at, lead.next_step) == (
        "callback", T0 + 2 * HOUR, "Promised 12:00 their time")
    ws("ada").set_next_step(lid, "email", T0 - 30 * timedelta(seconds=1))  # "now", just made
    assert get_lead(engine, "NEW1").next_step == "Email"


# -- status changes ----------------------------------------------------------------------------


def test_disqualify_needs_a_standard_reason(engine, ws) -> None:  # type: ignore[no-untyped-def]
    lid = lead_id(engine, "NEW1")
    enr = enroll(engine, lid)
    with pytest.raises(ActionRefused, match="standard reason"):
        ws("ada").disqualify(lid, "meh")
    with pytest.raises(ActionRefused, match="'other' needs a note"):
        ws("ada").disqualify(lid, "other", "  ")
    with pytest.raises(ActionRefused, match="standard reason"):
        ws("ada").set_status(lid, "disqualified")
    assert get_lead(engine, "NEW1").status == "new"
    ws("ada").disqualify(lid, "other", "Student project")
    lead = get_lead(engine, "NEW1")
    assert (lead.status, lead.disqualify_reason, lead.disqualify_note) == (
        "disqualified", "other", "Student project")
    assert enrollment(engine, enr).status == EnrollmentStatus.STOPPED
    queue = ws("ada").ranked_queue()
    assert lid not in {r.id for r in (*queue.callable, *queue.later, *queue.upcoming)}
    with pytest.raises(ActionRefused, match="closed"):
        ws("ada").set_status(lid, "working")


def test_set_status_with_its_reason(engine, ws) -> None:  # type: ignore[no-untyped-def]
    lid = lead_id(engine, "WORK1")
    with pytest.raises(ActionRefused, match="No response needs a reason"):
        ws("ada").set_status(lid, "no_response")
    with pytest.raises(ActionRefused, match="cannot be set back to new"):
        ws("ada").set_status(lid, "new")
    ws("ada").set_status(lid, "no_response", reason="unreachable")
    lead = get_lead(engine, "WORK1")
    assert (lead.status, lead.no_response_reason, lead.next_step_at) == (
        "no_response", "unreachable", None)
    ws("ada").set_status(lid, "nurture", note="Budget next year")
    lead = get_lead(engine, "WORK1")
    assert lead.status == "nurture" and lead.recycle_at == T0 + timedelta(days=90)
    assert lead.next_step_at == lead.recycle_at
    assert ws("ada").lead(lid).activities[0].body == "Status nurture: Budget next year"
    ws("ada").set_status(lid, "working")
    ws("ada").set_status(lid, "converted", reason="Closed won: 20 seats")
    lead = get_lead(engine, "WORK1")
    assert (lead.status, lead.final_outcome) == ("converted", "Closed won: 20 seats")


def test_disqualify_through_set_status(engine, ws) -> None:  # type: ignore[no-untyped-def]
    lid = lead_id(engine, "WORK1")
    ws("ada").set_status(lid, "disqualified", reason="competitor")
    assert get_lead(engine, "WORK1").disqualify_reason == "competitor"


# -- wrap-up -----------------------------------------------------------------------------------


def test_wrap_up_refused_without_next_step_accepted_with_one(engine, ws, clock) -> None:  # type: ignore[no-untyped-def]
    lid = lead_id(engine, "NEW1")
    opened = clock.now()
    ada = ws("ada")
    assert ada.wrap_up_state(lid, opened) == ada.wrap_up_state(lid, opened).__class__(
        True, False, (), "")  # not worked: free to go
    clock.advance(minutes=2)
    ada.log_call(lid, "no_answer")
    state = ada.wrap_up_state(lid, opened)
    assert (state.complete, state.worked) == (False, True)
    assert state.missing == ("next_step_kind", "next_step_at")
    assert state.message.startswith("Set a next step and its date")
    clock.advance(minutes=1)
    ada.set_next_step(lid, "call", clock.now() + timedelta(days=1))
    state = ada.wrap_up_state(lid, opened)
    assert (state.complete, state.worked, state.missing) == (True, True, ())


def test_wrap_up_sees_a_step_from_before_the_visit_as_stale(engine, ws, clock) -> None:  # type: ignore[no-untyped-def]
    lid = lead_id(engine, "WORK1")
    ada = ws("ada")
    ada.set_next_step(lid, "call", T0 + 10 * MIN)
    clock.advance(minutes=20)  # the step came due; the rep opens the lead
    opened = clock.now()
    ada.add_note(lid, "Looked at their website")  # worked, but no touch clears the step
    state = ada.wrap_up_state(lid, opened)
    assert not state.complete and state.missing == ("next_step_at",)
    assert "from before this visit" in state.message


def test_wrap_up_with_a_closing_status(engine, ws, clock) -> None:  # type: ignore[no-untyped-def]
    lid = lead_id(engine, "NEW1")
    opened = clock.now()
    ada = ws("ada")
    ada.log_call(lid, "not_interested")
    assert not ada.wrap_up_state(lid, opened).complete
    ada.disqualify(lid, "poor_fit")
    assert ada.wrap_up_state(lid, opened).complete


def test_wrap_up_counts_only_my_work(engine, ws, clock) -> None:  # type: ignore[no-untyped-def]
    lid = lead_id(engine, "NEW1")
    opened = clock.now()
    ws("tim").add_note(lid, "Team lead note")
    assert ws("ada").wrap_up_state(lid, opened).worked is False
    assert ws("tim").wrap_up_state(lid, opened).worked is True


# -- who may act --------------------------------------------------------------------------------


def test_only_owner_team_lead_or_admin_may_act(engine, ws) -> None:  # type: ignore[no-untyped-def]
    lid = lead_id(engine, "NEW1")
    for who in ("bob", "wes"):
        with pytest.raises(ActionRefused, match="belongs to Ada Rep"):
            ws(who).log_call(lid, "connected")
        with pytest.raises(ActionRefused):
            ws(who).snooze(lid, T0 + HOUR)
        with pytest.raises(ActionRefused):
            ws(who).disqualify(lid, "poor_fit")
        with pytest.raises(ActionRefused):
            ws(who).update_contact(lid, ContactEdit(company="Mine"))
    assert activities(engine, lid) == [] and audits(engine, lid) == []
    ws("tim").add_note(lid, "Looks hot")
    ws("root").set_next_step(lid, "call", T0 + HOUR)
    assert [a.actor_id for a in audits(engine)] == [ws("tim").me.id, ws("root").me.id]


def test_pool_lead_needs_a_claim_first(engine, ws) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ActionRefused, match="team pool: claim it"):
        ws("ada").log_call(lead_id(engine, "POOL1"), "connected")
    ws("tim").add_note(lead_id(engine, "POOL1"), "Whoever claims this: they asked for Ada")


def test_unknown_lead(engine, ws) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(LeadNotFound) as err:
        ws("ada").log_call(uuid.uuid4(), "connected")
    assert isinstance(err.value, LookupError) and isinstance(err.value, ActionRefused)


# -- audit --------------------------------------------------------------------------------------


def test_every_write_is_audited_with_the_person(engine, ws, clock) -> None:  # type: ignore[no-untyped-def]
    lid = lead_id(engine, "NEW1")
    ada = ws("ada")
    ada.acknowledge(lid)
    ada.log_call(lid, "voicemail")
    ada.log_touch(lid, "email")
    ada.log_inbound(lid, "email")
    note = ada.add_note(lid, "n")
    ada.correct_activity(note.id, body="note")
    ada.snooze(lid, T0 + HOUR)
    ada.set_next_step(lid, "call", T0 + 2 * HOUR)
    ada.update_contact(lid, ContactEdit(title="CTO"))
    ada.set_status(lid, "meeting")
    new = ada.create_lead(NewLead("Fresh", "Lead"))
    entries = audits(engine)
    assert [e.rule for e in entries] == [
        "acknowledge", "log_call", "log_touch", "log_inbound", "add_note", "correct_activity",
        "snooze", "set_next_step", "update_contact", "set_status", "create_lead"]
    assert {e.actor_id for e in entries} == {ada.me.id}
    assert {e.actor for e in entries} == {"app"}
    assert entries[-1].entity_id == new
    snoozed = next(e for e in entries if e.rule == "snooze")
    assert snoozed.change == {"snoozed_until": [None, (T0 + HOUR).isoformat()]}


def test_a_refused_action_writes_nothing(engine, ws) -> None:  # type: ignore[no-untyped-def]
    lid = lead_id(engine, "NEW1")
    before = get_lead(engine, "NEW1").version
    with pytest.raises(ActionRefused):
        ws("ada").set_status(lid, "no_response", reason="because")
    assert get_lead(engine, "NEW1").version == before and audits(engine) == []


# -- manual entry and contact edits -----------------------------------------------------------


def test_create_lead_normalises_and_owns(engine, ws) -> None:  # type: ignore[no-untyped-def]
    ada = ws("ada")
    lid = ada.create_lead(NewLead("Grace", "Hopper", company="Navy", email=" Grace@Navy.MIL ",
                                  phone="(212) 555-0147", country="us", priority=1,
                                  lead_class="high_intent", source="phone_in"))
    lead = ada.lead(lid)
    assert (lead.email, lead.phone, lead.timezone, lead.country) == (
        "grace@navy.mil", "+12125550147", "America/New_York", "US")
    assert (lead.owner_name, lead.team_name, lead.status, lead.priority) == (
        "Ada Rep", "East", "new", 1)
    assert lead.created_at == lead.assigned_at == T0 and lead.data_issues == ()
    queue = ada.ranked_queue().callable
    # The callback, then the P1s by SLA deadline: NEW1's (15:03) is before ours (15:05).
    assert [r.external_id for r in queue] == ["WORK1", "NEW1", None]
    assert (queue[2].id, queue[2].tier, queue[2].sla_due_at) == (lid, 2, T0 + 5 * MIN)
    with Session(engine) as s:
        assert s.get(Lead, lid).sla_due_at == T0 + 5 * MIN


def test_create_lead_flags_bad_data_instead_of_refusing(engine, ws) -> None:  # type: ignore[no-untyped-def]
    ada = ws("ada")
    lid = ada.create_lead(NewLead("Odd", "Data", email="not an email", phone="call reception",
                                  timezone="Mars/Base"))
    lead = ada.lead(lid)
    assert (lead.email, lead.phone, lead.timezone) == ("not an email", "call reception",
                                                       "Mars/Base")
    assert set(lead.data_issues) == {"phone_unparseable", "timezone_unknown", "email_invalid"}
    row = next(r for r in ada.ranked_queue().callable if r.id == lid)
    assert any("could not be read" in r for r in row.reasons)
    assert any("Email address does not look valid" in r for r in row.reasons)


def test_create_lead_refusals(engine, ws) -> None:  # type: ignore[no-untyped-def]
    ada = ws("ada")
    with pytest.raises(ActionRefused, match="first and a last name"):
        ada.create_lead(NewLead("Solo", " "))
    with pytest.raises(ActionRefused, match="Priority"):
        ada.create_lead(NewLead("A", "B", priority=7))
    with pytest.raises(ActionRefused, match="already exists"):
        ada.create_lead(NewLead("A", "B", external_id="NEW1"))
    with pytest.raises(ActionRefused, match="Unknown lead class"):
        ada.create_lead(NewLead("A", "B", lead_class="hot"))


def test_update_contact(engine, ws) -> None:  # type: ignore[no-untyped-def]
    lid = lead_id(engine, "NEW1")
    ada = ws("ada")
    ada.log_call(lid, "wrong_number")
    detail = ada.update_contact(lid, ContactEdit(phone="+44 20 7946 0018", company="",
                                                 email="NINA@ACME.TEST"))
    assert (detail.phone, detail.timezone, detail.company, detail.email) == (
        "+442079460018", "Europe/London", None, "nina@acme.test")
    assert detail.data_issues == ()  # the wrong-number flag went with the old number
    detail = ada.update_contact(lid, ContactEdit(phone="ask reception"))
    assert (detail.phone, detail.timezone) == ("ask reception", "Europe/London")
    assert detail.data_issues == ("phone_unparseable",)
    detail = ada.update_contact(lid, ContactEdit(timezone="Asia/Tokyo"))
    assert detail.timezone == "Asia/Tokyo" and detail.data_issues == ("phone_unparseable",)
    with pytest.raises(ActionRefused, match="cannot be empty"):
        ada.update_contact(lid, ContactEdit(first_name=""))


# -- templates and cadence label ----------------------------------------------------------------


def test_render_template(engine, ws) -> None:  # type: ignore[no-untyped-def]
    lid = lead_id(engine, "NEW1")
    ada = ws("ada")
    script = ada.render_template(lid)  # never worked: the call script
    assert script is not None and script.channel == "call"
    assert "Hi Nina, this is Ada Rep" in script.body and "Analytics" in script.body
    ada.set_next_step(lid, "email", T0 + HOUR)
    email = ada.render_template(lid)
    assert email is not None and email.channel == "email" and email.subject == "Analytics for Acme"
    enroll(engine, lid)
    step = ada.render_template(lid)
    assert step is not None and step.subject == "About Analytics"
    assert step.body == "Hi Nina, Ada Rep here about Analytics."
    assert ada.cadence_step_label(lid) == "Step 1 of 3 (email)"


# -- speed ---------------------------------------------------------------------------------------


def test_writes_on_a_local_store_are_quick(engine, ws, clock) -> None:  # type: ignore[no-untyped-def]
    """One small transaction each (measured ~3-6 ms here; the bound is loose
    because the machine is shared)."""
    ada = ws("ada")
    lid = lead_id(engine, "NEW1")
    timings = []
    for _ in range(20):
        clock.advance(minutes=1)
        start = time.perf_counter()
        ada.log_call(lid, "no_answer")
        timings.append(time.perf_counter() - start)
    timings.sort()
    assert timings[len(timings) // 2] < 0.1, timings


@pytest.mark.pg
def test_actions_on_the_shared_database(pg_engine) -> None:  # type: ignore[no-untyped-def]
    """The same actions on PostgreSQL (row locks, JSONB flags, enum columns)."""
    tag = uuid.uuid4().hex[:8]
    doc = {
        "teams": [{"name": f"Pg {tag}", "timezone": "America/New_York"}],
        "users": [{"email": f"ada+{tag}@x.test", "name": "Ada Rep", "team": f"Pg {tag}"}],
        "leads": [{"external_id": f"PG-{tag}", "first_name": "Pia", "last_name": "Gres",
                   "owner": f"ada+{tag}@x.test", "priority": 1, "phone": "+1 212 555 0101",
                   "created_at": "2026-03-04T14:58:00Z"}],
    }
    load_document(pg_engine, doc, now=T0)
    clock = FakeClock(T0)
    ada = Workspace.open(pg_engine, f"ada+{tag}@x.test", clock)
    lid = lead_id(pg_engine, f"PG-{tag}")
    opened = clock.now()
    ada.acknowledge(lid)
    logged = ada.log_call(lid, "wrong_number")
    assert logged.phone_flagged
    ada.correct_activity(logged.activity_id, outcome="no_answer")
    assert not ada.wrap_up_state(lid, opened).complete
    ada.set_next_step(lid, "call", T0 + HOUR)
    assert ada.wrap_up_state(lid, opened).complete
    detail = ada.lead(lid)
    assert (detail.status, detail.attempts, detail.data_issues, len(detail.activities)) == (
        "working", 1, (), 2)
    new = ada.create_lead(NewLead("Pg", "Manual", phone="bad", email="X@Y.Z"))
    manual = ada.lead(new)
    assert set(manual.data_issues) == {"phone_unparseable", "timezone_unknown"}
    assert manual.email == "x@y.z"
    assert [a.rule for a in audits(pg_engine, lid)] == [
        "acknowledge", "log_call", "correct_activity", "set_next_step"]
