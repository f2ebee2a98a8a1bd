"""Conformance cases for the `openai` profile: what OpenAI's fine-tuning API accepts for chat SFT,
vision, tools and DPO, according to its input schemas and guides, and tunelint's verdict.

The profile needs at least 10 examples per file (TL801), so a case that must come out clean (or
with warnings only) is one example line padded to a file of 10 with plain, distinct examples of
the same format; cases that must report an error stay one line.
"""

from __future__ import annotations

from tests.profiles._conformance import Case

PROFILE = "openai"

# The sources (see /tmp/research/openai.md and linter/profiles.py):
SPEC = "github.com/openai/openai-openapi openapi.yaml @ f7f4b05882e8cb253896c7e2f2635074784b409e"
SFT = "https://developers.openai.com/api/docs/guides/supervised-fine-tuning"
VISION = "https://developers.openai.com/api/docs/guides/vision-fine-tuning"
DPO = "https://developers.openai.com/api/docs/guides/direct-preference-optimization"
GUIDE = "https://platform.openai.com/docs/guides/fine-tuning (late-2024 version)"

PNG_1PX = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
PNG_DATA_URL = "data:image/png;base64," + PNG_1PX


# -- building blocks ---------------------------------------------------------------------------

def msg(role: str, content: object, **kw) -> dict:
    return {"role": role, "content": content, **kw}


def image(url: str) -> dict:
    return {"type": "image_url", "image_url": {"url": url}}


def text(t: str) -> dict:
    return {"type": "text", "text": t}


def vision(*urls: str) -> dict:
    """The vision guide's example: a user message with the question, then a user message of image
    parts (two user messages in a row: TL204 warns, OpenAI accepts)."""
    return {"messages": [
        msg("system", "You are an assistant that identifies uncommon cheeses."),
        msg("user", "What is this cheese?"),
        msg("user", [image(u) for u in urls]),
        msg("assistant", "Danbo"),
    ]}


def simple(i: int) -> dict:
    return {"messages": [msg("user", f"What is {i} plus {i}?"), msg("assistant", f"{i + i}.")]}


def preference(i: int = 0, **over) -> dict:
    ex = {
        "input": {"messages": [msg("user", f"Write a one-line greeting for visitor number {i}.")],
                  "tools": [], "parallel_tool_calls": True},
        "preferred_output": [msg("assistant", f"Welcome, visitor {i}! We are glad you came.")],
        "non_preferred_output": [msg("assistant", f"Visitor {i}.")],
    }
    ex.update(over)
    return ex


def padded(example: dict) -> list[dict]:
    """The example and 9 distinct plain examples of its format: a file of 10, OpenAI's minimum."""
    filler = preference if "input" in example else simple
    return [example] + [filler(i) for i in range(1, 10)]


WEATHER = {
    "type": "function",
    "function": {
        "name": "get_current_weather",
        "description": "Get the current weather",
        "parameters": {
            "type": "object",
            "properties": {
                "location": {"type": "string", "description": "The city and country, eg. San Francisco, USA"},
                "format": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["location", "format"],
        },
    },
}


def weather_call(arguments: object = '{"location": "San Francisco, USA", "format": "celsius"}',
                 cid: str = "call_id") -> dict:
    return {"id": cid, "type": "function", "function": {"name": "get_current_weather", "arguments": arguments}}


def tool_example(*, tools: list | None = None, arguments: object = None, **extra) -> dict:
    """The SFT guide's function-calling example, with the tool's answer and a final reply."""
    call = weather_call() if arguments is None else weather_call(arguments)
    return {
        "messages": [
            msg("user", "What is the weather in San Francisco?"),
            {"role": "assistant", "tool_calls": [call]},
            msg("tool", '{"temperature": 21, "format": "celsius"}', tool_call_id="call_id"),
            msg("assistant", "It is 21 °C in San Francisco."),
        ],
        "tools": [WEATHER] if tools is None else tools,
        **extra,
    }


MARV = {"messages": [
    msg("system", "Marv is a factual chatbot that is also sarcastic."),
    msg("user", "What's the capital of France?"),
    msg("assistant", "Paris, as if everyone doesn't know that already."),
]}


def marv(*, system: dict | None = None, user: dict | None = None, assistant: dict | None = None) -> dict:
    m = MARV["messages"]
    return {"messages": [system or m[0], user or m[1], assistant or m[2]]}


def weighted(w: object) -> dict:
    return marv(assistant=msg("assistant", "Paris, as if everyone doesn't know that already.", weight=w))


# -- the cases ---------------------------------------------------------------------------------

CASES: list[Case] = [
    # formats
    Case("sft_chat_example", padded(MARV), "clean", f"{SFT} (example format)",
         "accepts: chat messages with system, user and assistant roles"),
    Case("ten_examples_minimum", [simple(i) for i in range(10)], "clean", f"{SFT} (preparing your dataset)",
         "accepts: \"The minimum number of examples you can provide for fine-tuning is 10\""),
    Case("nine_examples_refused", [simple(i) for i in range(9)], "error", f"{SFT} (preparing your dataset)",
         "refuses: \"Your file must have at least 10 lines\"", rule="TL801"),
    Case("prompt_completion_refused", {"prompt": "What's the capital of France?", "completion": "Paris."},
         "error", f"{SPEC} FineTuneChatRequestInput / FineTunePreferenceRequestInput "
         "(FineTuneCompletionRequestInput removed); openai-cookbook Chat_finetuning_data_prep.ipynb @ b774cbf",
         "refuses for chat models: prompt/completion is \"legacy fine-tuning ... for models like babbage-002 and "
         "davinci-002\"; chat models take the chat format", rule="TL109"),
    Case("sharegpt_refused",
         {"conversations": [{"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Hello!"}]},
         "error", f"{SPEC} FineTuneChatRequestInput (messages required)",
         "refuses: a line is {messages: [...]} (chat) or {input, preferred_output, non_preferred_output}",
         rule="TL109"),
    Case("text_refused", {"text": "Paris is the capital of France."}, "error",
         f"{SPEC} FineTuneChatRequestInput / FineTunePreferenceRequestInput",
         "refuses: only chat and preference inputs are defined for fine-tuning", rule="TL109"),
    # roles
    Case("developer_role_refused", marv(system=msg("developer", "Marv is sarcastic.")), "error",
         f"{SPEC} FineTuneChatRequestInput.messages oneOf (developer only in FineTuneReinforcementRequestInput)",
         "refuses: SFT and DPO messages are system, user, assistant, tool or function", rule="TL104"),
    Case("unknown_role_refused", marv(user=msg("human", "What's the capital of France?")), "error",
         f"{SPEC} FineTuneChatRequestInput.messages oneOf",
         "refuses: role must be system, user, assistant, tool or function", rule="TL104"),
    Case("function_role_legacy", padded({
        "messages": [
            msg("user", "What is the weather in San Francisco?"),
            {"role": "assistant", "content": None,
             "function_call": {"name": "get_current_weather",
                               "arguments": '{"location": "San Francisco, USA", "format": "celsius"}'}},
            msg("function", '{"temperature": 21}', name="get_current_weather"),
            msg("assistant", "It is 21 °C in San Francisco."),
        ],
        "functions": [WEATHER["function"]],
    }), "clean", f"{SPEC} FineTuneChatRequestInput (functions, deprecated) and ChatCompletionRequestFunctionMessage",
         "accepts (deprecated): functions, an assistant function_call and a function message with name"),
    # per-role keys
    Case("message_name_accepted", padded(marv(user=msg("user", "What's the capital of France?", name="alice"))),
         "clean", f"{SPEC} ChatCompletionRequestUserMessage.name",
         "accepts: \"An optional name for the participant\""),
    Case("tool_call_id_on_user_warns", padded(marv(user=msg("user", "What's the capital?", tool_call_id="call_1"))),
         "warning", f"{SPEC} ChatCompletionRequestUserMessage (role, content, name)",
         "not stated: the schema has no tool_call_id on user messages and no additionalProperties: false",
         rule="TL106", differs="stricter: tunelint warns on a key the role's schema lacks; OpenAI ignores it"),
    Case("weight_typo_warns", padded(marv(assistant=msg("assistant", "Paris.", weigth=0))), "warning",
         f"{SPEC} FineTuneChatCompletionRequestAssistantMessage",
         "not stated: unknown message keys are not refused by the schema (the typo means no weight is set)",
         rule="TL106", differs="stricter: a misspelt key means the real one is missing; OpenAI ignores it"),
    Case("contents_typo_refused", marv(user={"role": "user", "contents": "What's the capital of France?"}),
         "error", f"{SPEC} ChatCompletionRequestUserMessage (required: role, content)",
         "refuses: content is required on a user message", rule="TL105"),
    Case("tool_message_without_tool_call_id", {
        "messages": [msg("user", "Weather?"), {"role": "assistant", "tool_calls": [weather_call()]},
                     msg("tool", '{"temperature": 21}'), msg("assistant", "21 °C.")],
        "tools": [WEATHER]}, "error",
         f"{SPEC} ChatCompletionRequestToolMessage (required: role, content, tool_call_id)",
         "refuses: tool_call_id is required on a tool message", rule="TL307"),
    Case("name_with_space_refused", padded(marv(user=msg("user", "What's the capital?", name="Alice Smith"))),
         "error", f"{SPEC} ChatCompletionRequestUserMessage.name",
         "not stated: \"An optional name for the participant\", no pattern given (only function names have "
         "[a-zA-Z0-9_-]{1,64})", rule="TL107",
         differs="stricter: tunelint applies the function-name pattern to message names"),
    # weight
    Case("weight_zero_and_one", padded({"messages": [
        msg("system", "Marv is a factual chatbot that is also sarcastic."),
        msg("user", "What's the capital of France?"),
        msg("assistant", "Paris", weight=0),
        msg("user", "Can you be more sarcastic?"),
        msg("assistant", "Paris, as if everyone doesn't know that already.", weight=1),
    ]}), "clean", f"{GUIDE} (multi-turn chat examples); {SPEC} FineTuneChatCompletionRequestAssistantMessage.weight",
         "accepts: \"The allowed values for weight are currently 0 or 1\", on assistant messages"),
    Case("weight_half_refused", weighted(0.5), "error",
         f"{SPEC} FineTuneChatCompletionRequestAssistantMessage.weight",
         "refuses: weight is {type: integer, enum: [0, 1]}", rule="TL108"),
    Case("weight_string_refused", weighted("1"), "error",
         f"{SPEC} FineTuneChatCompletionRequestAssistantMessage.weight",
         "refuses: weight is {type: integer, enum: [0, 1]}", rule="TL108"),
    Case("weight_true_refused", weighted(True), "error",
         f"{SPEC} FineTuneChatCompletionRequestAssistantMessage.weight",
         "refuses: weight is {type: integer, enum: [0, 1]}", rule="TL108"),
    Case("weight_float_one_refused", weighted(1.0), "error",
         f"{SPEC} FineTuneChatCompletionRequestAssistantMessage.weight",
         "not stated: the schema says integer; whether the server takes 1.0 is not said", rule="TL108",
         differs="stricter: the schema says integer, so 1.0 is refused rather than guessed"),
    Case("weight_on_user_refused", marv(user=msg("user", "What's the capital of France?", weight=1)), "error",
         f"{SPEC} ChatCompletionRequestUserMessage (weight only on FineTuneChatCompletionRequestAssistantMessage)",
         "refuses per schema: weight is defined on the assistant message only", rule="TL108"),
    Case("weight_in_preferred_output_refused",
         preference(preferred_output=[msg("assistant", "Welcome! We are glad you came.", weight=1)]),
         "error",
         f"{SPEC} FineTunePreferenceRequestInput.preferred_output (items: ChatCompletionRequestAssistantMessage)",
         "refuses per schema: the outputs are plain assistant messages, without weight", rule="TL108"),
    # tools
    Case("tools_and_tool_calls", padded(tool_example(parallel_tool_calls=False)), "clean",
         f"{SFT} (function calling); {SPEC} FineTuneChatRequestInput (tools, parallel_tool_calls)",
         "accepts: tools, an assistant message with tool_calls (arguments a JSON string) and a tool message"),
    Case("tool_type_not_function_refused", tool_example(tools=[{**WEATHER, "type": "retrieval"}]), "error",
         f"{SPEC} ChatCompletionTool.type", "refuses: \"Currently, only `function` is supported.\"", rule="TL301"),
    Case("tool_name_with_space_refused",
         tool_example(tools=[{"type": "function", "function": {**WEATHER["function"], "name": "get weather"}}]),
         "error", f"{SPEC} FunctionObject.name",
         "refuses: \"Must be a-z, A-Z, 0-9, or contain underscores and dashes, with a maximum length of 64.\"",
         rule="TL301"),
    Case("tool_arguments_object_refused",
         tool_example(arguments={"location": "San Francisco, USA", "format": "celsius"}), "error",
         f"{SPEC} ChatCompletionMessageToolCall.function.arguments",
         "refuses: arguments is a string, \"The arguments to call the function with, as generated by the model "
         "in JSON format\"", rule="TL303"),
    # conversation structure
    Case("consecutive_user_messages_warn", padded({"messages": [
        msg("user", "What's the capital of France?"), msg("user", "Answer in one word."),
        msg("assistant", "Paris.")]}), "warning", f"{SPEC} FineTuneChatRequestInput; {SFT}",
         "accepts: no alternation rule is stated", rule="TL204"),
    Case("ends_with_user_warns", padded({"messages": [
        msg("user", "What's the capital of France?"), msg("assistant", "Paris."),
        msg("user", "And of Spain?")]}), "warning", f"{GUIDE} (weight)",
         "accepts: \"The default behavior during fine-tuning is to train on all assistant messages\"; "
         "no last-message rule is stated", rule="TL202"),
    # images
    Case("vision_https_url", padded(vision("https://upload.wikimedia.org/wikipedia/commons/3/36/Danbo_Cheese.jpg")),
         "clean", f"{VISION} (data format)",
         "accepts: \"Images can be provided either as HTTP URLs or data URLs containing Base64-encoded images.\"",
         warns=("TL204",)),
    Case("vision_base64_png", padded(vision(PNG_DATA_URL)), "clean", f"{VISION} (data format)",
         "accepts: a data URL containing a Base64-encoded PNG", warns=("TL204",)),
    Case("ten_images_accepted", padded(vision(*[PNG_DATA_URL] * 10)), "clean", f"{VISION} (image dataset requirements)",
         "accepts: \"Each example can have at most 10 images.\"", warns=("TL204",)),
    Case("eleven_images_refused", vision(*[PNG_DATA_URL] * 11), "error", f"{VISION} (image dataset requirements)",
         "refuses: \"Each example can have at most 10 images.\"", rule="TL404"),
    Case("image_in_assistant_refused", {"messages": [
        msg("user", "Draw a cheese."), msg("assistant", [image(PNG_DATA_URL)])]}, "error",
         f"{VISION} (image dataset requirements); {SPEC} ChatCompletionRequestAssistantMessage content parts",
         "refuses: \"You cannot include images as output from messages with the `assistant` role.\"", rule="TL403"),
    Case("image_in_preference_refused", preference(input={"messages": [
        msg("user", [text("What is this cheese?"), image(PNG_DATA_URL)])]}), "error", f"{DPO}",
         "refuses: \"DPO is currently only supported for text inputs and outputs.\"", rule="TL403"),
    Case("gif_data_url_refused",
         vision("data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7"),
         "error", f"{VISION} (image dataset requirements)",
         "refuses: \"Images must be JPEG, PNG, or WEBP format.\"", rule="TL402"),
    Case("image_jpg_media_type_refused", vision("data:image/jpg;base64," + PNG_1PX), "error",
         f"{VISION} (image dataset requirements)",
         "not stated: JPEG is accepted; whether image/jpg (not a registered media type) is taken is not said",
         rule="TL402", differs="stricter: image/jpg is not a media type; tunelint asks for image/jpeg"),
    Case("local_path_refused", vision("/home/me/cheese.png"), "error", f"{VISION} (data format; skipped images)",
         "refuses: \"Images can be provided either as HTTP URLs or data URLs\"; an inaccessible URL is skipped",
         rule="TL402"),
    Case("image_over_10mb_refused", vision("data:image/png;base64," + "A" * 14_200_000), "error",
         f"{VISION} (image dataset requirements)",
         "refuses (skips): \"Each image can be at most 10 MB.\"", rule="TL405", max_line_bytes=32 * 1024 * 1024),
    # preference (DPO)
    Case("dpo_example", padded(preference()), "clean", f"{DPO} (data format)",
         "accepts: input {messages, tools, parallel_tool_calls}, preferred_output and non_preferred_output"),
    Case("preference_input_ends_with_assistant", preference(input={"messages": [
        msg("user", "Say hi."), msg("assistant", "Hi!")]}), "error", f"{DPO} (data format)",
         "refuses: \"the preferred and non-preferred messages need to be the last assistant message\"",
         rule="TL501"),
    Case("preferred_output_two_messages", preference(preferred_output=[
        msg("assistant", "Welcome!"), msg("assistant", "We are glad you came.")]), "error",
         f"{SPEC} FineTunePreferenceRequestInput.preferred_output (maxItems: 1)",
         "refuses: preferred_output is an array of at most one assistant message", rule="TL502"),
    # tokens
    Case("too_many_tokens_refused", {"messages": [msg("user", ("Tell me about Paris. " * 20).strip()),
                                                  msg("assistant", ("Paris is the capital of France. " * 20).strip())]},
         "error", f"{GUIDE} (token limits)",
         "truncates: \"Examples longer than the default will be truncated to the maximum context length which "
         "removes tokens from the end of the training example(s).\"", rule="TL701",
         differs="stricter: OpenAI truncates an overlong example at the end, which drops the answer; "
                 "tunelint calls it an error",
         tokenizer="o200k_base", max_tokens=64),
]
