"""Example snippets, only on request (--examples) and only from cells above the privacy floor.

Text comes from conversations.parquet, which ingest already scrubbed; the
unscrubbed copy (conversations_raw.parquet) is never read here.
"""

from __future__ import annotations

import hashlib

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from valuescope.engine.rundir import RunDir
from valuescope.records import Message
from valuescope.report.floor import Floor


def _truncate(text: str, limit: int) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def first_assistant_text(messages: list[dict]) -> str:
    """The first assistant turn that says something; else the first one's tool calls, as text.

    An agent's first assistant turn often only calls a tool (empty content): showing it
    as an empty answer would misrepresent the conversation.
    """
    turns = [m for m in messages if m["role"] == "assistant"]
    spoken = next((m["content"] for m in turns if (m.get("content") or "").strip()), None)
    if spoken is not None or not turns:
        return spoken or ""
    return Message.model_validate({k: v for k, v in turns[0].items() if v is not None}).display_text()


def snippets_for_ids(run: RunDir, ids: list[str], chars: int) -> dict[str, dict[str, str]]:
    """First user turn and first assistant turn with text of each conversation, truncated."""
    if not ids or not run.has_table("conversations"):
        return {}
    table = run.read_table("conversations", ["id", "messages"])
    table = table.filter(pc.is_in(table["id"], value_set=pa.array(ids)))
    out = {}
    for row in table.to_pylist():
        msgs = row["messages"] or []
        user = next((m["content"] for m in msgs if m["role"] == "user"), "")
        assistant = first_assistant_text(msgs)
        out[row["id"]] = {"id": row["id"], "user": _truncate(user, chars), "assistant": _truncate(assistant, chars)}
    return out


def pick_ids(ids: list[str], k: int, salt: str) -> list[str]:
    """A stable pseudo-random choice, so reruns show the same examples."""
    return sorted(set(ids), key=lambda i: hashlib.sha256(f"{salt}:{i}".encode()).hexdigest())[:k]


def value_examples(
    run: RunDir, mentions: pd.DataFrame, names: list[str], floor: Floor, k: int, chars: int, side: str = "ai"
) -> dict[str, list[dict[str, str]]]:
    """Up to k snippets per value, for values whose (value, side) cell passes the floor."""
    if mentions.empty:
        return {}
    sub = mentions[(mentions["side"] == side) & (mentions["value_norm"].isin(names))]
    cells, _ = floor.cells(sub, ["value_norm"])
    allowed = [n for n in names if n in set(cells["value_norm"])]
    chosen = {n: pick_ids(sub.loc[sub["value_norm"] == n, "id"].tolist(), k, n) for n in allowed}
    texts = snippets_for_ids(run, sorted({i for ids in chosen.values() for i in ids}), chars)
    return {n: [texts[i] for i in ids if i in texts] for n, ids in chosen.items()}
