"""The connection dialog: stubbed checker answers, an in-memory keyring, a real
check against the test server, and its entry in the main window's File menu."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import keyring
import pytest
from keyring.backends import fail
from keyring_support import MemoryKeyring

from leadqueue import secrets
from leadqueue.shared.connect import (
    ConnectionCheck,
    Problem,
    SharedProfile,
    load_profile,
    message_for,
    save_profile,
)

pytestmark = pytest.mark.gui

PROFILE = SharedProfile(host="db.example.com", port=6432, database="leadqueue", user="ann",
                        sslmode="require")


class StubChecker:
    """Answers every check with a canned ConnectionCheck; records how it was called."""

    def __init__(self, answer: ConnectionCheck) -> None:
        self.answer = answer
        self.calls: list[tuple[SharedProfile, str | None]] = []
        self.threads: list[int] = []

    def __call__(self, profile: SharedProfile, password: str | None) -> ConnectionCheck:
        self.calls.append((profile, password))
        self.threads.append(threading.get_ident())
        return self.answer


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    previous = keyring.get_keyring()
    kr = MemoryKeyring()
    keyring.set_keyring(kr)
    yield kr
    keyring.set_keyring(previous)


@pytest.fixture
def profile_path(tmp_path: Path) -> Path:
    return tmp_path / "config" / "shared-database.json"


def make_dialog(qtbot: Any, profile_path: Path, checker: Any = None) -> Any:
    from ui.app import qapplication
    from ui.connect_dialog import ConnectDialog

    qapplication()
    dialog = ConnectDialog(None, checker=checker, profile_path=profile_path)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def fill(qtbot: Any, dialog: Any, profile: SharedProfile, password: str) -> None:
    for widget, text in ((dialog.host, profile.host), (dialog.database, profile.database),
                         (dialog.user, profile.user), (dialog.password, password)):
        widget.clear()
        qtbot.keyClicks(widget, text)
    dialog.port.setValue(profile.port)
    dialog.tls.setCurrentIndex(dialog.tls.findData(profile.sslmode))


def click(qtbot: Any, button: Any) -> None:
    from ui.qt import Qt

    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


ANSWERS = [
    (Problem.WRONG_PASSWORD, None),
    (Problem.SERVER_DOWN, None),
    (Problem.UNREACHABLE, None),
    (Problem.NO_DATABASE, None),
    (Problem.TLS_REQUIRED, None),
    (Problem.NOT_A_USER, None),
    (Problem.SCHEMA_OLDER, "0001"),
    (Problem.SCHEMA_NEWER, "0099"),
]


@pytest.mark.parametrize("problem, revision", ANSWERS, ids=[p.value for p, _ in ANSWERS])
def test_test_connection_shows_the_answer_in_plain_words(
        qtbot: Any, profile_path: Path, memory_keyring: MemoryKeyring, problem: Problem,
        revision: str | None) -> None:
    answer = ConnectionCheck(False, message_for(problem, PROFILE, revision=revision), problem,
                             "server text", revision=revision)
    checker = StubChecker(answer)
    dialog = make_dialog(qtbot, profile_path, checker)
    fill(qtbot, dialog, PROFILE, "pw-typed")
    with qtbot.waitSignal(dialog.sig_checked, timeout=10_000) as blocker:
        click(qtbot, dialog.test_button)
        assert not dialog.test_button.isEnabled()  # one check at a time
    assert blocker.args == [answer]
    assert dialog.status.text() == answer.message
    assert dialog.test_button.isEnabled()
    assert checker.calls == [(PROFILE, "pw-typed")]
    assert checker.threads[0] != threading.get_ident()  # off the GUI thread
    assert profile_path.exists() is False  # testing saves nothing
    assert memory_keyring.items == {}


def test_schema_answers_name_the_side_that_upgrades(qtbot: Any, profile_path: Path,
                                                    memory_keyring: MemoryKeyring) -> None:
    for problem, revision, words in ((Problem.SCHEMA_OLDER, "0001", "an admin upgrades"),
                                     (Problem.SCHEMA_NEWER, "0099", "upgrade LeadQueue on "
                                                                    "this computer")):
        answer = ConnectionCheck(False, message_for(problem, PROFILE, revision=revision),
                                 problem, revision=revision)
        dialog = make_dialog(qtbot, profile_path, StubChecker(answer))
        fill(qtbot, dialog, PROFILE, "pw")
        with qtbot.waitSignal(dialog.sig_checked, timeout=10_000):
            click(qtbot, dialog.test_button)
        assert words in dialog.status.text()
        dialog.close()


def test_missing_fields_are_named_and_nothing_is_tried(qtbot: Any, profile_path: Path,
                                                       memory_keyring: MemoryKeyring) -> None:
    checker = StubChecker(ConnectionCheck(True, "Connected"))
    dialog = make_dialog(qtbot, profile_path, checker)
    qtbot.keyClicks(dialog.user, "ann")
    click(qtbot, dialog.test_button)
    assert "Host: enter the server's name or address" in dialog.status.text()
    assert "Database: enter the database name" in dialog.status.text()
    assert checker.calls == []


def test_save_keeps_the_password_in_the_keyring_only(qtbot: Any, profile_path: Path,
                                                     memory_keyring: MemoryKeyring) -> None:
    dialog = make_dialog(qtbot, profile_path, StubChecker(ConnectionCheck(True, "ok")))
    fill(qtbot, dialog, PROFILE, "pw-secret-1")
    with qtbot.waitSignal(dialog.sig_saved, timeout=10_000) as blocker:
        click(qtbot, dialog.save_button)
    assert blocker.args == [PROFILE]
    assert dialog.result() == dialog.DialogCode.Accepted
    assert load_profile(profile_path) == PROFILE
    assert "pw-secret-1" not in profile_path.read_text()
    assert memory_keyring.items == {(secrets.SERVICE, PROFILE.key.username): "pw-secret-1"}


def test_reopening_fills_in_the_saved_profile_and_password(
        qtbot: Any, profile_path: Path, memory_keyring: MemoryKeyring) -> None:
    save_profile(PROFILE, profile_path)
    secrets.store_password(PROFILE.key, "pw-kept")
    checker = StubChecker(ConnectionCheck(True, "Connected as Ann"))
    dialog = make_dialog(qtbot, profile_path, checker)
    if dialog.password.text() != "pw-kept":
        qtbot.waitUntil(lambda: dialog.password.text() == "pw-kept", timeout=10_000)
    assert dialog.profile() == PROFILE
    with qtbot.waitSignal(dialog.sig_checked, timeout=10_000):
        click(qtbot, dialog.test_button)
    assert checker.calls == [(PROFILE, "pw-kept")]
    assert dialog.status.text() == "Connected as Ann"


def test_unticking_remember_forgets_a_kept_password(qtbot: Any, profile_path: Path,
                                                   memory_keyring: MemoryKeyring) -> None:
    save_profile(PROFILE, profile_path)
    secrets.store_password(PROFILE.key, "pw-old")
    dialog = make_dialog(qtbot, profile_path)
    qtbot.waitUntil(lambda: dialog.password.text() == "pw-old", timeout=10_000)
    dialog.remember.setChecked(False)
    with qtbot.waitSignal(dialog.sig_saved, timeout=10_000):
        click(qtbot, dialog.save_button)
    assert memory_keyring.items == {}


def test_without_a_keyring_the_password_is_kept_nowhere(qtbot: Any, profile_path: Path,
                                                        tmp_path: Path) -> None:
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        dialog = make_dialog(qtbot, profile_path, StubChecker(ConnectionCheck(True, "ok")))
        qtbot.waitUntil(lambda: not dialog.remember.isEnabled(), timeout=10_000)
        assert "no keyring" in dialog.remember.text()
        assert "never in a file" in dialog.status.text()
        fill(qtbot, dialog, PROFILE, "pw-nowhere")
        with qtbot.waitSignal(dialog.sig_saved, timeout=10_000):
            click(qtbot, dialog.save_button)  # saves the details, not the password
        assert load_profile(profile_path) == PROFILE
        for path in tmp_path.rglob("*"):
            if path.is_file():
                assert b"pw-nowhere" not in path.read_bytes(), path
    finally:
        keyring.set_keyring(previous)


def test_a_keyring_that_refuses_on_save_is_explained(qtbot: Any, profile_path: Path,
                                                     memory_keyring: MemoryKeyring,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args: object) -> None:
        raise secrets.SecretsError("the keyring refused to store the password: it is locked")

    monkeypatch.setattr(secrets, "store_password", refuse)
    dialog = make_dialog(qtbot, profile_path, StubChecker(ConnectionCheck(True, "ok")))
    fill(qtbot, dialog, PROFILE, "pw")
    with qtbot.waitSignal(dialog.sig_keyring_done, timeout=10_000):
        click(qtbot, dialog.save_button)
    assert dialog.isVisible()
    assert "the password is not" in dialog.status.text() and "locked" in dialog.status.text()
    assert not dialog.remember.isChecked()
    with qtbot.waitSignal(dialog.sig_saved, timeout=10_000):
        click(qtbot, dialog.save_button)  # second Save: continue without keeping it


# --- a real check against the test server -------------------------------------------------

@pytest.mark.pg
def test_real_check_against_the_test_server(qtbot: Any, profile_path: Path,
                                            memory_keyring: MemoryKeyring,
                                            pg_server_url: str) -> None:
    from psycopg.conninfo import conninfo_to_dict
    from shared_db_support import PASSWORD, Installation

    from leadqueue.shared import admin

    inst = Installation.create(pg_server_url)
    try:
        admin.init(inst.url, role_prefix=inst.prefix)
        admin.add_user(inst.url, email="ann@example.com", name="Ann", role="rep",
                       team="East", login=inst.login("ann"), password=PASSWORD)
        params = conninfo_to_dict(pg_server_url)
        profile = SharedProfile(host=str(params.get("host", "127.0.0.1")),
                                port=int(params.get("port", 5432)), database=inst.dbname,
                                user=inst.login("ann"))
        dialog = make_dialog(qtbot, profile_path)  # the real checker
        fill(qtbot, dialog, profile, PASSWORD)
        with qtbot.waitSignal(dialog.sig_checked, timeout=20_000) as blocker:
            click(qtbot, dialog.test_button)
        check = blocker.args[0]
        assert check.ok, check.detail
        assert dialog.status.text().startswith("Connected as Ann (rep, team East)")
        dialog.close()
    finally:
        inst.drop()


# --- the menu entry -----------------------------------------------------------------------

def test_menu_entry_goes_above_quit_and_opens_the_dialog(
        qtbot: Any, memory_keyring: MemoryKeyring, monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    from ui.app import qapplication
    from ui.connect_dialog import ConnectDialog, install_connect_menu
    from ui.qt import QAction, QtWidgets

    monkeypatch.setenv("LEADQUEUE_CONFIG_DIR", str(tmp_path / "cfg"))
    qapplication()
    window = QtWidgets.QMainWindow()
    qtbot.addWidget(window)
    file_menu = window.menuBar().addMenu("&File")
    quit_action = QAction("Quit", window)
    file_menu.addSeparator()
    file_menu.addAction(quit_action)
    window.menus = {"file": file_menu}  # type: ignore[attr-defined]
    window.actions_by_name = {"quit": quit_action}  # type: ignore[attr-defined]
    action = install_connect_menu(window)
    texts = [a.text() for a in file_menu.actions()]
    assert texts == ["Connect to shared database…", "", "Quit"]
    action.trigger()
    dialog = window._connect_dialog  # type: ignore[attr-defined]
    assert isinstance(dialog, ConnectDialog) and dialog.isVisible()
    action.trigger()  # one at a time
    assert window._connect_dialog is dialog  # type: ignore[attr-defined]
    dialog.close()


def test_the_main_window_has_the_entry(qtbot: Any, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from conftest import T0
    from test_gui_support import write_small_store

    from leadqueue.clock import FakeClock
    from leadqueue.store import open_local_store
    from leadqueue.workspace import Workspace
    from ui.app import qapplication
    from ui.main_window import MainWindow
    from ui.qt import QAction

    monkeypatch.setenv("LEADQUEUE_LOG_DIR", str(tmp_path / "logs"))
    path = tmp_path / "small.db"
    write_small_store(path, T0)
    qapplication()
    engine = open_local_store(path)
    try:
        ws = Workspace.open(engine, "ada@example.com", FakeClock(T0))
        win = MainWindow(ws, settings=None, store_label="small.db", show_switcher=False)
        qtbot.addWidget(win, before_close_func=lambda w: w.force_close())
        actions = {a.objectName(): a for a in win.findChildren(QAction)}
        assert "action_connect_shared" in actions
        assert actions["action_connect_shared"] in win.menus["file"].actions()
        win.force_close()
    finally:
        engine.dispose()
