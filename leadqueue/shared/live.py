"""Live push: a rep's app hears about new, claimed and reassigned leads at once.

The shared database NOTIFYs a per-rep channel (``lq_rep_channel(user id)``)
whenever a lead's owner changes (routing, claims, reassignment, lease
expiry) and when intake notes a duplicate on a rep's lead; pool changes go to
the team channel. Payloads carry ids and an event name only, because
channels bypass row-level security: the app pulls the lead through its own
(RLS-checked) connection.

:class:`LeadListener` owns one psycopg connection of its own, on a thread of
its own (never the GUI thread), and calls ``on_notice`` from that thread:
the app hands the notice to its GUI thread (a queued signal), refreshes and
notifies the rep. When the connection drops (server restart, network,
``pg_terminate_backend``) it reconnects with exponential backoff (with
jitter, capped) and catches up: it compares the rep's leads now with what it
last knew and reports every lead assigned or taken away in between, then
sends one ``reconnected`` notice so the app refreshes everything else.
While connected it also records the rep as online (``users.last_seen_at``),
which routing's "offline too long" rule reads.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

log = logging.getLogger("leadqueue.live")


@dataclass(frozen=True)
class Notice:
    """One thing the app should react to.

    ``event``: assigned, claimed, reassigned, released, unassigned, duplicate
    (a lead from the rep's own channel), pool (the team's pool changed), or
    reconnected (refresh everything). ``catch_up`` marks what was found after
    a reconnect rather than heard live.
    """

    event: str
    lead_id: uuid.UUID | None = None
    channel: str | None = None
    catch_up: bool = False


def parse_payload(channel: str, payload: str) -> Notice:
    try:
        doc = json.loads(payload) if payload else {}
    except ValueError:
        doc = {}
    lead = doc.get("lead_id") if isinstance(doc, dict) else None
    try:
        lead_id = uuid.UUID(str(lead)) if lead else None
    except ValueError:
        lead_id = None
    event = doc.get("event") if isinstance(doc, dict) else None
    return Notice(str(event or "changed"), lead_id, channel)


def _profile_of(url: str) -> Any:
    """The server and login a URL names (for plain-words messages), or None."""
    from .signin import SignInError, profile_of_url

    try:
        return profile_of_url(url)[0]
    except SignInError:
        return None


class ListenerRefused(Exception):
    """The database does not know this login as a LeadQueue user: retrying won't help."""


class LeadListener:
    """LISTENs for one person's notices; reconnects and catches up on its own.

    ``url``: the person's own connection URL (their login role).
    ``on_notice``: called on the listener thread for every :class:`Notice`.
    ``on_state``: called with "connecting", "listening", "disconnected: …",
    "refused: …" and "stopped" (for the status line).
    """

    def __init__(self, url: str, on_notice: Callable[[Notice], None], *,
                 on_state: Callable[[str], None] | None = None,
                 listen_team: bool = True, heartbeat_s: float = 60.0,
                 backoff_initial_s: float = 0.5, backoff_max_s: float = 30.0,
                 poll_s: float = 1.0) -> None:
        from .admin import libpq_url

        self.url = libpq_url(url)
        self._profile = _profile_of(url)
        self.on_notice = on_notice
        self.on_state = on_state or (lambda _s: None)
        self.listen_team = listen_team
        self.heartbeat_s = heartbeat_s
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self.poll_s = poll_s
        self.reconnects = 0
        self.backend_pid: int | None = None
        self.user_id: uuid.UUID | None = None
        self._stop = threading.Event()
        self._listening = threading.Event()
        self._thread: threading.Thread | None = None
        self._conn: Any = None
        #: The rep's active leads as last known: lead id -> assigned_at.
        self._known: dict[uuid.UUID, datetime | None] | None = None

    # -- life cycle -------------------------------------------------------------

    def start(self) -> LeadListener:
        if self._thread is not None:
            raise RuntimeError("listener already started")
        self._thread = threading.Thread(target=self._run, name="leadqueue-live", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def wait_listening(self, timeout: float | None = None) -> bool:
        """Block until LISTEN is in place (tests and benchmarks use this)."""
        return self._listening.wait(timeout)

    @property
    def listening(self) -> bool:
        return self._listening.is_set()

    # -- the thread ---------------------------------------------------------------

    def _state(self, state: str) -> None:
        try:
            self.on_state(state)
        except Exception:  # a broken status callback must not kill the listener
            log.exception("on_state callback failed")

    def _emit(self, notice: Notice) -> None:
        try:
            self.on_notice(notice)
        except Exception:
            log.exception("on_notice callback failed for %s", notice)

    def _run(self) -> None:
        import psycopg

        delay = self.backoff_initial_s
        while not self._stop.is_set():
            self._state("connecting")
            try:
                self._session()
                delay = self.backoff_initial_s
            except ListenerRefused as exc:
                self._state(f"refused: {exc}")
                break
            except psycopg.Error as exc:
                from .connect import classify_failure

                self._listening.clear()
                raw = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc)
                # The status line gets plain words; the log keeps the driver's.
                check = classify_failure(exc, self._profile)
                self._state(f"disconnected: {check.message if check is not None else raw}")
                log.info("live connection lost (%s); retrying in %.1fs", raw, delay)
            finally:
                self._listening.clear()
                conn, self._conn = self._conn, None
                _close_quietly(conn)
            if self._stop.is_set():
                break
            # Jitter keeps a whole team from reconnecting in lock step after a restart.
            self._stop.wait(delay * random.uniform(0.8, 1.2))
            delay = min(delay * 2, self.backoff_max_s)
        self._state("stopped")

    def _session(self) -> None:
        import time

        import psycopg
        from psycopg import sql

        conn = psycopg.connect(self.url, autocommit=True, connect_timeout=10,
                               keepalives=1, keepalives_idle=10, keepalives_interval=5,
                               keepalives_count=3, application_name="leadqueue-live")
        self._conn = conn
        row = conn.execute(
            "SELECT lq_me(), lq_my_team(), pg_backend_pid()").fetchone()
        me, team, pid = row if row else (None, None, None)
        if me is None:
            raise ListenerRefused("this login is not an active LeadQueue user")
        self.user_id, self.backend_pid = me, pid
        channels = [conn.execute("SELECT lq_rep_channel(%s)", (me,)).fetchone()[0]]
        if self.listen_team and team is not None:
            channels.append(conn.execute("SELECT lq_team_channel(%s)", (team,)).fetchone()[0])
        for channel in channels:
            conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
        # LISTEN is in place before we look: anything after this is heard live.
        first = self._known is None
        self._catch_up(conn, announce=not first)
        if not first:
            self.reconnects += 1
        self._listening.set()
        self._state("listening")
        self._beat(conn)
        last_beat = time.monotonic()
        while not self._stop.is_set():
            for note in conn.notifies(timeout=self.poll_s):
                notice = parse_payload(note.channel, note.payload)
                self._track(notice)
                self._emit(notice)
                if self._stop.is_set():
                    break
            if time.monotonic() - last_beat >= self.heartbeat_s:
                self._beat(conn)
                last_beat = time.monotonic()

    def _beat(self, conn: Any) -> None:
        """Mark the person online (and prove the connection still works)."""
        conn.execute("UPDATE users SET last_seen_at = now() WHERE id = lq_me()")

    def _track(self, notice: Notice) -> None:
        if self._known is None or notice.lead_id is None:
            return
        if notice.event in ("unassigned", "released"):
            self._known.pop(notice.lead_id, None)
        elif notice.event in ("assigned", "claimed", "reassigned"):
            self._known.setdefault(notice.lead_id, None)

    def _catch_up(self, conn: Any, *, announce: bool) -> None:
        """What changed since we last knew: the "since" query is the diff of
        the rep's active leads (and their assignment times) against the last
        known set, which no clock skew or late commit can fool."""
        rows = conn.execute(
            "SELECT id, assigned_at FROM leads WHERE owner_id = lq_me() "
            "AND deleted_at IS NULL AND status IN ('new', 'working')").fetchall()
        now_known = {r[0]: r[1] for r in rows}
        before = self._known
        self._known = now_known
        if not announce or before is None:
            return
        for lead_id, assigned_at in now_known.items():
            if lead_id not in before or (before[lead_id] is not None
                                         and before[lead_id] != assigned_at):
                self._emit(Notice("assigned", lead_id, None, catch_up=True))
        for lead_id in before:
            if lead_id not in now_known:
                self._emit(Notice("unassigned", lead_id, None, catch_up=True))
        self._emit(Notice("reconnected", None, None, catch_up=True))


class IntakeWaker:
    """Wakes the worker when another system inserts into ``intake``.

    ``wait(timeout)`` returns True as soon as a row is inserted, False after
    ``timeout``. Rows that arrived before the first wait (or while the
    connection was down) raise no wake-up: the worker processes the table
    before each wait, so its interval stays the fallback. A lost connection
    is reopened on the next wait; meanwhile it waits like a plain timer.
    """

    def __init__(self, url: str) -> None:
        from .admin import libpq_url

        self.url = libpq_url(url)
        self._conn: Any = None

    def _connect(self) -> None:
        import psycopg

        self._conn = psycopg.connect(self.url, autocommit=True, connect_timeout=10,
                                     application_name="leadqueue-worker-wake")
        self._conn.execute("LISTEN lq_intake")

    def wait(self, timeout: float) -> bool:
        import time

        import psycopg

        deadline = time.monotonic() + timeout
        try:
            if self._conn is None:
                self._connect()
            for _ in self._conn.notifies(timeout=max(0.0, deadline - time.monotonic()),
                                         stop_after=1):
                return True
            return False
        except psycopg.Error:
            self.close()
            time.sleep(max(0.0, deadline - time.monotonic()))
            return False

    def close(self) -> None:
        conn, self._conn = self._conn, None
        _close_quietly(conn)


def _close_quietly(conn: Any) -> None:
    """Close a connection that may already be broken (nothing to report then)."""
    if conn is not None:
        try:
            conn.close()
        except Exception:  # already broken
            pass
