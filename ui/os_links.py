"""Handing ``tel:`` and ``mailto:`` links to the operating system.

The window talks to an :class:`OsLinks`; the real one uses QDesktopServices
and falls back to the clipboard when no handler is registered (the app
degrades instead of failing). Tests pass a recorder instead.
"""

from __future__ import annotations

import logging
from typing import Protocol

from ui.qt import QDesktopServices, QGuiApplication, QUrl

log = logging.getLogger("leadqueue.ui.os_links")


class OsLinks(Protocol):
    def open_url(self, url: str) -> bool:
        """Hand ``url`` to the OS; False when nothing handled it."""
        ...

    def copy_text(self, text: str) -> None: ...


def tel_url(phone: str) -> str:
    """``tel:+4930…`` from an E.164 number (spaces and dashes dropped)."""
    digits = "".join(ch for ch in phone if ch.isdigit() or ch == "+")
    return f"tel:{digits}"


def mailto_url(to: str, subject: str | None, body: str | None) -> str:
    from urllib.parse import quote

    parts = []
    if subject:
        parts.append("subject=" + quote(subject))
    if body:
        parts.append("body=" + quote(body))
    return f"mailto:{quote(to, safe='@.+-_')}" + ("?" + "&".join(parts) if parts else "")


class QtOsLinks:
    """QDesktopServices, with the clipboard as the fallback."""

    def open_url(self, url: str) -> bool:
        ok = QDesktopServices.openUrl(QUrl(url))
        if not ok:
            log.warning("no handler for %s; copied to the clipboard", url.split(":", 1)[0])
            self.copy_text(url.split(":", 1)[1].split("?", 1)[0])
        return bool(ok)

    def copy_text(self, text: str) -> None:
        clipboard = QGuiApplication.clipboard()
        if clipboard is not None:
            clipboard.setText(text)
