"""Typed records shared by every stage.

Every table in a run directory is a list of one of these records. Stages read
and write them through :mod:`valuescope.engine.rundir`; nothing else defines
the shape of the data, so a change here is a change of the run-directory
contract (see docs/run-directory.md).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

# --- controlled vocabularies (GUIDELINES.md, protocol v1) -------------------

Role = Literal["user", "assistant", "system", "tool"]

TASK_CATEGORIES: tuple[str, ...] = (
    "software & technical",
    "writing & editing",
    "creative writing & roleplay",
    "education & explanation",
    "analysis & research",
    "business, marketing & career",
    "health & wellbeing",
    "relationships & personal advice",
    "ethics, philosophy & religion",
    "politics, law & society",
    "history & culture",
    "lifestyle & practical help",
    "harmful or illicit request",
    "other",
)

RESPONSE_TYPES: tuple[str, ...] = (
    "strong_support",
    "mild_support",
    "neutral_acknowledgment",
    "reframing",
    "mild_resistance",
    "strong_resistance",
    "no_human_values",
)

# The five top categories (level 3 of the published tree) and their 26
# second-level clusters, spelled exactly as in values_tree.csv.
L3_TO_L2: dict[str, tuple[str, ...]] = {
    "Practical values": (
        "Professional and technical excellence",
        "Business effectiveness",
        "Efficiency and resource optimization",
        "Professional advancement",
        "Compliance and accountability",
    ),
    "Epistemic values": (
        "Clarity and precision",
        "Methodical rigor",
        "Intellectual integrity and objectivity",
        "Critical thinking",
        "Knowledge development",
    ),
    "Social values": (
        "Community and relationship bonds",
        "Cultural respect and tradition",
        "Ethical interaction",
        "Social equity and justice",
        "Well-functioning social systems and organizations",
    ),
    "Protective values": (
        "Ethical responsibility",
        "Protecting vulnerable entities",
        "Protecting human rights and dignity",
        "Security and stability",
        "Protection of people and environment",
    ),
    "Personal values": (
        "Personal growth and wellbeing",
        "Authentic moral identity",
        "Artistic expression and appreciation",
        "Emotional depth and authentic connection",
        "Spiritual fulfillment and meaning",
        "Pleasure and enjoyment",
    ),
}

Side = Literal["ai", "human"]


def stable_hash(obj: Any, length: int = 16) -> str:
    """Content hash used for cache keys: sha256 of canonical JSON."""
    blob = json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:length]


# --- ingest ------------------------------------------------------------------


TOOL_ARGS_SHOWN = 300  # characters of a tool call's arguments / a tool result an extractor sees


class ToolCall(BaseModel):
    """A call an assistant turn made to a tool (function), as the source logged it."""

    model_config = ConfigDict(extra="forbid")
    name: str
    arguments: str = ""  # JSON text (or whatever the source gave), never parsed further
    id: str | None = None  # the source's call id, which a tool turn's tool_call_id points to


class Message(BaseModel):
    """One turn. ``content`` is the text extractors judge; tool calls and results ride beside it.

    An assistant turn may hold only ``tool_calls`` (empty ``content``); a ``tool``
    turn holds a tool's result in ``content`` with the tool's ``name``.
    """

    model_config = ConfigDict(extra="forbid")
    role: Role
    content: str
    tool_calls: list[ToolCall] = Field(default_factory=list)
    name: str | None = None  # tool turns: which tool answered
    tool_call_id: str | None = None  # tool turns: the call answered

    def has_tools(self) -> bool:
        return bool(self.tool_calls) or self.role == "tool"

    def display_text(self) -> str:
        """Compact text of the turn for an extractor: the content, then one line per tool call.

        Tool results are clipped to TOOL_ARGS_SHOWN characters: they are context, not what is judged.
        """
        if self.role == "tool":
            return _clip(self.content, TOOL_ARGS_SHOWN)
        lines = [self.content] if self.content else []
        lines += [f"[tool call] {c.name}({_clip(c.arguments, TOOL_ARGS_SHOWN)})" for c in self.tool_calls]
        return "\n".join(lines)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class Conversation(BaseModel):
    """One conversation, after validation (and, in a run, after scrubbing)."""

    model_config = ConfigDict(extra="forbid")
    id: str
    messages: list[Message]
    source: str | None = None
    model: str | None = None
    timestamp: str | None = None  # ISO 8601 as given by the source
    user_id: str | None = None  # always the salted hash, never the raw id
    context: str | None = None  # a known task label from the source
    meta: dict[str, Any] = Field(default_factory=dict)

    def content_hash(self) -> str:
        """Hash of what an extractor sees; keys every per-conversation cache."""
        return stable_hash([_hash_part(m) for m in self.messages])

    def text_of(self, role: Role) -> str:
        return "\n\n".join(m.content for m in self.messages if m.role == role)


def _hash_part(m: Message) -> list[Any]:
    """A plain turn hashes as [role, content] (unchanged since tools were added, so caches stay valid)."""
    if not m.has_tools():
        return [m.role, m.content]
    return [m.role, m.content, [[c.name, c.arguments] for c in m.tool_calls], m.name]


class ToolCallRow(BaseModel):
    """A tool call as stored in conversations.parquet (columns in the table's order)."""

    id: str | None = None
    name: str | None = None
    arguments: str | None = None


class MessageRow(BaseModel):
    """A turn as stored in conversations.parquet."""

    role: Role
    content: str
    tool_calls: list[ToolCallRow] = Field(default_factory=list)  # assistant turns: calls made
    name: str | None = None  # tool turns: the tool
    tool_call_id: str | None = None  # tool turns: the call answered


class ConversationRow(BaseModel):
    """One row of conversations.parquet: a :class:`Conversation` as stored (valuescope.tables derives the
    table's schema from it; ingest/table.py writes and reads it)."""

    id: str
    source: str | None = None
    model: str | None = None
    timestamp: str | None = None
    user_id: str | None = None
    context: str | None = None
    messages: list[MessageRow] = Field(default_factory=list)
    meta: str | None = None  # JSON text: sources disagree on meta's shape
    content_hash: str | None = None  # Conversation.content_hash(): keys every per-conversation cache
    source_file: str | None = None  # where ingest read it
    source_line: int | None = None


class QuarantineRecord(BaseModel):
    """A record that could not be processed, and why. Nothing is dropped silently."""

    stage: str  # "ingest", "extract", ...
    source: str  # input file path, or the table a stage read
    line: int | None = None  # 1-based line / row number in the source, when known
    record_id: str | None = None
    reason: str  # human-readable
    raw: str | None = None  # the offending text, truncated (ingest: the line; llm: the answer)


# --- extract -----------------------------------------------------------------


class Judgment(BaseModel):
    """Per-conversation judgments (one row of judgments.parquet)."""

    id: str
    subjective: bool
    task: str = ""
    task_category: str = "other"
    response: str = "no_human_values"
    harmful_score: float = 0.0  # probability of harmful compliance, 0..1
    extractor: str = ""  # e.g. "offline:minilm-v1" or "llm:openai:gpt-4o-mini@p1"

    @field_validator("task_category")
    @classmethod
    def _known_category(cls, v: str) -> str:
        if v not in TASK_CATEGORIES:
            raise ValueError(f"unknown task_category {v!r}")
        return v

    @field_validator("response")
    @classmethod
    def _known_response(cls, v: str) -> str:
        if v not in RESPONSE_TYPES:
            raise ValueError(f"unknown response type {v!r}")
        return v


class ValueMention(BaseModel):
    """One value expressed in a conversation (one row of mentions.parquet).

    The taxonomy stage turns mentions into values.parquet rows by adding the
    normalised value and its placement (leaf, l1, l2, l3, score, is_new).
    """

    id: str  # conversation id
    side: Side
    value: str  # as extracted, 1-4 words, lower case
    explicit: bool | None = None  # AI values only
    l2_hint: str | None = None  # the extractor's own guess of the l2 cluster, if any
    confidence: float | None = None


class PlacedValue(ValueMention):
    """values.parquet row: a mention placed in a taxonomy."""

    value_norm: str
    leaf: str | None
    l1: str | None
    l2: str | None
    l3: str | None
    score: float  # similarity / confidence of the placement, 0..1
    is_new: bool  # far from every leaf: not forced into the tree
    l2_source: str | None = None  # tree (a published leaf) | extractor (its l2_hint kept) | placer (no hint)
    # the name's context-free placement in the tree (the published study's reading, no conversation)
    tree_leaf: str | None = None
    tree_l1: str | None = None
    tree_l2: str | None = None
    tree_l3: str | None = None


class Extraction(BaseModel):
    """What an extractor returns for one conversation: a result or a reason."""

    id: str
    judgment: Judgment | None = None
    values: list[ValueMention] = Field(default_factory=list)
    error: str | None = None  # set => quarantined with this reason
    raw: str | None = None  # raw model answer when it failed validation
    usage: dict[str, int] = Field(default_factory=dict)  # token usage, LLM only
