"""``leadqueue people --db PATH|URL [--json]``: who is in this database.

Lists the people one can sign in as or pass to ``--rep`` (reps first, then
team leads, then admins), with their role and team.
"""

from __future__ import annotations

import argparse
import json
import sys

from ..cli import add_db_argument


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser("people", help="list the people in a database",
                                   description="List the people (email, name, role, team).")
    add_db_argument(parser, required=True)
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..store import open_database
    from ..workspace import list_people

    engine = open_database(args.db, create=False)
    try:
        people = list_people(engine)
    finally:
        engine.dispose()
    if args.json:
        json.dump([{"email": p.email, "name": p.name, "role": p.role, "team": p.team_name}
                   for p in people], sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
        return 0
    if not people:
        print("nobody yet (load people with 'leadqueue load')")
        return 0
    width = max(len(p.email) for p in people)
    for p in people:
        print(f"{p.email:<{width}}  {p.role:<9}  {p.team_name or '—':<20}  {p.name}")
    return 0
