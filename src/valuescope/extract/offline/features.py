"""Per-conversation features for the offline extractor's heads.

Why these views: values and refusals live in the assistant's *last* turn
(hh-rlhf's chosen/rejected pairs differ only there), intent and stated values
live in the user's turns, and the whole assistant side carries the style
(rigour, caveats). Each view is embedded once; zero-shot similarities to the
published taxonomy's cluster descriptions and a few lexical cues (refusal,
explicit-value wording, harm vocabulary, code) are added because 600 labelled
conversations are too few to learn them from embeddings alone.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np

from valuescope.embed.base import Embedder
from valuescope.records import Conversation

VIEWS: tuple[str, ...] = ("user", "alast", "aall")
VIEW_TOKENS: dict[str, int] = {"user": 128, "alast": 256, "aall": 256}
MAX_VIEW_CHARS = 4000  # the model reads <=256 tokens; the head and tail are what matter

_CUES: dict[str, tuple[str, str]] = {
    # name: (view, pattern)
    "refusal": (
        "alast",
        r"\b(i can(?:no|')t|i won'?t|i will not|i(?:'m| am) (?:not able|unable)|i must decline|not (?:able|going) to (?:help|assist|provide)|i'm sorry,? but|i apologi[sz]e,? but|as an ai)\b",
    ),
    "explicit_value": (
        "aall",
        r"\b(honest(?:ly|y)?|transparen\w*|your (?:safety|wellbeing|well-being|health|privacy)|respect\w*|ethic\w*|moral\w*|important to (?:me|remember|note|consider)|i (?:care|want to be)|responsib\w*|fair(?:ness)?|dignity|consent)\b",
    ),
    "safety": ("aall", r"\b(safe(?:ty)?|danger\w*|harm\w*|illegal|law(?:s|ful)?|risk\w*|protect\w*|abuse|violence)\b"),
    "hedge": (
        "aall",
        r"\b(however|although|it depends|might|may want to|consider|keep in mind|on the other hand|perspective)\b",
    ),
    "advice": (
        "aall",
        r"\b(you (?:should|could|might)|i (?:recommend|suggest)|consult|professional|therap\w*|doctor|lawyer)\b",
    ),
    "empathy": ("aall", r"\b(i(?:'m| am) sorry (?:to hear|for)|understand(?:able)?|feel(?:ing)?s?|support|care)\b"),
    "harm_user": (
        "user",
        r"\b(kill|murder|steal|rob|drugs?|bomb|weapon|gun|poison|hack\w*|illegal|racist|slur|cheat|fraud|meth|explosive|hurt|attack|revenge|porn|sex\w*|suicide|scam|launder\w*)\b",
    ),
    "user_stance": (
        "user",
        r"\b(i (?:think|believe|feel|want|value|hate|love|prefer|care)|i'm (?:worried|upset|proud)|important to me|should(?:n't)?|fair|wrong|right thing|deserve)\b",
    ),
    "user_question": ("user", r"\?"),
    "code": ("aall", r"```|\bdef |\breturn\b|[{};]\s*$|\bimport \w"),
    "jailbreak": (
        "user",
        r"\b(ignore (?:all|previous|the above)|pretend|roleplay|role-play|hypothetical\w*|fictional|you are now|dan\b|developer mode|sure,? here)\b",
    ),
}
_CUE_RE = {k: (v, re.compile(p, re.IGNORECASE | re.MULTILINE)) for k, (v, p) in _CUES.items()}
LEX_NAMES: tuple[str, ...] = tuple(_CUES) + ("len_user", "len_alast", "len_aall", "n_turns", "non_ascii", "empty_asst")


def _clip(text: str) -> str:
    """Keep the head and tail of very long text: the model only reads the start, cues need both."""
    text = text.replace("\x00", " ")
    if len(text) <= MAX_VIEW_CHARS:
        return text
    half = MAX_VIEW_CHARS // 2
    return text[:half] + "\n…\n" + text[-half:]


def conversation_views(conv: Conversation) -> dict[str, str]:
    """The three texts a conversation is read through (never empty: a blank becomes one space)."""
    asst = [m.content for m in conv.messages if m.role == "assistant"]
    user = "\n\n".join(m.content for m in conv.messages if m.role == "user")
    out = {"user": user, "alast": asst[-1] if asst else "", "aall": "\n\n".join(asst)}
    return {k: _clip(v) if v.strip() else " " for k, v in out.items()}


def lexical_features(views: dict[str, str], n_turns: int) -> np.ndarray:
    row = []
    for view, rx in _CUE_RE.values():
        text = views[view]
        row.append(math.log1p(len(rx.findall(text))))
    for v in ("user", "alast", "aall"):
        row.append(math.log1p(len(views[v].strip())) / 8.0)
    joined = views["user"] + views["aall"]
    row.append(math.log1p(n_turns))
    row.append(sum(ord(c) > 127 for c in joined) / max(1, len(joined)))
    row.append(float(not views["alast"].strip()))
    return np.array(row, dtype=np.float32)


def embed_views(convs: Sequence[Conversation], embedders: dict[str, Embedder]) -> dict[str, np.ndarray]:
    """Embed each view of every conversation with that view's embedder (token window)."""
    views = [conversation_views(c) for c in convs]
    # A text shared by two views of one embedder (single-turn: last turn == all turns) is embedded once.
    jobs: dict[int, dict[str, int]] = {}  # id(embedder) -> text -> row
    texts: dict[int, list[str]] = {}
    rows: dict[str, list[int]] = {}
    for v in VIEWS:
        key = id(embedders[v])
        index, pending = jobs.setdefault(key, {}), texts.setdefault(key, [])
        rows[v] = []
        for x in views:
            t = x[v]
            if t not in index:
                index[t] = len(pending)
                pending.append(t)
            rows[v].append(index[t])
    vectors = {key: embedders[next(v for v in VIEWS if id(embedders[v]) == key)].embed(ts) for key, ts in texts.items()}
    return {v: vectors[id(embedders[v])][rows[v]] for v in VIEWS}


def assemble(emb: dict[str, np.ndarray], lex: np.ndarray, prototypes: dict[str, np.ndarray]) -> np.ndarray:
    """Feature matrix: view embeddings, zero-shot cosine similarities, lexical cues."""
    parts = [emb["user"], emb["alast"], emb["aall"]]
    parts.append(emb["alast"] @ prototypes["l2"].T)
    parts.append(emb["aall"] @ prototypes["l2"].T)
    parts.append(emb["user"] @ prototypes["l2"].T)
    parts.append(emb["aall"] @ prototypes["l3"].T)
    parts.append(emb["user"] @ prototypes["task"].T)
    parts.append(lex)
    return np.hstack(parts).astype(np.float32)


def lexical_matrix(convs: Sequence[Conversation]) -> np.ndarray:
    if not convs:
        return np.zeros((0, len(LEX_NAMES)), dtype=np.float32)
    return np.vstack([lexical_features(conversation_views(c), len(c.messages)) for c in convs])


# -- lexical n-gram view (TF-IDF) ------------------------------------------------
# Why: refusals, harm requests and task types are worded in recognisable ways
# that a 256-token sentence embedding blurs; a TF-IDF view fitted on the
# training conversations gives linear heads those cues. Vocabularies and idf
# weights are stored in the bundle as plain arrays (no pickled vectorizer);
# the transform below is used both in training and at inference, so the two
# cannot drift. Settings are fixed a priori (not tuned on the CV).
TFIDF_SPECS: dict[str, tuple[str, str, tuple[int, int], int]] = {
    # name: (view, analyzer, ngram_range, max_features)
    "uw": ("user", "word", (1, 2), 4000),
    "aw": ("alast", "word", (1, 2), 4000),
    "uc": ("user", "char_wb", (2, 4), 4000),
}


def fit_tfidf(views: Sequence[dict[str, str]]) -> dict[str, tuple[list[str], np.ndarray]]:
    """Per spec: (sorted vocabulary, idf) from training views (terms in >= 2 documents)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    out: dict[str, tuple[list[str], np.ndarray]] = {}
    for name, (view, analyzer, ngrams, maxf) in TFIDF_SPECS.items():
        texts = [v[view] for v in views]
        vec = TfidfVectorizer(
            analyzer=analyzer,
            ngram_range=ngrams,
            min_df=2 if len(texts) >= 8 else 1,
            max_features=maxf,
            sublinear_tf=True,
            lowercase=True,
        )
        try:
            vec.fit(texts)
        except ValueError:  # empty vocabulary (tiny or blank training set)
            out[name] = ([], np.zeros(0))
            continue
        terms = sorted(vec.vocabulary_)
        out[name] = (terms, np.array([vec.idf_[vec.vocabulary_[t]] for t in terms], dtype=np.float64))
    return out


def tfidf_matrix(views: Sequence[dict[str, str]], vocab: dict[str, tuple[list[str], np.ndarray]]) -> np.ndarray:
    """Dense TF-IDF rows (sublinear tf, stored idf, l2-normalised per spec), specs side by side."""
    from sklearn.feature_extraction.text import CountVectorizer

    parts = []
    for name, (view, analyzer, ngrams, _) in TFIDF_SPECS.items():
        terms, idf = vocab[name]
        if not len(terms):
            parts.append(np.zeros((len(views), 0)))
            continue
        cv = CountVectorizer(
            analyzer=analyzer, ngram_range=ngrams, lowercase=True, vocabulary={t: i for i, t in enumerate(terms)}
        )
        counts = cv.transform([v[view] for v in views]).toarray().astype(np.float64)
        tf = np.where(counts > 0, 1.0 + np.log(np.maximum(counts, 1.0)), 0.0) * idf
        norm = np.sqrt((tf * tf).sum(axis=1, keepdims=True))
        parts.append(tf / np.maximum(norm, 1e-12))
    return np.hstack(parts) if parts else np.zeros((len(views), 0))


def conversation_views_of_text(text: str) -> dict[str, str]:
    """Views of a one-exchange conversation whose user and assistant both say ``text`` (tests, probes)."""
    t = _clip(text) if text.strip() else " "
    return {"user": t, "alast": t, "aall": t}
