"""Reader registry and format detection from file content (``--format`` overrides)."""

from __future__ import annotations

import zlib
from pathlib import Path
from types import ModuleType

from valuescope import registry
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
from valuescope.ingest.draft import InputError, RecordError
from valuescope.ingest.jsonarray import iter_array
from valuescope.ingest.streams import (  # noqa: F401  (GZIP_MAGIC, is_gzip: re-exported for readers)
    DEFAULT_MAX_RATIO,
    GZIP_MAGIC,
    RawRecord,
    decode_json,
    is_gzip,
    iter_lines,
    open_input,
    read_head,
)

BUILTIN_READERS = "valuescope.ingest.plugin"  # registers the built-in readers, most specific first


def _json_readers() -> dict[str, ModuleType]:
    """Every registered reader in sniffing order: plugins' first, then the built-ins (valuescope.registry)."""
    names = registry.names("reader")
    builtin = [n for n in names if registry.REGISTRY.owner("reader", n) == BUILTIN_READERS]
    return {n: registry.get("reader", n) for n in [*(n for n in names if n not in builtin), *builtin]}


JSON_READERS: dict[str, ModuleType] = _json_readers()
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
PEEK_BYTES = 256 * 1024  # enough to tell text from JSON; records are sniffed whole, however long
SNIFF_RECORDS = 50  # records tried before giving up on a format
SNIFF_BYTES = 64 << 20  # ... or bytes streamed through


def open_text_stream(path: Path, max_ratio: int = DEFAULT_MAX_RATIO):
    """Binary stream of the file's content, gunzipped if it is gzip (by magic, not name); see streams.open_input."""
    return open_input(path, max_ratio)


def base_suffix(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    return Path(name).suffix


def peek(path: Path, max_ratio: int = DEFAULT_MAX_RATIO) -> bytes:
    try:
        with open_input(path, max_ratio) as fh:
            return read_head(fh, PEEK_BYTES)  # a damaged gzip gives what it has before the damage
    except (OSError, EOFError, zlib.error) as exc:
        raise InputError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None


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
    return f"a record has keys [{keys}]; tried {tried}"


def _sniff_records(path: Path, container: str, max_record_bytes: int, max_ratio: int) -> tuple[str | None, str]:
    """(format of the first record a reader recognises, else None; why not) over the file's first records.

    Records are read whole and bounded (a 5,000-turn first record is fine, a
    record over max_record_bytes or a broken one is passed over), so the
    answer does not depend on a peek size.
    """
    problem = ""
    try:
        with open_input(path, max_ratio) as fh:
            reader = iter_array if container == "json" else iter_lines
            for n, raw in enumerate(reader(fh, max_record_bytes), 1):
                if n > SNIFF_RECORDS or raw.offset > SNIFF_BYTES:
                    break
                if raw.data is not None and raw.number == 1:
                    raw = RawRecord(1, 0, raw.size, raw.data.removeprefix(b"\xef\xbb\xbf"))
                if raw.data is not None and not raw.data.strip():
                    continue
                try:
                    record = decode_json(raw.data) if raw.data is not None else None
                except RecordError as exc:
                    problem = problem or f"record {raw.number}: {exc}"
                    continue
                if record is None:
                    problem = problem or f"record {raw.number}: {raw.error}"
                    continue
                if isinstance(record, dict) and inspect_log.sniff(record):
                    return inspect_log.NAME, ""
                fmt = sniff_record(record)
                if fmt is not None:
                    return fmt, ""
                problem = problem or unrecognised(record)
    except (OSError, EOFError, zlib.error) as exc:
        raise InputError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    return None, problem or "no records"


def detect(
    path: Path, forced: str | None = None, max_record_bytes: int = 2_000_000, max_ratio: int = DEFAULT_MAX_RATIO
) -> tuple[str, str]:
    """(format, container) of one input; container is jsonl | json | text | parquet | csv | arrow | inspect."""
    if forced is not None and forced not in FORMATS:
        raise InputError(f"unknown format {forced!r}; known: {', '.join(FORMATS)}")
    with path.open("rb") as fh:
        magic = fh.read(4)
    if forced == inspect_log.NAME or (forced is None and base_suffix(path) == inspect_log.SUFFIX):
        return inspect_log.NAME, inspect_log.NAME
    if forced == "parquet" or (forced is None and magic == b"PAR1"):
        return "parquet", "parquet"
    if forced == "arrow" or (
        forced is None and (magic in (b"\xff\xff\xff\xff", b"ARRO") or base_suffix(path) == ".arrow")
    ):
        return "arrow", "arrow"
    if forced == "csv" or (forced is None and base_suffix(path) in (".csv", ".tsv")):
        return "csv", "csv"
    head = peek(path, max_ratio).decode("utf-8", "replace").lstrip("\ufeff")
    if forced is not None:
        return forced, _container(head, forced)
    stripped = head.lstrip()
    if not stripped:
        return "valuescope", "jsonl"  # an empty file: nothing to read, not an error
    if inspect_log.JSON_HEAD.match(stripped):  # a JSON eval log can be far larger than one record may be
        return inspect_log.NAME, inspect_log.NAME
    if stripped[:1] == "[" or stripped[:1] == "{":
        container = "json" if stripped[:1] == "[" or base_suffix(path) == ".json" else "jsonl"
        fmt, why = _sniff_records(path, container, max_record_bytes, max_ratio)
        if fmt is None:
            raise InputError(f"cannot tell the format of {path}: {why}")
        return fmt, inspect_log.NAME if fmt == inspect_log.NAME else container
    if transcript.looks_like_transcript(head):
        return "transcript", "text"
    raise InputError(
        f"cannot tell the format of {path}: not JSON, JSONL, CSV, Parquet or a Human:/Assistant: transcript"
    )
