"""Which shared corpus a conversation id comes from: the model's corpus-balanced weights group by it."""

from __future__ import annotations

CORPUS_NAMES = {
    "hh-harmless-test": "hh-rlhf",
    "jbb": "JailbreakBench",
    "mt-bench": "MT-Bench",
    "alpaca-eval": "AlpacaEval",
    "sharegpt": "ShareGPT",
}


def corpus_of(conv_id: str) -> str:
    """The shared corpus a conversation id comes from (named from its prefix before ':')."""
    prefix = conv_id.split(":", 1)[0]
    return CORPUS_NAMES.get(prefix, prefix)
