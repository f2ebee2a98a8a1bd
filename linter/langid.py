"""Which language a text is written in: lingua (`lingua-language-detector`), whose n-gram models
ship in its wheel, so nothing is downloaded at run time.

A detector over all of lingua's 75 languages in its high-accuracy mode takes 9 s and 1.3 GB to
load; one over the languages below (and any configured in `languages`) in its low-accuracy mode
loads in 0.1 s and 60 MB and decides a sentence in about 0.06 ms (measured here, 2026-12-02).
Low accuracy is lingua's mode for texts of a sentence or more; shorter texts (under
MIN_LETTERS letters) are not judged at all, since their language is often not decidable
("OK.", a number, a name).
"""

from __future__ import annotations

import functools
import re

# the languages a detector tells apart unless `languages` adds others: the most used ones on the web
COMMON = ("en", "de", "fr", "es", "it", "pt", "nl", "ru", "uk", "pl", "cs", "sv", "da", "fi", "tr", "ar", "he",
          "fa", "hi", "bn", "zh", "ja", "ko", "vi", "id", "th", "el", "ro", "hu")
MIN_LETTERS = 40  # texts with fewer letters are not judged
MAX_CHARS = 600  # a text is judged by its first 600 characters of prose: enough to decide
MIN_CONFIDENCE = 0.8  # lingua's confidence below which a text's language is left undecided
MISSING = ("the language rules need lingua: pip install 'tunelint[lang]' (lingua-language-detector)")
_CODE = re.compile(r"```.*?(?:```|$)|`[^`\n]*`", re.S)  # code is no language


class LanguageUnavailable(ValueError):
    """lingua is not installed: the CLI says so (exit 2), naming the extra to install."""


def available() -> bool:
    try:
        import lingua  # noqa: F401
    except ImportError:
        return False
    return True


def check_codes(codes: tuple[str, ...]) -> tuple[str, ...]:
    """`codes`, if each is an ISO 639-1 code lingua knows; else a ValueError naming the first
    that is not."""
    try:
        from lingua import IsoCode639_1
    except ImportError:
        for c in codes:
            if not re.fullmatch(r"[a-z]{2}", c):
                raise ValueError(f"{c!r} is not an ISO 639-1 language code (two letters, e.g. 'en')") from None
        return codes
    for c in codes:
        if not hasattr(IsoCode639_1, c.upper()):
            raise ValueError(f"{c!r} is not an ISO 639-1 code of a language lingua knows (e.g. 'en', 'de')")
    return codes


@functools.cache
def detector(extra: tuple[str, ...] = ()):
    try:
        from lingua import IsoCode639_1, LanguageDetectorBuilder
    except ImportError:
        raise LanguageUnavailable(MISSING) from None
    codes = [getattr(IsoCode639_1, c.upper()) for c in dict.fromkeys(COMMON + extra)]
    return (LanguageDetectorBuilder.from_iso_codes_639_1(*codes).with_low_accuracy_mode()
            .with_preloaded_language_models().build())


def prose(text: str) -> str:
    """The text without its code (fenced blocks and inline code)."""
    return _CODE.sub(" ", text) if "`" in text else text


def letters(text: str) -> int:
    return sum(c.isalpha() for c in text)


def language_of(text: str, extra: tuple[str, ...] = ()) -> str | None:
    """The ISO 639-1 code of the text's language; None when it is too short or undecided."""
    t = prose(text)[:MAX_CHARS]
    if len(t) < MIN_LETTERS or letters(t) < MIN_LETTERS:
        return None
    values = detector(extra).compute_language_confidence_values(t)
    if not values or values[0].value < MIN_CONFIDENCE:
        return None
    return values[0].language.iso_code_639_1.name.lower()


def name_of(code: str) -> str:
    try:
        from lingua import IsoCode639_1, Language

        return Language.from_iso_code_639_1(getattr(IsoCode639_1, code.upper())).name.title()
    except (ImportError, AttributeError):
        return code
