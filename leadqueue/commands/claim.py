"""``leadqueue claim --db URL [--json]``: take the next lead from your team's pool.

Claims as the connecting database user (your own login role): the best
unclaimed lead of your team by priority, SLA deadline, score and age, leased
for your team's lease length. Prints ``{"claimed": null}`` (with ``--json``)
when the pool is empty.
"""

from __future__ import annotations

import argparse

from ..cli import add_db_argument, shared_url


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser("claim", help="claim the next lead from your team's pool",
                              description="Claim the best unclaimed lead of your team's pool "
                                          "as the connecting database user.")
    add_db_argument(p, required=True, help="the shared database URL, as you (postgresql://…)")
    p.add_argument("--json", action="store_true", help="print the claimed lead as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import json
    import sys

    from ..shared.admin import connect
    from ..shared.claims import ClaimRefused, claim_next, lead_summary

    url = shared_url(args.db)
    # autocommit: each call is one server round trip (the function is the transaction)
    with connect(url, autocommit=True) as conn:
        try:
            claim = claim_next(conn)
            lead = lead_summary(conn, claim.lead_id) if claim else None
        except ClaimRefused as exc:
            print(f"leadqueue: error: {exc}", file=sys.stderr)
            return 1
    if args.json:
        doc = None if claim is None or lead is None else {
            **lead, "epoch": claim.epoch, "leased_at": claim.leased_at.isoformat(),
            "lease_expires_at": claim.expires_at.isoformat()}
        print(json.dumps({"claimed": doc}, indent=2))
        return 0
    if claim is None or lead is None:
        print("The pool is empty: nothing to claim.")
        return 0
    name = f"{lead['first_name']} {lead['last_name']}".strip()
    company = f" ({lead['company']})" if lead.get("company") else ""
    print(f"Claimed {name}{company}: P{lead['priority']}, {lead['lead_class']}, "
          f"{lead.get('phone') or lead.get('email') or 'no contact'}")
    print(f"  lead {lead['id']}; lease until {claim.expires_at.isoformat()} "
          f"(epoch {claim.epoch})")
    return 0
