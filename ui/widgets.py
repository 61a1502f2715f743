"""Small reusable widgets and delegates of the main window."""

from __future__ import annotations

from html import escape
from typing import ClassVar

from ui.qt import QColor, QModelIndex, QPainter, Qt, QtCore, QtWidgets
from ui.queue_model import PRIORITY_COLORS, PRIORITY_ROLE


class PriorityBadgeDelegate(QtWidgets.QStyledItemDelegate):
    """Paints the priority column as a coloured pill (P1 red … P4 grey)."""

    _colors: ClassVar[dict[int, QColor]] = {p: QColor(c) for p, c in PRIORITY_COLORS.items()}

    def paint(self, painter: QPainter, option: QtWidgets.QStyleOptionViewItem,
              index: QModelIndex) -> None:
        # Selection/alternate background first, then the pill on top.
        opt = QtWidgets.QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        opt.text = ""
        style = opt.widget.style() if opt.widget else QtWidgets.QApplication.style()
        style.drawControl(QtWidgets.QStyle.ControlElement.CE_ItemViewItem, opt, painter,
                          opt.widget)
        priority = index.data(PRIORITY_ROLE)
        if priority is None:
            return
        rect = option.rect
        h = min(18, rect.height() - 8)
        w = 30
        pill = QtCore.QRectF(rect.x() + (rect.width() - w) / 2,
                             rect.y() + (rect.height() - h) / 2, w, h)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(self._colors.get(priority, self._colors[4]))
        painter.drawRoundedRect(pill, h / 2, h / 2)
        painter.setPen(QColor("white"))
        font = painter.font()
        font.setBold(True)
        font.setPointSizeF(max(font.pointSizeF() - 1, 7.0))
        painter.setFont(font)
        painter.drawText(pill, Qt.AlignmentFlag.AlignCenter, f"P{priority}")
        painter.restore()


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
