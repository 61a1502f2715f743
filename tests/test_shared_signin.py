"""Where the app's shared-database password comes from (``shared.signin``):
the URL, the OS keyring (an in-memory one here), or libpq; never a file.
And the labels people see never show it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from leadqueue.shared.connect import SharedProfile, save_profile
from leadqueue.shared.signin import (
    SignInError,
    label_of,
    profile_of_url,
    resolve_url,
    saved_target,
    url_of,
)


class FakeSecrets:
    """leadqueue.secrets' get_password, from a dict (or failing like no keyring)."""

    def __init__(self, items: dict[str, str] | None = None, broken: bool = False) -> None:
        self.items = items or {}
        self.broken = broken
        self.asked: list[str] = []

    def get_password(self, key):  # type: ignore[no-untyped-def]
        from leadqueue.secrets import NoKeyring

        self.asked.append(key.username)
        if self.broken:
            raise NoKeyring("no keyring backend is available")
        return self.items.get(key.username)


def test_a_url_names_a_profile_and_maybe_a_password() -> None:
    profile, password = profile_of_url("postgresql://rona@db.example.com:6543/sales?sslmode=require")
    assert profile == SharedProfile("db.example.com", "sales", "rona", 6543, "require")
    assert password is None
    profile, password = profile_of_url("postgresql+psycopg://rona:p%40ss@db/sales")
    assert profile is not None and profile.port == 5432 and password == "p@ss"
    assert profile_of_url("postgresql:///sales")[0] is None  # a socket: no keyring key
    with pytest.raises(SignInError, match="not a PostgreSQL URL"):
        profile_of_url("sqlite:///x.db")


def test_url_of_round_trips_and_labels_never_show_the_password() -> None:
    profile = SharedProfile("db.example.com", "sales", "rona", 6543, "verify-full")
    url = url_of(profile, "s3:cr@t/")
    again, password = profile_of_url(url)
    assert again == profile and password == "s3:cr@t/"
    assert "s3" not in label_of(url)
    assert label_of(url) == "postgresql://rona@db.example.com:6543/sales"
    kept = url_of(profile, None, base="postgresql://x@h/d?sslrootcert=/etc/ca.pem")
    assert "sslrootcert=%2Fetc%2Fca.pem" in kept or "sslrootcert=/etc/ca.pem" in kept


def test_resolve_url_takes_the_urls_password_then_the_keyring_then_libpq() -> None:
    secrets = FakeSecrets({"rona@db:5432/sales": "from-keyring"})
    target = resolve_url("postgresql://rona:typed@db/sales", secrets_api=secrets)
    assert target.source == "url" and secrets.asked == []
    target = resolve_url("postgresql://rona@db/sales", secrets_api=secrets)
    assert target.source == "keyring" and profile_of_url(target.url)[1] == "from-keyring"
    assert target.label == "postgresql://rona@db:5432/sales"
    target = resolve_url("postgresql://milo@db/sales", secrets_api=secrets)
    assert target.source == "libpq" and profile_of_url(target.url)[1] is None
    # No keyring at all: libpq's own sources (PGPASSWORD, ~/.pgpass), then the app asks.
    target = resolve_url("postgresql://rona@db/sales", secrets_api=FakeSecrets(broken=True))
    assert target.source == "libpq"
    asked = target.with_password("typed-now")
    assert asked.source == "prompt" and profile_of_url(asked.url)[1] == "typed-now"


def test_saved_target_reads_the_profile_file_which_holds_no_password(tmp_path: Path) -> None:
    path = tmp_path / "shared-database.json"
    with pytest.raises(SignInError, match="Connect to shared database"):
        saved_target(path, secrets_api=FakeSecrets())
    save_profile(SharedProfile("db", "sales", "rona"), path)
    assert "password" not in json.loads(path.read_text())
    target = saved_target(path, secrets_api=FakeSecrets({"rona@db:5432/sales": "kept"}))
    assert target.source == "keyring" and profile_of_url(target.url)[1] == "kept"
    assert saved_target(path, secrets_api=FakeSecrets()).source == "libpq"
