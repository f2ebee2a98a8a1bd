"""TL4xx: content parts (text and images)."""

from __future__ import annotations

import re
from collections.abc import Iterator

from ..example import FORMAT_LABELS, Example
from ..registry import rule
from ..violation import Violation

PART_TYPES = ("text", "image_url")
DATA_URL_RE = re.compile(r"^data:image/([a-z0-9.+-]+);base64,([A-Za-z0-9+/]{16})?")
KNOWN_MEDIA = frozenset({"jpeg", "png", "webp", "gif"})  # what an image URL may be without a profile's own list
HTTP_URL_RE = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)
FORMATS = {"chat", "preference", "prompt_completion"}  # the formats whose turns may hold parts


def _parts(ex: Example):
    """(turn, path, part) for every content part of every turn."""
    for turn in ex.turns():
        for p, part in turn.parts():
            yield turn, p, part


def _images(ex: Example):
    for turn, p, part in _parts(ex):
        if isinstance(part, dict) and part.get("type") == "image_url":
            yield turn, p, part


@rule("TL401", "invalid-content-part", "error", formats=FORMATS, needs="parts")
def invalid_content_part(ex: Example) -> Iterator[Violation]:
    """A content part is not `{"type": "text", "text": "..."}` or
    `{"type": "image_url", "image_url": {"url": "..."}}`.

    **Why is this bad?** Unknown part types and parts missing their payload are rejected.
    """
    for _, p, part in _parts(ex):
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
            if not isinstance(iu, dict) or not isinstance(iu.get("url"), str) or not iu["url"]:
                yield Violation('image part needs `"image_url": {"url": "..."}`',
                                p + ("image_url",) if "image_url" in part else p)
            elif "detail" in iu and iu["detail"] not in ("auto", "low", "high"):
                yield Violation(f"image `detail` must be auto, low or high, not {iu['detail']!r}",
                                p + ("image_url", "detail"))


@rule("TL402", "invalid-image-url", "error", formats=FORMATS, needs="parts")
def invalid_image_url(ex: Example) -> Iterator[Violation]:
    """An image URL is neither an `http(s)://` URL nor a base64 data URL of an image type the
    profile takes (`data:image/png;base64,...`): JPEG, PNG or WEBP for OpenAI and Together (GIF
    too elsewhere); Together takes data URLs only, not `https://` URLs.

    **Why is this bad?** The image cannot be fetched or decoded, and the example is skipped or
    the upload fails. Local file paths do not work: embed the image as a data URL. `image/jpg`
    is not a media type: write `image/jpeg` (Together refuses it; OpenAI does not say, and
    tunelint refuses it there too).
    """
    images = ex.profile.images
    media = images.media_types if images else KNOWN_MEDIA
    for _, p, part in _images(ex):
        iu = part.get("image_url")
        url = iu.get("url") if isinstance(iu, dict) else None
        if not isinstance(url, str) or not url:
            continue
        up = p + ("image_url", "url")
        if url.startswith("data:"):
            m = DATA_URL_RE.match(url)
            if not m or m.group(2) is None:
                yield Violation("data URL must look like data:image/<type>;base64,<data>", up)
            elif m.group(1) not in media:
                hint = " (the media type is image/jpeg)" if m.group(1) == "jpg" else ""
                yield Violation(f"data URL of image/{m.group(1)}{hint}: the {ex.profile.name} profile accepts "
                                f"{', '.join('image/' + t for t in sorted(media))}", up)
        elif not HTTP_URL_RE.match(url):
            what = "a local path" if url.startswith(("/", "./", "file:", "C:\\")) else "not a URL"
            yield Violation(f"image URL is {what}: use https:// or a base64 data URL", up)
        elif images is not None and not images.urls:
            yield Violation(f"the {ex.profile.name} profile takes images as base64 data URLs only: "
                            "download the image and embed it", up)


@rule("TL403", "image-not-allowed", "error", formats=FORMATS, needs="parts")
def image_not_allowed(ex: Example) -> Iterator[Violation]:
    """An image where the profile does not allow one: in a profile without vision, in a format
    it takes text-only (OpenAI's preference data, a completion), or in a message other than a
    user message (OpenAI and Together accept images in user messages and `prompt` only).
    """
    images = ex.profile.images
    name = ex.profile.name
    for turn, p, _ in _images(ex):
        if images is None:
            yield Violation(f"the {name} profile does not accept images", p)
        elif ex.format not in images.formats:
            yield Violation(f"the {name} profile does not accept images in {FORMAT_LABELS[ex.format]} examples", p)
        elif turn.role not in images.roles:
            where = turn.content_path[0] if turn.message is None else f"{turn.role!r} messages"
            also = " and `prompt`" if ex.format == "prompt_completion" else ""
            yield Violation(f"images are only accepted in user messages{also}, not in {where}", p)


@rule("TL404", "too-many-images", "error", formats=FORMATS, needs="parts")
def too_many_images(ex: Example) -> Iterator[Violation]:
    """More images in one example than the profile allows (OpenAI and Together: 10)."""
    images = ex.profile.images
    if images is None:
        return
    found = [p for _, p, _ in _images(ex)]
    if len(found) > images.per_example:
        yield Violation(f"{len(found)} images in one example; the {ex.profile.name} profile allows "
                        f"{images.per_example}", found[images.per_example])


@rule("TL405", "image-too-large", "error", formats=FORMATS, needs="parts")
def image_too_large(ex: Example) -> Iterator[Violation]:
    """An embedded (base64) image is larger than the profile allows (OpenAI and Together: 10 MB
    per image).

    **Why is this bad?** The image is skipped in training, or the upload is refused. Images
    given by URL are not fetched, so their size is not checked. A line longer than
    `max_line_bytes` (4 MiB by default) is not analysed at all (TL014): raise it to check lines
    that embed large images.
    """
    images = ex.profile.images
    if images is None or images.max_bytes is None:
        return
    for _, p, part in _images(ex):
        iu = part.get("image_url")
        url = iu.get("url") if isinstance(iu, dict) else None
        if isinstance(url, str) and url.startswith("data:"):
            comma = url.find(",")
            payload = len(url) - comma - 1 if comma >= 0 else 0
            size = payload * 3 // 4 - url.endswith("=") - url.endswith("==")
            if size > images.max_bytes:
                yield Violation(f"image of {size / 1024 / 1024:.1f} MB; the {ex.profile.name} profile allows "
                                f"{images.max_bytes // 1024 // 1024} MB per image", p + ("image_url", "url"))
