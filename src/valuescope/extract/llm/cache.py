"""Persistent answer cache: a rerun makes zero calls, an interrupted run resumes.

One SQLite file in WAL mode. Answers are committed in small groups (every
64 answers or 0.25 s, and on ``flush``), so a run killed with ``kill -9``
loses at most a quarter second of answers plus the requests in flight, while
hundreds of answers per second cost one commit each group, not one each.
A group waits in memory and is written in one short transaction, so several
processes sharing one cache (``llm_processes``) hold SQLite's write lock only
for milliseconds, never while they wait for answers.
Stored: validated (and scrubbed) answers, and answers that stayed invalid
after the repair attempt (at temperature 0 asking again would only repeat
them; delete the cache to retry). Network failures are not stored, so the
next run retries them.

The key is ``stable_hash`` of (backend, model, prompt version, parameters,
conversation hash): anything that could change the answer.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from valuescope.records import stable_hash

GROUP_SIZE = 64
GROUP_SECONDS = 0.25


def default_cache_dir() -> Path:
    """Where answers go when no folder is set (an extractor used outside a run; the API always sets one)."""
    return Path.home() / ".cache" / "valuescope" / "llm"


def cache_key(backend: str, model: str, prompt_version: str, params: dict[str, Any], conversation_hash: str) -> str:
    return stable_hash([backend, model, prompt_version, params, conversation_hash], length=32)


class AnswerCache:
    """Thread-safe key -> (answer, usage) store."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.path = self.folder / "answers.sqlite"
        self._lock = threading.Lock()
        self._pending: dict[str, tuple[str, str, str, str, float]] = {}  # key -> row, not yet committed
        self._first_pending = 0.0
        self._db = sqlite3.connect(self.path, timeout=60, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=60000")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS answers (key TEXT PRIMARY KEY, kind TEXT NOT NULL, answer TEXT NOT NULL,"
            " usage TEXT NOT NULL, created REAL NOT NULL)"
        )

    def get(self, key: str) -> tuple[dict[str, Any], dict[str, int]] | None:
        with self._lock:
            pending = self._pending.get(key)
            row = (
                pending[2:4]
                if pending
                else self._db.execute("SELECT answer, usage FROM answers WHERE key = ?", (key,)).fetchone()
            )
        if row is None:
            return None
        return json.loads(row[0]), json.loads(row[1])

    def get_many(self, keys: list[str]) -> dict[str, tuple[dict[str, Any], dict[str, int]]]:
        out: dict[str, tuple[dict[str, Any], dict[str, int]]] = {}
        with self._lock:
            for i in range(0, len(keys), 500):
                chunk = keys[i : i + 500]
                marks = ",".join("?" * len(chunk))
                for key, answer, usage in self._db.execute(
                    f"SELECT key, answer, usage FROM answers WHERE key IN ({marks})", chunk
                ):
                    out[key] = (json.loads(answer), json.loads(usage))
            for key in keys:
                if key in self._pending:
                    out[key] = (json.loads(self._pending[key][2]), json.loads(self._pending[key][3]))
        return out

    def put(self, key: str, kind: str, answer: dict[str, Any], usage: dict[str, int]) -> None:
        row = (key, kind, json.dumps(answer, ensure_ascii=False), json.dumps(usage), time.time())
        with self._lock:
            if not self._pending:
                self._first_pending = time.monotonic()
            self._pending[key] = row
            if len(self._pending) >= GROUP_SIZE or time.monotonic() - self._first_pending >= GROUP_SECONDS:
                self._commit()

    def _commit(self) -> None:
        if self._pending:
            self._db.execute("BEGIN IMMEDIATE")  # one short write transaction for the whole group
            try:
                self._db.executemany(
                    "INSERT OR REPLACE INTO answers VALUES (?, ?, ?, ?, ?)", list(self._pending.values())
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._pending = {}

    def flush(self) -> None:
        with self._lock:
            self._commit()

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT count(*) FROM answers").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._commit()
            self._db.close()
