"""The rules editor: SLA policies, cadences and templates, for admins and
team leads.

The screen edits the specs of ``leadqueue.rulebook`` (read with
``Workspace.rule_book``, saved with ``save_sla_policy`` / ``save_cadence`` /
``save_template``) and validates nothing itself: fields are turned into a spec
as typed (an unparseable number is passed on as text) and the core's
:class:`~leadqueue.rulebook.RuleError` comes back naming the field, which is
shown next to that field (for a ladder stage or a cadence step: under the
table, with the row selected). Every core call runs on the window's database
executor.

A rep never sees the menu entry (:func:`install_rules_menu`); the core's save
methods decide what a team lead may change.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import date
from typing import Any

from ui.qt import QAction, Qt, QtWidgets, Signal

log = logging.getLogger("leadqueue.ui.rules")

EDITOR_ROLES = ("team_lead", "admin")
DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
ACTION_LABELS = {
    "notify_owner": "Notify the owner",
    "notify_owner_urgent": "Urgent notification to the owner",
    "notify_team_lead": "Notify the team lead",
    "reassign": "Reassign to backup / team pool",
}
CHANNEL_LABELS = {"call": "Call", "email": "Email", "sms": "SMS", "social": "Social touch"}
BUILT_IN = "(built-in for the channel)"
_MARK = "border: 1px solid #e53935; border-radius: 3px;"
_INDEXED = re.compile(r"^(.+?)\[(\d+)\](?:\.(\w+))?$")


def number_or_text(text: str) -> int | str | None:
    """A field's value as the spec takes it: empty -> None, a whole number ->
    int, anything else passed on as typed so the core names the problem."""
    stripped = text.strip()
    if not stripped:
        return None
    try:
        return int(stripped)
    except ValueError:
        return stripped


def minutes_label(minutes: int | None) -> str:
    """``5 min``, ``1 h``, ``1 h 30 min``, ``1 d``: how a team lead says it."""
    if minutes is None:
        return "no SLA"
    if minutes >= 1440 and minutes % 1440 == 0:
        return f"{minutes // 1440} d"
    if minutes >= 60:
        h, m = divmod(minutes, 60)
        return f"{h} h {m} min" if m else f"{h} h"
    return f"{minutes} min"


def _text_of(value: object) -> str:
    return "" if value is None else str(value)


class FieldError(QtWidgets.QLabel):
    """The red line under a field that the core refused."""

    def __init__(self, parent: QtWidgets.QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("field_error")
        self.setWordWrap(True)
        self.setStyleSheet("color:#c62828; font-size:9pt; padding:0 0 2px 2px;")
        self.hide()

    def show_message(self, text: str) -> None:
        self.setText(text)
        self.setVisible(bool(text))


class _Page(QtWidgets.QWidget):
    """A list on the left, a form on the right, Save at the bottom.

    Subclasses add fields with :meth:`field`, which registers the field name
    the core uses, so a RuleError finds its place.
    """

    sig_save = Signal(object)  # the spec to save

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self._errors: dict[str, tuple[QtWidgets.QWidget, FieldError]] = {}
        self._marked: list[QtWidgets.QWidget] = []
        outer = QtWidgets.QHBoxLayout(self)
        outer.setContentsMargins(8, 8, 8, 8)
        left = QtWidgets.QVBoxLayout()
        self.list = QtWidgets.QListWidget(self)
        self.list.setObjectName("rule_list")
        self.list.setMinimumWidth(220)
        self.list.setMaximumWidth(300)
        self.list.currentRowChanged.connect(self._on_pick)
        left.addWidget(self.list, 1)
        self.new_button = QtWidgets.QPushButton("New…", self)
        self.new_button.clicked.connect(self.new_item)
        left.addWidget(self.new_button)
        outer.addLayout(left)
        right = QtWidgets.QVBoxLayout()
        scroll = QtWidgets.QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QtWidgets.QFrame.Shape.NoFrame)
        holder = QtWidgets.QWidget(scroll)
        column = QtWidgets.QVBoxLayout(holder)
        self.form = QtWidgets.QFormLayout()
        column.addLayout(self.form)
        column.addStretch(1)  # spare height below the form, not between its rows
        self.form.setFieldGrowthPolicy(
            QtWidgets.QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        scroll.setWidget(holder)
        self.holder = holder
        right.addWidget(scroll, 1)
        bottom = QtWidgets.QHBoxLayout()
        self.message = QtWidgets.QLabel("", self)
        self.message.setObjectName("rules_message")
        self.message.setWordWrap(True)
        bottom.addWidget(self.message, 1)
        self.save_button = QtWidgets.QPushButton("Save", self)
        self.save_button.setObjectName("rules_save")
        self.save_button.setDefault(True)
        self.save_button.clicked.connect(self._on_save_clicked)
        bottom.addWidget(self.save_button)
        right.addLayout(bottom)
        outer.addLayout(right, 1)
        self.items: list[Any] = []

    # -- fields and their errors -------------------------------------------------

    def field(self, name: str, label: str, widget: QtWidgets.QWidget,
              hint: str = "") -> QtWidgets.QWidget:
        """Add ``widget`` as the form row for the core's field ``name``."""
        box = QtWidgets.QWidget(self.holder)
        lay = QtWidgets.QVBoxLayout(box)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        lay.addWidget(widget)
        if hint:
            tip = QtWidgets.QLabel(hint, box)
            tip.setObjectName("muted")
            tip.setWordWrap(True)
            tip.setStyleSheet("color:#5f6672; font-size:9pt;")
            lay.addWidget(tip)
        error = FieldError(box)
        lay.addWidget(error)
        self.form.addRow(label, box)
        self._errors[name] = (widget, error)
        return widget

    def clear_errors(self) -> None:
        for _widget, error in self._errors.values():
            error.show_message("")
        for marked in self._marked:
            try:
                marked.setStyleSheet("")
            except RuntimeError:
                pass  # the row was removed since
        self._marked = []
        self.message.setText("")
        self.message.setStyleSheet("")

    def error_label(self, name: str) -> FieldError | None:
        entry = self._errors.get(name)
        return entry[1] if entry else None

    def show_rule_error(self, field: str, problem: str) -> None:
        """Put the core's message next to the field it names."""
        key, index, sub = self.locate(field)
        entry = self._errors.get(key)
        if entry is None:
            self.show_message(f"{field}: {problem}", error=True)
            return
        widget, error = entry
        where = ""
        target = widget
        if index is not None and isinstance(widget, _RowTable):
            where = self.row_label(key, index, sub)
            if index < widget.rows():
                col = self.column_of(key, sub)
                widget.table.setCurrentCell(index, col)
                target = widget.cell(index, col) or widget
        error.show_message(f"{where}{problem}")
        if target is not widget or not isinstance(widget, _RowTable):
            target.setStyleSheet(_MARK)
            self._marked.append(target)
        target.setFocus()
        self.show_message("Not saved: see the field marked in red.", error=True)

    def locate(self, field: str) -> tuple[str, int | None, str | None]:
        """``ladder[2].offset_minutes`` -> ("ladder", 2, "offset_minutes")."""
        m = _INDEXED.match(field)
        if m:
            return m.group(1), int(m.group(2)), m.group(3)
        if field in self._errors:
            return field, None, None
        head = field.split(".", 1)[0]
        # "business_hours.start" has its own row; fall back to the group.
        return (field if field in self._errors else head), None, None

    def row_label(self, key: str, index: int, sub: str | None) -> str:
        return f"Row {index + 1}: "

    def column_of(self, key: str, sub: str | None) -> int:
        return 0

    def show_message(self, text: str, *, error: bool = False) -> None:
        self.message.setText(text)
        self.message.setStyleSheet("color:#c62828;" if error else "color:#2e7d32;")

    # -- the list ---------------------------------------------------------------------

    def set_items(self, items: list[Any], select: Callable[[Any], bool] | None = None) -> None:
        self.items = list(items)
        current = self.list.currentRow()
        self.list.blockSignals(True)
        self.list.clear()
        for item in self.items:
            self.list.addItem(self.item_label(item))
        self.list.blockSignals(False)
        row = next((i for i, it in enumerate(self.items) if select and select(it)), None)
        if row is None:
            row = current if 0 <= current < len(self.items) else 0
        if self.items:
            self.list.setCurrentRow(row)
            self._on_pick(row)

    def _on_pick(self, row: int) -> None:
        if 0 <= row < len(self.items):
            self.clear_errors()
            self.load(self.items[row])

    def current_item(self) -> Any:
        row = self.list.currentRow()
        return self.items[row] if 0 <= row < len(self.items) else None

    def _on_save_clicked(self) -> None:
        self.clear_errors()
        try:
            spec = self.spec()
        except ValueError as exc:  # a field the form itself cannot read
            self.show_message(str(exc), error=True)
            return
        self.sig_save.emit(spec)

    # -- for subclasses ---------------------------------------------------------------

    def item_label(self, item: Any) -> str:
        raise NotImplementedError

    def load(self, item: Any) -> None:
        raise NotImplementedError

    def spec(self) -> Any:
        raise NotImplementedError

    def new_item(self) -> None:
        raise NotImplementedError


def _line(parent: QtWidgets.QWidget, name: str, placeholder: str = "",
          width: int | None = None) -> QtWidgets.QLineEdit:
    edit = QtWidgets.QLineEdit(parent)
    edit.setObjectName(name)
    edit.setPlaceholderText(placeholder)
    if width:
        edit.setMaximumWidth(width)
    return edit


def _combo(parent: QtWidgets.QWidget, items: list[tuple[str, Any]],
           current: Any = None, max_width: int | None = 320) -> QtWidgets.QComboBox:
    combo = QtWidgets.QComboBox(parent)
    if max_width:
        combo.setMaximumWidth(max_width)
    for text, value in items:
        combo.addItem(text, value)
    idx = combo.findData(current)
    combo.setCurrentIndex(max(idx, 0))
    return combo


class _RowTable(QtWidgets.QWidget):
    """A small table of rows (ladder stages, cadence steps) with Add/Remove."""

    def __init__(self, headers: list[str], make_row: Callable[[int, Any], list[QtWidgets.QWidget]],
                 parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self._make_row = make_row
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.table = QtWidgets.QTableWidget(0, len(headers), self)
        self.table.setHorizontalHeaderLabels(headers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setMinimumHeight(140)
        self.table.verticalHeader().setDefaultSectionSize(30)
        lay.addWidget(self.table)
        buttons = QtWidgets.QHBoxLayout()
        self.add_button = QtWidgets.QPushButton("Add", self)
        self.add_button.clicked.connect(lambda: self.add_row(None))
        self.remove_button = QtWidgets.QPushButton("Remove", self)
        self.remove_button.clicked.connect(self.remove_current)
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)
        buttons.addStretch(1)
        lay.addLayout(buttons)

    def clear(self) -> None:
        self.table.setRowCount(0)

    def add_row(self, value: Any) -> None:
        row = self.table.rowCount()
        self.table.insertRow(row)
        for col, widget in enumerate(self._make_row(row, value)):
            self.table.setCellWidget(row, col, widget)

    def remove_current(self) -> None:
        row = self.table.currentRow()
        if row < 0:
            row = self.table.rowCount() - 1
        if row >= 0:
            self.table.removeRow(row)

    def cell(self, row: int, col: int) -> QtWidgets.QWidget:
        return self.table.cellWidget(row, col)

    def rows(self) -> int:
        return self.table.rowCount()



# -- SLA policies ---------------------------------------------------------------------


class SlaPage(_Page):
    """Per priority (and team): target, business hours, ladder, ack timeouts."""

    def __init__(self, teams: dict[uuid.UUID, str], parent: QtWidgets.QWidget | None = None
                 ) -> None:
        super().__init__(parent)
        self.teams = teams
        self.new_button.setText("New team override…")
        h = self.holder
        self.priority = _combo(h, [(f"P{p}", p) for p in (1, 2, 3, 4)])
        self.field("priority", "Priority", self.priority)
        self.team = _combo(h, [("All teams (default)", None),
                               *[(name, tid) for tid, name in sorted(teams.items(),
                                                                     key=lambda t: t[1])]])
        self.field("team_id", "Applies to", self.team)
        self.target = _line(h, "sla_target", "e.g. 5 (empty: no target)", 160)
        self.field("first_response_minutes", "First response (min)", self.target,
                   "Minutes from creation; empty means no SLA (P4 by default).")
        self.bh_enabled = QtWidgets.QCheckBox("Count only business hours", h)
        self.field("business_hours", "Business hours", self.bh_enabled)
        self.bh_zone = _line(h, "bh_zone", "team's zone (e.g. Europe/Berlin)", 260)
        self.field("business_hours.timezone", "Time zone", self.bh_zone)
        days = QtWidgets.QWidget(h)
        days_lay = QtWidgets.QHBoxLayout(days)
        days_lay.setContentsMargins(0, 0, 0, 0)
        self.day_boxes = []
        for i, name in enumerate(DAY_NAMES, start=1):
            box = QtWidgets.QCheckBox(name, days)
            box.setProperty("iso_day", i)
            days_lay.addWidget(box)
            self.day_boxes.append(box)
        days_lay.addStretch(1)
        self.field("business_hours.working_days", "Working days", days)
        hours = QtWidgets.QWidget(h)
        hours_lay = QtWidgets.QHBoxLayout(hours)
        hours_lay.setContentsMargins(0, 0, 0, 0)
        self.bh_start = _line(hours, "bh_start", "09:00", 80)
        self.bh_end = _line(hours, "bh_end", "17:00", 80)
        hours_lay.addWidget(self.bh_start)
        hours_lay.addWidget(QtWidgets.QLabel("to", hours))
        hours_lay.addWidget(self.bh_end)
        hours_lay.addStretch(1)
        self.field("business_hours.start", "Working hours", hours)
        self._errors["business_hours.end"] = self._errors["business_hours.start"]
        self.holidays = _line(h, "bh_holidays", "YYYY-MM-DD, YYYY-MM-DD, …")
        self.field("business_hours.holidays", "Holidays", self.holidays)
        self.ladder = _RowTable(["After deadline (min)", "Action"], self._ladder_row, h)
        self.ladder.setObjectName("ladder")
        self.ladder.table.setColumnWidth(0, 160)
        self.field("ladder", "Escalation ladder", self.ladder,
                   "Each stage fires once per lead and assignment.")
        self.ack_backup = _line(h, "ack_backup", "empty: never", 160)
        self.field("ack_backup_minutes", "Unopened → backup (min)", self.ack_backup)
        self.ack_pool = _line(h, "ack_pool", "empty: never", 160)
        self.field("ack_pool_minutes", "Unopened → team pool (min)", self.ack_pool,
                   "Counted from the assignment when the owner neither opened nor worked it.")
        self._loaded: Any = None
        #: A team lead's edits always apply to their own team (the core's rule).
        self.locked_team: uuid.UUID | None = None

    def lock_team(self, team_id: uuid.UUID) -> None:
        self.locked_team = team_id
        self.team.setEnabled(False)
        self.team.setToolTip("A team lead's change applies to their own team.")
        self.new_button.hide()

    def _ladder_row(self, _row: int, stage: Any) -> list[QtWidgets.QWidget]:
        offset = QtWidgets.QLineEdit(_text_of(stage.offset_minutes) if stage else "0")
        action = _combo(self, [(label, key) for key, label in ACTION_LABELS.items()],
                        stage.action if stage else "notify_owner", max_width=None)
        return [offset, action]

    def column_of(self, key: str, sub: str | None) -> int:
        return 1 if sub == "action" else 0

    def row_label(self, key: str, index: int, sub: str | None) -> str:
        return f"Stage {index + 1}: " if key == "ladder" else f"Row {index + 1}: "

    def item_label(self, item: Any) -> str:
        team = self.teams.get(item.team_id, "team") if item.team_id else "all teams"
        target = minutes_label(item.first_response_minutes)
        return f"P{item.priority} · {target} · {team}"

    def load(self, spec: Any) -> None:
        self._loaded = spec
        self.priority.setCurrentIndex(max(self.priority.findData(spec.priority), 0))
        team = self.locked_team if self.locked_team is not None else spec.team_id
        self.team.setCurrentIndex(max(self.team.findData(team), 0))
        self.target.setText(_text_of(spec.first_response_minutes))
        bh = spec.business_hours
        self.bh_enabled.setChecked(bool(bh.enabled))
        self.bh_zone.setText(bh.timezone or "")
        for box in self.day_boxes:
            box.setChecked(box.property("iso_day") in bh.working_days)
        self.bh_start.setText(bh.start)
        self.bh_end.setText(bh.end)
        self.holidays.setText(", ".join(d.isoformat() for d in bh.holidays))
        self.ladder.clear()
        for stage in spec.ladder:
            self.ladder.add_row(stage)
        self.ack_backup.setText(_text_of(spec.ack_backup_minutes))
        self.ack_pool.setText(_text_of(spec.ack_pool_minutes))

    def spec(self) -> Any:
        from leadqueue.rulebook import BusinessHoursSpec, LadderStageSpec, SlaPolicySpec

        holidays: list[Any] = []
        for part in self.holidays.text().replace(";", ",").split(","):
            part = part.strip()
            if part:
                try:
                    holidays.append(date.fromisoformat(part))
                except ValueError:
                    holidays.append(part)  # the core names it
        bh = BusinessHoursSpec(
            enabled=self.bh_enabled.isChecked(),
            timezone=self.bh_zone.text().strip() or None,
            working_days=tuple(b.property("iso_day") for b in self.day_boxes if b.isChecked()),
            start=self.bh_start.text().strip(), end=self.bh_end.text().strip(),
            holidays=tuple(holidays))
        stages = tuple(
            LadderStageSpec(number_or_text(self.ladder.cell(r, 0).text()),  # type: ignore[arg-type]
                            self.ladder.cell(r, 1).currentData())
            for r in range(self.ladder.rows()))
        base = self._loaded
        team_id = self.team.currentData()
        priority = self.priority.currentData()
        same_row = base is not None and base.team_id == team_id and base.priority == priority
        return SlaPolicySpec(
            priority=priority,
            first_response_minutes=number_or_text(self.target.text()),  # type: ignore[arg-type]
            ladder=stages,
            ack_backup_minutes=number_or_text(self.ack_backup.text()),  # type: ignore[arg-type]
            ack_pool_minutes=number_or_text(self.ack_pool.text()),  # type: ignore[arg-type]
            business_hours=bh, team_id=team_id,
            id=base.id if same_row and base is not None else None)

    def new_item(self) -> None:
        base = self.current_item()
        if base is None:
            return
        self._loaded = replace(base, id=None)
        self.list.clearSelection()
        team_idx = 1 if self.team.count() > 1 else 0
        self.team.setCurrentIndex(team_idx)
        self.show_message("A team's own policy for this priority: choose the team, edit, Save.")


# -- cadences ------------------------------------------------------------------------


class CadencePage(_Page):
    """A cadence and its steps: day, channel, template, local time."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.new_button.setText("New cadence")
        h = self.holder
        self.templates: list[Any] = []
        self.name = _line(h, "cadence_name", "e.g. Inbound B2B")
        self.field("name", "Name", self.name)
        self.description = _line(h, "cadence_description", "what it is for")
        self.field("description", "Description", self.description)
        flags = QtWidgets.QWidget(h)
        flags_lay = QtWidgets.QHBoxLayout(flags)
        flags_lay.setContentsMargins(0, 0, 0, 0)
        self.active = QtWidgets.QCheckBox("Active", flags)
        self.skip_weekends = QtWidgets.QCheckBox("Skip weekends", flags)
        flags_lay.addWidget(self.active)
        flags_lay.addWidget(self.skip_weekends)
        flags_lay.addStretch(1)
        self.field("active", "Runs", flags)
        self.recycle = _line(h, "cadence_recycle", "90", 120)
        self.field("recycle_days", "Recycle after (days)", self.recycle,
                   "A lead that never answered comes back from nurture after this many days.")
        self.steps = _RowTable(["Day", "Channel", "Template", "Local time"], self._step_row, h)
        self.steps.setObjectName("steps")
        for col, width in ((0, 60), (1, 120), (2, 300)):
            self.steps.table.setColumnWidth(col, width)
        self.field("steps", "Steps", self.steps,
                   "Day 1 is the enrolment day; steps run in this order, in the lead's time.")
        self._loaded: Any = None

    def set_templates(self, templates: list[Any]) -> None:
        self.templates = list(templates)

    def _step_row(self, _row: int, step: Any) -> list[QtWidgets.QWidget]:
        day = QtWidgets.QLineEdit(_text_of(step.day_offset) if step else "1")
        channel = _combo(self, [(label, key) for key, label in CHANNEL_LABELS.items()],
                         step.channel if step else "call", max_width=None)
        template = QtWidgets.QComboBox(self)
        template.addItem(BUILT_IN, None)
        for t in self.templates:
            template.addItem(f"{t.name} ({CHANNEL_LABELS.get(t.channel, t.channel)})", t.name)
        idx = template.findData(step.template) if step and step.template else 0
        template.setCurrentIndex(max(idx, 0))
        local = QtWidgets.QLineEdit(step.local_time or "" if step else "")
        local.setPlaceholderText("calling window")
        return [day, channel, template, local]

    def column_of(self, key: str, sub: str | None) -> int:
        return {"day_offset": 0, "channel": 1, "template": 2, "local_time": 3}.get(sub or "", 0)

    def row_label(self, key: str, index: int, sub: str | None) -> str:
        return f"Step {index + 1}: "

    def item_label(self, item: Any) -> str:
        state = "" if item.active else " (inactive)"
        return f"{item.name} · {len(item.steps)} steps{state}"

    def load(self, spec: Any) -> None:
        self._loaded = spec
        self.name.setText(spec.name)
        self.description.setText(spec.description or "")
        self.active.setChecked(bool(spec.active))
        self.skip_weekends.setChecked(bool(spec.skip_weekends))
        self.recycle.setText(_text_of(spec.recycle_days))
        self.steps.clear()
        for step in spec.steps:
            self.steps.add_row(step)

    def spec(self) -> Any:
        from leadqueue.rulebook import CadenceSpec, CadenceStepSpec

        steps = []
        for r in range(self.steps.rows()):
            local = self.steps.cell(r, 3).text().strip()
            steps.append(CadenceStepSpec(
                position=r + 1,
                day_offset=number_or_text(self.steps.cell(r, 0).text()),  # type: ignore[arg-type]
                channel=self.steps.cell(r, 1).currentData(),
                template=self.steps.cell(r, 2).currentData(),
                local_time=local or None))
        base = self._loaded
        return CadenceSpec(
            name=self.name.text(), steps=tuple(steps),
            team_id=base.team_id if base is not None else None,
            description=self.description.text().strip() or None,
            active=self.active.isChecked(), skip_weekends=self.skip_weekends.isChecked(),
            recycle_days=number_or_text(self.recycle.text()),  # type: ignore[arg-type]
            id=base.id if base is not None else None)

    def new_item(self) -> None:
        from leadqueue.rulebook import CadenceSpec, CadenceStepSpec

        self.list.clearSelection()
        self.clear_errors()
        self.load(CadenceSpec("", (CadenceStepSpec(1, 1, "call"),)))
        self.name.setFocus()


# -- templates ---------------------------------------------------------------------------


class TemplatePage(_Page):
    """A message template with merge fields; the field list inserts at the cursor."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.new_button.setText("New template")
        h = self.holder
        self.name = _line(h, "template_name", "e.g. Day 1 intro email")
        self.field("name", "Name", self.name)
        self.channel = _combo(h, [(label, key) for key, label in CHANNEL_LABELS.items()])
        self.field("channel", "Channel", self.channel)
        self.subject = _line(h, "template_subject", "email subject (optional)")
        self.field("subject", "Subject", self.subject)
        self.body = QtWidgets.QPlainTextEdit(h)
        self.body.setObjectName("template_body")
        self.body.setMinimumHeight(160)
        self.field("body", "Body", self.body)
        self.merge = QtWidgets.QListWidget(h)
        self.merge.setObjectName("merge_fields")
        self.merge.setMaximumHeight(130)
        self.merge.itemDoubleClicked.connect(self._insert_field)
        self.field("merge_fields", "Merge fields", self.merge,
                   "Double-click to insert at the cursor; write {{ and }} for literal braces.")
        self._loaded: Any = None

    def set_merge_fields(self, fields: list[tuple[str, str]]) -> None:
        self.merge.clear()
        for name, meaning in fields:
            item = QtWidgets.QListWidgetItem(f"{{{name}}} — {meaning}")
            item.setData(Qt.ItemDataRole.UserRole, name)
            self.merge.addItem(item)

    def _insert_field(self, item: QtWidgets.QListWidgetItem) -> None:
        name = item.data(Qt.ItemDataRole.UserRole)
        target = self.subject if self.subject.hasFocus() else self.body
        if isinstance(target, QtWidgets.QLineEdit):
            target.insert(f"{{{name}}}")
        else:
            target.insertPlainText(f"{{{name}}}")
            target.setFocus()

    def item_label(self, item: Any) -> str:
        return f"{item.name} · {CHANNEL_LABELS.get(item.channel, item.channel)}"

    def load(self, spec: Any) -> None:
        self._loaded = spec
        self.name.setText(spec.name)
        self.channel.setCurrentIndex(max(self.channel.findData(spec.channel), 0))
        self.subject.setText(spec.subject or "")
        self.body.setPlainText(spec.body)

    def spec(self) -> Any:
        from leadqueue.rulebook import TemplateSpec

        base = self._loaded
        return TemplateSpec(name=self.name.text(), channel=self.channel.currentData(),
                            body=self.body.toPlainText(),
                            subject=self.subject.text().strip() or None,
                            id=base.id if base is not None else None)

    def new_item(self) -> None:
        from leadqueue.rulebook import TemplateSpec

        self.list.clearSelection()
        self.clear_errors()
        self.load(TemplateSpec("", "email", "Hi {first_name},\n\n\n{rep_name}"))
        self.name.setFocus()


# -- the window --------------------------------------------------------------------------------


class RulesEditor(QtWidgets.QDialog):
    """The three pages over ``Workspace.rule_book`` and ``save_*``."""

    sig_loaded = Signal()
    #: (what, spec) after a save the core accepted.
    sig_saved = Signal(str, object)
    #: (field, problem) after the core refused a save.
    sig_refused = Signal(str, str)

    def __init__(self, window: Any, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent if parent is not None else window)
        self.setObjectName("rules_editor")
        self.window_ = window
        self.setWindowTitle("Rules — SLA policies, cadences, templates")
        self.resize(1060, 780)
        me = _me(window)
        teams: dict[uuid.UUID, str] = {}
        if me.team_id is not None and me.team_name:
            teams[me.team_id] = me.team_name
        lay = QtWidgets.QVBoxLayout(self)
        intro = QtWidgets.QLabel(
            "The follow-up rules the worker and every app apply. A change is checked "
            "when you save it, so a bad rule never reaches the worker.", self)
        intro.setWordWrap(True)
        intro.setObjectName("muted")
        lay.addWidget(intro)
        self.tabs = QtWidgets.QTabWidget(self)
        self.sla = SlaPage(teams, self)
        if me.role == "team_lead" and me.team_id is not None:
            self.sla.lock_team(me.team_id)
        self.cadences = CadencePage(self)
        self.templates = TemplatePage(self)
        self.tabs.addTab(self.sla, "SLA policies")
        self.tabs.addTab(self.cadences, "Cadences")
        self.tabs.addTab(self.templates, "Templates")
        lay.addWidget(self.tabs, 1)
        close = QtWidgets.QDialogButtonBox(QtWidgets.QDialogButtonBox.StandardButton.Close, self)
        close.rejected.connect(self.close)
        lay.addWidget(close)
        self.sla.sig_save.connect(lambda spec: self._save("sla", spec))
        self.cadences.sig_save.connect(lambda spec: self._save("cadence", spec))
        self.templates.sig_save.connect(lambda spec: self._save("template", spec))
        self.book: Any = None

    @property
    def ws(self) -> Any:
        return self.window_.ws

    def load(self) -> None:
        """Read the rule book (off the GUI thread) and fill the pages."""
        self.window_.executor.submit(self.ws.rule_book, label="rule book",
                                     on_done=self._on_book, on_error=self._on_load_failed)
        if _me(self.window_).role == "admin":
            self.window_.executor.submit(self.ws.people, label="teams",
                                         on_done=self._on_people)

    def _on_people(self, people: list[Any]) -> None:
        for p in people:
            if p.team_id is not None and p.team_id not in self.sla.teams:
                self.sla.teams[p.team_id] = p.team_name or str(p.team_id)
                self.sla.team.addItem(p.team_name or str(p.team_id), p.team_id)

    def _on_load_failed(self, exc: BaseException) -> None:
        for page in (self.sla, self.cadences, self.templates):
            page.show_message(f"Could not read the rules: {exc}", error=True)

    def _on_book(self, book: Any, select: tuple[str, Any] | None = None) -> None:
        self.book = book
        what, saved = select if select else ("", None)
        self.templates.set_merge_fields(list(book.merge_fields))
        self.cadences.set_templates(list(book.templates))
        self.sla.set_items(list(book.sla_policies), (lambda p: (p.priority, p.team_id) == (
            saved.priority, saved.team_id)) if what == "sla" else None)
        self.cadences.set_items(list(book.cadences),
                                (lambda c: c.name == saved.name) if what == "cadence" else None)
        self.templates.set_items(list(book.templates),
                                 (lambda t: t.name == saved.name) if what == "template" else None)
        self.sig_loaded.emit()

    def _save(self, what: str, spec: Any) -> None:
        method = {"sla": self.ws.save_sla_policy, "cadence": self.ws.save_cadence,
                  "template": self.ws.save_template}[what]
        page = {"sla": self.sla, "cadence": self.cadences, "template": self.templates}[what]
        page.save_button.setEnabled(False)

        def saved(result: Any) -> None:
            page.save_button.setEnabled(True)
            stored = result if result is not None else spec
            self.window_.executor.submit(
                self.ws.rule_book, label="rule book",
                on_done=lambda book: (self._on_book(book, (what, stored)),
                                      page.show_message("Saved."),
                                      self.sig_saved.emit(what, stored)))

        def refused(exc: BaseException) -> None:
            page.save_button.setEnabled(True)
            field = getattr(exc, "field", None)
            problem = getattr(exc, "problem", None) or str(exc)
            if field:
                page.show_rule_error(field, problem)
            else:
                from leadqueue.shared.connect import failure_message

                page.show_message(failure_message(exc, write=True) or f"Not saved: {exc}",
                                  error=True)
            self.sig_refused.emit(field or "", problem)

        self.window_.executor.submit(method, spec, label=f"save {what}", on_done=saved,
                                     on_error=refused)


# -- the menu entry ------------------------------------------------------------------------------


def _me(window: Any) -> Any:
    """The signed-in person (the window knows it before its workspace opens)."""
    me = getattr(window, "me", None)
    return me if me is not None else window.ws.me


def open_rules_editor(window: Any) -> RulesEditor | None:
    """Show the editor for the window's workspace (one at a time)."""
    if window.ws is None:
        window.statusBar().showMessage("The rules open once the database is ready.", 5000)
        return None
    editor = getattr(window, "_rules_editor", None)
    if editor is None or not editor.isVisible():
        editor = RulesEditor(window)
        window._rules_editor = editor
        editor.load()
    editor.show()
    editor.raise_()
    editor.activateWindow()
    return editor


def install_rules_menu(window: Any, menu: QtWidgets.QMenu | None = None) -> QAction:
    """Add "Rules…" to ``menu`` (default: a "Team" menu on the menu bar), shown
    only to team leads and admins, and kept right when the user switches."""
    if menu is None:
        menu = window.menuBar().addMenu("&Team")
    action = QAction("Rules — SLA, cadences, templates…", window)
    action.setObjectName("action_rules_editor")
    action.triggered.connect(lambda _checked=False: open_rules_editor(window))
    menu.addAction(action)

    def update(*_args: object) -> None:
        allowed = _me(window).role in EDITOR_ROLES
        action.setVisible(allowed)
        action.setEnabled(allowed)
        if menu is not None and menu.menuAction() is not None:
            menu.menuAction().setVisible(any(a.isVisible() for a in menu.actions()
                                             if not a.isSeparator()))
        editor = getattr(window, "_rules_editor", None)
        if editor is not None and not allowed:
            editor.close()

    signal = getattr(window, "sig_workspace_changed", None)
    if signal is not None:
        signal.connect(update)
    update()
    return action
