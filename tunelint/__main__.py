from tunelint.cli import entry

entry()
