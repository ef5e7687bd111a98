"""Write the LLM extractor's exact requests to JSONL (``--dry-run``), for answering elsewhere and replaying.

One line per request: ``{"key", "id", "kind", "body"}``; ``key`` (sha256 of the canonical JSON of
``body``) is what ``--backend replay`` looks the answer up by (backends/replay.py). Identical
conversations give identical requests and share one key.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any


def write_requests(requests: Iterable[dict[str, Any]], path: str | os.PathLike[str]) -> Path:
    """Write atomically (a temp file renamed into place) and return the path."""
    target = Path(path)
    tmp = target.with_name(target.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        for req in requests:
            fh.write(json.dumps(req, ensure_ascii=False) + "\n")
    tmp.replace(target)
    return target
