"""Secrets in text: API keys, tokens, private keys, found by detect-secrets' detectors, and the
masked form (`sk-…a1b2`) in which tunelint shows one. Nothing tunelint prints or caches holds a
secret in full: a finding's message carries `mask(secret)`, and the rule offers no fix whose text
would repeat it.

detect-secrets' detectors are regular expressions run over every string; with ~25 of them that
costs about a second per megabyte, too much for every line of every file. So each detector has
the literal text its matches must contain (`ghp_` for a GitHub token, `AKIA` for an AWS key id),
one Aho-Corasick automaton finds those in a text in a single pass (`content_scan`), and only the
detectors whose literals occur run. detect-secrets' own high-entropy detectors, which flag any long random string
(ids, hashes, base64 images) wherever it stands, are replaced by its keyword detector with an
entropy bound: a high-entropy value next to `api_key`, `secret`, `token` or `password`.
"""

from __future__ import annotations

import functools
import math
import re
from collections import Counter
from dataclasses import dataclass

# detector class name in detect_secrets.plugins → literals one of which every match contains
TRIGGERS: dict[str, tuple[str, ...]] = {
    "AWSKeyDetector": ("AKIA", "ASIA", "ABIA", "ACCA", "A3T", "aws_", "AWS_"),
    "AzureStorageKeyDetector": ("AccountKey=",),
    "GitHubTokenDetector": ("ghp_", "gho_", "ghu_", "ghs_", "ghr_"),
    "GitLabTokenDetector": ("glpat-", "gldt-", "glft-", "glsoat-", "glrt-", "GR1348941", "glcbt-", "glimt-",
                            "glptt-", "glagent-", "gloas-"),
    "JwtTokenDetector": ("eyJ",),
    "NpmDetector": ("_authToken",),
    "OpenAIDetector": ("T3BlbkFJ",),
    "PrivateKeyDetector": ("PRIVATE KEY", "PuTTY-User-Key-File"),
    "PypiTokenDetector": ("pypi-",),
    "SendGridDetector": ("SG.",),
    "SlackDetector": ("xoxa-", "xoxb-", "xoxp-", "xoxo-", "xoxs-", "xoxr-", "XOX", "hooks.slack.com"),
    "SquareOAuthDetector": ("sq0csp-",),
    "StripeDetector": ("sk_live_", "rk_live_"),
    "BasicAuthDetector": ("://",),
    # kinds detect-secrets has no detector for (tunelint's, in the same form: `_EXTRA`)
    "AnthropicKey": ("sk-ant-",),
    "GoogleApiKey": ("AIza",),
    "HuggingFaceToken": ("hf_",),
}
# a value next to one of these words, quoted or after `=` / `:`, is a secret when its entropy is
# high; the automaton looks for each word (in lower, title and upper case) with what follows it
_WORDS = ("api_key", "apikey", "api-key", "secret", "secret_key", "secret-key", "access_token", "auth_token",
          "token", "password", "passwd")
_AFTER = ("=", ":", " =", " :", '"', "'", "=>")
KEYWORDS = tuple(dict.fromkeys(f"{c}{a}" for w in _WORDS for c in (w, w.title(), w.upper()) for a in _AFTER))
_KEYWORD_VALUE = re.compile(
    r"""(?i)(?:api[_-]?key|secret(?:[_-]?key)?|access[_-]?token|auth[_-]?token|token|password|passwd)"""
    r"""["']?\s*(?:=|:|=>)\s*["']?([A-Za-z0-9+/_\-.=]{16,})""")
# what detect-secrets' BasicAuthDetector needs at the least (its pattern is narrower): most texts
# with "://" are plain URLs, and loading its plugins (which import `requests`) costs ~18 MB
_USERINFO = re.compile(r"://[^\s/@:]+:[^\s/@]+@")
MIN_ENTROPY = 3.5  # bits per character; random base64 of 20+ characters has 4 to 5.5, words below 3.5
PLACEHOLDER = re.compile(r"(?i)^(?:x+|\*+|your|example|sample|dummy|placeholder|changeme|redacted|test)")

_EXTRA = {
    "AnthropicKey": ("Anthropic API key", re.compile(r"sk-ant-(?:api|admin)\d\d-[A-Za-z0-9_\-]{80,120}")),
    "GoogleApiKey": ("Google API key", re.compile(r"AIza[0-9A-Za-z_\-]{35}")),
    "HuggingFaceToken": ("Hugging Face token", re.compile(r"hf_[A-Za-z]{34}")),
}


# the group of a detector's pattern that holds the secret itself (default: the whole match)
_VALUE_GROUP = {"BasicAuthDetector": 1, "AWSKeyDetector": 1, "NpmDetector": 1}


@dataclass(frozen=True, slots=True)
class Secret:
    kind: str  # what detect-secrets calls it: "GitHub Token", "AWS Access Key"
    start: int  # characters of the text
    end: int

    def masked(self, text: str) -> str:
        return mask(text[self.start : self.end])


def mask(secret: str) -> str:
    """The form in which tunelint shows a secret: the kind's prefix (`sk-`, `ghp_`, `AKIA`; else
    its first 3 characters) and its last 4, with "…" between: `sk-…a1b2`. A secret of fewer
    than 16 characters shows only its first 2."""
    if len(secret) < 16:
        return secret[:2] + "…"
    head = next((p for p in _PREFIXES if secret.startswith(p)), secret[:3])
    return f"{head}…{secret[-4:]}"


_PREFIXES = ("sk-ant-", "sk-", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "glpat-", "xoxb-", "xoxp-", "AKIA", "AIza",
             "hf_", "eyJ", "sk_live_", "rk_live_", "pypi-", "SG.")


def entropy(s: str) -> float:
    n = len(s)
    return -sum(c / n * math.log2(c / n) for c in Counter(s).values())


@functools.cache
def _detectors() -> dict:
    from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class

    by_name = {cls.__name__: cls for cls in get_mapping_from_secret_type_to_class().values()}
    out = {}
    for name in TRIGGERS:
        if name in _EXTRA:
            out[name] = _EXTRA[name]
        else:
            cls = by_name[name]
            out[name] = (cls.secret_type, cls())
    return out


def find_secrets(text: str, names: set[str] | None = None) -> list[Secret]:
    """The secrets in `text`, in order, none overlapping another. `names`: the detectors whose
    literals the text holds (`content_scan.scan`), when already known."""
    if names is None:  # no scan made: each literal searched on its own
        names = {n for n, lits in TRIGGERS.items() if any(lit in text for lit in lits)}
        names |= {"keyword"} if any(k in text for k in KEYWORDS) else set()
    if "BasicAuthDetector" in names and not _USERINFO.search(text):
        names = names - {"BasicAuthDetector"}  # a URL without `user:password@`: nothing to load detect-secrets for
    if not names:
        return []
    found: list[Secret] = []
    # detect-secrets (18 MB with the `requests` its plugins import) is loaded only for a literal of
    # one of its detectors: the keyword check, by far the most common sign in prose, is tunelint's
    detectors = _detectors() if names - {"keyword"} else {}
    for name in sorted(names - {"keyword"}):
        kind, det = detectors[name]
        patterns = [det] if isinstance(det, re.Pattern) else det.denylist
        for pattern in patterns:
            for m in pattern.finditer(text):
                g = _VALUE_GROUP.get(name, 0) if m.re.groups else 0
                start, end = m.span(g)
                value = text[start:end]
                if name == "JwtTokenDetector" and not det.is_formally_valid(value):
                    continue
                if name == "BasicAuthDetector" and (len(value) < 6 or PLACEHOLDER.match(value)):
                    continue  # `https://user:pass@host` in documentation
                found.append(Secret(kind, start, end))
    if "keyword" in names:
        for m in _KEYWORD_VALUE.finditer(text):
            v = m.group(1).rstrip(".=")
            if len(v) >= 16 and entropy(v) >= MIN_ENTROPY and not PLACEHOLDER.match(v) and any(c.isdigit() for c in v):
                found.append(Secret("Secret keyword", m.start(1), m.start(1) + len(v)))
    found.sort(key=lambda s: (s.start, -s.end))
    out: list[Secret] = []
    for s in found:
        if not out or s.start >= out[-1].end:
            out.append(s)
    return out
