"""Benchmark: pool claims per second with 1, 8 and 32 concurrent claimers.

Issue 5: claims/s over a pool of 200k leads through the project's claim path
beside a raw psycopg ``SKIP LOCKED`` loop on the same table (goal: ours at
least 0.7x raw), and beside procrastinate's job fetch as a peer when it is
installed; zero double claims asserted in every run.

What is measured
----------------
* **ours**: ``leadqueue.shared.claims.claim_next(conn)``, i.e. ``SELECT …
  FROM lq_claim_next()`` on an autocommit connection, one per claimer, each
  logged in as its own rep role (RLS on, ``SECURITY DEFINER``): the function
  finds the caller and their team, picks the best lead by priority, SLA
  deadline, score, age with ``FOR UPDATE SKIP LOCKED``, sets owner and
  ``assigned_at`` (the notify trigger fires) and writes a lease row with a
  fresh epoch under the exclusion constraint. One round trip.
* **raw**: what a person would hand-write against the same table and the
  same partial index: one ``UPDATE leads SET owner_id = …, assigned_at = now()
  WHERE id = (SELECT id … ORDER BY priority, sla_due_at, score DESC,
  created_at LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING id`` per claim on an
  autocommit connection, as the database superuser (no RLS, no lease, no
  caller check). The same notify trigger fires.
* **raw, no NOTIFY** (context only): the raw loop with the table's triggers
  off (``session_replication_role = replica``): what the claims would cost
  if they did not have to NOTIFY the rep. PostgreSQL serialises the commits
  of all notifying transactions (one lock, held through the commit's WAL
  flush), which caps both "ours" and "raw" as claimers are added.
* **procrastinate** (peer, optional): ``procrastinate_fetch_job_v2`` on its
  own schema (from the installed package's ``schema.sql``) in a database of
  its own with the same number of jobs, called the same way.

Each run lasts ``--seconds`` with all claimers started together; the pool is
put back (claims undone with triggers off, leases deleted, VACUUM ANALYZE)
between runs, so every run starts on the same 200k-lead pool. At each
concurrency level the paths alternate in ``--rounds`` short rounds (ours,
raw, peer, ours, ...) and the rate is claims over time summed per path, so
load from elsewhere on the machine falls on every path alike. Client and
server share this machine's two cores, so the figures are a floor for a real
deployment, and absolute numbers move with whatever else runs.

Double claims: every claim's lead id is collected; a run fails if any lead
was returned twice, if any lead holds two open leases, or if a lead's owner
is not the rep that claimed it.

Run::

    .venv/bin/python benchmarks/bench_claims.py
    .venv/bin/python benchmarks/bench_claims.py --procrastinate-venv /tmp/procvenv

Exit code 1 when a double claim is seen or ours falls under 0.7x raw.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from leadqueue.ids import uuid7  # noqa: E402
from leadqueue.shared import admin  # noqa: E402
from leadqueue.shared.claims import claim_next  # noqa: E402

GOAL = 0.7
PASSWORD = "bench-Claims-pw1"

RAW_CLAIM = """
UPDATE leads SET owner_id = %(me)s, assigned_at = now(), updated_at = now(),
       version = version + 1
 WHERE id = (SELECT id FROM leads
              WHERE team_id = %(team)s AND owner_id IS NULL AND status IN ('new', 'working')
                AND deleted_at IS NULL AND merged_into_id IS NULL
              ORDER BY priority, sla_due_at, score DESC, created_at
              LIMIT 1 FOR UPDATE SKIP LOCKED)
RETURNING id
"""


@dataclass
class Run:
    path: str
    claimers: int
    claims: int
    seconds: float
    double_claims: int

    @property
    def rate(self) -> float:
        return self.claims / self.seconds if self.seconds else 0.0


def add(total: Run, run: Run) -> None:
    total.claims += run.claims
    total.seconds += run.seconds
    total.double_claims += run.double_claims


def q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def run_claimers(n: int, seconds: float, connect: Callable[[int], Any],
                 claim: Callable[[Any, int], Any]) -> tuple[list[list[Any]], float]:
    """``n`` threads, each on its own connection, claiming until time is up."""
    got: list[list[Any]] = [[] for _ in range(n)]
    errors: list[BaseException] = []
    conns = [connect(i) for i in range(n)]
    start = threading.Barrier(n + 1)
    stop = threading.Event()

    def work(i: int) -> None:
        try:
            start.wait()
            while not stop.is_set():
                lead = claim(conns[i], i)
                if lead is None:
                    return
                got[i].append(lead)
        except BaseException as exc:
            errors.append(exc)
            stop.set()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    stop.wait(seconds)
    stop.set()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    for c in conns:
        c.close()
    if errors:
        raise errors[0]
    return got, elapsed


class ClaimsBench:
    def __init__(self, server: str, leads: int, max_claimers: int) -> None:
        self.server = server
        self.tag = uuid.uuid4().hex[:8]
        self.dbname = f"lq_bench_claims_{self.tag}"
        self.prefix = f"lqb{self.tag}_"
        # Login names must not start with the group-role prefix (reserved).
        self.logins = [f"lqr{self.tag}_{i:02d}" for i in range(max_claimers)]
        with psycopg.connect(server, autocommit=True) as con:
            con.execute(f"CREATE DATABASE {q(self.dbname)}")
        self.url = f"{server.rsplit('/', 1)[0]}/{self.dbname}"
        admin.init(self.url, role_prefix=self.prefix)
        self.rep_ids: list[uuid.UUID] = []
        for i, login in enumerate(self.logins):
            r = admin.add_user(self.url, email=f"rep{i}@{self.tag}.bench", name=f"Rep {i:02d}",
                               role="rep", team="Bench", login=login, password=PASSWORD)
            self.rep_ids.append(uuid.UUID(r.user_id))
        with self.su() as con:
            self.team = con.execute("SELECT id FROM teams WHERE name = 'Bench'").fetchone()[0]
        self.fill(leads)

    def su(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self.url, autocommit=True)

    def fill(self, n: int) -> None:
        now = datetime.now(UTC)
        with self.su() as con, con.cursor().copy(
                "COPY leads (id, version, first_name, last_name, email, team_id, priority, "
                "lead_class, status, created_at, attempts, score, do_not_contact, "
                "score_breakdown, data_issues, sla_due_at) FROM STDIN") as copy:
            for i in range(n):
                pri = 1 + i % 4
                created = now - timedelta(minutes=i % 5000)
                due = created + timedelta(minutes=(5, 60, 1440, 0)[pri - 1]) if pri < 4 else None
                copy.write_row((uuid7(), 1, f"L{i}", "Bench", f"l{i}@{self.tag}.bench",
                                self.team, pri, "qualification_needed", "new", created, 0,
                                (i * 37) % 90, False, "[]", "[]", due))
        with self.su() as con:
            con.execute("VACUUM ANALYZE leads")

    def reset(self) -> None:
        with self.su() as con:
            con.execute("SET session_replication_role = replica")  # no triggers, no notices
            con.execute("UPDATE leads SET owner_id = NULL, assigned_at = NULL "
                        "WHERE team_id = %s AND owner_id IS NOT NULL", (self.team,))
            con.execute("DELETE FROM lead_leases")
            con.execute("DELETE FROM audit_log")
            con.execute("VACUUM ANALYZE leads")
            con.execute("VACUUM ANALYZE lead_leases")

    def conninfo(self, i: int) -> str:
        from psycopg.conninfo import conninfo_to_dict, make_conninfo

        params = conninfo_to_dict(self.url)
        params.update(user=self.logins[i], password=PASSWORD)
        return make_conninfo(**params)

    def ours(self, n: int, seconds: float) -> Run:
        got, elapsed = run_claimers(
            n, seconds, lambda i: psycopg.connect(self.conninfo(i), autocommit=True),
            lambda con, _i: (c.lead_id if (c := claim_next(con)) else None))
        doubles = self.check(got)
        with self.su() as con:
            two_open = con.execute(
                "SELECT count(*) FROM (SELECT lead_id FROM lead_leases WHERE released_at IS NULL "
                "GROUP BY lead_id HAVING count(*) > 1) x").fetchone()[0]
        return Run("ours", n, sum(map(len, got)), elapsed, doubles + two_open)

    def raw(self, n: int, seconds: float) -> Run:
        def claim(con: Any, i: int) -> Any:
            row = con.execute(RAW_CLAIM, {"me": self.rep_ids[i], "team": self.team}).fetchone()
            return row[0] if row else None

        got, elapsed = run_claimers(n, seconds, lambda _i: self.su(), claim)
        return Run("raw", n, sum(map(len, got)), elapsed, self.check(got))

    def raw_silent(self, n: int, seconds: float) -> Run:
        """The raw loop with the table's triggers off (no NOTIFY): for context only."""
        def connect(_i: int) -> Any:
            con = self.su()
            con.execute("SET session_replication_role = replica")
            return con

        def claim(con: Any, i: int) -> Any:
            row = con.execute(RAW_CLAIM, {"me": self.rep_ids[i], "team": self.team}).fetchone()
            return row[0] if row else None

        got, elapsed = run_claimers(n, seconds, connect, claim)
        return Run("raw_silent", n, sum(map(len, got)), elapsed, self.check(got))

    def check(self, got: list[list[Any]]) -> int:
        """Double claims in one run: a lead returned twice or owned by someone else."""
        claimed = [lead for mine in got for lead in mine]
        doubles = len(claimed) - len(set(claimed))
        with self.su() as con:
            owners = dict(con.execute("SELECT id, owner_id FROM leads WHERE id = ANY(%s)",
                                      (claimed,)).fetchall())
        for i, mine in enumerate(got):
            doubles += sum(1 for lead in mine if owners.get(lead) != self.rep_ids[i])
        return doubles

    def drop(self) -> None:
        with psycopg.connect(self.server, autocommit=True) as con:
            con.execute(f"DROP DATABASE IF EXISTS {q(self.dbname)} WITH (FORCE)")
            for login in self.logins:
                con.execute(f"DROP ROLE IF EXISTS {q(login)}")
            for suffix in ("rep", "team_lead", "admin", "intake", "owner"):
                con.execute(f"DROP ROLE IF EXISTS {q(self.prefix + suffix)}")


class ProcrastinatePeer:
    """procrastinate's own schema and fetch function, on a database of its own."""

    def __init__(self, server: str, schema: Path, jobs: int, max_fetchers: int) -> None:
        self.server = server
        self.dbname = f"lq_bench_proc_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(server, autocommit=True) as con:
            con.execute(f"CREATE DATABASE {q(self.dbname)}")
        self.url = f"{server.rsplit('/', 1)[0]}/{self.dbname}"
        with psycopg.connect(self.url, autocommit=True) as con:
            con.execute(schema.read_text())  # type: ignore[call-overload]
            con.execute("INSERT INTO procrastinate_jobs (queue_name, task_name) "
                        "SELECT 'default', 'bench' FROM generate_series(1, %s)", (jobs,))
            self.workers = [con.execute("SELECT worker_id FROM procrastinate_register_worker_v1()"
                                        ).fetchone()[0] for _ in range(max_fetchers)]
            con.execute("VACUUM ANALYZE")

    def reset(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as con:
            con.execute("SET session_replication_role = replica")
            con.execute("UPDATE procrastinate_jobs SET status = 'todo', worker_id = NULL "
                        "WHERE status <> 'todo'")
            con.execute("DELETE FROM procrastinate_events WHERE type <> 'deferred'")
            con.execute("VACUUM ANALYZE procrastinate_jobs")

    def fetch(self, n: int, seconds: float) -> Run:
        def claim(con: Any, i: int) -> Any:
            row = con.execute("SELECT id FROM procrastinate_fetch_job_v2(ARRAY['default'], %s)",
                              (self.workers[i],)).fetchone()
            return row[0] if row and row[0] is not None else None

        got, elapsed = run_claimers(
            n, seconds, lambda _i: psycopg.connect(self.url, autocommit=True), claim)
        claimed = [j for mine in got for j in mine]
        return Run("procrastinate", n, len(claimed), elapsed, len(claimed) - len(set(claimed)))

    def drop(self) -> None:
        with psycopg.connect(self.server, autocommit=True) as con:
            con.execute(f"DROP DATABASE IF EXISTS {q(self.dbname)} WITH (FORCE)")


def procrastinate_schema(venv: str | None) -> tuple[Path | None, str]:
    """schema.sql of an installed procrastinate (a throwaway venv), or why not."""
    python = Path(venv) / "bin" / "python" if venv else None
    if python is None or not python.exists():
        return None, ("procrastinate peer skipped: no --procrastinate-venv given "
                      "(python -m venv /tmp/procvenv && /tmp/procvenv/bin/pip install "
                      "procrastinate)")
    done = subprocess.run(
        [str(python), "-c", "import procrastinate, os; print(procrastinate.__version__); "
         "print(os.path.join(os.path.dirname(procrastinate.__file__), 'sql', 'schema.sql'))"],
        capture_output=True, text=True)
    if done.returncode != 0:
        return None, f"procrastinate peer skipped: not importable in {venv}"
    version, path = done.stdout.split()
    return Path(path), f"procrastinate {version}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", default=os.environ.get(
        "LEADQUEUE_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"))
    parser.add_argument("--leads", type=int, default=200_000)
    parser.add_argument("--seconds", type=float, default=2.0, help="length of each round")
    parser.add_argument("--rounds", type=int, default=3,
                        help="rounds per path and level, alternating the paths")
    parser.add_argument("--claimers", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--procrastinate-venv", default=os.environ.get("PROCRASTINATE_VENV"))
    args = parser.parse_args()

    schema, peer_note = procrastinate_schema(args.procrastinate_venv)
    print(f"setting up: {args.leads:,} pool leads, {max(args.claimers)} rep logins; "
          f"{peer_note}", flush=True)
    bench = ClaimsBench(args.server, args.leads, max(args.claimers))
    peer = None
    try:
        if schema is not None:
            peer = ProcrastinatePeer(args.server, schema, args.leads, max(args.claimers))
        rows = []
        for n in args.claimers:
            # Short rounds, alternating the paths, so a burst of load from
            # elsewhere on the machine hits every path alike.
            ours = Run("ours", n, 0, 0.0, 0)
            raw = Run("raw", n, 0, 0.0, 0)
            silent = Run("raw_silent", n, 0, 0.0, 0)
            fetch = Run("procrastinate", n, 0, 0.0, 0) if peer is not None else None
            for _ in range(args.rounds):
                bench.reset()
                add(ours, bench.ours(n, args.seconds))
                bench.reset()
                add(raw, bench.raw(n, args.seconds))
                bench.reset()
                add(silent, bench.raw_silent(n, args.seconds))
                if peer is not None and fetch is not None:
                    peer.reset()
                    add(fetch, peer.fetch(n, args.seconds))
            rows.append((n, ours, raw, silent, fetch))
            print(f"  {n:>2} claimers: ours {ours.rate:8,.0f}/s   raw {raw.rate:8,.0f}/s   "
                  f"{ours.rate / raw.rate:4.2f}x"
                  + (f"   procrastinate {fetch.rate:8,.0f}/s" if fetch else ""), flush=True)
    finally:
        bench.drop()
        if peer is not None:
            peer.drop()

    print()
    print(f"Pool claims/s over {args.leads:,} leads, {args.rounds} x {args.seconds:g} s per "
          "path and level (client and server on this 2-core machine)")
    head = (f"{'claimers':>8}  {'ours':>10}  {'raw SKIP LOCKED':>15}  {'ours/raw':>8}"
            f"  {'raw, no NOTIFY':>14}")
    if peer is not None:
        head += f"  {'procrastinate':>13}  {'ours/proc':>9}"
    print(head + f"  {'double claims':>13}")
    failed = False
    for n, ours, raw, silent, fetch in rows:
        ratio = ours.rate / raw.rate if raw.rate else 0.0
        doubles = ours.double_claims + raw.double_claims + silent.double_claims + (
            fetch.double_claims if fetch else 0)
        line = (f"{n:>8}  {ours.rate:>10,.0f}  {raw.rate:>15,.0f}  {ratio:>7.2f}x"
                f"  {silent.rate:>14,.0f}")
        if peer is not None and fetch is not None:
            line += f"  {fetch.rate:>13,.0f}  {ours.rate / fetch.rate:>8.2f}x"
        print(line + f"  {doubles:>13}")
        if doubles or ratio < GOAL:
            failed = True
    print(f"goal: ours >= {GOAL}x raw at every level; zero double claims in every run")
    print("raw, no NOTIFY: the raw loop with the table's triggers off (context only: every "
          "claim must NOTIFY the rep, and PostgreSQL serialises the commits of notifying "
          "transactions)")
    if schema is None:
        print(peer_note)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
