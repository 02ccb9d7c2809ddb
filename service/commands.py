"""Service-side `moderation` commands (serve, db, keys, score, users, export). Each is appended to COMMANDS."""
import os
import secrets
import tempfile

import click

from service import create_admin_app, create_app

# Commands import what they run when they run: `moderation --help` and the admin commands must not load the
# model stack (numpy, ONNX Runtime, torch) or gunicorn.
COMMANDS: list = []


def _app(**overrides):
    return create_app(overrides)


def _admin_app():
    return create_admin_app()


def run_gunicorn(factory, host: str, port: int, workers: int, timeout: int = 30, threads: int = 4,
                 worker_class: str = "service.worker.BufferedThreadWorker"):
    """Serve `factory()` with gunicorn; the bench uses the same settings for its bare baseline.

    The default worker buffers every request whole before a thread runs the app (service/worker.py), so slow
    or incomplete requests never hold a scoring thread; docs/deployment.md says why and what else to put in front.
    """
    from gunicorn.app.base import BaseApplication

    class Server(BaseApplication):
        def load_config(self):
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("worker_class", worker_class)
            self.cfg.set("threads", threads)
            self.cfg.set("timeout", timeout)
            self.cfg.set("graceful_timeout", 10)
            self.cfg.set("accesslog", os.environ.get("MODERATION_ACCESS_LOG"))
            self.cfg.set("logger_class", "service.worker.SecretMaskingLogger")   # ?key= masked in access logs
            # gunicorn's control socket defaults to one path per user (~/.gunicorn): two instances on a host
            # would take over each other's; nothing here uses it
            self.cfg.set("control_socket_disable", True)
            if os.path.isdir("/dev/shm"):
                self.cfg.set("worker_tmp_dir", "/dev/shm")  # heartbeat file off disk

        def load(self):
            return factory()  # in each worker (no preload): its own DB pool, its own bundle loaded now

    Server().run()


@click.command(help="Run the API under gunicorn (the bundle is loaded once per worker, before its first request).")
@click.option("--host", default=lambda: os.environ.get("MODERATION_HOST", "127.0.0.1"), show_default="127.0.0.1")
@click.option("--port", default=lambda: int(os.environ.get("MODERATION_PORT", "8000")), type=int,
              show_default="8000")
@click.option("--workers", default=lambda: int(os.environ.get("MODERATION_WORKERS", "2")), type=int,
              show_default="2")
@click.option("--threads", default=lambda: int(os.environ.get("MODERATION_THREADS", "4")), type=int,
              show_default="4", help="request threads per worker (requests reach them only once read in full)")
@click.option("--timeout", default=60, type=int, show_default=True,
              help="seconds before a stuck (or slow-starting) worker is killed and replaced")
@click.option("--worker-class", default="service.worker.BufferedThreadWorker", show_default=True,
              help="gunicorn worker class; the default reads each request whole before a thread gets it "
                   "(others, e.g. gthread, only behind a proxy that buffers requests: see docs/deployment.md)")
def serve(host, port, workers, threads, timeout, worker_class):
    if not os.environ.get("MODERATION_SECRET_KEY"):
        # one key shared by all workers of this run (moderator logins survive switching workers, not restarts)
        click.echo("warning: MODERATION_SECRET_KEY not set; using a random key for this run", err=True)
        os.environ["MODERATION_SECRET_KEY"] = secrets.token_urlsafe(32)
    if not os.environ.get("MODERATION_METRICS_DIR"):
        shm = "/dev/shm" if os.path.isdir("/dev/shm") else None
        os.environ["MODERATION_METRICS_DIR"] = tempfile.mkdtemp(prefix="moderation-metrics-", dir=shm)
    # Migrate once here, so that workers starting together do not race on the schema.
    app = _admin_app()
    click.echo(f"database: {app.extensions['db']['engine'].url.render_as_string(hide_password=True)}")
    app.extensions["db"]["engine"].dispose()
    os.environ["MODERATION_AUTO_MIGRATE"] = "false"

    from models.encoder import prepare_onnx
    if not prepare_onnx():
        click.echo("warning: the sentence encoder runs in torch (slower); see the log for why", err=True)
    if os.environ.get("MODERATION_PRELOAD_BUNDLE", "true").lower() not in ("0", "false", "no"):
        from service.config import load_config
        from service.moderation import preload
        try:
            preload(load_config().get("BUNDLE"))  # shared by the workers forked below
        except Exception as exc:  # noqa: BLE001 - each worker then loads it, and reports why it cannot
            click.echo(f"warning: the bundle could not be preloaded ({exc}); each worker loads its own", err=True)
    run_gunicorn(_worker_app, host, port, workers, timeout, threads, worker_class)


def _worker_app():
    """One gunicorn worker: the encoder limited to ENCODER_THREADS (workers, not threads, use the cores), then the app."""
    from service.config import load_config
    threads = load_config().get("ENCODER_THREADS")
    if threads:
        from models.encoder import set_threads
        set_threads(int(threads))
    return _app()


COMMANDS.append(serve)


@click.group(help="Database schema.")
def db():
    pass


@db.command("upgrade", help="Upgrade the schema to the newest revision (existing data is kept).")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision):
    from service.db import upgrade
    app = _app(AUTO_MIGRATE=False, LOAD_BUNDLE_AT_START=False, SECRET_KEY="unused-by-cli-commands")
    upgrade(app.extensions["db"]["engine"], revision)
    click.echo(f"database upgraded to {revision}")


COMMANDS.append(db)


@click.group(help="API keys (one or more per site; stored hashed).")
def keys():
    pass


@keys.command("create", help="Create a key for SITE; prints it once (it is not stored in clear).")
@click.argument("site")
@click.argument("name", default="default")
def keys_create(site, name):
    from service.auth import create_api_key
    with _admin_app().app_context():
        click.echo(create_api_key(site, name))


@keys.command("list", help="List keys (id, site, name, prefix, created, revoked).")
def keys_list():
    from sqlalchemy import select

    from service.db import ApiKey, db_session, iso
    with _admin_app().app_context():
        for k in db_session().scalars(select(ApiKey).order_by(ApiKey.id)):
            state = f"revoked {iso(k.revoked_at)}" if k.revoked_at else "active"
            click.echo(f"{k.id}\t{k.site}\t{k.name}\t{k.prefix}…\t{iso(k.created_at)}\t{state}")


@keys.command("revoke", help="Revoke the key with this id (see `keys list`).")
@click.argument("key_id", type=int)
def keys_revoke(key_id):
    from service.auth import revoke_api_key
    with _admin_app().app_context():
        if not revoke_api_key(key_id):
            raise click.ClickException(f"no active key with id {key_id}")
        click.echo(f"revoked key {key_id}")


COMMANDS.append(keys)


@click.command("score")
@click.argument("input", type=click.File("r", encoding="utf-8"))
@click.option("--output", "-o", type=click.File("w", encoding="utf-8"), default="-", show_default=True,
              help="JSONL results, one per input line, in input order ('-' = stdout).")
@click.option("--bundle", "bundle_path", type=click.Path(exists=True, file_okay=False), default=None,
              help="Model bundle folder (default: the service's BUNDLE, else the shipped bundle).")
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False), default=None,
              help="The service's TOML config (default: $MODERATION_CONFIG): its policy and MAX_TEXT_CHARS apply.")
@click.option("--database-url", default=None,
              help="The service's database (default: its DATABASE_URL from the config or $MODERATION_DATABASE_URL, "
                   "else its SQLite file if there is one): the per-site policy stored there applies, as in the API.")
@click.option("--site", default=None, help="Decide with this site's policy, as /v1/moderate would for its key.")
@click.option("--section", default=None, help="Section policy for lines whose article names no section.")
@click.option("--batch-size", type=click.IntRange(1, 4096), default=64, show_default=True)
@click.option("--window", type=click.IntRange(1, 1_000_000), default=None,
              help="Lines read at a time and sorted by length into batches (default: 8 batches).")
@click.option("--jobs", "-j", type=click.IntRange(1, 256), default=1, show_default=True,
              help="Worker processes (forked after the bundle loads); with --dask local, the cluster's workers.")
@click.option("--dask", "dask_address", default=None, metavar="local|tcp://HOST:8786",
              help="Score on Dask: 'local' starts a LocalCluster of --jobs workers, else a scheduler's address.")
def score(input, output, bundle_path, config_path, database_url, site, section, batch_size, window, jobs,
          dask_address):
    """Score a JSONL file of comments (INPUT '-' = stdin), streaming in small batches, deciding as the API does."""
    import models
    from service.batch import DaskExecutor, Policy, score_stream, stored_policy
    from service.config import load_config

    config = load_config(environ={**os.environ, "MODERATION_CONFIG": config_path} if config_path else None)
    path = bundle_path or config.get("BUNDLE")
    url = database_url or config.get("DATABASE_URL") or _existing_default_database()
    try:
        rules = stored_policy(config.get("POLICY") or {}, url) if url else (config.get("POLICY") or {})
    except Exception as e:  # noqa: BLE001 - any database error: say which database, decide nothing
        raise click.ClickException(f"the policy stored in the database {_masked(url)} could not be read "
                                   f"({type(e).__name__}: {str(e).splitlines()[0]})") from None
    policy = Policy(rules, site, section, config.get("MAX_TEXT_CHARS") or None)
    stats: dict = {}
    if dask_address:
        try:
            executor = DaskExecutor(dask_address, None if path is None else os.path.abspath(path),
                                    jobs if jobs > 1 else 2)
        except ImportError:
            raise click.ClickException("--dask needs dask.distributed: pip install 'comment-moderation[dask]'")
        counts = score_stream(None, input, output, batch_size=batch_size, policy=policy, window=window,
                              executor=executor, stats=stats)
    else:
        bundle = models.load_bundle(path)
        counts = score_stream(bundle, input, output, batch_size=batch_size, policy=policy, window=window,
                              jobs=jobs, stats=stats)
    click.echo(f"scored {counts['scored']} line(s), {counts['errors']} error line(s)", err=True)
    click.echo(_memory_line(stats, jobs), err=True)


def _existing_default_database() -> str | None:
    """The SQLite file the service uses when no DATABASE_URL is set, if it exists (it is not created here)."""
    from flask import Flask
    path = os.path.join(Flask("service", instance_relative_config=True).instance_path, "moderation.sqlite")
    return "sqlite:///" + path if os.path.exists(path) else None


def _masked(url: str) -> str:
    from sqlalchemy.engine import make_url
    return make_url(url).render_as_string(hide_password=True)


def _memory_line(stats: dict, jobs: int) -> str:
    line = f"peak RSS: this process {stats.get('peak_rss_mb', 0):.0f} MB"
    if "worker_peak_rss_mb" in stats:
        line += f", largest of {jobs} worker(s) {stats['worker_peak_rss_mb']:.0f} MB"
    if "dask_workers" in stats:
        line += f" (scoring on {stats['dask_workers']} Dask worker(s))"
    return line


COMMANDS.append(score)


from .review.commands import COMMANDS as _review_commands  # noqa: E402  (users, export, webhooks)

COMMANDS.extend(_review_commands)


# -- operating points: calibrate, policy ---------------------------------------------------------------------

def _who(tool: str) -> str:
    import getpass
    try:
        return f"{tool}:{getpass.getuser()}"
    except Exception:  # noqa: BLE001 - no login name (e.g. a container): still say which tool
        return tool


def _serving_bundle_meta(app) -> dict:
    """Version and thresholds of the bundle the service loads, from its metadata.json (no model loaded)."""
    import json
    from pathlib import Path

    import models.bundle
    folder = Path(app.config["BUNDLE"]) if app.config.get("BUNDLE") else models.bundle.default_bundle_path()
    meta = json.loads((folder / "metadata.json").read_text())
    thresholds = {"abusive": 0.5, "off_topic": 0.5, "spam": 0.5, **(meta.get("thresholds") or {})}
    return {"version": str(meta.get("version", folder.name)), "thresholds": thresholds}


@click.command("calibrate", help="Thresholds that hold at most the hold budget of SITE's comments, from the scores "
                                 "stored for it (and its moderators' labels where there are any); --apply puts "
                                 "them in force (no restart needed).")
@click.option("--site", required=True)
@click.option("--section", default=None, help="Only comments under articles of this section (registered articles).")
@click.option("--hold-budget", type=click.FloatRange(0, 1), default=0.05, show_default=True,
              help="Share of comments held, for any reason.")
@click.option("--reason-budget", type=click.FloatRange(0, 1), default=None,
              help="At most this share held for any one reason (default: the hold budget).")
@click.option("--since", default=None, help="Only comments received from this date on (YYYY-MM-DD).")
@click.option("--model-version", default=None,
              help="Only comments scored by this model (default: the bundle the service loads now).")
@click.option("--all-models", is_flag=True, help="Use comments scored by any model version.")
@click.option("--min-comments", type=click.IntRange(1), default=500, show_default=True,
              help="--apply refuses fewer scored comments than this.")
@click.option("--apply", "apply_", is_flag=True, help="Write the thresholds into the site's database policy.")
def calibrate_command(site, section, hold_budget, reason_budget, since, model_version, all_models, min_comments,
                      apply_):
    from service import calibrate, policy
    from service.db import db_session
    from service.review.queue import BadFilter, parse_date

    try:
        start = parse_date(since, "--since")
    except BadFilter as exc:
        raise click.BadParameter(str(exc)) from None
    app = _admin_app()
    with app.app_context():
        serving = _serving_bundle_meta(app)
        version = None if all_models else (model_version or serving["version"])
        session = db_session()
        data = calibrate.load(session, site, section=section, since=start, model_version=version)
        if len(data) == 0:
            raise click.ClickException(f"no scored comments stored for site {site!r}"
                                       f"{' by model ' + version if version else ''}")
        current = policy.snapshot().thresholds(serving["thresholds"], site, section)
        reason_budget = hold_budget if reason_budget is None else reason_budget
        proposed = calibrate.fit(data, current, hold_budget, reason_budget)
        click.echo(calibrate.format_report(calibrate.report(data, current, proposed), site, section, hold_budget,
                                           version))
        if not apply_:
            click.echo("\n(dry run: --apply puts these thresholds in force)")
            return
        if len(data) < min_comments:
            raise click.ClickException(f"only {len(data)} scored comment(s), fewer than --min-comments {min_comments}")
        row = policy.change(session, site=site, section=section or "",
                            thresholds={k: round(v, 6) for k, v in proposed.items()}, model_version=version,
                            who=_who("calibrate"), note=f"calibrate: hold budget {hold_budget}",
                            hold_budget=hold_budget, reason_budget=reason_budget, comments=len(data),
                            since=since)
        click.echo(f"\npolicy version {row.id} in force for site {site}{' section ' + section if section else ''} "
                   f"(mode {row.mode or 'inherited'}); running workers use it within "
                   f"{app.config.get('POLICY_CHECK_S')} s")


COMMANDS.append(calibrate_command)


@click.group("policy", help="The per-site policy stored in the database (over the TOML [policy]).")
def policy_group():
    pass


@policy_group.command("show", help="The policy in force per site and section: database rows, then what applies.")
@click.option("--site", default=None)
def policy_show(site):
    from service import policy
    from service.db import db_session, iso
    app = _admin_app()
    with app.app_context():
        serving = _serving_bundle_meta(app)
        snap = policy.snapshot()
        rows = [r for r in policy.latest_rows(db_session()) if site in (None, r.site)]
        click.echo(f"bundle {serving['version']} thresholds: {serving['thresholds']}")
        for r in rows:
            effective = snap.thresholds(serving["thresholds"], r.site, r.section or None)
            click.echo(f"{r.site}\t{r.section or '(all sections)'}\tversion {r.id}\t{iso(r.created_at)}\t"
                       f"{r.created_by}\tmode={snap.mode(r.site, r.section or None)}\tthresholds={effective}")
        if site and not rows:
            click.echo(f"{site}\tno database policy\tmode={snap.mode(site, None)}\t"
                       f"thresholds={snap.thresholds(serving['thresholds'], site, None)}")


@policy_group.command("set", help="Set the mode and/or thresholds of a site (or one of its sections); audit-logged.")
@click.option("--site", required=True)
@click.option("--section", default="", help="A section of the site (default: the whole site).")
@click.option("--mode", type=click.Choice(["enforce", "shadow"]), default=None)
@click.option("--threshold", "thresholds", multiple=True, metavar="REASON=VALUE",
              help="e.g. abusive=0.8; repeatable.")
@click.option("--note", default=None)
def policy_set(site, section, mode, thresholds, note):
    from service import policy
    from service.db import db_session
    values = {}
    for item in thresholds:
        name, sep, value = item.partition("=")
        try:
            values[name.strip()] = float(value)
        except ValueError:
            raise click.BadParameter(f"{item!r} is not REASON=NUMBER", param_hint="--threshold") from None
        if not sep:
            raise click.BadParameter(f"{item!r} is not REASON=NUMBER", param_hint="--threshold")
    if mode is None and not values:
        raise click.UsageError("nothing to set: give --mode and/or --threshold")
    with _admin_app().app_context():
        try:
            row = policy.change(db_session(), site=site, section=section, thresholds=values, mode=mode,
                                who=_who("policy-set"), note=note)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"policy version {row.id}: {site} {section or '(all sections)'} mode={row.mode or 'inherited'} "
                   f"thresholds={row.thresholds}")


COMMANDS.append(policy_group)
