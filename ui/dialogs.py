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

from leadqueue.enums import CallOutcome, DisqualifyReason, NextStepKind
from ui.qt import QtCore, QtWidgets
from ui.queue_model import zone

OUTCOME_LABELS = {
    CallOutcome.CONNECTED: "Connected", CallOutcome.VOICEMAIL: "Voicemail",
    CallOutcome.NO_ANSWER: "No answer", CallOutcome.BUSY: "Busy",
    CallOutcome.WRONG_NUMBER: "Wrong number", CallOutcome.BAD_NUMBER: "Bad number",
    CallOutcome.MEETING_BOOKED: "Meeting booked",
    CallOutcome.NOT_INTERESTED: "Not interested",
}


@dataclass(frozen=True)
class NextStepAnswer:
    kind: str
    at: datetime
    text: str


@dataclass(frozen=True)
class InboundAnswer:
    kind: str          # activity kind: call / email / sms / social
    body: str
    outcome: str | None


def snooze_presets(now: datetime, tz: str | None) -> list[tuple[str, datetime]]:
    """1 h, 3 h, tomorrow 09:00 and next Monday 09:00 (their time when known)."""
    z = zone(tz)
    local = now.astimezone(z) if z else now.astimezone()
    nine = time(9, 0)
    tomorrow = datetime.combine(local.date() + timedelta(days=1), nine, local.tzinfo)
    monday = datetime.combine(local.date() + timedelta(days=(7 - local.weekday()) or 7), nine,
                              local.tzinfo)
    return [("1 hour", now + timedelta(hours=1)), ("3 hours", now + timedelta(hours=3)),
            ("Tomorrow 09:00", tomorrow), ("Next Monday 09:00", monday)]


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
        outcome = form.combo("Outcome", [(t, o.value) for o, t in OUTCOME_LABELS.items()])
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
        choice = form.combo("Until", [*((t, at) for t, at in presets), ("Pick a time…", None)])
        at = form.when("Time", presets[0][1])
        choice.currentIndexChanged.connect(
            lambda _i: choice.currentData() and at.setDateTime(_to_qdatetime(choice.currentData())))
        if form.exec() != QtWidgets.QDialog.DialogCode.Accepted:
            return None
        return _from_qdatetime(at.dateTime())

    def ask_next_step(self, lead_name: str, kind: str | None, at: datetime | None,
                      text: str | None, now: datetime) -> NextStepAnswer | None:
        form = _Form(self.parent, "Set next step",
                     f"Next step for {lead_name}" + (" (proposed by the cadence)" if kind else ""))
        kind_box = form.combo("Kind", [(k.value.capitalize(), k.value) for k in NextStepKind],
                              kind or NextStepKind.CALL.value)
        when = form.when("When", at or now + timedelta(days=1))
        what = form.line("What", text or "")
        form.require(lambda: "" if what.text().strip() else "Say what the next step is.")
        if form.exec() != QtWidgets.QDialog.DialogCode.Accepted:
            return None
        return NextStepAnswer(kind_box.currentData(), _from_qdatetime(when.dateTime()),
                              what.text().strip())

    def ask_disqualify(self, lead_name: str) -> tuple[str, str | None] | None:
        form = _Form(self.parent, "Disqualify lead", f"Disqualify {lead_name}")
        reason = form.combo("Reason", [("Choose a reason…", None)] + [
            (r.value.replace("_", " ").capitalize(), r.value) for r in DisqualifyReason])
        note = form.text("Note")
        form.require(lambda: "" if reason.currentData() else "A standard reason is required.")
        if form.exec() != QtWidgets.QDialog.DialogCode.Accepted:
            return None
        return reason.currentData(), note.toPlainText().strip() or None

    def ask_lead_fields(self, title: str, fields: dict[str, str | None]
                        ) -> dict[str, str | None] | None:
        """New lead / edit contact: the text fields, prefilled from ``fields``."""
        form = _Form(self.parent, title)
        edits = {name: form.line(name.replace("_", " ").capitalize(), value or "")
                 for name, value in fields.items()}
        if "first_name" in edits:
            form.require(lambda: "" if edits["first_name"].text().strip()
                         and edits["last_name"].text().strip() else
                         "First and last name are required.")
        if form.exec() != QtWidgets.QDialog.DialogCode.Accepted:
            return None
        return {name: (e.text().strip() or None) for name, e in edits.items()}

    def ask_inbound(self, lead_name: str) -> InboundAnswer | None:
        form = _Form(self.parent, "Log inbound", f"{lead_name} got in touch")
        kind = form.combo("How", [("Email reply", "email"), ("Inbound call", "call"),
                                  ("SMS reply", "sms"), ("Social", "social")])
        outcome = form.combo("Outcome", [("—", None)] + [
            (t, o.value) for o, t in OUTCOME_LABELS.items()])
        body = form.text("What they said")
        if form.exec() != QtWidgets.QDialog.DialogCode.Accepted:
            return None
        return InboundAnswer(kind.currentData(), body.toPlainText().strip(),
                             outcome.currentData())

    # -- telling -----------------------------------------------------------------

    def show_problems(self, title: str, problems: list[str]) -> None:
        QtWidgets.QMessageBox.warning(self.parent, title, "\n".join(f"• {p}" for p in problems))

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
