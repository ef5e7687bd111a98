"""Taxonomy stages: mentions.parquet -> values.parquet (+ RUN/taxonomy/*).

* :class:`PlaceStage` places every mention in the published (or configured)
  tree, once per distinct (normalised value, l2_hint), and exports the tree
  re-weighted by this run (placed_tree.csv / placed_frequencies.csv).
* :class:`BuildStage` discovers a fresh hierarchy over the run's values and
  exports it (discovered_tree.csv / discovered_frequencies.csv) with a table
  ``taxonomy/discovered_values`` mapping value_norm -> cluster per level.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from valuescope.engine.rundir import RunDir
from valuescope.engine.stage import Stage, TableStage
from valuescope.tables import VALUES
from valuescope.taxonomy.config import TaxonomyConfig
from valuescope.taxonomy.discover import build_hierarchy
from valuescope.taxonomy.export import (
    FREQ_COLUMNS,
    TREE_COLUMNS,
    discovered_tree_rows,
    membership_table,
    pct_of_counts,
    placed_exports_of_counts,
    write_csv,
)
from valuescope.taxonomy.readings import hint_agreement_of_counts
from valuescope.taxonomy.reference import Tree, load_tree, published_tree
from valuescope.taxonomy.stream import batches, columns, connect, write_batches
from valuescope.taxonomy.vectors import TextVectors, tree_sha

VALUES_SCHEMA = VALUES.schema  # derived from records.PlacedValue (valuescope.tables)
MENTION_COLUMNS = ["id", "side", "value", "explicit", "l2_hint", "confidence"]


def config_tree(config: TaxonomyConfig) -> Tree:
    return load_tree(config.tree) if config.tree else published_tree()


def n_subjective(run: RunDir, con: Any, table: str) -> int:
    """Subjective conversations (judgments), else conversations with any row in `table`."""
    if run.has_table("judgments"):
        src = run.parquet_source("judgments")
        return int(
            con.execute(f"SELECT count(*) FILTER (WHERE coalesce(subjective, false)) FROM {src}").fetchall()[0][0]
        )
    return int(con.execute(f"SELECT count(DISTINCT id) FROM {run.parquet_source(table)}").fetchall()[0][0])


def sides_sql(config: TaxonomyConfig) -> str:
    """SQL condition: mentions that count in exported trees (AI side by default, as in the study)."""
    return (
        "side IN (" + ", ".join("'" + s.replace("'", "''") + "'" for s in config.sides) + ")"
        if config.sides
        else "false"
    )


def _hint(h: Any) -> str | None:
    return h if isinstance(h, str) and h else None


def distinct_mentions(con: Any, source: str) -> list[tuple[str, str | None]]:
    """Distinct (value, l2_hint) of the mentions, in order of first appearance (streamed: bounded by distinct)."""
    seen: dict[tuple[str, str | None], None] = {}
    for batch in batches(con, f"SELECT coalesce(CAST(value AS VARCHAR), '') AS value, l2_hint FROM {source}"):
        df = batch.to_pandas().drop_duplicates()
        for v, h in zip(df["value"], df["l2_hint"]):
            seen.setdefault((v, _hint(h)), None)
    return list(seen)


def placed_batches(con: Any, source: str, norm: dict[str, str], placed: dict[tuple, dict], valid: Any):
    """values.parquet in batches: each mention (in mentions order) joined to its distinct value's placement."""
    from valuescope.taxonomy.place import PLACED_COLUMNS

    cols = ", ".join(f'"{c}"' for c in MENTION_COLUMNS)
    for batch in batches(con, f"SELECT {cols} FROM {source}"):
        df = batch.to_pandas()
        df["value"] = df["value"].fillna("").astype(str)
        keys = [(norm[v], h if h in valid else None) for v, h in zip(df["value"], map(_hint, df["l2_hint"]))]
        rows = pd.DataFrame([placed[k] for k in keys], columns=PLACED_COLUMNS)
        out = pd.concat([df, pd.Series([k[0] for k in keys], name="value_norm"), rows], axis=1)
        yield pa.Table.from_pandas(out, schema=VALUES_SCHEMA, preserve_index=False)


class PlaceStage(TableStage):
    name = "taxonomy_place"
    version = "2"
    inputs = ("mentions", "judgments")
    outputs = (VALUES.name,)

    def __init__(self, config: TaxonomyConfig) -> None:
        self.tax = config

    def config(self) -> dict[str, Any]:
        tree = config_tree(self.tax)
        return {
            "tree": tree_sha(tree),
            "embedder": self.tax.embedder,
            "threshold": self.tax.new_value_threshold,
            "hint_strength": self.tax.hint_strength,
            "hint_rule": self.tax.hint_rule,
            "sides": self.tax.sides,
            # only when switched off, so runs made with the defaults keep their cache
            **{k: False for k in ("place_second", "place_tuned") if not getattr(self.tax, k)},
        }

    def run(self, run: RunDir) -> dict[str, float]:
        from valuescope.taxonomy.place import Placer

        con = connect(run)
        source = run.parquet_source("mentions")
        missing = set(MENTION_COLUMNS) - set(columns(con, source))
        if missing:
            raise ValueError(f"mentions.parquet lacks columns {sorted(missing)}")
        tree = config_tree(self.tax)
        placer = Placer(
            tree,
            TextVectors(self.tax.embedder),
            new_threshold=self.tax.new_value_threshold,
            hint_strength=self.tax.hint_strength,
            hint_rule=self.tax.hint_rule,
            **({} if self.tax.place_second else {"second": None}),
            **({} if self.tax.place_tuned else {"tuned": None}),
        )
        # placement runs once per distinct (normalised value, usable hint), as Placer.place does
        pairs = distinct_mentions(con, source)
        norm = placer.normalise(list(dict.fromkeys(v for v, _ in pairs)))
        valid = placer.index.l1_of_l2
        keys = list(dict.fromkeys((norm[v], h if h in valid else None) for v, h in pairs))
        placed = dict(zip(keys, placer.place_distinct([k[0] for k in keys], [k[1] for k in keys]), strict=True))
        n = write_batches(run, "values", placed_batches(con, source, norm, placed, valid), VALUES_SCHEMA)
        values = run.parquet_source("values")
        counts = con.execute(
            f"SELECT leaf, count(*) AS n, count(DISTINCT id) AS per FROM {values} "
            f"WHERE {sides_sql(self.tax)} AND NOT is_new AND leaf IS NOT NULL GROUP BY leaf"
        ).df()
        counts = counts.set_index("leaf").sort_index()
        rows, freqs = placed_exports_of_counts(counts["n"], counts["per"], tree, n_subjective(run, con, "mentions"))
        write_csv(run.path / "taxonomy" / "placed_tree.csv", rows, TREE_COLUMNS)
        write_csv(run.path / "taxonomy" / "placed_frequencies.csv", freqs, FREQ_COLUMNS)
        l2_names = ", ".join("'" + n.name.replace("'", "''") + "'" for n in tree.at_level(2)) or "NULL"
        distinct, exact, new, hinted, differ = con.execute(
            f"SELECT count(DISTINCT value_norm), count(*) FILTER (WHERE score >= 1.0), "
            f"count(*) FILTER (WHERE is_new), count(*) FILTER (WHERE l2_hint IN ({l2_names})), "
            f"count(*) FILTER (WHERE l2_hint IN ({l2_names}) AND tree_l2 IS DISTINCT FROM l2_hint) FROM {values}"
        ).fetchall()[0]
        return {
            "mentions": n,
            "distinct_values": int(distinct),
            "exact": int(exact),
            "new": int(new),
            "embedded": placer.vectors.computed,
            **hint_agreement_of_counts(int(hinted), int(differ)),
        }


class BuildStage(TableStage):
    name = "taxonomy_build"
    version = "1"
    inputs = ("values", "judgments")
    outputs = ("taxonomy/discovered_values",)

    def __init__(self, config: TaxonomyConfig) -> None:
        self.tax = config

    def config(self) -> dict[str, Any]:
        return {
            "embedder": self.tax.embedder,
            "sizes": self.tax.level_sizes,
            "namer": self.tax.namer,
            "model": self.tax.llm_model,
            "sides": self.tax.sides,
            "seed": self.tax.seed,
            **({"restructure": self.tax.llm_restructure} if self.tax.namer == "llm" else {}),
        }

    def run(self, run: RunDir) -> dict[str, float]:
        from valuescope.taxonomy.clio import make_namer
        from valuescope.taxonomy.clio_hierarchy import make_restructurer

        con = connect(run)
        source = run.parquet_source("values")
        # one row per distinct counted value: its mentions and its conversations (bounded by distinct values)
        per_value = con.execute(
            f"SELECT value_norm, count(*) AS n, count(DISTINCT id) AS per FROM {source} "
            f"WHERE {sides_sql(self.tax)} AND coalesce(value_norm, '') <> '' GROUP BY value_norm"
        ).df()
        per_value = per_value.set_index("value_norm").sort_index()
        counts = per_value["n"].sort_values(ascending=False)
        names = counts.index.tolist()
        vectors = TextVectors(self.tax.embedder)
        llm: dict[str, float] = {}
        if names:
            namer = make_namer(self.tax, vectors)
            clio = make_restructurer(self.tax, namer, vectors)
            h = build_hierarchy(
                names,
                counts.to_numpy(float),
                vectors(names),
                sizes=self.tax.level_sizes,
                namer=namer,
                seed=self.tax.seed,
                restructurer=clio,
            )
            llm = clio.stats.summary() if clio is not None else {}
            rows = discovered_tree_rows(h, counts)
            pct = pct_of_counts(per_value["per"], n_subjective(run, con, "values"))
            freqs = [{"value": v, "pct_convos": p} for v, p in pct.items()]
            table = membership_table(h)
            levels = len(h.levels)
        else:
            rows, freqs, table, levels = [], [], pd.DataFrame({"value_norm": pd.Series([], dtype=str)}), 0
        write_csv(run.path / "taxonomy" / "discovered_tree.csv", rows, TREE_COLUMNS)
        write_csv(run.path / "taxonomy" / "discovered_frequencies.csv", freqs, FREQ_COLUMNS)
        run.write_table("taxonomy/discovered_values", table)
        sizes = {f"clusters_l{i + 1}": int(np.sum([r["level"] == i + 1 for r in rows])) for i in range(levels)}
        return {"distinct_values": len(names), "levels": levels, **sizes, **llm}


def taxonomy_stages(config: TaxonomyConfig) -> list[Stage]:
    stages: list[Stage] = [PlaceStage(config)]
    if config.build:
        stages.append(BuildStage(config))
    return stages
