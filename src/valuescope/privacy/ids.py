"""User ids: hashed on ingest with a secret per-run salt, so raw ids are never stored.

The salt comes from ``$VALUESCOPE_SALT`` (to link users across runs, e.g. for
``compare``) or is generated once per run and kept at ``RUN/.secret/salt``
(mode 0600). It never enters a table, the manifest or an export: cache keys
use :func:`salt_fingerprint`, a one-way tag of the salt, instead.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

SALT_ENV = "VALUESCOPE_SALT"
SECRET_DIR = ".secret"
SALT_FILE = "salt"


def salt_path(run_path: str | os.PathLike[str]) -> Path:
    return Path(run_path) / SECRET_DIR / SALT_FILE


def run_salt(run_path: str | os.PathLike[str]) -> bytes:
    """The salt for this run: the environment's, else the run's own (created on first use)."""
    env = os.environ.get(SALT_ENV)
    if env:
        return env.encode("utf-8")
    path = salt_path(run_path)
    if path.is_file():
        return path.read_bytes().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    salt = secrets.token_hex(32).encode("ascii")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(salt)
    return salt


def hash_user_id(raw: str, salt: bytes) -> str:
    """Keyed hash (HMAC-SHA256) of a raw user id: stable within a salt, unlinkable without it."""
    digest = hmac.new(salt, raw.encode("utf-8"), hashlib.sha256).hexdigest()
    return f"u_{digest[:24]}"


def salt_fingerprint(salt: bytes) -> str:
    """A tag that changes when the salt does (for cache keys), revealing nothing about it."""
    return hmac.new(salt, b"valuescope salt fingerprint", hashlib.sha256).hexdigest()[:12]


class UserIdHasher:
    """Picklable callable for worker processes."""

    def __init__(self, salt: bytes) -> None:
        self._salt = salt

    def __call__(self, raw: str) -> str:
        return hash_user_id(raw, self._salt)

    def __repr__(self) -> str:  # never print the salt
        return "UserIdHasher(<secret>)"
