"""The embedded default extractor: no API key, no GPU, no download.

Per batch: embed three views of every conversation (user turns, last
assistant turn, all assistant turns), add zero-shot and lexical features, run
the shipped linear heads, then name values: for each predicted l2 cluster the
published leaf of that cluster nearest the evidence (assistant text for AI
values, user text for human values), nudged by the leaf's published
frequency. A value is ``explicit`` when its wording appears in the
assistant's text, or when the conversation's explicit-value head fires for
its top cluster and the assistant uses explicit value language.
"""

from __future__ import annotations

import math
import multiprocessing
import re
from typing import Any

import numpy as np

from valuescope.embed.base import default_threads
from valuescope.extract.base import Extractor
from valuescope.extract.config import ExtractConfig
from valuescope.extract.offline import bundle as B
from valuescope.extract.offline import features as F
from valuescope.extract.offline.model import L2S
from valuescope.records import Conversation, Extraction, Judgment, ValueMention

PRIOR_WEIGHT = 0.02  # cosine units per log-% of published frequency
VERBATIM_BONUS = 0.15  # a leaf named in the text itself is strong evidence
_EXPLICIT_CUE = re.compile(F._CUES["explicit_value"][1], re.IGNORECASE)


def _stem(word: str) -> str:
    return word[:5] if len(word) > 5 else word


class OfflineExtractor(Extractor):
    parallel = True
    batch_size = 64

    def __init__(self, config: ExtractConfig) -> None:
        super().__init__(config)
        self._bundle: B.Bundle | None = None
        self._emb: dict | None = None

    @property
    def bundle(self) -> B.Bundle:
        if self._bundle is None:
            self._bundle = B.load(B.default_dir(self.config.offline_model))
        return self._bundle

    @property
    def name(self) -> str:
        return f"offline:{self.bundle.version}"

    def cache_config(self) -> dict[str, Any]:
        return {"name": self.name, "weights": self.bundle.meta.get("weights_sha256")}

    def load(self) -> None:
        threads = default_threads()  # RunConfig.threads ($VALUESCOPE_THREADS), set by the API
        if threads is None and multiprocessing.current_process().name != "MainProcess":
            threads = 1  # the engine runs one worker per core; measured faster than 2 threads each
        self._emb = B.view_embedders(self.bundle.meta["embedder"], threads=threads)
        b = self.bundle
        self._leaves = [tuple(x) for x in b.meta["leaves"]]
        self._leaf_l2 = np.array([L2S.index(x[1]) for x in self._leaves])
        self._leaf_prior = np.array([math.log(max(float(x[2]), 1e-3)) for x in self._leaves])
        self._phrases = [tuple(x) for x in b.meta["phrases"]]
        # compiled once: ~1,000 leaf patterns overflow re's 512-entry cache, so re.search
        # recompiled them for every conversation
        self._leaf_rx = [re.compile(rf"\b{re.escape(x[0])}\b") for x in self._leaves]
        self._stem_rx = {
            k: [re.compile(rf"\b{re.escape(_stem(w))}") for w in x[0].split() if len(w) > 3]
            for k, x in enumerate(self._leaves)
        }

    def extract(self, conversations: list[Conversation]) -> list[Extraction]:
        if not conversations:
            return []
        if self._emb is None:
            self.load()
        try:
            return self._extract(conversations)
        except Exception as exc:  # noqa: BLE001 - one bad conversation must not sink the batch
            if len(conversations) == 1:
                return [
                    Extraction(id=conversations[0].id, error=f"offline extractor failed: {type(exc).__name__}: {exc}")
                ]
            return [r for c in conversations for r in self.extract([c])]

    def _extract(self, convs: list[Conversation]) -> list[Extraction]:
        b = self.bundle
        emb = F.embed_views(convs, self._emb)
        X = F.assemble(emb, F.lexical_matrix(convs), b.protos)
        pred = b.model.predict(X, [F.conversation_views(c) for c in convs])
        out = []
        for i, conv in enumerate(convs):
            views = F.conversation_views(conv)
            if not (views["user"].strip() or views["aall"].strip()):
                out.append(self._blank(conv.id))
                continue
            cat = str(pred["task_category"][i])
            judgment = Judgment(
                id=conv.id,
                subjective=bool(pred["subjective"][i]),
                task=self._task(emb["user"][i], cat),
                task_category=cat,
                response=str(pred["response"][i]),
                harmful_score=float(np.clip(pred["harmful_score"][i], 0.0, 1.0)),
                extractor=self.name,
            )
            values = self._values(
                conv.id, "ai", pred["ai_sets"][i], pred["ai_p2"][i], emb["aall"][i], views, float(pred["p_explicit"][i])
            )
            values += self._values(
                conv.id, "human", pred["human_sets"][i], pred["human_p2"][i], emb["user"][i], views, 0.0
            )
            out.append(Extraction(id=conv.id, judgment=judgment, values=values))
        return out

    def _blank(self, cid: str) -> Extraction:
        """No text on either side: nothing is judged subjective, no values, no harm."""
        judgment = Judgment(
            id=cid,
            subjective=False,
            task="",
            task_category="other",
            response="no_human_values",
            harmful_score=0.0,
            extractor=self.name,
        )
        return Extraction(id=cid, judgment=judgment)

    def _task(self, user_vec: np.ndarray, category: str) -> str:
        idx = [k for k, (c, _) in enumerate(self._phrases) if c == category]
        sims = self.bundle.phrase_emb[idx] @ user_vec
        return self._phrases[idx[int(np.argmax(sims))]][1]

    def _values(
        self,
        cid: str,
        side: str,
        chosen: np.ndarray,
        p2: np.ndarray,
        vec: np.ndarray,
        views: dict[str, str],
        p_explicit: float,
    ) -> list[ValueMention]:
        text = (views["aall"] if side == "ai" else views["user"]).lower()
        clusters = sorted(np.where(chosen)[0], key=lambda j: -p2[j])
        out = []
        for rank, j in enumerate(clusters):
            cand = np.where(self._leaf_l2 == j)[0]
            if len(cand) == 0:
                continue
            names = [self._leaves[k][0] for k in cand]
            score = self.bundle.leaf_emb[cand] @ vec + PRIOR_WEIGHT * self._leaf_prior[cand]
            verbatim = np.array([bool(self._leaf_rx[c].search(text)) for c in cand])
            score = score + VERBATIM_BONUS * verbatim
            k = int(np.argmax(score))
            explicit = None
            if side == "ai":
                explicit = bool(verbatim[k] or any(rx.search(text) for rx in self._stem_rx[int(cand[k])])) or (
                    rank == 0 and p_explicit >= 0.5 and bool(_EXPLICIT_CUE.search(text))
                )
            out.append(
                ValueMention(
                    id=cid,
                    side=side,
                    value=names[k],
                    explicit=explicit,
                    l2_hint=L2S[j],
                    confidence=round(float(p2[j]), 4),
                )
            )
        return out
