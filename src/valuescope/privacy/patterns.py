"""Pattern detectors for personal data: compiled regexes plus validators.

A regex alone over-matches (any 16 digits look like a card), so every
candidate goes through a check that real identifiers pass and noise mostly
fails: Luhn for cards, ISO 13616 mod-97 for IBANs, ``ipaddress`` for IPs,
``phonenumbers`` plus shape rules for phones, issuing rules and context words
for government ids. Each detector yields ``(entity, start, end)`` spans; the
scrubbers merge them. Person names need NER (see :mod:`.ner`).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterator

import phonenumbers

Span = tuple[str, int, int]

# ---------------------------------------------------------------- e-mail ----
EMAIL_RE = re.compile(
    r"(?<![\w.%+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}\b"
)


def find_email(text: str) -> Iterator[Span]:
    for m in EMAIL_RE.finditer(text):
        yield "EMAIL", m.start(), m.end()


# ------------------------------------------------------------------- URL ----
# Only URLs that carry a secret: userinfo (user:pass@) or a token-like query
# parameter. Ordinary links are not personal data and are kept.
URL_RE = re.compile(r"\b(?:[a-z][a-z0-9+.-]{1,15})://[^\s<>\"'`)\]]+", re.IGNORECASE)
USERINFO_RE = re.compile(r"^[a-z][a-z0-9+.-]*://[^/?#\s@]+@", re.IGNORECASE)
TOKEN_PARAM_RE = re.compile(
    r"[?&#;](?:access_?token|id_?token|refresh_?token|auth(?:_?token)?|token|api_?key|apikey|key|secret|"
    r"client_?secret|password|passwd|pwd|pass|sig|signature|session(?:_?id)?|sid|code|x-amz-signature|"
    r"x-amz-credential|jwt)=[^&#\s]{4,}",
    re.IGNORECASE,
)


def find_url(text: str) -> Iterator[Span]:
    for m in URL_RE.finditer(text):
        url = m.group(0).rstrip(".,;:!?")
        if USERINFO_RE.match(url) or TOKEN_PARAM_RE.search(url):
            yield "URL", m.start(), m.start() + len(url)


# ---------------------------------------------------------------- secret ----
SECRET_RE = re.compile(
    r"\b(?:sk-(?:proj-|ant-)?[A-Za-z0-9_-]{20,}|AKIA[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{30,}|"
    r"github_pat_[A-Za-z0-9_]{30,}|xox[abprs]-[A-Za-z0-9-]{10,}|AIza[0-9A-Za-z_-]{35}|"
    r"eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,})"
    r"|(?<=Bearer )[A-Za-z0-9._~+/-]{20,}=*"
)


def find_secret(text: str) -> Iterator[Span]:
    for m in SECRET_RE.finditer(text):
        yield "SECRET", m.start(), m.end()


# ------------------------------------------------------------ IP address ----
IPV4_RE = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?!\d|\.\d)")
IPV6_RE = re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])")


def find_ip(text: str) -> Iterator[Span]:
    for m in IPV4_RE.finditer(text):
        try:
            ip = ipaddress.IPv4Address(m.group(0))
        except ValueError:
            continue
        if re.search(r"\b(?:version|ver|v)\.?\s?$", text[max(0, m.start() - 9) : m.start()], re.IGNORECASE):
            continue
        if not (ip.is_loopback or ip.is_unspecified or ip.is_multicast or ip.is_reserved or _is_netmask(ip)):
            yield "IP_ADDRESS", m.start(), m.end()
    for m in IPV6_RE.finditer(text):
        s = m.group(0)
        if s.count(":") < 2 or sum(1 for g in s.split(":") if g) < 3:
            continue  # "a::b", times, C++ scopes
        try:
            ip6 = ipaddress.IPv6Address(s)
        except ValueError:
            continue
        if not (ip6.is_loopback or ip6.is_unspecified):
            yield "IP_ADDRESS", m.start(), m.end()


def _is_netmask(ip: ipaddress.IPv4Address) -> bool:
    bits = f"{int(ip):032b}"
    return "01" not in bits and bits.startswith("1")


# ----------------------------------------------------------- credit card ----
CARD_RE = re.compile(r"(?<![\d.,-])\d(?:[ -]?\d){11,18}(?![\d-]|[.,]\d|e-?\d)")
CARD_PREFIX_RE = re.compile(r"^(?:4|5[0-8]|2[2-7]|3[0-8]|6[0-9]|0604|2131|1800)")


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def trimmed(start: int, s: str, max_drop: int = 2, max_group: int = 3) -> Iterator[tuple[int, int]]:
    """(start, end) of ``s`` and of ``s`` minus up to ``max_drop`` short groups at either end.

    A greedy regex swallows a neighbouring number ("4737362018817 1. Next");
    validators then see the right candidate among these, longest first. Only
    groups of at most ``max_group`` characters are dropped, so a 4-4-4-4 digit
    run that fails Luhn does not turn into a "phone number" of its last groups.
    """
    cuts = [0] + [i + 1 for i, ch in enumerate(s) if ch in " -.\t" and i + 1 < len(s) and s[i + 1] not in " -.\t"]
    ends = cuts[1:] + [len(s) + 1]
    short = [ends[i] - 1 - cuts[i] <= max_group for i in range(len(cuts))]
    lefts = [0] + [i for i in range(1, min(max_drop, len(cuts) - 1) + 1) if all(short[:i])]
    rights = [0] + [j for j in range(1, min(max_drop, len(cuts) - 1) + 1) if all(short[len(cuts) - j :])]
    bounds = sorted(
        {(cuts[a], (cuts[len(cuts) - b] - 1) if b else len(s)) for a in lefts for b in rights if a + b < len(cuts)},
        key=lambda x: x[0] - x[1],
    )
    for a, b in bounds:
        sub = s[a:b].strip(" -.\t")
        if sub:
            off = a + s[a:b].index(sub)
            yield start + off, start + off + len(sub)


def _in_decimal(text: str, start: int) -> bool:
    """The fraction digits of a number like 0.0043290043 are not an identifier."""
    return start > 1 and text[start - 1] in ".," and text[start - 2].isdigit()


def _card_ok(candidate: str) -> bool:
    digits = re.sub(r"\D", "", candidate)
    return 12 <= len(digits) <= 19 and bool(CARD_PREFIX_RE.match(digits)) and luhn_ok(digits)


def find_card(text: str) -> Iterator[Span]:
    for m in CARD_RE.finditer(text):
        for s, e in trimmed(m.start(), m.group(0)):
            if _in_decimal(text, s):
                continue
            if _card_ok(text[s:e]):
                yield "CREDIT_CARD", s, e
                break


# ------------------------------------------------------------------ IBAN ----
IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BR": 29,
    "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20, "EG": 29,
    "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28,
    "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20,
    "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19,
    "MR": 27, "MT": 31, "MU": 30, "NL": 18, "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29,
    "RO": 24, "RS": 22, "SA": 24, "SC": 31, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "ST": 25, "SV": 28,
    "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}  # fmt: skip
IBAN_HEAD_RE = re.compile(r"\b([A-Za-z]{2})\d{2}(?=[ ]?[A-Za-z0-9])")


def iban_ok(iban: str) -> bool:
    iban = iban.replace(" ", "").upper()
    if IBAN_LENGTHS.get(iban[:2]) != len(iban):
        return False
    moved = iban[4:] + iban[:4]
    return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1


def find_iban(text: str) -> Iterator[Span]:
    for m in IBAN_HEAD_RE.finditer(text):
        want = IBAN_LENGTHS.get(m.group(1).upper())
        if want is None:
            continue
        # Walk exactly `want` alphanumerics (single spaces allowed between them).
        count, i = 0, m.start()
        while i < len(text) and count < want:
            if text[i].isascii() and text[i].isalnum():
                count += 1
            elif not (text[i] == " " and count and i + 1 < len(text) and text[i + 1] != " "):
                break
            i += 1
        if count == want and not (i < len(text) and text[i].isalnum()) and iban_ok(text[m.start() : i]):
            yield "IBAN", m.start(), i


# ------------------------------------------------------- government ids ----
SSN_RE = re.compile(r"(?<![\d-])(\d{3})-(\d{2})-(\d{4})(?![\d-])")
SSN_BARE_RE = re.compile(r"(?<!\d)(\d{3})[ ]?(\d{2})[ ]?(\d{4})(?!\d)")
NINO_RE = re.compile(
    r"\b(?!BG|GB|NK|KN|TN|NT)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b"
    r"|\b(?!BG|GB|NK|KN|TN|NT)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{6} ?[A-D]\b"
)
GOV_CONTEXT_RE = re.compile(
    r"(?:passport|ssn|social security|tax id|taxpayer|\btin\b|\bein\b|\bitin\b|national id|id card|identity card|"
    r"driver'?s? licen[cs]e|licen[cs]e (?:no|number)|insurance number|\bnino\b|personalausweis|"
    r"steuer-?id|id number|identification number)\W{0,3}(?:(?:no|num|number|#|is|was|:)\W{0,3}){0,3}$",
    re.IGNORECASE,
)
ID_TOKEN_RE = re.compile(r"(?<![\w-])(?=[A-Z0-9-]*\d)[A-Z0-9][A-Z0-9-]{4,14}[A-Z0-9](?![\w-])")


def _ssn_ok(area: str, group: str, serial: str) -> bool:
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


def find_gov_id(text: str) -> Iterator[Span]:
    for m in SSN_RE.finditer(text):
        if _ssn_ok(*m.groups()):
            yield "GOV_ID", m.start(), m.end()
    for m in NINO_RE.finditer(text):
        yield "GOV_ID", m.start(), m.end()
    # Passport, licence, tax and undashed SSNs only after a context word.
    for m in ID_TOKEN_RE.finditer(text):
        ctx = GOV_CONTEXT_RE.search(text[max(0, m.start() - 40) : m.start()])
        if not ctx:
            continue
        ssn = SSN_BARE_RE.fullmatch(m.group(0).replace("-", ""))
        if ssn and re.search(r"ssn|social", ctx.group(0), re.IGNORECASE) and not _ssn_ok(*ssn.groups()):
            continue  # "SSN 000-12-3456" is never issued; a 9-digit passport number is fine
        yield "GOV_ID", m.start(), m.end()


# ----------------------------------------------------------------- phone ----
PHONE_RE = re.compile(
    r"(?<![\w+.])(?:(?:\+|00)\d{1,3}[ .-]?)?(?:\(0\)[ .-]?)?(?:\(\d{1,5}\)[ .-]?)?\d{1,14}(?:[ .-]\d{1,10}){0,5}"
    r"(?:\s?(?:x|ext\.?|extension)\s?\d{1,6})?(?![\w])",
    re.IGNORECASE,
)
NANP_RE = re.compile(r"^(?:1[\s.-])?\d{3}[\s.-]\d{3}[\s.-]\d{4}\b")
PHONE_CONTEXT_RE = re.compile(
    r"(?:phone|call|tel|telephone|mobile|cell|fax|whatsapp|text|sms|reach me|contact)\W{0,3}(?:\w+\W{0,3}){0,2}$",
    re.IGNORECASE,
)
BARE_NANP_RE = re.compile(r"^[2-9]\d{2}[2-9]\d{6}$")
EXT_RE = re.compile(r"\s?(?:x|ext\.?|extension)\s?\d{1,6}$", re.IGNORECASE)


def _phone_ok(cand: str, before: str) -> bool:
    main = EXT_RE.sub("", cand)
    digits = re.sub(r"\D", "", main)
    if not 7 <= len(digits) <= 15 or len(set(digits)) < 3:
        return False
    if main.startswith(("+", "00")) and len(digits) >= 8:
        try:
            num = phonenumbers.parse("+" + digits[2:] if main.startswith("00") else main, None)
            if phonenumbers.is_possible_number(num):
                return True
        except phonenumbers.NumberParseException:
            pass
        if main.startswith("+"):
            return False
    groups = [g for g in re.split(r"[^\d]+", main) if g]
    if min(len(g) for g in groups) < 2:
        return bool(PHONE_CONTEXT_RE.search(before))  # "0 1 2 3 ...", "1.5 2"
    has_sep = len(groups) > 1
    if not has_sep and (BARE_NANP_RE.match(digits) or (digits[0] == "0" and 10 <= len(digits) <= 11)):
        return True  # 2125550134, 0143462102: national numbers written without spaces
    if "(" in main and len(digits) >= 9:
        return True
    if NANP_RE.match(main):
        return True
    if main.startswith("0") and has_sep and 9 <= len(digits) <= 12 and not re.match(r"^0\d?[.]", main):
        return True
    return bool(PHONE_CONTEXT_RE.search(before)) and len(digits) >= 7


def find_phone(text: str) -> Iterator[Span]:
    for m in PHONE_RE.finditer(text):
        for s, e in trimmed(m.start(), m.group(0)):
            if _in_decimal(text, s):
                continue
            if _phone_ok(text[s:e], text[max(0, s - 30) : s]):
                yield "PHONE", s, e
                break


# -------------------------------------------------------- street address ----
# USPS Publication 28 street suffixes (full names and standard abbreviations).
STREET_SUFFIXES = (
    "Alley Aly Annex Arcade Avenue Ave Av Bayou Beach Bend Bluff Bluffs Bottom Boulevard Blvd Branch Bridge Brook "
    "Brooks Burg Burgs Bypass Camp Canyon Cape Causeway Center Centers Circle Cir Circles Cliff Cliffs Close Club "
    "Common Commons Corner Corners Course Court Ct Courts Cove Coves Creek Crescent Cres Crest Crossing Crossroad "
    "Crossroads Curve Dale Dam Divide Drive Dr Drives Estate Estates Expressway Expy Extension Extensions Fall Falls "
    "Ferry Field Fields Flat Flats Ford Fords Forest Forge Forges Fork Forks Fort Freeway Fwy Garden Gardens Gateway "
    "Glen Glens Green Greens Grove Groves Harbor Harbors Haven Heights Hts Highway Hwy Hill Hills Hollow Inlet "
    "Island Islands Isle Junction Junctions Key Keys Knoll Knolls Lake Lakes Land Landing Lane Ln Light Lights Loaf "
    "Lock Locks Lodge Loop Mall Manor Manors Meadow Meadows Mews Mill Mills Mission Motorway Mount Mountain "
    "Mountains Neck Orchard Oval Overpass Park Parks Parkway Pkwy Parkways Pass Passage Path Pike Pine Pines Place "
    "Pl Plain Plains Plaza Point Points Port Ports Prairie Radial Ramp Ranch Rapid Rapids Rest Ridge Ridges River "
    "Road Rd Roads Route Row Rue Run Shoal Shoals Shore Shores Skyway Spring Springs Spur Spurs Square Sq Squares "
    "Station Stravenue Stream Street St Streets Summit Terrace Ter Throughway Trace Track Trafficway Trail Trl "
    "Tunnel Turnpike Underpass Union Unions Valley Valleys Via Viaduct View Views Village Villages Ville Vista Walk "
    "Walks Wall Way Ways Well Wells Strasse Straße"
).split()
_SUFFIX = "|".join(sorted(set(STREET_SUFFIXES), key=len, reverse=True))
STREET_RE = re.compile(
    rf"(?<![\w.,-])\d{{1,6}}[A-Za-z]?,?\s(?:(?:[NSEW]|North|South|East|West|NE|NW|SE|SW)\.?\s)?"
    rf"(?:[A-Z][A-Za-z'.-]*\s){{0,3}}(?:{_SUFFIX})\b\.?"
    rf"(?:,?\s(?:Apt\.?|Apartment|Suite|Ste\.?|Unit|Flat|Floor|Fl\.?|Room|#)\s?#?[\w-]{{1,6}}\b)?"
    rf"(?:(?:,\s?|\n)(?:[A-Z][A-Za-z'.-]*\s){{0,3}}[A-Z][A-Za-z'.-]*,?\s[A-Z]{{2}}\s\d{{5}}(?:-\d{{4}})?\b"
    rf"|(?:,\s?|\n)[A-Z]{{1,2}}\d[A-Z\d]?\s?\d[A-Z]{{2}}\b)?"
)
MILITARY_RE = re.compile(
    r"\b(?:PSC|Unit|USNS|USNV|USS|USCGC|CMR)\s[\w ]{1,30}?,?\s(?:Box\s\d{1,6},?\s)?(?:APO|FPO|DPO)\s(?:AA|AE|AP)\s\d{5}\b"
)


def find_street_address(text: str) -> Iterator[Span]:
    for m in STREET_RE.finditer(text):
        yield "STREET_ADDRESS", m.start(), m.end()
    for m in MILITARY_RE.finditer(text):
        yield "STREET_ADDRESS", m.start(), m.end()


# -------------------------------------------------------------- registry ----
DETECTORS: dict[str, Callable[[str], Iterator[Span]]] = {
    "EMAIL": find_email,
    "URL": find_url,
    "SECRET": find_secret,
    "IP_ADDRESS": find_ip,
    "CREDIT_CARD": find_card,
    "IBAN": find_iban,
    "GOV_ID": find_gov_id,
    "PHONE": find_phone,
    "STREET_ADDRESS": find_street_address,
}
PATTERN_ENTITIES: tuple[str, ...] = tuple(DETECTORS)
NER_ENTITIES: tuple[str, ...] = ("PERSON",)
ALL_ENTITIES: tuple[str, ...] = PATTERN_ENTITIES + NER_ENTITIES
# On overlap (after pattern-before-PERSON and length) the earlier type here names the merged span.
PRIORITY = {e: i for i, e in enumerate(("URL", "EMAIL", "SECRET", "IBAN", "CREDIT_CARD", "GOV_ID", "IP_ADDRESS",
                                        "PHONE", "STREET_ADDRESS", "PERSON"))}  # fmt: skip
PLACEHOLDER_RE = re.compile(r"\[(?:" + "|".join(ALL_ENTITIES) + r")\]")


def find_patterns(text: str, entities: tuple[str, ...] | list[str] = PATTERN_ENTITIES) -> list[Span]:
    """Every pattern span of the requested types, possibly overlapping."""
    spans: list[Span] = []
    for entity in entities:
        detector = DETECTORS.get(entity)
        if detector is not None:
            spans.extend(detector(text))
    return spans


def _rank(span: Span) -> tuple[bool, int, int]:
    """Validated pattern types beat PERSON (NER guesses), then the longer span, then PRIORITY."""
    return (span[0] != "PERSON", span[2] - span[1], -PRIORITY.get(span[0], 99))


def merge_spans(spans: list[Span]) -> list[Span]:
    """Overlapping spans become one span covering their union, typed by its best member (:func:`_rank`).

    Taking the union (not just the winner) guarantees that no fragment of a
    partly overlapped finding survives next to a placeholder.
    """
    out: list[Span] = []
    best: Span | None = None
    for span in sorted(spans, key=lambda s: (s[1], -s[2])):
        if out and span[1] < out[-1][2]:
            entity, start, end = out[-1]
            assert best is not None
            if _rank(span) > _rank(best):
                best = span
            out[-1] = (best[0], start, max(end, span[2]))
        else:
            best = span
            out.append(span)
    return out
