"""Baseline: the OpenAI cookbook's "Data preparation and analysis for chat model fine-tuning".

A faithful re-implementation of the notebook's method (examples/Chat_finetuning_data_prep.ipynb):
load every line with `json.loads`, run its format error checks, count tokens with
`num_tokens_from_messages` (3 tokens per message, `len(encoding.encode(value))` for every value of
every message, +1 for a name, +3 to prime the reply) and the assistant tokens, print the
distributions, the examples over the limit and the billing estimate.

Deviations, each needed for it to run on the benchmark files, none making it slower:

* encoding: o200k_base instead of the notebook's cl100k_base (tunelint's default), loaded from
  the packaged data through tunelint (tiktoken cannot download here); it is the same
  `tiktoken.Encoding` object tiktoken would build online;
* a line that is not valid JSON is counted as a `json_decode_error` format error and skipped
  (the notebook's list comprehension would stop with a traceback);
* only string values are encoded (the notebook would raise on a `weight` integer or a
  `tool_calls` list), and lookups use `.get` so a faulty example cannot raise;
* `statistics` and a numpy-compatible quantile instead of numpy (not installed in the tool's venv;
  numpy's import alone would cost the baseline ~0.1 s).

Usage: python bench/baselines/cookbook.py FILE.jsonl [--encoding o200k_base]
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections import defaultdict


def load_encoding(name: str):
    from tunelint.linter.tokens import tiktoken_encoding

    return tiktoken_encoding(name)


def quantile(values: list[int], q: float) -> float:
    """numpy.quantile's default ("linear") method."""
    s = sorted(values)
    pos = (len(s) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("path")
    ap.add_argument("--encoding", default="o200k_base")
    args = ap.parse_args()

    # Load the dataset
    format_errors: dict[str, int] = defaultdict(int)
    dataset = []
    with open(args.path, encoding="utf-8") as f:
        for line in f:
            try:
                dataset.append(json.loads(line))
            except ValueError:
                format_errors["json_decode_error"] += 1

    # Initial dataset stats
    print("Num examples:", len(dataset))
    print("First example:")
    for message in dataset[0]["messages"]:
        print(message)

    # Format error checks
    for ex in dataset:
        if not isinstance(ex, dict):
            format_errors["data_type"] += 1
            continue

        messages = ex.get("messages", None)
        if not messages:
            format_errors["missing_messages_list"] += 1
            continue

        for message in messages:
            if "role" not in message or "content" not in message:
                format_errors["message_missing_key"] += 1

            if any(
                k not in ("role", "content", "name", "function_call", "weight") for k in message
            ):
                format_errors["message_unrecognized_key"] += 1

            if message.get("role", None) not in ("system", "user", "assistant", "function"):
                format_errors["unrecognized_role"] += 1

            content = message.get("content", None)
            function_call = message.get("function_call", None)

            if (not content and not function_call) or not isinstance(content, str):
                format_errors["missing_content"] += 1

        if not any(message.get("role", None) == "assistant" for message in messages):
            format_errors["example_missing_assistant_message"] += 1

    if format_errors:
        print("Found errors:")
        for k, v in format_errors.items():
            print(f"{k}: {v}")
    else:
        print("No errors found")

    encoding = load_encoding(args.encoding)

    # not exact!
    # simplified from https://github.com/openai/openai-cookbook/blob/main/examples/How_to_count_tokens_with_tiktoken.ipynb
    def num_tokens_from_messages(messages, tokens_per_message=3, tokens_per_name=1):
        num_tokens = 0
        for message in messages:
            num_tokens += tokens_per_message
            for key, value in message.items():
                if isinstance(value, str):
                    num_tokens += len(encoding.encode(value))
                if key == "name":
                    num_tokens += tokens_per_name
        num_tokens += 3
        return num_tokens

    def num_assistant_tokens_from_messages(messages):
        num_tokens = 0
        for message in messages:
            if message.get("role") == "assistant" and isinstance(message.get("content"), str):
                num_tokens += len(encoding.encode(message["content"]))
        return num_tokens

    def print_distribution(values, name):
        print(f"\n#### Distribution of {name}:")
        print(f"min / max: {min(values)}, {max(values)}")
        print(f"mean / median: {statistics.mean(values)}, {statistics.median(values)}")
        print(f"p5 / p95: {quantile(values, 0.1)}, {quantile(values, 0.9)}")

    # Warnings and tokens counts
    n_missing_system = 0
    n_missing_user = 0
    n_messages = []
    convo_lens = []
    assistant_message_lens = []

    for ex in dataset:
        messages = (ex.get("messages") or []) if isinstance(ex, dict) else []
        if not any(message.get("role") == "system" for message in messages):
            n_missing_system += 1
        if not any(message.get("role") == "user" for message in messages):
            n_missing_user += 1
        n_messages.append(len(messages))
        convo_lens.append(num_tokens_from_messages(messages))
        assistant_message_lens.append(num_assistant_tokens_from_messages(messages))

    print("Num examples missing system message:", n_missing_system)
    print("Num examples missing user message:", n_missing_user)
    print_distribution(n_messages, "num_messages_per_example")
    print_distribution(convo_lens, "num_total_tokens_per_example")
    print_distribution(assistant_message_lens, "num_assistant_tokens_per_example")
    n_too_long = sum(length > 16385 for length in convo_lens)
    print(
        f"\n{n_too_long} examples may be over the 16,385 token limit, "
        "they will be truncated during fine-tuning"
    )

    # Pricing and default n_epochs estimate
    MAX_TOKENS_PER_EXAMPLE = 16385

    TARGET_EPOCHS = 3
    MIN_TARGET_EXAMPLES = 100
    MAX_TARGET_EXAMPLES = 25000
    MIN_DEFAULT_EPOCHS = 1
    MAX_DEFAULT_EPOCHS = 25

    n_epochs = TARGET_EPOCHS
    n_train_examples = len(dataset)
    if n_train_examples * TARGET_EPOCHS < MIN_TARGET_EXAMPLES:
        n_epochs = min(MAX_DEFAULT_EPOCHS, MIN_TARGET_EXAMPLES // n_train_examples)
    elif n_train_examples * TARGET_EPOCHS > MAX_TARGET_EXAMPLES:
        n_epochs = max(MIN_DEFAULT_EPOCHS, MAX_TARGET_EXAMPLES // n_train_examples)

    n_billing_tokens_in_dataset = sum(min(MAX_TOKENS_PER_EXAMPLE, length) for length in convo_lens)
    print(
        f"Dataset has ~{n_billing_tokens_in_dataset} tokens "
        "that will be charged for during training"
    )
    print(f"By default, you'll train for {n_epochs} epochs on this dataset")
    print(f"By default, you'll be charged for ~{n_epochs * n_billing_tokens_in_dataset} tokens")


if __name__ == "__main__":
    main()
