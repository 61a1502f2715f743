"""File > Connect to shared database…: where the team's database is, and who I am.

The dialog collects host, port, database, user, TLS mode and password. "Test
connection" runs the core's :func:`leadqueue.shared.connect.check_connection`
off the GUI thread and shows its answer in plain words (wrong password, server
down, TLS required, not set up for LeadQueue, schema older/newer …). "Save"
writes the profile (no password) with :func:`save_profile` and the password to
the OS keyring (:mod:`leadqueue.secrets`); with no usable keyring it says so and
keeps the password nowhere, so the app asks for it when it connects.

The checker, the keyring calls and the profile file are injectable, so tests
give canned answers and an in-memory keyring; nothing here blocks the GUI
thread (keyring calls may wait on D-Bus, so they run off it too).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from leadqueue.shared.connect import (
    DEFAULT_PORT,
    SSL_MODES,
    ConnectionCheck,
    SharedProfile,
    check_connection,
    load_profile,
    save_profile,
)
from ui.qt import QAction, QtCore, QtWidgets, Signal
from ui.tasks import SerialExecutor

log = logging.getLogger("leadqueue.ui.connect")

TLS_LABELS = {
    "prefer": "Use TLS when the server offers it",
    "require": "Require TLS (encrypted)",
    "verify-ca": "Require TLS, verify the server's CA",
    "verify-full": "Require TLS, verify CA and host name",
    "disable": "Never use TLS",
}

OK_STYLE = "color:#1b5e20;"
ERROR_STYLE = "color:#c62828;"
MUTED_STYLE = "color:#5f6672;"


class ConnectDialog(QtWidgets.QDialog):
    """Set up (and test) this computer's connection to the shared database."""

    #: The ConnectionCheck of a finished "Test connection".
    sig_checked = Signal(object)
    #: The SharedProfile saved (the dialog then closes).
    sig_saved = Signal(object)
    #: A keyring operation finished (or failed): its message, for tests and the log.
    sig_keyring_done = Signal(str)

    def __init__(self, parent: QtWidgets.QWidget | None = None, *,
                 checker: Callable[[SharedProfile, str | None], ConnectionCheck] | None = None,
                 secrets_api: Any | None = None,
                 profile_path: Path | None = None,
                 executor: SerialExecutor | None = None) -> None:
        super().__init__(parent)
        import leadqueue.secrets as default_secrets

        self.setObjectName("connect_dialog")
        self.setWindowTitle("Connect to the shared database")
        self.setMinimumWidth(520)
        self._checker = checker or check_connection
        self._secrets = secrets_api or default_secrets
        self._profile_path = profile_path
        self.executor = executor or SerialExecutor(name="shared-db-connect", parent=self)
        self._keyring_ok = True
        self._saving = False
        self.last_check: ConnectionCheck | None = None

        layout = QtWidgets.QVBoxLayout(self)
        intro = QtWidgets.QLabel(
            "Your admin gives you these details (from 'leadqueue admin add-user'). The "
            "password is kept in your computer's keyring, never in a file.", self)
        intro.setWordWrap(True)
        intro.setStyleSheet(MUTED_STYLE)
        layout.addWidget(intro)
        form = QtWidgets.QFormLayout()
        self.host = self._line("host", "db.example.com")
        self.port = QtWidgets.QSpinBox(self)
        self.port.setObjectName("port")
        self.port.setRange(1, 65535)
        self.port.setValue(DEFAULT_PORT)
        self.database = self._line("database", "leadqueue")
        self.user = self._line("user", "your database user name")
        self.password = self._line("password", "")
        self.password.setEchoMode(QtWidgets.QLineEdit.EchoMode.Password)
        self.tls = QtWidgets.QComboBox(self)
        self.tls.setObjectName("tls")
        for mode in SSL_MODES:
            self.tls.addItem(TLS_LABELS[mode], mode)
        self.remember = QtWidgets.QCheckBox("Keep the password in the OS keyring", self)
        self.remember.setObjectName("remember")
        self.remember.setChecked(True)
        for label, widget in (("Server (host)", self.host), ("Port", self.port),
                              ("Database", self.database), ("User", self.user),
                              ("Password", self.password), ("TLS", self.tls),
                              ("", self.remember)):
            form.addRow(label, widget)
        layout.addLayout(form)

        self.status = QtWidgets.QLabel("", self)
        self.status.setObjectName("connect_status")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        self.status.setMinimumHeight(48)
        layout.addWidget(self.status)

        buttons = QtWidgets.QDialogButtonBox(self)
        self.test_button = buttons.addButton("Test connection",
                                             QtWidgets.QDialogButtonBox.ButtonRole.ActionRole)
        self.test_button.setObjectName("test_button")
        self.save_button = buttons.addButton(QtWidgets.QDialogButtonBox.StandardButton.Save)
        self.save_button.setObjectName("save_button")
        cancel = buttons.addButton(QtWidgets.QDialogButtonBox.StandardButton.Cancel)
        cancel.setObjectName("cancel_button")
        self.test_button.clicked.connect(self.test_connection)
        self.save_button.clicked.connect(self.save)
        cancel.clicked.connect(self.reject)
        layout.addWidget(buttons)
        self.finished.connect(lambda _result: self.executor.shutdown(wait=False))

        self._load()

    def _line(self, name: str, placeholder: str) -> QtWidgets.QLineEdit:
        edit = QtWidgets.QLineEdit(self)
        edit.setObjectName(name)
        edit.setPlaceholderText(placeholder)
        return edit

    # -- the profile -------------------------------------------------------------------

    def _load(self) -> None:
        # Is there a keyring at all? (Off the GUI thread: it may ask D-Bus.)
        self.executor.submit(self._secrets.backend, label="keyring-probe",
                             on_error=self._on_keyring_error)
        profile = load_profile(self._profile_path)
        if profile is None:
            return
        self.set_profile(profile)
        key = profile.key
        self.executor.submit(self._secrets.get_password, key, label="keyring-read",
                             on_done=lambda pw: self._on_password_read(key, pw),
                             on_error=self._on_keyring_error)

    def set_profile(self, profile: SharedProfile) -> None:
        self.host.setText(profile.host)
        self.port.setValue(int(profile.port))
        self.database.setText(profile.database)
        self.user.setText(profile.user)
        self.tls.setCurrentIndex(max(self.tls.findData(profile.sslmode), 0))

    def profile(self) -> SharedProfile:
        return SharedProfile(host=self.host.text(), port=self.port.value(),
                             database=self.database.text(), user=self.user.text(),
                             sslmode=str(self.tls.currentData())).cleaned()

    def _on_password_read(self, key: Any, password: str | None) -> None:
        # Only if the person has not typed one meanwhile, for the same server.
        if password and not self.password.text() and self.profile().key == key:
            self.password.setText(password)
        self.sig_keyring_done.emit("read")

    def _on_keyring_error(self, exc: BaseException) -> None:
        from leadqueue.secrets import NoKeyring, SecretsError

        if not isinstance(exc, SecretsError):
            log.error("keyring call failed", exc_info=exc)
        self._keyring_ok = not isinstance(exc, NoKeyring)
        if isinstance(exc, NoKeyring):
            self.remember.setChecked(False)
            self.remember.setEnabled(False)
            self.remember.setText("Keep the password in the OS keyring (no keyring here: "
                                  "you will be asked each time)")
        self._show(str(exc), MUTED_STYLE if isinstance(exc, NoKeyring) else ERROR_STYLE)
        self.sig_keyring_done.emit(str(exc))

    def _field_problems(self, profile: SharedProfile) -> bool:
        problems = profile.problems()
        if not problems:
            return False
        widgets = {"host": self.host, "port": self.port, "database": self.database,
                   "user": self.user, "sslmode": self.tls}
        first = next(iter(problems))
        widgets[first].setFocus()
        self._show("; ".join(f"{name.capitalize()}: {text}" for name, text in problems.items()),
                   ERROR_STYLE)
        return True

    def _show(self, text: str, style: str) -> None:
        self.status.setStyleSheet(style)
        self.status.setText(text)

    # -- test connection -----------------------------------------------------------------

    def test_connection(self) -> None:
        profile = self.profile()
        if self._field_problems(profile):
            return
        self.test_button.setEnabled(False)
        self._show(f"Testing the connection to {profile.label} …", MUTED_STYLE)
        self.executor.submit(self._checker, profile, self.password.text() or None,
                             label="shared-db-check", on_done=self._on_checked,
                             on_error=self._on_check_crashed)

    def _on_checked(self, check: ConnectionCheck) -> None:
        self.last_check = check
        self.test_button.setEnabled(True)
        self._show(check.message, OK_STYLE if check.ok else ERROR_STYLE)
        if check.detail:
            self.status.setToolTip(check.detail)
        self.sig_checked.emit(check)

    def _on_check_crashed(self, exc: BaseException) -> None:
        # A bug, not the environment (the checker answers those): log the trace.
        log.error("connection check failed", exc_info=exc)
        self._on_checked(ConnectionCheck(False, f"The check itself failed ({exc}); see the log.",
                                         None, repr(exc)))

    # -- save ----------------------------------------------------------------------------

    def save(self) -> None:
        if self._saving:
            return
        profile = self.profile()
        if self._field_problems(profile):
            return
        save_profile(profile, self._profile_path)
        password = self.password.text()
        if self.remember.isChecked() and password and self._keyring_ok:
            self._saving = True
            self.save_button.setEnabled(False)
            self.executor.submit(self._secrets.store_password, profile.key, password,
                                 label="keyring-store",
                                 on_done=lambda _r: self._on_stored(profile),
                                 on_error=self._on_store_failed)
            return
        if not self.remember.isChecked() and self._keyring_ok:
            # "Do not keep it": forget one kept earlier (best effort), then close;
            # closing first would cancel the queued call.
            self._saving = True
            self.save_button.setEnabled(False)
            self.executor.submit(self._secrets.delete_password, profile.key,
                                 label="keyring-forget",
                                 on_done=lambda _r: self._on_stored(profile, "forgotten"),
                                 on_error=lambda _e: self._on_stored(profile, "not forgotten"))
            return
        self._finish(profile)

    def _on_stored(self, profile: SharedProfile, what: str = "stored") -> None:
        self._saving = False
        self.sig_keyring_done.emit(what)
        self._finish(profile)

    def _on_store_failed(self, exc: BaseException) -> None:
        self._saving = False
        self.save_button.setEnabled(True)
        self._on_keyring_error(exc)
        self._show(f"The connection details are saved, but the password is not: {exc} "
                   "Press Save again to continue without keeping it.", ERROR_STYLE)
        self.remember.setChecked(False)

    def _finish(self, profile: SharedProfile) -> None:
        self.sig_saved.emit(profile)
        self.accept()


# -- the menu entry --------------------------------------------------------------------------

def open_connect_dialog(window: Any, **kwargs: Any) -> ConnectDialog:
    """Show the dialog (one at a time, window-modal, never a blocking exec())."""
    dialog = getattr(window, "_connect_dialog", None)
    if dialog is None or not dialog.isVisible():
        dialog = ConnectDialog(window, **kwargs)
        dialog.setAttribute(QtCore.Qt.WidgetAttribute.WA_DeleteOnClose)
        bar = window.statusBar() if hasattr(window, "statusBar") else None
        if bar is not None:
            dialog.sig_saved.connect(
                lambda p: bar.showMessage(f"Shared database: {p.label} (saved)", 8000))
        window._connect_dialog = dialog
        dialog.open()
    dialog.raise_()
    dialog.activateWindow()
    return dialog


def install_connect_menu(window: Any) -> QAction:
    """Add "Connect to shared database…" to the window's File menu (above Quit)."""
    action = QAction("Connect to shared database…", window)
    action.setObjectName("action_connect_shared")
    action.setStatusTip("Set up and test this computer's connection to the team's database")
    action.triggered.connect(lambda _checked=False: open_connect_dialog(window))
    menus = getattr(window, "menus", {})
    file_menu = menus.get("file") if isinstance(menus, dict) else None
    quit_action = getattr(window, "actions_by_name", {}).get("quit")
    if file_menu is not None and quit_action is not None:
        actions = file_menu.actions()
        at = actions.index(quit_action) if quit_action in actions else -1
        # Above the separator that sets Quit apart, when there is one.
        anchor = actions[at - 1] if at > 0 and actions[at - 1].isSeparator() else quit_action
        file_menu.insertAction(anchor, action)
    elif file_menu is not None:
        file_menu.addAction(action)
    else:
        window.menuBar().addMenu("&File").addAction(action)
    return action
