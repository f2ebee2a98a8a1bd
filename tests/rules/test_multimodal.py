"""TL4xx: content parts (text and images)."""

from __future__ import annotations

import pytest

from tunelint.linter.settings import Settings

from ._lint import assert_at, assistant, chat, dumps, none, one, span, user

HF = Settings(tokenizer=None, profile="hf")
TOGETHER = Settings(tokenizer=None, profile="together")
MISTRAL = Settings(tokenizer=None, profile="mistral")
PNG = ("data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kg"
       "AAAABJRU5ErkJggg==")


def image(url: str = "https://example.com/cat.png", **kw) -> dict:
    return {"type": "image_url", "image_url": {"url": url, **kw}}


def text(t: str = "What is in this picture?") -> dict:
    return {"type": "text", "text": t}


def with_parts(*parts) -> str:
    return chat(user([text(), *parts]), assistant("A cat."))


# -- TL401 invalid-content-part ----------------------------------------------------------------


def test_unknown_part_type_is_invalid_content_part_at_the_type():
    line = with_parts({"type": "audio", "audio": "..."})
    f = one(line, "TL401")
    assert_at(f, 1, span(line, '"audio"'))


def test_part_without_type_is_invalid_content_part_at_the_part():
    line = with_parts({"image": "https://example.com/cat.png"})
    assert_at(one(line, "TL401"), 1, span(line, '{"image": "https://example.com/cat.png"}'))


def test_string_part_is_invalid_content_part():
    line = with_parts("and this")
    assert_at(one(line, "TL401"), 1, span(line, '"and this"'))


def test_text_part_without_text_is_invalid_content_part():
    line = with_parts({"type": "text", "content": "hi"})
    assert_at(one(line, "TL401"), 1, span(line, '{"type": "text", "content": "hi"}'))


def test_image_part_with_string_image_url_is_invalid_content_part_at_image_url():
    line = with_parts({"type": "image_url", "image_url": "https://example.com/cat.png"})
    assert_at(one(line, "TL401"), 1, span(line, '"https://example.com/cat.png"'))


def test_image_detail_outside_auto_low_high_is_invalid_content_part():
    line = with_parts(image(detail="medium"))
    assert_at(one(line, "TL401"), 1, span(line, '"medium"'))


@pytest.mark.parametrize("detail", ["auto", "low", "high"])
def test_text_and_image_parts_are_valid_content_parts(detail):
    none(with_parts(image(detail=detail), image(PNG)), "TL401")


# -- TL402 invalid-image-url -------------------------------------------------------------------


def test_local_path_is_invalid_image_url():
    line = with_parts(image("/tmp/cat.png"))
    f = one(line, "TL402")
    assert_at(f, 1, span(line, '"/tmp/cat.png"'))
    assert "local path" in f.message


def test_bare_file_name_is_invalid_image_url():
    line = with_parts(image("cat.png"))
    assert_at(one(line, "TL402"), 1, span(line, '"cat.png"'))


def test_data_url_of_an_unsupported_image_type_is_invalid_image_url():
    url = "data:image/bmp;base64,Qk02AAAAAAAAADYAAAAoAAAA"
    line = with_parts(image(url))
    f = one(line, "TL402")
    assert_at(f, 1, span(line, f'"{url}"'))
    assert "data URL" in f.message


def test_url_with_a_space_is_invalid_image_url():
    line = with_parts(image("https://example.com/my cat.png"))
    assert_at(one(line, "TL402"), 1, span(line, '"https://example.com/my cat.png"'))


@pytest.mark.parametrize("url", ["https://example.com/cat.png", "http://example.com/cat.jpg?size=2", PNG])
def test_http_and_base64_data_urls_are_valid_image_urls(url):
    none(with_parts(image(url)), "TL402")


# -- TL403 image-not-allowed -------------------------------------------------------------------


def test_image_in_an_assistant_message_is_not_allowed():
    part = image()
    line = chat(user(), assistant([part]))
    f = one(line, "TL403")
    assert_at(f, 1, span(line, dumps(part), after='"assistant"'))
    assert "'assistant'" in f.message


@pytest.mark.parametrize("settings", [MISTRAL, HF], ids=["mistral", "hf"])
def test_image_under_a_profile_without_vision_is_not_allowed(settings):
    part = image()
    line = with_parts(part)
    f = one(line, "TL403", settings)
    assert_at(f, 1, span(line, dumps(part)))
    assert f"{settings.profile} profile" in f.message


def test_image_in_a_user_message_is_allowed_under_openai_and_together():
    none(with_parts(image()), "TL403")
    none(with_parts(image(PNG)), "TL403", TOGETHER)


# -- TL404 too-many-images ---------------------------------------------------------------------


def images(n: int) -> list[dict]:
    return [image(f"https://example.com/{i}.png") for i in range(n)]


def test_more_images_than_the_profile_allows_is_reported_at_the_first_one_over():
    line = chat(user(images(11)), assistant("11 cats."))
    f = one(line, "TL404")
    assert_at(f, 1, span(line, dumps(image("https://example.com/10.png"))))
    assert "11 images" in f.message and "allows 10" in f.message


def test_images_are_counted_across_messages():
    line = chat(user(images(6)), assistant("Six."), user(images(5)), assistant("Five."))
    f = one(line, "TL404")
    assert f.message.startswith("11 images")
    assert_at(f, 1, span(line, dumps(image("https://example.com/4.png")), after='"Six."'))


def test_images_at_the_profile_limit_are_not_too_many():
    none(chat(user(images(10)), assistant("10 cats.")), "TL404")


# -- TL405 image-too-large ---------------------------------------------------------------------

TEN_MB = 10 * 1024 * 1024
# a 10 MB image is a 13.3 MB line: over the default max_line_bytes (4 MiB), which skips it (TL014)
BIG_LINES = Settings(tokenizer=None, max_line_bytes=32 * 1024 * 1024)


def data_url(decoded_bytes: int) -> str:
    """A PNG data URL whose base64 payload decodes to `decoded_bytes` (a multiple of 3)."""
    assert decoded_bytes % 3 == 0
    return "data:image/png;base64," + "A" * (decoded_bytes // 3 * 4)


def test_data_url_over_10_mb_is_image_too_large_at_the_url():
    url = data_url(TEN_MB + 2)
    line = with_parts(image(url))
    f = one(line, "TL405", BIG_LINES)
    assert_at(f, 1, span(line, f'"{url}"'))
    assert "allows 10 MB" in f.message


def test_data_url_just_under_10_mb_is_not_too_large():
    none(with_parts(image(data_url(TEN_MB - 1))), "TL405", BIG_LINES)


def test_image_given_by_https_url_is_never_size_checked():
    none(with_parts(image("https://example.com/huge-" + "x" * 100 + ".png")), "TL405", BIG_LINES)
