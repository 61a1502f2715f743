"""The shared-database password, kept in the OS keyring and nowhere else.

One secret per (host, port, database, user), stored with the ``keyring``
package (macOS Keychain, Windows Credential Manager, Secret Service/KWallet
on Linux). When no secure backend is usable, every call raises
:class:`NoKeyring` with a message saying so: LeadQueue never falls back to
writing the password to a file in clear (keyrings.alt's plaintext backend
counts as unusable for that reason), and the app asks for the password each
time instead.

``keyring`` is imported lazily: the worker and the CLI never need it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .store import StoreError

#: The keyring "service" under which LeadQueue's passwords are filed.
SERVICE = "LeadQueue shared database"

#: Backends that would keep the secret in a file anyone reading the disk can
#: read (by class name, so keyrings.alt need not be installed to check).
_CLEAR_TEXT_BACKENDS = frozenset({"PlaintextKeyring"})


class SecretsError(StoreError):
    """The keyring could not do what was asked: a plain message, no trace."""


class NoKeyring(SecretsError):
    """No usable (secure) keyring backend on this machine."""


@dataclass(frozen=True)
class CredentialKey:
    """Which password: one per server, port, database and login."""

    host: str
    port: int
    database: str
    user: str

    @property
    def username(self) -> str:
        """The keyring's "username" field for this key."""
        return f"{self.user}@{self.host}:{self.port}/{self.database}"


def _unusable_reason(backend: Any) -> str | None:
    from keyring.backends import chainer, fail, null

    name = f"{type(backend).__module__}.{type(backend).__name__}"
    if isinstance(backend, fail.Keyring):
        return f"no keyring backend is available ({name})"
    if isinstance(backend, null.Keyring):
        return f"the keyring is switched off ({name})"
    if type(backend).__name__ in _CLEAR_TEXT_BACKENDS:
        return f"the only keyring backend ({name}) stores passwords in a file in clear"
    if isinstance(backend, chainer.ChainerBackend) and _pick(backend) is None:
        return "no keyring backend is available (the chain of backends is empty)"
    return None


def _pick(chain: Any) -> Any | None:
    """The chain's best backend that is safe to write to (None: none is)."""
    for candidate in chain.backends:
        if _unusable_reason(candidate) is None:
            return candidate
    return None


def backend() -> Any:
    """The keyring backend passwords go to; :class:`NoKeyring` when none is usable."""
    import keyring
    from keyring.backends import chainer

    current = keyring.get_keyring()
    reason = _unusable_reason(current)
    if reason is not None:
        raise NoKeyring(
            f"cannot keep the password: {reason}. LeadQueue keeps passwords only in the "
            "OS keyring, never in a file: unlock or install one (GNOME Keyring or KWallet "
            "on Linux; the macOS Keychain and Windows Credential Manager work as they are), "
            "or type the password each time you connect")
    if isinstance(current, chainer.ChainerBackend):
        # Write to one safe backend, not "whichever in the chain accepts it".
        return _pick(current)
    return current


def keyring_available() -> bool:
    try:
        backend()
    except NoKeyring:
        return False
    return True


def _translate(what: str, exc: Exception) -> SecretsError:
    from keyring.errors import NoKeyringError

    if isinstance(exc, NoKeyringError):
        return NoKeyring(f"cannot {what} the password: no keyring backend ({exc})")
    return SecretsError(f"the keyring refused to {what} the password: "
                        f"{exc or type(exc).__name__}")


def store_password(key: CredentialKey, password: str) -> None:
    from keyring.errors import KeyringError

    if not password:
        raise ValueError("an empty password is not stored")
    kr = backend()
    try:
        kr.set_password(SERVICE, key.username, password)
    except KeyringError as exc:
        raise _translate("store", exc) from None


def get_password(key: CredentialKey) -> str | None:
    """The stored password, or None when none is stored for ``key``."""
    from keyring.errors import KeyringError

    kr = backend()
    try:
        return kr.get_password(SERVICE, key.username)
    except KeyringError as exc:
        raise _translate("read", exc) from None


def delete_password(key: CredentialKey) -> bool:
    """Forget the password; False when there was none."""
    from keyring.errors import KeyringError, PasswordDeleteError

    kr = backend()
    try:
        kr.delete_password(SERVICE, key.username)
    except PasswordDeleteError:
        return False
    except KeyringError as exc:
        raise _translate("delete", exc) from None
    return True
