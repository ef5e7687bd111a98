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

from valuescope.engine.rundir import fsync_dir
from valuescope.errors import ValuescopeError
from valuescope.settings import credential

SALT_ENV = "VALUESCOPE_SALT"
SECRET_DIR = ".secret"
SALT_FILE = "salt"
MIN_SALT_BYTES = 32  # a generated salt is 64 hex characters


def salt_path(run_path: str | os.PathLike[str]) -> Path:
    return Path(run_path) / SECRET_DIR / SALT_FILE


class SaltError(ValuescopeError, RuntimeError):
    """The salt is unusable: a short ``$VALUESCOPE_SALT``, or an empty/short salt file (interrupted write, tampering)."""


def run_salt(run_path: str | os.PathLike[str]) -> bytes:
    """The salt for this run: the environment's, else the run's own (created on first use, atomically).

    A salt (file or environment) shorter than MIN_SALT_BYTES is refused, never used as an
    HMAC key: a short key makes every user id hash guessable by trying keys.
    """
    env = credential(SALT_ENV)
    if env:
        salt = env.encode("utf-8")
        if len(salt) < MIN_SALT_BYTES:
            raise SaltError(
                f"${SALT_ENV} holds {len(salt)} bytes, fewer than {MIN_SALT_BYTES}: refusing it as the user-id key "
                f"(use a long random secret, e.g. `python -c 'import secrets; print(secrets.token_hex(32))'`)"
            )
        return salt
    path = salt_path(run_path)
    if not path.exists():
        _create_salt(path)
    salt = path.read_bytes().strip()
    if len(salt) < MIN_SALT_BYTES:
        raise SaltError(
            f"{path} holds {len(salt)} bytes, fewer than {MIN_SALT_BYTES}: refusing it as the user-id key "
            "(an interrupted write?). Delete it to get a new salt (user ids then hash differently from before), "
            f"or set ${SALT_ENV}"
        )
    return salt


def _create_salt(path: Path) -> None:
    """Write a fresh salt to a temporary file, fsync, then link it into place (never overwrites, never half)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    salt = secrets.token_hex(32).encode("ascii")
    tmp = path.with_name(f".{SALT_FILE}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(salt)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)  # atomic, and fails rather than replace a salt that appeared meanwhile
        except FileExistsError:
            pass
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(path.parent)


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
