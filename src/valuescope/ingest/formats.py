"""Reader registry and format detection from file content (``--format`` overrides)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from types import ModuleType

from valuescope.ingest import (
    anthropic,
    chatgpt,
    claude_export,
    gemini,
    inspect_log,
    langfuse,
    langsmith,
    native,
    openai,
    openai_batch,
    otel,
    sharegpt,
    transcript,
)
from valuescope.ingest.draft import InputError

JSON_READERS: dict[str, ModuleType] = {
    native.NAME: native,
    chatgpt.NAME: chatgpt,
    claude_export.NAME: claude_export,
    gemini.NAME: gemini,
    openai_batch.NAME: openai_batch,
    langsmith.NAME: langsmith,
    langfuse.NAME: langfuse,
    otel.NAME: otel,
    sharegpt.NAME: sharegpt,
    transcript.NAME: transcript,
    anthropic.NAME: anthropic,
    openai.NAME: openai,
}  # in sniffing order: most specific first
# What each reader looks for in a record: said when no reader recognises one.
EXPECTS: dict[str, str] = {
    native.NAME: "'id' and 'messages' of {role, content} only",
    chatgpt.NAME: "'mapping' and 'current_node' (ChatGPT export)",
    claude_export.NAME: "'uuid' and 'chat_messages' (Claude.ai export)",
    gemini.NAME: "'chunkedPrompt' (Google AI Studio)",
    openai_batch.NAME: "'custom_id' with 'body' or 'response' (OpenAI Batch API)",
    langsmith.NAME: "'run_type' and 'inputs' (LangSmith run)",
    langfuse.NAME: "'traceId', 'type', 'startTime' (Langfuse observation) or 'observations' (trace)",
    otel.NAME: "'resourceSpans' (OTLP JSON)",
    sharegpt.NAME: "'conversations' of {from, value}",
    transcript.NAME: "'chosen'/'rejected'/'transcript'/'text' with Human:/Assistant: markers",
    anthropic.NAME: "'messages' with 'system', content blocks or a Messages 'response'",
    openai.NAME: "'messages' (or 'request.messages') list",
}
LABELS: dict[str, str] = {
    chatgpt.NAME: "ChatGPT export",
    claude_export.NAME: "Claude.ai export",
    gemini.NAME: "Google AI Studio (Gemini) prompts",
    inspect_log.NAME: "Inspect AI eval logs",
    openai_batch.NAME: "OpenAI Batch API",
    langsmith.NAME: "LangSmith runs",
    langfuse.NAME: "Langfuse export",
    otel.NAME: "OpenTelemetry GenAI spans",
    openai.NAME: "OpenAI chat log",
    anthropic.NAME: "Anthropic Messages log",
    sharegpt.NAME: "ShareGPT",
    transcript.NAME: "transcript",
    native.NAME: "valuescope JSONL",
}
TABLE_FORMATS = ("parquet", "csv", "arrow")  # arrow: IPC files, e.g. a Hugging Face datasets save_to_disk folder
FORMATS: tuple[str, ...] = (*JSON_READERS, *TABLE_FORMATS, inspect_log.NAME)  # inspect: read by inspect_ai itself
GZIP_MAGIC = b"\x1f\x8b"
PEEK_BYTES = 256 * 1024


def is_gzip(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(2) == GZIP_MAGIC


def open_text_stream(path: Path):
    """Binary stream of the file's content, gunzipped if it is gzip (by magic, not name)."""
    return gzip.open(path, "rb") if is_gzip(path) else path.open("rb")


def base_suffix(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    return Path(name).suffix


def peek(path: Path) -> bytes:
    try:
        with open_text_stream(path) as fh:
            return fh.read(PEEK_BYTES)
    except (OSError, EOFError) as exc:
        raise InputError(f"cannot read {path}: {exc}") from None


def _container(head: str, fmt: str) -> str:
    first = head.lstrip()[:1]
    if first == "[":
        return "json"
    if fmt == "transcript" and first != "{":
        return "text"
    return "jsonl"


def sniff_record(record: object) -> str | None:
    if not isinstance(record, dict):
        return None
    for name, reader in JSON_READERS.items():
        if reader.sniff(record):
            return name
    return None


def unrecognised(record: object) -> str:
    """Why no reader took ``record``: what it has, and what each format looks for."""
    if not isinstance(record, dict):
        return f"the records are {type(record).__name__}s, not JSON objects"
    keys = ", ".join(sorted(record)[:12]) or "no keys"
    tried = "; ".join(f"{name}: {EXPECTS[name]}" for name in JSON_READERS)
    return f"its first record has keys [{keys}]; tried {tried}"


def detect(path: Path, forced: str | None = None) -> tuple[str, str]:
    """(format, container) of one input; container is jsonl | json | text | parquet | csv | arrow."""
    if forced is not None and forced not in FORMATS:
        raise InputError(f"unknown format {forced!r}; known: {', '.join(FORMATS)}")
    with path.open("rb") as fh:
        magic = fh.read(4)
    if forced == inspect_log.NAME or (forced is None and base_suffix(path) == inspect_log.SUFFIX):
        return inspect_log.NAME, inspect_log.NAME
    if forced == "parquet" or (forced is None and magic == b"PAR1"):
        return "parquet", "parquet"
    if forced == "arrow" or (forced is None and (magic in (b"\xff\xff\xff\xff", b"ARRO") or base_suffix(path) == ".arrow")):
        return "arrow", "arrow"
    if forced == "csv" or (forced is None and base_suffix(path) in (".csv", ".tsv")):
        return "csv", "csv"
    head = peek(path).decode("utf-8", "replace").lstrip("\ufeff")
    if forced is not None:
        return forced, _container(head, forced)
    stripped = head.lstrip()
    if not stripped:
        return "valuescope", "jsonl"  # an empty file: nothing to read, not an error
    if stripped[:1] == "[" or (base_suffix(path) == ".json" and stripped[:1] == "{"):
        try:
            with open_text_stream(path) as fh:
                data = json.load(fh)
        except (ValueError, OSError, EOFError) as exc:
            raise InputError(f"{path} looks like a JSON file but does not parse: {exc}") from None
        first = data[0] if isinstance(data, list) and data else data
        if isinstance(data, dict) and inspect_log.sniff(data):
            return inspect_log.NAME, inspect_log.NAME
        fmt = sniff_record(first)
        if fmt is None:
            raise InputError(f"cannot tell the format of {path}: {unrecognised(first)}")
        return fmt, "json"
    if stripped[:1] == "{":
        lines = head.split("\n")  # not splitlines(): U+2028 inside a JSON string is not a line end
        first: object = None
        for line in lines[:-1] if len(head.encode()) >= PEEK_BYTES else lines:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            first = record if first is None else first
            fmt = sniff_record(record)
            if fmt is not None:
                return fmt, "jsonl"
        why = unrecognised(first) if first is not None else "no line of its first 256 KiB parses as JSON"
        raise InputError(f"cannot tell the format of {path}: {why}")
    if transcript.looks_like_transcript(head):
        return "transcript", "text"
    raise InputError(
        f"cannot tell the format of {path}: not JSON, JSONL, CSV, Parquet or a Human:/Assistant: transcript"
    )
