"""The demo database: deterministic, realistic, valid by the playbook, alive at "now"."""

from __future__ import annotations

import sqlite3
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers
import pytest
from conftest import T0

from leadqueue.contact import normalize_phone
from leadqueue.demo import write_demo_db
from leadqueue.enums import LeadClass, LeadStatus
from leadqueue.rules.scoring import BASE_BY_CLASS

N = 300


def _rows(path: Path, sql: str, *args: Any) -> list[sqlite3.Row]:
    con = sqlite3.connect(path)
    con.row_factory = sqlite3.Row
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def _when(text: str | None) -> datetime | None:
    if text is None:
        return None
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=ZoneInfo("UTC"))


def _dump(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows, in a stable order."""
    con = sqlite3.connect(path)
    try:
        tables = [r[0] for r in con.execute(
            "SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
        return {t: sorted(con.execute(f'SELECT * FROM "{t}"').fetchall(), key=repr)
                for t in tables}
    finally:
        con.close()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("demo") / "demo.db"
    write_demo_db(path, leads=N, seed=1, now=T0)
    return path


def test_same_seed_and_anchor_give_identical_tables(demo: Path, tmp_path: Path) -> None:
    again = tmp_path / "again.db"
    write_demo_db(again, leads=N, seed=1, now=T0)
    first, second = _dump(demo), _dump(again)
    assert first == second
    assert len(first["leads"]) == N and len(first["activities"]) > N


def test_another_seed_or_anchor_gives_other_data(demo: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    write_demo_db(other, leads=N, seed=2, now=T0)
    assert _dump(other)["leads"] != _dump(demo)["leads"]
    later = tmp_path / "later.db"
    write_demo_db(later, leads=N, seed=1, now=T0 + timedelta(hours=1))
    assert _dump(later)["leads"] != _dump(demo)["leads"]


def test_team_roles_and_backups(demo: Path) -> None:
    teams = {r["id"]: r["name"] for r in _rows(demo, "SELECT id, name FROM teams")}
    assert len(teams) == 2
    users = _rows(demo, "SELECT id, email, role, team_id, backup_id, timezone FROM users")
    roles = Counter(u["role"] for u in users)
    assert roles == {"rep": 8, "team_lead": 2, "admin": 1}
    by_id = {u["id"]: u for u in users}
    for team_id in teams:
        members = [u for u in users if u["team_id"] == team_id]
        assert Counter(u["role"] for u in members) == {"rep": 4, "team_lead": 1}
    for rep in (u for u in users if u["role"] == "rep"):
        backup = by_id[rep["backup_id"]]
        assert backup["team_id"] == rep["team_id"] and backup["id"] != rep["id"]
    assert all(u["timezone"] for u in users)


def test_every_phone_is_valid_e164_and_its_zone_matches(demo: Path) -> None:
    leads = _rows(demo, "SELECT phone, timezone, country, data_issues FROM leads")
    assert len(leads) == N
    for lead in leads:
        number = phonenumbers.parse(lead["phone"], None)
        assert phonenumbers.is_valid_number(number), lead["phone"]
        assert phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) \
            == lead["phone"]
        assert phonenumbers.region_code_for_number(number) == lead["country"]
        assert normalize_phone(lead["phone"]).timezone == lead["timezone"]
        assert lead["data_issues"] == "[]"
    prefixes = {"US": "America/", "GB": "Europe/London", "DE": "Europe/Berlin",
                "AU": "Australia/"}
    for lead in leads:
        assert lead["timezone"].startswith(prefixes[lead["country"]])


def test_every_active_lead_has_owner_priority_status_and_next_step(demo: Path) -> None:
    active = _rows(demo, "SELECT * FROM leads WHERE status IN ('new', 'working')")
    assert len(active) >= N // 10
    for lead in active:
        assert lead["owner_id"] and lead["priority"] in (1, 2, 3, 4)
        assert lead["next_step"] and lead["next_step_at"], lead["external_id"]
    # Nothing owner-less anywhere, and the owner is a rep.
    assert _rows(demo, "SELECT count(*) AS n FROM leads l JOIN users u ON u.id = l.owner_id "
                       "WHERE u.role = 'rep'")[0]["n"] == N


def test_terminal_and_parked_leads_carry_their_reasons(demo: Path) -> None:
    for lead in _rows(demo, "SELECT * FROM leads"):
        status = lead["status"]
        if status == "disqualified":
            assert lead["disqualify_reason"] and lead["next_step_at"] is None
            if lead["disqualify_reason"] == "other":
                assert lead["disqualify_note"]
        elif status == "no_response":
            assert lead["no_response_reason"]
        elif status == "nurture":
            assert _when(lead["recycle_at"]) > T0  # type: ignore[operator]
        elif status == "converted":
            assert lead["final_outcome"]


def test_spread_over_priorities_classes_statuses_countries_sources(demo: Path) -> None:
    leads = _rows(demo, "SELECT priority, lead_class, status, country, source, company_size, "
                        "territory, product_interest FROM leads")
    assert {r["priority"] for r in leads} == {1, 2, 3, 4}
    assert {r["lead_class"] for r in leads} == {c.value for c in LeadClass}
    assert {r["status"] for r in leads} == {s.value for s in LeadStatus}
    countries = Counter(r["country"] for r in leads)
    assert set(countries) == {"US", "GB", "DE", "AU"}
    assert min(countries.values()) >= N // 20
    assert len({r["source"] for r in leads}) >= 8
    assert all(r["company_size"] and r["territory"] and r["product_interest"] for r in leads)


def test_history_is_within_90_days_and_matches_each_lead(demo: Path) -> None:
    start = T0 - timedelta(days=90)
    leads = {r["id"]: r for r in _rows(demo, "SELECT * FROM leads")}
    acts = _rows(demo, "SELECT * FROM activities ORDER BY at")
    kinds = Counter((a["kind"], a["direction"]) for a in acts)
    for kind in ("call", "email", "sms", "social", "note"):
        assert kinds[(kind, "outbound")] > 0, kind
    assert kinds[("email", "inbound")] > 0 and kinds[("call", "inbound")] > 0
    touches: dict[Any, list[datetime]] = {}
    for a in acts:
        at = _when(a["at"])
        lead = leads[a["lead_id"]]
        assert start <= at <= T0  # type: ignore[operator]
        assert at >= _when(lead["created_at"])  # type: ignore[operator]
        if a["kind"] == "call":
            assert a["outcome"] and a["duration_s"] is not None
        if a["kind"] != "note" and a["direction"] == "outbound":
            touches.setdefault(a["lead_id"], []).append(at)  # type: ignore[arg-type]
    for lead_id, lead in leads.items():
        assert start <= _when(lead["created_at"]) <= T0  # type: ignore[operator]
        mine = touches.get(lead_id, [])
        assert lead["attempts"] == len(mine)
        assert _when(lead["first_action_at"]) == (min(mine) if mine else None)
        assert _when(lead["last_action_at"]) == (max(mine) if mine else None)


def test_score_breakdown_starts_from_the_class_base(demo: Path) -> None:
    import json

    for lead in _rows(demo, "SELECT lead_class, score, score_breakdown FROM leads"):
        parts = json.loads(lead["score_breakdown"])
        assert parts[0] == {"rule": f"class:{lead['lead_class']}",
                            "points": BASE_BY_CLASS[LeadClass(lead["lead_class"])]}
        assert sum(p["points"] for p in parts) == lead["score"]


def test_default_cadence_templates_and_enrollments(demo: Path) -> None:
    assert len(_rows(demo, "SELECT * FROM templates")) >= 5
    steps = _rows(demo, "SELECT * FROM cadence_steps")
    assert len(steps) >= 5
    enrolled = _rows(demo, "SELECT e.status, e.current_step, l.status AS lead_status "
                           "FROM cadence_enrollments e JOIN leads l ON l.id = e.lead_id")
    assert any(e["status"] == "active" for e in enrolled)
    for e in enrolled:
        assert 1 <= e["current_step"] <= len(steps) + 1
        if e["status"] == "active":
            assert e["lead_status"] in ("new", "working")
    assert len(_rows(demo, "SELECT * FROM sla_policies")) == 4


def test_the_demo_is_alive_at_its_anchor(demo: Path) -> None:
    """Just-arrived P1s with the SLA running, one breach, callbacks due in
    minutes, overdue steps, snoozes, and leads outside their calling window."""
    reps = _rows(demo, "SELECT id, name FROM users WHERE role = 'rep'")
    leads = _rows(demo, "SELECT * FROM leads WHERE status IN ('new', 'working')")
    for rep in reps:
        mine = [r for r in leads if r["owner_id"] == rep["id"]]
        fresh = [r for r in mine if r["priority"] == 1 and r["first_action_at"] is None
                 and T0 - timedelta(minutes=5) < _when(r["created_at"]) <= T0]  # type: ignore[operator]
        assert fresh, f"{rep['name']} has no P1 with its SLA running"
        soon = [r for r in mine if r["next_step_kind"] == "callback"
                and T0 < _when(r["next_step_at"]) <= T0 + timedelta(minutes=5)]  # type: ignore[operator]
        assert soon, f"{rep['name']} has no callback due in the next minutes"
        for lead in [*fresh, *soon]:  # promised and fresh leads are in their daytime
            assert 8 <= T0.astimezone(ZoneInfo(lead["timezone"])).hour < 19
        assert any(_when(r["snoozed_until"]) and _when(r["snoozed_until"]) > T0  # type: ignore[operator]
                   for r in mine)
    breached = [r for r in leads if r["first_action_at"] is None and (
        (r["priority"] == 1 and _when(r["created_at"]) < T0 - timedelta(minutes=5))  # type: ignore[operator]
        or (r["priority"] == 2 and _when(r["created_at"]) < T0 - timedelta(hours=1))  # type: ignore[operator]
        or (r["priority"] == 3 and _when(r["created_at"]) < T0 - timedelta(hours=24)))]  # type: ignore[operator]
    assert len(breached) == 1
    overdue = [r for r in leads if r["first_action_at"] and _when(r["next_step_at"]) < T0]  # type: ignore[operator]
    assert len(overdue) >= 8
    # T0 is 15:00 UTC: 02:00 in Sydney, outside the 08:00-20:00 calling window.
    closed = [r for r in leads
              if not 8 <= T0.astimezone(ZoneInfo(r["timezone"])).hour < 20]
    assert closed


@pytest.mark.parametrize("hours", [0, -9, 7])
def test_the_first_rep_sees_a_live_queue_at_any_hour(demo: Path, tmp_path: Path,
                                                     hours: int) -> None:
    """Opened at 15:00 UTC (US day), 06:00 UTC (US night) or 22:00 UTC, the
    rep the demo starts as has a promised callback and P1s with their SLA
    running in the call-now list, not held back by closed calling windows."""
    from leadqueue.clock import FakeClock
    from leadqueue.store import open_database
    from leadqueue.workspace import Workspace

    at = T0 + timedelta(hours=hours)
    path = demo
    if hours:
        path = tmp_path / "other-hour.db"
        write_demo_db(path, leads=120, seed=5, now=at)
    engine = open_database(path, create=False)
    try:
        ws = Workspace.open(engine, None, FakeClock(at))
        assert ws.me.role == "rep"
        queue = ws.ranked_queue()
    finally:
        engine.dispose()
    assert queue.callable[0].next_step_kind == "callback"
    running = [r for r in queue.callable
               if r.priority == 1 and r.sla_due_at and r.sla_due_at > at]
    assert running
    if hours == 0:
        assert queue.upcoming and queue.later
        assert any(r.sla_due_at and r.sla_due_at < at for r in queue.callable)


def test_refuses_to_overwrite_unless_asked(demo: Path, tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    write_demo_db(path, leads=50, seed=3, now=T0)
    before = path.read_bytes()
    with pytest.raises(FileExistsError):
        write_demo_db(path, leads=50, seed=4, now=T0)
    assert path.read_bytes() == before
    write_demo_db(path, leads=60, seed=4, now=T0, overwrite=True)
    assert len(_rows(path, "SELECT id FROM leads")) == 60
    assert not list(tmp_path.glob(".x.db*"))  # no temporary files left behind


def test_the_full_demo_is_2000_leads_and_quick(tmp_path: Path) -> None:
    path = tmp_path / "full.db"
    started = time.perf_counter()
    report = write_demo_db(path, now=T0)
    elapsed = time.perf_counter() - started
    assert report.leads == 2000 and report.flagged == 0 and report.pool == 0
    assert report.activities > 5000
    # Measured about 1.5 s on the development machine; generous for slow CI.
    assert elapsed < 20, f"writing the demo took {elapsed:.1f} s"
