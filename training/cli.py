"""`moderation train|evaluate|models`: the data people's commands. Each command is appended to COMMANDS;
the `moderation` group finds them through the `moderation.commands` entry point (service never imports training)."""
import os

import click

COMMANDS: list = []


def _gate_options(labelled_help: str):
    """The promote gate's options, shared by `models promote` and `train --set-default`."""
    options = [
        click.option("--holdout", type=click.FloatRange(0.01, 1.0), default=0.25, show_default=True,
                     help="Share of each labelled export (its newest decisions) the gate evaluates on."),
        click.option("--tolerance", type=click.FloatRange(0, 1), default=0.02, show_default=True,
                     help="Largest rise in false-hold rate / fall in catch rate accepted, per part of the evaluation "
                          "set, at the policy's thresholds and at the current bundle's false-hold rate."),
        click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False),
                     default=lambda: os.environ.get("MODERATION_CONFIG") or None, show_default="$MODERATION_CONFIG",
                     help="The service's TOML config: both bundles decide at its [policy] thresholds."),
        click.option("--site", default=None, help="Decide at this site's thresholds in the [policy]."),
        click.option("--force", is_flag=True, help="Promote even if the gate refuses (or cannot run); logged."),
        click.option("--reason", default=None, help="Why (recorded in promotions.log; say it with --force)."),
    ]
    if labelled_help:
        options.append(click.option("--labelled", multiple=True, type=click.Path(exists=True, dir_okay=False),
                                    help=labelled_help))

    def apply(f):
        for option in reversed(options):
            f = option(f)
        return f
    return apply


def gated_promote(version, *, root, labelled, holdout, no_public, tolerance, config_path, site, force, reason,
                  via: str):
    """Make VERSION the default if the gate passes (or --force, logged); the one path every promotion takes."""
    import models.bundle as mb
    from training import gate, registry
    from training.data import LabelledDataError
    from training.train import DEFAULT_ROOT

    previous = registry.current()
    event = {"action": "promote", "via": via, "version": version, "previous": previous, "forced": force,
             "reason": reason, "tolerance": tolerance, "labelled": list(labelled), "config": config_path,
             "site": site}
    if previous is not None and previous != version:
        try:
            registry._check(version)
            policy = gate.policy_from_config(config_path)
            parts = ([] if no_public else gate.public_news(root or DEFAULT_ROOT)) + gate.site_holdout(labelled, holdout)
            if not parts:
                raise ValueError("no evaluation set: give --labelled and/or drop --no-public")
            result = gate.gate(mb.load_bundle(mb.BUNDLES / previous), mb.load_bundle(mb.BUNDLES / version),
                               parts, tolerance, policy=policy, site=site)
        except (ValueError, OSError, LabelledDataError) as e:
            if not force:
                raise click.ClickException(f"{e} (the gate could not run; --force promotes without it)") from None
            result = None
            event["gate_error"] = str(e)
        if result is not None:
            click.echo(result.format())
            event.update(gate_passed=result.passed, gate_failures=result.failures, gate_table=result.table)
            if not result.passed:
                for failure in result.failures:
                    click.echo(f"worse: {failure}", err=True)
                if not force:
                    registry.log_event({**event, "action": "promote_refused"})
                    raise click.ClickException(f"{version} refused: it decides worse than {previous} "
                                               f"(--force promotes it anyway, and is logged)")
        if force:
            verdict = "without the gate" if result is None else \
                "over a refusing gate" if not result.passed else "(the gate passed)"
            click.echo(f"warning: --force: promoting {version} {verdict}; logged", err=True)
    try:
        previous = registry.promote(version)
    except ValueError as e:
        raise click.ClickException(str(e)) from None
    registry.log_event(event)
    return previous




@click.command("train", help="Train the abuse, spam and off-topic heads from the public data sets and/or the site's labelled exports (--labelled) into a bundle folder.")
@click.option("--data", "root", type=click.Path(exists=True, file_okay=False), default=None,
              help="Folder with the public data sets (default: ../shared/data next to the project).")
@click.option("--output", "out", type=click.Path(file_okay=False), default=None,
              help="Bundle folder to write (default: models/bundles/<version>).")
@click.option("--version", default=None, help="Bundle version string (default: today's date).")
@click.option("--quick", is_flag=True, help="Small samples of every set: a rough bundle in a few minutes.")
@click.option("--set-default", is_flag=True,
              help="Make this bundle the default, through the promote gate (`moderation models promote`): refused "
                   "if it decides worse than the current default; the gate's site part is the newest --holdout "
                   "share of the --labelled export(s).")
@click.option("--threads", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Threads for the sentence encoder (the machine is shared: one is kind to others).")
@click.option("--labelled", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="The site's labelled export (CSV/JSONL, see docs/training.md 'Labelled data format') to train on too; "
                   "repeatable. Any bad row stops training with its line number.")
@click.option("--no-public", is_flag=True,
              help="Train from the --labelled export(s) alone (with --quick: without the sentence encoder).")
@click.option("--exclude-source", "exclude", multiple=True,
              help="Abuse set to leave out of training (e.g. davidson); repeatable. Default: training.train.ABUSE_EXCLUDE.")
@click.option("--base-bundle", default=None,
              help="Keep this bundle's (a version under models/bundles/, or a folder) abuse, spam and off-topic heads; "
                   "fit only the off-topic pair head on news pairs and choose the thresholds for the news hold budget "
                   "(minutes, not the full retrain).")
@_gate_options("")
def train_command(root, out, version, quick, set_default, threads, labelled, no_public, exclude, base_bundle,
                  holdout, tolerance, config_path, site, force, reason):
    import logging

    from models.encoder import set_threads
    set_threads(threads)

    from training.data import LabelledDataError
    from training.train import DEFAULT_ROOT, train
    import models.bundle

    if no_public and not labelled:
        raise click.UsageError("--no-public needs at least one --labelled file")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if base_bundle:
        from pathlib import Path

        from training.train import retune

        if labelled or quick or no_public:
            raise click.UsageError("--base-bundle refits only the off-topic pair head and thresholds: "
                                   "it takes no --labelled, --quick or --no-public")
        base = Path(base_bundle) if Path(base_bundle).is_dir() else models.bundle.BUNDLES / base_bundle
        if not (base / "metadata.json").exists():
            raise click.UsageError(f"--base-bundle: no bundle at {base}")
        from datetime import date

        folder = retune(base, version or date.today().isoformat(), root or DEFAULT_ROOT, out)
    else:
        folder = None
    try:
        folder = folder or train(root or DEFAULT_ROOT, out, quick=quick, version=version, labelled=labelled,
                       public=not no_public, exclude=exclude or None)
    except LabelledDataError as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"bundle written to {folder}")
    if set_default:
        try:
            version = folder.resolve().relative_to(models.bundle.BUNDLES.resolve()).as_posix()
        except ValueError:
            raise click.ClickException(f"--set-default: {folder} is not under {models.bundle.BUNDLES}") from None
        gated_promote(version, root=root, labelled=labelled, holdout=holdout, no_public=no_public,
                      tolerance=tolerance, config_path=config_path, site=site, force=force, reason=reason,
                      via="train --set-default")
        click.echo(f"{version} is now the default bundle (`moderation models rollback` undoes it)")


COMMANDS.append(train_command)


@click.command("evaluate")
@click.option("--data", "root", type=click.Path(exists=True, file_okay=False), default=None,
              help="Folder with the public data sets (default: ../shared/data next to the project).")
@click.option("--bundle", "bundle_path", type=click.Path(exists=True, file_okay=False), default=None,
              help="Model bundle folder (default: the shipped bundle).")
@click.option("--output", "out", type=click.Path(file_okay=False), default="bench/eval", show_default=True,
              help="Folder for report.md, results.json and the PNG plots.")
@click.option("--max-per-set", type=click.IntRange(1), default=None, help="Sample each set down to this many rows.")
@click.option("--obfuscated", type=click.IntRange(0), default=300, show_default=True,
              help="Held-out abusive comments to obfuscate (0: skip).")
@click.option("--span-posts", type=click.IntRange(0), default=1000, show_default=True,
              help="Held-out civil_toxic_spans posts for span F1 (0: skip).")
@click.option("--labelled", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="Also evaluate on a labelled export (CSV/JSONL, see docs/training.md 'Labelled data format'); repeatable.")
@click.option("--no-public", is_flag=True, help="Skip the public sets (with --labelled: only the site's data).")
@click.option("--embedding-cache", is_flag=True,
              help="Read the encoder cache `moderation train` keeps under .cache/ (never written, except that "
                   "--semeval-folds adds the texts it had to encode): same scores, faster.")
@click.option("--semeval-folds", type=click.IntRange(min=0), default=0, show_default=True,
              help="Also refit the off-topic head this many times, cross-validating it on SemEval by thread "
                   "(0: skip; 5 took about 3 minutes with a warm embedding cache; a cold one first encodes the topic sets).")
@click.option("--news-only", is_flag=True,
              help="Only the news-comment decisions (false holds, catches, off-topic ranking on news pairs, hold-budget "
                   "trade-off): a few minutes with a warm embedding cache.")
@click.option("--compare-bundle", "compare", multiple=True, type=click.Path(exists=True, file_okay=False),
              help="Another bundle folder measured beside it on the same news rows (e.g. the previous default); "
                   "repeatable.")
@click.option("--model-card", is_flag=True,
              help="Also write the news tables at the top of the evaluated bundle's MODEL_CARD.md.")
@click.option("--news-per-split", type=click.IntRange(1), default=600, show_default=True,
              help="Comments sampled from each news set's half.")
@click.option("--seed", type=int, default=0, show_default=True)
def evaluate_command(root, bundle_path, out, max_per_set, obfuscated, span_posts, labelled, no_public,
                     embedding_cache, semeval_folds, news_only, compare, model_card, news_per_split, seed):
    """Report ROC/PR-AUC, F1, calibration and hold rates per held-out set, beside baselines, with plots."""
    import logging
    import sys

    import models
    from training.evaluate import evaluate
    from training.train import DEFAULT_ROOT

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    from training.data import LabelledDataError

    if no_public and not labelled:
        raise click.UsageError("--no-public needs at least one --labelled file")
    if semeval_folds == 1:
        raise click.UsageError("--semeval-folds needs at least 2 folds (or 0 to skip)")
    bundle = models.load_bundle(bundle_path)
    if embedding_cache:
        from models.encoder import get_encoder
        from training.embeddings import CACHE_DIR, EmbeddingStore

        get_encoder().store = EmbeddingStore(CACHE_DIR / "embeddings.pkl")
    command = "moderation " + " ".join(sys.argv[1:]) if sys.argv[1:2] == ["evaluate"] else "moderation evaluate"
    others = {b.version: b for b in map(models.load_bundle, compare)}
    if news_only:
        from training.evaluate import evaluate_news

        if no_public:
            raise click.UsageError("--news-only reads the public news sets: drop --no-public")
        results = evaluate_news(bundle, root or DEFAULT_ROOT, out, others=others, command=command, seed=seed,
                                max_per_split=news_per_split, model_card=bundle_path if model_card else None)
        for d in results["decisions"]:
            click.echo(f"{d['name']:45} false-hold {(d['false_hold'] or 0):.1%}  abusive caught "
                       f"{(d['abusive_caught'] or 0):.1%}")
        click.echo(f"report written to {out}/report.md")
        return
    try:
        results = evaluate(bundle, None if no_public else (root or DEFAULT_ROOT), out, max_per_set=max_per_set,
                           obfuscated=obfuscated, span_posts=span_posts, seed=seed, command=command,
                           labelled=labelled, semeval_folds=semeval_folds, news_others=others,
                           news_per_split=news_per_split)
        if model_card:
            from training.evaluate import write_card_tables
            write_card_tables(bundle_path, results["news"])
    except LabelledDataError as e:
        raise click.ClickException(str(e)) from None
    for s in results["sets"]:
        click.echo(f"{s['task']:6} {s['name']:32} ROC-AUC {s['model']['roc_auc'] or float('nan'):.3f}  "
                   f"baseline {s['baseline']['roc_auc'] or float('nan'):.3f}")
    click.echo(f"report written to {out}/report.md")


COMMANDS.append(evaluate_command)


@click.group("models")
def models_group():
    """The bundles under models/bundles/ and which one the service loads: list, promote, roll back."""


@models_group.command("list")
def models_list():
    """Versions, training date, which is the default, and key held-out metrics from each bundle's metadata."""
    from training import registry

    found = registry.bundles()
    if not found:
        click.echo("no bundles; build one with `moderation train`")
        return
    click.echo(f"{'':2}{'version':24} {'trained':25} {'mode':20} {'labelled rows':>13}  key metrics (ROC-AUC)")
    for b in found:
        meta = b["meta"]
        if "error" in meta:
            click.echo(f"{'*' if b['default'] else ' ':2}{b['version']:24} {meta['error']}")
            continue
        labelled = sum(f.get("rows", 0) for f in meta.get("labelled_exports") or [])
        metrics = " ".join(f"{k}={v:.3f}" for k, v in registry.key_metrics(meta).items()) or "-"
        click.echo(f"{'*' if b['default'] else ' ':2}{b['version']:24} {str(meta.get('trained_at', '?')):25} "
                   f"{str(meta.get('mode', '?')):20} {labelled:>13}  {metrics}")
    earlier = registry.history()
    click.echo(f"* = default; rollback goes back to: {earlier[-1] if earlier else 'nothing (no earlier default)'}")


@models_group.command("promote")
@click.argument("version")
@click.option("--data", "root", type=click.Path(exists=True, file_okay=False), default=None,
              help="Folder with the public data sets (default: ../shared/data next to the project).")
@click.option("--no-public", is_flag=True, help="Gate on the site's exports alone.")
@_gate_options("The site's labelled export(s): the newest --holdout share is part of the gate's evaluation set.")
def models_promote(version, root, no_public, holdout, tolerance, config_path, site, force, reason, labelled):
    """Make VERSION (a folder under models/bundles/) the default bundle, if it decides no worse than the current
    one on the gate's evaluation set; the current one is kept for rollback. Running workers swap it in."""
    previous = gated_promote(version, root=root, labelled=labelled, holdout=holdout, no_public=no_public,
                             tolerance=tolerance, config_path=config_path, site=site, force=force, reason=reason,
                             via="models promote")
    click.echo(f"default bundle: {version} (was {previous}); running workers switch to it within seconds")


@models_group.command("rollback")
def models_rollback():
    """Make the previous default bundle the default again (running workers switch back within seconds)."""
    from training import registry

    replaced = registry.current()
    try:
        version = registry.rollback()
    except ValueError as e:
        raise click.ClickException(str(e)) from None
    registry.log_event({"action": "rollback", "version": version, "previous": replaced})
    click.echo(f"default bundle: {version} (was {replaced}); running workers switch to it within seconds")


COMMANDS.append(models_group)
