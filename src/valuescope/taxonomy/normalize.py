"""Normalisation of value strings, so spelling variants count as one value.

Two strings are the *same value* when their match keys are equal. The key is
built by a fixed, documented rule (docs/taxonomy.md):

1. Unicode NFKC, lower case, curly quotes -> straight, ``&`` -> ``and``;
   surrounding punctuation and quotes stripped, whitespace collapsed.
2. Hyphens, underscores, slashes and spaces between word pieces are ignored
   ("well-being" == "wellbeing" == "well being").
3. British spellings map to American ones (-our/-or, -ise/-ize, -yse/-yze,
   -ence/-ense, -tre/-ter, judgement/judgment ...).
4. Near-duplicates: a plural final word ("rights", "boundaries") is merged
   with its singular only when the singular form is itself in the vocabulary
   being normalised, so "human rights" stays apart unless "human right" occurs.

The readable ``value_norm`` of a group is the published leaf spelling when the
group contains one (most frequent leaf first), else the group's most frequent
cleaned spelling. Original strings are never modified; callers keep them.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping

_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-"})
_STRIP = " \t\n\r\"'`.,;:!?()[]{}*_-"
_SEP = re.compile(r"[\s\-_/]+")

# Whole-word British -> American spellings that the suffix rules miss.
_WORDS = {
    "judgement": "judgment",
    "acknowledgement": "acknowledgment",
    "programme": "program",
    "catalogue": "catalog",
    "dialogue": "dialog",
    "analyse": "analyze",
    "grey": "gray",
    "ageing": "aging",
    "practise": "practice",
    "licence": "license",
    "defence": "defense",
    "offence": "offense",
    "pretence": "pretense",
    "enrolment": "enrollment",
    "fulfil": "fulfill",
    "fulfilment": "fulfillment",
    "skilful": "skillful",
    "wilful": "willful",
    "travelling": "traveling",
    "modelling": "modeling",
    "labelling": "labeling",
    "counselling": "counseling",
    "centre": "center",
    "theatre": "theater",
    "metre": "meter",
    "fibre": "fiber",
    "sceptical": "skeptical",
    "scepticism": "skepticism",
    "manoeuvre": "maneuver",
    "paediatric": "pediatric",
    "oestrogen": "estrogen",
}
_SUFFIXES = (  # applied to single words, longest first
    (re.compile(r"(?<=[a-z]{3})isation(s?)$"), r"ization\1"),
    (re.compile(r"(?<=[a-z]{3})ise(s|d|r|rs)?$"), r"ize\1"),
    (re.compile(r"(?<=[a-z]{3})ising$"), "izing"),
    (re.compile(r"(?<=[a-z]{2})yse(s|d)?$"), r"yze\1"),
    (re.compile(r"(?<=[a-z]{2})our(s|ed|ing|able|ful|ite)?$"), r"or\1"),
)
# Words ending in -ise/-our that are not British variants.
_KEEP = {
    "wise",
    "rise",
    "arise",
    "noise",
    "poise",
    "raise",
    "praise",
    "exercise",
    "expertise",
    "enterprise",
    "compromise",
    "premise",
    "promise",
    "surprise",
    "advertise",
    "advise",
    "devise",
    "revise",
    "supervise",
    "televise",
    "disguise",
    "merchandise",
    "franchise",
    "concise",
    "precise",
    "otherwise",
    "likewise",
    "clockwise",
    "demise",
    "excise",
    "incise",
    "chastise",
    "despise",
    "surmise",
    "improvise",
    "treatise",
    "cruise",
    "bruise",
    "anise",
    "paradise",
    "guise",
    "our",
    "four",
    "hour",
    "pour",
    "tour",
    "your",
    "flour",
    "sour",
    "dour",
    "contour",
    "detour",
    "amour",
    "troubadour",
    "devour",
    "scour",
    "exercises",
    "promises",
    "premises",
    "enterprises",
    "compromises",
    "surprises",
    "hours",
    "tours",
}


def clean(value: str) -> str:
    """Readable cleaned form: NFKC, lower case, collapsed whitespace, no wrapping punctuation."""
    if not isinstance(value, str):
        raise TypeError(f"value strings must be str, got {type(value).__name__}: {value!r}")
    text = unicodedata.normalize("NFKC", value).translate(_QUOTES).lower()
    text = text.replace("&", " and ")
    text = re.sub(r"\s+", " ", text).strip(_STRIP)
    return re.sub(r"\s*-\s*", "-", text)


def _americanise(word: str) -> str:
    if word in _WORDS:
        return _WORDS[word]
    if word in _KEEP:
        return word
    for pattern, repl in _SUFFIXES:
        new = pattern.sub(repl, word)
        if new != word:
            return new
    return word


def _words(cleaned: str) -> list[str]:
    return [_americanise(w) for w in re.findall(r"[a-z0-9']+", cleaned)]


def _singular(word: str) -> str | None:
    if len(word) <= 3 or word.endswith(("ss", "us", "is", "'s")):
        return None
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("ches", "shes", "xes", "sses")):
        return word[:-2]
    if word.endswith("s"):
        return word[:-1]
    return None


def match_key(value: str) -> str:
    """The key two spellings of one value share (rules 1-3; see module docstring)."""
    return "".join(_words(clean(value)))


def plural_key(value: str) -> str | None:
    """Key of the singular form when the final word looks plural, else None (rule 4)."""
    words = _words(clean(value))
    if not words:
        return None
    sing = _singular(words[-1])
    return "".join(words[:-1] + [sing]) if sing else None


def canonical_map(
    values: Iterable[str],
    counts: Mapping[str, float] | None = None,
    preferred: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Map every distinct input string to its normalised ``value_norm``.

    ``counts`` weights the choice of a group's readable spelling; ``preferred``
    maps match keys to a spelling that always wins (the published leaves).
    Empty or punctuation-only strings map to "".
    """
    counts = counts or {}
    preferred = preferred or {}
    distinct = list(dict.fromkeys(values))
    keys = {v: match_key(v) for v in distinct}
    vocab = set(keys.values()) | set(preferred)
    merged: dict[str, str] = {}
    for key in vocab:
        sing = plural_key(key)
        plural_of_known = sing is not None and sing in vocab and sing != key
        merged[key] = sing if plural_of_known and key not in preferred else key
    spelling: dict[str, Counter[str]] = {}
    for v in distinct:
        spelling.setdefault(merged[keys[v]], Counter())[clean(v)] += counts.get(v, 1.0)
    out: dict[str, str] = {}
    for v in distinct:
        group = merged[keys[v]]
        if not group:
            out[v] = ""
        elif group in preferred:
            out[v] = preferred[group]
        else:
            out[v] = max(spelling[group].items(), key=lambda kv: (kv[1], -len(kv[0]), kv[0]))[0]
    return out


def leaf_preferences(leaves: Iterable[tuple[str, float]]) -> dict[str, str]:
    """Match key -> preferred published spelling: the most frequent leaf of each key group."""
    best: dict[str, tuple[float, str]] = {}
    for name, weight in leaves:
        key = match_key(name)
        if key and (key not in best or weight > best[key][0]):
            best[key] = (weight, name)
    return {k: name for k, (_, name) in best.items()}
