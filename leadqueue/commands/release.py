"""``leadqueue release --db URL LEAD_ID``: give a claimed lead back to the pool."""

from __future__ import annotations

import argparse

from ..cli import UsageError, add_db_argument, shared_url


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser("release", help="give a lead you claimed back to your team's pool")
    add_db_argument(p, required=True, help="the shared database URL, as you (postgresql://…)")
    p.add_argument("lead_id", metavar="LEAD_ID", help="the claimed lead's id")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import sys
    import uuid

    from ..shared.admin import connect
    from ..shared.claims import ClaimRefused, release

    url = shared_url(args.db)
    try:
        lead_id = uuid.UUID(args.lead_id)
    except ValueError:
        raise UsageError(f"LEAD_ID: {args.lead_id!r} is not a lead id (a UUID)") from None
    # autocommit: each call is one server round trip (the function is the transaction)
    with connect(url, autocommit=True) as conn:
        try:
            epoch = release(conn, lead_id)
        except ClaimRefused as exc:
            print(f"leadqueue: error: {exc}", file=sys.stderr)
            return 1
    print(f"Released lead {lead_id} back to the pool (lease epoch {epoch}).")
    return 0
