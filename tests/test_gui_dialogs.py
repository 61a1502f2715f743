"""The real modal dialogs of ``ui.dialogs``: they build, answer and refuse.

Window tests replace ``Dialogs`` with a stub; these drive the real ones. Each
test arms a zero-delay timer that finds the open modal dialog, fills it in and
presses OK (or Cancel), then calls the ``ask_*`` method, which blocks in the
dialog's own event loop until then. A dialog that failed to open would leave
the timer with nothing to close and the test would fail on its assertion.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from conftest import T0

pytestmark = pytest.mark.gui


@pytest.fixture
def dialogs(qtbot):  # type: ignore[no-untyped-def]
    from ui.dialogs import Dialogs
    from ui.qt import QtWidgets

    parent = QtWidgets.QWidget()
    qtbot.addWidget(parent)
    return Dialogs(parent)


def when_open(qtbot, act: Callable[[Any], None]) -> list[Any]:  # type: ignore[no-untyped-def]
    """Run ``act(dialog)`` on the modal dialog as soon as it is open."""
    from ui.qt import QApplication, QTimer

    seen: list[Any] = []

    def poke() -> None:
        box = QApplication.activeModalWidget()
        if box is None:
            QTimer.singleShot(10, poke)
            return
        seen.append(box)
        act(box)

    QTimer.singleShot(0, poke)
    return seen


def ok(box) -> None:  # type: ignore[no-untyped-def]
    from ui.qt import QtWidgets

    buttons = box.findChild(QtWidgets.QDialogButtonBox)
    buttons.button(QtWidgets.QDialogButtonBox.StandardButton.Ok).click()


def combo(box, index: int, pick: Any) -> None:  # type: ignore[no-untyped-def]
    from ui.qt import QtWidgets

    boxes = box.findChildren(QtWidgets.QComboBox)
    boxes[index].setCurrentIndex(boxes[index].findData(pick))


def test_outcome_dialog_returns_outcome_duration_and_note(qtbot, dialogs) -> None:  # type: ignore[no-untyped-def]
    from ui.qt import QtWidgets

    def fill(box) -> None:  # type: ignore[no-untyped-def]
        combo(box, 0, "voicemail")
        box.findChild(QtWidgets.QPlainTextEdit).setPlainText("Left a message")
        ok(box)

    seen = when_open(qtbot, fill)
    assert dialogs.ask_outcome("Priya Shah", 95) == ("voicemail", 95, "Left a message")
    assert seen


def test_cancel_returns_none(qtbot, dialogs) -> None:  # type: ignore[no-untyped-def]
    when_open(qtbot, lambda box: box.reject())
    assert dialogs.ask_note("Priya Shah") is None


def test_note_needs_text(qtbot, dialogs) -> None:  # type: ignore[no-untyped-def]
    from ui.qt import QtWidgets

    errors: list[str] = []

    def fill(box) -> None:  # type: ignore[no-untyped-def]
        ok(box)  # empty: refused, the dialog stays open with the reason
        errors.append(box.findChild(QtWidgets.QLabel, "form_error").text())
        box.findChild(QtWidgets.QPlainTextEdit).setPlainText("Call after 3")
        ok(box)

    when_open(qtbot, fill)
    assert dialogs.ask_note("Priya Shah") == "Call after 3"
    assert errors == ["Write something first."]


def test_disqualify_needs_a_reason_and_other_needs_a_note(qtbot, dialogs) -> None:  # type: ignore[no-untyped-def]
    from ui.qt import QtWidgets

    errors: list[str] = []

    def fill(box) -> None:  # type: ignore[no-untyped-def]
        label = box.findChild(QtWidgets.QLabel, "form_error")
        ok(box)
        errors.append(label.text())
        combo(box, 0, "other")
        ok(box)
        errors.append(label.text())
        box.findChild(QtWidgets.QPlainTextEdit).setPlainText("Student project")
        ok(box)

    when_open(qtbot, fill)
    assert dialogs.ask_disqualify("Priya Shah") == ("other", "Student project")
    assert errors == ["A standard reason is required.",
                      "Reason 'other' needs a note saying why."]


def test_snooze_offers_presets_in_their_time(qtbot, dialogs) -> None:  # type: ignore[no-untyped-def]
    from ui.dialogs import snooze_presets

    presets = snooze_presets(T0, "Europe/Berlin")
    assert [label for label, _ in presets][2] == "Tomorrow 09:00 (their time)"
    assert presets[2][1].isoformat() == "2026-03-05T09:00:00+01:00"

    def fill(box) -> None:  # type: ignore[no-untyped-def]
        combo(box, 0, 2)
        ok(box)

    when_open(qtbot, fill)
    assert dialogs.ask_snooze(T0, "Europe/Berlin") == presets[2][1]


def test_next_step_with_a_closing_status(qtbot, dialogs) -> None:  # type: ignore[no-untyped-def]
    from ui.qt import QtWidgets

    def fill(box) -> None:  # type: ignore[no-untyped-def]
        combo(box, 0, "no_response")   # status
        combo(box, 1, "unreachable")   # its reason
        box.findChild(QtWidgets.QLineEdit).setText("")
        ok(box)

    when_open(qtbot, fill)
    answer = dialogs.ask_next_step("Priya Shah", "call", T0 + timedelta(days=1), "Retry", T0,
                                   statuses=("nurture", "no_response"))
    assert answer is not None
    assert (answer.status, answer.reason, answer.kind, answer.at) == (
        "no_response", "unreachable", None, None)


def test_next_step_keeps_the_proposal(qtbot, dialogs) -> None:  # type: ignore[no-untyped-def]
    when_open(qtbot, ok)
    at = T0 + timedelta(days=2)
    answer = dialogs.ask_next_step("Priya Shah", "email", at, "Send the case study", T0)
    assert answer is not None
    assert (answer.kind, answer.at, answer.text, answer.status) == (
        "email", at, "Send the case study", None)


def test_wrap_up_prompt_offers_the_next_step(qtbot, dialogs) -> None:  # type: ignore[no-untyped-def]
    from ui.dialogs import WRAP_NEXT_STEP

    when_open(qtbot, lambda box: box.defaultButton().click())
    assert dialogs.ask_wrap_up("Priya Shah", "Set a next step first.",
                               ("next_step_at",)) == WRAP_NEXT_STEP


def test_correction_picks_an_entry_and_a_new_outcome(qtbot, dialogs) -> None:  # type: ignore[no-untyped-def]
    import uuid

    from leadqueue.views import ActivityView

    old = ActivityView(uuid.uuid4(), "call", "outbound", "voicemail", T0, "Ada", 40, None, None)

    def fill(box) -> None:  # type: ignore[no-untyped-def]
        combo(box, 1, "connected")
        ok(box)

    when_open(qtbot, fill)
    answer = dialogs.ask_correction("Priya Shah", (old,))
    assert answer is not None and (answer.activity_id, answer.outcome, answer.body) == (
        old.id, "connected", None)


def test_lead_form_requires_the_names(qtbot, dialogs) -> None:  # type: ignore[no-untyped-def]
    from leadqueue.views import NewLead
    from ui.main_window import NEW_LEAD_FIELDS, _form_specs
    from ui.qt import QtWidgets

    specs = _form_specs(NewLead, only=NEW_LEAD_FIELDS)
    assert [s.name for s in specs] == list(NEW_LEAD_FIELDS)
    assert [s.name for s in specs if s.required] == ["first_name", "last_name"]
    errors: list[str] = []

    def fill(box) -> None:  # type: ignore[no-untyped-def]
        ok(box)
        errors.append(box.findChild(QtWidgets.QLabel, "form_error").text())
        edits = box.findChildren(QtWidgets.QLineEdit)
        edits[0].setText("Nina")
        edits[1].setText("Park")
        ok(box)

    when_open(qtbot, fill)
    answer = dialogs.ask_fields("New lead", specs, {"priority": 2, "source": "manual"})
    assert errors == ["Required: First name, Last name"]
    assert answer is not None
    assert (answer["first_name"], answer["last_name"], answer["priority"],
            answer["source"], answer["company_size"]) == ("Nina", "Park", 2, "manual", None)
