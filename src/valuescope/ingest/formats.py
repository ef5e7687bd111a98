"""Reader registry and format detection from file content (``--format`` overrides)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from types import ModuleType

from valuescope.ingest import anthropic, native, openai, sharegpt, transcript
from valuescope.ingest.draft import InputError

JSON_READERS: dict[str, ModuleType] = {
    native.NAME: native,
    sharegpt.NAME: sharegpt,
    transcript.NAME: transcript,
    anthropic.NAME: anthropic,
    openai.NAME: openai,
}  # in sniffing order: most specific first
TABLE_FORMATS = ("parquet", "csv")
FORMATS: tuple[str, ...] = (*JSON_READERS, *TABLE_FORMATS)
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


def detect(path: Path, forced: str | None = None) -> tuple[str, str]:
    """(format, container) of one input; container is jsonl | json | text | parquet | csv."""
    if forced is not None and forced not in FORMATS:
        raise InputError(f"unknown format {forced!r}; known: {', '.join(FORMATS)}")
    with path.open("rb") as fh:
        magic = fh.read(4)
    if forced == "parquet" or (forced is None and magic == b"PAR1"):
        return "parquet", "parquet"
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
        fmt = sniff_record(first)
        if fmt is None:
            raise InputError(f"cannot tell the format of the records in {path}; pass --format ({', '.join(FORMATS)})")
        return fmt, "json"
    if stripped[:1] == "{":
        lines = head.split("\n")  # not splitlines(): U+2028 inside a JSON string is not a line end
        for line in lines[:-1] if len(head.encode()) >= PEEK_BYTES else lines:
            try:
                fmt = sniff_record(json.loads(line))
            except ValueError:
                continue
            if fmt is not None:
                return fmt, "jsonl"
        raise InputError(f"cannot tell the format of {path} from its first records; pass --format ({', '.join(FORMATS)})")
    if transcript.looks_like_transcript(head):
        return "transcript", "text"
    raise InputError(f"cannot tell the format of {path}; pass --format ({', '.join(FORMATS)})")
