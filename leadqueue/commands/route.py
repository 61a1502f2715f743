"""``leadqueue route --db URL --lead-json FILE --dry-run``: where would this lead go?

Runs the real intake checks, duplicate detection, classification and routing
rules against the shared database for a hypothetical lead and prints the
decision and why: the rule, the method, every candidate considered, who was
skipped and why, the rules tried before. Nothing is written and no lock is
taken (the playbook: test routing with dummy leads before trusting it).
"""

from __future__ import annotations

import argparse
from typing import Any

from ..cli import UsageError, add_db_argument, read_json, shared_url


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser(
        "route", help="show where a hypothetical lead would be routed, and why (dry run)",
        description="Route a hypothetical lead (intake JSON) without changing anything.")
    add_db_argument(p, required=True, help="the shared database URL (postgresql://…)")
    p.add_argument("--lead-json", required=True, metavar="FILE",
                   help="one lead in the intake format ('-' reads standard input)")
    p.add_argument("--dry-run", action="store_true",
                   help="required: routing real leads is intake's job (leadqueue intake)")
    p.add_argument("--json", action="store_true", help="print the decision as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import json
    from datetime import UTC, datetime

    from ..shared.intake import dry_run
    from ..store import open_database

    if not args.dry_run:
        raise UsageError("route only does dry runs: add --dry-run (new leads are routed by "
                         "'leadqueue intake' or the worker)")
    url = shared_url(args.db)
    payload = read_json(args.lead_json)
    engine = open_database(url, create=False)
    try:
        result, why = dry_run(engine, payload, now=datetime.now(UTC))
    finally:
        engine.dispose()
    if result.outcome == "rejected":
        raise UsageError(f"{args.lead_json}: {result.error}")
    if args.json:
        print(json.dumps({"outcome": "duplicate" if result.outcome == "duplicate" else "route",
                          "summary": result.summary, **why, "dry_run": True}, indent=2))
        return 0
    print(render(result.outcome, result.summary, why))
    return 0


def render(outcome: str, summary: str, why: dict[str, Any]) -> str:
    lines = []
    if outcome == "duplicate":
        dup = why.get("duplicate_of") or {}
        lines.append(f"Duplicate of lead {dup.get('lead_id')} ({dup.get('name')}, same "
                     f"{dup.get('matched_on')}): it would become a note on that lead.")
    else:
        owner = why.get("owner")
        team = why.get("team") or {}
        if owner:
            lines.append(f"Would go to: {owner['name']}"
                         + (f" (team {team.get('name')})" if team.get("name") else ""))
        else:
            lines.append(f"Would go to: the {team.get('name') or 'unassigned'} pool")
        lines.append(f"Why: {summary}")
        rule = why.get("rule")
        lines.append(f"Rule: {rule['name'] if rule else '(none)'}; method: "
                     f"{why.get('method') or '-'}; via: {why.get('via')}")
        cls = why.get("classification")
        if cls:
            lines.append(f"Classified: {cls['class']}, P{cls['priority']} ({cls['why']})")
        if why.get("candidates"):
            lines.append("Candidates considered:")
            for c in why["candidates"]:
                state = "eligible" if c["eligible"] else f"skipped: {c['skipped']}"
                lines.append(f"  {c['name']:<24} {c['stage']:<15} {state} "
                             f"({c['assigned_today']}/{c['capacity']} today)")
        for tried in why.get("rules_tried") or ():
            lines.append(f"Rule not matched: {tried['rule']}: {tried['why_not']}")
    lines.append("Dry run: nothing was changed.")
    return "\n".join(lines)
