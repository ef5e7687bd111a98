"""NER mode on real conversation text: names found, patterns kept, nothing reaches the network."""

from __future__ import annotations

import socket

import pytest

from valuescope.privacy import ner
from valuescope.privacy.base import get_scrubber
from valuescope.privacy.config import PrivacyConfig
from valuescope.records import Conversation

from .conftest import sample_rows


@pytest.fixture(scope="module")
def real_texts():
    """First user turns of the bundled sample (real red-team conversations)."""
    return [r["messages"][0]["content"] for r in sample_rows(3)]


@pytest.fixture(scope="module")
def no_network():
    """socket.connect raises for the whole module: loading and scrubbing must stay offline."""
    mp = pytest.MonkeyPatch()

    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args}")

    mp.setattr(socket.socket, "connect", refuse)
    mp.setattr(socket, "create_connection", refuse)
    yield
    mp.undo()


@pytest.fixture(scope="module")
def scrubber(no_network):
    ner._ANALYZERS.clear()  # load inside the no-network fixture
    return get_scrubber(PrivacyConfig(scrub="ner"))


def test_names_in_real_text(scrubber, real_texts):
    texts = [
        f"{real_texts[0]} My name is Sarah Thompson.",
        f"I talked to Rajesh Kumar yesterday. {real_texts[1]}",
        f"{real_texts[2]} Dear Michael O'Connor, thanks for the notes.",
    ]
    out = scrubber.scrub_texts(texts)
    for name, text in zip(["Sarah Thompson", "Rajesh Kumar", "Michael O'Connor"], out, strict=True):
        assert name not in text and "[PERSON]" in text
    assert real_texts[1][:40] in out[1]  # ordinary text survives


def test_patterns_still_found_and_typed(scrubber):
    text = "Barack Obama's office: call (415) 555-0134 or mail press@example.org."
    assert scrubber.scrub_text(text) == "[PERSON]'s office: call [PHONE] or mail [EMAIL]."


def test_find_many_matches_find(scrubber, real_texts):
    texts = [*real_texts, "", "Ask Priya Sharma about it."]
    assert scrubber.find_many(texts) == [scrubber.find(t) for t in texts]


def test_conversation_meta_and_context_scrubbed(scrubber):
    conv = Conversation(
        id="c1",
        model="m",
        messages=[{"role": "user", "content": "I am Tom Hanks, tom@hanks.com"}],
        context="asked by John Miller",
        meta={"notes": ["reach me at 555-123-4567"], "n": 3},
    )
    out = scrubber.scrub_conversation(conv)
    assert out.messages[0].content == "I am [PERSON], [EMAIL]"
    assert out.context == "asked by [PERSON]"
    assert out.meta == {"notes": ["reach me at [PHONE]"], "n": 3}
    assert (out.id, out.model) == ("c1", "m")


def test_regex_mode_is_offline_too(no_network):
    s = get_scrubber(PrivacyConfig(scrub="regex"))
    assert s.scrub_text("mail a@b.co from http://u:p@h.io/x") == "mail [EMAIL] from [URL]"


def test_unknown_model_is_a_clear_error():
    with pytest.raises(RuntimeError, match="not installed"):
        get_scrubber(PrivacyConfig(scrub="ner", ner_model="en_no_such_model"))
