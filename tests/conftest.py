"""Shared fixtures: a fake clock, a fresh local store, a fresh PostgreSQL
database per test session, and Qt on the offscreen platform.

PostgreSQL comes from ``LEADQUEUE_TEST_PG_URL`` (default
``postgresql://postgres@127.0.0.1:5432/test``). Without a reachable server the
``pg`` tests skip with the reason; under ``CI=true`` that is a failure.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

# Before anything imports Qt: GUI tests never need a real screen.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from leadqueue.clock import FakeClock

IN_CI = os.environ.get("CI", "").lower() == "true"
PG_URL = os.environ.get("LEADQUEUE_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")

#: A Wednesday mid-morning in New York: inside US/UK/DE calling windows.
T0 = datetime(2026, 3, 4, 15, 0, tzinfo=UTC)


def skip_or_fail(reason: str) -> None:
    """Skip off CI; under CI=true a missing prerequisite is a failure."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: .ci/run must provide it)")
    pytest.skip(reason)


def require_tool(*names: str) -> None:
    """Skip (or fail under CI) unless every named system tool is on PATH."""
    missing = [n for n in names if shutil.which(n) is None]
    if missing:
        skip_or_fail(f"system tool(s) not installed: {', '.join(missing)}")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    """Where a fresh local store goes (not yet created)."""
    return tmp_path / "store.db"


@pytest.fixture
def local_engine(store_path: Path):  # type: ignore[no-untyped-def]
    """A fresh, migrated local store."""
    from leadqueue.store import open_local_store

    engine = open_local_store(store_path)
    yield engine
    engine.dispose()


def _admin_url(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1) if url.startswith(
        "postgresql://"
    ) else url


@pytest.fixture(scope="session")
def pg_server_url() -> str:
    """The server URL, after checking it answers (skip/fail otherwise)."""
    try:
        import psycopg

        with psycopg.connect(PG_URL, connect_timeout=3) as con:
            con.execute("SELECT 1")
    except Exception as exc:  # any failure means: no usable server here
        skip_or_fail(f"PostgreSQL at {PG_URL} is not reachable: {exc}".strip())
    return PG_URL


@pytest.fixture(scope="session")
def pg_database_url(pg_server_url: str) -> Iterator[str]:
    """A fresh, empty database for this test session, dropped at the end.

    A database (not a schema) so that login roles made by tests connect to it
    with the default search_path, as real users will.
    """
    import psycopg

    name = f"lq_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_server_url, autocommit=True) as con:
        con.execute(f'CREATE DATABASE "{name}"')
    base = pg_server_url.rsplit("/", 1)[0]
    url = f"{base}/{name}"
    try:
        yield url
    finally:
        with psycopg.connect(pg_server_url, autocommit=True) as con:
            con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def pg_engine(pg_database_url: str):  # type: ignore[no-untyped-def]
    """An engine on the session's database, migrated to head."""
    from leadqueue.store import make_engine, upgrade

    engine = make_engine(pg_database_url)
    upgrade(engine)
    yield engine
    engine.dispose()
