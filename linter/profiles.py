"""Profiles: what each fine-tuning target accepts, one table per target, written from the target's
own documentation and validator (each entry cites its source and the date it was checked). The
rules read these tables; `tunelint profiles` shows them and the README's profile table is
rendered from them (tests/test_docs.py). Where tunelint is deliberately stricter or milder than a
target, the entry says so and why, and so does the rule's documentation; the conformance suite
in tests/profiles/ holds a case for each.

Limits are the documented defaults; `max_tokens` in the config wins.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

CHECKED = "2026-12-02"  # the date every source below was last read


@dataclass(frozen=True)
class Source:
    """Where a profile's rules come from: a document or a validator's code at a commit."""

    what: str
    where: str  # a URL (code at a commit), or a path in this repository
    checked: str = CHECKED


@dataclass(frozen=True)
class Weight:
    """Where a message's `weight` may appear and which values it takes (always 0 or 1)."""

    roles: frozenset[str]  # the roles whose messages may carry it
    floats: bool  # 1.0 / 0.0 accepted as well as 1 / 0
    outputs: bool = True  # allowed on the messages of preferred_output / non_preferred_output
    with_images: bool = True  # False: a message holding images must have weight 0 (or none)


@dataclass(frozen=True)
class Images:
    """Where images may appear and their limits."""

    roles: frozenset[str]  # the roles whose messages may hold image parts (`prompt` counts as user)
    per_example: int
    max_bytes: int | None  # decoded size of one image; None: not stated
    media_types: frozenset[str]  # accepted `data:image/<type>` subtypes
    urls: bool  # http(s) URLs accepted; False: base64 data URLs only
    formats: frozenset[str]  # the formats that may carry images


def _keys(**by_name: frozenset[str]) -> Mapping[str, frozenset[str]]:
    return MappingProxyType(by_name)


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    max_tokens: int
    min_examples: int
    formats: frozenset[str]
    roles: frozenset[str]
    # keys each format accepts on the example (and on `input`, for preference), and each role
    # on a message; TL106 reports others
    example_keys: Mapping[str, frozenset[str]]
    message_keys: Mapping[str, frozenset[str]]
    weight: Weight | None  # None: `weight` is not accepted at all
    images: Images | None  # None: no images
    list_content: frozenset[str]  # roles whose content may be an array of parts
    sources: tuple[Source, ...]
    input_keys: frozenset[str] = frozenset({"messages"})  # keys of a preference record's `input`
    parts_in_fields: bool = False  # `prompt` / `completion` may be arrays of content parts
    mixed_content: bool = True  # False: one conversation's contents are all strings or all arrays
    unknown_example_keys_refused: bool = False  # True: an unknown key on the example is an error
    single_system: bool = False  # True: at most one system message (anywhere)
    tool_call_id: str | None = None  # a regex every tool call id (and tool_call_id) must match
    tool_call_id_words: str = ""  # the same in words, for messages
    tool_calls_with_content: bool = True  # False: an assistant message has content or tool calls
    tool_descriptions: bool = False  # True: a tool needs `description` and `parameters`
    # rule code -> severity under this profile, where the target refuses what is only a warning
    # elsewhere (or accepts what is an error elsewhere)
    severities: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    billing: bool = False  # show billed tokens x epochs (OpenAI's documented heuristic)


_OPENAI_ROLES = frozenset({"system", "user", "assistant", "tool", "function"})
_TEXT = frozenset({"role", "content", "name"})
_ASSISTANT = frozenset({"role", "content", "name", "weight", "tool_calls", "function_call", "refusal"})
_TOOL = frozenset({"role", "content", "tool_call_id"})
_MEDIA = frozenset({"jpeg", "png", "webp"})
MB = 1024 * 1024

PROFILES: dict[str, Profile] = {
    p.name: p
    for p in [
        # OpenAI: the fine-tuning API's input schemas (openai-openapi, FineTuneChatRequestInput,
        # FineTunePreferenceRequestInput, FineTuneChatCompletionRequestAssistantMessage) and the
        # supervised, vision and DPO guides, checked 2026-12-02. The cookbook's format checks
        # (Chat_finetuning_data_prep.ipynb) are older and stricter than the API (they refuse
        # tool_calls and content arrays); tunelint follows the API.
        Profile(
            name="openai",
            description="OpenAI fine-tuning (chat SFT, vision, tools, DPO); gpt-4o-class limits.",
            # gpt-4o / gpt-4o-mini training examples: 65,536 tokens; longer ones are cut at the
            # end. Stricter: tunelint calls that an error (TL701), since the cut drops the answer.
            max_tokens=65536,
            min_examples=10,  # "The minimum number of examples you can provide for fine-tuning is 10"
            formats=frozenset({"chat", "preference"}),
            # SFT and DPO messages: system, user, assistant, tool, function (deprecated); not
            # developer (only reinforcement fine-tuning takes developer messages)
            roles=_OPENAI_ROLES,
            example_keys=_keys(chat=frozenset({"messages", "tools", "functions", "parallel_tool_calls"}),
                               preference=frozenset({"input", "preferred_output", "non_preferred_output"})),
            input_keys=frozenset({"messages", "tools", "parallel_tool_calls"}),
            message_keys=_keys(system=_TEXT, user=_TEXT, assistant=_ASSISTANT, tool=_TOOL,
                               function=_TEXT),
            # weight: {type: integer, enum: [0, 1]}, on assistant messages only; the DPO outputs
            # are plain assistant messages, without weight. Stricter: 1.0 is refused, since the
            # schema says integer and whether the server takes 1.0 is not stated
            weight=Weight(roles=frozenset({"assistant"}), floats=False, outputs=False),
            # vision guide: user messages only, at most 10 images per example, 10 MB each, JPEG,
            # PNG or WEBP, as https URLs or base64 data URLs; DPO "is currently only supported
            # for text inputs and outputs"
            images=Images(roles=frozenset({"user"}), per_example=10, max_bytes=10 * MB, media_types=_MEDIA,
                          urls=True, formats=frozenset({"chat"})),
            # the spec: user content may be parts; system, assistant and tool content may be
            # text parts; function content is a string
            list_content=frozenset({"system", "user", "assistant", "tool"}),
            sources=(
                Source("fine-tuning input schemas", "https://github.com/openai/openai-openapi/blob/f7f4b05/openapi.yaml"),
                Source("supervised fine-tuning guide",
                       "https://developers.openai.com/api/docs/guides/supervised-fine-tuning"),
                Source("vision fine-tuning guide", "https://developers.openai.com/api/docs/guides/vision-fine-tuning"),
                Source("DPO guide", "https://developers.openai.com/api/docs/guides/direct-preference-optimization"),
                Source("cookbook format checks", "https://github.com/openai/openai-cookbook/blob/b774cbf/examples/"
                       "Chat_finetuning_data_prep.ipynb"),
            ),
            billing=True,
        ),
        # Together: its client's file check (together-python src/together/utils/files.py and
        # constants.py @ eba5e5f, 2025-12-23; the v2 SDK together-py lib/utils/files.py @ a7cab74
        # holds the same checks and still runs them before upload) and its data-preparation,
        # vision, preference and function-calling docs, checked 2026-12-02. Where the client and
        # the docs differ, tunelint follows what Together accepts today as documented: the
        # function-calling docs take `tools` and tool messages, which the client's column check
        # refuses (its server validates uploads too, docs: "the server rejects it").
        Profile(
            name="together",
            description="Together AI fine-tuning (conversational, instruction, text and preference formats, vision).",
            # not stated by Together (examples are packed to the model's context); a common context
            max_tokens=8192,
            min_examples=1,  # MIN_SAMPLES = 1
            formats=frozenset({"chat", "prompt_completion", "text", "preference"}),
            roles=frozenset({"system", "user", "assistant", "tool"}),
            # "Found extra column": the example's keys are exactly its format's (since 7529a38),
            # plus `tools` for function calling (docs; in preference data, inside `input`)
            example_keys=_keys(chat=frozenset({"messages", "tools"}),
                               preference=frozenset({"input", "preferred_output", "non_preferred_output"}),
                               prompt_completion=frozenset({"prompt", "completion"}),
                               text=frozenset({"text"})),
            input_keys=frozenset({"messages", "tools"}),
            unknown_example_keys_refused=True,
            # message keys are not checked by Together; milder there than tunelint, which warns
            # on keys no role uses (a typo like "contents" means the real field is missing)
            message_keys=_keys(system=_TEXT, user=_TEXT, assistant=_ASSISTANT, tool=_TOOL | {"name"}),
            # _check_message_weight: any role, an int 0 or 1; 1.0 refused ("Weight must be an
            # integer"); "Messages with images cannot have non-zero weights"
            weight=Weight(roles=frozenset({"system", "user", "assistant", "tool"}), floats=False, with_images=False),
            # user messages and `prompt` only; data:image/{jpeg,png,webp};base64 only (URLs and
            # image/jpg or gif refused); at most 10 per example; 10 MB each (MAX_IMAGE_BYTES)
            images=Images(roles=frozenset({"user"}), per_example=10, max_bytes=10 * MB, media_types=_MEDIA,
                          urls=False, formats=frozenset({"chat", "preference", "prompt_completion"})),
            list_content=frozenset({"system", "user", "assistant", "tool"}),
            parts_in_fields=True,  # `prompt` and `completion` may be arrays of content parts
            # "Messages in the conversation must be either all in multimodal or all in text-only format"
            mixed_content=False,
            # the client refuses two consecutive messages of one role ("conversation roles must
            # alternate"); a blank line is a JSON parse error there
            severities=MappingProxyType({"TL204": "error", "TL007": "error"}),
            sources=(
                Source("client file check", "https://github.com/togethercomputer/together-python/blob/eba5e5f/"
                       "src/together/utils/files.py"),
                Source("v2 SDK file check", "https://github.com/togethercomputer/together-py/blob/a7cab74/"
                       "src/together/lib/utils/files.py"),
                Source("data preparation", "https://docs.together.ai/docs/fine-tuning/data-preparation"),
                Source("vision fine-tuning", "https://docs.together.ai/docs/fine-tuning/vision"),
                Source("function calling", "https://docs.together.ai/docs/fine-tuning/function-calling"),
                Source("preference fine-tuning", "https://docs.together.ai/docs/fine-tuning/preference-tuning"),
            ),
        ),
        # Mistral: mistral-finetune (finetune/data/tokenize.py @ 1943535, the repository now
        # archived) with the mistral-common validator it runs (MistralRequestValidatorV3,
        # finetuning mode; mistral-finetune needs mistral-common <= 1.5.4), and La Plateforme's
        # dataset-format docs (now marked deprecated), checked 2026-12-02.
        Profile(
            name="mistral",
            description="Mistral fine-tuning (instruct chat with tools, pretraining text); the last "
                        "message must be the assistant's.",
            # not a per-example limit there: long samples are split into seq_len sequences; the
            # example config's seq_len
            max_tokens=32768,
            min_examples=1,  # validate_data.py's minimum of 10 lines is commented out
            formats=frozenset({"chat", "text"}),
            roles=frozenset({"system", "user", "assistant", "tool"}),
            # unknown keys are ignored there (data.get); tunelint warns on them (TL106)
            example_keys=_keys(chat=frozenset({"messages", "tools"}), text=frozenset({"text"})),
            message_keys=_keys(system=_TEXT, user=_TEXT, assistant=_ASSISTANT, tool=_TOOL | {"name"}),
            # read on assistant messages only (ignored elsewhere: tunelint calls that an error,
            # stricter, since it does nothing); 0 or 1, and 1.0 is taken (pydantic float)
            weight=Weight(roles=frozenset({"assistant"}), floats=True),
            images=None,  # mistral-finetune's tokenizer has no image encoder
            list_content=frozenset({"system", "user"}),  # assistant and tool content: strings
            single_system=True,  # "Multiple messages with role 'system' encountered. Only one is allowed."
            tool_call_id=r"^[a-zA-Z0-9]{9}$",  # "must be a-z, A-Z, 0-9, with a length of 9"
            tool_call_id_words="9 letters or digits",
            tool_calls_with_content=False,  # "either content or tool_calls, but not both"
            tool_descriptions=True,  # _parse_available_tools: name, description and parameters
            severities=MappingProxyType({"TL202": "error"}),  # "Expected last role Assistant for finetuning"
            sources=(
                Source("mistral-finetune data parsing", "https://github.com/mistralai/mistral-finetune/blob/1943535/"
                       "finetune/data/tokenize.py"),
                Source("mistral-common validator", "https://github.com/mistralai/mistral-common/blob/v1.5.4/"
                       "src/mistral_common/protocol/instruct/validator.py"),
                Source("dataset format docs",
                       "https://docs.mistral.ai/capabilities/finetuning/text_vision_finetuning"),
            ),
        ),
        # hf: what `tunelint train` trains (trainer/data.py): chat and prompt/completion examples
        # through the model's chat template, text-only, `weight: 0` masking an assistant turn.
        Profile(
            name="hf",
            description="A local fine-tune with Hugging Face TRL (tunelint train): chat and "
                        "prompt/completion, text only.",
            max_tokens=4096,  # no limit of its own: set max_tokens to the run's max_length (default 1024)
            min_examples=1,
            formats=frozenset({"chat", "prompt_completion"}),
            roles=frozenset({"system", "developer", "user", "assistant", "tool"}),
            example_keys=_keys(chat=frozenset({"messages", "tools"}),
                               prompt_completion=frozenset({"prompt", "completion"})),
            message_keys=_keys(system=_TEXT, developer=_TEXT, user=_TEXT, assistant=_ASSISTANT,
                               tool=_TOOL | {"name"}),
            weight=Weight(roles=frozenset({"assistant"}), floats=True),  # the labels mask reads `!= 0`
            images=None,  # the trainer loads a causal LM without an image processor
            list_content=frozenset({"system", "developer", "user", "assistant", "tool"}),
            sources=(Source("tunelint train's data loading", "trainer/data.py"),),
        ),
    ]
}


def get_profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown profile {name!r}; choose one of: {', '.join(PROFILES)}") from None


_FORMAT_NAMES = {"chat": "chat", "preference": "preference", "prompt_completion": "prompt/completion",
                 "text": "text", "sharegpt": "ShareGPT", "alpaca": "Alpaca"}
_ORDER = ("chat", "preference", "prompt_completion", "text")


def describe(p: Profile) -> dict[str, str]:
    """The profile as short texts, one per column of `tunelint profiles` and the README's table."""
    w = p.weight
    if w is None:
        weight = "no"
    else:
        roles = "assistant messages" if w.roles == {"assistant"} else "any message"
        extra = [] if w.floats else ["integers only"]
        if not w.outputs:
            extra.append("not on preference outputs")
        if not w.with_images:
            extra.append("0 on messages with images")
        weight = f"0/1 on {roles}" + (f" ({', '.join(extra)})" if extra else "")
    im = p.images
    if im is None:
        images = "no"
    else:
        where = ", ".join(_FORMAT_NAMES[f] for f in _ORDER if f in im.formats)
        size = f", {im.max_bytes // MB} MB each" if im.max_bytes else ""
        images = (f"up to {im.per_example} in user messages ({where}){size}; "
                  f"{'/'.join(t.upper() for t in sorted(im.media_types))}; "
                  f"{'URLs or base64' if im.urls else 'base64 only'}")
    rules = []
    if p.unknown_example_keys_refused:
        rules.append("unknown example keys refused")
    if not p.mixed_content:
        rules.append("no string/array content mix")
    if p.single_system:
        rules.append("one system message")
    if p.tool_call_id:
        rules.append(f"tool call ids of {p.tool_call_id_words}")
    if not p.tool_calls_with_content:
        rules.append("content or tool calls, not both")
    if p.tool_descriptions:
        rules.append("tools need description and parameters")
    rules += [f"{code} is an {sev}" for code, sev in sorted(p.severities.items())]
    return {
        "profile": p.name,
        "max tokens": f"{p.max_tokens:,}",
        "min examples": str(p.min_examples),
        "formats": ", ".join(_FORMAT_NAMES[f] for f in _ORDER if f in p.formats),
        "roles": ", ".join(sorted(p.roles)),
        "weight": weight,
        "images": images,
        "also": "; ".join(rules) or "-",
        "checked": p.sources[0].checked,
    }


def sources_markdown(p: Profile) -> str:
    return ", ".join(f"[{s.what}]({s.where})" for s in p.sources)
