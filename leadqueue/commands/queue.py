"""``leadqueue queue --db PATH|URL --rep EMAIL [--at ISO8601] [--limit N] [--json]``.

Prints one rep's next-best-lead queue: the leads to work now (ranked, with the
reasons), the due leads whose calling window is closed ("later", with when it
opens) and the leads coming up. ``--limit`` caps each of the three lists.

``--at`` ranks the data as it is in the store as if it were that instant
(what would be due, callable, snoozed); it does not rewind history.

``--json`` prints ``{"callable": [...], "later": [...], "upcoming": [...]}``;
every item has the same keys (:data:`ITEM_KEYS`), times as ISO 8601 with
their offset (UTC, except ``local_time``, which is now on the lead's clock),
``tier`` 1-3 in "callable" and "later", null in "upcoming", and
``window_opens_at`` set in "later" only. A lead with a phone that does not
parse or an unknown time zone is listed like any other, with its
``data_issues`` flags; it is never left out.

Bad input (an unknown ``--rep``, a malformed ``--at``, a negative
``--limit``, a database that is not there) is one line on stderr, exit 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..cli import UsageError, add_db_argument

if TYPE_CHECKING:
    from ..views import QueueRow, RankedQueue

#: The keys of every item in the JSON lists, in order.
ITEM_KEYS = (
    "id", "external_id", "name", "company", "priority", "status", "tier", "reasons",
    "sla_due_at", "next_step_at", "next_step_kind", "next_step", "score", "local_time",
    "timezone", "window_opens_at", "due_at", "snoozed_until", "lead_class", "source", "phone",
    "email", "cadence_step", "data_issues",
)


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "queue", help="print a rep's ranked queue (what to work now, and why)",
        description="Print a rep's next-best-lead queue: callable now, due but outside the "
                    "calling window (later), and upcoming.")
    add_db_argument(parser, required=True)
    parser.add_argument("--rep", required=True, metavar="EMAIL", help="whose queue")
    parser.add_argument("--at", metavar="ISO8601",
                        help="rank as if it were this time, e.g. 2026-03-04T15:00:00Z "
                             "(default: now)")
    # Read as text and checked here, so that bad input is one clear line.
    parser.add_argument("--limit", metavar="N", help="at most N leads in each list")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.set_defaults(func=run)


def parse_limit(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        value = int(text.strip())
    except ValueError:
        raise UsageError(f"--limit: {text!r} is not a whole number") from None
    if value < 0:
        raise UsageError(f"--limit: {value} is negative (use 0 or more)")
    return value


def database_label(target: str) -> str:
    """How to name the database in a message: the file, or the URL without its password."""
    from ..store import is_url, sqlite_path_of, to_url

    if not is_url(target):
        return str(sqlite_path_of(to_url(target)))
    from sqlalchemy.engine import make_url

    try:
        return make_url(target).render_as_string(hide_password=True)
    except Exception:  # a malformed URL: say it as given
        return target


def run(args: argparse.Namespace) -> int:
    from ..clock import parse_instant

    try:
        at = parse_instant(args.at) if args.at is not None else None
    except ValueError as exc:
        raise UsageError(f"--at: {exc}") from None
    limit = parse_limit(args.limit)

    from ..store import open_database
    from ..workspace import UnknownPerson, Workspace

    engine = open_database(args.db, create=False)
    try:
        try:
            ws = Workspace.open(engine, args.rep)
        except UnknownPerson:
            raise UsageError(
                f"--rep: nobody with email {args.rep!r} in {database_label(args.db)}; "
                f"list the people there with: leadqueue people --db {args.db}") from None
        queue = ws.ranked_queue(at=at, limit=limit)
        now = at or ws.now()
    finally:
        engine.dispose()
    if args.json:
        json.dump(queue_json(queue), sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(queue_table(queue, ws.me.name, ws.me.email, now))
    return 0


# -- JSON -----------------------------------------------------------------------


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def item(row: QueueRow) -> dict[str, Any]:
    """One queue row as the JSON item (see :data:`ITEM_KEYS`)."""
    return {
        "id": str(row.id), "external_id": row.external_id, "name": row.name,
        "company": row.company, "priority": row.priority, "status": row.status,
        "tier": row.tier, "reasons": list(row.reasons),
        "sla_due_at": _time(row.sla_due_at), "next_step_at": _time(row.next_step_at),
        "next_step_kind": row.next_step_kind, "next_step": row.next_step, "score": row.score,
        "local_time": _time(row.local_time), "timezone": row.timezone,
        "window_opens_at": _time(row.window_opens_at), "due_at": _time(row.due_at),
        "snoozed_until": _time(row.snoozed_until), "lead_class": row.lead_class,
        "source": row.source, "phone": row.phone, "email": row.email,
        "cadence_step": row.cadence_step, "data_issues": list(row.data_issues),
    }


def queue_json(queue: RankedQueue) -> dict[str, list[dict[str, Any]]]:
    return {
        "callable": [item(r) for r in queue.callable],
        "later": [item(r) for r in queue.later],
        "upcoming": [item(r) for r in queue.upcoming],
    }


# -- the table ------------------------------------------------------------------


def _cut(text: str | None, width: int) -> str:
    text = text or ""
    return text if len(text) <= width else text[: width - 1] + "…"


def _relative(at: datetime | None, now: datetime) -> str:
    from ..queue import humanize

    if at is None:
        return "—"
    if abs((at - now).total_seconds()) < 60:
        return "now"
    return f"in {humanize(at - now)}" if at > now else f"{humanize(now - at)} ago"


def _local(row: QueueRow) -> str:
    if row.local_time is None:
        return "unknown"
    return row.local_time.strftime("%a %H:%M %Z")


def _flags(row: QueueRow) -> str:
    return ("! " + ", ".join(i.replace("_", " ") for i in row.data_issues)) if row.data_issues \
        else ""


def queue_table(queue: RankedQueue, rep_name: str, rep_email: str, now: datetime) -> str:
    """The queue as a readable text table."""
    out = [f"Queue of {rep_name} <{rep_email}> at {now:%Y-%m-%d %H:%M} UTC: "
           f"{len(queue.callable)} callable now, {len(queue.later)} later, "
           f"{len(queue.upcoming)} upcoming"]
    header = f"{'#':>3}  {'T':1}  {'P':1}  {'Lead':<24} {'Company':<20} {'Local time':<14} " \
             f"{'When':<14} Why"

    def section(title: str, rows: tuple[QueueRow, ...], when: Any) -> None:
        out.append("")
        out.append(f"{title} ({len(rows)})")
        if not rows:
            out.append("     (none)")
            return
        out.append(header)
        for i, row in enumerate(rows, 1):
            why = row.reasons[0] if row.reasons else ""
            flags = _flags(row)
            out.append(
                f"{i:>3}  {row.tier or '-'}  {row.priority}  {_cut(row.name, 24):<24} "
                f"{_cut(row.company, 20):<20} {_local(row):<14} {when(row):<14} {why}"
                + (f"  [{flags}]" if flags else ""))

    section("CALLABLE NOW", queue.callable,
            lambda r: _relative(r.sla_due_at if r.tier == 2 else r.next_step_at, now))
    section("LATER: due, outside the lead's calling window", queue.later,
            lambda r: "opens " + _relative(r.window_opens_at, now))
    section("UPCOMING", queue.upcoming, lambda r: _relative(r.due_at, now))
    return "\n".join(out) + "\n"
