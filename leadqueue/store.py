"""Opening local and shared databases; engines, sessions and schema versions.

A local store is a SQLite file (WAL, foreign keys on, busy timeout); the shared
database is PostgreSQL through psycopg 3. Engines are built by
:func:`make_engine` at start-up, never at import. Sessions are opened and
committed at an operation's boundary (:func:`session_scope`), never held
globally.

Before a local file is touched it is inspected read-only (:func:`inspect_store`):
a file that is not a SQLite database, or one migrated by a newer LeadQueue, is
refused with :class:`StoreError` and left exactly as it was.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # heavy imports stay lazy: start-up time matters (DESIGN.md §6)
    from sqlalchemy.engine import Engine
    from sqlalchemy.orm import Session

#: The Alembic head this code is written against; a test checks it matches
#: ``migrations/``. Kept as a constant so start-up can check a store's version
#: with one sqlite3 query instead of loading Alembic.
SCHEMA_REVISION = "0002"
#: Every revision this code knows, oldest first.
KNOWN_REVISIONS = ("0001", "0002")

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


class StoreError(Exception):
    """The environment's fault (bad file, newer schema, server away): a clear
    message for the user, never a trace."""


@dataclass(frozen=True)
class StoreState:
    url: str
    exists: bool
    revision: str | None  # None: empty or not yet migrated

    @property
    def needs_upgrade(self) -> bool:
        return self.revision != SCHEMA_REVISION


def is_url(target: str) -> bool:
    """``--db`` takes a path or a URL; a value with ``://`` is a URL."""
    return "://" in target


def sqlite_path_of(url: str) -> Path | None:
    if url.startswith("sqlite:///"):
        return Path(url[len("sqlite:///") :])
    return None


def to_url(target: str | Path) -> str:
    target = str(target)
    if is_url(target):
        if target.startswith("postgresql://"):
            # psycopg 3 is the driver; plain postgresql:// would pick psycopg2.
            return "postgresql+psycopg://" + target[len("postgresql://") :]
        return target
    return f"sqlite:///{Path(target).expanduser().resolve()}"


def inspect_store(target: str | Path) -> StoreState:
    """Read a local store's schema revision without changing a byte of it."""
    url = to_url(target)
    path = sqlite_path_of(url)
    if path is None:
        raise ValueError("inspect_store reads local SQLite stores only")
    if not path.exists():
        return StoreState(url, False, None)
    if path.is_dir():
        raise StoreError(f"{path} is a folder, not a LeadQueue database file")
    if path.stat().st_size == 0:
        return StoreState(url, True, None)
    try:
        with open(path, "rb") as fh:
            header = fh.read(16)
    except OSError as exc:
        raise StoreError(f"cannot read {path}: {exc.strerror}") from None
    if header != b"SQLite format 3\x00":
        raise StoreError(f"{path} is not a LeadQueue database (not a SQLite file); left unchanged")
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            tables = {r[0] for r in con.execute(
                "SELECT name FROM sqlite_master WHERE type='table'")}
            revision = None
            if "alembic_version" in tables:
                row = con.execute("SELECT version_num FROM alembic_version").fetchone()
                revision = row[0] if row else None
        finally:
            con.close()
    except sqlite3.DatabaseError as exc:
        raise StoreError(
            f"{path} is not a readable LeadQueue database ({exc}); left unchanged") from None
    if revision is None and tables - {"sqlite_sequence"}:
        raise StoreError(
            f"{path} is a SQLite database but not a LeadQueue store (it has tables "
            f"{', '.join(sorted(tables)[:5])} and no schema version); left unchanged"
        )
    if revision is not None and revision not in KNOWN_REVISIONS:
        raise StoreError(
            f"{path} was written by a newer LeadQueue (schema {revision}; this version "
            f"knows up to {SCHEMA_REVISION}). Upgrade LeadQueue to open it; the file is unchanged."
        )
    return StoreState(url, True, revision)


def make_engine(target: str | Path, *, echo: bool = False) -> Engine:
    """An engine for a local path or a database URL, with our connection settings."""
    from sqlalchemy import create_engine, event

    url = to_url(target)
    if url.startswith("sqlite"):
        engine = create_engine(url, echo=echo, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_con, _record):  # type: ignore[no-untyped-def]
            cur = dbapi_con.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    return create_engine(url, echo=echo, pool_pre_ping=True)


def alembic_config(url: str):  # type: ignore[no-untyped-def]
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply Alembic migrations up to ``revision`` on ``engine``'s database."""
    from alembic import command

    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)


def open_local_store(target: str | Path, *, create: bool = True) -> Engine:
    """Open (and if needed create or migrate) a local store; raises StoreError."""
    state = inspect_store(target)
    if not state.exists and not create:
        raise StoreError(f"no LeadQueue database at {sqlite_path_of(state.url)}")
    path = sqlite_path_of(state.url)
    if path is not None and not state.exists:
        path.parent.mkdir(parents=True, exist_ok=True)
    engine = make_engine(state.url)
    if state.needs_upgrade:
        upgrade(engine)
    return engine


def open_database(target: str | Path, *, create: bool = True) -> Engine:
    """Open a local store or a shared database named by ``--db``."""
    url = to_url(target)
    if url.startswith("sqlite"):
        return open_local_store(url, create=create)
    engine = make_engine(url)
    check_shared_revision(engine)
    return engine


def check_shared_revision(engine: Engine) -> str | None:
    """The shared database's revision; StoreError when it cannot be used."""
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError, OperationalError

    try:
        with engine.connect() as con:
            has_table = con.execute(
                text("SELECT to_regclass('alembic_version') IS NOT NULL")).scalar()
            revision = (
                con.execute(text("SELECT version_num FROM alembic_version")).scalar()
                if has_table
                else None
            )
    except OperationalError as exc:
        raise StoreError(f"cannot reach the shared database: {exc.orig}") from None
    except DBAPIError as exc:
        raise StoreError(f"the shared database refused the query: {exc.orig}") from None
    if revision is None:
        raise StoreError(
            "the shared database has no LeadQueue schema yet: an admin runs "
            "'leadqueue admin init --db URL' first"
        )
    if revision not in KNOWN_REVISIONS:
        raise StoreError(
            f"the shared database has schema {revision}, newer than this app's "
            f"{SCHEMA_REVISION}: upgrade LeadQueue on this machine"
        )
    if revision != SCHEMA_REVISION:
        raise StoreError(
            f"the shared database has schema {revision}, older than this app's "
            f"{SCHEMA_REVISION}: an admin runs 'leadqueue admin init' to upgrade it"
        )
    return revision


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any exception."""
    from sqlalchemy.orm import Session

    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
