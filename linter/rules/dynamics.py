"""TL95x: what a fine-tune found about the training lines. Not computed from a line's text: from
a run's `train_dynamics.jsonl` (`tunelint check --dynamics RUN`, and the language server after a
run); the docstrings are their documentation."""

from ..registry import declare

declare("TL950", "hard-to-learn", "info", """
The fine-tune never came to predict this training example's answer with confidence: its mean
gold-token probability across epochs is among the run's lowest (the bottom quarter, and steady
rather than swinging), as recorded during training (`train_dynamics.jsonl` of the run given to
`--dynamics`). Reported on the run's N least confident lines (`--dynamics-top`).

**Why is this bad?** Examples a model cannot learn, epoch after epoch, are mostly mislabelled: an
answer to another question, a wrong answer, a style that contradicts the rest (Dataset
Cartography, Swayamdipta et al. 2020). Check the answer; the finding is stale when the file
changed since the run.
""", scope="run")
