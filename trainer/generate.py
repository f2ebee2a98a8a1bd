"""The compare worker: `python -m tunelint.trainer.generate`, a long-lived process that keeps a
run's models loaded and generates with the base and the fine-tuned model on request.

The language server never imports torch: it starts this worker once (server/compare.py) and
talks to it over stdin/stdout, one JSON object a line.

Requests (stdin):
    {"id": str, "run": path, "messages": [...], "tools": [...]?, "max_new_tokens": int,
     "temperature": float (0: greedy), "top_p": float, "seed": int?}
    {"cancel": id}                  stops that generation at its next token (or before it starts)
Events (stdout):
    {"event": "ready", "pid": int}                                    once, at start
    {"id", "event": "loaded", "which": "base"|"tuned", "run", "cached": bool, "loads": int, "seconds"}
    {"id", "which": "base"|"tuned", "text": str}                     the whole text so far, as it grows
    {"id", "event": "done", "base": str, "tuned": str, "loads": int}
    {"id", "event": "cancelled", "base": str, "tuned": str}           what was generated before the stop
    {"id", "event": "error", "message": str}

Models are kept in memory keyed by (run folder, which model); `loads` counts the models loaded
since the worker started, so a caller can tell a compare that reused them from one that loaded.
A LoRA run's base model is its fine-tuned model with the adapter disabled (peft's
`disable_adapter()`): one copy of the base weights, exactly the base's outputs.
"""

from __future__ import annotations

import json
import os
import queue
import sys
import threading
import time
from collections import OrderedDict
from contextlib import nullcontext

MAX_RUNS = 2  # runs whose models stay loaded; the least recently used beyond that are dropped
WHICH = ("base", "tuned")


class RequestError(ValueError):
    """A request that cannot be served; its message is the user's."""


class Worker:
    def __init__(self, out=None):
        self.out = out or sys.stdout
        self.lock = threading.Lock()
        self.cancelled: set[str] = set()
        self.models: OrderedDict[tuple[str, str], tuple[object, object]] = OrderedDict()
        self.infos: dict[str, object] = {}
        self.loads = 0

    def emit(self, obj: dict) -> None:
        line = json.dumps(obj, ensure_ascii=False)
        with self.lock:
            self.out.write(line + "\n")
            self.out.flush()

    # -- models ------------------------------------------------------------------------------

    def info(self, run: str):
        from .merge import run_info

        return run_info(run)

    def model(self, rid: str, info, which: str):
        """(model, tokenizer, adapter_off): loaded once per (run, which), then reused."""
        key_run = str(info.run.path)
        lora_base = which == "base" and info.method == "lora"
        key = (key_run, "tuned" if lora_base else which)
        got = self.models.get(key)
        cached = got is not None
        t0 = time.monotonic()
        if got is None:
            from .merge import load_base, load_tuned

            got = (load_tuned if key[1] == "tuned" else load_base)(info)
            self.loads += 1
            self.models[key] = got
            self._evict(key_run)
        self.models.move_to_end(key)
        self.emit({"id": rid, "event": "loaded", "which": which, "run": info.name, "cached": cached,
                   "loads": self.loads, "seconds": round(time.monotonic() - t0, 3)})
        model, tok = got
        return model, tok, lora_base

    def _evict(self, keep: str) -> None:
        runs = list(dict.fromkeys(k[0] for k in self.models))
        for run in runs[:-MAX_RUNS] if len(runs) > MAX_RUNS else []:
            if run == keep:
                continue
            for key in [k for k in self.models if k[0] == run]:
                del self.models[key]

    # -- generation --------------------------------------------------------------------------

    def serve(self, req: dict) -> None:
        rid = req.get("id")
        if not isinstance(rid, str) or not rid:
            self.emit({"id": rid, "event": "error", "message": "a request needs an \"id\" (a non-empty string)"})
            return
        texts = {"base": "", "tuned": ""}
        try:
            run, messages, tools, gen = _check(req)
            info = self.info(run)
            for which in WHICH:
                if rid in self.cancelled:
                    break
                model, tok, adapter_off = self.model(rid, info, which)
                if rid in self.cancelled:
                    break
                texts[which] = self.generate(rid, which, model, tok, adapter_off, messages, tools, gen)
        except Exception as e:  # every failure is an answer, never a dead worker
            self.emit({"id": rid, "event": "error", "message": _message(e)})
            self.cancelled.discard(rid)
            return
        if rid in self.cancelled:
            self.cancelled.discard(rid)
            self.emit({"id": rid, "event": "cancelled", **texts})
        else:
            self.emit({"id": rid, "event": "done", **texts, "loads": self.loads})

    def generate(self, rid: str, which: str, model, tok, adapter_off: bool, messages, tools, gen: dict) -> str:
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList
        from transformers.generation.streamers import BaseStreamer

        worker = self
        kwargs = {"tools": tools} if tools else {}
        try:
            prompt = tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=False, **kwargs)
        except Exception as e:
            raise RequestError(f"the {which} model's chat template cannot render this prompt: {e}") from None
        enc = tok(prompt, return_tensors="pt", add_special_tokens=False)
        device = next(model.parameters()).device
        enc = {k: v.to(device) for k, v in enc.items()}
        ids: list[int] = []
        state = {"text": "", "prompt_seen": False}

        class Stream(BaseStreamer):
            def put(self, value):
                if not state["prompt_seen"]:  # generate() first puts the prompt
                    state["prompt_seen"] = True
                    return
                ids.extend(int(x) for x in value.reshape(-1).tolist())
                text = tok.decode(ids, skip_special_tokens=True)
                if text != state["text"] and not text.endswith("\ufffd"):  # half a character: wait
                    state["text"] = text
                    worker.emit({"id": rid, "which": which, "text": text})

            def end(self):
                pass

        class Cancelled(StoppingCriteria):
            def __call__(self, input_ids, scores, **kw):
                return torch.full((input_ids.shape[0],), rid in worker.cancelled, dtype=torch.bool,
                                  device=input_ids.device)

        sample = gen["temperature"] > 0
        options = {"max_new_tokens": gen["max_new_tokens"], "do_sample": sample,
                   "pad_token_id": tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id}
        if sample:
            options.update(temperature=gen["temperature"], top_p=gen["top_p"], top_k=0)
            if gen.get("seed") is not None:
                torch.manual_seed(gen["seed"])
        else:  # greedy: no sampling settings (a model's generation_config may carry some)
            options.update(temperature=None, top_p=None, top_k=None)
        if tok.eos_token_id is not None:
            options["eos_token_id"] = tok.eos_token_id
        context = model.disable_adapter() if adapter_off else nullcontext()
        with torch.inference_mode(), context:
            model.generate(**enc, streamer=Stream(), stopping_criteria=StoppingCriteriaList([Cancelled()]),
                           **options)
        final = tok.decode(ids, skip_special_tokens=True)
        if final != state["text"]:
            self.emit({"id": rid, "which": which, "text": final})
        return final


def _check(req: dict):
    run = req.get("run")
    if not isinstance(run, str) or not run:
        raise RequestError("a request needs \"run\": the run folder's path")
    messages = req.get("messages")
    if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
        raise RequestError("\"messages\" must be a non-empty list of chat messages (objects)")
    tools = req.get("tools")
    if tools is not None and not isinstance(tools, list):
        raise RequestError("\"tools\" must be a list of tool definitions")
    from tunelint.options import OptionsError, generate_options, generate_settings

    try:
        gen = generate_settings(generate_options({k: req.get(k) for k in ("max_new_tokens", "temperature", "top_p")}))
    except OptionsError as e:
        raise RequestError(f"generation settings: {e}") from None
    seed = req.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise RequestError("\"seed\" must be an integer")
    gen["seed"] = seed
    return run, messages, tools, gen


def _message(e: Exception) -> str:
    from .settings import TrainError

    if isinstance(e, (RequestError, TrainError)):
        return str(e)
    return f"{type(e).__name__}: {e}"


def _read(worker: Worker, work: queue.Queue, stream) -> None:
    """stdin → requests (queued) and cancels (applied at once, so a running generation sees them)."""
    for line in stream:
        line = line.strip()
        if not line:
            continue
        try:
            obj = json.loads(line)
        except ValueError as e:
            worker.emit({"id": None, "event": "error", "message": f"not a JSON request: {e}"})
            continue
        if not isinstance(obj, dict):
            worker.emit({"id": None, "event": "error", "message": "a request is a JSON object"})
        elif "cancel" in obj:
            worker.cancelled.add(str(obj["cancel"]))
        else:
            work.put(obj)
    work.put(None)  # stdin closed: finish


def main() -> int:
    out = sys.stdout
    sys.stdout = sys.stderr  # stray prints (a library's) must not break the protocol
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    worker = Worker(out)
    work: queue.Queue = queue.Queue()
    threading.Thread(target=_read, args=(worker, work, sys.stdin), daemon=True).start()
    worker.emit({"event": "ready", "pid": os.getpid()})
    while True:
        req = work.get()
        if req is None:
            return 0
        if req.get("id") in worker.cancelled:
            worker.cancelled.discard(req["id"])
            worker.emit({"id": req["id"], "event": "cancelled", "base": "", "tuned": ""})
            continue
        worker.serve(req)


if __name__ == "__main__":
    sys.exit(main())
