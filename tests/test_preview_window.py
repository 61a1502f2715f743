"""The preview shows the team's own calling window and the phone as people read it.

A team that calls 09:00–17:30 must see 09:00–17:30 (not the default 08:00–20:00)
in the preview, whether the lead was read by the Workspace (ORM) or by the
first paint (sqlite3 driver); the phone reads "+1 212-555-0100" while the
``tel:`` link still carries the E.164 number.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from conftest import T0
from test_gui_support import write_small_store

WAIT = 10_000


@pytest.fixture
def store(tmp_path: Path) -> tuple[Path, dict[str, object]]:
    """The small store; East (Ada's team) calls 09:00–17:30, West 07:00–19:00;
    L3 belongs to West, L2 to no team."""
    path = tmp_path / "small.db"
    ids = write_small_store(path, T0)
    con = sqlite3.connect(path)
    with con:
        con.execute("UPDATE teams SET calling_window_start = '09:00',"
                    " calling_window_end = '17:30' WHERE name = 'East'")
        con.execute("UPDATE teams SET calling_window_start = '07:00',"
                    " calling_window_end = '19:00' WHERE name = 'West'")
        con.execute("UPDATE leads SET team_id = (SELECT id FROM teams WHERE name = 'West')"
                    " WHERE external_id = 'L3'")
        con.execute("UPDATE leads SET team_id = NULL WHERE external_id = 'L2'")
    con.close()
    return path, ids


def test_lead_detail_carries_the_teams_window_on_both_paths(store) -> None:  # type: ignore[no-untyped-def]
    from leadqueue import firstpaint as fp
    from leadqueue.clock import FakeClock
    from leadqueue.store import inspect_store, open_local_store
    from leadqueue.workspace import Workspace

    path, ids = store
    engine = open_local_store(path)
    con = sqlite3.connect(path)
    try:
        ws = Workspace.open(engine, "ada@example.com", FakeClock(T0))
        expected = {"L1": ("09:00", "17:30"),   # the lead's team
                    "L3": ("07:00", "19:00"),   # another team's lead: its team's window
                    "L2": ("09:00", "17:30")}   # no team: the viewer's team, as ranking does
        for ext, window in expected.items():
            detail = ws.lead(ids[ext])  # type: ignore[arg-type]
            assert detail.calling_window == window, ext
            assert fp.read_lead(con, detail.id, ws.me.team_id) == detail, ext
        first = fp.read_first_paint(path, "ada@example.com", T0, inspect_store(path).revision)
        assert first is not None and first.lead is not None
        assert first.lead.calling_window == ("09:00", "17:30")
        assert first.lead == ws.lead(first.lead.id)
        # Nobody's team: the default window.
        admin = Workspace.open(engine, "admin@example.com", FakeClock(T0))
        assert admin.lead(ids["L2"]).calling_window == ("08:00", "20:00")  # type: ignore[arg-type]
    finally:
        con.close()
        engine.dispose()


def test_preview_html_shows_the_window_and_the_readable_phone(store) -> None:  # type: ignore[no-untyped-def]
    from leadqueue.clock import FakeClock
    from leadqueue.store import open_local_store
    from leadqueue.workspace import Workspace
    from ui.preview import PreviewData, render_html

    path, ids = store
    engine = open_local_store(path)
    try:
        ws = Workspace.open(engine, "ada@example.com", FakeClock(T0))
        html = render_html(PreviewData(ws.lead(ids["L1"])), T0)  # type: ignore[arg-type]
        assert "09:00–17:30 their time" in html and "08:00–20:00" not in html
        assert "+1 212-555-0100" in html and "+12125550100" not in html
        # An unreadable phone stays as given, flagged.
        html = render_html(PreviewData(ws.lead(ids["L6"])), T0)  # type: ignore[arg-type]
        assert "⚠ call me maybe" in html
    finally:
        engine.dispose()


@pytest.mark.gui
def test_window_preview_shows_the_team_window_and_dials_e164(
        qtbot, store, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from gui_stubs import RecordingLinks, StubDialogs

    from leadqueue.clock import FakeClock
    from leadqueue.store import open_local_store
    from leadqueue.workspace import Workspace
    from ui.app import qapplication
    from ui.main_window import MainWindow
    from ui.qt import Qt

    path, ids = store
    monkeypatch.setenv("LEADQUEUE_LOG_DIR", str(tmp_path / "logs"))
    qapplication()
    engine = open_local_store(path)
    ws = Workspace.open(engine, "ada@example.com", FakeClock(T0))
    win = MainWindow(ws, settings=None, store_label="small.db", show_switcher=False,
                     dialogs=StubDialogs(), os_links=RecordingLinks())
    win.auto_refresh = None
    qtbot.addWidget(win, before_close_func=lambda w: w.force_close())
    try:
        with qtbot.waitSignals([win.sig_queue_loaded, win.sig_preview_loaded], timeout=WAIT):
            win.show()
            win.start()
        assert win.active_lead == ids["L1"]
        text = win.preview.toPlainText()
        assert "Calling window" in text and "09:00–17:30 their time" in text
        assert "08:00–20:00" not in text
        assert "+1 212-555-0100" in text and "+12125550100" not in text
        with qtbot.waitSignal(win.sig_call_started, timeout=WAIT) as call:
            qtbot.keyClick(win.view, Qt.Key.Key_C)
        assert call.args == ["tel:+12125550100"] and win.os_links.urls == ["tel:+12125550100"]
    finally:
        win.force_close()
        engine.dispose()


@pytest.mark.gui
def test_countdown_turns_orange_then_red_as_first_response_comes_due(qtbot, store) -> None:  # type: ignore[no-untyped-def]
    """Drawn, not just flagged: the header's own style sheet colours the countdown."""
    from datetime import timedelta

    from leadqueue.clock import FakeClock
    from leadqueue.store import open_local_store
    from leadqueue.workspace import Workspace
    from ui.app import qapplication
    from ui.preview import LeadHeader, PreviewData

    qapplication()  # the app's style sheet too, as the window has it

    def tint(label) -> str:  # type: ignore[no-untyped-def]
        """The text's hue: its most saturated pixel, red (#c62828), orange
        (#d35400) or neither (the plain #3c4250)."""
        image = label.grab().toImage()
        c = max((image.pixelColor(x, y) for y in range(image.height())
                 for x in range(image.width())), key=lambda c: c.red() - c.blue())
        if c.red() - c.blue() < 100:
            return "plain"
        return "orange" if c.green() > 0.3 * c.red() else "red"

    path, ids = store
    engine = open_local_store(path)
    try:
        ws = Workspace.open(engine, "ada@example.com", FakeClock(T0))
        queue = ws.ranked_queue(at=T0)
        row = next(r for r in (*queue.callable, *queue.later, *queue.upcoming)
                   if r.id == ids["L1"])
        detail = ws.lead(row.id)
        assert detail.first_action_at is None and row.sla_due_at is not None
        header = LeadHeader()
        qtbot.addWidget(header)
        header.resize(600, 160)
        header.show_lead(PreviewData(detail, row), row.sla_due_at - timedelta(hours=1))
        assert tint(header.countdown) == "plain"
        header.tick(row.sla_due_at - timedelta(minutes=2))
        assert tint(header.countdown) == "orange"
        header.tick(row.sla_due_at + timedelta(minutes=2))
        assert tint(header.countdown) == "red"
        header.tick(row.sla_due_at - timedelta(hours=1))
        assert tint(header.countdown) == "plain"
    finally:
        engine.dispose()
