"""The serial executor: results reach the GUI thread; a task that finishes
after its window (and executor) was deleted calls nothing back.

The crash this guards against (a worker thread emitting on an executor being
deleted on the GUI thread) is a race that no test hits reliably; the design
answer is the relay in ``ui.tasks``, and this checks its behaviour."""

from __future__ import annotations

import threading
from typing import Any

import pytest

pytestmark = pytest.mark.gui


def test_results_and_errors_come_back_on_the_gui_thread(qtbot: Any) -> None:
    from ui.tasks import SerialExecutor

    executor = SerialExecutor()
    gui = threading.get_ident()
    seen: list[tuple[str, Any, int]] = []
    with qtbot.waitSignal(executor.sig_task_done, timeout=5000):
        executor.submit(lambda: 41 + 1, label="sum",
                        on_done=lambda r: seen.append(("done", r, threading.get_ident())))
    with qtbot.waitSignal(executor.sig_task_failed, timeout=5000):
        executor.submit(lambda: 1 / 0, label="boom",
                        on_error=lambda e: seen.append(("error", type(e), threading.get_ident())))
    assert seen == [("done", 42, gui), ("error", ZeroDivisionError, gui)]
    executor.shutdown()


def test_a_task_outliving_its_window_calls_nothing_back(qtbot: Any) -> None:
    from ui.qt import QtWidgets, is_alive
    from ui.tasks import SerialExecutor

    calls: list[object] = []
    for _ in range(20):
        owner = QtWidgets.QWidget()
        executor = SerialExecutor(parent=owner)
        started, release = threading.Event(), threading.Event()

        def task(started: threading.Event = started, release: threading.Event = release) -> int:
            started.set()
            release.wait(5)
            return 1

        executor.submit(task, on_done=calls.append)
        assert started.wait(5)
        owner.deleteLater()
        qtbot.waitUntil(lambda ex=executor: not is_alive(ex), timeout=5000)
        release.set()  # the task finishes after its executor is gone
        qtbot.wait(20)  # let the relay's queued delivery run
    assert calls == []


def test_after_shutdown_late_work_is_dropped_not_raised(qtbot: Any) -> None:
    from ui.tasks import SerialExecutor

    executor = SerialExecutor()
    follow_ups: list[int] = []
    release = threading.Event()

    def first_done(_result: object) -> None:
        # A callback asking for more work once the window has closed.
        follow_ups.append(executor.submit(lambda: 2))

    executor.submit(lambda: release.wait(5), on_done=first_done)
    release.set()
    executor.shutdown(wait=True)  # the first task finished; its result is queued
    qtbot.wait(20)
    assert follow_ups == []  # its callback did not run after shutdown
    assert executor.submit(lambda: 3) == 0  # and late submits are refused quietly
