"""PySide6 6.12.0 on CPython 3.11 aborts ("none_dealloc") after about 5,000
calls of Qt methods that return None. pyproject pins around it; this test
makes 20,000 such calls in a child process so a bad pin or upgrade shows up.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.gui

CALLS = 20_000

SCRIPT = textwrap.dedent(
    f"""
    import sys
    from PySide6.QtWidgets import QApplication, QLabel, QWidget

    app = QApplication([])
    widget = QWidget()
    label = QLabel()
    # Each result is dropped at once: the bug is a reference to None that the
    # binding never took, so every dropped result drains None's count.
    calls = not_none = 0
    for i in range({CALLS} // 4):
        for result in (widget.setToolTip("tip %d" % i), label.setText("text %d" % i),
                       widget.setObjectName("w%d" % (i % 7)), label.setWordWrap(bool(i & 1))):
            calls += 1
            not_none += result is not None
    assert not_none == 0
    print("calls", calls, flush=True)
    """
)


def test_twenty_thousand_void_qt_calls_do_not_abort() -> None:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                          env=env, timeout=120, check=False)
    assert proc.returncode == 0, (
        f"exit {proc.returncode} after void Qt calls (PySide6 pin?)\n{proc.stderr[-2000:]}"
    )
    assert f"calls {CALLS}" in proc.stdout
