"""Coral Talk's external moderation phase: the request Coral sends (written out below), its signature header,
and every answer Coral accepts. Decisions are pinned with the site policy so the tests do not hang on how
the shipped model happens to score one sentence."""
import datetime as dt
import hashlib
import hmac
import json

import pytest
from sqlalchemy import func, select

from service import create_app
from service.db import Article, Comment, db_session

NEVER = {"abusive": 1.01, "off_topic": 1.01, "spam": 1.01}   # no score reaches these: publish
CURRENT, PREVIOUS, RETIRED = "coral-secret-current", "coral-secret-previous", "coral-secret-retired"
SOON = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1)).isoformat()
PAST = "2026-01-01T00:00:00Z"


def coral_request(body="Thanks, the new timetable for the number 7 bus is much better.", *, site="coral-site",
                  story_id="story-1", story_url="https://news.example/2026/bus-timetable", action="NEW"):
    """The body Coral's external phase POSTs (coral-server ExternalModerationRequest), field for field."""
    return {
        "action": action,
        "comment": {"body": body, "parentID": None},
        "author": {"id": "user-3f2a", "role": "COMMENTER"},
        "story": {"id": story_id, "url": story_url},
        "site": {"id": site},
        "tenantID": "tenant-1",
        "tenantDomain": "comments.news.example",
    }


def encode(data) -> bytes:
    return json.dumps(data, indent=2).encode("utf-8")  # Coral sends JSON.stringify(request, null, 2)


def sign(raw: bytes, *secrets) -> str:
    """Coral's header: one `sha256=<hex HMAC-SHA256 of the raw body>` per active secret, comma-separated."""
    return ",".join("sha256=" + hmac.new(s.encode(), raw, hashlib.sha256).hexdigest() for s in secrets)


def site_policy(**thresholds):
    return {"sites": {"test-site": {**NEVER, **thresholds}}}


@pytest.fixture
def make(app_config):
    apps = []

    def build(policy=None, response="status", store=False):
        coral = {"sites": {
            "coral-site": {"site": "test-site", "response": response, "store": store,
                           "secrets": [CURRENT, {"secret": PREVIOUS, "inactive_at": SOON},
                                       {"secret": RETIRED, "inactive_at": PAST}]},
            "tenant-2": {"site": "test-site", "secrets": ["tenant-secret"]},
        }}
        app = create_app({**app_config, "CORAL": coral, "POLICY": site_policy() if policy is None else policy})
        with app.app_context():
            session = db_session()
            session.add(Article(site="test-site", article_id="story-1", title="New bus timetable from Monday",
                                body="The city publishes a new timetable for buses 7 and 12.",
                                url="https://news.example/2026/bus-timetable"))
            session.commit()
        apps.append(app)
        return app

    yield build
    for app in apps:
        app.extensions["db"]["engine"].dispose()


def post(app, data=None, *, secrets=(CURRENT,), raw=None, header=None, content_type="application/json"):
    raw = encode(data if data is not None else coral_request()) if raw is None else raw
    headers = {"Content-Type": content_type, "User-Agent": "Coral Moderation/9.0.0"}
    signature = sign(raw, *secrets) if header is None else header
    if signature:
        headers["X-Coral-Signature"] = signature
    return app.test_client().post("/coral/moderate", data=raw, headers=headers)


def count(app):
    with app.app_context():
        return db_session().scalar(select(func.count()).select_from(Comment))


# -- answers -----------------------------------------------------------------------------------------

def test_publish_is_204_with_no_body(make):
    r = post(make())
    assert r.status_code == 204
    assert r.data == b""


TOXIC = {"actionType": "FLAG", "reason": "COMMENT_DETECTED_TOXIC"}
SPAM = {"actionType": "FLAG", "reason": "COMMENT_DETECTED_SPAM"}


@pytest.mark.parametrize("policy, flag", [({"abusive": 0.0}, TOXIC), ({"spam": 0.0}, SPAM)])
def test_hold_with_status_style_withholds_and_says_why(make, policy, flag):
    # as Coral's own toxic phase answers: the status, and the flag that gives Coral's moderators the reason
    r = post(make(site_policy(**policy)))
    assert r.status_code == 200
    assert r.get_json() == {"status": "SYSTEM_WITHHELD", "actions": [flag]}


def test_hold_without_a_reason_coral_knows_is_the_status_alone(make):
    assert post(make(site_policy(off_topic=0.0))).get_json() == {"status": "SYSTEM_WITHHELD"}


@pytest.mark.parametrize("body", ["", "  <p> </p> ", '<img src="https://cdn.example/cat.gif">'])
def test_media_only_comment_is_published_unscored(make, body):
    app = make(site_policy(abusive=0.0, off_topic=0.0, spam=0.0), store=True)  # any scored text would be held
    r = post(app, coral_request(body))
    assert r.status_code == 204 and r.data == b""
    assert count(app) == 0


def test_hold_for_abuse_with_flag_style_flags_it_as_toxic(make):
    r = post(make(site_policy(abusive=0.0), response="flag"))
    assert r.status_code == 200
    assert r.get_json() == {"actions": [{"actionType": "FLAG", "reason": "COMMENT_DETECTED_TOXIC"}]}


def test_hold_for_spam_with_flag_style_flags_it_as_spam(make):
    r = post(make(site_policy(spam=0.0), response="flag"))
    assert r.get_json() == {"actions": [{"actionType": "FLAG", "reason": "COMMENT_DETECTED_SPAM"}]}


def test_abuse_and_spam_give_both_flags(make):
    r = post(make(site_policy(abusive=0.0, spam=0.0), response="flag"))
    assert r.get_json() == {"actions": [{"actionType": "FLAG", "reason": "COMMENT_DETECTED_TOXIC"},
                                        {"actionType": "FLAG", "reason": "COMMENT_DETECTED_SPAM"}]}


def test_hold_coral_has_no_flag_reason_for_is_withheld_even_in_flag_style(make):
    r = post(make(site_policy(off_topic=0.0), response="flag"))
    assert r.get_json() == {"status": "SYSTEM_WITHHELD"}


def test_the_shipped_model_decides_with_the_registered_article_and_holds_abuse(make, bundle):
    import models
    app = make(policy={})   # the bundle's own thresholds
    civil = coral_request()
    article = {"title": "New bus timetable from Monday",
               "body": "The city publishes a new timetable for buses 7 and 12."}
    expected = models.decide(bundle.score(civil["comment"]["body"], article), max_chars=5000).decision
    assert post(app, civil).status_code == {"publish": 204, "hold": 200}[expected]
    nasty = coral_request("You are a stupid idiot and a moron, shut up.")
    assert bundle.score(nasty["comment"]["body"]).abusive >= bundle.thresholds["abusive"]
    assert post(app, nasty).get_json() == {"status": "SYSTEM_WITHHELD", "actions": [TOXIC]}


def test_html_body_is_judged_as_the_text_a_reader_sees(make):
    app = make(site_policy(), store=True)
    assert post(app, coral_request("<p>Good <b>point</b> about the buses &amp; trams.</p>")).status_code == 204
    with app.app_context():
        [row] = db_session().scalars(select(Comment)).all()
    assert row.text == "Good point about the buses & trams."


# -- signatures -----------------------------------------------------------------------------------

def test_missing_signature_is_401(make):
    r = post(make(), header="")
    assert r.status_code == 401
    assert r.get_json()["error"]["field"] == "X-Coral-Signature"
    assert "missing" in r.get_json()["error"]["message"]


@pytest.mark.parametrize("secrets", [("not-the-secret",), (RETIRED,)], ids=["wrong", "rotated-out"])
def test_wrong_or_expired_secret_is_401(make, secrets):
    app = make(site_policy(abusive=0.0))
    r = post(app, secrets=secrets)
    assert r.status_code == 401
    assert r.get_json()["error"] == {"status": 401, "code": "bad_signature", "field": "X-Coral-Signature",
                                     "message": "X-Coral-Signature does not verify for this site"}


def test_secret_still_inside_its_rotation_window_verifies(make):
    assert post(make(), secrets=(PREVIOUS,)).status_code == 204


def test_during_rotation_coral_sends_two_signatures_and_one_is_enough(make):
    app = make()
    assert post(app, secrets=(RETIRED, CURRENT)).status_code == 204
    assert post(app, secrets=("unknown", PREVIOUS)).status_code == 204


def test_signature_covers_the_exact_bytes(make):
    app = make()
    raw = encode(coral_request())
    tampered = raw.replace(b"much better", b"much worse!")
    assert post(app, raw=tampered, header=sign(raw, CURRENT)).status_code == 401
    compact = json.dumps(coral_request()).encode()  # same JSON, other bytes: Coral signed the bytes it sent
    assert post(app, raw=compact, header=sign(raw, CURRENT)).status_code == 401


def test_signature_of_another_sites_secret_is_401(make):
    assert post(make(), secrets=("tenant-secret",)).status_code == 401


def test_unknown_site_is_401_and_tenant_entry_is_the_fallback(make):
    app = make()
    assert post(app, coral_request(site="somewhere-else")).status_code == 401
    data = coral_request(site="site-of-tenant-2")
    data["tenantID"] = "tenant-2"
    assert post(app, data, secrets=("tenant-secret",)).status_code == 204


# -- stories, storage, bad input --------------------------------------------------------------------

def test_nothing_is_stored_unless_the_site_says_so(make):
    app = make(site_policy(abusive=0.0))
    assert post(app).status_code == 200
    assert count(app) == 0


def test_story_is_found_by_id_or_by_url_among_registered_articles(make):
    app = make(store=True)
    assert post(app, coral_request("By id.", story_id="story-1", story_url="https://elsewhere/x")).status_code == 204
    assert post(app, coral_request("By url.", story_id="coral-internal-9")).status_code == 204
    assert post(app, coral_request("Unknown.", story_id="nope", story_url="https://nope/")).status_code == 204
    with app.app_context():
        rows = {c.text: c for c in db_session().scalars(select(Comment))}
    assert rows["By id."].article_id == "story-1" and "article_unknown" not in rows["By id."].reasons
    assert rows["By url."].article_id == "story-1" and "article_unknown" not in rows["By url."].reasons
    assert rows["Unknown."].article_id == "nope" and "article_unknown" in rows["Unknown."].reasons
    assert rows["By id."].author_id == "user-3f2a"


def test_a_retry_is_the_same_comment(make):
    app = make(site_policy(abusive=0.0), store=True)
    assert post(app).get_json() == post(app).get_json() == {"status": "SYSTEM_WITHHELD", "actions": [TOXIC]}
    assert count(app) == 1


@pytest.mark.parametrize("mutate, status, field", [
    (lambda d: d["comment"].pop("body"), 400, "comment.body"),
    (lambda d: d["comment"].update(body=42), 400, "comment.body"),
    (lambda d: d["story"].update(id=7), 400, "story.id"),
    (lambda d: d.update(tenantID=5), 400, "tenantID"),
    (lambda d: d["comment"].update(body="nul\x00byte"), 400, "comment.body"),
])
def test_bad_fields_are_named(make, mutate, status, field):
    data = coral_request()
    mutate(data)
    r = post(make(), data)
    assert r.status_code == status
    assert r.get_json()["error"]["field"] == field


def test_not_json_is_a_json_error(make):
    app = make()
    r = post(app, raw=b"{not json", header=sign(b"{not json", CURRENT))
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "invalid_json"
    r = post(app, content_type="text/plain")
    assert r.status_code == 415 and r.get_json()["error"]["field"] == "Content-Type"


@pytest.mark.parametrize("entry, needle", [
    ({"secrets": []}, "secrets"),
    ({"secrets": ["s"], "response": "reject"}, "response"),
    ({"secrets": [{"secret": "s", "inactive_at": "next tuesday"}]}, "inactive_at"),
])
def test_bad_coral_config_fails_at_start(app_config, entry, needle):
    with pytest.raises(ValueError, match=needle):
        create_app({**app_config, "CORAL": {"sites": {"coral-site": entry}}})


def test_wrong_method_is_a_json_405(make):
    r = make().test_client().get("/coral/moderate")
    assert r.status_code == 405 and r.get_json()["error"]["status"] == 405
