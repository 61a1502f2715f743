"""``leadqueue load --db PATH|URL FILE.json``: load teams, users, leads and activities.

The format is ``docs/load-format.md``. All or nothing: every problem is
printed by position and field (``leads[3].owner: no user 'x@y.com'``) and
nothing is written; exit code 2.
"""

from __future__ import annotations

import argparse
from typing import Any

from ..cli import UsageError, add_db_argument, read_json


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "load", help="load a JSON document of teams, users, leads and activities",
        description="Load teams, users, leads and activities (docs/load-format.md) into a "
                    "local store (created if absent) or a shared database. All or nothing.")
    add_db_argument(parser, required=True)
    parser.add_argument("file", metavar="FILE.json", help="the document; '-' reads standard input")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from ..loader import LoadError, load_document
    from ..store import inspect_store, is_url, open_database, sqlite_path_of, to_url

    doc = read_json(args.file, if_empty="is empty (expected a JSON object with teams, "
                                       "users, leads, activities)")
    target = args.db
    created = None
    if not is_url(target) or target.startswith("sqlite:///"):
        state = inspect_store(target)  # refuses a foreign or newer file, untouched
        if not state.exists:
            created = sqlite_path_of(state.url)
    engine = open_database(target)
    try:
        report = load_document(engine, doc, now=datetime.now(UTC))
    except LoadError as exc:
        engine.dispose()
        if created is not None:
            _remove_store(created)
        raise UsageError(str(exc)) from None
    finally:
        engine.dispose()
    if is_url(target):
        scheme, _, rest = target.partition("://")
        where = f"{scheme}://{rest.rsplit('@', 1)[-1]}"  # never print the password
    else:
        where = str(sqlite_path_of(to_url(target)))
    print(f"{report.summary()} into {where}")
    return 0


def _remove_store(path: Any) -> None:
    """Remove a store this command created for a load that failed."""
    from pathlib import Path

    base = Path(path)
    for p in (base, base.with_name(base.name + "-wal"), base.with_name(base.name + "-shm")):
        try:
            p.unlink()
        except FileNotFoundError:
            pass
