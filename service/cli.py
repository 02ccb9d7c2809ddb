"""The `moderation` console script: one click group, commands contributed by service and training."""
import click


@click.group(help="Self-hosted comment moderation: serve the API, manage keys and users, train and evaluate models.")
def main():
    pass


def _register():
    from training.cli import COMMANDS as training_commands
    for command in training_commands:
        main.add_command(command)
    from service import commands as service_commands
    for command in service_commands.COMMANDS:
        main.add_command(command)


_register()
