"""``leadqueue intake --db URL --json FILE``: hand new leads to the shared database.

FILE holds one JSON object or a list of them, in the intake format
(``leadqueue.shared.intake.FIELDS``). Each lead is normalised, de-duplicated,
classified and routed; a bad item is rejected with every problem named by
field and the rest go in. Exit code 0 when every item was accepted, 1 when
some were rejected (the others are in), 2 when the file cannot be used
(nothing written).
"""

from __future__ import annotations

import argparse
import sys

from ..cli import UsageError, add_db_argument, read_json, shared_url


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser(
        "intake", help="add new leads (JSON): normalise, de-duplicate, classify, route",
        description="Take in new leads from a JSON file (one object or a list) and route "
                    "them. Bad items are rejected with the field named; the rest go in.")
    add_db_argument(p, required=True, help="the shared database URL (postgresql://…)")
    p.add_argument("--json", dest="json_file", required=True, metavar="FILE",
                   help="the leads: one JSON object or a list ('-' reads standard input)")
    p.add_argument("--source-system", metavar="NAME", default="cli",
                   help="recorded as the lead's source when it has none (default: cli)")
    p.add_argument("--report", choices=["text", "json"], default="text",
                   help="how to print the result per item (default: text)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import json
    from datetime import UTC, datetime

    from ..shared.intake import intake_payloads
    from ..store import open_database

    url = shared_url(args.db)
    doc = read_json(args.json_file)
    payloads = doc if isinstance(doc, list) else [doc]
    if not payloads:
        raise UsageError(f"{args.json_file}: the list is empty; nothing to take in")
    engine = open_database(url, create=False)
    try:
        summary = intake_payloads(engine, payloads, now=datetime.now(UTC),
                                  source_system=args.source_system)
    finally:
        engine.dispose()
    if args.report == "json":
        print(json.dumps({"created": summary.created, "duplicates": summary.duplicates,
                          "rejected": summary.rejected,
                          "items": [i.as_json() for i in summary.items]}, indent=2))
    else:
        for item in summary.items:
            print(item.line(), file=sys.stderr if item.outcome == "rejected" else sys.stdout)
        print(summary.line())
    return 1 if summary.rejected else 0
