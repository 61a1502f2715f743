"""The one place ``ui/`` imports Qt from.

Every other module of the UI writes ``from ui.qt import QtWidgets, Signal, …``
so a binding change, a version check or a workaround happens here once.
"""

from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets
from PySide6.QtCore import (
    QAbstractTableModel,
    QByteArray,
    QEvent,
    QEventLoop,
    QItemSelectionModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QRect,
    QSettings,
    QSize,
    Qt,
    QTimer,
    QUrl,
    Signal,
    Slot,
)
from PySide6.QtGui import (
    QAction,
    QBrush,
    QColor,
    QDesktopServices,
    QFont,
    QFontMetrics,
    QGuiApplication,
    QIcon,
    QKeySequence,
    QPainter,
    QPalette,
    QPixmap,
    QShortcut,
)
from PySide6.QtWidgets import QApplication
from shiboken6 import isValid as is_alive  # False once the C++ object is deleted

__all__ = [
    "QAbstractTableModel",
    "QAction",
    "QApplication",
    "QBrush",
    "QByteArray",
    "QColor",
    "QDesktopServices",
    "QEvent",
    "QEventLoop",
    "QFont",
    "QFontMetrics",
    "QGuiApplication",
    "QIcon",
    "QItemSelectionModel",
    "QKeySequence",
    "QModelIndex",
    "QObject",
    "QPainter",
    "QPalette",
    "QPersistentModelIndex",
    "QPixmap",
    "QRect",
    "QSettings",
    "QShortcut",
    "QSize",
    "QTimer",
    "QUrl",
    "Qt",
    "QtCore",
    "QtGui",
    "QtWidgets",
    "Signal",
    "Slot",
    "is_alive",
]
