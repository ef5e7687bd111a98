"""Audit what a run would share: no PII pattern, canary string or salt may appear in it.

Shared = ``report.html``, the CSV exports (``valuescope export``), the taxonomy
files, and every response of the explorer API (``valuescope serve``), probed
in-process. Every file there is read: gzip is decompressed, zip containers
(``.xlsx``, ``.zip``, ``.docx``, ``.ods``) are read member by member, Parquet
row by row; a binary file the audit cannot read is itself a finding. Patterns
run on the text as written and as a reader would decode it (HTML entities,
``\u0040``-style escapes of JSON and JavaScript, %-encoding). Findings name the
file (or URL, its parameters masked) and offset and show a masked preview
only, so the audit log is itself safe to share.

Vendored code (plotly.js inlined in the report) contains e-mail-like and
IP-like strings that are not anyone's data; a pattern match whose exact text
occurs in one of those library files is therefore allowed. Canaries and the
salt are never allowed.
"""

from __future__ import annotations

import gzip
import html
import io
import json
import logging
import re
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from valuescope.privacy.ids import salt_path
from valuescope.privacy.patterns import PATTERN_ENTITIES, find_patterns

log = logging.getLogger(__name__)

SHARED_GLOBS = ("report.html", "export/**/*", "exports/**/*", "taxonomy/**/*.csv", "taxonomy/**/*.json")
MAX_UNZIPPED = 512 * 1024 * 1024  # a decompression bomb is a finding, not an out-of-memory
# Street-address patterns match report prose ("5 Core Values Way"?) too easily to gate a release on.
AUDIT_ENTITIES = tuple(e for e in PATTERN_ENTITIES if e != "STREET_ADDRESS")
MAX_CANARY_CHARS = 4


@dataclass(frozen=True)
class AuditFinding:
    where: str  # file path relative to the run, or "GET /api/..."
    offset: int
    kind: str  # "EMAIL", ..., "CANARY", "SALT"
    preview: str  # masked: never the full matched text

    def __str__(self) -> str:
        return f"{self.where}:{self.offset}: {self.kind} {self.preview}"


def mask(s: str) -> str:
    """First two characters, then stars; enough to locate, not to read."""
    s = " ".join(s.split())
    return s[:2] + "*" * min(max(len(s) - 2, 3), 12) + f" ({len(s)} chars)"


def load_canaries(path: str | Path | None, extra: Iterable[str] = ()) -> list[str]:
    """One canary per line; blank lines and ``#`` comments skipped. Short canaries are refused."""
    canaries = [c.strip() for c in extra if c.strip()]
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise FileNotFoundError(f"canary file not found: {p}")
        canaries += [ln.strip() for ln in p.read_text("utf-8").splitlines() if ln.strip() and not ln.startswith("#")]
    short = [c for c in canaries if len(c) < MAX_CANARY_CHARS]
    if short:
        raise ValueError(f"{len(short)} canaries shorter than {MAX_CANARY_CHARS} characters would match anywhere")
    return list(dict.fromkeys(canaries))


@lru_cache(maxsize=1)
def vendored_text() -> str:
    """Bundled third-party assets (plotly.js, the report's static files), concatenated."""
    files: list[Path] = []
    try:
        import plotly

        files += list((Path(plotly.__file__).parent / "package_data").glob("*.js"))
    except ImportError:
        pass
    static = Path(__file__).resolve().parents[1] / "report" / "static"
    if static.is_dir():
        files += [p for p in static.rglob("*") if p.is_file()]
    return "\n".join(f.read_text("utf-8", errors="replace") for f in files)


def is_vendored(match: str) -> bool:
    """A pattern match that also occurs in library code is the library's, not a person's."""
    return len(match) >= 6 and match in vendored_text()


def _norm(s: str) -> str:
    return re.sub(r"\s+", " ", s).casefold()


class Auditor:
    """Scans texts for PII patterns, canaries and the run's salt."""

    def __init__(self, canaries: Iterable[str] = (), secrets: Iterable[str] = (), patterns: bool = True) -> None:
        self.canaries = [(c, _norm(c)) for c in canaries]
        self.secrets = [s for s in secrets if s]
        self.patterns = patterns

    def scan_text(self, text: str, where: str) -> Iterator[AuditFinding]:
        """Patterns on every decoded spelling of the text; canaries and the salt on all spellings."""
        spellings = decoded_spellings(text)
        if self.patterns:
            seen: set[tuple[str, str]] = set()
            for variant in spellings[1:] or spellings:  # a later spelling adds only what the earlier ones hid
                earlier = set(seen)
                for entity, s, e in find_patterns(variant, AUDIT_ENTITIES):
                    found = variant[s:e]
                    if (entity, found) not in earlier and not is_vendored(found):
                        seen.add((entity, found))
                        yield AuditFinding(where, s, entity, mask(found))
        variants = [_norm(v) for v in spellings]
        for kind, needles in (("CANARY", self.canaries), ("SALT", [(s, s.casefold()) for s in self.secrets])):
            for raw, needle in needles:
                for variant in variants:
                    pos = variant.find(needle)
                    if pos >= 0:
                        yield AuditFinding(where, pos, kind, mask(raw))
                        break


JS_ESCAPE_RE = re.compile(r"\\u([0-9a-fA-F]{4})|\\x([0-9a-fA-F]{2})")


def decoded_spellings(text: str) -> list[str]:
    """The text as written, then decoded as a reader would see it: HTML entities, then
    ``\\u0040``/``\\x40`` escapes (JSON, JavaScript), then %-encoding (URLs). Distinct ones only;
    the first entry is always the raw text, the rest each decode one more layer."""
    out = [text]
    current = html.unescape(text) if "&" in text else text
    out.append(current)
    if "\\" in current:
        current = JS_ESCAPE_RE.sub(lambda m: chr(int(m.group(1) or m.group(2), 16)), current)
        out.append(current)
    if "%" in current:
        out.append(unquote(current))
    return list(dict.fromkeys(out))


def shared_files(run_path: Path, extra: Iterable[Path] = ()) -> list[Path]:
    """Every file a run would share (none is skipped for its type: see :func:`file_texts`)."""
    files: set[Path] = set()
    for pattern in SHARED_GLOBS:
        files.update(p for p in run_path.glob(pattern) if p.is_file())
    for p in extra:
        files.update(q for q in (p.rglob("*") if p.is_dir() else [p]) if q.is_file())
    return sorted(files)


class Unreadable(ValueError):
    """A shared file whose content the audit cannot turn into text."""


def file_texts(name: str, data: bytes) -> Iterator[tuple[str, str]]:
    """(where, text) for one file's bytes: gzip and zip containers are opened, Parquet is
    read row by row, JSON is re-dumped without ASCII escapes; binary content raises Unreadable."""
    lower = name.lower()
    if data[:2] == b"\x1f\x8b":
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as fh:
            inner = fh.read(MAX_UNZIPPED + 1)
        if len(inner) > MAX_UNZIPPED:
            raise Unreadable("decompresses to more than 512 MiB")
        yield from file_texts(name.removesuffix(".gz").removesuffix(".GZ"), inner)
    elif data[:4] == b"PK\x03\x04":
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            for info in zf.infolist():
                if info.is_dir():
                    continue
                if info.file_size > MAX_UNZIPPED:
                    raise Unreadable(f"member {info.filename} is larger than 512 MiB")
                yield from file_texts(f"{name}!{info.filename}", zf.read(info))
    elif data[:4] == b"PAR1" or lower.endswith(".parquet"):
        import pyarrow.parquet as pq

        rows = pq.read_table(io.BytesIO(data)).to_pylist()
        yield name, json.dumps(rows, ensure_ascii=False, default=str)
    elif b"\x00" in data[:65536]:
        raise Unreadable("binary content")
    else:
        text = data.decode("utf-8", errors="replace")
        if lower.endswith((".json", ".jsonl")):
            text = (
                "\n".join(_decode_json(line) for line in text.splitlines())
                if lower.endswith(".jsonl")
                else _decode_json(text)
            )
        yield name, text


def explorer_responses(run_path: Path, examples: bool = False, max_names: int = 200) -> Iterator[tuple[str, str]]:
    """(label, body) of the explorer's responses: every parameterless GET, then the
    value, tree and (with ``examples``) example endpoints for the names it lists.
    Skipped, with a warning, when the explorer is not installed."""
    try:
        from fastapi.testclient import TestClient

        from valuescope.report.serve import create_app
    except ImportError as exc:
        log.warning("explorer not audited: %s", exc)
        return
    app = create_app(run_path, examples=examples)
    with TestClient(app, base_url="http://127.0.0.1") as client:

        def get(path: str, **params: str) -> tuple[str, str]:
            resp = client.get(path, params=params)
            if resp.status_code in (401, 403) or resp.status_code >= 500:
                raise ValueError(
                    f"explorer answered GET {path} with HTTP {resp.status_code}: the audit cannot see its responses"
                )
            # names in the label are masked: the audit log must itself be safe to share
            query = "&".join(f"{k}={v if k in ('side', 'level') else mask(v)}" for k, v in params.items())
            return f"GET {path}{'?' + query if query else ''}", resp.text

        for route in getattr(app, "routes", []):
            path = getattr(route, "path", "")
            if "GET" in (getattr(route, "methods", None) or ()) and "{" not in path:
                yield get(path)
        for side in ("ai", "human"):
            for level in ("value", "l1", "l2", "l3"):
                label, body = get("/api/values", side=side, level=level)
                yield label, body
                for name in _names(body)[:max_names]:
                    yield get("/api/value", name=name, side=side, level=level)
                    if examples and level == "value":
                        yield get("/api/examples", name=name, side=side)
            label, body = get("/api/tree", side=side)
            yield label, body
            for name in _names(body)[:max_names]:
                yield get("/api/tree", side=side, l3=name)


def _names(body: str) -> list[str]:
    """Every "name" field in a JSON response (value and cluster names to probe next)."""
    try:
        data = json.loads(body)
    except ValueError:
        return []
    out: list[str] = []

    def walk(x: Any) -> None:
        if isinstance(x, dict):
            if isinstance(x.get("name"), str):
                out.append(x["name"])
            for v in x.values():
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)

    walk(data)
    return list(dict.fromkeys(out))


@dataclass
class AuditReport:
    scanned: list[str]
    findings: list[AuditFinding]

    @property
    def ok(self) -> bool:
        return not self.findings


def audit_run(
    run_path: str | Path,
    canaries: Iterable[str] = (),
    extra: Iterable[str | Path] = (),
    explorer: bool = True,
    patterns: bool = True,
    examples: bool = False,
    explorer_names: int = 200,
) -> AuditReport:
    """Scan every shareable output of a run; any finding means it must not be shared."""
    run = Path(run_path)
    if not run.is_dir():
        raise FileNotFoundError(f"no run directory at {run}")
    secrets = []
    if salt_path(run).is_file():
        secrets.append(salt_path(run).read_text("utf-8").strip())
    auditor = Auditor(canaries, secrets, patterns)
    scanned: list[str] = []
    findings: list[AuditFinding] = []
    for f in shared_files(run, [Path(p) for p in extra]):
        label = str(f.relative_to(run)) if f.is_relative_to(run) else str(f)
        try:
            for where, text in file_texts(label, f.read_bytes()):
                scanned.append(where)
                findings.extend(auditor.scan_text(text, where))
        except (Unreadable, zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
            scanned.append(label)
            findings.append(
                AuditFinding(
                    label, 0, "UNREADABLE", f"not audited ({str(exc).splitlines()[0][:80]}): do not share unread"
                )
            )
    if explorer:
        for label, body in explorer_responses(run, examples=examples, max_names=explorer_names):
            scanned.append(label)
            findings.extend(auditor.scan_text(_decode_json(body), label))
    return AuditReport(scanned, findings)


def _decode_json(body: str) -> str:
    """JSON bodies re-dumped without ASCII escapes, so canaries with accents still match."""
    try:
        data: Any = json.loads(body)
    except ValueError:
        return body
    return json.dumps(data, ensure_ascii=False)
