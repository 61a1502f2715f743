"""The app's notification controller: one timer for the next due event, the
adapter chain with its fallbacks, the banner, quiet hours.

The schedule comes from a workspace whose ``upcoming_events`` and
``pending_notifications`` return events the test chose (the controller's
logic is what is tested here); ``test_real_core_*`` runs on the core's own
schedule for the small store.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from pathlib import Path

import pytest

from leadqueue.clock import FakeClock
from leadqueue.notify import NORMAL, QUIET, URGENT, Note, ProbeResult, QuietHours

pytestmark = pytest.mark.gui

from conftest import T0  # noqa: E402
from test_gui_support import write_small_store  # noqa: E402


@dataclass(frozen=True)
class Event:
    """The shape of the core's DueEvent."""

    at: datetime
    lead_id: uuid.UUID
    lead_name: str
    kind: str
    level: str
    title: str
    body: str


@dataclass(frozen=True)
class Row:
    """The shape of the core's NotificationView."""

    id: uuid.UUID
    lead_id: uuid.UUID | None
    lead_name: str
    level: str
    title: str
    body: str
    created_at: datetime


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
        events: list[Event]
        rows: list[Row]

        def upcoming_events(self, horizon: timedelta = timedelta(hours=24)) -> tuple[Event, ...]:
            self.asked += 1
            end = self.now() + horizon
            return tuple(sorted((e for e in self.events if e.at <= end), key=lambda e: e.at))

        def pending_notifications(self) -> tuple[Row, ...]:
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
       kind: str = "sla_deadline", title: str = "First response due") -> Event:
    return Event(at, ids[key], name, kind, level, title, f"{title} for {name}")


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
    row = Row(uuid.uuid4(), ids["L4"], "Tom Hughes", URGENT, "Reassigned to you",
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
                    "Callback due"),
                 ev(ids, "L1", "Priya Shah", T0 + timedelta(minutes=10), URGENT)]
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
    row = Row(uuid.uuid4(), ids["L1"], "Priya Shah", NORMAL, "Team lead: SLA breached",
              "Priya Shah waited 2 h", T0)
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
