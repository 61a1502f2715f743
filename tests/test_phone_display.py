"""The phone as people read it, written with the number (``leads.phone_display``).

The app's first paint shows the top lead's phone in international format
without loading ``phonenumbers`` (about 20 ms of a cold start, issue 3): the
writers store the display form beside the E.164 number, and
``contact.display_phone`` shows it only while it still spells that number.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import T0
from test_gui_support import write_small_store

from leadqueue.contact import display_phone, normalize_phone

AT = "2026-03-04T15:00:00+00:00"


def test_normalising_gives_the_display_form_too() -> None:
    result = normalize_phone("(415) 555-0123", "US")
    assert result.e164 == "+14155550123"
    assert result.display == "+1 415-555-0123" == display_phone(result.e164)
    assert normalize_phone("not a number", "US").display is None
    assert normalize_phone(None).display is None


def test_a_stored_display_is_shown_only_while_it_spells_the_number() -> None:
    assert display_phone("+14155550123", "+1 415-555-0123") == "+1 415-555-0123"
    # The number changed and the display did not: formatted again, never stale.
    assert display_phone("+14155550199", "+1 415-555-0123") == "+1 415-555-0199"
    # Raw text of a flagged lead stays as given, whatever was stored.
    assert display_phone("call me maybe", "+1 415-555-0123") == "call me maybe"
    assert display_phone("+442083661177", None) == "+44 20 8366 1177"


def test_a_stored_display_needs_no_phonenumbers() -> None:
    code = ("import sys\n"
            "from leadqueue.contact import display_phone\n"
            "assert display_phone('+61462385600', '+61 462 385 600') == '+61 462 385 600'\n"
            "print('phonenumbers' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_the_workspace_writes_it_with_a_new_or_edited_number(tmp_path: Path) -> None:
    from leadqueue.clock import FakeClock
    from leadqueue.store import open_local_store
    from leadqueue.views import ContactEdit, NewLead
    from leadqueue.workspace import Workspace

    path = tmp_path / "small.db"
    write_small_store(path, T0)
    engine = open_local_store(path)
    try:
        ws = Workspace.open(engine, None, FakeClock(T0))
        lead_id = ws.create_lead(NewLead("Ana", "Lima", phone="020 8366 1177", country="GB"))
        assert ws.lead(lead_id).phone_display == "+44 20 8366 1177"
        ws.update_contact(lead_id, ContactEdit(phone="+61 2 9550 5911"))
        assert ws.lead(lead_id).phone_display == "+61 2 9550 5911"
        ws.update_contact(lead_id, ContactEdit(phone="ring the front desk"))
        detail = ws.lead(lead_id)
        assert detail.phone == "ring the front desk" and detail.phone_display is None
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from leadqueue.demo import write_demo_db

    path = tmp_path_factory.mktemp("demo") / "demo.db"
    write_demo_db(path, leads=80, now=datetime.fromisoformat(AT).astimezone(UTC))
    return path


def test_the_loader_writes_it_for_every_valid_number(demo_db: Path) -> None:
    con = sqlite3.connect(demo_db)
    try:
        rows = con.execute("SELECT phone, phone_display FROM leads").fetchall()
    finally:
        con.close()
    assert rows
    for phone, shown in rows:
        if phone and phone.startswith("+"):
            assert shown == display_phone(phone), phone


@pytest.mark.gui
def test_demo_screenshot_loads_neither_the_orm_nor_phonenumbers(demo_db: Path,
                                                                 tmp_path: Path) -> None:
    out = tmp_path / "shot.png"
    code = (
        "import sys\n"
        f"sys.argv = ['leadqueue', '--demo', '--db', sys.argv[1], '--at', '{AT}',"
        " '--screenshot', sys.argv[2]]\n"
        "from leadqueue.cli import main\n"
        "rc = main()\n"
        "print('LOADED', [m for m in ('sqlalchemy', 'psycopg', 'phonenumbers')"
        " if m in sys.modules])\n"
        "sys.exit(rc)\n"
    )
    env = {"QT_QPA_PLATFORM": "offscreen", "LEADQUEUE_LOG_DIR": str(tmp_path / "logs"),
           "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", code, str(demo_db), str(out)], env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert "LOADED []" in done.stdout
    assert out.stat().st_size > 10_000
