"""tunelint's language server: pygls wiring and editor concerns only. Whether data is good is
decided in tunelint.linter; this package keeps documents current, schedules the linter, and
turns its findings into diagnostics, hints, lenses and actions."""
