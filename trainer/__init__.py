"""tunelint's trainer: runs in its own process (`tunelint train` / `tunelint eval`), builds on
transformers, TRL's SFTTrainer and peft. Nothing here is imported by the linter or the server."""
