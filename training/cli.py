"""`moderation train|evaluate|score`: the data people's commands. Each command is appended to COMMANDS."""
import click  # noqa: F401  (commands below use it)

COMMANDS: list = []


@click.command("score")
@click.argument("input", type=click.File("r", encoding="utf-8"))
@click.option("--output", "-o", type=click.File("w", encoding="utf-8"), default="-", show_default=True,
              help="JSONL results, one per input line, in input order ('-' = stdout).")
@click.option("--bundle", "bundle_path", type=click.Path(exists=True, file_okay=False), default=None,
              help="Model bundle folder (default: the shipped bundle).")
@click.option("--batch-size", type=click.IntRange(1, 4096), default=64, show_default=True)
def score_command(input, output, bundle_path, batch_size):
    """Score a JSONL file of comments (INPUT '-' = stdin), streaming in small batches."""
    import models
    from training.score import score_stream

    bundle = models.load_bundle(bundle_path)
    counts = score_stream(bundle, input, output, batch_size=batch_size)
    click.echo(f"scored {counts['scored']} line(s), {counts['errors']} error line(s)", err=True)


COMMANDS.append(score_command)


@click.command("train", help="Train the abuse, spam and off-topic heads from the public data sets into a bundle folder.")
@click.option("--data", "root", type=click.Path(exists=True, file_okay=False), default=None,
              help="Folder with the public data sets (default: ../shared/data next to the project).")
@click.option("--output", "out", type=click.Path(file_okay=False), default=None,
              help="Bundle folder to write (default: models/bundles/<version>).")
@click.option("--version", default=None, help="Bundle version string (default: today's date).")
@click.option("--quick", is_flag=True, help="Small samples of every set: a rough bundle in a few minutes.")
@click.option("--set-default", is_flag=True, help="Make this bundle the one load_bundle() loads by default.")
def train_command(root, out, version, quick, set_default):
    import logging

    from training.train import DEFAULT_ROOT, train
    import models.bundle

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    folder = train(root or DEFAULT_ROOT, out, quick=quick, version=version)
    if set_default:
        models.bundle.DEFAULT_POINTER.write_text(folder.resolve().relative_to(models.bundle.BUNDLES.resolve()).as_posix() + "\n")
    click.echo(f"bundle written to {folder}")


COMMANDS.append(train_command)
