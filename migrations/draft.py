"""(Re)generate the unreleased draft revision from the models.

Usage: ``python -m migrations.draft``. While revision ``DRAFT`` has not been
released, model changes are folded into it by regenerating it against a store
migrated to the revision before it. Review the result before committing.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from alembic import command

from leadqueue.store import alembic_config, make_engine, upgrade

DRAFT = "0002"
BEFORE = "0001"
VERSIONS = Path(__file__).resolve().parent / "versions"


def main() -> int:
    for old in VERSIONS.glob(f"{DRAFT}_*.py"):
        old.unlink()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/draft.db"
        engine = make_engine(url)
        upgrade(engine, BEFORE)
        engine.dispose()
        command.revision(alembic_config(url), message="second schema revision",
                         autogenerate=True, rev_id=DRAFT)
    for new in VERSIONS.glob(f"{DRAFT}_*.py"):
        text = new.read_text()
        text = text.replace(
            "sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql')",
            "leadqueue.dbtypes.JSONDoc",
        ).replace("from sqlalchemy.dialects import postgresql\n", "")
        new.write_text(text)
        print(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
