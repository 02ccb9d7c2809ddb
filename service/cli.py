"""The `moderation` console script: one click group. The service's commands are added here; other packages
(training) contribute theirs through the `moderation.commands` entry point, so service never imports them."""
import logging
from importlib.metadata import entry_points

import click

from service.commands import COMMANDS as SERVICE_COMMANDS

ENTRY_POINT_GROUP = "moderation.commands"


@click.group(help="Self-hosted comment moderation: serve the API, manage keys and users, train and evaluate models.")
def main():
    pass


def _register():
    for command in SERVICE_COMMANDS:
        main.add_command(command)
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        try:
            commands = entry.load()
        except ImportError as exc:  # the serving install has no training extra: its commands are absent
            logging.getLogger(__name__).debug("moderation commands %s not available: %s", entry.name, exc)
            continue
        for command in commands:
            main.add_command(command)


_register()
