"""The CLI's contract: version, help, and refusing unusable databases with exit 2."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from leadqueue import __version__
from leadqueue.cli import main


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"leadqueue {__version__}"


def test_help_lists_the_gui_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for option in ("--demo", "--db", "--as", "--screenshot"):
        assert option in out


def test_gui_on_a_non_database_file_exits_2_and_leaves_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bogus = tmp_path / "leads.csv"
    bogus.write_text("name,phone\nAda,+4420\n")
    before = bogus.read_bytes()
    assert main(["--db", str(bogus), "--screenshot", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err
    assert "not a LeadQueue database" in err and str(bogus) in err
    assert bogus.read_bytes() == before


def test_gui_on_a_newer_schema_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "future.db"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
    con.execute("INSERT INTO alembic_version VALUES ('0099')")
    con.commit()
    con.close()
    before = path.read_bytes()
    assert main(["--db", str(path), "--screenshot", str(tmp_path / "x.png")]) == 2
    assert "newer LeadQueue" in capsys.readouterr().err
    assert path.read_bytes() == before


def test_malformed_at_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--db", str(tmp_path / "s.db"), "--at", "yesterday-ish"]) == 2
    assert "--at" in capsys.readouterr().err
