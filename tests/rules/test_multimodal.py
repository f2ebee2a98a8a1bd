"""TL4xx: content parts (text and images)."""

from __future__ import annotations

import pytest

from tunelint.linter.settings import Settings

from ._lint import assert_at, assistant, chat, dumps, none, one, span, user

HF = Settings(tokenizer=None, profile="hf")
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


def test_image_under_a_profile_without_vision_is_not_allowed():
    part = image()
    line = with_parts(part)
    f = one(line, "TL403", MISTRAL)
    assert_at(f, 1, span(line, dumps(part)))
    assert "mistral profile" in f.message


def test_image_in_a_user_message_is_allowed_under_openai_and_hf():
    none(with_parts(image()), "TL403")
    none(with_parts(image()), "TL403", HF)


# -- TL404 too-many-images ---------------------------------------------------------------------


def images(n: int) -> list[dict]:
    return [image(f"https://example.com/{i}.png") for i in range(n)]


def test_more_images_than_the_profile_allows_is_reported_at_the_first_one_over():
    line = chat(user(images(17)), assistant("17 cats."))
    f = one(line, "TL404", HF)
    assert_at(f, 1, span(line, dumps(image("https://example.com/16.png"))))
    assert "17 images" in f.message and "allows 16" in f.message


def test_images_are_counted_across_messages():
    line = chat(user(images(10)), assistant("Ten."), user(images(7)), assistant("Seven."))
    assert one(line, "TL404", HF).message.startswith("17 images")


def test_openai_allows_64_images():
    line = chat(user(images(65)), assistant("Many cats."))
    assert_at(one(line, "TL404"), 1, span(line, dumps(image("https://example.com/64.png"))))
    none(chat(user(images(64)), assistant("Many cats.")), "TL404")


def test_images_at_the_profile_limit_are_not_too_many():
    none(chat(user(images(16)), assistant("16 cats.")), "TL404", HF)
