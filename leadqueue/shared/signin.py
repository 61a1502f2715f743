"""Which shared database the app opens, and where its password comes from.

The app opens the shared database in one of two ways (README, "Shared
database"):

- ``leadqueue --db postgresql://LOGIN@HOST[:PORT]/DB`` names it directly;
- ``leadqueue --shared`` (or File > Open shared workspace) opens the profile
  saved with File > Connect to shared database… (``shared.connect``).

The password, in this order: one written in the URL (the person typed it on
their own command line; it is never written anywhere by LeadQueue); the OS
keyring entry for that login, server and database (``leadqueue.secrets``,
what the connect dialog stores); libpq's own sources (``PGPASSWORD``,
``~/.pgpass``, or none at all for trust/certificate authentication). When
all of those fail with "password needed" or "wrong password", the app asks.

The resolved URL carries the password in memory only: it opens the
workspace's engine and the live listener's connection, and every label or
log line shows it with the password removed (:func:`label_of`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .connect import DEFAULT_PORT, SharedProfile, load_profile

log = logging.getLogger("leadqueue.shared.signin")

__all__ = ["SharedTarget", "SignInError", "keyring_password", "label_of", "profile_of_url",
           "resolve_url", "saved_target", "url_of"]


class SignInError(ValueError):
    """Nothing to open (no saved profile, a URL that is not PostgreSQL's)."""


@dataclass(frozen=True)
class SharedTarget:
    """A shared database to open, the password resolved (or left to libpq)."""

    #: The URL to connect with (``postgresql+psycopg://``), password included
    #: when one was found: keep it in memory only.
    url: str
    profile: SharedProfile | None
    #: Where the password came from: "url", "keyring", "prompt" or "libpq".
    source: str

    @property
    def label(self) -> str:
        return label_of(self.url)

    def with_password(self, password: str) -> SharedTarget:
        if self.profile is None:
            raise SignInError("this shared-database URL names no server to sign in to")
        return SharedTarget(url_of(self.profile, password, base=self.url), self.profile,
                            "prompt")


def _params(url: str) -> dict[str, Any]:
    from psycopg.conninfo import conninfo_to_dict

    libpq = url.replace("postgresql+psycopg://", "postgresql://", 1)
    if not libpq.startswith(("postgresql://", "postgres://")):
        raise SignInError(f"not a PostgreSQL URL: {label_of(url)}")
    try:
        return dict(conninfo_to_dict(libpq))
    except Exception as exc:  # psycopg.ProgrammingError: a URL libpq cannot parse
        raise SignInError(f"cannot read the URL {label_of(url)}: {exc}") from None


def profile_of_url(url: str) -> tuple[SharedProfile | None, str | None]:
    """The profile (server, port, database, login, TLS) a URL names, and its
    password if it has one; no profile when it names no host or no user."""
    params = _params(url)
    password = params.get("password") or None
    host, user = params.get("host"), params.get("user")
    if not host or not user or "," in str(host):
        return None, password
    profile = SharedProfile(host=str(host), database=str(params.get("dbname") or user),
                            user=str(user), port=int(params.get("port") or DEFAULT_PORT),
                            sslmode=str(params.get("sslmode") or "prefer"))
    return profile, password


def url_of(profile: SharedProfile, password: str | None, *, base: str | None = None) -> str:
    """A ``postgresql+psycopg://`` URL for ``profile`` (and the password, in memory).

    ``base``: a URL whose other query parameters (``sslrootcert`` …) are kept.
    """
    from sqlalchemy.engine import URL

    query: dict[str, str] = {}
    if base is not None:
        query = {k: str(v) for k, v in _params(base).items()
                 if k not in ("host", "port", "dbname", "user", "password")}
    if profile.sslmode and profile.sslmode != "prefer":
        query["sslmode"] = profile.sslmode
    url = URL.create("postgresql+psycopg", username=profile.user, password=password or None,
                     host=profile.host, port=int(profile.port), database=profile.database,
                     query=query)
    return url.render_as_string(hide_password=False)


def label_of(url: str) -> str:
    """The URL as people may see it: scheme, login, server, database; no password."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    creds, at, where = rest.rpartition("@")
    login = creds.split(":", 1)[0] if at else ""
    scheme = scheme.replace("+psycopg", "")
    return f"{scheme}://{login + '@' if login else ''}{where.split('?', 1)[0]}"


def keyring_password(profile: SharedProfile, secrets_api: Any | None = None) -> str | None:
    """The keyring's password for ``profile`` (None: none kept, or no keyring)."""
    if secrets_api is None:
        from .. import secrets as secrets_api
    try:
        return secrets_api.get_password(profile.key)  # type: ignore[no-any-return]
    except Exception as exc:  # NoKeyring / SecretsError / a backend's own failure
        log.info("no password from the keyring for %s: %s", profile.label, exc)
        return None


def resolve_url(url: str, *, secrets_api: Any | None = None) -> SharedTarget:
    """``--db URL``: the URL's own password, else the keyring's, else libpq's."""
    from ..store import to_url

    url = to_url(url)
    profile, password = profile_of_url(url)
    if password:
        return SharedTarget(url, profile, "url")
    if profile is not None:
        kept = keyring_password(profile, secrets_api)
        if kept:
            return SharedTarget(url_of(profile, kept, base=url), profile, "keyring")
    return SharedTarget(url, profile, "libpq")


def saved_target(path: Path | None = None, *, secrets_api: Any | None = None) -> SharedTarget:
    """``--shared``: the profile saved by the connect dialog, with its keyring password."""
    profile = load_profile(path)
    if profile is None:
        raise SignInError("no shared database is set up on this computer yet: use File > "
                          "Connect to shared database… in the app (or start it with "
                          "--db postgresql://LOGIN@HOST/DATABASE)")
    kept = keyring_password(profile, secrets_api)
    return SharedTarget(url_of(profile, kept), profile, "keyring" if kept else "libpq")
