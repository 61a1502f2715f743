"""``leadqueue worker``: run the time-driven rules against a database.

One pass applies due escalation stages, acknowledgement timeouts, recycle
dates, cadence enrolment and steps, lifecycle moves and scoring
(``leadqueue.engine.run_pass``) and prints what it decided. On a shared
PostgreSQL database set up by ``admin init`` it first does the shared
duties (``leadqueue.shared.intake.shared_pass``: the intake table, leads
written without routing, expired claims), and between passes it wakes as
soon as another system inserts into ``intake``. Without
``--once`` it repeats every ``--interval`` seconds until stopped (Ctrl-C or
SIGTERM end it between passes; killing it mid-pass is safe too: each batch is
one transaction and the next pass redoes what did not commit). Several
workers may run at once.
"""

from __future__ import annotations

import argparse
import sys

from ..cli import UsageError, add_db_argument

DEFAULT_INTERVAL = 60.0


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser(
        "worker", help="run the follow-up rules (escalation, cadences, lifecycle, scoring)",
        description="Apply due escalations, acknowledgement timeouts, cadence steps, "
                    "lifecycle moves, recycle dates and scoring; safe to run twice at once.")
    add_db_argument(p, required=True)
    p.add_argument("--once", action="store_true", help="run one pass and exit")
    p.add_argument("--at", metavar="ISO8601",
                   help="pretend it is this time (with --once), e.g. 2026-03-04T15:00:00Z")
    p.add_argument("--interval", type=float, default=DEFAULT_INTERVAL, metavar="S",
                   help=f"seconds between passes (default {DEFAULT_INTERVAL:g})")
    p.add_argument("--dry-run", action="store_true",
                   help="show what would be decided without changing anything")
    p.add_argument("--show", type=int, default=20, metavar="N",
                   help="print at most N decision lines per pass (default 20; -1: all)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import logging
    import signal
    import threading

    from ..clock import SystemClock, parse_instant
    from ..engine import run_pass
    from ..store import StoreError, open_database

    if args.interval <= 0:
        raise UsageError(f"--interval: {args.interval:g} is not a positive number of seconds")
    at = None
    if args.at:
        if not args.once:
            raise UsageError("--at pretends one moment: use it with --once")
        try:
            at = parse_instant(args.at)
        except ValueError as exc:
            raise UsageError(f"--at: {exc}") from None
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s",
                        stream=sys.stderr)
    engine = open_database(args.db, create=False)
    clock = SystemClock()
    stop = threading.Event()
    shared = not args.dry_run and _shared_duties(engine)
    waker = None
    if not args.once:
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        if shared:
            from ..shared.live import IntakeWaker

            waker = IntakeWaker(engine.url.render_as_string(hide_password=False))
    try:
        while True:
            now = at or clock.now()
            try:
                if shared:
                    from ..shared.intake import shared_pass

                    for line in shared_pass(engine, now).lines():
                        print(line)
                summary = run_pass(engine, now, dry_run=args.dry_run)
            except StoreError:
                raise
            except Exception as exc:  # the database went away mid-pass: retry later
                from sqlalchemy.exc import OperationalError

                if args.once or not isinstance(exc, OperationalError):
                    raise
                print(f"leadqueue worker: database unavailable ({exc.orig}); retrying in "
                      f"{args.interval:g} s", file=sys.stderr)
            else:
                _print(summary, args.show)
            if args.once:
                return 0
            if waker is not None:
                waker.wait(args.interval)  # early when a new intake row arrives
                if stop.is_set():
                    return 0
            elif stop.wait(args.interval):
                return 0
    finally:
        if waker is not None:
            waker.close()
        engine.dispose()


def _shared_duties(engine) -> bool:  # type: ignore[no-untyped-def]
    """Whether this is a shared database with ``admin init``'s functions."""
    if engine.dialect.name != "postgresql":
        return False
    from sqlalchemy import text

    with engine.connect() as con:
        if con.execute(text("SELECT to_regproc('lq_expire_leases') IS NOT NULL")).scalar():
            return True
    print("leadqueue worker: intake, routing and claim expiry skipped: run "
          "'leadqueue admin init' on this database to enable them", file=sys.stderr)
    return False


def _print(summary, show: int) -> None:  # type: ignore[no-untyped-def]
    print(summary.report(detail=False))
    lines = summary.lines if show < 0 else summary.lines[:show]
    for line in lines:
        print(f"  - {line}")
    if len(lines) < len(summary.lines):
        print(f"  … and {len(summary.lines) - len(lines)} more")
    if summary.skipped:
        print(f"  ({summary.skipped} left to another worker)")
    sys.stdout.flush()
