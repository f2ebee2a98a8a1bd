"""Every rule family. Importing this package registers all rules (see `linter.registry`;
`linter.rule` lists them)."""

from . import (  # noqa: F401
    content,
    conversation,
    dataset,
    duplicates,
    dynamics,
    hygiene,
    multimodal,
    preference,
    reading,
    schema,
    tokens,
    tools,
)
