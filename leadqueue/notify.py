"""OS notifications, without Qt: the notification port, the plyer adapter, the
probe that decides whether plyer can really deliver, and the two pure rules
applied before anything is shown (quiet hours and batching).

The port is :class:`Notifier`: ``notify(note) -> bool`` (True: accepted for
delivery). :class:`NotifierChain` tries adapters in order; an adapter that
returns False or raises is dropped from the chain for good and the next one
is tried, so a broken integration degrades to the next instead of crashing.
The app builds the chain ``plyer -> Qt tray message -> in-app banner``; the
last two live in ``ui/notifications.py``.

Why a probe, and what it checks (Linux)
---------------------------------------
plyer's Linux backend talks D-Bus through ``python-dbus`` when that module
imports and otherwise runs ``notify-send`` with ``subprocess.call``, ignoring
its exit status: without a session bus the notification is lost silently, and
plyer emits a ``UserWarning`` about the missing module on first use (our tests
run with warnings as errors). ``python-dbus`` needs a C compiler and the
libdbus headers to install with pip, so we do not depend on it. Instead
:func:`probe_plyer` asks the bus itself with ``jeepney`` (pure Python, already
installed on Linux as a dependency of ``keyring``):

1. ``DBUS_SESSION_BUS_ADDRESS`` is set;
2. the bus answers (connect, authenticate, ``Hello``) within a timeout;
3. some process owns ``org.freedesktop.Notifications`` (a notification daemon
   is running);
4. plyer has a way to reach it: the ``dbus`` module imports, or
   ``notify-send`` is on ``PATH`` (or, inside Flatpak, ``gdbus`` for the portal).

Only then is the plyer adapter put in the chain. We still call plyer (not
``notify-send`` directly): the same adapter works on Windows and macOS, where
the probe only checks what plyer needs there. The plyer backend is resolved
once, with its "python-dbus is missing" warning filtered out (the probe has
already decided that question), and every call runs on one background thread:
``notify-send`` can block for D-Bus' 25 s default timeout when a daemon hangs,
and the GUI thread must never wait for that. A call that raises marks the
adapter broken and hands the note to ``on_failure`` so the app can re-deliver
it through the next adapter.

Clicks: plyer offers no click callback on any platform, so a click on the OS
notification cannot open the lead; the Qt tray message (``messageClicked``)
and the in-app banner can, and the banner is always shown.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
import queue
import shutil
import sys
import threading
import uuid
import warnings
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, time, timedelta, tzinfo
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from .enums import NotificationLevel

log = logging.getLogger("leadqueue.notify")

APP_NAME = "LeadQueue"
NOTIFICATIONS_BUS_NAME = "org.freedesktop.Notifications"

URGENT, NORMAL, QUIET = (NotificationLevel.URGENT.value, NotificationLevel.NORMAL.value,
                         NotificationLevel.QUIET.value)
_LEVEL_RANK = {URGENT: 0, NORMAL: 1, QUIET: 2}

#: Events this close together become one notification.
DEFAULT_BATCH_WINDOW = timedelta(seconds=5)


# -- the note ---------------------------------------------------------------------


@dataclass(frozen=True)
class Note:
    """One notification as the person sees it.

    ``lead_id``/``lead_name`` name the lead a click opens (for a batch: the
    most urgent one); ``lead_ids`` and ``notification_ids`` list everything a
    batched note stands for, so the app can mark the worker's rows seen.
    """

    title: str
    lead_id: uuid.UUID | None
    lead_name: str
    reason: str
    level: str = NORMAL
    action: str = "Open lead"
    priority: int | None = None
    at: datetime | None = None
    lead_ids: tuple[uuid.UUID, ...] = ()
    notification_ids: tuple[uuid.UUID, ...] = ()
    #: What fired, e.g. "sla_deadline"; "batch" for several events at once.
    kind: str = ""

    @property
    def body(self) -> str:
        """The text under the title: who (unless the title names them), and why now."""
        if self.kind == "batch" or not self.lead_name or self.lead_name in self.title:
            return self.reason or self.lead_name
        return f"{self.lead_name} — {self.reason}" if self.reason else self.lead_name

    @property
    def count(self) -> int:
        return max(len(self.lead_ids), 1 if self.lead_id else 0)


def level_of(value: object) -> str:
    """A level as one of urgent/normal/quiet (unknown values count as normal)."""
    text = str(getattr(value, "value", value) or NORMAL).lower()
    return text if text in _LEVEL_RANK else NORMAL


# -- the port and the chain ------------------------------------------------------------


class Notifier(Protocol):
    """Something that can show a note to the person."""

    name: str

    def notify(self, note: Note) -> bool:
        """Show ``note``; True when it was accepted for delivery."""
        ...


class NotifierChain:
    """Adapters in order of preference; a failing one is swapped for the next.

    ``notify`` never raises: it returns the name of the adapter that took the
    note, or None when none could (the caller still has the in-app banner).
    """

    def __init__(self, adapters: Iterable[Notifier] = ()) -> None:
        self._adapters: list[Notifier] = list(adapters)
        self.dropped: list[tuple[str, str]] = []  # (adapter, why), for the log and tests

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self._adapters)

    def append(self, adapter: Notifier) -> None:
        self._adapters.append(adapter)

    def drop(self, adapter: Notifier | str, why: str) -> None:
        name = adapter if isinstance(adapter, str) else adapter.name
        kept = [a for a in self._adapters if a.name != name]
        if len(kept) != len(self._adapters):
            self._adapters = kept
            self.dropped.append((name, why))
            log.warning("notification adapter %s dropped: %s", name, why)

    def notify(self, note: Note) -> str | None:
        for adapter in list(self._adapters):
            try:
                ok = adapter.notify(note)
            except Exception as exc:  # an OS integration failing must not crash the app
                log.warning("notification adapter %s failed", adapter.name, exc_info=True)
                self.drop(adapter, f"raised {exc.__class__.__name__}: {exc}")
                continue
            if ok:
                return adapter.name
            self.drop(adapter, "could not deliver")
        return None


# -- the probe ---------------------------------------------------------------------------


class BusError(OSError):
    """The session bus did not answer (not running, refused, timed out)."""


def _module_available(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def jeepney_name_has_owner(address: str, name: str, timeout: float) -> bool:
    """Ask the bus at ``address`` whether ``name`` has an owner.

    Raises :class:`BusError` when the bus does not answer within ``timeout``
    (the whole exchange runs on a daemon thread, so nothing here can hang).
    """
    result: dict[str, Any] = {}

    def ask() -> None:
        try:
            from jeepney import DBus
            from jeepney.io.blocking import open_dbus_connection

            conn = open_dbus_connection(bus=address, auth_timeout=timeout)
            try:
                reply = conn.send_and_get_reply(DBus().NameHasOwner(name), timeout=timeout)
                result["owned"] = bool(reply.body[0])
            finally:
                conn.close()
        except BaseException as exc:  # reported to the caller below
            result["error"] = exc

    worker = threading.Thread(target=ask, name="dbus-probe", daemon=True)
    worker.start()
    worker.join(timeout * 3 + 0.5)
    if worker.is_alive():
        raise BusError(f"the session bus did not answer within {timeout:g} s")
    if "error" in result:
        exc = result["error"]
        raise BusError(f"the session bus did not answer: {exc.__class__.__name__}: {exc}")
    return bool(result["owned"])


@dataclass(frozen=True)
class ProbeEnv:
    """What the probe looks at; tests pass a fake one."""

    platform: str = field(default_factory=lambda: sys.platform)
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    which: Callable[[str], str | None] = shutil.which
    has_module: Callable[[str], bool] = _module_available
    #: (bus address, bus name, timeout) -> owned?; raises BusError if no answer.
    name_has_owner: Callable[[str, str, float], bool] = jeepney_name_has_owner
    in_flatpak: bool = field(default_factory=lambda: os.path.isdir("/app"))


@dataclass(frozen=True)
class ProbeResult:
    """Whether plyer can deliver here, how, and why not."""

    ok: bool
    route: str  # "dbus-python", "notify-send", "portal", "windows", "macos" or "none"
    reason: str

    def __str__(self) -> str:
        return f"{'deliverable' if self.ok else 'not deliverable'} ({self.route}): {self.reason}"


def probe_plyer(env: ProbeEnv | None = None, *, timeout: float = 1.0) -> ProbeResult:
    """Decide whether plyer's notification backend will really reach a person."""
    env = env or ProbeEnv()
    if env.platform.startswith("win"):
        return ProbeResult(True, "windows", "plyer uses the Windows notification area")
    if env.platform == "darwin":
        if env.has_module("pyobjus"):
            return ProbeResult(True, "macos", "plyer uses NSUserNotificationCenter")
        return ProbeResult(False, "none", "plyer needs pyobjus on macOS, which is not installed")
    if not env.platform.startswith("linux"):
        return ProbeResult(False, "none", f"plyer has no notifications on {env.platform}")

    address = env.environ.get("DBUS_SESSION_BUS_ADDRESS", "").strip()
    if not address:
        return ProbeResult(False, "none", "no D-Bus session (DBUS_SESSION_BUS_ADDRESS is unset)")
    if env.in_flatpak:
        route, need = "portal", "gdbus"
    elif env.has_module("dbus"):
        route, need = "dbus-python", None
    else:
        route, need = "notify-send", "notify-send"
    if need is not None and env.which(need) is None:
        return ProbeResult(False, "none",
                           f"plyer would call {need}, which is not installed "
                           "(and the python dbus module is missing)")
    if not env.has_module("jeepney"):
        return ProbeResult(False, "none", "cannot check the session bus: jeepney is missing")
    try:
        owned = env.name_has_owner(address, NOTIFICATIONS_BUS_NAME, timeout)
    except BusError as exc:
        return ProbeResult(False, "none", str(exc))
    except Exception as exc:  # a broken probe must not stop the app
        return ProbeResult(False, "none", f"the bus check failed: {exc.__class__.__name__}: {exc}")
    if not owned:
        return ProbeResult(False, "none",
                           f"no notification daemon on the session bus ({NOTIFICATIONS_BUS_NAME} "
                           "has no owner)")
    return ProbeResult(True, route, f"the session bus answers and a notification daemon owns "
                                    f"{NOTIFICATIONS_BUS_NAME}; plyer delivers via {route}")


# -- the plyer adapter ---------------------------------------------------------------------


def load_plyer_backend() -> Any:
    """plyer's notification backend for this platform, resolved once.

    The same lookup as ``plyer.notification`` does on first use, but with its
    warning about the missing ``python-dbus`` module filtered (the probe has
    settled whether delivery works) and with errors raised to us instead of
    printed. Call it from the main thread: warning filters are process-wide.
    """
    from plyer.utils import platform as plyer_platform

    module = importlib.import_module(f"plyer.platforms.{plyer_platform}.notification")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The Python dbus package is not installed",
                                category=UserWarning)
        warnings.filterwarnings("ignore", message="notify-send not found", category=UserWarning)
        return module.instance()


_STOP = object()


class PlyerNotifier:
    """Delivers notes through plyer, on one background thread.

    ``notify`` returns False when the probe said plyer cannot deliver or an
    earlier call failed; otherwise the note is queued and True returned. A
    call that raises later marks the adapter broken and passes the note to
    ``on_failure`` (called on the delivery thread).
    """

    name = "plyer"

    def __init__(self, probe: ProbeResult, *, backend: Any = None,
                 on_failure: Callable[[Note, BaseException], None] | None = None,
                 timeout_s: int = 10) -> None:
        self.probe = probe
        self.on_failure = on_failure
        self.timeout_s = timeout_s
        self.broken: str | None = None if probe.ok else probe.reason
        #: The last notes handed to plyer (for the log and tests; bounded).
        self.delivered: deque[Note] = deque(maxlen=100)
        self._backend = backend
        if self._backend is None and probe.ok:
            try:
                self._backend = load_plyer_backend()
            except Exception as exc:
                self.broken = f"plyer backend unavailable: {exc.__class__.__name__}: {exc}"
                log.warning("%s", self.broken)
        self._queue: queue.Queue[Any] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def notify(self, note: Note) -> bool:
        if self.broken is not None:
            return False
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="plyer-notify",
                                                daemon=True)
                self._thread.start()
        self._queue.put(note)
        return True

    def _run(self) -> None:
        while True:
            note = self._queue.get()
            try:
                if note is _STOP:
                    return
                self._deliver(note)
            finally:
                self._queue.task_done()

    def _deliver(self, note: Note) -> None:
        try:
            self._backend.notify(
                title=note.title, message=note.body, app_name=APP_NAME,
                timeout=self.timeout_s,
                # The D-Bus backend passes hints on (urgency 2 = critical).
                hints={"urgency": 2 if note.level == URGENT else 1},
            )
        except BaseException as exc:  # every failure is reported, never raised
            self.broken = f"plyer failed: {exc.__class__.__name__}: {exc}"
            log.warning("plyer notification failed: %s", exc, exc_info=True)
            if self.on_failure is not None:
                try:
                    self.on_failure(note, exc)
                except Exception:
                    log.exception("on_failure callback failed")
        else:
            self.delivered.append(note)

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every queued note was handed to plyer (True) or time out."""
        done = threading.Event()

        def waiter() -> None:
            self._queue.join()
            done.set()

        threading.Thread(target=waiter, name="plyer-flush", daemon=True).start()
        return done.wait(timeout)

    def close(self, timeout: float = 2.0) -> None:
        """Stop the delivery thread (pending notes are still delivered first)."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(_STOP)
            thread.join(timeout)


# -- quiet hours ----------------------------------------------------------------------------


def local_zone() -> tzinfo:
    """This computer's time zone (a fixed offset where the OS names none)."""
    return datetime.now().astimezone().tzinfo or ZoneInfo("UTC")


#: Which notes still pop up during quiet hours.
BREAKTHROUGH_URGENT_P1 = "urgent_p1"
BREAKTHROUGH_URGENT = "urgent"
BREAKTHROUGH_NONE = "none"


@dataclass(frozen=True)
class QuietHours:
    """A rep's quiet hours in their own zone; ``start == end`` means none.

    The window may cross midnight (22:00–07:00). ``breakthrough`` says what
    still pops up: urgent P1 notes by default, any urgent note, or nothing.
    """

    start: time
    end: time
    zone: tzinfo = field(default_factory=lambda: ZoneInfo("UTC"))
    breakthrough: str = BREAKTHROUGH_URGENT_P1

    @classmethod
    def parse(cls, start: str | None, end: str | None, zone_name: str | None = None,
              breakthrough: str = BREAKTHROUGH_URGENT_P1) -> QuietHours | None:
        """From the stored "HH:MM" pair; None when either side is unset.

        Without a zone name the times are read in this computer's zone: quiet
        hours are the rep's own time, and the app runs on the rep's computer.
        """
        if not start or not end:
            return None
        from .rules.sla import parse_hhmm, zone_or_utc

        zone = zone_or_utc(zone_name) if zone_name else local_zone()
        return cls(parse_hhmm(start, "quiet hours start"), parse_hhmm(end, "quiet hours end"),
                   zone, breakthrough)

    def active(self, now: datetime) -> bool:
        if self.start == self.end:
            return False
        local = now.astimezone(self.zone).time().replace(tzinfo=None)
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def lets_through(self, note: Note) -> bool:
        if note.level != URGENT or self.breakthrough == BREAKTHROUGH_NONE:
            return False
        if self.breakthrough == BREAKTHROUGH_URGENT:
            return True
        return note.priority == 1


def apply_quiet_hours(notes: Sequence[Note], hours: QuietHours | None,
                      now: datetime) -> list[Note]:
    """Notes as they may be shown now: inside quiet hours, every note the rule
    does not let through is lowered to the quiet level (the in-app list keeps
    it; no OS notification, no sound)."""
    if hours is None or not hours.active(now):
        return list(notes)
    return [n if hours.lets_through(n) or n.level == QUIET else replace(n, level=QUIET)
            for n in notes]


# -- batching ----------------------------------------------------------------------------------

def _urgency(note: Note) -> tuple[int, int]:
    return (_LEVEL_RANK.get(note.level, 1), note.priority or 9)


def merge_notes(notes: Sequence[Note]) -> Note:
    """Several notes as one: "3 leads need you", the most urgent lead first.

    A click on the merged note opens the most urgent lead; the body names up
    to three leads with their reasons ("and 2 more" after that).
    """
    if len(notes) == 1:
        return notes[0]
    ordered = sorted(notes, key=_urgency)
    lead_ids: list[uuid.UUID] = []
    parts: list[str] = []
    for n in ordered:
        ids = n.lead_ids or ((n.lead_id,) if n.lead_id else ())
        new = [lid for lid in ids if lid not in lead_ids]
        lead_ids.extend(new)
        if new or not ids:
            parts.append(f"{n.lead_name}: {n.reason}" if n.lead_name and n.reason
                         else n.lead_name or n.reason or n.title)
    count = len(lead_ids)
    first = ordered[0]
    reason = "; ".join(parts[:3]) + (f"; and {len(parts) - 3} more" if len(parts) > 3 else "")
    times = [n.at for n in notes if n.at is not None]
    return Note(
        title=f"{count} leads need you" if count > 1 else first.title,
        lead_id=first.lead_id, lead_name=first.lead_name,
        reason=reason if count > 1 else "; ".join(n.reason for n in ordered if n.reason),
        level=first.level, action=first.action,
        priority=min((n.priority for n in notes if n.priority is not None), default=None),
        at=min(times) if times else None,
        lead_ids=tuple(lead_ids),
        notification_ids=tuple(i for n in ordered for i in n.notification_ids),
        kind="batch" if count > 1 else first.kind,
    )


def batch_notes(notes: Sequence[Note],
                window: timedelta = DEFAULT_BATCH_WINDOW) -> list[Note]:
    """Group notes that fire within ``window`` of the first of their group.

    Quiet notes are never merged with louder ones (merging would make them
    pop up); each group becomes one note. Order: by time.
    """
    out: list[Note] = []
    for loud in (True, False):
        part = sorted((n for n in notes if (n.level != QUIET) == loud),
                      key=lambda n: (n.at is None, n.at or datetime.min))
        group: list[Note] = []
        for note in part:
            if group and (note.at is None or group[0].at is None
                          or note.at - group[0].at > window):
                out.append(merge_notes(group))
                group = []
            group.append(note)
        if group:
            out.append(merge_notes(group))
    return sorted(out, key=lambda n: (n.at is None, n.at or datetime.min))


# -- from the core's views --------------------------------------------------------------------

def note_from_event(event: Any, priority: int | None = None) -> Note:
    """A ``DueEvent`` of ``Workspace.upcoming_events`` as a note."""
    prio = getattr(event, "priority", None)
    return Note(
        title=event.title, lead_id=event.lead_id, lead_name=event.lead_name or "",
        reason=event.body or "", level=level_of(event.level),
        priority=prio if prio is not None else priority, at=event.at,
        lead_ids=(event.lead_id,) if event.lead_id else (), kind=str(event.kind),
    )


def note_from_notification(row: Any, priority: int | None = None) -> Note:
    """A ``NotificationView`` of ``Workspace.pending_notifications`` as a note."""
    lead_id = getattr(row, "lead_id", None)
    prio = getattr(row, "priority", None)
    return Note(
        title=row.title, lead_id=lead_id, lead_name=getattr(row, "lead_name", None) or "",
        reason=getattr(row, "body", None) or "", level=level_of(getattr(row, "level", NORMAL)),
        priority=prio if prio is not None else priority,
        at=getattr(row, "created_at", None),
        lead_ids=(lead_id,) if lead_id else (), notification_ids=(row.id,),
        kind=str(getattr(row, "kind", "") or "notification"),
    )
