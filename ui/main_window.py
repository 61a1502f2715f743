"""The rep's main window: the queue on the left, the open lead on the right.

The window owns the widgets and one :class:`~ui.tasks.SerialExecutor`; every
core call (reads too) goes through that executor, so the GUI thread never
touches the database; results come back through the executor's signals. One
ticking timer moves every countdown on screen (queue, lead header, call timer,
progressive-dial countdown), always read from the workspace's clock.

Working a lead
--------------
Selecting a lead *opens* it: the window records when, and the core records
the acknowledgement (``Workspace.acknowledge``). Every write on the open lead
comes back with the core's wrap-up verdict (``Workspace.wrap_up_state``), so
leaving the lead (another row, next lead, switching user, closing the window)
is decided without a round trip: a lead the rep worked but did not wrap up
(next step + date, or a closed status with its reason) is not left; the rep
is told why and offered to set what is missing. Writes still on their way
are waited for before that decision.

Dialing modes: in *preview* the rep starts each call (C). In *progressive*,
once the open lead is wrapped up, the next lead opens and its call starts
after a visible countdown that Esc cancels.

Hooks for other parts of the app: ``self.menus`` (file / lead / queue / view /
help, and :meth:`menu` creates e.g. "tools" on demand) and
:meth:`add_menu_action`; ``sig_workspace_changed`` after a user switch.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import MISSING, dataclass, fields
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from leadqueue.views import PersonView, QueueRow
from leadqueue.workspace import Workspace
from ui.actions import ACTIONS, OUTCOME_LABELS, SPECS, outcome_action_name, shortcut_rows
from ui.os_links import OsLinks, QtOsLinks, mailto_url, tel_url
from ui.preview import PreviewData, PreviewPane
from ui.qt import (
    QAction,
    QItemSelectionModel,
    QKeySequence,
    QModelIndex,
    QSettings,
    Qt,
    QTimer,
    QtWidgets,
    Signal,
)
from ui.queue_model import (
    COL_COMPANY,
    COL_NAME,
    COL_TIER,
    SECTION_CALLABLE,
    SECTION_LATER,
    SECTION_UPCOMING,
    QueueFilter,
    QueueModel,
)
from ui.tasks import SerialExecutor
from ui.widgets import QUEUE_COLUMN_WIDTHS, CallBar, DialCountdown, configure_queue_view

if TYPE_CHECKING:
    from ui.dialogs import FieldSpec, NextStepAnswer

log = logging.getLogger("leadqueue.ui.window")

ROLE_LABELS = {"rep": "Rep", "team_lead": "Team lead", "admin": "Admin"}
MODE_PREVIEW, MODE_PROGRESSIVE = "preview", "progressive"
#: How long progressive dialing shows the next lead before its call starts.
PROGRESSIVE_DELAY = timedelta(seconds=5)
#: After a first paint, how long the window waits to install other features' hooks.
EXTENSIONS_DELAY_MS = 20
#: The queue is re-read this often so leads coming due move into "Call now".
AUTO_REFRESH = timedelta(minutes=1)
_ACTIVE_STATUSES = ("new", "working")


@dataclass(frozen=True)
class QueueSnapshot:
    """One load of the queue, made on the worker thread."""

    callable: tuple[QueueRow, ...]
    later: tuple[QueueRow, ...]
    upcoming: tuple[QueueRow, ...]
    now: datetime
    owners: dict[uuid.UUID, str]
    team_view: bool

    def find(self, lead_id: uuid.UUID | None) -> QueueRow | None:
        if lead_id is None:
            return None
        for rows in (self.callable, self.later, self.upcoming):
            for row in rows:
                if row.id == lead_id:
                    return row
        return None


@dataclass(frozen=True)
class FirstPaint:
    """What the window shows before its workspace is open (a fast cold start)."""

    me: PersonView
    snapshot: QueueSnapshot
    preview: PreviewData | None = None
    people: tuple[PersonView, ...] = ()


def fetch_queue(ws: Workspace) -> QueueSnapshot:
    """The signed-in person's queue: a rep's ranked queue, a team's for leads."""
    now = ws.now()
    if ws.me.role == "rep":
        q = ws.ranked_queue(at=now)
        return QueueSnapshot(tuple(q.callable), tuple(q.later), tuple(q.upcoming), now,
                             {}, False)
    # Team lead and admin: the core merges the ranked queues of their reps.
    team = ws.team_queue(at=now)
    return QueueSnapshot(team.rows, (), (), now, dict(team.owners), True)


def fetch_preview(ws: Workspace, lead_id: uuid.UUID, row: QueueRow | None) -> PreviewData:
    detail = ws.lead(lead_id)
    extras: list[Any] = []
    # The cadence label and the template are extras: a bug in one of them is
    # logged with its trace, and the rest of the lead still shows.
    for extra in (ws.cadence_step_label, ws.render_template):
        try:
            extras.append(extra(lead_id))
        except Exception:
            log.exception("%s failed for lead %s", extra.__name__, lead_id)
            extras.append(None)
    return PreviewData(detail, row, extras[0], extras[1])


@dataclass(frozen=True)
class _Refresh:
    """What a write (or a reload) brings back: the queue and the open lead."""

    snapshot: QueueSnapshot
    preview: PreviewData | None
    wrap: Any | None = None        # the core's WrapUp for the open lead
    result: Any | None = None      # the write's own result


def _refresh(ws: Workspace, active: uuid.UUID | None, since: datetime | None,
             write: Callable[[Workspace], Any] | None = None) -> _Refresh:
    """Run ``write`` (if any), then read the queue, the open lead and its wrap-up."""
    result = write(ws) if write is not None else None
    snap = fetch_queue(ws)
    preview = wrap = None
    if active is not None:
        try:
            preview = fetch_preview(ws, active, snap.find(active))
        except LookupError:
            preview = None  # gone (merged, deleted): nothing to show or wrap up
        if preview is not None and since is not None:
            wrap = ws.wrap_up_state(active, since)
    return _Refresh(snap, preview, wrap, result)


class MainWindow(QtWidgets.QMainWindow):
    """Queue, open lead, action bar, user switcher and status line."""

    sig_queue_loaded = Signal(int)          # rows in the queue
    sig_preview_loaded = Signal(object)     # the lead id shown
    sig_workspace_changed = Signal(object)  # the PersonView now signed in
    sig_ready = Signal()                    # the workspace is open: actions enabled
    sig_error = Signal(str)
    sig_lead_opened = Signal(object)        # lead id (the rep opened it)
    sig_action_done = Signal(str, object)   # (action, its result) after the refresh
    sig_action_refused = Signal(str, str)   # (action, the core's message)
    sig_wrap_up_refused = Signal(str)       # the wrap-up rule's message
    sig_call_started = Signal(str)          # the tel: URL handed to the OS
    sig_call_ended = Signal(int)            # call duration in seconds
    sig_dial_countdown = Signal(object)     # lead id whose call is about to start
    sig_dial_cancelled = Signal()
    sig_mode_changed = Signal(str)

    def __init__(self, workspace: Workspace | None, *, settings: QSettings | None = None,
                 store_label: str = "", show_switcher: bool = True,
                 executor: SerialExecutor | None = None, os_links: OsLinks | None = None,
                 dialogs: Any | None = None, first_paint: FirstPaint | None = None,
                 open_workspace: Callable[[], Workspace] | None = None,
                 clock: Any | None = None,
                 parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        if workspace is None and first_paint is None:
            raise ValueError("MainWindow needs a workspace or a first paint")
        self.setObjectName("main_window")
        self.ws: Workspace | None = workspace
        self.clock = clock or (workspace.clock if workspace is not None else None)
        self._me = workspace.me if workspace is not None else first_paint.me  # type: ignore[union-attr]
        self._first_paint = first_paint
        self._open_workspace = open_workspace
        self.settings = settings
        self.executor = executor or SerialExecutor(parent=self)
        self.executor.sig_task_failed.connect(self._on_task_failed)
        self._dialogs = dialogs
        self.os_links: OsLinks = os_links or QtOsLinks()
        self.mode = MODE_PREVIEW
        self.progressive_delay = PROGRESSIVE_DELAY
        self.auto_refresh: timedelta | None = AUTO_REFRESH
        self._store_label = store_label
        self._queue_generation = 0
        self._team_view = False
        self._last_load: datetime | None = None
        self._closing = False
        # The open lead and the work on it.
        self._active: uuid.UUID | None = None
        self._active_name = ""
        self._opened_at: datetime | None = None
        self._wrap: Any | None = None
        self._writes_pending = 0
        #: ids of failures a write already told the rep about (``_on_task_failed`` skips them).
        self._told_failures: set[int] = set()
        self._after_writes: list[Callable[[], None]] = []
        self._when_ready: list[Callable[[], None]] = []
        self._after_wrap: Callable[[], None] | None = None
        self._reverting = False
        self._call: tuple[uuid.UUID, str, datetime] | None = None
        self._last_call_s: int | None = None
        self._dial: tuple[uuid.UUID, str, datetime] | None = None
        self.setWindowTitle("LeadQueue")

        self.model = QueueModel(now=self.now(), parent=self)
        self.menus: dict[str, QtWidgets.QMenu] = {}
        self.actions_by_name: dict[str, QAction] = {}
        self._build(show_switcher)
        self._build_actions()
        self.banner: Any | None = None
        self.notifications: Any | None = None
        # Issue 4 (in-app rules): ui.app turns this on; the notification
        # controller then runs the rule engine here on a local store.
        self.in_app_rules = False
        if first_paint is None:
            self._install_extensions()
        # else: start() installs them right after the first paint (cold start).
        self._restore_geometry()
        self._update_actions()

        # One timer for every countdown on screen.
        self.ticker = QTimer(self)
        self.ticker.setInterval(1000)
        self.ticker.timeout.connect(self.tick)
        self.ticker.start()

    # -- who and when -----------------------------------------------------------

    @property
    def dialogs(self) -> Any:
        """Every question to the rep (``ui.dialogs.Dialogs``; tests give a stub)."""
        if self._dialogs is None:
            from ui.dialogs import Dialogs

            self._dialogs = Dialogs(self)
        return self._dialogs

    @dialogs.setter
    def dialogs(self, value: Any) -> None:
        self._dialogs = value

    @property
    def me(self) -> PersonView:
        return self.ws.me if self.ws is not None else self._me

    def now(self) -> datetime:
        if self.clock is not None:
            return self.clock.now()
        from leadqueue.clock import SystemClock

        self.clock = SystemClock()
        return self.clock.now()

    # -- building ---------------------------------------------------------------

    def _build(self, show_switcher: bool) -> None:
        central = QtWidgets.QWidget(self)
        central.setObjectName("central")
        outer = QtWidgets.QVBoxLayout(central)
        outer.setContentsMargins(12, 10, 12, 6)
        outer.setSpacing(8)

        # Top row: the filters of the queue, and who am I.
        top = QtWidgets.QHBoxLayout()
        top.setSpacing(8)
        self.search = QtWidgets.QLineEdit(central)
        self.search.setObjectName("search")
        self.search.setPlaceholderText("Search name, company, phone, email   ( / )")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self._on_filter_changed)
        self.search.returnPressed.connect(self._on_search_enter)
        top.addWidget(self.search, 3)
        self.section_filter = self._combo("section_filter", [
            ("All sections", None), ("Call now", f"section:{SECTION_CALLABLE}"),
            ("Tier 1 · Callbacks", "tier:1"), ("Tier 2 · New leads", "tier:2"),
            ("Tier 3 · Steps due", "tier:3"),
            ("Later (window closed)", f"section:{SECTION_LATER}"),
            ("Upcoming", f"section:{SECTION_UPCOMING}")])
        self.priority_filter = self._combo("priority_filter", [
            ("All priorities", None), ("P1", 1), ("P2", 2), ("P3", 3), ("P4", 4)])
        self.source_filter = self._combo("source_filter", [("All sources", None)])
        for combo in (self.section_filter, self.priority_filter, self.source_filter):
            top.addWidget(combo)
        top.addStretch(1)
        self.mode_button = QtWidgets.QToolButton(central)
        self.mode_button.setObjectName("mode_button")
        self.mode_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        top.addWidget(self.mode_button)
        self.switcher = QtWidgets.QComboBox(central)
        self.switcher.setObjectName("user_switcher")
        self.switcher.setMinimumContentsLength(26)
        self.switcher.setSizeAdjustPolicy(
            QtWidgets.QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.switcher.activated.connect(self._on_switcher_activated)
        self.switcher_label = QtWidgets.QLabel("Signed in as", central)
        self.switcher_label.setObjectName("muted")
        top.addWidget(self.switcher_label)
        top.addWidget(self.switcher)
        self.switcher.setVisible(show_switcher)
        self.switcher_label.setVisible(show_switcher)
        outer.addLayout(top)
        self._outer = outer  # the notification banner goes below the top row

        self.splitter = QtWidgets.QSplitter(Qt.Orientation.Horizontal, central)
        self.splitter.setObjectName("main_splitter")
        left = QtWidgets.QWidget(self.splitter)
        left_layout = QtWidgets.QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.setSpacing(4)
        self.queue_title = QtWidgets.QLabel("", left)
        self.queue_title.setObjectName("queue_title")
        left_layout.addWidget(self.queue_title)
        self.view = QtWidgets.QTableView(left)
        configure_queue_view(self.view, self.model)
        self.view.selectionModel().currentRowChanged.connect(self._on_current_row_changed)
        left_layout.addWidget(self.view, 1)

        right = QtWidgets.QWidget(self.splitter)
        right.setObjectName("lead_column")
        right_layout = QtWidgets.QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.setSpacing(6)
        self.action_bar = QtWidgets.QToolBar("Actions", right)
        self.action_bar.setObjectName("action_bar")
        self.action_bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.action_bar.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        right_layout.addWidget(self.action_bar)
        self.call_bar = CallBar(right)
        self.call_bar.hang_up.clicked.connect(lambda: self.act_hang_up())
        right_layout.addWidget(self.call_bar)
        self.dial_bar = DialCountdown(right)
        self.dial_bar.call_now.clicked.connect(self._dial_now)
        self.dial_bar.cancel.clicked.connect(self.cancel_dial)
        right_layout.addWidget(self.dial_bar)
        self.preview = PreviewPane(right)
        right_layout.addWidget(self.preview, 1)
        self.splitter.addWidget(left)
        self.splitter.addWidget(right)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setChildrenCollapsible(False)
        outer.addWidget(self.splitter, 1)
        self.setCentralWidget(central)

        # Status line: who, store, connection, leads due, dialing mode.
        bar = self.statusBar()
        bar.setObjectName("status_line")
        self.status_busy = QtWidgets.QLabel("", self)
        self.status_me = QtWidgets.QLabel(self)
        self.status_me.setObjectName("status_me")
        self.status_store = QtWidgets.QLabel(self)
        self.status_online = QtWidgets.QLabel("● Offline — local store only", self)
        self.status_online.setObjectName("status_offline")
        self.status_online.setToolTip("Sync with the shared database comes in a later "
                                      "version; everything works on this computer.")
        self.status_due = QtWidgets.QLabel("", self)
        self.status_due.setObjectName("status_due")
        self.status_mode = QtWidgets.QLabel("", self)
        self.status_mode.setObjectName("status_mode")
        bar.addWidget(self.status_busy)
        for w in (self.status_due, self.status_mode, self.status_me, self.status_store,
                  self.status_online):
            bar.addPermanentWidget(w)
        self.executor.sig_busy_changed.connect(
            lambda busy: self.status_busy.setText("Working…" if busy else ""))
        self._update_status()

    def _combo(self, name: str, items: list[tuple[str, Any]]) -> QtWidgets.QComboBox:
        combo = QtWidgets.QComboBox(self)
        combo.setObjectName(name)
        combo.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        for text, value in items:
            combo.addItem(text, value)
        combo.currentIndexChanged.connect(self._on_filter_changed)
        return combo

    def _build_actions(self) -> None:
        bar = self.menuBar()
        for key, title in (("file", "&File"), ("queue", "&Queue"), ("lead", "&Lead"),
                           ("view", "&View"), ("help", "&Help")):
            self.menus[key] = bar.addMenu(title)
        self.menus["outcome"] = QtWidgets.QMenu("Log &outcome", self)
        for spec in ACTIONS:
            action = QAction(spec.text, self)
            action.setObjectName(f"action_{spec.name}")
            action.setShortcuts([QKeySequence(k) for k in spec.keys])
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            keys = " / ".join(spec.keys)
            action.setToolTip(f"{spec.help or spec.text}  ({keys})")
            handler = getattr(self, f"act_{spec.name}", None)
            if handler is None and spec.name.startswith("outcome_"):
                outcome = spec.name.removeprefix("outcome_")
                action.triggered.connect(lambda _c=False, o=outcome: self.act_log_outcome(o))
            else:
                action.triggered.connect(lambda _c=False, h=handler: h())
            self.addAction(action)  # shortcuts work with the menu bar hidden too
            self.actions_by_name[spec.name] = action
            if spec.menu == "lead" and spec.name == "log_outcome":
                self.menus["lead"].addAction(action)
                self.menus["lead"].addMenu(self.menus["outcome"])
                continue
            self.menus[spec.menu].addAction(action)
        mode = self.actions_by_name["toggle_mode"]
        mode.setCheckable(True)
        self.menus["file"].insertSeparator(self.actions_by_name["quit"])
        self.menus["lead"].insertSeparator(self.actions_by_name["note"])
        self.menus["lead"].insertSeparator(self.actions_by_name["correct"])

        # The action bar: what a rep does on every lead, most used first.
        # Hang up lives on the call strip (and H); the mode toggle on the top row.
        ab = self.action_bar
        for name in ("call", "email"):
            ab.addAction(self.actions_by_name[name])
        outcome_button = QtWidgets.QToolButton(ab)
        outcome_button.setObjectName("outcome_button")
        outcome_button.setDefaultAction(self.actions_by_name["log_outcome"])
        outcome_button.setMenu(self.menus["outcome"])
        outcome_button.setPopupMode(QtWidgets.QToolButton.ToolButtonPopupMode.MenuButtonPopup)
        ab.addWidget(outcome_button)
        for name in ("note", "snooze", "next_step", "disqualify"):
            ab.addAction(self.actions_by_name[name])
        more = QtWidgets.QMenu("More", self)
        for name in ("inbound", "correct", "edit_contact", "new_lead"):
            more.addAction(self.actions_by_name[name])
        more_button = QtWidgets.QToolButton(ab)
        more_button.setObjectName("more_button")
        more_button.setText("More")
        more_button.setMenu(more)
        more_button.setPopupMode(QtWidgets.QToolButton.ToolButtonPopupMode.InstantPopup)
        ab.addWidget(more_button)
        self.mode_button.setDefaultAction(mode)
        for name in ("call", "email", "note", "snooze", "next_step", "disqualify"):
            widget = ab.widgetForAction(self.actions_by_name[name])
            if widget is not None:
                widget.setObjectName(f"{name}_button")
        self._update_mode_text()

    def _install_extensions(self) -> None:
        """The parts other features add to the window (hooks, one block each).

        On a cold start they are installed just after the first paint: the
        rep sees the queue first, the menus appear a moment later.
        """
        if self.notifications is not None:
            return
        # Issue 5 (shared database, security helper): File > Connect to shared database…
        from ui.connect_dialog import install_connect_menu

        install_connect_menu(self)
        # Issue 5 (shared database, app side): File > Open shared workspace, and
        # the team board dock for team leads and admins.
        from ui.shared_session import install_shared_menu
        from ui.team_board import install_team_board

        install_shared_menu(self)
        install_team_board(self)
        # Issue 4 (notifications helper): due-event notifications with the banner,
        # and Team > Rules… for team leads and admins.
        from ui.notifications import NotificationBanner, NotificationController
        from ui.rules_editor import install_rules_menu

        self.banner = NotificationBanner(self.centralWidget())
        self._outer.insertWidget(1, self.banner)
        self.notifications = NotificationController(self, self.banner)
        install_rules_menu(self, self.menu("team", "&Team"))

    def menu(self, key: str, title: str | None = None) -> QtWidgets.QMenu:
        """The menu ``key``, created (before Help) when it does not exist yet."""
        if key not in self.menus:
            menu = QtWidgets.QMenu(title or key.capitalize(), self)
            self.menuBar().insertMenu(self.menus["help"].menuAction(), menu)
            self.menus[key] = menu
        return self.menus[key]

    def add_menu_action(self, menu: str, text: str, slot: Callable[[], Any], *,
                        shortcut: str | None = None, name: str | None = None) -> QAction:
        """A hook for other parts of the app (rules editor, connection dialog …)."""
        action = QAction(text, self)
        if name:
            action.setObjectName(name)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(lambda _c=False: slot())
        self.menu(menu).addAction(action)
        return action

    # -- settings ------------------------------------------------------------------

    def _restore_geometry(self) -> None:
        if self.settings is None:
            self.resize(1440, 900)
            self.splitter.setSizes([730, 690])
            return
        geometry = self.settings.value("main_window/geometry")
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(1440, 900)
        splitter = self.settings.value("main_window/splitter")
        if splitter is None or not self.splitter.restoreState(splitter):
            self.splitter.setSizes([730, 690])
        if self.settings.value("main_window/mode") == MODE_PROGRESSIVE:
            self.set_mode(MODE_PROGRESSIVE)

    def save_geometry(self) -> None:
        if self.settings is not None:
            self.settings.setValue("main_window/geometry", self.saveGeometry())
            self.settings.setValue("main_window/splitter", self.splitter.saveState())
            self.settings.setValue("main_window/mode", self.mode)
            self.settings.sync()

    def closeEvent(self, event) -> None:  # type: ignore[no-untyped-def]
        if not self._closing and not self.may_leave(then=self._close_now):
            event.ignore()
            return
        self.save_geometry()
        self.ticker.stop()
        self.executor.shutdown(wait=True)
        super().closeEvent(event)

    def _close_now(self) -> None:
        self._closing = True
        self.close()

    def force_close(self) -> None:
        """Close without the wrap-up rule (tests, and the app quitting on error)."""
        self._call = None
        self._close_now()

    # -- loading -------------------------------------------------------------------

    def start(self) -> None:
        """Show the queue: the first paint now (if given), then the workspace."""
        self.view.setFocus()  # the rep's keys go to the queue, not the search box
        if self.ws is None:
            fp = self._first_paint
            assert fp is not None
            if fp.people:
                self._on_people(list(fp.people))
            self._apply_snapshot(fp.snapshot)
            if fp.preview is not None:
                self._open(fp.preview.detail.id, fp.preview.row, preview=fp.preview)
            else:
                self._select_initial()
            self.sig_queue_loaded.emit(self.model.total)
            # A real (not zero) timer: the first frame reaches the screen first.
            QTimer.singleShot(EXTENSIONS_DELAY_MS, self._install_extensions)
            if self._open_workspace is not None:
                self.executor.submit(self._open_workspace, label="open",
                                     on_done=self._on_workspace_ready)
            return
        self.executor.submit(self.ws.people, label="people", on_done=self._on_people)
        self.reload_queue()
        self._update_actions()

    def _on_workspace_ready(self, ws: Workspace) -> None:
        self.ws = ws
        self.clock = ws.clock
        log.info("workspace open for %s", ws.me.email)
        self._install_extensions()  # (if the store opened before their timer) they see ready
        if not self.switcher.count():
            self.executor.submit(ws.people, label="people", on_done=self._on_people)
        if self._active is not None and not self._team_view:
            self._acknowledge(self._active)
        self._update_actions()
        self.reload_queue()
        waiting, self._when_ready = self._when_ready, []
        for fn in waiting:
            fn()
        self.sig_ready.emit()

    def reload_queue(self, select: uuid.UUID | None = None,
                     then: Callable[[], None] | None = None) -> None:
        """Ask the core for the queue again (after a write, a switch, a notice)."""
        if self.ws is None:
            return
        self._queue_generation += 1
        generation = self._queue_generation
        active, since = self._active, self._opened_at
        self.executor.submit(_refresh, self.ws, active, since, label="queue",
                             on_done=lambda r: self._on_refresh(generation, r, select, then))

    def _on_people(self, people: list[PersonView]) -> None:
        self.switcher.blockSignals(True)
        self.switcher.clear()
        for p in people:
            team = f" · {p.team_name}" if p.team_name else ""
            self.switcher.addItem(f"{p.name} — {ROLE_LABELS.get(p.role, p.role)}{team}", p)
            if p.id == self.me.id:
                self.switcher.setCurrentIndex(self.switcher.count() - 1)
        self.switcher.blockSignals(False)

    def _apply_snapshot(self, snap: QueueSnapshot) -> None:
        self._team_view = snap.team_view
        self._last_load = snap.now
        self.model.show_owner = snap.team_view
        self.model.set_queue(snap.callable, snap.later, snap.upcoming, now=snap.now,
                             owners=snap.owners, sections=not snap.team_view)
        widths = dict(QUEUE_COLUMN_WIDTHS)
        if snap.team_view:  # room for the Owner column
            widths.update({COL_COMPANY: 118, COL_TIER: 86})
        for col in (COL_COMPANY, COL_TIER):
            self.view.setColumnWidth(col, widths[col])
        self._refresh_sources()
        self._update_title()
        self._update_status()

    def _on_refresh(self, generation: int, r: _Refresh, select: uuid.UUID | None,
                    then: Callable[[], None] | None, keep_open: bool = False) -> None:
        """Show a refresh; ``keep_open``: a follow-up question about the open
        lead is coming, so it stays open even if it left the queue."""
        if generation != self._queue_generation:
            if then is not None:
                then()
            return  # a newer load is on its way
        self._apply_snapshot(r.snapshot)
        active = self._active
        if active is not None and r.preview is not None and r.preview.detail.id == active:
            self._wrap = r.wrap if r.wrap is not None else self._wrap
            self.preview.show_lead(r.preview, self.now())
            self._active_name = r.preview.detail.name
        wanted = select or active
        row = self.model.row_of(wanted) if wanted is not None else -1
        if row >= 0:
            self._select_view_row(row)  # the open lead: kept; another: opened
        elif wanted is None:
            self._select_initial()
        elif active is not None and r.preview is not None and (
                keep_open or r.preview.detail.status in _ACTIVE_STATUSES
                or (r.wrap is not None and not r.wrap.complete)):
            # Still open: hidden by the filter, or out of the queue (a meeting
            # booked …) but not wrapped up yet.
            self.view.clearSelection()
        else:
            self._lead_left_queue()
        self.sig_queue_loaded.emit(self.model.total)
        if r.preview is not None and active is not None and active == self._active:
            self.sig_preview_loaded.emit(active)
        if then is not None:
            then()

    def _select_initial(self) -> None:
        row = self.model.first_callable_row()
        if row < 0:
            row = self.model.first_lead_row()
        if row >= 0:
            self.select_row(row)
        else:
            self.preview.show_empty("Nothing to work right now." if not self.model.total
                                    else "No lead matches the filter.")

    def _lead_left_queue(self) -> None:
        """The open lead is no longer in the queue (closed, reassigned)."""
        pending = self._after_wrap
        self._close_active()
        if pending is not None:
            pending()  # the rep was on the way somewhere: go there
        elif self.mode == MODE_PROGRESSIVE:
            self._advance_to_next()
        else:
            self._select_initial()

    def _refresh_sources(self) -> None:
        current = self.source_filter.currentData()
        self.source_filter.blockSignals(True)
        self.source_filter.clear()
        self.source_filter.addItem("All sources", None)
        for src in self.model.sources():
            self.source_filter.addItem(src.replace("_", " ").capitalize(), src)
        idx = self.source_filter.findData(current) if current is not None else 0
        self.source_filter.setCurrentIndex(max(idx, 0))
        self.source_filter.blockSignals(False)

    def _update_title(self) -> None:
        callable_n, later_n, upcoming_n = self.model.counts()
        who = self.me
        if self.model.show_owner:
            scope = "Team queue" if who.role == "team_lead" else "All reps' queues"
            text = f"{scope} · {callable_n:,} active leads"
        else:
            text = (f"{who.name}'s queue · {callable_n:,} to call now · "
                    f"{later_n:,} later · {upcoming_n:,} upcoming")
        shown = self.model.shown_leads()
        if shown != self.model.total:
            text += f" · showing {shown:,}"
        self.queue_title.setText(text)

    def _update_status(self) -> None:
        me = self.me
        role = ROLE_LABELS.get(me.role, me.role)
        self.status_me.setText(f"{me.name} · {role}" + (f" · {me.team_name}"
                                                         if me.team_name else ""))
        self.status_store.setText(f"Store: {self._store_label}" if self._store_label else "")
        due = self.model.counts()[0]
        self.status_due.setText(f"{due:,} due now" if not self._team_view
                                else f"{due:,} active in team")
        self.setWindowTitle(f"LeadQueue — {me.name} ({role})")

    # -- selection: opening and leaving a lead -------------------------------------------

    def current_lead_id(self) -> uuid.UUID | None:
        row = self.model.row_at(self.view.currentIndex().row())
        return row.id if row is not None else None

    @property
    def active_lead(self) -> uuid.UUID | None:
        """The lead the rep has open (shown in the preview, being worked)."""
        return self._active

    @property
    def wrap_state(self) -> Any | None:
        return self._wrap

    def select_row(self, row: int) -> None:
        """Select (and so open) the lead on view row ``row``; the wrap-up rule applies."""
        self._select_view_row(row)

    def select_lead(self, lead_id: uuid.UUID) -> bool:
        row = self.model.row_of(lead_id)
        if row >= 0:
            self.select_row(row)
        return row >= 0

    def _select_view_row(self, row: int) -> None:
        index = self.model.index(row, COL_NAME)
        self.view.selectionModel().setCurrentIndex(
            index, QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows)
        self.view.scrollTo(index)

    def _on_current_row_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if self._reverting:
            return
        row = self.model.row_at(current.row())
        if row is None or row.id == self._active:
            return  # a model reset, or the open lead re-selected after a reload
        target = row.id
        if not self.may_leave(then=lambda: self.select_lead(target)):
            self._revert_selection()
            return
        self._open(row.id, row)

    def _revert_selection(self) -> None:
        self._reverting = True
        try:
            row = self.model.row_of(self._active) if self._active is not None else -1
            if row >= 0:
                self._select_view_row(row)
            else:
                self.view.selectionModel().clearCurrentIndex()
                self.view.clearSelection()
        finally:
            self._reverting = False

    def may_leave(self, then: Callable[[], None] | None = None) -> bool:
        """Whether the rep may leave the open lead now (the wrap-up rule).

        When not, the rep is told why (and offered to fix it) and ``then`` runs
        once the lead is wrapped up; with writes still on their way, the
        decision waits for them and ``then`` runs if it is yes.
        """
        if self._active is None:
            return True
        if self._call is not None:
            self._refuse(f"You are on a call with {self._call[1]}: hang up (H) first.")
            return False
        if self._writes_pending:
            if then is not None:
                self._after_writes.append(lambda: self.may_leave(then) and then())
            return False
        wrap = self._wrap
        if wrap is None or wrap.complete or not wrap.worked:
            return True
        self._after_wrap = then
        message = wrap.message
        self.sig_wrap_up_refused.emit(message)
        self.statusBar().showMessage(message, 15000)
        QTimer.singleShot(0, lambda: self._ask_wrap_up(message, tuple(wrap.missing)))
        return False

    def _ask_wrap_up(self, message: str, missing: tuple[str, ...]) -> None:
        if self._active is None:
            return
        from ui.dialogs import WRAP_DISQUALIFY, WRAP_NEXT_STEP

        choice = self.dialogs.ask_wrap_up(self._active_name, message, missing)
        if choice == WRAP_NEXT_STEP:
            self.act_next_step()
        elif choice == WRAP_DISQUALIFY:
            self.act_disqualify()
        else:
            self._after_wrap = None

    def _open(self, lead_id: uuid.UUID, row: QueueRow | None,
              preview: PreviewData | None = None) -> None:
        """Make ``lead_id`` the open lead: acknowledge it and show it."""
        self.cancel_dial(quiet=True)
        self._active = lead_id
        self._active_name = row.name if row is not None else ""
        self._opened_at = self.now()
        self._wrap = None
        self._after_wrap = None
        self._last_call_s = None
        if self.model.row_of(lead_id) >= 0 and self.current_lead_id() != lead_id:
            self._reverting = True
            try:
                self._select_view_row(self.model.row_of(lead_id))
            finally:
                self._reverting = False
        if preview is not None:
            self.preview.show_lead(preview, self.now())
            self._active_name = preview.detail.name
            self.sig_preview_loaded.emit(lead_id)
        elif self.ws is None:
            self.preview.show_empty("Opening…")  # the workspace's first refresh shows it
        else:
            self.load_preview(lead_id, row)
        if self.ws is not None and not self._team_view:
            self._acknowledge(lead_id)
        self._update_actions()
        self.sig_lead_opened.emit(lead_id)

    def _close_active(self) -> None:
        self._active = None
        self._active_name = ""
        self._opened_at = None
        self._wrap = None
        self._after_wrap = None
        self.preview.show_empty()
        self._update_actions()

    def _acknowledge(self, lead_id: uuid.UUID) -> None:
        assert self.ws is not None
        self.executor.submit(self.ws.acknowledge, lead_id, label="acknowledge",
                             on_error=lambda exc: log.info("not acknowledged: %s", exc))

    def load_preview(self, lead_id: uuid.UUID, row: QueueRow | None = None,
                     then: Callable[[PreviewData], None] | None = None) -> None:
        if self.ws is None:
            return

        def shown(data: PreviewData) -> None:
            if self._active != lead_id:
                return  # the rep moved on while it loaded
            self.preview.show_lead(data, self.now())
            self._active_name = data.detail.name
            if then is not None:
                then(data)
            self.sig_preview_loaded.emit(lead_id)
            if self._dial is not None and self._dial[2] <= self.now():
                self._dial_due()

        self.executor.submit(fetch_preview, self.ws, lead_id, row, label="preview",
                             on_done=shown)

    # -- filters and search ----------------------------------------------------------

    def current_filter(self) -> QueueFilter:
        choice = self.section_filter.currentData()
        section = tier = None
        if choice:
            kind, _, value = str(choice).partition(":")
            section, tier = (value, None) if kind == "section" else (None, int(value))
        return QueueFilter(section=section, tier=tier,
                           priority=self.priority_filter.currentData(),
                           source=self.source_filter.currentData(),
                           text=self.search.text())

    def _on_filter_changed(self, *_args: object) -> None:
        self.model.set_filter(self.current_filter())
        self._update_title()
        row = self.model.row_of(self._active) if self._active is not None else -1
        if row >= 0:
            self._reverting = True
            try:
                self._select_view_row(row)
            finally:
                self._reverting = False
        # Filtering never opens a lead by itself (that would acknowledge leads
        # flashing past while the rep types); Enter or ↓ opens the first match.

    def _on_search_enter(self) -> None:
        row = self.model.first_lead_row()
        self.view.setFocus()
        if row >= 0 and self.model.row_at(row) is not None and \
                self.model.row_at(row).id != self._active:  # type: ignore[union-attr]
            self.select_row(row)

    # -- the user switcher ------------------------------------------------------------------

    def _on_switcher_activated(self, index: int) -> None:
        person = self.switcher.itemData(index)
        if isinstance(person, PersonView):
            if not self.may_leave(then=lambda: self.switch_to(person)):
                self._sync_switcher()
                return
            self.switch_to(person)

    def _sync_switcher(self) -> None:
        for i in range(self.switcher.count()):
            data = self.switcher.itemData(i)
            if isinstance(data, PersonView) and data.id == self.me.id:
                self.switcher.setCurrentIndex(i)

    def switch_to(self, person: PersonView) -> None:
        """Run as another person (the demo's rep / team-lead / admin views)."""
        if self.ws is None:
            self.statusBar().showMessage("Opening the store: switch in a moment.", 5000)
            self._sync_switcher()
            return
        if person.id == self.ws.me.id:
            return
        self.ws = Workspace(self.ws.engine, person, self.ws.clock)
        log.info("switched to %s (%s)", person.email, person.role)
        self._sync_switcher()
        self.cancel_dial(quiet=True)
        self._close_active()
        self.preview.show_empty("Loading…")
        self._update_status()
        self.sig_workspace_changed.emit(person)
        self.reload_queue()

    # -- time ---------------------------------------------------------------------------

    def tick(self) -> None:
        """The one timer's beat: every countdown moves to the clock's now."""
        now = self.now()
        self.model.tick(now)
        self.preview.tick(now)
        if self._call is not None:
            self.call_bar.update_elapsed(int((now - self._call[2]).total_seconds()))
        if self._dial is not None:
            left = (self._dial[2] - now).total_seconds()
            if left <= 0:
                self._dial_due()
            else:
                self.dial_bar.update_left(int(left + 0.999))
        if (self.auto_refresh is not None and self.ws is not None
                and self._last_load is not None and not self.executor.busy
                and now - self._last_load >= self.auto_refresh):
            self._last_load = now
            self.reload_queue()

    # -- actions: the queue ------------------------------------------------------------------

    def act_next_lead(self) -> None:
        row = self.model.next_lead_row(self._active)
        if row < 0:
            self.statusBar().showMessage("Nothing else to call right now.", 5000)
            return
        lead = self.model.row_at(row)
        assert lead is not None
        target = lead.id
        if self.may_leave(then=lambda: self._go_next(target)):
            self._go_next(target)

    def _go_next(self, lead_id: uuid.UUID) -> None:
        if self.select_lead(lead_id) and self.mode == MODE_PROGRESSIVE:
            self._start_dial_countdown()

    def act_previous_lead(self) -> None:
        here = self.view.currentIndex().row()
        row = self.model.step_row(here if here >= 0 else self.model.rowCount(), -1)
        if row >= 0:
            self.select_row(row)

    def act_search(self) -> None:
        self.search.setFocus()
        self.search.selectAll()

    def act_toggle_mode(self) -> None:
        self.set_mode(MODE_PREVIEW if self.mode == MODE_PROGRESSIVE else MODE_PROGRESSIVE)

    def set_mode(self, mode: str) -> None:
        if mode not in (MODE_PREVIEW, MODE_PROGRESSIVE):
            raise ValueError(f"unknown dialing mode {mode!r}")
        self.mode = mode
        if mode == MODE_PREVIEW:
            self.cancel_dial(quiet=True)
        self._update_mode_text()
        self.sig_mode_changed.emit(mode)

    def _update_mode_text(self) -> None:
        action = self.actions_by_name.get("toggle_mode")
        progressive = self.mode == MODE_PROGRESSIVE
        if action is not None:
            action.setChecked(progressive)
            action.setText("Dialing: progressive" if progressive else "Dialing: preview")
        if hasattr(self, "status_mode"):
            self.status_mode.setText("Progressive dialing" if progressive
                                     else "Preview dialing")

    def act_cancel(self) -> None:
        if self._dial is not None:
            self.cancel_dial()
        elif self.search.hasFocus():
            self.view.setFocus()

    def act_refresh(self) -> None:
        self.reload_queue()

    # Issue 5 (shared database, app side): the pool and the team board (ui.pool,
    # ui.team_board).
    def act_take_from_pool(self) -> None:
        from ui.pool import take_next_from_pool

        take_next_from_pool(self)

    def act_return_to_pool(self) -> None:
        from ui.pool import return_to_pool

        return_to_pool(self)

    def act_team_board(self) -> None:
        from ui.team_board import toggle_team_board

        toggle_team_board(self)

    def act_shortcuts(self) -> None:
        self.dialogs.show_shortcuts(shortcut_rows())

    def act_quit(self) -> None:
        self.close()

    # -- progressive dialing ------------------------------------------------------------------

    def _advance_to_next(self) -> None:
        """After a wrap-up in progressive mode: open the next lead, count down, call."""
        row = self.model.first_callable_row(excluding=self._active)
        if row < 0:
            self.statusBar().showMessage("Queue done: nothing else to call right now.", 10000)
            return
        lead = self.model.row_at(row)
        assert lead is not None
        if lead.id != self._active:
            if self._active is not None and not self.may_leave():
                return
            self._open(lead.id, lead)
        self._start_dial_countdown()

    def _start_dial_countdown(self) -> None:
        if self._active is None or self._call is not None:
            return
        at = self.now() + self.progressive_delay
        self._dial = (self._active, self._active_name, at)
        self.dial_bar.show_countdown(self._active_name or "the next lead",
                                     int(self.progressive_delay.total_seconds()))
        self.sig_dial_countdown.emit(self._active)

    def cancel_dial(self, quiet: bool = False) -> None:
        if self._dial is None:
            return
        self._dial = None
        self.dial_bar.hide()
        if not quiet:
            self.statusBar().showMessage("Progressive dial cancelled.", 5000)
        self.sig_dial_cancelled.emit()

    def _dial_now(self) -> None:
        if self._dial is not None:
            self._dial = (self._dial[0], self._dial[1], self.now())
            self._dial_due()

    def _dial_due(self) -> None:
        """The countdown ran out: call, once the lead's details are in."""
        assert self._dial is not None
        lead_id = self._dial[0]
        if lead_id != self._active:
            self.cancel_dial(quiet=True)
            return
        data = self.preview.data
        if data is None or data.detail.id != lead_id:
            self.dial_bar.update_left(0)
            return  # its preview is still loading: load_preview calls back
        self._dial = None
        self.dial_bar.hide()
        self.act_call()

    @property
    def dial_pending(self) -> bool:
        return self._dial is not None

    @property
    def on_call(self) -> bool:
        return self._call is not None

    # -- actions: the open lead ----------------------------------------------------------------

    def _lead_context(self) -> PreviewData | None:
        """The open lead's preview data, or None (and a message) when none is open."""
        data = self.preview.data
        if self._active is None or data is None or data.detail.id != self._active:
            self.statusBar().showMessage("Open a lead first.", 3000)
            return None
        return data

    def act_call(self) -> None:
        data = self._lead_context()
        if data is None:
            return
        d = data.detail
        if self._call is not None:
            self._refuse(f"Already on a call with {self._call[1]}.")
            return
        if d.do_not_contact:
            self._refuse(f"{d.name} is marked do-not-contact.")
            return
        digits = [ch for ch in (d.phone or "") if ch.isdigit()]
        if len(digits) < 5 or "phone_unparseable" in d.data_issues:
            self._refuse(f"No dialable phone number for {d.name}"
                         + (f" (“{d.phone}”)" if d.phone else "")
                         + ": fix it with Edit contact (F2).")
            return
        row = data.row
        if row is not None and row.window_opens_at is not None:
            if not self.dialogs.ask_confirm(
                    "Outside the calling window",
                    f"It is outside {d.name}'s calling window right now. Call anyway?",
                    "Call anyway"):
                return
        self.cancel_dial(quiet=True)
        url = tel_url(d.phone or "")
        handled = self.os_links.open_url(url)
        self._call = (d.id, d.name, self.now())
        self._last_call_s = None
        self.call_bar.show_call(d.name, 0)
        if not handled:
            self.statusBar().showMessage(
                "No phone app took the call link: the number is on the clipboard.", 10000)
        self._update_actions()
        self.sig_call_started.emit(url)

    def _end_call(self) -> int | None:
        if self._call is None:
            return None
        seconds = max(0, int((self.now() - self._call[2]).total_seconds()))
        self._call = None
        self._last_call_s = seconds
        self.call_bar.hide()
        self._update_actions()
        self.sig_call_ended.emit(seconds)
        return seconds

    def act_hang_up(self) -> None:
        if self._call is None:
            return
        self._end_call()
        self.act_log_outcome()

    def act_log_outcome(self, outcome: str | None = None) -> None:
        data = self._lead_context()
        if data is None:
            return
        if self._call is not None:
            self._end_call()
        duration = self._last_call_s
        note = None
        if outcome is None:
            answer = self.dialogs.ask_outcome(data.detail.name, duration)
            if answer is None:
                return
            outcome, duration, note = answer
        lead_id = data.detail.id
        self._last_call_s = None
        name = data.detail.name
        self._write("log_outcome",
                    lambda ws: ws.log_call(lead_id, outcome, duration_s=duration, note=note),
                    then=lambda result: self._after_outcome(result, lead_id, name))

    def _after_outcome(self, result: Any, lead_id: uuid.UUID, name: str) -> None:
        """A call was logged: confirm the proposed next step (or status)."""
        if result is None or lead_id != self._active:
            return
        statuses = tuple(s for s in (result.proposed_status, result.alternative_status)
                         if s and s != "working")
        proposed = result.proposed_status if result.proposed_status != result.status else None
        notes = []
        if result.phone_flagged:
            notes.append("The phone number is flagged.")
        if result.cadence_ended:
            notes.append("The cadence has ended.")
        intro = (f"Logged. Next step for {name} (proposed by the rules)."
                 + (" " + " ".join(notes) if notes else ""))
        answer = self.dialogs.ask_next_step(
            name, result.next_step_kind, result.next_step_at,
            result.next_step_text, self.now(), statuses=statuses,
            status=proposed or (result.status if result.status != "working" else None),
            intro=intro)
        if answer is not None:
            self._apply_next_step(answer, current_status=result.status)

    def act_next_step(self) -> None:
        data = self._lead_context()
        if data is None:
            return
        d = data.detail
        answer = self.dialogs.ask_next_step(
            d.name, d.next_step_kind, d.next_step_at if d.next_step_at and
            d.next_step_at > self.now() else None, d.next_step, self.now(),
            statuses=("meeting", "nurture", "no_response", "converted", "disqualified"))
        if answer is None:
            self._after_wrap = None
            return
        self._apply_next_step(answer, current_status=d.status)

    def _apply_next_step(self, answer: NextStepAnswer, current_status: str) -> None:
        lead_id = self._active
        assert lead_id is not None
        status = answer.status
        if status == "disqualified":
            self.act_disqualify()
            return
        change_status = status is not None and status != "working" and status != current_status

        def work(ws: Workspace) -> None:
            if change_status:
                ws.set_status(lead_id, status, reason=answer.reason)  # type: ignore[arg-type]
            if answer.kind is not None and answer.at is not None:
                ws.set_next_step(lead_id, answer.kind, answer.at, answer.text or None)

        self._write("next_step", work)

    def act_note(self) -> None:
        data = self._lead_context()
        if data is None:
            return
        body = self.dialogs.ask_note(data.detail.name)
        if body:
            lead_id = data.detail.id
            self._write("note", lambda ws: ws.add_note(lead_id, body))

    def act_snooze(self) -> None:
        data = self._lead_context()
        if data is None:
            return
        until = self.dialogs.ask_snooze(self.now(), data.detail.timezone)
        if until is not None:
            lead_id = data.detail.id
            self._write("snooze", lambda ws: ws.snooze(lead_id, until))

    def act_disqualify(self) -> None:
        data = self._lead_context()
        if data is None:
            return
        answer = self.dialogs.ask_disqualify(data.detail.name)
        if answer is None:
            self._after_wrap = None
            return
        reason, note = answer
        lead_id = data.detail.id
        self._write("disqualify", lambda ws: ws.disqualify(lead_id, reason, note))

    def act_inbound(self) -> None:
        data = self._lead_context()
        if data is None:
            return
        answer = self.dialogs.ask_inbound(data.detail.name)
        if answer is None:
            return
        lead_id, name = data.detail.id, data.detail.name
        self._write("inbound", lambda ws: ws.log_inbound(
            lead_id, answer.kind, body=answer.body or None, outcome=answer.outcome),
            then=lambda result: self._after_outcome(result, lead_id, name))

    def act_correct(self) -> None:
        data = self._lead_context()
        if data is None:
            return
        answer = self.dialogs.ask_correction(data.detail.name, data.detail.activities)
        if answer is None:
            return
        if answer.outcome is None and answer.body is None:
            self.statusBar().showMessage("Nothing changed: no correction logged.", 5000)
            return
        self._write("correct", lambda ws: ws.correct_activity(
            answer.activity_id, outcome=answer.outcome, body=answer.body))

    def act_email(self) -> None:
        data = self._lead_context()
        if data is None:
            return
        d = data.detail
        if not d.email:
            self._refuse(f"{d.name} has no email address: add one with Edit contact (F2).")
            return
        tpl = data.template
        email_tpl = tpl if tpl is not None and getattr(tpl, "channel", "") == "email" else None
        subject = getattr(email_tpl, "subject", None)
        body = getattr(email_tpl, "body", None)
        url = mailto_url(d.email, subject, body)
        self.os_links.copy_text("\n\n".join(x for x in (subject, body) if x) or d.email)
        handled = self.os_links.open_url(url)
        self.statusBar().showMessage(
            ("Email opened" if handled else "No mail app answered")
            + " — the text is on the clipboard; logged as an email touch.", 8000)
        lead_id = d.id
        name = getattr(email_tpl, "name", None)
        self._write("email", lambda ws: ws.log_touch(
            lead_id, "email", body=subject or (f"Template: {name}" if name else None)))

    # -- lead forms ---------------------------------------------------------------------------

    def act_new_lead(self) -> None:
        from leadqueue.views import NewLead

        specs = _form_specs(NewLead, only=NEW_LEAD_FIELDS)
        answer = self.dialogs.ask_fields("New lead", specs, {
            "priority": 3, "lead_class": "qualification_needed", "source": "manual"})
        if answer is None:
            return
        values = {k: v for k, v in answer.items() if v is not None}

        def work(ws: Workspace) -> uuid.UUID:
            return ws.create_lead(NewLead(**values))

        self._write("new_lead", work, then=self._after_new_lead)

    def _after_new_lead(self, lead_id: Any) -> None:
        self.statusBar().showMessage("Lead created.", 5000)
        if isinstance(lead_id, uuid.UUID) and self.may_leave(
                then=lambda: self.select_lead(lead_id)):
            self.select_lead(lead_id)

    def act_edit_contact(self) -> None:
        data = self._lead_context()
        if data is None:
            return
        from leadqueue.views import ContactEdit

        d = data.detail
        specs = _form_specs(ContactEdit)
        initial = {s.name: getattr(d, s.name, None) for s in specs}
        answer = self.dialogs.ask_fields(f"Edit contact — {d.name}", specs, initial)
        if answer is None:
            return
        # ContactEdit: None leaves a field alone, "" clears it.
        changed = {k: ("" if v is None else v) for k, v in answer.items()
                   if v != initial.get(k)}
        if not changed:
            return
        lead_id = d.id
        self._write("edit_contact", lambda ws: ws.update_contact(lead_id, ContactEdit(**changed)))

    # -- writes -------------------------------------------------------------------------------

    def _write(self, name: str, work: Callable[[Workspace], Any],
               then: Callable[[Any], None] | None = None) -> None:
        """Run one write off the GUI thread, then refresh queue, lead and wrap-up.

        Before the workspace is open (the first seconds of a cold start) the
        write waits for it; it counts as pending, so the wrap-up rule waits too.
        """
        if self.ws is None:
            self._writes_pending += 1

            def later() -> None:
                self._writes_pending -= 1
                self._write(name, work, then)

            self._when_ready.append(later)
            self.statusBar().showMessage("Opening the store: saving in a moment…", 5000)
            return
        self._writes_pending += 1
        self._queue_generation += 1
        generation = self._queue_generation
        active, since = self._active, self._opened_at

        def done(r: _Refresh) -> None:
            self._writes_pending -= 1
            was_complete = self._wrap is not None and self._wrap.complete
            if active == self._active and r.wrap is not None:
                self._wrap = r.wrap

            def after() -> None:
                self.sig_action_done.emit(name, r.result)
                if then is not None:
                    then(r.result)
                self._after_write_settled(was_complete)

            self._on_refresh(generation, r, None, after, keep_open=then is not None)

        def failed(exc: BaseException) -> None:
            self._writes_pending -= 1
            from leadqueue.workspace import ActionRefused

            if isinstance(exc, ActionRefused | LookupError | ValueError):
                self.sig_action_refused.emit(name, str(exc))
                self._refuse(str(exc), dialog=True)
            elif (words := _unreachable_words(exc, write=True)) is not None:
                # The shared database went away: say plainly it was NOT saved.
                self._told_failures.add(id(exc))
                self.sig_action_refused.emit(name, words)
                self._refuse(words, dialog=True)
            self._after_wrap = None
            self._run_after_writes()

        self.executor.submit(_refresh, self.ws, active, since, work, label=name,
                             on_done=done, on_error=failed)

    def _after_write_settled(self, was_complete: bool) -> None:
        wrap = self._wrap
        if wrap is not None and wrap.complete:
            pending, self._after_wrap = self._after_wrap, None
            if pending is not None:
                pending()
            elif (self.mode == MODE_PROGRESSIVE and wrap.worked and not was_complete
                  and self._writes_pending == 0):
                self._advance_to_next()
        self._run_after_writes()

    def _run_after_writes(self) -> None:
        if self._writes_pending:
            return
        waiting, self._after_writes = self._after_writes, []
        for fn in waiting:
            fn()

    # -- errors -----------------------------------------------------------------------------

    def _refuse(self, message: str, dialog: bool = False) -> None:
        self.statusBar().showMessage(message, 15000)
        if dialog:
            self.dialogs.show_error("Not done", message)

    def _on_task_failed(self, label: str, exc: BaseException) -> None:
        from leadqueue.workspace import ActionRefused

        if id(exc) in self._told_failures:  # a write's "not saved", already said
            self._told_failures.discard(id(exc))
            self.sig_error.emit(_unreachable_words(exc, write=True) or str(exc))
            return
        words = _unreachable_words(exc, write=label.startswith(_SAVING_TASKS))
        message = words or str(exc) or exc.__class__.__name__
        if not isinstance(exc, ActionRefused):
            self.statusBar().showMessage(words or f"{label}: {message}", 15000)
        self.sig_error.emit(message)

    def _update_actions(self) -> None:
        has_lead = self._active is not None
        for spec in ACTIONS:
            action = self.actions_by_name.get(spec.name)
            if action is None:
                continue
            enabled = not spec.needs_lead or has_lead
            if spec.name == "call":
                enabled = enabled and self._call is None
            elif spec.name == "hang_up":
                enabled = self._call is not None
            action.setEnabled(enabled)
        self.call_bar.setVisible(self._call is not None)


#: Tasks besides ``_write`` that save what the person did (snoozing, dismissing
#: a notification, quiet hours, the rules editor's "save …"): when the shared
#: database is out of reach, they say it was NOT saved.
_SAVING_TASKS = ("snooze notification", "notifications seen", "quiet hours", "save ")


def _unreachable_words(exc: BaseException, write: bool = False) -> str | None:
    """Plain words when ``exc`` is the shared database being out of reach (the
    core's classifier, ``leadqueue.shared.connect``); None for anything else."""
    if isinstance(exc, ValueError | LookupError):  # a refusal: its own words
        return None
    from leadqueue.shared.connect import failure_message

    return failure_message(exc, write=write)


#: The fields the new-lead form asks for (the rest keep NewLead's defaults).
NEW_LEAD_FIELDS = ("first_name", "last_name", "company", "title", "email", "phone", "source",
                   "priority", "lead_class", "product_interest", "company_size", "timezone")


def _form_specs(cls: type, only: tuple[str, ...] | None = None) -> list[FieldSpec]:
    """Form fields for a frozen dataclass of the core (NewLead, ContactEdit)."""
    import typing

    from ui.dialogs import FieldSpec

    hints = typing.get_type_hints(cls)
    specs = []
    chosen = [f for f in fields(cls) if only is None or f.name in only]
    if only is not None:
        chosen.sort(key=lambda f: only.index(f.name))
    for f in chosen:
        hint = hints.get(f.name)
        text = str(hint)
        required = f.default is MISSING and f.default_factory is MISSING
        label = f.name.replace("_", " ").capitalize()
        if f.name == "priority":
            specs.append(FieldSpec(f.name, label, "choice", required,
                                   tuple((f"P{p}", p) for p in (1, 2, 3, 4))))
        elif f.name == "lead_class":
            from leadqueue.enums import LeadClass

            specs.append(FieldSpec(f.name, label, "choice", required, tuple(
                (c.value.replace("_", " ").capitalize(), c.value) for c in LeadClass)))
        elif "int" in text and "str" not in text:
            specs.append(FieldSpec(f.name, label, "int", required))
        elif "str" in text:
            specs.append(FieldSpec(f.name, label, "text", required))
    return specs

__all__ = ["OUTCOME_LABELS", "SPECS", "FirstPaint", "MainWindow", "QueueSnapshot",
           "fetch_preview", "fetch_queue", "outcome_action_name"]
