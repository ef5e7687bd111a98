"""Pattern detectors: each type found with its validator, look-alikes left alone."""

from __future__ import annotations

import pytest

from valuescope.privacy.base import Finding, get_scrubber
from valuescope.privacy.config import PrivacyConfig
from valuescope.privacy.patterns import iban_ok, luhn_ok, merge_spans


@pytest.fixture(scope="module")
def regex():
    return get_scrubber(PrivacyConfig(scrub="regex"))


@pytest.mark.parametrize(
    ("text", "entity", "value"),
    [
        ("write to jane.doe+x@mail.example.co.uk today", "EMAIL", "jane.doe+x@mail.example.co.uk"),
        ("call (591)341-7776 now", "PHONE", "(591)341-7776"),
        ("call +1-780-563-6083x7783 now", "PHONE", "+1-780-563-6083x7783"),
        ("UK 0909 8790666 or", "PHONE", "0909 8790666"),
        ("DE +49(0)0190 842185 or", "PHONE", "+49(0)0190 842185"),
        ("Text 9088963415 when", "PHONE", "9088963415"),
        ("go to https://bob:s3cret@db.example.com/x now", "URL", "https://bob:s3cret@db.example.com/x"),
        ("see https://x.io/a?page=1&access_token=abcd1234ef.", "URL", "https://x.io/a?page=1&access_token=abcd1234ef"),
        ("from 203.0.113.9.", "IP_ADDRESS", "203.0.113.9"),
        ("v6 2001:db8:85a3::8a2e:370:7334 ok", "IP_ADDRESS", "2001:db8:85a3::8a2e:370:7334"),
        ("card 4532 0151 1283 0366, thanks", "CREDIT_CARD", "4532 0151 1283 0366"),
        ("card 4737362018817 1. Next", "CREDIT_CARD", "4737362018817"),
        ("test card 4111 1111 1111 1111 exp 12/29", "CREDIT_CARD", "4111 1111 1111 1111"),  # two distinct digits
        ("pay with 4111111111111111.", "CREDIT_CARD", "4111111111111111"),
        ("IBAN GB82 WEST 1234 5698 7654 32 AND more", "IBAN", "GB82 WEST 1234 5698 7654 32"),
        ("to DE89370400440532013000.", "IBAN", "DE89370400440532013000"),
        ("SSN 805-76-6898.", "GOV_ID", "805-76-6898"),
        ("NI number AB 12 34 56 C.", "GOV_ID", "AB 12 34 56 C"),
        ("my passport number is X16684847.", "GOV_ID", "X16684847"),
        (
            "at 310 Dean Expressway Apt. 459\nMichealmouth, DE 38671 now",
            "STREET_ADDRESS",
            "310 Dean Expressway Apt. 459\nMichealmouth, DE 38671",
        ),
        ("to PSC 9561, Box 7372, APO AE 44429 now", "STREET_ADDRESS", "PSC 9561, Box 7372, APO AE 44429"),
        ("key sk-abcdefghijklmnopqrstuvwx here", "SECRET", "sk-abcdefghijklmnopqrstuvwx"),
    ],
)
def test_finds(regex, text, entity, value):
    found = [(f.entity, text[f.start : f.end]) for f in regex.find(text)]
    assert (entity, value) in found, found


@pytest.mark.parametrize(
    "text",
    [
        "The years 1999-2005 and pi 3.14159265 and 2023-10-15 at 12:30:45",
        "version 1.2.3.4 of the lib; localhost 127.0.0.1; mask 255.255.255.0",
        "count 10 20 30 40 50 60 and 0 1 2 3 4 5 6 7 8 9",
        "share,1,11,0.0043290043,3.162278 and 0.008658009 and 0.4532015112830366",
        "std::vector<int> and a::b",
        "4532 0151 1283 0367 fails Luhn; 0000 0000 0000 0000 is no card",
        "GB82 WEST 1234 5698 7654 33 fails mod-97",
        "see https://en.wikipedia.org/wiki/Privacy and https://example.com/?page=2",
        "the order number X16684847 without context",
        "Already [EMAIL] and [PHONE] and [PERSON] placeholders",
    ],
)
def test_leaves_lookalikes(regex, text):
    assert regex.find(text) == []


def test_gov_id_rules(regex):
    text = "SSN 000-12-3456 and 666-12-3456 are never issued; BG 12 34 56 A is not a NINO"
    assert [f for f in regex.find(text) if f.entity == "GOV_ID"] == []


def test_validators():
    assert luhn_ok("4111111111111111") and not luhn_ok("4111111111111112")
    assert iban_ok("GB82 WEST 1234 5698 7654 32") and not iban_ok("GB82WEST12345698765433")
    assert not iban_ok("XX82WEST12345698765432")


def test_merge_unions_overlaps():
    merged = merge_spans([("PERSON", 5, 15), ("STREET_ADDRESS", 0, 12), ("EMAIL", 20, 30)])
    assert merged == [("STREET_ADDRESS", 0, 15), ("EMAIL", 20, 30)]


def test_scrub_text_is_idempotent_and_typed(regex):
    text = "Mail a.b@c.io, call (415) 555-0134, IBAN DE89370400440532013000."
    once = regex.scrub_text(text)
    assert once == "Mail [EMAIL], call [PHONE], IBAN [IBAN]."
    assert regex.scrub_text(once) == once


def test_entity_list_limits_types():
    s = get_scrubber(PrivacyConfig(scrub="regex", entities=["email"]))
    assert s.scrub_text("a.b@c.io (415) 555-0134") == "[EMAIL] (415) 555-0134"


def test_bad_config_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown scrub mode"):
        PrivacyConfig(scrub="fast")
    with pytest.raises(ValueError, match="unknown privacy entities"):
        get_scrubber(PrivacyConfig(scrub="regex", entities=["SHOE_SIZE"]))
    with pytest.raises(ValueError, match="person names"):
        get_scrubber(PrivacyConfig(scrub="regex", entities=["PERSON"]))


def test_off_mode_changes_nothing():
    s = get_scrubber(PrivacyConfig(scrub="off"))
    assert s.scrub_text("a.b@c.io") == "a.b@c.io"


def test_render_skips_overlaps():
    assert get_scrubber(PrivacyConfig()).render("abcdef", [Finding("X", 0, 3), Finding("Y", 2, 5)]) == "[X]f"


def test_conversations_batch_equals_one_by_one():
    from valuescope.records import Conversation

    from .conftest import sample_rows

    rows = sample_rows(20)
    convs = [Conversation.model_validate({k: r[k] for k in ("id", "messages", "context", "meta")}) for r in rows]
    convs[0].messages[0].content += " my card 4532 0151 1283 0366"
    s = get_scrubber(PrivacyConfig())
    batch = s.scrub_conversations(convs)
    assert batch == [s.scrub_conversation(c) for c in convs]
    assert "[CREDIT_CARD]" in batch[0].messages[0].content and batch[5].id == convs[5].id
