"""The main window on a small store: queue, preview, switcher, model, screenshot."""

from __future__ import annotations

import struct
from datetime import timedelta
from pathlib import Path

import pytest

from leadqueue.clock import FakeClock

pytestmark = pytest.mark.gui

from conftest import T0  # noqa: E402
from test_gui_support import write_small_store  # noqa: E402


@pytest.fixture
def small_store(tmp_path: Path) -> tuple[Path, dict[str, object]]:
    path = tmp_path / "small.db"
    return path, write_small_store(path, T0)


@pytest.fixture
def window(qtbot, small_store, tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    from leadqueue.store import open_local_store
    from leadqueue.workspace import Workspace
    from ui.app import qapplication
    from ui.main_window import MainWindow
    from ui.qt import QSettings

    monkeypatch.setenv("LEADQUEUE_LOG_DIR", str(tmp_path / "logs"))
    qapplication()
    engine = open_local_store(small_store[0])
    ws = Workspace.open(engine, "ada@example.com", FakeClock(T0))
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    win = MainWindow(ws, settings=settings, store_label="small.db", show_switcher=True)
    qtbot.addWidget(win, before_close_func=lambda w: w.force_close())
    with qtbot.waitSignal(win.sig_queue_loaded, timeout=10_000):
        win.start()
    yield win
    win.close()
    engine.dispose()


def _names(model) -> list[str]:  # type: ignore[no-untyped-def]
    from ui.queue_model import COL_NAME

    return [model.index(r, COL_NAME).data() for r in range(model.rowCount())
            if not model.is_header(r)]


def _ids(model) -> list[object]:  # type: ignore[no-untyped-def]
    return [model.row_at(r).id for r in range(model.rowCount()) if not model.is_header(r)]


def test_window_shows_the_reps_queue(window, small_store) -> None:  # type: ignore[no-untyped-def]
    _, ids = small_store
    model = window.model
    assert model.shown_leads() == 6
    assert model.rowCount() == 8  # two section headers: "Call now" and "Later"
    assert model.header_rows() == [0, 5]
    shown = set(_ids(model))
    assert shown == {ids[k] for k in ("L1", "L2", "L3", "L4", "L5", "L6")}
    assert ids["B1"] not in shown  # another rep's lead
    assert model.row_at(0) is None and model.row_at(1).priority == 1
    assert model.index(0, 0).data().startswith("CALL NOW")
    assert window.view.columnSpan(0, 0) == model.columnCount()
    assert "Ada Rep" in window.queue_title.text()
    # Bad data is shown and flagged, not dropped.
    assert any(name.startswith("⚠") and "Sam Odd" in name for name in _names(model))


def test_selecting_a_row_fills_the_preview(qtbot, window, small_store) -> None:  # type: ignore[no-untyped-def]
    _, ids = small_store
    row = window.model.row_of(ids["L4"])
    with qtbot.waitSignal(window.sig_preview_loaded, timeout=10_000) as blocker:
        window.select_row(row)
    assert blocker.args == [ids["L4"]]
    text = window.preview.toPlainText()
    assert "Tom Hughes" in text
    assert "Kestrel plc" in text
    assert "Voicemail" in text  # the timeline
    assert "verified phone" in text  # the score breakdown
    assert window.preview.data.detail.id == ids["L4"]


def test_flagged_lead_preview_names_its_data_issues(qtbot, window, small_store) -> None:  # type: ignore[no-untyped-def]
    _, ids = small_store
    with qtbot.waitSignal(window.sig_preview_loaded, timeout=10_000):
        window.select_row(window.model.row_of(ids["L6"]))
    text = window.preview.toPlainText()
    assert "Phone number can't be read" in text and "Time zone unknown" in text
    assert "call me maybe" in text  # the raw value is kept and shown


def test_user_switcher_switches_to_team_view(qtbot, window, small_store) -> None:  # type: ignore[no-untyped-def]
    _, ids = small_store
    combo = window.switcher
    qtbot.waitUntil(lambda: combo.count() == 5, timeout=10_000)
    lead_index = next(i for i in range(combo.count())
                      if combo.itemData(i).email == "lea@example.com")
    with qtbot.waitSignal(window.sig_queue_loaded, timeout=10_000):
        combo.activated.emit(lead_index)
    assert window.ws.me.email == "lea@example.com"
    shown = set(_ids(window.model))
    assert ids["B1"] in shown and ids["L1"] in shown  # the whole East team
    assert window.model.show_owner
    assert "Team queue" in window.queue_title.text()
    rep_index = next(i for i in range(combo.count())
                     if combo.itemData(i).email == "bob@example.com")
    with qtbot.waitSignal(window.sig_queue_loaded, timeout=10_000):
        combo.activated.emit(rep_index)
    assert _ids(window.model) == [ids["B1"]]


def test_search_and_priority_filters(qtbot, window, small_store) -> None:  # type: ignore[no-untyped-def]
    _, ids = small_store
    window.search.setText("kestrel")
    assert _ids(window.model) == [ids["L4"]]
    window.search.setText("")
    window.priority_filter.setCurrentIndex(window.priority_filter.findData(3))
    assert {window.model.row_at(r).priority for r in range(window.model.rowCount())
            if not window.model.is_header(r)} == {3}
    assert window.model.shown_leads() == 2
    window.priority_filter.setCurrentIndex(0)
    assert window.model.shown_leads() == 6


def test_one_tick_moves_the_countdown(window) -> None:  # type: ignore[no-untyped-def]
    from ui.queue_model import COL_DUE

    first = window.model.index(1, COL_DUE)
    before = first.data()
    assert before == "in 3m 00s"  # P1 created 2 min before T0, SLA 5 min
    window.ws.clock.advance(timedelta(seconds=61))
    window.tick()
    assert first.data() == "in 1m 59s"
    window.ws.clock.advance(timedelta(minutes=3))
    window.tick()
    assert first.data().endswith("late")


def test_model_passes_qtmodeltester(qtmodeltester, window) -> None:  # type: ignore[no-untyped-def]
    qtmodeltester.check(window.model, force_py=True)


def test_geometry_is_remembered(qtbot, window, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from ui.qt import QSettings

    window.resize(1000, 700)
    window.save_geometry()
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    assert settings.value("main_window/geometry") is not None
    assert settings.value("main_window/splitter") is not None


def _png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", head[16:24])


def test_cli_screenshot_writes_a_png(qapp, small_store, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from leadqueue.cli import main

    monkeypatch.setenv("LEADQUEUE_LOG_DIR", str(tmp_path / "logs"))
    out = tmp_path / "shot.png"
    code = main(["--db", str(small_store[0]), "--at", "2026-03-04T15:00:00Z",
                 "--screenshot", str(out)])
    assert code == 0
    assert out.stat().st_size > 10_000
    assert _png_size(out) == (1440, 900)


def test_cli_unknown_person_is_exit_2(qapp, small_store, tmp_path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    from leadqueue.cli import main

    monkeypatch.setenv("LEADQUEUE_LOG_DIR", str(tmp_path / "logs"))
    code = main(["--db", str(small_store[0]), "--as", "nobody@example.com",
                 "--screenshot", str(tmp_path / "x.png")])
    assert code == 2
    assert "nobody@example.com" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


def test_cli_screenshot_on_a_non_database_is_exit_2(qapp, tmp_path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    from leadqueue.cli import main

    monkeypatch.setenv("LEADQUEUE_LOG_DIR", str(tmp_path / "logs"))
    bogus = tmp_path / "notes.db"
    bogus.write_bytes(b"just some notes, not a database\n" * 10)
    before = bogus.read_bytes()
    code = main(["--db", str(bogus), "--screenshot", str(tmp_path / "x.png")])
    assert code == 2
    assert "not a LeadQueue database" in capsys.readouterr().err
    assert bogus.read_bytes() == before
