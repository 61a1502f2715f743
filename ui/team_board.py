"""The team board: who holds what, for team leads and admins (View > Team board, Ctrl+B).

A dock under the queue. Left: the team's reps (an admin: every team's) with
their active queue, SLA breaches right now, availability as routing sees it
(``rules.routing.unavailable_reason``) and the pool leads each one holds under
a claim; the last row is the team's unclaimed pool. Right: the leads of the
selected row, several selectable at once, and "Move to … / Reassign": one
lead or many, to another rep or back to the pool, with a reason.

Everything it shows comes from ``Workspace.team_board()`` (``leadqueue.board``)
and every move is ``Workspace.reassign()``, both on the window's executor
(never on the GUI thread). Who may move what is not decided here: the core
decides on a local store, PostgreSQL (``lq_reassign``) on the shared one.
The board reloads when it is shown, after every queue reload of the window
(writes, live notices, the one-minute refresh) and on Refresh.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

from ui.qt import (
    QAbstractTableModel,
    QColor,
    QFont,
    QItemSelectionModel,
    QModelIndex,
    QPersistentModelIndex,
    QSize,
    Qt,
    QtWidgets,
    Signal,
)
from ui.queue_model import PILL_SIZE, priority_pills

log = logging.getLogger("leadqueue.ui.board")

POOL_TARGET = "__pool__"
LEAD_ROLES = ("team_lead", "admin")
#: Seen by the live listener within this long: shown as online.
ONLINE_WITHIN = timedelta(minutes=3)

_GREEN, _AMBER, _RED, _MUTED = (QColor("#2e7d32"), QColor("#b26a00"), QColor("#c62828"),
                                QColor("#7b8190"))
_POOL_BG = QColor("#f1f4f9")
_ID_ROLE = int(Qt.ItemDataRole.UserRole.value) + 1
_RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
_CENTER = int(Qt.AlignmentFlag.AlignCenter)
_ROWS = QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows
_ADD_ROWS = QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows

STYLE = """
QWidget#team_board { background: #f4f6f9; }
QLabel#board_title { font-size: 11pt; font-weight: 600; color: #1f2430; }
QLabel#board_summary { color: #5f6672; }
QLabel#board_leads_title { font-weight: 600; color: #1f2430; padding-top: 2px; }
QLabel#board_chip {
    background: #ffffff; border: 1px solid #dde1e7; border-radius: 10px;
    padding: 2px 10px; color: #3c4250;
}
QLabel#board_chip[alert="true"] { background: #fdecea; border-color: #f5b7b1; color: #8e1b1b;
    font-weight: 600; }
QTableView#board_reps, QTableView#board_leads {
    background: #ffffff; alternate-background-color: #fafbfc; border: 1px solid #dde1e7;
    border-radius: 6px; selection-background-color: #dce8fc; selection-color: #10203a;
    gridline-color: #eceef2; outline: 0;
}
QTableView#board_reps::item, QTableView#board_leads::item { padding-left: 6px; border: none; }
QPushButton#reassign_button {
    background: #1a73e8; color: #ffffff; border: 1px solid #1765cc; border-radius: 5px;
    padding: 4px 14px; font-weight: 600;
}
QPushButton#reassign_button:disabled { background: #b8cdf0; border-color: #b8cdf0; }
QPushButton#board_refresh {
    background: #ffffff; border: 1px solid #cfd3da; border-radius: 5px; padding: 3px 12px;
}
QToolButton#board_hide { border: none; color: #5f6672; padding: 2px 6px; }
QToolButton#board_hide:hover { background: #e4e8ee; border-radius: 4px; }
"""


def ago(when: datetime, now: datetime) -> str:
    """"3 min" / "2 h 05" / "4 d": how long between ``when`` and ``now`` (either way)."""
    minutes = int(abs((now - when).total_seconds()) // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {rest:02d}"
    return f"{hours // 24} d"


# -- models ----------------------------------------------------------------------------------


class _ColumnsModel(QAbstractTableModel):
    """A table whose columns are ``COLUMNS``, titled by them."""

    COLUMNS: tuple[str, ...] = ()

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal \
                and 0 <= section < len(self.COLUMNS):
            return self.COLUMNS[section]
        return None


class RepsModel(_ColumnsModel):
    """The board's reps, then the pool row (ids in ``_ID_ROLE``; the pool's is None)."""

    COLUMNS = ("Rep", "Availability", "Queue", "SLA breaches", "Holding from pool")
    COL_NAME, COL_AVAIL, COL_QUEUE, COL_BREACH, COL_HELD = range(5)

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.board: Any = None
        self.reps: list[Any] = []
        self.show_team = False

    def set_board(self, board: Any) -> None:
        self.beginResetModel()
        self.board = board
        self.reps = list(board.reps) if board is not None else []
        self.show_team = board is not None and board.scope == "all"
        self.endResetModel()

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        if parent.isValid() or self.board is None:
            return 0
        return len(self.reps) + 1

    def row_id(self, row: int) -> uuid.UUID | None:
        return self.reps[row].id if 0 <= row < len(self.reps) else None

    def row_of(self, rep_id: uuid.UUID | None) -> int:
        if rep_id is None:
            return len(self.reps) if self.board is not None else -1
        return next((i for i, r in enumerate(self.reps) if r.id == rep_id), -1)

    def is_pool(self, row: int) -> bool:
        return self.board is not None and row == len(self.reps)

    def data(self, index: QModelIndex | QPersistentModelIndex,
             role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or self.board is None:
            return None
        row, col, role = index.row(), index.column(), int(role)
        if self.is_pool(row):
            return self._pool_data(col, role)
        if not 0 <= row < len(self.reps):
            return None
        rep, now = self.reps[row], self.board.now
        if role == _ID_ROLE:
            return rep.id
        if role == int(Qt.ItemDataRole.DisplayRole):
            if col == self.COL_NAME:
                return f"{rep.name}  ·  {rep.team_name}" if self.show_team and rep.team_name \
                    else rep.name
            if col == self.COL_AVAIL:
                text = "● Available" if rep.available else f"● {rep.unavailable.capitalize()}"
                if rep.last_seen_at is not None and now - rep.last_seen_at <= ONLINE_WITHIN:
                    text += " · online"
                return text
            if col == self.COL_QUEUE:
                return f"{rep.queue_size:,}"
            if col == self.COL_BREACH:
                return f"{rep.breaches:,}" if rep.breaches else "—"
            if col == self.COL_HELD:
                if not rep.held:
                    return "—"
                names = ", ".join(h.name for h in rep.held[:2])
                more = f" +{len(rep.held) - 2}" if len(rep.held) > 2 else ""
                return f"{len(rep.held)} · {names}{more}"
            return None
        if role == int(Qt.ItemDataRole.ForegroundRole):
            if col == self.COL_AVAIL:
                return _GREEN if rep.available else _AMBER
            if col == self.COL_BREACH:
                return _RED if rep.breaches else _MUTED
            if col == self.COL_HELD and not rep.held:
                return _MUTED
            return None
        if role == int(Qt.ItemDataRole.FontRole) and (
                col == self.COL_NAME or (col == self.COL_BREACH and rep.breaches)):
            font = QFont()
            font.setBold(True)
            return font
        if role == int(Qt.ItemDataRole.TextAlignmentRole) and col in (self.COL_QUEUE,
                                                                      self.COL_BREACH):
            return _CENTER
        if role == int(Qt.ItemDataRole.ToolTipRole):
            seen = (f"Last seen online {ago(rep.last_seen_at, now)} ago"
                    if rep.last_seen_at else "Not seen online yet")
            lines = [f"{rep.name} <{rep.email}>", seen]
            if rep.unavailable:
                lines.append(f"Routing skips them now: {rep.unavailable}")
            for h in rep.held:
                lines.append(f"Holds {h.name} (claim runs {ago(h.expires_at, now)} more)")
            return "\n".join(lines)
        return None

    def _pool_data(self, col: int, role: int) -> Any:
        board = self.board
        if role == int(Qt.ItemDataRole.DisplayRole):
            if col == self.COL_NAME:
                return "Team pool" if board.scope == "team" else "Pools (every team)"
            if col == self.COL_AVAIL:
                return "unclaimed"
            if col == self.COL_QUEUE:
                return f"{board.pool_size:,}"
            if col == self.COL_BREACH:
                return f"{board.pool_breaches:,}" if board.pool_breaches else "—"
            return "" if col == self.COL_HELD else None
        if role == int(Qt.ItemDataRole.BackgroundRole):
            return _POOL_BG
        if role == int(Qt.ItemDataRole.ToolTipRole):
            return ("Unclaimed leads of the team: any rep takes the best one with Take next "
                    "from pool (P); select them here to give them to a rep.")
        if role == int(Qt.ItemDataRole.ForegroundRole):
            if col == self.COL_BREACH and board.pool_breaches:
                return _RED
            return _MUTED if col == self.COL_AVAIL else None
        if role == int(Qt.ItemDataRole.FontRole) and col == self.COL_NAME:
            font = QFont()
            font.setItalic(True)
            font.setBold(True)
            return font
        if role == int(Qt.ItemDataRole.TextAlignmentRole) and col in (self.COL_QUEUE,
                                                                      self.COL_BREACH):
            return _CENTER
        return None


class BoardLeadsModel(_ColumnsModel):
    """The active leads of one board row (a rep's, or the pool's)."""

    COLUMNS = ("P", "Lead", "Company", "Status", "First response", "Claim")
    COL_PRIORITY, COL_NAME, COL_COMPANY, COL_STATUS, COL_SLA, COL_CLAIM = range(6)

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.leads: list[Any] = []
        self.now: datetime | None = None
        self._pills: dict[int, Any] | None = None

    def set_leads(self, leads: Any, now: datetime) -> None:
        self.beginResetModel()
        self.leads = list(leads)
        self.now = now
        self.endResetModel()

    def lead_at(self, row: int) -> Any:
        return self.leads[row] if 0 <= row < len(self.leads) else None

    def row_of(self, lead_id: uuid.UUID) -> int:
        return next((i for i, lead in enumerate(self.leads) if lead.id == lead_id), -1)

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.leads)

    def _sla_text(self, lead: Any) -> str:
        now = self.now
        if lead.sla_due_at is None or now is None:
            return "responded" if lead.status == "working" else "—"
        if lead.breached:
            return f"{ago(lead.sla_due_at, now)} late"
        return f"due in {ago(lead.sla_due_at, now)}"

    def data(self, index: QModelIndex | QPersistentModelIndex,
             role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self.leads):
            return None
        lead, col, role = self.leads[index.row()], index.column(), int(role)
        if role == _ID_ROLE:
            return lead.id
        if role == int(Qt.ItemDataRole.DisplayRole):
            if col == self.COL_PRIORITY:
                return None  # the pill says it
            if col == self.COL_NAME:
                return lead.name
            if col == self.COL_COMPANY:
                return lead.company or "—"
            if col == self.COL_STATUS:
                return lead.status.replace("_", " ").capitalize()
            if col == self.COL_SLA:
                return self._sla_text(lead)
            if col == self.COL_CLAIM:
                if lead.held_until is None or self.now is None:
                    return ""
                return f"claimed · {ago(lead.held_until, self.now)} left"
            return None
        if role == int(Qt.ItemDataRole.DecorationRole) and col == self.COL_PRIORITY:
            if self._pills is None:
                self._pills = priority_pills()
            return self._pills.get(lead.priority)
        if role == int(Qt.ItemDataRole.ForegroundRole):
            if col == self.COL_SLA:
                return _RED if lead.breached else _MUTED
            if col in (self.COL_COMPANY, self.COL_CLAIM):
                return _MUTED
            return None
        if role == int(Qt.ItemDataRole.FontRole) and col == self.COL_SLA and lead.breached:
            font = QFont()
            font.setBold(True)
            return font
        if role == int(Qt.ItemDataRole.ToolTipRole):
            return f"P{lead.priority} · {lead.name}" + (
                f" ({lead.company})" if lead.company else "") + "\nDouble-click to open it."
        if role == int(Qt.ItemDataRole.TextAlignmentRole) and col == self.COL_PRIORITY:
            return _CENTER
        return None


# -- the dock -------------------------------------------------------------------------------


def _table(name: str, model: QAbstractTableModel, parent: QtWidgets.QWidget,
           multi: bool) -> QtWidgets.QTableView:
    view = QtWidgets.QTableView(parent)
    view.setObjectName(name)
    view.setModel(model)
    view.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
    view.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.ExtendedSelection if multi
                          else QtWidgets.QAbstractItemView.SelectionMode.SingleSelection)
    view.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
    view.setAlternatingRowColors(True)
    view.setShowGrid(False)
    view.setWordWrap(False)
    view.verticalHeader().setVisible(False)
    view.verticalHeader().setDefaultSectionSize(28)
    header = view.horizontalHeader()
    header.setHighlightSections(False)
    header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
    header.setStretchLastSection(True)
    return view


class TeamBoard(QtWidgets.QWidget):
    """The board's content: reps, the selected row's leads, reassignment."""

    #: The TeamBoard view (leadqueue.board) after each load.
    sig_loaded = Signal(object)
    #: (how many moved, target id or None) after a reassignment went through.
    sig_reassigned = Signal(int, object)

    def __init__(self, window: Any, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.window = window
        self.setObjectName("team_board")
        self.setStyleSheet(STYLE)
        self.board: Any = None
        self._loading = False
        self._again = False
        self._selected_rep: uuid.UUID | None = None
        self._selected_is_pool = False

        outer = QtWidgets.QVBoxLayout(self)
        outer.setContentsMargins(12, 8, 12, 8)
        outer.setSpacing(6)
        top = QtWidgets.QHBoxLayout()
        top.setSpacing(8)
        self.title = QtWidgets.QLabel("Team board", self)
        self.title.setObjectName("board_title")
        top.addWidget(self.title)
        self.chips: dict[str, QtWidgets.QLabel] = {}
        for key in ("reps", "active", "breaches", "pool", "held"):
            chip = QtWidgets.QLabel("", self)
            chip.setObjectName("board_chip")
            self.chips[key] = chip
            top.addWidget(chip)
        top.addStretch(1)
        self.summary = QtWidgets.QLabel("", self)
        self.summary.setObjectName("board_summary")
        top.addWidget(self.summary)
        self.refresh_button = QtWidgets.QPushButton("Refresh", self)
        self.refresh_button.setObjectName("board_refresh")
        self.refresh_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.refresh_button.clicked.connect(self.refresh)
        top.addWidget(self.refresh_button)
        self.hide_button = QtWidgets.QToolButton(self)
        self.hide_button.setObjectName("board_hide")
        self.hide_button.setText("✕")
        self.hide_button.setToolTip("Hide the team board (Ctrl+B shows it again)")
        self.hide_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        top.addWidget(self.hide_button)
        outer.addLayout(top)

        split = QtWidgets.QSplitter(Qt.Orientation.Horizontal, self)
        split.setObjectName("board_splitter")
        split.setChildrenCollapsible(False)
        self.reps_model = RepsModel(self)
        self.reps_view = _table("board_reps", self.reps_model, split, multi=False)
        for col, width in ((RepsModel.COL_NAME, 150), (RepsModel.COL_AVAIL, 190),
                           (RepsModel.COL_QUEUE, 58), (RepsModel.COL_BREACH, 112)):
            self.reps_view.setColumnWidth(col, width)
        self.reps_view.selectionModel().currentRowChanged.connect(self._on_rep_changed)
        right = QtWidgets.QWidget(split)
        right_layout = QtWidgets.QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.setSpacing(4)
        self.leads_title = QtWidgets.QLabel("", right)
        self.leads_title.setObjectName("board_leads_title")
        right_layout.addWidget(self.leads_title)
        self.leads_model = BoardLeadsModel(self)
        self.leads_view = _table("board_leads", self.leads_model, right, multi=True)
        self.leads_view.setIconSize(QSize(*PILL_SIZE))  # the queue's priority pills
        for col, width in ((BoardLeadsModel.COL_PRIORITY, 40), (BoardLeadsModel.COL_NAME, 150),
                           (BoardLeadsModel.COL_COMPANY, 140), (BoardLeadsModel.COL_STATUS, 72),
                           (BoardLeadsModel.COL_SLA, 150)):
            self.leads_view.setColumnWidth(col, width)
        self.leads_view.selectionModel().selectionChanged.connect(self._update_button)
        self.leads_view.doubleClicked.connect(self._open_lead)
        right_layout.addWidget(self.leads_view, 1)
        move = QtWidgets.QHBoxLayout()
        move.setSpacing(6)
        move.addWidget(QtWidgets.QLabel("Move to", right))
        self.target = QtWidgets.QComboBox(right)
        self.target.setObjectName("reassign_target")
        self.target.setMinimumContentsLength(22)
        move.addWidget(self.target)
        self.reason = QtWidgets.QLineEdit(right)
        self.reason.setObjectName("reassign_reason")
        self.reason.setPlaceholderText("Reason (kept in the audit log)")
        self.reason.returnPressed.connect(self.reassign_selected)
        move.addWidget(self.reason, 1)
        self.reassign_button = QtWidgets.QPushButton("Reassign", right)
        self.reassign_button.setObjectName("reassign_button")
        self.reassign_button.clicked.connect(self.reassign_selected)
        move.addWidget(self.reassign_button)
        right_layout.addLayout(move)
        split.addWidget(self.reps_view)
        split.addWidget(right)
        split.setStretchFactor(0, 5)
        split.setStretchFactor(1, 6)
        split.setSizes([650, 750])
        outer.addWidget(split, 1)
        self._update_button()

    # -- loading ---------------------------------------------------------------------------

    def refresh(self) -> None:
        """Read the board again (off the GUI thread); one load at a time."""
        ws = self.window.ws
        if ws is None or ws.me.role not in LEAD_ROLES:
            return
        if self._loading:
            self._again = True
            return
        self._loading = True

        def loaded(board: Any) -> None:
            self._loading = False
            if self.window.ws is not ws:
                self._again = True  # switched user meanwhile: read for the new one
            else:
                self.show_board(board)
            if self._again:
                self._again = False
                self.refresh()

        def failed(exc: BaseException) -> None:
            from leadqueue.shared.connect import failure_message

            self._loading = False
            self.summary.setText(f"Not loaded: {failure_message(exc) or exc}")

        self.window.executor.submit(ws.team_board, label="team board", on_done=loaded,
                                    on_error=failed)

    def show_board(self, board: Any) -> None:
        self.board = board
        scope = f"Team board — {board.team_name}" if board.scope == "team" and board.team_name \
            else "Team board — every team"
        self.title.setText(scope)
        active = sum(r.queue_size for r in board.reps)
        breaches = sum(r.breaches for r in board.reps) + board.pool_breaches
        held = sum(len(r.held) for r in board.reps)
        texts = {"reps": f"{len(board.reps)} reps", "active": f"{active:,} active leads",
                 "breaches": f"{breaches:,} SLA breaches now",
                 "pool": f"{board.pool_size:,} in the pool",
                 "held": f"{held:,} claimed from the pool"}
        for key, chip in self.chips.items():
            chip.setText(texts[key])
            alert = key == "breaches" and breaches > 0
            if chip.property("alert") != alert:
                chip.setProperty("alert", alert)
                chip.style().unpolish(chip)
                chip.style().polish(chip)
        self.summary.setText(f"as of {board.now.astimezone():%H:%M}")
        selected, pool = self._selected_rep, self._selected_is_pool
        self.reps_model.set_board(board)
        self._fill_targets(board)
        row = self.reps_model.row_of(None if pool else selected)
        if row < 0 or (selected is None and not pool):
            row = 0 if board.reps else self.reps_model.row_of(None)
        self.reps_view.selectionModel().setCurrentIndex(self.reps_model.index(row, 0), _ROWS)
        self._show_leads(row)
        self.sig_loaded.emit(board)

    def _fill_targets(self, board: Any) -> None:
        current = self.target.currentData()
        self.target.blockSignals(True)
        self.target.clear()
        self.target.addItem("Choose a rep or the pool…", None)
        for p in board.targets:
            role = "" if p.role == "rep" else " (team lead)"
            team = f" · {p.team_name}" if board.scope == "all" and p.team_name else ""
            self.target.addItem(f"{p.name}{role}{team}", p.id)
        self.target.insertSeparator(self.target.count())
        self.target.addItem("Back to the team pool", POOL_TARGET)
        index = self._target_index(current) if current is not None else -1
        self.target.setCurrentIndex(max(index, 0))
        self.target.blockSignals(False)

    def _on_rep_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if current.isValid():
            self._show_leads(current.row())

    def _show_leads(self, row: int) -> None:
        board = self.board
        if board is None or row < 0:
            self.leads_model.set_leads((), self.window.now())
            return
        pool = self.reps_model.is_pool(row)
        rep_id = self.reps_model.row_id(row)
        keep = set(self.selected_lead_ids())
        self._selected_rep, self._selected_is_pool = rep_id, pool
        if pool:
            leads = [lead for lead in board.leads if lead.owner_id is None]
            who = "the team pool" if board.scope == "team" else "the pools"
        else:
            leads = [lead for lead in board.leads if lead.owner_id == rep_id]
            who = self.reps_model.reps[row].name
        self.leads_model.set_leads(leads, board.now)
        self.leads_title.setText(f"Active leads of {who} ({len(leads):,})")
        selection = self.leads_view.selectionModel()
        for lead_id in keep:
            r = self.leads_model.row_of(lead_id)
            if r >= 0:
                selection.select(self.leads_model.index(r, 0), _ADD_ROWS)
        self._update_button()

    def selected_lead_ids(self) -> list[uuid.UUID]:
        rows = sorted({i.row() for i in self.leads_view.selectionModel().selectedRows()})
        return [self.leads_model.leads[r].id for r in rows if r < len(self.leads_model.leads)]

    def select_rep(self, rep_id: uuid.UUID | None) -> bool:
        """Select a rep's row (None: the pool row)."""
        row = self.reps_model.row_of(rep_id)
        if row < 0:
            return False
        self.reps_view.selectionModel().setCurrentIndex(self.reps_model.index(row, 0),
                                                        _ROWS)
        self._show_leads(row)
        return True

    def select_leads(self, lead_ids: list[uuid.UUID]) -> None:
        selection = self.leads_view.selectionModel()
        selection.clearSelection()
        for lead_id in lead_ids:
            r = self.leads_model.row_of(lead_id)
            if r >= 0:
                selection.select(self.leads_model.index(r, 0), _ADD_ROWS)

    def _target_index(self, data: Any) -> int:
        # By value: findData compares wrapped Python objects by identity.
        return next((i for i in range(self.target.count()) if self.target.itemData(i) == data),
                    -1)

    def set_target(self, person_id: uuid.UUID | None) -> bool:
        """Choose whom "Reassign" moves the leads to (None: the team pool)."""
        index = self._target_index(POOL_TARGET if person_id is None else person_id)
        if index >= 0:
            self.target.setCurrentIndex(index)
        return index >= 0

    def _update_button(self, *_args: Any) -> None:
        n = len(self.selected_lead_ids())
        self.reassign_button.setEnabled(n > 0)
        self.reassign_button.setText("Reassign" if n <= 1 else f"Reassign {n} leads")

    def _open_lead(self, index: QModelIndex) -> None:
        lead = self.leads_model.lead_at(index.row())
        if lead is None:
            return
        if not self.window.select_lead(lead.id):
            self.window.statusBar().showMessage(
                f"{lead.name} is not in your queue view (a pool lead, or filtered out).", 6000)

    # -- reassigning -------------------------------------------------------------------------

    def reassign_selected(self) -> None:
        ids = self.selected_lead_ids()
        if not ids:
            self.window.statusBar().showMessage("Select the leads to move first.", 5000)
            return
        data = self.target.currentData()
        to = None if data == POOL_TARGET else data
        if data is None:
            self.window.statusBar().showMessage("Choose whom to move them to.", 5000)
            return
        where = "the team pool" if to is None else self.target.currentText()
        reason = self.reason.text().strip() or None
        self.reassign_button.setEnabled(False)

        def done(moved: Any) -> None:
            count = int(moved or 0)
            self.reason.clear()
            self.window.statusBar().showMessage(
                f"Moved {count} lead{'s' if count != 1 else ''} to {where}.", 8000)
            self.sig_reassigned.emit(count, to)
            self.refresh()

        self.window._write("reassign", lambda ws: ws.reassign(ids, to, reason), then=done)
        self._update_button()


class TeamBoardDock(QtWidgets.QDockWidget):
    def __init__(self, window: Any) -> None:
        super().__init__("Team board", window)
        self.setObjectName("team_board_dock")
        self.setFeatures(QtWidgets.QDockWidget.DockWidgetFeature.DockWidgetClosable
                         | QtWidgets.QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QtWidgets.QDockWidget.DockWidgetFeature.DockWidgetFloatable)
        self.setAllowedAreas(Qt.DockWidgetArea.BottomDockWidgetArea
                             | Qt.DockWidgetArea.TopDockWidgetArea)
        self.board = TeamBoard(window, self)
        self.setWidget(self.board)
        # The board's own header is the title bar (its ✕ hides the dock).
        self.setTitleBarWidget(QtWidgets.QWidget(self))
        self.board.hide_button.clicked.connect(self.hide)
        self.visibilityChanged.connect(self._on_visibility)

    def _on_visibility(self, visible: bool) -> None:
        if visible:
            self.board.refresh()


# -- installing -------------------------------------------------------------------------------


def install_team_board(window: Any) -> TeamBoardDock:
    """Add the dock (shown for team leads and admins) and keep it current."""
    dock = TeamBoardDock(window)
    window.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, dock)
    window.team_board = dock
    dock.hide()

    def on_queue_loaded(*_args: Any) -> None:
        if dock.isVisible():
            dock.board.refresh()

    def on_person(*_args: Any) -> None:
        _follow_role(window, dock)

    dock.refresh_if_shown = on_queue_loaded  # type: ignore[attr-defined]
    window.sig_queue_loaded.connect(on_queue_loaded)
    window.sig_workspace_changed.connect(on_person)
    window.sig_ready.connect(on_person)
    _follow_role(window, dock)
    dock.visibilityChanged.connect(lambda visible: _remember(window, dock, visible))
    return dock


def _wanted(window: Any) -> bool:
    settings = getattr(window, "settings", None)
    if settings is None:
        return True
    value = settings.value("team_board/visible")
    return value is None or str(value).lower() in ("true", "1")


def _remember(window: Any, dock: TeamBoardDock, visible: bool) -> None:
    settings = getattr(window, "settings", None)
    if settings is not None and window.me.role in LEAD_ROLES and not getattr(
            window, "_closing", False) and window.isVisible():
        settings.setValue("team_board/visible", bool(visible))


def _follow_role(window: Any, dock: TeamBoardDock) -> None:
    """Team leads and admins see the board (unless they closed it); reps never."""
    lead = window.me.role in LEAD_ROLES
    action = window.actions_by_name.get("team_board")
    if action is not None:
        action.setEnabled(True)
    if not lead:
        dock.hide()
        return
    if _wanted(window):
        dock.show()
        dock.board.refresh()


def toggle_team_board(window: Any) -> None:
    """View > Team board (Ctrl+B)."""
    dock = getattr(window, "team_board", None)
    if dock is None:
        return
    if window.me.role not in LEAD_ROLES:
        window.statusBar().showMessage("The team board is for team leads and admins.", 5000)
        return
    if dock.isVisible():
        dock.hide()
    else:
        dock.show()
        dock.raise_()
