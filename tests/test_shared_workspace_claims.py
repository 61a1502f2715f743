"""Workspace.claim_next() / release(): online only, refused in plain words
offline, and the pooled connection is handed back as SQLAlchemy expects."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from pool_support import PoolDb, add_pool

from leadqueue.store import make_engine
from leadqueue.views import PersonView
from leadqueue.workspace import ActionRefused, Workspace

pytestmark = pytest.mark.pg


@pytest.fixture(scope="module")
def db(pg_server_url: str) -> Iterator[PoolDb]:
    pool = PoolDb(pg_server_url)
    try:
        yield pool
    finally:
        pool.close()


def test_claim_and_release_through_the_workspace_on_the_shared_database(db: PoolDb) -> None:
    db.login("wsr", team="Desk")
    lead = add_pool(db, "Desk", 1, priority=1)[0]
    engine = make_engine(db.url_of("wsr"))
    try:
        ws = Workspace.open(engine, as_email=f"wsr@{db.tag}.test")
        row = ws.claim_next()
        assert row is not None and row.id == lead and row.priority == 1
        assert row.reasons == ("claimed from the pool",)
        assert ws.claim_next() is None
        # The pooled connection went back in transaction mode: SQLAlchemy work still
        # rolls back when it should.
        with engine.connect() as conn:
            conn.exec_driver_sql("CREATE TEMP TABLE t (x int)")
            conn.rollback()
            assert conn.exec_driver_sql(
                "SELECT to_regclass('pg_temp.t') IS NULL").scalar()
        ws.release(lead)
        assert db.one("SELECT owner_id FROM leads WHERE id = %s", (lead,)) is None
        with pytest.raises(ActionRefused, match="no lease"):
            ws.release(lead)
    finally:
        engine.dispose()


def test_offline_or_local_only_is_refused_in_plain_words(local_engine) -> None:  # type: ignore[no-untyped-def]
    me = PersonView(uuid.uuid4(), "r@x.io", "R", "rep", None, None)
    ws = Workspace(local_engine, me)
    with pytest.raises(ActionRefused, match="needs the shared team database"):
        ws.claim_next()
    ws.shared_url = "postgresql://nobody@127.0.0.1:1/nowhere"
    with pytest.raises(ActionRefused, match="You are offline"):
        ws.claim_next()
    with pytest.raises(ActionRefused, match="You are offline"):
        ws.release(me.id)


def test_on_the_shared_database_you_are_who_you_connect_as(db: PoolDb) -> None:
    db.person("Aaron", team="Desk")  # first rep alphabetically, but not me
    me = db.login("zed", team="Desk")
    engine = make_engine(db.url_of("zed"))
    try:
        assert Workspace.open(engine).me.id == me
    finally:
        engine.dispose()
