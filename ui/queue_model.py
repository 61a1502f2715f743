"""The queue list's item model: cached queue rows in three sections, filtered
in the core, and the live countdown column.

The model holds the rows the core returned, in the core's order: *callable*
(work now, ranked), *later* (due, but the lead's calling window is closed)
and *upcoming* (nothing due yet, or snoozed). Each non-empty section starts
with a header row (not selectable, spanned by the view) so the rep sees where
"call now" ends.

Filtering goes through :func:`leadqueue.queue.filter_rows` (one pure function
in the core, shared with the CLI) followed by a model reset: tens of
milliseconds at a million rows where ``QSortFilterProxyModel`` costs seconds
(DESIGN.md §6). A tick (one timer for the whole window) only signals the
countdown column; the local-time column is signalled when the minute changes.

``data`` is the hot path of painting 100k rows: it answers the roles it knows
and returns None for the rest before doing any work.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from leadqueue.views import QueueRow
from ui.qt import (
    QAbstractTableModel,
    QColor,
    QFont,
    QIcon,
    QModelIndex,
    QPainter,
    QPersistentModelIndex,
    QPixmap,
    Qt,
    QtCore,
)

COLUMNS = ("#", "P", "Lead", "Company", "Tier", "Due", "Local time", "Owner")
COL_RANK, COL_PRIORITY, COL_NAME, COL_COMPANY, COL_TIER, COL_DUE, COL_LOCAL, COL_OWNER = range(8)

SECTION_CALLABLE, SECTION_LATER, SECTION_UPCOMING = "callable", "later", "upcoming"
SECTIONS = (SECTION_CALLABLE, SECTION_LATER, SECTION_UPCOMING)
SECTION_TITLES = {
    SECTION_CALLABLE: "Call now",
    SECTION_LATER: "Later — calling window closed",
    SECTION_UPCOMING: "Upcoming",
}
TIER_LABELS = {1: "Callback", 2: "New lead", 3: "Step due"}

#: Priority badge colours (P1 red … P4 grey), shared with the preview pane.
PRIORITY_COLORS = {1: "#c62828", 2: "#e8710a", 3: "#1a73e8", 4: "#7b8190"}

_OVERDUE = QColor("#c62828")
_SOON = QColor("#d35400")
_MUTED = QColor("#7b8190")
_HEADER_FG = QColor("#4a5160")
_HEADER_BG = QColor("#eef1f5")
_FLAG = QColor("#b26a00")

# Roles as plain ints: ``data`` runs for every role of every painted cell,
# and comparing ints is the cheapest test Python has.
_DISPLAY = int(Qt.ItemDataRole.DisplayRole.value)
_DECORATION = int(Qt.ItemDataRole.DecorationRole.value)
_FOREGROUND = int(Qt.ItemDataRole.ForegroundRole.value)
_BACKGROUND = int(Qt.ItemDataRole.BackgroundRole.value)
_ALIGN = int(Qt.ItemDataRole.TextAlignmentRole.value)
_TOOLTIP = int(Qt.ItemDataRole.ToolTipRole.value)
_FONT = int(Qt.ItemDataRole.FontRole.value)
_ROW_ID_ROLE = int(Qt.ItemDataRole.UserRole.value) + 1
_PRIORITY_ROLE = int(Qt.ItemDataRole.UserRole.value) + 2
_HANDLED_ROLES = frozenset({_DISPLAY, _DECORATION, _FOREGROUND, _BACKGROUND, _ALIGN,
                            _TOOLTIP, _FONT, _ROW_ID_ROLE, _PRIORITY_ROLE})
_RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
_CENTER = int(Qt.AlignmentFlag.AlignCenter)
_SELECTABLE = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
_NO_FLAGS = Qt.ItemFlag.NoItemFlags
#: Size of the priority pill drawn in the "P" column.
PILL_SIZE = (30, 18)
_CACHE_LIMIT = 4096


def priority_pills(dpr: float = 1.0) -> dict[int, QIcon]:
    """The P1…P4 pills as icons, painted once: the view draws them in C++
    (a Python delegate would paint every visible row on every scroll)."""
    w, h = PILL_SIZE
    pills = {}
    for priority, color in PRIORITY_COLORS.items():
        pixmap = QPixmap(int(w * dpr), int(h * dpr))
        pixmap.setDevicePixelRatio(dpr)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(color))
        rect = QtCore.QRectF(0, 0, w, h)
        painter.drawRoundedRect(rect, h / 2, h / 2)
        painter.setPen(QColor("white"))
        font = painter.font()
        font.setBold(True)
        font.setPixelSize(11)
        painter.setFont(font)
        painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, f"P{priority}")
        painter.end()
        icon = QIcon(pixmap)
        icon.addPixmap(pixmap, QIcon.Mode.Selected)  # not tinted on the selected row
        pills[priority] = icon
    return pills


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
        return self.section is None and self.tier is None and self.priority is None \
            and self.source is None and not self.text.strip()


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
        except (ZoneInfoNotFoundError, ValueError, OSError):
            z = None
        _zones[name] = z
        return z


def due_at(row: QueueRow) -> datetime | None:
    """The moment the countdown counts to: SLA deadline first, else the step."""
    return row.sla_due_at or row.next_step_at


class _Block(NamedTuple):
    """One section as laid out in the view."""

    section: str
    first: int                  # view row of the header (or of the first lead)
    header: bool
    items: Sequence[int]        # indices into the model's rows (range or list)
    end: int                    # one past its last view row


class QueueModel(QAbstractTableModel):
    """Rows of one rep's (or one team's) queue, filtered in the core."""

    def __init__(self, now: datetime | None = None, parent=None) -> None:  # type: ignore[no-untyped-def]
        super().__init__(parent)
        self._rows: list[QueueRow] = []
        self._bounds = (0, 0)          # end of callable, end of later
        self._owners: dict[uuid.UUID, str] = {}
        self._blocks: list[_Block] = []
        self._count = 0
        self._index_of: dict[uuid.UUID, int] | None = None  # built on first filter
        self._filter = QueueFilter()
        self._now = now or datetime.now(UTC)
        self._minute = self._now.replace(second=0, microsecond=0)
        self._header_font = QFont()
        self._header_font.setBold(True)
        self._header_font.setPointSizeF(max(self._header_font.pointSizeF() - 1, 7.0))
        self._pills: dict[int, QIcon] | None = None
        # view row -> (block, row index or -1 for a header); painting asks
        # about the same row once per column and role.
        self._cache: dict[int, tuple[_Block, int]] = {}
        self._header_set: frozenset[int] = frozenset()
        self.show_owner = False
        self.show_sections = True
        #: {lead id: SlaClock} fed by ui/notifications.py: countdown colours by ladder stage.
        self.sla_clocks: dict[uuid.UUID, Any] = {}

    # -- feeding ---------------------------------------------------------------

    def set_queue(self, callable_: Sequence[QueueRow], later: Sequence[QueueRow] = (),
                  upcoming: Sequence[QueueRow] = (), *, now: datetime | None = None,
                  owners: dict[uuid.UUID, str] | None = None,
                  sections: bool | None = None) -> None:
        """Replace every row (a "what changed" notice said the queue moved)."""
        self.beginResetModel()
        self._rows = [*callable_, *later, *upcoming]
        self._bounds = (len(callable_), len(callable_) + len(later))
        self._owners = dict(owners or {})
        self._index_of = None
        if sections is not None:
            self.show_sections = sections
        if now is not None:
            self._now = now
            self._minute = now.replace(second=0, microsecond=0)
        self._layout(self._filter)
        self.endResetModel()

    def set_filter(self, flt: QueueFilter) -> None:
        if flt == self._filter:
            return
        self.beginResetModel()
        self._filter = flt
        self._layout(flt)
        self.endResetModel()

    @property
    def filter(self) -> QueueFilter:
        return self._filter

    def tick(self, now: datetime) -> None:
        """Move the countdowns to ``now``: one dataChanged for one column."""
        self._now = now
        n = self._count
        if not n:
            return
        self.dataChanged.emit(self.index(0, COL_DUE), self.index(n - 1, COL_DUE),
                              [_DISPLAY, _FOREGROUND])
        minute = now.replace(second=0, microsecond=0)
        if minute != self._minute:
            self._minute = minute
            self.dataChanged.emit(self.index(0, COL_LOCAL), self.index(n - 1, COL_LOCAL),
                                  [_DISPLAY])

    @property
    def now(self) -> datetime:
        return self._now

    # -- filtering and layout -------------------------------------------------------

    def _section_range(self, section: str) -> range:
        c, lt = self._bounds
        return {SECTION_CALLABLE: range(0, c), SECTION_LATER: range(c, lt),
                SECTION_UPCOMING: range(lt, len(self._rows))}[section]

    def _layout(self, flt: QueueFilter) -> None:
        if flt.is_empty:
            parts = [(s, self._section_range(s)) for s in SECTIONS]
        else:
            parts = [(s, items) for s, items in self._filtered(flt)]
        blocks: list[_Block] = []
        at = 0
        headers = self.show_sections
        for section, items in parts:
            if not items:
                continue
            end = at + headers + len(items)
            blocks.append(_Block(section, at, headers, items, end))
            at = end
        self._blocks = blocks
        self._count = at
        self._cache = {}
        self._header_set = frozenset(b.first for b in blocks if b.header)

    def _filtered(self, flt: QueueFilter) -> list[tuple[str, Sequence[int]]]:
        from leadqueue.queue import filter_rows

        if self._index_of is None:
            self._index_of = {r.id: i for i, r in enumerate(self._rows)}
        index_of = self._index_of
        wanted = [flt.section] if flt.section is not None else list(SECTIONS)
        out: list[tuple[str, Sequence[int]]] = []
        for section in wanted:
            span = self._section_range(section)
            if not span:
                continue
            rows = filter_rows(
                self._rows[span.start:span.stop],
                tiers=None if flt.tier is None else {flt.tier},
                priorities=None if flt.priority is None else {flt.priority},
                sources=None if flt.source is None else {flt.source},
                text=flt.text.strip() or None,
            )
            out.append((section, [index_of[r.id] for r in rows]))
        return out

    def sources(self) -> list[str]:
        return sorted({r.source for r in self._rows if r.source})

    # -- lookup ------------------------------------------------------------------

    def _locate(self, row: int) -> tuple[_Block, int] | None:
        """(block, position in block); position -1 is the block's header."""
        for block in self._blocks:
            if row < block.end:
                return block, row - block.first - block.header
        return None

    def _source_index(self, row: int) -> int:
        """Index into the rows for a view row; -1 for a header or out of range."""
        if not 0 <= row < self._count:
            return -1
        found = self._locate(row)
        if found is None or found[1] < 0:
            return -1
        block, pos = found
        return block.items[pos]

    def row_at(self, row: int) -> QueueRow | None:
        i = self._source_index(row)
        return self._rows[i] if i >= 0 else None

    def is_header(self, row: int) -> bool:
        return row in self._header_set

    def header_rows(self) -> list[int]:
        return [b.first for b in self._blocks if b.header]

    def section_at(self, row: int) -> str | None:
        found = self._locate(row) if 0 <= row < self._count else None
        return found[0].section if found is not None else None

    def row_of(self, lead_id: uuid.UUID) -> int:
        """The view row showing ``lead_id``, or -1."""
        rows = self._rows
        for block in self._blocks:
            for pos, i in enumerate(block.items):
                if rows[i].id == lead_id:
                    return block.first + block.header + pos
        return -1

    def first_lead_row(self) -> int:
        """The first selectable row (the top of the queue), or -1."""
        for block in self._blocks:
            if block.items:
                return block.first + block.header
        return -1

    def first_callable_row(self, excluding: uuid.UUID | None = None) -> int:
        """The best lead to work now (optionally not ``excluding``), or -1."""
        for block in self._blocks:
            if block.section != SECTION_CALLABLE:
                continue
            for pos, i in enumerate(block.items):
                if self._rows[i].id != excluding:
                    return block.first + block.header + pos
        return -1

    def next_lead_row(self, current: uuid.UUID | None) -> int:
        """The callable lead after ``current``; else the first callable one
        that is not ``current``; else -1."""
        here = self.row_of(current) if current is not None else -1
        if here >= 0 and self.section_at(here) == SECTION_CALLABLE:
            nxt = here + 1
            if nxt < self._count and self.section_at(nxt) == SECTION_CALLABLE:
                return nxt
        return self.first_callable_row(excluding=current)

    def step_row(self, row: int, delta: int) -> int:
        """The next selectable row from ``row`` going ``delta`` (±1), or -1."""
        r = row + delta
        while 0 <= r < self._count:
            if not self.is_header(r):
                return r
            r += delta
        return -1

    def counts(self) -> tuple[int, int, int]:
        n = len(self._rows)
        return self._bounds[0], self._bounds[1] - self._bounds[0], n - self._bounds[1]

    def shown_leads(self) -> int:
        return sum(len(b.items) for b in self._blocks)

    @property
    def total(self) -> int:
        return len(self._rows)

    # -- QAbstractTableModel ------------------------------------------------------

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        if parent.isValid():
            return 0
        return self._count

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        if parent.isValid():
            return 0
        return len(COLUMNS) if self.show_owner else len(COLUMNS) - 1

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole):  # type: ignore[no-untyped-def]
        if orientation == Qt.Orientation.Horizontal:
            if role == _DISPLAY and 0 <= section < self.columnCount():
                return COLUMNS[section]
            if role == _ALIGN and section in (COL_RANK, COL_DUE):
                return _RIGHT
            if role == _ALIGN and section == COL_PRIORITY:
                return _CENTER
        return None

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        row = index.row()
        if row < 0 or row in self._header_set or not index.isValid():
            return _NO_FLAGS
        return _SELECTABLE

    def _entry(self, row_no: int) -> tuple[_Block, int] | None:
        """(block, index into the rows or -1 for its header), cached per view row."""
        try:
            return self._cache[row_no]
        except KeyError:
            pass
        if not 0 <= row_no < self._count:
            return None
        for block in self._blocks:
            if row_no < block.end:
                pos = row_no - block.first - block.header
                entry = (block, block.items[pos] if pos >= 0 else -1)
                break
        else:  # pragma: no cover - the blocks cover every row
            return None
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[row_no] = entry
        return entry

    def data(self, index: QModelIndex | QPersistentModelIndex,
             role: int = Qt.ItemDataRole.DisplayRole):  # type: ignore[no-untyped-def]
        if role not in _HANDLED_ROLES:
            return None
        entry = self._entry(index.row())
        if entry is None or not index.isValid():
            return None
        block, i = entry
        col = index.column()
        if i < 0:
            return self._header_data(block, col, role)
        r = self._rows[i]
        section = block.section
        if role == _DISPLAY:
            return self._display(r, i, section, col) if col != COL_PRIORITY else None
        if role == _DECORATION:
            if col != COL_PRIORITY:
                return None
            if self._pills is None:
                self._pills = priority_pills()
            return self._pills.get(r.priority, self._pills[4])
        if role == _FONT or role == _BACKGROUND:
            return None
        if role == _FOREGROUND:
            if col == COL_DUE:
                if section != SECTION_CALLABLE:
                    return _MUTED
                due = due_at(r)
                if due is None:
                    return _MUTED
                clock = self.sla_clocks.get(r.id)  # issue 4: colour by SLA ladder stage
                if clock is not None and clock.deadline is not None:
                    from ui.notifications import countdown_color

                    return countdown_color(clock, self._now)
                left = (due - self._now).total_seconds()
                return _OVERDUE if left < 0 else _SOON if left < 300 else None
            if col == COL_NAME and r.data_issues:
                return _FLAG
            if col in (COL_TIER, COL_LOCAL, COL_RANK) or section != SECTION_CALLABLE:
                return _MUTED
            return None
        if role == _ALIGN:
            if col == COL_RANK or col == COL_DUE:
                return _RIGHT
            return _CENTER if col == COL_PRIORITY else None
        if role == _TOOLTIP:
            return self._tooltip(r)
        if role == _PRIORITY_ROLE:
            return r.priority
        if role == _ROW_ID_ROLE:
            return str(r.id)
        return None

    def _header_data(self, block: _Block, col: int, role: int):  # type: ignore[no-untyped-def]
        if role == _DISPLAY:
            if col != 0:
                return None
            return f"{SECTION_TITLES[block.section].upper()}  ·  {len(block.items):,}"
        if role == _BACKGROUND:
            return _HEADER_BG
        if role == _FOREGROUND:
            return _HEADER_FG
        if role == _FONT:
            return self._header_font
        return None

    def _display(self, r: QueueRow, i: int, section: str, col: int) -> str | None:
        if col == COL_NAME:
            return f"⚠ {r.name}" if r.data_issues else r.name
        if col == COL_COMPANY:
            return r.company or "—"
        if col == COL_PRIORITY:
            return f"P{r.priority}"
        if col == COL_DUE:
            if section == SECTION_LATER:
                opens = r.window_opens_at
                return f"opens {format_countdown(opens, self._now)[3:]}" if opens else "later"
            if section == SECTION_UPCOMING:
                at = r.due_at or r.next_step_at
                return format_countdown(at, self._now) if at is not None else "—"
            due = due_at(r)
            return format_countdown(due, self._now) if due is not None else "—"
        if col == COL_TIER:
            if section == SECTION_UPCOMING:
                return "Snoozed" if r.snoozed_until is not None and \
                    r.snoozed_until > self._now else "Scheduled"
            return TIER_LABELS.get(r.tier or 0, "Due")
        if col == COL_RANK:
            return str(i + 1) if section == SECTION_CALLABLE else ""
        if col == COL_LOCAL:
            z = zone(r.timezone)
            return self._now.astimezone(z).strftime("%a %H:%M") if z else "unknown"
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
