"""Audit what a run would share: no PII pattern, canary string or salt may appear in it.

Shared = ``report.html``, the CSV exports (``valuescope export``), the taxonomy
files, and every response of the explorer API (``valuescope serve``), probed
in-process. Findings name the file (or URL) and offset and show a masked
preview only, so the audit log is itself safe to share.

Vendored code (plotly.js inlined in the report) contains e-mail-like and
IP-like strings that are not anyone's data; a pattern match whose exact text
occurs in one of those library files is therefore allowed. Canaries and the
salt are never allowed.
"""

from __future__ import annotations

import html
import json
import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from valuescope.privacy.ids import salt_path
from valuescope.privacy.patterns import PATTERN_ENTITIES, find_patterns

log = logging.getLogger(__name__)

SHARED_GLOBS = ("report.html", "export/**/*", "exports/**/*", "taxonomy/**/*.csv", "taxonomy/**/*.json")
TEXT_SUFFIXES = {".html", ".htm", ".csv", ".json", ".jsonl", ".md", ".txt", ".tsv", ".js", ".svg", ""}
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
        """Patterns on the HTML-unescaped text; canaries and the salt on both spellings."""
        unescaped = html.unescape(text) if "&" in text else text
        if self.patterns:
            for entity, s, e in find_patterns(unescaped, AUDIT_ENTITIES):
                if not is_vendored(unescaped[s:e]):
                    yield AuditFinding(where, s, entity, mask(unescaped[s:e]))
        variants = [_norm(v) for v in ([text] if unescaped == text else [text, unescaped])]
        for kind, needles in (("CANARY", self.canaries), ("SALT", [(s, s.casefold()) for s in self.secrets])):
            for raw, needle in needles:
                for variant in variants:
                    pos = variant.find(needle)
                    if pos >= 0:
                        yield AuditFinding(where, pos, kind, mask(raw))
                        break


def shared_files(run_path: Path, extra: Iterable[Path] = ()) -> list[Path]:
    files: set[Path] = set()
    for pattern in SHARED_GLOBS:
        files.update(p for p in run_path.glob(pattern) if p.is_file())
    for p in extra:
        files.update(q for q in (p.rglob("*") if p.is_dir() else [p]) if q.is_file())
    return sorted(f for f in files if f.suffix.lower() in TEXT_SUFFIXES or f.suffix.lower() == ".parquet")


def _file_text(path: Path) -> str:
    if path.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        return json.dumps(pq.read_table(path).to_pylist(), ensure_ascii=False, default=str)
    return path.read_text("utf-8", errors="replace")


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
    with TestClient(app) as client:

        def get(path: str, **params: str) -> tuple[str, str]:
            resp = client.get(path, params=params)
            query = "&".join(f"{k}={v}" for k, v in params.items())
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
    scanned, findings = [], []
    for f in shared_files(run, [Path(p) for p in extra]):
        label = str(f.relative_to(run)) if f.is_relative_to(run) else str(f)
        scanned.append(label)
        findings.extend(auditor.scan_text(_file_text(f), label))
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
