"""Benchmark: cold start of ``leadqueue --demo --screenshot``, beside a bare PySide6 window.

Issue 3: a cold start of ``leadqueue --demo --screenshot`` must take at most
2.5x a bare PySide6 process that shows one empty window and exits, measured
in the same run.

Both sides are fresh processes of the same Python on the offscreen platform,
timed from spawn to exit:

* **app**: ``python -m leadqueue.cli --demo --db DB --screenshot OUT.png`` on a
  demo database created beforehand (creating it is not what is measured);
  the process opens the store, signs in, ranks the queue, renders the window
  with the top lead open and writes the PNG.
* **bare**: ``python -c`` that imports PySide6, shows one empty ``QMainWindow``
  and exits once the event loop has run.

Runs alternate (bare, app, bare, app …) so the two runs of a pair see the
same machine load (these machines are shared); the ratio is the median of
the pairs' ratios, and the medians and minimums of each side are printed
beside it. Both run with Python's
bytecode cache on (a warm-up run fills it, in a temporary folder), as an
installed app does; the file cache is warm for both.

Run: ``.venv/bin/python benchmarks/bench_cold_start.py [--runs N] [--db PATH]``.
Exits 1 when the ratio is over the limit or the app run fails.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

LIMIT_RATIO = 2.5
#: A fixed "now" so every run shows the same queue.
AT = "2026-03-04T15:00:00+00:00"

BARE = """\
import sys
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMainWindow
app = QApplication(sys.argv)
window = QMainWindow()
window.resize(1440, 900)
window.show()
QTimer.singleShot(0, app.quit)
app.exec()
"""


def make_demo_db(path: Path) -> None:
    from leadqueue.demo import write_demo_db

    write_demo_db(path, now=datetime.fromisoformat(AT).astimezone(UTC))


def timed(cmd: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:4])} … failed ({proc.returncode}):\n{proc.stderr}")
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--db", type=Path, help="an existing demo database (default: make one)")
    args = parser.parse_args(argv)

    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    with tempfile.TemporaryDirectory(prefix="lq-cold-") as tmp:
        env["LEADQUEUE_LOG_DIR"] = str(Path(tmp) / "logs")
        # Bytecode cached, as an installed app runs (pip compiles it at install);
        # kept in the temp folder so the checkout gets no __pycache__.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(Path(tmp) / "pycache")
        db = args.db or Path(tmp) / "demo.db"
        if args.db is None:
            make_demo_db(db)
        shot = Path(tmp) / "shot.png"
        app_cmd = [sys.executable, "-m", "leadqueue.cli", "--demo", "--db", str(db),
                   "--at", AT, "--screenshot", str(shot)]
        bare_cmd = [sys.executable, "-c", BARE]
        # Warm the OS file cache for both (the first start after a build is not "cold
        # start" in the sense users feel; every measured run sees the same cache).
        timed(bare_cmd, env)
        timed(app_cmd, env)
        bare: list[float] = []
        app: list[float] = []
        for _ in range(args.runs):
            bare.append(timed(bare_cmd, env))
            app.append(timed(app_cmd, env))
        if not shot.exists() or shot.stat().st_size < 10_000:
            print("the app wrote no screenshot", file=sys.stderr)
            return 1
    b, a = statistics.median(bare), statistics.median(app)
    ratio = statistics.median(x / y for x, y in zip(app, bare, strict=True))
    print(f"cold start, {args.runs} interleaved pairs of runs (offscreen)")
    print(f"  bare PySide6 window:              median {b * 1000:7.1f} ms   "
          f"min {min(bare) * 1000:7.1f} ms")
    print(f"  leadqueue --demo --screenshot:    median {a * 1000:7.1f} ms   "
          f"min {min(app) * 1000:7.1f} ms")
    print(f"  ratio of the minimums {min(app) / min(bare):.2f}x, "
          f"of the medians {a / b:.2f}x")
    verdict = "ok" if ratio <= LIMIT_RATIO else "OVER THE LIMIT"
    print(f"ratio (median of pair ratios) {ratio:.2f}x (limit {LIMIT_RATIO}x): {verdict}")
    return 0 if ratio <= LIMIT_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
