"""loss.png: training and evaluation loss against step."""

from __future__ import annotations

from pathlib import Path


def plot_losses(history: list[dict], path: Path, dry_run: bool) -> Path | None:
    train = [(h["step"], h["loss"]) for h in history if "loss" in h and "step" in h]
    evals = [(h["step"], h["eval_loss"]) for h in history if "eval_loss" in h and "step" in h]
    if not train and not evals:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=120)
    if train:
        ax.plot(*zip(*train, strict=True), label="train loss")
    if evals:
        ax.plot(*zip(*evals, strict=True), "o-", label="eval loss")
    ax.set_xlabel("step")
    ax.set_ylabel("loss (assistant tokens)")
    ax.set_title("tunelint fine-tune" + (" (DRY RUN, tiny model)" if dry_run else ""))
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


REGION_COLOURS = {"easy": "tab:green", "ambiguous": "tab:blue", "hard-to-learn": "tab:red"}


def plot_data_map(rows: list[dict], summary: dict, path: Path, dry_run: bool) -> Path | None:
    """data_map.png: each training line's variability against its confidence, coloured by region
    (Dataset Cartography's map); with one pass, confidence alone (a strip)."""
    if not rows:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    one_pass = summary.get("variability_threshold") is None
    fig, ax = plt.subplots(figsize=(6, 4.5), dpi=120)
    for name, colour in REGION_COLOURS.items():
        mine = [r for r in rows if r["region"] == name]
        if not mine:
            continue
        ys = [0.0 if one_pass else r["variability"] for r in mine]
        ax.scatter(ys, [r["confidence"] for r in mine], s=12, alpha=0.7, c=colour,
                   label=f"{name.replace('-', ' ')} ({len(mine)})")
    ax.axhline(summary["confidence_threshold"], color="grey", lw=0.8, ls="--")
    if not one_pass:
        ax.axvline(summary["variability_threshold"], color="grey", lw=0.8, ls="--")
    ax.set_xlabel("variability (std of gold-token probability across epochs)" if not one_pass
                  else "one epoch: no variability")
    ax.set_ylabel("confidence (mean gold-token probability)")
    title = f"training data map, {summary['examples']} lines, {summary['passes']} epoch(s)"
    ax.set_title(title + (" (DRY RUN, tiny model)" if dry_run else ""), fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
