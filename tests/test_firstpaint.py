"""The app's first paint (``leadqueue.firstpaint``) reads what the workspace reads.

The first screen of a cold start is read through the sqlite3 driver so the ORM
stays out of start-up; these tests hold every value it reads equal to the
Workspace's own, on the hand-made small store and on the demo store (every
rep, every lead), so the two readings cannot drift apart. The GUI part checks
that the window shows the first paint at once, defers writes until the
workspace is open, and that a screenshot run loads neither SQLAlchemy nor
psycopg.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
from datetime import datetime
from pathlib import Path

import pytest
from conftest import T0
from test_gui_support import write_small_store


@pytest.fixture
def small(tmp_path: Path):  # type: ignore[no-untyped-def]
    path = tmp_path / "small.db"
    ids = write_small_store(path, T0)
    return path, ids


def _workspace(path: Path, email: str | None, now: datetime):  # type: ignore[no-untyped-def]
    from leadqueue.clock import FakeClock
    from leadqueue.store import open_local_store
    from leadqueue.workspace import Workspace

    engine = open_local_store(path)
    return engine, Workspace.open(engine, email, FakeClock(now))


def _same_as_workspace(path: Path, now: datetime) -> int:
    """Compare every reading for every rep and every lead; returns leads compared."""
    from leadqueue import firstpaint as fp
    from leadqueue.store import inspect_store

    revision = inspect_store(path).revision
    engine, ws = _workspace(path, None, now)
    con = sqlite3.connect(path)
    compared = 0
    try:
        people = fp.read_people(con)
        assert people == ws.people()
        assert fp.choose_person(people, None) == ws.me
        for rep in (p for p in people if p.role == "rep"):
            from leadqueue.workspace import Workspace

            rep_ws = Workspace(engine, rep, ws.clock)
            first = fp.read_first_paint(path, rep.email.upper(), now, revision)
            assert first is not None and first.me == rep
            assert first.queue == rep_ws.ranked_queue(at=now)
            rows = (*first.queue.callable, *first.queue.later, *first.queue.upcoming)
            if rows:
                assert first.lead == rep_ws.lead(rows[0].id)
            for row in rows:
                detail = fp.read_lead(con, row.id, rep.team_id)
                assert detail == rep_ws.lead(row.id), row.name
                assert fp.read_cadence_labels(con, [row.id]).get(row.id) == \
                    rep_ws.cadence_step_label(row.id)
                assert fp.read_template(con, detail, rep) == rep_ws.render_template(row.id)
                compared += 1
    finally:
        con.close()
        engine.dispose()
    return compared


def test_first_paint_equals_the_workspace_on_the_small_store(small) -> None:  # type: ignore[no-untyped-def]
    path, _ids = small
    assert _same_as_workspace(path, T0) >= 7  # Ada's six and Bob's one


@pytest.mark.slow
def test_first_paint_equals_the_workspace_on_the_demo_store(tmp_path: Path) -> None:
    from leadqueue.demo import write_demo_db

    path = tmp_path / "demo.db"
    write_demo_db(path, now=T0)
    assert _same_as_workspace(path, T0) > 100


def test_first_paint_is_only_for_a_rep_on_a_current_store(small) -> None:  # type: ignore[no-untyped-def]
    from leadqueue.firstpaint import read_first_paint
    from leadqueue.store import inspect_store

    path, ids = small
    revision = inspect_store(path).revision
    first = read_first_paint(path, None, T0, revision)
    assert first is not None and first.me.email == "ada@example.com"
    assert first.lead is not None and first.lead.id == ids["L1"]
    assert first.template is not None and "Priya" in first.template.body
    assert read_first_paint(path, "lea@example.com", T0, revision) is None  # team lead
    assert read_first_paint(path, "nobody@example.com", T0, revision) is None
    assert read_first_paint(path, None, T0, "0001") is None  # needs migrating first
    assert read_first_paint(path, None, datetime(2026, 3, 4, 15), revision) is None  # naive


# -- the window on a first paint -----------------------------------------------------


@pytest.mark.gui
def test_window_paints_first_then_opens_the_workspace(qtbot, small, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from gui_stubs import RecordingLinks, StubDialogs

    from leadqueue.clock import FakeClock
    from leadqueue.firstpaint import read_first_paint
    from leadqueue.store import inspect_store, open_local_store
    from leadqueue.workspace import Workspace
    from ui.app import qapplication
    from ui.main_window import FirstPaint, MainWindow, QueueSnapshot
    from ui.preview import PreviewData

    monkeypatch.setenv("LEADQUEUE_LOG_DIR", str(tmp_path / "logs"))
    qapplication()
    path, ids = small
    first = read_first_paint(path, None, T0, inspect_store(path).revision)
    assert first is not None
    q = first.queue
    snap = QueueSnapshot(q.callable, q.later, q.upcoming, first.now, {}, False)
    preview = PreviewData(first.lead, snap.find(first.lead.id), first.cadence_step,
                          first.template)
    release = threading.Event()
    engines = []

    def open_workspace():  # type: ignore[no-untyped-def]
        release.wait(10)  # the test decides when the store is "open"
        engine = open_local_store(path)
        engines.append(engine)
        return Workspace(engine, first.me, FakeClock(T0))

    dialogs = StubDialogs()
    win = MainWindow(None, first_paint=FirstPaint(first.me, snap, preview, first.people),
                     open_workspace=open_workspace, clock=FakeClock(T0), dialogs=dialogs,
                     os_links=RecordingLinks(), show_switcher=False)
    qtbot.addWidget(win, before_close_func=lambda w: (release.set(), w.force_close()))
    with qtbot.waitSignals([win.sig_queue_loaded, win.sig_preview_loaded], timeout=1000):
        win.start()  # synchronous: no database call is needed for the first screen
    assert win.ws is None and win.active_lead == ids["L1"]
    assert "Priya Shah" in win.preview.toPlainText()
    assert win.model.shown_leads() == 6
    # A note before the store is open waits for it, and counts as pending.
    dialogs.answer("ask_note", "Typed before the store was open")
    win.act_note()
    assert "saving in a moment" in win.statusBar().currentMessage()
    with qtbot.waitSignal(win.sig_action_done, timeout=10_000):
        release.set()
    assert win.ws is not None
    assert win.ws.lead(ids["L1"]).activities[0].body == "Typed before the store was open"
    assert win.ws.lead(ids["L1"]).acknowledged_at == T0
    qtbot.waitUntil(lambda: win.notifications is not None, timeout=5000)
    win.force_close()
    for engine in engines:
        engine.dispose()


@pytest.mark.gui
def test_screenshot_run_loads_neither_the_orm_nor_psycopg(small, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path, _ids = small
    out = tmp_path / "shot.png"
    code = (
        "import sys, runpy\n"
        "sys.argv = ['leadqueue', '--db', sys.argv[1], '--at', '2026-03-04T15:00:00Z',"
        " '--screenshot', sys.argv[2]]\n"
        "from leadqueue.cli import main\n"
        "rc = main()\n"
        "loaded = [m for m in ('sqlalchemy', 'sqlalchemy.orm', 'psycopg', 'alembic')"
        " if m in sys.modules]\n"
        "print('LOADED', loaded)\n"
        "sys.exit(rc)\n"
    )
    env = {"QT_QPA_PLATFORM": "offscreen", "LEADQUEUE_LOG_DIR": str(tmp_path / "logs"),
           "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([sys.executable, "-c", code, str(path), str(out)], env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "LOADED []" in proc.stdout
    assert out.stat().st_size > 10_000
