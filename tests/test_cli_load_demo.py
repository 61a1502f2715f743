"""``leadqueue demo-db`` and ``leadqueue load`` through the CLI entry point."""

from __future__ import annotations

import io
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from leadqueue.cli import main

NOW = "2026-03-04T15:00:00Z"
Capture = pytest.CaptureFixture[str]


def _count(path: Path, table: str) -> int:
    con = sqlite3.connect(path)
    try:
        return int(con.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    finally:
        con.close()


def _doc() -> dict[str, Any]:
    return {
        "teams": [{"name": "East", "timezone": "America/New_York"}],
        "users": [{"email": "ann@example.com", "name": "Ann", "team": "East"}],
        "leads": [{"external_id": "L1", "first_name": "Ada", "last_name": "Byron",
                   "owner": "ann@example.com", "phone": "+1 212 555 0100"},
                  {"external_id": "L2", "first_name": "Bea", "last_name": "Bad",
                   "phone": "not a phone"}],
        "activities": [{"lead": "L1", "kind": "call", "outcome": "voicemail",
                        "at": "2026-03-04T14:00:00Z", "author": "ann@example.com"}],
    }


def _write(path: Path, doc: Any) -> Path:
    path.write_text(json.dumps(doc, indent=2), encoding="utf-8")
    return path


# -- demo-db -------------------------------------------------------------------


def test_demo_db_writes_a_store_and_says_so(tmp_path: Path, capsys: Capture) -> None:
    path = tmp_path / "demo.db"
    assert main(["demo-db", str(path), "--leads", "60", "--seed", "7", "--now", NOW]) == 0
    out = capsys.readouterr().out
    assert f"wrote {path}" in out and "60 leads" in out and "seed 7" in out
    assert _count(path, "leads") == 60 and _count(path, "users") == 11


def test_demo_db_refuses_an_existing_file_without_force(tmp_path: Path, capsys: Capture) -> None:
    path = tmp_path / "demo.db"
    assert main(["demo-db", str(path), "--leads", "50", "--now", NOW]) == 0
    before = path.read_bytes()
    capsys.readouterr()
    assert main(["demo-db", str(path), "--leads", "70", "--now", NOW]) == 2
    err = capsys.readouterr().err
    assert "already exists" in err and "--force" in err
    assert path.read_bytes() == before
    assert main(["demo-db", str(path), "--leads", "70", "--now", NOW, "--force"]) == 0
    assert _count(path, "leads") == 70


def test_demo_db_never_overwrites_a_foreign_file(tmp_path: Path, capsys: Capture) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("my precious notes\n")
    assert main(["demo-db", str(path), "--force", "--leads", "50"]) == 2
    assert "not a LeadQueue database" in capsys.readouterr().err
    assert path.read_text() == "my precious notes\n"


@pytest.mark.parametrize(("args", "words"), [
    (["--now", "tomorrow"], "--now"),
    (["--now", "2026-03-04T15:00:00"], "no UTC offset"),
])
def test_demo_db_bad_options_exit_2(tmp_path: Path, capsys: Capture, args: list[str],
                                    words: str) -> None:
    path = tmp_path / "d.db"
    assert main(["demo-db", str(path), *args]) == 2
    assert words in capsys.readouterr().err
    assert not path.exists()


@pytest.mark.parametrize("leads", ["many", "-5"])
def test_demo_db_bad_lead_count_is_a_usage_error(tmp_path: Path, capsys: Capture,
                                                 leads: str) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["demo-db", str(tmp_path / "d.db"), "--leads", leads])
    assert exc.value.code == 2
    assert "--leads" in capsys.readouterr().err


def test_demo_db_wants_a_file_not_a_server(capsys: Capture) -> None:
    assert main(["demo-db", "postgresql://nobody@127.0.0.1:1/x"]) == 2
    assert "local store file" in capsys.readouterr().err


def test_demo_db_on_a_folder_exits_2(tmp_path: Path, capsys: Capture) -> None:
    assert main(["demo-db", str(tmp_path)]) == 2
    assert "is a folder" in capsys.readouterr().err


# -- load ----------------------------------------------------------------------


def test_load_creates_the_store_and_prints_a_summary(tmp_path: Path, capsys: Capture) -> None:
    store = tmp_path / "s.db"
    assert main(["load", "--db", str(store), str(_write(tmp_path / "d.json", _doc()))]) == 0
    out = capsys.readouterr().out.strip()
    assert out.startswith("loaded 1 teams, 1 users, 2 leads (1 in the pool, 1 flagged), "
                          "1 activities into ")
    assert _count(store, "leads") == 2


def test_load_accepts_a_sqlite_url(tmp_path: Path, capsys: Capture) -> None:
    store = tmp_path / "u.db"
    doc = _write(tmp_path / "d.json", _doc())
    assert main(["load", "--db", f"sqlite:///{store}", str(doc)]) == 0
    assert _count(store, "teams") == 1


def test_load_reads_standard_input(tmp_path: Path, capsys: Capture,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    store = tmp_path / "s.db"
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(_doc())))
    assert main(["load", "--db", str(store), "-"]) == 0
    assert _count(store, "activities") == 1


def test_load_problems_by_position_and_field_write_nothing(tmp_path: Path,
                                                           capsys: Capture) -> None:
    store = tmp_path / "s.db"
    doc = _doc()
    doc["leads"][0]["owner"] = "ghost@example.com"
    doc["leads"][1]["external_id"] = "L1"
    doc["activities"][0]["at"] = "noonish"
    assert main(["load", "--db", str(store), str(_write(tmp_path / "d.json", doc))]) == 2
    err = capsys.readouterr().err
    assert "3 problems in the document; nothing was loaded" in err
    assert "leads[0].owner: no user 'ghost@example.com'" in err
    assert "leads[1].external_id: duplicate external_id 'L1'" in err
    assert "activities[0].at:" in err
    assert not store.exists()  # a store made just for this load is removed again


def test_load_problems_leave_an_existing_store_unchanged(tmp_path: Path, capsys: Capture) -> None:
    store = tmp_path / "s.db"
    assert main(["load", "--db", str(store), str(_write(tmp_path / "a.json", _doc()))]) == 0
    more = {"leads": [{"external_id": "L3", "first_name": "C", "last_name": "D",
                       "owner": "ann@example.com"},
                      {"external_id": "L4", "first_name": "E", "last_name": "F",
                       "priority": 9}]}
    assert main(["load", "--db", str(store), str(_write(tmp_path / "b.json", more))]) == 2
    assert "leads[1].priority: 9 is out of range" in capsys.readouterr().err
    assert _count(store, "leads") == 2


def test_load_into_a_demo_refers_to_its_people(tmp_path: Path, capsys: Capture) -> None:
    store = tmp_path / "demo.db"
    assert main(["demo-db", str(store), "--leads", "40", "--now", NOW]) == 0
    doc = {"leads": [{"external_id": "NEW-1", "first_name": "Nia", "last_name": "New",
                      "owner": "alex.rivera@leadqueue.example", "priority": 1,
                      "lead_class": "high_intent", "phone": "+49 30 901820"}]}
    assert main(["load", "--db", str(store), str(_write(tmp_path / "d.json", doc))]) == 0
    assert "loaded 0 teams, 0 users, 1 leads" in capsys.readouterr().out
    assert _count(store, "leads") == 41


@pytest.mark.parametrize(("text", "where"), [
    ('{"teams": [\n  {"name": "A",}\n]}', "line 2, column 16"),
    ('{"teams": [', "line 1, column 12"),
    ("", "is empty"),
])
def test_load_malformed_json_names_line_and_column(tmp_path: Path, capsys: Capture, text: str,
                                                   where: str) -> None:
    store = tmp_path / "s.db"
    bad = tmp_path / "bad.json"
    bad.write_text(text)
    assert main(["load", "--db", str(store), str(bad)]) == 2
    err = capsys.readouterr().err
    assert where in err and str(bad) in err
    assert not store.exists()


def test_load_missing_file_exits_2(tmp_path: Path, capsys: Capture) -> None:
    assert main(["load", "--db", str(tmp_path / "s.db"), str(tmp_path / "none.json")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_load_into_a_non_database_file_exits_2_and_leaves_it(tmp_path: Path,
                                                             capsys: Capture) -> None:
    target = tmp_path / "leads.csv"
    target.write_text("name,phone\nAda,+4420\n")
    before = target.read_bytes()
    doc = _write(tmp_path / "d.json", _doc())
    assert main(["load", "--db", str(target), str(doc)]) == 2
    assert "not a LeadQueue database" in capsys.readouterr().err
    assert target.read_bytes() == before


def test_load_needs_db(tmp_path: Path, capsys: Capture) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["load", str(_write(tmp_path / "d.json", _doc()))])
    assert exc.value.code == 2
    assert "--db" in capsys.readouterr().err


def test_load_into_a_shared_database_url(pg_engine: Any, pg_database_url: str, tmp_path: Path,
                                         capsys: Capture) -> None:
    import uuid

    from sqlalchemy import text

    tag = uuid.uuid4().hex[:8]
    doc = _doc()
    doc["teams"][0]["name"] = f"East {tag}"
    doc["users"][0].update(email=f"ann-{tag}@example.com", team=f"East {tag}")
    doc["leads"][0].update(external_id=f"L1-{tag}", owner=f"ann-{tag}@example.com")
    doc["leads"][1]["external_id"] = f"L2-{tag}"
    doc["activities"][0].update(lead=f"L1-{tag}", author=f"ann-{tag}@example.com")
    path = _write(tmp_path / "d.json", doc)
    assert main(["load", "--db", pg_database_url, str(path)]) == 0
    out = capsys.readouterr().out
    assert "loaded 1 teams, 1 users, 2 leads" in out and "postgresql://" in out
    with pg_engine.connect() as con:
        attempts = con.execute(text("SELECT attempts FROM leads WHERE external_id = :x"),
                               {"x": f"L1-{tag}"}).scalar()
    assert attempts == 1
    # The same document again: every row is a duplicate, nothing is written.
    assert main(["load", "--db", pg_database_url, str(path)]) == 2
    assert "already exists in this database" in capsys.readouterr().err
