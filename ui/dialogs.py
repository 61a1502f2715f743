"""Every question the main window asks the rep, behind one replaceable object.

:class:`Dialogs` opens real modal dialogs; tests give the window a stub with
the same methods returning canned answers, so no test can hang on a modal box.
Each ``ask_*`` returns the answer or None when the rep cancels. Dialogs only
collect input: validation that is a rule (a reason is required, a time is in
the calling window …) is the core's, and a refusal comes back as a message.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from leadqueue.enums import DisqualifyReason, NextStepKind, NoResponseReason
from leadqueue.views import ActivityView
from ui.actions import OUTCOME_LABELS
from ui.qt import QtCore, QtWidgets
from ui.queue_model import zone

#: Statuses a rep may close a lead with from the next-step dialog.
STATUS_LABELS = {
    "working": "Keep working it (next step below)",
    "meeting": "Meeting booked",
    "nurture": "Nurture (check in later)",
    "no_response": "No response",
    "converted": "Converted",
    "disqualified": "Disqualified",
}
#: Wrap-up choices (see :meth:`Dialogs.ask_wrap_up`).
WRAP_NEXT_STEP, WRAP_DISQUALIFY = "next_step", "disqualify"


@dataclass(frozen=True)
class NextStepAnswer:
    kind: str | None
    at: datetime | None
    text: str
    #: A status to set first (None or "working": keep the lead active).
    status: str | None = None
    #: The standard reason a status needs (no-response reason).
    reason: str | None = None


@dataclass(frozen=True)
class CorrectionAnswer:
    activity_id: object       # uuid.UUID of the entry being corrected
    outcome: str | None
    body: str | None


@dataclass(frozen=True)
class FieldSpec:
    """One field of a lead form (new lead / edit contact)."""

    name: str
    label: str
    kind: str = "text"          # text / int / choice
    required: bool = False
    choices: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class InboundAnswer:
    kind: str          # activity kind: call / email / sms / social
    body: str
    outcome: str | None


def snooze_presets(now: datetime, tz: str | None) -> list[tuple[str, datetime]]:
    """1 h, 3 h, tomorrow 09:00 and next Monday 09:00 (their time when known)."""
    z = zone(tz)
    local = now.astimezone(z) if z else now.astimezone()
    whose = " (their time)" if z else ""
    nine = time(9, 0)
    tomorrow = datetime.combine(local.date() + timedelta(days=1), nine, local.tzinfo)
    monday = datetime.combine(local.date() + timedelta(days=(7 - local.weekday()) or 7), nine,
                              local.tzinfo)
    return [("1 hour", now + timedelta(hours=1)), ("3 hours", now + timedelta(hours=3)),
            (f"Tomorrow 09:00{whose}", tomorrow), (f"Next Monday 09:00{whose}", monday)]


def _to_qdatetime(when: datetime) -> QtCore.QDateTime:
    return QtCore.QDateTime.fromSecsSinceEpoch(int(when.timestamp()))


def _from_qdatetime(value: QtCore.QDateTime) -> datetime:
    from datetime import UTC

    return datetime.fromtimestamp(value.toSecsSinceEpoch(), UTC)


class _Form(QtWidgets.QDialog):
    """A small form dialog: rows of labelled fields and OK/Cancel."""

    def __init__(self, parent: QtWidgets.QWidget | None, title: str, intro: str = "") -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setMinimumWidth(440)
        layout = QtWidgets.QVBoxLayout(self)
        if intro:
            label = QtWidgets.QLabel(intro, self)
            label.setWordWrap(True)
            layout.addWidget(label)
        self.form = QtWidgets.QFormLayout()
        layout.addLayout(self.form)
        self.error = QtWidgets.QLabel("", self)
        self.error.setObjectName("form_error")
        self.error.setStyleSheet("color:#c62828;")
        self.error.setWordWrap(True)
        layout.addWidget(self.error)
        buttons = QtWidgets.QDialogButtonBox(
            QtWidgets.QDialogButtonBox.StandardButton.Ok
            | QtWidgets.QDialogButtonBox.StandardButton.Cancel, self)
        buttons.accepted.connect(self._on_accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.checks: list[Any] = []

    def combo(self, label: str, items: list[tuple[str, Any]], current: Any = None
              ) -> QtWidgets.QComboBox:
        box = QtWidgets.QComboBox(self)
        for text, value in items:
            box.addItem(text, value)
        if current is not None:
            box.setCurrentIndex(max(box.findData(current), 0))
        self.form.addRow(label, box)
        return box

    def line(self, label: str, text: str = "") -> QtWidgets.QLineEdit:
        edit = QtWidgets.QLineEdit(text, self)
        self.form.addRow(label, edit)
        return edit

    def text(self, label: str, text: str = "") -> QtWidgets.QPlainTextEdit:
        edit = QtWidgets.QPlainTextEdit(text, self)
        edit.setTabChangesFocus(True)
        edit.setFixedHeight(90)
        self.form.addRow(label, edit)
        return edit

    def when(self, label: str, at: datetime) -> QtWidgets.QDateTimeEdit:
        edit = QtWidgets.QDateTimeEdit(_to_qdatetime(at), self)
        edit.setCalendarPopup(True)
        edit.setDisplayFormat("ddd dd MMM yyyy HH:mm")
        self.form.addRow(label, edit)
        return edit

    def require(self, check: Any) -> None:
        """``check()`` returns an error message or '' (input shape only)."""
        self.checks.append(check)

    def _on_accept(self) -> None:
        for check in self.checks:
            message = check()
            if message:
                self.error.setText(message)
                return
        self.accept()


class Dialogs:
    """The real, modal dialogs. Replace the window's ``dialogs`` in tests."""

    def __init__(self, parent: QtWidgets.QWidget) -> None:
        self.parent = parent

    # -- answers ------------------------------------------------------------------

    def ask_outcome(self, lead_name: str, duration_s: int | None
                    ) -> tuple[str, int | None, str | None] | None:
        form = _Form(self.parent, "Log call outcome", f"Call with {lead_name}")
        outcome = form.combo("Outcome", [(t, o) for o, t in OUTCOME_LABELS.items()])
        seconds = QtWidgets.QSpinBox(form)
        seconds.setRange(0, 36_000)
        seconds.setSuffix(" s")
        seconds.setValue(duration_s or 0)
        form.form.addRow("Duration", seconds)
        note = form.text("Note")
        if form.exec() != QtWidgets.QDialog.DialogCode.Accepted:
            return None
        return (outcome.currentData(), seconds.value() or None,
                note.toPlainText().strip() or None)

    def ask_note(self, lead_name: str) -> str | None:
        form = _Form(self.parent, "Add note", f"Note on {lead_name}")
        body = form.text("Note")
        form.require(lambda: "" if body.toPlainText().strip() else "Write something first.")
        if form.exec() != QtWidgets.QDialog.DialogCode.Accepted:
            return None
        return body.toPlainText().strip()

    def ask_snooze(self, now: datetime, tz: str | None) -> datetime | None:
        form = _Form(self.parent, "Snooze lead", "Hide this lead until:")
        presets = snooze_presets(now, tz)
        choice = form.combo("Until", [*((t, i) for i, (t, _at) in enumerate(presets)),
                                      ("Pick a time…", -1)])
        at = form.when("Time (yours)", presets[0][1])

        def picked(_index: int) -> None:
            i = choice.currentData()
            if isinstance(i, int) and 0 <= i < len(presets):
                at.setDateTime(_to_qdatetime(presets[i][1]))

        choice.currentIndexChanged.connect(picked)
        def edited(_value: object) -> None:
            i = choice.currentData()
            if isinstance(i, int) and i >= 0 and _to_qdatetime(presets[i][1]) != at.dateTime():
                choice.setCurrentIndex(choice.count() - 1)  # a time of the rep's own

        at.dateTimeChanged.connect(edited)
        form.require(lambda: "" if _from_qdatetime(at.dateTime()) > now
                     else "Pick a time in the future.")
        if form.exec() != QtWidgets.QDialog.DialogCode.Accepted:
            return None
        return _from_qdatetime(at.dateTime())

    def ask_next_step(self, lead_name: str, kind: str | None, at: datetime | None,
                      text: str | None, now: datetime,
                      statuses: tuple[str, ...] = (), status: str | None = None,
                      intro: str = "") -> NextStepAnswer | None:
        """Next step + date; with ``statuses`` also a status to close the lead with."""
        form = _Form(self.parent, "Next step",
                     intro or f"Next step for {lead_name}"
                     + (" (proposed by the rules: check and confirm)" if kind else ""))
        status_box = None
        reason_box = None
        if statuses:
            choices = ["working", *[s for s in statuses if s != "working"]]
            status_box = form.combo("Status", [(STATUS_LABELS.get(s, s), s) for s in choices],
                                    status or "working")
            reason_box = form.combo("No-response reason", [("—", None)] + [
                (r.value.replace("_", " ").capitalize(), r.value) for r in NoResponseReason])
        kind_box = form.combo("Kind", [(k.value.capitalize(), k.value) for k in NextStepKind],
                              kind or NextStepKind.CALL.value)
        when = form.when("When (your time)", at or now + timedelta(days=1))
        what = form.line("What", text or "")

        def chosen() -> str | None:
            return status_box.currentData() if status_box is not None else None

        def step_needed() -> bool:
            return chosen() in (None, "working", "meeting", "nurture")

        form.require(lambda: "" if what.text().strip() or not step_needed()
                     else "Say what the next step is.")
        if form.exec() != QtWidgets.QDialog.DialogCode.Accepted:
            return None
        step = step_needed() or bool(what.text().strip())
        return NextStepAnswer(kind_box.currentData() if step else None,
                              _from_qdatetime(when.dateTime()) if step else None,
                              what.text().strip(), chosen(),
                              reason_box.currentData() if reason_box is not None else None)

    def ask_wrap_up(self, lead_name: str, message: str, missing: tuple[str, ...]) -> str | None:
        """The wrap-up rule refused to leave a lead: offer to set what is missing.

        Returns :data:`WRAP_NEXT_STEP`, :data:`WRAP_DISQUALIFY` or None (stay).
        """
        box = QtWidgets.QMessageBox(self.parent)
        box.setIcon(QtWidgets.QMessageBox.Icon.Warning)
        box.setWindowTitle("Wrap up this lead first")
        box.setText(f"<b>{lead_name}</b> is not wrapped up yet.")
        box.setInformativeText(message + "\n\nMissing: " + ", ".join(missing)
                               if missing else message)
        step = box.addButton("Set next step…", QtWidgets.QMessageBox.ButtonRole.AcceptRole)
        dq = box.addButton("Disqualify…", QtWidgets.QMessageBox.ButtonRole.ActionRole)
        box.addButton("Stay on this lead", QtWidgets.QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(step)
        box.exec()
        clicked = box.clickedButton()
        if clicked is step:
            return WRAP_NEXT_STEP
        if clicked is dq:
            return WRAP_DISQUALIFY
        return None

    def ask_confirm(self, title: str, message: str, yes: str = "Continue") -> bool:
        box = QtWidgets.QMessageBox(self.parent)
        box.setIcon(QtWidgets.QMessageBox.Icon.Question)
        box.setWindowTitle(title)
        box.setText(message)
        ok = box.addButton(yes, QtWidgets.QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QtWidgets.QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(ok)
        box.exec()
        return box.clickedButton() is ok

    def ask_correction(self, lead_name: str, activities: tuple[ActivityView, ...]
                       ) -> CorrectionAnswer | None:
        """Which entry was mis-logged, and what it should have said."""
        superseded = {a.supersedes_id for a in activities if a.supersedes_id}
        entries = [a for a in activities if a.id not in superseded and a.kind != "system"]
        if not entries:
            self.show_error("Nothing to correct", f"{lead_name} has no entries yet.")
            return None
        form = _Form(self.parent, "Correct an entry",
                     "The entry stays in the history, struck through; the correction "
                     "is a new entry that supersedes it.")
        items = []
        for a in entries:
            what = a.kind.capitalize()
            if a.outcome:
                what += f" — {OUTCOME_LABELS.get(a.outcome, a.outcome)}"
            items.append((f"{a.at.astimezone().strftime('%d %b %H:%M')}  {what}", a))
        entry = form.combo("Entry", items)
        outcome = form.combo("Outcome", [("(unchanged)", None)] + [
            (t, o) for o, t in OUTCOME_LABELS.items()])
        body = form.text("Text", entries[0].body or "")
        entry.currentIndexChanged.connect(
            lambda _i: body.setPlainText(entry.currentData().body or ""))
        if form.exec() != QtWidgets.QDialog.DialogCode.Accepted:
            return None
        chosen: ActivityView = entry.currentData()
        text = body.toPlainText().strip()
        return CorrectionAnswer(chosen.id, outcome.currentData(),
                                text if text != (chosen.body or "") else None)

    def ask_fields(self, title: str, fields: list[FieldSpec], initial: dict[str, Any]
                   ) -> dict[str, Any] | None:
        """A lead form (new lead, edit contact); returns the values or None."""
        form = _Form(self.parent, title)
        getters: dict[str, Any] = {}
        for spec in fields:
            value = initial.get(spec.name)
            label = spec.label + (" *" if spec.required else "")
            if spec.kind == "choice":
                box = form.combo(label, list(spec.choices), value)
                getters[spec.name] = box.currentData
            elif spec.kind == "int":
                spin = QtWidgets.QSpinBox(form)
                spin.setRange(0, 10_000_000)
                spin.setValue(int(value or 0))
                spin.setSpecialValueText("—")  # 0 shows as "not known"
                form.form.addRow(label, spin)
                getters[spec.name] = lambda s=spin: s.value() or None
            else:
                edit = form.line(label, "" if value is None else str(value))
                getters[spec.name] = lambda e=edit: e.text().strip() or None
        required = [s for s in fields if s.required]

        def missing() -> str:
            empty = [s.label for s in required if not getters[s.name]()]
            return "Required: " + ", ".join(empty) if empty else ""

        form.require(missing)
        if form.exec() != QtWidgets.QDialog.DialogCode.Accepted:
            return None
        return {name: get() for name, get in getters.items()}

    def ask_disqualify(self, lead_name: str) -> tuple[str, str | None] | None:
        form = _Form(self.parent, "Disqualify lead", f"Disqualify {lead_name}")
        reason = form.combo("Reason", [("Choose a reason…", None)] + [
            (r.value.replace("_", " ").capitalize(), r.value) for r in DisqualifyReason])
        note = form.text("Note")
        form.require(lambda: "" if reason.currentData() else "A standard reason is required.")
        form.require(lambda: "Reason 'other' needs a note saying why."
                     if reason.currentData() == DisqualifyReason.OTHER.value
                     and not note.toPlainText().strip() else "")
        if form.exec() != QtWidgets.QDialog.DialogCode.Accepted:
            return None
        return reason.currentData(), note.toPlainText().strip() or None

    def ask_inbound(self, lead_name: str) -> InboundAnswer | None:
        form = _Form(self.parent, "Log inbound", f"{lead_name} got in touch")
        kind = form.combo("How", [("Email reply", "email"), ("Inbound call", "call"),
                                  ("SMS reply", "sms"), ("Social", "social")])
        outcome = form.combo("Outcome", [("—", None)] + [
            (t, o) for o, t in OUTCOME_LABELS.items()])
        body = form.text("What they said")
        if form.exec() != QtWidgets.QDialog.DialogCode.Accepted:
            return None
        return InboundAnswer(kind.currentData(), body.toPlainText().strip(),
                             outcome.currentData())

    # -- telling -----------------------------------------------------------------

    def show_error(self, title: str, message: str) -> None:
        QtWidgets.QMessageBox.warning(self.parent, title, message)

    def show_shortcuts(self, rows: list[tuple[str, str]]) -> None:
        box = QtWidgets.QDialog(self.parent)
        box.setWindowTitle("Keyboard shortcuts")
        layout = QtWidgets.QVBoxLayout(box)
        table = QtWidgets.QTableWidget(len(rows), 2, box)
        table.setHorizontalHeaderLabels(["Action", "Keys"])
        for i, (action, keys) in enumerate(rows):
            table.setItem(i, 0, QtWidgets.QTableWidgetItem(action))
            table.setItem(i, 1, QtWidgets.QTableWidgetItem(keys))
        table.verticalHeader().setVisible(False)
        table.horizontalHeader().setStretchLastSection(True)
        table.resizeColumnToContents(0)
        table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        layout.addWidget(table)
        box.resize(460, 560)
        box.exec()
