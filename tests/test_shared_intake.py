"""Intake on the real shared database: JSON, CSV and the intake table;
normalisation, duplicates, classification, routing; bad input rejected by
field with the rest of the batch accepted and nothing half-written; the
route dry run changes nothing."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from pool_support import PoolDb, table_digest

from leadqueue.cli import main
from leadqueue.shared import intake as intake_mod
from leadqueue.shared.csv_import import CsvError, import_csv, parse_mapping
from leadqueue.shared.intake import (
    IntakeRejected,
    intake_payloads,
    parse_payload,
    process_intake,
    submit,
)

pytestmark = pytest.mark.pg

NOW = datetime(2026, 3, 4, 15, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def db(pg_server_url: str) -> Iterator[PoolDb]:
    pool = PoolDb(pg_server_url)
    try:
        # Many leads land on one day here: caps are tested in test_shared_routing.
        pool.ann = pool.person("Ann", daily_capacity=100_000)  # type: ignore[attr-defined]
        pool.bob = pool.person("Bob", daily_capacity=100_000)  # type: ignore[attr-defined]
        pool.lead_ = pool.person("Tia", role="team_lead")  # type: ignore[attr-defined]
        pool.rule("US", "round_robin", match={"countries": ["US"]}, target_team="Alpha")
        pool.rule("Everything else", "pool", position=9, target_team="Alpha")
        yield pool
    finally:
        pool.close()


def good(n: int, **extra: Any) -> dict[str, Any]:
    tag = uuid.uuid4().hex[:10]
    return {"first_name": f"Good{n}", "last_name": "Lead", "email": f"g{n}.{tag}@example.com",
            "country": "US", **extra}


def leads_named(db: PoolDb, prefix: str) -> int:
    return db.one("SELECT count(*) FROM leads WHERE first_name LIKE %s", (prefix + "%",))


# --------------------------------------------------------------------------- checks


@pytest.mark.parametrize(("payload", "field", "words"), [
    ({"last_name": "X", "email": "a@b.com"}, "first_name", "required field is missing"),
    ({"first_name": "A", "last_name": "X", "email": "bob@"}, "email", "not an email"),
    ({"first_name": "A", "last_name": "X", "phone": "12"}, "phone", "not a valid phone"),
    ({"first_name": "A", "last_name": "X", "phone": "555-0100"}, "phone", "+country code"),
    ({"first_name": "x" * 1_048_576, "last_name": "X", "email": "a@b.com"}, "first_name",
     "longer than 120 characters (1048576)"),
    ({"first_name": "A", "last_name": "X", "email": "a@b.com", "message": "m" * 1_048_576},
     "message", "longer than 5000"),
    ({"first_name": "A", "last_name": "X"}, "email", "an email or a phone is required"),
    ({"first_name": "A", "last_name": "X", "email": "a@b.com", "company_size": "big"},
     "company_size", "whole number"),
    ({"first_name": "A", "last_name": "X", "email": "a@b.com", "country": "USA"}, "country",
     "ISO 3166"),
    ({"first_name": "A", "last_name": "X", "email": "a@b.com", "colour": "red"}, "colour",
     "unknown field"),
    ({"first_name": "A", "last_name": "X", "email": "a@b.com", "inquiry": "lunch"},
     "inquiry", "not one of"),
    ("just text", "item", "expected a JSON object"),
])
def test_each_problem_names_its_field(payload: Any, field: str, words: str) -> None:
    with pytest.raises(IntakeRejected) as info:
        parse_payload(payload, now=NOW)
    assert [p.field for p in info.value.problems] == [field]
    assert words in info.value.problems[0].message
    assert len(str(info.value)) < 2000  # a 1 MB value is never echoed back


def test_normalisation() -> None:
    lead = parse_payload({"first_name": " Ada ", "last_name": "L", "email": " Ada@Example.COM ",
                          "phone": "(415) 555-0134", "country": "us"}, now=NOW)
    assert (lead.first_name, lead.email, lead.phone) == ("Ada", "ada@example.com",
                                                         "+14155550134")
    assert (lead.country, lead.timezone, lead.data_issues) == ("US", "America/Los_Angeles", ())
    assert lead.phone_display == "+1 415-555-0134"  # stored beside E.164 for first paint
    de = parse_payload({"first_name": "A", "last_name": "B", "email": "a@b.de",
                        "country": "DE"}, now=NOW)
    assert (de.timezone, de.data_issues) == ("Europe/Berlin", ())
    us = parse_payload({"first_name": "A", "last_name": "B", "email": "a@b.com",
                        "country": "US"}, now=NOW)
    assert (us.timezone, us.data_issues) == ("America/New_York", ("timezone_unknown",))


# --------------------------------------------------------------------------- batches


def test_bad_items_are_rejected_by_field_and_the_rest_accepted(db: PoolDb) -> None:
    before = db.one("SELECT count(*) FROM leads")
    audits = db.one("SELECT count(*) FROM audit_log")
    batch = [
        good(1, message="Call me"),
        {"first_name": "Bad1", "email": "x@y.com"},
        {"first_name": "Bad2", "last_name": "L", "email": "not-an-email"},
        {"first_name": "Bad3", "last_name": "L", "phone": "+1 555"},
        {"first_name": "Bad4", "last_name": "L", "email": "big@x.com", "title": "t" * 1_048_576},
        good(2),
    ]
    summary = intake_payloads(db.engine, batch, now=NOW, source_system="test")
    assert [i.outcome for i in summary.items] == ["created", "rejected", "rejected", "rejected",
                                                  "rejected", "created"]
    assert [[p.field for p in i.problems] for i in summary.items[1:5]] == [
        ["last_name"], ["email"], ["phone"], ["title"]]
    assert db.one("SELECT count(*) FROM leads") == before + 2
    assert leads_named(db, "Bad") == 0
    assert db.one("SELECT count(*) FROM audit_log") == audits + 2
    created = summary.items[0].lead_id
    note = db.q("SELECT kind, direction, body FROM activities WHERE lead_id = %s", (created,))
    assert note == [("note", "inbound", "Call me")]


def test_an_item_that_fails_mid_write_leaves_nothing_behind(db: PoolDb,
                                                            monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    from sqlalchemy.exc import IntegrityError

    from leadqueue.shared.routing_store import Router

    state_before = db.q("SELECT user_id, assigned_count FROM routing_state ORDER BY 1")
    real_record = Router.record
    calls = {"n": 0}

    def record(self: Router, lead_id: uuid.UUID, decision: Any) -> None:
        real_record(self, lead_id, decision)  # the lead and its audit row are written...
        calls["n"] += 1
        if calls["n"] == 2:  # ...then the second item's write fails
            raise IntegrityError("INSERT", {}, Exception("simulated failure"))

    monkeypatch.setattr(Router, "record", record)
    summary = intake_payloads(db.engine, [good(10), good(11, first_name="Broken"), good(12)],
                              now=NOW)
    assert [i.outcome for i in summary.items] == ["created", "rejected", "created"]
    assert "simulated failure" in summary.items[1].error
    assert leads_named(db, "Broken") == 0
    state_after = dict(db.q("SELECT user_id, assigned_count FROM routing_state"))
    # Exactly two assignments were counted, one each (the failed one undone).
    assert sum(state_after.values()) - sum(dict(state_before).values()) == 2
    owners = [i.owner_id for i in summary.items if i.outcome == "created"]
    assert len(set(owners)) == 2


def test_created_leads_are_classified_scored_given_an_sla_and_routed(db: PoolDb) -> None:
    acme_owner = db.person("Olga", team="Accounts")
    db.account("Acme Corp", ["acme.com"], acme_owner)
    summary = intake_payloads(db.engine, [
        good(20, inquiry="demo", phone="+1 212 555 0199"),
        {"first_name": "Acme", "last_name": "Buyer", "email": "buyer@acme.com",
         "country": "GB"},
        {"first_name": "Euro", "last_name": "Lead", "email": f"e{uuid.uuid4().hex}@x.de",
         "country": "DE", "inquiry": "newsletter"},
    ], now=NOW)
    hot, acme, euro = (db.q("SELECT lead_class, priority, score, sla_due_at, owner_id, team_id, "
                            "timezone, routing_explanation, phone_display FROM leads "
                            "WHERE id = %s", (i.lead_id,))[0] for i in summary.items)
    assert hot[8] == "+1 212-555-0199" and acme[8] is None
    assert hot[:4] == ("high_intent", 1, 50, NOW + timedelta(minutes=5))
    assert hot[4] in (db.ann, db.bob) and hot[6] == "America/New_York"
    assert hot[7]["classification"]["why"] == "asked for demo"
    assert acme[0] == "existing_account" and acme[4] == acme_owner
    assert acme[7]["via"] == "account_owner"
    assert euro[:2] == ("early_stage", 3) and euro[4] is None
    assert euro[5] == db.team("Alpha") and euro[7]["via"] == "rule_pool"


def test_a_duplicate_becomes_a_note_on_the_existing_lead_and_notifies_its_owner(
        db: PoolDb) -> None:
    first = intake_payloads(db.engine, [good(30, phone="+1 415 555 0172")],
                            now=NOW).items[0]
    owner = first.owner_id
    assert owner in (db.ann, db.bob)
    pool_lead = intake_payloads(db.engine, [good(31, country="FR")], now=NOW).items[0]
    assert pool_lead.owner_id is None
    email = db.one("SELECT email FROM leads WHERE id = %s", (pool_lead.lead_id,))
    with db.su() as listen:
        listen.execute(f'LISTEN "{db.one("SELECT lq_rep_channel(%s)", (db.lead_,))}"')
        # Same phone written differently, different email: still a duplicate.
        dup = intake_payloads(db.engine, [
            {"first_name": "Again", "last_name": "X", "phone": "(415) 555-0172",
             "country": "US", "inquiry": "pricing", "message": "Still interested"},
            {"first_name": "Pool", "last_name": "Again", "email": email.upper()},
        ], now=NOW + timedelta(hours=1))
        heard = [n.payload for n in listen.notifies(timeout=2, stop_after=1)]
    assert [i.outcome for i in dup.items] == ["duplicate", "duplicate"]
    assert dup.items[0].lead_id == first.lead_id and dup.items[1].lead_id == pool_lead.lead_id
    assert db.one("SELECT count(*) FROM leads WHERE first_name IN ('Again', 'Pool')") == 0
    body = db.one("SELECT body FROM activities WHERE lead_id = %s AND direction = 'inbound' "
                  "ORDER BY at DESC LIMIT 1", (first.lead_id,))
    assert "same phone" in body and "Still interested" in body
    notes = db.q("SELECT recipient_id, level, title FROM notifications WHERE lead_id IN (%s, %s)"
                 " ORDER BY title", (first.lead_id, pool_lead.lead_id))
    assert (owner, "urgent") in [(r, lv) for r, lv, _ in notes]
    assert (db.lead_, "normal") in [(r, lv) for r, lv, _ in notes]  # pool lead: team lead
    assert json.loads(heard[0]) == {"lead_id": str(pool_lead.lead_id), "event": "duplicate"}


# --------------------------------------------------------------------------- intake table


def test_rows_from_another_system_are_processed_once(db: PoolDb) -> None:
    login = db.inst.login("webform")
    with db.su() as con:
        con.execute(f'CREATE ROLE "{login}" LOGIN')
        con.execute(f'GRANT "{db.inst.prefix}intake" TO "{login}"')
    received = NOW - timedelta(minutes=3)
    with psycopg.connect(db.inst.conninfo("webform"), autocommit=True) as sender, \
            db.su() as listen:
        listen.execute("LISTEN lq_intake")
        for i in range(40):
            payload = good(100 + i) if i % 10 else {"first_name": f"Bad{i}", "email": "nope"}
            sender.execute("INSERT INTO intake (id, received_at, source_system, payload) "
                           "VALUES (gen_random_uuid(), %s, 'webform', %s)",
                           (received, json.dumps(payload)))
        # The sender can append but not read or change what it sent.
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            sender.execute("SELECT count(*) FROM intake")
        woke = list(listen.notifies(timeout=2, stop_after=1))
    assert woke and woke[0].channel == "lq_intake"
    results: list[Any] = []
    start = threading.Barrier(2)

    def work() -> None:
        start.wait()
        results.append(process_intake(db.engine, NOW, batch_size=5))

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sum(r.created for r in results) == 36 and sum(r.rejected for r in results) == 4
    rows = db.q("SELECT outcome, error, lead_id, processed_at FROM intake "
                "WHERE source_system = 'webform'")
    assert len(rows) == 40 and all(r[3] == NOW for r in rows)
    rejected = [r for r in rows if r[0] == "rejected"]
    assert len(rejected) == 4 and all(r[1].startswith("last_name: required") for r in rejected)
    assert db.one("SELECT count(DISTINCT lead_id) FROM intake WHERE outcome = 'created'") == 36
    created_at = db.one("SELECT min(l.created_at) FROM leads l JOIN intake i ON i.lead_id = l.id "
                        "WHERE i.source_system = 'webform'")
    assert created_at == received  # speed-to-lead counts from arrival
    assert process_intake(db.engine, NOW).total == 0


# --------------------------------------------------------------------------- CSV


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "leads.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_import_maps_columns_and_names_line_and_column(db: PoolDb, tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:8]
    path = write(tmp_path, (
        "First Name,Last Name,E-mail Address,Employees,Country,Notes\n"
        f"Csv1,Ok,c1.{tag}@example.com,\"1,200\",US,hello\n"
        f"Csv2,Bad,c2.{tag}@example.com,lots,US,\n"
        f"Csv3,Bad,not-an-email,10,US,\n"
        "\n"
        f"Csv4,Ok,c4.{tag}@example.com,,DE,\n"
        f"Csv5,Big,\"{'x' * 1_048_576}\",5,US,\n"))
    mapping = parse_mapping(["E-mail Address=email", "Employees=company_size", "Notes="])
    report = import_csv(db.engine, path, now=NOW, mapping=mapping)
    assert [str(p) for p in report.problems] == [
        "line 3, column 'Employees' (company_size): 'lots' is not a whole number",
        "line 4, column 'E-mail Address' (email): 'not-an-email' is not an email address "
        "(expected name@domain.tld)",
        "line 7, column 'E-mail Address' (email): longer than 254 characters (1048576)",
    ]
    assert sorted(report.accepted) == [2, 6]
    assert db.one("SELECT company_size FROM leads WHERE first_name = 'Csv1'") == 1200
    assert leads_named(db, "Csv") == 2


@pytest.mark.parametrize(("header", "mapping", "words"), [
    ("First Name,Last Name,Email,Colour\n", [], "'Colour' map to no lead field"),
    ("First Name,Email\n", [], "no column gives last_name"),
    ("First Name,Last Name,Email\n", ["Mail=email"], "does not have: 'mail'"),
    ("First Name,Last Name,Email,Mail\n", ["Mail=email"], "both map to email"),
])
def test_csv_mapping_problems_write_nothing(db: PoolDb, tmp_path: Path, header: str,
                                            mapping: list[str], words: str) -> None:
    before = table_digest(db)
    path = write(tmp_path, header + "A,B,a@b.com,x\n")
    with pytest.raises(CsvError, match=words):
        import_csv(db.engine, path, now=NOW, mapping=parse_mapping(mapping))
    assert table_digest(db) == before


# --------------------------------------------------------------------------- CLI


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_intake_and_import(db: PoolDb, tmp_path: Path,
                               capsys: pytest.CaptureFixture[str]) -> None:
    doc = tmp_path / "leads.json"
    doc.write_text(json.dumps([good(40), {"first_name": "Cli", "last_name": "Bad",
                                          "email": "x@"}]))
    code, out, err = cli(capsys, "intake", "--db", db.url, "--json", str(doc))
    assert code == 1
    assert "#1 rejected: email:" in err and "2 items: 1 created, 0 duplicates, 1 rejected" in out
    one = tmp_path / "one.json"
    one.write_text(json.dumps(good(41)))
    code, out, _ = cli(capsys, "intake", "--db", db.url, "--json", str(one), "--report", "json")
    assert code == 0 and json.loads(out)["created"] == 1
    code, _, err = cli(capsys, "intake", "--db", db.url, "--json", str(tmp_path / "none.json"))
    assert code == 2 and "no such file" in err
    csv_file = write(tmp_path, f"first_name,last_name,email\nCsvCli,X,cc{uuid.uuid4().hex}@x.io\n")
    code, out, _ = cli(capsys, "import-csv", "--db", db.url, str(csv_file))
    assert code == 0 and "1 row: 1 created" in out
    code, _, err = cli(capsys, "import-csv", "--db", db.url, str(csv_file), "--map", "bogus")
    assert code == 2 and "COLUMN=FIELD" in err


def test_route_dry_run_prints_the_decision_and_changes_nothing(
        db: PoolDb, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db.update("users", db.bob, available=False)
    try:
        lead = tmp_path / "lead.json"
        lead.write_text(json.dumps({"first_name": "Dry", "last_name": "Run",
                                    "email": "dry@example.com", "country": "US",
                                    "inquiry": "demo"}))
        before = table_digest(db)
        code, out, _ = cli(capsys, "route", "--db", db.url, "--lead-json", str(lead),
                           "--dry-run")
        assert code == 0
        assert "Would go to: Ann (team Alpha)" in out
        assert "Bob" in out and "skipped: marked unavailable" in out
        assert "Classified: high_intent, P1 (asked for demo)" in out
        assert "Dry run: nothing was changed." in out
        code, out, _ = cli(capsys, "route", "--db", db.url, "--lead-json", str(lead),
                           "--dry-run", "--json")
        doc = json.loads(out)
        assert code == 0 and doc["owner"]["name"] == "Ann" and doc["dry_run"] is True
        assert table_digest(db) == before
        code, _, err = cli(capsys, "route", "--db", db.url, "--lead-json", str(lead))
        assert code == 2 and "--dry-run" in err
    finally:
        db.update("users", db.bob, available=True)


def test_dry_run_reports_a_duplicate(db: PoolDb) -> None:
    existing = intake_payloads(db.engine, [good(50)], now=NOW).items[0]
    email = db.one("SELECT email FROM leads WHERE id = %s", (existing.lead_id,))
    before = table_digest(db)
    result, why = intake_mod.dry_run(db.engine, {"first_name": "Z", "last_name": "Z",
                                                 "email": email}, now=NOW)
    assert result.outcome == "duplicate"
    assert why["duplicate_of"]["lead_id"] == str(existing.lead_id)
    assert table_digest(db) == before


def test_submit_helper_round_trip(db: PoolDb) -> None:
    iid = submit(db.engine, good(60), received_at=NOW, source_system="helper")
    assert process_intake(db.engine, NOW).created == 1
    assert db.one("SELECT outcome FROM intake WHERE id = %s", (iid,)) == "created"


def test_the_workers_shared_pass_and_its_wake_up(db: PoolDb) -> None:
    from leadqueue.ids import uuid7
    from leadqueue.shared.intake import shared_pass
    from leadqueue.shared.live import IntakeWaker

    waker = IntakeWaker(db.url)
    try:
        assert waker.wait(0.05) is False
        submit(db.engine, good(70), received_at=NOW, source_system="pass")
        assert waker.wait(5) is True
        stray = uuid7()
        db.q("INSERT INTO leads (id, version, first_name, last_name, email, country, priority, "
             "lead_class, status, created_at, attempts, score, do_not_contact, score_breakdown, "
             "data_issues) VALUES (%s, 1, 'Stray', 'Lead', %s, 'US', 3, "
             "'qualification_needed', 'new', %s, 0, 0, false, '[]', '[]')",
             (stray, f"{stray.hex}@x.io", NOW))
        done = shared_pass(db.engine, NOW)
    finally:
        waker.close()
    assert (done.intake.created, done.routed) == (1, 1)
    assert db.one("SELECT owner_id FROM leads WHERE id = %s", (stray,)) in (db.ann, db.bob)
    assert done.lines()[0].startswith("intake: 1 item")
