"""Rules as data: the rule book reads with the playbook defaults, edits are
validated at save time with the field named, and only team leads and admins
may change them."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest
from conftest import T0
from sqlalchemy import select

from leadqueue.clock import FakeClock
from leadqueue.errors import ActionRefused
from leadqueue.loader import load_document
from leadqueue.model import AuditEntry, SlaPolicy, User
from leadqueue.rulebook import (
    BusinessHoursSpec,
    CadenceSpec,
    CadenceStepSpec,
    LadderStageSpec,
    RuleError,
    SlaPolicySpec,
    TemplateSpec,
    validate_cadence,
    validate_sla_policy,
    validate_template_spec,
)
from leadqueue.workspace import Workspace

DOC = {
    "teams": [{"name": "Americas", "timezone": "America/New_York"},
              {"name": "EMEA", "timezone": "Europe/London"}],
    "users": [
        {"email": "rep@x.com", "name": "Rita Rep", "role": "rep", "team": "Americas"},
        {"email": "lead@x.com", "name": "Tom Lead", "role": "team_lead", "team": "Americas"},
        {"email": "admin@x.com", "name": "Ada Admin", "role": "admin", "team": "EMEA"},
    ],
}


@pytest.fixture
def ws(local_engine, clock: FakeClock):  # type: ignore[no-untyped-def]
    load_document(local_engine, DOC, now=T0)

    def open_as(email: str) -> Workspace:
        return Workspace.open(local_engine, email, clock)

    return open_as


def test_rule_book_shows_the_playbook_defaults(ws) -> None:  # type: ignore[no-untyped-def]
    book = ws("rep@x.com").rule_book()
    targets = {p.priority: p.first_response_minutes for p in book.sla_policies if p.team_id is None}
    assert targets == {1: 5, 2: 60, 3: 1440, 4: None}
    p1 = book.sla_policy(1)
    assert [(s.offset_minutes, s.action) for s in p1.ladder] == [
        (0, "notify_owner"), (30, "notify_owner_urgent"), (120, "notify_team_lead"),
        (240, "reassign")]
    assert (p1.ack_backup_minutes, p1.ack_pool_minutes) == (15, 30)
    assert (book.sla_policy(2).ack_backup_minutes, book.sla_policy(2).ack_pool_minutes) == (30, 60)
    assert book.sla_policy(3).ack_backup_minutes is None
    assert book.sla_policy(4).ladder == ()
    assert "first_name" in dict(book.merge_fields)
    # The default cadence appears once the engine (or the demo) seeded it.
    ws("rep@x.com").run_rules()
    cadence = ws("rep@x.com").rule_book().cadence("Default inbound")
    assert [(s.day_offset, s.channel) for s in cadence.steps] == [
        (1, "email"), (1, "call"), (2, "email"), (4, "call"), (7, "email"), (10, "social"),
        (14, "email")]
    assert cadence.steps[-1].template == "Day 14 break-up email"
    assert cadence.recycle_days == 90


# --------------------------------------------------------------------------- validation

P2 = SlaPolicySpec(2, 60)


@pytest.mark.parametrize(("edit", "field", "words"), [
    (replace(P2, priority=5), "priority", "outside"),
    (replace(P2, first_response_minutes=0), "first_response_minutes", "outside"),
    (replace(P2, first_response_minutes=-5), "first_response_minutes", "negative"),
    (replace(P2, first_response_minutes=None), "first_response_minutes", "no first-response"),
    (replace(P2, ladder=(LadderStageSpec(-5, "notify_owner"),)), "ladder[0].offset_minutes",
     "negative"),
    (replace(P2, ladder=(LadderStageSpec(5, "shout"),)), "ladder[0].action", "not one of"),
    (replace(P2, ladder=(LadderStageSpec(5, "reassign"), LadderStageSpec(5, "reassign"))),
     "ladder[1]", "twice"),
    (replace(P2, ack_backup_minutes=30, ack_pool_minutes=20), "ack_pool_minutes", "not after"),
    (replace(P2, ack_backup_minutes=True), "ack_backup_minutes", "whole number"),
    (replace(P2, business_hours=BusinessHoursSpec(True, "Mars/Olympus")),
     "business_hours.timezone", "unknown time zone"),
    (replace(P2, business_hours=BusinessHoursSpec(True, start="9am")), "business_hours.start",
     "HH:MM"),
    (replace(P2, business_hours=BusinessHoursSpec(True, start="25:00")), "business_hours.start",
     "HH:MM"),
    (replace(P2, business_hours=BusinessHoursSpec(True, start="18:00")), "business_hours.end",
     "not after"),
    (replace(P2, business_hours=BusinessHoursSpec(True, working_days=())),
     "business_hours.working_days", "no working day"),
    (replace(P2, business_hours=BusinessHoursSpec(True, working_days=(1, 8))),
     "business_hours.working_days[1]", "outside"),
    (replace(P2, business_hours=BusinessHoursSpec(True, holidays=("2026-13-01",))),
     "business_hours.holidays[0]", "YYYY-MM-DD"),
])
def test_bad_sla_policies_are_refused_naming_the_field(edit: SlaPolicySpec, field: str,
                                                       words: str) -> None:
    with pytest.raises(RuleError) as exc:
        validate_sla_policy(edit)
    assert exc.value.field == field
    assert str(exc.value).startswith(f"{field}: ")
    assert words in str(exc.value)


def test_a_valid_policy_is_normalised() -> None:
    edit = replace(P2, ladder=(LadderStageSpec(120, "notify_team_lead"),
                               LadderStageSpec(0, "notify_owner")),
                   business_hours=BusinessHoursSpec(True, " Europe/Berlin ", (5, 1, 2), "08:00",
                                                    "16:30", ("2026-12-25",)))
    clean = validate_sla_policy(edit)
    assert [s.offset_minutes for s in clean.ladder] == [0, 120]
    assert clean.business_hours.timezone == "Europe/Berlin"
    assert clean.business_hours.working_days == (1, 2, 5)
    assert clean.business_hours.holidays == (date(2026, 12, 25),)
    assert clean.to_policy().business_hours is not None
    # P4: no target and no ladder is fine.
    assert validate_sla_policy(SlaPolicySpec(4, None, ())).first_response_minutes is None


TEMPLATES = {"Intro": "email", "Script": "call"}
STEPS = (CadenceStepSpec(1, 1, "email", "Intro"), CadenceStepSpec(2, 3, "call", "Script", "10:30"))


@pytest.mark.parametrize(("steps", "field", "words"), [
    ((), "steps", "at least one"),
    ((CadenceStepSpec(1, -1, "email"),), "steps[0].day_offset", "negative"),
    ((CadenceStepSpec(1, 1, "email"), CadenceStepSpec(1, 2, "call")), "steps[1].position",
     "used twice"),
    ((CadenceStepSpec(1, 1, "fax"),), "steps[0].channel", "not one of"),
    ((CadenceStepSpec(1, 1, "email", "Nope"),), "steps[0].template", "no template"),
    ((CadenceStepSpec(1, 1, "email", "Script"),), "steps[0].template", "call template"),
    ((CadenceStepSpec(1, 1, "email", None, "7:5"),), "steps[0].local_time", "HH:MM"),
    ((CadenceStepSpec(1, 4, "email"), CadenceStepSpec(2, 2, "call")), "steps[1].day_offset",
     "comes before"),
])
def test_bad_cadences_are_refused_naming_the_field(steps, field: str, words: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(RuleError) as exc:
        validate_cadence(CadenceSpec("Mine", steps), TEMPLATES)
    assert exc.value.field == field and words in str(exc.value)


def test_cadence_name_and_recycle_days_are_checked() -> None:
    with pytest.raises(RuleError, match=r"^name: is empty"):
        validate_cadence(CadenceSpec("  ", STEPS), TEMPLATES)
    with pytest.raises(RuleError, match=r"^recycle_days: "):
        validate_cadence(CadenceSpec("Mine", STEPS, recycle_days=0), TEMPLATES)
    clean = validate_cadence(CadenceSpec(" Mine ", tuple(reversed(STEPS))), TEMPLATES)
    assert clean.name == "Mine" and [s.position for s in clean.steps] == [1, 2]


def test_templates_with_unknown_merge_fields_are_refused() -> None:
    with pytest.raises(RuleError) as exc:
        validate_template_spec(TemplateSpec("T", "email", "Hi {frist_name}", "Re: {company}"))
    assert exc.value.field == "body" and "{frist_name}" in str(exc.value)
    with pytest.raises(RuleError, match=r"^subject: .*lone"):
        validate_template_spec(TemplateSpec("T", "email", "Hi", "50% off {"))
    with pytest.raises(RuleError, match=r"^channel: "):
        validate_template_spec(TemplateSpec("T", "pigeon", "Hi"))
    with pytest.raises(RuleError, match=r"^body: is empty"):
        validate_template_spec(TemplateSpec("T", "email", "  "))
    ok = validate_template_spec(TemplateSpec("T", "email", "Hi {first_name}, {{literal}}"))
    assert ok.fields == ("first_name",)


# --------------------------------------------------------------------------- saving


def test_admin_saves_a_policy_and_the_worker_uses_it(ws, local_engine) -> None:  # type: ignore[no-untyped-def]
    admin = ws("admin@x.com")
    p2 = admin.rule_book().sla_policy(2)
    saved = admin.save_sla_policy(replace(
        p2, first_response_minutes=45,
        business_hours=BusinessHoursSpec(True, "America/Chicago", (1, 2, 3, 4), "08:00",
                                         "18:00", (date(2026, 7, 3),))))
    assert saved.id == p2.id  # the seeded default row, edited in place
    again = admin.rule_book().sla_policy(2)
    assert again.first_response_minutes == 45
    assert again.business_hours == BusinessHoursSpec(True, "America/Chicago", (1, 2, 3, 4),
                                                     "08:00", "18:00", (date(2026, 7, 3),))
    with local_engine.connect() as con:
        reasons = con.execute(select(AuditEntry.reason).where(AuditEntry.rule == "rule_book")).all()
    assert reasons == [("P2 SLA policy edited",)]


def test_bad_edits_change_nothing(ws, local_engine) -> None:  # type: ignore[no-untyped-def]
    admin = ws("admin@x.com")
    with pytest.raises(RuleError):
        admin.save_sla_policy(SlaPolicySpec(2, -1))
    with local_engine.connect() as con:
        assert con.execute(select(SlaPolicy.first_response_minutes).where(
            SlaPolicy.priority == 2, SlaPolicy.team_id.is_(None))).scalar() == 60


def test_a_team_leads_edit_is_their_teams_override(ws) -> None:  # type: ignore[no-untyped-def]
    lead = ws("lead@x.com")
    saved = lead.save_sla_policy(replace(lead.rule_book().sla_policy(1), first_response_minutes=3))
    assert saved.team_id == lead.me.team_id
    book = lead.rule_book()
    assert book.sla_policy(1).first_response_minutes == 5  # the default is untouched
    assert book.sla_policy(1, lead.me.team_id).first_response_minutes == 3


def test_cadences_and_templates_round_trip(ws) -> None:  # type: ignore[no-untyped-def]
    admin = ws("admin@x.com")
    admin.save_template(TemplateSpec("Short intro", "email", "Hi {first_name}", "Hello"))
    admin.save_template(TemplateSpec("Quick call", "call", "Ask about {product_interest}"))
    saved = admin.save_cadence(CadenceSpec("Fast", (
        CadenceStepSpec(1, 1, "call", "Quick call", "09:00"),
        CadenceStepSpec(2, 2, "email", "Short intro"),
        CadenceStepSpec(3, 5, "call"))))
    book = admin.rule_book()
    assert book.cadence("Fast").steps == saved.steps
    # Remove a step and change another: matched by position, the removed one tombstoned.
    admin.save_cadence(replace(saved, steps=saved.steps[:2], skip_weekends=False))
    fast = admin.rule_book().cadence("Fast")
    assert [s.position for s in fast.steps] == [1, 2] and fast.skip_weekends is False
    admin.save_cadence(replace(fast, steps=(*fast.steps, CadenceStepSpec(3, 9, "sms"))))
    assert admin.rule_book().cadence("Fast").steps[-1] == CadenceStepSpec(3, 9, "sms")
    with pytest.raises(RuleError, match=r"^name: another cadence"):
        admin.save_cadence(replace(saved, id=None, steps=saved.steps[:1]))
    with pytest.raises(RuleError, match=r"^name: another template"):
        admin.save_template(TemplateSpec("Quick call", "call", "Hi"))
    with pytest.raises(RuleError, match=r"^channel: cadence steps"):
        admin.save_template(replace(admin.rule_book().template("Quick call"), channel="email"))


def test_reps_may_not_change_rules_and_team_leads_not_other_teams(ws) -> None:  # type: ignore[no-untyped-def]
    rep = ws("rep@x.com")
    for call in (lambda: rep.save_sla_policy(P2),
                 lambda: rep.save_template(TemplateSpec("T", "email", "Hi")),
                 lambda: rep.save_cadence(CadenceSpec("C", STEPS))):
        with pytest.raises(ActionRefused, match="team lead or an admin"):
            call()
    ws("admin@x.com").run_rules()  # seeds the shared default cadence
    lead = ws("lead@x.com")
    default = lead.rule_book().cadence("Default inbound")
    with pytest.raises(ActionRefused, match="not your team's"):
        lead.save_cadence(replace(default, recycle_days=30))
    mine = lead.save_cadence(replace(default, id=None, name="Americas inbound"))
    assert mine.team_id == lead.me.team_id


def test_quiet_hours(ws, local_engine) -> None:  # type: ignore[no-untyped-def]
    rep = ws("rep@x.com")
    rep.set_quiet_hours("21:00", "07:30")
    with local_engine.connect() as con:
        row = con.execute(select(User.quiet_hours_start, User.quiet_hours_end)
                          .where(User.email == "rep@x.com")).one()
    assert tuple(row) == ("21:00", "07:30")
    with pytest.raises(RuleError, match=r"^quiet_hours_end: "):
        rep.set_quiet_hours("21:00", None)
    with pytest.raises(RuleError, match=r"^quiet_hours_start: "):
        rep.set_quiet_hours("9pm", "07:00")
    rep.set_quiet_hours(None, None)
    with local_engine.connect() as con:
        assert con.execute(select(User.quiet_hours_start).where(
            User.email == "rep@x.com")).scalar() is None


def test_saved_rules_drive_the_engine(ws, local_engine, clock: FakeClock) -> None:  # type: ignore[no-untyped-def]
    """Rules are data: a shorter P2 target and a team's own cadence take effect
    on the next pass, with no restart."""
    from datetime import timedelta

    from engine_support import a_lead, lead_row

    load_document(local_engine, {"leads": [
        a_lead("NEW", T0, owner="rep@x.com", acknowledged_at=T0)]}, now=T0)
    lead = ws("lead@x.com")
    lead.save_template(TemplateSpec("Quick call", "call", "Hi {first_name}"))
    lead.save_cadence(CadenceSpec("Americas sprint", (
        CadenceStepSpec(1, 1, "call", "Quick call", "11:00"), CadenceStepSpec(2, 3, "email"))))
    lead.save_sla_policy(replace(lead.rule_book().sla_policy(2), first_response_minutes=10))
    first = lead.run_rules(at=T0)
    assert first.counts["cadence:enrolled"] == 1
    row = lead_row(local_engine, "NEW")
    # Day 1 11:00 in New York (EST) = 16:00 UTC, from the team's own cadence.
    assert row.next_step == "Call — cadence step 1: Quick call"
    assert row.next_step_at == T0 + timedelta(hours=1)
    assert lead.run_rules(at=T0 + timedelta(minutes=9)).total == 0
    late = lead.run_rules(at=T0 + timedelta(minutes=10))
    assert late.counts["sla_ladder:notify_owner"] == 1  # the team's 10-minute target
