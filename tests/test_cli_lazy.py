"""Launching the window builds no sub-command parser; everything else still does.

``leadqueue`` without a command is the desktop app's cold start (issue 3's
2.5x budget), so it must not import the command modules; ``--help``, every
command and every error message stay what the full parser says.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from leadqueue.cli import build_parser, main, parse_args

WINDOW_ARGS = ["--demo", "--db", "/tmp/x.db", "--as", "ada@example.com",
               "--at", "2026-03-04T15:00:00+00:00", "--screenshot", "/tmp/x.png"]


def _command_names() -> list[str]:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    return sorted(sub.choices)  # type: ignore[arg-type]


def test_window_arguments_import_no_command_module() -> None:
    code = (
        "import sys\n"
        "from leadqueue.cli import parse_args\n"
        f"args = parse_args({WINDOW_ARGS!r})\n"
        "assert args.command is None and args.demo and args.as_email == 'ada@example.com'\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('leadqueue.commands.'))\n"
        "print(loaded)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).resolve().parent.parent).stdout
    assert out.strip() == "[]"


def test_window_arguments_parse_as_the_full_parser_does() -> None:
    for argv in ([], ["--demo"], WINDOW_ARGS, ["--db=/tmp/y.db", "--screenshot=out.png"]):
        full = build_parser().parse_args(argv)
        assert vars(parse_args(argv)) == vars(full), argv


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    names = _command_names()
    assert len(names) >= 10 and "queue" in names and "demo-db" in names
    for flag in ("--help", "-h"):
        with pytest.raises(SystemExit) as exc:
            main([flag])
        assert exc.value.code == 0
        out = capsys.readouterr().out
        for name in names:
            assert f"\n    {name} " in out, (flag, name)


@pytest.mark.parametrize("argv", [["--db"], ["--at"], ["nosuch"], ["--demo", "--nosuch"]])
def test_bad_arguments_get_the_full_parsers_message(
        argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "COMMAND ..." in err and "leadqueue: error:" in err


def test_a_command_parses_as_the_full_parser_does(tmp_path: Path) -> None:
    db = str(tmp_path / "d.db")
    for command, argv in (
            ("people", ["people", "--db", db, "--json"]),
            ("queue", ["--demo", "queue", "--db", db, "--rep", "a@b.c"]),
            ("demo-db", ["demo-db", db, "--leads", "20"])):
        args = parse_args(argv)
        assert args.command == command
        assert vars(args) == vars(build_parser().parse_args(argv)), argv
