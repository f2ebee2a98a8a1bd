"""Private data in text: e-mail addresses, phone numbers, payment card numbers, IBANs and IP
addresses, each with the check that tells a real one from a look-alike.

The recognisers are those of Microsoft Presidio's analyzer without Presidio itself: Presidio's
phone recogniser is Google's libphonenumber (the `phonenumbers` package, used here the same
way), its card and IBAN recognisers are a pattern plus the Luhn and ISO 7064 checksums (here
from `python-stdnum`), its e-mail and IP recognisers are patterns (the e-mail pattern below is
Presidio's; IP candidates are parsed by the standard library's `ipaddress`). Presidio itself
needs spaCy and a spaCy model downloaded at run time for its names and street addresses; no
recogniser offers those offline, so tunelint does not report them (README, "Why each dependency
is there").

Look-alikes that are not anyone's data are left alone: the documentation domains (example.com,
RFC 2606), private, loopback and documentation IP ranges, the test card numbers of the card
networks' documentation (`4111 1111 1111 1111`), and the fictional 555-01xx phone numbers.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from dataclasses import dataclass

KINDS = ("email", "phone", "card", "iban", "ip")
PLACEHOLDERS = {"email": "EMAIL", "phone": "PHONE", "card": "CARD_NUMBER", "iban": "IBAN", "ip": "IP_ADDRESS"}
LABELS = {"email": "e-mail address", "phone": "phone number", "card": "payment card number", "iban": "IBAN",
          "ip": "IP address"}

# Presidio's EmailRecognizer pattern (presidio_analyzer/predefined_recognizers/email_recognizer.py)
EMAIL_RE = re.compile(r"\b((([!#$%&'*+\-/=?^_`{|}~\w])|([!#$%&'*+\-/=?^_`{|}~\w][!#$%&'*+\-/=?^_`{|}~\.\w]{0,}"
                      r"[!#$%&'*+\-/=?^_`{|}~\w]))[@]\w+([-.]\w+)*\.\w+([-.]\w+)*)\b")
# documentation and test domains (RFC 2606, RFC 6761) and the addresses that are not a person's
RESERVED_DOMAINS = ("example.com", "example.org", "example.net", "example.edu", "test", "example", "invalid",
                    "localhost", "domain.com", "email.com", "company.com", "yourdomain.com", "mail.com")
# 13 to 19 digits, in groups separated by single spaces or dashes (Presidio's CreditCardRecognizer
# accepts the same shapes); the network prefixes are checked with the Luhn sum
CARD_RE = re.compile(r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])")
CARD_PREFIX = re.compile(r"^(?:4|5[1-5]|2[2-7]|3[47]|3[068]|6(?:011|5|4[4-9])|35|62)")
TEST_CARDS = frozenset({"4111111111111111", "4242424242424242", "4012888888881881", "5555555555554444",
                        "5105105105105100", "378282246310005", "371449635398431", "6011111111111117",
                        "4000056655665556", "5200828282828210", "3530111333300000", "4000000000000002"})
IBAN_RE = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b")
IPV6_RE = re.compile(r"(?<![:\w])(?:[0-9A-Fa-f]{1,4}:){2,7}[0-9A-Fa-f:]{1,}(?![:\w])")
PHONE_REGIONS = ("US", "GB", "DE", "FR", "IN", "BR", "ES", "IT")  # Presidio's default regions, and more


@dataclass(frozen=True, slots=True)
class Match:
    kind: str
    start: int
    end: int
    value: str


def _email(text: str) -> list[Match]:
    out = []
    for m in EMAIL_RE.finditer(text):
        domain = m.group(0).rsplit("@", 1)[1].lower()
        if any(domain == d or domain.endswith("." + d) for d in RESERVED_DOMAINS):
            continue
        out.append(Match("email", m.start(), m.end(), m.group(0)))
    return out


def _card(text: str) -> list[Match]:
    from stdnum import luhn

    out = []
    for m in CARD_RE.finditer(text):
        raw = m.group(0)
        seps = {c for c in raw if not c.isdigit()}
        if len(seps) > 1:
            continue
        digits = raw.replace(" ", "").replace("-", "")
        if (13 <= len(digits) <= 19 and digits not in TEST_CARDS and CARD_PREFIX.match(digits)
                and len(set(digits)) > 2 and luhn.is_valid(digits)):
            out.append(Match("card", m.start(), m.end(), raw))
    return out


def _iban(text: str) -> list[Match]:
    from stdnum import iban

    return [Match("iban", m.start(), m.end(), m.group(0)) for m in IBAN_RE.finditer(text)
            if iban.is_valid(m.group(0))]


IPV4_AT = re.compile(r"(?:\d{1,3}\.){3}\d{1,3}(?!\d|\.\d)")  # a sentence's full stop may follow


def _ip(text: str, dotted: list[int], colons: list[int]) -> list[Match]:
    # IPv4: where a digit, a dot and a digit meet (one automaton pass), the address is matched
    # from the start of that digit run, instead of a regular expression walking the whole text
    cands: list[re.Match] = []
    if dotted:
        seen = -1
        for s in dotted:
            start = s
            while start > 0 and text[start - 1].isdigit() and s - start < 3:
                start -= 1
            if start <= seen or (start > 0 and text[start - 1] in ".0123456789"):
                continue
            m = IPV4_AT.match(text, start)
            if m:
                cands.append(m)
                seen = m.end()
    if _ipv6_like(colons):
        cands += IPV6_RE.finditer(text)
    out = []
    for m in cands:
        try:
            addr = ipaddress.ip_address(m.group(0))
        except ValueError:
            continue
        # a person's or a host's address: not private, loopback, documentation or reserved;
        # and not a version number (`v1.2.3.4`, `version 10.0.19041.1`)
        before = text[max(0, m.start() - 9) : m.start()].lower()
        if addr.is_global and not addr.is_multicast and not before.endswith("v") and "version" not in before:
            out.append(Match("ip", m.start(), m.end(), m.group(0)))
    return out


@functools.cache
def _phone_matcher():
    import phonenumbers

    return phonenumbers


def _phone(text: str) -> list[Match]:
    pn = _phone_matcher()
    out: dict[tuple[int, int], Match] = {}
    for region in PHONE_REGIONS:
        for m in pn.PhoneNumberMatcher(text, region, leniency=pn.Leniency.VALID):
            digits = "".join(c for c in m.raw_string if c.isdigit())
            if digits[-7:-2] == "55501":
                continue  # the fictional (North American) 555-01xx numbers
            if not any(s < m.end and m.start < e for s, e in out):
                out[(m.start, m.end)] = Match("phone", m.start, m.end, m.raw_string)
    return list(out.values())


_FINDERS = {"email": _email, "phone": _phone, "card": _card, "iban": _iban}


def _close_pair(dotted: list[int], within: int = 8) -> bool:
    """Whether two digit-dot-digit signs start at most `within` characters apart. Every IPv4
    address has two (the automaton's matches do not overlap: `1.2.3.4` gives `1.2` and `3.4`;
    an address's three dots are at most 4 apart), a decimal number or a version `1.5` one."""
    return len(dotted) > 1 and any(b - a <= within for a, b in zip(dotted, dotted[1:], strict=False))


def _ipv6_like(colons: list[int]) -> bool:
    """Colons as an IPv6 address has them: two adjacent (`::`), or eight groups' seven within the
    39 characters of the longest form."""
    return len(colons) > 1 and (any(b == a + 1 for a, b in zip(colons, colons[1:], strict=False)) or any(
        colons[i + 6] - colons[i] <= 38 for i in range(len(colons) - 6)))


# the kinds whose every match holds a sign the shared scan finds (`content_scan`, `possible`); a
# phone number has none, so every text is searched for one
SIGNED = ("email", "card", "iban", "ip")


def possible(text: str, hits) -> tuple[str, ...]:
    """The SIGNED kinds `text` may hold, from its signs (`content_scan.Hits`): most texts hold
    none, and the recognisers are regular expressions over the whole text."""
    out = []
    if hits.at:
        out.append("email")
    if hits.fours and hits.adjacent_fours():
        runs = hits.runs_of_four()
        if runs >= 3:
            out.append("card")
        if runs >= 2 and not text.islower():
            out.append("iban")
    if _close_pair(hits.dotted) or _ipv6_like(hits.colons):
        out.append("ip")
    return tuple(out)


def find(kind: str, text: str, hits=None, repeated: bool = False) -> list[Match]:
    """The `kind` matches in `text`; `hits`: its `content_scan.scan`, when already made.
    `repeated`: a text that repeats across the dataset (a system prompt): its matches are
    remembered."""
    if kind in SIGNED:
        if hits is None:
            from .content_scan import scan

            hits = scan(text)
        if kind not in possible(text, hits):
            return []
    if repeated:
        from .content_scan import remember

        return remember(_memo, (kind, text), lambda: _match(kind, text, hits))
    return _match(kind, text, hits)


_memo: dict[tuple[str, str], list[Match]] = {}  # (kind, repeated text) → its matches (`find`)


def _match(kind: str, text: str, hits) -> list[Match]:
    return _ip(text, hits.dotted, hits.colons) if kind == "ip" else _FINDERS[kind](text)


def prepare() -> None:
    """Load the phone matcher (libphonenumber's metadata), which searches every text, now (in
    the CLI, before its workers fork). The card and IBAN checks (`python-stdnum`) run only on
    texts with their signs, and load on the first."""
    _phone_matcher()
