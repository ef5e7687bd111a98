"""`valuescope export RUN`: the aggregates a run may share, as CSV, behind the privacy floor.

Only aggregate tables leave: ``analysis/*.parquet`` and the taxonomy CSVs.
Row-level tables (conversations, judgments, values, mentions) never do. The
analysis stage already applies the floor; export applies it again wherever a
table has count columns (``n``/``n_*`` and ``n_users``/``users``) so a table
written by other code, or a lowered floor, cannot slip through. The taxonomy
CSVs (published schema: shares, no counts) are floored on the conversations
behind each row, counted from the run's values. A table whose rows cannot be
counted, or that has one row per conversation (``analysis/alerts``), is left
out. Text cells a spreadsheet would evaluate (``=``, ``+``,
``-``, ``@``, tab, CR) are prefixed with ``'``. ``PRIVACY.md`` and
``privacy.json`` disclose the floor, how many cells were suppressed, and what
was left out.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import pandas as pd

from valuescope.engine.rundir import RunDir, atomic_write_bytes
from valuescope.privacy.config import PrivacyConfig
from valuescope.privacy.floor import apply_floor, distinct_users, floor_mask

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


def export_run(
    run_path: str | Path, out: str | Path | None = None, privacy: PrivacyConfig | None = None
) -> dict[str, Any]:
    """Write the shareable CSVs to ``out`` (default RUN/export); return the disclosure summary."""
    run = RunDir(run_path, create=False)
    out_dir = Path(out) if out is not None else run.path / "export"
    out_dir.mkdir(parents=True, exist_ok=True)
    cfg = floor_config(run, privacy)
    analysis_tables = [t for t in run.tables() if t.startswith("analysis/")]
    if not analysis_tables and not (run.path / "taxonomy").is_dir():
        raise FileNotFoundError(f"run {run.path} has no analysis tables to export; run `valuescope analyze` first")
    files: dict[str, dict[str, Any]] = {}
    omitted: dict[str, str] = {}
    for name in analysis_tables:
        df = run.read_df(name)
        n_cols, user_cols = count_columns(df)
        target = out_dir / (name.replace("/", "_") + ".csv")
        if not n_cols or "id" in df.columns:  # per-conversation rows (alerts), or nothing to floor on
            target.unlink(missing_ok=True)  # a stale copy from an earlier export must not stay shareable
            omitted[target.name] = (
                "per-conversation rows" if "id" in df.columns else "no conversation counts to apply the floor to"
            )
            continue
        df, suppressed = apply_floor(
            df,
            n_col=n_cols,
            users_col=user_cols or None,
            min_conversations=cfg.min_conversations,
            min_users=cfg.min_users,
            allow_zero=len(n_cols) > 1,
        )
        write_csv(target, df)
        files[target.name] = {"rows": len(df), "suppressed_at_export": suppressed, "floored_on": n_cols + user_cols}
    tax = run.path / "taxonomy"
    if tax.is_dir():
        for src in sorted(tax.rglob("*.csv")):
            target = out_dir / ("taxonomy_" + "_".join(src.relative_to(tax).parts))
            floored = floor_taxonomy_csv(run, src, cfg)
            if floored is None:
                target.unlink(missing_ok=True)  # a stale copy from an earlier export must not stay shareable
                omitted[target.name] = "rows cannot be counted, so the floor cannot be applied"
                continue
            df, suppressed = floored
            write_csv(target, df)
            files[target.name] = {
                "rows": len(df),
                "suppressed_at_export": suppressed,
                "floored_on": [],
                "floored_on_members": True,
            }
    manifest_floor = run.read_manifest().get("privacy_floor") or {}
    summary = {
        "min_conversations": cfg.min_conversations,
        "min_users": cfg.min_users,
        "suppressed_by_analysis": manifest_floor.get("suppressed", {}),
        "files": files,
        "omitted": omitted,
    }
    atomic_write_bytes(out_dir / "privacy.json", json.dumps(summary, indent=2, sort_keys=True).encode("utf-8"))
    atomic_write_bytes(out_dir / "PRIVACY.md", _disclosure(summary).encode("utf-8"))
    return summary


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(cell: Any) -> Any:
    """A text cell a spreadsheet would evaluate as a formula, prefixed with ``'`` (numbers stay numbers)."""
    if not isinstance(cell, str) or not cell.startswith(FORMULA_START):
        return cell
    try:
        float(cell)
        return cell
    except ValueError:
        return "'" + cell


def write_csv(path: Path, df: pd.DataFrame) -> None:
    """The table as CSV, every text cell spreadsheet-safe."""
    safe = df.copy()
    for col in safe.columns:
        if safe[col].dtype.kind in "OSU" or str(safe[col].dtype) in ("string", "str"):
            safe[col] = safe[col].map(spreadsheet_safe)
    safe.columns = [spreadsheet_safe(str(c)) for c in safe.columns]
    buf = io.StringIO()
    safe.to_csv(buf, index=False)
    atomic_write_bytes(path, buf.getvalue().encode("utf-8"))


def floor_taxonomy_csv(run: RunDir, src: Path, cfg: PrivacyConfig) -> tuple[pd.DataFrame, int] | None:
    """One taxonomy CSV with only the rows whose conversations (and users) pass the floor;
    None when its rows cannot be counted (an unknown file, or no values table)."""
    from valuescope.taxonomy.config import TaxonomyConfig
    from valuescope.taxonomy.export import CELL_KEYS, cell_members

    keys = CELL_KEYS.get(src.name)
    if keys is None or src.parent != run.path / "taxonomy" or not run.has_table("values"):
        return None
    sides = ((run.read_manifest().get("config") or {}).get("taxonomy") or {}).get("sides") or TaxonomyConfig().sides
    values = run.read_df("values")
    values = values[values["side"].isin(sides)]
    discovered = run.read_df("taxonomy/discovered_values") if run.has_table("taxonomy/discovered_values") else None
    try:
        members = cell_members(src.name, values, discovered)
    except KeyError:  # a values table without the placement columns: nothing to count rows with
        return None
    df = pd.read_csv(src, dtype=str, keep_default_na=False)
    if members is None or not set(keys) <= set(df.columns):
        return None
    if run.has_table("conversations"):
        users = run.read_df("conversations", ["id", "user_id"]).astype({"id": str})
        members = members.merge(users, on="id", how="left")
    else:
        members = members.assign(user_id=None)
    stats = (
        members.groupby(keys, sort=False)
        .agg(
            n=("id", "nunique"),
            n_users=("user_id", lambda u: distinct_users(u)),
        )
        .reset_index()
    )
    counted = df.merge(stats, on=keys, how="left")
    counted["n"] = counted["n"].fillna(0)
    counted["n_users"] = pd.to_numeric(counted["n_users"], errors="coerce")
    keep = floor_mask(counted, "n", "n_users", cfg.min_conversations, cfg.min_users)
    kept = df.loc[keep].reset_index(drop=True)
    if {"level", "name", "description"} <= set(kept.columns):
        kept = withhold_quoting_names(kept, rare_values(run.read_df("values"), members, cfg))
    return kept, int((~keep).sum())


def rare_values(values: pd.DataFrame, members: pd.DataFrame, cfg: PrivacyConfig) -> set[str]:
    """Value names (any side) behind fewer conversations or users than the floor."""
    per = values[["value_norm", "id"]].dropna().astype(str).drop_duplicates()
    if "user_id" in members.columns:
        per = per.merge(members[["id", "user_id"]].drop_duplicates("id"), on="id", how="left")
    else:
        per = per.assign(user_id=None)
    stats = (
        per.groupby("value_norm")
        .agg(n=("id", "nunique"), n_users=("user_id", lambda u: distinct_users(u)))
        .reset_index()
    )
    stats["n_users"] = pd.to_numeric(stats["n_users"], errors="coerce")
    keep = floor_mask(stats, "n", "n_users", cfg.min_conversations, cfg.min_users)
    return {v for v in stats.loc[~keep, "value_norm"] if v.strip()}


WITHHELD = "(name withheld: it quoted a value below the privacy floor)"


def quoting_pattern(rare: set[str]) -> re.Pattern[str]:
    """Matches text that quotes any of the ``rare`` value names as whole words (case-insensitive)."""
    return re.compile(
        r"(?<!\w)(?:" + "|".join(re.escape(v) for v in sorted(rare, key=len, reverse=True)) + r")(?!\w)", re.IGNORECASE
    )


CLUSTER_LEVELS = ("l1", "l2", "l3")


def withheld_cluster_names(
    values: pd.DataFrame, users: pd.DataFrame | None, cfg: Any, keep: frozenset[str] = frozenset()
) -> dict[str, str]:
    """{cluster name: neutral stand-in} for every l1/l2/l3 name in ``values`` that quotes a below-floor value.

    A run placed on a discovered tree carries automatic names ("head · terms") made from
    member values; the report and the explorer show such names in place of the cluster's
    own. Names in ``keep`` are never withheld: callers pass the published tree's, which were
    not made from this run's values (a rare value "responsibility" does not make "Ethical
    responsibility" private). ``users`` is conversations' ``id``/``user_id`` (None: no user ids); ``cfg`` any
    object with ``min_conversations`` and ``min_users`` (PrivacyConfig, the report's Floor).
    """
    levels = [c for c in CLUSTER_LEVELS if c in values.columns]
    if values.empty or not levels:
        return {}
    members = users if users is not None and "user_id" in users.columns else values[["id"]].assign(user_id=None)
    rare = rare_values(values, members.astype({"id": str}), cfg)
    if not rare:
        return {}
    pattern = quoting_pattern(rare)
    names = sorted(
        {n for c in levels for n in values[c].dropna().astype(str).unique() if n not in keep and pattern.search(n)}
    )
    return {
        n: f"(cluster {i}: name withheld, it quoted a value below the privacy floor)" for i, n in enumerate(names, 1)
    }


def withhold_quoting_names(tree: pd.DataFrame, rare: set[str]) -> pd.DataFrame:
    """Cluster names and descriptions are written from member values; one that quotes a
    below-floor value loses both (the cluster id stays, so the tree keeps its shape)."""
    if not rare or tree.empty:
        return tree
    pattern = quoting_pattern(rare)
    out = tree.copy()
    clusters = out["level"].astype(str) != "0"
    quoting = clusters & (
        out["name"].map(lambda t: bool(pattern.search(t))) | out["description"].map(lambda t: bool(pattern.search(t)))
    )
    out.loc[quoting, "name"] = out.loc[quoting, "cluster_id"]
    out.loc[quoting, "description"] = WITHHELD
    return out


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
    if summary.get("omitted"):
        lines += ["", "Left out (no floor can be applied to them):", ""]
        lines += [f"- {name}: {why}" for name, why in sorted(summary["omitted"].items())]
    return "\n".join(lines) + "\n"
