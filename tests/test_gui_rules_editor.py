"""The rules editor: who sees it, what it shows, and the core's refusals shown
next to the field they name."""

from __future__ import annotations

from pathlib import Path

import pytest

from leadqueue.clock import FakeClock
from leadqueue.notify import ProbeResult

pytestmark = pytest.mark.gui

from conftest import T0  # noqa: E402
from test_gui_support import write_small_store  # noqa: E402


@pytest.fixture
def open_window(qtbot, tmp_path: Path, monkeypatch):  # type: ignore[no-untyped-def]
    import ui.notifications as notifications
    from leadqueue.store import open_local_store
    from leadqueue.workspace import Workspace
    from ui.app import qapplication
    from ui.main_window import MainWindow

    monkeypatch.setenv("LEADQUEUE_LOG_DIR", str(tmp_path / "logs"))
    monkeypatch.setattr(notifications, "probe_plyer",
                        lambda *a, **k: ProbeResult(False, "none", "test"))
    qapplication()
    path = tmp_path / "small.db"
    write_small_store(path, T0)
    engine = open_local_store(path)
    from leadqueue.rulebook import ensure_defaults
    from leadqueue.store import session_scope

    with session_scope(engine) as s:
        ensure_defaults(s)  # the playbook's cadence and its templates
    windows = []

    def make(email: str):  # type: ignore[no-untyped-def]
        ws = Workspace.open(engine, email, FakeClock(T0))
        win = MainWindow(ws, store_label="small.db", show_switcher=False)
        qtbot.addWidget(win)
        windows.append(win)
        return win

    yield make
    for win in windows:
        win.force_close()
    engine.dispose()


def editor_for(qtbot, win):  # type: ignore[no-untyped-def]
    """Open the editor as the menu entry does, and wait for the rule book."""
    action = win.findChild(object, "action_rules_editor")
    assert action is not None and action.isVisible()
    action.trigger()
    editor = getattr(win, "_rules_editor", None)
    assert editor is not None and editor.isVisible()
    qtbot.waitUntil(lambda: editor.book is not None, timeout=10_000)
    return editor


def save_and_wait(qtbot, editor, page, refused: bool):  # type: ignore[no-untyped-def]
    signal = editor.sig_refused if refused else editor.sig_saved
    with qtbot.waitSignal(signal, timeout=10_000) as blocker:
        page.save_button.click()
    return blocker.args


def test_a_rep_does_not_see_the_rules_entry(open_window) -> None:  # type: ignore[no-untyped-def]
    win = open_window("ada@example.com")
    action = win.findChild(object, "action_rules_editor")
    assert action is not None and not action.isVisible() and not action.isEnabled()
    assert not win.menus["team"].menuAction().isVisible()


def test_team_lead_and_admin_see_it(open_window) -> None:  # type: ignore[no-untyped-def]
    for email in ("lea@example.com", "admin@example.com"):
        win = open_window(email)
        action = win.findChild(object, "action_rules_editor")
        assert action.isVisible() and win.menus["team"].menuAction().isVisible()


def test_editor_shows_the_rule_book(qtbot, open_window) -> None:  # type: ignore[no-untyped-def]
    editor = editor_for(qtbot, open_window("admin@example.com"))
    sla = editor.sla
    assert sla.list.count() == 4 and sla.list.item(0).text().startswith("P1 · 5 min")
    assert sla.target.text() == "5"
    assert sla.ladder.rows() == 4
    assert [sla.ladder.cell(r, 0).text() for r in range(4)] == ["0", "30", "120", "240"]
    assert (sla.ack_backup.text(), sla.ack_pool.text()) == ("15", "30")
    cad = editor.cadences
    assert cad.list.count() >= 1 and cad.steps.rows() == 7
    assert editor.templates.merge.count() >= 5


def test_negative_ladder_offset_is_shown_at_the_ladder(qtbot, open_window) -> None:  # type: ignore[no-untyped-def]
    editor = editor_for(qtbot, open_window("admin@example.com"))
    sla = editor.sla
    sla.ladder.cell(1, 0).setText("-5")
    field, problem = save_and_wait(qtbot, editor, sla, refused=True)
    assert field == "ladder[1].offset_minutes" and "negative" in problem
    error = sla.error_label("ladder")
    assert error is not None and not error.isHidden()
    assert error.text().startswith("Stage 2:") and "-5 is negative" in error.text()
    assert sla.ladder.table.currentRow() == 1
    assert sla.error_label("first_response_minutes").isHidden()
    assert "Not saved" in sla.message.text()


def test_sla_without_target_but_with_a_ladder_is_refused(qtbot, open_window) -> None:  # type: ignore[no-untyped-def]
    editor = editor_for(qtbot, open_window("admin@example.com"))
    sla = editor.sla
    sla.target.setText("")
    field, _problem = save_and_wait(qtbot, editor, sla, refused=True)
    assert field == "first_response_minutes"
    assert "no first-response target" in sla.error_label("first_response_minutes").text()
    # A field the form passes on as typed is named by the core, too.
    sla.target.setText("soon")
    field, problem = save_and_wait(qtbot, editor, sla, refused=True)
    assert field == "first_response_minutes" and "whole number" in problem
    # Fixing it clears the error and saves.
    sla.target.setText("10")
    what, spec = save_and_wait(qtbot, editor, sla, refused=False)
    assert what == "sla" and spec.first_response_minutes == 10
    assert sla.error_label("first_response_minutes").isHidden()
    assert editor.ws.rule_book().sla_policy(1).first_response_minutes == 10
    qtbot.waitUntil(lambda: sla.list.item(0).text().startswith("P1 · 10 min"), timeout=5_000)


def test_bad_business_hours_name_their_field(qtbot, open_window) -> None:  # type: ignore[no-untyped-def]
    editor = editor_for(qtbot, open_window("admin@example.com"))
    sla = editor.sla
    sla.bh_enabled.setChecked(True)
    sla.bh_start.setText("18:00")
    field, _ = save_and_wait(qtbot, editor, sla, refused=True)
    assert field == "business_hours.end"
    assert "not after the start" in sla.error_label("business_hours.start").text()
    sla.bh_start.setText("09:00")
    sla.holidays.setText("2026-12-25, 2026-13-01")
    field, _ = save_and_wait(qtbot, editor, sla, refused=True)
    assert field == "business_hours.holidays[1]"
    assert "2026-13-01" in sla.error_label("business_hours.holidays").text()


def test_cadence_with_a_negative_day_is_refused_at_its_step(qtbot, open_window) -> None:  # type: ignore[no-untyped-def]
    editor = editor_for(qtbot, open_window("admin@example.com"))
    cad = editor.cadences
    cad.steps.cell(2, 0).setText("-1")
    field, problem = save_and_wait(qtbot, editor, cad, refused=True)
    assert field == "steps[2].day_offset" and "negative" in problem
    text = cad.error_label("steps").text()
    assert text.startswith("Step 3:") and "-1 is negative" in text


def test_template_with_an_unknown_field_is_refused_at_the_body(qtbot, open_window) -> None:  # type: ignore[no-untyped-def]
    editor = editor_for(qtbot, open_window("admin@example.com"))
    tpl = editor.templates
    before = editor.ws.rule_book().template(tpl.name.text()).body
    tpl.body.setPlainText(tpl.body.toPlainText() + " {frist_name}")
    field, problem = save_and_wait(qtbot, editor, tpl, refused=True)
    assert field == "body" and "frist_name" in problem
    assert "frist_name" in tpl.error_label("body").text()
    assert editor.ws.rule_book().template(tpl.name.text()).body == before  # nothing saved


def test_new_template_saves_and_is_offered_to_cadence_steps(qtbot, open_window) -> None:  # type: ignore[no-untyped-def]
    editor = editor_for(qtbot, open_window("admin@example.com"))
    tpl = editor.templates
    tpl.new_button.click()
    tpl.name.setText("Day 3 check-in")
    tpl.body.setPlainText("Hi {first_name}, a quick check-in from {rep_name}.")
    what, spec = save_and_wait(qtbot, editor, tpl, refused=False)
    assert what == "template" and spec.name == "Day 3 check-in"
    qtbot.waitUntil(lambda: tpl.list.currentItem() is not None
                    and tpl.list.currentItem().text().startswith("Day 3 check-in"),
                    timeout=5_000)
    names = [t.name for t in editor.cadences.templates]
    assert "Day 3 check-in" in names


def test_team_lead_saves_an_override_for_their_team(qtbot, open_window) -> None:  # type: ignore[no-untyped-def]
    win = open_window("lea@example.com")
    editor = editor_for(qtbot, win)
    sla = editor.sla
    sla.list.setCurrentRow(1)  # P2
    sla.target.setText("30")
    _what, spec = save_and_wait(qtbot, editor, sla, refused=False)
    assert spec.priority == 2 and spec.team_id == win.me.team_id
    book = editor.ws.rule_book()
    assert book.sla_policy(2, win.me.team_id).first_response_minutes == 30
    assert book.sla_policy(2).first_response_minutes == 60  # the default stands
