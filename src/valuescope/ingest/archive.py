"""What the user named -> the files to read: folders and ``.zip`` archives (an export as downloaded).

Every file found inside a folder or archive is either returned to be read or
listed as skipped with its reason (``skipped_files`` in the manifest, and on
the console): nothing inside an input disappears silently. Archive members
are copied, by index and never by their stored name (no path tricks), into a
private temporary folder that :func:`Expansion.cleanup` removes; their
shown path is ``archive.zip/member``. The total uncompressed size is capped
like a gzip stream's (``max_ratio`` x the archive's size, at least 64 MiB),
so a zip bomb costs a bounded amount of disk.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from valuescope.ingest.draft import InputError
from valuescope.ingest.streams import DEFAULT_MAX_RATIO, RATIO_FLOOR

INPUT_SUFFIXES = (".jsonl", ".json", ".ndjson", ".txt", ".csv", ".tsv", ".parquet", ".arrow", ".eval")
ARCHIVE_SUFFIX = ".zip"

# Files of the ChatGPT / Claude.ai exports that hold no conversations: skipped with this reason, not tried.
EXPORT_COMPANIONS: dict[str, str] = {
    "user.json": "account details of a ChatGPT export (no conversations)",
    "users.json": "account details of a Claude.ai export (no conversations)",
    "user_settings.json": "settings of a ChatGPT export (no conversations)",
    "message_feedback.json": "thumbs up/down of a ChatGPT export (no conversations)",
    "model_comparisons.json": "model comparisons of a ChatGPT export (not read)",
    "shared_conversations.json": "list of shared links of a ChatGPT export (the conversations are in conversations.json)",
    "sora.json": "Sora data of a ChatGPT export (no conversations)",
    "projects.json": "project documents of a Claude.ai export (no conversations)",
    "memories.json": "memories of a Claude.ai export (no conversations)",
    "state.json": "Hugging Face datasets metadata (the rows are in the .arrow files)",
    "dataset_info.json": "Hugging Face datasets metadata (the rows are in the .arrow files)",
    "dataset_dict.json": "Hugging Face datasets metadata (the splits' rows are in their .arrow files)",
    "chat.html": "HTML view of a ChatGPT export (the same conversations are read from conversations.json)",
}


@dataclass(frozen=True)
class Found:
    path: Path  # a readable file on disk
    shown: str  # what the manifest and messages call it
    given: str  # the input argument it came from
    explicit: bool  # named by the user (an unreadable one stops the run) rather than found inside


@dataclass
class Expansion:
    files: list[Found] = field(default_factory=list)
    skipped: list[tuple[str, str, str]] = field(default_factory=list)  # (shown path, reason, given)
    temp_dirs: list[str] = field(default_factory=list)

    def cleanup(self) -> None:
        for d in self.temp_dirs:
            shutil.rmtree(d, ignore_errors=True)
        self.temp_dirs.clear()


def _is_input(name: str) -> bool:
    low = name.lower()
    return any(low.endswith(s) or low.endswith(s + ".gz") for s in INPUT_SUFFIXES)


def _skip_reason(name: str) -> str | None:
    base = name.rsplit("/", 1)[-1]
    if base.lower() in EXPORT_COMPANIONS:
        return EXPORT_COMPANIONS[base.lower()]
    if base.startswith("."):
        return "hidden file"
    if not _is_input(base) and not base.lower().endswith(ARCHIVE_SUFFIX):
        suffix = Path(base).suffix or "no suffix"
        return f"not a conversation file type ({suffix}; read: {', '.join(INPUT_SUFFIXES)}, .gz, .zip)"
    return None


def _unzip(archive: Path, shown: str, given: str, out: Expansion) -> None:
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as exc:
        raise InputError(f"cannot read {shown}: not a valid zip archive ({exc})") from None
    budget = max(DEFAULT_MAX_RATIO * archive.stat().st_size, RATIO_FLOOR)
    target = tempfile.mkdtemp(prefix="valuescope-zip-")
    os.chmod(target, 0o700)
    if not out.temp_dirs:
        atexit.register(out.cleanup)  # also when the ingest stops early (--strict, an error, Ctrl-C)
    out.temp_dirs.append(target)
    with zf:
        for i, info in enumerate(zf.infolist()):
            if info.is_dir():
                continue
            name = f"{shown}/{info.filename}"
            reason = _skip_reason(info.filename)
            if reason is None and info.filename.lower().endswith(ARCHIVE_SUFFIX):
                reason = "an archive inside an archive (unzip it first)"
            if reason is None and info.file_size > budget:
                reason = f"would expand past the archive's size cap ({DEFAULT_MAX_RATIO}x the archive)"
            if reason is not None:
                out.skipped.append((name, reason, given))
                continue
            dest = Path(target) / f"{i}{''.join(Path(info.filename).suffixes[-2:])}"
            try:
                with zf.open(info) as src, dest.open("wb") as dst:
                    copied = _copy_capped(src, dst, budget)
            except (zipfile.BadZipFile, OSError, RuntimeError, EOFError) as exc:  # corrupt, encrypted
                out.skipped.append((name, f"cannot extract: {exc}", given))
                continue
            if copied is None:
                dest.unlink()
                out.skipped.append(
                    (name, f"expands past the archive's size cap ({DEFAULT_MAX_RATIO}x the archive)", given)
                )
                continue
            budget -= copied
            out.files.append(Found(dest, name, given, explicit=False))


def _copy_capped(src, dst, budget: int) -> int | None:
    copied = 0
    while block := src.read(1 << 20):
        copied += len(block)
        if copied > budget:
            return None
        dst.write(block)
    return copied


def expand_inputs(inputs: list[str]) -> Expansion:
    """Files to read, and the files found that will not be read (with why). Missing paths are an InputError."""
    out = Expansion()
    try:
        for given in inputs:
            path = Path(given)
            if path.is_dir():
                before = len(out.files)
                for p in sorted(q for q in path.rglob("*") if q.is_file()):
                    shown = str(p)
                    reason = _skip_reason(p.name)
                    if reason is not None:
                        out.skipped.append((shown, reason, given))
                    elif p.name.lower().endswith(ARCHIVE_SUFFIX):
                        _unzip(p, shown, given, out)
                    else:
                        out.files.append(Found(p, shown, given, explicit=False))
                if len(out.files) == before:
                    found = [s for s, _, g in out.skipped if g == given]
                    listed = f" (found {len(found)} other file(s), e.g. {Path(found[0]).name})" if found else ""
                    raise InputError(f"no input files ({', '.join(INPUT_SUFFIXES)}, .zip) under {given}{listed}")
            elif path.is_file():
                if not os.access(path, os.R_OK):
                    raise InputError(f"cannot read {given}: permission denied")
                if path.name.lower().endswith(ARCHIVE_SUFFIX) or (_is_zip(path) and not _is_input(path.name)):
                    _unzip(path, given, given, out)
                    if not any(f.given == given for f in out.files):
                        raise InputError(
                            f"{given} holds no conversation files ({len([1 for *_, g in out.skipped if g == given])} skipped)"
                        )
                else:
                    out.files.append(Found(path, given, given, explicit=True))
            else:
                raise InputError(f"input not found: {given}")
    except BaseException:
        out.cleanup()
        raise
    return out


def _is_zip(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(4) == b"PK\x03\x04"
