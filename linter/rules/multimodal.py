"""TL4xx: content parts (text and images)."""

from __future__ import annotations

import re
from collections.abc import Iterator

from ..example import Example
from ..registry import rule
from ..violation import Violation

PART_TYPES = ("text", "image_url")
DATA_URL_RE = re.compile(r"^data:image/(jpeg|jpg|png|webp|gif);base64,[A-Za-z0-9+/]{16}")
HTTP_URL_RE = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)


def _parts(ex: Example):
    for path, m in ex.messages():
        c = m.get("content")
        if isinstance(c, list):
            for i, part in enumerate(c):
                yield path, m, path + ("content", i), part


@rule("TL401", "invalid-content-part", "error", formats={"chat", "preference"}, needs="parts")
def invalid_content_part(ex: Example) -> Iterator[Violation]:
    """A content part is not `{"type": "text", "text": "..."}` or
    `{"type": "image_url", "image_url": {"url": "..."}}`.

    **Why is this bad?** Unknown part types and parts missing their payload are rejected.
    """
    for _, _, p, part in _parts(ex):
        if not isinstance(part, dict):
            yield Violation("a content part must be an object with a `type`", p)
            continue
        t = part.get("type")
        if t not in PART_TYPES:
            yield Violation(f"unknown content part type {t!r}; expected 'text' or 'image_url'",
                            p + ("type",) if "type" in part else p)
        elif t == "text" and not isinstance(part.get("text"), str):
            yield Violation("text part has no string `text`", p)
        elif t == "image_url":
            iu = part.get("image_url")
            if not isinstance(iu, dict) or not isinstance(iu.get("url"), str):
                yield Violation('image part needs `"image_url": {"url": "..."}`',
                                p + ("image_url",) if "image_url" in part else p)
            elif "detail" in iu and iu["detail"] not in ("auto", "low", "high"):
                yield Violation(f"image `detail` must be auto, low or high, not {iu['detail']!r}",
                                p + ("image_url", "detail"))


@rule("TL402", "invalid-image-url", "error", formats={"chat", "preference"}, needs="parts")
def invalid_image_url(ex: Example) -> Iterator[Violation]:
    """An image URL is neither an `http(s)://` URL nor a base64 data URL of a JPEG, PNG, WEBP or
    GIF image (`data:image/png;base64,...`).

    **Why is this bad?** The image cannot be fetched or decoded, and the example is skipped or
    the upload fails. Local file paths do not work: embed the image as a data URL.
    """
    for _, _, p, part in _parts(ex):
        if not isinstance(part, dict) or part.get("type") != "image_url":
            continue
        iu = part.get("image_url")
        url = iu.get("url") if isinstance(iu, dict) else None
        if not isinstance(url, str):
            continue
        up = p + ("image_url", "url")
        if url.startswith("data:"):
            if not DATA_URL_RE.match(url):
                yield Violation("data URL must look like data:image/<jpeg|png|webp|gif>;base64,<data>", up)
        elif not HTTP_URL_RE.match(url):
            what = "a local path" if url.startswith(("/", "./", "file:", "C:\\")) else "not a URL"
            yield Violation(f"image URL is {what}: use https:// or a base64 data URL", up)


@rule("TL403", "image-not-allowed", "error", formats={"chat", "preference"}, needs="parts")
def image_not_allowed(ex: Example) -> Iterator[Violation]:
    """An image where the profile does not allow one: in a profile without vision, or in a
    message other than a user message (OpenAI accepts images in user messages only).
    """
    for _, m, p, part in _parts(ex):
        if isinstance(part, dict) and part.get("type") == "image_url":
            if not ex.profile.allow_images:
                yield Violation(f"the {ex.profile.name} profile does not accept images", p)
            elif m.get("role") != "user":
                yield Violation(f"images are only accepted in user messages, not {m.get('role')!r}", p)


@rule("TL404", "too-many-images", "error", formats={"chat", "preference"}, needs="parts")
def too_many_images(ex: Example) -> Iterator[Violation]:
    """More images in one example than the profile allows (OpenAI: 64)."""
    limit = ex.profile.max_images_per_example
    if not ex.profile.allow_images:
        return
    images = [p for _, _, p, part in _parts(ex) if isinstance(part, dict) and part.get("type") == "image_url"]
    if len(images) > limit:
        yield Violation(f"{len(images)} images in one example; the {ex.profile.name} profile allows {limit}",
                        images[limit])
