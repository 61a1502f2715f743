"""``leadqueue demo-db PATH``: write a demo database (the team and about 2,000 leads)."""

from __future__ import annotations

import argparse
import sys

from ..cli import UsageError


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 0 <= value <= 100_000:
        raise argparse.ArgumentTypeError(f"{value} is out of range (0 to 100000)")
    return value


def _seed(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "demo-db", help="write a demo database (same seed and --now: same data)",
        description="Write a demo local store: 2 teams, 8 reps, 2 team leads, 1 admin and "
                    "leads with 90 days of history, alive relative to --now.")
    parser.add_argument("path", metavar="PATH", help="the local store file to create")
    parser.add_argument("--leads", type=_count, default=2000, metavar="N",
                        help="number of leads (default 2000)")
    parser.add_argument("--seed", type=_seed, default=1, metavar="S",
                        help="random seed (default 1)")
    parser.add_argument("--now", metavar="ISO8601",
                        help="the anchor time the demo is alive at (default: now), "
                             "e.g. 2026-03-04T15:00:00Z")
    parser.add_argument("--force", action="store_true",
                        help="replace an existing LeadQueue database at PATH")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..clock import parse_instant
    from ..demo import write_demo_db
    from ..store import StoreError, inspect_store, sqlite_path_of, to_url

    target = args.path
    if "://" in target and not target.startswith("sqlite:///"):
        raise UsageError(f"demo-db writes a local store file, not {target.split('://')[0]}:// "
                         "(to fill a shared database use 'leadqueue load --db URL FILE.json')")
    path = sqlite_path_of(to_url(target))
    assert path is not None
    try:
        now = parse_instant(args.now) if args.now else None
    except ValueError as exc:
        raise UsageError(f"--now: {exc}") from None
    if path.is_dir():
        raise UsageError(f"{path} is a folder; give a file name such as {path / 'demo.db'}")
    if path.exists() and path.stat().st_size > 0:
        try:
            inspect_store(path)
        except StoreError as exc:
            raise UsageError(f"{exc}; not overwriting it") from None
        if not args.force:
            raise UsageError(f"{path} already exists; use --force to replace it")
    if not Path(path).parent.exists():
        raise UsageError(f"folder {path.parent} does not exist")
    print(f"writing demo database {path} …", file=sys.stderr)
    report = write_demo_db(path, leads=args.leads, seed=args.seed, now=now, overwrite=args.force)
    anchor = f"now={now.isoformat()}" if now else "now=the current time"
    print(f"wrote {path}: {report.summary()} (seed {args.seed}, {anchor})")
    print(f"open it with: leadqueue --db {path}")
    return 0
