"""The app on the shared database: sign-in, live push, online status, claim leases.

How the app gets here (README, "Shared database"): ``leadqueue --db
postgresql://LOGIN@HOST/DB``, ``leadqueue --shared`` (the profile saved with
File > Connect to shared database…, its password from the OS keyring), or
File > Open shared workspace in a running app (a new window on the shared
database replaces the local one). :func:`sign_in` resolves the password
(``leadqueue.shared.signin``: URL, keyring, libpq, else it asks) and checks
the connection in plain words before any window opens.

There is no local-first sync yet: in this mode the window's workspace talks
to the shared database directly, through the window's executor (never on
the GUI thread), and PostgreSQL's row-level security decides what it sees.

:class:`SharedSession` (one per window on a shared database):

- runs a :class:`~leadqueue.shared.live.LeadListener` for the signed-in
  person (its own connection and thread). The listener's callbacks arrive on
  its thread; they are handed to the GUI thread through one process-wide
  relay (as ``ui.tasks`` does for the executor: never a signal of a
  window-owned object emitted from another thread), then the queue reloads
  at once (bursts coalesce into one reload) and a lead newly assigned to the
  rep raises "New lead assigned: <name> — <why>" through the window's
  notification controller;
- shows online / connecting / offline (reconnecting) in the status line, as
  the listener reports it;
- when a read or a write of the window fails because the shared database
  cannot be reached (the core's ``shared.connect.failure_message`` says so in
  plain words; the window shows them, and for a write that it was NOT
  saved), goes offline in the status line and reloads the queue with backoff
  (1 s, doubling, at most 30 s) until a read succeeds, then says it is back;
- keeps a claimed pool lead's lease alive while the rep has it open: the
  claim is renewed when the lead opens and then at half the time it has
  left (a 30-minute lease: about every 15 minutes), and a lost claim is
  said in words. Leaving the lead stops renewing; a claimed lead nobody
  acted on then returns to the pool by rule when its lease runs out
  (``lq_expire_leases``), and "Return to pool" hands it back at once.
"""

from __future__ import annotations

import itertools
import logging
import uuid
import weakref
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from leadqueue.shared.signin import SharedTarget
from ui.qt import QObject, Qt, QTimer, QtWidgets, Signal, is_alive

log = logging.getLogger("leadqueue.ui.shared")

#: Notices arriving within this many ms become one queue reload.
RELOAD_COALESCE_MS = 150
#: A claim is renewed at this share of the time it has left ...
RENEW_AT_SHARE = 0.5
#: ... but never more often than this (ms).
RENEW_MIN_MS = 10_000
#: After a read or write could not reach the shared database: the first
#: retry (a queue reload) after this many ms, doubling up to RETRY_MAX_MS.
RETRY_FIRST_MS = 1_000
RETRY_MAX_MS = 30_000

STATE_ONLINE, STATE_CONNECTING, STATE_OFFLINE, STATE_REFUSED = (
    "online", "connecting", "offline", "refused")
_STATE_LOOK = {
    STATE_ONLINE: ("● Online — shared database", "#1b5e20"),
    STATE_CONNECTING: ("● Connecting to the shared database…", "#5f6672"),
    STATE_OFFLINE: ("● Offline — reconnecting…", "#8a4b00"),
    STATE_REFUSED: ("● Not signed in to the shared database", "#c62828"),
}


# -- from the listener's thread to the GUI thread ------------------------------------------


class _LiveRelay(QObject):
    """Carries listener callbacks to the GUI thread (lives as long as the app)."""

    sig_notice = Signal(int, object)   # (session key, Notice)
    sig_state = Signal(int, str)       # (session key, listener state)

    def __init__(self) -> None:
        super().__init__()
        self.sessions: weakref.WeakValueDictionary[int, SharedSession] = (
            weakref.WeakValueDictionary())
        self.sig_notice.connect(self._on_notice, Qt.ConnectionType.QueuedConnection)
        self.sig_state.connect(self._on_state, Qt.ConnectionType.QueuedConnection)

    def _session(self, key: int) -> SharedSession | None:
        session = self.sessions.get(key)
        return session if session is not None and is_alive(session) else None

    def _on_notice(self, key: int, notice: Any) -> None:
        session = self._session(key)
        if session is not None:
            session._on_notice(notice)

    def _on_state(self, key: int, state: str) -> None:
        session = self._session(key)
        if session is not None:
            session._on_listener_state(state)


_relay: _LiveRelay | None = None
_keys = itertools.count(1)


def _the_relay() -> _LiveRelay:
    """The process's relay, created on the GUI thread by the first session."""
    global _relay
    if _relay is None:
        _relay = _LiveRelay()
    return _relay


# -- the session -------------------------------------------------------------------------------


class SharedSession(QObject):
    """Live push, online status and claim renewal for one window."""

    #: "online", "connecting", "offline" or "refused" (the status line's words follow).
    sig_state_changed = Signal(str)
    #: Every notice after it was handled (the team board refreshes on "pool").
    sig_notice = Signal(object)
    #: The Note delivered for a lead assigned to me (tests wait on it).
    sig_assigned = Signal(object)
    #: (lead id, new expiry) after a claim was renewed.
    sig_claim_renewed = Signal(object, object)
    #: (lead id, message) when a claim could not be renewed.
    sig_claim_lost = Signal(object, str)
    #: The plain words when the window's reads/writes cannot reach the shared
    #: database ("Shared database unreachable — retrying (…)"), "" once a read
    #: succeeds again.
    sig_reachability = Signal(str)

    def __init__(self, window: Any, target: SharedTarget, *,
                 listener_factory: Callable[..., Any] | None = None,
                 start_listener: bool = True) -> None:
        super().__init__(window)
        self.window = window
        self.target = target
        self.state = STATE_CONNECTING
        self.listener: Any = None
        self._listener_factory = listener_factory
        self._start_listener = start_listener
        self._ever_online = False
        self._stopped = False
        self._key = next(_keys)
        relay = _the_relay()
        relay.sessions[self._key] = self
        self._relay = relay
        #: Lead ids of my claims I renew while they are open -> expiry.
        self.claims: dict[uuid.UUID, datetime] = {}
        self.renew_min_ms = RENEW_MIN_MS
        #: Plain words while the window's workspace cannot reach the database.
        self.unreachable: str | None = None
        self.retry_first_ms = RETRY_FIRST_MS
        self.retry_max_ms = RETRY_MAX_MS
        self._retry_ms = self.retry_first_ms
        #: What the listener last said, to show again once reads work again.
        self._listener_look: tuple[str, str] = (STATE_CONNECTING, "")

        self._reload_timer = QTimer(self)
        self._reload_timer.setSingleShot(True)
        self._reload_timer.setInterval(RELOAD_COALESCE_MS)
        self._reload_timer.timeout.connect(self._reload_now)
        self.renew_timer = QTimer(self)
        self.renew_timer.setObjectName("claim_renew_timer")
        self.renew_timer.setSingleShot(True)
        self.renew_timer.timeout.connect(self._renew_open_claim)
        self.retry_timer = QTimer(self)
        self.retry_timer.setObjectName("shared_retry_timer")
        self.retry_timer.setSingleShot(True)
        self.retry_timer.timeout.connect(self._retry)

        window.sig_lead_opened.connect(self._on_lead_opened)
        window.executor.sig_task_failed.connect(self._on_task_failed)
        window.sig_queue_loaded.connect(self._on_queue_loaded)
        self._show_state(STATE_CONNECTING, "")
        app = QtWidgets.QApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.stop)
        window.installEventFilter(self)

    # -- life cycle ------------------------------------------------------------------------

    def start(self) -> SharedSession:
        """Start listening (the window's workspace must be open)."""
        if self.listener is not None or self._stopped or not self._start_listener:
            return self
        factory = self._listener_factory
        if factory is None:
            from leadqueue.shared.live import LeadListener

            factory = LeadListener
        relay, key = self._relay, self._key
        # Both callbacks run on the listener's thread: only the relay is touched there.
        self.listener = factory(
            self.target.url, lambda notice: relay.sig_notice.emit(key, notice),
            on_state=lambda state: relay.sig_state.emit(key, state))
        self.listener.start()
        return self

    def stop(self) -> None:
        """Stop listening and renewing (the window closed, the app quits)."""
        if self._stopped:
            return
        self._stopped = True
        self.renew_timer.stop()
        self.retry_timer.stop()
        self._reload_timer.stop()
        listener, self.listener = self.listener, None
        if listener is not None:
            listener.stop(timeout=5.0)

    def eventFilter(self, watched: QObject, event: Any) -> bool:
        from ui.qt import QEvent

        if watched is self.window and event.type() == QEvent.Type.Close:
            # The wrap-up rule may still refuse the close: look once it is decided.
            QTimer.singleShot(0, self._stop_if_closed)
        return False

    def _stop_if_closed(self) -> None:
        if not is_alive(self.window) or not self.window.isVisible():
            self.stop()

    # -- the status line -------------------------------------------------------------------

    def _on_listener_state(self, state: str) -> None:
        if self._stopped:
            return
        look: tuple[str, str] | None = None
        if state == "listening":
            self._ever_online = True
            look = (STATE_ONLINE, "Live: leads assigned to you arrive at once.")
        elif state == "connecting":
            if self.state != STATE_OFFLINE:
                look = (STATE_CONNECTING, "")
        elif state.startswith("disconnected"):
            detail = state.partition(":")[2].strip()  # plain words (shared.live)
            look = (STATE_OFFLINE, "The connection to the shared database dropped; "
                    "reconnecting with backoff. Taking leads from the pool waits for "
                    "it." + (f"\n{detail}" if detail else ""))
        elif state.startswith("refused"):
            look = (STATE_REFUSED, state.partition(":")[2].strip())
        # "stopped": the window is going away; nothing to show.
        if look is None:
            return
        self._listener_look = look
        if self.unreachable is not None and look[0] != STATE_REFUSED:
            return  # offline until the window's own reads work again (_on_queue_loaded)
        self._show_state(*look)

    # -- reads and writes that could not reach the database -----------------------------------

    def _on_task_failed(self, _label: str, exc: BaseException) -> None:
        """A task of the window failed: if the database was out of reach, go
        offline and retry (the window already said it in plain words)."""
        if self._stopped:
            return
        from leadqueue.shared.connect import failure_message

        words = failure_message(exc, profile=self.target.profile)
        if words is None:
            return  # a refusal or a bug: not a matter of reaching the server
        first = self.unreachable is None
        if first:
            self._retry_ms = self.retry_first_ms
        self.unreachable = words
        self._show_state(STATE_OFFLINE, f"{words}\nThe app tries again by itself; what you "
                         "did while it was unreachable and was not saved is said at the time.")
        if first:
            log.info("shared database unreachable: %s", exc)
            self.sig_reachability.emit(words)
        if not self.retry_timer.isActive():
            self.retry_timer.start(self._retry_ms)
            self._retry_ms = min(self._retry_ms * 2, self.retry_max_ms)

    def _retry(self) -> None:
        if self._stopped or self.unreachable is None or self.window.ws is None:
            return
        self.window.reload_queue()  # its failure arms the next, longer wait

    def _on_queue_loaded(self, _rows: int) -> None:
        if self._stopped or self.unreachable is None:
            return
        self.unreachable = None
        self.retry_timer.stop()
        self._show_state(*self._listener_look)
        self.window.statusBar().showMessage(
            "Back online: the shared database answers again.", 8000)
        self.sig_reachability.emit("")

    def _show_state(self, state: str, tooltip: str) -> None:
        self.state = state
        label = getattr(self.window, "status_online", None)
        if label is not None:
            text, colour = _STATE_LOOK[state]
            label.setText(text)
            label.setObjectName("status_online" if state == STATE_ONLINE else "status_offline")
            label.setStyleSheet(f"color: {colour};")
            label.setToolTip(tooltip or self.target.label)
        self.sig_state_changed.emit(state)

    # -- notices ---------------------------------------------------------------------------

    def _on_notice(self, notice: Any) -> None:
        if self._stopped:
            return
        event = notice.event
        if event != "pool":
            self._reload_timer.start()  # coalesces a burst into one reload
        ws = self.window.ws
        if ws is not None and notice.lead_id is not None and event in (
                "assigned", "reassigned", "duplicate"):
            lead_id, catch_up = notice.lead_id, notice.catch_up
            self.window.executor.submit(
                ws.assignment_notice, lead_id, event, label="assignment notice",
                on_done=lambda info: self._notify(info, event, catch_up),
                on_error=lambda exc: log.info("no notice for lead %s: %s", lead_id, exc))
        if event in ("unassigned", "released") and notice.lead_id is not None:
            self.claims.pop(notice.lead_id, None)
            if notice.lead_id == self.window.active_lead and event == "unassigned":
                self.window.statusBar().showMessage(
                    "The lead you have open was reassigned to someone else.", 15_000)
        self.sig_notice.emit(notice)

    def _reload_now(self) -> None:
        if not self._stopped and self.window.ws is not None:
            self.window.reload_queue()

    def _notify(self, info: Any, event: str, catch_up: bool) -> None:
        """Tell the rep: "New lead assigned: <name> — <why>" (the banner, the OS)."""
        if self._stopped or info is None:
            return
        from leadqueue.notify import NORMAL, URGENT, Note

        if event == "duplicate":
            title = f"New inquiry from {info.name}"
        elif event == "reassigned":
            title = f"Lead reassigned to you: {info.name}"
        else:
            title = f"New lead assigned: {info.name}"
        why = (f"P{info.priority} · while you were offline: {info.reason}" if catch_up
               else info.why)
        note = Note(title=title, lead_id=info.lead_id, lead_name=info.name, reason=why,
                    level=URGENT if info.priority == 1 else NORMAL, priority=info.priority,
                    at=self.window.now(), lead_ids=(info.lead_id,), kind=f"live_{event}")
        controller = getattr(self.window, "notifications", None)
        if controller is not None:
            controller.deliver([note])
        else:
            self.window.statusBar().showMessage(f"{title} — {why}", 15_000)
        self.sig_assigned.emit(note)

    # -- claims: renew while the lead is open -------------------------------------------------

    def _on_lead_opened(self, lead_id: uuid.UUID) -> None:
        self.renew_timer.stop()
        ws = self.window.ws
        if ws is None or self._stopped or (ws.me.role != "rep" and lead_id not in self.claims):
            return
        self._renew(lead_id)

    def _renew_open_claim(self) -> None:
        lead_id = self.window.active_lead
        if lead_id is not None and lead_id in self.claims:
            self._renew(lead_id)

    def _renew(self, lead_id: uuid.UUID) -> None:
        ws = self.window.ws
        if ws is None or self._stopped:
            return

        def done(expires_at: datetime | None) -> None:
            if expires_at is None:
                self.claims.pop(lead_id, None)  # not a claim of mine: nothing to keep alive
                return
            self.claims[lead_id] = expires_at
            self.sig_claim_renewed.emit(lead_id, expires_at)
            if lead_id == self.window.active_lead and not self._stopped:
                left_ms = (expires_at - datetime.now(UTC)).total_seconds() * 1000
                self.renew_timer.start(int(max(self.renew_min_ms, left_ms * RENEW_AT_SHARE)))

        def failed(exc: BaseException) -> None:
            from leadqueue.shared.connect import failure_message
            from leadqueue.workspace import ActionRefused

            self.claims.pop(lead_id, None)
            words = None if isinstance(exc, ActionRefused) else failure_message(
                exc, profile=self.target.profile)
            message = str(exc) if isinstance(exc, ActionRefused) else (
                f"The claim could not be renewed: {words or exc}")
            if "offline" in message.lower():
                message = ("You are offline: your claim on this lead could not be renewed; "
                           "it is kept until its lease runs out.")
            self.window.statusBar().showMessage(message, 15_000)
            self.sig_claim_lost.emit(lead_id, message)

        self.window.executor.submit(ws.renew_claim, lead_id, label="renew claim",
                                    on_done=done, on_error=failed)

    def note_claim(self, lead_id: uuid.UUID) -> None:
        """A claim of mine (Take next from pool): keep it alive while it is open."""
        self.claims.setdefault(lead_id, datetime.now(UTC))  # the real expiry: at renewal

    def forget_claim(self, lead_id: uuid.UUID) -> None:
        self.claims.pop(lead_id, None)
        if self.window.active_lead == lead_id:
            self.renew_timer.stop()


def session_of(window: Any) -> SharedSession | None:
    session = getattr(window, "shared_session", None)
    return session if session is not None and is_alive(session) else None


def attach_shared_session(window: Any, target: SharedTarget, **kwargs: Any) -> SharedSession:
    """Give ``window`` (open on the shared database) its live session and start it."""
    session = SharedSession(window, target, **kwargs)
    window.shared_session = session
    dock = getattr(window, "team_board", None)
    if dock is not None:  # a pool change shows on the board at once
        session.sig_notice.connect(
            lambda notice: notice.event == "pool" and dock.refresh_if_shown())
    if window.ws is not None:
        session.start()
    else:
        window.sig_ready.connect(session.start)
    return session


# -- signing in ---------------------------------------------------------------------------------


def ask_password_dialog(parent: Any, target: SharedTarget, message: str) -> str | None:
    """Ask for the password (blocking: used before a window exists, or from a menu)."""
    label = target.profile.label if target.profile is not None else target.label
    text, ok = QtWidgets.QInputDialog.getText(
        parent, "Shared database password",
        f"{message}\n\nPassword for {label} (kept in memory only; File > Connect to "
        "shared database… keeps it in the OS keyring):",
        QtWidgets.QLineEdit.EchoMode.Password)
    return text if ok and text else None


def check_target(target: SharedTarget) -> Any:
    """The connection check in plain words (``shared.connect``); None: not checkable."""
    if target.profile is None:
        return None
    from leadqueue.shared.connect import check_connection
    from leadqueue.shared.signin import profile_of_url

    _profile, password = profile_of_url(target.url)
    return check_connection(target.profile, password)


def sign_in(target_url: str, *, interactive: bool = True,
            ask_password: Callable[[Any, SharedTarget, str], str | None] | None = None,
            secrets_api: Any | None = None,
            checker: Callable[[SharedTarget], Any] | None = None
            ) -> tuple[SharedTarget | None, str]:
    """Resolve the password and check the connection before any window opens.

    Returns (target, "") or (None, the reason in plain words). Asks for the
    password (``interactive``) when the server wants one nobody had.
    """
    from leadqueue.shared.connect import Problem
    from leadqueue.shared.signin import SignInError, resolve_url

    try:
        target = resolve_url(target_url, secrets_api=secrets_api)
    except SignInError as exc:
        return None, str(exc)
    for _attempt in range(3):
        check = (checker or check_target)(target)
        if check is None or check.ok:
            return target, ""
        if not interactive or check.problem not in (Problem.PASSWORD_NEEDED,
                                                    Problem.WRONG_PASSWORD):
            return None, check.message
        from ui.app import qapplication

        qapplication()
        password = (ask_password or ask_password_dialog)(None, target, check.message)
        if not password:
            return None, check.message
        target = target.with_password(password)
    return None, "Wrong password three times: not signed in."


# -- File > Open shared workspace ------------------------------------------------------------------


def _open_saved(profile_path: Any, secrets_api: Any, password: str | None) -> Any:
    """On the executor: the saved target, checked, and its workspace opened."""
    from leadqueue.shared.signin import saved_target
    from leadqueue.store import open_database
    from leadqueue.workspace import Workspace

    target = saved_target(profile_path, secrets_api=secrets_api)
    if password:
        target = target.with_password(password)
    check = check_target(target)
    if check is not None and not check.ok:
        return target, check, None
    engine = open_database(target.url)
    try:
        return target, check, Workspace.open(engine)
    except Exception:
        engine.dispose()
        raise


def open_shared_workspace(window: Any, *, profile_path: Any = None, secrets_api: Any = None,
                          ask_password: Callable[..., str | None] | None = None,
                          password: str | None = None,
                          make_window: Callable[[Any, SharedTarget], Any] | None = None) -> None:
    """Open the saved shared database in a new window; the local one closes after it."""
    from leadqueue.shared.connect import Problem
    from leadqueue.shared.signin import SignInError

    bar = window.statusBar()
    bar.showMessage("Opening the shared workspace…", 10_000)

    def done(result: Any) -> None:
        target, check, ws = result
        if ws is None:
            if check.problem in (Problem.PASSWORD_NEEDED, Problem.WRONG_PASSWORD):
                asked = (ask_password or ask_password_dialog)(window, target, check.message)
                if asked:
                    open_shared_workspace(window, profile_path=profile_path,
                                          secrets_api=secrets_api, ask_password=ask_password,
                                          password=asked, make_window=make_window)
                    return
            window.dialogs.show_error("Shared workspace not opened", check.message)
            return
        new = (make_window or shared_window)(window, target, ws)
        window.shared_window = new
        bar.showMessage(f"Shared workspace open: {target.label}", 8000)
        window.close()  # the wrap-up rule applies: it may keep the local window open

    def failed(exc: BaseException) -> None:
        message = str(exc) if isinstance(exc, SignInError) else (
            f"The shared workspace could not be opened: {exc}")
        window.dialogs.show_error("Shared workspace not opened", message)

    window.executor.submit(_open_saved, profile_path, secrets_api, password,
                           label="open shared workspace", on_done=done, on_error=failed)


def shared_window(old: Any, target: SharedTarget, ws: Any) -> Any:
    """A main window on the shared workspace ``ws`` (its engine goes with it)."""
    from ui.main_window import MainWindow

    win = MainWindow(ws, settings=old.settings, store_label=target.label, show_switcher=False)
    win.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    win.destroyed.connect(lambda *_a, engine=ws.engine: engine.dispose())
    attach_shared_session(win, target)
    win.show()
    win.start()
    return win


def install_shared_menu(window: Any) -> Any:
    """File > Open shared workspace (after "Connect to shared database…")."""
    from ui.qt import QAction

    action = QAction("Open shared workspace", window)
    action.setObjectName("action_open_shared")
    action.setStatusTip("Work on the team's shared database saved with Connect to shared "
                        "database… (password from the OS keyring)")
    action.triggered.connect(lambda _c=False: open_shared_workspace(window))
    menu = window.menus.get("file")
    if menu is not None:
        anchor = next((a for a in menu.actions()
                       if a.objectName() == "action_connect_shared"), None)
        actions = menu.actions()
        if anchor is not None and anchor in actions:
            at = actions.index(anchor)
            after = actions[at + 1] if at + 1 < len(actions) else None
            if after is not None:
                menu.insertAction(after, action)
            else:
                menu.addAction(action)
        else:
            menu.addAction(action)
    window.addAction(action)
    return action
