"""Stand-ins for the main window's modal questions and OS hand-offs.

:class:`StubDialogs` has the methods of :class:`ui.dialogs.Dialogs`; a test
queues the answers it wants (``dialogs.answer("ask_note", "Call Tue")``) and
reads back what was asked (``dialogs.asked``). A question the test did not
prepare an answer for fails the test instead of hanging on a modal box.
"""

from __future__ import annotations

from collections import defaultdict, deque
from typing import Any


class UnexpectedQuestion(AssertionError):
    pass


class StubDialogs:
    def __init__(self) -> None:
        self._answers: dict[str, deque[Any]] = defaultdict(deque)
        self.asked: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []
        self.errors: list[tuple[str, str]] = []
        self.shortcuts_shown = 0

    def answer(self, method: str, *values: Any) -> StubDialogs:
        self._answers[method].extend(values)
        return self

    def names(self) -> list[str]:
        return [name for name, _a, _k in self.asked]

    def last(self, method: str) -> tuple[tuple[Any, ...], dict[str, Any]]:
        for name, args, kwargs in reversed(self.asked):
            if name == method:
                return args, kwargs
        raise AssertionError(f"{method} was never asked")

    def _ask(self, method: str, *args: Any, **kwargs: Any) -> Any:
        self.asked.append((method, args, kwargs))
        if not self._answers[method]:
            raise UnexpectedQuestion(f"the window asked {method}{args} with no answer prepared")
        return self._answers[method].popleft()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("ask_"):
            return lambda *a, **k: self._ask(name, *a, **k)
        raise AttributeError(name)

    # -- telling (never blocks) ---------------------------------------------------

    def show_error(self, title: str, message: str) -> None:
        self.errors.append((title, message))

    def show_shortcuts(self, rows: list[tuple[str, str]]) -> None:
        self.shortcuts_shown += 1
        self.shortcut_rows = rows


class RecordingLinks:
    """The OS adapter of ``ui.os_links``: records instead of dialling."""

    def __init__(self, handled: bool = True) -> None:
        self.urls: list[str] = []
        self.copied: list[str] = []
        self.handled = handled

    def open_url(self, url: str) -> bool:
        self.urls.append(url)
        return self.handled

    def copy_text(self, text: str) -> None:
        self.copied.append(text)
