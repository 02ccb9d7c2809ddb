"""`moderation users create|list|disable|unlock|set-password`, `moderation export`, `moderation webhooks run`."""
import sys

import click
from sqlalchemy import select

from service import create_admin_app


def _app():
    return create_admin_app()   # no model bundle: these commands never score


@click.group(help="Moderator accounts for the /review pages.")
def users():
    pass


@users.command("create", help="Create a moderator or admin; the password is asked for (or read from stdin).")
@click.argument("username")
@click.option("--role", type=click.Choice(["moderator", "admin"]), default="moderator", show_default=True)
@click.option("--site", "sites", multiple=True,
              help="A site this user reviews (repeat for several); without --site: every site.")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              help="Prompted when not given; never pass it on a shared machine's command line.")
def users_create(username, role, sites, password):
    from service.db import db_session
    from .users import create_user
    with _app().app_context():
        try:
            user = create_user(db_session(), username, password, role, sites=sites)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"created {user.role} {user.username} for " + (", ".join(user.sites) if user.sites
                                                                   else "every site"))


@users.command("list", help="List accounts with role and state.")
def users_list():
    from service.db import db_session
    from .tables import User
    with _app().app_context():
        for user in db_session().scalars(select(User).order_by(User.username)):
            state = f"disabled {user.disabled_at:%Y-%m-%d}" if user.disabled_at else "active"
            sites = ",".join(user.sites) if user.sites else "*"
            click.echo(f"{user.username}\t{user.role}\t{sites}\t{state}")


@users.command("disable", help="Disable an account (its sessions end at once).")
@click.argument("username")
def users_disable(username):
    from service.db import db_session
    from .users import disable_user
    with _app().app_context():
        try:
            disable_user(db_session(), username)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"disabled {username}")


@users.command("unlock", help="Clear the failed log-ins counted for a name from every address (ends its back-off).")
@click.argument("username")
def users_unlock(username):
    from service.db import db_session
    from .actions import audit
    from .tables import User
    from .throttle import unlock
    with _app().app_context():
        session = db_session()
        if session.scalar(select(User).where(User.username == username)) is None:
            raise click.ClickException(f"no user {username!r}")
        cleared = unlock(session, username)
        audit(session, username=username, action="unlock", by="command line", cleared=cleared)
        session.commit()
        click.echo(f"unlocked {username} ({cleared} address(es) cleared)")


@users.command("set-password", help="Set a new password (asked for, or read from stdin); the user's sessions end.")
@click.argument("username")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              help="Prompted when not given; never pass it on a shared machine's command line.")
def users_set_password(username, password):
    from service.db import db_session
    from .actions import audit
    from .users import set_password
    with _app().app_context():
        session = db_session()
        try:
            user = set_password(session, username, password)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
        audit(session, username=user.username, user_id=user.id, action="set_password", by="command line")
        session.commit()
        click.echo(f"password of {username} changed; its sessions have ended")


@click.command("export", help="Write human-labelled comments in the format `moderation train` reads.")
@click.option("--since", help="Only decisions from this date on (YYYY-MM-DD).")
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), default="jsonl", show_default=True)
@click.option("--site", help="Only this site.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True), help="File (default: stdout).")
def export_command(since, fmt, site, output):
    from service.db import db_session
    from . import export
    from .queue import BadFilter, parse_date
    try:
        start = parse_date(since, "--since")
    except BadFilter as exc:
        raise click.BadParameter(str(exc)) from None
    count = 0

    def counted(records):
        nonlocal count
        for record in records:
            count += 1
            yield record

    with _app().app_context():
        out = open(output, "w", encoding="utf-8", newline="") if output else sys.stdout
        try:
            for chunk in export.serialise(counted(export.rows(db_session(), since=start, site=site)), fmt):
                out.write(chunk)
        finally:
            if output:
                out.close()
    click.echo(f"exported {count} labelled comment(s)", err=True)


@click.group(help="Webhooks back to the CMS.")
def webhooks():
    pass


@webhooks.command("run", help="Deliver the webhook outbox until interrupted (run one or more beside the server).")
@click.option("--once", is_flag=True, help="Deliver what is due now, then exit.")
def webhooks_run(once):
    from service.db import db_session
    from . import outbox
    app = _app()
    if once:
        with app.app_context():
            click.echo(outbox.deliver_due(db_session(), app.config))
        return
    try:
        outbox.run_worker(app)
    except KeyboardInterrupt:
        pass


COMMANDS = [users, export_command, webhooks]
