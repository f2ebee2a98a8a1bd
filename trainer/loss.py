"""The training loss where TRL's fused LM head does not pay: on a CPU.

TRL 1.x computes the loss with a fused, chunked LM-head kernel that also scores every position
for its entropy and accuracy metrics. On a GPU that saves memory; on a CPU it is the single
largest cost of a step (bench/train_speed.py --variants). On a CPU we therefore ask the model
for the logits of the trained positions only (transformers' `logits_to_keep` with a boolean
mask, through the same forward call, so DDP and peft wrappers see an ordinary forward) and take
the cross-entropy there. The loss is the same number: the sum over trained tokens divided by the
trained tokens in the (accumulated, all-rank) batch, as `Trainer.compute_loss` normalises it.
The token-accuracy and token-count metrics TRL logs are kept, computed on the same positions.
"""

from __future__ import annotations

IGNORE = -100


def selective_trainer_class(base):
    """`base` (TRL's SFTTrainer) with the trained-positions loss. It falls back to `base`'s own
    loss for anything it does not cover: a custom loss function, label smoothing, MoE
    auxiliary losses, inputs without labels."""

    import torch
    import torch.nn.functional as F

    class SelectiveLossTrainer(base):
        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            labels = inputs.get("labels")
            if (labels is None or self.compute_loss_func is not None or self.label_smoother is not None
                    or getattr(self, "aux_loss_enabled", False)
                    or getattr(self.args, "loss_type", "nll") != "nll"):
                return super().compute_loss(model, inputs, return_outputs=return_outputs,
                                            num_items_in_batch=num_items_in_batch)
            # the token at t+1 is predicted at position t
            targets = torch.full_like(labels, IGNORE)
            targets[:, :-1] = labels[:, 1:]
            keep = targets != IGNORE
            forward = {k: v for k, v in inputs.items() if k != "labels"}
            outputs = model(**forward, use_cache=False, logits_to_keep=keep)
            logits = outputs.logits.float()  # (trained positions, vocab)
            wanted = targets[keep]
            loss = F.cross_entropy(logits, wanted, reduction="sum")
            count = keep.sum()
            denominator = count if num_items_in_batch is None else num_items_in_batch
            loss = loss / torch.as_tensor(denominator, device=loss.device).clamp(min=1)
            if self.args.average_tokens_across_devices and num_items_in_batch is not None:
                loss = loss * self.accelerator.num_processes  # DDP averages the gradients across ranks
            self._record_metrics(logits.detach(), wanted, count, inputs)
            return (loss, outputs) if return_outputs else loss

        def _record_metrics(self, logits, wanted, count, inputs) -> None:
            mode = "train" if self.model.training else "eval"
            gather = self.accelerator.gather_for_metrics
            valid = gather(count).sum()
            correct = gather((logits.argmax(dim=-1) == wanted).sum()).sum()
            self._metrics[mode]["mean_token_accuracy"].append((correct / valid).item() if valid > 0 else 0.0)
            if mode == "train":
                if "attention_mask" in inputs:
                    local = inputs["attention_mask"].sum()
                else:  # padding-free packing: one row of concatenated sequences
                    local = torch.tensor(inputs["input_ids"].numel(), device=inputs["input_ids"].device)
                self._total_train_tokens += gather(local).sum().item()
                self._metrics[mode]["num_tokens"] = [self._total_train_tokens]

    SelectiveLossTrainer.__name__ = SelectiveLossTrainer.__qualname__ = f"SelectiveLoss{base.__name__}"
    return SelectiveLossTrainer
