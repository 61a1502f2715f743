"""Benchmark: opening and scrolling a 100k-row queue view, beside a bare QTableView.

Issue 3: opening and scrolling a 100k-row queue view must take at most 1.5x a
bare ``QTableView`` over a plain Python list model of the same rows, measured
in the same run.

* **ours**: the app's :class:`ui.queue_model.QueueModel` (three sections with
  header rows, countdowns, colours) in a ``QTableView`` set up by the app's
  own :func:`ui.widgets.configure_queue_view` (priority pills,
  section spans, fixed row heights), with the app's style sheet.
* **bare**: a ``QAbstractTableModel`` over a Python list of the same
  ``QueueRow`` objects whose ``data`` returns one attribute as text, in a
  default ``QTableView`` (only its row height set to ours, so both paint the
  same number of rows per page), in the same styled application.

One round, per side: build the model and the view, show it and paint the
first page (*open*), then page down ``--pages`` times painting each page
synchronously, then jump to the end and back (*scroll*). The figure per side
is the median of ``--rounds`` rounds, sides interleaved; the ratio compares
open + scroll.

Run: ``QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/bench_queue_view.py
[--rows N] [--pages N] [--rounds N]``. Exits 1 when the ratio is over the limit.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

LIMIT_RATIO = 1.5
NOW = datetime(2026, 3, 4, 15, 0, tzinfo=UTC)
ZONES = ("America/New_York", "Europe/London", "Europe/Berlin", "Australia/Sydney",
         "America/Los_Angeles", "Asia/Tokyo", None)
FIELDS = ("priority", "name", "company", "tier", "next_step_at", "timezone", "source")


def make_rows(n: int) -> tuple[list, list, list]:  # type: ignore[type-arg]
    """``n`` queue rows: 60 % callable, 20 % later, 20 % upcoming."""
    from leadqueue.views import QueueRow

    rows = []
    for i in range(n):
        created = NOW - timedelta(minutes=5 + i % 5000)
        acted = i % 3 != 0
        rows.append(QueueRow(
            id=uuid.UUID(int=i + 1), external_id=f"L{i}", name=f"Lead {i} Example",
            company=f"Company {i % 997} Ltd", priority=1 + i % 4, status="working",
            lead_class="high_intent", source=("web_form", "webinar", "referral")[i % 3],
            phone=f"+1212555{i % 10000:04d}", email=f"lead{i}@example.com",
            timezone=ZONES[i % len(ZONES)], score=i % 100, created_at=created,
            next_step="Call", next_step_kind="call",
            next_step_at=NOW - timedelta(minutes=i % 300) if acted else None,
            sla_due_at=None if acted else created + timedelta(minutes=60),
            tier=1 + i % 3, reasons=(f"P{1 + i % 4} web form — first response due",),
            data_issues=("timezone_unknown",) if ZONES[i % len(ZONES)] is None else (),
            window_opens_at=NOW + timedelta(hours=2),
        ))
    a, b = int(n * 0.6), int(n * 0.8)
    return rows[:a], rows[a:b], rows[b:]


def bare_model_class():  # type: ignore[no-untyped-def]
    from ui.qt import QAbstractTableModel, QModelIndex, Qt

    class ListModel(QAbstractTableModel):
        """The plain baseline: a list and one attribute per column, as text."""

        def __init__(self, rows: list) -> None:  # type: ignore[type-arg]
            super().__init__()
            self.rows = rows

        def rowCount(self, parent=QModelIndex()) -> int:  # type: ignore[no-untyped-def]  # noqa: B008
            return 0 if parent.isValid() else len(self.rows)

        def columnCount(self, parent=QModelIndex()) -> int:  # type: ignore[no-untyped-def]  # noqa: B008
            return 0 if parent.isValid() else len(FIELDS)

        def data(self, index, role=Qt.ItemDataRole.DisplayRole):  # type: ignore[no-untyped-def]
            if role != Qt.ItemDataRole.DisplayRole or not index.isValid():
                return None
            return str(getattr(self.rows[index.row()], FIELDS[index.column()]))

        def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):  # type: ignore[no-untyped-def]
            if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
                return FIELDS[section]
            return None

    return ListModel


def exercise(view, pages: int) -> None:  # type: ignore[no-untyped-def]
    """Page down ``pages`` times, then end and home, painting every step."""
    bar = view.verticalScrollBar()
    viewport = view.viewport()
    for _ in range(pages):
        bar.setValue(bar.value() + bar.pageStep())
        viewport.repaint()
    bar.setValue(bar.maximum())
    viewport.repaint()
    bar.setValue(0)
    viewport.repaint()


def run_ours(app, sections, pages: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    from ui.qt import QtWidgets
    from ui.queue_model import QueueModel
    from ui.widgets import configure_queue_view

    t0 = time.perf_counter()
    model = QueueModel(now=NOW)
    model.set_queue(*sections, now=NOW)
    view = QtWidgets.QTableView()
    configure_queue_view(view, model)
    view.resize(760, 800)
    view.show()
    app.processEvents()
    view.viewport().repaint()
    t1 = time.perf_counter()
    exercise(view, pages)
    model.tick(NOW + timedelta(seconds=1))  # the one timer's beat, repainted
    view.viewport().repaint()
    t2 = time.perf_counter()
    view.close()
    view.deleteLater()
    app.processEvents()
    return t1 - t0, t2 - t1


def run_bare(app, rows, pages: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    from ui.qt import QtWidgets

    t0 = time.perf_counter()
    from ui.widgets import QUEUE_ROW_HEIGHT

    model = bare_model_class()(list(rows))
    view = QtWidgets.QTableView()
    view.setModel(model)
    # The same rows per page as ours, or the comparison would favour one side.
    view.verticalHeader().setDefaultSectionSize(QUEUE_ROW_HEIGHT)
    view.resize(760, 800)
    view.show()
    app.processEvents()
    view.viewport().repaint()
    t1 = time.perf_counter()
    exercise(view, pages)
    view.viewport().repaint()
    t2 = time.perf_counter()
    view.close()
    view.deleteLater()
    app.processEvents()
    return t1 - t0, t2 - t1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args(argv)

    from ui.app import qapplication

    app = qapplication()  # the app's style sheet applies to both sides
    sections = make_rows(args.rows)
    rows = [*sections[0], *sections[1], *sections[2]]
    run_ours(app, sections, 5)  # warm both paths once (fonts, style caches)
    run_bare(app, rows, 5)
    ours: list[tuple[float, float]] = []
    bare: list[tuple[float, float]] = []
    for _ in range(args.rounds):
        ours.append(run_ours(app, sections, args.pages))
        bare.append(run_bare(app, rows, args.pages))

    def med(samples: list[tuple[float, float]], i: int | None) -> float:
        return statistics.median(s[0] + s[1] if i is None else s[i] for s in samples)

    total_ours, total_bare = med(ours, None), med(bare, None)
    ratio = total_ours / total_bare
    print(f"queue view, {args.rows:,} rows, {args.pages} pages + end/home, "
          f"median of {args.rounds} rounds")
    print(f"  ours (QueueModel, app view):    open {med(ours, 0) * 1000:7.1f} ms   "
          f"scroll {med(ours, 1) * 1000:7.1f} ms   total {total_ours * 1000:7.1f} ms")
    print(f"  bare (list model, QTableView):  open {med(bare, 0) * 1000:7.1f} ms   "
          f"scroll {med(bare, 1) * 1000:7.1f} ms   total {total_bare * 1000:7.1f} ms")
    print(f"  per page painted: ours {med(ours, 1) / (args.pages + 2) * 1000:.2f} ms, "
          f"bare {med(bare, 1) / (args.pages + 2) * 1000:.2f} ms")
    verdict = "ok" if ratio <= LIMIT_RATIO else "OVER THE LIMIT"
    print(f"ratio {ratio:.2f}x (limit {LIMIT_RATIO}x): {verdict}")
    return 0 if ratio <= LIMIT_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
