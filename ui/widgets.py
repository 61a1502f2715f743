"""Small reusable widgets of the main window, and the queue view's set-up."""

from __future__ import annotations

from html import escape

from ui.qt import QSize, Qt, QtWidgets
from ui.queue_model import (
    COL_COMPANY,
    COL_DUE,
    COL_LOCAL,
    COL_NAME,
    COL_PRIORITY,
    COL_RANK,
    COL_TIER,
    PILL_SIZE,
    QueueModel,
)

#: Fixed widths of the queue's columns (the last one stretches).
QUEUE_COLUMN_WIDTHS = ((COL_RANK, 36), (COL_PRIORITY, 42), (COL_NAME, 156), (COL_COMPANY, 156),
                       (COL_TIER, 92), (COL_DUE, 112), (COL_LOCAL, 84))
QUEUE_ROW_HEIGHT = 30


def configure_queue_view(view: QtWidgets.QTableView, model: QueueModel) -> None:
    """The queue list as the window shows it (and as the view benchmark measures it).

    Fixed row heights and column widths: sizing to contents would read every
    one of 100k rows. No sorting: the core's order is the point.
    """
    view.setObjectName("queue_view")
    view.setModel(model)
    view.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
    view.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.SingleSelection)
    view.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
    view.setAlternatingRowColors(True)
    view.setShowGrid(False)
    view.setWordWrap(False)
    view.setSortingEnabled(False)
    view.setCornerButtonEnabled(False)
    vertical = view.verticalHeader()
    vertical.setVisible(False)
    vertical.setSectionResizeMode(QtWidgets.QHeaderView.ResizeMode.Fixed)
    vertical.setDefaultSectionSize(QUEUE_ROW_HEIGHT)
    view.setHorizontalScrollMode(QtWidgets.QAbstractItemView.ScrollMode.ScrollPerPixel)
    header = view.horizontalHeader()
    header.setHighlightSections(False)
    header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
    for col, width in QUEUE_COLUMN_WIDTHS:
        view.setColumnWidth(col, width)
    header.setStretchLastSection(True)
    view.setIconSize(QSize(*PILL_SIZE))  # the priority pills (painted once, drawn in C++)

    def spans() -> None:  # section headers span the row
        view.clearSpans()
        for row in model.header_rows():
            view.setSpan(row, 0, 1, model.columnCount())

    model.modelReset.connect(spans)
    spans()


def format_elapsed(seconds: int) -> str:
    """``4:07`` / ``1:02:03``: the call timer."""
    seconds = max(0, int(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class _Strip(QtWidgets.QFrame):
    """A one-line coloured strip: a message and a few buttons (hidden when idle)."""

    def __init__(self, name: str, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(name)
        layout = QtWidgets.QHBoxLayout(self)
        layout.setContentsMargins(12, 6, 8, 6)
        layout.setSpacing(8)
        self.label = QtWidgets.QLabel(self)
        self.label.setObjectName(f"{name}_label")
        layout.addWidget(self.label, 1)
        self._layout = layout
        self.hide()

    def button(self, text: str, name: str) -> QtWidgets.QPushButton:
        button = QtWidgets.QPushButton(text, self)
        button.setObjectName(name)
        button.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # keys stay with the queue
        self._layout.addWidget(button)
        return button


class CallBar(_Strip):
    """"On call with … 2:41" with a Hang up button; the window's ticker moves it."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__("call_bar", parent)
        self.hang_up = self.button("Hang up  (H)", "hang_up_button")
        self.lead_name = ""

    def show_call(self, lead_name: str, elapsed_s: int) -> None:
        self.lead_name = lead_name
        self.update_elapsed(elapsed_s)
        self.show()

    def update_elapsed(self, elapsed_s: int) -> None:
        self.label.setText(f"●  On call with <b>{escape(self.lead_name)}</b> — "
                           f"{format_elapsed(elapsed_s)}")


class DialCountdown(_Strip):
    """Progressive dialing: "Calling … in 4 s" with Call now and Cancel."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__("dial_countdown", parent)
        self.call_now = self.button("Call now", "dial_now_button")
        self.cancel = self.button("Cancel  (Esc)", "dial_cancel_button")
        self.lead_name = ""

    def show_countdown(self, lead_name: str, seconds_left: int) -> None:
        self.lead_name = lead_name
        self.update_left(seconds_left)
        self.show()

    def update_left(self, seconds_left: int) -> None:
        self.label.setText(f"Progressive dialing: calling <b>{escape(self.lead_name)}</b> in "
                           f"{max(0, seconds_left)} s")
