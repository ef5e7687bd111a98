"""`valuescope export RUN`: the aggregates a run may share, as CSV, behind the privacy floor.

Only aggregate tables leave: ``analysis/*.parquet`` and the taxonomy CSVs.
Row-level tables (conversations, judgments, values, mentions) never do. The
analysis stage already applies the floor; export applies it again wherever a
table has count columns (``n``/``n_*`` and ``n_users``/``users``) so a table
written by other code, or a lowered floor, cannot slip through. ``PRIVACY.md``
and ``privacy.json`` disclose the floor and how many cells were suppressed.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pandas as pd

from valuescope.engine.rundir import RunDir, atomic_write_bytes
from valuescope.privacy.config import PrivacyConfig
from valuescope.privacy.floor import apply_floor



CONV_COL_RE = re.compile(r"n|n_[ab]|n_conversations(?:_\w+)?")
USER_COL_RE = re.compile(r"users|n_users(?:_\w+)?")


def count_columns(df: pd.DataFrame) -> tuple[list[str], list[str]]:
    """Conversation-count and user-count columns the floor applies to.

    Only columns that count conversations or users: ``n_contexts`` or
    ``n_occurrences`` count something else and must not be floored.
    """
    numeric = [c for c in df.columns if df[c].dtype.kind in "iuf"]
    return [c for c in numeric if CONV_COL_RE.fullmatch(c)], [c for c in numeric if USER_COL_RE.fullmatch(c)]


def floor_config(run: RunDir, override: PrivacyConfig | None) -> PrivacyConfig:
    """The run's own floor (manifest), unless the caller asks for a stricter one."""
    if override is not None:
        return override
    section = run.read_manifest().get("privacy_floor") or {}
    cfg = (run.read_manifest().get("config") or {}).get("privacy") or {}
    return PrivacyConfig(
        min_conversations=int(section.get("min_conversations", cfg.get("min_conversations", 5))),
        min_users=int(section.get("min_users", cfg.get("min_users", 3))),
    )


def export_run(run_path: str | Path, out: str | Path | None = None, privacy: PrivacyConfig | None = None) -> dict[str, Any]:
    """Write the shareable CSVs to ``out`` (default RUN/export); return the disclosure summary."""
    run = RunDir(run_path, create=False)
    out_dir = Path(out) if out is not None else run.path / "export"
    out_dir.mkdir(parents=True, exist_ok=True)
    cfg = floor_config(run, privacy)
    analysis_tables = [t for t in run.tables() if t.startswith("analysis/")]
    if not analysis_tables and not (run.path / "taxonomy").is_dir():
        raise FileNotFoundError(f"run {run.path} has no analysis tables to export; run `valuescope analyze` first")
    files: dict[str, dict[str, Any]] = {}
    for name in analysis_tables:
        df = run.read_df(name)
        n_cols, user_cols = count_columns(df)
        suppressed = 0
        if n_cols:
            df, suppressed = apply_floor(
                df, n_col=n_cols, users_col=user_cols or None, min_conversations=cfg.min_conversations,
                min_users=cfg.min_users, allow_zero=len(n_cols) > 1,
            )
        target = out_dir / (name.replace("/", "_") + ".csv")
        atomic_write_bytes(target, df.to_csv(index=False).encode("utf-8"))
        files[target.name] = {"rows": len(df), "suppressed_at_export": suppressed, "floored_on": n_cols + user_cols}
    tax = run.path / "taxonomy"
    if tax.is_dir():
        for src in sorted(tax.rglob("*.csv")):
            target = out_dir / ("taxonomy_" + "_".join(src.relative_to(tax).parts))
            shutil.copyfile(src, target)
            files[target.name] = {"rows": None, "suppressed_at_export": 0, "floored_on": []}
    manifest_floor = run.read_manifest().get("privacy_floor") or {}
    summary = {
        "min_conversations": cfg.min_conversations,
        "min_users": cfg.min_users,
        "suppressed_by_analysis": manifest_floor.get("suppressed", {}),
        "files": files,
    }
    atomic_write_bytes(out_dir / "privacy.json", json.dumps(summary, indent=2, sort_keys=True).encode("utf-8"))
    atomic_write_bytes(out_dir / "PRIVACY.md", _disclosure(summary).encode("utf-8"))
    return summary


def _disclosure(summary: dict[str, Any]) -> str:
    lines = [
        "# Privacy of these exports",
        "",
        f"Every cell counts at least {summary['min_conversations']} conversations and, where user ids exist, "
        f"at least {summary['min_users']} distinct users. Smaller cells are suppressed and counted here.",
        "No conversation text, per-conversation row or user id is exported.",
        "",
        "| table | cells suppressed |",
        "|---|---|",
    ]
    supp = dict(summary["suppressed_by_analysis"])
    for name, info in summary["files"].items():
        key = name.removeprefix("analysis_").removesuffix(".csv")
        supp[key] = int(supp.get(key, 0)) + int(info["suppressed_at_export"])
    lines += [f"| {k} | {v} |" for k, v in sorted(supp.items())]
    return "\n".join(lines) + "\n"
