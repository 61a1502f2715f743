"""The ``leadqueue`` command: the GUI by default, sub-commands for the rest.

The CLI is a public contract that tests and later features call. Exit codes:
0 success, 1 a failure while working, 2 bad input or an unusable database (a
clear one-line message on stderr, nothing modified).
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from . import __version__
from . import commands as _commands


class UsageError(Exception):
    """Bad input from the user: reported as one line, exit code 2."""


def add_db_argument(parser: argparse.ArgumentParser, *, required: bool = False,
                    help: str | None = None) -> None:
    """``--db``: a local store path or a database URL (a value with ``://``)."""
    parser.add_argument(
        "--db",
        required=required,
        default=argparse.SUPPRESS if not required else None,
        metavar="PATH|URL",
        help=help or "local store path, or a database URL (postgresql://…, sqlite:///…)",
    )


def shared_url(db: str, *, who: str = "this command works") -> str:
    """``--db`` for the shared-database commands: a PostgreSQL URL, else UsageError."""
    if not db.startswith(("postgresql://", "postgresql+psycopg://", "postgres://")):
        raise UsageError(f"--db: {who} on a shared PostgreSQL database "
                         f"(postgresql://…), not {db!r}")
    return db.replace("postgres://", "postgresql://", 1)


def read_json(name: str, *, if_empty: str | None = None) -> Any:
    """The parsed JSON of file ``name`` (``-``: standard input).

    Every way the file can be unusable is one UsageError naming it (missing,
    a folder, not UTF-8, unreadable, malformed JSON with line and column).
    ``if_empty``: the message for a blank file, when it deserves more than
    JSON's "Expecting value" (it says what the file should hold).
    """
    import json

    label = "standard input" if name == "-" else name
    try:
        if name == "-":
            text = sys.stdin.read()
        else:
            with open(name, encoding="utf-8") as fh:
                text = fh.read()
    except FileNotFoundError:
        raise UsageError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise UsageError(f"{name} is a folder, not a JSON file") from None
    except UnicodeDecodeError as exc:
        raise UsageError(f"{label}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise UsageError(f"cannot read {name}: {exc.strerror}") from None
    if if_empty is not None and not text.strip():
        raise UsageError(f"{label} {if_empty}")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{label} is not valid JSON: {exc.msg} at line {exc.lineno}, "
                         f"column {exc.colno}") from None


class _NotTheWindow(Exception):
    """The arguments need the full parser (a sub-command, --help, or an error)."""


class _WindowParser(argparse.ArgumentParser):
    """The top-level options alone: enough to launch the window, and it raises
    instead of printing, so anything else goes to the full parser's message."""

    def error(self, message: str) -> NoReturn:
        raise _NotTheWindow(message)


def _add_window_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--version", action="version", version=f"leadqueue {__version__}")
    parser.add_argument("--demo", action="store_true",
                        help="start on the demo database (created on first use)")
    parser.add_argument("--db", metavar="PATH|URL",
                        help="local store to open (default: the store in your data folder)")
    parser.add_argument("--shared", action="store_true",
                        help="open the shared database saved with File > Connect to shared "
                             "database… (password from the OS keyring)")
    parser.add_argument("--as", dest="as_email", metavar="EMAIL",
                        help="run as this person (the demo starts as a rep)")
    parser.add_argument("--screenshot", metavar="FILE.png",
                        help="render the main window offscreen, save it as PNG and exit")
    parser.add_argument("--at", metavar="ISO8601",
                        help="pretend it is this time (demo and screenshots)")


def build_parser() -> argparse.ArgumentParser:
    """The full parser: the window's options and every sub-command."""
    parser = argparse.ArgumentParser(
        prog="leadqueue",
        description="Your next-best-lead queue. Without a command, starts the desktop app.",
    )
    _add_window_options(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(_commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{_commands.__name__}.{info.name}")
        module.register(sub)
    return parser


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The arguments; sub-command parsers (one import per command module) are
    built only when the window's options alone do not account for ``argv``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    window = _WindowParser(prog="leadqueue", add_help=False)
    _add_window_options(window)
    try:
        args, rest = window.parse_known_args(argv)
    except _NotTheWindow:
        rest = ["(error)"]
    if not rest:
        args.command = None
        return args
    return build_parser().parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    from .store import StoreError

    try:
        if args.command is None:
            return launch_gui(args)
        return int(args.func(args) or 0)
    except (UsageError, StoreError) as exc:
        print(f"leadqueue: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def default_store_path(name: str = "leadqueue.db"):  # type: ignore[no-untyped-def]
    """Where the user's own (or the demo's) local store lives."""
    from pathlib import Path

    import platformdirs

    return Path(platformdirs.user_data_dir("LeadQueue", appauthor=False)) / name


def launch_gui(args: argparse.Namespace) -> int:
    """Start the desktop app (or render its screenshot) on the chosen store."""
    from .clock import parse_instant

    try:
        at = parse_instant(args.at) if args.at else None
    except ValueError as exc:
        raise UsageError(f"--at: {exc}") from None
    if args.demo:
        target = args.db or str(default_store_path("demo.db"))
        from .store import inspect_store

        if "://" not in target and not inspect_store(target).exists:
            from .demo import write_demo_db

            print(f"Creating the demo database at {target} …", file=sys.stderr)
            write_demo_db(target, now=at)
    elif args.shared:  # issue 5: the profile of the connect dialog, its keyring password
        if args.db:
            raise UsageError("--shared opens the saved shared database: leave out --db")
        from .shared.signin import SignInError, saved_target

        try:
            target = saved_target().url  # in memory only
        except SignInError as exc:
            raise UsageError(str(exc)) from None
    else:
        target = args.db or str(default_store_path())
    if "://" not in target:
        from .store import inspect_store

        inspect_store(target)  # refuse a foreign or newer file before Qt starts
    from ui.app import run_app  # Qt only when a window is wanted

    return run_app(target, as_email=args.as_email, screenshot=args.screenshot, at=at,
                   demo=args.demo)


if __name__ == "__main__":
    # Run as ``python -m leadqueue.cli`` this file is ``__main__``, a second copy
    # of the module whose UsageError is not the one the commands raise; the
    # package's own module is the one to run.
    from leadqueue.cli import main as _main

    sys.exit(_main())
