"""The real notification test: a due P1 lead reaches a notification daemon on a
D-Bus session bus, and an app with no session bus at all falls back.

1. Xvfb on a free display (``-displayfd``), then ``dbus-run-session`` runs a
   small driver in a private session bus: it starts ``dunst`` (the daemon) and
   ``dbus-monitor`` (the observer), waits until the probe says plyer can
   deliver, takes the P1 lead's due SLA event from the core's schedule and
   raises it through our plyer adapter. The test then reads the monitor's log:
   a ``Notify`` method call carrying the lead's name must be on the bus.
2. The app itself (main window, offscreen) runs in an environment without
   ``DBUS_SESSION_BUS_ADDRESS``: the probe says no, the due P1 lead ends up in
   the in-app banner, nothing crashes and no warning leaks (``-W error``).

Every process started here is killed (process group) when the test ends.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import T0, require_tool, skip_or_fail

REPO = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent

pytestmark = pytest.mark.slow


def _kill(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


@pytest.fixture
def xvfb_display() -> Iterator[str]:
    """A virtual X screen on a display number Xvfb picks itself (never in use)."""
    require_tool("Xvfb")
    proc = subprocess.Popen(
        ["Xvfb", "-displayfd", "1", "-nolisten", "tcp", "-screen", "0", "1280x800x24"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 20)
        line = proc.stdout.readline().decode().strip() if ready else ""
        if not line.isdigit():
            skip_or_fail(f"Xvfb did not start (got {line!r})")
        yield f":{line}"
    finally:
        _kill(proc)
        if proc.stdout is not None:
            proc.stdout.close()


DRIVER = textwrap.dedent("""
    # Runs inside dbus-run-session: a private session bus exists, nothing else.
    import json, os, subprocess, sys, time
    from datetime import datetime, timedelta

    sys.path[:0] = [{repo!r}, {tests!r}]
    from leadqueue.clock import FakeClock
    from leadqueue.notify import PlyerNotifier, note_from_event, probe_plyer
    from leadqueue.store import open_local_store
    from leadqueue.workspace import Workspace

    store, out, monitor_log, t0 = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
    result = {{"bus": os.environ.get("DBUS_SESSION_BUS_ADDRESS", "")}}
    children = []
    try:
        with open(monitor_log, "wb") as log:
            children.append(subprocess.Popen(
                ["dbus-monitor", "interface='org.freedesktop.Notifications',member='Notify'"],
                stdout=log, stderr=subprocess.STDOUT))
        children.append(subprocess.Popen(["dunst"], stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL))
        # The daemon owns its bus name, and the monitor is attached, before we send.
        deadline = time.monotonic() + 20
        probe = probe_plyer(timeout=1.0)
        while not probe.ok and time.monotonic() < deadline:
            time.sleep(0.1)
            probe = probe_plyer(timeout=1.0)
        while os.path.getsize(monitor_log) == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        result["probe"] = [probe.ok, probe.route, probe.reason]

        # The core's schedule for the rep: the P1 lead's SLA deadline.
        engine = open_local_store(store)
        clock = FakeClock(datetime.fromisoformat(t0))
        ws = Workspace.open(engine, "ada@example.com", clock)
        events = [e for e in ws.upcoming_events(timedelta(hours=1))
                  if e.kind == "sla_deadline" and "Priya Shah" in e.lead_name]
        result["events"] = [[e.at.isoformat(), e.kind, e.level, e.title] for e in events]
        if events:
            clock.set(events[0].at)  # the deadline is here: the lead is due
            adapter = PlyerNotifier(probe)
            result["accepted"] = adapter.notify(note_from_event(events[0], priority=1))
            result["flushed"] = adapter.flush(15)
            adapter.close()
            result["broken"] = adapter.broken
        engine.dispose()
        # Give the monitor a moment to write what it saw.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with open(monitor_log, "rb") as f:
                if b"Priya Shah" in f.read():
                    break
            time.sleep(0.1)
    finally:
        for child in children:
            child.terminate()
        for child in children:
            try:
                child.wait(5)
            except subprocess.TimeoutExpired:
                child.kill()
        with open(out, "w") as f:
            json.dump(result, f)
""")


def test_a_due_p1_lead_sends_notify_on_the_session_bus(tmp_path: Path, xvfb_display: str
                                                        ) -> None:
    require_tool("dbus-run-session", "dbus-monitor", "dunst", "notify-send")
    from test_gui_support import write_small_store

    store = tmp_path / "store.db"
    write_small_store(store, T0)
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER.format(repo=str(REPO), tests=str(TESTS)))
    out, monitor_log = tmp_path / "out.json", tmp_path / "monitor.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DBUS_")}
    env.update(DISPLAY=xvfb_display, PYTHONWARNINGS="error", HOME=str(tmp_path),
               XDG_RUNTIME_DIR=str(tmp_path))
    proc = subprocess.Popen(
        ["dbus-run-session", "--", sys.executable, str(driver), str(store), str(out),
         str(monitor_log), T0.isoformat()],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        _stdout, stderr = proc.communicate(timeout=90)
    except subprocess.TimeoutExpired:
        _kill(proc)
        pytest.fail(f"the D-Bus session did not finish in time; monitor saw:\n"
                    f"{monitor_log.read_text(errors='replace') if monitor_log.exists() else ''}")
    finally:
        _kill(proc)
    errors = stderr.decode(errors="replace")
    assert proc.returncode == 0, errors
    assert "Traceback" not in errors and "Warning" not in errors, errors
    result = json.loads(out.read_text())
    assert result["bus"], "dbus-run-session gave the driver no session bus"
    ok, route, reason = result["probe"]
    assert ok, f"the probe found no usable notification daemon: {reason}"
    assert route in ("notify-send", "dbus-python")
    assert result["events"], "the core's schedule has no SLA deadline for the P1 lead"
    assert result["accepted"] and result["flushed"] and result["broken"] is None
    seen = monitor_log.read_text(errors="replace")
    # The method call itself, addressed to the daemon, carrying the lead's name.
    calls = [block for block in seen.split("\nmethod call ")[1:] if "member=Notify" in block]
    assert calls, f"no Notify call reached the bus; the monitor saw:\n{seen}"
    assert any("Priya Shah" in block and '"LeadQueue"' in block for block in calls), seen


APP_WITHOUT_BUS = textwrap.dedent("""
    # The app with no D-Bus session at all: it must fall back, not crash.
    import json, sys
    from datetime import datetime

    sys.path[:0] = [{repo!r}, {tests!r}]
    from leadqueue.clock import FakeClock
    from leadqueue.store import open_local_store
    from leadqueue.workspace import Workspace
    from ui.app import qapplication
    from ui.main_window import MainWindow
    from ui.qt import QEventLoop, QTimer

    store, out, at = sys.argv[1], sys.argv[2], sys.argv[3]
    app = qapplication()
    engine = open_local_store(store)
    ws = Workspace.open(engine, "ada@example.com", FakeClock(datetime.fromisoformat(at)))
    window = MainWindow(ws, store_label="store.db")
    controller = window.notifications
    result = {{"delivered": [], "probe": None}}
    loop = QEventLoop()

    def delivered(note, via):
        result["delivered"].append([note.lead_name, note.level, via])
        if result["probe"] is not None:
            loop.quit()

    def probed(probe):
        result["probe"] = [probe.ok, probe.reason]
        if result["delivered"]:
            loop.quit()

    controller.sig_delivered.connect(delivered)
    controller.sig_probed.connect(probed)
    QTimer.singleShot(30_000, loop.quit)
    window.show()
    window.start()
    loop.exec()
    result["banner"] = controller.banner.isVisible() and controller.banner.text.text()
    result["chain"] = list(controller.chain.names)
    window.close()
    engine.dispose()
    with open(out, "w") as f:
        json.dump(result, f)
""")


def test_without_a_session_bus_the_app_falls_back_to_the_banner(tmp_path: Path) -> None:
    from datetime import timedelta

    from test_gui_support import write_small_store

    store = tmp_path / "store.db"
    write_small_store(store, T0)
    script = tmp_path / "app.py"
    script.write_text(APP_WITHOUT_BUS.format(repo=str(REPO), tests=str(TESTS)))
    out = tmp_path / "out.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DBUS_")}
    env.update(QT_QPA_PLATFORM="offscreen", PYTHONWARNINGS="error",
               LEADQUEUE_LOG_DIR=str(tmp_path / "logs"), HOME=str(tmp_path),
               XDG_RUNTIME_DIR=str(tmp_path))
    env.pop("DISPLAY", None)
    # One second before the P1 lead's deadline (created 2 min before T0, 5 min SLA).
    at = T0 + timedelta(minutes=3) - timedelta(seconds=1)
    started = time.monotonic()
    proc = subprocess.run([sys.executable, str(script), str(store), str(out), at.isoformat()],
                          env=env, capture_output=True, timeout=90)
    errors = proc.stderr.decode(errors="replace")
    assert proc.returncode == 0, errors
    assert "Traceback" not in errors, errors
    result = json.loads(out.read_text())
    assert result["probe"] is not None and result["probe"][0] is False
    assert "DBUS_SESSION_BUS_ADDRESS" in result["probe"][1]
    assert "plyer" not in result["chain"]
    assert result["delivered"], f"nothing was delivered in {time.monotonic() - started:.0f} s"
    name, level, via = result["delivered"][0]
    assert "Priya Shah" in name and level == "urgent" and via == "banner"
    assert "Priya Shah" in result["banner"]
