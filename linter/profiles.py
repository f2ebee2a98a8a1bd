"""Profiles: what each fine-tuning target accepts. One table per target, documented for users
(`tunelint profiles`). Limits are the documented defaults; `max_tokens` in the config wins."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    max_tokens: int
    min_examples: int
    roles: frozenset[str]
    allow_weight: bool
    allow_images: bool
    max_images_per_example: int
    allow_tools: bool
    formats: frozenset[str]
    last_message_not_assistant: str  # severity of TL202 under this profile
    example_keys: frozenset[str]
    message_keys: frozenset[str] = field(
        default=frozenset(
            {"role", "content", "name", "weight", "tool_calls", "tool_call_id", "function_call", "refusal"}
        )
    )
    billing: bool = False  # show billed tokens x epochs (OpenAI's documented heuristic)


_CHAT_KEYS = frozenset({"messages", "tools", "functions", "parallel_tool_calls"})
_PREF_KEYS = frozenset({"input", "preferred_output", "non_preferred_output"})

PROFILES: dict[str, Profile] = {
    p.name: p
    for p in [
        Profile(
            name="openai",
            description="OpenAI fine-tuning (chat SFT, vision, tools, DPO); gpt-4o-class limits.",
            max_tokens=65536,
            min_examples=10,
            roles=frozenset({"system", "developer", "user", "assistant", "tool", "function"}),
            allow_weight=True,
            allow_images=True,
            max_images_per_example=64,
            allow_tools=True,
            formats=frozenset({"chat", "preference"}),
            last_message_not_assistant="warning",
            example_keys=_CHAT_KEYS | _PREF_KEYS,
            billing=True,
        ),
        Profile(
            name="together",
            description="Together AI fine-tuning (conversational, instruction, text formats).",
            max_tokens=8192,
            min_examples=1,
            roles=frozenset({"system", "user", "assistant", "tool"}),
            allow_weight=True,
            allow_images=False,
            max_images_per_example=0,
            allow_tools=True,
            formats=frozenset({"chat", "prompt_completion", "text", "preference"}),
            last_message_not_assistant="warning",
            example_keys=_CHAT_KEYS | _PREF_KEYS | {"prompt", "completion", "text"},
        ),
        Profile(
            name="mistral",
            description="Mistral fine-tuning (chat with tools); the last message must be the assistant's.",
            max_tokens=32768,
            min_examples=1,
            roles=frozenset({"system", "user", "assistant", "tool"}),
            allow_weight=True,
            allow_images=False,
            max_images_per_example=0,
            allow_tools=True,
            formats=frozenset({"chat"}),
            last_message_not_assistant="error",
            example_keys=_CHAT_KEYS,
        ),
        Profile(
            name="hf",
            description="A local fine-tune with Hugging Face TRL (tunelint train): every format TRL reads.",
            max_tokens=4096,
            min_examples=1,
            roles=frozenset({"system", "developer", "user", "assistant", "tool"}),
            allow_weight=True,
            allow_images=True,
            max_images_per_example=16,
            allow_tools=True,
            formats=frozenset({"chat", "preference", "prompt_completion", "text"}),
            last_message_not_assistant="warning",
            example_keys=_CHAT_KEYS | _PREF_KEYS | {"prompt", "completion", "text", "images"},
        ),
    ]
}


def get_profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown profile {name!r}; choose one of: {', '.join(PROFILES)}") from None
