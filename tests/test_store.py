"""Local store opening: migrations on start, refusal of foreign or newer files."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from leadqueue.store import SCHEMA_REVISION, StoreError, inspect_store, open_local_store


def test_new_store_is_created_and_migrated(store_path: Path) -> None:
    engine = open_local_store(store_path)
    engine.dispose()
    assert inspect_store(store_path).revision == SCHEMA_REVISION


def test_store_uses_wal_and_foreign_keys(local_engine) -> None:  # type: ignore[no-untyped-def]
    with local_engine.connect() as con:
        assert con.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert con.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_non_database_file_is_refused_and_unchanged(tmp_path: Path) -> None:
    bogus = tmp_path / "notes.db"
    bogus.write_bytes(b"this is a shopping list, not a database\n" * 10)
    before = bogus.read_bytes()
    with pytest.raises(StoreError, match="not a LeadQueue database"):
        open_local_store(bogus)
    assert bogus.read_bytes() == before


def test_newer_schema_is_refused_and_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
    con.execute("INSERT INTO alembic_version VALUES ('9999')")
    con.commit()
    con.close()
    before = path.read_bytes()
    with pytest.raises(StoreError, match="newer LeadQueue"):
        open_local_store(path)
    assert path.read_bytes() == before


def test_foreign_sqlite_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE recipes (id INTEGER)")
    con.commit()
    con.close()
    with pytest.raises(StoreError, match="not a LeadQueue store"):
        open_local_store(path)
