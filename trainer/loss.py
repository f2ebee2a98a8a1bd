"""The training loss where TRL's fused LM head does not pay: on a CPU.

TRL 1.x computes the loss with a fused, chunked LM-head kernel that also scores every position
for its entropy and accuracy metrics. On a GPU that saves memory; on a CPU it is the single
largest cost of a step (bench/train_speed.py --variants). On a CPU we therefore ask the model
for the logits of the trained positions only (transformers' `logits_to_keep` with a boolean
mask, through the same forward call, so DDP and peft wrappers see an ordinary forward) and take
the cross-entropy there. The loss is the same number: the sum over trained tokens divided by the
trained tokens in the (accumulated, all-rank) batch, as `Trainer.compute_loss` normalises it.
The token-accuracy and token-count metrics TRL logs are kept, computed on the same positions.

The same cross-entropy, reduced per example beside the batch mean, is each training example's
record for its training dynamics (trainer/dynamics.py): its mean loss and mean gold-token
probability in this pass, with the step. No extra forward pass. The example is known token by
token: the dataset carries a per-token column `EXAMPLE_COLUMN` (the example's line), which the
trainer keeps through TRL's column removal, packing (`_prepare_dataset` packs it with the
tokens) and the collator (`WithExamples` pads or concatenates it like the labels), so a packed
row of several examples, a batch grouped by length, accumulated micro-batches and each DDP rank
all record the right line. On a GPU the recipe uses this loss too when recording dynamics
(TRL's fused LM head gives no per-token loss); the fallback to the base loss records nothing.
"""

from __future__ import annotations

IGNORE = -100
EXAMPLE_COLUMN = "tunelint_line"  # per token: the 1-based line of the example it belongs to
NO_EXAMPLE = -1  # padding


def selective_trainer_class(base):
    """`base` (TRL's SFTTrainer) with the trained-positions loss. It falls back to `base`'s own
    loss for anything it does not cover: a custom loss function, label smoothing, MoE
    auxiliary losses, inputs without labels."""

    import torch
    import torch.nn.functional as F

    class SelectiveLossTrainer(base):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.dynamics: list[tuple] = []  # (line, step, loss, prob, tokens) per example per batch
            self.dynamics_missed = 0  # training batches that took the base loss: nothing recorded
            self.data_collator = WithExamples(self.data_collator)

        def _set_signature_columns_if_needed(self):
            super()._set_signature_columns_if_needed()
            if EXAMPLE_COLUMN not in self._signature_columns:
                self._signature_columns = [*self._signature_columns, EXAMPLE_COLUMN]

        def _prepare_dataset(self, dataset, processing_class, args, packing, formatting_func, dataset_name):
            """TRL's preparation, but packing keeps the example column: TRL's keeps only the tokens and
            labels; its `pack_dataset` packs every per-token column alike."""
            if not packing or EXAMPLE_COLUMN not in (dataset.column_names or []):
                return super()._prepare_dataset(dataset, processing_class, args, packing, formatting_func,
                                                dataset_name)
            from trl.data_utils import pack_dataset

            dataset = super()._prepare_dataset(dataset, processing_class, args, False, formatting_func, dataset_name)
            # one owner a token, as long as the (truncated) tokens
            dataset = dataset.map(lambda ex: {EXAMPLE_COLUMN: ex[EXAMPLE_COLUMN][:1] * len(ex["input_ids"])})
            dataset = dataset.select_columns(["input_ids", "labels", EXAMPLE_COLUMN])
            if args.shuffle_dataset:
                dataset = dataset.shuffle(seed=args.seed)
            dataset = pack_dataset(dataset, args.max_length, args.packing_strategy, {})
            return dataset.shuffle(seed=args.seed) if args.shuffle_dataset else dataset

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            examples = inputs.pop(EXAMPLE_COLUMN, None)
            labels = inputs.get("labels")
            if (labels is None or self.compute_loss_func is not None or self.label_smoother is not None
                    or getattr(self, "aux_loss_enabled", False)
                    or getattr(self.args, "loss_type", "nll") != "nll"):
                self.dynamics_missed += examples is not None and model.training
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
            per_token = F.cross_entropy(logits, wanted, reduction="none")
            loss = per_token.sum()
            count = keep.sum()
            if examples is not None and model.training:
                owner = torch.full_like(examples, NO_EXAMPLE)
                owner[:, :-1] = examples[:, 1:]  # the example of the predicted token
                self._record_examples(owner[keep], per_token.detach())
            denominator = count if num_items_in_batch is None else num_items_in_batch
            loss = loss / torch.as_tensor(denominator, device=loss.device).clamp(min=1)
            if self.args.average_tokens_across_devices and num_items_in_batch is not None:
                loss = loss * self.accelerator.num_processes  # DDP averages the gradients across ranks
            self._record_metrics(logits.detach(), wanted, count, inputs)
            return (loss, outputs) if return_outputs else loss

        def _record_examples(self, owner, per_token) -> None:
            """Each example's mean loss and mean gold-token probability over its trained tokens in
            this batch, with the step it is trained in."""
            lines, inverse = torch.unique(owner, return_inverse=True)
            n = lines.numel()
            tokens = torch.bincount(inverse, minlength=n)
            loss = torch.zeros(n, device=per_token.device).index_add_(0, inverse, per_token)
            prob = torch.zeros(n, device=per_token.device).index_add_(0, inverse, torch.exp(-per_token))
            step = self.state.global_step + 1
            for line, t, lo, pr in zip(lines.tolist(), tokens.tolist(), loss.tolist(), prob.tolist(), strict=True):
                if line != NO_EXAMPLE and t:
                    self.dynamics.append((line, step, lo / t, pr / t, t))

        def gathered_dynamics(self) -> list[tuple]:
            """Every rank's records, on every rank (DDP: each rank recorded the examples it trained)."""
            import torch.distributed as dist

            if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
                return list(self.dynamics)
            parts: list = [None] * dist.get_world_size()
            dist.all_gather_object(parts, self.dynamics)
            return [rec for part in parts for rec in part]

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


class WithExamples:
    """The collator, with the per-token example column laid out as the batch's labels: padded
    rows, or one concatenated row (padding-free packing), padding `NO_EXAMPLE`."""

    def __init__(self, inner):
        self.inner = inner

    def __getattr__(self, name):  # the collator's own settings (padding_free, ...); never `inner` (unpickling)
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)

    def __call__(self, features):
        import torch

        if not features or EXAMPLE_COLUMN not in features[0]:
            return self.inner(features)
        owners = [list(f[EXAMPLE_COLUMN])[:len(f["input_ids"])] for f in features]
        batch = self.inner([{k: v for k, v in f.items() if k != EXAMPLE_COLUMN} for f in features])
        rows, width = batch["labels"].shape
        if rows != len(features):  # padding-free: the examples concatenated in one row
            owners = [[x for o in owners for x in o]]
        out = torch.full((rows, width), NO_EXAMPLE, dtype=torch.long)
        for i, o in enumerate(owners):
            out[i, :len(o)] = torch.tensor(o, dtype=torch.long)
        batch[EXAMPLE_COLUMN] = out
        return batch
