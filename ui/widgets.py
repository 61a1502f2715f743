"""Small reusable widgets and delegates of the main window."""

from __future__ import annotations

from ui.qt import QColor, QModelIndex, QPainter, Qt, QtCore, QtWidgets
from ui.queue_model import PRIORITY_COLORS, PRIORITY_ROLE


class PriorityBadgeDelegate(QtWidgets.QStyledItemDelegate):
    """Paints the priority column as a coloured pill (P1 red … P4 grey)."""

    _colors = {p: QColor(c) for p, c in PRIORITY_COLORS.items()}

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
