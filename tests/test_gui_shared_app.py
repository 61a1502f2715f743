"""The app on the shared database, against the real server, as real logins
(``admin add-user``): the rep's workflow through the window; live push (a
lead reassigned or routed to the rep shows in the queue and raises "New lead
assigned" within seconds; the status line says online / offline while the
listener reconnects and catches up); Take next from pool with two reps'
windows; claim renewal and Return to pool; the team board of a team lead.

Waits are on signals and conditions (qtbot), never sleeps.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

pytestmark = [pytest.mark.gui, pytest.mark.pg]

from gui_stubs import RecordingLinks, StubDialogs  # noqa: E402
from pool_support import PoolDb, add_pool  # noqa: E402

from leadqueue.shared import claims  # noqa: E402

WAIT = 15_000  # ms: "within a few seconds", with room for a loaded CI machine


@pytest.fixture(scope="module")
def db(pg_server_url: str) -> Iterator[PoolDb]:
    pool = PoolDb(pg_server_url)
    try:
        pool.ids = {  # type: ignore[attr-defined]
            "rona": pool.login("rona", team="Desk"), "remy": pool.login("remy", team="Desk"),
            "tess": pool.login("tess", team="Desk", role="team_lead"),
            "pia": pool.login("pia", team="Pool"), "pete": pool.login("pete", team="Pool"),
            "paula": pool.login("paula", team="Pool", role="team_lead"),
        }
        pool.rule("to Rona", "rep", match={"sources": ["for-rona"]},
                  target_user=pool.ids["rona"], target_team="Desk")  # type: ignore[attr-defined]
        pool.rule("Desk pool", "pool", position=5, target_team="Desk")
        yield pool
    finally:
        pool.close()


@pytest.fixture
def windows(qtbot, db: PoolDb, tmp_path: Path, monkeypatch) -> Iterator:  # type: ignore[no-untyped-def,type-arg]
    """Opens main windows on the shared database as a login; closes them after."""
    from leadqueue.shared.signin import resolve_url
    from leadqueue.store import open_database
    from leadqueue.workspace import Workspace
    from ui.app import qapplication
    from ui.main_window import MainWindow
    from ui.shared_session import attach_shared_session

    monkeypatch.setenv("LEADQUEUE_LOG_DIR", str(tmp_path / "logs"))
    qapplication()
    opened = []

    def open_window(short: str, *, live: bool = True, **session_kwargs):  # type: ignore[no-untyped-def]
        target = resolve_url(db.url_of(short))
        engine = open_database(target.url)
        ws = Workspace.open(engine)  # who I am is my login (session_user)
        win = MainWindow(ws, settings=None, store_label=target.label, show_switcher=False,
                         dialogs=StubDialogs(), os_links=RecordingLinks())
        win.auto_refresh = None
        win.notifications.os_notifications = False  # the banner only: no desktop pop-ups
        qtbot.addWidget(win, before_close_func=lambda w: w.force_close())
        session = attach_shared_session(win, target, start_listener=live, **session_kwargs)
        opened.append((win, session, engine))
        with qtbot.waitSignal(win.sig_queue_loaded, timeout=WAIT):
            win.show()
            win.start()
        idle(qtbot, win)
        return win, session

    yield open_window
    for win, session, engine in opened:
        session.stop()
        idle(qtbot, win)
        win.force_close()
        engine.dispose()


def idle(qtbot, win) -> None:  # type: ignore[no-untyped-def]
    qtbot.waitUntil(lambda: not win.executor.busy, timeout=WAIT)


def activate(qtbot, win) -> None:  # type: ignore[no-untyped-def]
    """Window shortcuts go to the active window: make it ``win``."""
    from ui.qt import QApplication

    win.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is win, timeout=WAIT)


def online(qtbot, session) -> None:  # type: ignore[no-untyped-def]
    qtbot.waitUntil(lambda: session.state == "online", timeout=WAIT)


def give(db: PoolDb, team: str, to: str | None, n: int = 1, **cols) -> list[uuid.UUID]:  # type: ignore[no-untyped-def]
    ids = add_pool(db, team, n, **cols)
    if to is not None:
        db.q("UPDATE leads SET owner_id = %s, assigned_at = now() WHERE id = ANY(%s)",
             (db.ids[to], ids))  # type: ignore[attr-defined]
    return ids


def reassign_as(db: PoolDb, who: str, lead_id: uuid.UUID, to: str | None) -> None:
    with db.connect(who) as con:
        claims.reassign(con, lead_id, db.ids[to] if to else None, "from the test")  # type: ignore[attr-defined]


def new_routed_lead(db: PoolDb, last: str, source: str = "for-rona") -> uuid.UUID:
    from leadqueue.shared.intake import intake_payloads

    item = intake_payloads(db.engine, [{
        "first_name": "Nia", "last_name": last, "source": source,
        "email": f"{uuid.uuid4().hex}@live.test"}], now=datetime.now(UTC)).items[0]
    assert item.lead_id is not None
    return item.lead_id


# -- the rep's workflow ---------------------------------------------------------------------------


def test_a_rep_works_a_lead_through_the_window_as_their_own_login(qtbot, db, windows) -> None:  # type: ignore[no-untyped-def]
    from ui.dialogs import NextStepAnswer
    from ui.qt import Qt

    lead = give(db, "Desk", "rona", 1, priority=1)[0]
    win, _session = windows("rona", live=False)
    activate(qtbot, win)
    assert win.me.id == db.ids["rona"] and win.me.role == "rep"
    assert win.status_store.text().endswith(f"@{db.url.rsplit('@', 1)[-1]}") or "Store:" in \
        win.status_store.text()
    assert "s3cret" not in win.status_store.text()  # no password on screen
    assert win.model.row_of(lead) >= 0
    if win.active_lead != lead:
        with qtbot.waitSignal(win.sig_preview_loaded, timeout=WAIT):
            win.select_lead(lead)
    idle(qtbot, win)
    # 3: No answer; the rules propose the next step; the rep confirms it.
    win.dialogs.answer("ask_next_step", NextStepAnswer(
        "call", datetime.now(UTC) + timedelta(days=1), "Try again"))
    with qtbot.waitSignal(win.sig_action_done, timeout=WAIT,
                          check_params_cb=lambda name, _r: name == "next_step"):
        qtbot.keyClick(win.view, Qt.Key.Key_3)
    idle(qtbot, win)
    row = db.q("SELECT status, attempts, next_step_kind, first_action_at IS NOT NULL, "
               "acknowledged_at IS NOT NULL FROM leads WHERE id = %s", (lead,))[0]
    assert row == ("working", 1, "call", True, True)
    assert db.one("SELECT count(*) FROM activities WHERE lead_id = %s AND author_id = %s",
                  (lead, db.ids["rona"])) == 1  # type: ignore[attr-defined]
    assert win.wrap_state is not None and win.wrap_state.complete
    # A note, as a rep types it.
    win.dialogs.answer("ask_note", "Asked for a call on Friday")
    with qtbot.waitSignal(win.sig_action_done, timeout=WAIT):
        qtbot.keyClick(win.view, Qt.Key.Key_N)
    assert db.one("SELECT count(*) FROM activities WHERE lead_id = %s AND kind = 'note'",
                  (lead,)) == 1


# -- live push ------------------------------------------------------------------------------------


def test_a_lead_reassigned_or_routed_to_the_rep_shows_and_notifies(qtbot, db, windows) -> None:  # type: ignore[no-untyped-def]
    win, session = windows("rona")
    online(qtbot, session)
    assert win.status_online.text() == "● Online — shared database"

    # The team lead gives Rona a pool lead: it shows and she is told, within seconds.
    lead = give(db, "Desk", None, 1, priority=1)[0]
    started = time.monotonic()
    with qtbot.waitSignal(session.sig_assigned, timeout=WAIT,
                          check_params_cb=lambda n: n.lead_id == lead) as told:
        reassign_as(db, "tess", lead, "rona")
    assert time.monotonic() - started < 5.0  # pushed, not polled (the poll is a minute)
    note = told.args[0]
    assert note.title == "Lead reassigned to you: P0 Desk"
    # Who moved it and why, read from the lead (reps may not read the audit log).
    assert note.reason == "P1 · reassigned to you by Tess: from the test"
    assert note.level == "urgent"  # a P1
    qtbot.waitUntil(lambda: win.model.row_of(lead) >= 0, timeout=WAIT)
    assert any(n.lead_id == lead for n in win.banner.notes)

    # Intake routes a brand-new lead to her: "New lead assigned: <name> — <why>".
    with qtbot.waitSignal(session.sig_assigned, timeout=WAIT,
                          check_params_cb=lambda n: n.title == "New lead assigned: Nia Routed"
                          ) as told:
        routed = new_routed_lead(db, "Routed")
    note = told.args[0]
    assert note.lead_id == routed
    assert note.reason.startswith("P") and "routed: rule 'to Rona'" in note.reason
    assert note.body == note.reason  # the title names the lead: the banner adds the why
    qtbot.waitUntil(lambda: win.model.row_of(routed) >= 0, timeout=WAIT)
    banner_text = win.banner.text.text()
    assert "Nia Routed" in banner_text or len(win.banner.notes) > 1

    # Taken away by the team lead: the lead leaves her queue at once.
    reassign_as(db, "tess", routed, "remy")
    qtbot.waitUntil(lambda: win.model.row_of(routed) < 0, timeout=WAIT)


def test_offline_shows_and_reconnecting_catches_up(qtbot, db, windows) -> None:  # type: ignore[no-untyped-def]
    from leadqueue.shared.live import LeadListener

    factory = functools.partial(LeadListener, backoff_initial_s=0.2, backoff_max_s=0.5,
                                poll_s=0.2)
    win, session = windows("remy", listener_factory=factory)
    online(qtbot, session)
    login = db.inst.login("remy")
    pid = session.listener.backend_pid
    with db.su() as su:
        # New sessions refused meanwhile: the outage surely spans the change below.
        su.execute(f'ALTER ROLE "{login}" NOLOGIN')
        try:
            with qtbot.waitSignal(session.sig_state_changed, timeout=WAIT,
                                  check_params_cb=lambda s: s == "offline"):
                su.execute("SELECT pg_terminate_backend(%s)", (pid,))
            assert win.status_online.text() == "● Offline — reconnecting…"
            assert "reconnecting" in win.status_online.toolTip()
            missed = give(db, "Desk", None, 1, priority=2)[0]
            reassign_as(db, "tess", missed, "remy")
            # Still offline while the server refuses the login (backoff retries).
            assert session.state == "offline"
        finally:
            su.execute(f'ALTER ROLE "{login}" LOGIN')
    with qtbot.waitSignal(session.sig_assigned, timeout=WAIT,
                          check_params_cb=lambda n: n.lead_id == missed) as told:
        pass
    assert told.args[0].reason.startswith("P2 · while you were offline")
    online(qtbot, session)
    qtbot.waitUntil(lambda: win.model.row_of(missed) >= 0, timeout=WAIT)


# -- the notification schedule of a rep ----------------------------------------------------------


def test_a_reps_notification_schedule_loads_on_the_shared_database(qtbot, db, windows) -> None:  # type: ignore[no-untyped-def]
    """The schedule reads the rule firings of the rep's unworked leads (RLS lets
    a rep read the firings of the leads they see): no "permission denied"."""
    give(db, "Desk", "remy", 1, priority=2)  # unworked: the schedule asks for its firings
    win, _session = windows("remy", live=False)
    qtbot.waitUntil(lambda: win.notifications.settled, timeout=WAIT)
    with qtbot.waitSignal(win.notifications.sig_schedule_loaded, timeout=WAIT):
        win.notifications.refresh()
    idle(qtbot, win)
    assert "permission denied" not in win.statusBar().currentMessage()


# -- the server going away under the window ------------------------------------------------------


@contextmanager
def leads_locked(db: PoolDb) -> Iterator[None]:
    """Every read and write of ``leads`` waits until the block ends (as behind a
    stuck server), so the test can end the app's session in the middle of one."""
    with db.su() as con, con.transaction():
        con.execute("LOCK TABLE leads IN ACCESS EXCLUSIVE MODE")
        yield


def kill_waiting_backend(qtbot, db: PoolDb, short: str) -> None:  # type: ignore[no-untyped-def]
    """pg_terminate_backend of the app's own session, caught waiting on the lock."""
    login = db.inst.login(short)
    pids: list[int] = []

    def waiting() -> bool:
        pids[:] = [r[0] for r in db.q(
            "SELECT pid FROM pg_stat_activity WHERE usename = %s AND wait_event_type = 'Lock'",
            (login,))]
        return bool(pids)

    qtbot.waitUntil(waiting, timeout=WAIT)
    db.q("SELECT pg_terminate_backend(pid) FROM unnest(%s::int[]) AS pid", (pids,))


def plain(text: str) -> bool:
    """No driver's words on screen."""
    return not any(w in text.lower() for w in ("psycopg", "terminating connection", "[sql:",
                                               "sqlalche", "operationalerror"))


def test_the_server_going_away_is_said_in_plain_words_and_retried(qtbot, db, windows) -> None:  # type: ignore[no-untyped-def]
    from ui.qt import Qt

    lead = give(db, "Desk", "remy", 1, priority=2)[0]
    win, session = windows("remy")
    online(qtbot, session)
    session.retry_first_ms = 200
    if win.active_lead != lead:
        with qtbot.waitSignal(win.sig_preview_loaded, timeout=WAIT):
            win.select_lead(lead)
    idle(qtbot, win)
    activate(qtbot, win)

    # A read whose session is ended under it: plain words, offline, retried.
    with leads_locked(db):
        with qtbot.waitSignal(session.sig_reachability, timeout=WAIT) as told:
            win.reload_queue()
            kill_waiting_backend(qtbot, db, "remy")
        assert told.args[0] == "Shared database unreachable — retrying (the connection dropped)."
        assert win.statusBar().currentMessage() == told.args[0]
        assert session.state == "offline" and win.status_online.text() == (
            "● Offline — reconnecting…")
        assert told.args[0] in win.status_online.toolTip()
    # The retry (a queue reload) gets through once the server answers again.
    with qtbot.waitSignal(session.sig_reachability, timeout=WAIT,
                          check_params_cb=lambda words: words == ""):
        pass
    assert session.state == "online" and session.unreachable is None
    assert win.statusBar().currentMessage() == "Back online: the shared database answers again."

    # A write whose session is ended under it: it says the change was NOT saved.
    idle(qtbot, win)
    before = db.one("SELECT count(*) FROM activities WHERE lead_id = %s", (lead,))
    win.dialogs.answer("ask_note", "Left a voicemail")
    with leads_locked(db):
        with qtbot.waitSignal(win.sig_action_refused, timeout=WAIT) as refused:
            qtbot.keyClick(win.view, Qt.Key.Key_N)
            kill_waiting_backend(qtbot, db, "remy")
        words = refused.args[1]
        assert refused.args[0] == "note"
        assert words.startswith("Not saved: the shared database is unreachable")
        assert "Your change was not saved" in words and plain(words)
        assert win.dialogs.errors[-1] == ("Not done", words)
        assert win.statusBar().currentMessage() == words  # not overwritten by the read's words
        assert session.state == "offline"
    assert db.one("SELECT count(*) FROM activities WHERE lead_id = %s", (lead,)) == before
    qtbot.waitUntil(lambda: session.state == "online", timeout=WAIT)
    # Back: the same note goes through.
    idle(qtbot, win)
    win.dialogs.answer("ask_note", "Left a voicemail")
    with qtbot.waitSignal(win.sig_action_done, timeout=WAIT,
                          check_params_cb=lambda n, _r: n == "note"):
        qtbot.keyClick(win.view, Qt.Key.Key_N)
    assert db.one("SELECT count(*) FROM activities WHERE lead_id = %s", (lead,)) == before + 1

    # Background saves (snoozing a notification, quiet hours, the rules editor)
    # say "not saved" too; background reads say "retrying".
    import psycopg

    lost = psycopg.OperationalError("consuming input failed: server closed the connection "
                                    "unexpectedly")
    for label, start in (("snooze notification", "Not saved:"), ("save SLA policy", "Not saved:"),
                         ("notifications", "Shared database unreachable — retrying")):
        win.executor.sig_task_failed.emit(label, lost)
        assert win.statusBar().currentMessage().startswith(start), label
        assert plain(win.statusBar().currentMessage())
    qtbot.waitUntil(lambda: session.state == "online", timeout=WAIT)  # the retry succeeds


# -- the pool -------------------------------------------------------------------------------------


def test_two_reps_take_different_leads_from_one_pool(qtbot, db, windows) -> None:  # type: ignore[no-untyped-def]
    from ui.qt import Qt

    pool = set(give(db, "Pool", None, 3, priority=2))
    pia, pia_s = windows("pia", live=False)
    pete, _pete_s = windows("pete", live=False)
    taken = {}
    for name, win in (("pia", pia), ("pete", pete)):
        activate(qtbot, win)
        with qtbot.waitSignal(win.sig_action_done, timeout=WAIT,
                              check_params_cb=lambda n, _r: n == "take_from_pool") as done:
            qtbot.keyClick(win.view, Qt.Key.Key_P)
        taken[name] = done.args[1].id
    assert taken["pia"] != taken["pete"] and set(taken.values()) <= pool
    for name, win in (("pia", pia), ("pete", pete)):
        qtbot.waitUntil(lambda w=win, n=name: w.active_lead == taken[n], timeout=WAIT)
        assert db.one("SELECT owner_id FROM leads WHERE id = %s",
                      (taken[name],)) == db.ids[name]  # type: ignore[attr-defined]
    assert db.one("SELECT count(*) FROM lead_leases WHERE lead_id = ANY(%s) "
                  "AND released_at IS NULL", (list(pool),)) == 2

    # Opening the claim renews it at once (and arms the next renewal).
    qtbot.waitUntil(lambda: taken["pia"] in pia_s.claims
                    and pia_s.claims[taken["pia"]] > datetime.now(UTC), timeout=WAIT)
    assert pia_s.renew_timer.isActive()
    assert pia_s.renew_timer.interval() <= 16 * 60 * 1000  # half of a 30-minute lease

    # The third goes to whoever asks next; then the pool is empty, said in words.
    with qtbot.waitSignal(pia.sig_action_done, timeout=WAIT) as done:
        pia.act_take_from_pool()
    third = done.args[1].id
    assert third in pool - set(taken.values())
    with qtbot.waitSignal(pete.sig_action_done, timeout=WAIT) as done:
        pete.act_take_from_pool()
    assert done.args[1] is None
    assert pete.statusBar().currentMessage() == "The pool is empty: nothing to take right now."
    assert pete.active_lead == taken["pete"]  # nothing else changed

    # Return to pool (Shift+P): Pia gives her open lead back.
    idle(qtbot, pia)
    activate(qtbot, pia)
    back = pia.active_lead
    with qtbot.waitSignal(pia.sig_action_done, timeout=WAIT,
                          check_params_cb=lambda n, _r: n == "return_to_pool"):
        qtbot.keyClick(pia.view, Qt.Key.Key_P, Qt.KeyboardModifier.ShiftModifier)
    assert db.one("SELECT owner_id FROM leads WHERE id = %s", (back,)) is None
    assert pia.active_lead != back and pia.model.row_of(back) < 0
    assert back not in pia_s.claims


def test_taking_from_the_pool_offline_is_said_in_words(qtbot, db, windows) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import create_engine

    win, _session = windows("pete", live=False)
    # The server goes away: the workspace's engine now points at a closed port.
    dead = create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none",
                         connect_args={"connect_timeout": 2})
    old, win.ws.engine = win.ws.engine, dead
    try:
        with qtbot.waitSignal(win.sig_action_refused, timeout=WAIT) as refused:
            win.act_take_from_pool()
        assert refused.args[0] == "take_from_pool"
        assert refused.args[1].startswith("You are offline")
        assert win.dialogs.errors[-1] == ("Not done", refused.args[1])
    finally:
        win.ws.engine = old
        dead.dispose()


# -- the team board -------------------------------------------------------------------------------


def test_the_team_lead_sees_who_holds_what_and_moves_leads(qtbot, db, windows) -> None:  # type: ignore[no-untyped-def]
    from ui.team_board import RepsModel

    pooled = give(db, "Pool", None, 1, priority=1)[0]
    with db.connect("pia") as con:
        assert claims.claim_next(con).lead_id == pooled  # type: ignore[union-attr]
    mine = give(db, "Pool", "pia", 2, priority=3)
    win, _session = windows("paula")
    board = win.team_board.board
    qtbot.waitUntil(lambda: board.board is not None, timeout=WAIT)
    assert win.team_board.isVisible() and board.title.text() == "Team board — Pool"
    reps = {r.name: r for r in board.board.reps}
    assert set(reps) == {"Pia", "Pete"}
    held = [h.lead_id for h in reps["Pia"].held]
    assert pooled in held  # (and any claim of hers an earlier test left)
    row = board.reps_model.row_of(db.ids["pia"])  # type: ignore[attr-defined]
    assert board.reps_model.data(board.reps_model.index(row, RepsModel.COL_HELD)).startswith(
        f"{len(held)} ·")

    # Bulk: Pia's two leads to Pete, through lq_reassign as Paula's login.
    assert board.select_rep(db.ids["pia"])  # type: ignore[attr-defined]
    board.select_leads(mine)
    assert board.set_target(db.ids["pete"])  # type: ignore[attr-defined]
    board.reason.setText("Pia is in a workshop")
    with qtbot.waitSignal(board.sig_reassigned, timeout=WAIT) as moved:
        board.reassign_selected()
    assert moved.args == [2, db.ids["pete"]]  # type: ignore[attr-defined]
    assert {db.one("SELECT owner_id FROM leads WHERE id = %s", (x,)) for x in mine} == {
        db.ids["pete"]}  # type: ignore[attr-defined]
    assert db.one("SELECT count(*) FROM audit_log WHERE rule = 'reassign' AND actor_id = %s "
                  "AND reason = 'Pia is in a workshop'", (db.ids["paula"],)) == 2  # type: ignore[attr-defined]
    # Single: the claimed lead back to the pool (the claim ends).
    idle(qtbot, win)
    assert board.select_rep(db.ids["pia"])  # type: ignore[attr-defined]
    board.select_leads([pooled])
    assert board.set_target(None)
    with qtbot.waitSignal(board.sig_reassigned, timeout=WAIT):
        board.reassign_selected()
    assert db.one("SELECT owner_id FROM leads WHERE id = %s", (pooled,)) is None
    assert db.one("SELECT count(*) FROM lead_leases WHERE lead_id = %s AND released_at IS NULL",
                  (pooled,)) == 0
    idle(qtbot, win)
    qtbot.waitUntil(lambda: pooled not in {h.lead_id for r in board.board.reps for h in r.held},
                    timeout=WAIT)


# -- starting the app on the shared database ------------------------------------------------------


def test_sign_in_says_what_is_wrong_in_plain_words() -> None:
    from ui.shared_session import sign_in

    target, why = sign_in("postgresql://rona@127.0.0.1:1/nowhere", interactive=False)
    assert target is None and why.startswith("Nothing answers at 127.0.0.1:1")


def test_sign_in_asks_for_a_password_the_server_wants(db: PoolDb) -> None:
    from leadqueue.shared.connect import ConnectionCheck, Problem, message_for
    from ui.shared_session import check_target, sign_in

    asked = []
    checked = []

    def ask(_parent, target, message):  # type: ignore[no-untyped-def]
        asked.append(message)
        return "typed-at-the-prompt"

    def checker(target):  # type: ignore[no-untyped-def]
        # The test server trusts every login, so its first answer is what a
        # password-checking server says; the retry is the real check.
        checked.append(target.source)
        if len(checked) == 1:
            return ConnectionCheck(False, message_for(Problem.PASSWORD_NEEDED, target.profile),
                                   Problem.PASSWORD_NEEDED)
        return check_target(target)

    url = db.url_of("rona").replace(":s3cret-Test-pw", "")
    target, why = sign_in(url, ask_password=ask, secrets_api=_NoKeyring(), checker=checker)
    assert why == "" and target is not None and target.source == "prompt"
    assert checked == ["libpq", "prompt"]
    assert asked and "asks for the password" in asked[0]
    # Not interactive (a screenshot run): the reason, no question.
    checked.clear()
    target, why = sign_in(url, interactive=False, secrets_api=_NoKeyring(), checker=checker)
    assert target is None and "asks for the password" in why


class _NoKeyring:
    def get_password(self, _key):  # type: ignore[no-untyped-def]
        from leadqueue.secrets import NoKeyring

        raise NoKeyring("none here")


def test_the_app_starts_on_the_shared_database_from_the_command_line(db, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """``leadqueue --db postgresql://LOGIN@HOST/DB`` end to end (a screenshot run)."""
    give(db, "Desk", "remy", 1, priority=2)
    out = tmp_path / "shared.png"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", LEADQUEUE_LOG_DIR=str(tmp_path),
               LEADQUEUE_CONFIG_DIR=str(tmp_path), PGPASSWORD="s3cret-Test-pw")
    url = db.url_of("remy").replace(":s3cret-Test-pw", "")  # the password from libpq
    done = subprocess.run([sys.executable, "-m", "leadqueue.cli", "--db", url,
                           "--screenshot", str(out)], capture_output=True, text=True,
                          timeout=120, env=env, cwd=Path(__file__).parent.parent)
    assert done.returncode == 0, done.stderr
    assert out.stat().st_size > 10_000
    bad = subprocess.run([sys.executable, "-m", "leadqueue.cli", "--db",
                          "postgresql://remy@127.0.0.1:1/none", "--screenshot", str(out)],
                         capture_output=True, text=True, timeout=120, env=env,
                         cwd=Path(__file__).parent.parent)
    assert bad.returncode == 2 and "Nothing answers at 127.0.0.1:1" in bad.stderr


def test_file_open_shared_workspace_replaces_the_local_window(  # type: ignore[no-untyped-def]
        qtbot, db, tmp_path, monkeypatch) -> None:
    """The profile saved by the connect dialog (no password in it) plus the
    keyring's password open a new window on the shared database as that login."""
    from conftest import T0
    from test_gui_support import write_small_store

    from leadqueue.clock import FakeClock
    from leadqueue.shared.connect import SharedProfile, save_profile
    from leadqueue.store import open_local_store
    from leadqueue.workspace import Workspace
    from ui.app import qapplication
    from ui.main_window import MainWindow
    from ui.qt import is_alive
    from ui.shared_session import open_shared_workspace, session_of

    monkeypatch.setenv("LEADQUEUE_LOG_DIR", str(tmp_path / "logs"))
    qapplication()
    write_small_store(tmp_path / "s.db", T0)
    engine = open_local_store(tmp_path / "s.db")
    local = MainWindow(Workspace.open(engine, "lea@example.com", FakeClock(T0)), settings=None,
                       store_label="s.db", show_switcher=False, dialogs=StubDialogs(),
                       os_links=RecordingLinks())
    qtbot.addWidget(local, before_close_func=lambda w: w.force_close())
    with qtbot.waitSignal(local.sig_queue_loaded, timeout=WAIT):
        local.show()
        local.start()
    idle(qtbot, local)
    assert local.findChild(type(local.actions_by_name["quit"]), "action_open_shared") is not None
    profile_path = tmp_path / "shared-database.json"
    save_profile(SharedProfile("127.0.0.1", db.inst.dbname, db.inst.login("remy")),
                 profile_path)
    secrets = _KeptPassword("s3cret-Test-pw")
    made = []

    def make_window(old, target, ws):  # type: ignore[no-untyped-def]
        from ui.shared_session import shared_window

        win = shared_window(old, target, ws)
        win.dialogs = StubDialogs()
        made.append(win)  # deleted on close (WA_DeleteOnClose): the test closes it
        return win

    try:
        open_shared_workspace(local, profile_path=profile_path, secrets_api=secrets,
                              make_window=make_window)
        qtbot.waitUntil(lambda: bool(made), timeout=WAIT)
        new = made[0]
        assert new.me.id == db.ids["remy"]  # type: ignore[attr-defined]
        assert secrets.asked == [f"{db.inst.login('remy')}@127.0.0.1:5432/{db.inst.dbname}"]
        session = session_of(new)
        assert session is not None
        online(qtbot, session)
        assert new.status_store.text() == (
            f"Store: postgresql://{db.inst.login('remy')}@127.0.0.1:5432/{db.inst.dbname}")
        qtbot.waitUntil(lambda: not local.isVisible(), timeout=WAIT)  # the local one closed
    finally:
        for win in made:
            session = session_of(win)
            if session is not None:
                session.stop()
            idle(qtbot, win)
            win.force_close()  # deleted on close: its engine is disposed with it
            qtbot.waitUntil(lambda w=win: not is_alive(w), timeout=WAIT)
        engine.dispose()


class _KeptPassword:
    def __init__(self, password: str) -> None:
        self.password = password
        self.asked: list[str] = []

    def get_password(self, key):  # type: ignore[no-untyped-def]
        self.asked.append(key.username)
        return self.password


def test_the_app_starts_on_the_saved_shared_database(db, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """``leadqueue --shared``: the connect dialog's profile; without one, said plainly."""
    from leadqueue.shared.connect import SharedProfile, save_profile

    out = tmp_path / "saved.png"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", LEADQUEUE_LOG_DIR=str(tmp_path),
               LEADQUEUE_CONFIG_DIR=str(tmp_path), PGPASSWORD="s3cret-Test-pw",
               PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring")
    run = functools.partial(subprocess.run, capture_output=True, text=True, timeout=120,
                            env=env, cwd=Path(__file__).parent.parent)
    none = run([sys.executable, "-m", "leadqueue.cli", "--shared", "--screenshot", str(out)])
    assert none.returncode == 2 and "Connect to shared database" in none.stderr
    save_profile(SharedProfile("127.0.0.1", db.inst.dbname, db.inst.login("rona")),
                 tmp_path / "shared-database.json")
    done = run([sys.executable, "-m", "leadqueue.cli", "--shared", "--screenshot", str(out)])
    assert done.returncode == 0, done.stderr
    assert out.stat().st_size > 10_000
