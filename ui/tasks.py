"""Running core work off the GUI thread.

:class:`SerialExecutor` owns one worker thread for the local database: every
read and write of the window goes through it, in submission order, so the GUI
thread never waits on SQLite and two writes never race. Results and exceptions
come back on the GUI thread through a queued signal; a work function never
touches a widget.

The worker thread never emits on the executor itself: a window (and the
executor, its child) can be deleted while a task still runs, and emitting on
a deleted QObject from another thread crashes the process. It emits on one
process-wide relay that lives as long as the application, which hands the
result to the executor only if it still exists.
"""

from __future__ import annotations

import itertools
import logging
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ui.qt import QObject, Qt, Signal, is_alive

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

log = logging.getLogger("leadqueue.ui.tasks")

Done = Callable[[Any], None]
Failed = Callable[[BaseException], None]


@dataclass
class _Pending:
    label: str
    on_done: Done | None
    on_error: Failed | None


class _Relay(QObject):
    """Carries finished tasks from worker threads to the GUI thread."""

    # (executor key, task id, result, exception)
    sig_finished = Signal(int, int, object, object)

    def __init__(self) -> None:
        super().__init__()
        self.executors: weakref.WeakValueDictionary[int, SerialExecutor] = (
            weakref.WeakValueDictionary())
        self.sig_finished.connect(self._dispatch, Qt.ConnectionType.QueuedConnection)

    def _dispatch(self, key: int, task_id: int, result: Any, exc: BaseException | None) -> None:
        executor = self.executors.get(key)
        if executor is None or not is_alive(executor):
            return  # its window is gone; nobody is waiting for the answer
        executor._on_finished(task_id, result, exc)


_relay: _Relay | None = None
_keys = itertools.count(1)


def _the_relay() -> _Relay:
    """The process's relay, created on the GUI thread by the first executor."""
    global _relay
    if _relay is None:
        _relay = _Relay()
    return _relay


class SerialExecutor(QObject):
    """One background thread, tasks in order, callbacks on the GUI thread."""

    #: (label, result) after a task's own ``on_done`` ran.
    sig_task_done = Signal(str, object)
    #: (label, exception) for a task that raised; emitted whether or not the
    #: task had an ``on_error`` (the window shows unhandled ones).
    sig_task_failed = Signal(str, object)
    #: True while at least one task is queued or running.
    sig_busy_changed = Signal(bool)

    def __init__(self, name: str = "local-db", parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._name = name
        # The thread starts with the first task (a screenshot run never needs one).
        self._pool: ThreadPoolExecutor | None = None
        self._ids = itertools.count(1)
        self._pending: dict[int, _Pending] = {}
        self._lock = threading.Lock()
        self._closed = False
        self._relay = _the_relay()
        self._key = next(_keys)
        self._relay.executors[self._key] = self

    @property
    def busy(self) -> bool:
        return bool(self._pending)

    def submit(self, fn: Callable[..., Any], *args: Any, label: str = "",
               on_done: Done | None = None, on_error: Failed | None = None) -> int:
        """Queue ``fn(*args)``; returns the task id (0: refused, shut down).

        After :meth:`shutdown` (the window closed) a late timer or callback may
        still ask for work; that is logged and dropped rather than raised into
        a Qt slot. User actions cannot reach a closed window, so no write of
        theirs is lost this way.
        """
        if self._closed:
            log.warning("task %s ignored: executor %s is shut down",
                        label or getattr(fn, "__name__", "task"), self._name)
            return 0
        task_id = next(self._ids)
        was_idle = not self._pending
        self._pending[task_id] = _Pending(label or getattr(fn, "__name__", "task"),
                                          on_done, on_error)
        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=self._name)
        self._pool.submit(self._run, task_id, fn, args)
        if was_idle:
            self.sig_busy_changed.emit(True)
        return task_id

    def _run(self, task_id: int, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        # Runs on the worker thread: no widget calls here, and no signal of
        # our own (we may be deleted meanwhile): only the relay's.
        relay, key = self._relay, self._key
        try:
            result = fn(*args)
        except BaseException as exc:  # every failure must reach the GUI thread
            relay.sig_finished.emit(key, task_id, None, exc)
        else:
            relay.sig_finished.emit(key, task_id, result, None)

    def _on_finished(self, task_id: int, result: Any, exc: BaseException | None) -> None:
        pending = self._pending.pop(task_id, None)
        if pending is None:
            return
        if self._closed:
            # The window is gone: no follow-up work, but a failure is still logged.
            if exc is not None:
                log.error("task %s failed after shutdown", pending.label, exc_info=exc)
            return
        try:
            if exc is None:
                if pending.on_done is not None:
                    pending.on_done(result)
                self.sig_task_done.emit(pending.label, result)
            else:
                if pending.on_error is None:
                    log.error("task %s failed", pending.label, exc_info=exc)
                else:
                    pending.on_error(exc)
                self.sig_task_failed.emit(pending.label, exc)
        finally:
            if not self._pending:
                self.sig_busy_changed.emit(False)

    def shutdown(self, wait: bool = True) -> None:
        """Finish (or with ``wait=False`` abandon) queued work; no new tasks."""
        self._closed = True
        if self._pool is not None:
            self._pool.shutdown(wait=wait, cancel_futures=not wait)
