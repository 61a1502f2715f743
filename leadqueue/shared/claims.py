"""Claims from a team's shared pool: the client of the server-side functions.

A claim is one server round trip: ``SELECT * FROM lq_claim_next()``, a
``SECURITY DEFINER`` function that picks the best unclaimed lead of the
caller's team (priority, SLA deadline, score, age) with ``FOR UPDATE SKIP
LOCKED``, makes the caller its owner and writes a lease with a fresh epoch (a
fencing token). When the pool looks empty it first returns the team's
expired, never-worked claims to it (the worker does that too). Identity is the
connection's own login role (``session_user``); nothing the client sends can
claim for someone else.

``renew``, ``release`` and ``set_status`` carry the epoch; once a lease has
expired or the lead was claimed again, the old epoch is refused (``LQ409``,
:class:`LeaseLost`), so a claimer that was paused, partitioned or killed can
never write ownership over someone else's claim. The lease history table has
an exclusion constraint (``lead_leases_no_overlap``): two overlapping leases
of one lead cannot both exist, whatever a client does.

Functions here take a DB-API connection (a psycopg connection, or
``engine.raw_connection()``) and commit their own unit of work.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..store import StoreError


class ClaimRefused(ValueError):
    """The database refused a claim operation; the message is shown as is."""


class LeaseLost(ClaimRefused):
    """The lease's epoch is stale: it expired or the lead was claimed again."""


class NotAllowed(ClaimRefused):
    """The caller may not do this (not a LeadQueue user, not their lead, no team)."""


class NoSuchLead(ClaimRefused):
    """No such lead, or not one the caller can see."""


_ERRORS = {"LQ409": LeaseLost, "LQ403": NotAllowed, "LQ404": NoSuchLead}


@dataclass(frozen=True)
class Claim:
    lead_id: uuid.UUID
    epoch: int
    leased_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class LeaseView:
    """Who holds what (the supervisor's view; RLS decides which rows)."""

    lead_id: uuid.UUID
    lead_name: str
    holder_id: uuid.UUID
    holder_name: str | None
    epoch: int
    leased_at: datetime
    expires_at: datetime


def _call(conn: Any, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Run one statement as its own unit of work, mapping our error codes."""
    cur = conn.cursor()
    try:
        cur.execute(sql, params)
        rows = cur.fetchall() if cur.description is not None else []
        conn.commit()
        return rows
    except Exception as exc:
        try:
            conn.rollback()
        except Exception:  # the connection itself is gone; the caller sees exc
            pass
        code = getattr(exc, "sqlstate", None)
        if code in _ERRORS:
            raise _ERRORS[code](_message(exc)) from None
        if code == "42501":  # insufficient_privilege
            raise NotAllowed(_message(exc)) from None
        import psycopg

        if isinstance(exc, psycopg.OperationalError):
            raise StoreError(f"the shared database is not reachable: {_message(exc)}") from None
        raise
    finally:
        cur.close()


def _message(exc: BaseException) -> str:
    diag = getattr(exc, "diag", None)
    primary = getattr(diag, "message_primary", None) if diag is not None else None
    return primary or str(exc).strip().splitlines()[0]


def claim_next(conn: Any) -> Claim | None:
    """Claim the best unclaimed lead of the caller's team; None when the pool is empty."""
    rows = _call(conn, "SELECT lead_id, epoch, leased_at, expires_at FROM lq_claim_next()")
    if not rows:
        return None
    lead_id, epoch, leased_at, expires_at = rows[0]
    return Claim(lead_id, epoch, leased_at, expires_at)


def current_epoch(conn: Any, lead_id: uuid.UUID) -> int | None:
    """The epoch of the caller's own active lease on ``lead_id``, if any."""
    rows = _call(conn, "SELECT epoch FROM lead_leases WHERE lead_id = %s "
                       "AND holder_id = lq_me() AND released_at IS NULL "
                       "ORDER BY epoch DESC LIMIT 1", (lead_id,))
    return rows[0][0] if rows else None


def renew(conn: Any, lead_id: uuid.UUID, epoch: int) -> datetime:
    """Extend the lease (by the team's lease length from now); LeaseLost when stale."""
    return _call(conn, "SELECT lq_renew(%s, %s)", (lead_id, epoch))[0][0]


def release(conn: Any, lead_id: uuid.UUID, epoch: int | None = None) -> int:
    """Give a claimed lead back to the pool; returns the epoch released.

    Without ``epoch`` the caller's own active lease is used (the CLI's case);
    with one, a stale epoch is refused with :class:`LeaseLost`.
    """
    if epoch is None:
        epoch = current_epoch(conn, lead_id)
        if epoch is None:
            raise LeaseLost(f"you hold no lease on lead {lead_id} (never claimed, released, "
                            "or it expired)")
    _call(conn, "SELECT lq_release(%s, %s)", (lead_id, epoch))
    return epoch


def set_status(conn: Any, lead_id: uuid.UUID, status: str, epoch: int | None = None) -> None:
    """Change a lead's status through the fenced server function."""
    _call(conn, "SELECT lq_set_status(%s, %s, %s)", (lead_id, status, epoch))


def expire_leases(conn: Any) -> int:
    """Return every expired, never-acted-on claim to its pool; the worker calls it."""
    return int(_call(conn, "SELECT lq_expire_leases()")[0][0])


def reassign(conn: Any, lead_id: uuid.UUID, new_owner: uuid.UUID | None,
             reason: str | None = None) -> None:
    """A team lead's (or admin's) reassignment; ``None`` puts the lead in the pool."""
    _call(conn, "SELECT lq_reassign(%s, %s, %s)", (lead_id, new_owner, reason))


def active_leases(conn: Any) -> list[LeaseView]:
    """Active leases the caller may see: a rep their own, a team lead their team's."""
    rows = _call(conn, """
        SELECT ll.lead_id, l.first_name || ' ' || l.last_name, ll.holder_id, u.name,
               ll.epoch, ll.leased_at, ll.expires_at
          FROM lead_leases ll JOIN leads l ON l.id = ll.lead_id
          LEFT JOIN users u ON u.id = ll.holder_id
         WHERE ll.released_at IS NULL AND ll.expires_at > lq_now()
         ORDER BY ll.expires_at""")
    return [LeaseView(*r) for r in rows]


def lead_summary(conn: Any, lead_id: uuid.UUID) -> dict[str, Any]:
    """The claimed lead as the CLI prints it (read under the caller's RLS)."""
    cols = ("id", "external_id", "first_name", "last_name", "company", "email", "phone",
            "priority", "lead_class", "status", "source", "score", "timezone", "sla_due_at",
            "created_at")
    rows = _call(conn, f"SELECT {', '.join(cols)} FROM leads WHERE id = %s", (lead_id,))
    if not rows:
        raise NoSuchLead(f"lead {lead_id} is not visible to you")
    out = {}
    for name, value in zip(cols, rows[0], strict=True):
        if isinstance(value, uuid.UUID):
            value = str(value)
        elif isinstance(value, datetime):
            value = value.isoformat()
        out[name] = value
    return out
