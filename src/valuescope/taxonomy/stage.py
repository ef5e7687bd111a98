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
    pct_convos,
    placed_exports,
    write_csv,
)
from valuescope.taxonomy.readings import hint_agreement
from valuescope.taxonomy.reference import Tree, load_tree, published_tree
from valuescope.taxonomy.vectors import TextVectors, tree_sha

VALUES_SCHEMA = VALUES.schema  # derived from records.PlacedValue (valuescope.tables)
MENTION_COLUMNS = ["id", "side", "value", "explicit", "l2_hint", "confidence"]


def config_tree(config: TaxonomyConfig) -> Tree:
    return load_tree(config.tree) if config.tree else published_tree()


def n_subjective(run: RunDir, mentions: pd.DataFrame) -> int:
    """Subjective conversations (judgments.parquet), else conversations with any mention."""
    if run.has_table("judgments"):
        j = run.read_df("judgments", columns=["id", "subjective"])
        return int(j["subjective"].fillna(False).astype(bool).sum())
    return int(mentions["id"].nunique())


def counted(values: pd.DataFrame, config: TaxonomyConfig) -> pd.DataFrame:
    """Mentions that count in exported trees (AI side by default, as in the study)."""
    return values[values["side"].isin(config.sides)]


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

        mentions = run.read_df("mentions")
        missing = set(MENTION_COLUMNS) - set(mentions.columns)
        if missing:
            raise ValueError(f"mentions.parquet lacks columns {sorted(missing)}")
        mentions = mentions[MENTION_COLUMNS].copy()
        mentions["value"] = mentions["value"].fillna("").astype(str)
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
        hints = [h if isinstance(h, str) and h else None for h in mentions["l2_hint"]]
        placed = placer.place(mentions["value"].tolist(), hints)
        out = pd.concat([mentions.reset_index(drop=True), placed.drop(columns=["value"])], axis=1)
        run.write_table("values", pa.Table.from_pandas(out, schema=VALUES_SCHEMA, preserve_index=False))
        rows, freqs = placed_exports(counted(out, self.tax), tree, n_subjective(run, mentions))
        write_csv(run.path / "taxonomy" / "placed_tree.csv", rows, TREE_COLUMNS)
        write_csv(run.path / "taxonomy" / "placed_frequencies.csv", freqs, FREQ_COLUMNS)
        return {
            "mentions": len(out),
            "distinct_values": int(out["value_norm"].nunique()),
            "exact": int((out["score"] >= 1.0).sum()),
            "new": int(out["is_new"].sum()),
            "embedded": placer.vectors.computed,
            **hint_agreement(out, {n.name for n in tree.at_level(2)}),
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
            "model": self.tax.llm.model if self.tax.namer == "llm" else None,  # offline names ignore the LLM
            "sides": self.tax.sides,
            "seed": self.tax.seed,
            **({"restructure": self.tax.llm_restructure} if self.tax.namer == "llm" else {}),
            **({"llm": self._llm_key()} if self.tax.namer == "llm" else {}),
        }

    def _llm_key(self) -> dict[str, Any]:
        """The naming LLM's settings that change its names (not timeouts, retries or the transport)."""
        llm = self.tax.llm
        return {"backend": llm.backend, "base_url": llm.base_url, "temperature": llm.temperature}

    def run(self, run: RunDir) -> dict[str, float]:
        from valuescope.taxonomy.clio import make_namer
        from valuescope.taxonomy.clio_hierarchy import make_restructurer

        values = counted(run.read_df("values"), self.tax)
        values = values[values["value_norm"].fillna("") != ""]
        counts = values.groupby("value_norm").size().sort_values(ascending=False)
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
            pct = pct_convos(values, "value_norm", n_subjective(run, values))
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
