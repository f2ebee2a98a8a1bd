"""Conformance of the `mistral` profile with Mistral's fine-tuning data handling.

Sources: mistral-finetune finetune/data/tokenize.py @ 1943535 (build_instruct_sample and its
helpers, the repository now archived), the mistral-common validator it runs
(src/mistral_common/protocol/instruct/validator.py @ v1.5.4, MistralRequestValidatorV3 in
finetuning mode; mistral-finetune needs mistral-common <= 1.5.4) and messages.py @ v1.5.4, and
La Plateforme's (deprecated) dataset-format docs.
"""

from __future__ import annotations

from tests.profiles._conformance import Case
from tests.rules._lint import WEATHER_TOOL, assistant, call, system, tool_answer, user

PROFILE = "mistral"

TOKENIZE = "github.com/mistralai/mistral-finetune finetune/data/tokenize.py @ 1943535"
VALIDATOR = ("github.com/mistralai/mistral-common src/mistral_common/protocol/instruct/validator.py @ v1.5.4 "
             "MistralRequestValidatorV3")
MESSAGES = "github.com/mistralai/mistral-common src/mistral_common/protocol/instruct/messages.py @ v1.5.4"
README = "github.com/mistralai/mistral-finetune README.md @ 1943535"
DOCS = "https://docs.mistral.ai/capabilities/finetuning/text_vision_finetuning"

CID = "D681PevKs"  # 9 letters and digits, like the docs' ids


def chat(*messages: dict, **extra) -> dict:
    return {"messages": list(messages) or [user(), assistant()], **extra}


def tool_chat(cid: str = CID, answer_id: str | None = None, calling: dict | None = None,
              tools: list | None = None) -> dict:
    """system, user, assistant tool call, tool answer, final assistant, with the weather tool."""
    calling = calling if calling is not None else assistant(None, tool_calls=[call(cid)])
    return chat(system(), user("Weather in Paris?"), calling, tool_answer(answer_id or cid),
                assistant("It is 18 °C in Paris."), tools=tools if tools is not None else [WEATHER_TOOL])


def weather_without(key: str) -> dict:
    fn = {k: v for k, v in WEATHER_TOOL["function"].items() if k != key}
    return {"type": "function", "function": fn}


CASES: list[Case] = [
    # -- formats ---------------------------------------------------------------------------------
    Case("instruct-chat-clean", chat(system(), user(), assistant()), "clean",
         f"{README} (instruct data); {TOKENIZE} build_instruct_sample; {DOCS}",
         'accepts: "Conversational data must be stored under the "messages" key as a list", roles system, '
         "user, assistant"),
    Case("function-calling-clean", tool_chat(), "clean",
         f"{README} (function calling); {TOKENIZE} build_instruct_sample, _parse_available_tools, "
         f"_parse_tool_calls; {VALIDATOR}._validate_tool_call; {DOCS}",
         "accepts: `tools` with name, description and parameters; an assistant `tool_calls` entry with a "
         "9-character id and string `arguments`; a `tool` message with `tool_call_id`; a final assistant "
         "message"),
    Case("function-calling-empty-content-with-calls-clean",
         tool_chat(calling=assistant("", tool_calls=[call(CID)])), "clean",
         f"{VALIDATOR}._validate_assistant_message",
         'accepts: `"content": ""` with tool_calls (`bool(content) == bool(tool_calls)` is what it refuses)'),
    Case("pretrain-text-clean", {"text": "Paris is the capital of France."}, "clean",
         f"{README} (pretrain data); {TOKENIZE} get_pretrain_sample",
         'accepts: pretraining data as {"text": "..."}, trained on every token'),
    Case("prompt-completion-refused", {"prompt": "Capital of France?", "completion": "Paris."}, "error",
         f"{TOKENIZE} build_instruct_sample / get_pretrain_sample",
         "refuses: instruct data without `messages` raises ConversationFormatError \"The conversation does not "
         "contain one of 'messages, interactions' key\"; pretrain data needs `text` or `content`",
         rule="TL109"),
    # -- structure -------------------------------------------------------------------------------
    Case("last-message-not-assistant-refused", chat(user("Hi."), assistant("Hello!"), user()), "error",
         f"{VALIDATOR}._validate_last_message",
         'refuses: "Expected last role Assistant for finetuning but got user"', rule="TL202"),
    Case("two-system-messages-refused", chat(system(), system("Answer briefly."), user(), assistant()), "error",
         f"{TOKENIZE} build_instruct_sample",
         "refuses: MessageFormatError \"Multiple messages with role 'system' encountered. Only one is allowed.\"",
         rule="TL209"),
    Case("user-user-only-a-warning", chat(user("Hi."), user(), assistant()), "warning",
         f"{VALIDATOR}._validate_message_order",
         "accepts: after a user message, user, assistant or system may follow (no strict alternation)",
         rule="TL204",
         differs="stricter: a warning, not an error: two user turns in a row are usually a lost answer or a "
                 "split message, though Mistral trains on them"),
    Case("role-function-refused", chat(user(), {"role": "function", "name": "f", "content": "{}"}, assistant()),
         "error", f"{TOKENIZE} build_instruct_sample",
         "refuses: UnrecognizedRoleError (allowed roles: system, user, assistant, tool)", rule="TL104"),
    # -- tools -----------------------------------------------------------------------------------
    Case("tool-call-id-call_1-refused", tool_chat(cid="call_1"), "error",
         f"{VALIDATOR}._validate_tool_call",
         'refuses: "Tool call id was call_1 but must be a-z, A-Z, 0-9, with a length of 9."', rule="TL302"),
    Case("tool-message-id-not-9-alnum-refused", tool_chat(answer_id="call_D681"), "error",
         f"{VALIDATOR}._validate_tool_message",
         "refuses: InvalidToolMessageException, a tool_call_id must match ^[a-zA-Z0-9]{9}$", rule="TL302"),
    Case("content-and-tool-calls-refused",
         tool_chat(calling=assistant("Let me check.", tool_calls=[call(CID)])), "error",
         f"{VALIDATOR}._validate_assistant_message; {DOCS}",
         'refuses: "Assistant message must have either content or tool_calls, but not both." (docs: "An '
         'assistant message with a "tool_calls" key cannot have a "content" key")', rule="TL302"),
    Case("tool-arguments-object-refused",
         tool_chat(calling=assistant(None, tool_calls=[call(CID, arguments={"city": "Paris"})])), "error",
         f"{TOKENIZE} _parse_tool_calls",
         "refuses: ToolCallFormatError \"A tool call function of an assistant message does not have a "
         "'arguments' key of type str\"", rule="TL303"),
    Case("tool-without-description-refused", tool_chat(tools=[weather_without("description")]), "error",
         f"{TOKENIZE} _parse_available_tools",
         'refuses: FunctionFormatError "A function dict does not have a description key."', rule="TL301"),
    Case("tool-without-parameters-refused", tool_chat(tools=[weather_without("parameters")]), "error",
         f"{TOKENIZE} _parse_available_tools",
         'refuses: FunctionFormatError "A function dict does not have a parameters key."', rule="TL301"),
    Case("tool-call-not-answered-refused",
         chat(user("Weather in Paris?"), assistant(None, tool_calls=[call(CID)]), user("Well?"),
              assistant("It is 18 °C."), tools=[WEATHER_TOOL]), "error",
         f"{VALIDATOR}._validate_tool_calls_followed_by_tool_messages",
         'refuses: "Not the same number of function calls and responses"', rule="TL308"),
    # -- content ---------------------------------------------------------------------------------
    Case("assistant-content-array-refused",
         chat(user(), {"role": "assistant", "content": [{"type": "text", "text": "Paris."}]}), "error",
         f"{MESSAGES} FinetuningAssistantMessage",
         "refuses: `content: Optional[str]`, a list fails pydantic validation (\"Input should be a valid "
         "string\")", rule="TL105"),
    Case("user-content-text-parts-clean",
         chat({"role": "user", "content": [{"type": "text", "text": "Capital of France?"}]}, assistant()), "clean",
         f"{MESSAGES} UserMessage",
         "accepts: `content: Union[str, List[ContentChunk]]`, a list of text parts"),
    Case("image-refused",
         chat({"role": "user", "content": [
             {"type": "text", "text": "What is in this picture?"},
             {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAAB"
                                                        "CAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="}}]},
              assistant("A single white pixel.")), "error",
         f"{TOKENIZE} tokenize_instruct (MistralTokenizer.v3, no image encoder)",
         'refuses: tokenizing fails with "Make sure to define a multi-modal encoder at init"', rule="TL403"),
    # -- weight ----------------------------------------------------------------------------------
    Case("weight-float-1-accepted", chat(user(), assistant(weight=1.0)), "clean",
         f"{MESSAGES} FinetuningAssistantMessage.weight; {VALIDATOR}._validate_assistant_message",
         "accepts: `weight: Optional[float]`, and 1.0 is in [0, 1]"),
    Case("weight-0-masks-a-turn", chat(user("Hi."), assistant("Hello!", weight=0), user(), assistant()), "clean",
         f"{TOKENIZE} build_instruct_sample / tokenize_instruct; {README}",
         'accepts: weight 0 masks the message ("weight": 0, "# don\'t train on n°2")'),
    Case("weight-half-refused", chat(user(), assistant(weight=0.5)), "error",
         f"{VALIDATOR}._validate_assistant_message",
         'refuses: "Assistant message weight must be either 0 or 1"', rule="TL108"),
    Case("weight-on-user-refused", chat(user(weight=1), assistant()), "error",
         f"{TOKENIZE} build_instruct_sample",
         "ignores: `weight` is read only in the assistant branch (`data_message.get(\"weight\")`); on a user "
         "message it has no effect", rule="TL108",
         differs="stricter: Mistral ignores a weight it does not read; tunelint refuses it, since it looks like "
                 "it masks the turn and does nothing"),
    # -- unknown keys ----------------------------------------------------------------------------
    Case("unknown-example-key-warned", chat(id="ex-1", metadata={"source": "wiki"}), "warning",
         f"{TOKENIZE} build_instruct_sample",
         "ignores: the example's keys are read with `data.get(...)`; others are never looked at", rule="TL106",
         differs="stricter: a warning, since an unknown key is often a misspelt real one (e.g. `tool` for "
                 "`tools`) whose content is then lost silently"),
]
