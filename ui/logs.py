"""Logging for the desktop app: one logger per area, one rotating file.

Areas are children of ``leadqueue`` (``leadqueue.ui.window``,
``leadqueue.ui.tasks`` …). The file lives in the platform's log folder
(``LEADQUEUE_LOG_DIR`` overrides it, e.g. for tests).

The file is rotated when the app starts (``leadqueue.log`` → ``.1`` … ``.3``
once it is over :data:`MAX_BYTES`) rather than by ``RotatingFileHandler``:
the same bounded files, without importing ``logging.handlers`` (and with it
sockets and pickling) on every cold start.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

MAX_BYTES = 1_000_000
BACKUPS = 3

_handler: logging.FileHandler | None = None


def log_dir() -> Path:
    override = os.environ.get("LEADQUEUE_LOG_DIR")
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_log_dir("LeadQueue", appauthor=False))


def rotate(path: Path, max_bytes: int = MAX_BYTES, backups: int = BACKUPS) -> None:
    """Shift ``path`` to ``path.1`` (… up to ``backups``) when it is too big."""
    try:
        if path.stat().st_size < max_bytes:
            return
    except FileNotFoundError:
        return
    for n in range(backups - 1, 0, -1):
        older = path.with_name(f"{path.name}.{n}")
        if older.exists():
            os.replace(older, path.with_name(f"{path.name}.{n + 1}"))
    os.replace(path, path.with_name(f"{path.name}.1"))


def setup_logging(level: int = logging.INFO) -> Path | None:
    """Attach the log file once per process; returns its path (None if the
    folder cannot be written: the app runs without a log file then)."""
    global _handler
    if _handler is not None:
        return Path(_handler.baseFilename)
    folder = log_dir()
    path = folder / "leadqueue.log"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        rotate(path)
        handler = logging.FileHandler(path, encoding="utf-8", delay=True)
    except OSError:
        return None
    handler.setFormatter(logging.Formatter(
        "%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger("leadqueue")
    root.addHandler(handler)
    root.setLevel(level)
    _handler = handler
    return Path(handler.baseFilename)
