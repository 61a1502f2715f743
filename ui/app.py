"""Application bootstrap: open the store, sign in, show the main window.

``run_app`` is what ``leadqueue`` (``leadqueue.cli.launch_gui``) calls. A store
that cannot be used raises :class:`leadqueue.store.StoreError` before any
window exists, so the CLI prints one line and exits 2 with the file untouched.
With ``screenshot`` the window is rendered offscreen, the first queue row is
selected so the preview shows, and the PNG is written.

Cold start (issue 3: at most 2.5x a bare PySide6 window). On a local store at
the current schema, signed in as a rep, the first screen is read through the
sqlite3 driver (:mod:`leadqueue.firstpaint`) and painted at once; the
SQLAlchemy workspace opens on the window's executor right after, and writes
made before then wait for it. Everything else (a team lead, a shared
database, a store that needs migrating) opens the workspace first. A
screenshot of a first paint never loads the ORM at all, nor ``phonenumbers``
(the phone shows as stored in ``leads.phone_display``). The cyclic garbage
collector is off until the first screen is up (:func:`_pause_gc`), a
screenshot is written by :mod:`ui.png` rather than ``QImage.save`` (a third
of the time), and a screenshot run skips the collector's walk over every
object at exit (:func:`_skip_gc_at_exit`).

The rule engine runs inside the app on a local store (``in_app_rules``: the
notification controller runs ``Workspace.run_rules`` on the window's
executor); on a shared database the headless worker does it.

Screenshots and notifications: where the window has a workspace (a team lead,
a store that needed migrating, a shared database), the screenshot also waits,
at most :data:`SCREENSHOT_NOTIFICATIONS_MS`, for the notification controller's
first read of the core (after the first in-app rules pass on a local store)
and for the work that read set off, so a breached P1 lead shows in the banner;
OS notifications are off in a screenshot run. A first-paint screenshot (a rep
on a store at the current schema: the demo) has no workspace and no
controller: loading the ORM for them costs more than the whole cold-start
budget, so it shows the queue without the banner.
"""

from __future__ import annotations

import atexit
import gc
import logging
import os
import sys
from datetime import datetime
from pathlib import Path

log = logging.getLogger("leadqueue.ui.app")

#: How long a screenshot run waits for the queue and the preview to load.
SCREENSHOT_TIMEOUT_MS = 60_000
SCREENSHOT_SIZE = (1440, 900)
#: How long a screenshot run waits, after the queue, for the notifications.
SCREENSHOT_NOTIFICATIONS_MS = 15_000


def _store_label(target: str) -> str:
    if "://" in target:
        # Never show a password that may be in a URL.
        scheme, _, rest = target.partition("://")
        return f"{scheme}://{rest.rsplit('@', 1)[-1]}"
    return Path(target).name


def _needs_offscreen() -> bool:
    if sys.platform.startswith("linux"):
        return not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return False


_gc_paused = False


def _pause_gc() -> None:
    """No cyclic garbage collection while start-up builds what the app keeps.

    Start-up allocates tens of thousands of long-lived objects (modules,
    Qt wrappers, the queue): the collector's passes over them cost about
    8 ms of a cold start and free next to nothing. :func:`_resume_gc` turns
    it back on once the first screen is up.
    """
    global _gc_paused
    if gc.isenabled():
        gc.disable()
        _gc_paused = True


def _resume_gc() -> None:
    global _gc_paused
    if _gc_paused:
        _gc_paused = False
        gc.enable()


def _skip_gc_at_exit() -> None:
    """A screenshot run's objects all live until the process ends: at exit,
    move them out of the collector's sight (``gc.freeze``) so the interpreter's
    last collections do not walk them all (10-15 ms) just to end. Done at
    exit, never before, so a process that goes on (a test) collects as ever."""
    atexit.unregister(gc.freeze)
    atexit.register(gc.freeze)


def qapplication():  # type: ignore[no-untyped-def]
    """The process's QApplication (created once) with our style sheet."""
    from ui.qt import QApplication

    app = QApplication.instance()
    if app is None:
        # Fusion: the same look on every platform and offscreen. Chosen by the
        # argument rather than setStyle(), whose returned QStyle would make
        # PySide build its ~25 enum classes (about 5 ms) for nothing.
        app = QApplication([sys.argv[0] if sys.argv else "leadqueue", "-style", "Fusion"])
        app.setApplicationName("LeadQueue")
        app.setOrganizationName("LeadQueue")
    qss = Path(__file__).with_name("style.qss")
    if qss.exists():
        app.setStyleSheet(qss.read_text(encoding="utf-8"))
    return app


def run_app(target: str, *, as_email: str | None = None, screenshot: str | None = None,
            at: datetime | None = None, demo: bool = False) -> int:
    from ui.logs import setup_logging

    if screenshot and _needs_offscreen():
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    _pause_gc()
    try:
        setup_logging()
        from leadqueue.clock import FakeClock, SystemClock

        clock = FakeClock(at) if at is not None else SystemClock()
        first = _first_paint(target, as_email, clock.now())
        if first is None:
            return _run_with_workspace(target, as_email, screenshot, clock, demo)
        return _run_first_paint(target, first, screenshot, clock, demo)
    finally:
        _resume_gc()


def _first_paint(target: str, as_email: str | None, now: datetime):  # type: ignore[no-untyped-def]
    """The first screen read without the ORM (``leadqueue.firstpaint``), or None."""
    if "://" in target:
        return None
    from leadqueue.firstpaint import read_first_paint
    from leadqueue.store import inspect_store

    state = inspect_store(target)
    if not state.exists:
        return None
    return read_first_paint(target, as_email, now, state.revision)


def _run_first_paint(target: str, first, screenshot: str | None, clock,  # type: ignore[no-untyped-def]
                     demo: bool) -> int:
    """Paint the first screen now; open the store's workspace in the background.

    A screenshot needs only the first screen, so it never loads the ORM.
    """
    from ui.main_window import FirstPaint, MainWindow, QueueSnapshot
    from ui.preview import PreviewData

    log.info("starting as %s on %s (first paint)", first.me.email, _store_label(target))
    app = qapplication()
    q = first.queue
    snapshot = QueueSnapshot(q.callable, q.later, q.upcoming, first.now, {}, False)
    preview = None
    if first.lead is not None:
        preview = PreviewData(first.lead, snapshot.find(first.lead.id), first.cadence_step,
                              first.template)
    opened: dict[str, object] = {}

    def open_workspace():  # type: ignore[no-untyped-def]  # on the executor's thread
        from leadqueue.store import open_database
        from leadqueue.workspace import Workspace

        engine = open_database(target)
        opened["engine"] = engine
        return Workspace(engine, first.me, clock)

    window = MainWindow(None, first_paint=FirstPaint(first.me, snapshot, preview, first.people),
                        open_workspace=None if screenshot else open_workspace, clock=clock,
                        settings=_settings(screenshot), store_label=_store_label(target),
                        show_switcher=demo)
    window.in_app_rules = True  # a local store: the rule engine runs in the app
    try:
        return _show(app, window, screenshot)
    finally:
        engine = opened.get("engine")
        if engine is not None:
            engine.dispose()  # type: ignore[attr-defined]


def _run_with_workspace(target: str, as_email: str | None, screenshot: str | None,
                        clock, demo: bool) -> int:  # type: ignore[no-untyped-def]
    """The normal path: open the store and sign in before the first paint."""
    from leadqueue.store import open_database
    from leadqueue.workspace import UnknownPerson, Workspace

    shared = None
    if "://" in target and not target.startswith("sqlite"):
        # Issue 5 (shared database, app side): the password from the URL, the OS
        # keyring or libpq (asked for when none works), checked in plain words.
        from ui.shared_session import sign_in

        shared, why = sign_in(target, interactive=not screenshot)
        if shared is None:
            print(f"leadqueue: error: {why}", file=sys.stderr)
            return 2
        target = shared.url  # may carry the password: in memory only, never shown
    engine = open_database(target)  # StoreError propagates: the CLI reports it, exit 2
    try:
        try:
            # On the shared database you are your login (issue 5): --as does not apply.
            workspace = Workspace.open(engine, as_email if shared is None else None, clock)
        except UnknownPerson as exc:
            print(f"leadqueue: error: {exc}", file=sys.stderr)
            return 2
        log.info("starting as %s on %s", workspace.me.email, _store_label(target))
        app = qapplication()
        from ui.main_window import MainWindow

        label = shared.label if shared is not None else _store_label(target)  # issue 5
        window = MainWindow(workspace, settings=_settings(screenshot), store_label=label,
                            show_switcher=demo)
        window.in_app_rules = True  # only on a local store (the controller checks)
        if shared is not None:  # issue 5: live push, online status, claim renewal
            from ui.shared_session import attach_shared_session

            attach_shared_session(window, shared)
        return _show(app, window, screenshot)
    finally:
        engine.dispose()


def _settings(screenshot: str | None):  # type: ignore[no-untyped-def]
    """The user's saved window layout; none for a screenshot, which neither
    restores nor saves it."""
    if screenshot:
        return None
    from ui.qt import QSettings

    return QSettings("LeadQueue", "LeadQueue")


def _show(app, window, screenshot: str | None) -> int:  # type: ignore[no-untyped-def]
    """Render the screenshot, or show the window and run until it closes."""
    if screenshot:
        return _screenshot(app, window, screenshot)
    window.show()
    window.start()
    _resume_gc()
    return int(app.exec())


def _screenshot(app, window, path: str) -> int:  # type: ignore[no-untyped-def]
    from ui.qt import QEvent, QEventLoop, Qt, QTimer

    window.resize(*SCREENSHOT_SIZE)
    # Rendered by grab() alone: no native window, no paint into a backing store.
    window.setAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen, True)
    loop = QEventLoop()
    state = {"queue": False, "preview": False, "timeout": False}

    def on_queue(total: int) -> None:
        state["queue"] = True
        if total == 0:
            loop.quit()

    def on_preview(_lead: object) -> None:
        state["preview"] = True
        loop.quit()

    def on_timeout() -> None:
        state["timeout"] = True
        loop.quit()

    window.sig_queue_loaded.connect(on_queue)
    window.sig_preview_loaded.connect(on_preview)
    window.sig_error.connect(lambda _msg: loop.quit())
    controller = window.notifications
    if controller is not None:
        controller.os_notifications = False  # a screenshot pops nothing up on the desktop
    timer = QTimer()
    timer.setSingleShot(True)
    timer.timeout.connect(on_timeout)
    timer.start(SCREENSHOT_TIMEOUT_MS)
    window.show()
    window.start()
    # A first paint has everything at once: both signals fired inside start().
    if not (state["preview"] or (state["queue"] and window.model.total == 0)):
        loop.exec()
    timer.stop()
    if state["queue"] and controller is not None and window.ws is not None:
        _wait_for_notifications(window, controller)
    try:
        if not state["queue"]:
            print("leadqueue: error: the queue did not load"
                  + (" in time" if state["timeout"] else ""), file=sys.stderr)
            return 1
        # Lay out what start() changed, then render once: grab() paints the
        # widgets itself (no paint into a backing store first).
        app.sendPostedEvents(None, QEvent.Type.LayoutRequest)
        image = window.grab().toImage()
        out = Path(path).expanduser()
        from ui.png import write_png  # faster than QImage.save (see ui.png)

        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            write_png(image, out)
        except OSError as exc:
            print(f"leadqueue: error: cannot write {out}: {exc.strerror or exc}",
                  file=sys.stderr)
            return 1
        log.info("screenshot written to %s", out)
        _skip_gc_at_exit()
        return 0
    finally:
        window.close()


def _wait_for_notifications(window, controller) -> bool:  # type: ignore[no-untyped-def]
    """Wait (at most SCREENSHOT_NOTIFICATIONS_MS) until the notification
    controller has applied a read of the core and the window's executor is
    idle (the first rules pass, the queue reload and re-read it set off).
    False when the wait ran out."""
    from ui.qt import QEventLoop, QTimer

    def settled() -> bool:
        return bool(controller.settled) and not window.executor.busy

    if settled():
        return True
    loop = QEventLoop()

    def check(*_args: object) -> None:
        if settled():
            loop.quit()

    timer = QTimer()
    timer.setSingleShot(True)
    timer.timeout.connect(loop.quit)
    controller.sig_settled.connect(check)
    window.executor.sig_busy_changed.connect(check)
    timer.start(SCREENSHOT_NOTIFICATIONS_MS)
    try:
        loop.exec()
    finally:
        timer.stop()
        controller.sig_settled.disconnect(check)
        window.executor.sig_busy_changed.disconnect(check)
    if not settled():
        log.warning("screenshot: the notifications did not load in time")
    return settled()
