"""``leadqueue queue`` (and ``leadqueue people``): the JSON shape, --at,
--limit per list, the table, flagged leads listed, and bad input as one line
with exit code 2."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from leadqueue.cli import main
from leadqueue.commands.queue import ITEM_KEYS

DOC: dict[str, Any] = {
    "teams": [{"name": "East", "timezone": "America/New_York"}],
    "users": [{"email": "ada@x.test", "name": "Ada Rep", "team": "East"},
              {"email": "tim@x.test", "name": "Tim Lead", "team": "East", "role": "team_lead"}],
    "leads": [
        # Callback promised for 10:03 New York time (15:03 UTC).
        {"external_id": "CB", "first_name": "Cal", "last_name": "Back", "company": "Acme",
         "owner": "ada@x.test", "priority": 2, "created_at": "2026-03-01T10:00:00Z",
         "first_action_at": "2026-03-01T11:00:00Z", "next_step_kind": "callback",
         "next_step_at": "2026-03-04T15:03:00Z", "phone": "+1 212 555 0101"},
        {"external_id": "P1", "first_name": "New", "last_name": "Lead", "company": "Beta",
         "owner": "ada@x.test", "priority": 1, "created_at": "2026-03-04T14:58:00Z",
         "source": "demo_request", "phone": "+44 20 7946 0018"},
        {"external_id": "TOKYO", "first_name": "Night", "last_name": "Owl",
         "owner": "ada@x.test", "priority": 1, "created_at": "2026-03-04T14:00:00Z",
         "phone": "+81 3-1234-5678"},
        {"external_id": "BADPHONE", "first_name": "Bad", "last_name": "Phone",
         "owner": "ada@x.test", "priority": 3, "created_at": "2026-03-04T09:00:00Z",
         "phone": "call me maybe"},
        {"external_id": "MARS", "first_name": "Odd", "last_name": "Zone", "owner": "ada@x.test",
         "priority": 3, "created_at": "2026-03-01T09:00:00Z",
         "first_action_at": "2026-03-01T10:00:00Z", "next_step_kind": "email",
         "next_step_at": "2026-03-05T15:00:00Z", "timezone": "Mars/Base"},
        {"external_id": "SNOOZED", "first_name": "Sleepy", "last_name": "Lead",
         "owner": "ada@x.test", "created_at": "2026-03-04T10:00:00Z",
         "snoozed_until": "2026-03-04T18:00:00Z", "timezone": "Europe/Berlin"},
        {"external_id": "DNC", "first_name": "Do", "last_name": "Not", "owner": "ada@x.test",
         "created_at": "2026-03-04T10:00:00Z", "do_not_contact": True},
        {"external_id": "TIM", "first_name": "Not", "last_name": "Hers", "owner": "tim@x.test",
         "created_at": "2026-03-04T10:00:00Z"},
    ],
}
AT = "2026-03-04T15:00:00Z"  # 10:00 in New York, 15:00 in London, 00:00 in Tokyo


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "q.db"
    doc = tmp_path / "doc.json"
    doc.write_text(json.dumps(DOC))
    assert main(["load", "--db", str(path), str(doc)]) == 0
    return path


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    capsys.readouterr()
    assert main(["queue", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def ext(items: list[dict[str, Any]]) -> list[str]:
    return [i["external_id"] for i in items]


def test_json_shape(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = run_json(capsys, "--db", str(db), "--rep", "ada@x.test", "--at", AT)
    assert list(out) == ["callable", "later", "upcoming"]
    assert ext(out["callable"]) == ["CB", "P1", "BADPHONE"]
    assert ext(out["later"]) == ["TOKYO"]
    assert ext(out["upcoming"]) == ["SNOOZED", "MARS"]
    for name, items in out.items():
        for item in items:
            assert tuple(item) == ITEM_KEYS
            assert isinstance(item["reasons"], list) and item["reasons"]
            assert all(isinstance(r, str) for r in item["reasons"])
            assert isinstance(item["data_issues"], list)
            for key in ("sla_due_at", "next_step_at", "local_time", "window_opens_at",
                        "due_at", "snoozed_until"):
                if item[key] is not None:
                    assert datetime.fromisoformat(item[key]).tzinfo is not None, (key, item)
            if name == "callable":
                assert item["tier"] in (1, 2, 3) and item["window_opens_at"] is None
            elif name == "later":
                assert item["tier"] in (1, 2, 3) and item["window_opens_at"] is not None
            else:
                assert item["tier"] is None and item["window_opens_at"] is None
    cb, p1 = out["callable"][0], out["callable"][1]
    assert cb == {**cb, "name": "Cal Back", "company": "Acme", "priority": 2, "status": "new",
                  "tier": 1, "next_step_at": "2026-03-04T15:03:00+00:00",
                  "local_time": "2026-03-04T10:00:00-05:00", "timezone": "America/New_York",
                  "phone": "+12125550101", "score": 0}
    assert cb["reasons"][0] == "Callback promised for 10:03 (their time)"
    assert p1["tier"] == 2 and p1["sla_due_at"] == "2026-03-04T15:03:00+00:00"
    assert p1["reasons"][0] == "P1 demo request — first response due in 3 min"
    assert p1["local_time"] == "2026-03-04T15:00:00+00:00"
    tokyo = out["later"][0]
    assert tokyo["window_opens_at"] == "2026-03-04T23:00:00+00:00"
    assert tokyo["local_time"] == "2026-03-05T00:00:00+09:00"
    snoozed = out["upcoming"][0]
    assert snoozed["due_at"] == snoozed["snoozed_until"] == "2026-03-04T18:00:00+00:00"


def test_flagged_leads_are_listed_with_their_flags(db: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    out = run_json(capsys, "--db", str(db), "--rep", "ada@x.test", "--at", AT)
    items = {i["external_id"]: i for lst in out.values() for i in lst}
    assert set(items["BADPHONE"]["data_issues"]) == {"phone_unparseable", "timezone_unknown"}
    assert items["BADPHONE"]["phone"] == "call me maybe"
    assert items["BADPHONE"]["local_time"] is None
    assert items["MARS"]["data_issues"] == ["timezone_unknown"]
    assert "DNC" not in items and "TIM" not in items


def test_at_changes_the_ranking(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # At 08:00 UTC (03:00 in New York, 08:00 in London, 17:00 in Tokyo) the
    # callback is not due yet; Tokyo's window is open, London's just opened.
    early = run_json(capsys, "--db", str(db), "--rep", "ada@x.test", "--at",
                     "2026-03-04T09:00:00+01:00")
    assert ext(early["upcoming"]) == ["CB", "SNOOZED", "MARS"]
    assert ext(early["callable"]) == ["TOKYO", "P1", "BADPHONE"]
    assert early["later"] == []
    assert early["upcoming"][0]["due_at"] == "2026-03-04T15:03:00+00:00"
    # A local offset means the same instant as its UTC form.
    a = run_json(capsys, "--db", str(db), "--rep", "ada@x.test", "--at",
                 "2026-03-04T10:00:00-05:00")
    b = run_json(capsys, "--db", str(db), "--rep", "ada@x.test", "--at", AT)
    assert a == b


def test_limit_applies_to_each_list(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = run_json(capsys, "--db", str(db), "--rep", "ada@x.test", "--at", AT, "--limit", "1")
    assert [len(out[k]) for k in ("callable", "later", "upcoming")] == [1, 1, 1]
    assert ext(out["callable"]) == ["CB"] and ext(out["upcoming"]) == ["SNOOZED"]
    none = run_json(capsys, "--db", str(db), "--rep", "ada@x.test", "--at", AT, "--limit", "0")
    assert none == {"callable": [], "later": [], "upcoming": []}


def test_table(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["queue", "--db", str(db), "--rep", "ADA@x.test", "--at", AT]) == 0
    out = capsys.readouterr().out
    assert "Queue of Ada Rep <ada@x.test> at 2026-03-04 15:00 UTC: 3 callable now, 1 later, " \
           "2 upcoming" in out
    lines = out.splitlines()
    callable_at = lines.index("CALLABLE NOW (3)")
    assert "Cal Back" in lines[callable_at + 2] and "Wed 10:00 EST" in lines[callable_at + 2]
    assert "Callback promised for 10:03 (their time)" in lines[callable_at + 2]
    bad = next(line for line in lines if "Bad Phone" in line)
    assert "phone unparseable" in bad and "unknown" in bad
    assert "opens in 8 h" in next(line for line in lines if "Night Owl" in line)


@pytest.mark.parametrize(("args", "needle"), [
    (["--at", "tomorrow"], "--at: 'tomorrow' is not an ISO 8601 time"),
    (["--at", "2026-03-04T15:00:00"], "has no UTC offset"),
    (["--limit", "-1"], "--limit: -1 is negative"),
    (["--limit", "ten"], "--limit: 'ten' is not a whole number"),
])
def test_bad_input_is_one_line_exit_2(db: Path, capsys: pytest.CaptureFixture[str],
                                      args: list[str], needle: str) -> None:
    capsys.readouterr()
    assert main(["queue", "--db", str(db), "--rep", "ada@x.test", *args]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and needle in captured.err, captured.err


def test_unknown_rep_names_the_database_and_how_to_list_people(
        db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["queue", "--db", str(db), "--rep", "nobody@x.test"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "'nobody@x.test'" in err and str(db) in err
    assert f"leadqueue people --db {db}" in err
    assert main(["people", "--db", str(db)]) == 0
    people = capsys.readouterr().out
    assert "ada@x.test" in people and "team_lead" in people


def test_missing_database_is_not_created(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "none.db"
    assert main(["queue", "--db", str(path), "--rep", "ada@x.test"]) == 2
    assert "no LeadQueue database" in capsys.readouterr().err
    assert not path.exists()


def test_people_json(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["people", "--db", str(db), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == [
        {"email": "ada@x.test", "name": "Ada Rep", "role": "rep", "team": "East"},
        {"email": "tim@x.test", "name": "Tim Lead", "role": "team_lead", "team": "East"},
    ]
