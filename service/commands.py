"""Service-side `moderation` commands (serve, db, keys, users, export). Each is appended to COMMANDS."""
import click  # noqa: F401

COMMANDS: list = []
