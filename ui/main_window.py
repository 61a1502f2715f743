"""The rep's main window: the queue on the left, the preview on the right.

The window owns the widgets and one :class:`~ui.tasks.SerialExecutor`; every
core call (reads too) goes through that executor, so the GUI thread never
touches the database. One ticking timer moves every countdown on screen.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from leadqueue.views import PersonView, QueueRow
from leadqueue.workspace import Workspace
from ui.preview import PreviewData, PreviewPane
from ui.qt import (
    QItemSelectionModel,
    QModelIndex,
    QSettings,
    Qt,
    QTimer,
    QtWidgets,
    Signal,
)
from ui.queue_model import (
    COL_COMPANY,
    COL_DUE,
    COL_LOCAL,
    COL_NAME,
    COL_PRIORITY,
    COL_RANK,
    COL_TIER,
    SECTION_CALLABLE,
    SECTION_LATER,
    SECTION_UPCOMING,
    QueueFilter,
    QueueModel,
)
from ui.tasks import SerialExecutor
from ui.widgets import PriorityBadgeDelegate

log = logging.getLogger("leadqueue.ui.window")

ROLE_LABELS = {"rep": "Rep", "team_lead": "Team lead", "admin": "Admin"}


@dataclass(frozen=True)
class QueueSnapshot:
    """One load of the queue, made on the worker thread."""

    callable: tuple[QueueRow, ...]
    later: tuple[QueueRow, ...]
    upcoming: tuple[QueueRow, ...]
    now: datetime
    owners: dict[uuid.UUID, str]
    team_view: bool


def fetch_queue(ws: Workspace) -> QueueSnapshot:
    """The signed-in person's queue: a rep's ranked queue, a team's for leads."""
    now = ws.now()
    if ws.me.role == "rep":
        ranked = getattr(ws, "ranked_queue", None)
        if ranked is not None:
            q = ranked(at=now)
            return QueueSnapshot(tuple(q.callable), tuple(q.later), tuple(q.upcoming), now,
                                 {}, False)
        return QueueSnapshot(tuple(ws.queue()), (), (), now, {}, False)
    # Team lead and admin: the active leads of every rep they oversee, P1 first.
    people = [p for p in ws.people() if p.role == "rep"
              and (ws.me.role == "admin" or p.team_id == ws.me.team_id)]
    rows: list[QueueRow] = []
    owners: dict[uuid.UUID, str] = {}
    for rep in people:
        for row in Workspace(ws.engine, rep, ws.clock).queue():
            rows.append(row)
            owners[row.id] = rep.name
    rows.sort(key=lambda r: (r.priority, r.sla_due_at or r.next_step_at or r.created_at,
                             r.created_at, str(r.id)))
    return QueueSnapshot(tuple(rows), (), (), now, owners, True)


def fetch_preview(ws: Workspace, lead_id: uuid.UUID, row: QueueRow | None) -> PreviewData:
    detail = ws.lead(lead_id)
    cadence = template = None
    if hasattr(ws, "cadence_step_label"):
        cadence = ws.cadence_step_label(lead_id)
    if hasattr(ws, "render_template"):
        template = ws.render_template(lead_id)
    return PreviewData(detail, row, cadence, template)


class MainWindow(QtWidgets.QMainWindow):
    """Queue, preview, user switcher and status line for one workspace."""

    sig_queue_loaded = Signal(int)        # rows in the queue
    sig_preview_loaded = Signal(object)   # the lead id shown
    sig_workspace_changed = Signal(object)  # the PersonView now signed in
    sig_error = Signal(str)

    def __init__(self, workspace: Workspace, *, settings: QSettings | None = None,
                 store_label: str = "", show_switcher: bool = True,
                 executor: SerialExecutor | None = None,
                 parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("main_window")
        self.ws = workspace
        self.settings = settings
        self.executor = executor or SerialExecutor(parent=self)
        self.executor.sig_task_failed.connect(self._on_task_failed)
        self._store_label = store_label
        self._queue_generation = 0
        self._preview_lead: uuid.UUID | None = None
        self._pending_select: uuid.UUID | None = None
        self.setWindowTitle("LeadQueue")

        self.model = QueueModel(now=self.ws.now(), parent=self)
        self._build(show_switcher)
        self._restore_geometry()

        # One timer for every countdown on screen.
        self.ticker = QTimer(self)
        self.ticker.setInterval(1000)
        self.ticker.timeout.connect(self.tick)
        self.ticker.start()

    # -- building ---------------------------------------------------------------

    def _build(self, show_switcher: bool) -> None:
        central = QtWidgets.QWidget(self)
        outer = QtWidgets.QVBoxLayout(central)
        outer.setContentsMargins(10, 8, 10, 4)
        outer.setSpacing(6)

        # Top row: who am I, and the filters of the queue.
        top = QtWidgets.QHBoxLayout()
        top.setSpacing(8)
        self.search = QtWidgets.QLineEdit(central)
        self.search.setObjectName("search")
        self.search.setPlaceholderText("Search name, company, phone, email  (Ctrl+F)")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self._on_filter_changed)
        top.addWidget(self.search, 3)
        self.section_filter = self._combo("section_filter", [
            ("All tiers", None), ("Callable now", ("section", SECTION_CALLABLE)),
            ("1 · Callbacks", ("tier", 1)), ("2 · New leads", ("tier", 2)),
            ("3 · Due steps", ("tier", 3)), ("Later (window closed)", ("section", SECTION_LATER)),
            ("Upcoming", ("section", SECTION_UPCOMING))])
        self.priority_filter = self._combo("priority_filter", [
            ("All priorities", None), ("P1", 1), ("P2", 2), ("P3", 3), ("P4", 4)])
        self.source_filter = self._combo("source_filter", [("All sources", None)])
        for combo in (self.section_filter, self.priority_filter, self.source_filter):
            top.addWidget(combo)
        top.addStretch(1)
        self.switcher = QtWidgets.QComboBox(central)
        self.switcher.setObjectName("user_switcher")
        self.switcher.setMinimumContentsLength(28)
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
        self.view.setObjectName("queue_view")
        self.view.setModel(self.model)
        self.view.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.SingleSelection)
        self.view.setAlternatingRowColors(True)
        self.view.setShowGrid(False)
        self.view.setWordWrap(False)
        self.view.setSortingEnabled(False)  # the core's order is the point
        self.view.verticalHeader().setVisible(False)
        self.view.verticalHeader().setDefaultSectionSize(30)
        self.view.verticalHeader().setSectionResizeMode(
            QtWidgets.QHeaderView.ResizeMode.Fixed)
        self.view.setHorizontalScrollMode(
            QtWidgets.QAbstractItemView.ScrollMode.ScrollPerPixel)
        header = self.view.horizontalHeader()
        header.setHighlightSections(False)
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        # Fixed widths: sizing to contents would read every one of 100k rows.
        for col, width in ((COL_RANK, 44), (COL_PRIORITY, 44), (COL_NAME, 170),
                           (COL_COMPANY, 170), (COL_TIER, 82), (COL_DUE, 130),
                           (COL_LOCAL, 86)):
            self.view.setColumnWidth(col, width)
        header.setStretchLastSection(True)
        self.view.setItemDelegateForColumn(COL_PRIORITY, PriorityBadgeDelegate(self.view))
        self.view.selectionModel().currentRowChanged.connect(self._on_current_row_changed)
        left_layout.addWidget(self.view, 1)
        self.preview = PreviewPane(self.splitter)
        self.splitter.addWidget(left)
        self.splitter.addWidget(self.preview)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setChildrenCollapsible(False)
        outer.addWidget(self.splitter, 1)
        self.setCentralWidget(central)

        # Status line: store, connection, conflicts.
        bar = self.statusBar()
        self.status_store = QtWidgets.QLabel(self)
        self.status_online = QtWidgets.QLabel("● Offline — local store only", self)
        self.status_online.setObjectName("status_offline")
        self.status_conflicts = QtWidgets.QLabel("Conflicts waiting: 0", self)
        self.status_busy = QtWidgets.QLabel("", self)
        for w in (self.status_store, self.status_online, self.status_conflicts):
            bar.addPermanentWidget(w)
        bar.addWidget(self.status_busy)
        self.executor.sig_busy_changed.connect(
            lambda busy: self.status_busy.setText("Working…" if busy else ""))
        self._update_status()

    def _combo(self, name: str, items: list[tuple[str, Any]]) -> QtWidgets.QComboBox:
        combo = QtWidgets.QComboBox(self)
        combo.setObjectName(name)
        for text, value in items:
            combo.addItem(text, value)
        combo.currentIndexChanged.connect(self._on_filter_changed)
        return combo

    # -- settings ------------------------------------------------------------------

    def _restore_geometry(self) -> None:
        if self.settings is None:
            self.resize(1440, 900)
            self.splitter.setSizes([820, 600])
            return
        geometry = self.settings.value("main_window/geometry")
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(1440, 900)
        splitter = self.settings.value("main_window/splitter")
        if splitter is None or not self.splitter.restoreState(splitter):
            self.splitter.setSizes([820, 600])

    def save_geometry(self) -> None:
        if self.settings is not None:
            self.settings.setValue("main_window/geometry", self.saveGeometry())
            self.settings.setValue("main_window/splitter", self.splitter.saveState())
            self.settings.sync()

    def closeEvent(self, event) -> None:  # type: ignore[no-untyped-def]  # noqa: N802
        self.save_geometry()
        self.ticker.stop()
        self.executor.shutdown(wait=True)
        super().closeEvent(event)

    # -- loading -------------------------------------------------------------------

    def start(self) -> None:
        """Load the people for the switcher, then the queue."""
        self.executor.submit(self.ws.people, label="people", on_done=self._on_people)
        self.reload_queue()

    def reload_queue(self, select: uuid.UUID | None = None) -> None:
        """Ask the core for the queue again (after a write, a switch, a notice)."""
        self._queue_generation += 1
        generation = self._queue_generation
        self._pending_select = select if select is not None else self.current_lead_id()
        ws = self.ws
        self.executor.submit(fetch_queue, ws, label="queue",
                             on_done=lambda snap: self._on_queue(generation, snap))

    def _on_people(self, people: list[PersonView]) -> None:
        self.switcher.blockSignals(True)
        self.switcher.clear()
        for p in people:
            team = f" · {p.team_name}" if p.team_name else ""
            self.switcher.addItem(f"{p.name} — {ROLE_LABELS.get(p.role, p.role)}{team}", p)
            if p.id == self.ws.me.id:
                self.switcher.setCurrentIndex(self.switcher.count() - 1)
        self.switcher.blockSignals(False)

    def _on_queue(self, generation: int, snap: QueueSnapshot) -> None:
        if generation != self._queue_generation:
            return  # a newer load is on its way
        self.model.show_owner = snap.team_view
        self.model.set_queue(snap.callable, snap.later, snap.upcoming, now=snap.now,
                             owners=snap.owners)
        if snap.team_view:
            self.view.setColumnWidth(COL_LOCAL, 86)
        self._refresh_sources()
        self._update_title()
        wanted = self._pending_select
        self._pending_select = None
        row = self.model.row_of(wanted) if wanted is not None else -1
        if row < 0 and self.model.rowCount():
            row = 0
        if row >= 0:
            self.select_row(row)
        else:
            self.preview.show_empty("Nothing to work right now." if not self.model.total
                                    else "No lead matches the filter.")
        self.sig_queue_loaded.emit(self.model.total)

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
        who = self.ws.me
        if self.model.show_owner:
            scope = "Team queue" if who.role == "team_lead" else "All reps' queues"
            text = f"{scope} · {callable_n:,} active leads"
        else:
            text = (f"{who.name}'s queue · {callable_n:,} to work now · "
                    f"{later_n:,} later · {upcoming_n:,} upcoming")
        shown = self.model.rowCount()
        if shown != self.model.total:
            text += f" · showing {shown:,}"
        self.queue_title.setText(text)

    def _update_status(self) -> None:
        me = self.ws.me
        self.status_store.setText(f"Store: {self._store_label}" if self._store_label else "")
        self.setWindowTitle(f"LeadQueue — {me.name} ({ROLE_LABELS.get(me.role, me.role)})")

    # -- selection and preview ---------------------------------------------------------

    def current_lead_id(self) -> uuid.UUID | None:
        row = self.model.row_at(self.view.currentIndex().row())
        return row.id if row is not None else None

    def current_row(self) -> QueueRow | None:
        return self.model.row_at(self.view.currentIndex().row())

    def select_row(self, row: int) -> None:
        index = self.model.index(row, COL_NAME)
        self.view.selectionModel().setCurrentIndex(
            index, QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows)
        self.view.scrollTo(index)

    def _on_current_row_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        row = self.model.row_at(current.row())
        if row is None:
            self._preview_lead = None
            self.preview.show_empty()
            return
        self._preview_lead = row.id
        self.load_preview(row.id, row)

    def load_preview(self, lead_id: uuid.UUID, row: QueueRow | None = None,
                     then: Callable[[PreviewData], None] | None = None) -> None:
        def shown(data: PreviewData) -> None:
            if self._preview_lead != lead_id:
                return  # the rep moved on while it loaded
            self.preview.show_lead(data, self.ws.now())
            if then is not None:
                then(data)
            self.sig_preview_loaded.emit(lead_id)

        self.executor.submit(fetch_preview, self.ws, lead_id, row, label="preview",
                             on_done=shown)

    # -- filters -----------------------------------------------------------------------

    def _on_filter_changed(self, *_args: object) -> None:
        choice = self.section_filter.currentData()
        section = tier = None
        if choice is not None:
            kind, value = choice
            section, tier = (value, None) if kind == "section" else (None, value)
        flt = QueueFilter(section=section, tier=tier,
                          priority=self.priority_filter.currentData(),
                          source=self.source_filter.currentData(),
                          text=self.search.text())
        keep = self.current_lead_id()
        self.model.set_filter(flt)
        self._update_title()
        row = self.model.row_of(keep) if keep is not None else -1
        if row >= 0:
            self.select_row(row)
        elif self.model.rowCount():
            self.select_row(0)
        else:
            self._preview_lead = None
            self.preview.show_empty("No lead matches the filter.")

    # -- the user switcher ------------------------------------------------------------------

    def _on_switcher_activated(self, index: int) -> None:
        person = self.switcher.itemData(index)
        if isinstance(person, PersonView):
            self.switch_to(person)

    def switch_to(self, person: PersonView) -> None:
        """Run as another person (the demo's rep / team-lead / admin views)."""
        if person.id == self.ws.me.id:
            return
        self.ws = Workspace(self.ws.engine, person, self.ws.clock)
        log.info("switched to %s (%s)", person.email, person.role)
        idx = self.switcher.findText(self.switcher.currentText())
        for i in range(self.switcher.count()):
            data = self.switcher.itemData(i)
            if isinstance(data, PersonView) and data.id == person.id:
                idx = i
        self.switcher.setCurrentIndex(idx)
        self._preview_lead = None
        self.preview.show_empty("Loading…")
        self._update_status()
        self.sig_workspace_changed.emit(person)
        self._queue_generation += 1
        generation = self._queue_generation
        self._pending_select = None
        self.executor.submit(fetch_queue, self.ws, label="queue",
                             on_done=lambda snap: self._on_queue(generation, snap))

    # -- time ---------------------------------------------------------------------------

    def tick(self) -> None:
        """The one timer's beat: every countdown moves to the clock's now."""
        self.model.tick(self.ws.now())

    # -- errors ---------------------------------------------------------------------------

    def _on_task_failed(self, label: str, exc: BaseException) -> None:
        message = str(exc) or exc.__class__.__name__
        self.statusBar().showMessage(f"{label}: {message}", 10000)
        self.sig_error.emit(message)

