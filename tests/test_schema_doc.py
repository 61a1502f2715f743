"""docs/schema.md is the public contract for outside readers of the database:
it must name every table and every column the models define."""

from __future__ import annotations

import re
from pathlib import Path

from leadqueue.model import Base

DOC = Path(__file__).resolve().parent.parent / "docs" / "schema.md"
SYNCED = {"id", "version", "server_seq", "updated_at", "deleted_at"}


def _sections() -> dict[str, str]:
    text = DOC.read_text(encoding="utf-8")
    parts = re.split(r"^## `([a-z_]+)`.*$", text, flags=re.M)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts) - 1, 2)}


def test_every_table_and_column_is_documented() -> None:
    sections = _sections()
    missing = []
    for table in Base.metadata.sorted_tables:
        body = sections.get(table.name)
        if body is None:
            missing.append(f"table {table.name}")
            continue
        synced = "(synced)" in DOC.read_text(encoding="utf-8").split(f"## `{table.name}`")[1] \
            .splitlines()[0]
        for column in table.columns:
            if synced and column.name in SYNCED:
                continue
            if f"`{column.name}`" not in body:
                missing.append(f"{table.name}.{column.name}")
    assert not missing, "docs/schema.md does not describe: " + ", ".join(missing)


def test_documented_enumerations_match_the_code() -> None:
    from leadqueue import enums

    text = DOC.read_text(encoding="utf-8")
    for enum in (enums.LeadStatus, enums.LeadClass, enums.NextStepKind, enums.ActivityKind,
                 enums.Direction, enums.CallOutcome, enums.DisqualifyReason,
                 enums.NoResponseReason, enums.Role, enums.Channel, enums.EnrollmentStatus,
                 enums.RoutingMethod, enums.NotificationLevel, enums.DataIssue):
        for member in enum:
            assert f"`{member.value}`" in text, f"{enum.__name__}.{member.name}"
