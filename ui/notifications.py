"""Notifications in the app: one timer for the next due event, the adapter
chain (plyer -> Qt tray message -> in-app banner) and the banner itself.

:class:`NotificationController` computes nothing about rules. It asks the core
for the signed-in person's schedule (``Workspace.upcoming_events``) and for
the notification rows the worker raised (``Workspace.pending_notifications``)
on the window's database executor, never on the GUI thread, and then:

- arms ONE single-shot ``QTimer`` for the earliest event (or snoozed note),
  delivers everything due within the batch window when it fires, and re-arms
  for the next one: no timer per lead and no polling loop while idle (the
  interval is capped at :data:`MAX_SLEEP_MS` so a suspended laptop or a
  changed wall clock is noticed);
- picks up the worker's rows when the queue refreshes and every
  :data:`POLL_MS` (one indexed query a minute);
- applies quiet hours and batching (pure functions of ``leadqueue.notify``),
  then hands each note to the OS chain and shows it in the banner;
- on a local store (the demo, a single-user store) runs the rule engine inside
  the app (``Workspace.run_rules``) on the same executor: once when it starts
  (before its first read, so that read already shows what the pass raised),
  on each low-rate pick-up, and right after an SLA deadline or ladder stage
  of the schedule came due, automatic passes at least :data:`RULES_MIN_GAP_MS`
  apart (its one single-shot timer runs only while a pass waits out that gap):
  no busy loop. On a shared database the headless worker does this instead.
  When a pass changed leads the queue reloads (and this controller reads the
  core again); when it only raised notifications, the new rows are read.

The quiet-hours rule that lets urgent P1 notes through reads the priority the
core puts on each event and row (``DueEvent.priority``,
``NotificationView.priority``), so it holds for leads the queue does not show.

A notification row that repeats an SLA event this window already showed (the
same lead's deadline or ladder stage, raised by the pass that followed it) is
marked seen instead of popping up a second time.

The banner always shows, also when an OS notification went out: plyer has no
click callback, and the banner is where a click opens the lead (the tray
message's ``messageClicked`` does too). Quiet notes (level ``quiet``, or
lowered by quiet hours) go to the banner only.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from leadqueue.notify import (
    DEFAULT_BATCH_WINDOW,
    QUIET,
    URGENT,
    Note,
    Notifier,
    NotifierChain,
    PlyerNotifier,
    ProbeResult,
    QuietHours,
    apply_quiet_hours,
    batch_notes,
    note_from_event,
    note_from_notification,
    probe_plyer,
)
from ui.qt import QColor, QObject, Qt, QtGui, QTimer, QtWidgets, Signal

log = logging.getLogger("leadqueue.ui.notifications")

#: How far ahead the schedule is read.
HORIZON = timedelta(hours=24)
#: The next-event timer sleeps at most this long, then looks again.
MAX_SLEEP_MS = 15 * 60 * 1000
#: How often the worker's notification rows are picked up when nothing else asks
#: (and, on a local store, how often the rule engine runs in the app).
POLL_MS = 60 * 1000
#: Automatic in-app rules passes start at least this far apart (real time): a
#: schedule dense with deadlines (a rep with a thousand fresh leads) must not
#: turn "a pass after each deadline" into a pass every few seconds.
RULES_MIN_GAP_MS = 30 * 1000
#: Schedule kinds the rule engine acts on when they come due (a pass follows them).
SLA_KINDS = frozenset({"sla_deadline", "ladder_stage"})
#: A row raised this long after an SLA event this window delivered, for the same
#: lead, is that event's notification again (the pass follows the event; on a
#: shared database the worker may follow it a minute or so later).
REPEAT_WINDOW = timedelta(minutes=3)
#: Snooze presets offered on the banner before the lead-style ones.
SHORT_SNOOZES = (("10 minutes", timedelta(minutes=10)), ("30 minutes", timedelta(minutes=30)))

_LEVEL_STYLE = {
    URGENT: ("#fdecea", "#e53935", "#8e1b1b"),
    "normal": ("#fff4e5", "#ffb74d", "#6d3d00"),
    QUIET: ("#eef1f5", "#c5ccd6", "#3c4250"),
}


#: Countdown colours by SLA stage: before the deadline (last 5 minutes), at the
#: deadline, and at each later ladder stage (urgent, team lead told, reassigned).
_SOON = QColor("#d35400")
STAGE_COLORS = (QColor("#c62828"), QColor("#b0003a"), QColor("#7b1fa2"), QColor("#4a148c"))


def countdown_color(clock: Any, now: datetime) -> QColor | None:
    """The colour of a live SLA countdown, from the core's ``SlaClock``.

    ``clock.stage(now)`` is 0 before the deadline and grows by one at the
    deadline and at each later ladder stage, so the colour changes exactly
    there (the window's one ticker repaints the column every second).
    """
    stage = clock.stage(now)
    if stage <= 0:
        if clock.deadline is not None and (clock.deadline - now).total_seconds() < 300:
            return _SOON
        return None
    return STAGE_COLORS[min(stage, len(STAGE_COLORS)) - 1]


@dataclass(frozen=True)
class ScheduleSnapshot:
    """One read of the core, made on the database thread."""

    events: tuple[Any, ...]
    pending: tuple[Any, ...]
    now: datetime
    quiet_hours: QuietHours | None
    person_id: uuid.UUID
    #: When the earliest snoozed notification row comes back (None: none).
    rows_back_at: datetime | None = None
    #: The zone my quiet hours are read in (None: this computer's).
    quiet_zone: str | None = None


def fetch_schedule(ws: Any, horizon: timedelta, with_events: bool = True) -> ScheduleSnapshot:
    """The person's upcoming events, unseen notification rows and saved quiet hours."""
    events = tuple(ws.upcoming_events(horizon)) if with_events else ()
    pending = tuple(ws.pending_notifications())
    back = getattr(ws, "next_notification_at", None)
    hours, zone = read_quiet_hours(ws)
    return ScheduleSnapshot(events, pending, ws.now(), hours, ws.me.id,
                            back() if back is not None else None, zone)


def fetch_sla_clocks(ws: Any, lead_ids: list[uuid.UUID]) -> dict[uuid.UUID, Any]:
    """The SLA clocks (deadline and ladder stage times) of the queue's unworked leads."""
    return dict(ws.sla_clocks(lead_ids)) if lead_ids else {}


def read_quiet_hours(ws: Any) -> tuple[QuietHours | None, str | None]:
    """(my quiet hours or None, the zone they are read in) from the core.

    ``Workspace.quiet_hours()`` gives ("HH:MM", "HH:MM", zone); a zone the
    core does not know (None) means this computer's zone.
    """
    getter = getattr(ws, "quiet_hours", None)
    if getter is None:
        return None, None
    value = getter()
    if value is None or isinstance(value, QuietHours):
        return value, None
    start, end, *rest = value
    zone = rest[0] if rest else None
    return QuietHours.parse(start, end, zone), zone


def event_key(event: Any) -> tuple[Any, ...]:
    return (event.lead_id, str(event.kind), event.at)


def pass_changed_leads(summary: Any) -> bool:
    """Did a rules pass change lead rows (so the queue must reload), or only
    raise notifications? Ladder stages that notify (``sla_ladder:notify_*``)
    write firings and notification rows only; any other decision kind, also
    one this code does not know, counts as a change."""
    return any(n and not str(kind).startswith("sla_ladder:notify_")
               for kind, n in summary.counts.items())


# -- the OS adapters that need Qt ---------------------------------------------------------


def _app_icon() -> QtGui.QIcon:
    """A small round "LQ" mark, drawn so no image file is needed."""
    pixmap = QtGui.QPixmap(64, 64)
    pixmap.fill(QColor(0, 0, 0, 0))
    painter = QtGui.QPainter(pixmap)
    painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing, True)
    painter.setBrush(QColor("#3b73d9"))
    painter.setPen(Qt.PenStyle.NoPen)
    painter.drawEllipse(2, 2, 60, 60)
    painter.setPen(QColor("white"))
    font = painter.font()
    font.setBold(True)
    font.setPixelSize(26)
    painter.setFont(font)
    painter.drawText(pixmap.rect(), int(Qt.AlignmentFlag.AlignCenter), "LQ")
    painter.end()
    return QtGui.QIcon(pixmap)


class TrayNotifier:
    """The Qt tray message: the fallback where plyer cannot deliver.

    Refuses (returns False) where the platform has no system tray; clicking
    the message opens the note's lead through ``on_click``.
    """

    name = "tray"

    def __init__(self, parent: QObject, on_click: Callable[[Note], None]) -> None:
        self._parent = parent
        self._on_click = on_click
        self._tray: QtWidgets.QSystemTrayIcon | None = None
        self._last: Note | None = None

    @staticmethod
    def available() -> bool:
        return (QtWidgets.QSystemTrayIcon.isSystemTrayAvailable()
                and QtWidgets.QSystemTrayIcon.supportsMessages())

    def notify(self, note: Note) -> bool:
        if not self.available():
            return False
        if self._tray is None:
            self._tray = QtWidgets.QSystemTrayIcon(_app_icon(), self._parent)
            self._tray.setToolTip("LeadQueue")
            self._tray.messageClicked.connect(self._clicked)
            self._tray.show()
        icon = (QtWidgets.QSystemTrayIcon.MessageIcon.Critical if note.level == URGENT
                else QtWidgets.QSystemTrayIcon.MessageIcon.Information)
        self._last = note
        self._tray.showMessage(note.title, note.body, icon, 15_000)
        return True

    def _clicked(self) -> None:
        if self._last is not None:
            self._on_click(self._last)

    def close(self) -> None:
        if self._tray is not None:
            self._tray.hide()


# -- the banner -------------------------------------------------------------------------------


class _ClickableLabel(QtWidgets.QLabel):
    sig_clicked = Signal()

    def mouseReleaseEvent(self, event: QtGui.QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self.sig_clicked.emit()
        super().mouseReleaseEvent(event)


class _NoteText(_ClickableLabel):
    """The banner's one line: the title in bold, then the body, cut with "…"
    to the width it has. Its width never asks the window for more room (a
    batch of eleven leads must not stretch the main window)."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self._title = ""
        self._body = ""
        self.setTextFormat(Qt.TextFormat.RichText)
        self.setSizePolicy(QtWidgets.QSizePolicy.Policy.Ignored,
                           QtWidgets.QSizePolicy.Policy.Preferred)

    def set_note_text(self, title: str, body: str) -> None:
        self._title, self._body = title, body
        self._render()

    def resizeEvent(self, event: QtGui.QResizeEvent) -> None:
        super().resizeEvent(event)
        self._render()

    def showEvent(self, event: QtGui.QShowEvent) -> None:
        super().showEvent(event)
        self._render()

    def _render(self) -> None:
        body = self._body.replace("\n", " ")
        if self.isVisible():  # laid out: its width is real
            bold = QtGui.QFont(self.font())
            bold.setBold(True)
            used = QtGui.QFontMetrics(bold).horizontalAdvance(self._title + "   ")
            room = max(self.contentsRect().width() - used, 0)
            body = self.fontMetrics().elidedText(body, Qt.TextElideMode.ElideRight, room)
        text = f"<b>{_esc(self._title)}</b>&nbsp;&nbsp;{_esc(body)}"
        if text != super().text():
            self.setText(text)


class NotificationBanner(QtWidgets.QFrame):
    """A strip above the queue: the newest note, Open, Snooze, Dismiss.

    Notes wait in a short list; dismissing or opening one shows the next.
    Clicking the text opens the lead, as does the Open button.
    """

    sig_open = Signal(object)         # the Note to open
    sig_snooze = Signal(object, object)  # (Note, until: datetime | timedelta | None=custom)
    sig_dismissed = Signal(object)    # the Note

    MAX_WAITING = 20

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("notification_banner")
        self.setFrameShape(QtWidgets.QFrame.Shape.StyledPanel)
        self._notes: list[Note] = []
        self._snooze_presets: Callable[[], list[tuple[str, Any]]] = lambda: []
        layout = QtWidgets.QHBoxLayout(self)
        layout.setContentsMargins(12, 6, 8, 6)
        layout.setSpacing(8)
        self.badge = QtWidgets.QLabel(self)
        self.badge.setObjectName("banner_badge")
        self.text = _NoteText(self)
        self.text.setObjectName("banner_text")
        self.text.setCursor(Qt.CursorShape.PointingHandCursor)
        self.text.sig_clicked.connect(self._open)
        self.more = QtWidgets.QLabel(self)
        self.more.setObjectName("banner_more")
        self.open_button = QtWidgets.QPushButton("Open lead", self)
        self.open_button.setObjectName("banner_open")
        self.open_button.clicked.connect(self._open)
        self.snooze_button = QtWidgets.QToolButton(self)
        self.snooze_button.setObjectName("banner_snooze")
        self.snooze_button.setText("Snooze")
        self.snooze_button.setPopupMode(QtWidgets.QToolButton.ToolButtonPopupMode.InstantPopup)
        self.snooze_menu = QtWidgets.QMenu(self.snooze_button)
        self.snooze_menu.aboutToShow.connect(self._fill_snooze_menu)
        self.snooze_button.setMenu(self.snooze_menu)
        self.dismiss_button = QtWidgets.QToolButton(self)
        self.dismiss_button.setObjectName("banner_dismiss")
        self.dismiss_button.setText("✕")
        self.dismiss_button.setToolTip("Dismiss")
        self.dismiss_button.clicked.connect(self._dismiss)
        layout.addWidget(self.badge)
        layout.addWidget(self.text, 1)  # the text takes the room; the rest keep their size
        layout.addWidget(self.more)
        for w in (self.open_button, self.snooze_button, self.dismiss_button):
            layout.addWidget(w)
        self.hide()

    # -- feeding ---------------------------------------------------------------

    def set_snooze_presets(self, presets: Callable[[], list[tuple[str, Any]]]) -> None:
        self._snooze_presets = presets

    def show_note(self, note: Note) -> None:
        self._notes = [n for n in self._notes if not _same(n, note)]
        self._notes.insert(0, note)
        del self._notes[self.MAX_WAITING:]
        self._render()

    def remove(self, predicate: Callable[[Note], bool]) -> None:
        self._notes = [n for n in self._notes if not predicate(n)]
        self._render()

    @property
    def current(self) -> Note | None:
        return self._notes[0] if self._notes else None

    @property
    def notes(self) -> tuple[Note, ...]:
        return tuple(self._notes)

    def _render(self) -> None:
        note = self.current
        if note is None:
            self.hide()
            return
        bg, border, fg = _LEVEL_STYLE.get(note.level, _LEVEL_STYLE["normal"])
        self.setStyleSheet(
            f"QFrame#notification_banner {{ background:{bg}; border:1px solid {border};"
            f" border-radius:6px; }}"
            f" QLabel {{ color:{fg}; background:transparent; }}"
            f" QLabel#banner_badge {{ background:{border}; color:white; border-radius:4px;"
            f" padding:1px 6px; font-weight:600; font-size:9pt; }}"
            f" QLabel#banner_more {{ color:{fg}; font-size:9pt; }}"
            f" QPushButton#banner_open {{ background:{border}; color:white; border:none;"
            f" border-radius:4px; padding:4px 12px; font-weight:600; }}"
            f" QToolButton {{ color:{fg}; border:none; padding:4px 8px; }}")
        self.badge.setText({URGENT: "URGENT", QUIET: "Quiet"}.get(note.level, "Due"))
        self.text.set_note_text(note.title, note.body)
        self.text.setToolTip(f"{note.title}\n{note.body}\n\nClick to open the lead")
        waiting = len(self._notes) - 1
        self.more.setText(f"+{waiting} more" if waiting else "")
        self.open_button.setEnabled(note.lead_id is not None)
        self.show()

    # -- actions ---------------------------------------------------------------

    def _open(self) -> None:
        note = self.current
        if note is None or note.lead_id is None:
            return
        self._notes.pop(0)
        self._render()
        self.sig_open.emit(note)

    def _dismiss(self) -> None:
        note = self.current
        if note is None:
            return
        self._notes.pop(0)
        self._render()
        self.sig_dismissed.emit(note)

    def snooze_current(self, until: datetime | timedelta | None) -> None:
        """Snooze the shown note (None: ask for a custom time)."""
        note = self.current
        if note is None:
            return
        self._notes.pop(0)
        self._render()
        self.sig_snooze.emit(note, until)

    def _fill_snooze_menu(self) -> None:
        self.snooze_menu.clear()
        for label, until in self._snooze_presets():
            action = self.snooze_menu.addAction(label)
            action.triggered.connect(lambda _checked=False, u=until: self.snooze_current(u))
        self.snooze_menu.addSeparator()
        custom = self.snooze_menu.addAction("Custom…")
        custom.triggered.connect(lambda _checked=False: self.snooze_current(None))


def _esc(text: str) -> str:
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace("\n", " "))


def _same(a: Note, b: Note) -> bool:
    return (a.title, a.lead_id, a.reason, a.at) == (b.title, b.lead_id, b.reason, b.at)


# -- quiet hours ---------------------------------------------------------------------------------


class QuietHoursDialog(QtWidgets.QDialog):
    """Ask for the rep's quiet hours: start and end as HH:MM, or none.

    OK emits ``sig_ok`` and leaves the dialog open: the controller closes it
    once the core saved the hours, or shows the core's refusal in it.
    """

    sig_ok = Signal()

    def __init__(self, parent: QtWidgets.QWidget | None, start: str | None = None,
                 end: str | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("quiet_hours_dialog")
        self.setWindowTitle("Quiet hours")
        lay = QtWidgets.QVBoxLayout(self)
        intro = QtWidgets.QLabel(
            "No notifications pop up in these hours (your own time); urgent P1 "
            "notifications still do. They wait in the banner instead.", self)
        intro.setWordWrap(True)
        lay.addWidget(intro)
        form = QtWidgets.QFormLayout()
        self.none = QtWidgets.QCheckBox("No quiet hours", self)
        self.start = QtWidgets.QLineEdit(start or "", self)
        self.start.setPlaceholderText("22:00")
        self.end = QtWidgets.QLineEdit(end or "", self)
        self.end.setPlaceholderText("07:00")
        self.none.toggled.connect(lambda on: (self.start.setDisabled(on), self.end.setDisabled(on)))
        self.none.setChecked(not start and not end)
        form.addRow("", self.none)
        form.addRow("From", self.start)
        form.addRow("Until", self.end)
        lay.addLayout(form)
        self.error = QtWidgets.QLabel("", self)
        self.error.setStyleSheet("color:#c62828;")
        self.error.setWordWrap(True)
        lay.addWidget(self.error)
        buttons = QtWidgets.QDialogButtonBox(
            QtWidgets.QDialogButtonBox.StandardButton.Ok
            | QtWidgets.QDialogButtonBox.StandardButton.Cancel, self)
        buttons.accepted.connect(self.sig_ok)
        buttons.rejected.connect(self.reject)
        lay.addWidget(buttons)

    def value(self) -> tuple[str | None, str | None]:
        if self.none.isChecked():
            return None, None
        return self.start.text().strip() or None, self.end.text().strip() or None


# -- the controller ------------------------------------------------------------------------------


class _Relay(QObject):
    """Carries results from background threads (the probe, plyer's delivery
    thread) to the GUI thread. One per process and never deleted, so a thread
    never emits through an object a closed window took with it; a controller
    that is gone has simply been disconnected."""

    sig_probe = Signal(int, object)               # (controller key, ProbeResult)
    sig_plyer_failed = Signal(int, object, object)  # (controller key, Note, exception)


_relay: _Relay | None = None
_keys = itertools.count(1)


def _the_relay() -> _Relay:
    """The process's relay, created on the GUI thread by the first controller."""
    global _relay
    if _relay is None:
        _relay = _Relay()
    return _relay


def _probe_and_report(relay: _Relay, key: int, probe: Callable[[], ProbeResult]) -> None:
    # Runs on its own thread: nothing here touches a controller or a widget.
    try:
        result = probe()
    except Exception as exc:  # the probe must never take the app down
        result = ProbeResult(False, "none", f"probe failed: {exc}")
    relay.sig_probe.emit(key, result)



class NotificationController(QObject):
    """Arms the one next-event timer, delivers due notes, handles the banner."""

    #: (Note, adapter name or "banner") after each delivery.
    sig_delivered = Signal(object, str)
    #: The number of events in the schedule, after each read of the core.
    sig_schedule_loaded = Signal(int)
    #: When the timer is armed for (a datetime), or None when nothing is scheduled.
    sig_armed = Signal(object)
    #: The lead a banner/tray click asked to open.
    sig_open_lead = Signal(object)
    #: The probe's verdict on plyer (a ProbeResult), once at start.
    sig_probed = Signal(object)
    #: After my quiet hours were saved (the QuietHours now applied, or None).
    sig_quiet_hours_saved = Signal(object)
    #: The core refused my quiet hours (its message).
    sig_quiet_hours_refused = Signal(str)
    #: After each in-app rules pass (the core's PassSummary).
    sig_rules_ran = Signal(object)
    #: After each read of the core was applied (and what it brought delivered),
    #: or failed: what a screenshot waits for.
    sig_settled = Signal()

    def __init__(self, window: Any, banner: NotificationBanner | None = None, *,
                 notifiers: Sequence[Notifier] | None = None,
                 quiet_hours: QuietHours | None = None,
                 batch_window: timedelta = DEFAULT_BATCH_WINDOW,
                 horizon: timedelta = HORIZON, poll_ms: int = POLL_MS,
                 probe: Callable[[], ProbeResult] | None = None,
                 in_app_rules: bool | None = None) -> None:
        super().__init__(window)
        self.window = window
        self.banner = banner if banner is not None else getattr(window, "banner", None)
        self.batch_window = batch_window
        self.horizon = horizon
        #: Run the rule engine in the app on a local store: True/False, or None
        #: to follow the window's ``in_app_rules`` (``ui.app`` turns it on).
        self.in_app_rules = in_app_rules
        #: False: banner only, never an OS notification (a screenshot run).
        self.os_notifications = True
        self._quiet_override = quiet_hours
        self._quiet_hours: QuietHours | None = quiet_hours
        self._quiet_zone: str | None = None
        self._events: list[Any] = []
        self._snoozed: list[tuple[datetime, Note]] = []
        self._delivered: dict[tuple[Any, ...], datetime] = {}
        self._shown_rows: set[uuid.UUID] = set()
        self._generation = 0
        self._in_flight = False
        self._again = False
        self._started = False
        self._closed = False
        self._fetched_until: datetime | None = None
        self._rows_back_at: datetime | None = None
        self._armed_for: datetime | None = None
        self._clocks_generation = 0
        self._fetches = 0  # reads submitted so far (a pass knows whether one follows it)
        self._rules_in_flight = False
        self._rules_again = False
        self._rules_started_at: float | None = None  # time.monotonic() of the last pass
        #: The least real time between two automatic passes (tests set 0).
        self.rules_min_gap_ms = RULES_MIN_GAP_MS
        self._settled = False
        self.plyer: PlyerNotifier | None = None

        self.chain = NotifierChain()
        self.tray = TrayNotifier(self, self._on_note_clicked)
        self._key = next(_keys)
        relay = _the_relay()
        relay.sig_probe.connect(self._on_relay_probe, Qt.ConnectionType.QueuedConnection)
        relay.sig_plyer_failed.connect(self._on_relay_plyer_failed,
                                       Qt.ConnectionType.QueuedConnection)
        if notifiers is not None:
            for n in notifiers:
                self.chain.append(n)
        else:
            # plyer first once the probe (off the GUI thread) says it can deliver.
            self.chain.append(self.tray)
            threading.Thread(target=_probe_and_report,
                             args=(relay, self._key, probe or probe_plyer),
                             name="notify-probe", daemon=True).start()

        # The one timer for the next due event.
        self.timer = QTimer(self)
        self.timer.setObjectName("next_event_timer")
        self.timer.setSingleShot(True)
        self.timer.timeout.connect(self.fire_due)
        # The low-rate pick-up of the worker's rows.
        self.poll = QTimer(self)
        self.poll.setObjectName("notification_poll")
        self.poll.setInterval(poll_ms)
        self.poll.timeout.connect(self._on_poll)
        # Only active while an automatic rules pass waits out RULES_MIN_GAP_MS.
        self.rules_timer = QTimer(self)
        self.rules_timer.setObjectName("rules_timer")
        self.rules_timer.setSingleShot(True)
        self.rules_timer.timeout.connect(self.run_rules)

        if self.banner is not None:
            self.banner.sig_open.connect(self._on_note_clicked)
            self.banner.sig_snooze.connect(self._on_snooze)
            self.banner.sig_dismissed.connect(self._on_dismissed)
            self.banner.set_snooze_presets(self.snooze_presets)
        self.sig_open_lead.connect(self.open_lead)
        adder = getattr(window, "add_menu_action", None)
        if adder is not None:
            self.quiet_action = adder("view", "Quiet hours…", self.ask_quiet_hours,
                                      name="action_quiet_hours")
        for name, slot in (("sig_queue_loaded", self._on_queue_loaded),
                           ("sig_workspace_changed", self._on_workspace_changed),
                           ("sig_ready", self._on_ready)):
            signal = getattr(window, name, None)
            if signal is not None:
                signal.connect(slot)

    # -- plumbing ------------------------------------------------------------------

    @property
    def ws(self) -> Any:
        return self.window.ws

    def now(self) -> datetime:
        clock_now = getattr(self.window, "now", None)
        return clock_now() if clock_now is not None else self.ws.now()

    def _submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> bool:
        """Run ``fn`` on the window's database executor; False once it is shut
        down (the window closed): then the controller stops too."""
        if self._closed or self.window.ws is None:
            return False
        try:
            self.window.executor.submit(fn, *args, **kwargs)
        except RuntimeError:
            self.close()
            return False
        return True

    def _on_relay_probe(self, key: int, result: ProbeResult) -> None:
        if key != self._key:
            return  # another window's probe
        log.info("OS notifications: plyer %s", result)
        if result.ok and not self._closed and self.os_notifications:
            relay, me = _the_relay(), self._key
            # Called on plyer's thread: only the relay is touched there.
            self.plyer = PlyerNotifier(
                result, on_failure=lambda note, exc: relay.sig_plyer_failed.emit(me, note, exc))
            self.chain = NotifierChain([self.plyer, *self._chain_adapters()])
        self.sig_probed.emit(result)

    def _chain_adapters(self) -> list[Notifier]:
        return [a for a in (self.tray,) if a.name in self.chain.names]

    def _on_relay_plyer_failed(self, key: int, note: Note, exc: BaseException) -> None:
        if key != self._key or self._closed:
            return
        self.chain.drop("plyer", f"{exc.__class__.__name__}: {exc}")
        via = self.chain.notify(note) or "banner"
        self.sig_delivered.emit(note, via)

    def close(self) -> None:
        """Stop the timers and the plyer thread (the window is closing)."""
        self._closed = True
        self.timer.stop()
        self.poll.stop()
        self.rules_timer.stop()
        self.tray.close()
        if self.plyer is not None:
            self.plyer.close(timeout=1.0)

    # -- reading the core --------------------------------------------------------------

    def start(self) -> None:
        """Read the schedule and start the low-rate pick-up (first queue load does this).

        On a local store the first in-app rules pass goes first, so the first
        read already shows what it raised (a lead that breached while the app
        was closed).
        """
        if self._started or self._closed:
            return
        self._started = True
        self.poll.start()
        self.run_rules()
        self.refresh()

    def _on_poll(self) -> None:
        # The low-rate beat: a rules pass on a local store, then the rows.
        self.rules_soon()
        self.refresh(events=False)

    # -- the rule engine in the app (a local store) ---------------------------------------

    def rules_run_here(self) -> bool:
        """Does this app run the rule engine? Only on a local store that is
        not a replica of a shared database (there the headless worker does)."""
        wanted = self.in_app_rules
        if wanted is None:
            wanted = bool(getattr(self.window, "in_app_rules", False))
        ws = self.window.ws
        if not wanted or ws is None or self._closed:
            return False
        engine = getattr(ws, "engine", None)
        dialect = getattr(getattr(engine, "dialect", None), "name", None)
        return dialect == "sqlite" and getattr(ws, "shared_url", None) is None

    def run_rules(self) -> bool:
        """One pass of the rule engine on the database thread, if this app runs
        it (:meth:`rules_run_here`); overlapping asks coalesce into one more pass.

        ``sig_rules_ran`` answers. When the pass decided anything, the queue
        reloads (and its reload makes this controller read the core again);
        without a window that reloads, the controller reads the core itself.
        """
        if not self.rules_run_here():
            return False
        if self._rules_in_flight:
            self._rules_again = True
            return True
        self.rules_timer.stop()
        self._rules_started_at = time.monotonic()
        generation, fetches = self._generation, self._fetches
        self._rules_in_flight = self._submit(
            self.ws.run_rules, label="rules",
            on_done=lambda summary: self._on_rules_ran(generation, fetches, summary),
            on_error=self._on_rules_failed)
        return self._rules_in_flight

    def rules_soon(self) -> None:
        """An automatic pass (a deadline came due, the low-rate beat): now, or
        once RULES_MIN_GAP_MS have passed since the last one started."""
        if not self.rules_run_here():
            return
        if self._rules_in_flight:
            self._rules_again = True
            return
        if self._rules_started_at is not None:
            waited_ms = (time.monotonic() - self._rules_started_at) * 1000
            if waited_ms < self.rules_min_gap_ms:
                if not self.rules_timer.isActive():
                    self.rules_timer.start(int(self.rules_min_gap_ms - waited_ms) + 1)
                return
        self.run_rules()

    def _on_rules_ran(self, generation: int, fetches: int, summary: Any) -> None:
        self._rules_in_flight = False
        if self._closed:
            return
        if summary.total:
            log.info("in-app rules: %s", summary.report(detail=False).replace("\n", "; "))
            reload_queue = getattr(self.window, "reload_queue", None)
            if pass_changed_leads(summary) and reload_queue is not None:
                try:
                    reload_queue()  # its load brings a read of the core with it
                except RuntimeError:  # the window closed while the pass ran
                    self.close()
                    return
            elif generation == self._generation and self._fetches == fetches:
                # Only notification rows are new (and no read was asked for
                # after this pass yet): pick them up.
                self.refresh(events=pass_changed_leads(summary))
        self.sig_rules_ran.emit(summary)
        if self._rules_again:
            self._rules_again = False
            self.rules_soon()

    def _on_rules_failed(self, exc: BaseException) -> None:
        # The window's status line shows it too (the executor reports every failure).
        self._rules_in_flight = False
        self._rules_again = False
        log.warning("in-app rules pass failed: %s", exc)

    def _on_queue_loaded(self, *_args: object) -> None:
        if not self._started:
            self.start()
        else:
            self.refresh()
        self.refresh_sla_clocks()

    def refresh_sla_clocks(self) -> None:
        """Give the queue model the SLA clocks its countdowns colour themselves by."""
        model = getattr(self.window, "model", None)
        if model is None or not hasattr(model, "sla_clocks") or self.window.ws is None:
            return
        # The model's cached rows (read only): every row, not just the filtered ones.
        ids = [r.id for r in getattr(model, "_rows", ()) if r.sla_due_at is not None]
        self._clocks_generation += 1
        generation = self._clocks_generation

        def apply(clocks: dict[uuid.UUID, Any]) -> None:
            if generation != self._clocks_generation or self._closed:
                return
            model.sla_clocks = clocks
            model.tick(self.now())  # repaint the countdown column with the new colours

        self._submit(fetch_sla_clocks, self.ws, ids, label="sla clocks", on_done=apply)

    def _on_ready(self) -> None:
        # The workspace opened after the first paint: read its schedule now.
        if self._started:
            self.refresh()
        else:
            self.start()

    def _on_workspace_changed(self, *_args: object) -> None:
        # Someone else signed in: nothing of the last person's schedule applies.
        self._generation += 1
        self._events = []
        self._snoozed = []
        self._shown_rows.clear()
        self._quiet_hours = self._quiet_override
        self._quiet_zone = None
        self._in_flight = False
        self._fetched_until = None
        self._rows_back_at = None
        self.timer.stop()
        if self.banner is not None:
            self.banner.remove(lambda _n: True)

    def refresh(self, events: bool = True) -> None:
        """Ask the core again (off the GUI thread); overlapping asks coalesce."""
        if self._closed or self.window.ws is None:
            return
        if self._in_flight:
            self._again = self._again or events
            return
        # The rows-only poll also reads events once the horizon runs short.
        now = self.now()
        if not events and (self._fetched_until is None
                           or self._fetched_until - now < self.horizon / 2):
            events = True
        generation = self._generation
        self._fetches += 1
        self._in_flight = self._submit(
            fetch_schedule, self.ws, self.horizon, events, label="notifications",
            on_done=lambda snap: self._on_schedule(generation, snap, events),
            on_error=lambda exc: self._on_fetch_failed(generation, exc))

    def _on_fetch_failed(self, generation: int, exc: BaseException) -> None:
        if generation == self._generation:
            self._in_flight = False
        log.warning("reading the notification schedule failed: %s", exc)
        self._settle()

    @property
    def settled(self) -> bool:
        """True once a read of the core has been applied (or has failed)."""
        return self._settled

    def _settle(self) -> None:
        self._settled = True
        self.sig_settled.emit()

    def _on_schedule(self, generation: int, snap: ScheduleSnapshot, with_events: bool) -> None:
        if generation != self._generation or self._closed:
            return
        self._in_flight = False
        self._quiet_zone = snap.quiet_zone
        if self._quiet_override is None:
            self._quiet_hours = snap.quiet_hours
        self._rows_back_at = snap.rows_back_at
        if with_events:
            self._fetched_until = snap.now + self.horizon
            self._events = sorted((e for e in snap.events
                                   if event_key(e) not in self._delivered),
                                  key=lambda e: e.at)
            self.sig_schedule_loaded.emit(len(self._events))
        fresh = [r for r in snap.pending if r.id not in self._shown_rows]
        if fresh:
            self._shown_rows.update(r.id for r in fresh)
            repeats = {r.id for r in fresh if self._repeats_a_shown_event(r)}
            if repeats:
                # Already shown as the schedule's event: seen, not shown twice.
                self._submit(self.ws.mark_notifications_seen, sorted(repeats),
                             label="notifications seen")
            shown = [note_from_notification(r) for r in fresh if r.id not in repeats]
            if shown:
                self.deliver(shown)
        if self._again:
            self._again = False
            self.refresh()
            return
        self.fire_due()
        self._settle()

    def _repeats_a_shown_event(self, row: Any) -> bool:
        """Is the row the notification of an SLA event delivered here just before
        it (same lead; raised at or within REPEAT_WINDOW after the event)?"""
        lead_id, at = getattr(row, "lead_id", None), getattr(row, "created_at", None)
        if lead_id is None or at is None:
            return False
        return any(key[0] == lead_id and key[1] in SLA_KINDS
                   and key[2] <= at <= key[2] + REPEAT_WINDOW for key in self._delivered)

    # -- the one timer --------------------------------------------------------------------

    def fire_due(self) -> None:
        """Deliver what is due (within the batch window) and arm for the next."""
        if self._closed:
            return
        now = self.now()
        cutoff = now + self.batch_window
        due_events = [e for e in self._events if e.at <= cutoff]
        self._events = [e for e in self._events if e.at > cutoff]
        due_snoozed = [n for at, n in self._snoozed if at <= cutoff]
        self._snoozed = [(at, n) for at, n in self._snoozed if at > cutoff]
        notes: list[Note] = []
        sla_due = False
        for e in due_events:
            key = event_key(e)
            if key in self._delivered:
                continue
            self._delivered[key] = e.at
            notes.append(note_from_event(e))
            sla_due = sla_due or str(e.kind) in SLA_KINDS
        notes.extend(due_snoozed)
        if notes:
            self.deliver(notes)
        if sla_due:
            # A deadline or ladder stage came due: the engine acts on it now
            # (on a local store), not at the next low-rate beat.
            self.rules_soon()
        self._forget_old(now)
        if self._rows_back_at is not None and self._rows_back_at <= cutoff:
            # A snoozed notification row is back: the core hands it over again.
            self._rows_back_at = None
            self.refresh(events=False)
        self._arm(now)

    def _arm(self, now: datetime) -> None:
        times = [e.at for e in self._events[:1]] + [at for at, _ in self._snoozed]
        if self._rows_back_at is not None:
            times.append(self._rows_back_at)
        if not times:
            self.timer.stop()
            self._armed_for = None
            self.sig_armed.emit(None)
            return
        at = min(times)
        ms = int(max((at - now).total_seconds(), 0) * 1000)
        self.timer.start(min(ms, MAX_SLEEP_MS))
        self._armed_for = at
        self.sig_armed.emit(at)

    @property
    def armed_for(self) -> datetime | None:
        """The due time the timer waits for (None: nothing scheduled)."""
        return self._armed_for if self.timer.isActive() else None

    @property
    def scheduled(self) -> tuple[Any, ...]:
        return tuple(self._events)

    def _forget_old(self, now: datetime) -> None:
        # Delivered keys only matter while the core may still list the event.
        old = [k for k, at in self._delivered.items() if at < now - timedelta(days=2)]
        for k in old:
            del self._delivered[k]

    # -- delivery ---------------------------------------------------------------------------

    def deliver(self, notes: Sequence[Note]) -> None:
        """Quiet hours, batching, then the OS chain and the banner.

        Everything delivered at one moment is one batch (the timer already
        took every event due within the batch window), so a start-up with a
        backlog of unseen rows pops up once, not once per row.
        """
        now = self.now()
        timed = [replace(n, at=now) for n in notes]
        shown = batch_notes(apply_quiet_hours(timed, self._quiet_hours, now), self.batch_window)
        for note in shown:
            via = None
            if note.level != QUIET and self.os_notifications:
                via = self.chain.notify(note)
            if self.banner is not None:
                self.banner.show_note(note)
            self.sig_delivered.emit(note, via or "banner")

    # -- clicks and snoozes -------------------------------------------------------------------

    def _on_note_clicked(self, note: Note) -> None:
        self._mark_seen(note)
        if note.lead_id is not None:
            self.sig_open_lead.emit(note.lead_id)

    def _on_dismissed(self, note: Note) -> None:
        self._mark_seen(note)

    def _mark_seen(self, note: Note) -> None:
        if note.notification_ids:
            self._submit(self.ws.mark_notifications_seen, list(note.notification_ids),
                         label="notifications seen")

    def snooze_presets(self) -> list[tuple[str, Any]]:
        now = self.now()
        presets: list[tuple[str, Any]] = [(label, now + d) for label, d in SHORT_SNOOZES]
        try:
            from ui.dialogs import snooze_presets

            presets += snooze_presets(now, None)
        except ImportError:  # the dialogs module is optional here
            pass
        return presets

    def _on_snooze(self, note: Note, until: datetime | timedelta | None) -> None:
        if until is None:
            asker = getattr(getattr(self.window, "dialogs", None), "ask_snooze", None)
            until = asker(self.now(), None) if asker is not None else None
            if until is None:
                if self.banner is not None:
                    self.banner.show_note(note)  # cancelled: put it back
                return
        self.snooze(note, until)

    def snooze(self, note: Note, until: datetime | timedelta) -> None:
        """Show ``note`` again at ``until``: the worker's rows through the core
        (so every app of the person agrees), the schedule's own notes here."""
        when = self.now() + until if isinstance(until, timedelta) else until
        for nid in note.notification_ids:
            self._shown_rows.discard(nid)
            self._submit(self.ws.snooze_notification, nid, when, label="snooze notification")
        if note.notification_ids:
            # Re-read so the timer is armed for the row's return (next_notification_at).
            self.refresh(events=False)
        else:
            self._snoozed.append((when, note))
            self._arm(self.now())

    # -- quiet hours -----------------------------------------------------------------------------

    @property
    def quiet_hours(self) -> QuietHours | None:
        return self._quiet_hours

    def ask_quiet_hours(self) -> QuietHoursDialog:
        """The menu entry: a window-modal dialog that stays open until the core
        accepted the quiet hours, showing its refusal otherwise."""
        current = self._quiet_hours
        dialog = QuietHoursDialog(self.window, *(
            (f"{current.start:%H:%M}", f"{current.end:%H:%M}") if current else (None, None)))

        def ok() -> None:
            dialog.error.setText("")
            self.save_quiet_hours(*dialog.value())

        def refused(message: str) -> None:
            dialog.error.setText(message)

        dialog.sig_ok.connect(ok)
        self.sig_quiet_hours_saved.connect(dialog.accept)
        self.sig_quiet_hours_refused.connect(refused)
        dialog.finished.connect(lambda _r: (self.sig_quiet_hours_saved.disconnect(dialog.accept),
                                            self.sig_quiet_hours_refused.disconnect(refused)))
        dialog.open()
        return dialog

    def save_quiet_hours(self, start: str | None, end: str | None) -> None:
        """Save my quiet hours (``ws.set_quiet_hours``, off the GUI thread) and
        apply them at once; ``sig_quiet_hours_saved`` / ``_refused`` answer."""

        def saved(_none: object) -> None:
            if self._quiet_override is None:
                self._quiet_hours = QuietHours.parse(start, end, self._quiet_zone)
            self.window.statusBar().showMessage(
                "Quiet hours saved." if start else "Quiet hours off.", 5000)
            self.sig_quiet_hours_saved.emit(self._quiet_hours)

        def refused(exc: BaseException) -> None:
            self.sig_quiet_hours_refused.emit(str(exc))

        if self.window.ws is None or not self._submit(
                self.ws.set_quiet_hours, start, end, label="quiet hours",
                on_done=saved, on_error=refused):
            self.sig_quiet_hours_refused.emit("The database is not open yet.")

    def open_lead(self, lead_id: uuid.UUID) -> bool:
        """Bring the lead up in the main window, clearing filters that hide it.

        Opening goes through the window's own selection, so its wrap-up rule
        still applies to the lead the rep is leaving. False (with a status
        message) when the lead is not in this queue any more.
        """
        window = self.window
        if window.isMinimized():
            window.showNormal()
        window.raise_()
        window.activateWindow()
        if window.model.row_of(lead_id) < 0 and hasattr(window, "search"):
            window.search.clear()
            for combo in ("section_filter", "priority_filter", "source_filter"):
                widget = getattr(window, combo, None)
                if widget is not None:
                    widget.setCurrentIndex(0)
        row = window.model.row_of(lead_id)
        if row >= 0:
            window.select_row(row)
            return True
        window.statusBar().showMessage(
            "That lead is no longer in your queue (reassigned or closed).", 10_000)
        return False
