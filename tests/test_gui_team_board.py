"""The team board in the window, on a local store (the demo's case): a team
lead sees it and reassigns one lead or several, to a rep or back to the pool;
a rep never gets it; Take next from pool on a local store says in words that
it needs the shared database. The item models pass qtmodeltester."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.gui

from conftest import T0  # noqa: E402
from gui_stubs import RecordingLinks, StubDialogs  # noqa: E402
from test_gui_support import write_small_store  # noqa: E402

WAIT = 10_000


@pytest.fixture
def store(tmp_path: Path, monkeypatch):  # type: ignore[no-untyped-def]
    from leadqueue.store import open_local_store

    monkeypatch.setenv("LEADQUEUE_LOG_DIR", str(tmp_path / "logs"))
    ids = write_small_store(tmp_path / "s.db", T0)
    engine = open_local_store(tmp_path / "s.db")
    yield engine, ids
    engine.dispose()


def open_window(qtbot, engine, email: str, *, switcher: bool = False):  # type: ignore[no-untyped-def]
    from leadqueue.clock import FakeClock
    from leadqueue.workspace import Workspace
    from ui.app import qapplication
    from ui.main_window import MainWindow

    qapplication()
    ws = Workspace.open(engine, email, FakeClock(T0))
    win = MainWindow(ws, settings=None, store_label="s.db", show_switcher=switcher,
                     dialogs=StubDialogs(), os_links=RecordingLinks())
    win.auto_refresh = None
    qtbot.addWidget(win, before_close_func=lambda w: w.force_close())
    with qtbot.waitSignal(win.sig_queue_loaded, timeout=WAIT):
        win.show()
        win.start()
    idle(qtbot, win)
    return win


def idle(qtbot, win) -> None:  # type: ignore[no-untyped-def]
    qtbot.waitUntil(lambda: not win.executor.busy, timeout=WAIT)


def owners(engine, *lead_ids):  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from leadqueue.model import Lead

    with engine.connect() as conn:
        rows = dict(conn.execute(select(Lead.id, Lead.owner_id).where(
            Lead.id.in_(list(lead_ids)))).all())
    return [rows[i] for i in lead_ids]


def test_a_team_lead_sees_the_board_and_reassigns(qtbot, qtmodeltester, store) -> None:  # type: ignore[no-untyped-def]
    from ui.team_board import POOL_TARGET, RepsModel

    engine, ids = store
    win = open_window(qtbot, engine, "lea@example.com")
    dock = win.team_board
    board = dock.board
    qtbot.waitUntil(lambda: board.board is not None, timeout=WAIT)
    assert dock.isVisible()
    assert board.title.text() == "Team board — East"
    names = [board.reps_model.data(board.reps_model.index(r, RepsModel.COL_NAME))
             for r in range(board.reps_model.rowCount())]
    assert names == ["Ada Rep", "Bob Rep", "Team pool"]
    assert board.reps_model.data(board.reps_model.index(0, RepsModel.COL_QUEUE)) == "6"
    qtmodeltester.check(board.reps_model)
    qtmodeltester.check(board.leads_model)

    # Ada's leads are listed; move two of them (bulk) to Bob with a reason.
    assert board.select_rep(board.reps_model.row_id(0))
    assert board.leads_title.text() == "Active leads of Ada Rep (6)"
    bob = next(r.id for r in board.board.reps if r.name == "Bob Rep")
    board.select_leads([ids["L1"], ids["L2"]])
    assert board.reassign_button.text() == "Reassign 2 leads"
    assert board.set_target(bob)
    board.reason.setText("Ada is at the dentist")
    with qtbot.waitSignal(board.sig_reassigned, timeout=WAIT) as moved:
        qtbot.mouseClick(board.reassign_button, _left())
    assert moved.args == [2, bob]
    assert owners(engine, ids["L1"], ids["L2"]) == [bob, bob]
    idle(qtbot, win)
    qtbot.waitUntil(lambda: board.leads_title.text() == "Active leads of Ada Rep (4)",
                    timeout=WAIT)
    assert "Moved 2 leads to Bob Rep" in win.statusBar().currentMessage()
    assert board.reason.text() == ""

    # One lead back to the pool: it shows on the pool row.
    board.select_leads([ids["L3"]])
    assert board.reassign_button.text() == "Reassign"
    board.target.setCurrentIndex(board.target.findData(POOL_TARGET))
    with qtbot.waitSignal(board.sig_reassigned, timeout=WAIT):
        board.reassign_selected()
    assert owners(engine, ids["L3"]) == [None]
    idle(qtbot, win)
    pool_row = board.reps_model.row_of(None)
    qtbot.waitUntil(lambda: board.reps_model.data(
        board.reps_model.index(pool_row, RepsModel.COL_QUEUE)) == "1", timeout=WAIT)
    assert board.select_rep(None)
    assert [lead.id for lead in board.leads_model.leads] == [ids["L3"]]
    # The team queue (the window's own view) reloaded too: L3 has no owner now.
    assert win.model.row_of(ids["L3"]) < 0
    idle(qtbot, win)
    win.force_close()


def test_a_refused_move_is_said_and_changes_nothing(qtbot, store) -> None:  # type: ignore[no-untyped-def]
    engine, ids = store
    win = open_window(qtbot, engine, "lea@example.com")
    board = win.team_board.board
    qtbot.waitUntil(lambda: board.board is not None, timeout=WAIT)
    assert board.select_rep(board.reps_model.row_id(0))
    board.select_leads([ids["L1"]])
    # A West rep is not a target the board offers; force it as a stale board would.
    from leadqueue.workspace import Workspace

    cy = Workspace.open(engine, "cy@example.com").me
    board.target.addItem("Cy Rep", cy.id)
    board.target.setCurrentIndex(board.target.count() - 1)
    with qtbot.waitSignal(win.sig_action_refused, timeout=WAIT) as refused:
        board.reassign_selected()
    assert refused.args[0] == "reassign" and "not in your team" in refused.args[1]
    assert win.dialogs.errors and win.dialogs.errors[-1][0] == "Not done"
    assert owners(engine, ids["L1"]) != [cy.id]
    # Nothing selected: said, nothing sent.
    board.leads_view.clearSelection()
    board.reassign_selected()
    assert "Select the leads" in win.statusBar().currentMessage()
    idle(qtbot, win)
    win.force_close()


def test_a_rep_has_no_board_and_the_pool_needs_the_shared_database(qtbot, store) -> None:  # type: ignore[no-untyped-def]
    from ui.qt import Qt

    engine, _ids = store
    win = open_window(qtbot, engine, "ada@example.com", switcher=True)
    assert not win.team_board.isVisible()
    qtbot.keyClick(win.view, Qt.Key.Key_B, Qt.KeyboardModifier.ControlModifier)
    assert "for team leads and admins" in win.statusBar().currentMessage()
    assert not win.team_board.isVisible()

    # P: Take next from pool. A local store has no pool to claim from: said plainly.
    with qtbot.waitSignal(win.sig_action_refused, timeout=WAIT) as refused:
        qtbot.keyClick(win.view, Qt.Key.Key_P)
    assert refused.args[0] == "take_from_pool"
    assert "needs the shared team database" in refused.args[1]
    assert win.dialogs.errors[-1] == ("Not done", refused.args[1])

    # Switching to the team lead (the demo's switcher) brings the board up.
    lea = next(p for p in win.ws.people() if p.email == "lea@example.com")
    win.switch_to(lea)
    qtbot.waitUntil(lambda: win.team_board.isVisible()
                    and win.team_board.board.board is not None, timeout=WAIT)
    qtbot.keyClick(win.view, Qt.Key.Key_B, Qt.KeyboardModifier.ControlModifier)
    assert not win.team_board.isVisible()
    idle(qtbot, win)
    win.force_close()


def test_the_shortcuts_help_lists_the_pool_and_the_board() -> None:
    from ui.actions import ACTIONS, shortcut_rows

    rows = dict(shortcut_rows())
    assert rows["Claim the best unclaimed lead of your team's pool and open it "
                "(shared database)"] == "P"
    assert rows["Give the open lead you claimed back to your team's pool"] == "Shift+P"
    assert any(keys == "Ctrl+B" for keys in rows.values())
    keys = [k for spec in ACTIONS for k in spec.keys]
    assert len(keys) == len(set(keys)), "a key is bound twice"


def _left():  # type: ignore[no-untyped-def]
    from ui.qt import Qt

    return Qt.MouseButton.LeftButton
