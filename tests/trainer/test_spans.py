"""The trainer's assistant-only mask (trainer/data.py) and the linter's trainable-token count
(linter/hf_tokens.py, `hf:` tokenizers) are two versions of one method: where a template renders
a conversation's beginning as a prefix of the whole, they mark the same tokens. (Where they
differ on purpose is written in both modules' docstrings.)"""

import pytest
from transformers import AutoTokenizer

from tests import hf_fixtures as F
from tunelint.linter.hf_tokens import HFTemplateCounter
from tunelint.trainer.data import TrainingExample, encode

CONVERSATIONS = [
    [{"role": "user", "content": "What is the capital of France?"},
     {"role": "assistant", "content": "The capital of France is Paris."}],
    [{"role": "user", "content": "Hello there!"}, {"role": "assistant", "content": "How can I help you today?"},
     {"role": "user", "content": "Two plus two?"}, {"role": "assistant", "content": "Two plus two equals four."}],
    [{"role": "user", "content": "Hello there!"},
     {"role": "assistant", "content": "How can I help you today?", "weight": 0},
     {"role": "user", "content": "Two plus two?"}, {"role": "assistant", "content": "Two plus two equals four."}],
]
SYSTEM = [{"role": "system", "content": "You are a helpful assistant."}]


@pytest.mark.parametrize(("template", "eos", "system"), [
    (F.CHATML, "<|im_end|>", True),
    (F.CHATML_GENERATION, "<|im_end|>", True),  # the linter takes the generation blocks, the trainer the prefixes
    (F.CHATML_THINK_LAST, "<|im_end|>", True),
    (F.INST, "</s>", False),
    (F.INST_SYSTEM_IN_LAST_USER, "</s>", False),
], ids=["chatml", "chatml-generation", "think-last", "inst", "inst-system-last"])
def test_the_trainers_mask_is_the_linters_trainable_count(tmp_path, template, eos, system):
    folder = F.build_tokenizer(tmp_path / "tok", template, eos_token=eos)
    tok = AutoTokenizer.from_pretrained(str(folder))
    counter = HFTemplateCounter(str(folder))
    for messages in CONVERSATIONS + ([SYSTEM + c for c in CONVERSATIONS] if system else []):
        enc = encode(tok, TrainingExample(1, messages), 4096)
        counted = counter.count_messages(messages)
        assert len(enc.input_ids) == counted.total
        assert enc.trained == counted.trainable, messages
        assert enc.last_turn == (counted.last_assistant_start, counted.last_assistant_end)
