"""Benchmark: ranking 50 callable leads for one rep, beside a raw sqlite3 query.

Issue 3: ranking 50 callable leads for one rep in a local store of 100k leads
(and 1M with ``--full``) must take at most 2x the best hand-written raw
``sqlite3`` indexed query that returns the same ids, measured in the same run.

The store is built with the project's migrations (so it has the project's
schema and indexes) and filled with plain ``sqlite3.executemany``. Every rep
owns ``--per-rep`` leads (default 2,000: a busy rep's book), so 100k leads are
50 reps and 1M leads 500 reps; the rep measured is one of them.

The raw query is what a person who knows this data would write: it encodes the
tier rules in CASE expressions, applies calling windows by passing the zones
whose window is open now (computed with zoneinfo, inside the timing), and uses
``ix_leads_owner_status``. The project path is ``leadqueue.queue.fetch_ranking``
(the store query plus the pure ranking; no display fields). The full
``Workspace.ranked_queue(limit=50)`` (three lists, reasons, display fields) is
printed too, for information.

Run: ``.venv/bin/python benchmarks/bench_ranking.py [--full] [--per-rep N]``.
Exits 1 when the ratio is over the limit or the ids disagree.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

LIMIT_RATIO = 2.0
NOW = datetime(2026, 3, 4, 15, 0, tzinfo=UTC)
ZONES = ["America/New_York", "America/Chicago", "America/Los_Angeles", "Europe/London",
         "Europe/Berlin", "Asia/Tokyo", "Australia/Sydney", "America/Sao_Paulo"]


def ts(dt: datetime) -> str:
    """How SQLAlchemy's UTCDateTime stores an instant in SQLite."""
    return dt.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")


def build(path: Path, total: int, per_rep: int, seed: int = 7) -> tuple[str, str]:
    """A migrated store with ``total`` leads; returns (rep email, rep id hex)."""
    from leadqueue.ids import uuid7
    from leadqueue.store import open_local_store

    open_local_store(path).dispose()
    rng = random.Random(seed)
    con = sqlite3.connect(path)
    team_id = uuid7().hex
    con.execute("INSERT INTO teams (id, name) VALUES (?, ?)", (team_id, "Bench team"))
    reps = [uuid.UUID(int=rng.getrandbits(128)).hex for _ in range(max(1, total // per_rep))]
    con.executemany(
        "INSERT INTO users (id, email, name, role, team_id) VALUES (?, ?, ?, 'rep', ?)",
        [(rep, f"rep{i}@bench.test", f"Rep {i}", team_id) for i, rep in enumerate(reps)],
    )
    statuses = ["new", "working", "working", "working", "meeting", "nurture", "no_response",
                "disqualified"]
    kinds = ["call", "email", "callback", "social"]

    def rows(start: int, count: int):  # type: ignore[no-untyped-def]
        for i in range(start, start + count):
            created = NOW - timedelta(minutes=rng.randint(1, 60 * 24 * 60))
            status = rng.choice(statuses)
            first_action = None if status == "new" and rng.random() < 0.8 else ts(
                created + timedelta(minutes=rng.randint(1, 600)))
            kind = rng.choice(kinds) if rng.random() < 0.9 else None
            nsa = ts(NOW + timedelta(minutes=rng.randint(-5 * 24 * 60, 10 * 24 * 60))) if kind else None
            snoozed = ts(NOW + timedelta(hours=rng.randint(-5, 30))) if rng.random() < 0.05 else None
            r = rng.random()
            zone = None if r < 0.01 else "Mars/Olympus_Mons" if r < 0.015 else rng.choice(ZONES)
            yield (
                uuid.UUID(int=rng.getrandbits(128)).hex, f"EXT-{i}", f"First{i}", f"Last{i}",
                f"Company {i % 997}", reps[i % len(reps)], team_id, rng.randint(1, 4),
                "qualification_needed", status, ts(created), first_action, kind, nsa, snoozed,
                1 if rng.random() < 0.02 else 0, rng.randint(0, 100), "[]", "[]", zone,
                f"+1555{i:07d}", "web_form",
            )

    sql = ("INSERT INTO leads (id, external_id, first_name, last_name, company, owner_id, "
           "team_id, priority, lead_class, status, created_at, first_action_at, next_step_kind, "
           "next_step_at, snoozed_until, do_not_contact, score, score_breakdown, data_issues, "
           "timezone, phone, source) VALUES (" + ",".join("?" * 22) + ")")
    batch = 50_000
    for start in range(0, total, batch):
        con.executemany(sql, rows(start, min(batch, total - start)))
    con.commit()
    con.execute("ANALYZE")
    con.close()
    return "rep0@bench.test", reps[0]


RAW_SQL = """
SELECT id FROM (
  SELECT id, priority, score, created_at, next_step_at,
         CASE WHEN next_step_kind = 'callback' AND next_step_at <= :callback_by THEN 1
              WHEN first_action_at IS NULL THEN 2
              WHEN next_step_at <= :now THEN 3 END AS tier
  FROM leads INDEXED BY ix_leads_owner_status
  WHERE owner_id = :rep AND status IN ('new', 'working')
    AND deleted_at IS NULL AND do_not_contact = 0
    AND (snoozed_until IS NULL OR snoozed_until <= :now)
    AND (timezone IS NULL OR timezone IN (SELECT value FROM json_each(:open_zones))
         OR timezone NOT IN (SELECT value FROM json_each(:known_zones)))
)
WHERE tier IS NOT NULL
ORDER BY tier,
         CASE WHEN tier = 1 THEN 0 ELSE priority END,
         CASE WHEN tier = 1 OR tier = 3 THEN next_step_at END,
         CASE WHEN tier = 2 AND priority = 4 THEN 1 ELSE 0 END,
         CASE WHEN tier = 2 THEN created_at END,
         -score, created_at, id
LIMIT :limit
"""


def raw_ids(con: sqlite3.Connection, rep_hex: str, limit: int) -> list[str]:
    """The hand-written query; calling windows: the zones open now (08:00-20:00)."""
    open_zones = []
    for name in ZONES:
        local = NOW.astimezone(ZoneInfo(name)).time()
        if local.hour >= 8 and local.hour < 20:
            open_zones.append(name)
    params = {
        "rep": rep_hex, "now": ts(NOW), "callback_by": ts(NOW + timedelta(minutes=5)),
        "open_zones": json.dumps(open_zones), "known_zones": json.dumps(ZONES), "limit": limit,
    }
    return [row[0] for row in con.execute(RAW_SQL, params)]


def best_of(fn, repeat: int) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def run_size(total: int, per_rep: int, repeat: int) -> bool:
    from leadqueue.clock import FakeClock
    from leadqueue.queue import fetch_ranking
    from leadqueue.store import make_engine
    from leadqueue.workspace import Workspace

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        started = time.perf_counter()
        email, rep_hex = build(path, total, per_rep)
        print(f"\n{total:,} leads ({per_rep:,} per rep): store built in "
              f"{time.perf_counter() - started:.1f} s")
        rep_id = uuid.UUID(rep_hex)
        raw = sqlite3.connect(path)
        engine = make_engine(path)
        ws = Workspace.open(engine, email, FakeClock(NOW))
        with engine.connect() as conn:
            raw_ids(raw, rep_hex, 50)  # warm both caches once
            fetch_ranking(conn, rep_id, ws.me.team_id, NOW, 50, upcoming=False)
            t_raw, ids_raw = best_of(lambda: raw_ids(raw, rep_hex, 50), repeat)
            t_ours, ranking = best_of(
                lambda: fetch_ranking(conn, rep_id, ws.me.team_id, NOW, 50, upcoming=False), repeat)
        t_full, queue = best_of(lambda: ws.ranked_queue(limit=50), max(3, repeat // 4))
        raw.close()
        engine.dispose()
    ours = [r.candidate.id.hex for r in ranking.callable]  # type: ignore[attr-defined]
    full = [row.id.hex for row in queue.callable]  # type: ignore[attr-defined]
    agree = ours == ids_raw and full == ids_raw and len(ours) == 50
    ratio = t_ours / t_raw
    print(f"  raw sqlite3 indexed query : {t_raw * 1000:8.2f} ms  (50 ids)")
    print(f"  leadqueue fetch_ranking   : {t_ours * 1000:8.2f} ms  "
          f"ratio {ratio:.2f}x  (limit {LIMIT_RATIO:.1f}x)  {'OK' if ratio <= LIMIT_RATIO else 'OVER'}")
    print(f"  Workspace.ranked_queue(50): {t_full * 1000:8.2f} ms  "
          f"(three lists with reasons; for information)")
    print(f"  ids agree: {'yes' if agree else 'NO'}")
    if not agree:
        print(f"    raw : {ids_raw[:5]} … ({len(ids_raw)})\n    ours: {ours[:5]} … ({len(ours)})")
    return agree and ratio <= LIMIT_RATIO


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="also run 1M leads")
    parser.add_argument("--per-rep", type=int, default=2000, help="leads per rep (default 2000)")
    parser.add_argument("--repeat", type=int, default=30, help="timed runs; the best counts")
    args = parser.parse_args()
    ok = run_size(100_000, args.per_rep, args.repeat)
    if args.full:
        ok = run_size(1_000_000, args.per_rep, args.repeat) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
