"""Reader registry and format detection from file content (``--format`` overrides)."""

from __future__ import annotations

import zlib
from pathlib import Path
from types import ModuleType

from valuescope import registry
from valuescope.ingest import anthropic, native, openai, sharegpt, transcript
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

JSON_READERS: dict[str, ModuleType] = {
    native.NAME: native,
    sharegpt.NAME: sharegpt,
    transcript.NAME: transcript,
    anthropic.NAME: anthropic,
    openai.NAME: openai,
}  # in sniffing order: most specific first
JSON_READERS = {**{n: registry.get("reader", n) for n in registry.names("reader")}, **JSON_READERS}  # plugins' first
TABLE_FORMATS = ("parquet", "csv")
FORMATS: tuple[str, ...] = (*JSON_READERS, *TABLE_FORMATS)
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
                fmt = sniff_record(record)
                if fmt is not None:
                    return fmt, ""
                problem = problem or f"no reader recognises record {raw.number}"
    except (OSError, EOFError, zlib.error) as exc:
        raise InputError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    return None, problem or "no records"


def detect(path: Path, forced: str | None = None, max_record_bytes: int = 2_000_000,
           max_ratio: int = DEFAULT_MAX_RATIO) -> tuple[str, str]:
    """(format, container) of one input; container is jsonl | json | text | parquet | csv."""
    if forced is not None and forced not in FORMATS:
        raise InputError(f"unknown format {forced!r}; known: {', '.join(FORMATS)}")
    with path.open("rb") as fh:
        magic = fh.read(4)
    if forced == "parquet" or (forced is None and magic == b"PAR1"):
        return "parquet", "parquet"
    if forced == "csv" or (forced is None and base_suffix(path) in (".csv", ".tsv")):
        return "csv", "csv"
    head = peek(path, max_ratio).decode("utf-8", "replace").lstrip("\ufeff")
    if forced is not None:
        return forced, _container(head, forced)
    stripped = head.lstrip()
    if not stripped:
        return "valuescope", "jsonl"  # an empty file: nothing to read, not an error
    if stripped[:1] == "[" or stripped[:1] == "{":
        container = "json" if stripped[:1] == "[" or base_suffix(path) == ".json" else "jsonl"
        fmt, why = _sniff_records(path, container, max_record_bytes, max_ratio)
        if fmt is None:
            raise InputError(f"cannot tell the format of {path} from its first records ({why}); "
                             f"pass --format ({', '.join(FORMATS)})")
        return fmt, container
    if transcript.looks_like_transcript(head):
        return "transcript", "text"
    raise InputError(f"cannot tell the format of {path}; pass --format ({', '.join(FORMATS)})")
