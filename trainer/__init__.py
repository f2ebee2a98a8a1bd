"""tunelint's trainer: runs in its own process (`tunelint train` / `tunelint eval`), builds on
transformers, TRL's SFTTrainer and peft. The linter never imports it; the server imports only its
torch-free modules: `contract` (the run folder and its events), `history` (the runs listed,
detailed, compared) and `settings` (TrainSettings)."""
