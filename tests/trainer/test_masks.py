"""Assistant-only masks: only assistant tokens and the end-of-turn token are trained; weight-0
turns are not; the template-agnostic mask equals the one the generation markers give."""

from tunelint.trainer import tiny
from tunelint.trainer.data import TrainingExample as Example
from tunelint.trainer.data import encode


def tokenizer(tmp_path):
    _, tok = tiny.build(["hello world", "the lamp is on", "plus is"] * 20, tmp_path / "m", vocab_size=300)
    return tok


def trained_text(tok, enc):
    return tok.decode([t for t in enc.labels if t != -100])


def test_only_assistant_content_and_end_of_turn_are_trained_and_weight_zero_is_not(tmp_path):
    tok = tokenizer(tmp_path)
    ex = Example(1, [{"role": "system", "content": "sys"}, {"role": "user", "content": "hi"},
                     {"role": "assistant", "content": "first answer", "weight": 0},
                     {"role": "user", "content": "again"}, {"role": "assistant", "content": "second answer"}])
    enc = encode(tok, ex, 512)
    assert trained_text(tok, enc) == "second answer<|im_end|>"
    assert tok.eos_token_id in [t for t in enc.labels if t != -100]


def test_template_agnostic_mask_matches_the_generation_markers(tmp_path):
    tok = tokenizer(tmp_path)
    msgs = [{"role": "user", "content": "q1"}, {"role": "assistant", "content": "a1"},
            {"role": "user", "content": "q2"}, {"role": "assistant", "content": "the lamp is on"}]
    enc = encode(tok, Example(1, msgs), 512)
    ref = tok.apply_chat_template(msgs, tokenize=True, return_dict=True, return_assistant_tokens_mask=True)
    assert [int(x != -100) for x in enc.labels] == list(ref["assistant_masks"])


def test_truncation_reports_the_cut_answer(tmp_path):
    tok = tokenizer(tmp_path)
    enc = encode(tok, Example(3, [{"role": "user", "content": "hello " * 40},
                                  {"role": "assistant", "content": "lamp"}]), 16)
    assert len(enc.input_ids) == 16 and enc.full_length > 16 and enc.last_turn[1] > 16 and enc.trained == 0
