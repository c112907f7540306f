"""The infobip-events command (events/cli/main.py): one module per group of commands, each
adding its own parsers and holding its command functions; the set-up every command shares is in
context.py."""
