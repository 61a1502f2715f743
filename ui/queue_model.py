"""The queue list's item model: cached queue rows, Python-side filtering and
the live countdown column.

The model holds the rows the core returned (callable, later and upcoming, in
that order) and a list of the row numbers that pass the current filter.
Filtering is done in Python followed by a model reset, which costs tens of
milliseconds at a million rows where ``QSortFilterProxyModel`` costs seconds.
A tick (one timer for the whole window) only signals the countdown column;
the local-time column is signalled when the minute changes.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from leadqueue.views import QueueRow
from ui.qt import QAbstractTableModel, QColor, QModelIndex, QPersistentModelIndex, Qt

COLUMNS = ("#", "P", "Lead", "Company", "Tier", "Due", "Local time", "Owner")
COL_RANK, COL_PRIORITY, COL_NAME, COL_COMPANY, COL_TIER, COL_DUE, COL_LOCAL, COL_OWNER = range(8)

SECTION_CALLABLE, SECTION_LATER, SECTION_UPCOMING = "callable", "later", "upcoming"
TIER_LABELS = {1: "Callback", 2: "New", 3: "Due"}

#: Priority badge colours (P1 red … P4 grey), shared with the preview pane.
PRIORITY_COLORS = {1: "#d32f2f", 2: "#ef6c00", 3: "#1565c0", 4: "#757575"}

_OVERDUE = QColor("#c62828")
_SOON = QColor("#ef6c00")
_MUTED = QColor("#8a8f98")
_ROW_ID_ROLE = Qt.ItemDataRole.UserRole + 1
_PRIORITY_ROLE = Qt.ItemDataRole.UserRole + 2


@dataclass(frozen=True)
class QueueFilter:
    """What the filter bar asks for; empty fields match everything."""

    section: str | None = None   # callable / later / upcoming
    tier: int | None = None
    priority: int | None = None
    source: str | None = None
    text: str = ""

    @property
    def is_empty(self) -> bool:
        return self == QueueFilter()


def format_countdown(due: datetime, now: datetime) -> str:
    """``in 4m 05s`` / ``12m 00s late``: seconds only while under an hour."""
    seconds = int((due - now).total_seconds())
    late = seconds < 0
    s = abs(seconds)
    if s < 3600:
        text = f"{s // 60}m {s % 60:02d}s"
    elif s < 86400:
        text = f"{s // 3600}h {(s % 3600) // 60:02d}m"
    else:
        text = f"{s // 86400}d {(s % 86400) // 3600}h"
    return f"{text} late" if late else f"in {text}"


_zones: dict[str, ZoneInfo | None] = {}


def zone(name: str | None) -> ZoneInfo | None:
    """The lead's zone, cached; None when unknown (the row is flagged)."""
    if not name:
        return None
    try:
        return _zones[name]
    except KeyError:
        try:
            z: ZoneInfo | None = ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            z = None
        _zones[name] = z
        return z


def due_at(row: QueueRow) -> datetime | None:
    """The moment the countdown counts to: SLA deadline first, else the step."""
    return row.sla_due_at or row.next_step_at


class QueueModel(QAbstractTableModel):
    """Rows of one rep's (or one team's) queue, filtered in Python."""

    def __init__(self, now: datetime | None = None, parent=None) -> None:  # type: ignore[no-untyped-def]
        super().__init__(parent)
        self._rows: list[QueueRow] = []
        self._bounds = (0, 0)          # end of callable, end of later
        self._owners: dict[uuid.UUID, str] = {}
        self._visible: list[int] | None = None  # None: every row, in order
        self._haystack: list[str] | None = None  # built on first text search
        self._filter = QueueFilter()
        self._now = now or datetime.now(UTC)
        self._minute = self._now.replace(second=0, microsecond=0)
        self.show_owner = False

    # -- feeding ---------------------------------------------------------------

    def set_queue(self, callable_: Sequence[QueueRow], later: Sequence[QueueRow] = (),
                  upcoming: Sequence[QueueRow] = (), *, now: datetime | None = None,
                  owners: dict[uuid.UUID, str] | None = None) -> None:
        """Replace every row (a "what changed" notice said the queue moved)."""
        self.beginResetModel()
        self._rows = [*callable_, *later, *upcoming]
        self._bounds = (len(callable_), len(callable_) + len(later))
        self._owners = dict(owners or {})
        self._haystack = None
        if now is not None:
            self._now = now
            self._minute = now.replace(second=0, microsecond=0)
        self._visible = self._apply(self._filter)
        self.endResetModel()

    def set_filter(self, flt: QueueFilter) -> None:
        if flt == self._filter:
            return
        self.beginResetModel()
        self._filter = flt
        self._visible = self._apply(flt)
        self.endResetModel()

    @property
    def filter(self) -> QueueFilter:
        return self._filter

    def tick(self, now: datetime) -> None:
        """Move the countdowns to ``now``: one dataChanged for one column."""
        self._now = now
        n = self.rowCount()
        if not n:
            return
        self.dataChanged.emit(self.index(0, COL_DUE), self.index(n - 1, COL_DUE),
                              [Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ForegroundRole])
        minute = now.replace(second=0, microsecond=0)
        if minute != self._minute:
            self._minute = minute
            self.dataChanged.emit(self.index(0, COL_LOCAL), self.index(n - 1, COL_LOCAL),
                                  [Qt.ItemDataRole.DisplayRole])

    # -- filtering ---------------------------------------------------------------

    def _section_of(self, i: int) -> str:
        if i < self._bounds[0]:
            return SECTION_CALLABLE
        if i < self._bounds[1]:
            return SECTION_LATER
        return SECTION_UPCOMING

    def _apply(self, flt: QueueFilter) -> list[int] | None:
        if flt.is_empty:
            return None
        rows = self._rows
        candidates: range | list[int] = range(len(rows))
        if flt.section is not None:
            lo, hi = {SECTION_CALLABLE: (0, self._bounds[0]),
                      SECTION_LATER: (self._bounds[0], self._bounds[1]),
                      SECTION_UPCOMING: (self._bounds[1], len(rows))}[flt.section]
            candidates = range(lo, hi)
        if flt.tier is not None:
            t = flt.tier
            candidates = [i for i in candidates if rows[i].tier == t]
        if flt.priority is not None:
            p = flt.priority
            candidates = [i for i in candidates if rows[i].priority == p]
        if flt.source is not None:
            src = flt.source
            candidates = [i for i in candidates if rows[i].source == src]
        needle = flt.text.strip().lower()
        if needle:
            hay = self._haystack_rows()
            digits = "".join(ch for ch in needle if ch.isdigit())
            # A phone typed with spaces or dashes still matches the E.164 form.
            if digits and len(digits) >= 3 and len(digits) * 2 >= len(needle.replace(" ", "")):
                candidates = [i for i in candidates if needle in hay[i] or digits in hay[i]]
            else:
                candidates = [i for i in candidates if needle in hay[i]]
        return list(candidates)

    def _haystack_rows(self) -> list[str]:
        if self._haystack is None:
            self._haystack = [
                f"{r.name}\x1f{r.company or ''}\x1f{r.email or ''}\x1f{r.phone or ''}".lower()
                for r in self._rows
            ]
        return self._haystack

    def sources(self) -> list[str]:
        return sorted({r.source for r in self._rows if r.source})

    # -- lookup ------------------------------------------------------------------

    def _source_row(self, row: int) -> int:
        return row if self._visible is None else self._visible[row]

    def row_at(self, row: int) -> QueueRow | None:
        if 0 <= row < self.rowCount():
            return self._rows[self._source_row(row)]
        return None

    def section_at(self, row: int) -> str | None:
        if 0 <= row < self.rowCount():
            return self._section_of(self._source_row(row))
        return None

    def row_of(self, lead_id: uuid.UUID) -> int:
        """The visible row showing ``lead_id``, or -1."""
        for view_row in range(self.rowCount()):
            if self._rows[self._source_row(view_row)].id == lead_id:
                return view_row
        return -1

    def first_callable_row(self) -> int:
        # Rows stay in section order, so the first visible row is callable or none is.
        if self.rowCount() and self._source_row(0) < self._bounds[0]:
            return 0
        return -1

    def counts(self) -> tuple[int, int, int]:
        n = len(self._rows)
        return self._bounds[0], self._bounds[1] - self._bounds[0], n - self._bounds[1]

    @property
    def total(self) -> int:
        return len(self._rows)

    # -- QAbstractTableModel ------------------------------------------------------

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        if parent.isValid():
            return 0
        return len(self._rows) if self._visible is None else len(self._visible)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        if parent.isValid():
            return 0
        return len(COLUMNS) if self.show_owner else len(COLUMNS) - 1

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole):  # type: ignore[no-untyped-def]
        if orientation == Qt.Orientation.Horizontal:
            if role == Qt.ItemDataRole.DisplayRole and 0 <= section < self.columnCount():
                return COLUMNS[section]
            if role == Qt.ItemDataRole.TextAlignmentRole and section in (COL_RANK, COL_DUE):
                return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    def data(self, index: QModelIndex | QPersistentModelIndex,
             role: int = Qt.ItemDataRole.DisplayRole):  # type: ignore[no-untyped-def]
        if not index.isValid():
            return None
        row_no = index.row()
        if row_no >= self.rowCount():
            return None
        i = row_no if self._visible is None else self._visible[row_no]
        r = self._rows[i]
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(r, i, row_no, col)
        if role == Qt.ItemDataRole.ForegroundRole:
            if col == COL_DUE:
                due = due_at(r)
                if due is None or i >= self._bounds[0]:
                    return _MUTED
                left = (due - self._now).total_seconds()
                return _OVERDUE if left < 0 else _SOON if left < 300 else None
            if col in (COL_TIER, COL_LOCAL, COL_RANK) or i >= self._bounds[0]:
                return _MUTED
            return None
        if role == Qt.ItemDataRole.TextAlignmentRole:
            if col in (COL_RANK, COL_DUE):
                return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            return None
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(r)
        if role == _PRIORITY_ROLE:
            return r.priority
        if role == _ROW_ID_ROLE:
            return str(r.id)
        return None

    def _display(self, r: QueueRow, i: int, row_no: int, col: int) -> str | None:
        if col == COL_NAME:
            return f"⚠ {r.name}" if r.data_issues else r.name
        if col == COL_COMPANY:
            return r.company or "—"
        if col == COL_PRIORITY:
            return f"P{r.priority}"
        if col == COL_DUE:
            if i >= self._bounds[0] and i < self._bounds[1]:
                opens = getattr(r, "window_opens_at", None)
                return f"opens {format_countdown(opens, self._now)[3:]}" if opens else "later"
            due = due_at(r)
            return format_countdown(due, self._now) if due is not None else "—"
        if col == COL_TIER:
            if i < self._bounds[0]:
                return TIER_LABELS.get(r.tier or 0, "Due")
            return "Later" if i < self._bounds[1] else "Upcoming"
        if col == COL_RANK:
            return str(row_no + 1)
        if col == COL_LOCAL:
            z = zone(r.timezone)
            return self._now.astimezone(z).strftime("%a %H:%M") if z else "?"
        if col == COL_OWNER:
            return self._owners.get(r.id, "")
        return None

    def _tooltip(self, r: QueueRow) -> str | None:
        lines = list(r.reasons)
        if r.data_issues:
            lines.append("Data issues: " + ", ".join(i.replace("_", " ") for i in r.data_issues))
        return "\n".join(lines) or None


PRIORITY_ROLE = _PRIORITY_ROLE
ROW_ID_ROLE = _ROW_ID_ROLE
