"""`moderation train|evaluate|score`: the data people's commands. Each command is appended to COMMANDS."""
import click  # noqa: F401  (commands below use it)

COMMANDS: list = []
