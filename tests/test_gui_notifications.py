"""The app's notification controller: one timer for the next due event, the
adapter chain with its fallbacks, the banner, quiet hours.

The schedule comes from a workspace whose ``upcoming_events`` and
``pending_notifications`` return events the test chose (the controller's
logic is what is tested here); ``test_real_core_*`` runs on the core's own
schedule for the small store.
"""

from __future__ import annotations

import uuid
from datetime import datetime, time, timedelta
from pathlib import Path

import pytest

from leadqueue.clock import FakeClock
from leadqueue.notify import NORMAL, QUIET, URGENT, Note, ProbeResult, QuietHours
from leadqueue.schedule import DueEvent, NotificationView

pytestmark = pytest.mark.gui

from conftest import T0  # noqa: E402
from test_gui_support import write_small_store  # noqa: E402


class Recorder:
    """A fake OS notifier: records notes, or fails like a broken integration."""

    def __init__(self, name: str = "fake-os", result: bool | Exception = True) -> None:
        self.name = name
        self.result = result
        self.notes: list[Note] = []

    def notify(self, note: Note) -> bool:
        self.notes.append(note)
        if isinstance(self.result, Exception):
            raise self.result
        return self.result


@pytest.fixture
def small_store(tmp_path: Path) -> tuple[Path, dict[str, object]]:
    path = tmp_path / "small.db"
    return path, write_small_store(path, T0)


def scheduled_workspace(engine, email: str, clock: FakeClock):  # type: ignore[no-untyped-def]
    """A real workspace whose schedule and rows the test sets."""
    from leadqueue.workspace import Workspace

    class Scheduled(Workspace):
        events: list[DueEvent]
        rows: list[NotificationView]

        def upcoming_events(self, horizon: timedelta = timedelta(hours=24)) -> tuple[DueEvent, ...]:
            self.asked += 1
            end = self.now() + horizon
            return tuple(sorted((e for e in self.events if e.at <= end), key=lambda e: e.at))

        def pending_notifications(self) -> tuple[NotificationView, ...]:
            return tuple(r for r in self.rows if r.id not in self.seen
                         and self.snoozed.get(r.id, self.now()) <= self.now())

        def mark_notifications_seen(self, ids) -> None:  # type: ignore[no-untyped-def]
            self.seen.update(ids)

        def snooze_notification(self, notification_id: uuid.UUID, until: datetime) -> None:
            self.snoozed[notification_id] = until

        def next_notification_at(self) -> datetime | None:
            later = [u for u in self.snoozed.values() if u > self.now()]
            return min(later, default=None)

    ws = Scheduled.open(engine, email, clock)
    ws.events, ws.rows, ws.seen, ws.snoozed, ws.asked = [], [], set(), {}, 0
    return ws


@pytest.fixture
def app_parts(qtbot, small_store, tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    """The main window on the small store with a controller and a fake OS notifier."""
    import ui.notifications as notifications
    from leadqueue.store import open_local_store
    from ui.app import qapplication
    from ui.main_window import MainWindow

    monkeypatch.setenv("LEADQUEUE_LOG_DIR", str(tmp_path / "logs"))
    # Never reach a real notification daemon from a test.
    monkeypatch.setattr(notifications, "probe_plyer",
                        lambda *a, **k: ProbeResult(False, "none", "test"))
    qapplication()
    engine = open_local_store(small_store[0])
    clock = FakeClock(T0)
    ws = scheduled_workspace(engine, "ada@example.com", clock)
    win = MainWindow(ws, store_label="small.db", show_switcher=False)
    qtbot.addWidget(win)
    controller = getattr(win, "notifications", None)
    if controller is None:
        banner = notifications.NotificationBanner(win)
        controller = notifications.NotificationController(win, banner, notifiers=[])
    os_notifier = Recorder()
    controller.chain = notifications.NotifierChain([os_notifier])
    yield win, controller, os_notifier, ws, clock, small_store[1]
    win.close()
    engine.dispose()


def start(qtbot, win, controller) -> None:  # type: ignore[no-untyped-def]
    with qtbot.waitSignal(controller.sig_schedule_loaded, timeout=10_000):
        win.start()


def ev(ids, key: str, name: str, at: datetime, level: str = NORMAL,  # type: ignore[no-untyped-def]
       kind: str = "sla_deadline", title: str = "First response due",
       priority: int | None = None) -> DueEvent:
    lead = ids[key] if key in ids else uuid.uuid4()
    return DueEvent(at, lead, name, kind, level, title, f"{title} for {name}", priority)


def test_one_timer_armed_for_the_next_event_and_rearmed(qtbot, app_parts) -> None:  # type: ignore[no-untyped-def]
    win, controller, os_notifier, ws, clock, ids = app_parts
    first = ev(ids, "L1", "Priya Shah", T0 + timedelta(minutes=3), URGENT)
    second = ev(ids, "L2", "Jonas Becker", T0 + timedelta(minutes=13), kind="step_due",
                title="Call step due")
    ws.events = [second, first]
    start(qtbot, win, controller)

    # One single-shot timer, armed for the earliest event, nothing per lead.
    assert controller.timer.isSingleShot() and controller.timer.isActive()
    assert controller.armed_for == first.at
    assert abs(controller.timer.interval() - 3 * 60 * 1000) <= 1000
    from ui.qt import QTimer

    timers = [t for t in controller.findChildren(QTimer) if t.isActive()]
    assert sorted(t.objectName() for t in timers) == ["next_event_timer", "notification_poll"]
    assert controller.poll.interval() >= 60_000  # the low-rate pick-up, not a busy loop
    assert os_notifier.notes == []

    # The clock reaches the first event: it is delivered and the timer re-arms.
    clock.advance(minutes=3)
    with qtbot.waitSignal(controller.sig_delivered, timeout=5_000) as delivered:
        controller.timer.timeout.emit()
    note, via = delivered.args
    assert via == "fake-os" and note.lead_name == "Priya Shah" and note.level == URGENT
    assert controller.armed_for == second.at
    assert abs(controller.timer.interval() - 10 * 60 * 1000) <= 1000

    # A refresh of the schedule (the queue reloaded) does not deliver it twice.
    with qtbot.waitSignal(controller.sig_schedule_loaded, timeout=10_000):
        controller.refresh()
    assert [n.lead_name for n in os_notifier.notes] == ["Priya Shah"]
    assert controller.armed_for == second.at

    clock.advance(minutes=10)
    controller.timer.timeout.emit()
    assert [n.lead_name for n in os_notifier.notes] == ["Priya Shah", "Jonas Becker"]
    assert not controller.timer.isActive() and controller.armed_for is None


def test_long_waits_are_capped_so_a_clock_jump_is_noticed(qtbot, app_parts) -> None:  # type: ignore[no-untyped-def]
    from ui.notifications import MAX_SLEEP_MS

    win, controller, os_notifier, ws, _clock, ids = app_parts
    far = ev(ids, "L3", "Olivia Wong", T0 + timedelta(hours=5))
    ws.events = [far]
    start(qtbot, win, controller)
    assert controller.timer.interval() == MAX_SLEEP_MS
    controller.timer.timeout.emit()  # woke early: nothing due yet, sleep again
    assert os_notifier.notes == [] and controller.armed_for == far.at


def test_events_within_seconds_batch_into_one_notification(qtbot, app_parts) -> None:  # type: ignore[no-untyped-def]
    win, controller, os_notifier, ws, clock, ids = app_parts
    at = T0 + timedelta(minutes=1)
    ws.events = [ev(ids, "L1", "Priya Shah", at, URGENT),
                 ev(ids, "L2", "Jonas Becker", at + timedelta(seconds=2)),
                 ev(ids, "L4", "Tom Hughes", at + timedelta(seconds=4))]
    start(qtbot, win, controller)
    clock.set(at)
    controller.timer.timeout.emit()
    (note,) = os_notifier.notes
    assert note.title == "3 leads need you"
    assert note.lead_id == ids["L1"] and "Tom Hughes" in note.body
    assert controller.banner.current == note


def test_worker_rows_are_picked_up_and_seen_only_when_acted_on(qtbot, app_parts) -> None:  # type: ignore[no-untyped-def]
    win, controller, os_notifier, ws, _clock, ids = app_parts
    row = NotificationView(uuid.uuid4(), ids["L4"], "Tom Hughes", URGENT, "Reassigned to you",
                           "Bob Rep did not respond in time", T0 - timedelta(minutes=1))
    ws.rows = [row]
    start(qtbot, win, controller)
    (note,) = os_notifier.notes
    assert note.notification_ids == (row.id,) and note.title == "Reassigned to you"
    # The poll does not show it again.
    with qtbot.waitSignal(controller.sig_schedule_loaded, timeout=10_000):
        controller.refresh()
    assert len(os_notifier.notes) == 1
    # Dismissing it marks the row seen in the core.
    with qtbot.waitSignal(win.executor.sig_task_done, timeout=5_000):
        controller.banner.dismiss_button.click()
    assert ws.seen == {row.id}
    assert not controller.banner.isVisible() or controller.banner.current is None


def test_a_due_p1_notification_falls_back_to_the_banner(qtbot, app_parts) -> None:  # type: ignore[no-untyped-def]
    from ui.notifications import NotifierChain

    win, controller, _os, ws, _clock, ids = app_parts
    broken = Recorder("plyer", OSError("org.freedesktop.Notifications not owned"))
    refusing = Recorder("tray", False)
    controller.chain = NotifierChain([broken, refusing])
    ws.events = [ev(ids, "L1", "Priya Shah", T0, URGENT)]
    win.show()
    with qtbot.waitSignal(controller.sig_delivered, timeout=10_000) as delivered:
        win.start()
    note, via = delivered.args
    assert via == "banner"
    assert [name for name, _ in controller.chain.dropped] == ["plyer", "tray"]
    assert controller.banner.isVisible()
    assert "Priya Shah" in controller.banner.text.text()
    assert note.lead_id == ids["L1"]


def test_clicking_the_banner_opens_the_lead(qtbot, app_parts) -> None:  # type: ignore[no-untyped-def]
    from ui.qt import Qt, QtCore
    QPoint = QtCore.QPoint

    win, controller, _os, ws, _clock, ids = app_parts
    ws.events = [ev(ids, "L4", "Tom Hughes", T0 + timedelta(seconds=1), kind="callback",
                    title="Callback due")]
    win.show()
    with qtbot.waitSignal(controller.sig_delivered, timeout=10_000):
        win.start()
    qtbot.waitUntil(lambda: win.model.row_of(ids["L4"]) >= 0, timeout=5_000)
    # Something else is selected; a filter even hides the lead.
    win.search.setText("priya")
    assert win.model.row_of(ids["L4"]) == -1
    with qtbot.waitSignal(win.sig_preview_loaded, timeout=10_000,
                          check_params_cb=lambda lead: lead == ids["L4"]):
        qtbot.mouseClick(controller.banner.text, Qt.MouseButton.LeftButton,
                         pos=QPoint(5, controller.banner.text.height() // 2))
    assert win.current_lead_id() == ids["L4"]
    assert "Tom Hughes" in win.preview.toPlainText()
    assert controller.banner.current is None


def test_quiet_hours_hold_a_normal_notification_but_not_an_urgent_p1(qtbot, app_parts) -> None:  # type: ignore[no-untyped-def]
    win, controller, os_notifier, ws, clock, ids = app_parts
    controller._quiet_override = controller._quiet_hours = QuietHours(time(0, 0), time(23, 59))
    ws.events = [ev(ids, "L4", "Tom Hughes", T0 + timedelta(minutes=1), NORMAL, "callback",
                    "Callback due", priority=2),
                 ev(ids, "L1", "Priya Shah", T0 + timedelta(minutes=10), URGENT, priority=1)]
    start(qtbot, win, controller)
    clock.advance(minutes=1)
    with qtbot.waitSignal(controller.sig_delivered, timeout=5_000) as held:
        controller.timer.timeout.emit()
    assert held.args[1] == "banner" and held.args[0].level == QUIET
    assert os_notifier.notes == []  # no OS notification in quiet hours
    clock.advance(minutes=9)
    controller.timer.timeout.emit()
    assert [n.lead_name for n in os_notifier.notes] == ["Priya Shah"]
    assert os_notifier.notes[0].level == URGENT


def test_an_urgent_p1_off_the_visible_queue_still_breaks_through_quiet_hours(  # type: ignore[no-untyped-def]
        qtbot, app_parts) -> None:
    """The P1 rule reads the priority the core puts on events and rows, not
    the visible queue: a lead filtered out, or not in my queue at all (a
    team lead's escalation), still breaks through."""
    win, controller, os_notifier, ws, clock, ids = app_parts
    controller._quiet_override = controller._quiet_hours = QuietHours(time(0, 0), time(23, 59))
    team_lead_row = NotificationView(uuid.uuid4(), uuid.uuid4(), "Bea Other", URGENT,
                                     "SLA breach: P1 Bea Other", "No first response yet",
                                     T0 - timedelta(seconds=30), priority=1)
    p2_row = NotificationView(uuid.uuid4(), uuid.uuid4(), "Zed Else", URGENT,
                              "Overdue: P2 Zed Else", "First response is overdue",
                              T0 - timedelta(minutes=2), priority=2)
    ws.rows = [p2_row]
    win.search.setText("tom")  # Priya Shah (P1) is filtered out of the view
    start(qtbot, win, controller)
    assert win.model.row_of(ids["L1"]) == -1
    assert os_notifier.notes == []  # urgent, but P2: held in quiet hours
    assert controller.banner.current.level == QUIET
    ws.rows = [p2_row, team_lead_row]
    ws.events = [ev(ids, "L1", "Priya Shah", T0 + timedelta(minutes=1), URGENT, priority=1)]
    with qtbot.waitSignal(controller.sig_schedule_loaded, timeout=10_000):
        controller.refresh()
    assert [n.lead_name for n in os_notifier.notes] == ["Bea Other"]
    assert os_notifier.notes[0].priority == 1 and os_notifier.notes[0].level == URGENT
    clock.advance(minutes=1)
    controller.timer.timeout.emit()
    assert [n.lead_name for n in os_notifier.notes] == ["Bea Other", "Priya Shah"]
    assert os_notifier.notes[1].level == URGENT


def test_a_long_batch_is_cut_to_the_banner_not_the_window_widened(qtbot, app_parts) -> None:  # type: ignore[no-untyped-def]
    win, controller, _os, _ws, _clock, ids = app_parts
    win.resize(1000, 700)
    win.show()
    qtbot.waitExposed(win)
    start(qtbot, win, controller)
    reason = "; ".join(f"Lead {i} (Company {i}): no first response yet" for i in range(40))
    controller.deliver([Note("40 leads need you", ids["L1"], "Priya Shah", reason, URGENT,
                             kind="batch")])
    qtbot.waitUntil(lambda: controller.banner.text.width() > 100, timeout=5_000)
    assert win.minimumSizeHint().width() < 1000 and win.width() == 1000
    shown = controller.banner.text.text()
    assert "40 leads need you" in shown and shown.endswith("…") and "Lead 39" not in shown
    assert "Lead 39" in controller.banner.text.toolTip()  # the whole text on hover


def test_snoozed_notification_comes_back(qtbot, app_parts) -> None:  # type: ignore[no-untyped-def]
    win, controller, os_notifier, ws, clock, ids = app_parts
    ws.events = [ev(ids, "L2", "Jonas Becker", T0, NORMAL)]
    start(qtbot, win, controller)
    assert len(os_notifier.notes) == 1
    controller.banner.snooze_current(timedelta(minutes=10))
    assert controller.banner.current is None
    assert controller.armed_for == T0 + timedelta(minutes=10)
    clock.advance(minutes=10)
    controller.timer.timeout.emit()
    assert [n.lead_name for n in os_notifier.notes] == ["Jonas Becker", "Jonas Becker"]


def test_snoozing_a_worker_row_goes_through_the_core(qtbot, app_parts) -> None:  # type: ignore[no-untyped-def]
    win, controller, os_notifier, ws, clock, ids = app_parts
    row = NotificationView(uuid.uuid4(), ids["L1"], "Priya Shah", NORMAL,
                           "Team lead: SLA breached", "Priya Shah waited 2 h", T0)
    ws.rows = [row]
    start(qtbot, win, controller)
    with qtbot.waitSignal(controller.sig_armed, timeout=5_000,
                          check_params_cb=lambda at: at == T0 + timedelta(hours=1)):
        controller.banner.snooze_current(T0 + timedelta(hours=1))
    assert ws.snoozed == {row.id: T0 + timedelta(hours=1)}
    # Hidden until then; the one timer is armed for its return, and brings it back.
    assert len(os_notifier.notes) == 1
    assert controller.armed_for == T0 + timedelta(hours=1)
    clock.advance(hours=1)
    with qtbot.waitSignal(controller.sig_delivered, timeout=10_000):
        controller.timer.timeout.emit()
    assert len(os_notifier.notes) == 2


def test_snooze_menu_offers_presets(qtbot, app_parts) -> None:  # type: ignore[no-untyped-def]
    _win, controller, _os, _ws, _clock, _ids = app_parts
    labels = [label for label, _ in controller.snooze_presets()]
    assert labels[:2] == ["10 minutes", "30 minutes"] and "Tomorrow 09:00" in labels


# -- on the core's own schedule -----------------------------------------------------------


@pytest.fixture
def real_parts(qtbot, small_store, tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    """The main window on the small store with the core's real schedule."""
    import ui.notifications as notifications
    from leadqueue.store import open_local_store
    from leadqueue.workspace import Workspace
    from ui.app import qapplication
    from ui.main_window import MainWindow

    monkeypatch.setenv("LEADQUEUE_LOG_DIR", str(tmp_path / "logs"))
    monkeypatch.setattr(notifications, "probe_plyer",
                        lambda *a, **k: ProbeResult(False, "none", "test"))
    qapplication()
    engine = open_local_store(small_store[0])
    clock = FakeClock(T0)
    ws = Workspace.open(engine, "ada@example.com", clock)
    win = MainWindow(ws, store_label="small.db", show_switcher=False)
    qtbot.addWidget(win)
    controller = getattr(win, "notifications", None)
    if controller is None:
        banner = notifications.NotificationBanner(win)
        controller = notifications.NotificationController(win, banner, notifiers=[])
    os_notifier = Recorder()
    controller.chain = notifications.NotifierChain([os_notifier])
    yield win, controller, os_notifier, ws, clock, small_store[1]
    win.close()
    engine.dispose()


def test_real_core_due_p1_lead_notifies_through_the_chain(qtbot, real_parts) -> None:  # type: ignore[no-untyped-def]
    win, controller, os_notifier, _ws, clock, ids = real_parts
    start(qtbot, win, controller)
    # Priya Shah (P1) came in 2 minutes before T0 with a 5-minute SLA.
    deadline = T0 + timedelta(minutes=3)
    assert controller.armed_for == deadline
    assert os_notifier.notes == []
    clock.set(deadline)
    with qtbot.waitSignal(controller.sig_delivered, timeout=5_000) as delivered:
        controller.timer.timeout.emit()
    note, via = delivered.args
    assert via == "fake-os"
    assert note.lead_id == ids["L1"] and "Priya Shah" in note.lead_name
    assert note.level == URGENT and note.priority == 1
    # Re-armed for what comes next on the ladder (the +30 min urgent stage).
    assert controller.armed_for is not None and controller.armed_for > deadline


def test_real_core_countdown_colour_changes_at_deadline_and_ladder_stages(  # type: ignore[no-untyped-def]
        qtbot, real_parts) -> None:
    from ui.notifications import STAGE_COLORS
    from ui.qt import Qt
    from ui.queue_model import COL_DUE

    win, controller, _os, _ws, clock, ids = real_parts
    start(qtbot, win, controller)
    qtbot.waitUntil(lambda: ids["L1"] in win.model.sla_clocks, timeout=10_000)

    def colour() -> str | None:
        index = win.model.index(win.model.row_of(ids["L1"]), COL_DUE)
        value = index.data(Qt.ItemDataRole.ForegroundRole)
        return value.name() if value is not None else None

    deadline = T0 + timedelta(minutes=3)
    seen = []
    for at in (deadline - timedelta(seconds=1), deadline, deadline + timedelta(minutes=29),
               deadline + timedelta(minutes=30), deadline + timedelta(minutes=120),
               deadline + timedelta(minutes=240)):
        clock.set(at)
        win.model.tick(at)
        seen.append(colour())
    stage = [c.name() for c in STAGE_COLORS]
    # Orange in the last minutes, red from the deadline, then one colour per stage.
    assert seen == ["#d35400", stage[0], stage[0], stage[1], stage[2], stage[3]]


def test_quiet_hours_saved_from_the_dialog_apply_at_once(qtbot, real_parts) -> None:  # type: ignore[no-untyped-def]
    from leadqueue.model import User
    from leadqueue.store import session_scope

    win, controller, os_notifier, ws, clock, _ids = real_parts
    start(qtbot, win, controller)
    action = win.findChild(object, "action_quiet_hours")
    assert action is not None
    dialog = controller.ask_quiet_hours()
    qtbot.addWidget(dialog)
    # A bad time: the core's refusal shows in the dialog, which stays open.
    dialog.none.setChecked(False)
    dialog.start.setText("25:00")
    dialog.end.setText("07:00")
    with qtbot.waitSignal(controller.sig_quiet_hours_refused, timeout=5_000):
        dialog.sig_ok.emit()
    assert "quiet_hours_start" in dialog.error.text() and dialog.isVisible()
    # Quiet all day long (00:00-23:59 here): saved in the core and applied now.
    dialog.start.setText("00:00")
    dialog.end.setText("23:59")
    with qtbot.waitSignal(controller.sig_quiet_hours_saved, timeout=5_000):
        dialog.sig_ok.emit()
    assert not dialog.isVisible()
    with session_scope(ws.engine) as s:
        user = s.get(User, ws.me.id)
        assert (user.quiet_hours_start, user.quiet_hours_end) == ("00:00", "23:59")
    assert controller.quiet_hours is not None
    # The P1 lead's deadline is urgent on a P1 lead: it still pops up.
    clock.set(T0 + timedelta(minutes=3))
    controller.timer.timeout.emit()
    assert [n.level for n in os_notifier.notes] == [URGENT]


def test_plyer_failing_later_is_swapped_for_the_next_adapter(  # type: ignore[no-untyped-def]
        qtbot, small_store, tmp_path, monkeypatch) -> None:
    """The probe said yes, but delivery then fails on plyer's thread: the note
    is re-delivered through the rest of the chain and plyer leaves it."""
    import ui.notifications as notifications
    from leadqueue.notify import PlyerNotifier
    from leadqueue.store import open_local_store
    from ui.app import qapplication
    from ui.main_window import MainWindow

    class FailingBackend:
        def notify(self, **_kwargs: object) -> None:
            raise OSError("notify-send: cannot connect to the session bus")

    monkeypatch.setenv("LEADQUEUE_LOG_DIR", str(tmp_path / "logs"))
    monkeypatch.setattr(notifications, "probe_plyer",
                        lambda *a, **k: ProbeResult(True, "notify-send", "test says yes"))
    monkeypatch.setattr(notifications, "PlyerNotifier",
                        lambda probe, **kw: PlyerNotifier(probe, backend=FailingBackend(), **kw))
    qapplication()
    engine = open_local_store(small_store[0])
    clock = FakeClock(T0)
    ws = scheduled_workspace(engine, "ada@example.com", clock)
    ids = small_store[1]
    ws.events = [ev(ids, "L1", "Priya Shah", T0 + timedelta(minutes=3), URGENT)]
    win = MainWindow(ws, store_label="small.db", show_switcher=False)
    qtbot.addWidget(win)
    controller = win.notifications
    try:
        with qtbot.waitSignal(controller.sig_probed, timeout=10_000):
            pass
        assert controller.chain.names[0] == "plyer"
        start(qtbot, win, controller)
        clock.advance(minutes=3)
        with qtbot.waitSignal(controller.sig_delivered, timeout=10_000) as first:
            controller.timer.timeout.emit()  # accepted by plyer, then fails on its thread
        assert first.args[1] == "plyer"
        with qtbot.waitSignal(controller.sig_delivered, timeout=10_000) as again:
            pass
        assert again.args[1] == "banner" and again.args[0].lead_name == "Priya Shah"
        assert "plyer" not in controller.chain.names
        assert ("plyer", "OSError: notify-send: cannot connect to the session bus") in \
            controller.chain.dropped
        assert "Priya Shah" in controller.banner.text.text()
    finally:
        win.force_close()
        engine.dispose()


def test_cold_start_reads_the_schedule_once_the_workspace_opens(  # type: ignore[no-untyped-def]
        qtbot, small_store, tmp_path, monkeypatch) -> None:
    """First paint without a workspace: the controller is installed after it
    and reads the schedule as soon as the workspace is open."""
    import ui.notifications as notifications
    from leadqueue.store import open_local_store
    from leadqueue.workspace import Workspace
    from ui.app import qapplication
    from ui.main_window import FirstPaint, MainWindow, fetch_queue

    monkeypatch.setenv("LEADQUEUE_LOG_DIR", str(tmp_path / "logs"))
    monkeypatch.setattr(notifications, "probe_plyer",
                        lambda *a, **k: ProbeResult(False, "none", "test"))
    qapplication()
    engine = open_local_store(small_store[0])
    clock = FakeClock(T0)
    ws = Workspace.open(engine, "ada@example.com", clock)
    first = FirstPaint(ws.me, fetch_queue(ws))
    win = MainWindow(None, first_paint=first, open_workspace=lambda: ws, clock=clock,
                     store_label="small.db", show_switcher=False)
    qtbot.addWidget(win)
    try:
        assert win.notifications is None  # installed after the first paint
        win.start()
        qtbot.waitUntil(lambda: win.notifications is not None, timeout=5_000)
        controller = win.notifications
        qtbot.waitUntil(lambda: controller.armed_for is not None, timeout=10_000)
        assert controller.armed_for == T0 + timedelta(minutes=3)  # the P1 lead's deadline
        assert win.banner is not None and win.findChild(object, "action_quiet_hours")
    finally:
        win.force_close()
        engine.dispose()


# -- saved quiet hours, the rule engine in the app, the screenshot --------------------------


def real_window(small_store, clock: FakeClock, *, in_app_rules: bool = False):  # type: ignore[no-untyped-def]
    """A window on the small store as ``ui.app`` opens it, with a fake OS notifier."""
    import ui.notifications as notifications
    from leadqueue.store import open_local_store
    from leadqueue.workspace import Workspace
    from ui.main_window import MainWindow

    engine = open_local_store(small_store[0])
    ws = Workspace.open(engine, "ada@example.com", clock)
    win = MainWindow(ws, store_label="small.db", show_switcher=False)
    win.in_app_rules = in_app_rules
    os_notifier = Recorder()
    win.notifications.chain = notifications.NotifierChain([os_notifier])
    return win, win.notifications, os_notifier, ws, engine


@pytest.fixture
def quiet_probe(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    import ui.notifications as notifications
    from ui.app import qapplication

    monkeypatch.setenv("LEADQUEUE_LOG_DIR", str(tmp_path / "logs"))
    monkeypatch.setattr(notifications, "probe_plyer",
                        lambda *a, **k: ProbeResult(False, "none", "test"))
    qapplication()


def test_saved_quiet_hours_survive_a_restart(qtbot, small_store, quiet_probe) -> None:  # type: ignore[no-untyped-def]
    from zoneinfo import ZoneInfo

    from sqlalchemy import update

    from leadqueue.model import User

    clock = FakeClock(T0)
    win, controller, _os, ws, engine = real_window(small_store, clock)
    qtbot.addWidget(win)
    try:
        start(qtbot, win, controller)
        assert controller.quiet_hours is None
        with qtbot.waitSignal(controller.sig_quiet_hours_saved, timeout=5_000):
            controller.save_quiet_hours("21:30", "06:45")
        with engine.begin() as con:  # my own zone, as the core keeps it
            con.execute(update(User).where(User.id == ws.me.id).values(timezone="Asia/Tokyo"))
    finally:
        win.force_close()
        engine.dispose()
    # The app starts again: the controller reads the saved hours from the core.
    win, controller, _os, ws, engine = real_window(small_store, clock)
    qtbot.addWidget(win)
    try:
        assert controller.quiet_hours is None
        start(qtbot, win, controller)
        hours = controller.quiet_hours
        assert hours is not None
        assert (f"{hours.start:%H:%M}", f"{hours.end:%H:%M}") == ("21:30", "06:45")
        assert hours.zone == ZoneInfo("Asia/Tokyo")
        # 13:00 UTC is 22:00 in Tokyo: quiet; 22:00 UTC is 07:00 there: not.
        assert hours.active(datetime(2026, 3, 4, 13, 0, tzinfo=T0.tzinfo))
        assert not hours.active(datetime(2026, 3, 4, 22, 0, tzinfo=T0.tzinfo))
    finally:
        win.force_close()
        engine.dispose()


def _firings(engine, lead_id) -> list[str]:  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from leadqueue.model import RuleFiring

    with engine.connect() as con:
        return sorted(con.scalars(select(RuleFiring.key).where(RuleFiring.lead_id == lead_id)))


def _row_seen(engine, lead_id) -> bool:  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from leadqueue.model import Notification

    with engine.connect() as con:
        seen = con.scalars(select(Notification.seen_at)
                           .where(Notification.lead_id == lead_id)).all()
    return len(seen) == 1 and seen[0] is not None


def test_in_app_rules_raise_the_breached_p1_notification_once(  # type: ignore[no-untyped-def]
        qtbot, small_store, quiet_probe) -> None:
    """A local store, the app opened 10 minutes after Priya Shah's P1 lead came
    in (its 5-minute SLA breached while the app was closed): the in-app pass
    records the deadline stage, its notification row is picked up and shown;
    another pass adds nothing."""
    ids = small_store[1]
    clock = FakeClock(T0 + timedelta(minutes=10))
    win, controller, os_notifier, ws, engine = real_window(small_store, clock, in_app_rules=True)
    qtbot.addWidget(win)
    try:
        assert _firings(engine, ids["L1"]) == []
        assert controller.rules_run_here()
        with qtbot.waitSignal(controller.sig_rules_ran, timeout=10_000) as ran:
            win.start()
        first = ran.args[0]
        assert first.counts["sla_ladder:notify_owner"] == 2  # Priya (Ada's) and Bea (Bob's)
        qtbot.waitUntil(lambda: len(os_notifier.notes) >= 1, timeout=10_000)
        (note,) = os_notifier.notes
        # Ada's rows of this pass, batched into one note: Priya's P1 deadline
        # first; Jonas Becker's P2 went to the pool (not opened in 30 min).
        rows = {r.id: r for r in ws.pending_notifications()}
        assert set(note.notification_ids) == set(rows)
        assert sorted(r.title for r in rows.values()) == [
            "Due now: P1 Priya Shah (Northwind Ltd)", "Moved to the team pool: Jonas Becker "
            "(Brandt GmbH)"]
        assert note.lead_id == ids["L1"] and note.level == URGENT and note.priority == 1
        assert "Priya Shah (Northwind Ltd): First response is due" in note.body
        assert controller.banner.isVisibleTo(win) and "Priya Shah" in controller.banner.text.text()
        fired = _firings(engine, ids["L1"])
        assert len(fired) == 1
        # The second pass applies nothing, and nothing new is shown.
        with qtbot.waitSignal(controller.sig_rules_ran, timeout=10_000) as again:
            assert controller.run_rules()
        assert again.args[0].total == 0
        with qtbot.waitSignal(controller.sig_schedule_loaded, timeout=10_000):
            controller.refresh()
        assert len(os_notifier.notes) == 1 and _firings(engine, ids["L1"]) == fired
    finally:
        win.force_close()
        engine.dispose()


def test_in_app_rules_follow_a_deadline_without_showing_it_twice(  # type: ignore[no-untyped-def]
        qtbot, small_store, quiet_probe) -> None:
    """While the app is open the schedule's one timer reaches the P1 deadline:
    the event is shown, a pass follows at once and records the stage; its row
    says the same thing, so it is marked seen rather than shown again."""
    ids = small_store[1]
    clock = FakeClock(T0)
    win, controller, os_notifier, ws, engine = real_window(small_store, clock, in_app_rules=True)
    qtbot.addWidget(win)
    controller.rules_min_gap_ms = 0  # the pass at start was just now
    try:
        with qtbot.waitSignal(controller.sig_rules_ran, timeout=10_000):
            win.start()
        qtbot.waitUntil(lambda: controller.armed_for == T0 + timedelta(minutes=3),
                        timeout=10_000)
        assert _firings(engine, ids["L1"]) == []
        clock.set(T0 + timedelta(minutes=3))
        with qtbot.waitSignal(controller.sig_rules_ran, timeout=10_000) as ran:
            controller.timer.timeout.emit()
        assert ran.args[0].counts["sla_ladder:notify_owner"] == 1
        assert len(_firings(engine, ids["L1"])) == 1
        # Priya's row of that pass is marked seen, not shown a second time.
        qtbot.waitUntil(lambda: _row_seen(engine, ids["L1"]), timeout=10_000)
        assert [r.lead_id for r in ws.pending_notifications()] == [ids["L2"]]
        assert [n.title for n in os_notifier.notes] == [
            "Moved to the team pool: Jonas Becker (Brandt GmbH)",  # the first pass, at T0
            "First response due: P1 Priya Shah (Northwind Ltd)"]
    finally:
        win.force_close()
        engine.dispose()


def test_automatic_passes_keep_a_minimum_gap(qtbot, small_store, quiet_probe) -> None:  # type: ignore[no-untyped-def]
    """A deadline due a moment after the last pass: the pass after it waits
    out the gap on one single-shot timer (no pass per event in a dense
    schedule, no polling), then runs."""
    ids = small_store[1]
    clock = FakeClock(T0)
    win, controller, os_notifier, _ws, engine = real_window(small_store, clock, in_app_rules=True)
    qtbot.addWidget(win)
    try:
        with qtbot.waitSignal(controller.sig_rules_ran, timeout=10_000):
            win.start()
        qtbot.waitUntil(lambda: controller.armed_for == T0 + timedelta(minutes=3),
                        timeout=10_000)
        assert not controller.rules_timer.isActive()
        clock.set(T0 + timedelta(minutes=3))
        controller.timer.timeout.emit()  # Priya's deadline: delivered, the pass waits
        assert [n.lead_id for n in os_notifier.notes][-1] == ids["L1"]
        assert controller.rules_timer.isActive()
        assert 0 < controller.rules_timer.interval() <= controller.rules_min_gap_ms
        assert _firings(engine, ids["L1"]) == []
        with qtbot.waitSignal(controller.sig_rules_ran, timeout=10_000) as ran:
            controller.rules_timer.timeout.emit()
        assert ran.args[0].counts["sla_ladder:notify_owner"] == 1
        assert len(_firings(engine, ids["L1"])) == 1
        assert not controller.rules_timer.isActive()
    finally:
        win.force_close()
        engine.dispose()


def test_no_in_app_rules_on_a_shared_database(qtbot, small_store, quiet_probe) -> None:  # type: ignore[no-untyped-def]
    clock = FakeClock(T0)
    win, controller, _os, ws, engine = real_window(small_store, clock, in_app_rules=True)
    qtbot.addWidget(win)
    try:
        assert controller.rules_run_here()
        ws.shared_url = "postgresql://team.example/leads"  # a replica: the worker runs there
        assert not controller.rules_run_here() and not controller.run_rules()
        ws.shared_url = None
        win.in_app_rules = False  # a window ui.app did not turn it on for
        assert not controller.rules_run_here()
    finally:
        win.force_close()
        engine.dispose()


def test_screenshot_waits_for_the_breached_p1_banner(qtbot, small_store, quiet_probe,  # type: ignore[no-untyped-def]
                                                     tmp_path) -> None:
    """``leadqueue --screenshot`` on a window with a workspace: the shot is
    taken once the notifications (after the in-app pass) are in the banner,
    and no OS notification goes out."""
    from ui.app import _screenshot, qapplication

    ids = small_store[1]
    clock = FakeClock(T0 + timedelta(minutes=10))
    win, controller, os_notifier, _ws, engine = real_window(small_store, clock, in_app_rules=True)
    qtbot.addWidget(win)
    out = tmp_path / "shot.png"
    try:
        assert _screenshot(qapplication(), win, str(out)) == 0
        assert out.stat().st_size > 10_000
        # The banner as it was grabbed (no event loop ran since).
        note = controller.banner.current
        assert note is not None and note.lead_id == ids["L1"] and note.level == URGENT
        assert "Priya Shah (Northwind Ltd): First response is due" in note.body
        assert controller.banner.isVisibleTo(win) and "Priya Shah" in controller.banner.text.text()
        assert os_notifier.notes == []
    finally:
        win.force_close()
        engine.dispose()


def test_cold_start_runs_the_rules_once_the_workspace_opens(  # type: ignore[no-untyped-def]
        qtbot, small_store, quiet_probe) -> None:
    """The app's cold start (first paint without the ORM): the in-app pass
    runs when the workspace has opened, and its notification is shown."""
    from leadqueue.store import open_local_store
    from leadqueue.workspace import Workspace
    from ui.main_window import FirstPaint, MainWindow, fetch_queue

    ids = small_store[1]
    engine = open_local_store(small_store[0])
    clock = FakeClock(T0 + timedelta(minutes=10))
    ws = Workspace.open(engine, "ada@example.com", clock)
    win = MainWindow(None, first_paint=FirstPaint(ws.me, fetch_queue(ws)),
                     open_workspace=lambda: ws, clock=clock, store_label="small.db",
                     show_switcher=False)
    win.in_app_rules = True  # as ui.app opens a local store
    qtbot.addWidget(win)
    try:
        win.start()
        qtbot.waitUntil(lambda: win.notifications is not None, timeout=5_000)
        banner = win.notifications.banner
        qtbot.waitUntil(lambda: banner.current is not None, timeout=10_000)
        assert banner.current.lead_id == ids["L1"]
        assert "First response is due" in banner.current.body
        assert len(_firings(engine, ids["L1"])) == 1
    finally:
        win.force_close()
        engine.dispose()
