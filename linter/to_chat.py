"""Turn ShareGPT and Alpaca (and prompt/completion) examples into chat format."""

from __future__ import annotations

SHAREGPT_ROLES = {
    "system": "system",
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "assistant": "assistant",
    "function_call": "assistant",
    "observation": "tool",
    "tool": "tool",
}


class ConvertError(ValueError):
    pass


def to_chat(obj: dict, fmt: str) -> dict:
    """The chat-format equivalent of `obj`. Raises ConvertError saying what cannot be converted."""
    if fmt == "chat":
        return obj
    if fmt == "sharegpt":
        messages = []
        system = obj.get("system")
        if isinstance(system, str) and system.strip():
            messages.append({"role": "system", "content": system})
        conv = obj.get("conversations")
        if not isinstance(conv, list):
            raise ConvertError("`conversations` is not an array")
        for i, turn in enumerate(conv):
            if not isinstance(turn, dict):
                raise ConvertError(f"turn {i} is not an object")
            role = SHAREGPT_ROLES.get(turn.get("from"))
            if role is None:
                raise ConvertError(f"turn {i}: unknown speaker {turn.get('from')!r}")
            value = turn.get("value")
            if not isinstance(value, str):
                raise ConvertError(f"turn {i}: `value` is not a string")
            messages.append({"role": role, "content": value})
        return {"messages": messages}
    if fmt == "alpaca":
        instruction, extra, output = obj.get("instruction"), obj.get("input"), obj.get("output")
        if not isinstance(instruction, str) or not isinstance(output, str):
            raise ConvertError("`instruction` and `output` must be strings")
        prompt = instruction if not (isinstance(extra, str) and extra.strip()) else f"{instruction}\n\n{extra}"
        messages = []
        if isinstance(obj.get("system"), str) and obj["system"].strip():
            messages.append({"role": "system", "content": obj["system"]})
        messages += [{"role": "user", "content": prompt}, {"role": "assistant", "content": output}]
        return {"messages": messages}
    if fmt == "prompt_completion":
        p, c = obj.get("prompt"), obj.get("completion")
        if not isinstance(p, str) or not isinstance(c, str):
            raise ConvertError("`prompt` and `completion` must be strings")
        return {"messages": [{"role": "user", "content": p}, {"role": "assistant", "content": c}]}
    raise ConvertError(f"{fmt} examples cannot be converted to chat format")
