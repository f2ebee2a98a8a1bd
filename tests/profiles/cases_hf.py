"""Conformance cases for the `hf` profile: what `tunelint train` trains (trainer/data.py: chat and
prompt/completion examples, ShareGPT and Alpaca converted on load, preference and text refused,
a text-only causal LM, `weight: 0` masking an assistant turn), and tunelint's verdict."""

from __future__ import annotations

from tests.profiles._conformance import Case

PROFILE = "hf"

COMMIT = "43fe67ced86e9e39218eac17c4b2b50ef66a8fa7"
LOAD = f"trainer/data.py @ {COMMIT} load_examples"
DOC = f"trainer/data.py @ {COMMIT} module docstring"
MASK = f"linter/assistant_spans.py @ {COMMIT} (the mask trainer/data.py uses: weight != 0)"
PROFILE_SRC = f"linter/profiles.py @ {COMMIT} PROFILES['hf'] (images=None: no image processor)"

PNG = ("data:image/png;base64,"
       "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==")


def msg(role: str, content: object, **kw) -> dict:
    return {"role": role, "content": content, **kw}


def chat(*messages: dict, **extra) -> dict:
    return {"messages": list(messages) or [msg("user", "What is the capital of France?"),
                                           msg("assistant", "Paris.")], **extra}


def weighted(w: object) -> dict:
    return chat(msg("user", "What is the capital of France?"), msg("assistant", "Paris.", weight=w))


TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": "Current weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}

CASES: list[Case] = [
    # formats
    Case("chat_example", chat(msg("system", "You are a geography tutor."),
                              msg("user", "What is the capital of France?"), msg("assistant", "Paris.")),
         "clean", LOAD, "accepts: a chat example (rendered with the model's chat template)"),
    Case("prompt_completion_example", {"prompt": "What is the capital of France?", "completion": "Paris."},
         "clean", LOAD, "accepts: a prompt/completion example, converted to chat (to_chat)"),
    Case("tools_example", chat(
        msg("user", "Weather in Paris?"),
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function",
             "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]},
        msg("tool", '{"temp_c": 18}', tool_call_id="call_1"),
        msg("assistant", "It is 18 °C in Paris."), tools=[TOOL]),
         "clean", LOAD, "accepts: `tools` are passed to the chat template (obj.get(\"tools\"))"),
    Case("text_refused", {"text": "Paris is the capital of France."}, "error", LOAD,
         "refuses: \"not a chat, ShareGPT, Alpaca or prompt/completion example (the trainer does supervised "
         "fine-tuning)\"", rule="TL109"),
    Case("preference_refused", {
        "input": {"messages": [msg("user", "Say hi.")]},
        "preferred_output": [msg("assistant", "Hello! Nice to meet you.")],
        "non_preferred_output": [msg("assistant", "hi")]}, "error", LOAD,
         "refuses: fmt == \"preference\" raises \"not a chat, ShareGPT, Alpaca or prompt/completion example\"",
         rule="TL109"),
    Case("sharegpt_convert_first", {"conversations": [{"from": "human", "value": "What is the capital of France?"},
                                                      {"from": "gpt", "value": "Paris."}]},
         "error", LOAD, "accepts: ShareGPT is converted on load (to_chat)", rule="TL109",
         differs="stricter: the trainer converts ShareGPT itself; tunelint asks for `tunelint convert` first"),
    Case("alpaca_convert_first", {"instruction": "Name the capital of France.", "input": "", "output": "Paris."},
         "error", LOAD, "accepts: Alpaca is converted on load (to_chat)", rule="TL109",
         differs="stricter: the trainer converts Alpaca itself; tunelint asks for `tunelint convert` first"),
    # roles
    Case("developer_role_accepted", chat(msg("developer", "Answer in one word."),
                                         msg("user", "What is the capital of France?"), msg("assistant", "Paris.")),
         "clean", LOAD, "accepts: messages go to the model's chat template as they are"),
    Case("ends_with_user_warns", chat(msg("user", "Capital of France?"), msg("assistant", "Paris."),
                                      msg("user", "And of Spain?")), "warning", DOC,
         "accepts: only assistant turns are trained; the last user turn is never trained on", rule="TL202"),
    # weight
    Case("weight_zero_masks_a_turn", chat(msg("user", "Capital of France?"), msg("assistant", "Lyon.", weight=0),
                                          msg("user", "Are you sure?"), msg("assistant", "Paris.", weight=1)),
         "clean", DOC, "accepts: \"Turns with `weight: 0` are not trained.\""),
    Case("weight_float_one_accepted", weighted(1.0), "clean", MASK,
         "accepts: the mask reads m.get(\"weight\", 1) != 0, so 1.0 trains the turn"),
    Case("weight_half_refused", weighted(0.5), "error", MASK,
         "accepts: 0.5 != 0, so the turn is trained in full", rule="TL108",
         differs="stricter: weight is 0 or 1; the trainer would train a 0.5 turn fully"),
    Case("weight_on_user_refused", chat(msg("user", "Capital of France?", weight=1), msg("assistant", "Paris.")),
         "error", MASK, "ignores: only assistant messages' weight is read", rule="TL108",
         differs="stricter: a weight the trainer does not read has no meaning"),
    Case("all_weights_zero_refused", weighted(0), "error", DOC,
         "trains nothing: \"Turns with `weight: 0` are not trained.\"", rule="TL201"),
    # images: a text-only model
    Case("image_refused", chat(msg("user", [{"type": "text", "text": "What is this?"},
                                            {"type": "image_url", "image_url": {"url": PNG}}]),
                               msg("assistant", "A pixel.")),
         "error", f"{PROFILE_SRC}; {DOC}",
         "cannot train it: a causal LM without an image processor; list contents are found by their text parts",
         rule="TL403"),
    Case("image_https_refused", chat(msg("user", [{"type": "image_url",
                                                   "image_url": {"url": "https://example.com/cheese.jpg"}}]),
                                     msg("assistant", "Danbo.")),
         "error", f"{PROFILE_SRC}; {DOC}", "cannot train it: the trainer loads a text-only causal LM", rule="TL403"),
    # structure
    Case("messages_not_list_refused", {"messages": {"role": "user", "content": "Hi"}}, "error", LOAD,
         "not checked on load: load_examples passes `messages` on as they are (here an object) to encode, "
         "whose chat template then renders or rejects it", rule="TL101"),
    Case("too_many_tokens_refused", chat(msg("user", ("Tell me about Paris. " * 20).strip()),
                                         msg("assistant", ("Paris is the capital of France. " * 20).strip())),
         "error", f"trainer/data.py @ {COMMIT} encode (max_length)",
         "truncates: encode(tokenizer, ex, max_length) keeps full_length \"before truncation\"", rule="TL701",
         differs="stricter: the trainer truncates to max_length; tunelint calls an overlong example an error",
         tokenizer="o200k_base", max_tokens=64),
]
