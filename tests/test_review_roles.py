"""Roles per site (issue 18, item 8): a moderator sees and decides only the sites they are assigned."""
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from review_helpers import PASSWORD, add_held, add_user, csrf, login, review_config
from service.db import Comment, db_session
from service.review import commands


@pytest.fixture
def app_config(tmp_path):
    return review_config(tmp_path)


@pytest.fixture
def cli(app, monkeypatch):
    monkeypatch.setattr("service.review.commands._app", lambda: app)
    runner = CliRunner()

    def run(*args, input=None):
        result = runner.invoke(commands.users, list(args), input=input)
        assert result.exit_code == 0, result.output
        return result.output
    return run


def status(app, pk):
    with app.app_context():
        return db_session().get(Comment, pk).status


def test_moderator_limited_to_their_sites(app, client, cli):
    mine, = add_held(app, 1, site="site-a", text="on site a")
    theirs, = add_held(app, 1, site="site-b", text="on site b")
    out = cli("create", "ann", "--site", "site-a", input=f"{PASSWORD}\n{PASSWORD}\n")
    assert "for site-a" in out
    assert "ann\tmoderator\tsite-a\tactive" in cli("list")
    login(client, "ann")
    queue = client.get("/review/").get_data(as_text=True)
    assert "on site a" in queue and "on site b" not in queue
    assert "on site b" not in client.get("/review/?site=site-b").get_data(as_text=True)
    token = csrf(client)
    assert client.post(f"/review/item/{theirs}/decide", data={"action": "reject", "csrf_token": token}
                       ).status_code == 403
    assert client.get(f"/review/comment/{theirs}").status_code == 403
    assert client.post("/review/author", data={"csrf_token": token, "site": "site-b", "author_id": "author-1",
                                               "action": "ban"}).status_code == 403
    bulk = client.post("/review/bulk", data={"action": "approve", "ids": [str(mine), str(theirs)],
                                             "csrf_token": token}, follow_redirects=True).get_data(as_text=True)
    assert "1 comment(s) approved" in bulk and "1 skipped" in bulk
    assert (status(app, mine), status(app, theirs)) == ("approved", "held")
    assert "on site b" not in client.get("/review/search?q=site").get_data(as_text=True)
    assert "on site a" in client.get("/review/search?q=site").get_data(as_text=True)


def test_without_sites_a_moderator_reviews_every_site(app, client, cli):
    add_held(app, 1, site="site-a", text="on site a")
    add_held(app, 1, site="site-b", text="on site b")
    assert "for every site" in cli("create", "bob", input=f"{PASSWORD}\n{PASSWORD}\n")
    login(client, "bob")
    queue = client.get("/review/").get_data(as_text=True)
    assert "on site a" in queue and "on site b" in queue
