"""Queue > Take next from pool (P) and Return to pool (Shift+P).

Taking a lead is ``Workspace.claim_next`` on the window's executor (never on
the GUI thread): the best unclaimed lead of the rep's team becomes theirs
under a lease, the queue reloads and the lead opens. The wrap-up rule of the
lead open before still applies (it is asked first). "The pool is empty" and
"offline / local store only" are said in plain words; neither is an error.

Returning is ``Workspace.release``: the lead goes back to the team's pool at
once (otherwise an untouched claim returns by itself when its lease runs out).
"""

from __future__ import annotations

from typing import Any

POOL_EMPTY = "The pool is empty: nothing to take right now."


def take_next_from_pool(window: Any) -> None:
    if not window.may_leave(then=lambda: take_next_from_pool(window)):
        return
    window.statusBar().showMessage("Taking the next lead from the pool…", 5000)

    def claimed(row: Any) -> None:
        if row is None:
            window.statusBar().showMessage(POOL_EMPTY, 10_000)
            return
        session = getattr(window, "shared_session", None)
        if session is not None:
            session.note_claim(row.id)  # renewed while it is open
        _open_claimed(window, row)

    window._write("take_from_pool", lambda ws: ws.claim_next(), then=claimed)


def _open_claimed(window: Any, row: Any) -> None:
    """Open the lead just claimed, clearing filters that would hide it."""
    if window.model.row_of(row.id) < 0:
        window.search.clear()
        for combo in (window.section_filter, window.priority_filter, window.source_filter):
            combo.setCurrentIndex(0)
    if window.select_lead(row.id):
        window.statusBar().showMessage(f"Claimed from the pool: {row.name}.", 8000)
    else:
        window.statusBar().showMessage(
            f"Claimed {row.name} from the pool; it shows in your queue once it loads.", 8000)
        window.reload_queue(select=row.id)


def return_to_pool(window: Any) -> None:
    lead_id = window.active_lead
    if lead_id is None:
        window.statusBar().showMessage("Open a lead first.", 3000)
        return
    name = getattr(window, "_active_name", "") or "The lead"

    def released(_none: Any) -> None:
        session = getattr(window, "shared_session", None)
        if session is not None:
            session.forget_claim(lead_id)
        if window.active_lead == lead_id:
            window._lead_left_queue()  # it is the pool's now: not open here any more
        window.statusBar().showMessage(f"{name} is back in the team's pool.", 8000)

    window._write("return_to_pool", lambda ws: ws.release(lead_id), then=released)
