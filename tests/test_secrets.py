"""The shared-database password in the OS keyring: an in-memory backend stands
in for the OS one; with no usable backend every call says so plainly and
nothing is written anywhere."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.backends import chainer, fail, null
from keyring.errors import KeyringLocked
from keyring_support import MemoryKeyring

from leadqueue import secrets

KEY = secrets.CredentialKey("db.example.com", 5432, "leadqueue", "ann")


class PlaintextKeyring(MemoryKeyring):
    """Named like keyrings.alt's file backend, which keeps secrets in clear."""


class LockedKeyring(MemoryKeyring):
    def set_password(self, service: str, username: str, password: str) -> None:
        raise KeyringLocked("the login keyring is locked")


@pytest.fixture
def use_keyring() -> Iterator[object]:
    previous = keyring.get_keyring()

    def use(backend: KeyringBackend) -> KeyringBackend:
        keyring.set_keyring(backend)
        return backend

    yield use
    keyring.set_keyring(previous)


def files_under(root: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_store_get_delete_per_server_database_and_user(use_keyring) -> None:  # type: ignore[no-untyped-def]
    kr = use_keyring(MemoryKeyring())
    secrets.store_password(KEY, "pw-1")
    other = secrets.CredentialKey("db.example.com", 5432, "leadqueue", "bob")
    secrets.store_password(other, "pw-2")
    assert secrets.get_password(KEY) == "pw-1"
    assert secrets.get_password(other) == "pw-2"
    assert secrets.get_password(secrets.CredentialKey("db.example.com", 5433, "leadqueue",
                                                      "ann")) is None
    assert kr.items[(secrets.SERVICE, "ann@db.example.com:5432/leadqueue")] == "pw-1"
    secrets.store_password(KEY, "pw-3")  # replaced, not duplicated
    assert secrets.get_password(KEY) == "pw-3"
    assert secrets.delete_password(KEY) is True
    assert secrets.get_password(KEY) is None
    assert secrets.delete_password(KEY) is False
    assert secrets.keyring_available()


def test_no_backend_raises_no_keyring_and_writes_nothing(
        use_keyring, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    use_keyring(fail.Keyring())
    before = files_under(tmp_path)
    cwd_before = set(os.listdir("."))
    with pytest.raises(secrets.NoKeyring, match="no keyring backend is available") as exc:
        secrets.store_password(KEY, "pw-never-on-disk")
    assert "never in a file" in str(exc.value)
    with pytest.raises(secrets.NoKeyring):
        secrets.get_password(KEY)
    with pytest.raises(secrets.NoKeyring):
        secrets.delete_password(KEY)
    assert not secrets.keyring_available()
    assert files_under(tmp_path) == before
    assert set(os.listdir(".")) == cwd_before


def test_an_empty_chain_is_no_keyring(use_keyring, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(chainer.ChainerBackend, "backends", [])
    use_keyring(chainer.ChainerBackend())
    with pytest.raises(secrets.NoKeyring, match="chain of backends is empty"):
        secrets.store_password(KEY, "pw")


def test_a_chain_writes_to_its_secure_backend_not_a_plaintext_one(
        use_keyring, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    plain, safe = PlaintextKeyring(), MemoryKeyring()
    monkeypatch.setattr(chainer.ChainerBackend, "backends", [plain, safe])
    use_keyring(chainer.ChainerBackend())
    secrets.store_password(KEY, "pw")
    assert plain.items == {} and list(safe.items.values()) == ["pw"]


@pytest.mark.parametrize("backend", [null.Keyring(), PlaintextKeyring()],
                         ids=["null", "plaintext-file"])
def test_null_and_clear_text_backends_count_as_no_keyring(use_keyring, backend) -> None:  # type: ignore[no-untyped-def]
    use_keyring(backend)
    with pytest.raises(secrets.NoKeyring):
        secrets.store_password(KEY, "pw")
    if isinstance(backend, MemoryKeyring):
        assert backend.items == {}


def test_a_locked_keyring_is_a_plain_error(use_keyring) -> None:  # type: ignore[no-untyped-def]
    use_keyring(LockedKeyring())
    with pytest.raises(secrets.SecretsError, match="refused to store the password: the login "
                                                   "keyring is locked"):
        secrets.store_password(KEY, "pw")
