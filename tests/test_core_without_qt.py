"""The core runs where Qt is not installed (the worker, the CLI, servers)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

HIDE_QT = r"""
import importlib.abc, sys
class NoQt(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "PySide6" or name.startswith(("PySide6.", "shiboken6")):
            raise ModuleNotFoundError(f"No module named {name!r} (hidden by the test)")
        return None
sys.meta_path.insert(0, NoQt())
import pkgutil, importlib, leadqueue
names = [m.name for m in pkgutil.walk_packages(leadqueue.__path__, "leadqueue.")]
for name in names:
    importlib.import_module(name)
assert not any(m.startswith("PySide6") for m in sys.modules), "core imported Qt"
print(len(names))
"""


def test_every_core_module_imports_without_pyside6() -> None:
    done = subprocess.run([sys.executable, "-c", HIDE_QT], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout.strip()) >= 8  # it really walked the package


def test_hiding_works() -> None:
    """The guard itself must be able to fail: importing Qt under it errors."""
    probe = HIDE_QT.split("import pkgutil")[0] + "import PySide6.QtCore\n"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode != 0 and "hidden by the test" in done.stderr
