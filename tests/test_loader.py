"""The load format (docs/load-format.md): sections, defaults, derived fields,
all-or-nothing validation with problems named by position and field, and bad
contact data stored and flagged rather than refused."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import pytest
from conftest import T0
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from leadqueue.enums import LeadClass, LeadStatus, Role
from leadqueue.loader import LoadError, load_document
from leadqueue.model import Activity, Lead, Team, User


def _doc() -> dict[str, Any]:
    return {
        "teams": [{"name": "East", "timezone": "America/New_York"},
                  {"name": "EMEA", "timezone": "Europe/London",
                   "calling_window_start": "09:00", "calling_window_end": "18:00"}],
        "users": [
            {"email": "Ann@Example.com", "name": "Ann Rep", "team": "East",
             "backup": "bob@example.com", "daily_capacity": 30, "territory": "US-East"},
            {"email": "bob@example.com", "name": "Bob Rep", "team": "East", "available": False},
            {"email": "lea@example.com", "name": "Lea Lead", "role": "team_lead", "team": "EMEA",
             "timezone": "Europe/Berlin"},
        ],
        "leads": [
            {"external_id": "L1", "first_name": "Ada", "last_name": "Byron",
             "company": "Engines Ltd", "phone": "+44 20 7946 0000", "owner": "ann@example.com",
             "priority": 1, "lead_class": "high_intent", "status": "working",
             "created_at": "2026-03-01T10:00:00Z", "next_step": "Call back",
             "next_step_kind": "callback", "next_step_at": "2026-03-04T16:00:00+01:00",
             "company_size": 250, "product_interest": "Dialer", "source": "Demo request"},
            {"external_id": "L2", "first_name": "Grace", "last_name": "Hopper",
             "phone": "(212) 555-0100", "country": "US"},
        ],
        "activities": [
            {"lead": "L1", "kind": "email", "at": "2026-03-01T10:03:00Z",
             "author": "ann@example.com"},
            {"lead": "L1", "kind": "call", "outcome": "no_answer", "duration_s": 20,
             "at": "2026-03-01T10:05:00Z", "author": "ann@example.com"},
            {"lead": "L1", "kind": "note", "at": "2026-03-02T09:00:00Z", "body": "left word"},
            {"lead": "L1", "kind": "email", "direction": "inbound",
             "at": "2026-03-02T11:00:00Z", "body": "call me"},
        ],
    }


def _count(engine: Any, model: Any) -> int:
    with Session(engine) as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def _lead(engine: Any, ext: str) -> Lead:
    with Session(engine) as s:
        lead = s.scalar(select(Lead).where(Lead.external_id == ext))
        assert lead is not None
        return lead


def test_every_section_loads_with_its_fields(local_engine: Any) -> None:
    report = load_document(local_engine, _doc(), now=T0)
    assert (report.teams, report.users, report.leads, report.activities) == (2, 3, 2, 4)
    assert report.pool == 1 and report.flagged == 0
    assert "loaded 2 teams, 3 users, 2 leads" in report.summary()
    with Session(local_engine) as s:
        teams = {t.name: t for t in s.scalars(select(Team))}
        assert teams["EMEA"].calling_window_start == "09:00"
        assert teams["East"].calling_window_end == "20:00"  # default
        users = {u.email: u for u in s.scalars(select(User))}
        ann, bob, lea = users["ann@example.com"], users["bob@example.com"], users["lea@example.com"]
        assert ann.backup_id == bob.id  # a backup may be defined further down
        assert ann.daily_capacity == 30 and ann.territory == "US-East"
        assert bob.available is False and bob.daily_capacity == 20
        assert ann.role == Role.REP and lea.role == Role.TEAM_LEAD
        assert ann.timezone == "America/New_York"  # the team's zone by default
        assert lea.timezone == "Europe/Berlin"
        assert ann.team_id == teams["East"].id
    lead = _lead(local_engine, "L1")
    assert lead.phone == "+442079460000" and lead.timezone == "Europe/London"
    assert lead.country == "GB"
    assert lead.status == LeadStatus.WORKING and lead.priority == 1
    assert lead.next_step_at == T0.replace(hour=15)  # 16:00+01:00
    assert lead.team_id is not None  # the owner's team
    assert lead.assigned_at == lead.created_at  # owned: assigned when created


def test_defaults_for_absent_fields(local_engine: Any) -> None:
    doc = {"teams": [{"name": "T"}], "users": [{"email": "u@example.com", "name": "U"}],
           "leads": [{"external_id": "X", "first_name": "A", "last_name": "B"}],
           "activities": [{"lead": "X"}]}
    load_document(local_engine, doc, now=T0)
    with Session(local_engine) as s:
        team = s.scalar(select(Team))
        user = s.scalar(select(User))
        act = s.scalar(select(Activity))
    assert team is not None and team.timezone == "UTC"
    assert user is not None and user.role == Role.REP and user.team_id is None
    assert user.available is True and user.daily_capacity == 20
    lead = _lead(local_engine, "X")
    assert lead.status == LeadStatus.NEW and lead.priority == 3
    assert lead.lead_class == LeadClass.QUALIFICATION_NEEDED
    assert lead.created_at == T0 and lead.owner_id is None and lead.assigned_at is None
    assert lead.attempts == 0 and lead.first_action_at is None and lead.score == 0
    assert lead.do_not_contact is False and lead.data_issues == []
    assert act is not None and act.kind.value == "note" and act.at == T0
    assert act.direction.value == "outbound"


def test_first_last_action_and_attempts_derive_from_outbound_touches(local_engine: Any) -> None:
    load_document(local_engine, _doc(), now=T0)
    lead = _lead(local_engine, "L1")
    # Two outbound touches; the note and the inbound reply are not attempts.
    assert lead.attempts == 2
    assert lead.first_action_at == T0.replace(day=1, hour=10, minute=3)
    assert lead.last_action_at == T0.replace(day=1, hour=10, minute=5)
    assert _lead(local_engine, "L2").attempts == 0


def test_given_first_last_action_and_attempts_win(local_engine: Any) -> None:
    doc = _doc()
    doc["leads"][0].update(first_action_at="2026-03-01T10:01:00Z",
                           last_action_at="2026-03-03T10:00:00Z", attempts=5)
    load_document(local_engine, doc, now=T0)
    lead = _lead(local_engine, "L1")
    assert lead.attempts == 5
    assert lead.first_action_at == T0.replace(day=1, hour=10, minute=1)
    assert lead.last_action_at == T0.replace(day=3, hour=10, minute=0)


@pytest.mark.parametrize(("change", "where", "words"), [
    (lambda d: d["leads"][0].update(owner="nobody@example.com"), "leads[0].owner",
     "no user 'nobody@example.com'"),
    (lambda d: d["leads"][1].update(external_id="L1"), "leads[1].external_id",
     "duplicate external_id 'L1'"),
    (lambda d: d["leads"][0].update(status="hot"), "leads[0].status", "is not one of"),
    (lambda d: d["leads"][1].update(lead_class="vip"), "leads[1].lead_class", "is not one of"),
    (lambda d: d["activities"][1].update(at="yesterday"), "activities[1].at",
     "not an ISO 8601 time"),
    (lambda d: d["activities"][1].update(at="2026-03-01T10:05:00"), "activities[1].at",
     "no UTC offset"),
    (lambda d: d["leads"][0].update(priority=7), "leads[0].priority", "out of range"),
    (lambda d: d["leads"][0].update(priority="1"), "leads[0].priority", "expected a whole number"),
    (lambda d: d["users"][0].update(role="boss"), "users[0].role", "is not one of"),
    (lambda d: d["users"][0].update(team="West"), "users[0].team", "no team 'West'"),
    (lambda d: d["activities"][0].update(lead="L9"), "activities[0].lead",
     "no lead with external_id 'L9'"),
    (lambda d: d["leads"][1].pop("last_name"), "leads[1].last_name", "required"),
    (lambda d: d["leads"][1].update(colour="red"), "leads[1].colour", "unknown field"),
    (lambda d: d["users"].append(dict(d["users"][1])), "users[3].email", "defined twice"),
])
def test_a_bad_field_is_named_and_nothing_is_written(local_engine: Any, change: Any, where: str,
                                                     words: str) -> None:
    doc = _doc()
    change(doc)
    with pytest.raises(LoadError) as exc:
        load_document(local_engine, doc, now=T0)
    assert any(p.startswith(f"{where}:") and words in p for p in exc.value.problems), \
        exc.value.problems
    assert "nothing was loaded" in str(exc.value)
    for model in (Team, User, Lead, Activity):
        assert _count(local_engine, model) == 0


def test_every_problem_is_reported_at_once(local_engine: Any) -> None:
    doc = _doc()
    doc["leads"][0]["owner"] = "ghost@example.com"
    doc["leads"][1]["status"] = "done"
    doc["activities"][0]["at"] = "soon"
    with pytest.raises(LoadError) as exc:
        load_document(local_engine, doc, now=T0)
    wheres = [p.split(":")[0] for p in exc.value.problems]
    assert {"leads[0].owner", "leads[1].status", "activities[0].at"} <= set(wheres)
    assert "3 problems" in str(exc.value)


def test_a_document_that_is_not_an_object_is_refused(local_engine: Any) -> None:
    with pytest.raises(LoadError) as exc:
        load_document(local_engine, [1, 2], now=T0)
    assert exc.value.problems[0].startswith("document:")
    with pytest.raises(LoadError) as exc:
        load_document(local_engine, {"leeds": []}, now=T0)
    assert exc.value.problems[0].startswith("leeds: unknown section")


def test_bad_phone_and_unknown_zone_are_stored_and_flagged(local_engine: Any) -> None:
    doc = _doc()
    doc["leads"][0]["phone"] = "call the front desk"
    doc["leads"][1]["timezone"] = "Mars/Olympus_Mons"
    report = load_document(local_engine, doc, now=T0)
    assert report.flagged == 2
    bad_phone = _lead(local_engine, "L1")
    assert bad_phone.phone == "call the front desk"  # kept as given
    assert "phone_unparseable" in bad_phone.data_issues
    bad_zone = _lead(local_engine, "L2")
    assert bad_zone.timezone == "Mars/Olympus_Mons"
    assert bad_zone.data_issues == ["timezone_unknown"]
    assert bad_zone.phone == "+12125550100"


def test_zone_derived_from_the_phone_and_given_zone_wins(local_engine: Any) -> None:
    doc = _doc()
    doc["leads"][1]["phone"] = "+61 2 9374 4000"
    doc["leads"][1].pop("country")
    doc["leads"][0]["timezone"] = "Europe/Dublin"
    load_document(local_engine, doc, now=T0)
    au = _lead(local_engine, "L2")
    assert au.timezone == "Australia/Sydney" and au.country == "AU"
    assert _lead(local_engine, "L1").timezone == "Europe/Dublin"


def test_second_load_refers_to_what_the_database_holds(local_engine: Any) -> None:
    load_document(local_engine, _doc(), now=T0)
    more = {"leads": [{"external_id": "L3", "first_name": "Alan", "last_name": "Turing",
                       "owner": "bob@example.com"}],
            "activities": [{"lead": "L1", "kind": "sms", "author": "ann@example.com",
                            "at": (T0 - timedelta(hours=1)).isoformat()}]}
    report = load_document(local_engine, more, now=T0)
    assert report.leads == 1 and report.activities == 1
    assert _lead(local_engine, "L3").team_id == _lead(local_engine, "L1").team_id
    again = copy.deepcopy(more)
    again["activities"] = []
    with pytest.raises(LoadError) as exc:
        load_document(local_engine, again, now=T0)
    assert exc.value.problems == ["leads[0].external_id: a lead 'L3' already exists in this "
                                  "database"]
    assert _count(local_engine, Lead) == 3


def test_outcome_is_for_calls_only(local_engine: Any) -> None:
    doc = _doc()
    doc["activities"][0]["outcome"] = "connected"
    with pytest.raises(LoadError) as exc:
        load_document(local_engine, doc, now=T0)
    assert exc.value.problems == ["activities[0].outcome: an outcome is for calls only, not email"]


def test_ids_come_from_the_given_factory(local_engine: Any) -> None:
    import uuid

    made: list[uuid.UUID] = []

    def new_id(_at: Any) -> uuid.UUID:
        made.append(uuid.UUID(int=len(made) + 1))
        return made[-1]

    load_document(local_engine, _doc(), now=T0, new_id=new_id)
    with Session(local_engine) as s:
        ids = set(s.scalars(select(Lead.id))) | set(s.scalars(select(Team.id)))
    assert ids <= set(made) and len(made) == 2 + 3 + 2 + 4


def _doc_page() -> str:
    from pathlib import Path

    return (Path(__file__).resolve().parent.parent / "docs" / "load-format.md").read_text(
        encoding="utf-8")


def test_the_documented_example_loads_as_described(local_engine: Any) -> None:
    import json
    import re

    example = re.search(r"```json\n(.*?)```", _doc_page(), flags=re.S)
    assert example is not None
    load_document(local_engine, json.loads(example.group(1)), now=T0)
    first = _lead(local_engine, "CRM-1001")
    assert first.attempts == 2 and first.phone == "+12125550142"
    assert first.first_action_at == T0.replace(day=3, hour=14, minute=4)
    assert first.last_action_at == T0.replace(day=3, hour=14, minute=6)
    assert first.timezone == "America/New_York"
    pooled = _lead(local_engine, "CRM-1002")
    assert pooled.owner_id is None and pooled.timezone == "Europe/Berlin"
    assert pooled.created_at == T0 and pooled.data_issues == []
    with Session(local_engine) as s:
        team = s.scalar(select(Team).where(Team.name == "EMEA & APAC"))
        assert team is not None and pooled.team_id == team.id
        assert first.team_id == s.scalar(select(Team.id).where(Team.name == "Americas"))


def test_every_field_of_the_format_is_documented() -> None:
    from leadqueue.loader import ACTIVITY_FIELDS, LEAD_FIELDS, TEAM_FIELDS, USER_FIELDS

    page = _doc_page()
    for title, fields in (("teams", TEAM_FIELDS), ("users", USER_FIELDS),
                          ("leads", LEAD_FIELDS), ("activities", ACTIVITY_FIELDS)):
        section = page.split(f"## `{title}`")[1].split("\n## ")[0]
        for name in fields:
            assert f"| `{name}` |" in section, f"{title}.{name} is not in docs/load-format.md"
