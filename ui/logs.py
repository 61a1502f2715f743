"""Logging for the desktop app: one logger per area, one rotating file.

Areas are children of ``leadqueue`` (``leadqueue.ui.window``,
``leadqueue.ui.tasks`` …). The file lives in the platform's log folder
(``LEADQUEUE_LOG_DIR`` overrides it, e.g. for tests).
"""

from __future__ import annotations

import logging
import os
from logging.handlers import RotatingFileHandler
from pathlib import Path

_handler: RotatingFileHandler | None = None


def log_dir() -> Path:
    override = os.environ.get("LEADQUEUE_LOG_DIR")
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_log_dir("LeadQueue", appauthor=False))


def setup_logging(level: int = logging.INFO) -> Path | None:
    """Attach the rotating file once per process; returns its path (None if
    the folder cannot be written: the app runs without a log file then)."""
    global _handler
    if _handler is not None:
        return Path(_handler.baseFilename)
    folder = log_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handler = RotatingFileHandler(folder / "leadqueue.log", maxBytes=1_000_000,
                                      backupCount=3, encoding="utf-8", delay=True)
    except OSError:
        return None
    handler.setFormatter(logging.Formatter(
        "%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger("leadqueue")
    root.addHandler(handler)
    root.setLevel(level)
    _handler = handler
    return Path(handler.baseFilename)
