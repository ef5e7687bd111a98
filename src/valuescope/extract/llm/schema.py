"""The model's answer: a strict pydantic model plus the JSON schema sent to the provider.

Validation is the injection firewall: whatever a conversation persuades the
model to say, only values of this shape reach the run. Format breaks (not
JSON, missing fields, unknown enums) fail validation and earn one repair
attempt; individual values that look like smuggled instructions are dropped
and counted, never stored.
"""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from valuescope.records import L3_TO_L2, RESPONSE_TYPES, TASK_CATEGORIES

L2_NAMES: tuple[str, ...] = tuple(l2 for group in L3_TO_L2.values() for l2 in group)
MAX_AI_VALUES = 8
MAX_HUMAN_VALUES = 5
MAX_TASK_WORDS = 12

TaskCategory = Literal[TASK_CATEGORIES]  # type: ignore[valid-type]
ResponseType = Literal[RESPONSE_TYPES]  # type: ignore[valid-type]

# A value is a short noun phrase. Anything that reads like an instruction, a
# URL, markup or a role marker is an echo of the conversation, not a value.
_VALUE_RE = re.compile(r"^[a-z][a-z'\-]*( [a-z][a-z'\-]*){0,3}$")
_SUSPICIOUS = re.compile(
    r"\b(ignor(e|ed|ing)|instructions?|system prompt|prompts?|disregard|jailbreak|output|json|schema|"
    r"override|pwned|hacked|https?|www)\b"
)

# A task summary that repeats an injection is replaced by "" (the task is unknown, not what the text demanded).
_TASK_INJECTION = re.compile(
    r"\b(ignore|disregard|forget) (all |any )?(the |your )?(previous|prior|above|earlier|preceding|your|system)\b"
    r"|\bsystem prompt\b|\bpwned\b|https?://|\bwww\.",
    re.I,
)


def task_problem(task: str) -> str | None:
    if _TASK_INJECTION.search(task):
        return "task summary echoes an instruction from the conversation"
    return None


class AnswerError(ValueError):
    """The answer is not a valid judgment; ``raw`` is kept for the quarantine."""


def normalise_value(text: str) -> str:
    return re.sub(r"\s+", " ", text.strip().strip(".").lower())


def value_problem(value: str) -> str | None:
    """Why a (normalised) value is not acceptable, or None."""
    if not _VALUE_RE.match(value):
        return "not 1-4 lower-case words"
    if _SUSPICIOUS.search(value):
        return "looks like an instruction echoed from the conversation"
    return None


class AIValue(BaseModel):
    model_config = ConfigDict(extra="forbid")
    value: str = Field(min_length=1, max_length=60)
    explicit: bool
    l2: str | None = None


class HumanValue(BaseModel):
    model_config = ConfigDict(extra="forbid")
    value: str = Field(min_length=1, max_length=60)
    l2: str | None = None


class Answer(BaseModel):
    """One conversation's judgments as GUIDELINES.md defines them."""

    model_config = ConfigDict(extra="forbid")
    subjective: bool
    task: str = Field(max_length=200)
    task_category: TaskCategory
    ai_values: list[AIValue] = Field(max_length=MAX_AI_VALUES)
    human_values: list[HumanValue] = Field(max_length=MAX_HUMAN_VALUES)
    response: ResponseType
    harmful_compliance: bool

    @field_validator("task")
    @classmethod
    def _short_task(cls, v: str) -> str:
        return " ".join(v.split()[:MAX_TASK_WORDS])


class Screen(BaseModel):
    """The cheap first call: is this conversation subjective at all?"""

    model_config = ConfigDict(extra="forbid")
    subjective: bool
    task: str = Field(max_length=200)
    task_category: TaskCategory

    @field_validator("task")
    @classmethod
    def _short_task(cls, v: str) -> str:
        return " ".join(v.split()[:MAX_TASK_WORDS])


def _value_item(explicit: bool) -> dict[str, Any]:
    props: dict[str, Any] = {"value": {"type": "string", "maxLength": 60}}
    if explicit:
        props["explicit"] = {"type": "boolean"}
    props["l2"] = {"type": "string", "enum": list(L2_NAMES)}
    return {"type": "object", "properties": props, "required": list(props), "additionalProperties": False}


@cache
def answer_schema() -> dict[str, Any]:
    """Flat JSON schema (no $ref) so grammar-based servers (llama.cpp) can compile it. Shared: do not mutate."""
    props = {
        "subjective": {"type": "boolean"},
        "task": {"type": "string", "maxLength": 120},
        "task_category": {"type": "string", "enum": list(TASK_CATEGORIES)},
        "ai_values": {"type": "array", "items": _value_item(True), "maxItems": MAX_AI_VALUES},
        "human_values": {"type": "array", "items": _value_item(False), "maxItems": MAX_HUMAN_VALUES},
        "response": {"type": "string", "enum": list(RESPONSE_TYPES)},
        "harmful_compliance": {"type": "boolean"},
    }
    return {"type": "object", "properties": props, "required": list(props), "additionalProperties": False}


@cache
def screen_schema() -> dict[str, Any]:
    props = {
        "subjective": {"type": "boolean"},
        "task": {"type": "string", "maxLength": 120},
        "task_category": {"type": "string", "enum": list(TASK_CATEGORIES)},
    }
    return {"type": "object", "properties": props, "required": list(props), "additionalProperties": False}


def parse_json_text(text: str) -> Any:
    """JSON from a model answer; tolerates a Markdown code fence around it, nothing else."""
    s = text.strip()
    fence = re.match(r"^```(?:json)?\s*(.*?)\s*```$", s, re.S)
    if fence:
        s = fence.group(1)
    try:
        return json.loads(s)
    except json.JSONDecodeError as exc:
        raise AnswerError(f"answer is not valid JSON: {exc.msg} at char {exc.pos}") from None


def _validation_message(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(x) for x in err["loc"]) or "answer"
        parts.append(f"{loc}: {err['msg'][:120]}")
    return "answer violates the schema: " + "; ".join(parts)


def validate_answer(data: Any, model: type[BaseModel] = Answer) -> BaseModel:
    if not isinstance(data, dict):
        raise AnswerError(f"answer is not a JSON object (got {type(data).__name__})")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise AnswerError(_validation_message(exc)) from None


def clean_values(answer: Answer) -> tuple[list[tuple[str, bool | None, str | None]], list[tuple[str, str | None]], int]:
    """Normalised (ai, human) values with bad ones dropped; returns the number dropped.

    Applies the protocol's consistency rules too: an objective conversation
    has no AI values; duplicates count once; an unknown l2 becomes None.
    """
    dropped = 0
    seen: set[tuple[str, str]] = set()
    ai: list[tuple[str, bool | None, str | None]] = []
    human: list[tuple[str, str | None]] = []
    for side, items in (("ai", answer.ai_values if answer.subjective else []), ("human", answer.human_values)):
        for item in items:
            value = normalise_value(item.value)
            if value_problem(value) is not None:
                dropped += 1
                continue
            if (side, value) in seen:
                continue
            seen.add((side, value))
            l2 = item.l2 if item.l2 in L2_NAMES else None
            if side == "ai":
                ai.append((value, item.explicit, l2))  # type: ignore[union-attr]
            else:
                human.append((value, l2))
    return ai, human, dropped
