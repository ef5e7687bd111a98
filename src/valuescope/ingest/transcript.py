"""``Human:`` / ``Assistant:`` transcripts: hh-rlhf records and plain text files.

* JSONL with ``chosen`` / ``rejected`` strings (Anthropic's hh-rlhf release):
  each line gives two conversations, ``<id>`` (chosen) and ``<id>:rejected``,
  with ``meta.preference``.
* JSONL with a ``transcript`` or ``text`` string.
* A plain text file: the whole file is one transcript.

A turn starts at a line beginning with ``Human:``, ``User:``, ``Assistant:``,
``AI:`` or ``System:``; text before the first marker is an error.
"""

from __future__ import annotations

import re
from typing import Any

from valuescope.ingest.draft import Draft, RecordError, as_text

NAME = "transcript"
MARKER = re.compile(r"^(Human|User|Assistant|AI|System):[ \t]?", re.MULTILINE)
_TEXT_KEYS = ("transcript", "text")


def looks_like_transcript(text: str) -> bool:
    return bool(MARKER.search(text[:20_000]))


def sniff(record: dict[str, Any]) -> bool:
    for key in ("chosen", "rejected", *_TEXT_KEYS):
        if isinstance(record.get(key), str) and looks_like_transcript(record[key]):
            return True
    return False


def split_turns(text: str) -> list[tuple[str, str]]:
    marks = list(MARKER.finditer(text))
    if not marks:
        raise RecordError("no 'Human:' / 'Assistant:' turn markers")
    if text[: marks[0].start()].strip():
        raise RecordError("text before the first 'Human:' / 'Assistant:' marker")
    turns = []
    for m, nxt in zip(marks, [*marks[1:], None], strict=True):
        end = nxt.start() if nxt else len(text)
        turns.append((m.group(1).lower(), text[m.end() : end].strip()))
    return turns


def parse(record: Any) -> list[Draft]:
    if isinstance(record, str):  # a plain text file
        return [Draft(messages=split_turns(record))]
    if not isinstance(record, dict):
        raise RecordError(f"expected a JSON object or text, got {type(record).__name__}")
    base_id = as_text(record.get("id"))
    meta = {k: v for k, v in record.items() if k not in ("id", "chosen", "rejected", *_TEXT_KEYS)}
    if "chosen" in record or "rejected" in record:
        drafts = []
        for pref in ("chosen", "rejected"):
            if pref not in record:
                continue
            if not isinstance(record[pref], str):
                raise RecordError(f"'{pref}' must be a transcript string")
            suffix = None if pref == "chosen" else "rejected"
            drafts.append(
                Draft(
                    messages=split_turns(record[pref]),
                    id=f"{base_id}:{suffix}" if base_id and suffix else base_id,
                    meta={**meta, "preference": pref},
                    suffix=suffix,
                )
            )
        return drafts
    for key in _TEXT_KEYS:
        if isinstance(record.get(key), str):
            return [Draft(messages=split_turns(record[key]), id=base_id, meta=meta)]
    raise RecordError("no 'chosen', 'rejected', 'transcript' or 'text' string")
