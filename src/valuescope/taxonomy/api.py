"""Library entry points behind `valuescope taxonomy place / build` (no run directory needed)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from valuescope.taxonomy.clio import make_namer
from valuescope.taxonomy.clio_hierarchy import make_restructurer
from valuescope.taxonomy.config import TaxonomyConfig
from valuescope.taxonomy.discover import Hierarchy, build_hierarchy
from valuescope.taxonomy.export import (
    FREQ_COLUMNS,
    TREE_COLUMNS,
    discovered_tree_rows,
    membership_table,
    write_csv,
)
from valuescope.taxonomy.normalize import canonical_map, leaf_preferences
from valuescope.taxonomy.reference import published_tree
from valuescope.taxonomy.vectors import TextVectors


def read_values(path: Path) -> pd.DataFrame:
    """Values from a .txt (one per line), .csv or .parquet (column ``value``, optional ``count`` / ``pct_convos``)."""
    if not path.is_file():
        raise FileNotFoundError(f"values file not found: {path}")
    suffix = path.suffix.lower()
    if suffix in {".csv", ".parquet"}:
        df = pd.read_parquet(path) if suffix == ".parquet" else pd.read_csv(path, keep_default_na=False)
        if "value" not in df.columns:
            raise ValueError(f"{path}: needs a 'value' column (has {list(df.columns)})")
    else:
        lines = path.read_text(encoding="utf-8").splitlines()
        df = pd.DataFrame({"value": [ln.strip() for ln in lines if ln.strip()]})
    df["value"] = df["value"].astype(str)
    return df


def build_values(df: pd.DataFrame, config: TaxonomyConfig, out_dir: Path) -> Hierarchy | None:
    """Discover a hierarchy over a list of values and export it in the published schema.

    Weights: ``count`` if given, else ``pct_convos``, else one per line. With
    no conversation ids, pct_convos is taken from the input when present, else
    it is the share of input lines (each line counted as one conversation).
    """
    weight = (
        df["count"].astype(float)
        if "count" in df
        else df["pct_convos"].astype(float)
        if "pct_convos" in df
        else pd.Series(1.0, index=df.index)
    )
    tree = published_tree()
    pref = leaf_preferences((n.name, tree.frequencies.get(n.name, 0)) for n in tree.leaves)
    norm = canonical_map(df["value"].tolist(), preferred=pref)
    df = df.assign(value_norm=df["value"].map(norm), weight=weight.to_numpy())
    df = df[df["value_norm"] != ""]
    if df.empty:
        raise ValueError("no usable values in the input")
    totals = df.groupby("value_norm")["weight"].sum().sort_values(ascending=False)
    names = totals.index.tolist()
    vectors = TextVectors(config.embedder)
    namer = make_namer(config, vectors)
    clio = make_restructurer(config, namer, vectors)
    h = build_hierarchy(
        names,
        totals.to_numpy(),
        vectors(names),
        sizes=config.level_sizes,
        namer=namer,
        seed=config.seed,
        restructurer=clio,
    )
    if clio is not None:
        h.llm_stats = clio.stats.summary()
    rows = discovered_tree_rows(h, totals)
    if "pct_convos" in df:
        pct = df.groupby("value_norm")["pct_convos"].max()
    else:
        pct = (100.0 * df.groupby("value_norm").size() / len(df)).round(3)
    freqs = [{"value": v, "pct_convos": round(float(pct[v]), 3)} for v in pct.sort_values(ascending=False).index]
    write_csv(out_dir / "values_tree.csv", rows, TREE_COLUMNS)
    write_csv(out_dir / "values_frequencies.csv", freqs, FREQ_COLUMNS)
    membership_table(h).to_csv(out_dir / "discovered_values.csv", index=False)
    return h
