"""TL9xx: duplicates, conflicting answers and train/validation/test leakage. Found by the
dataset index in `linter/dedupe.py` across lines and files; the docstrings are their
documentation."""

from ..registry import declare

declare("TL901", "duplicate-example", "warning", """
The example repeats an earlier one exactly, in this file or another file of the same split,
after normalisation (Unicode NFC, whitespace runs collapsed, case folded). System and developer
messages are left out of the comparison: datasets repeat them on purpose. The finding is on the
later line and points at the first occurrence.

**Why is this bad?** A duplicated example is silently trained on twice: the dataset is reweighted
towards it, and the model memorises it.
""", scope="dataset")

declare("TL902", "near-duplicate-example", "warning", """
The example is nearly the same as an earlier one of the same split: the estimated Jaccard
similarity of their word 3-grams (MinHash with LSH banding, every candidate verified on the full
signature) is at least `duplicates.threshold` (default 0.8). The message gives the estimate and
the finding points at the other line.

**Why is this bad?** Near duplicates (the same answer with a word changed, a template filled
with the same values) reweight the dataset as exact duplicates do, and hide from exact checks.
""", scope="dataset")

declare("TL903", "conflicting-answers", "warning", """
Two examples of the same split have the same prompt (everything before the final assistant turn,
normalised) but different answers.

**Why is this bad?** The model is taught two answers to one question and learns neither well.
Sometimes it is intended (several good answers); usually one of them is wrong or outdated.
""", scope="dataset")

declare("TL904", "split-leakage", "error", """
A validation or test example repeats a training example, exactly or nearly (or a test example
repeats a validation one). Reported on the evaluation side, pointing at the line it repeats.
Split roles come from `splits` in the config, else from file names (`*train*`,
`*valid*`/`*val*`/`*dev*`/`*eval*`, `*test*`).

**Why is this bad?** The model is evaluated on data it was trained on: the score measures
memory, not generalisation, and means nothing.
""", scope="dataset")

declare("TL905", "prompt-leakage", "error", """
A validation or test example's prompt (everything before the final assistant turn) repeats, exactly
or nearly, the prompt of a training example (or a test prompt a validation one), with a
different answer.

**Why is this bad?** The model has seen the question during training, with some answer: the
evaluation measures recall of that answer, not the skill.
""", scope="dataset")
