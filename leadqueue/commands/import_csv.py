"""``leadqueue import-csv --db URL FILE.csv [--map COL=field ...]``: import leads.

Rows go through intake (normalised, de-duplicated, classified, routed). A bad
row is rejected with its line, column and field named; the other rows go in
(exit 1 when any row was rejected). A file or mapping that cannot be used is
refused before anything is written (exit 2).
"""

from __future__ import annotations

import argparse
import sys

from ..cli import UsageError, add_db_argument, shared_url


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser(
        "import-csv", help="import leads from a CSV file (column mapping, routed like intake)",
        description="Import leads from CSV. Headers that name a lead field map by themselves "
                    "('First Name' is first_name); map others with --map.")
    add_db_argument(p, required=True, help="the shared database URL (postgresql://…)")
    p.add_argument("file", metavar="FILE.csv")
    p.add_argument("--map", action="append", default=[], metavar="COLUMN=FIELD",
                   help="map a column to a lead field; COLUMN= ignores the column (repeatable)")
    p.add_argument("--source-system", metavar="NAME", default="csv",
                   help="recorded as the lead's source when it has none (default: csv)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from ..shared.csv_import import CsvError, import_csv, parse_mapping
    from ..store import open_database

    url = shared_url(args.db)
    try:
        mapping = parse_mapping(args.map)
    except CsvError as exc:
        raise UsageError(str(exc)) from None
    engine = open_database(url, create=False)
    try:
        report = import_csv(engine, args.file, now=datetime.now(UTC), mapping=mapping,
                            source_system=args.source_system)
    except CsvError as exc:
        raise UsageError(f"{exc}; nothing was imported") from None
    finally:
        engine.dispose()
    for problem in report.problems:
        print(str(problem), file=sys.stderr)
    print(report.line())
    return 1 if report.problems else 0
