"""A real, tiny Hugging Face tokenizer folder built offline, for tests of `hf:` token counts
(and anything else that needs a local tokenizer: the trainer's tests can reuse it).

`build_tokenizer(folder)` trains a byte-level BPE with the `tokenizers` library on a few
sentences, with ChatML and Llama-style special tokens, and writes `tokenizer.json` and a
`tokenizer_config.json` with a chat template, like a model folder from the Hub.
"""

from __future__ import annotations

import json
from pathlib import Path

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<s>", "</s>"]

SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "Hello there! How can I help you today?",
    "What is the capital of France? The capital of France is Paris.",
    "You are a helpful assistant that answers questions about geography.",
    "Two plus two equals four, and four plus four equals eight.",
    "Please summarise the following text in one sentence.",
    "Sure, here is a short answer: yes.",
    "system user assistant tool function call arguments weather city",
    '{"name": "get_weather", "arguments": {"city": "Paris"}}',
    "Numbers like 12, 345 and 6789 appear in text too.",
]

# ChatML, as Qwen and many fine-tunes use it; no generation markers.
CHATML = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

# The same rendering, with the assistant content and its <|im_end|> in a generation block.
CHATML_GENERATION = (
    "{% for message in messages %}"
    "{% if message['role'] == 'assistant' %}"
    "{{ '<|im_start|>assistant\n' }}"
    "{% generation %}{{ message['content'] + '<|im_end|>' }}{% endgeneration %}"
    "{{ '\n' }}"
    "{% else %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

# ChatML with tool definitions in a system turn, rendered with the `tojson` filter.
CHATML_TOOLS = (
    "{% if tools %}{{ '<|im_start|>system\n' + (tools | tojson) + '<|im_end|>\n' }}{% endif %}" + CHATML
)

# Llama-2/Mistral style: bos_token and eos_token from the config, and roles that must alternate.
INST = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}"
    "{% endif %}"
    "{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}"
    "{% elif message['role'] == 'assistant' %}{{ ' ' + message['content'] + eos_token }}"
    "{% endif %}"
    "{% endfor %}"
)

# Mistral style: the system prompt goes into the last user turn, so the conversation before an
# earlier assistant turn renders differently on its own than inside the whole conversation.
INST_SYSTEM_IN_LAST_USER = (
    "{% if messages[0]['role'] == 'system' %}{% set system = messages[0]['content'] %}"
    "{% set rest = messages[1:] %}{% else %}{% set rest = messages %}{% endif %}"
    "{% set last_user = rest | selectattr('role', 'equalto', 'user') | list | last %}"
    "{{ bos_token }}"
    "{% for message in rest %}"
    "{% if message['role'] == 'user' %}"
    "{% if system is defined and message is sameas last_user %}"
    "{{ '[INST] ' + system + '\n\n' + message['content'] + ' [/INST]' }}"
    "{% else %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% endif %}"
    "{% else %}{{ ' ' + message['content'] + eos_token }}{% endif %}"
    "{% endfor %}"
)

# Like Qwen3: the last assistant turn gets an (empty) think block the earlier ones do not, so a
# conversation's prefix renders differently on its own than inside the whole conversation.
CHATML_THINK_LAST = (
    "{% for message in messages %}"
    "{% if message['role'] == 'assistant' and loop.last %}"
    "{{ '<|im_start|>assistant\n<think>\n\n</think>\n\n' + message['content'] + '<|im_end|>\n' }}"
    "{% else %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


# ChatML that also renders tool calls (name and arguments) and list contents' text parts: the
# preview's tests and the VS Code e2e suite's tool-call example (editor-client/e2e/run.sh).
CHATML_TOOL_CALLS = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' }}"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for p in message['content'] %}{% if p['type'] == 'text' %}{{ p['text'] }}{% endif %}{% endfor %}"
    "{% endif %}"
    "{% if message['tool_calls'] is defined %}{% for c in message['tool_calls'] %}"
    "{{ c['function']['name'] + ' ' + c['function']['arguments'] }}{% endfor %}{% endif %}"
    "{{ '<|im_end|>\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def train_tokenizer(*, add_bos: bool = False, vocab_size: int = 400):
    """A trained byte-level BPE `tokenizers.Tokenizer` with SPECIAL_TOKENS (ids 0-4).

    add_bos: a post-processor that prepends <s> when encoding with add_special_tokens=True, like
    Llama's (chat templates put bos in themselves, so counts must not add it again).
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(SENTENCES, trainer)
    if add_bos:
        bos = tok.token_to_id("<s>")
        tok.post_processor = processors.TemplateProcessing(
            single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", bos)]
        )
    else:
        tok.post_processor = processors.ByteLevel(trim_offsets=False)
    return tok


def build_tokenizer(
    folder: str | Path,
    chat_template: str | list | None = CHATML,
    *,
    template_file: bool = False,
    add_bos: bool = False,
    bos_token: str = "<s>",
    eos_token: str = "<|im_end|>",
    extra_config: dict | None = None,
) -> Path:
    """Write a tokenizer folder (tokenizer.json + tokenizer_config.json) and return its path.

    chat_template: a Jinja string, a list of {"name", "template"} dicts (named templates), or
    None for no template. template_file: write a string template to chat_template.jinja
    instead of into tokenizer_config.json (newer transformers save it that way).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tok = train_tokenizer(add_bos=add_bos)
    tok.save(str(folder / "tokenizer.json"))
    config: dict = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": bos_token,
        "eos_token": eos_token,
        "pad_token": "<|endoftext|>",
        "unk_token": None,
        "model_max_length": 4096,
    }
    if chat_template is not None:
        if template_file and isinstance(chat_template, str):
            (folder / "chat_template.jinja").write_text(chat_template, encoding="utf-8")
        else:
            config["chat_template"] = chat_template
    config.update(extra_config or {})
    (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    return folder


def load_tokenizer(folder: str | Path):
    """The `tokenizers.Tokenizer` saved in a folder made by build_tokenizer."""
    from tokenizers import Tokenizer

    return Tokenizer.from_file(str(Path(folder) / "tokenizer.json"))
