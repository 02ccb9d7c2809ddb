"""Moderators' review: /review pages, decisions back to the CMS (webhook outbox), audit log, feedback, export.

`init_app(app)` is called from `create_app`: it sets the review defaults, registers the blueprints, and starts
the webhook delivery thread when WEBHOOK_WORKER_THREAD is true (otherwise run `moderation webhooks run`).
"""
from . import authors, outbox, throttle

DEFAULTS = {
    **outbox.DEFAULTS,
    **throttle.DEFAULTS,
    **authors.DEFAULTS,
    "REVIEW_SECURE_COOKIES": True,   # session cookie only over HTTPS; set false for a plain-http local trial
    "REVIEW_PAGE_SIZE": 25,          # held comments per queue page
    "REVIEW_AUDIT_PAGE_SIZE": 100,   # audit log entries per page
    "REVIEW_UNDO_SECONDS": 600,      # a moderator can undo their own decision for this long
}


def init_app(app):
    from . import tables  # noqa: F401  (registers the tables and the comments.review_priority column)
    from .api import bp as api_bp
    from .views import bp as views_bp

    for key, value in DEFAULTS.items():
        app.config.setdefault(key, value)
    app.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
                      SESSION_COOKIE_SECURE=bool(app.config["REVIEW_SECURE_COOKIES"]))
    app.register_blueprint(views_bp)
    app.register_blueprint(api_bp)
    if app.config.get("WEBHOOK_WORKER_THREAD"):
        app.extensions["review_outbox_stop"] = outbox.start_thread(app)
