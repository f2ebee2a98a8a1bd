"""Conformance of the `together` profile with Together AI's fine-tuning data checks.

Sources: the client's file check, run before every upload (`files.upload(..., check=True)`):
together-python src/together/utils/files.py and src/together/constants.py @ eba5e5f (the v2
SDK together-py src/together/lib/utils/files.py @ a7cab74 holds the same checks), and the docs:
data preparation, vision, function calling and preference tuning on docs.together.ai.
"""

from __future__ import annotations

from tests.profiles._conformance import Case
from tests.rules._lint import WEATHER_TOOL, assistant, call, system, tool_answer, user

PROFILE = "together"

CLIENT = "github.com/togethercomputer/together-python src/together/utils/files.py @ eba5e5f"
CONSTANTS = "github.com/togethercomputer/together-python src/together/constants.py @ eba5e5f"
DATA_PREP = "https://docs.together.ai/docs/fine-tuning/data-preparation"
VISION = "https://docs.together.ai/docs/fine-tuning/vision"
FUNCTIONS = "https://docs.together.ai/docs/fine-tuning/function-calling"
PREFERENCE = "https://docs.together.ai/docs/fine-tuning/preference-tuning"

# a real 1x1 PNG
PNG = ("data:image/png;base64,"
       "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==")


def text(t: str) -> dict:
    return {"type": "text", "text": t}


def image(url: str = PNG) -> dict:
    return {"type": "image_url", "image_url": {"url": url}}


def vision(*images: dict, question: str = "What is in this picture?", answer: str = "A single white pixel.",
           **user_keys) -> dict:
    """user (text + images) -> assistant, every content an array of parts (Together's vision
    format: one form per conversation)."""
    return {"messages": [{"role": "user", "content": [text(question), *images], **user_keys},
                         {"role": "assistant", "content": [text(answer)]}]}


def chat(*messages: dict, **extra) -> dict:
    return {"messages": list(messages) or [user(), assistant()], **extra}


def preference(input_messages: list[dict] | None = None, preferred: list[dict] | None = None,
               non_preferred: list[dict] | None = None, **input_keys) -> dict:
    return {"input": {"messages": input_messages or [user()], **input_keys},
            "preferred_output": preferred or [assistant("Paris.")],
            "non_preferred_output": non_preferred or [assistant("Lyon.")]}


TOOL_CHAT = chat(user("Weather in Paris?"), assistant(None, tool_calls=[call()]), tool_answer(),
                 assistant("It is 18 °C in Paris."), tools=[WEATHER_TOOL])

CASES: list[Case] = [
    # -- the four formats ------------------------------------------------------------------------
    Case("conversational-clean", chat(system(), user(), assistant()), "clean",
         f"{DATA_PREP} (conversational format); {CLIENT} validate_messages",
         "accepts: `messages`, a list of system/user/assistant messages with `role` and `content`"),
    Case("instruction-clean", {"prompt": "Capital of France?", "completion": "Paris."}, "clean",
         f"{DATA_PREP} (instruction format); {CONSTANTS} JSONL_REQUIRED_COLUMNS_MAP[INSTRUCTION]",
         "accepts: the instruction format, `prompt` and `completion`"),
    Case("general-text-clean", {"text": "Paris is the capital of France."}, "clean",
         f"{DATA_PREP} (generic text format); {CONSTANTS} JSONL_REQUIRED_COLUMNS_MAP[GENERAL]",
         "accepts: the general format, a single `text` field (not masked)"),
    Case("preference-clean", preference(), "clean",
         f"{PREFERENCE}; {CLIENT} validate_preference_openai",
         "accepts: `input.messages`, and `preferred_output` / `non_preferred_output` each holding one "
         "assistant message"),
    Case("preference-input-may-start-with-assistant",
         preference([assistant("Hello, how can I help?"), user()]), "clean",
         f"{PREFERENCE} (the docs' own example); {CLIENT} validate_preference_openai",
         "accepts: the docs' example input starts with an assistant message, then a user message"),
    # -- keys on the example ---------------------------------------------------------------------
    Case("extra-key-on-example-refused", chat(id="ex-1"), "error",
         f"{CLIENT} _check_jsonl (since 7529a38, 'Add check for unneeded jsonl columns')",
         'refuses: "Found extra column \\"id\\" in the line 1."', rule="TL106"),
    Case("extra-key-on-text-refused", {"text": "Paris is the capital of France.", "meta": {"src": "wiki"}},
         "error", f"{CLIENT} _check_jsonl",
         'refuses: "Found extra column \\"meta\\""; the top-level keys must be exactly the format\'s',
         rule="TL106"),
    Case("two-formats-on-one-line-refused", {"text": "Paris.", "messages": [user(), assistant()]}, "error",
         f"{CLIENT} _check_jsonl; {DATA_PREP}",
         'refuses: "Found extra column \\"messages\\"" (docs: "If the same file has two possible formats '
         '(for example both `text` and `messages`), the server rejects it")', rule="TL106"),
    Case("tools-accepted", TOOL_CHAT, "clean",
         f"{FUNCTIONS}; {CLIENT} _check_jsonl",
         "accepts (docs): \"`tools`: A list of available tools for the example\"; assistant messages "
         "\"can include `tool_calls` ... in place of `content`\" and \"Tool results come back via messages "
         "with the `tool` role\". The older client check refused the same line (\"Found extra column "
         "\\\"tools\\\"\", and role `tool` as invalid); tunelint follows the documented server format"),
    Case("tools-in-preference-input-accepted", preference(tools=[WEATHER_TOOL]), "clean",
         f"{FUNCTIONS}",
         'accepts: "For preference fine-tuning, the `tools` array nests inside `input`."'),
    # -- roles and order -------------------------------------------------------------------------
    Case("role-function-refused", chat(user(), {"role": "function", "name": "f", "content": "{}"}, assistant()),
         "error", f"{CLIENT} _check_message_role; {CONSTANTS} POSSIBLE_ROLES_CONVERSATION",
         'refuses: "Invalid role `function` ... Possible roles: system, user, assistant" (plus `tool`, '
         "from the function-calling docs)", rule="TL104"),
    Case("role-developer-refused", chat({"role": "developer", "content": "Be brief."}, user(), assistant()),
         "error", f"{CLIENT} _check_message_role; {CONSTANTS} POSSIBLE_ROLES_CONVERSATION",
         'refuses: "Invalid role `developer` ... Possible roles: system, user, assistant"', rule="TL104"),
    Case("two-user-messages-in-a-row-refused", chat(user("Hi."), user(), assistant()), "error",
         f"{CLIENT} _check_conversation_roles; {DATA_PREP}",
         'refuses: "After the optional system message, conversation roles must alternate between '
         'user/assistant/user/assistant."', rule="TL204"),
    Case("no-assistant-message-refused", chat(system(), user()), "error",
         f"{CLIENT} validate_messages (require_assistant_role for fine-tune purpose)",
         'refuses: "At least one message with the assistant role must be present in the example."',
         rule="TL201"),
    # -- weight ----------------------------------------------------------------------------------
    Case("weight-on-user-message-accepted", chat(user(weight=1), assistant(weight=1)), "clean",
         f"{CLIENT} _check_message_weight; {DATA_PREP}",
         "accepts: `weight` on any message, an integer 0 or 1 (\"Only 0 and 1 are supported, and messages "
         "with weight=0 are masked.\")"),
    Case("weight-0-masks-an-assistant-turn", chat(user("Hi."), assistant("Hello!", weight=0), user(), assistant()),
         "clean", f"{CLIENT} _check_message_weight; {DATA_PREP}",
         'accepts: "messages with weight=0 are masked"; weight may be set on only some messages'),
    Case("weight-float-refused", chat(user(), assistant(weight=1.0)), "error",
         f"{CLIENT} _check_message_weight (test_check_jsonl_invalid_weight_float)",
         'refuses: "Weight must be an integer on line 1."', rule="TL108"),
    Case("weight-2-refused", chat(user(), assistant(weight=2)), "error",
         f"{CLIENT} _check_message_weight",
         'refuses: "Weight must be either 0 or 1 on line 1."', rule="TL108"),
    Case("weight-true-refused", chat(user(), assistant(weight=True)), "error",
         f"{CLIENT} _check_message_weight; {DATA_PREP}",
         "accepts: the client's `isinstance(weight, int)` and `weight not in {0, 1}` let `true` through "
         "(a Python bool is an int); the docs say \"Only 0 and 1 are supported\"",
         rule="TL108",
         differs="stricter: `true` is not one of the documented 0 and 1; the client takes it only because "
                 "Python bools are ints, and what the server does with it is not stated"),
    Case("weight-1-on-message-with-image-refused", vision(image(), weight=1), "error",
         f"{CLIENT} _check_message_weight / validate_messages (eba5e5f)",
         'refuses: "Messages with images cannot have non-zero weights."', rule="TL108"),
    Case("weight-0-on-message-with-image-accepted", vision(image(), weight=0), "clean",
         f"{CLIENT} validate_messages (eba5e5f)",
         "accepts: a message with images may have weight 0 (only non-zero weights are refused)"),
    # -- content forms ---------------------------------------------------------------------------
    Case("mixed-string-and-array-content-refused",
         chat(system(), {"role": "user", "content": [text("Capital of France?")]}, assistant()), "error",
         f"{CLIENT} validate_messages (eba5e5f)",
         'refuses: "Messages in the conversation must be either all in multimodal or all in text-only format."',
         rule="TL208"),
    Case("all-array-content-clean",
         chat({"role": "system", "content": [text("You are a geography tutor.")]},
              {"role": "user", "content": [text("Capital of France?")]},
              {"role": "assistant", "content": [text("Paris.")]}), "clean",
         f"{CLIENT} _check_message_content (eba5e5f)",
         "accepts: content as a list of `text` parts on every message (a list counts as multimodal)"),
    # -- images ----------------------------------------------------------------------------------
    Case("image-in-user-message-clean", vision(image()), "clean",
         f"{VISION}; {CLIENT} _check_message_content (eba5e5f)",
         'accepts: images in user messages as "data:image/png;base64," data URLs ("Supported formats: PNG, '
         'JPEG, WEBP")'),
    Case("image-https-url-refused", vision(image("https://example.com/cat.png")), "error",
         f"{VISION}; {CLIENT} _check_message_content (eba5e5f)",
         "refuses: the URL must start with data:image/jpeg;base64, data:image/png;base64, or "
         'data:image/webp;base64, (docs: "If your data references URLs, download and encode the images first.")',
         rule="TL402"),
    Case("image-gif-refused", vision(image(PNG.replace("image/png", "image/gif"))), "error",
         f"{VISION}; {CLIENT} _check_message_content (eba5e5f)",
         'refuses: only jpeg, png and webp data URLs ("Supported formats: PNG, JPEG, WEBP")', rule="TL402"),
    Case("image-jpg-media-type-refused", vision(image(PNG.replace("image/png", "image/jpg"))), "error",
         f"{CLIENT} _check_message_content (eba5e5f)",
         "refuses: the prefix must be data:image/jpeg;base64, (image/jpg matches none of the accepted prefixes)",
         rule="TL402"),
    Case("image-in-assistant-message-refused",
         {"messages": [{"role": "user", "content": [text("Draw a pixel.")]},
                       {"role": "assistant", "content": [text("Here:"), image()]}]}, "error",
         f"{VISION}; {CLIENT} _check_message_content (eba5e5f)",
         'refuses: "only user messages can contain images."', rule="TL403"),
    Case("ten-images-clean", vision(*[image()] * 10), "clean",
         f"{VISION}; {CONSTANTS} MAX_IMAGES_PER_EXAMPLE",
         'accepts: "Per-example image limit: 10 images" (MAX_IMAGES_PER_EXAMPLE = 10)'),
    Case("eleven-images-refused", vision(*[image()] * 11), "error",
         f"{VISION}; {CONSTANTS} MAX_IMAGES_PER_EXAMPLE; {CLIENT} validate_messages",
         "refuses: more than MAX_IMAGES_PER_EXAMPLE = 10 images in an example", rule="TL404"),
    Case("image-over-10-mb-refused",
         vision(image("data:image/png;base64,iVBORw0KGgo" + "A" * 14_000_000)), "error",
         f"{VISION}; {CONSTANTS} MAX_IMAGE_BYTES, MAX_BASE64_IMAGE_LENGTH; {CLIENT} _check_message_content",
         'refuses: a data URL longer than MAX_BASE64_IMAGE_LENGTH (13,981,036 chars, MAX_IMAGE_BYTES = 10MB; '
         'docs: "Per-image size: 10 MB")', rule="TL405", max_line_bytes=32 * 1024 * 1024),
    Case("prompt-parts-with-image-clean",
         {"prompt": [text("What is in this picture?"), image()], "completion": [text("A single white pixel.")]},
         "clean", f"{VISION} (instruction example); {CLIENT} _check_jsonl / _check_message_content(role='user')",
         "accepts: `prompt` and `completion` as arrays of parts, images in `prompt`"),
    Case("image-in-completion-refused",
         {"prompt": [text("Draw a pixel.")], "completion": [text("Here:"), image()]}, "error",
         f"{CLIENT} _check_jsonl / _check_message_content(role='assistant')",
         'refuses: `completion` is checked as an assistant message: "only user messages can contain images."',
         rule="TL403"),
    Case("image-in-preference-output-refused",
         preference([{"role": "user", "content": [text("What is this?"), image()]}],
                    [{"role": "assistant", "content": [text("A pixel."), image()]}]), "error",
         f"{CLIENT} validate_preference_openai / _check_message_content(role='assistant')",
         'refuses: output content is checked as an assistant message: "only user messages can contain images."',
         rule="TL403"),
    # -- preference ------------------------------------------------------------------------------
    Case("preference-input-ends-with-assistant-refused", preference([user(), assistant("Paris.")]), "error",
         f"{CLIENT} validate_preference_openai",
         'refuses: "The last message in the input conversation must not be from the assistant"', rule="TL501"),
    Case("preference-output-with-two-messages-refused",
         preference(preferred=[assistant("Paris."), assistant("It is Paris.")]), "error",
         f"{PREFERENCE}; {CLIENT} validate_preference_openai",
         'refuses: `len(preferred_output) != 1` ("Both outputs must contain exactly one message from the '
         'assistant role.")', rule="TL502"),
    # -- the file --------------------------------------------------------------------------------
    Case("empty-file-refused", [], "error", f"{CLIENT} check_file",
         'refuses: "File is empty" (a 0-byte file; MIN_SAMPLES = 1)', rule="TL003"),
    Case("one-example-is-enough", [chat()], "clean", f"{CONSTANTS} MIN_SAMPLES; {CLIENT} _check_samples_count",
         "accepts: MIN_SAMPLES = 1"),
    Case("mixed-formats-in-file-refused", [chat(), {"text": "Paris is the capital of France."}], "error",
         f"{CLIENT} _check_jsonl",
         'refuses: "All samples in the dataset must have the same dataset format."', rule="TL802"),
    Case("blank-line-refused",
         '{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]}\n\n'
         '{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]}\n',
         "error", f"{CLIENT} _check_jsonl",
         'refuses: json.loads(line) fails on a blank line ("Error parsing json payload. Unexpected format on '
         'line N.")', rule="TL007"),
]
