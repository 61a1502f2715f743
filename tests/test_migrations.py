"""One Alembic chain for SQLite and PostgreSQL, in step with the models."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from leadqueue.model import Base
from leadqueue.store import (
    KNOWN_REVISIONS,
    SCHEMA_REVISION,
    alembic_config,
    make_engine,
    upgrade,
)

CONTRACT_TABLES = {
    "teams", "users", "leads", "activities", "sla_policies", "routing_rules", "cadences",
    "cadence_steps", "templates", "cadence_enrollments", "audit_log",
}


def _diff(engine) -> list:  # type: ignore[no-untyped-def]
    with engine.connect() as con:
        ctx = MigrationContext.configure(con, opts={"compare_type": True})
        return compare_metadata(ctx, Base.metadata)


def test_code_knows_the_migration_head() -> None:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert script.get_current_head() == SCHEMA_REVISION
    chain = [rev.revision for rev in script.walk_revisions()][::-1]
    assert tuple(chain) == KNOWN_REVISIONS


def test_upgrade_on_sqlite_matches_models(tmp_path: Path) -> None:
    engine = make_engine(tmp_path / "m.db")
    upgrade(engine)
    assert CONTRACT_TABLES <= set(inspect(engine).get_table_names())
    assert _diff(engine) == []
    engine.dispose()


def test_default_sla_policies_are_seeded(local_engine) -> None:  # type: ignore[no-untyped-def]
    with local_engine.connect() as con:
        rows = con.execute(text(
            "SELECT priority, first_response_minutes FROM sla_policies "
            "WHERE team_id IS NULL ORDER BY priority")).all()
    assert [tuple(r) for r in rows] == [(1, 5), (2, 60), (3, 1440), (4, None)]


@pytest.mark.pg
def test_upgrade_on_postgresql_matches_models(pg_engine) -> None:  # type: ignore[no-untyped-def]
    assert CONTRACT_TABLES <= set(inspect(pg_engine).get_table_names())
    assert _diff(pg_engine) == []
    with pg_engine.connect() as con:
        revision = con.execute(text("SELECT version_num FROM alembic_version")).scalar()
        assert revision == SCHEMA_REVISION
        # Timestamps are real timestamptz on the server, JSON columns jsonb.
        kinds = dict(con.execute(text(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_name = 'leads' AND column_name IN ('created_at', 'score_breakdown')"
        )).all())
    assert kinds == {"created_at": "timestamp with time zone", "score_breakdown": "jsonb"}


def test_constraints_are_named_by_convention(tmp_path: Path) -> None:
    engine = make_engine(tmp_path / "n.db")
    upgrade(engine)
    insp = inspect(engine)
    for table in insp.get_table_names():
        for fk in insp.get_foreign_keys(table):
            assert fk["name"] and re.match(r"fk_", fk["name"]), (table, fk)
        for ix in insp.get_indexes(table):
            assert ix["name"].startswith(("ix_", "uq_")), (table, ix)
    engine.dispose()
