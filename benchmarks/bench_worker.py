"""Benchmark: the worker's pass over 100k leads with 10k due events, beside a
raw SQL query that selects the same due rows, in the same run.

Issue 4: "the worker's pass over 100k leads with 10k due events, figure beside
a raw SQL query that selects the same due rows, in the same run (goal <= 3x)".

The data (PostgreSQL, the shared database the worker runs against; built
with the project's migrations, then ANALYZEd): one team of 20 reps (each
with a backup) and a team lead; 100,000 leads, 200,000 activities, an
enrollment per active lead, and these due events at ``NOW``:

* 4,000 ladder stages: P2 leads, opened but not worked, 61-85 min old (the
  "at the deadline, notify the owner" stage);
* 2,000 acknowledgement timeouts: P1 leads 16-25 min old, never opened, whose
  deadline stage already fired (hand-over to the backup);
* 2,000 recycle dates: nurture leads whose recycle date passed (back to
  working, a new cadence);
* 2,000 cadence steps: a touch logged after the step was scheduled (step
  done, next step scheduled).

The other 90,000 leads are quiet: worked, enrolled with a step scheduled and
no new activity, scored; nurture leads recycle later; some converted or
disqualified.

What is timed, in rounds: each round makes a fresh copy of the database
(``CREATE DATABASE ... TEMPLATE``, outside the timing), warms it with an
untimed dry run (a running worker's database is warm), then times, one after
the other on that copy:

* **raw**: one hand-written SQL statement (psycopg, no ORM) that returns the
  10,000 due lead rows with the columns the rules need: a UNION ALL of the
  four conditions, using the default policy's minutes as constants and
  ``NOT EXISTS`` on ``rule_firings`` for stages already fired. It knows this
  data set (wall-clock SLAs, one policy per priority); the engine does not.
* **decide**: ``run_pass(dry_run=True)``: the engine's candidate queries for
  every rule, the batch reads, and the pure rules deciding every decision,
  without writing.
* **pass**: ``run_pass()``: the whole worker pass, applying every decision
  (firing keys, lead updates, enrollments, audit entries, notifications) in
  one transaction per batch, and rescoring the leads it changed. A second
  pass right after must apply nothing.

The leads the engine decided on (dry run) and applied decisions to (pass) must
both be exactly the raw query's rows, in every round, or the run fails. Best
and median of the rounds are printed; the ratio that counts against the goal
is best pass / best raw (the median ratio is printed beside it), and the
pass's own account of where its time went (``PassSummary.timings``) follows.
Exit code 1 when pass / raw is over ``--limit``.

Run::

    .venv/bin/python benchmarks/bench_worker.py
    .venv/bin/python benchmarks/bench_worker.py --leads 100000 --repeat 5 --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

LIMIT_RATIO = 3.0
NOW = datetime(2026, 3, 4, 15, 0, tzinfo=UTC)
PG_URL = os.environ.get("LEADQUEUE_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
DUE = {"ladder": 4000, "ack": 2000, "recycle": 2000, "cadence": 2000}


def _u(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def build(url: str, leads: int, seed: int = 7) -> None:
    """Fill a migrated database with the data set described above."""
    from sqlalchemy import insert, text

    from leadqueue.enums import (
        ActivityKind,
        Channel,
        Direction,
        EnrollmentStatus,
        LeadClass,
        LeadStatus,
        Role,
    )
    from leadqueue.model import (
        Activity,
        Cadence,
        CadenceEnrollment,
        CadenceStep,
        Lead,
        RuleFiring,
        Team,
        Template,
        User,
    )
    from leadqueue.rulebook import DEFAULT_TEMPLATES
    from leadqueue.rules.cadence import DEFAULT_CADENCE_NAME, DEFAULT_STEPS
    from leadqueue.rules.escalation import LeadTiming, ladder_key
    from leadqueue.store import make_engine, upgrade

    rng = random.Random(seed)
    engine = make_engine(url)
    upgrade(engine)
    team = _u(rng)
    reps = [_u(rng) for _ in range(20)]
    tl = _u(rng)
    cadence = _u(rng)
    templates = {name: _u(rng) for name, *_ in DEFAULT_TEMPLATES}
    with engine.begin() as con:
        con.execute(insert(Team), [{"id": team, "name": "Bench", "timezone": "America/New_York",
                                    "version": 1}])
        con.execute(insert(User), [
            {"id": r, "email": f"rep{i}@bench.io", "name": f"Rep {i}", "role": Role.REP,
             "team_id": team, "backup_id": None, "version": 1} for i, r in enumerate(reps)]
            + [{"id": tl, "email": "tl@bench.io", "name": "Lead", "role": Role.TEAM_LEAD,
                "team_id": team, "backup_id": None, "version": 1}])
        con.execute(text("UPDATE users SET backup_id = :b WHERE id = :u"),
                     [{"u": r, "b": reps[(i + 1) % len(reps)]} for i, r in enumerate(reps)])
        con.execute(insert(Template), [
            {"id": templates[name], "name": name, "channel": channel, "subject": subject,
             "body": body, "version": 1} for name, channel, subject, body in DEFAULT_TEMPLATES])
        con.execute(insert(Cadence), [{"id": cadence, "name": DEFAULT_CADENCE_NAME,
                                       "version": 1}])
        con.execute(insert(CadenceStep), [
            {"id": _u(rng), "cadence_id": cadence, "position": i, "day_offset": day,
             "channel": channel, "template_id": templates[tmpl], "version": 1}
            for i, (day, channel, tmpl) in enumerate(DEFAULT_STEPS, start=1)])

    kinds = (["ladder"] * DUE["ladder"] + ["ack"] * DUE["ack"] + ["recycle"] * DUE["recycle"]
             + ["cadence"] * DUE["cadence"])
    kinds += ["quiet"] * (leads - len(kinds))
    rng.shuffle(kinds)
    lead_rows, acts, enrs, fires = [], [], [], []
    for i, kind in enumerate(kinds):
        lid = _u(rng)
        owner = reps[i % len(reps)]
        row: dict[str, Any] = {
            "id": lid, "version": 1, "first_name": f"F{i}", "last_name": f"L{i}",
            "company": f"Co {i % 997}", "owner_id": owner, "team_id": team,
            "lead_class": LeadClass.QUALIFICATION_NEEDED, "priority": 3,
            "status": LeadStatus.WORKING, "timezone": "America/New_York",
            "do_not_contact": False, "attempts": 2, "score": 40,
            "score_breakdown": [{"rule": "class:qualification_needed", "points": 40}],
            "data_issues": [], "acknowledged_at": None, "first_action_at": None,
            "last_action_at": None, "recycle_at": None, "next_step": None,
            "next_step_kind": None, "next_step_at": None,
        }
        created = NOW - timedelta(days=rng.randint(3, 60), minutes=rng.randint(0, 1440))
        scheduled = NOW - timedelta(hours=rng.randint(2, 48))
        enrolled = True
        if kind == "ladder":
            created = NOW - timedelta(minutes=rng.randint(61, 85))
            row.update(priority=2, status=LeadStatus.NEW, acknowledged_at=created, attempts=0)
            scheduled = created
        elif kind == "ack":
            created = NOW - timedelta(minutes=rng.randint(16, 25))
            row.update(priority=1, status=LeadStatus.NEW, attempts=0)
            scheduled = created
            timing = LeadTiming(lid, 1, created, owner, created)
            fires.append({"id": _u(rng), "key": ladder_key(timing, 0), "lead_id": lid,
                          "fired_at": created + timedelta(minutes=5), "delivered": True})
        elif kind == "recycle":
            row.update(status=LeadStatus.NURTURE,
                       recycle_at=NOW - timedelta(minutes=rng.randint(1, 600)))
            enrolled = False
        elif kind == "quiet" and i % 10 == 0:
            row.update(status=LeadStatus.NURTURE,
                       recycle_at=NOW + timedelta(days=rng.randint(1, 80)))
            enrolled = False
        elif kind == "quiet" and i % 10 == 1:
            row.update(status=rng.choice([LeadStatus.CONVERTED, LeadStatus.DISQUALIFIED]))
            enrolled = False
        row["created_at"] = created
        row["assigned_at"] = created
        if kind not in ("ladder", "ack"):
            first = created + timedelta(minutes=rng.randint(1, 120))
            last = max(first, scheduled - timedelta(minutes=rng.randint(1, 60)))
            row.update(first_action_at=first, last_action_at=last)
            for at in (first, last):
                acts.append({"id": _u(rng), "lead_id": lid, "kind": ActivityKind.CALL,
                             "direction": Direction.OUTBOUND, "outcome": None, "at": at,
                             "created_at": at, "author_id": owner})
        if kind == "cadence":
            at = NOW - timedelta(minutes=rng.randint(1, 60))
            row["last_action_at"] = at
            acts.append({"id": _u(rng), "lead_id": lid, "kind": ActivityKind.EMAIL,
                         "direction": Direction.OUTBOUND, "outcome": None, "at": at,
                         "created_at": at, "author_id": owner})
        if enrolled:
            row.update(next_step=f"{Channel.CALL.value.capitalize()} — cadence step 2",
                       next_step_kind="call", next_step_at=scheduled + timedelta(days=1))
            enrs.append({"id": _u(rng), "version": 1, "lead_id": lid, "cadence_id": cadence,
                         "status": EnrollmentStatus.ACTIVE, "enrolled_at": created,
                         "current_step": 2, "step_scheduled_at": scheduled})
        # Scored in an earlier pass (and nothing since).
        row["updated_at"] = max(t for t in (created, row["last_action_at"], scheduled) if t)
        row["scored_at"] = row["updated_at"]
        lead_rows.append(row)
    from leadqueue.enums import NextStepKind

    for row in lead_rows:
        if row["next_step_kind"]:
            row["next_step_kind"] = NextStepKind(row["next_step_kind"])
    with engine.begin() as con:
        for table, rows in ((Lead, lead_rows), (Activity, acts), (CadenceEnrollment, enrs),
                            (RuleFiring, fires)):
            for j in range(0, len(rows), 5000):
                con.execute(insert(table), rows[j:j + 5000])
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as con:
        con.execute(text("VACUUM ANALYZE"))
    engine.dispose()


RAW_SQL = """
SELECT l.id, l.priority, l.created_at, l.owner_id, l.assigned_at, l.acknowledged_at,
       l.first_action_at, l.last_action_at, l.team_id, l.status, l.first_name, l.last_name
  FROM leads l
 WHERE l.status IN ('new', 'working') AND l.owner_id IS NOT NULL
   AND l.first_action_at IS NULL AND l.deleted_at IS NULL
   AND ((l.priority = 1 AND l.created_at <= %(now)s - interval '5 minutes')
     OR (l.priority = 2 AND l.created_at <= %(now)s - interval '60 minutes')
     OR (l.priority = 3 AND l.created_at <= %(now)s - interval '1440 minutes'))
   AND NOT EXISTS (SELECT 1 FROM rule_firings f WHERE f.lead_id = l.id AND f.key LIKE 'sla:%%')
UNION ALL
SELECT l.id, l.priority, l.created_at, l.owner_id, l.assigned_at, l.acknowledged_at,
       l.first_action_at, l.last_action_at, l.team_id, l.status, l.first_name, l.last_name
  FROM leads l
 WHERE l.status IN ('new', 'working') AND l.owner_id IS NOT NULL
   AND l.first_action_at IS NULL AND l.acknowledged_at IS NULL AND l.deleted_at IS NULL
   AND ((l.priority = 1 AND l.assigned_at <= %(now)s - interval '15 minutes')
     OR (l.priority = 2 AND l.assigned_at <= %(now)s - interval '30 minutes'))
   AND NOT EXISTS (SELECT 1 FROM rule_firings f WHERE f.lead_id = l.id AND f.key LIKE 'ack:%%')
UNION ALL
SELECT l.id, l.priority, l.created_at, l.owner_id, l.assigned_at, l.acknowledged_at,
       l.first_action_at, l.last_action_at, l.team_id, l.status, l.first_name, l.last_name
  FROM leads l
 WHERE l.status = 'nurture' AND l.recycle_at <= %(now)s AND l.deleted_at IS NULL
UNION ALL
SELECT l.id, l.priority, l.created_at, l.owner_id, l.assigned_at, l.acknowledged_at,
       l.first_action_at, l.last_action_at, l.team_id, l.status, l.first_name, l.last_name
  FROM cadence_enrollments e JOIN leads l ON l.id = e.lead_id
 WHERE e.status = 'active' AND e.deleted_at IS NULL
   AND EXISTS (SELECT 1 FROM activities a WHERE a.lead_id = e.lead_id
                  AND a.at > e.step_scheduled_at AND a.at <= %(now)s AND a.kind <> 'note')
"""


def raw_due(url: str) -> tuple[float, set[uuid.UUID]]:
    import psycopg

    with psycopg.connect(url) as con:
        t = time.perf_counter()
        rows = con.execute(RAW_SQL, {"now": NOW}).fetchall()
        took = time.perf_counter() - t
    return took, {r[0] for r in rows}


def copy_db(server: str, template: str, name: str) -> str:
    import psycopg

    with psycopg.connect(server, autocommit=True) as con:
        con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        con.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    return f"{server.rsplit('/', 1)[0]}/{name}"


def drop_db(server: str, name: str) -> None:
    import psycopg

    with psycopg.connect(server, autocommit=True) as con:
        con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _ms(values: list[float]) -> str:
    return f"best {min(values) * 1000:7.1f} ms (median {statistics.median(values) * 1000:.1f})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--limit", type=float, default=LIMIT_RATIO)
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args(argv)

    from leadqueue.engine import run_pass
    from leadqueue.store import make_engine

    tag = uuid.uuid4().hex[:8]
    base = f"lq_bench_worker_{tag}"
    import psycopg

    with psycopg.connect(PG_URL, autocommit=True) as con:
        con.execute(f'CREATE DATABASE "{base}"')
    copies: list[str] = []
    try:
        t = time.perf_counter()
        build(f"{PG_URL.rsplit('/', 1)[0]}/{base}", args.leads)
        print(f"built {args.leads:,} leads with {sum(DUE.values()):,} due events in "
              f"{time.perf_counter() - t:.1f} s", file=sys.stderr)
        raws: list[float] = []
        decides: list[float] = []
        passes: list[float] = []
        timings: list[tuple[dict[str, float], dict[str, float]]] = []
        counts: dict[str, int] = {}
        due: set[uuid.UUID] = set()
        mismatches: list[str] = []
        for i in range(args.repeat):
            name = f"{base}_run{i}"
            url = copy_db(PG_URL, base, name)
            copies.append(name)
            eng = make_engine(url)
            run_pass(eng, NOW, dry_run=True)  # warm-up: caches, imports, plans
            took, due = raw_due(url)
            raws.append(took)
            t = time.perf_counter()
            preview = run_pass(eng, NOW, dry_run=True)
            decides.append(time.perf_counter() - t)
            t = time.perf_counter()
            summary = run_pass(eng, NOW)
            passes.append(time.perf_counter() - t)
            timings.append((dict(summary.timings), dict(summary.cpu)))
            counts = dict(summary.counts)
            if preview.leads != due:
                mismatches.append(f"round {i}: dry run decided on {len(preview.leads):,} leads")
            if summary.leads != due:
                mismatches.append(f"round {i}: the pass applied to {len(summary.leads):,} leads")
            if preview.counts != summary.counts:
                mismatches.append(f"round {i}: the dry run and the pass disagree on the counts")
            assert run_pass(eng, NOW).total == 0, "a second pass must apply nothing"
            eng.dispose()
            drop_db(PG_URL, name)
            copies.remove(name)
        raw_best, decide_best, pass_best = min(raws), min(decides), min(passes)
        median_ratio = statistics.median(passes) / statistics.median(raws)
        typical, typical_cpu = timings[passes.index(sorted(passes)[len(passes) // 2])]
        result = {
            "leads": args.leads, "due_rows": len(due), "decisions": sum(counts.values()),
            "rounds": args.repeat, "raw_s": raws, "decide_s": decides, "pass_s": passes,
            "raw_best_s": raw_best, "decide_best_s": decide_best, "pass_best_s": pass_best,
            "decide_ratio": decide_best / raw_best, "pass_ratio": pass_best / raw_best,
            "pass_median_ratio": median_ratio, "limit": args.limit,
            "same_rows": not mismatches, "counts": counts, "pass_timings_s": typical,
            "pass_python_s": typical_cpu,
        }
        print(f"due rows: raw query {len(due):,}; engine (dry run and pass) "
              f"{'the same leads in every round' if not mismatches else 'DIFFERENT'}")
        print(f"raw SQL select of the due rows     {_ms(raws)}")
        print(f"engine decide (dry run)            {_ms(decides)}  "
              f"= {result['decide_ratio']:.2f}x raw")
        print(f"engine pass ({result['decisions']:,} decisions applied) {_ms(passes)}  "
              f"= {result['pass_ratio']:.2f}x raw (median {median_ratio:.2f}x)")
        print("decisions: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
        total, python = sum(typical.values()), sum(typical_cpu.values())
        print("where the median pass's time went, ms (of which Python): " + ", ".join(
            f"{k} {v * 1000:.0f} ({typical_cpu.get(k, 0) * 1000:.0f})"
            for k, v in sorted(typical.items(), key=lambda kv: -kv[1]) if v >= 0.0005))
        print(f"  in all {total * 1000:.0f} ms: Python {python * 1000:.0f} ms, waiting for "
              f"PostgreSQL {(total - python) * 1000:.0f} ms")
        print(f"measured {pass_best:.3f} s vs raw {raw_best:.3f} s: "
              f"ratio {result['pass_ratio']:.2f} (goal {args.limit:g})")
        if args.json:
            Path(args.json).write_text(json.dumps(result, indent=2))
        if mismatches:
            print("FAIL: the engine and the raw query disagree on the due rows: "
                  + "; ".join(mismatches), file=sys.stderr)
            return 1
        if result["pass_ratio"] > args.limit:
            print(f"OVER: pass / raw = {result['pass_ratio']:.2f} > {args.limit:g}",
                  file=sys.stderr)
            return 1
        return 0
    finally:
        for name in copies:
            drop_db(PG_URL, name)
        drop_db(PG_URL, base)


if __name__ == "__main__":
    sys.exit(main())
