"""TL8xx: rules about the whole file. The engine computes these from per-line summaries; the
docstrings are their documentation."""

from ..registry import declare

declare("TL801", "too-few-examples", "error", """
The file has fewer examples than the profile's minimum (OpenAI: 10).

**Why is this bad?** The upload is rejected; and with so few examples, fine-tuning mostly
memorises them.
""", scope="dataset")

declare("TL802", "mixed-formats", "error", """
Lines in one file use different formats (for example chat and prompt/completion). Reported on
every line whose format differs from the file's most common one.

**Why is this bad?** Trainers and upload validators read one format per file; the odd lines are
rejected or misread.
""", scope="dataset")
