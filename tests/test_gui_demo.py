"""The README's first command on its own data: the main window on the demo.

``leadqueue --demo`` creates the demo database on first use and opens the
window as a rep; these tests do the same offscreen and check that the rep's
queue, as the core ranks it, is what the window shows.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.gui

AT = "2026-03-04T15:00:00+00:00"


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from leadqueue.demo import write_demo_db

    path = tmp_path_factory.mktemp("demo") / "demo.db"
    write_demo_db(path, now=datetime.fromisoformat(AT).astimezone(UTC))
    return path


def test_the_window_shows_the_demo_reps_ranked_queue(qtbot: Any, demo_db: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from leadqueue.clock import FakeClock
    from leadqueue.store import open_local_store
    from leadqueue.workspace import Workspace
    from ui.app import qapplication
    from ui.main_window import MainWindow
    from ui.qt import QSettings

    monkeypatch.setenv("LEADQUEUE_LOG_DIR", str(tmp_path / "logs"))
    qapplication()
    engine = open_local_store(demo_db)
    clock = FakeClock(datetime.fromisoformat(AT))
    ws = Workspace.open(engine, None, clock)  # the demo starts as a rep
    assert ws.me.role == "rep"
    expected = ws.ranked_queue()
    assert expected.callable, "the demo gives its first rep leads to call now"
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    win = MainWindow(ws, settings=settings, store_label="demo.db", show_switcher=True)
    qtbot.addWidget(win, before_close_func=lambda w: w.force_close())
    with qtbot.waitSignal(win.sig_queue_loaded, timeout=20_000):
        win.start()
    model = win.model
    shown = [model.row_at(r).id for r in range(model.rowCount()) if not model.is_header(r)]
    ranked = [r.id for r in (*expected.callable, *expected.later, *expected.upcoming)]
    assert shown[:len(expected.callable)] == [r.id for r in expected.callable]
    assert set(shown) == set(ranked)
    win.close()
    engine.dispose()


def test_leadqueue_demo_creates_the_demo_and_renders_it(qapp: Any, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from leadqueue.cli import main
    from leadqueue.store import SCHEMA_REVISION, inspect_store

    monkeypatch.setenv("LEADQUEUE_LOG_DIR", str(tmp_path / "logs"))
    db, out = tmp_path / "fresh-demo.db", tmp_path / "demo.png"
    assert main(["--demo", "--db", str(db), "--at", AT, "--screenshot", str(out)]) == 0
    assert inspect_store(db).revision == SCHEMA_REVISION  # created on first use
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 20_000
