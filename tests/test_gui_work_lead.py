"""Working leads in the main window, end to end, on the small store.

The real Workspace does every write (off the GUI thread); only the modal
questions (StubDialogs) and the OS hand-off of tel:/mailto: links
(RecordingLinks) are replaced. Time is a FakeClock moved by hand and the
window's one ticker is stepped with ``window.tick()``.

The small store at T0 (a Wednesday, 15:00 UTC) gives Ada, in queue order:
call now: L1 (P1 new, New York), L2 (P2 new, Berlin), L6 (P4 new, unknown
zone, bad phone), L4 (P2 step due, London); later (calling window closed):
L3 (Sydney, night), L5 (Los Angeles, 07:00).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

pytestmark = pytest.mark.gui

from conftest import T0  # noqa: E402
from gui_stubs import RecordingLinks, StubDialogs  # noqa: E402
from test_gui_support import write_small_store  # noqa: E402

WAIT = 10_000


@pytest.fixture
def small_store(tmp_path: Path) -> tuple[Path, dict[str, object]]:
    path = tmp_path / "small.db"
    return path, write_small_store(path, T0)


@pytest.fixture
def ids(small_store):  # type: ignore[no-untyped-def]
    return small_store[1]


@pytest.fixture
def window(qtbot, small_store, tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    from leadqueue.clock import FakeClock
    from leadqueue.store import open_local_store
    from leadqueue.workspace import Workspace
    from ui.app import qapplication
    from ui.main_window import MainWindow
    from ui.qt import QApplication

    monkeypatch.setenv("LEADQUEUE_LOG_DIR", str(tmp_path / "logs"))
    qapplication()
    engine = open_local_store(small_store[0])
    ws = Workspace.open(engine, "ada@example.com", FakeClock(T0))
    win = MainWindow(ws, settings=None, store_label="small.db", show_switcher=False,
                     dialogs=StubDialogs(), os_links=RecordingLinks())
    win.auto_refresh = None  # the tests step time by hand
    # pytest-qt closes widgets before fixtures tear down: skip the wrap-up rule then.
    qtbot.addWidget(win, before_close_func=lambda w: w.force_close())
    with qtbot.waitSignals([win.sig_queue_loaded, win.sig_preview_loaded], timeout=WAIT):
        win.show()
        win.start()
    win.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is win, timeout=WAIT)
    assert win.view.hasFocus()  # keys work at once: start() focuses the queue
    idle(qtbot, win)
    yield win
    win.force_close()
    engine.dispose()


def idle(qtbot, win) -> None:  # type: ignore[no-untyped-def]
    """Wait until the window's executor has run everything it was given."""
    qtbot.waitUntil(lambda: not win.executor.busy, timeout=WAIT)


def key(qtbot, win, k, modifier=None) -> None:  # type: ignore[no-untyped-def]
    """Press a key where a rep's keys land: the queue list."""
    from ui.qt import Qt

    qtbot.keyClick(win.view, k, modifier or Qt.KeyboardModifier.NoModifier)


def click_lead(qtbot, win, lead_id) -> None:  # type: ignore[no-untyped-def]
    from ui.qt import Qt
    from ui.queue_model import COL_NAME

    row = win.model.row_of(lead_id)
    assert row >= 0
    rect = win.view.visualRect(win.model.index(row, COL_NAME))
    qtbot.mouseClick(win.view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def next_step(kind: str = "call", days: float = 1, text: str = "Try again"):  # type: ignore[no-untyped-def]
    from ui.dialogs import NextStepAnswer

    return NextStepAnswer(kind, T0 + timedelta(days=days), text)


def section_of(win, lead_id) -> str | None:  # type: ignore[no-untyped-def]
    return win.model.section_at(win.model.row_of(lead_id))


# -- the whole loop ---------------------------------------------------------------------


def test_work_a_lead_end_to_end(qtbot, window, ids) -> None:  # type: ignore[no-untyped-def]
    from ui.qt import Qt

    win, dialogs, links = window, window.dialogs, window.os_links
    assert win.active_lead == ids["L1"]  # the top of the queue opens at start
    assert [win.model.row_at(r).id for r in range(win.model.rowCount())
            if win.model.section_at(r) == "callable" and win.model.row_at(r)] == [
        ids["L1"], ids["L2"], ids["L6"], ids["L4"]]

    # Select: a click opens Jonas (and the core records the acknowledgement).
    with qtbot.waitSignal(win.sig_preview_loaded, timeout=WAIT) as opened:
        click_lead(qtbot, win, ids["L2"])
    assert opened.args == [ids["L2"]]
    assert "Jonas Becker" in win.preview.toPlainText()
    idle(qtbot, win)
    assert win.ws.lead(ids["L2"]).acknowledged_at == T0

    # Call: the tel: link goes to the OS adapter and the call timer runs.
    with qtbot.waitSignal(win.sig_call_started, timeout=WAIT) as call:
        key(qtbot, win, Qt.Key.Key_C)
    assert call.args == ["tel:+12125550100"] and links.urls == ["tel:+12125550100"]
    assert win.on_call and win.call_bar.isVisible()
    win.ws.clock.advance(seconds=95)
    win.tick()
    assert "1:35" in win.call_bar.label.text()

    # Hang up: the outcome is asked, logged, and the rules' next step proposed;
    # the rep closes that proposal without setting it.
    dialogs.answer("ask_outcome", ("no_answer", 95, "Rang out"))
    dialogs.answer("ask_next_step", None)
    with qtbot.waitSignal(win.sig_action_done, timeout=WAIT,
                          check_params_cb=lambda name, _r: name == "log_outcome"):
        key(qtbot, win, Qt.Key.Key_H)
    idle(qtbot, win)
    assert not win.on_call
    assert dialogs.last("ask_outcome")[0] == ("Jonas Becker", 95)
    proposal_args, _kwargs = dialogs.last("ask_next_step")
    assert proposal_args[1] is not None and proposal_args[2] is not None  # kind, time
    history = win.ws.lead(ids["L2"]).activities
    assert history[0].outcome == "no_answer" and history[0].duration_s == 95
    assert "No answer" in win.preview.toPlainText()
    assert win.wrap_state.worked and not win.wrap_state.complete

    # Wrap-up refused: no next step yet, so the next lead does not open.
    dialogs.answer("ask_wrap_up", None)  # "Stay on this lead"
    with qtbot.waitSignal(win.sig_wrap_up_refused, timeout=WAIT) as refused:
        key(qtbot, win, Qt.Key.Key_J)
    qtbot.waitUntil(lambda: "ask_wrap_up" in dialogs.names(), timeout=WAIT)
    assert refused.args[0]  # the core's message, shown as is
    assert win.active_lead == ids["L2"]
    assert win.current_lead_id() == ids["L2"]
    # A click elsewhere is refused the same way.
    dialogs.answer("ask_wrap_up", None)
    with qtbot.waitSignal(win.sig_wrap_up_refused, timeout=WAIT):
        click_lead(qtbot, win, ids["L4"])
    assert win.active_lead == ids["L2"] and win.current_lead_id() == ids["L2"]
    qtbot.waitUntil(lambda: dialogs.names().count("ask_wrap_up") == 2, timeout=WAIT)

    # Accepted with a next step: the queue re-ranks (Jonas is no longer due).
    dialogs.answer("ask_next_step", next_step("call", 1, "Second try"))
    with qtbot.waitSignal(win.sig_action_done, timeout=WAIT,
                          check_params_cb=lambda name, _r: name == "next_step"):
        key(qtbot, win, Qt.Key.Key_D)
    assert win.wrap_state.complete
    assert section_of(win, ids["L2"]) == "upcoming"
    detail = win.ws.lead(ids["L2"])
    assert detail.next_step == "Second try" and detail.next_step_at == T0 + timedelta(days=1)

    # The next lead loads: the best lead still due.
    with qtbot.waitSignal(win.sig_preview_loaded, timeout=WAIT) as nxt:
        key(qtbot, win, Qt.Key.Key_J)
    assert nxt.args == [ids["L1"]]
    assert win.active_lead == ids["L1"] and "Priya Shah" in win.preview.toPlainText()


def test_wrap_up_prompt_sets_the_next_step_then_goes_on(qtbot, window, ids) -> None:  # type: ignore[no-untyped-def]
    from ui.dialogs import WRAP_NEXT_STEP

    win, dialogs = window, window.dialogs
    dialogs.answer("ask_note", "Asked for a call after lunch")
    with qtbot.waitSignal(win.sig_action_done, timeout=WAIT):
        win.act_note()
    assert win.wrap_state.worked and not win.wrap_state.complete
    # Leaving is refused; the rep picks "Set next step…" in the prompt and,
    # once it is saved, lands on the lead they clicked.
    dialogs.answer("ask_wrap_up", WRAP_NEXT_STEP)
    dialogs.answer("ask_next_step", next_step("callback", 0.1, "After lunch"))
    with qtbot.waitSignal(win.sig_lead_opened, timeout=WAIT) as opened:
        click_lead(qtbot, win, ids["L4"])
    assert opened.args == [ids["L4"]]
    assert win.ws.lead(ids["L1"]).next_step == "After lunch"
    assert dialogs.names()[-2:] == ["ask_wrap_up", "ask_next_step"]


def test_disqualify_closes_the_lead_and_the_next_one_opens(qtbot, window, ids) -> None:  # type: ignore[no-untyped-def]
    win, dialogs = window, window.dialogs
    dialogs.answer("ask_disqualify", ("other", None))
    with qtbot.waitSignal(win.sig_action_refused, timeout=WAIT) as refused:
        win.act_disqualify()
    assert dialogs.errors and dialogs.errors[-1][1] == refused.args[1]
    assert win.ws.lead(ids["L1"]).status == "new"
    dialogs.answer("ask_disqualify", ("duplicate", "Same person as L2"))
    with qtbot.waitSignal(win.sig_action_done, timeout=WAIT):
        win.act_disqualify()
    assert win.ws.lead(ids["L1"]).status == "disqualified"
    assert win.model.row_of(ids["L1"]) == -1
    assert win.active_lead == ids["L2"]  # the next best lead


def test_calling_a_lead_with_a_bad_phone_is_refused_plainly(qtbot, window, ids) -> None:  # type: ignore[no-untyped-def]
    win = window
    with qtbot.waitSignal(win.sig_preview_loaded, timeout=WAIT):
        click_lead(qtbot, win, ids["L6"])
    assert "Phone number can't be read" in win.preview.toPlainText()
    assert "call me maybe" in win.preview.header.flags.text()
    win.act_call()
    assert win.os_links.urls == [] and not win.on_call
    assert "No dialable phone" in win.statusBar().currentMessage()


def test_email_opens_mailto_copies_and_logs_a_touch(qtbot, window, ids) -> None:  # type: ignore[no-untyped-def]
    win = window
    with qtbot.waitSignal(win.sig_action_done, timeout=WAIT):
        win.act_email()
    url = win.os_links.urls[-1]
    assert url.startswith("mailto:priya@l1.example")
    assert win.os_links.copied
    tpl = win.preview.data.template
    if tpl is not None and tpl.channel == "email":
        assert "subject=" in url and "Priya" in win.os_links.copied[-1]
    assert win.ws.lead(ids["L1"]).activities[0].kind == "email"


def test_snooze_moves_the_lead_to_upcoming(qtbot, window, ids) -> None:  # type: ignore[no-untyped-def]
    win, dialogs = window, window.dialogs
    dialogs.answer("ask_snooze", T0 + timedelta(hours=3))
    with qtbot.waitSignal(win.sig_action_done, timeout=WAIT):
        win.act_snooze()
    assert section_of(win, ids["L1"]) == "upcoming"
    assert "Snoozed" in win.model.index(win.model.row_of(ids["L1"]), 4).data()


def test_correcting_an_entry_strikes_the_old_one(qtbot, window, ids) -> None:  # type: ignore[no-untyped-def]
    from ui.dialogs import CorrectionAnswer

    win, dialogs = window, window.dialogs
    with qtbot.waitSignal(win.sig_preview_loaded, timeout=WAIT):
        click_lead(qtbot, win, ids["L4"])
    old = win.preview.data.detail.activities[0]
    assert old.outcome == "voicemail"
    dialogs.answer("ask_correction", CorrectionAnswer(old.id, "no_answer", None))
    with qtbot.waitSignal(win.sig_action_done, timeout=WAIT):
        win.act_correct()
    acts = win.preview.data.detail.activities
    assert len(acts) == 2 and acts[0].supersedes_id == old.id
    assert "(superseded)" in win.preview.toPlainText()
    assert "corrects an earlier entry" in win.preview.toPlainText()


def test_inbound_reply_is_logged(qtbot, window, ids) -> None:  # type: ignore[no-untyped-def]
    from ui.dialogs import InboundAnswer

    win, dialogs = window, window.dialogs
    dialogs.answer("ask_inbound", InboundAnswer("email", "Yes, call me Friday", None))
    dialogs.answer("ask_next_step", None)
    with qtbot.waitSignal(win.sig_action_done, timeout=WAIT):
        win.act_inbound()
    first = win.ws.lead(ids["L1"]).activities[0]
    assert first.direction == "inbound" and first.body == "Yes, call me Friday"
    assert "Inbound email" in win.preview.toPlainText()


def test_new_lead_and_contact_edit(qtbot, window, ids) -> None:  # type: ignore[no-untyped-def]
    win, dialogs = window, window.dialogs
    dialogs.answer("ask_fields", {"first_name": "Nina", "last_name": "Park",
                                  "company": "Orbit AB", "phone": "+46 8 123 456 78",
                                  "priority": 2, "lead_class": "high_intent",
                                  "source": "manual", "email": None})
    with qtbot.waitSignal(win.sig_action_done, timeout=WAIT) as done:
        win.act_new_lead()
    new_id = done.args[1]
    assert win.ws.lead(new_id).company == "Orbit AB"
    assert win.model.row_of(new_id) >= 0  # in the queue straight away
    qtbot.waitUntil(lambda: win.active_lead == new_id, timeout=WAIT)
    idle(qtbot, win)
    initial_title = win.preview.data.detail.title
    dialogs.answer("ask_fields", {"first_name": "Nina", "last_name": "Park-Lee",
                                  "company": "Orbit AB", "title": initial_title,
                                  "email": "nina@orbit.example"})
    with qtbot.waitSignal(win.sig_action_done, timeout=WAIT):
        win.act_edit_contact()
    detail = win.ws.lead(new_id)
    assert detail.last_name == "Park-Lee" and detail.email == "nina@orbit.example"
    assert "Nina Park-Lee" in win.preview.toPlainText()


def test_closing_the_window_is_refused_until_wrapped_up(qtbot, window, ids) -> None:  # type: ignore[no-untyped-def]
    win, dialogs = window, window.dialogs
    dialogs.answer("ask_note", "Left details with the assistant")
    with qtbot.waitSignal(win.sig_action_done, timeout=WAIT):
        win.act_note()
    dialogs.answer("ask_wrap_up", None)
    with qtbot.waitSignal(win.sig_wrap_up_refused, timeout=WAIT):
        assert not win.close()
    assert win.isVisible()
    qtbot.waitUntil(lambda: "ask_wrap_up" in dialogs.names(), timeout=WAIT)


# -- progressive dialing --------------------------------------------------------------------


def _wrap_up_first_lead(qtbot, win) -> None:  # type: ignore[no-untyped-def]
    from ui.qt import Qt

    win.dialogs.answer("ask_next_step", next_step("call", 2, "Voicemail follow-up"))
    with qtbot.waitSignal(win.sig_dial_countdown, timeout=WAIT):
        key(qtbot, win, Qt.Key.Key_2)  # 2: log "voicemail", confirm the proposed step


def test_progressive_mode_counts_down_then_calls(qtbot, window, ids) -> None:  # type: ignore[no-untyped-def]
    from ui.qt import Qt

    win = window
    key(qtbot, win, Qt.Key.Key_M)
    assert win.mode == "progressive" and "Progressive" in win.status_mode.text()
    _wrap_up_first_lead(qtbot, win)
    assert win.ws.lead(ids["L1"]).activities[0].outcome == "voicemail"
    assert win.active_lead == ids["L2"]
    assert win.dial_bar.isVisible() and "in 5 s" in win.dial_bar.label.text()
    win.ws.clock.advance(seconds=3)
    win.tick()
    assert "in 2 s" in win.dial_bar.label.text() and win.os_links.urls == []
    win.ws.clock.advance(seconds=2)
    with qtbot.waitSignal(win.sig_call_started, timeout=WAIT):
        win.tick()
    assert win.on_call and not win.dial_bar.isVisible()
    assert win.os_links.urls == ["tel:+12125550100"]


def test_progressive_countdown_can_be_cancelled(qtbot, window, ids) -> None:  # type: ignore[no-untyped-def]
    from ui.qt import Qt

    win = window
    win.set_mode("progressive")
    _wrap_up_first_lead(qtbot, win)
    with qtbot.waitSignal(win.sig_dial_cancelled, timeout=WAIT):
        key(qtbot, win, Qt.Key.Key_Escape)
    assert not win.dial_bar.isVisible() and not win.dial_pending
    win.ws.clock.advance(seconds=30)
    win.tick()
    assert win.os_links.urls == [] and not win.on_call
    assert win.active_lead == ids["L2"]  # the lead stays open for the rep


# -- filters, search and keys ----------------------------------------------------------------


def _shown(win) -> set:  # type: ignore[no-untyped-def]
    return {win.model.row_at(r).id for r in range(win.model.rowCount())
            if win.model.row_at(r) is not None}


def test_filters_and_search_filter_in_the_core(qtbot, window, ids) -> None:  # type: ignore[no-untyped-def]
    win = window
    win.priority_filter.setCurrentIndex(win.priority_filter.findData(2))
    assert _shown(win) == {ids["L2"], ids["L4"]}
    assert "showing 2" in win.queue_title.text()
    win.priority_filter.setCurrentIndex(0)
    win.section_filter.setCurrentIndex(win.section_filter.findData("section:later"))
    assert _shown(win) == {ids["L3"], ids["L5"]}
    assert win.model.header_rows() == [0]  # one section header: "Later"
    win.section_filter.setCurrentIndex(win.section_filter.findData("tier:3"))
    assert _shown(win) == {ids["L4"], ids["L3"], ids["L5"]}
    win.section_filter.setCurrentIndex(0)
    win.source_filter.setCurrentIndex(win.source_filter.findData("webinar"))
    assert _shown(win) == {ids["L3"], ids["L5"], ids["L6"]}
    win.source_filter.setCurrentIndex(0)
    win.search.setText("kestrel")
    assert _shown(win) == {ids["L4"]}
    win.search.setText("priya@l1")
    assert _shown(win) == {ids["L1"]}
    win.search.setText("(212) 555-01")  # typed like a person types a number
    assert _shown(win) == {ids[k] for k in ("L1", "L2", "L3", "L4", "L5")}
    win.search.setText("nobody at all")
    assert _shown(win) == set() and win.model.rowCount() == 0
    assert win.active_lead == ids["L1"]  # filtering never switches the open lead
    win.search.setText("")
    assert len(_shown(win)) == 6


def test_search_enter_opens_the_first_match(qtbot, window, ids) -> None:  # type: ignore[no-untyped-def]
    from ui.qt import Qt

    win = window
    key(qtbot, win, Qt.Key.Key_Slash)
    assert win.search.hasFocus()
    qtbot.keyClicks(win.search, "hughes")
    assert win.active_lead == ids["L1"]
    with qtbot.waitSignal(win.sig_preview_loaded, timeout=WAIT) as opened:
        qtbot.keyClick(win.search, Qt.Key.Key_Return)
    assert opened.args == [ids["L4"]] and win.view.hasFocus()


@pytest.mark.parametrize(("keys", "question"), [
    ("N", "ask_note"), ("S", "ask_snooze"), ("D", "ask_next_step"),
    ("X", "ask_disqualify"), ("I", "ask_inbound"), ("L", "ask_outcome"),
    ("Ctrl+Z", "ask_correction"), ("F2", "ask_fields"), ("Ctrl+N", "ask_fields"),
])
def test_keys_open_their_action(qtbot, window, keys, question) -> None:  # type: ignore[no-untyped-def]
    from ui.qt import QKeySequence

    win = window
    win.dialogs.answer(question, None)  # the rep cancels: nothing is written
    combo = QKeySequence(keys)[0]
    key(qtbot, win, combo.key(), combo.keyboardModifiers())
    assert win.dialogs.names() == [question]


@pytest.mark.parametrize("keys", ["F1", "?"])
def test_shortcuts_help_on_f1_and_question_mark(qtbot, window, keys) -> None:  # type: ignore[no-untyped-def]
    from ui.qt import QKeySequence

    win = window
    combo = QKeySequence(keys)[0]
    key(qtbot, win, combo.key(), combo.keyboardModifiers())
    assert win.dialogs.shortcuts_shown == 1
    described = dict(win.dialogs.shortcut_rows)
    assert described["Log outcome: Voicemail"] == "2"
    assert described["Call the lead (tel: link) and start the timer"] == "C"


def test_typing_in_search_does_not_fire_letter_keys(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    win = window
    win.search.setFocus()
    qtbot.keyClicks(win.search, "nsdxc2")
    assert win.dialogs.asked == [] and win.os_links.urls == []
    assert win.search.text() == "nsdxc2"


def test_status_line_says_who_where_and_how_many_due(window) -> None:  # type: ignore[no-untyped-def]
    win = window
    assert win.status_me.text() == "Ada Rep · Rep · East"
    assert win.status_store.text() == "Store: small.db"
    assert "Offline" in win.status_online.text()
    assert win.status_due.text() == "4 due now"
    assert win.status_mode.text() == "Preview dialing"


def test_model_with_sections_and_filter_passes_qtmodeltester(qtmodeltester, window) -> None:  # type: ignore[no-untyped-def]
    qtmodeltester.check(window.model, force_py=True)
    window.search.setText("a")
    qtmodeltester.check(window.model, force_py=True)


@pytest.mark.parametrize("number", range(1, 9))
def test_every_outcome_is_logged_from_its_number_key(qtbot, window, ids, number) -> None:  # type: ignore[no-untyped-def]
    from leadqueue.enums import CallOutcome
    from ui.actions import OUTCOME_LABELS
    from ui.qt import QKeySequence

    win = window
    outcome = list(OUTCOME_LABELS)[number - 1]
    assert outcome in {o.value for o in CallOutcome}
    win.dialogs.answer("ask_next_step", None)
    combo = QKeySequence(str(number))[0]
    with qtbot.waitSignal(win.sig_action_done, timeout=WAIT) as done:
        key(qtbot, win, combo.key())
    assert done.args[0] == "log_outcome" and done.args[1].status
    assert win.ws.lead(ids["L1"]).activities[0].outcome == outcome
    assert OUTCOME_LABELS[outcome] in win.preview.toPlainText()


def test_meeting_booked_confirms_its_step_on_that_lead_then_moves_on(qtbot, window, ids) -> None:  # type: ignore[no-untyped-def]
    from ui.qt import Qt

    win, dialogs = window, window.dialogs
    dialogs.answer("ask_next_step", next_step("email", 0.1, "Confirm the meeting"))
    with qtbot.waitSignal(win.sig_action_done, timeout=WAIT,
                          check_params_cb=lambda name, _r: name == "next_step"):
        key(qtbot, win, Qt.Key.Key_7)  # meeting booked: the lead leaves the queue
    args, _kwargs = dialogs.last("ask_next_step")
    assert args[0] == "Priya Shah"  # asked about the lead the meeting was booked with
    detail = win.ws.lead(ids["L1"])
    assert detail.status == "meeting" and detail.next_step == "Confirm the meeting"
    assert win.ws.lead(ids["L2"]).next_step != "Confirm the meeting"
    assert win.model.row_of(ids["L1"]) == -1
    qtbot.waitUntil(lambda: win.active_lead == ids["L2"], timeout=WAIT)  # the next lead
